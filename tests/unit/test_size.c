/* parse_size: what --mem accepts and, above all, what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/size.h"

static const struct {
	const char *s;
	uint64_t v;
} good[] = {
	{ "0", 0 },
	{ "1", 1 },
	{ "512", 512 },
	{ "4096", 4096 },
	{ "512B", 512 },
	{ "512b", 512 },
	{ "64K", 64ULL << 10 },
	{ "64k", 64ULL << 10 },
	{ "64KB", 64ULL << 10 },
	{ "64KiB", 64ULL << 10 },
	{ "64kib", 64ULL << 10 },
	{ "256M", 256ULL << 20 },
	{ "256m", 256ULL << 20 },
	{ "256MiB", 256ULL << 20 },
	{ "256mb", 256ULL << 20 },
	{ "2G", 2ULL << 30 },
	{ "2g", 2ULL << 30 },
	{ "2GB", 2ULL << 30 },
	{ "1T", 1ULL << 40 },
	{ "1t", 1ULL << 40 },
	{ "007M", 7ULL << 20 },
	{ "1536M", 1536ULL << 20 },
	{ "16777215T", 16777215ULL << 40 },         /* largest T below 2^64 */
	{ "18446744073709551615", UINT64_MAX },
	{ "17179869183G", 17179869183ULL << 30 },
};

static const char *const bad[] = {
	"", "K", "M", "B", "iB", " 1M", "1M ", "1 M", "+1M", "-1M", "-1",
	"1.5G", "1,5G", "0x10", "1e6", "1MM", "1KM", "1Mi", "1MiBB", "1iB",
	"1Bi", "1MBB", "1P", "1E", "1Z", "abc", "12abc", "1M\n", "\t1",
	"18446744073709551616",          /* 2^64 */
	"99999999999999999999999",
	"16777216T",                     /* 2^64 exactly: overflow */
	"17179869184G",
	"18014398509481984K",
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 12345;

		if (parse_size(good[i].s, &v) != 0)
			fail_msg("parse_size(\"%s\") refused", good[i].s);
		if (v != good[i].v)
			fail_msg("parse_size(\"%s\") = %llu, want %llu",
				 good[i].s, (unsigned long long)v,
				 (unsigned long long)good[i].v);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 12345;

		if (parse_size(bad[i], &v) != -1)
			fail_msg("parse_size(\"%s\") accepted (%llu)", bad[i],
				 (unsigned long long)v);
		/* A refused string leaves the output alone. */
		assert_int_equal(v, 12345);
	}
}

static void test_null(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size(NULL, &v), -1);
	assert_int_equal(parse_size("1M", NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
