/* struct vm, shared by the files that build it (vm.c) and run it
 * (vm_loop.c). Not for use outside src/vm. */
#ifndef RINGVM_VM_VM_INTERNAL_H
#define RINGVM_VM_VM_INTERNAL_H

#include <stdio.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "vm/config.h"
#include "vm/machine.h"
#include "vm/vm_devices.h"

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int log_fd;               /* --serial-log, or -1 */
	struct machine m;
	struct uart8250 *uart;
	struct i8042 kbd;
	struct acpi_pm pm;
	struct x86_boot_info boot;
	struct x86_cpuid cpuid;   /* scratch for shaping each vCPU's CPUID */
	struct vm_devices devs;   /* PCI host bridge and virtio functions */
	bool devs_created;
};

/* Writes the --stats lines (after the vCPUs stopped). */
void vm_write_stats(struct vm *vm, FILE *out);

#endif
