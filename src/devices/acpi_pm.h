/* The ACPI hardware-reduced power registers the FADT points at: sleep
 * control (SLP_TYP/SLP_EN; S5 = power off), sleep status and the reset
 * register. */
#ifndef RINGVM_DEVICES_ACPI_PM_H
#define RINGVM_DEVICES_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/vm_ctl.h"
#include "state/state.h"
#include "util/err.h"

struct acpi_pm {
	struct vm_ctl ctl;
	uint8_t s5_slp_typ;
	uint8_t reset_value;
};

void acpi_pm_init(struct acpi_pm *pm, struct vm_ctl ctl, uint8_t s5_slp_typ,
		  uint8_t reset_value);
/* io_bus callback for 4 ports: +0 sleep control, +1 sleep status, +2 reset,
 * +3 the firmware stub's reset port (X86_PORT_FW_RESET). */
void acpi_pm_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write);

/* Snapshot: section "acpi_pm" (the device has no state to keep). */
void acpi_pm_save(struct acpi_pm *pm, struct state_writer *w);
int acpi_pm_load(struct acpi_pm *pm, const struct state_reader *r,
		 struct rv_err *err);

#endif
