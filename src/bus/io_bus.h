/* Port-I/O and MMIO dispatch. A bus is filled while the VM is built and is
 * read-only once vCPUs run, so lookups need no lock; each device serialises
 * its own state. */
#ifndef RINGVM_BUS_IO_BUS_H
#define RINGVM_BUS_IO_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

/* One access: offset is relative to the registered base; data holds len
 * bytes (1, 2, 4 or 8) in guest byte order. Reads fill data. */
typedef void (*io_access_fn)(void *dev, uint64_t offset, uint8_t *data,
			     uint32_t len, bool is_write);

#define IO_BUS_MAX_RANGES 64

struct io_range {
	uint64_t base;
	uint64_t len;
	io_access_fn fn;
	void *dev;
	const char *name;
	/* Exit accounting: accesses that reached this device, and the
	 * nanoseconds its model spent on them. Written by any vCPU thread,
	 * read live by GET /stats: relaxed atomics. */
	atomic_uint_fast64_t accesses;
	atomic_uint_fast64_t ns;
};

struct io_bus {
	struct io_range range[IO_BUS_MAX_RANGES]; /* sorted by base */
	unsigned int nr;
};

void io_bus_init(struct io_bus *bus);

/* Rejects empty, wrapping or overlapping ranges. */
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len,
	       io_access_fn fn, void *dev, const char *name,
	       struct rv_err *err);

/* Dispatches one access. Returns false when no device claims addr..addr+len;
 * reads of unclaimed space then return all ones, as on real buses. */
bool io_bus_access(struct io_bus *bus, uint64_t addr, uint8_t *data,
		   uint32_t len, bool is_write);

/* "PREFIX_NAME_accesses N count" and "PREFIX_NAME_ns N ns" for every range
 * that saw an access (NAME with anything but [a-z0-9] turned into '_'). */
void io_bus_print_stats(const struct io_bus *bus, const char *prefix,
			FILE *out);

#endif
