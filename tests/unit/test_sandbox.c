/* The seccomp allow-lists (vm/sandbox.h), each in a child process: what a
 * kind allows still works (threads, files, sockets where allowed), what it
 * denies ends the process with status 159 and one line naming the call
 * and the thread, and the control filter reaches threads started before
 * it. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/sigmask.h"
#include "vm/sandbox.h"

#define DENIED_STATUS (128 + SIGSYS)

struct outcome {
	int status;       /* exit status, or -signal */
	char err[512];    /* what the child wrote on stderr */
};

/* Runs fn in a child with stderr captured; returns how it ended. */
static void run_child(void (*fn)(void), struct outcome *o)
{
	int p[2], ws;
	ssize_t n, len = 0;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], o->err + len, sizeof(o->err) - 1 - (size_t)len)) > 0)
		len += n;
	close(p[0]);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	o->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -WTERMSIG(ws);
}

/* The thread takes NAME (which a denial names) and the filter of KIND. */
static void enter(enum sandbox_kind kind, const char *name)
{
	struct rv_err err;

	prctl(PR_SET_NAME, name, 0, 0, 0);
	if (sandbox_enter(kind, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		_exit(3);
	}
}

static void *nothing(void *arg)
{
	return arg;
}

/* A new thread, a file, a socket: what the control thread needs. */
static void control_allowed(void)
{
	pthread_t t;
	int fd, s;

	enter(SANDBOX_CONTROL, "rv-control");
	if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL))
		_exit(4);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || s < 0)
		_exit(5);
	close(fd);
	close(s);
	_exit(0);
}

static void control_denies_exec(void)
{
	char *const argv[] = { "true", NULL };

	enter(SANDBOX_CONTROL, "rv-control");
	execv("/bin/true", argv);
	_exit(6);
}

static void test_control(void **state)
{
	struct outcome o;

	(void)state;
	run_child(control_allowed, &o);
	assert_int_equal(o.status, 0);
	assert_string_equal(o.err, "");

	run_child(control_denies_exec, &o);
	assert_int_equal(o.status, DENIED_STATUS);
	assert_non_null(strstr(o.err, "ringvm: seccomp: thread rv-control made a system call its allow-list denies: execve (59)"));
	/* One line. */
	assert_ptr_equal(strchr(o.err, '\n'), o.err + strlen(o.err) - 1);
}

/* Device I/O: the fds it holds and fsync, but no new file. */
static void io_fsync_then_open(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	enter(SANDBOX_CONTROL, "rv-main");
	enter(SANDBOX_IO, "virtio-blk0");
	if (write(fd, "x", 1) != 1)
		_exit(4);
	fdatasync(fd); /* allowed: /dev/null's EINVAL is its answer */
	open("/dev/null", O_RDONLY | O_CLOEXEC);
	_exit(6);
}

static void io_denies_socket(void)
{
	enter(SANDBOX_CONTROL, "rv-main");
	enter(SANDBOX_IO, "virtio-net0");
	socket(AF_INET, SOCK_DGRAM, 0);
	_exit(6);
}

static void test_io(void **state)
{
	struct outcome o;

	(void)state;
	run_child(io_fsync_then_open, &o);
	assert_int_equal(o.status, DENIED_STATUS);
	assert_non_null(strstr(o.err, "thread virtio-blk0 made a system call its allow-list denies: openat (257)"));

	run_child(io_denies_socket, &o);
	assert_int_equal(o.status, DENIED_STATUS);
	assert_non_null(strstr(o.err, "virtio-net0 made a system call its allow-list denies: socket (41)"));
}

/* A vCPU thread: no back-end I/O (fsync), no files. */
static void vcpu_denies_fsync(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	enter(SANDBOX_CONTROL, "rv-main");
	enter(SANDBOX_VCPU, "vcpu0");
	if (write(fd, "x", 1) != 1)
		_exit(4);
	fsync(fd);
	_exit(6);
}

/* ioctl: KVM's family and the terminal calls ringvm makes pass (on
 * /dev/null they fail with ENOTTY, which is the file's answer), but not
 * a request outside them: TIOCSTI would type into ringvm's terminal. */
static void vcpu_ioctls(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct winsize ws;
	char c = 'x';

	enter(SANDBOX_CONTROL, "rv-main");
	enter(SANDBOX_VCPU, "vcpu1");
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != -1 ||
	    ioctl(fd, KVM_RUN, 0) != -1 || ioctl(fd, TIOCGWINSZ, &ws) != -1)
		_exit(4);
	ioctl(fd, TIOCSTI, &c);
	_exit(6);
}

static void test_vcpu(void **state)
{
	struct outcome o;

	(void)state;
	run_child(vcpu_denies_fsync, &o);
	assert_int_equal(o.status, DENIED_STATUS);
	assert_non_null(strstr(o.err, "thread vcpu0 made a system call its allow-list denies: fsync (74)"));
	run_child(vcpu_ioctls, &o);
	assert_int_equal(o.status, DENIED_STATUS);
	assert_non_null(strstr(o.err, "thread vcpu1 made a system call its allow-list denies: ioctl (16)"));
}

/* The control filter reaches a thread that existed before it, even one
 * that blocks every signal it can. */
struct early {
	int go[2];
};

static void *early_thread(void *arg)
{
	struct early *e = arg;
	sigset_t all;
	char c;
	char *const argv[] = { "true", NULL };

	sigfill_but_sigsys(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_NAME, "rv-early", 0, 0, 0);
	if (read(e->go[0], &c, 1) != 1)
		_exit(4);
	execv("/bin/true", argv);
	_exit(6);
}

static void control_reaches_early_thread(void)
{
	struct early e;
	pthread_t t;

	if (pipe(e.go) < 0 || pthread_create(&t, NULL, early_thread, &e) != 0)
		_exit(4);
	enter(SANDBOX_CONTROL, "rv-main");
	if (write(e.go[1], "g", 1) != 1)
		_exit(4);
	pthread_join(t, NULL);
	_exit(7);
}

static void test_control_reaches_existing_threads(void **state)
{
	struct outcome o;

	(void)state;
	run_child(control_reaches_early_thread, &o);
	assert_int_equal(o.status, DENIED_STATUS);
	assert_non_null(strstr(o.err, "thread rv-early made a system call its allow-list denies: execve"));
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(sandbox_kind_name(SANDBOX_CONTROL), "control");
	assert_string_equal(sandbox_kind_name(SANDBOX_IO), "device I/O");
	assert_string_equal(sandbox_kind_name(SANDBOX_VCPU), "vCPU");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_vcpu),
		cmocka_unit_test(test_control_reaches_existing_threads),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
