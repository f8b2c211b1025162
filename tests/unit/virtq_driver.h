/* Test helper: the *driver* side of a split virtqueue (virtio 1.2, 2.7),
 * written into a struct guest_mem the way a Linux guest driver would, so
 * device tests can feed requests to a device and read its answers.
 *
 * Layout made by vqd_init at ring_gpa (needs vqd_ring_bytes(size) bytes):
 *   descriptor table  ring_gpa                       16 * size
 *   available ring    ring_gpa + 16 * size           6 + 2 * size
 *   used ring         next multiple of 4 after that  6 + 8 * size
 * All three areas are zeroed, so used->flags and used->idx start at 0.
 *
 * Descriptors are handed out round-robin from the table and never
 * reclaimed explicitly: a test must not have more than `size` descriptors
 * outstanding at once (ample for unit tests). Buffer memory is the test's
 * own business: pass guest-physical addresses it owns.
 *
 * Hostile tests write whatever they like with vqd_set_desc,
 * vqd_set_avail_ring and vqd_set_avail_idx.
 *
 * Building: the Makefile's unit rule compiles one .c per test, so a test
 * that uses this helper does `#include "unit/virtq_driver.c"` once. */
#ifndef RINGVM_TESTS_VIRTQ_DRIVER_H
#define RINGVM_TESTS_VIRTQ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/virtqueue.h"

struct vqd {
	const struct guest_mem *mem;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;  /* driver's shadow of avail->idx */
	uint16_t last_used;  /* next used element to read */
	uint16_t next_desc;  /* next descriptor handed out (round-robin) */
};

/* One buffer of a chain: device-readable (write == false) or
 * device-writable (write == true). */
struct vqd_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Bytes the three areas occupy for a queue of `size` entries. */
uint64_t vqd_ring_bytes(uint16_t size);

/* Lays the rings out at ring_gpa (16-aligned) and zeroes them. Returns 0,
 * or -1 if the rings would not fit in guest RAM. */
int vqd_init(struct vqd *d, const struct guest_mem *mem, uint16_t size,
	     uint64_t ring_gpa);

/* Device-side virtq_init on this ring (a test shortcut for what the
 * transport does when the driver enables a queue). */
int vqd_attach(const struct vqd *d, struct virtq *vq, bool event_idx,
	       bool indirect, struct rv_err *err);

/* Writes segs[0..n) as a chain of direct descriptors (NEXT-linked, out
 * segments must come first) and returns the head index. Not yet visible
 * to the device: see vqd_publish. n must be 1..size. */
uint16_t vqd_add(struct vqd *d, const struct vqd_seg *segs, unsigned int n);

/* Writes segs[0..n) as an indirect table at table_gpa (16 * n bytes) and
 * one INDIRECT descriptor pointing at it; returns that head index. */
uint16_t vqd_add_indirect(struct vqd *d, const struct vqd_seg *segs,
			  unsigned int n, uint64_t table_gpa);

/* Puts head into the next available slot and publishes avail->idx with
 * release ordering (like virtqueue_add + virtqueue_kick_prepare). */
void vqd_publish(struct vqd *d, uint16_t head);

/* Reads the next used element if the device published one: true and
 * id and len filled, false if used->idx has not moved. */
bool vqd_get_used(struct vqd *d, uint32_t *id, uint32_t *len);

/* Driver-side kick decision after publishing since avail index old_idx:
 * with EVENT_IDX vring_need_event(avail_event, avail_idx, old_idx), else
 * !(used->flags & NO_NOTIFY). */
bool vqd_kick_needed(const struct vqd *d, bool event_idx, uint16_t old_idx);

/* Driver-written fields. */
void vqd_set_used_event(struct vqd *d, uint16_t v);
void vqd_set_avail_flags(struct vqd *d, uint16_t flags);

/* Device-written fields, as the driver sees them. */
uint16_t vqd_used_idx(const struct vqd *d);
uint16_t vqd_used_flags(const struct vqd *d);
uint16_t vqd_avail_event(const struct vqd *d);

/* Raw writes for hostile rings. vqd_set_desc writes entry i of the main
 * table (i < size); vqd_set_table_desc entry i of a table at table_gpa;
 * vqd_set_avail_ring writes ring slot (slot % size) without publishing;
 * vqd_set_avail_idx stores avail->idx (and the shadow) as given. */
void vqd_set_desc(struct vqd *d, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next);
void vqd_set_table_desc(struct vqd *d, uint64_t table_gpa, unsigned int i,
			uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next);
void vqd_set_avail_ring(struct vqd *d, uint16_t slot, uint16_t head);
void vqd_set_avail_idx(struct vqd *d, uint16_t idx);

/* Starts both sides' indices at idx (for wrap-around tests): sets the
 * driver's shadows, avail->idx and used->idx, and the device's
 * last_avail/used_idx/signalled_used. Call right after vqd_attach. */
void vqd_set_start_index(struct vqd *d, struct virtq *vq, uint16_t idx);

#endif
