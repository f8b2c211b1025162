/* Snapshot save/load and pause/resume of virtio-rng, virtio-console and
 * virtio-net, and the refusals of their virtio-pci transport, without
 * KVM (virtio-blk: test_blk_state.c). A test driver brings a device up
 * through BAR0 the way Linux does and runs requests through split rings in
 * guest memory; the device is paused and saved, freed, and its state
 * loaded into a FRESH device built the same way on the same guest memory
 * (see unit/virtio_state_rig.h). The restored device must be active again
 * with every register as the driver left it, re-route every MSI-X vector
 * through the sink, serve the driver's next request on each queue at the
 * right used index, and interrupt on the vector the driver chose. States
 * of another configuration, or with values written here that no save
 * would write, are refused with a message naming what is wrong. While
 * paused, a device serves nothing and touches no guest memory; resume
 * picks up what was posted meanwhile, kicked or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "state/state.h"
#include "unit/virtio_pci_driver.h"
#include "unit/virtio_state_rig.h"
#include "unit/virtq_driver.h"
#include "util/le.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"
#include "unit/virtio_pci_driver.c"
#include "unit/virtio_state_rig.c"
#include "unit/stats_text.h"

#define BIT(n)     (1ull << (n))
/* Guest buffers (see unit/virtio_state_rig.h). */
#define BUF        RIG_BUF

#define F_NET_MAC      5
#define F_NET_MRG      15
#define F_NET_STATUS   16
#define NET_HDR        12

static const uint8_t mac_a[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };

/* ==== virtio-rng, and the transport's refusals ==== */

#define RNG_QSIZE 64
#define RNG_STD   (BIT(VIRTIO_RING_F_EVENT_IDX) | \
		   BIT(VIRTIO_RING_F_INDIRECT_DESC))

static struct virtio_rng *rng_new(struct rig *f, struct rig_sink *s)
{
	struct rv_err err;
	struct virtio_rng *r = virtio_rng_new(&f->mem, rig_sink_of(s), &err);

	if (!r)
		fail_msg("%s", err.msg);
	return r;
}

/* Serves one 256-byte request as the k-th on the queue. */
static void rng_request(struct rig *f, unsigned int k, uint16_t used_idx)
{
	uint64_t b = BUF + 0x1000ull * (k % 64);
	uint16_t head;

	memset(rig_mem(f, b, 512), 0, 512);
	rig_post(f, 0, (struct vqd_seg[]){ { b, 256, true } }, 1, &head);
	rig_expect_used(f, 0, head, 256, used_idx);
	assert_false(rig_all_bytes(rig_mem(f, b, 256), 256, 0));
	assert_true(rig_all_bytes(rig_mem(f, b + 256, 256), 256, 0));
}

/* An rng that served three requests with queue 0 on vector 1 and the
 * configuration on vector 0, paused and saved as "rng0". */
static void rng_busy_saved(struct rig *f, struct rig_view *view)
{
	vpd_init(&f->drv, &f->mem, 1, RNG_QSIZE, RIG_RING0);
	f->rng[0] = rng_new(f, &f->sa);
	f->drv.t = virtio_rng_transport(f->rng[0]);
	vpd_setup(&f->drv, RNG_STD);
	rig_program_vectors(f, (const uint16_t[]){ 1 }, 0);
	for (unsigned int k = 0; k < 3; k++)
		rng_request(f, k, (uint16_t)(k + 1));
	assert_true(rig_fired(&f->sa, 1) >= 1);
	assert_int_equal(rig_fired(&f->sa, 0), 0);
	virtio_pci_pause(f->drv.t);
	rig_save(f, rig_save_rng, f->rng[0], "rng0");
	if (view)
		rig_view_read(f->drv.t, 1, view);
	virtio_rng_free(f->rng[0]);
	f->rng[0] = NULL;
}

static void test_rng_round_trip(void **state)
{
	struct rig *f = *state;
	struct rig_view a;
	struct rv_err err = { "" };

	rng_busy_saved(f, &a);
	assert_int_equal(rig_snap_sec(&f->snap, "rng0.rng")->len, 0);
	f->rng[1] = rng_new(f, &f->sb);
	f->drv.t = virtio_rng_transport(f->rng[1]);
	if (virtio_rng_load(f->rng[1], &f->snap.r, "rng0", &err) != 0)
		fail_msg("%s", err.msg);
	/* What vm_restore does once every device is in. */
	virtio_pci_kick_all(f->drv.t);
	rig_assert_restored(f, &a, 2);
	/* The next request is the fourth: served at used index 4, and
	 * interrupts go to vector 1, as the driver asked. */
	for (unsigned int k = 3; k < 6; k++)
		rng_request(f, k, (uint16_t)(k + 1));
	assert_true(rig_fired(&f->sb, 1) >= 1);
	assert_int_equal(rig_fired(&f->sb, 0), 0);
	assert_false(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_rng_pause_resume(void **state)
{
	struct rig *f = *state;
	uint16_t head;

	vpd_init(&f->drv, &f->mem, 1, RNG_QSIZE, RIG_RING0);
	f->rng[0] = rng_new(f, &f->sa);
	f->drv.t = virtio_rng_transport(f->rng[0]);
	vpd_setup(&f->drv, RNG_STD);
	rng_request(f, 0, 1);
	virtio_pci_pause(f->drv.t);
	memset(rig_mem(f, BUF, 256), 0, 256);
	rig_post(f, 0, (struct vqd_seg[]){ { BUF, 256, true } }, 1, &head);
	vpd_kick(&f->drv, 0);
	rig_expect_idle(f, 0, 150);
	assert_true(rig_all_bytes(rig_mem(f, BUF, 256), 256, 0));
	/* Paused twice is still paused; resume serves what came meanwhile. */
	virtio_pci_pause(f->drv.t);
	virtio_pci_resume(f->drv.t);
	rig_expect_used(f, 0, head, 256, 2);
	assert_false(rig_all_bytes(rig_mem(f, BUF, 256), 256, 0));
	rng_request(f, 1, 3);
	/* A request published while paused with no kick at all (as when
	 * the device drained a kick it then did not act on): resume kicks
	 * every queue itself. */
	virtio_pci_pause(f->drv.t);
	memset(rig_mem(f, BUF, 256), 0, 256);
	head = vqd_add(&f->drv.q[0], (struct vqd_seg[]){ { BUF, 256, true } },
		       1);
	vqd_publish(&f->drv.q[0], head);
	rig_expect_idle(f, 0, 50);
	virtio_pci_resume(f->drv.t);
	rig_expect_used(f, 0, head, 256, 4);
	assert_false(rig_all_bytes(rig_mem(f, BUF, 256), 256, 0));
}

/* A driver in the middle of its setup: features accepted, the queue
 * configured but not enabled, no DRIVER_OK. The restored device is not
 * active, and the driver finishes its setup on it. */
static void test_rng_restore_mid_setup(void **state)
{
	struct rig *f = *state;
	struct virtio_pci *t;
	struct vqd *r = &f->drv.q[0];
	struct rig_view a;
	struct rv_err err = { "" };
	uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK;

	vpd_init(&f->drv, &f->mem, 1, 32, RIG_RING0);
	f->rng[0] = rng_new(f, &f->sa);
	t = f->drv.t = virtio_rng_transport(f->rng[0]);
	vpd_bar_write(t, VPD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	vpd_bar_write(t, VPD_STATUS, s & ~VIRTIO_STATUS_FEATURES_OK, 1);
	vpd_bar_write(t, VPD_GFSELECT, 1, 4);
	vpd_bar_write(t, VPD_GF, 1, 4);         /* VERSION_1 */
	vpd_bar_write(t, VPD_STATUS, s, 1);
	assert_int_equal(vpd_status(t), s);
	assert_int_equal(vqd_init(r, &f->mem, 32, RIG_RING0), 0);
	vpd_bar_write(t, VPD_Q_SELECT, 0, 2);
	vpd_bar_write(t, VPD_Q_SIZE, 32, 2);
	vpd_bar_write(t, VPD_Q_MSIX, 0, 2);
	vpd_write64(t, VPD_Q_DESC, r->desc_gpa);
	vpd_write64(t, VPD_Q_DRIVER, r->avail_gpa);
	vpd_write64(t, VPD_Q_DEVICE, r->used_gpa);
	virtio_pci_pause(t);
	rig_save(f, rig_save_rng, f->rng[0], "rng0");
	rig_view_read(t, 1, &a);
	virtio_rng_free(f->rng[0]);
	f->rng[0] = NULL;

	f->rng[1] = rng_new(f, &f->sb);
	t = f->drv.t = virtio_rng_transport(f->rng[1]);
	if (virtio_rng_load(f->rng[1], &f->snap.r, "rng0", &err) != 0)
		fail_msg("%s", err.msg);
	assert_false(t->active);
	{
		struct rig_view b;

		rig_view_read(t, 1, &b);
		assert_int_equal(b.status, s);
		assert_int_equal(b.q[0].size, 32);
		assert_int_equal(b.q[0].enabled, 0);
		assert_memory_equal(&b.q, &a.q, sizeof(b.q));
	}
	vpd_bar_write(t, VPD_Q_ENABLE, 1, 2);
	vpd_bar_write(t, VPD_STATUS, s | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(vpd_status(t), s | VIRTIO_STATUS_DRIVER_OK);
	assert_true(t->active);
	rng_request(f, 0, 1);
}

/* The transport section of a saved rng, with one thing changed. */
struct tcase {
	const char *what;
	void (*mutate)(struct rig_tsec *t, struct rig_tstate *ts);
	const char *says;
};

#define MUT(name, body)						\
static void name(struct rig_tsec *t, struct rig_tstate *ts)		\
{									\
	(void)t;							\
	(void)ts;							\
	body;								\
}
MUT(m_qsize_npot, t->q[0].size = 48)
MUT(m_qsize_big, t->q[0].size = 2 * RNG_QSIZE)
MUT(m_qsize_zero, t->q[0].size = 0)
MUT(m_qvec, t->q[0].vec = 2)
MUT(m_cvec, t->config_vector = 7)
MUT(m_used_ahead, t->q[0].used_idx++)
MUT(m_used_behind, t->q[0].used_idx--)
MUT(m_taken_too_many, t->q[0].last_avail = (uint16_t)(t->q[0].used_idx +
							RNG_QSIZE + 1))
MUT(m_live_disabled, t->q[0].enabled = 0)
MUT(m_not_offered, t->driver_features |= BIT(41))
MUT(m_offered, t->offered ^= BIT(VIRTIO_RING_F_EVENT_IDX))
MUT(m_no_driver_ok, t->status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK)
MUT(m_no_features_ok, t->status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK)
MUT(m_nqueues, t->nqueues = 2)
MUT(m_nvec, t->nvec = 3)
MUT(m_pba, t->pba = BIT(5))
MUT(m_device_id, t->cfg[PCI_DEVICE_ID] ^= 1)
/* 0x52: the length byte of the notify capability (second, at 0x50). */
MUT(m_cap_len, t->cfg[0x52] ^= 0xff)
MUT(m_bool, t->active = 2)
MUT(m_live_bool, t->q[0].live = 3)
MUT(m_truncated, ts->adjust = -1)
MUT(m_truncated_queue, ts->adjust = -20)
MUT(m_extra, ts->adjust = 1)
MUT(m_version, ts->tver = 2)
MUT(m_no_devsec, ts->devsec = NULL)
MUT(m_devsec_bytes, ts->dn = 1)
MUT(m_devsec_version, ts->dver = 2)
#undef MUT

/* rng0's sections: the empty "rng0.rng" and a whole transport section. */
#define RNG_TSTATE { .devsec = "rng0.rng", .dp = zero, .dn = 0, .dver = 1, \
		     .tname = "rng0.virtio", .tver = 1, .nq = 1 }

static void test_transport_refusals(void **state)
{
	static const struct tcase cases[] = {
		{ "size not a power of two", m_qsize_npot,
		  "queue size out of range" },
		{ "size above the maximum", m_qsize_big,
		  "queue size out of range" },
		{ "size 0", m_qsize_zero, "queue size out of range" },
		{ "queue vector past the table", m_qvec,
		  "queue MSI-X vector out of range" },
		{ "config vector past the table", m_cvec,
		  "configuration MSI-X vector out of range" },
		{ "used index ahead of memory", m_used_ahead,
		  "used index 4 in the snapshot, 3 in guest memory" },
		{ "used index behind memory", m_used_behind,
		  "used index 2 in the snapshot, 3 in guest memory" },
		{ "more taken than the queue holds", m_taken_too_many,
		  "do not fit a queue of 64" },
		{ "live queue not enabled", m_live_disabled,
		  "a live queue that is not enabled" },
		{ "features never offered", m_not_offered, "never offered" },
		{ "other features offered", m_offered,
		  "offers other features" },
		{ "active without DRIVER_OK", m_no_driver_ok, "DRIVER_OK" },
		{ "active without FEATURES_OK", m_no_features_ok,
		  "FEATURES_OK" },
		{ "another number of queues", m_nqueues,
		  "another number of queues" },
		{ "another MSI-X table", m_nvec, "MSI-X vector count differs" },
		{ "pending bits past the table", m_pba,
		  "MSI-X pending bits beyond the table" },
		{ "another device ID", m_device_id,
		  "PCI function 1af4:1044 differs at config offset 0x2" },
		{ "a capability byte", m_cap_len,
		  "differs at config offset 0x52" },
		{ "bool of 2", m_bool, "bool at offset" },
		{ "live bool of 3", m_live_bool, "bool at offset" },
		{ "a byte short", m_truncated, "runs past the end" },
		{ "queue record short", m_truncated_queue,
		  "runs past the end" },
		{ "a byte too many", m_extra, "1 bytes left unread" },
		{ "newer transport version", m_version,
		  "rng0.virtio is version 2" },
		{ "no rng section", m_no_devsec, "rng0.rng is missing" },
		{ "rng section with a byte", m_devsec_bytes,
		  "rng0.rng: 1 bytes left unread" },
		{ "newer rng version", m_devsec_version,
		  "rng0.rng is version 2" },
	};
	struct rig *f = *state;
	struct rig_tsec base, t;
	struct rv_err err;
	static const uint8_t zero[4];

	rng_busy_saved(f, NULL);
	rig_tsec_read(&f->snap, "rng0.virtio", &base);
	assert_int_equal(base.nqueues, 1);
	assert_int_equal(base.nvec, 2);
	assert_int_equal(base.active, 1);
	assert_int_equal(base.q[0].live, 1);
	assert_int_equal(base.q[0].used_idx, 3);
	assert_int_equal(base.q[0].last_avail, 3);
	assert_int_equal(base.q[0].vec, 1);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig_tstate ts = RNG_TSTATE;
		struct rig_snap s;
		uint16_t head;

		t = base;
		cases[i].mutate(&t, &ts);
		rig_snap_build(&s, &ts, &t);
		f->rng[1] = rng_new(f, &f->sb);
		f->drv.t = virtio_rng_transport(f->rng[1]);
		err.msg[0] = 0;
		if (virtio_rng_load(f->rng[1], &s.r, "rng0", &err) != -1)
			fail_msg("accepted: %s", cases[i].what);
		rig_assert_msg(&err, cases[i].says);
		/* Never started: a request the guest makes is not served. */
		assert_false(f->drv.t->active);
		if (i == 0) {
			rig_post(f, 0, (struct vqd_seg[]){ { BUF, 64, true } },
				 1, &head);
			vpd_kick(&f->drv, 0);
			rig_expect_idle(f, 0, 50);
			f->drv.q[0].avail_idx--;
			vqd_set_avail_idx(&f->drv.q[0], f->drv.q[0].avail_idx);
		}
		virtio_rng_free(f->rng[1]);
		f->rng[1] = NULL;
		rig_snap_free(&s);
	}
	/* The unchanged fields load: the refusals were the changes. */
	{
		struct rig_tstate ts = RNG_TSTATE;
		struct rig_snap s;

		rig_snap_build(&s, &ts, &base);
		f->rng[1] = rng_new(f, &f->sb);
		f->drv.t = virtio_rng_transport(f->rng[1]);
		if (virtio_rng_load(f->rng[1], &s.r, "rng0", &err) != 0)
			fail_msg("%s", err.msg);
		rig_snap_free(&s);
		rng_request(f, 3, 4);
	}
}

/* ==== virtio-console ==== */

#define CON_QSIZE 128

static struct virtio_console *con_new(struct rig *f, struct rig_sink *s,
				      int out_fd)
{
	struct rv_err err;
	struct virtio_console *c = virtio_console_new(out_fd, -1, &f->mem,
						      rig_sink_of(s), &err);

	if (!c)
		fail_msg("%s", err.msg);
	return c;
}

static void read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	for (int i = 0; i < RIG_WAIT_MS && got < len; i++) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r > 0)
			got += (size_t)r;
		else
			usleep(1000);
	}
	assert_int_equal(got, len);
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
}

/* The guest writes text through the transmit queue. */
static void con_tx(struct rig *f, int rd_fd, const char *text,
		   uint16_t used_idx)
{
	size_t n = strlen(text);
	uint8_t got[64];
	uint16_t head;

	memcpy(rig_mem(f, BUF + 0x8000, n), text, n);
	rig_post(f, 1, (struct vqd_seg[]){ { BUF + 0x8000, (uint32_t)n,
					     false } }, 1, &head);
	rig_expect_used(f, 1, head, 0, used_idx);
	read_exact(rd_fd, got, n);
	assert_memory_equal(got, text, n);
}

static void test_console_round_trip(void **state)
{
	struct rig *f = *state;
	struct rig_view a;
	struct rv_err err = { "" };
	uint16_t h0, h1, h2;
	uint8_t junk, late[4];

	make_pipe(f->pipe_a);
	make_pipe(f->pipe_b);
	vpd_init(&f->drv, &f->mem, 2, CON_QSIZE, RIG_RING0);
	f->con[0] = con_new(f, &f->sa, f->pipe_a[1]);
	f->drv.t = virtio_console_transport(f->con[0]);
	vpd_setup(&f->drv, 0);          /* no EVENT_IDX: the flags way */
	rig_program_vectors(f, (const uint16_t[]){ 2, 0 }, 1);
	con_tx(f, f->pipe_a[0], "hello ", 1);
	con_tx(f, f->pipe_a[0], "world\n", 2);
	memset(rig_mem(f, BUF, 0x3000), 0xee, 0x3000);
	rig_post(f, 0, (struct vqd_seg[]){ { BUF, 64, true } }, 1, &h0);
	rig_post(f, 0, (struct vqd_seg[]){ { BUF + 0x1000, 64, true } }, 1,
		 &h1);
	assert_int_equal(virtio_console_input(f->con[0],
					      (const uint8_t *)"ls\r", 3), 3);
	rig_expect_used(f, 0, h0, 3, 1);
	assert_memory_equal(rig_mem(f, BUF, 3), "ls\r", 3);
	assert_true(rig_fired(&f->sa, 2) >= 1 && rig_fired(&f->sa, 0) >= 1);
	assert_int_equal(rig_fired(&f->sa, 1), 0);

	/* Paused: output waits in the ring, input in the device. */
	virtio_pci_pause(f->drv.t);
	memcpy(rig_mem(f, BUF + 0x8000, 4), "late", 4);
	rig_post(f, 1, (struct vqd_seg[]){ { BUF + 0x8000, 4, false } }, 1,
		 &h2);
	vpd_kick(&f->drv, 1);
	assert_int_equal(virtio_console_input(f->con[0],
					      (const uint8_t *)"zz", 2), 2);
	rig_expect_idle(f, 1, 100);
	rig_expect_idle(f, 0, 0);
	assert_true(rig_all_bytes(rig_mem(f, BUF + 0x1000, 64), 64, 0xee));
	assert_int_equal(read(f->pipe_a[0], &junk, 1), -1);
	rig_save(f, rig_save_console, f->con[0], "con0");
	rig_view_read(f->drv.t, 2, &a);
	virtio_console_free(f->con[0]);
	f->con[0] = NULL;

	f->con[1] = con_new(f, &f->sb, f->pipe_b[1]);
	f->drv.t = virtio_console_transport(f->con[1]);
	if (virtio_console_load(f->con[1], &f->snap.r, "con0", &err) != 0)
		fail_msg("%s", err.msg);
	/* What vm_restore does once every device is in. */
	virtio_pci_kick_all(f->drv.t);
	rig_assert_restored(f, &a, 3);
	/* The output posted while paused goes out of the new device; the
	 * receive buffer the guest had posted is still the next one. Input
	 * not yet delivered stayed with the old host process. */
	rig_expect_used(f, 1, h2, 0, 3);
	read_exact(f->pipe_b[0], late, 4);
	assert_memory_equal(late, "late", 4);
	assert_int_equal(virtio_console_input(f->con[1],
					      (const uint8_t *)"pwd\r", 4), 4);
	rig_expect_used(f, 0, h1, 4, 2);
	assert_memory_equal(rig_mem(f, BUF + 0x1000, 4), "pwd\r", 4);
	con_tx(f, f->pipe_b[0], "again", 4);
	assert_true(rig_fired(&f->sb, 2) >= 1 && rig_fired(&f->sb, 0) >= 1);
	assert_int_equal(rig_fired(&f->sb, 1), 0);
}

static void test_console_pause_resume(void **state)
{
	struct rig *f = *state;
	uint16_t h0, h1;
	uint8_t got[4];

	make_pipe(f->pipe_a);
	vpd_init(&f->drv, &f->mem, 2, CON_QSIZE, RIG_RING0);
	f->con[0] = con_new(f, &f->sa, f->pipe_a[1]);
	f->drv.t = virtio_console_transport(f->con[0]);
	vpd_setup(&f->drv, BIT(VIRTIO_RING_F_EVENT_IDX));
	con_tx(f, f->pipe_a[0], "a", 1);
	memset(rig_mem(f, BUF, 65), 0xee, 65);
	rig_post(f, 0, (struct vqd_seg[]){ { BUF, 64, true } }, 1, &h0);
	virtio_pci_pause(f->drv.t);
	memcpy(rig_mem(f, BUF + 0x8000, 4), "late", 4);
	rig_post(f, 1, (struct vqd_seg[]){ { BUF + 0x8000, 4, false } }, 1,
		 &h1);
	vpd_kick(&f->drv, 1);
	assert_int_equal(virtio_console_input(f->con[0],
					      (const uint8_t *)"zz", 2), 2);
	rig_expect_idle(f, 1, 100);
	rig_expect_idle(f, 0, 0);
	assert_int_equal(read(f->pipe_a[0], got, 1), -1);
	assert_true(rig_all_bytes(rig_mem(f, BUF, 65), 65, 0xee));
	virtio_pci_resume(f->drv.t);
	rig_expect_used(f, 1, h1, 0, 2);
	read_exact(f->pipe_a[0], got, 4);
	assert_memory_equal(got, "late", 4);
	rig_expect_used(f, 0, h0, 2, 1);
	assert_memory_equal(rig_mem(f, BUF, 2), "zz", 2);
}

static void test_console_section(void **state)
{
	struct rig *f = *state;
	struct rig_tsec t;
	struct rv_err err = { "" };
	uint8_t cfg[13] = { 0 };

	make_pipe(f->pipe_a);
	vpd_init(&f->drv, &f->mem, 2, CON_QSIZE, RIG_RING0);
	f->con[0] = con_new(f, &f->sa, f->pipe_a[1]);
	f->drv.t = virtio_console_transport(f->con[0]);
	vpd_setup(&f->drv, BIT(0));     /* VIRTIO_CONSOLE_F_SIZE */
	virtio_pci_pause(f->drv.t);
	rig_save(f, rig_save_console, f->con[0], "con0");
	rig_tsec_read(&f->snap, "con0.virtio", &t);
	virtio_console_free(f->con[0]);
	f->con[0] = NULL;

	/* The size the guest was told comes from the snapshot, not from
	 * the restoring process's terminal. */
	put_le16(cfg, 132);
	put_le16(cfg + 2, 43);
	cfg[4] = 1;
	for (int round = 0; round < 3; round++) {
		struct rig_tstate ts = {
			.devsec = "con0.console", .dp = cfg, .dn = 12,
			.dver = 1, .tname = "con0.virtio", .tver = 1, .nq = 2,
		};
		struct rig_snap s;
		int want = round == 0 ? 0 : -1;

		if (round == 1)
			ts.dn = 11;
		if (round == 2)
			ts.dn = 13;
		rig_snap_build(&s, &ts, &t);
		f->con[1] = con_new(f, &f->sb, -1);
		f->drv.t = virtio_console_transport(f->con[1]);
		err.msg[0] = 0;
		assert_int_equal(virtio_console_load(f->con[1], &s.r, "con0",
						     &err), want);
		if (round == 0) {
			assert_int_equal(vpd_bar_read(f->drv.t,
						      VIRTIO_PCI_DEVICE_OFF, 2),
					 132);
			assert_int_equal(vpd_bar_read(f->drv.t,
						      VIRTIO_PCI_DEVICE_OFF + 2,
						      2), 43);
		} else {
			rig_assert_msg(&err, "state section con0.console: ");
			assert_false(f->drv.t->active);
			/* The device's own size stays. */
			assert_int_equal(vpd_bar_read(f->drv.t,
						      VIRTIO_PCI_DEVICE_OFF, 2),
					 80);
		}
		virtio_console_free(f->con[1]);
		f->con[1] = NULL;
		rig_snap_free(&s);
	}
}

/* ==== virtio-net ==== */

#define NET_QSIZE 256
#define NET_STD   (BIT(F_NET_MAC) | BIT(F_NET_STATUS) | \
		   BIT(VIRTIO_RING_F_EVENT_IDX) | \
		   BIT(VIRTIO_RING_F_INDIRECT_DESC))
#define RXQ 0
#define TXQ 1

static struct virtio_net *net_new_on(struct rig *f, struct rig_sink *s,
				     const uint8_t *mac, uint16_t qsize,
				     struct rv_err *err)
{
	struct virtio_net_opts o = { .queue_size = qsize, .tap_fd = f->sv[1] };

	memcpy(o.mac, mac, 6);
	return virtio_net_new(&o, &f->mem, rig_sink_of(s), err);
}

static struct virtio_net *net_new(struct rig *f, struct rig_sink *s,
				  const uint8_t *mac)
{
	struct rv_err err;
	struct virtio_net *n = net_new_on(f, s, mac, NET_QSIZE, &err);

	if (!n)
		fail_msg("%s", err.msg);
	return n;
}

static uint64_t net_stat(struct virtio_net *n, const char *name)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *m = open_memstream(&buf, &sz);
	uint64_t v;

	assert_non_null(m);
	virtio_net_print_stats(n, "net0", m);
	fclose(m);
	v = stats_lookup(buf, "net0", name);
	free(buf);
	return v;
}

static void make_pkt(uint8_t *p, size_t len, uint8_t seed)
{
	memset(p, 0, NET_HDR);
	for (size_t i = NET_HDR; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void inject(struct rig *f, size_t len, uint8_t seed)
{
	uint8_t p[2048];

	make_pkt(p, len, seed);
	assert_int_equal(send(f->sv[0], p, len, 0), (ssize_t)len);
}

/* A posted receive buffer got packet (len, seed), num_buffers 1. */
static void expect_rx(struct rig *f, uint16_t head, uint64_t gpa, size_t len,
		      uint8_t seed, uint16_t used_idx)
{
	uint8_t p[2048];
	const uint8_t *b;

	rig_expect_used(f, RXQ, head, (uint32_t)len, used_idx);
	make_pkt(p, len, seed);
	b = rig_mem(f, gpa, len + 1);
	assert_int_equal(b[10] | b[11] << 8, 1);
	assert_memory_equal(b + NET_HDR, p + NET_HDR, len - NET_HDR);
	assert_int_equal(b[len], 0xee);
}

static uint16_t rx_post(struct rig *f, uint64_t gpa, uint32_t len)
{
	uint16_t head;

	memset(rig_mem(f, gpa, len + 1), 0xee, len + 1);
	rig_post(f, RXQ, (struct vqd_seg[]){ { gpa, len, true } }, 1, &head);
	return head;
}

static void net_tx(struct rig *f, size_t len, uint8_t seed,
		   uint16_t used_idx)
{
	uint8_t p[2048], got[2048];
	uint16_t head;

	make_pkt(p, len, seed);
	memcpy(rig_mem(f, BUF + 0x80000, len), p, len);
	rig_post(f, TXQ, (struct vqd_seg[]){ { BUF + 0x80000, (uint32_t)len,
					   false } }, 1, &head);
	rig_expect_used(f, TXQ, head, 0, used_idx);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT),
			 (ssize_t)len);
	assert_memory_equal(got, p, len);
}

static void net_fx(struct rig *f)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
				    f->sv), 0);
	vpd_init(&f->drv, &f->mem, 2, NET_QSIZE, RIG_RING0);
}

static void test_net_round_trip(void **state)
{
	struct rig *f = *state;
	struct rig_view a;
	struct rv_err err = { "" };
	uint16_t h[6];

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	vpd_setup(&f->drv, NET_STD);
	rig_program_vectors(f, (const uint16_t[]){ 2, 0 }, 1);
	net_tx(f, 100, 1, 1);
	net_tx(f, 300, 2, 2);
	h[0] = rx_post(f, BUF, 1536);
	h[1] = rx_post(f, BUF + 0x1000, 1536);
	inject(f, 200, 3);
	expect_rx(f, h[0], BUF, 200, 3, 1);
	inject(f, 90, 4);
	expect_rx(f, h[1], BUF + 0x1000, 90, 4, 2);
	assert_true(rig_fired(&f->sa, 2) >= 1 && rig_fired(&f->sa, 0) >= 1);
	assert_int_equal(rig_fired(&f->sa, 1), 0);
	/* Two more buffers: the device takes one and waits for a packet. */
	h[2] = rx_post(f, BUF + 0x2000, 1536);
	h[3] = rx_post(f, BUF + 0x3000, 1536);
	rig_wait_taken(f, RXQ, 3);

	virtio_pci_pause(f->drv.t);
	/* The buffer it held is given back: its state is the indices. */
	assert_int_equal(rig_dev_vq(f, RXQ)->last_avail, 2);
	assert_int_equal(rig_dev_vq(f, RXQ)->used_idx, 2);
	assert_int_equal(rig_dev_vq(f, TXQ)->last_avail, 2);
	/* Packets arriving now wait on the fd; no buffer is touched. */
	inject(f, 120, 5);
	inject(f, 1400, 6);
	inject(f, 60, 7);
	rig_expect_idle(f, RXQ, 100);
	assert_true(rig_all_bytes(rig_mem(f, BUF + 0x2000, 1537), 1537, 0xee));
	assert_true(rig_all_bytes(rig_mem(f, BUF + 0x3000, 1537), 1537, 0xee));
	rig_save(f, rig_save_net, f->net[0], "net0");
	assert_memory_equal(rig_snap_sec(&f->snap, "net0.net")->payload,
			    mac_a, 6);
	rig_view_read(f->drv.t, 2, &a);
	virtio_net_free(f->net[0]);
	f->net[0] = NULL;

	/* The same "TAP" (fd), a new device. */
	f->net[1] = net_new(f, &f->sb, mac_a);
	f->drv.t = virtio_net_transport(f->net[1]);
	if (virtio_net_load(f->net[1], &f->snap.r, "net0", &err) != 0)
		fail_msg("%s", err.msg);
	/* What vm_restore does once every device is in. */
	virtio_pci_kick_all(f->drv.t);
	rig_assert_restored(f, &a, 3);
	/* Every packet, in order, into the buffers in the order posted:
	 * first the one the old device had held. */
	expect_rx(f, h[2], BUF + 0x2000, 120, 5, 3);
	expect_rx(f, h[3], BUF + 0x3000, 1400, 6, 4);
	h[4] = rx_post(f, BUF + 0x4000, 1536);
	expect_rx(f, h[4], BUF + 0x4000, 60, 7, 5);
	net_tx(f, 77, 8, 3);
	assert_true(rig_fired(&f->sb, 2) >= 1 && rig_fired(&f->sb, 0) >= 1);
	assert_int_equal(rig_fired(&f->sb, 1), 0);
	assert_int_equal(net_stat(f->net[1], "rx_dropped"), 0);
	assert_int_equal(net_stat(f->net[1], "rx_packets"), 3);
}

static void test_net_pause_resume(void **state)
{
	struct rig *f = *state;
	uint8_t p[200], got[256];
	uint16_t h[2], th;

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	vpd_setup(&f->drv, NET_STD);
	h[0] = rx_post(f, BUF, 1536);
	rig_wait_taken(f, RXQ, 1);      /* held, waiting for a packet */
	virtio_pci_pause(f->drv.t);
	assert_int_equal(rig_dev_vq(f, RXQ)->last_avail, 0);
	h[1] = rx_post(f, BUF + 0x1000, 1536);
	vpd_kick(&f->drv, RXQ);
	inject(f, 100, 1);
	inject(f, 101, 2);
	make_pkt(p, sizeof(p), 3);
	memcpy(rig_mem(f, BUF + 0x80000, sizeof(p)), p, sizeof(p));
	rig_post(f, TXQ, (struct vqd_seg[]){ { BUF + 0x80000, sizeof(p),
					       false } }, 1, &th);
	vpd_kick(&f->drv, TXQ);
	rig_expect_idle(f, RXQ, 100);
	rig_expect_idle(f, TXQ, 0);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT), -1);
	assert_true(rig_all_bytes(rig_mem(f, BUF, 1537), 1537, 0xee));
	assert_true(rig_all_bytes(rig_mem(f, BUF + 0x1000, 1537), 1537, 0xee));

	virtio_pci_resume(f->drv.t);
	expect_rx(f, h[0], BUF, 100, 1, 1);
	expect_rx(f, h[1], BUF + 0x1000, 101, 2, 2);
	rig_expect_used(f, TXQ, th, 0, 1);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT),
			 sizeof(p));
	assert_memory_equal(got, p, sizeof(p));
	assert_int_equal(net_stat(f->net[0], "rx_dropped"), 0);
}

struct injector {
	int fd;
	atomic_bool stop;
	atomic_uint sent;
};

static void *inject_loop(void *arg)
{
	struct injector *in = arg;
	uint8_t p[100];

	make_pkt(p, sizeof(p), 0x31);
	while (!atomic_load(&in->stop)) {
		if (send(in->fd, p, sizeof(p), MSG_DONTWAIT) == sizeof(p))
			atomic_fetch_add(&in->sent, 1);
		usleep(25);
	}
	return NULL;
}

/* Packets keep arriving while the VM pauses, again and again: once pause
 * returns, the device holds no receive chain (all its state is in the
 * ring indices, as a snapshot needs) and stays off guest memory. */
static void test_net_pause_under_traffic(void **state)
{
	struct rig *f = *state;
	struct injector in = { .fd = -1 };
	uint64_t gpa_of[NET_QSIZE];
	pthread_t th;
	unsigned int held = 0;

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	vpd_setup(&f->drv, NET_STD);
	for (unsigned int k = 0; k < 64; k++) {
		uint64_t gpa = BUF + 0x800ull * k;

		gpa_of[rx_post(f, gpa, 1536)] = gpa;
	}
	in.fd = f->sv[0];
	assert_int_equal(pthread_create(&th, NULL, inject_loop, &in), 0);
	for (int iter = 0; iter < 300; iter++) {
		const struct virtq *vq;
		uint32_t id, len;
		uint16_t u;

		while (vqd_get_used(&f->drv.q[RXQ], &id, &len)) {
			uint64_t gpa = gpa_of[id];

			assert_int_equal(len, 100);
			gpa_of[rx_post(f, gpa, 1536)] = gpa;
		}
		usleep((useconds_t)(iter % 7) * 40);
		virtio_pci_pause(f->drv.t);
		vq = rig_dev_vq(f, RXQ);
		if (vq->last_avail != vq->used_idx)
			held++;
		u = vqd_used_idx(&f->drv.q[RXQ]);
		assert_int_equal(vq->used_idx, u);
		if (iter % 60 == 0) {
			usleep(5000);
			assert_int_equal(vqd_used_idx(&f->drv.q[RXQ]), u);
		}
		virtio_pci_resume(f->drv.t);
	}
	atomic_store(&in.stop, true);
	pthread_join(th, NULL);
	if (held)
		fail_msg("%u of 300 pauses returned with a receive chain held",
			 held);
	assert_true(net_stat(f->net[0], "rx_packets") >= 100);
}

/* MRG_RXBUF: a packet half spread over buffers when the pause comes is
 * the one frame lost; its buffers become available again and the next
 * packet uses them. */
static void test_net_pause_mid_packet(void **state)
{
	struct rig *f = *state;
	uint8_t p[100];
	const uint8_t *b;
	uint16_t h[2];

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	vpd_setup(&f->drv, NET_STD | BIT(F_NET_MRG));
	h[0] = rx_post(f, BUF, 64);
	h[1] = rx_post(f, BUF + 0x1000, 64);
	inject(f, 150, 9);              /* needs a third buffer */
	rig_wait_taken(f, RXQ, 2);
	rig_expect_idle(f, RXQ, 20);
	virtio_pci_pause(f->drv.t);
	assert_int_equal(rig_dev_vq(f, RXQ)->last_avail, 0);
	assert_int_equal(rig_dev_vq(f, RXQ)->used_idx, 0);
	assert_int_equal(net_stat(f->net[0], "rx_dropped"), 1);
	inject(f, 100, 10);
	rig_expect_idle(f, RXQ, 50);
	virtio_pci_resume(f->drv.t);
	rig_expect_used(f, RXQ, h[0], 64, 1);
	rig_expect_used(f, RXQ, h[1], 36, 2);
	make_pkt(p, sizeof(p), 10);
	b = rig_mem(f, BUF, 64);
	assert_int_equal(b[10] | b[11] << 8, 2);
	assert_memory_equal(b + NET_HDR, p + NET_HDR, 64 - NET_HDR);
	assert_memory_equal(rig_mem(f, BUF + 0x1000, 36), p + 64, 36);
	assert_int_equal(net_stat(f->net[0], "rx_dropped"), 1);
	assert_int_equal(net_stat(f->net[0], "rx_packets"), 1);
}

/* As above, but a malformed chain was returned between the held ones, so
 * they cannot be untaken: they are returned empty instead. */
static void test_net_pause_mid_packet_gap(void **state)
{
	struct rig *f = *state;
	uint16_t h[4];

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	vpd_setup(&f->drv, NET_STD | BIT(F_NET_MRG));
	h[0] = rx_post(f, BUF, 64);
	rig_post(f, RXQ, (struct vqd_seg[]){ { BUF + 0x1000, 64, false } },
		 1, &h[1]);
	h[2] = rx_post(f, BUF + 0x2000, 64);
	inject(f, 150, 9);
	rig_expect_used(f, RXQ, h[1], 0, 1);
	rig_wait_taken(f, RXQ, 3);
	rig_expect_idle(f, RXQ, 20);
	virtio_pci_pause(f->drv.t);
	assert_int_equal(rig_dev_vq(f, RXQ)->last_avail, 3);
	assert_int_equal(rig_dev_vq(f, RXQ)->used_idx, 3);
	rig_expect_used(f, RXQ, h[0], 0, 2);
	rig_expect_used(f, RXQ, h[2], 0, 3);
	assert_int_equal(net_stat(f->net[0], "rx_dropped"), 1);
	virtio_pci_resume(f->drv.t);
	h[3] = rx_post(f, BUF + 0x3000, 1536);
	inject(f, 80, 11);
	rig_expect_used(f, RXQ, h[3], 80, 4);
}

/* A NIC the guest never drove (paused before its driver loaded): the
 * restored one is as fresh, and a driver brings it up as usual. */
static void test_net_never_driven(void **state)
{
	struct rig *f = *state;
	struct rv_err err = { "" };
	uint16_t h;

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	inject(f, 70, 1);
	virtio_pci_pause(f->drv.t);
	rig_save(f, rig_save_net, f->net[0], "net0");
	virtio_net_free(f->net[0]);
	f->net[0] = NULL;
	f->net[1] = net_new(f, &f->sb, mac_a);
	f->drv.t = virtio_net_transport(f->net[1]);
	if (virtio_net_load(f->net[1], &f->snap.r, "net0", &err) != 0)
		fail_msg("%s", err.msg);
	assert_false(f->drv.t->active);
	assert_int_equal(vpd_status(f->drv.t), 0);
	vpd_bar_write(f->drv.t, VPD_Q_SELECT, RXQ, 2);
	assert_int_equal(vpd_bar_read(f->drv.t, VPD_Q_SIZE, 2), NET_QSIZE);
	assert_int_equal(vpd_bar_read(f->drv.t, VPD_Q_MSIX, 2),
			 VIRTIO_MSI_NO_VECTOR);
	vpd_setup(&f->drv, NET_STD);
	h = rx_post(f, BUF, 1536);
	expect_rx(f, h, BUF, 70, 1, 1);
	net_tx(f, 64, 2, 1);
}

static void test_net_refusals(void **state)
{
	struct rig *f = *state;
	struct rig_tsec t;
	struct rv_err err = { "" };
	uint8_t netcfg[13] = { 0 };

	net_fx(f);
	f->net[0] = net_new(f, &f->sa, mac_a);
	f->drv.t = virtio_net_transport(f->net[0]);
	vpd_setup(&f->drv, NET_STD);
	net_tx(f, 64, 1, 1);
	virtio_pci_pause(f->drv.t);
	rig_save(f, rig_save_net, f->net[0], "net0");
	memcpy(netcfg, rig_snap_sec(&f->snap, "net0.net")->payload, 12);
	rig_tsec_read(&f->snap, "net0.virtio", &t);
	virtio_net_free(f->net[0]);
	f->net[0] = NULL;

	/* Another MAC: the guest's driver knows the old one. */
	f->net[1] = net_new(f, &f->sb, mac_b);
	assert_int_equal(virtio_net_load(f->net[1], &f->snap.r, "net0", &err),
			 -1);
	rig_assert_msg(&err,
		       "state section net0.net: the NIC's MAC address differs");
	assert_false(virtio_net_transport(f->net[1])->active);
	virtio_net_free(f->net[1]);
	/* Smaller queues than the driver set up. */
	f->net[1] = net_new_on(f, &f->sb, mac_a, NET_QSIZE / 2, &err);
	assert_non_null(f->net[1]);
	assert_int_equal(virtio_net_load(f->net[1], &f->snap.r, "net0", &err),
			 -1);
	rig_assert_msg(&err, "queue size out of range");
	assert_false(virtio_net_transport(f->net[1])->active);
	virtio_net_free(f->net[1]);
	f->net[1] = NULL;
	/* A net section cut short, too long, missing. */
	for (int round = 0; round < 3; round++) {
		static const size_t len[] = { 11, 13, 12 };
		struct rig_tstate ts = {
			.devsec = "net0.net", .dp = netcfg, .dn = len[round],
			.dver = 1, .tname = "net0.virtio", .tver = 1, .nq = 2,
		};
		struct rig_snap s;

		if (round == 2)
			ts.devsec = NULL;
		rig_snap_build(&s, &ts, &t);
		f->net[1] = net_new(f, &f->sb, mac_a);
		assert_int_equal(virtio_net_load(f->net[1], &s.r, "net0", &err),
				 -1);
		rig_assert_msg(&err, round == 0 ? "runs past the end" :
			   round == 1 ? "1 bytes left unread" :
			   "net0.net is missing");
		virtio_net_free(f->net[1]);
		f->net[1] = NULL;
		rig_snap_free(&s);
	}
	/* The untouched state loads into the same NIC and goes on. */
	f->net[1] = net_new(f, &f->sb, mac_a);
	f->drv.t = virtio_net_transport(f->net[1]);
	if (virtio_net_load(f->net[1], &f->snap.r, "net0", &err) != 0)
		fail_msg("%s", err.msg);
	/* What vm_restore does once every device is in. */
	virtio_pci_kick_all(f->drv.t);
	net_tx(f, 64, 2, 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(test_rng_round_trip),
		T(test_rng_pause_resume),
		T(test_rng_restore_mid_setup),
		T(test_transport_refusals),
		T(test_console_round_trip),
		T(test_console_pause_resume),
		T(test_console_section),
		T(test_net_round_trip),
		T(test_net_pause_resume),
		T(test_net_pause_under_traffic),
		T(test_net_pause_mid_packet),
		T(test_net_pause_mid_packet_gap),
		T(test_net_never_driven),
		T(test_net_refusals),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
