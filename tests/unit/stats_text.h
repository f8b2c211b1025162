/* Reading what a device's *_print_stats wrote: "<prefix>_<name> VALUE UNIT"
 * lines. Shared by the device tests; include after <cmocka.h>. */
#ifndef RINGVM_TESTS_STATS_TEXT_H
#define RINGVM_TESTS_STATS_TEXT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of prefix_name in text, or UINT64_MAX when there is no such
 * line (the name must match whole, up to the space). */
static inline uint64_t stats_lookup(const char *text, const char *prefix,
				    const char *name)
{
	size_t pl = strlen(prefix), nl = strlen(name);

	for (const char *p = text; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, pl) && p[pl] == '_' &&
		    !strncmp(p + pl + 1, name, nl) && p[pl + 1 + nl] == ' ')
			return strtoull(p + pl + 2 + nl, NULL, 10);
	return UINT64_MAX;
}

/* Asserts every line of text is "<prefix>_NAME VALUE UNIT"; returns how
 * many lines there were. Consumes text (strtok). */
static inline unsigned int stats_check_lines(char *text, const char *prefix)
{
	unsigned int lines = 0;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64], unit[32];
		unsigned long long v;

		assert_int_equal(sscanf(line, "%63s %llu %31s", name, &v, unit), 3);
		assert_int_equal(strncmp(name, prefix, strlen(prefix)), 0);
		assert_int_equal(name[strlen(prefix)], '_');
		lines++;
	}
	return lines;
}

#endif
