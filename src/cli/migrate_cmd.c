/* `ringvm migrate`: PUT /migrate answers only when the migration is over,
 * so it runs on a thread of its own while this one shows the progress
 * (GET /migrate, once a second) as one line per round. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/http_client.h"
#include "cli/client.h"

/* The migration bounds itself (its own timeouts, max_rounds); this only
 * keeps a wedged VMM from holding the command for ever. */
#define MIGRATE_TIMEOUT_MS (12 * 3600 * 1000)
#define POLL_MS            1000

struct put_call {
	const char *sock;
	const char *body;
	int rc, status;
	char *resp;
	struct rv_err err;
	bool done;
	pthread_mutex_t lock;
	pthread_cond_t cv;
};

static void *put_main(void *arg)
{
	struct put_call *p = arg;

	p->rc = http_client_call(p->sock, "PUT", "/migrate", p->body,
				 MIGRATE_TIMEOUT_MS, &p->status, &p->resp,
				 &p->err);
	pthread_mutex_lock(&p->lock);
	p->done = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static uint64_t get_u64(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ?
	       (uint64_t)json_object_get_int64(v) : 0;
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ?
	       json_object_get_string(v) : "";
}

/* One line when the round or the phase changed since the last one. */
static void show_progress(const char *sock, uint64_t *last_round,
			  char *last_phase, size_t cap)
{
	struct json_object *o;
	struct rv_err err;
	char *body = NULL;
	int status = 0;

	if (http_client_call(sock, "GET", "/migrate", NULL, POLL_MS * 5,
			     &status, &body, &err) < 0 || status != 200) {
		free(body);
		return;
	}
	o = json_tokener_parse(body);
	free(body);
	if (!o)
		return;
	if (!strcmp(get_str(o, "state"), "Active") &&
	    (get_u64(o, "round") != *last_round ||
	     strcmp(get_str(o, "phase"), last_phase))) {
		*last_round = get_u64(o, "round");
		snprintf(last_phase, cap, "%s", get_str(o, "phase"));
		if (!strcmp(last_phase, "precopy") && *last_round == 0)
			fprintf(stderr, "ringvm: migrate: precopy, round 0: all of RAM (%llu MiB)\n",
				(unsigned long long)(get_u64(o, "ram_bytes") >> 20));
		else
			fprintf(stderr, "ringvm: migrate: %s, round %llu: %llu MiB sent, %llu MiB dirty (guest writes %llu MiB/s, link %llu MiB/s), downtime now %llu ms, vCPUs held %llu%%\n",
				last_phase, (unsigned long long)*last_round,
				(unsigned long long)(get_u64(o, "sent_bytes") >> 20),
				(unsigned long long)(get_u64(o, "dirty_bytes") >> 20),
				(unsigned long long)(get_u64(o, "dirty_rate_bytes_per_s") >> 20),
				(unsigned long long)(get_u64(o, "bandwidth_bytes_per_s") >> 20),
				(unsigned long long)get_u64(o, "expected_downtime_ms"),
				(unsigned long long)get_u64(o, "throttle_percent"));
	}
	json_object_put(o);
}

static void show_result(const char *body)
{
	struct json_object *o = json_tokener_parse(body);

	if (!o) {
		printf("ringvm: migrated\n");
		return;
	}
	/* throttle_percent only rises during a migration: at the end it is
	 * the highest auto-converge reached. */
	printf("ringvm: migrated to %s: %llu rounds, %llu MiB sent (%llu pages, %llu zero pages), downtime %llu ms, total %llu ms, vCPU throttle up to %llu%%\n",
	       get_str(o, "destination_url"),
	       (unsigned long long)get_u64(o, "round") + 1,
	       (unsigned long long)(get_u64(o, "sent_bytes") >> 20),
	       (unsigned long long)get_u64(o, "sent_pages"),
	       (unsigned long long)get_u64(o, "zero_pages"),
	       (unsigned long long)get_u64(o, "downtime_ms"),
	       (unsigned long long)get_u64(o, "total_ms"),
	       (unsigned long long)get_u64(o, "throttle_percent"));
	json_object_put(o);
}

int cli_migrate(const struct cli_opts *o)
{
	struct json_object *req = json_object_new_object();
	struct put_call p = { .sock = o->api_sock };
	uint64_t last_round = UINT64_MAX;
	char last_phase[64] = "";
	pthread_t t;
	int rc = 1;

	if (!req)
		return 1;
	json_object_object_add(req, "destination_url",
			       json_object_new_string(o->migrate_to));
	if (o->max_downtime_ms)
		json_object_object_add(req, "max_downtime_ms",
				       json_object_new_int64(o->max_downtime_ms));
	if (o->max_bandwidth_mib)
		json_object_object_add(req, "max_bandwidth_mib_per_s",
				       json_object_new_int64(o->max_bandwidth_mib));
	if (o->auto_converge)
		json_object_object_add(req, "auto_converge",
				       json_object_new_boolean(true));
	p.body = json_object_to_json_string(req);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cv, NULL);
	if (pthread_create(&t, NULL, put_main, &p) != 0) {
		fprintf(stderr, "ringvm: migrate: cannot start a thread\n");
		goto out;
	}
	pthread_mutex_lock(&p.lock);
	while (!p.done) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += POLL_MS / 1000;
		pthread_cond_timedwait(&p.cv, &p.lock, &ts);
		if (p.done)
			break;
		pthread_mutex_unlock(&p.lock);
		show_progress(o->api_sock, &last_round, last_phase,
			      sizeof(last_phase));
		pthread_mutex_lock(&p.lock);
	}
	pthread_mutex_unlock(&p.lock);
	pthread_join(t, NULL);
	if (p.rc < 0) {
		fprintf(stderr, "ringvm: migrate: %s\n", p.err.msg);
	} else if (p.status != 200) {
		cli_print_fault("migrate", p.status, p.resp ? p.resp : "");
	} else {
		show_result(p.resp);
		rc = 0;
	}
out:
	free(p.resp);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.lock);
	json_object_put(req);
	return rc;
}
