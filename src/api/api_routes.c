/* The control API's requests: Firecracker's paths, bodies, status codes and
 * state rules (pre-boot configuration, post-boot actions), plus ringvm's
 * own GET /stats. Every refusal is 400 with {"fault_message": "..."}. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_ctl_internal.h"
#include "api/api_stats.h"
#include "util/version.h"
#include "vm/vm.h"

void api_reply_json(struct http_reply *r, int status, char *json)
{
	r->status = json ? status : 500;
	r->body = json;
	r->body_len = json ? strlen(json) : 0;
}

void api_fault(struct http_reply *r, const char *fmt, ...)
{
	char msg[FC_MSG_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_reply_json(r, 400, fc_json_fault(msg));
}

static void ok(struct http_reply *r)
{
	r->status = 204;
}

/* Pre-boot requests change c->fc; c->lock held by the caller. */
static bool preboot(struct api_ctl *c, struct http_reply *r)
{
	if (c->phase == CTL_CONFIGURING)
		return true;
	api_fault(r, "the microVM has been started: this request is only accepted before InstanceStart");
	return false;
}

/* The VM, for post-boot requests; NULL (and the reply set) before. */
struct vm *api_postboot(struct api_ctl *c, struct http_reply *r)
{
	struct vm *vm = ctl_vm(c);

	if (!vm)
		api_fault(r, "the microVM has not been started: InstanceStart (or a snapshot load) first");
	return vm;
}

static const char *state_name(struct api_ctl *c)
{
	struct vm *vm = ctl_vm(c);

	if (!vm)
		return "Not started";
	return vm_state(vm) == VM_STATE_PAUSED ? "Paused" : "Running";
}

/* ---- routes ---- */

static void get_root(struct api_ctl *c, const struct http_request *q,
		     struct http_reply *r)
{
	(void)q;
	api_reply_json(r, 200, fc_json_instance_info(c->id, state_name(c),
						 RINGVM_VERSION));
}

static void put_boot_source(struct api_ctl *c, const struct http_request *q,
			    struct http_reply *r)
{
	struct fc_boot_source b = { 0 };
	char msg[FC_MSG_MAX];

	if (fc_parse_boot_source(q->body, q->body_len, &b, msg) < 0 ||
	    api_check_boot_args(b.boot_args, msg) < 0) {
		fc_boot_source_free(&b);
		api_fault(r, "%s", msg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (preboot(c, r)) {
		fc_vm_config_set_boot_source(&c->fc, &b);
		ok(r);
	}
	pthread_mutex_unlock(&c->lock);
	fc_boot_source_free(&b);
}

static void put_machine_config(struct api_ctl *c,
			       const struct http_request *q,
			       struct http_reply *r)
{
	struct fc_machine_config m;
	char msg[FC_MSG_MAX];

	if (fc_parse_machine_config(q->body, q->body_len, &m, msg) < 0) {
		api_fault(r, "%s", msg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (preboot(c, r)) {
		c->fc.machine = m;
		ok(r);
	}
	pthread_mutex_unlock(&c->lock);
}

static void get_machine_config(struct api_ctl *c,
			       const struct http_request *q,
			       struct http_reply *r)
{
	(void)q;
	pthread_mutex_lock(&c->lock);
	api_reply_json(r, 200, fc_json_machine_config(&c->fc.machine));
	pthread_mutex_unlock(&c->lock);
}

static void get_vm_config(struct api_ctl *c, const struct http_request *q,
			  struct http_reply *r)
{
	(void)q;
	pthread_mutex_lock(&c->lock);
	api_reply_json(r, 200, fc_json_vm_config(&c->fc));
	pthread_mutex_unlock(&c->lock);
}

/* The id after "/drives/" or "/network-interfaces/". */
static const char *path_id(const struct http_request *q, size_t prefix)
{
	return q->path + prefix;
}

static void put_drive(struct api_ctl *c, const struct http_request *q,
		      struct http_reply *r)
{
	const char *id = path_id(q, strlen("/drives/"));
	struct fc_drive d = { 0 };
	char msg[FC_MSG_MAX];

	if (!fc_valid_id(id)) {
		api_fault(r, "drive id '%.64s' in the path is not valid ([A-Za-z0-9_], 1 to 64)", id);
		return;
	}
	if (fc_parse_drive(q->body, q->body_len, id, &d, msg) < 0) {
		fc_drive_free(&d);
		api_fault(r, "%s", msg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (preboot(c, r)) {
		if (fc_vm_config_put_drive(&c->fc, &d, msg) < 0)
			api_fault(r, "%s", msg);
		else
			ok(r);
	}
	pthread_mutex_unlock(&c->lock);
	fc_drive_free(&d);
}

static void put_iface(struct api_ctl *c, const struct http_request *q,
		      struct http_reply *r)
{
	const char *id = path_id(q, strlen("/network-interfaces/"));
	struct fc_net_iface n = { 0 };
	char msg[FC_MSG_MAX];

	if (!fc_valid_id(id)) {
		api_fault(r, "iface id '%.64s' in the path is not valid ([A-Za-z0-9_], 1 to 64)", id);
		return;
	}
	if (fc_parse_net_iface(q->body, q->body_len, id, &n, msg) < 0) {
		fc_net_iface_free(&n);
		api_fault(r, "%s", msg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (preboot(c, r)) {
		if (fc_vm_config_put_iface(&c->fc, &n, msg) < 0)
			api_fault(r, "%s", msg);
		else
			ok(r);
	}
	pthread_mutex_unlock(&c->lock);
	fc_net_iface_free(&n);
}

static void put_entropy(struct api_ctl *c, const struct http_request *q,
			struct http_reply *r)
{
	char msg[FC_MSG_MAX];

	if (fc_parse_entropy(q->body, q->body_len, msg) < 0) {
		api_fault(r, "%s", msg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (preboot(c, r)) {
		c->fc.entropy = true;
		ok(r);
	}
	pthread_mutex_unlock(&c->lock);
}

static void put_metrics(struct api_ctl *c, const struct http_request *q,
			struct http_reply *r)
{
	struct fc_metrics m = { 0 };
	char msg[FC_MSG_MAX];
	FILE *f;

	if (fc_parse_metrics(q->body, q->body_len, &m, msg) < 0) {
		fc_metrics_free(&m);
		api_fault(r, "%s", msg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (c->metrics) {
		api_fault(r, "metrics are already configured");
	} else if (!(f = fopen(m.metrics_path, "ae"))) {
		api_fault(r, "metrics_path %.200s: %m", m.metrics_path);
	} else {
		c->metrics = f;
		c->fc.has_metrics = true;
		c->fc.metrics.metrics_path = m.metrics_path;
		m.metrics_path = NULL;
		ok(r);
	}
	pthread_mutex_unlock(&c->lock);
	fc_metrics_free(&m);
}

static void flush_metrics(struct api_ctl *c, struct http_reply *r)
{
	struct vm *vm = ctl_vm(c);
	char *json;

	pthread_mutex_lock(&c->lock);
	if (!c->metrics) {
		api_fault(r, "metrics are not configured: PUT /metrics first");
	} else if (!vm) {
		api_fault(r, "the microVM has not been started: there are no metrics yet");
	} else if (!(json = api_stats_json(vm))) {
		api_fault(r, "out of memory");
	} else {
		/* One JSON object per line, as Firecracker writes them. */
		fprintf(c->metrics, "%s\n", json);
		if (fflush(c->metrics) != 0)
			api_fault(r, "cannot write the metrics: %m");
		else
			ok(r);
		free(json);
	}
	pthread_mutex_unlock(&c->lock);
}

static void put_actions(struct api_ctl *c, const struct http_request *q,
			struct http_reply *r)
{
	char msg[FC_MSG_MAX];
	enum fc_action a;
	struct rv_err err;
	struct vm *vm;

	if (fc_parse_action(q->body, q->body_len, &a, msg) < 0) {
		api_fault(r, "%s", msg);
		return;
	}
	switch (a) {
	case FC_ACTION_INSTANCE_START:
		if (ctl_instance_start(c, msg) < 0)
			api_fault(r, "InstanceStart: %s", msg);
		else
			ok(r);
		return;
	case FC_ACTION_SEND_CTRL_ALT_DEL:
		vm = api_postboot(c, r);
		if (!vm)
			return;
		if (vm_send_ctrl_alt_del(vm, &err) < 0)
			api_fault(r, "SendCtrlAltDel: %s", err.msg);
		else
			ok(r);
		return;
	case FC_ACTION_FLUSH_METRICS:
		flush_metrics(c, r);
		return;
	}
	api_fault(r, "unknown action");
}

static void patch_vm(struct api_ctl *c, const struct http_request *q,
		     struct http_reply *r)
{
	enum fc_vm_state s;
	char msg[FC_MSG_MAX];
	struct rv_err err;
	struct vm *vm;

	if (fc_parse_vm_state(q->body, q->body_len, &s, msg) < 0) {
		api_fault(r, "%s", msg);
		return;
	}
	vm = api_postboot(c, r);
	if (!vm)
		return;
	if ((s == FC_VM_PAUSED ? vm_pause(vm, &err) : vm_resume(vm, &err)) < 0)
		api_fault(r, "%s: %s", s == FC_VM_PAUSED ? "pause" : "resume", err.msg);
	else
		ok(r);
}

static void put_snapshot_create(struct api_ctl *c,
				const struct http_request *q,
				struct http_reply *r)
{
	struct fc_snapshot_create s = { 0 };
	char msg[FC_MSG_MAX];
	struct rv_err err;
	struct vm *vm;

	if (fc_parse_snapshot_create(q->body, q->body_len, &s, msg) < 0) {
		api_fault(r, "%s", msg);
	} else if ((vm = api_postboot(c, r))) {
		if (vm_snapshot(vm, s.snapshot_path, s.mem_file_path, NULL,
				&err) < 0)
			api_fault(r, "snapshot: %s", err.msg);
		else
			ok(r);
	}
	fc_snapshot_create_free(&s);
}

static void put_snapshot_load(struct api_ctl *c,
			      const struct http_request *q,
			      struct http_reply *r)
{
	struct fc_snapshot_load l = { 0 };
	char msg[FC_MSG_MAX];

	if (fc_parse_snapshot_load(q->body, q->body_len, &l, msg) < 0 ||
	    ctl_snapshot_load(c, &l, msg) < 0)
		api_fault(r, "%s", msg);
	else
		ok(r);
	fc_snapshot_load_free(&l);
}

static void get_stats(struct api_ctl *c, const struct http_request *q,
		      struct http_reply *r)
{
	struct vm *vm = api_postboot(c, r);

	(void)q;
	if (vm)
		api_reply_json(r, 200, api_stats_json(vm));
}

struct route {
	enum http_method method;
	const char *path;
	bool prefix;            /* path + "{id}" */
	void (*fn)(struct api_ctl *c, const struct http_request *q,
		   struct http_reply *r);
};

static const struct route routes[] = {
	{ HTTP_GET, "/", false, get_root },
	{ HTTP_PUT, "/boot-source", false, put_boot_source },
	{ HTTP_PUT, "/machine-config", false, put_machine_config },
	{ HTTP_GET, "/machine-config", false, get_machine_config },
	{ HTTP_PUT, "/drives/", true, put_drive },
	{ HTTP_PUT, "/network-interfaces/", true, put_iface },
	{ HTTP_PUT, "/entropy", false, put_entropy },
	{ HTTP_PUT, "/metrics", false, put_metrics },
	{ HTTP_PUT, "/actions", false, put_actions },
	{ HTTP_PATCH, "/vm", false, patch_vm },
	{ HTTP_GET, "/vm/config", false, get_vm_config },
	{ HTTP_PUT, "/snapshot/create", false, put_snapshot_create },
	{ HTTP_PUT, "/snapshot/load", false, put_snapshot_load },
	{ HTTP_GET, "/stats", false, get_stats },
	{ HTTP_PUT, "/cpu-config", false, api_put_cpu_config },
	{ HTTP_PUT, "/migrate", false, api_put_migrate },
	{ HTTP_GET, "/migrate", false, api_get_migrate },
	{ HTTP_PUT, "/migrate/cancel", false, api_put_migrate_cancel },
	{ HTTP_PUT, "/migrate/incoming", false, api_put_migrate_incoming },
};

void api_ctl_handle(void *ctx, const struct http_request *q,
		    struct http_reply *r)
{
	struct api_ctl *c = ctx;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		size_t n = strlen(rt->path);

		if (rt->method != q->method)
			continue;
		if (rt->prefix ? strncmp(q->path, rt->path, n) != 0 :
				 strcmp(q->path, rt->path) != 0)
			continue;
		rt->fn(c, q, r);
		return;
	}
	/* Firecracker's answer to a path or method it does not serve. */
	api_fault(r, "Invalid request method and/or path: %s %.200s",
	      q->method_text, q->path);
}
