/* The exit-cost programs as a PVH kernel (the Xen PVH entry note, which
 * both ringvm's PVH loader and QEMU's -kernel boot), so ringvm itself and
 * QEMU run the same operations in the same machine: make bench-exits'
 * side-by-side figures (exitcost's rig has the kinds only a rig can
 * have). From the 32-bit PVH entry it maps the low 4 GiB with 2 MiB pages,
 * enters long mode, then RUNS times over: each operation N times between
 * two RDTSCs, printed on the serial port (0x3f8) as "EXITCOST_CYCLES C" in
 * decimal. Then both power-off doors: ringvm's ACPI sleep control (0x3c0)
 * and QEMU's isa-debug-exit (0xf4). Nothing answers the rig's ioeventfd
 * ports in a real machine, so only the kinds both have a path for. Per
 * run: nop, cpuid, the hypercall, pio_user, mmio_user, halt, selfipi. */
#define N    20000
#define RUNS 5

#include "pvh_entry.inc"

	.code64
#include "exitcost_ops.inc"

/* COUNT (default N) times OP between two RDTSCs; the cycle count to the
 * serial port. */
.macro timed op, count=N
	mov	$\count, %r8
	time_op	\op
	call	print_cycles
.endm

/* "EXITCOST_CYCLES <%rdx in decimal>\n" on the UART, each byte once the
 * transmitter holds none (LSR bit 5). Clobbers %rax, %rcx, %rdx, %rdi,
 * %r9, %r10, %r11. */
print_cycles:
	mov	%rdx, %r9
	lea	prefix(%rip), %rdi
	mov	$(prefix_end - prefix), %ecx
	call	put_bytes
	mov	%r9, %rax
	lea	digits_end(%rip), %rdi
	mov	$10, %r10d
1:	xor	%edx, %edx
	div	%r10
	add	$'0', %dl
	dec	%rdi
	mov	%dl, (%rdi)
	test	%rax, %rax
	jnz	1b
	lea	digits_end(%rip), %rcx
	sub	%rdi, %rcx
	inc	%rcx                     /* and the newline after the digits */
/* %rcx bytes from (%rdi) to the UART. */
put_bytes:
	mov	%rcx, %r11
2:	mov	$0x3fd, %dx
3:	in	%dx, %al
	test	$0x20, %al
	jz	3b
	mov	$0x3f8, %dx
	mov	(%rdi), %al
	out	%al, %dx
	inc	%rdi
	dec	%r11
	jnz	2b
	ret

main64:
	apic_setup 0x300000              /* for halt and selfipi; moves the stack */
	xor	%eax, %eax               /* AMD: vmmcall; Intel: vmcall */
	cpuid
	xor	%r12d, %r12d
	cmp	$0x68747541, %ebx        /* "Auth" of AuthenticAMD */
	sete	%r12b
	mov	$RUNS, %r13d
3:	timed	nop
	timed	cpuid
	test	%r12b, %r12b
	jz	4f
	timed	vmmcall
	jmp	5f
4:	timed	vmcall
5:	timed	pio_user
	timed	mmio_user
	/* 40 halts a run: each is a chance for the emulated machine to
	 * lose the wakeup (docs/harness.md), which ends the boot */
	timed	halt, N / 500
	timed	selfipi, N / 100         /* as exitcost runs them */
	dec	%r13d
	jnz	3b
	mov	$0x3c0, %dx              /* ringvm: SLP_TYP 5 | SLP_EN */
	mov	$0x34, %al
	out	%al, %dx
	xor	%eax, %eax               /* QEMU: isa-debug-exit */
	out	%al, $0xf4
6:	cli
	hlt
	jmp	6b

	.section .rodata
prefix:	.ascii	"EXITCOST_CYCLES "
prefix_end:
	.section .data
	.skip	24                       /* 2^64 has 20 decimal digits */
digits_end:
	.byte	'\n'


	.section .note.GNU-stack, "", @progbits
