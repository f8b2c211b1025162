/* CPU templates for fleets of unlike hosts, in Firecracker's custom CPU
 * template layout (swagger CpuConfig): a guest must see only what every
 * host it may move to (restore, migration) offers.
 *
 *   ringvm cpu-features          what this host offers: a template with no
 *                                'x' (a "features file")
 *   ringvm cpu-template A B ...  the intersection of features files
 *
 * JSON: { "cpuid_modifiers": [ { "leaf": "0x1", "subleaf": "0x0",
 *         "flags": 0, "modifiers": [ { "register": "ecx",
 *         "bitmap": "0b" + 32 of '0' '1' 'x' } ] } ],
 *         "msr_modifiers": [ { "addr": "0x10a",
 *         "bitmap": "0b" + 64 of '0' '1' 'x' } ] }
 * Numbers are strings: hex "0x..", binary "0b.." or decimal. Bitmaps may
 * hold '_' for readability. '0'/'1' force a bit, 'x' keeps the host's.
 * kvm_capabilities, reg_modifiers and vcpu_features (aarch64 and others)
 * are refused unless empty; any other unknown field is refused by name.
 *
 * How the intersection treats each CPUID leaf (cpu_template_fleet.c):
 *  - A (leaf, subleaf) that some host lacks: all four registers forced to
 *    '0' (applying removes it; subleaf 0 removes the whole leaf).
 *  - Vendor, leaf 0 EBX/EDX/ECX: must be equal on every host, else
 *    refused; pinned in the template (applying checks the host's vendor).
 *  - Maximum leaves and sizes, the minimum over the hosts, fully forced:
 *    leaf 0 EAX (max basic leaf), 0x80000000 EAX (max extended leaf),
 *    leaf 7 subleaf 0 EAX (max subleaf of leaf 7); and 0x80000008 EAX
 *    bits 7:0 (physical address bits) and 15:8 (linear), each field
 *    forced to its minimum, bits 31:16 'x'.
 *  - Feature words, AND-ed: a bit some host lacks is forced '0', a bit
 *    every host has stays 'x': leaf 1 ECX and EDX; leaf 7 subleaf 0 EBX,
 *    ECX, EDX; leaf 7 subleaf 1 EAX; leaf 0xD subleaf 0 EAX and EDX
 *    (XCR0 bits) and subleaf 1 EAX (XSAVEOPT...), ECX and EDX (IA32_XSS
 *    bits); 0x80000001 ECX and EDX; 0x80000007 EDX; 0x80000008 EBX;
 *    0x40000001 EAX (KVM's paravirtual features).
 *  - The bits ringvm (x86_cpuid_shape) or the guest's own CR4 decide stay
 *    'x' even inside those words, and applying a template never changes
 *    them (only removes their leaf, see above): leaf 1 EBX 31:16 (APIC
 *    ID, logical count), ECX 31 (hypervisor), 27 (OSXSAVE), 24 (TSC
 *    deadline), EDX 28 (HTT); leaf 4 EAX 31:14; leaf 7.0 ECX 4 (OSPKE);
 *    leaves 0xB, 0x1F, 0x8000001E and 0x40000000 entirely; 0x80000001 ECX
 *    1 (CmpLegacy); 0x80000008 ECX 15:12 and 7:0; 0x8000001D EAX 25:14.
 *  - Everything else is 'x' (left out): the host's own, e.g. leaf 1 EAX
 *    (family, model), the cache leaves, 0x80000000 EBX/ECX/EDX.
 * Feature MSRs (KVM_GET_MSR_FEATURE_INDEX_LIST): AND-ed bit by bit the
 * same way; one that some host lacks is forced to 0 (on a host without
 * it, nothing is written); IA32_UCODE_REV (0x8b, a revision) and the VMX
 * capability MSRs (0x480-0x491, whose halves mean opposite things) are
 * left out.
 *
 * Use, per vCPU (vm.c's setup_vcpus), with a template checked once by
 * x86_cpu_template_check_host:
 *     cpuid = supported; x86_cpuid_shape(&cpuid, ...);
 *     x86_cpu_template_apply(t, &cpuid, &supported, err);
 *     x86_vcpu_setup(fd, &cpuid, ...);
 *     x86_cpu_template_msr_values(t, &host_msrs, &vals, err);
 *     ioctl(fd, KVM_SET_MSRS, &vals) == vals.head.nmsrs
 * Everything here is pure except cpu_template_kvm.c (the two probes). */
#ifndef RINGVM_ARCH_X86_CPU_TEMPLATE_H
#define RINGVM_ARCH_X86_CPU_TEMPLATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x86_cpuid (cpuid.h) and x86_msr_values follow KVM's header-and-array
 * ioctl structs with their entries, a GNU extension clang (the fuzz
 * build) warns about. */
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif
#include "arch/x86/cpuid.h"
#include "arch/x86/cpuid_features.h"
#include "util/err.h"

#define CPU_TEMPLATE_MAX_LEAVES X86_CPUID_MAX_ENTRIES
#define CPU_TEMPLATE_MAX_MSRS   128
#define CPU_TEMPLATE_MAX_HOSTS  64
/* A features file is ~60 KiB; anything near this is not one. */
#define CPU_TEMPLATE_MAX_JSON   (1u << 20)

/* One register: the bits set in mask are forced to value's ('0'/'1'),
 * the others are the host's ('x'). value never has bits outside mask. */
struct cpu_reg_modifier {
	enum x86_reg reg;
	uint32_t mask, value;
};

struct cpu_leaf_modifier {
	uint32_t leaf, subleaf;
	uint32_t flags;                    /* KVM_CPUID_FLAG_* */
	unsigned int nregs;
	struct cpu_reg_modifier reg[4];    /* by register, each at most once */
};

struct cpu_msr_modifier {
	uint32_t addr;
	uint64_t mask, value;
};

/* Sorted (by leaf, subleaf, register; by MSR address) and free of
 * duplicates after every function below. ~20 KiB: allocate it. */
struct cpu_template {
	unsigned int nleaves;
	struct cpu_leaf_modifier leaf[CPU_TEMPLATE_MAX_LEAVES];
	unsigned int nmsrs;
	struct cpu_msr_modifier msr[CPU_TEMPLATE_MAX_MSRS];
};

/* MSR values, laid out for KVM_GET_MSRS / KVM_SET_MSRS. */
struct x86_msr_values {
	struct kvm_msrs head;
	struct kvm_msr_entry entry[CPU_TEMPLATE_MAX_MSRS];
};

#ifdef __clang__
#pragma clang diagnostic pop
#endif

/* ---- the JSON layout (cpu_template_json.c) ---- */

/* Parses len bytes (not necessarily NUL-terminated). On error *t is
 * undefined and err says where ("cpuid_modifiers[2].modifiers[0].bitmap:
 * ..."), in one line. */
int x86_cpu_template_parse(const char *json, size_t len,
			   struct cpu_template *t, struct rv_err *err);

/* Pretty-printed JSON ending in a newline, in the sorted order; both
 * cpuid_modifiers and msr_modifiers always present. malloc'd; NULL when
 * out of memory. */
char *x86_cpu_template_to_json(const struct cpu_template *t);

/* ---- what a host offers (cpu_template_fleet.c, cpu_template_kvm.c) ---- */

/* A features file from KVM_GET_SUPPORTED_CPUID and the feature MSRs
 * (msrs may be NULL): every entry, every register, fully specified. */
int x86_cpu_features_from_kvm(const struct x86_cpuid *supported,
			      const struct x86_msr_values *msrs,
			      struct cpu_template *out, struct rv_err *err);

/* The feature MSRs and their values, on the /dev/kvm fd (none when KVM
 * lacks KVM_CAP_GET_MSR_FEATURES). */
int x86_feature_msrs_read(int kvm_fd, struct x86_msr_values *out,
			  struct rv_err *err);

/* KVM_GET_SUPPORTED_CPUID + x86_feature_msrs_read + from_kvm. */
int x86_cpu_features_probe(int kvm_fd, struct cpu_template *out,
			   struct rv_err *err);

/* True when every leaf has its four registers and every register and MSR
 * is fully specified (no 'x'). */
bool x86_cpu_template_is_features(const struct cpu_template *t);

/* The template for a fleet of 1 to CPU_TEMPLATE_MAX_HOSTS features files,
 * hosts[i] named names[i] in errors (the file names). Refuses a file that
 * is not a features file or lacks leaf 0, and a vendor mismatch. */
int x86_cpu_template_intersect(const struct cpu_template *const hosts[],
			       const char *const names[], unsigned int n,
			       struct cpu_template *out, struct rv_err *err);

/* ---- applying a template (cpu_template_apply.c) ---- */

/* Would t work here? Refuses (naming what) a vendor other than the one t
 * pins; maximum leaves or address sizes above the host's; forced '1'
 * feature bits (the AND-ed words above) that host_supported
 * (KVM_GET_SUPPORTED_CPUID) lacks; and, when host_msrs is given, forced
 * '1' MSR bits the host's feature MSRs lack, or a forced non-zero MSR
 * this host does not have. */
int x86_cpu_template_check_host(const struct cpu_template *t,
				const struct x86_cpuid *host_supported,
				const struct x86_msr_values *host_msrs,
				struct rv_err *err);

/* Applies t to one vCPU's CPUID c (already shaped by x86_cpuid_shape):
 * checks the CPUID side as check_host does, then forces the bits (never
 * the ringvm-owned ones above); a leaf with all four registers forced
 * '0' is removed (subleaf 0: every subleaf of it), a leaf absent from c
 * with forced '1' bits is added; then every basic and extended leaf above
 * the (new) maximum is dropped. Refuses a template that removes leaf 0
 * or 1, or whose maximums would drop leaf 1 or 0x80000001. c is unchanged
 * on error. */
int x86_cpu_template_apply(const struct cpu_template *t, struct x86_cpuid *c,
			   const struct x86_cpuid *host_supported,
			   struct rv_err *err);

/* The feature MSR values a vCPU gets under t: for each MSR modifier, the
 * host's value (host: x86_feature_msrs_read) with the forced bits; an MSR
 * the host lacks is skipped when t forces it to 0, refused otherwise.
 * Same checks as check_host's MSR side. out is ready for KVM_SET_MSRS. */
int x86_cpu_template_msr_values(const struct cpu_template *t,
				const struct x86_msr_values *host,
				struct x86_msr_values *out, struct rv_err *err);

#endif
