/* The io_uring back end for raw images: a device's batch of requests
 * becomes SQEs and one io_uring_submit; completions wake the device's I/O
 * thread through the ring's registered eventfd. The rare cases the kernel
 * leaves to us (short transfers, fallocate modes the file system lacks,
 * O_DIRECT requests too long to bounce at once) are finished with the
 * synchronous helpers on the same thread. */
#include "backends/blk_file.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct blk_uring {
	struct io_uring ring;
	const struct blk_file *f;
	struct ev_loop *loop;
	int efd;
	bool watched;              /* efd registered with the loop */
	struct blk_uring_cb cb;
	unsigned int inflight;     /* requests queued and not completed */
};

static const int needed_ops[] = {
	IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_FALLOCATE,
};

static bool ops_supported(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p != NULL;

	for (size_t i = 0; ok && i < sizeof(needed_ops) / sizeof(needed_ops[0]);
	     i++)
		ok = io_uring_opcode_supported(p, needed_ops[i]);
	if (p)
		io_uring_free_probe(p);
	return ok;
}

static bool unsupported(int res)
{
	return res == -EOPNOTSUPP || res == -ENOSYS || res == -EINVAL;
}

/* One CQE of io. Reports io when its last operation completed. */
static void complete_op(struct blk_uring *u, struct blk_io *io, int res)
{
	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (res == -EINTR || res == -EAGAIN)
			io->res = blk_sync_rw_from(u->f, io, 0);
		else if (res < 0)
			io->res = res;
		else if ((size_t)res < io->len)
			io->res = blk_sync_rw_from(u->f, io, (size_t)res);
		break;
	case BLK_OP_FLUSH:
		io->res = res < 0 ? res : 0;
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		/* Which range failed is not known here; ranges are idempotent,
		 * so redo them all with the fallbacks. */
		if (res < 0 && unsupported(res))
			io->sync_redo = true;
		else if (res < 0 && !io->res)
			io->res = res;
		break;
	}
	if (--io->pending)
		return;
	if (io->sync_redo && !io->res)
		for (unsigned int i = 0; i < io->nranges && !io->res; i++)
			io->res = blk_sync_range(u->f, io->op, &io->range[i]);
	blk_bounce_finish(io);
	u->inflight--;
	u->cb.done(u->cb.ctx, io);
}

static unsigned int reap(struct blk_uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct blk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		complete_op(u, io, res);
		n++;
	}
	return n;
}

static void on_event(void *opaque, uint32_t events)
{
	struct blk_uring *u = opaque;
	uint64_t v;

	(void)events;
	/* Reset the counter first: a CQE posted after this read signals
	 * again, one posted before it is found by reap. */
	if (read(u->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: spurious wake-up; reap anyway. */
	}
	reap(u);
	/* Also when nothing was left to reap: completions reported during
	 * a submit may have freed room a starved queue waits for. */
	u->cb.batch_done(u->cb.ctx);
}

/* Pushes queued SQEs to the kernel; when the kernel is short of room
 * (completion backlog) makes room by completing what is done. */
static void submit_all(struct blk_uring *u)
{
	for (;;) {
		int rc = io_uring_submit(&u->ring);
		struct io_uring_cqe *cqe;

		if (rc >= 0 || rc == -EINTR) {
			if (rc >= 0)
				return;
			continue;
		}
		if ((rc == -EAGAIN || rc == -EBUSY) && reap(u))
			continue;
		if (rc == -EAGAIN || rc == -EBUSY) {
			if (io_uring_wait_cqe(&u->ring, &cqe) == 0)
				continue;
		}
		/* Anything else: the SQEs stay queued for the next submit. */
		fprintf(stderr, "ringvm: io_uring_submit: %s\n", strerror(-rc));
		return;
	}
}

static struct io_uring_sqe *get_sqe(struct blk_uring *u)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&u->ring)))
		submit_all(u);
	return sqe;
}

void blk_uring_queue(struct blk_uring *u, struct blk_io *io)
{
	unsigned int n = io->op == BLK_OP_DISCARD ||
			 io->op == BLK_OP_WRITE_ZEROES ? io->nranges : 1;
	int rc;

	io->res = 0;
	io->pending = 0;
	io->sync_redo = false;
	u->inflight++;
	if (blk_bounce_chunked(u->f, io)) {
		/* Rare (a guest that raised max_sectors, with unaligned
		 * buffers): the synchronous path moves it through one
		 * budget-sized buffer, holding up this thread meanwhile. */
		blk_sync_exec(u->f, io);
		u->inflight--;
		u->cb.done(u->cb.ctx, io);
		return;
	}
	rc = blk_bounce_prepare(u->f, io);
	if (rc || n == 0) {
		io->res = rc;
		u->inflight--;
		u->cb.done(u->cb.ctx, io);
		return;
	}
	io->pending = n;
	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = get_sqe(u);
		unsigned int cnt;
		struct iovec *iov;

		switch (io->op) {
		case BLK_OP_READ:
			iov = blk_io_iov(io, &cnt);
			io_uring_prep_readv(sqe, u->f->fd, iov, cnt, io->off);
			break;
		case BLK_OP_WRITE:
			iov = blk_io_iov(io, &cnt);
			io_uring_prep_writev(sqe, u->f->fd, iov, cnt, io->off);
			break;
		case BLK_OP_FLUSH:
			io_uring_prep_fsync(sqe, u->f->fd, IORING_FSYNC_DATASYNC);
			break;
		case BLK_OP_DISCARD:
		case BLK_OP_WRITE_ZEROES:
			io_uring_prep_fallocate(sqe, u->f->fd,
						blk_range_mode(io->op, &io->range[i]),
						(off_t)io->range[i].off,
						(off_t)io->range[i].len);
			break;
		}
		io_uring_sqe_set_data(sqe, io);
	}
}

void blk_uring_submit(struct blk_uring *u)
{
	submit_all(u);
	/* Page-cache hits complete inside io_uring_submit: report them now,
	 * so they share the caller's interrupt instead of costing one each
	 * on the eventfd wake-up. */
	reap(u);
}

void blk_uring_drain(struct blk_uring *u)
{
	unsigned int n = 0;

	while (u->inflight) {
		struct io_uring_cqe *cqe;
		int rc;

		submit_all(u);
		rc = io_uring_wait_cqe(&u->ring, &cqe);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
			fprintf(stderr, "ringvm: io_uring_wait_cqe: %s\n",
				strerror(-rc));
			break;
		}
		n += reap(u);
	}
	if (n)
		u->cb.batch_done(u->cb.ctx);
}

unsigned int blk_uring_inflight(const struct blk_uring *u)
{
	return u->inflight;
}

struct blk_uring *blk_uring_new(const struct blk_file *f, struct ev_loop *loop,
				unsigned int entries, struct blk_uring_cb cb,
				struct rv_err *err)
{
	struct blk_uring *u = calloc(1, sizeof(*u));
	int rc;

	if (!u) {
		rv_fail(err, "out of memory for io_uring");
		return NULL;
	}
	u->f = f;
	u->loop = loop;
	u->cb = cb;
	u->efd = -1;
	rc = io_uring_queue_init(entries, &u->ring, 0);
	if (rc < 0) {
		errno = -rc;
		rv_fail_errno(err, "io_uring unavailable");
		free(u);
		return NULL;
	}
	if (!ops_supported(&u->ring)) {
		rv_fail(err, "io_uring lacks readv/writev/fsync/fallocate");
		goto fail;
	}
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0) {
		rv_fail_errno(err, "eventfd for io_uring");
		goto fail;
	}
	rc = io_uring_register_eventfd(&u->ring, u->efd);
	if (rc < 0) {
		errno = -rc;
		rv_fail_errno(err, "io_uring_register_eventfd");
		goto fail;
	}
	if (ev_loop_add(loop, u->efd, EPOLLIN, on_event, u, err) < 0)
		goto fail;
	u->watched = true;
	return u;
fail:
	io_uring_queue_exit(&u->ring);
	if (u->efd >= 0)
		close(u->efd);
	free(u);
	return NULL;
}

void blk_uring_free(struct blk_uring *u)
{
	if (!u)
		return;
	if (u->watched)
		ev_loop_del(u->loop, u->efd);
	blk_uring_drain(u);
	io_uring_queue_exit(&u->ring);
	close(u->efd);
	free(u);
}
