#include "virtio/blk_req.h"

#include <string.h>

#include "util/le.h"

/* The status byte is the last byte of the device-writable part (virtio
 * 1.2, 5.2.6): a chain without one cannot be answered at all. Trims it
 * off, leaving the rest of the writable part as IN / GET_ID data. */
static uint8_t *take_status(struct virtq_chain *c, struct blk_req *r)
{
	struct iovec *in = c->iov + c->nout;
	unsigned int k = c->nin;
	uint8_t *status;

	while (k > 0 && in[k - 1].iov_len == 0)
		k--;
	if (k == 0)
		return NULL;
	status = (uint8_t *)in[k - 1].iov_base + in[k - 1].iov_len - 1;
	in[k - 1].iov_len--;
	if (in[k - 1].iov_len == 0)
		k--;
	r->data = in;
	r->ndata = k;
	r->data_len = c->in_len - 1;
	return status;
}

/* OUT data: the readable part after the header, trimmed in place. */
static void take_out_data(struct virtq_chain *c, struct blk_req *r)
{
	size_t skip = VIRTIO_BLK_HDR_SIZE;
	unsigned int i = 0;

	while (i < c->nout && c->iov[i].iov_len <= skip) {
		skip -= c->iov[i].iov_len;
		i++;
	}
	if (i < c->nout) {
		c->iov[i].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
		c->iov[i].iov_len -= skip;
	}
	r->data = c->iov + i;
	r->ndata = c->nout - i;
	r->data_len = c->out_len - VIRTIO_BLK_HDR_SIZE;
}

/* [sector, sector + nsect) inside the disk, without overflow. */
static bool in_capacity(const struct blk_req_limits *lim, uint64_t sector,
			uint64_t nsect)
{
	return sector <= lim->capacity && nsect <= lim->capacity - sector;
}

static uint8_t check_rw(const struct blk_req_limits *lim,
			const struct blk_req *r)
{
	if (r->data_len % VIRTIO_BLK_SECTOR_SIZE ||
	    r->data_len > BLK_REQ_MAX_DATA)
		return VIRTIO_BLK_S_IOERR;
	if (!in_capacity(lim, r->sector,
			 r->data_len >> VIRTIO_BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* DISCARD / WRITE_ZEROES: the readable part after the header is an array
 * of 16-byte segments (virtio 1.2, 5.2.6.2). */
static uint8_t parse_ranges(const struct virtq_chain *c,
			    const struct blk_req_limits *lim,
			    struct blk_req *r)
{
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	size_t bytes = c->out_len - VIRTIO_BLK_HDR_SIZE;
	uint32_t max_seg = discard ? lim->max_discard_seg
				   : lim->max_write_zeroes_seg;
	uint32_t max_sect = discard ? lim->max_discard_sectors
				    : lim->max_write_zeroes_sectors;
	size_t n;

	if (max_seg > BLK_REQ_MAX_RANGES)
		max_seg = BLK_REQ_MAX_RANGES;
	if (bytes == 0 || bytes % VIRTIO_BLK_RANGE_SIZE)
		return VIRTIO_BLK_S_IOERR;
	n = bytes / VIRTIO_BLK_RANGE_SIZE;
	if (n > max_seg)
		return VIRTIO_BLK_S_IOERR;
	for (size_t i = 0; i < n; i++) {
		uint8_t seg[VIRTIO_BLK_RANGE_SIZE];
		uint64_t sector;
		uint32_t num, flags;

		if (virtq_chain_read(c, VIRTIO_BLK_HDR_SIZE +
				     i * VIRTIO_BLK_RANGE_SIZE, seg,
				     sizeof(seg)) != sizeof(seg))
			return VIRTIO_BLK_S_IOERR;
		sector = get_le64(seg);
		num = get_le32(seg + 8);
		flags = get_le32(seg + 12);
		/* Unknown flags, and unmap on a discard, are unsupported
		 * (virtio 1.2, 5.2.6.2 device requirements). */
		if (flags & ~(uint32_t)VIRTIO_BLK_WZ_FLAG_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (discard && (flags & VIRTIO_BLK_WZ_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (num == 0 || num > max_sect || !in_capacity(lim, sector, num))
			return VIRTIO_BLK_S_IOERR;
		r->range[i] = (struct blk_range){
			.off = sector << VIRTIO_BLK_SECTOR_SHIFT,
			.len = (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT,
			.unmap = flags & VIRTIO_BLK_WZ_FLAG_UNMAP,
		};
	}
	r->nranges = (unsigned int)n;
	return VIRTIO_BLK_S_OK;
}

uint8_t blk_req_parse(struct virtq_chain *c, const struct blk_req_limits *lim,
		      struct blk_req *r)
{
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE];

	r->type = 0;
	r->sector = 0;
	r->data = NULL;
	r->ndata = 0;
	r->data_len = 0;
	r->nranges = 0;
	r->status = take_status(c, r);
	if (!r->status)
		return VIRTIO_BLK_S_IOERR;
	if (c->out_len < VIRTIO_BLK_HDR_SIZE ||
	    virtq_chain_read(c, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
		r->type = UINT32_MAX;   /* no header: not a known type */
		return VIRTIO_BLK_S_IOERR;
	}
	r->type = get_le32(hdr);
	r->sector = get_le64(hdr + 8);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return check_rw(lim, r);
	case VIRTIO_BLK_T_OUT:
		/* A read-only device must fail writes (virtio 1.2, 5.2.6.2). */
		if (lim->readonly)
			return VIRTIO_BLK_S_IOERR;
		take_out_data(c, r);
		return check_rw(lim, r);
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		return r->data_len < VIRTIO_BLK_ID_BYTES ? VIRTIO_BLK_S_IOERR
							 : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (lim->readonly)
			return VIRTIO_BLK_S_IOERR;
		if (r->type == VIRTIO_BLK_T_DISCARD ? !lim->discard
						    : !lim->write_zeroes)
			return VIRTIO_BLK_S_UNSUPP;
		return parse_ranges(c, lim, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

uint32_t blk_req_used_len(const struct blk_req *r, uint8_t status)
{
	if (!r->status)
		return 0;
	if (status != VIRTIO_BLK_S_OK)
		return 1;
	/* Chains are bounded by the queue and guest RAM; data_len fits. */
	if (r->type == VIRTIO_BLK_T_IN)
		return (uint32_t)r->data_len + 1;
	if (r->type == VIRTIO_BLK_T_GET_ID)
		return VIRTIO_BLK_ID_BYTES + 1;
	return 1;
}

void blk_req_write_id(struct blk_req *r, const char serial[VIRTIO_BLK_ID_BYTES])
{
	size_t pos = 0;

	for (unsigned int i = 0; i < r->ndata && pos < VIRTIO_BLK_ID_BYTES; i++) {
		size_t n = r->data[i].iov_len;

		if (n > VIRTIO_BLK_ID_BYTES - pos)
			n = VIRTIO_BLK_ID_BYTES - pos;
		memcpy(r->data[i].iov_base, serial + pos, n);
		pos += n;
	}
}
