#include "bus/io_bus.h"

#include <string.h>

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
	memmove(&bus->range[pos + 1], &bus->range[pos],
		(bus->nr - pos) * sizeof(bus->range[0]));
	bus->range[pos] = (struct io_range){ base, len, fn, dev, name };
	bus->nr++;
	return 0;
}

bool io_bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data,
		   uint32_t len, bool is_write)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->range[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			if (len > r->len - (addr - r->base))
				break; /* straddles the end: treat as unclaimed */
			r->fn(r->dev, addr - r->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
