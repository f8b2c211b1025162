/* virtio-console (virtio 1.2, section 5.3), one port: the guest's hvc0. */
#ifndef RINGVM_VIRTIO_CONSOLE_H
#define RINGVM_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "util/err.h"
#include "virtio/virtio_pci.h"

struct virtio_console;

/* out_fd: where the guest's output goes (-1: discarded); log_fd: a copy. */
struct virtio_console *virtio_console_new(int out_fd, int log_fd,
					  const struct guest_mem *mem,
					  struct msix_sink sink,
					  struct rv_err *err);
void virtio_console_free(struct virtio_console *c);
struct ev_loop;
struct virtio_pci *virtio_console_transport(struct virtio_console *c);
/* The I/O thread serving the device (its seccomp filter: vm/sandbox.h). */
struct ev_loop *virtio_console_loop(struct virtio_console *c);

/* Host input for the guest (from the main thread's stdin reader). Queues up
 * to an internal limit and returns how much it took; the device's I/O
 * thread delivers it when the guest posts receive buffers. */
size_t virtio_console_input(struct virtio_console *c, const uint8_t *buf,
			    size_t n);
void virtio_console_print_stats(struct virtio_console *c, const char *prefix,
				FILE *out);
/* Snapshot: "<name>.console" (config space) and "<name>.virtio". */
void virtio_console_save(struct virtio_console *c, struct state_writer *w,
			 const char *name);
int virtio_console_load(struct virtio_console *c,
			const struct state_reader *r, const char *name,
			struct rv_err *err);

#endif
