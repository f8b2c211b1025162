/* See client.h. Every request goes through the same socket and the same
 * Firecracker-style API a curl user would use. */
#include "cli/client.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/http_client.h"

/* A snapshot of a large guest takes a while; everything else is quick. */
#define CALL_TIMEOUT_MS     (30 * 1000)
#define SNAPSHOT_TIMEOUT_MS (15 * 60 * 1000)

void cli_print_fault(const char *what, int status, const char *body)
{
	struct json_object *o = json_tokener_parse(body), *m = NULL;

	if (o && json_object_object_get_ex(o, "fault_message", &m))
		fprintf(stderr, "ringvm: %s: %s\n", what, json_object_get_string(m));
	else
		fprintf(stderr, "ringvm: %s: HTTP %d %s\n", what, status, body);
	json_object_put(o);
}

/* One request; 0 when the answer has the expected status. *body_out
 * (may be NULL) receives the body. */
static int call(const char *sock, const char *what, const char *method,
		const char *target, const char *body, int want, int timeout_ms,
		char **body_out)
{
	struct rv_err err;
	char *resp = NULL;
	int status = 0;

	if (http_client_call(sock, method, target, body, timeout_ms, &status,
			     &resp, &err) < 0) {
		fprintf(stderr, "ringvm: %s: %s\n", what, err.msg);
		return -1;
	}
	if (status != want) {
		cli_print_fault(what, status, resp ? resp : "");
		free(resp);
		return -1;
	}
	if (body_out)
		*body_out = resp;
	else
		free(resp);
	return 0;
}

static int set_state(const char *sock, const char *state)
{
	char body[64];

	snprintf(body, sizeof(body), "{\"state\": \"%s\"}", state);
	return call(sock, state[0] == 'P' ? "pause" : "resume", "PATCH", "/vm",
		    body, 204, CALL_TIMEOUT_MS, NULL);
}

static char *instance_state(const char *sock)
{
	struct json_object *o, *s;
	char *body = NULL, *state = NULL;

	if (call(sock, "GET /", "GET", "/", NULL, 200, CALL_TIMEOUT_MS,
		 &body) < 0)
		return NULL;
	o = json_tokener_parse(body);
	if (o && json_object_object_get_ex(o, "state", &s))
		state = strdup(json_object_get_string(s));
	json_object_put(o);
	free(body);
	if (!state)
		fprintf(stderr, "ringvm: GET /: no state in the answer\n");
	return state;
}

static int snapshot(const struct cli_opts *o)
{
	struct json_object *req = json_object_new_object();
	char *state = instance_state(o->api_sock);
	bool was_running;
	struct stat st, sm;
	int rc;

	if (!state || !req) {
		free(state);
		json_object_put(req);
		return 1;
	}
	was_running = !strcmp(state, "Running");
	free(state);
	json_object_object_add(req, "snapshot_type", json_object_new_string("Full"));
	json_object_object_add(req, "snapshot_path", json_object_new_string(o->state_path));
	json_object_object_add(req, "mem_file_path", json_object_new_string(o->mem_path));
	if (was_running && set_state(o->api_sock, "Paused") < 0) {
		json_object_put(req);
		return 1;
	}
	rc = call(o->api_sock, "snapshot", "PUT", "/snapshot/create",
		  json_object_to_json_string(req), 204, SNAPSHOT_TIMEOUT_MS,
		  NULL);
	json_object_put(req);
	/* The guest goes on whatever happened to the snapshot. */
	if (was_running && set_state(o->api_sock, "Resumed") < 0)
		rc = -1;
	if (rc == 0 && stat(o->state_path, &st) == 0 && stat(o->mem_path, &sm) == 0)
		printf("ringvm: snapshot written: %s (%lld bytes), %s (%lld MiB, %lld MiB of it data)\n",
		       o->state_path, (long long)st.st_size, o->mem_path,
		       (long long)(sm.st_size >> 20),
		       (long long)(sm.st_blocks * 512 >> 20));
	return rc < 0 ? 1 : 0;
}

int cli_client(enum cli_action cmd, const struct cli_opts *o)
{
	char *body = NULL;

	switch (cmd) {
	case CLI_SNAPSHOT:
		return snapshot(o);
	case CLI_PAUSE:
		return set_state(o->api_sock, "Paused") < 0 ? 1 : 0;
	case CLI_RESUME:
		return set_state(o->api_sock, "Resumed") < 0 ? 1 : 0;
	case CLI_STATS:
		if (call(o->api_sock, "stats", "GET", "/stats", NULL, 200,
			 CALL_TIMEOUT_MS, &body) < 0)
			return 1;
		printf("%s\n", body);
		free(body);
		return 0;
	default:
		fprintf(stderr, "ringvm: internal error: not a client command\n");
		return 1;
	}
}
