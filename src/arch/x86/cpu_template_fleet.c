/* Features files (what one host offers) and their intersection (what a
 * guest may see on every host of a fleet). The rules are in
 * cpu_template.h; ct_kind_of and ct_owned_bits hold them as tables. */
#include "arch/x86/cpu_template_internal.h"

#include <stdio.h>
#include <string.h>

#define MSR_IA32_UCODE_REV  0x8bu
#define MSR_IA32_VMX_FIRST  0x480u
#define MSR_IA32_VMX_LAST   0x491u

int x86_cpu_features_from_kvm(const struct x86_cpuid *supported,
			      const struct x86_msr_values *msrs,
			      struct cpu_template *out, struct rv_err *err)
{
	unsigned int n = supported->head.nent;

	memset(out, 0, sizeof(*out));
	if (n > X86_CPUID_MAX_ENTRIES)
		return rv_fail(err, "CPUID: %u entries (at most %d)", n,
			       X86_CPUID_MAX_ENTRIES);
	for (unsigned int i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = &supported->entry[i];
		struct cpu_leaf_modifier *l = &out->leaf[out->nleaves];

		if (ct_find_leaf(out, e->function, e->index))
			return rv_fail(err, "KVM lists CPUID leaf %#x subleaf %#x twice",
				       e->function, e->index);
		l->leaf = e->function;
		l->subleaf = e->index;
		l->flags = e->flags;
		l->nregs = 4;
		for (unsigned int r = 0; r < 4; r++)
			l->reg[r] = (struct cpu_reg_modifier){
				.reg = (enum x86_reg)r, .mask = CT_FULL32,
				.value = x86_cpuid_reg(e, (enum x86_reg)r) };
		out->nleaves++;
	}
	n = msrs ? msrs->head.nmsrs : 0;
	if (n > CPU_TEMPLATE_MAX_MSRS)
		return rv_fail(err, "%u feature MSRs (at most %d)", n,
			       CPU_TEMPLATE_MAX_MSRS);
	for (unsigned int i = 0; i < n; i++) {
		const struct kvm_msr_entry *m = &msrs->entry[i];

		for (unsigned int k = 0; k < out->nmsrs; k++)
			if (out->msr[k].addr == m->index)
				return rv_fail(err, "KVM lists feature MSR %#x twice",
					       m->index);
		out->msr[out->nmsrs++] = (struct cpu_msr_modifier){
			.addr = m->index, .mask = CT_FULL64, .value = m->data };
	}
	ct_sort(out);
	return 0;
}

/* Registers of a features file, by (leaf, subleaf): every one is there. */
static uint32_t host_reg(const struct cpu_leaf_modifier *l, enum x86_reg r)
{
	return ct_find_reg(l, r)->value;
}

static int check_features(const struct cpu_template *h, const char *name,
			  struct rv_err *err)
{
	for (unsigned int i = 0; i < h->nleaves; i++) {
		const struct cpu_leaf_modifier *l = &h->leaf[i];

		for (unsigned int r = 0; r < 4; r++) {
			const struct cpu_reg_modifier *m =
				ct_find_reg(l, (enum x86_reg)r);

			if (!m || m->mask != CT_FULL32)
				return rv_fail(err, "%s is not a features file (from ringvm cpu-features): leaf %#x subleaf %#x %s %s",
					       name, l->leaf, l->subleaf,
					       ct_reg_name((enum x86_reg)r),
					       m ? "has 'x' bits" : "is missing");
		}
	}
	for (unsigned int i = 0; i < h->nmsrs; i++)
		if (h->msr[i].mask != CT_FULL64)
			return rv_fail(err, "%s is not a features file (from ringvm cpu-features): MSR %#x has 'x' bits",
				       name, h->msr[i].addr);
	if (!ct_find_leaf(h, 0, 0))
		return rv_fail(err, "%s has no CPUID leaf 0 (the vendor)", name);
	return 0;
}

static int check_vendors(const struct cpu_template *const hosts[],
			 const char *const names[], unsigned int n,
			 struct rv_err *err)
{
	const struct cpu_leaf_modifier *l0 = ct_find_leaf(hosts[0], 0, 0);
	char v0[13], v[13];

	ct_vendor_string(host_reg(l0, X86_EBX), host_reg(l0, X86_EDX),
			 host_reg(l0, X86_ECX), v0);
	for (unsigned int i = 1; i < n; i++) {
		const struct cpu_leaf_modifier *l = ct_find_leaf(hosts[i], 0, 0);

		if (host_reg(l, X86_EBX) == host_reg(l0, X86_EBX) &&
		    host_reg(l, X86_ECX) == host_reg(l0, X86_ECX) &&
		    host_reg(l, X86_EDX) == host_reg(l0, X86_EDX))
			continue;
		ct_vendor_string(host_reg(l, X86_EBX), host_reg(l, X86_EDX),
				 host_reg(l, X86_ECX), v);
		return rv_fail(err, "CPU vendor mismatch: %s is %s, %s is %s (one template cannot cover both)",
			       names[0], v0, names[i], v);
	}
	return 0;
}

static uint32_t min_field(uint32_t a, uint32_t b, uint32_t field)
{
	return (a & field) < (b & field) ? a & field : b & field;
}

/* The modifier of one register present on every host (l[k]: host k's). */
static struct cpu_reg_modifier merge_reg(const struct cpu_leaf_modifier *const l[],
					 unsigned int n, enum x86_reg r)
{
	uint32_t leaf = l[0]->leaf, subleaf = l[0]->subleaf;
	uint32_t owned = ct_owned_bits(leaf, subleaf, r);
	struct cpu_reg_modifier m = { .reg = r };
	uint32_t and = CT_FULL32, lo = CT_FULL32, lo8 = 0xff, lo16 = 0xff00;

	for (unsigned int k = 0; k < n; k++) {
		uint32_t v = host_reg(l[k], r);

		and &= v;
		lo = v < lo ? v : lo;
		lo8 = min_field(lo8, v, 0xff);
		lo16 = min_field(lo16, v, 0xff00);
	}
	switch (ct_kind_of(leaf, subleaf, r)) {
	case CT_VENDOR:
		m.mask = CT_FULL32;
		m.value = and;   /* equal everywhere (check_vendors) */
		break;
	case CT_MAX:
		m.mask = CT_FULL32;
		m.value = lo;
		break;
	case CT_ADDR_SIZES:
		m.mask = 0xffff;
		m.value = lo8 | lo16;
		break;
	case CT_AND:
		m.mask = ~and;
		m.value = 0;
		break;
	case CT_OTHER:
		break;
	}
	m.mask &= ~owned;
	m.value &= m.mask;
	return m;
}

/* The template's entry for one (leaf, subleaf) key of the union. */
static void merge_leaf(const struct cpu_template *const hosts[], unsigned int n,
		       const struct cpu_leaf_modifier *first,
		       struct cpu_leaf_modifier *out)
{
	const struct cpu_leaf_modifier *l[CPU_TEMPLATE_MAX_HOSTS];
	bool everywhere = true;

	memset(out, 0, sizeof(*out));
	out->leaf = first->leaf;
	out->subleaf = first->subleaf;
	out->flags = first->flags;
	for (unsigned int k = 0; k < n; k++) {
		l[k] = ct_find_leaf(hosts[k], first->leaf, first->subleaf);
		everywhere = everywhere && l[k];
	}
	for (unsigned int r = 0; r < 4; r++) {
		struct cpu_reg_modifier m = { .reg = (enum x86_reg)r,
					      .mask = CT_FULL32 };

		/* Missing somewhere: the guest must not see it anywhere. */
		if (everywhere)
			m = merge_reg(l, n, (enum x86_reg)r);
		if (m.mask)
			out->reg[out->nregs++] = m;
	}
}

/* Capability MSRs are AND-ed; a revision and the VMX MSRs (allowed-0 and
 * allowed-1 halves, where AND is wrong for one of them) are left out. */
static bool msr_left_out(uint32_t addr)
{
	return addr == MSR_IA32_UCODE_REV ||
	       (addr >= MSR_IA32_VMX_FIRST && addr <= MSR_IA32_VMX_LAST);
}

static const struct cpu_msr_modifier *find_msr(const struct cpu_template *t,
					       uint32_t addr)
{
	for (unsigned int i = 0; i < t->nmsrs; i++)
		if (t->msr[i].addr == addr)
			return &t->msr[i];
	return NULL;
}

static void merge_msr(const struct cpu_template *const hosts[], unsigned int n,
		      uint32_t addr, struct cpu_template *out)
{
	uint64_t and = CT_FULL64;
	struct cpu_msr_modifier *m;

	if (msr_left_out(addr) || find_msr(out, addr))
		return;
	for (unsigned int k = 0; k < n; k++) {
		const struct cpu_msr_modifier *h = find_msr(hosts[k], addr);

		and &= h ? h->value : 0;
	}
	if (and == CT_FULL64)
		return;
	if (out->nmsrs >= CPU_TEMPLATE_MAX_MSRS)
		return;   /* refused by the caller */
	m = &out->msr[out->nmsrs++];
	m->addr = addr;
	m->mask = ~and;
	m->value = 0;
}

int x86_cpu_template_intersect(const struct cpu_template *const hosts[],
			       const char *const names[], unsigned int n,
			       struct cpu_template *out, struct rv_err *err)
{
	memset(out, 0, sizeof(*out));
	if (n == 0 || n > CPU_TEMPLATE_MAX_HOSTS)
		return rv_fail(err, "%u features files (1 to %d)", n,
			       CPU_TEMPLATE_MAX_HOSTS);
	for (unsigned int k = 0; k < n; k++)
		if (check_features(hosts[k], names[k], err) < 0)
			return -1;
	if (check_vendors(hosts, names, n, err) < 0)
		return -1;
	for (unsigned int k = 0; k < n; k++) {
		for (unsigned int i = 0; i < hosts[k]->nleaves; i++) {
			const struct cpu_leaf_modifier *l = &hosts[k]->leaf[i];
			struct cpu_leaf_modifier m;

			if (ct_find_leaf(out, l->leaf, l->subleaf))
				continue;
			merge_leaf(hosts, n, l, &m);
			if (!m.nregs)
				continue;
			if (out->nleaves >= CPU_TEMPLATE_MAX_LEAVES)
				return rv_fail(err, "the features files list more than %d CPUID leaves together",
					       CPU_TEMPLATE_MAX_LEAVES);
			out->leaf[out->nleaves++] = m;
		}
		for (unsigned int i = 0; i < hosts[k]->nmsrs; i++) {
			uint32_t addr = hosts[k]->msr[i].addr;

			if (out->nmsrs >= CPU_TEMPLATE_MAX_MSRS &&
			    !find_msr(out, addr) && !msr_left_out(addr))
				return rv_fail(err, "the features files list more than %d feature MSRs together",
					       CPU_TEMPLATE_MAX_MSRS);
			merge_msr(hosts, n, addr, out);
		}
	}
	ct_sort(out);
	return 0;
}
