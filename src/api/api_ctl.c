/* The control plane's state and the hand-over of a VM to the main thread:
 * see api_ctl.h. A request that creates a VM (InstanceStart, snapshot
 * load) builds it on its own thread, hands it to the main thread through
 * an eventfd, and answers only once vm_run has its vCPU threads, so a
 * client that got 204 can pause it at once. */
#include "api/api_ctl_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "migrate/mig_transport.h"
#include "util/file.h"
#include "vm/vm.h"

/* Firecracker's default boot arguments without pci=off (ringvm's devices
 * are PCI functions) and with the serial console. */
#define DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1"
#define CONFIG_FILE_MAX (1u << 20)

struct api_ctl *api_ctl_new(const struct api_run_opts *o, struct rv_err *err)
{
	struct api_ctl *c = calloc(1, sizeof(*c));

	if (!c) {
		rv_fail(err, "out of memory");
		return NULL;
	}
	c->ready_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->ready_efd < 0) {
		rv_fail_errno(err, "eventfd");
		free(c);
		return NULL;
	}
	c->opts = *o;
	snprintf(c->id, sizeof(c->id), "%s", o->id ? o->id : "anonymous-instance");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	fc_vm_config_init(&c->fc);
	mig_ctl_init(&c->mig);
	c->inc_lfd = -1;
	return c;
}

void api_ctl_free(struct api_ctl *c)
{
	if (!c)
		return;
	if (c->inc_started) {
		struct rv_err err;

		/* A source that never came, or one still sending. */
		mig_ctl_cancel(&c->mig, &err);
		pthread_join(c->inc_thread, NULL);
	}
	mig_dest_free(c->dest);
	fc_migrate_incoming_free(&c->inc);
	fc_vm_config_free(&c->fc);
	free(c->cmdline);
	free(c->cpu_config);
	mig_ctl_destroy(&c->mig);
	if (c->metrics)
		fclose(c->metrics);
	close(c->ready_efd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct vm *ctl_vm(struct api_ctl *c)
{
	struct vm *vm;

	pthread_mutex_lock(&c->lock);
	vm = c->phase == CTL_STARTED ? c->vm : NULL;
	pthread_mutex_unlock(&c->lock);
	return vm;
}

/* ---- the configuration a VM gets ---- */

/* "pci=off" (or an option list holding "off") hides every PCI function:
 * ringvm's devices would vanish from the guest. */
static bool has_pci_off(const char *args)
{
	const char *p = args;

	while (p && *p) {
		size_t n = strcspn(p, " \t");

		if (n > 4 && !strncmp(p, "pci=", 4)) {
			for (const char *q = p + 4; q < p + n;) {
				size_t m = strcspn(q, ", \t");

				if (m == 3 && !strncmp(q, "off", 3))
					return true;
				q += m + (q[m] == ',');
				if (!m)
					break;
			}
		}
		p += n;
		p += strspn(p, " \t");
	}
	return false;
}

int api_check_boot_args(const char *args, char *msg)
{
	if (args && has_pci_off(args)) {
		snprintf(msg, FC_MSG_MAX, "boot_args: pci=off would hide ringvm's virtio-pci devices from the guest; remove it");
		return -1;
	}
	return 0;
}

/* c->fc to c->cfg (lock held). Firecracker's rules: the root device is
 * the first disk (vda) and named on the command line. */
static int build_config(struct api_ctl *c, char *msg)
{
	const struct fc_vm_config *f = &c->fc;
	struct vm_config *cfg = &c->cfg;
	const char *args = f->boot.boot_args ? f->boot.boot_args :
			   DEFAULT_BOOT_ARGS;
	const struct fc_drive *root = NULL;
	char rootarg[160] = "";
	size_t n;

	if (!f->has_boot_source) {
		snprintf(msg, FC_MSG_MAX, "no boot source: PUT /boot-source first");
		return -1;
	}
	if (api_check_boot_args(args, msg) < 0)
		return -1;
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel = f->boot.kernel_image_path;
	cfg->initrd = f->boot.initrd_path;
	cfg->mem_size = f->machine.mem_size_mib << 20;
	cfg->mem_backing = f->machine.huge_pages_2m ? GUEST_MEM_HUGETLB :
			   c->opts.mem_backing;
	cfg->ncpus = f->machine.vcpu_count;
	cfg->console = c->opts.console;
	cfg->serial_log = c->opts.serial_log;
	cfg->stats_path = c->opts.stats_path;
	cfg->allow_slow_backend = c->opts.allow_slow_backend;
	cfg->seccomp = c->opts.seccomp;
	cfg->mem_merge = c->opts.mem_merge;
	cfg->cpu_pin = c->opts.cpu_pin;
	cfg->io_poll_us = c->opts.io_poll_us;
	cfg->rng = f->entropy;
	cfg->cpu_template_json = c->cpu_config;
	cfg->cpu_template = c->cpu_config ? NULL : c->opts.cpu_template;
	for (unsigned int i = 0; i < f->ndrives; i++)
		if (f->drive[i].is_root_device)
			root = &f->drive[i];
	if (root) {
		cfg->disk[cfg->ndisks++] = (struct disk_config){
			.path = root->path_on_host, .readonly = root->is_read_only,
			.sync = root->io_sync, .id = root->drive_id };
		if (root->partuuid)
			snprintf(rootarg, sizeof(rootarg), " root=PARTUUID=%s %s",
				 root->partuuid, root->is_read_only ? "ro" : "rw");
		else
			snprintf(rootarg, sizeof(rootarg), " root=/dev/vda %s",
				 root->is_read_only ? "ro" : "rw");
	}
	for (unsigned int i = 0; i < f->ndrives; i++) {
		if (&f->drive[i] == root)
			continue;
		cfg->disk[cfg->ndisks++] = (struct disk_config){
			.path = f->drive[i].path_on_host,
			.readonly = f->drive[i].is_read_only,
			.sync = f->drive[i].io_sync, .id = f->drive[i].drive_id };
	}
	for (unsigned int i = 0; i < f->nifaces; i++) {
		struct nic_config *nc = &cfg->nic[cfg->nnics++];

		nc->tap = f->iface[i].host_dev_name;
		nc->id = f->iface[i].iface_id;
		nc->mac_set = f->iface[i].has_mac;
		memcpy(nc->mac, f->iface[i].guest_mac, 6);
	}
	n = strlen(args) + strlen(rootarg) + 1;
	free(c->cmdline);
	c->cmdline = malloc(n);
	if (!c->cmdline) {
		snprintf(msg, FC_MSG_MAX, "out of memory");
		return -1;
	}
	snprintf(c->cmdline, n, "%s%s", args, rootarg);
	cfg->cmdline = c->cmdline;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* fc from a VM built elsewhere (command line, snapshot), for GET
 * /vm/config and /machine-config (lock held). */
static void describe_vm(struct api_ctl *c, struct vm *vm)
{
	const struct vm_config *cfg = vm_config_of(vm);
	struct fc_vm_config *f = &c->fc;

	fc_vm_config_free(f);
	fc_vm_config_init(f);
	c->fc_from_vm = true;
	f->has_boot_source = cfg->kernel != NULL;
	f->boot.kernel_image_path = dup_or_null(cfg->kernel);
	f->boot.initrd_path = dup_or_null(cfg->initrd);
	f->boot.boot_args = dup_or_null(cfg->cmdline);
	f->machine.vcpu_count = cfg->ncpus;
	f->machine.mem_size_mib = cfg->mem_size >> 20;
	f->machine.huge_pages_2m = cfg->mem_backing == GUEST_MEM_HUGETLB;
	f->entropy = cfg->rng;
	for (unsigned int i = 0; i < cfg->ndisks && i < FC_MAX_DRIVES; i++) {
		struct fc_drive *d = &f->drive[f->ndrives++];
		char id[16];

		snprintf(id, sizeof(id), "disk%u", i);
		d->drive_id = strdup(cfg->disk[i].id ? cfg->disk[i].id : id);
		d->path_on_host = strdup(cfg->disk[i].path);
		d->is_read_only = cfg->disk[i].readonly;
		d->io_sync = cfg->disk[i].sync;
	}
	for (unsigned int i = 0; i < cfg->nnics && i < FC_MAX_IFACES; i++) {
		struct fc_net_iface *n = &f->iface[f->nifaces++];
		char id[16];

		snprintf(id, sizeof(id), "net%u", i);
		n->iface_id = strdup(cfg->nic[i].id ? cfg->nic[i].id : id);
		n->host_dev_name = strdup(cfg->nic[i].tap);
		vm_nic_mac(vm, i, n->guest_mac);
		n->has_mac = true;
	}
}

/* ---- the hand-over ---- */

static void on_started(void *ctx, int rc)
{
	struct api_ctl *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->start_rc = rc;
	if (rc == 0)
		c->phase = CTL_STARTED;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
}

void api_ctl_attach(struct api_ctl *c, struct vm *vm)
{
	pthread_mutex_lock(&c->lock);
	c->vm = vm;
	c->phase = CTL_HANDED;
	describe_vm(c, vm);
	vm_on_started(vm, on_started, c);
	pthread_mutex_unlock(&c->lock);
}

/* A request's VM to the main thread; returns vm_run's verdict. */
static int hand_over(struct api_ctl *c, struct vm *vm, char *msg)
{
	uint64_t one = 1;
	int rc;

	pthread_mutex_lock(&c->lock);
	c->vm = vm;
	c->phase = CTL_HANDED;
	c->start_rc = 1;
	vm_on_started(vm, on_started, c);
	if (write(c->ready_efd, &one, sizeof(one)) < 0) {
		/* cannot happen: one write per process */
	}
	while (c->start_rc == 1)
		pthread_cond_wait(&c->cv, &c->lock);
	rc = c->start_rc;
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		snprintf(msg, FC_MSG_MAX, "the VM was built but its vCPUs could not start");
	return rc;
}

static int begin_start(struct api_ctl *c, char *msg)
{
	if (c->phase != CTL_CONFIGURING) {
		snprintf(msg, FC_MSG_MAX, "the microVM has already been started");
		return -1;
	}
	c->phase = CTL_STARTING;
	return 0;
}

static void abort_start(struct api_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->phase = CTL_CONFIGURING;
	pthread_mutex_unlock(&c->lock);
}

/* Builds the VM c->fc describes (lock not held; phase is STARTING). */
static struct vm *boot_vm(struct api_ctl *c, char *msg)
{
	struct rv_err err;
	struct vm *vm;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = build_config(c, msg);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		return NULL;
	if (vm_create(&c->cfg, &vm, &err) < 0) {
		snprintf(msg, FC_MSG_MAX, "%.*s", FC_MSG_MAX - 1, err.msg);
		return NULL;
	}
	return vm;
}

int ctl_instance_start(struct api_ctl *c, char *msg)
{
	struct vm *vm;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = begin_start(c, msg);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		return -1;
	vm = boot_vm(c, msg);
	if (!vm) {
		abort_start(c);
		return -1;
	}
	return hand_over(c, vm, msg);
}

static bool pristine(const struct fc_vm_config *f)
{
	return !f->has_boot_source && !f->ndrives && !f->nifaces &&
	       !f->entropy && f->machine.vcpu_count == 1 &&
	       f->machine.mem_size_mib == 128;
}

/* A guest that arrives whole (a snapshot, a migration) needs a ringvm no
 * one has configured: begin_start under the lock, or msg says why not
 * (WHAT leads it). */
static int begin_fresh_start(struct api_ctl *c, const char *what, char *msg)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->phase == CTL_CONFIGURING && !pristine(&c->fc)) {
		snprintf(msg, FC_MSG_MAX, "%s a fresh ringvm, before any other configuration", what);
		rc = -1;
	} else {
		rc = begin_start(c, msg);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void *incoming_main(void *arg)
{
	struct api_ctl *c = arg;
	struct mig_incoming_opts o = {
		.url = c->inc.listen_url, .timeout_ms = MIG_DEFAULT_TIMEOUT_MS,
		.ctl = &c->mig,
		.vm = {
			.console = c->opts.console, .serial_log = c->opts.serial_log,
			.stats_path = c->opts.stats_path,
			.allow_slow_backend = c->opts.allow_slow_backend,
			.seccomp = c->opts.seccomp,
			.mem_merge = c->opts.mem_merge,
			.cpu_pin = c->opts.cpu_pin,
			.io_poll_us = c->opts.io_poll_us,
			.cpu_template = c->opts.cpu_template,
			.mem_backing = c->opts.mem_backing,
			.console_set = c->opts.console != CONSOLE_SERIAL,
		},
	};
	char msg[FC_MSG_MAX];
	struct rv_err err;
	struct vm *vm;

	for (unsigned int i = 0; i < c->inc.n_net_overrides; i++) {
		o.vm.tap_override[i].id = c->inc.net_override[i].iface_id;
		o.vm.tap_override[i].tap = c->inc.net_override[i].host_dev_name;
	}
	o.vm.n_tap_overrides = c->inc.n_net_overrides;
	if (mig_receive(&o, c->inc_lfd, &vm, &c->dest, &err) < 0) {
		fprintf(stderr, "ringvm: %s\n", err.msg);
		abort_start(c);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	describe_vm(c, vm);
	pthread_mutex_unlock(&c->lock);
	hand_over(c, vm, msg);
	return NULL;
}

int ctl_migrate_incoming(struct api_ctl *c, struct fc_migrate_incoming *i,
			 char *msg)
{
	struct rv_err err;

	if (begin_fresh_start(c, "a migrated guest can only be received by", msg) < 0)
		return -1;
	if (mig_ctl_claim(&c->mig, i->listen_url, "waiting for the source",
			  &err) < 0) {
		snprintf(msg, FC_MSG_MAX, "%.*s", FC_MSG_MAX - 1, err.msg);
		abort_start(c);
		return -1;
	}
	c->inc_lfd = mig_incoming_listen(i->listen_url, &err);
	if (c->inc_lfd < 0) {
		mig_ctl_finish(&c->mig, MIG_FAILED, err.msg, 0);
		snprintf(msg, FC_MSG_MAX, "%.*s", FC_MSG_MAX - 1, err.msg);
		abort_start(c);
		return -1;
	}
	c->inc = *i;
	memset(i, 0, sizeof(*i));
	if (pthread_create(&c->inc_thread, NULL, incoming_main, c) != 0) {
		mig_unlisten(c->inc.listen_url, c->inc_lfd);
		mig_ctl_finish(&c->mig, MIG_FAILED, "cannot start a thread", 0);
		snprintf(msg, FC_MSG_MAX, "cannot start the receiving thread");
		abort_start(c);
		return -1;
	}
	c->inc_started = true;
	return 0;
}

int ctl_snapshot_load(struct api_ctl *c, const struct fc_snapshot_load *l,
		      char *msg)
{
	struct vm_restore_opts o = {
		.state_path = l->snapshot_path, .mem_path = l->mem_path,
		.paused = !l->resume_vm, .console = c->opts.console, .serial_log = c->opts.serial_log,
		.stats_path = c->opts.stats_path,
		.allow_slow_backend = c->opts.allow_slow_backend,
		.seccomp = c->opts.seccomp,
		.mem_merge = c->opts.mem_merge,
		.cpu_pin = c->opts.cpu_pin,
		.io_poll_us = c->opts.io_poll_us,
		.cpu_template = c->opts.cpu_template,
		.mem_backing = c->opts.mem_backing,
	};
	struct rv_err err;
	struct vm *vm;

	if (begin_fresh_start(c, "a snapshot can only be loaded into", msg) < 0)
		return -1;
	for (unsigned int i = 0; i < l->n_net_overrides; i++) {
		o.tap_override[i].id = l->net_override[i].iface_id;
		o.tap_override[i].tap = l->net_override[i].host_dev_name;
	}
	o.n_tap_overrides = l->n_net_overrides;
	/* The snapshot's console kind wins over --console's default. */
	o.console_set = c->opts.console != CONSOLE_SERIAL;
	if (vm_restore(&o, &vm, &err) < 0) {
		snprintf(msg, FC_MSG_MAX, "%.*s", FC_MSG_MAX - 1, err.msg);
		abort_start(c);
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	describe_vm(c, vm);
	pthread_mutex_unlock(&c->lock);
	return hand_over(c, vm, msg);
}

int api_ctl_config_file(struct api_ctl *c, const char *path,
			struct vm **out, struct rv_err *err)
{
	char msg[FC_MSG_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct vm *vm;
	int rc;

	if (file_read_all(path, "config file", CONFIG_FILE_MAX, &buf, &len,
			  err) < 0)
		return -1;
	pthread_mutex_lock(&c->lock);
	fc_vm_config_free(&c->fc);
	fc_vm_config_init(&c->fc);
	rc = fc_parse_config_file((const char *)buf, len, &c->fc, msg);
	if (rc == 0)
		rc = api_check_boot_args(c->fc.boot.boot_args, msg);
	if (rc == 0)
		rc = begin_start(c, msg);
	pthread_mutex_unlock(&c->lock);
	free(buf);
	if (rc < 0)
		return rv_fail(err, "config file %s: %s", path, msg);
	vm = boot_vm(c, msg);
	if (!vm) {
		abort_start(c);
		return rv_fail(err, "config file %s: %s", path, msg);
	}
	pthread_mutex_lock(&c->lock);
	c->vm = vm;
	c->phase = CTL_HANDED;
	vm_on_started(vm, on_started, c);
	pthread_mutex_unlock(&c->lock);
	*out = vm;
	return 0;
}

struct vm *api_ctl_wait_vm(struct api_ctl *c, int *signo)
{
	struct pollfd p[2];
	sigset_t sigs;
	struct vm *vm = NULL;
	int sfd;

	/* The same signals vm_run takes; blocked here so they wait in the
	 * signalfd, never kill the process mid-request. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	*signo = 0;
	p[0] = (struct pollfd){ .fd = c->ready_efd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				*signo = (int)si.ssi_signo;
				break;
			}
		}
		if (p[0].revents & POLLIN) {
			pthread_mutex_lock(&c->lock);
			vm = c->vm;
			pthread_mutex_unlock(&c->lock);
			if (vm)
				break;
		}
	}
	if (sfd >= 0)
		close(sfd);
	return vm;
}
