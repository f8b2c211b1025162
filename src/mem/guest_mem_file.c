/* Guest RAM to a memory file for snapshots: see guest_mem_save_file. */
#include "mem/guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096u

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;

	for (unsigned int i = 0; i < PAGE / sizeof(*q); i++)
		if (q[i])
			return false;
	return true;
}

static int write_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Runs of non-zero pages are written with one pwrite each; zero pages
 * stay holes of the file truncated to its full size. Reading a page the
 * guest never touched maps the kernel's zero page: no memory is spent. */
static int write_region(int fd, const struct guest_region *r, off_t base,
			uint64_t *written)
{
	uint64_t run = 0, start = 0;

	for (uint64_t off = 0; off <= r->size; off += PAGE) {
		bool data = off < r->size && !page_is_zero(r->hva + off);

		if (data) {
			if (!run)
				start = off;
			run += PAGE;
			/* Bounded runs keep each write reasonable. */
			if (run < (64u << 20))
				continue;
		} else if (!run) {
			continue;
		}
		if (write_all(fd, r->hva + start, run, base + (off_t)start) < 0)
			return -1;
		*written += run;
		run = 0;
	}
	return 0;
}

int guest_mem_save_file(const struct guest_mem *gm, const char *path,
			uint64_t *written_bytes, struct rv_err *err)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 8), *dir = strdup(path);
	uint64_t written = 0;
	off_t base = 0;
	int fd = -1, dfd;

	if (!tmp || !dir) {
		free(tmp);
		free(dir);
		return rv_fail(err, "out of memory");
	}
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", 8);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rv_fail_errno(err, "cannot create memory file %s", path);
		goto fail_nofile;
	}
	if (ftruncate(fd, (off_t)gm->ram_size) < 0) {
		rv_fail_errno(err, "memory file %s: cannot size it to %llu bytes",
			      path, (unsigned long long)gm->ram_size);
		goto fail;
	}
	for (unsigned int i = 0; i < gm->nr; i++) {
		if (write_region(fd, &gm->region[i], base, &written) < 0) {
			rv_fail_errno(err, "cannot write memory file %s", path);
			goto fail;
		}
		base += (off_t)gm->region[i].size;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		rv_fail_errno(err, "cannot write memory file %s", path);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rv_fail_errno(err, "cannot put memory file %s in place", path);
		goto fail;
	}
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(tmp);
	free(dir);
	if (written_bytes)
		*written_bytes = written;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
fail_nofile:
	free(tmp);
	free(dir);
	return -1;
}
