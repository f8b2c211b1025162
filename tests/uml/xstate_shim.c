/*
 * LD_PRELOAD shim for Debian bookworm's linux.uml (6.1) on hosts whose XSAVE
 * area is larger than UML's fixed 832-byte buffer (AVX-512, AMX hosts).
 *
 * UML saves and restores each task's FPU state with PTRACE_{GET,SET}REGSET
 * NT_X86_XSTATE and an 832-byte iovec. GETREGSET truncates quietly, but the
 * host's SETREGSET insists on the whole XSAVE area (fpu_user_cfg.max_size)
 * and fails with EFAULT, so UML dies running its first process with
 * "userspace - ptrace set fp regs failed, errno = 14".
 *
 * The shim widens those two requests to the host's full size. UML passes
 * each task's own register buffer, so the full area is kept per buffer
 * address: the part past UML's 832 bytes (AVX-512 state) follows its task
 * across context switches instead of leaking between tasks that share one
 * host process. Only the x86-64 NT_X86_XSTATE requests are touched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

struct slot {
	void *key;		/* UML's buffer */
	unsigned char *full;	/* the whole XSAVE area for it */
};

static ptrace_fn real_ptrace;
static size_t full_size;	/* 0: not known yet */
static struct slot *slots;
static size_t nslots, used;	/* nslots is a power of two */

static size_t hash(void *p)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v;
}

static struct slot *find(void *key, int create)
{
	size_t i;

	if (create && (used + 1) * 2 > nslots) {
		size_t n = nslots ? nslots * 2 : 256, j;
		struct slot *s = calloc(n, sizeof(*s));

		if (!s)
			return NULL;
		for (j = 0; j < nslots; j++) {
			if (!slots[j].key)
				continue;
			for (i = hash(slots[j].key) & (n - 1); s[i].key;
			     i = (i + 1) & (n - 1))
				;
			s[i] = slots[j];
		}
		free(slots);
		slots = s;
		nslots = n;
	}
	if (!nslots)
		return NULL;
	for (i = hash(key) & (nslots - 1); slots[i].key; i = (i + 1) & (nslots - 1))
		if (slots[i].key == key)
			return &slots[i];
	if (!create)
		return NULL;
	slots[i].full = calloc(1, full_size);
	if (!slots[i].full)
		return NULL;
	slots[i].key = key;
	used++;
	return &slots[i];
}

/* The host's XSAVE size: what GETREGSET reports into an ample buffer. */
static int learn_size(pid_t pid)
{
	static unsigned char probe[65536];
	struct iovec iov = { probe, sizeof(probe) };

	if (real_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) < 0)
		return -1;
	full_size = iov.iov_len;
	return 0;
}

long ptrace(enum __ptrace_request req, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;
	struct iovec *iov, wide;
	struct slot *s;
	long r;

	va_start(ap, req);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (!real_ptrace)
		real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");

	if ((req != PTRACE_GETREGSET && req != PTRACE_SETREGSET) ||
	    (uintptr_t)addr != NT_X86_XSTATE || !data)
		return real_ptrace(req, pid, addr, data);
	if (!full_size && learn_size(pid) < 0)
		return real_ptrace(req, pid, addr, data);
	iov = data;
	if (iov->iov_len >= full_size)
		return real_ptrace(req, pid, addr, data);

	if (req == PTRACE_GETREGSET) {
		s = find(iov->iov_base, 1);
		if (!s)
			return real_ptrace(req, pid, addr, data);
		wide.iov_base = s->full;
		wide.iov_len = full_size;
		r = real_ptrace(req, pid, addr, &wide);
		if (r == 0)
			memcpy(iov->iov_base, s->full, iov->iov_len);
		return r;
	}
	/* SETREGSET: UML's part over the task's last full area (or, for a
	 * buffer never read, over what the host process holds now). */
	s = find(iov->iov_base, 0);
	if (!s) {
		s = find(iov->iov_base, 1);
		if (!s)
			return real_ptrace(req, pid, addr, data);
		wide.iov_base = s->full;
		wide.iov_len = full_size;
		if (real_ptrace(PTRACE_GETREGSET, pid, addr, &wide) < 0)
			return real_ptrace(req, pid, addr, data);
	}
	memcpy(s->full, iov->iov_base, iov->iov_len);
	wide.iov_base = s->full;
	wide.iov_len = full_size;
	return real_ptrace(req, pid, addr, &wide);
}
