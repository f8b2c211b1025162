#include "vm/msi_routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IOAPIC_PINS 24
#define FIRST_MSI_GSI IOAPIC_PINS

int msi_router_init(struct msi_router *r, int vm_fd, struct rv_err *err)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->next_gsi = FIRST_MSI_GSI;
	pthread_mutex_init(&r->lock, NULL);
	/* Mirror of KVM's default table (the in-kernel irqchip routes each
	 * ISA IRQ to the PIC pin and the IOAPIC pin of the same number). */
	for (unsigned int gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi < 16)
			r->entry[r->nr++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ?
					KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					.pin = gsi % 8 },
			};
		r->entry[r->nr++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
	}
	(void)err;
	return 0;
}

void msi_router_destroy(struct msi_router *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* Installs the whole table; KVM has no per-entry update. Lock held. */
static void commit(struct msi_router *r)
{
	size_t sz = sizeof(struct kvm_irq_routing) +
		    r->nr * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *t = malloc(sz);

	if (!t)
		return;
	t->nr = r->nr;
	t->flags = 0;
	memcpy(t->entries, r->entry, r->nr * sizeof(r->entry[0]));
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		fprintf(stderr, "ringvm: warning: KVM_SET_GSI_ROUTING: %s\n",
			strerror(errno));
	free(t);
}

static void route(void *ctx, unsigned int vec, uint64_t addr, uint32_t data)
{
	struct msi_vectors *v = ctx;
	struct msi_router *r = v->router;
	unsigned int gsi = v->gsi_base + vec;
	struct kvm_irq_routing_entry e = {
		.gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)addr,
			   .address_hi = (uint32_t)(addr >> 32), .data = data },
	};
	unsigned int i;

	if (vec >= v->n)
		return;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nr; i++)
		if (r->entry[i].gsi == gsi)
			break;
	if (i < r->nr && memcmp(&r->entry[i], &e, sizeof(e)) == 0) {
		pthread_mutex_unlock(&r->lock);
		return; /* unchanged: spare KVM a table rebuild */
	}
	if (i == r->nr) {
		if (r->nr == MSI_ROUTES_MAX) {
			pthread_mutex_unlock(&r->lock);
			return;
		}
		r->nr++;
	}
	r->entry[i] = e;
	commit(r);
	pthread_mutex_unlock(&r->lock);
}

static void fire(void *ctx, unsigned int vec)
{
	struct msi_vectors *v = ctx;
	uint64_t one = 1;

	if (vec >= v->n)
		return;
	if (write(v->efd[vec], &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the interrupt is pending. */
	}
}

/* A second irqfd on the vector's GSI: KVM takes several eventfds per GSI,
 * and the route the guest programmed applies to each. */
static int bind(void *ctx, unsigned int vec, int fd, bool on)
{
	struct msi_vectors *v = ctx;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = v->gsi_base + vec,
				   .flags = on ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	if (vec >= v->n || fd < 0)
		return -1;
	return ioctl(v->router->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -1 : 0;
}

int msi_vectors_alloc(struct msi_router *r, unsigned int n,
		      struct msi_vectors *v, struct rv_err *err)
{
	memset(v, 0, sizeof(*v));
	for (unsigned int i = 0; i < MSIX_MAX_VECTORS; i++)
		v->efd[i] = -1;
	if (n == 0 || n > MSIX_MAX_VECTORS)
		return rv_fail(err, "bad MSI-X vector count %u", n);
	pthread_mutex_lock(&r->lock);
	if (r->next_gsi + n > MSI_ROUTES_MAX) {
		pthread_mutex_unlock(&r->lock);
		return rv_fail(err, "out of interrupt routes");
	}
	v->router = r;
	v->gsi_base = r->next_gsi;
	r->next_gsi += n;
	pthread_mutex_unlock(&r->lock);
	for (unsigned int i = 0; i < n; i++) {
		struct kvm_irqfd irqfd = { .gsi = v->gsi_base + i };

		v->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->efd[i] < 0) {
			rv_fail_errno(err, "eventfd for MSI-X vector");
			goto fail;
		}
		v->n = i + 1;
		irqfd.fd = (uint32_t)v->efd[i];
		if (ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			rv_fail_errno(err, "KVM_IRQFD (GSI %u)", irqfd.gsi);
			goto fail;
		}
	}
	return 0;
fail:
	msi_vectors_free(v);
	return -1;
}

void msi_vectors_free(struct msi_vectors *v)
{
	for (unsigned int i = 0; i < v->n; i++) {
		if (v->efd[i] < 0)
			continue;
		if (v->router) {
			struct kvm_irqfd irqfd = { .fd = (uint32_t)v->efd[i],
				.gsi = v->gsi_base + i, .flags = KVM_IRQFD_FLAG_DEASSIGN };

			ioctl(v->router->vm_fd, KVM_IRQFD, &irqfd);
		}
		close(v->efd[i]);
		v->efd[i] = -1;
	}
	v->n = 0;
}

struct msix_sink msi_vectors_sink(struct msi_vectors *v)
{
	return (struct msix_sink){ .route = route, .fire = fire, .bind = bind,
				   .ctx = v };
}
