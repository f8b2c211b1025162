/* Requests a device makes of the machine as a whole (power button, reset
 * line). The VM layer decides what they mean. */
#ifndef RINGVM_BUS_VM_CTL_H
#define RINGVM_BUS_VM_CTL_H

enum vm_request {
	VM_REQ_POWEROFF,
	VM_REQ_REBOOT,
};

/* why: the mechanism that asked, for the user ("ACPI reset register");
 * a string literal, kept by the VM layer. */
struct vm_ctl {
	void (*request)(void *ctx, enum vm_request req, const char *why);
	void *ctx;
};

static inline void vm_ctl_request(const struct vm_ctl *c, enum vm_request r,
				  const char *why)
{
	if (c->request)
		c->request(c->ctx, r, why);
}

#endif
