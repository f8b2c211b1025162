/* The control plane behind the API socket: the configuration that PUT
 * requests accumulate before InstanceStart (Firecracker's pre-boot
 * phase), the VM once there is one, and the hand-over between the API's
 * threads and the main thread, which runs the VM (vm_run) and handles
 * signals. It turns requests into calls on the vm layer and never touches
 * a device itself. */
#ifndef RINGVM_API_API_CTL_H
#define RINGVM_API_API_CTL_H

#include <stdbool.h>

#include "api/http_server.h"
#include "util/err.h"
#include "vm/config.h"

struct vm;

/* What `ringvm run`'s own flags say about a VM the API starts. */
struct api_run_opts {
	const char *id;               /* instance id (GET /) */
	enum console_mode console;
	const char *serial_log;
	const char *stats_path;
	bool allow_slow_backend;
	bool seccomp;                 /* --seccomp */
	bool mem_merge;               /* --mem-merge */
	const char *cpu_template;     /* --cpu-template, unless PUT /cpu-config */
	enum guest_mem_backing mem_backing; /* --mem-backing, unless huge_pages 2M */
	struct cpu_pin cpu_pin;       /* --cpu-pin */
	uint32_t io_poll_us;          /* --io-poll */
};

struct api_ctl;

struct api_ctl *api_ctl_new(const struct api_run_opts *o, struct rv_err *err);
/* After the VM is gone (vm_destroy) and the server stopped. */
void api_ctl_free(struct api_ctl *c);

/* A VM the command line built (--kernel ...): the API manages it from
 * now on. Call before vm_run. */
void api_ctl_attach(struct api_ctl *c, struct vm *vm);

/* Firecracker's --config-file: the configuration, then the VM built from
 * it (*out, ready for vm_run, managed by c like an API-started one). */
int api_ctl_config_file(struct api_ctl *c, const char *path,
			struct vm **out, struct rv_err *err);

/* The main thread, with no VM yet: waits until a request produced one
 * (InstanceStart, snapshot load) and returns it, ready for vm_run; or
 * returns NULL with *signo set when SIGINT, SIGTERM, SIGHUP or SIGQUIT
 * arrived first. */
struct vm *api_ctl_wait_vm(struct api_ctl *c, int *signo);

/* The http_server handler (ctx: the api_ctl). */
void api_ctl_handle(void *ctx, const struct http_request *req,
		    struct http_reply *reply);

#endif
