/* Guest programs of the exit-cost benchmark (exitcost.c), run by the KVM
 * tier's rig (tests/kvm/rig.h): each reads N from guest physical 2 MiB,
 * runs one operation N times between two RDTSCs, writes the cycle count
 * to the probe port (low half, then high half) and powers off. Position
 * independent; data to the host, hence .rodata. */
	.section .rodata
	.code64

#include "exitcost_ops.inc"

/* The cycle count in %rdx to the probe port (low half, then high half),
 * then power off. */
.macro report_off
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
.endm

.macro costloop name, apic=0
	.globl	cost_\name, cost_\name\()_end
cost_\name:
	.if \apic
	apic_setup 0x300000
	.endif
	mov	0x200000, %r8
	time_op	\name
	report_off
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

/* ipi: two vCPUs start here. vCPU 1 (APIC ID 1) enables its APIC, says it
 * is ready and halts; each IPI (vector 0xed) wakes it, its handler counts
 * it at 0x302000 and it halts again. vCPU 0 times N IPIs to it, each
 * until the count moves. */
	.globl	cost_ipi, cost_ipi_end
cost_ipi:
	cli
	mov	$0xfee00000, %rsi
	mov	0x20(%rsi), %eax         /* APIC ID, bits 31:24 */
	shr	$24, %eax
	jnz	ipi_ap
	apic_setup 0x300000
	idt_gate 0x300000, 0xed, ipi_count
	movq	$1, 0x302100             /* the IDT is ready */
1:	pause
	cmpq	$1, 0x302108             /* vCPU 1 is ready */
	jne	1b
	movl	$0x01000000, 0x310(%rsi) /* ICR high: APIC ID 1 */
	mov	0x200000, %r8
	time_op	ipi
	report_off
ipi_ap:
	mov	$0x3f0000, %rsp
1:	pause
	cmpq	$1, 0x302100
	jne	1b
	lidt	0x301000
	movl	$0x10000, 0x350(%rsi)    /* LINT0 masked */
	movl	$0x1ff, 0xf0(%rsi)       /* APIC on */
	movq	$1, 0x302108
2:	sti
	hlt
	cli
	jmp	2b
ipi_count:
	lock incq 0x302000
	movl	$0, 0xb0(%rsi)           /* EOI */
	iretq
cost_ipi_end:

	.section .note.GNU-stack, "", @progbits
