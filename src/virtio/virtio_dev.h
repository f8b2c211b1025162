/* What a virtio device implements, whoever carries it to a driver: the
 * PCI transport inside ringvm (virtio_pci.h), or a vhost-user back-end
 * process serving another monitor's guest (vhost/vhost_user_backend.h).
 * The device code is the same in both; only its queue host differs. */
#ifndef RINGVM_VIRTIO_VIRTIO_DEV_H
#define RINGVM_VIRTIO_VIRTIO_DEV_H

#include <stdint.h>

#include "virtio/virtqueue.h"

struct ev_loop;
struct rv_err;

#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

#define VIRTIO_F_VERSION_1        32
#define VIRTIO_F_ACCESS_PLATFORM  33

/* What a device implements. Under the PCI transport, callbacks are made
 * with the transport lock held, from a vCPU thread (the driver's register
 * access) unless noted; they may call the queue host's functions (none of
 * which takes the lock), never virtio_pci_bar_io. A vhost-user back end
 * makes them from its connection thread. */
struct virtio_dev_ops {
	/* Device configuration space; off + len <= config_len is checked by
	 * the transport. config_write may be NULL (read-only config). */
	void (*config_read)(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const uint8_t *data,
			     uint32_t len);
	/* The driver set FEATURES_OK with these (a subset of what was offered,
	 * VERSION_1 included). Return -1 to refuse; FEATURES_OK stays clear. */
	int (*set_features)(void *dev, uint64_t features);
	/* DRIVER_OK: every queue the driver enabled has a valid virtq. Start
	 * servicing (e.g. add the kick fds to the device's I/O thread).
	 * Return -1 to set DEVICE_NEEDS_RESET. */
	int (*activate)(void *dev);
	/* Device reset (status 0 written, or teardown). On return the device
	 * no longer touches its queues or guest memory and holds no requests.
	 * Called only after a successful activate. */
	void (*reset)(void *dev);
	/* The VM pauses (virtio_pci_pause, from the vm layer, not under the
	 * transport lock; active or not): on return every request the device
	 * took is completed, chains it held unfilled are given back
	 * (virtq_unpop), and it touches neither its queues nor guest memory
	 * until resume. Then its queue state is all in the ring indices. */
	void (*pause)(void *dev);
	void (*resume)(void *dev);
};

/* Who owns a device's queues and delivers its interrupts. */
struct virtio_queue_host {
	/* Queue q's ring, valid from activate to reset; NULL if the driver
	 * did not set it up. */
	struct virtq *(*vq)(void *ctx, unsigned int q);
	/* The eventfd the driver's notifications for queue q signal. */
	int (*kick_fd)(void *ctx, unsigned int q);
	/* Interrupt for queue q; call after virtq_should_notify() returned
	 * true. Any thread. */
	void (*queue_irq)(void *ctx, unsigned int q);
	/* The device cannot go on (a broken ring): tell the driver
	 * (DEVICE_NEEDS_RESET, virtio 1.2, 2.1.2). Any thread. */
	void (*needs_reset)(void *ctx);
	/* Queue q's interrupts come from eventfd fd that another party (the
	 * kernel's vhost) signals; the host delivers them itself, watching
	 * fd on loop l where it must. fd -1 ends it. NULL: not supported. */
	int (*queue_irqfd)(void *ctx, unsigned int q, int fd,
			   struct ev_loop *l, struct rv_err *err);
	void *ctx;
};

/* A device as a vhost-user back end offers it: what the PCI transport
 * would otherwise advertise from its struct virtio_pci_config. */
struct virtio_served_dev {
	uint16_t device_type;     /* VIRTIO_ID_* */
	unsigned int nqueues;
	/* Queues that must all be ready before the device starts (net: its
	 * receive and transmit pair; blk: any one). */
	unsigned int min_queues;
	uint16_t queue_max;
	uint64_t features;        /* the device's own bits */
	uint32_t config_len;
	const struct virtio_dev_ops *ops;
	void *dev;
};

#endif
