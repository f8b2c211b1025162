/* vhost-user back end: see vhost_user_backend.h.
 *
 * A queue is served while it is started (a kick fd arrived and no
 * GET_VRING_BASE stopped it since), enabled (SET_VRING_ENABLE, or at once
 * without VHOST_USER_F_PROTOCOL_FEATURES), sized and addressed, and guest
 * RAM is mapped. Any change to that set, to guest RAM or to a queue's
 * eventfds restarts the device: pause (every request in flight
 * completes), remember where each queue stopped, reset, and activate it
 * again on the queues now ready. Frontends change these while setting a
 * device up or tearing it down, not on the data path, and a restart that
 * always drains keeps the I/O thread from ever seeing an fd or a mapping
 * change under it. */
#include "vhost/vhost_user_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost/vhost_user.h"
#include "virtio/virtio_dev_stats.h"
#include "virtio/virtqueue.h"

#define VHU_MAX_QUEUES 64

/* What this back end implements of the protocol. */
#define SUPPORTED_PROTOCOL                                                    \
	(1ULL << VHU_PROTOCOL_F_MQ | 1ULL << VHU_PROTOCOL_F_REPLY_ACK |       \
	 1ULL << VHU_PROTOCOL_F_CONFIG | 1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD | \
	 1ULL << VHU_PROTOCOL_F_BACKEND_REQ)

struct vhu_queue {
	uint16_t num;              /* 0: not sized yet */
	bool addr_set;
	struct vhu_vring_addr addr;
	uint16_t base;             /* next available entry, when (re)started */
	int kick_fd, call_fd, err_fd;
	bool started;
	bool enabled;
	bool live;                 /* in the current activation */
	struct virtq vq;
};

struct vhu_backend {
	char name[64];
	struct guest_mem mem;
	struct vhu_mem_region table[VHU_MAX_MEM_REGIONS];
	unsigned int ntable;
	struct virtio_served_dev dev;
	bool has_dev;
	uint64_t offered;          /* virtio features incl. vhost-user's */
	uint64_t acked;
	bool features_set;
	uint64_t protocol;         /* negotiated protocol features */
	bool active;               /* dev.ops->activate succeeded */
	/* In-flight tracking memory (GET/SET_INFLIGHT_FD), one region of
	 * virtq_inflight_bytes(inflight_qsize) per queue, kept by the
	 * frontend across our death. */
	/* The channel for requests to the frontend (SET_BACKEND_REQ_FD).
	 * Nothing is sent on it yet; it is taken because UML's frontend
	 * sets its queues' interrupts up only when it was. */
	int backend_req_fd;
	uint8_t *inflight;
	size_t inflight_len;
	unsigned int inflight_nq;
	uint16_t inflight_qsize;
	struct vhu_queue q[VHU_MAX_QUEUES];
	atomic_uint_fast64_t connections, messages, refused, restarts, irqs;
};

static void count(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void queue_forget(struct vhu_queue *q)
{
	close_fd(&q->kick_fd);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = q->err_fd = -1;
}

/* ---- the device's queue host (I/O thread; fds change only while the
 * device is stopped) ---- */

static struct virtq *host_vq(void *ctx, unsigned int i)
{
	struct vhu_backend *be = ctx;

	return i < VHU_MAX_QUEUES && be->q[i].live ? &be->q[i].vq : NULL;
}

static int host_kick_fd(void *ctx, unsigned int i)
{
	struct vhu_backend *be = ctx;

	return i < VHU_MAX_QUEUES ? be->q[i].kick_fd : -1;
}

static void signal_fd(int fd)
{
	if (fd >= 0 && eventfd_write(fd, 1) < 0 && errno != EAGAIN)
		fprintf(stderr, "ringvm backend: signalling the frontend: %s\n",
			strerror(errno));
}

static void host_queue_irq(void *ctx, unsigned int i)
{
	struct vhu_backend *be = ctx;

	if (i < VHU_MAX_QUEUES) {
		signal_fd(be->q[i].call_fd);
		count(&be->irqs);
	}
}

static void host_needs_reset(void *ctx)
{
	struct vhu_backend *be = ctx;

	fprintf(stderr, "ringvm backend: %s: the driver broke a queue; it stays stopped until the device is reset\n",
		be->name);
	for (unsigned int i = 0; i < VHU_MAX_QUEUES; i++)
		signal_fd(be->q[i].err_fd);
}

/* ---- starting and stopping the device ---- */

static void stop_device(struct vhu_backend *be)
{
	const struct virtio_dev_ops *ops = be->dev.ops;

	if (!be->active)
		return;
	count(&be->restarts);
	ops->pause(be->dev.dev);
	for (unsigned int i = 0; i < be->dev.nqueues; i++) {
		struct vhu_queue *q = &be->q[i];
		struct virtq_indices ix;

		if (!q->live)
			continue;
		virtq_get_indices(&q->vq, &ix);
		q->base = ix.last_avail;
	}
	ops->reset(be->dev.dev);
	ops->resume(be->dev.dev);
	for (unsigned int i = 0; i < be->dev.nqueues; i++)
		be->q[i].live = false;
	be->active = false;
}

/* A frontend address (SET_VRING_ADDR) as a guest physical one. */
static int uaddr_to_gpa(const struct vhu_backend *be, uint64_t ua,
			uint64_t *gpa)
{
	for (unsigned int i = 0; i < be->ntable; i++) {
		const struct vhu_mem_region *r = &be->table[i];

		if (ua >= r->uaddr && ua - r->uaddr < r->size) {
			*gpa = r->gpa + (ua - r->uaddr);
			return 0;
		}
	}
	return -1;
}

static bool queue_ready(const struct vhu_queue *q)
{
	return q->started && q->enabled && q->num && q->addr_set &&
	       q->kick_fd >= 0;
}

static int queue_start(struct vhu_backend *be, unsigned int i,
		       struct rv_err *err)
{
	struct vhu_queue *q = &be->q[i];
	uint64_t desc, avail, used;

	if (uaddr_to_gpa(be, q->addr.desc, &desc) < 0 ||
	    uaddr_to_gpa(be, q->addr.avail, &avail) < 0 ||
	    uaddr_to_gpa(be, q->addr.used, &used) < 0)
		return rv_fail(err, "queue %u: its rings lie outside the memory table",
			       i);
	if (virtq_init(&q->vq, &be->mem, q->num, desc, avail, used,
		       be->acked & (1ULL << VIRTIO_RING_F_EVENT_IDX),
		       be->acked & (1ULL << VIRTIO_RING_F_INDIRECT_DESC),
		       err) < 0 ||
	    virtq_start_at(&q->vq, q->base, err) < 0)
		return -1;
	if (be->inflight && i < be->inflight_nq && q->num <= be->inflight_qsize)
		virtq_track_inflight(&q->vq, (struct virtq_inflight *)
				     (be->inflight + i * virtq_inflight_bytes(be->inflight_qsize)));
	return 0;
}

static void start_device(struct vhu_backend *be)
{
	unsigned int nlive = 0;
	struct rv_err err;

	if (be->active || !be->has_dev || !be->mem.nr || !be->features_set)
		return;
	/* A device that needs several queues (net's pair) waits for the
	 * first ones, which frontends set up one after another. */
	for (unsigned int i = 0; i < be->dev.min_queues; i++)
		if (!queue_ready(&be->q[i]))
			return;
	for (unsigned int i = 0; i < be->dev.nqueues; i++) {
		struct vhu_queue *q = &be->q[i];

		if (!queue_ready(q))
			continue;
		if (queue_start(be, i, &err) < 0) {
			fprintf(stderr, "ringvm backend: %s: %s\n", be->name,
				err.msg);
			signal_fd(q->err_fd);
			continue;
		}
		q->live = true;
		nlive++;
	}
	if (!nlive)
		return;
	if (be->dev.ops->activate(be->dev.dev) < 0) {
		fprintf(stderr, "ringvm backend: %s: the device did not start\n",
			be->name);
		for (unsigned int i = 0; i < be->dev.nqueues; i++)
			be->q[i].live = false;
		return;
	}
	be->active = true;
}

static void inflight_unmap(struct vhu_backend *be)
{
	if (be->inflight)
		munmap(be->inflight, be->inflight_len);
	be->inflight = NULL;
	be->inflight_len = 0;
	be->inflight_nq = 0;
}

/* Back to a fresh device: what a new connection, RESET_DEVICE or
 * RESET_OWNER expects. Guest RAM stays mapped unless unmap is set. */
static void reset_all(struct vhu_backend *be, bool unmap)
{
	stop_device(be);
	for (unsigned int i = 0; i < VHU_MAX_QUEUES; i++)
		queue_forget(&be->q[i]);
	be->acked = 0;
	be->features_set = false;
	if (unmap) {
		close_fd(&be->backend_req_fd);
		inflight_unmap(be);
		guest_mem_unmap(&be->mem);
		be->ntable = 0;
		be->protocol = 0;
	}
}

/* ---- requests ---- */

static int reply(int sock, const struct vhu_msg *req, struct vhu_msg *m,
		 struct rv_err *err)
{
	m->request = req->request;
	m->flags = VHU_VERSION | VHU_FLAG_REPLY;
	return vhu_send(sock, m, NULL, 0, err);
}

static int reply_u64(int sock, const struct vhu_msg *req, uint64_t v,
		     struct rv_err *err)
{
	struct vhu_msg m;

	vhu_msg_u64(&m, req->request, 0, v);
	return reply(sock, req, &m, err);
}

static struct vhu_queue *queue_of(struct vhu_backend *be, uint32_t index,
				  struct rv_err *err)
{
	if (!be->has_dev || index >= be->dev.nqueues) {
		rv_fail(err, "queue %u does not exist (the device has %u)",
			index, be->has_dev ? be->dev.nqueues : 0);
		return NULL;
	}
	return &be->q[index];
}

static int set_mem_table(struct vhu_backend *be, struct vhu_msg *m,
			 struct rv_err *err)
{
	const struct vhu_mem_table *t = &m->p.mem;
	struct guest_region layout[VHU_MAX_MEM_REGIONS];
	uint64_t offs[VHU_MAX_MEM_REGIONS];
	unsigned int n = t->nregions;

	/* UML sends its whole table struct, slots unused included. */
	if (n == 0 || n > VHU_MAX_MEM_REGIONS ||
	    m->size < 8 + n * sizeof(struct vhu_mem_region))
		return rv_fail(err, "a memory table of %u regions in %u bytes",
			       n, m->size);
	if (m->nfds != n)
		return rv_fail(err, "a memory table of %u regions with %u file descriptors",
			       n, m->nfds);
	for (unsigned int i = 0; i < n; i++) {
		const struct vhu_mem_region *r = &t->region[i];

		if (r->size == 0 || r->uaddr + r->size < r->uaddr ||
		    r->mmap_offset + r->size < r->mmap_offset)
			return rv_fail(err, "memory region %u: bad size or address",
				       i);
		layout[i] = (struct guest_region){ .gpa = r->gpa,
						   .size = r->size };
		offs[i] = r->mmap_offset;
	}
	stop_device(be);
	guest_mem_unmap(&be->mem);
	be->ntable = 0;
	if (guest_mem_map_shared(&be->mem, layout, n, m->fds, offs, err) < 0)
		return -1;
	if (guest_mem_advise(&be->mem, false, err) < 0) {
		guest_mem_unmap(&be->mem);
		return -1;
	}
	memcpy(be->table, t->region, n * sizeof(t->region[0]));
	be->ntable = n;
	start_device(be);
	return 0;
}

static int inflight_geometry(struct vhu_backend *be,
			     const struct vhu_inflight *in, size_t *len,
			     struct rv_err *err)
{
	if (!be->has_dev || in->num_queues == 0 ||
	    in->num_queues > be->dev.nqueues || in->queue_size == 0 ||
	    in->queue_size > VIRTQ_MAX_SIZE ||
	    (in->queue_size & (in->queue_size - 1)))
		return rv_fail(err, "in-flight tracking for %u queues of %u entries",
			       in->num_queues, in->queue_size);
	*len = in->num_queues * virtq_inflight_bytes(in->queue_size);
	return 0;
}

/* GET_INFLIGHT_FD: a fresh region for the frontend to keep. */
static int get_inflight(struct vhu_backend *be, int sock,
			const struct vhu_msg *m, struct rv_err *err)
{
	struct vhu_msg r;
	size_t len;
	void *p;
	int fd, rc;

	if (inflight_geometry(be, &m->p.inflight, &len, err) < 0)
		return -1;
	fd = memfd_create("ringvm-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return rv_fail_errno(err, "memfd_create");
	if (ftruncate(fd, (off_t)len) < 0 ||
	    (p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
		    MAP_FAILED) {
		rv_fail_errno(err, "in-flight region of %zu bytes", len);
		close(fd);
		return -1;
	}
	stop_device(be);
	inflight_unmap(be);
	be->inflight = p;
	be->inflight_len = len;
	be->inflight_nq = m->p.inflight.num_queues;
	be->inflight_qsize = m->p.inflight.queue_size;
	vhu_msg_init(&r, m->request, 0, sizeof(r.p.inflight));
	r.p.inflight = m->p.inflight;
	r.p.inflight.mmap_size = len;
	r.p.inflight.mmap_offset = 0;
	r.request = m->request;
	r.flags = VHU_VERSION | VHU_FLAG_REPLY;
	rc = vhu_send(sock, &r, &fd, 1, err);
	close(fd);
	start_device(be);
	return rc < 0 ? -1 : 1;
}

/* SET_INFLIGHT_FD: a region the frontend kept from an earlier back end.
 * Requests it still marks would have to be served again; ringvm's
 * back end does not resubmit, so it takes only a clean region. */
static int set_inflight(struct vhu_backend *be, struct vhu_msg *m,
			struct rv_err *err)
{
	const struct vhu_inflight *in = &m->p.inflight;
	size_t len, stride;
	struct stat st;
	uint8_t *p;

	if (inflight_geometry(be, in, &len, err) < 0)
		return -1;
	if (m->nfds != 1 || in->mmap_size < len ||
	    in->mmap_offset & 0xfff || fstat(m->fds[0], &st) < 0 ||
	    in->mmap_offset + in->mmap_size > (uint64_t)st.st_size)
		return rv_fail(err, "an in-flight region that its file cannot hold");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
		 (off_t)in->mmap_offset);
	if (p == MAP_FAILED)
		return rv_fail_errno(err, "mapping the in-flight region");
	stride = virtq_inflight_bytes(in->queue_size);
	for (unsigned int q = 0; q < in->num_queues; q++) {
		const struct virtq_inflight *r = (const void *)(p + q * stride);

		for (unsigned int i = 0; i < in->queue_size; i++) {
			if (r->desc[i].inflight) {
				munmap(p, len);
				return rv_fail(err, "queue %u has requests in flight from an earlier back end, which this one does not resubmit",
					       q);
			}
		}
	}
	stop_device(be);
	inflight_unmap(be);
	be->inflight = p;
	be->inflight_len = len;
	be->inflight_nq = in->num_queues;
	be->inflight_qsize = in->queue_size;
	start_device(be);
	return 0;
}

static int set_features(struct vhu_backend *be, uint64_t v,
			struct rv_err *err)
{
	uint64_t virtio_bits = v & ~(1ULL << VHOST_USER_F_PROTOCOL_FEATURES);

	if (v & ~be->offered)
		return rv_fail(err, "features %#" PRIx64 " were not offered",
			       v & ~be->offered);
	if (!(v & (1ULL << VIRTIO_F_VERSION_1)))
		return rv_fail(err, "the frontend did not accept VIRTIO_F_VERSION_1 (legacy devices are not served)");
	stop_device(be);
	if (be->dev.ops->set_features(be->dev.dev, virtio_bits) < 0)
		return rv_fail(err, "the device refused features %#" PRIx64,
			       virtio_bits);
	be->acked = v;
	be->features_set = true;
	start_device(be);
	return 0;
}

/* SET_VRING_KICK / CALL / ERR: the fd replaces the queue's old one. */
static int set_vring_fd(struct vhu_backend *be, struct vhu_msg *m,
			struct rv_err *err)
{
	uint32_t index = (uint32_t)(m->p.u64 & VHU_VRING_IDX_MASK);
	bool nofd = m->p.u64 & VHU_VRING_NOFD;
	struct vhu_queue *q = queue_of(be, index, err);
	int fd, *slot;

	if (!q)
		return -1;
	if (nofd && m->request == VHU_SET_VRING_KICK)
		return rv_fail(err, "queue %u: a kick without an eventfd (polling) is not supported",
			       index);
	if (!nofd && m->nfds != 1)
		return rv_fail(err, "queue %u: %u file descriptors where one was due",
			       index, m->nfds);
	fd = nofd ? -1 : vhu_msg_take_fd(m, 0);
	/* A call fd may be a pipe (UML's): never block the I/O thread on
	 * it; a full pipe means an interrupt is pending anyway. */
	if (fd >= 0 && m->request != VHU_SET_VRING_KICK)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	slot = m->request == VHU_SET_VRING_KICK   ? &q->kick_fd
	       : m->request == VHU_SET_VRING_CALL ? &q->call_fd
						  : &q->err_fd;
	stop_device(be);
	close_fd(slot);
	*slot = fd;
	if (m->request == VHU_SET_VRING_KICK) {
		q->started = true;
		/* Without protocol features a ring is enabled when started. */
		if (!(be->acked & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
			q->enabled = true;
	}
	start_device(be);
	return 0;
}

static int get_config(struct vhu_backend *be, int sock,
		      const struct vhu_msg *m, struct rv_err *err)
{
	const struct vhu_config *c = &m->p.config;
	struct vhu_msg r;

	vhu_msg_init(&r, m->request, 0, VHU_CONFIG_HDR);
	r.p.config.offset = c->offset;
	r.p.config.flags = c->flags;
	/* A range outside the config space gets no data: the frontend
	 * sees a reply without it and fails the read. */
	if (be->has_dev && m->size == VHU_CONFIG_HDR + c->size &&
	    c->offset <= be->dev.config_len &&
	    c->size <= be->dev.config_len - c->offset) {
		r.p.config.size = c->size;
		r.size += c->size;
		be->dev.ops->config_read(be->dev.dev, c->offset,
					 r.p.config.data, c->size);
	}
	return reply(sock, m, &r, err);
}

static int set_config(struct vhu_backend *be, const struct vhu_msg *m,
		      struct rv_err *err)
{
	const struct vhu_config *c = &m->p.config;

	if (m->size != VHU_CONFIG_HDR + c->size ||
	    c->offset > be->dev.config_len ||
	    c->size > be->dev.config_len - c->offset)
		return rv_fail(err, "SET_CONFIG outside the configuration space");
	if (!be->dev.ops->config_write)
		return rv_fail(err, "the device's configuration space is read-only");
	be->dev.ops->config_write(be->dev.dev, c->offset, c->data, c->size);
	return 0;
}

/* One request. Returns 1 if it sent its own reply, 0 if done without
 * one (a REPLY_ACK may follow), -1 with err if it failed. */
static int handle(struct vhu_backend *be, int sock, struct vhu_msg *m,
		  struct rv_err *err)
{
	struct vhu_queue *q;

	switch (m->request) {
	case VHU_GET_FEATURES:
		return reply_u64(sock, m, be->offered, err) < 0 ? -1 : 1;
	case VHU_SET_FEATURES:
		return set_features(be, m->p.u64, err);
	case VHU_GET_PROTOCOL_FEATURES:
		return reply_u64(sock, m, SUPPORTED_PROTOCOL, err) < 0 ? -1 : 1;
	case VHU_SET_PROTOCOL_FEATURES:
		if (m->p.u64 & ~SUPPORTED_PROTOCOL)
			return rv_fail(err, "protocol features %#" PRIx64 " were not offered",
				       (uint64_t)(m->p.u64 & ~SUPPORTED_PROTOCOL));
		be->protocol = m->p.u64;
		return 0;
	case VHU_GET_QUEUE_NUM:
		return reply_u64(sock, m, be->dev.nqueues, err) < 0 ? -1 : 1;
	case VHU_SET_OWNER:
		return 0;
	case VHU_RESET_OWNER:
	case VHU_RESET_DEVICE:
		reset_all(be, false);
		return 0;
	case VHU_SET_MEM_TABLE:
		return set_mem_table(be, m, err);
	case VHU_SET_VRING_NUM:
		if (!(q = queue_of(be, m->p.state.index, err)))
			return -1;
		if (m->p.state.num == 0 || m->p.state.num > VIRTQ_MAX_SIZE ||
		    (m->p.state.num & (m->p.state.num - 1)))
			return rv_fail(err, "queue %u: size %u is not a power of two up to %d",
				       m->p.state.index, m->p.state.num,
				       VIRTQ_MAX_SIZE);
		stop_device(be);
		q->num = (uint16_t)m->p.state.num;
		start_device(be);
		return 0;
	case VHU_SET_VRING_ADDR:
		if (!(q = queue_of(be, m->p.addr.index, err)))
			return -1;
		if (m->p.addr.flags & 1)
			return rv_fail(err, "queue %u: used-ring logging asked for, but VHOST_F_LOG_ALL was not offered",
				       m->p.addr.index);
		stop_device(be);
		q->addr = m->p.addr;
		q->addr_set = true;
		start_device(be);
		return 0;
	case VHU_SET_VRING_BASE:
		if (!(q = queue_of(be, m->p.state.index, err)))
			return -1;
		if (m->p.state.num > 0xffff)
			return rv_fail(err, "queue %u: base %u is not a ring index",
				       m->p.state.index, m->p.state.num);
		stop_device(be);
		q->base = (uint16_t)m->p.state.num;
		start_device(be);
		return 0;
	case VHU_GET_VRING_BASE: {
		struct vhu_msg r;

		if (!(q = queue_of(be, m->p.state.index, err)))
			return -1;
		stop_device(be);           /* records where it stopped */
		q->started = false;
		start_device(be);
		vhu_msg_init(&r, m->request, 0, sizeof(r.p.state));
		r.p.state.index = m->p.state.index;
		r.p.state.num = q->base;
		return reply(sock, m, &r, err) < 0 ? -1 : 1;
	}
	case VHU_SET_VRING_KICK:
	case VHU_SET_VRING_CALL:
	case VHU_SET_VRING_ERR:
		return set_vring_fd(be, m, err);
	case VHU_SET_VRING_ENABLE:
		if (!(q = queue_of(be, m->p.state.index, err)))
			return -1;
		stop_device(be);
		q->enabled = m->p.state.num != 0;
		start_device(be);
		return 0;
	case VHU_GET_CONFIG:
		return get_config(be, sock, m, err) < 0 ? -1 : 1;
	case VHU_SET_BACKEND_REQ_FD:
		if (m->nfds != 1)
			return rv_fail(err, "no file descriptor with it");
		close_fd(&be->backend_req_fd);
		be->backend_req_fd = vhu_msg_take_fd(m, 0);
		return 0;
	case VHU_GET_INFLIGHT_FD:
		return get_inflight(be, sock, m, err);
	case VHU_SET_INFLIGHT_FD:
		return set_inflight(be, m, err);
	case VHU_SET_CONFIG:
		return set_config(be, m, err);
	default: {
		char buf[24];

		return rv_fail(err, "%s is not implemented by this back end (nor offered)",
			       vhu_request_name(m->request, buf));
	}
	}
}

int vhu_backend_serve(struct vhu_backend *be, int sock, int stop_fd,
		      struct rv_err *err)
{
	int rc = 0;

	count(&be->connections);
	for (;;) {
		struct pollfd pfd[2] = { { sock, POLLIN, 0 },
					 { stop_fd, POLLIN, 0 } };
		struct vhu_msg m;
		struct rv_err herr;
		char buf[24];
		int n;

		if (poll(pfd, stop_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = rv_fail_errno(err, "vhost-user: poll");
			break;
		}
		if (stop_fd >= 0 && pfd[1].revents) {
			rc = 1;
			break;
		}
		n = vhu_recv(sock, &m, err);
		if (n <= 0) {
			rc = n;
			break;
		}
		count(&be->messages);
		n = handle(be, sock, &m, &herr);
		vhu_msg_close_fds(&m);
		if (n < 0)
			count(&be->refused);
		if (n == 0 && (m.flags & VHU_FLAG_NEED_REPLY) &&
		    (be->protocol & (1ULL << VHU_PROTOCOL_F_REPLY_ACK)) &&
		    reply_u64(sock, &m, 0, err) < 0) {
			rc = -1;
			break;
		}
		if (n >= 0)
			continue;
		/* A failed request with REPLY_ACK is answered, and the
		 * frontend decides; without it the frontend would go on
		 * believing it succeeded, so the connection ends. */
		if ((m.flags & VHU_FLAG_NEED_REPLY) &&
		    (be->protocol & (1ULL << VHU_PROTOCOL_F_REPLY_ACK))) {
			fprintf(stderr, "ringvm backend: %s: %s refused: %s\n",
				be->name, vhu_request_name(m.request, buf),
				herr.msg);
			if (reply_u64(sock, &m, 1, err) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		rc = rv_fail(err, "vhost-user: %s: %s",
			     vhu_request_name(m.request, buf), herr.msg);
		break;
	}
	reset_all(be, true);
	return rc;
}

/* ---- construction ---- */

struct vhu_backend *vhu_backend_new(const char *name, struct rv_err *err)
{
	struct vhu_backend *be = calloc(1, sizeof(*be));

	if (!be) {
		rv_fail(err, "out of memory");
		return NULL;
	}
	snprintf(be->name, sizeof(be->name), "%s", name);
	be->backend_req_fd = -1;
	for (unsigned int i = 0; i < VHU_MAX_QUEUES; i++)
		be->q[i].kick_fd = be->q[i].call_fd = be->q[i].err_fd = -1;
	return be;
}

void vhu_backend_free(struct vhu_backend *be)
{
	if (!be)
		return;
	reset_all(be, true);
	free(be);
}

const struct guest_mem *vhu_backend_mem(struct vhu_backend *be)
{
	return &be->mem;
}

struct virtio_queue_host vhu_backend_queue_host(struct vhu_backend *be)
{
	return (struct virtio_queue_host){ host_vq, host_kick_fd,
					   host_queue_irq, host_needs_reset,
					   NULL, be };
}

void vhu_backend_set_device(struct vhu_backend *be,
			    const struct virtio_served_dev *dev)
{
	be->dev = *dev;
	if (be->dev.nqueues > VHU_MAX_QUEUES)
		be->dev.nqueues = VHU_MAX_QUEUES;
	be->has_dev = true;
	/* What the PCI transport adds for in-process devices, plus
	 * vhost-user's own protocol negotiation. */
	be->offered = dev->features | 1ULL << VIRTIO_F_VERSION_1 |
		      1ULL << VIRTIO_RING_F_INDIRECT_DESC |
		      1ULL << VIRTIO_RING_F_EVENT_IDX |
		      1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
}

void vhu_backend_print_stats(struct vhu_backend *be, const char *prefix,
			     FILE *out)
{
	const struct virtio_dev_stat rows[] = {
		{ "connections", &be->connections, "count" },
		{ "messages", &be->messages, "count" },
		{ "refused", &be->refused, "count" },
		{ "restarts", &be->restarts, "count" },
		{ "interrupts", &be->irqs, "count" },
	};

	virtio_dev_print_stats(out, prefix, rows, sizeof(rows) / sizeof(rows[0]));
}
