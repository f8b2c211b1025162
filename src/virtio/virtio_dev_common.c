/* Shared virtio device back-end plumbing; see virtio_dev_common.h. */
#include "virtio/virtio_dev_common.h"

#include <inttypes.h>
#include <sys/epoll.h>
#include <unistd.h>

int virtio_dev_bind_host(const struct virtio_queue_host *h, unsigned int nq,
			 struct virtq **vq, int *kick)
{
	for (unsigned int q = 0; q < nq; q++) {
		vq[q] = h->vq(h->ctx, q);
		kick[q] = h->kick_fd(h->ctx, q);
		if (!vq[q] || kick[q] < 0)
			return -1;
	}
	return 0;
}

int virtio_dev_bind_queues(struct virtio_pci *t, unsigned int nq,
			   struct virtq **vq, int *kick)
{
	struct virtio_queue_host h = virtio_pci_queue_host(t);

	return virtio_dev_bind_host(&h, nq, vq, kick);
}

int virtio_dev_watch(struct ev_loop *l, const struct virtio_dev_watch *w,
		     unsigned int n, void *opaque)
{
	struct rv_err err;

	for (unsigned int i = 0; i < n; i++) {
		if (ev_loop_add(l, w[i].fd, EPOLLIN, w[i].fn, opaque,
				&err) < 0) {
			while (i--)
				ev_loop_del(l, w[i].fd);
			return -1;
		}
	}
	return 0;
}

void virtio_dev_unwatch(struct ev_loop *l, const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		ev_loop_del(l, fds[i]);
}

uint64_t virtio_dev_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

void virtio_dev_rekick(int kick_fd)
{
	uint64_t one = 1;

	if (write(kick_fd, &one, sizeof(one)) < 0) {
		/* counter saturated: already pending */
	}
}


