/* The sending side of a live migration (pre-copy): all of RAM while the
 * guest runs, then what it dirtied, round after round, until what is left
 * fits in the allowed downtime; then pause, the last pages and the device
 * and vCPU state, and the guest runs on at the destination.
 *
 * On any failure before the destination confirmed, the guest goes on here
 * as if nothing happened (running, or paused if the user had paused it).
 * The one case where that cannot be known: the state went out and the
 * confirmation never came. The guest then stays paused here, and the
 * error says so: it may already run at the destination. */
#ifndef RINGVM_MIGRATE_MIG_SOURCE_H
#define RINGVM_MIGRATE_MIG_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "migrate/mig_ctl.h"
#include "util/err.h"

struct vm;

struct mig_params {
	char url[256];              /* unix:PATH or tcp:HOST:PORT */
	uint32_t max_downtime_ms;   /* the pause the guest may see */
	bool auto_converge;         /* slow the vCPUs down if it must */
	unsigned int max_rounds;    /* give up (or throttle) after these */
	uint32_t max_bandwidth_mib; /* pre-copy's cap in MiB/s; 0: none */
	int timeout_ms;             /* for each send, receive, connect */
};

#define MIG_DEFAULT_DOWNTIME_MS 300
#define MIG_DEFAULT_ROUNDS      30
#define MIG_DEFAULT_TIMEOUT_MS  60000

void mig_params_default(struct mig_params *p);

/* Runs a claimed migration to its end on the calling thread. 0 when the
 * guest runs at the destination (vm_run then ends with status 0). */
int mig_send(struct vm *vm, const struct mig_params *p, struct mig_ctl *c,
	     struct rv_err *err);

#endif
