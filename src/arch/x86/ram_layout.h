#ifndef RINGVM_ARCH_X86_RAM_LAYOUT_H
#define RINGVM_ARCH_X86_RAM_LAYOUT_H

#include <stdint.h>

#include "mem/guest_mem.h"

/* Splits mem_size bytes of guest RAM around the 32-bit MMIO hole: up to
 * X86_MMIO_HOLE_GPA at 0, the rest from 4 GiB. Returns the region count. */
unsigned int x86_ram_layout(uint64_t mem_size,
			    struct guest_region out[GUEST_MEM_MAX_REGIONS]);

#endif
