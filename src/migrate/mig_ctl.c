/* See mig_ctl.h. */
#include "migrate/mig_ctl.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

uint64_t mig_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mig_ctl_init(struct mig_ctl *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->st.phase = "none";
	c->fd = -1;
}

void mig_ctl_destroy(struct mig_ctl *c)
{
	pthread_mutex_destroy(&c->lock);
}

void mig_ctl_status(struct mig_ctl *c, struct mig_status *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	if (out->state == MIG_ACTIVE)
		out->total_ms = mig_now_ms() - c->t_start;
	pthread_mutex_unlock(&c->lock);
}

int mig_ctl_claim(struct mig_ctl *c, const char *url, const char *phase,
		  struct rv_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (c->st.state == MIG_ACTIVE) {
		rc = rv_fail(err, "a migration (%s) is in progress",
			     c->st.destination);
	} else {
		memset(&c->st, 0, sizeof(c->st));
		c->st.state = MIG_ACTIVE;
		c->st.phase = phase;
		snprintf(c->st.destination, sizeof(c->st.destination), "%s",
			 url);
		c->t_start = mig_now_ms();
		c->fd = -1;
		atomic_store(&c->cancel, false);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void mig_ctl_set_phase(struct mig_ctl *c, const char *phase)
{
	pthread_mutex_lock(&c->lock);
	c->st.phase = phase;
	pthread_mutex_unlock(&c->lock);
}

void mig_ctl_finish(struct mig_ctl *c, enum mig_state st, const char *error,
		    uint64_t downtime_ms)
{
	pthread_mutex_lock(&c->lock);
	c->st.state = st;
	c->st.phase = st == MIG_COMPLETED ? "completed" :
		      st == MIG_CANCELLED ? "cancelled" : "failed";
	c->st.total_ms = mig_now_ms() - c->t_start;
	c->st.downtime_ms = downtime_ms;
	snprintf(c->st.error, sizeof(c->st.error), "%s", error ? error : "");
	c->fd = -1;
	pthread_mutex_unlock(&c->lock);
}

void mig_ctl_set_fd(struct mig_ctl *c, int fd)
{
	pthread_mutex_lock(&c->lock);
	c->fd = fd;
	pthread_mutex_unlock(&c->lock);
}

/* Until the source pauses the guest for good, or the destination starts
 * loading it, nothing is lost by stopping. */
static bool cancellable(const char *phase)
{
	return !strcmp(phase, "connecting") || !strcmp(phase, "precopy") ||
	       !strcmp(phase, "waiting for the source") ||
	       !strcmp(phase, "receiving");
}

int mig_ctl_cancel(struct mig_ctl *c, struct rv_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (c->st.state != MIG_ACTIVE) {
		rc = rv_fail(err, "no migration is in progress");
	} else if (!cancellable(c->st.phase)) {
		rc = rv_fail(err, "the migration is past the point of no return (%s)",
			     c->st.phase);
	} else {
		atomic_store(&c->cancel, true);
		/* Under the lock: the owner clears fd before closing it. */
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}
