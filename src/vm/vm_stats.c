/* --stats: what ringvm measured about itself during a run, as
 * "NAME VALUE UNIT" lines that benchmarks and users can grep. */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vm/kvm_stats.h"
#include "vm/vm.h"
#include "vm/vm_internal.h"
#include "vm/vcpu.h"

/* Guest RAM pages that are resident in the host (mincore), in KiB. */
static uint64_t guest_resident_kib(const struct guest_mem *gm)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[4096];
	uint64_t resident = 0;

	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->region[i];
		uint64_t chunk = (uint64_t)page * sizeof(vec);

		for (uint64_t off = 0; off < r->size; off += chunk) {
			uint64_t len = r->size - off < chunk ? r->size - off : chunk;
			uint64_t pages = (len + (uint64_t)page - 1) / (uint64_t)page;

			if (mincore(r->hva + off, len, vec) < 0)
				continue;
			for (uint64_t p = 0; p < pages; p++)
				resident += vec[p] & 1;
		}
	}
	return resident * (uint64_t)page / 1024;
}

void vm_write_stats(struct vm *vm, FILE *out)
{
	struct rusage ru;
	uint64_t peak = 0, resident = guest_resident_kib(&vm->m.mem);

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		peak = (uint64_t)ru.ru_maxrss;
	fprintf(out, "vmm_peak_rss_kib %llu KiB\n", (unsigned long long)peak);
	fprintf(out, "guest_ram_kib %llu KiB\n",
		(unsigned long long)(vm->m.mem.ram_size / 1024));
	fprintf(out, "guest_resident_kib %llu KiB\n", (unsigned long long)resident);
	fprintf(out, "vmm_rss_overhead_kib %lld KiB\n",
		(long long)peak - (long long)resident);
	for (unsigned int i = 0; i < vm->m.nvcpus; i++) {
		const struct vcpu_stats *s = &vm->m.vcpu[i].stats;

		fprintf(out, "vcpu%u_exits %llu count\n", i, (unsigned long long)atomic_load_explicit(&s->exits, memory_order_relaxed));
		fprintf(out, "vcpu%u_io_exits %llu count\n", i, (unsigned long long)atomic_load_explicit(&s->io, memory_order_relaxed));
		fprintf(out, "vcpu%u_mmio_exits %llu count\n", i, (unsigned long long)atomic_load_explicit(&s->mmio, memory_order_relaxed));
		fprintf(out, "vcpu%u_unclaimed_io %llu count\n", i,
			(unsigned long long)atomic_load_explicit(&s->unclaimed_io,
								 memory_order_relaxed));
		/* --cpu-pin: the host CPU it ran on; -1: not pinned. */
		fprintf(out, "vcpu%u_pinned_cpu %d cpu\n", i,
			vm->m.pin.n ? (int)vm->m.pin.cpu[i] : -1);
	}
	vm_devices_print_stats(vm, out);
	/* Where the exits that reached ringvm went, and KVM's own counters,
	 * which include the exits that never left the kernel. */
	io_bus_print_stats(&vm->m.pio, "pio", out);
	io_bus_print_stats(&vm->m.mmio, "mmio", out);
	kvm_stats_print_fd(vm->m.vm_fd, "kvm_vm", out);
	for (unsigned int i = 0; i < vm->m.nvcpus; i++) {
		char prefix[32];

		if (vm->m.vcpu[i].stats_fd < 0)
			continue;
		snprintf(prefix, sizeof(prefix), "kvm_vcpu%u", i);
		kvm_stats_print(vm->m.vcpu[i].stats_fd, prefix, out);
	}
}
