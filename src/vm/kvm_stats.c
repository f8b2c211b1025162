/* See kvm_stats.h. The layout (api.rst, "KVM_GET_STATS_FD"): a header,
 * an id string, descriptors of sizeof(struct kvm_stats_desc) + name_size
 * bytes each, and a data block of u64 values at data_offset + desc.offset.
 * Everything is checked against the file's size: the file is the kernel's,
 * but the parser is also fed files from unit tests and fuzzing. */
#include "vm/kvm_stats.h"

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A statistics file is a few KiB; this bounds a hostile one. */
#define STATS_MAX_BYTES (1u << 20)

static const char *unit_of(uint32_t flags, int exponent)
{
	switch (flags & KVM_STATS_UNIT_MASK) {
	case KVM_STATS_UNIT_BYTES:
		return "bytes";
	case KVM_STATS_UNIT_CYCLES:
		return "cycles";
	case KVM_STATS_UNIT_BOOLEAN:
		return "bool";
	case KVM_STATS_UNIT_SECONDS:
		if ((flags & KVM_STATS_BASE_MASK) != KVM_STATS_BASE_POW10)
			return NULL;
		switch (exponent) {
		case -9: return "ns";
		case -6: return "us";
		case -3: return "ms";
		case 0: return "s";
		}
		return NULL;
	case KVM_STATS_UNIT_NONE:
		return "count";
	}
	return NULL;
}

/* KVM's names are identifiers; anything else would break the
 * "NAME VALUE UNIT" lines (and the JSON made from them). */
static bool name_ok(const char *n)
{
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '_'))
			return false;
	return true;
}

/* Reads the whole file into a buffer; NULL on error. */
static uint8_t *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);

	while (buf) {
		ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);

		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			uint8_t *bigger = cap >= STATS_MAX_BYTES ? NULL :
					  realloc(buf, cap * 2);

			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	*len = n;
	return buf;
}

int kvm_stats_print(int stats_fd, const char *prefix, FILE *out)
{
	struct kvm_stats_header h;
	size_t len = 0, dsz;
	uint8_t *buf = read_all(stats_fd, &len);
	char *text = NULL;
	size_t tlen = 0;
	FILE *m;
	int lines = 0;

	if (!buf)
		return -1;
	if (len < sizeof(h))
		goto bad;
	memcpy(&h, buf, sizeof(h));
	if (h.name_size == 0 || h.name_size > 256 || h.num_desc > 4096)
		goto bad;
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	if (h.desc_offset > len || (uint64_t)h.num_desc * dsz > len - h.desc_offset ||
	    h.data_offset > len)
		goto bad;
	/* Lines go to a buffer first: a file that turns out bad prints
	 * nothing. */
	m = open_memstream(&text, &tlen);
	if (!m)
		goto bad;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc d;
		const uint8_t *p = buf + h.desc_offset + (size_t)i * dsz;
		char name[257];
		const char *unit;
		uint64_t v;

		memcpy(&d, p, sizeof(d));
		memcpy(name, p + sizeof(d), h.name_size);
		name[h.name_size] = 0;
		if (!name[0] || !name_ok(name) || (uint64_t)h.data_offset +
				d.offset + (uint64_t)d.size * 8 > len) {
			fclose(m);
			free(text);
			goto bad;
		}
		if (d.size != 1)
			continue;    /* a histogram */
		unit = unit_of(d.flags, d.exponent);
		if (!unit || (d.flags & KVM_STATS_TYPE_MASK) > KVM_STATS_TYPE_PEAK)
			continue;
		memcpy(&v, buf + h.data_offset + d.offset, sizeof(v));
		fprintf(m, "%s_%s %llu %s\n", prefix, name,
			(unsigned long long)v, unit);
		lines++;
	}
	fclose(m);
	fputs(text, out);
	free(text);
	free(buf);
	return lines;
bad:
	free(buf);
	return -1;
}

int kvm_stats_print_fd(int kvm_obj_fd, const char *prefix, FILE *out)
{
	int fd = ioctl(kvm_obj_fd, KVM_GET_STATS_FD, NULL);
	int n;

	if (fd < 0)
		return 0;
	n = kvm_stats_print(fd, prefix, out);
	close(fd);
	return n;
}
