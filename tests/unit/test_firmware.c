/* The reset-vector stub: real-mode code that must write the ACPI reset value
 * to ringvm's firmware reset port, fit below 1 MiB and never fall through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/firmware.h"
#include "arch/x86/layout.h"

static void test_stub_encoding(void **state)
{
	uint8_t b[16];
	size_t n = x86_reset_stub(b, sizeof(b));

	(void)state;
	/* Real mode: FFF0 + n must not run past the 64 KiB segment. */
	assert_true(n > 0 && n <= 16);
	assert_int_equal(b[0], 0xfa);                       /* cli */
	assert_int_equal(b[1], 0xba);                       /* mov dx, imm16 */
	assert_int_equal(b[2] | b[3] << 8, X86_PORT_FW_RESET);
	assert_int_equal(b[4], 0xb0);                       /* mov al, imm8 */
	assert_int_equal(b[5], X86_ACPI_RESET_VALUE);
	assert_int_equal(b[6], 0xee);                       /* out dx, al */
	assert_int_equal(b[7], 0xf4);                       /* hlt */
	/* jmp rel8 back onto the hlt: never runs off the end. */
	assert_int_equal(b[8], 0xeb);
	assert_int_equal(9 + 1 + (int8_t)b[9], 7);
}

static void test_stub_needs_room(void **state)
{
	uint8_t b[4];

	(void)state;
	assert_int_equal(x86_reset_stub(b, sizeof(b)), 0);
}

static void test_written_at_reset_vector(void **state)
{
	struct guest_region l = { .gpa = 0, .size = 2 << 20 };
	struct guest_mem gm;
	struct rv_err err;
	uint8_t want[16], *got;
	size_t n = x86_reset_stub(want, sizeof(want));

	(void)state;
	assert_int_equal(guest_mem_map(&gm, &l, 1, &err), 0);
	assert_int_equal(x86_write_firmware(&gm, &err), 0);
	got = guest_mem_ptr(&gm, X86_RESET_VECTOR_GPA, n);
	assert_non_null(got);
	assert_memory_equal(got, want, n);
	/* The ACPI tables' area ends before the stub. */
	assert_true(X86_ACPI_GPA + X86_ACPI_MAX <= X86_RESET_VECTOR_GPA);
	guest_mem_unmap(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stub_encoding),
		cmocka_unit_test(test_stub_needs_room),
		cmocka_unit_test(test_written_at_reset_vector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
