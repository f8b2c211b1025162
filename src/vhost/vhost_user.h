/* The vhost-user protocol (QEMU's docs/interop/vhost-user.rst): messages
 * on a Unix stream socket, a 12-byte header and a payload, with file
 * descriptors (guest memory, eventfds) passed as SCM_RIGHTS ancillary
 * data. Shared by ringvm's back-end processes and its frontend devices:
 * this file frames, sends and receives messages and checks each payload's
 * size against its request; what a message means is the caller's. The
 * peer is not trusted: every length is checked before it is used. */
#ifndef RINGVM_VHOST_VHOST_USER_H
#define RINGVM_VHOST_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Requests, frontend to back end. */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SEND_RARP = 19,
	VHU_NET_SET_MTU = 20,
	VHU_SET_BACKEND_REQ_FD = 21,
	VHU_IOTLB_MSG = 22,
	VHU_SET_VRING_ENDIAN = 23,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
	VHU_GET_INFLIGHT_FD = 31,
	VHU_SET_INFLIGHT_FD = 32,
	VHU_RESET_DEVICE = 34,
	VHU_VRING_KICK = 35,
	VHU_GET_MAX_MEM_SLOTS = 36,
	VHU_ADD_MEM_REG = 37,
	VHU_REM_MEM_REG = 38,
	VHU_SET_STATUS = 39,
	VHU_GET_STATUS = 40,
	VHU_REQUEST_MAX = 41,
};

/* Header flags: protocol version 1 in bits 0-1, a reply, a reply asked for
 * (with VHU_PROTOCOL_F_REPLY_ACK). */
#define VHU_VERSION          0x1u
#define VHU_VERSION_MASK     0x3u
#define VHU_FLAG_REPLY       (1u << 2)
#define VHU_FLAG_NEED_REPLY  (1u << 3)

/* Virtio-level feature bits that belong to vhost-user itself. */
#define VHOST_F_LOG_ALL                  26
#define VHOST_USER_F_PROTOCOL_FEATURES   30

/* Protocol feature bits. */
#define VHU_PROTOCOL_F_MQ                  0
#define VHU_PROTOCOL_F_LOG_SHMFD           1
#define VHU_PROTOCOL_F_RARP                2
#define VHU_PROTOCOL_F_REPLY_ACK           3
#define VHU_PROTOCOL_F_MTU                 4
#define VHU_PROTOCOL_F_BACKEND_REQ         5
#define VHU_PROTOCOL_F_CONFIG              9
#define VHU_PROTOCOL_F_INFLIGHT_SHMFD      12
#define VHU_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHU_PROTOCOL_F_STATUS              16

#define VHU_HDR_SIZE        12
#define VHU_MAX_FDS         8     /* fds one message may carry */
#define VHU_MAX_MEM_REGIONS 8     /* SET_MEM_TABLE without mem slots */
#define VHU_MAX_CONFIG      256   /* device config bytes in one message */
/* Largest payload any request we handle has (a full memory table). */
#define VHU_MAX_PAYLOAD     (8 + VHU_MAX_MEM_REGIONS * 32)

/* VHU_SET_VRING_KICK/CALL/ERR u64: queue index in bits 0-7; bit 8 set
 * means no fd comes with it (polling, which ringvm does not do). */
#define VHU_VRING_IDX_MASK  0xffu
#define VHU_VRING_NOFD      (1u << 8)

struct vhu_vring_state {        /* SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE */
	uint32_t index;
	uint32_t num;
};

struct vhu_vring_addr {         /* SET_VRING_ADDR: frontend addresses */
	uint32_t index;
	uint32_t flags;         /* bit 0: log the used ring */
	uint64_t desc, used, avail, log;
};

struct vhu_mem_region {
	uint64_t gpa;           /* guest physical address */
	uint64_t size;
	uint64_t uaddr;         /* where the frontend maps it */
	uint64_t mmap_offset;   /* offset of the region in its fd */
};

struct vhu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_mem_region region[VHU_MAX_MEM_REGIONS];
};

struct vhu_inflight {           /* GET_INFLIGHT_FD / SET_INFLIGHT_FD */
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};
/* QEMU sends the struct with its tail padding; 20 bytes carry it all. */
#define VHU_INFLIGHT_MIN 20

struct vhu_config {             /* GET_CONFIG / SET_CONFIG */
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHU_MAX_CONFIG];
};
#define VHU_CONFIG_HDR 12

/* One message with its fds. The payload is decoded in host byte order
 * (the protocol's is the host's: both ends share a machine). */
struct vhu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;          /* payload bytes */
	union {
		uint64_t u64;
		struct vhu_vring_state state;
		struct vhu_vring_addr addr;
		struct vhu_mem_table mem;
		struct vhu_config config;
		struct vhu_inflight inflight;
		uint8_t bytes[VHU_MAX_PAYLOAD + VHU_MAX_CONFIG];
	} p;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
};

/* Name of a request for messages ("SET_MEM_TABLE"), "request N" if
 * unknown (buf receives it). */
const char *vhu_request_name(uint32_t request, char buf[24]);

/* Reads one message from sock. Returns 1 with *m filled (its fds are the
 * caller's to close: vhu_msg_close_fds), 0 on orderly end of stream at a
 * message boundary, -1 with err on a broken stream: a short or oversized
 * message, a wrong version, too many fds, or a payload whose size does
 * not fit its request (see vhu_check_size). On -1 no fd is left open. */
int vhu_recv(int sock, struct vhu_msg *m, struct rv_err *err);

/* The payload size check vhu_recv applies, on its own (also the fuzz
 * target's): 0 if `size` bytes is what `request` carries, else -1 with
 * err. is_reply selects the reply's layout. */
int vhu_check_size(uint32_t request, uint32_t size, bool is_reply,
		   struct rv_err *err);

/* Sends a message of m->size payload bytes with fds[0..nfds). */
int vhu_send(int sock, const struct vhu_msg *m, const int *fds,
	     unsigned int nfds, struct rv_err *err);

/* A message with no payload / a u64 payload (flags: VHU_FLAG_*; the
 * version is added). */
void vhu_msg_init(struct vhu_msg *m, uint32_t request, uint32_t flags,
		  uint32_t size);
void vhu_msg_u64(struct vhu_msg *m, uint32_t request, uint32_t flags,
		 uint64_t v);

/* Closes every fd m still holds and forgets them. */
void vhu_msg_close_fds(struct vhu_msg *m);
/* Takes fd i out of m (the caller owns it now); -1 if there is none. */
int vhu_msg_take_fd(struct vhu_msg *m, unsigned int i);

#endif
