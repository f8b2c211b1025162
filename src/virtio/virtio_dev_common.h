/* Plumbing every virtio device back end (blk, console, net, rng) needs
 * around its I/O thread: binding the transport's queues and kick eventfds
 * on activate, watching/unwatching fds on the device's ev_loop, draining
 * and re-arming kick eventfds, and the "<prefix>_<name> <value> <unit>"
 * stats lines. Kept here so the devices hold only device logic and the
 * rules (all-or-none registration, stats format) live in one place. */
#ifndef RINGVM_VIRTIO_VIRTIO_DEV_COMMON_H
#define RINGVM_VIRTIO_VIRTIO_DEV_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/event_loop.h"
#include "virtio/virtio_dev_stats.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

/* Fills vq[0..nq) and kick[0..nq) from the transport (after DRIVER_OK).
 * Returns -1 if a queue is not enabled or has no kick fd. */
int virtio_dev_bind_queues(struct virtio_pci *t, unsigned int nq,
			   struct virtq **vq, int *kick);
/* The same from any queue host (a vhost-user back end's connection). */
int virtio_dev_bind_host(const struct virtio_queue_host *h, unsigned int nq,
			 struct virtq **vq, int *kick);

/* One fd to watch for EPOLLIN with its handler. */
struct virtio_dev_watch {
	int fd;
	ev_handler_fn fn;
};

/* Registers all n watches (handlers get opaque) or, on failure, none.
 * Pending counts on an eventfd fire the handler at once. */
int virtio_dev_watch(struct ev_loop *l, const struct virtio_dev_watch *w,
		     unsigned int n, void *opaque);

/* Unregisters fds[0..n) (unwatched ones are ignored). Called from another
 * thread, on return no handler of theirs is running or will run again, so
 * a reset that calls it first touches no guest memory afterwards. */
void virtio_dev_unwatch(struct ev_loop *l, const int *fds, unsigned int n);

/* Reads (and so resets) an eventfd's counter: the count, or 0 if none. */
uint64_t virtio_dev_drain(int fd);

/* Re-raises a queue's kick so the loop runs its other handlers before
 * coming back (used when a handler's budget runs out with notifications
 * off). A saturated counter means a kick is already pending. */
void virtio_dev_rekick(int kick_fd);

#endif
