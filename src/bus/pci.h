/* Conventional PCI on bus 0: devices with a 256-byte configuration space,
 * BARs the VMM places once in the 32-bit MMIO hole, a capability list, and
 * a host bridge answering configuration mechanism #1 (ports 0xCF8/0xCFC).
 * Pure: no KVM; the vm layer registers the BAR ranges on its buses. */
#ifndef RINGVM_BUS_PCI_H
#define RINGVM_BUS_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/io_bus.h"
#include "state/state.h"
#include "util/err.h"

#define PCI_CFG_SIZE      256
#define PCI_MAX_SLOTS     32
#define PCI_NUM_BARS      6

/* Standard config-space offsets (PCI Local Bus 3.0, section 6). */
#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_REVISION_ID   0x08
#define PCI_CLASS_PROG    0x09
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID     0x2e
#define PCI_CAP_PTR       0x34
#define PCI_INT_LINE      0x3c
#define PCI_INT_PIN       0x3d

#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CMD_IO          0x1
#define PCI_CMD_MEM         0x2
#define PCI_CMD_MASTER      0x4
#define PCI_CMD_INTX_DISABLE 0x400

#define PCI_CAP_ID_MSIX   0x11
#define PCI_CAP_ID_VNDR   0x09

struct pci_device;

/* Called (with the device lock held) after the guest wrote config bytes
 * [off, off + len); lets a device react to e.g. the MSI-X control word. */
typedef void (*pci_cfg_written_fn)(void *dev, uint32_t off, uint32_t len);

struct pci_bar {
	uint64_t size;         /* power of two >= 4096 (mem) / 4 (io); 0: unused */
	uint64_t addr;         /* assigned by pci_host_add */
	bool io;               /* I/O space BAR (else 32- or 64-bit memory) */
	bool mem64;            /* occupies this BAR and the next */
	io_access_fn fn;       /* offset is relative to the BAR's start */
	void *dev;
	const char *name;
};

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];    /* bits the guest may write */
	struct pci_bar bar[PCI_NUM_BARS];
	uint8_t next_cap_off;           /* where the next capability goes */
	uint8_t *last_cap_next;         /* the previous capability's next ptr */
	pci_cfg_written_fn cfg_written;
	void *cfg_written_dev;
	pthread_mutex_t lock;
	uint8_t slot;                   /* assigned by pci_host_add */
};

/* class_code = (base << 16) | (sub << 8) | prog_if. */
void pci_device_init(struct pci_device *d, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision,
		     uint16_t subsys_vendor, uint16_t subsys_id);
void pci_device_destroy(struct pci_device *d);

/* Declares BAR idx (a 64-bit BAR also takes idx + 1). */
int pci_device_add_bar(struct pci_device *d, unsigned int idx, uint64_t size,
		       bool io, bool mem64, io_access_fn fn, void *dev,
		       const char *name, struct rv_err *err);

/* Appends a capability: cap[0] is its ID, cap[1] (next) is filled in, the
 * rest is copied; wmask gives writable bits (may be NULL: read-only). The
 * config offset is returned in *off. */
int pci_device_add_cap(struct pci_device *d, const uint8_t *cap,
		       const uint8_t *wmask, uint8_t len, uint8_t *off,
		       struct rv_err *err);

/* Config accesses (1, 2 or 4 bytes, naturally aligned within 256): BAR
 * sizing (all-ones writes read back the size mask) handled here; BAR moves
 * by the guest are refused (the address reads back unchanged), since ringvm
 * places BARs once, inside the window the ACPI tables describe. */
void pci_cfg_read(struct pci_device *d, uint32_t off, uint8_t *data,
		  uint32_t len);
void pci_cfg_write(struct pci_device *d, uint32_t off, const uint8_t *data,
		   uint32_t len);

/* Snapshot: the configuration space, into / out of the caller's open
 * section. Loading applies the guest-writable bits and refuses (marks the
 * cursor bad) a space whose read-only bytes (IDs, class, BAR addresses,
 * capabilities) differ: the snapshot is of another device layout. Call
 * before restoring anything that hangs off the config space (MSI-X). */
void pci_device_save(struct pci_device *d, struct state_writer *w);
void pci_device_load(struct pci_device *d, struct state_cursor *c);

struct pci_host {
	struct pci_device bridge;       /* 00.0, class 0x060000 */
	struct pci_device *slot[PCI_MAX_SLOTS];
	uint32_t cf8;                   /* CONFIG_ADDRESS latch */
	pthread_mutex_t lock;
	uint64_t mmio_next, mmio_end;   /* 32-bit BAR window allocator */
	uint32_t io_next, io_end;       /* I/O BAR window allocator */
};

void pci_host_init(struct pci_host *h, uint64_t mmio_base, uint64_t mmio_end,
		   uint32_t io_base, uint32_t io_end);
void pci_host_destroy(struct pci_host *h);

/* Puts d in the next free slot, allocates its BARs (naturally aligned) and
 * registers them on mmio / pio. */
int pci_host_add(struct pci_host *h, struct pci_device *d,
		 struct io_bus *mmio, struct io_bus *pio, struct rv_err *err);

/* io_bus callbacks: CONFIG_ADDRESS at 0xCF8 (len 4), CONFIG_DATA at 0xCFC
 * (len 4; byte and word accesses at 0xCFC..0xCFF). dev = struct pci_host. */
void pci_host_cf8_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write);
void pci_host_cfc_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write);

#endif
