/* Guest programs for the KVM test tier. Each runs in 64-bit mode at CPL 0,
 * entered through ringvm's own Linux 64-bit boot register setup, and must be
 * position independent: the test copies the bytes between NAME and NAME_end
 * to guest RAM. Port 0xe0 records values, port 0xe4 reads 0xab12cd34, and a
 * write of SLP_TYP=5|SLP_EN to the ACPI sleep control port (0x3c0) powers
 * the machine off. They live in .rodata: they are data to the host. */
	.section .rodata
	.code64

.macro poweroff
	mov	$0x3c0, %dx
	mov	$0x34, %al
	out	%al, %dx
1:	hlt
	jmp	1b
.endm

	.globl	guest_pio, guest_pio_end
guest_pio:
	mov	$0x11, %al
	out	%al, $0xe0
	mov	$0x2233, %ax
	out	%ax, $0xe0
	mov	$0x44556677, %eax
	out	%eax, $0xe0
	in	$0xe4, %eax
	inc	%eax
	out	%eax, $0xe0
	in	$0xe4, %al
	out	%al, $0xe0
	poweroff
guest_pio_end:

	.globl	guest_string_io, guest_string_io_end
guest_string_io:
	lea	msg(%rip), %rsi
	mov	$5, %rcx
	mov	$0xe0, %dx
	cld
	rep outsb
	poweroff
msg:	.ascii	"hello"
guest_string_io_end:

	.globl	guest_mmio, guest_mmio_end
guest_mmio:
	mov	$0xd0000000, %rbx
	movl	$0xcafef00d, (%rbx)
	mov	4(%rbx), %eax
	out	%eax, $0xe0
	movabs	$0x1122334455667788, %rax
	mov	%rax, 8(%rbx)
	poweroff
guest_mmio_end:

	.globl	guest_memory, guest_memory_end
guest_memory:
	/* The host wrote a pattern at 2 MiB and at 1 MiB below the end of a
	 * 512 MiB guest; the guest stores its complement right after it. */
	mov	$0x200000, %rdi
	mov	(%rdi), %rax
	not	%rax
	mov	%rax, 8(%rdi)
	mov	$0x1ff00000, %rdi
	mov	(%rdi), %rax
	not	%rax
	mov	%rax, 8(%rdi)
	poweroff
guest_memory_end:

	.globl	guest_regs, guest_regs_end
guest_regs:
	mov	%cr0, %rax
	out	%eax, $0xe0
	mov	%cr4, %rax
	out	%eax, $0xe0
	mov	$0xc0000080, %ecx
	rdmsr
	out	%eax, $0xe0
	mov	%cs, %eax
	out	%eax, $0xe0
	mov	%rsi, %rax
	out	%eax, $0xe0
	poweroff
guest_regs_end:

	.globl	guest_cpuid, guest_cpuid_end
guest_cpuid:
	mov	$0x40000000, %eax
	cpuid
	mov	%ebx, %eax
	out	%eax, $0xe0
	mov	%ecx, %eax
	out	%eax, $0xe0
	mov	%edx, %eax
	out	%eax, $0xe0
	mov	$1, %eax
	cpuid
	mov	%ecx, %eax
	out	%eax, $0xe0
	mov	%ebx, %eax
	out	%eax, $0xe0
	poweroff
guest_cpuid_end:

	.globl	guest_hlt, guest_hlt_end
guest_hlt:
	cli
	hlt
	/* Not reached: KVM_EXIT_HLT ends the run without an irqchip. */
	mov	$0xee, %al
	out	%al, $0xe0
	jmp	guest_hlt
guest_hlt_end:

	.globl	guest_triple_fault, guest_triple_fault_end
guest_triple_fault:
	lidt	null_idt(%rip)
	int3
null_idt:
	.word	0
	.quad	0
guest_triple_fault_end:

	/* Counts in RAX and at 2 MiB forever, with a port write (an exit to
	 * the VMM, unclaimed) every iteration: pause must catch it between
	 * exits, and the count must go on from where it was. */
	.globl	guest_counter, guest_counter_end
guest_counter:
	mov	$0x200000, %rdi
	xor	%eax, %eax
1:	inc	%rax
	mov	%rax, (%rdi)
	out	%al, $0xe8
	jmp	1b
guest_counter_end:

	/* A known number of each exit for the exit accounting: 1000 port
	 * reads (probe-in), 300 MMIO reads (probe-mmio), then the poweroff
	 * write (acpi-pm). */
	.globl	guest_exits, guest_exits_end
guest_exits:
	mov	$1000, %ecx
1:	in	$0xe4, %eax
	dec	%ecx
	jnz	1b
	mov	$0xd0000000, %rbx
	mov	$300, %ecx
2:	mov	4(%rbx), %eax
	dec	%ecx
	jnz	2b
	poweroff
guest_exits_end:

	.section .note.GNU-stack, "", @progbits
