/* struct api_ctl, shared by the files of the control plane (api_ctl.c: the
 * state and the hand-over to the main thread; api_routes.c: the requests).
 * Not for use outside src/api. */
#ifndef RINGVM_API_API_CTL_INTERNAL_H
#define RINGVM_API_API_CTL_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "api/api_ctl.h"
#include "api/fc_model.h"
#include "migrate/mig_dest.h"
#include "migrate/mig_source.h"
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
	char *cpu_config;          /* PUT /cpu-config: the template's JSON */
	struct mig_ctl mig;        /* PUT /migrate runs it, GET shows it */

	/* PUT /migrate/incoming: a thread receives the guest. */
	struct fc_migrate_incoming inc;
	int inc_lfd;
	pthread_t inc_thread;
	bool inc_started;
	struct mig_dest *dest;     /* confirms to the source, freed at the end */
};

/* api_ctl.c, for the routes (each takes c->lock itself). */
/* Builds and hands over a VM booted from c->fc; 0 once it runs. */
int ctl_instance_start(struct api_ctl *c, char *msg);
/* Restores a snapshot in this fresh process; 0 once it runs (or sits
 * paused). */
int ctl_snapshot_load(struct api_ctl *c, const struct fc_snapshot_load *l,
		      char *msg);
/* Listens on i->listen_url and receives a guest there on a thread of its
 * own (the request answers once the listening socket is up; GET /migrate
 * shows the progress). Takes i over. */
int ctl_migrate_incoming(struct api_ctl *c, struct fc_migrate_incoming *i,
			 char *msg);
/* Refuses boot arguments with pci=off (the guest would not see ringvm's
 * virtio-pci devices); msg: FC_MSG_MAX bytes. */
int api_check_boot_args(const char *args, char *msg);
/* The VM if there is one (not yet started counts as none). */
struct vm *ctl_vm(struct api_ctl *c);

/* api_routes.c: replies. A fault is 400 {"fault_message": ...}. */
void api_reply_json(struct http_reply *r, int status, char *json);
void api_fault(struct http_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The VM, for post-boot requests; NULL (and the reply set) before. */
struct vm *api_postboot(struct api_ctl *c, struct http_reply *r);

/* api_migrate.c: PUT /cpu-config, live migration's requests. */
void api_put_cpu_config(struct api_ctl *c, const struct http_request *q,
			struct http_reply *r);
void api_put_migrate(struct api_ctl *c, const struct http_request *q,
		     struct http_reply *r);
void api_get_migrate(struct api_ctl *c, const struct http_request *q,
		     struct http_reply *r);
void api_put_migrate_cancel(struct api_ctl *c, const struct http_request *q,
			    struct http_reply *r);
void api_put_migrate_incoming(struct api_ctl *c, const struct http_request *q,
			      struct http_reply *r);

#endif
