/* Shared between the bzImage and PVH loaders: where guest RAM is and where
 * the initrd and command line go. Not for use outside arch/x86/boot*.c. */
#ifndef RINGVM_ARCH_X86_BOOT_INTERNAL_H
#define RINGVM_ARCH_X86_BOOT_INTERNAL_H

#include <stdint.h>

#include "arch/x86/boot.h"

#define BOOT_PAGE 0x1000ULL

/* End (exclusive) of the RAM region that starts at guest physical 0:
 * everything the loaders place below 4 GiB goes there. 0 if none. */
uint64_t boot_low_ram_end(const struct guest_mem *gm);

/* Copies cfg->cmdline (NUL included) to X86_CMDLINE_GPA; max_len is the
 * longest string the kernel accepts, without the NUL. */
int boot_put_cmdline(const struct guest_mem *gm, const char *cmdline,
		     uint64_t max_len, struct rv_err *err);

/* Copies n bytes at offset off of the image to dst; the caller has
 * checked that they lie inside im->len. 0, or -1 with errno set (EIO when
 * the file turned out shorter than im->len). */
int boot_image_read(const struct boot_image *im, uint64_t off, void *dst,
		    size_t n);

/* Places the initrd page-aligned as high as possible in [floor, ceil)
 * and copies it there; *gpa is set to its address. */
int boot_put_initrd(const struct guest_mem *gm, const struct boot_image *im,
		    uint64_t floor, uint64_t ceil, uint64_t *gpa,
		    struct rv_err *err);

/* head: the file's first head_len bytes (at most BZ_HDR_MAX_END), which
 * x86_load_kernel read to recognise the format. */
int x86_load_bzimage(const struct guest_mem *gm,
		     const struct x86_boot_config *cfg,
		     const uint8_t *head, size_t head_len,
		     const struct e820_map *e820,
		     struct x86_boot_info *info, struct rv_err *err);

int x86_load_pvh(const struct guest_mem *gm,
		 const struct x86_boot_config *cfg,
		 const struct e820_map *e820,
		 struct x86_boot_info *info, struct rv_err *err);

#endif
