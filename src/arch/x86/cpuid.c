/* CPUID shaping. Topology: one package, ncpus cores, one thread per core,
 * APIC ID = cpu_index. Every leaf that describes topology (1, 4, 0xB, 0x1F,
 * and AMD's 0x80000001/8/1D/1E) is rewritten so they all tell the guest the
 * same story; the host's own topology must never leak through.
 * References: Intel SDM vol. 2A "CPUID", AMD APM vol. 3 appendix E,
 * Documentation/virt/kvm/x86/cpuid.rst for the KVM leaves. */
#include "arch/x86/cpuid.h"

#include <asm/kvm_para.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/layout.h"

#define CPUID_1_ECX_TSC_DEADLINE   (1u << 24)
#define CPUID_1_ECX_HYPERVISOR     (1u << 31)
#define CPUID_1_EDX_HTT            (1u << 28)
#define CPUID_8_1_ECX_CMP_LEGACY   (1u << 1)

/* Leaf 0xB/0x1F level types (ECX[15:8]). */
#define TOPO_INVALID 0
#define TOPO_SMT     1
#define TOPO_CORE    2

/* "KVMKVMKVM\0\0\0" as EBX, ECX, EDX. */
static const uint32_t kvm_signature[3] = { 0x4b4d564b, 0x564b4d56, 0x4d };

struct kvm_cpuid_entry2 *x86_cpuid_find(struct x86_cpuid *c,
					unsigned int function,
					unsigned int index)
{
	unsigned int n = c->head.nent;

	if (n > X86_CPUID_MAX_ENTRIES)
		n = X86_CPUID_MAX_ENTRIES;
	for (unsigned int i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *e = &c->entry[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e->index != index)
			continue;
		return e;
	}
	return NULL;
}

static void remove_function(struct x86_cpuid *c, uint32_t function)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < c->head.nent; i++) {
		if (c->entry[i].function == function)
			continue;
		c->entry[out++] = c->entry[i];
	}
	c->head.nent = out;
}

static struct kvm_cpuid_entry2 *add_entry(struct x86_cpuid *c,
					  uint32_t function, uint32_t index,
					  uint32_t flags)
{
	struct kvm_cpuid_entry2 *e;

	if (c->head.nent >= X86_CPUID_MAX_ENTRIES)
		return NULL;
	e = &c->entry[c->head.nent++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = flags;
	return e;
}

/* Bits of the APIC ID that number the cores: ceil(log2(ncpus)). */
static unsigned int core_id_bits(unsigned int ncpus)
{
	unsigned int s = 0;

	while ((1u << s) < ncpus)
		s++;
	return s;
}

static bool vendor_is_amd(const struct kvm_cpuid_entry2 *leaf0)
{
	char v[12];

	memcpy(v, &leaf0->ebx, 4);
	memcpy(v + 4, &leaf0->edx, 4);
	memcpy(v + 8, &leaf0->ecx, 4);
	return !memcmp(v, "AuthenticAMD", 12) || !memcmp(v, "HygonGenuine", 12);
}

static void shape_leaf1(struct kvm_cpuid_entry2 *e,
			const struct x86_cpuid_opts *o, unsigned int shift)
{
	/* EBX[23:16]: addressable logical processor IDs in the package; the
	 * guest rounds it up to a power of two, so 2^shift is exact up to
	 * 128 and 255 stands for 256. */
	uint32_t ids = 1u << shift;

	if (ids > 255)
		ids = 255;
	e->ebx = (e->ebx & 0xffff) | (ids << 16) | (o->cpu_index << 24);
	if (o->ncpus > 1)
		e->edx |= CPUID_1_EDX_HTT;
	else
		e->edx &= ~CPUID_1_EDX_HTT;
	e->ecx |= CPUID_1_ECX_HYPERVISOR;
	if (o->tsc_deadline)
		e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
	else
		e->ecx &= ~CPUID_1_ECX_TSC_DEADLINE;
}

/* IDs sharing a cache, minus one: L1/L2 are per core (one thread), L3 is
 * shared by the whole package. Shared by leaf 4 and AMD's 0x8000001D. */
static uint32_t cache_sharing(uint32_t eax, unsigned int shift)
{
	uint32_t level = (eax >> 5) & 7;

	return level >= 3 ? (1u << shift) - 1 : 0;
}

static void shape_cache_leaves(struct x86_cpuid *c, uint32_t function,
			       unsigned int shift, bool set_cores)
{
	/* Leaf 4 EAX[31:26]: addressable core IDs - 1; AMD keeps those bits. */
	uint32_t keep = set_cores ? 0x3fff : 0xfc003fff;
	uint32_t cores = (1u << shift) - 1;

	if (cores > 63)
		cores = 63;
	for (unsigned int i = 0; i < c->head.nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entry[i];

		if (e->function != function || (e->eax & 0x1f) == 0)
			continue;
		e->eax = (e->eax & keep) | (cache_sharing(e->eax, shift) << 14);
		if (set_cores)
			e->eax |= cores << 26;
	}
}

/* Leaf 0xB or 0x1F: SMT level (1 thread, shift 0), core level (ncpus,
 * shift = core ID bits), then an invalid level. */
static int shape_topology_leaf(struct x86_cpuid *c, uint32_t function,
			       const struct x86_cpuid_opts *o,
			       unsigned int shift, struct rv_err *err)
{
	remove_function(c, function);
	for (uint32_t idx = 0; idx < 3; idx++) {
		struct kvm_cpuid_entry2 *e;

		e = add_entry(c, function, idx, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		if (!e)
			return rv_fail(err, "CPUID table full (%d entries) adding leaf %#x",
				       X86_CPUID_MAX_ENTRIES, function);
		e->edx = o->cpu_index;
		e->ecx = idx;
		if (idx == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx |= TOPO_SMT << 8;
		} else if (idx == 1) {
			e->eax = shift;
			e->ebx = o->ncpus;
			e->ecx |= TOPO_CORE << 8;
		} else {
			e->ecx |= TOPO_INVALID << 8;
		}
	}
	return 0;
}

static struct kvm_cpuid_entry2 *get_or_add(struct x86_cpuid *c,
					   uint32_t function)
{
	struct kvm_cpuid_entry2 *e = x86_cpuid_find(c, function, 0);

	return e ? e : add_entry(c, function, 0, 0);
}

static int shape_amd(struct x86_cpuid *c, const struct x86_cpuid_opts *o,
		     unsigned int shift, struct rv_err *err)
{
	struct kvm_cpuid_entry2 *ext0 = x86_cpuid_find(c, 0x80000000, 0);
	struct kvm_cpuid_entry2 *e;
	uint32_t max_ext = ext0 ? ext0->eax : 0;

	e = x86_cpuid_find(c, 0x80000001, 0);
	if (e) {
		/* CmpLegacy: HTT counts cores, not threads (APM CPUID
		 * Fn8000_0001_ECX[1]). */
		if (o->ncpus > 1)
			e->ecx |= CPUID_8_1_ECX_CMP_LEGACY;
		else
			e->ecx &= ~CPUID_8_1_ECX_CMP_LEGACY;
	}
	/* Never invented: its EAX holds the address sizes only KVM knows. */
	e = max_ext >= 0x80000008 ? x86_cpuid_find(c, 0x80000008, 0) : NULL;
	if (e) {
		/* ECX[15:12] ApicIdSize, ECX[7:0] NC = cores - 1. */
		e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (o->ncpus - 1);
	}
	if (max_ext >= 0x8000001d)
		shape_cache_leaves(c, 0x8000001d, shift, false);
	if (max_ext >= 0x8000001e) {
		e = get_or_add(c, 0x8000001e);
		if (!e)
			return rv_fail(err, "CPUID table full (%d entries) adding "
				       "leaf 0x8000001e", X86_CPUID_MAX_ENTRIES);
		e->eax = o->cpu_index;          /* extended APIC ID */
		e->ebx = o->cpu_index & 0xff;   /* core ID; threads/core - 1 = 0 */
		e->ecx = 0;                     /* node 0, one node */
		e->edx = 0;
	}
	return 0;
}

static int shape_kvm_leaves(struct x86_cpuid *c, struct rv_err *err)
{
	struct kvm_cpuid_entry2 *sig = x86_cpuid_find(c, KVM_CPUID_SIGNATURE, 0);
	struct kvm_cpuid_entry2 *feat = x86_cpuid_find(c, KVM_CPUID_FEATURES, 0);

	if (!sig || !feat)
		return rv_fail(err, "KVM_GET_SUPPORTED_CPUID lacks the KVM "
			       "paravirtual leaves 0x40000000/0x40000001 (no "
			       "kvm-clock for the guest)");
	/* The guest finds KVM by this signature; feature bits (kvm-clock,
	 * PV EOI, steal time, ...) stay exactly as KVM reported them. */
	if (sig->eax < KVM_CPUID_FEATURES)
		sig->eax = KVM_CPUID_FEATURES;
	sig->ebx = kvm_signature[0];
	sig->ecx = kvm_signature[1];
	sig->edx = kvm_signature[2];
	return 0;
}

int x86_cpuid_shape(struct x86_cpuid *c, const struct x86_cpuid_opts *o,
		    struct rv_err *err)
{
	struct kvm_cpuid_entry2 *leaf0, *leaf1;
	unsigned int shift;
	bool amd;

	if (o->ncpus == 0 || o->ncpus > X86_MAX_VCPUS)
		return rv_fail(err, "CPUID: %u vCPUs (1..%d allowed)", o->ncpus,
			       X86_MAX_VCPUS);
	if (o->cpu_index >= o->ncpus)
		return rv_fail(err, "CPUID: vCPU index %u out of range for %u vCPUs",
			       o->cpu_index, o->ncpus);
	if (c->head.nent > X86_CPUID_MAX_ENTRIES)
		return rv_fail(err, "CPUID: %u entries (at most %d)",
			       c->head.nent, X86_CPUID_MAX_ENTRIES);
	leaf0 = x86_cpuid_find(c, 0, 0);
	leaf1 = x86_cpuid_find(c, 1, 0);
	if (!leaf0 || !leaf1 || leaf0->eax < 1)
		return rv_fail(err, "KVM_GET_SUPPORTED_CPUID lacks leaf 0 or 1");
	if (shape_kvm_leaves(c, err))
		return -1;

	amd = vendor_is_amd(leaf0);
	shift = core_id_bits(o->ncpus);
	shape_leaf1(leaf1, o, shift);
	/* Pointers into entry[] die below: the topology leaves move entries. */
	if (leaf0->eax >= 4 && !amd)
		shape_cache_leaves(c, 4, shift, true);
	if (leaf0->eax >= 0x1f && x86_cpuid_find(c, 0x1f, 0) &&
	    shape_topology_leaf(c, 0x1f, o, shift, err))
		return -1;
	leaf0 = x86_cpuid_find(c, 0, 0);
	if (leaf0->eax >= 0xb && shape_topology_leaf(c, 0xb, o, shift, err))
		return -1;
	if (amd && shape_amd(c, o, shift, err))
		return -1;
	return 0;
}
