/* The virtio-pci modern transport as Linux's virtio_pci_modern driver finds
 * and drives it: PCI identity and capability chain, the init sequence,
 * feature negotiation, reset and driver reload, notifications, ISR, MSI-X
 * vectors, the PCI_CFG window, and hostile register accesses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "virtio/virtio_pci.h"
#include "unit/virtq_driver.c"

#define NQ          3
#define QMAX        256
#define CONFIG_LEN  24
#define RAM_SIZE    0x100000ULL
#define RING_BASE   0x10000ULL   /* queue q's rings at RING_BASE + q * 64K */
#define BUF_GPA     0x80000ULL

/* struct virtio_pci_common_cfg offsets (virtio 1.2, 4.1.4.3). */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c,
	MSIX_CONFIG = 0x10, NUM_QUEUES = 0x12, STATUS = 0x14, GENERATION = 0x15,
	Q_SELECT = 0x16, Q_SIZE = 0x18, Q_MSIX = 0x1a, Q_ENABLE = 0x1c,
	Q_NOTIFY_OFF = 0x1e, Q_DESC = 0x20, Q_DRIVER = 0x28, Q_DEVICE = 0x30,
	Q_NOTIFY_DATA = 0x38, Q_RESET = 0x3a,
};

#define ACK        VIRTIO_STATUS_ACKNOWLEDGE
#define DRV        VIRTIO_STATUS_DRIVER
#define FEAT_OK    VIRTIO_STATUS_FEATURES_OK
#define DRV_OK     VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RST  VIRTIO_STATUS_NEEDS_RESET

#define F_DEV_A    (1ULL << 5)     /* a device-specific feature */
#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT  (1ULL << VIRTIO_RING_F_INDIRECT_DESC)

struct fake_dev {
	struct virtio_pci *t;
	uint8_t config[CONFIG_LEN];
	unsigned int config_reads, config_writes;
	/* Recorded, not asserted: a cmocka failure inside a callback would
	 * longjmp out with the transport lock held. */
	unsigned int bad_config_access;
	unsigned int set_features_calls;
	uint64_t features;
	int set_features_ret;
	unsigned int activate_calls;
	int activate_ret;
	unsigned int reset_calls;
	bool irq_in_callbacks;       /* raise interrupts from inside them */
	bool irq_thread_in_reset;    /* reset waits for an "I/O thread" */
	struct virtq *vq_at_activate[NQ];
	uint64_t negotiated_at_activate;
};

static void fd_config_read(void *dev, uint32_t off, uint8_t *data,
			   uint32_t len)
{
	struct fake_dev *d = dev;

	if (off + len > CONFIG_LEN) {
		d->bad_config_access++;
		return;
	}
	memcpy(data, d->config + off, len);
	d->config_reads++;
}

static void fd_config_write(void *dev, uint32_t off, const uint8_t *data,
			    uint32_t len)
{
	struct fake_dev *d = dev;

	if (off + len > CONFIG_LEN) {
		d->bad_config_access++;
		return;
	}
	memcpy(d->config + off, data, len);
	d->config_writes++;
}

static int fd_set_features(void *dev, uint64_t features)
{
	struct fake_dev *d = dev;

	d->set_features_calls++;
	d->features = features;
	return d->set_features_ret;
}

static int fd_activate(void *dev)
{
	struct fake_dev *d = dev;
	unsigned int q;

	d->activate_calls++;
	for (q = 0; q < NQ; q++)
		d->vq_at_activate[q] = virtio_pci_vq(d->t, q);
	d->negotiated_at_activate = virtio_pci_negotiated(d->t);
	/* With t->lock held: must not deadlock. */
	if (d->irq_in_callbacks) {
		virtio_pci_queue_irq(d->t, 0);
		virtio_pci_config_irq(d->t);
	}
	return d->activate_ret;
}

/* A device's I/O thread finishing its work while reset waits for it. */
static void *io_thread(void *arg)
{
	struct virtio_pci *t = arg;

	virtio_pci_queue_irq(t, 0);
	virtio_pci_config_irq(t);
	virtio_pci_needs_reset(t);
	return virtio_pci_vq(t, 0);
}

static void fd_reset(void *dev)
{
	struct fake_dev *d = dev;
	pthread_t th;
	void *vq = NULL;

	d->reset_calls++;
	if (d->irq_thread_in_reset &&
	    pthread_create(&th, NULL, io_thread, d->t) == 0) {
		pthread_join(th, &vq);
		if (!vq)
			d->bad_config_access++;   /* queue must still be live */
	}
	if (d->irq_in_callbacks) {
		virtio_pci_queue_irq(d->t, 1);
		virtio_pci_needs_reset(d->t);
	}
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = fd_config_read,
	.config_write = fd_config_write,
	.set_features = fd_set_features,
	.activate = fd_activate,
	.reset = fd_reset,
};

struct sink_rec {
	unsigned int fired[MSIX_MAX_VECTORS];
	unsigned int total_fired;
	unsigned int routed;
	uint64_t addr[MSIX_MAX_VECTORS];
	uint32_t data[MSIX_MAX_VECTORS];
	unsigned int bad_vector;     /* recorded: called under msix.lock */
	/* bind: which vector each fd (< 64) is a direct source of, -1 none;
	 * refuse makes it fail as KVM would. */
	int bound_to[64];
	unsigned int binds, unbinds;
	bool refuse;
};

static void sink_route(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	struct sink_rec *s = ctx;

	if (v >= MSIX_MAX_VECTORS) {
		s->bad_vector++;
		return;
	}
	s->addr[v] = addr;
	s->data[v] = data;
	s->routed++;
}

static void sink_fire(void *ctx, unsigned int v)
{
	struct sink_rec *s = ctx;

	if (v >= MSIX_MAX_VECTORS) {
		s->bad_vector++;
		return;
	}
	s->fired[v]++;
	s->total_fired++;
}

static int sink_bind(void *ctx, unsigned int v, int fd, bool on)
{
	struct sink_rec *s = ctx;

	if (v >= MSIX_MAX_VECTORS || fd < 0 || fd >= 64) {
		s->bad_vector++;
		return -1;
	}
	if (on) {
		if (s->refuse)
			return -1;
		assert_int_equal(s->bound_to[fd], -1);   /* never twice */
		s->bound_to[fd] = (int)v;
		s->binds++;
	} else {
		assert_int_equal(s->bound_to[fd], (int)v);
		s->bound_to[fd] = -1;
		s->unbinds++;
	}
	return 0;
}

struct fixture {
	struct guest_mem mem;
	struct fake_dev dev;
	struct sink_rec sink;
	struct virtio_pci t;
	struct vqd vqd[NQ];
};

static struct virtio_pci_config make_config(struct fixture *f)
{
	return (struct virtio_pci_config){
		.device_type = VIRTIO_ID_BLOCK,
		.class_code = 0x010000,
		/* ACCESS_PLATFORM asked for by the device: never offered. */
		.features = F_DEV_A | (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
			    (1ULL << 34),
		.nqueues = NQ,
		.queue_max = QMAX,
		.config_len = CONFIG_LEN,
		.ops = &fake_ops,
		.dev = &f->dev,
		.mem = &f->mem,
		.sink = { .route = sink_route, .fire = sink_fire,
			  .bind = sink_bind, .ctx = &f->sink },
	};
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct guest_region r = { .gpa = 0, .size = RAM_SIZE };
	struct virtio_pci_config c;
	struct rv_err err;
	unsigned int i;

	if (!f || guest_mem_map(&f->mem, &r, 1, &err) < 0)
		return -1;
	for (i = 0; i < CONFIG_LEN; i++)
		f->dev.config[i] = (uint8_t)(0xc0 + i);
	for (i = 0; i < 64; i++)
		f->sink.bound_to[i] = -1;
	f->dev.t = &f->t;
	c = make_config(f);
	if (virtio_pci_init(&f->t, &c, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_pci_destroy(&f->t);
	guest_mem_unmap(&f->mem);
	assert_int_equal(f->dev.bad_config_access, 0);
	assert_int_equal(f->sink.bad_vector, 0);
	test_free(f);
	return 0;
}

/* ---- access helpers ---- */

/* The data buffer is exactly len bytes on the heap, so ASan catches a
 * handler that writes past it. */
static uint64_t bar_rd(struct virtio_pci *t, uint64_t off, uint32_t len)
{
	uint8_t *buf = malloc(len);
	uint64_t v = 0;
	uint32_t i;

	assert_non_null(buf);
	memset(buf, 0xa5, len);
	virtio_pci_bar_io(t, off, buf, len, false);
	for (i = 0; i < len && i < 8; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	free(buf);
	return v;
}

static void bar_wr(struct virtio_pci *t, uint64_t off, uint32_t len,
		   uint64_t v)
{
	uint8_t *buf = malloc(len);
	uint32_t i;

	assert_non_null(buf);
	for (i = 0; i < len; i++)
		buf[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
	virtio_pci_bar_io(t, off, buf, len, true);
	free(buf);
}

static uint32_t cfg_rd(struct virtio_pci *t, uint32_t off, uint32_t len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_read(&t->pci, off, b, len);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void cfg_wr(struct virtio_pci *t, uint32_t off, uint32_t len,
		   uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	pci_cfg_write(&t->pci, off, b, len);
}

static uint8_t status(struct virtio_pci *t)
{
	return (uint8_t)bar_rd(t, STATUS, 1);
}

static void set_status(struct virtio_pci *t, uint8_t s)
{
	bar_wr(t, STATUS, 1, s);
}

static void write_features(struct virtio_pci *t, uint64_t f)
{
	bar_wr(t, GFSELECT, 4, 0);
	bar_wr(t, GF, 4, (uint32_t)f);
	bar_wr(t, GFSELECT, 4, 1);
	bar_wr(t, GF, 4, f >> 32);
}

static uint64_t read_features(struct virtio_pci *t)
{
	uint64_t f;

	bar_wr(t, DFSELECT, 4, 1);
	f = bar_rd(t, DF, 4) << 32;
	bar_wr(t, DFSELECT, 4, 0);
	return f | bar_rd(t, DF, 4);
}

static void write64(struct virtio_pci *t, uint32_t off, uint64_t v)
{
	bar_wr(t, off, 4, (uint32_t)v);
	bar_wr(t, off + 4, 4, v >> 32);
}

/* One queue as vp_modern's setup_vq programs it. */
static void setup_queue(struct fixture *f, unsigned int q, uint16_t size,
			uint64_t desc_override)
{
	struct virtio_pci *t = &f->t;
	struct vqd *d = &f->vqd[q];

	bar_wr(t, Q_SELECT, 2, q);
	assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
	assert_int_equal(bar_rd(t, Q_ENABLE, 2), 0);
	assert_int_equal(vqd_init(d, &f->mem, size, RING_BASE + q * 0x10000ULL),
			 0);
	bar_wr(t, Q_SIZE, 2, size);
	bar_wr(t, Q_MSIX, 2, q + 1);
	assert_int_equal(bar_rd(t, Q_MSIX, 2), q + 1);
	write64(t, Q_DESC, desc_override ? desc_override : d->desc_gpa);
	write64(t, Q_DRIVER, d->avail_gpa);
	write64(t, Q_DEVICE, d->used_gpa);
	assert_int_equal(bar_rd(t, Q_NOTIFY_OFF, 2), q);
	bar_wr(t, Q_ENABLE, 2, 1);
	assert_int_equal(bar_rd(t, Q_ENABLE, 2), 1);
}

/* Linux's order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (read
 * back), config vector, queues, DRIVER_OK. Returns the final status. */
static uint8_t linux_init(struct fixture *f, uint64_t accept,
			  uint64_t bad_desc)
{
	struct virtio_pci *t = &f->t;
	uint64_t offered;
	unsigned int q;

	set_status(t, 0);
	assert_int_equal(status(t), 0);
	set_status(t, ACK);
	set_status(t, ACK | DRV);
	offered = read_features(t);
	write_features(t, offered & accept);
	set_status(t, ACK | DRV | FEAT_OK);
	if (!(status(t) & FEAT_OK))
		return status(t);
	bar_wr(t, MSIX_CONFIG, 2, 0);
	assert_int_equal(bar_rd(t, MSIX_CONFIG, 2), 0);
	for (q = 0; q < NQ; q++)
		setup_queue(f, q, 64, q == 1 ? bad_desc : 0);
	set_status(t, ACK | DRV | FEAT_OK | DRV_OK);
	return status(t);
}

/* MSI-X as Linux enables it: control word, then table entries unmasked. */
static uint8_t find_cap(struct virtio_pci *t, uint8_t id)
{
	uint8_t p = (uint8_t)cfg_rd(t, PCI_CAP_PTR, 1);
	unsigned int n = 0;

	while (p && n++ < 48) {
		if (cfg_rd(t, p, 1) == id)
			return p;
		p = (uint8_t)cfg_rd(t, p + 1u, 1);
	}
	return 0;
}

static void enable_msix(struct virtio_pci *t)
{
	uint8_t cap = find_cap(t, PCI_CAP_ID_MSIX);
	unsigned int v, nvec;

	assert_int_not_equal(cap, 0);
	nvec = (cfg_rd(t, cap + 2u, 2) & 0x7ff) + 1;
	for (v = 0; v < nvec; v++) {
		uint64_t e = VIRTIO_PCI_MSIX_OFF + 16ULL * v;

		bar_wr(t, e, 4, 0xfee00000u + (v << 12));
		bar_wr(t, e + 4, 4, 0);
		bar_wr(t, e + 8, 4, 0x40 + v);
		bar_wr(t, e + 12, 4, 0);          /* unmask */
	}
	cfg_wr(t, cap + 2u, 2, 0x8000);
}

/* ---- PCI identity and capabilities ---- */

static void test_pci_identity(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	assert_int_equal(cfg_rd(t, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(t, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_BLOCK);
	/* 4.1.2.1: modern-only devices have revision >= 1 and a subsystem
	 * ID >= 0x40 (Linux's transitional probe would claim < 0x40). */
	assert_int_equal(cfg_rd(t, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_rd(t, PCI_SUBSYS_VENDOR, 2), 0x1af4);
	assert_true(cfg_rd(t, PCI_SUBSYS_ID, 2) >= 0x40);
	assert_int_equal(cfg_rd(t, PCI_REVISION_ID, 4) >> 8, 0x010000);
	assert_true(cfg_rd(t, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* BAR0: 32-bit memory, sized VIRTIO_PCI_BAR_SIZE. */
	cfg_wr(t, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(cfg_rd(t, PCI_BAR0, 4),
			 (uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1));
	assert_int_equal(t->pci.bar[0].size, VIRTIO_PCI_BAR_SIZE);
	assert_ptr_equal(t->pci.bar[0].fn, virtio_pci_bar_io);
	assert_ptr_equal(t->pci.bar[0].dev, t);
}

struct found_cap {
	uint8_t at;
	uint8_t bar;
	uint32_t offset, length;
};

/* Walks the vendor capabilities as virtio_pci_find_capability and
 * vp_modern_map_capability do: first of each type, bar < 6, and the
 * structure must lie inside the BAR with the minimum length/alignment. */
static void walk_caps(struct virtio_pci *t, struct found_cap found[6],
		      uint32_t *notify_mult)
{
	uint8_t p = (uint8_t)cfg_rd(t, PCI_CAP_PTR, 1);
	unsigned int n = 0;

	memset(found, 0, 6 * sizeof(*found));
	while (p) {
		assert_true(++n < 48);           /* no loop in the chain */
		assert_true(p >= 0x40 && p % 4 == 0);
		if (cfg_rd(t, p, 1) == PCI_CAP_ID_VNDR) {
			uint8_t type = (uint8_t)cfg_rd(t, p + 3u, 1);
			uint8_t len = (uint8_t)cfg_rd(t, p + 2u, 1);

			assert_true(len >= 16);
			assert_true(p + len <= PCI_CFG_SIZE);
			assert_true(type >= 1 && type <= 5);
			if (!found[type].at) {
				found[type].at = p;
				found[type].bar = (uint8_t)cfg_rd(t, p + 4u, 1);
				found[type].offset = cfg_rd(t, p + 8u, 4);
				found[type].length = cfg_rd(t, p + 12u, 4);
			}
			if (type == 2) {
				assert_int_equal(len, 20);
				*notify_mult = cfg_rd(t, p + 16u, 4);
			}
			if (type == 5)
				assert_int_equal(len, 20);
		}
		p = (uint8_t)cfg_rd(t, p + 1u, 1);
	}
}

static void check_mapped(const struct found_cap *c, uint32_t minlen,
			 uint32_t align)
{
	assert_int_not_equal(c->at, 0);
	assert_int_equal(c->bar, 0);
	assert_true(c->length > 0 && c->length >= minlen);
	assert_int_equal(c->offset % align, 0);
	assert_true((uint64_t)c->offset + c->length <= VIRTIO_PCI_BAR_SIZE);
}

static void test_capability_chain(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	struct found_cap c[6];
	uint32_t mult = 0;
	uint8_t msix;

	walk_caps(t, c, &mult);
	check_mapped(&c[1], 0x38, 4);               /* common */
	assert_int_equal(c[1].offset, VIRTIO_PCI_COMMON_OFF);
	assert_true(c[1].length >= 0x3c);
	check_mapped(&c[2], 2, 2);                  /* notify */
	assert_int_equal(c[2].offset, VIRTIO_PCI_NOTIFY_OFF);
	assert_int_equal(mult, VIRTIO_PCI_NOTIFY_MULT);
	/* Every queue's notify address lies inside the notify structure. */
	assert_true((NQ - 1) * mult + 2 <= c[2].length);
	check_mapped(&c[3], 1, 1);                  /* ISR */
	assert_int_equal(c[3].offset, VIRTIO_PCI_ISR_OFF);
	check_mapped(&c[4], 0, 4);                  /* device config */
	assert_int_equal(c[4].offset, VIRTIO_PCI_DEVICE_OFF);
	assert_int_equal(c[4].length, CONFIG_LEN);
	assert_int_not_equal(c[5].at, 0);           /* PCI_CFG access */

	/* MSI-X: NQ + 1 vectors, table and PBA in BAR0 where they should. */
	msix = find_cap(t, PCI_CAP_ID_MSIX);
	assert_int_not_equal(msix, 0);
	assert_int_equal((cfg_rd(t, msix + 2u, 2) & 0x7ff) + 1, NQ + 1);
	assert_int_equal(cfg_rd(t, msix + 4u, 4), VIRTIO_PCI_MSIX_OFF | 0);
	assert_int_equal(cfg_rd(t, msix + 8u, 4), VIRTIO_PCI_PBA_OFF | 0);

	/* The structures are read-only to the guest. */
	cfg_wr(t, c[1].at + 8u, 4, 0x1234);
	cfg_wr(t, c[1].at + 3u, 1, 4);
	assert_int_equal(cfg_rd(t, c[1].at + 8u, 4), VIRTIO_PCI_COMMON_OFF);
	assert_int_equal(cfg_rd(t, c[1].at + 3u, 1), 1);
}

static int dev_with(struct fixture *f, struct virtio_pci *t,
		    unsigned int nq, uint32_t config_len, struct rv_err *err)
{
	struct virtio_pci_config c = make_config(f);

	c.nqueues = nq;
	c.config_len = config_len;
	c.device_type = VIRTIO_ID_RNG;
	return virtio_pci_init(t, &c, err);
}

/* virtio-rng has no configuration: no device capability at all, since
 * Linux refuses a zero-length one. 64 queues still get MSI-X. */
static void test_no_config_and_max_queues(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = test_calloc(1, sizeof(*t));
	struct found_cap c[6];
	struct rv_err err;
	uint32_t mult;

	assert_int_equal(dev_with(f, t, 1, 0, &err), 0);
	walk_caps(t, c, &mult);
	assert_int_not_equal(c[1].at, 0);
	assert_int_equal(c[4].at, 0);
	assert_int_equal(cfg_rd(t, PCI_DEVICE_ID, 2), 0x1044);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_DEVICE_OFF, 1), 0);
	virtio_pci_destroy(t);

	assert_int_equal(dev_with(f, t, VIRTIO_PCI_MAX_QUEUES, 0, &err), 0);
	assert_int_equal(bar_rd(t, NUM_QUEUES, 2), VIRTIO_PCI_MAX_QUEUES);
	bar_wr(t, Q_SELECT, 2, VIRTIO_PCI_MAX_QUEUES - 1);
	assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * (VIRTIO_PCI_MAX_QUEUES - 1), 2,
	       VIRTIO_PCI_MAX_QUEUES - 1);
	assert_int_equal(t->stats.mmio_kicks, 1);
	virtio_pci_destroy(t);
	test_free(t);
}

static void test_init_rejects_bad_config(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = test_calloc(1, sizeof(*t));
	struct virtio_dev_ops no_reset = fake_ops;
	struct virtio_pci_config c;
	struct rv_err err;
	struct {
		unsigned int nq;
		uint16_t qmax;
		uint32_t config_len;
		uint16_t type;
		const struct virtio_dev_ops *ops;
	} bad[] = {
		{ 0, QMAX, 0, 2, &fake_ops },
		{ VIRTIO_PCI_MAX_QUEUES + 1, QMAX, 0, 2, &fake_ops },
		{ 1, 0, 0, 2, &fake_ops },
		{ 1, 100, 0, 2, &fake_ops },
		{ 1, QMAX, 0x1001, 2, &fake_ops },
		{ 1, QMAX, 0, 0, &fake_ops },
		{ 1, QMAX, 0, 0x40, &fake_ops },
		{ 1, QMAX, 0, 2, NULL },
		{ 1, QMAX, 0, 2, &no_reset },
	};
	unsigned int i;

	no_reset.reset = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = make_config(f);
		c.nqueues = bad[i].nq;
		c.queue_max = bad[i].qmax;
		c.config_len = bad[i].config_len;
		c.device_type = bad[i].type;
		c.ops = bad[i].ops;
		err.msg[0] = 0;
		assert_int_equal(virtio_pci_init(t, &c, &err), -1);
		assert_true(strlen(err.msg) > 0);
	}
	/* Limits themselves are fine. */
	c = make_config(f);
	c.queue_max = VIRTQ_MAX_SIZE;
	c.config_len = 0x1000;
	assert_int_equal(virtio_pci_init(t, &c, &err), 0);
	virtio_pci_destroy(t);
	test_free(t);
}

/* ---- negotiation and the Linux init sequence ---- */

static void test_offered_features(void **state)
{
	struct fixture *f = *state;
	uint64_t off = read_features(&f->t);

	assert_true(off & F_VERSION_1);
	assert_true(off & F_EVENT_IDX);
	assert_true(off & F_INDIRECT);
	assert_true(off & F_DEV_A);
	assert_false(off & (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	assert_false(off & (1ULL << 34));           /* RING_PACKED */
	assert_false(off & (1ULL << 40));           /* RING_RESET */
	/* Feature words beyond 64 bits read 0. */
	bar_wr(&f->t, DFSELECT, 4, 2);
	assert_int_equal(bar_rd(&f->t, DF, 4), 0);
	bar_wr(&f->t, DFSELECT, 4, 0xffffffff);
	assert_int_equal(bar_rd(&f->t, DF, 4), 0);
	assert_int_equal(bar_rd(&f->t, NUM_QUEUES, 2), NQ);
}

static void test_linux_init_sequence(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint8_t st = linux_init(f, ~0ULL, 0);
	struct vqd_seg seg = { .gpa = BUF_GPA, .len = 512, .write = true };
	struct iovec iov[4];
	struct virtq_chain chain = { .iov = iov, .iov_cap = 4 };
	unsigned int q;
	uint32_t id, len;

	assert_int_equal(st, ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->dev.set_features_calls, 1);
	assert_int_equal(f->dev.features, F_VERSION_1 | F_EVENT_IDX |
			 F_INDIRECT | F_DEV_A);
	assert_int_equal(f->dev.negotiated_at_activate, f->dev.features);
	assert_int_equal(f->dev.activate_calls, 1);
	assert_int_equal(f->dev.reset_calls, 0);
	for (q = 0; q < NQ; q++) {
		struct virtq *vq = f->dev.vq_at_activate[q];

		assert_non_null(vq);
		assert_ptr_equal(vq, virtio_pci_vq(t, q));
		assert_int_equal(vq->size, 64);
		assert_int_equal(vq->desc_gpa, f->vqd[q].desc_gpa);
		assert_int_equal(vq->avail_gpa, f->vqd[q].avail_gpa);
		assert_int_equal(vq->used_gpa, f->vqd[q].used_gpa);
		assert_true(vq->event_idx);
		assert_true(vq->indirect);
		assert_int_equal(atomic_load(&t->queue[q].msix_vector), q + 1);
	}
	assert_null(virtio_pci_vq(t, NQ));

	/* The rings really are the driver's: a buffer it publishes on queue
	 * 2 is what the device pops, and the device's answer comes back. */
	vqd_publish(&f->vqd[2], vqd_add(&f->vqd[2], &seg, 1));
	assert_int_equal(virtq_pop(virtio_pci_vq(t, 2), &chain), VIRTQ_OK);
	assert_int_equal(chain.in_len, 512);
	assert_ptr_equal(iov[0].iov_base, guest_mem_ptr(&f->mem, BUF_GPA, 1));
	virtq_push(virtio_pci_vq(t, 2), chain.head, 7);
	assert_true(vqd_get_used(&f->vqd[2], &id, &len));
	assert_int_equal(len, 7);
	assert_int_equal(virtq_pop(virtio_pci_vq(t, 0), &chain), VIRTQ_EMPTY);
}

/* The driver may decline EVENT_IDX/INDIRECT: the rings follow suit. */
static void test_minimal_features(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(linux_init(f, F_VERSION_1, 0),
			 ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->dev.features, F_VERSION_1);
	assert_non_null(virtio_pci_vq(&f->t, 0));
	assert_false(virtio_pci_vq(&f->t, 0)->event_idx);
	assert_false(virtio_pci_vq(&f->t, 0)->indirect);
}

static void test_device_refuses_features(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	f->dev.set_features_ret = -1;
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV);
	assert_int_equal(f->dev.set_features_calls, 1);
	/* Writing DRIVER_OK anyway: the device cannot run. */
	set_status(t, ACK | DRV | DRV_OK);
	assert_true(status(t) & NEEDS_RST);
	assert_false(status(t) & FEAT_OK);
	assert_int_equal(f->dev.activate_calls, 0);
	/* A reset recovers; the device accepts this time. */
	f->dev.set_features_ret = 0;
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->dev.reset_calls, 0);    /* never activated */
	assert_int_equal(f->dev.activate_calls, 1);
}

static void test_features_need_version_1(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(linux_init(f, ~F_VERSION_1, 0), ACK | DRV);
	assert_int_equal(f->dev.set_features_calls, 0);
}

static void test_unoffered_feature_refused(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	set_status(t, ACK | DRV);
	write_features(t, F_VERSION_1 | (1ULL << 6));
	set_status(t, ACK | DRV | FEAT_OK);
	assert_int_equal(status(t), ACK | DRV);
	assert_int_equal(f->dev.set_features_calls, 0);
	/* Corrected and retried without a reset: accepted. */
	write_features(t, F_VERSION_1);
	set_status(t, ACK | DRV | FEAT_OK);
	assert_int_equal(status(t), ACK | DRV | FEAT_OK);
}

static void test_features_fixed_after_features_ok(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	set_status(t, ACK | DRV);
	write_features(t, F_VERSION_1);
	set_status(t, ACK | DRV | FEAT_OK);
	write_features(t, F_VERSION_1 | F_DEV_A | F_EVENT_IDX);
	bar_wr(t, GFSELECT, 4, 0);
	assert_int_equal(bar_rd(t, GF, 4), 0);
	bar_wr(t, GFSELECT, 4, 1);
	assert_int_equal(bar_rd(t, GF, 4), 1);
	assert_int_equal(virtio_pci_negotiated(t), F_VERSION_1);
	/* Setting FEATURES_OK again renegotiates nothing. */
	set_status(t, ACK | DRV | FEAT_OK);
	assert_int_equal(f->dev.set_features_calls, 1);
}

static void test_status_bits_accumulate(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	set_status(t, ACK);
	set_status(t, DRV);
	assert_int_equal(status(t), ACK | DRV);
	/* Only the device sets NEEDS_RESET; reserved bits stay clear. */
	set_status(t, NEEDS_RST | 0x30);
	assert_int_equal(status(t), ACK | DRV);
	set_status(t, VIRTIO_STATUS_FAILED);
	assert_int_equal(status(t), ACK | DRV | VIRTIO_STATUS_FAILED);
	set_status(t, 0);
	assert_int_equal(status(t), 0);
}

/* ---- reset and reload ---- */

static void test_reset_after_activate(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint64_t v;
	unsigned int q;

	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);   /* a stale kick */
	virtio_pci_queue_irq(t, 0);
	set_status(t, 0);
	assert_int_equal(f->dev.reset_calls, 1);
	assert_int_equal(status(t), 0);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 0);
	assert_int_equal(bar_rd(t, MSIX_CONFIG, 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(bar_rd(t, Q_SELECT, 2), 0);
	bar_wr(t, GFSELECT, 4, 0);
	assert_int_equal(bar_rd(t, GF, 4), 0);
	assert_int_equal(virtio_pci_negotiated(t), 0);
	for (q = 0; q < NQ; q++) {
		bar_wr(t, Q_SELECT, 2, q);
		assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
		assert_int_equal(bar_rd(t, Q_ENABLE, 2), 0);
		assert_int_equal(bar_rd(t, Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
		assert_int_equal(bar_rd(t, Q_DESC, 8), 0);
		assert_int_equal(bar_rd(t, Q_DRIVER, 8), 0);
		assert_int_equal(bar_rd(t, Q_DEVICE, 8), 0);
		assert_null(virtio_pci_vq(t, q));
		/* Drained: the next driver does not see the old kick. */
		assert_int_equal(read(virtio_pci_kick_fd(t, q), &v, 8), -1);
		assert_int_equal(errno, EAGAIN);
	}
	/* A second reset of an idle device does not call the device. */
	set_status(t, 0);
	assert_int_equal(f->dev.reset_calls, 1);
}

static void test_driver_reload(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	/* linux_init starts with a reset, as a driver rebind does. */
	assert_int_equal(linux_init(f, F_VERSION_1, 0),
			 ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->dev.reset_calls, 1);
	assert_int_equal(f->dev.activate_calls, 2);
	assert_int_equal(f->dev.features, F_VERSION_1);
	assert_non_null(virtio_pci_vq(t, 0));
	assert_false(virtio_pci_vq(t, 0)->event_idx);
}

static void test_bad_ring_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint64_t bad[] = { RAM_SIZE, RAM_SIZE - 16, 0xfffffffffffffff0ULL,
			   RING_BASE + 0x10000 + 8 /* misaligned */ };
	unsigned int i;

	enable_msix(t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned int fired = f->sink.fired[0];

		assert_int_equal(linux_init(f, ~0ULL, bad[i]),
				 ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RST);
		assert_int_equal(f->dev.activate_calls, 0);
		assert_null(virtio_pci_vq(t, 0));
		/* 2.1.2: DRIVER_OK was set, so a config interrupt tells it. */
		assert_int_equal(f->sink.fired[0], fired + 1);
		assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 2);
	}
	/* The driver resets and retries with good rings. */
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->dev.activate_calls, 1);
	assert_int_equal(f->dev.reset_calls, 0);
}

static void test_activate_failure_needs_reset(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	f->dev.activate_ret = -1;
	assert_int_equal(linux_init(f, ~0ULL, 0),
			 ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RST);
	assert_int_equal(f->dev.activate_calls, 1);
	assert_null(virtio_pci_vq(t, 0));
	set_status(t, 0);
	assert_int_equal(f->dev.reset_calls, 0);    /* activate never took */
	assert_int_equal(status(t), 0);
}

/* Devices raise interrupts from inside callbacks (t->lock held) and call
 * needs_reset from their own threads: none of that may deadlock. */
static void test_irq_from_callbacks(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	f->dev.irq_in_callbacks = true;
	enable_msix(t);
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->sink.fired[1], 1);     /* queue 0's vector */
	assert_int_equal(f->sink.fired[0], 1);     /* config vector */
	virtio_pci_needs_reset(t);
	assert_true(status(t) & NEEDS_RST);
	assert_int_equal(f->sink.fired[0], 2);
	set_status(t, 0);
	assert_int_equal(f->dev.reset_calls, 1);
	assert_int_equal(status(t), 0);            /* the reset won */
}

/* Reset waits for the device's I/O thread, which raises interrupts on its
 * way out: they must not wait for the lock the reset holds. Meanwhile
 * another thread keeps raising interrupts during register traffic. */
static void *irq_hammer(void *arg)
{
	struct virtio_pci *t = arg;
	unsigned int i;

	for (i = 0; i < 20000; i++)
		virtio_pci_queue_irq(t, i % NQ);
	return NULL;
}

static void test_irq_threads(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	pthread_t th;
	unsigned int i;

	f->dev.irq_thread_in_reset = true;
	enable_msix(t);
	assert_int_equal(pthread_create(&th, NULL, irq_hammer, t), 0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(linux_init(f, ~0ULL, 0),
				 ACK | DRV | FEAT_OK | DRV_OK);
		bar_rd(t, VIRTIO_PCI_ISR_OFF, 1);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	set_status(t, 0);
	assert_int_equal(f->dev.reset_calls, 20);
	assert_int_equal(status(t), 0);
	/* Every interrupt was counted; none got lost to a torn update (each
	 * reset's thread: queue, config, and the needs-reset config one). */
	assert_int_equal(t->stats.irqs, 20000 + 20 * 3);
}

static void test_driver_ok_without_features_ok(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	set_status(t, ACK | DRV | DRV_OK);
	assert_true(status(t) & NEEDS_RST);
	assert_int_equal(f->dev.activate_calls, 0);
	/* Everything at once, features never written: refused too. */
	set_status(t, 0);
	set_status(t, 0xff);
	assert_false(status(t) & FEAT_OK);
	assert_true(status(t) & NEEDS_RST);
	assert_int_equal(f->dev.activate_calls, 0);
}

/* ---- queues ---- */

static void test_queue_select_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint16_t sel[] = { NQ, VIRTIO_PCI_MAX_QUEUES, 0xffff };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		bar_wr(t, Q_SELECT, 2, sel[i]);
		assert_int_equal(bar_rd(t, Q_SELECT, 2), sel[i]);
		assert_int_equal(bar_rd(t, Q_SIZE, 2), 0);
		bar_wr(t, Q_SIZE, 2, 16);
		bar_wr(t, Q_MSIX, 2, 1);
		bar_wr(t, Q_DESC, 8, 0x1000);
		bar_wr(t, Q_ENABLE, 2, 1);
		assert_int_equal(bar_rd(t, Q_SIZE, 2), 0);
		assert_int_equal(bar_rd(t, Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
		assert_int_equal(bar_rd(t, Q_ENABLE, 2), 0);
		assert_int_equal(bar_rd(t, Q_DESC, 8), 0);
		assert_int_equal(bar_rd(t, Q_NOTIFY_OFF, 2), 0);
	}
	assert_int_equal(status(t), 0);
	for (i = 0; i < NQ; i++) {
		bar_wr(t, Q_SELECT, 2, i);
		assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
		assert_int_equal(bar_rd(t, Q_ENABLE, 2), 0);
	}
	assert_null(virtio_pci_vq(t, 100));
	assert_int_equal(virtio_pci_kick_fd(t, NQ), -1);
}

static void test_queue_size_rules(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint16_t bad[] = { 0, 3, 100, QMAX * 2, 0xffff };
	unsigned int i;

	bar_wr(t, Q_SELECT, 2, 0);
	bar_wr(t, Q_SIZE, 2, 32);
	assert_int_equal(bar_rd(t, Q_SIZE, 2), 32);
	bar_wr(t, Q_SIZE, 2, QMAX);
	assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
	/* Enable 0 is not allowed: ignored. */
	bar_wr(t, Q_ENABLE, 2, 0);
	assert_int_equal(bar_rd(t, Q_ENABLE, 2), 0);
	/* Once enabled, the queue's configuration is fixed. */
	bar_wr(t, Q_DESC, 8, 0x2000);
	bar_wr(t, Q_ENABLE, 2, 1);
	bar_wr(t, Q_SIZE, 2, 16);
	bar_wr(t, Q_DESC, 8, 0x4000);
	bar_wr(t, Q_ENABLE, 2, 0);
	assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
	assert_int_equal(bar_rd(t, Q_DESC, 8), 0x2000);
	assert_int_equal(bar_rd(t, Q_ENABLE, 2), 1);
	assert_int_equal(status(t), 0);

	/* A size that is no power of two or too large: no ring layout both
	 * sides agree on, so the device needs a reset. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_status(t, 0);
		bar_wr(t, Q_SELECT, 2, 1);
		bar_wr(t, Q_SIZE, 2, bad[i]);
		assert_int_equal(bar_rd(t, Q_SIZE, 2), QMAX);
		assert_int_equal(status(t), NEEDS_RST);
	}
	/* ...and DRIVER_OK then fails instead of activating. */
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	set_status(t, 0);
	set_status(t, ACK | DRV);
	write_features(t, F_VERSION_1);
	set_status(t, ACK | DRV | FEAT_OK);
	bar_wr(t, Q_SIZE, 2, 5);
	set_status(t, ACK | DRV | FEAT_OK | DRV_OK);
	assert_true(status(t) & NEEDS_RST);
	assert_int_equal(f->dev.activate_calls, 1);
}

static void test_queue_addr_widths(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	bar_wr(t, Q_SELECT, 2, 2);
	bar_wr(t, Q_DESC, 8, 0x1122334455667788ULL);
	assert_int_equal(bar_rd(t, Q_DESC, 4), 0x55667788);
	assert_int_equal(bar_rd(t, Q_DESC + 4, 4), 0x11223344);
	bar_wr(t, Q_DRIVER + 4, 4, 0xaabbccdd);
	bar_wr(t, Q_DRIVER, 4, 0x01020304);
	assert_int_equal(bar_rd(t, Q_DRIVER, 8), 0xaabbccdd01020304ULL);
	bar_wr(t, Q_DEVICE, 4, 0x1000);
	assert_int_equal(bar_rd(t, Q_DEVICE, 8), 0x1000);
	/* Misaligned 8-byte and 2-byte accesses: ignored, read 0. */
	bar_wr(t, Q_DESC + 4, 8, 0);
	bar_wr(t, Q_DESC, 2, 0);
	assert_int_equal(bar_rd(t, Q_DESC + 4, 8), 0);
	assert_int_equal(bar_rd(t, Q_DESC, 2), 0);
	assert_int_equal(bar_rd(t, Q_DESC, 8), 0x1122334455667788ULL);
	/* Queue 0 untouched. */
	bar_wr(t, Q_SELECT, 2, 0);
	assert_int_equal(bar_rd(t, Q_DESC, 8), 0);
	/* 1.2 fields of features not offered read 0. */
	bar_wr(t, Q_RESET, 2, 1);
	bar_wr(t, Q_NOTIFY_DATA, 2, 0x55);
	assert_int_equal(bar_rd(t, Q_RESET, 2), 0);
	assert_int_equal(bar_rd(t, Q_NOTIFY_DATA, 2), 0);
}

/* ---- notifications, ISR, interrupts ---- */

static void test_notify_signals_kick_fd(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint64_t v;
	unsigned int q;

	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * 1, 2, 1);
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * 1, 2, 1);
	/* Wrong widths, misaligned, past the last queue: ignored. */
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * 2, 4, 2);
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * 2, 1, 2);
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * 2 + 2, 2, 2);
	bar_wr(t, VIRTIO_PCI_NOTIFY_OFF + 4 * NQ, 2, NQ);
	bar_rd(t, VIRTIO_PCI_NOTIFY_OFF, 2);
	assert_int_equal(t->stats.mmio_kicks, 2);
	for (q = 0; q < NQ; q++) {
		ssize_t r = read(virtio_pci_kick_fd(t, q), &v, 8);

		if (q == 1) {
			assert_int_equal(r, 8);
			assert_int_equal(v, 2);
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(errno, EAGAIN);
		}
	}
	assert_int_equal(virtio_pci_notify_addr(t, 2) - t->pci.bar[0].addr,
			 VIRTIO_PCI_NOTIFY_OFF + 8);
}

static void test_isr_read_clears(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	unsigned int gen = (unsigned int)bar_rd(t, GENERATION, 1);

	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 0);
	virtio_pci_queue_irq(t, 0);
	/* Other widths do not read (or clear) it. */
	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 4), 0);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 1);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 0);
	virtio_pci_config_irq(t);
	virtio_pci_queue_irq(t, 2);
	bar_wr(t, VIRTIO_PCI_ISR_OFF, 1, 0);        /* writes do nothing */
	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 3);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_ISR_OFF, 1), 0);
	assert_int_equal(bar_rd(t, GENERATION, 1), (gen + 1) & 0xff);
	/* No vectors assigned: counted, but nothing reached the sink. */
	assert_int_equal(t->stats.irqs, 3);
	assert_int_equal(f->sink.total_fired, 0);
	virtio_pci_queue_irq(t, NQ);                /* no such queue */
	assert_int_equal(t->stats.irqs, 3);
}

static void test_msix_vector_assignment(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;

	bar_wr(t, MSIX_CONFIG, 2, NQ);              /* last valid vector */
	assert_int_equal(bar_rd(t, MSIX_CONFIG, 2), NQ);
	bar_wr(t, MSIX_CONFIG, 2, NQ + 1);          /* table has NQ + 1 */
	assert_int_equal(bar_rd(t, MSIX_CONFIG, 2), VIRTIO_MSI_NO_VECTOR);
	bar_wr(t, Q_SELECT, 2, 1);
	bar_wr(t, Q_MSIX, 2, 0);                    /* sharing is allowed */
	assert_int_equal(bar_rd(t, Q_MSIX, 2), 0);
	bar_wr(t, Q_MSIX, 2, 0x8000);
	assert_int_equal(bar_rd(t, Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	bar_wr(t, Q_MSIX, 2, 2);
	assert_int_equal(bar_rd(t, Q_MSIX, 2), 2);
	bar_wr(t, Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(bar_rd(t, Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_interrupts_reach_sink(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint8_t cap = find_cap(t, PCI_CAP_ID_MSIX);

	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	/* Vectors assigned but MSI-X still off: held pending in the PBA. */
	virtio_pci_queue_irq(t, 1);
	assert_int_equal(f->sink.total_fired, 0);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_PBA_OFF, 8), 1u << 2);

	enable_msix(t);
	assert_int_equal(f->sink.fired[2], 1);      /* the pending one */
	assert_int_equal(f->sink.addr[2], 0xfee02000u);
	assert_int_equal(f->sink.data[2], 0x42);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_PBA_OFF, 8), 0);

	virtio_pci_queue_irq(t, 0);
	virtio_pci_queue_irq(t, 2);
	virtio_pci_config_irq(t);
	assert_int_equal(f->sink.fired[1], 1);
	assert_int_equal(f->sink.fired[3], 1);
	assert_int_equal(f->sink.fired[0], 1);
	assert_int_equal(t->stats.irqs, 4);

	/* Masking a vector through the table holds its message. */
	bar_wr(t, VIRTIO_PCI_MSIX_OFF + 16 * 1 + 12, 4, 1);
	virtio_pci_queue_irq(t, 0);
	assert_int_equal(f->sink.fired[1], 1);
	bar_wr(t, VIRTIO_PCI_MSIX_OFF + 16 * 1 + 12, 4, 0);
	assert_int_equal(f->sink.fired[1], 2);

	/* Function mask via the capability (cfg_written chain reaches MSI-X
	 * through the transport's hook). */
	cfg_wr(t, cap + 2u, 2, 0xc000);
	virtio_pci_queue_irq(t, 2);
	assert_int_equal(f->sink.fired[3], 1);
	cfg_wr(t, cap + 2u, 2, 0x8000);
	assert_int_equal(f->sink.fired[3], 2);
}

/* An outside interrupt source (a vhost back end's call eventfd) is the
 * vector's KVM irqfd exactly while the vector is deliverable; while it is
 * masked the loop relays a signal into the pending bit. */
static void test_irqfd_follows_masks(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	uint8_t cap = find_cap(t, PCI_CAP_ID_MSIX);
	struct ev_loop *l;
	struct rv_err err;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(efd >= 0 && efd < 64);
	l = ev_loop_new("test", &err);
	assert_non_null(l);
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);

	/* MSI-X off: watched, a signal is held pending. */
	assert_int_equal(virtio_pci_queue_irqfd(t, 0, efd, l, &err), 0);
	assert_false(virtio_pci_queue_irqfd_bound(t, 0));
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(ev_loop_run_once(l, 100), 1);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_PBA_OFF, 8), 1u << 1);
	assert_int_equal(t->stats.irqfd_relayed, 1);

	/* Enabled: the pending message goes out and the fd becomes queue
	 * 0's vector's irqfd; the loop no longer hears it. */
	enable_msix(t);
	assert_int_equal(f->sink.fired[1], 1);
	assert_true(virtio_pci_queue_irqfd_bound(t, 0));
	assert_int_equal(f->sink.bound_to[efd], 1);
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(ev_loop_run_once(l, 0), 0);
	assert_int_equal(f->sink.fired[1], 1);
	assert_int_equal(read(efd, &one, 8), 8);    /* what KVM would take */

	/* The vector masked: unbound and watched again; unmasked: the
	 * pending one fires and the fd is bound again. */
	bar_wr(t, VIRTIO_PCI_MSIX_OFF + 16 * 1 + 12, 4, 1);
	assert_false(virtio_pci_queue_irqfd_bound(t, 0));
	assert_int_equal(f->sink.bound_to[efd], -1);
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(ev_loop_run_once(l, 100), 1);
	assert_int_equal(f->sink.fired[1], 1);
	assert_int_equal(bar_rd(t, VIRTIO_PCI_PBA_OFF, 8), 1u << 1);
	bar_wr(t, VIRTIO_PCI_MSIX_OFF + 16 * 1 + 12, 4, 0);
	assert_int_equal(f->sink.fired[1], 2);
	assert_int_equal(f->sink.bound_to[efd], 1);

	/* The driver moves the queue to another vector: the binding follows. */
	bar_wr(t, Q_SELECT, 2, 0);
	bar_wr(t, Q_MSIX, 2, 3);
	assert_int_equal(f->sink.bound_to[efd], 3);
	bar_wr(t, Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(f->sink.bound_to[efd], -1);
	bar_wr(t, Q_MSIX, 2, 1);
	assert_int_equal(f->sink.bound_to[efd], 1);

	/* The function mask unbinds every source, its release binds. */
	cfg_wr(t, cap + 2u, 2, 0xc000);
	assert_int_equal(f->sink.bound_to[efd], -1);
	cfg_wr(t, cap + 2u, 2, 0x8000);
	assert_int_equal(f->sink.bound_to[efd], 1);

	/* KVM refusing: the loop relays, nothing is lost. */
	f->sink.refuse = true;
	bar_wr(t, Q_MSIX, 2, 2);
	assert_false(virtio_pci_queue_irqfd_bound(t, 0));
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(ev_loop_run_once(l, 100), 1);
	assert_int_equal(f->sink.fired[2], 1);
	f->sink.refuse = false;

	/* Ending it leaves the fd to its owner, unbound and unwatched. */
	bar_wr(t, Q_MSIX, 2, 1);
	assert_int_equal(virtio_pci_queue_irqfd(t, 0, -1, l, &err), 0);
	assert_int_equal(f->sink.bound_to[efd], -1);
	assert_int_equal(f->sink.binds, f->sink.unbinds);
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(ev_loop_run_once(l, 0), 0);
	assert_int_equal(ev_loop_registrations(l), 0);
	ev_loop_free(l);
	close(efd);
}

/* ---- device configuration ---- */

static void test_device_config_bounds(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	const uint64_t base = VIRTIO_PCI_DEVICE_OFF;
	unsigned int reads;

	assert_int_equal(bar_rd(t, base, 1), 0xc0);
	assert_int_equal(bar_rd(t, base + 4, 4), 0xc7c6c5c4);
	assert_int_equal(bar_rd(t, base + CONFIG_LEN - 8, 8),
			 0xd7d6d5d4d3d2d1d0ULL);
	reads = f->dev.config_reads;
	/* Beyond config_len (also straddling it): 0, device not asked. */
	assert_int_equal(bar_rd(t, base + CONFIG_LEN - 1, 2), 0);
	assert_int_equal(bar_rd(t, base + CONFIG_LEN, 1), 0);
	assert_int_equal(bar_rd(t, base + 0xfff, 1), 0);
	assert_int_equal(bar_rd(t, base + CONFIG_LEN - 4, 8), 0);
	assert_int_equal(f->dev.config_reads, reads);
	bar_wr(t, base + CONFIG_LEN - 2, 4, 0xffffffff);
	bar_wr(t, base + CONFIG_LEN, 1, 0xff);
	assert_int_equal(f->dev.config_writes, 0);
	bar_wr(t, base + 2, 2, 0xbeef);
	assert_int_equal(f->dev.config_writes, 1);
	assert_int_equal(bar_rd(t, base + 2, 2), 0xbeef);
}

/* ---- PCI_CFG access capability ---- */

static void window_set(struct virtio_pci *t, uint8_t cap, uint8_t bar,
		       uint32_t off, uint32_t len)
{
	/* SeaBIOS's order: bar, offset, length, then pci_cfg_data. */
	cfg_wr(t, cap + 4u, 1, bar);
	cfg_wr(t, cap + 8u, 4, off);
	cfg_wr(t, cap + 12u, 4, len);
}

static void test_pci_cfg_window(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	struct found_cap c[6];
	uint32_t mult;
	uint8_t w;

	walk_caps(t, c, &mult);
	w = c[5].at;
	assert_int_not_equal(w, 0);

	window_set(t, w, 0, NUM_QUEUES, 2);
	assert_int_equal(cfg_rd(t, w + 16u, 2), NQ);
	window_set(t, w, 0, Q_SIZE, 2);
	assert_int_equal(cfg_rd(t, w + 16u, 4), QMAX);
	window_set(t, w, 0, VIRTIO_PCI_DEVICE_OFF + 4, 4);
	assert_int_equal(cfg_rd(t, w + 16u, 4), 0xc7c6c5c4);

	/* Writes go through too: select queue 2, set its size. */
	window_set(t, w, 0, Q_SELECT, 2);
	cfg_wr(t, w + 16u, 4, 2);
	assert_int_equal(bar_rd(t, Q_SELECT, 2), 2);
	window_set(t, w, 0, Q_SIZE, 2);
	cfg_wr(t, w + 16u, 2, 16);
	assert_int_equal(bar_rd(t, Q_SIZE, 2), 16);
	window_set(t, w, 0, STATUS, 1);
	cfg_wr(t, w + 16u, 1, ACK);
	assert_int_equal(status(t), ACK);
	/* Notifications as well. */
	window_set(t, w, 0, VIRTIO_PCI_NOTIFY_OFF + 4, 2);
	cfg_wr(t, w + 16u, 2, 1);
	assert_int_equal(t->stats.mmio_kicks, 1);

	/* Bad windows: another BAR, length 3 or 8, misaligned, beyond the
	 * BAR: the data reads 0 and writes do nothing. */
	window_set(t, w, 1, NUM_QUEUES, 2);
	assert_int_equal(cfg_rd(t, w + 16u, 4), 0);
	window_set(t, w, 0, NUM_QUEUES, 3);
	assert_int_equal(cfg_rd(t, w + 16u, 4), 0);
	window_set(t, w, 0, Q_DESC, 8);
	assert_int_equal(cfg_rd(t, w + 16u, 4), 0);
	window_set(t, w, 0, NUM_QUEUES + 1, 2);
	assert_int_equal(cfg_rd(t, w + 16u, 4), 0);
	window_set(t, w, 0, 0xfffffffc, 4);
	assert_int_equal(cfg_rd(t, w + 16u, 4), 0);
	cfg_wr(t, w + 16u, 4, 0xffffffff);
	window_set(t, w, 1, STATUS, 1);
	cfg_wr(t, w + 16u, 1, 0);                   /* not a reset */
	assert_int_equal(status(t), ACK);
	/* The capability's type and offsets stay read-only. */
	cfg_wr(t, w + 3u, 1, 1);
	assert_int_equal(cfg_rd(t, w + 3u, 1), 5);
}

/* ---- hostile accesses ---- */

static void sweep(struct virtio_pci *t, bool writes)
{
	static const uint32_t lens[] = { 1, 2, 3, 4, 8 };
	uint64_t off;
	unsigned int i;

	for (off = 0; off < VIRTIO_PCI_BAR_SIZE + 16; off++) {
		for (i = 0; i < 5; i++) {
			/* Never write status 0: the sweep should keep the
			 * device in its state; resets are tested apart. */
			if (writes && off <= STATUS && off + lens[i] > STATUS)
				continue;
			if (writes)
				bar_wr(t, off, lens[i],
				       0xffffffffffffffffULL);
			else
				bar_rd(t, off, lens[i]);
		}
	}
	bar_rd(t, UINT64_MAX - 2, 4);
	bar_wr(t, UINT64_MAX - 2, 4, 1);
}

static void test_hostile_sweep(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	unsigned int i;

	/* Reads of every offset and width: only real registers answer. */
	for (i = 0; i < 5; i++) {
		uint32_t len = (uint32_t[]){ 1, 2, 3, 4, 8 }[i];

		assert_int_equal(bar_rd(t, 0x3c, len), 0);
		assert_int_equal(bar_rd(t, 0xffc, len), 0);
		assert_int_equal(bar_rd(t, 0x1001, len), 0);
		assert_int_equal(bar_rd(t, 0x6000, len), 0);
		assert_int_equal(bar_rd(t, VIRTIO_PCI_BAR_SIZE - 1, len), 0);
		assert_int_equal(bar_rd(t, VIRTIO_PCI_BAR_SIZE, len), 0);
		assert_int_equal(bar_rd(t, STATUS + 1, len), 0);
	}
	assert_int_equal(bar_rd(t, NUM_QUEUES, 4), 0);
	assert_int_equal(bar_rd(t, NUM_QUEUES, 1), 0);
	assert_int_equal(bar_rd(t, NUM_QUEUES, 2), NQ);
	sweep(t, false);

	/* Writes everywhere, before and after activation. */
	sweep(t, true);
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	sweep(t, false);
	sweep(t, true);
	assert_int_equal(f->dev.activate_calls, 1);
	assert_int_equal(bar_rd(t, NUM_QUEUES, 2), NQ);
	/* The device still resets and comes back for the next driver. */
	set_status(t, 0);
	assert_int_equal(f->dev.reset_calls, 1);
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f->dev.activate_calls, 2);
}

/* Random register traffic (seeded): no crash, and a reset always brings
 * the device back to a working state. */
static void test_random_traffic(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci *t = &f->t;
	static const uint32_t lens[] = { 1, 2, 3, 4, 8 };
	unsigned int seed = 12345, i;

	for (i = 0; i < 200000; i++) {
		uint64_t off, v;

		seed = seed * 1103515245u + 12345u;
		off = (seed >> 8) % 0x80 + ((seed & 3) == 0 ? 0x2000 : 0);
		v = ((uint64_t)seed << 32) | (seed >> 3);
		if (seed & 0x1000)
			v &= 0xff;
		if ((seed >> 20) & 1)
			bar_wr(t, off, lens[(seed >> 24) % 5], v);
		else
			bar_rd(t, off, lens[(seed >> 24) % 5]);
	}
	assert_int_equal(linux_init(f, ~0ULL, 0), ACK | DRV | FEAT_OK | DRV_OK);
	assert_non_null(virtio_pci_vq(t, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_pci_identity),
		T(test_capability_chain),
		T(test_no_config_and_max_queues),
		T(test_init_rejects_bad_config),
		T(test_offered_features),
		T(test_linux_init_sequence),
		T(test_minimal_features),
		T(test_device_refuses_features),
		T(test_features_need_version_1),
		T(test_unoffered_feature_refused),
		T(test_features_fixed_after_features_ok),
		T(test_status_bits_accumulate),
		T(test_reset_after_activate),
		T(test_driver_reload),
		T(test_bad_ring_needs_reset),
		T(test_activate_failure_needs_reset),
		T(test_irq_from_callbacks),
		T(test_irq_threads),
		T(test_driver_ok_without_features_ok),
		T(test_queue_select_out_of_range),
		T(test_queue_size_rules),
		T(test_queue_addr_widths),
		T(test_notify_signals_kick_fd),
		T(test_isr_read_clears),
		T(test_msix_vector_assignment),
		T(test_interrupts_reach_sink),
		T(test_irqfd_follows_masks),
		T(test_device_config_bounds),
		T(test_pci_cfg_window),
		T(test_hostile_sweep),
		T(test_random_traffic),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
