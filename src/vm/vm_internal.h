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

/* The control API and an incoming migration. */
#define VM_MAX_STARTED_HOOKS 2

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
	struct x86_cpuid cpuid0;  /* what vCPU 0 was given (vm_hello_save) */
	char *cpu_template_json;  /* the guest's CPU template, or NULL */
	struct vm_devices devs;   /* PCI host bridge and virtio functions */
	bool devs_created;
	uint8_t nic_mac[VM_MAX_NICS][6];  /* what each NIC got */

	/* Lifecycle, for the control API and the console escapes: pause,
	 * resume and snapshot are serialised by ctl_lock. */
	pthread_mutex_t ctl_lock;
	bool started;             /* vCPU threads exist */
	atomic_bool paused;
	struct kvm_clock_data paused_clock;  /* the guest's clock at pause */
	struct {
		void (*fn)(void *ctx, int rc);
		void *ctx;
	} started_hook[VM_MAX_STARTED_HOOKS];
	unsigned int nstarted_hooks;
	struct x86_vcpu_caps caps;
	struct x86_msr_list *msrs;           /* probed at the first snapshot */
	bool mig_final;           /* a migration's stop-and-copy: no resume */
};

/* vm.c: the machine, PC devices and virtio functions for cfg, no kernel
 * loaded and no vCPU state set; mem_fd > 0 maps a snapshot's memory. */
struct vm *vm_build(const struct vm_config *cfg, int mem_fd,
		    struct rv_err *err);

/* vm_lifecycle.c, ctl_lock held. */
int vm_pause_locked(struct vm *vm, struct rv_err *err);
int vm_resume_locked(struct vm *vm, struct rv_err *err);

/* vm_cpu.c: every vCPU's CPUID (and a CPU template's feature MSRs). */
int vm_cpu_setup(struct vm *vm, struct rv_err *err);
/* The guest's CPU template travels in its state (section "cpu_template",
 * the template's JSON) so each later host can be checked against it. */
void vm_cpu_template_save(const struct vm *vm, struct state_writer *w);
int vm_cpu_template_load(struct vm *vm, const struct state_reader *r,
			 struct rv_err *err);
/* Before a restored or migrated VM is built: the guest's CPU (vCPU 0's
 * CPUID, from "vcpu.0" or "cpuid") and its template against this host's
 * KVM, and against this host's own template (a path) when there is one. */
int vm_cpu_check(const struct state_reader *r, int kvm_fd,
		 const char *host_template, struct rv_err *err);


#endif
