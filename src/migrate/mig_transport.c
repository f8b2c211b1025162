/* Migration transports: Unix and TCP stream sockets (mig_transport.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "migrate/mig_transport.h"

struct mig_url {
	bool unix_sock;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char host[64];
	uint16_t port;
};

static int parse(const char *url, struct mig_url *u, struct rv_err *err)
{
	memset(u, 0, sizeof(*u));
	if (!strncmp(url, "unix:", 5)) {
		const char *p = url + 5;

		if (!*p)
			return rv_fail(err, "migration address '%s': no socket path", url);
		if (strlen(p) >= sizeof(u->path))
			return rv_fail(err, "migration address '%s': the socket path is longer than %zu bytes",
				       url, sizeof(u->path) - 1);
		u->unix_sock = true;
		strcpy(u->path, p);
		return 0;
	}
	if (!strncmp(url, "tcp:", 4)) {
		const char *h = url + 4, *colon, *end;
		char *tail;
		unsigned long port;
		size_t hl;

		if (*h == '[') {
			end = strchr(h, ']');
			if (!end || end[1] != ':')
				return rv_fail(err, "migration address '%s': expected tcp:[IPV6]:PORT", url);
			h++;
			hl = (size_t)(end - h);
			colon = end + 1;
		} else {
			colon = strrchr(h, ':');
			if (!colon)
				return rv_fail(err, "migration address '%s': expected tcp:HOST:PORT", url);
			hl = (size_t)(colon - h);
		}
		if (hl >= sizeof(u->host))
			return rv_fail(err, "migration address '%s': host too long", url);
		memcpy(u->host, h, hl);
		errno = 0;
		port = strtoul(colon + 1, &tail, 10);
		if (errno || *tail || colon[1] < '0' || colon[1] > '9' ||
		    port == 0 || port > 65535)
			return rv_fail(err, "migration address '%s': port must be 1 to 65535", url);
		u->port = (uint16_t)port;
		return 0;
	}
	return rv_fail(err, "migration address '%s': expected unix:PATH or tcp:HOST:PORT", url);
}

/* A numeric address only: ringvm is linked statically, and glibc's name
 * resolution would need its shared NSS modules at run time. An empty
 * host (listening) means every IPv4 address. */
static int sockaddr_of(const struct mig_url *u, struct sockaddr_storage *ss,
		       socklen_t *len, const char *url, struct rv_err *err)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (u->unix_sock) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, u->path);
		*len = sizeof(*un);
		return 0;
	}
	if (!u->host[0] || inet_pton(AF_INET, u->host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(u->port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, u->host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(u->port);
		*len = sizeof(*a6);
		return 0;
	}
	return rv_fail(err, "migration address '%s': '%s' is not an IPv4 or IPv6 address (names are not resolved)",
		       url, u->host);
}

int mig_url_check(const char *url, struct rv_err *err)
{
	struct sockaddr_storage ss;
	struct mig_url u;
	socklen_t sl;

	if (parse(url, &u, err) < 0)
		return -1;
	return sockaddr_of(&u, &ss, &sl, url, err);
}

static void tcp_tune(int fd)
{
	int one = 1;

	/* ACKs and the last record before one must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A socket file nobody listens on any more (a destination that was
 * killed): replaced. A live one, or another kind of file, is not. */
static bool stale_socket(const struct sockaddr_storage *ss, socklen_t sl)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
	struct stat st;
	bool stale;
	int fd;

	/* connect() says ECONNREFUSED for a regular file too. */
	if (lstat(un->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		errno = EADDRINUSE;
		return false;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)ss, sl) < 0 &&
		errno == ECONNREFUSED;
	close(fd);
	errno = EADDRINUSE;
	return stale;
}

int mig_listen(const char *url, struct rv_err *err)
{
	struct sockaddr_storage ss;
	struct mig_url u;
	socklen_t sl;
	int fd, one = 1;

	if (parse(url, &u, err) < 0 || sockaddr_of(&u, &ss, &sl, url, err) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rv_fail_errno(err, "socket");
	if (!u.unix_sock)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 &&
	    !(u.unix_sock && errno == EADDRINUSE && stale_socket(&ss, sl) &&
	      unlink(u.path) == 0 &&
	      bind(fd, (struct sockaddr *)&ss, sl) == 0)) {
		rv_fail_errno(err, "cannot listen on %s", url);
		close(fd);
		return -1;
	}
	if (listen(fd, 1) < 0) {
		rv_fail_errno(err, "cannot listen on %s", url);
		mig_unlisten(url, fd);
		return -1;
	}
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection that ends before its first byte is no source (a source
 * sends its header at once): another ringvm's stale_socket probe of this
 * live socket, or a port scan. A silent one is left to the stream's own
 * timeout. */
static bool hung_up_unheard(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&p, 1, 1000) <= 0)
		return false;
	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

int mig_accept(int listen_fd, int timeout_ms, struct rv_err *err)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	struct sockaddr_storage ss;
	int64_t end = now_ms() + timeout_ms;
	socklen_t sl;
	int rc, fd;

	for (;;) {
		do
			rc = poll(&p, 1, timeout_ms < 0 ? -1 :
				  end > now_ms() ? (int)(end - now_ms()) : 0);
		while (rc < 0 && errno == EINTR);
		if (rc < 0)
			return rv_fail_errno(err, "waiting for the migration source");
		if (rc == 0)
			return rv_fail(err, "no migration source connected within %d ms",
				       timeout_ms);
		sl = sizeof(ss);
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl,
			     SOCK_CLOEXEC);
		if (fd < 0)
			return rv_fail_errno(err, "accepting the migration source");
		if (!hung_up_unheard(fd))
			break;
		close(fd);
	}
	if (ss.ss_family != AF_UNIX)
		tcp_tune(fd);
	return fd;
}

void mig_unlisten(const char *url, int listen_fd)
{
	struct mig_url u;
	struct rv_err err;

	if (listen_fd >= 0)
		close(listen_fd);
	if (parse(url, &u, &err) == 0 && u.unix_sock)
		unlink(u.path);
}

/* connect() bounded by timeout_ms: non-blocking, then poll. */
static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len,
			   int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL), rc, so_err = 0;
	socklen_t sl = sizeof(so_err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	rc = connect(fd, sa, len);
	if (rc < 0 && errno == EINPROGRESS) {
		do
			rc = poll(&p, 1, timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			rc = -1;
		} else if (rc > 0) {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &sl);
			errno = so_err;
			rc = so_err ? -1 : 0;
		}
	}
	fcntl(fd, F_SETFL, fl);
	return rc;
}

int mig_connect(const char *url, int timeout_ms, struct rv_err *err)
{
	struct sockaddr_storage ss;
	struct mig_url u;
	socklen_t sl;
	int fd;

	if (parse(url, &u, err) < 0)
		return -1;
	/* Empty means "every address" to a listener, nothing to a source. */
	if (!u.unix_sock && !u.host[0])
		return rv_fail(err, "migration address '%s': the destination needs an address", url);
	if (sockaddr_of(&u, &ss, &sl, url, err) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rv_fail_errno(err, "socket");
	if (connect_bounded(fd, (struct sockaddr *)&ss, sl, timeout_ms) < 0) {
		rv_fail_errno(err, "cannot reach the destination at %s", url);
		close(fd);
		return -1;
	}
	if (!u.unix_sock)
		tcp_tune(fd);
	return fd;
}
