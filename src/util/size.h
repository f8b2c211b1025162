#ifndef RINGVM_UTIL_SIZE_H
#define RINGVM_UTIL_SIZE_H

#include <stdint.h>

/* Parses "512", "512K", "256M", "2G", "1T" (binary multiples, case
 * insensitive, optional trailing "B" or "iB"). Returns -1 for anything else,
 * including overflow, empty strings, signs and trailing garbage. */
int parse_size(const char *s, uint64_t *out);

#endif
