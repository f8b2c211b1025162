/* bzImage through the 64-bit boot protocol (boot.rst, "64-bit Boot
 * Protocol"): the protected-mode kernel at 1 MiB, a zero page holding the
 * setup header, the e820 map, the command line and initrd pointers. The
 * real-mode setup code is never run, so it is not loaded. */
#include <string.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/layout.h"

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* pref_address comes from the file: a garbage value must not wrap. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Copies the setup header from the image into a zeroed zero page and
 * checks what the 64-bit entry needs. */
static int read_header(const uint8_t *k, size_t len, struct boot_params *bp,
		       struct rv_err *err)
{
	size_t end = BZ_MAGIC_OFF + (size_t)k[BZ_JUMP_LEN_OFF];
	uint16_t ver;

	if (end < BZ_HDR_MIN_END || end > BZ_HDR_MAX_END)
		return rv_fail(err, "bzImage setup header ends at %#zx; expected %#zx..%#x",
			       end, (size_t)BZ_HDR_MIN_END, BZ_HDR_MAX_END);
	if (end > len)
		return rv_fail(err, "bzImage truncated inside its setup header (%zu bytes)",
			       len);
	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + BZ_HDR_START, k + BZ_HDR_START,
	       end - BZ_HDR_START);
	ver = bp->hdr.version;
	/* 2.12 introduced xloadflags, the only way to know a 64-bit entry
	 * exists. */
	if (ver < BZ_PROTO(2, 12))
		return rv_fail(err, "bzImage boot protocol %u.%02u is too old (2.12 or newer needed)",
			       ver >> 8, ver & 0xff);
	if (!(bp->hdr.xloadflags & BZ_XLF_KERNEL_64))
		return rv_fail(err, "bzImage has no 64-bit entry point (XLF_KERNEL_64 not set; 32-bit kernel?)");
	if (!(bp->hdr.loadflags & BZ_LOADED_HIGH))
		return rv_fail(err, "zImage (kernel loaded low) is not supported; use a bzImage");
	return 0;
}

int x86_load_bzimage(const struct guest_mem *gm,
		     const struct x86_boot_config *cfg,
		     const uint8_t *head, size_t head_len,
		     const struct e820_map *e820,
		     struct x86_boot_info *info, struct rv_err *err)
{
	struct boot_params bp;
	uint8_t *dst;
	size_t len = cfg->kernel.len;
	uint64_t low_end = boot_low_ram_end(gm);
	uint64_t setup_len, kern_len, kern_end, initrd_ceil, initrd_gpa = 0;
	unsigned int sects;

	/* read_header checks how far the header goes within the head. */
	if (read_header(head, head_len, &bp, err))
		return -1;

	sects = bp.hdr.setup_sects ? bp.hdr.setup_sects : BZ_DEFAULT_SECTS;
	setup_len = (uint64_t)(sects + 1) * BZ_SECTOR;
	if (setup_len >= len)
		return rv_fail(err, "bzImage setup_sects %u points past the end of the %zu-byte file",
			       sects, len);
	kern_len = len - setup_len;
	if (kern_len <= BZ_ENTRY64_OFF)
		return rv_fail(err, "bzImage kernel part (%llu bytes) is too short to hold the 64-bit entry",
			       (unsigned long long)kern_len);

	/* The decompressor runs at max(load address aligned up, pref_address)
	 * and needs init_size bytes from there; without that room it dies
	 * before it can print anything. */
	kern_end = X86_HIGH_MEM_GPA + max64(kern_len, bp.hdr.init_size);
	kern_end = max64(kern_end, sat_add(bp.hdr.pref_address, bp.hdr.init_size));
	if (kern_end > low_end)
		return rv_fail(err, "kernel needs RAM up to %llu MiB but the guest has %llu MiB below the MMIO hole",
			       (unsigned long long)((kern_end + (1 << 20) - 1) >> 20),
			       (unsigned long long)(low_end >> 20));
	dst = guest_mem_ptr(gm, X86_HIGH_MEM_GPA, kern_len);
	if (!dst)
		return rv_fail(err, "kernel of %llu bytes does not fit in guest RAM at 1 MiB",
			       (unsigned long long)kern_len);
	if (boot_image_read(&cfg->kernel, setup_len, dst, kern_len) < 0)
		return rv_fail_errno(err, "cannot read the bzImage");

	if (boot_put_cmdline(gm, cfg->cmdline, bp.hdr.cmdline_size, err))
		return -1;

	if (cfg->initrd.len) {
		/* initrd_addr_max is the last byte the initrd may occupy.
		 * Placing it below 4 GiB is always valid, even when
		 * XLF_CAN_BE_LOADED_ABOVE_4G would allow more. */
		initrd_ceil = (uint64_t)bp.hdr.initrd_addr_max + 1;
		if (initrd_ceil > low_end)
			initrd_ceil = low_end;
		if (boot_put_initrd(gm, &cfg->initrd, kern_end,
				    initrd_ceil, &initrd_gpa, err))
			return -1;
	}

	bp.hdr.type_of_loader = BZ_LOADER_UNDEF;
	bp.hdr.loadflags |= BZ_CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = BZ_HEAP_END;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_GPA;
	bp.ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE_GPA >> 32);
	bp.hdr.code32_start = (uint32_t)X86_HIGH_MEM_GPA;
	bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp.hdr.ramdisk_size = initrd_gpa ? (uint32_t)cfg->initrd.len : 0;
	bp.ext_ramdisk_size = initrd_gpa ?
		(uint32_t)((uint64_t)cfg->initrd.len >> 32) : 0;
	if (cfg->rsdp_gpa && bp.hdr.version >= BZ_PROTO(2, 14))
		bp.acpi_rsdp_addr = cfg->rsdp_gpa;

	if (e820->nr > BP_E820_MAX)
		return rv_fail(err, "e820 map has %u entries; the zero page holds %d",
			       e820->nr, BP_E820_MAX);
	bp.e820_entries = (uint8_t)e820->nr;
	memcpy(bp.e820_table, e820->entry, e820->nr * sizeof(e820->entry[0]));

	if (guest_mem_write(gm, X86_BOOT_PARAMS_GPA, &bp, sizeof(bp)))
		return rv_fail(err, "boot_params at %#llx is outside guest RAM",
			       (unsigned long long)X86_BOOT_PARAMS_GPA);

	info->mode = X86_BOOT_LINUX64;
	info->entry = X86_HIGH_MEM_GPA + BZ_ENTRY64_OFF;
	info->params_gpa = X86_BOOT_PARAMS_GPA;
	info->initrd_gpa = initrd_gpa;
	return 0;
}
