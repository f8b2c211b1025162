/* The snapshot state format: what the writer produces, that the reader
 * gives it back exactly, and above all what the reader refuses -- every
 * truncation, every single-bit flip, hand-made structural faults with
 * valid checksums, and random damage -- each with one line naming the
 * input and the problem, never reading outside the buffer (each input is
 * an exact-size heap block, so ASan sees a byte too far). Then the cursor's
 * sticky errors and the atomic file writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "state/state.h"
#include "util/le.h"

/* The layout as documented in state/state.h, restated here on purpose:
 * the test checks the bytes, not the implementation's own constants. */
#define H_FORMAT    8
#define H_HDRLEN    12
#define H_VERSION   16
#define H_FLAGS     48
#define H_RESERVED  52
#define H_CRC       60
#define S_VERSION   32
#define S_LEN       36
#define S_PAYCRC    44
#define S_HDRCRC    48
#define HDR         64
#define SHDR        52

#define WHAT "state file t.state"

struct tbuf {
	uint8_t *p;
	size_t len;
};

static uint32_t crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32_z(0, p, n);
}

/* An exact-size heap copy: one byte past it is an ASan report. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static void finish_into(struct state_writer *w, struct tbuf *t)
{
	const uint8_t *b;
	size_t n;
	struct rv_err err = { "" };

	if (state_writer_finish(w, &b, &n, &err) != 0)
		fail_msg("state_writer_finish: %s", err.msg);
	t->p = exact_copy(b, n);
	t->len = n;
	state_writer_free(w);
}

static const uint8_t blob[5] = { 0xde, 0xad, 0x00, 0xbe, 0xef };

/* The reference state: every put type, an empty section, a long one. */
static void make_full(struct tbuf *t)
{
	struct state_writer w;
	uint8_t big[300];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	state_writer_init(&w, "ringvm 0.1-test");
	state_begin(&w, "cpu0", 3);
	state_put_u8(&w, 0xa5);
	state_put_u16(&w, 0xbeef);
	state_put_u32(&w, 0xdeadbeef);
	state_put_u64(&w, 0x0123456789abcdefull);
	state_put_bool(&w, true);
	state_put_bool(&w, false);
	state_put_str(&w, "hello");
	state_put_bytes(&w, blob, sizeof(blob));
	state_put_str(&w, "");
	state_end(&w);
	state_begin(&w, "uart.0", 1);
	state_put_u64(&w, UINT64_MAX);
	state_put_u8(&w, 0xff);
	state_end(&w);
	state_begin(&w, "empty", 0);
	state_end(&w);
	state_begin(&w, "virtio-blk_1", 7);
	state_put_bytes(&w, big, sizeof(big));
	state_end(&w);
	finish_into(&w, t);
}

/* A small state, for flipping every bit of it. */
static void make_small(struct tbuf *t)
{
	struct state_writer w;

	state_writer_init(&w, "v1");
	state_begin(&w, "a", 1);
	state_put_u32(&w, 42);
	state_end(&w);
	state_begin(&w, "b", 2);
	state_put_u8(&w, 1);
	state_end(&w);
	finish_into(&w, t);
}

/* Recomputes every checksum as far as the structure allows, so that a
 * mutation reaches the structural checks behind them. */
static void fix_crcs(uint8_t *p, size_t len)
{
	size_t off = HDR;

	if (len < HDR)
		return;
	put_le32(p + H_CRC, crc(p, H_CRC));
	while (len - off >= SHDR) {
		uint64_t plen = get_le64(p + off + S_LEN);
		size_t left = len - off - SHDR;

		if (plen <= left)
			put_le32(p + off + S_PAYCRC,
				 crc(p + off + SHDR, (size_t)plen));
		put_le32(p + off + S_HDRCRC, crc(p + off, S_HDRCRC));
		if (plen > left)
			break;
		off += SHDR + (size_t)plen;
	}
}

/* Writes a section header (name field given as 32 raw bytes) with
 * correct checksums over the payload that follows it. */
static void raw_section(uint8_t *dst, const char name[32], uint32_t version,
			const uint8_t *payload, size_t plen)
{
	memset(dst, 0, SHDR);
	memcpy(dst, name, 32);
	put_le32(dst + S_VERSION, version);
	put_le64(dst + S_LEN, plen);
	if (plen)
		memcpy(dst + SHDR, payload, plen);
	put_le32(dst + S_PAYCRC, crc(dst + SHDR, plen));
	put_le32(dst + S_HDRCRC, crc(dst, S_HDRCRC));
}

/* Inserts a valid section just before the end marker. */
static void insert_section(struct tbuf *t, const char name[32],
			   uint32_t version, const uint8_t *payload,
			   size_t plen)
{
	size_t at = t->len - SHDR;
	uint8_t *q = malloc(t->len + SHDR + plen);

	assert_non_null(q);
	memcpy(q, t->p, at);
	raw_section(q + at, name, version, payload, plen);
	memcpy(q + at + SHDR + plen, t->p + at, SHDR);
	free(t->p);
	t->p = q;
	t->len += SHDR + plen;
}

static void name32(char out[32], const char *s, size_t n)
{
	memset(out, 0, 32);
	memcpy(out, s, n);
}

/* Re-encodes what a reader accepted: a valid state has exactly one
 * encoding, so this must give back the input byte for byte. */
static void assert_canonical(const struct state_reader *r, const uint8_t *p,
			     size_t len)
{
	struct state_writer w;
	const uint8_t *b;
	size_t n;
	struct rv_err err = { "" };

	state_writer_init(&w, r->ringvm_version);
	for (unsigned int i = 0; i < r->nsec; i++) {
		state_begin(&w, r->sec[i].name, r->sec[i].version);
		state_put_bytes(&w, r->sec[i].payload, (size_t)r->sec[i].len);
		state_end(&w);
	}
	if (state_writer_finish(&w, &b, &n, &err) != 0)
		fail_msg("re-encoding: %s", err.msg);
	assert_int_equal(n, len);
	assert_memory_equal(b, p, len);
	state_writer_free(&w);
}

static void assert_has(const char *msg, const char *want)
{
	if (want && !strstr(msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", msg, want);
}

/* The reader must refuse these bytes with a message naming the input and
 * containing want1 and want2, and leave the reader empty. */
static void refuse(const uint8_t *p, size_t len, const char *want1,
		   const char *want2)
{
	uint8_t *q = exact_copy(p, len);
	struct state_reader r;
	struct rv_err err = { "" };

	if (state_reader_open(&r, q, len, WHAT, &err) != -1)
		fail_msg("accepted; wanted \"%s\"", want1);
	assert_has(err.msg, WHAT);
	assert_has(err.msg, want1);
	assert_has(err.msg, want2);
	assert_null(r.sec);
	assert_int_equal(r.nsec, 0);
	assert_null(strchr(err.msg, '\n'));
	state_reader_free(&r);
	free(q);
}

/* ---- round trip ---- */

static void test_round_trip(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct state_cursor c;
	struct rv_err err = { "" };
	uint32_t ver = 0;
	uint8_t got[300];
	char s[16];

	(void)unused;
	make_full(&t);
	if (state_reader_open(&r, t.p, t.len, WHAT, &err) != 0)
		fail_msg("open: %s", err.msg);
	assert_int_equal(r.format_version, STATE_FORMAT_VERSION);
	assert_string_equal(r.ringvm_version, "ringvm 0.1-test");
	assert_int_equal(r.nsec, 4);
	assert_true(state_has_section(&r, "cpu0"));
	assert_true(state_has_section(&r, "uart.0"));
	assert_true(state_has_section(&r, "empty"));
	assert_true(state_has_section(&r, "virtio-blk_1"));
	assert_false(state_has_section(&r, "end"));     /* a marker only */
	assert_false(state_has_section(&r, "cpu"));

	assert_int_equal(state_section(&r, "cpu0", 3, &c, &ver, &err), 0);
	assert_int_equal(ver, 3);
	assert_int_equal(state_get_u8(&c), 0xa5);
	assert_int_equal(state_get_u16(&c), 0xbeef);
	assert_int_equal(state_get_u32(&c), 0xdeadbeef);
	assert_true(state_get_u64(&c) == 0x0123456789abcdefull);
	assert_true(state_get_bool(&c));
	assert_false(state_get_bool(&c));
	state_get_str(&c, s, sizeof(s));
	assert_string_equal(s, "hello");
	state_get_bytes(&c, got, sizeof(blob));
	assert_memory_equal(got, blob, sizeof(blob));
	state_get_str(&c, s, sizeof(s));
	assert_string_equal(s, "");
	if (state_cursor_finish(&c, &err) != 0)
		fail_msg("finish cpu0: %s", err.msg);

	assert_int_equal(state_section(&r, "uart.0", 5, &c, NULL, &err), 0);
	assert_true(state_get_u64(&c) == UINT64_MAX);
	assert_int_equal(state_get_u8(&c), 0xff);
	assert_int_equal(state_cursor_finish(&c, &err), 0);

	assert_int_equal(state_section(&r, "empty", 0, &c, &ver, &err), 0);
	assert_int_equal(ver, 0);
	assert_int_equal(state_cursor_finish(&c, &err), 0);

	assert_int_equal(state_section(&r, "virtio-blk_1", 7, &c, NULL, &err),
			 0);
	state_get_bytes(&c, got, sizeof(got));
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], (uint8_t)(i * 7 + 1));
	assert_int_equal(state_cursor_finish(&c, &err), 0);

	assert_canonical(&r, t.p, t.len);
	state_reader_free(&r);
	free(t.p);
}

/* The bytes on disk, checked against the documented layout. */
static void test_layout(void **unused)
{
	struct tbuf t;
	struct state_writer w;
	const uint8_t *e;

	(void)unused;
	make_small(&t);
	assert_memory_equal(t.p, "RINGVMST", 8);
	assert_int_equal(get_le32(t.p + H_FORMAT), 1);
	assert_int_equal(get_le32(t.p + H_HDRLEN), 64);
	assert_string_equal((const char *)t.p + H_VERSION, "v1");
	assert_int_equal(get_le32(t.p + H_FLAGS), 0);
	assert_true(get_le64(t.p + H_RESERVED) == 0);
	assert_int_equal(get_le32(t.p + H_CRC), crc(t.p, 60));
	/* Section "a": a u32 payload. */
	assert_string_equal((const char *)t.p + HDR, "a");
	assert_int_equal(get_le32(t.p + HDR + S_VERSION), 1);
	assert_true(get_le64(t.p + HDR + S_LEN) == 4);
	assert_int_equal(get_le32(t.p + HDR + SHDR), 42);
	assert_int_equal(get_le32(t.p + HDR + S_PAYCRC),
			 crc(t.p + HDR + SHDR, 4));
	assert_int_equal(get_le32(t.p + HDR + S_HDRCRC), crc(t.p + HDR, 48));
	/* The end marker closes the file. */
	assert_int_equal(t.len, HDR + (SHDR + 4) + (SHDR + 1) + SHDR);
	e = t.p + t.len - SHDR;
	assert_string_equal((const char *)e, "end");
	assert_true(get_le64(e + S_LEN) == 0);
	assert_int_equal(get_le32(e + S_VERSION), 0);
	free(t.p);

	/* The version string: truncated to 31, unprintables replaced. */
	state_writer_init(&w, "0123456789abcdefghijklmnopqrstuvwxyz");
	finish_into(&w, &t);
	assert_int_equal(strnlen((const char *)t.p + H_VERSION, 32), 31);
	assert_memory_equal(t.p + H_VERSION,
			    "0123456789abcdefghijklmnopqrstu", 31);
	assert_int_equal(t.len, HDR + SHDR);
	free(t.p);
	state_writer_init(&w, "a\tb\x7f");
	finish_into(&w, &t);
	assert_string_equal((const char *)t.p + H_VERSION, "a?b?");
	free(t.p);
}

/* ---- writer errors: sticky, the first one reported ---- */

static void expect_writer_error(struct state_writer *w, const char *want1,
				const char *want2)
{
	const uint8_t *b = NULL;
	size_t n = 0;
	struct rv_err err = { "" };

	assert_int_equal(state_writer_finish(w, &b, &n, &err), -1);
	assert_null(b);
	assert_has(err.msg, "state writer");
	assert_has(err.msg, want1);
	assert_has(err.msg, want2);
	state_writer_free(w);
}

static void test_writer_errors(void **unused)
{
	static const char *const bad_names[] = {
		"", "Cpu0", "cpu 0", "cpu/0", "cpu\xc3\xa9", "end",
		"0123456789abcdef0123456789abcdef",          /* 32 chars */
	};
	struct state_writer w;
	const uint8_t *b;
	size_t n;
	struct rv_err err = { "" };

	(void)unused;
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		state_writer_init(&w, "t");
		state_begin(&w, bad_names[i], 1);
		state_put_u32(&w, 1);
		state_end(&w);
		expect_writer_error(&w, "section name", NULL);
	}
	state_writer_init(&w, "t");
	state_begin(&w, NULL, 1);
	expect_writer_error(&w, "without a name", NULL);

	/* 31 characters is the longest name allowed. */
	state_writer_init(&w, "t");
	state_begin(&w, "0123456789abcdef0123456789abcde", 1);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w, &b, &n, &err), 0);
	state_writer_free(&w);

	state_writer_init(&w, "t");
	state_put_u8(&w, 1);
	expect_writer_error(&w, "state_put_u8 outside a section", NULL);

	state_writer_init(&w, "t");
	state_begin(&w, "a", 1);
	state_end(&w);
	state_put_str(&w, "x");
	expect_writer_error(&w, "state_put_str outside a section", NULL);

	state_writer_init(&w, "t");
	state_begin(&w, "a", 1);
	state_begin(&w, "b", 1);
	expect_writer_error(&w, "\"b\" begun while section \"a\" is open",
			    NULL);

	state_writer_init(&w, "t");
	state_begin(&w, "a", 1);
	state_end(&w);
	state_begin(&w, "b", 1);
	state_put_u8(&w, 3);
	state_end(&w);
	state_begin(&w, "b", 2);
	expect_writer_error(&w, "duplicate section \"b\"", NULL);

	state_writer_init(&w, "t");
	state_end(&w);
	expect_writer_error(&w, "state_end without state_begin", NULL);

	state_writer_init(&w, "t");
	state_begin(&w, "a", 1);
	state_put_u8(&w, 1);
	expect_writer_error(&w, "section \"a\" still open at finish", NULL);

	/* Sticky: the first error is the one reported, later calls are
	 * accepted and ignored. */
	state_writer_init(&w, "t");
	state_put_u16(&w, 1);
	state_begin(&w, "BAD", 1);
	state_end(&w);
	state_end(&w);
	expect_writer_error(&w, "state_put_u16 outside a section", NULL);

	state_writer_init(&w, "t");
	state_begin(&w, "a", 1);
	state_put_str(&w, NULL);
	state_end(&w);
	expect_writer_error(&w, "NULL", NULL);

	/* Finished means finished: more data would follow the end marker. */
	state_writer_init(&w, "t");
	assert_int_equal(state_writer_finish(&w, &b, &n, &err), 0);
	assert_int_equal(n, HDR + SHDR);
	state_begin(&w, "late", 1);
	expect_writer_error(&w, "after state_writer_finish", NULL);
}

static void test_writer_limits(void **unused)
{
	struct state_writer w;
	struct tbuf t;
	struct state_reader r;
	struct rv_err err = { "" };
	char name[32];
	uint8_t *huge;

	(void)unused;
	/* STATE_MAX_SECTIONS is allowed, and the reader takes them all. */
	state_writer_init(&w, "t");
	for (int i = 0; i < STATE_MAX_SECTIONS; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		state_begin(&w, name, 0);
		state_put_u8(&w, (uint8_t)i);
		state_end(&w);
	}
	finish_into(&w, &t);
	if (state_reader_open(&r, t.p, t.len, WHAT, &err) != 0)
		fail_msg("open: %s", err.msg);
	assert_int_equal(r.nsec, STATE_MAX_SECTIONS);
	assert_true(state_has_section(&r, "s4095"));
	state_reader_free(&r);
	/* One more, made by hand: refused by the reader. */
	name32(name, "s4096", 5);
	insert_section(&t, name, 0, NULL, 0);
	refuse(t.p, t.len, "more than 4096 sections", NULL);
	free(t.p);

	state_writer_init(&w, "t");
	for (int i = 0; i <= STATE_MAX_SECTIONS; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		state_begin(&w, name, 0);
		state_end(&w);
	}
	expect_writer_error(&w, "more than 4096 sections", NULL);

	/* A state larger than state_read_file accepts is never built. */
	huge = calloc(1, STATE_MAX_FILE);
	assert_non_null(huge);
	state_writer_init(&w, "t");
	state_begin(&w, "ram", 0);
	state_put_bytes(&w, huge, STATE_MAX_FILE);
	state_end(&w);
	expect_writer_error(&w, "exceeds", NULL);
	free(huge);
}

/* ---- reader refusals ---- */

static void test_refuse_header(void **unused)
{
	struct tbuf t;
	uint8_t *q;

	(void)unused;
	make_full(&t);
	q = exact_copy(t.p, t.len);

	refuse(q, 0, "is empty", NULL);
	refuse(q, 1, "too short", NULL);
	refuse(q, 63, "too short", NULL);

	q[0] = 'X';
	refuse(q, t.len, "not a ringvm state file", NULL);
	memcpy(q, t.p, t.len);
	memcpy(q, "GIF89a", 6);                      /* someone else's file */
	refuse(q, t.len, "not a ringvm state file", NULL);
	memcpy(q, t.p, t.len);

	put_le32(q + H_FORMAT, 2);
	refuse(q, t.len, "format version 2, this ringvm reads up to 1", NULL);
	fix_crcs(q, t.len);
	refuse(q, t.len, "format version 2, this ringvm reads up to 1", NULL);
	put_le32(q + H_FORMAT, 0xffffffff);
	refuse(q, t.len, "format version 4294967295", "up to 1");
	put_le32(q + H_FORMAT, 0);
	fix_crcs(q, t.len);
	refuse(q, t.len, "format version 0", NULL);
	memcpy(q, t.p, t.len);

	q[H_VERSION] ^= 1;
	refuse(q, t.len, "header is corrupted (checksum)", NULL);
	memcpy(q, t.p, t.len);
	q[H_CRC + 3] ^= 0x80;
	refuse(q, t.len, "header is corrupted (checksum)", NULL);
	memcpy(q, t.p, t.len);

	put_le32(q + H_HDRLEN, 65);
	fix_crcs(q, t.len);
	refuse(q, t.len, "header length 65, expected 64", NULL);
	put_le32(q + H_HDRLEN, 0);
	fix_crcs(q, t.len);
	refuse(q, t.len, "header length 0, expected 64", NULL);
	memcpy(q, t.p, t.len);

	put_le32(q + H_FLAGS, 4);
	fix_crcs(q, t.len);
	refuse(q, t.len, "unknown header flags 0x4", NULL);
	memcpy(q, t.p, t.len);
	q[H_RESERVED + 7] = 1;
	fix_crcs(q, t.len);
	refuse(q, t.len, "reserved header field", NULL);
	memcpy(q, t.p, t.len);

	q[H_VERSION + 2] = 0x1b;                     /* ESC */
	fix_crcs(q, t.len);
	refuse(q, t.len, "ringvm version field", NULL);
	memcpy(q, t.p, t.len);
	q[H_VERSION + 30] = 'x';                     /* after the NUL */
	fix_crcs(q, t.len);
	refuse(q, t.len, "ringvm version field", NULL);
	memset(q + H_VERSION, 'x', 32);              /* no NUL at all */
	fix_crcs(q, t.len);
	refuse(q, t.len, "ringvm version field", NULL);

	free(q);
	free(t.p);
}

static void test_refuse_sections(void **unused)
{
	struct tbuf t;
	uint8_t *q;
	const size_t s0 = HDR;               /* "cpu0"'s header */
	uint64_t plen0;
	char nm[32];

	(void)unused;
	make_full(&t);
	q = exact_copy(t.p, t.len);
	plen0 = get_le64(t.p + s0 + S_LEN);

	/* Checksums. */
	q[s0 + S_VERSION] ^= 0x10;
	refuse(q, t.len, "section header at offset 64 is corrupted (checksum)",
	       NULL);
	memcpy(q, t.p, t.len);
	q[s0 + S_HDRCRC] ^= 1;
	refuse(q, t.len, "section header at offset 64", "checksum");
	memcpy(q, t.p, t.len);
	q[s0 + SHDR + 3] ^= 0x01;
	refuse(q, t.len, "section cpu0 is corrupted (checksum)", NULL);
	memcpy(q, t.p, t.len);
	q[t.len - SHDR - 1] ^= 0x40;         /* last byte of virtio-blk_1 */
	refuse(q, t.len, "section virtio-blk_1 is corrupted (checksum)", NULL);
	memcpy(q, t.p, t.len);

	/* Names, with valid checksums. */
	memset(q + s0, 0, 32);
	fix_crcs(q, t.len);
	refuse(q, t.len, "section at offset 64 has an empty name", NULL);
	memcpy(q, t.p, t.len);
	q[s0 + 5] = 'x';                     /* "cpu0\0x" */
	fix_crcs(q, t.len);
	refuse(q, t.len, "offset 64: name is not NUL-padded", NULL);
	memset(q + s0, 'a', 32);             /* 32 chars, no NUL */
	fix_crcs(q, t.len);
	refuse(q, t.len, "offset 64: name is not NUL-padded", NULL);
	memcpy(q, t.p, t.len);
	q[s0] = 'C';
	fix_crcs(q, t.len);
	refuse(q, t.len, "offset 64: name has a character outside", NULL);
	q[s0] = '/';
	fix_crcs(q, t.len);
	refuse(q, t.len, "offset 64: name has a character outside", NULL);
	q[s0] = 0x80;
	fix_crcs(q, t.len);
	refuse(q, t.len, "offset 64: name has a character outside", NULL);
	memcpy(q, t.p, t.len);

	/* Lengths running past the end, including ones that would wrap a
	 * careless offset + length. */
	put_le64(q + s0 + S_LEN, t.len);
	fix_crcs(q, t.len);
	refuse(q, t.len, "truncated", "section cpu0 at offset 64");
	put_le64(q + s0 + S_LEN, t.len - HDR - SHDR + 1);
	fix_crcs(q, t.len);
	refuse(q, t.len, "truncated", "cpu0");
	put_le64(q + s0 + S_LEN, UINT64_MAX);
	fix_crcs(q, t.len);
	refuse(q, t.len, "truncated", "declares 18446744073709551615 bytes");
	put_le64(q + s0 + S_LEN, UINT64_MAX - HDR - SHDR + 1);
	fix_crcs(q, t.len);
	refuse(q, t.len, "truncated", "cpu0");
	put_le64(q + s0 + S_LEN, 1ull << 63);
	fix_crcs(q, t.len);
	refuse(q, t.len, "truncated", "cpu0");
	/* Shorter than written: the next "header" is payload bytes. */
	put_le64(q + s0 + S_LEN, plen0 - 1);
	fix_crcs(q, t.len);
	refuse(q, t.len, NULL, NULL);
	memcpy(q, t.p, t.len);

	/* End marker problems. */
	refuse(q, t.len - SHDR, "no end marker", NULL);
	refuse(q, t.len - 1, "truncated", "section header");
	refuse(q, t.len - SHDR + 1, "truncated", "needs 52 bytes, 1 left");
	free(q);

	{
		struct tbuf u = t;

		/* An end marker with a payload. */
		u.p = exact_copy(t.p, t.len);
		name32(nm, "end", 3);
		u.p = realloc(u.p, u.len + 4);
		raw_section(u.p + u.len - SHDR, nm, 0,
			    (const uint8_t *)"abcd", 4);
		u.len += 4;
		refuse(u.p, u.len, "end marker has a non-empty payload", NULL);
		free(u.p);

		u.p = exact_copy(t.p, t.len);
		u.len = t.len;
		raw_section(u.p + u.len - SHDR, nm, 1, NULL, 0);
		refuse(u.p, u.len, "end marker has version 1", NULL);

		/* Anything after the end marker. */
		u.p = realloc(u.p, u.len + SHDR + 3);
		raw_section(u.p + u.len - SHDR, nm, 0, NULL, 0);
		memset(u.p + u.len, 0, 1);
		refuse(u.p, u.len + 1, "1 bytes after the end marker", NULL);
		name32(nm, "late", 4);
		raw_section(u.p + u.len, nm, 0, (const uint8_t *)"xyz", 3);
		refuse(u.p, u.len + SHDR + 3, "55 bytes after the end marker",
		       NULL);
		free(u.p);
	}

	/* Duplicates, each valid on its own. */
	name32(nm, "uart.0", 6);
	insert_section(&t, nm, 1, NULL, 0);
	refuse(t.p, t.len, "duplicate section uart.0", NULL);
	free(t.p);
}

/* ---- systematic damage ---- */

static void test_truncation_every_length(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct rv_err err;

	(void)unused;
	make_full(&t);
	for (size_t n = 0; n <= t.len; n++) {
		uint8_t *q = exact_copy(t.p, n);
		int rc;

		err.msg[0] = '\0';
		rc = state_reader_open(&r, q, n, WHAT, &err);
		if (n < t.len) {
			if (rc != -1)
				fail_msg("truncated to %zu of %zu: accepted",
					 n, t.len);
			assert_has(err.msg, WHAT);
		} else {
			if (rc != 0)
				fail_msg("full length refused: %s", err.msg);
		}
		state_reader_free(&r);
		free(q);
	}
	free(t.p);
}

static void test_every_bit_flip(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct rv_err err;
	size_t refused = 0;

	(void)unused;
	make_small(&t);
	for (size_t bit = 0; bit < 8 * t.len; bit++) {
		uint8_t *q = exact_copy(t.p, t.len);

		q[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		err.msg[0] = '\0';
		if (state_reader_open(&r, q, t.len, WHAT, &err) != -1)
			fail_msg("bit %zu flipped: accepted", bit);
		assert_has(err.msg, WHAT);
		refused++;
		state_reader_free(&r);
		free(q);
	}
	assert_int_equal(refused, 8 * t.len);
	free(t.p);
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic, so a failure replays. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Reads a whole section byte by byte: a payload the reader handed out
 * must lie inside the buffer (ASan) and be consumable exactly. */
static void walk_all(const struct state_reader *r)
{
	struct rv_err err;

	for (unsigned int i = 0; i < r->nsec; i++) {
		struct state_cursor c;
		unsigned int sum = 0;

		assert_int_equal(state_section(r, r->sec[i].name, UINT32_MAX,
					       &c, NULL, &err), 0);
		for (uint64_t k = 0; k < r->sec[i].len; k++)
			sum += state_get_u8(&c);
		assert_false(c.bad);
		(void)sum;
		assert_int_equal(state_cursor_finish(&c, &err), 0);
	}
}

static void test_random_corruption(void **unused)
{
	struct tbuf t;
	uint64_t seed = 0x5eed5eed12345678ull;
	unsigned int accepted = 0, refused = 0;

	(void)unused;
	make_full(&t);
	for (int round = 0; round < 4000; round++) {
		size_t len = t.len;
		uint8_t *q = malloc(t.len + 64);
		unsigned int nmut = 1 + (unsigned int)(rng_next(&seed) % 6);
		struct state_reader r;
		struct rv_err err;
		uint8_t *e;

		assert_non_null(q);
		memcpy(q, t.p, t.len);
		for (unsigned int m = 0; m < nmut; m++) {
			uint64_t x = rng_next(&seed);
			size_t at = (size_t)(x >> 16) % len;

			switch (x % 5) {
			case 0:                  /* random byte */
				q[at] = (uint8_t)(x >> 8);
				break;
			case 1:                  /* bit flip */
				q[at] ^= (uint8_t)(1u << ((x >> 8) % 8));
				break;
			case 2:                  /* truncate */
				len = at;
				break;
			case 3:                  /* a length field */
				if (at + 8 <= len)
					put_le64(q + at, rng_next(&seed) >>
						 (x >> 8) % 64);
				break;
			case 4:                  /* grow with junk */
				if (len + 8 <= t.len + 64) {
					put_le64(q + len, x);
					len += 8;
				}
				break;
			}
			if (len == 0)
				len = 1;
		}
		/* Half the rounds get their checksums repaired, to reach the
		 * structural checks behind them. */
		if (round & 1)
			fix_crcs(q, len);
		e = exact_copy(q, len);
		err.msg[0] = '\0';
		if (state_reader_open(&r, e, len, WHAT, &err) == 0) {
			accepted++;
			walk_all(&r);
			assert_canonical(&r, e, len);
		} else {
			refused++;
			assert_has(err.msg, WHAT);
		}
		state_reader_free(&r);
		free(e);
		free(q);
	}
	/* Both outcomes happened: the repaired rounds reach acceptance. */
	assert_true(accepted > 0);
	assert_true(refused > 2000);
	free(t.p);
}

/* ---- cursor ---- */

static void open_full(struct tbuf *t, struct state_reader *r)
{
	struct rv_err err = { "" };

	make_full(t);
	if (state_reader_open(r, t->p, t->len, WHAT, &err) != 0)
		fail_msg("open: %s", err.msg);
}

static void test_cursor_overread(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct state_cursor c;
	struct rv_err err = { "" };
	uint8_t b[16];

	(void)unused;
	open_full(&t, &r);
	/* uart.0 holds 9 bytes: a u64 and a u8. */
	assert_int_equal(state_section(&r, "uart.0", 1, &c, NULL, &err), 0);
	assert_true(state_get_u64(&c) == UINT64_MAX);
	assert_int_equal(state_get_u16(&c), 0);     /* 1 byte left */
	assert_true(c.bad);
	/* Sticky: in-bounds reads now return zeros too. */
	assert_int_equal(state_get_u8(&c), 0);
	assert_int_equal(state_get_u32(&c), 0);
	assert_true(state_get_u64(&c) == 0);
	assert_false(state_get_bool(&c));
	memset(b, 0x55, sizeof(b));
	state_get_bytes(&c, b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "state section uart.0: ");
	assert_has(err.msg, "u16 at offset 8 runs past the end (needs 2 "
		   "bytes, 1 left)");

	/* An empty section: even one byte is too many. */
	assert_int_equal(state_section(&r, "empty", 0, &c, NULL, &err), 0);
	memset(b, 0x55, sizeof(b));
	state_get_bytes(&c, b, 1);
	assert_int_equal(b[0], 0);
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_string_equal(err.msg, "state section empty: bytes at offset 0 "
			    "runs past the end (needs 1 bytes, 0 left)");

	/* Zero-length reads are in bounds, even at the very end. */
	assert_int_equal(state_section(&r, "uart.0", 1, &c, NULL, &err), 0);
	(void)state_get_u8(&c);
	state_get_bytes(&c, NULL, 0);
	assert_false(c.bad);
	(void)state_get_u64(&c);
	assert_false(c.bad);
	assert_int_equal(state_cursor_finish(&c, &err), 0);
	state_reader_free(&r);
	free(t.p);
}

static void test_cursor_leftover(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct state_cursor c;
	struct rv_err err = { "" };

	(void)unused;
	open_full(&t, &r);
	assert_int_equal(state_section(&r, "uart.0", 1, &c, NULL, &err), 0);
	(void)state_get_u64(&c);
	assert_false(c.bad);
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_string_equal(err.msg, "state section uart.0: 1 bytes left unread");

	assert_int_equal(state_section(&r, "virtio-blk_1", 7, &c, NULL, &err),
			 0);
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_string_equal(err.msg,
			    "state section virtio-blk_1: 300 bytes left unread");
	state_reader_free(&r);
	free(t.p);
}

static void test_cursor_values(void **unused)
{
	struct state_writer w;
	struct tbuf t;
	struct state_reader r;
	struct state_cursor c;
	struct rv_err err = { "" };
	char s[6], big[200];

	(void)unused;
	state_writer_init(&w, "t");
	state_begin(&w, "bool", 1);
	state_put_u8(&w, 2);
	state_end(&w);
	state_begin(&w, "long", 1);
	state_put_str(&w, "123456");                 /* 6 > cap - 1 */
	state_end(&w);
	state_begin(&w, "fits", 1);
	state_put_str(&w, "12345");
	state_end(&w);
	state_begin(&w, "nul", 1);
	state_put_u32(&w, 3);
	state_put_bytes(&w, "a\0b", 3);
	state_end(&w);
	state_begin(&w, "short", 1);
	state_put_u32(&w, 100);                      /* only 2 follow */
	state_put_u16(&w, 0x4141);
	state_end(&w);
	finish_into(&w, &t);
	if (state_reader_open(&r, t.p, t.len, WHAT, &err) != 0)
		fail_msg("open: %s", err.msg);

	assert_int_equal(state_section(&r, "bool", 1, &c, NULL, &err), 0);
	assert_false(state_get_bool(&c));
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "state section bool: bool at offset 0 is 2");

	assert_int_equal(state_section(&r, "long", 1, &c, NULL, &err), 0);
	memset(s, 'z', sizeof(s));
	state_get_str(&c, s, sizeof(s));
	assert_string_equal(s, "");
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "string at offset 0 is 6 bytes, at most 5 fit");

	assert_int_equal(state_section(&r, "fits", 1, &c, NULL, &err), 0);
	state_get_str(&c, s, sizeof(s));
	assert_string_equal(s, "12345");
	assert_int_equal(state_cursor_finish(&c, &err), 0);

	assert_int_equal(state_section(&r, "fits", 1, &c, NULL, &err), 0);
	state_get_str(&c, s, 0);                     /* nowhere to put it */
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "at most 0 fit");

	assert_int_equal(state_section(&r, "nul", 1, &c, NULL, &err), 0);
	state_get_str(&c, s, sizeof(s));
	assert_string_equal(s, "");
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "string at offset 0 holds a NUL");

	assert_int_equal(state_section(&r, "short", 1, &c, NULL, &err), 0);
	state_get_str(&c, big, sizeof(big));
	assert_string_equal(big, "");
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "string at offset 4 runs past the end (needs 100 "
		   "bytes, 2 left)");
	state_reader_free(&r);
	free(t.p);
}

static void test_cursor_reject(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct state_cursor c;
	struct rv_err err = { "" };

	(void)unused;
	open_full(&t, &r);
	assert_int_equal(state_section(&r, "uart.0", 1, &c, NULL, &err), 0);
	(void)state_get_u64(&c);
	state_cursor_reject(&c, "divisor 0 is not a baud rate");
	assert_true(c.bad);
	/* The first reason stays. */
	state_cursor_reject(&c, "second reason");
	assert_int_equal(state_get_u8(&c), 0);
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_string_equal(err.msg,
			    "state section uart.0: divisor 0 is not a baud rate");
	/* A reject after an over-read keeps the over-read. */
	assert_int_equal(state_section(&r, "empty", 0, &c, NULL, &err), 0);
	(void)state_get_u32(&c);
	state_cursor_reject(&c, "later");
	assert_int_equal(state_cursor_finish(&c, &err), -1);
	assert_has(err.msg, "runs past the end");
	state_reader_free(&r);
	free(t.p);
}

static void test_section_lookup(void **unused)
{
	struct tbuf t;
	struct state_reader r;
	struct state_cursor c;
	struct rv_err err = { "" };
	uint32_t ver = 77;

	(void)unused;
	open_full(&t, &r);
	assert_int_equal(state_section(&r, "vcpu9", 1, &c, &ver, &err), -1);
	assert_string_equal(err.msg, "state section vcpu9 is missing");
	assert_int_equal(ver, 77);
	/* A cursor from a failed lookup is bad, reads zeros, never
	 * touches memory, and finishing it fails. */
	assert_true(c.bad);
	assert_int_equal(state_get_u32(&c), 0);
	assert_int_equal(state_cursor_finish(&c, &err), -1);

	assert_int_equal(state_section(&r, "cpu0", 2, &c, &ver, &err), -1);
	assert_string_equal(err.msg, "state section cpu0 is version 3, this "
			    "ringvm reads up to 2");
	assert_int_equal(ver, 77);
	assert_int_equal(state_section(&r, "cpu0", 4, &c, &ver, &err), 0);
	assert_int_equal(ver, 3);
	assert_int_equal(state_section(&r, "end", UINT32_MAX, &c, NULL, &err),
			 -1);
	state_reader_free(&r);
	free(t.p);
}

/* ---- files ---- */

struct tdir {
	char path[64];
};

static void tdir_make(struct tdir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

static void tdir_join(const struct tdir *d, const char *name, char *out,
		      size_t cap)
{
	snprintf(out, cap, "%s/%s", d->path, name);
}

/* Names in the directory, sorted, joined by spaces. */
static void tdir_list(const struct tdir *d, char *out, size_t cap)
{
	struct dirent **ents;
	int n = scandir(d->path, &ents, NULL, alphasort);

	assert_true(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") &&
		    strcmp(ents[i]->d_name, "..")) {
			if (out[0])
				strncat(out, " ", cap - strlen(out) - 1);
			strncat(out, ents[i]->d_name, cap - strlen(out) - 1);
		}
		free(ents[i]);
	}
	free(ents);
}

static void assert_file_is(const char *path, const struct tbuf *t)
{
	struct state_reader r;
	struct rv_err err = { "" };

	if (state_read_file(&r, path, &err) != 0)
		fail_msg("read back: %s", err.msg);
	assert_non_null(r.owned_buf);
	assert_int_equal(r.len, t->len);
	assert_memory_equal(r.buf, t->p, t->len);
	state_reader_free(&r);
}

static void test_write_file_atomic(void **unused)
{
	struct tdir d;
	struct tbuf a, b;
	char path[128], sub[128], missing[128], names[256];
	struct stat st;
	struct rlimit old, lim;
	struct rv_err err = { "" };
	int rc;

	(void)unused;
	make_small(&a);
	make_full(&b);
	assert_true(b.len > 200);
	tdir_make(&d);
	tdir_join(&d, "vm.state", path, sizeof(path));

	if (state_write_file(path, a.p, a.len, &err) != 0)
		fail_msg("write: %s", err.msg);
	assert_file_is(path, &a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(state_write_file(path, b.p, b.len, &err), 0);
	assert_file_is(path, &b);
	tdir_list(&d, names, sizeof(names));
	assert_string_equal(names, "vm.state");

	/* A write that fails half way (the file size limit stands in for a
	 * full disk): the old file stays whole, the temporary goes. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 200;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	err.msg[0] = '\0';
	rc = state_write_file(path, b.p, b.len, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -1);
	assert_has(err.msg, "cannot write state file");
	assert_has(err.msg, "File too large");
	assert_file_is(path, &b);
	tdir_list(&d, names, sizeof(names));
	assert_string_equal(names, "vm.state");

	/* The target is a directory: the rename fails after the temporary
	 * was fully written and synced; it must still go. */
	tdir_join(&d, "sub", sub, sizeof(sub));
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(state_write_file(sub, a.p, a.len, &err), -1);
	assert_has(err.msg, "cannot rename");
	assert_has(err.msg, sub);
	tdir_list(&d, names, sizeof(names));
	assert_string_equal(names, "sub vm.state");
	assert_int_equal(rmdir(sub), 0);          /* still empty */

	/* No such directory. */
	tdir_join(&d, "nodir/vm.state", missing, sizeof(missing));
	assert_int_equal(state_write_file(missing, a.p, a.len, &err), -1);
	assert_has(err.msg, "cannot create a temporary file for state file");
	assert_has(err.msg, missing);
	assert_has(err.msg, "No such file or directory");

	/* A directory we may not write to (root may, so only as a user). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(d.path, 0500), 0);
		assert_int_equal(state_write_file(path, a.p, a.len, &err), -1);
		assert_has(err.msg, "Permission denied");
		assert_int_equal(chmod(d.path, 0700), 0);
	}
	assert_file_is(path, &b);
	tdir_list(&d, names, sizeof(names));
	assert_string_equal(names, "vm.state");

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(d.path), 0);
	free(a.p);
	free(b.p);
}

static void test_read_file_refusals(void **unused)
{
	struct tdir d;
	struct tbuf t;
	char path[128], want[256];
	struct state_reader r;
	struct rv_err err = { "" };
	int fd;

	(void)unused;
	tdir_make(&d);
	make_full(&t);

	assert_int_equal(state_read_file(&r, d.path, &err), -1);
	snprintf(want, sizeof(want), "state file %s is not a regular file",
		 d.path);
	assert_string_equal(err.msg, want);
	state_reader_free(&r);

	tdir_join(&d, "none", path, sizeof(path));
	assert_int_equal(state_read_file(&r, path, &err), -1);
	assert_has(err.msg, "cannot open state file");
	assert_has(err.msg, path);

	tdir_join(&d, "empty", path, sizeof(path));
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(state_read_file(&r, path, &err), -1);
	snprintf(want, sizeof(want), "state file %s is empty", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(unlink(path), 0);

	tdir_join(&d, "big", path, sizeof(path));
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)STATE_MAX_FILE + 1), 0);
	close(fd);
	assert_int_equal(state_read_file(&r, path, &err), -1);
	assert_has(err.msg, "is too large");
	assert_has(err.msg, path);
	assert_int_equal(unlink(path), 0);

	/* Damage inside the file is reported against the file's name. */
	tdir_join(&d, "bad", path, sizeof(path));
	t.p[HDR + SHDR] ^= 1;
	assert_int_equal(state_write_file(path, t.p, t.len, &err), 0);
	assert_int_equal(state_read_file(&r, path, &err), -1);
	snprintf(want, sizeof(want),
		 "state file %s: section cpu0 is corrupted (checksum)", path);
	assert_string_equal(err.msg, want);
	assert_null(r.owned_buf);
	state_reader_free(&r);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(rmdir(d.path), 0);
	free(t.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_writer_limits),
		cmocka_unit_test(test_refuse_header),
		cmocka_unit_test(test_refuse_sections),
		cmocka_unit_test(test_truncation_every_length),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_random_corruption),
		cmocka_unit_test(test_cursor_overread),
		cmocka_unit_test(test_cursor_leftover),
		cmocka_unit_test(test_cursor_values),
		cmocka_unit_test(test_cursor_reject),
		cmocka_unit_test(test_section_lookup),
		cmocka_unit_test(test_write_file_atomic),
		cmocka_unit_test(test_read_file_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
