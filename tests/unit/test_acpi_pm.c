/* The ACPI power registers: S5 powers off, the reset value reboots, and
 * nothing else a guest writes or reads does anything. The last test drives
 * the device exactly as Linux would, from the values in our own tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "bus/io_bus.h"
#include "devices/acpi_pm.h"

struct requests {
	unsigned int poweroff;
	unsigned int reboot;
	unsigned int other;
	const char *why;        /* of the last request */
};

static void record(void *ctx, enum vm_request req, const char *why)
{
	struct requests *r = ctx;

	r->why = why;
	if (req == VM_REQ_POWEROFF)
		r->poweroff++;
	else if (req == VM_REQ_REBOOT)
		r->reboot++;
	else
		r->other++;
}

static void setup_pm(struct acpi_pm *pm, struct requests *r)
{
	struct vm_ctl ctl = { .request = record, .ctx = r };

	memset(r, 0, sizeof(*r));
	acpi_pm_init(pm, ctl, X86_ACPI_S5_SLP_TYP, X86_ACPI_RESET_VALUE);
}

static void wr8(struct acpi_pm *pm, uint64_t off, uint8_t v)
{
	acpi_pm_io(pm, off, &v, 1, true);
}

#define SLP_EN 0x20

static void test_poweroff_only_on_s5_with_slp_en(void **state)
{
	struct acpi_pm pm;
	struct requests r;
	unsigned int typ;

	(void)state;
	setup_pm(&pm, &r);
	/* SLP_TYP 5 without SLP_EN only latches the type: nothing yet. */
	wr8(&pm, 0, X86_ACPI_S5_SLP_TYP << 2);
	assert_int_equal(r.poweroff, 0);
	/* Every other sleep type with SLP_EN is ignored (no S1-S4). */
	for (typ = 0; typ < 8; typ++) {
		if (typ == X86_ACPI_S5_SLP_TYP)
			continue;
		wr8(&pm, 0, (uint8_t)(typ << 2 | SLP_EN));
	}
	assert_int_equal(r.poweroff + r.reboot + r.other, 0);
	/* What Linux writes for S5 in hardware-reduced mode. */
	wr8(&pm, 0, X86_ACPI_S5_SLP_TYP << 2 | SLP_EN);
	assert_int_equal(r.poweroff, 1);
	/* Reserved bits do not hide the request. */
	wr8(&pm, 0, X86_ACPI_S5_SLP_TYP << 2 | SLP_EN | 0xc3);
	assert_int_equal(r.poweroff, 2);
	assert_int_equal(r.reboot, 0);
}

static void test_reboot_on_reset_value(void **state)
{
	struct acpi_pm pm;
	struct requests r;
	unsigned int v;

	(void)state;
	setup_pm(&pm, &r);
	for (v = 0; v < 256; v++)
		if (v != X86_ACPI_RESET_VALUE)
			wr8(&pm, 2, (uint8_t)v);
	assert_int_equal(r.poweroff + r.reboot + r.other, 0);
	wr8(&pm, 2, X86_ACPI_RESET_VALUE);
	assert_int_equal(r.reboot, 1);
	assert_int_equal(r.poweroff, 0);
}

static void test_status_and_reads_do_nothing(void **state)
{
	struct acpi_pm pm;
	struct requests r;
	uint8_t d[8];
	unsigned int v;

	(void)state;
	setup_pm(&pm, &r);
	/* Linux clears WAK_STS (0x80) before sleeping; any value is inert,
	 * including ones that look like S5 or the reset value. */
	for (v = 0; v < 256; v++)
		wr8(&pm, 1, (uint8_t)v);
	memset(d, 0x55, sizeof(d));
	acpi_pm_io(&pm, 0, d, 1, false);
	acpi_pm_io(&pm, 1, d + 1, 1, false);
	acpi_pm_io(&pm, 2, d + 2, 1, false);
	assert_memory_equal(d, "\0\0\0", 3);    /* WAK_STS never set */
	assert_int_equal(r.poweroff + r.reboot + r.other, 0);
}

static void test_wide_and_odd_accesses(void **state)
{
	struct acpi_pm pm;
	struct requests r;
	uint8_t d[8];

	(void)state;
	setup_pm(&pm, &r);
	/* A 4-byte read at +1 covers the 3 last registers and one unclaimed
	 * byte. */
	memset(d, 0x55, sizeof(d));
	acpi_pm_io(&pm, 1, d, 4, false);
	assert_memory_equal(d, "\0\0\0\xff", 4);
	/* 8-byte read from an offset past the device: all ones, no crash. */
	memset(d, 0x55, sizeof(d));
	acpi_pm_io(&pm, 4, d, 8, false);
	assert_memory_equal(d, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	/* Offsets that would wrap around back into range. */
	memset(d, X86_ACPI_RESET_VALUE, sizeof(d));
	acpi_pm_io(&pm, UINT64_MAX, d, 4, true);
	acpi_pm_io(&pm, UINT64_MAX - 1, d, 8, true);
	assert_int_equal(r.poweroff + r.reboot, 0);
	/* An oversized length is clamped, not trusted. */
	memset(d, 0, sizeof(d));
	acpi_pm_io(&pm, 0, d, 4096, true);
	acpi_pm_io(&pm, 0, d, 4096, false);
	acpi_pm_io(&pm, 0, NULL, 4, true);
	acpi_pm_io(&pm, 0, d, 0, true);
	assert_int_equal(r.poweroff + r.reboot, 0);
	/* A 16-bit write lands byte by byte: S5 on +0, reset value on +1
	 * (the status register) is inert. */
	d[0] = X86_ACPI_S5_SLP_TYP << 2 | SLP_EN;
	d[1] = X86_ACPI_RESET_VALUE;
	acpi_pm_io(&pm, 0, d, 2, true);
	assert_int_equal(r.poweroff, 1);
	assert_int_equal(r.reboot, 0);
	/* A 16-bit write at +1 puts its high byte in the reset register. */
	d[0] = 0;
	d[1] = X86_ACPI_RESET_VALUE;
	acpi_pm_io(&pm, 1, d, 2, true);
	assert_int_equal(r.reboot, 1);
}

static void test_no_vm_ctl_callback(void **state)
{
	struct acpi_pm pm;
	struct vm_ctl none = { 0 };

	(void)state;
	acpi_pm_init(&pm, none, X86_ACPI_S5_SLP_TYP, X86_ACPI_RESET_VALUE);
	wr8(&pm, 0, X86_ACPI_S5_SLP_TYP << 2 | SLP_EN);
	wr8(&pm, 2, X86_ACPI_RESET_VALUE);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Follows the FADT's GAS and the DSDT's \_S5 like ACPICA does, then pokes
 * the device through the I/O bus at the ports the FADT named. */
static void test_tables_drive_device(void **state)
{
	static uint8_t buf[X86_ACPI_MAX];
	struct acpi_config cfg = { .ncpus = 1, .base_gpa = X86_ACPI_GPA };
	struct acpi_tables out;
	struct io_bus bus;
	struct acpi_pm pm;
	struct requests r;
	const uint8_t *x, *f, *d;
	uint32_t i, dlen;
	int s5 = -1;
	uint8_t v;

	(void)state;
	assert_int_equal(acpi_build(buf, sizeof(buf), &cfg, &out, NULL), 0);
	x = buf + (le32(buf + 24) - X86_ACPI_GPA);
	f = NULL;
	for (i = 36; i < le32(x + 4); i += 8) {
		const uint8_t *t = buf + (le32(x + i) - X86_ACPI_GPA);

		if (!memcmp(t, "FACP", 4))
			f = t;
	}
	assert_non_null(f);
	d = buf + (le32(f + 140) - X86_ACPI_GPA);
	dlen = le32(d + 4);
	for (i = 36; i + 9 < dlen; i++)
		if (!memcmp(d + i, "_S5_\x12", 5) && d[i + 7] == 0x0a)
			s5 = d[i + 8];
	assert_int_equal(s5, X86_ACPI_S5_SLP_TYP);

	setup_pm(&pm, &r);
	io_bus_init(&bus);
	assert_int_equal(io_bus_add(&bus, X86_PORT_ACPI_SLEEP_CTL, 4,
				    acpi_pm_io, &pm, "acpi-pm", NULL), 0);
	/* ACPICA: clear WAK_STS, then SLP_TYP << 2 | SLP_EN. */
	v = 0x80;
	assert_true(io_bus_access(&bus, le32(f + 256 + 4), &v, 1, true));
	assert_int_equal(r.poweroff, 0);
	v = (uint8_t)(s5 << 2 | SLP_EN);
	assert_true(io_bus_access(&bus, le32(f + 244 + 4), &v, 1, true));
	assert_int_equal(r.poweroff, 1);
	v = f[128];
	assert_true(io_bus_access(&bus, le32(f + 116 + 4), &v, 1, true));
	assert_int_equal(r.reboot, 1);
	assert_string_equal(r.why, "ACPI reset register");
	/* The firmware stub's own port: a reboot named as such. */
	v = X86_ACPI_RESET_VALUE;
	assert_true(io_bus_access(&bus, X86_PORT_FW_RESET, &v, 1, true));
	assert_int_equal(r.reboot, 2);
	assert_string_equal(r.why, "firmware reset stub");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poweroff_only_on_s5_with_slp_en),
		cmocka_unit_test(test_reboot_on_reset_value),
		cmocka_unit_test(test_status_and_reads_do_nothing),
		cmocka_unit_test(test_wide_and_odd_accesses),
		cmocka_unit_test(test_no_vm_ctl_callback),
		cmocka_unit_test(test_tables_drive_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
