#include "arch/x86/firmware.h"

#include <string.h>

#include "arch/x86/layout.h"

size_t x86_reset_stub(uint8_t *out, size_t cap)
{
	/* 16-bit real mode, 16 bytes at most (FFF0..FFFF):
	 *   cli
	 *   mov  dx, X86_PORT_FW_RESET
	 *   mov  al, X86_ACPI_RESET_VALUE
	 *   out  dx, al
	 * 1: hlt
	 *   jmp  1b
	 */
	const uint8_t stub[] = {
		0xfa,
		0xba, X86_PORT_FW_RESET & 0xff, X86_PORT_FW_RESET >> 8,
		0xb0, X86_ACPI_RESET_VALUE,
		0xee,
		0xf4,
		0xeb, 0xfd,
	};

	if (cap < sizeof(stub))
		return 0;
	memcpy(out, stub, sizeof(stub));
	return sizeof(stub);
}

int x86_write_firmware(const struct guest_mem *gm, struct rv_err *err)
{
	uint8_t *dst = guest_mem_ptr(gm, X86_RESET_VECTOR_GPA, 16);

	if (!dst)
		return rv_fail(err, "no guest RAM at the reset vector");
	if (x86_reset_stub(dst, 16) == 0)
		return rv_fail(err, "reset stub does not fit");
	return 0;
}
