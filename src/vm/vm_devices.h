/* The PCI side of `ringvm run`: the host bridge and one virtio-pci function
 * per --disk, --net, --rng and --console virtio, each with its MSI-X vectors
 * routed through KVM irqfds and its queue notifications bound to KVM
 * ioeventfds. */
#ifndef RINGVM_VM_VM_DEVICES_H
#define RINGVM_VM_VM_DEVICES_H

#include <stdio.h>

#include "bus/pci.h"
#include "state/state.h"
#include "util/err.h"
#include "vm/msi_routes.h"

struct vm;
struct virtio_pci;
struct virtio_console;

#define VM_MAX_VIRTIO 16

enum vdev_kind { VDEV_BLK, VDEV_NET, VDEV_RNG, VDEV_CONSOLE, VDEV_VHOST_USER };

struct vm_vdev {
	enum vdev_kind kind;
	void *dev;
	struct virtio_pci *t;
	struct msi_vectors vec;
	char name[16];
};

struct vm_devices {
	struct pci_host pci;
	struct msi_router msi;
	struct vm_vdev vdev[VM_MAX_VIRTIO];
	unsigned int n;
	struct virtio_console *console;   /* the --console virtio device */
};

int vm_devices_create(struct vm *vm, struct rv_err *err);
void vm_devices_destroy(struct vm *vm);
void vm_devices_print_stats(struct vm *vm, FILE *out);
/* VM pause/resume: every device quiesced (see virtio_dev_ops.pause). */
void vm_devices_pause(struct vm *vm);
void vm_devices_resume(struct vm *vm);
/* Every enabled queue of every device looks at its ring (after a
 * restore: what the guest queued before the snapshot gets served). */
void vm_devices_kick(struct vm *vm);
/* Each device's I/O thread takes its seccomp filter (after the control
 * one is on every thread). */
int vm_devices_sandbox(struct vm *vm, struct rv_err *err);
/* Whether every device can be saved (snapshot, migration): not one whose
 * queues a vhost-user back end serves (its state is in that process). */
int vm_devices_savable(struct vm *vm, struct rv_err *err);
/* Snapshot: each device's sections, by its name (blk0, net0, ...). Load
 * into devices just built from the same configuration. */
void vm_devices_save(struct vm *vm, struct state_writer *w);
int vm_devices_load(struct vm *vm, const struct state_reader *r,
		    struct rv_err *err);

#endif
