/* Signal masks for ringvm's helper threads. */
#ifndef RINGVM_UTIL_SIGMASK_H
#define RINGVM_UTIL_SIGMASK_H

#include <signal.h>

/* Every signal but SIGSYS: a thread that blocks all signals must still
 * take seccomp's SIGSYS, or the kernel kills the process without a word
 * instead of running the handler that names the denied call. */
static inline void sigfill_but_sigsys(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSYS);
}

#endif
