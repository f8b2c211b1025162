/* vhost-user frontend device: see vhost_user_dev.h.
 *
 * Everything happens on the device's own I/O thread: the requests to the
 * back end (a vCPU writing the status register, or the VMM pausing, hand
 * them over with ev_loop_call and wait), call eventfds of masked vectors
 * turned into pending interrupts, and the socket watched for the back end
 * hanging up. */
#include "vhost/vhost_user_dev.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/le.h"
#include "vhost/vhost_user.h"
#include "virtio/virtio_dev_common.h"

/* Protocol features ringvm's frontend uses when the back end has them. */
#define WANTED_PROTOCOL                                                       \
	(1ULL << VHU_PROTOCOL_F_MQ | 1ULL << VHU_PROTOCOL_F_REPLY_ACK |       \
	 1ULL << VHU_PROTOCOL_F_CONFIG)
/* The device-specific feature bits (0-23) pass through to the guest; the
 * transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX itself, so the
 * back end must offer those. */
#define DEVICE_BITS ((1ULL << 24) - 1)
#define NEEDED_BITS                                                           \
	(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC |   \
	 1ULL << VIRTIO_RING_F_EVENT_IDX)

/* virtio-blk's config: num_queues (le16) and the MQ feature bit; the
 * status byte that ends a request's chain. */
#define BLK_F_MQ        12
#define BLK_CFG_NUM_Q   34
#define BLK_S_IOERR     1
/* Segments of a chain answered after the back end died. */
#define FAIL_IOV        1024

struct vhost_user_dev;

/* What a call eventfd's handler needs to know. */
struct call_ctx {
	struct vhost_user_dev *d;
	unsigned int q;
};

struct vhost_user_dev {
	struct virtio_pci t;
	struct vhost_user_dev_opts o;
	char socket[108];
	const struct guest_mem *mem;
	struct ev_loop *loop;
	pthread_mutex_t lock;          /* the socket and the fields below */
	int sock;                      /* -1: not connected */
	atomic_bool dead;              /* the back end hung up */
	uint64_t backend_features;
	uint64_t protocol;             /* negotiated */
	uint64_t driver_features;      /* what the guest accepted */
	unsigned int nqueues;
	uint8_t config[VHU_MAX_CONFIG];
	uint8_t local[VHU_MAX_CONFIG];     /* opts' local_config, copied */
	bool started[VIRTIO_PCI_MAX_QUEUES];
	uint16_t base[VIRTIO_PCI_MAX_QUEUES];
	int call[VIRTIO_PCI_MAX_QUEUES];
	struct call_ctx ctx[VIRTIO_PCI_MAX_QUEUES];
	bool watching;
	/* In-flight tracking (blk): the back end marks what it took here,
	 * so when it dies ringvm answers exactly those with an I/O error,
	 * and from then on every new request, until the driver resets the
	 * device (failed). */
	uint8_t *inflight;
	size_t inflight_len;
	int inflight_fd;
	bool failed;
	struct virtq_chain scratch;
	struct iovec fail_iov[FAIL_IOV];
	atomic_uint_fast64_t irqs, connections, failures, failed_requests;
};

/* ---- requests to the back end (d->lock held) ---- */

static int do_connect(struct vhost_user_dev *d, struct rv_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	memcpy(a.sun_path, d->socket, sizeof(d->socket));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rv_fail_errno(err, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rv_fail_errno(err, "vhost-user back end %s", d->socket);
		close(fd);
		return -1;
	}
	d->sock = fd;
	atomic_store(&d->dead, false);
	atomic_fetch_add(&d->connections, 1);
	return 0;
}

/* Sends m; a request with a reply of its own gets it into *r, others
 * wait for REPLY_ACK when negotiated. */
static int call(struct vhost_user_dev *d, struct vhu_msg *m, const int *fds,
		unsigned int nfds, struct vhu_msg *r, struct rv_err *err)
{
	bool ack = !r && (d->protocol & (1ULL << VHU_PROTOCOL_F_REPLY_ACK));
	struct vhu_msg tmp;
	char buf[24];
	int n;

	if (ack)
		m->flags |= VHU_FLAG_NEED_REPLY;
	if (vhu_send(d->sock, m, fds, nfds, err) < 0)
		return -1;
	if (!r && !ack)
		return 0;
	if (!r)
		r = &tmp;
	n = vhu_recv(d->sock, r, err);
	if (n == 0)
		return rv_fail(err, "vhost-user back end %s hung up", d->socket);
	if (n < 0)
		return -1;
	vhu_msg_close_fds(r);
	if (r->request != m->request || !(r->flags & VHU_FLAG_REPLY))
		return rv_fail(err, "vhost-user back end %s answered %s with %s",
			       d->socket, vhu_request_name(m->request, buf),
			       vhu_request_name(r->request, buf));
	if (ack && (r->size != 8 || r->p.u64 != 0))
		return rv_fail(err, "vhost-user back end %s refused %s",
			       d->socket, vhu_request_name(m->request, buf));
	return 0;
}

static int get_u64(struct vhost_user_dev *d, uint32_t req, uint64_t *v,
		   struct rv_err *err)
{
	struct vhu_msg m, r;

	vhu_msg_init(&m, req, 0, 0);
	if (call(d, &m, NULL, 0, &r, err) < 0)
		return -1;
	if (r.size != 8)
		return rv_fail(err, "vhost-user back end %s: a %u-byte answer", d->socket, r.size);
	*v = r.p.u64;
	return 0;
}

static int set_u64(struct vhost_user_dev *d, uint32_t req, uint64_t v,
		   const int *fd, struct rv_err *err)
{
	struct vhu_msg m;

	vhu_msg_u64(&m, req, 0, v);
	return call(d, &m, fd, fd ? 1 : 0, NULL, err);
}

static int send_plain(struct vhost_user_dev *d, uint32_t req,
		      struct rv_err *err)
{
	struct vhu_msg m;

	vhu_msg_init(&m, req, 0, 0);
	return call(d, &m, NULL, 0, NULL, err);
}

static int set_state(struct vhost_user_dev *d, uint32_t req, unsigned int q,
		     uint32_t num, struct rv_err *err)
{
	struct vhu_msg m;

	vhu_msg_init(&m, req, 0, sizeof(m.p.state));
	m.p.state.index = q;
	m.p.state.num = num;
	return call(d, &m, NULL, 0, NULL, err);
}

/* Connects and negotiates: features, protocol features, queues, config.
 * On a reconnection the back end must offer the same device. */
static int handshake(struct vhost_user_dev *d, bool again, struct rv_err *err)
{
	uint64_t features, theirs = 0, nq = 1, wanted;
	struct vhu_msg m, r;
	unsigned int len = d->o.config_len;

	if (do_connect(d, err) < 0)
		return -1;
	d->protocol = 0;
	if (get_u64(d, VHU_GET_FEATURES, &features, err) < 0)
		return -1;
	if ((features & NEEDED_BITS) != NEEDED_BITS)
		return rv_fail(err, "vhost-user back end %s does not offer VERSION_1, INDIRECT_DESC and EVENT_IDX (features %#" PRIx64 ")",
			       d->socket, features);
	if (!(features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
		return rv_fail(err, "vhost-user back end %s does not negotiate protocol features (ringvm needs CONFIG)",
			       d->socket);
	if (get_u64(d, VHU_GET_PROTOCOL_FEATURES, &theirs, err) < 0)
		return -1;
	if (!d->o.local_config && !(theirs & (1ULL << VHU_PROTOCOL_F_CONFIG)))
		return rv_fail(err, "vhost-user back end %s does not offer its configuration space (protocol feature CONFIG)",
			       d->socket);
	wanted = WANTED_PROTOCOL;
	if (d->o.device_type == VIRTIO_ID_BLOCK)
		wanted |= 1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD;
	if (set_u64(d, VHU_SET_PROTOCOL_FEATURES, theirs & wanted, NULL,
		    err) < 0)
		return -1;
	d->protocol = theirs & wanted;
	if (send_plain(d, VHU_SET_OWNER, err) < 0)
		return -1;
	if ((d->protocol & (1ULL << VHU_PROTOCOL_F_MQ)) &&
	    get_u64(d, VHU_GET_QUEUE_NUM, &nq, err) < 0)
		return -1;
	if (nq == 0)
		return rv_fail(err, "vhost-user back end %s serves no queues", d->socket);
	if (d->o.local_config) {
		r.size = VHU_CONFIG_HDR + len;
		r.p.config.size = len;
		memcpy(r.p.config.data, d->o.local_config, len);
	} else {
		vhu_msg_init(&m, VHU_GET_CONFIG, 0, VHU_CONFIG_HDR + len);
		m.p.config.size = len;
		if (call(d, &m, NULL, 0, &r, err) < 0)
			return -1;
	}
	if (r.size != VHU_CONFIG_HDR + len || r.p.config.size != len)
		return rv_fail(err, "vhost-user back end %s did not send its %u-byte configuration",
			       d->socket, len);
	if (again) {
		if ((features & DEVICE_BITS) != (d->backend_features & DEVICE_BITS))
			return rv_fail(err, "vhost-user back end %s came back as another device (features %#" PRIx64 ", before %#" PRIx64 ")",
				       d->socket, features, d->backend_features);
		return 0;
	}
	d->backend_features = features;
	d->nqueues = nq < d->o.max_queues ? (unsigned int)nq : d->o.max_queues;
	memcpy(d->config, r.p.config.data, len);
	return 0;
}

static void disconnect(struct vhost_user_dev *d)
{
	if (d->sock >= 0)
		close(d->sock);
	d->sock = -1;
}

/* ---- interrupts and hang-ups (I/O thread) ---- */

static void take_over(struct vhost_user_dev *d);

static void on_hangup(void *opaque, uint32_t events)
{
	struct vhost_user_dev *d = opaque;

	(void)events;
	/* The hang-up stays readable: stop watching, or it fires forever. */
	ev_loop_del(d->loop, d->sock);
	if (atomic_exchange(&d->dead, true))
		return;
	atomic_fetch_add(&d->failures, 1);
	if (d->inflight) {
		take_over(d);
		fprintf(stderr, "ringvm: %s: the vhost-user back end went away; the disk fails every request (%" PRIu64 " in flight or since) until the driver resets it with a back end on the socket\n",
			d->socket, (uint64_t)atomic_load(&d->failed_requests));
	} else {
		fprintf(stderr, "ringvm: %s: the vhost-user back end went away; the device needs a reset (and a back end on the socket) to serve again\n",
			d->socket);
	}
	virtio_pci_needs_reset(&d->t);
}

/* ---- virtio_dev_ops ---- */

static void dev_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct vhost_user_dev *d = dev;

	if (off <= d->o.config_len && len <= d->o.config_len - off)
		memcpy(data, d->config + off, len);
	else
		memset(data, 0, len);
}

static int dev_set_features(void *dev, uint64_t features)
{
	struct vhost_user_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	d->driver_features = features;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int send_mem_table(struct vhost_user_dev *d, struct rv_err *err)
{
	const struct guest_mem *mem = d->mem;
	int fds[VHU_MAX_MEM_REGIONS];
	struct vhu_msg m;

	vhu_msg_init(&m, VHU_SET_MEM_TABLE, 0,
		     8 + mem->nr * sizeof(struct vhu_mem_region));
	m.p.mem.nregions = mem->nr;
	for (unsigned int i = 0; i < mem->nr; i++) {
		m.p.mem.region[i] = (struct vhu_mem_region){
			.gpa = mem->region[i].gpa,
			.size = mem->region[i].size,
			.uaddr = (uintptr_t)mem->region[i].hva,
			.mmap_offset = mem->share_off[i],
		};
		fds[i] = mem->share_fd;
	}
	return call(d, &m, fds, mem->nr, NULL, err);
}

static int start_queue(struct vhost_user_dev *d, unsigned int q,
		       struct rv_err *err)
{
	struct virtq *vq = virtio_pci_vq(&d->t, q);
	int kick = virtio_pci_kick_fd(&d->t, q);
	struct vhu_msg m;

	vhu_msg_init(&m, VHU_SET_VRING_ADDR, 0, sizeof(m.p.addr));
	m.p.addr.index = q;
	m.p.addr.desc = (uintptr_t)vq->desc;
	m.p.addr.avail = (uintptr_t)vq->avail;
	m.p.addr.used = (uintptr_t)vq->used;
	if (set_state(d, VHU_SET_VRING_NUM, q, vq->size, err) < 0 ||
	    call(d, &m, NULL, 0, NULL, err) < 0 ||
	    set_state(d, VHU_SET_VRING_BASE, q, d->base[q], err) < 0 ||
	    set_u64(d, VHU_SET_VRING_CALL, q, &d->call[q], err) < 0 ||
	    set_u64(d, VHU_SET_VRING_KICK, q, &kick, err) < 0 ||
	    set_state(d, VHU_SET_VRING_ENABLE, q, 1, err) < 0)
		return -1;
	d->started[q] = true;
	return 0;
}

/* Stops queue q and records where the back end stopped. */
static void stop_queue(struct vhost_user_dev *d, unsigned int q)
{
	struct vhu_msg m, r;
	struct rv_err err;

	if (!d->started[q])
		return;
	d->started[q] = false;
	if (d->sock < 0 || atomic_load(&d->dead))
		return;
	vhu_msg_init(&m, VHU_GET_VRING_BASE, 0, sizeof(m.p.state));
	m.p.state.index = q;
	if (call(d, &m, NULL, 0, &r, &err) < 0 || r.size != sizeof(r.p.state)) {
		fprintf(stderr, "ringvm: %s: stopping queue %u: %s\n", d->socket,
			q, err.msg);
		return;
	}
	d->base[q] = (uint16_t)r.p.state.num;
}

static void unwatch_calls(struct vhost_user_dev *d)
{
	struct rv_err err;

	for (unsigned int q = 0; q < d->nqueues; q++)
		virtio_pci_queue_irqfd(&d->t, q, -1, d->loop, &err);
}

static void unwatch(struct vhost_user_dev *d)
{
	if (!d->watching)
		return;
	unwatch_calls(d);
	ev_loop_del(d->loop, d->sock);
	d->watching = false;
}

/* The call eventfds go to the transport, which makes each the KVM irqfd
 * of its queue's vector while the guest has that vector unmasked: the
 * back end's interrupts then reach the guest without waking ringvm. */
static int watch(struct vhost_user_dev *d, struct rv_err *err)
{
	for (unsigned int q = 0; q < d->nqueues; q++)
		if (virtio_pci_queue_irqfd(&d->t, q, d->call[q], d->loop, err) < 0)
			goto fail;
	if (ev_loop_add(d->loop, d->sock, EPOLLRDHUP, on_hangup, d, err) < 0)
		goto fail;
	d->watching = true;
	return 0;
fail:
	unwatch_calls(d);
	return -1;
}

static size_t inflight_stride(const struct vhost_user_dev *d)
{
	return virtq_inflight_bytes(d->o.queue_size);
}

/* A fresh region from the back end (GET_INFLIGHT_FD), or the one ringvm
 * kept handed to a new back end (SET_INFLIGHT_FD) after a reconnect. */
static int setup_inflight(struct vhost_user_dev *d, struct rv_err *err)
{
	struct vhu_msg m, r;
	void *p;
	int n, fd;

	vhu_msg_init(&m, d->inflight ? VHU_SET_INFLIGHT_FD : VHU_GET_INFLIGHT_FD,
		     0, sizeof(m.p.inflight));
	m.p.inflight.num_queues = (uint16_t)d->nqueues;
	m.p.inflight.queue_size = d->o.queue_size;
	if (d->inflight) {
		m.p.inflight.mmap_size = d->inflight_len;
		return call(d, &m, &d->inflight_fd, 1, NULL, err);
	}
	if (vhu_send(d->sock, &m, NULL, 0, err) < 0)
		return -1;
	n = vhu_recv(d->sock, &r, err);
	if (n <= 0)
		return n == 0 ? rv_fail(err, "vhost-user back end %s hung up", d->socket) : -1;
	fd = vhu_msg_take_fd(&r, 0);
	vhu_msg_close_fds(&r);
	if (r.request != VHU_GET_INFLIGHT_FD || fd < 0 ||
	    r.p.inflight.mmap_size < d->nqueues * inflight_stride(d) ||
	    r.p.inflight.mmap_size > (64ULL << 20)) {
		if (fd >= 0)
			close(fd);
		return rv_fail(err, "vhost-user back end %s: no usable in-flight region", d->socket);
	}
	p = mmap(NULL, r.p.inflight.mmap_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, (off_t)r.p.inflight.mmap_offset);
	if (p == MAP_FAILED) {
		close(fd);
		return rv_fail_errno(err, "vhost-user back end %s: mapping its in-flight region", d->socket);
	}
	d->inflight = p;
	d->inflight_len = r.p.inflight.mmap_size;
	d->inflight_fd = fd;
	return 0;
}

/* ---- after the back end died (I/O thread) ---- */

/* A virtio-blk request nobody will serve: IOERR in its status byte, the
 * last byte the driver let the device write. */
static uint32_t fail_blk(void *ctx, struct virtq_chain *c, bool ok)
{
	struct vhost_user_dev *d = ctx;
	const struct iovec *last;

	atomic_fetch_add_explicit(&d->failed_requests, 1, memory_order_relaxed);
	if (!ok || c->nin == 0)
		return 0;
	last = &c->iov[c->nout + c->nin - 1];
	((uint8_t *)last->iov_base)[last->iov_len - 1] = BLK_S_IOERR;
	return 1;
}

static void fail_new(struct vhost_user_dev *d, unsigned int q)
{
	struct virtq *vq = virtio_pci_vq(&d->t, q);
	bool pushed = false;

	if (!vq)
		return;
	for (;;) {
		enum virtq_pop_result r = virtq_pop(vq, &d->scratch);

		if (r == VIRTQ_EMPTY || r == VIRTQ_BROKEN)
			break;
		virtq_push(vq, d->scratch.head,
			   fail_blk(d, &d->scratch, r == VIRTQ_OK));
		pushed = true;
	}
	if (pushed && virtq_should_notify(vq)) {
		virtio_pci_queue_irq(&d->t, q);
		atomic_fetch_add_explicit(&d->irqs, 1, memory_order_relaxed);
	}
}

static void on_failed_kick(void *opaque, uint32_t events)
{
	struct call_ctx *c = opaque;

	(void)events;
	virtio_dev_drain(virtio_pci_kick_fd(&c->d->t, c->q));
	fail_new(c->d, c->q);
}

/* The back end is gone with requests in flight: answer them, and every
 * later one, with an I/O error, so the guest sees a failed disk instead of
 * requests that never end. */
static void take_over(struct vhost_user_dev *d)
{
	struct rv_err err;

	d->scratch.iov = d->fail_iov;
	d->scratch.iov_cap = FAIL_IOV;
	for (unsigned int q = 0; q < d->nqueues; q++) {
		struct virtq *vq = virtio_pci_vq(&d->t, q);
		struct virtq_inflight *r;

		if (!vq || !d->started[q])
			continue;
		r = (struct virtq_inflight *)(d->inflight + q * inflight_stride(d));
		if (virtq_take_over(vq, r, fail_blk, d, &d->scratch, &err) < 0) {
			fprintf(stderr, "ringvm: %s: queue %u: %s\n", d->socket, q,
				err.msg);
			continue;
		}
		if (ev_loop_add(d->loop, virtio_pci_kick_fd(&d->t, q), EPOLLIN,
				on_failed_kick, &d->ctx[q], &err) < 0)
			fprintf(stderr, "ringvm: %s: %s\n", d->socket, err.msg);
		fail_new(d, q);
		/* The guest must hear of what was answered. */
		virtio_pci_queue_irq(&d->t, q);
	}
	d->failed = true;
}

/* The ops below run their socket traffic on the device's I/O thread
 * (ev_loop_call): its seccomp filter allows talking to the back end and
 * connecting to it again; a vCPU thread's does not. */
struct op_call {
	struct vhost_user_dev *d;
	int rc;
};

static void do_activate(void *arg)
{
	struct op_call *c = arg;
	struct vhost_user_dev *d = c->d;
	struct rv_err err;

	c->rc = -1;
	pthread_mutex_lock(&d->lock);
	/* The back end went away since: this reset is the moment to try a
	 * new one on the same socket. */
	if (d->sock < 0 || atomic_load(&d->dead)) {
		disconnect(d);
		if (handshake(d, true, &err) < 0) {
			disconnect(d);
			goto out;
		}
	}
	if (set_u64(d, VHU_SET_FEATURES,
		    d->driver_features | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES,
		    NULL, &err) < 0 ||
	    send_mem_table(d, &err) < 0)
		goto out;
	if ((d->protocol & (1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD)) &&
	    setup_inflight(d, &err) < 0)
		goto out;
	for (unsigned int q = 0; q < d->nqueues; q++) {
		d->base[q] = 0;
		if (virtio_pci_vq(&d->t, q) && start_queue(d, q, &err) < 0)
			goto out;
	}
	if (watch(d, &err) < 0)
		goto out;
	c->rc = 0;
out:
	if (c->rc < 0) {
		fprintf(stderr, "ringvm: %s: cannot start the device: %s\n",
			d->socket, err.msg);
		for (unsigned int q = 0; q < d->nqueues; q++)
			stop_queue(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

static int dev_activate(void *dev)
{
	struct op_call c = { dev, -1 };

	ev_loop_call(c.d->loop, do_activate, &c);
	return c.rc;
}

static void do_reset(void *arg)
{
	struct vhost_user_dev *d = ((struct op_call *)arg)->d;

	pthread_mutex_lock(&d->lock);
	unwatch(d);
	for (unsigned int q = 0; q < d->nqueues; q++) {
		if (d->failed)
			ev_loop_del(d->loop, virtio_pci_kick_fd(&d->t, q));
		stop_queue(d, q);
		virtio_dev_drain(d->call[q]);
	}
	d->failed = false;
	pthread_mutex_unlock(&d->lock);
}

static void dev_reset(void *dev)
{
	struct op_call c = { dev, 0 };

	ev_loop_call(c.d->loop, do_reset, &c);
}

/* Pause: the back end stops every ring (GET_VRING_BASE) and tells where;
 * resume hands the rings back from there. */
static void do_pause(void *arg)
{
	struct vhost_user_dev *d = ((struct op_call *)arg)->d;

	pthread_mutex_lock(&d->lock);
	for (unsigned int q = 0; q < d->nqueues; q++) {
		bool was = d->started[q];

		stop_queue(d, q);
		d->started[q] = was;      /* to restart on resume */
	}
	pthread_mutex_unlock(&d->lock);
}

static void dev_pause(void *dev)
{
	struct op_call c = { dev, 0 };

	ev_loop_call(c.d->loop, do_pause, &c);
	ev_loop_pause(c.d->loop);
}

static void do_resume(void *arg)
{
	struct vhost_user_dev *d = ((struct op_call *)arg)->d;
	struct rv_err err;

	pthread_mutex_lock(&d->lock);
	for (unsigned int q = 0; q < d->nqueues; q++) {
		int kick = virtio_pci_kick_fd(&d->t, q);

		if (!d->started[q] || d->sock < 0 || atomic_load(&d->dead))
			continue;
		if (set_state(d, VHU_SET_VRING_BASE, q, d->base[q], &err) < 0 ||
		    set_u64(d, VHU_SET_VRING_KICK, q, &kick, &err) < 0)
			fprintf(stderr, "ringvm: %s: restarting queue %u: %s\n",
				d->socket, q, err.msg);
	}
	pthread_mutex_unlock(&d->lock);
}

static void dev_resume(void *dev)
{
	struct op_call c = { dev, 0 };

	ev_loop_resume(c.d->loop);
	ev_loop_call(c.d->loop, do_resume, &c);
}

static const struct virtio_dev_ops dev_ops = {
	.config_read = dev_config_read,
	.set_features = dev_set_features,
	.activate = dev_activate,
	.reset = dev_reset,
	.pause = dev_pause,
	.resume = dev_resume,
};

/* ---- construction ---- */

/* What construction made, after the device's last use. */
static void release(struct vhost_user_dev *d)
{
	ev_loop_free(d->loop);
	if (d->inflight) {
		munmap(d->inflight, d->inflight_len);
		close(d->inflight_fd);
	}
	for (unsigned int q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++)
		if (d->call[q] >= 0)
			close(d->call[q]);
	disconnect(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

struct vhost_user_dev *vhost_user_dev_new(const struct vhost_user_dev_opts *o,
					  const struct guest_mem *mem,
					  struct msix_sink sink,
					  struct rv_err *err)
{
	struct vhost_user_dev *d;
	struct virtio_pci_config cfg;
	char name[16];

	if (!mem->shared || strlen(o->socket) >= sizeof(d->socket) ||
	    o->config_len > VHU_MAX_CONFIG || o->max_queues == 0 ||
	    o->max_queues > VIRTIO_PCI_MAX_QUEUES) {
		rv_fail(err, "vhost-user %.64s: %s", o->socket,
			!mem->shared ? "guest RAM is not shared"
			: strlen(o->socket) >= sizeof(d->socket) ? "socket path too long"
			: "bad device description");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		rv_fail(err, "out of memory");
		return NULL;
	}
	d->o = *o;
	snprintf(d->socket, sizeof(d->socket), "%s", o->socket);
	d->o.socket = d->socket;
	d->o.local_config = NULL;
	if (o->local_config) {
		memcpy(d->local, o->local_config, o->config_len);
		d->o.local_config = d->local;
	}
	d->mem = mem;
	d->sock = -1;
	d->inflight_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned int q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++) {
		d->call[q] = -1;
		d->ctx[q] = (struct call_ctx){ d, q };
	}
	if (handshake(d, false, err) < 0)
		goto fail;
	for (unsigned int q = 0; q < d->nqueues; q++) {
		d->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->call[q] < 0) {
			rv_fail_errno(err, "eventfd");
			goto fail;
		}
	}
	/* The guest sees the queues ringvm wired, not more. */
	cfg = (struct virtio_pci_config){
		.device_type = o->device_type,
		.class_code = o->class_code,
		.features = d->backend_features & DEVICE_BITS,
		.nqueues = d->nqueues,
		.queue_max = o->queue_size,
		.config_len = o->config_len,
		.ops = &dev_ops,
		.dev = d,
		.mem = mem,
		.sink = sink,
	};
	if (o->device_type == VIRTIO_ID_BLOCK && o->config_len > BLK_CFG_NUM_Q + 1) {
		if (d->nqueues == 1)
			cfg.features &= ~(1ULL << BLK_F_MQ);
		put_le16(d->config + BLK_CFG_NUM_Q, (uint16_t)d->nqueues);
	}
	snprintf(name, sizeof(name), "vhu%u", o->index);
	d->loop = ev_loop_new(name, err);
	if (!d->loop || ev_loop_start(d->loop, err) < 0)
		goto fail;
	if (virtio_pci_init(&d->t, &cfg, err) < 0)
		goto fail;
	return d;
fail:
	release(d);
	return NULL;
}

void vhost_user_dev_free(struct vhost_user_dev *d)
{
	if (!d)
		return;
	virtio_pci_destroy(&d->t);      /* resets an active device */
	release(d);
}

struct virtio_pci *vhost_user_dev_transport(struct vhost_user_dev *d)
{
	return &d->t;
}

struct ev_loop *vhost_user_dev_loop(struct vhost_user_dev *d)
{
	return d->loop;
}

unsigned int vhost_user_dev_nqueues(const struct vhost_user_dev *d)
{
	return d->nqueues;
}

void vhost_user_dev_print_stats(struct vhost_user_dev *d, const char *prefix,
				FILE *out)
{
	const struct virtio_dev_stat rows[] = {
		{ "failed_request_interrupts", &d->irqs, "count" },
		{ "interrupts_relayed", &d->t.stats.irqfd_relayed, "count" },
		{ "irqfd_binds", &d->t.stats.irqfd_binds, "count" },
		{ "connections", &d->connections, "count" },
		{ "backend_failures", &d->failures, "count" },
		{ "failed_requests", &d->failed_requests, "count" },
		{ "mmio_kicks", &d->t.stats.mmio_kicks, "count" },
	};

	virtio_dev_print_stats(out, prefix, rows, sizeof(rows) / sizeof(rows[0]));
}
