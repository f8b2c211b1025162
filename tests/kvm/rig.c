/* See rig.h. */
#include "kvm/rig.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "bus/io_bus.h"
#include "mem/guest_mem.h"
#include "vm/vcpu.h"

static void probe_record(struct probe *p, uint64_t v)
{
	pthread_mutex_lock(&p->lock);
	if (p->nrec < MAX_RECORDS)
		p->rec[p->nrec++] = v;
	pthread_mutex_unlock(&p->lock);
}

static void probe_out(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		      bool is_write)
{
	uint64_t v = 0;

	(void)off;
	if (!is_write)
		return;
	memcpy(&v, data, len);
	probe_record(dev, v);
}

static void probe_in(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	const uint32_t value = 0xab12cd34;

	(void)dev;
	(void)off;
	if (!is_write)
		memcpy(data, &value, len > 4 ? 4 : len);
}

static void probe_mmio(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct probe *p = dev;
	uint64_t v = 0;

	if (is_write) {
		memcpy(&v, data, len > 8 ? 8 : len);
		if (off == 0)
			p->mmio_last = (uint32_t)v;
		pthread_mutex_lock(&p->lock);
		if (p->nmmio < MAX_RECORDS)
			p->mmio[p->nmmio++] = (struct mmio_store){ off, v, len };
		pthread_mutex_unlock(&p->lock);
	} else {
		/* Offset 4 answers with the complement of what offset 0 got. */
		v = off == 4 ? (uint32_t)~p->mmio_last : 0;
		memcpy(data, &v, len > 8 ? 8 : len);
	}
}

/* Builds a one-vCPU machine running `code` at 1 MiB in 64-bit mode. */
int rig_setup(struct rig *r, int kvm_fd, bool irqchip,
		     const uint8_t *code, const uint8_t *end)
{
	return rig_setup_smp(r, kvm_fd, irqchip, 1, code, end);
}

/* vCPU i at the program in 64-bit mode; every vCPU after the first is made
 * runnable at once (no INIT/SIPI): they all start at `code`, telling
 * themselves apart by their APIC IDs. */
static int setup_vcpu(struct rig *r, unsigned int i, unsigned int n,
		      const struct x86_boot_info *bi)
{
	struct x86_cpuid_opts co = { .cpu_index = i, .ncpus = n,
				     .tsc_deadline = r->m.tsc_deadline };
	struct x86_cpuid cpuid = r->m.supported_cpuid;
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	if (x86_cpuid_shape(&cpuid, &co, &r->err) < 0 ||
	    x86_vcpu_setup(r->m.vcpu[i].fd, &cpuid, &r->err) < 0 ||
	    x86_vcpu_boot_regs(r->m.vcpu[i].fd, &r->m.mem, bi, &r->err) < 0)
		return -1;
	if (i > 0 && ioctl(r->m.vcpu[i].fd, KVM_SET_MP_STATE, &mp) < 0)
		return rv_fail_errno(&r->err, "vCPU %u: KVM_SET_MP_STATE", i);
	return 0;
}

int rig_setup_smp(struct rig *r, int kvm_fd, bool irqchip, unsigned int nvcpus,
		  const uint8_t *code, const uint8_t *end)
{
	struct machine_opts mo = { .mem_size = 512ull << 20, .nvcpus = nvcpus,
				   .irqchip = irqchip };
	struct x86_boot_info bi = { .mode = X86_BOOT_LINUX64,
				    .entry = X86_HIGH_MEM_GPA,
				    .params_gpa = PARAMS_MARK };

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->probe.lock, NULL);
	if (machine_create(&r->m, kvm_fd, &mo, &r->err) < 0)
		return -1;
	acpi_pm_init(&r->pm, machine_vm_ctl(&r->m), X86_ACPI_S5_SLP_TYP,
		     X86_ACPI_RESET_VALUE);
	if (io_bus_add(&r->m.pio, 0xe0, 4, probe_out, &r->probe, "probe-out",
		       &r->err) < 0 ||
	    io_bus_add(&r->m.pio, 0xe4, 4, probe_in, &r->probe, "probe-in",
		       &r->err) < 0 ||
	    io_bus_add(&r->m.pio, X86_PORT_ACPI_SLEEP_CTL, 4, acpi_pm_io,
		       &r->pm, "acpi-pm", &r->err) < 0 ||
	    io_bus_add(&r->m.mmio, 0xd0000000, 0x1000, probe_mmio, &r->probe,
		       "probe-mmio", &r->err) < 0 ||
	    guest_mem_write(&r->m.mem, X86_HIGH_MEM_GPA, code,
			    (uint64_t)(end - code)) < 0)
		goto fail;
	for (unsigned int i = 0; i < nvcpus; i++)
		if (setup_vcpu(r, i, nvcpus, &bi) < 0)
			goto fail;
	return 0;
fail:
	machine_destroy(&r->m);
	return -1;
}

/* Runs until the machine stops or 20 s pass (then it is stopped). */
enum machine_outcome rig_run(struct rig *r)
{
	struct pollfd p = { .fd = r->m.stop_efd, .events = POLLIN };

	if (machine_start(&r->m, &r->err) < 0)
		return OUTCOME_RUNNING;
	while (poll(&p, 1, 20000) < 0 && errno == EINTR)
		;
	if (machine_outcome(&r->m) == OUTCOME_RUNNING)
		machine_stop(&r->m, OUTCOME_SIGNAL);
	machine_join(&r->m);
	return machine_outcome(&r->m);
}

const char *rig_outcome_name(enum machine_outcome o)
{
	static const char *const names[] = { "still running (timeout)",
		"poweroff", "reboot", "crash", "stopped (timeout)" };

	return names[o];
}

