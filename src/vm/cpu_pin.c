#include "vm/cpu_pin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cpu_pin_parse(const char *s, struct cpu_pin *p, struct rv_err *err)
{
	const char *at = s;

	memset(p, 0, sizeof(*p));
	if (!*s)
		return rv_fail(err, "--cpu-pin: empty list (want host CPUs, one per vCPU: 2,3)");
	for (;;) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(at, &end, 10);
		if (end == at || errno || v >= CPU_SETSIZE || (*end && *end != ',') ||
		    *at == '-' || *at == '+' || *at == ' ')
			return rv_fail(err, "--cpu-pin: '%.64s' is not a list of host CPU numbers below %d (2,3: vCPU 0 on CPU 2, vCPU 1 on CPU 3)",
				       s, CPU_SETSIZE);
		if (p->n == CPU_PIN_MAX)
			return rv_fail(err, "--cpu-pin: more than %d CPUs", CPU_PIN_MAX);
		for (unsigned int i = 0; i < p->n; i++)
			if (p->cpu[i] == v)
				return rv_fail(err, "--cpu-pin: host CPU %lu given twice (one vCPU per CPU)", v);
		p->cpu[p->n++] = (uint16_t)v;
		if (!*end)
			return 0;
		at = end + 1;
	}
}

int cpu_pin_check(const struct cpu_pin *p, unsigned int ncpus,
		  const cpu_set_t *allowed, struct rv_err *err)
{
	if (p->n == 0)
		return 0;
	if (p->n != ncpus)
		return rv_fail(err, "--cpu-pin lists %u host CPUs for %u vCPUs (one per vCPU)",
			       p->n, ncpus);
	for (unsigned int i = 0; i < p->n; i++)
		if (!CPU_ISSET(p->cpu[i], allowed))
			return rv_fail(err, "--cpu-pin: host CPU %u (for vCPU %u) is outside the CPUs ringvm may run on (taskset -cp %d lists them)",
				       p->cpu[i], i, (int)getpid());
	return 0;
}
