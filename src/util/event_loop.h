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

/* Registrations held (live, plus deleted ones not yet freed): a guest that
 * resets its devices in a loop must not make this grow. */
unsigned int ev_loop_registrations(struct ev_loop *l);

#endif
