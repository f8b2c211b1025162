/* CPUID shaping against synthetic KVM_GET_SUPPORTED_CPUID tables modelled on
 * an Intel and an AMD host whose own topology (APIC ID 10, 16 threads, HT)
 * must not leak into the guest. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <asm/kvm_para.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

#define KVM_FEATS ((1u << KVM_FEATURE_CLOCKSOURCE) |			\
		   (1u << KVM_FEATURE_CLOCKSOURCE2) |			\
		   (1u << KVM_FEATURE_STEAL_TIME) |			\
		   (1u << KVM_FEATURE_PV_EOI) |				\
		   (1u << KVM_FEATURE_PV_UNHALT) |			\
		   (1u << KVM_FEATURE_PV_TLB_FLUSH) |			\
		   (1u << KVM_FEATURE_PV_SEND_IPI) |			\
		   (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT))

/* Host leaf 4 / 0x8000001D EAX: L1d, L1i, L2 shared by 2 threads, L3 by 16. */
static const uint32_t host_cache_eax[4] = {
	0x1c004121, 0x1c004122, 0x1c004143, 0x1c03c163,
};

static void add(struct x86_cpuid *c, uint32_t fn, uint32_t idx, uint32_t flags,
		uint32_t a, uint32_t b, uint32_t cx, uint32_t d)
{
	struct kvm_cpuid_entry2 *e = &c->entry[c->head.nent++];

	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->flags = flags;
	e->eax = a;
	e->ebx = b;
	e->ecx = cx;
	e->edx = d;
}

static void vendor(const char *v, uint32_t *b, uint32_t *d, uint32_t *cx)
{
	memcpy(b, v, 4);
	memcpy(d, v + 4, 4);
	memcpy(cx, v + 8, 4);
}

static void add_kvm_leaves(struct x86_cpuid *c)
{
	add(c, KVM_CPUID_SIGNATURE, 0, 0, KVM_CPUID_FEATURES, 0x4b4d564b,
	    0x564b4d56, 0x4d);
	add(c, KVM_CPUID_FEATURES, 0, 0, KVM_FEATS, 0, 0, 0);
}

/* Leaf 1 as the host reports it: APIC ID 10, 16 logical, CLFLUSH 8,
 * TSC-deadline set, hypervisor clear, HTT set. */
#define HOST_L1_EBX 0x0a100800u
#define HOST_L1_ECX 0x77fa3203u
#define HOST_L1_EDX 0x178bfbffu

static void intel_table(struct x86_cpuid *c, bool with_1f)
{
	uint32_t b, d, cx;

	memset(c, 0, sizeof(*c));
	vendor("GenuineIntel", &b, &d, &cx);
	add(c, 0, 0, 0, with_1f ? 0x1f : 0xd, b, cx, d);
	add(c, 1, 0, 0, 0x906ea, HOST_L1_EBX, HOST_L1_ECX, HOST_L1_EDX);
	for (uint32_t i = 0; i < 4; i++)
		add(c, 4, i, SIG, host_cache_eax[i], 0x01c0003f, 0x3f, 0);
	add(c, 4, 4, SIG, 0, 0, 0, 0);
	/* Host: 2 threads per core (shift 1), 16 logical (shift 5). */
	add(c, 0xb, 0, SIG, 1, 2, 0x100, 10);
	add(c, 0xb, 1, SIG, 5, 16, 0x201, 10);
	add(c, 0xb, 2, SIG, 0, 0, 0x2, 10);
	add(c, 0xd, 0, SIG, 0x7, 0x340, 0x340, 0);
	add(c, 0xd, 1, SIG, 0xf, 0, 0, 0);
	if (with_1f) {
		add(c, 0x1f, 0, SIG, 1, 2, 0x100, 10);
		add(c, 0x1f, 1, SIG, 5, 16, 0x201, 10);
	}
	add_kvm_leaves(c);
	add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(c, 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800);
	add(c, 0x80000008, 0, 0, 0x3027, 0, 0, 0);
}

static void amd_table(struct x86_cpuid *c)
{
	uint32_t b, d, cx;

	memset(c, 0, sizeof(*c));
	vendor("AuthenticAMD", &b, &d, &cx);
	add(c, 0, 0, 0, 0x10, b, cx, d);  /* no leaf 0xB reported */
	add(c, 1, 0, 0, 0x800f12, HOST_L1_EBX, HOST_L1_ECX, HOST_L1_EDX);
	add(c, 0xd, 0, SIG, 0x7, 0x340, 0x340, 0);
	add_kvm_leaves(c);
	add(c, 0x80000000, 0, 0, 0x8000001f, 0, 0, 0);
	/* Host says CmpLegacy (bit 1) and TopologyExtensions (bit 22). */
	add(c, 0x80000001, 0, 0, 0x800f12, 0, 0x00400003, 0x2fd3fbff);
	add(c, 0x80000008, 0, 0, 0x3030, 0, 0x0000700f, 0);
	for (uint32_t i = 0; i < 4; i++)
		add(c, 0x8000001d, i, SIG, host_cache_eax[i] & 0x03ffffff,
		    0x01c0003f, 0x3f, 0);
	add(c, 0x8000001d, 4, SIG, 0, 0, 0, 0);
	add(c, 0x8000001e, 0, 0, 0, 0, 0, 0);
}

static void drop_fn(struct x86_cpuid *c, uint32_t fn)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < c->head.nent; i++)
		if (c->entry[i].function != fn)
			c->entry[out++] = c->entry[i];
	c->head.nent = out;
}

static unsigned int bits_for(unsigned int n)
{
	unsigned int s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static unsigned int count_fn(const struct x86_cpuid *c, uint32_t fn)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->head.nent; i++)
		n += c->entry[i].function == fn;
	return n;
}

static struct kvm_cpuid_entry2 *must_find(struct x86_cpuid *c, uint32_t fn,
					  uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = x86_cpuid_find(c, fn, idx);

	assert_non_null(e);
	return e;
}

static void shape_ok(struct x86_cpuid *c, unsigned int idx, unsigned int n,
		     bool tscd)
{
	struct x86_cpuid_opts o = { .cpu_index = idx, .ncpus = n,
				    .tsc_deadline = tscd };
	struct rv_err err = { .msg = "" };

	if (x86_cpuid_shape(c, &o, &err))
		fail_msg("shape(%u of %u): %s", idx, n, err.msg);
}

static void check_leaf1(struct x86_cpuid *c, unsigned int idx, unsigned int n,
			bool tscd)
{
	struct kvm_cpuid_entry2 *e = must_find(c, 1, 0);
	unsigned int ids = 1u << bits_for(n);

	assert_int_equal(e->ebx >> 24, idx);
	assert_int_equal((e->ebx >> 16) & 0xff, ids > 255 ? 255 : ids);
	assert_true(((e->ebx >> 16) & 0xff) >= n);
	assert_int_equal(e->ebx & 0xffff, HOST_L1_EBX & 0xffff);
	assert_int_equal(!!(e->edx & (1u << 28)), n > 1);
	assert_true(e->ecx & (1u << 31));
	assert_int_equal(!!(e->ecx & (1u << 24)), tscd);
	/* Everything else passes through. */
	assert_int_equal(e->ecx & ~((1u << 31) | (1u << 24)),
			 HOST_L1_ECX & ~((1u << 31) | (1u << 24)));
}

static void check_topology(struct x86_cpuid *c, uint32_t fn, unsigned int idx,
			   unsigned int n)
{
	struct kvm_cpuid_entry2 *smt = must_find(c, fn, 0);
	struct kvm_cpuid_entry2 *core = must_find(c, fn, 1);
	struct kvm_cpuid_entry2 *end = must_find(c, fn, 2);
	unsigned int shift = bits_for(n);

	assert_int_equal(count_fn(c, fn), 3);
	assert_int_equal(smt->eax & 0x1f, 0);
	assert_int_equal(smt->ebx & 0xffff, 1);
	assert_int_equal(smt->ecx & 0xffff, (1 << 8) | 0);
	assert_int_equal(smt->edx, idx);
	assert_int_equal(core->eax & 0x1f, shift);
	assert_int_equal(core->ebx & 0xffff, n);
	assert_int_equal(core->ecx & 0xffff, (2 << 8) | 1);
	assert_int_equal(core->edx, idx);
	assert_int_equal(end->eax, 0);
	assert_int_equal(end->ebx, 0);
	assert_int_equal(end->ecx & 0xffff, 2);
	assert_int_equal(end->edx, idx);
	/* Every vCPU's x2APIC ID lies in package 0 and is its own core. */
	assert_int_equal(idx >> shift, 0);
	assert_true((1u << shift) >= n);
	assert_null(x86_cpuid_find(c, fn, 3));
}

static void check_kvm_leaves(struct x86_cpuid *c)
{
	struct kvm_cpuid_entry2 *s = must_find(c, KVM_CPUID_SIGNATURE, 0);
	char sig[12];

	memcpy(sig, &s->ebx, 4);
	memcpy(sig + 4, &s->ecx, 4);
	memcpy(sig + 8, &s->edx, 4);
	assert_memory_equal(sig, "KVMKVMKVM\0\0\0", 12);
	assert_true(s->eax >= KVM_CPUID_FEATURES);
	assert_int_equal(must_find(c, KVM_CPUID_FEATURES, 0)->eax, KVM_FEATS);
}

static void intel_case(unsigned int n, bool with_1f)
{
	unsigned int idxs[2] = { 0, n - 1 };

	for (unsigned int k = 0; k < 2; k++) {
		struct x86_cpuid *c = calloc(1, sizeof(*c));
		unsigned int idx = idxs[k];
		unsigned int shift = bits_for(n);
		bool tscd = k == 0;

		assert_non_null(c);
		intel_table(c, with_1f);
		shape_ok(c, idx, n, tscd);
		check_leaf1(c, idx, n, tscd);
		check_topology(c, 0xb, idx, n);
		if (with_1f)
			check_topology(c, 0x1f, idx, n);
		else
			assert_null(x86_cpuid_find(c, 0x1f, 0));
		for (uint32_t i = 0; i < 4; i++) {
			uint32_t a = must_find(c, 4, i)->eax;
			uint32_t cores = (a >> 26) + 1;
			uint32_t share = ((a >> 14) & 0xfff) + 1;

			assert_int_equal(a & 0x3fff, host_cache_eax[i] & 0x3fff);
			/* 6-bit field: at most 64 core IDs. */
			assert_int_equal(cores, shift > 6 ? 64 : 1u << shift);
			assert_true(cores >= (n > 64 ? 64 : n));
			if (i < 3)
				assert_int_equal(share, 1);  /* private per core */
			else
				assert_int_equal(share, 1u << shift);
		}
		assert_int_equal(must_find(c, 4, 4)->eax, 0);
		check_kvm_leaves(c);
		/* Unrelated and AMD-only leaves pass through untouched. */
		assert_int_equal(must_find(c, 0xd, 1)->eax, 0xf);
		assert_int_equal(must_find(c, 0x80000001, 0)->ecx, 0x121);
		assert_int_equal(must_find(c, 0x80000008, 0)->ecx, 0);
		assert_null(x86_cpuid_find(c, 0x8000001e, 0));
		free(c);
	}
}

static void test_intel_1(void **state)
{
	(void)state;
	intel_case(1, false);
	intel_case(1, true);
}

static void test_intel_2(void **state)
{
	(void)state;
	intel_case(2, false);
	intel_case(2, true);
}

static void test_intel_8(void **state)
{
	(void)state;
	intel_case(8, false);
	intel_case(8, true);
}

/* Not a power of two, and the largest machine. */
static void test_intel_odd_and_max(void **state)
{
	(void)state;
	intel_case(3, true);
	intel_case(X86_MAX_VCPUS, true);
}

static void amd_case(unsigned int n)
{
	for (unsigned int idx = 0; idx < n; idx++) {
		struct x86_cpuid *c = calloc(1, sizeof(*c));
		unsigned int shift = bits_for(n);
		struct kvm_cpuid_entry2 *e;

		assert_non_null(c);
		amd_table(c);
		if (idx & 1)  /* host without CmpLegacy: we must set it */
			must_find(c, 0x80000001, 0)->ecx &= ~2u;
		shape_ok(c, idx, n, false);
		check_leaf1(c, idx, n, false);
		/* Leaf 0 says 0x10, so 0xB is in range: it must be ours. */
		check_topology(c, 0xb, idx, n);
		e = must_find(c, 0x80000008, 0);
		assert_int_equal(e->ecx & 0xff, n - 1);
		assert_int_equal((e->ecx >> 12) & 0xf, shift);
		assert_int_equal(e->eax, 0x3030);
		e = must_find(c, 0x8000001e, 0);
		assert_int_equal(e->eax, idx);
		assert_int_equal(e->ebx & 0xff, idx);
		assert_int_equal((e->ebx >> 8) & 0xff, 0);  /* 1 thread/core */
		e = must_find(c, 0x80000001, 0);
		assert_int_equal(!!(e->ecx & 2), n > 1);
		assert_true(e->ecx & (1u << 22));
		for (uint32_t i = 0; i < 4; i++) {
			uint32_t a = must_find(c, 0x8000001d, i)->eax;
			uint32_t share = ((a >> 14) & 0xfff) + 1;

			assert_int_equal(share, i < 3 ? 1 : 1u << shift);
		}
		assert_null(x86_cpuid_find(c, 4, 0));
		check_kvm_leaves(c);
		free(c);
	}
}

static void test_amd_1_2_8(void **state)
{
	(void)state;
	amd_case(1);
	amd_case(2);
	amd_case(8);
}

static int shape_err(struct x86_cpuid *c, unsigned int idx, unsigned int n,
		     struct rv_err *err)
{
	struct x86_cpuid_opts o = { .cpu_index = idx, .ncpus = n };

	err->msg[0] = 0;
	return x86_cpuid_shape(c, &o, err);
}

static void test_bad_input(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));
	struct rv_err err;

	(void)state;
	assert_non_null(c);
	intel_table(c, false);
	assert_int_equal(shape_err(c, 0, 0, &err), -1);
	assert_true(strlen(err.msg) > 0);
	assert_int_equal(shape_err(c, 0, X86_MAX_VCPUS + 1, &err), -1);
	assert_int_equal(shape_err(c, 2, 2, &err), -1);
	assert_int_equal(shape_err(c, 7, 2, &err), -1);
	assert_int_equal(shape_err(c, 0, 1, &err), 0);  /* table unharmed */

	/* A corrupt entry count is refused before anything is read. */
	intel_table(c, false);
	c->head.nent = X86_CPUID_MAX_ENTRIES + 1;
	assert_int_equal(shape_err(c, 0, 1, &err), -1);
	c->head.nent = 0xffffffff;
	assert_int_equal(shape_err(c, 0, 1, &err), -1);
	assert_null(x86_cpuid_find(c, 0x12345678, 0));

	/* No KVM leaves: a clear message, not a guest without kvm-clock. */
	intel_table(c, false);
	c->head.nent -= 3;  /* drop 0x80000000/1/8 ... */
	c->head.nent -= 2;  /* ... and the two KVM leaves */
	assert_null(x86_cpuid_find(c, KVM_CPUID_SIGNATURE, 0));
	assert_int_equal(shape_err(c, 0, 1, &err), -1);
	assert_non_null(strstr(err.msg, "0x40000000"));

	/* No leaf 1. */
	memset(c, 0, sizeof(*c));
	add(c, 0, 0, 0, 0xd, 0, 0, 0);
	add_kvm_leaves(c);
	assert_int_equal(shape_err(c, 0, 1, &err), -1);

	/* Empty table. */
	memset(c, 0, sizeof(*c));
	assert_int_equal(shape_err(c, 0, 1, &err), -1);
	free(c);
}

/* A table already at capacity: growing the topology leaves must fail with
 * a message, never write past entry[X86_CPUID_MAX_ENTRIES - 1]. */
static void test_full_table(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));
	struct rv_err err;

	(void)state;
	assert_non_null(c);
	/* Intel host without leaf 0xB entries: shaping must add three. */
	intel_table(c, false);
	drop_fn(c, 0xb);
	while (c->head.nent < X86_CPUID_MAX_ENTRIES - 2)
		add(c, 0x20000000 + c->head.nent, 0, 0, 0, 0, 0, 0);
	assert_int_equal(shape_err(c, 0, 2, &err), -1);
	assert_non_null(strstr(err.msg, "full"));
	assert_true(c->head.nent <= X86_CPUID_MAX_ENTRIES);
	/* With exactly enough room it works. */
	intel_table(c, false);
	drop_fn(c, 0xb);
	while (c->head.nent < X86_CPUID_MAX_ENTRIES - 3)
		add(c, 0x20000000 + c->head.nent, 0, 0, 0, 0, 0, 0);
	assert_int_equal(shape_err(c, 0, 2, &err), 0);
	assert_int_equal(c->head.nent, X86_CPUID_MAX_ENTRIES);
	check_topology(c, 0xb, 0, 2);

	intel_table(c, false);
	while (c->head.nent < X86_CPUID_MAX_ENTRIES)
		add(c, 0x20000000 + c->head.nent, 0, 0, 0, 0, 0, 0);
	/* Full, but 0xB replaces its own three entries: fits. */
	assert_int_equal(shape_err(c, 0, 2, &err), 0);
	check_topology(c, 0xb, 0, 2);

	/* AMD: 0xB (absent on this host) must be added to a full table. */

	amd_table(c);
	while (c->head.nent < X86_CPUID_MAX_ENTRIES)
		add(c, 0x20000000 + c->head.nent, 0, 0, 0, 0, 0, 0);
	assert_int_equal(shape_err(c, 1, 2, &err), -1);
	assert_true(c->head.nent <= X86_CPUID_MAX_ENTRIES);
	free(c);
}

/* The host listed more 0xB levels than we describe: none survive. */
static void test_host_levels_replaced(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	intel_table(c, false);
	add(c, 0xb, 3, SIG, 7, 64, 0x303, 10);
	add(c, 0xb, 4, SIG, 8, 128, 0x404, 10);
	shape_ok(c, 1, 4, false);
	check_topology(c, 0xb, 1, 4);
	free(c);
}

/* 0x80000008 EAX carries the address sizes: never made up when absent. */
static void test_amd_no_invented_address_leaf(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	amd_table(c);
	drop_fn(c, 0x80000008);
	shape_ok(c, 1, 2, false);
	assert_null(x86_cpuid_find(c, 0x80000008, 0));
	assert_int_equal(must_find(c, 0x8000001e, 0)->eax, 1);
	free(c);
}

static void test_find(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	intel_table(c, false);
	/* Indexed leaf: the index selects the entry. */
	assert_int_equal(must_find(c, 4, 3)->eax, host_cache_eax[3]);
	assert_int_equal(must_find(c, 4, 1)->eax, host_cache_eax[1]);
	assert_null(x86_cpuid_find(c, 4, 9));
	/* Non-indexed leaf: any index matches. */
	assert_int_equal(must_find(c, 1, 5)->eax, 0x906ea);
	assert_int_equal(must_find(c, 0x80000008, 77)->eax, 0x3027);
	assert_null(x86_cpuid_find(c, 0x12345, 0));
	c->head.nent = 0;
	assert_null(x86_cpuid_find(c, 1, 0));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intel_1),
		cmocka_unit_test(test_intel_2),
		cmocka_unit_test(test_intel_8),
		cmocka_unit_test(test_intel_odd_and_max),
		cmocka_unit_test(test_amd_1_2_8),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_host_levels_replaced),
		cmocka_unit_test(test_amd_no_invented_address_leaf),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
