/* The host terminal behind a console: raw mode while a guest owns it, and
 * the Ctrl-A escape that lets the user quit ringvm even though Ctrl-C now
 * goes to the guest. */
#ifndef RINGVM_UTIL_TERM_H
#define RINGVM_UTIL_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "util/err.h"

/* What term_raw_enter changed, owned by the caller so that an atexit or
 * signal handler path can restore it without globals. */
struct term_state {
	struct termios saved;
	int fd;
	bool active;     /* raw mode is on and saved is valid */
};

/* Puts fd in raw mode (no echo, no line editing, no signals: Ctrl-C is a
 * byte for the guest) if it is a terminal; otherwise leaves it alone and
 * returns 0 with saved->active false. */
int term_raw_enter(int fd, struct term_state *saved, struct rv_err *err);

/* Restores the settings term_raw_enter saved; idempotent and
 * async-signal-safe (only tcsetattr). */
void term_restore(struct term_state *saved);

#define TERM_ESCAPE_CHAR 0x01   /* Ctrl-A, as in QEMU */

enum term_esc_action {
	TERM_ESC_NONE,
	TERM_ESC_QUIT,   /* Ctrl-A x */
	TERM_ESC_HELP,   /* Ctrl-A h: the caller prints the escape keys */
	TERM_ESC_PAUSE,  /* Ctrl-A p: pause the guest, or resume it */
};

struct term_escape {
	bool armed;      /* the last byte was Ctrl-A */
};

/* Feeds one byte typed by the user. The bytes meant for the guest are put
 * in out (*nout is 0, 1 or 2: Ctrl-A followed by an unbound key passes
 * both through; Ctrl-A Ctrl-A sends one Ctrl-A). Returns the action the
 * byte completed. Pure: no I/O. */
enum term_esc_action term_escape_feed(struct term_escape *e, uint8_t c,
				      uint8_t out[2], size_t *nout);

#endif
