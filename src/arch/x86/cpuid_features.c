/* Feature names follow Linux's arch/x86/include/asm/cpufeatures.h (what
 * /proc/cpuinfo shows); bit positions are from the Intel SDM vol. 2A and
 * the AMD APM vol. 3 CPUID chapters. */
#include "arch/x86/cpuid_features.h"

#include <stdio.h>
#include <string.h>

const struct x86_feature_word x86_feature_words[] = {
	{ 0x1, 0, X86_ECX }, { 0x1, 0, X86_EDX },
	{ 0x7, 0, X86_EBX }, { 0x7, 0, X86_ECX }, { 0x7, 0, X86_EDX },
	{ 0x7, 1, X86_EAX },
	{ 0xd, 1, X86_EAX },
	{ 0x80000001, 0, X86_ECX }, { 0x80000001, 0, X86_EDX },
	{ 0x80000008, 0, X86_EBX },
	{ 0x40000001, 0, X86_EAX },
};
const unsigned int x86_feature_nwords =
	sizeof(x86_feature_words) / sizeof(x86_feature_words[0]);

struct named_bit {
	uint32_t function, index;
	enum x86_reg reg;
	unsigned int bit;
	const char *name;
};

static const struct named_bit names[] = {
	{ 1, 0, X86_ECX, 0, "pni" }, { 1, 0, X86_ECX, 1, "pclmulqdq" },
	{ 1, 0, X86_ECX, 3, "monitor" }, { 1, 0, X86_ECX, 5, "vmx" },
	{ 1, 0, X86_ECX, 9, "ssse3" }, { 1, 0, X86_ECX, 12, "fma" },
	{ 1, 0, X86_ECX, 13, "cx16" }, { 1, 0, X86_ECX, 17, "pcid" },
	{ 1, 0, X86_ECX, 19, "sse4_1" }, { 1, 0, X86_ECX, 20, "sse4_2" },
	{ 1, 0, X86_ECX, 21, "x2apic" }, { 1, 0, X86_ECX, 22, "movbe" },
	{ 1, 0, X86_ECX, 23, "popcnt" }, { 1, 0, X86_ECX, 24, "tsc_deadline_timer" },
	{ 1, 0, X86_ECX, 25, "aes" }, { 1, 0, X86_ECX, 26, "xsave" },
	{ 1, 0, X86_ECX, 28, "avx" }, { 1, 0, X86_ECX, 29, "f16c" },
	{ 1, 0, X86_ECX, 30, "rdrand" }, { 1, 0, X86_ECX, 31, "hypervisor" },
	{ 1, 0, X86_EDX, 0, "fpu" }, { 1, 0, X86_EDX, 4, "tsc" },
	{ 1, 0, X86_EDX, 5, "msr" }, { 1, 0, X86_EDX, 6, "pae" },
	{ 1, 0, X86_EDX, 8, "cx8" }, { 1, 0, X86_EDX, 9, "apic" },
	{ 1, 0, X86_EDX, 11, "sep" }, { 1, 0, X86_EDX, 12, "mtrr" },
	{ 1, 0, X86_EDX, 13, "pge" }, { 1, 0, X86_EDX, 15, "cmov" },
	{ 1, 0, X86_EDX, 16, "pat" }, { 1, 0, X86_EDX, 19, "clflush" },
	{ 1, 0, X86_EDX, 23, "mmx" }, { 1, 0, X86_EDX, 24, "fxsr" },
	{ 1, 0, X86_EDX, 25, "sse" }, { 1, 0, X86_EDX, 26, "sse2" },
	{ 1, 0, X86_EDX, 28, "ht" },
	{ 7, 0, X86_EBX, 0, "fsgsbase" }, { 7, 0, X86_EBX, 3, "bmi1" },
	{ 7, 0, X86_EBX, 4, "hle" }, { 7, 0, X86_EBX, 5, "avx2" },
	{ 7, 0, X86_EBX, 7, "smep" }, { 7, 0, X86_EBX, 8, "bmi2" },
	{ 7, 0, X86_EBX, 9, "erms" }, { 7, 0, X86_EBX, 10, "invpcid" },
	{ 7, 0, X86_EBX, 11, "rtm" }, { 7, 0, X86_EBX, 16, "avx512f" },
	{ 7, 0, X86_EBX, 17, "avx512dq" }, { 7, 0, X86_EBX, 18, "rdseed" },
	{ 7, 0, X86_EBX, 19, "adx" }, { 7, 0, X86_EBX, 20, "smap" },
	{ 7, 0, X86_EBX, 21, "avx512ifma" }, { 7, 0, X86_EBX, 23, "clflushopt" },
	{ 7, 0, X86_EBX, 24, "clwb" }, { 7, 0, X86_EBX, 28, "avx512cd" },
	{ 7, 0, X86_EBX, 29, "sha_ni" }, { 7, 0, X86_EBX, 30, "avx512bw" },
	{ 7, 0, X86_EBX, 31, "avx512vl" },
	{ 7, 0, X86_ECX, 1, "avx512vbmi" }, { 7, 0, X86_ECX, 2, "umip" },
	{ 7, 0, X86_ECX, 3, "pku" }, { 7, 0, X86_ECX, 6, "avx512_vbmi2" },
	{ 7, 0, X86_ECX, 8, "gfni" }, { 7, 0, X86_ECX, 9, "vaes" },
	{ 7, 0, X86_ECX, 10, "vpclmulqdq" }, { 7, 0, X86_ECX, 11, "avx512_vnni" },
	{ 7, 0, X86_ECX, 12, "avx512_bitalg" }, { 7, 0, X86_ECX, 14, "avx512_vpopcntdq" },
	{ 7, 0, X86_ECX, 16, "la57" }, { 7, 0, X86_ECX, 22, "rdpid" },
	{ 7, 0, X86_EDX, 4, "fsrm" }, { 7, 0, X86_EDX, 8, "avx512_vp2intersect" },
	{ 7, 0, X86_EDX, 10, "md_clear" }, { 7, 0, X86_EDX, 14, "serialize" },
	{ 7, 0, X86_EDX, 24, "amx_tile" }, { 7, 0, X86_EDX, 26, "spec_ctrl" },
	{ 7, 0, X86_EDX, 27, "intel_stibp" }, { 7, 0, X86_EDX, 29, "arch_capabilities" },
	{ 7, 0, X86_EDX, 31, "ssbd" },
	{ 7, 1, X86_EAX, 4, "avx_vnni" }, { 7, 1, X86_EAX, 5, "avx512_bf16" },
	{ 0xd, 1, X86_EAX, 0, "xsaveopt" }, { 0xd, 1, X86_EAX, 1, "xsavec" },
	{ 0xd, 1, X86_EAX, 2, "xgetbv1" }, { 0xd, 1, X86_EAX, 3, "xsaves" },
	{ 0x80000001, 0, X86_ECX, 0, "lahf_lm" }, { 0x80000001, 0, X86_ECX, 1, "cmp_legacy" },
	{ 0x80000001, 0, X86_ECX, 2, "svm" }, { 0x80000001, 0, X86_ECX, 5, "abm" },
	{ 0x80000001, 0, X86_ECX, 6, "sse4a" }, { 0x80000001, 0, X86_ECX, 7, "misalignsse" },
	{ 0x80000001, 0, X86_ECX, 8, "3dnowprefetch" }, { 0x80000001, 0, X86_ECX, 16, "fma4" },
	{ 0x80000001, 0, X86_ECX, 21, "tbm" }, { 0x80000001, 0, X86_ECX, 22, "topoext" },
	{ 0x80000001, 0, X86_EDX, 11, "syscall" }, { 0x80000001, 0, X86_EDX, 20, "nx" },
	{ 0x80000001, 0, X86_EDX, 22, "mmxext" }, { 0x80000001, 0, X86_EDX, 26, "pdpe1gb" },
	{ 0x80000001, 0, X86_EDX, 27, "rdtscp" }, { 0x80000001, 0, X86_EDX, 29, "lm" },
	{ 0x80000008, 0, X86_EBX, 0, "clzero" }, { 0x80000008, 0, X86_EBX, 9, "wbnoinvd" },
	{ 0x80000008, 0, X86_EBX, 12, "ibpb" }, { 0x80000008, 0, X86_EBX, 14, "ibrs" },
	{ 0x80000008, 0, X86_EBX, 15, "stibp" }, { 0x80000008, 0, X86_EBX, 24, "ssbd" },
	{ 0x80000008, 0, X86_EBX, 25, "virt_ssbd" },
	{ 0x40000001, 0, X86_EAX, 0, "kvm-clock (old)" }, { 0x40000001, 0, X86_EAX, 1, "kvm nop io delay" },
	{ 0x40000001, 0, X86_EAX, 3, "kvm-clock" }, { 0x40000001, 0, X86_EAX, 4, "kvm async pf" },
	{ 0x40000001, 0, X86_EAX, 5, "kvm steal time" }, { 0x40000001, 0, X86_EAX, 6, "kvm pv eoi" },
	{ 0x40000001, 0, X86_EAX, 7, "kvm pv unhalt" }, { 0x40000001, 0, X86_EAX, 9, "kvm pv tlb flush" },
	{ 0x40000001, 0, X86_EAX, 11, "kvm pv send ipi" }, { 0x40000001, 0, X86_EAX, 12, "kvm poll control" },
	{ 0x40000001, 0, X86_EAX, 13, "kvm pv sched yield" }, { 0x40000001, 0, X86_EAX, 24, "kvm-clock stable" },
};

const char *x86_feature_name(const struct x86_feature_word *w,
			     unsigned int bit)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].function == w->function &&
		    names[i].index == w->index && names[i].reg == w->reg &&
		    names[i].bit == bit)
			return names[i].name;
	return NULL;
}

uint32_t x86_cpuid_reg(const struct kvm_cpuid_entry2 *e, enum x86_reg r)
{
	switch (r) {
	case X86_EAX:
		return e->eax;
	case X86_EBX:
		return e->ebx;
	case X86_ECX:
		return e->ecx;
	default:
		return e->edx;
	}
}

/* Bits ringvm puts there itself, whatever KVM lists, and bits that mirror
 * the guest's own control registers (OSXSAVE is CR4.OSXSAVE, OSPKE is
 * CR4.PKE: KVM updates them as the guest runs, no host lists them). */
static uint32_t own_bits(const struct x86_feature_word *w, bool tsc_deadline)
{
	if (w->function == 1 && w->reg == X86_ECX)
		return 1u << 31 | 1u << 27 | (tsc_deadline ? 1u << 24 : 0);
	if (w->function == 7 && w->index == 0 && w->reg == X86_ECX)
		return 1u << 4;
	if (w->function == 1 && w->reg == X86_EDX)
		return 1u << 28;                         /* HTT */
	if (w->function == 0x80000001 && w->reg == X86_ECX)
		return 1u << 1;                          /* CmpLegacy */
	return 0;
}

static void append(char *out, size_t cap, size_t *len, const char *s)
{
	int n = snprintf(out + *len, cap - *len, "%s%s", *len ? ", " : "", s);

	if (n > 0 && (size_t)n < cap - *len)
		*len += (size_t)n;
}

unsigned int x86_cpuid_missing(const struct x86_cpuid *guest,
			       const struct x86_cpuid *host,
			       bool host_tsc_deadline, char *out, size_t cap)
{
	unsigned int missing = 0;
	size_t len = 0;

	if (cap)
		out[0] = '\0';
	for (unsigned int i = 0; i < x86_feature_nwords; i++) {
		const struct x86_feature_word *w = &x86_feature_words[i];
		struct kvm_cpuid_entry2 *g, *h;
		uint32_t lack;

		g = x86_cpuid_find((struct x86_cpuid *)guest, w->function,
				   w->index);
		if (!g)
			continue;
		h = x86_cpuid_find((struct x86_cpuid *)host, w->function,
				   w->index);
		lack = x86_cpuid_reg(g, w->reg) & ~(h ? x86_cpuid_reg(h, w->reg) : 0) &
		       ~own_bits(w, host_tsc_deadline);
		for (unsigned int bit = 0; bit < 32; bit++) {
			const char *name;
			char tmp[64];

			if (!(lack >> bit & 1))
				continue;
			missing++;
			name = x86_feature_name(w, bit);
			if (!name) {
				snprintf(tmp, sizeof(tmp), "CPUID.%#x.%u:%s[%u]",
					 w->function, w->index,
					 (const char *[]){ "EAX", "EBX", "ECX",
							   "EDX" }[w->reg], bit);
				name = tmp;
			}
			if (cap)
				append(out, cap, &len, name);
		}
	}
	return missing;
}
