/* vCPU architectural state: CPUID, reset MSRs, FPU and XCR0 for every vCPU;
 * the boot registers, GDT and page tables of the BSP; a register dump for
 * crash reports. The pure parts (table writing, register filling, the guest
 * page-table walk, the dump formatting) take no file descriptor, so unit
 * tests exercise them without /dev/kvm. */
#ifndef RINGVM_ARCH_X86_REGS_H
#define RINGVM_ARCH_X86_REGS_H

#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "mem/guest_mem.h"
#include "util/err.h"

/* Initial stack: the free page between the zero page (0x7000) and the PML4
 * (0x9000). Both entry paths switch to the kernel's own stack at once. */
#define X86_BOOT_STACK_TOP 0x8ff0ULL

#define X86_CR0_PE   (1ULL << 0)
#define X86_CR0_ET   (1ULL << 4)
#define X86_CR0_NE   (1ULL << 5)
#define X86_CR0_PG   (1ULL << 31)
#define X86_CR4_PSE  (1ULL << 4)
#define X86_CR4_PAE  (1ULL << 5)
#define X86_CR4_LA57 (1ULL << 12)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)

#define X86_MSR_IA32_MISC_ENABLE   0x1a0
#define X86_MISC_ENABLE_FAST_STRING (1ULL << 0)
#define X86_MISC_ENABLE_BTS_UNAVAIL  (1ULL << 11)
#define X86_MISC_ENABLE_PEBS_UNAVAIL (1ULL << 12)
#define X86_MSR_MTRR_DEF_TYPE      0x2ff
#define X86_MTRR_DEF_ENABLE        (1ULL << 11)
#define X86_MTRR_TYPE_WB           6

#define X86_XCR0_X87 (1ULL << 0)
#define X86_XCR0_SSE (1ULL << 1)
#define X86_XCR0_AVX (1ULL << 2)

#define X86_RESET_MSRS_MAX 16

/* Per vCPU, before the first KVM_RUN: KVM_SET_CPUID2 with *cpuid (already
 * shaped for this vCPU), the reset MSRs, the FPU, and XCR0 when the CPUID
 * offers XSAVE. */
int x86_vcpu_setup(int vcpu_fd, const struct x86_cpuid *cpuid,
		   struct rv_err *err);

/* BSP only: writes the boot GDT and page tables into guest memory and loads
 * the entry state of bi->mode (64-bit boot protocol or PVH). */
int x86_vcpu_boot_regs(int vcpu_fd, const struct guest_mem *gm,
		       const struct x86_boot_info *bi, struct rv_err *err);

/* Crash report: GPRs, segments, control registers, descriptor tables and
 * the code bytes at RIP. Never fails and never trusts the register values. */
void x86_vcpu_dump(int vcpu_fd, const struct guest_mem *gm, FILE *out);

/* ---- pure parts ---- */

/* The MSR values every vCPU gets at reset; returns how many were written
 * (at most max). */
unsigned int x86_reset_msrs(struct kvm_msr_entry *e, unsigned int max);

/* x87 control word 0x37f, MXCSR 0x1f80 (the architectural reset values). */
void x86_fpu_reset(struct kvm_fpu *fpu);

/* XCR0 to load: x87, plus SSE and AVX when CPUID leaf 0xD offers them;
 * 0 when the CPUID has no XSAVE (then XCR0 must be left alone). */
uint64_t x86_xcr0_for(const struct x86_cpuid *cpuid);

/* The boot GDT at X86_GDT_GPA and, for 64-bit entry, page tables mapping
 * 0..4 GiB identity with 2 MiB pages at X86_PML4_GPA/PDPT_GPA/PD_GPA. */
int x86_boot_write_tables(const struct guest_mem *gm, struct rv_err *err);

/* Segment, descriptor-table and control-register state for mode m; leaves
 * apic_base and interrupt_bitmap untouched (from KVM_GET_SREGS). */
void x86_boot_fill_sregs(struct kvm_sregs *s, enum x86_boot_mode m);

void x86_boot_fill_regs(struct kvm_regs *r, const struct x86_boot_info *bi);

/* Translates a linear address as the vCPU would (paging off, 32-bit,
 * PAE, 4- and 5-level), reading page tables through gm. 0 or -1. */
int x86_gva_to_gpa(const struct guest_mem *gm, const struct kvm_sregs *s,
		   uint64_t gva, uint64_t *gpa);

/* The dump itself; r or s may be NULL (not readable), gm may be NULL. */
void x86_dump_state(FILE *out, const struct kvm_regs *r,
		    const struct kvm_sregs *s, const struct guest_mem *gm);

#endif
