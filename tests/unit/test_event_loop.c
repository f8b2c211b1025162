/* The device I/O thread: handlers run on it, deleted registrations are
 * freed (a guest resetting its devices in a loop must not grow ringvm's
 * memory), and pause really stops handlers while calls still get through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/event_loop.h"

struct counter {
	int fd;
	atomic_int runs;
};

static void on_event(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	uint64_t v;

	(void)events;
	if (read(c->fd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&c->runs, 1);
}

static void poke(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits (bounded) until c has run n times. */
static void wait_runs(struct counter *c, int n)
{
	for (int i = 0; i < 500 && atomic_load(&c->runs) < n; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&c->runs), n);
}

static void test_registrations_do_not_grow(void **state)
{
	struct rv_err err;
	struct ev_loop *l = ev_loop_new("t", &err);
	struct counter c = { .fd = eventfd(0, EFD_NONBLOCK) };

	(void)state;
	assert_non_null(l);
	assert_int_equal(ev_loop_start(l, &err), 0);
	/* What a device reset does, many times over, with events flowing. */
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(ev_loop_add(l, c.fd, EPOLLIN, on_event, &c, &err), 0);
		poke(c.fd);
		ev_loop_del(l, c.fd);
	}
	/* One more batch on the loop thread reaps what is left. */
	assert_int_equal(ev_loop_add(l, c.fd, EPOLLIN, on_event, &c, &err), 0);
	poke(c.fd);
	for (int i = 0; i < 500 && ev_loop_registrations(l) > 1; i++)
		sleep_ms(10);
	assert_true(ev_loop_registrations(l) <= 2);
	ev_loop_free(l);
	close(c.fd);
}

static void count_call(void *opaque)
{
	atomic_fetch_add((atomic_int *)opaque, 1);
}

static void test_pause_stops_handlers(void **state)
{
	struct rv_err err;
	struct ev_loop *l = ev_loop_new("t", &err);
	struct counter c = { .fd = eventfd(0, EFD_NONBLOCK) };
	atomic_int calls = 0;

	(void)state;
	assert_int_equal(ev_loop_start(l, &err), 0);
	assert_int_equal(ev_loop_add(l, c.fd, EPOLLIN, on_event, &c, &err), 0);
	poke(c.fd);
	wait_runs(&c, 1);

	ev_loop_pause(l);
	poke(c.fd);
	sleep_ms(200);
	assert_int_equal(atomic_load(&c.runs), 1);   /* held, not lost */
	/* Calls still run while paused (device reset, teardown). */
	ev_loop_call(l, count_call, &calls);
	assert_int_equal(atomic_load(&calls), 1);
	sleep_ms(100);
	assert_int_equal(atomic_load(&c.runs), 1);

	ev_loop_resume(l);
	wait_runs(&c, 2);
	/* Pause twice, resume once: running again. */
	ev_loop_pause(l);
	ev_loop_pause(l);
	ev_loop_resume(l);
	poke(c.fd);
	wait_runs(&c, 3);
	ev_loop_free(l);
	close(c.fd);
}

static void test_stop_while_paused(void **state)
{
	struct rv_err err;
	struct ev_loop *l = ev_loop_new("t", &err);
	struct counter c = { .fd = eventfd(0, EFD_NONBLOCK) };

	(void)state;
	assert_int_equal(ev_loop_start(l, &err), 0);
	assert_int_equal(ev_loop_add(l, c.fd, EPOLLIN, on_event, &c, &err), 0);
	ev_loop_pause(l);
	poke(c.fd);
	ev_loop_free(l);      /* must not hang */
	assert_int_equal(atomic_load(&c.runs), 0);
	close(c.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registrations_do_not_grow),
		cmocka_unit_test(test_pause_stops_handlers),
		cmocka_unit_test(test_stop_while_paused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
