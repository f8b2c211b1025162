/* Everything KVM holds about one x86 vCPU, read and written as a unit for
 * snapshots (and, later, migration): general, special (SREGS2 with the PAE
 * PDPTRs where KVM has it), XSAVE (KVM_GET_XSAVE2 size), XCRs, every MSR
 * KVM lists for saving (kvmclock, steal time, PV EOI, TSC, TSC deadline,
 * ...), LAPIC, pending events, debug registers, MP state, the TSC
 * frequency and the CPUID the vCPU was given.
 *
 * The order of x86_vcpu_state_set follows KVM's dependencies: CPUID first
 * (KVM checks MSRs and XCR0 against it), SREGS before the LAPIC (the APIC
 * base enables it), the LAPIC before the MSRs (a TSC deadline only sticks
 * in TSC-deadline mode), events and MP state last. */
#ifndef RINGVM_ARCH_X86_VCPU_STATE_H
#define RINGVM_ARCH_X86_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/cpuid.h"
#include "state/state.h"
#include "util/err.h"

#define X86_STATE_MAX_MSRS 1024

/* The MSRs to save: KVM_GET_MSR_INDEX_LIST, less those this vCPU cannot
 * read (KVM lists MSRs its CPUID may not offer), in the order they must be
 * written back. */
struct x86_msr_list {
	uint32_t index[X86_STATE_MAX_MSRS];
	unsigned int n;
};

int x86_msr_list_probe(int kvm_fd, int vcpu_fd, struct x86_msr_list *l,
		       struct rv_err *err);

/* Sizes KVM on this host uses (XSAVE area; SREGS2 or not). */
struct x86_vcpu_caps {
	uint32_t xsave_size;      /* >= 4096 */
	bool xsave2;              /* KVM_GET_XSAVE2 */
	bool sregs2;              /* KVM_GET/SET_SREGS2 */
	bool tsc_control;         /* KVM_SET_TSC_KHZ */
};

void x86_vcpu_caps_probe(int kvm_fd, int vm_fd, struct x86_vcpu_caps *c);

struct x86_vcpu_state {
	struct kvm_regs regs;
	bool has_sregs2;
	struct kvm_sregs sregs;       /* when !has_sregs2 */
	struct kvm_sregs2 sregs2;
	uint32_t xsave_size;
	uint8_t *xsave;               /* xsave_size bytes (malloc) */
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_mp_state mp;
	uint32_t tsc_khz;
	unsigned int nmsrs;
	struct kvm_msr_entry msrs[X86_STATE_MAX_MSRS];
	struct x86_cpuid cpuid;
};

/* Allocate with these: the struct is large. */
struct x86_vcpu_state *x86_vcpu_state_new(void);
void x86_vcpu_state_free(struct x86_vcpu_state *s);

/* Reads the vCPU (it must be outside KVM_RUN, after an exit that
 * completed its instruction: see machine_pause). */
int x86_vcpu_state_get(int vcpu_fd, const struct x86_vcpu_caps *caps,
		       const struct x86_msr_list *msrs,
		       struct x86_vcpu_state *s, struct rv_err *err);
int x86_vcpu_state_set(int vcpu_fd, const struct x86_vcpu_caps *caps,
		       const struct x86_vcpu_state *s, struct rv_err *err);

/* Section "vcpu.N". */
void x86_vcpu_state_save(struct state_writer *w, unsigned int index,
			 const struct x86_vcpu_state *s);
int x86_vcpu_state_load(const struct state_reader *r, unsigned int index,
			struct x86_vcpu_state *s, struct rv_err *err);

/* Section "cpuid": one vCPU's CPUID table on its own, which a live
 * migration offers the destination before anything else. */
void x86_cpuid_section_save(struct state_writer *w, const struct x86_cpuid *c);
int x86_cpuid_section_load(const struct state_reader *r, struct x86_cpuid *c,
			   struct rv_err *err);

/* VM-wide: the PICs, the IOAPIC, the PIT and the KVM clock. */
struct x86_vm_state {
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

int x86_vm_state_get(int vm_fd, struct x86_vm_state *s, struct rv_err *err);
/* The clock is set separately, last, right before the vCPUs run again. */
int x86_vm_state_set(int vm_fd, const struct x86_vm_state *s,
		     struct rv_err *err);
int x86_vm_clock_set(int vm_fd, const struct x86_vm_state *s,
		     struct rv_err *err);
/* Section "kvm.vm". */
void x86_vm_state_save(struct state_writer *w, const struct x86_vm_state *s);
int x86_vm_state_load(const struct state_reader *r, struct x86_vm_state *s,
		      struct rv_err *err);

#endif
