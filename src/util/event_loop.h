/* An epoll-based I/O thread. Device back ends register file descriptors
 * (ioeventfds, TAP, io_uring completions) and run their handlers here, never
 * on vCPU threads. Handlers of one loop never run concurrently. */
#ifndef RINGVM_UTIL_EVENT_LOOP_H
#define RINGVM_UTIL_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* events: EPOLLIN/EPOLLOUT/... as returned by epoll. */
typedef void (*ev_handler_fn)(void *opaque, uint32_t events);

struct ev_loop;

struct ev_loop *ev_loop_new(const char *name, struct rv_err *err);
/* Stops (if running) and frees. Registered fds are not closed. */
void ev_loop_free(struct ev_loop *l);

/* Safe from any thread, including from a handler of the same loop. After
 * ev_loop_del returns (from another thread) the handler is not running and
 * will not run again for that fd. */
int ev_loop_add(struct ev_loop *l, int fd, uint32_t events, ev_handler_fn fn,
		void *opaque, struct rv_err *err);
int ev_loop_mod(struct ev_loop *l, int fd, uint32_t events,
		struct rv_err *err);
void ev_loop_del(struct ev_loop *l, int fd);

/* Runs the loop on a new thread until ev_loop_stop. */
int ev_loop_start(struct ev_loop *l, struct rv_err *err);
void ev_loop_stop(struct ev_loop *l);

/* Runs queued handlers once on the caller's thread (tests, or a loop that
 * was never started); waits up to timeout_ms. Returns handlers run or -1. */
int ev_loop_run_once(struct ev_loop *l, int timeout_ms);

/* Runs fn(opaque) on the loop's thread and waits for it (or runs it
 * directly when the loop is not started or when called from the loop). */
void ev_loop_call(struct ev_loop *l, void (*fn)(void *), void *opaque);

bool ev_loop_on_thread(const struct ev_loop *l);

/* Pause: on return no handler of the loop runs (one that was running has
 * finished) until ev_loop_resume; fds stay registered and their events
 * wait. ev_loop_call still works while paused. Not from the loop's own
 * thread except to mark it paused for after the current handler. */
void ev_loop_pause(struct ev_loop *l);
void ev_loop_resume(struct ev_loop *l);

/* Polling before sleeping: after handling events the thread keeps
 * looking for more (epoll, no timeout) for a window it adapts between 0
 * and max_us: it grows while work comes within max_us of the last but
 * after the window, shrinks when it comes later than max_us. 0 (the default): never
 * poll. Costs up to max_us of CPU per burst; saves the wakeup of a
 * sleeping thread. Any thread, any time; capped at EV_POLL_MAX_US. */
#define EV_POLL_MIN_US 4
#define EV_POLL_MAX_US 10000
void ev_loop_set_poll(struct ev_loop *l, uint32_t max_us);

/* The window after the current one (cur), under max, given how long the
 * thread was idle (polling, then asleep) until work came (exposed for its
 * tests). */
uint32_t ev_poll_next_window(uint32_t cur, uint32_t max, uint64_t idle_us);

struct ev_loop_stats {
	uint64_t sleeps;      /* waits that blocked */
	uint64_t polled;      /* work found while polling, no sleep needed */
	uint32_t poll_max_us; /* the cap set */
	uint32_t poll_us;     /* the window now */
};
void ev_loop_get_stats(struct ev_loop *l, struct ev_loop_stats *s);

/* Registrations held (live, plus deleted ones not yet freed): a guest that
 * resets its devices in a loop must not make this grow. */
unsigned int ev_loop_registrations(struct ev_loop *l);

#endif
