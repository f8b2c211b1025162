/* vnotify as a PVH kernel: the entry (pvh_entry.inc), a stack, then
 * vnotify_main (vnotify.c); afterwards both power-off doors, since the
 * same kernel runs under ringvm (ACPI sleep control at 0x3c0) and under
 * QEMU -M pc (isa-debug-exit at 0xf4). */
#include "pvh_entry.inc"

	.code64
main64:
	call	vnotify_main
	mov	$0x3c0, %dx              /* ringvm: SLP_TYP 5 | SLP_EN */
	mov	$0x34, %al
	out	%al, %dx
	xor	%eax, %eax               /* QEMU: isa-debug-exit */
	out	%al, $0xf4
1:	cli
	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits
