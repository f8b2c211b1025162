#include "arch/x86/boot.h"

#include <string.h>

#include "arch/x86/layout.h"

static void add(struct e820_map *map, uint64_t addr, uint64_t size,
		uint32_t type)
{
	if (size == 0 || map->nr >= E820_MAX_ENTRIES)
		return;
	map->entry[map->nr].addr = addr;
	map->entry[map->nr].size = size;
	map->entry[map->nr].type = type;
	map->nr++;
}

/* Guests and the PVH memmap expect ascending addresses. */
static void sort(struct e820_map *map)
{
	for (unsigned int i = 1; i < map->nr; i++) {
		struct e820_entry e = map->entry[i];
		unsigned int j = i;

		while (j > 0 && map->entry[j - 1].addr > e.addr) {
			map->entry[j] = map->entry[j - 1];
			j--;
		}
		map->entry[j] = e;
	}
}

void x86_e820_build(const struct guest_mem *gm, struct e820_map *map)
{
	memset(map, 0, sizeof(*map));
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->region[i];
		uint64_t end = r->gpa + r->size;

		if (r->gpa != 0) {
			add(map, r->gpa, r->size, E820_RAM);
			continue;
		}
		/* The region at 0 is split around the legacy area, which is
		 * reserved whether or not RAM backs it: the EBDA, the ACPI
		 * tables at 0xe0000 and the BIOS range live there. */
		add(map, 0, end < X86_EBDA_GPA ? end : X86_EBDA_GPA, E820_RAM);
		add(map, X86_EBDA_GPA, X86_HIGH_MEM_GPA - X86_EBDA_GPA,
		    E820_RESERVED);
		if (end > X86_HIGH_MEM_GPA)
			add(map, X86_HIGH_MEM_GPA, end - X86_HIGH_MEM_GPA,
			    E820_RAM);
	}
	sort(map);
}
