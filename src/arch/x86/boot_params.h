/* The Linux x86 zero page (struct boot_params) and the setup header inside
 * it, laid out from Documentation/arch/x86/boot.rst and zero-page.rst.
 * Only the fields ringvm reads or writes are named; the rest is padding.
 * Multi-byte fields are little-endian, like the x86 hosts we run on. */
#ifndef RINGVM_ARCH_X86_BOOT_PARAMS_H
#define RINGVM_ARCH_X86_BOOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"

/* Offsets in the bzImage file (the setup header sits at the same offsets
 * in the zero page). */
#define BZ_HDR_START      0x1f1       /* first byte of the setup header */
#define BZ_BOOT_FLAG_OFF  0x1fe
#define BZ_BOOT_FLAG      0xaa55
#define BZ_JUMP_LEN_OFF   0x201       /* header ends at 0x202 + this byte */
#define BZ_MAGIC_OFF      0x202
#define BZ_MAGIC          0x53726448  /* "HdrS" */
#define BZ_HDR_MAX_END    0x290       /* edd_mbr_sig_buffer follows */
#define BZ_SECTOR         512
#define BZ_DEFAULT_SECTS  4           /* setup_sects 0 means 4 */
#define BZ_ENTRY64_OFF    0x200       /* 64-bit entry, from the pm kernel */

#define BZ_PROTO(maj, min) (((maj) << 8) | (min))

/* loadflags */
#define BZ_LOADED_HIGH    (1u << 0)
#define BZ_CAN_USE_HEAP   (1u << 7)
/* xloadflags */
#define BZ_XLF_KERNEL_64  (1u << 0)
#define BZ_XLF_ABOVE_4G   (1u << 1)

#define BZ_LOADER_UNDEF   0xff        /* type_of_loader: no assigned id */
/* heap_end_ptr: end of the setup heap relative to the real-mode code,
 * minus 0x200; the 64-bit entry never uses it, but 2.01+ kernels check
 * CAN_USE_HEAP against a sane value. */
#define BZ_HEAP_END       0xfe00

struct bp_setup_header {
	uint8_t  setup_sects;        /* 0x1f1 */
	uint16_t root_flags;         /* 0x1f2 */
	uint32_t syssize;            /* 0x1f4 */
	uint16_t ram_size;           /* 0x1f8 */
	uint16_t vid_mode;           /* 0x1fa */
	uint16_t root_dev;           /* 0x1fc */
	uint16_t boot_flag;          /* 0x1fe */
	uint16_t jump;               /* 0x200 */
	uint32_t header;             /* 0x202 */
	uint16_t version;            /* 0x206 */
	uint32_t realmode_swtch;     /* 0x208 */
	uint16_t start_sys_seg;      /* 0x20c */
	uint16_t kernel_version;     /* 0x20e */
	uint8_t  type_of_loader;     /* 0x210 */
	uint8_t  loadflags;          /* 0x211 */
	uint16_t setup_move_size;    /* 0x212 */
	uint32_t code32_start;       /* 0x214 */
	uint32_t ramdisk_image;      /* 0x218 */
	uint32_t ramdisk_size;       /* 0x21c */
	uint32_t bootsect_kludge;    /* 0x220 */
	uint16_t heap_end_ptr;       /* 0x224 */
	uint8_t  ext_loader_ver;     /* 0x226 */
	uint8_t  ext_loader_type;    /* 0x227 */
	uint32_t cmd_line_ptr;       /* 0x228 */
	uint32_t initrd_addr_max;    /* 0x22c */
	uint32_t kernel_alignment;   /* 0x230 */
	uint8_t  relocatable_kernel; /* 0x234 */
	uint8_t  min_alignment;      /* 0x235 */
	uint16_t xloadflags;         /* 0x236 */
	uint32_t cmdline_size;       /* 0x238 */
	uint32_t hardware_subarch;   /* 0x23c */
	uint64_t hardware_subarch_data; /* 0x240 */
	uint32_t payload_offset;     /* 0x248 */
	uint32_t payload_length;     /* 0x24c */
	uint64_t setup_data;         /* 0x250 */
	uint64_t pref_address;       /* 0x258 */
	uint32_t init_size;          /* 0x260 */
	uint32_t handover_offset;    /* 0x264 */
	uint32_t kernel_info_offset; /* 0x268 */
} __attribute__((packed));

/* The header must reach init_size (2.10+) for us to place the kernel. */
#define BZ_HDR_MIN_END \
	(BZ_HDR_START + offsetof(struct bp_setup_header, init_size) + 4)

#define BP_E820_MAX 128

struct boot_params {
	uint8_t  _pad0[0x070];
	uint64_t acpi_rsdp_addr;     /* 0x070, protocol 2.14+ */
	uint8_t  _pad1[0x0c0 - 0x078];
	uint32_t ext_ramdisk_image;  /* 0x0c0 */
	uint32_t ext_ramdisk_size;   /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;   /* 0x0c8 */
	uint8_t  _pad2[0x1e8 - 0x0cc];
	uint8_t  e820_entries;       /* 0x1e8 */
	uint8_t  _pad3[BZ_HDR_START - 0x1e9];
	struct bp_setup_header hdr;  /* 0x1f1 */
	uint8_t  _pad4[0x2d0 - 0x26c];
	struct e820_entry e820_table[BP_E820_MAX]; /* 0x2d0 */
	uint8_t  _pad5[0x1000 - 0xcd0];
} __attribute__((packed));

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");
_Static_assert(sizeof(struct bp_setup_header) == 0x26c - BZ_HDR_START,
	       "setup header layout");
_Static_assert(offsetof(struct bp_setup_header, xloadflags) ==
	       0x236 - BZ_HDR_START, "xloadflags offset");
_Static_assert(offsetof(struct bp_setup_header, pref_address) ==
	       0x258 - BZ_HDR_START, "pref_address offset");
_Static_assert(offsetof(struct boot_params, hdr) == BZ_HDR_START,
	       "hdr offset");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0,
	       "e820_table offset");
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is 4 KiB");

#endif
