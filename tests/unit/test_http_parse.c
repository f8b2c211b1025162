/* The control API's HTTP/1.1 request parser and response formatter: every
 * acceptance rule and limit, requests arriving in pieces and pipelined,
 * and hostile input. Every parse runs on an exact-size heap copy, so a
 * read past the bytes given is an ASan report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_parse.h"

struct res {
	enum http_parse_rc rc;
	struct http_request req;
	size_t used;
	struct http_parse_error e;
	char *buf;            /* the copy parsed; body points into it */
};

static void res_free(struct res *r)
{
	free(r->buf);
	r->buf = NULL;
}

static struct res parse_n(const char *s, size_t n)
{
	struct res r = { .buf = malloc(n ? n : 1) };

	assert_non_null(r.buf);
	memcpy(r.buf, s, n);
	r.rc = http_parse_request(r.buf, n, &r.req, &r.used, &r.e);
	if (r.rc == HTTP_PARSE_DONE) {
		assert_true(r.used <= n);
		assert_true(r.req.body >= r.buf);
		assert_true(r.req.body + r.req.body_len <= r.buf + r.used);
	}
	return r;
}

static struct res parse(const char *s)
{
	return parse_n(s, strlen(s));
}

static void expect_status(const char *s, size_t n, int status)
{
	struct res r = parse_n(s, n);

	if (r.rc != HTTP_PARSE_ERROR || r.e.status != status)
		fail_msg("%.60s...: rc %d status %d (%s), want error %d", s,
			 r.rc, r.e.status, r.e.msg, status);
	assert_true(r.e.msg[0] != '\0');
	res_free(&r);
}

static void expect_error(const char *s, int status)
{
	expect_status(s, strlen(s), status);
}

static void expect_done(const char *s)
{
	struct res r = parse(s);

	if (r.rc != HTTP_PARSE_DONE)
		fail_msg("%s: rc %d status %d (%s)", s, r.rc, r.e.status,
			 r.e.msg);
	assert_int_equal(r.used, strlen(s));
	res_free(&r);
}

static void expect_incomplete(const char *s)
{
	struct res r = parse(s);

	if (r.rc != HTTP_PARSE_INCOMPLETE)
		fail_msg("%s: rc %d status %d (%s)", s, r.rc, r.e.status,
			 r.e.msg);
	res_free(&r);
}

#define FC_PUT "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n" \
	"Content-Type: application/json\r\nContent-Length: 38\r\n\r\n" \
	"{\"vcpu_count\": 2, \"mem_size_mib\": 256}"

static void test_get(void **state)
{
	const char *s = "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n"
			"Accept: application/json\r\n\r\n";
	struct res r = parse(s);

	(void)state;
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.used, strlen(s));
	assert_int_equal(r.req.method, HTTP_GET);
	assert_string_equal(r.req.method_text, "GET");
	assert_string_equal(r.req.path, "/machine-config");
	assert_string_equal(r.req.query, "");
	assert_string_equal(r.req.content_type, "");
	assert_int_equal(r.req.minor, 1);
	assert_int_equal(r.req.body_len, 0);
	assert_non_null(r.req.body);
	assert_true(r.req.keep_alive);
	assert_false(r.req.expect_continue);
	res_free(&r);
}

static void test_put_body(void **state)
{
	struct res r = parse(FC_PUT);

	(void)state;
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.used, strlen(FC_PUT));
	assert_int_equal(r.req.method, HTTP_PUT);
	assert_string_equal(r.req.path, "/machine-config");
	assert_string_equal(r.req.content_type, "application/json");
	assert_int_equal(r.req.body_len, 38);
	assert_ptr_equal(r.req.body, r.buf + strlen(FC_PUT) - 38);
	assert_memory_equal(r.req.body,
			    "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", 38);
	res_free(&r);
}

static void test_methods(void **state)
{
	static const struct {
		const char *text;
		enum http_method m;
	} known[] = {
		{ "GET", HTTP_GET },     { "PUT", HTTP_PUT },
		{ "PATCH", HTTP_PATCH }, { "POST", HTTP_POST },
		{ "DELETE", HTTP_DELETE }, { "HEAD", HTTP_HEAD },
		{ "OPTIONS", HTTP_OTHER }, { "get", HTTP_OTHER },
		{ "X-MY_METH0D.~!", HTTP_OTHER },
		{ "ABCDEFGHIJKLMNO", HTTP_OTHER },   /* 15: the longest */
	};
	char s[128];

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		struct res r;

		snprintf(s, sizeof(s), "%s /x HTTP/1.1\r\nContent-Length: 0"
			 "\r\n\r\n", known[i].text);
		r = parse(s);
		assert_int_equal(r.rc, HTTP_PARSE_DONE);
		assert_int_equal(r.req.method, known[i].m);
		assert_string_equal(r.req.method_text, known[i].text);
		res_free(&r);
	}
	expect_error("ABCDEFGHIJKLMNOP /x HTTP/1.1\r\n\r\n", 400);
	expect_error("G(ET /x HTTP/1.1\r\n\r\n", 400);
	expect_error("GET\t/x HTTP/1.1\r\n\r\n", 400);
	expect_error(" GET /x HTTP/1.1\r\n\r\n", 400);
	/* Unknown methods are the router's to refuse (405): no body needed. */
	expect_done("FOO /x HTTP/1.1\r\n\r\n");
	/* Found wrong before the line ends. */
	expect_error("ABCDEFGHIJKLMNOP", 400);
	expect_error("G{", 400);
}

static void test_target(void **state)
{
	char s[1200], t[600];
	struct res r;

	(void)state;
	r = parse("GET /a/b?x=1&y=%20 HTTP/1.1\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_string_equal(r.req.path, "/a/b");
	assert_string_equal(r.req.query, "x=1&y=%20");
	res_free(&r);
	r = parse("GET /?a?b HTTP/1.1\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_string_equal(r.req.path, "/");
	assert_string_equal(r.req.query, "a?b");
	res_free(&r);
	r = parse("GET /x? HTTP/1.1\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_string_equal(r.req.path, "/x");
	assert_string_equal(r.req.query, "");
	res_free(&r);

	/* 512 bytes: accepted whole; 513: refused. */
	memset(t, 'a', sizeof(t));
	t[0] = '/';
	t[HTTP_MAX_TARGET] = '\0';
	snprintf(s, sizeof(s), "GET %s HTTP/1.1\r\n\r\n", t);
	r = parse(s);
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_string_equal(r.req.path, t);
	res_free(&r);
	t[HTTP_MAX_TARGET] = 'a';
	t[HTTP_MAX_TARGET + 1] = '\0';
	snprintf(s, sizeof(s), "GET %s HTTP/1.1\r\n\r\n", t);
	expect_error(s, 400);
	/* ... even before the line is complete. */
	snprintf(s, sizeof(s), "GET %s", t);
	expect_error(s, 400);

	expect_error("GET * HTTP/1.1\r\n\r\n", 400);
	expect_error("GET http://localhost/x HTTP/1.1\r\n\r\n", 400);
	expect_error("GET x HTTP/1.1\r\n\r\n", 400);
	expect_error("GET  /x HTTP/1.1\r\n\r\n", 400);
	expect_error("GET /x  HTTP/1.1\r\n\r\n", 400);
	expect_error("GET /\x80 HTTP/1.1\r\n\r\n", 400);
	expect_error("GET /\x7f HTTP/1.1\r\n\r\n", 400);
	expect_error("GET /a\tb HTTP/1.1\r\n\r\n", 400);
	expect_error("GET /x HTTP/1.1 \r\n\r\n", 400);
	expect_error("GET /x\r\n\r\n", 400);
	expect_error("GET\r\n\r\n", 400);
}

static void test_versions(void **state)
{
	struct res r;

	(void)state;
	r = parse("GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.minor, 0);
	res_free(&r);
	expect_error("GET / HTTP/2.0\r\n\r\n", 505);
	expect_error("GET / HTTP/1.2\r\n\r\n", 505);
	expect_error("GET / HTTP/0.9\r\n\r\n", 505);
	expect_error("GET / HTTP/1.1x\r\n\r\n", 400);
	expect_error("GET / HTTP/11\r\n\r\n", 400);
	expect_error("GET / http/1.1\r\n\r\n", 400);
	expect_error("GET / HTTP/1.\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1.1", 400);
}

static void test_split_every_byte(void **state)
{
	static const char *reqs[] = {
		FC_PUT,
		"GET /vm/config?x=1 HTTP/1.1\nHost: localhost\n\n",
		"PATCH /vm HTTP/1.1\r\nExpect: 100-continue\r\n"
		"Content-Length: 20\r\n\r\n{\"state\": \"Paused\"}\n",
		"\r\nHEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		size_t len = strlen(reqs[i]);

		for (size_t k = 0; k < len; k++) {
			struct res r = parse_n(reqs[i], k);

			if (r.rc != HTTP_PARSE_INCOMPLETE)
				fail_msg("request %zu, %zu of %zu bytes: rc %d"
					 " (%s)", i, k, len, r.rc, r.e.msg);
			res_free(&r);
		}
		expect_done(reqs[i]);
	}
}

/* The bytes of two requests, fed in growing prefixes: the first is
 * complete exactly when its last byte arrives, and no byte more is used. */
static void test_split_with_next_request(void **state)
{
	char s[512];
	size_t first = strlen(FC_PUT);

	(void)state;
	snprintf(s, sizeof(s), "%sGET / HTTP/1.1\r\n\r\n", FC_PUT);
	for (size_t k = 0; k <= strlen(s); k++) {
		struct res r = parse_n(s, k);

		assert_int_equal(r.rc, k < first ? HTTP_PARSE_INCOMPLETE
						 : HTTP_PARSE_DONE);
		if (r.rc == HTTP_PARSE_DONE) {
			assert_int_equal(r.used, first);
			assert_int_equal(r.req.body_len, 38);
		}
		res_free(&r);
	}
}

static void test_pipelined(void **state)
{
	const char *s = FC_PUT
		"GET /machine-config HTTP/1.1\r\n\r\n"
		"PUT /actions HTTP/1.1\r\nContent-Length: 32\r\n"
		"Connection: close\r\n\r\n{\"action_type\": \"InstanceStart\"}";
	static const struct {
		enum http_method m;
		const char *path;
		size_t body_len;
		bool keep_alive;
	} want[] = {
		{ HTTP_PUT, "/machine-config", 38, true },
		{ HTTP_GET, "/machine-config", 0, true },
		{ HTTP_PUT, "/actions", 32, false },
	};
	size_t len = strlen(s), off = 0;
	char *buf = malloc(len);

	(void)state;
	memcpy(buf, s, len);
	for (size_t i = 0; i < 3; i++) {
		struct http_request req;
		struct http_parse_error e;
		size_t used;

		assert_int_equal(http_parse_request(buf + off, len - off, &req,
						    &used, &e),
				 HTTP_PARSE_DONE);
		assert_int_equal(req.method, want[i].m);
		assert_string_equal(req.path, want[i].path);
		assert_int_equal(req.body_len, want[i].body_len);
		assert_int_equal(req.keep_alive, want[i].keep_alive);
		assert_true(req.body >= buf + off &&
			    req.body + req.body_len == buf + off + used);
		off += used;
	}
	assert_int_equal(off, len);
	free(buf);

	/* Two in one buffer, the second one incomplete. */
	{
		struct res r = parse("GET /a HTTP/1.1\r\n\r\nGET /b HTT");

		assert_int_equal(r.rc, HTTP_PARSE_DONE);
		assert_int_equal(r.used, strlen("GET /a HTTP/1.1\r\n\r\n"));
		res_free(&r);
		expect_incomplete("GET /b HTT");
	}
}

static char *request_with_body(size_t cl, size_t body_bytes, size_t *len)
{
	char head[128];
	int n = snprintf(head, sizeof(head),
			 "PUT /x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", cl);
	char *s = malloc((size_t)n + body_bytes);

	memcpy(s, head, (size_t)n);
	memset(s + n, 'b', body_bytes);
	*len = (size_t)n + body_bytes;
	return s;
}

static void test_body_limit(void **state)
{
	size_t len;
	char *s;
	struct res r;

	(void)state;
	s = request_with_body(HTTP_MAX_BODY, HTTP_MAX_BODY, &len);
	r = parse_n(s, len);
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.body_len, HTTP_MAX_BODY);
	assert_int_equal(r.used, len);
	res_free(&r);
	r = parse_n(s, len - 1);
	assert_int_equal(r.rc, HTTP_PARSE_INCOMPLETE);
	res_free(&r);
	free(s);

	/* One over: refused from the header alone, no body byte needed. */
	s = request_with_body(HTTP_MAX_BODY + 1, 0, &len);
	expect_status(s, len, 413);
	free(s);
	/* ... nor the end of the header. */
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 65537\r\n", 413);
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 100000000000\r\n"
		     "\r\n", 413);
}

static void test_content_length_values(void **state)
{
	static const char *bad[] = {
		"-1", "+5", "5a", "0x10", "", "5 5", "5, 5", "1.0",
		"99999999999999999999999",   /* overflows 64 bits */
		"18446744073709551616",
	};
	char s[256];
	struct res r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "PUT /x HTTP/1.1\r\nContent-Length: %s"
			 "\r\n\r\n", bad[i]);
		expect_error(s, 400);
	}
	/* Leading zeros and surrounding whitespace are fine. */
	r = parse("PUT /x HTTP/1.1\r\nContent-Length: \t 0003 \r\n\r\nabc");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.body_len, 3);
	res_free(&r);
	/* Repeated: the same value is one length, different ones are not. */
	r = parse("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n"
		  "content-length: 3\r\n\r\nabc");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.body_len, 3);
	res_free(&r);
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n"
		     "Content-Length: 4\r\n\r\nabcd", 400);
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n"
		     "Content-Length: 0\r\n", 400);
}

static void test_body_rules(void **state)
{
	struct res r;

	(void)state;
	expect_error("PUT /x HTTP/1.1\r\n\r\n", 411);
	expect_error("POST /x HTTP/1.1\r\nHost: a\r\n\r\n", 411);
	expect_error("PATCH /x HTTP/1.1\r\n\r\n", 411);
	expect_error("GET /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400);
	expect_error("DELETE /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400);
	expect_done("GET /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	expect_done("DELETE /x HTTP/1.1\r\n\r\n");
	expect_done("HEAD /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	expect_done("PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	/* A body is only what Content-Length says: the rest is the next
	 * request. */
	r = parse("PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GARBAGE");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.body_len, 2);
	assert_int_equal(r.used, strlen("PUT /x HTTP/1.1\r\nContent-Length: 2"
					"\r\n\r\n{}"));
	res_free(&r);
}

static void test_transfer_encoding(void **state)
{
	struct res r;

	(void)state;
	r = parse("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "2\r\n{}\r\n0\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_ERROR);
	assert_int_equal(r.e.status, 501);
	assert_non_null(strstr(r.e.msg, "not implemented"));
	res_free(&r);
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 2\r\n"
		     "transfer-encoding: identity\r\n\r\n{}", 501);
	/* Refused as soon as the line is in. */
	expect_error("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 501);
}

static void test_keep_alive(void **state)
{
	static const struct {
		const char *s;
		bool keep;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
		  false },
		{ "GET / HTTP/1.1\r\nConnection: keep-alive\r\n"
		  "Connection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n",
		  false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res r = parse(cases[i].s);

		assert_int_equal(r.rc, HTTP_PARSE_DONE);
		if (r.req.keep_alive != cases[i].keep)
			fail_msg("%s: keep_alive %d", cases[i].s,
				 r.req.keep_alive);
		res_free(&r);
	}
}

static void test_line_ends(void **state)
{
	struct res r;

	(void)state;
	r = parse("PUT /x HTTP/1.1\nContent-Length: 2\nContent-Type: a/b\n\n{}");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.body_len, 2);
	assert_string_equal(r.req.content_type, "a/b");
	res_free(&r);
	expect_done("GET /x HTTP/1.1\r\nHost: a\n\r\n");
	expect_done("GET /x HTTP/1.1\nHost: a\r\n\n");
	/* Empty lines before the request line are skipped. */
	expect_done("\r\n\nGET /x HTTP/1.1\r\n\r\n");
	/* A CR not followed by LF. */
	expect_error("GET /x HTTP/1.1\rHost: a\r\n\r\n", 400);
	expect_error("GET /x HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);
	expect_error("GET /x HTTP/1.1\r\nHost: a\r\r\n\r\n", 400);
	expect_error("\r\r\nGET /x HTTP/1.1\r\n\r\n", 400);
	/* ... while a CR last in the buffer may still get its LF. */
	expect_incomplete("GET /x HTTP/1.1\r");
	expect_incomplete("GET /x HTTP/1.1\r\nHost: a\r");
	expect_incomplete("GET /x HTTP/1.1\r\n\r");
}

static void test_obs_fold(void **state)
{
	(void)state;
	expect_error("GET / HTTP/1.1\r\nX-A: 1\r\n  more\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
	/* Refused at the first byte of the folded line. */
	expect_error("GET / HTTP/1.1\r\nX-A: 1\r\n ", 400);
}

static void test_header_syntax(void **state)
{
	struct res r;

	(void)state;
	expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\n: a\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nX(y): a\r\n\r\n", 400);
	{
		static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

		expect_status(nul, sizeof(nul) - 1, 400);
	}
	expect_error("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nX: a\x01", 400);
	/* obs-text and tabs in values are allowed; names are case-blind. */
	expect_done("GET / HTTP/1.1\r\nX: caf\xc3\xa9\tb\r\nY:\r\n\r\n");
	r = parse("PUT / HTTP/1.1\r\ncontent-LENGTH:1\r\nCONTENT-type:"
		  "  application/json; charset=utf-8  \r\n\r\nx");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_int_equal(r.req.body_len, 1);
	assert_string_equal(r.req.content_type,
			    "application/json; charset=utf-8");
	res_free(&r);
}

static void test_content_type_limits(void **state)
{
	char s[400], v[200];

	(void)state;
	expect_error("PUT / HTTP/1.1\r\nContent-Type: a/b\r\n"
		     "Content-Type: a/b\r\nContent-Length: 0\r\n\r\n", 400);
	memset(v, 'a', sizeof(v));
	v[HTTP_MAX_CTYPE] = '\0';
	snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nContent-Type: %s\r\n\r\n", v);
	expect_done(s);
	v[HTTP_MAX_CTYPE] = 'a';
	v[HTTP_MAX_CTYPE + 1] = '\0';
	snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nContent-Type: %s\r\n\r\n", v);
	expect_error(s, 400);
}

static void test_header_count(void **state)
{
	char s[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "X-%d: %d\r\n", i, i);
	snprintf(s + n, sizeof(s) - n, "\r\n");
	expect_done(s);
	snprintf(s + n, sizeof(s) - n, "X-last: 1\r\n\r\n");
	expect_error(s, 431);
	/* Refused at the 65th line, before the end of the head. */
	snprintf(s + n, sizeof(s) - n, "X-last: 1\r\n");
	expect_error(s, 431);
}

/* "GET / HTTP/1.1\r\nX: aaa...\r\n\r\n" of exactly total bytes. */
static char *head_of_size(size_t total)
{
	const char *pre = "GET / HTTP/1.1\r\nX: ";
	char *s = malloc(total + 1);
	size_t p = strlen(pre);

	memcpy(s, pre, p);
	memset(s + p, 'a', total - p - 4);
	memcpy(s + total - 4, "\r\n\r\n", 5);
	return s;
}

static void test_head_size(void **state)
{
	char *s;

	(void)state;
	s = head_of_size(HTTP_MAX_HEAD);
	expect_done(s);
	free(s);
	s = head_of_size(HTTP_MAX_HEAD + 1);
	expect_error(s, 431);
	/* No end of the head within the limit: refused without waiting. */
	expect_status(s, HTTP_MAX_HEAD + 1, 431);
	{
		/* 8192 bytes ending "\r\n\r": may still end in time. */
		struct res r = parse_n(s, HTTP_MAX_HEAD);

		assert_int_equal(r.rc, HTTP_PARSE_INCOMPLETE);
		res_free(&r);
	}
	free(s);
	/* A head that never ends (one endless line): 431 past the limit. */
	s = malloc(HTTP_MAX_HEAD + 1);
	memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
	memset(s + 19, 'a', HTTP_MAX_HEAD + 1 - 19);
	expect_status(s, HTTP_MAX_HEAD + 1, 431);
	free(s);
}

static void test_garbage(void **state)
{
	uint32_t x = 12345;
	uint8_t buf[300];

	(void)state;
	expect_status("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 400);
	expect_status("\0\0\0\0", 4, 400);
	expect_error("\x80GET / HTTP/1.1\r\n\r\n", 400);
	expect_error("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 400);
	expect_error("{\"vcpu_count\": 2}\r\n\r\n", 400);
	/* Random bytes (fixed seed, 32 to 300 of them): refused with 400. */
	for (int round = 0; round < 2000; round++) {
		size_t n = 32 + round % (sizeof(buf) - 32);

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		expect_status((const char *)buf, n, 400);
	}
}

static void test_expect(void **state)
{
	struct res r;

	(void)state;
	r = parse("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n"
		  "Content-Length: 5\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_INCOMPLETE);
	assert_true(r.req.expect_continue);
	res_free(&r);
	r = parse("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\n"
		  "Content-Length: 5\r\n\r\nab");
	assert_int_equal(r.rc, HTTP_PARSE_INCOMPLETE);
	assert_true(r.req.expect_continue);
	res_free(&r);
	/* The header alone is not enough to wait for a 100. */
	r = parse("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n"
		  "Content-Length: 5\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_INCOMPLETE);
	assert_false(r.req.expect_continue);
	res_free(&r);
	/* Complete: nothing to continue. */
	r = parse("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n"
		  "Content-Length: 5\r\n\r\nabcde");
	assert_int_equal(r.rc, HTTP_PARSE_DONE);
	assert_false(r.req.expect_continue);
	res_free(&r);
	expect_done("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n"
		    "Content-Length: 0\r\n\r\n");
	/* Ignored in HTTP/1.0 (RFC 9110 10.1.1). */
	r = parse("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n"
		  "Content-Length: 5\r\n\r\n");
	assert_int_equal(r.rc, HTTP_PARSE_INCOMPLETE);
	assert_false(r.req.expect_continue);
	res_free(&r);
	expect_error("PUT /x HTTP/1.1\r\nExpect: 200-ok\r\n"
		     "Content-Length: 5\r\n\r\n", 417);
	expect_error("GET /x HTTP/1.1\r\nExpect:\r\n\r\n", 417);
}

static void test_format(void **state)
{
	char out[512];
	struct res get = parse("GET / HTTP/1.1\r\n\r\n");
	struct res head = parse("HEAD / HTTP/1.1\r\n\r\n");
	struct res old = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	const char *fault = "{\"fault_message\":\"bad\"}";
	size_t n;

	(void)state;
	n = http_format_response(out, sizeof(out), 200, "{}", 2, &get.req, true);
	assert_memory_equal(out, "HTTP/1.1 200 OK\r\nServer: ringvm\r\n"
			    "Content-Length: 2\r\n"
			    "Content-Type: application/json\r\n\r\n{}", n);
	assert_int_equal(n, strlen("HTTP/1.1 200 OK\r\nServer: ringvm\r\n"
				   "Content-Length: 2\r\n"
				   "Content-Type: application/json\r\n\r\n{}"));

	/* 204: never a body, even when given one. */
	n = http_format_response(out, sizeof(out), 204, "{}", 2, &get.req, true);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: ringvm\r\n"
			    "Content-Length: 0\r\n\r\n");

	n = http_format_response(out, sizeof(out), 400, fault, strlen(fault),
				 NULL, false);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 400 Bad Request\r\nServer: ringvm\r\n"
			    "Content-Length: 23\r\n"
			    "Content-Type: application/json\r\n"
			    "Connection: close\r\n\r\n"
			    "{\"fault_message\":\"bad\"}");

	/* HEAD: the length of the body, not the body. */
	n = http_format_response(out, sizeof(out), 200, "{}", 2, &head.req,
				 true);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nServer: ringvm\r\n"
			    "Content-Length: 2\r\n"
			    "Content-Type: application/json\r\n\r\n");

	n = http_format_response(out, sizeof(out), 204, NULL, 0, &old.req,
				 true);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: ringvm\r\n"
			    "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n");

	/* Does not fit, or not a final status: nothing. */
	assert_int_equal(http_format_response(out, 60, 200, fault,
					      strlen(fault), NULL, true), 0);
	assert_int_equal(http_format_response(out, sizeof(out), 100, NULL, 0,
					      NULL, true), 0);
	assert_int_equal(http_format_response(out, sizeof(out), 600, NULL, 0,
					      NULL, true), 0);

	{
		static const int codes[] = { 200, 204, 400, 404, 405, 408, 411,
					     413, 417, 431, 500, 501, 503, 505 };

		for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			assert_string_not_equal(http_reason(codes[i]), "Unknown");
		assert_string_equal(http_reason(413), "Content Too Large");
		assert_string_equal(http_reason(431),
				    "Request Header Fields Too Large");
		assert_string_equal(http_reason(299), "Unknown");
	}
	res_free(&get);
	res_free(&head);
	res_free(&old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_put_body),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_split_every_byte),
		cmocka_unit_test(test_split_with_next_request),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_content_length_values),
		cmocka_unit_test(test_body_rules),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_header_syntax),
		cmocka_unit_test(test_content_type_limits),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_head_size),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
