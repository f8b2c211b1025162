#include "arch/x86/ram_layout.h"

#include "arch/x86/layout.h"

unsigned int x86_ram_layout(uint64_t mem_size,
			    struct guest_region out[GUEST_MEM_MAX_REGIONS])
{
	uint64_t low = mem_size < X86_MMIO_HOLE_GPA ? mem_size : X86_MMIO_HOLE_GPA;

	out[0] = (struct guest_region){ .gpa = 0, .size = low };
	if (mem_size == low)
		return 1;
	out[1] = (struct guest_region){ .gpa = X86_4GIB, .size = mem_size - low };
	return 2;
}
