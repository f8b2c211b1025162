/* vhost-net ioctls: see vhost_net.h. */
#include "backends/vhost_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int vhost_net_open(struct vhost_net *v, struct rv_err *err)
{
	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return rv_fail_errno(err, "/dev/vhost-net (is the vhost_net module loaded, and may this user open it?)");
	if (ioctl(v->fd, VHOST_SET_OWNER) < 0 ||
	    ioctl(v->fd, VHOST_GET_FEATURES, &v->features) < 0) {
		rv_fail_errno(err, "/dev/vhost-net: VHOST_SET_OWNER");
		close(v->fd);
		v->fd = -1;
		return -1;
	}
	return 0;
}

void vhost_net_close(struct vhost_net *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

int vhost_net_setup(struct vhost_net *v, uint64_t features,
		    const struct guest_mem *mem, struct rv_err *err)
{
	struct vhost_memory *t;
	int rc;

	if (ioctl(v->fd, VHOST_SET_FEATURES, &features) < 0)
		return rv_fail_errno(err, "vhost-net: VHOST_SET_FEATURES %#llx",
				     (unsigned long long)features);
	t = calloc(1, sizeof(*t) + mem->nr * sizeof(t->regions[0]));
	if (!t)
		return rv_fail(err, "out of memory");
	t->nregions = mem->nr;
	for (unsigned int i = 0; i < mem->nr; i++)
		t->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->region[i].gpa,
			.memory_size = mem->region[i].size,
			.userspace_addr = (uintptr_t)mem->region[i].hva,
		};
	rc = ioctl(v->fd, VHOST_SET_MEM_TABLE, t);
	free(t);
	if (rc < 0)
		return rv_fail_errno(err, "vhost-net: VHOST_SET_MEM_TABLE");
	return 0;
}

int vhost_net_start_queue(struct vhost_net *v, unsigned int q, uint16_t size,
			  const void *desc, const void *avail, const void *used,
			  uint16_t base, int kick, int call, struct rv_err *err)
{
	struct vhost_vring_state num = { q, size }, b = { q, base };
	struct vhost_vring_addr a = {
		.index = q,
		.desc_user_addr = (uintptr_t)desc,
		.avail_user_addr = (uintptr_t)avail,
		.used_user_addr = (uintptr_t)used,
	};
	struct vhost_vring_file k = { q, kick }, c = { q, call };

	if (ioctl(v->fd, VHOST_SET_VRING_NUM, &num) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_ADDR, &a) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_BASE, &b) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_KICK, &k) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_CALL, &c) < 0)
		return rv_fail_errno(err, "vhost-net: setting up queue %u", q);
	return 0;
}

int vhost_net_set_backend(struct vhost_net *v, unsigned int q, int tap_fd,
			  struct rv_err *err)
{
	struct vhost_vring_file f = { q, tap_fd };

	if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &f) < 0)
		return rv_fail_errno(err, "vhost-net: attaching the TAP to queue %u", q);
	return 0;
}

int vhost_net_queue_base(struct vhost_net *v, unsigned int q, uint16_t *base,
			 struct rv_err *err)
{
	struct vhost_vring_state s = { q, 0 };

	if (ioctl(v->fd, VHOST_GET_VRING_BASE, &s) < 0)
		return rv_fail_errno(err, "vhost-net: VHOST_GET_VRING_BASE %u", q);
	*base = (uint16_t)s.num;
	return 0;
}
