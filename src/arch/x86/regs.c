#include "arch/x86/regs.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/gdt.h"
#include "arch/x86/layout.h"

/* KVM_SET_CPUID2 reads head.nent entries right after the header. */
_Static_assert(offsetof(struct x86_cpuid, entry) == sizeof(struct kvm_cpuid2),
	       "x86_cpuid entries must follow the kvm_cpuid2 header");

#define PTE_P     (1ULL << 0)
#define PTE_RW    (1ULL << 1)
#define PTE_PS    (1ULL << 7)
#define PTE_ADDR  0x000ffffffffff000ULL
#define PAGE_SIZE 4096
#define PTES      512

#define CPUID_1_ECX_XSAVE (1u << 26)

static const uint64_t boot_gdt[X86_GDT_ENTRIES] = {
	[0] = 0,
	[X86_SEL_CODE32 >> 3] = X86_GDT_DESC(0, 0xfffff,
		X86_DESC_P | X86_DESC_S | X86_TYPE_CODE_XRA,
		X86_DESC_G | X86_DESC_DB),
	[X86_SEL_CODE64 >> 3] = X86_GDT_DESC(0, 0xfffff,
		X86_DESC_P | X86_DESC_S | X86_TYPE_CODE_XRA,
		X86_DESC_G | X86_DESC_L),
	[X86_SEL_DATA >> 3] = X86_GDT_DESC(0, 0xfffff,
		X86_DESC_P | X86_DESC_S | X86_TYPE_DATA_RWA,
		X86_DESC_G | X86_DESC_DB),
	[X86_SEL_TSS >> 3] = X86_GDT_DESC(0, X86_TSS_LIMIT,
		X86_DESC_P | X86_TYPE_TSS_BUSY, 0),
	[(X86_SEL_TSS >> 3) + 1] = 0,
};

static const struct kvm_msr_entry reset_msrs[] = {
	/* Fast strings on; BTS/PEBS stay "unavailable" as in KVM's reset
	 * value, so the guest does not try to program them. */
	{ .index = X86_MSR_IA32_MISC_ENABLE,
	  .data = X86_MISC_ENABLE_FAST_STRING | X86_MISC_ENABLE_BTS_UNAVAIL |
		  X86_MISC_ENABLE_PEBS_UNAVAIL },
	/* Without MTRRs enabled all of RAM would be uncached until the guest
	 * programs them, which Linux never does under a hypervisor. */
	{ .index = X86_MSR_MTRR_DEF_TYPE,
	  .data = X86_MTRR_DEF_ENABLE | X86_MTRR_TYPE_WB },
	{ .index = 0x174 },       /* IA32_SYSENTER_CS */
	{ .index = 0x175 },       /* IA32_SYSENTER_ESP */
	{ .index = 0x176 },       /* IA32_SYSENTER_EIP */
	{ .index = 0xc0000081 },  /* STAR */
	{ .index = 0xc0000082 },  /* LSTAR */
	{ .index = 0xc0000083 },  /* CSTAR */
	{ .index = 0xc0000084 },  /* SFMASK */
	{ .index = 0xc0000102 },  /* KERNEL_GS_BASE */
};

_Static_assert(sizeof(reset_msrs) / sizeof(reset_msrs[0]) <= X86_RESET_MSRS_MAX,
	       "X86_RESET_MSRS_MAX too small");

unsigned int x86_reset_msrs(struct kvm_msr_entry *e, unsigned int max)
{
	unsigned int n = sizeof(reset_msrs) / sizeof(reset_msrs[0]);

	if (n > max)
		n = max;
	memcpy(e, reset_msrs, n * sizeof(*e));
	return n;
}

void x86_fpu_reset(struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->fcw = 0x37f;
	fpu->mxcsr = 0x1f80;
}

/* Looks an entry up without the non-const find helper. */
static const struct kvm_cpuid_entry2 *cpuid_get(const struct x86_cpuid *c,
						uint32_t function,
						uint32_t index)
{
	unsigned int n = c->head.nent;

	if (n > X86_CPUID_MAX_ENTRIES)
		n = X86_CPUID_MAX_ENTRIES;
	for (unsigned int i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entry[i];

		if (e->function == function &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     e->index == index))
			return e;
	}
	return NULL;
}

uint64_t x86_xcr0_for(const struct x86_cpuid *cpuid)
{
	const struct kvm_cpuid_entry2 *l1 = cpuid_get(cpuid, 1, 0);
	const struct kvm_cpuid_entry2 *ld = cpuid_get(cpuid, 0xd, 0);
	uint64_t xcr0 = X86_XCR0_X87;

	if (!l1 || !(l1->ecx & CPUID_1_ECX_XSAVE) || !ld)
		return 0;
	/* Leaf 0xD sub-leaf 0 EDX:EAX lists the XCR0 bits the CPU (and so
	 * KVM, which checks XCR0 against it) accepts. AVX needs SSE. */
	if (ld->eax & X86_XCR0_SSE) {
		xcr0 |= X86_XCR0_SSE;
		if (ld->eax & X86_XCR0_AVX)
			xcr0 |= X86_XCR0_AVX;
	}
	return xcr0;
}

struct msr_buf {
	struct kvm_msrs head;
	struct kvm_msr_entry entry[X86_RESET_MSRS_MAX];
};

int x86_vcpu_setup(int vcpu_fd, const struct x86_cpuid *cpuid,
		   struct rv_err *err)
{
	struct msr_buf msrs;
	struct kvm_fpu fpu;
	uint64_t xcr0;
	int r;

	if (cpuid->head.nent > X86_CPUID_MAX_ENTRIES)
		return rv_fail(err, "vCPU setup: %u CPUID entries (at most %d)",
			       cpuid->head.nent, X86_CPUID_MAX_ENTRIES);
	/* CPUID first: KVM validates MSRs and XCR0 against it. */
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, &cpuid->head) < 0)
		return rv_fail_errno(err, "KVM_SET_CPUID2");

	memset(&msrs, 0, sizeof(msrs));
	msrs.head.nmsrs = x86_reset_msrs(msrs.entry, X86_RESET_MSRS_MAX);
	/* Returns how many MSRs were set; it stops at the first refusal. */
	r = ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (r < 0)
		return rv_fail_errno(err, "KVM_SET_MSRS");
	if ((unsigned int)r < msrs.head.nmsrs)
		return rv_fail(err, "KVM_SET_MSRS: KVM refused MSR %#x",
			       msrs.entry[r].index);

	x86_fpu_reset(&fpu);
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return rv_fail_errno(err, "KVM_SET_FPU");

	/* KVM_SET_XCRS exists wherever KVM offers XSAVE in CPUID (both came
	 * with KVM_CAP_XCRS); without XSAVE there is no XCR0 to set. */
	xcr0 = x86_xcr0_for(cpuid);
	if (xcr0) {
		struct kvm_xcrs xcrs;

		memset(&xcrs, 0, sizeof(xcrs));
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = 0;
		xcrs.xcrs[0].value = xcr0;
		if (ioctl(vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
			return rv_fail_errno(err, "KVM_SET_XCRS (XCR0=%#llx)",
					     (unsigned long long)xcr0);
	}
	return 0;
}

static int write_table(const struct guest_mem *gm, uint64_t gpa,
		       const uint64_t *t, const char *what, struct rv_err *err)
{
	if (guest_mem_write(gm, gpa, t, PTES * sizeof(*t)))
		return rv_fail(err, "boot %s at %#llx is outside guest memory",
			       what, (unsigned long long)gpa);
	return 0;
}

int x86_boot_write_tables(const struct guest_mem *gm, struct rv_err *err)
{
	uint64_t t[PTES];

	if (guest_mem_write(gm, X86_GDT_GPA, boot_gdt, sizeof(boot_gdt)))
		return rv_fail(err, "boot GDT at %#llx is outside guest memory",
			       (unsigned long long)X86_GDT_GPA);

	memset(t, 0, sizeof(t));
	t[0] = X86_PDPT_GPA | PTE_P | PTE_RW;
	if (write_table(gm, X86_PML4_GPA, t, "PML4", err))
		return -1;

	memset(t, 0, sizeof(t));
	for (unsigned int i = 0; i < 4; i++)
		t[i] = (X86_PD_GPA + i * PAGE_SIZE) | PTE_P | PTE_RW;
	if (write_table(gm, X86_PDPT_GPA, t, "PDPT", err))
		return -1;

	for (unsigned int pd = 0; pd < 4; pd++) {
		for (unsigned int i = 0; i < PTES; i++) {
			uint64_t addr = ((uint64_t)pd << 30) | ((uint64_t)i << 21);

			t[i] = addr | PTE_P | PTE_RW | PTE_PS;
		}
		if (write_table(gm, X86_PD_GPA + pd * PAGE_SIZE, t, "page directory",
				err))
			return -1;
	}
	return 0;
}

static void seg_from_desc(struct kvm_segment *s, uint16_t sel)
{
	uint64_t d = boot_gdt[sel >> 3];
	uint8_t a = x86_desc_access(d);
	uint8_t f = x86_desc_flags(d);

	memset(s, 0, sizeof(*s));
	s->base = x86_desc_base(d);
	s->limit = x86_desc_limit(d);
	s->selector = sel;
	s->type = a & 0xf;
	s->s = (a >> 4) & 1;
	s->dpl = (a >> 5) & 3;
	s->present = (a >> 7) & 1;
	s->avl = f & 1;
	s->l = (f >> 1) & 1;
	s->db = (f >> 2) & 1;
	s->g = (f >> 3) & 1;
}

void x86_boot_fill_sregs(struct kvm_sregs *s, enum x86_boot_mode m)
{
	bool lm = m == X86_BOOT_LINUX64;

	seg_from_desc(&s->cs, lm ? X86_SEL_CODE64 : X86_SEL_CODE32);
	seg_from_desc(&s->ds, X86_SEL_DATA);
	s->es = s->ds;
	s->fs = s->ds;
	s->gs = s->ds;
	s->ss = s->ds;
	seg_from_desc(&s->tr, X86_SEL_TSS);
	/* No LDT: the null selector with the LDT type KVM itself resets to. */
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.type = 2;
	s->ldt.present = 1;
	s->ldt.limit = 0xffff;

	memset(&s->gdt, 0, sizeof(s->gdt));
	s->gdt.base = X86_GDT_GPA;
	s->gdt.limit = sizeof(boot_gdt) - 1;
	memset(&s->idt, 0, sizeof(s->idt));

	s->cr2 = 0;
	s->cr8 = 0;
	if (lm) {
		s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
		s->cr3 = X86_PML4_GPA;
		s->cr4 = X86_CR4_PAE;
		s->efer = X86_EFER_LME | X86_EFER_LMA;
	} else {
		/* PVH: "cr0: PE set, all other writeable bits cleared; cr4:
		 * all bits cleared" (ET is read-only 1). */
		s->cr0 = X86_CR0_PE | X86_CR0_ET;
		s->cr3 = 0;
		s->cr4 = 0;
		s->efer = 0;
	}
}

void x86_boot_fill_regs(struct kvm_regs *r, const struct x86_boot_info *bi)
{
	memset(r, 0, sizeof(*r));
	r->rflags = 2; /* bit 1 is reserved-one; IF, TF, VM clear */
	r->rip = bi->entry;
	r->rsp = X86_BOOT_STACK_TOP;
	if (bi->mode == X86_BOOT_LINUX64)
		r->rsi = bi->params_gpa;
	else
		r->rbx = bi->params_gpa;
}

int x86_vcpu_boot_regs(int vcpu_fd, const struct guest_mem *gm,
		       const struct x86_boot_info *bi, struct rv_err *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (bi->mode != X86_BOOT_LINUX64 && bi->mode != X86_BOOT_PVH)
		return rv_fail(err, "unknown boot mode %d", (int)bi->mode);
	if (bi->mode == X86_BOOT_PVH &&
	    (bi->entry > 0xffffffffULL || bi->params_gpa > 0xffffffffULL))
		return rv_fail(err, "PVH entry %#llx or start_info %#llx above 4 GiB",
			       (unsigned long long)bi->entry,
			       (unsigned long long)bi->params_gpa);
	if (x86_boot_write_tables(gm, err))
		return -1;
	/* Read first: apic_base and the pending-interrupt bitmap stay KVM's. */
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return rv_fail_errno(err, "KVM_GET_SREGS");
	x86_boot_fill_sregs(&sregs, bi->mode);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return rv_fail_errno(err, "KVM_SET_SREGS");
	x86_boot_fill_regs(&regs, bi);
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return rv_fail_errno(err, "KVM_SET_REGS");
	return 0;
}

static int read_entry(const struct guest_mem *gm, uint64_t gpa, bool wide,
		      uint64_t *v)
{
	uint32_t v32;

	if (wide)
		return guest_mem_read(gm, gpa, v, 8);
	if (guest_mem_read(gm, gpa, &v32, 4))
		return -1;
	*v = v32;
	return 0;
}

/* Walks `levels` levels of 512-entry tables from `table`; PS is honoured at
 * levels 2 (2 MiB) and 3 (1 GiB). */
static int walk64(const struct guest_mem *gm, uint64_t table, int levels,
		  uint64_t gva, uint64_t *gpa)
{
	for (int lvl = levels; lvl >= 1; lvl--) {
		unsigned int shift = 12 + 9 * (lvl - 1);
		uint64_t pte;

		if (read_entry(gm, table + ((gva >> shift) & 0x1ff) * 8, true,
			       &pte) || !(pte & PTE_P))
			return -1;
		if (lvl == 1 || ((lvl == 2 || lvl == 3) && (pte & PTE_PS))) {
			uint64_t off = (1ULL << shift) - 1;

			*gpa = (pte & PTE_ADDR & ~off) | (gva & off);
			return 0;
		}
		table = pte & PTE_ADDR;
	}
	return -1;
}

int x86_gva_to_gpa(const struct guest_mem *gm, const struct kvm_sregs *s,
		   uint64_t gva, uint64_t *gpa)
{
	uint64_t e;

	if (!(s->cr0 & X86_CR0_PG)) {
		*gpa = gva & 0xffffffffULL;
		return 0;
	}
	if (s->efer & X86_EFER_LMA)
		return walk64(gm, s->cr3 & PTE_ADDR,
			      (s->cr4 & X86_CR4_LA57) ? 5 : 4, gva, gpa);
	gva &= 0xffffffffULL;
	if (s->cr4 & X86_CR4_PAE) {
		/* Four PDPTEs at CR3[31:5], then two 9-bit levels. */
		if (read_entry(gm, (s->cr3 & 0xffffffe0ULL) + (gva >> 30) * 8,
			       true, &e) || !(e & PTE_P))
			return -1;
		return walk64(gm, e & PTE_ADDR, 2, gva, gpa);
	}
	/* Legacy 32-bit paging: 10-bit indices, 4-byte entries. */
	if (read_entry(gm, (s->cr3 & 0xfffff000ULL) + (gva >> 22) * 4, false,
		       &e) || !(e & PTE_P))
		return -1;
	if ((e & PTE_PS) && (s->cr4 & X86_CR4_PSE)) {
		/* 4 MiB page; PSE-36 puts address bits 39:32 in 20:13. */
		*gpa = (e & 0xffc00000ULL) | (((e >> 13) & 0xff) << 32) |
		       (gva & 0x3fffff);
		return 0;
	}
	if (read_entry(gm, (e & 0xfffff000ULL) + ((gva >> 12) & 0x3ff) * 4,
		       false, &e) || !(e & PTE_P))
		return -1;
	*gpa = (e & 0xfffff000ULL) | (gva & 0xfff);
	return 0;
}

static void dump_seg(FILE *out, const char *name, const struct kvm_segment *g)
{
	fprintf(out, "%-3s sel=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u "
		"p=%u db=%u l=%u g=%u avl=%u%s\n", name, g->selector,
		(unsigned long long)g->base, g->limit, g->type, g->s, g->dpl,
		g->present, g->db, g->l, g->g, g->avl,
		g->unusable ? " unusable" : "");
}

static const char *cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PE))
		return "real mode";
	if (s->efer & X86_EFER_LMA)
		return s->cs.l ? "64-bit mode" : "compatibility mode";
	return s->cs.db ? "32-bit protected mode" : "16-bit protected mode";
}

static void dump_code(FILE *out, const struct kvm_regs *r,
		      const struct kvm_sregs *s, const struct guest_mem *gm)
{
	uint64_t lin, gpa0 = 0;
	unsigned int n = 0;
	uint8_t code[16];

	if ((s->efer & X86_EFER_LMA) && s->cs.l) {
		lin = r->rip;
	} else {
		uint64_t ip = r->rip & (s->cs.db ? 0xffffffffULL : 0xffffULL);

		lin = (s->cs.base + ip) & 0xffffffffULL;
	}
	/* Byte by byte: the 16 bytes may straddle a page boundary. */
	for (; n < sizeof(code); n++) {
		uint64_t gpa;

		if (x86_gva_to_gpa(gm, s, lin + n, &gpa) ||
		    guest_mem_read(gm, gpa, &code[n], 1))
			break;
		if (n == 0)
			gpa0 = gpa;
	}
	if (n == 0) {
		fprintf(out, "code at %016llx: not mapped to guest memory\n",
			(unsigned long long)lin);
		return;
	}
	fprintf(out, "code at %016llx (gpa %#llx):", (unsigned long long)lin,
		(unsigned long long)gpa0);
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, " %02x", code[i]);
	fputc('\n', out);
}

void x86_dump_state(FILE *out, const struct kvm_regs *r,
		    const struct kvm_sregs *s, const struct guest_mem *gm)
{
	if (r) {
		fprintf(out, "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
			"RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
			"R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
			"R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
			"RIP=%016llx RFLAGS=%016llx\n",
			r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp,
			r->rsp, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13,
			r->r14, r->r15, r->rip, r->rflags);
	} else {
		fprintf(out, "general registers: not readable\n");
	}
	if (!s) {
		fprintf(out, "segment/control registers: not readable\n");
		return;
	}
	dump_seg(out, "CS", &s->cs);
	dump_seg(out, "DS", &s->ds);
	dump_seg(out, "ES", &s->es);
	dump_seg(out, "FS", &s->fs);
	dump_seg(out, "GS", &s->gs);
	dump_seg(out, "SS", &s->ss);
	dump_seg(out, "TR", &s->tr);
	dump_seg(out, "LDT", &s->ldt);
	fprintf(out, "GDT base=%016llx limit=%04x  IDT base=%016llx limit=%04x\n",
		(unsigned long long)s->gdt.base, s->gdt.limit,
		(unsigned long long)s->idt.base, s->idt.limit);
	fprintf(out, "CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n"
		"CR8=%016llx EFER=%016llx APIC_BASE=%016llx\n",
		(unsigned long long)s->cr0, (unsigned long long)s->cr2,
		(unsigned long long)s->cr3, (unsigned long long)s->cr4,
		(unsigned long long)s->cr8, (unsigned long long)s->efer,
		(unsigned long long)s->apic_base);
	fprintf(out, "mode: %s, paging %s\n", cpu_mode(s),
		(s->cr0 & X86_CR0_PG) ? "on" : "off");
	/* KVM on AMD re-initialises the VMCB after a shutdown intercept, so a
	 * triple fault there leaves only the reset state to show. */
	if (r && r->rip == 0xfff0 && s->cs.base == 0xffff0000)
		fprintf(out, "note: this is the CPU's reset state; the host's KVM "
			"(AMD) resets a vCPU on shutdown, so the faulting state is lost\n");
	if (r && gm)
		dump_code(out, r, s, gm);
}

void x86_vcpu_dump(int vcpu_fd, const struct guest_mem *gm, FILE *out)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool have_r, have_s;

	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	have_r = ioctl(vcpu_fd, KVM_GET_REGS, &regs) == 0;
	if (!have_r)
		fprintf(out, "KVM_GET_REGS: %s\n", strerror(errno));
	have_s = ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) == 0;
	if (!have_s)
		fprintf(out, "KVM_GET_SREGS: %s\n", strerror(errno));
	x86_dump_state(out, have_r ? &regs : NULL, have_s ? &sregs : NULL, gm);
}
