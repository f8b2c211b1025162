/* A KVM virtual machine: guest RAM in memory slots, the in-kernel interrupt
 * controllers, the I/O buses, its vCPUs and the one-way "stop" latch that
 * every vCPU thread and the main loop watch. Knows nothing of what is loaded
 * into it, so the KVM test tier builds machines for its own tiny guests. */
#ifndef RINGVM_VM_MACHINE_H
#define RINGVM_VM_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/cpuid.h"
#include "bus/io_bus.h"
#include "bus/irq.h"
#include "bus/vm_ctl.h"
#include "mem/guest_mem.h"
#include "util/err.h"
#include "vm/cpu_pin.h"

enum machine_outcome {
	OUTCOME_RUNNING = 0,
	OUTCOME_POWEROFF,    /* ACPI S5, or HLT without an in-kernel irqchip */
	OUTCOME_REBOOT,      /* reset register, i8042 reset, KVM reset event */
	OUTCOME_CRASH,       /* triple fault, internal error, entry failure */
	OUTCOME_SIGNAL,      /* the user asked ringvm to stop */
	OUTCOME_MIGRATED,    /* the guest runs in another ringvm now */
};

struct vcpu;

struct machine {
	int kvm_fd;              /* not owned */
	int vm_fd;
	int run_size;            /* mmap size of struct kvm_run */
	bool irqchip;            /* in-kernel IOAPIC/LAPIC/PIC and PIT */
	bool tsc_deadline;
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	struct x86_cpuid supported_cpuid;

	struct vcpu *vcpu;
	unsigned int nvcpus;
	struct cpu_pin pin;      /* checked against this process's affinity */
	bool sandbox_vcpus;      /* each vCPU thread takes its seccomp filter */

	/* Stop latch: the first outcome wins; later ones are ignored. */
	pthread_mutex_t lock;     /* also guards the pause fields below */
	atomic_int outcome;      /* enum machine_outcome */
	int stop_signal;         /* with OUTCOME_SIGNAL */
	const char *_Atomic stop_why; /* what stopped it (a literal), or NULL */
	int stop_efd;            /* eventfd: wakes the main loop on stop */

	/* Pause: vCPU threads park outside KVM_RUN while pause_req is set. */
	atomic_bool pause_req;
	unsigned int parked;      /* vCPU threads parked now */
	pthread_cond_t pause_cv;  /* parked changed, or pause_req cleared */
};

struct machine_opts {
	uint64_t mem_size;
	unsigned int nvcpus;
	bool irqchip;
	int mem_fd;      /* > 0: guest RAM mapped privately from this memory
			  * file (a snapshot's); 0 or -1: anonymous */
	enum guest_mem_backing mem_backing; /* anonymous RAM's host pages */
	bool mem_merge;  /* guest RAM open to KSM (guest_mem_advise) */
	bool mem_shared; /* guest RAM in a memfd (vhost-user back ends) */
	const struct cpu_pin *pin;  /* NULL or n 0: vCPUs run anywhere */
};

/* Creates the VM, its RAM and (optionally) irqchip + PIT, and the vCPU fds
 * (not yet running). */
int machine_create(struct machine *m, int kvm_fd,
		   const struct machine_opts *o, struct rv_err *err);
void machine_destroy(struct machine *m);

/* Starts one thread per vCPU; on failure stops and joins those started. */
int machine_start(struct machine *m, struct rv_err *err);
/* Joins every vCPU thread (call after machine_stop or once they ended). */
void machine_join(struct machine *m);

/* Latches the outcome (first caller wins) and kicks every vCPU out of
 * KVM_RUN. Safe from any thread. */
void machine_stop(struct machine *m, enum machine_outcome o);
/* The same, naming the mechanism ("i8042 reset line"); why is kept. */
void machine_stop_why(struct machine *m, enum machine_outcome o,
		      const char *why);
static inline enum machine_outcome machine_outcome(struct machine *m)
{
	return (enum machine_outcome)atomic_load(&m->outcome);
}

/* Parks every vCPU outside KVM_RUN, each after an exit that completed its
 * last instruction (KVM's rule for consistent state), and waits until all
 * are parked. -1 if the machine stopped meanwhile. Not from a vCPU thread. */
int machine_pause(struct machine *m);
/* Lets parked vCPUs run on exactly where they stopped. */
void machine_resume(struct machine *m);
/* For vcpu.c's run loop only (see machine_pause). */
void machine_park_vcpu(struct machine *m);

/* Adapters handed to devices. */
struct vm_ctl machine_vm_ctl(struct machine *m);
struct irq_line machine_irq_line(struct machine *m, unsigned int gsi);

#endif
