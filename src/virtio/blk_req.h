/* virtio-blk requests (virtio 1.2, section 5.2.6): turning one validated
 * descriptor chain into something a back end can execute, or into the
 * error status the driver gets back. Everything in the chain is the
 * guest's: the header and discard segments are copied out once, and every
 * sector range is checked against the capacity without overflow. */
#ifndef RINGVM_VIRTIO_BLK_REQ_H
#define RINGVM_VIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/blk_file.h"
#include "virtio/virtqueue.h"

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR_SHIFT 9
#define VIRTIO_BLK_SECTOR_SIZE  512
#define VIRTIO_BLK_HDR_SIZE     16     /* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_RANGE_SIZE   16     /* le64 sector, le32 num, le32 flags */
#define VIRTIO_BLK_ID_BYTES     20
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1

/* Discard / write-zeroes segments one request may carry (what the device
 * advertises as max_discard_seg / max_write_zeroes_seg). */
#define BLK_REQ_MAX_RANGES 16
/* Largest IN/OUT transfer accepted (Linux sends at most a few MiB); keeps
 * used lengths in 32 bits and bounds how long one O_DIRECT request too
 * long to bounce at once holds the I/O thread (bounce memory itself is
 * bounded per queue: BLK_BOUNCE_BUDGET). */
#define BLK_REQ_MAX_DATA (1u << 30)

struct blk_req_limits {
	uint64_t capacity;           /* 512-byte sectors */
	bool readonly;
	bool discard;                /* VIRTIO_BLK_F_DISCARD negotiated */
	bool write_zeroes;           /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
	uint32_t max_discard_sectors, max_discard_seg;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
};

struct blk_req {
	uint32_t type;
	uint64_t sector;
	/* The last byte of the chain's device-writable part; NULL when the
	 * chain has none (nothing can be reported: return it with length 0). */
	uint8_t *status;
	/* IN: the writable part without the status byte; OUT: the readable
	 * part after the header. Points into the chain's iovec array, which
	 * blk_req_parse trims in place. */
	struct iovec *data;
	unsigned int ndata;
	size_t data_len;
	/* DISCARD / WRITE_ZEROES, in bytes. */
	struct blk_range range[BLK_REQ_MAX_RANGES];
	unsigned int nranges;
};

/* Validates the chain c and fills r. Returns VIRTIO_BLK_S_OK when r is a
 * request to execute (IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES), else
 * the status to report without executing anything: IOERR for a malformed
 * or out-of-range request or a write to a read-only disk, UNSUPP for an
 * unknown type or flag. Check r->status before reporting. */
uint8_t blk_req_parse(struct virtq_chain *c, const struct blk_req_limits *lim,
		      struct blk_req *r);

/* Used length for a request completed with `status`: the bytes written
 * into the chain (data for a successful IN or GET_ID, plus the status). */
uint32_t blk_req_used_len(const struct blk_req *r, uint8_t status);

/* GET_ID (parsed OK, so the buffer holds at least 20 bytes): writes the
 * serial, NUL-padded to 20 bytes, into the data part. */
void blk_req_write_id(struct blk_req *r, const char serial[VIRTIO_BLK_ID_BYTES]);

#endif
