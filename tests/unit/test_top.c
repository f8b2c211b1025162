/* ringvm top's arithmetic: which counters show (those that grew, not the
 * memory gauges, not the ones that are new or went down), in what order,
 * at what rate; and its command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.h"
#include "cli/top.h"

static void test_rows_busiest_first(void **state)
{
	struct json_object *a = json_tokener_parse(
		"{\"vcpu0_exits\": 100, \"pio_com1_accesses\": 10,"
		" \"kvm_vcpu0_halt_exits\": 5, \"guest_resident_kib\": 1000,"
		" \"blk0_requests\": 7, \"dropped\": 9, \"label\": \"x\"}");
	struct json_object *b = json_tokener_parse(
		"{\"vcpu0_exits\": 300, \"pio_com1_accesses\": 30,"
		" \"kvm_vcpu0_halt_exits\": 25, \"guest_resident_kib\": 5000,"
		" \"blk0_requests\": 7, \"dropped\": 3, \"label\": \"y\","
		" \"new_counter\": 50}");
	struct top_row rows[8];
	int n;

	(void)state;
	n = top_rows(a, b, 2.0, rows, 8);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].name, "vcpu0_exits");
	assert_true(rows[0].rate == 100.0 && rows[0].total == 300);
	/* Equal rates: by name. */
	assert_string_equal(rows[1].name, "kvm_vcpu0_halt_exits");
	assert_string_equal(rows[2].name, "pio_com1_accesses");
	assert_true(rows[1].rate == 10.0 && rows[2].rate == 10.0);
	/* At most max rows, and nothing for a zero interval. */
	assert_int_equal(top_rows(a, b, 2.0, rows, 1), 1);
	assert_string_equal(rows[0].name, "vcpu0_exits");
	assert_int_equal(top_rows(a, b, 0, rows, 8), 0);
	json_object_put(a);
	json_object_put(b);
}

static int parse(const char *line, enum cli_action *act, struct cli_opts *o,
		 struct rv_err *err)
{
	static char buf[256];
	char *argv[16];
	int argc = 0;

	strcpy(buf, line);
	for (char *t = strtok(buf, " "); t && argc < 15; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return cli_parse(argc, argv, act, o, err);
}

static void test_command_line(void **state)
{
	enum cli_action act;
	struct cli_opts o;
	struct rv_err err;

	(void)state;
	assert_int_equal(parse("ringvm top --api-sock s", &act, &o, &err), 0);
	assert_int_equal(act, CLI_TOP);
	assert_int_equal(o.interval_ms, 1000);
	assert_int_equal(o.count, 0);
	assert_int_equal(parse("ringvm top --api-sock s --interval 250ms --count 3",
			       &act, &o, &err), 0);
	assert_int_equal(o.interval_ms, 250);
	assert_int_equal(o.count, 3);
	assert_int_equal(parse("ringvm top --count 3", &act, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--api-sock"));
	assert_int_equal(parse("ringvm top --api-sock s --count 0", &act, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--count"));
	assert_int_equal(parse("ringvm top --api-sock s --interval soon", &act, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--interval"));
	assert_int_equal(parse("ringvm stats --api-sock s --count 3", &act, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--count"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_busiest_first),
		cmocka_unit_test(test_command_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
