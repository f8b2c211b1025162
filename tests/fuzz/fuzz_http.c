/* libFuzzer target: the control API's HTTP request parser on whatever a
 * client may send, as a server sees it: bytes arriving in chunks of any
 * size, parsed again after each chunk, pipelined requests taken one after
 * another until the bytes run out or an error closes the connection.
 *
 * Input layout: [0..1] seed of the chunk sizes (le16), [2..] the bytes.
 *
 * Checked besides crashes, hangs and ASan/UBSan reports (every parse runs
 * on an exact-size heap copy of the pending bytes):
 *  - a request uses at least one byte and never more than it was given;
 *    its body lies inside the bytes it used; its fields keep their limits;
 *  - an error has a status the parser documents and a message;
 *  - the outcome does not depend on the chunking: the requests parsed
 *    chunk by chunk are exactly those parsed from all the bytes at once,
 *    and the run ends the same way (error, or waiting for more bytes);
 *  - every parsed request can be answered (http_format_response).
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed corpus
 * to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_parse.h"

#define MAX_REQS 4096

struct outcome {
	size_t used;
	enum http_method method;
	size_t body_len;
	size_t path_len;
	bool keep_alive;
};

struct run {
	struct outcome req[MAX_REQS];
	size_t nreq;
	enum http_parse_rc last;   /* ERROR, or INCOMPLETE when bytes ran out */
};

static void check_request(const char *buf, size_t len, size_t used,
			  const struct http_request *r)
{
	char out[HTTP_HEAD_MAX + 64];
	size_t n;

	if (used == 0 || used > len)
		abort();
	if (r->body < buf || r->body_len > HTTP_MAX_BODY ||
	    r->body_len > used || r->body + r->body_len != buf + used)
		abort();
	if (r->path[0] != '/' ||
	    strlen(r->path) + strlen(r->query) > HTTP_MAX_TARGET ||
	    strlen(r->method_text) == 0 ||
	    strlen(r->method_text) > HTTP_MAX_METHOD ||
	    (r->minor != 0 && r->minor != 1) || r->expect_continue)
		abort();
	n = http_format_response(out, sizeof(out), 200, "{\"a\":1}", 7, r,
				 r->keep_alive);
	if (n == 0 || n > sizeof(out) || memcmp(out, "HTTP/1.1 200 OK\r\n", 17))
		abort();
}

static void check_error(const struct http_parse_error *e)
{
	switch (e->status) {
	case 400: case 411: case 413: case 417: case 431: case 501: case 505:
		break;
	default:
		abort();
	}
	if (!e->msg[0] || !memchr(e->msg, '\0', sizeof(e->msg)))
		abort();
}

/* Parses what is pending; returns the rc that ended the loop. */
static enum http_parse_rc drain(struct run *run, const uint8_t *data,
				size_t *off, size_t avail)
{
	for (;;) {
		size_t len = avail - *off, used;
		char *buf = malloc(len ? len : 1);
		struct http_request r;
		struct http_parse_error e;
		enum http_parse_rc rc;

		if (!buf)
			abort();
		memcpy(buf, data + *off, len);
		rc = http_parse_request(buf, len, &r, &used, &e);
		if (rc == HTTP_PARSE_DONE) {
			check_request(buf, len, used, &r);
			if (run->nreq < MAX_REQS)
				run->req[run->nreq++] = (struct outcome){
					.used = used, .method = r.method,
					.body_len = r.body_len,
					.path_len = strlen(r.path),
					.keep_alive = r.keep_alive,
				};
			*off += used;
		} else if (rc == HTTP_PARSE_ERROR) {
			check_error(&e);
		} else if (r.expect_continue && r.minor != 1) {
			abort();
		}
		free(buf);
		if (rc != HTTP_PARSE_DONE)
			return rc;
	}
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	static struct run whole, chunked;
	uint32_t x;
	size_t off = 0, avail = 0;

	if (size < 2)
		return;
	x = (uint32_t)(data[0] | data[1] << 8) * 2654435761u + 1;
	data += 2;
	size -= 2;

	whole.nreq = 0;
	whole.last = drain(&whole, data, &off, size);

	chunked.nreq = 0;
	chunked.last = HTTP_PARSE_INCOMPLETE;
	off = 0;
	while (avail < size) {
		size_t step;

		x = x * 1103515245u + 12345u;
		/* Mostly small chunks, sometimes large ones. */
		step = (x >> 16) & 0x100 ? 1 + ((x >> 8) & 0x7ff)
					 : 1 + ((x >> 20) & 0xf);
		avail = step > size - avail ? size : avail + step;
		chunked.last = drain(&chunked, data, &off, avail);
		if (chunked.last == HTTP_PARSE_ERROR)
			break;
	}

	if (chunked.last != whole.last || chunked.nreq != whole.nreq)
		abort();
	for (size_t i = 0; i < whole.nreq; i++) {
		const struct outcome *a = &whole.req[i], *b = &chunked.req[i];

		if (a->used != b->used || a->method != b->method ||
		    a->body_len != b->body_len || a->path_len != b->path_len ||
		    a->keep_alive != b->keep_alive)
			abort();
	}
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

#define FC_PUT "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n" \
	"Content-Type: application/json\r\nContent-Length: 38\r\n\r\n" \
	"{\"vcpu_count\": 2, \"mem_size_mib\": 256}"

static const struct {
	const char *name;
	const char *text;
} seeds[] = {
	{ "fc-put", FC_PUT },
	{ "get", "GET /vm/config HTTP/1.1\r\nHost: localhost\r\n"
		 "Accept: application/json\r\n\r\n" },
	{ "pipelined", FC_PUT "GET /machine-config HTTP/1.1\r\n\r\n"
		       "PUT /actions HTTP/1.1\r\nContent-Length: 32\r\n"
		       "Connection: close\r\n\r\n"
		       "{\"action_type\": \"InstanceStart\"}" },
	{ "expect", "PATCH /vm HTTP/1.1\r\nHost: localhost\r\n"
		    "Expect: 100-continue\r\nContent-Length: 20\r\n\r\n"
		    "{\"state\": \"Paused\"}\n" },
	{ "drive-query", "PUT /drives/rootfs?x=1 HTTP/1.1\nContent-Length: 96"
			 "\nContent-Type: application/json\n\n"
			 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\","
			 " \"is_root_device\": true, \"is_read_only\": false}" },
	{ "http10", "\r\nHEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		    "GET / HTTP/1.0\r\n\r\n" },
	{ "chunked", "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "2\r\n{}\r\n0\r\n\r\n" },
	{ "dup-length", "PUT /x HTTP/1.1\r\nContent-Length: 2\r\n"
			"content-length: 2\r\n\r\n{}" },
	{ "obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n" },
};

static int write_seed(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;
	int bad;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return 1;
	}
	/* Chunk-size seed, then the request bytes. */
	bad = fwrite("\x2a\x00", 1, 2, f) != 2 ||
	      fwrite(text, 1, strlen(text), f) != strlen(text);
	bad |= fclose(f) != 0;
	{
		/* The seed must pass the target's own checks. */
		size_t n = strlen(text) + 2;
		uint8_t *in = malloc(n);

		if (!in)
			return 1;
		memcpy(in, "\x2a\x00", 2);
		memcpy(in + 2, text, n - 2);
		fuzz_one(in, n);
		free(in);
	}
	return bad;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		rc |= write_seed(argv[1], seeds[i].name, seeds[i].text);
	{
		/* A head just over HTTP_MAX_HEAD: the size limit. */
		static char big[HTTP_MAX_HEAD + 2];
		size_t n = strlen("GET / HTTP/1.1\r\nX: ");

		memcpy(big, "GET / HTTP/1.1\r\nX: ", n);
		memset(big + n, 'a', sizeof(big) - 1 - n - 4);
		memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
		rc |= write_seed(argv[1], "head-limit", big);
	}
	return rc ? 1 : 0;
}

#endif
