/* A VM brought back from a snapshot in a new process: the memory file
 * mapped (MAP_PRIVATE: not read, not changed), the machine and devices
 * built again from the snapshot's description, then KVM's VM-wide state,
 * every vCPU, every device, and last the guest's clock. Everything that can
 * be checked is checked before anything runs: the state file as a whole
 * (see state/state.h), the memory file's size, and the guest's CPU
 * against this host (vm_cpu.c). A refusal
 * starts no guest and writes nothing to any disk image. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/cpuid_features.h"
#include "vm/config_state.h"
#include "vm/kvm_sys.h"
#include "vm/vcpu.h"
#include "vm/vm.h"
#include "vm/vm_internal.h"

static int open_mem(const char *path, uint64_t want, struct rv_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return rv_fail_errno(err, "cannot open memory file %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rv_fail(err, "memory file %s is not a regular file", path);
	}
	if ((uint64_t)st.st_size != want) {
		close(fd);
		return rv_fail(err, "memory file %s is %llu bytes, the snapshot's guest has %llu bytes of RAM",
			       path, (unsigned long long)st.st_size,
			       (unsigned long long)want);
	}
	/* Mapped later: fd > 0 is what machine_create takes as "a file". */
	if (fd == 0) {
		int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		close(fd);
		fd = d;
	}
	return fd;
}

static int load_vcpus(struct vm *vm, const struct state_reader *r,
		      struct rv_err *err)
{
	struct x86_vcpu_state *s = x86_vcpu_state_new();
	int rc = 0;

	if (!s)
		return rv_fail(err, "out of memory for vCPU state");
	for (unsigned int i = 0; i < vm->m.nvcpus && rc == 0; i++) {
		if (x86_vcpu_state_load(r, i, s, err) < 0 ||
		    x86_vcpu_state_set(vm->m.vcpu[i].fd, &vm->caps, s, err) < 0) {
			char tmp[sizeof(err->msg)];

			snprintf(tmp, sizeof(tmp), "%s", err->msg);
			rc = rv_fail(err, "vCPU %u: %s", i, tmp);
		} else if (i == 0) {
			vm->cpuid0 = s->cpuid;
		}
	}
	x86_vcpu_state_free(s);
	return rc;
}

/* Everything but RAM, in dependency order; the clock last. */
static int load_state(struct vm *vm, const struct state_reader *r,
		      struct rv_err *err)
{
	struct x86_vm_state vms;

	if (vm_cpu_template_load(vm, r, err) < 0 ||
	    x86_vm_state_load(r, &vms, err) < 0 ||
	    x86_vm_state_set(vm->m.vm_fd, &vms, err) < 0 ||
	    load_vcpus(vm, r, err) < 0 ||
	    uart8250_load(vm->uart, r, "com1", err) < 0 ||
	    i8042_load(&vm->kbd, r, err) < 0 ||
	    acpi_pm_load(&vm->pm, r, err) < 0 ||
	    vm_devices_load(vm, r, err) < 0 ||
	    x86_vm_clock_set(vm->m.vm_fd, &vms, err) < 0)
		return -1;
	vm->paused_clock = vms.clock;
	return 0;
}

/* The configuration from r with what the restoring process decides for
 * itself (logs, console on stdio, TAP renames) applied. */
static int restore_config(const struct state_reader *r,
			  const struct vm_restore_opts *o,
			  struct vm_config_store *store, struct rv_err *err)
{
	if (vm_config_load(r, store, err) < 0)
		return -1;
	store->cfg.serial_log = o->serial_log;
	store->cfg.stats_path = o->stats_path;
	store->cfg.allow_slow_backend = o->allow_slow_backend;
	store->cfg.seccomp = o->seccomp;
	store->cfg.mem_merge = o->mem_merge;
	store->cfg.cpu_pin = o->cpu_pin;
	store->cfg.io_poll_us = o->io_poll_us;
	/* Host pages for anonymous RAM (a migration's): this host's choice. */
	store->cfg.mem_backing = o->mem_backing;
	/* A virtio console is a device of the guest: it stays. Serial or
	 * nothing on stdio is the restoring process's choice. */
	if (o->console_set && o->console != store->cfg.console) {
		if (o->console == CONSOLE_VIRTIO ||
		    store->cfg.console == CONSOLE_VIRTIO)
			return rv_fail(err, "--console: the snapshot's guest has %s virtio console; it cannot be added or removed",
				       store->cfg.console == CONSOLE_VIRTIO ? "a" : "no");
		store->cfg.console = o->console;
	}
	for (unsigned int i = 0; i < o->n_tap_overrides; i++) {
		unsigned int k;

		for (k = 0; k < store->cfg.nnics; k++) {
			char id[16];

			snprintf(id, sizeof(id), "net%u", k);
			if (!strcmp(o->tap_override[i].id, store->cfg.nic[k].id ?
				    store->cfg.nic[k].id : id))
				break;
		}
		if (k == store->cfg.nnics)
			return rv_fail(err, "network override: the snapshot has no interface '%s'",
				       o->tap_override[i].id);
		store->cfg.nic[k].tap = o->tap_override[i].tap;
	}
	return 0;
}

int vm_restore_build(const struct state_reader *r,
		     const struct vm_restore_opts *o, struct vm **out,
		     struct rv_err *err)
{
	struct vm_config_store *store = calloc(1, sizeof(*store));
	struct vm *vm;
	int kvm_fd = -1, mem_fd = -1;

	if (!store)
		return rv_fail(err, "out of memory");
	if (restore_config(r, o, store, err) < 0)
		goto fail;
	kvm_fd = kvm_open(getenv("RINGVM_KVM_DEVICE") ?
			  getenv("RINGVM_KVM_DEVICE") : "/dev/kvm", err);
	if (kvm_fd < 0 || vm_cpu_check(r, kvm_fd, o->cpu_template, err) < 0)
		goto fail;
	if (o->mem_path) {
		mem_fd = open_mem(o->mem_path, store->cfg.mem_size, err);
		if (mem_fd < 0)
			goto fail;
	}
	vm = vm_build(&store->cfg, mem_fd, err);
	if (!vm)
		goto fail;
	vm->cfg_store = store;
	if (mem_fd >= 0)
		close(mem_fd);
	close(kvm_fd);
	*out = vm;
	return 0;
fail:
	if (mem_fd >= 0)
		close(mem_fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
	vm_config_store_free(store);
	free(store);
	return -1;
}

int vm_restore_load(struct vm *vm, const struct state_reader *r, bool paused,
		    struct rv_err *err)
{
	if (load_state(vm, r, err) < 0)
		return -1;
	/* vm_run starts the vCPUs parked when the VM is to stay paused; the
	 * devices look at their rings only now that everything is in (or at
	 * resume, which kicks them too). */
	if (paused) {
		vm_devices_pause(vm);
		atomic_store(&vm->m.pause_req, true);
		atomic_store(&vm->paused, true);
	} else {
		vm_devices_kick(vm);
	}
	return 0;
}

int vm_restore(const struct vm_restore_opts *o, struct vm **out,
	       struct rv_err *err)
{
	struct state_reader r = { 0 };
	struct vm *vm = NULL;

	if (state_read_file(&r, o->state_path, err) < 0)
		return -1;
	if (vm_restore_build(&r, o, &vm, err) < 0)
		goto fail;
	if (vm_restore_load(vm, &r, o->paused, err) < 0) {
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		rv_fail(err, "snapshot %s: %s", o->state_path, tmp);
		goto fail;
	}
	state_reader_free(&r);
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	state_reader_free(&r);
	return -1;
}
