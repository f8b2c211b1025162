/* ringvm top: a running VM's counters (GET /stats) as rates, refreshed
 * like kvm_stat, so a user sees which exits and device accesses happen and
 * how often. */
#ifndef RINGVM_CLI_TOP_H
#define RINGVM_CLI_TOP_H

#include <json-c/json.h>

#include "cli/args.h"

struct top_row {
	const char *name;   /* points into the current stats object */
	long long total;
	double rate;        /* per second over the interval */
};

/* The counters of cur that grew since prev over secs seconds, busiest
 * first (equal rates by name); memory gauges (NAME_kib) are left out.
 * Fills at most max rows; returns how many. */
int top_rows(struct json_object *prev, struct json_object *cur, double secs,
	     struct top_row *rows, int max);

int cli_top(const struct cli_opts *o);

#endif
