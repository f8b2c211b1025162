/* The bit of the i8042 keyboard controller a VM needs: a status register
 * that never blocks Linux's kb_wait() and the 0xFE "pulse reset line"
 * command, which is how `reboot=k` resets a PC. */
#ifndef RINGVM_DEVICES_I8042_H
#define RINGVM_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/vm_ctl.h"

struct i8042 {
	struct vm_ctl ctl;
	/* A controller command waiting for its data byte on port 0x60 (0: none).
	 * Atomic: any vCPU may write either port. */
	_Atomic uint8_t pending_cmd;
};

void i8042_init(struct i8042 *k, struct vm_ctl ctl);
/* io_bus callback; register at port 0x60 (len 1) and 0x64 (len 1) with the
 * same device: offset 0 is the port itself, so pass port-specific wrappers. */
void i8042_data_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);
void i8042_cmd_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write);

#endif
