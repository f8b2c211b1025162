#include "vm/vm.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/firmware.h"
#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "util/file.h"
#include "vm/kvm_sys.h"
#include "vm/machine.h"
#include "vm/vcpu.h"
#include "vm/config_state.h"
#include "vm/vm_internal.h"

#define KERNEL_MAX_BYTES (512u << 20)

static int check_host_memory(uint64_t mem, struct rv_err *err)
{
	struct sysinfo si;
	uint64_t total;

	if (sysinfo(&si) < 0)
		return 0; /* cannot tell; let mmap decide */
	total = (uint64_t)si.totalram * si.mem_unit;
	if (mem > total)
		return rv_fail(err, "--mem %llu MiB exceeds this host's %llu MiB of RAM",
			       (unsigned long long)(mem >> 20),
			       (unsigned long long)(total >> 20));
	return 0;
}

static int check_backend(const struct vm_config *cfg, struct rv_err *err)
{
	/* RINGVM_SYSFS_MODULES lets tests show the PVM refusal on any host. */
	const char *mods = getenv("RINGVM_SYSFS_MODULES");
	enum kvm_backend b = kvm_backend_detect(mods ? mods : "/sys/module",
						"/proc/cpuinfo");

	if (b != KVM_BACKEND_PVM || cfg->allow_slow_backend)
		return 0;
	return rv_fail(err,
		"/dev/kvm here is kvm_pvm, a software KVM backend without VMX/SVM: a stock kernel's CPL-0 code would be emulated (~1 us per instruction) and take many minutes to boot. "
		"Run ringvm on a VMX/SVM host, inside the emulated SVM machine of tools/ringvm-harness, or pass --allow-slow-backend to try anyway");
}

static int open_log(const char *path, struct rv_err *err)
{
	int fd;

	if (!path)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return rv_fail_errno(err, "cannot open serial log %s", path);
	return fd;
}

static int add_devices(struct vm *vm, struct rv_err *err)
{
	struct machine *m = &vm->m;
	int out_fd = vm->cfg->console == CONSOLE_SERIAL ? STDOUT_FILENO : -1;

	vm->uart = uart8250_new(machine_irq_line(m, X86_IRQ_COM1), out_fd,
				vm->log_fd);
	if (!vm->uart)
		return rv_fail(err, "out of memory for the serial port");
	i8042_init(&vm->kbd, machine_vm_ctl(m));
	i8042_set_irq(&vm->kbd, machine_irq_line(m, X86_IRQ_KBD));
	acpi_pm_init(&vm->pm, machine_vm_ctl(m), X86_ACPI_S5_SLP_TYP,
		     X86_ACPI_RESET_VALUE);
	if (io_bus_add(&m->pio, X86_PORT_COM1, 8, uart8250_io, vm->uart,
		       "com1", err) < 0 ||
	    io_bus_add(&m->pio, X86_PORT_I8042_DATA, 1, i8042_data_io,
		       &vm->kbd, "i8042-data", err) < 0 ||
	    io_bus_add(&m->pio, X86_PORT_I8042_CMD, 1, i8042_cmd_io,
		       &vm->kbd, "i8042-cmd", err) < 0 ||
	    io_bus_add(&m->pio, X86_PORT_ACPI_SLEEP_CTL, 4, acpi_pm_io,
		       &vm->pm, "acpi-pm", err) < 0)
		return -1;
	return 0;
}

static int load_acpi(struct vm *vm, uint64_t *rsdp, struct rv_err *err)
{
	struct acpi_config cfg = { .ncpus = vm->cfg->ncpus,
				   .base_gpa = X86_ACPI_GPA };
	struct acpi_tables t;
	uint8_t *dst = guest_mem_ptr(&vm->m.mem, X86_ACPI_GPA, X86_ACPI_MAX);

	if (!dst)
		return rv_fail(err, "no guest RAM for the ACPI tables");
	if (acpi_build(dst, X86_ACPI_MAX, &cfg, &t, err) < 0 ||
	    x86_write_firmware(&vm->m.mem, err) < 0)
		return -1;
	*rsdp = t.rsdp_gpa;
	return 0;
}

static int load_kernel(struct vm *vm, uint64_t rsdp, struct rv_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	struct boot_image kernel = { .fd = -1 }, initrd = { .fd = -1 };
	struct e820_map e820;
	struct x86_boot_config bc;
	int rc = -1;

	/* The loaders read the files with pread, the big parts straight into
	 * guest RAM: a 60 MiB vmlinux never passes through a buffer. */
	kernel.fd = file_open_regular(cfg->kernel, "kernel", KERNEL_MAX_BYTES,
				      &kernel.len, err);
	if (kernel.fd < 0)
		return -1;
	if (cfg->initrd) {
		initrd.fd = file_open_regular(cfg->initrd, "initrd",
					      (size_t)vm->m.mem.ram_size,
					      &initrd.len, err);
		if (initrd.fd < 0)
			goto out;
	}
	x86_e820_build(&vm->m.mem, &e820);
	bc = (struct x86_boot_config){
		.kernel = kernel, .initrd = initrd,
		.cmdline = cfg->cmdline ? cfg->cmdline : "",
		.rsdp_gpa = rsdp, .e820 = &e820,
	};
	if (x86_load_kernel(&vm->m.mem, &bc, &vm->boot, err) < 0) {
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		rv_fail(err, "kernel %s: %s", cfg->kernel, tmp);
		goto out;
	}
	rc = 0;
out:
	close(kernel.fd);
	if (initrd.fd >= 0)
		close(initrd.fd);
	return rc;
}

static int setup_vcpus(struct vm *vm, struct rv_err *err)
{
	struct machine *m = &vm->m;

	if (vm_cpu_setup(vm, err) < 0)
		return -1;
	/* APs wait for INIT/SIPI from the guest in the in-kernel LAPIC. */
	return x86_vcpu_boot_regs(m->vcpu[0].fd, &m->mem, &vm->boot, err);
}

/* What booting and restoring share: KVM, the machine with its RAM
 * (anonymous, or a snapshot's memory file when mem_fd > 0), the PC devices
 * and the virtio functions in configuration order. On failure everything
 * built so far is undone and vm is freed. */
struct vm *vm_build(const struct vm_config *cfg, int mem_fd,
		    struct rv_err *err)
{
	struct machine_opts mo = { .mem_size = cfg->mem_size,
				   .nvcpus = cfg->ncpus, .irqchip = true,
				   .mem_fd = mem_fd,
				   .mem_backing = cfg->mem_backing,
				   .mem_merge = cfg->mem_merge,
				   .pin = &cfg->cpu_pin };
	struct vm *vm;

	for (unsigned int i = 0; i < cfg->ndisks; i++)
		mo.mem_shared |= cfg->disk[i].vhost_user;
	mo.mem_shared |= cfg->nfs > 0;
	for (unsigned int i = 0; i < cfg->nnics; i++)
		mo.mem_shared |= cfg->nic[i].vhost_user;
	if (mem_fd <= 0 && check_host_memory(cfg->mem_size, err) < 0)
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		rv_fail(err, "out of memory");
		return NULL;
	}
	vm->cfg = cfg;
	vm->log_fd = -1;
	pthread_mutex_init(&vm->ctl_lock, NULL);
	/* RINGVM_KVM_DEVICE: another KVM node (tests use a missing one). */
	vm->kvm_fd = kvm_open(getenv("RINGVM_KVM_DEVICE") ?
			      getenv("RINGVM_KVM_DEVICE") : "/dev/kvm", err);
	if (vm->kvm_fd < 0)
		goto fail_free;
	if (check_backend(cfg, err) < 0)
		goto fail_kvm;
	vm->log_fd = open_log(cfg->serial_log, err);
	if (cfg->serial_log && vm->log_fd < 0)
		goto fail_kvm;
	if (machine_create(&vm->m, vm->kvm_fd, &mo, err) < 0)
		goto fail_log;
	x86_vcpu_caps_probe(vm->kvm_fd, vm->m.vm_fd, &vm->caps);
	if (add_devices(vm, err) < 0)
		goto fail_machine;
	vm->devs_created = true;
	if (vm_devices_create(vm, err) < 0)
		goto fail_machine;
	return vm;

fail_machine:
	if (vm->devs_created)
		vm_devices_destroy(vm);
	machine_destroy(&vm->m);
	if (vm->uart)
		uart8250_free(vm->uart);
fail_log:
	if (vm->log_fd >= 0)
		close(vm->log_fd);
fail_kvm:
	close(vm->kvm_fd);
fail_free:
	pthread_mutex_destroy(&vm->ctl_lock);
	free(vm);
	return NULL;
}

int vm_create(const struct vm_config *cfg, struct vm **out, struct rv_err *err)
{
	struct vm *vm = vm_build(cfg, -1, err);
	uint64_t rsdp = 0;

	if (!vm)
		return -1;
	if (load_acpi(vm, &rsdp, err) < 0 ||
	    load_kernel(vm, rsdp, err) < 0 || setup_vcpus(vm, err) < 0) {
		vm_destroy(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	/* Parked vCPU threads must see the stop before anything goes. */
	if (vm->started && machine_outcome(&vm->m) == OUTCOME_RUNNING) {
		machine_stop(&vm->m, OUTCOME_SIGNAL);
		machine_join(&vm->m);
	}
	/* Devices stop their I/O threads before guest memory goes away. */
	if (vm->devs_created)
		vm_devices_destroy(vm);
	machine_destroy(&vm->m);
	if (vm->uart)
		uart8250_free(vm->uart);
	if (vm->log_fd >= 0)
		close(vm->log_fd);
	close(vm->kvm_fd);
	if (vm->cfg_store) {
		vm_config_store_free(vm->cfg_store);
		free(vm->cfg_store);
	}
	free(vm->cpu_template_json);
	pthread_mutex_destroy(&vm->ctl_lock);
	free(vm);
}
