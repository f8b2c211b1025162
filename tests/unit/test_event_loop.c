/* The device I/O thread: handlers run on it, deleted registrations are
 * freed (a guest resetting its devices in a loop must not grow ringvm's
 * memory), pause really stops handlers while calls still get through, and
 * polling (--io-poll) finds work without sleeping, then backs off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <sched.h>
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

/* The window rule, on the idle time from the end of the last work to the
 * next: grow while that is within the cap but past the window, hold while
 * the window covers it, shrink when it is past the cap; nothing at all
 * without a cap. */
static void test_poll_window_rule(void **state)
{
	(void)state;
	assert_int_equal(ev_poll_next_window(0, 0, 1), 0);
	assert_int_equal(ev_poll_next_window(64, 0, 1), 0);
	assert_int_equal(ev_poll_next_window(0, 50, 10), EV_POLL_MIN_US);
	assert_int_equal(ev_poll_next_window(4, 50, 10), 8);
	assert_int_equal(ev_poll_next_window(8, 50, 10), 16);
	assert_int_equal(ev_poll_next_window(16, 50, 10), 16);
	assert_int_equal(ev_poll_next_window(32, 50, 40), 50);
	assert_int_equal(ev_poll_next_window(50, 50, 50), 50);
	assert_int_equal(ev_poll_next_window(50, 50, 51), 25);
	assert_int_equal(ev_poll_next_window(6, 50, 1000000), 0);
	/* A cap lowered under the window takes effect at once. */
	assert_int_equal(ev_poll_next_window(80, 50, 10), 50);
	assert_int_equal(ev_poll_next_window(80, 50, 100), 25);
	assert_int_equal(ev_poll_next_window(EV_POLL_MAX_US, EV_POLL_MAX_US, 5000),
			 EV_POLL_MAX_US);
}

/* n events, each poked gap_us after the one before was handled (what a
 * guest waiting for each completion does). */
static void paced_events(struct counter *c, int n, long gap_us)
{
	int base = atomic_load(&c->runs);

	for (int i = 1; i <= n; i++) {
		struct timespec ts = { 0, gap_us * 1000L };

		nanosleep(&ts, NULL);
		poke(c->fd);
		for (int k = 0; k < 5000000 && atomic_load(&c->runs) < base + i; k++)
			sched_yield();
		assert_int_equal(atomic_load(&c->runs), base + i);
	}
}

static void test_poll_off_sleeps_every_time(void **state)
{
	struct rv_err err;
	struct ev_loop *l = ev_loop_new("t", &err);
	struct counter c = { .fd = eventfd(0, EFD_NONBLOCK) };
	struct ev_loop_stats st;

	(void)state;
	assert_int_equal(ev_loop_start(l, &err), 0);
	assert_int_equal(ev_loop_add(l, c.fd, EPOLLIN, on_event, &c, &err), 0);
	paced_events(&c, 100, 500);
	ev_loop_get_stats(l, &st);
	assert_int_equal(st.polled, 0);
	assert_true(st.sleeps >= 100);
	assert_int_equal(st.poll_max_us, 0);
	assert_int_equal(st.poll_us, 0);
	ev_loop_free(l);
	close(c.fd);
}

static void test_poll_finds_work_then_backs_off(void **state)
{
	struct rv_err err;
	struct ev_loop *l = ev_loop_new("t", &err);
	struct counter c = { .fd = eventfd(0, EFD_NONBLOCK) };
	struct ev_loop_stats st;
	uint32_t busy;

	(void)state;
	ev_loop_set_poll(l, 1000000); /* capped */
	ev_loop_get_stats(l, &st);
	assert_int_equal(st.poll_max_us, EV_POLL_MAX_US);
	assert_int_equal(ev_loop_start(l, &err), 0);
	assert_int_equal(ev_loop_add(l, c.fd, EPOLLIN, on_event, &c, &err), 0);
	/* Work every 0.5 ms: the window grows past the gap (4, 8, ... 1024
	 * us within a dozen sleeps), and from then on polling finds it. */
	paced_events(&c, 200, 500);
	ev_loop_get_stats(l, &st);
	/* About 190 of the 200, loaded host or not (the poller yields). */
	assert_true(st.polled >= 100);
	assert_true(st.polled + st.sleeps >= 200);
	assert_true(st.poll_us >= 512);
	busy = st.poll_us;
	/* The cap lowered, then work that comes later than it: each sleep
	 * halves the window, down to no polling. */
	ev_loop_set_poll(l, 2000);
	for (int i = 0; i < 12; i++)
		paced_events(&c, 1, 30000);
	ev_loop_get_stats(l, &st);
	assert_true(st.poll_us < busy);
	assert_int_equal(st.poll_us, 0);
	ev_loop_free(l);
	close(c.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registrations_do_not_grow),
		cmocka_unit_test(test_pause_stops_handlers),
		cmocka_unit_test(test_stop_while_paused),
		cmocka_unit_test(test_poll_window_rule),
		cmocka_unit_test(test_poll_off_sleeps_every_time),
		cmocka_unit_test(test_poll_finds_work_then_backs_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
