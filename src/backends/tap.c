#include "backends/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int set_hdr_len(int fd, unsigned int hdr_len, const char *name,
		       struct rv_err *err)
{
	int sz = (int)hdr_len;

	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return rv_fail_errno(err, "TAP %s: cannot set vnet header size %u",
				     name, hdr_len);
	return 0;
}

int tap_open(const char *ifname, unsigned int hdr_len, struct rv_err *err)
{
	return tap_open_queue(ifname, hdr_len, false, err);
}

int tap_open_queue(const char *ifname, unsigned int hdr_len, bool multi,
		   struct rv_err *err)
{
	struct ifreq ifr;
	int fd;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return rv_fail(err, "TAP interface name '%s' is empty or longer than %d characters",
			       ifname ? ifname : "", IFNAMSIZ - 1);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return rv_fail_errno(err, "cannot open /dev/net/tun for TAP %s",
				     ifname);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			(multi ? IFF_MULTI_QUEUE : 0);
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rv_fail_errno(err, "cannot attach to TAP interface %s (TUNSETIFF%s)",
			      ifname, multi ? ", multi-queue: a TAP made without multi_queue cannot have more than one" : "");
		close(fd);
		return -1;
	}
	if (set_hdr_len(fd, hdr_len, ifname, err) < 0 ||
	    tap_set_offload(fd, 0, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool tap_is_tap(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(fd, TUNGETIFF, &ifr) == 0;
}

int tap_setup_fd(int fd, unsigned int hdr_len, struct rv_err *err)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return rv_fail_errno(err, "fd %d is not a TAP device", fd);
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) ||
	    !(ifr.ifr_flags & IFF_NO_PI))
		return rv_fail(err, "TAP fd %d: needs IFF_TAP, IFF_NO_PI and IFF_VNET_HDR",
			       fd);
	return set_hdr_len(fd, hdr_len, ifr.ifr_name, err);
}

int tap_set_offload(int fd, unsigned int offloads, struct rv_err *err)
{
	unsigned int f = 0;

	if (offloads & TAP_OFFLOAD_CSUM) {
		f |= TUN_F_CSUM;
		if (offloads & TAP_OFFLOAD_TSO4)
			f |= TUN_F_TSO4;
		if (offloads & TAP_OFFLOAD_TSO6)
			f |= TUN_F_TSO6;
		if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    (offloads & TAP_OFFLOAD_TSO_ECN))
			f |= TUN_F_TSO_ECN;
	}
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)f) < 0)
		return rv_fail_errno(err, "TAP: cannot set offloads 0x%x", f);
	return 0;
}

int tap_set_queue(int fd, bool attach, struct rv_err *err)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(fd, TUNSETQUEUE, &ifr) < 0)
		return rv_fail_errno(err, "TAP: cannot %s a queue (TUNSETQUEUE)",
				     attach ? "attach" : "detach");
	return 0;
}
