/* A state on disk: read whole and validated, or written atomically so a
 * crash or a full disk never leaves a half-written snapshot in place of a
 * good one. */
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"

int state_read_file(struct state_reader *r, const char *path,
		    struct rv_err *err)
{
	char what[sizeof(err->msg)];
	uint8_t *buf;
	size_t len;

	memset(r, 0, sizeof(*r));
	/* Refuses non-regular, empty and oversized files; reads fully. */
	if (file_read_all(path, "state file", STATE_MAX_FILE, &buf, &len,
			  err) < 0)
		return -1;
	snprintf(what, sizeof(what), "state file %s", path);
	if (state_reader_open(r, buf, len, what, err) < 0) {
		free(buf);
		return -1;
	}
	r->owned_buf = buf;
	return 0;
}

/* Makes the rename itself durable. */
static int sync_dir(const char *path, struct rv_err *err)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = 0;

	if (!slash)
		dir = strdup(".");
	else
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return rv_fail(err, "out of memory writing state file %s", path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = rv_fail_errno(err, "state file %s written, but cannot "
				   "sync its directory %s", path, dir);
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int state_write_file(const char *path, const uint8_t *buf, size_t len,
		     struct rv_err *err)
{
	static const char suffix[] = ".XXXXXX";
	size_t n = strlen(path);
	char *tmp = malloc(n + sizeof(suffix));
	int fd;

	if (!tmp)
		return rv_fail(err, "out of memory writing state file %s", path);
	memcpy(tmp, path, n);
	memcpy(tmp + n, suffix, sizeof(suffix));
	/* mkostemp creates the file 0600, which suits guest state. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rv_fail_errno(err, "cannot create a temporary file for state "
			      "file %s", path);
		free(tmp);
		return -1;
	}
	if (write_all(fd, buf, len) < 0) {
		rv_fail_errno(err, "cannot write state file %s", tmp);
		goto fail;
	}
	if (fsync(fd) < 0) {
		rv_fail_errno(err, "cannot sync state file %s", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rv_fail_errno(err, "cannot write state file %s", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rv_fail_errno(err, "cannot rename %s to state file %s", tmp,
			      path);
		goto fail;
	}
	free(tmp);
	return sync_dir(path, err);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}
