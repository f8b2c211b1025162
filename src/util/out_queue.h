/* Output that must never block its producer: a bounded byte queue drained
 * into a file descriptor by a thread of its own. A vCPU writing the serial
 * port to a terminal, or to a pipe nobody reads, only ever copies into the
 * queue; when the queue is full the bytes are dropped and counted (a console
 * nobody reads loses output, it does not stop the guest, nor ringvm). */
#ifndef RINGVM_UTIL_OUT_QUEUE_H
#define RINGVM_UTIL_OUT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define OUT_QUEUE_DEFAULT_CAP (256u << 10)
#define OUT_QUEUE_DEFAULT_WAIT_MS 50

struct out_queue;

/* fd is not owned (not closed by out_queue_free). A producer finding the
 * queue full waits up to max_wait_ms for room (back-pressure for a slow
 * reader), but once such a wait timed out it drops without waiting until
 * the reader moves again (a reader that stopped). */
struct out_queue *out_queue_new(int fd, size_t cap, int max_wait_ms,
				const char *name, struct rv_err *err);
/* Never blocks longer than max_wait_ms. Returns the bytes queued; the rest
 * were dropped. */
size_t out_queue_write(struct out_queue *q, const void *buf, size_t len);
/* Waits up to timeout_ms for the queue to be written out; 0 when it was,
 * -1 on timeout (a reader that stopped reading). */
int out_queue_flush(struct out_queue *q, int timeout_ms);
uint64_t out_queue_dropped(const struct out_queue *q);
/* Flushes for at most a short while, then stops the thread even when it is
 * blocked in write() on a stalled reader, and frees the queue. */
void out_queue_free(struct out_queue *q);

#endif
