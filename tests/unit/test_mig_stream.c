/* The migration stream's framing (migrate/mig_stream.h) over real
 * AF_UNIX socketpairs: the header, records of every type, every refusal a
 * reader owes a hostile or broken peer (each one line, naming the peer),
 * short writes, and the PAGES builder and parser. Parser inputs sit in
 * exact-size heap blocks, so under ASan a read one byte too far fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "migrate/mig_stream.h"
#include "util/le.h"

#define TMO      5000   /* ms: long enough never to matter when all is well */
#define REC_HDR  16
#define REC_TAIL 4
#define ENTRY    (8 + MIG_PAGE)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a connected pair: the source's end and the destination's ---- */

struct pair {
	struct mig_conn src;    /* its peer is the destination */
	struct mig_conn dst;    /* its peer is the source */
};

static void pair_open(struct pair *p, int dst_timeout_ms)
{
	int fd[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    fd), 0);
	mig_conn_init(&p->src, fd[0], "destination", TMO);
	mig_conn_init(&p->dst, fd[1], "source", dst_timeout_ms);
}

static void pair_close(struct pair *p)
{
	mig_conn_close(&p->src);
	mig_conn_close(&p->dst);
}

static void raw_write(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes the peer sent (they are all there already). */
static void raw_read(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = recv(fd, b, len, MSG_DONTWAIT);

		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

static void assert_nothing_queued(int fd)
{
	uint8_t b;

	assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A refusal: the call failed with want in a one-line message. */
static void expect_refused(int rc, const struct rv_err *err, const char *want)
{
	assert_int_equal(rc, -1);
	if (!strstr(err->msg, want))
		fail_msg("\"%s\" lacks \"%s\"", err->msg, want);
	assert_null(strchr(err->msg, '\n'));
}

/* A record framed by hand: declared length len, plen bytes of payload
 * actually written, the CRC the format asks for over what is written.
 * Returns the frame's size; out must hold plen + 20 bytes. */
static size_t frame(uint8_t *out, uint32_t type, uint32_t flags,
		    uint64_t len, const void *payload, size_t plen)
{
	uLong c;

	put_le32(out, type);
	put_le32(out + 4, flags);
	put_le64(out + 8, len);
	if (plen)
		memcpy(out + REC_HDR, payload, plen);
	c = crc32_z(0, out, REC_HDR + plen);
	put_le32(out + REC_HDR + plen, (uint32_t)c);
	return REC_HDR + plen + REC_TAIL;
}

static void header_bytes(uint8_t h[MIG_HEADER_LEN], uint32_t version,
			 const char *ringvm_version)
{
	memset(h, 0, MIG_HEADER_LEN);
	memcpy(h, MIG_MAGIC, 8);
	put_le32(h + 8, version);
	memcpy(h + 16, ringvm_version, strlen(ringvm_version));
	put_le32(h + 48, (uint32_t)crc32_z(0, h, 48));
}

/* ---- the header ---- */

static void test_header_round_trip(void **state)
{
	struct pair p;
	struct rv_err err = { "" };
	char v[33];
	uint8_t raw[MIG_HEADER_LEN], want[MIG_HEADER_LEN];

	(void)state;
	pair_open(&p, TMO);
	assert_int_equal(mig_send_header(&p.src, "1.2.3-test", &err), 0);
	assert_int_equal(mig_recv_header(&p.dst, v, &err), 0);
	assert_string_equal(v, "1.2.3-test");
	assert_int_equal(p.src.bytes_out, MIG_HEADER_LEN);
	assert_int_equal(p.dst.bytes_in, MIG_HEADER_LEN);

	/* The layout on the wire, byte for byte. */
	assert_int_equal(mig_send_header(&p.src, "0.1", &err), 0);
	raw_read(p.dst.fd, raw, sizeof(raw));
	header_bytes(want, MIG_VERSION, "0.1");
	assert_memory_equal(raw, want, sizeof(raw));

	/* A version string longer than its field is cut, NUL-terminated. */
	memset(v, 'x', sizeof(v));
	assert_int_equal(mig_send_header(&p.src,
		"0123456789012345678901234567890123456789", &err), 0);
	assert_int_equal(mig_recv_header(&p.dst, v, &err), 0);
	assert_string_equal(v, "0123456789012345678901234567890");
	pair_close(&p);
}

static void test_header_refusals(void **state)
{
	struct pair p;
	struct rv_err err = { "" };
	uint8_t h[MIG_HEADER_LEN];
	char v[33];

	(void)state;
	pair_open(&p, TMO);
	header_bytes(h, MIG_VERSION, "1.0");
	memcpy(h, "RINGVMSS", 8);   /* a snapshot file, say */
	put_le32(h + 48, (uint32_t)crc32_z(0, h, 48));
	raw_write(p.src.fd, h, sizeof(h));
	expect_refused(mig_recv_header(&p.dst, v, &err), &err,
		       "the source does not speak ringvm's migration protocol");

	header_bytes(h, MIG_VERSION, "1.0");
	h[20] ^= 0x01;
	raw_write(p.src.fd, h, sizeof(h));
	expect_refused(mig_recv_header(&p.dst, v, &err), &err,
		       "migration stream header from the source: checksum mismatch");

	/* A newer ringvm: the message says who and what. */
	header_bytes(h, 2, "9.9.9");
	raw_write(p.src.fd, h, sizeof(h));
	expect_refused(mig_recv_header(&p.dst, v, &err), &err,
		       "the source (ringvm 9.9.9) speaks migration protocol version 2; this ringvm speaks 1");

	/* The peer's version string cannot break the message into lines
	 * or reach a terminal as escape codes. */
	header_bytes(h, 3, "1.0\n\x1b[2J\xff");
	raw_write(p.src.fd, h, sizeof(h));
	expect_refused(mig_recv_header(&p.dst, v, &err), &err,
		       "the source (ringvm 1.0??[2J?) speaks migration protocol version 3");
	header_bytes(h, MIG_VERSION, "\t0.9\r");
	raw_write(p.src.fd, h, sizeof(h));
	assert_int_equal(mig_recv_header(&p.dst, v, &err), 0);
	assert_string_equal(v, "?0.9?");

	/* The reserved word must be 0 too. */
	header_bytes(h, MIG_VERSION, "1.0");
	put_le32(h + 12, 1);
	put_le32(h + 48, (uint32_t)crc32_z(0, h, 48));
	raw_write(p.src.fd, h, sizeof(h));
	expect_refused(mig_recv_header(&p.dst, v, &err), &err,
		       "from the source (ringvm 1.0): reserved word 0x1 is not 0");

	/* Half a header, then the source is gone. */
	raw_write(p.src.fd, h, 20);
	mig_conn_close(&p.src);
	expect_refused(mig_recv_header(&p.dst, v, &err), &err,
		       "the source closed the connection while reading the stream header");
	pair_close(&p);
}

/* ---- records ---- */

static void test_record_round_trip(void **state)
{
	static const uint32_t types[] = {
		MIG_REC_HELLO, MIG_REC_PAGES, MIG_REC_STATE, MIG_REC_ACK,
		MIG_REC_NACK,
	};
	static const size_t sizes[] = { 0, 1, 15, 16, 4096, 50000 };
	struct pair p;
	struct rv_err err = { "" };
	uint8_t *payload = malloc(50000), *buf;
	uint64_t len, out = 0;
	uint32_t type;

	(void)state;
	for (size_t i = 0; i < 50000; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	pair_open(&p, TMO);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			/* An empty record may come without a buffer. */
			const void *pl = sizes[s] ? payload : NULL;

			assert_int_equal(mig_send_record(&p.src, types[t], pl,
							 sizes[s], &err), 0);
			if (mig_recv_record(&p.dst, &type, &buf, &len,
					    &err) < 0)
				fail_msg("type %u, %zu bytes: %s", types[t],
					 sizes[s], err.msg);
			assert_int_equal(type, types[t]);
			assert_int_equal(len, sizes[s]);
			assert_non_null(buf);
			assert_memory_equal(buf, payload, sizes[s]);
			free(buf);
			out += REC_HDR + sizes[s] + REC_TAIL;
			assert_int_equal(p.src.bytes_out, out);
			assert_int_equal(p.dst.bytes_in, out);
		}
	}
	pair_close(&p);
	free(payload);
}

static void test_record_wire_format(void **state)
{
	struct pair p;
	struct rv_err err = { "" };
	uint8_t raw[64], want[64];
	size_t n;

	(void)state;
	pair_open(&p, TMO);
	assert_int_equal(mig_send_record(&p.src, MIG_REC_NACK, "no CPU", 6,
					 &err), 0);
	n = frame(want, MIG_REC_NACK, 0, 6, "no CPU", 6);
	raw_read(p.dst.fd, raw, n);
	assert_memory_equal(raw, want, n);
	assert_nothing_queued(p.dst.fd);
	pair_close(&p);
}

static void test_record_send_refusals(void **state)
{
	struct pair p;
	struct rv_err err = { "" };
	uint8_t b = 0;

	(void)state;
	pair_open(&p, TMO);
	/* Refused before a byte goes out: the stream stays in step. */
	expect_refused(mig_send_record(&p.src, MIG_REC_STATE, &b,
				       (uint64_t)MIG_MAX_RECORD + 1, &err),
		       &err, "migration record of 68157441 bytes is too large");
	assert_nothing_queued(p.dst.fd);
	assert_int_equal(p.src.bytes_out, 0);

	/* A vanished destination is an error, not a SIGPIPE. */
	mig_conn_close(&p.dst);
	expect_refused(mig_send_record(&p.src, MIG_REC_ACK, NULL, 0, &err),
		       &err, "connection to the destination broke while sending");
	pair_close(&p);
}

/* A record the reader must refuse, followed by a sentinel that must still
 * be unread: the reader stops at the header it refuses. */
static void refuse_frame(const uint8_t *f, size_t n, const char *want)
{
	struct pair p;
	struct rv_err err = { "" };
	uint8_t *buf = (uint8_t *)"not touched", got[8];
	uint64_t len = 77;
	uint32_t type = 77;

	pair_open(&p, TMO);
	raw_write(p.src.fd, f, n);
	raw_write(p.src.fd, "SENTINEL", 8);
	expect_refused(mig_recv_record(&p.dst, &type, &buf, &len, &err), &err,
		       want);
	assert_null(buf);
	assert_int_equal(type, 77);
	assert_int_equal(len, 77);
	if (n == REC_HDR) {
		raw_read(p.dst.fd, got, 8);
		assert_memory_equal(got, "SENTINEL", 8);
	}
	pair_close(&p);
}

static void test_record_refusals(void **state)
{
	static const uint32_t unknown[] = { 0, 4, 15, 18, 0x80000002u };
	static const uint64_t huge[] = {
		(uint64_t)MIG_MAX_RECORD + 1, 1ULL << 40, UINT64_MAX,
	};
	uint8_t f[64];
	char want[160];

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		frame(f, unknown[i], 0, 0, NULL, 0);
		snprintf(want, sizeof(want),
			 "migration stream from the source: unknown record type %u",
			 unknown[i]);
		refuse_frame(f, REC_HDR, want);
	}
	frame(f, MIG_REC_ACK, 1, 0, NULL, 0);
	refuse_frame(f, REC_HDR, "record flags 0x1 (none are defined)");
	frame(f, MIG_REC_PAGES, 0x80000000u, 0, NULL, 0);
	refuse_frame(f, REC_HDR, "record flags 0x80000000");

	/* Refused from the header alone: allocating UINT64_MAX bytes would
	 * abort under ASan, reading on would eat the sentinel. */
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		frame(f, MIG_REC_STATE, 0, huge[i], NULL, 0);
		snprintf(want, sizeof(want), "record of %llu bytes (at most %u)",
			 (unsigned long long)huge[i], MIG_MAX_RECORD);
		refuse_frame(f, REC_HDR, want);
	}
}

static void test_record_crc(void **state)
{
	uint8_t pl[100], f[200];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)i;
	/* One payload bit flipped, at places spread over the payload. */
	for (size_t bit = 0; bit < 8 * sizeof(pl); bit += 37) {
		n = frame(f, MIG_REC_STATE, 0, sizeof(pl), pl, sizeof(pl));
		f[REC_HDR + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		refuse_frame(f, n, "migration stream from the source: record checksum mismatch");
	}
	n = frame(f, MIG_REC_STATE, 0, sizeof(pl), pl, sizeof(pl));
	f[n - 1] ^= 0x80;
	refuse_frame(f, n, "record checksum mismatch");
	/* The type is covered as well: HELLO and STATE differ in one bit. */
	n = frame(f, MIG_REC_STATE, 0, sizeof(pl), pl, sizeof(pl));
	put_le32(f, MIG_REC_HELLO);
	refuse_frame(f, n, "record checksum mismatch");
	/* An empty record's CRC still covers its header. */
	n = frame(f, MIG_REC_HELLO, 0, 0, NULL, 0);
	put_le32(f, MIG_REC_STATE);
	refuse_frame(f, n, "record checksum mismatch");
	n = frame(f, MIG_REC_ACK, 0, 0, NULL, 0);
	f[n - 4] ^= 1;
	refuse_frame(f, n, "record checksum mismatch");
}

static void test_record_truncated(void **state)
{
	static const struct {
		size_t keep;        /* bytes of the 120-byte frame sent */
		const char *want;
	} cut[] = {
		{ 0, "the source closed the connection while waiting for the next record" },
		{ 7, "the source closed the connection while waiting for the next record" },
		{ 16, "the source closed the connection while reading a record" },
		{ 60, "the source closed the connection while reading a record" },
		{ 118, "the source closed the connection while reading a record" },
	};
	uint8_t pl[100] = { 1 }, f[200];

	(void)state;
	frame(f, MIG_REC_STATE, 0, sizeof(pl), pl, sizeof(pl));
	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		struct pair p;
		struct rv_err err = { "" };
		uint8_t *buf;
		uint64_t len;
		uint32_t type;

		pair_open(&p, TMO);
		if (cut[i].keep)
			raw_write(p.src.fd, f, cut[i].keep);
		mig_conn_close(&p.src);
		expect_refused(mig_recv_record(&p.dst, &type, &buf, &len,
					       &err), &err, cut[i].want);
		assert_null(buf);
		pair_close(&p);
	}
}

/* The largest record is within the limit: accepted as far as the stream
 * goes (the peer then vanishes; nothing is sent for real). */
static void test_record_max_length(void **state)
{
	struct pair p;
	struct rv_err err = { "" };
	uint8_t f[32], *buf;
	uint64_t len;
	uint32_t type;

	(void)state;
	pair_open(&p, TMO);
	frame(f, MIG_REC_STATE, 0, MIG_MAX_RECORD, NULL, 0);
	raw_write(p.src.fd, f, REC_HDR);
	raw_write(p.src.fd, "abc", 3);
	mig_conn_close(&p.src);
	expect_refused(mig_recv_record(&p.dst, &type, &buf, &len, &err), &err,
		       "closed the connection while reading a record");
	assert_int_equal(p.dst.bytes_in, REC_HDR + 3);
	pair_close(&p);
}

/* A source that stops talking (a dead host sends no FIN) ends the wait
 * after the connection's timeout. */
static void test_record_timeout(void **state)
{
	uint8_t pl[64] = { 0 }, f[100];
	size_t n = frame(f, MIG_REC_PAGES, 0, sizeof(pl), pl, sizeof(pl));

	(void)state;
	for (size_t keep = 0; keep < n; keep += 40) {
		struct pair p;
		struct rv_err err = { "" };
		uint8_t *buf;
		uint64_t len;
		uint32_t type;
		int64_t t0, ms;

		pair_open(&p, 200);
		if (keep)
			raw_write(p.src.fd, f, keep);
		t0 = now_ms();
		expect_refused(mig_recv_record(&p.dst, &type, &buf, &len,
					       &err), &err,
			       "the source did not answer in time while");
		ms = now_ms() - t0;
		assert_true(ms >= 150);
		assert_true(ms < 3000);
		pair_close(&p);
	}
}

/* ---- short writes ---- */

struct reader {
	struct mig_conn *c;
	int rc;
	uint32_t type;
	uint8_t *buf;
	uint64_t len;
	struct rv_err err;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;

	r->rc = mig_recv_record(r->c, &r->type, &r->buf, &r->len, &r->err);
	return NULL;
}

static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_fetch_add((atomic_int *)si->si_value.sival_ptr, 1);
}

/* A blocking sendmsg on a stream socket returns short only when a signal
 * (or the send timeout) cuts it off: a tiny send buffer alone just makes
 * it wait for the reader. So a timer fires every 200 us at the sending
 * thread and cuts the record into many pieces, some after a few bytes
 * went, some before any (EINTR). */
static void test_short_writes(void **state)
{
	const size_t n = 3u << 20;
	struct pair p;
	struct rv_err err = { "" };
	struct reader r = { .c = &p.dst };
	struct sigaction sa = { .sa_sigaction = on_alarm,
				.sa_flags = SA_SIGINFO }, old;
	atomic_int alarms = 0;
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL,
				.sigev_signo = SIGALRM,
				.sigev_value.sival_ptr = &alarms };
	struct itimerspec its = { { 0, 200000 }, { 0, 200000 } }, off = { 0 };
	sigset_t block, prev;
	uint8_t *payload = malloc(n);
	int small = 4096;
	timer_t tm;
	pthread_t th;

	(void)state;
	for (size_t i = 0; i < n; i++)
		payload[i] = (uint8_t)(i ^ (i >> 11));
	pair_open(&p, TMO);
	assert_int_equal(setsockopt(p.src.fd, SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof(small)), 0);
	/* The reader blocks the signal, so every one hits the sender. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &prev);
	assert_int_equal(pthread_create(&th, NULL, reader_thread, &r), 0);
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &tm), 0);
	assert_int_equal(timer_settime(tm, 0, &its, NULL), 0);

	err.msg[0] = '\0';
	if (mig_send_record(&p.src, MIG_REC_STATE, payload, n, &err) < 0)
		fail_msg("send: %s", err.msg);

	timer_settime(tm, 0, &off, NULL);
	timer_delete(tm);
	sigaction(SIGALRM, &old, NULL);
	pthread_join(th, NULL);
	if (r.rc < 0)
		fail_msg("receive: %s", r.err.msg);
	assert_int_equal(r.type, MIG_REC_STATE);
	assert_int_equal(r.len, n);
	assert_memory_equal(r.buf, payload, n);
	assert_int_equal(p.src.bytes_out, REC_HDR + n + REC_TAIL);
	/* Not a test of the kernel: only that the cuts really happened. */
	assert_true(atomic_load(&alarms) > 10);
	free(r.buf);
	free(payload);
	pair_close(&p);
}

/* ---- PAGES: mig_page_is_zero and the builder ---- */

static void test_page_is_zero(void **state)
{
	uint8_t *pg = calloc(1, MIG_PAGE);

	(void)state;
	assert_true(mig_page_is_zero(pg));
	for (size_t at = 0; at < MIG_PAGE; at += 1021) {
		pg[at] = 0x80;
		assert_false(mig_page_is_zero(pg));
		pg[at] = 0;
	}
	pg[MIG_PAGE - 1] = 1;
	assert_false(mig_page_is_zero(pg));
	free(pg);
}

struct seen {
	unsigned int calls;
	int fail_at;             /* the call that fails; -1: none */
	uint64_t gpa[MIG_PAGES_MAX + 1];
	const uint8_t *data[MIG_PAGES_MAX + 1];
};

static void seen_reset(struct seen *s, int fail_at)
{
	memset(s, 0, sizeof(*s));
	s->fail_at = fail_at;
}

static int collect(void *ctx, uint64_t gpa, const uint8_t *data,
		   struct rv_err *err)
{
	struct seen *s = ctx;

	if ((int)s->calls == s->fail_at) {
		s->calls++;
		return rv_fail(err, "guest page %#llx is outside RAM",
			       (unsigned long long)gpa);
	}
	if (s->calls <= MIG_PAGES_MAX) {
		s->gpa[s->calls] = gpa;
		s->data[s->calls] = data;
	}
	s->calls++;
	return 0;
}

/* Page i of the builder's pattern: data for i % 32 == 1, else zeros, so
 * a full batch (8 data pages, 34820 bytes) fits a socket buffer. */
static bool pattern_has_data(unsigned int i)
{
	return i % 32 == 1;
}

static void fill_page(uint8_t *pg, unsigned int i)
{
	memset(pg, 0, MIG_PAGE);
	if (!pattern_has_data(i))
		return;
	for (size_t k = 0; k < MIG_PAGE; k += 64)
		pg[k] = (uint8_t)(i + k / 64 + 1);
	pg[MIG_PAGE - 1] = (uint8_t)i | 1;
}

#define BASE 0x100000ull

/* Receives one PAGES record of want_len bytes holding pattern pages
 * first..first+n-1 at BASE + i pages, and checks what the parser hands
 * back for each. */
static void receive_pages(struct pair *p, unsigned int first, unsigned int n,
			  uint64_t want_len)
{
	struct rv_err err = { "" };
	struct seen *s = malloc(sizeof(*s));
	uint8_t *buf, pg[MIG_PAGE];
	uint64_t len;
	uint32_t type;

	assert_int_equal(mig_recv_record(&p->dst, &type, &buf, &len, &err), 0);
	assert_int_equal(type, MIG_REC_PAGES);
	assert_int_equal(len, want_len);
	assert_int_equal(get_le32(buf), n);
	seen_reset(s, -1);
	if (mig_pages_parse(buf, len, collect, s, &err) < 0)
		fail_msg("parse: %s", err.msg);
	assert_int_equal(s->calls, n);
	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = first + k;

		assert_int_equal(s->gpa[k], BASE + (uint64_t)i * MIG_PAGE);
		if (!pattern_has_data(i)) {
			assert_null(s->data[k]);
			continue;
		}
		fill_page(pg, i);
		assert_memory_equal(s->data[k], pg, MIG_PAGE);
	}
	free(buf);
	free(s);
}

static void add_page(struct mig_pages *pb, struct pair *p, unsigned int i)
{
	struct rv_err err = { "" };
	uint8_t pg[MIG_PAGE];

	fill_page(pg, i);
	if (mig_pages_add(pb, &p->src, BASE + (uint64_t)i * MIG_PAGE, pg,
			  &err) < 0)
		fail_msg("add page %u: %s", i, err.msg);
}

static void test_pages_builder(void **state)
{
	const uint64_t full = 4 + MIG_PAGES_MAX * 8 +
			      (MIG_PAGES_MAX / 32) * (uint64_t)MIG_PAGE;
	struct pair p;
	struct mig_pages pb;
	struct rv_err err = { "" };
	uint64_t out;

	(void)state;
	pair_open(&p, TMO);
	assert_int_equal(mig_pages_init(&pb, &err), 0);
	assert_int_equal(mig_pages_flush(&pb, &p.src, &err), 0);
	assert_nothing_queued(p.dst.fd);

	/* A full batch goes out by itself, not a page earlier. */
	for (unsigned int i = 0; i < MIG_PAGES_MAX - 1; i++)
		add_page(&pb, &p, i);
	assert_nothing_queued(p.dst.fd);
	add_page(&pb, &p, MIG_PAGES_MAX - 1);
	assert_int_equal(pb.count, 0);
	assert_int_equal(pb.data_pages, MIG_PAGES_MAX / 32);
	assert_int_equal(pb.zero_pages, MIG_PAGES_MAX - MIG_PAGES_MAX / 32);
	assert_int_equal(p.src.bytes_out, REC_HDR + full + REC_TAIL);
	receive_pages(&p, 0, MIG_PAGES_MAX, full);
	assert_int_equal(mig_pages_flush(&pb, &p.src, &err), 0);
	assert_nothing_queued(p.dst.fd);

	/* Zero pages are markers only: 8 bytes each on the wire. */
	out = p.src.bytes_out;
	for (unsigned int i = 2; i < 5; i++)
		add_page(&pb, &p, i);
	assert_int_equal(mig_pages_flush(&pb, &p.src, &err), 0);
	assert_int_equal(p.src.bytes_out - out, REC_HDR + 4 + 3 * 8 + REC_TAIL);
	receive_pages(&p, 2, 3, 4 + 3 * 8);

	/* A data page carries its 4096 bytes; the builder starts afresh
	 * after each flush. */
	add_page(&pb, &p, 33);
	assert_int_equal(mig_pages_flush(&pb, &p.src, &err), 0);
	receive_pages(&p, 33, 1, 4 + ENTRY);
	assert_int_equal(pb.data_pages, MIG_PAGES_MAX / 32 + 1);
	assert_nothing_queued(p.dst.fd);
	mig_pages_free(&pb);
	pair_close(&p);
}

/* ---- PAGES: the parser ---- */

/* A payload under construction; exact() moves it to a block of exactly
 * its size. */
struct payload {
	uint8_t b[4 + 4 * ENTRY + 64];
	size_t len;
};

static void pl_u32(struct payload *p, uint32_t v)
{
	put_le32(p->b + p->len, v);
	p->len += 4;
}

static void pl_zero(struct payload *p, uint64_t gpa)
{
	put_le64(p->b + p->len, gpa | MIG_PAGE_ZERO);
	p->len += 8;
}

/* A data page whose bytes all equal fill. */
static void pl_data(struct payload *p, uint64_t gpa, uint8_t fill)
{
	put_le64(p->b + p->len, gpa);
	memset(p->b + p->len + 8, fill, MIG_PAGE);
	p->len += ENTRY;
}

static uint8_t *exact(const struct payload *p, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	assert_non_null(b);
	memcpy(b, p->b, len);
	return b;
}

/* Refused with want, and not one page handed to the callback first. */
static void parse_refused(const struct payload *p, size_t len,
			  const char *want)
{
	struct rv_err err = { "" };
	struct seen *s = malloc(sizeof(*s));
	uint8_t *b = exact(p, len);

	seen_reset(s, -1);
	expect_refused(mig_pages_parse(b, len, collect, s, &err), &err, want);
	assert_int_equal(s->calls, 0);
	free(b);
	free(s);
}

static void test_pages_parse(void **state)
{
	struct payload p = { .len = 0 };
	struct rv_err err = { "" };
	struct seen *s = malloc(sizeof(*s));
	uint8_t *b;

	(void)state;
	pl_u32(&p, 4);
	pl_zero(&p, 0);
	pl_data(&p, 0x7000, 0xaa);
	pl_zero(&p, 0xfffffffffffff000ull);
	pl_data(&p, 0x7000, 0x55);   /* the same page twice: both, in order */
	b = exact(&p, p.len);
	seen_reset(s, -1);
	assert_int_equal(mig_pages_parse(b, p.len, collect, s, &err), 0);
	assert_int_equal(s->calls, 4);
	assert_int_equal(s->gpa[0], 0);
	assert_null(s->data[0]);
	assert_int_equal(s->gpa[1], 0x7000);
	/* Handed in place, not copied. */
	assert_ptr_equal(s->data[1], b + 4 + 8 + 8);
	assert_int_equal(s->data[1][0], 0xaa);
	assert_int_equal(s->data[1][MIG_PAGE - 1], 0xaa);
	assert_int_equal(s->gpa[2], 0xfffffffffffff000ull);
	assert_null(s->data[2]);
	assert_ptr_equal(s->data[3], b + p.len - MIG_PAGE);
	assert_int_equal(s->data[3][MIG_PAGE - 1], 0x55);
	free(b);

	/* The most pages a record may hold. */
	{
		size_t n = 4 + MIG_PAGES_MAX * 8;
		uint8_t *z = malloc(n);

		put_le32(z, MIG_PAGES_MAX);
		for (unsigned int i = 0; i < MIG_PAGES_MAX; i++)
			put_le64(z + 4 + 8 * i, (uint64_t)i * MIG_PAGE | 1);
		seen_reset(s, -1);
		assert_int_equal(mig_pages_parse(z, n, collect, s, &err), 0);
		assert_int_equal(s->calls, MIG_PAGES_MAX);
		assert_int_equal(s->gpa[MIG_PAGES_MAX - 1],
				 (uint64_t)(MIG_PAGES_MAX - 1) * MIG_PAGE);
		free(z);
	}
	free(s);
}

static void test_pages_parse_refusals(void **state)
{
	struct payload p;

	(void)state;
	p.len = 0;
	pl_u32(&p, 1);
	for (size_t n = 0; n < 4; n++)
		parse_refused(&p, n, "has no count");
	parse_refused(&p, 0, "PAGES record of 0 bytes has no count");

	p.len = 0;
	pl_u32(&p, 0);
	parse_refused(&p, p.len, "PAGES record with 0 pages (1 to 256 allowed)");
	p.len = 0;
	pl_u32(&p, MIG_PAGES_MAX + 1);
	for (unsigned int i = 0; i <= MIG_PAGES_MAX; i++)
		pl_zero(&p, (uint64_t)i * MIG_PAGE);
	parse_refused(&p, p.len, "PAGES record with 257 pages");
	p.len = 0;
	pl_u32(&p, UINT32_MAX);
	parse_refused(&p, p.len, "PAGES record with 4294967295 pages");

	/* Entry 2 of 3 cut short: the first two never reach the callback. */
	p.len = 0;
	pl_u32(&p, 3);
	pl_zero(&p, 0x1000);
	pl_data(&p, 0x2000, 1);
	pl_zero(&p, 0x3000);
	for (size_t cut = 1; cut <= 8; cut += 3)
		parse_refused(&p, p.len - cut,
			      "PAGES record ends inside entry 2 of 3");

	/* The data of the last entry one byte short, or missing. */
	p.len = 0;
	pl_u32(&p, 2);
	pl_zero(&p, 0x1000);
	pl_data(&p, 0x2000, 1);
	parse_refused(&p, p.len - 1,
		      "PAGES record ends inside the data of entry 1");
	parse_refused(&p, p.len - MIG_PAGE,
		      "PAGES record ends inside the data of entry 1");

	/* Bytes beyond the pages counted, even a whole entry's worth. */
	pl_zero(&p, 0x3000);
	parse_refused(&p, p.len - 7, "PAGES record has 1 bytes after its 2 pages");
	parse_refused(&p, p.len, "PAGES record has 8 bytes after its 2 pages");

	/* Any low bit but bit 0 (the zero marker), in the last entry. */
	{
		static const uint64_t bad[] = {
			0x3002, 0x3800, 0x3fff, 0x3ffe, 0x3003, 0x3000 | 0x10,
		};

		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			char want[96];

			p.len = 0;
			pl_u32(&p, 3);
			pl_zero(&p, 0x1000);
			pl_data(&p, 0x2000, 1);
			put_le64(p.b + p.len, bad[k]);
			p.len += 8;
			if (!(bad[k] & MIG_PAGE_ZERO)) {
				memset(p.b + p.len, 2, MIG_PAGE);
				p.len += MIG_PAGE;
			}
			snprintf(want, sizeof(want),
				 "PAGES entry 2: address %#llx is not page-aligned",
				 (unsigned long long)bad[k]);
			parse_refused(&p, p.len, want);
		}
	}
}

/* The callback's refusal (a page outside guest RAM) ends the walk with
 * its message. */
static void test_pages_parse_callback_error(void **state)
{
	struct payload p = { .len = 0 };
	struct rv_err err = { "" };
	struct seen *s = malloc(sizeof(*s));
	uint8_t *b;

	(void)state;
	pl_u32(&p, 4);
	pl_zero(&p, 0x1000);
	pl_data(&p, 0x2000, 1);
	pl_zero(&p, 0x900000000ull);
	pl_zero(&p, 0x4000);
	b = exact(&p, p.len);
	seen_reset(s, 2);
	expect_refused(mig_pages_parse(b, p.len, collect, s, &err), &err,
		       "guest page 0x900000000 is outside RAM");
	assert_int_equal(s->calls, 3);
	seen_reset(s, 1);
	expect_refused(mig_pages_parse(b, p.len, collect, s, &err), &err,
		       "guest page 0x2000 is outside RAM");
	assert_int_equal(s->calls, 2);
	free(b);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_round_trip),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_wire_format),
		cmocka_unit_test(test_record_send_refusals),
		cmocka_unit_test(test_record_refusals),
		cmocka_unit_test(test_record_crc),
		cmocka_unit_test(test_record_truncated),
		cmocka_unit_test(test_record_max_length),
		cmocka_unit_test(test_record_timeout),
		cmocka_unit_test(test_short_writes),
		cmocka_unit_test(test_page_is_zero),
		cmocka_unit_test(test_pages_builder),
		cmocka_unit_test(test_pages_parse),
		cmocka_unit_test(test_pages_parse_refusals),
		cmocka_unit_test(test_pages_parse_callback_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
