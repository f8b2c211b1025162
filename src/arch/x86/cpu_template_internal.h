/* What the CPU template files share: which register is which kind (the
 * table the header documents), the ringvm-owned bits, lookups. */
#ifndef RINGVM_ARCH_X86_CPU_TEMPLATE_INTERNAL_H
#define RINGVM_ARCH_X86_CPU_TEMPLATE_INTERNAL_H

#include "arch/x86/cpu_template.h"

#define CT_LEAF_MAX_EXT   0x80000000u
#define CT_LEAF_ADDR_SIZE 0x80000008u
#define CT_FULL32         0xffffffffu
#define CT_FULL64         0xffffffffffffffffull

/* How the intersection (and check_host) treats one register. */
enum ct_kind {
	CT_OTHER,       /* the host's own */
	CT_VENDOR,      /* leaf 0 EBX/ECX/EDX: equal everywhere, pinned */
	CT_MAX,         /* a maximum: the minimum over the hosts */
	CT_ADDR_SIZES,  /* 0x80000008 EAX: bytes 0 and 1 each a maximum */
	CT_AND,         /* feature bits: AND-ed */
};

enum ct_kind ct_kind_of(uint32_t leaf, uint32_t subleaf, enum x86_reg r);

/* Bits x86_cpuid_shape or the guest's CR4 decide; a template never
 * changes them. */
uint32_t ct_owned_bits(uint32_t leaf, uint32_t subleaf, enum x86_reg r);

/* "avx512f", or "CPUID.0x7.0:EBX[16]" when Linux has no name for it. */
void ct_bit_name(uint32_t leaf, uint32_t subleaf, enum x86_reg r,
		 unsigned int bit, char *out, size_t cap);

const char *ct_reg_name(enum x86_reg r);   /* "eax" ... */

void ct_reg_set(struct kvm_cpuid_entry2 *e, enum x86_reg r, uint32_t v);

/* Like x86_cpuid_find, on a const table. */
const struct kvm_cpuid_entry2 *ct_cpuid_find(const struct x86_cpuid *c,
					     uint32_t leaf, uint32_t subleaf);

const struct cpu_leaf_modifier *ct_find_leaf(const struct cpu_template *t,
					     uint32_t leaf, uint32_t subleaf);
const struct cpu_reg_modifier *ct_find_reg(const struct cpu_leaf_modifier *l,
					   enum x86_reg r);
const struct kvm_msr_entry *ct_find_msr(const struct x86_msr_values *m,
					uint32_t addr);

/* All four registers forced to 0: the leaf is to be removed. */
bool ct_leaf_is_zeroed(const struct cpu_leaf_modifier *l);

/* Sorts leaves, registers and MSRs into the documented order. */
void ct_sort(struct cpu_template *t);

/* The 12-character vendor of leaf 0 registers, printable ('?' for
 * anything else), NUL-terminated. */
void ct_vendor_string(uint32_t ebx, uint32_t edx, uint32_t ecx,
		      char out[13]);

#endif
