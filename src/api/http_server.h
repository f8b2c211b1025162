/* An HTTP/1.1 server on a Unix socket, for the control API.
 *
 * One thread (epoll, non-blocking sockets) owns the listening socket and
 * every connection; each request runs its handler on a thread of its own,
 * so a slow handler (a snapshot) never delays another client. Requests of
 * one connection are answered in order: the next pipelined request is
 * dispatched once the previous reply is queued. Handlers may run
 * concurrently with each other and do their own locking.
 *
 * Hostile or vanishing clients cost bounded memory and time: connections,
 * handlers in flight, the time to send a request, to stay idle and to read
 * the replies are all limited (struct http_server_opts); a reply whose
 * connection is gone is dropped. Errors the server answers itself (400,
 * 408, 413, 503, ...) carry a Firecracker Error body,
 * {"fault_message": "..."}.
 *
 * The socket file is created with mode 0600 and never accessible to others
 * on the way: bound inside a fresh 0700 directory beside the target, then
 * renamed into place. An existing socket nobody listens on (connect:
 * ECONNREFUSED) is replaced; a live one, or anything that is not a socket,
 * is refused and left untouched.
 *
 * The server's threads block every signal (the main thread handles them);
 * replies go out with MSG_NOSIGNAL. */
#ifndef RINGVM_API_HTTP_SERVER_H
#define RINGVM_API_HTTP_SERVER_H

#include <stddef.h>

#include "api/http_parse.h"
#include "util/err.h"

struct http_reply {
	int status;          /* 200..599; anything else is answered 500 */
	char *body;          /* JSON, malloc'ed by the handler, or NULL;
				freed by the server */
	size_t body_len;
};

/* Runs on a worker thread. req and its strings live until it returns;
 * req->body is NUL-terminated (body_len bytes before the NUL). reply
 * arrives zeroed; a handler that leaves status 0 gets 500. */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *req,
				struct http_reply *reply);

struct http_server_opts {
	unsigned int max_conns;    /* beyond: accepted and closed at once */
	unsigned int max_handlers; /* in flight; beyond: 503 at once */
	int request_timeout_ms;    /* first byte to complete request: 408 */
	int idle_timeout_ms;       /* keep-alive connection with nothing to do */
	int send_timeout_ms;       /* queued replies must drain within it */
	size_t out_max;            /* queued reply bytes before the server
				      stops taking requests from a client */
};

/* 64 connections, 16 handlers, 10 s to send a request, 60 s idle, 10 s
 * to drain replies, 128 KiB of queued replies per connection. */
void http_server_default_opts(struct http_server_opts *o);

struct http_server;

/* Creates the socket at path, starts the server thread. */
struct http_server *http_server_start(const char *path, http_handler_fn fn,
				      void *ctx, struct rv_err *err);
/* The same with explicit limits (tests shorten the timeouts). */
struct http_server *http_server_start_opts(const char *path,
					   const struct http_server_opts *o,
					   http_handler_fn fn, void *ctx,
					   struct rv_err *err);
/* Stops accepting and reading requests, waits for running handlers and
 * sends the replies queued (each connection within the send timeout),
 * closes every connection, removes the socket file if it is still the one
 * this server created, frees s. Not from a handler. NULL is a no-op. */
void http_server_stop(struct http_server *s);

#endif
