#include "api/http_parse.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The header fields that matter, gathered line by line. */
struct hp {
	struct http_request *req;
	struct http_parse_error *e;
	unsigned int nheaders;
	bool has_cl;
	uint64_t cl;
	bool has_ctype;
	bool expect100;
	bool conn_close;
	bool conn_keep;
};

static const struct {
	const char *name;
	enum http_method m;
} methods[] = {
	{ "GET", HTTP_GET },       { "PUT", HTTP_PUT },
	{ "PATCH", HTTP_PATCH },   { "POST", HTTP_POST },
	{ "DELETE", HTTP_DELETE }, { "HEAD", HTTP_HEAD },
};

static int fail(struct hp *p, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct hp *p, int status, const char *fmt, ...)
{
	va_list ap;

	p->e->status = status;
	va_start(ap, fmt);
	vsnprintf(p->e->msg, sizeof(p->e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void copy_str(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool token_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Checks a request line, or the part of one received so far (complete
 * false): whatever a prefix is refused for, the whole line is refused for
 * too, so an error never depends on how the bytes arrived. */
static int scan_request_line(struct hp *p, const char *s, size_t n,
			     bool complete)
{
	static const char pat[] = "HTTP/d.d";
	struct http_request *r = p->req;
	size_t i = 0, m0, t0, v0;

	for (; i < n && s[i] != ' '; i++) {
		if (!is_tchar((unsigned char)s[i]))
			return fail(p, 400, "malformed request line");
		if (i >= HTTP_MAX_METHOD)
			return fail(p, 400, "method longer than %d bytes",
				    HTTP_MAX_METHOD);
	}
	m0 = i;
	if (i < n && m0 == 0)
		return fail(p, 400, "malformed request line");
	if (i < n)
		i++;
	t0 = i;
	for (; i < n && s[i] != ' '; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == t0 && c != '/')
			return fail(p, 400, "request target must start with '/'");
		if (c < 0x21 || c > 0x7e)
			return fail(p, 400,
				    "request target is not printable ASCII");
		if (i - t0 >= HTTP_MAX_TARGET)
			return fail(p, 400, "request target longer than %d bytes",
				    HTTP_MAX_TARGET);
	}
	if (i < n && i == t0)
		return fail(p, 400, "malformed request line");
	if (i < n)
		i++;
	v0 = i;
	for (; i < n; i++) {
		char c = s[i], want;

		if (i - v0 >= sizeof(pat) - 1)
			return fail(p, 400, "malformed request line");
		want = pat[i - v0];
		if (want == 'd' ? c < '0' || c > '9' : c != want)
			return fail(p, 400, "malformed request line");
	}
	if (!complete)
		return 0;
	if (m0 == 0 || v0 == t0 || n - v0 != sizeof(pat) - 1)
		return fail(p, 400, "malformed request line");
	if (s[v0 + 5] != '1' || (s[v0 + 7] != '0' && s[v0 + 7] != '1'))
		return fail(p, 505, "HTTP version %.8s is not supported",
			    s + v0);

	copy_str(r->method_text, s, m0);
	r->method = HTTP_OTHER;
	for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++)
		if (strcmp(r->method_text, methods[k].name) == 0)
			r->method = methods[k].m;
	r->minor = s[v0 + 7] - '0';
	{
		const char *t = s + t0, *q;
		size_t tlen = v0 - 1 - t0;

		q = memchr(t, '?', tlen);
		if (q) {
			copy_str(r->path, t, (size_t)(q - t));
			copy_str(r->query, q + 1, tlen - (size_t)(q - t) - 1);
		} else {
			copy_str(r->path, t, tlen);
		}
	}
	return 0;
}

/* Content-Length: 1*DIGIT, no sign, no overflow. */
static int parse_content_length(struct hp *p, const char *v, size_t n)
{
	uint64_t x = 0;

	if (n == 0)
		return fail(p, 400, "empty Content-Length");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(p, 400,
				    "Content-Length is not a decimal number");
		if (x > (UINT64_MAX - 9) / 10)
			return fail(p, 400, "Content-Length overflows");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (p->has_cl && x != p->cl)
		return fail(p, 400, "Content-Length given twice with "
			    "different values");
	p->has_cl = true;
	p->cl = x;
	if (x > HTTP_MAX_BODY)
		return fail(p, 413, "body of %llu bytes is larger than %d",
			    (unsigned long long)x, HTTP_MAX_BODY);
	return 0;
}

static void parse_connection(struct hp *p, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t a, b;

		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		a = i;
		while (i < n && v[i] != ',')
			i++;
		b = i;
		while (b > a && is_ows(v[b - 1]))
			b--;
		if (token_eq(v + a, b - a, "close"))
			p->conn_close = true;
		else if (token_eq(v + a, b - a, "keep-alive"))
			p->conn_keep = true;
	}
}

/* The header field named name has the value v (OWS trimmed). */
static int use_header(struct hp *p, const char *name, size_t nlen,
		      const char *v, size_t n)
{
	if (token_eq(name, nlen, "Content-Length"))
		return parse_content_length(p, v, n);
	if (token_eq(name, nlen, "Transfer-Encoding"))
		return fail(p, 501, "Transfer-Encoding is not implemented: "
			    "send the body with Content-Length");
	if (token_eq(name, nlen, "Connection")) {
		parse_connection(p, v, n);
		return 0;
	}
	if (token_eq(name, nlen, "Expect")) {
		if (!token_eq(v, n, "100-continue"))
			return fail(p, 417, "unsupported Expect value");
		/* RFC 9110 10.1.1: ignored in an HTTP/1.0 request. */
		if (p->req->minor == 1)
			p->expect100 = true;
		return 0;
	}
	if (token_eq(name, nlen, "Content-Type")) {
		if (p->has_ctype)
			return fail(p, 400, "Content-Type given twice");
		if (n > HTTP_MAX_CTYPE)
			return fail(p, 400, "Content-Type longer than %d bytes",
				    HTTP_MAX_CTYPE);
		p->has_ctype = true;
		copy_str(p->req->content_type, v, n);
	}
	return 0;
}

/* A header line, or the part of one received so far; see
 * scan_request_line for why both share one check. */
static int scan_header_line(struct hp *p, const char *s, size_t n,
			    bool complete)
{
	size_t i = 0, a, b;

	if (n && is_ows(s[0]))
		return fail(p, 400, "obs-fold (a header line starting with "
			    "whitespace) is not accepted");
	for (; i < n && s[i] != ':'; i++)
		if (!is_tchar((unsigned char)s[i]))
			return fail(p, 400, "malformed header line");
	if (i < n && i == 0)
		return fail(p, 400, "header line with an empty name");
	for (size_t k = i + 1; k < n; k++) {
		unsigned char c = (unsigned char)s[k];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, 400, "control character in header %.*s",
				    (int)(i < 40 ? i : 40), s);
	}
	if (!complete)
		return 0;
	if (i == n)
		return fail(p, 400, "header line without ':'");
	if (++p->nheaders > HTTP_MAX_HEADERS)
		return fail(p, 431, "more than %d header lines",
			    HTTP_MAX_HEADERS);
	a = i + 1;
	b = n;
	while (a < b && is_ows(s[a]))
		a++;
	while (b > a && is_ows(s[b - 1]))
		b--;
	return use_header(p, s, i, s + a, b - a);
}

/* After the empty line: what the header means for the body and the
 * connection. */
static enum http_parse_rc finish(struct hp *p, const char *buf, size_t len,
				 size_t head, size_t *consumed)
{
	struct http_request *r = p->req;
	enum http_method m = r->method;

	r->keep_alive = r->minor == 1 ? !p->conn_close
				      : p->conn_keep && !p->conn_close;
	if (!p->has_cl && (m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_POST)) {
		fail(p, 411, "%s request without Content-Length",
		     r->method_text);
		return HTTP_PARSE_ERROR;
	}
	if (p->cl && (m == HTTP_GET || m == HTTP_HEAD || m == HTTP_DELETE)) {
		fail(p, 400, "%s request with a body", r->method_text);
		return HTTP_PARSE_ERROR;
	}
	if (len - head < p->cl) {
		r->expect_continue = p->expect100;
		return HTTP_PARSE_INCOMPLETE;
	}
	r->body = buf + head;
	r->body_len = (size_t)p->cl;
	*consumed = head + (size_t)p->cl;
	return HTTP_PARSE_DONE;
}

enum http_parse_rc http_parse_request(const char *buf, size_t len,
				      struct http_request *req,
				      size_t *consumed,
				      struct http_parse_error *e)
{
	struct hp p = { .req = req, .e = e };
	/* The head must end within its limit: no line is looked for past it,
	 * which also bounds the work per call. */
	size_t win = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	size_t pos = 0;
	bool have_reqline = false;

	memset(req, 0, sizeof(*req));
	req->body = buf;
	*consumed = 0;
	e->status = 0;
	e->msg[0] = '\0';
	for (;;) {
		const char *line = buf + pos;
		const char *nl = win > pos ? memchr(line, '\n', win - pos) : NULL;
		size_t n;
		int rc;

		if (!nl) {
			n = win - pos;
			/* A CR at the end may yet be followed by its LF. */
			if (n && line[n - 1] == '\r')
				n--;
			rc = have_reqline ? scan_header_line(&p, line, n, false)
					  : scan_request_line(&p, line, n, false);
			if (rc < 0)
				return HTTP_PARSE_ERROR;
			if (len > HTTP_MAX_HEAD) {
				fail(&p, 431, "request line and headers larger "
				     "than %d bytes", HTTP_MAX_HEAD);
				return HTTP_PARSE_ERROR;
			}
			return HTTP_PARSE_INCOMPLETE;
		}
		n = (size_t)(nl - line);
		pos += n + 1;
		if (n && line[n - 1] == '\r')
			n--;
		if (!have_reqline) {
			if (n == 0)
				continue;    /* RFC 9112 2.2: empty lines first */
			if (scan_request_line(&p, line, n, true) < 0)
				return HTTP_PARSE_ERROR;
			have_reqline = true;
			continue;
		}
		if (n == 0)
			break;
		if (scan_header_line(&p, line, n, true) < 0)
			return HTTP_PARSE_ERROR;
	}
	return finish(&p, buf, len, pos, consumed);
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

size_t http_format_response(char *out, size_t cap, int status,
			    const char *body, size_t body_len,
			    const struct http_request *req, bool keep_alive)
{
	const char *conn = "";
	size_t sent;
	int n;

	if (status < 200 || status > 599)
		return 0;
	if (status == 204 || status == 304 || !body)
		body_len = 0;
	if (!keep_alive)
		conn = "Connection: close\r\n";
	else if (req && req->minor == 0)
		conn = "Connection: keep-alive\r\n";
	n = snprintf(out, cap,
		     "HTTP/1.1 %d %s\r\nServer: ringvm\r\n"
		     "Content-Length: %zu\r\n%s%s\r\n",
		     status, http_reason(status), body_len,
		     body_len ? "Content-Type: application/json\r\n" : "", conn);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	sent = req && req->method == HTTP_HEAD ? 0 : body_len;
	if (sent > cap - (size_t)n)
		return 0;
	if (sent)
		memcpy(out + n, body, sent);
	return (size_t)n + sent;
}
