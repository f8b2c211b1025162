/* Snapshot save/load of the platform devices and of what the virtio
 * devices build on: the 16550A, the ACPI power registers, a PCI function
 * with MSI-X (config space, vector table, pending bits, routes), the
 * device side of a split virtqueue (indices, unpop) and the VM description
 * (section "config"). Each round trip loads into a FRESH object built the
 * same way and shows it then behaves exactly as the original does; each
 * refusal uses a section written here with the state writer (the layouts
 * are restated from the save functions) and checks the message names the
 * problem and, where the code promises it, that nothing was taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "bus/io_bus.h"
#include "bus/msix.h"
#include "bus/pci.h"
#include "devices/acpi_pm.h"
#include "devices/uart8250.h"
#include "mem/guest_mem.h"
#include "state/state.h"
#include "unit/virtq_driver.h"
#include "util/le.h"
#include "virtio/virtqueue.h"
#include "vm/config_state.h"

#include "unit/virtq_driver.c"

/* ---- state helpers ---- */

/* A finished state (exact-size heap copy) and a reader over it. */
struct snap {
	uint8_t *buf;
	size_t len;
	struct state_reader r;
};

static void snap_take(struct snap *s, struct state_writer *w)
{
	const uint8_t *b;
	size_t n;
	struct rv_err err = { "" };

	if (state_writer_finish(w, &b, &n, &err) != 0)
		fail_msg("state_writer_finish: %s", err.msg);
	s->buf = malloc(n);
	assert_non_null(s->buf);
	memcpy(s->buf, b, n);
	s->len = n;
	state_writer_free(w);
	if (state_reader_open(&s->r, s->buf, s->len, "test", &err) != 0)
		fail_msg("state_reader_open: %s", err.msg);
}

static void snap_free(struct snap *s)
{
	state_reader_free(&s->r);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* A state of one section holding exactly payload[0..n). */
static void snap_raw(struct snap *s, const char *name, uint32_t version,
		     const uint8_t *payload, size_t n)
{
	struct state_writer w;

	state_writer_init(&w, "test");
	state_begin(&w, name, version);
	state_put_bytes(&w, payload, n);
	state_end(&w);
	snap_take(s, &w);
}

/* Copies section name's payload out of s; returns its length. */
static size_t snap_payload(const struct snap *s, const char *name,
			   uint8_t *out, size_t cap)
{
	for (unsigned int i = 0; i < s->r.nsec; i++) {
		if (strcmp(s->r.sec[i].name, name))
			continue;
		assert_true(s->r.sec[i].len <= cap);
		memcpy(out, s->r.sec[i].payload, s->r.sec[i].len);
		return (size_t)s->r.sec[i].len;
	}
	fail_msg("no section %s", name);
	return 0;
}

static void assert_msg(const struct rv_err *err, const char *frag)
{
	if (!strstr(err->msg, frag))
		fail_msg("message \"%s\" does not say \"%s\"", err->msg, frag);
}

/* ==== 16550A ==== */

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct uart_rig {
	struct uart8250 *u;
	bool level[512];        /* every level driven onto the line */
	unsigned int nlevel;
};

static void uart_level(void *ctx, unsigned int gsi, bool level)
{
	struct uart_rig *g = ctx;

	(void)gsi;
	if (g->nlevel < 512)
		g->level[g->nlevel++] = level;
}

static void uart_rig_init(struct uart_rig *g)
{
	struct irq_line line = { .set_level = uart_level, .ctx = g, .gsi = 4 };

	memset(g, 0, sizeof(*g));
	g->u = uart8250_new(line, -1, -1);
	assert_non_null(g->u);
}

static void uwr(struct uart_rig *g, unsigned int reg, uint8_t v)
{
	uart8250_io(g->u, reg, &v, 1, true);
}

static uint8_t urd(struct uart_rig *g, unsigned int reg)
{
	uint8_t v = 0;

	uart8250_io(g->u, reg, &v, 1, false);
	return v;
}

/* A UART a guest has programmed and half read: divisor, 8E2, FIFOs on,
 * three interrupt sources enabled, modem status deltas from a loopback
 * test, a scratch byte, and 34 received bytes that wrap around the end of
 * the receive ring. */
static void uart_busy(struct uart_rig *g)
{
	uint8_t in[64];

	uart_rig_init(g);
	uwr(g, LCR, 0x80);
	uwr(g, DLL, 0x03);
	uwr(g, DLM, 0x01);
	uwr(g, LCR, 0x1f);
	uwr(g, FCR, 0x07);
	uwr(g, MCR, 0x1f);              /* loopback: modem inputs change */
	uwr(g, MCR, 0x0b);
	uwr(g, SCR, 0x5a);
	uwr(g, IER, 0x07);
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)(0x20 + i);
	assert_int_equal(uart8250_input(g->u, in, 64), 64);
	for (int i = 0; i < 60; i++)
		assert_int_equal(urd(g, RBR), 0x20 + i);
	for (int i = 0; i < 30; i++)
		in[i] = (uint8_t)(0x80 + i);
	assert_int_equal(uart8250_input(g->u, in, 30), 30);
}

static void uart_save(struct uart_rig *g, struct snap *s, const char *name)
{
	struct state_writer w;

	state_writer_init(&w, "test");
	uart8250_save(g->u, &w, name);
	snap_take(s, &w);
}

/* The same reads on both, in the same order: what a guest would see. */
static void uart_assert_same(struct uart_rig *a, struct uart_rig *b)
{
	static const unsigned int regs[] = { IER, LCR, MCR, SCR, MSR, MSR,
					     LSR };

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		assert_int_equal(urd(b, regs[i]), urd(a, regs[i]));
	uwr(a, LCR, (uint8_t)(urd(a, LCR) | 0x80));
	uwr(b, LCR, (uint8_t)(urd(b, LCR) | 0x80));
	assert_int_equal(urd(b, DLL), urd(a, DLL));
	assert_int_equal(urd(b, DLM), urd(a, DLM));
	uwr(a, LCR, (uint8_t)(urd(a, LCR) & 0x7f));
	uwr(b, LCR, (uint8_t)(urd(b, LCR) & 0x7f));
	/* The receive FIFO, byte by byte, with IIR and LSR along the way. */
	for (;;) {
		uint8_t iir = urd(a, IIR), lsr = urd(a, LSR);

		assert_int_equal(urd(b, IIR), iir);
		assert_int_equal(urd(b, LSR), lsr);
		if (!(lsr & 0x01))
			break;
		assert_int_equal(urd(b, RBR), urd(a, RBR));
	}
	assert_int_equal(urd(b, IIR), urd(a, IIR));
}

static void test_uart_round_trip(void **state)
{
	struct uart_rig a, b;
	struct snap s;
	struct rv_err err = { "" };
	unsigned int a0;

	(void)state;
	uart_busy(&a);
	/* Received data outranks THR empty. */
	assert_int_equal(urd(&a, IIR), 0xc4);
	uart_save(&a, &s, "com1");
	uart_rig_init(&b);
	if (uart8250_load(b.u, &s.r, "com1", &err) != 0)
		fail_msg("%s", err.msg);
	snap_free(&s);
	/* The line's level came back with the interrupt controller: loading
	 * drives nothing. The first change afterwards is the line going
	 * down, exactly when it goes down on the original. */
	assert_int_equal(b.nlevel, 0);
	a0 = a.nlevel;
	uart_assert_same(&a, &b);
	assert_int_equal(b.nlevel, a.nlevel - a0);
	for (unsigned int i = 0; i < b.nlevel; i++)
		assert_int_equal(b.level[i], a.level[a0 + i]);
	assert_false(b.level[b.nlevel - 1]);
	/* And both transmit and take input the same way afterwards. */
	uwr(&a, THR, 'x');
	uwr(&b, THR, 'x');
	assert_int_equal(uart8250_input(b.u, (const uint8_t *)"ok", 2),
			 uart8250_input(a.u, (const uint8_t *)"ok", 2));
	uart_assert_same(&a, &b);
	uart8250_free(a.u);
	uart8250_free(b.u);
}

/* Payload offsets of the "com1" section (uart8250_save). */
enum { U_IER, U_LCR, U_MCR, U_MSR, U_SCR, U_DLL, U_DLM, U_FIFO_ON,
       U_OVERRUN, U_THR, U_IRQ, U_COUNT, U_RX = U_COUNT + 4 };

static int uart_load_raw(struct uart_rig *g, uint32_t version,
			 const uint8_t *p, size_t n, struct rv_err *err)
{
	struct snap s;
	int rc;

	snap_raw(&s, "com1", version, p, n);
	rc = uart8250_load(g->u, &s.r, "com1", err);
	snap_free(&s);
	return rc;
}

/* Its own section, as bytes: equal bytes, equal device. */
static size_t uart_bytes(struct uart_rig *g, uint8_t *out, size_t cap)
{
	struct snap s;
	size_t n;

	uart_save(g, &s, "com1");
	n = snap_payload(&s, "com1", out, cap);
	snap_free(&s);
	return n;
}

static void test_uart_refusals(void **state)
{
	static const struct {
		const char *what;
		uint8_t fifo_on;
		uint32_t count;
		size_t have;            /* FIFO bytes present in the payload */
		uint8_t bool_byte;      /* written at U_OVERRUN */
		size_t extra;           /* bytes after the FIFO */
		const char *says;
	} bad[] = {
		{ "65 bytes in a 64-byte FIFO", 1, 65, 65, 0, 0,
		  "receive FIFO" },
		{ "2 bytes without FIFOs", 0, 2, 2, 0, 0, "receive FIFO" },
		{ "huge count", 1, 0xffffffffu, 8, 0, 0, "receive FIFO" },
		{ "count past the payload", 1, 5, 3, 0, 0,
		  "runs past the end" },
		{ "a byte too many", 1, 3, 3, 0, 1, "left unread" },
		{ "bool of 2", 1, 3, 3, 2, 0, "bool at offset 8" },
	};
	struct uart_rig victim;
	uint8_t before[128], after[128], p[U_RX + 80];
	size_t nb, na;
	struct rv_err err;

	(void)state;
	uart_busy(&victim);
	nb = uart_bytes(&victim, before, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = U_RX + bad[i].have + bad[i].extra;

		memset(p, 0x41, sizeof(p));
		memset(p, 0, U_COUNT);
		p[U_LCR] = 0x03;
		p[U_IER] = 0x0f;
		p[U_SCR] = 0x99;
		p[U_FIFO_ON] = bad[i].fifo_on;
		p[U_OVERRUN] = bad[i].bool_byte;
		put_le32(p + U_COUNT, bad[i].count);
		err.msg[0] = 0;
		if (uart_load_raw(&victim, 1, p, n, &err) != -1)
			fail_msg("accepted: %s", bad[i].what);
		assert_msg(&err, "state section com1");
		assert_msg(&err, bad[i].says);
		/* Nothing of the refused section was taken. */
		na = uart_bytes(&victim, after, sizeof(after));
		assert_int_equal(na, nb);
		assert_memory_equal(after, before, nb);
	}
	/* A newer section version, and no section at all. */
	assert_int_equal(uart_load_raw(&victim, 2, before, nb, &err), -1);
	assert_msg(&err, "version 2");
	{
		struct snap s;

		uart_save(&victim, &s, "com2");
		assert_int_equal(uart8250_load(victim.u, &s.r, "com1", &err),
				 -1);
		assert_msg(&err, "com1 is missing");
		snap_free(&s);
	}
	na = uart_bytes(&victim, after, sizeof(after));
	assert_memory_equal(after, before, nb);

	/* The limits themselves are accepted: one byte without FIFOs, a full
	 * 64-byte FIFO, read back in order. */
	memset(p, 0, sizeof(p));
	p[U_LCR] = 0x03;
	p[U_IER] = 0x01;
	put_le32(p + U_COUNT, 1);
	p[U_RX] = 0x5c;
	assert_int_equal(uart_load_raw(&victim, 1, p, U_RX + 1, &err), 0);
	assert_int_equal(urd(&victim, IIR), 0x04);
	assert_int_equal(urd(&victim, RBR), 0x5c);
	assert_int_equal(urd(&victim, LSR) & 0x01, 0);
	p[U_FIFO_ON] = 1;
	put_le32(p + U_COUNT, 64);
	for (int i = 0; i < 64; i++)
		p[U_RX + i] = (uint8_t)(i * 3);
	assert_int_equal(uart_load_raw(&victim, 1, p, U_RX + 64, &err), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(urd(&victim, RBR), (uint8_t)(i * 3));
	assert_int_equal(urd(&victim, LSR) & 0x01, 0);
	uart8250_free(victim.u);
}

/* ==== ACPI power registers ==== */

struct pm_requests {
	unsigned int poweroff, reboot;
};

static void pm_record(void *ctx, enum vm_request req, const char *why)
{
	struct pm_requests *r = ctx;

	(void)why;
	if (req == VM_REQ_POWEROFF)
		r->poweroff++;
	else
		r->reboot++;
}

static void test_acpi_pm_state(void **state)
{
	struct pm_requests ra = { 0 }, rb = { 0 };
	struct acpi_pm a, b;
	struct state_writer w;
	struct snap s;
	struct rv_err err = { "" };
	uint8_t v, one = 1;

	(void)state;
	acpi_pm_init(&a, (struct vm_ctl){ pm_record, &ra },
		     X86_ACPI_S5_SLP_TYP, X86_ACPI_RESET_VALUE);
	acpi_pm_init(&b, (struct vm_ctl){ pm_record, &rb },
		     X86_ACPI_S5_SLP_TYP, X86_ACPI_RESET_VALUE);
	state_writer_init(&w, "test");
	acpi_pm_save(&a, &w);
	snap_take(&s, &w);
	assert_int_equal(s.r.nsec, 1);
	assert_string_equal(s.r.sec[0].name, "acpi_pm");
	assert_int_equal(s.r.sec[0].len, 0);
	if (acpi_pm_load(&b, &s.r, &err) != 0)
		fail_msg("%s", err.msg);
	snap_free(&s);
	/* The restored device still powers off and resets the machine. */
	v = (uint8_t)(X86_ACPI_S5_SLP_TYP << 2 | 0x20);
	acpi_pm_io(&b, 0, &v, 1, true);
	v = X86_ACPI_RESET_VALUE;
	acpi_pm_io(&b, 2, &v, 1, true);
	assert_int_equal(rb.poweroff, 1);
	assert_int_equal(rb.reboot, 1);
	assert_int_equal(ra.poweroff + ra.reboot, 0);

	/* A section that carries anything, a newer one, none. */
	snap_raw(&s, "acpi_pm", 1, &one, 1);
	assert_int_equal(acpi_pm_load(&b, &s.r, &err), -1);
	assert_msg(&err, "state section acpi_pm: 1 bytes left unread");
	snap_free(&s);
	snap_raw(&s, "acpi_pm", 2, NULL, 0);
	assert_int_equal(acpi_pm_load(&b, &s.r, &err), -1);
	assert_msg(&err, "acpi_pm is version 2");
	snap_free(&s);
	snap_raw(&s, "acpi_pn", 1, NULL, 0);
	assert_int_equal(acpi_pm_load(&b, &s.r, &err), -1);
	assert_msg(&err, "acpi_pm is missing");
	snap_free(&s);
	assert_int_equal(rb.poweroff + rb.reboot, 2);
}

/* ==== a PCI function with MSI-X ==== */

#define P_NVEC      4
#define P_TABLE     0x4000
#define P_PBA       0x5000
#define P_MMIO      0xc0000000ull

struct route_rec {
	unsigned int v;
	uint64_t addr;
	uint32_t data;
};

/* What the vm layer would see: routes (KVM GSI routes) and fires. */
struct route_log {
	struct msix *m;
	struct route_rec route[64];
	unsigned int nroute;
	unsigned int fires[MSIX_MAX_VECTORS];
	unsigned int fired_masked;
};

static void log_route(void *ctx, unsigned int v, uint64_t addr,
		      uint32_t data)
{
	struct route_log *l = ctx;

	if (l->nroute < 64)
		l->route[l->nroute++] = (struct route_rec){ v, addr, data };
}

static void log_fire(void *ctx, unsigned int v)
{
	struct route_log *l = ctx;
	struct msix *m = l->m;

	if (!m->enabled || m->func_masked || (m->table[v].ctrl & 1))
		l->fired_masked++;
	l->fires[v]++;
}

struct pci_rig {
	struct pci_host host;
	struct io_bus mmio, pio;
	struct pci_device d;
	struct msix m;
	struct route_log log;
	uint8_t vcap;                   /* vendor capability offset */
};

static void bar_fn(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
	(void)is_write;
}

static void cfg_hook(void *dev, uint32_t off, uint32_t len)
{
	msix_cfg_written(dev, off, len);
}

/* One layout: BAR0 32-bit 32 KiB (table and PBA), BAR2 64-bit 16 KiB, a
 * vendor capability with two guest-writable bytes, MSI-X with nvec
 * vectors, placed by a host bridge the same way every time. */
static void pci_rig_init(struct pci_rig *g, uint16_t device_id,
			 unsigned int nvec)
{
	static const uint8_t cap[8] = { PCI_CAP_ID_VNDR, 0, 8, 0x11, 0x22,
					0x33, 0x44, 0x55 };
	static const uint8_t wm[8] = { 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
	struct rv_err err;

	memset(g, 0, sizeof(*g));
	g->log.m = &g->m;
	pci_device_init(&g->d, 0x1af4, device_id, 0x020000, 1, 0x1af4, 1);
	assert_int_equal(pci_device_add_bar(&g->d, 0, 0x8000, false, false,
					    bar_fn, g, "bar0", &err), 0);
	assert_int_equal(pci_device_add_bar(&g->d, 2, 0x4000, false, true,
					    bar_fn, g, "bar2", &err), 0);
	assert_int_equal(pci_device_add_cap(&g->d, cap, wm, sizeof(cap),
					    &g->vcap, &err), 0);
	assert_int_equal(msix_init(&g->m, &g->d, nvec, 0, P_TABLE, P_PBA,
				   (struct msix_sink){ .route = log_route,
						       .fire = log_fire,
						       .ctx = &g->log }, &err), 0);
	g->d.cfg_written = cfg_hook;
	g->d.cfg_written_dev = &g->m;
	pci_host_init(&g->host, P_MMIO, 0xfebfffffull, 0x1000, 0xffff);
	io_bus_init(&g->mmio);
	io_bus_init(&g->pio);
	assert_int_equal(pci_host_add(&g->host, &g->d, &g->mmio, &g->pio,
				      &err), 0);
}

static void pci_rig_destroy(struct pci_rig *g)
{
	assert_int_equal(g->log.fired_masked, 0);
	msix_destroy(&g->m);
	pci_device_destroy(&g->d);
	pci_host_destroy(&g->host);
}

static uint32_t cfg_rd(struct pci_rig *g, uint32_t off, uint32_t len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_read(&g->d, off, b, len);
	return get_le32(b);
}

static void cfg_wr(struct pci_rig *g, uint32_t off, uint32_t len, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_write(&g->d, off, b, len);
}

static uint32_t tab_rd(struct pci_rig *g, uint64_t off)
{
	uint8_t b[4];

	msix_table_io(&g->m, off, b, 4, false);
	return get_le32(b);
}

static void tab_wr(struct pci_rig *g, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	msix_table_io(&g->m, off, b, 4, true);
}

static uint64_t pba_rd(struct pci_rig *g)
{
	uint8_t b[8];

	msix_pba_io(&g->m, 0, b, 8, false);
	return get_le64(b);
}

static uint64_t vec_addr(unsigned int v)
{
	return 0x1fee01000ull + ((uint64_t)v << 12);
}

/* A driver that enabled the function and MSI-X, programmed every vector,
 * left vector 2 masked with a message pending, and fired vector 1. */
static void pci_busy(struct pci_rig *g)
{
	cfg_wr(g, PCI_COMMAND, 2, PCI_CMD_MEM | PCI_CMD_MASTER |
	       PCI_CMD_INTX_DISABLE);
	cfg_wr(g, PCI_INT_LINE, 1, 0x0b);
	cfg_wr(g, g->vcap + 4u, 2, 0xbeef);
	for (unsigned int v = 0; v < g->m.nvec; v++) {
		tab_wr(g, 16 * v, (uint32_t)vec_addr(v));
		tab_wr(g, 16 * v + 4, (uint32_t)(vec_addr(v) >> 32));
		tab_wr(g, 16 * v + 8, 0x4020 + v);
		if (v != 2)
			tab_wr(g, 16 * v + 12, 0);
	}
	cfg_wr(g, g->m.cap_off + 2u, 2, 0x8000);
	msix_notify(&g->m, 2);
	msix_notify(&g->m, 1);
	assert_int_equal(g->log.fires[1], 1);
	assert_int_equal(g->log.fires[2], 0);
	assert_int_equal(pba_rd(g), 1u << 2);
}

/* The function's section, as a device would write it. */
static void pci_save(struct pci_rig *g, struct snap *s)
{
	struct state_writer w;

	state_writer_init(&w, "test");
	state_begin(&w, "dev", 1);
	pci_device_save(&g->d, &w);
	msix_save(&g->m, &w);
	state_end(&w);
	snap_take(s, &w);
}

static int pci_load(struct pci_rig *g, const struct snap *s,
		    struct rv_err *err)
{
	struct state_cursor c;

	if (state_section(&s->r, "dev", 1, &c, NULL, err) < 0)
		return -1;
	pci_device_load(&g->d, &c);
	msix_load(&g->m, &c);
	return state_cursor_finish(&c, err);
}

static void pci_assert_same(struct pci_rig *a, struct pci_rig *b)
{
	for (uint32_t off = 0; off < PCI_CFG_SIZE; off += 4)
		if (cfg_rd(b, off, 4) != cfg_rd(a, off, 4))
			fail_msg("config dword %#x: %#x, original %#x", off,
				 cfg_rd(b, off, 4), cfg_rd(a, off, 4));
	for (uint64_t off = 0; off < 16ull * a->m.nvec; off += 4)
		assert_int_equal(tab_rd(b, off), tab_rd(a, off));
	assert_int_equal(pba_rd(b), pba_rd(a));
}

static void test_pci_msix_round_trip(void **state)
{
	struct pci_rig *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct snap s;
	struct rv_err err = { "" };

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	pci_rig_init(a, 0x1041, P_NVEC);
	pci_busy(a);
	pci_save(a, &s);
	pci_rig_init(b, 0x1041, P_NVEC);
	assert_int_equal(cfg_rd(b, PCI_BAR0, 4), cfg_rd(a, PCI_BAR0, 4));
	if (pci_load(b, &s, &err) != 0)
		fail_msg("%s", err.msg);
	snap_free(&s);
	pci_assert_same(a, b);
	assert_int_equal(cfg_rd(b, PCI_COMMAND, 2), PCI_CMD_MEM |
			 PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE);
	assert_int_equal(cfg_rd(b, b->vcap + 4u, 2), 0xbeef);
	/* Every vector was routed again, as the guest programmed it. */
	assert_int_equal(b->log.nroute, P_NVEC);
	for (unsigned int v = 0; v < P_NVEC; v++) {
		assert_int_equal(b->log.route[v].v, v);
		assert_int_equal(b->log.route[v].addr, vec_addr(v));
		assert_int_equal(b->log.route[v].data, 0x4020 + v);
	}
	assert_int_equal(b->log.fires[1] + b->log.fires[2], 0);
	/* Both behave the same: a fire goes out, the pending message is sent
	 * on unmask, a function mask holds messages back. */
	msix_notify(&a->m, 3);
	msix_notify(&b->m, 3);
	assert_int_equal(b->log.fires[3], 1);
	tab_wr(a, 16 * 2 + 12, 0);
	tab_wr(b, 16 * 2 + 12, 0);
	assert_int_equal(b->log.fires[2], 1);
	assert_int_equal(a->log.fires[2], 1);
	cfg_wr(a, a->m.cap_off + 2u, 2, 0xc000);
	cfg_wr(b, b->m.cap_off + 2u, 2, 0xc000);
	msix_notify(&a->m, 0);
	msix_notify(&b->m, 0);
	assert_int_equal(b->log.fires[0], 0);
	pci_assert_same(a, b);
	assert_int_equal(pba_rd(b), 1);
	/* A function mask in the snapshot comes back too. */
	pci_save(a, &s);
	pci_rig_destroy(b);
	pci_rig_init(b, 0x1041, P_NVEC);
	assert_int_equal(pci_load(b, &s, &err), 0);
	snap_free(&s);
	assert_true(b->m.enabled);
	assert_true(b->m.func_masked);
	msix_notify(&b->m, 1);
	assert_int_equal(b->log.fires[1], 0);
	cfg_wr(b, b->m.cap_off + 2u, 2, 0x8000);
	assert_int_equal(b->log.fires[0], 1);
	assert_int_equal(b->log.fires[1], 1);
	pci_rig_destroy(a);
	pci_rig_destroy(b);
	free(a);
	free(b);
}

/* A guest sizing a BAR (all-ones written, the size mask not yet read or
 * the address not yet written back) when the VM was paused: the restored
 * function is in the same step of the protocol. */
static void test_pci_snapshot_mid_bar_sizing(void **state)
{
	struct pci_rig *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct snap s;
	struct rv_err err = { "" };
	uint32_t addr0, addr3;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	pci_rig_init(a, 0x1041, P_NVEC);
	pci_busy(a);
	addr0 = cfg_rd(a, PCI_BAR0, 4);
	addr3 = cfg_rd(a, PCI_BAR0 + 12, 4);
	cfg_wr(a, PCI_BAR0, 4, 0xffffffff);
	cfg_wr(a, PCI_BAR0 + 12, 4, 0xffffffff);        /* BAR2's top half */
	assert_int_equal(cfg_rd(a, PCI_BAR0, 4), 0xffff8000);
	pci_save(a, &s);
	pci_rig_init(b, 0x1041, P_NVEC);
	if (pci_load(b, &s, &err) != 0)
		fail_msg("%s", err.msg);
	snap_free(&s);
	pci_assert_same(a, b);
	assert_int_equal(cfg_rd(b, PCI_BAR0, 4), 0xffff8000);
	assert_int_equal(cfg_rd(b, PCI_BAR0 + 12, 4), 0xffffffff);
	cfg_wr(a, PCI_BAR0, 4, addr0);
	cfg_wr(b, PCI_BAR0, 4, addr0);
	cfg_wr(a, PCI_BAR0 + 12, 4, addr3);
	cfg_wr(b, PCI_BAR0 + 12, 4, addr3);
	pci_assert_same(a, b);
	assert_int_equal(cfg_rd(b, PCI_BAR0, 4), addr0);
	pci_rig_destroy(a);
	pci_rig_destroy(b);
	free(a);
	free(b);
}

/* Offsets in the "dev" payload: config space, then MSI-X. */
#define PL_NVEC   PCI_CFG_SIZE
#define PL_TABLE  (PL_NVEC + 4)
#define PL_PBA(n) (PL_TABLE + 16 * (n))
/* The first cases of test_pci_msix_refusals are refused by the config
 * space, the rest by MSI-X. */
#define PCI_CFG_CASES 6

static void test_pci_msix_refusals(void **state)
{
	struct pci_rig *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint8_t p[PL_PBA(P_NVEC) + 16], q[sizeof(p)], before[PCI_CFG_SIZE];
	struct snap s;
	struct rv_err err = { "" };
	size_t n;
	struct {
		const char *what;
		size_t off;
		uint8_t xor;
		const char *says;
	} bad[] = {
		{ "vendor ID", PCI_VENDOR_ID, 0x01,
		  "differs at config offset 0" },
		{ "class", PCI_CLASS_PROG + 2, 0x04,
		  "differs at config offset 0xb" },
		{ "a read-only command bit", PCI_COMMAND + 1, 0x01,
		  "differs at config offset 0x5" },
		{ "BAR0 address", PCI_BAR0 + 2, 0x10,
		  "differs at config offset 0x12" },
		{ "capability list", PCI_CAP_PTR, 0x04,
		  "differs at config offset 0x34" },
		{ "MSI-X table size", 0, 0x01, "differs at config offset" },
		{ "MSI-X vector count", PL_NVEC, 0x01,
		  "MSI-X vector count differs" },
		{ "pending bit past the table", PL_PBA(P_NVEC), 0x10,
		  "MSI-X pending bits beyond the table" },
	};

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	pci_rig_init(a, 0x1041, P_NVEC);
	pci_busy(a);
	pci_save(a, &s);
	n = snap_payload(&s, "dev", p, sizeof(p));
	assert_int_equal(n, PL_PBA(P_NVEC) + 8);
	snap_free(&s);
	bad[5].off = a->m.cap_off + 2u;
	pci_rig_init(b, 0x1041, P_NVEC);
	for (uint32_t off = 0; off < PCI_CFG_SIZE; off++)
		before[off] = (uint8_t)cfg_rd(b, off, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(q, p, n);
		q[bad[i].off] ^= bad[i].xor;
		snap_raw(&s, "dev", 1, q, n);
		err.msg[0] = 0;
		if (pci_load(b, &s, &err) != -1)
			fail_msg("accepted: %s", bad[i].what);
		assert_msg(&err, "state section dev");
		assert_msg(&err, bad[i].says);
		snap_free(&s);
		/* A config space refused is not taken; MSI-X is loaded
		 * after it, into the config space it finds. */
		if (i < PCI_CFG_CASES)
			for (uint32_t off = 0; off < PCI_CFG_SIZE; off++)
				assert_int_equal(cfg_rd(b, off, 1),
						 before[off]);
	}
	/* Truncated in the vector table, and cut before the PBA. */
	for (size_t cut = PL_TABLE + 5; cut < n; cut += 31) {
		snap_raw(&s, "dev", 1, p, cut);
		assert_int_equal(pci_load(b, &s, &err), -1);
		assert_msg(&err, "runs past the end");
		snap_free(&s);
	}
	/* No MSI-X state of a refused section was taken or routed. */
	assert_int_equal(b->log.nroute, 0);
	assert_false(b->m.enabled);
	assert_int_equal(tab_rd(b, 12), 1);     /* still masked */

	/* A function built differently: other IDs, fewer vectors. */
	snap_raw(&s, "dev", 1, p, n);
	pci_rig_destroy(b);
	pci_rig_init(b, 0x1042, P_NVEC);
	assert_int_equal(pci_load(b, &s, &err), -1);
	assert_msg(&err, "PCI function 1af4:1042 differs at config offset 0x2");
	pci_rig_destroy(b);
	pci_rig_init(b, 0x1041, P_NVEC - 1);
	assert_int_equal(pci_load(b, &s, &err), -1);
	assert_msg(&err, "1af4:1041 differs at config offset");
	assert_int_equal(b->log.nroute, 0);
	/* Only guest-writable bits may differ: the untouched payload loads
	 * into the same layout. */
	pci_rig_destroy(b);
	pci_rig_init(b, 0x1041, P_NVEC);
	assert_int_equal(pci_load(b, &s, &err), 0);
	snap_free(&s);
	pci_assert_same(a, b);
	pci_rig_destroy(a);
	pci_rig_destroy(b);
	free(a);
	free(b);
}

/* ==== the device side of a split virtqueue ==== */

#define VQ_RAM   (1u << 20)
#define VQ_RING  0x1000ull
#define VQ_BUF   0x40000ull
#define VQ_SIZE  8

struct vq_rig {
	struct guest_mem mem;
	struct vqd d;
	struct virtq vq;
	struct iovec iov[VQ_SIZE];
	struct virtq_chain c;
};

static void vq_rig_init(struct vq_rig *g)
{
	struct guest_region layout = { .gpa = 0, .size = VQ_RAM };
	struct rv_err err;

	memset(g, 0, sizeof(*g));
	assert_int_equal(guest_mem_map(&g->mem, &layout, 1, &err), 0);
	assert_int_equal(vqd_init(&g->d, &g->mem, VQ_SIZE, VQ_RING), 0);
	assert_int_equal(vqd_attach(&g->d, &g->vq, true, false, &err), 0);
	g->c = (struct virtq_chain){ .iov = g->iov, .iov_cap = VQ_SIZE };
}

static uint16_t vq_post(struct vq_rig *g, unsigned int k)
{
	uint16_t h = vqd_add(&g->d, (struct vqd_seg[]){
		{ VQ_BUF + 0x100ull * k, 16, false },
		{ VQ_BUF + 0x100ull * k + 0x80, 32, true } }, 2);

	vqd_publish(&g->d, h);
	return h;
}

static uint16_t vq_take(struct vq_rig *g, struct virtq *vq)
{
	assert_int_equal(virtq_pop(vq, &g->c), VIRTQ_OK);
	return g->c.head;
}

static void test_virtq_unpop(void **state)
{
	struct vq_rig g;
	struct virtq_indices ix;
	uint16_t h[4];

	(void)state;
	vq_rig_init(&g);
	for (unsigned int k = 0; k < 4; k++)
		h[k] = vq_post(&g, k);
	for (unsigned int k = 0; k < 3; k++)
		assert_int_equal(vq_take(&g, &g.vq), h[k]);
	virtq_push(&g.vq, h[0], 7);
	/* The two taken but unanswered come back, in order, before h[3]. */
	virtq_unpop(&g.vq, 2);
	assert_int_equal(virtq_avail_count(&g.vq), 3);
	virtq_get_indices(&g.vq, &ix);
	assert_int_equal(ix.last_avail, 1);
	assert_int_equal(ix.used_idx, 1);
	for (unsigned int k = 1; k < 4; k++) {
		assert_int_equal(vq_take(&g, &g.vq), h[k]);
		assert_int_equal(g.c.out_len, 16);
		assert_int_equal(g.c.in_len, 32);
	}
	assert_int_equal(virtq_pop(&g.vq, &g.c), VIRTQ_EMPTY);
	/* Across the 16-bit wrap. */
	vqd_set_start_index(&g.d, &g.vq, 0xfffe);
	for (unsigned int k = 0; k < 3; k++)
		h[k] = vq_post(&g, k);
	for (unsigned int k = 0; k < 3; k++)
		assert_int_equal(vq_take(&g, &g.vq), h[k]);
	virtq_unpop(&g.vq, 3);
	virtq_get_indices(&g.vq, &ix);
	assert_int_equal(ix.last_avail, 0xfffe);
	assert_int_equal(vq_take(&g, &g.vq), h[0]);
	guest_mem_unmap(&g.mem);
}

/* A second virtq on the same ring (a restored device) continues where
 * the first left off: next chain, next used slot, same interrupt
 * decisions. */
static void test_virtq_indices_round_trip(void **state)
{
	struct vq_rig g;
	struct virtq b;
	struct virtq_indices ix, ix2;
	struct rv_err err = { "" };
	uint32_t id, len;
	uint16_t h[3];

	(void)state;
	vq_rig_init(&g);
	vqd_set_start_index(&g.d, &g.vq, 0xfffc);
	for (unsigned int k = 0; k < 5; k++) {
		uint16_t head = vq_post(&g, k);

		assert_int_equal(vq_take(&g, &g.vq), head);
		virtq_push(&g.vq, head, k);
		assert_true(vqd_get_used(&g.d, &id, &len));
	}
	vqd_set_used_event(&g.d, 0);
	assert_true(virtq_should_notify(&g.vq));
	for (unsigned int k = 0; k < 2; k++)
		h[k] = vq_post(&g, 5 + k);          /* available, not taken */
	virtq_get_indices(&g.vq, &ix);
	assert_int_equal(ix.last_avail, 1);
	assert_int_equal(ix.used_idx, 1);
	assert_int_equal(ix.signalled_used, 1);
	assert_true(ix.signalled_valid);
	assert_false(ix.broken);

	assert_int_equal(vqd_attach(&g.d, &b, true, false, &err), 0);
	if (virtq_set_indices(&b, &ix, &err) != 0)
		fail_msg("%s", err.msg);
	virtq_get_indices(&b, &ix2);
	assert_memory_equal(&ix2, &ix, sizeof(ix));
	assert_int_equal(virtq_avail_count(&b), 2);
	assert_int_equal(vq_take(&g, &b), h[0]);
	virtq_push(&b, h[0], 77);
	assert_true(vqd_get_used(&g.d, &id, &len));
	assert_int_equal(id, h[0]);
	assert_int_equal(len, 77);
	assert_int_equal(vqd_used_idx(&g.d), 2);
	/* used_event 0 was crossed before the snapshot: no interrupt now,
	 * one when the driver asks for the next. */
	assert_false(virtq_should_notify(&b));
	vqd_set_used_event(&g.d, 2);
	h[2] = h[1];
	assert_int_equal(vq_take(&g, &b), h[2]);
	virtq_push(&b, h[2], 1);
	assert_true(virtq_should_notify(&b));
	guest_mem_unmap(&g.mem);
}

static void test_virtq_indices_refused(void **state)
{
	struct vq_rig g;
	struct virtq b;
	struct virtq_indices ix, fresh;
	struct rv_err err = { "" };
	uint32_t id, len;

	(void)state;
	vq_rig_init(&g);
	for (unsigned int k = 0; k < 5; k++) {
		uint16_t head = vq_post(&g, k);

		assert_int_equal(vq_take(&g, &g.vq), head);
		virtq_push(&g.vq, head, 0);
		assert_true(vqd_get_used(&g.d, &id, &len));
	}
	vq_post(&g, 5);
	vq_post(&g, 6);                     /* avail->idx 7, used->idx 5 */
	virtq_get_indices(&g.vq, &ix);
	assert_int_equal(vqd_attach(&g.d, &b, true, false, &err), 0);
	virtq_get_indices(&b, &fresh);

	/* The used index must be the one in guest memory. */
	ix.used_idx = 4;
	assert_int_equal(virtq_set_indices(&b, &ix, &err), -1);
	assert_msg(&err, "used index 4 in the snapshot, 5 in guest memory");
	/* Taken chains the driver never made available. */
	ix.used_idx = 5;
	ix.last_avail = 8;
	assert_int_equal(virtq_set_indices(&b, &ix, &err), -1);
	assert_msg(&err, "avail 7 / taken 8 / used 5");
	/* More outstanding than the queue holds. */
	ix.last_avail = (uint16_t)(5 + VQ_SIZE + 1);
	vqd_set_avail_idx(&g.d, ix.last_avail);
	assert_int_equal(virtq_set_indices(&b, &ix, &err), -1);
	assert_msg(&err, "do not fit a queue of 8");
	/* Refusals leave the fresh queue as it was. */
	{
		struct virtq_indices now;

		virtq_get_indices(&b, &now);
		assert_memory_equal(&now, &fresh, sizeof(now));
	}
	/* Up to the limits is fine. */
	ix.last_avail = (uint16_t)(5 + VQ_SIZE);
	assert_int_equal(virtq_set_indices(&b, &ix, &err), 0);
	guest_mem_unmap(&g.mem);
}

/* ==== the VM description ==== */

static const uint8_t mac0[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x01 };
static const uint8_t mac1[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };

static void full_config(struct vm_config *c, uint8_t (*macs)[6])
{
	memset(c, 0, sizeof(*c));
	c->kernel = "/boot/vmlinuz-6.1.0-18-amd64";
	c->initrd = "/var/lib/ringvm/initrd.img";
	c->cmdline = "console=hvc0 root=/dev/vda rw quiet";
	c->mem_size = 768ull << 20;
	c->ncpus = 3;
	c->console = CONSOLE_VIRTIO;
	c->rng = true;
	c->serial_log = "/tmp/not-in-the-snapshot";
	c->stats_path = "/tmp/nor-this";
	c->ndisks = 3;
	c->disk[0] = (struct disk_config){ .path = "/srv/img/root.raw",
					   .direct = true, .id = "rootfs" };
	c->disk[1] = (struct disk_config){ .path = "/srv/img/data.raw",
					   .readonly = true, .sync = true };
	c->disk[2] = (struct disk_config){ .path = "/dev/vg0/scratch",
					   .id = "scratch" };
	c->nnics = 2;
	c->nic[0] = (struct nic_config){ .tap = "tap0", .mac_set = true,
					 .id = "eth0" };
	memcpy(c->nic[0].mac, mac0, 6);
	/* A MAC ringvm chose: the snapshot keeps the one the guest saw. */
	c->nic[1] = (struct nic_config){ .tap = "rvtap17", .mac_set = false };
	memcpy(macs[0], mac0, 6);
	memcpy(macs[1], mac1, 6);
}

static void config_snap(struct snap *s, const struct vm_config *c,
			const uint8_t (*macs)[6])
{
	struct state_writer w;

	state_writer_init(&w, "test");
	vm_config_save(&w, c, macs);
	snap_take(s, &w);
}

static void assert_str(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void test_config_round_trip(void **state)
{
	struct vm_config c;
	uint8_t macs[VM_MAX_NICS][6];
	struct vm_config_store st;
	struct snap s;
	struct rv_err err = { "" };
	const struct vm_config *g = &st.cfg;

	(void)state;
	full_config(&c, macs);
	config_snap(&s, &c, (const uint8_t (*)[6])macs);
	if (vm_config_load(&s.r, &st, &err) != 0)
		fail_msg("%s", err.msg);
	snap_free(&s);
	assert_string_equal(g->kernel, c.kernel);
	assert_string_equal(g->initrd, c.initrd);
	assert_string_equal(g->cmdline, c.cmdline);
	assert_int_equal(g->mem_size, c.mem_size);
	assert_int_equal(g->ncpus, 3);
	assert_int_equal(g->console, CONSOLE_VIRTIO);
	assert_true(g->rng);
	/* The restoring process's own choices are not in the snapshot. */
	assert_null(g->serial_log);
	assert_null(g->stats_path);
	assert_int_equal(g->ndisks, 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_string_equal(g->disk[i].path, c.disk[i].path);
		assert_int_equal(g->disk[i].readonly, c.disk[i].readonly);
		assert_int_equal(g->disk[i].direct, c.disk[i].direct);
		assert_int_equal(g->disk[i].sync, c.disk[i].sync);
		assert_str(g->disk[i].id, c.disk[i].id);
	}
	assert_int_equal(g->nnics, 2);
	for (unsigned int i = 0; i < 2; i++) {
		assert_string_equal(g->nic[i].tap, c.nic[i].tap);
		assert_memory_equal(g->nic[i].mac, macs[i], 6);
		assert_true(g->nic[i].mac_set);
		assert_str(g->nic[i].id, c.nic[i].id);
	}
	vm_config_store_free(&st);

	/* The smallest description: no initrd, empty command line, serial
	 * console, nothing attached. */
	memset(&c, 0, sizeof(c));
	c.kernel = "k";
	c.cmdline = "";
	c.mem_size = VM_MIN_MEM;
	c.ncpus = VM_MAX_VCPUS;
	c.console = CONSOLE_NONE;
	config_snap(&s, &c, NULL);
	assert_int_equal(vm_config_load(&s.r, &st, &err), 0);
	snap_free(&s);
	assert_string_equal(g->kernel, "k");
	assert_null(g->initrd);
	assert_string_equal(g->cmdline, "");
	assert_int_equal(g->ncpus, VM_MAX_VCPUS);
	assert_int_equal(g->console, CONSOLE_NONE);
	assert_false(g->rng);
	assert_int_equal(g->ndisks + g->nnics, 0);
	vm_config_store_free(&st);
}

/* The "config" payload, field by field, as vm_config_save lays it out;
 * each field can be given a value save would never write. */
struct raw_config {
	uint64_t mem;
	uint32_t ncpus;
	uint8_t console, rng;
	const char *kernel, *cmdline;
	uint32_t ndisks, disks_written;
	const char *disk_path;
	uint8_t disk_ro;
	uint32_t nnics, nics_written;
	const char *tap;
	bool truncate;          /* leave the last byte out */
};

static void raw_config_default(struct raw_config *rc)
{
	*rc = (struct raw_config){
		.mem = 256ull << 20, .ncpus = 2, .console = CONSOLE_SERIAL,
		.kernel = "/vmlinuz", .cmdline = "console=ttyS0",
		.ndisks = 1, .disks_written = 1, .disk_path = "/d.img",
		.nnics = 1, .nics_written = 1, .tap = "tap0",
	};
}

static int load_raw_config(const struct raw_config *rc,
			   struct vm_config_store *st, struct rv_err *err)
{
	struct state_writer w;
	struct snap s, t;
	uint8_t p[16384];
	size_t n;
	int ret;

	state_writer_init(&w, "test");
	state_begin(&w, "config", 1);
	state_put_u64(&w, rc->mem);
	state_put_u32(&w, rc->ncpus);
	state_put_u8(&w, rc->console);
	state_put_u8(&w, rc->rng);
	state_put_str(&w, rc->kernel);
	state_put_str(&w, "");
	state_put_str(&w, rc->cmdline);
	state_put_u32(&w, rc->ndisks);
	for (unsigned int i = 0; i < rc->disks_written; i++) {
		state_put_str(&w, rc->disk_path);
		state_put_u8(&w, rc->disk_ro);
		state_put_bool(&w, false);
		state_put_bool(&w, false);
		state_put_str(&w, "");
	}
	state_put_u32(&w, rc->nnics);
	for (unsigned int i = 0; i < rc->nics_written; i++) {
		state_put_str(&w, rc->tap);
		state_put_bytes(&w, mac0, 6);
		state_put_str(&w, "net-a");
	}
	state_end(&w);
	snap_take(&s, &w);
	n = snap_payload(&s, "config", p, sizeof(p));
	snap_free(&s);
	snap_raw(&t, "config", 1, p, rc->truncate ? n - 1 : n);
	ret = vm_config_load(&t.r, st, err);
	snap_free(&t);
	return ret;
}

static void test_config_refusals(void **state)
{
	static char long_str[4200];
	struct raw_config rc;
	struct vm_config_store st;
	struct rv_err err = { "" };

	(void)state;
	memset(long_str, 'x', sizeof(long_str) - 1);
	raw_config_default(&rc);
	if (load_raw_config(&rc, &st, &err) != 0)
		fail_msg("the baseline is refused: %s", err.msg);
	assert_string_equal(st.cfg.nic[0].id, "net-a");
	vm_config_store_free(&st);

#define REFUSE(field_change, says) do {					\
		raw_config_default(&rc);				\
		field_change;						\
		err.msg[0] = 0;						\
		if (load_raw_config(&rc, &st, &err) != -1)		\
			fail_msg("accepted: %s", #field_change);	\
		assert_msg(&err, "state section config: ");		\
		assert_msg(&err, says);					\
	} while (0)

	REFUSE(rc.console = 3, "unknown console kind");
	REFUSE(rc.console = 0xff, "unknown console kind");
	REFUSE((rc.ndisks = VM_MAX_DISKS + 1,
		rc.disks_written = VM_MAX_DISKS + 1), "too many disks");
	REFUSE(rc.ndisks = 0x7fffffff, "too many disks");
	REFUSE((rc.nnics = VM_MAX_NICS + 1,
		rc.nics_written = VM_MAX_NICS + 1), "too many NICs");
	REFUSE(rc.mem = VM_MIN_MEM - 4096, "guest RAM size out of range");
	REFUSE(rc.mem = VM_MAX_MEM + 4096, "guest RAM size out of range");
	REFUSE(rc.mem = (256ull << 20) + 512, "guest RAM size out of range");
	REFUSE(rc.ncpus = 0, "vCPU count out of range");
	REFUSE(rc.ncpus = VM_MAX_VCPUS + 1, "vCPU count out of range");
	REFUSE(rc.disk_path = "", "a disk without a path");
	REFUSE(rc.tap = "", "a NIC without a TAP name");
	REFUSE(rc.disk_ro = 2, "bool at offset");
	REFUSE(rc.kernel = long_str, "at most 4095 fit");
	/* Counts that promise more than the payload holds. */
	REFUSE((rc.ndisks = 2, rc.nnics = rc.nics_written = 0),
	       "runs past the end");
	REFUSE(rc.nnics = 3, "runs past the end");
	REFUSE(rc.nics_written = 2, "left unread");
	REFUSE(rc.truncate = true, "runs past the end");
#undef REFUSE
	/* Exactly the limits load. */
	raw_config_default(&rc);
	rc.ndisks = rc.disks_written = VM_MAX_DISKS;
	rc.nnics = rc.nics_written = VM_MAX_NICS;
	rc.console = CONSOLE_NONE;
	assert_int_equal(load_raw_config(&rc, &st, &err), 0);
	assert_int_equal(st.cfg.ndisks, VM_MAX_DISKS);
	assert_int_equal(st.cfg.nnics, VM_MAX_NICS);
	assert_string_equal(st.cfg.disk[VM_MAX_DISKS - 1].path, "/d.img");
	vm_config_store_free(&st);
	/* No section at all. */
	{
		struct snap s;

		snap_raw(&s, "configs", 1, NULL, 0);
		assert_int_equal(vm_config_load(&s.r, &st, &err), -1);
		assert_msg(&err, "state section config is missing");
		snap_free(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart_round_trip),
		cmocka_unit_test(test_uart_refusals),
		cmocka_unit_test(test_acpi_pm_state),
		cmocka_unit_test(test_pci_msix_round_trip),
		cmocka_unit_test(test_pci_snapshot_mid_bar_sizing),
		cmocka_unit_test(test_pci_msix_refusals),
		cmocka_unit_test(test_virtq_unpop),
		cmocka_unit_test(test_virtq_indices_round_trip),
		cmocka_unit_test(test_virtq_indices_refused),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_config_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
