/* Snapshot of the virtio-pci transport: PCI config space, MSI-X, the
 * registers of the common configuration and each queue's addresses and
 * device-side indices. Saved only from a paused VM (devices quiesced), so
 * the queues hold no request the device took and did not return. Loaded
 * into a freshly built device of the same kind and configuration: an
 * active one is brought up again with its rings where they were. */
#include "virtio/virtio_pci.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TRANSPORT_SECTION_VERSION 1

static void section_name(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s.virtio", name);
}

void virtio_pci_save(struct virtio_pci *t, struct state_writer *w,
		     const char *name)
{
	char sec[STATE_NAME_MAX + 1];

	section_name(sec, sizeof(sec), name);
	state_begin(w, sec, TRANSPORT_SECTION_VERSION);
	pci_device_save(&t->pci, w);
	msix_save(&t->msix, w);
	pthread_mutex_lock(&t->lock);
	state_put_u64(w, t->offered);
	state_put_u64(w, t->driver_features);
	state_put_u32(w, t->dfselect);
	state_put_u32(w, t->gfselect);
	state_put_u8(w, (uint8_t)atomic_load(&t->status));
	state_put_u8(w, (uint8_t)atomic_load(&t->isr));
	state_put_u8(w, (uint8_t)atomic_load(&t->config_generation));
	state_put_u16(w, (uint16_t)atomic_load(&t->config_vector));
	state_put_u16(w, t->queue_select);
	state_put_bool(w, t->active);
	state_put_u32(w, t->cfg.nqueues);
	for (unsigned int i = 0; i < t->cfg.nqueues; i++) {
		const struct virtio_pci_queue *q = &t->queue[i];
		bool live = t->active && q->enabled && q->vq.desc;
		struct virtq_indices ix = { 0 };

		state_put_u16(w, q->size);
		state_put_u16(w, (uint16_t)atomic_load(&q->msix_vector));
		state_put_bool(w, q->enabled);
		state_put_u64(w, q->desc);
		state_put_u64(w, q->driver);
		state_put_u64(w, q->device);
		state_put_bool(w, live);
		if (live)
			virtq_get_indices(&q->vq, &ix);
		state_put_u16(w, ix.last_avail);
		state_put_u16(w, ix.used_idx);
		state_put_u16(w, ix.signalled_used);
		state_put_bool(w, ix.signalled_valid);
		state_put_bool(w, ix.broken);
	}
	pthread_mutex_unlock(&t->lock);
	state_end(w);
}

static bool vector_ok(const struct virtio_pci *t, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < t->msix.nvec;
}

/* Reads the queue records into t (t->lock held). */
static void load_queues(struct virtio_pci *t, struct state_cursor *c,
			struct virtq_indices *ix, bool *live)
{
	for (unsigned int i = 0; i < t->cfg.nqueues; i++) {
		struct virtio_pci_queue *q = &t->queue[i];
		uint16_t vec;

		q->size = state_get_u16(c);
		vec = state_get_u16(c);
		q->enabled = state_get_bool(c);
		q->desc = state_get_u64(c);
		q->driver = state_get_u64(c);
		q->device = state_get_u64(c);
		live[i] = state_get_bool(c);
		ix[i].last_avail = state_get_u16(c);
		ix[i].used_idx = state_get_u16(c);
		ix[i].signalled_used = state_get_u16(c);
		ix[i].signalled_valid = state_get_bool(c);
		ix[i].broken = state_get_bool(c);
		if (!q->size || q->size > t->cfg.queue_max ||
		    (q->size & (q->size - 1)))
			state_cursor_reject(c, "queue size out of range");
		if (!vector_ok(t, vec))
			state_cursor_reject(c, "queue MSI-X vector out of range");
		if (live[i] && !q->enabled)
			state_cursor_reject(c, "a live queue that is not enabled");
		atomic_store(&q->msix_vector, vec);
	}
}

/* DRIVER_OK in the snapshot: rings where they were, then the device. */
static int reactivate(struct virtio_pci *t, const struct virtq_indices *ix,
		      const bool *live, struct rv_err *err)
{
	bool event_idx = t->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	bool indirect = t->driver_features &
			(1ULL << VIRTIO_RING_F_INDIRECT_DESC);

	for (unsigned int i = 0; i < t->cfg.nqueues; i++) {
		struct virtio_pci_queue *q = &t->queue[i];

		if (!live[i])
			continue;
		if (virtq_init(&q->vq, t->cfg.mem, q->size, q->desc, q->driver,
			       q->device, event_idx, indirect, err) < 0 ||
		    virtq_set_indices(&q->vq, &ix[i], err) < 0)
			return -1;
	}
	if (t->cfg.ops->activate(t->cfg.dev) < 0)
		return rv_fail(err, "the device would not start again");
	t->active = true;
	return 0;
}

int virtio_pci_load(struct virtio_pci *t, const struct state_reader *r,
		    const char *name, struct rv_err *err)
{
	char sec[STATE_NAME_MAX + 1];
	struct virtq_indices ix[VIRTIO_PCI_MAX_QUEUES];
	bool live[VIRTIO_PCI_MAX_QUEUES] = { false };
	struct state_cursor c;
	uint8_t status;
	uint16_t cvec;
	bool active;
	int rc = 0;

	section_name(sec, sizeof(sec), name);
	if (state_section(r, sec, TRANSPORT_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	pci_device_load(&t->pci, &c);
	msix_load(&t->msix, &c);
	pthread_mutex_lock(&t->lock);
	if (t->active) {
		pthread_mutex_unlock(&t->lock);
		return rv_fail(err, "%s: restoring into a running device", name);
	}
	if (state_get_u64(&c) != t->offered)
		state_cursor_reject(&c, "the device offers other features than in the snapshot");
	t->driver_features = state_get_u64(&c);
	t->dfselect = state_get_u32(&c);
	t->gfselect = state_get_u32(&c);
	status = state_get_u8(&c);
	atomic_store(&t->isr, state_get_u8(&c));
	atomic_store(&t->config_generation, state_get_u8(&c));
	cvec = state_get_u16(&c);
	t->queue_select = state_get_u16(&c);
	active = state_get_bool(&c);
	if (state_get_u32(&c) != t->cfg.nqueues)
		state_cursor_reject(&c, "the device has another number of queues");
	else
		load_queues(t, &c, ix, live);
	if (!vector_ok(t, cvec))
		state_cursor_reject(&c, "configuration MSI-X vector out of range");
	if (t->driver_features & ~t->offered)
		state_cursor_reject(&c, "the driver's features were never offered");
	if (active && !(status & VIRTIO_STATUS_DRIVER_OK))
		state_cursor_reject(&c, "active without DRIVER_OK");
	/* A device only starts after FEATURES_OK (driver_ok): without it
	 * set_features is skipped below and the device would run with
	 * other features than the driver negotiated. */
	if (active && !(status & VIRTIO_STATUS_FEATURES_OK))
		state_cursor_reject(&c, "active without FEATURES_OK");
	atomic_store(&t->config_vector, cvec);
	atomic_store(&t->status, status);
	if (state_cursor_finish(&c, err) < 0) {
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	/* The device's own view of the features (offloads, limits). */
	if ((status & VIRTIO_STATUS_FEATURES_OK) &&
	    t->cfg.ops->set_features(t->cfg.dev, t->driver_features) < 0)
		rc = rv_fail(err, "%s: the device refuses the snapshot's features",
			     name);
	if (rc == 0 && active)
		rc = reactivate(t, ix, live, err);
	pthread_mutex_unlock(&t->lock);
	if (rc < 0) {
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		return rv_fail(err, "%s: %s", name, tmp);
	}
	/* Requests the guest queued before the snapshot are picked up by the
	 * caller's virtio_pci_kick_all, once the whole restore succeeded: a
	 * refused restore must not have served a single request. */
	return 0;
}

void virtio_pci_pause(struct virtio_pci *t)
{
	if (t->cfg.ops->pause)
		t->cfg.ops->pause(t->cfg.dev);
}

void virtio_pci_resume(struct virtio_pci *t)
{
	if (t->cfg.ops->resume)
		t->cfg.ops->resume(t->cfg.dev);
	virtio_pci_kick_all(t);
}

void virtio_pci_kick_all(struct virtio_pci *t)
{
	uint64_t one = 1;

	for (unsigned int i = 0; i < t->cfg.nqueues; i++) {
		if (t->queue[i].enabled && t->queue[i].kick_fd >= 0 &&
		    write(t->queue[i].kick_fd, &one, sizeof(one)) < 0) {
			/* saturated: a kick is pending anyway */
		}
	}
}
