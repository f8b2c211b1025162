/* The guest-physical and port map of a ringvm x86 machine. One place, so the
 * loaders, the ACPI tables and the devices agree. */
#ifndef RINGVM_ARCH_X86_LAYOUT_H
#define RINGVM_ARCH_X86_LAYOUT_H

/* Low memory used by ringvm itself (all inside guest RAM). */
#define X86_GDT_GPA          0x0000500ULL  /* boot GDT */
#define X86_PVH_START_GPA    0x0006000ULL  /* hvm_start_info + memmap */
#define X86_BOOT_PARAMS_GPA  0x0007000ULL  /* Linux zero page */
#define X86_PML4_GPA         0x0009000ULL  /* boot page tables: PML4, */
#define X86_PDPT_GPA         0x000a000ULL  /* PDPT, */
#define X86_PD_GPA           0x000b000ULL  /* 4 PDs (4 GiB, 2 MiB pages) */
#define X86_CMDLINE_GPA      0x0020000ULL
#define X86_CMDLINE_MAX      0x10000ULL    /* 64 KiB incl. NUL */
#define X86_EBDA_GPA         0x009fc00ULL  /* e820 hole 640K..1M */
#define X86_ACPI_GPA         0x00e0000ULL  /* RSDP + tables, in the BIOS area */
#define X86_ACPI_MAX         0x0010000ULL  /* 0xe0000..0xeffff */
#define X86_RESET_VECTOR_GPA 0x00ffff0ULL  /* F000:FFF0, see firmware.h */
#define X86_HIGH_MEM_GPA     0x0100000ULL  /* 1 MiB: protected-mode kernel */

/* The 32-bit MMIO hole: RAM stops at 3 GiB and continues at 4 GiB. */
#define X86_MMIO_HOLE_GPA    0xc0000000ULL
#define X86_4GIB             0x100000000ULL
#define X86_IOAPIC_GPA       0xfec00000ULL
/* PCI BARs go in the hole below the IOAPIC (the DSDT's PCI0 _CRS agrees). */
#define X86_PCI_MMIO_BASE    X86_MMIO_HOLE_GPA
#define X86_PCI_MMIO_END     X86_IOAPIC_GPA
#define X86_PCI_IO_BASE      0xc000
#define X86_PCI_IO_END       0x10000
#define X86_PORT_PCI_ADDR    0xcf8
#define X86_PORT_PCI_DATA    0xcfc
#define X86_LAPIC_GPA        0xfee00000ULL

/* Identity-mapped TSS/EPT pages KVM needs on Intel (just under the BIOS). */
#define X86_KVM_TSS_GPA      0xfffbd000ULL
#define X86_KVM_IDMAP_GPA    0xfffbc000ULL

/* Ports. */
#define X86_PORT_COM1        0x3f8
#define X86_IRQ_COM1         4
#define X86_IRQ_KBD          1
#define X86_PORT_I8042_DATA  0x60
#define X86_PORT_I8042_CMD   0x64
/* ACPI hardware-reduced sleep control/status and reset registers, one byte
 * each (FADT SLEEP_CONTROL_REG, SLEEP_STATUS_REG, RESET_REG). */
#define X86_PORT_ACPI_SLEEP_CTL 0x3c0
#define X86_PORT_ACPI_SLEEP_STS 0x3c1
#define X86_PORT_ACPI_RESET     0x3c2
#define X86_ACPI_RESET_VALUE    0x01
/* Where ringvm's reset-vector stub writes X86_ACPI_RESET_VALUE: the same
 * device, its own port, so the mechanism can be named. */
#define X86_PORT_FW_RESET       0x3c3
#define X86_ACPI_S5_SLP_TYP     5

#define X86_MAX_VCPUS        254

#endif
