/* GET /stats: the counters `--stats` writes when the guest stops, live, as
 * one JSON object {"NAME": value, ...} (units as in the README's --stats
 * table). */
#ifndef RINGVM_API_API_STATS_H
#define RINGVM_API_API_STATS_H

struct vm;

/* malloc'ed JSON, or NULL when out of memory. */
char *api_stats_json(struct vm *vm);

#endif
