/* CPU templates: the Firecracker JSON layout both ways and every refusal;
 * features files of two hand-made Intel hosts (A: AVX-512, MOVBE, leaf
 * 0x1F, max leaf 0x1F, 46/57 address bits; B: none of those, max leaf
 * 0x16, 48/48) and their exact intersection; applying it to each host's
 * shaped CPUID (same feature words on both, topology untouched); and the
 * refusals of a template a host cannot honour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpu_template.h"
#include "arch/x86/cpuid.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define FULL 0xffffffffu

/* "GenuineIntel" and "AuthenticAMD" as leaf 0 EBX, EDX, ECX. */
#define INTEL_B 0x756e6547u
#define INTEL_D 0x49656e69u
#define INTEL_C 0x6c65746eu
#define AMD_B   0x68747541u
#define AMD_D   0x69746e65u
#define AMD_C   0x444d4163u

struct ent {
	uint32_t fn, idx, flags, a, b, c, d;
};

#define END { 0xffffffffu, 0, 0, 0, 0, 0, 0 }

/* Host A: leaf 1 ECX SSE3|MOVBE|AVX|hypervisor; leaf 7 TSC_ADJUST|BMI1|
 * AVX2|AVX512F, OSPKE, ARCH_CAPABILITIES; 7.1 AVX-VNNI; XCR0 with AVX-512
 * state; 0x1F; kvm-clock stable; invariant TSC; WBNOINVD. */
static const struct ent host_a[] = {
	{ 0x0, 0, 0, 0x1f, INTEL_B, INTEL_C, INTEL_D },
	{ 0x1, 0, 0, 0x000906ea, 0x0a100800, 0x90400001, 0x178bfbff },
	{ 0x4, 0, SIG, 0x1c004121, 0x01c0003f, 0x3f, 0 },
	{ 0x7, 0, SIG, 1, 0x0001002a, 0x10, 0x20000000 },
	{ 0x7, 1, SIG, 0x10, 0, 0, 0 },
	{ 0xb, 0, SIG, 1, 2, 0x100, 10 },
	{ 0xb, 1, SIG, 5, 16, 0x201, 10 },
	{ 0xd, 0, SIG, 0xe7, 0x240, 0xa80, 0 },
	{ 0xd, 1, SIG, 0xf, 0, 0, 0 },
	{ 0x1f, 0, SIG, 1, 2, 0x100, 10 },
	{ 0x1f, 1, SIG, 5, 16, 0x201, 10 },
	{ 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d },
	{ 0x40000001, 0, 0, 0x01007afb, 0, 0, 0 },
	{ 0x80000000, 0, 0, 0x80000008, 0, 0, 0 },
	{ 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800 },
	{ 0x80000007, 0, 0, 0, 0, 0, 0x100 },
	{ 0x80000008, 0, 0, 0x392e, 0x200, 0, 0 },
	END,
};

/* Host B: no MOVBE, TSC_ADJUST, AVX512F, 7.1, AVX-512 state, 0x1F, kvm-clock stable
 * bit, WBNOINVD; another model, another host topology. */
static const struct ent host_b[] = {
	{ 0x0, 0, 0, 0x16, INTEL_B, INTEL_C, INTEL_D },
	{ 0x1, 0, 0, 0x00050657, 0x02080800, 0x90000001, 0x178bfbff },
	{ 0x4, 0, SIG, 0x1c004121, 0x01c0003f, 0x3f, 0 },
	{ 0x7, 0, SIG, 0, 0x00000028, 0x10, 0x20000000 },
	{ 0xb, 0, SIG, 1, 2, 0x100, 4 },
	{ 0xb, 1, SIG, 4, 8, 0x201, 4 },
	{ 0xd, 0, SIG, 0x7, 0x240, 0x340, 0 },
	{ 0xd, 1, SIG, 0xf, 0, 0, 0 },
	{ 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d },
	{ 0x40000001, 0, 0, 0x00007afb, 0, 0, 0 },
	{ 0x80000000, 0, 0, 0x80000008, 0, 0, 0 },
	{ 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800 },
	{ 0x80000007, 0, 0, 0, 0, 0, 0x100 },
	{ 0x80000008, 0, 0, 0x3030, 0, 0, 0 },
	END,
};

/* IA32_ARCH_CAPABILITIES, IA32_UCODE_REV, IA32_PERF_CAPABILITIES (A). */
static const struct kvm_msr_entry msrs_a[] = {
	{ .index = 0x10a, .data = 0xeb },
	{ .index = 0x8b, .data = 0xf000000000ull },
	{ .index = 0x345, .data = 0x4c4 },
};
static const struct kvm_msr_entry msrs_b[] = {
	{ .index = 0x10a, .data = 0x6b },
	{ .index = 0x8b, .data = 0xb000000000ull },
};

/* The template for A and B, bit by bit from the rules in the header. */
struct row {
	uint32_t leaf, subleaf, flags;
	enum x86_reg reg;
	uint32_t mask, value;
};

static const struct row fleet_rows[] = {
	/* max basic leaf min(0x1f, 0x16); the vendor pinned */
	{ 0x0, 0, 0, X86_EAX, FULL, 0x16 },
	{ 0x0, 0, 0, X86_EBX, FULL, INTEL_B },
	{ 0x0, 0, 0, X86_ECX, FULL, INTEL_C },
	{ 0x0, 0, 0, X86_EDX, FULL, INTEL_D },
	/* AND 0x90000001: MOVBE (22) off, every absent bit off, except
	 * hypervisor (31), OSXSAVE (27), TSC deadline (24): ringvm's */
	{ 0x1, 0, 0, X86_ECX, 0x66fffffe, 0 },
	/* AND 0x178bfbff; HTT (28) is ringvm's and clear in ~AND anyway */
	{ 0x1, 0, 0, X86_EDX, 0xe8740400, 0 },
	/* max subleaf min(1, 0); AVX512F (16) off, AVX2 (5) kept; OSPKE
	 * (ECX 4) is the guest's */
	{ 0x7, 0, SIG, X86_EAX, FULL, 0 },
	{ 0x7, 0, SIG, X86_EBX, 0xffffffd7, 0 },
	{ 0x7, 0, SIG, X86_ECX, 0xffffffef, 0 },
	{ 0x7, 0, SIG, X86_EDX, 0xdfffffff, 0 },
	/* only on A: removed */
	{ 0x7, 1, SIG, X86_EAX, FULL, 0 },
	{ 0x7, 1, SIG, X86_EBX, FULL, 0 },
	{ 0x7, 1, SIG, X86_ECX, FULL, 0 },
	{ 0x7, 1, SIG, X86_EDX, FULL, 0 },
	/* XCR0: AVX-512 state (5-7) off; IA32_XSS: nothing */
	{ 0xd, 0, SIG, X86_EAX, 0xfffffff8, 0 },
	{ 0xd, 0, SIG, X86_EDX, FULL, 0 },
	{ 0xd, 1, SIG, X86_EAX, 0xfffffff0, 0 },
	{ 0xd, 1, SIG, X86_ECX, FULL, 0 },
	{ 0xd, 1, SIG, X86_EDX, FULL, 0 },
	{ 0x1f, 0, SIG, X86_EAX, FULL, 0 },
	{ 0x1f, 0, SIG, X86_EBX, FULL, 0 },
	{ 0x1f, 0, SIG, X86_ECX, FULL, 0 },
	{ 0x1f, 0, SIG, X86_EDX, FULL, 0 },
	{ 0x1f, 1, SIG, X86_EAX, FULL, 0 },
	{ 0x1f, 1, SIG, X86_EBX, FULL, 0 },
	{ 0x1f, 1, SIG, X86_ECX, FULL, 0 },
	{ 0x1f, 1, SIG, X86_EDX, FULL, 0 },
	/* KVM PV features AND 0x7afb: clock-stable (24) off */
	{ 0x40000001, 0, 0, X86_EAX, 0xffff8504, 0 },
	{ 0x80000000, 0, 0, X86_EAX, FULL, 0x80000008 },
	/* CmpLegacy (ECX 1) is ringvm's */
	{ 0x80000001, 0, 0, X86_ECX, 0xfffffedc, 0 },
	{ 0x80000001, 0, 0, X86_EDX, 0xd3eff7ff, 0 },
	{ 0x80000007, 0, 0, X86_EDX, 0xfffffeff, 0 },
	/* physical min(46, 48) = 46, linear min(57, 48) = 48; WBNOINVD off */
	{ 0x80000008, 0, 0, X86_EAX, 0xffff, 0x302e },
	{ 0x80000008, 0, 0, X86_EBX, FULL, 0 },
};

/* ARCH_CAPABILITIES AND 0x6b; PERF_CAPABILITIES only on A: 0; the
 * microcode revision left out. */
static const struct cpu_msr_modifier fleet_msrs[] = {
	{ 0x10a, ~0x6bull, 0 },
	{ 0x345, ~0ull, 0 },
};

struct fixture {
	struct cpu_template a, b, fleet, t, t2;
	struct x86_cpuid cpuid_a, cpuid_b, guest_a, guest_b, saved;
	struct x86_msr_values msr_a, msr_b, vals;
	struct rv_err err;
};

static void load_cpuid(struct x86_cpuid *c, const struct ent *e)
{
	memset(c, 0, sizeof(*c));
	for (; e->fn != 0xffffffffu; e++) {
		struct kvm_cpuid_entry2 *k = &c->entry[c->head.nent++];

		k->function = e->fn;
		k->index = e->idx;
		k->flags = e->flags;
		k->eax = e->a;
		k->ebx = e->b;
		k->ecx = e->c;
		k->edx = e->d;
	}
}

static void load_msrs(struct x86_msr_values *m, const struct kvm_msr_entry *e,
		      unsigned int n)
{
	memset(m, 0, sizeof(*m));
	for (unsigned int i = 0; i < n; i++)
		m->entry[m->head.nmsrs++] = e[i];
}

static void build_rows(struct cpu_template *t, const struct row *rows,
		       size_t n, const struct cpu_msr_modifier *msrs,
		       size_t nmsrs)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		struct cpu_leaf_modifier *l = t->nleaves ?
			&t->leaf[t->nleaves - 1] : NULL;

		if (!l || l->leaf != rows[i].leaf ||
		    l->subleaf != rows[i].subleaf) {
			l = &t->leaf[t->nleaves++];
			l->leaf = rows[i].leaf;
			l->subleaf = rows[i].subleaf;
			l->flags = rows[i].flags;
		}
		l->reg[l->nregs++] = (struct cpu_reg_modifier){
			.reg = rows[i].reg, .mask = rows[i].mask,
			.value = rows[i].value };
	}
	for (size_t i = 0; i < nmsrs; i++)
		t->msr[t->nmsrs++] = msrs[i];
}

/* Field by field (MSR modifiers have padding). */
static void assert_same(const struct cpu_template *x,
			const struct cpu_template *y)
{
	assert_int_equal(x->nleaves, y->nleaves);
	for (unsigned int i = 0; i < x->nleaves; i++) {
		const struct cpu_leaf_modifier *p = &x->leaf[i], *q = &y->leaf[i];

		if (p->leaf != q->leaf || p->subleaf != q->subleaf ||
		    p->flags != q->flags || p->nregs != q->nregs)
			fail_msg("leaf %u: %#x.%u flags %u nregs %u, expected %#x.%u flags %u nregs %u",
				 i, p->leaf, p->subleaf, p->flags, p->nregs,
				 q->leaf, q->subleaf, q->flags, q->nregs);
		for (unsigned int r = 0; r < p->nregs; r++)
			if (p->reg[r].reg != q->reg[r].reg ||
			    p->reg[r].mask != q->reg[r].mask ||
			    p->reg[r].value != q->reg[r].value)
				fail_msg("leaf %#x.%u reg %u: %d %#x/%#x, expected %d %#x/%#x",
					 p->leaf, p->subleaf, r, p->reg[r].reg,
					 p->reg[r].mask, p->reg[r].value,
					 q->reg[r].reg, q->reg[r].mask,
					 q->reg[r].value);
	}
	assert_int_equal(x->nmsrs, y->nmsrs);
	for (unsigned int i = 0; i < x->nmsrs; i++) {
		assert_int_equal(x->msr[i].addr, y->msr[i].addr);
		assert_int_equal(x->msr[i].mask, y->msr[i].mask);
		assert_int_equal(x->msr[i].value, y->msr[i].value);
	}
}

static int parse(struct fixture *f, const char *json, struct cpu_template *t)
{
	memset(&f->err, 0, sizeof(f->err));
	return x86_cpu_template_parse(json, strlen(json), t, &f->err);
}

static void parse_ok(struct fixture *f, const char *json,
		     struct cpu_template *t)
{
	if (parse(f, json, t) < 0)
		fail_msg("refused: %s", f->err.msg);
}

static void expect_error(const struct rv_err *err, int rc, const char *want)
{
	if (rc != -1)
		fail_msg("accepted (want \"%s\")", want);
	if (!strstr(err->msg, want))
		fail_msg("error \"%s\" lacks \"%s\"", err->msg, want);
	if (strchr(err->msg, '\n'))
		fail_msg("multi-line error \"%s\"", err->msg);
}

static void features(struct fixture *f, const struct ent *e,
		     const struct kvm_msr_entry *m, unsigned int nm,
		     struct x86_cpuid *cpuid, struct x86_msr_values *msrs,
		     struct cpu_template *out)
{
	load_cpuid(cpuid, e);
	load_msrs(msrs, m, nm);
	if (x86_cpu_features_from_kvm(cpuid, msrs, out, &f->err) < 0)
		fail_msg("features: %s", f->err.msg);
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	const struct cpu_template *hosts[2];
	const char *names[2] = { "hostA.json", "hostB.json" };

	if (!f)
		return -1;
	*state = f;
	features(f, host_a, msrs_a, 3, &f->cpuid_a, &f->msr_a, &f->a);
	features(f, host_b, msrs_b, 2, &f->cpuid_b, &f->msr_b, &f->b);
	hosts[0] = &f->a;
	hosts[1] = &f->b;
	if (x86_cpu_template_intersect(hosts, names, 2, &f->fleet, &f->err))
		fail_msg("intersect: %s", f->err.msg);
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

/* ---- the JSON layout ---- */

/* Out of order, with every number form and underscores. */
static const char hand_template[] =
"{\n"
"  \"msr_modifiers\": [\n"
"    { \"bitmap\": \"0b" "xxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxxxxx_"
	"xxxxxxxx_xxxxxxxx_xxxxxxxx_1xxxxx00\", \"addr\": \"0x10a\" },\n"
"    { \"addr\": \"58\", \"bitmap\": \"0b" "0000000000000000"
	"000000000000000000000000000000000000000000000001\" }\n"
"  ],\n"
"  \"cpuid_modifiers\": [\n"
"    { \"leaf\": \"0b111\", \"subleaf\": \"0\", \"flags\": 1,\n"
"      \"modifiers\": [\n"
"        { \"register\": \"ecx\", \"bitmap\": \"0bxxxxxxxx_xxxxxxxx_xxxxxxxx_xxxxxxxx\" },\n"
"        { \"register\": \"ebx\", \"bitmap\": \"0bxxxxxxxx_xxxxxxx0_xxxxxxxx_xx1xxxxx\" } ] },\n"
"    { \"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,\n"
"      \"modifiers\": [ { \"register\": \"edx\", \"bitmap\": \"0b10000000000000000000000000000011\" } ] },\n"
"    { \"leaf\": \"0x80000008\", \"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": [] }\n"
"  ],\n"
"  \"kvm_capabilities\": [], \"reg_modifiers\": [], \"vcpu_features\": []\n"
"}\n";

static const struct row hand_rows[] = {
	{ 0x1, 0, 0, X86_EDX, FULL, 0x80000003 },
	{ 0x7, 0, 1, X86_EBX, 0x00010020, 0x20 },
	{ 0x7, 0, 1, X86_ECX, 0, 0 },
};
static const struct cpu_msr_modifier hand_msrs[] = {
	{ 58, ~0ull, 1 },
	{ 0x10a, 0x83, 0x80 },
};

/* The exact text printed for hand_template (minus its empty leaf). */
static const char hand_printed[] =
"{\n"
"  \"cpuid_modifiers\": [\n"
"    {\n"
"      \"leaf\": \"0x1\",\n"
"      \"subleaf\": \"0x0\",\n"
"      \"flags\": 0,\n"
"      \"modifiers\": [\n"
"        {\n"
"          \"register\": \"edx\",\n"
"          \"bitmap\": \"0b10000000000000000000000000000011\"\n"
"        }\n"
"      ]\n"
"    },\n"
"    {\n"
"      \"leaf\": \"0x7\",\n"
"      \"subleaf\": \"0x0\",\n"
"      \"flags\": 1,\n"
"      \"modifiers\": [\n"
"        {\n"
"          \"register\": \"ebx\",\n"
"          \"bitmap\": \"0bxxxxxxxxxxxxxxx0xxxxxxxxxx1xxxxx\"\n"
"        },\n"
"        {\n"
"          \"register\": \"ecx\",\n"
"          \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n"
"        }\n"
"      ]\n"
"    },\n"
"    {\n"
"      \"leaf\": \"0x80000008\",\n"
"      \"subleaf\": \"0x0\",\n"
"      \"flags\": 0,\n"
"      \"modifiers\": [\n"
"      ]\n"
"    }\n"
"  ],\n"
"  \"msr_modifiers\": [\n"
"    {\n"
"      \"addr\": \"0x3a\",\n"
"      \"bitmap\": \"0b0000000000000000000000000000000000000000000000000000000000000001\"\n"
"    },\n"
"    {\n"
"      \"addr\": \"0x10a\",\n"
"      \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1xxxxx00\"\n"
"    }\n"
"  ]\n"
"}\n";

static void test_parse_print(void **state)
{
	struct fixture *f = *state;
	struct cpu_leaf_modifier *empty;
	char *json, *again;

	parse_ok(f, hand_template, &f->t);
	/* Sorted; the leaf with no modifiers is kept as written. */
	assert_int_equal(f->t.nleaves, 3);
	empty = &f->t.leaf[2];
	assert_int_equal(empty->leaf, 0x80000008);
	assert_int_equal(empty->nregs, 0);
	f->t.nleaves = 2;
	build_rows(&f->t2, hand_rows, 3, hand_msrs, 2);
	assert_same(&f->t, &f->t2);

	parse_ok(f, hand_template, &f->t);
	json = x86_cpu_template_to_json(&f->t);
	assert_non_null(json);
	assert_string_equal(json, hand_printed);
	/* What is printed parses back to the same, and prints the same. */
	parse_ok(f, json, &f->t2);
	assert_same(&f->t, &f->t2);
	again = x86_cpu_template_to_json(&f->t2);
	assert_string_equal(json, again);
	free(json);
	free(again);

	/* An empty template, and one of sections only. */
	parse_ok(f, "{}", &f->t);
	assert_int_equal(f->t.nleaves + f->t.nmsrs, 0);
	json = x86_cpu_template_to_json(&f->t);
	assert_string_equal(json, "{\n  \"cpuid_modifiers\": [\n  ],\n"
			    "  \"msr_modifiers\": [\n  ]\n}\n");
	free(json);
	parse_ok(f, " {\"cpuid_modifiers\": [], \"msr_modifiers\": []}\n\n",
		 &f->t);
}

/* Features files and the fleet template survive the round trip. */
static void test_round_trip_features(void **state)
{
	struct fixture *f = *state;
	struct cpu_template *t[] = { &f->a, &f->b, &f->fleet };

	for (unsigned int i = 0; i < 3; i++) {
		char *json = x86_cpu_template_to_json(t[i]);

		assert_non_null(json);
		parse_ok(f, json, &f->t);
		assert_same(&f->t, t[i]);
		free(json);
	}
	assert_true(x86_cpu_template_is_features(&f->a));
	assert_true(x86_cpu_template_is_features(&f->b));
	assert_false(x86_cpu_template_is_features(&f->fleet));
}

#define LEAF1(regs) "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", " \
	"\"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": [" regs "]}]}"
#define EAX(bm) "{\"register\": \"eax\", \"bitmap\": \"" bm "\"}"
#define B32 "0b00000000000000000000000000000000"
#define B64 B32 "00000000000000000000000000000000"
#define MSR(addr, bm) "{\"msr_modifiers\": [{\"addr\": \"" addr \
	"\", \"bitmap\": \"" bm "\"}]}"
#define LEAF(fields) "{\"cpuid_modifiers\": [{" fields "}]}"

static const struct {
	const char *json, *want;
} bad[] = {
	/* bitmaps */
	{ LEAF1(EAX("0b0000000000000000000000000000000")),
	  "cpuid_modifiers[0].modifiers[0].bitmap: '0b0000000000000000000000000000000' has 31 bits, expected 32" },
	{ LEAF1(EAX(B32 "0")), "has 33 bits, expected 32" },
	{ LEAF1(EAX(B32 "_x")), "has 33 bits" },
	{ LEAF1(EAX("0b")), "has 0 bits" },
	{ LEAF1(EAX("00000000000000000000000000000000")), "does not start with 0b" },
	{ LEAF1(EAX("0x00000000")), "does not start with 0b" },
	{ LEAF1(EAX("0b0000000000000000000000000000000y")), "character 'y' is not 0, 1, x or _" },
	{ LEAF1(EAX("0b000000000000000000000000000000X0")), "character 'X'" },
	{ LEAF1(EAX("0b00000000000000000000000000000020")), "character '2'" },
	{ LEAF1(EAX("0b0000000000000000 000000000000000")), "character 0x20" },
	{ LEAF1(EAX("0b000000000000000000000000000000\\n0")), "character 0x0a" },
	{ LEAF1(EAX("0b000000000000000000000000000000\\u00000")), "bitmap: contains a NUL" },
	{ LEAF1("{\"register\": \"eax\", \"bitmap\": 5}"), "modifiers[0]: bitmap: expected a string" },
	{ MSR("0x10a", B32), "msr_modifiers[0].bitmap: '" B32 "' has 32 bits, expected 64" },
	{ MSR("0x10a", B64 "1"), "has 65 bits, expected 64" },
	/* numbers */
	{ LEAF("\"leaf\": \"0xzz\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"),
	  "cpuid_modifiers[0]: leaf: '0xzz' is not a number" },
	{ LEAF("\"leaf\": \"\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '' is not a number" },
	{ LEAF("\"leaf\": \"0x\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '0x' is not a number" },
	{ LEAF("\"leaf\": \"0b\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '0b' is not a number" },
	{ LEAF("\"leaf\": \"-1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '-1' is not a number" },
	{ LEAF("\"leaf\": \" 1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "is not a number" },
	{ LEAF("\"leaf\": \"1 \", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "is not a number" },
	{ LEAF("\"leaf\": \"0b12\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '0b12' is not a number" },
	{ LEAF("\"leaf\": \"12a\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '12a' is not a number" },
	{ LEAF("\"leaf\": \"0X1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: '0X1' is not a number" },
	{ LEAF("\"leaf\": \"1_0\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "is not a number" },
	{ LEAF("\"leaf\": \"0x100000000\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"),
	  "leaf: '0x100000000' is out of range (32 bits)" },
	{ LEAF("\"leaf\": \"4294967296\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "out of range" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"99999999999999999999999\", \"flags\": 0, \"modifiers\": []"),
	  "subleaf: '99999999999999999999999' is out of range" },
	{ LEAF("\"leaf\": 1, \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: expected a string" },
	{ LEAF("\"leaf\": null, \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "leaf: expected a string" },
	{ MSR("0x1_0a", B64), "msr_modifiers[0]: addr: '0x1_0a' is not a number" },
	{ MSR("0x100000000", B64), "addr: '0x100000000' is out of range" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": 8, \"modifiers\": []"),
	  "cpuid_modifiers[0]: flags: 8 is not a KVM CPUID flags value" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": -1, \"modifiers\": []"), "flags: -1" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": \"0\", \"modifiers\": []"), "flags: expected an integer" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": 1.0, \"modifiers\": []"), "flags: expected an integer" },
	/* fields */
	{ "{\"cpuid_modifier\": []}", "unknown field 'cpuid_modifier'" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": [], \"mask\": 1"),
	  "cpuid_modifiers[0]: unknown field 'mask'" },
	{ LEAF1("{\"register\": \"eax\", \"bitmap\": \"" B32 "\", \"x\": 0}"),
	  "cpuid_modifiers[0].modifiers[0]: unknown field 'x'" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"" B64 "\", \"value\": 1}]}",
	  "msr_modifiers[0]: unknown field 'value'" },
	{ "{\"a\\nb\": 1}", "unknown field 'a?b'" },
	{ LEAF("\"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []"), "cpuid_modifiers[0]: missing field 'leaf'" },
	{ LEAF("\"leaf\": \"0x1\", \"flags\": 0, \"modifiers\": []"), "missing field 'subleaf'" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"modifiers\": []"), "missing field 'flags'" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": 0"), "missing field 'modifiers'" },
	{ LEAF("\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": {}"), "modifiers: expected an array" },
	{ LEAF1("{\"bitmap\": \"" B32 "\"}"), "modifiers[0]: missing field 'register'" },
	{ LEAF1("{\"register\": \"eax\"}"), "modifiers[0]: missing field 'bitmap'" },
	{ LEAF1("{\"register\": \"EAX\", \"bitmap\": \"" B32 "\"}"), "register: 'EAX' is not eax, ebx, ecx or edx" },
	{ LEAF1("{\"register\": \"rax\", \"bitmap\": \"" B32 "\"}"), "'rax' is not eax" },
	{ LEAF1("7"), "cpuid_modifiers[0].modifiers[0]: expected an object" },
	{ "{\"msr_modifiers\": [{\"bitmap\": \"" B64 "\"}]}", "msr_modifiers[0]: missing field 'addr'" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\"}]}", "msr_modifiers[0]: missing field 'bitmap'" },
	{ "{\"cpuid_modifiers\": {}}", "cpuid_modifiers: expected an array" },
	{ "{\"cpuid_modifiers\": null}", "cpuid_modifiers: expected an array" },
	{ "{\"cpuid_modifiers\": [1]}", "cpuid_modifiers[0]: expected an object" },
	{ "{\"msr_modifiers\": [[]]}", "msr_modifiers[0]: expected an object" },
	/* other architectures */
	{ "{\"reg_modifiers\": [{\"addr\": \"0x603000000013c020\", \"bitmap\": \"0b0\"}]}",
	  "reg_modifiers: ARM register modifiers are for aarch64" },
	{ "{\"vcpu_features\": [{\"index\": 0}]}", "vcpu_features: vCPU features are for aarch64" },
	{ "{\"kvm_capabilities\": [\"!56\"]}", "kvm_capabilities: KVM capability changes are not supported" },
	{ "{\"kvm_capabilities\": {}}", "kvm_capabilities: expected an array" },
	/* duplicates */
	{ "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []},"
	  "{\"leaf\": \"1\", \"subleaf\": \"0x0\", \"flags\": 1, \"modifiers\": []}]}",
	  "cpuid_modifiers[1]: leaf 0x1 subleaf 0 is already modified (cpuid_modifiers[0])" },
	{ LEAF1(EAX(B32) "," EAX("0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")),
	  "cpuid_modifiers[0].modifiers[1]: register eax is already modified (modifiers[0])" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"" B64 "\"},"
	  "{\"addr\": \"266\", \"bitmap\": \"" B64 "\"}]}",
	  "msr_modifiers[1]: MSR 0x10a is already modified (msr_modifiers[0])" },
	/* the document */
	{ "", "empty (no JSON object)" },
	{ " \n", "empty (no JSON object)" },
	{ "{", "the JSON ends early" },
	{ "[]", "not a JSON object" },
	{ "null", "not a JSON object" },
	{ "{} {}", "unexpected bytes after the JSON object, at byte 3" },
	{ "{\"cpuid_modifiers\": [],}", "invalid JSON" },
	{ "{\"cpuid_modifiers\": [] \"msr_modifiers\": []}", "invalid JSON at byte 23" },
	{ "{\"a\": [[[[[[[[[]]]]]]]]]}", "JSON nested deeper than" },
	{ "{\"a\": \"\xff\"}", "invalid JSON" },
};

static void test_parse_refusals(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(f, bad[i].json, &f->t);

		if (rc != -1)
			fail_msg("case %zu accepted: %s", i, bad[i].json);
		if (!strstr(f->err.msg, bad[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, f->err.msg,
				 bad[i].want);
		if (strchr(f->err.msg, '\n'))
			fail_msg("case %zu: multi-line \"%s\"", i, f->err.msg);
		/* Nothing half-parsed is left behind. */
		assert_int_equal(f->t.nleaves + f->t.nmsrs, 0);
	}
}

/* 256 leaves fit, 257 do not; the same for 128 MSRs. */
static void test_parse_limits(void **state)
{
	struct fixture *f = *state;
	size_t cap = 300 * 128 + 64, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	for (unsigned int n = 256; n <= 257; n++) {
		len = (size_t)snprintf(s, cap, "{\"cpuid_modifiers\": [");
		for (unsigned int i = 0; i < n; i++)
			len += (size_t)snprintf(s + len, cap - len,
				"%s{\"leaf\": \"%u\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []}",
				i ? "," : "", i);
		snprintf(s + len, cap - len, "]}");
		if (n == 256) {
			parse_ok(f, s, &f->t);
			assert_int_equal(f->t.nleaves, 256);
		} else {
			expect_error(&f->err, parse(f, s, &f->t),
				     "cpuid_modifiers: 257 leaves, at most 256");
		}
	}
	for (unsigned int n = 128; n <= 129; n++) {
		len = (size_t)snprintf(s, cap, "{\"msr_modifiers\": [");
		for (unsigned int i = 0; i < n; i++)
			len += (size_t)snprintf(s + len, cap - len,
				"%s{\"addr\": \"%u\", \"bitmap\": \"%s\"}",
				i ? "," : "", i, B64);
		snprintf(s + len, cap - len, "]}");
		if (n == 128) {
			parse_ok(f, s, &f->t);
			assert_int_equal(f->t.nmsrs, 128);
			assert_int_equal(f->t.msr[127].addr, 127);
		} else {
			expect_error(&f->err, parse(f, s, &f->t),
				     "msr_modifiers: 129 MSRs, at most 128");
		}
	}
	free(s);
}

/* ---- features and the intersection ---- */

static void test_features_from_kvm(void **state)
{
	struct fixture *f = *state;
	const struct cpu_leaf_modifier *l;

	/* Every entry, sorted, fully specified, flags kept. */
	assert_int_equal(f->a.nleaves, 17);
	assert_int_equal(f->a.nmsrs, 3);
	assert_int_equal(f->a.msr[0].addr, 0x8b);
	assert_int_equal(f->a.msr[2].addr, 0x345);
	assert_int_equal(f->a.msr[2].value, 0x4c4);
	l = &f->a.leaf[3];
	assert_int_equal(l->leaf, 7);
	assert_int_equal(l->subleaf, 0);
	assert_int_equal(l->flags, SIG);
	assert_int_equal(l->nregs, 4);
	assert_int_equal(l->reg[1].reg, X86_EBX);
	assert_int_equal(l->reg[1].mask, FULL);
	assert_int_equal(l->reg[1].value, 0x0001002a);
	assert_int_equal(f->a.leaf[16].leaf, 0x80000008);

	/* No MSRs at all is fine; a repeated leaf is not. */
	assert_int_equal(x86_cpu_features_from_kvm(&f->cpuid_a, NULL, &f->t,
						   &f->err), 0);
	assert_int_equal(f->t.nmsrs, 0);
	f->saved = f->cpuid_a;
	f->saved.entry[f->saved.head.nent++] = f->cpuid_a.entry[3];
	expect_error(&f->err, x86_cpu_features_from_kvm(&f->saved, NULL,
			&f->t, &f->err), "KVM lists CPUID leaf 0x7 subleaf 0 twice");
}

static void test_intersect_exact(void **state)
{
	struct fixture *f = *state;
	const struct cpu_template *hosts[2] = { &f->b, &f->a };
	const char *names[2] = { "b", "a" };
	char *json;

	build_rows(&f->t, fleet_rows, sizeof(fleet_rows) / sizeof(fleet_rows[0]),
		   fleet_msrs, 2);
	assert_same(&f->fleet, &f->t);
	/* The order of the hosts does not matter. */
	assert_int_equal(x86_cpu_template_intersect(hosts, names, 2, &f->t2,
						    &f->err), 0);
	assert_same(&f->t2, &f->fleet);
	/* What a user reads: AVX512F forced off, AVX2 left to the host. */
	json = x86_cpu_template_to_json(&f->fleet);
	assert_non_null(strstr(json, "\"bitmap\": \"0b00000000000000000000000000x0x000\""));
	free(json);
	/* One host: its own template (the minimums are its values). */
	hosts[0] = &f->a;
	assert_int_equal(x86_cpu_template_intersect(hosts, names, 1, &f->t2,
						    &f->err), 0);
	assert_int_equal(f->t2.leaf[0].reg[0].value, 0x1f);
}

static void test_intersect_refusals(void **state)
{
	struct fixture *f = *state;
	const struct cpu_template *hosts[2] = { &f->a, &f->t };
	const char *names[2] = { "hostA.json", "amd.json" };
	struct cpu_leaf_modifier *l0;

	/* The same host on an AMD CPU. */
	f->t = f->b;
	l0 = &f->t.leaf[0];
	l0->reg[1].value = AMD_B;
	l0->reg[2].value = AMD_C;
	l0->reg[3].value = AMD_D;
	expect_error(&f->err, x86_cpu_template_intersect(hosts, names, 2,
			&f->t2, &f->err),
		     "CPU vendor mismatch: hostA.json is GenuineIntel, amd.json is AuthenticAMD");

	/* A template is not a features file. */
	names[1] = "fleet.json";
	hosts[1] = &f->fleet;
	expect_error(&f->err, x86_cpu_template_intersect(hosts, names, 2,
			&f->t2, &f->err),
		     "fleet.json is not a features file (from ringvm cpu-features): leaf 0x1 subleaf 0 eax is missing");
	f->t = f->b;
	f->t.leaf[1].reg[2].mask = 0xfffffffe;
	f->t.leaf[1].reg[2].value &= 0xfffffffe;
	hosts[1] = &f->t;
	expect_error(&f->err, x86_cpu_template_intersect(hosts, names, 2,
			&f->t2, &f->err), "leaf 0x1 subleaf 0 ecx has 'x' bits");
	f->t = f->b;
	f->t.msr[0].mask = 1;
	f->t.msr[0].value = 0;
	expect_error(&f->err, x86_cpu_template_intersect(hosts, names, 2,
			&f->t2, &f->err), "MSR 0x8b has 'x' bits");
	/* No vendor. */
	f->t = f->b;
	memmove(&f->t.leaf[0], &f->t.leaf[1],
		(f->t.nleaves - 1) * sizeof(f->t.leaf[0]));
	f->t.nleaves--;
	expect_error(&f->err, x86_cpu_template_intersect(hosts, names, 2,
			&f->t2, &f->err), "fleet.json has no CPUID leaf 0");
	expect_error(&f->err, x86_cpu_template_intersect(hosts, names, 0,
			&f->t2, &f->err), "0 features files");
}

/* ---- applying ---- */

static void shape(struct x86_cpuid *c, const struct x86_cpuid *host,
		  unsigned int idx)
{
	struct x86_cpuid_opts o = { .cpu_index = idx, .ncpus = 2,
				    .tsc_deadline = true };
	struct rv_err err;

	*c = *host;
	if (x86_cpuid_shape(c, &o, &err))
		fail_msg("shape: %s", err.msg);
}

static const struct kvm_cpuid_entry2 *get(struct x86_cpuid *c, uint32_t fn,
					  uint32_t idx)
{
	const struct kvm_cpuid_entry2 *e = x86_cpuid_find(c, fn, idx);

	if (!e)
		fail_msg("no leaf %#x.%u", fn, idx);
	return e;
}

static void apply_ok(struct fixture *f, const struct cpu_template *t,
		     struct x86_cpuid *c, const struct x86_cpuid *host)
{
	if (x86_cpu_template_apply(t, c, host, &f->err))
		fail_msg("apply: %s", f->err.msg);
}

static uint32_t reg(const struct kvm_cpuid_entry2 *e, enum x86_reg r)
{
	const uint32_t v[] = { e->eax, e->ebx, e->ecx, e->edx };

	return v[r];
}

static unsigned int count_fn(const struct x86_cpuid *c, uint32_t fn)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->head.nent; i++)
		n += c->entry[i].function == fn;
	return n;
}

static void test_apply_fleet(void **state)
{
	struct fixture *f = *state;
	static const struct { uint32_t fn, idx; enum x86_reg r; } words[] = {
		{ 1, 0, X86_ECX }, { 1, 0, X86_EDX }, { 7, 0, X86_EBX },
		{ 7, 0, X86_ECX }, { 7, 0, X86_EDX }, { 0xd, 0, X86_EAX },
		{ 0xd, 0, X86_EDX }, { 0xd, 1, X86_EAX }, { 0xd, 1, X86_ECX },
		{ 0xd, 1, X86_EDX }, { 0x40000001, 0, X86_EAX },
		{ 0x80000001, 0, X86_ECX }, { 0x80000001, 0, X86_EDX },
		{ 0x80000007, 0, X86_EDX }, { 0x80000008, 0, X86_EBX },
	};
	const struct kvm_cpuid_entry2 *e;

	shape(&f->guest_a, &f->cpuid_a, 1);
	assert_non_null(x86_cpuid_find(&f->guest_a, 0x1f, 0));
	apply_ok(f, &f->fleet, &f->guest_a, &f->cpuid_a);

	e = get(&f->guest_a, 7, 0);
	assert_int_equal(e->ebx, 0x28);   /* AVX512F, TSC_ADJUST gone, AVX2 kept */
	assert_int_equal(e->eax, 0);                 /* max subleaf */
	assert_int_equal(e->ecx, 0x10);              /* OSPKE untouched */
	assert_null(x86_cpuid_find(&f->guest_a, 7, 1));
	assert_int_equal(get(&f->guest_a, 0, 0)->eax, 0x16);
	assert_int_equal(count_fn(&f->guest_a, 0x1f), 0);  /* every subleaf */
	assert_int_equal(get(&f->guest_a, 0xd, 0)->eax, 0x7);
	assert_int_equal(get(&f->guest_a, 0x40000001, 0)->eax, 0x7afb);
	assert_int_equal(get(&f->guest_a, 0x80000008, 0)->eax, 0x302e);
	assert_int_equal(get(&f->guest_a, 0x80000008, 0)->ebx, 0);
	/* ringvm's own bits are as x86_cpuid_shape made them. */
	e = get(&f->guest_a, 1, 0);
	assert_int_equal(e->ebx >> 24, 1);           /* APIC ID */
	assert_int_equal(e->ecx, 0x91000001);        /* no MOVBE */
	assert_true(e->edx & 1u << 28);              /* HTT */
	assert_int_equal(get(&f->guest_a, 0xb, 1)->ebx, 2);
	assert_int_equal(get(&f->guest_a, 0xb, 1)->edx, 1);
	assert_int_equal(get(&f->guest_a, 0x40000000, 0)->ebx, 0x4b4d564b);
	/* The host's own model stays. */
	assert_int_equal(e->eax, 0x000906ea);

	/* On B the guest sees the same feature words and limits. */
	shape(&f->guest_b, &f->cpuid_b, 1);
	apply_ok(f, &f->fleet, &f->guest_b, &f->cpuid_b);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		uint32_t a = reg(get(&f->guest_a, words[i].fn, words[i].idx),
				 words[i].r);
		uint32_t b = reg(get(&f->guest_b, words[i].fn, words[i].idx),
				 words[i].r);

		if (a != b)
			fail_msg("leaf %#x.%u reg %d: A %#x, B %#x", words[i].fn,
				 words[i].idx, words[i].r, a, b);
	}
	assert_int_equal(get(&f->guest_b, 0, 0)->eax, 0x16);
	assert_int_equal(get(&f->guest_b, 0x80000008, 0)->eax & 0xffff, 0x302e);
	assert_int_equal(get(&f->guest_b, 7, 0)->eax, 0);
	assert_int_equal(get(&f->guest_b, 1, 0)->eax, 0x00050657);

	/* check_host agrees, MSRs included. */
	assert_int_equal(x86_cpu_template_check_host(&f->fleet, &f->cpuid_a,
						     &f->msr_a, &f->err), 0);
	assert_int_equal(x86_cpu_template_check_host(&f->fleet, &f->cpuid_b,
						     &f->msr_b, &f->err), 0);
}

/* A lower maximum drops every leaf above it, mentioned or not. */
static void test_apply_max_leaf(void **state)
{
	struct fixture *f = *state;

	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x0\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b00000000000000000000000000001010\"}]},"
		 "{\"leaf\": \"0x80000000\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b10000000000000000000000000000001\"}]}]}",
		 &f->t);
	shape(&f->guest_a, &f->cpuid_a, 0);
	apply_ok(f, &f->t, &f->guest_a, &f->cpuid_a);
	assert_int_equal(get(&f->guest_a, 0, 0)->eax, 0xa);
	assert_non_null(x86_cpuid_find(&f->guest_a, 7, 0));
	assert_null(x86_cpuid_find(&f->guest_a, 0xb, 0));
	assert_null(x86_cpuid_find(&f->guest_a, 0xd, 0));
	assert_null(x86_cpuid_find(&f->guest_a, 0x1f, 0));
	assert_non_null(x86_cpuid_find(&f->guest_a, 0x80000001, 0));
	assert_null(x86_cpuid_find(&f->guest_a, 0x80000007, 0));
	assert_null(x86_cpuid_find(&f->guest_a, 0x80000008, 0));
	/* The hypervisor range is not the basic range. */
	assert_non_null(x86_cpuid_find(&f->guest_a, 0x40000001, 0));
}

/* A forced '1' is set where the host has it, even in a leaf the guest
 * CPUID lacks; forced bits outside feature words are values. */
static void test_apply_forced_ones(void **state)
{
	struct fixture *f = *state;

	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x80000007\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"edx\", \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxx1xxxxxxxx\"}]},"
		 "{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b00000000000000110000011011110010\"}]}]}",
		 &f->t);
	shape(&f->guest_a, &f->cpuid_a, 0);
	/* Take invariant TSC out of the guest: the template puts it back. */
	for (unsigned int i = 0; i < f->guest_a.head.nent; i++)
		if (f->guest_a.entry[i].function == 0x80000007)
			f->guest_a.entry[i] =
				f->guest_a.entry[--f->guest_a.head.nent];
	apply_ok(f, &f->t, &f->guest_a, &f->cpuid_a);
	assert_int_equal(get(&f->guest_a, 0x80000007, 0)->edx, 0x100);
	assert_int_equal(get(&f->guest_a, 1, 0)->eax, 0x306f2);
}

static void test_apply_refusals(void **state)
{
	struct fixture *f = *state;

	shape(&f->guest_b, &f->cpuid_b, 0);
	f->saved = f->guest_b;

	/* AVX512F (bit 16, named) and TSC_ADJUST (bit 1, no name). */
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x7\", \"subleaf\": \"0x0\", \"flags\": 1,"
		 "\"modifiers\": [{\"register\": \"ebx\", \"bitmap\": \"0bxxxxxxxxxxxxxxx1xxxxxxxxxxxxxx1x\"}]}]}",
		 &f->t);
	expect_error(&f->err, x86_cpu_template_apply(&f->t, &f->guest_b,
			&f->cpuid_b, &f->err),
		     "this host lacks 2 CPU features the CPU template requires: CPUID.0x7.0:EBX[1], avx512f");
	assert_memory_equal(&f->guest_b, &f->saved, sizeof(f->saved));
	expect_error(&f->err, x86_cpu_template_check_host(&f->t, &f->cpuid_b,
			NULL, &f->err), "avx512f");
	/* The same on A is fine. */
	assert_int_equal(x86_cpu_template_check_host(&f->t, &f->cpuid_a, NULL,
						     &f->err), 0);

	/* A feature word of a leaf the host does not have. */
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x7\", \"subleaf\": \"0x1\", \"flags\": 1,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxx1xxxx\"}]}]}",
		 &f->t);
	expect_error(&f->err, x86_cpu_template_apply(&f->t, &f->guest_b,
			&f->cpuid_b, &f->err), "requires: avx_vnni");

	/* A's maximums on B. */
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x0\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b00000000000000000000000000011111\"}]}]}",
		 &f->t);
	expect_error(&f->err, x86_cpu_template_apply(&f->t, &f->guest_b,
			&f->cpuid_b, &f->err),
		     "the CPU template's maximum basic CPUID leaf 0x1f is above this host's 0x16");
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x80000008\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0bxxxxxxxxxxxxxxxx0011100100101110\"}]}]}",
		 &f->t);
	expect_error(&f->err, x86_cpu_template_check_host(&f->t, &f->cpuid_b,
			NULL, &f->err),
		     "the CPU template's 57 linear address bits are more than this host's 48");
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x80000008\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxx00110100\"}]}]}",
		 &f->t);
	expect_error(&f->err, x86_cpu_template_check_host(&f->t, &f->cpuid_b,
			NULL, &f->err),
		     "the CPU template's 52 physical address bits are more than this host's 48");

	/* Maximums that would take leaf 1 or 0x80000001 away. */
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x0\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"" B32 "\"}]}]}", &f->t);
	f->saved = f->guest_b;
	expect_error(&f->err, x86_cpu_template_apply(&f->t, &f->guest_b,
			&f->cpuid_b, &f->err),
		     "the CPU template's maximum basic CPUID leaf 0 leaves out leaf 1");
	assert_memory_equal(&f->guest_b, &f->saved, sizeof(f->saved));
	parse_ok(f, "{\"cpuid_modifiers\": [{\"leaf\": \"0x80000000\", \"subleaf\": \"0x0\", \"flags\": 0,"
		 "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b1" "0000000000000000000000000000000\"}]}]}",
		 &f->t);
	expect_error(&f->err, x86_cpu_template_apply(&f->t, &f->guest_b,
			&f->cpuid_b, &f->err),
		     "maximum extended CPUID leaf 0x80000000 leaves out leaf 0x80000001 (long mode)");

	/* Another vendor. */
	f->t = f->fleet;
	f->saved = f->cpuid_b;
	f->saved.entry[0].ebx = AMD_B;
	f->saved.entry[0].ecx = AMD_C;
	f->saved.entry[0].edx = AMD_D;
	expect_error(&f->err, x86_cpu_template_check_host(&f->t, &f->saved,
			NULL, &f->err),
		     "the CPU template is for GenuineIntel CPUs, this host is AuthenticAMD");

	/* Leaf 1 cannot go. */
	parse_ok(f, LEAF1(EAX(B32) ",{\"register\": \"ebx\", \"bitmap\": \"" B32 "\"},"
		 "{\"register\": \"ecx\", \"bitmap\": \"" B32 "\"},"
		 "{\"register\": \"edx\", \"bitmap\": \"" B32 "\"}"), &f->t);
	expect_error(&f->err, x86_cpu_template_apply(&f->t, &f->guest_b,
			&f->cpuid_b, &f->err),
		     "the CPU template removes CPUID leaf 1, which every guest needs");
}

/* ---- MSRs ---- */

static const struct kvm_msr_entry *find_val(const struct x86_msr_values *v,
					    uint32_t index)
{
	for (unsigned int i = 0; i < v->head.nmsrs; i++)
		if (v->entry[i].index == index)
			return &v->entry[i];
	return NULL;
}

static void test_msr_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(x86_cpu_template_msr_values(&f->fleet, &f->msr_a,
						     &f->vals, &f->err), 0);
	assert_int_equal(f->vals.head.nmsrs, 2);
	assert_int_equal(find_val(&f->vals, 0x10a)->data, 0x6b);
	assert_int_equal(find_val(&f->vals, 0x345)->data, 0);
	assert_null(find_val(&f->vals, 0x8b));
	/* B lacks PERF_CAPABILITIES: forced to 0, so nothing to write. */
	assert_int_equal(x86_cpu_template_msr_values(&f->fleet, &f->msr_b,
						     &f->vals, &f->err), 0);
	assert_int_equal(f->vals.head.nmsrs, 1);
	assert_int_equal(f->vals.entry[0].index, 0x10a);
	assert_int_equal(f->vals.entry[0].data, 0x6b);

	/* Forced '1': kept from the host where it has it, refused if not. */
	parse_ok(f, MSR("0x10a", "0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1xxx0xxx"),
		 &f->t);
	assert_int_equal(x86_cpu_template_msr_values(&f->t, &f->msr_a,
						     &f->vals, &f->err), 0);
	assert_int_equal(f->vals.entry[0].data, 0xe3);
	expect_error(&f->err, x86_cpu_template_msr_values(&f->t, &f->msr_b,
			&f->vals, &f->err),
		     "the CPU template sets MSR 0x10a bit 7, which this host lacks");
	expect_error(&f->err, x86_cpu_template_check_host(&f->t, &f->cpuid_b,
			&f->msr_b, &f->err), "MSR 0x10a bit 7");
	parse_ok(f, MSR("0x345", "0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1"),
		 &f->t);
	expect_error(&f->err, x86_cpu_template_msr_values(&f->t, &f->msr_b,
			&f->vals, &f->err),
		     "the CPU template sets bits of MSR 0x345, which is not a feature MSR of this host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_from_kvm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intersect_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intersect_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_max_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_forced_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msr_values, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
