/* A one-shot HTTP/1.1 client over a Unix socket, for ringvm's own CLI
 * subcommands that talk to a running VM (ringvm pause --api-sock ...) and
 * for tests. */
#ifndef RINGVM_API_HTTP_CLIENT_H
#define RINGVM_API_HTTP_CLIENT_H

#include "util/err.h"

/* Sends one request (body may be NULL; otherwise JSON, sent with
 * Content-Type: application/json) over a new connection to the Unix
 * socket at path, and reads the reply. *status: its status code;
 * *resp_body: its body, malloc'ed and NUL-terminated ("" for none).
 * timeout_ms bounds the whole exchange. Fails with one line naming the
 * problem: no socket at path, nobody listening (a stale socket), a file
 * that is not a socket, a timeout, a connection closed early, a malformed
 * reply. */
int http_client_call(const char *path, const char *method, const char *target,
		     const char *body, int timeout_ms, int *status,
		     char **resp_body, struct rv_err *err);

#endif
