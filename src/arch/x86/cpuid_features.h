/* CPU feature bits as a guest sees them in CPUID, by name: what a restore
 * (or, later, a migration destination) checks against the host before it
 * changes anything, and what it names when the host lacks something. */
#ifndef RINGVM_ARCH_X86_CPUID_FEATURES_H
#define RINGVM_ARCH_X86_CPUID_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpuid.h"

enum x86_reg { X86_EAX, X86_EBX, X86_ECX, X86_EDX };

/* One register of one CPUID leaf that holds feature flags. */
struct x86_feature_word {
	uint32_t function, index;
	enum x86_reg reg;
};

extern const struct x86_feature_word x86_feature_words[];
extern const unsigned int x86_feature_nwords;

/* Linux's /proc/cpuinfo name for a bit, or NULL when it has none here. */
const char *x86_feature_name(const struct x86_feature_word *w,
			     unsigned int bit);

/* Register r of a CPUID entry. */
uint32_t x86_cpuid_reg(const struct kvm_cpuid_entry2 *e, enum x86_reg r);

/* The feature bits the guest was shown that the host's KVM cannot offer
 * (host: KVM_GET_SUPPORTED_CPUID). Bits ringvm sets itself (hypervisor,
 * HTT, TSC deadline when KVM emulates it) are not counted. Writes the
 * missing features' names, comma-separated, into out (cap bytes, always
 * NUL-terminated) and returns how many are missing. */
unsigned int x86_cpuid_missing(const struct x86_cpuid *guest,
			       const struct x86_cpuid *host,
			       bool host_tsc_deadline, char *out, size_t cap);

#endif
