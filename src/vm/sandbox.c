/* seccomp allow-lists per thread kind (see sandbox.h).
 *
 * Filters stack: the control list goes on every thread first (TSYNC), and
 * an I/O or vCPU thread then adds its own, narrower one, so such a thread
 * may make only the calls both allow. Arguments are checked where that is
 * cheap and decisive: clone only for threads (no new process), clone3
 * answered ENOSYS so glibc falls back to clone, prctl only for a thread's
 * name and no_new_privs. ioctl only for the requests ringvm makes: KVM's
 * and vhost's families, the TUN and terminal calls by number, a block
 * device's size (so not TIOCSTI, not another driver's requests). */
#include "vm/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "syscall_names.h"
#include "util/event_loop.h"

#define SIGSYS_EXIT (128 + SIGSYS)

/* Every thread: memory, threads, waiting, signals, the fds it holds. */
static const int common_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(futex),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(sigaltstack), SCMP_SYS(tgkill), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(gettid),
	SCMP_SYS(getpid), SCMP_SYS(rseq), SCMP_SYS(set_robust_list),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(eventfd2), SCMP_SYS(getrandom),
};

/* Device I/O: the back ends' data path. */
static const int io_calls[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate),
	SCMP_SYS(io_uring_enter),
};

/* Control: building a VM, the API, snapshots, migration, stats. */
static const int control_calls[] = {
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(rmdir), SCMP_SYS(mkdir),
	SCMP_SYS(chmod), SCMP_SYS(fchmod), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(ftruncate),
	SCMP_SYS(statfs), SCMP_SYS(fstatfs), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat), SCMP_SYS(getdents64), SCMP_SYS(getcwd),
	SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(pipe2),
	SCMP_SYS(socket), SCMP_SYS(bind), SCMP_SYS(listen),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(connect),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(shutdown), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(kill), SCMP_SYS(rt_sigaction),
	SCMP_SYS(signalfd4), SCMP_SYS(getrusage), SCMP_SYS(mincore),
	SCMP_SYS(sysinfo), SCMP_SYS(uname), SCMP_SYS(prlimit64),
	SCMP_SYS(memfd_create), SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_register), SCMP_SYS(timerfd_create),
	SCMP_SYS(timerfd_settime), SCMP_SYS(msync),
	SCMP_SYS(sched_setaffinity), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid),
	/* Threads that narrow their filter after this one (sandbox_enter). */
	SCMP_SYS(seccomp),
};

/* A vhost-user back-end process (ringvm backend): its image and listening
 * socket are open before the filter goes on; it accepts frontends, reads
 * their messages (guest memory and eventfds come as fds) and maps what
 * they share. */
static const int backend_calls[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(shutdown), SCMP_SYS(fcntl), SCMP_SYS(getrusage),
	SCMP_SYS(unlink), SCMP_SYS(rt_sigaction), SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate), SCMP_SYS(seccomp),
};

/* A vhost-user device's I/O thread, on top of io_calls. */
static const int vhost_io_calls[] = {
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(connect),
};

/* ioctl families ringvm uses whole (the type byte of the request). */
static const unsigned long ioctl_types[] = {
	KVMIO,            /* /dev/kvm, the VM and vCPU fds */
	VHOST_VIRTIO,     /* /dev/vhost-net */
};

/* Single requests of families ringvm uses only in part. */
static const unsigned long ioctl_requests[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,     /* the terminal */
	TUNSETIFF, TUNGETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, TUNGETFEATURES,
	TUNSETQUEUE,
	BLKGETSIZE64,                                     /* a disk's size */
};

static int allow_ioctls(scmp_filter_ctx ctx)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(ioctl_types) / sizeof(ioctl_types[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, _IOC_TYPEMASK << _IOC_TYPESHIFT,
					      ioctl_types[i] << _IOC_TYPESHIFT));
	for (size_t i = 0; !rc && i < sizeof(ioctl_requests) / sizeof(ioctl_requests[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, ioctl_requests[i]));
	return rc;
}

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	switch (kind) {
	case SANDBOX_CONTROL:
		return "control";
	case SANDBOX_IO:
		return "device I/O";
	case SANDBOX_VCPU:
		return "vCPU";
	case SANDBOX_BACKEND:
		return "back end";
	case SANDBOX_IO_VHOST:
		return "vhost-user device I/O";
	}
	return "?";
}

/* Async-signal-safe pieces of the one line the handler writes. */
static size_t put(char *buf, size_t len, size_t cap, const char *s)
{
	while (*s && len + 1 < cap)
		buf[len++] = *s++;
	return len;
}

static size_t put_uint(char *buf, size_t len, size_t cap, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(digits));
	while (n && len + 1 < cap)
		buf[len++] = digits[--n];
	return len;
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char line[256], comm[17] = { 0 };
	size_t len = 0, cap = sizeof(line);
	unsigned long nr = (unsigned long)si->si_syscall;
	const char *name = nr < sizeof(syscall_names) / sizeof(syscall_names[0]) &&
			   syscall_names[nr] ? syscall_names[nr] : "?";

	(void)sig;
	(void)uctx;
	if (prctl(PR_GET_NAME, comm, 0, 0, 0) < 0)
		strcpy(comm, "?");
	len = put(line, len, cap, "ringvm: seccomp: thread ");
	len = put(line, len, cap, comm);
	len = put(line, len, cap, " made a system call its allow-list denies: ");
	len = put(line, len, cap, name);
	len = put(line, len, cap, " (");
	len = put_uint(line, len, cap, nr);
	len = put(line, len, cap, "); stopping (--seccomp off runs without the filters)\n");
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nothing more to say; the exit status still tells. */
	}
	_exit(SIGSYS_EXIT);
}

static int set_handler(struct rv_err *err)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return rv_fail_errno(err, "seccomp: cannot set the SIGSYS handler");
	return 0;
}

static int allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The kinds installed first, on every thread of the process. */
static bool base_kind(enum sandbox_kind kind)
{
	return kind == SANDBOX_CONTROL || kind == SANDBOX_BACKEND;
}

static int build(scmp_filter_ctx ctx, enum sandbox_kind kind)
{
	int rc = allow_all(ctx, common_calls,
			   sizeof(common_calls) / sizeof(common_calls[0]));

	if (!rc)
		rc = allow_ioctls(ctx);
	if (!rc && kind != SANDBOX_VCPU)
		rc = allow_all(ctx, io_calls, sizeof(io_calls) / sizeof(io_calls[0]));
	if (!rc && kind == SANDBOX_CONTROL)
		rc = allow_all(ctx, control_calls,
			       sizeof(control_calls) / sizeof(control_calls[0]));
	if (!rc && kind == SANDBOX_BACKEND)
		rc = allow_all(ctx, backend_calls,
			       sizeof(backend_calls) / sizeof(backend_calls[0]));
	if (!rc && kind == SANDBOX_IO_VHOST)
		rc = allow_all(ctx, vhost_io_calls,
			       sizeof(vhost_io_calls) / sizeof(vhost_io_calls[0]));
	if (!rc && kind == SANDBOX_IO_VHOST)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* Threads only: a new process would escape the filters' purpose. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
					      CLONE_THREAD));
	/* clone3's flags sit in memory a filter cannot read. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      SCMP_SYS(clone3), 0);
	/* The SIGSYS handler names the thread; libseccomp sets
	 * no_new_privs before each filter it loads. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
	if (!rc && base_kind(kind))
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS));
	/* pthread_setname_np on the calling thread. */
	if (!rc && base_kind(kind))
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (!rc && base_kind(kind))
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	return rc;
}

int sandbox_enter(enum sandbox_kind kind, struct rv_err *err)
{
	scmp_filter_ctx ctx;
	int rc;

	if (set_handler(err) < 0)
		return -1;
	/* glibc's malloc opens files behind free() and malloc() the first
	 * time it shrinks a thread's heap (/proc/sys/vm/overcommit_memory)
	 * or needs a ninth arena (/sys/devices/system/cpu/online): denied
	 * openat calls on a device or vCPU thread. So the arenas' limit is
	 * fixed now, to glibc's own default, and heaps are not trimmed from
	 * here on (what setup freed was trimmed already; big buffers are
	 * mmap'd chunks, unmapped on free either way). */
	if (base_kind(kind)) {
		mallopt(M_ARENA_MAX, 8 * get_nprocs());
		mallopt(M_TRIM_THRESHOLD, INT_MAX);
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return rv_fail(err, "seccomp: cannot create a filter");
	/* Every KVM_RUN and every device doorbell passes the filters: a
	 * binary tree over the syscall numbers instead of a chain, with
	 * ioctl, the hot call, first. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!rc)
		rc = seccomp_syscall_priority(ctx, SCMP_SYS(ioctl), 255);
	if (!rc)
		rc = build(ctx, kind);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		return rv_fail_errno(err, "seccomp: cannot install the %s filter",
				     sandbox_kind_name(kind));
	}
	return 0;
}

struct loop_call {
	enum sandbox_kind kind;
	struct rv_err err;
	int rc;
};

static void enter_on_loop(void *arg)
{
	struct loop_call *c = arg;

	c->rc = sandbox_enter(c->kind, &c->err);
}

int sandbox_enter_loop(struct ev_loop *loop, enum sandbox_kind kind,
		       struct rv_err *err)
{
	struct loop_call c = { .kind = kind, .rc = -1 };

	ev_loop_call(loop, enter_on_loop, &c);
	if (c.rc < 0)
		return rv_fail(err, "%s", c.err.msg);
	return 0;
}
