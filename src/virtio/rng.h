/* virtio-rng (virtio 1.2, section 5.4): entropy from getrandom(2). */
#ifndef RINGVM_VIRTIO_RNG_H
#define RINGVM_VIRTIO_RNG_H

#include <stdio.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "util/err.h"
#include "virtio/virtio_pci.h"

struct virtio_rng;

struct virtio_rng *virtio_rng_new(const struct guest_mem *mem,
				  struct msix_sink sink, struct rv_err *err);
void virtio_rng_free(struct virtio_rng *r);
struct ev_loop;
struct virtio_pci *virtio_rng_transport(struct virtio_rng *r);
/* The I/O thread serving the device (its seccomp filter: vm/sandbox.h). */
struct ev_loop *virtio_rng_loop(struct virtio_rng *r);
void virtio_rng_print_stats(struct virtio_rng *r, const char *prefix, FILE *out);
/* Snapshot: "<name>.rng" (empty: no state of its own) and "<name>.virtio". */
void virtio_rng_save(struct virtio_rng *r, struct state_writer *w,
		     const char *name);
int virtio_rng_load(struct virtio_rng *r, const struct state_reader *rd,
		    const char *name, struct rv_err *err);

#endif
