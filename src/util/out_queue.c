/* See out_queue.h. One writer thread per queue; the lock covers the ring,
 * never a write(), so producers wait only for a memcpy. */
#include "util/out_queue.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/sigmask.h"

/* How long out_queue_free lets a draining writer finish. */
#define FREE_FLUSH_MS 200
/* Interrupts a writer blocked in write() on a reader that stopped: its
 * handler does nothing and is installed without SA_RESTART, so write()
 * returns EINTR. (Thread cancellation would do too, but unwinding a
 * cancelled thread upsets the sanitizers the tests run under.) */
#define OUT_QUEUE_SIGNAL SIGUSR2

struct out_queue {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;       /* data queued, or stop */
	pthread_cond_t drained;    /* the ring emptied and nothing in flight */
	pthread_cond_t room;       /* the writer took bytes out */
	int max_wait_ms;           /* a producer waits this long for room */
	bool stalled;              /* a wait timed out: drop, do not wait,
				    * until the writer moves again */
	uint8_t *buf;
	size_t cap, head, len;
	size_t inflight;           /* taken by the writer, being written */
	bool stop;
	bool dead;                 /* the fd failed for good: drop everything */
	atomic_bool done;          /* the writer thread has left its loop */
	atomic_uint_fast64_t dropped;
};

static void *writer(void *arg)
{
	struct out_queue *q = arg;
	sigset_t all;
	uint8_t chunk[4096];

	/* Signals belong to the main thread, but for the one that interrupts
	 * a write at free time. */
	sigfill_but_sigsys(&all);
	sigdelset(&all, OUT_QUEUE_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		size_t n, off = 0;

		while (!q->len && !q->stop)
			pthread_cond_wait(&q->more, &q->lock);
		if (!q->len && q->stop)
			break;
		n = q->len < sizeof(chunk) ? q->len : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = q->buf[(q->head + i) % q->cap];
		q->head = (q->head + n) % q->cap;
		q->len -= n;
		q->inflight = n;
		q->stalled = false;
		pthread_cond_broadcast(&q->room);
		pthread_mutex_unlock(&q->lock);
		while (off < n && !q->dead) {
			ssize_t w = write(q->fd, chunk + off, n - off);

			if (w < 0 && errno == EINTR) {
				/* Interrupted on purpose: we are being freed. */
				if (__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE))
					break;
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* A non-blocking fd that is full: the bytes are
				 * lost, as a real console would lose them. */
				atomic_fetch_add(&q->dropped, n - off);
				break;
			}
			if (w <= 0) {
				q->dead = true;
				atomic_fetch_add(&q->dropped, n - off);
				break;
			}
			off += (size_t)w;
		}
		pthread_mutex_lock(&q->lock);
		q->inflight = 0;
		if (!q->len)
			pthread_cond_broadcast(&q->drained);
		if (q->dead)
			pthread_cond_broadcast(&q->room);
	}
	pthread_cond_broadcast(&q->drained);
	pthread_mutex_unlock(&q->lock);
	atomic_store(&q->done, true);
	return NULL;
}

static void interrupt_handler(int sig)
{
	(void)sig;
}

struct out_queue *out_queue_new(int fd, size_t cap, int max_wait_ms,
				const char *name, struct rv_err *err)
{
	struct out_queue *q = calloc(1, sizeof(*q));
	int rc;

	if (!q || !cap || !(q->buf = malloc(cap))) {
		free(q);
		rv_fail(err, "out of memory for the %s output queue", name);
		return NULL;
	}
	q->fd = fd;
	q->cap = cap;
	q->max_wait_ms = max_wait_ms;
	{
		struct sigaction sa = { .sa_handler = interrupt_handler };

		sigemptyset(&sa.sa_mask);
		sigaction(OUT_QUEUE_SIGNAL, &sa, NULL);   /* no SA_RESTART */
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->drained, NULL);
	pthread_cond_init(&q->room, NULL);
	rc = pthread_create(&q->thread, NULL, writer, q);
	if (rc != 0) {
		errno = rc;
		rv_fail_errno(err, "cannot start the %s output thread", name);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->more);
		pthread_cond_destroy(&q->drained);
		pthread_cond_destroy(&q->room);
		free(q->buf);
		free(q);
		return NULL;
	}
	pthread_setname_np(q->thread, name);
	return q;
}

static void deadline(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

size_t out_queue_write(struct out_queue *q, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t take, tail;

	pthread_mutex_lock(&q->lock);
	/* A reader that is merely slow gets back-pressure, bounded; one that
	 * stopped reading makes us drop instead of wait. */
	if (q->cap - q->len < len && !q->dead && !q->stalled &&
	    q->max_wait_ms > 0) {
		struct timespec until;
		int rc = 0;

		deadline(&until, q->max_wait_ms);
		while (q->cap - q->len < len && !q->dead && rc == 0)
			rc = pthread_cond_timedwait(&q->room, &q->lock, &until);
		if (rc != 0)
			q->stalled = true;
	}
	take = q->dead ? 0 : q->cap - q->len;
	if (take > len)
		take = len;
	tail = (q->head + q->len) % q->cap;
	for (size_t i = 0; i < take; i++)
		q->buf[(tail + i) % q->cap] = p[i];
	q->len += take;
	if (take)
		pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
	if (take < len)
		atomic_fetch_add(&q->dropped, len - take);
	return take;
}

int out_queue_flush(struct out_queue *q, int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	deadline(&until, timeout_ms);
	pthread_mutex_lock(&q->lock);
	while ((q->len || q->inflight) && !q->dead && rc == 0)
		rc = pthread_cond_timedwait(&q->drained, &q->lock, &until);
	rc = (q->len || q->inflight) && !q->dead ? -1 : 0;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

uint64_t out_queue_dropped(const struct out_queue *q)
{
	return atomic_load(&q->dropped);
}

void out_queue_free(struct out_queue *q)
{
	if (!q)
		return;
	out_queue_flush(q, FREE_FLUSH_MS);
	pthread_mutex_lock(&q->lock);
	__atomic_store_n(&q->stop, true, __ATOMIC_RELEASE);
	/* What is still queued now will not be written: a stalled reader. */
	q->len = 0;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
	/* A writer blocked in write() (a pipe nobody reads) is interrupted
	 * there; the signal may land just before it enters write(), hence
	 * the repeats. One between writes sees stop and ends by itself. */
	while (!atomic_load(&q->done)) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		pthread_kill(q->thread, OUT_QUEUE_SIGNAL);
		nanosleep(&ts, NULL);
	}
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->more);
	pthread_cond_destroy(&q->drained);
	pthread_cond_destroy(&q->room);
	free(q->buf);
	free(q);
}
