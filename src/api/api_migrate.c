/* The control API's live migration (ringvm's own requests; Firecracker
 * has none) and Firecracker's PUT /cpu-config.
 *
 *   PUT /migrate {"destination_url": "tcp:10.0.0.2:4444",
 *                 "max_downtime_ms": 300, "auto_converge": false,
 *                 "max_bandwidth_mib_per_s": 0}
 *       runs the migration and answers when it is over: 200 with the
 *       final progress (below) once the guest runs at the destination,
 *       400 with the reason otherwise (the guest goes on here)
 *   GET /migrate        the progress, from any other connection meanwhile
 *   PUT /migrate/cancel stops a migration before its final pause
 *   PUT /migrate/incoming {"listen_url": "tcp::4444"}
 *       (a fresh ringvm) waits there for a source and runs the guest it
 *       sends; answers once it listens */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_ctl_internal.h"
#include "arch/x86/cpu_template.h"
#include "migrate/mig_transport.h"

static const char *state_text(enum mig_state s)
{
	switch (s) {
	case MIG_NONE:
		return "None";
	case MIG_ACTIVE:
		return "Active";
	case MIG_COMPLETED:
		return "Completed";
	case MIG_FAILED:
		return "Failed";
	case MIG_CANCELLED:
		return "Cancelled";
	}
	return "None";
}

static char *status_json(const struct mig_status *st)
{
	struct json_object *o = json_object_new_object();
	char *out = NULL;

	if (!o)
		return NULL;
#define ADD_U64(k, v) json_object_object_add(o, k, json_object_new_uint64(v))
	json_object_object_add(o, "state",
			       json_object_new_string(state_text(st->state)));
	json_object_object_add(o, "phase", json_object_new_string(st->phase));
	json_object_object_add(o, "destination_url",
			       json_object_new_string(st->destination));
	ADD_U64("round", st->round);
	ADD_U64("ram_bytes", st->ram_bytes);
	ADD_U64("sent_bytes", st->sent_bytes);
	ADD_U64("sent_pages", st->sent_pages);
	ADD_U64("zero_pages", st->zero_pages);
	ADD_U64("dirty_bytes", st->dirty_bytes);
	ADD_U64("dirty_rate_bytes_per_s", st->dirty_rate);
	ADD_U64("bandwidth_bytes_per_s", st->bandwidth);
	ADD_U64("expected_downtime_ms", st->expected_downtime_ms);
	ADD_U64("throttle_percent", st->throttle_pct);
	ADD_U64("downtime_ms", st->downtime_ms);
	ADD_U64("total_ms", st->total_ms);
#undef ADD_U64
	if (st->error[0])
		json_object_object_add(o, "error",
				       json_object_new_string(st->error));
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

void api_put_migrate(struct api_ctl *c, const struct http_request *q,
		     struct http_reply *r)
{
	struct fc_migrate m;
	struct mig_params p;
	struct mig_status st;
	char msg[FC_MSG_MAX];
	struct rv_err err;
	struct vm *vm;

	if (fc_parse_migrate(q->body, q->body_len, &m, msg) < 0) {
		api_fault(r, "%s", msg);
		return;
	}
	mig_params_default(&p);
	if (strlen(m.destination_url) >= sizeof(p.url)) {
		api_fault(r, "destination_url: longer than %zu bytes",
			  sizeof(p.url) - 1);
	} else if (mig_url_check(m.destination_url, &err) < 0) {
		api_fault(r, "destination_url: %s", err.msg);
	} else if ((vm = api_postboot(c, r))) {
		strcpy(p.url, m.destination_url);
		if (m.max_downtime_ms)
			p.max_downtime_ms = m.max_downtime_ms;
		if (m.max_rounds)
			p.max_rounds = m.max_rounds;
		if (m.timeout_ms)
			p.timeout_ms = (int)m.timeout_ms;
		p.auto_converge = m.auto_converge;
		p.max_bandwidth_mib = m.max_bandwidth_mib_per_s;
		if (mig_ctl_claim(&c->mig, p.url, "connecting", &err) < 0) {
			api_fault(r, "%s", err.msg);
		} else if (mig_send(vm, &p, &c->mig, &err) < 0) {
			api_fault(r, "migration to %s: %s", p.url, err.msg);
		} else {
			mig_ctl_status(&c->mig, &st);
			api_reply_json(r, 200, status_json(&st));
		}
	}
	fc_migrate_free(&m);
}

void api_get_migrate(struct api_ctl *c, const struct http_request *q,
		     struct http_reply *r)
{
	struct mig_status st;

	(void)q;
	mig_ctl_status(&c->mig, &st);
	api_reply_json(r, 200, status_json(&st));
}

void api_put_migrate_cancel(struct api_ctl *c, const struct http_request *q,
			    struct http_reply *r)
{
	struct rv_err err;

	(void)q;
	if (mig_ctl_cancel(&c->mig, &err) < 0)
		api_fault(r, "%s", err.msg);
	else
		r->status = 204;
}

void api_put_migrate_incoming(struct api_ctl *c, const struct http_request *q,
			      struct http_reply *r)
{
	struct fc_migrate_incoming i;
	char msg[FC_MSG_MAX];
	struct rv_err err;

	if (fc_parse_migrate_incoming(q->body, q->body_len, &i, msg) < 0) {
		api_fault(r, "%s", msg);
		return;
	}
	if (mig_url_check(i.listen_url, &err) < 0)
		api_fault(r, "listen_url: %s", err.msg);
	else if (ctl_migrate_incoming(c, &i, msg) < 0)
		api_fault(r, "%s", msg);
	else
		r->status = 204;
	fc_migrate_incoming_free(&i);
}

/* Firecracker's custom CPU template; checked now, applied at start. */
void api_put_cpu_config(struct api_ctl *c, const struct http_request *q,
			struct http_reply *r)
{
	struct cpu_template *t = malloc(sizeof(*t));
	struct rv_err err;
	char *copy;

	if (!t) {
		api_fault(r, "out of memory");
		return;
	}
	if (x86_cpu_template_parse(q->body, q->body_len, t, &err) < 0) {
		api_fault(r, "CpuConfig: %s", err.msg);
	} else if (!(copy = strndup(q->body, q->body_len))) {
		api_fault(r, "out of memory");
	} else {
		pthread_mutex_lock(&c->lock);
		if (c->phase != CTL_CONFIGURING) {
			api_fault(r, "the microVM has been started: this request is only accepted before InstanceStart");
			free(copy);
		} else {
			free(c->cpu_config);
			c->cpu_config = copy;
			r->status = 204;
		}
		pthread_mutex_unlock(&c->lock);
	}
	free(t);
}
