/* Interrupts a queue's outside signaller raises straight into KVM (see
 * virtio_pci_queue_irqfd). The binding of each such eventfd follows the
 * MSI-X rules: bound to the vector's GSI as a KVM irqfd exactly while the
 * vector is deliverable, and otherwise watched by an I/O thread that turns
 * a signal into msix_notify, which holds it pending until the unmask.
 *
 * All state changes happen under msix.lock, the lock the mask changes
 * themselves take, so no signal is lost in a switch-over: while watched,
 * a signal is either read by the loop (and msix_notify then waits for
 * the lock) or still counted when KVM takes the fd, whose assignment
 * polls it and injects at once. The loop's registration is kept from
 * start to end and only its event mask changes (ev_loop_mod never waits
 * for a running handler, which may itself be waiting for msix.lock). */
#include "virtio/virtio_pci.h"

#include <sys/epoll.h>

#include "util/event_loop.h"
#include "virtio/virtio_dev_common.h"

static void on_signal(void *opaque, uint32_t events)
{
	struct virtio_pci_irqfd *f = opaque;

	(void)events;
	if (virtio_dev_drain(f->fd)) {
		atomic_fetch_add_explicit(&f->t->stats.irqfd_relayed, 1,
					  memory_order_relaxed);
		virtio_pci_queue_irq(f->t, f->q);
	}
}

/* msix.lock held. */
static void sync_queue(struct virtio_pci *t, struct virtio_pci_irqfd *f)
{
	uint16_t v = atomic_load(&t->queue[f->q].msix_vector);
	int want = v != VIRTIO_MSI_NO_VECTOR &&
		   msix_deliverable_locked(&t->msix, v) ? v : -1;
	struct rv_err err;

	if (f->fd < 0 || want == f->bound)
		return;
	if (f->bound >= 0)
		msix_bind_locked(&t->msix, (unsigned int)f->bound, f->fd, false);
	f->bound = -1;
	if (want >= 0 && msix_bind_locked(&t->msix, (unsigned int)want, f->fd,
					  true) == 0) {
		f->bound = want;
		atomic_fetch_add_explicit(&t->stats.irqfd_binds, 1,
					  memory_order_relaxed);
		if (ev_loop_mod(f->loop, f->fd, 0, &err) < 0)
			fprintf(stderr, "ringvm: %s\n", err.msg);
		return;
	}
	if (ev_loop_mod(f->loop, f->fd, EPOLLIN, &err) < 0)
		fprintf(stderr, "ringvm: %s\n", err.msg);
}

void virtio_pci_irqfd_sync(void *opaque)
{
	struct virtio_pci *t = opaque;

	for (unsigned int q = 0; q < t->cfg.nqueues; q++)
		sync_queue(t, &t->queue[q].irqfd);
}

int virtio_pci_queue_irqfd(struct virtio_pci *t, unsigned int q, int fd,
			   struct ev_loop *l, struct rv_err *err)
{
	struct virtio_pci_irqfd *f;
	struct ev_loop *old_loop;
	int old;

	if (q >= t->cfg.nqueues)
		return rv_fail(err, "virtio-pci: no queue %u", q);
	f = &t->queue[q].irqfd;
	if (fd >= 0 && ev_loop_add(l, fd, EPOLLIN, on_signal, f, err) < 0)
		return -1;
	pthread_mutex_lock(&t->msix.lock);
	old = f->fd;
	old_loop = f->loop;
	if (f->bound >= 0)
		msix_bind_locked(&t->msix, (unsigned int)f->bound, old, false);
	f->bound = -1;
	f->fd = fd;
	f->loop = l;
	if (fd >= 0)
		sync_queue(t, f);
	pthread_mutex_unlock(&t->msix.lock);
	/* Outside msix.lock: the deletion waits for a running handler. */
	if (old >= 0 && old != fd)
		ev_loop_del(old_loop, old);
	return 0;
}

bool virtio_pci_queue_irqfd_bound(struct virtio_pci *t, unsigned int q)
{
	bool bound;

	if (q >= t->cfg.nqueues)
		return false;
	pthread_mutex_lock(&t->msix.lock);
	bound = t->queue[q].irqfd.bound >= 0;
	pthread_mutex_unlock(&t->msix.lock);
	return bound;
}
