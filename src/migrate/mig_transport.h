/* Where a migration stream goes: "unix:PATH" (a Unix socket, for two
 * ringvm processes on one host, or a tunnel such as ssh -L) or
 * "tcp:HOST:PORT" (HOST an IPv4 address or [an IPv6 address]; empty
 * when listening: every IPv4 address).
 * The destination listens, the source connects. */
#ifndef RINGVM_MIGRATE_MIG_TRANSPORT_H
#define RINGVM_MIGRATE_MIG_TRANSPORT_H

#include "util/err.h"

/* Checks the URL as mig_listen and mig_connect read it, a numeric host
 * included (for flag parsing); opens nothing. */
int mig_url_check(const char *url, struct rv_err *err);

/* A listening socket. A Unix socket file is created; an existing one is
 * replaced only if nobody listens on it. Returns the fd or -1. */
int mig_listen(const char *url, struct rv_err *err);
/* Waits up to timeout_ms (-1: for ever) for the source, passing over a
 * connection that closes before sending a byte. Returns the connected fd
 * or -1. */
int mig_accept(int listen_fd, int timeout_ms, struct rv_err *err);
/* Removes a Unix socket file mig_listen created (nothing for TCP). */
void mig_unlisten(const char *url, int listen_fd);

/* Connects to the destination, giving up after timeout_ms. */
int mig_connect(const char *url, int timeout_ms, struct rv_err *err);

#endif
