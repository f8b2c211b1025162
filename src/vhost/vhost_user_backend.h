/* The back-end side of vhost-user: one frontend at a time (QEMU, Cloud
 * Hypervisor, UML's virtio_uml, ringvm) connects to a Unix socket, shares
 * its guest RAM and hands over virtqueues, and a ringvm device (the same
 * code the monitor runs in process) serves them. The connection thread
 * handles the protocol; the device's own I/O thread does the I/O, so the
 * data path never passes through this code. When the frontend goes away
 * the device is reset, guest RAM unmapped, and the next frontend may
 * connect (a restarted VMM reconnects to the same back end). */
#ifndef RINGVM_VHOST_VHOST_USER_BACKEND_H
#define RINGVM_VHOST_VHOST_USER_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "mem/guest_mem.h"
#include "util/err.h"
#include "virtio/virtio_dev.h"

struct vhu_backend;

/* A back end with no device yet: the device is built on its guest RAM
 * view and queue host, then handed over with vhu_backend_set_device. */
struct vhu_backend *vhu_backend_new(const char *name, struct rv_err *err);
void vhu_backend_free(struct vhu_backend *be);

/* Guest RAM as this process maps it (empty until a frontend sends its
 * memory table); the device keeps the pointer. */
const struct guest_mem *vhu_backend_mem(struct vhu_backend *be);
struct virtio_queue_host vhu_backend_queue_host(struct vhu_backend *be);
void vhu_backend_set_device(struct vhu_backend *be,
			    const struct virtio_served_dev *dev);

/* Serves one connection (a connected socket) until the frontend closes it,
 * breaks the protocol or stop_fd (may be -1) becomes readable; then resets
 * the device and unmaps guest RAM. Returns 0 when the frontend closed the
 * connection, 1 when stop_fd ended it, -1 with err on a protocol error
 * (the caller may accept the next connection). */
int vhu_backend_serve(struct vhu_backend *be, int sock, int stop_fd,
		      struct rv_err *err);

/* Counters: connections, messages, refused requests, device restarts,
 * interrupts sent. */
void vhu_backend_print_stats(struct vhu_backend *be, const char *prefix,
			     FILE *out);

#endif
