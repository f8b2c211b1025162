/* Host pages behind guest RAM (--mem-backing): where regions land and what
 * the kernel was asked for, read back from /proc/self/smaps the way an
 * administrator would check; hugetlbfs refused, naming the counts, when the
 * host has too few huge pages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"

#define MiB (1ULL << 20)

/* The VmFlags line of the mapping that holds addr, or "" when none does. */
static void vm_flags(const void *addr, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int inside = 0;

	out[0] = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, cap, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static int has_flag(const char *flags, const char *flag)
{
	char padded[16];

	snprintf(padded, sizeof(padded), " %s ", flag);
	return strstr(flags, padded) != NULL;
}

static long long huge_available(void)
{
	long long nfree = -1, resv = 0;
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");

	if (f) {
		if (fscanf(f, "%lld", &nfree) != 1)
			nfree = -1;
		fclose(f);
	}
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages", "r");
	if (f) {
		if (fscanf(f, "%lld", &resv) != 1)
			resv = 0;
		fclose(f);
	}
	return nfree - resv;
}

/* The default: each region 2 MiB-aligned (so THP can back 2 MiB guest
 * pages with 2 MiB host pages), MADV_HUGEPAGE ("hg"), usable end to end,
 * even when its size is not a 2 MiB multiple. */
static void test_thp_default(void **state)
{
	struct guest_region l[2] = {
		{ .gpa = 0, .size = 3 * MiB + 4096 },
		{ .gpa = 16 * MiB, .size = 8 * MiB },
	};
	struct guest_mem gm;
	struct rv_err err;
	char flags[256];

	(void)state;
	assert_int_equal(guest_mem_map(&gm, l, 2, &err), 0);
	for (unsigned int i = 0; i < gm.nr; i++) {
		assert_int_equal((uintptr_t)gm.region[i].hva % (2 * MiB), 0);
		memset(gm.region[i].hva, 0xa5, gm.region[i].size);
		vm_flags(gm.region[i].hva, flags, sizeof(flags));
		assert_true(has_flag(flags, "hg"));
		assert_false(has_flag(flags, "nh"));
	}
	assert_non_null(guest_mem_ptr(&gm, 3 * MiB, 4096));
	assert_null(guest_mem_ptr(&gm, 3 * MiB + 4096, 1));
	guest_mem_unmap(&gm);
	assert_int_equal(gm.nr, 0);
}

/* 4k: never huge ("nh"), for measuring what huge pages win back. */
static void test_4k(void **state)
{
	struct guest_region l = { .gpa = 0, .size = 4 * MiB };
	struct guest_mem gm;
	struct rv_err err;
	char flags[256];

	(void)state;
	assert_int_equal(guest_mem_map_backed(&gm, &l, 1, GUEST_MEM_4K, &err), 0);
	vm_flags(gm.region[0].hva, flags, sizeof(flags));
	assert_true(has_flag(flags, "nh"));
	assert_false(has_flag(flags, "hg"));
	guest_mem_unmap(&gm);
}

/* Guest RAM is never in a core dump ("dd"), and open to KSM ("mg") only
 * when asked (--mem-merge): as mapped it is neither. */
static void test_advice(void **state)
{
	struct guest_region l = { .gpa = 0, .size = 4 * MiB };
	struct guest_mem gm;
	struct rv_err err;
	char flags[256];

	(void)state;
	assert_int_equal(guest_mem_map(&gm, &l, 1, &err), 0);
	vm_flags(gm.region[0].hva, flags, sizeof(flags));
	assert_false(has_flag(flags, "mg"));
	assert_false(has_flag(flags, "dd"));
	assert_int_equal(guest_mem_advise(&gm, false, &err), 0);
	vm_flags(gm.region[0].hva, flags, sizeof(flags));
	assert_true(has_flag(flags, "dd"));
	assert_false(has_flag(flags, "mg"));
	assert_int_equal(guest_mem_advise(&gm, true, &err), 0);
	vm_flags(gm.region[0].hva, flags, sizeof(flags));
	assert_true(has_flag(flags, "dd"));
	assert_true(has_flag(flags, "mg"));
	guest_mem_unmap(&gm);
}

/* hugetlbfs pages: a size that is not a 2 MiB multiple, and more pages
 * than the host has free, are refused with the counts; nothing is mapped. */
static void test_hugetlb_refusals(void **state)
{
	struct guest_region odd = { .gpa = 0, .size = 3 * MiB };
	long long avail = huge_available();
	struct guest_region big = {
		.gpa = 0, .size = (uint64_t)((avail < 0 ? 0 : avail) + 1) * 2 * MiB,
	};
	struct guest_mem gm;
	struct rv_err err;
	char want[160];

	(void)state;
	assert_int_equal(guest_mem_map_backed(&gm, &odd, 1, GUEST_MEM_HUGETLB, &err), -1);
	assert_string_equal(err.msg, "--mem-backing hugepages: guest RAM must be a multiple of 2 MiB");
	assert_int_equal(gm.nr, 0);
	assert_int_equal(guest_mem_map_backed(&gm, &big, 1, GUEST_MEM_HUGETLB, &err), -1);
	if (avail < 0) {
		assert_non_null(strstr(err.msg, "this host has no 2 MiB huge pages"));
	} else {
		snprintf(want, sizeof(want), "--mem-backing hugepages: the guest needs %lld free 2 MiB huge pages, the host has %lld (raise /proc/sys/vm/nr_hugepages)",
			 avail + 1, avail);
		assert_string_equal(err.msg, want);
	}
	assert_int_equal(gm.nr, 0);
	assert_int_equal(guest_mem_map_backed(&gm, &odd, 1, (enum guest_mem_backing)7, &err), -1);
	assert_string_equal(err.msg, "guest memory: unknown backing 7");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(guest_mem_backing_name(GUEST_MEM_THP), "thp");
	assert_string_equal(guest_mem_backing_name(GUEST_MEM_4K), "4k");
	assert_string_equal(guest_mem_backing_name(GUEST_MEM_HUGETLB), "hugepages");
	assert_null(guest_mem_backing_name((enum guest_mem_backing)3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thp_default),
		cmocka_unit_test(test_4k),
		cmocka_unit_test(test_advice),
		cmocka_unit_test(test_hugetlb_refusals),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
