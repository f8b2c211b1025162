#ifndef RINGVM_UTIL_FILE_H
#define RINGVM_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Reads a whole regular file into a fresh buffer (free with free()).
 * `what` names the file's role in error messages ("kernel", "initrd").
 * Refuses empty files, non-regular files and files larger than max. */
int file_read_all(const char *path, const char *what, size_t max,
		  uint8_t **buf, size_t *len, struct rv_err *err);

#endif
