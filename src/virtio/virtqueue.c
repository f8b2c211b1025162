/* Split virtqueue, device side (virtio 1.2, 2.7). The guest writes these
 * rings concurrently from other CPUs, so:
 *  - every descriptor is copied once into a local and validated there
 *    (the guest cannot change it between check and use);
 *  - avail->idx is loaded with acquire before reading ring entries and
 *    descriptors, used->idx stored with release after the used elements;
 *  - a full fence separates "publish our index" from "read the driver's
 *    suppression field" in both directions (the lost-wakeup races of
 *    2.7.10 / 2.7.13.3).
 *
 * Zero-length descriptors: the split-ring section does not forbid them,
 * so they are accepted and skipped (no iovec, no address check: nothing
 * is accessed); they still count towards the chain length limit and the
 * read/write order rule. A descriptor must lie within one guest RAM
 * region: ringvm splits RAM only at the PCI hole, where no guest buffer
 * legitimately straddles. */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <string.h>

#define DESC_BYTES 16u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint16_t *avail_flags(const struct virtq *vq)
{
	return (uint16_t *)vq->avail;
}

static uint16_t *avail_idx(const struct virtq *vq)
{
	return (uint16_t *)vq->avail + 1;
}

static uint16_t *avail_ring(const struct virtq *vq, uint16_t slot)
{
	return (uint16_t *)vq->avail + 2 + (slot & (vq->size - 1));
}

static uint16_t *used_event(const struct virtq *vq)
{
	return (uint16_t *)vq->avail + 2 + vq->size;
}

static uint16_t *used_flags(const struct virtq *vq)
{
	return (uint16_t *)vq->used;
}

static uint16_t *used_idx(const struct virtq *vq)
{
	return (uint16_t *)vq->used + 1;
}

static uint32_t *used_elem(const struct virtq *vq, uint16_t slot)
{
	return (uint32_t *)vq->used + 1 + 2 * (slot & (vq->size - 1));
}

static uint16_t *avail_event(const struct virtq *vq)
{
	return (uint16_t *)((uint8_t *)vq->used + 4 + 8 * (size_t)vq->size);
}

static uint16_t load16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static void store16(uint16_t *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

int virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
	       uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
	       bool event_idx, bool indirect, struct rv_err *err)
{
	/* Sizes per 2.7: the trailing event fields are always counted. */
	uint64_t desc_len = DESC_BYTES * (uint64_t)size;
	uint64_t avail_len = 6 + 2 * (uint64_t)size;
	uint64_t used_len = 6 + 8 * (uint64_t)size;
	void *d, *a, *u;

	/* A queue that failed to initialise refuses every operation. */
	memset(vq, 0, sizeof(*vq));
	vq->broken = true;
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return rv_fail(err, "virtqueue: size %u is not a power of two in 1..%u",
			       size, VIRTQ_MAX_SIZE);
	if (desc_gpa & 15)
		return rv_fail(err, "virtqueue: descriptor table %#llx not 16-byte aligned",
			       (unsigned long long)desc_gpa);
	if (avail_gpa & 1)
		return rv_fail(err, "virtqueue: available ring %#llx not 2-byte aligned",
			       (unsigned long long)avail_gpa);
	if (used_gpa & 3)
		return rv_fail(err, "virtqueue: used ring %#llx not 4-byte aligned",
			       (unsigned long long)used_gpa);
	d = guest_mem_ptr(mem, desc_gpa, desc_len);
	a = guest_mem_ptr(mem, avail_gpa, avail_len);
	u = guest_mem_ptr(mem, used_gpa, used_len);
	if (!d || !a || !u)
		return rv_fail(err, "virtqueue: %s %#llx+%llu is outside guest RAM",
			       !d ? "descriptor table" : !a ? "available ring" :
			       "used ring",
			       (unsigned long long)(!d ? desc_gpa : !a ? avail_gpa :
						    used_gpa),
			       (unsigned long long)(!d ? desc_len : !a ? avail_len :
						    used_len));
	vq->mem = mem;
	vq->size = size;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->broken = false;
	return 0;
}

static void load_desc(const uint8_t *table, uint32_t i, struct desc *out)
{
	uint8_t raw[DESC_BYTES];
	uint64_t a;
	uint32_t l;
	uint16_t f, n;

	/* One copy: validation and use see the same bytes. memcpy because an
	 * indirect table need not be aligned. */
	memcpy(raw, table + (size_t)i * DESC_BYTES, DESC_BYTES);
	memcpy(&a, raw, 8);
	memcpy(&l, raw + 8, 4);
	memcpy(&f, raw + 12, 2);
	memcpy(&n, raw + 14, 2);
	out->addr = le64toh(a);
	out->len = le32toh(l);
	out->flags = le16toh(f);
	out->next = le16toh(n);
}

static enum virtq_pop_result mark_broken(struct virtq *vq)
{
	vq->broken = true;
	return VIRTQ_BROKEN;
}

/* Adds one buffer descriptor to the chain; false if it is malformed. */
static bool add_segment(const struct virtq *vq, struct virtq_chain *c,
			const struct desc *d, bool *seen_write)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	struct iovec *iov;
	void *p;

	if (!write && *seen_write)
		return false;  /* readable after writable: 2.7.4 order */
	*seen_write |= write;
	if (d->len == 0)
		return true;
	/* used->len is 32-bit and the spec caps a chain at 2^32 bytes:
	 * keeping the sum <= UINT32_MAX also rules out size_t overflow. */
	if (d->len > UINT32_MAX - c->out_len - c->in_len)
		return false;
	if (c->nout + c->nin >= c->iov_cap)
		return false;
	p = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return false;
	iov = &c->iov[c->nout + c->nin];
	iov->iov_base = p;
	iov->iov_len = d->len;
	if (write) {
		c->nin++;
		c->in_len += d->len;
	} else {
		c->nout++;
		c->out_len += d->len;
	}
	return true;
}

/* Walks the chain starting at c->head. Every step reads a fresh
 * descriptor and at most vq->size buffer descriptors are accepted, so a
 * loop (or an over-long chain) ends in at most size + 1 reads. */
static bool walk_chain(const struct virtq *vq, struct virtq_chain *c)
{
	const uint8_t *table = vq->desc;
	uint32_t table_n = vq->size;
	bool in_table = false, seen_write = false;
	unsigned int count = 0;
	uint32_t i = c->head;
	struct desc d;

	for (;;) {
		load_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect || in_table)
				return false;
			/* 2.7.5.3.1: INDIRECT and NEXT are exclusive, so the
			 * table always ends the chain. */
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return false;
			if (d.len == 0 || d.len % DESC_BYTES)
				return false;
			table = guest_mem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return false;
			table_n = d.len / DESC_BYTES;
			in_table = true;
			i = 0;
			continue;
		}
		/* 2.7.5.3.1: no chain longer than the queue size, indirect
		 * entries included. This is also the loop bound. */
		if (++count > vq->size)
			return false;
		if (!add_segment(vq, c, &d, &seen_write))
			return false;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (d.next >= table_n)
			return false;
		i = d.next;
	}
}

enum virtq_pop_result virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	uint16_t avail, pending, head;

	if (vq->broken)
		return VIRTQ_BROKEN;
	/* Acquire: ring entry and descriptors are read after the index. */
	avail = load16(avail_idx(vq), __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail - vq->last_avail);
	if (pending == 0)
		return VIRTQ_EMPTY;
	if (pending > vq->size)
		return mark_broken(vq);
	head = load16(avail_ring(vq, vq->last_avail), __ATOMIC_RELAXED);
	if (head >= vq->size)
		return mark_broken(vq);
	vq->last_avail++;
	if (vq->inflight) {
		vq->inflight->desc[head].counter = ++vq->inflight_counter;
		__atomic_store_n(&vq->inflight->desc[head].inflight, 1,
				 __ATOMIC_RELEASE);
	}
	/* Consumed either way; a bad one is unusable: no segment of it may
	 * be touched. */
	return virtq_chain_at(vq, head, c) ? VIRTQ_OK : VIRTQ_BAD_CHAIN;
}

/* While a migration logs dirty pages: the buffers the device may have
 * written for chain head (every device-writable descriptor, direct or
 * indirect; the guest may have changed them since, so bounded like a pop
 * and never trusted beyond marking) and the used ring. */
static void mark_written(struct virtq *vq, uint16_t head)
{
	const struct guest_mem *mem = vq->mem;
	uint16_t i = head;

	guest_mem_mark_dirty(mem, vq->used_gpa, 6 + 8 * (uint64_t)vq->size);
	for (unsigned int n = 0; n < vq->size; n++) {
		const uint8_t *d = (const uint8_t *)vq->desc + 16 * (size_t)i;
		uint64_t addr = le64toh(*(const uint64_t *)d);
		uint32_t len = le32toh(*(const uint32_t *)(d + 8));
		uint16_t flags = le16toh(*(const uint16_t *)(d + 12));

		if ((flags & VIRTQ_DESC_F_INDIRECT) && len % 16 == 0 &&
		    len / 16 <= vq->size) {
			const uint8_t *t = guest_mem_ptr(mem, addr, len);

			for (uint32_t k = 0; t && k < len / 16; k++) {
				const uint8_t *e = t + 16 * k;

				if (le16toh(*(const uint16_t *)(e + 12)) &
				    VIRTQ_DESC_F_WRITE)
					guest_mem_mark_dirty(mem,
						le64toh(*(const uint64_t *)e),
						le32toh(*(const uint32_t *)(e + 8)));
			}
		} else if (flags & VIRTQ_DESC_F_WRITE) {
			guest_mem_mark_dirty(mem, addr, len);
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
		i = le16toh(*(const uint16_t *)(d + 14)) & (vq->size - 1);
	}
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	uint32_t *elem;

	/* A broken queue awaits reset; a head we never handed out is a
	 * device bug that must not reach the guest either. */
	if (vq->broken || head >= vq->size)
		return;
	elem = used_elem(vq, vq->used_idx);
	__atomic_store_n(&elem[0], htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&elem[1], htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Should the device die between publishing the index and clearing
	 * the mark, this tells the frontend which mark is stale. */
	if (vq->inflight)
		__atomic_store_n(&vq->inflight->last_batch_head, head,
				 __ATOMIC_RELEASE);
	/* Release: the data written into the buffers and the element are
	 * visible before the driver can see the new index. */
	store16(used_idx(vq), vq->used_idx, __ATOMIC_RELEASE);
	if (vq->inflight) {
		__atomic_store_n(&vq->inflight->desc[head].inflight, 0,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&vq->inflight->used_idx, vq->used_idx,
				 __ATOMIC_RELEASE);
	}
	if (atomic_load_explicit(&vq->mem->logging, memory_order_relaxed))
		mark_written(vq, head);
}

/* 2.7.10: notify iff used_event lies in [old, new) (mod 2^16). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_valid;

	if (vq->broken || now == old)
		return false;
	/* The used->idx store must be globally visible before we read the
	 * driver's suppression state, or a driver that just re-enabled
	 * interrupts and saw the old index sleeps forever. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* The window [old, now) is decided once, notified or not. */
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (vq->event_idx)
		return !valid ||
		       need_event(load16(used_event(vq), __ATOMIC_RELAXED),
				  now, old);
	return !(load16(avail_flags(vq), __ATOMIC_RELAXED) &
		 VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void virtq_disable_notify(struct virtq *vq)
{
	/* With EVENT_IDX, leaving avail_event behind last_avail already
	 * suppresses kicks: the driver only kicks when crossing it. */
	if (vq->broken || vq->event_idx)
		return;
	store16(used_flags(vq), VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	guest_mem_mark_dirty(vq->mem, vq->used_gpa, 2);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (vq->broken)
		return false;
	if (vq->event_idx)
		store16(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	else
		store16(used_flags(vq), 0, __ATOMIC_RELAXED);
	/* avail_event and the flags live in the used ring: a migration must
	 * send that page again. */
	guest_mem_mark_dirty(vq->mem, vq->used_gpa, 6 + 8 * (uint64_t)vq->size);
	/* Our store must be visible before we re-read avail->idx, or a
	 * buffer added in between is neither seen nor kicked. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(avail_idx(vq), __ATOMIC_ACQUIRE) != vq->last_avail;
}

uint16_t virtq_avail_count(struct virtq *vq)
{
	uint16_t pending;

	if (vq->broken)
		return 0;
	pending = (uint16_t)(load16(avail_idx(vq), __ATOMIC_ACQUIRE) -
			     vq->last_avail);
	if (pending > vq->size) {
		vq->broken = true;
		return 0;
	}
	return pending;
}

/* Copies between flat memory and iov[first..first+n), starting `skip`
 * bytes in; to_iov selects the direction. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t skip,
		       void *buf, size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int k = 0; k < n && done < len; k++) {
		size_t seg = iov[k].iov_len, chunk;
		uint8_t *base = iov[k].iov_base;

		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		chunk = seg - skip;
		if (chunk > len - done)
			chunk = len - done;
		if (to_iov)
			memcpy(base + skip, (uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, base + skip, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t skip, void *dst,
			size_t len)
{
	return iov_copy(c->iov, c->nout, skip, dst, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t skip,
			 const void *src, size_t len)
{
	return iov_copy(c->iov + c->nout, c->nin, skip, (void *)src, len, true);
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	for (uint16_t k = 0; vq->inflight && k < n; k++) {
		uint16_t head = load16(avail_ring(vq, vq->last_avail - 1 - k),
				       __ATOMIC_RELAXED);

		if (head < vq->size)
			vq->inflight->desc[head].inflight = 0;
	}
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

void virtq_track_inflight(struct virtq *vq, struct virtq_inflight *r)
{
	vq->inflight = r;
	if (!r)
		return;
	r->version = 1;
	r->desc_num = vq->size;
	r->used_idx = vq->used_idx;
	vq->inflight_counter = 0;
	for (uint16_t i = 0; i < vq->size; i++)
		if (r->desc[i].inflight && r->desc[i].counter > vq->inflight_counter)
			vq->inflight_counter = r->desc[i].counter;
}

int virtq_take_over(struct virtq *vq, struct virtq_inflight *r,
		    uint32_t (*fail)(void *ctx, struct virtq_chain *c, bool ok),
		    void *ctx, struct virtq_chain *c, struct rv_err *err)
{
	uint16_t ring_used = load16(used_idx(vq), __ATOMIC_ACQUIRE);
	uint16_t marked = 0;
	int answered = 0;

	/* Published in the ring, not yet in the region: that one chain was
	 * returned (virtq_push's order) and its mark is stale. */
	if (ring_used != r->used_idx) {
		if ((uint16_t)(ring_used - r->used_idx) != 1 ||
		    r->last_batch_head >= vq->size)
			return rv_fail(err, "virtqueue: used index %u in the ring, %u in the in-flight region",
				       ring_used, r->used_idx);
		r->desc[r->last_batch_head].inflight = 0;
		r->used_idx = ring_used;
	}
	for (uint16_t i = 0; i < vq->size; i++)
		marked += r->desc[i].inflight != 0;
	if (virtq_start_at(vq, (uint16_t)(ring_used + marked), err) < 0)
		return -1;
	/* Oldest first: the driver sees them answered in the order sent. */
	while (marked--) {
		uint16_t head = vq->size;

		for (uint16_t i = 0; i < vq->size; i++)
			if (r->desc[i].inflight &&
			    (head == vq->size ||
			     r->desc[i].counter < r->desc[head].counter))
				head = i;
		r->desc[head].inflight = 0;
		virtq_push(vq, head, fail(ctx, c, virtq_chain_at(vq, head, c)));
		answered++;
	}
	r->used_idx = vq->used_idx;
	return answered;
}

bool virtq_chain_at(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	if (head < vq->size && walk_chain(vq, c))
		return true;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	return false;
}

void virtq_get_indices(const struct virtq *vq, struct virtq_indices *ix)
{
	*ix = (struct virtq_indices){
		.last_avail = vq->last_avail,
		.used_idx = vq->used_idx,
		.signalled_used = vq->signalled_used,
		.signalled_valid = vq->signalled_valid,
		.broken = vq->broken,
	};
}

int virtq_set_indices(struct virtq *vq, const struct virtq_indices *ix,
		      struct rv_err *err)
{
	uint16_t used_in_ring = load16(used_idx(vq), __ATOMIC_ACQUIRE);
	uint16_t avail_in_ring = load16(avail_idx(vq), __ATOMIC_ACQUIRE);

	if (used_in_ring != ix->used_idx)
		return rv_fail(err, "virtqueue: used index %u in the snapshot, %u in guest memory",
			       ix->used_idx, used_in_ring);
	if ((uint16_t)(avail_in_ring - ix->last_avail) > vq->size ||
	    (uint16_t)(ix->last_avail - ix->used_idx) > vq->size)
		return rv_fail(err, "virtqueue: indices avail %u / taken %u / used %u do not fit a queue of %u",
			       avail_in_ring, ix->last_avail, ix->used_idx,
			       vq->size);
	vq->last_avail = ix->last_avail;
	vq->used_idx = ix->used_idx;
	vq->signalled_used = ix->signalled_used;
	vq->signalled_valid = ix->signalled_valid;
	vq->broken = ix->broken;
	return 0;
}

int virtq_start_at(struct virtq *vq, uint16_t last_avail, struct rv_err *err)
{
	struct virtq_indices ix = {
		.last_avail = last_avail,
		.used_idx = load16(used_idx(vq), __ATOMIC_ACQUIRE),
	};

	return virtq_set_indices(vq, &ix, err);
}
