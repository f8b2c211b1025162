/* Split virtqueues as a Linux driver fills them (tests/unit/virtq_driver)
 * and as a hostile guest corrupts them: chains, wrap-around of the 16-bit
 * indices, indirect tables, EVENT_IDX and NO_INTERRUPT notification
 * decisions, notification suppression, and every malformed chain or ring
 * the validator must refuse without touching memory outside guest RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "unit/virtq_driver.h"
#include "virtio/virtqueue.h"

/* The Makefile links one .c per unit test; the helper comes along here. */
#include "unit/virtq_driver.c"

/* Two adjacent RAM regions: [0, 1M) and [1M, 2M). */
#define RAM_SPLIT  0x100000ull
#define RING       0x1000ull
#define TABLE      0x30000ull
#define DATA       0x40000ull
#define IOV_CAP    8192

struct fx {
	struct guest_mem mem;
	struct vqd d;
	struct virtq vq;
	struct virtq_chain c;
	struct iovec *iov;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guest_region layout[2] = {
		{ .gpa = 0, .size = RAM_SPLIT },
		{ .gpa = RAM_SPLIT, .size = RAM_SPLIT },
	};
	struct rv_err err;

	if (!f)
		return -1;
	f->iov = calloc(IOV_CAP, sizeof(*f->iov));
	if (!f->iov || guest_mem_map(&f->mem, layout, 2, &err) < 0)
		return -1;
	f->c.iov = f->iov;
	f->c.iov_cap = IOV_CAP;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	guest_mem_unmap(&f->mem);
	free(f->iov);
	free(f);
	return 0;
}

static void attach(struct fx *f, uint16_t size, bool event_idx, bool indirect)
{
	struct rv_err err = { { 0 } };

	assert_int_equal(vqd_init(&f->d, &f->mem, size, RING), 0);
	assert_int_equal(vqd_attach(&f->d, &f->vq, event_idx, indirect, &err), 0);
}

static uint8_t *gp(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->mem, gpa, len);

	assert_non_null(p);
	return p;
}

/* Publishes a single-descriptor read-only chain of 8 bytes. */
static uint16_t publish_one(struct fx *f)
{
	struct vqd_seg s = { DATA, 8, false };
	uint16_t head = vqd_add(&f->d, &s, 1);

	vqd_publish(&f->d, head);
	return head;
}

/* Pops one chain and returns it with `written` bytes. */
static void complete_one(struct fx *f, uint32_t written)
{
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	virtq_push(&f->vq, f->c.head, written);
}

/* A malformed chain is consumed (last_avail moves), reported with its
 * head, exposes no segments, and can be returned with length 0. */
static void expect_bad_chain(struct fx *f, uint16_t head)
{
	uint16_t before = f->vq.last_avail;
	uint32_t id, len;

	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_BAD_CHAIN);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.nout + f->c.nin, 0);
	assert_int_equal(f->c.out_len + f->c.in_len, 0);
	assert_int_equal(f->vq.last_avail, (uint16_t)(before + 1));
	assert_false(f->vq.broken);
	virtq_push(&f->vq, head, 0);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_EMPTY);
}

/* ---- virtq_init ---- */

static void test_init_rejects_bad_rings(void **state)
{
	struct fx *f = *state;
	struct virtq vq;
	struct rv_err err = { { 0 } };
	const uint16_t bad_sizes[] = { 0, 3, 6, 100, 0x7fff, 0xffff };

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		err.msg[0] = 0;
		assert_int_equal(virtq_init(&vq, &f->mem, bad_sizes[i], 0x1000,
					    0x2000, 0x3000, false, false, &err), -1);
		assert_non_null(strstr(err.msg, "size"));
	}
	/* Alignment: desc 16, avail 2, used 4. */
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 0x1008, 0x2000, 0x3000,
				    false, false, &err), -1);
	assert_non_null(strstr(err.msg, "descriptor table"));
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 0x1000, 0x2001, 0x3000,
				    false, false, &err), -1);
	assert_non_null(strstr(err.msg, "available ring"));
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 0x1000, 0x2000, 0x3002,
				    false, false, &err), -1);
	assert_non_null(strstr(err.msg, "used ring"));
	/* Outside RAM, and straddling the end of RAM by the trailing
	 * event field (avail is 6 + 2 * 8 = 22 bytes, used 6 + 64 = 70). */
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 2 * RAM_SPLIT, 0x2000,
				    0x3000, false, false, &err), -1);
	assert_non_null(strstr(err.msg, "outside guest RAM"));
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 0x1000,
				    2 * RAM_SPLIT - 20, 0x3000, true, false,
				    &err), -1);
	assert_non_null(strstr(err.msg, "available ring"));
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 0x1000, 0x2000,
				    2 * RAM_SPLIT - 68, true, false, &err), -1);
	assert_non_null(strstr(err.msg, "used ring"));
	/* A ring across the boundary of two RAM regions. */
	assert_int_equal(virtq_init(&vq, &f->mem, 8, RAM_SPLIT - 64, 0x2000,
				    0x3000, false, false, &err), -1);
	assert_int_equal(virtq_init(&vq, &f->mem, 8, UINT64_MAX - 15, 0x2000,
				    0x3000, false, false, &err), -1);
	/* A queue whose init failed refuses everything instead of using
	 * NULL ring pointers. */
	assert_int_equal(virtq_pop(&vq, &f->c), VIRTQ_BROKEN);
	assert_int_equal(virtq_avail_count(&vq), 0);
	virtq_push(&vq, 0, 0);
	assert_false(virtq_should_notify(&vq));
	virtq_disable_notify(&vq);
	assert_false(virtq_enable_notify(&vq));
}

static void test_init_accepts_limits(void **state)
{
	struct fx *f = *state;
	struct virtq vq;
	struct rv_err err = { { 0 } };

	/* Exactly fitting at the end of RAM. */
	assert_int_equal(virtq_init(&vq, &f->mem, 8, 0x1000,
				    2 * RAM_SPLIT - 22, 2 * RAM_SPLIT - 72,
				    true, false, &err), 0);
	assert_int_equal(virtq_init(&vq, &f->mem, 1, 0x1000, 0x2000, 0x3000,
				    false, false, &err), 0);
	assert_int_equal(vq.size, 1);
	assert_int_equal(virtq_init(&vq, &f->mem, VIRTQ_MAX_SIZE, 0,
				    0x80000, 0xa0000, true, true, &err), 0);
	assert_int_equal(vq.size, VIRTQ_MAX_SIZE);
	assert_int_equal(virtq_pop(&vq, &f->c), VIRTQ_EMPTY);
}

/* ---- well-formed chains ---- */

static void test_simple_chain(void **state)
{
	struct fx *f = *state;
	struct vqd_seg s = { DATA, 16, false };
	uint8_t buf[16];
	uint32_t id, len;
	uint16_t head;

	attach(f, 8, false, false);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_EMPTY);
	memcpy(gp(f, DATA, 16), "0123456789abcdef", 16);
	head = vqd_add(&f->d, &s, 1);
	vqd_publish(&f->d, head);
	assert_int_equal(virtq_avail_count(&f->vq), 1);

	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_int_equal(f->c.out_len, 16);
	assert_ptr_equal(f->c.iov[0].iov_base, gp(f, DATA, 16));
	assert_int_equal(virtq_chain_read(&f->c, 0, buf, sizeof(buf)), 16);
	assert_memory_equal(buf, "0123456789abcdef", 16);
	assert_int_equal(virtq_chain_write(&f->c, 0, buf, 4), 0);
	assert_int_equal(virtq_avail_count(&f->vq), 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_EMPTY);

	assert_false(vqd_get_used(&f->d, &id, &len));
	virtq_push(&f->vq, head, 0);
	assert_int_equal(vqd_used_idx(&f->d), 1);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
}

static void test_mixed_out_in(void **state)
{
	struct fx *f = *state;
	struct vqd_seg s[4] = {
		{ DATA, 3, false },
		{ DATA + 0x100, 5, false },
		{ DATA + 0x200, 4, true },
		{ DATA + 0x300, 6, true },
	};
	uint8_t buf[16] = { 0 };
	uint32_t id, len;
	uint16_t head;

	attach(f, 8, false, false);
	memcpy(gp(f, DATA, 3), "abc", 3);
	memcpy(gp(f, DATA + 0x100, 5), "defgh", 5);
	memset(gp(f, DATA + 0x200, 4), '.', 4);
	memset(gp(f, DATA + 0x300, 6), '.', 6);
	head = vqd_add(&f->d, s, 4);
	vqd_publish(&f->d, head);

	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_int_equal(f->c.out_len, 8);
	assert_int_equal(f->c.in_len, 10);
	/* Reads cross segment boundaries and honour skip. */
	assert_int_equal(virtq_chain_read(&f->c, 0, buf, 16), 8);
	assert_memory_equal(buf, "abcdefgh", 8);
	assert_int_equal(virtq_chain_read(&f->c, 2, buf, 4), 4);
	assert_memory_equal(buf, "cdef", 4);
	assert_int_equal(virtq_chain_read(&f->c, 8, buf, 4), 0);
	/* Writes go only to the in part, starting after skip. */
	assert_int_equal(virtq_chain_write(&f->c, 2, "123456789", 9), 8);
	assert_memory_equal(gp(f, DATA + 0x200, 4), "..12", 4);
	assert_memory_equal(gp(f, DATA + 0x300, 6), "345678", 6);
	assert_memory_equal(gp(f, DATA, 3), "abc", 3);
	assert_int_equal(virtq_chain_write(&f->c, 10, "x", 1), 0);

	virtq_push(&f->vq, head, 10);
	assert_true(vqd_get_used(&f->d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 10);
}

/* Start both indices just below 65535 and run through the wrap, with the
 * ring slots wrapping several times too. */
static void test_index_wrap(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	attach(f, 4, false, false);
	vqd_set_start_index(&f->d, &f->vq, 65530);
	for (unsigned int round = 0; round < 5; round++) {
		uint16_t heads[3];

		for (int k = 0; k < 3; k++)
			heads[k] = publish_one(f);
		assert_int_equal(virtq_avail_count(&f->vq), 3);
		for (int k = 0; k < 3; k++) {
			assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
			assert_int_equal(f->c.head, heads[k]);
			virtq_push(&f->vq, heads[k], 100 + k);
		}
		assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_EMPTY);
		for (int k = 0; k < 3; k++) {
			assert_true(vqd_get_used(&f->d, &id, &len));
			assert_int_equal(id, heads[k]);
			assert_int_equal(len, 100 + k);
		}
		assert_false(vqd_get_used(&f->d, &id, &len));
	}
	assert_int_equal(f->vq.last_avail, (uint16_t)(65530 + 15));
	assert_int_equal(vqd_used_idx(&f->d), (uint16_t)(65530 + 15));
	/* A full ring (size entries pending) across the wrap is fine. */
	vqd_set_start_index(&f->d, &f->vq, 65534);
	for (int k = 0; k < 4; k++)
		publish_one(f);
	assert_int_equal(virtq_avail_count(&f->vq), 4);
	for (int k = 0; k < 4; k++)
		assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_EMPTY);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;
	struct vqd_seg s[3] = {
		{ DATA, 16, false },
		{ DATA + 0x100, 512, true },
		{ DATA + 0x400, 1, true },
	};
	uint16_t head;

	attach(f, 4, false, true);
	head = vqd_add_indirect(&f->d, s, 3, TABLE);
	vqd_publish(&f->d, head);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 2);
	assert_int_equal(f->c.out_len, 16);
	assert_int_equal(f->c.in_len, 513);
	assert_ptr_equal(f->c.iov[2].iov_base, gp(f, DATA + 0x400, 1));

	/* An indirect table may hold more entries than the queue size only
	 * if the chain it describes is not longer: 4 fits exactly. */
	{
		struct vqd_seg many[5];

		for (int k = 0; k < 5; k++)
			many[k] = (struct vqd_seg){ DATA + 16 * k, 16, false };
		head = vqd_add_indirect(&f->d, many, 4, TABLE);
		vqd_publish(&f->d, head);
		assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
		assert_int_equal(f->c.nout, 4);
		head = vqd_add_indirect(&f->d, many, 5, TABLE);
		vqd_publish(&f->d, head);
		expect_bad_chain(f, head);
	}

	/* Direct descriptors followed by one indirect (2.7.5.3.2 MUST). */
	vqd_set_table_desc(&f->d, TABLE, 0, DATA + 0x200, 8, VIRTQ_DESC_F_WRITE, 0);
	vqd_set_desc(&f->d, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_int_equal(f->c.in_len, 8);

	/* The WRITE flag on the descriptor naming the table is ignored. */
	vqd_set_desc(&f->d, 2, TABLE, 16,
		     VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	vqd_set_table_desc(&f->d, TABLE, 0, DATA, 8, 0, 0);
	vqd_publish(&f->d, 2);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.nout, 1);
}

static void test_zero_length_descriptors(void **state)
{
	struct fx *f = *state;

	attach(f, 4, false, false);
	/* Skipped without an address check: nothing is accessed. */
	vqd_set_desc(&f->d, 0, 1ull << 40, 0, VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	vqd_set_desc(&f->d, 2, DATA, 0, VIRTQ_DESC_F_WRITE, 0);
	vqd_publish(&f->d, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_int_equal(f->c.out_len, 8);
	/* ...but they still obey the read/write order. */
	vqd_set_desc(&f->d, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, DATA, 0, 0, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
}

/* ---- notification decisions ---- */

/* Pushes n completions with used_event set to `event` beforehand and
 * returns the decision. */
static bool push_and_decide(struct fx *f, uint16_t event, unsigned int n)
{
	vqd_set_used_event(&f->d, event);
	for (unsigned int k = 0; k < n; k++) {
		publish_one(f);
		complete_one(f, 0);
	}
	return virtq_should_notify(&f->vq);
}

static void test_event_idx_notify(void **state)
{
	struct fx *f = *state;

	attach(f, 8, true, false);
	/* Nothing pushed: never notify. */
	assert_false(virtq_should_notify(&f->vq));
	/* The first decision after init notifies whatever used_event says. */
	assert_true(push_and_decide(f, 100, 1));        /* used 0 -> 1 */
	assert_false(virtq_should_notify(&f->vq));      /* nothing new */
	/* used_event = 1: notify when the entry at index 1 is written. */
	assert_true(push_and_decide(f, 1, 1));          /* 1 -> 2 */
	assert_false(push_and_decide(f, 1, 1));         /* 2 -> 3: passed */
	assert_false(push_and_decide(f, 4, 1));         /* 3 -> 4: not yet */
	assert_true(push_and_decide(f, 4, 1));          /* 4 -> 5 */
	/* A batch: notify iff used_event is in [old, new). */
	assert_true(push_and_decide(f, 5, 3));          /* 5 -> 8, first */
	assert_true(push_and_decide(f, 10, 3));         /* 8 -> 11, last */
	assert_false(push_and_decide(f, 14, 3));        /* 11 -> 14, just after */
	assert_false(push_and_decide(f, 13, 0));        /* no push, even if in range */
	assert_false(push_and_decide(f, 2, 3));         /* 14 -> 17, behind */
	/* The driver's NO_INTERRUPT bit is ignored with EVENT_IDX (2.7.7.2). */
	vqd_set_avail_flags(&f->d, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_true(push_and_decide(f, 17, 1));         /* 17 -> 18 */
	vqd_set_avail_flags(&f->d, 0);
	assert_false(push_and_decide(f, 17, 1));        /* 18 -> 19 */
}

static void test_event_idx_notify_wrap(void **state)
{
	struct fx *f = *state;

	attach(f, 8, true, false);
	vqd_set_start_index(&f->d, &f->vq, 65533);
	assert_true(push_and_decide(f, 0, 1));         /* first: 65533 -> 65534 */
	assert_true(push_and_decide(f, 65535, 3));     /* 65534 -> 1 */
	assert_true(push_and_decide(f, 1, 2));         /* 1 -> 3 */
	assert_false(push_and_decide(f, 65535, 2));    /* 3 -> 5: far behind */
	assert_true(push_and_decide(f, 5, 8));         /* 5 -> 13 */
}

static void test_no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, false);
	assert_false(virtq_should_notify(&f->vq));
	publish_one(f);
	complete_one(f, 0);
	assert_true(virtq_should_notify(&f->vq));
	assert_false(virtq_should_notify(&f->vq));
	vqd_set_avail_flags(&f->d, VIRTQ_AVAIL_F_NO_INTERRUPT);
	publish_one(f);
	complete_one(f, 0);
	assert_false(virtq_should_notify(&f->vq));
	/* used_event is ignored without EVENT_IDX. */
	vqd_set_avail_flags(&f->d, 0);
	vqd_set_used_event(&f->d, 1000);
	publish_one(f);
	publish_one(f);
	complete_one(f, 0);
	complete_one(f, 0);
	assert_true(virtq_should_notify(&f->vq));
}

static void test_notify_suppression_flags(void **state)
{
	struct fx *f = *state;
	uint16_t old;

	attach(f, 8, false, false);
	assert_true(vqd_kick_needed(&f->d, false, 0));
	virtq_disable_notify(&f->vq);
	assert_int_equal(vqd_used_flags(&f->d), VIRTQ_USED_F_NO_NOTIFY);
	old = f->d.avail_idx;
	publish_one(f);
	assert_false(vqd_kick_needed(&f->d, false, old));
	/* The buffer that arrived while kicks were off is reported. */
	assert_true(virtq_enable_notify(&f->vq));
	assert_int_equal(vqd_used_flags(&f->d), 0);
	complete_one(f, 0);
	assert_false(virtq_enable_notify(&f->vq));
	old = f->d.avail_idx;
	publish_one(f);
	assert_true(vqd_kick_needed(&f->d, false, old));
}

static void test_notify_suppression_event_idx(void **state)
{
	struct fx *f = *state;
	uint16_t old;

	attach(f, 8, true, false);
	/* avail_event starts at 0: the first buffer (index 0) kicks. */
	old = f->d.avail_idx;
	publish_one(f);
	assert_true(vqd_kick_needed(&f->d, true, old));
	virtq_disable_notify(&f->vq);
	assert_int_equal(vqd_used_flags(&f->d), 0);
	complete_one(f, 0);
	/* While the device drains, avail_event stays behind: no kicks. */
	old = f->d.avail_idx;
	publish_one(f);
	assert_false(vqd_kick_needed(&f->d, true, old));
	/* The device re-enables and must find that buffer itself. */
	assert_true(virtq_enable_notify(&f->vq));
	assert_int_equal(vqd_avail_event(&f->d), 1);
	complete_one(f, 0);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(vqd_avail_event(&f->d), 2);
	/* Now the next buffer (index 2) kicks, a batch over it too. */
	old = f->d.avail_idx;
	publish_one(f);
	publish_one(f);
	assert_true(vqd_kick_needed(&f->d, true, old));
}

/* ---- hostile chains: consumed and failed, queue keeps working ---- */

static void test_desc_loop(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, false);
	vqd_set_desc(&f->d, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	/* Self loop, and a longer cycle through every descriptor. */
	vqd_set_desc(&f->d, 3, DATA, 8, VIRTQ_DESC_F_NEXT, 3);
	vqd_publish(&f->d, 3);
	expect_bad_chain(f, 3);
	for (uint16_t i = 0; i < 8; i++)
		vqd_set_desc(&f->d, i, DATA, 8, VIRTQ_DESC_F_NEXT, (i + 1) % 8);
	vqd_publish(&f->d, 5);
	expect_bad_chain(f, 5);
	/* Exactly size descriptors is the longest legal chain. */
	vqd_set_desc(&f->d, 7, DATA, 8, 0, 0);
	vqd_publish(&f->d, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.nout, 8);
}

static void test_loop_in_indirect_table(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, true);
	vqd_set_table_desc(&f->d, TABLE, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_set_table_desc(&f->d, TABLE, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	vqd_set_desc(&f->d, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, true);
	vqd_set_desc(&f->d, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 8);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_set_desc(&f->d, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 0xffff);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	/* Inside an indirect table: NEXT beyond the table's own length
	 * (the main table is bigger, that does not matter). */
	vqd_set_table_desc(&f->d, TABLE, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	vqd_set_table_desc(&f->d, TABLE, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	vqd_set_table_desc(&f->d, TABLE, 2, DATA, 8, 0, 0);
	vqd_set_desc(&f->d, 1, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 1);
	expect_bad_chain(f, 1);
}

static void test_addr_out_of_ram(void **state)
{
	struct fx *f = *state;
	const struct { uint64_t addr; uint32_t len; } bad[] = {
		{ 2 * RAM_SPLIT, 1 },                /* just past RAM */
		{ 2 * RAM_SPLIT - 8, 9 },            /* runs off the end */
		{ RAM_SPLIT - 8, 16 },               /* spans two regions */
		{ UINT64_MAX - 4, 16 },              /* addr + len wraps */
		{ UINT64_MAX, 1 },
		{ 0x123456789000ull, 4096 },
	};

	attach(f, 8, false, false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vqd_set_desc(&f->d, 2, DATA, 8, VIRTQ_DESC_F_NEXT, 4);
		vqd_set_desc(&f->d, 4, bad[i].addr, bad[i].len,
			     VIRTQ_DESC_F_WRITE, 0);
		vqd_publish(&f->d, 2);
		expect_bad_chain(f, 2);
	}
	/* The last byte of RAM is fine. */
	vqd_set_desc(&f->d, 4, 2 * RAM_SPLIT - 1, 1, VIRTQ_DESC_F_WRITE, 0);
	vqd_publish(&f->d, 4);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.in_len, 1);
}

/* 4096 descriptors of 1 MiB sum to 2^32: one byte more than used->len can
 * carry. 4095 of them are accepted. */
static void test_huge_length_sum(void **state)
{
	struct fx *f = *state;

	attach(f, 8192, false, false);
	for (uint16_t i = 0; i < 4096; i++)
		vqd_set_desc(&f->d, i, 0, RAM_SPLIT, VIRTQ_DESC_F_NEXT, i + 1);
	vqd_set_desc(&f->d, 4095, 0, RAM_SPLIT, 0, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_publish(&f->d, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.nout, 4095);
	assert_int_equal(f->c.out_len, 4095ull * RAM_SPLIT);
	/* Mixed out and in count against the same total. */
	vqd_set_desc(&f->d, 2048, 0, RAM_SPLIT, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		     2049);
	for (uint16_t i = 2049; i < 4095; i++)
		vqd_set_desc(&f->d, i, 0, RAM_SPLIT,
			     VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, i + 1);
	vqd_set_desc(&f->d, 4095, 0, RAM_SPLIT, VIRTQ_DESC_F_WRITE, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
}

static void test_write_then_read(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, true);
	vqd_set_desc(&f->d, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, DATA + 8, 8, 0, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	/* Same inside an indirect table. */
	vqd_set_table_desc(&f->d, TABLE, 0, DATA, 8, 0, 0);
	vqd_set_desc(&f->d, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
}

static void test_bad_indirect(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, true);
	vqd_set_table_desc(&f->d, TABLE, 0, DATA, 8, 0, 0);
	vqd_set_table_desc(&f->d, TABLE, 1, DATA, 8, 0, 0);
	/* Nested: a table entry pointing at another table. */
	vqd_set_table_desc(&f->d, TABLE + 0x100, 0, TABLE, 16,
			   VIRTQ_DESC_F_INDIRECT, 0);
	vqd_set_desc(&f->d, 0, TABLE + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	/* INDIRECT together with NEXT. */
	vqd_set_desc(&f->d, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	vqd_set_desc(&f->d, 1, DATA, 8, 0, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	/* Table length not a multiple of 16, zero, outside RAM, spanning
	 * the region boundary. */
	vqd_set_desc(&f->d, 0, TABLE, 24, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_set_desc(&f->d, 0, TABLE, 8, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_set_desc(&f->d, 0, TABLE, 0, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_set_desc(&f->d, 0, 2 * RAM_SPLIT - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_set_desc(&f->d, 0, RAM_SPLIT - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	vqd_set_desc(&f->d, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	expect_bad_chain(f, 0);
	/* An unaligned table address is legal (memcpy'd, UBSan watches). */
	vqd_set_table_desc(&f->d, TABLE + 3, 0, DATA, 8, 0, 0);
	vqd_set_desc(&f->d, 0, TABLE + 3, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqd_publish(&f->d, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.out_len, 8);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;
	struct vqd_seg s = { DATA, 8, false };
	uint16_t head;

	attach(f, 8, false, false);
	head = vqd_add_indirect(&f->d, &s, 1, TABLE);
	vqd_publish(&f->d, head);
	expect_bad_chain(f, head);
}

static void test_more_segments_than_iov(void **state)
{
	struct fx *f = *state;
	struct vqd_seg s[3] = {
		{ DATA, 8, false }, { DATA, 8, false }, { DATA, 8, true },
	};
	uint16_t head;

	attach(f, 8, false, false);
	f->c.iov_cap = 2;
	head = vqd_add(&f->d, s, 3);
	vqd_publish(&f->d, head);
	expect_bad_chain(f, head);
	assert_int_equal(f->iov[2].iov_len, 0);  /* never written past cap */
	head = vqd_add(&f->d, s, 2);
	vqd_publish(&f->d, head);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
}

/* A bad chain between two good ones: each is taken in turn, so the
 * device makes progress and the good requests are served. */
static void test_bad_chain_consumed(void **state)
{
	struct fx *f = *state;
	uint16_t a, b;

	attach(f, 8, false, false);
	a = publish_one(f);
	vqd_set_desc(&f->d, 5, DATA, 8, VIRTQ_DESC_F_NEXT, 5);
	vqd_publish(&f->d, 5);
	b = publish_one(f);
	assert_int_equal(virtq_avail_count(&f->vq), 3);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.head, a);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_BAD_CHAIN);
	assert_int_equal(f->c.head, 5);
	assert_int_equal(virtq_avail_count(&f->vq), 1);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.head, b);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_EMPTY);
	/* The same malformed chain again and again never wedges the queue. */
	for (int k = 0; k < 100; k++) {
		vqd_publish(&f->d, 5);
		expect_bad_chain(f, 5);
	}
}

/* ---- broken rings: the queue stops for good ---- */

static void assert_stays_broken(struct fx *f)
{
	uint16_t used = vqd_used_idx(&f->d);

	assert_true(f->vq.broken);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_BROKEN);
	assert_int_equal(virtq_avail_count(&f->vq), 0);
	/* Even once the driver's index looks sane again. */
	vqd_set_avail_idx(&f->d, f->vq.last_avail + 1);
	vqd_set_avail_ring(&f->d, f->vq.last_avail, 0);
	vqd_set_desc(&f->d, 0, DATA, 8, 0, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_BROKEN);
	virtq_push(&f->vq, 0, 8);
	assert_int_equal(vqd_used_idx(&f->d), used);
	assert_false(virtq_should_notify(&f->vq));
	assert_false(virtq_enable_notify(&f->vq));
}

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, false);
	publish_one(f);
	complete_one(f, 0);
	vqd_set_avail_idx(&f->d, f->d.avail_idx + 9);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_BROKEN);
	assert_stays_broken(f);
}

static void test_avail_idx_backwards(void **state)
{
	struct fx *f = *state;

	/* A decrement looks like a jump of ~65535 entries. */
	attach(f, 8, false, false);
	vqd_set_start_index(&f->d, &f->vq, 100);
	vqd_set_avail_idx(&f->d, 99);
	assert_int_equal(virtq_avail_count(&f->vq), 0);
	assert_stays_broken(f);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	attach(f, 8, false, false);
	vqd_set_avail_ring(&f->d, 0, 8);
	vqd_set_avail_idx(&f->d, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_BROKEN);
	assert_stays_broken(f);
}

/* ---- in-flight tracking and a frontend taking over ---- */

struct failed {
	uint16_t heads[16];
	unsigned int n;
};

/* What a frontend does for each chain its dead device left: the test
 * records the order and reports 1 byte written. */
static uint32_t record_fail(void *ctx, struct virtq_chain *c, bool ok)
{
	struct failed *fl = ctx;

	assert_true(ok);
	fl->heads[fl->n++] = c->head;
	return 1;
}

static void test_inflight_take_over(void **state)
{
	struct fx *f = *state;
	size_t len = virtq_inflight_bytes(8);
	struct virtq_inflight *r = calloc(1, len);
	struct virtq front;
	struct failed fl = { .n = 0 };
	uint16_t h[4];
	uint32_t id, used_len;
	struct rv_err err = { { 0 } };

	assert_non_null(r);
	attach(f, 8, false, false);
	virtq_track_inflight(&f->vq, r);
	for (int i = 0; i < 4; i++)
		h[i] = publish_one(f);
	/* The device takes three, answers the second, then dies. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	virtq_push(&f->vq, h[1], 0);
	assert_int_equal(r->desc[h[0]].inflight, 1);
	assert_int_equal(r->desc[h[1]].inflight, 0);
	assert_int_equal(r->desc[h[2]].inflight, 1);
	assert_int_equal(r->used_idx, 1);

	/* The frontend's own view of the ring answers what was in flight,
	 * oldest first, and takes the fourth chain, never taken, itself. */
	assert_int_equal(vqd_attach(&f->d, &front, false, false, &err), 0);
	assert_int_equal(virtq_take_over(&front, r, record_fail, &fl, &f->c,
					 &err), 2);
	assert_int_equal(fl.n, 2);
	assert_int_equal(fl.heads[0], h[0]);
	assert_int_equal(fl.heads[1], h[2]);
	assert_int_equal(vqd_used_idx(&f->d), 3);
	assert_true(vqd_get_used(&f->d, &id, &used_len));   /* h[1], by the device */
	assert_true(vqd_get_used(&f->d, &id, &used_len));
	assert_int_equal(id, h[0]);
	assert_int_equal(used_len, 1);
	assert_int_equal(virtq_pop(&front, &f->c), VIRTQ_OK);
	assert_int_equal(f->c.head, h[3]);
	assert_int_equal(virtq_pop(&front, &f->c), VIRTQ_EMPTY);
	free(r);
}

/* Death between publishing a used entry and clearing its mark: the mark
 * is stale, and the chain must not be answered twice. */
static void test_inflight_stale_mark(void **state)
{
	struct fx *f = *state;
	struct virtq_inflight *r = calloc(1, virtq_inflight_bytes(8));
	struct virtq front;
	struct failed fl = { .n = 0 };
	uint16_t h0, h1;
	struct rv_err err = { { 0 } };

	assert_non_null(r);
	attach(f, 8, false, false);
	virtq_track_inflight(&f->vq, r);
	h0 = publish_one(f);
	h1 = publish_one(f);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	virtq_push(&f->vq, h0, 0);
	/* Undo the last two steps of the push, as a kill right after the
	 * used index went out would leave them. */
	r->desc[h0].inflight = 1;
	r->used_idx = 0;
	assert_int_equal(vqd_attach(&f->d, &front, false, false, &err), 0);
	assert_int_equal(virtq_take_over(&front, r, record_fail, &fl, &f->c,
					 &err), 1);
	assert_int_equal(fl.heads[0], h1);
	assert_int_equal(vqd_used_idx(&f->d), 2);
	/* A region that contradicts the ring is refused. */
	r->used_idx = 7;
	assert_int_equal(virtq_take_over(&front, r, record_fail, &fl, &f->c,
					 &err), -1);
	free(r);
}

/* Chains given back are no longer in flight. */
static void test_inflight_unpop(void **state)
{
	struct fx *f = *state;
	struct virtq_inflight *r = calloc(1, virtq_inflight_bytes(8));
	uint16_t h;

	assert_non_null(r);
	attach(f, 8, false, false);
	virtq_track_inflight(&f->vq, r);
	h = publish_one(f);
	assert_int_equal(virtq_pop(&f->vq, &f->c), VIRTQ_OK);
	assert_int_equal(r->desc[h].inflight, 1);
	virtq_unpop(&f->vq, 1);
	assert_int_equal(r->desc[h].inflight, 0);
	free(r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_init_rejects_bad_rings),
		T(test_init_accepts_limits),
		T(test_simple_chain),
		T(test_mixed_out_in),
		T(test_index_wrap),
		T(test_indirect),
		T(test_zero_length_descriptors),
		T(test_event_idx_notify),
		T(test_event_idx_notify_wrap),
		T(test_no_interrupt_flag),
		T(test_notify_suppression_flags),
		T(test_notify_suppression_event_idx),
		T(test_desc_loop),
		T(test_loop_in_indirect_table),
		T(test_next_out_of_range),
		T(test_addr_out_of_ram),
		T(test_huge_length_sum),
		T(test_write_then_read),
		T(test_bad_indirect),
		T(test_indirect_not_negotiated),
		T(test_more_segments_than_iov),
		T(test_bad_chain_consumed),
		T(test_avail_idx_jump),
		T(test_avail_idx_backwards),
		T(test_head_out_of_range),
		T(test_inflight_take_over),
		T(test_inflight_stale_mark),
		T(test_inflight_unpop),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
