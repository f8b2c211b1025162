/* vCPU pinning (--cpu-pin): vCPU i runs only on host CPU cpu[i]. A host
 * choice for measurements that must not wander between CPUs (the
 * overhead observatory's); not guest state, so snapshots and migration
 * do not carry it. */
#ifndef RINGVM_VM_CPU_PIN_H
#define RINGVM_VM_CPU_PIN_H

#include <sched.h>
#include <stdint.h>

#include "util/err.h"

#define CPU_PIN_MAX 254          /* VM_MAX_VCPUS */

struct cpu_pin {
	unsigned int n;          /* 0: not pinned */
	uint16_t cpu[CPU_PIN_MAX];
};

/* "2,3": vCPU 0 on host CPU 2, vCPU 1 on 3. Each CPU at most once. */
int cpu_pin_parse(const char *s, struct cpu_pin *p, struct rv_err *err);
/* The list fits a machine of ncpus vCPUs and names only CPUs in allowed
 * (the process's affinity: sched_getaffinity). n 0 always fits. */
int cpu_pin_check(const struct cpu_pin *p, unsigned int ncpus,
		  const cpu_set_t *allowed, struct rv_err *err);

#endif
