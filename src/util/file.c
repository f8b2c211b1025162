#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open_regular(const char *path, const char *what, size_t max,
		      size_t *len, struct rv_err *err)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO must be refused below, not block the open. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return rv_fail_errno(err, "cannot open %s %s", what, path);
	if (fstat(fd, &st) < 0) {
		rv_fail_errno(err, "cannot stat %s %s", what, path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return rv_fail(err, "%s %s is not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return rv_fail(err, "%s %s is empty", what, path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return rv_fail(err, "%s %s is too large (%lld bytes, at most %zu)",
			       what, path, (long long)st.st_size, max);
	}
	*len = (size_t)st.st_size;
	return fd;
}

int file_read_all(const char *path, const char *what, size_t max,
		  uint8_t **buf, size_t *len, struct rv_err *err)
{
	uint8_t *p;
	size_t got = 0, size;
	int fd = file_open_regular(path, what, max, &size, err);

	if (fd < 0)
		return -1;
	p = malloc(size);
	if (!p) {
		close(fd);
		return rv_fail(err, "out of memory reading %s %s", what, path);
	}
	while (got < size) {
		ssize_t n = read(fd, p + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* shrank under us */
			rv_fail_errno(err, "cannot read %s %s", what, path);
			free(p);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*buf = p;
	*len = got;
	return 0;
}
