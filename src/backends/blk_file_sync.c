/* Raw image files: opening, O_DIRECT bounce buffers, and the synchronous
 * back end (preadv/pwritev/fdatasync/fallocate) that also serves as the
 * io_uring back end's fallback for the rare cases it cannot finish itself
 * (short transfers, fallocate modes the file system lacks). */
#include "backends/blk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYNC_IOV_WINDOW 64
#define ZERO_CHUNK 65536

/* Source for writing zeroes where fallocate cannot; aligned for O_DIRECT. */
static const uint8_t zero_chunk[ZERO_CHUNK] __attribute__((aligned(4096)));

int blk_file_open(struct blk_file *f, const char *path, bool readonly,
		  bool direct, struct rv_err *err)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (direct)
		flags |= O_DIRECT;
	f->fd = open(path, flags);
	if (f->fd < 0) {
		if (direct && errno == EINVAL)
			return rv_fail(err, "disk %s: the file system does not support O_DIRECT",
				       path);
		return rv_fail_errno(err, "cannot open disk image %s%s", path,
				     readonly ? "" : " for writing");
	}
	if (fstat(f->fd, &st) < 0) {
		rv_fail_errno(err, "cannot stat disk image %s", path);
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0) {
			rv_fail_errno(err, "cannot get the size of block device %s",
				      path);
			goto fail;
		}
	} else {
		rv_fail(err, "disk image %s is not a regular file or block device",
			path);
		goto fail;
	}
	if (f->size < 512) {
		rv_fail(err, "disk image %s is empty (smaller than one 512-byte sector)",
			path);
		goto fail;
	}
	f->readonly = readonly;
	f->direct = direct;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->blksize = st.st_blksize > 0 ? (uint32_t)st.st_blksize : 4096;
	return 0;
fail:
	close(f->fd);
	f->fd = -1;
	return -1;
}

void blk_file_close(struct blk_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static bool iov_aligned(const struct iovec *iov, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if ((uintptr_t)iov[i].iov_base % BLK_DIO_ALIGN ||
		    iov[i].iov_len % BLK_DIO_ALIGN)
			return false;
	return true;
}

static bool needs_bounce(const struct blk_file *f, const struct blk_io *io)
{
	return f->direct && (io->op == BLK_OP_READ || io->op == BLK_OP_WRITE) &&
	       !iov_aligned(io->iov, io->iovcnt);
}

size_t blk_bounce_need(const struct blk_file *f, const struct blk_io *io)
{
	if (!needs_bounce(f, io))
		return 0;
	return io->len < BLK_BOUNCE_BUDGET ? io->len : BLK_BOUNCE_BUDGET;
}

bool blk_bounce_chunked(const struct blk_file *f, const struct blk_io *io)
{
	return needs_bounce(f, io) && io->len > BLK_BOUNCE_BUDGET;
}

/* Copies n bytes between buf and io's buffers from byte `skip` of them. */
static void copy_iov(const struct blk_io *io, size_t skip, void *buf,
		     size_t n, bool to_iov)
{
	uint8_t *p = buf;

	for (unsigned int i = 0; i < io->iovcnt && n; i++) {
		size_t len = io->iov[i].iov_len;
		uint8_t *base = io->iov[i].iov_base;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len -= skip;
		if (len > n)
			len = n;
		if (to_iov)
			memcpy(base + skip, p, len);
		else
			memcpy(p, base + skip, len);
		p += len;
		n -= len;
		skip = 0;
	}
}

int blk_bounce_prepare(const struct blk_file *f, struct blk_io *io)
{
	size_t need = blk_bounce_need(f, io);
	struct blk_bounce_budget *bb = io->budget;
	void *buf;

	io->bounce = NULL;
	if (!need)
		return 0;
	if (!bb)
		return -EINVAL;
	if (need > BLK_BOUNCE_BUDGET - bb->used)
		return -ENOMEM;
	if (posix_memalign(&buf, 4096, need) != 0)
		return -ENOMEM;
	bb->used += need;
	if (bb->used > atomic_load_explicit(&bb->peak, memory_order_relaxed))
		atomic_store_explicit(&bb->peak, bb->used,
				      memory_order_relaxed);
	/* A chunked request is copied a chunk at a time instead. */
	if (io->op == BLK_OP_WRITE && need == io->len)
		copy_iov(io, 0, buf, io->len, false);
	io->bounce = buf;
	io->bounce_iov = (struct iovec){ .iov_base = buf, .iov_len = need };
	return 0;
}

void blk_bounce_finish(struct blk_io *io)
{
	if (!io->bounce)
		return;
	if (io->op == BLK_OP_READ && io->res == 0 &&
	    io->bounce_iov.iov_len == io->len)
		copy_iov(io, 0, io->bounce, io->len, true);
	free(io->bounce);
	io->budget->used -= io->bounce_iov.iov_len;
	io->bounce = NULL;
}

struct iovec *blk_io_iov(struct blk_io *io, unsigned int *iovcnt)
{
	if (io->bounce) {
		*iovcnt = 1;
		return &io->bounce_iov;
	}
	*iovcnt = io->iovcnt;
	return io->iov;
}

int blk_sync_rw_from(const struct blk_file *f, struct blk_io *io, size_t done)
{
	unsigned int cnt;
	const struct iovec *iov = blk_io_iov(io, &cnt);
	size_t pos = done;

	while (pos < io->len) {
		struct iovec win[SYNC_IOV_WINDOW];
		unsigned int n = 0;
		size_t skip = pos;
		ssize_t r;

		/* The part of the buffers not transferred yet, a window at a
		 * time (the iovec array itself belongs to the caller). */
		for (unsigned int i = 0; i < cnt && n < SYNC_IOV_WINDOW; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			win[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
			win[n].iov_len = iov[i].iov_len - skip;
			skip = 0;
			n++;
		}
		if (io->op == BLK_OP_WRITE)
			r = pwritev(f->fd, win, (int)n, (off_t)(io->off + pos));
		else
			r = preadv(f->fd, win, (int)n, (off_t)(io->off + pos));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* the image shrank under us */
		pos += (size_t)r;
	}
	return 0;
}

/* A request longer than its bounce buffer, one buffer-full at a time:
 * each chunk is a multiple of BLK_DIO_ALIGN at an aligned offset, as the
 * request's length and offset are. */
static int rw_chunked(const struct blk_file *f, struct blk_io *io)
{
	size_t chunk = io->bounce_iov.iov_len;

	for (size_t pos = 0; pos < io->len; pos += chunk) {
		size_t n = io->len - pos < chunk ? io->len - pos : chunk;
		struct iovec one = { .iov_base = io->bounce, .iov_len = n };
		struct blk_io sub = {
			.op = io->op, .off = io->off + pos,
			.iov = &one, .iovcnt = 1, .len = n,
		};
		int rc;

		if (io->op == BLK_OP_WRITE)
			copy_iov(io, pos, io->bounce, n, false);
		rc = blk_sync_rw_from(f, &sub, 0);
		if (rc)
			return rc;
		if (io->op == BLK_OP_READ)
			copy_iov(io, pos, io->bounce, n, true);
	}
	return 0;
}

int blk_range_mode(enum blk_op op, const struct blk_range *r)
{
	if (op == BLK_OP_DISCARD || r->unmap)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

static int try_fallocate(int fd, int mode, const struct blk_range *r)
{
	while (fallocate(fd, mode, (off_t)r->off, (off_t)r->len) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int write_zeroes(int fd, const struct blk_range *r)
{
	uint64_t pos = 0;

	while (pos < r->len) {
		size_t n = r->len - pos < ZERO_CHUNK ? (size_t)(r->len - pos)
						     : ZERO_CHUNK;
		ssize_t w = pwrite(fd, zero_chunk, n, (off_t)(r->off + pos));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		pos += (uint64_t)w;
	}
	return 0;
}

static bool unsupported(int rc)
{
	return rc == -EOPNOTSUPP || rc == -ENOSYS || rc == -EINVAL;
}

int blk_sync_range(const struct blk_file *f, enum blk_op op,
		   const struct blk_range *r)
{
	int rc = try_fallocate(f->fd, blk_range_mode(op, r), r);

	if (rc == 0 || !unsupported(rc))
		return rc;
	/* Discard is a hint: a file system without holes simply keeps the
	 * blocks. */
	if (op == BLK_OP_DISCARD)
		return 0;
	/* Write zeroes must zero: punching failed, try zeroing in place,
	 * then plain writes. */
	if (r->unmap) {
		rc = try_fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				   r);
		if (rc == 0 || !unsupported(rc))
			return rc;
	}
	return write_zeroes(f->fd, r);
}

void blk_sync_exec(const struct blk_file *f, struct blk_io *io)
{
	io->res = blk_bounce_prepare(f, io);
	if (io->res)
		return;
	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (io->bounce && io->bounce_iov.iov_len < io->len)
			io->res = rw_chunked(f, io);
		else
			io->res = blk_sync_rw_from(f, io, 0);
		break;
	case BLK_OP_FLUSH:
		do {
			io->res = fdatasync(f->fd) < 0 ? -errno : 0;
		} while (io->res == -EINTR);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		for (unsigned int i = 0; i < io->nranges && !io->res; i++)
			io->res = blk_sync_range(f, io->op, &io->range[i]);
		break;
	default:
		io->res = -EINVAL;
		break;
	}
	blk_bounce_finish(io);
}
