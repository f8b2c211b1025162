/* `ringvm run`: a machine built from a vm_config, with the PC devices, ACPI
 * tables and a Linux kernel loaded, run until the guest stops. */
#ifndef RINGVM_VM_VM_H
#define RINGVM_VM_VM_H

#include "util/err.h"
#include "vm/config.h"

/* Process exit statuses (documented in --help and the README). */
#define RINGVM_EXIT_OK      0   /* guest powered off or rebooted */
#define RINGVM_EXIT_SETUP   1   /* usage or setup error */
#define RINGVM_EXIT_CRASH   2   /* guest crashed */

struct vm;

int vm_create(const struct vm_config *cfg, struct vm **out,
	      struct rv_err *err);
/* Runs until the guest stops; returns the process exit status. */
int vm_run(struct vm *vm, struct rv_err *err);
void vm_destroy(struct vm *vm);

#endif
