/* See run.h. The main thread owns signals and the VM's main loop; the API
 * server, when there is one, runs on threads of its own and hands a VM it
 * created (InstanceStart, snapshot load) to this thread. A VM comes from
 * the command line, a snapshot, the API, or a live migration's source. */
#include "cli/run.h"

#include <stdio.h>

#include "api/api_ctl.h"
#include "api/http_server.h"
#include "migrate/mig_dest.h"
#include "migrate/mig_source.h"
#include "vm/vm.h"

static int fail(const struct rv_err *err)
{
	fprintf(stderr, "ringvm: %s\n", err->msg);
	return RINGVM_EXIT_SETUP;
}

/* What a restored or migrated guest takes from this command line. */
static void restore_opts(const struct cli_opts *o, struct vm_restore_opts *r)
{
	*r = (struct vm_restore_opts){
		.state_path = o->state_path, .mem_path = o->mem_path,
		.paused = o->paused, .console_set = o->console_set,
		.console = o->cfg.console, .serial_log = o->cfg.serial_log,
		.stats_path = o->cfg.stats_path,
		.allow_slow_backend = o->cfg.allow_slow_backend,
		.seccomp = o->cfg.seccomp,
		.mem_merge = o->cfg.mem_merge,
		.cpu_pin = o->cfg.cpu_pin,
		.io_poll_us = o->cfg.io_poll_us,
		.cpu_template = o->cfg.cpu_template,
		.mem_backing = o->cfg.mem_backing,
	};
	for (unsigned int i = 0; i < o->n_net_overrides; i++) {
		r->tap_override[i].id = o->net_override[i].id;
		r->tap_override[i].tap = o->net_override[i].tap;
	}
	r->n_tap_overrides = o->n_net_overrides;
}

static struct vm *restore(const struct cli_opts *o, struct rv_err *err)
{
	struct vm_restore_opts r;
	struct vm *vm;

	restore_opts(o, &r);
	return vm_restore(&r, &vm, err) < 0 ? NULL : vm;
}

static struct vm *incoming(const struct cli_opts *o, struct mig_dest **d,
			   struct rv_err *err)
{
	struct mig_incoming_opts in = {
		.url = o->incoming, .timeout_ms = MIG_DEFAULT_TIMEOUT_MS,
	};
	struct vm *vm;
	int lfd = mig_incoming_listen(o->incoming, err);

	if (lfd < 0)
		return NULL;
	restore_opts(o, &in.vm);
	return mig_receive(&in, lfd, &vm, d, err) < 0 ? NULL : vm;
}

int cli_run(enum cli_action cmd, const struct cli_opts *o)
{
	struct api_run_opts ro = {
		.id = o->id, .console = o->cfg.console,
		.serial_log = o->cfg.serial_log, .stats_path = o->cfg.stats_path,
		.allow_slow_backend = o->cfg.allow_slow_backend,
		.seccomp = o->cfg.seccomp,
		.mem_merge = o->cfg.mem_merge,
		.cpu_pin = o->cfg.cpu_pin,
		.io_poll_us = o->cfg.io_poll_us,
		.cpu_template = o->cfg.cpu_template,
		.mem_backing = o->cfg.mem_backing,
	};
	struct rv_err err = { { 0 } };
	struct http_server *srv = NULL;
	struct api_ctl *ctl = NULL;
	struct mig_dest *dest = NULL;
	struct vm *vm = NULL;
	int status = RINGVM_EXIT_SETUP, signo = 0;

	if (o->api_sock || o->config_file) {
		ctl = api_ctl_new(&ro, &err);
		if (!ctl)
			return fail(&err);
	}
	/* The socket first: a client may connect while the VM is built. */
	if (o->api_sock) {
		srv = http_server_start(o->api_sock, api_ctl_handle, ctl, &err);
		if (!srv) {
			api_ctl_free(ctl);
			return fail(&err);
		}
	}
	if (cmd == CLI_RESTORE || o->incoming) {
		vm = cmd == CLI_RESTORE ? restore(o, &err) :
		     incoming(o, &dest, &err);
		if (vm && ctl)
			api_ctl_attach(ctl, vm);
	} else if (o->config_file) {
		if (api_ctl_config_file(ctl, o->config_file, &vm, &err) < 0)
			vm = NULL;
	} else if (o->cfg.kernel) {
		if (vm_create(&o->cfg, &vm, &err) < 0)
			vm = NULL;
		else if (ctl)
			api_ctl_attach(ctl, vm);
	} else {
		/* Configured over the API: wait for InstanceStart or a
		 * snapshot load, or a signal. */
		vm = api_ctl_wait_vm(ctl, &signo);
		if (!vm && signo) {
			fprintf(stderr, "ringvm: stopped by signal %d before a VM was started\n",
				signo);
			status = 128 + signo;
		}
	}
	if (vm) {
		status = vm_run(vm, &err);
		if (status == RINGVM_EXIT_SETUP)
			fail(&err);
	} else if (!signo) {
		fail(&err);
	}
	/* Handlers may still use the VM: the server goes first. */
	http_server_stop(srv);
	vm_destroy(vm);
	mig_dest_free(dest);
	api_ctl_free(ctl);
	return status;
}
