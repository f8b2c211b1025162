/* vhost-user message framing: see vhost_user.h. */
#include "vhost/vhost_user.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const names[VHU_REQUEST_MAX] = {
	[VHU_GET_FEATURES] = "GET_FEATURES",
	[VHU_SET_FEATURES] = "SET_FEATURES",
	[VHU_SET_OWNER] = "SET_OWNER",
	[VHU_RESET_OWNER] = "RESET_OWNER",
	[VHU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VHU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VHU_SET_LOG_FD] = "SET_LOG_FD",
	[VHU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VHU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VHU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VHU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VHU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VHU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VHU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VHU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VHU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VHU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VHU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VHU_SEND_RARP] = "SEND_RARP",
	[VHU_NET_SET_MTU] = "NET_SET_MTU",
	[VHU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VHU_IOTLB_MSG] = "IOTLB_MSG",
	[VHU_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VHU_GET_CONFIG] = "GET_CONFIG",
	[VHU_SET_CONFIG] = "SET_CONFIG",
	[VHU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VHU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VHU_RESET_DEVICE] = "RESET_DEVICE",
	[VHU_VRING_KICK] = "VRING_KICK",
	[VHU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VHU_ADD_MEM_REG] = "ADD_MEM_REG",
	[VHU_REM_MEM_REG] = "REM_MEM_REG",
	[VHU_SET_STATUS] = "SET_STATUS",
	[VHU_GET_STATUS] = "GET_STATUS",
};

const char *vhu_request_name(uint32_t request, char buf[24])
{
	if (request < VHU_REQUEST_MAX && names[request])
		return names[request];
	snprintf(buf, 24, "request %u", request);
	return buf;
}

/* The payload a request (or its reply) carries: an exact size, or for the
 * variable ones a check of their own. -1: any size up to the maximum
 * (requests ringvm does not implement: refused by the caller, but the
 * stream stays in step). */
static long fixed_size(uint32_t request, bool is_reply)
{
	switch (request) {
	case VHU_GET_FEATURES:
	case VHU_GET_PROTOCOL_FEATURES:
	case VHU_GET_QUEUE_NUM:
	case VHU_GET_MAX_MEM_SLOTS:
	case VHU_GET_STATUS:
		return is_reply ? 8 : 0;
	case VHU_SET_OWNER:
	case VHU_RESET_OWNER:
	case VHU_RESET_DEVICE:
	case VHU_SET_BACKEND_REQ_FD:
		return is_reply ? 8 : 0;     /* a reply is a REPLY_ACK */
	case VHU_SET_FEATURES:
	case VHU_SET_PROTOCOL_FEATURES:
	case VHU_SET_VRING_KICK:
	case VHU_SET_VRING_CALL:
	case VHU_SET_VRING_ERR:
	case VHU_SET_STATUS:
	case VHU_SET_VRING_NUM:
	case VHU_SET_VRING_BASE:
	case VHU_SET_VRING_ENABLE:
	case VHU_GET_VRING_BASE:
		return 8;
	case VHU_SET_VRING_ADDR:
		return is_reply ? 8 : (long)sizeof(struct vhu_vring_addr);
	default:
		return -1;
	}
}

int vhu_check_size(uint32_t request, uint32_t size, bool is_reply,
		   struct rv_err *err)
{
	char buf[24];
	const char *name = vhu_request_name(request, buf);
	long want;

	if (size > VHU_MAX_PAYLOAD + VHU_MAX_CONFIG)
		return rv_fail(err, "vhost-user: %s with a %u-byte payload (at most %d)",
			       name, size, VHU_MAX_PAYLOAD + VHU_MAX_CONFIG);
	if (request == VHU_SET_MEM_TABLE && !is_reply) {
		if (size < 8 || (size - 8) % sizeof(struct vhu_mem_region) ||
		    size > VHU_MAX_PAYLOAD)
			return rv_fail(err, "vhost-user: SET_MEM_TABLE with a %u-byte payload",
				       size);
		return 0;
	}
	if (request == VHU_GET_INFLIGHT_FD || request == VHU_SET_INFLIGHT_FD) {
		if (is_reply && request == VHU_SET_INFLIGHT_FD)
			return size == 8 ? 0 : rv_fail(err, "vhost-user: SET_INFLIGHT_FD reply of %u bytes", size);
		if (size < VHU_INFLIGHT_MIN || size > sizeof(struct vhu_inflight))
			return rv_fail(err, "vhost-user: %s with a %u-byte payload",
				       name, size);
		return 0;
	}
	if (request == VHU_GET_CONFIG || request == VHU_SET_CONFIG) {
		if (is_reply && request == VHU_SET_CONFIG)
			return size == 8 ? 0 : rv_fail(err, "vhost-user: SET_CONFIG reply of %u bytes", size);
		if (size < VHU_CONFIG_HDR || size - VHU_CONFIG_HDR > VHU_MAX_CONFIG)
			return rv_fail(err, "vhost-user: %s with a %u-byte payload",
				       name, size);
		return 0;
	}
	want = fixed_size(request, is_reply);
	if (want >= 0 && size != (uint32_t)want)
		return rv_fail(err, "vhost-user: %s with a %u-byte payload (it carries %ld)",
			       name, size, want);
	return 0;
}

/* Reads exactly len bytes (no fds expected). 0 on end of stream before
 * the first byte. */
static ssize_t read_full(int sock, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(sock, (uint8_t *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

void vhu_msg_close_fds(struct vhu_msg *m)
{
	for (unsigned int i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

int vhu_msg_take_fd(struct vhu_msg *m, unsigned int i)
{
	int fd;

	if (i >= m->nfds)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

int vhu_recv(int sock, struct vhu_msg *m, struct rv_err *err)
{
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint32_t hdr[3];
	struct iovec iov = { hdr, VHU_HDR_SIZE };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	m->request = m->flags = m->size = 0;
	m->nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rv_fail(err, "vhost-user: reading the socket: %s",
			       strerror(errno));
	if (n == 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && m->nfds < VHU_MAX_FDS; i++)
			memcpy(&m->fds[m->nfds++],
			       CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		vhu_msg_close_fds(m);
		return rv_fail(err, "vhost-user: a message carried more than %d file descriptors",
			       VHU_MAX_FDS);
	}
	if (n < VHU_HDR_SIZE &&
	    read_full(sock, (uint8_t *)hdr + n, VHU_HDR_SIZE - (size_t)n) !=
		    VHU_HDR_SIZE - n) {
		vhu_msg_close_fds(m);
		return rv_fail(err, "vhost-user: the stream ended inside a message header");
	}
	m->request = hdr[0];
	m->flags = hdr[1];
	m->size = hdr[2];
	if ((m->flags & VHU_VERSION_MASK) != VHU_VERSION) {
		vhu_msg_close_fds(m);
		return rv_fail(err, "vhost-user: protocol version %u (ringvm speaks %u)",
			       m->flags & VHU_VERSION_MASK, VHU_VERSION);
	}
	if (vhu_check_size(m->request, m->size, m->flags & VHU_FLAG_REPLY,
			   err) < 0) {
		vhu_msg_close_fds(m);
		return -1;
	}
	memset(&m->p, 0, sizeof(m->p));
	if (m->size && read_full(sock, &m->p, m->size) != (ssize_t)m->size) {
		vhu_msg_close_fds(m);
		return rv_fail(err, "vhost-user: the stream ended inside a message");
	}
	return 1;
}

int vhu_send(int sock, const struct vhu_msg *m, const int *fds,
	     unsigned int nfds, struct rv_err *err)
{
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint32_t hdr[3] = { m->request, m->flags, m->size };
	struct iovec iov[2] = {
		{ hdr, VHU_HDR_SIZE },
		{ (void *)&m->p, m->size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = m->size ? 2 : 1 };
	size_t total = VHU_HDR_SIZE + m->size;
	ssize_t n;

	if (nfds > VHU_MAX_FDS || m->size > sizeof(m->p))
		return rv_fail(err, "vhost-user: message too large to send");
	if (nfds) {
		struct cmsghdr *c;

		memset(ctl.buf, 0, sizeof(ctl.buf));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rv_fail(err, "vhost-user: writing the socket: %s",
			       strerror(errno));
	/* A stream socket may take part of it: the rest without fds. */
	for (size_t done = (size_t)n; done < total;) {
		const uint8_t *src = done < VHU_HDR_SIZE
					     ? (const uint8_t *)hdr + done
					     : (const uint8_t *)&m->p +
						       (done - VHU_HDR_SIZE);
		size_t len = done < VHU_HDR_SIZE ? VHU_HDR_SIZE - done
						 : total - done;

		n = send(sock, src, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rv_fail(err, "vhost-user: writing the socket: %s",
				       strerror(errno));
		done += (size_t)n;
	}
	return 0;
}

void vhu_msg_init(struct vhu_msg *m, uint32_t request, uint32_t flags,
		  uint32_t size)
{
	m->request = request;
	m->flags = VHU_VERSION | flags;
	m->size = size;
	m->nfds = 0;
	memset(&m->p, 0, sizeof(m->p));
}

void vhu_msg_u64(struct vhu_msg *m, uint32_t request, uint32_t flags,
		 uint64_t v)
{
	vhu_msg_init(m, request, flags, sizeof(uint64_t));
	m->p.u64 = v;
}
