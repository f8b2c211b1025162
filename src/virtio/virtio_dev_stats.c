/* See virtio_dev_stats.h. */
#include "virtio/virtio_dev_stats.h"

#include <inttypes.h>
#include <stdint.h>

void virtio_dev_print_stats(FILE *out, const char *prefix,
			    const struct virtio_dev_stat *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s_%s %" PRIu64 " %s\n", prefix, rows[i].name,
			(uint64_t)atomic_load(rows[i].v), rows[i].unit);
}
