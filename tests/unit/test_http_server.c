/* The control API's HTTP server and client on real Unix sockets in a
 * temporary directory: requests and replies, keep-alive and pipelining,
 * requests in pieces, every limit and timeout (shortened through
 * struct http_server_opts), clients that vanish or never read, handler
 * concurrency, and the rules for creating and removing the socket file.
 * Under ASan: a leak or a use after free of a vanished connection fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api/http_client.h"
#include "api/http_server.h"

#define TMO 5000   /* ms: long enough never to matter when all is well */

/* ---- the test handler ---- */

struct tctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int blocked;            /* handlers waiting in /block */
	bool release;
	atomic_int started;
	atomic_int finished;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void reply_json(struct http_reply *reply, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	reply->status = 200;
	reply->body = strdup(s);
	reply->body_len = strlen(s);
	json_object_put(o);
}

/* /slow: 2 s; /sleep?ms=N; /block: until released; /big?N: an N-byte
 * string; /sleepbig?N: the same after 300 ms; /nocontent: 204;
 * /nostatus: leaves the reply alone; anything else: {"method", "path",
 * "query", "body", "content_type"}. */
static void handler(void *ctx, const struct http_request *req,
		    struct http_reply *reply)
{
	struct tctx *t = ctx;
	struct json_object *o = json_object_new_object();

	atomic_fetch_add(&t->started, 1);
	/* No cmocka assertion off the test's thread: a status instead. */
	if (req->body[req->body_len] != '\0') {
		reply->status = 599;
		json_object_put(o);
		atomic_fetch_add(&t->finished, 1);
		return;
	}
	if (strcmp(req->path, "/slow") == 0) {
		sleep_ms(2000);
	} else if (strcmp(req->path, "/sleep") == 0) {
		sleep_ms(atoi(req->query + 3));
	} else if (strcmp(req->path, "/block") == 0) {
		pthread_mutex_lock(&t->lock);
		t->blocked++;
		pthread_cond_broadcast(&t->cond);
		while (!t->release)
			pthread_cond_wait(&t->cond, &t->lock);
		t->blocked--;
		pthread_mutex_unlock(&t->lock);
	} else if (strcmp(req->path, "/big") == 0 ||
		   strcmp(req->path, "/sleepbig") == 0) {
		size_t n = (size_t)atoi(req->query);

		if (req->path[1] == 's')
			sleep_ms(300);
		reply->status = 200;
		reply->body = malloc(n + 2);
		memset(reply->body, 'x', n + 2);
		reply->body[0] = reply->body[n + 1] = '"';
		reply->body_len = n + 2;
		json_object_put(o);
		atomic_fetch_add(&t->finished, 1);
		return;
	} else if (strcmp(req->path, "/nocontent") == 0) {
		reply->status = 204;
		json_object_put(o);
		atomic_fetch_add(&t->finished, 1);
		return;
	} else if (strcmp(req->path, "/nostatus") == 0) {
		json_object_put(o);
		atomic_fetch_add(&t->finished, 1);
		return;
	}
	json_object_object_add(o, "method",
			       json_object_new_string(req->method_text));
	json_object_object_add(o, "path", json_object_new_string(req->path));
	json_object_object_add(o, "query", json_object_new_string(req->query));
	json_object_object_add(o, "content_type",
			       json_object_new_string(req->content_type));
	json_object_object_add(o, "body",
			       json_object_new_string_len(req->body,
							  (int)req->body_len));
	reply_json(reply, o);
	atomic_fetch_add(&t->finished, 1);
}

/* ---- fixture: a temporary directory and a server in it ---- */

struct fx {
	char dir[64];
	char path[128];
	struct tctx t;
	struct http_server *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/rv-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	pthread_mutex_init(&f->t.lock, NULL);
	pthread_cond_init(&f->t.cond, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	DIR *d;
	struct dirent *e;
	char p[512];

	if (f->s) {
		pthread_mutex_lock(&f->t.lock);
		f->t.release = true;
		pthread_cond_broadcast(&f->t.cond);
		pthread_mutex_unlock(&f->t.lock);
		http_server_stop(f->s);
	}
	d = opendir(f->dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' &&
		    (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	pthread_mutex_destroy(&f->t.lock);
	pthread_cond_destroy(&f->t.cond);
	free(f);
	return 0;
}

static void start(struct fx *f, const struct http_server_opts *o)
{
	struct http_server_opts d;
	struct rv_err err = { "" };

	http_server_default_opts(&d);
	f->s = http_server_start_opts(f->path, o ? o : &d, handler, &f->t,
				      &err);
	if (!f->s)
		fail_msg("server: %s", err.msg);
}

/* ---- a raw client ---- */

static void set_sun(struct sockaddr_un *a, const char *path)
{
	assert_true(strlen(path) < sizeof(a->sun_path));
	memcpy(a->sun_path, path, strlen(path) + 1);
}

struct raw {
	int fd;
	char *buf;
	size_t len, cap;
};

struct resp {
	int status;
	char head[1024];
	char *body;
	size_t body_len;
};

static int raw_connect(const char *path, struct raw *r)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	set_sun(&a, path);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r->cap = 1 << 20;
	r->len = 0;
	r->buf = malloc(r->cap);
	assert_true(r->fd >= 0);
	return connect(r->fd, (struct sockaddr *)&a, sizeof(a));
}

static void raw_open(const char *path, struct raw *r)
{
	assert_int_equal(raw_connect(path, r), 0);
}

static void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
}

static void raw_send_n(struct raw *r, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(r->fd, s, n, MSG_NOSIGNAL);

		assert_true(k > 0);
		s += k;
		n -= (size_t)k;
	}
}

static void raw_send(struct raw *r, const char *s)
{
	raw_send_n(r, s, strlen(s));
}

/* The next response: 1; the connection closed first: 0; timeout: -1.
 * no_body: the answer to a HEAD request. */
static int raw_next(struct raw *r, int timeout_ms, bool no_body,
		    struct resp *out)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		char *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		int64_t left;
		ssize_t n;

		if (end) {
			size_t head = (size_t)(end + 4 - r->buf), cl = 0;
			char *c;

			assert_true(head < sizeof(out->head));
			memcpy(out->head, r->buf, head);
			out->head[head] = '\0';
			assert_int_equal(sscanf(out->head, "HTTP/1.1 %d",
						&out->status), 1);
			c = strstr(out->head, "\r\nContent-Length: ");
			if (c && !no_body)
				cl = strtoul(c + 18, NULL, 10);
			if (r->len >= head + cl) {
				out->body = malloc(cl + 1);
				memcpy(out->body, r->buf + head, cl);
				out->body[cl] = '\0';
				out->body_len = cl;
				r->len -= head + cl;
				memmove(r->buf, r->buf + head + cl, r->len);
				return 1;
			}
		}
		left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		assert_true(r->len < r->cap);
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n <= 0)
			return 0;
		r->len += (size_t)n;
	}
}

static void raw_expect(struct raw *r, int status, struct resp *out)
{
	int rc = raw_next(r, TMO, false, out);

	if (rc != 1)
		fail_msg("no response (%d), want %d", rc, status);
	if (out->status != status)
		fail_msg("status %d, want %d: %s", out->status, status,
			 out->body);
}

/* The server closed the connection: EOF (or ECONNRESET) within timeout. */
static void raw_expect_closed(struct raw *r, int timeout_ms)
{
	struct resp x;
	int rc = raw_next(r, timeout_ms, false, &x);

	if (rc == 1) {
		fail_msg("unexpected response %d", x.status);
		free(x.body);
	}
	assert_int_equal(rc, 0);
}

/* A string field of the echo handler's JSON reply. */
static void assert_field(const char *json, const char *key, const char *want)
{
	struct json_object *o = json_tokener_parse(json), *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		fail_msg("no %s in %s", key, json);
	assert_string_equal(json_object_get_string(v), want);
	json_object_put(o);
}

/* ---- requests and replies ---- */

static void test_basic(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char *body;
	int status;

	start(f, NULL);
	assert_int_equal(http_client_call(f->path, "GET", "/hello?x=1", NULL,
					  TMO, &status, &body, &err), 0);
	assert_int_equal(status, 200);
	assert_field(body, "method", "GET");
	assert_field(body, "path", "/hello");
	assert_field(body, "query", "x=1");
	assert_field(body, "body", "");
	free(body);

	assert_int_equal(http_client_call(f->path, "PUT", "/machine-config",
					  "{\"vcpu_count\": 2}", TMO, &status,
					  &body, &err), 0);
	assert_int_equal(status, 200);
	assert_field(body, "method", "PUT");
	assert_field(body, "body", "{\"vcpu_count\": 2}");
	assert_field(body, "content_type", "application/json");
	free(body);

	/* 204 has no body; a handler that sets no status gets 500. */
	assert_int_equal(http_client_call(f->path, "PUT", "/nocontent", "{}",
					  TMO, &status, &body, &err), 0);
	assert_int_equal(status, 204);
	assert_string_equal(body, "");
	free(body);
	assert_int_equal(http_client_call(f->path, "GET", "/nostatus", NULL,
					  TMO, &status, &body, &err), 0);
	assert_int_equal(status, 500);
	free(body);
}

static void test_keep_alive(void **state)
{
	struct fx *f = *state;
	struct raw r;
	struct resp x;
	char req[128];

	start(f, NULL);
	raw_open(f->path, &r);
	for (int i = 0; i < 5; i++) {
		snprintf(req, sizeof(req), "GET /n%d HTTP/1.1\r\nHost: x\r\n\r\n",
			 i);
		raw_send(&r, req);
		raw_expect(&r, 200, &x);
		snprintf(req, sizeof(req), "/n%d", i);
		assert_field(x.body, "path", req);
		assert_null(strstr(x.head, "Connection:"));
		assert_non_null(strstr(x.head, "Server: ringvm\r\n"));
		assert_non_null(strstr(x.head, "Content-Type: application/json"));
		free(x.body);
	}
	/* HEAD: headers only, so the next reply follows right after. */
	raw_send(&r, "HEAD /h HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
	assert_int_equal(raw_next(&r, TMO, true, &x), 1);
	assert_int_equal(x.status, 200);
	assert_non_null(strstr(x.head, "Content-Length: "));
	free(x.body);
	raw_expect(&r, 200, &x);
	assert_field(x.body, "path", "/after");
	free(x.body);

	raw_send(&r, "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n");
	raw_expect(&r, 200, &x);
	assert_non_null(strstr(x.head, "Connection: close\r\n"));
	free(x.body);
	raw_expect_closed(&r, TMO);
	raw_close(&r);

	/* HTTP/1.0 closes unless asked to keep alive. */
	raw_open(f->path, &r);
	raw_send(&r, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	raw_expect(&r, 200, &x);
	assert_non_null(strstr(x.head, "Connection: keep-alive\r\n"));
	free(x.body);
	raw_send(&r, "GET /b HTTP/1.0\r\n\r\n");
	raw_expect(&r, 200, &x);
	free(x.body);
	raw_expect_closed(&r, TMO);
	raw_close(&r);
}

static void test_pipelined(void **state)
{
	struct fx *f = *state;
	struct raw r;
	struct resp x;

	start(f, NULL);
	raw_open(f->path, &r);
	/* The first is the slowest: replies still come in request order. */
	raw_send(&r, "GET /sleep?ms=300 HTTP/1.1\r\n\r\n"
		     "PUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
		     "GET /c HTTP/1.1\r\n\r\n"
		     "GET /d HTTP/1.1\r\nConnection: close\r\n\r\n");
	raw_expect(&r, 200, &x);
	assert_field(x.body, "path", "/sleep");
	free(x.body);
	raw_expect(&r, 200, &x);
	assert_field(x.body, "path", "/b");
	assert_field(x.body, "body", "{}");
	free(x.body);
	raw_expect(&r, 200, &x);
	assert_field(x.body, "path", "/c");
	free(x.body);
	raw_expect(&r, 200, &x);
	assert_field(x.body, "path", "/d");
	free(x.body);
	raw_expect_closed(&r, TMO);
	raw_close(&r);
}

static void test_byte_at_a_time(void **state)
{
	static const char req[] = "PUT /machine-config HTTP/1.1\r\n"
		"Host: localhost\r\nContent-Type: application/json\r\n"
		"Content-Length: 38\r\n\r\n"
		"{\"vcpu_count\": 2, \"mem_size_mib\": 256}";
	struct fx *f = *state;
	struct raw r;
	struct resp x;

	start(f, NULL);
	raw_open(f->path, &r);
	for (size_t i = 0; i < sizeof(req) - 1; i++) {
		raw_send_n(&r, req + i, 1);
		usleep(500);
	}
	raw_expect(&r, 200, &x);
	assert_field(x.body, "body", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	free(x.body);
	raw_close(&r);
}

static void test_expect_continue(void **state)
{
	struct fx *f = *state;
	struct raw r;
	struct resp x;

	start(f, NULL);
	raw_open(f->path, &r);
	raw_send(&r, "PUT /e HTTP/1.1\r\nExpect: 100-continue\r\n"
		     "Content-Length: 2\r\n\r\n");
	assert_int_equal(raw_next(&r, TMO, false, &x), 1);
	assert_int_equal(x.status, 100);
	free(x.body);
	raw_send(&r, "{}");
	raw_expect(&r, 200, &x);
	assert_field(x.body, "body", "{}");
	free(x.body);
	raw_send(&r, "PUT /e HTTP/1.1\r\nExpect: 999-nothing\r\n"
		     "Content-Length: 2\r\n\r\n{}");
	raw_expect(&r, 417, &x);
	free(x.body);
	raw_expect_closed(&r, TMO);
	raw_close(&r);
}

/* ---- bad requests and limits ---- */

static void test_bad_requests(void **state)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage", 400 },
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "PUT / HTTP/1.1\r\n\r\n", 411 },
		/* Refused from the header alone: no body byte sent. */
		{ "PUT / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413 },
	};
	struct fx *f = *state;

	start(f, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw r;
		struct resp x;
		struct json_object *o, *m;

		raw_open(f->path, &r);
		raw_send(&r, cases[i].req);
		raw_expect(&r, cases[i].status, &x);
		assert_non_null(strstr(x.head, "Connection: close\r\n"));
		/* A Firecracker Error body. */
		o = json_tokener_parse(x.body);
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "fault_message", &m));
		assert_true(strlen(json_object_get_string(m)) > 0);
		json_object_put(o);
		free(x.body);
		raw_expect_closed(&r, TMO);
		raw_close(&r);
	}
}

static void test_oversized_body(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char *big = malloc(HTTP_MAX_BODY + 2), *body;
	int status;

	start(f, NULL);
	memset(big, ' ', HTTP_MAX_BODY + 1);
	big[HTTP_MAX_BODY + 1] = '\0';
	assert_int_equal(http_client_call(f->path, "PUT", "/x", big, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 413);
	free(body);
	/* Exactly at the limit is fine. */
	big[HTTP_MAX_BODY] = '\0';
	assert_int_equal(http_client_call(f->path, "PUT", "/x", big, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 200);
	free(body);
	free(big);
}

static void test_request_timeout(void **state)
{
	struct fx *f = *state;
	struct http_server_opts o;
	struct raw r;
	struct resp x;
	int64_t t0;

	http_server_default_opts(&o);
	assert_int_equal(o.request_timeout_ms, 10000);
	o.request_timeout_ms = 300;
	start(f, &o);
	raw_open(f->path, &r);
	t0 = now_ms();
	raw_send(&r, "PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n{");
	raw_expect(&r, 408, &x);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 3000);
	free(x.body);
	raw_expect_closed(&r, TMO);
	raw_close(&r);

	/* A partial request line times out the same way. */
	raw_open(f->path, &r);
	raw_send(&r, "GET /x HT");
	raw_expect(&r, 408, &x);
	free(x.body);
	raw_close(&r);

	/* A connection that sends nothing has no request in progress. */
	raw_open(f->path, &r);
	sleep_ms(600);
	raw_send(&r, "GET /late HTTP/1.1\r\n\r\n");
	raw_expect(&r, 200, &x);
	free(x.body);
	raw_close(&r);
}

static void test_idle_timeout(void **state)
{
	struct fx *f = *state;
	struct http_server_opts o;
	struct raw r;
	struct resp x;
	int64_t t0;

	http_server_default_opts(&o);
	assert_int_equal(o.idle_timeout_ms, 60000);
	o.idle_timeout_ms = 400;
	start(f, &o);
	raw_open(f->path, &r);
	raw_send(&r, "GET /x HTTP/1.1\r\n\r\n");
	raw_expect(&r, 200, &x);
	free(x.body);
	t0 = now_ms();
	raw_expect_closed(&r, TMO);   /* closed without a response */
	assert_true(now_ms() - t0 >= 300);
	raw_close(&r);
}

/* A client that sends requests and never reads the replies is dropped
 * once its replies cannot drain; the server meanwhile serves others. */
static void test_slow_reader(void **state)
{
	struct fx *f = *state;
	struct http_server_opts o;
	struct rv_err err = { "" };
	struct raw r;
	size_t total = 0;
	char *body;
	int status;

	http_server_default_opts(&o);
	assert_int_equal(o.send_timeout_ms, 10000);
	assert_int_equal(o.out_max, 128 * 1024);
	o.send_timeout_ms = 300;
	start(f, &o);
	raw_open(f->path, &r);
	for (int i = 0; i < 40; i++)
		raw_send(&r, "GET /big?60000 HTTP/1.1\r\n\r\n");
	sleep_ms(200);
	assert_int_equal(http_client_call(f->path, "GET", "/other", NULL, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 200);
	free(body);
	sleep_ms(800);
	/* Now read: what was queued, then the end (not a wait for more),
	 * well short of all 40 replies. */
	for (;;) {
		struct pollfd p = { .fd = r.fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&p, 1, TMO), 1);
		n = recv(r.fd, r.buf, r.cap, 0);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	assert_true(total > 0);
	assert_true(total < 40u * 60000);
	raw_close(&r);
}

static void test_disconnects(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	struct raw r;
	char *body;
	int status;

	start(f, NULL);
	/* Mid-request. */
	raw_open(f->path, &r);
	raw_send(&r, "PUT /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\":");
	raw_close(&r);
	/* While its handler runs: the reply is dropped. */
	raw_open(f->path, &r);
	raw_send(&r, "GET /sleep?ms=400 HTTP/1.1\r\n\r\n");
	while (atomic_load(&f->t.started) < 1)
		sleep_ms(5);
	raw_close(&r);
	/* Pipelined requests behind a running handler, then gone. */
	raw_open(f->path, &r);
	raw_send(&r, "GET /sleep?ms=300 HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n"
		     "GET /b HTTP/1.1\r\n\r\n");
	sleep_ms(50);
	raw_close(&r);
	/* Half-closed after a request: still answered. */
	raw_open(f->path, &r);
	raw_send(&r, "GET /half HTTP/1.1\r\n\r\n");
	shutdown(r.fd, SHUT_WR);
	{
		struct resp x;

		raw_expect(&r, 200, &x);
		assert_field(x.body, "path", "/half");
		free(x.body);
		raw_expect_closed(&r, TMO);
	}
	raw_close(&r);
	sleep_ms(600);
	/* All handlers finished and the server still serves. */
	assert_int_equal(atomic_load(&f->t.finished),
			 atomic_load(&f->t.started));
	assert_int_equal(http_client_call(f->path, "GET", "/alive", NULL, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 200);
	free(body);
}

/* ---- concurrency ---- */

struct client_arg {
	const char *path;
	const char *method;
	const char *target;
	int n;
	int status;
	char *body;
	int64_t ms;
	pthread_barrier_t *go;
};

static void *client_thread(void *p)
{
	struct client_arg *a = p;
	struct rv_err err = { "" };
	char buf[64];
	int64_t t0;

	if (a->go)
		pthread_barrier_wait(a->go);
	t0 = now_ms();
	snprintf(buf, sizeof(buf), "{\"client\": %d}", a->n);
	/* 503 (all handlers busy) asks to retry. */
	for (int tries = 0; tries < 100; tries++) {
		if (http_client_call(a->path, a->method, a->target,
				     strcmp(a->method, "PUT") ? NULL : buf,
				     TMO, &a->status, &a->body, &err) < 0) {
			a->status = -1;
			break;
		}
		if (a->status != 503)
			break;
		free(a->body);
		a->body = NULL;
		sleep_ms(10);
	}
	a->ms = now_ms() - t0;
	return NULL;
}

static void test_many_clients(void **state)
{
	struct fx *f = *state;
	struct client_arg a[20];
	pthread_t th[20];
	pthread_barrier_t go;
	char want[64];

	start(f, NULL);
	pthread_barrier_init(&go, NULL, 20);
	for (int i = 0; i < 20; i++) {
		a[i] = (struct client_arg){ .path = f->path, .method = "PUT",
					    .target = "/many", .n = i, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, client_thread,
						&a[i]), 0);
	}
	for (int i = 0; i < 20; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].status, 200);
		snprintf(want, sizeof(want), "{\"client\": %d}", i);
		assert_field(a[i].body, "body", want);
		free(a[i].body);
	}
	pthread_barrier_destroy(&go);
}

static void test_slow_handler_does_not_block(void **state)
{
	struct fx *f = *state;
	struct client_arg slow = { .method = "GET", .target = "/slow" };
	struct rv_err err = { "" };
	pthread_t th;
	int64_t t0, ms;
	char *body;
	int status;

	start(f, NULL);
	slow.path = f->path;
	pthread_create(&th, NULL, client_thread, &slow);
	while (atomic_load(&f->t.started) < 1)
		sleep_ms(5);
	t0 = now_ms();
	assert_int_equal(http_client_call(f->path, "GET", "/quick", NULL, TMO,
					  &status, &body, &err), 0);
	ms = now_ms() - t0;
	assert_int_equal(status, 200);
	assert_true(ms < 1000);
	free(body);
	pthread_join(th, NULL);
	assert_int_equal(slow.status, 200);
	assert_true(slow.ms >= 1900);
	free(slow.body);
}

static void wait_blocked(struct fx *f, int n)
{
	int64_t deadline = now_ms() + TMO;

	pthread_mutex_lock(&f->t.lock);
	while (f->t.blocked < n && now_ms() < deadline) {
		pthread_mutex_unlock(&f->t.lock);
		sleep_ms(5);
		pthread_mutex_lock(&f->t.lock);
	}
	assert_int_equal(f->t.blocked, n);
	pthread_mutex_unlock(&f->t.lock);
}

/* 16 handlers at once; the 17th request is answered 503 at once, on a
 * connection that stays usable. */
static void test_handler_limit(void **state)
{
	struct fx *f = *state;
	struct raw r[17];
	struct resp x;
	int64_t t0;

	start(f, NULL);
	for (int i = 0; i < 16; i++) {
		raw_open(f->path, &r[i]);
		raw_send(&r[i], "GET /block HTTP/1.1\r\n\r\n");
	}
	wait_blocked(f, 16);
	raw_open(f->path, &r[16]);
	t0 = now_ms();
	raw_send(&r[16], "GET /more HTTP/1.1\r\n\r\n");
	raw_expect(&r[16], 503, &x);
	assert_true(now_ms() - t0 < 1000);
	assert_null(strstr(x.head, "Connection: close"));
	free(x.body);

	pthread_mutex_lock(&f->t.lock);
	f->t.release = true;
	pthread_cond_broadcast(&f->t.cond);
	pthread_mutex_unlock(&f->t.lock);
	for (int i = 0; i < 16; i++) {
		raw_expect(&r[i], 200, &x);
		free(x.body);
		raw_close(&r[i]);
	}
	raw_send(&r[16], "GET /more HTTP/1.1\r\n\r\n");
	raw_expect(&r[16], 200, &x);
	free(x.body);
	raw_close(&r[16]);
}

static void test_connection_limit(void **state)
{
	struct fx *f = *state;
	struct http_server_opts o;
	struct raw r[65];
	struct resp x;

	http_server_default_opts(&o);
	assert_int_equal(o.max_conns, 64);
	assert_int_equal(o.max_handlers, 16);
	start(f, &o);
	for (int i = 0; i < 64; i++) {
		raw_open(f->path, &r[i]);
		raw_send(&r[i], "GET /x HTTP/1.1\r\n\r\n");
		raw_expect(&r[i], 200, &x);
		free(x.body);
	}
	/* The 65th is accepted and closed at once. */
	raw_open(f->path, &r[64]);
	raw_expect_closed(&r[64], TMO);
	raw_close(&r[64]);
	/* One leaves, a new one gets in. */
	raw_close(&r[0]);
	for (int tries = 0;; tries++) {
		int rc;

		assert_true(tries < 100);
		raw_open(f->path, &r[0]);
		send(r[0].fd, "GET /y HTTP/1.1\r\n\r\n", 19, MSG_NOSIGNAL);
		rc = raw_next(&r[0], TMO, false, &x);
		if (rc == 1) {
			assert_int_equal(x.status, 200);
			free(x.body);
			break;
		}
		raw_close(&r[0]);
		sleep_ms(10);
	}
	for (int i = 0; i < 64; i++)
		raw_close(&r[i]);
}

/* stop() while handlers run: waits for them and sends each reply that
 * still has a client (a migration's answer comes as the VM ends), with
 * Connection: close; takes no request after that, not even one already
 * pipelined; closes idle connections. */
static void test_stop_while_handling(void **state)
{
	struct fx *f = *state;
	struct raw busy, idle, gone;
	struct resp x;
	int64_t t0;

	start(f, NULL);
	raw_open(f->path, &busy);
	raw_open(f->path, &idle);
	raw_open(f->path, &gone);
	raw_send(&busy, "GET /sleep?ms=300 HTTP/1.1\r\n\r\n"
			"GET /after HTTP/1.1\r\n\r\n");
	raw_send(&gone, "GET /sleep?ms=200 HTTP/1.1\r\n\r\n");
	while (atomic_load(&f->t.started) < 2)
		sleep_ms(5);
	raw_close(&gone);       /* its reply has nowhere to go */
	t0 = now_ms();
	http_server_stop(f->s);
	f->s = NULL;
	assert_true(now_ms() - t0 >= 200);
	assert_int_equal(atomic_load(&f->t.finished), 2);
	assert_int_equal(atomic_load(&f->t.started), 2);
	raw_expect(&busy, 200, &x);
	assert_field(x.body, "path", "/sleep");
	assert_non_null(strstr(x.head, "Connection: close\r\n"));
	free(x.body);
	raw_expect_closed(&busy, TMO);
	raw_expect_closed(&idle, TMO);
	raw_close(&busy);
	raw_close(&idle);
	assert_int_equal(access(f->path, F_OK), -1);
}

struct stopper {
	struct http_server *s;
	int64_t ms;
};

static void *stop_thread(void *p)
{
	struct stopper *st = p;
	int64_t t0 = now_ms();

	http_server_stop(st->s);
	st->ms = now_ms() - t0;
	return NULL;
}

/* A client that never reads its reply holds stop() no longer than the
 * send timeout once the handler is done. */
static void test_stop_bounded_by_send_timeout(void **state)
{
	enum { BIG = 4 << 20 };
	struct fx *f = *state;
	struct http_server_opts o;
	struct stopper st;
	struct timespec until;
	struct raw r;
	pthread_t th;
	size_t total = 0;

	http_server_default_opts(&o);
	o.send_timeout_ms = 300;
	start(f, &o);
	raw_open(f->path, &r);
	raw_send(&r, "GET /sleepbig?4194304 HTTP/1.1\r\n\r\n");
	while (atomic_load(&f->t.started) < 1)
		sleep_ms(5);
	st.s = f->s;
	f->s = NULL;
	assert_int_equal(pthread_create(&th, NULL, stop_thread, &st), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	if (pthread_timedjoin_np(th, NULL, &until) != 0) {
		/* Reading now lets stop() finish, so the test can end. */
		shutdown(r.fd, SHUT_RDWR);
		pthread_join(th, NULL);
		fail_msg("stop() still waiting for a client that never reads");
	}
	/* 300 ms of handler, then at most 300 ms more (ASan, a busy host:
	 * generous, but far below a wait for ever or the default 10 s). */
	assert_true(st.ms >= 250);
	if (st.ms >= 3000)
		fail_msg("stop() took %lld ms", (long long)st.ms);
	/* What the socket buffers held, then the end: not the whole reply. */
	for (;;) {
		struct pollfd p = { .fd = r.fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&p, 1, TMO), 1);
		n = recv(r.fd, r.buf, r.cap, 0);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	assert_true(total > 0);
	assert_true(total < BIG);
	raw_close(&r);
}

/* ---- the socket file ---- */

static void test_socket_file(void **state)
{
	struct fx *f = *state;
	struct stat st;
	DIR *d;
	struct dirent *e;
	int entries = 0;

	start(f, NULL);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The private directory it was made in is gone. */
	d = opendir(f->dir);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			entries++;
	closedir(d);
	assert_int_equal(entries, 1);
	http_server_stop(f->s);
	f->s = NULL;
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_second_server_refused(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	struct http_server *s2;
	char *body;
	int status;

	start(f, NULL);
	s2 = http_server_start(f->path, handler, &f->t, &err);
	assert_null(s2);
	assert_non_null(strstr(err.msg, "another process listens on"));
	assert_non_null(strstr(err.msg, f->path));
	assert_int_equal(http_client_call(f->path, "GET", "/still", NULL, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 200);
	free(body);
}

static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct rv_err err = { "" };
	char *body;
	int status, fd;

	set_sun(&a, f->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);                       /* left behind, as after a crash */
	assert_int_equal(http_client_call(f->path, "GET", "/", NULL, TMO,
					  &status, &body, &err), -1);
	assert_non_null(strstr(err.msg, "no ringvm listens on"));
	start(f, NULL);
	assert_int_equal(http_client_call(f->path, "GET", "/", NULL, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 200);
	free(body);
}

static void test_not_a_socket_refused(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char buf[32] = "", link[160];
	char *body;
	int status, fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_null(http_server_start(f->path, handler, &f->t, &err));
	assert_non_null(strstr(err.msg, "not a socket"));
	fd = open(f->path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_string_equal(buf, "precious");
	assert_int_equal(http_client_call(f->path, "GET", "/", NULL, TMO,
					  &status, &body, &err), -1);
	assert_non_null(strstr(err.msg, "not a socket"));

	/* A symlink (even to nothing) is not replaced either. */
	snprintf(link, sizeof(link), "%s/link.sock", f->dir);
	assert_int_equal(symlink("/nonexistent", link), 0);
	assert_null(http_server_start(link, handler, &f->t, &err));
	assert_non_null(strstr(err.msg, "not a socket"));
	assert_int_equal(readlink(link, buf, sizeof(buf)), 12);
	unlink(link);
}

/* stop() removes only the socket it created: not another socket that
 * took its place meanwhile. */
static void test_stop_leaves_foreign_file(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char other[160];
	struct stat st;
	int fd;

	start(f, NULL);
	snprintf(other, sizeof(other), "%s/other", f->dir);
	set_sun(&a, other);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(rename(other, f->path), 0);
	http_server_stop(f->s);
	f->s = NULL;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	close(fd);
}

static void test_path_errors(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char longp[200];
	char *body;
	int status;

	(void)f;
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "/tmp/", 5);
	longp[sizeof(longp) - 1] = '\0';
	assert_null(http_server_start(longp, handler, &f->t, &err));
	assert_non_null(strstr(err.msg, "at most 107"));
	assert_int_equal(http_client_call(longp, "GET", "/", NULL, TMO,
					  &status, &body, &err), -1);
	assert_non_null(strstr(err.msg, "at most 107"));

	assert_int_equal(http_client_call(f->path, "GET", "/", NULL, TMO,
					  &status, &body, &err), -1);
	assert_non_null(strstr(err.msg, "no API socket at"));
	assert_null(body);

	/* A directory that does not exist. */
	snprintf(longp, sizeof(longp), "%s/no/such/dir/api.sock", f->dir);
	assert_null(http_server_start(longp, handler, &f->t, &err));
	assert_true(strlen(err.msg) > 0);
}

/* A socket path that fits sun_path when the temporary one beside it would
 * not: created anyway. */
static void test_long_path(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char sub[160], *body;
	struct http_server *s;
	int status;

	snprintf(sub, sizeof(sub), "%s/", f->dir);
	memset(sub + strlen(sub), 'd', 100 - strlen(sub));
	sub[100] = '\0';
	assert_int_equal(mkdir(sub, 0700), 0);
	strcat(sub, "/s");                   /* 102 bytes of 107 */
	s = http_server_start(sub, handler, &f->t, &err);
	if (!s)
		fail_msg("%s", err.msg);
	assert_int_equal(http_client_call(sub, "GET", "/long", NULL, TMO,
					  &status, &body, &err), 0);
	assert_int_equal(status, 200);
	free(body);
	http_server_stop(s);
	assert_int_equal(access(sub, F_OK), -1);
	sub[100] = '\0';
	assert_int_equal(rmdir(sub), 0);     /* nothing left inside */
}

/* ---- client errors ---- */

struct fake {
	int lfd;
	const char *reply;
};

static void *fake_server(void *p)
{
	struct fake *fk = p;
	char buf[4096];
	int fd = accept(fk->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	(void)!recv(fd, buf, sizeof(buf), 0);
	if (fk->reply)
		(void)!send(fd, fk->reply, strlen(fk->reply), MSG_NOSIGNAL);
	else
		sleep_ms(600);
	close(fd);
	return NULL;
}

static void test_client_errors(void **state)
{
	static const struct {
		const char *reply;
		const char *err;
	} cases[] = {
		{ "garbage\r\n\r\n", "malformed reply" },
		{ "HTTP/1.1 2000 OK\r\n\r\n", "malformed reply" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		  "before a complete reply" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		  "malformed reply" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "malformed reply" },
		{ NULL, "timed out" },
	};
	struct fx *f = *state;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct rv_err err = { "" };
	char *body;
	int status;

	set_sun(&a, f->path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake fk = { .reply = cases[i].reply };
		pthread_t th;
		int64_t t0;

		fk.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		unlink(f->path);
		assert_int_equal(bind(fk.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(fk.lfd, 1), 0);
		pthread_create(&th, NULL, fake_server, &fk);
		t0 = now_ms();
		assert_int_equal(http_client_call(f->path, "GET", "/", NULL, 200,
						  &status, &body, &err), -1);
		if (!strstr(err.msg, cases[i].err))
			fail_msg("case %zu: %s", i, err.msg);
		assert_true(now_ms() - t0 < 500);
		pthread_join(th, NULL);
		close(fk.lfd);
	}
	/* A reply without Content-Length ends with the connection; a 100
	 * before the final reply is skipped. */
	{
		struct fake fk = {
			.reply = "HTTP/1.1 100 Continue\r\n\r\n"
				 "HTTP/1.1 404 Not Found\r\n\r\n{\"x\":1}",
		};
		pthread_t th;

		fk.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		unlink(f->path);
		assert_int_equal(bind(fk.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(fk.lfd, 1), 0);
		pthread_create(&th, NULL, fake_server, &fk);
		assert_int_equal(http_client_call(f->path, "GET", "/", NULL, TMO,
						  &status, &body, &err), 0);
		assert_int_equal(status, 404);
		assert_string_equal(body, "{\"x\":1}");
		free(body);
		pthread_join(th, NULL);
		close(fk.lfd);
	}
	assert_int_equal(http_client_call(f->path, "GET", "no slash", NULL,
					  TMO, &status, &body, &err), -1);
	assert_non_null(strstr(err.msg, "invalid HTTP request line"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_basic),
		T(test_keep_alive),
		T(test_pipelined),
		T(test_byte_at_a_time),
		T(test_expect_continue),
		T(test_bad_requests),
		T(test_oversized_body),
		T(test_request_timeout),
		T(test_idle_timeout),
		T(test_slow_reader),
		T(test_disconnects),
		T(test_many_clients),
		T(test_slow_handler_does_not_block),
		T(test_handler_limit),
		T(test_connection_limit),
		T(test_stop_while_handling),
		T(test_stop_bounded_by_send_timeout),
		T(test_socket_file),
		T(test_second_server_refused),
		T(test_stale_socket_replaced),
		T(test_not_a_socket_refused),
		T(test_stop_leaves_foreign_file),
		T(test_path_errors),
		T(test_long_path),
		T(test_client_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
