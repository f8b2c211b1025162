/* Conventional PCI (PCI Local Bus 3.0): type-0 configuration headers, BAR
 * sizing, the capability list, and configuration mechanism #1 on bus 0.
 *
 * Lock order: pci_host.lock is only held around the CONFIG_ADDRESS latch;
 * a configuration access takes pci_device.lock, and the device's cfg_written
 * hook runs under it and may take msix.lock (pci_device.lock -> msix.lock).
 * Nothing here is taken with msix.lock held. */
#include "bus/pci.h"

#include <stdio.h>
#include <string.h>

#include "util/le.h"

#define PCI_BAR_END        (PCI_BAR0 + 4 * PCI_NUM_BARS)
#define PCI_CAP_FIRST      0x40

#define PCI_BAR_IO         0x1
#define PCI_BAR_MEM64      0x4
#define PCI_BAR_IO_MASK    0xfffffffcU
#define PCI_BAR_MEM_MASK   0xfffffff0U

#define PCI_CF8_ENABLE     0x80000000U
/* Bits 30:24 are reserved and 1:0 hardwired to zero in CONFIG_ADDRESS. */
#define PCI_CF8_RW_MASK    0x80fffffcU

/* The host bridge claims to be Intel's 82441FX (440FX) PMC: the most widely
 * emulated PC host bridge, which every x86 OS has met. Linux binds no driver
 * to it (it only logs the harmless "Natoma" PCI-to-PCI DMA quirk), and its
 * type-1 probe (pci_sanity_check) accepts bus 0 once it sees a host-bridge
 * class or Intel's vendor ID. */
#define PCI_HOST_VENDOR    0x8086
#define PCI_HOST_DEVICE    0x1237
#define PCI_HOST_CLASS     0x060000

void pci_device_init(struct pci_device *d, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision,
		     uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	put_le16(&d->cfg[PCI_VENDOR_ID], vendor);
	put_le16(&d->cfg[PCI_DEVICE_ID], device);
	d->cfg[PCI_REVISION_ID] = revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	d->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	d->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	d->cfg[PCI_HEADER_TYPE] = 0;    /* type 0, single function */
	put_le16(&d->cfg[PCI_SUBSYS_VENDOR], subsys_vendor);
	put_le16(&d->cfg[PCI_SUBSYS_ID], subsys_id);
	d->cfg[PCI_INT_PIN] = 0;        /* no INTx: MSI-X only */

	put_le16(&d->wmask[PCI_COMMAND], PCI_CMD_IO | PCI_CMD_MEM |
	      PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE);
	/* Scratch byte: firmware/OS record their IRQ routing here. */
	d->wmask[PCI_INT_LINE] = 0xff;

	d->next_cap_off = PCI_CAP_FIRST;
	d->last_cap_next = &d->cfg[PCI_CAP_PTR];
	pthread_mutex_init(&d->lock, NULL);
}

void pci_device_destroy(struct pci_device *d)
{
	pthread_mutex_destroy(&d->lock);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* True if BAR register idx is taken, as a BAR or as a 64-bit BAR's top. */
static bool bar_taken(const struct pci_device *d, unsigned int idx)
{
	if (d->bar[idx].size)
		return true;
	return idx > 0 && d->bar[idx - 1].size && d->bar[idx - 1].mem64;
}

int pci_device_add_bar(struct pci_device *d, unsigned int idx, uint64_t size,
		       bool io, bool mem64, io_access_fn fn, void *dev,
		       const char *name, struct rv_err *err)
{
	if (!name)
		name = "pci bar";
	if (idx >= PCI_NUM_BARS || (mem64 && idx + 1 >= PCI_NUM_BARS))
		return rv_fail(err, "pci: %s: BAR %u out of range", name, idx);
	if (bar_taken(d, idx) || (mem64 && bar_taken(d, idx + 1)))
		return rv_fail(err, "pci: %s: BAR %u already in use", name,
			       idx);
	if (io && mem64)
		return rv_fail(err, "pci: %s: an I/O BAR cannot be 64-bit",
			       name);
	if (!fn)
		return rv_fail(err, "pci: %s: BAR %u has no handler", name,
			       idx);
	/* I/O BARs: 4..256 bytes (PCI 3.0 6.2.5.1). Memory BARs: at least a
	 * page, so KVM can map or trap them page-wise; 32-bit ones must fit
	 * the 32-bit hole. */
	if (!is_pow2(size) ||
	    (io && (size < 4 || size > 256)) ||
	    (!io && size < 4096) ||
	    (!io && !mem64 && size > 0x80000000ULL))
		return rv_fail(err, "pci: %s: bad BAR %u size %#llx", name,
			       idx, (unsigned long long)size);

	d->bar[idx] = (struct pci_bar){
		.size = size, .io = io, .mem64 = mem64, .fn = fn, .dev = dev,
		.name = name,
	};
	return 0;
}

int pci_device_add_cap(struct pci_device *d, const uint8_t *cap,
		       const uint8_t *wmask, uint8_t len, uint8_t *off,
		       struct rv_err *err)
{
	unsigned int at = d->next_cap_off;
	uint8_t cap_off;

	if (len < 2)
		return rv_fail(err, "pci: capability of %u bytes is too short",
			       len);
	if (at < PCI_CAP_FIRST || at + len > PCI_CFG_SIZE)
		return rv_fail(err, "pci: no room for a %u-byte capability "
			       "(id %#x) in config space", len, cap[0]);

	cap_off = (uint8_t)at;
	memcpy(&d->cfg[at], cap, len);
	d->cfg[at + 1] = 0;                         /* end of list */
	if (wmask)
		memcpy(&d->wmask[at], wmask, len);
	d->wmask[at] = 0;                           /* ID and next: RO */
	d->wmask[at + 1] = 0;
	*d->last_cap_next = cap_off;
	d->last_cap_next = &d->cfg[at + 1];
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;

	/* Next one dword aligned; 0 (never valid) once the space is full. */
	at = (at + len + 3) & ~3U;
	d->next_cap_off = at < PCI_CFG_SIZE ? (uint8_t)at : 0;
	if (off)
		*off = cap_off;
	return 0;
}

static bool cfg_access_ok(uint32_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SIZE &&
	       off % len == 0;
}

void pci_cfg_read(struct pci_device *d, uint32_t off, uint8_t *data,
		  uint32_t len)
{
	if (!cfg_access_ok(off, len)) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	memcpy(data, &d->cfg[off], len);
	pthread_mutex_unlock(&d->lock);
}

/* The value BAR register idx shows while not being sized. */
static uint32_t bar_reg_addr(const struct pci_device *d, unsigned int idx)
{
	const struct pci_bar *b;

	if (d->bar[idx].size) {
		b = &d->bar[idx];
		if (b->io)
			return ((uint32_t)b->addr & PCI_BAR_IO_MASK) |
			       PCI_BAR_IO;
		return ((uint32_t)b->addr & PCI_BAR_MEM_MASK) |
		       (b->mem64 ? PCI_BAR_MEM64 : 0);
	}
	if (idx > 0 && d->bar[idx - 1].size && d->bar[idx - 1].mem64)
		return (uint32_t)(d->bar[idx - 1].addr >> 32);
	return 0;
}

/* The value it shows after the guest wrote all-ones: ~(size - 1) over the
 * address bits, plus the type bits. */
static uint32_t bar_reg_mask(const struct pci_device *d, unsigned int idx)
{
	const struct pci_bar *b;

	if (d->bar[idx].size) {
		b = &d->bar[idx];
		if (b->io)
			return ((uint32_t)~(b->size - 1) & PCI_BAR_IO_MASK) |
			       PCI_BAR_IO;
		return ((uint32_t)~(b->size - 1) & PCI_BAR_MEM_MASK) |
		       (b->mem64 ? PCI_BAR_MEM64 : 0);
	}
	if (idx > 0 && d->bar[idx - 1].size && d->bar[idx - 1].mem64)
		return (uint32_t)(~(d->bar[idx - 1].size - 1) >> 32);
	return 0;
}

/* A write to BAR register idx (bytes merged into the current value). The
 * sizing protocol writes all-ones, reads the mask, then writes the original
 * address back. Any other address is refused and the assigned one kept:
 * the BAR ranges were registered once on io_bus, which is immutable while
 * vCPUs run, and the ACPI _CRS and e820 describe exactly this placement,
 * so Linux has no reason to move a BAR (and no pci= option is needed). */
static void bar_write(struct pci_device *d, unsigned int idx, uint32_t val)
{
	const struct pci_bar *b = &d->bar[idx];
	uint32_t mask = bar_reg_mask(d, idx);
	uint32_t type = !b->size ? 0 : b->io ? PCI_BAR_IO :
			b->mem64 ? PCI_BAR_MEM64 : 0;
	uint32_t addr_bits = mask & ~type;

	if (!mask)
		return;                 /* unused: reads 0, ignores writes */
	if ((val & addr_bits) == addr_bits)
		put_le32(&d->cfg[PCI_BAR0 + 4 * idx], mask);
	else
		put_le32(&d->cfg[PCI_BAR0 + 4 * idx], bar_reg_addr(d, idx));
}

void pci_cfg_write(struct pci_device *d, uint32_t off, const uint8_t *data,
		   uint32_t len)
{
	uint32_t i;

	if (!cfg_access_ok(off, len))
		return;
	pthread_mutex_lock(&d->lock);
	if (off >= PCI_BAR0 && off < PCI_BAR_END) {
		/* Aligned accesses of <= 4 bytes touch one BAR register. */
		unsigned int idx = (off - PCI_BAR0) / 4;
		uint8_t reg[4];

		memcpy(reg, &d->cfg[PCI_BAR0 + 4 * idx], 4);
		memcpy(&reg[off % 4], data, len);
		bar_write(d, idx, get_le32(reg));
	} else {
		for (i = 0; i < len; i++) {
			uint8_t m = d->wmask[off + i];

			d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) |
						    (data[i] & m));
		}
	}
	if (d->cfg_written)
		d->cfg_written(d->cfg_written_dev, off, len);
	pthread_mutex_unlock(&d->lock);
}

void pci_host_init(struct pci_host *h, uint64_t mmio_base, uint64_t mmio_end,
		   uint32_t io_base, uint32_t io_end)
{
	memset(h, 0, sizeof(*h));
	pci_device_init(&h->bridge, PCI_HOST_VENDOR, PCI_HOST_DEVICE,
			PCI_HOST_CLASS, 0, 0, 0);
	h->slot[0] = &h->bridge;
	pthread_mutex_init(&h->lock, NULL);
	h->mmio_next = mmio_base;
	h->mmio_end = mmio_end;
	h->io_next = io_base;
	h->io_end = io_end;
}

void pci_host_destroy(struct pci_host *h)
{
	pci_device_destroy(&h->bridge);
	pthread_mutex_destroy(&h->lock);
}

/* Naturally aligned [*next, end) allocation; false if it does not fit. */
static bool alloc_aligned(uint64_t *next, uint64_t end, uint64_t size,
			  uint64_t *addr)
{
	uint64_t a = (*next + size - 1) & ~(size - 1);

	if (a < *next || a > end || end - a < size)
		return false;
	*addr = a;
	*next = a + size;
	return true;
}

int pci_host_add(struct pci_host *h, struct pci_device *d,
		 struct io_bus *mmio, struct io_bus *pio, struct rv_err *err)
{
	uint64_t mmio_next = h->mmio_next, io_next = h->io_next;
	uint64_t addr[PCI_NUM_BARS] = { 0 };
	unsigned int s, i;

	for (s = 1; s < PCI_MAX_SLOTS && h->slot[s]; s++)
		;
	if (s == PCI_MAX_SLOTS)
		return rv_fail(err, "pci: all %d slots on bus 0 are in use",
			       PCI_MAX_SLOTS - 1);

	/* Place every BAR before registering any, so a full window leaves
	 * the host and the buses untouched. */
	for (i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *b = &d->bar[i];
		bool ok;

		if (!b->size)
			continue;
		if (b->io)
			ok = alloc_aligned(&io_next, h->io_end, b->size,
					   &addr[i]);
		else
			ok = alloc_aligned(&mmio_next, h->mmio_end, b->size,
					   &addr[i]);
		if (ok && !b->io && !b->mem64 &&
		    addr[i] + b->size > 0x100000000ULL)
			ok = false;
		if (!ok)
			return rv_fail(err, "pci: no room for %s (%#llx bytes) "
				       "in the %s window", b->name,
				       (unsigned long long)b->size,
				       b->io ? "I/O" : "MMIO");
	}
	for (i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &d->bar[i];

		if (!b->size)
			continue;
		/* io_bus has no removal: a failure here fails the VM build. */
		if (io_bus_add(b->io ? pio : mmio, addr[i], b->size, b->fn,
			       b->dev, b->name, err) < 0)
			return -1;
	}

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < PCI_NUM_BARS; i++) {
		d->bar[i].addr = addr[i];
		if (d->bar[i].size)
			put_le32(&d->cfg[PCI_BAR0 + 4 * i], bar_reg_addr(d, i));
		if (d->bar[i].size && d->bar[i].mem64)
			put_le32(&d->cfg[PCI_BAR0 + 4 * (i + 1)],
			      bar_reg_addr(d, i + 1));
	}
	d->slot = (uint8_t)s;
	pthread_mutex_unlock(&d->lock);

	pthread_mutex_lock(&h->lock);
	h->slot[s] = d;
	h->mmio_next = mmio_next;
	h->io_next = (uint32_t)io_next;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* CONFIG_ADDRESS: only dword accesses reach the latch (byte accesses to
 * 0xCF8..0xCFB are other chipset registers on real PCs; we have none). */
void pci_host_cf8_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct pci_host *h = dev;

	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (is_write)
		h->cf8 = get_le32(data) & PCI_CF8_RW_MASK;
	else
		put_le32(data, h->cf8);
	pthread_mutex_unlock(&h->lock);
}

/* CONFIG_DATA: the register is cf8[7:2] * 4 plus the port offset. The latch
 * is read once under the host lock; keeping a cf8 write and the following
 * cfc access together is the guest's job, as on hardware with its single
 * latch (Linux holds pci_config_lock across the pair). Devices are added
 * before vCPUs run, so slot[] needs no lock here. */
void pci_host_cfc_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct pci_host *h = dev;
	struct pci_device *d = NULL;
	uint32_t cf8;

	pthread_mutex_lock(&h->lock);
	cf8 = h->cf8;
	pthread_mutex_unlock(&h->lock);

	/* Bus 0, function 0 only: our devices are single-function. */
	if (off < 4 && len <= 4 - off && (cf8 & PCI_CF8_ENABLE) &&
	    ((cf8 >> 16) & 0xff) == 0 && ((cf8 >> 8) & 0x7) == 0)
		d = h->slot[(cf8 >> 11) & 0x1f];
	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		pci_cfg_write(d, (cf8 & 0xfc) + (uint32_t)off, data, len);
	else
		pci_cfg_read(d, (cf8 & 0xfc) + (uint32_t)off, data, len);
}

void pci_device_save(struct pci_device *d, struct state_writer *w)
{
	pthread_mutex_lock(&d->lock);
	state_put_bytes(w, d->cfg, PCI_CFG_SIZE);
	pthread_mutex_unlock(&d->lock);
}

void pci_device_load(struct pci_device *d, struct state_cursor *c)
{
	uint8_t saved[PCI_CFG_SIZE];

	state_get_bytes(c, saved, sizeof(saved));
	if (c->bad)
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned int i = 0; i < PCI_CFG_SIZE; i++) {
		uint8_t m = d->wmask[i];

		/* The status register's bits are read-only here but change
		 * with nothing the snapshot cares about. */
		if (i == PCI_STATUS || i == PCI_STATUS + 1)
			m = 0xff;
		/* A BAR register shows its address, or its size mask while
		 * the guest sizes it (paused between writing all-ones and
		 * writing the address back): either is this layout, and is
		 * restored as it was. */
		if (i >= PCI_BAR0 && i < PCI_BAR_END) {
			unsigned int bar = (i - PCI_BAR0) / 4;
			uint32_t v = get_le32(&saved[PCI_BAR0 + 4 * bar]);

			if (v == bar_reg_addr(d, bar) ||
			    v == bar_reg_mask(d, bar))
				continue;
			m = 0;
		}
		if ((saved[i] & ~m) != (d->cfg[i] & ~m)) {
			char why[96];

			snprintf(why, sizeof(why),
				 "PCI function %04x:%04x differs at config offset %#x (another device layout)",
				 get_le16(&d->cfg[PCI_VENDOR_ID]),
				 get_le16(&d->cfg[PCI_DEVICE_ID]), i);
			pthread_mutex_unlock(&d->lock);
			state_cursor_reject(c, why);
			return;
		}
	}
	for (unsigned int i = 0; i < PCI_CFG_SIZE; i++)
		d->cfg[i] = (uint8_t)((d->cfg[i] & ~d->wmask[i]) |
				      (saved[i] & d->wmask[i]));
	memcpy(&d->cfg[PCI_BAR0], &saved[PCI_BAR0], PCI_BAR_END - PCI_BAR0);
	pthread_mutex_unlock(&d->lock);
}
