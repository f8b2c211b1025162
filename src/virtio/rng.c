/* virtio-rng: one request queue whose device-writable buffers are filled
 * with getrandom(2) bytes. A request is capped (RNG_MAX_REQ) so one huge
 * buffer cannot keep the I/O thread busy; the driver asks again. */
#include "virtio/rng.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/event_loop.h"
#include "virtio/virtio_dev_common.h"

#define RNG_QSIZE   64
#define RNG_MAX_REQ (64 * 1024)
#define RNG_BUDGET  64

struct rng_stats {
	atomic_uint_fast64_t requests, bytes, kicks, irqs, bad_chains;
};

struct virtio_rng {
	struct virtio_pci t;
	struct ev_loop *loop;

	/* I/O thread state (activate .. reset). */
	struct virtq *vq;
	int kick;
	bool dead;
	struct iovec iov[RNG_QSIZE];

	struct rng_stats st;
};

static void stat_add(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* Fills the chain's writable part (up to RNG_MAX_REQ); returns bytes. */
static uint32_t fill(const struct virtq_chain *c)
{
	size_t left = c->in_len < RNG_MAX_REQ ? c->in_len : RNG_MAX_REQ;
	size_t done = 0;

	for (unsigned int i = c->nout; i < c->nout + c->nin && left; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t want = c->iov[i].iov_len < left ? c->iov[i].iov_len : left;
		size_t got = 0;

		while (got < want) {
			ssize_t r = getrandom(p + got, want - got, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return (uint32_t)(done + got);
			got += (size_t)r;
		}
		done += got;
		left -= got;
	}
	return (uint32_t)done;
}

static void rng_process(struct virtio_rng *r)
{
	struct virtq_chain c = { .iov = r->iov, .iov_cap = RNG_QSIZE };
	unsigned int budget = RNG_BUDGET;
	bool pushed = false;

	for (;;) {
		virtq_disable_notify(r->vq);
		while (budget) {
			enum virtq_pop_result res = virtq_pop(r->vq, &c);
			uint32_t n = 0;

			if (res == VIRTQ_EMPTY)
				break;
			if (res == VIRTQ_BROKEN) {
				r->dead = true;
				virtio_pci_needs_reset(&r->t);
				goto out;
			}
			if (res == VIRTQ_OK && c.in_len && !c.nout) {
				n = fill(&c);
				stat_add(&r->st.requests, 1);
				stat_add(&r->st.bytes, n);
			} else {
				stat_add(&r->st.bad_chains, 1);
			}
			virtq_push(r->vq, c.head, n);
			pushed = true;
			budget--;
		}
		if (!budget) {
			/* Yield; notifications are off, so kick ourselves. */
			virtio_dev_rekick(r->kick);
			break;
		}
		if (!virtq_enable_notify(r->vq))
			break;
	}
out:
	if (pushed && virtq_should_notify(r->vq)) {
		stat_add(&r->st.irqs, 1);
		virtio_pci_queue_irq(&r->t, 0);
	}
}

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_rng *r = opaque;

	(void)events;
	stat_add(&r->st.kicks, virtio_dev_drain(r->kick));
	if (!r->dead)
		rng_process(r);
}

/* No configuration space: the transport never calls this. */
static void rng_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

static int rng_set_features(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
	return 0;
}

static int rng_activate(void *dev)
{
	struct virtio_rng *r = dev;

	r->dead = false;
	if (virtio_dev_bind_queues(&r->t, 1, &r->vq, &r->kick) < 0)
		return -1;
	return virtio_dev_watch(r->loop, &(const struct virtio_dev_watch){
		r->kick, on_kick }, 1, r);
}

static void rng_reset(void *dev)
{
	struct virtio_rng *r = dev;

	/* On return the handler is not running and will not run again. */
	ev_loop_del(r->loop, r->kick);
	r->vq = NULL;
}

/* Every chain is filled and returned in the handler that took it. */
static void rng_pause(void *dev)
{
	ev_loop_pause(((struct virtio_rng *)dev)->loop);
}

static void rng_resume(void *dev)
{
	ev_loop_resume(((struct virtio_rng *)dev)->loop);
}

static const struct virtio_dev_ops rng_ops = {
	.config_read = rng_config_read,
	.set_features = rng_set_features,
	.activate = rng_activate,
	.reset = rng_reset,
	.pause = rng_pause,
	.resume = rng_resume,
};

struct virtio_rng *virtio_rng_new(const struct guest_mem *mem,
				  struct msix_sink sink, struct rv_err *err)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	struct virtio_pci_config cfg;

	if (!r) {
		rv_fail(err, "virtio-rng: out of memory");
		return NULL;
	}
	r->loop = ev_loop_new("virtio-rng", err);
	if (!r->loop || ev_loop_start(r->loop, err) < 0)
		goto fail;
	cfg = (struct virtio_pci_config){
		.device_type = VIRTIO_ID_RNG,
		.class_code = 0xff0000,      /* unassigned class */
		.features = 0,
		.nqueues = 1,
		.queue_max = RNG_QSIZE,
		.config_len = 0,
		.ops = &rng_ops,
		.dev = r,
		.mem = mem,
		.sink = sink,
	};
	if (virtio_pci_init(&r->t, &cfg, err) < 0)
		goto fail;
	return r;
fail:
	ev_loop_free(r->loop);
	free(r);
	return NULL;
}

void virtio_rng_free(struct virtio_rng *r)
{
	if (!r)
		return;
	virtio_pci_destroy(&r->t);
	ev_loop_free(r->loop);
	free(r);
}

struct virtio_pci *virtio_rng_transport(struct virtio_rng *r)
{
	return &r->t;
}

struct ev_loop *virtio_rng_loop(struct virtio_rng *r)
{
	return r->loop;
}

void virtio_rng_print_stats(struct virtio_rng *r, const char *prefix,
			    FILE *out)
{
	const struct virtio_dev_stat rows[] = {
		{ "requests", &r->st.requests, "requests" },
		{ "bytes", &r->st.bytes, "bytes" },
		{ "kicks", &r->st.kicks, "notifications" },
		{ "interrupts", &r->st.irqs, "interrupts" },
		{ "bad_chains", &r->st.bad_chains, "chains" },
	};

	virtio_dev_print_stats(out, prefix, rows,
			       sizeof(rows) / sizeof(rows[0]));
}

/* ---- snapshot ---- */

#define RNG_SECTION_VERSION 1

/* virtio-rng has no state of its own beyond the transport's; the empty
 * section still says the device was there, at this version. */
void virtio_rng_save(struct virtio_rng *r, struct state_writer *w,
		     const char *name)
{
	char sec[STATE_NAME_MAX + 1];

	snprintf(sec, sizeof(sec), "%s.rng", name);
	state_begin(w, sec, RNG_SECTION_VERSION);
	state_end(w);
	virtio_pci_save(&r->t, w, name);
}

int virtio_rng_load(struct virtio_rng *r, const struct state_reader *rd,
		    const char *name, struct rv_err *err)
{
	char sec[STATE_NAME_MAX + 1];
	struct state_cursor c;

	snprintf(sec, sizeof(sec), "%s.rng", name);
	if (state_section(rd, sec, RNG_SECTION_VERSION, &c, NULL, err) < 0 ||
	    state_cursor_finish(&c, err) < 0)
		return -1;
	return virtio_pci_load(&r->t, rd, name, err);
}
