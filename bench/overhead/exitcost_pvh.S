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

	.section .note.Xen, "a", @note
	.balign 4
	.long	4                /* name size: "Xen\0" */
	.long	4                /* descriptor size */
	.long	18               /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.long	start32

	.text
	.code32
	.globl	start32
start32:
	cli
	/* Page tables: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB pages
	 * (present, writable, large), identity for the low 4 GiB. */
	mov	$tables, %edi
	xor	%eax, %eax
	mov	$(6 * 4096 / 4), %ecx
	rep stosl
	movl	$(tables + 4096 + 3), tables
	mov	$(tables + 4096), %edi
	mov	$(tables + 2 * 4096 + 3), %eax
	mov	$4, %ecx
1:	mov	%eax, (%edi)
	add	$4096, %eax
	add	$8, %edi
	loop	1b
	mov	$(tables + 2 * 4096), %edi
	mov	$0x83, %eax
	mov	$2048, %ecx
2:	mov	%eax, (%edi)
	add	$0x200000, %eax
	add	$8, %edi
	loop	2b
	mov	%cr4, %eax
	or	$0x20, %eax              /* PAE */
	mov	%eax, %cr4
	mov	$tables, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx        /* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	lgdt	gdt_desc
	mov	%cr0, %eax
	or	$0x80000001, %eax        /* PG, PE */
	mov	%eax, %cr0
	ljmp	$0x08, $start64

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

start64:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$stack_top, %rsp
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

	.section .rodata
	.balign 8
gdt:
	.quad	0
	.quad	0x00af9a000000ffff       /* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff       /* 0x10: data */
gdt_desc:
	.word	3 * 8 - 1
	.long	gdt

	.bss
	.balign 4096
tables:
	.skip	6 * 4096
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
