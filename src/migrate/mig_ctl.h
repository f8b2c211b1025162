/* A migration's progress and control, shared by the thread that runs it
 * (either end) and whoever watches it (the control API's threads: GET
 * /migrate, PUT /migrate/cancel). */
#ifndef RINGVM_MIGRATE_MIG_CTL_H
#define RINGVM_MIGRATE_MIG_CTL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

enum mig_state {
	MIG_NONE,        /* no migration yet */
	MIG_ACTIVE,
	MIG_COMPLETED,   /* the guest runs at the destination */
	MIG_FAILED,
	MIG_CANCELLED,
};

/* A migration's progress, for GET /migrate and `ringvm migrate`. */
struct mig_status {
	enum mig_state state;
	const char *phase;          /* static: "connecting", "precopy", ... */
	char destination[256];      /* or, incoming, where it listens */
	unsigned int round;         /* 0: the first full pass */
	uint64_t ram_bytes;
	uint64_t sent_bytes;        /* on the wire, all rounds */
	uint64_t sent_pages, zero_pages;
	uint64_t dirty_bytes;       /* dirty at the last look */
	uint64_t dirty_rate;        /* bytes/s the guest dirtied last round */
	uint64_t bandwidth;         /* bytes/s the link carried last round */
	uint64_t expected_downtime_ms; /* what is dirty at that rate */
	unsigned int throttle_pct;  /* share of time the vCPUs are held */
	uint64_t downtime_ms;       /* pause to the destination's ACK */
	uint64_t total_ms;
	char error[256];
};

/* Shared by the migration and whoever watches it (the API's threads). */
struct mig_ctl {
	pthread_mutex_t lock;
	struct mig_status st;
	atomic_bool cancel;         /* honoured until the final pause */
	int fd;                     /* see mig_ctl_set_fd */
	uint64_t t_start;
};

void mig_ctl_init(struct mig_ctl *c);
void mig_ctl_destroy(struct mig_ctl *c);
void mig_ctl_status(struct mig_ctl *c, struct mig_status *out);
/* Asks a running migration to stop; -1 if there is none or it is past
 * the point of no return. */
int mig_ctl_cancel(struct mig_ctl *c, struct rv_err *err);
/* Claims c for a new migration to (or, incoming, from) url, in its first
 * phase: -1 if one is active. */
int mig_ctl_claim(struct mig_ctl *c, const char *url, const char *phase,
		  struct rv_err *err);
void mig_ctl_set_phase(struct mig_ctl *c, const char *phase);
/* The end: state, the error (NULL for none) and the downtime. */
void mig_ctl_finish(struct mig_ctl *c, enum mig_state st, const char *error,
		    uint64_t downtime_ms);
/* The fd a blocking step waits on (-1: none): a cancel shuts it down, so
 * the step ends at once instead of at its timeout. */
void mig_ctl_set_fd(struct mig_ctl *c, int fd);

uint64_t mig_now_ms(void);

#endif
