/* Guest physical memory: a few regions of host-mapped RAM and the single
 * checked translation every device and loader goes through. Knows nothing
 * of KVM: devices and unit tests use it without /dev/kvm. */
#ifndef RINGVM_MEM_GUEST_MEM_H
#define RINGVM_MEM_GUEST_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define GUEST_MEM_MAX_REGIONS 8   /* a vhost-user memory table's */

struct guest_region {
	uint64_t gpa;  /* guest physical base */
	uint64_t size; /* bytes */
	uint8_t *hva;  /* host mapping of the whole region */
};

struct guest_mem {
	struct guest_region region[GUEST_MEM_MAX_REGIONS];
	unsigned int nr;
	uint64_t ram_size; /* sum of region sizes */
	/* Pages ringvm's own device threads wrote (virtio buffers and used
	 * rings), one bit per 4 KiB page, while a migration logs: KVM's dirty
	 * log sees only what vCPUs write. Kept until guest_mem_unmap, so a
	 * device marking while logging stops never touches freed memory. */
	_Atomic uint64_t *dirty[GUEST_MEM_MAX_REGIONS];
	_Atomic bool logging;
	/* Set by guest_mem_map_memfd: RAM another process may map too (a
	 * vhost-user back end), region i at share_off[i] of share_fd. */
	bool shared;
	int share_fd;
	uint64_t share_off[GUEST_MEM_MAX_REGIONS];
};

/* What backs anonymous guest RAM on the host. */
enum guest_mem_backing {
	GUEST_MEM_THP,      /* 4 KiB pages, 2 MiB-aligned, transparent huge
			     * pages asked for (MADV_HUGEPAGE): the default */
	GUEST_MEM_4K,       /* 4 KiB pages only (MADV_NOHUGEPAGE) */
	GUEST_MEM_HUGETLB,  /* 2 MiB hugetlbfs pages, reserved up front */
};

#define GUEST_MEM_HUGE_PAGE (2ULL << 20)

/* Maps anonymous memory for each (gpa, size) pair; regions must not
 * overlap and sizes must be page multiples (2 MiB multiples, at 2 MiB
 * aligned addresses, for GUEST_MEM_HUGETLB, which is refused with the
 * host's count when it has too few free huge pages). guest_mem_map is
 * guest_mem_map_backed with GUEST_MEM_THP. */
int guest_mem_map_backed(struct guest_mem *gm, const struct guest_region *layout,
			 unsigned int nr, enum guest_mem_backing backing,
			 struct rv_err *err);
int guest_mem_map(struct guest_mem *gm, const struct guest_region *layout,
		  unsigned int nr, struct rv_err *err);
/* "thp", "4k" or "hugepages" (the --mem-backing values); NULL if out of
 * range. */
const char *guest_mem_backing_name(enum guest_mem_backing b);
/* The same, backed by a memory file (ringvm's snapshot layout: the regions
 * back to back from offset 0) mapped MAP_PRIVATE: restore time does not
 * grow with guest RAM, and the file stays as it was (restore it again). The
 * caller checks the file's size; fd may be closed afterwards. */
int guest_mem_map_file(struct guest_mem *gm, const struct guest_region *layout,
		       unsigned int nr, int fd, struct rv_err *err);
/* Like guest_mem_map_backed, but in one memfd (hugetlbfs pages for
 * GUEST_MEM_HUGETLB), regions back to back, mapped shared: what a VMM
 * with vhost-user devices hands its back ends (gm->share_fd). */
int guest_mem_map_memfd(struct guest_mem *gm, const struct guest_region *layout,
			unsigned int nr, enum guest_mem_backing backing,
			struct rv_err *err);
/* Another process's guest RAM, as a vhost-user back end receives it:
 * region i from fds[i] at offset offs[i] (a page multiple), shared, so
 * both sides see one memory. The fds may be closed afterwards. */
int guest_mem_map_shared(struct guest_mem *gm, const struct guest_region *layout,
			 unsigned int nr, const int *fds, const uint64_t *offs,
			 struct rv_err *err);
void guest_mem_unmap(struct guest_mem *gm);

/* Host-side advice for mapped guest RAM: never in ringvm's core dumps (it
 * is the guest's data, and large), and open to KSM merging only when
 * MERGE is set (--mem-merge): merged pages save host memory but let one
 * guest learn another's memory contents from copy-on-write timing. */
int guest_mem_advise(const struct guest_mem *gm, bool merge, struct rv_err *err);

/* Writes guest RAM to a new memory file at path (mode 0600): regions back
 * to back, zero pages left as holes. Atomic like a state file: a temporary
 * file, fsync, rename; on failure an existing file at path is untouched.
 * *written_bytes (may be NULL) receives the bytes of data written. */
int guest_mem_save_file(const struct guest_mem *gm, const char *path,
			uint64_t *written_bytes, struct rv_err *err);

/* Host pointer for [gpa, gpa + len) if that range lies wholly inside one
 * region; NULL otherwise (including on arithmetic overflow). len 0 is
 * accepted for any gpa inside or at the end of a region. */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers built on guest_mem_ptr; return 0 or -1 when out of range. */
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst,
		   uint64_t len);
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
		    uint64_t len);

/* Device-written page tracking (see struct guest_mem). Start clears the
 * bitmaps; mark is a no-op unless logging and ignores what lies outside
 * RAM; collect ORs region r's bits into out (region size / 4 KiB / 64
 * words) and clears them. Mark and collect are safe from any thread. */
int guest_mem_dirty_start(struct guest_mem *gm, struct rv_err *err);
void guest_mem_dirty_stop(struct guest_mem *gm);
void guest_mem_mark_dirty(const struct guest_mem *gm, uint64_t gpa,
			  uint64_t len);
void guest_mem_dirty_collect(struct guest_mem *gm, unsigned int r,
			     uint64_t *out);

#endif
