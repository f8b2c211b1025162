/* The main thread while the guest runs: console input to COM1, signals,
 * and waiting for the machine's stop latch. vCPUs run in their own threads;
 * nothing here is on the guest's fast path. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "arch/x86/regs.h"
#include "util/term.h"
#include "virtio/console.h"
#include "vm/sandbox.h"
#include "vm/vcpu.h"
#include "vm/vm.h"
#include "vm/vm_internal.h"

#define POLL_STOP   0
#define POLL_SIGNAL 1
#define POLL_STDIN  2

struct console_in {
	bool open;               /* stdin still readable */
	bool raw;                /* a terminal in raw mode: escapes apply */
	uint8_t pending[256];    /* read but not yet taken by the UART */
	size_t npending;
	size_t off;
	struct term_escape esc;
};

static int block_signals(sigset_t *set, struct rv_err *err)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		return rv_fail(err, "cannot block signals");
	return 0;
}

static void toggle_pause(struct vm *vm)
{
	struct rv_err err;
	bool pause = vm_state(vm) == VM_STATE_RUNNING;

	if ((pause ? vm_pause(vm, &err) : vm_resume(vm, &err)) < 0)
		fprintf(stderr, "\r\nringvm: %s\r\n", err.msg);
	else
		fprintf(stderr, pause ? "\r\nringvm: paused (Ctrl-A p resumes)\r\n" :
			"\r\nringvm: resumed\r\n");
}

/* Feeds what stdin gave us to the UART as far as its FIFO allows. Held
 * while the VM is paused: a paused machine's devices do not change. */
static void console_push(struct vm *vm, struct console_in *c)
{
	if (atomic_load(&vm->paused))
		return;
	while (c->off < c->npending) {
		size_t n = vm->devs.console ?
			virtio_console_input(vm->devs.console, c->pending + c->off,
					     c->npending - c->off) :
			uart8250_input(vm->uart, c->pending + c->off,
				       c->npending - c->off);
		if (n == 0)
			return;
		c->off += n;
	}
	c->off = c->npending = 0;
}

static void console_read(struct vm *vm, struct console_in *c)
{
	uint8_t buf[sizeof(c->pending)];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c->open = false; /* EOF or error: the guest just gets no input */
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint8_t out[2];
		size_t nout;

		if (!c->raw) {
			c->pending[c->npending++] = buf[i];
			continue;
		}
		switch (term_escape_feed(&c->esc, buf[i], out, &nout)) {
		case TERM_ESC_QUIT:
			machine_stop(&vm->m, OUTCOME_SIGNAL);
			return;
		case TERM_ESC_HELP:
			fputs("\r\nringvm: Ctrl-A x quits, Ctrl-A p pauses or resumes, Ctrl-A Ctrl-A sends Ctrl-A\r\n",
			      stderr);
			break;
		case TERM_ESC_PAUSE:
			toggle_pause(vm);
			break;
		default:
			for (size_t j = 0; j < nout; j++)
				c->pending[c->npending++] = out[j];
		}
	}
	console_push(vm, c);
}

static int exit_status(struct vm *vm)
{
	switch (machine_outcome(&vm->m)) {
	case OUTCOME_POWEROFF:
		return RINGVM_EXIT_OK;
	case OUTCOME_REBOOT:
		fprintf(stderr, "ringvm: guest rebooted (%s); exiting\n",
			vm->m.stop_why ? vm->m.stop_why : "reset");
		return RINGVM_EXIT_OK;
	case OUTCOME_CRASH:
		return RINGVM_EXIT_CRASH;
	case OUTCOME_MIGRATED:
		fprintf(stderr, "ringvm: the guest moved to %s; exiting\n",
			vm->m.stop_why ? vm->m.stop_why : "another ringvm");
		return RINGVM_EXIT_OK;
	case OUTCOME_SIGNAL:
		if (vm->m.stop_signal == 0) {
			fprintf(stderr, "ringvm: stopped from the console\n");
			return RINGVM_EXIT_OK;
		}
		fprintf(stderr, "ringvm: stopped by signal %d (%s)\n",
			vm->m.stop_signal, strsignal(vm->m.stop_signal));
		return 128 + vm->m.stop_signal;
	default:
		return RINGVM_EXIT_CRASH;
	}
}

int vm_on_started(struct vm *vm, void (*fn)(void *ctx, int rc), void *ctx)
{
	if (vm->nstarted_hooks == VM_MAX_STARTED_HOOKS)
		return -1;
	vm->started_hook[vm->nstarted_hooks].fn = fn;
	vm->started_hook[vm->nstarted_hooks++].ctx = ctx;
	return 0;
}

/* The seccomp filters go on before the guest runs: the control list on
 * every thread there is (the API's, the console writers', the devices'),
 * then each device's I/O thread narrows its own; vCPU threads narrow
 * theirs as they start (vcpu_run_loop). */
static int sandbox(struct vm *vm, struct rv_err *err)
{
	if (!vm->cfg->seccomp)
		return 0;
	if (sandbox_enter(SANDBOX_CONTROL, err) < 0 ||
	    vm_devices_sandbox(vm, err) < 0)
		return -1;
	vm->m.sandbox_vcpus = true;
	return 0;
}

static void tell_started(struct vm *vm, int rc)
{
	for (unsigned int i = 0; i < vm->nstarted_hooks; i++)
		vm->started_hook[i].fn(vm->started_hook[i].ctx, rc);
}

int vm_run(struct vm *vm, struct rv_err *err)
{
	struct console_in con = { 0 };
	struct term_state term = { .fd = -1, .active = false };
	sigset_t sigs;
	int sfd, status;
	bool use_stdin = vm->cfg->console != CONSOLE_NONE;

	if (block_signals(&sigs, err) < 0) {
		tell_started(vm, -1);
		return RINGVM_EXIT_SETUP;
	}
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		rv_fail_errno(err, "signalfd");
		tell_started(vm, -1);
		return RINGVM_EXIT_SETUP;
	}
	con.open = use_stdin;
	if (use_stdin && term_raw_enter(STDIN_FILENO, &term, err) < 0) {
		close(sfd);
		tell_started(vm, -1);
		return RINGVM_EXIT_SETUP;
	}
	con.raw = use_stdin && term.active;
	if (sandbox(vm, err) < 0 || machine_start(&vm->m, err) < 0) {
		if (con.raw)
			term_restore(&term);
		close(sfd);
		tell_started(vm, -1);
		return RINGVM_EXIT_SETUP;
	}
	vm->started = true;
	tell_started(vm, 0);
	while (machine_outcome(&vm->m) == OUTCOME_RUNNING) {
		struct pollfd pfd[3] = {
			[POLL_STOP] = { .fd = vm->m.stop_efd, .events = POLLIN },
			[POLL_SIGNAL] = { .fd = sfd, .events = POLLIN },
			[POLL_STDIN] = { .fd = -1, .events = POLLIN },
		};
		/* With input still queued, wait for FIFO room by polling at a
		 * modest rate instead of reading more. */
		int timeout = !con.npending ? -1 :
			      atomic_load(&vm->paused) ? 250 : 10;

		if (con.open && !con.npending)
			pfd[POLL_STDIN].fd = STDIN_FILENO;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[POLL_SIGNAL].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				vm->m.stop_signal = (int)si.ssi_signo;
				machine_stop(&vm->m, OUTCOME_SIGNAL);
			}
		}
		if (pfd[POLL_STDIN].revents & (POLLIN | POLLHUP | POLLERR))
			console_read(vm, &con);
		if (con.npending)
			console_push(vm, &con);
	}
	machine_join(&vm->m);
	/* Diagnosing a hung guest: where was each vCPU when it was stopped? */
	if (machine_outcome(&vm->m) == OUTCOME_SIGNAL && getenv("RINGVM_DUMP_ON_STOP"))
		for (unsigned int i = 0; i < vm->m.nvcpus; i++) {
			fprintf(stderr, "ringvm: vCPU %u when stopped:\n", i);
			x86_vcpu_dump(vm->m.vcpu[i].fd, &vm->m.mem, stderr);
		}
	if (con.raw)
		term_restore(&term);
	close(sfd);
	if (vm->cfg->stats_path) {
		FILE *f = fopen(vm->cfg->stats_path, "w");

		if (f) {
			vm_write_stats(vm, f);
			fclose(f);
		} else {
			fprintf(stderr, "ringvm: warning: cannot write stats to %s: %m\n",
				vm->cfg->stats_path);
		}
	}
	status = exit_status(vm);
	return status;
}
