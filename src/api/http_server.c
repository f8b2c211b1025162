#include "api/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/sigmask.h"

#define EV_BATCH        32
#define LISTEN_BACKLOG  128
#define IN_FIRST        4096
#define ACCEPT_PAUSE_MS 100    /* out of fds: retry accept() after this */
#define CONTINUE_LINE   "HTTP/1.1 100 Continue\r\n\r\n"

struct conn {
	struct http_server *s;
	int fd;                 /* -1 once closed */
	uint32_t events;        /* as registered with epoll */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	bool busy;              /* a handler runs for its request */
	bool closing;           /* take no more requests, close once sent */
	bool peer_eof;          /* the client will send nothing more */
	bool sent_continue;     /* for the request at the start of in */
	int64_t req_start;      /* ms: first byte of an incomplete request */
	int64_t send_start;     /* ms: output blocked since; 0: not blocked */
	int64_t idle_since;     /* ms: last I/O */
	struct conn *prev, *next;
};

/* One request in flight: its own copy of the request, so the connection's
 * buffer may move on, and the conn it answers (kept allocated, closed or
 * not, until the job is reaped). */
struct job {
	struct http_server *s;
	struct conn *c;
	pthread_t thread;
	struct http_request req;
	char *body;
	struct http_reply reply;
	struct job *next;
};

struct http_server {
	struct http_server_opts o;
	http_handler_fn fn;
	void *ctx;
	char *path;
	dev_t dev;              /* the socket file this server created */
	ino_t ino;
	int lfd, epfd, wakefd;
	pthread_t thread;
	pthread_mutex_t lock;   /* stop, done, running */
	bool stop;
	struct job *done;       /* finished, waiting to be reaped */
	unsigned int running;   /* handlers not yet returned */
	/* Server thread only: */
	unsigned int jobs;      /* handler threads not yet joined */
	struct conn *conns;
	unsigned int nconns;
	struct conn *grave;     /* closed in this batch, freed after it */
	int64_t accept_resume;  /* ms, 0: accepting */
};

void http_server_default_opts(struct http_server_opts *o)
{
	*o = (struct http_server_opts){
		.max_conns = 64,
		.max_handlers = 16,
		.request_timeout_ms = 10000,
		.idle_timeout_ms = 60000,
		.send_timeout_ms = 10000,
		.out_max = 128 * 1024,
	};
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* +1: 0 means "no deadline" in struct conn. */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static size_t out_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	struct http_server *s = c->s;

	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->out_len = c->out_off = 0;
	if (!c->busy) {
		c->next = s->grave;
		s->grave = c;
	}
}

static int out_reserve(struct conn *c, size_t need)
{
	char *p;
	size_t cap;

	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len >= need)
		return 0;
	cap = c->out_len + need;
	if (cap < 2 * c->out_cap)
		cap = 2 * c->out_cap;
	p = realloc(c->out, cap);
	if (!p)
		return -1;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Queues a response; keep_alive false ends the connection after it. */
static void queue_reply(struct conn *c, const struct http_request *req,
			int status, const char *body, size_t len,
			bool keep_alive)
{
	size_t n;

	if (status < 200 || status > 599) {
		status = 500;
		body = NULL;
		len = 0;
	}
	if (!keep_alive)
		c->closing = true;
	if (out_reserve(c, HTTP_HEAD_MAX + len) < 0) {
		c->closing = true;  /* out of memory: drop the client */
		c->out_off = c->out_len = 0;
		return;
	}
	n = http_format_response(c->out + c->out_len, c->out_cap - c->out_len,
				 status, body, len, req, keep_alive);
	c->out_len += n;
}

/* A reply of the server's own: {"fault_message": msg}. */
static void queue_fault(struct conn *c, const struct http_request *req,
			int status, const char *msg, bool keep_alive)
{
	struct json_object *o = json_object_new_object();
	const char *body = NULL;

	if (o) {
		json_object_object_add(o, "fault_message",
				       json_object_new_string(msg));
		body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	}
	queue_reply(c, req, status, body, body ? strlen(body) : 0, keep_alive);
	json_object_put(o);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct http_server *s = j->s;
	uint64_t one = 1;

	s->fn(s->ctx, &j->req, &j->reply);
	pthread_mutex_lock(&s->lock);
	s->running--;
	j->next = s->done;
	s->done = j;
	pthread_mutex_unlock(&s->lock);
	/* Cannot fail short of a counter overflow; the job is queued anyway
	 * and the next wake-up reaps it. */
	(void)!write(s->wakefd, &one, sizeof(one));
	return NULL;
}

/* Starts the handler for req (whose body points into c->in), or answers
 * 503 when too many run already. */
static void dispatch(struct conn *c, const struct http_request *req)
{
	struct http_server *s = c->s;
	struct job *j;
	bool full;

	pthread_mutex_lock(&s->lock);
	full = s->running >= s->o.max_handlers;
	if (!full)
		s->running++;
	pthread_mutex_unlock(&s->lock);
	if (full) {
		queue_fault(c, req, 503, "too many requests in flight; retry",
			    req->keep_alive && !c->peer_eof);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j)
		j->body = malloc(req->body_len + 1);
	if (j && j->body) {
		j->s = s;
		j->c = c;
		j->req = *req;
		memcpy(j->body, req->body, req->body_len);
		j->body[req->body_len] = '\0';
		j->req.body = j->body;
		if (pthread_create(&j->thread, NULL, worker, j) == 0) {
			c->busy = true;
			s->jobs++;
			return;
		}
	}
	if (j)
		free(j->body);
	free(j);
	pthread_mutex_lock(&s->lock);
	s->running--;
	pthread_mutex_unlock(&s->lock);
	queue_fault(c, req, 503, "cannot start a handler thread; retry",
		    req->keep_alive && !c->peer_eof);
}

/* Takes requests from the input buffer while nothing holds them back.
 * True if it stopped only because too many reply bytes wait to be sent. */
static bool process_input(struct conn *c, int64_t now)
{
	while (!c->busy && !c->closing) {
		struct http_request req;
		struct http_parse_error e;
		size_t used;

		if (out_pending(c) >= c->s->o.out_max)
			return true;
		switch (http_parse_request(c->in, c->in_len, &req, &used, &e)) {
		case HTTP_PARSE_INCOMPLETE:
			if (!c->in_len) {
				c->req_start = 0;
				return false;
			}
			if (!c->req_start)
				c->req_start = now;
			if (req.expect_continue && !c->sent_continue &&
			    out_reserve(c, sizeof(CONTINUE_LINE)) == 0) {
				memcpy(c->out + c->out_len, CONTINUE_LINE,
				       sizeof(CONTINUE_LINE) - 1);
				c->out_len += sizeof(CONTINUE_LINE) - 1;
				c->sent_continue = true;
			}
			return false;
		case HTTP_PARSE_ERROR:
			queue_fault(c, NULL, e.status, e.msg, false);
			return false;
		case HTTP_PARSE_DONE:
			c->req_start = 0;
			c->sent_continue = false;
			dispatch(c, &req);
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			break;
		}
	}
	return false;
}

/* Sends what it can; false if the connection was closed. */
static bool flush_out(struct conn *c, int64_t now)
{
	while (out_pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->idle_since = now;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->send_start)
				c->send_start = now;
			return true;
		}
		conn_close(c);     /* EPIPE, ECONNRESET: the client is gone */
		return false;
	}
	c->out_off = c->out_len = 0;
	c->send_start = 0;
	return true;
}

/* Brings a connection up to date after anything happened to it:
 * dispatches, sends, closes when done, and sets what epoll watches. */
static void conn_settle(struct conn *c, int64_t now)
{
	struct epoll_event ev = { .data.ptr = c };
	uint32_t want = 0;
	bool held;

	if (c->fd < 0)
		return;
	/* Requests held back by a full output buffer go on once it drains. */
	do {
		held = process_input(c, now);
		if (!flush_out(c, now))
			return;
	} while (held && out_pending(c) < c->s->o.out_max);
	if (!c->busy && !out_pending(c) && (c->closing || c->peer_eof)) {
		conn_close(c);
		return;
	}
	if (!c->closing && !c->peer_eof && c->in_len < HTTP_MAX_REQUEST)
		want |= EPOLLIN;
	if (out_pending(c))
		want |= EPOLLOUT;
	if (want != c->events) {
		ev.events = want;
		if (epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
			c->events = want;
	}
}

static void conn_read(struct conn *c, int64_t now)
{
	ssize_t n;

	if (c->in_cap - c->in_len < IN_FIRST && c->in_cap < HTTP_MAX_REQUEST) {
		size_t cap = c->in_cap ? 2 * c->in_cap : IN_FIRST;
		char *p;

		if (cap > HTTP_MAX_REQUEST)
			cap = HTTP_MAX_REQUEST;
		p = realloc(c->in, cap);
		if (!p) {
			conn_close(c);
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	if (c->in_len == c->in_cap)
		return;
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
		 MSG_DONTWAIT);
	if (n > 0) {
		c->in_len += (size_t)n;
		c->idle_since = now;
	} else if (n == 0) {
		c->peer_eof = true;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_close(c);
	}
}

static void conn_event(struct conn *c, uint32_t events, int64_t now)
{
	if (c->fd < 0)
		return;
	/* HUP: both directions are shut, nobody will read a reply. */
	if (events & (EPOLLHUP | EPOLLERR)) {
		conn_close(c);
		return;
	}
	if (events & EPOLLIN) {
		conn_read(c, now);
		if (c->fd < 0)
			return;
	}
	conn_settle(c, now);
}

static void accept_all(struct http_server *s, int64_t now)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;
		int fd = accept4(s->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The backlog stays readable: stop watching it
				 * for a while instead of spinning. */
				ev.events = 0;
				ev.data.ptr = s;
				epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
				s->accept_resume = now + ACCEPT_PAUSE_MS;
			}
			return;
		}
		if (s->nconns >= s->o.max_conns ||
		    !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		*c = (struct conn){ .s = s, .fd = fd, .events = EPOLLIN,
				    .idle_since = now, .next = s->conns };
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
	}
}

/* ---- handler completions ---- */

static void reap_jobs(struct http_server *s, int64_t now)
{
	struct job *j;

	pthread_mutex_lock(&s->lock);
	j = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	while (j) {
		struct job *next = j->next;
		struct conn *c = j->c;

		pthread_join(j->thread, NULL);
		s->jobs--;
		c->busy = false;
		if (c->fd < 0) {
			c->next = s->grave;   /* the client left meanwhile */
			s->grave = c;
		} else {
			queue_reply(c, &j->req, j->reply.status,
				    j->reply.body, j->reply.body_len,
				    j->req.keep_alive && !c->peer_eof &&
				    !c->closing);
			conn_settle(c, now);
		}
		free(j->reply.body);
		free(j->body);
		free(j);
		j = next;
	}
}

/* ---- timeouts ---- */

static int64_t conn_deadline(const struct conn *c)
{
	const struct http_server_opts *o = &c->s->o;

	if (out_pending(c) && c->send_start)
		return c->send_start + o->send_timeout_ms;
	if (c->busy || c->closing)
		return INT64_MAX;
	if (c->req_start)
		return c->req_start + o->request_timeout_ms;
	if (!c->in_len && !out_pending(c))
		return c->idle_since + o->idle_timeout_ms;
	return INT64_MAX;
}

static void check_timeouts(struct http_server *s, int64_t now)
{
	struct conn *next;
	char msg[80];

	for (struct conn *c = s->conns; c; c = next) {
		next = c->next;
		if (now < conn_deadline(c))
			continue;
		if (c->req_start && !c->busy && !c->closing &&
		    !(out_pending(c) && c->send_start)) {
			snprintf(msg, sizeof(msg),
				 "request not complete after %d ms",
				 s->o.request_timeout_ms);
			c->req_start = 0;
			queue_fault(c, NULL, 408, msg, false);
			conn_settle(c, now);
		} else {
			conn_close(c);
		}
	}
	if (s->accept_resume && now >= s->accept_resume) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

		s->accept_resume = 0;
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
	}
}

static int next_timeout(const struct http_server *s, int64_t now)
{
	int64_t first = INT64_MAX;

	for (const struct conn *c = s->conns; c; c = c->next) {
		int64_t d = conn_deadline(c);

		if (d < first)
			first = d;
	}
	if (s->accept_resume && s->accept_resume < first)
		first = s->accept_resume;
	if (first == INT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	return first - now > INT_MAX ? INT_MAX : (int)(first - now);
}

/* ---- the server thread ---- */

static bool stop_requested(struct http_server *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void bury(struct http_server *s)
{
	while (s->grave) {
		struct conn *c = s->grave;

		s->grave = c->next;
		free(c);
	}
}

static void drain_wakefd(struct http_server *s)
{
	uint64_t v;

	(void)!read(s->wakefd, &v, sizeof(v));
}

/* Stops taking requests, lets the handlers still running finish and
 * sends every reply queued (a migration's answer comes as the VM ends),
 * each connection bounded by the send timeout, then closes them all. */
static void shut_down(struct http_server *s)
{
	struct epoll_event ev[EV_BATCH];
	int64_t now = now_ms();

	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	s->lfd = -1;
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		c->closing = true;
		conn_settle(c, now);
	}
	while (s->jobs || s->conns) {
		int t = s->jobs ? -1 : next_timeout(s, now), n;

		/* No handler left and no reply with a deadline: done. */
		if (t < 0 && !s->jobs)
			break;
		n = epoll_wait(s->epfd, ev, EV_BATCH, t);
		now = now_ms();
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (!p) {
				drain_wakefd(s);
				reap_jobs(s, now);
			} else if (p != s) {
				conn_event(p, ev[i].events, now);
			}
		}
		check_timeouts(s, now);
		bury(s);
	}
	while (s->conns)
		conn_close(s->conns);
	bury(s);
}

static void *server_thread(void *arg)
{
	struct http_server *s = arg;
	struct epoll_event ev[EV_BATCH];

	while (!stop_requested(s)) {
		int64_t now = now_ms();
		int n = epoll_wait(s->epfd, ev, EV_BATCH, next_timeout(s, now));

		now = now_ms();
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (!p) {
				drain_wakefd(s);
				reap_jobs(s, now);
			} else if (p == s) {
				accept_all(s, now);
			} else {
				conn_event(p, ev[i].events, now);
			}
		}
		check_timeouts(s, now);
		bury(s);
	}
	shut_down(s);
	return NULL;
}

/* ---- the socket file ---- */

static int set_addr(struct sockaddr_un *a, const char *path,
		    struct rv_err *err)
{
	size_t n = strlen(path);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n >= sizeof(a->sun_path))
		return rv_fail(err, "API socket path %s is %zu bytes long; a "
			       "Unix socket path has at most %zu", path, n,
			       sizeof(a->sun_path) - 1);
	memcpy(a->sun_path, path, n + 1);
	return 0;
}

/* Whatever is at path may be replaced only if it is a socket nobody
 * listens on. */
static int clear_path(const char *path, struct rv_err *err)
{
	struct sockaddr_un a;
	struct stat st, again;
	int fd, rc, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return rv_fail_errno(err, "cannot check API socket path %s",
				     path);
	}
	if (!S_ISSOCK(st.st_mode))
		return rv_fail(err, "%s exists and is not a socket; not "
			       "replacing it", path);
	if (set_addr(&a, path, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rv_fail_errno(err, "socket");
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return rv_fail(err, "another process listens on %s", path);
	if (e != ECONNREFUSED) {
		errno = e;
		return rv_fail_errno(err, "cannot check API socket %s", path);
	}
	/* Stale. Only the file just looked at is removed. */
	if (lstat(path, &again) == 0 &&
	    (again.st_dev != st.st_dev || again.st_ino != st.st_ino))
		return rv_fail(err, "%s changed while being checked", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return rv_fail_errno(err, "cannot remove stale socket %s", path);
	return 0;
}

/* Moves the finished socket into place without replacing anything that
 * appeared there meanwhile. */
static int move_into_place(const char *tmp, const char *path,
			   struct rv_err *err)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL) {   /* a file system without NOREPLACE */
		if (link(tmp, path) == 0) {
			unlink(tmp);
			return 0;
		}
	}
	if (errno == EEXIST)
		return rv_fail(err, "%s appeared while the API socket was "
			       "being created; not replacing it", path);
	return rv_fail_errno(err, "cannot move API socket to %s", path);
}

static int bind_private(struct http_server *s, const char *path,
			struct rv_err *err)
{
	const char *slash = strrchr(path, '/');
	struct sockaddr_un a;
	char dir[PATH_MAX], sock[PATH_MAX + 8];
	struct stat st;
	int fd = -1, dfd = -1;

	if (!slash)
		snprintf(dir, sizeof(dir), "./.ringvm-api-XXXXXX");
	else if ((size_t)(slash - path) + 20 > sizeof(dir))
		return rv_fail(err, "API socket path too long: %s", path);
	else
		snprintf(dir, sizeof(dir), "%.*s/.ringvm-api-XXXXXX",
			 (int)(slash - path), path);
	if (!mkdtemp(dir))
		return rv_fail_errno(err, "cannot create a private directory "
				     "beside %s", path);
	snprintf(sock, sizeof(sock), "%s/s", dir);
	/* The temporary name may be longer than sun_path allows even when
	 * the final one fits: then bind through a descriptor of the dir. */
	if (strlen(sock) >= sizeof(a.sun_path)) {
		char via[64];

		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			rv_fail_errno(err, "cannot open %s", dir);
			goto fail;
		}
		snprintf(via, sizeof(via), "/proc/self/fd/%d/s", dfd);
		set_addr(&a, via, NULL);
	} else {
		set_addr(&a, sock, NULL);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rv_fail_errno(err, "socket");
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rv_fail_errno(err, "cannot bind API socket beside %s", path);
		goto fail;
	}
	if (chmod(sock, 0600) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
	    lstat(sock, &st) < 0) {
		rv_fail_errno(err, "cannot set up API socket %s", path);
		goto fail;
	}
	if (move_into_place(sock, path, err) < 0)
		goto fail;
	rmdir(dir);
	if (dfd >= 0)
		close(dfd);
	s->lfd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	unlink(sock);
	rmdir(dir);
	return -1;
}

static void remove_socket_file(const struct http_server *s)
{
	struct stat st;

	if (lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
}

/* ---- start and stop ---- */

struct http_server *http_server_start_opts(const char *path,
					   const struct http_server_opts *o,
					   http_handler_fn fn, void *ctx,
					   struct rv_err *err)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_un a;
	sigset_t all, old;
	int rc;

	if (!s) {
		rv_fail(err, "out of memory for the API server");
		return NULL;
	}
	s->o = *o;
	s->fn = fn;
	s->ctx = ctx;
	s->lfd = s->epfd = s->wakefd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->path = strdup(path);
	if (!s->path) {
		rv_fail(err, "out of memory for the API server");
		goto fail;
	}
	if (set_addr(&a, path, err) < 0 || clear_path(path, err) < 0 ||
	    bind_private(s, path, err) < 0)
		goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->wakefd < 0) {
		rv_fail_errno(err, "cannot create the API server's epoll");
		goto fail_file;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0)
		goto fail_epoll;
	ev.data.ptr = s;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0)
		goto fail_epoll;
	/* Created with every signal blocked: the thread (and the handler
	 * threads it starts) never takes one meant for the main thread. */
	sigfill_but_sigsys(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, server_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		rv_fail_errno(err, "cannot start the API server thread");
		goto fail_file;
	}
	return s;
fail_epoll:
	rv_fail_errno(err, "epoll_ctl");
fail_file:
	remove_socket_file(s);
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
	return NULL;
}

struct http_server *http_server_start(const char *path, http_handler_fn fn,
				      void *ctx, struct rv_err *err)
{
	struct http_server_opts o;

	http_server_default_opts(&o);
	return http_server_start_opts(path, &o, fn, ctx, err);
}

void http_server_stop(struct http_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	(void)!write(s->wakefd, &one, sizeof(one));
	pthread_join(s->thread, NULL);
	remove_socket_file(s);
	close(s->epfd);
	close(s->wakefd);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}
