/* --cpu-pin: what the list accepts, and what a machine refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vm/cpu_pin.h"

static void test_parse_good(void **state)
{
	struct cpu_pin p;
	struct rv_err err;

	(void)state;
	assert_int_equal(cpu_pin_parse("2,3", &p, &err), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.cpu[0], 2);
	assert_int_equal(p.cpu[1], 3);
	assert_int_equal(cpu_pin_parse("0", &p, &err), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.cpu[0], 0);
	assert_int_equal(cpu_pin_parse("7,1,1023", &p, &err), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.cpu[2], 1023);
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
		{ "", "empty list" },
		{ ",", "not a list" },
		{ "1,", "not a list" },
		{ ",1", "not a list" },
		{ "1,,2", "not a list" },
		{ "-1", "not a list" },
		{ "+1", "not a list" },
		{ " 1", "not a list" },
		{ "1 ", "not a list" },
		{ "0x1", "not a list" },
		{ "1-3", "not a list" },
		{ "1024", "not a list" },
		{ "99999999999999999999", "not a list" },
		{ "a", "not a list" },
		{ "1,1", "host CPU 1 given twice" },
	};
	struct cpu_pin p;
	struct rv_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cpu_pin_parse(bad[i].s, &p, &err), -1);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("'%s': %s", bad[i].s, err.msg);
	}
}

static void test_check(void **state)
{
	struct cpu_pin p;
	struct rv_err err;
	cpu_set_t allowed;

	(void)state;
	CPU_ZERO(&allowed);
	CPU_SET(0, &allowed);
	CPU_SET(2, &allowed);
	assert_int_equal(cpu_pin_parse("2,0", &p, &err), 0);
	assert_int_equal(cpu_pin_check(&p, 2, &allowed, &err), 0);
	/* One per vCPU, no more, no fewer. */
	assert_int_equal(cpu_pin_check(&p, 3, &allowed, &err), -1);
	assert_non_null(strstr(err.msg, "lists 2 host CPUs for 3 vCPUs"));
	assert_int_equal(cpu_pin_check(&p, 1, &allowed, &err), -1);
	/* A CPU outside the process's affinity. */
	assert_int_equal(cpu_pin_parse("0,1", &p, &err), 0);
	assert_int_equal(cpu_pin_check(&p, 2, &allowed, &err), -1);
	assert_non_null(strstr(err.msg, "host CPU 1 (for vCPU 1)"));
	/* Not pinned fits anything. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(cpu_pin_check(&p, 5, &allowed, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
