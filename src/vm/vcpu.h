/* One vCPU: its fd, its shared kvm_run page, its thread and the exit
 * dispatch loop that turns KVM exits into bus accesses or machine stops. */
#ifndef RINGVM_VM_VCPU_H
#define RINGVM_VM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct machine;

/* Exit accounting, written only by the vCPU's own thread and read live by
 * the control API (GET /stats): relaxed atomics, no ordering needed. */
struct vcpu_stats {
	atomic_uint_fast64_t exits;
	atomic_uint_fast64_t io;
	atomic_uint_fast64_t mmio;
	atomic_uint_fast64_t intr;
	atomic_uint_fast64_t unclaimed_io;   /* accesses no device answered */
};

static inline void vcpu_stat_inc(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

struct vcpu {
	struct machine *m;
	unsigned int index;
	int fd;
	/* KVM's binary statistics of this vCPU (KVM_GET_STATS_FD), opened
	 * once: the ioctl takes the vCPU's mutex, which a vCPU halted inside
	 * KVM_RUN holds for as long as the guest idles, so asking for it at
	 * read time stalls GET /stats on an idle guest. -1: none. */
	int stats_fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct vcpu_stats stats;
};

int vcpu_create(struct machine *m, unsigned int index, struct vcpu *v,
		struct rv_err *err);
void vcpu_destroy(struct vcpu *v);

/* Runs KVM_RUN until the machine stops; what the thread executes. */
void vcpu_run_loop(struct vcpu *v);

/* Interrupts a running vCPU (it re-checks the machine's stop latch). */
void vcpu_kick(struct vcpu *v);

/* The signal used for kicks; its handler must be installed (no-op,
 * without SA_RESTART) before vCPUs start: vcpu_install_kick_handler. */
#define VCPU_KICK_SIGNAL SIGUSR1
int vcpu_install_kick_handler(struct rv_err *err);

#endif
