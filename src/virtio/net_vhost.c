/* virtio-net with vhost=on: the kernel's vhost-net (backends/vhost_net.h)
 * moves the packets between each queue pair's rings and its TAP queue,
 * one /dev/vhost-net instance per pair. The kick eventfds it waits on are
 * the queues' KVM ioeventfds, and its call eventfds go to the transport,
 * which makes each the KVM irqfd of its queue's MSI-X vector while the
 * guest leaves that vector unmasked (virtio_pci_queue_irqfd): a packet
 * goes from the TAP to the guest and back with no ringvm thread woken.
 * ringvm keeps the device model, the control queue (VQ_PAIRS_SET attaches
 * the TAP queues in use and detaches the others) and the pause points. */
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "virtio/net_internal.h"
#include "virtio/virtio_dev_common.h"

/* Both queues of pair p are set up by the driver. */
static bool pair_ready(const struct net_pair *p)
{
	return p->vq[RXQ] && p->vq[TXQ];
}

static int pair_attach_backend(struct net_pair *p, struct rv_err *err)
{
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		if (vhost_net_set_backend(&p->vh, q, p->fd, err) < 0)
			return -1;
	p->vhost_running = true;
	return 0;
}

/* Detaches the TAP (the kernel stops serving) and records where each
 * queue stopped. */
static void pair_detach_backend(struct net_pair *p)
{
	struct rv_err err;

	if (!p->vhost_running)
		return;
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		if (vhost_net_set_backend(&p->vh, q, -1, &err) < 0 ||
		    vhost_net_queue_base(&p->vh, q, &p->base[q], &err) < 0)
			fprintf(stderr, "ringvm: virtio-net: %s\n", err.msg);
	p->vhost_running = false;
}

static int pair_start(struct net_pair *p, struct rv_err *err)
{
	for (unsigned int q = 0; q < NET_NQUEUES; q++) {
		struct virtq *vq = p->vq[q];

		if (vhost_net_start_queue(&p->vh, q, vq->size, vq->desc,
					  vq->avail, vq->used, p->base[q],
					  p->kick[q], p->call[q], err) < 0)
			return -1;
	}
	return pair_attach_backend(p, err);
}

/* Hands pair p's call eventfds to the transport (fd) or takes them back. */
static int pair_irqfds(struct virtio_net *n, struct net_pair *p, bool on,
		       struct rv_err *err)
{
	for (unsigned int q = 0; q < NET_NQUEUES; q++)
		if (n->host.queue_irqfd(n->host.ctx, 2 * p->idx + q,
					on ? p->call[q] : -1, n->loop, err) < 0)
			return -1;
	return 0;
}

void net_vhost_reset(struct virtio_net *n)
{
	struct rv_err err;

	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		pair_detach_backend(p);
		pair_irqfds(n, p, false, &err);
		for (unsigned int q = 0; q < NET_NQUEUES; q++) {
			virtio_dev_drain(p->call[q]);
			p->vq[q] = NULL;
		}
	}
	if (n->ctrl_vq)
		virtio_dev_unwatch(n->loop, &n->ctrl_kick, 1);
	n->ctrl_vq = NULL;
	net_set_active(n, 1);
}

int net_vhost_activate(struct virtio_net *n)
{
	/* What the kernel needs to know of the negotiated features: the
	 * ring and header layout ones; the offloads are the TAP's. */
	uint64_t f = n->features & n->pair[0].vh.features;
	struct rv_err err;

	if (net_bind_all(n) < 0)
		return -1;
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		if (!pair_ready(p))
			continue;
		p->base[RXQ] = p->base[TXQ] = 0;
		if (vhost_net_setup(&p->vh, f, n->mem, &err) < 0 ||
		    pair_irqfds(n, p, true, &err) < 0 ||
		    pair_start(p, &err) < 0)
			goto fail;
	}
	if (net_start_pairs(n, &err) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "ringvm: virtio-net: %s\n", err.msg);
	net_vhost_reset(n);
	return -1;
}

void net_vhost_pause(struct virtio_net *n)
{
	/* The kernel's queues stop where they are; the interrupts of what it
	 * finished have reached the guest (or its pending bits). */
	for (unsigned int i = 0; i < n->npairs; i++)
		pair_detach_backend(&n->pair[i]);
	ev_loop_pause(n->loop);
}

void net_vhost_resume(struct virtio_net *n)
{
	struct rv_err err;

	/* Detached, each instance takes a new base; then the TAP again. */
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		if (!pair_ready(p) || pair_start(p, &err) == 0)
			continue;
		fprintf(stderr, "ringvm: virtio-net: resuming: %s\n", err.msg);
		n->host.needs_reset(n->host.ctx);
		return;
	}
}

void net_vhost_release(struct virtio_net *n)
{
	for (unsigned int i = 0; i < NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pair[i];

		if (p->vh.fd >= 0)
			vhost_net_close(&p->vh);
		for (unsigned int q = 0; q < NET_NQUEUES; q++)
			if (p->call[q] >= 0)
				close(p->call[q]);
	}
}

/* The kernel's data path must handle the ring layout ringvm's transport
 * always offers; mergeable buffers only if it has them. */
int net_vhost_setup(struct virtio_net *n, uint64_t *features,
		    struct rv_err *err)
{
	const uint64_t need = 1ull << VIRTIO_F_VERSION_1 |
			      1ull << VIRTIO_RING_F_EVENT_IDX |
			      1ull << VIRTIO_RING_F_INDIRECT_DESC;

	if (!n->is_tap)
		return rv_fail(err, "virtio-net: vhost=on needs a TAP");
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		if (vhost_net_open(&p->vh, err) < 0)
			return -1;
		n->use_vhost = true;
		if ((p->vh.features & need) != need)
			return rv_fail(err, "vhost-net: the kernel lacks VERSION_1, EVENT_IDX or INDIRECT_DESC (features %#llx)",
				       (unsigned long long)p->vh.features);
		if (!(p->vh.features & (1ull << VIRTIO_NET_F_MRG_RXBUF)))
			*features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
		for (unsigned int q = 0; q < NET_NQUEUES; q++) {
			p->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (p->call[q] < 0)
				return rv_fail_errno(err, "eventfd");
		}
	}
	return 0;
}
