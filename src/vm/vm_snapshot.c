/* A Full snapshot of a paused VM, to two files: the state (the VM
 * description, KVM's VM-wide and per-vCPU state, every device's sections)
 * and the memory file (guest RAM, holes where it is zero). Both are written
 * beside their targets and renamed into place only once both are complete,
 * so a failed snapshot leaves no half pair behind (and the guest, paused,
 * can be resumed as if nothing happened). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/version.h"
#include "vm/config_state.h"
#include "vm/kvm_sys.h"
#include "vm/vcpu.h"
#include "vm/vm.h"
#include "vm/vm_internal.h"

static int save_vcpus(struct vm *vm, struct state_writer *w,
		      struct rv_err *err)
{
	struct x86_vcpu_state *s = x86_vcpu_state_new();
	int rc = 0;

	if (!s)
		return rv_fail(err, "out of memory for vCPU state");
	if (!vm->msrs) {
		vm->msrs = calloc(1, sizeof(*vm->msrs));
		if (!vm->msrs)
			rc = rv_fail(err, "out of memory for the MSR list");
		else if (x86_msr_list_probe(vm->kvm_fd, vm->m.vcpu[0].fd,
					    vm->msrs, err) < 0)
			rc = -1;
		if (rc < 0) {
			free(vm->msrs);
			vm->msrs = NULL;
			x86_vcpu_state_free(s);
			return -1;
		}
	}
	for (unsigned int i = 0; i < vm->m.nvcpus && rc == 0; i++) {
		rc = x86_vcpu_state_get(vm->m.vcpu[i].fd, &vm->caps, vm->msrs,
					s, err);
		if (rc == 0)
			x86_vcpu_state_save(w, i, s);
	}
	x86_vcpu_state_free(s);
	return rc;
}

/* Builds the whole state in memory (nothing touches disk yet). */
int vm_state_save(struct vm *vm, struct state_writer *w, struct rv_err *err)
{
	if (!atomic_load(&vm->paused))
		return rv_fail(err, "the VM must be paused");
	if (vm_devices_savable(vm, err) < 0)
		return -1;
	struct x86_vm_state vms;

	vm_config_save(w, vm->cfg, (const uint8_t (*)[6])vm->nic_mac);
	vm_cpu_template_save(vm, w);
	if (x86_vm_state_get(vm->m.vm_fd, &vms, err) < 0)
		return -1;
	/* The clock as it was when the guest stopped, not as it is now. */
	vms.clock = vm->paused_clock;
	x86_vm_state_save(w, &vms);
	if (save_vcpus(vm, w, err) < 0)
		return -1;
	uart8250_save(vm->uart, w, "com1");
	i8042_save(&vm->kbd, w);
	acpi_pm_save(&vm->pm, w);
	vm_devices_save(vm, w);
	return 0;
}

static char *tmp_name(const char *path)
{
	size_t n = strlen(path);
	char *t = malloc(n + sizeof(".ringvm-new"));

	if (t)
		snprintf(t, n + sizeof(".ringvm-new"), "%s.ringvm-new", path);
	return t;
}

int vm_snapshot(struct vm *vm, const char *state_path, const char *mem_path,
		struct vm_snapshot_info *info, struct rv_err *err)
{
	struct state_writer w;
	const uint8_t *buf;
	char *st_tmp = tmp_name(state_path), *mem_tmp = tmp_name(mem_path);
	uint64_t mem_written = 0;
	size_t len;
	int rc = -1;

	pthread_mutex_lock(&vm->ctl_lock);
	state_writer_init(&w, RINGVM_VERSION);
	if (!st_tmp || !mem_tmp) {
		rv_fail(err, "out of memory");
		goto out;
	}
	if (!strcmp(state_path, mem_path)) {
		rv_fail(err, "the state and memory files must be two different files");
		goto out;
	}
	if (!atomic_load(&vm->paused)) {
		rv_fail(err, "the VM must be paused for a snapshot (PATCH /vm {\"state\": \"Paused\"})");
		goto out;
	}
	if (vm_state_save(vm, &w, err) < 0 ||
	    state_writer_finish(&w, &buf, &len, err) < 0)
		goto out;
	if (guest_mem_save_file(&vm->m.mem, mem_tmp, &mem_written, err) < 0)
		goto out;
	if (state_write_file(st_tmp, buf, len, err) < 0) {
		unlink(mem_tmp);
		goto out;
	}
	if (rename(mem_tmp, mem_path) < 0) {
		rv_fail_errno(err, "cannot put memory file %s in place", mem_path);
		unlink(mem_tmp);
		unlink(st_tmp);
		goto out;
	}
	if (rename(st_tmp, state_path) < 0) {
		rv_fail_errno(err, "cannot put state file %s in place", state_path);
		unlink(st_tmp);
		goto out;
	}
	if (info) {
		info->state_bytes = len;
		info->mem_bytes = vm->m.mem.ram_size;
		info->mem_data_bytes = mem_written;
	}
	rc = 0;
out:
	state_writer_free(&w);
	pthread_mutex_unlock(&vm->ctl_lock);
	free(st_tmp);
	free(mem_tmp);
	return rc;
}
