/* exitcost: what one exit of each kind costs on this host, measured by
 * the guest itself (RDTSC around N repetitions of one instruction, less
 * the same loop around a NOP), the "cost" side of the overhead equation
 * (frequency from ringvm's exit accounting times cost from here).
 *
 *   exitcost [N [RUNS [KIND,...]]]  defaults: N 20000, RUNS 5, every kind
 *   exitcost --tsc-khz        prints KVM's guest TSC rate, in kHz, alone
 *                             (to turn exitcost_pvh.S's cycles into ns)
 *
 * Kinds: cpuid and a no-op hypercall (answered inside KVM), port I/O and
 * MMIO to a ringvm device model (a round trip through ringvm), and port
 * I/O and MMIO to an ioeventfd (completed inside KVM, as virtio doorbells
 * are), and the interrupt paths, in KVM's local APIC: HLT until a timer
 * interrupt 10 us later, woken and acknowledged (what every idle wakeup
 * adds; the 10 us are taken off), an IPI the vCPU sends itself, taken
 * and acknowledged (no cross-vCPU wakeup), and an IPI to a second vCPU
 * that is halted, until its handler ran (the wakeup of another CPU, as a
 * Linux guest's cross-CPU wakeups do); these three run N / 100 times.
 * Runs are interleaved (every kind once, then again), and each
 * figure is the mean over RUNS with its 95% confidence interval (Student
 * t). Prints "exit_KIND_ns MEAN ns ci95=HALF runs=RUNS" lines; needs a
 * /dev/kvm with hardware virtualization (on a PVM host, run it in the
 * harness). Exit status 0, or 1 with the reason on stderr. */
#include <errno.h>
#include <linux/kvm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm/rig.h"
#include "mem/guest_mem.h"
#include "vm/kvm_sys.h"
#include "vm/vcpu.h"

#define COST(name) extern const uint8_t cost_##name[], cost_##name##_end[]
COST(nop);
COST(cpuid);
COST(vmcall);
COST(vmmcall);
COST(pio_user);
COST(pio_kernel);
COST(mmio_user);
COST(mmio_kernel);
COST(halt);
COST(selfipi);
COST(ipi);

#define MAX_RUNS 30
#define N_GPA 0x200000ull

struct kind {
	const char *name;
	const uint8_t *code, *end;
	int ioeventfd;        /* 0: none, 1: port 0xe8, 2: MMIO doorbell */
	const char *what;
	long div;             /* runs N / div operations (0: N): the slow kinds */
	double waited_ns;     /* time the operation waits by design */
	unsigned int nvcpus;  /* 2 for the IPI between vCPUs (0: 1) */
};

/* Two-sided 95% Student t quantiles for 1..30 degrees of freedom. */
static const double t95[] = { 0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447,
	2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
	2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
	2.052, 2.048, 2.045, 2.042 };

static int add_ioeventfd(struct rig *r, int kind, int *efd)
{
	struct kvm_ioeventfd io = { .len = kind == 1 ? 1 : 4 };

	*efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (*efd < 0)
		return -1;
	io.fd = *efd;
	io.addr = kind == 1 ? 0xe8 : RIG_MMIO_BASE + 0x1000;
	io.flags = kind == 1 ? KVM_IOEVENTFD_FLAG_PIO : 0;
	return ioctl(r->m.vm_fd, KVM_IOEVENTFD, &io);
}

/* One run of one kind: guest cycles for n operations; 0 on failure. */
static uint64_t run_once(int kvm_fd, const struct kind *k, uint64_t n,
			 uint32_t *tsc_khz)
{
	struct rig r;
	enum machine_outcome o;
	uint64_t cycles = 0;
	int efd = -1, khz;

	if (rig_setup_smp(&r, kvm_fd, true, k->nvcpus ? k->nvcpus : 1, k->code,
			  k->end) < 0) {
		fprintf(stderr, "exitcost: %s: %s\n", k->name, r.err.msg);
		return 0;
	}
	if (guest_mem_write(&r.m.mem, N_GPA, &n, sizeof(n)) < 0 ||
	    (k->ioeventfd && add_ioeventfd(&r, k->ioeventfd, &efd) < 0)) {
		fprintf(stderr, "exitcost: %s: setup: %s\n", k->name, strerror(errno));
		goto out;
	}
	khz = ioctl(r.m.vcpu[0].fd, KVM_GET_TSC_KHZ);
	o = rig_run(&r);
	if (o != OUTCOME_POWEROFF || r.probe.nrec != 2) {
		fprintf(stderr, "exitcost: %s: the guest ended with %s after %u values\n",
			k->name, rig_outcome_name(o), r.probe.nrec);
		goto out;
	}
	cycles = r.probe.rec[0] | r.probe.rec[1] << 32;
	if (khz > 0)
		*tsc_khz = (uint32_t)khz;
out:
	machine_destroy(&r.m);
	if (efd >= 0)
		close(efd);
	return cycles;
}

/* Whether name is one of the comma-separated list's items. */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static unsigned int count_items(const char *list)
{
	unsigned int n = 1;

	for (const char *p = list; (p = strchr(p, ',')); p++)
		n++;
	return n;
}

/* KVM's TSC rate for a new vCPU: a guest's cycles per millisecond. */
static int print_tsc_khz(int kvm_fd)
{
	struct rig r;
	int khz;

	if (rig_setup(&r, kvm_fd, true, cost_nop, cost_nop_end) < 0) {
		fprintf(stderr, "exitcost: %s\n", r.err.msg);
		return 1;
	}
	khz = ioctl(r.m.vcpu[0].fd, KVM_GET_TSC_KHZ);
	machine_destroy(&r.m);
	if (khz <= 0) {
		fprintf(stderr, "exitcost: KVM_GET_TSC_KHZ: %s\n", strerror(errno));
		return 1;
	}
	printf("%d\n", khz);
	return 0;
}

static bool amd_host(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	bool amd = false;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "vendor_id", 9)) {
			amd = strstr(line, "AuthenticAMD") != NULL;
			break;
		}
	if (f)
		fclose(f);
	return amd;
}

int main(int argc, char **argv)
{
	bool amd = amd_host();
	const struct kind kinds[] = {
		{ "nop", cost_nop, cost_nop_end, .what = "baseline loop" },
		{ "cpuid", cost_cpuid, cost_cpuid_end, .what = "answered in KVM" },
		{ "hypercall", amd ? cost_vmmcall : cost_vmcall,
		  amd ? cost_vmmcall_end : cost_vmcall_end, .what = "answered in KVM" },
		{ "pio_user", cost_pio_user, cost_pio_user_end,
		  .what = "round trip through ringvm" },
		{ "pio_ioeventfd", cost_pio_kernel, cost_pio_kernel_end, .ioeventfd = 1,
		  .what = "completed in KVM" },
		{ "mmio_user", cost_mmio_user, cost_mmio_user_end,
		  .what = "round trip through ringvm" },
		{ "mmio_ioeventfd", cost_mmio_kernel, cost_mmio_kernel_end, .ioeventfd = 2,
		  .what = "completed in KVM" },
		{ "halt", cost_halt, cost_halt_end,
		  .what = "HLT, an APIC timer interrupt 10 us later, wakeup, EOI; in KVM, less the 10 us",
		  .div = 100, .waited_ns = 10000 },
		{ "selfipi", cost_selfipi, cost_selfipi_end,
		  .what = "an IPI to itself and its EOI; in KVM", .div = 100 },
		{ "ipi", cost_ipi, cost_ipi_end,
		  .what = "an IPI to the other vCPU, halted: its wakeup and interrupt, until seen; in KVM",
		  .div = 100, .nvcpus = 2 },
	};
	enum { NK = sizeof(kinds) / sizeof(kinds[0]) };
	long n = argc > 1 ? atol(argv[1]) : 20000;
	long runs = argc > 2 ? atol(argv[2]) : 5;
	double per[NK][MAX_RUNS];
	bool failed[NK] = { false }, skip[NK] = { false };
	const char *only = argc > 3 ? argv[3] : NULL;
	unsigned int listed = 0;
	uint32_t khz = 0;
	struct rv_err err;
	int kvm_fd;

	bool tsc_only = argc == 2 && !strcmp(argv[1], "--tsc-khz");

	/* KIND,...: only those (and the NOP baseline); each must exist. */
	for (int k = 1; only && k < NK; k++) {
		skip[k] = !in_list(only, kinds[k].name);
		listed += !skip[k];
	}
	if (!tsc_only &&
	    (argc > 4 || n < 2000 || n > 100000000 || runs < 2 || runs > MAX_RUNS ||
	     (only && listed != count_items(only)))) {
		fprintf(stderr, "usage: exitcost [N (2000..1e8) [RUNS (2..%d) [KIND,...]]] | --tsc-khz\n", MAX_RUNS);
		return 1;
	}
	kvm_fd = kvm_open("/dev/kvm", &err);
	if (kvm_fd < 0) {
		fprintf(stderr, "exitcost: %s\n", err.msg);
		return 1;
	}
	if (tsc_only)
		return print_tsc_khz(kvm_fd);
	for (long r = 0; r < runs; r++) {
		for (int k = 0; k < NK; k++) {
			long nk = n / (kinds[k].div ? kinds[k].div : 1);
			uint64_t c;

			if (failed[k] || skip[k])
				continue;
			c = run_once(kvm_fd, &kinds[k], (uint64_t)nk, &khz);
			/* A guest that never finished (under nested emulation a
			 * timer interrupt can be lost) gets two more tries, said;
			 * then its kind has no figure, and the others go on. */
			for (int again = 0; (!c || !khz) && again < 2; again++) {
				fprintf(stderr, "exitcost: %s: run %ld again\n", kinds[k].name, r + 1);
				c = run_once(kvm_fd, &kinds[k], (uint64_t)nk, &khz);
			}
			if (!c || !khz) {
				if (k == 0)
					return 1; /* no baseline, no figures */
				failed[k] = true;
				continue;
			}
			per[k][r] = (double)c / (double)nk;
		}
		fprintf(stderr, "exitcost: run %ld of %ld done\n", r + 1, runs);
	}
	printf("# exitcost: N=%ld runs=%ld, guest TSC %.0f MHz, %s host; ns per operation less the NOP loop's\n",
	       n, runs, khz / 1000.0, amd ? "AMD" : "Intel");
	for (int k = 1; k < NK; k++) {
		double sum = 0, sq = 0, mean, sd;

		if (skip[k])
			continue;
		if (failed[k]) {
			printf("# exit_%s_ns: no figure, its guest did not finish in three tries\n",
			       kinds[k].name);
			continue;
		}
		for (long r = 0; r < runs; r++) {
			double ns = (per[k][r] - per[0][r]) * 1e6 / khz -
				    kinds[k].waited_ns;

			sum += ns;
			sq += ns * ns;
		}
		mean = sum / (double)runs;
		sd = sqrt(fmax(0, (sq - sum * mean) / (double)(runs - 1)));
		printf("exit_%s_ns %.1f ns ci95=%.1f runs=%ld (%s)\n", kinds[k].name,
		       mean, t95[runs - 1] * sd / sqrt((double)runs), runs,
		       kinds[k].what);
	}
	close(kvm_fd);
	return 0;
}
