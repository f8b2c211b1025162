/* Kernel format detection and the pieces both loaders share: the low RAM
 * bound, the command line and initrd placement. */
#include "arch/x86/boot.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/layout.h"

uint64_t boot_low_ram_end(const struct guest_mem *gm)
{
	for (unsigned int i = 0; i < gm->nr; i++)
		if (gm->region[i].gpa == 0)
			return gm->region[i].size;
	return 0;
}

int boot_put_cmdline(const struct guest_mem *gm, const char *cmdline,
		     uint64_t max_len, struct rv_err *err)
{
	size_t len = strlen(cmdline);

	if (max_len > X86_CMDLINE_MAX - 1)
		max_len = X86_CMDLINE_MAX - 1;
	if (len > max_len)
		return rv_fail(err, "kernel command line is %zu bytes; at most %llu allowed",
			       len, (unsigned long long)max_len);
	if (guest_mem_write(gm, X86_CMDLINE_GPA, cmdline, len + 1))
		return rv_fail(err, "kernel command line at %#llx is outside guest RAM",
			       (unsigned long long)X86_CMDLINE_GPA);
	return 0;
}

int boot_image_read(const struct boot_image *im, uint64_t off, void *dst,
		    size_t n)
{
	uint8_t *p = dst;

	if (im->data) {
		memcpy(dst, im->data + off, n);
		return 0;
	}
	while (n > 0) {
		ssize_t got = pread(im->fd, p, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EIO; /* the file shrank since it was opened */
			return -1;
		}
		p += got;
		off += (uint64_t)got;
		n -= (size_t)got;
	}
	return 0;
}

int boot_put_initrd(const struct guest_mem *gm, const struct boot_image *im,
		    uint64_t floor, uint64_t ceil, uint64_t *gpa,
		    struct rv_err *err)
{
	size_t len = im->len;
	uint8_t *dst;
	uint64_t addr;

	floor = (floor + BOOT_PAGE - 1) & ~(BOOT_PAGE - 1);
	if (ceil < floor || len > ceil - floor)
		return rv_fail(err, "initrd of %zu bytes does not fit between the kernel end %#llx and %#llx (more guest memory needed)",
			       len, (unsigned long long)floor,
			       (unsigned long long)ceil);
	addr = (ceil - len) & ~(BOOT_PAGE - 1);
	dst = guest_mem_ptr(gm, addr, len);
	if (!dst)
		return rv_fail(err, "initrd at %#llx+%#zx is outside guest RAM",
			       (unsigned long long)addr, len);
	if (boot_image_read(im, 0, dst, len) < 0)
		return rv_fail_errno(err, "cannot read the initrd");
	*gpa = addr;
	return 0;
}

static int is_bzimage(const uint8_t *k, size_t len)
{
	uint16_t flag;
	uint32_t magic;

	if (len < BZ_MAGIC_OFF + 4)
		return 0;
	memcpy(&flag, k + BZ_BOOT_FLAG_OFF, 2);
	memcpy(&magic, k + BZ_MAGIC_OFF, 4);
	return flag == BZ_BOOT_FLAG && magic == BZ_MAGIC;
}

static int is_elf(const uint8_t *k, size_t len)
{
	return len >= 4 && memcmp(k, "\177ELF", 4) == 0;
}

int x86_load_kernel(const struct guest_mem *gm,
		    const struct x86_boot_config *cfg,
		    struct x86_boot_info *info, struct rv_err *err)
{
	struct e820_map built;
	const struct e820_map *e820 = cfg->e820;
	uint8_t head[BZ_HDR_MAX_END];
	size_t head_len = cfg->kernel.len < sizeof(head) ? cfg->kernel.len : sizeof(head);

	memset(info, 0, sizeof(*info));
	if ((!cfg->kernel.data && cfg->kernel.fd < 0) || !cfg->cmdline)
		return rv_fail(err, "no kernel image or command line given");
	if (boot_image_read(&cfg->kernel, 0, head, head_len) < 0)
		return rv_fail_errno(err, "cannot read the kernel image");
	if (!e820) {
		x86_e820_build(gm, &built);
		e820 = &built;
	}
	if (is_bzimage(head, head_len))
		return x86_load_bzimage(gm, cfg, head, head_len, e820, info, err);
	if (is_elf(head, head_len))
		return x86_load_pvh(gm, cfg, e820, info, err);
	return rv_fail(err, "kernel image (%zu bytes) is not a Linux bzImage or ELF vmlinux",
		       cfg->kernel.len);
}
