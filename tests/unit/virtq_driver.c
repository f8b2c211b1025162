/* Driver side of a split virtqueue for tests; see virtq_driver.h. A bad
 * address here is a bug in the test, not hostile input, so it aborts. */
#include "unit/virtq_driver.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *vqd_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p) {
		fprintf(stderr, "virtq_driver: %#llx+%llu outside guest RAM\n",
			(unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
	return p;
}

static uint16_t *vqd_u16(const struct vqd *d, uint64_t gpa)
{
	return vqd_ptr(d->mem, gpa, 2);
}

uint64_t vqd_ring_bytes(uint16_t size)
{
	uint64_t used_off = (16ull * size + 6 + 2ull * size + 3) & ~3ull;

	return used_off + 6 + 8ull * size;
}

int vqd_init(struct vqd *d, const struct guest_mem *mem, uint16_t size,
	     uint64_t ring_gpa)
{
	void *p;

	memset(d, 0, sizeof(*d));
	if (size == 0 || (ring_gpa & 15))
		return -1;
	p = guest_mem_ptr(mem, ring_gpa, vqd_ring_bytes(size));
	if (!p)
		return -1;
	memset(p, 0, vqd_ring_bytes(size));
	d->mem = mem;
	d->size = size;
	d->desc_gpa = ring_gpa;
	d->avail_gpa = ring_gpa + 16ull * size;
	d->used_gpa = (d->avail_gpa + 6 + 2ull * size + 3) & ~3ull;
	return 0;
}

int vqd_attach(const struct vqd *d, struct virtq *vq, bool event_idx,
	       bool indirect, struct rv_err *err)
{
	return virtq_init(vq, d->mem, d->size, d->desc_gpa, d->avail_gpa,
			  d->used_gpa, event_idx, indirect, err);
}

static void vqd_write_desc(const struct guest_mem *mem, uint64_t gpa,
			   uint64_t addr, uint32_t len, uint16_t flags,
			   uint16_t next)
{
	uint8_t raw[16];
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(raw, &a, 8);
	memcpy(raw + 8, &l, 4);
	memcpy(raw + 12, &f, 2);
	memcpy(raw + 14, &n, 2);
	memcpy(vqd_ptr(mem, gpa, 16), raw, 16);
}

void vqd_set_desc(struct vqd *d, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	if (i >= d->size)
		abort();
	vqd_write_desc(d->mem, d->desc_gpa + 16ull * i, addr, len, flags, next);
}

void vqd_set_table_desc(struct vqd *d, uint64_t table_gpa, unsigned int i,
			uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	vqd_write_desc(d->mem, table_gpa + 16ull * i, addr, len, flags, next);
}

static uint16_t vqd_take_desc(struct vqd *d)
{
	uint16_t i = d->next_desc;

	d->next_desc = (uint16_t)((i + 1u) % d->size);
	return i;
}

uint16_t vqd_add(struct vqd *d, const struct vqd_seg *segs, unsigned int n)
{
	uint16_t head, cur;

	if (n == 0 || n > d->size)
		abort();
	head = cur = vqd_take_desc(d);
	for (unsigned int k = 0; k < n; k++) {
		uint16_t flags = segs[k].write ? VIRTQ_DESC_F_WRITE : 0;
		uint16_t next = 0;

		if (k + 1 < n) {
			next = vqd_take_desc(d);
			flags |= VIRTQ_DESC_F_NEXT;
		}
		vqd_set_desc(d, cur, segs[k].gpa, segs[k].len, flags, next);
		cur = next;
	}
	return head;
}

uint16_t vqd_add_indirect(struct vqd *d, const struct vqd_seg *segs,
			  unsigned int n, uint64_t table_gpa)
{
	uint16_t head;

	/* next is 16-bit: at most 65536 entries. */
	if (n == 0 || n > 0x10000)
		abort();
	for (unsigned int k = 0; k < n; k++) {
		uint16_t flags = segs[k].write ? VIRTQ_DESC_F_WRITE : 0;

		if (k + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		vqd_set_table_desc(d, table_gpa, k, segs[k].gpa, segs[k].len,
				   flags, (uint16_t)(k + 1 < n ? k + 1 : 0));
	}
	head = vqd_take_desc(d);
	vqd_set_desc(d, head, table_gpa, 16u * n, VIRTQ_DESC_F_INDIRECT, 0);
	return head;
}

void vqd_set_avail_ring(struct vqd *d, uint16_t slot, uint16_t head)
{
	*vqd_u16(d, d->avail_gpa + 4 + 2ull * (slot % d->size)) = htole16(head);
}

void vqd_set_avail_idx(struct vqd *d, uint16_t idx)
{
	d->avail_idx = idx;
	/* Release: ring entries and descriptors before the index. */
	__atomic_store_n(vqd_u16(d, d->avail_gpa + 2), htole16(idx),
			 __ATOMIC_RELEASE);
}

void vqd_publish(struct vqd *d, uint16_t head)
{
	vqd_set_avail_ring(d, d->avail_idx, head);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
}

bool vqd_get_used(struct vqd *d, uint32_t *id, uint32_t *len)
{
	uint16_t idx = le16toh(__atomic_load_n(vqd_u16(d, d->used_gpa + 2),
					       __ATOMIC_ACQUIRE));
	uint64_t elem;
	uint32_t v;

	if (idx == d->last_used)
		return false;
	elem = d->used_gpa + 4 + 8ull * (d->last_used % d->size);
	memcpy(&v, vqd_ptr(d->mem, elem, 4), 4);
	*id = le32toh(v);
	memcpy(&v, vqd_ptr(d->mem, elem + 4, 4), 4);
	*len = le32toh(v);
	d->last_used++;
	return true;
}

static bool vqd_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vqd_kick_needed(const struct vqd *d, bool event_idx, uint16_t old_idx)
{
	/* Pairs with the device's fence between its avail_event / flags
	 * store and its re-read of avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx)
		return vqd_need_event(vqd_avail_event(d), d->avail_idx, old_idx);
	return !(vqd_used_flags(d) & VIRTQ_USED_F_NO_NOTIFY);
}

void vqd_set_used_event(struct vqd *d, uint16_t v)
{
	__atomic_store_n(vqd_u16(d, d->avail_gpa + 4 + 2ull * d->size),
			 htole16(v), __ATOMIC_RELAXED);
}

void vqd_set_avail_flags(struct vqd *d, uint16_t flags)
{
	__atomic_store_n(vqd_u16(d, d->avail_gpa), htole16(flags),
			 __ATOMIC_RELAXED);
}

uint16_t vqd_used_idx(const struct vqd *d)
{
	return le16toh(__atomic_load_n(vqd_u16(d, d->used_gpa + 2),
				       __ATOMIC_ACQUIRE));
}

uint16_t vqd_used_flags(const struct vqd *d)
{
	return le16toh(__atomic_load_n(vqd_u16(d, d->used_gpa),
				       __ATOMIC_RELAXED));
}

uint16_t vqd_avail_event(const struct vqd *d)
{
	return le16toh(__atomic_load_n(vqd_u16(d, d->used_gpa + 4 +
					       8ull * d->size),
				       __ATOMIC_RELAXED));
}

void vqd_set_start_index(struct vqd *d, struct virtq *vq, uint16_t idx)
{
	d->last_used = idx;
	vqd_set_avail_idx(d, idx);
	*vqd_u16(d, d->used_gpa + 2) = htole16(idx);
	vq->last_avail = idx;
	vq->used_idx = idx;
	vq->signalled_used = idx;
}
