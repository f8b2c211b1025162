/* See top.h. Two samples of GET /stats, the differences divided by the
 * time between them: only the API a curl user has, nothing private. */
#include "cli/top.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/http_client.h"

#define TOP_MAX_ROWS 40
#define TOP_CALL_TIMEOUT_MS 10000

static int by_rate(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	return strcmp(x->name, y->name);
}

static bool is_gauge(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, "_kib");
}

int top_rows(struct json_object *prev, struct json_object *cur, double secs,
	     struct top_row *rows, int max)
{
	struct top_row all[512];
	int n = 0;

	if (secs <= 0)
		return 0;
	json_object_object_foreach(cur, key, val) {
		struct json_object *old;
		long long now, before;

		if (n == (int)(sizeof(all) / sizeof(all[0])))
			break;
		if (!json_object_is_type(val, json_type_int) || is_gauge(key) ||
		    !json_object_object_get_ex(prev, key, &old) ||
		    !json_object_is_type(old, json_type_int))
			continue;
		now = json_object_get_int64(val);
		before = json_object_get_int64(old);
		if (now <= before)
			continue;
		all[n++] = (struct top_row){ key, now, (double)(now - before) / secs };
	}
	qsort(all, (size_t)n, sizeof(all[0]), by_rate);
	if (n > max)
		n = max;
	memcpy(rows, all, (size_t)n * sizeof(rows[0]));
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* GET /stats, parsed; NULL with one line on stderr. */
static struct json_object *sample(const char *sock, double *when)
{
	struct rv_err err;
	struct json_object *o;
	char *body = NULL;
	int status = 0;

	if (http_client_call(sock, "GET", "/stats", NULL, TOP_CALL_TIMEOUT_MS,
			     &status, &body, &err) < 0) {
		fprintf(stderr, "ringvm top: %s\n", err.msg);
		return NULL;
	}
	*when = now_s();
	o = status == 200 ? json_tokener_parse(body) : NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "ringvm top: GET /stats answered %d, not a counters object\n",
			status);
		json_object_put(o);
		o = NULL;
	}
	free(body);
	return o;
}

static void report(const struct cli_opts *o, struct json_object *prev,
		   struct json_object *cur, double secs, bool clear)
{
	struct top_row rows[TOP_MAX_ROWS];
	int n = top_rows(prev, cur, secs, rows, TOP_MAX_ROWS);

	if (clear)
		fputs("\033[H\033[2J", stdout);
	printf("ringvm top: %s, over %.2f s (%d counters moved)\n", o->api_sock,
	       secs, n);
	printf("%-40s %16s %14s\n", "COUNTER", "TOTAL", "PER SECOND");
	for (int i = 0; i < n; i++)
		printf("%-40s %16lld %14.1f\n", rows[i].name, rows[i].total,
		       rows[i].rate);
	fflush(stdout);
}

int cli_top(const struct cli_opts *o)
{
	bool refresh = o->count == 0 && isatty(STDOUT_FILENO);
	double t0, t1;
	struct json_object *prev = sample(o->api_sock, &t0), *cur;

	if (!prev)
		return 1;
	for (uint32_t k = 0; o->count == 0 || k < o->count; k++) {
		struct timespec ts = { o->interval_ms / 1000,
				       (long)(o->interval_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		cur = sample(o->api_sock, &t1);
		if (!cur) {
			json_object_put(prev);
			return 1;
		}
		report(o, prev, cur, t1 - t0, refresh);
		json_object_put(prev);
		prev = cur;
		t0 = t1;
	}
	json_object_put(prev);
	return 0;
}
