/* Guest programs of the exit-cost benchmark (exitcost.c), run by the KVM
 * tier's rig (tests/kvm/rig.h): each reads N from guest physical 2 MiB,
 * runs one operation N times between two RDTSCs, writes the cycle count
 * to the probe port (low half, then high half) and powers off. Position
 * independent; data to the host, hence .rodata. */
	.section .rodata
	.code64

#include "exitcost_ops.inc"

.macro costloop name, apic=0
	.globl	cost_\name, cost_\name\()_end
cost_\name:
	.if \apic
	apic_setup 0x300000
	.endif
	mov	0x200000, %r8
	time_op	\name
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
	costloop halt, 1
	costloop selfipi, 1

	.section .note.GNU-stack, "", @progbits
