#include "util/size.h"

#include <stdbool.h>
#include <stddef.h>

/* Shift for a unit letter, or -1 if c is not one. */
static int unit_shift(char c)
{
	switch (c) {
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	default: return -1;
	}
}

static bool is_b(char c)
{
	return c == 'b' || c == 'B';
}

int parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;
	int shift;

	if (!s || !out)
		return -1;
	/* Digits only: no sign, no blanks, no base prefix (strtoull would
	 * quietly accept " -1" as a huge number). */
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -1;
		p++;
	}

	shift = unit_shift(*p);
	if (shift >= 0) {
		mult = 1ULL << shift;
		p++;
		/* "K", "KB", "KiB" */
		if (*p == 'i' || *p == 'I') {
			p++;
			if (!is_b(*p))
				return -1;
			p++;
		} else if (is_b(*p)) {
			p++;
		}
	} else if (is_b(*p)) {
		p++;    /* "512B": plain bytes */
	}
	if (*p != '\0')
		return -1;
	if (__builtin_mul_overflow(v, mult, &v))
		return -1;
	*out = v;
	return 0;
}
