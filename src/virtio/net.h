/* virtio-net (virtio 1.2, section 5.1) on a Linux TAP interface. */
#ifndef RINGVM_VIRTIO_NET_H
#define RINGVM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "state/state.h"
#include "util/err.h"
#include "virtio/virtio_pci.h"

struct virtio_net_opts {
	const char *tap;        /* existing TAP interface name (or created) */
	uint8_t mac[6];
	uint16_t queue_size;
	int tap_fd;             /* when tap is NULL: an already-open TAP fd,
				 * or (tests) any packet fd carrying
				 * "virtio_net_hdr + frame" records */
	bool vhost;             /* the kernel's vhost-net moves the packets */
	unsigned int pairs;     /* queue pairs (multi-queue TAP); 0: 1 */
};

/* Queue pairs at most: two MSI-X vectors each, plus the control queue's
 * and the configuration's, within the transport's 64 queues. */
#define VIRTIO_NET_MAX_PAIRS 16

struct virtio_net;

/* A random unicast, locally administered MAC (no --mac given). */
void virtio_net_random_mac(uint8_t mac[6]);

struct virtio_net *virtio_net_new(const struct virtio_net_opts *o,
				  const struct guest_mem *mem,
				  struct msix_sink sink, struct rv_err *err);
/* The same device with no PCI function, its queues owned by host (a
 * vhost-user back end, `ringvm backend net`); model receives what the
 * back end offers its frontend. */
struct virtio_net *virtio_net_new_served(const struct virtio_net_opts *o,
					 const struct guest_mem *mem,
					 struct virtio_queue_host host,
					 struct virtio_served_dev *model,
					 struct rv_err *err);
/* A served device must have been reset (if activated) first. */
void virtio_net_free(struct virtio_net *n);
struct ev_loop;
struct virtio_pci *virtio_net_transport(struct virtio_net *n);
/* The I/O thread serving the device (its seccomp filter: vm/sandbox.h). */
struct ev_loop *virtio_net_loop(struct virtio_net *n);
void virtio_net_print_stats(struct virtio_net *n, const char *prefix, FILE *out);
/* True when vhost-net serves the queues (the device's state is then in
 * the kernel's hands between pause points; snapshots are refused). */
bool virtio_net_uses_vhost(const struct virtio_net *n);
/* Snapshot: "<name>.net" (config space) and "<name>.virtio"; load into a
 * new device with the same MAC (its TAP is opened by name as usual). */
void virtio_net_save(struct virtio_net *n, struct state_writer *w,
		     const char *name);
int virtio_net_load(struct virtio_net *n, const struct state_reader *r,
		    const char *name, struct rv_err *err);

#endif
