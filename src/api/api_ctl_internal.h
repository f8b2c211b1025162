/* struct api_ctl, shared by the files of the control plane (api_ctl.c: the
 * state and the hand-over to the main thread; api_routes.c: the requests).
 * Not for use outside src/api. */
#ifndef RINGVM_API_API_CTL_INTERNAL_H
#define RINGVM_API_API_CTL_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "api/api_ctl.h"
#include "api/fc_model.h"
#include "vm/config.h"

enum ctl_phase {
	CTL_CONFIGURING,   /* pre-boot: PUTs accumulate in fc */
	CTL_STARTING,      /* a request is building the VM */
	CTL_HANDED,        /* the main thread has it, vm_run starts it */
	CTL_STARTED,       /* the vCPU threads run (or sit parked) */
};

struct api_ctl {
	pthread_mutex_t lock;      /* everything below but vm's own state */
	pthread_cond_t cv;         /* phase changes */
	struct api_run_opts opts;
	char id[65];
	enum ctl_phase phase;
	int start_rc;              /* vm_run's verdict for a waiting request */
	int ready_efd;             /* the main thread waits here for a VM */

	struct fc_vm_config fc;    /* the configuration, as the API shows it */
	struct vm_config cfg;      /* built from fc at InstanceStart */
	char *cmdline;             /* cfg.cmdline's storage */
	bool fc_from_vm;           /* fc describes a VM built elsewhere */
	struct vm *vm;

	FILE *metrics;             /* PUT /metrics, FlushMetrics appends */
};

/* api_ctl.c, for the routes (each takes c->lock itself). */
/* Builds and hands over a VM booted from c->fc; 0 once it runs. */
int ctl_instance_start(struct api_ctl *c, char *msg);
/* Restores a snapshot in this fresh process; 0 once it runs (or sits
 * paused). */
int ctl_snapshot_load(struct api_ctl *c, const struct fc_snapshot_load *l,
		      char *msg);
/* Refuses boot arguments with pci=off (the guest would not see ringvm's
 * virtio-pci devices); msg: FC_MSG_MAX bytes. */
int api_check_boot_args(const char *args, char *msg);
/* The VM if there is one (not yet started counts as none). */
struct vm *ctl_vm(struct api_ctl *c);

#endif
