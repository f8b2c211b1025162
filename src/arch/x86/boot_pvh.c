/* ELF vmlinux through the PVH direct boot ABI: PT_LOAD segments at their
 * physical addresses, entered in 32-bit flat protected mode at the address
 * of the "Xen" note XEN_ELFNOTE_PHYS32_ENTRY with EBX pointing at an
 * hvm_start_info (Xen public/arch-x86/hvm/start_info.h, version 1). */
#include <elf.h>
#include <string.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/layout.h"

#define PVH_NOTE_NAME        "Xen"
#define PVH_NOTE_PHYS32_ENTRY 18
#define PVH_START_MAGIC      0x336ec578u
#define PVH_START_VERSION    1

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;  /* same numbering as e820 */
	uint32_t reserved;
};

_Static_assert(sizeof(struct pvh_start_info) == 56, "start_info layout");
_Static_assert(sizeof(struct pvh_modlist_entry) == 32, "modlist layout");
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "memmap layout");

/* Everything lives in the one page at X86_PVH_START_GPA. */
#define PVH_MODLIST_OFF sizeof(struct pvh_start_info)
#define PVH_MEMMAP_OFF  (PVH_MODLIST_OFF + sizeof(struct pvh_modlist_entry))
_Static_assert(PVH_MEMMAP_OFF + E820_MAX_ENTRIES *
	       sizeof(struct pvh_memmap_entry) <= BOOT_PAGE,
	       "start_info page overflow");

#define NOTE_SCAN_MAX (1ULL << 20)

/* True if [off, off + size) lies inside a file of len bytes. */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static int read_ehdr(const struct boot_image *k, Elf64_Ehdr *eh,
		     struct rv_err *err)
{
	size_t len = k->len;

	if (len < sizeof(*eh))
		return rv_fail(err, "ELF kernel truncated: %zu bytes, header needs %zu",
			       len, sizeof(*eh));
	if (boot_image_read(k, 0, eh, sizeof(*eh)) < 0)
		return rv_fail_errno(err, "cannot read the ELF kernel");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return rv_fail(err, "ELF kernel is not a little-endian x86-64 ELF64 file");
	if (eh->e_phnum == 0 || eh->e_phentsize < sizeof(Elf64_Phdr))
		return rv_fail(err, "ELF kernel has no usable program headers");
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize, len))
		return rv_fail(err, "ELF program headers (%u at %#llx) lie outside the %zu-byte file",
			       eh->e_phnum, (unsigned long long)eh->e_phoff,
			       len);
	return 0;
}

static int read_phdr(const struct boot_image *k, const Elf64_Ehdr *eh,
		     unsigned int i, Elf64_Phdr *ph, struct rv_err *err)
{
	if (boot_image_read(k, eh->e_phoff + (uint64_t)i * eh->e_phentsize, ph,
			    sizeof(*ph)) < 0)
		return rv_fail_errno(err, "cannot read the ELF kernel");
	return 0;
}

/* Reads the segment's file bytes straight into guest RAM. */
static int load_segment(const struct guest_mem *gm, const struct boot_image *k,
			const Elf64_Phdr *ph, struct rv_err *err)
{
	size_t len = k->len;
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz)
		return rv_fail(err, "ELF segment at %#llx has file size above memory size",
			       (unsigned long long)ph->p_paddr);
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return rv_fail(err, "ELF segment at %#llx: file range %#llx+%#llx is outside the %zu-byte file",
			       (unsigned long long)ph->p_paddr,
			       (unsigned long long)ph->p_offset,
			       (unsigned long long)ph->p_filesz, len);
	/* ringvm's own boot structures live below 1 MiB. */
	if (ph->p_paddr < X86_HIGH_MEM_GPA)
		return rv_fail(err, "ELF segment at %#llx overlaps the boot area below 1 MiB",
			       (unsigned long long)ph->p_paddr);
	dst = guest_mem_ptr(gm, ph->p_paddr, ph->p_memsz);
	if (!dst)
		return rv_fail(err, "ELF segment %#llx+%#llx lies outside guest RAM",
			       (unsigned long long)ph->p_paddr,
			       (unsigned long long)ph->p_memsz);
	if (boot_image_read(k, ph->p_offset, dst, ph->p_filesz) < 0)
		return rv_fail_errno(err, "cannot read the ELF kernel");
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

/* Looks through one PT_NOTE segment for the PVH entry note. Returns 1 and
 * sets *entry if found, 0 if not. */
static int find_entry_note(const struct boot_image *k, const Elf64_Phdr *ph,
			   uint64_t *entry)
{
	uint64_t off = ph->p_offset, end;

	if (!in_file(ph->p_offset, ph->p_filesz, k->len))
		return 0;
	/* A kernel's notes take a few hundred bytes; a hostile segment of
	 * tiny notes is read to its first MiB, not one pread per note to
	 * its end. */
	end = ph->p_offset + (ph->p_filesz < NOTE_SCAN_MAX ? ph->p_filesz : NOTE_SCAN_MAX);
	while (end - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name, desc, next;
		char nm[sizeof(PVH_NOTE_NAME)];

		if (boot_image_read(k, off, &nh, sizeof(nh)) < 0)
			return 0;
		name = off + sizeof(nh);
		desc = name + (((uint64_t)nh.n_namesz + 3) & ~3ULL);
		next = desc + (((uint64_t)nh.n_descsz + 3) & ~3ULL);
		if (desc > end || next > end)
			return 0;
		if (nh.n_type == PVH_NOTE_PHYS32_ENTRY &&
		    nh.n_namesz == sizeof(PVH_NOTE_NAME) &&
		    boot_image_read(k, name, nm, sizeof(nm)) == 0 &&
		    memcmp(nm, PVH_NOTE_NAME, sizeof(PVH_NOTE_NAME)) == 0) {
			uint32_t e32;

			if (nh.n_descsz == 8)
				return boot_image_read(k, desc, entry, 8) == 0;
			if (nh.n_descsz == 4 &&
			    boot_image_read(k, desc, &e32, 4) == 0) {
				*entry = e32;
				return 1;
			}
		}
		off = next;
	}
	return 0;
}

static void build_start_info(uint8_t *page, const struct x86_boot_config *cfg,
			     const struct e820_map *e820, uint64_t initrd_gpa)
{
	struct pvh_start_info si = {
		.magic = PVH_START_MAGIC,
		.version = PVH_START_VERSION,
		.cmdline_paddr = X86_CMDLINE_GPA,
		.rsdp_paddr = cfg->rsdp_gpa,
		.memmap_paddr = X86_PVH_START_GPA + PVH_MEMMAP_OFF,
		.memmap_entries = e820->nr,
	};

	memset(page, 0, BOOT_PAGE);
	if (initrd_gpa) {
		struct pvh_modlist_entry mod = {
			.paddr = initrd_gpa,
			.size = cfg->initrd.len,
		};

		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_START_GPA + PVH_MODLIST_OFF;
		memcpy(page + PVH_MODLIST_OFF, &mod, sizeof(mod));
	}
	for (unsigned int i = 0; i < e820->nr; i++) {
		struct pvh_memmap_entry m = {
			.addr = e820->entry[i].addr,
			.size = e820->entry[i].size,
			.type = e820->entry[i].type,
		};

		memcpy(page + PVH_MEMMAP_OFF + i * sizeof(m), &m, sizeof(m));
	}
	memcpy(page, &si, sizeof(si));
}

int x86_load_pvh(const struct guest_mem *gm,
		 const struct x86_boot_config *cfg,
		 const struct e820_map *e820,
		 struct x86_boot_info *info, struct rv_err *err)
{
	const struct boot_image *k = &cfg->kernel;
	uint8_t page[BOOT_PAGE];
	uint64_t entry = 0, top = X86_HIGH_MEM_GPA, initrd_gpa = 0, ceil;
	unsigned int loaded = 0;
	int found = 0;
	Elf64_Ehdr eh;

	if (read_ehdr(k, &eh, err))
		return -1;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (read_phdr(k, &eh, i, &ph, err))
			return -1;
		if (ph.p_type == PT_NOTE && !found)
			found = find_entry_note(k, &ph, &entry);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (load_segment(gm, k, &ph, err))
			return -1;
		if (ph.p_paddr + ph.p_memsz > top)
			top = ph.p_paddr + ph.p_memsz;
		loaded++;
	}
	if (!found)
		return rv_fail(err, "ELF kernel has no PVH entry note (Xen ELF note PHYS32_ENTRY); use the bzImage or a kernel built with CONFIG_PVH");
	if (loaded == 0)
		return rv_fail(err, "ELF kernel has no loadable segments");
	if (entry >= X86_4GIB || !guest_mem_ptr(gm, entry, 1))
		return rv_fail(err, "ELF kernel PVH entry %#llx is outside 32-bit guest RAM",
			       (unsigned long long)entry);

	/* No kernel cmdline_size to honour here: the ABI only bounds it by
	 * our own buffer (Linux truncates to its COMMAND_LINE_SIZE). */
	if (boot_put_cmdline(gm, cfg->cmdline, X86_CMDLINE_MAX - 1, err))
		return -1;

	if (cfg->initrd.len) {
		ceil = boot_low_ram_end(gm);
		if (ceil > X86_4GIB)
			ceil = X86_4GIB;
		if (boot_put_initrd(gm, &cfg->initrd, top, ceil,
				    &initrd_gpa, err))
			return -1;
	}

	if (e820->nr > E820_MAX_ENTRIES)
		return rv_fail(err, "e820 map has %u entries (at most %d)",
			       e820->nr, E820_MAX_ENTRIES);
	build_start_info(page, cfg, e820, initrd_gpa);
	if (guest_mem_write(gm, X86_PVH_START_GPA, page, sizeof(page)))
		return rv_fail(err, "PVH start_info at %#llx is outside guest RAM",
			       (unsigned long long)X86_PVH_START_GPA);

	info->mode = X86_BOOT_PVH;
	info->entry = entry;
	info->params_gpa = X86_PVH_START_GPA;
	info->initrd_gpa = initrd_gpa;
	return 0;
}
