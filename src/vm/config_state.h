/* The VM description in a snapshot (section "config"): what a restore must
 * build again before device and vCPU state can go in: RAM size, vCPUs, the
 * console, and every device in creation order (which fixes PCI slots, BARs
 * and interrupt vectors), with each NIC's MAC as the guest saw it. The
 * kernel path and command line are kept for the user (GET /vm/config). */
#ifndef RINGVM_VM_CONFIG_STATE_H
#define RINGVM_VM_CONFIG_STATE_H

#include <stdint.h>

#include "state/state.h"
#include "util/err.h"
#include "vm/config.h"

/* macs[i]: the MAC NIC i got (given or chosen by ringvm). */
void vm_config_save(struct state_writer *w, const struct vm_config *cfg,
		    const uint8_t (*macs)[6]);

/* A configuration read back, owning its strings. */
struct vm_config_store {
	struct vm_config cfg;
	char *str[4 + 2 * VM_MAX_DISKS + 2 * VM_MAX_NICS];
	unsigned int nstr;
};

int vm_config_load(const struct state_reader *r, struct vm_config_store *s,
		   struct rv_err *err);
void vm_config_store_free(struct vm_config_store *s);

#endif
