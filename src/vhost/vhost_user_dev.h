/* A virtio-pci device whose queues another process serves over vhost-user
 * (ringvm's frontend: `--disk vhost-user=PATH`). ringvm keeps the PCI
 * function, feature negotiation and the configuration space; the back end
 * gets guest RAM (a memfd, shared), each queue's rings, the queue's kick
 * eventfd (bound to KVM's ioeventfd, so a guest notification goes from the
 * vCPU to the back end without entering ringvm) and a call eventfd, which
 * is the KVM irqfd of the queue's MSI-X vector while the guest leaves
 * that vector unmasked (so an interrupt goes from the back end to the
 * vCPU without entering ringvm either), and which ringvm's I/O thread
 * watches while it is masked, holding the interrupt pending as MSI-X
 * requires (virtio_pci_queue_irqfd).
 *
 * When the back end goes away, the device says so once on stderr and
 * sets DEVICE_NEEDS_RESET; ringvm runs on. The next time the driver resets
 * and starts the device, ringvm connects again (a restarted back end on
 * the same socket serves it). */
#ifndef RINGVM_VHOST_VHOST_USER_DEV_H
#define RINGVM_VHOST_VHOST_USER_DEV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "util/err.h"
#include "virtio/virtio_pci.h"

struct vhost_user_dev_opts {
	const char *socket;
	uint16_t device_type;     /* VIRTIO_ID_BLOCK */
	uint32_t class_code;      /* PCI class */
	uint32_t config_len;      /* device config bytes */
	/* The config space as ringvm builds it (virtio-fs: tag and queue
	 * count, which virtiofsd leaves to the frontend); NULL: the back
	 * end's, read with GET_CONFIG. */
	const uint8_t *local_config;
	unsigned int max_queues;  /* at most this many (the back end may
				   * offer fewer) */
	uint16_t queue_size;
	unsigned int index;       /* names the I/O thread "vhu<index>" */
};

struct vhost_user_dev;

/* Connects to the back end (a clear error if nobody serves the socket),
 * negotiates the protocol and reads the device's configuration. mem must
 * be shared (guest_mem_map_memfd). */
struct vhost_user_dev *vhost_user_dev_new(const struct vhost_user_dev_opts *o,
					  const struct guest_mem *mem,
					  struct msix_sink sink,
					  struct rv_err *err);
void vhost_user_dev_free(struct vhost_user_dev *d);
struct virtio_pci *vhost_user_dev_transport(struct vhost_user_dev *d);
struct ev_loop *vhost_user_dev_loop(struct vhost_user_dev *d);
/* Queues the back end serves (what the device offers the guest). */
unsigned int vhost_user_dev_nqueues(const struct vhost_user_dev *d);
/* "NAME VALUE UNIT" lines: interrupts forwarded, connections, back-end
 * failures. */
void vhost_user_dev_print_stats(struct vhost_user_dev *d, const char *prefix,
				FILE *out);

#endif
