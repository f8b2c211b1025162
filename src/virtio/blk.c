/* virtio-blk device: configuration space, features, lifecycle and the I/O
 * path. Each device has its own I/O thread ("blkN"): a queue's kick eventfd
 * wakes it, it takes every available chain, hands the whole batch to the
 * back end (one io_uring_submit), and after the completions of a wake-up
 * sends at most one interrupt per queue. Queue state is only touched on
 * that thread; activate/reset (vCPU threads) hand over through ev_loop.
 * A queue stops taking chains when it runs out of slots or of O_DIRECT
 * bounce memory (BLK_BOUNCE_BUDGET), and completions resume it. */
#include "virtio/blk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backends/blk_file.h"
#include "util/event_loop.h"
#include "util/le.h"
#include "virtio/blk_req.h"
#include "virtio/virtio_dev_common.h"

#define BLK_DEFAULT_QUEUE_SIZE 256
/* In-flight requests per queue: more than enough to keep a file busy;
 * beyond it the queue waits for completions before taking more. */
#define BLK_MAX_INFLIGHT 256
/* Segments per chain: preadv/pwritev and io_uring take at most IOV_MAX
 * (1024) buffers per call. */
#define BLK_MAX_SEGS 1024
#define BLK_URING_ENTRIES 256
/* Largest discard / write-zeroes segment: 2 GiB, well inside off_t. */
#define BLK_MAX_RANGE_SECTORS (1u << 22)

struct blk_slot {
	struct blk_queue *q;
	struct virtq_chain chain;
	struct blk_req req;
	struct blk_io io;
	struct blk_slot *next_free;
};

struct blk_queue {
	struct virtio_blk *b;
	unsigned int idx;
	struct virtq *vq;
	int kick_fd;
	bool live;          /* between activate and reset */
	bool broken;        /* ring corrupt: waits for a reset */
	bool starved;       /* stopped taking chains: no free slot, or not
			     * enough bounce memory (bounce_want) */
	bool pushed;        /* used entries since the last interrupt check */
	struct blk_slot *slots;
	struct iovec *iovs;
	struct blk_slot *free;
	/* O_DIRECT bounce memory of the requests in flight, at most
	 * BLK_BOUNCE_BUDGET; what the chain given back last needs. */
	struct blk_bounce_budget bounce;
	size_t bounce_want;
	atomic_uint_fast64_t requests;  /* taken from this queue */
};

struct blk_stats {
	atomic_uint_fast64_t requests, read_bytes, written_bytes, flushes,
			     discards, write_zeroes, kicks, irqs, errors,
			     bad_chains, bounce_waits;
};

struct virtio_blk {
	struct virtio_pci t;            /* unused when served (no PCI) */
	bool served;                    /* queues served for a vhost-user
					 * frontend, not by t */
	struct virtio_queue_host host;
	struct blk_file file;
	const struct guest_mem *mem;
	struct ev_loop *loop;
	struct blk_uring *uring;        /* NULL: synchronous back end */
	struct rv_err why_sync;      /* why the back end is synchronous */
	unsigned int nqueues;
	uint16_t queue_max;
	bool paused;                    /* I/O thread: take no new chains */
	uint64_t features;              /* negotiated */
	struct blk_req_limits lim;
	uint8_t config[VIRTIO_BLK_CFG_LEN];
	char serial[VIRTIO_BLK_ID_BYTES];
	struct blk_queue q[VIRTIO_PCI_MAX_QUEUES];
	struct blk_stats stats;
};

static void count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- completion and interrupts (I/O thread) ---- */

static void notify(struct blk_queue *q)
{
	if (!q->pushed)
		return;
	q->pushed = false;
	if (virtq_should_notify(q->vq)) {
		q->b->host.queue_irq(q->b->host.ctx, q->idx);
		count(&q->b->stats.irqs, 1);
	}
}

/* Reports status and returns the slot. After a reset (queue no longer
 * live) the guest's memory and rings are not touched. */
static void finish(struct blk_queue *q, struct blk_slot *s, uint8_t status)
{
	if (status != VIRTIO_BLK_S_OK)
		count(&q->b->stats.errors, 1);
	if (q->live) {
		if (s->req.status)
			*s->req.status = status;
		virtq_push(q->vq, s->chain.head,
			   blk_req_used_len(&s->req, status));
		q->pushed = true;
	}
	s->next_free = q->free;
	q->free = s;
}

static void io_done(void *ctx, struct blk_io *io)
{
	struct blk_slot *s = (struct blk_slot *)((uint8_t *)io -
						 offsetof(struct blk_slot, io));
	struct blk_stats *st = &s->q->b->stats;

	(void)ctx;
	if (io->res == 0 && io->op == BLK_OP_READ)
		count(&st->read_bytes, io->len);
	if (io->res == 0 && io->op == BLK_OP_WRITE)
		count(&st->written_bytes, io->len);
	finish(s->q, s, io->res == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

static void process_queue(struct blk_queue *q);

/* A starved queue may take chains again: a slot is free, and the chain
 * it gave back fits the bounce memory left. Never stuck: it waited only
 * while requests were in flight, and with none the whole budget is free. */
static bool can_take(const struct blk_queue *q)
{
	return q->free &&
	       q->bounce_want <= BLK_BOUNCE_BUDGET - q->bounce.used;
}

/* After the completions of one wake-up: one interrupt check per queue,
 * and queues that ran out of slots or bounce memory resume. */
static void batch_done(void *ctx)
{
	struct virtio_blk *b = ctx;

	for (unsigned int i = 0; i < b->nqueues; i++) {
		struct blk_queue *q = &b->q[i];

		if (!q->live)
			continue;
		if (q->starved && can_take(q) && !b->paused) {
			q->starved = false;
			q->bounce_want = 0;
			process_queue(q);
		} else {
			notify(q);
		}
	}
}

/* ---- requests (I/O thread) ---- */

static bool is_transfer(const struct blk_req *r)
{
	return (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) &&
	       r->data_len > 0;
}

/* Starts the request in s (taken from the free list). Returns false,
 * having done nothing, when it needs more O_DIRECT bounce memory than the
 * queue's requests in flight leave: the caller gives the chain back. */
static bool start(struct blk_queue *q, struct blk_slot *s)
{
	struct virtio_blk *b = q->b;
	struct blk_req *r = &s->req;
	struct blk_io *io = &s->io;
	uint8_t status = blk_req_parse(&s->chain, &b->lim, r);

	memset(io, 0, sizeof(*io));
	if (status == VIRTIO_BLK_S_OK && is_transfer(r)) {
		size_t need;

		io->op = r->type == VIRTIO_BLK_T_IN ? BLK_OP_READ
						     : BLK_OP_WRITE;
		io->off = r->sector << VIRTIO_BLK_SECTOR_SHIFT;
		io->iov = r->data;
		io->iovcnt = r->ndata;
		io->len = r->data_len;
		io->budget = &q->bounce;
		need = blk_bounce_need(&b->file, io);
		if (need > BLK_BOUNCE_BUDGET - q->bounce.used) {
			q->bounce_want = need;
			return false;
		}
	}
	count(&b->stats.requests, 1);
	count(&q->requests, 1);
	if (status != VIRTIO_BLK_S_OK) {
		finish(q, s, status);
		return true;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_GET_ID:
		blk_req_write_id(r, b->serial);
		finish(q, s, VIRTIO_BLK_S_OK);
		return true;
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (r->data_len == 0) {
			finish(q, s, VIRTIO_BLK_S_OK);
			return true;
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		io->op = BLK_OP_FLUSH;
		count(&b->stats.flushes, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		io->op = r->type == VIRTIO_BLK_T_DISCARD ? BLK_OP_DISCARD
							 : BLK_OP_WRITE_ZEROES;
		io->range = r->range;
		io->nranges = r->nranges;
		count(io->op == BLK_OP_DISCARD ? &b->stats.discards
					       : &b->stats.write_zeroes, 1);
		break;
	default:   /* blk_req_parse accepts nothing else */
		finish(q, s, VIRTIO_BLK_S_UNSUPP);
		return true;
	}
	if (b->uring) {
		blk_uring_queue(b->uring, io);
	} else {
		blk_sync_exec(&b->file, io);
		io_done(b, io);
	}
	return true;
}

/* The queue waits for a reset (DEVICE_NEEDS_RESET, virtio 1.2, 2.1.2).
 * Returns false, for take_chains. */
static bool queue_break(struct blk_queue *q)
{
	q->broken = true;
	q->b->host.needs_reset(q->b->host.ctx);
	return false;
}

/* Takes chains while there are free slots. Returns false once the queue
 * is empty, broken, out of slots or out of bounce memory. A chain that
 * cannot be answered (the virtqueue refuses it, or it has no writable
 * byte for the status) breaks the queue: completing it would leave the
 * driver reading a status byte the device never wrote, which a driver
 * may well take for success. */
static bool take_chains(struct blk_queue *q)
{
	struct virtio_blk *b = q->b;

	while (q->free) {
		struct blk_slot *s = q->free;

		switch (virtq_pop(q->vq, &s->chain)) {
		case VIRTQ_EMPTY:
			return true;
		case VIRTQ_BROKEN:
			return queue_break(q);
		case VIRTQ_BAD_CHAIN:
			count(&b->stats.bad_chains, 1);
			return queue_break(q);
		case VIRTQ_OK:
			if (s->chain.in_len == 0) {
				count(&b->stats.bad_chains, 1);
				virtq_unpop(q->vq, 1);
				return queue_break(q);
			}
			q->free = s->next_free;
			if (start(q, s))
				continue;
			/* Untouched: back to the ring (the state stays all in
			 * its indices), taken again once completions return
			 * bounce memory. */
			virtq_unpop(q->vq, 1);
			s->next_free = q->free;
			q->free = s;
			count(&b->stats.bounce_waits, 1);
			q->starved = true;
			return false;
		}
	}
	q->starved = true;
	return false;
}

static void process_queue(struct blk_queue *q)
{
	struct virtio_blk *b = q->b;

	while (q->live && !q->broken && !b->paused) {
		bool more;

		virtq_disable_notify(q->vq);
		more = take_chains(q);
		if (b->uring)
			blk_uring_submit(b->uring);
		if (q->starved) {
			/* Submitting may have completed some already. */
			if (can_take(q)) {
				q->starved = false;
				q->bounce_want = 0;
				continue;
			}
			/* Notifications stay off: completions resume us. */
			break;
		}
		if (!more || !virtq_enable_notify(q->vq))
			break;
	}
	notify(q);
}

static void on_kick(void *opaque, uint32_t events)
{
	struct blk_queue *q = opaque;

	(void)events;
	/* The eventfd's count: every notification, however many one wakeup
	 * drained (the other devices count the same way). */
	count(&q->b->stats.kicks, virtio_dev_drain(q->kick_fd));
	process_queue(q);
}

/* ---- virtio_dev_ops ---- */

static void blk_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct virtio_blk *b = dev;

	if (off <= VIRTIO_BLK_CFG_LEN && len <= VIRTIO_BLK_CFG_LEN - off)
		memcpy(data, b->config + off, len);
	else
		memset(data, 0, len);
}

static int blk_set_features(void *dev, uint64_t features)
{
	struct virtio_blk *b = dev;

	b->features = features;
	b->lim.discard = features & (1ULL << VIRTIO_BLK_F_DISCARD);
	b->lim.write_zeroes = features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	return 0;
}

static void queue_free(struct blk_queue *q)
{
	free(q->slots);
	free(q->iovs);
	q->slots = NULL;
	q->iovs = NULL;
	q->free = NULL;
	q->vq = NULL;
	q->live = q->broken = q->starved = q->pushed = false;
	q->bounce_want = 0;
}

static int queue_setup(struct virtio_blk *b, struct blk_queue *q,
		       struct virtq *vq)
{
	unsigned int nslots = vq->size < BLK_MAX_INFLIGHT ? vq->size
							  : BLK_MAX_INFLIGHT;
	unsigned int cap = vq->size < BLK_MAX_SEGS ? vq->size : BLK_MAX_SEGS;

	q->slots = calloc(nslots, sizeof(*q->slots));
	q->iovs = calloc((size_t)nslots * cap, sizeof(*q->iovs));
	if (!q->slots || !q->iovs) {
		queue_free(q);
		return -1;
	}
	for (unsigned int i = 0; i < nslots; i++) {
		struct blk_slot *s = &q->slots[i];

		s->q = q;
		s->chain.iov = q->iovs + (size_t)i * cap;
		s->chain.iov_cap = cap;
		s->next_free = i + 1 < nslots ? &q->slots[i + 1] : NULL;
	}
	q->free = q->slots;
	q->vq = vq;
	q->kick_fd = b->host.kick_fd(b->host.ctx, q->idx);
	q->live = true;
	return 0;
}

/* On the I/O thread: stop the queues, wait for the back end, forget. */
static void teardown(void *opaque)
{
	struct virtio_blk *b = opaque;

	for (unsigned int i = 0; i < b->nqueues; i++) {
		if (b->q[i].live)
			ev_loop_del(b->loop, b->q[i].kick_fd);
		/* Completions from now on only return their slots. */
		b->q[i].live = false;
	}
	if (b->uring)
		blk_uring_drain(b->uring);
	for (unsigned int i = 0; i < b->nqueues; i++)
		queue_free(&b->q[i]);
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	ev_loop_call(b->loop, teardown, b);
}

static int blk_activate(void *dev)
{
	struct virtio_blk *b = dev;
	struct rv_err err;

	for (unsigned int i = 0; i < b->nqueues; i++) {
		struct virtq *vq = b->host.vq(b->host.ctx, i);

		if (vq && queue_setup(b, &b->q[i], vq) < 0)
			goto fail;
	}
	for (unsigned int i = 0; i < b->nqueues; i++) {
		struct blk_queue *q = &b->q[i];

		if (!q->live)
			continue;
		/* Pending kicks (the counter is non-zero) fire at once. */
		if (ev_loop_add(b->loop, q->kick_fd, EPOLLIN, on_kick, q,
				&err) < 0) {
			fprintf(stderr, "ringvm: virtio-blk: %s\n", err.msg);
			goto fail;
		}
	}
	return 0;
fail:
	ev_loop_call(b->loop, teardown, b);
	return -1;
}

/* On the I/O thread: stop taking chains, finish what is in flight (each
 * completion lands in the used ring, with its interrupt). */
static void quiesce(void *opaque)
{
	struct virtio_blk *b = opaque;

	b->paused = true;
	if (b->uring)
		blk_uring_drain(b->uring);
	for (unsigned int i = 0; i < b->nqueues; i++)
		if (b->q[i].live)
			notify(&b->q[i]);
}

static void unquiesce(void *opaque)
{
	((struct virtio_blk *)opaque)->paused = false;
}

static void blk_pause(void *dev)
{
	struct virtio_blk *b = dev;

	ev_loop_call(b->loop, quiesce, b);
	ev_loop_pause(b->loop);
}

static void blk_resume(void *dev)
{
	struct virtio_blk *b = dev;

	ev_loop_call(b->loop, unquiesce, b);
	ev_loop_resume(b->loop);
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = blk_config_read,
	.config_write = NULL,
	.set_features = blk_set_features,
	.activate = blk_activate,
	.reset = blk_reset,
	.pause = blk_pause,
	.resume = blk_resume,
};

/* ---- construction ---- */

static unsigned int log2u(uint32_t v)
{
	unsigned int n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static void build_config(struct virtio_blk *b, uint16_t queue_size,
			 uint64_t *features)
{
	uint8_t *c = b->config;
	uint32_t segs = queue_size < BLK_MAX_SEGS ? queue_size : BLK_MAX_SEGS;
	uint32_t phys = b->file.blksize;
	uint32_t align;

	/* A physical block of 512 bytes to 64 KiB, else plain sectors. */
	if (phys < 512 || phys > 65536 || (phys & (phys - 1)))
		phys = 512;
	align = phys / VIRTIO_BLK_SECTOR_SIZE;

	*features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		    1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_TOPOLOGY;
	if (b->nqueues > 1)
		*features |= 1ULL << VIRTIO_BLK_F_MQ;
	if (b->file.readonly)
		*features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		*features |= 1ULL << VIRTIO_BLK_F_DISCARD |
			     1ULL << VIRTIO_BLK_F_WRITE_ZEROES;

	memset(c, 0, VIRTIO_BLK_CFG_LEN);
	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, b->lim.capacity);
	/* No SIZE_MAX: it bounds one segment, not a request (seg_max of them),
	 * so keeping requests within the bounce budget would take segments of
	 * about 4 KiB, shrinking every request below Linux's 1280 KiB default
	 * and slowing the aligned ones that never bounce, while a hostile
	 * guest ignores it anyway. The budget holds without it. */
	/* Header and status take two descriptors of a chain. */
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, segs > 2 ? segs - 2 : 1);
	put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE);
	c[VIRTIO_BLK_CFG_PHYS_BLOCK_EXP] = (uint8_t)log2u(align);
	put_le16(c + VIRTIO_BLK_CFG_MIN_IO_SIZE, align);
	put_le32(c + VIRTIO_BLK_CFG_OPT_IO_SIZE, 0);
	put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, b->nqueues);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, b->lim.max_discard_sectors);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, b->lim.max_discard_seg);
	put_le32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, align);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, b->lim.max_write_zeroes_sectors);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, b->lim.max_write_zeroes_seg);
	c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;   /* we punch holes on request */
}

/* 20 bytes naming the image file, so a guest sees a stable
 * /dev/disk/by-id name for the same file. */
static void make_serial(struct virtio_blk *b)
{
	char s[VIRTIO_BLK_ID_BYTES + 1];

	snprintf(s, sizeof(s), "rv%" PRIx64 "-%" PRIx64,
		 (uint64_t)b->file.dev, (uint64_t)b->file.ino);
	memset(b->serial, 0, sizeof(b->serial));
	memcpy(b->serial, s, strlen(s));
}

/* The device without its transport: image, limits, I/O thread, back end,
 * configuration space and features. */
static struct virtio_blk *blk_create(const struct virtio_blk_opts *o,
				     const struct guest_mem *mem,
				     uint64_t *features, struct rv_err *err)
{
	unsigned int nq = o->nqueues ? o->nqueues : 1;
	uint16_t qsize = o->queue_size ? o->queue_size : BLK_DEFAULT_QUEUE_SIZE;
	struct virtio_blk *b;
	char name[16];

	if (!o->path || !*o->path) {
		rv_fail(err, "virtio-blk: no disk image given");
		return NULL;
	}
	if (nq > VIRTIO_PCI_MAX_QUEUES) {
		rv_fail(err, "disk %s: %u queues (at most %d)", o->path, nq,
			VIRTIO_PCI_MAX_QUEUES);
		return NULL;
	}
	if (qsize & (qsize - 1)) {
		rv_fail(err, "disk %s: queue size %u is not a power of two",
			o->path, qsize);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		rv_fail(err, "out of memory for disk %s", o->path);
		return NULL;
	}
	if (blk_file_open(&b->file, o->path, o->readonly, o->direct, err) < 0) {
		free(b);
		return NULL;
	}
	b->mem = mem;
	b->nqueues = nq;
	b->queue_max = qsize;
	for (unsigned int i = 0; i < nq; i++) {
		b->q[i].b = b;
		b->q[i].idx = i;
		b->q[i].kick_fd = -1;
	}
	b->lim = (struct blk_req_limits){
		.capacity = b->file.size >> VIRTIO_BLK_SECTOR_SHIFT,
		.readonly = o->readonly,
		.max_discard_sectors = BLK_MAX_RANGE_SECTORS,
		.max_discard_seg = BLK_REQ_MAX_RANGES,
		.max_write_zeroes_sectors = BLK_MAX_RANGE_SECTORS,
		.max_write_zeroes_seg = BLK_REQ_MAX_RANGES,
	};
	make_serial(b);

	snprintf(name, sizeof(name), "blk%u", o->index);
	b->loop = ev_loop_new(name, err);
	if (!b->loop)
		goto fail_file;
	if (ev_loop_start(b->loop, err) < 0)
		goto fail_loop;
	if (o->force_sync) {
		rv_fail(&b->why_sync, "synchronous I/O requested");
	} else {
		struct blk_uring_cb cb = { io_done, batch_done, b };

		b->uring = blk_uring_new(&b->file, b->loop, BLK_URING_ENTRIES,
					 cb, &b->why_sync);
		/* Never silent: the synchronous path is much slower. */
		if (!b->uring)
			fprintf(stderr, "ringvm: warning: disk %s: io_uring unavailable (%s); using preadv/pwritev\n",
				o->path, b->why_sync.msg);
	}
	build_config(b, qsize, features);
	return b;

fail_loop:
	ev_loop_free(b->loop);
fail_file:
	blk_file_close(&b->file);
	free(b);
	return NULL;
}

static void blk_destroy(struct virtio_blk *b)
{
	blk_uring_free(b->uring);
	ev_loop_free(b->loop);
	blk_file_close(&b->file);
	free(b);
}

struct virtio_blk *virtio_blk_new(const struct virtio_blk_opts *o,
				  const struct guest_mem *mem,
				  struct msix_sink sink, struct rv_err *err)
{
	struct virtio_pci_config cfg = {
		.device_type = VIRTIO_ID_BLOCK,
		.class_code = 0x018000,         /* mass storage, other */
		.config_len = VIRTIO_BLK_CFG_LEN,
		.ops = &blk_ops,
		.mem = mem,
		.sink = sink,
	};
	struct virtio_blk *b = blk_create(o, mem, &cfg.features, err);

	if (!b)
		return NULL;
	cfg.nqueues = b->nqueues;
	cfg.queue_max = b->queue_max;
	cfg.dev = b;
	if (virtio_pci_init(&b->t, &cfg, err) < 0) {
		blk_destroy(b);
		return NULL;
	}
	b->host = virtio_pci_queue_host(&b->t);
	return b;
}

struct virtio_blk *virtio_blk_new_served(const struct virtio_blk_opts *o,
					 const struct guest_mem *mem,
					 struct virtio_queue_host host,
					 struct virtio_served_dev *model,
					 struct rv_err *err)
{
	struct virtio_blk *b = blk_create(o, mem, &model->features, err);

	if (!b)
		return NULL;
	b->served = true;
	b->host = host;
	model->device_type = VIRTIO_ID_BLOCK;
	model->nqueues = b->nqueues;
	model->min_queues = 1;
	model->queue_max = b->queue_max;
	model->config_len = VIRTIO_BLK_CFG_LEN;
	model->ops = &blk_ops;
	model->dev = b;
	return b;
}

void virtio_blk_free(struct virtio_blk *b)
{
	if (!b)
		return;
	if (!b->served)
		virtio_pci_destroy(&b->t);      /* resets an active device */
	blk_destroy(b);
}

struct virtio_pci *virtio_blk_transport(struct virtio_blk *b)
{
	return b->served ? NULL : &b->t;
}

struct ev_loop *virtio_blk_loop(struct virtio_blk *b)
{
	return b->loop;
}

bool virtio_blk_uses_uring(const struct virtio_blk *b)
{
	return b->uring != NULL;
}

const char *virtio_blk_why_sync(const struct virtio_blk *b)
{
	return b->uring ? "" : b->why_sync.msg;
}

void virtio_blk_print_stats(struct virtio_blk *b, const char *prefix,
			    FILE *out)
{
	const struct blk_stats *s = &b->stats;
	const struct virtio_dev_stat rows[] = {
		{ "requests", &s->requests, "count" },
		{ "read_bytes", &s->read_bytes, "bytes" },
		{ "written_bytes", &s->written_bytes, "bytes" },
		{ "flushes", &s->flushes, "count" },
		{ "discards", &s->discards, "count" },
		{ "write_zeroes", &s->write_zeroes, "count" },
		{ "kicks", &s->kicks, "count" },
		{ "interrupts", &s->irqs, "count" },
		{ "errors", &s->errors, "count" },
		{ "bad_chains", &s->bad_chains, "count" },
		{ "bounce_waits", &s->bounce_waits, "count" },
	};
	size_t bounce_peak = 0;

	virtio_dev_print_stats(out, prefix, rows,
			       sizeof(rows) / sizeof(rows[0]));
	if (!b->served)
		fprintf(out, "%s_mmio_kicks %" PRIu64 " count\n", prefix,
			(uint64_t)atomic_load(&b->t.stats.mmio_kicks));
	for (unsigned int i = 0; i < b->nqueues; i++) {
		size_t p = atomic_load(&b->q[i].bounce.peak);

		fprintf(out, "%s_q%u_requests %" PRIu64 " count\n", prefix, i,
			(uint64_t)atomic_load(&b->q[i].requests));
		bounce_peak = p > bounce_peak ? p : bounce_peak;
	}
	/* The most O_DIRECT bounce memory one queue held at once (never
	 * above BLK_BOUNCE_BUDGET). */
	fprintf(out, "%s_bounce_bytes_peak %zu bytes\n", prefix, bounce_peak);
	/* 1: io_uring, 0: the preadv/pwritev back end. */
	fprintf(out, "%s_io_uring %d flag\n", prefix, b->uring != NULL);
}

/* ---- snapshot ---- */

#define BLK_SECTION_VERSION 1

void virtio_blk_save(struct virtio_blk *b, struct state_writer *w,
		     const char *name)
{
	char sec[STATE_NAME_MAX + 1];

	snprintf(sec, sizeof(sec), "%s.blk", name);
	state_begin(w, sec, BLK_SECTION_VERSION);
	state_put_u64(w, b->lim.capacity);
	state_put_bool(w, b->lim.readonly);
	state_put_u32(w, b->nqueues);
	state_end(w);
	virtio_pci_save(&b->t, w, name);
}

int virtio_blk_load(struct virtio_blk *b, const struct state_reader *r,
		    const char *name, struct rv_err *err)
{
	char sec[STATE_NAME_MAX + 1];
	struct state_cursor c;
	uint64_t cap;

	snprintf(sec, sizeof(sec), "%s.blk", name);
	if (state_section(r, sec, BLK_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	cap = state_get_u64(&c);
	if (state_get_bool(&c) != b->lim.readonly)
		state_cursor_reject(&c, "read-only in one, writable in the other");
	if (state_get_u32(&c) != b->nqueues)
		state_cursor_reject(&c, "another number of queues");
	if (state_cursor_finish(&c, err) < 0)
		return -1;
	/* The guest knows the disk's size: a different image is not it. */
	if (cap != b->lim.capacity)
		return rv_fail(err, "%s: the disk image now has %llu sectors, the guest saw %llu",
			       name, (unsigned long long)b->lim.capacity,
			       (unsigned long long)cap);
	return virtio_pci_load(&b->t, r, name, err);
}
