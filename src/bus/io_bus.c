#include "bus/io_bus.h"

#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void io_bus_init(struct io_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len,
	       io_access_fn fn, void *dev, const char *name,
	       struct rv_err *err)
{
	unsigned int pos;

	if (len == 0 || base + len < base || !fn)
		return rv_fail(err, "bus: bad range for %s", name);
	if (bus->nr == IO_BUS_MAX_RANGES)
		return rv_fail(err, "bus: too many devices (adding %s)", name);
	for (pos = 0; pos < bus->nr; pos++) {
		const struct io_range *r = &bus->range[pos];

		if (base < r->base + r->len && r->base < base + len)
			return rv_fail(err, "bus: %s at %#llx overlaps %s", name,
				       (unsigned long long)base, r->name);
		if (r->base > base)
			break;
	}
	/* Before any vCPU runs: the counters are still plain memory. */
	memmove(&bus->range[pos + 1], &bus->range[pos],
		(bus->nr - pos) * sizeof(bus->range[0]));
	memset(&bus->range[pos], 0, sizeof(bus->range[pos]));
	bus->range[pos].base = base;
	bus->range[pos].len = len;
	bus->range[pos].fn = fn;
	bus->range[pos].dev = dev;
	bus->range[pos].name = name;
	bus->nr++;
	return 0;
}

bool io_bus_access(struct io_bus *bus, uint64_t addr, uint8_t *data,
		   uint32_t len, bool is_write)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct io_range *r = &bus->range[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			if (len > r->len - (addr - r->base))
				break; /* straddles the end: treat as unclaimed */
			uint64_t t0 = now_ns();

			r->fn(r->dev, addr - r->base, data, len, is_write);
			atomic_fetch_add_explicit(&r->ns, now_ns() - t0,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&r->accesses, 1,
						  memory_order_relaxed);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

void io_bus_print_stats(const struct io_bus *bus, const char *prefix,
			FILE *out)
{
	for (unsigned int i = 0; i < bus->nr; i++) {
		const struct io_range *r = &bus->range[i];
		uint64_t n = atomic_load_explicit(&r->accesses,
						  memory_order_relaxed);
		char name[48];
		size_t k = 0;

		if (!n)
			continue;
		for (const char *c = r->name; *c && k < sizeof(name) - 1; c++)
			name[k++] = (*c >= 'a' && *c <= 'z') ||
				    (*c >= '0' && *c <= '9') ? *c : '_';
		name[k] = 0;
		fprintf(out, "%s_%s_accesses %llu count\n", prefix, name,
			(unsigned long long)n);
		fprintf(out, "%s_%s_ns %llu ns\n", prefix, name,
			(unsigned long long)atomic_load_explicit(
				&r->ns, memory_order_relaxed));
	}
}
