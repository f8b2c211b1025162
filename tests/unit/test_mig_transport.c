/* Migration transports (migrate/mig_transport.h): the URL syntax with
 * every refusal a user can type, listen/connect/accept over Unix sockets
 * in a temporary directory and TCP on 127.0.0.1 (and ::1 when the host
 * has it), the accept timeout, a destination nobody runs, and the rules
 * for the socket file: a stale one is replaced, a live one or any other
 * file never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "migrate/mig_stream.h"
#include "migrate/mig_transport.h"

#define TMO 5000   /* ms: long enough never to matter when all is well */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_refused(int rc, const struct rv_err *err, const char *want)
{
	assert_int_equal(rc, -1);
	if (!strstr(err->msg, want))
		fail_msg("\"%s\" lacks \"%s\"", err->msg, want);
	assert_null(strchr(err->msg, '\n'));
}

/* ---- fixture: a temporary directory ---- */

struct fx {
	char dir[64];
	char path[128];
	char url[160];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/rv-mig-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/mig.sock", f->dir);
	snprintf(f->url, sizeof(f->url), "unix:%s", f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- URL syntax ---- */

static void test_url_accepted(void **state)
{
	static const char *const ok[] = {
		"unix:/run/ringvm/mig.sock", "unix:relative.sock", "unix:x",
		"unix:with:colons", "tcp:127.0.0.1:4444", "tcp:10.0.0.2:1",
		"tcp:0.0.0.0:65535", "tcp::4444", "tcp:[::1]:4444",
		"tcp:[fe80::1:2]:80", "tcp:[::]:7",
	};
	struct rv_err err = { "" };
	char longest[128];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (mig_url_check(ok[i], &err) < 0)
			fail_msg("%s refused: %s", ok[i], err.msg);
	/* sun_path holds 107 bytes and the NUL. */
	snprintf(longest, sizeof(longest), "unix:/%0106d", 0);
	assert_int_equal(strlen(longest), 5 + 107);
	assert_int_equal(mig_url_check(longest, &err), 0);
}

static void test_url_refused(void **state)
{
	static const struct {
		const char *url, *want;
	} bad[] = {
		{ "", "expected unix:PATH or tcp:HOST:PORT" },
		{ "unix", "expected unix:PATH or tcp:HOST:PORT" },
		{ "UNIX:/x", "expected unix:PATH or tcp:HOST:PORT" },
		{ "ssh:host:22", "expected unix:PATH or tcp:HOST:PORT" },
		{ "/run/mig.sock", "expected unix:PATH or tcp:HOST:PORT" },
		{ "unix:", "migration address 'unix:': no socket path" },
		{ "tcp:", "expected tcp:HOST:PORT" },
		{ "tcp:127.0.0.1", "'tcp:127.0.0.1': expected tcp:HOST:PORT" },
		{ "tcp:127.0.0.1:", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:0", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:65536", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:99999999999999999999", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:http", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:+1", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:-1", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1: 1", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:1 ", "port must be 1 to 65535" },
		{ "tcp:127.0.0.1:0x10", "port must be 1 to 65535" },
		{ "tcp:[::1]", "expected tcp:[IPV6]:PORT" },
		{ "tcp:[::1:4444", "expected tcp:[IPV6]:PORT" },
		{ "tcp:[::1]4444", "expected tcp:[IPV6]:PORT" },
		{ "tcp:[::1]:", "port must be 1 to 65535" },
		/* Linked statically: no NSS, so no names. */
		{ "tcp:localhost:4444", "'localhost' is not an IPv4 or IPv6 address (names are not resolved)" },
		{ "tcp:dest.example.com:4444", "names are not resolved" },
		{ "tcp:[localhost]:4444", "names are not resolved" },
		{ "tcp:127.0.0.256:4444", "names are not resolved" },
		{ "tcp:1.2.3:4444", "names are not resolved" },
	};
	struct rv_err err = { "" };
	char url[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		if (mig_url_check(bad[i].url, &err) == 0)
			fail_msg("'%s' accepted", bad[i].url);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("'%s': \"%s\" lacks \"%s\"", bad[i].url,
				 err.msg, bad[i].want);
	}
	snprintf(url, sizeof(url), "unix:/%0107d", 0);
	expect_refused(mig_url_check(url, &err), &err,
		       "the socket path is longer than 107 bytes");
	snprintf(url, sizeof(url), "tcp:%0200d:1", 0);
	expect_refused(mig_url_check(url, &err), &err, "host too long");
}

/* ---- listen, connect, accept ---- */

/* A source sends its header at once (mig_accept counts on it); then the
 * destination answers. A header each way proves the two fds are the two
 * ends of one stream. */
static int connect_accept(const char *url, int lfd, int *afd)
{
	struct rv_err err = { "" };
	struct mig_conn src;
	int cfd = mig_connect(url, TMO, &err);

	if (cfd < 0)
		fail_msg("connect %s: %s", url, err.msg);
	mig_conn_init(&src, cfd, "destination", TMO);
	assert_int_equal(mig_send_header(&src, "the-source", &err), 0);
	*afd = mig_accept(lfd, TMO, &err);
	if (*afd < 0)
		fail_msg("accept %s: %s", url, err.msg);
	return cfd;
}

static void exchange(int cfd, int afd)
{
	struct mig_conn src, dst;
	struct rv_err err = { "" };
	char v[33];

	mig_conn_init(&src, cfd, "destination", TMO);
	mig_conn_init(&dst, afd, "source", TMO);
	assert_int_equal(mig_recv_header(&dst, v, &err), 0);
	assert_string_equal(v, "the-source");
	assert_int_equal(mig_send_header(&dst, "the-destination", &err), 0);
	assert_int_equal(mig_recv_header(&src, v, &err), 0);
	assert_string_equal(v, "the-destination");
	mig_conn_close(&src);
	mig_conn_close(&dst);
}

static void test_unix_round_trip(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	struct stat st;
	int lfd, cfd, afd;

	lfd = mig_listen(f->url, &err);
	if (lfd < 0)
		fail_msg("listen: %s", err.msg);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Not inherited by what ringvm may start. */
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	cfd = connect_accept(f->url, lfd, &afd);
	assert_true(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(afd, F_GETFD) & FD_CLOEXEC);
	/* The connected fd blocks: mig_conn relies on its timeouts. */
	assert_false(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	exchange(cfd, afd);
	mig_unlisten(f->url, lfd);
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static int nodelay(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
	return v;
}

/* A port free a moment ago; the caller retries if it is taken meanwhile. */
static unsigned int free_port(int family)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t l = family == AF_INET ? sizeof(struct sockaddr_in) :
					  sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_STREAM, 0);
	unsigned int port;

	if (fd < 0)
		return 0;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss, l) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &l) < 0) {
		close(fd);
		return 0;
	}
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
			 ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

/* Listens on fmt (with %u for the port) at a free port: the fd, with the
 * URL in url; -1 if the family is not there at all. */
static int listen_free(int family, const char *fmt, const char *cfmt,
		       char *url, size_t n, char *curl, size_t cn)
{
	struct rv_err err = { "" };

	for (int tries = 0; tries < 20; tries++) {
		unsigned int port = free_port(family);
		int fd;

		if (!port)
			return -1;
		snprintf(url, n, fmt, port);
		snprintf(curl, cn, cfmt, port);
		fd = mig_listen(url, &err);
		if (fd >= 0)
			return fd;
		if (!strstr(err.msg, "Address already in use"))
			fail_msg("listen %s: %s", url, err.msg);
	}
	fail_msg("no free port");
	return -1;
}

static void test_tcp_round_trip(void **state)
{
	static const struct {
		int family;
		const char *listen, *connect;
	} t[] = {
		{ AF_INET, "tcp:127.0.0.1:%u", "tcp:127.0.0.1:%u" },
		/* Empty host: every IPv4 address. */
		{ AF_INET, "tcp::%u", "tcp:127.0.0.1:%u" },
		{ AF_INET6, "tcp:[::1]:%u", "tcp:[::1]:%u" },
	};
	char url[64], curl[64];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int lfd, cfd, afd;

		lfd = listen_free(t[i].family, t[i].listen, t[i].connect, url,
				  sizeof(url), curl, sizeof(curl));
		if (lfd < 0) {
			assert_int_equal(t[i].family, AF_INET6);
			continue;       /* no IPv6 loopback on this host */
		}
		cfd = connect_accept(curl, lfd, &afd);
		/* ACKs must not wait for Nagle: both ends. */
		assert_true(nodelay(cfd));
		assert_true(nodelay(afd));
		exchange(cfd, afd);
		mig_unlisten(url, lfd);
	}
}

static void test_accept_timeout(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	int64_t t0, ms;
	int lfd;

	lfd = mig_listen(f->url, &err);
	assert_true(lfd >= 0);
	t0 = now_ms();
	expect_refused(mig_accept(lfd, 200, &err), &err,
		       "no migration source connected within 200 ms");
	ms = now_ms() - t0;
	assert_true(ms >= 150);
	assert_true(ms < 3000);
	mig_unlisten(f->url, lfd);
}

/* Connections that end before their first byte (a port scan, another
 * ringvm probing the socket) are passed over, within the same timeout. */
static void test_accept_skips_hangups(void **state)
{
	char url[64], curl[64];
	struct rv_err err = { "" };
	int lfd, cfd, afd, silent;
	int64_t t0;

	(void)state;
	lfd = listen_free(AF_INET, "tcp:127.0.0.1:%u", "tcp:127.0.0.1:%u",
			  url, sizeof(url), curl, sizeof(curl));
	assert_true(lfd >= 0);
	for (int i = 0; i < 2; i++) {
		int scan = mig_connect(curl, TMO, &err);

		assert_true(scan >= 0);
		close(scan);
	}
	t0 = now_ms();
	expect_refused(mig_accept(lfd, 300, &err), &err,
		       "no migration source connected within 300 ms");
	assert_true(now_ms() - t0 >= 250);

	cfd = mig_connect(curl, TMO, &err);
	close(cfd);
	cfd = connect_accept(curl, lfd, &afd);
	exchange(cfd, afd);

	/* A silent one is taken after a while: the stream's timeout is
	 * what ends it, not a wait for ever here. */
	silent = mig_connect(curl, TMO, &err);
	assert_true(silent >= 0);
	t0 = now_ms();
	afd = mig_accept(lfd, TMO, &err);
	assert_true(afd >= 0);
	assert_true(now_ms() - t0 < 3000);
	close(afd);
	close(silent);
	mig_unlisten(url, lfd);
}

static void test_connect_to_nothing(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char url[64], want[200];
	unsigned int port;

	snprintf(want, sizeof(want), "cannot reach the destination at %s: ",
		 f->url);
	expect_refused(mig_connect(f->url, TMO, &err), &err, want);
	assert_non_null(strstr(err.msg, "No such file or directory"));

	port = free_port(AF_INET);
	assert_true(port > 0);
	snprintf(url, sizeof(url), "tcp:127.0.0.1:%u", port);
	snprintf(want, sizeof(want), "cannot reach the destination at %s: ",
		 url);
	expect_refused(mig_connect(url, TMO, &err), &err, want);
	assert_non_null(strstr(err.msg, "Connection refused"));

	expect_refused(mig_connect("tcp:localhost:4444", TMO, &err), &err,
		       "names are not resolved");
	expect_refused(mig_connect("unix:", TMO, &err), &err,
		       "no socket path");
}

/* A destination that was killed leaves its socket file: replaced. */
static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct rv_err err = { "" };
	int fd, lfd, cfd, afd;

	strcpy(a.sun_path, f->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
	lfd = mig_listen(f->url, &err);
	if (lfd < 0)
		fail_msg("listen over a stale socket: %s", err.msg);
	cfd = connect_accept(f->url, lfd, &afd);
	exchange(cfd, afd);
	mig_unlisten(f->url, lfd);
}

/* Another destination listening there keeps its socket and its clients. */
static void test_live_socket_kept(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	int lfd, cfd, afd;
	char want[256];

	lfd = mig_listen(f->url, &err);
	assert_true(lfd >= 0);
	snprintf(want, sizeof(want), "cannot listen on %s: Address already in use",
		 f->url);
	expect_refused(mig_listen(f->url, &err), &err, want);
	cfd = connect_accept(f->url, lfd, &afd);
	exchange(cfd, afd);
	mig_unlisten(f->url, lfd);
}

/* A path that names a file (a typo for the disk image, say) is refused,
 * and the file is left as it was. */
static void test_other_file_kept(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char buf[16] = { 0 };
	int fd;

	fd = open(f->path, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	expect_refused(mig_listen(f->url, &err), &err, "cannot listen on");
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "precious");
	close(fd);

	/* Nor a directory. */
	unlink(f->path);
	assert_int_equal(mkdir(f->path, 0700), 0);
	expect_refused(mig_listen(f->url, &err), &err, "cannot listen on");
	assert_int_equal(rmdir(f->path), 0);
}

static void test_listen_errors(void **state)
{
	struct fx *f = *state;
	struct rv_err err = { "" };
	char url[256];

	snprintf(url, sizeof(url), "unix:%s/no/such/dir/m.sock", f->dir);
	expect_refused(mig_listen(url, &err), &err,
		       "No such file or directory");
	assert_non_null(strstr(err.msg, url));
	expect_refused(mig_listen("tcp:localhost:4444", &err), &err,
		       "names are not resolved");
	expect_refused(mig_listen("tcp:127.0.0.1:0", &err), &err,
		       "port must be 1 to 65535");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_accepted),
		cmocka_unit_test(test_url_refused),
		T(test_unix_round_trip),
		cmocka_unit_test(test_tcp_round_trip),
		T(test_accept_timeout),
		cmocka_unit_test(test_accept_skips_hangups),
		T(test_connect_to_nothing),
		T(test_stale_socket_replaced),
		T(test_live_socket_kept),
		T(test_other_file_kept),
		T(test_listen_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
