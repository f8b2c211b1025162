/* The kernel's vhost-net (/dev/vhost-net, linux/vhost.h): a virtio-net
 * data path inside the host kernel. It reads and writes the guest's rings
 * and buffers through ringvm's own mapping of guest RAM and moves packets
 * to and from a TAP, woken by the queue's kick eventfd (KVM's ioeventfd)
 * and signalling a call eventfd. ringvm keeps the device model (PCI,
 * features, configuration); this is only the ioctl interface. */
#ifndef RINGVM_BACKENDS_VHOST_NET_H
#define RINGVM_BACKENDS_VHOST_NET_H

#include <stdint.h>

#include "mem/guest_mem.h"
#include "util/err.h"

struct vhost_net {
	int fd;
	uint64_t features;      /* what the kernel offers */
};

/* Opens /dev/vhost-net and takes ownership (VHOST_SET_OWNER). */
int vhost_net_open(struct vhost_net *v, struct rv_err *err);
void vhost_net_close(struct vhost_net *v);

/* VHOST_SET_FEATURES (a subset of v->features), then the memory table:
 * every region of mem by guest address, size and ringvm's address. */
int vhost_net_setup(struct vhost_net *v, uint64_t features,
		    const struct guest_mem *mem, struct rv_err *err);

/* Queue q's rings (ringvm's addresses), the index to start from and its
 * eventfds; then packets flow once a TAP is attached. */
int vhost_net_start_queue(struct vhost_net *v, unsigned int q, uint16_t size,
			  const void *desc, const void *avail, const void *used,
			  uint16_t base, int kick, int call, struct rv_err *err);
/* Attaches tap_fd to queue q (-1 detaches: the kernel stops serving it). */
int vhost_net_set_backend(struct vhost_net *v, unsigned int q, int tap_fd,
			  struct rv_err *err);
/* Where queue q stopped (detach it first). */
int vhost_net_queue_base(struct vhost_net *v, unsigned int q, uint16_t *base,
			 struct rv_err *err);

#endif
