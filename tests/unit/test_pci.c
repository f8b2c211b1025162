/* Conventional PCI as Linux enumerates it: IDs and class, the BAR sizing
 * protocol, the capability list, write masks, configuration mechanism #1 on
 * ports 0xCF8/0xCFC, BAR placement and dispatch, and hostile accesses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/io_bus.h"
#include "bus/pci.h"

#define MMIO_BASE 0xc0000000ULL
#define MMIO_END  0xfec00000ULL
#define IO_BASE   0x1000U
#define IO_END    0x10000U

/* Records the last access a BAR handler saw. */
struct bar_rec {
	void *dev;
	uint64_t off;
	uint32_t len;
	bool is_write;
	uint8_t data[8];
	unsigned int calls;
};

static void bar_fn(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct bar_rec *r = dev;

	r->dev = dev;
	r->off = off;
	r->len = len;
	r->is_write = is_write;
	r->calls++;
	if (is_write)
		memcpy(r->data, data, len < 8 ? len : 8);
	else
		memset(data, 0xa5, len);
}

static uint32_t rd(struct pci_device *d, uint32_t off, uint32_t len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_read(d, off, b, len);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void wr(struct pci_device *d, uint32_t off, uint32_t len, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	pci_cfg_write(d, off, b, len);
}

/* A host with one device holding a 32-bit, a 64-bit and an I/O BAR. */
struct fixture {
	struct pci_host host;
	struct pci_device dev;
	struct io_bus mmio, pio;
	struct bar_rec rec[3];
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct rv_err err;

	if (!f)
		return -1;
	io_bus_init(&f->mmio);
	io_bus_init(&f->pio);
	pci_host_init(&f->host, MMIO_BASE, MMIO_END, IO_BASE, IO_END);
	pci_device_init(&f->dev, 0x1af4, 0x1042, 0x010000, 0x01, 0x1af4,
			0x0002);
	if (pci_device_add_bar(&f->dev, 0, 0x4000, false, false, bar_fn,
			       &f->rec[0], "bar0", &err) < 0 ||
	    pci_device_add_bar(&f->dev, 2, 0x100000, false, true, bar_fn,
			       &f->rec[1], "bar2", &err) < 0 ||
	    pci_device_add_bar(&f->dev, 4, 0x20, true, false, bar_fn,
			       &f->rec[2], "bar4", &err) < 0 ||
	    pci_host_add(&f->host, &f->dev, &f->mmio, &f->pio, &err) < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_device_destroy(&f->dev);
	pci_host_destroy(&f->host);
	test_free(f);
	return 0;
}

static void test_ids_and_class(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;

	assert_int_equal(rd(d, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(rd(d, PCI_DEVICE_ID, 2), 0x1042);
	assert_int_equal(rd(d, 0, 4), 0x10421af4);
	/* Revision in byte 8, class code in 9..11. */
	assert_int_equal(rd(d, 0x08, 4), 0x01000001);
	assert_int_equal(rd(d, 0x0a, 2), 0x0100);
	assert_int_equal(rd(d, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(rd(d, PCI_SUBSYS_VENDOR, 2), 0x1af4);
	assert_int_equal(rd(d, PCI_SUBSYS_ID, 2), 0x0002);
	assert_int_equal(rd(d, PCI_INT_PIN, 1), 0);
	/* No capabilities yet: status bit clear, pointer 0. */
	assert_int_equal(rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	assert_int_equal(rd(d, PCI_CAP_PTR, 1), 0);
	assert_int_equal(d->slot, 1);
}

static void test_bar_sizing_mem32(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;
	uint32_t orig = rd(d, PCI_BAR0, 4);

	/* 32-bit, non-prefetchable memory; naturally aligned in the hole. */
	assert_int_equal(orig & 0xf, 0);
	assert_true(orig >= MMIO_BASE && orig < MMIO_END);
	assert_int_equal(orig % 0x4000, 0);
	assert_int_equal(orig, f->dev.bar[0].addr);

	wr(d, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(rd(d, PCI_BAR0, 4), 0xffffc000);
	wr(d, PCI_BAR0, 4, orig);
	assert_int_equal(rd(d, PCI_BAR0, 4), orig);
}

static void test_bar_sizing_mem64(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;
	uint32_t lo = rd(d, PCI_BAR0 + 8, 4), hi = rd(d, PCI_BAR0 + 12, 4);

	assert_int_equal(lo & 0xf, 0x4);            /* 64-bit, non-prefetch */
	assert_int_equal(hi, 0);
	assert_int_equal((lo & ~0xfU) % 0x100000, 0);
	assert_int_equal(lo & ~0xfU, f->dev.bar[2].addr);

	/* Linux sizes both halves, then restores both. */
	wr(d, PCI_BAR0 + 8, 4, 0xffffffff);
	wr(d, PCI_BAR0 + 12, 4, 0xffffffff);
	assert_int_equal(rd(d, PCI_BAR0 + 8, 4), 0xfff00004);
	assert_int_equal(rd(d, PCI_BAR0 + 12, 4), 0xffffffff);
	wr(d, PCI_BAR0 + 8, 4, lo);
	wr(d, PCI_BAR0 + 12, 4, hi);
	assert_int_equal(rd(d, PCI_BAR0 + 8, 4), lo);
	assert_int_equal(rd(d, PCI_BAR0 + 12, 4), hi);
}

static void test_bar_sizing_io(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;
	uint32_t orig = rd(d, PCI_BAR0 + 16, 4);

	assert_int_equal(orig & 0x3, 0x1);
	assert_true((orig & ~3U) >= IO_BASE && (orig & ~3U) < IO_END);
	assert_int_equal((orig & ~3U) % 0x20, 0);
	wr(d, PCI_BAR0 + 16, 4, 0xffffffff);
	assert_int_equal(rd(d, PCI_BAR0 + 16, 4), 0xffffffe1);
	wr(d, PCI_BAR0 + 16, 4, orig);
	assert_int_equal(rd(d, PCI_BAR0 + 16, 4), orig);
}

static void test_bar_moves_refused(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;
	uint32_t bar0 = rd(d, PCI_BAR0, 4), bar4 = rd(d, PCI_BAR0 + 16, 4);
	uint8_t buf[4];

	wr(d, PCI_BAR0, 4, 0xd0000000);
	assert_int_equal(rd(d, PCI_BAR0, 4), bar0);
	wr(d, PCI_BAR0 + 12, 4, 0x1);               /* above 4 GiB */
	assert_int_equal(rd(d, PCI_BAR0 + 12, 4), 0);
	wr(d, PCI_BAR0 + 16, 4, 0x2001);
	assert_int_equal(rd(d, PCI_BAR0 + 16, 4), bar4);
	/* A byte write into the middle of a BAR is a move, too. */
	wr(d, PCI_BAR0 + 2, 1, 0x12);
	assert_int_equal(rd(d, PCI_BAR0, 4), bar0);
	/* After sizing, a different address is not taken either. */
	wr(d, PCI_BAR0, 4, 0xffffffff);
	wr(d, PCI_BAR0, 4, 0xe0000000);
	assert_int_equal(rd(d, PCI_BAR0, 4), bar0);

	/* And the device is still reached at its original address. */
	assert_true(io_bus_access(&f->mmio, bar0 + 8, buf, 4, false));
	assert_int_equal(f->rec[0].off, 8);
	assert_false(io_bus_access(&f->mmio, 0xd0000000, buf, 4, false));
}

static void test_unused_bars(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;

	/* BAR1, BAR5 and the expansion ROM are unused. */
	static const uint32_t offs[] = { PCI_BAR0 + 4, PCI_BAR0 + 20, 0x30 };
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		assert_int_equal(rd(d, offs[i], 4), 0);
		wr(d, offs[i], 4, 0xffffffff);
		assert_int_equal(rd(d, offs[i], 4), 0);
		wr(d, offs[i], 4, 0x12345678);
		assert_int_equal(rd(d, offs[i], 4), 0);
	}
}

static void test_add_bar_errors(void **state)
{
	struct pci_device d;
	struct rv_err err;
	struct bar_rec r;

	(void)state;
	pci_device_init(&d, 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_device_add_bar(&d, 6, 4096, false, false, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 5, 4096, false, true, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 0, 3000, false, false, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 0, 2048, false, false, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 0, 512, true, false, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 0, 16, true, true, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 0, 4096, false, false, NULL,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 0, 4096, false, true, bar_fn,
					    &r, "x", &err), 0);
	/* BAR1 is BAR0's upper half; BAR0 is taken. */
	assert_int_equal(pci_device_add_bar(&d, 1, 4096, false, false, bar_fn,
					    &r, "x", &err), -1);
	assert_non_null(strstr(err.msg, "in use"));
	assert_int_equal(pci_device_add_bar(&d, 0, 4096, false, false, bar_fn,
					    &r, "x", &err), -1);
	assert_int_equal(pci_device_add_bar(&d, 2, 4096, false, false, bar_fn,
					    &r, "x", &err), 0);
	pci_device_destroy(&d);
}

static void test_cap_list(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;
	static const uint8_t lens[] = { 5, 16, 2, 12 };
	uint8_t cap[64], offs[4], off, n = 0;
	struct rv_err err;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		memset(cap, 0xc0 + i, sizeof(cap));
		cap[0] = (uint8_t)(0x09 + i);
		cap[1] = 0xee;                      /* must be overwritten */
		assert_int_equal(pci_device_add_cap(d, cap, NULL, lens[i],
						    &offs[i], &err), 0);
		assert_true(offs[i] >= 0x40);
		assert_int_equal(offs[i] % 4, 0);
	}
	assert_int_equal(offs[0], 0x40);
	assert_true(rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);

	/* Walk it as an OS does. */
	off = (uint8_t)rd(d, PCI_CAP_PTR, 1);
	while (off) {
		assert_true(n < 4);
		assert_int_equal(off, offs[n]);
		assert_int_equal(rd(d, off, 1), 0x09 + n);
		/* Body bytes copied. */
		if (lens[n] > 2)
			assert_int_equal(rd(d, off + 2u, 1), 0xc0 + n);
		/* Capabilities never overlap. */
		if (n > 0)
			assert_true(off >= offs[n - 1] + lens[n - 1]);
		off = (uint8_t)rd(d, off + 1u, 1);
		n++;
	}
	assert_int_equal(n, 4);

	/* Fill the space: the failure is an error, not a corruption. */
	while (pci_device_add_cap(d, cap, NULL, 60, &off, &err) == 0) {
		assert_true(off + 60u <= PCI_CFG_SIZE);
		n++;
	}
	assert_non_null(strstr(err.msg, "no room"));
	assert_int_equal(pci_device_add_cap(d, cap, NULL, 1, &off, &err), -1);
	/* The list still ends, inside config space. */
	off = (uint8_t)rd(d, PCI_CAP_PTR, 1);
	for (i = 0; off && i < 64; i++)
		off = (uint8_t)rd(d, off + 1u, 1);
	assert_int_equal(off, 0);
	assert_int_equal(i, n);
}

static void test_cap_full_exactly(void **state)
{
	struct pci_device d;
	uint8_t cap[192] = { 0x09 }, off;
	struct rv_err err;

	(void)state;
	pci_device_init(&d, 1, 2, 0, 0, 0, 0);
	/* 0x40 + 192 == 256: fits exactly, nothing more does. */
	assert_int_equal(pci_device_add_cap(&d, cap, NULL, 192, &off, &err), 0);
	assert_int_equal(pci_device_add_cap(&d, cap, NULL, 2, &off, &err), -1);
	assert_int_equal(d.cfg[0x41], 0);
	pci_device_destroy(&d);
}

/* The guest writes all-ones everywhere: only the documented bits change. */
static void test_wmask(void **state)
{
	struct fixture *f = *state;
	struct pci_device *d = &f->dev;
	uint8_t cap[8] = { 0x09, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
	uint8_t cmask[8] = { 0xff, 0xff, 0x0f, 0, 0xff, 0, 0, 0 };
	uint8_t before[PCI_CFG_SIZE], after[PCI_CFG_SIZE], off;
	struct rv_err err;
	unsigned int i;

	assert_int_equal(pci_device_add_cap(d, cap, cmask, 8, &off, &err), 0);
	for (i = 0; i < PCI_CFG_SIZE; i++)
		before[i] = (uint8_t)rd(d, i, 1);
	for (i = 0; i < PCI_CFG_SIZE; i += 4)
		wr(d, i, 4, 0xffffffff);
	/* End the sizing: any other value brings the address back. */
	for (i = PCI_BAR0; i < PCI_BAR0 + 4 * PCI_NUM_BARS; i += 4)
		wr(d, i, 4, 0);
	for (i = 0; i < PCI_CFG_SIZE; i++)
		after[i] = (uint8_t)rd(d, i, 1);

	assert_int_equal(after[PCI_COMMAND], 0x07);
	assert_int_equal(after[PCI_COMMAND + 1], 0x04);
	assert_int_equal(after[PCI_INT_LINE], 0xff);
	assert_int_equal(after[off + 2], 0x1f);          /* 0x11 | 0x0f */
	assert_int_equal(after[off + 4], 0xff);
	for (i = 0; i < PCI_CFG_SIZE; i++) {
		if (i == PCI_COMMAND || i == PCI_COMMAND + 1 ||
		    i == PCI_INT_LINE || i == off + 2u || i == off + 4u)
			continue;
		if (before[i] != after[i])
			fail_msg("config byte %#x changed: %#x -> %#x", i,
				 before[i], after[i]);
	}
	/* Clearing works too (not sticky). */
	wr(d, PCI_COMMAND, 2, 0);
	assert_int_equal(rd(d, PCI_COMMAND, 2), 0);
	wr(d, PCI_INT_LINE, 1, 0x0b);
	assert_int_equal(rd(d, PCI_INT_LINE, 1), 0x0b);
}

struct hook_rec {
	struct pci_device *d;
	uint32_t off, len;
	unsigned int calls;
	int trylock;
};

static void hook(void *dev, uint32_t off, uint32_t len)
{
	struct hook_rec *h = dev;

	h->off = off;
	h->len = len;
	h->calls++;
	/* The device lock must be held: trylock fails (EBUSY). */
	h->trylock = pthread_mutex_trylock(&h->d->lock);
	if (h->trylock == 0)
		pthread_mutex_unlock(&h->d->lock);
}

static void test_cfg_written_hook(void **state)
{
	struct fixture *f = *state;
	struct hook_rec h = { .d = &f->dev };

	f->dev.cfg_written = hook;
	f->dev.cfg_written_dev = &h;
	wr(&f->dev, 0x44, 2, 0xffff);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.off, 0x44);
	assert_int_equal(h.len, 2);
	assert_int_equal(h.trylock, EBUSY);
	/* Rejected accesses do not reach the hook. */
	wr(&f->dev, 0x45, 2, 0xffff);
	wr(&f->dev, 0x100, 1, 0xff);
	assert_int_equal(h.calls, 1);
	f->dev.cfg_written = NULL;
}

/* Configuration mechanism #1 through the port handlers. */
static uint32_t cf8_addr(unsigned int bus, unsigned int dev, unsigned int fn,
			 unsigned int reg)
{
	return 0x80000000U | bus << 16 | dev << 11 | fn << 8 | reg;
}

static void out32(struct pci_host *h, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	pci_host_cf8_io(h, 0, b, 4, true);
}

static uint32_t cfc_in(struct pci_host *h, unsigned int port_off,
		       uint32_t len)
{
	uint8_t b[4] = { 0 };

	pci_host_cfc_io(h, port_off, b, len, false);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void cfc_out(struct pci_host *h, unsigned int port_off, uint32_t len,
		    uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	pci_host_cfc_io(h, port_off, b, len, true);
}

static void test_host_bridge_ports(void **state)
{
	struct fixture *f = *state;
	struct pci_host *h = &f->host;
	uint8_t b[4];
	uint32_t id;

	out32(h, cf8_addr(0, 0, 0, 0));
	/* The latch reads back. */
	pci_host_cf8_io(h, 0, b, 4, false);
	assert_int_equal(b[3], 0x80);
	id = cfc_in(h, 0, 4);
	assert_int_equal(id & 0xffff, 0x8086);
	assert_int_equal(cfc_in(h, 0, 2), id & 0xffff);
	assert_int_equal(cfc_in(h, 2, 2), id >> 16);
	assert_int_equal(cfc_in(h, 0, 1), id & 0xff);
	assert_int_equal(cfc_in(h, 1, 1), (id >> 8) & 0xff);
	assert_int_equal(cfc_in(h, 2, 1), (id >> 16) & 0xff);
	assert_int_equal(cfc_in(h, 3, 1), id >> 24);
	/* Class 06/00/00: a host bridge, what Linux's type-1 probe wants. */
	out32(h, cf8_addr(0, 0, 0, 0x08));
	assert_int_equal(cfc_in(h, 2, 2), 0x0600);
	assert_int_equal(cfc_in(h, 1, 1), 0);
	out32(h, cf8_addr(0, 0, 0, 0x0c));
	assert_int_equal(cfc_in(h, 2, 1), 0);            /* header type 0 */

	/* Slot 1: our device; writes land at reg + port offset. */
	out32(h, cf8_addr(0, 1, 0, 0));
	assert_int_equal(cfc_in(h, 0, 4), 0x10421af4);
	out32(h, cf8_addr(0, 1, 0, 0x3c));
	cfc_out(h, 0, 1, 0x0a);
	assert_int_equal(rd(&f->dev, PCI_INT_LINE, 1), 0x0a);
	out32(h, cf8_addr(0, 1, 0, 0x04));
	cfc_out(h, 0, 2, 0x0006);
	assert_int_equal(rd(&f->dev, PCI_COMMAND, 2), 0x0006);
	cfc_out(h, 1, 1, 0x04);
	assert_int_equal(rd(&f->dev, PCI_COMMAND, 2), 0x0406);
	assert_int_equal(cfc_in(h, 0, 4) & 0xffff, 0x0406);
	/* Misaligned word at 0xCFD / dword at 0xCFE: all-ones, ignored. */
	assert_int_equal(cfc_in(h, 1, 2), 0xffff);
	cfc_out(h, 3, 2, 0);
	assert_int_equal(rd(&f->dev, PCI_COMMAND, 2), 0x0406);
	b[0] = b[1] = b[2] = b[3] = 0;
	pci_host_cfc_io(h, 2, b, 4, false);   /* straddles the port */
	assert_int_equal(b[0] & b[1] & b[2] & b[3], 0xff);
	/* BAR sizing works through the ports too. */
	out32(h, cf8_addr(0, 1, 0, 0x10));
	id = cfc_in(h, 0, 4);
	cfc_out(h, 0, 4, 0xffffffff);
	assert_int_equal(cfc_in(h, 0, 4), 0xffffc000);
	cfc_out(h, 0, 4, id);
	assert_int_equal(cfc_in(h, 0, 4), id);
}

static void test_host_absent_targets(void **state)
{
	struct fixture *f = *state;
	struct pci_host *h = &f->host;
	uint16_t cmd = (uint16_t)rd(&f->dev, PCI_COMMAND, 2);
	unsigned int slot;

	/* Enable bit clear. */
	out32(h, cf8_addr(0, 1, 0, 0) & ~0x80000000U);
	assert_int_equal(cfc_in(h, 0, 4), 0xffffffff);
	assert_int_equal(cfc_in(h, 1, 1), 0xff);
	/* Other buses and functions. */
	out32(h, cf8_addr(1, 1, 0, 0));
	assert_int_equal(cfc_in(h, 0, 4), 0xffffffff);
	out32(h, cf8_addr(0, 1, 1, 0));
	assert_int_equal(cfc_in(h, 0, 4), 0xffffffff);
	out32(h, cf8_addr(0, 0, 7, 0));
	assert_int_equal(cfc_in(h, 0, 2), 0xffff);
	out32(h, cf8_addr(0xff, 31, 7, 0xfc));
	assert_int_equal(cfc_in(h, 0, 4), 0xffffffff);
	/* Writes to them change nothing on the real device. */
	out32(h, cf8_addr(1, 1, 0, 4));
	cfc_out(h, 0, 2, 0);
	out32(h, cf8_addr(0, 1, 1, 4));
	cfc_out(h, 0, 2, 0);
	out32(h, cf8_addr(0, 1, 0, 4) & ~0x80000000U);
	cfc_out(h, 0, 2, 0);
	assert_int_equal(rd(&f->dev, PCI_COMMAND, 2), cmd);
	/* Every empty slot. */
	for (slot = 2; slot < PCI_MAX_SLOTS; slot++) {
		out32(h, cf8_addr(0, slot, 0, 0));
		assert_int_equal(cfc_in(h, 0, 4), 0xffffffff);
		cfc_out(h, 0, 4, 0);
	}
}

static void test_cf8_latch(void **state)
{
	struct fixture *f = *state;
	struct pci_host *h = &f->host;
	uint8_t b[4] = { 0x01, 0, 0, 0 };

	/* Reserved bits 30:24 and 1:0 read as zero. */
	out32(h, 0xffffffff);
	pci_host_cf8_io(h, 0, b, 4, false);
	assert_int_equal(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24,
			 0x80fffffc);
	/* Byte/word accesses do not touch the latch (Linux's probe writes
	 * a byte to 0xCFB first). */
	out32(h, 0x80000000);
	b[0] = 0x01;
	pci_host_cf8_io(h, 3, b, 1, true);
	pci_host_cf8_io(h, 0, b, 2, true);
	pci_host_cf8_io(h, 0, b, 4, false);
	assert_int_equal(b[3], 0x80);
	assert_int_equal(b[0] | b[1] | b[2], 0);
	pci_host_cf8_io(h, 1, b, 1, false);
	assert_int_equal(b[0], 0xff);
}

static void test_alloc_alignment(void **state)
{
	struct pci_host h;
	struct io_bus mmio, pio;
	struct pci_device d[3];
	struct bar_rec r;
	struct rv_err err;
	uint64_t sizes[3] = { 0x1000, 0x100000, 0x8000 };
	uint64_t prev_end = 0;
	unsigned int i;

	(void)state;
	io_bus_init(&mmio);
	io_bus_init(&pio);
	/* Deliberately unaligned window starts. */
	pci_host_init(&h, 0xc0001000, 0xd0000000, 0x1004, 0x2000);
	for (i = 0; i < 3; i++) {
		pci_device_init(&d[i], 1, 2, 0, 0, 0, 0);
		assert_int_equal(pci_device_add_bar(&d[i], 0, sizes[i], false,
						    false, bar_fn, &r, "m",
						    &err), 0);
		assert_int_equal(pci_device_add_bar(&d[i], 1, 0x40, true,
						    false, bar_fn, &r, "i",
						    &err), 0);
		assert_int_equal(pci_host_add(&h, &d[i], &mmio, &pio, &err), 0);
		assert_int_equal(d[i].slot, i + 1);
		assert_int_equal(d[i].bar[0].addr % sizes[i], 0);
		assert_true(d[i].bar[0].addr >= 0xc0001000);
		assert_true(d[i].bar[0].addr + sizes[i] <= 0xd0000000);
		assert_true(d[i].bar[0].addr >= prev_end);
		prev_end = d[i].bar[0].addr + sizes[i];
		assert_int_equal(d[i].bar[1].addr % 0x40, 0);
		assert_true(d[i].bar[1].addr >= 0x1004);
		assert_int_equal(rd(&d[i], PCI_BAR0, 4), d[i].bar[0].addr);
	}
	assert_int_equal(mmio.nr, 3);
	assert_int_equal(pio.nr, 3);
	for (i = 0; i < 3; i++)
		pci_device_destroy(&d[i]);
	pci_host_destroy(&h);
}

static void test_window_exhaustion(void **state)
{
	struct pci_host h;
	struct io_bus mmio, pio;
	struct pci_device a, b, c;
	struct bar_rec r;
	struct rv_err err;

	(void)state;
	io_bus_init(&mmio);
	io_bus_init(&pio);
	pci_host_init(&h, 0xc0000000, 0xc0010000, 0x1000, 0x1040);
	pci_device_init(&a, 1, 2, 0, 0, 0, 0);
	pci_device_init(&b, 1, 2, 0, 0, 0, 0);
	pci_device_init(&c, 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_device_add_bar(&a, 0, 0x8000, false, false,
					    bar_fn, &r, "a", &err), 0);
	assert_int_equal(pci_host_add(&h, &a, &mmio, &pio, &err), 0);
	/* b's first BAR fits, its second does not: nothing is committed. */
	assert_int_equal(pci_device_add_bar(&b, 0, 0x4000, false, false,
					    bar_fn, &r, "b0", &err), 0);
	assert_int_equal(pci_device_add_bar(&b, 1, 0x8000, false, false,
					    bar_fn, &r, "b1", &err), 0);
	assert_int_equal(pci_host_add(&h, &b, &mmio, &pio, &err), -1);
	assert_non_null(strstr(err.msg, "b1"));
	assert_int_equal(mmio.nr, 1);
	assert_null(h.slot[2]);
	/* The untouched space is still available to c (slot 2). */
	assert_int_equal(pci_device_add_bar(&c, 0, 0x8000, false, false,
					    bar_fn, &r, "c0", &err), 0);
	assert_int_equal(pci_device_add_bar(&c, 1, 0x40, true, false,
					    bar_fn, &r, "c1", &err), 0);
	assert_int_equal(pci_host_add(&h, &c, &mmio, &pio, &err), 0);
	assert_int_equal(c.slot, 2);
	assert_int_equal(c.bar[0].addr, 0xc0008000);
	/* c1 took the whole I/O window. */
	pci_device_destroy(&b);
	pci_device_init(&b, 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_device_add_bar(&b, 0, 0x40, true, false,
					    bar_fn, &r, "io", &err), 0);
	assert_int_equal(pci_host_add(&h, &b, &mmio, &pio, &err), -1);
	assert_non_null(strstr(err.msg, "I/O"));
	pci_device_destroy(&a);
	pci_device_destroy(&b);
	pci_device_destroy(&c);
	pci_host_destroy(&h);
}

static void test_window_at_top(void **state)
{
	struct pci_host h;
	struct io_bus mmio, pio;
	struct pci_device a;
	struct bar_rec r;
	struct rv_err err;

	(void)state;
	io_bus_init(&mmio);
	io_bus_init(&pio);
	/* Alignment must not wrap past the end of the address space. */
	pci_host_init(&h, 0xfffffffffffff001ULL, 0xffffffffffffffffULL, 0, 0);
	pci_device_init(&a, 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_device_add_bar(&a, 0, 0x1000, false, true,
					    bar_fn, &r, "a", &err), 0);
	assert_int_equal(pci_host_add(&h, &a, &mmio, &pio, &err), -1);
	pci_device_destroy(&a);
	pci_host_destroy(&h);
}

static void test_slots_full(void **state)
{
	struct pci_host h;
	struct io_bus mmio, pio;
	struct pci_device *d = test_calloc(PCI_MAX_SLOTS, sizeof(*d));
	struct rv_err err;
	unsigned int i;

	(void)state;
	assert_non_null(d);
	io_bus_init(&mmio);
	io_bus_init(&pio);
	pci_host_init(&h, MMIO_BASE, MMIO_END, IO_BASE, IO_END);
	for (i = 0; i < PCI_MAX_SLOTS; i++)
		pci_device_init(&d[i], 1, (uint16_t)i, 0, 0, 0, 0);
	for (i = 0; i < PCI_MAX_SLOTS - 1; i++) {
		assert_int_equal(pci_host_add(&h, &d[i], &mmio, &pio, &err), 0);
		assert_int_equal(d[i].slot, i + 1);
	}
	assert_int_equal(pci_host_add(&h, &d[i], &mmio, &pio, &err), -1);
	assert_non_null(strstr(err.msg, "slots"));
	/* Slot 31 answers with its device ID. */
	out32(&h, cf8_addr(0, 31, 0, 0));
	assert_int_equal(cfc_in(&h, 2, 2), 30);
	for (i = 0; i < PCI_MAX_SLOTS; i++)
		pci_device_destroy(&d[i]);
	pci_host_destroy(&h);
	test_free(d);
}

static void test_bar_dispatch(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t bar2 = f->dev.bar[2].addr, bar4 = f->dev.bar[4].addr;

	assert_true(io_bus_access(&f->mmio, f->dev.bar[0].addr + 0x3ffc, buf,
				  4, true));
	assert_ptr_equal(f->rec[0].dev, &f->rec[0]);
	assert_int_equal(f->rec[0].off, 0x3ffc);
	assert_int_equal(f->rec[0].len, 4);
	assert_true(f->rec[0].is_write);
	assert_memory_equal(f->rec[0].data, buf, 4);

	assert_true(io_bus_access(&f->mmio, bar2 + 0x12340, buf, 8, false));
	assert_ptr_equal(f->rec[1].dev, &f->rec[1]);
	assert_int_equal(f->rec[1].off, 0x12340);
	assert_false(f->rec[1].is_write);
	assert_int_equal(buf[7], 0xa5);

	assert_true(io_bus_access(&f->pio, bar4 + 0x1f, buf, 1, true));
	assert_int_equal(f->rec[2].off, 0x1f);
	/* Just past each BAR: not ours. */
	assert_false(io_bus_access(&f->pio, bar4 + 0x20, buf, 1, false));
	assert_false(io_bus_access(&f->mmio, bar2 + 0x100000, buf, 4, false));
	assert_int_equal(f->rec[0].calls + f->rec[1].calls + f->rec[2].calls,
			 3);
	/* Names come from the BARs. */
	assert_string_equal(f->mmio.range[0].name, "bar0");
}

/* Every offset and length, through both the device and the ports, with
 * exactly-sized heap buffers so ASan sees any overrun. */
static void test_every_offset_len(void **state)
{
	struct fixture *f = *state;
	static const uint32_t extra[] = { 0x100, 0x101, 0x1000, 0xfffffffc,
					  0xffffffff };
	uint32_t off, len, i;

	for (off = 0; off < 0x100 + 8; off++) {
		for (len = 0; len <= 9; len++) {
			uint8_t *b = malloc(len ? len : 1);
			bool ok = (len == 1 || len == 2 || len == 4) &&
				  off % len == 0 && off < 0x100;
			uint32_t k;

			assert_non_null(b);
			pci_cfg_read(&f->dev, off, b, len);
			if (!ok)
				for (k = 0; k < len; k++)
					assert_int_equal(b[k], 0xff);
			memset(b, 0x5a, len);
			pci_cfg_write(&f->dev, off, b, len);
			free(b);
		}
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		uint8_t b[8];

		for (len = 0; len <= 8; len++) {
			pci_cfg_read(&f->dev, extra[i], b, len);
			pci_cfg_write(&f->dev, extra[i], b, len);
		}
	}
	/* IDs survived the garbage. */
	assert_int_equal(rd(&f->dev, 0, 4), 0x10421af4);

	/* The port handlers with every register and port offset/length. */
	for (off = 0; off < 0x100; off += 4) {
		uint64_t port;

		out32(&f->host, cf8_addr(0, 1, 0, off));
		for (port = 0; port < 10; port++) {
			for (len = 0; len <= 9; len++) {
				uint8_t *b = malloc(len ? len : 1);

				assert_non_null(b);
				pci_host_cfc_io(&f->host, port, b, len, false);
				pci_host_cfc_io(&f->host, port, b, len, true);
				pci_host_cf8_io(&f->host, port, b, len, false);
				/* (A dword at 0 would move the latch.) */
				if (len != 4 || port != 0)
					pci_host_cf8_io(&f->host, port, b, len,
							true);
				free(b);
			}
		}
	}
	out32(&f->host, cf8_addr(0, 1, 0, 0));
	assert_int_equal(cfc_in(&f->host, 0, 4), 0x10421af4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids_and_class, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_mem32, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_mem64, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_io, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bar_moves_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unused_bars, setup,
						teardown),
		cmocka_unit_test(test_add_bar_errors),
		cmocka_unit_test_setup_teardown(test_cap_list, setup, teardown),
		cmocka_unit_test(test_cap_full_exactly),
		cmocka_unit_test_setup_teardown(test_wmask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfg_written_hook, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge_ports, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_host_absent_targets,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_latch, setup,
						teardown),
		cmocka_unit_test(test_alloc_alignment),
		cmocka_unit_test(test_window_exhaustion),
		cmocka_unit_test(test_window_at_top),
		cmocka_unit_test(test_slots_full),
		cmocka_unit_test_setup_teardown(test_bar_dispatch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_every_offset_len, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
