#include "api/http_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX  (16u << 20)
#define RETRY_MS   10          /* the listener's backlog was full */

struct exchange {
	const char *path;
	int fd;
	int64_t deadline;
	struct rv_err *err;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int timed_out(struct exchange *x)
{
	return rv_fail(x->err, "timed out waiting for the reply from %s",
		       x->path);
}

/* Waits until fd is ready for ev, within the deadline. */
static int wait_ready(struct exchange *x, short ev)
{
	for (;;) {
		struct pollfd p = { .fd = x->fd, .events = ev };
		int64_t left = x->deadline - now_ms();
		int n;

		if (left <= 0)
			return timed_out(x);
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return rv_fail_errno(x->err, "poll");
	}
}

static int connect_sock(struct exchange *x)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(x->path);
	struct stat st;

	if (n >= sizeof(a.sun_path))
		return rv_fail(x->err, "API socket path %s is %zu bytes long; "
			       "a Unix socket path has at most %zu", x->path,
			       n, sizeof(a.sun_path) - 1);
	memcpy(a.sun_path, x->path, n + 1);
	x->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0)
		return rv_fail_errno(x->err, "socket");
	for (;;) {
		if (connect(x->fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			break;
		if (now_ms() >= x->deadline)
			return rv_fail(x->err, "timed out connecting to %s",
				       x->path);
		nanosleep(&(struct timespec){ .tv_nsec = RETRY_MS * 1000000 },
			  NULL);
	}
	if (errno == ENOENT)
		return rv_fail(x->err, "no API socket at %s", x->path);
	if (errno == ECONNREFUSED) {
		if (lstat(x->path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return rv_fail(x->err, "%s is not a socket", x->path);
		return rv_fail(x->err, "no ringvm listens on %s (a stale "
			       "socket)", x->path);
	}
	return rv_fail_errno(x->err, "cannot connect to %s", x->path);
}

/* Nothing that would end the request line or a header early. */
static bool valid_word(const char *s, bool target)
{
	if (!*s || (target && *s != '/'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Sends all of buf. An early close by the server (it may answer before
 * reading the body, e.g. 413) is not an error here: its reply is read
 * next. */
static int send_all(struct exchange *x, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(x->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_ready(x, POLLOUT) < 0)
				return -1;
		} else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			return 0;
		} else if (!(n < 0 && errno == EINTR)) {
			return rv_fail_errno(x->err, "cannot send to %s",
					     x->path);
		}
	}
	return 0;
}

struct reply_head {
	size_t len;          /* bytes up to the body */
	int status;
	bool has_len;
	size_t body_len;
};

static int malformed(struct exchange *x, const char *what)
{
	return rv_fail(x->err, "malformed reply from %s: %s", x->path, what);
}

/* Parses a response head at the start of b: 0 incomplete, 1 parsed, -1
 * malformed. */
static int parse_head(struct exchange *x, const char *b, size_t n,
		      struct reply_head *h)
{
	const char *end = NULL, *p, *line;

	for (p = b; (p = memchr(p, '\n', n - (size_t)(p - b))); p++) {
		if (p > b && p[-1] == '\n') {
			end = p + 1;
			break;
		}
		if (p > b + 1 && p[-1] == '\r' && p[-2] == '\n') {
			end = p + 1;
			break;
		}
	}
	if (!end)
		return 0;
	*h = (struct reply_head){ .len = (size_t)(end - b) };
	if (h->len < 13 || memcmp(b, "HTTP/1.", 7) != 0 ||
	    b[7] < '0' || b[7] > '9' || b[8] != ' ' ||
	    b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
	    b[11] < '0' || b[11] > '9' ||
	    (b[12] != ' ' && b[12] != '\r' && b[12] != '\n'))
		return malformed(x, "bad status line");
	h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	line = memchr(b, '\n', h->len) + 1;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		const char *v;
		size_t vlen;

		if (eol == line || (eol == line + 1 && *line == '\r'))
			break;
		if (!colon)
			return malformed(x, "header line without ':'");
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		vlen = (size_t)(eol - v);
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ' ||
				v[vlen - 1] == '\t'))
			vlen--;
		if (colon - line == 14 &&
		    strncasecmp(line, "Content-Length", 14) == 0) {
			size_t len = 0;

			if (!vlen)
				return malformed(x, "empty Content-Length");
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9' ||
				    len > REPLY_MAX)
					return malformed(x, "bad Content-Length");
				len = len * 10 + (size_t)(v[i] - '0');
			}
			if (len > REPLY_MAX)
				return malformed(x, "reply body too large");
			h->has_len = true;
			h->body_len = len;
		} else if (colon - line == 17 &&
			   strncasecmp(line, "Transfer-Encoding", 17) == 0) {
			return malformed(x, "Transfer-Encoding is not supported");
		}
		line = eol + 1;
	}
	return 1;
}

/* Reads until one final reply is complete (skipping 1xx ones). */
static int read_reply(struct exchange *x, bool head_req, int *status,
		      char **resp_body)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct reply_head h;
	bool eof = false;
	int rc = -1;

	for (;;) {
		int got = parse_head(x, buf ? buf : "", len, &h);

		if (got < 0)
			goto out;
		if (got && h.status < 200) {
			memmove(buf, buf + h.len, len - h.len);
			len -= h.len;
			continue;
		}
		if (got && (head_req || h.status == 204 || h.status == 304)) {
			h.has_len = true;
			h.body_len = 0;
		}
		if (got && h.has_len && len - h.len >= h.body_len) {
			len = h.len + h.body_len;
			break;
		}
		if (eof) {
			if (got && !h.has_len)
				break;   /* the body ends with the connection */
			rv_fail(x->err, "%s closed the connection before a "
				"complete reply", x->path);
			goto out;
		}
		if (cap - len < 4096) {
			char *p;

			if (cap >= REPLY_MAX + 8192) {
				malformed(x, "reply too large");
				goto out;
			}
			cap = cap ? 2 * cap : 8192;
			p = realloc(buf, cap + 1);
			if (!p) {
				rv_fail(x->err, "out of memory for a reply");
				goto out;
			}
			buf = p;
		}
		{
			ssize_t n = recv(x->fd, buf + len, cap - len,
					 MSG_DONTWAIT);

			if (n > 0)
				len += (size_t)n;
			else if (n == 0 || errno == ECONNRESET)
				eof = true;
			else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (wait_ready(x, POLLIN) < 0)
					goto out;
			} else if (errno != EINTR) {
				rv_fail_errno(x->err, "cannot read from %s",
					      x->path);
				goto out;
			}
		}
	}
	*resp_body = malloc(len - h.len + 1);
	if (!*resp_body) {
		rv_fail(x->err, "out of memory for a reply");
		goto out;
	}
	memcpy(*resp_body, buf + h.len, len - h.len);
	(*resp_body)[len - h.len] = '\0';
	*status = h.status;
	rc = 0;
out:
	free(buf);
	return rc;
}

int http_client_call(const char *path, const char *method, const char *target,
		     const char *body, int timeout_ms, int *status,
		     char **resp_body, struct rv_err *err)
{
	struct exchange x = { .path = path, .fd = -1, .err = err,
			      .deadline = now_ms() + timeout_ms };
	size_t blen = body ? strlen(body) : 0, hlen;
	char *req = NULL;
	int rc = -1, n;

	*resp_body = NULL;
	*status = 0;
	if (!valid_word(method, false) || !valid_word(target, true))
		return rv_fail(err, "invalid HTTP request line '%s %s'",
			       method, target);
	hlen = strlen(method) + strlen(target) + 200;
	req = malloc(hlen + blen);
	if (!req)
		return rv_fail(err, "out of memory for a request");
	n = snprintf(req, hlen,
		     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Accept: application/json\r\n%s"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     method, target,
		     body ? "Content-Type: application/json\r\n" : "", blen);
	memcpy(req + n, body ? body : "", blen);
	if (connect_sock(&x) == 0 && send_all(&x, req, (size_t)n + blen) == 0)
		rc = read_reply(&x, strcmp(method, "HEAD") == 0, status,
				resp_body);
	if (x.fd >= 0)
		close(x.fd);
	free(req);
	return rc;
}
