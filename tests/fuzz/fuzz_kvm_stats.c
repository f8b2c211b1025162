/* libFuzzer target: hostile KVM binary statistics files (what
 * KVM_GET_STATS_FD returns; the parser trusts no offset or size in it).
 * The input is the file. Beyond "no crash, no sanitizer report": a refused
 * file prints nothing, an accepted one prints exactly as many lines as it
 * says, each "PREFIX_NAME VALUE UNIT".
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed corpus
 * to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm/kvm_stats.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	int fd = memfd_create("stats", 0);
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	int lines, nl = 0;

	check(fd >= 0);
	check(size == 0 || write(fd, data, size) == (ssize_t)size);
	m = open_memstream(&text, &len);
	check(m != NULL);
	lines = kvm_stats_print(fd, "f", m);
	fclose(m);
	close(fd);
	for (size_t i = 0; i < len; i++)
		nl += text[i] == '\n';
	check(lines == -1 ? len == 0 : nl == lines);
	for (char *l = text; lines > 0 && l && *l; l = strchr(l, '\n') + 1) {
		unsigned long long v;
		char name[512], unit[16];

		check(sscanf(l, "%511s %llu %15s", name, &v, unit) == 3);
		check(!strncmp(name, "f_", 2));
	}
	free(text);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

/* A file as api.rst lays it out: header, id, descriptors, data. */
static size_t make_file(uint8_t *buf, size_t cap)
{
	const uint32_t name_size = 32;
	static const struct {
		const char *name;
		uint32_t flags;
		int16_t exponent;
		uint16_t size;
	} d[] = {
		{ "exits", KVM_STATS_TYPE_CUMULATIVE, 0, 1 },
		{ "halt_wait_ns", KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS, -9, 1 },
		{ "halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS, -9, 8 },
		{ "blocking", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN, 0, 1 },
	};
	size_t dsz = sizeof(struct kvm_stats_desc) + name_size;
	struct kvm_stats_header h = { .name_size = name_size, .num_desc = 4,
				      .id_offset = sizeof(h) };
	uint32_t off = 0;

	memset(buf, 0, cap);
	h.desc_offset = h.id_offset + name_size;
	h.data_offset = h.desc_offset + (uint32_t)(4 * dsz);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + h.id_offset, "kvm-1", 5);
	for (unsigned int i = 0; i < 4; i++) {
		struct kvm_stats_desc e = { .flags = d[i].flags,
					    .exponent = d[i].exponent,
					    .size = d[i].size, .offset = off };

		memcpy(buf + h.desc_offset + i * dsz, &e, sizeof(e));
		memcpy(buf + h.desc_offset + i * dsz + sizeof(e), d[i].name,
		       strlen(d[i].name));
		for (unsigned int k = 0; k < d[i].size; k++)
			buf[h.data_offset + off + k * 8] = (uint8_t)(7 * (i + 1));
		off += d[i].size * 8u;
	}
	return h.data_offset + off;
}

int main(int argc, char **argv)
{
	uint8_t buf[2048];
	size_t n = make_file(buf, sizeof(buf));
	char path[4096];
	FILE *f;

	if (argc != 2)
		return fprintf(stderr, "usage: %s DIR\n", argv[0]), 2;
	fuzz_one(buf, n);
	snprintf(path, sizeof(path), "%s/stats", argv[1]);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
		return perror(path), 1;
	return 0;
}

#endif
