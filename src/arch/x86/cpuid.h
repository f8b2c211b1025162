/* Shaping the CPUID a vCPU sees: start from KVM_GET_SUPPORTED_CPUID, add the
 * KVM paravirtual leaves and the topology of an N-vCPU machine. */
#ifndef RINGVM_ARCH_X86_CPUID_H
#define RINGVM_ARCH_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "util/err.h"

#define X86_CPUID_MAX_ENTRIES 256

struct x86_cpuid {
	struct kvm_cpuid2 head;
	struct kvm_cpuid_entry2 entry[X86_CPUID_MAX_ENTRIES];
};

struct x86_cpuid_opts {
	unsigned int cpu_index;   /* also the APIC ID */
	unsigned int ncpus;
	bool tsc_deadline;        /* KVM_CAP_TSC_DEADLINE_TIMER */
};

/* Rewrites *c (a copy of the supported CPUID) in place for one vCPU. */
int x86_cpuid_shape(struct x86_cpuid *c, const struct x86_cpuid_opts *o,
		    struct rv_err *err);

/* Finds an entry; NULL if absent. */
struct kvm_cpuid_entry2 *x86_cpuid_find(struct x86_cpuid *c,
					unsigned int function,
					unsigned int index);

#endif
