/* seccomp allow-lists, one per kind of ringvm thread, installed before the
 * guest runs (libseccomp). A system call outside its thread's list ends
 * ringvm with one line naming the call (SIGSYS, exit status 128 + 31),
 * never a silent kill. */
#ifndef RINGVM_VM_SANDBOX_H
#define RINGVM_VM_SANDBOX_H

#include "util/err.h"

enum sandbox_kind {
	/* The main thread, the control API's threads and migration: files,
	 * sockets and KVM, never a new program or process. Installed on
	 * every thread of the process at once; the kinds below narrow it. */
	SANDBOX_CONTROL,
	/* A device's I/O thread: its queues, its back end's fds and
	 * io_uring; no new files or sockets. */
	SANDBOX_IO,
	/* A vCPU thread: KVM_RUN and the device models its exits reach;
	 * no file or socket I/O beyond the fds it already holds. */
	SANDBOX_VCPU,
	/* A vhost-user back-end process (ringvm backend), on every thread
	 * like SANDBOX_CONTROL (its device's I/O thread narrows it with
	 * SANDBOX_IO): accepting frontends and their messages, mapping the
	 * memory they share; no new files. */
	SANDBOX_BACKEND,
	/* The I/O thread of a device a vhost-user back end serves: device
	 * I/O, plus the messages to that back end and connecting to it
	 * again (AF_UNIX sockets only) when it was restarted. */
	SANDBOX_IO_VHOST,
};

const char *sandbox_kind_name(enum sandbox_kind kind);

struct ev_loop;

/* Installs KIND's filter on the calling thread (SANDBOX_CONTROL and
 * SANDBOX_BACKEND: on every thread of the process; one of them must come
 * before any other kind). Sets the SIGSYS handler that names a denied
 * call. */
int sandbox_enter(enum sandbox_kind kind, struct rv_err *err);

/* The same on the thread of an event loop (a device's I/O thread), from
 * another thread: waits until it is installed there. */
int sandbox_enter_loop(struct ev_loop *loop, enum sandbox_kind kind,
		       struct rv_err *err);

#endif
