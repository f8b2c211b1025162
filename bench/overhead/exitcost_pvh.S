/* The exit-cost programs as a PVH kernel (the Xen PVH entry note, which
 * QEMU's -kernel boots), so QEMU runs the same operations as ringvm in
 * the same machine: the peer of make bench-exits. From the 32-bit PVH
 * entry it maps the low 4 GiB with 2 MiB pages, enters long mode, then
 * RUNS times over: each operation N times between two RDTSCs, the cycle
 * count written as 8 little-endian bytes to port 0xe9 (QEMU's
 * isa-debugcon, to a file). Then it writes port 0xf4 (isa-debug-exit),
 * which ends QEMU. Only the kinds QEMU has a path for: nothing answers
 * ringvm's ioeventfd ports there. Per run: nop, cpuid, the hypercall,
 * pio_user, mmio_user, halt, selfipi. */
#define N    20000
#define RUNS 5

#include "pvh_entry.inc"

	.code64
#include "exitcost_ops.inc"

/* COUNT (default N) times OP between two RDTSCs; the cycle count to port
 * 0xe9, low byte first. */
.macro timed op, count=N
	mov	$\count, %r8
	time_op	\op
	mov	$8, %ecx                 /* isa-debugcon takes bytes only */
2:	mov	%dl, %al
	out	%al, $0xe9
	shr	$8, %rdx
	loop	2b
.endm

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
	timed	halt, N / 100            /* as exitcost runs them */
	timed	selfipi, N / 100
	dec	%r13d
	jnz	3b
	xor	%eax, %eax
	out	%al, $0xf4
6:	hlt
	jmp	6b


	.section .note.GNU-stack, "", @progbits
