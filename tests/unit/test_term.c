/* Host terminal handling: raw mode on a real pseudo-terminal, restored
 * exactly, and the Ctrl-A escape keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/term.h"

/* Feeds a whole string; returns the bytes for the guest and the first
 * action (stops there, as the console thread does on quit). */
static enum term_esc_action feed(struct term_escape *e, const char *in,
				 size_t n, char *out, size_t *nout)
{
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t o[2];
		size_t k;
		enum term_esc_action a = term_escape_feed(e, (uint8_t)in[i], o, &k);

		assert_true(k <= 2);
		memcpy(out + *nout, o, k);
		*nout += k;
		if (a != TERM_ESC_NONE)
			return a;
	}
	return TERM_ESC_NONE;
}

static void test_escape(void **state)
{
	struct term_escape e = { 0 };
	char out[64];
	size_t n;

	(void)state;
	/* Plain bytes, Ctrl-C included, pass through untouched. */
	assert_int_equal(feed(&e, "ls\x03\r\x1b[A\0", 8, out, &n), TERM_ESC_NONE);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "ls\x03\r\x1b[A\0", 8);

	/* Ctrl-A x quits; nothing reaches the guest. */
	assert_int_equal(feed(&e, "ab\x01x", 4, out, &n), TERM_ESC_QUIT);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "ab", 2);
	assert_false(e.armed);
	assert_int_equal(feed(&e, "\x01X", 2, out, &n), TERM_ESC_QUIT);

	/* Split across reads: the state carries over. */
	assert_int_equal(feed(&e, "\x01", 1, out, &n), TERM_ESC_NONE);
	assert_int_equal(n, 0);
	assert_int_equal(feed(&e, "x", 1, out, &n), TERM_ESC_QUIT);

	/* Ctrl-A Ctrl-A sends one Ctrl-A. */
	assert_int_equal(feed(&e, "\x01\x01q", 3, out, &n), TERM_ESC_NONE);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x01q", 2);

	/* Ctrl-A with an unbound key: both pass, nothing lost. */
	assert_int_equal(feed(&e, "\x01" "c\x01\x03", 4, out, &n), TERM_ESC_NONE);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\x01" "c\x01\x03", 4);

	/* Help. */
	assert_int_equal(feed(&e, "\x01h", 2, out, &n), TERM_ESC_HELP);
	assert_int_equal(n, 0);
	/* "x" alone is just a letter. */
	assert_int_equal(feed(&e, "xx", 2, out, &n), TERM_ESC_NONE);
	assert_int_equal(n, 2);
}

static void test_not_a_tty(void **state)
{
	struct term_state ts;
	struct rv_err err;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(term_raw_enter(p[0], &ts, &err), 0);
	assert_false(ts.active);
	term_restore(&ts);          /* harmless */
	close(p[0]);
	close(p[1]);
	assert_int_equal(term_raw_enter(-1, &ts, &err), 0);
	assert_false(ts.active);
	term_restore(NULL);
}

static void test_raw_and_restore(void **state)
{
	struct termios before, raw, after;
	struct term_state ts;
	struct rv_err err;
	int master, slave;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		skip();
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ICANON);   /* a pty starts cooked */

	assert_int_equal(term_raw_enter(slave, &ts, &err), 0);
	assert_true(ts.active);
	assert_int_equal(tcgetattr(slave, &raw), 0);
	assert_int_equal(raw.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0);
	assert_int_equal(raw.c_iflag & (ICRNL | IXON), 0);
	assert_int_equal(raw.c_oflag & OPOST, 0);
	assert_int_equal(raw.c_cc[VMIN], 1);

	/* Ctrl-C arrives as a byte, not a signal. */
	assert_int_equal(write(master, "\x03", 1), 1);
	{
		char c = 0;

		assert_int_equal(read(slave, &c, 1), 1);
		assert_int_equal(c, 3);
	}

	term_restore(&ts);
	assert_false(ts.active);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	assert_int_equal(after.c_cflag, before.c_cflag);
	assert_memory_equal(after.c_cc, before.c_cc, sizeof(before.c_cc));
	/* Restoring twice (atexit after a signal handler) is harmless. */
	term_restore(&ts);
	close(slave);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_not_a_tty),
		cmocka_unit_test(test_raw_and_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
