/* The receiving side of a live migration: `ringvm run --incoming URL`.
 * Listens, takes one source, checks what it offers (HELLO: the
 * configuration and the CPU, against this host) before building anything,
 * writes the pages it sends into the new guest's RAM, loads the state, and
 * confirms only once the vCPUs exist, so the source lets go of the guest
 * only when it runs here. Every refusal goes back to the source as a NACK
 * naming the reason, and the source's guest goes on there. */
#ifndef RINGVM_MIGRATE_MIG_DEST_H
#define RINGVM_MIGRATE_MIG_DEST_H

#include "migrate/mig_ctl.h"
#include "util/err.h"
#include "vm/vm.h"

struct mig_incoming_opts {
	const char *url;             /* unix:PATH or tcp:[HOST]:PORT */
	int timeout_ms;              /* each record */
	struct vm_restore_opts vm;   /* console, logs, TAP overrides */
	struct mig_ctl *ctl;         /* progress and cancel, or NULL */
};

struct mig_dest;

/* Listens on url first (so a source can connect at once); returns the
 * listening fd for mig_receive. */
int mig_incoming_listen(const char *url, struct rv_err *err);
/* Waits for the source on lfd (for ever, or until o->ctl is cancelled;
 * lfd is closed and a Unix socket file removed once it connected), and
 * receives the guest: returns a VM ready for vm_run (which confirms to the
 * source once its vCPUs exist) and the receiver to free after vm_run. */
int mig_receive(const struct mig_incoming_opts *o, int lfd, struct vm **vm,
		struct mig_dest **d, struct rv_err *err);
void mig_dest_free(struct mig_dest *d);

#endif
