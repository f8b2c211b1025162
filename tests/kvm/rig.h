/* A one-vCPU machine for raw guest programs (guest_programs.S): ringvm's
 * own machine, vCPU, bus and register code, with a probe device and the
 * ACPI power-off port. Shared by the KVM test tier and the exit-cost
 * benchmark (bench/overhead/exitcost.c). */
#ifndef RINGVM_TESTS_KVM_RIG_H
#define RINGVM_TESTS_KVM_RIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/acpi_pm.h"
#include "util/err.h"
#include "vm/machine.h"

/* The probe's ports and MMIO page. */
#define RIG_PORT_RECORD 0xe0   /* writes are recorded */
#define RIG_PORT_READ   0xe4   /* reads answer 0xab12cd34 */
#define RIG_MMIO_BASE   0xd0000000ull

#define MAX_RECORDS 64
#define PARAMS_MARK 0x7000 /* what the tests pass as RSI */

/* A test device: records port 0xe0 writes and MMIO accesses. */
struct probe {
	pthread_mutex_t lock;
	uint64_t rec[MAX_RECORDS];
	unsigned int nrec;
	uint32_t mmio_last;
	/* MMIO stores, apart from rec: offset, width and the whole value. */
	struct mmio_store { uint64_t off, value; uint32_t len; } mmio[MAX_RECORDS];
	unsigned int nmmio;
};

struct rig {
	struct machine m;
	struct probe probe;
	struct acpi_pm pm;
	struct rv_err err;
};

/* Builds a one-vCPU machine running `code` at 1 MiB in 64-bit mode. */
int rig_setup(struct rig *r, int kvm_fd, bool irqchip, const uint8_t *code,
	      const uint8_t *end);
/* The same with nvcpus vCPUs, all runnable at `code` (the program tells
 * them apart by APIC ID). */
int rig_setup_smp(struct rig *r, int kvm_fd, bool irqchip, unsigned int nvcpus,
		  const uint8_t *code, const uint8_t *end);
/* Runs until the machine stops or 20 s pass (then it is stopped); the
 * machine is left for checks (machine_destroy it). */
enum machine_outcome rig_run(struct rig *r);
const char *rig_outcome_name(enum machine_outcome o);

#endif
