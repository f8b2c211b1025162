/* libFuzzer target: a hostile migration source. Either a PAGES payload
 * straight into mig_pages_parse, or a whole stream (header, then records
 * until the reader refuses one or the stream ends) read through a real
 * socketpair by mig_recv_header and mig_recv_record, every PAGES record
 * it accepts parsed in turn. Any crash, ASan or UBSan report, hang, or
 * broken invariant (abort) is a bug.
 *
 * Input layout:
 *   [0]   bit 0: 0 a PAGES payload, 1 a stream
 *         bit 1: stream: make every CRC right before sending, so that
 *                mutations reach what lies behind the checksums;
 *                payload: the callback refuses pages outside guest RAM
 *   [1..] the payload or the stream, as an exact-size heap block
 *
 * Pages land in a fake 64 KiB guest RAM (its own exact-size block) when
 * they fit in it, so a page handed over with a bad pointer or length is
 * an ASan report.
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed
 * corpus to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "migrate/mig_stream.h"
#include "util/le.h"

#define MODE_STREAM 1
#define MODE_FIX    2    /* stream: fix the CRCs; payload: strict guest */
#define GUEST_SIZE  (16 * MIG_PAGE)
#define MAX_RECORDS 64

struct guest {
	uint8_t *ram;
	bool strict;
	const uint8_t *payload;
	uint64_t len;
	const uint8_t *last;     /* the previous data page handed over */
	unsigned int calls, data_pages;
	bool refused;            /* the callback said no: nothing may follow */
};

static void check_msg(const struct rv_err *err)
{
	if (!err->msg[0] || strchr(err->msg, '\n'))
		abort();
}

static int take_page(void *ctx, uint64_t gpa, const uint8_t *data,
		     struct rv_err *err)
{
	struct guest *g = ctx;

	if (g->refused || gpa & (MIG_PAGE - 1) || ++g->calls > MIG_PAGES_MAX)
		abort();
	/* Inside the payload, after its count and address, in order. */
	if (data && (g->len < 12 + MIG_PAGE || data < g->payload + 12 ||
		     (uint64_t)(data - g->payload) > g->len - MIG_PAGE ||
		     (g->last && data < g->last + MIG_PAGE + 8)))
		abort();
	if (data) {
		g->last = data;
		g->data_pages++;
	}
	if (gpa < GUEST_SIZE) {
		if (data)
			memcpy(g->ram + gpa, data, MIG_PAGE);
		else
			memset(g->ram + gpa, 0, MIG_PAGE);
		return 0;
	}
	if (!g->strict)
		return 0;
	g->refused = true;
	return rv_fail(err, "page %#llx is outside guest RAM",
		       (unsigned long long)gpa);
}

static void parse_pages(const uint8_t *p, uint64_t len, bool strict)
{
	struct guest g = { .strict = strict, .payload = p, .len = len };
	struct rv_err err = { "" };
	int rc;

	g.ram = malloc(GUEST_SIZE);
	if (!g.ram)
		abort();
	rc = mig_pages_parse(p, len, take_page, &g, &err);
	/* Accepted: every byte was a count, an address or page data. */
	if (rc == 0 && (g.refused || g.calls == 0 || g.calls != get_le32(p) ||
			len != 4 + 8ull * g.calls + (uint64_t)MIG_PAGE *
				   g.data_pages))
		abort();
	if (rc < 0) {
		check_msg(&err);
		/* The parser's own refusals come before any page. */
		if (!g.refused && g.calls != 0)
			abort();
	}
	free(g.ram);
}

/* Makes the header's and every whole record's CRC right. */
static void fix_checksums(uint8_t *b, size_t n)
{
	size_t off = MIG_HEADER_LEN;

	if (n < MIG_HEADER_LEN)
		return;
	put_le32(b + 48, (uint32_t)crc32_z(0, b, 48));
	while (n - off >= 20) {
		uint64_t len = get_le64(b + off + 8);

		if (len > n - off - 20)
			return;
		put_le32(b + off + 16 + len,
			 (uint32_t)crc32_z(0, b + off, 16 + (size_t)len));
		off += 20 + (size_t)len;
	}
}

static bool known(uint32_t t)
{
	return t == MIG_REC_HELLO || t == MIG_REC_PAGES || t == MIG_REC_STATE ||
	       t == MIG_REC_ACK || t == MIG_REC_NACK;
}

/* The whole input is queued, then the source's end closes: the reader
 * sees EOF at the end, never a wait. */
static void read_stream(const uint8_t *b, size_t n)
{
	struct mig_conn c;
	struct rv_err err = { "" };
	uint64_t want_in = MIG_HEADER_LEN;
	char version[33];
	int fd[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) < 0)
		abort();
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd[0], b + off, n - off, MSG_NOSIGNAL);

		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	close(fd[0]);
	mig_conn_init(&c, fd[1], "source", 1000);
	if (mig_recv_header(&c, version, &err) < 0) {
		check_msg(&err);
		mig_conn_close(&c);
		return;
	}
	if (strlen(version) > 32 || c.bytes_in != MIG_HEADER_LEN)
		abort();
	for (int i = 0; i < MAX_RECORDS; i++) {
		uint8_t *rec = (uint8_t *)"unset";
		uint64_t len = 0;
		uint32_t type = 0;

		if (mig_recv_record(&c, &type, &rec, &len, &err) < 0) {
			check_msg(&err);
			if (rec || c.bytes_in > n)
				abort();
			break;
		}
		want_in += 20 + len;
		if (!rec || !known(type) || len > MIG_MAX_RECORD ||
		    c.bytes_in != want_in)
			abort();
		if (type == MIG_REC_PAGES)
			parse_pages(rec, len, false);
		free(rec);
	}
	mig_conn_close(&c);
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	uint8_t mode = size ? data[0] : 0;
	size_t n = size ? size - 1 : 0;
	uint8_t *b = malloc(n ? n : 1);

	if (!b)
		abort();
	if (n)
		memcpy(b, data + 1, n);
	if (mode & MODE_STREAM) {
		if (mode & MODE_FIX)
			fix_checksums(b, n);
		read_stream(b, n);
	} else {
		parse_pages(b, n, mode & MODE_FIX);
	}
	free(b);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

/* ---- seed corpus: what a real source sends ---- */

/* Writes [mode][bytes] and runs it once, so a seed that breaks the
 * target shows up here, outside libFuzzer. */
static int write_seed(const char *dir, const char *name, uint8_t mode,
		      const uint8_t *bytes, size_t len)
{
	char path[4096];
	uint8_t *b = malloc(len + 1);
	FILE *f;
	int rc = 0;

	if (!b)
		return -1;
	b[0] = mode;
	memcpy(b + 1, bytes, len);
	fuzz_one(b, len + 1);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, len + 1, f) != len + 1 || fclose(f) != 0) {
		perror(path);
		rc = -1;
	}
	free(b);
	return rc;
}

/* A source's end of a socketpair; finish() collects what it sent. */
struct capture {
	int fd[2];
	struct mig_conn c;
	uint8_t buf[16384];
	size_t len;
};

static int capture_start(struct capture *k)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, k->fd) < 0)
		return -1;
	mig_conn_init(&k->c, k->fd[0], "destination", 1000);
	k->len = 0;
	return 0;
}

static int capture_finish(struct capture *k)
{
	ssize_t r;

	mig_conn_close(&k->c);
	while (k->len < sizeof(k->buf) &&
	       (r = read(k->fd[1], k->buf + k->len,
			 sizeof(k->buf) - k->len)) > 0)
		k->len += (size_t)r;
	close(k->fd[1]);
	return 0;
}

static void page(uint8_t *pg, uint8_t seed)
{
	for (size_t i = 0; i < MIG_PAGE; i++)
		pg[i] = (uint8_t)(seed + i * 31);
}

int main(int argc, char **argv)
{
	static const char nack[] = "the destination lacks CPUID leaf 7 bit 16";
	static const uint8_t hello[] = "RINGVMST-not-really-a-state";
	static struct capture k;
	struct mig_pages pb;
	struct rv_err err;
	uint8_t pg[MIG_PAGE], pl[4 + 4 * (8 + MIG_PAGE)];
	size_t n;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	/* Header, HELLO, the answers. */
	rc |= capture_start(&k);
	rc |= mig_send_header(&k.c, "0.4.0", &err);
	rc |= mig_send_record(&k.c, MIG_REC_HELLO, hello, sizeof(hello), &err);
	rc |= mig_send_record(&k.c, MIG_REC_ACK, NULL, 0, &err);
	rc |= mig_send_record(&k.c, MIG_REC_NACK, nack, strlen(nack), &err);
	rc |= capture_finish(&k);
	rc |= write_seed(argv[1], "stream-hello", MODE_STREAM, k.buf, k.len);
	rc |= write_seed(argv[1], "stream-hello-fix", MODE_STREAM | MODE_FIX,
			 k.buf, k.len);

	/* A round of pages (zeros, data, one page beyond the fake RAM), the
	 * state, the answer. */
	rc |= capture_start(&k);
	rc |= mig_send_header(&k.c, "0.4.0", &err);
	rc |= mig_pages_init(&pb, &err);
	memset(pg, 0, sizeof(pg));
	rc |= mig_pages_add(&pb, &k.c, 0, pg, &err);
	rc |= mig_pages_add(&pb, &k.c, 0x100000000ull, pg, &err);
	page(pg, 1);
	rc |= mig_pages_add(&pb, &k.c, 0x3000, pg, &err);
	page(pg, 2);
	rc |= mig_pages_add(&pb, &k.c, GUEST_SIZE - MIG_PAGE, pg, &err);
	rc |= mig_pages_flush(&pb, &k.c, &err);
	mig_pages_free(&pb);
	rc |= mig_send_record(&k.c, MIG_REC_STATE, hello, 20, &err);
	rc |= mig_send_record(&k.c, MIG_REC_ACK, NULL, 0, &err);
	rc |= capture_finish(&k);
	rc |= write_seed(argv[1], "stream-pages", MODE_STREAM, k.buf, k.len);
	rc |= write_seed(argv[1], "stream-pages-fix", MODE_STREAM | MODE_FIX,
			 k.buf, k.len);
	rc |= write_seed(argv[1], "stream-pages-cut", MODE_STREAM | MODE_FIX,
			 k.buf, k.len - 7);

	/* A newer protocol: refused from the header. */
	rc |= capture_start(&k);
	rc |= mig_send_header(&k.c, "9.0.0", &err);
	rc |= capture_finish(&k);
	put_le32(k.buf + 8, 2);
	rc |= write_seed(argv[1], "stream-version-2", MODE_STREAM | MODE_FIX,
			 k.buf, k.len);

	/* Payloads by hand: a mix, strict and not. */
	put_le32(pl, 4);
	n = 4;
	put_le64(pl + n, 0x1000 | MIG_PAGE_ZERO);
	n += 8;
	put_le64(pl + n, 0x2000);
	page(pl + n + 8, 3);
	n += 8 + MIG_PAGE;
	put_le64(pl + n, 0x7fff0000ull | MIG_PAGE_ZERO);
	n += 8;
	put_le64(pl + n, 0xf000);
	page(pl + n + 8, 4);
	n += 8 + MIG_PAGE;
	rc |= write_seed(argv[1], "pages-mixed", 0, pl, n);
	rc |= write_seed(argv[1], "pages-strict", MODE_FIX, pl, n);
	/* The same with an address that is not page-aligned. */
	put_le64(pl + 4, 0x1800);
	rc |= write_seed(argv[1], "pages-unaligned", 0, pl, n);

	/* The most pages a record holds, all zeros. */
	{
		uint8_t z[4 + MIG_PAGES_MAX * 8];

		put_le32(z, MIG_PAGES_MAX);
		for (unsigned int i = 0; i < MIG_PAGES_MAX; i++)
			put_le64(z + 4 + 8 * i,
				 (uint64_t)i * MIG_PAGE | MIG_PAGE_ZERO);
		rc |= write_seed(argv[1], "pages-max", 0, z, sizeof(z));
	}
	return rc ? 1 : 0;
}

#endif
