/* The migration stream's framing (see mig_stream.h): header, records with
 * checksums, and the PAGES payload builder and parser. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "migrate/mig_stream.h"
#include "util/le.h"

#define REC_HDR_LEN   16
#define PAGE_ENTRY    (8 + MIG_PAGE)
#define PAGES_BUF_LEN (4 + (size_t)MIG_PAGES_MAX * PAGE_ENTRY)

/* zlib answers 0 for a NULL buffer whatever c is: an empty record sent
 * without one must still carry its header's CRC. */
static uint32_t crc(uint32_t c, const void *p, size_t n)
{
	return n ? (uint32_t)crc32_z(c, p, n) : c;
}

void mig_conn_init(struct mig_conn *c, int fd, const char *peer,
		   int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	/* The bound on every blocking call: a peer that vanishes without a
	 * FIN (a dead host) ends the migration instead of hanging it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void mig_conn_close(struct mig_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int io_fail(struct mig_conn *c, const char *what, ssize_t n,
		   struct rv_err *err)
{
	if (n == 0)
		return rv_fail(err, "the %s closed the connection while %s",
			       c->peer, what);
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return rv_fail(err, "the %s did not answer in time while %s",
			       c->peer, what);
	return rv_fail_errno(err, "connection to the %s broke while %s",
			     c->peer, what);
}

/* Writes every byte of iov[0..n): sendmsg may stop short, and a signal
 * may interrupt it. MSG_NOSIGNAL: a vanished peer is an error, not a
 * SIGPIPE. */
static int send_all(struct mig_conn *c, struct iovec *iov, int n,
		    struct rv_err *err)
{
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return io_fail(c, "sending", w < 0 ? -1 : 0, err);
		c->bytes_out += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int recv_all(struct mig_conn *c, void *buf, size_t len,
		    const char *what, struct rv_err *err)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = recv(c->fd, p, len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return io_fail(c, what, r, err);
		c->bytes_in += (uint64_t)r;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int mig_send_header(struct mig_conn *c, const char *ringvm_version,
		    struct rv_err *err)
{
	uint8_t h[MIG_HEADER_LEN] = { 0 };
	struct iovec iov = { h, sizeof(h) };

	memcpy(h, MIG_MAGIC, 8);
	put_le32(h + 8, MIG_VERSION);
	strncpy((char *)h + 16, ringvm_version, 31);
	put_le32(h + 48, crc(0, h, 48));
	return send_all(c, &iov, 1, err);
}

void mig_printable(char *dst, size_t cap, const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t i;

	for (i = 0; i < n && i + 1 < cap; i++)
		dst[i] = p[i] >= 0x20 && p[i] <= 0x7e ? (char)p[i] : '?';
	if (cap)
		dst[i] = '\0';
}

int mig_recv_header(struct mig_conn *c, char *version_out, struct rv_err *err)
{
	uint8_t h[MIG_HEADER_LEN];

	if (recv_all(c, h, sizeof(h), "reading the stream header", err) < 0)
		return -1;
	if (memcmp(h, MIG_MAGIC, 8))
		return rv_fail(err, "the %s does not speak ringvm's migration protocol",
			       c->peer);
	if (get_le32(h + 48) != crc(0, h, 48))
		return rv_fail(err, "migration stream header from the %s: checksum mismatch",
			       c->peer);
	mig_printable(version_out, 33, h + 16, strnlen((const char *)h + 16, 32));
	if (get_le32(h + 12) != 0)
		return rv_fail(err, "migration stream header from the %s (ringvm %s): reserved word %#x is not 0",
			       c->peer, version_out, get_le32(h + 12));
	if (get_le32(h + 8) != MIG_VERSION)
		return rv_fail(err, "the %s (ringvm %s) speaks migration protocol version %u; this ringvm speaks %u",
			       c->peer, version_out, get_le32(h + 8),
			       MIG_VERSION);
	return 0;
}

int mig_send_record(struct mig_conn *c, uint32_t type, const void *payload,
		    uint64_t len, struct rv_err *err)
{
	uint8_t h[REC_HDR_LEN], t[4];
	struct iovec iov[3] = {
		{ h, sizeof(h) },
		{ (void *)payload, (size_t)len },
		{ t, sizeof(t) },
	};

	if (len > MIG_MAX_RECORD)
		return rv_fail(err, "migration record of %llu bytes is too large",
			       (unsigned long long)len);
	put_le32(h, type);
	put_le32(h + 4, 0);
	put_le64(h + 8, len);
	put_le32(t, crc(crc(0, h, sizeof(h)), payload, (size_t)len));
	return send_all(c, iov, 3, err);
}

static bool known_type(uint32_t t)
{
	return t == MIG_REC_HELLO || t == MIG_REC_PAGES || t == MIG_REC_STATE ||
	       t == MIG_REC_ACK || t == MIG_REC_NACK;
}

int mig_recv_record(struct mig_conn *c, uint32_t *type, uint8_t **buf,
		    uint64_t *len, struct rv_err *err)
{
	uint8_t h[REC_HDR_LEN], t[4];
	uint64_t n;
	uint8_t *p;

	*buf = NULL;
	if (recv_all(c, h, sizeof(h), "waiting for the next record", err) < 0)
		return -1;
	n = get_le64(h + 8);
	if (!known_type(get_le32(h)))
		return rv_fail(err, "migration stream from the %s: unknown record type %u",
			       c->peer, get_le32(h));
	if (get_le32(h + 4) != 0)
		return rv_fail(err, "migration stream from the %s: record flags %#x (none are defined)",
			       c->peer, get_le32(h + 4));
	if (n > MIG_MAX_RECORD)
		return rv_fail(err, "migration stream from the %s: record of %llu bytes (at most %u)",
			       c->peer, (unsigned long long)n, MIG_MAX_RECORD);
	p = malloc(n ? n : 1);
	if (!p)
		return rv_fail(err, "out of memory for a %llu-byte record",
			       (unsigned long long)n);
	if (recv_all(c, p, n, "reading a record", err) < 0 ||
	    recv_all(c, t, sizeof(t), "reading a record", err) < 0) {
		free(p);
		return -1;
	}
	if (get_le32(t) != crc(crc(0, h, sizeof(h)), p, n)) {
		free(p);
		return rv_fail(err, "migration stream from the %s: record checksum mismatch",
			       c->peer);
	}
	*type = get_le32(h);
	*buf = p;
	*len = n;
	return 0;
}

int mig_pages_init(struct mig_pages *p, struct rv_err *err)
{
	memset(p, 0, sizeof(*p));
	p->buf = malloc(PAGES_BUF_LEN);
	if (!p->buf)
		return rv_fail(err, "out of memory for the page buffer");
	p->len = 4;
	return 0;
}

void mig_pages_free(struct mig_pages *p)
{
	free(p->buf);
	p->buf = NULL;
}

bool mig_page_is_zero(const uint8_t *d)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < MIG_PAGE; i += 8) {
		uint64_t v;

		memcpy(&v, d + i, 8);
		acc |= v;
	}
	return acc == 0;
}

int mig_pages_add(struct mig_pages *p, struct mig_conn *c, uint64_t gpa,
		  const uint8_t *data, struct rv_err *err)
{
	uint8_t *e = p->buf + p->len;

	if (mig_page_is_zero(data)) {
		put_le64(e, gpa | MIG_PAGE_ZERO);
		p->len += 8;
		p->zero_pages++;
	} else {
		put_le64(e, gpa);
		/* A vCPU may be writing the page right now: whatever we copy,
		 * the dirty log has it marked for the next round. */
		memcpy(e + 8, data, MIG_PAGE);
		p->len += PAGE_ENTRY;
		p->data_pages++;
	}
	if (++p->count == MIG_PAGES_MAX)
		return mig_pages_flush(p, c, err);
	return 0;
}

int mig_pages_flush(struct mig_pages *p, struct mig_conn *c,
		    struct rv_err *err)
{
	int rc;

	if (p->count == 0)
		return 0;
	put_le32(p->buf, p->count);
	rc = mig_send_record(c, MIG_REC_PAGES, p->buf, p->len, err);
	p->count = 0;
	p->len = 4;
	return rc;
}

int mig_pages_parse(const uint8_t *payload, uint64_t len,
		    int (*fn)(void *ctx, uint64_t gpa, const uint8_t *data,
			      struct rv_err *err),
		    void *ctx, struct rv_err *err)
{
	uint32_t count;
	uint64_t off = 4;

	if (len < 4)
		return rv_fail(err, "PAGES record of %llu bytes has no count",
			       (unsigned long long)len);
	count = get_le32(payload);
	if (count == 0 || count > MIG_PAGES_MAX)
		return rv_fail(err, "PAGES record with %u pages (1 to %u allowed)",
			       count, MIG_PAGES_MAX);
	/* Everything is checked before the first page is touched. */
	for (uint32_t i = 0; i < count; i++) {
		uint64_t a;

		if (len - off < 8)
			return rv_fail(err, "PAGES record ends inside entry %u of %u",
				       i, count);
		a = get_le64(payload + off);
		if (a & (MIG_PAGE - 1) & ~MIG_PAGE_ZERO)
			return rv_fail(err, "PAGES entry %u: address %#llx is not page-aligned",
				       i, (unsigned long long)a);
		off += 8;
		if (!(a & MIG_PAGE_ZERO)) {
			if (len - off < MIG_PAGE)
				return rv_fail(err, "PAGES record ends inside the data of entry %u",
					       i);
			off += MIG_PAGE;
		}
	}
	if (off != len)
		return rv_fail(err, "PAGES record has %llu bytes after its %u pages",
			       (unsigned long long)(len - off), count);
	off = 4;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t a = get_le64(payload + off);

		off += 8;
		if (a & MIG_PAGE_ZERO) {
			if (fn(ctx, a & ~(uint64_t)(MIG_PAGE - 1), NULL, err) < 0)
				return -1;
		} else {
			if (fn(ctx, a, payload + off, err) < 0)
				return -1;
			off += MIG_PAGE;
		}
	}
	return 0;
}
