#include "mem/guest_mem.h"

#include <string.h>
#include <sys/mman.h>

/* Anonymous memory (fd < 0), or the file fd mapped privately with the
 * regions back to back from offset 0. */
static int map_regions(struct guest_mem *gm, const struct guest_region *layout,
		       unsigned int nr, int fd, struct rv_err *err)
{
	uint64_t off = 0;

	memset(gm, 0, sizeof(*gm));
	if (nr == 0 || nr > GUEST_MEM_MAX_REGIONS)
		return rv_fail(err, "guest memory: %u regions (1..%d allowed)",
			       nr, GUEST_MEM_MAX_REGIONS);
	for (unsigned int i = 0; i < nr; i++) {
		const struct guest_region *l = &layout[i];
		void *p;

		if (l->size == 0 || (l->size & 0xfff) || (l->gpa & 0xfff) ||
		    l->gpa + l->size < l->gpa) {
			guest_mem_unmap(gm);
			return rv_fail(err, "guest memory: bad region %#llx+%#llx",
				       (unsigned long long)l->gpa,
				       (unsigned long long)l->size);
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct guest_region *o = &layout[j];

			if (l->gpa < o->gpa + o->size && o->gpa < l->gpa + l->size) {
				guest_mem_unmap(gm);
				return rv_fail(err, "guest memory: regions overlap");
			}
		}
		/* NORESERVE: guest RAM is touched lazily; untouched pages cost
		 * nothing, which is what keeps the VMM's RSS honest. A file is
		 * mapped privately: the guest's writes never reach it, and
		 * pages are read in on first touch, so mapping is as quick
		 * for 1 GiB as for 1 MiB. */
		if (fd < 0)
			p = mmap(NULL, l->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		else
			p = mmap(NULL, l->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_NORESERVE, fd, (off_t)off);
		if (p == MAP_FAILED) {
			guest_mem_unmap(gm);
			return rv_fail_errno(err, "cannot map %llu MiB of guest memory",
					     (unsigned long long)(l->size >> 20));
		}
		if (fd < 0)
			madvise(p, l->size, MADV_MERGEABLE);
		off += l->size;
		gm->region[i] = *l;
		gm->region[i].hva = p;
		gm->nr = i + 1;
		gm->ram_size += l->size;
	}
	return 0;
}

int guest_mem_map(struct guest_mem *gm, const struct guest_region *layout,
		  unsigned int nr, struct rv_err *err)
{
	return map_regions(gm, layout, nr, -1, err);
}

int guest_mem_map_file(struct guest_mem *gm, const struct guest_region *layout,
		       unsigned int nr, int fd, struct rv_err *err)
{
	return map_regions(gm, layout, nr, fd, err);
}

void guest_mem_unmap(struct guest_mem *gm)
{
	for (unsigned int i = 0; i < gm->nr; i++)
		munmap(gm->region[i].hva, gm->region[i].size);
	memset(gm, 0, sizeof(*gm));
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->region[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		return r->hva + off;
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst,
		   uint64_t len)
{
	const void *p = guest_mem_ptr(gm, gpa, len);

	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
		    uint64_t len)
{
	void *p = guest_mem_ptr(gm, gpa, len);

	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}
