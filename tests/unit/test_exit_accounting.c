/* Exit accounting: KVM's binary statistics file read back from files laid
 * out as api.rst describes (scalars printed with their units, histograms
 * left out, a damaged file refused whole), and the I/O bus counting the
 * accesses each device model took. */
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/io_bus.h"
#include "vm/kvm_stats.h"

#define NAME_SIZE 48

struct stat_def {
	const char *name;
	uint32_t flags;
	int16_t exponent;
	uint16_t size;
	uint64_t value;
};

/* A statistics file: header, id, descriptors, data, in a memfd. */
static int stats_file(const struct stat_def *defs, unsigned int n,
		      size_t truncate_to)
{
	size_t dsz = sizeof(struct kvm_stats_desc) + NAME_SIZE;
	struct kvm_stats_header h = {
		.name_size = NAME_SIZE, .num_desc = n,
		.id_offset = sizeof(h),
	};
	uint8_t buf[8192] = { 0 };
	uint32_t data_off = 0;
	size_t len;
	int fd = memfd_create("stats", 0);

	h.desc_offset = h.id_offset + NAME_SIZE;
	h.data_offset = h.desc_offset + (uint32_t)(n * dsz);
	memcpy(buf, &h, sizeof(h));
	strcpy((char *)buf + h.id_offset, "kvm-1234");
	for (unsigned int i = 0; i < n; i++) {
		struct kvm_stats_desc d = { .flags = defs[i].flags,
					    .exponent = defs[i].exponent,
					    .size = defs[i].size,
					    .offset = data_off };
		uint8_t *p = buf + h.desc_offset + i * dsz;

		memcpy(p, &d, sizeof(d));
		strcpy((char *)p + sizeof(d), defs[i].name);
		for (unsigned int k = 0; k < defs[i].size; k++)
			memcpy(buf + h.data_offset + data_off + k * 8,
			       &defs[i].value, 8);
		data_off += defs[i].size * 8u;
	}
	len = h.data_offset + data_off;
	if (truncate_to && truncate_to < len)
		len = truncate_to;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

static const struct stat_def defs[] = {
	{ "halt_exits", KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE, 0, 1, 1234 },
	{ "halt_wait_ns", KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS |
	  KVM_STATS_BASE_POW10, -9, 1, 5000000 },
	{ "halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS |
	  KVM_STATS_BASE_POW10, -9, 32, 7 },
	{ "pages_4k", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE, 0, 1, 99 },
	{ "max_mmu_page_hash", KVM_STATS_TYPE_PEAK | KVM_STATS_UNIT_NONE, 0, 1, 3 },
	{ "blocking", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN, 0, 1, 1 },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static char *print_file(int fd, int *lines)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	assert_non_null(m);
	*lines = kvm_stats_print(fd, "kvm_vcpu0", m);
	fclose(m);
	close(fd);
	return text;
}

static void test_scalars_with_units(void **state)
{
	int lines;
	char *t = print_file(stats_file(defs, NDEFS, 0), &lines);

	(void)state;
	assert_int_equal(lines, 5);
	assert_string_equal(t,
		"kvm_vcpu0_halt_exits 1234 count\n"
		"kvm_vcpu0_halt_wait_ns 5000000 ns\n"
		"kvm_vcpu0_pages_4k 99 count\n"
		"kvm_vcpu0_max_mmu_page_hash 3 count\n"
		"kvm_vcpu0_blocking 1 bool\n");
	free(t);
}

static void test_damaged_file_prints_nothing(void **state)
{
	size_t full = sizeof(struct kvm_stats_header) + NAME_SIZE +
		      NDEFS * (sizeof(struct kvm_stats_desc) + NAME_SIZE);
	/* Cut inside the header, inside the descriptors, and inside the
	 * data (the last value's bytes are missing). */
	size_t cuts[] = { 10, full - 20, full + 8 * 35 - 4 };

	(void)state;
	for (unsigned int i = 0; i < 3; i++) {
		int lines;
		char *t = print_file(stats_file(defs, NDEFS, cuts[i]), &lines);

		assert_int_equal(lines, -1);
		assert_string_equal(t, "");
		free(t);
	}
}

static void test_not_a_stats_fd(void **state)
{
	FILE *m = fopen("/dev/null", "w");

	(void)state;
	/* /dev/null answers no KVM_GET_STATS_FD: no lines, no failure. */
	assert_int_equal(kvm_stats_print_fd(fileno(m), "kvm_vm", m), 0);
	fclose(m);
}

static void sink(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		 bool is_write)
{
	(void)dev;
	(void)off;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void test_bus_counts_accesses_per_device(void **state)
{
	struct io_bus bus;
	struct rv_err err;
	uint8_t b[4] = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	(void)state;
	io_bus_init(&bus);
	assert_int_equal(io_bus_add(&bus, 0x3f8, 8, sink, NULL, "com1", &err), 0);
	assert_int_equal(io_bus_add(&bus, 0xcf8, 4, sink, NULL, "pci-addr", &err), 0);
	assert_int_equal(io_bus_add(&bus, 0x60, 1, sink, NULL, "i8042 data", &err), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(io_bus_access(&bus, 0x3f8 + (i % 8), b, 1, i & 1));
	for (int i = 0; i < 7; i++)
		assert_true(io_bus_access(&bus, 0xcf8, b, 4, true));
	/* Unclaimed and straddling accesses count for nobody. */
	assert_false(io_bus_access(&bus, 0x80, b, 1, true));
	assert_false(io_bus_access(&bus, 0xcfa, b, 4, false));
	m = open_memstream(&text, &len);
	assert_non_null(m);
	io_bus_print_stats(&bus, "pio", m);
	fclose(m);
	/* Sorted by address; i8042 never touched, so not printed. */
	assert_non_null(strstr(text, "pio_com1_accesses 1000 count\n"));
	assert_non_null(strstr(text, "pio_pci_addr_accesses 7 count\n"));
	assert_non_null(strstr(text, "pio_com1_ns "));
	assert_null(strstr(text, "i8042"));
	assert_true(strstr(text, "pio_com1_") < strstr(text, "pio_pci_addr_"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars_with_units),
		cmocka_unit_test(test_damaged_file_prints_nothing),
		cmocka_unit_test(test_not_a_stats_fd),
		cmocka_unit_test(test_bus_counts_accesses_per_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
