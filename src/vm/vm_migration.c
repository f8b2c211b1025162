/* What live migration (src/migrate) needs from the vm layer: the dirty
 * page log, the description a destination checks first, the vCPU
 * throttle of auto-converge, and the final pause that no resume may undo.
 *
 * The dirty log is KVM's log of what the vCPUs write
 * (KVM_MEM_LOG_DIRTY_PAGES on every memory slot, fetched and cleared with
 * KVM_GET_DIRTY_LOG), merged with guest_mem's log of what ringvm's own
 * device threads write, which KVM never sees. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm/config_state.h"
#include "vm/vm.h"
#include "vm/vm_internal.h"

static int set_logging(struct vm *vm, bool on, struct rv_err *err)
{
	struct guest_mem *gm = &vm->m.mem;

	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(vm->m.vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return rv_fail_errno(err, "KVM_SET_USER_MEMORY_REGION (dirty logging %s)",
					     on ? "on" : "off");
	}
	return 0;
}

int vm_dirty_log_start(struct vm *vm, struct rv_err *err)
{
	/* Before the first page goes: a back end's writes are not logged. */
	if (vm_devices_savable(vm, err) < 0 ||
	    guest_mem_dirty_start(&vm->m.mem, err) < 0)
		return -1;
	if (set_logging(vm, true, err) < 0) {
		guest_mem_dirty_stop(&vm->m.mem);
		return -1;
	}
	return 0;
}

void vm_dirty_log_stop(struct vm *vm)
{
	struct rv_err err;

	guest_mem_dirty_stop(&vm->m.mem);
	set_logging(vm, false, &err);
}

int vm_dirty_log_fetch(struct vm *vm, unsigned int r, uint64_t *bitmap,
		       struct rv_err *err)
{
	struct guest_mem *gm = &vm->m.mem;
	struct kvm_dirty_log log = { .slot = r };
	uint64_t words;

	if (r >= gm->nr)
		return rv_fail(err, "no memory region %u", r);
	words = (gm->region[r].size / 4096 + 63) / 64;
	memset(bitmap, 0, words * sizeof(*bitmap));
	log.dirty_bitmap = bitmap;
	if (ioctl(vm->m.vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return rv_fail_errno(err, "KVM_GET_DIRTY_LOG");
	guest_mem_dirty_collect(gm, r, bitmap);
	return 0;
}

const struct guest_mem *vm_memory(const struct vm *vm)
{
	return &vm->m.mem;
}

int vm_hello_save(struct vm *vm, struct state_writer *w, struct rv_err *err)
{
	(void)err;
	vm_config_save(w, vm->cfg, (const uint8_t (*)[6])vm->nic_mac);
	x86_cpuid_section_save(w, &vm->cpuid0);
	vm_cpu_template_save(vm, w);
	return 0;
}

void vm_throttle_hold(struct vm *vm, unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	/* ctl_lock for the whole hold: a user's pause or resume meanwhile
	 * would otherwise be undone by our machine_resume. */
	pthread_mutex_lock(&vm->ctl_lock);
	if (vm->started && !atomic_load(&vm->paused) &&
	    machine_pause(&vm->m) == 0) {
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		machine_resume(&vm->m);
	}
	pthread_mutex_unlock(&vm->ctl_lock);
}

int vm_migration_pause(struct vm *vm, bool *was_paused, struct rv_err *err)
{
	int rc;

	pthread_mutex_lock(&vm->ctl_lock);
	*was_paused = atomic_load(&vm->paused);
	rc = vm_pause_locked(vm, err);
	if (rc == 0)
		vm->mig_final = true;
	pthread_mutex_unlock(&vm->ctl_lock);
	return rc;
}

void vm_migration_end(struct vm *vm, bool stay_paused)
{
	struct rv_err err;

	pthread_mutex_lock(&vm->ctl_lock);
	vm->mig_final = false;
	if (!stay_paused && vm_resume_locked(vm, &err) < 0)
		fprintf(stderr, "ringvm: after the failed migration: %s\n",
			err.msg);
	pthread_mutex_unlock(&vm->ctl_lock);
}

void vm_stop_migrated(struct vm *vm, const char *where)
{
	/* Parked vCPUs see the outcome and end; where must outlive vm_run
	 * (the migration keeps it). */
	machine_stop_why(&vm->m, OUTCOME_MIGRATED, where);
}
