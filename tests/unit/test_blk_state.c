/* Snapshot save/load and pause/resume of virtio-blk, without KVM, on both
 * back ends (io_uring and the synchronous one): a disk driven through
 * BAR0 and split rings in guest memory (see unit/virtio_state_rig.h) is
 * paused, saved and freed, and a FRESH device on the same image loads the
 * state: active again, every register as the driver left it, vectors
 * re-routed, the write the guest queued while paused done now, and each
 * queue's next request served at the right used index with the right
 * data. Another image size, read-only mode, queue count or queue size is
 * refused with a message saying so, as are corrupt sections; a refused
 * load writes nothing to the image. Pause completes every request the
 * device took before it returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/state.h"
#include "unit/virtio_pci_driver.h"
#include "unit/virtio_state_rig.h"
#include "unit/virtq_driver.h"
#include "util/le.h"
#include "virtio/blk.h"
#include "virtio/blk_req.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"
#include "unit/virtio_pci_driver.c"
#include "unit/virtio_state_rig.c"

#define BIT(n)     (1ull << (n))
/* Guest buffers (see unit/virtio_state_rig.h). */
#define BUF        RIG_BUF
#define DATA       RIG_DATA

#define BLK_QSIZE   128
#define IMG_SECTORS 8192u               /* 4 MiB */

static uint8_t img_byte(uint64_t off)
{
	return (uint8_t)(off * 5 + (off >> 9) * 11 + 3);
}

static void blk_fx(struct rig *f)
{
	uint8_t *img = malloc(IMG_SECTORS * 512);

	assert_non_null(img);
	snprintf(f->path, sizeof(f->path), "/var/tmp/ringvm-vstate-XXXXXX");
	f->imgfd = mkstemp(f->path);
	assert_true(f->imgfd >= 0);
	for (uint64_t i = 0; i < IMG_SECTORS * 512; i++)
		img[i] = img_byte(i);
	assert_int_equal(pwrite(f->imgfd, img, IMG_SECTORS * 512, 0),
			 IMG_SECTORS * 512);
	free(img);
	vpd_init(&f->drv, &f->mem, 2, BLK_QSIZE, RIG_RING0);
}

struct blk_cfg {
	bool sync, ro;
	unsigned int nq;
	uint16_t qsize;
};

static struct virtio_blk *blk_new_cfg(struct rig *f, struct rig_sink *s,
				      const struct blk_cfg *c)
{
	struct virtio_blk_opts o = {
		.path = f->path, .readonly = c->ro, .nqueues = c->nq,
		.queue_size = c->qsize, .force_sync = c->sync,
	};
	struct rv_err err;
	struct virtio_blk *b = virtio_blk_new(&o, &f->mem, rig_sink_of(s),
					      &err);

	if (!b)
		fail_msg("%s", err.msg);
	if (!c->sync && !virtio_blk_uses_uring(b)) {
		/* Only the environment may excuse the fallback. */
		struct io_uring probe;
		int rc = io_uring_queue_init(8, &probe, 0);

		if (rc == 0) {
			io_uring_queue_exit(&probe);
			fail_msg("no io_uring (%s) although it works here",
				 virtio_blk_why_sync(b));
		}
		print_message("io_uring unavailable here (%s): io_uring path NOT tested\n",
			      strerror(-rc));
		virtio_blk_free(b);
		skip();
	}
	return b;
}

/* A request in slot k (header, data and status buffers of its own). */
static uint16_t blk_post(struct rig *f, unsigned int q, unsigned int k,
			 uint32_t type, uint64_t sector, uint32_t len)
{
	uint64_t hdr = BUF + 0x100ull * k, st = hdr + 0x80;
	uint64_t data = DATA + 0x10000ull * k;
	uint8_t *h = rig_mem(f, hdr, 16);
	struct vqd_seg s[3];
	unsigned int n = 0;
	uint16_t head;

	assert_true(len <= 0x10000 && k < 64);
	put_le32(h, type);
	put_le32(h + 4, 0);
	put_le64(h + 8, sector);
	*rig_mem(f, st, 1) = 0xff;
	s[n++] = (struct vqd_seg){ hdr, 16, false };
	if (len)
		s[n++] = (struct vqd_seg){ data, len, type == VIRTIO_BLK_T_IN };
	s[n++] = (struct vqd_seg){ st, 1, true };
	rig_post(f, q, s, n, &head);
	return head;
}

static void blk_done(struct rig *f, unsigned int q, uint16_t head,
		     unsigned int k, uint32_t used_len, uint16_t used_idx)
{
	rig_expect_used(f, q, head, used_len, used_idx);
	assert_int_equal(*rig_mem(f, BUF + 0x100ull * k + 0x80, 1),
			 VIRTIO_BLK_S_OK);
}

static void fill_data(struct rig *f, unsigned int k, uint32_t len,
		      uint8_t seed)
{
	uint8_t *d = rig_mem(f, DATA + 0x10000ull * k, len);

	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(seed ^ (i * 13));
}

static bool data_is(struct rig *f, unsigned int k, uint32_t len, uint8_t seed)
{
	const uint8_t *d = rig_mem(f, DATA + 0x10000ull * k, len);

	for (uint32_t i = 0; i < len; i++)
		if (d[i] != (uint8_t)(seed ^ (i * 13)))
			return false;
	return true;
}

static bool image_is(struct rig *f, uint64_t sector, uint32_t len,
		     uint8_t seed)
{
	uint8_t buf[4096];

	assert_true(len <= sizeof(buf));
	assert_int_equal(pread(f->imgfd, buf, len, (off_t)sector * 512), len);
	for (uint32_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(seed ^ (i * 13)))
			return false;
	return true;
}

/* Two queues, queue 0 on vector 2, queue 1 on 0, config on 1; a write
 * and a flush on queue 0, a read on queue 1; paused and saved as
 * "disk0", then a write posted and kicked while paused (not served). */
static uint16_t blk_busy_saved(struct rig *f, const struct blk_cfg *c,
			       struct rig_view *view)
{
	uint16_t h, pending;

	f->blk[0] = blk_new_cfg(f, &f->sa, c);
	f->drv.t = virtio_blk_transport(f->blk[0]);
	vpd_setup(&f->drv, BIT(VIRTIO_RING_F_INDIRECT_DESC));
	rig_program_vectors(f, (const uint16_t[]){ 2, 0 }, 1);
	fill_data(f, 0, 4096, 0x5a);
	h = blk_post(f, 0, 0, VIRTIO_BLK_T_OUT, 10, 4096);
	blk_done(f, 0, h, 0, 1, 1);
	h = blk_post(f, 0, 1, VIRTIO_BLK_T_FLUSH, 0, 0);
	blk_done(f, 0, h, 1, 1, 2);
	memset(rig_mem(f, DATA + 0x20000, 4096), 0, 4096);
	h = blk_post(f, 1, 2, VIRTIO_BLK_T_IN, 10, 4096);
	blk_done(f, 1, h, 2, 4097, 1);
	assert_true(data_is(f, 2, 4096, 0x5a));
	assert_true(rig_fired(&f->sa, 2) >= 1 && rig_fired(&f->sa, 0) >= 1);
	assert_int_equal(rig_fired(&f->sa, 1), 0);
	virtio_pci_pause(f->drv.t);
	fill_data(f, 3, 2048, 0xc3);
	pending = blk_post(f, 0, 3, VIRTIO_BLK_T_OUT, 100, 2048);
	vpd_kick(&f->drv, 0);
	rig_expect_idle(f, 0, 50);
	assert_false(image_is(f, 100, 2048, 0xc3));
	rig_save(f, rig_save_blk, f->blk[0], "disk0");
	if (view)
		rig_view_read(f->drv.t, 2, view);
	virtio_blk_free(f->blk[0]);
	f->blk[0] = NULL;
	return pending;
}

static void blk_round_trip(struct rig *f, bool sync)
{
	struct blk_cfg c = { .sync = sync, .nq = 2, .qsize = BLK_QSIZE };
	struct rig_view a;
	struct rv_err err = { "" };
	uint16_t h, pending;

	blk_fx(f);
	pending = blk_busy_saved(f, &c, &a);
	f->blk[1] = blk_new_cfg(f, &f->sb, &c);
	f->drv.t = virtio_blk_transport(f->blk[1]);
	if (virtio_blk_load(f->blk[1], &f->snap.r, "disk0", &err) != 0)
		fail_msg("%s", err.msg);
	/* Loaded is not yet serving: a refused restore (a later device)
	 * must not have written anything. vm_restore kicks once all is in. */
	usleep(200000);
	assert_int_equal(vqd_used_idx(&f->drv.q[0]), 2);
	virtio_pci_kick_all(f->drv.t);
	rig_assert_restored(f, &a, 3);
	/* The write the paused device had not taken is done now, at used
	 * index 3 of queue 0. */
	rig_expect_used(f, 0, pending, 1, 3);
	assert_true(image_is(f, 100, 2048, 0xc3));
	/* And each queue goes on: a read on 0, a write on 1. */
	memset(rig_mem(f, DATA + 0x40000, 4096), 0, 4096);
	h = blk_post(f, 0, 4, VIRTIO_BLK_T_IN, 10, 4096);
	blk_done(f, 0, h, 4, 4097, 4);
	assert_true(data_is(f, 4, 4096, 0x5a));
	fill_data(f, 5, 1024, 0x77);
	h = blk_post(f, 1, 5, VIRTIO_BLK_T_OUT, 200, 1024);
	blk_done(f, 1, h, 5, 1, 2);
	assert_true(image_is(f, 200, 1024, 0x77));
	assert_true(rig_fired(&f->sb, 2) >= 1 && rig_fired(&f->sb, 0) >= 1);
	assert_int_equal(rig_fired(&f->sb, 1), 0);
}

static void test_blk_round_trip_sync(void **state)
{
	blk_round_trip(*state, true);
}

static void test_blk_round_trip_uring(void **state)
{
	blk_round_trip(*state, false);
}

static void test_blk_refusals(void **state)
{
	struct rig *f = *state;
	struct blk_cfg c = { .sync = true, .nq = 2, .qsize = BLK_QSIZE };
	struct blk_cfg other;
	struct rv_err err = { "" };
	struct rig_tsec t;
	uint8_t blksec[13];
	char want[128];
	uint16_t pending;

	blk_fx(f);
	pending = blk_busy_saved(f, &c, NULL);
	assert_int_equal(rig_snap_sec(&f->snap, "disk0.blk")->len, 13);
	memcpy(blksec, rig_snap_sec(&f->snap, "disk0.blk")->payload, 13);
	rig_tsec_read(&f->snap, "disk0.virtio", &t);

	/* The image grew: the guest knows the size it had. */
	assert_int_equal(ftruncate(f->imgfd, (IMG_SECTORS + 8) * 512), 0);
	f->blk[1] = blk_new_cfg(f, &f->sb, &c);
	assert_int_equal(virtio_blk_load(f->blk[1], &f->snap.r, "disk0", &err),
			 -1);
	snprintf(want, sizeof(want),
		 "disk0: the disk image now has %u sectors, the guest saw %u",
		 IMG_SECTORS + 8, IMG_SECTORS);
	rig_assert_msg(&err, want);
	virtio_blk_free(f->blk[1]);
	assert_int_equal(ftruncate(f->imgfd, IMG_SECTORS * 512), 0);
	/* Read-only now, another number of queues, smaller queues. */
	other = c;
	other.ro = true;
	f->blk[1] = blk_new_cfg(f, &f->sb, &other);
	assert_int_equal(virtio_blk_load(f->blk[1], &f->snap.r, "disk0", &err),
			 -1);
	rig_assert_msg(&err, "state section disk0.blk: "
		       "read-only in one, writable in the other");
	virtio_blk_free(f->blk[1]);
	other = c;
	other.nq = 1;
	f->blk[1] = blk_new_cfg(f, &f->sb, &other);
	assert_int_equal(virtio_blk_load(f->blk[1], &f->snap.r, "disk0", &err),
			 -1);
	rig_assert_msg(&err,
		       "state section disk0.blk: another number of queues");
	virtio_blk_free(f->blk[1]);
	other = c;
	other.qsize = BLK_QSIZE / 2;
	f->blk[1] = blk_new_cfg(f, &f->sb, &other);
	assert_int_equal(virtio_blk_load(f->blk[1], &f->snap.r, "disk0", &err),
			 -1);
	rig_assert_msg(&err,
		       "state section disk0.virtio: queue size out of range");
	assert_false(virtio_blk_transport(f->blk[1])->active);
	virtio_blk_free(f->blk[1]);
	f->blk[1] = NULL;

	/* Corrupt sections; none of them writes the pending request. */
	for (int round = 0; round < 5; round++) {
		uint8_t p[14];
		struct rig_tstate ts = {
			.devsec = "disk0.blk", .dp = p, .dn = 13, .dver = 1,
			.tname = "disk0.virtio", .tver = 1, .nq = 2,
		};
		struct rig_tsec tt = t;
		struct rig_snap s;
		static const char *const says[] = {
			"disk0.blk: bool at offset 8 is 2",
			"disk0.blk: u32 at offset 9 runs past the end",
			"disk0.blk: 1 bytes left unread",
			"used index 2 in the snapshot, 1 in guest memory",
			"queue MSI-X vector out of range",
		};

		memcpy(p, blksec, 13);
		p[13] = 0;
		if (round == 0)
			p[8] = 2;
		if (round == 1)
			ts.dn = 12;
		if (round == 2)
			ts.dn = 14;
		if (round == 3)
			tt.q[1].used_idx++;
		if (round == 4)
			tt.q[1].vec = 3;
		rig_snap_build(&s, &ts, &tt);
		f->blk[1] = blk_new_cfg(f, &f->sb, &c);
		f->drv.t = virtio_blk_transport(f->blk[1]);
		err.msg[0] = 0;
		assert_int_equal(virtio_blk_load(f->blk[1], &s.r, "disk0",
						 &err), -1);
		rig_assert_msg(&err, says[round]);
		assert_false(f->drv.t->active);
		usleep(20 * 1000);
		virtio_blk_free(f->blk[1]);
		f->blk[1] = NULL;
		rig_snap_free(&s);
	}
	assert_int_equal(vqd_used_idx(&f->drv.q[0]), 2);
	assert_false(image_is(f, 100, 2048, 0xc3));
	/* The snapshot itself still loads, and then the write happens. */
	f->blk[1] = blk_new_cfg(f, &f->sb, &c);
	f->drv.t = virtio_blk_transport(f->blk[1]);
	if (virtio_blk_load(f->blk[1], &f->snap.r, "disk0", &err) != 0)
		fail_msg("%s", err.msg);
	virtio_pci_kick_all(f->drv.t);     /* what vm_restore does then */
	rig_expect_used(f, 0, pending, 1, 3);
	assert_true(image_is(f, 100, 2048, 0xc3));
}

/* Requests in flight when pause is called are completed before it
 * returns; nothing is taken or written while paused; resume serves what
 * was posted meanwhile. */
static void blk_pause(struct rig *f, bool sync)
{
	struct blk_cfg c = { .sync = sync, .nq = 2, .qsize = BLK_QSIZE };
	const unsigned int nreq = 32, len = 0x10000;

	blk_fx(f);
	f->blk[0] = blk_new_cfg(f, &f->sb, &c);
	f->drv.t = virtio_blk_transport(f->blk[0]);
	vpd_setup(&f->drv, BIT(VIRTIO_RING_F_EVENT_IDX));
	for (int round = 0; round < 4; round++) {
		uint16_t base = vqd_used_idx(&f->drv.q[0]);
		const struct virtq *vq;
		unsigned int done, k;
		uint32_t id, l;

		for (k = 0; k < nreq; k++) {
			memset(rig_mem(f, DATA + 0x10000ull * k, len), 0, len);
			blk_post(f, 0, k, VIRTIO_BLK_T_IN,
				 (uint64_t)k * (len / 512), len);
		}
		vpd_kick(&f->drv, 0);
		if (round)
			usleep((useconds_t)round * 150);
		virtio_pci_pause(f->drv.t);
		vq = rig_dev_vq(f, 0);
		/* Everything taken was completed, and published. */
		assert_int_equal(vq->last_avail, vq->used_idx);
		assert_int_equal(vqd_used_idx(&f->drv.q[0]), vq->used_idx);
		done = (uint16_t)(vq->used_idx - base);
		for (k = 0; k < done; k++) {
			assert_true(vqd_get_used(&f->drv.q[0], &id, &l));
			assert_int_equal(l, len + 1);
		}
		/* Paused: no progress, not even on a new kick. */
		blk_post(f, 1, 40, VIRTIO_BLK_T_IN, 0, 512);
		vpd_kick(&f->drv, 1);
		vpd_kick(&f->drv, 0);
		rig_expect_idle(f, 0, 30);
		rig_expect_idle(f, 1, 0);
		virtio_pci_resume(f->drv.t);
		for (k = done; k < nreq; k++) {
			assert_true(vpd_wait_used(&f->drv, 0, &id, &l));
			assert_int_equal(l, len + 1);
		}
		assert_true(vpd_wait_used(&f->drv, 1, &id, &l));
		for (k = 0; k < nreq; k++) {
			const uint8_t *d = rig_mem(f, DATA + 0x10000ull * k,
						   len);
			uint64_t off = (uint64_t)k * len;

			assert_int_equal(*rig_mem(f, BUF + 0x100ull * k + 0x80,
						  1), VIRTIO_BLK_S_OK);
			assert_int_equal(d[0], img_byte(off));
			assert_int_equal(d[len - 1], img_byte(off + len - 1));
		}
	}
}

static void test_blk_pause_sync(void **state)
{
	blk_pause(*state, true);
}

static void test_blk_pause_uring(void **state)
{
	blk_pause(*state, false);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(test_blk_round_trip_sync),
		T(test_blk_round_trip_uring),
		T(test_blk_refusals),
		T(test_blk_pause_sync),
		T(test_blk_pause_uring),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
