#include "vm/machine.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/ram_layout.h"
#include "vm/vcpu.h"

static int add_memslots(struct machine *m, struct rv_err *err)
{
	for (unsigned int i = 0; i < m->mem.nr; i++) {
		const struct guest_region *r = &m->mem.region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return rv_fail_errno(err, "KVM_SET_USER_MEMORY_REGION %#llx+%#llx",
					     (unsigned long long)r->gpa,
					     (unsigned long long)r->size);
	}
	return 0;
}

static int create_irqchip(struct machine *m, struct rv_err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	/* Intel needs these three pages below 4 GiB for real-mode emulation;
	 * AMD ignores them. They sit in the MMIO hole, away from RAM. */
	if (ioctl(m->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS_GPA) < 0)
		return rv_fail_errno(err, "KVM_SET_TSS_ADDR");
	if (ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t idmap = X86_KVM_IDMAP_GPA;

		if (ioctl(m->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
			return rv_fail_errno(err, "KVM_SET_IDENTITY_MAP_ADDR");
	}
	if (!m->irqchip)
		return 0;
	if (ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return rv_fail_errno(err, "KVM_CREATE_IRQCHIP");
	if (ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return rv_fail_errno(err, "KVM_CREATE_PIT2");
	return 0;
}

static int get_supported_cpuid(struct machine *m, struct rv_err *err)
{
	m->supported_cpuid.head.nent = X86_CPUID_MAX_ENTRIES;
	if (ioctl(m->kvm_fd, KVM_GET_SUPPORTED_CPUID, &m->supported_cpuid) < 0)
		return rv_fail_errno(err, "KVM_GET_SUPPORTED_CPUID");
	return 0;
}

int machine_create(struct machine *m, int kvm_fd,
		   const struct machine_opts *o, struct rv_err *err)
{
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned int nr;
	int max_vcpus;

	memset(m, 0, sizeof(*m));
	m->kvm_fd = kvm_fd;
	m->vm_fd = -1;
	m->stop_efd = -1;
	m->irqchip = o->irqchip;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->pause_cv, NULL);
	atomic_init(&m->outcome, OUTCOME_RUNNING);
	atomic_init(&m->pause_req, false);
	io_bus_init(&m->pio);
	io_bus_init(&m->mmio);

	max_vcpus = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (o->nvcpus == 0 || (max_vcpus > 0 && o->nvcpus > (unsigned int)max_vcpus)) {
		rv_fail(err, "this host's KVM allows at most %d vCPUs (asked for %u)",
			max_vcpus, o->nvcpus);
		goto fail;
	}
	m->tsc_deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
				KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	m->run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (m->run_size < (int)sizeof(struct kvm_run)) {
		rv_fail_errno(err, "KVM_GET_VCPU_MMAP_SIZE");
		goto fail;
	}
	m->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stop_efd < 0) {
		rv_fail_errno(err, "eventfd");
		goto fail;
	}
	m->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0) {
		rv_fail_errno(err, "KVM_CREATE_VM");
		goto fail;
	}
	if (create_irqchip(m, err) < 0)
		goto fail;
	nr = x86_ram_layout(o->mem_size, layout);
	if ((o->mem_fd > 0 ? guest_mem_map_file(&m->mem, layout, nr, o->mem_fd, err) :
	     o->mem_shared ? guest_mem_map_memfd(&m->mem, layout, nr, o->mem_backing, err) :
	     guest_mem_map_backed(&m->mem, layout, nr, o->mem_backing, err)) < 0 ||
	    guest_mem_advise(&m->mem, o->mem_merge, err) < 0)
		goto fail;
	if (add_memslots(m, err) < 0 || get_supported_cpuid(m, err) < 0)
		goto fail;

	if (o->pin && o->pin->n) {
		cpu_set_t allowed;

		if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
			rv_fail_errno(err, "sched_getaffinity");
			goto fail;
		}
		if (cpu_pin_check(o->pin, o->nvcpus, &allowed, err) < 0)
			goto fail;
		m->pin = *o->pin;
	}
	m->vcpu = calloc(o->nvcpus, sizeof(*m->vcpu));
	if (!m->vcpu) {
		rv_fail(err, "out of memory for %u vCPUs", o->nvcpus);
		goto fail;
	}
	for (unsigned int i = 0; i < o->nvcpus; i++) {
		if (vcpu_create(m, i, &m->vcpu[i], err) < 0)
			goto fail;
		m->nvcpus = i + 1;
	}
	return 0;
fail:
	machine_destroy(m);
	return -1;
}

void machine_destroy(struct machine *m)
{
	for (unsigned int i = 0; i < m->nvcpus; i++)
		vcpu_destroy(&m->vcpu[i]);
	free(m->vcpu);
	m->vcpu = NULL;
	m->nvcpus = 0;
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	m->vm_fd = -1;
	guest_mem_unmap(&m->mem);
	if (m->stop_efd >= 0)
		close(m->stop_efd);
	m->stop_efd = -1;
	pthread_cond_destroy(&m->pause_cv);
	pthread_mutex_destroy(&m->lock);
}

static void *vcpu_thread(void *arg)
{
	vcpu_run_loop(arg);
	return NULL;
}

int machine_start(struct machine *m, struct rv_err *err)
{
	if (vcpu_install_kick_handler(err) < 0)
		return -1;
	for (unsigned int i = 0; i < m->nvcpus; i++) {
		struct vcpu *v = &m->vcpu[i];
		int rc;

		/* Holding the lock orders thread creation against a concurrent
		 * machine_stop, which only kicks threads marked started. */
		pthread_attr_t attr;

		/* A pinned vCPU starts on its CPU: never a first slice
		 * elsewhere. */
		pthread_attr_init(&attr);
		if (m->pin.n) {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(m->pin.cpu[i], &one);
			pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
		}
		pthread_mutex_lock(&m->lock);
		rc = pthread_create(&v->thread, &attr, vcpu_thread, v);
		v->started = rc == 0;
		pthread_mutex_unlock(&m->lock);
		pthread_attr_destroy(&attr);
		if (rc == 0) {
			char name[16];

			/* What ps, perf and a seccomp denial call it. */
			snprintf(name, sizeof(name), "vcpu%u", i);
			pthread_setname_np(v->thread, name);
		}
		if (rc != 0) {
			errno = rc;
			rv_fail_errno(err, "cannot start vCPU %u thread", i);
			machine_stop(m, OUTCOME_CRASH);
			machine_join(m);
			return -1;
		}
	}
	return 0;
}

void machine_join(struct machine *m)
{
	for (unsigned int i = 0; i < m->nvcpus; i++) {
		if (m->vcpu[i].started) {
			pthread_join(m->vcpu[i].thread, NULL);
			m->vcpu[i].started = false;
		}
	}
}

void machine_stop(struct machine *m, enum machine_outcome o)
{
	machine_stop_why(m, o, NULL);
}

void machine_stop_why(struct machine *m, enum machine_outcome o,
		      const char *why)
{
	int expected = OUTCOME_RUNNING;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&m->outcome, &expected, (int)o))
		return;
	atomic_store(&m->stop_why, why);
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nvcpus; i++)
		if (m->vcpu[i].started)
			vcpu_kick(&m->vcpu[i]);
	/* Parked vCPUs and a waiting machine_pause see the outcome. */
	pthread_cond_broadcast(&m->pause_cv);
	pthread_mutex_unlock(&m->lock);
	if (write(m->stop_efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow with one write per VM; nothing
		 * else to do if it fails. */
	}
}

int machine_pause(struct machine *m)
{
	unsigned int started = 0;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	atomic_store(&m->pause_req, true);
	for (unsigned int i = 0; i < m->nvcpus; i++) {
		if (m->vcpu[i].started) {
			vcpu_kick(&m->vcpu[i]);
			started++;
		}
	}
	while (m->parked < started && machine_outcome(m) == OUTCOME_RUNNING)
		pthread_cond_wait(&m->pause_cv, &m->lock);
	if (machine_outcome(m) != OUTCOME_RUNNING) {
		atomic_store(&m->pause_req, false);
		rc = -1;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void machine_resume(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	atomic_store(&m->pause_req, false);
	pthread_cond_broadcast(&m->pause_cv);
	pthread_mutex_unlock(&m->lock);
}

/* Called by a vCPU thread after KVM_RUN returned EINTR with a pause asked
 * for: its state is consistent now. Returns when resumed or stopped. */
void machine_park_vcpu(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	m->parked++;
	pthread_cond_broadcast(&m->pause_cv);
	while (atomic_load(&m->pause_req) &&
	       machine_outcome(m) == OUTCOME_RUNNING)
		pthread_cond_wait(&m->pause_cv, &m->lock);
	m->parked--;
	pthread_mutex_unlock(&m->lock);
}

static void ctl_request(void *ctx, enum vm_request req, const char *why)
{
	machine_stop_why(ctx, req == VM_REQ_REBOOT ? OUTCOME_REBOOT :
			 OUTCOME_POWEROFF, why);
}

struct vm_ctl machine_vm_ctl(struct machine *m)
{
	return (struct vm_ctl){ .request = ctl_request, .ctx = m };
}

static void irq_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct machine *m = ctx;
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	/* Fails only if the irqchip is gone (teardown); nothing to report. */
	(void)ioctl(m->vm_fd, KVM_IRQ_LINE, &irq);
}

struct irq_line machine_irq_line(struct machine *m, unsigned int gsi)
{
	return (struct irq_line){ .set_level = irq_set_level, .ctx = m, .gsi = gsi };
}
