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

#define GUEST_MEM_MAX_REGIONS 4

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
};

/* Maps anonymous memory for each (gpa, size) pair; regions must not
 * overlap and sizes must be page multiples. */
int guest_mem_map(struct guest_mem *gm, const struct guest_region *layout,
		  unsigned int nr, struct rv_err *err);
/* The same, backed by a memory file (ringvm's snapshot layout: the regions
 * back to back from offset 0) mapped MAP_PRIVATE: restore time does not
 * grow with guest RAM, and the file stays as it was (restore it again). The
 * caller checks the file's size; fd may be closed afterwards. */
int guest_mem_map_file(struct guest_mem *gm, const struct guest_region *layout,
		       unsigned int nr, int fd, struct rv_err *err);
void guest_mem_unmap(struct guest_mem *gm);

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
