/* Split virtqueues (virtio 1.2, section 2.7) from the device side: taking
 * available descriptor chains, validating every one of them, returning them
 * through the used ring, and deciding when the driver wants an interrupt
 * (VIRTIO_RING_F_EVENT_IDX or the NO_INTERRUPT flag). Everything the guest
 * wrote is hostile: addresses go through guest_mem, chains are bounded, and
 * a ring that makes no sense marks the queue broken instead of crashing.
 * One queue is used by one thread at a time. */
#ifndef RINGVM_VIRTIO_VIRTQUEUE_H
#define RINGVM_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem/guest_mem.h"
#include "util/err.h"

#define VIRTQ_MAX_SIZE 32768          /* split rings: power of two <= 2^15 */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* Feature bits a queue cares about. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29

/* In-flight tracking, vhost-user's INFLIGHT_SHMFD layout for split rings
 * (QEMU's docs/interop/vhost-user.rst, "Inflight I/O tracking"): a
 * device that serves a queue for another process marks each chain it
 * takes and clears it when it returns the chain, in memory that process
 * keeps. If the device dies, the chains still marked are exactly the
 * ones it never answered. */
struct virtq_inflight_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;          /* order taken */
};

struct virtq_inflight {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;         /* the device's used index */
	struct virtq_inflight_desc desc[];
};

/* Bytes one queue's region takes (64-byte aligned, as regions of several
 * queues lie back to back). */
static inline size_t virtq_inflight_bytes(uint16_t size)
{
	size_t n = sizeof(struct virtq_inflight) +
		   (size_t)size * sizeof(struct virtq_inflight_desc);

	return (n + 63) & ~(size_t)63;
}

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;            /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;             /* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	uint16_t last_avail;       /* next available entry to take */
	uint16_t used_idx;         /* our copy of used->idx */
	uint16_t signalled_used;   /* used_idx at the last notify decision */
	bool signalled_valid;
	bool broken;               /* ring is nonsense: device needs reset */
	struct virtq_inflight *inflight;   /* NULL: not tracked */
	uint64_t inflight_counter;

	/* Resolved host pointers (valid after virtq_init). */
	void *desc;
	void *avail;
	void *used;
};

/* One chain, split into the device-readable part (out: driver -> device)
 * followed by the device-writable part (in: device -> driver). iov points
 * at caller-owned storage of iov_cap entries; a chain with more segments
 * than that is malformed (callers use the queue size: a chain may not be
 * longer, virtio 1.2 2.7.5.3.1). */
struct virtq_chain {
	uint16_t head;
	unsigned int nout, nin;    /* iov[0..nout) out, iov[nout..nout+nin) in */
	size_t out_len, in_len;
	struct iovec *iov;
	unsigned int iov_cap;
};

enum virtq_pop_result {
	VIRTQ_EMPTY = 0,           /* nothing available */
	VIRTQ_OK = 1,              /* *c holds a valid chain */
	VIRTQ_BAD_CHAIN = 2,       /* c->head is set, the chain is malformed:
				    * return it with virtq_push(head, 0) and
				    * fail the request */
	VIRTQ_BROKEN = -1,         /* the ring itself is corrupt (avail index
				    * jumped by more than the queue size, head
				    * out of range): stop using the queue */
};

/* Checks the three ring areas lie in guest RAM with the required alignment
 * and resolves them. size must be a power of two in 1..VIRTQ_MAX_SIZE.
 * Starts at index 0 (a fresh ring); on failure *vq is marked broken. */
int virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
	       uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
	       bool event_idx, bool indirect, struct rv_err *err);

/* Takes the next available chain. Validation: every descriptor in guest
 * RAM, no loops (at most size descriptors per chain, counting indirect
 * ones), lengths summed without overflow, no write-only descriptor before a
 * read-only one, INDIRECT only if negotiated, not nested, table length a
 * multiple of 16 and not combined with NEXT. Zero-length descriptors are
 * skipped (no iovec; they still count towards the length limit and the
 * read/write order). A buffer must lie within one guest RAM region. */
enum virtq_pop_result virtq_pop(struct virtq *vq, struct virtq_chain *c);

/* Returns a chain to the driver with `written` bytes written into it
 * (publishes the used element and index with release ordering). */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* After a batch of pushes: true if the driver asked to be interrupted
 * (used_event crossing with EVENT_IDX, else !NO_INTERRUPT). Records the
 * interrupt as sent when it returns true. */
bool virtq_should_notify(struct virtq *vq);

/* Notification suppression while the device is busy draining the queue:
 * virtq_disable_notify before, virtq_enable_notify after; the latter
 * returns true if more buffers arrived meanwhile (process them, no kick
 * will come). With EVENT_IDX it writes avail_event, else the used flags. */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);

/* Gives back the last n chains taken and not yet returned: they become
 * available again, in the same order. For a device pausing with chains it
 * held but had not filled (a receive buffer waiting for a packet), so its
 * state is all in the ring indices. n must not exceed what it holds. */
void virtq_unpop(struct virtq *vq, uint16_t n);

/* The device side of a queue, for snapshots. */
struct virtq_indices {
	uint16_t last_avail, used_idx, signalled_used;
	bool signalled_valid, broken;
};

void virtq_get_indices(const struct virtq *vq, struct virtq_indices *ix);
/* After virtq_init on a restored ring: continue from ix. Refuses indices
 * that contradict the ring in guest memory (used_idx must be what the used
 * ring says; at most size chains can be outstanding). */
int virtq_set_indices(struct virtq *vq, const struct virtq_indices *ix,
		      struct rv_err *err);

/* After virtq_init on a ring another party set up (a vhost-user frontend
 * hands over a queue with the index to resume from, SET_VRING_BASE):
 * take chains from last_avail on, continuing the used index the ring
 * holds. Refuses indices more than the queue size apart. */
int virtq_start_at(struct virtq *vq, uint16_t last_avail, struct rv_err *err);

/* Tracks chains taken and not returned in r (virtq_inflight_bytes(size)
 * bytes, shared with the frontend), from now on. */
void virtq_track_inflight(struct virtq *vq, struct virtq_inflight *r);

/* The chain starting at descriptor head (< size), validated like a pop,
 * for a frontend answering chains its dead back end left in flight.
 * Returns true with *c filled (c->head = head), false if malformed. */
bool virtq_chain_at(struct virtq *vq, uint16_t head, struct virtq_chain *c);

/* A frontend takes over a queue whose device died, from that device's
 * in-flight region r: clears the mark of a chain the device returned but
 * had not yet unmarked, continues from where the device stopped taking
 * chains, and calls fail(ctx, chain, ok) for each chain it left in
 * flight, in the order it took them (ok false: malformed, no segment);
 * fail returns the used length to report. Returns the number of chains
 * answered, or -1 (err) if r contradicts the ring. */
int virtq_take_over(struct virtq *vq, struct virtq_inflight *r,
		    uint32_t (*fail)(void *ctx, struct virtq_chain *c, bool ok),
		    void *ctx, struct virtq_chain *scratch, struct rv_err *err);

/* Available chains not yet taken (0 if broken). */
uint16_t virtq_avail_count(struct virtq *vq);

/* Helpers for devices: copy between a chain's segments and a flat buffer,
 * starting at byte `skip` of the out (resp. in) part. Return bytes copied. */
size_t virtq_chain_read(const struct virtq_chain *c, size_t skip, void *dst,
			size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t skip,
			 const void *src, size_t len);

#endif
