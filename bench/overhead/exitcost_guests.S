/* Guest programs of the exit-cost benchmark (exitcost.c), run by the KVM
 * tier's rig (tests/kvm/rig.h): each reads N from guest physical 2 MiB,
 * runs one operation N times between two RDTSCs, writes the cycle count
 * to the probe port (low half, then high half) and powers off. Position
 * independent; data to the host, hence .rodata. */
	.section .rodata
	.code64

.macro op_nop
	nop
.endm
.macro op_cpuid          /* intercepted, answered inside KVM */
	xor	%eax, %eax
	cpuid
.endm
.macro op_vmcall         /* KVM_HC_VAPIC_POLL_IRQ: a no-op hypercall */
	mov	$1, %eax
	vmcall
.endm
.macro op_vmmcall        /* the same on AMD */
	mov	$1, %eax
	vmmcall
.endm
.macro op_pio_user       /* a port ringvm's probe device answers */
	out	%al, $0xe4
.endm
.macro op_pio_kernel     /* a port with an ioeventfd: KVM completes it */
	out	%al, $0xe8
.endm
.macro op_mmio_user      /* ringvm's probe MMIO page */
	mov	4(%rbx), %eax
.endm
.macro op_mmio_kernel    /* an MMIO doorbell with an ioeventfd */
	movl	$1, 0x1000(%rbx)
.endm

.macro costloop name
	.globl	cost_\name, cost_\name\()_end
cost_\name:
	mov	0x200000, %r8
	mov	$0xd0000000, %rbx
	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx
	mov	%rdx, %r9
1:	op_\name
	dec	%r8
	jnz	1b
	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx
	sub	%r9, %rdx
	mov	%edx, %eax
	out	%eax, $0xe0
	shr	$32, %rdx
	mov	%edx, %eax
	out	%eax, $0xe0
	mov	$0x3c0, %dx
	mov	$0x34, %al
	out	%al, %dx
2:	hlt
	jmp	2b
cost_\name\()_end:
.endm

	costloop nop
	costloop cpuid
	costloop vmcall
	costloop vmmcall
	costloop pio_user
	costloop pio_kernel
	costloop mmio_user
	costloop mmio_kernel

	.section .note.GNU-stack, "", @progbits
