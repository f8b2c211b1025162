/* Boot-time vCPU state: the GDT and page tables ringvm writes into guest
 * memory (decoded here the way the CPU reads them), the register values for
 * each boot protocol, the guest page walk and the crash dump. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/regs.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void map_low(struct guest_mem *gm, uint64_t size)
{
	struct guest_region r = { .gpa = 0, .size = size };
	struct rv_err err;

	if (guest_mem_map(gm, &r, 1, &err))
		fail_msg("%s", err.msg);
}

static uint64_t rd64(const struct guest_mem *gm, uint64_t gpa)
{
	uint64_t v;

	assert_int_equal(guest_mem_read(gm, gpa, &v, 8), 0);
	return v;
}

static void wr64(const struct guest_mem *gm, uint64_t gpa, uint64_t v)
{
	assert_int_equal(guest_mem_write(gm, gpa, &v, 8), 0);
}

static void wr32(const struct guest_mem *gm, uint64_t gpa, uint32_t v)
{
	assert_int_equal(guest_mem_write(gm, gpa, &v, 4), 0);
}

/* The CPU's 4-level walk, written out for the boot tables: returns the
 * physical address, or ~0 when some level is not present. */
static uint64_t cpu_walk(const struct guest_mem *gm, uint64_t cr3, uint64_t va)
{
	const uint64_t addr = 0x000ffffffffff000ULL;
	uint64_t e;

	e = rd64(gm, (cr3 & addr) + ((va >> 39) & 511) * 8);
	if (!(e & 1))
		return ~0ULL;
	assert_true(e & 2);              /* writable */
	assert_false(e & 0x80);          /* PS is reserved in a PML4E */
	e = rd64(gm, (e & addr) + ((va >> 30) & 511) * 8);
	if (!(e & 1))
		return ~0ULL;
	assert_true(e & 2);
	assert_false(e & 0x80);          /* no 1 GiB pages: not every CPU has them */
	e = rd64(gm, (e & addr) + ((va >> 21) & 511) * 8);
	if (!(e & 1))
		return ~0ULL;
	assert_true(e & 2);
	assert_true(e & 0x80);           /* 2 MiB page */
	assert_int_equal(e & 0x1fe000, 0); /* reserved bits of a 2 MiB PDE */
	return (e & 0x000fffffffe00000ULL) | (va & 0x1fffff);
}

static void test_page_tables_identity(void **state)
{
	static const uint64_t probes[] = {
		0, 0x1000, MiB + 0x200, 0x3fffffff, GiB, 3 * GiB,
		3 * GiB + 0x12345, X86_LAPIC_GPA + 0x30, 4 * GiB - 1,
	};
	struct guest_mem gm;
	struct rv_err err;
	struct kvm_sregs s;

	(void)state;
	map_low(&gm, 2 * MiB);
	/* Leftovers from a previous boot must not survive. */
	memset(gm.region[0].hva, 0xff, 0x10000);
	assert_int_equal(x86_boot_write_tables(&gm, &err), 0);

	for (unsigned int i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		assert_int_equal(cpu_walk(&gm, X86_PML4_GPA, probes[i]), probes[i]);
	/* All 2048 large pages, and nothing at or above 4 GiB. */
	for (uint64_t va = 0; va < 4 * GiB; va += 2 * MiB)
		assert_int_equal(cpu_walk(&gm, X86_PML4_GPA, va + 7), va + 7);
	assert_int_equal(cpu_walk(&gm, X86_PML4_GPA, 4 * GiB), ~0ULL);
	assert_int_equal(cpu_walk(&gm, X86_PML4_GPA, 0xffffffff80000000ULL), ~0ULL);
	for (unsigned int i = 1; i < 512; i++)
		assert_int_equal(rd64(&gm, X86_PML4_GPA + i * 8), 0);
	for (unsigned int i = 4; i < 512; i++)
		assert_int_equal(rd64(&gm, X86_PDPT_GPA + i * 8), 0);

	/* The library walker agrees with the CPU's view. */
	memset(&s, 0, sizeof(s));
	x86_boot_fill_sregs(&s, X86_BOOT_LINUX64);
	for (unsigned int i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t gpa = 0;

		assert_int_equal(x86_gva_to_gpa(&gm, &s, probes[i], &gpa), 0);
		assert_int_equal(gpa, probes[i]);
	}
	{
		uint64_t gpa;

		assert_int_equal(x86_gva_to_gpa(&gm, &s, 4 * GiB, &gpa), -1);
	}
	guest_mem_unmap(&gm);
}

static void test_tables_need_memory(void **state)
{
	struct guest_mem gm;
	struct guest_region high = { .gpa = MiB, .size = MiB };
	struct rv_err err;

	(void)state;
	map_low(&gm, 0x1000);  /* room for the GDT only */
	err.msg[0] = 0;
	assert_int_equal(x86_boot_write_tables(&gm, &err), -1);
	assert_non_null(strstr(err.msg, "PML4"));
	guest_mem_unmap(&gm);

	map_low(&gm, 0xe000);  /* the fourth page directory is missing */
	assert_int_equal(x86_boot_write_tables(&gm, &err), -1);
	assert_non_null(strstr(err.msg, "page directory"));
	guest_mem_unmap(&gm);

	map_low(&gm, 0xf000);  /* just enough */
	assert_int_equal(x86_boot_write_tables(&gm, &err), 0);
	guest_mem_unmap(&gm);

	assert_int_equal(guest_mem_map(&gm, &high, 1, &err), 0);
	assert_int_equal(x86_boot_write_tables(&gm, &err), -1);
	assert_non_null(strstr(err.msg, "GDT"));
	guest_mem_unmap(&gm);
}

struct desc {
	uint32_t base, limit; /* limit in bytes, granularity applied */
	unsigned int type, s, dpl, p, avl, l, d, g;
};

/* Intel SDM vol. 3A figure 3-8, decoded independently of gdt.h. */
static struct desc decode(uint64_t v)
{
	struct desc d;
	uint32_t lim = (uint32_t)(v & 0xffff) | (uint32_t)((v >> 32) & 0xf0000);

	d.base = (uint32_t)((v >> 16) & 0xffffff) | (uint32_t)((v >> 32) & 0xff000000);
	d.type = (v >> 40) & 0xf;
	d.s = (v >> 44) & 1;
	d.dpl = (v >> 45) & 3;
	d.p = (v >> 47) & 1;
	d.avl = (v >> 52) & 1;
	d.l = (v >> 53) & 1;
	d.d = (v >> 54) & 1;
	d.g = (v >> 55) & 1;
	d.limit = d.g ? (lim << 12) | 0xfff : lim;
	return d;
}

static void assert_flat(struct desc d, unsigned int type, unsigned int l,
			unsigned int db)
{
	assert_int_equal(d.base, 0);
	assert_int_equal(d.limit, 0xffffffffu);
	assert_int_equal(d.type, type);
	assert_int_equal(d.s, 1);
	assert_int_equal(d.dpl, 0);
	assert_int_equal(d.p, 1);
	assert_int_equal(d.g, 1);
	assert_int_equal(d.l, l);
	assert_int_equal(d.d, db);
}

/* The hidden segment state KVM gets must be what the CPU would load from
 * the GDT in guest memory for that selector. */
static void assert_seg_matches_gdt(const struct guest_mem *gm,
				   const struct kvm_sregs *s,
				   const struct kvm_segment *seg)
{
	struct desc d;

	assert_true(seg->selector + 7u <= s->gdt.limit);
	d = decode(rd64(gm, s->gdt.base + seg->selector));
	assert_int_equal(seg->base, d.base);
	assert_int_equal(seg->limit, d.limit);
	assert_int_equal(seg->type, d.type);
	assert_int_equal(seg->s, d.s);
	assert_int_equal(seg->dpl, d.dpl);
	assert_int_equal(seg->present, d.p);
	assert_int_equal(seg->l, d.l);
	assert_int_equal(seg->db, d.d);
	assert_int_equal(seg->g, d.g);
	assert_int_equal(seg->unusable, 0);
}

static void test_gdt(void **state)
{
	struct guest_mem gm;
	struct rv_err err;
	struct desc tss;

	(void)state;
	map_low(&gm, 2 * MiB);
	memset(gm.region[0].hva, 0xaa, 0x1000);
	assert_int_equal(x86_boot_write_tables(&gm, &err), 0);
	assert_int_equal(rd64(&gm, X86_GDT_GPA), 0);
	assert_flat(decode(rd64(&gm, X86_GDT_GPA + 0x08)), 0xb, 0, 1);
	assert_flat(decode(rd64(&gm, X86_GDT_GPA + 0x10)), 0xb, 1, 0);
	assert_flat(decode(rd64(&gm, X86_GDT_GPA + 0x18)), 0x3, 0, 1);
	tss = decode(rd64(&gm, X86_GDT_GPA + 0x20));
	assert_int_equal(tss.base, 0);
	assert_int_equal(tss.limit, 0x67);
	assert_int_equal(tss.type, 0xb);  /* busy TSS */
	assert_int_equal(tss.s, 0);
	assert_int_equal(tss.p, 1);
	assert_int_equal(tss.g, 0);
	/* Upper half of a long-mode system descriptor: base[63:32] = 0. */
	assert_int_equal(rd64(&gm, X86_GDT_GPA + 0x28), 0);

	for (int m = 0; m < 2; m++) {
		struct kvm_sregs s;

		memset(&s, 0, sizeof(s));
		x86_boot_fill_sregs(&s, m ? X86_BOOT_PVH : X86_BOOT_LINUX64);
		assert_int_equal(s.gdt.base, X86_GDT_GPA);
		assert_int_equal(s.gdt.limit, 6 * 8 - 1);
		assert_seg_matches_gdt(&gm, &s, &s.cs);
		assert_seg_matches_gdt(&gm, &s, &s.ds);
		assert_seg_matches_gdt(&gm, &s, &s.es);
		assert_seg_matches_gdt(&gm, &s, &s.fs);
		assert_seg_matches_gdt(&gm, &s, &s.gs);
		assert_seg_matches_gdt(&gm, &s, &s.ss);
		assert_seg_matches_gdt(&gm, &s, &s.tr);
	}
	guest_mem_unmap(&gm);
}

static void prefill(struct kvm_sregs *s)
{
	memset(s, 0x5a, sizeof(*s));
	s->apic_base = 0xfee00900;
	s->interrupt_bitmap[0] = 0x1234;
}

static void test_sregs_linux64(void **state)
{
	struct kvm_sregs s;

	(void)state;
	prefill(&s);
	x86_boot_fill_sregs(&s, X86_BOOT_LINUX64);
	/* Documentation/x86/boot.rst, 64-bit boot protocol. */
	assert_int_equal(s.cr0 & (X86_CR0_PE | X86_CR0_PG),
			 X86_CR0_PE | X86_CR0_PG);
	assert_int_equal(s.cr0 & ((1ULL << 30) | (1ULL << 29)), 0); /* CD, NW */
	assert_int_equal(s.cr3, X86_PML4_GPA);
	assert_int_equal(s.cr4, X86_CR4_PAE);
	assert_int_equal(s.efer, X86_EFER_LME | X86_EFER_LMA);
	assert_int_equal(s.cr2, 0);
	assert_int_equal(s.cr8, 0);
	assert_int_equal(s.cs.selector, 0x10);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0);
	assert_int_equal(s.cs.type, 0xb);
	assert_int_equal(s.ds.selector, 0x18);
	assert_int_equal(s.es.selector, 0x18);
	assert_int_equal(s.ss.selector, 0x18);
	assert_int_equal(s.fs.selector, 0x18);
	assert_int_equal(s.gs.selector, 0x18);
	assert_int_equal(s.ss.type, 0x3);
	assert_int_equal(s.ss.db, 1);
	assert_int_equal(s.tr.selector, 0x20);
	assert_int_equal(s.tr.type, 0xb);
	assert_int_equal(s.tr.s, 0);
	assert_int_equal(s.tr.present, 1);
	assert_int_equal(s.ldt.selector, 0);
	assert_int_equal(s.idt.base, 0);
	assert_int_equal(s.idt.limit, 0);
	/* KVM's own state is left alone. */
	assert_int_equal(s.apic_base, 0xfee00900);
	assert_int_equal(s.interrupt_bitmap[0], 0x1234);
}

static void test_sregs_pvh(void **state)
{
	struct kvm_sregs s;

	(void)state;
	prefill(&s);
	x86_boot_fill_sregs(&s, X86_BOOT_PVH);
	/* Xen PVH: PE only (ET reads as one), CR4 clear, no long mode. */
	assert_int_equal(s.cr0, X86_CR0_PE | X86_CR0_ET);
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.cs.selector, 0x08);
	assert_int_equal(s.cs.l, 0);
	assert_int_equal(s.cs.db, 1);
	assert_int_equal(s.cs.base, 0);
	assert_int_equal(s.cs.limit, 0xffffffffu);
	assert_int_equal(s.ds.selector, 0x18);
	assert_int_equal(s.ds.limit, 0xffffffffu);
	assert_int_equal(s.es.selector, 0x18);
	assert_int_equal(s.ss.selector, 0x18);
	assert_int_equal(s.tr.base, 0);
	assert_int_equal(s.tr.limit, 0x67);
	assert_int_equal(s.tr.type, 0xb);
	assert_int_equal(s.apic_base, 0xfee00900);
}

static void test_regs_per_mode(void **state)
{
	struct x86_boot_info lin = { .mode = X86_BOOT_LINUX64,
				     .entry = 0x1000200,
				     .params_gpa = X86_BOOT_PARAMS_GPA };
	struct x86_boot_info pvh = { .mode = X86_BOOT_PVH, .entry = 0x1000000,
				     .params_gpa = X86_PVH_START_GPA };
	struct kvm_regs r;

	(void)state;
	memset(&r, 0x77, sizeof(r));
	x86_boot_fill_regs(&r, &lin);
	assert_int_equal(r.rip, 0x1000200);
	assert_int_equal(r.rsi, X86_BOOT_PARAMS_GPA);
	assert_int_equal(r.rflags, 2);  /* IF, TF, VM clear */
	assert_int_equal(r.rbx, 0);
	assert_int_equal(r.rax, 0);
	assert_int_equal(r.r15, 0);

	memset(&r, 0x77, sizeof(r));
	x86_boot_fill_regs(&r, &pvh);
	assert_int_equal(r.rip, 0x1000000);
	assert_int_equal(r.rbx, X86_PVH_START_GPA);
	assert_int_equal(r.rsi, 0);
	assert_int_equal(r.rflags, 2);

	/* The stack sits between the zero page and the page tables and is
	 * 16-byte aligned. */
	assert_true(r.rsp > X86_BOOT_PARAMS_GPA + 0x1000);
	assert_true(r.rsp <= X86_PML4_GPA);
	assert_int_equal(r.rsp & 15, 0);
}

static void test_reset_values(void **state)
{
	struct kvm_msr_entry e[X86_RESET_MSRS_MAX];
	struct kvm_fpu fpu;
	unsigned int n;
	bool misc = false, mtrr = false;

	(void)state;
	n = x86_reset_msrs(e, X86_RESET_MSRS_MAX);
	assert_true(n >= 2 && n <= X86_RESET_MSRS_MAX);
	for (unsigned int i = 0; i < n; i++) {
		if (e[i].index == X86_MSR_IA32_MISC_ENABLE) {
			assert_true(e[i].data & 1);  /* fast strings */
			/* BTS and PEBS unavailable, as KVM resets it. */
			assert_int_equal(e[i].data & 0x1800, 0x1800);
			misc = true;
		}
		if (e[i].index == X86_MSR_MTRR_DEF_TYPE) {
			/* Enabled, default type write-back. */
			assert_int_equal(e[i].data, 0x806);
			mtrr = true;
		}
		assert_int_equal(e[i].reserved, 0);
	}
	assert_true(misc && mtrr);
	assert_int_equal(x86_reset_msrs(e, 1), 1);
	assert_int_equal(x86_reset_msrs(e, 0), 0);

	memset(&fpu, 0xee, sizeof(fpu));
	x86_fpu_reset(&fpu);
	assert_int_equal(fpu.fcw, 0x37f);
	assert_int_equal(fpu.mxcsr, 0x1f80);
	assert_int_equal(fpu.fsw, 0);
	assert_int_equal(fpu.ftwx, 0);  /* abridged tag: all empty */
}

static void xcr0_table(struct x86_cpuid *c, uint32_t ecx1, bool leaf_d,
		       uint32_t eax_d)
{
	memset(c, 0, sizeof(*c));
	c->entry[0].function = 1;
	c->entry[0].ecx = ecx1;
	c->head.nent = 1;
	if (leaf_d) {
		c->entry[1].function = 0xd;
		c->entry[1].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		c->entry[1].eax = eax_d;
		c->entry[2].function = 0xd;
		c->entry[2].index = 1;
		c->entry[2].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		c->entry[2].eax = 0xffffffff;  /* sub-leaf 1 must not be used */
		c->head.nent = 3;
	}
}

static void test_xcr0(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));
	const uint32_t xsave = 1u << 26;

	(void)state;
	assert_non_null(c);
	xcr0_table(c, xsave, true, 0x2e7);
	assert_int_equal(x86_xcr0_for(c), 7);
	xcr0_table(c, xsave, true, 3);
	assert_int_equal(x86_xcr0_for(c), 3);
	xcr0_table(c, xsave, true, 5);  /* AVX without SSE is invalid */
	assert_int_equal(x86_xcr0_for(c), 1);
	xcr0_table(c, 0, true, 7);      /* no XSAVE: leave XCR0 alone */
	assert_int_equal(x86_xcr0_for(c), 0);
	xcr0_table(c, xsave, false, 0);
	assert_int_equal(x86_xcr0_for(c), 0);
	xcr0_table(c, xsave, true, 7);
	c->head.nent = 100000;          /* corrupt count: stays in bounds */
	assert_int_equal(x86_xcr0_for(c), 7);
	free(c);
}

/* Hand-built tables for the other paging modes. */
static void test_walk_modes(void **state)
{
	struct guest_mem gm;
	struct kvm_sregs s;
	uint64_t gpa;

	(void)state;
	map_low(&gm, 2 * MiB);

	/* Paging off: linear = physical, truncated to 32 bits. */
	memset(&s, 0, sizeof(s));
	s.cr0 = X86_CR0_PE;
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x1234567, &gpa), 0);
	assert_int_equal(gpa, 0x1234567);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x100001234ULL, &gpa), 0);
	assert_int_equal(gpa, 0x1234);

	/* 32-bit paging: PD at 0x10000, PT at 0x11000. */
	memset(&s, 0, sizeof(s));
	s.cr0 = X86_CR0_PE | X86_CR0_PG;
	s.cr3 = 0x10000;
	s.cr4 = X86_CR4_PSE;
	wr32(&gm, 0x10000 + (0xc0000000u >> 22) * 4, 0x11000 | 3);
	wr32(&gm, 0x11000 + 5 * 4, 0x55000 | 3);
	wr32(&gm, 0x10000 + 1 * 4, 0x00c00000 | 0x83);  /* 4 MiB page */
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0xc0005abc, &gpa), 0);
	assert_int_equal(gpa, 0x55abc);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x00412345, &gpa), 0);
	assert_int_equal(gpa, 0x00c12345);
	/* PSE-36: physical address bits 39:32 in PDE bits 20:13. */
	wr32(&gm, 0x10000 + 2 * 4, 0x00400000 | (0x3u << 13) | 0x83);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x00812345, &gpa), 0);
	assert_int_equal(gpa, 0x300412345ULL);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0xc0006000, &gpa), -1);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x80000000, &gpa), -1);

	/* PAE: PDPT at 0x12020 (32-byte aligned), PD at 0x13000. */
	memset(&s, 0, sizeof(s));
	s.cr0 = X86_CR0_PE | X86_CR0_PG;
	s.cr3 = 0x12020;
	s.cr4 = X86_CR4_PAE;
	wr64(&gm, 0x12020 + 2 * 8, 0x13000 | 1);
	wr64(&gm, 0x13000 + 3 * 8, 0x7600000ULL | 0x83);  /* 2 MiB */
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x80612345, &gpa), 0);
	assert_int_equal(gpa, 0x7612345);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x40000000, &gpa), -1);

	/* 4-level with a 1 GiB page and NX set; then 5-level. */
	memset(&s, 0, sizeof(s));
	s.cr0 = X86_CR0_PE | X86_CR0_PG;
	s.cr4 = X86_CR4_PAE;
	s.efer = X86_EFER_LME | X86_EFER_LMA;
	s.cr3 = 0x20000;
	wr64(&gm, 0x20000 + 511 * 8, 0x21000 | 3);
	wr64(&gm, 0x21000 + 510 * 8, (1ULL << 63) | 0x40000000ULL | 0x83);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0xffffffff80123456ULL, &gpa), 0);
	assert_int_equal(gpa, 0x40123456);
	s.cr4 |= X86_CR4_LA57;
	s.cr3 = 0x22000;
	wr64(&gm, 0x22000 + 0, 0x20000 | 3);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x0000ffff80123456ULL, &gpa), 0);
	assert_int_equal(gpa, 0x40123456);

	guest_mem_unmap(&gm);
}

/* Garbage tables: entries pointing outside guest memory, at themselves,
 * CR3 beyond memory. The walk ends (fixed depth) and fails cleanly. */
static void test_walk_hostile(void **state)
{
	struct guest_mem gm;
	struct kvm_sregs s;
	uint64_t gpa;

	(void)state;
	map_low(&gm, 2 * MiB);
	memset(&s, 0, sizeof(s));
	s.cr0 = X86_CR0_PE | X86_CR0_PG;
	s.cr4 = X86_CR4_PAE;
	s.efer = X86_EFER_LMA;

	s.cr3 = 0xfffffffff000ULL;
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0, &gpa), -1);
	s.cr3 = 2 * MiB - 4;  /* low bits ignored: table at 2 MiB - 4 KiB */
	wr64(&gm, 2 * MiB - 0x1000, 0x000ffffffffff000ULL | 3);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0, &gpa), -1);
	/* Self-map: every level points back at the same page. */
	s.cr3 = 0x30000;
	wr64(&gm, 0x30000, 0x30000 | 3);
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0x123, &gpa), 0);
	assert_int_equal(gpa, 0x30123);
	/* Legacy 32-bit with CR3 at the last bytes of memory. */
	s.efer = 0;
	s.cr4 = 0;
	s.cr3 = 2 * MiB - 0x1000;
	assert_int_equal(x86_gva_to_gpa(&gm, &s, 0xfffff000, &gpa), -1);
	guest_mem_unmap(&gm);
}

static char *dump_to_string(const struct kvm_regs *r, const struct kvm_sregs *s,
			    const struct guest_mem *gm)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	x86_dump_state(f, r, s, gm);
	fclose(f);
	assert_non_null(buf);
	return buf;
}

static void test_dump_boot_state(void **state)
{
	static const uint8_t code[20] = { 0xf4, 0xeb, 0xfe, 0x90, 0x0f, 0x0b };
	struct x86_boot_info bi = { .mode = X86_BOOT_LINUX64, .entry = 0x100000,
				    .params_gpa = X86_BOOT_PARAMS_GPA };
	struct guest_mem gm;
	struct kvm_sregs s;
	struct kvm_regs r;
	struct rv_err err;
	char *out;

	(void)state;
	map_low(&gm, 2 * MiB);
	assert_int_equal(x86_boot_write_tables(&gm, &err), 0);
	assert_int_equal(guest_mem_write(&gm, 0x100000, code, sizeof(code)), 0);
	memset(&s, 0, sizeof(s));
	x86_boot_fill_sregs(&s, X86_BOOT_LINUX64);
	x86_boot_fill_regs(&r, &bi);
	r.rax = 0xdeadbeefcafef00dULL;

	out = dump_to_string(&r, &s, &gm);
	assert_non_null(strstr(out, "RAX=deadbeefcafef00d"));
	assert_non_null(strstr(out, "RIP=0000000000100000"));
	assert_non_null(strstr(out, "RSI=0000000000007000"));
	assert_non_null(strstr(out, "CS  sel=0010"));
	assert_non_null(strstr(out, "l=1"));
	assert_non_null(strstr(out, "CR3=0000000000009000"));
	assert_non_null(strstr(out, "EFER=0000000000000500"));
	assert_non_null(strstr(out, "GDT base=0000000000000500 limit=002f"));
	assert_non_null(strstr(out, "64-bit mode"));
	assert_non_null(strstr(out, "f4 eb fe 90 0f 0b 00"));
	free(out);

	/* RIP 3 bytes before the end of guest memory: only 3 code bytes. */
	r.rip = 2 * MiB - 3;
	guest_mem_write(&gm, r.rip, code, 3);
	out = dump_to_string(&r, &s, &gm);
	assert_non_null(strstr(out, ": f4 eb fe\n"));
	free(out);

	/* RIP mapped by no page table. */
	r.rip = 0xffffffff81000000ULL;
	out = dump_to_string(&r, &s, &gm);
	assert_non_null(strstr(out, "not mapped"));
	free(out);

	/* PVH, paging off: code read at cs.base + eip. */
	bi.mode = X86_BOOT_PVH;
	x86_boot_fill_sregs(&s, X86_BOOT_PVH);
	x86_boot_fill_regs(&r, &bi);
	out = dump_to_string(&r, &s, &gm);
	assert_non_null(strstr(out, "32-bit protected mode, paging off"));
	assert_non_null(strstr(out, "RBX=0000000000007000"));
	assert_non_null(strstr(out, "f4 eb fe 90"));
	free(out);

	/* Registers unreadable, memory unknown: still a report. */
	out = dump_to_string(NULL, &s, NULL);
	assert_non_null(strstr(out, "not readable"));
	assert_non_null(strstr(out, "CR0="));
	free(out);
	out = dump_to_string(&r, NULL, &gm);
	assert_non_null(strstr(out, "RIP="));
	free(out);
	guest_mem_unmap(&gm);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Whatever the guest left in its registers and memory, the dump finishes
 * (ASan/UBSan watch every access). */
static void test_dump_garbage(void **state)
{
	struct guest_mem gm;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	FILE *null = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(null);
	map_low(&gm, 2 * MiB);
	for (uint64_t *p = (uint64_t *)gm.region[0].hva;
	     p < (uint64_t *)(gm.region[0].hva + 2 * MiB); p++)
		*p = xorshift(&x) & 0x00000000001ff0ffULL; /* mostly in range */
	for (int i = 0; i < 5000; i++) {
		struct kvm_regs r;
		struct kvm_sregs s;

		for (uint8_t *b = (uint8_t *)&r; b < (uint8_t *)(&r + 1); b++)
			*b = (uint8_t)xorshift(&x);
		for (uint8_t *b = (uint8_t *)&s; b < (uint8_t *)(&s + 1); b++)
			*b = (uint8_t)xorshift(&x);
		if (i & 1) {
			r.rip &= 0x1fffff;
			s.cr3 &= 0x1ff000;
		}
		x86_dump_state(null, &r, &s, &gm);
	}
	fclose(null);
	guest_mem_unmap(&gm);
}

/* Without /dev/kvm the ioctl paths can still be checked for their error
 * reporting: a bad fd yields one line naming the ioctl. */
static void test_ioctl_errors(void **state)
{
	struct x86_cpuid *c = calloc(1, sizeof(*c));
	struct x86_boot_info bi = { .mode = X86_BOOT_LINUX64, .entry = 0x100000 };
	struct guest_mem gm;
	struct rv_err err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(c);
	assert_int_equal(x86_vcpu_setup(-1, c, &err), -1);
	assert_non_null(strstr(err.msg, "KVM_SET_CPUID2"));
	c->head.nent = X86_CPUID_MAX_ENTRIES + 1;
	assert_int_equal(x86_vcpu_setup(-1, c, &err), -1);
	assert_non_null(strstr(err.msg, "CPUID entries"));

	map_low(&gm, 2 * MiB);
	assert_int_equal(x86_vcpu_boot_regs(-1, &gm, &bi, &err), -1);
	assert_non_null(strstr(err.msg, "KVM_GET_SREGS"));
	bi.mode = (enum x86_boot_mode)7;
	assert_int_equal(x86_vcpu_boot_regs(-1, &gm, &bi, &err), -1);
	assert_non_null(strstr(err.msg, "boot mode"));
	bi.mode = X86_BOOT_PVH;
	bi.entry = 0x100000000ULL;
	assert_int_equal(x86_vcpu_boot_regs(-1, &gm, &bi, &err), -1);
	assert_non_null(strstr(err.msg, "4 GiB"));

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	x86_vcpu_dump(-1, &gm, f);
	fclose(f);
	assert_non_null(strstr(buf, "KVM_GET_REGS"));
	assert_non_null(strstr(buf, "not readable"));
	free(buf);
	guest_mem_unmap(&gm);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_tables_identity),
		cmocka_unit_test(test_tables_need_memory),
		cmocka_unit_test(test_gdt),
		cmocka_unit_test(test_sregs_linux64),
		cmocka_unit_test(test_sregs_pvh),
		cmocka_unit_test(test_regs_per_mode),
		cmocka_unit_test(test_reset_values),
		cmocka_unit_test(test_xcr0),
		cmocka_unit_test(test_walk_modes),
		cmocka_unit_test(test_walk_hostile),
		cmocka_unit_test(test_dump_boot_state),
		cmocka_unit_test(test_dump_garbage),
		cmocka_unit_test(test_ioctl_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
