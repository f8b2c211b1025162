/* Error reporting: a fixed buffer filled once, returned up the stack.
 * Functions that can fail take a struct rv_err * and return -1 on failure
 * after describing what went wrong in one line (no trailing newline). */
#ifndef RINGVM_UTIL_ERR_H
#define RINGVM_UTIL_ERR_H

struct rv_err {
	char msg[512];
};

/* Sets err->msg (if err is non-NULL) and returns -1. */
int rv_fail(struct rv_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like rv_fail, appending ": strerror(errno)" (errno read on entry). */
int rv_fail_errno(struct rv_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
