/* struct vm, shared by the files that build it (vm.c) and run it
 * (vm_loop.c). Not for use outside src/vm. */
#ifndef RINGVM_VM_VM_INTERNAL_H
#define RINGVM_VM_VM_INTERNAL_H

#include <stdatomic.h>
#include <stdio.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/vcpu_state.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "vm/config.h"
#include "vm/machine.h"
#include "vm/vm_devices.h"

struct vm_config_store;

struct vm {
	const struct vm_config *cfg;
	struct vm_config_store *cfg_store;  /* owns cfg when restored */
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
	uint8_t nic_mac[VM_MAX_NICS][6];  /* what each NIC got */

	/* Lifecycle, for the control API and the console escapes: pause,
	 * resume and snapshot are serialised by ctl_lock. */
	pthread_mutex_t ctl_lock;
	bool started;             /* vCPU threads exist */
	atomic_bool paused;
	struct kvm_clock_data paused_clock;  /* the guest's clock at pause */
	void (*started_fn)(void *ctx, int rc);
	void *started_ctx;
	struct x86_vcpu_caps caps;
	struct x86_msr_list *msrs;           /* probed at the first snapshot */
};

/* vm.c: the machine, PC devices and virtio functions for cfg, no kernel
 * loaded and no vCPU state set; mem_fd > 0 maps a snapshot's memory. */
struct vm *vm_build(const struct vm_config *cfg, int mem_fd,
		    struct rv_err *err);


#endif
