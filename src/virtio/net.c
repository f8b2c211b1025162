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
 * and the TAP instead (net_vhost.c). Features, configuration, the control
 * queue and the TAP's offloads stay here. */
#include "virtio/net.h"
#include "virtio/net_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backends/tap.h"
#include "util/event_loop.h"
#include "util/le.h"
#include "virtio/virtio_dev_common.h"

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
	for (unsigned int i = 0; i < n->npairs; i++)
		if (tap_set_offload(n->pair[i].fd, off, NULL) < 0)
			tap_set_offload(n->pair[i].fd, 0, NULL);
	return 0;
}

/* ---- interrupts and queue failure ---- */

static void net_irq(struct net_pair *p, unsigned int q)
{
	struct virtio_net *n = p->n;

	if (virtq_should_notify(p->vq[q])) {
		stat_add(&n->st.irqs, 1);
		n->host.queue_irq(n->host.ctx, 2 * p->idx + q);
	}
}

static void queue_broken(struct net_pair *p, unsigned int q)
{
	struct virtio_net *n = p->n;

	p->queue_dead[q] = true;
	n->host.needs_reset(n->host.ctx);
}

/* ---- TX: guest -> TAP ---- */

static ssize_t tx_write(struct net_pair *p, const struct virtq_chain *c)
{
	if (c->nout <= IOV_MAX)
		return writev(p->fd, c->iov, (int)c->nout);
	/* More segments than writev takes: one record must stay one write. */
	virtq_chain_read(c, 0, p->txbuf, c->out_len);
	return write(p->fd, p->txbuf, c->out_len);
}

static void tx_one(struct net_pair *p, struct virtq_chain *c)
{
	struct virtio_net *n = p->n;
	ssize_t w;

	if (c->nin || c->out_len < NET_HDR_LEN || c->out_len > NET_MAX_PKT ||
	    p->fd_dead) {
		stat_add(p->fd_dead ? &n->st.tx_dropped : &n->st.tx_bad_chains, 1);
		return;
	}
	do
		w = tx_write(p, c);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* EAGAIN/ENOBUFS (host backlog) or EINVAL (a header the kernel
		 * refuses): the frame is lost, as on a real wire. */
		stat_add(&n->st.tx_dropped, 1);
		return;
	}
	stat_add(&n->st.tx_packets, 1);
	stat_add(&p->tx_packets, 1);
	stat_add(&n->st.tx_bytes, c->out_len - NET_HDR_LEN);
}

static void tx_process(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct virtq *vq = p->vq[TXQ];
	struct virtq_chain c = { .iov = p->iov, .iov_cap = n->qsize };
	unsigned int budget = NET_BUDGET;
	bool pushed = false;

	for (;;) {
		virtq_disable_notify(vq);
		while (budget) {
			enum virtq_pop_result r = virtq_pop(vq, &c);

			if (r == VIRTQ_EMPTY)
				break;
			if (r == VIRTQ_BROKEN) {
				queue_broken(p, TXQ);
				goto out;
			}
			if (r == VIRTQ_OK)
				tx_one(p, &c);
			else
				stat_add(&n->st.tx_bad_chains, 1);
			virtq_push(vq, c.head, 0);
			pushed = true;
			budget--;
		}
		if (!budget) {
			/* Come back after the other handlers had their turn;
			 * notifications stay off, so kick ourselves. */
			virtio_dev_rekick(p->kick[TXQ]);
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
out:
	if (pushed)
		net_irq(p, TXQ);
}

/* ---- RX: TAP -> guest ---- */

enum rx_take { TAKE_EMPTY, TAKE_OK, TAKE_BROKEN };

/* Next usable receive chain into *c; malformed ones go straight back. */
static enum rx_take rx_take(struct net_pair *p, struct virtq_chain *c,
			    size_t min_len, bool *pushed)
{
	struct virtio_net *n = p->n;
	struct virtq *vq = p->vq[RXQ];

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
		if (p->rx_pending)
			p->held_gap = true;
	}
}

static void rx_publish(struct net_pair *p, uint16_t nbuf, size_t len)
{
	struct virtio_net *n = p->n;
	uint8_t nb[2];

	put_le16(nb, nbuf);
	virtq_chain_write(&p->first, NET_HDR_NUMBUF, nb, sizeof(nb));
	stat_add(&n->st.rx_packets, 1);
	stat_add(&p->rx_packets, 1);
	stat_add(&n->st.rx_bytes, len - NET_HDR_LEN);
}

/* Spreads the rest of the pending packet over further chains. Returns
 * TAKE_OK once it is published, TAKE_EMPTY when out of buffers. */
static enum rx_take rx_continue(struct net_pair *p, bool *pushed)
{
	struct virtio_net *n = p->n;
	struct virtq *vq = p->vq[RXQ];
	struct virtq_chain c = { .iov = p->iov, .iov_cap = n->qsize };

	while (p->pkt_done < p->pkt_len) {
		enum rx_take r;
		size_t chunk;

		if (p->nheld == n->qsize) {
			/* The guest's whole ring cannot hold the packet
			 * (or the ring repeats heads): give it all back. */
			for (unsigned int i = 0; i < p->nheld; i++)
				virtq_push(vq, p->held[i].head, 0);
			*pushed = true;
			p->rx_pending = false;
			stat_add(&n->st.rx_dropped, 1);
			return TAKE_OK;
		}
		r = rx_take(p, &c, 1, pushed);
		if (r != TAKE_OK)
			return r;
		chunk = p->pkt_len - p->pkt_done;
		if (chunk > c.in_len)
			chunk = c.in_len;
		virtq_chain_write(&c, 0, p->bounce + (p->pkt_done - p->bounce_base),
				  chunk);
		p->held[p->nheld++] = (struct held){ c.head, (uint32_t)chunk };
		p->pkt_done += chunk;
	}
	rx_publish(p, (uint16_t)p->nheld, p->pkt_len);
	for (unsigned int i = 0; i < p->nheld; i++)
		virtq_push(vq, p->held[i].head, p->held[i].len);
	*pushed = true;
	p->rx_pending = false;
	return TAKE_OK;
}

/* Reads one packet into p->first (and the bounce buffer beyond it).
 * Returns bytes read, 0 when the fd has nothing, -1 when it is dead. */
static ssize_t rx_read(struct net_pair *p)
{
	const struct virtq_chain *f = &p->first;
	int cnt = 0;
	ssize_t got;

	p->bounce_base = 0;
	if (f->nin < IOV_MAX) {
		memcpy(p->rd_iov, f->iov + f->nout, f->nin * sizeof(*p->rd_iov));
		cnt = (int)f->nin;
		p->bounce_base = f->in_len;
	}
	p->rd_iov[cnt++] = (struct iovec){ p->bounce, NET_MAX_PKT };
	do
		got = readv(p->fd, p->rd_iov, cnt);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (got == 0)
		return -1; /* a packet socket whose peer is gone */
	if (p->bounce_base == 0)
		virtq_chain_write(f, 0, p->bounce, (size_t)got);
	return got;
}

static void rx_set_polling(struct net_pair *p, bool want)
{
	struct virtio_net *n = p->n;

	if (!p->fd_watched || p->fd_polled == want)
		return;
	if (ev_loop_mod(n->loop, p->fd, want ? EPOLLIN : 0, NULL) == 0)
		p->fd_polled = want;
}

static void rx_fd_dead(struct net_pair *p)
{
	struct virtio_net *n = p->n;

	p->fd_dead = true;
	if (p->fd_watched)
		ev_loop_del(n->loop, p->fd);
	p->fd_watched = false;
	p->fd_polled = false;
}

static void rx_process(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct virtq *vq = p->vq[RXQ];
	unsigned int budget = NET_BUDGET;
	bool pushed = false, starved = false;

	if (p->queue_dead[RXQ])
		return;
	while (budget--) {
		enum rx_take r = TAKE_OK;
		ssize_t got;

		if (p->rx_pending) {
			r = rx_continue(p, &pushed);
			if (r == TAKE_OK)
				continue;
		} else if (!p->have_first) {
			r = rx_take(p, &p->first, NET_HDR_LEN, &pushed);
			p->have_first = r == TAKE_OK;
		}
		if (r == TAKE_BROKEN) {
			queue_broken(p, RXQ);
			break;
		}
		if (r == TAKE_EMPTY) {
			starved = true;
			break;
		}
		if (p->fd_dead)
			break;
		got = rx_read(p);
		if (got < 0) {
			rx_fd_dead(p);
			break;
		}
		if (got == 0)
			break;
		if (got < NET_HDR_LEN) {
			stat_add(&n->st.rx_dropped, 1);
			continue; /* p->first is reused for the next one */
		}
		if ((size_t)got <= p->first.in_len) {
			rx_publish(p, 1, (size_t)got);
			virtq_push(vq, p->first.head, (uint32_t)got);
			p->have_first = false;
			pushed = true;
			continue;
		}
		if (!n->mrg || (size_t)got >= p->bounce_base + NET_MAX_PKT) {
			/* Does not fit one buffer and may not be merged (or
			 * was truncated to our own limit). */
			stat_add(&n->st.rx_dropped, 1);
			continue;
		}
		p->have_first = false;
		p->rx_pending = true;
		p->held_gap = false;
		p->pkt_len = (size_t)got;
		p->pkt_done = p->first.in_len;
		p->held[0] = (struct held){ p->first.head,
					    (uint32_t)p->first.in_len };
		p->nheld = 1;
	}
	if (starved && p->fd_polled)
		stat_add(&n->st.rx_stalls, 1);
	rx_set_polling(p, !starved && !p->queue_dead[RXQ]);
	if (pushed)
		net_irq(p, RXQ);
}

/* ---- I/O thread handlers ---- */

static void on_rx_kick(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;
	struct virtio_net *n = p->n;

	(void)events;
	stat_add(&n->st.rx_kicks, virtio_dev_drain(p->kick[RXQ]));
	rx_process(p);
}

static void on_tx_kick(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;
	struct virtio_net *n = p->n;

	(void)events;
	stat_add(&n->st.tx_kicks, virtio_dev_drain(p->kick[TXQ]));
	if (!p->queue_dead[TXQ])
		tx_process(p);
}

static void on_tap(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;

	if (events & EPOLLIN)
		rx_process(p);
	if ((events & (EPOLLERR | EPOLLHUP)) && !p->fd_dead)
		rx_fd_dead(p);
}

/* ---- multiqueue: the control queue and the TAP's queues ---- */

/* Attaches or detaches pair p's TAP queue (TUNSETQUEUE): the kernel
 * spreads received packets over attached queues only, so a pair the
 * driver does not use must not collect any. */
static void pair_attach(struct net_pair *p, bool on)
{
	struct virtio_net *n = p->n;

	if (p->attached == on || !n->is_tap || n->npairs == 1)
		return;
	if (tap_set_queue(p->fd, on, NULL) == 0)
		p->attached = on;
}

/* Pairs [0, k) in use: watched and attached; the others neither. With
 * vhost the kernel watches the TAP; only the attachment is ours. */
void net_set_active(struct virtio_net *n, unsigned int k)
{
	struct rv_err err;

	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];
		bool on = i < k;

		if (n->use_vhost)
			pair_attach(p, on);
		else if (on && !p->fd_watched && !p->fd_dead && p->vq[RXQ]) {
			pair_attach(p, true);
			if (ev_loop_add(n->loop, p->fd, EPOLLIN, on_tap, p, &err) == 0)
				p->fd_watched = p->fd_polled = true;
		} else if (!on && p->fd_watched) {
			ev_loop_del(n->loop, p->fd);
			p->fd_watched = p->fd_polled = false;
			pair_attach(p, false);
		} else if (!on) {
			pair_attach(p, false);
		}
	}
	n->active = k;
}

/* One command: class, command, its data, and the ack byte the driver
 * reads (virtio 1.2, 5.1.6.5). Only VQ_PAIRS_SET is known. */
static uint8_t ctrl_command(struct virtio_net *n, const struct virtq_chain *c)
{
	uint8_t hdr[2], pairs[2];
	unsigned int k;

	if (virtq_chain_read(c, 0, hdr, 2) != 2 ||
	    hdr[0] != VIRTIO_NET_CTRL_MQ ||
	    hdr[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    virtq_chain_read(c, 2, pairs, 2) != 2)
		return VIRTIO_NET_ERR;
	k = get_le16(pairs);
	if (k < 1 || k > n->npairs)
		return VIRTIO_NET_ERR;
	net_set_active(n, k);
	atomic_store(&n->requested, k);
	return VIRTIO_NET_OK;
}

static void on_ctrl_kick(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	struct virtq_chain c = { .iov = n->ctrl_iov, .iov_cap = NET_CTRL_IOV };
	bool pushed = false;

	(void)events;
	virtio_dev_drain(n->ctrl_kick);
	for (;;) {
		enum virtq_pop_result r = virtq_pop(n->ctrl_vq, &c);
		uint8_t ack;

		if (r == VIRTQ_EMPTY)
			break;
		if (r == VIRTQ_BROKEN) {
			n->host.needs_reset(n->host.ctx);
			return;
		}
		/* A command without room for its ack cannot be answered. */
		if (r != VIRTQ_OK || c.in_len == 0) {
			virtq_push(n->ctrl_vq, c.head, 0);
			pushed = true;
			continue;
		}
		ack = ctrl_command(n, &c);
		virtq_chain_write(&c, c.in_len - 1, &ack, 1);
		virtq_push(n->ctrl_vq, c.head, (uint32_t)c.in_len);
		pushed = true;
	}
	if (pushed && virtq_should_notify(n->ctrl_vq)) {
		stat_add(&n->st.irqs, 1);
		n->host.queue_irq(n->host.ctx, 2 * n->npairs);
	}
}

/* ---- activate / reset ---- */

int net_start_pairs(struct virtio_net *n, struct rv_err *err)
{
	if (n->ctrl_vq &&
	    ev_loop_add(n->loop, n->ctrl_kick, EPOLLIN, on_ctrl_kick, n, err) < 0)
		return -1;
	/* One pair until the driver asks for more (5.1.6.5.5). */
	net_set_active(n, 1);
	return 0;
}

/* Queue q of the device: pair q / 2 (RX, TX), or the control queue. */
int net_bind_all(struct virtio_net *n)
{
	struct virtq *vq[2 * NET_MAX_PAIRS + 1];
	int kick[2 * NET_MAX_PAIRS + 1];
	unsigned int nq = 2 * n->npairs + (n->npairs > 1);

	if (virtio_dev_bind_host(&n->host, nq, vq, kick) < 0)
		return -1;
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		p->vq[RXQ] = vq[2 * i];
		p->vq[TXQ] = vq[2 * i + 1];
		p->kick[RXQ] = kick[2 * i];
		p->kick[TXQ] = kick[2 * i + 1];
	}
	n->ctrl_vq = n->npairs > 1 ? vq[2 * n->npairs] : NULL;
	n->ctrl_kick = n->npairs > 1 ? kick[2 * n->npairs] : -1;
	return 0;
}

static int net_activate(void *dev)
{
	struct virtio_net *n = dev;
	struct rv_err err;

	if (n->use_vhost)
		return net_vhost_activate(n);
	if (net_bind_all(n) < 0)
		return -1;
	n->mrg = n->features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		p->queue_dead[RXQ] = p->queue_dead[TXQ] = false;
		p->have_first = false;
		p->rx_pending = false;
		p->nheld = 0;
		p->fd_watched = p->fd_polled = false;
	}
	/* Kick handlers get their pair. Pending kicks fire at once. */
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		if (ev_loop_add(n->loop, p->kick[RXQ], EPOLLIN, on_rx_kick, p, &err) < 0 ||
		    ev_loop_add(n->loop, p->kick[TXQ], EPOLLIN, on_tx_kick, p, &err) < 0)
			goto fail;
	}
	/* A hung-up TAP fd is never watched again. */
	if (net_start_pairs(n, &err) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "ringvm: virtio-net: %s\n", err.msg);
	for (unsigned int i = 0; i < n->npairs; i++)
		virtio_dev_unwatch(n->loop, n->pair[i].kick, NET_NQUEUES);
	return -1;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	if (n->use_vhost) {
		net_vhost_reset(n);
		return;
	}
	/* After these the handlers are not running and never will again, so
	 * the state below is ours and no guest memory is touched. */
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		virtio_dev_unwatch(n->loop, (const int[]){ p->kick[RXQ],
					     p->kick[TXQ], p->fd }, 3);
		p->fd_watched = p->fd_polled = false;
		p->have_first = false;
		p->rx_pending = false;
		p->nheld = 0;
		p->vq[RXQ] = p->vq[TXQ] = NULL;
		pair_attach(p, i == 0);
	}
	if (n->ctrl_vq)
		virtio_dev_unwatch(n->loop, &n->ctrl_kick, 1);
	n->ctrl_vq = NULL;
	n->active = 1;
}

/* On the I/O thread, pausing: give back the receive chains held for the
 * next packet (untaken, so the ring indices say it all) and drop a packet
 * half spread over chains (a lost frame, as on a real link). */
static void rx_release_pair(struct net_pair *p)
{
	struct virtio_net *n = p->n;
	struct virtq *vq = p->vq[RXQ];

	if (!vq)
		return;
	/* The receive chain in `first` is always the last one taken. */
	if (p->have_first)
		virtq_unpop(vq, 1);
	p->have_first = false;
	if (p->rx_pending) {
		if (!p->held_gap) {
			virtq_unpop(vq, (uint16_t)p->nheld);
		} else {
			for (unsigned int i = 0; i < p->nheld; i++)
				virtq_push(vq, p->held[i].head, 0);
			net_irq(p, RXQ);
		}
		stat_add(&n->st.rx_dropped, 1);
	}
	p->rx_pending = false;
	p->nheld = 0;
}

static void rx_release(void *opaque)
{
	struct virtio_net *n = opaque;

	for (unsigned int i = 0; i < n->npairs; i++)
		rx_release_pair(&n->pair[i]);
}

static void net_pause(void *dev)
{
	struct virtio_net *n = dev;

	if (n->use_vhost) {
		net_vhost_pause(n);
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

	ev_loop_resume(n->loop);
	if (n->use_vhost)
		net_vhost_resume(n);
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

static int pair_open(struct virtio_net *n, struct net_pair *p,
		     const struct virtio_net_opts *o, struct rv_err *err)
{
	int fl;

	/* A name wins: a zero-initialised tap_fd (0, stdin) is no TAP. */
	if (o->tap || o->tap_fd < 0) {
		p->fd = tap_open_queue(o->tap, NET_HDR_LEN, n->npairs > 1, err);
		if (p->fd < 0)
			return -1;
		n->own_fd = true;
		n->is_tap = true;
		p->attached = true;
		return 0;
	}
	/* A caller's fd: a TAP gets the same setup, anything else (a packet
	 * socket in tests) is used as is. */
	p->fd = o->tap_fd;
	n->is_tap = tap_is_tap(p->fd);
	if (n->is_tap && tap_setup_fd(p->fd, NET_HDR_LEN, err) < 0)
		return -1;
	fl = fcntl(p->fd, F_GETFL);
	if (fl < 0 || fcntl(p->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return rv_fail_errno(err, "virtio-net: cannot make fd %d non-blocking",
				     p->fd);
	p->attached = true;
	return 0;
}

static int pair_alloc(struct net_pair *p, uint16_t qs)
{
	p->iov = calloc(qs, sizeof(*p->iov));
	p->first_iov = calloc(qs, sizeof(*p->first_iov));
	p->rd_iov = calloc((size_t)qs + 1, sizeof(*p->rd_iov));
	p->held = calloc(qs, sizeof(*p->held));
	p->bounce = malloc(NET_MAX_PKT);
	p->txbuf = malloc(NET_MAX_PKT);
	if (!p->iov || !p->first_iov || !p->rd_iov || !p->held || !p->bounce ||
	    !p->txbuf)
		return -1;
	p->first = (struct virtq_chain){ .iov = p->first_iov, .iov_cap = qs };
	return 0;
}

/* Frees what virtio_net_new allocated or opened, after the loop is gone. */
static void net_release(struct virtio_net *n)
{
	net_vhost_release(n);
	for (unsigned int i = 0; i < NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pair[i];

		if (n->own_fd && p->fd >= 0)
			close(p->fd);
		free(p->iov);
		free(p->first_iov);
		free(p->rd_iov);
		free(p->held);
		free(p->bounce);
		free(p->txbuf);
	}
	free(n);
}

/* The device without its transport: buffers, config space, the TAP (and
 * vhost-net), the I/O thread. */
static struct virtio_net *net_create(const struct virtio_net_opts *o,
				     const struct guest_mem *mem,
				     uint64_t *features, struct rv_err *err)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	uint16_t qs = o->queue_size ? o->queue_size : NET_DEFAULT_QSIZE;
	unsigned int np = o->pairs ? o->pairs : 1;

	if (!n) {
		rv_fail(err, "virtio-net: out of memory");
		return NULL;
	}
	for (unsigned int i = 0; i < NET_MAX_PAIRS; i++) {
		n->pair[i].n = n;
		n->pair[i].idx = i;
		n->pair[i].fd = -1;
		n->pair[i].vh.fd = -1;
		n->pair[i].call[RXQ] = n->pair[i].call[TXQ] = -1;
	}
	n->ctrl_kick = -1;
	n->mem = mem;
	if (qs > VIRTQ_MAX_SIZE || (qs & (qs - 1))) {
		rv_fail(err, "virtio-net: queue size %u is not a power of two <= %u",
			qs, VIRTQ_MAX_SIZE);
		goto fail;
	}
	if (np > NET_MAX_PAIRS || (np > 1 && !o->tap)) {
		rv_fail(err, "virtio-net: %u queue pairs (1 to %d, more than one on a TAP by name)",
			np, NET_MAX_PAIRS);
		goto fail;
	}
	n->qsize = qs;
	n->npairs = np;
	n->active = 1;
	for (unsigned int i = 0; i < np; i++) {
		if (pair_alloc(&n->pair[i], qs) < 0) {
			rv_fail(err, "virtio-net: out of memory");
			goto fail;
		}
		if (pair_open(n, &n->pair[i], o, err) < 0)
			goto fail;
	}
	memcpy(n->config, o->mac, 6);
	put_le16(n->config + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + 8, (uint16_t)np);   /* max_virtqueue_pairs */
	put_le16(n->config + 10, NET_MTU);       /* valid only with F_MTU */
	*features = NET_FEATURES;
	if (np > 1)
		*features |= 1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_MQ;
	if (o->vhost && net_vhost_setup(n, features, err) < 0)
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
		.config_len = NET_CONFIG_LEN,
		.ops = &net_ops,
		.mem = mem,
		.sink = sink,
	};
	struct virtio_net *n = net_create(o, mem, &cfg.features, err);

	if (!n)
		return NULL;
	/* The pairs, then (multiqueue) the control queue. */
	cfg.nqueues = 2 * n->npairs + (n->npairs > 1);
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

	if (o->vhost || o->pairs > 1) {
		rv_fail(err, "virtio-net: a back end serves one queue pair, without vhost-net");
		return NULL;
	}
	n = net_create(o, mem, &model->features, err);
	if (!n)
		return NULL;
	n->served = true;
	n->host = host;
	model->device_type = VIRTIO_ID_NET;
	model->nqueues = NET_NQUEUES;
	model->min_queues = NET_NQUEUES;
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
	if (n->use_vhost) {
		/* The kernel's interrupts: how many ringvm had to relay (a
		 * masked vector), and how often KVM took a call eventfd as
		 * the vector's irqfd and so delivered them alone. */
		const struct virtio_dev_stat irq_rows[] = {
			{ "interrupts_relayed", &n->t.stats.irqfd_relayed, "interrupts" },
			{ "irqfd_binds", &n->t.stats.irqfd_binds, "count" },
		};

		virtio_dev_print_stats(out, prefix, irq_rows, 2);
	}
	/* Multiqueue: how many pairs the driver last asked for (0: never
	 * asked, one pair), and how the traffic spread over them. */
	fprintf(out, "%s_queue_pairs_requested %u pairs\n", prefix,
		atomic_load(&n->requested));
	for (unsigned int i = 0; n->npairs > 1 && i < n->npairs; i++) {
		fprintf(out, "%s_q%u_rx_packets %" PRIu64 " packets\n", prefix, i,
			(uint64_t)atomic_load(&n->pair[i].rx_packets));
		fprintf(out, "%s_q%u_tx_packets %" PRIu64 " packets\n", prefix, i,
			(uint64_t)atomic_load(&n->pair[i].tx_packets));
	}
}

bool virtio_net_uses_vhost(const struct virtio_net *n)
{
	return n->use_vhost;
}

/* ---- snapshot ---- */

struct active_call {
	struct virtio_net *n;
	unsigned int k;
};

static void restore_active(void *arg)
{
	struct active_call *a = arg;

	net_set_active(a->n, a->k);
}

/* 2: the queue pairs in use follow the config space. */
#define NET_SECTION_VERSION 2

void virtio_net_save(struct virtio_net *n, struct state_writer *w,
		     const char *name)
{
	char sec[STATE_NAME_MAX + 1];

	snprintf(sec, sizeof(sec), "%s.net", name);
	state_begin(w, sec, NET_SECTION_VERSION);
	state_put_bytes(w, n->config, NET_CONFIG_LEN);
	state_put_u32(w, n->active);
	state_end(w);
	virtio_pci_save(&n->t, w, name);
}

int virtio_net_load(struct virtio_net *n, const struct state_reader *r,
		    const char *name, struct rv_err *err)
{
	char sec[STATE_NAME_MAX + 1];
	uint8_t cfg[NET_CONFIG_LEN];
	struct state_cursor c;
	uint32_t version, active = 1;

	snprintf(sec, sizeof(sec), "%s.net", name);
	if (state_section(r, sec, NET_SECTION_VERSION, &c, &version, err) < 0)
		return -1;
	state_get_bytes(&c, cfg, sizeof(cfg));
	if (version >= 2)
		active = state_get_u32(&c);
	/* The driver read its MAC once: the restored NIC must keep it; and
	 * it set up as many queue pairs as the device offered then. */
	if (!c.bad && memcmp(cfg, n->config, 6))
		state_cursor_reject(&c, "the NIC's MAC address differs");
	if (!c.bad && get_le16(cfg + 8) != n->npairs)
		state_cursor_reject(&c, "another number of queue pairs");
	if (!c.bad && (active < 1 || active > n->npairs))
		state_cursor_reject(&c, "queue pairs in use out of range");
	if (state_cursor_finish(&c, err) < 0)
		return -1;
	memcpy(n->config, cfg, sizeof(cfg));
	if (virtio_pci_load(&n->t, r, name, err) < 0)
		return -1;
	/* An active device came back up with one pair; the driver uses
	 * as many as it had asked for. */
	if (n->t.active)
		ev_loop_call(n->loop, restore_active, &(struct active_call){ n, active });
	return 0;
}

void virtio_net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		memset(mac, 0x5a, 6);
	mac[0] = (mac[0] & 0xfe) | 0x02; /* unicast, locally administered */
}
