/* Live migration, the receiving side (see mig_dest.h). */
#include "migrate/mig_dest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem/guest_mem.h"
#include "migrate/mig_stream.h"
#include "migrate/mig_transport.h"
#include "state/state.h"
#include "util/version.h"

struct mig_dest {
	struct mig_conn conn;
	const struct guest_mem *gm;
	uint64_t pages, zero_pages;
	struct mig_ctl *ctl;         /* or NULL */
};

/* The progress GET /migrate shows at the destination. */
static void progress(struct mig_dest *d)
{
	if (!d->ctl)
		return;
	pthread_mutex_lock(&d->ctl->lock);
	d->ctl->st.sent_bytes = d->conn.bytes_in;
	d->ctl->st.sent_pages = d->pages;
	d->ctl->st.zero_pages = d->zero_pages;
	pthread_mutex_unlock(&d->ctl->lock);
}

static void phase(struct mig_dest *d, const char *p)
{
	if (d->ctl)
		mig_ctl_set_phase(d->ctl, p);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nack(struct mig_dest *d, const char *why)
{
	struct rv_err ignored;

	mig_send_record(&d->conn, MIG_REC_NACK, why, strlen(why), &ignored);
}

static int ack(struct mig_dest *d, struct rv_err *err)
{
	return mig_send_record(&d->conn, MIG_REC_ACK, "", 0, err);
}

/* The confirmation the source waits for, once the vCPUs exist. */
static void on_started(void *ctx, int rc)
{
	struct mig_dest *d = ctx;
	struct rv_err err;

	if (rc == 0 && ack(d, &err) < 0)
		fprintf(stderr, "ringvm: could not confirm the migration to its source: %s\n",
			err.msg);
	else if (rc != 0)
		nack(d, "the destination could not start the guest's vCPUs");
	if (d->ctl)
		mig_ctl_finish(d->ctl, rc == 0 ? MIG_COMPLETED : MIG_FAILED,
			       rc == 0 ? NULL : "the guest's vCPUs could not start", 0);
	mig_conn_close(&d->conn);
}

static int put_page(void *ctx, uint64_t gpa, const uint8_t *data,
		    struct rv_err *err)
{
	struct mig_dest *d = ctx;
	uint8_t *p = guest_mem_ptr(d->gm, gpa, MIG_PAGE);

	if (!p)
		return rv_fail(err, "the source sent page %#llx, outside this guest's RAM",
			       (unsigned long long)gpa);
	if (data) {
		memcpy(p, data, MIG_PAGE);
		d->pages++;
	} else {
		/* Reading a page never written costs nothing (the zero
		 * page); writing it would allocate it. */
		if (!mig_page_is_zero(p))
			memset(p, 0, MIG_PAGE);
		d->zero_pages++;
	}
	return 0;
}

/* The first record: build the machine it describes, or say why not. */
static int take_hello(struct mig_dest *d, const struct mig_incoming_opts *o,
		      struct vm **vm, struct rv_err *err)
{
	struct state_reader r = { 0 };
	uint32_t type;
	uint8_t *buf;
	uint64_t len;
	int rc;

	if (mig_recv_record(&d->conn, &type, &buf, &len, err) < 0)
		return -1;
	if (type != MIG_REC_HELLO) {
		free(buf);
		return rv_fail(err, "the source began with record type %u, not HELLO",
			       type);
	}
	rc = state_reader_open(&r, buf, len, "the source's HELLO", err);
	if (rc == 0)
		rc = vm_restore_build(&r, &o->vm, vm, err);
	state_reader_free(&r);
	free(buf);
	if (rc < 0) {
		nack(d, err->msg);
		return -1;
	}
	d->gm = vm_memory(*vm);
	if (ack(d, err) < 0) {
		vm_destroy(*vm);
		*vm = NULL;
		return -1;
	}
	return 0;
}

/* Pages until the state; then load it. */
static int take_rest(struct mig_dest *d, struct vm *vm, struct rv_err *err)
{
	for (;;) {
		struct state_reader r = { 0 };
		struct state_cursor c;
		uint32_t type;
		uint8_t *buf;
		uint64_t len;
		bool paused = false;
		int rc;

		if (mig_recv_record(&d->conn, &type, &buf, &len, err) < 0)
			return -1;
		if (type == MIG_REC_PAGES) {
			rc = mig_pages_parse(buf, len, put_page, d, err);
			free(buf);
			progress(d);
			if (rc < 0) {
				nack(d, err->msg);
				return -1;
			}
			continue;
		}
		if (type != MIG_REC_STATE) {
			free(buf);
			return rv_fail(err, "unexpected record type %u from the source",
				       type);
		}
		phase(d, "starting");
		rc = state_reader_open(&r, buf, len, "the source's state", err);
		/* Paused by its user at the source: paused here too. */
		if (rc == 0 && state_has_section(&r, "migration")) {
			rc = state_section(&r, "migration", 1, &c, NULL, err);
			if (rc == 0) {
				paused = state_get_bool(&c);
				rc = state_cursor_finish(&c, err);
			}
		}
		if (rc == 0)
			rc = vm_restore_load(vm, &r, paused, err);
		state_reader_free(&r);
		free(buf);
		if (rc < 0)
			nack(d, err->msg);
		return rc;
	}
}

int mig_incoming_listen(const char *url, struct rv_err *err)
{
	int lfd = mig_listen(url, err);

	if (lfd >= 0)
		fprintf(stderr, "ringvm: waiting for a migration on %s\n", url);
	return lfd;
}

/* For ever, but a cancel (o->ctl) is looked at twice a second. */
static int wait_source(const struct mig_incoming_opts *o, int lfd,
		       struct rv_err *err)
{
	for (;;) {
		int fd;

		if (o->ctl && atomic_load(&o->ctl->cancel))
			return rv_fail(err, "cancelled");
		fd = mig_accept(lfd, 500, err);
		if (fd >= 0 || !strstr(err->msg, "no migration source connected"))
			return fd;
	}
}

int mig_receive(const struct mig_incoming_opts *o, int lfd, struct vm **out,
		struct mig_dest **dp, struct rv_err *err)
{
	struct mig_dest *d = calloc(1, sizeof(*d));
	struct vm *vm = NULL;
	char peer[33];
	double t0;
	int fd;

	if (!d) {
		mig_unlisten(o->url, lfd);
		return rv_fail(err, "out of memory");
	}
	d->conn.fd = -1;
	d->ctl = o->ctl;
	fd = wait_source(o, lfd, err);
	mig_unlisten(o->url, lfd);
	if (fd < 0)
		goto fail;
	t0 = now_s();
	mig_conn_init(&d->conn, fd, "source", o->timeout_ms);
	if (d->ctl)
		mig_ctl_set_fd(d->ctl, fd);
	phase(d, "receiving");
	if (mig_recv_header(&d->conn, peer, err) < 0 ||
	    mig_send_header(&d->conn, RINGVM_VERSION, err) < 0 ||
	    take_hello(d, o, &vm, err) < 0)
		goto fail;
	if (take_rest(d, vm, err) < 0)
		goto fail;
	progress(d);
	fprintf(stderr, "ringvm: migration from ringvm %s received: %llu MiB of pages, %llu zero pages, in %.1f s\n",
		peer, (unsigned long long)((d->pages * MIG_PAGE) >> 20),
		(unsigned long long)d->zero_pages, now_s() - t0);
	vm_on_started(vm, on_started, d);
	*out = vm;
	*dp = d;
	return 0;
fail:
	vm_destroy(vm);
	if (o->ctl && atomic_load(&o->ctl->cancel))
		rv_fail(err, "cancelled");
	{
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		rv_fail(err, "incoming migration: %s", tmp);
	}
	if (d->ctl)
		mig_ctl_finish(d->ctl, atomic_load(&d->ctl->cancel) ?
			       MIG_CANCELLED : MIG_FAILED, err->msg, 0);
	mig_dest_free(d);
	return -1;
}

void mig_dest_free(struct mig_dest *d)
{
	if (!d)
		return;
	mig_conn_close(&d->conn);
	free(d);
}
