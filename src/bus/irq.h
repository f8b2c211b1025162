/* How a device raises an interrupt without knowing about KVM: the VM layer
 * fills in the callback (KVM_IRQ_LINE today, irqfd for MSI-X later). */
#ifndef RINGVM_BUS_IRQ_H
#define RINGVM_BUS_IRQ_H

#include <stdbool.h>

struct irq_line {
	void (*set_level)(void *ctx, unsigned int gsi, bool level);
	void *ctx;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *l, bool level)
{
	if (l->set_level)
		l->set_level(l->ctx, l->gsi, level);
}

#endif
