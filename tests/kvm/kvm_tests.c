/* KVM tier: tiny guest programs (guest_programs.S) run on the host's
 * /dev/kvm through ringvm's own machine, vCPU, bus and register code. Each
 * test prints PASS or FAIL with the reason, like the end-to-end tier. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "arch/x86/vcpu_state.h"
#include "devices/acpi_pm.h"
#include "kvm/rig.h"
#include "vm/kvm_stats.h"
#include "vm/kvm_sys.h"
#include "vm/machine.h"
#include "vm/sandbox.h"
#include "vm/vcpu.h"

#define GUEST(name) extern const uint8_t guest_##name[], guest_##name##_end[]
GUEST(pio);
GUEST(string_io);
GUEST(mmio);
GUEST(memory);
GUEST(regs);
GUEST(cpuid);
GUEST(hlt);
GUEST(triple_fault);
GUEST(counter);
GUEST(exits);

static int failf(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int failf(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL kvm/%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return 1;
}

static int pass(const char *name)
{
	printf("PASS kvm/%s\n", name);
	fflush(stdout);
	return 0;
}

/* Sets up, runs, and checks the outcome; leaves the machine for checks. */
static int run_guest(const char *name, int kvm_fd, bool irqchip,
		     const uint8_t *code, const uint8_t *end,
		     enum machine_outcome want, struct rig *r)
{
	enum machine_outcome got;

	printf("--- kvm/%s\n", name);
	fflush(stdout);
	if (rig_setup(r, kvm_fd, irqchip, code, end) < 0)
		return failf(name, "setup: %s", r->err.msg);
	got = rig_run(r);
	if (got != want) {
		machine_destroy(&r->m);
		return failf(name, "outcome %s, expected %s", rig_outcome_name(got),
			     rig_outcome_name(want));
	}
	return 0;
}

static int expect_records(const char *name, struct rig *r,
			  const uint64_t *want, unsigned int n)
{
	if (r->probe.nrec != n)
		return failf(name, "%u values recorded, expected %u",
			     r->probe.nrec, n);
	for (unsigned int i = 0; i < n; i++)
		if (r->probe.rec[i] != want[i])
			return failf(name, "value %u is %#llx, expected %#llx", i,
				     (unsigned long long)r->probe.rec[i],
				     (unsigned long long)want[i]);
	return 0;
}

static int test_pio(int kvm_fd)
{
	static const uint64_t want[] = { 0x11, 0x2233, 0x44556677, 0xab12cd35,
					 0x34 };
	struct rig r;
	int rc;

	if (run_guest("pio", kvm_fd, true, guest_pio, guest_pio_end,
		      OUTCOME_POWEROFF, &r))
		return 1;
	rc = expect_records("pio", &r, want, 5);
	machine_destroy(&r.m);
	return rc ? rc : pass("pio");
}

static int test_string_io(int kvm_fd)
{
	static const uint64_t want[] = { 'h', 'e', 'l', 'l', 'o' };
	struct rig r;
	int rc;

	if (run_guest("string-io", kvm_fd, true, guest_string_io,
		      guest_string_io_end, OUTCOME_POWEROFF, &r))
		return 1;
	rc = expect_records("string-io", &r, want, 5);
	machine_destroy(&r.m);
	return rc ? rc : pass("string-io");
}

static int test_mmio(int kvm_fd)
{
	/* The guest stores 0xcafef00d at +0, reads +4 (the complement of what
	 * +0 got) and reports it on port 0xe0, then stores 8 bytes at +8. */
	static const struct mmio_store want[] = {
		{ 0, 0xcafef00d, 4 }, { 8, 0x1122334455667788ull, 8 },
	};
	struct rig r;
	int rc = 0;

	if (run_guest("mmio", kvm_fd, true, guest_mmio, guest_mmio_end,
		      OUTCOME_POWEROFF, &r))
		return 1;
	if (r.probe.nmmio != 2) {
		rc = failf("mmio", "%u MMIO stores seen, expected 2", r.probe.nmmio);
		goto out;
	}
	for (unsigned int i = 0; i < 2 && !rc; i++) {
		const struct mmio_store *g = &r.probe.mmio[i];

		if (g->off != want[i].off || g->len != want[i].len ||
		    g->value != want[i].value)
			rc = failf("mmio", "store %u: %u bytes of %#llx at +%llu, expected %u bytes of %#llx at +%llu",
				   i, g->len, (unsigned long long)g->value,
				   (unsigned long long)g->off, want[i].len,
				   (unsigned long long)want[i].value,
				   (unsigned long long)want[i].off);
	}
	if (!rc) {
		static const uint64_t read_back[] = { (uint32_t)~0xcafef00du };

		rc = expect_records("mmio", &r, read_back, 1);
	}
out:
	machine_destroy(&r.m);
	return rc ? rc : pass("mmio");
}

static int test_memory(int kvm_fd)
{
	const uint64_t a = 0x0123456789abcdefull, b = 0xfedcba9876543210ull;
	struct rig r;
	uint64_t got_a, got_b;

	printf("--- kvm/memory\n");
	fflush(stdout);
	if (rig_setup(&r, kvm_fd, true, guest_memory, guest_memory_end) < 0)
		return failf("memory", "setup: %s", r.err.msg);
	guest_mem_write(&r.m.mem, 0x200000, &a, 8);
	guest_mem_write(&r.m.mem, 0x1ff00000, &b, 8);
	if (rig_run(&r) != OUTCOME_POWEROFF) {
		machine_destroy(&r.m);
		return failf("memory", "guest did not power off");
	}
	guest_mem_read(&r.m.mem, 0x200008, &got_a, 8);
	guest_mem_read(&r.m.mem, 0x1ff00008, &got_b, 8);
	machine_destroy(&r.m);
	if (got_a != ~a || got_b != ~b)
		return failf("memory", "guest stores seen by the host: %#llx %#llx",
			     (unsigned long long)got_a, (unsigned long long)got_b);
	return pass("memory");
}

static int test_regs(int kvm_fd)
{
	struct rig r;
	uint64_t cr0, cr4, efer;

	if (run_guest("regs", kvm_fd, true, guest_regs, guest_regs_end,
		      OUTCOME_POWEROFF, &r))
		return 1;
	if (r.probe.nrec != 5) {
		machine_destroy(&r.m);
		return failf("regs", "%u values recorded, expected 5", r.probe.nrec);
	}
	cr0 = r.probe.rec[0];
	cr4 = r.probe.rec[1];
	efer = r.probe.rec[2];
	machine_destroy(&r.m);
	if (!(cr0 & 1) || !(cr0 & (1u << 31)))
		return failf("regs", "CR0 %#llx lacks PE or PG", (unsigned long long)cr0);
	if (!(cr4 & (1u << 5)))
		return failf("regs", "CR4 %#llx lacks PAE", (unsigned long long)cr4);
	if ((efer & 0x500) != 0x500)
		return failf("regs", "EFER %#llx lacks LME|LMA", (unsigned long long)efer);
	if (r.probe.rec[3] != 0x10)
		return failf("regs", "CS is %#llx, the boot protocol wants 0x10",
			     (unsigned long long)r.probe.rec[3]);
	if (r.probe.rec[4] != PARAMS_MARK)
		return failf("regs", "RSI is %#llx, expected %#x",
			     (unsigned long long)r.probe.rec[4], PARAMS_MARK);
	return pass("regs");
}

static int test_cpuid(int kvm_fd)
{
	struct rig r;
	char sig[13] = { 0 };
	uint32_t w[3];

	if (run_guest("cpuid", kvm_fd, true, guest_cpuid, guest_cpuid_end,
		      OUTCOME_POWEROFF, &r))
		return 1;
	if (r.probe.nrec != 5) {
		machine_destroy(&r.m);
		return failf("cpuid", "%u values recorded, expected 5", r.probe.nrec);
	}
	for (int i = 0; i < 3; i++)
		w[i] = (uint32_t)r.probe.rec[i];
	memcpy(sig, w, 12);
	machine_destroy(&r.m);
	if (strcmp(sig, "KVMKVMKVM") != 0)
		return failf("cpuid", "leaf 0x40000000 signature \"%s\"", sig);
	if (!(r.probe.rec[3] & (1u << 31)))
		return failf("cpuid", "leaf 1 ECX lacks the hypervisor bit");
	if ((r.probe.rec[4] >> 24) != 0)
		return failf("cpuid", "leaf 1 APIC ID %llu, expected 0",
			     (unsigned long long)(r.probe.rec[4] >> 24));
	return pass("cpuid");
}

static int test_hlt(int kvm_fd)
{
	struct rig r;
	unsigned int n;

	if (run_guest("hlt", kvm_fd, false, guest_hlt, guest_hlt_end,
		      OUTCOME_POWEROFF, &r))
		return 1;
	n = r.probe.nrec;
	machine_destroy(&r.m);
	if (n != 0)
		return failf("hlt", "guest ran past HLT");
	return pass("hlt");
}

static int test_triple_fault(int kvm_fd)
{
	struct rig r;

	fprintf(stderr, "(kvm/triple-fault: a register dump follows; it is expected)\n");
	if (run_guest("triple-fault", kvm_fd, true, guest_triple_fault,
		      guest_triple_fault_end, OUTCOME_CRASH, &r))
		return 1;
	machine_destroy(&r.m);
	return pass("triple-fault");
}

static uint64_t counter_of(struct rig *r)
{
	uint64_t v = 0;

	guest_mem_read(&r->m.mem, 0x200000, &v, sizeof(v));
	return __atomic_load_n(&v, __ATOMIC_RELAXED);
}

static int wait_counter(struct rig *r, uint64_t above)
{
	for (int i = 0; i < 2000 && counter_of(r) <= above; i++)
		usleep(10000);
	return counter_of(r) > above ? 0 : -1;
}

/* Pause parks the vCPU (the count stops), resume goes on from the same
 * value, and the vCPU's whole state moved into a second machine (with a
 * copy of its RAM) continues the count there: what snapshot/restore and
 * migration do, at the KVM level. */
static int test_pause_and_state(int kvm_fd)
{
	struct rig a, b;
	struct x86_vcpu_caps caps;
	struct x86_msr_list *msrs = calloc(1, sizeof(*msrs));
	struct x86_vcpu_state *st = x86_vcpu_state_new();
	uint64_t c1, c2, c3;
	int rc = 1;

	printf("--- kvm/pause-and-state\n");
	fflush(stdout);
	if (!msrs || !st)
		return failf("pause-and-state", "out of memory");
	if (rig_setup(&a, kvm_fd, true, guest_counter, guest_counter_end) < 0) {
		free(msrs);
		x86_vcpu_state_free(st);
		return failf("pause-and-state", "setup: %s", a.err.msg);
	}
	if (machine_start(&a.m, &a.err) < 0 || wait_counter(&a, 100) < 0) {
		failf("pause-and-state", "the counter never ran (%llu)",
		      (unsigned long long)counter_of(&a));
		goto out_a;
	}
	if (machine_pause(&a.m) < 0) {
		failf("pause-and-state", "pause failed");
		goto out_a;
	}
	c1 = counter_of(&a);
	usleep(300000);
	c2 = counter_of(&a);
	if (c1 != c2) {
		failf("pause-and-state", "still counting while paused: %llu then %llu",
		      (unsigned long long)c1, (unsigned long long)c2);
		goto out_a;
	}
	x86_vcpu_caps_probe(kvm_fd, a.m.vm_fd, &caps);
	if (x86_msr_list_probe(kvm_fd, a.m.vcpu[0].fd, msrs, &a.err) < 0 ||
	    x86_vcpu_state_get(a.m.vcpu[0].fd, &caps, msrs, st, &a.err) < 0) {
		failf("pause-and-state", "state: %s", a.err.msg);
		goto out_a;
	}
	if (st->regs.rax != c1) {
		failf("pause-and-state", "RAX %llu, the count in RAM %llu",
		      (unsigned long long)st->regs.rax, (unsigned long long)c1);
		goto out_a;
	}
	machine_resume(&a.m);
	if (wait_counter(&a, c1 + 100) < 0) {
		failf("pause-and-state", "no count after resume (%llu)",
		      (unsigned long long)counter_of(&a));
		goto out_a;
	}
	machine_stop(&a.m, OUTCOME_SIGNAL);
	machine_join(&a.m);

	/* A second machine: the RAM as it was at the pause, the vCPU state. */
	if (rig_setup(&b, kvm_fd, true, guest_counter, guest_counter_end) < 0) {
		failf("pause-and-state", "setup 2: %s", b.err.msg);
		goto out_a;
	}
	guest_mem_write(&b.m.mem, 0x200000, &c1, sizeof(c1));
	if (x86_vcpu_state_set(b.m.vcpu[0].fd, &caps, st, &b.err) < 0) {
		failf("pause-and-state", "state into a new machine: %s", b.err.msg);
		goto out_b;
	}
	if (machine_start(&b.m, &b.err) < 0 || wait_counter(&b, c1 + 100) < 0) {
		failf("pause-and-state", "the moved vCPU did not count on (%llu, from %llu)",
		      (unsigned long long)counter_of(&b), (unsigned long long)c1);
		goto out_b;
	}
	machine_stop(&b.m, OUTCOME_SIGNAL);
	machine_join(&b.m);
	c3 = counter_of(&b);
	/* It went on from c1, not from 0: the state moved, not just the RAM. */
	rc = c3 > c1 ? 0 : failf("pause-and-state", "count %llu after the move",
				   (unsigned long long)c3);
out_b:
	machine_stop(&b.m, OUTCOME_SIGNAL);
	machine_join(&b.m);
	machine_destroy(&b.m);
out_a:
	machine_stop(&a.m, OUTCOME_SIGNAL);
	machine_join(&a.m);
	machine_destroy(&a.m);
	free(msrs);
	x86_vcpu_state_free(st);
	return rc ? 1 : pass("pause-and-state");
}

static uint64_t range_accesses(const struct io_bus *bus, const char *name)
{
	for (unsigned int i = 0; i < bus->nr; i++)
		if (!strcmp(bus->range[i].name, name))
			return atomic_load(&bus->range[i].accesses);
	return UINT64_MAX;
}

/* NAME's value in "NAME VALUE UNIT" lines, or UINT64_MAX. */
static uint64_t stat_value(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, name, n) && l[n] == ' ')
			return strtoull(l + n + 1, NULL, 10);
	return UINT64_MAX;
}

/* Exit accounting against a guest that makes a known number of exits:
 * ringvm's per-vCPU and per-device counters, and KVM's own. */
static int test_exit_accounting(int kvm_fd)
{
	const char *name = "exit-accounting";
	struct rig r;
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	struct vcpu_stats *vs;
	uint64_t kio, kmmio;
	int rc = 0;

	if (run_guest(name, kvm_fd, true, guest_exits, guest_exits_end,
		      OUTCOME_POWEROFF, &r))
		return 1;
	vs = &r.m.vcpu[0].stats;
	m = open_memstream(&text, &len);
	if (!m || kvm_stats_print_fd(r.m.vcpu[0].fd, "kvm", m) <= 0) {
		if (m)
			fclose(m);
		free(text);
		machine_destroy(&r.m);
		return failf(name, "no KVM statistics for the vCPU (KVM_GET_STATS_FD)");
	}
	fclose(m);
	kio = stat_value(text, "kvm_io_exits");
	kmmio = stat_value(text, "kvm_mmio_exits");
	if (atomic_load(&vs->io) != 1001 || atomic_load(&vs->mmio) != 300 ||
	    range_accesses(&r.m.pio, "probe-in") != 1000 ||
	    range_accesses(&r.m.pio, "acpi-pm") != 1 ||
	    range_accesses(&r.m.mmio, "probe-mmio") != 300 ||
	    kio != 1001 || kmmio != 300)
		rc = failf(name, "vCPU io %llu mmio %llu (want 1001, 300); devices probe-in %llu acpi-pm %llu probe-mmio %llu (want 1000, 1, 300); KVM io_exits %llu mmio_exits %llu (want 1001, 300)",
			   (unsigned long long)atomic_load(&vs->io),
			   (unsigned long long)atomic_load(&vs->mmio),
			   (unsigned long long)range_accesses(&r.m.pio, "probe-in"),
			   (unsigned long long)range_accesses(&r.m.pio, "acpi-pm"),
			   (unsigned long long)range_accesses(&r.m.mmio, "probe-mmio"),
			   (unsigned long long)kio, (unsigned long long)kmmio);
	free(text);
	machine_destroy(&r.m);
	return rc ? rc : pass("exit-accounting");
}

/* ringvm's threads under their seccomp filters allocate and free the way
 * device and vCPU threads do (glibc's static malloc included): many
 * threads, so malloc needs more arenas than it first sizes for, and
 * blocks big enough that freeing them would shrink a thread's heap. Each
 * of those once opened a file behind free() (vm/sandbox.c). In a child:
 * the filters stay there. */
static void *malloc_worker(void *arg)
{
	struct rv_err err;

	if (sandbox_enter((uintptr_t)arg % 2 ? SANDBOX_IO : SANDBOX_VCPU,
			  &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		_exit(3);
	}
	for (int round = 0; round < 20; round++) {
		void *p[24];

		for (int i = 0; i < 24; i++) {
			p[i] = malloc(100 << 10);
			if (!p[i])
				_exit(4);
			memset(p[i], round, 100 << 10);
		}
		for (int i = 23; i >= 0; i--)
			free(p[i]);
	}
	return NULL;
}

static int test_sandbox_malloc(void)
{
	int ws, n = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return failf("sandbox-malloc", "fork: %s", strerror(errno));
	if (pid == 0) {
		pthread_t t[32];
		struct rv_err err;

		if (sandbox_enter(SANDBOX_CONTROL, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			_exit(3);
		}
		for (uintptr_t i = 0; i < 32; i++)
			if (pthread_create(&t[i], NULL, malloc_worker, (void *)i) == 0)
				n++;
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		_exit(n == 32 ? 0 : 5);
	}
	if (waitpid(pid, &ws, 0) != pid)
		return failf("sandbox-malloc", "waitpid: %s", strerror(errno));
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return failf("sandbox-malloc", "the child ended with %s %d (159: a denied call, named above)",
			     WIFEXITED(ws) ? "status" : "signal",
			     WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
	return pass("sandbox-malloc");
}

int main(void)
{
	struct rv_err err;
	int kvm_fd = kvm_open("/dev/kvm", &err);
	int failed = 0;

	if (kvm_fd < 0) {
		printf("FAIL kvm/open: %s\n", err.msg);
		return 1;
	}
	printf("kvm tier: backend %s\n",
	       kvm_backend_name(kvm_backend_detect("/sys/module", "/proc/cpuinfo")));
	failed += test_pio(kvm_fd);
	failed += test_string_io(kvm_fd);
	failed += test_mmio(kvm_fd);
	failed += test_memory(kvm_fd);
	failed += test_regs(kvm_fd);
	failed += test_cpuid(kvm_fd);
	failed += test_hlt(kvm_fd);
	failed += test_triple_fault(kvm_fd);
	failed += test_pause_and_state(kvm_fd);
	failed += test_exit_accounting(kvm_fd);
	failed += test_sandbox_malloc();
	close(kvm_fd);
	return failed ? 1 : 0;
}
