/* x86 vCPU and VM state through the KVM API (Documentation/virt/kvm/api.rst):
 * see vcpu_state.h for what is covered and in which order it goes back. */
#include "arch/x86/vcpu_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC          0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_KVM_ASYNC_PF_EN   0x4b564d02
#define MSR_KVM_ASYNC_PF_INT  0x4b564d06

#define VCPU_SECTION_VERSION 1
#define VM_SECTION_VERSION   1

/* kvm_msrs with room for a whole list. */
struct msr_buf {
	struct kvm_msrs head;
	struct kvm_msr_entry entry[X86_STATE_MAX_MSRS];
};

/* Write order: the TSC before anything computed from it (TSC_ADJUST,
 * the deadline); the deadline after the LAPIC (x86_vcpu_state_set does the
 * LAPIC first); the async-PF vector before async PF is enabled with it. */
static int msr_rank(uint32_t index)
{
	switch (index) {
	case MSR_IA32_TSC:
		return 0;
	case MSR_KVM_ASYNC_PF_INT:
		return 1;
	case MSR_IA32_TSC_DEADLINE:
	case MSR_KVM_ASYNC_PF_EN:
		return 3;
	default:
		return 2;
	}
}

static void sort_msrs(uint32_t *idx, unsigned int n)
{
	/* Stable insertion sort by rank: n is a few hundred at most. */
	for (unsigned int i = 1; i < n; i++) {
		uint32_t v = idx[i];
		unsigned int j = i;

		while (j > 0 && msr_rank(idx[j - 1]) > msr_rank(v)) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

int x86_msr_list_probe(int kvm_fd, int vcpu_fd, struct x86_msr_list *l,
		       struct rv_err *err)
{
	struct {
		struct kvm_msr_list head;
		uint32_t index[X86_STATE_MAX_MSRS];
	} list;
	struct msr_buf *buf;
	unsigned int n = 0;

	memset(&list, 0, sizeof(list));
	list.head.nmsrs = X86_STATE_MAX_MSRS;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return rv_fail_errno(err, "KVM_GET_MSR_INDEX_LIST");
	if (list.head.nmsrs > X86_STATE_MAX_MSRS)
		return rv_fail(err, "KVM lists %u MSRs to save (ringvm takes %d)",
			       list.head.nmsrs, X86_STATE_MAX_MSRS);
	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return rv_fail(err, "out of memory for the MSR list");
	/* KVM_GET_MSRS stops at the first MSR it refuses: drop that one and
	 * go on from the next, so one pass costs one ioctl per refusal. */
	for (unsigned int i = 0; i < list.head.nmsrs;) {
		unsigned int m = list.head.nmsrs - i;
		int r;

		buf->head.nmsrs = m;
		for (unsigned int j = 0; j < m; j++)
			buf->entry[j] = (struct kvm_msr_entry){
				.index = list.index[i + j] };
		r = ioctl(vcpu_fd, KVM_GET_MSRS, buf);
		if (r < 0) {
			free(buf);
			return rv_fail_errno(err, "KVM_GET_MSRS");
		}
		for (int j = 0; j < r; j++)
			l->index[n++] = list.index[i + (unsigned int)j];
		i += (unsigned int)r + 1;   /* skip the refused one */
	}
	free(buf);
	l->n = n;
	sort_msrs(l->index, n);
	return 0;
}

void x86_vcpu_caps_probe(int kvm_fd, int vm_fd, struct x86_vcpu_caps *c)
{
	int x2 = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	memset(c, 0, sizeof(*c));
	c->xsave2 = x2 > 0;
	c->xsave_size = x2 > (int)sizeof(struct kvm_xsave) ?
			(uint32_t)x2 : (uint32_t)sizeof(struct kvm_xsave);
	c->sregs2 = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0;
	c->tsc_control = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
			       KVM_CAP_TSC_CONTROL) > 0;
}

struct x86_vcpu_state *x86_vcpu_state_new(void)
{
	return calloc(1, sizeof(struct x86_vcpu_state));
}

void x86_vcpu_state_free(struct x86_vcpu_state *s)
{
	if (!s)
		return;
	free(s->xsave);
	free(s);
}

static int get_xsave(int fd, const struct x86_vcpu_caps *caps,
		     struct x86_vcpu_state *s, struct rv_err *err)
{
	free(s->xsave);
	s->xsave = calloc(1, caps->xsave_size);
	if (!s->xsave)
		return rv_fail(err, "out of memory for the XSAVE area");
	s->xsave_size = caps->xsave_size;
	if (ioctl(fd, caps->xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		  s->xsave) < 0)
		return rv_fail_errno(err, "KVM_GET_XSAVE");
	return 0;
}

int x86_vcpu_state_get(int fd, const struct x86_vcpu_caps *caps,
		       const struct x86_msr_list *msrs,
		       struct x86_vcpu_state *s, struct rv_err *err)
{
	struct msr_buf *buf;
	int r;

	if (ioctl(fd, KVM_GET_REGS, &s->regs) < 0)
		return rv_fail_errno(err, "KVM_GET_REGS");
	s->has_sregs2 = caps->sregs2;
	if (caps->sregs2 ? ioctl(fd, KVM_GET_SREGS2, &s->sregs2) < 0 :
			   ioctl(fd, KVM_GET_SREGS, &s->sregs) < 0)
		return rv_fail_errno(err, "KVM_GET_SREGS");
	if (get_xsave(fd, caps, s, err) < 0)
		return -1;
	if (ioctl(fd, KVM_GET_XCRS, &s->xcrs) < 0)
		return rv_fail_errno(err, "KVM_GET_XCRS");
	if (ioctl(fd, KVM_GET_LAPIC, &s->lapic) < 0)
		return rv_fail_errno(err, "KVM_GET_LAPIC");
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return rv_fail_errno(err, "KVM_GET_VCPU_EVENTS");
	if (ioctl(fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0)
		return rv_fail_errno(err, "KVM_GET_DEBUGREGS");
	if (ioctl(fd, KVM_GET_MP_STATE, &s->mp) < 0)
		return rv_fail_errno(err, "KVM_GET_MP_STATE");
	r = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	if (r <= 0)
		return rv_fail_errno(err, "KVM_GET_TSC_KHZ");
	s->tsc_khz = (uint32_t)r;

	s->cpuid.head.nent = X86_CPUID_MAX_ENTRIES;
	if (ioctl(fd, KVM_GET_CPUID2, &s->cpuid.head) < 0)
		return rv_fail_errno(err, "KVM_GET_CPUID2");

	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return rv_fail(err, "out of memory for MSRs");
	buf->head.nmsrs = msrs->n;
	for (unsigned int i = 0; i < msrs->n; i++)
		buf->entry[i].index = msrs->index[i];
	r = ioctl(fd, KVM_GET_MSRS, buf);
	if (r < 0 || (unsigned int)r != msrs->n) {
		int e = errno;

		free(buf);
		errno = e;
		if (r < 0)
			return rv_fail_errno(err, "KVM_GET_MSRS");
		return rv_fail(err, "KVM_GET_MSRS: MSR %#x no longer readable",
			       msrs->index[r]);
	}
	s->nmsrs = msrs->n;
	memcpy(s->msrs, buf->entry, msrs->n * sizeof(buf->entry[0]));
	free(buf);
	return 0;
}

static int set_msrs(int fd, const struct x86_vcpu_state *s,
		    struct rv_err *err)
{
	struct msr_buf *buf = calloc(1, sizeof(*buf));
	int r;

	if (!buf)
		return rv_fail(err, "out of memory for MSRs");
	buf->head.nmsrs = s->nmsrs;
	memcpy(buf->entry, s->msrs, s->nmsrs * sizeof(s->msrs[0]));
	r = ioctl(fd, KVM_SET_MSRS, buf);
	free(buf);
	if (r < 0)
		return rv_fail_errno(err, "KVM_SET_MSRS");
	if ((unsigned int)r != s->nmsrs)
		return rv_fail(err, "this host's KVM refused MSR %#x = %#llx",
			       s->msrs[r].index,
			       (unsigned long long)s->msrs[r].data);
	return 0;
}

static int set_xsave(int fd, const struct x86_vcpu_caps *caps,
		     const struct x86_vcpu_state *s, struct rv_err *err)
{
	uint8_t *buf;
	int rc = 0;

	/* A larger saved area holds components this host cannot restore. */
	if (s->xsave_size > caps->xsave_size)
		return rv_fail(err, "the snapshot's XSAVE area is %u bytes, this host's KVM takes %u",
			       s->xsave_size, caps->xsave_size);
	buf = calloc(1, caps->xsave_size);
	if (!buf)
		return rv_fail(err, "out of memory for the XSAVE area");
	memcpy(buf, s->xsave, s->xsave_size);
	if (ioctl(fd, KVM_SET_XSAVE, buf) < 0)
		rc = rv_fail_errno(err, "KVM_SET_XSAVE");
	free(buf);
	return rc;
}

int x86_vcpu_state_set(int fd, const struct x86_vcpu_caps *caps,
		       const struct x86_vcpu_state *s, struct rv_err *err)
{
	struct kvm_vcpu_events ev = s->events;
	int khz;

	if (ioctl(fd, KVM_SET_CPUID2, &s->cpuid.head) < 0)
		return rv_fail_errno(err, "KVM_SET_CPUID2");
	/* Keep the guest's TSC rate; kvm-clock copes with a change, but a
	 * TSC-deadline timer programmed with the old rate would not. */
	khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0 && (uint32_t)khz != s->tsc_khz) {
		if (!caps->tsc_control ||
		    ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0)
			fprintf(stderr, "ringvm: warning: the guest's TSC ran at %u kHz, this host's at %d kHz and KVM cannot scale it; its timers may drift\n",
				s->tsc_khz, khz);
	}
	if (s->has_sregs2) {
		if (!caps->sregs2)
			return rv_fail(err, "the snapshot has SREGS2 state, this host's KVM has no KVM_SET_SREGS2");
		if (ioctl(fd, KVM_SET_SREGS2, &s->sregs2) < 0)
			return rv_fail_errno(err, "KVM_SET_SREGS2");
	} else if (ioctl(fd, KVM_SET_SREGS, &s->sregs) < 0) {
		return rv_fail_errno(err, "KVM_SET_SREGS");
	}
	if (ioctl(fd, KVM_SET_REGS, &s->regs) < 0)
		return rv_fail_errno(err, "KVM_SET_REGS");
	if (set_xsave(fd, caps, s, err) < 0)
		return -1;
	if (s->xcrs.nr_xcrs && ioctl(fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return rv_fail_errno(err, "KVM_SET_XCRS");
	if (ioctl(fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return rv_fail_errno(err, "KVM_SET_LAPIC");
	if (set_msrs(fd, s, err) < 0)
		return -1;
	if (ioctl(fd, KVM_SET_DEBUGREGS, &s->debugregs) < 0)
		return rv_fail_errno(err, "KVM_SET_DEBUGREGS");
	/* GET reports which fields it filled; NMI and SIPI state are always
	 * there but only applied when asked for. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
		    KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return rv_fail_errno(err, "KVM_SET_VCPU_EVENTS");
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp) < 0)
		return rv_fail_errno(err, "KVM_SET_MP_STATE");
	return 0;
}

/* ---- the state file ---- */

/* A KVM uapi struct as its length and bytes: the layout is fixed by the
 * kernel's ABI; the length catches a reader built against another one. */
#define PUT_RAW(w, v) do { state_put_u32(w, (uint32_t)sizeof(v)); \
			   state_put_bytes(w, &(v), sizeof(v)); } while (0)

static void get_raw(struct state_cursor *c, void *dst, size_t n,
		    const char *what)
{
	uint32_t len = state_get_u32(c);

	if (len != n) {
		char why[80];

		snprintf(why, sizeof(why), "%s is %u bytes, expected %zu",
			 what, len, n);
		state_cursor_reject(c, why);
		return;
	}
	state_get_bytes(c, dst, n);
}

#define GET_RAW(c, v, what) get_raw(c, &(v), sizeof(v), what)

void x86_vcpu_state_save(struct state_writer *w, unsigned int index,
			 const struct x86_vcpu_state *s)
{
	char name[STATE_NAME_MAX + 1];

	snprintf(name, sizeof(name), "vcpu.%u", index);
	state_begin(w, name, VCPU_SECTION_VERSION);
	PUT_RAW(w, s->regs);
	state_put_bool(w, s->has_sregs2);
	if (s->has_sregs2)
		PUT_RAW(w, s->sregs2);
	else
		PUT_RAW(w, s->sregs);
	state_put_u32(w, s->xsave_size);
	state_put_bytes(w, s->xsave, s->xsave_size);
	PUT_RAW(w, s->xcrs);
	PUT_RAW(w, s->lapic);
	PUT_RAW(w, s->events);
	PUT_RAW(w, s->debugregs);
	PUT_RAW(w, s->mp);
	state_put_u32(w, s->tsc_khz);
	state_put_u32(w, s->nmsrs);
	for (unsigned int i = 0; i < s->nmsrs; i++) {
		state_put_u32(w, s->msrs[i].index);
		state_put_u64(w, s->msrs[i].data);
	}
	state_put_u32(w, s->cpuid.head.nent);
	state_put_bytes(w, s->cpuid.entry,
			s->cpuid.head.nent * sizeof(s->cpuid.entry[0]));
	state_end(w);
}

int x86_vcpu_state_load(const struct state_reader *r, unsigned int index,
			struct x86_vcpu_state *s, struct rv_err *err)
{
	char name[STATE_NAME_MAX + 1];
	struct state_cursor c;
	uint32_t n;

	snprintf(name, sizeof(name), "vcpu.%u", index);
	if (state_section(r, name, VCPU_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	GET_RAW(&c, s->regs, "kvm_regs");
	s->has_sregs2 = state_get_bool(&c);
	if (s->has_sregs2)
		GET_RAW(&c, s->sregs2, "kvm_sregs2");
	else
		GET_RAW(&c, s->sregs, "kvm_sregs");
	n = state_get_u32(&c);
	/* XSAVE: the legacy 4 KiB area up to what AMX-era hosts use. */
	if (n < sizeof(struct kvm_xsave) || n > (1u << 20)) {
		state_cursor_reject(&c, "XSAVE area size out of range");
	} else {
		free(s->xsave);
		s->xsave = calloc(1, n);
		if (!s->xsave)
			return rv_fail(err, "out of memory for the XSAVE area");
		s->xsave_size = n;
		state_get_bytes(&c, s->xsave, n);
	}
	GET_RAW(&c, s->xcrs, "kvm_xcrs");
	if (s->xcrs.nr_xcrs > KVM_MAX_XCRS)
		state_cursor_reject(&c, "too many XCRs");
	GET_RAW(&c, s->lapic, "kvm_lapic_state");
	GET_RAW(&c, s->events, "kvm_vcpu_events");
	GET_RAW(&c, s->debugregs, "kvm_debugregs");
	GET_RAW(&c, s->mp, "kvm_mp_state");
	s->tsc_khz = state_get_u32(&c);
	if (s->tsc_khz == 0)
		state_cursor_reject(&c, "TSC frequency 0");
	n = state_get_u32(&c);
	if (n > X86_STATE_MAX_MSRS) {
		state_cursor_reject(&c, "too many MSRs");
		n = 0;
	}
	s->nmsrs = n;
	for (unsigned int i = 0; i < n; i++) {
		s->msrs[i] = (struct kvm_msr_entry){ 0 };
		s->msrs[i].index = state_get_u32(&c);
		s->msrs[i].data = state_get_u64(&c);
	}
	n = state_get_u32(&c);
	if (n > X86_CPUID_MAX_ENTRIES) {
		state_cursor_reject(&c, "too many CPUID entries");
		n = 0;
	}
	s->cpuid.head.nent = n;
	state_get_bytes(&c, s->cpuid.entry, n * sizeof(s->cpuid.entry[0]));
	return state_cursor_finish(&c, err);
}

#define CPUID_SECTION_VERSION 1

void x86_cpuid_section_save(struct state_writer *w, const struct x86_cpuid *c)
{
	state_begin(w, "cpuid", CPUID_SECTION_VERSION);
	state_put_u32(w, c->head.nent);
	state_put_bytes(w, c->entry, c->head.nent * sizeof(c->entry[0]));
	state_end(w);
}

int x86_cpuid_section_load(const struct state_reader *r, struct x86_cpuid *c,
			   struct rv_err *err)
{
	struct state_cursor cur;
	uint32_t n;

	if (state_section(r, "cpuid", CPUID_SECTION_VERSION, &cur, NULL,
			  err) < 0)
		return -1;
	n = state_get_u32(&cur);
	if (n > X86_CPUID_MAX_ENTRIES) {
		state_cursor_reject(&cur, "too many CPUID entries");
		n = 0;
	}
	c->head.nent = n;
	state_get_bytes(&cur, c->entry, n * sizeof(c->entry[0]));
	return state_cursor_finish(&cur, err);
}

int x86_vm_state_get(int vm_fd, struct x86_vm_state *s, struct rv_err *err)
{
	memset(s, 0, sizeof(*s));
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm_fd, KVM_GET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm_fd, KVM_GET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm_fd, KVM_GET_IRQCHIP, &s->ioapic) < 0)
		return rv_fail_errno(err, "KVM_GET_IRQCHIP");
	if (ioctl(vm_fd, KVM_GET_PIT2, &s->pit) < 0)
		return rv_fail_errno(err, "KVM_GET_PIT2");
	if (ioctl(vm_fd, KVM_GET_CLOCK, &s->clock) < 0)
		return rv_fail_errno(err, "KVM_GET_CLOCK");
	return 0;
}

int x86_vm_state_set(int vm_fd, const struct x86_vm_state *s,
		     struct rv_err *err)
{
	if (ioctl(vm_fd, KVM_SET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm_fd, KVM_SET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm_fd, KVM_SET_IRQCHIP, &s->ioapic) < 0)
		return rv_fail_errno(err, "KVM_SET_IRQCHIP");
	if (ioctl(vm_fd, KVM_SET_PIT2, &s->pit) < 0)
		return rv_fail_errno(err, "KVM_SET_PIT2");
	return 0;
}

int x86_vm_clock_set(int vm_fd, const struct x86_vm_state *s,
		     struct rv_err *err)
{
	/* Only the clock value: the guest's clock goes on from where it was
	 * saved (the flags GET reported are not inputs). */
	struct kvm_clock_data c = { .clock = s->clock.clock };

	if (ioctl(vm_fd, KVM_SET_CLOCK, &c) < 0)
		return rv_fail_errno(err, "KVM_SET_CLOCK");
	return 0;
}

void x86_vm_state_save(struct state_writer *w, const struct x86_vm_state *s)
{
	state_begin(w, "kvm.vm", VM_SECTION_VERSION);
	PUT_RAW(w, s->pic_master);
	PUT_RAW(w, s->pic_slave);
	PUT_RAW(w, s->ioapic);
	PUT_RAW(w, s->pit);
	PUT_RAW(w, s->clock);
	state_end(w);
}

int x86_vm_state_load(const struct state_reader *r, struct x86_vm_state *s,
		      struct rv_err *err)
{
	struct state_cursor c;

	if (state_section(r, "kvm.vm", VM_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	GET_RAW(&c, s->pic_master, "PIC master");
	GET_RAW(&c, s->pic_slave, "PIC slave");
	GET_RAW(&c, s->ioapic, "IOAPIC");
	GET_RAW(&c, s->pit, "PIT");
	GET_RAW(&c, s->clock, "KVM clock");
	if (s->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    s->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    s->ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
		state_cursor_reject(&c, "irqchip ids do not match");
	return state_cursor_finish(&c, err);
}
