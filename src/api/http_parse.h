/* HTTP/1.1 requests, as the control API receives them: an incremental,
 * pure parser (no allocation, no I/O) and the response formatter.
 *
 * The parser reads a connection's receive buffer from the start of one
 * request and answers: need more bytes, one complete request (and how many
 * bytes it used, so pipelined requests are parsed one after another), or an
 * error with the status to answer before closing the connection. Errors in
 * the lines received so far are reported at once, without waiting for the
 * rest of the request (a Content-Length above HTTP_MAX_BODY as soon as its
 * line is complete).
 *
 * What it accepts (and the status when it refuses):
 *  - request line "METHOD SP target SP HTTP/1.x", CRLF or bare LF line
 *    ends; empty lines before it are skipped (RFC 9112 2.2). METHOD a token
 *    of at most HTTP_MAX_METHOD characters (400), matched case-sensitively;
 *    target an origin-form path of at most HTTP_MAX_TARGET printable ASCII
 *    bytes starting with '/' (400); HTTP/1.0 or 1.1 (another HTTP/d.d:
 *    505; anything else 400);
 *  - header lines "Name: value" (400 for a malformed one, a line starting
 *    with whitespace (obs-fold), a bare CR or a control character), at
 *    most HTTP_MAX_HEADERS of them (431) and HTTP_MAX_HEAD bytes from the
 *    first byte to the end of the empty line (431);
 *  - a body only through Content-Length: decimal digits, equal when
 *    repeated (400), at most HTTP_MAX_BODY (413); Transfer-Encoding: 501;
 *    PUT, PATCH, POST without Content-Length: 411; a body on GET, HEAD or
 *    DELETE: 400;
 *  - Expect: 100-continue (ignored for HTTP/1.0), any other Expect: 417;
 *  - at most one Content-Type, of at most HTTP_MAX_CTYPE bytes (400).
 * The target is not percent-decoded. */
#ifndef RINGVM_API_HTTP_PARSE_H
#define RINGVM_API_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD    8192
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_BODY    (64 * 1024)
#define HTTP_MAX_TARGET  512
#define HTTP_MAX_METHOD  15
#define HTTP_MAX_CTYPE   127
/* The most one request can occupy in a receive buffer. */
#define HTTP_MAX_REQUEST (HTTP_MAX_HEAD + HTTP_MAX_BODY)
/* Room for a response's status line and headers. */
#define HTTP_HEAD_MAX    256

enum http_method {
	HTTP_GET,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_POST,
	HTTP_DELETE,
	HTTP_HEAD,
	HTTP_OTHER,          /* another token: method_text says which */
};

struct http_request {
	enum http_method method;
	char method_text[HTTP_MAX_METHOD + 1];
	int minor;                          /* HTTP/1.minor */
	char path[HTTP_MAX_TARGET + 1];     /* the target before any '?' */
	char query[HTTP_MAX_TARGET + 1];    /* after the '?'; "" if none */
	char content_type[HTTP_MAX_CTYPE + 1];  /* "" if none */
	const char *body;    /* inside the parsed buffer, never NULL; not
			      * NUL-terminated */
	size_t body_len;
	bool keep_alive;     /* the connection stays open after the reply */
	/* Valid with HTTP_PARSE_INCOMPLETE: the header is complete, the body
	 * is not, and the client waits for "100 Continue". */
	bool expect_continue;
};

enum http_parse_rc {
	HTTP_PARSE_INCOMPLETE,  /* need more bytes */
	HTTP_PARSE_DONE,        /* *req filled, *consumed bytes used */
	HTTP_PARSE_ERROR,       /* answer e->status, then close */
};

struct http_parse_error {
	int status;
	char msg[128];       /* one line for the reply's fault_message */
};

/* Parses the request at the start of buf[0..len). */
enum http_parse_rc http_parse_request(const char *buf, size_t len,
				      struct http_request *req,
				      size_t *consumed,
				      struct http_parse_error *e);

/* The standard reason phrase ("Unknown" for a code it does not know). */
const char *http_reason(int status);

/* Formats a whole response into out: status line, "Server: ringvm",
 * Content-Length (always; 0 for 204), "Content-Type: application/json"
 * when there is a body, "Connection: close" unless keep_alive, then the
 * body. A 204 or 304 status drops the body. req is the request answered,
 * NULL when none could be parsed: a HEAD request gets the headers only; an
 * HTTP/1.0 request kept alive gets "Connection: keep-alive". Returns the
 * bytes written, 0 if they do not fit in cap (HTTP_HEAD_MAX + body_len
 * always fits) or status is not a final one (200..599). */
size_t http_format_response(char *out, size_t cap, int status,
			    const char *body, size_t body_len,
			    const struct http_request *req, bool keep_alive);

#endif
