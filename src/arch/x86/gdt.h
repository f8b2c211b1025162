/* The boot GDT ringvm places at X86_GDT_GPA, and the segment-descriptor
 * encoding (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors"). The same
 * descriptors feed the hidden segment state given to KVM, so the table in
 * guest memory and the vCPU registers cannot disagree. */
#ifndef RINGVM_ARCH_X86_GDT_H
#define RINGVM_ARCH_X86_GDT_H

#include <stdint.h>

/* Selectors: Linux's boot protocol wants __BOOT_CS = 0x10, __BOOT_DS = 0x18. */
#define X86_SEL_CODE32   0x08
#define X86_SEL_CODE64   0x10
#define X86_SEL_DATA     0x18
#define X86_SEL_TSS      0x20

/* Entry 5 is the upper half of the TSS descriptor: a system descriptor is
 * 16 bytes in long mode, so keep it zero (base[63:32] = 0). */
#define X86_GDT_ENTRIES  6

/* Access byte (bits 47:40): P | DPL | S | type. */
#define X86_DESC_P         0x80
#define X86_DESC_S         0x10  /* code/data (not system) */
#define X86_TYPE_CODE_XRA  0xb   /* execute/read, accessed */
#define X86_TYPE_DATA_RWA  0x3   /* read/write, accessed */
#define X86_TYPE_TSS_BUSY  0xb   /* 32-bit (or 64-bit) TSS, busy */

/* Flags nibble (bits 55:52). */
#define X86_DESC_G   0x8  /* limit in 4 KiB units */
#define X86_DESC_DB  0x4  /* 32-bit default operand size */
#define X86_DESC_L   0x2  /* 64-bit code */

/* A TSS limit of 0x67 covers the 104-byte 32-bit TSS (PVH ABI asks for it). */
#define X86_TSS_LIMIT 0x67

/* A descriptor from base, 20-bit limit, access byte and flags nibble; a
 * constant expression, so it can initialise a static const table. */
#define X86_GDT_DESC(base, limit20, access, flags)			\
	((((uint64_t)(limit20) & 0xffff)) |				\
	 (((uint64_t)(base) & 0xffffff) << 16) |			\
	 (((uint64_t)(access) & 0xff) << 40) |				\
	 ((((uint64_t)(limit20) >> 16) & 0xf) << 48) |			\
	 (((uint64_t)(flags) & 0xf) << 52) |				\
	 ((((uint64_t)(base) >> 24) & 0xff) << 56))

static inline uint32_t x86_desc_base(uint64_t d)
{
	return (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 56) << 24));
}

/* The limit in bytes, as the CPU checks it (granularity applied). */
static inline uint32_t x86_desc_limit(uint64_t d)
{
	uint32_t l = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));

	if ((d >> 52) & X86_DESC_G)
		l = (l << 12) | 0xfff;
	return l;
}

static inline uint8_t x86_desc_access(uint64_t d)
{
	return (uint8_t)(d >> 40);
}

static inline uint8_t x86_desc_flags(uint64_t d)
{
	return (uint8_t)((d >> 52) & 0xf);
}

#endif
