/* Pause and resume of a running VM: every vCPU parked outside KVM_RUN,
 * every device quiesced (in-flight requests completed, nothing taken, no
 * guest memory touched), the guest's clock held. A paused VM uses no CPU:
 * vCPU threads wait on a condition variable, I/O threads on another. */
#include <string.h>
#include <sys/ioctl.h>

#include "vm/vm.h"
#include "vm/vm_internal.h"

enum vm_run_state vm_state(struct vm *vm)
{
	if (machine_outcome(&vm->m) != OUTCOME_RUNNING)
		return VM_STATE_STOPPED;
	return atomic_load(&vm->paused) ? VM_STATE_PAUSED : VM_STATE_RUNNING;
}

int vm_pause_locked(struct vm *vm, struct rv_err *err)
{
	if (atomic_load(&vm->paused))
		return 0;
	if (!vm->started || machine_pause(&vm->m) < 0)
		return rv_fail(err, "the guest is not running");
	vm_devices_pause(vm);
	/* Held clock: on resume the guest does not see the time it spent
	 * paused as a jump (no soft-lockup or RCU stall reports from it). */
	if (ioctl(vm->m.vm_fd, KVM_GET_CLOCK, &vm->paused_clock) < 0) {
		vm_devices_resume(vm);
		machine_resume(&vm->m);
		return rv_fail_errno(err, "KVM_GET_CLOCK");
	}
	atomic_store(&vm->paused, true);
	return 0;
}

int vm_resume_locked(struct vm *vm, struct rv_err *err)
{
	struct kvm_clock_data c = { .clock = vm->paused_clock.clock };

	if (!atomic_load(&vm->paused))
		return 0;
	if (vm->mig_final)
		return rv_fail(err, "a live migration is completing; the guest resumes here only if it fails");
	if (machine_outcome(&vm->m) != OUTCOME_RUNNING)
		return rv_fail(err, "the guest has stopped");
	if (ioctl(vm->m.vm_fd, KVM_SET_CLOCK, &c) < 0)
		return rv_fail_errno(err, "KVM_SET_CLOCK");
	vm_devices_resume(vm);
	machine_resume(&vm->m);
	atomic_store(&vm->paused, false);
	return 0;
}

int vm_pause(struct vm *vm, struct rv_err *err)
{
	int rc;

	pthread_mutex_lock(&vm->ctl_lock);
	rc = vm_pause_locked(vm, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return rc;
}

int vm_resume(struct vm *vm, struct rv_err *err)
{
	int rc;

	pthread_mutex_lock(&vm->ctl_lock);
	rc = vm_resume_locked(vm, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return rc;
}

const struct vm_config *vm_config_of(const struct vm *vm)
{
	return vm->cfg;
}

int vm_send_ctrl_alt_del(struct vm *vm, struct rv_err *err)
{
	if (vm_state(vm) != VM_STATE_RUNNING)
		return rv_fail(err, "the guest is not running");
	if (i8042_send_ctrl_alt_del(&vm->kbd) < 0)
		return rv_fail(err, "the guest has not set up its keyboard (no i8042/atkbd driver yet)");
	return 0;
}

void vm_nic_mac(const struct vm *vm, unsigned int i, uint8_t mac[6])
{
	if (i < VM_MAX_NICS)
		memcpy(mac, vm->nic_mac[i], 6);
}
