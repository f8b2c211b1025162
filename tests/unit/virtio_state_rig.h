/* Test helper for the virtio snapshot tests (test_virtio_state.c,
 * test_blk_state.c): guest memory and a driver (virtio_pci_driver) for one
 * device at a time, an MSI-X sink that records what the vm layer would
 * see, a way to save a paused device and read back its state, and the
 * transport section ("<name>.virtio") as fields a test can change and
 * write again with the state writer, so refusals are tested on sections
 * written here rather than on bytes patched blindly.
 *
 * The pattern of every round trip: a device (slot 0 of a kind) driven by
 * f->drv, paused, saved with rig_save, freed; a FRESH device (slot 1) made
 * the same way on the same guest memory (as a restoring process maps the
 * memory file), f->drv.t pointed at it, loaded from f->snap. The driver
 * state (f->drv.q[]) carries on unchanged, as the guest's does.
 *
 * Guest memory: RIG_RAM bytes; queue q's rings at RIG_RING0 + q * 64 KiB;
 * small buffers from RIG_BUF; RIG_DATA and above free for big ones.
 *
 * Building: the Makefile compiles one .c per test, so a test that uses
 * this does `#include "unit/virtio_state_rig.c"` once, after
 * "unit/virtq_driver.c" and "unit/virtio_pci_driver.c". */
#ifndef RINGVM_TESTS_VIRTIO_STATE_RIG_H
#define RINGVM_TESTS_VIRTIO_STATE_RIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "state/state.h"
#include "unit/virtio_pci_driver.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

#define RIG_RAM    (8ull << 20)
#define RIG_RING0  0x10000ull
#define RIG_BUF    0x100000ull
#define RIG_DATA   0x200000ull
#define RIG_WAIT_MS 2000

/* ---- the vm layer's view of a device's MSI-X ---- */

struct rig_route {
	unsigned int v;
	uint64_t addr;
	uint32_t data;
};

struct rig_sink {
	/* Routes come from the thread that writes the table or loads the
	 * state (the test's); fires from the device's I/O thread. */
	struct rig_route route[256];
	unsigned int nroute;
	atomic_uint fired[MSIX_MAX_VECTORS];
};

/* Clears s and returns a sink recording into it. */
struct msix_sink rig_sink_of(struct rig_sink *s);
unsigned int rig_fired(struct rig_sink *s, unsigned int v);
/* The message rig_program_vectors gives vector v. */
uint64_t rig_msg_addr(unsigned int v);
uint32_t rig_msg_data(unsigned int v);

/* ---- states ---- */

/* A finished state (heap copy of exactly its length) and its reader. */
struct rig_snap {
	uint8_t *buf;
	size_t len;
	struct state_reader r;
};

/* Finishes and frees w, asserting the state is well formed. */
void rig_snap_take(struct rig_snap *s, struct state_writer *w);
void rig_snap_free(struct rig_snap *s);
const struct state_section_ref *rig_snap_sec(const struct rig_snap *s,
					     const char *name);
void rig_assert_msg(const struct rv_err *err, const char *frag);

/* The transport section, field by field as virtio_pci_save writes it;
 * bools as bytes so a test can write values no save would. */
struct rig_tq {
	uint16_t size, vec;
	uint8_t enabled;
	uint64_t desc, driver, device;
	uint8_t live;
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t signalled_valid, broken;
};

struct rig_tsec {
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t nvec;
	uint32_t table[MSIX_MAX_VECTORS][4];
	uint64_t pba;
	uint64_t offered, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status, isr, generation;
	uint16_t config_vector, queue_select;
	uint8_t active;
	uint32_t nqueues;
	struct rig_tq q[VIRTIO_PCI_MAX_QUEUES];
};

/* Reads section name of s (asserting it is whole and well formed). */
void rig_tsec_read(const struct rig_snap *s, const char *name,
		   struct rig_tsec *t);

/* What rig_snap_build writes: the device's own section (payload
 * dp[0..dn), version dver; none if devsec is NULL), then the transport
 * section tname from a rig_tsec with nq queue records (whatever its
 * nqueues field says), with adjust bytes cut off its end (< 0) or zeros
 * appended (> 0). */
struct rig_tstate {
	const char *devsec;
	const uint8_t *dp;
	size_t dn;
	uint32_t dver;
	const char *tname;
	uint32_t tver;
	unsigned int nq;
	int adjust;
};

void rig_snap_build(struct rig_snap *out, const struct rig_tstate *ts,
		    const struct rig_tsec *t);

/* ---- the guest, and the devices under test ---- */

struct rig {
	struct guest_mem mem;
	struct vpd drv;
	struct rig_sink sa, sb;     /* the original's, the restored one's */
	struct rig_snap snap;       /* the last rig_save */
	struct virtio_rng *rng[2];
	struct virtio_console *con[2];
	struct virtio_net *net[2];
	struct virtio_blk *blk[2];
	int sv[2];                  /* net: sv[1] is the device's packet fd */
	int pipe_a[2], pipe_b[2];   /* console output of con[0], con[1] */
	char path[64];              /* blk image (unlinked at teardown) */
	int imgfd;
};

/* cmocka fixtures: a struct rig with RIG_RAM of guest memory; teardown
 * frees every device still there and whatever fds and files are set. */
int rig_setup(void **state);
int rig_teardown(void **state);

/* Host pointer to guest memory (asserts it is RAM). */
uint8_t *rig_mem(struct rig *f, uint64_t gpa, uint64_t len);
bool rig_all_bytes(const uint8_t *p, size_t n, uint8_t v);

/* Posts a chain as Linux does with interrupts on: used_event set to "the
 * next used entry" (EVENT_IDX), add, kick if the device asked for one. */
bool rig_post(struct rig *f, unsigned int q, const struct vqd_seg *s,
	      unsigned int n, uint16_t *head);
/* Waits for queue q's next used element: it must be head with len, and
 * the used index after it used_idx (the device may be further on). */
void rig_expect_used(struct rig *f, unsigned int q, uint16_t head,
		     uint32_t len, uint16_t used_idx);
/* Nothing new used on queue q during ms milliseconds. */
void rig_expect_idle(struct rig *f, unsigned int q, unsigned int ms);

/* Gives every MSI-X vector its own message (rig_msg_addr/data), then
 * moves the queues off the driver's default vectors: queue q to qvec[q],
 * the configuration to cvec. */
void rig_program_vectors(struct rig *f, const uint16_t *qvec, uint16_t cvec);

/* What a driver can read of a transport (nothing read-to-clear). */
struct rig_view {
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t table[MSIX_MAX_VECTORS * 4];
	uint64_t pba;
	uint8_t status;
	uint64_t features, driver_features;
	uint16_t cvec;
	struct {
		uint16_t size, vec, enabled;
		uint64_t desc, driver, device;
	} q[VPD_MAX_QUEUES];
	uint8_t devcfg[64];
};

void rig_view_read(struct virtio_pci *t, unsigned int nq, struct rig_view *v);
/* f->drv.t is active, reads as a did, and routed each of its nvec
 * vectors (through f->sb) to the message the driver programmed. */
void rig_assert_restored(struct rig *f, const struct rig_view *a,
			 unsigned int nvec);

/* The device side of queue q: read it only while the device is paused. */
const struct virtq *rig_dev_vq(struct rig *f, unsigned int q);
/* Waits up to 2 s until the running device has taken n chains from queue
 * q in all (a chain it holds shows nowhere in guest memory). */
void rig_wait_taken(struct rig *f, unsigned int q, uint16_t n);

/* Saves dev as name into f->snap (replacing what was there). */
typedef void (*rig_save_fn)(void *dev, struct state_writer *w,
			    const char *name);
void rig_save(struct rig *f, rig_save_fn save, void *dev, const char *name);
void rig_save_rng(void *dev, struct state_writer *w, const char *name);
void rig_save_console(void *dev, struct state_writer *w, const char *name);
void rig_save_net(void *dev, struct state_writer *w, const char *name);
void rig_save_blk(void *dev, struct state_writer *w, const char *name);

#endif
