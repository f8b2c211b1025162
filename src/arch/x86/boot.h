/* Loading a Linux kernel into guest memory: a bzImage through the 64-bit
 * boot protocol (Documentation/x86/boot.rst) or an ELF vmlinux through its
 * PVH entry note (Xen's HVM direct boot ABI, start_info v1). */
#ifndef RINGVM_ARCH_X86_BOOT_H
#define RINGVM_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "util/err.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

#define E820_MAX_ENTRIES 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct e820_map {
	struct e820_entry entry[E820_MAX_ENTRIES];
	unsigned int nr;
};

/* The e820 map of a ringvm guest with this memory, sorted by address: RAM
 * below 0x9fc00, the legacy area 0x9fc00..1 MiB as E820_RESERVED (it holds
 * the EBDA and the ACPI tables at 0xe0000), RAM from 1 MiB to the end of
 * the region at 0 (at most the MMIO hole), and each region above it. */
void x86_e820_build(const struct guest_mem *gm, struct e820_map *map);

enum x86_boot_mode {
	X86_BOOT_LINUX64, /* bzImage: 64-bit entry, RSI = boot_params */
	X86_BOOT_PVH,     /* ELF: 32-bit flat entry, EBX = hvm_start_info */
};

/* A kernel or initrd image of len bytes: in memory (data), or, when data
 * is NULL, in the file fd, read with pread so that its big parts go
 * straight into guest RAM without a copy of the file of their own. */
struct boot_image {
	const uint8_t *data;
	int fd;
	size_t len;
};

struct x86_boot_config {
	struct boot_image kernel;
	struct boot_image initrd; /* len 0: none */
	const char *cmdline;     /* never NULL */
	uint64_t rsdp_gpa;       /* 0 if no ACPI */
	const struct e820_map *e820; /* NULL: x86_e820_build(gm) */
};

struct x86_boot_info {
	enum x86_boot_mode mode;
	uint64_t entry;          /* guest physical entry point */
	uint64_t params_gpa;     /* boot_params (LINUX64) or start_info (PVH) */
	uint64_t initrd_gpa;     /* 0 if none */
};

/* Recognises the kernel format and loads it, its initrd and command line.
 * Every length and offset in the image is checked: a truncated or garbage
 * file yields a one-line error, never a crash. */
int x86_load_kernel(const struct guest_mem *gm,
		    const struct x86_boot_config *cfg,
		    struct x86_boot_info *info, struct rv_err *err);

#endif
