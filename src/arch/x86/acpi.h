/* ACPI tables generated at boot (ACPI 6.x, hardware-reduced): RSDP, XSDT,
 * FADT, MADT, DSDT. Pure: builds into a buffer that the caller copies into
 * guest memory at base_gpa, so unit tests can check and disassemble it. */
#ifndef RINGVM_ARCH_X86_ACPI_H
#define RINGVM_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct acpi_config {
	unsigned int ncpus;     /* 1..X86_MAX_VCPUS, APIC IDs 0..ncpus-1 */
	uint64_t base_gpa;      /* where the buffer will live in the guest */
};

struct acpi_tables {
	size_t len;             /* bytes used in the buffer */
	uint64_t rsdp_gpa;      /* == base_gpa: RSDP first (16-byte aligned) */
};

int acpi_build(uint8_t *buf, size_t cap, const struct acpi_config *cfg,
	       struct acpi_tables *out, struct rv_err *err);

#endif
