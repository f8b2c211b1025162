/* The tables the header documents (which register is treated how, which
 * bits are ringvm's) and the model's lookups and order. */
#include "arch/x86/cpu_template_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIT(n) (1u << (n))

enum ct_kind ct_kind_of(uint32_t leaf, uint32_t subleaf, enum x86_reg r)
{
	switch (leaf) {
	case 0x0:
		return r == X86_EAX ? CT_MAX : CT_VENDOR;
	case 0x1:
		return r == X86_ECX || r == X86_EDX ? CT_AND : CT_OTHER;
	case 0x7:
		if (subleaf == 0)
			return r == X86_EAX ? CT_MAX : CT_AND;
		return subleaf == 1 && r == X86_EAX ? CT_AND : CT_OTHER;
	case 0xd:
		/* XCR0 (0.EAX/EDX) and IA32_XSS (1.ECX/EDX) bits: a state
		 * component one host lacks cannot be migrated. */
		if (subleaf == 0)
			return r == X86_EAX || r == X86_EDX ? CT_AND : CT_OTHER;
		return subleaf == 1 && r != X86_EBX ? CT_AND : CT_OTHER;
	case 0x40000001:
		return r == X86_EAX ? CT_AND : CT_OTHER;
	case CT_LEAF_MAX_EXT:
		return r == X86_EAX ? CT_MAX : CT_OTHER;
	case 0x80000001:
		return r == X86_ECX || r == X86_EDX ? CT_AND : CT_OTHER;
	case 0x80000007:
		return r == X86_EDX ? CT_AND : CT_OTHER;
	case CT_LEAF_ADDR_SIZE:
		if (r == X86_EAX)
			return CT_ADDR_SIZES;
		return r == X86_EBX ? CT_AND : CT_OTHER;
	default:
		return CT_OTHER;
	}
}

/* Mirrors x86_cpuid_shape (cpuid.c): topology, the hypervisor bit, HTT,
 * TSC deadline, the KVM signature; and OSXSAVE/OSPKE, which KVM keeps
 * equal to the guest's CR4. */
uint32_t ct_owned_bits(uint32_t leaf, uint32_t subleaf, enum x86_reg r)
{
	switch (leaf) {
	case 0x1:
		if (r == X86_EBX)
			return 0xffff0000;
		if (r == X86_ECX)
			return BIT(31) | BIT(27) | BIT(24);
		return r == X86_EDX ? BIT(28) : 0;
	case 0x4:
		return r == X86_EAX ? 0xffffc000 : 0;
	case 0x7:
		return subleaf == 0 && r == X86_ECX ? BIT(4) : 0;
	case 0xb:
	case 0x1f:
	case 0x40000000:
	case 0x8000001e:
		return CT_FULL32;
	case 0x80000001:
		return r == X86_ECX ? BIT(1) : 0;
	case CT_LEAF_ADDR_SIZE:
		return r == X86_ECX ? 0xf0ff : 0;
	case 0x8000001d:
		return r == X86_EAX ? 0x03ffc000 : 0;
	default:
		return 0;
	}
}

const char *ct_reg_name(enum x86_reg r)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };

	return (unsigned int)r < 4 ? names[r] : "?";
}

void ct_bit_name(uint32_t leaf, uint32_t subleaf, enum x86_reg r,
		 unsigned int bit, char *out, size_t cap)
{
	static const char *const upper[] = { "EAX", "EBX", "ECX", "EDX" };
	struct x86_feature_word w = { leaf, subleaf, r };
	const char *name = x86_feature_name(&w, bit);

	if (name)
		snprintf(out, cap, "%s", name);
	else
		snprintf(out, cap, "CPUID.%#x.%u:%s[%u]", leaf, subleaf,
			 (unsigned int)r < 4 ? upper[r] : "?", bit);
}


void ct_reg_set(struct kvm_cpuid_entry2 *e, enum x86_reg r, uint32_t v)
{
	switch (r) {
	case X86_EAX:
		e->eax = v;
		break;
	case X86_EBX:
		e->ebx = v;
		break;
	case X86_ECX:
		e->ecx = v;
		break;
	default:
		e->edx = v;
		break;
	}
}

const struct kvm_cpuid_entry2 *ct_cpuid_find(const struct x86_cpuid *c,
					     uint32_t leaf, uint32_t subleaf)
{
	unsigned int n = c->head.nent;

	if (n > X86_CPUID_MAX_ENTRIES)
		n = X86_CPUID_MAX_ENTRIES;
	for (unsigned int i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entry[i];

		if (e->function != leaf)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e->index != subleaf)
			continue;
		return e;
	}
	return NULL;
}

const struct cpu_leaf_modifier *ct_find_leaf(const struct cpu_template *t,
					     uint32_t leaf, uint32_t subleaf)
{
	for (unsigned int i = 0; i < t->nleaves; i++)
		if (t->leaf[i].leaf == leaf && t->leaf[i].subleaf == subleaf)
			return &t->leaf[i];
	return NULL;
}

const struct cpu_reg_modifier *ct_find_reg(const struct cpu_leaf_modifier *l,
					   enum x86_reg r)
{
	for (unsigned int i = 0; i < l->nregs; i++)
		if (l->reg[i].reg == r)
			return &l->reg[i];
	return NULL;
}

const struct kvm_msr_entry *ct_find_msr(const struct x86_msr_values *m,
					uint32_t addr)
{
	unsigned int n = m->head.nmsrs;

	if (n > CPU_TEMPLATE_MAX_MSRS)
		n = CPU_TEMPLATE_MAX_MSRS;
	for (unsigned int i = 0; i < n; i++)
		if (m->entry[i].index == addr)
			return &m->entry[i];
	return NULL;
}

bool ct_leaf_is_zeroed(const struct cpu_leaf_modifier *l)
{
	unsigned int seen = 0;

	for (unsigned int i = 0; i < l->nregs; i++) {
		if (l->reg[i].mask != CT_FULL32 || l->reg[i].value)
			return false;
		seen |= 1u << l->reg[i].reg;
	}
	return seen == 0xf;
}

bool x86_cpu_template_is_features(const struct cpu_template *t)
{
	for (unsigned int i = 0; i < t->nleaves; i++) {
		const struct cpu_leaf_modifier *l = &t->leaf[i];

		if (l->nregs != 4)
			return false;
		for (unsigned int r = 0; r < 4; r++)
			if (l->reg[r].mask != CT_FULL32)
				return false;
	}
	for (unsigned int i = 0; i < t->nmsrs; i++)
		if (t->msr[i].mask != CT_FULL64)
			return false;
	return true;
}

static int cmp_reg(const void *a, const void *b)
{
	const struct cpu_reg_modifier *x = a, *y = b;

	return (int)x->reg - (int)y->reg;
}

static int cmp_leaf(const void *a, const void *b)
{
	const struct cpu_leaf_modifier *x = a, *y = b;

	if (x->leaf != y->leaf)
		return x->leaf < y->leaf ? -1 : 1;
	if (x->subleaf != y->subleaf)
		return x->subleaf < y->subleaf ? -1 : 1;
	return 0;
}

static int cmp_msr(const void *a, const void *b)
{
	const struct cpu_msr_modifier *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void ct_sort(struct cpu_template *t)
{
	for (unsigned int i = 0; i < t->nleaves; i++)
		qsort(t->leaf[i].reg, t->leaf[i].nregs, sizeof(t->leaf[i].reg[0]),
		      cmp_reg);
	qsort(t->leaf, t->nleaves, sizeof(t->leaf[0]), cmp_leaf);
	qsort(t->msr, t->nmsrs, sizeof(t->msr[0]), cmp_msr);
}

void ct_vendor_string(uint32_t ebx, uint32_t edx, uint32_t ecx,
		      char out[13])
{
	memcpy(out, &ebx, 4);
	memcpy(out + 4, &edx, 4);
	memcpy(out + 8, &ecx, 4);
	out[12] = '\0';
	for (int i = 0; i < 12; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			out[i] = '?';
}
