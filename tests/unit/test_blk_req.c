/* virtio-blk request parsing: every request type as a Linux driver builds
 * it, and the chains a hostile guest could build instead (short header, no
 * status byte, ranges past the end or overflowing, unaligned lengths,
 * malformed discard segment lists). Chains are plain iovecs here: the
 * parser sees nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "virtio/blk_req.h"

#define CAP 100   /* sectors */

struct ch {
	struct iovec iov[16];
	struct virtq_chain c;
};

static const struct blk_req_limits lim_rw = {
	.capacity = CAP,
	.discard = true,
	.write_zeroes = true,
	.max_discard_sectors = 64,
	.max_discard_seg = 4,
	.max_write_zeroes_sectors = 64,
	.max_write_zeroes_seg = 1,
};

/* segs: nout readable then nin writable buffers. */
static void build(struct ch *ch, unsigned int nout, unsigned int nin, ...)
{
	va_list ap;

	memset(&ch->c, 0, sizeof(ch->c));
	ch->c.iov = ch->iov;
	ch->c.iov_cap = 16;
	ch->c.nout = nout;
	ch->c.nin = nin;
	va_start(ap, nin);
	for (unsigned int i = 0; i < nout + nin; i++) {
		ch->iov[i].iov_base = va_arg(ap, void *);
		ch->iov[i].iov_len = va_arg(ap, size_t);
		if (i < nout)
			ch->c.out_len += ch->iov[i].iov_len;
		else
			ch->c.in_len += ch->iov[i].iov_len;
	}
	va_end(ap);
}

static void hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, VIRTIO_BLK_HDR_SIZE);
	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)(type >> (8 * i));
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(sector >> (8 * i));
}

static void seg(uint8_t *p, uint64_t sector, uint32_t num, uint32_t flags)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(sector >> (8 * i));
	for (int i = 0; i < 4; i++) {
		p[8 + i] = (uint8_t)(num >> (8 * i));
		p[12 + i] = (uint8_t)(flags >> (8 * i));
	}
}

static void test_read_ok(void **state)
{
	uint8_t h[16], data[1024], st = 0xff;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_IN, 7);
	build(&ch, 1, 2, h, (size_t)16, data, sizeof(data), &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.type, VIRTIO_BLK_T_IN);
	assert_int_equal(r.sector, 7);
	assert_ptr_equal(r.status, &st);
	assert_int_equal(r.data_len, 1024);
	assert_int_equal(r.ndata, 1);
	assert_ptr_equal(r.data[0].iov_base, data);
	assert_int_equal(r.data[0].iov_len, 1024);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_OK), 1025);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_IOERR), 1);
}

/* The status byte may share the last writable buffer with the data. */
static void test_read_status_in_data_buffer(void **state)
{
	uint8_t h[16], buf[1025];
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_IN, 0);
	build(&ch, 1, 1, h, (size_t)16, buf, sizeof(buf));
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_ptr_equal(r.status, &buf[1024]);
	assert_int_equal(r.data_len, 1024);
	assert_int_equal(r.ndata, 1);
	assert_int_equal(r.data[0].iov_len, 1024);
}

/* Trailing empty writable buffers do not hide the status byte. */
static void test_status_skips_empty_buffers(void **state)
{
	uint8_t h[16], data[512], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_IN, 0);
	build(&ch, 1, 3, h, (size_t)16, data, sizeof(data), &st, (size_t)1,
	      data, (size_t)0);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_ptr_equal(r.status, &st);
	assert_int_equal(r.data_len, 512);
}

static void test_write_ok_header_and_data_together(void **state)
{
	uint8_t buf[16 + 512], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(buf, VIRTIO_BLK_T_OUT, CAP - 1);
	build(&ch, 1, 1, buf, sizeof(buf), &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.type, VIRTIO_BLK_T_OUT);
	assert_int_equal(r.data_len, 512);
	assert_int_equal(r.ndata, 1);
	assert_ptr_equal(r.data[0].iov_base, buf + 16);
	assert_int_equal(r.data[0].iov_len, 512);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_OK), 1);
}

/* A driver may split the header anywhere (no framing assumptions). */
static void test_write_split_header(void **state)
{
	uint8_t h[16], data[1024], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_OUT, 3);
	build(&ch, 4, 1, h, (size_t)5, h + 5, (size_t)11, data, (size_t)512,
	      data + 512, (size_t)512, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.sector, 3);
	assert_int_equal(r.ndata, 2);
	assert_ptr_equal(r.data[0].iov_base, data);
	assert_int_equal(r.data_len, 1024);
}

static void test_short_header(void **state)
{
	uint8_t h[16], data[512], st = 0xff;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_IN, 0);
	build(&ch, 1, 2, h, (size_t)15, data, sizeof(data), &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(r.status, &st);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_IOERR), 1);

	/* No readable part at all. */
	build(&ch, 0, 1, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(r.status, &st);
}

/* Without a writable byte nothing can be reported: used length 0. */
static void test_no_status_byte(void **state)
{
	uint8_t buf[16 + 1];
	struct ch ch;
	struct blk_req r;

	(void)state;
	/* "Status" in a readable buffer. */
	hdr(buf, VIRTIO_BLK_T_FLUSH, 0);
	build(&ch, 2, 0, buf, (size_t)16, buf + 16, (size_t)1);
	blk_req_parse(&ch.c, &lim_rw, &r);
	assert_null(r.status);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_IOERR), 0);

	/* Only empty writable buffers. */
	build(&ch, 1, 2, buf, (size_t)16, buf, (size_t)0, buf, (size_t)0);
	blk_req_parse(&ch.c, &lim_rw, &r);
	assert_null(r.status);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_OK), 0);
}

static uint8_t parse_rw(uint32_t type, uint64_t sector, size_t len,
			const struct blk_req_limits *lim)
{
	static uint8_t data[4096];
	uint8_t h[16], st;
	struct ch ch;
	struct blk_req r;

	hdr(h, type, sector);
	if (type == VIRTIO_BLK_T_IN)
		build(&ch, 1, 2, h, (size_t)16, data, len, &st, (size_t)1);
	else
		build(&ch, 2, 1, h, (size_t)16, data, len, &st, (size_t)1);
	return blk_req_parse(&ch.c, lim, &r);
}

static void test_range_against_capacity(void **state)
{
	(void)state;
	/* Ends exactly at the end of the disk. */
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, CAP - 2, 1024, &lim_rw),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, CAP - 1, 1024, &lim_rw),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_OUT, CAP, 512, &lim_rw),
			 VIRTIO_BLK_S_IOERR);
	/* Zero-length at the very end is harmless. */
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, CAP, 0, &lim_rw),
			 VIRTIO_BLK_S_OK);
}

static void test_sector_overflow(void **state)
{
	struct blk_req_limits big = lim_rw;

	(void)state;
	big.capacity = UINT64_MAX >> 9;   /* largest byte-addressable disk */
	/* sector + n wraps around 2^64. */
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, UINT64_MAX - 1, 1024, &big),
			 VIRTIO_BLK_S_IOERR);
	/* sector * 512 wraps around 2^64. */
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, 1ULL << 55, 512, &big),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, &lim_rw),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) - 1, 512,
				  &big), VIRTIO_BLK_S_OK);
}

static void test_unaligned_length(void **state)
{
	(void)state;
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, 0, 1000, &lim_rw),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_OUT, 0, 513, &lim_rw),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_OUT, 0, 511, &lim_rw),
			 VIRTIO_BLK_S_IOERR);
}

/* A huge transfer (descriptors may all point at the same page) is
 * refused before anything is allocated for it. */
static void test_oversized_transfer(void **state)
{
	struct blk_req_limits big = lim_rw;
	uint8_t h[16], data[512], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	big.capacity = 1ULL << 40;
	hdr(h, VIRTIO_BLK_T_IN, 0);
	/* Lengths only: the parser never touches IN data. */
	build(&ch, 1, 3, h, (size_t)16, data, (size_t)BLK_REQ_MAX_DATA,
	      data, (size_t)512, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(r.status, &st);
}

/* The bound on a transfer, exactly: BLK_REQ_MAX_DATA itself is accepted
 * (read or write) with a used length that fits in 32 bits; a byte-sector
 * more is refused, and so is a hand-made chain whose lengths add up past
 * 4 GiB (the virtqueue stops at UINT32_MAX; the parser must not rely on
 * it). Lengths only: the parser never touches the data. */
static void test_transfer_length_limit(void **state)
{
	struct blk_req_limits big = lim_rw;
	const size_t max = BLK_REQ_MAX_DATA, huge = (size_t)3 << 30;
	uint8_t h[16], data[512], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	big.capacity = 1ULL << 40;
	hdr(h, VIRTIO_BLK_T_IN, big.capacity - max / 512);
	build(&ch, 1, 2, h, (size_t)16, data, max, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, max);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_OK), max + 1);
	/* The same, one sector further: past the end. */
	hdr(h, VIRTIO_BLK_T_IN, big.capacity - max / 512 + 1);
	build(&ch, 1, 2, h, (size_t)16, data, max, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_IOERR);

	hdr(h, VIRTIO_BLK_T_IN, 0);
	build(&ch, 1, 3, h, (size_t)16, data, huge, data, huge, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_IOERR), 1);

	hdr(h, VIRTIO_BLK_T_OUT, 0);
	build(&ch, 2, 1, h, (size_t)16, data, max, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, max);
	build(&ch, 3, 1, h, (size_t)16, data, max, data, (size_t)512, &st,
	      (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_IOERR);
	build(&ch, 3, 1, h, (size_t)16, data, huge, data, huge, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &big, &r), VIRTIO_BLK_S_IOERR);
}

static void test_readonly(void **state)
{
	struct blk_req_limits ro = lim_rw;
	uint8_t h[16], buf[64], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	ro.readonly = true;
	assert_int_equal(parse_rw(VIRTIO_BLK_T_OUT, 0, 512, &ro),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_rw(VIRTIO_BLK_T_IN, 0, 512, &ro),
			 VIRTIO_BLK_S_OK);

	hdr(h, VIRTIO_BLK_T_DISCARD, 0);
	seg(buf, 0, 8, 0);
	build(&ch, 2, 1, h, (size_t)16, buf, (size_t)16, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &ro, &r), VIRTIO_BLK_S_IOERR);
	/* Even when the feature was not negotiated: a write is a write. */
	ro.discard = ro.write_zeroes = false;
	hdr(h, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	build(&ch, 2, 1, h, (size_t)16, buf, (size_t)16, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &ro, &r), VIRTIO_BLK_S_IOERR);

	hdr(h, VIRTIO_BLK_T_FLUSH, 0);
	build(&ch, 1, 1, h, (size_t)16, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &ro, &r), VIRTIO_BLK_S_OK);
}

static void test_flush(void **state)
{
	uint8_t h[16], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_FLUSH, 0);
	build(&ch, 1, 1, h, (size_t)16, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.type, VIRTIO_BLK_T_FLUSH);
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_OK), 1);
}

static void test_get_id(void **state)
{
	static const char serial[VIRTIO_BLK_ID_BYTES] = "serial-0123";
	uint8_t h[16], id[12], id2[12], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_GET_ID, 0);
	/* 20 bytes over two buffers, status separate. */
	memset(id, 0xaa, sizeof(id));
	memset(id2, 0xaa, sizeof(id2));
	build(&ch, 1, 3, h, (size_t)16, id, (size_t)12, id2, (size_t)8, &st,
	      (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	blk_req_write_id(&r, serial);
	assert_memory_equal(id, "serial-0123\0", 12);
	assert_memory_equal(id2, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(id2[8], 0xaa);   /* nothing beyond 20 bytes */
	assert_int_equal(blk_req_used_len(&r, VIRTIO_BLK_S_OK), 21);

	/* A buffer that cannot hold the ID. */
	build(&ch, 1, 2, h, (size_t)16, id, (size_t)10, &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_IOERR);
}

static void test_unsupported_types(void **state)
{
	static const uint32_t types[] = {
		2, 3, VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE,
		0x80000000u, UINT32_MAX,
	};
	uint8_t h[16], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		hdr(h, types[i], 0);
		build(&ch, 1, 1, h, (size_t)16, &st, (size_t)1);
		assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r),
				 VIRTIO_BLK_S_UNSUPP);
		assert_ptr_equal(r.status, &st);
	}
}

static void test_discard_ok(void **state)
{
	uint8_t h[16], segs[32], st;
	struct ch ch;
	struct blk_req r;

	(void)state;
	hdr(h, VIRTIO_BLK_T_DISCARD, 0);
	seg(segs, 8, 16, 0);
	seg(segs + 16, CAP - 4, 4, 0);
	/* The second segment split across two buffers. */
	build(&ch, 3, 1, h, (size_t)16, segs, (size_t)20, segs + 20, (size_t)12,
	      &st, (size_t)1);
	assert_int_equal(blk_req_parse(&ch.c, &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.nranges, 2);
	assert_int_equal(r.range[0].off, 8 * 512);
	assert_int_equal(r.range[0].len, 16 * 512);
	assert_int_equal(r.range[1].off, (CAP - 4) * 512);
	assert_int_equal(r.range[1].len, 4 * 512);
	assert_false(r.range[0].unmap);
}

static uint8_t parse_ranges(uint32_t type, const uint8_t *segs, size_t len,
			    const struct blk_req_limits *lim,
			    struct blk_req *r)
{
	uint8_t h[16], st;
	struct ch ch;

	hdr(h, type, 0);
	build(&ch, 2, 1, h, (size_t)16, segs, len, &st, (size_t)1);
	return blk_req_parse(&ch.c, lim, r);
}

static void test_write_zeroes(void **state)
{
	struct blk_req_limits nowz = lim_rw;
	uint8_t segs[16];
	struct blk_req r;

	(void)state;
	seg(segs, 10, 8, VIRTIO_BLK_WZ_FLAG_UNMAP);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_WRITE_ZEROES, segs, 16,
				      &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.nranges, 1);
	assert_true(r.range[0].unmap);
	assert_int_equal(r.range[0].off, 10 * 512);

	/* Unmap is for write zeroes only. */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16, &lim_rw,
				      &r), VIRTIO_BLK_S_UNSUPP);
	/* Unknown flag bits. */
	seg(segs, 10, 8, 2);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_WRITE_ZEROES, segs, 16,
				      &lim_rw, &r), VIRTIO_BLK_S_UNSUPP);
	/* Not negotiated. */
	nowz.write_zeroes = false;
	seg(segs, 10, 8, 0);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_WRITE_ZEROES, segs, 16,
				      &nowz, &r), VIRTIO_BLK_S_UNSUPP);
	nowz.discard = false;
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16, &nowz,
				      &r), VIRTIO_BLK_S_UNSUPP);
}

static void test_discard_malformed_list(void **state)
{
	uint8_t segs[16 * 20];
	struct blk_req r;

	(void)state;
	memset(segs, 0, sizeof(segs));
	for (int i = 0; i < 20; i++)
		seg(segs + 16 * i, (uint64_t)i, 1, 0);
	/* Not a whole number of segments. */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 20, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 15, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
	/* No segment at all. */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 0, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
	/* More than max_discard_seg (4) / max_write_zeroes_seg (1). */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16 * 4,
				      &lim_rw, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16 * 5,
				      &lim_rw, &r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_WRITE_ZEROES, segs, 32,
				      &lim_rw, &r), VIRTIO_BLK_S_IOERR);
}

/* Limits above what the parser can hold are clamped, not trusted. */
static void test_discard_too_many_for_storage(void **state)
{
	struct blk_req_limits wide = lim_rw;
	uint8_t segs[16 * 20];
	struct blk_req r;

	(void)state;
	wide.max_discard_seg = 1000;
	for (int i = 0; i < 20; i++)
		seg(segs + 16 * i, (uint64_t)i, 1, 0);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs,
				      16 * BLK_REQ_MAX_RANGES, &wide, &r),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r.nranges, BLK_REQ_MAX_RANGES);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs,
				      16 * (BLK_REQ_MAX_RANGES + 1), &wide, &r),
			 VIRTIO_BLK_S_IOERR);
}

static void test_discard_bad_ranges(void **state)
{
	uint8_t segs[32];
	struct blk_req r;

	(void)state;
	seg(segs, CAP - 1, 2, 0);                 /* past the end */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
	seg(segs, UINT64_MAX, 1, 0);              /* wraps */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
	seg(segs, 0, 0, 0);                       /* empty */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_WRITE_ZEROES, segs, 16,
				      &lim_rw, &r), VIRTIO_BLK_S_IOERR);
	seg(segs, 0, 65, 0);                      /* above max sectors */
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 16, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
	/* One good segment does not excuse a bad one after it. */
	seg(segs, 0, 8, 0);
	seg(segs + 16, CAP, 1, 0);
	assert_int_equal(parse_ranges(VIRTIO_BLK_T_DISCARD, segs, 32, &lim_rw,
				      &r), VIRTIO_BLK_S_IOERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_ok),
		cmocka_unit_test(test_read_status_in_data_buffer),
		cmocka_unit_test(test_status_skips_empty_buffers),
		cmocka_unit_test(test_write_ok_header_and_data_together),
		cmocka_unit_test(test_write_split_header),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_no_status_byte),
		cmocka_unit_test(test_range_against_capacity),
		cmocka_unit_test(test_sector_overflow),
		cmocka_unit_test(test_unaligned_length),
		cmocka_unit_test(test_oversized_transfer),
		cmocka_unit_test(test_transfer_length_limit),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_get_id),
		cmocka_unit_test(test_unsupported_types),
		cmocka_unit_test(test_discard_ok),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_discard_malformed_list),
		cmocka_unit_test(test_discard_too_many_for_storage),
		cmocka_unit_test(test_discard_bad_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
