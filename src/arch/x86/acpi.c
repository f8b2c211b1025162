#include "arch/x86/acpi.h"

#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "util/le.h"

/* Identity written into every table header. */
#define ACPI_OEM_ID        "RINGVM"     /* 6 bytes */
#define ACPI_OEM_TABLE_ID  "RINGVM  "   /* 8 bytes */
#define ACPI_OEM_REV       1
#define ACPI_CREATOR_ID    "RNGV"
#define ACPI_CREATOR_REV   1

#define ACPI_HDR_LEN       36
#define RSDP_LEN           36
#define RSDP_V1_LEN        20
#define XSDT_ENTRIES       2            /* FADT, MADT (DSDT hangs off FADT) */
#define FADT_LEN           276          /* revision 6 */
#define MADT_FIXED_LEN     44
#define MADT_LAPIC_LEN     8
#define MADT_IOAPIC_LEN    12
#define MADT_LAPIC_NMI_LEN 6

/* FADT offsets (ACPI 6.x table 5.9). */
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT          40
#define FADT_IAPC_BOOT     109
#define FADT_FLAGS         112
#define FADT_RESET_REG     116
#define FADT_RESET_VALUE   128
#define FADT_MINOR_VER     131
#define FADT_X_DSDT        140
#define FADT_SLEEP_CTL     244
#define FADT_SLEEP_STS     256
#define FADT_HV_VENDOR     268

/* FADT feature flags. */
#define FADT_F_WBINVD          (1U << 0)
#define FADT_F_PROC_C1         (1U << 2)
#define FADT_F_PWR_BUTTON      (1U << 4)  /* set: no fixed power button */
#define FADT_F_SLP_BUTTON      (1U << 5)  /* set: no fixed sleep button */
#define FADT_F_RESET_REG_SUP   (1U << 10)
#define FADT_F_HW_REDUCED_ACPI (1U << 20)

/* IA-PC boot architecture flags. */
#define IAPC_8042              (1U << 1)
#define IAPC_VGA_NOT_PRESENT   (1U << 2)
#define IAPC_CMOS_RTC_ABSENT   (1U << 5)

#define GAS_SYSTEM_IO      1
#define GAS_ACCESS_BYTE    1

#define MADT_PCAT_COMPAT   (1U << 0)
#define MADT_LAPIC         0
#define MADT_IOAPIC        1
#define MADT_LAPIC_NMI     4
#define MADT_LAPIC_ENABLED (1U << 0)
#define MADT_ALL_CPUS      0xff
#define MPS_INTI_HIGH_EDGE 0x0005         /* active high, edge triggered */

/* ACPI 6.3: FADT 6.3, MADT revision 5. */
#define FADT_REVISION      6
#define FADT_MINOR         3
#define MADT_REVISION      5
#define XSDT_REVISION      1
#define DSDT_REVISION      2              /* 64-bit AML integers */

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put_le32(t + 24, ACPI_OEM_REV);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put_le32(t + 32, ACPI_CREATOR_REV);
}

/* Fills the checksum byte so the whole table sums to zero. */
static void seal(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = checksum(t, len);
}

/* A one-byte System I/O Generic Address Structure. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;               /* bit width */
	g[2] = 0;               /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	put_le64(g + 4, port);
}

static void build_rsdp(uint8_t *p, uint64_t xsdt_gpa)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2;              /* ACPI 2.0+: XSDT only, RsdtAddress 0 */
	put_le32(p + 20, RSDP_LEN);
	put_le64(p + 24, xsdt_gpa);
	p[8] = checksum(p, RSDP_V1_LEN);
	p[32] = checksum(p, RSDP_LEN);
}

static void build_xsdt(uint8_t *t, const uint64_t *entries, unsigned int n)
{
	uint32_t len = ACPI_HDR_LEN + 8 * n;
	unsigned int i;

	header(t, "XSDT", len, XSDT_REVISION);
	for (i = 0; i < n; i++)
		put_le64(t + ACPI_HDR_LEN + 8 * i, entries[i]);
	seal(t, len);
}

static void build_fadt(uint8_t *t, uint64_t dsdt_gpa)
{
	header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* Hardware-reduced ACPI: no SCI, no PM1/GPE blocks, no PM timer and
	 * no FACS (FIRMWARE_CTRL stays 0, which the spec allows only here). */
	put_le32(t + FADT_FIRMWARE_CTRL, 0);
	if (dsdt_gpa <= UINT32_MAX)
		put_le32(t + FADT_DSDT, (uint32_t)dsdt_gpa);
	put_le64(t + FADT_X_DSDT, dsdt_gpa);
	/* An 8042 with a keyboard (the PS2K device in the DSDT), so the VMM
	 * can send Ctrl-Alt-Del; no VGA and no CMOS RTC. MSI is supported. */
	put_le16(t + FADT_IAPC_BOOT, IAPC_8042 | IAPC_VGA_NOT_PRESENT |
		 IAPC_CMOS_RTC_ABSENT);
	put_le32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 |
	      FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
	      FADT_F_HW_REDUCED_ACPI);
	gas_io8(t + FADT_RESET_REG, X86_PORT_ACPI_RESET);
	t[FADT_RESET_VALUE] = X86_ACPI_RESET_VALUE;
	t[FADT_MINOR_VER] = FADT_MINOR;
	/* Without both sleep registers Linux does not offer ACPI power-off
	 * on hardware-reduced platforms. */
	gas_io8(t + FADT_SLEEP_CTL, X86_PORT_ACPI_SLEEP_CTL);
	gas_io8(t + FADT_SLEEP_STS, X86_PORT_ACPI_SLEEP_STS);
	memcpy(t + FADT_HV_VENDOR, "RINGVM\0\0", 8);
	seal(t, FADT_LEN);
}

static size_t madt_len(unsigned int ncpus)
{
	return MADT_FIXED_LEN + (size_t)ncpus * MADT_LAPIC_LEN +
	       MADT_IOAPIC_LEN + MADT_LAPIC_NMI_LEN;
}

static void build_madt(uint8_t *t, unsigned int ncpus)
{
	size_t len = madt_len(ncpus);
	uint8_t *e = t + MADT_FIXED_LEN;
	unsigned int i;

	header(t, "APIC", (uint32_t)len, MADT_REVISION);
	put_le32(t + 36, (uint32_t)X86_LAPIC_GPA);
	/* KVM's in-kernel irqchip does contain a dual 8259, so PCAT_COMPAT is
	 * the truth; Linux in hardware-reduced mode bypasses the PIC anyway. */
	put_le32(t + 40, MADT_PCAT_COMPAT);
	for (i = 0; i < ncpus; i++, e += MADT_LAPIC_LEN) {
		e[0] = MADT_LAPIC;
		e[1] = MADT_LAPIC_LEN;
		e[2] = (uint8_t)i;      /* ACPI processor UID */
		e[3] = (uint8_t)i;      /* APIC ID */
		put_le32(e + 4, MADT_LAPIC_ENABLED);
	}
	/* The I/O APIC takes the first ID after the vCPUs' so that no two
	 * APICs share one (ncpus <= 254, so it fits below broadcast 0xff).
	 *
	 * No Interrupt Source Override for ISA IRQ 0: KVM's default GSI
	 * routing (used unless the VM layer installs its own) sends GSI n to
	 * I/O APIC pin n, including the in-kernel PIT on GSI 0. A PC-style
	 * 0 -> 2 override would point Linux at pin 2, where no timer ticks.
	 * Every other ISA IRQ is edge/active-high, the ISA default, so none
	 * needs an override either. */
	e[0] = MADT_IOAPIC;
	e[1] = MADT_IOAPIC_LEN;
	e[2] = (uint8_t)ncpus;
	put_le32(e + 4, (uint32_t)X86_IOAPIC_GPA);
	put_le32(e + 8, 0);                /* GSI base */
	e += MADT_IOAPIC_LEN;
	/* LINT1 of every local APIC is wired to NMI, as on a PC. */
	e[0] = MADT_LAPIC_NMI;
	e[1] = MADT_LAPIC_NMI_LEN;
	e[2] = MADT_ALL_CPUS;
	put_le16(e + 3, MPS_INTI_HIGH_EDGE);
	e[5] = 1;                       /* LINT1 */
	seal(t, len);
}

/* The AML body of the DSDT: the S5 sleep type, a PCI host bridge (without
 * one in the namespace Linux never scans PCI when it boots with ACPI),
 * COM1 and the i8042's keyboard. Returns the body length, or 0 if it did
 * not fit. */
static size_t build_dsdt_aml(uint8_t *buf, size_t cap)
{
	uint8_t res[128];
	struct aml r, a;

	aml_init(&a, buf, cap);

	/* SLP_TYPa, SLP_TYPb, reserved, reserved. */
	aml_name(&a, "_S5_");
	aml_package_begin(&a, 4);
	aml_integer(&a, X86_ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);

	aml_scope_begin(&a, "\\_SB_");

	aml_device_begin(&a, "PCI0");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0A03");
	aml_name(&a, "_UID");
	aml_integer(&a, 0);
	aml_init(&r, res, sizeof(res));
	aml_res_bus_window(&r, 0x00, 0xff);
	/* Linux drops this consumed 0xcf8 range and keeps the windows. */
	aml_res_io(&r, X86_PORT_PCI_ADDR, 8);
	aml_res_io_window(&r, 0x0000, X86_PORT_PCI_ADDR - 1);
	aml_res_io_window(&r, 0x0d00, 0xffff);
	/* The window ringvm allocates BARs from (layout.h), end inclusive. */
	aml_res_mem32_window(&r, (uint32_t)X86_PCI_MMIO_BASE,
			     (uint32_t)(X86_PCI_MMIO_END - 1));
	aml_res_end(&r);
	if (aml_finish(&r))
		return 0;
	aml_name(&a, "_CRS");
	aml_buffer(&a, res, r.len);
	aml_end(&a);

	aml_device_begin(&a, "COM1");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0501");
	aml_name(&a, "_UID");
	aml_integer(&a, 0);
	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, X86_PORT_COM1, 8);
	aml_res_irq(&r, X86_IRQ_COM1);
	aml_res_end(&r);
	if (aml_finish(&r))
		return 0;
	aml_name(&a, "_CRS");
	aml_buffer(&a, res, r.len);
	aml_end(&a);

	/* Linux's i8042 takes the data port from the first IO resource and
	 * the command port from the second. With a keyboard and no mouse
	 * device here it also leaves the (absent) AUX port alone. */
	aml_device_begin(&a, "PS2K");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0303");
	aml_init(&r, res, sizeof(res));
	aml_res_io(&r, X86_PORT_I8042_DATA, 1);
	aml_res_io(&r, X86_PORT_I8042_CMD, 1);
	aml_res_irq(&r, X86_IRQ_KBD);
	aml_res_end(&r);
	if (aml_finish(&r))
		return 0;
	aml_name(&a, "_CRS");
	aml_buffer(&a, res, r.len);
	aml_end(&a);

	aml_end(&a);            /* \_SB */

	if (aml_finish(&a))
		return 0;
	return a.len;
}

int acpi_build(uint8_t *buf, size_t cap, const struct acpi_config *cfg,
	       struct acpi_tables *out, struct rv_err *err)
{
	size_t xsdt_off, fadt_off, madt_off, dsdt_off, dsdt_len, end;
	uint64_t base, entries[XSDT_ENTRIES];

	if (!buf || !cfg || !out)
		return rv_fail(err, "acpi: missing buffer or configuration");
	if (cfg->ncpus == 0 || cfg->ncpus > X86_MAX_VCPUS)
		return rv_fail(err, "acpi: %u vCPUs requested, supported 1..%u",
			       cfg->ncpus, X86_MAX_VCPUS);
	base = cfg->base_gpa;
	if (base & 15)
		return rv_fail(err, "acpi: base %#llx is not 16-byte aligned",
			       (unsigned long long)base);

	xsdt_off = align8(RSDP_LEN);
	fadt_off = align8(xsdt_off + ACPI_HDR_LEN + 8 * XSDT_ENTRIES);
	madt_off = align8(fadt_off + FADT_LEN);
	dsdt_off = align8(madt_off + madt_len(cfg->ncpus));
	if (cap < dsdt_off + ACPI_HDR_LEN)
		return rv_fail(err, "acpi: %zu-byte buffer too small for the tables",
			       cap);
	memset(buf, 0, dsdt_off + ACPI_HDR_LEN);

	dsdt_len = build_dsdt_aml(buf + dsdt_off + ACPI_HDR_LEN,
				  cap - dsdt_off - ACPI_HDR_LEN);
	if (dsdt_len == 0)
		return rv_fail(err, "acpi: %zu-byte buffer too small for the DSDT",
			       cap);
	dsdt_len += ACPI_HDR_LEN;
	header(buf + dsdt_off, "DSDT", (uint32_t)dsdt_len, DSDT_REVISION);
	seal(buf + dsdt_off, dsdt_len);
	end = dsdt_off + dsdt_len;
	if (end - 1 > UINT64_MAX - base)
		return rv_fail(err, "acpi: tables at %#llx wrap the address space",
			       (unsigned long long)base);

	build_madt(buf + madt_off, cfg->ncpus);
	build_fadt(buf + fadt_off, base + dsdt_off);
	entries[0] = base + fadt_off;
	entries[1] = base + madt_off;
	build_xsdt(buf + xsdt_off, entries, XSDT_ENTRIES);
	build_rsdp(buf, base + xsdt_off);

	out->len = end;
	out->rsdp_gpa = base;
	return 0;
}
