/* Applying a template to one vCPU: what the host must offer for it, the
 * CPUID it gets, the feature MSR values it gets. */
#include "arch/x86/cpu_template_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASIC_END  0x40000000u   /* first hypervisor leaf */
#define EXT_END    0x8fffffffu

/* Names appended to a one-line list, cut short (with "...") when long. */
struct name_list {
	char buf[384];
	size_t len;
	unsigned int n;
};

static void list_add(struct name_list *l, const char *name)
{
	size_t room = sizeof(l->buf) - l->len;
	int w;

	l->n++;
	if (room < 8)
		return;
	w = snprintf(l->buf + l->len, room, "%s%s", l->len ? ", " : "", name);
	if (w < 0 || (size_t)w >= room - 4) {
		snprintf(l->buf + l->len, room, "%s...", l->len ? ", " : "");
		l->len = sizeof(l->buf) - 1;   /* full: nothing more fits */
		return;
	}
	l->len += (size_t)w;
}

static bool pins_vendor(const struct cpu_leaf_modifier *l0)
{
	static const enum x86_reg regs[] = { X86_EBX, X86_ECX, X86_EDX };

	for (unsigned int i = 0; i < 3; i++) {
		const struct cpu_reg_modifier *m = ct_find_reg(l0, regs[i]);

		if (!m || m->mask != CT_FULL32)
			return false;
	}
	return true;
}

static int check_vendor(const struct cpu_template *t,
			const struct x86_cpuid *host, struct rv_err *err)
{
	const struct cpu_leaf_modifier *l0 = ct_find_leaf(t, 0, 0);
	const struct kvm_cpuid_entry2 *h0 = ct_cpuid_find(host, 0, 0);
	uint32_t b, c, d;
	char want[13], have[13];

	if (!l0 || !pins_vendor(l0) || ct_leaf_is_zeroed(l0))
		return 0;
	if (!h0)
		return rv_fail(err, "this host's KVM reports no CPUID leaf 0");
	b = ct_find_reg(l0, X86_EBX)->value;
	c = ct_find_reg(l0, X86_ECX)->value;
	d = ct_find_reg(l0, X86_EDX)->value;
	if (b == h0->ebx && c == h0->ecx && d == h0->edx)
		return 0;
	ct_vendor_string(b, d, c, want);
	ct_vendor_string(h0->ebx, h0->edx, h0->ecx, have);
	return rv_fail(err, "the CPU template is for %s CPUs, this host is %s",
		       want, have);
}

static const char *max_what(uint32_t leaf)
{
	if (leaf == 0)
		return "maximum basic CPUID leaf";
	if (leaf == CT_LEAF_MAX_EXT)
		return "maximum extended CPUID leaf";
	return "maximum subleaf of CPUID leaf 7";
}

/* One register: forced '1' feature bits the host lacks go to `lacking`;
 * a maximum above the host's is refused at once. */
static int check_reg(const struct cpu_leaf_modifier *l,
		     const struct cpu_reg_modifier *m,
		     const struct x86_cpuid *host, struct name_list *lacking,
		     struct rv_err *err)
{
	uint32_t f = m->mask & ~ct_owned_bits(l->leaf, l->subleaf, m->reg);
	const struct kvm_cpuid_entry2 *h = ct_cpuid_find(host, l->leaf,
							  l->subleaf);
	uint32_t hv = h ? x86_cpuid_reg(h, m->reg) : 0;
	uint32_t v = (hv & ~f) | (m->value & f);
	char name[64];

	switch (ct_kind_of(l->leaf, l->subleaf, m->reg)) {
	case CT_AND:
		for (unsigned int bit = 0; bit < 32; bit++) {
			if (!(m->value & f & ~hv & 1u << bit))
				continue;
			ct_bit_name(l->leaf, l->subleaf, m->reg, bit, name,
				    sizeof(name));
			list_add(lacking, name);
		}
		return 0;
	case CT_MAX:
		if (v > hv)
			return rv_fail(err, "the CPU template's %s %#x is above this host's %#x",
				       max_what(l->leaf), v, hv);
		return 0;
	case CT_ADDR_SIZES:
		if ((v & 0xff) > (hv & 0xff))
			return rv_fail(err, "the CPU template's %u physical address bits are more than this host's %u",
				       v & 0xff, hv & 0xff);
		if ((v & 0xff00) > (hv & 0xff00))
			return rv_fail(err, "the CPU template's %u linear address bits are more than this host's %u",
				       (v >> 8) & 0xff, (hv >> 8) & 0xff);
		return 0;
	default:
		return 0;
	}
}

static int check_cpuid(const struct cpu_template *t,
		       const struct x86_cpuid *host, struct rv_err *err)
{
	struct name_list lacking = { .len = 0 };

	if (check_vendor(t, host, err) < 0)
		return -1;
	for (unsigned int i = 0; i < t->nleaves; i++) {
		const struct cpu_leaf_modifier *l = &t->leaf[i];

		for (unsigned int j = 0; j < l->nregs; j++)
			if (check_reg(l, &l->reg[j], host, &lacking, err) < 0)
				return -1;
	}
	if (lacking.n)
		return rv_fail(err, "this host lacks %u CPU feature%s the CPU template requires: %s",
			       lacking.n, lacking.n == 1 ? "" : "s",
			       lacking.buf);
	return 0;
}

static int check_msrs(const struct cpu_template *t,
		      const struct x86_msr_values *host, struct rv_err *err)
{
	for (unsigned int i = 0; i < t->nmsrs; i++) {
		const struct cpu_msr_modifier *m = &t->msr[i];
		const struct kvm_msr_entry *h = ct_find_msr(host, m->addr);
		uint64_t lack = m->value & ~(h ? h->data : 0);
		struct name_list bits = { .len = 0 };

		if (!lack)
			continue;
		if (!h)
			return rv_fail(err, "the CPU template sets bits of MSR %#x, which is not a feature MSR of this host",
				       m->addr);
		for (unsigned int bit = 0; bit < 64; bit++) {
			char num[4];

			if (!(lack >> bit & 1))
				continue;
			snprintf(num, sizeof(num), "%u", bit);
			list_add(&bits, num);
		}
		return rv_fail(err, "the CPU template sets MSR %#x bit%s %s, which this host lacks",
			       m->addr, bits.n == 1 ? "" : "s", bits.buf);
	}
	return 0;
}

int x86_cpu_template_check_host(const struct cpu_template *t,
				const struct x86_cpuid *host_supported,
				const struct x86_msr_values *host_msrs,
				struct rv_err *err)
{
	if (check_cpuid(t, host_supported, err) < 0)
		return -1;
	return host_msrs ? check_msrs(t, host_msrs, err) : 0;
}

/* A leaf forced to zero: subleaf 0 stands for the whole leaf (KVM lists
 * subleaf 0 of every leaf it lists). */
static void remove_leaf(struct x86_cpuid *c, uint32_t leaf, uint32_t subleaf)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < c->head.nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entry[i];
		bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

		if (e->function == leaf &&
		    (subleaf == 0 || (indexed && e->index == subleaf)))
			continue;
		c->entry[out++] = *e;
	}
	c->head.nent = out;
}

static int apply_leaf(struct x86_cpuid *c, const struct cpu_leaf_modifier *l,
		      struct rv_err *err)
{
	struct kvm_cpuid_entry2 *e = x86_cpuid_find(c, l->leaf, l->subleaf);

	if (!e) {
		uint32_t ones = 0;

		for (unsigned int j = 0; j < l->nregs; j++)
			ones |= l->reg[j].value & ~ct_owned_bits(l->leaf,
						l->subleaf, l->reg[j].reg);
		if (!ones)
			return 0;   /* zeros where there is nothing */
		if (c->head.nent >= X86_CPUID_MAX_ENTRIES)
			return rv_fail(err, "CPUID table full (%d entries) adding leaf %#x for the CPU template",
				       X86_CPUID_MAX_ENTRIES, l->leaf);
		e = &c->entry[c->head.nent++];
		memset(e, 0, sizeof(*e));
		e->function = l->leaf;
		e->index = l->subleaf;
		e->flags = l->flags;
	}
	for (unsigned int j = 0; j < l->nregs; j++) {
		const struct cpu_reg_modifier *m = &l->reg[j];
		uint32_t f = m->mask & ~ct_owned_bits(l->leaf, l->subleaf,
						      m->reg);

		ct_reg_set(e, m->reg, (x86_cpuid_reg(e, m->reg) & ~f) |
			   (m->value & f));
	}
	return 0;
}

/* Maximums so low that leaf 1 (x86_cpuid_shape's) or 0x80000001 (long
 * mode) would go are a broken template, not a smaller CPU. */
static int check_max(const struct x86_cpuid *c, struct rv_err *err)
{
	const struct kvm_cpuid_entry2 *e0 = ct_cpuid_find(c, 0, 0);
	const struct kvm_cpuid_entry2 *e8 = ct_cpuid_find(c, CT_LEAF_MAX_EXT, 0);

	if (!e0 || e0->eax < 1)
		return rv_fail(err, "the CPU template's maximum basic CPUID leaf %#x leaves out leaf 1",
			       e0 ? e0->eax : 0);
	if (e8 && ct_cpuid_find(c, 0x80000001, 0) && e8->eax < 0x80000001)
		return rv_fail(err, "the CPU template's maximum extended CPUID leaf %#x leaves out leaf 0x80000001 (long mode)",
			       e8->eax);
	return 0;
}

/* A guest reads the maximum leaves to know what exists: nothing above. */
static void drop_above_max(struct x86_cpuid *c)
{
	const struct kvm_cpuid_entry2 *e0 = ct_cpuid_find(c, 0, 0);
	const struct kvm_cpuid_entry2 *e8 = ct_cpuid_find(c, CT_LEAF_MAX_EXT, 0);
	uint32_t max = e0 ? e0->eax : 0;
	uint32_t max_ext = e8 ? e8->eax : CT_LEAF_MAX_EXT;
	unsigned int out = 0;

	for (unsigned int i = 0; i < c->head.nent; i++) {
		uint32_t f = c->entry[i].function;

		if (f < BASIC_END && f > max)
			continue;
		if (f > CT_LEAF_MAX_EXT && f <= EXT_END && f > max_ext)
			continue;
		c->entry[out++] = c->entry[i];
	}
	c->head.nent = out;
}

int x86_cpu_template_apply(const struct cpu_template *t, struct x86_cpuid *c,
			   const struct x86_cpuid *host_supported,
			   struct rv_err *err)
{
	struct x86_cpuid *work;

	if (c->head.nent > X86_CPUID_MAX_ENTRIES)
		return rv_fail(err, "CPUID: %u entries (at most %d)",
			       c->head.nent, X86_CPUID_MAX_ENTRIES);
	if (check_cpuid(t, host_supported, err) < 0)
		return -1;
	for (uint32_t leaf = 0; leaf <= 1; leaf++) {
		const struct cpu_leaf_modifier *l = ct_find_leaf(t, leaf, 0);

		if (l && ct_leaf_is_zeroed(l))
			return rv_fail(err, "the CPU template removes CPUID leaf %u, which every guest needs",
				       leaf);
	}
	/* On a copy: c stays as it was if anything fails. */
	work = malloc(sizeof(*work));
	if (!work)
		return rv_fail(err, "out of memory applying the CPU template");
	memcpy(work, c, sizeof(*work));
	for (unsigned int i = 0; i < t->nleaves; i++) {
		const struct cpu_leaf_modifier *l = &t->leaf[i];

		if (ct_leaf_is_zeroed(l)) {
			remove_leaf(work, l->leaf, l->subleaf);
		} else if (apply_leaf(work, l, err) < 0) {
			free(work);
			return -1;
		}
	}
	if (check_max(work, err) < 0) {
		free(work);
		return -1;
	}
	drop_above_max(work);
	memcpy(c, work, sizeof(*work));
	free(work);
	return 0;
}

int x86_cpu_template_msr_values(const struct cpu_template *t,
				const struct x86_msr_values *host,
				struct x86_msr_values *out, struct rv_err *err)
{
	memset(out, 0, sizeof(*out));
	if (check_msrs(t, host, err) < 0)
		return -1;
	for (unsigned int i = 0; i < t->nmsrs; i++) {
		const struct cpu_msr_modifier *m = &t->msr[i];
		const struct kvm_msr_entry *h = ct_find_msr(host, m->addr);
		struct kvm_msr_entry *e;

		if (!h)
			continue;   /* forced to 0: absent is the same */
		e = &out->entry[out->head.nmsrs++];
		e->index = m->addr;
		e->data = (h->data & ~m->mask) | m->value;
	}
	return 0;
}
