#include "util/term.h"

#include <unistd.h>

int term_raw_enter(int fd, struct term_state *saved, struct rv_err *err)
{
	struct termios raw;

	saved->fd = fd;
	saved->active = false;
	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &saved->saved) < 0)
		return rv_fail_errno(err, "cannot read terminal settings");
	raw = saved->saved;
	/* cfmakeraw clears ISIG too: Ctrl-C and Ctrl-Z belong to the guest;
	 * the Ctrl-A escape is the way out. */
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return rv_fail_errno(err, "cannot put the terminal in raw mode");
	saved->active = true;
	return 0;
}

void term_restore(struct term_state *saved)
{
	if (!saved || !saved->active)
		return;
	/* TCSANOW: TCSADRAIN could block forever on a stopped terminal. */
	tcsetattr(saved->fd, TCSANOW, &saved->saved);
	saved->active = false;
}

enum term_esc_action term_escape_feed(struct term_escape *e, uint8_t c,
				      uint8_t out[2], size_t *nout)
{
	*nout = 0;
	if (!e->armed) {
		if (c == TERM_ESCAPE_CHAR) {
			e->armed = true;
			return TERM_ESC_NONE;
		}
		out[(*nout)++] = c;
		return TERM_ESC_NONE;
	}
	e->armed = false;
	switch (c) {
	case 'x':
	case 'X':
		return TERM_ESC_QUIT;
	case 'h':
	case 'H':
	case '?':
		return TERM_ESC_HELP;
	case 'p':
	case 'P':
		return TERM_ESC_PAUSE;
	case TERM_ESCAPE_CHAR:
		out[(*nout)++] = TERM_ESCAPE_CHAR;
		return TERM_ESC_NONE;
	default:
		/* Unbound: nothing the user typed is lost. */
		out[(*nout)++] = TERM_ESCAPE_CHAR;
		out[(*nout)++] = c;
		return TERM_ESC_NONE;
	}
}
