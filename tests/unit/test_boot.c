/* Kernel loading: bzImage 64-bit boot protocol and ELF PVH, on synthetic
 * images built here and on hostile (truncated, garbage) ones. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/layout.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define SETUP_SECTS 1
#define SETUP_LEN   ((SETUP_SECTS + 1) * 512)
#define PM_LEN      8192
#define IMG_LEN     (SETUP_LEN + PM_LEN)
#define INIT_SIZE   (1 * MiB)
#define RSDP_GPA    X86_ACPI_GPA

#define TRIPLEFAULT_IMAGE "build/tests/e2e/triplefault.bzImage"

struct fixture {
	struct guest_mem gm;
	struct rv_err err;
	uint8_t img[IMG_LEN];
	uint8_t initrd[3 * 4096 + 123];
};

static int setup_64m(void **state)
{
	const struct guest_region l[] = { { .gpa = 0, .size = 64 * MiB } };
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(guest_mem_map(&f->gm, l, 1, &f->err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	guest_mem_unmap(&f->gm);
	free(f);
	return 0;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* A bzImage-shaped file: boot sector, setup header (protocol 2.15) and a
 * protected-mode part filled with a recognisable pattern. */
static void make_bzimage(uint8_t *img)
{
	memset(img, 0, IMG_LEN);
	img[0x1f1] = SETUP_SECTS;
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;                /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = BZ_LOADED_HIGH;
	put32(img + 0x22c, 0x37ffffff);   /* initrd_addr_max */
	put32(img + 0x230, 0x200000);     /* kernel_alignment */
	put16(img + 0x236, BZ_XLF_KERNEL_64 | BZ_XLF_ABOVE_4G);
	put32(img + 0x238, 255);          /* cmdline_size */
	put64(img + 0x258, X86_HIGH_MEM_GPA); /* pref_address */
	put32(img + 0x260, INIT_SIZE);
	for (size_t i = SETUP_LEN; i < IMG_LEN; i++)
		img[i] = (uint8_t)(i * 7 + 3);
}

static struct x86_boot_config bz_cfg(struct fixture *f, const char *cmdline)
{
	struct x86_boot_config cfg = {
		.kernel = { .data = f->img, .fd = -1, .len = IMG_LEN },
		.initrd = { .data = f->initrd, .fd = -1, .len = sizeof(f->initrd) },
		.cmdline = cmdline,
		.rsdp_gpa = RSDP_GPA,
		.e820 = NULL,
	};

	for (size_t i = 0; i < sizeof(f->initrd); i++)
		f->initrd[i] = (uint8_t)(i ^ 0x5a);
	return cfg;
}

static const struct boot_params *zero_page(const struct guest_mem *gm)
{
	const struct boot_params *bp =
		guest_mem_ptr(gm, X86_BOOT_PARAMS_GPA, sizeof(*bp));

	assert_non_null(bp);
	return bp;
}

/* The error contract: one non-empty line. */
static void assert_one_line(const struct rv_err *err)
{
	assert_true(err->msg[0] != '\0');
	assert_null(strchr(err->msg, '\n'));
}

static void assert_fails_with(struct fixture *f,
			      const struct x86_boot_config *cfg,
			      const char *needle)
{
	struct x86_boot_info info;

	f->err.msg[0] = '\0';
	assert_int_equal(x86_load_kernel(&f->gm, cfg, &info, &f->err), -1);
	assert_one_line(&f->err);
	if (!strstr(f->err.msg, needle))
		fail_msg("error \"%s\" lacks \"%s\"", f->err.msg, needle);
}

static void test_bzimage_boot_params(void **state)
{
	struct fixture *f = *state;
	const char *cmdline = "console=ttyS0 root=/dev/vda rw";
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	const struct boot_params *bp;
	struct e820_map want;
	uint64_t rd;

	make_bzimage(f->img);
	cfg = bz_cfg(f, cmdline);
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);

	assert_int_equal(info.mode, X86_BOOT_LINUX64);
	assert_int_equal(info.entry, X86_HIGH_MEM_GPA + 0x200);
	assert_int_equal(info.params_gpa, X86_BOOT_PARAMS_GPA);
	/* The protected-mode part, not the setup code, sits at 1 MiB. */
	assert_memory_equal(guest_mem_ptr(&f->gm, X86_HIGH_MEM_GPA, PM_LEN),
			    f->img + SETUP_LEN, PM_LEN);

	bp = zero_page(&f->gm);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.init_size, INIT_SIZE);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags, BZ_LOADED_HIGH | BZ_CAN_USE_HEAP);
	assert_int_not_equal(bp->hdr.heap_end_ptr, 0);

	assert_int_equal(bp->hdr.cmd_line_ptr, X86_CMDLINE_GPA);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_string_equal(guest_mem_ptr(&f->gm, X86_CMDLINE_GPA, 1), cmdline);

	x86_e820_build(&f->gm, &want);
	assert_int_equal(bp->e820_entries, want.nr);
	assert_int_equal(bp->e820_entries, 3);
	assert_memory_equal(bp->e820_table, want.entry,
			    want.nr * sizeof(want.entry[0]));

	assert_int_equal(bp->acpi_rsdp_addr, RSDP_GPA);

	/* initrd: page aligned, as high as possible, below both the end of
	 * RAM and initrd_addr_max, above the kernel's init_size. */
	rd = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	assert_int_equal(rd, info.initrd_gpa);
	assert_int_equal(rd & 0xfff, 0);
	assert_int_equal(rd, (64 * MiB - sizeof(f->initrd)) & ~0xfffULL);
	assert_true(rd >= X86_HIGH_MEM_GPA + INIT_SIZE);
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(f->initrd));
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_memory_equal(guest_mem_ptr(&f->gm, rd, sizeof(f->initrd)),
			    f->initrd, sizeof(f->initrd));
}

static void test_bzimage_initrd_addr_max(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	const struct boot_params *bp;

	make_bzimage(f->img);
	put32(f->img + 0x22c, 16 * MiB - 1);
	cfg = bz_cfg(f, "");
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	bp = zero_page(&f->gm);
	assert_int_equal(bp->hdr.ramdisk_image,
			 (16 * MiB - sizeof(f->initrd)) & ~0xfffULL);
	assert_true(bp->hdr.ramdisk_image + sizeof(f->initrd) <= 16 * MiB);
}

/* Without an initrd or RSDP, and with protocol 2.12 (no acpi_rsdp_addr),
 * those fields stay zero. */
static void test_bzimage_no_initrd_old_rsdp(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	const struct boot_params *bp;

	make_bzimage(f->img);
	put16(f->img + 0x206, 0x020c);
	cfg = bz_cfg(f, "quiet");
	cfg.initrd.len = 0;
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	bp = zero_page(&f->gm);
	assert_int_equal(info.initrd_gpa, 0);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0);
}

/* The decompressor runs at pref_address and needs init_size from there. */
static void test_bzimage_kernel_too_big(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;

	make_bzimage(f->img);
	put32(f->img + 0x260, 64 * MiB);
	cfg = bz_cfg(f, "");
	assert_fails_with(f, &cfg, "kernel needs RAM");

	make_bzimage(f->img);
	put64(f->img + 0x258, 60 * MiB);
	put32(f->img + 0x260, 8 * MiB);
	assert_fails_with(f, &cfg, "kernel needs RAM");

	/* A garbage pref_address must not wrap around. */
	put64(f->img + 0x258, UINT64_MAX - 4096);
	assert_fails_with(f, &cfg, "kernel needs RAM");
}

static void test_bzimage_setup_sects_past_end(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;

	make_bzimage(f->img);
	f->img[0x1f1] = 200;
	cfg = bz_cfg(f, "");
	assert_fails_with(f, &cfg, "setup_sects");
	/* 0 means 4 sectors: 2.5 KiB of setup, still inside the file. */
	f->img[0x1f1] = 0;
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &(struct x86_boot_info){0},
					 &f->err), 0);
	assert_memory_equal(guest_mem_ptr(&f->gm, X86_HIGH_MEM_GPA, 16),
			    f->img + 5 * 512, 16);
}

static void test_bzimage_bad_header(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;

	make_bzimage(f->img);
	cfg = bz_cfg(f, "");
	put16(f->img + 0x206, 0x020b);
	assert_fails_with(f, &cfg, "too old");

	make_bzimage(f->img);
	put16(f->img + 0x236, 0);
	assert_fails_with(f, &cfg, "64-bit");

	make_bzimage(f->img);
	f->img[0x211] = 0;
	assert_fails_with(f, &cfg, "zImage");

	make_bzimage(f->img);
	f->img[0x201] = 0x20;  /* header too short to hold init_size */
	assert_fails_with(f, &cfg, "setup header");

	make_bzimage(f->img);
	f->img[0x201] = 0xff;  /* header overruns the zero page's slot */
	assert_fails_with(f, &cfg, "setup header");

	make_bzimage(f->img);
	put16(f->img + 0x1fe, 0x55aa);
	assert_fails_with(f, &cfg, "not a Linux bzImage or ELF vmlinux");
}

static void test_bzimage_cmdline_limits(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	char *s = malloc(X86_CMDLINE_MAX + 1);

	assert_non_null(s);
	make_bzimage(f->img);
	memset(s, 'a', 255);
	s[255] = '\0';
	cfg = bz_cfg(f, s);
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	assert_int_equal(strlen(guest_mem_ptr(&f->gm, X86_CMDLINE_GPA, 1)), 255);

	s[255] = 'a';
	s[256] = '\0';
	assert_fails_with(f, &cfg, "command line");

	/* The kernel allows more than ringvm's buffer holds. */
	put32(f->img + 0x238, 0xffffffff);
	memset(s, 'b', X86_CMDLINE_MAX);
	s[X86_CMDLINE_MAX] = '\0';
	assert_fails_with(f, &cfg, "command line");
	s[X86_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	free(s);
}

static void test_bzimage_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;
	size_t big = 63 * MiB;
	uint8_t *rd = malloc(big);

	assert_non_null(rd);
	make_bzimage(f->img);
	cfg = bz_cfg(f, "");
	cfg.initrd.data = rd;
	cfg.initrd.len = big;
	assert_fails_with(f, &cfg, "initrd");
	/* Fits in RAM but not under initrd_addr_max. */
	put32(f->img + 0x22c, 8 * MiB - 1);
	cfg.initrd.len = 7 * MiB;
	assert_fails_with(f, &cfg, "initrd");
	free(rd);
}

/* Every prefix of a valid image: an error up to the entry point, success
 * after; ASan guards against any read past the copy's end. */
static void test_bzimage_every_truncation(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_info info;

	make_bzimage(f->img);
	for (size_t cut = 0; cut <= IMG_LEN; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		struct x86_boot_config cfg = bz_cfg(f, "x");
		int rc;

		assert_non_null(copy);
		memcpy(copy, f->img, cut);
		cfg.kernel.data = copy;
		cfg.kernel.len = cut;
		cfg.initrd.len = 0;
		f->err.msg[0] = '\0';
		rc = x86_load_kernel(&f->gm, &cfg, &info, &f->err);
		if (cut <= SETUP_LEN + BZ_ENTRY64_OFF) {
			assert_int_equal(rc, -1);
			assert_one_line(&f->err);
		} else {
			assert_int_equal(rc, 0);
		}
		free(copy);
	}
}

/* xorshift64: reproducible garbage without global state. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_garbage(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rnd(&seed) % 4096;
		uint8_t *buf = malloc(len ? len : 1);
		struct x86_boot_config cfg = bz_cfg(f, "garbage");
		struct x86_boot_info info;

		assert_non_null(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd(&seed);
		/* A third each: plain noise, bzImage magic, ELF magic, so
		 * the parsers behind detection see garbage too. */
		if (iter % 3 == 1 && len >= 0x270) {
			put16(buf + 0x1fe, 0xaa55);
			memcpy(buf + 0x202, "HdrS", 4);
			buf[0x201] = 0x6a;
			put16(buf + 0x206, 0x020f);
			buf[0x211] |= BZ_LOADED_HIGH;
			buf[0x236] |= BZ_XLF_KERNEL_64;
		} else if (iter % 3 == 2 && len >= 64) {
			memcpy(buf, "\177ELF\2\1", 6);
			put16(buf + 18, EM_X86_64);
			put64(buf + 32, rnd(&seed) % (len + 64));
			put16(buf + 54, sizeof(Elf64_Phdr));
			put16(buf + 56, 1 + rnd(&seed) % 8);
		}
		cfg.kernel.data = buf;
		cfg.kernel.len = len;
		f->err.msg[0] = '\0';
		if (x86_load_kernel(&f->gm, &cfg, &info, &f->err))
			assert_one_line(&f->err);
		free(buf);
	}
}

static void test_not_a_kernel(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg = bz_cfg(f, "");
	static const uint8_t text[] = "#!/bin/sh\necho hello\n";

	cfg.kernel.data = text;
	cfg.kernel.len = sizeof(text);
	assert_fails_with(f, &cfg, "not a Linux bzImage or ELF vmlinux");
	cfg.kernel.len = 0;
	assert_fails_with(f, &cfg, "not a Linux bzImage or ELF vmlinux");
}

/* ---- ELF / PVH ---- */

#define ELF_LEN      0x600
#define ELF_NOTE_OFF 0x100
#define ELF_SEG_OFF  0x200
#define ELF_SEG_LEN  0x300
#define ELF_SEG_MEM  0x3000
#define ELF_PADDR    (16 * MiB)
#define PVH_ENTRY    (ELF_PADDR + 0x40)

struct elf_img {
	uint8_t b[ELF_LEN];
};

/* An x86-64 vmlinux-shaped ELF: PT_LOAD at 16 MiB (with bss), a PT_NOTE
 * holding an unrelated note and then the PVH entry note. */
static void make_elf(struct elf_img *e, int with_note, unsigned int descsz)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[2] = { { 0 } };
	Elf64_Nhdr nh;
	uint8_t *p = e->b + ELF_NOTE_OFF;

	memset(e->b, 0, sizeof(e->b));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xffffffff81000000ULL;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;
	memcpy(e->b, &eh, sizeof(eh));

	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = ELF_SEG_OFF;
	ph[0].p_vaddr = 0xffffffff81000000ULL;
	ph[0].p_paddr = ELF_PADDR;
	ph[0].p_filesz = ELF_SEG_LEN;
	ph[0].p_memsz = ELF_SEG_MEM;
	ph[1].p_type = PT_NOTE;
	ph[1].p_offset = ELF_NOTE_OFF;

	/* A GNU build-id note first: the loader must skip it. */
	nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 20, .n_type = 3 };
	memcpy(p, &nh, sizeof(nh));
	memcpy(p + 12, "GNU", 4);
	p += 12 + 4 + 20;
	if (with_note) {
		nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = descsz,
				   .n_type = 18 };
		memcpy(p, &nh, sizeof(nh));
		memcpy(p + 12, "Xen", 4);
		if (descsz == 8)
			put64(p + 16, PVH_ENTRY);
		else
			put32(p + 16, PVH_ENTRY);
		p += 12 + 4 + descsz;
	}
	ph[1].p_filesz = (uint64_t)(p - (e->b + ELF_NOTE_OFF));
	memcpy(e->b + sizeof(eh), ph, sizeof(ph));
	for (size_t i = 0; i < ELF_SEG_LEN; i++)
		e->b[ELF_SEG_OFF + i] = (uint8_t)(i * 13 + 1);
}

struct pvh_start {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct pvh_mod {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct pvh_mm {
	uint64_t addr, size;
	uint32_t type, reserved;
};

static void check_pvh(struct fixture *f, const struct elf_img *e)
{
	struct x86_boot_config cfg = bz_cfg(f, "console=hvc0");
	struct x86_boot_info info;
	struct pvh_start si;
	struct pvh_mod mod;
	struct e820_map want;
	uint8_t *bss;

	cfg.kernel.data = e->b;
	cfg.kernel.len = sizeof(e->b);
	/* bss must be zeroed even over stale guest memory. */
	bss = guest_mem_ptr(&f->gm, ELF_PADDR, ELF_SEG_MEM);
	memset(bss, 0xcc, ELF_SEG_MEM);

	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	assert_int_equal(info.mode, X86_BOOT_PVH);
	assert_int_equal(info.entry, PVH_ENTRY);
	assert_int_equal(info.params_gpa, X86_PVH_START_GPA);
	assert_memory_equal(bss, e->b + ELF_SEG_OFF, ELF_SEG_LEN);
	for (size_t i = ELF_SEG_LEN; i < ELF_SEG_MEM; i++)
		assert_int_equal(bss[i], 0);

	assert_int_equal(guest_mem_read(&f->gm, X86_PVH_START_GPA, &si,
					sizeof(si)), 0);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.cmdline_paddr, X86_CMDLINE_GPA);
	assert_string_equal(guest_mem_ptr(&f->gm, si.cmdline_paddr, 1),
			    "console=hvc0");
	assert_int_equal(si.rsdp_paddr, RSDP_GPA);

	assert_int_equal(si.nr_modules, 1);
	assert_true(si.modlist_paddr >= X86_PVH_START_GPA + sizeof(si));
	assert_true(si.modlist_paddr + sizeof(mod) <= X86_PVH_START_GPA + 4096);
	assert_int_equal(guest_mem_read(&f->gm, si.modlist_paddr, &mod,
					sizeof(mod)), 0);
	assert_int_equal(mod.paddr, info.initrd_gpa);
	assert_int_equal(mod.size, sizeof(f->initrd));
	assert_int_equal(mod.paddr & 0xfff, 0);
	assert_true(mod.paddr >= ELF_PADDR + ELF_SEG_MEM);
	assert_true(mod.paddr + mod.size <= 64 * MiB);
	assert_memory_equal(guest_mem_ptr(&f->gm, mod.paddr, mod.size),
			    f->initrd, sizeof(f->initrd));

	x86_e820_build(&f->gm, &want);
	assert_int_equal(si.memmap_entries, want.nr);
	assert_true(si.memmap_paddr >= X86_PVH_START_GPA + sizeof(si));
	assert_true(si.memmap_paddr + want.nr * sizeof(struct pvh_mm) <=
		    X86_PVH_START_GPA + 4096);
	/* The three areas in the page must not overlap. */
	assert_true(si.memmap_paddr >= si.modlist_paddr + sizeof(mod) ||
		    si.modlist_paddr >= si.memmap_paddr +
					want.nr * sizeof(struct pvh_mm));
	for (unsigned int i = 0; i < want.nr; i++) {
		struct pvh_mm m;

		assert_int_equal(guest_mem_read(&f->gm, si.memmap_paddr +
						i * sizeof(m), &m, sizeof(m)), 0);
		assert_int_equal(m.addr, want.entry[i].addr);
		assert_int_equal(m.size, want.entry[i].size);
		assert_int_equal(m.type, want.entry[i].type);
	}
}

static void test_pvh_note64(void **state)
{
	struct elf_img e;

	make_elf(&e, 1, 8);
	check_pvh(*state, &e);
}

static void test_pvh_note32(void **state)
{
	struct elf_img e;

	make_elf(&e, 1, 4);
	check_pvh(*state, &e);
}

static struct x86_boot_config elf_cfg(struct fixture *f,
				      const struct elf_img *e)
{
	struct x86_boot_config cfg = bz_cfg(f, "");

	cfg.kernel.data = e->b;
	cfg.kernel.len = sizeof(e->b);
	return cfg;
}

static Elf64_Phdr *phdr(struct elf_img *e, unsigned int i)
{
	return (Elf64_Phdr *)(void *)(e->b + sizeof(Elf64_Ehdr) +
				      i * sizeof(Elf64_Phdr));
}

static void test_pvh_no_note(void **state)
{
	struct fixture *f = *state;
	struct elf_img e;
	struct x86_boot_config cfg;

	make_elf(&e, 0, 8);
	cfg = elf_cfg(f, &e);
	assert_fails_with(f, &cfg, "no PVH entry note");
	assert_non_null(strstr(f->err.msg, "CONFIG_PVH"));
}

static void test_pvh_bad_headers(void **state)
{
	struct fixture *f = *state;
	struct elf_img e;
	struct x86_boot_config cfg;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)(void *)e.b;

	make_elf(&e, 1, 8);
	cfg = elf_cfg(f, &e);
	eh->e_phoff = ELF_LEN - 60;
	assert_fails_with(f, &cfg, "program headers");

	make_elf(&e, 1, 8);
	eh->e_phoff = UINT64_MAX - 8;
	assert_fails_with(f, &cfg, "program headers");

	make_elf(&e, 1, 8);
	eh->e_phnum = 0xffff;
	assert_fails_with(f, &cfg, "program headers");

	make_elf(&e, 1, 8);
	eh->e_phentsize = 8;
	assert_fails_with(f, &cfg, "program headers");

	make_elf(&e, 1, 8);
	eh->e_machine = EM_386;
	assert_fails_with(f, &cfg, "x86-64");

	make_elf(&e, 1, 8);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_fails_with(f, &cfg, "x86-64");
}

static void test_pvh_bad_segments(void **state)
{
	struct fixture *f = *state;
	struct elf_img e;
	struct x86_boot_config cfg;

	make_elf(&e, 1, 8);
	cfg = elf_cfg(f, &e);
	phdr(&e, 0)->p_paddr = 256 * MiB;   /* beyond 64 MiB of RAM */
	assert_fails_with(f, &cfg, "outside guest RAM");

	make_elf(&e, 1, 8);
	phdr(&e, 0)->p_paddr = 64 * MiB - 0x1000; /* straddles the end */
	assert_fails_with(f, &cfg, "outside guest RAM");

	make_elf(&e, 1, 8);
	phdr(&e, 0)->p_paddr = UINT64_MAX - 0xfff; /* wraps */
	assert_fails_with(f, &cfg, "outside guest RAM");

	make_elf(&e, 1, 8);
	phdr(&e, 0)->p_offset = ELF_LEN - 0x10;
	assert_fails_with(f, &cfg, "outside the");

	make_elf(&e, 1, 8);
	phdr(&e, 0)->p_filesz = UINT64_MAX;
	phdr(&e, 0)->p_memsz = UINT64_MAX;
	assert_fails_with(f, &cfg, "outside the");

	make_elf(&e, 1, 8);
	phdr(&e, 0)->p_filesz = ELF_SEG_MEM + 1;
	assert_fails_with(f, &cfg, "file size above memory size");

	make_elf(&e, 1, 8);
	phdr(&e, 0)->p_paddr = X86_BOOT_PARAMS_GPA;
	assert_fails_with(f, &cfg, "below 1 MiB");

	/* A note segment past the file end hides the note; no crash. */
	make_elf(&e, 1, 8);
	phdr(&e, 1)->p_offset = UINT64_MAX - 4;
	assert_fails_with(f, &cfg, "no PVH entry note");

	/* A note whose sizes overrun its segment. */
	make_elf(&e, 1, 8);
	put32(e.b + ELF_NOTE_OFF, 0xfffffff0);
	assert_fails_with(f, &cfg, "no PVH entry note");
}

static void test_pvh_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	struct elf_img e;
	struct x86_boot_config cfg;
	uint8_t *rd = malloc(48 * MiB);

	assert_non_null(rd);
	make_elf(&e, 1, 8);
	cfg = elf_cfg(f, &e);
	cfg.initrd.data = rd;
	cfg.initrd.len = 48 * MiB; /* 16 MiB kernel + 48 MiB > 64 MiB */
	assert_fails_with(f, &cfg, "initrd");
	free(rd);
}

static void test_pvh_every_truncation(void **state)
{
	struct fixture *f = *state;
	struct elf_img e;
	struct x86_boot_info info;

	make_elf(&e, 1, 8);
	for (size_t cut = 0; cut <= ELF_LEN; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		struct x86_boot_config cfg = elf_cfg(f, &e);
		int rc;

		assert_non_null(copy);
		memcpy(copy, e.b, cut);
		cfg.kernel.data = copy;
		cfg.kernel.len = cut;
		f->err.msg[0] = '\0';
		rc = x86_load_kernel(&f->gm, &cfg, &info, &f->err);
		/* The segment is the last thing in the file. */
		if (cut < ELF_SEG_OFF + ELF_SEG_LEN) {
			assert_int_equal(rc, -1);
			assert_one_line(&f->err);
		} else {
			assert_int_equal(rc, 0);
		}
		free(copy);
	}
}

/* A guest with RAM above 4 GiB: the initrd still goes below the MMIO hole
 * and under initrd_addr_max; the zero page lists both RAM ranges. */
static void test_bzimage_5g(void **state)
{
	const struct guest_region l[] = {
		{ .gpa = 0, .size = 3 * GiB },
		{ .gpa = X86_4GIB, .size = 2 * GiB },
	};
	struct fixture *f = *state;
	struct guest_mem big;
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	const struct boot_params *bp;

	assert_int_equal(guest_mem_map(&big, l, 2, &f->err), 0);
	make_bzimage(f->img);
	put32(f->img + 0x22c, 0xffffffff);
	cfg = bz_cfg(f, "mem test");
	assert_int_equal(x86_load_kernel(&big, &cfg, &info, &f->err), 0);
	bp = zero_page(&big);
	assert_int_equal(bp->e820_entries, 4);
	assert_int_equal(bp->e820_table[3].addr, X86_4GIB);
	assert_int_equal(bp->e820_table[3].size, 2 * GiB);
	assert_int_equal(info.initrd_gpa,
			 (3 * GiB - sizeof(f->initrd)) & ~0xfffULL);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	guest_mem_unmap(&big);
}

/* The end-to-end triple-fault guest is a bzImage this loader accepts. */
static void test_triplefault_image(void **state)
{
	struct fixture *f = *state;
	FILE *fp = fopen(TRIPLEFAULT_IMAGE, "rb");
	static const char msg[] = "TRIPLEFAULT-GUEST";
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	const struct boot_params *bp;
	uint8_t *buf, *mem;
	size_t len, setup;
	long n;

	if (!fp) {
		print_message("%s not built; skipping\n", TRIPLEFAULT_IMAGE);
		skip();
	}
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0 && n < (long)MiB);
	rewind(fp);
	len = (size_t)n;
	buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, fp), len);
	fclose(fp);

	cfg = bz_cfg(f, "console=ttyS0");
	cfg.kernel.data = buf;
	cfg.kernel.len = len;
	cfg.initrd.len = 0;
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	assert_int_equal(info.mode, X86_BOOT_LINUX64);
	assert_int_equal(info.entry, X86_HIGH_MEM_GPA + 0x200);
	bp = zero_page(&f->gm);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_true(bp->hdr.xloadflags & BZ_XLF_KERNEL_64);
	setup = ((size_t)(bp->hdr.setup_sects ? bp->hdr.setup_sects : 4) + 1) * 512;
	assert_true(len > setup + 0x200);
	mem = guest_mem_ptr(&f->gm, X86_HIGH_MEM_GPA, len - setup);
	assert_memory_equal(mem, buf + setup, len - setup);
	assert_int_equal(mem[0x200], 0xfa); /* cli at the 64-bit entry */
	assert_non_null(memmem(mem + 0x200, len - setup - 0x200, msg,
			       sizeof(msg) - 1));
	free(buf);
}

/* ---- images read from files (what ringvm does: pread, no copy) ---- */

/* A file holding len bytes of data, as an fd. */
static int file_of(const void *data, size_t len)
{
	int fd = memfd_create("image", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* The same guest memory from files as from buffers, for both formats. */
static void test_images_from_files(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;
	struct x86_boot_info info;
	struct elf_img e;
	int kfd, rfd;

	make_bzimage(f->img);
	cfg = bz_cfg(f, "console=ttyS0");
	kfd = file_of(f->img, IMG_LEN);
	rfd = file_of(f->initrd, sizeof(f->initrd));
	cfg.kernel = (struct boot_image){ .fd = kfd, .len = IMG_LEN };
	cfg.initrd = (struct boot_image){ .fd = rfd, .len = sizeof(f->initrd) };
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	assert_int_equal(info.mode, X86_BOOT_LINUX64);
	assert_memory_equal(guest_mem_ptr(&f->gm, X86_HIGH_MEM_GPA, PM_LEN),
			    f->img + SETUP_LEN, PM_LEN);
	assert_memory_equal(guest_mem_ptr(&f->gm, info.initrd_gpa, sizeof(f->initrd)),
			    f->initrd, sizeof(f->initrd));
	close(kfd);

	make_elf(&e, 1, 8);
	kfd = file_of(e.b, sizeof(e.b));
	cfg.kernel = (struct boot_image){ .fd = kfd, .len = sizeof(e.b) };
	memset(guest_mem_ptr(&f->gm, ELF_PADDR, ELF_SEG_MEM), 0xcc, ELF_SEG_MEM);
	assert_int_equal(x86_load_kernel(&f->gm, &cfg, &info, &f->err), 0);
	assert_int_equal(info.mode, X86_BOOT_PVH);
	assert_int_equal(info.entry, PVH_ENTRY);
	assert_memory_equal(guest_mem_ptr(&f->gm, ELF_PADDR, ELF_SEG_LEN),
			    e.b + ELF_SEG_OFF, ELF_SEG_LEN);
	assert_int_equal(*(uint8_t *)guest_mem_ptr(&f->gm, ELF_PADDR + ELF_SEG_MEM - 1, 1), 0);
	assert_memory_equal(guest_mem_ptr(&f->gm, info.initrd_gpa, sizeof(f->initrd)),
			    f->initrd, sizeof(f->initrd));
	close(kfd);
	close(rfd);
}

/* A file that shrank after it was measured: a one-line error, for the
 * kernel of either format and for the initrd. */
static void test_images_shrunk_files(void **state)
{
	struct fixture *f = *state;
	struct x86_boot_config cfg;
	struct elf_img e;
	int fd;

	make_bzimage(f->img);
	cfg = bz_cfg(f, "");
	fd = file_of(f->img, IMG_LEN - 100);
	cfg.kernel = (struct boot_image){ .fd = fd, .len = IMG_LEN };
	assert_fails_with(f, &cfg, "cannot read the bzImage");
	close(fd);

	make_elf(&e, 1, 8);
	fd = file_of(e.b, ELF_SEG_OFF + 0x100);
	cfg.kernel = (struct boot_image){ .fd = fd, .len = sizeof(e.b) };
	assert_fails_with(f, &cfg, "cannot read the ELF kernel");
	close(fd);

	fd = file_of(f->img, IMG_LEN);
	cfg = bz_cfg(f, "");
	cfg.kernel = (struct boot_image){ .fd = fd, .len = IMG_LEN };
	cfg.initrd = (struct boot_image){ .fd = fd, .len = 64 * 4096 };
	assert_fails_with(f, &cfg, "cannot read the initrd");
	close(fd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_64m, teardown)
	const struct CMUnitTest tests[] = {
		T(test_bzimage_boot_params),
		T(test_bzimage_initrd_addr_max),
		T(test_bzimage_no_initrd_old_rsdp),
		T(test_bzimage_kernel_too_big),
		T(test_bzimage_setup_sects_past_end),
		T(test_bzimage_bad_header),
		T(test_bzimage_cmdline_limits),
		T(test_bzimage_initrd_too_big),
		T(test_bzimage_every_truncation),
		T(test_bzimage_5g),
		T(test_garbage),
		T(test_not_a_kernel),
		T(test_pvh_note64),
		T(test_pvh_note32),
		T(test_pvh_no_note),
		T(test_pvh_bad_headers),
		T(test_pvh_bad_segments),
		T(test_pvh_initrd_too_big),
		T(test_pvh_every_truncation),
		T(test_triplefault_image),
		T(test_images_from_files),
		T(test_images_shrunk_files),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
