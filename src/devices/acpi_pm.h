/* The ACPI hardware-reduced power registers the FADT points at: sleep
 * control (SLP_TYP/SLP_EN; S5 = power off), sleep status and the reset
 * register. */
#ifndef RINGVM_DEVICES_ACPI_PM_H
#define RINGVM_DEVICES_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/vm_ctl.h"

struct acpi_pm {
	struct vm_ctl ctl;
	uint8_t s5_slp_typ;
	uint8_t reset_value;
};

void acpi_pm_init(struct acpi_pm *pm, struct vm_ctl ctl, uint8_t s5_slp_typ,
		  uint8_t reset_value);
/* io_bus callback for 3 ports: +0 sleep control, +1 sleep status, +2 reset. */
void acpi_pm_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write);

#endif
