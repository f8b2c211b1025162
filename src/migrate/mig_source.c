/* Live migration, the sending side (see mig_source.h). */
#include "migrate/mig_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "mem/guest_mem.h"
#include "migrate/mig_stream.h"
#include "migrate/mig_transport.h"
#include "state/state.h"
#include "util/version.h"
#include "vm/vm.h"

/* Auto-converge: the first step, each further step, the ceiling. */
#define THROTTLE_FIRST 20
#define THROTTLE_STEP  10
#define THROTTLE_MAX   99
/* The throttle's period: vCPUs held pct ms out of every 100. */
#define THROTTLE_PERIOD_MS 100
/* The bandwidth cap's catch-up allowance. */
#define PACE_CREDIT_MS 100

void mig_params_default(struct mig_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_downtime_ms = MIG_DEFAULT_DOWNTIME_MS;
	p->max_rounds = MIG_DEFAULT_ROUNDS;
	p->timeout_ms = MIG_DEFAULT_TIMEOUT_MS;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct sender {
	struct vm *vm;
	const struct mig_params *p;
	struct mig_ctl *ctl;
	const struct guest_mem *gm;
	struct mig_conn conn;
	struct mig_pages pages;
	/* Dirty pages not sent yet; each fetch adds to it (a fetch clears
	 * KVM's log, so nothing fetched may be dropped), each send clears. */
	uint64_t *bitmap[GUEST_MEM_MAX_REGIONS];
	uint64_t *fetched[GUEST_MEM_MAX_REGIONS];
	uint64_t t_start;
	/* Auto-converge: a thread holds the vCPUs pct ms of every 100. */
	pthread_t throttler;
	bool throttling;
	/* --max-bandwidth: pre-copy's bytes since pace_t0 (ms). */
	bool pacing;
	uint64_t pace_t0, pace_bytes0;
	atomic_uint throttle_pct;
	atomic_bool throttle_stop;
};

static void set_phase(struct sender *s, const char *phase)
{
	mig_ctl_set_phase(s->ctl, phase);
}

static void update_sent(struct sender *s)
{
	pthread_mutex_lock(&s->ctl->lock);
	s->ctl->st.sent_bytes = s->conn.bytes_out;
	s->ctl->st.sent_pages = s->pages.data_pages;
	s->ctl->st.zero_pages = s->pages.zero_pages;
	s->ctl->st.total_ms = mig_now_ms() - s->t_start;
	pthread_mutex_unlock(&s->ctl->lock);
}

/* Between records: the user's cancel, a guest that stopped on its own. */
static int check_going(struct sender *s, struct rv_err *err)
{
	if (atomic_load(&s->ctl->cancel))
		return rv_fail(err, "cancelled");
	if (vm_state(s->vm) == VM_STATE_STOPPED)
		return rv_fail(err, "the guest stopped during the migration");
	return 0;
}

/* The bandwidth cap: after each record, wait until pre-copy's bytes are
 * back within it. A sender that fell behind (a slow link, a fetch of the
 * dirty log) may catch up by at most PACE_CREDIT_MS worth of bytes, not
 * burst at full speed. Only pre-copy is paced; once the guest is paused,
 * its last pages go as fast as the link allows. */
static void pace(struct sender *s)
{
	uint64_t cap = (uint64_t)s->p->max_bandwidth_mib << 20;
	uint64_t due_ms, now_ms;

	if (!cap || !s->pacing)
		return;
	due_ms = (s->conn.bytes_out - s->pace_bytes0) * 1000 / cap;
	now_ms = mig_now_ms() - s->pace_t0;
	if (due_ms > now_ms)
		sleep_ms((unsigned int)(due_ms - now_ms));
	else if (now_ms - due_ms > PACE_CREDIT_MS)
		s->pace_t0 += now_ms - due_ms - PACE_CREDIT_MS;
}

static int send_page(struct sender *s, const struct guest_region *r,
		     uint64_t pfn, struct rv_err *err)
{
	if (mig_pages_add(&s->pages, &s->conn, r->gpa + pfn * MIG_PAGE,
			  r->hva + pfn * MIG_PAGE, err) < 0)
		return -1;
	/* Checked once per record: cheap, and a cancel or a stopped guest
	 * ends the migration within a megabyte. */
	if (s->pages.count == 0) {
		pace(s);
		update_sent(s);
		return check_going(s, err);
	}
	return 0;
}

static int send_all_pages(struct sender *s, struct rv_err *err)
{
	for (unsigned int i = 0; i < s->gm->nr; i++) {
		const struct guest_region *r = &s->gm->region[i];

		for (uint64_t pfn = 0; pfn < r->size / MIG_PAGE; pfn++)
			if (send_page(s, r, pfn, err) < 0)
				return -1;
	}
	return mig_pages_flush(&s->pages, &s->conn, err);
}

/* Adds the dirty log to s->bitmap; returns the pages now to send. */
static int64_t fetch_dirty(struct sender *s, struct rv_err *err)
{
	int64_t n = 0;

	for (unsigned int i = 0; i < s->gm->nr; i++) {
		uint64_t words = (s->gm->region[i].size / MIG_PAGE + 63) / 64;

		if (vm_dirty_log_fetch(s->vm, i, s->fetched[i], err) < 0)
			return -1;
		for (uint64_t w = 0; w < words; w++) {
			s->bitmap[i][w] |= s->fetched[i][w];
			n += __builtin_popcountll(s->bitmap[i][w]);
		}
	}
	return n;
}

static int send_dirty_pages(struct sender *s, struct rv_err *err)
{
	for (unsigned int i = 0; i < s->gm->nr; i++) {
		const struct guest_region *r = &s->gm->region[i];
		uint64_t words = (r->size / MIG_PAGE + 63) / 64;

		for (uint64_t w = 0; w < words; w++) {
			uint64_t bits = s->bitmap[i][w];

			s->bitmap[i][w] = 0;
			while (bits) {
				unsigned int b = (unsigned int)__builtin_ctzll(bits);

				bits &= bits - 1;
				if (send_page(s, r, w * 64 + b, err) < 0)
					return -1;
			}
		}
	}
	return mig_pages_flush(&s->pages, &s->conn, err);
}

/* Waits for ACK; NACK's reason becomes the error. */
static int expect_ack(struct sender *s, const char *what, struct rv_err *err)
{
	uint32_t type;
	uint8_t *buf;
	uint64_t len;

	if (mig_recv_record(&s->conn, &type, &buf, &len, err) < 0)
		return -1;
	if (type == MIG_REC_ACK) {
		free(buf);
		return 0;
	}
	if (type == MIG_REC_NACK) {
		char why[200];

		mig_printable(why, sizeof(why), buf, len);
		rv_fail(err, "the destination refused %s: %s", what, why);
		free(buf);
		return -1;
	}
	free(buf);
	return rv_fail(err, "the destination answered %s with record type %u",
		       what, type);
}

static void *throttle_main(void *arg)
{
	struct sender *s = arg;

	while (!atomic_load(&s->throttle_stop)) {
		unsigned int pct = atomic_load(&s->throttle_pct);

		vm_throttle_hold(s->vm, pct * THROTTLE_PERIOD_MS / 100);
		sleep_ms((100 - pct) * THROTTLE_PERIOD_MS / 100);
	}
	return NULL;
}

static void throttle_more(struct sender *s)
{
	unsigned int pct = atomic_load(&s->throttle_pct);

	pct = pct ? pct + THROTTLE_STEP : THROTTLE_FIRST;
	if (pct > THROTTLE_MAX)
		pct = THROTTLE_MAX;
	atomic_store(&s->throttle_pct, pct);
	if (!s->throttling &&
	    pthread_create(&s->throttler, NULL, throttle_main, s) == 0)
		s->throttling = true;
	pthread_mutex_lock(&s->ctl->lock);
	s->ctl->st.throttle_pct = pct;
	pthread_mutex_unlock(&s->ctl->lock);
}

static void throttle_stop(struct sender *s)
{
	if (!s->throttling)
		return;
	atomic_store(&s->throttle_stop, true);
	pthread_join(s->throttler, NULL);
	s->throttling = false;
}

static int hello(struct sender *s, struct rv_err *err)
{
	struct state_writer w;
	const uint8_t *buf;
	char peer[33];
	size_t len;
	int rc;

	if (mig_send_header(&s->conn, RINGVM_VERSION, err) < 0 ||
	    mig_recv_header(&s->conn, peer, err) < 0)
		return -1;
	state_writer_init(&w, RINGVM_VERSION);
	rc = vm_hello_save(s->vm, &w, err);
	if (rc == 0)
		rc = state_writer_finish(&w, &buf, &len, err);
	if (rc == 0)
		rc = mig_send_record(&s->conn, MIG_REC_HELLO, buf, len, err);
	state_writer_free(&w);
	if (rc == 0)
		rc = expect_ack(s, "the guest", err);
	return rc;
}

/* Pre-copy until what is dirty fits the downtime. */
static int precopy(struct sender *s, struct rv_err *err)
{
	const struct mig_params *p = s->p;
	uint64_t bandwidth, t0 = mig_now_ms(), sent0 = s->conn.bytes_out;
	unsigned int round = 0, hot_rounds = 0;

	set_phase(s, "precopy");
	s->pacing = true;
	s->pace_t0 = t0;
	s->pace_bytes0 = sent0;
	if (send_all_pages(s, err) < 0)
		return -1;
	for (;;) {
		uint64_t t1 = mig_now_ms(), ms = t1 > t0 ? t1 - t0 : 1;
		uint64_t bytes = s->conn.bytes_out - sent0;
		int64_t dirty = fetch_dirty(s, err);
		uint64_t dirty_bytes, est_ms, rate;

		if (dirty < 0)
			return -1;
		dirty_bytes = (uint64_t)dirty * MIG_PAGE;
		/* The link's rate over this round; a round too short to
		 * measure keeps the last figure. */
		bandwidth = bytes * 1000 / ms;
		if (bandwidth == 0)
			bandwidth = 1;
		rate = dirty_bytes * 1000 / ms;
		est_ms = dirty_bytes * 1000 / bandwidth;
		pthread_mutex_lock(&s->ctl->lock);
		s->ctl->st.round = round;
		s->ctl->st.dirty_bytes = dirty_bytes;
		s->ctl->st.dirty_rate = rate;
		s->ctl->st.bandwidth = bandwidth;
		s->ctl->st.expected_downtime_ms = est_ms;
		pthread_mutex_unlock(&s->ctl->lock);
		update_sent(s);
		if (est_ms <= p->max_downtime_ms)
			return 0;
		if (check_going(s, err) < 0)
			return -1;
		/* The guest dirties more than half of what the link moves:
		 * each round barely shrinks what is left. */
		hot_rounds = rate * 2 > bandwidth ? hot_rounds + 1 : 0;
		if (++round >= p->max_rounds &&
		    (!p->auto_converge ||
		     atomic_load(&s->throttle_pct) >= THROTTLE_MAX))
			return rv_fail(err, "did not converge in %u rounds: the guest dirties %llu MiB/s, the link carries %llu MiB/s, %llu MiB left would take %llu ms (max_downtime_ms %u)%s",
				       round,
				       (unsigned long long)(rate >> 20),
				       (unsigned long long)(bandwidth >> 20),
				       (unsigned long long)(dirty_bytes >> 20),
				       (unsigned long long)est_ms,
				       p->max_downtime_ms,
				       p->auto_converge ? "" :
				       "; allow more downtime or enable auto-converge");
		/* Two hot rounds in a row, or past max_rounds at all: a
		 * throttle that only rose with hot rounds could sit just below
		 * "hot" and never converge. */
		if (p->auto_converge && (hot_rounds >= 2 || round >= p->max_rounds)) {
			throttle_more(s);
			hot_rounds = 0;
		}
		t0 = t1;
		sent0 = s->conn.bytes_out;
		if (send_dirty_pages(s, err) < 0)
			return -1;
	}
}

/* Paused: the last pages, the state, the destination's word. 1 when the
 * outcome is unknown (the state went out, no answer came). */
static int stop_and_copy(struct sender *s, bool user_paused,
			 struct rv_err *err)
{
	struct state_writer w;
	const uint8_t *buf;
	size_t len;
	int rc;

	set_phase(s, "stop-and-copy");
	s->pacing = false;
	if (fetch_dirty(s, err) < 0 || send_dirty_pages(s, err) < 0)
		return -1;
	state_writer_init(&w, RINGVM_VERSION);
	rc = vm_state_save(s->vm, &w, err);
	/* Paused by the user here: paused there too. */
	state_begin(&w, "migration", 1);
	state_put_bool(&w, user_paused);
	state_end(&w);
	if (rc == 0)
		rc = state_writer_finish(&w, &buf, &len, err);
	if (rc == 0)
		rc = mig_send_record(&s->conn, MIG_REC_STATE, buf, len, err);
	state_writer_free(&w);
	if (rc < 0)
		return -1;
	update_sent(s);
	set_phase(s, "waiting for the destination");
	if (expect_ack(s, "the state", err) == 0)
		return 0;
	/* A NACK is a clear answer: the destination does not run it. */
	if (strstr(err->msg, "the destination refused"))
		return -1;
	{
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		rv_fail(err, "the state went out but the destination never confirmed (%s): the guest may be running there; it stays paused here; resume it only if it is not",
			tmp);
	}
	return 1;
}

static void finish(struct sender *s, enum mig_state st, const char *msg,
		   uint64_t downtime_ms)
{
	update_sent(s);
	mig_ctl_finish(s->ctl, st, msg, downtime_ms);
}

int mig_send(struct vm *vm, const struct mig_params *p, struct mig_ctl *c,
	     struct rv_err *err)
{
	struct sender s = { .vm = vm, .p = p, .ctl = c,
			    .gm = vm_memory(vm), .t_start = mig_now_ms() };
	bool logging = false, paused = false, user_paused = false;
	uint64_t t_pause = 0;
	int fd, rc = -1;

	s.conn.fd = -1;
	pthread_mutex_lock(&c->lock);
	c->st.ram_bytes = s.gm->ram_size;
	pthread_mutex_unlock(&c->lock);
	for (unsigned int i = 0; i < s.gm->nr; i++) {
		uint64_t words = (s.gm->region[i].size / MIG_PAGE + 63) / 64;

		s.bitmap[i] = calloc(words, sizeof(uint64_t));
		s.fetched[i] = calloc(words, sizeof(uint64_t));
		if (!s.bitmap[i] || !s.fetched[i]) {
			rv_fail(err, "out of memory for the dirty bitmap");
			goto out;
		}
	}
	if (mig_pages_init(&s.pages, err) < 0)
		goto out;
	fd = mig_connect(p->url, p->timeout_ms, err);
	if (fd < 0)
		goto out;
	mig_conn_init(&s.conn, fd, "destination", p->timeout_ms);
	mig_ctl_set_fd(c, fd);
	if (hello(&s, err) < 0)
		goto out;
	if (vm_dirty_log_start(vm, err) < 0)
		goto out;
	logging = true;
	if (precopy(&s, err) < 0)
		goto out;
	throttle_stop(&s);
	if (vm_migration_pause(vm, &user_paused, err) < 0)
		goto out;
	paused = true;
	t_pause = mig_now_ms();
	rc = stop_and_copy(&s, user_paused, err);
	if (rc == 0) {
		finish(&s, MIG_COMPLETED, NULL, mig_now_ms() - t_pause);
		/* vm_run ends; the guest's RAM and devices are left as they
		 * are (the destination has them now). */
		vm_stop_migrated(vm, c->st.destination);
		goto done;
	}
	if (rc > 0) {
		/* Unknown outcome: stay paused, let the user decide. */
		vm_migration_end(vm, true);
		vm_dirty_log_stop(vm);
		finish(&s, MIG_FAILED, err->msg, 0);
		rc = -1;
		goto done;
	}
out:
	throttle_stop(&s);
	if (logging)
		vm_dirty_log_stop(vm);
	if (paused)
		vm_migration_end(vm, user_paused);
	/* A cancel may have broken the connection on purpose. */
	if (atomic_load(&c->cancel))
		rv_fail(err, "cancelled");
	finish(&s, atomic_load(&c->cancel) ? MIG_CANCELLED : MIG_FAILED,
	       err->msg, 0);
	rc = -1;
done:
	if (s.conn.fd >= 0)
		mig_conn_close(&s.conn);
	mig_pages_free(&s.pages);
	for (unsigned int i = 0; i < s.gm->nr; i++) {
		free(s.bitmap[i]);
		free(s.fetched[i]);
	}
	return rc;
}
