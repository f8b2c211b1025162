#include "util/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/sigmask.h"

#define EV_BATCH 32

struct ev_reg {
	int fd;
	bool live;
	ev_handler_fn fn;
	void *opaque;
	struct ev_reg *next;
};

struct ev_call {
	void (*fn)(void *);
	void *opaque;
	bool done;
	struct ev_call *next;
};

struct ev_loop {
	char name[16];
	int epfd;
	int wakefd;
	pthread_t thread;
	bool started;
	bool stop;                 /* under lock */
	bool paused;               /* under lock: dispatch no handler */
	bool parked;               /* under lock: the thread is waiting paused */
	/* Held while handlers run; ev_loop_del takes it to wait them out.
	 * Recursive: a handler may add or delete registrations. */
	pthread_mutex_t dispatch;
	pthread_mutex_t lock;      /* regs lists, calls, stop, paused */
	pthread_cond_t call_done;
	pthread_cond_t kick;       /* wakes a paused loop: calls, resume, stop */
	struct ev_reg *regs;       /* live registrations */
	/* Deleted ones wait here until the batch that may still name them in
	 * its events is over (see reap_dead), so a stale event finds a dead
	 * registration, never freed or reused memory. */
	struct ev_reg *dead;
	struct ev_call *calls;
	/* Polling before sleeping (ev_loop_set_poll): the cap, set from any
	 * thread, and the window the loop thread adapts under it. */
	_Atomic uint32_t poll_max_us;
	_Atomic uint32_t poll_us;   /* written by the loop thread only */
	atomic_uint_fast64_t sleeps, polled;
};

struct ev_loop *ev_loop_new(const char *name, struct rv_err *err)
{
	struct ev_loop *l = calloc(1, sizeof(*l));
	pthread_mutexattr_t a;
	struct epoll_event ev = { .events = EPOLLIN };

	if (!l) {
		rv_fail(err, "out of memory for I/O thread %s", name);
		return NULL;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0) {
		rv_fail_errno(err, "cannot create I/O thread %s", name);
		goto fail;
	}
	ev.data.ptr = NULL; /* NULL marks the wake fd */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
		rv_fail_errno(err, "epoll_ctl");
		goto fail;
	}
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&l->dispatch, &a);
	pthread_mutexattr_destroy(&a);
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->call_done, NULL);
	pthread_cond_init(&l->kick, NULL);
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return NULL;
}

static void free_list(struct ev_reg *r)
{
	while (r) {
		struct ev_reg *next = r->next;

		free(r);
		r = next;
	}
}

void ev_loop_free(struct ev_loop *l)
{
	if (!l)
		return;
	ev_loop_stop(l);
	free_list(l->regs);
	free_list(l->dead);
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->dispatch);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->call_done);
	pthread_cond_destroy(&l->kick);
	free(l);
}

int ev_loop_add(struct ev_loop *l, int fd, uint32_t events, ev_handler_fn fn,
		void *opaque, struct rv_err *err)
{
	struct ev_reg *r = calloc(1, sizeof(*r));
	struct epoll_event ev = { .events = events };

	if (!r)
		return rv_fail(err, "out of memory");
	*r = (struct ev_reg){ .fd = fd, .live = true, .fn = fn, .opaque = opaque };
	ev.data.ptr = r;
	pthread_mutex_lock(&l->lock);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		pthread_mutex_unlock(&l->lock);
		free(r);
		return rv_fail_errno(err, "I/O thread %s: cannot watch fd %d",
				     l->name, fd);
	}
	r->next = l->regs;
	l->regs = r;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static struct ev_reg *find_live(struct ev_loop *l, int fd)
{
	for (struct ev_reg *r = l->regs; r; r = r->next)
		if (r->fd == fd)
			return r;
	return NULL;
}

int ev_loop_mod(struct ev_loop *l, int fd, uint32_t events,
		struct rv_err *err)
{
	struct epoll_event ev = { .events = events };
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	ev.data.ptr = find_live(l, fd);
	if (!ev.data.ptr || epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		rc = rv_fail(err, "I/O thread %s: cannot change fd %d", l->name, fd);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void ev_loop_del(struct ev_loop *l, int fd)
{
	struct ev_reg **pp;

	/* Taking dispatch first waits out a handler running on the loop
	 * thread (or is a no-op when called from one). */
	pthread_mutex_lock(&l->dispatch);
	pthread_mutex_lock(&l->lock);
	for (pp = &l->regs; *pp; pp = &(*pp)->next) {
		struct ev_reg *r = *pp;

		if (r->fd != fd)
			continue;
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		r->live = false;
		*pp = r->next;
		r->next = l->dead;
		l->dead = r;
		break;
	}
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->dispatch);
}

/* Frees the registrations deleted so far. Called with dispatch held at the
 * end of a batch: events of the next epoll_wait can only name fds still in
 * the epoll set, and a registration deleted while that wait runs joins the
 * dead list after this point, to be freed at the end of the next batch. */
static void reap_dead(struct ev_loop *l)
{
	struct ev_reg *dead;

	pthread_mutex_lock(&l->lock);
	dead = l->dead;
	l->dead = NULL;
	pthread_mutex_unlock(&l->lock);
	free_list(dead);
}

unsigned int ev_loop_registrations(struct ev_loop *l)
{
	unsigned int n = 0;

	pthread_mutex_lock(&l->lock);
	for (struct ev_reg *r = l->regs; r; r = r->next)
		n++;
	for (struct ev_reg *r = l->dead; r; r = r->next)
		n++;
	pthread_mutex_unlock(&l->lock);
	return n;
}

static void run_calls(struct ev_loop *l)
{
	pthread_mutex_lock(&l->lock);
	while (l->calls) {
		struct ev_call *c = l->calls;

		l->calls = c->next;
		pthread_mutex_unlock(&l->lock);
		c->fn(c->opaque);
		pthread_mutex_lock(&l->lock);
		c->done = true;
		pthread_cond_broadcast(&l->call_done);
	}
	pthread_mutex_unlock(&l->lock);
}

/* Waits up to timeout_ms and runs what came; *events: how many epoll
 * reported (the wake fd included). Returns handlers run, or -1. */
static int dispatch(struct ev_loop *l, int timeout_ms, int *events)
{
	struct epoll_event ev[EV_BATCH];
	int n, ran = 0;

	*events = 0;
	n = epoll_wait(l->epfd, ev, EV_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	*events = n;
	pthread_mutex_lock(&l->dispatch);
	for (int i = 0; i < n; i++) {
		struct ev_reg *r = ev[i].data.ptr;

		if (!r) {
			uint64_t v;

			if (read(l->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				continue;
			run_calls(l);
			continue;
		}
		if (!r->live)
			continue;
		r->fn(r->opaque, ev[i].events);
		ran++;
	}
	reap_dead(l);
	pthread_mutex_unlock(&l->dispatch);
	return ran;
}

int ev_loop_run_once(struct ev_loop *l, int timeout_ms)
{
	int events;

	return dispatch(l, timeout_ms, &events);
}

uint32_t ev_poll_next_window(uint32_t cur, uint32_t max, uint64_t idle_us)
{
	uint32_t next;

	if (!max)
		return 0;
	if (cur > max)
		cur = max;
	/* Later than the cap: polling for it would not have paid. */
	if (idle_us > max)
		return cur / 2 < EV_POLL_MIN_US ? 0 : cur / 2;
	if (idle_us <= cur)
		return cur;
	/* Within the cap but after the window: a longer one catches it. */
	next = cur ? cur * 2 : EV_POLL_MIN_US;
	return next > max ? max : next;
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* One turn of the loop thread: poll (epoll with no timeout) for up to the
 * window, then sleep until something comes. Waking a sleeping thread
 * costs an IPI and an idle exit on the CPU it sleeps on; a thread still
 * polling when the next doorbell rings pays neither. */
static int wait_and_dispatch(struct ev_loop *l)
{
	uint32_t max = atomic_load_explicit(&l->poll_max_us, memory_order_relaxed);
	uint32_t window = atomic_load_explicit(&l->poll_us, memory_order_relaxed);
	uint64_t t0 = max ? now_us() : 0;
	int events;

	if (max && window) {
		uint64_t end = t0 + (window < max ? window : max);

		do {
			int ran = dispatch(l, 0, &events);

			if (ran < 0)
				return -1;
			if (events) {
				if (ran)
					atomic_fetch_add_explicit(&l->polled, 1, memory_order_relaxed);
				return 0;
			}
			/* A thread that shares this CPU (the vCPU about to
			 * ring the doorbell, say) must not wait out the window. */
			sched_yield();
		} while (now_us() < end);
	}
	if (dispatch(l, -1, &events) < 0)
		return -1;
	atomic_fetch_add_explicit(&l->sleeps, 1, memory_order_relaxed);
	/* Idle time counts from the end of the work, polling included. */
	atomic_store_explicit(&l->poll_us,
			      ev_poll_next_window(window, max, max ? now_us() - t0 : 0),
			      memory_order_relaxed);
	return 0;
}

void ev_loop_set_poll(struct ev_loop *l, uint32_t max_us)
{
	atomic_store_explicit(&l->poll_max_us,
			      max_us > EV_POLL_MAX_US ? EV_POLL_MAX_US : max_us,
			      memory_order_relaxed);
}

void ev_loop_get_stats(struct ev_loop *l, struct ev_loop_stats *s)
{
	*s = (struct ev_loop_stats){
		.sleeps = atomic_load_explicit(&l->sleeps, memory_order_relaxed),
		.polled = atomic_load_explicit(&l->polled, memory_order_relaxed),
		.poll_max_us = atomic_load_explicit(&l->poll_max_us, memory_order_relaxed),
		.poll_us = atomic_load_explicit(&l->poll_us, memory_order_relaxed),
	};
}

/* While paused the thread runs no handler, only calls (a device reset or
 * teardown must still reach it), and waits without spinning: fds stay in
 * the epoll set, their readiness waits for the resume. */
static void wait_while_paused(struct ev_loop *l)
{
	pthread_mutex_lock(&l->lock);
	while (l->paused && !l->stop) {
		l->parked = true;
		pthread_cond_broadcast(&l->call_done);
		if (l->calls) {
			pthread_mutex_unlock(&l->lock);
			pthread_mutex_lock(&l->dispatch);
			run_calls(l);
			reap_dead(l);
			pthread_mutex_unlock(&l->dispatch);
			pthread_mutex_lock(&l->lock);
			continue;
		}
		pthread_cond_wait(&l->kick, &l->lock);
	}
	l->parked = false;
	pthread_mutex_unlock(&l->lock);
}

static void *loop_thread(void *arg)
{
	struct ev_loop *l = arg;
	sigset_t all;

	/* Signals belong to the main thread. */
	sigfill_but_sigsys(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		bool stop;

		wait_while_paused(l);
		pthread_mutex_lock(&l->lock);
		stop = l->stop;
		pthread_mutex_unlock(&l->lock);
		if (stop)
			break;
		if (wait_and_dispatch(l) < 0)
			break;
	}
	run_calls(l); /* nobody may wait forever on a call */
	return NULL;
}

int ev_loop_start(struct ev_loop *l, struct rv_err *err)
{
	int rc = pthread_create(&l->thread, NULL, loop_thread, l);

	if (rc != 0) {
		errno = rc;
		return rv_fail_errno(err, "cannot start I/O thread %s", l->name);
	}
	pthread_setname_np(l->thread, l->name);
	l->started = true;
	return 0;
}

static void wake(struct ev_loop *l)
{
	uint64_t one = 1;

	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the loop will wake. */
	}
}

void ev_loop_stop(struct ev_loop *l)
{
	if (!l->started)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_broadcast(&l->kick);
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_join(l->thread, NULL);
	l->started = false;
	l->stop = false;
	l->paused = false;
}

void ev_loop_pause(struct ev_loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->paused = true;
	pthread_mutex_unlock(&l->lock);
	if (!l->started || ev_loop_on_thread(l))
		return;
	wake(l);
	/* Wait until the thread is parked: no handler is running then. */
	pthread_mutex_lock(&l->lock);
	while (l->paused && !l->parked && l->started && !l->stop)
		pthread_cond_wait(&l->call_done, &l->lock);
	pthread_mutex_unlock(&l->lock);
}

void ev_loop_resume(struct ev_loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->paused = false;
	pthread_cond_broadcast(&l->kick);
	pthread_mutex_unlock(&l->lock);
}

bool ev_loop_on_thread(const struct ev_loop *l)
{
	return l->started && pthread_equal(pthread_self(), l->thread);
}

void ev_loop_call(struct ev_loop *l, void (*fn)(void *), void *opaque)
{
	struct ev_call c = { .fn = fn, .opaque = opaque };

	if (!l->started || ev_loop_on_thread(l)) {
		fn(opaque);
		return;
	}
	pthread_mutex_lock(&l->lock);
	c.next = l->calls;
	l->calls = &c;
	pthread_cond_broadcast(&l->kick);
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_mutex_lock(&l->lock);
	while (!c.done)
		pthread_cond_wait(&l->call_done, &l->lock);
	pthread_mutex_unlock(&l->lock);
}
