#ifndef RINGVM_UTIL_FILE_H
#define RINGVM_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Opens a regular file for reading (close the fd after) and sets *len to
 * its size, with file_read_all's checks and messages. Returns the fd, or
 * -1 with err set. */
int file_open_regular(const char *path, const char *what, size_t max,
		      size_t *len, struct rv_err *err);

/* Reads a whole regular file into a fresh buffer (free with free()).
 * `what` names the file's role in error messages ("kernel", "initrd").
 * Refuses empty files, non-regular files and files larger than max. */
int file_read_all(const char *path, const char *what, size_t max,
		  uint8_t **buf, size_t *len, struct rv_err *err);

#endif
