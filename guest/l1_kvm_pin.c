/* l1-kvm-pin: holds KVM's static keys in the harness's L1 steady for the
 * whole run, so L1's kernel never live-patches its hot paths while tests
 * create and destroy VMs.
 *
 * Why: KVM flips static keys whenever the first VM (or vCPU of a kind)
 * comes or the last one goes: preempt_notifier_key, whose jump-label sites
 * sit in the scheduler's context switch (prepare_task_switch and
 * finish_task_switch), and the LAPIC and no-APIC keys. Linux patches those
 * sites with text_poke_bp (an int3 first, IPIs, then the new bytes). Under
 * QEMU 7.2's multi-threaded TCG that cross-modifying code can livelock: one
 * emulated CPU keeps taking the int3 at the site under QEMU's big lock
 * while the other CPU and QEMU's main loop wait for it, and L1 reports an
 * RCU stall or soft lockup, or goes silent (docs/harness.md, "Stalls").
 * Holding one VM with an in-kernel LAPIC (software-disabled: it never runs)
 * and one with a vCPU without one keeps every such key above zero, so the
 * suite's VMs never flip them.
 *
 * Runs forever; prints one line to L1's kernel log. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void say(const char *msg)
{
	int fd = open("/dev/kmsg", O_WRONLY);

	if (fd >= 0) {
		dprintf(fd, "l1-kvm-pin: %s\n", msg);
		close(fd);
	}
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm1, vm2;

	if (kvm < 0)
		return say("no /dev/kvm"), 1;
	vm1 = ioctl(kvm, KVM_CREATE_VM, 0);
	vm2 = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm1 < 0 || vm2 < 0 || ioctl(vm1, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm1, KVM_CREATE_VCPU, 0) < 0 ||
	    ioctl(vm2, KVM_CREATE_VCPU, 0) < 0)
		return say("cannot create the pinning VMs"), 1;
	say("holding KVM's static keys (two idle VMs)");
	for (;;)
		pause();
}
