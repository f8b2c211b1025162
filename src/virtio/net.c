/* virtio-net: one receive and one transmit queue on a TAP fd (or, in
 * tests, any packet fd carrying the same "virtio_net_hdr + frame" records).
 *
 * The TAP speaks virtio's own header (IFF_VNET_HDR, 12 bytes as with
 * VERSION_1), so TX is a writev of the guest's chain and RX a readv into
 * the guest's buffers. A packet longer than the first receive buffer lands
 * in a bounce buffer and is spread over further buffers (MRG_RXBUF); its
 * buffers are only published once all of them are filled, because the
 * driver expects num_buffers used entries to be there together. When the
 * guest has no receive buffers we stop watching the TAP until it kicks the
 * receive queue: no busy loop, the kernel queues (or drops) meanwhile.
 *
 * Threads: register callbacks run on vCPU threads under the transport lock;
 * everything between activate and reset runs on the device's I/O thread.
 *
 * With vhost=on the kernel's vhost-net moves the packets between the rings
 * and the TAP instead (backends/vhost_net.h): the queues' kick eventfds go
 * to it, and its call eventfds come back to this device's I/O thread,
 * which turns them into MSI-X interrupts (honouring the guest's masks).
 * Features, configuration and the TAP's offloads stay here. */
#include "virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backends/tap.h"
#include "backends/vhost_net.h"
#include "util/event_loop.h"
#include "util/le.h"
#include "virtio/virtio_dev_common.h"

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_GUEST_TSO4  7
#define VIRTIO_NET_F_GUEST_TSO6  8
#define VIRTIO_NET_F_GUEST_ECN   9
#define VIRTIO_NET_F_HOST_TSO4   11
#define VIRTIO_NET_F_HOST_TSO6   12
#define VIRTIO_NET_F_HOST_ECN    13
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16

#define VIRTIO_NET_S_LINK_UP     1

/* CTRL_VQ is deliberately not offered: Linux busy-waits on a control queue
 * nobody services, and without it there is no MQ either. */
#define NET_FEATURES ((1ull << VIRTIO_NET_F_CSUM) |		\
		      (1ull << VIRTIO_NET_F_GUEST_CSUM) |	\
		      (1ull << VIRTIO_NET_F_MAC) |		\
		      (1ull << VIRTIO_NET_F_GUEST_TSO4) |	\
		      (1ull << VIRTIO_NET_F_GUEST_TSO6) |	\
		      (1ull << VIRTIO_NET_F_GUEST_ECN) |	\
		      (1ull << VIRTIO_NET_F_HOST_TSO4) |	\
		      (1ull << VIRTIO_NET_F_HOST_TSO6) |	\
		      (1ull << VIRTIO_NET_F_HOST_ECN) |		\
		      (1ull << VIRTIO_NET_F_MRG_RXBUF) |	\
		      (1ull << VIRTIO_NET_F_STATUS))

/* struct virtio_net_hdr with num_buffers: always 12 bytes with VERSION_1. */
#define NET_HDR_LEN       12
#define NET_HDR_NUMBUF    10
/* A GSO frame is at most 64 KiB plus link headers; round up generously. */
#define NET_MAX_PKT       (NET_HDR_LEN + 65536 + 256)
#define NET_CONFIG_LEN    12
#define NET_DEFAULT_QSIZE 256
#define NET_MTU           1500
/* Packets per handler run before letting the other queue's handler in. */
#define NET_BUDGET        256

enum { RXQ = 0, TXQ = 1, NET_NQUEUES = 2 };

struct net_stats {
	atomic_uint_fast64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	atomic_uint_fast64_t rx_kicks, tx_kicks, irqs;
	atomic_uint_fast64_t rx_dropped;     /* read from the TAP, not delivered */
	atomic_uint_fast64_t rx_stalls;      /* TAP unwatched: no RX buffers */
	atomic_uint_fast64_t rx_bad_chains, tx_bad_chains;
	atomic_uint_fast64_t tx_dropped;     /* write to the TAP failed */
};

struct held {
	uint16_t head;
	uint32_t len;
};

struct virtio_net {
	struct virtio_pci t;        /* unused when served (no PCI) */
	bool served;                /* queues served for a vhost-user frontend */
	struct virtio_queue_host host;
	struct ev_loop *loop;
	int fd;
	bool own_fd;
	bool is_tap;
	uint16_t qsize;
	uint8_t config[NET_CONFIG_LEN];
	uint64_t features;          /* written by set_features, before activate */

	/* I/O thread state (activate .. reset). */
	struct virtq *vq[NET_NQUEUES];
	int kick[NET_NQUEUES];
	bool mrg;
	bool fd_watched;            /* registered on the loop at all */
	bool fd_polled;             /* ... with EPOLLIN */
	bool fd_dead;               /* hung up / errored: never watched again */
	bool queue_dead[NET_NQUEUES];
	struct iovec *iov;          /* scratch for pops, qsize entries */
	struct iovec *rd_iov;       /* readv list, qsize + 1 entries */
	/* The receive chain waiting for the next packet (kept across drops). */
	struct virtq_chain first;
	struct iovec *first_iov;    /* qsize entries */
	bool have_first;
	/* A packet larger than `first`, being spread over more chains. */
	bool rx_pending;
	size_t pkt_len, pkt_done, bounce_base;
	struct held *held;          /* qsize entries */
	unsigned int nheld;
	/* A bad chain was given back between held ones: they are not the
	 * last chains taken, so a pause cannot simply untake them. */
	bool held_gap;
	uint8_t *bounce;            /* NET_MAX_PKT */
	uint8_t *txbuf;             /* NET_MAX_PKT: chains with > IOV_MAX segs */
	/* vhost=on: the kernel's data path, its call eventfds and where
	 * each queue stopped at a pause. */
	bool use_vhost;
	const struct guest_mem *mem;
	struct vhost_net vh;
	int call[NET_NQUEUES];
	uint16_t base[NET_NQUEUES];
	bool vhost_running;

	struct net_stats st;
};

static void stat_add(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* ---- configuration and negotiation (vCPU threads) ---- */

static void net_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct virtio_net *n = dev;

	memcpy(data, n->config + off, len);
}

static int net_set_features(void *dev, uint64_t features)
{
	struct virtio_net *n = dev;
	unsigned int off = 0;

	n->features = features;
	if (!n->is_tap)
		return 0;
	if (features & (1ull << VIRTIO_NET_F_GUEST_CSUM))
		off |= TAP_OFFLOAD_CSUM;
	if (features & (1ull << VIRTIO_NET_F_GUEST_TSO4))
		off |= TAP_OFFLOAD_TSO4;
	if (features & (1ull << VIRTIO_NET_F_GUEST_TSO6))
		off |= TAP_OFFLOAD_TSO6;
	if (features & (1ull << VIRTIO_NET_F_GUEST_ECN))
		off |= TAP_OFFLOAD_TSO_ECN;
	/* Fewer offloads than negotiated is always safe: the kernel then
	 * hands us complete, checksummed frames, which every driver takes. */
	if (tap_set_offload(n->fd, off, NULL) < 0)
		tap_set_offload(n->fd, 0, NULL);
	return 0;
}

/* ---- interrupts and queue failure ---- */

static void net_irq(struct virtio_net *n, unsigned int q)
{
	if (virtq_should_notify(n->vq[q])) {
		stat_add(&n->st.irqs, 1);
		n->host.queue_irq(n->host.ctx, q);
	}
}

static void queue_broken(struct virtio_net *n, unsigned int q)
{
	n->queue_dead[q] = true;
	n->host.needs_reset(n->host.ctx);
}

/* ---- TX: guest -> TAP ---- */

static ssize_t tx_write(struct virtio_net *n, const struct virtq_chain *c)
{
	if (c->nout <= IOV_MAX)
		return writev(n->fd, c->iov, (int)c->nout);
	/* More segments than writev takes: one record must stay one write. */
	virtq_chain_read(c, 0, n->txbuf, c->out_len);
	return write(n->fd, n->txbuf, c->out_len);
}

static void tx_one(struct virtio_net *n, struct virtq_chain *c)
{
	ssize_t w;

	if (c->nin || c->out_len < NET_HDR_LEN || c->out_len > NET_MAX_PKT ||
	    n->fd_dead) {
		stat_add(n->fd_dead ? &n->st.tx_dropped : &n->st.tx_bad_chains, 1);
		return;
	}
	do
		w = tx_write(n, c);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* EAGAIN/ENOBUFS (host backlog) or EINVAL (a header the kernel
		 * refuses): the frame is lost, as on a real wire. */
		stat_add(&n->st.tx_dropped, 1);
		return;
	}
	stat_add(&n->st.tx_packets, 1);
	stat_add(&n->st.tx_bytes, c->out_len - NET_HDR_LEN);
}

static void tx_process(struct virtio_net *n)
{
	struct virtq *vq = n->vq[TXQ];
	struct virtq_chain c = { .iov = n->iov, .iov_cap = n->qsize };
	unsigned int budget = NET_BUDGET;
	bool pushed = false;

	for (;;) {
		virtq_disable_notify(vq);
		while (budget) {
			enum virtq_pop_result r = virtq_pop(vq, &c);

			if (r == VIRTQ_EMPTY)
				break;
			if (r == VIRTQ_BROKEN) {
				queue_broken(n, TXQ);
				goto out;
			}
			if (r == VIRTQ_OK)
				tx_one(n, &c);
			else
				stat_add(&n->st.tx_bad_chains, 1);
			virtq_push(vq, c.head, 0);
			pushed = true;
			budget--;
		}
		if (!budget) {
			/* Come back after the other handlers had their turn;
			 * notifications stay off, so kick ourselves. */
			virtio_dev_rekick(n->kick[TXQ]);
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
out:
	if (pushed)
		net_irq(n, TXQ);
}

/* ---- RX: TAP -> guest ---- */

enum rx_take { TAKE_EMPTY, TAKE_OK, TAKE_BROKEN };

/* Next usable receive chain into *c; malformed ones go straight back. */
static enum rx_take rx_take(struct virtio_net *n, struct virtq_chain *c,
			    size_t min_len, bool *pushed)
{
	struct virtq *vq = n->vq[RXQ];

	for (;;) {
		enum virtq_pop_result r = virtq_pop(vq, c);

		if (r == VIRTQ_EMPTY) {
			/* Ask for a kick, then look once more: a buffer
			 * added meanwhile would not kick. */
			if (virtq_enable_notify(vq))
				continue;
			return TAKE_EMPTY;
		}
		if (r == VIRTQ_BROKEN)
			return TAKE_BROKEN;
		if (r == VIRTQ_OK && !c->nout && c->in_len >= min_len &&
		    c->in_len > 0)
			return TAKE_OK;
		stat_add(&n->st.rx_bad_chains, 1);
		virtq_push(vq, c->head, 0);
		*pushed = true;
		if (n->rx_pending)
			n->held_gap = true;
	}
}

static void rx_publish(struct virtio_net *n, uint16_t nbuf, size_t len)
{
	uint8_t nb[2];

	put_le16(nb, nbuf);
	virtq_chain_write(&n->first, NET_HDR_NUMBUF, nb, sizeof(nb));
	stat_add(&n->st.rx_packets, 1);
	stat_add(&n->st.rx_bytes, len - NET_HDR_LEN);
}

/* Spreads the rest of the pending packet over further chains. Returns
 * TAKE_OK once it is published, TAKE_EMPTY when out of buffers. */
static enum rx_take rx_continue(struct virtio_net *n, bool *pushed)
{
	struct virtq *vq = n->vq[RXQ];
	struct virtq_chain c = { .iov = n->iov, .iov_cap = n->qsize };

	while (n->pkt_done < n->pkt_len) {
		enum rx_take r;
		size_t chunk;

		if (n->nheld == n->qsize) {
			/* The guest's whole ring cannot hold the packet
			 * (or the ring repeats heads): give it all back. */
			for (unsigned int i = 0; i < n->nheld; i++)
				virtq_push(vq, n->held[i].head, 0);
			*pushed = true;
			n->rx_pending = false;
			stat_add(&n->st.rx_dropped, 1);
			return TAKE_OK;
		}
		r = rx_take(n, &c, 1, pushed);
		if (r != TAKE_OK)
			return r;
		chunk = n->pkt_len - n->pkt_done;
		if (chunk > c.in_len)
			chunk = c.in_len;
		virtq_chain_write(&c, 0, n->bounce + (n->pkt_done - n->bounce_base),
				  chunk);
		n->held[n->nheld++] = (struct held){ c.head, (uint32_t)chunk };
		n->pkt_done += chunk;
	}
	rx_publish(n, (uint16_t)n->nheld, n->pkt_len);
	for (unsigned int i = 0; i < n->nheld; i++)
		virtq_push(vq, n->held[i].head, n->held[i].len);
	*pushed = true;
	n->rx_pending = false;
	return TAKE_OK;
}

/* Reads one packet into n->first (and the bounce buffer beyond it).
 * Returns bytes read, 0 when the fd has nothing, -1 when it is dead. */
static ssize_t rx_read(struct virtio_net *n)
{
	const struct virtq_chain *f = &n->first;
	int cnt = 0;
	ssize_t got;

	n->bounce_base = 0;
	if (f->nin < IOV_MAX) {
		memcpy(n->rd_iov, f->iov + f->nout, f->nin * sizeof(*n->rd_iov));
		cnt = (int)f->nin;
		n->bounce_base = f->in_len;
	}
	n->rd_iov[cnt++] = (struct iovec){ n->bounce, NET_MAX_PKT };
	do
		got = readv(n->fd, n->rd_iov, cnt);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (got == 0)
		return -1; /* a packet socket whose peer is gone */
	if (n->bounce_base == 0)
		virtq_chain_write(f, 0, n->bounce, (size_t)got);
	return got;
}

static void rx_set_polling(struct virtio_net *n, bool want)
{
	if (!n->fd_watched || n->fd_polled == want)
		return;
	if (ev_loop_mod(n->loop, n->fd, want ? EPOLLIN : 0, NULL) == 0)
		n->fd_polled = want;
}

static void rx_fd_dead(struct virtio_net *n)
{
	n->fd_dead = true;
	if (n->fd_watched)
		ev_loop_del(n->loop, n->fd);
	n->fd_watched = false;
	n->fd_polled = false;
}

static void rx_process(struct virtio_net *n)
{
	struct virtq *vq = n->vq[RXQ];
	unsigned int budget = NET_BUDGET;
	bool pushed = false, starved = false;

	if (n->queue_dead[RXQ])
		return;
	while (budget--) {
		enum rx_take r = TAKE_OK;
		ssize_t got;

		if (n->rx_pending) {
			r = rx_continue(n, &pushed);
			if (r == TAKE_OK)
				continue;
		} else if (!n->have_first) {
			r = rx_take(n, &n->first, NET_HDR_LEN, &pushed);
			n->have_first = r == TAKE_OK;
		}
		if (r == TAKE_BROKEN) {
			queue_broken(n, RXQ);
			break;
		}
		if (r == TAKE_EMPTY) {
			starved = true;
			break;
		}
		if (n->fd_dead)
			break;
		got = rx_read(n);
		if (got < 0) {
			rx_fd_dead(n);
			break;
		}
		if (got == 0)
			break;
		if (got < NET_HDR_LEN) {
			stat_add(&n->st.rx_dropped, 1);
			continue; /* n->first is reused for the next one */
		}
		if ((size_t)got <= n->first.in_len) {
			rx_publish(n, 1, (size_t)got);
			virtq_push(vq, n->first.head, (uint32_t)got);
			n->have_first = false;
			pushed = true;
			continue;
		}
		if (!n->mrg || (size_t)got >= n->bounce_base + NET_MAX_PKT) {
			/* Does not fit one buffer and may not be merged (or
			 * was truncated to our own limit). */
			stat_add(&n->st.rx_dropped, 1);
			continue;
		}
		n->have_first = false;
		n->rx_pending = true;
		n->held_gap = false;
		n->pkt_len = (size_t)got;
		n->pkt_done = n->first.in_len;
		n->held[0] = (struct held){ n->first.head,
					    (uint32_t)n->first.in_len };
		n->nheld = 1;
	}
	if (starved && n->fd_polled)
		stat_add(&n->st.rx_stalls, 1);
	rx_set_polling(n, !starved && !n->queue_dead[RXQ]);
	if (pushed)
		net_irq(n, RXQ);
}

/* ---- I/O thread handlers ---- */

static void on_rx_kick(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	stat_add(&n->st.rx_kicks, virtio_dev_drain(n->kick[RXQ]));
	rx_process(n);
}

static void on_tx_kick(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	stat_add(&n->st.tx_kicks, virtio_dev_drain(n->kick[TXQ]));
	if (!n->queue_dead[TXQ])
		tx_process(n);
}

static void on_tap(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	if (events & EPOLLIN)
		rx_process(n);
	if ((events & (EPOLLERR | EPOLLHUP)) && !n->fd_dead)
		rx_fd_dead(n);
}

/* ---- activate / reset ---- */

static void net_reset(void *dev);

/* ---- vhost-net: the kernel moves the packets ---- */

static void on_vhost_call(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	for (unsigned int q = 0; q < NET_NQUEUES; q++) {
		if (virtio_dev_drain(n->call[q])) {
			stat_add(&n->st.irqs, 1);
			n->host.queue_irq(n->host.ctx, q);
		}
	}
}

static int vhost_attach(struct virtio_net *n, struct rv_err *err)
{
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		if (vhost_net_set_backend(&n->vh, q, n->fd, err) < 0)
			return -1;
	n->vhost_running = true;
	return 0;
}

/* Detaches the TAP (the kernel stops serving) and records where each
 * queue stopped. */
static void vhost_detach(struct virtio_net *n)
{
	struct rv_err err;

	if (!n->vhost_running)
		return;
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		if (vhost_net_set_backend(&n->vh, q, -1, &err) < 0 ||
		    vhost_net_queue_base(&n->vh, q, &n->base[q], &err) < 0)
			fprintf(stderr, "ringvm: virtio-net: %s\n", err.msg);
	n->vhost_running = false;
}

static int vhost_activate(struct virtio_net *n)
{
	/* What the kernel needs to know of the negotiated features: the
	 * ring and header layout ones; the offloads are the TAP's. */
	uint64_t f = n->features & n->vh.features;
	struct rv_err err;

	if (virtio_dev_bind_host(&n->host, NET_NQUEUES, n->vq, n->kick) < 0)
		return -1;
	if (vhost_net_setup(&n->vh, f, n->mem, &err) < 0)
		goto fail;
	for (unsigned int q = 0; q < NET_NQUEUES; q++) {
		struct virtq *vq = n->vq[q];

		n->base[q] = 0;
		if (vhost_net_start_queue(&n->vh, q, vq->size, vq->desc,
					  vq->avail, vq->used, 0, n->kick[q],
					  n->call[q], &err) < 0)
			goto fail;
	}
	if (ev_loop_add(n->loop, n->call[RXQ], EPOLLIN, on_vhost_call, n,
			&err) < 0 ||
	    ev_loop_add(n->loop, n->call[TXQ], EPOLLIN, on_vhost_call, n,
			&err) < 0 ||
	    vhost_attach(n, &err) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "ringvm: virtio-net: %s\n", err.msg);
	virtio_dev_unwatch(n->loop, n->call, NET_NQUEUES);
	vhost_detach(n);
	return -1;
}

static int net_activate(void *dev)
{
	struct virtio_net *n = dev;

	if (n->use_vhost)
		return vhost_activate(n);
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		n->queue_dead[q] = false;
	if (virtio_dev_bind_host(&n->host, NET_NQUEUES, n->vq, n->kick) < 0)
		return -1;
	n->mrg = n->features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	n->have_first = false;
	n->rx_pending = false;
	n->nheld = 0;
	n->fd_watched = n->fd_polled = false;
	/* A hung-up TAP fd is never watched again. */
	if (virtio_dev_watch(n->loop, (const struct virtio_dev_watch[]){
		{ n->kick[RXQ], on_rx_kick },
		{ n->kick[TXQ], on_tx_kick },
		{ n->fd, on_tap },
	}, n->fd_dead ? 2 : 3, n) < 0)
		return -1;
	n->fd_watched = n->fd_polled = !n->fd_dead;
	return 0;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	if (n->use_vhost) {
		vhost_detach(n);
		virtio_dev_unwatch(n->loop, n->call, NET_NQUEUES);
		for (unsigned int q = 0; q < NET_NQUEUES; q++) {
			virtio_dev_drain(n->call[q]);
			n->vq[q] = NULL;
		}
		return;
	}
	/* After these the handlers are not running and never will again, so
	 * the state below is ours and no guest memory is touched. */
	virtio_dev_unwatch(n->loop, (const int[]){ n->kick[RXQ], n->kick[TXQ],
						    n->fd }, 3);
	n->fd_watched = n->fd_polled = false;
	n->have_first = false;
	n->rx_pending = false;
	n->nheld = 0;
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		n->vq[q] = NULL;
}

/* On the I/O thread, pausing: give back the receive chains held for the
 * next packet (untaken, so the ring indices say it all) and drop a packet
 * half spread over chains (a lost frame, as on a real link). */
static void rx_release(void *opaque)
{
	struct virtio_net *n = opaque;
	struct virtq *vq = n->vq[RXQ];

	if (!vq)
		return;
	/* The receive chain in `first` is always the last one taken. */
	if (n->have_first)
		virtq_unpop(vq, 1);
	n->have_first = false;
	if (n->rx_pending) {
		if (!n->held_gap) {
			virtq_unpop(vq, (uint16_t)n->nheld);
		} else {
			for (unsigned int i = 0; i < n->nheld; i++)
				virtq_push(vq, n->held[i].head, 0);
			net_irq(n, RXQ);
		}
		stat_add(&n->st.rx_dropped, 1);
	}
	n->rx_pending = false;
	n->nheld = 0;
}

static void net_pause(void *dev)
{
	struct virtio_net *n = dev;

	if (n->use_vhost) {
		/* The kernel's queues stop where they are; the interrupts of
		 * what it finished still reach the guest on resume. */
		vhost_detach(n);
		ev_loop_pause(n->loop);
		return;
	}
	/* Park the I/O thread first, then give the chains back on it (calls
	 * still run while paused). The other way round, a packet arriving
	 * between the two let a handler take a receive chain again, held
	 * through the pause and lost to a snapshot. */
	ev_loop_pause(n->loop);
	ev_loop_call(n->loop, rx_release, n);
}

static void net_resume(void *dev)
{
	struct virtio_net *n = dev;
	struct rv_err err;

	ev_loop_resume(n->loop);
	if (!n->use_vhost || !n->vq[RXQ])
		return;
	/* Detached, the kernel takes a new base; then the TAP again. */
	for (unsigned int q = 0; q < NET_NQUEUES; q++) {
		struct virtq *vq = n->vq[q];

		if (vhost_net_start_queue(&n->vh, q, vq->size, vq->desc,
					  vq->avail, vq->used, n->base[q],
					  n->kick[q], n->call[q], &err) < 0)
			goto fail;
	}
	if (vhost_attach(n, &err) == 0)
		return;
fail:
	fprintf(stderr, "ringvm: virtio-net: resuming: %s\n", err.msg);
	n->host.needs_reset(n->host.ctx);
}

static const struct virtio_dev_ops net_ops = {
	.config_read = net_config_read,
	.set_features = net_set_features,
	.activate = net_activate,
	.reset = net_reset,
	.pause = net_pause,
	.resume = net_resume,
};

/* ---- construction ---- */

static int net_open_fd(struct virtio_net *n, const struct virtio_net_opts *o,
		       struct rv_err *err)
{
	int fl;

	/* A name wins: a zero-initialised tap_fd (0, stdin) is no TAP. */
	if (o->tap || o->tap_fd < 0) {
		n->fd = tap_open(o->tap, NET_HDR_LEN, err);
		if (n->fd < 0)
			return -1;
		n->own_fd = true;
		n->is_tap = true;
		return 0;
	}
	/* A caller's fd: a TAP gets the same setup, anything else (a packet
	 * socket in tests) is used as is. */
	n->fd = o->tap_fd;
	n->is_tap = tap_is_tap(n->fd);
	if (n->is_tap && tap_setup_fd(n->fd, NET_HDR_LEN, err) < 0)
		return -1;
	fl = fcntl(n->fd, F_GETFL);
	if (fl < 0 || fcntl(n->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return rv_fail_errno(err, "virtio-net: cannot make fd %d non-blocking",
				     n->fd);
	return 0;
}

/* Frees what virtio_net_new allocated or opened, after the loop is gone. */
static void net_release(struct virtio_net *n)
{
	if (n->use_vhost)
		vhost_net_close(&n->vh);
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		if (n->call[q] >= 0)
			close(n->call[q]);
	if (n->own_fd)
		close(n->fd);
	free(n->iov);
	free(n->first_iov);
	free(n->rd_iov);
	free(n->held);
	free(n->bounce);
	free(n->txbuf);
	free(n);
}

/* vhost=on: the kernel's data path must handle the ring layout ringvm's
 * transport always offers; mergeable buffers only if it has them. */
static int vhost_setup(struct virtio_net *n, uint64_t *features,
		       struct rv_err *err)
{
	const uint64_t need = 1ull << VIRTIO_F_VERSION_1 |
			      1ull << VIRTIO_RING_F_EVENT_IDX |
			      1ull << VIRTIO_RING_F_INDIRECT_DESC;

	if (!n->is_tap)
		return rv_fail(err, "virtio-net: vhost=on needs a TAP");
	if (vhost_net_open(&n->vh, err) < 0)
		return -1;
	n->use_vhost = true;
	if ((n->vh.features & need) != need)
		return rv_fail(err, "vhost-net: the kernel lacks VERSION_1, EVENT_IDX or INDIRECT_DESC (features %#llx)",
			       (unsigned long long)n->vh.features);
	if (!(n->vh.features & (1ull << VIRTIO_NET_F_MRG_RXBUF)))
		*features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	for (unsigned int q = 0; q < NET_NQUEUES; q++) {
		n->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->call[q] < 0)
			return rv_fail_errno(err, "eventfd");
	}
	return 0;
}

/* The device without its transport: buffers, config space, the TAP (and
 * vhost-net), the I/O thread. */
static struct virtio_net *net_create(const struct virtio_net_opts *o,
				     const struct guest_mem *mem,
				     uint64_t *features, struct rv_err *err)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	uint16_t qs = o->queue_size ? o->queue_size : NET_DEFAULT_QSIZE;

	if (!n) {
		rv_fail(err, "virtio-net: out of memory");
		return NULL;
	}
	n->fd = -1;
	n->vh.fd = -1;
	n->call[RXQ] = n->call[TXQ] = -1;
	n->mem = mem;
	if (qs > VIRTQ_MAX_SIZE || (qs & (qs - 1))) {
		rv_fail(err, "virtio-net: queue size %u is not a power of two <= %u",
			qs, VIRTQ_MAX_SIZE);
		goto fail;
	}
	n->qsize = qs;
	n->iov = calloc(qs, sizeof(*n->iov));
	n->first_iov = calloc(qs, sizeof(*n->first_iov));
	n->rd_iov = calloc((size_t)qs + 1, sizeof(*n->rd_iov));
	n->held = calloc(qs, sizeof(*n->held));
	n->bounce = malloc(NET_MAX_PKT);
	n->txbuf = malloc(NET_MAX_PKT);
	if (!n->iov || !n->first_iov || !n->rd_iov || !n->held || !n->bounce ||
	    !n->txbuf) {
		rv_fail(err, "virtio-net: out of memory");
		goto fail;
	}
	n->first = (struct virtq_chain){ .iov = n->first_iov, .iov_cap = qs };
	memcpy(n->config, o->mac, 6);
	put_le16(n->config + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + 8, 1);          /* max_virtqueue_pairs */
	put_le16(n->config + 10, NET_MTU);   /* valid only with F_MTU */
	if (net_open_fd(n, o, err) < 0)
		goto fail;
	*features = NET_FEATURES;
	if (o->vhost && vhost_setup(n, features, err) < 0)
		goto fail;
	n->loop = ev_loop_new("virtio-net", err);
	if (!n->loop || ev_loop_start(n->loop, err) < 0)
		goto fail;
	return n;
fail:
	ev_loop_free(n->loop);
	net_release(n);
	return NULL;
}

struct virtio_net *virtio_net_new(const struct virtio_net_opts *o,
				  const struct guest_mem *mem,
				  struct msix_sink sink, struct rv_err *err)
{
	struct virtio_pci_config cfg = {
		.device_type = VIRTIO_ID_NET,
		.class_code = 0x020000,      /* network, ethernet */
		.nqueues = NET_NQUEUES,
		.config_len = NET_CONFIG_LEN,
		.ops = &net_ops,
		.mem = mem,
		.sink = sink,
	};
	struct virtio_net *n = net_create(o, mem, &cfg.features, err);

	if (!n)
		return NULL;
	cfg.queue_max = n->qsize;
	cfg.dev = n;
	if (virtio_pci_init(&n->t, &cfg, err) < 0) {
		ev_loop_free(n->loop);
		net_release(n);
		return NULL;
	}
	n->host = virtio_pci_queue_host(&n->t);
	return n;
}

struct virtio_net *virtio_net_new_served(const struct virtio_net_opts *o,
					 const struct guest_mem *mem,
					 struct virtio_queue_host host,
					 struct virtio_served_dev *model,
					 struct rv_err *err)
{
	struct virtio_net *n;

	if (o->vhost) {
		rv_fail(err, "virtio-net: a back end does not hand its queues on to vhost-net");
		return NULL;
	}
	n = net_create(o, mem, &model->features, err);
	if (!n)
		return NULL;
	n->served = true;
	n->host = host;
	model->device_type = VIRTIO_ID_NET;
	model->nqueues = NET_NQUEUES;
	model->queue_max = n->qsize;
	model->config_len = NET_CONFIG_LEN;
	model->ops = &net_ops;
	model->dev = n;
	return n;
}

void virtio_net_free(struct virtio_net *n)
{
	if (!n)
		return;
	if (!n->served)
		virtio_pci_destroy(&n->t);
	ev_loop_free(n->loop);
	net_release(n);
}

struct virtio_pci *virtio_net_transport(struct virtio_net *n)
{
	return n->served ? NULL : &n->t;
}

struct ev_loop *virtio_net_loop(struct virtio_net *n)
{
	return n->loop;
}

void virtio_net_print_stats(struct virtio_net *n, const char *prefix,
			    FILE *out)
{
	const struct virtio_dev_stat rows[] = {
		{ "rx_packets", &n->st.rx_packets, "packets" },
		{ "rx_bytes", &n->st.rx_bytes, "bytes" },
		{ "tx_packets", &n->st.tx_packets, "packets" },
		{ "tx_bytes", &n->st.tx_bytes, "bytes" },
		{ "rx_kicks", &n->st.rx_kicks, "notifications" },
		{ "tx_kicks", &n->st.tx_kicks, "notifications" },
		{ "interrupts", &n->st.irqs, "interrupts" },
		{ "rx_dropped", &n->st.rx_dropped, "packets" },
		{ "rx_no_buffer_stalls", &n->st.rx_stalls, "stalls" },
		{ "rx_bad_chains", &n->st.rx_bad_chains, "chains" },
		{ "tx_bad_chains", &n->st.tx_bad_chains, "chains" },
		{ "tx_dropped", &n->st.tx_dropped, "packets" },
	};

	virtio_dev_print_stats(out, prefix, rows,
			       sizeof(rows) / sizeof(rows[0]));
	/* 1: the kernel's vhost-net moved the packets (the packet and byte
	 * counters above then stay 0: ringvm never sees them). */
	fprintf(out, "%s_vhost %d flag\n", prefix, n->use_vhost);
}

bool virtio_net_uses_vhost(const struct virtio_net *n)
{
	return n->use_vhost;
}

/* ---- snapshot ---- */

#define NET_SECTION_VERSION 1

void virtio_net_save(struct virtio_net *n, struct state_writer *w,
		     const char *name)
{
	char sec[STATE_NAME_MAX + 1];

	snprintf(sec, sizeof(sec), "%s.net", name);
	state_begin(w, sec, NET_SECTION_VERSION);
	state_put_bytes(w, n->config, NET_CONFIG_LEN);
	state_end(w);
	virtio_pci_save(&n->t, w, name);
}

int virtio_net_load(struct virtio_net *n, const struct state_reader *r,
		    const char *name, struct rv_err *err)
{
	char sec[STATE_NAME_MAX + 1];
	uint8_t cfg[NET_CONFIG_LEN];
	struct state_cursor c;

	snprintf(sec, sizeof(sec), "%s.net", name);
	if (state_section(r, sec, NET_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	state_get_bytes(&c, cfg, sizeof(cfg));
	/* The driver read its MAC once: the restored NIC must keep it. */
	if (!c.bad && memcmp(cfg, n->config, 6))
		state_cursor_reject(&c, "the NIC's MAC address differs");
	if (state_cursor_finish(&c, err) < 0)
		return -1;
	memcpy(n->config, cfg, sizeof(cfg));
	return virtio_pci_load(&n->t, r, name, err);
}
