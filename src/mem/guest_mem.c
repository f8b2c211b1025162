#include "mem/guest_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A number from a sysfs file; -1 when it cannot be read. */
static long long sysfs_number(const char *path)
{
	FILE *f = fopen(path, "re");
	long long v = -1;

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Refuses, naming both counts, when the host has fewer free 2 MiB pages
 * (free minus those reserved by others) than the layout needs. */
static int check_huge_pages(const struct guest_region *layout, unsigned int nr,
			    struct rv_err *err)
{
	const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
	char path[128];
	long long need = 0, nfree, resv;

	for (unsigned int i = 0; i < nr; i++) {
		if ((layout[i].size | layout[i].gpa) & (GUEST_MEM_HUGE_PAGE - 1))
			return rv_fail(err, "--mem-backing hugepages: guest RAM must be a multiple of 2 MiB");
		need += (long long)(layout[i].size / GUEST_MEM_HUGE_PAGE);
	}
	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	nfree = sysfs_number(path);
	snprintf(path, sizeof(path), "%s/resv_hugepages", dir);
	resv = sysfs_number(path);
	if (nfree < 0)
		return rv_fail(err, "--mem-backing hugepages: this host has no 2 MiB huge pages (%s missing)", dir);
	if (resv > 0)
		nfree -= resv;
	if (nfree < need)
		return rv_fail(err, "--mem-backing hugepages: the guest needs %lld free 2 MiB huge pages, the host has %lld (raise /proc/sys/vm/nr_hugepages)",
			       need, nfree < 0 ? 0 : nfree);
	return 0;
}

/* Anonymous memory for one region as the backing asks, or MAP_FAILED. */
static void *map_anon(uint64_t size, enum guest_mem_backing backing)
{
	uint8_t *raw, *p;
	uint64_t slop;

	if (backing == GUEST_MEM_HUGETLB)
		/* No MAP_NORESERVE: the pages are reserved now, so a host
		 * that runs short fails here, not with SIGBUS in a vCPU. */
		return mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	/* 2 MiB-aligned, so THP can back guest pages that are 2 MiB-aligned
	 * in guest physical memory with host huge pages (both levels huge). */
	raw = mmap(NULL, size + GUEST_MEM_HUGE_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	p = (uint8_t *)(((uintptr_t)raw + GUEST_MEM_HUGE_PAGE - 1) &
			~(uintptr_t)(GUEST_MEM_HUGE_PAGE - 1));
	slop = (uint64_t)(p - raw);
	if (slop)
		munmap(raw, slop);
	munmap(p + size, GUEST_MEM_HUGE_PAGE - slop);
	madvise(p, size, backing == GUEST_MEM_4K ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
	return p;
}

const char *guest_mem_backing_name(enum guest_mem_backing b)
{
	switch (b) {
	case GUEST_MEM_THP: return "thp";
	case GUEST_MEM_4K: return "4k";
	case GUEST_MEM_HUGETLB: return "hugepages";
	}
	return NULL;
}

/* How map_regions maps each region: anonymous memory, a snapshot's
 * memory file (privately, regions back to back from offset 0), or each
 * region from an fd of its own, shared with the process that sent it. */
struct region_source {
	int fd;                 /* -1: anonymous */
	const int *fds;         /* shared: fds[i] at offs[i] */
	const uint64_t *offs;
};

static void *map_one(const struct guest_region *l, unsigned int i,
		     const struct region_source *src, uint64_t file_off,
		     enum guest_mem_backing backing)
{
	if (src->fds)
		return mmap(NULL, l->size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_NORESERVE, src->fds[i],
			    (off_t)src->offs[i]);
	if (src->fd < 0)
		return map_anon(l->size, backing);
	return mmap(NULL, l->size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_NORESERVE, src->fd, (off_t)file_off);
}

/* A region another process shares must start at a page of its file and
 * end within it: touching a page past the end would raise SIGBUS here. */
static bool shared_region_bad(const struct guest_region *l, int fd,
			      uint64_t off, struct rv_err *err)
{
	struct stat st;

	if (off & 0xfff) {
		rv_fail(err, "guest memory: region %#llx starts at offset %#llx of its file, not at a page",
			(unsigned long long)l->gpa, (unsigned long long)off);
		return true;
	}
	if (fstat(fd, &st) < 0) {
		rv_fail_errno(err, "guest memory: region %#llx: its file",
			      (unsigned long long)l->gpa);
		return true;
	}
	if (off + l->size < off || off + l->size > (uint64_t)st.st_size) {
		rv_fail(err, "guest memory: region %#llx (%llu KiB at offset %#llx) goes past the end of its file (%llu KiB)",
			(unsigned long long)l->gpa,
			(unsigned long long)(l->size >> 10),
			(unsigned long long)off,
			(unsigned long long)((uint64_t)st.st_size >> 10));
		return true;
	}
	return false;
}

static int map_regions(struct guest_mem *gm, const struct guest_region *layout,
		       unsigned int nr, const struct region_source *src,
		       enum guest_mem_backing backing, struct rv_err *err)
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
		if (src->fds && shared_region_bad(l, src->fds[i], src->offs[i],
						  err)) {
			guest_mem_unmap(gm);
			return -1;
		}
		p = map_one(l, i, src, off, backing);
		if (p == MAP_FAILED) {
			guest_mem_unmap(gm);
			return rv_fail_errno(err, "cannot map %llu MiB of guest memory%s",
					     (unsigned long long)(l->size >> 20),
					     !src->fds && src->fd < 0 &&
					     backing == GUEST_MEM_HUGETLB ?
					     " in 2 MiB huge pages" : "");
		}
		off += l->size;
		gm->region[i] = *l;
		gm->region[i].hva = p;
		gm->nr = i + 1;
		gm->ram_size += l->size;
	}
	return 0;
}

int guest_mem_map_backed(struct guest_mem *gm, const struct guest_region *layout,
			 unsigned int nr, enum guest_mem_backing backing,
			 struct rv_err *err)
{
	memset(gm, 0, sizeof(*gm));
	if (!guest_mem_backing_name(backing))
		return rv_fail(err, "guest memory: unknown backing %d", (int)backing);
	if (backing == GUEST_MEM_HUGETLB && nr <= GUEST_MEM_MAX_REGIONS &&
	    check_huge_pages(layout, nr, err) < 0)
		return -1;
	struct region_source src = { .fd = -1 };

	return map_regions(gm, layout, nr, &src, backing, err);
}

int guest_mem_map(struct guest_mem *gm, const struct guest_region *layout,
		  unsigned int nr, struct rv_err *err)
{
	return guest_mem_map_backed(gm, layout, nr, GUEST_MEM_THP, err);
}

int guest_mem_map_file(struct guest_mem *gm, const struct guest_region *layout,
		       unsigned int nr, int fd, struct rv_err *err)
{
	struct region_source src = { .fd = fd };

	return map_regions(gm, layout, nr, &src, GUEST_MEM_THP, err);
}

int guest_mem_map_shared(struct guest_mem *gm, const struct guest_region *layout,
			 unsigned int nr, const int *fds, const uint64_t *offs,
			 struct rv_err *err)
{
	struct region_source src = { .fd = -1, .fds = fds, .offs = offs };

	return map_regions(gm, layout, nr, &src, GUEST_MEM_THP, err);
}

int guest_mem_map_memfd(struct guest_mem *gm, const struct guest_region *layout,
			unsigned int nr, enum guest_mem_backing backing,
			struct rv_err *err)
{
	int fds[GUEST_MEM_MAX_REGIONS];
	uint64_t offs[GUEST_MEM_MAX_REGIONS], total = 0;
	struct region_source src = { .fd = -1, .fds = fds, .offs = offs };
	int fd;

	memset(gm, 0, sizeof(*gm));
	if (nr == 0 || nr > GUEST_MEM_MAX_REGIONS)
		return rv_fail(err, "guest memory: %u regions (1..%d allowed)",
			       nr, GUEST_MEM_MAX_REGIONS);
	if (backing == GUEST_MEM_HUGETLB && check_huge_pages(layout, nr, err) < 0)
		return -1;
	for (unsigned int i = 0; i < nr; i++) {
		offs[i] = total;
		total += layout[i].size;
	}
	fd = memfd_create("ringvm-guest-ram", MFD_CLOEXEC |
			  (backing == GUEST_MEM_HUGETLB ? MFD_HUGETLB : 0));
	if (fd < 0)
		return rv_fail_errno(err, "guest memory: memfd_create");
	if (ftruncate(fd, (off_t)total) < 0) {
		rv_fail_errno(err, "guest memory: %llu MiB in a memfd",
			      (unsigned long long)(total >> 20));
		close(fd);
		return -1;
	}
	for (unsigned int i = 0; i < nr; i++)
		fds[i] = fd;
	if (map_regions(gm, layout, nr, &src, backing, err) < 0) {
		close(fd);
		return -1;
	}
	for (unsigned int i = 0; i < nr; i++) {
		gm->share_off[i] = offs[i];
		if (backing != GUEST_MEM_HUGETLB)
			madvise(gm->region[i].hva, gm->region[i].size,
				backing == GUEST_MEM_4K ? MADV_NOHUGEPAGE
							: MADV_HUGEPAGE);
	}
	gm->shared = true;
	gm->share_fd = fd;
	return 0;
}

int guest_mem_advise(const struct guest_mem *gm, bool merge, struct rv_err *err)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->region[i];

		if (madvise(r->hva, r->size, MADV_DONTDUMP) < 0)
			return rv_fail_errno(err, "guest memory: MADV_DONTDUMP");
		if (merge && madvise(r->hva, r->size, MADV_MERGEABLE) < 0)
			return rv_fail_errno(err, "--mem-merge: MADV_MERGEABLE (is the kernel built with KSM?)");
	}
	return 0;
}

void guest_mem_unmap(struct guest_mem *gm)
{
	if (gm->shared)
		close(gm->share_fd);
	for (unsigned int i = 0; i < gm->nr; i++) {
		munmap(gm->region[i].hva, gm->region[i].size);
		free((void *)gm->dirty[i]);
	}
	memset(gm, 0, sizeof(*gm));
}

static uint64_t bitmap_words(const struct guest_region *r)
{
	return (r->size / 4096 + 63) / 64;
}

int guest_mem_dirty_start(struct guest_mem *gm, struct rv_err *err)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		uint64_t n = bitmap_words(&gm->region[i]);

		if (!gm->dirty[i]) {
			gm->dirty[i] = calloc(n, sizeof(uint64_t));
			if (!gm->dirty[i])
				return rv_fail(err, "out of memory for the dirty page log");
		}
		for (uint64_t w = 0; w < n; w++)
			atomic_store_explicit(&gm->dirty[i][w], 0,
					      memory_order_relaxed);
	}
	atomic_store(&gm->logging, true);
	return 0;
}

void guest_mem_dirty_stop(struct guest_mem *gm)
{
	atomic_store(&gm->logging, false);
}

void guest_mem_mark_dirty(const struct guest_mem *gm, uint64_t gpa,
			  uint64_t len)
{
	if (!atomic_load_explicit(&gm->logging, memory_order_acquire) || !len)
		return;
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->region[i];
		uint64_t first, last;

		if (gpa < r->gpa || gpa - r->gpa >= r->size || !gm->dirty[i])
			continue;
		first = (gpa - r->gpa) / 4096;
		last = (len > r->size - (gpa - r->gpa) ?
			r->size - 1 : gpa - r->gpa + len - 1) / 4096;
		for (uint64_t p = first; p <= last; p++)
			atomic_fetch_or_explicit(&gm->dirty[i][p / 64],
						 1ULL << (p % 64),
						 memory_order_release);
		return;
	}
}

void guest_mem_dirty_collect(struct guest_mem *gm, unsigned int r,
			     uint64_t *out)
{
	if (r >= gm->nr || !gm->dirty[r])
		return;
	for (uint64_t w = 0; w < bitmap_words(&gm->region[r]); w++)
		out[w] |= atomic_exchange_explicit(&gm->dirty[r][w], 0,
						   memory_order_acquire);
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
