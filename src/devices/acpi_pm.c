#include "devices/acpi_pm.h"

#include <string.h>

/* Register offsets from the first port. */
#define PM_SLEEP_CTL   0
#define PM_SLEEP_STS   1
#define PM_RESET       2
/* Not in the ACPI tables: the reset-vector firmware stub's own reset port,
 * so a reboot through the BIOS path is told apart from reboot=a. */
#define PM_FW_RESET    3
#define PM_NR_REGS     4

/* Sleep control register (ACPI 6.x section 4.8.3.7). */
#define SLP_TYP_SHIFT  2
#define SLP_TYP_MASK   0x07
#define SLP_EN         (1U << 5)

void acpi_pm_init(struct acpi_pm *pm, struct vm_ctl ctl, uint8_t s5_slp_typ,
		  uint8_t reset_value)
{
	memset(pm, 0, sizeof(*pm));
	pm->ctl = ctl;
	pm->s5_slp_typ = s5_slp_typ;
	pm->reset_value = reset_value;
}

static void pm_write(struct acpi_pm *pm, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case PM_SLEEP_CTL:
		/* Only S5 exists: S1-S4 would need saved-state resume paths
		 * and wake sources ringvm does not have, and the DSDT only
		 * declares \_S5, so other sleep types are ignored. */
		if ((v & SLP_EN) &&
		    ((v >> SLP_TYP_SHIFT) & SLP_TYP_MASK) == pm->s5_slp_typ)
			vm_ctl_request(&pm->ctl, VM_REQ_POWEROFF, "ACPI S5");
		break;
	case PM_SLEEP_STS:
		/* WAK_STS is write-1-to-clear and never set: we never wake. */
		break;
	case PM_RESET:
		if (v == pm->reset_value)
			vm_ctl_request(&pm->ctl, VM_REQ_REBOOT,
				       "ACPI reset register");
		break;
	case PM_FW_RESET:
		if (v == pm->reset_value)
			vm_ctl_request(&pm->ctl, VM_REQ_REBOOT,
				       "firmware reset stub");
		break;
	default:
		break;
	}
}

/* The registers are one byte each at consecutive ports, so a wider access
 * touches each register its bytes land on, as it would on real hardware.
 * Every register reads as 0: SLP_EN reads 0 by definition, SLP_TYP is not
 * meaningfully readable, WAK_STS is never set and the reset register is
 * write-only. Bytes past the last register read as an empty bus. */
void acpi_pm_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct acpi_pm *pm = dev;
	uint32_t i;

	if (!pm || !data)
		return;
	for (i = 0; i < len && i < 8; i++) {
		/* Written so that a huge offset cannot wrap into range. */
		bool ours = offset < PM_NR_REGS && i < PM_NR_REGS - offset;

		if (is_write) {
			if (ours)
				pm_write(pm, (unsigned int)(offset + i), data[i]);
		} else {
			data[i] = ours ? 0x00 : 0xff;
		}
	}
}

/* ---- snapshot ---- */

#define ACPI_PM_SECTION_VERSION 1

/* Nothing to keep: writes act at once and every register reads 0. The
 * empty section records that the device was there, at this version. */
void acpi_pm_save(struct acpi_pm *pm, struct state_writer *w)
{
	(void)pm;
	state_begin(w, "acpi_pm", ACPI_PM_SECTION_VERSION);
	state_end(w);
}

int acpi_pm_load(struct acpi_pm *pm, const struct state_reader *r,
		 struct rv_err *err)
{
	struct state_cursor c;

	(void)pm;
	if (state_section(r, "acpi_pm", ACPI_PM_SECTION_VERSION, &c, NULL,
			  err) < 0)
		return -1;
	return state_cursor_finish(&c, err);
}
