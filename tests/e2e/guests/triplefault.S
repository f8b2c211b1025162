/*
 * The smallest bzImage ringvm can boot: a boot sector and setup header
 * (Documentation/arch/x86/boot.rst, protocol 2.15) followed by a
 * protected-mode "kernel" whose 64-bit entry (offset 0x200) prints
 * TRIPLEFAULT-GUEST on COM1 and then triple-faults on purpose: with a
 * zero-limit IDT, the #UD from ud2 cannot be delivered, nor the #GP that
 * causes, nor the double fault, so the CPU shuts down. The end-to-end
 * test expects ringvm to report that as a guest crash (exit status 2).
 *
 * Assembled as one flat .text section starting at file offset 0.
 */
#define SETUP_SECTS	1			/* + boot sector = 1 KiB */
#define PM_START	((SETUP_SECTS + 1) * 512)

	.section .text
	.code16
	.globl	_start
_start:
	/* Nothing runs here: the 64-bit boot protocol skips real mode. */
	cli
1:	hlt
	jmp	1b

	.org	0x1f1
setup_sects:	.byte	SETUP_SECTS
root_flags:	.word	0
syssize:	.long	(pm_end - pm_start + 15) / 16
ram_size:	.word	0
vid_mode:	.word	0xffff			/* "normal" */
root_dev:	.word	0
boot_flag:	.word	0xaa55
	.org	0x200
jump:		.byte	0xeb, hdr_end - jump - 2	/* gives the header length */
header:		.ascii	"HdrS"
version:	.word	0x020f
realmode_swtch:	.long	0
start_sys_seg:	.word	0x1000
kernel_version:	.word	0
type_of_loader:	.byte	0
loadflags:	.byte	0x01			/* LOADED_HIGH */
setup_move_size: .word	0
code32_start:	.long	0x100000
ramdisk_image:	.long	0
ramdisk_size:	.long	0
bootsect_kludge: .long	0
heap_end_ptr:	.word	0
ext_loader_ver:	.byte	0
ext_loader_type: .byte	0
cmd_line_ptr:	.long	0
initrd_addr_max: .long	0x7fffffff
kernel_alignment: .long	0x1000
relocatable_kernel: .byte 0
min_alignment:	.byte	12
xloadflags:	.word	0x0001			/* XLF_KERNEL_64 */
cmdline_size:	.long	0x7ff
hardware_subarch: .long	0
hardware_subarch_data: .quad 0
payload_offset:	.long	0
payload_length:	.long	0
setup_data:	.quad	0
pref_address:	.quad	0x100000
init_size:	.long	0x10000			/* 64 KiB from 1 MiB */
handover_offset: .long	0
kernel_info_offset: .long 0
hdr_end:

	.org	PM_START
pm_start:
	/* 32-bit entry (offset 0): not supported, just stop. */
	.code32
	cli
2:	hlt
	jmp	2b

	.org	PM_START + 0x200
	.code64
entry64:
	cli
	cld
	lea	msg(%rip), %rsi
	mov	$0x3f8, %dx
3:	lodsb
	test	%al, %al
	jz	4f
	outb	%al, %dx
	jmp	3b
4:	lidt	null_idt(%rip)
	ud2
5:	hlt				/* never reached */
	jmp	5b

null_idt:
	.word	0			/* limit */
	.quad	0			/* base */
msg:
	.asciz	"TRIPLEFAULT-GUEST\n"
	.balign	16
pm_end:
