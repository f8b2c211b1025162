#include "vm/vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/regs.h"
#include "util/sigmask.h"
#include "vm/machine.h"
#include "vm/sandbox.h"

int vcpu_create(struct machine *m, unsigned int index, struct vcpu *v,
		struct rv_err *err)
{
	void *run;

	memset(v, 0, sizeof(*v));
	v->stats_fd = -1;
	v->m = m;
	v->index = index;
	v->fd = ioctl(m->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		return rv_fail_errno(err, "KVM_CREATE_VCPU %u", index);
	run = mmap(NULL, (size_t)m->run_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		close(v->fd);
		v->fd = -1;
		return rv_fail_errno(err, "mmap of vCPU %u run area", index);
	}
	v->run = run;
	v->stats_fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);  /* < 0: no stats */
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->m->run_size);
	v->run = NULL;
	if (v->stats_fd >= 0)
		close(v->stats_fd);
	v->stats_fd = -1;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static void kick_handler(int sig)
{
	(void)sig; /* only here to make KVM_RUN return -EINTR */
}

int vcpu_install_kick_handler(struct rv_err *err)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the ioctl must return */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return rv_fail_errno(err, "sigaction");
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers a kick that lands between the thread's check
	 * of the stop latch and its entry into KVM_RUN. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

static void crash(struct vcpu *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void crash(struct vcpu *v, const char *fmt, ...)
{
	va_list ap;

	/* Only the first crashing vCPU reports; the others are being stopped. */
	if (machine_outcome(v->m) != OUTCOME_RUNNING)
		return;
	flockfile(stderr);
	fprintf(stderr, "ringvm: guest crashed: vCPU %u: ", v->index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	x86_vcpu_dump(v->fd, &v->m->mem, stderr);
	funlockfile(stderr);
	machine_stop(v->m, OUTCOME_CRASH);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool is_write = r->io.direction == KVM_EXIT_IO_OUT;

	vcpu_stat_inc(&v->stats.io);
	/* "ins"/"outs" with a rep prefix arrive as count accesses in a row. */
	for (uint32_t i = 0; i < r->io.count; i++) {
		if (!io_bus_access(&v->m->pio, r->io.port, data, r->io.size,
				   is_write))
			vcpu_stat_inc(&v->stats.unclaimed_io);
		data += r->io.size;
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	vcpu_stat_inc(&v->stats.mmio);
	if (r->mmio.len > sizeof(r->mmio.data))
		return;
	if (!io_bus_access(&v->m->mmio, r->mmio.phys_addr, r->mmio.data,
			   r->mmio.len, r->mmio.is_write))
		vcpu_stat_inc(&v->stats.unclaimed_io);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		machine_stop_why(v->m, OUTCOME_POWEROFF, "KVM shutdown event");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		machine_stop_why(v->m, OUTCOME_REBOOT, "KVM reset event");
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		crash(v, "guest reported a crash (KVM_SYSTEM_EVENT_CRASH)");
		break;
	default:
		crash(v, "unknown system event %u", v->run->system_event.type);
	}
}

static void handle_internal_error(struct vcpu *v)
{
	static const char *const what[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failure",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "event delivery failure",
		[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected exit reason in KVM",
	};
	uint32_t sub = v->run->internal.suberror;
	const char *s = sub < sizeof(what) / sizeof(what[0]) && what[sub] ?
			what[sub] : "unknown";

	crash(v, "KVM internal error %u (%s)", sub, s);
}

/* Returns false when the loop must end. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	vcpu_stat_inc(&v->stats.exits);
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		vcpu_stat_inc(&v->stats.intr);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel irqchip: nothing can wake the CPU. */
		machine_stop(v->m, OUTCOME_POWEROFF);
		return false;
	case KVM_EXIT_SHUTDOWN:
		crash(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		handle_internal_error(v);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		crash(v, "VM entry failed, hardware reason %#llx",
		      (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		crash(v, "unexpected KVM exit reason %u", r->exit_reason);
		return false;
	}
}

void vcpu_run_loop(struct vcpu *v)
{
	sigset_t set;

	/* The kick signal is the only one a vCPU thread takes (and seccomp's
	 * SIGSYS, which must never be blocked). */
	sigfill_but_sigsys(&set);
	sigdelset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	if (v->m->sandbox_vcpus) {
		struct rv_err err;

		if (sandbox_enter(SANDBOX_VCPU, &err) < 0) {
			fprintf(stderr, "ringvm: vCPU %u: %s\n", v->index, err.msg);
			machine_stop_why(v->m, OUTCOME_CRASH, "seccomp");
			return;
		}
	}

	/* A VM restored paused starts with its vCPUs parked; the state they
	 * were given is consistent as it is. */
	if (atomic_load(&v->m->pause_req))
		machine_park_vcpu(v->m);

	while (machine_outcome(v->m) == OUTCOME_RUNNING) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* Clear before reading the requests: a kick that
				 * lands after this re-arms immediate_exit, so the
				 * next KVM_RUN comes straight back. */
				__atomic_store_n(&v->run->immediate_exit, 0,
						 __ATOMIC_SEQ_CST);
				/* Only here, after an EINTR, is the last exit's
				 * instruction complete (KVM re-entered): the state
				 * a snapshot reads is consistent. */
				if (atomic_load(&v->m->pause_req))
					machine_park_vcpu(v->m);
				if (machine_outcome(v->m) == OUTCOME_RUNNING)
					continue;
				break;
			}
			crash(v, "KVM_RUN failed: %s", strerror(errno));
			break;
		}
		if (!handle_exit(v))
			break;
	}
}
