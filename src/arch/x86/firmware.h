/* The only firmware a ringvm guest has: a reset stub at the real-mode reset
 * vector F000:FFF0. Linux on a hardware-reduced ACPI machine reboots by
 * default through "EFI" and then "BIOS" (machine_real_restart jumps to
 * F000:FFF0, where firmware would start over); without firmware there the
 * CPU would run zeros forever. The stub writes the ACPI reset register, so
 * that path ends in a reboot ringvm sees, like every other. */
#ifndef RINGVM_ARCH_X86_FIRMWARE_H
#define RINGVM_ARCH_X86_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "util/err.h"

/* The stub's bytes (exposed for tests). */
size_t x86_reset_stub(uint8_t *out, size_t cap);

int x86_write_firmware(const struct guest_mem *gm, struct rv_err *err);

#endif
