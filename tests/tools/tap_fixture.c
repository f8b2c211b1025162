/* A cmocka binary that misbehaves on request, for tests/tools/tap_verdicts.sh:
 * its three tests pass, or the second skips and the binary then aborts
 * (after a complete report), or the third aborts (a report cut short), or
 * the second fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

static const char *mode = "pass";

static void first(void **state)
{
	(void)state;
}

static void second(void **state)
{
	(void)state;
	if (strcmp(mode, "skip-then-crash") == 0)
		skip();
	if (strcmp(mode, "fail") == 0)
		fail_msg("asked to fail");
}

static void third(void **state)
{
	(void)state;
	if (strcmp(mode, "crash-midway") == 0)
		abort();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first),
		cmocka_unit_test(second),
		cmocka_unit_test(third),
	};
	int rc;

	if (argc > 1)
		mode = argv[1];
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (strcmp(mode, "skip-then-crash") == 0)
		abort();
	return rc;
}
