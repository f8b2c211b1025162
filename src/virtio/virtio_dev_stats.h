/* The "<prefix>_<name> <value> <unit>" lines every device and back end
 * prints for --stats, from a table of counters. Kept apart from the rest
 * of the device plumbing so code without a transport (ringvm's back ends)
 * can print its counters the same way. */
#ifndef RINGVM_VIRTIO_VIRTIO_DEV_STATS_H
#define RINGVM_VIRTIO_VIRTIO_DEV_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

struct virtio_dev_stat {
	const char *name;
	const atomic_uint_fast64_t *v;
	const char *unit;
};

void virtio_dev_print_stats(FILE *out, const char *prefix,
			    const struct virtio_dev_stat *rows, size_t n);

#endif
