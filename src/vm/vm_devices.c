#include "vm/vm_devices.h"

#include <inttypes.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "util/le.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "util/event_loop.h"
#include "vhost/vhost_user_dev.h"
#include "virtio/rng.h"
#include "vm/sandbox.h"
#include "vm/vm_internal.h"

#define BLK_QUEUE_SIZE 256
#define NET_QUEUE_SIZE 256
/* Leaves room for the configuration vector in the MSI-X table. */
#define BLK_MAX_QUEUES (VIRTIO_PCI_MAX_QUEUES - 1)

/* Queue notifications go to the device's eventfd inside KVM: a guest kick
 * costs a VM exit handled in the kernel, never a trip to ringvm. */
static int bind_ioeventfds(struct vm *vm, struct virtio_pci *t,
			   struct rv_err *err)
{
	for (unsigned int q = 0; q < t->cfg.nqueues; q++) {
		struct kvm_ioeventfd io = {
			.addr = virtio_pci_notify_addr(t, q),
			.len = 2,
			.fd = virtio_pci_kick_fd(t, q),
		};

		if (ioctl(vm->m.vm_fd, KVM_IOEVENTFD, &io) < 0)
			return rv_fail_errno(err, "KVM_IOEVENTFD for queue %u", q);
	}
	return 0;
}

/* Reserves the next slot and its MSI vectors (nqueues + config). */
static struct vm_vdev *vdev_begin(struct vm *vm, enum vdev_kind kind,
				  const char *name, unsigned int nqueues,
				  struct rv_err *err)
{
	struct vm_devices *d = &vm->devs;
	struct vm_vdev *v;

	if (d->n == VM_MAX_VIRTIO) {
		rv_fail(err, "too many virtio devices");
		return NULL;
	}
	v = &d->vdev[d->n];
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	snprintf(v->name, sizeof(v->name), "%s", name);
	if (msi_vectors_alloc(&d->msi, nqueues + 1, &v->vec, err) < 0)
		return NULL;
	return v;
}

/* What the vm layer does with each kind of device, in one table instead
 * of a switch per operation. */
struct vdev_ops {
	struct virtio_pci *(*transport)(void *dev);
	void (*free)(void *dev);
	void (*print_stats)(void *dev, const char *prefix, FILE *out);
	void (*save)(void *dev, struct state_writer *w, const char *name);
	int (*load)(void *dev, const struct state_reader *r, const char *name,
		    struct rv_err *err);
	struct ev_loop *(*loop)(void *dev);
};

#define VDEV_OPS(k)						\
static struct virtio_pci *k##_transport_(void *d)			\
{ return virtio_##k##_transport(d); }					\
static void k##_free_(void *d) { virtio_##k##_free(d); }		\
static void k##_stats_(void *d, const char *p, FILE *o)		\
{ virtio_##k##_print_stats(d, p, o); }					\
static void k##_save_(void *d, struct state_writer *w, const char *n)	\
{ virtio_##k##_save(d, w, n); }						\
static int k##_load_(void *d, const struct state_reader *r,		\
		     const char *n, struct rv_err *e)			\
{ return virtio_##k##_load(d, r, n, e); }				\
static struct ev_loop *k##_loop_(void *d) { return virtio_##k##_loop(d); }

VDEV_OPS(blk)
VDEV_OPS(net)
VDEV_OPS(rng)
VDEV_OPS(console)

/* A vhost-user device's queue state lives in its back end: nothing of it
 * is saved (vm_devices_savable refuses first). */
static struct virtio_pci *vhu_transport_(void *d)
{ return vhost_user_dev_transport(d); }
static void vhu_free_(void *d) { vhost_user_dev_free(d); }
static void vhu_stats_(void *d, const char *p, FILE *o)
{ vhost_user_dev_print_stats(d, p, o); }
static void vhu_save_(void *d, struct state_writer *w, const char *n)
{ (void)d; (void)w; (void)n; }
static int vhu_load_(void *d, const struct state_reader *r, const char *n,
		     struct rv_err *e)
{ (void)d; (void)r; return rv_fail(e, "%s: a vhost-user device cannot be restored", n); }
static struct ev_loop *vhu_loop_(void *d) { return vhost_user_dev_loop(d); }

#define KIND(k) { k##_transport_, k##_free_, k##_stats_, k##_save_, k##_load_, \
		  k##_loop_ }
static const struct vdev_ops kinds[] = {
	[VDEV_BLK] = KIND(blk),
	[VDEV_NET] = KIND(net),
	[VDEV_RNG] = KIND(rng),
	[VDEV_CONSOLE] = KIND(console),
	[VDEV_VHOST_USER] = KIND(vhu),
};

static struct virtio_pci *vdev_transport(const struct vm_vdev *v)
{
	return kinds[v->kind].transport(v->dev);
}

/* Takes the device its constructor returned (NULL: it failed and said why
 * in err) and puts it on the PCI bus. */
static int vdev_commit(struct vm *vm, struct vm_vdev *v, void *dev,
		       struct rv_err *err)
{
	if (!dev) {
		msi_vectors_free(&v->vec);
		return -1;
	}
	v->dev = dev;
	v->t = vdev_transport(v);
	vm->devs.n++; /* from here on vm_devices_destroy frees it */
	if (pci_host_add(&vm->devs.pci, &v->t->pci, &vm->m.mmio, &vm->m.pio,
			 err) < 0)
		return -1;
	return bind_ioeventfds(vm, v->t, err);
}

static void vdev_free(struct vm_vdev *v)
{
	kinds[v->kind].free(v->dev);
	msi_vectors_free(&v->vec);
}

/* A disk whose back end is another process: ringvm keeps the PCI
 * function; queues and their eventfds go to the back end. */
static int add_vhost_user_disk(struct vm *vm, unsigned int i, unsigned int nq,
			       struct rv_err *err)
{
	struct vhost_user_dev_opts o = {
		.socket = vm->cfg->disk[i].path,
		.device_type = VIRTIO_ID_BLOCK,
		.class_code = 0x018000,
		.config_len = VIRTIO_BLK_CFG_LEN,
		.max_queues = nq,
		.queue_size = BLK_QUEUE_SIZE,
		.index = i,
	};
	char name[16];
	struct vm_vdev *v;

	snprintf(name, sizeof(name), "blk%u", i);
	v = vdev_begin(vm, VDEV_VHOST_USER, name, nq, err);
	if (!v)
		return -1;
	return vdev_commit(vm, v, vhost_user_dev_new(&o, &vm->m.mem,
			   msi_vectors_sink(&v->vec), err), err);
}

/* virtio-fs (virtio 1.2, 5.11): struct virtio_fs_config is the tag and
 * the number of request queues; one request queue besides hiprio. */
#define VIRTIO_ID_FS 26
#define FS_CONFIG_LEN 40
#define FS_QUEUES 2

static int add_fs(struct vm *vm, unsigned int i, struct rv_err *err)
{
	const struct fs_config *fc = &vm->cfg->fs[i];
	uint8_t config[FS_CONFIG_LEN] = { 0 };
	struct vhost_user_dev_opts o = {
		.socket = fc->socket,
		.device_type = VIRTIO_ID_FS,
		.class_code = 0x018000,
		.config_len = FS_CONFIG_LEN,
		.local_config = config,
		.max_queues = FS_QUEUES,
		.queue_size = 1024,
		.index = VM_MAX_DISKS + i,
	};
	char name[16];
	struct vm_vdev *v;

	memcpy(config, fc->tag, strlen(fc->tag));
	put_le32(config + 36, FS_QUEUES - 1);
	snprintf(name, sizeof(name), "fs%u", i);
	v = vdev_begin(vm, VDEV_VHOST_USER, name, FS_QUEUES, err);
	if (!v)
		return -1;
	return vdev_commit(vm, v, vhost_user_dev_new(&o, &vm->m.mem,
			   msi_vectors_sink(&v->vec), err), err);
}

static int add_disk(struct vm *vm, unsigned int i, struct rv_err *err)
{
	const struct disk_config *dc = &vm->cfg->disk[i];
	unsigned int nq = vm->cfg->ncpus < BLK_MAX_QUEUES ? vm->cfg->ncpus :
							     BLK_MAX_QUEUES;
	struct virtio_blk_opts o = {
		.path = dc->path, .readonly = dc->readonly, .direct = dc->direct,
		.nqueues = nq, .queue_size = BLK_QUEUE_SIZE, .index = i,
		.force_sync = dc->sync || getenv("RINGVM_BLK_SYNC") != NULL,
	};
	char name[16];
	struct vm_vdev *v;

	if (dc->vhost_user)
		return add_vhost_user_disk(vm, i, nq, err);
	snprintf(name, sizeof(name), "blk%u", i);
	v = vdev_begin(vm, VDEV_BLK, name, nq, err);
	if (!v)
		return -1;
	return vdev_commit(vm, v, virtio_blk_new(&o, &vm->m.mem,
			   msi_vectors_sink(&v->vec), err), err);
}

/* A NIC whose back end is another process (its MAC and TAP are its
 * own): ringvm keeps the PCI function, the back end the two queues. */
static int add_vhost_user_nic(struct vm *vm, unsigned int i,
			      struct rv_err *err)
{
	struct vhost_user_dev_opts o = {
		.socket = vm->cfg->nic[i].tap,
		.device_type = VIRTIO_ID_NET,
		.class_code = 0x020000,
		.config_len = 12,            /* mac, status, max pairs, mtu */
		.max_queues = 2,
		.queue_size = NET_QUEUE_SIZE,
		.index = VM_MAX_DISKS + VM_MAX_FS + i,
	};
	char name[16];
	struct vm_vdev *v;

	snprintf(name, sizeof(name), "net%u", i);
	v = vdev_begin(vm, VDEV_VHOST_USER, name, 2, err);
	if (!v)
		return -1;
	return vdev_commit(vm, v, vhost_user_dev_new(&o, &vm->m.mem,
			   msi_vectors_sink(&v->vec), err), err);
}

static int add_nic(struct vm *vm, unsigned int i, struct rv_err *err)
{
	const struct nic_config *nc = &vm->cfg->nic[i];
	struct virtio_net_opts o = { .tap = nc->tap, .queue_size = NET_QUEUE_SIZE,
				     .tap_fd = -1, .vhost = nc->vhost,
				     .pairs = nc->queues };
	unsigned int pairs = nc->queues ? nc->queues : 1;
	char name[16];
	struct vm_vdev *v;

	if (nc->vhost_user)
		return add_vhost_user_nic(vm, i, err);
	if (nc->mac_set)
		memcpy(o.mac, nc->mac, 6);
	else
		virtio_net_random_mac(o.mac);
	memcpy(vm->nic_mac[i], o.mac, 6);   /* a snapshot keeps it */
	snprintf(name, sizeof(name), "net%u", i);
	/* The pairs and, with more than one, the control queue. */
	v = vdev_begin(vm, VDEV_NET, name, 2 * pairs + (pairs > 1), err);
	if (!v)
		return -1;
	return vdev_commit(vm, v, virtio_net_new(&o, &vm->m.mem,
			   msi_vectors_sink(&v->vec), err), err);
}

static int add_rng(struct vm *vm, struct rv_err *err)
{
	struct vm_vdev *v = vdev_begin(vm, VDEV_RNG, "rng0", 1, err);

	if (!v)
		return -1;
	return vdev_commit(vm, v, virtio_rng_new(&vm->m.mem,
			   msi_vectors_sink(&v->vec), err), err);
}

static int add_console(struct vm *vm, struct rv_err *err)
{
	struct vm_vdev *v = vdev_begin(vm, VDEV_CONSOLE, "console0", 2, err);

	if (!v)
		return -1;
	vm->devs.console = virtio_console_new(STDOUT_FILENO, -1, &vm->m.mem,
					      msi_vectors_sink(&v->vec), err);
	return vdev_commit(vm, v, vm->devs.console, err);
}

int vm_devices_create(struct vm *vm, struct rv_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	struct vm_devices *d = &vm->devs;

	if (msi_router_init(&d->msi, vm->m.vm_fd, err) < 0)
		return -1;
	pci_host_init(&d->pci, X86_PCI_MMIO_BASE, X86_PCI_MMIO_END,
		      X86_PCI_IO_BASE, X86_PCI_IO_END);
	if (io_bus_add(&vm->m.pio, X86_PORT_PCI_ADDR, 4, pci_host_cf8_io,
		       &d->pci, "pci-addr", err) < 0 ||
	    io_bus_add(&vm->m.pio, X86_PORT_PCI_DATA, 4, pci_host_cfc_io,
		       &d->pci, "pci-data", err) < 0)
		return -1;
	/* Slot order is probe order: disks first, so --disk N is vd(a+N). */
	for (unsigned int i = 0; i < cfg->ndisks; i++)
		if (add_disk(vm, i, err) < 0)
			return -1;
	for (unsigned int i = 0; i < cfg->nnics; i++)
		if (add_nic(vm, i, err) < 0)
			return -1;
	for (unsigned int i = 0; i < cfg->nfs; i++)
		if (add_fs(vm, i, err) < 0)
			return -1;
	if (cfg->rng && add_rng(vm, err) < 0)
		return -1;
	if (cfg->console == CONSOLE_VIRTIO && add_console(vm, err) < 0)
		return -1;
	for (unsigned int i = 0; i < d->n; i++)
		ev_loop_set_poll(kinds[d->vdev[i].kind].loop(d->vdev[i].dev),
				 cfg->io_poll_us);
	return 0;
}

void vm_devices_destroy(struct vm *vm)
{
	struct vm_devices *d = &vm->devs;

	while (d->n > 0)
		vdev_free(&d->vdev[--d->n]);
	d->console = NULL;
	pci_host_destroy(&d->pci);
	msi_router_destroy(&d->msi);
}

void vm_devices_print_stats(struct vm *vm, FILE *out)
{
	for (unsigned int i = 0; i < vm->devs.n; i++) {
		struct vm_vdev *v = &vm->devs.vdev[i];

		struct ev_loop_stats ls;

		kinds[v->kind].print_stats(v->dev, v->name, out);
		/* How often its I/O thread had to be woken, and how often
		 * polling (--io-poll) found work before it slept. */
		ev_loop_get_stats(kinds[v->kind].loop(v->dev), &ls);
		fprintf(out, "%s_io_sleeps %" PRIu64 " waits\n", v->name, ls.sleeps);
		fprintf(out, "%s_io_polled %" PRIu64 " events\n", v->name, ls.polled);
		fprintf(out, "%s_io_poll_us %" PRIu32 " us\n", v->name, ls.poll_us);
	}
}

void vm_devices_pause(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->devs.n; i++)
		virtio_pci_pause(vm->devs.vdev[i].t);
}

void vm_devices_resume(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->devs.n; i++)
		virtio_pci_resume(vm->devs.vdev[i].t);
}

int vm_devices_sandbox(struct vm *vm, struct rv_err *err)
{
	for (unsigned int i = 0; i < vm->devs.n; i++) {
		struct vm_vdev *v = &vm->devs.vdev[i];
		enum sandbox_kind kind = v->kind == VDEV_VHOST_USER ?
					 SANDBOX_IO_VHOST : SANDBOX_IO;
		struct rv_err e;

		if (sandbox_enter_loop(kinds[v->kind].loop(v->dev), kind, &e) < 0)
			return rv_fail(err, "%s: %s", v->name, e.msg);
	}
	return 0;
}

void vm_devices_kick(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->devs.n; i++)
		virtio_pci_kick_all(vm->devs.vdev[i].t);
}

int vm_devices_savable(struct vm *vm, struct rv_err *err)
{
	for (unsigned int i = 0; i < vm->devs.n; i++) {
		const struct vm_vdev *v = &vm->devs.vdev[i];

		if (v->kind == VDEV_VHOST_USER)
			return rv_fail(err, "%s is served by a vhost-user back end, whose state ringvm cannot save: snapshots and migration are not available for this VM",
				       v->name);
		/* The kernel's writes to guest RAM are not in ringvm's dirty
		 * log (VHOST_SET_LOG_BASE is not used yet). */
		if (v->kind == VDEV_NET && virtio_net_uses_vhost(v->dev))
			return rv_fail(err, "%s uses vhost-net (vhost=on): snapshots and migration are not available for this VM yet",
				       v->name);
	}
	return 0;
}

void vm_devices_save(struct vm *vm, struct state_writer *w)
{
	for (unsigned int i = 0; i < vm->devs.n; i++) {
		struct vm_vdev *v = &vm->devs.vdev[i];

		kinds[v->kind].save(v->dev, w, v->name);
	}
}

int vm_devices_load(struct vm *vm, const struct state_reader *r,
		    struct rv_err *err)
{
	for (unsigned int i = 0; i < vm->devs.n; i++) {
		struct vm_vdev *v = &vm->devs.vdev[i];

		if (kinds[v->kind].load(v->dev, r, v->name, err) < 0)
			return -1;
	}
	return 0;
}
