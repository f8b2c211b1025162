/* virtio-blk (virtio 1.2, section 5.2) on a raw image file. */
#ifndef RINGVM_VIRTIO_BLK_H
#define RINGVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "state/state.h"
#include "util/err.h"
#include "virtio/virtio_pci.h"

/* Feature bits (virtio 1.2, 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* struct virtio_blk_config (5.2.4), little-endian, as far as ringvm
 * fills it. */
#define VIRTIO_BLK_CFG_CAPACITY       0    /* le64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX       8
#define VIRTIO_BLK_CFG_SEG_MAX        12
#define VIRTIO_BLK_CFG_BLK_SIZE       20
#define VIRTIO_BLK_CFG_PHYS_BLOCK_EXP 24
#define VIRTIO_BLK_CFG_MIN_IO_SIZE    26
#define VIRTIO_BLK_CFG_OPT_IO_SIZE    28
#define VIRTIO_BLK_CFG_NUM_QUEUES     34   /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG     40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN       44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS      48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG          52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP        56  /* u8 */
#define VIRTIO_BLK_CFG_LEN                 60

struct virtio_blk_opts {
	const char *path;
	bool readonly;
	bool direct;            /* O_DIRECT */
	unsigned int nqueues;   /* VIRTIO_BLK_F_MQ when > 1 */
	uint16_t queue_size;    /* e.g. 256 */
	bool force_sync;        /* do not try io_uring (tests, fallback) */
	unsigned int index;     /* names the I/O thread "blk<index>" */
};

struct virtio_blk;

/* Opens the image (a clear error for a missing, unreadable or empty file,
 * or O_DIRECT unsupported) and builds the device. */
struct virtio_blk *virtio_blk_new(const struct virtio_blk_opts *o,
				  const struct guest_mem *mem,
				  struct msix_sink sink, struct rv_err *err);
/* The same device with no PCI function, its queues owned by host (a
 * vhost-user back end, `ringvm backend blk`); model receives what the back
 * end offers its frontend. mem is the back end's map of the frontend's
 * guest RAM, which may change while the device is reset. */
struct virtio_blk *virtio_blk_new_served(const struct virtio_blk_opts *o,
					 const struct guest_mem *mem,
					 struct virtio_queue_host host,
					 struct virtio_served_dev *model,
					 struct rv_err *err);
/* A served device must have been reset (if activated) first. */
void virtio_blk_free(struct virtio_blk *b);
struct ev_loop;
/* NULL for a served device. */
struct virtio_pci *virtio_blk_transport(struct virtio_blk *b);
/* The I/O thread serving the device (its seccomp filter: vm/sandbox.h). */
struct ev_loop *virtio_blk_loop(struct virtio_blk *b);
/* "NAME VALUE UNIT" lines (NAME prefixed with prefix): requests, bytes,
 * flushes, kicks, interrupts, errors. */
void virtio_blk_print_stats(struct virtio_blk *b, const char *prefix, FILE *out);
/* Snapshot: sections "<name>.blk" and "<name>.virtio" (the transport),
 * from a paused VM; load into a new device on the same image (its size
 * must not have changed). */
void virtio_blk_save(struct virtio_blk *b, struct state_writer *w,
		     const char *name);
int virtio_blk_load(struct virtio_blk *b, const struct state_reader *r,
		    const char *name, struct rv_err *err);
/* True when requests go through io_uring, false for the preadv/pwritev
 * back end (force_sync, or io_uring unavailable: see why_sync). */
bool virtio_blk_uses_uring(const struct virtio_blk *b);
/* Why io_uring is not used ("" when it is). */
const char *virtio_blk_why_sync(const struct virtio_blk *b);

#endif
