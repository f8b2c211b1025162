/* virtio over PCI, modern interface (virtio 1.2, section 4.1). Everything
 * the driver writes is hostile: accesses of the wrong width or offset read 0
 * and are otherwise ignored, and a configuration the device cannot run
 * (bad ring addresses, a size that is not a power of two) ends in
 * DEVICE_NEEDS_RESET, never in a crash.
 *
 * Locking: t->lock serialises register accesses and the ops callbacks made
 * from them. Lock order: pci_device.lock (PCI_CFG window) -> t->lock ->
 * msix.lock. The interrupt paths (queue_irq, config_irq, needs_reset) take
 * no transport lock: they only touch atomics and the MSI-X code, which has
 * its own lock, so a device may raise them from inside a callback or from
 * an I/O thread that a callback (reset) is waiting for. */
#include "virtio/virtio_pci.h"

#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Capability types (4.1.4). */
#define CAP_COMMON   1
#define CAP_NOTIFY   2
#define CAP_ISR      3
#define CAP_DEVICE   4
#define CAP_PCI_CFG  5

/* struct virtio_pci_cap (16 bytes), followed by notify_off_multiplier in
 * the notify capability and by pci_cfg_data in the PCI_CFG one. */
#define VCAP_LEN         16
#define VCAP_BAR         4
#define VCAP_OFFSET      8
#define VCAP_LENGTH      12
#define VCAP_EXTRA       16
#define VCAP_EXT_LEN     20

/* struct virtio_pci_common_cfg (4.1.4.3), 1.2 layout. */
enum {
	CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10, CC_NUM_QUEUES = 0x12, CC_STATUS = 0x14,
	CC_GENERATION = 0x15, CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c, CC_Q_NOTIFY_OFF = 0x1e,
	CC_Q_DESC_LO = 0x20, CC_Q_DESC_HI = 0x24,
	CC_Q_DRIVER_LO = 0x28, CC_Q_DRIVER_HI = 0x2c,
	CC_Q_DEVICE_LO = 0x30, CC_Q_DEVICE_HI = 0x34,
	CC_Q_NOTIFY_DATA = 0x38, CC_Q_RESET = 0x3a,
	CC_SIZE = 0x3c,
};

/* Feature bits that need transport support ringvm does not have; never
 * offered whatever the device asks for. */
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_SR_IOV             37
#define VIRTIO_F_NOTIFICATION_DATA  38
#define VIRTIO_F_NOTIF_CONFIG_DATA  39
#define VIRTIO_F_RING_RESET         40

#define BIT(n) (1ULL << (n))
#define TRANSPORT_FEATURES (BIT(VIRTIO_F_VERSION_1) | \
			    BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
			    BIT(VIRTIO_RING_F_EVENT_IDX))
#define UNSUPPORTED_FEATURES (BIT(VIRTIO_F_ACCESS_PLATFORM) | \
			      BIT(VIRTIO_F_RING_PACKED) | \
			      BIT(VIRTIO_F_SR_IOV) | \
			      BIT(VIRTIO_F_NOTIFICATION_DATA) | \
			      BIT(VIRTIO_F_NOTIF_CONFIG_DATA) | \
			      BIT(VIRTIO_F_RING_RESET))

#define ISR_QUEUE  1
#define ISR_CONFIG 2

#define STATUS_DRIVER_BITS (VIRTIO_STATUS_ACKNOWLEDGE | \
			    VIRTIO_STATUS_DRIVER | \
			    VIRTIO_STATUS_FEATURES_OK | \
			    VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)

#define VIRTIO_PCI_SUBSYS_BASE 0x40    /* non-transitional: >= 0x40 */
#define PBA_SIZE 8                     /* nvec <= 64: one qword */

static void put_le(uint8_t *p, uint64_t v, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, uint32_t len)
{
	uint64_t v = 0;
	uint32_t i;

	for (i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void drain_fd(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));   /* EAGAIN when already 0 */

	(void)r;
}

static void kick(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof(one));  /* only fails at 2^64-2 */

	(void)r;
}

/* ---- interrupts (any thread, no t->lock) ---- */

static void signal_config(struct virtio_pci *t)
{
	uint16_t v = atomic_load(&t->config_vector);

	atomic_fetch_or(&t->isr, ISR_CONFIG);
	if (v != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&t->msix, v);
	atomic_fetch_add(&t->stats.irqs, 1);
}

void virtio_pci_queue_irq(struct virtio_pci *t, unsigned int q)
{
	uint16_t v;

	if (q >= t->cfg.nqueues)
		return;
	v = atomic_load(&t->queue[q].msix_vector);
	atomic_fetch_or(&t->isr, ISR_QUEUE);
	if (v != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&t->msix, v);
	atomic_fetch_add(&t->stats.irqs, 1);
}

void virtio_pci_config_irq(struct virtio_pci *t)
{
	atomic_fetch_add(&t->config_generation, 1);
	signal_config(t);
}

void virtio_pci_needs_reset(struct virtio_pci *t)
{
	uint8_t old = atomic_fetch_or(&t->status, VIRTIO_STATUS_NEEDS_RESET);

	/* 2.1.2: tell a running driver; before DRIVER_OK it reads status. */
	if ((old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(old & VIRTIO_STATUS_NEEDS_RESET))
		signal_config(t);
}

/* ---- device accessors ---- */

uint64_t virtio_pci_notify_addr(const struct virtio_pci *t, unsigned int q)
{
	return t->pci.bar[0].addr + VIRTIO_PCI_NOTIFY_OFF +
	       (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;
}

/* desc is resolved only by a successful virtq_init at DRIVER_OK. */
struct virtq *virtio_pci_vq(struct virtio_pci *t, unsigned int q)
{
	if (q >= t->cfg.nqueues || !t->queue[q].enabled ||
	    !t->queue[q].vq.desc)
		return NULL;
	return &t->queue[q].vq;
}

int virtio_pci_kick_fd(const struct virtio_pci *t, unsigned int q)
{
	return q < t->cfg.nqueues ? t->queue[q].kick_fd : -1;
}

/* Fixed from FEATURES_OK until reset, so devices read it unlocked. */
uint64_t virtio_pci_negotiated(const struct virtio_pci *t)
{
	return t->driver_features;
}

/* ---- status and reset (t->lock held) ---- */

static void transport_reset(struct virtio_pci *t)
{
	unsigned int i;

	t->driver_features = 0;
	t->dfselect = 0;
	t->gfselect = 0;
	t->queue_select = 0;
	atomic_store(&t->config_vector, VIRTIO_MSI_NO_VECTOR);
	for (i = 0; i < t->cfg.nqueues; i++) {
		struct virtio_pci_queue *q = &t->queue[i];

		q->size = t->cfg.queue_max;
		atomic_store(&q->msix_vector, VIRTIO_MSI_NO_VECTOR);
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
		memset(&q->vq, 0, sizeof(q->vq));
		/* Kicks of the old driver must not reach the next one. */
		drain_fd(q->kick_fd);
	}
	atomic_store(&t->isr, 0);
	atomic_store(&t->status, 0);
}

static void device_reset(struct virtio_pci *t)
{
	if (t->active)
		t->cfg.ops->reset(t->cfg.dev);
	t->active = false;
	transport_reset(t);
}

static bool features_ok(struct virtio_pci *t)
{
	uint64_t f = t->driver_features;

	if ((f & ~t->offered) || !(f & BIT(VIRTIO_F_VERSION_1)))
		return false;
	return t->cfg.ops->set_features(t->cfg.dev, f) == 0;
}

/* DRIVER_OK is set by now, so the driver hears of it (2.1.2), also when
 * NEEDS_RESET was set earlier, while nobody was listening. */
static void driver_ok_failed(struct virtio_pci *t)
{
	unsigned int i;

	for (i = 0; i < t->cfg.nqueues; i++)
		memset(&t->queue[i].vq, 0, sizeof(t->queue[i].vq));
	atomic_fetch_or(&t->status, VIRTIO_STATUS_NEEDS_RESET);
	signal_config(t);
}

/* DRIVER_OK was just set: bring up the enabled queues, then the device. */
static void driver_ok(struct virtio_pci *t, uint8_t old)
{
	bool event_idx = t->driver_features & BIT(VIRTIO_RING_F_EVENT_IDX);
	bool indirect = t->driver_features & BIT(VIRTIO_RING_F_INDIRECT_DESC);
	struct rv_err err;
	unsigned int i;

	if (!(old & VIRTIO_STATUS_FEATURES_OK) ||
	    (old & VIRTIO_STATUS_NEEDS_RESET)) {
		driver_ok_failed(t);
		return;
	}
	for (i = 0; i < t->cfg.nqueues; i++) {
		struct virtio_pci_queue *q = &t->queue[i];

		if (!q->enabled)
			continue;
		if (virtq_init(&q->vq, t->cfg.mem, q->size, q->desc, q->driver,
			       q->device, event_idx, indirect, &err) < 0) {
			driver_ok_failed(t);
			return;
		}
	}
	if (t->cfg.ops->activate(t->cfg.dev) < 0) {
		driver_ok_failed(t);
		return;
	}
	t->active = true;
}

/* Bits accumulate (only 0 clears them); FEATURES_OK only if accepted. */
static void status_write(struct virtio_pci *t, uint8_t v)
{
	uint8_t add;

	if (v == 0) {
		device_reset(t);
		return;
	}
	add = (uint8_t)(v & STATUS_DRIVER_BITS & ~atomic_load(&t->status));
	atomic_fetch_or(&t->status, add & ~(VIRTIO_STATUS_FEATURES_OK |
					    VIRTIO_STATUS_DRIVER_OK));
	if ((add & VIRTIO_STATUS_FEATURES_OK) && features_ok(t))
		atomic_fetch_or(&t->status, VIRTIO_STATUS_FEATURES_OK);
	if (add & VIRTIO_STATUS_DRIVER_OK)
		driver_ok(t, atomic_fetch_or(&t->status,
					     VIRTIO_STATUS_DRIVER_OK));
}

/* ---- common configuration (t->lock held) ---- */

/* Natural width of the field at off, 0 if none starts there. */
static uint32_t common_width(uint32_t off)
{
	if (off >= CC_SIZE)
		return 0;
	if (off < CC_MSIX_CONFIG)
		return off % 4 ? 0 : 4;
	if (off == CC_STATUS || off == CC_GENERATION)
		return 1;
	if (off >= CC_Q_DESC_LO && off < CC_Q_NOTIFY_DATA)
		return off % 4 ? 0 : 4;
	return off % 2 ? 0 : 2;
}

static struct virtio_pci_queue *selected(struct virtio_pci *t)
{
	return t->queue_select < t->cfg.nqueues ? &t->queue[t->queue_select] :
	       NULL;
}

/* A vector the MSI-X table does not have reads back as NO_VECTOR, which
 * is how the driver learns the mapping failed (4.1.4.3, 4.1.5.1.2). */
static uint16_t vector_or_none(const struct virtio_pci *t, uint32_t v)
{
	return v < t->msix.nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static uint32_t half(uint64_t v, uint32_t off)
{
	return (uint32_t)(off % 8 ? v >> 32 : v);
}

static uint32_t common_read(struct virtio_pci *t, uint32_t off)
{
	struct virtio_pci_queue *q = selected(t);

	switch (off) {
	case CC_DFSELECT:
		return t->dfselect;
	case CC_DF:
		return t->dfselect < 2 ?
		       (uint32_t)(t->offered >> (32 * t->dfselect)) : 0;
	case CC_GFSELECT:
		return t->gfselect;
	case CC_GF:
		return t->gfselect < 2 ?
		       (uint32_t)(t->driver_features >> (32 * t->gfselect)) : 0;
	case CC_MSIX_CONFIG:
		return atomic_load(&t->config_vector);
	case CC_NUM_QUEUES:
		return t->cfg.nqueues;
	case CC_STATUS:
		return atomic_load(&t->status);
	case CC_GENERATION:
		return atomic_load(&t->config_generation);
	case CC_Q_SELECT:
		return t->queue_select;
	}
	if (!q)
		/* 4.1.4.3.1: a queue that does not exist has size 0; its
		 * vector reads as unmapped. */
		return off == CC_Q_MSIX ? VIRTIO_MSI_NO_VECTOR : 0;
	switch (off) {
	case CC_Q_SIZE:
		return q->size;
	case CC_Q_MSIX:
		return atomic_load(&q->msix_vector);
	case CC_Q_ENABLE:
		return q->enabled;
	case CC_Q_NOTIFY_OFF:
		return t->queue_select;
	case CC_Q_DESC_LO:
	case CC_Q_DESC_HI:
		return half(q->desc, off);
	case CC_Q_DRIVER_LO:
	case CC_Q_DRIVER_HI:
		return half(q->driver, off);
	case CC_Q_DEVICE_LO:
	case CC_Q_DEVICE_HI:
		return half(q->device, off);
	default:
		/* queue_notify_data, queue_reset: features not offered. */
		return 0;
	}
}

static void set_half(uint64_t *field, uint32_t off, uint32_t v)
{
	if (off % 8)
		*field = (*field & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

static void queue_write(struct virtio_pci *t, struct virtio_pci_queue *q,
			uint32_t off, uint32_t v)
{
	if (off == CC_Q_MSIX) {
		atomic_store(&q->msix_vector, vector_or_none(t, v));
		/* A queue with an outside interrupt source follows its vector. */
		pthread_mutex_lock(&t->msix.lock);
		virtio_pci_irqfd_sync(t);
		pthread_mutex_unlock(&t->msix.lock);
		return;
	}
	/* 4.1.4.3.2: queues are configured before being enabled, and all
	 * before DRIVER_OK (no VIRTIO_F_RING_RESET); later writes would
	 * change a ring under a running device. */
	if (q->enabled || (atomic_load(&t->status) & VIRTIO_STATUS_DRIVER_OK))
		return;
	switch (off) {
	case CC_Q_SIZE:
		/* A driver may shrink the queue to another power of two;
		 * anything else leaves no ring layout both sides agree on. */
		if (!is_pow2(v) || v > t->cfg.queue_max)
			virtio_pci_needs_reset(t);
		else
			q->size = (uint16_t)v;
		break;
	case CC_Q_ENABLE:
		if (v == 1)          /* writing 0 is not allowed: ignored */
			q->enabled = true;
		break;
	case CC_Q_DESC_LO:
	case CC_Q_DESC_HI:
		set_half(&q->desc, off, v);
		break;
	case CC_Q_DRIVER_LO:
	case CC_Q_DRIVER_HI:
		set_half(&q->driver, off, v);
		break;
	case CC_Q_DEVICE_LO:
	case CC_Q_DEVICE_HI:
		set_half(&q->device, off, v);
		break;
	default:
		break;
	}
}

static void common_write(struct virtio_pci *t, uint32_t off, uint32_t v)
{
	struct virtio_pci_queue *q = selected(t);

	switch (off) {
	case CC_DFSELECT:
		t->dfselect = v;
		break;
	case CC_GFSELECT:
		t->gfselect = v;
		break;
	case CC_GF:
		/* Fixed once FEATURES_OK is set (3.1.1). */
		if (t->gfselect < 2 &&
		    !(atomic_load(&t->status) & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned int sh = 32 * t->gfselect;

			t->driver_features &= ~(0xffffffffULL << sh);
			t->driver_features |= (uint64_t)v << sh;
		}
		break;
	case CC_MSIX_CONFIG:
		atomic_store(&t->config_vector, vector_or_none(t, v));
		break;
	case CC_STATUS:
		status_write(t, (uint8_t)v);
		break;
	case CC_Q_SELECT:
		t->queue_select = (uint16_t)v;
		break;
	case CC_Q_SIZE:
	case CC_Q_MSIX:
	case CC_Q_ENABLE:
	case CC_Q_DESC_LO:
	case CC_Q_DESC_HI:
	case CC_Q_DRIVER_LO:
	case CC_Q_DRIVER_HI:
	case CC_Q_DEVICE_LO:
	case CC_Q_DEVICE_HI:
		if (q)
			queue_write(t, q, off, v);
		break;
	default:
		/* num_queues, config_generation, queue_notify_off: read-only;
		 * queue_notify_data, queue_reset: not offered. */
		break;
	}
}

static void common_io(struct virtio_pci *t, uint32_t off, uint8_t *data,
		      uint32_t len, bool is_write)
{
	uint32_t i;

	/* The 64-bit queue addresses also take one 8-byte access. */
	if (len == 8 && off >= CC_Q_DESC_LO && off < CC_Q_NOTIFY_DATA &&
	    off % 8 == 0) {
		for (i = 0; i < 8; i += 4)
			common_io(t, off + i, data + i, 4, is_write);
		return;
	}
	if (common_width(off) != len)
		return;              /* reads already zeroed */
	pthread_mutex_lock(&t->lock);
	if (is_write)
		common_write(t, off, (uint32_t)get_le(data, len));
	else
		put_le(data, common_read(t, off), len);
	pthread_mutex_unlock(&t->lock);
}

/* ---- BAR0 ---- */

/* peek: a read that must not have side effects (the ISR read-to-clear),
 * for the PCI_CFG window which samples the BAR when it is programmed. */
static void bar_access(struct virtio_pci *t, uint64_t off, uint8_t *data,
		       uint32_t len, bool is_write, bool peek)
{
	uint32_t cfg_len = t->cfg.config_len;
	uint64_t o;

	if (!is_write)
		memset(data, 0, len);
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	if (off >= VIRTIO_PCI_BAR_SIZE || len > VIRTIO_PCI_BAR_SIZE - off)
		return;

	if (off < VIRTIO_PCI_ISR_OFF) {
		common_io(t, (uint32_t)off, data, len, is_write);
	} else if (off < VIRTIO_PCI_DEVICE_OFF) {
		if (off == VIRTIO_PCI_ISR_OFF && len == 1 && !is_write)
			data[0] = peek ? atomic_load(&t->isr) :
				  atomic_exchange(&t->isr, 0);
	} else if (off < VIRTIO_PCI_NOTIFY_OFF) {
		o = off - VIRTIO_PCI_DEVICE_OFF;
		if (o + len > cfg_len)
			return;
		pthread_mutex_lock(&t->lock);
		if (!is_write)
			t->cfg.ops->config_read(t->cfg.dev, (uint32_t)o, data,
						len);
		else if (t->cfg.ops->config_write)
			t->cfg.ops->config_write(t->cfg.dev, (uint32_t)o, data,
						 len);
		pthread_mutex_unlock(&t->lock);
	} else if (off < VIRTIO_PCI_MSIX_OFF) {
		/* Without VIRTIO_F_NOTIFICATION_DATA the driver writes the
		 * 16-bit queue index at the queue's notify address. */
		o = off - VIRTIO_PCI_NOTIFY_OFF;
		if (is_write && len == 2 && o % VIRTIO_PCI_NOTIFY_MULT == 0 &&
		    o / VIRTIO_PCI_NOTIFY_MULT < t->cfg.nqueues) {
			kick(t->queue[o / VIRTIO_PCI_NOTIFY_MULT].kick_fd);
			atomic_fetch_add(&t->stats.mmio_kicks, 1);
		}
	} else if (off < VIRTIO_PCI_PBA_OFF) {
		o = off - VIRTIO_PCI_MSIX_OFF;
		if (o + len <= (uint64_t)t->msix.nvec * MSIX_ENTRY_SIZE)
			msix_table_io(&t->msix, o, data, len, is_write);
	} else {
		o = off - VIRTIO_PCI_PBA_OFF;
		if (o + len <= PBA_SIZE)
			msix_pba_io(&t->msix, o, data, len, is_write);
	}
}

void virtio_pci_bar_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	bar_access(dev, off, data, len, is_write, false);
}

/* ---- PCI_CFG access capability (4.1.4.9) ---- */

/* The window the driver programmed, false if it is not a valid access:
 * BAR0, length 1, 2 or 4, offset aligned to it. */
static bool window(const struct virtio_pci *t, uint32_t *off, uint32_t *len)
{
	const uint8_t *cap = &t->pci.cfg[t->pci_cfg_cap];

	*off = (uint32_t)get_le(cap + VCAP_OFFSET, 4);
	*len = (uint32_t)get_le(cap + VCAP_LENGTH, 4);
	return cap[VCAP_BAR] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       *off % *len == 0;
}

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

/* Called with pci.lock held, so cfg is stable. pci_cfg_data is sampled
 * whenever the driver (re)programs the window, as the PCI layer has no
 * read hook: a driver that programs the window before each access (as the
 * spec's driver requirements describe) reads current values. The ISR is
 * sampled without clearing it; with MSI-X the driver never needs it. */
static void cfg_written(void *dev, uint32_t off, uint32_t len)
{
	struct virtio_pci *t = dev;
	uint8_t *data = &t->pci.cfg[t->pci_cfg_cap + VCAP_EXTRA];
	uint8_t buf[4] = { 0 };
	uint32_t woff, wlen;
	bool ok;

	msix_cfg_written(&t->msix, off, len);
	ok = window(t, &woff, &wlen);
	if (overlaps(off, len, t->pci_cfg_cap + VCAP_BAR,
		     VCAP_EXTRA - VCAP_BAR)) {
		if (ok)
			bar_access(t, woff, buf, wlen, false, true);
		memcpy(data, buf, sizeof(buf));
	} else if (overlaps(off, len, t->pci_cfg_cap + VCAP_EXTRA, 4) && ok) {
		memcpy(buf, data, sizeof(buf));
		bar_access(t, woff, buf, wlen, true, false);
	}
}

/* ---- construction ---- */

static int add_vcap(struct virtio_pci *t, uint8_t type, uint32_t offset,
		    uint32_t length, uint8_t cap_len, uint32_t extra,
		    const uint8_t *wmask, uint8_t *at, struct rv_err *err)
{
	uint8_t cap[VCAP_EXT_LEN] = { PCI_CAP_ID_VNDR, 0, cap_len, type };

	cap[VCAP_BAR] = 0;
	put_le(cap + VCAP_OFFSET, offset, 4);
	put_le(cap + VCAP_LENGTH, length, 4);
	if (cap_len > VCAP_LEN)
		put_le(cap + VCAP_EXTRA, extra, 4);
	return pci_device_add_cap(&t->pci, cap, wmask, cap_len, at, err);
}

static int add_caps(struct virtio_pci *t, struct rv_err *err)
{
	uint8_t window_wmask[VCAP_EXT_LEN] = { 0 };

	/* The driver programs bar, offset, length and data of the window. */
	window_wmask[VCAP_BAR] = 0xff;
	memset(window_wmask + VCAP_OFFSET, 0xff, VCAP_EXT_LEN - VCAP_OFFSET);

	if (add_vcap(t, CAP_COMMON, VIRTIO_PCI_COMMON_OFF, CC_SIZE, VCAP_LEN,
		     0, NULL, NULL, err) < 0 ||
	    add_vcap(t, CAP_NOTIFY, VIRTIO_PCI_NOTIFY_OFF,
		     t->cfg.nqueues * VIRTIO_PCI_NOTIFY_MULT, VCAP_EXT_LEN,
		     VIRTIO_PCI_NOTIFY_MULT, NULL, NULL, err) < 0 ||
	    add_vcap(t, CAP_ISR, VIRTIO_PCI_ISR_OFF, 1, VCAP_LEN, 0, NULL,
		     NULL, err) < 0)
		return -1;
	/* 4.1.4.6: only device types that have a configuration get one
	 * (Linux rejects a zero-length device capability). */
	if (t->cfg.config_len &&
	    add_vcap(t, CAP_DEVICE, VIRTIO_PCI_DEVICE_OFF, t->cfg.config_len,
		     VCAP_LEN, 0, NULL, NULL, err) < 0)
		return -1;
	return add_vcap(t, CAP_PCI_CFG, 0, 0, VCAP_EXT_LEN, 0, window_wmask,
			&t->pci_cfg_cap, err);
}

static const char *bar_name(uint16_t type)
{
	switch (type) {
	case VIRTIO_ID_NET:
		return "virtio-net";
	case VIRTIO_ID_BLOCK:
		return "virtio-blk";
	case VIRTIO_ID_CONSOLE:
		return "virtio-console";
	case VIRTIO_ID_RNG:
		return "virtio-rng";
	default:
		return "virtio";
	}
}

static int check_config(const struct virtio_pci_config *c,
			struct rv_err *err)
{
	const struct virtio_dev_ops *o = c->ops;

	if (c->device_type == 0 || c->device_type > 0x3f)
		return rv_fail(err, "virtio-pci: bad device type %u",
			       c->device_type);
	if (c->nqueues < 1 || c->nqueues > VIRTIO_PCI_MAX_QUEUES)
		return rv_fail(err, "virtio-pci: %u queues (must be 1..%d)",
			       c->nqueues, VIRTIO_PCI_MAX_QUEUES);
	if (!is_pow2(c->queue_max) || c->queue_max > VIRTQ_MAX_SIZE)
		return rv_fail(err, "virtio-pci: queue size %u is not a power "
			       "of two up to %d", c->queue_max,
			       VIRTQ_MAX_SIZE);
	if (c->config_len > VIRTIO_PCI_NOTIFY_OFF - VIRTIO_PCI_DEVICE_OFF)
		return rv_fail(err, "virtio-pci: device config of %u bytes "
			       "is too large", c->config_len);
	if (c->class_code > 0xffffff)
		return rv_fail(err, "virtio-pci: bad class code %#x",
			       c->class_code);
	if (!o || !o->config_read || !o->set_features || !o->activate ||
	    !o->reset)
		return rv_fail(err, "virtio-pci: device ops incomplete");
	if (!c->mem)
		return rv_fail(err, "virtio-pci: no guest memory");
	return 0;
}

static void close_kick_fds(struct virtio_pci *t)
{
	unsigned int i;

	for (i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
		if (t->queue[i].kick_fd >= 0)
			close(t->queue[i].kick_fd);
		t->queue[i].kick_fd = -1;
	}
}

int virtio_pci_init(struct virtio_pci *t, const struct virtio_pci_config *cfg,
		    struct rv_err *err)
{
	/* One vector per queue plus configuration; with 64 queues the
	 * driver shares vectors (Linux falls back to that by itself). */
	unsigned int nvec = cfg->nqueues + 1 > MSIX_MAX_VECTORS ?
			    MSIX_MAX_VECTORS : cfg->nqueues + 1;
	uint16_t id = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + cfg->device_type);
	unsigned int i;

	if (check_config(cfg, err) < 0)
		return -1;
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	for (i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
		t->queue[i].kick_fd = -1;
		t->queue[i].irqfd = (struct virtio_pci_irqfd){ .fd = -1,
			.bound = -1, .t = t, .q = i };
	}

	/* 4.1.2.1: modern-only device: ID 0x1040 + type, revision >= 1. */
	pci_device_init(&t->pci, VIRTIO_PCI_VENDOR, id, cfg->class_code, 1,
			VIRTIO_PCI_VENDOR,
			(uint16_t)(VIRTIO_PCI_SUBSYS_BASE + cfg->device_type));
	if (pci_device_add_bar(&t->pci, 0, VIRTIO_PCI_BAR_SIZE, false, false,
			       virtio_pci_bar_io, t,
			       bar_name(cfg->device_type), err) < 0 ||
	    add_caps(t, err) < 0 ||
	    msix_init(&t->msix, &t->pci, nvec, 0, VIRTIO_PCI_MSIX_OFF,
		      VIRTIO_PCI_PBA_OFF, cfg->sink, err) < 0) {
		pci_device_destroy(&t->pci);
		return -1;
	}
	for (i = 0; i < cfg->nqueues; i++) {
		t->queue[i].kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (t->queue[i].kick_fd < 0) {
			rv_fail_errno(err, "virtio-pci: eventfd");
			close_kick_fds(t);
			msix_destroy(&t->msix);
			pci_device_destroy(&t->pci);
			return -1;
		}
	}
	msix_set_mask_listener(&t->msix, virtio_pci_irqfd_sync, t);
	t->pci.cfg_written = cfg_written;
	t->pci.cfg_written_dev = t;
	t->offered = (cfg->features | TRANSPORT_FEATURES) &
		     ~UNSUPPORTED_FEATURES;
	pthread_mutex_init(&t->lock, NULL);
	transport_reset(t);
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->active)
		t->cfg.ops->reset(t->cfg.dev);
	t->active = false;
	pthread_mutex_unlock(&t->lock);
	close_kick_fds(t);
	msix_destroy(&t->msix);
	pci_device_destroy(&t->pci);
	pthread_mutex_destroy(&t->lock);
}

static struct virtq *host_vq(void *ctx, unsigned int q)
{
	return virtio_pci_vq(ctx, q);
}

static int host_kick_fd(void *ctx, unsigned int q)
{
	return virtio_pci_kick_fd(ctx, q);
}

static void host_queue_irq(void *ctx, unsigned int q)
{
	virtio_pci_queue_irq(ctx, q);
}

static void host_needs_reset(void *ctx)
{
	virtio_pci_needs_reset(ctx);
}

static int host_queue_irqfd(void *ctx, unsigned int q, int fd,
			    struct ev_loop *l, struct rv_err *err)
{
	return virtio_pci_queue_irqfd(ctx, q, fd, l, err);
}

struct virtio_queue_host virtio_pci_queue_host(struct virtio_pci *t)
{
	return (struct virtio_queue_host){ host_vq, host_kick_fd,
					   host_queue_irq, host_needs_reset,
					   host_queue_irqfd, t };
}
