/* MSI delivery through KVM: every MSI-X vector of every device gets a GSI, an
 * irqfd bound to it and, once the guest programs the vector, a GSI route to
 * its (address, data) message. Devices fire a vector by writing its eventfd
 * from their I/O thread: the interrupt never passes through a vCPU thread. */
#ifndef RINGVM_VM_MSI_ROUTES_H
#define RINGVM_VM_MSI_ROUTES_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "bus/msix.h"
#include "util/err.h"

#define MSI_ROUTES_MAX 1024

struct msi_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned int next_gsi;
	unsigned int nr;
	struct kvm_irq_routing_entry entry[MSI_ROUTES_MAX];
};

struct msi_vectors {
	struct msi_router *router;
	unsigned int gsi_base;
	unsigned int n;
	int efd[MSIX_MAX_VECTORS];
};

/* Starts from KVM's default routing (GSI 0-15 to both PICs and the IOAPIC,
 * 16-23 to the IOAPIC), which KVM_SET_GSI_ROUTING would otherwise drop. */
int msi_router_init(struct msi_router *r, int vm_fd, struct rv_err *err);
void msi_router_destroy(struct msi_router *r);

/* n GSIs with an irqfd each; the sink to hand to the device's MSI-X. */
int msi_vectors_alloc(struct msi_router *r, unsigned int n,
		      struct msi_vectors *v, struct rv_err *err);
void msi_vectors_free(struct msi_vectors *v);
struct msix_sink msi_vectors_sink(struct msi_vectors *v);

#endif
