/* The e820 map built from guest memory layouts a user can ask for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void map_layout(struct guest_mem *gm, const struct guest_region *l,
		       unsigned int nr)
{
	struct rv_err err;

	assert_int_equal(guest_mem_map(gm, l, nr, &err), 0);
}

static void check(const struct e820_entry *e, uint64_t addr, uint64_t size,
		  uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_64m(void **state)
{
	const struct guest_region l[] = { { .gpa = 0, .size = 64 * MiB } };
	struct guest_mem gm;
	struct e820_map map;

	(void)state;
	map_layout(&gm, l, 1);
	x86_e820_build(&gm, &map);
	assert_int_equal(map.nr, 3);
	check(&map.entry[0], 0, X86_EBDA_GPA, E820_RAM);
	check(&map.entry[1], X86_EBDA_GPA, X86_HIGH_MEM_GPA - X86_EBDA_GPA,
	      E820_RESERVED);
	check(&map.entry[2], X86_HIGH_MEM_GPA, 63 * MiB, E820_RAM);
	guest_mem_unmap(&gm);
}

static void test_3g(void **state)
{
	const struct guest_region l[] = { { .gpa = 0, .size = 3 * GiB } };
	struct guest_mem gm;
	struct e820_map map;

	(void)state;
	map_layout(&gm, l, 1);
	x86_e820_build(&gm, &map);
	assert_int_equal(map.nr, 3);
	check(&map.entry[2], X86_HIGH_MEM_GPA, X86_MMIO_HOLE_GPA - MiB,
	      E820_RAM);
	guest_mem_unmap(&gm);
}

/* 5 GiB: 3 GiB below the MMIO hole, 2 GiB from 4 GiB. Regions given in
 * reverse order must still come out sorted. */
static void test_5g(void **state)
{
	const struct guest_region l[] = {
		{ .gpa = X86_4GIB, .size = 2 * GiB },
		{ .gpa = 0, .size = 3 * GiB },
	};
	struct guest_mem gm;
	struct e820_map map;
	uint64_t ram = 0;

	(void)state;
	map_layout(&gm, l, 2);
	x86_e820_build(&gm, &map);
	assert_int_equal(map.nr, 4);
	check(&map.entry[0], 0, X86_EBDA_GPA, E820_RAM);
	check(&map.entry[1], X86_EBDA_GPA, X86_HIGH_MEM_GPA - X86_EBDA_GPA,
	      E820_RESERVED);
	check(&map.entry[2], X86_HIGH_MEM_GPA, 3 * GiB - MiB, E820_RAM);
	check(&map.entry[3], X86_4GIB, 2 * GiB, E820_RAM);
	for (unsigned int i = 0; i < map.nr; i++)
		if (map.entry[i].type == E820_RAM)
			ram += map.entry[i].size;
	/* All guest RAM but the 384 KiB legacy hole is usable. */
	assert_int_equal(ram, 5 * GiB - (X86_HIGH_MEM_GPA - X86_EBDA_GPA));
	guest_mem_unmap(&gm);
}

/* Nothing in the map may overlap, and the ACPI tables must be covered by a
 * non-RAM entry so the guest never allocates over them. */
static void test_no_overlap_acpi_reserved(void **state)
{
	const struct guest_region l[] = {
		{ .gpa = 0, .size = 3 * GiB },
		{ .gpa = X86_4GIB, .size = 1 * GiB },
	};
	struct guest_mem gm;
	struct e820_map map;
	int acpi_covered = 0;

	(void)state;
	map_layout(&gm, l, 2);
	x86_e820_build(&gm, &map);
	for (unsigned int i = 0; i < map.nr; i++) {
		const struct e820_entry *e = &map.entry[i];

		if (i > 0)
			assert_true(map.entry[i - 1].addr +
				    map.entry[i - 1].size <= e->addr);
		if (e->addr <= X86_ACPI_GPA &&
		    X86_ACPI_GPA + X86_ACPI_MAX <= e->addr + e->size) {
			assert_int_equal(e->type, E820_RESERVED);
			acpi_covered = 1;
		}
	}
	assert_true(acpi_covered);
	guest_mem_unmap(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64m),
		cmocka_unit_test(test_3g),
		cmocka_unit_test(test_5g),
		cmocka_unit_test(test_no_overlap_acpi_reserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
