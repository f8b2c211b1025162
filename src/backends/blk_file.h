/* Raw image files for block devices: opening the image, and the two ways of
 * doing I/O on it. The io_uring back end (blk_file_uring.c) queues requests
 * on a ring whose completions arrive through an eventfd on the device's I/O
 * thread; the synchronous back end (blk_file_sync.c: preadv, pwritev,
 * fdatasync, fallocate) runs a request to completion on the calling thread
 * and is used when io_uring is unavailable or not wanted.
 *
 * O_DIRECT: a request whose buffers or lengths are not aligned to
 * BLK_DIO_ALIGN goes through an aligned bounce buffer (copied in before a
 * write, out after a read), so a guest is never failed for its alignment.
 * The guest chooses how long its requests are and how many are in flight,
 * so bounce memory is charged to a budget its owner (a device queue) keeps:
 * the owner holds back a request that does not fit what is left (it fits
 * once the requests in flight complete), and a request longer than the
 * whole budget goes through a buffer of BLK_BOUNCE_BUDGET bytes, a chunk at
 * a time, on the synchronous path. */
#ifndef RINGVM_BACKENDS_BLK_FILE_H
#define RINGVM_BACKENDS_BLK_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/err.h"
#include "util/event_loop.h"

/* Buffer and length alignment assumed for O_DIRECT (the logical block
 * size of practically every disk; requests are in 512-byte sectors). */
#define BLK_DIO_ALIGN 512

/* O_DIRECT bounce memory one queue may hold at once, whatever its guest
 * sends. Linux sends virtio-blk requests of at most max_sectors, 1280 KiB
 * by default, so three of those bounce side by side; a longer one (a guest
 * that raised max_sectors_kb) is moved through a buffer of this size. A
 * multiple of the page size, so every chunk is aligned for O_DIRECT. */
#define BLK_BOUNCE_BUDGET (4u << 20)

/* Bounce memory charged to one owner. `used` is touched only on the
 * thread that runs the owner's I/O; `peak` may be read from any thread. */
struct blk_bounce_budget {
	size_t used;                 /* bytes allocated now */
	atomic_size_t peak;          /* most bytes allocated at once */
};

struct blk_file {
	int fd;
	uint64_t size;          /* bytes (regular file or block device) */
	bool readonly;
	bool direct;
	dev_t dev;              /* identity of the image, for a serial */
	ino_t ino;
	uint32_t blksize;       /* preferred I/O size (st_blksize) */
};

/* Opens path read-write (or read-only) with optional O_DIRECT. Fails with
 * a clear message for a missing or unreadable file, an empty image, or a
 * file system without O_DIRECT. */
int blk_file_open(struct blk_file *f, const char *path, bool readonly,
		  bool direct, struct rv_err *err);
void blk_file_close(struct blk_file *f);

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,         /* punch holes; a hint, may do nothing */
	BLK_OP_WRITE_ZEROES,    /* ranges read back as zeroes afterwards */
};

struct blk_range {
	uint64_t off, len;      /* bytes, within the image */
	bool unmap;             /* WRITE_ZEROES: may deallocate (punch) */
};

/* One request. The owner fills the first part and keeps the struct (and
 * what iov/range point at) alive until the back end reports completion. */
struct blk_io {
	enum blk_op op;
	uint64_t off;                /* READ/WRITE: byte offset */
	struct iovec *iov;           /* READ/WRITE buffers */
	unsigned int iovcnt;
	size_t len;                  /* sum of iov lengths */
	const struct blk_range *range; /* DISCARD/WRITE_ZEROES */
	unsigned int nranges;
	/* READ/WRITE on an O_DIRECT file: where bounce memory is charged
	 * (required there; see blk_bounce_need). */
	struct blk_bounce_budget *budget;

	int res;                     /* on completion: 0 or -errno */

	/* Back end private. */
	void *bounce;                /* O_DIRECT bounce buffer, or NULL */
	struct iovec bounce_iov;     /* shorter than len: a chunk at a time */
	unsigned int pending;        /* io_uring operations in flight */
	bool sync_redo;              /* redo the ranges synchronously */
};

/* Synchronous back end: runs io to completion, sets io->res. Short
 * transfers are continued; EINTR is retried. A request longer than
 * BLK_BOUNCE_BUDGET that needs bouncing is read or written one
 * budget-sized chunk at a time. */
void blk_sync_exec(const struct blk_file *f, struct blk_io *io);

/* Bounce memory io would charge to io->budget: 0 when it needs none (not
 * O_DIRECT, not READ/WRITE, or aligned buffers), else its length, but at
 * most BLK_BOUNCE_BUDGET. The owner starts io only when this is at most
 * BLK_BOUNCE_BUDGET - budget->used, which always holds when nothing is in
 * flight. */
size_t blk_bounce_need(const struct blk_file *f, const struct blk_io *io);
/* True when io needs bouncing and is longer than BLK_BOUNCE_BUDGET: only
 * blk_sync_exec runs it (in chunks). */
bool blk_bounce_chunked(const struct blk_file *f, const struct blk_io *io);

/* Shared with the io_uring back end. */
/* Sets up io->bounce if O_DIRECT and io's buffers are unaligned (copying
 * the data in for a write, unless chunked), charging io->budget. Returns 0,
 * -ENOMEM (allocation failed, or the budget would be exceeded: the owner
 * should have waited) or -EINVAL (no budget given). */
int blk_bounce_prepare(const struct blk_file *f, struct blk_io *io);
/* After completion: copies a read's data out of the bounce buffer (unless
 * chunked: done chunk by chunk), frees it and returns it to the budget. */
void blk_bounce_finish(struct blk_io *io);
/* Effective buffers for I/O: the bounce buffer or io->iov. Not for a
 * chunked request. */
struct iovec *blk_io_iov(struct blk_io *io, unsigned int *iovcnt);
/* Continues a READ/WRITE synchronously from byte `done`. 0 or -errno. */
int blk_sync_rw_from(const struct blk_file *f, struct blk_io *io,
		     size_t done);
/* One DISCARD / WRITE_ZEROES range with every fallback. 0 or -errno. */
int blk_sync_range(const struct blk_file *f, enum blk_op op,
		   const struct blk_range *r);
/* fallocate mode for a range operation. */
int blk_range_mode(enum blk_op op, const struct blk_range *r);

/* io_uring back end. The ring's eventfd is watched by `loop`; completions
 * are reported on the loop's thread through done(ctx, io) for each request,
 * then batch_done(ctx) once per wake-up (the device's moment to send one
 * interrupt per queue). */
struct blk_uring;

struct blk_uring_cb {
	void (*done)(void *ctx, struct blk_io *io);
	void (*batch_done)(void *ctx);
	void *ctx;
};

/* NULL with err filled when io_uring cannot be used (ENOSYS, EPERM under
 * seccomp, ...): the caller falls back to blk_sync_exec. */
struct blk_uring *blk_uring_new(const struct blk_file *f, struct ev_loop *loop,
				unsigned int entries, struct blk_uring_cb cb,
				struct rv_err *err);
/* Stops watching the eventfd (waiting out a running handler), waits for
 * everything in flight (reporting it through done) and frees the ring. */
void blk_uring_free(struct blk_uring *u);
/* Prepares the SQEs of io (not yet submitted, unless the SQ is full). */
void blk_uring_queue(struct blk_uring *u, struct blk_io *io);
/* One io_uring_submit for everything queued; requests that completed
 * during it are reported (done) before it returns, without batch_done:
 * the caller is about to make its own interrupt decision. */
void blk_uring_submit(struct blk_uring *u);
/* On the loop's thread: waits until no request is in flight, reporting
 * each through done (then batch_done if any completed). */
void blk_uring_drain(struct blk_uring *u);
unsigned int blk_uring_inflight(const struct blk_uring *u);

#endif
