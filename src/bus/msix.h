/* MSI-X (PCI 3.0, section 6.8.2): the capability, the vector table and the
 * pending-bit array, and the rule that a masked vector's message is held as
 * pending and sent on unmask. How a message reaches a CPU is the vm layer's
 * business (KVM GSI routes + irqfd), reached through struct msix_sink. */
#ifndef RINGVM_BUS_MSIX_H
#define RINGVM_BUS_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/pci.h"
#include "state/state.h"
#include "util/err.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE  16

struct msix_sink {
	/* The guest programmed vector v with (addr, data); called with the
	 * MSI-X lock held, also when the function is enabled. */
	void (*route)(void *ctx, unsigned int v, uint64_t addr, uint32_t data);
	/* Deliver vector v now (e.g. write its irqfd). */
	void (*fire)(void *ctx, unsigned int v);
	/* Make eventfd fd deliver vector v by itself (on) or stop it (off):
	 * a KVM irqfd on the vector's GSI. NULL when the sink cannot. */
	int (*bind)(void *ctx, unsigned int v, int fd, bool on);
	void *ctx;
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;   /* ctrl bit 0: masked */
};

struct msix {
	struct pci_device *pci;
	uint8_t cap_off;
	unsigned int nvec;
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pba;                /* pending bits (nvec <= 64) */
	bool enabled;                /* Message Control bit 15 */
	bool func_masked;            /* Message Control bit 14 */
	struct msix_sink sink;
	/* Told (lock held) whenever a vector may have become deliverable or
	 * stopped being so: a mask bit, enable, function mask, a restore. */
	void (*mask_changed)(void *opaque);
	void *mask_opaque;
	pthread_mutex_t lock;
};

/* Adds the capability to d: table at bar/table_off, PBA at bar/pba_off.
 * Entries start masked, as the spec requires. */
int msix_init(struct msix *m, struct pci_device *d, unsigned int nvec,
	      unsigned int bar, uint32_t table_off, uint32_t pba_off,
	      struct msix_sink sink, struct rv_err *err);
void msix_destroy(struct msix *m);

/* BAR accesses to the table / PBA (offset relative to table_off/pba_off);
 * 4- and 8-byte accesses, anything else ignored (reads: zero). */
void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write);
void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		 bool is_write);

/* Must be called from the PCI device's cfg_written hook. */
void msix_cfg_written(struct msix *m, uint32_t off, uint32_t len);

/* Signals vector v: fires it, or records it pending if it (or the whole
 * function) is masked or MSI-X is off. v >= nvec is ignored. Any thread. */
void msix_notify(struct msix *m, unsigned int v);

/* Registers the mask_changed listener (once, before the guest runs). */
void msix_set_mask_listener(struct msix *m, void (*fn)(void *), void *opaque);
/* With m->lock held: whether a message on v would reach the CPU now, and
 * (un)binding an eventfd as v's direct source through the sink (-1 when
 * the sink cannot, or KVM refused). */
bool msix_deliverable_locked(const struct msix *m, unsigned int v);
int msix_bind_locked(struct msix *m, unsigned int v, int fd, bool on);

/* Snapshot: the vector table and pending bits, into / out of the caller's
 * open section. Load after pci_device_load (enable and function mask come
 * from the restored config space); it reprograms every vector's route
 * through the sink, so interrupts reach the guest as before. */
void msix_save(struct msix *m, struct state_writer *w);
void msix_load(struct msix *m, struct state_cursor *c);

#endif
