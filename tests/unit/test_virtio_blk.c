/* virtio-blk end to end without KVM: a device on a temporary image file,
 * brought up through the virtio-pci registers the way Linux's driver does
 * (features, queues, MSI-X, DRIVER_OK), fed requests through split rings
 * in a struct guest_mem and kicked through the queue eventfds (as KVM's
 * ioeventfd would). Checks what a user cares about: the bytes land in the
 * file and come back, flush/discard/write-zeroes do their job, read-only
 * disks refuse writes, hostile chains fail cleanly, a reset with requests
 * in flight is safe, a batch costs one interrupt, and a hostile guest
 * cannot make O_DIRECT bounce buffers outgrow their budget. Every I/O test
 * runs on both back ends (io_uring and the synchronous fallback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <liburing.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit/virtq_driver.h"
#include "virtio/blk.h"
#include "virtio/blk_req.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"
#include "unit/stats_text.h"

#define RAM_SIZE   (64u << 20)
#define RING_BASE  0x10000ull    /* queue q's rings at RING_BASE * (q + 1) */
#define HEAP_BASE  0x100000ull
#define IMG_SECTORS 4096         /* 2 MiB image */
#define QSIZE      128
#define NVEC       MSIX_MAX_VECTORS
#define TIMEOUT_MS 5000
#define MIB        (1u << 20)

/* MSI-X messages as the vm layer would see them. */
struct sink_log {
	atomic_uint fired[NVEC];
};

struct fx {
	bool sync;                  /* force the preadv/pwritev back end */
	char path[64];
	int fd;                     /* the test's own view of the image */
	struct guest_mem mem;
	struct sink_log log;
	struct virtio_blk *b;
	struct virtio_pci *t;
	unsigned int nq;
	uint16_t qsize;             /* QSIZE unless a test changes it */
	bool no_event_idx;          /* driver refuses VIRTIO_RING_F_EVENT_IDX */
	struct vqd d[4];
	uint64_t heap;              /* bump allocator in guest RAM */
};

static void sink_route(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	(void)ctx;
	(void)v;
	(void)addr;
	(void)data;
}

static void sink_fire(void *ctx, unsigned int v)
{
	struct sink_log *l = ctx;

	if (v < NVEC)
		atomic_fetch_add(&l->fired[v], 1);
}

static unsigned int fired(struct fx *f, unsigned int v)
{
	return atomic_load(&f->log.fired[v]);
}

/* ---- fixture ---- */

static uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

static int fx_setup(void **state, bool sync)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guest_region layout = { .gpa = 0, .size = RAM_SIZE };
	struct rv_err err;
	uint8_t *img;

	if (!f)
		return -1;
	f->sync = sync;
	/* O_DIRECT needs a real file system: /var/tmp, not a tmpfs /tmp. */
	snprintf(f->path, sizeof(f->path), "/var/tmp/ringvm-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	if (f->fd < 0 || guest_mem_map(&f->mem, &layout, 1, &err) < 0)
		return -1;
	img = malloc(IMG_SECTORS * 512);
	if (!img)
		return -1;
	for (uint64_t i = 0; i < IMG_SECTORS * 512; i++)
		img[i] = pattern_byte(i);
	if (pwrite(f->fd, img, IMG_SECTORS * 512, 0) != IMG_SECTORS * 512)
		return -1;
	free(img);
	fsync(f->fd);
	f->heap = HEAP_BASE;
	*state = f;
	return 0;
}

static int setup_sync(void **state)
{
	return fx_setup(state, true);
}

static int setup_uring(void **state)
{
	return fx_setup(state, false);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	virtio_blk_free(f->b);
	guest_mem_unmap(&f->mem);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static uint64_t galloc(struct fx *f, uint64_t len, uint64_t align)
{
	uint64_t a = (f->heap + align - 1) & ~(align - 1);

	f->heap = a + len;
	assert_true(f->heap <= RAM_SIZE);
	return a;
}

static uint8_t *gptr(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->mem, gpa, len);

	assert_non_null(p);
	return p;
}

/* ---- the driver's register accesses ---- */

static void bar_w(struct fx *f, uint64_t off, uint64_t v, uint32_t len)
{
	uint8_t d[8];

	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	virtio_pci_bar_io(f->t, off, d, len, true);
}

static uint64_t bar_r(struct fx *f, uint64_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;

	virtio_pci_bar_io(f->t, off, d, len, false);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

#define CC(off) (VIRTIO_PCI_COMMON_OFF + (off))
#define CC_DFSELECT 0x00
#define CC_DF       0x04
#define CC_GFSELECT 0x08
#define CC_GF       0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_STATUS   0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE   0x18
#define CC_Q_MSIX   0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_DESC   0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30

static uint64_t cfg_r(struct fx *f, uint32_t off, uint32_t len)
{
	return bar_r(f, VIRTIO_PCI_DEVICE_OFF + off, len);
}

static uint64_t device_features(struct fx *f)
{
	uint64_t lo, hi;

	bar_w(f, CC(CC_DFSELECT), 0, 4);
	lo = bar_r(f, CC(CC_DF), 4);
	bar_w(f, CC(CC_DFSELECT), 1, 4);
	hi = bar_r(f, CC(CC_DF), 4);
	return lo | hi << 32;
}

/* What virtio_pci_modern + virtio_blk's probe do, in order. */
static void driver_init(struct fx *f)
{
	uint8_t ctl[2] = { 0x00, 0x80 };   /* MSI-X enable */
	uint64_t feat;
	uint8_t st;

	bar_w(f, CC(CC_STATUS), 0, 1);
	bar_w(f, CC(CC_STATUS), VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_w(f, CC(CC_STATUS), VIRTIO_STATUS_ACKNOWLEDGE |
	      VIRTIO_STATUS_DRIVER, 1);
	feat = device_features(f);
	if (f->no_event_idx)
		feat &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	bar_w(f, CC(CC_GFSELECT), 0, 4);
	bar_w(f, CC(CC_GF), (uint32_t)feat, 4);
	bar_w(f, CC(CC_GFSELECT), 1, 4);
	bar_w(f, CC(CC_GF), feat >> 32, 4);
	st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	     VIRTIO_STATUS_FEATURES_OK;
	bar_w(f, CC(CC_STATUS), st, 1);
	assert_true(bar_r(f, CC(CC_STATUS), 1) & VIRTIO_STATUS_FEATURES_OK);

	pci_cfg_write(&f->t->pci, f->t->msix.cap_off + 2u, ctl, 2);
	for (unsigned int v = 0; v <= f->nq; v++) {
		uint64_t e = VIRTIO_PCI_MSIX_OFF + 16ull * v;

		bar_w(f, e, 0xfee00000u, 4);
		bar_w(f, e + 4, 0, 4);
		bar_w(f, e + 8, 0x30 + v, 4);
		bar_w(f, e + 12, 0, 4);          /* unmask */
	}
	bar_w(f, CC(CC_MSIX_CONFIG), 0, 2);
	for (unsigned int q = 0; q < f->nq; q++) {
		struct vqd *d = &f->d[q];

		bar_w(f, CC(CC_Q_SELECT), q, 2);
		assert_int_equal(bar_r(f, CC(CC_Q_SIZE), 2), f->qsize);
		assert_int_equal(vqd_init(d, &f->mem, f->qsize,
					  RING_BASE * (q + 1)), 0);
		bar_w(f, CC(CC_Q_MSIX), q + 1, 2);
		assert_int_equal(bar_r(f, CC(CC_Q_MSIX), 2), q + 1);
		bar_w(f, CC(CC_Q_DESC), d->desc_gpa, 8);
		bar_w(f, CC(CC_Q_DRIVER), d->avail_gpa, 8);
		bar_w(f, CC(CC_Q_DEVICE), d->used_gpa, 8);
		bar_w(f, CC(CC_Q_ENABLE), 1, 2);
	}
	bar_w(f, CC(CC_STATUS), st | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(bar_r(f, CC(CC_STATUS), 1),
			 st | VIRTIO_STATUS_DRIVER_OK);
}

static uint64_t stat_of(struct fx *f, const char *name);

static void start_opts(struct fx *f, struct virtio_blk_opts o)
{
	struct msix_sink sink = { .route = sink_route, .fire = sink_fire, .ctx = &f->log };
	struct rv_err err;

	o.path = f->path;
	if (!f->qsize)
		f->qsize = QSIZE;
	o.queue_size = f->qsize;
	o.force_sync = f->sync;
	f->nq = o.nqueues ? o.nqueues : 1;
	f->b = virtio_blk_new(&o, &f->mem, sink, &err);
	if (!f->b)
		fail_msg("virtio_blk_new: %s", err.msg);
	f->t = virtio_blk_transport(f->b);
	if (!f->sync && !virtio_blk_uses_uring(f->b)) {
		/* Only the environment may excuse the fallback: if this process
		 * can set up a ring itself, the device had no reason not to. */
		struct io_uring probe;
		int rc = io_uring_queue_init(8, &probe, 0);

		if (rc == 0) {
			io_uring_queue_exit(&probe);
			fail_msg("device fell back to preadv/pwritev (%s) although io_uring works here",
				 virtio_blk_why_sync(f->b));
		}
		print_message("io_uring unavailable here (%s): io_uring path NOT tested\n",
			      strerror(-rc));
		skip();
	}
	assert_int_equal(virtio_blk_uses_uring(f->b), !f->sync);
	assert_int_equal(stat_of(f, "io_uring"), !f->sync);
	driver_init(f);
}

static void start(struct fx *f)
{
	start_opts(f, (struct virtio_blk_opts){ .nqueues = 1 });
}

/* ---- requests ---- */

static void kick(struct fx *f, unsigned int q)
{
	uint64_t one = 1;

	assert_int_equal(write(virtio_pci_kick_fd(f->t, q), &one, 8), 8);
}

static void put_hdr(struct fx *f, uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t *h = gptr(f, gpa, 16);

	memset(h, 0, 16);
	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)(type >> (8 * i));
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(sector >> (8 * i));
}

struct req {
	uint16_t head;
	uint64_t status_gpa;
	uint64_t data_gpa;
};

/* Header, optional data buffer, status byte: what virtblk_add_req builds.
 * For DISCARD/WRITE_ZEROES the data is the segment array. */
static struct req post(struct fx *f, unsigned int q, uint32_t type,
		       uint64_t sector, uint64_t data_gpa, uint32_t len)
{
	struct req r = { .data_gpa = data_gpa };
	uint64_t hdr = galloc(f, 16, 16);
	struct vqd_seg segs[3];
	unsigned int n = 0;

	r.status_gpa = galloc(f, 1, 1);
	*gptr(f, r.status_gpa, 1) = 0xee;
	put_hdr(f, hdr, type, sector);
	segs[n++] = (struct vqd_seg){ hdr, 16, false };
	if (len)
		segs[n++] = (struct vqd_seg){ data_gpa, len,
					      type == VIRTIO_BLK_T_IN ||
					      type == VIRTIO_BLK_T_GET_ID };
	segs[n++] = (struct vqd_seg){ r.status_gpa, 1, true };
	r.head = vqd_add(&f->d[q], segs, n);
	vqd_publish(&f->d[q], r.head);
	return r;
}

/* Header, the data segments given (all in one direction), status byte,
 * through an indirect table: a chain of up to the queue size. */
static struct req post_segs(struct fx *f, unsigned int q, uint32_t type,
			    uint64_t sector, const struct vqd_seg *data,
			    unsigned int n)
{
	struct vqd_seg *segs = calloc(n + 2, sizeof(*segs));
	uint64_t hdr = galloc(f, 16, 16);
	uint64_t table = galloc(f, 16ull * (n + 2), 16);
	struct req r = { .data_gpa = n ? data[0].gpa : 0 };

	assert_non_null(segs);
	r.status_gpa = galloc(f, 1, 1);
	*gptr(f, r.status_gpa, 1) = 0xee;
	put_hdr(f, hdr, type, sector);
	segs[0] = (struct vqd_seg){ hdr, 16, false };
	for (unsigned int i = 0; i < n; i++)
		segs[1 + i] = data[i];
	segs[n + 1] = (struct vqd_seg){ r.status_gpa, 1, true };
	r.head = vqd_add_indirect(&f->d[q], segs, n + 2, table);
	vqd_publish(&f->d[q], r.head);
	free(segs);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits (at most ms) for the next used element, then re-arms the
 * interrupt the way Linux's virtqueue_enable_cb does (used_event = last
 * seen). */
static void wait_used_ms(struct fx *f, unsigned int q, uint32_t *id,
			 uint32_t *len, int ms)
{
	struct timespec ts = { 0, 100000 };

	for (int i = 0; i < ms * 10; i++) {
		if (vqd_get_used(&f->d[q], id, len)) {
			vqd_set_used_event(&f->d[q], f->d[q].last_used);
			return;
		}
		nanosleep(&ts, NULL);
	}
	fail_msg("no used element on queue %u within %d ms", q, ms);
}

static void wait_used(struct fx *f, unsigned int q, uint32_t *id,
		      uint32_t *len)
{
	wait_used_ms(f, q, id, len, TIMEOUT_MS);
}

/* Posts, kicks, waits; returns the status byte. */
static uint8_t run(struct fx *f, unsigned int q, uint32_t type,
		   uint64_t sector, uint64_t data_gpa, uint32_t len,
		   uint32_t *used_len)
{
	struct req r = post(f, q, type, sector, data_gpa, len);
	uint32_t id, ul;

	kick(f, q);
	wait_used(f, q, &id, &ul);
	assert_int_equal(id, r.head);
	if (used_len)
		*used_len = ul;
	return *gptr(f, r.status_gpa, 1);
}

static uint64_t stat_of(struct fx *f, const char *name)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *m = open_memstream(&buf, &sz);
	uint64_t v;

	assert_non_null(m);
	virtio_blk_print_stats(f->b, "blk0", m);
	fclose(m);
	v = stats_lookup(buf, "blk0", name);
	free(buf);
	assert_true(v != UINT64_MAX);
	return v;
}

/* ---- tests ---- */

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t feat;

	start_opts(f, (struct virtio_blk_opts){ .nqueues = 2 });
	feat = device_features(f);
	assert_true(feat & 1ULL << VIRTIO_F_VERSION_1);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_FLUSH);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_SEG_MAX);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_MQ);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_RO);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_CAPACITY, 8), IMG_SECTORS);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_CAPACITY + 4, 4), 0);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_SEG_MAX, 4), QSIZE - 2);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_NUM_QUEUES, 2), 2);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4),
			 BLK_REQ_MAX_RANGES);
	assert_true(cfg_r(f, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4) > 0);
	assert_true(cfg_r(f, VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4) > 0);
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1), 1);
	/* Past the end of the config space: nothing. */
	assert_int_equal(cfg_r(f, VIRTIO_BLK_CFG_LEN, 4), 0);
}

static void test_readonly_features(void **state)
{
	struct fx *f = *state;
	uint64_t feat;

	start_opts(f, (struct virtio_blk_opts){ .readonly = true });
	feat = device_features(f);
	assert_true(feat & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_MQ);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_false(feat & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
}

static void test_write_read_back(void **state)
{
	struct fx *f = *state;
	uint64_t w = galloc(f, 8192, 4096), r = galloc(f, 8192, 4096);
	uint8_t file[8192];
	uint32_t ul;

	start(f);
	for (int i = 0; i < 8192; i++)
		gptr(f, w, 8192)[i] = (uint8_t)(i * 31 + 5);
	memset(gptr(f, r, 8192), 0, 8192);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 24, w, 8192, &ul),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 1);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &ul),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 24, r, 8192, &ul),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 8193);
	assert_memory_equal(gptr(f, r, 8192), gptr(f, w, 8192), 8192);
	/* In the file, byte for byte, and nothing around it changed. */
	assert_int_equal(pread(f->fd, file, 8192, 24 * 512), 8192);
	assert_memory_equal(file, gptr(f, w, 8192), 8192);
	assert_int_equal(pread(f->fd, file, 512, 23 * 512), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[i], pattern_byte(23 * 512 + i));
	assert_int_equal(pread(f->fd, file, 512, 40 * 512), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[i], pattern_byte(40 * 512 + i));

	/* Reading what was in the image before. */
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 2, r, 1024,
			     NULL), VIRTIO_BLK_S_OK);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(gptr(f, r, 1024)[i],
				 pattern_byte((IMG_SECTORS - 2) * 512ull + i));
	assert_int_equal(stat_of(f, "written_bytes"), 8192);
	assert_int_equal(stat_of(f, "read_bytes"), 8192 + 1024);
	assert_int_equal(stat_of(f, "flushes"), 1);
	assert_int_equal(stat_of(f, "requests"), 4);
}

/* Scattered buffers (several descriptors, indirect table) and a read past
 * the end, as a hostile or buggy driver would send it. */
static void test_scatter_and_bounds(void **state)
{
	struct fx *f = *state;
	uint64_t hdr = galloc(f, 16, 16), st = galloc(f, 1, 1);
	uint64_t a = galloc(f, 512, 512), b2 = galloc(f, 1024, 512);
	uint64_t table = galloc(f, 16 * 4, 16), big = galloc(f, 4096, 4096);
	struct vqd_seg segs[4];
	uint32_t id, ul;
	uint16_t head;
	uint8_t file[1536];

	start(f);
	memset(gptr(f, a, 512), 0x5a, 512);
	memset(gptr(f, b2, 1024), 0xa5, 1024);
	put_hdr(f, hdr, VIRTIO_BLK_T_OUT, 100);
	segs[0] = (struct vqd_seg){ hdr, 16, false };
	segs[1] = (struct vqd_seg){ a, 512, false };
	segs[2] = (struct vqd_seg){ b2, 1024, false };
	segs[3] = (struct vqd_seg){ st, 1, true };
	head = vqd_add_indirect(&f->d[0], segs, 4, table);
	vqd_publish(&f->d[0], head);
	kick(f, 0);
	wait_used(f, 0, &id, &ul);
	assert_int_equal(id, head);
	assert_int_equal(*gptr(f, st, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, file, 1536, 100 * 512), 1536);
	for (int i = 0; i < 1536; i++)
		assert_int_equal(file[i], i < 512 ? 0x5a : 0xa5);

	/* Past capacity: IOERR, nothing read or written. */
	memset(gptr(f, big, 4096), 0x11, 4096);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 7, big, 4096,
			     &ul), VIRTIO_BLK_S_IOERR);
	assert_int_equal(ul, 1);
	assert_int_equal(gptr(f, big, 4096)[0], 0x11);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, UINT64_MAX >> 8, big, 512,
			     NULL), VIRTIO_BLK_S_IOERR);
	/* Unaligned length. */
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 0, big, 100, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(f->fd, file, 512, 0), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[i], pattern_byte((uint64_t)i));
	/* Unknown request type. */
	assert_int_equal(run(f, 0, 42, 0, 0, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(stat_of(f, "errors"), 4);
}

static void test_get_id(void **state)
{
	struct fx *f = *state;
	uint64_t id = galloc(f, 20, 1);
	char want[21];
	struct stat st;
	struct req r;
	uint32_t ul, head;

	start(f);
	assert_int_equal(fstat(f->fd, &st), 0);
	snprintf(want, sizeof(want), "rv%" PRIx64 "-%" PRIx64,
		 (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	memset(gptr(f, id, 20), 0xff, 20);
	/* Notified through the BAR, as without ioeventfd. */
	r = post(f, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20);
	bar_w(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	wait_used(f, 0, &head, &ul);
	assert_int_equal(head, r.head);
	assert_int_equal(*gptr(f, r.status_gpa, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 21);
	assert_int_equal(stat_of(f, "mmio_kicks"), 1);
	assert_memory_equal(gptr(f, id, strlen(want)), want, strlen(want));
	for (size_t i = strlen(want); i < 20; i++)
		assert_int_equal(gptr(f, id, 20)[i], 0);
}

static void test_discard(void **state)
{
	struct fx *f = *state;
	uint64_t seg = galloc(f, 16, 16), r = galloc(f, 65536, 4096);
	uint8_t *s = gptr(f, seg, 16);
	struct stat before, after;
	uint8_t file[512];

	start(f);
	assert_int_equal(fstat(f->fd, &before), 0);
	/* Sectors 512..639: 64 KiB, block aligned. */
	memset(s, 0, 16);
	s[0] = 0x00; s[1] = 0x02;          /* sector 512 */
	s[8] = 128;                        /* 128 sectors */
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_DISCARD, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_true(after.st_blocks < before.st_blocks);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 512, r, 65536, NULL),
			 VIRTIO_BLK_S_OK);
	for (int i = 0; i < 65536; i++)
		assert_int_equal(gptr(f, r, 65536)[i], 0);
	/* Neighbours untouched. */
	assert_int_equal(pread(f->fd, file, 512, 640 * 512), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[i], pattern_byte(640 * 512 + i));

	/* The unmap flag is for write zeroes only. */
	s[12] = 1;
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_DISCARD, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	/* A segment list that is not whole segments. */
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_DISCARD, 0, seg, 12, NULL),
			 VIRTIO_BLK_S_IOERR);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = *state;
	uint64_t seg = galloc(f, 32, 16);
	uint8_t *s = gptr(f, seg, 32);
	uint8_t file[4096];
	struct stat st;

	start(f);
	/* Sectors 8..15 zeroed in place, 1000..1007 with unmap. */
	memset(s, 0, 32);
	s[0] = 8;
	s[8] = 8;
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_OK);
	s[0] = 0xe8; s[1] = 0x03;          /* 1000 */
	s[12] = VIRTIO_BLK_WZ_FLAG_UNMAP;
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, file, 4096, 8 * 512), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(file[i], 0);
	assert_int_equal(pread(f->fd, file, 4096, 1000 * 512), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(file[i], 0);
	assert_int_equal(pread(f->fd, file, 512, 7 * 512), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[i], pattern_byte(7 * 512 + i));
	assert_int_equal(pread(f->fd, file, 512, 16 * 512), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[i], pattern_byte(16 * 512 + i));
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SECTORS * 512);
	/* More segments than max_write_zeroes_seg allows... */
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16 * 17,
			     NULL), VIRTIO_BLK_S_IOERR);
	/* ...and a range past the end. */
	memset(s, 0, 16);
	s[1] = 0x10;                       /* sector 4096 = capacity */
	s[8] = 1;
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_IOERR);
}

static uint64_t file_sum(struct fx *f)
{
	uint8_t buf[4096];
	uint64_t sum = 0;

	for (off_t off = 0; off < IMG_SECTORS * 512; off += sizeof(buf)) {
		assert_int_equal(pread(f->fd, buf, sizeof(buf), off),
				 sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			sum = sum * 131 + buf[i];
	}
	return sum;
}

static void test_readonly(void **state)
{
	struct fx *f = *state;
	uint64_t w = galloc(f, 4096, 4096), seg = galloc(f, 16, 16);
	uint64_t sum = file_sum(f);
	uint8_t *s = gptr(f, seg, 16);

	start_opts(f, (struct virtio_blk_opts){ .readonly = true });
	memset(gptr(f, w, 4096), 0x77, 4096);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 0, w, 4096, NULL),
			 VIRTIO_BLK_S_IOERR);
	memset(s, 0, 16);
	s[8] = 8;
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_DISCARD, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 0, w, 4096, NULL),
			 VIRTIO_BLK_S_OK);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(gptr(f, w, 4096)[i], pattern_byte((uint64_t)i));
	assert_int_equal(file_sum(f), sum);
	assert_int_equal(stat_of(f, "written_bytes"), 0);
}

static void test_multiqueue(void **state)
{
	struct fx *f = *state;
	uint64_t w0 = galloc(f, 4096, 4096), w1 = galloc(f, 4096, 4096);
	uint8_t file[4096];

	start_opts(f, (struct virtio_blk_opts){ .nqueues = 2 });
	memset(gptr(f, w0, 4096), 0xa0, 4096);
	memset(gptr(f, w1, 4096), 0xa1, 4096);
	post(f, 0, VIRTIO_BLK_T_OUT, 0, w0, 4096);
	post(f, 1, VIRTIO_BLK_T_OUT, 8, w1, 4096);
	kick(f, 0);
	kick(f, 1);
	for (unsigned int q = 0; q < 2; q++) {
		uint32_t id, ul;

		wait_used(f, q, &id, &ul);
	}
	assert_int_equal(pread(f->fd, file, 4096, 0), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(file[i], 0xa0);
	assert_int_equal(pread(f->fd, file, 4096, 4096), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(file[i], 0xa1);
	/* Each queue interrupts on its own vector. */
	for (int i = 0; i < 1000 && (!fired(f, 1) || !fired(f, 2)); i++)
		sleep_ms(1);
	assert_true(fired(f, 1) >= 1);
	assert_true(fired(f, 2) >= 1);
	assert_int_equal(fired(f, 0), 0);
}

/* 16 requests, one kick: one interrupt (the synchronous back end
 * completes the batch before the notification decision; io_uring may
 * split completions over wake-ups, so only an upper bound there).
 * Without EVENT_IDX, so the driver suppresses nothing: the batching is
 * the device's alone. */
static void test_batching(void **state)
{
	struct fx *f = *state;
	uint64_t buf = galloc(f, 16 * 4096, 4096);
	uint16_t heads[16];
	bool seen[16] = { false };

	f->no_event_idx = true;
	start(f);
	for (int i = 0; i < 16; i++) {
		memset(gptr(f, buf + 4096ull * i, 4096), i + 1, 4096);
		heads[i] = post(f, 0, VIRTIO_BLK_T_OUT, 8ull * i,
				buf + 4096ull * i, 4096).head;
	}
	kick(f, 0);
	for (int n = 0; n < 16; n++) {
		uint32_t id, ul;
		int k;

		wait_used(f, 0, &id, &ul);
		for (k = 0; k < 16 && heads[k] != id; k++)
			;
		assert_true(k < 16);
		assert_false(seen[k]);
		seen[k] = true;
	}
	sleep_ms(20);
	assert_int_equal(stat_of(f, "kicks"), 1);
	assert_int_equal(stat_of(f, "requests"), 16);
	if (f->sync) {
		assert_int_equal(fired(f, 1), 1);
	} else {
		assert_true(fired(f, 1) >= 1 && fired(f, 1) <= 16);
		print_message("io_uring: %u interrupt(s) for a batch of 16\n",
			      fired(f, 1));
	}
	assert_int_equal(stat_of(f, "interrupts"), fired(f, 1));
	for (int i = 0; i < 16; i++) {
		uint8_t b;

		assert_int_equal(pread(f->fd, &b, 1, 4096 * i + 4095), 1);
		assert_int_equal(b, i + 1);
	}
}

/* The device sets DEVICE_NEEDS_RESET within a second, with a
 * configuration interrupt (vector 0). */
static void expect_needs_reset(struct fx *f)
{
	for (int i = 0; i < 1000 && !(bar_r(f, CC(CC_STATUS), 1) &
				      VIRTIO_STATUS_NEEDS_RESET); i++)
		sleep_ms(1);
	assert_true(bar_r(f, CC(CC_STATUS), 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(fired(f, 0) >= 1);
}

/* A chain that cannot be answered is never completed: its status byte
 * would stay whatever the driver left there (often 0, "OK"). One the
 * virtqueue refuses (a buffer outside guest RAM), and one with no
 * writable byte for the status, each set DEVICE_NEEDS_RESET with a
 * configuration interrupt and leave the used ring alone; a driver reset
 * brings the device back. */
static void broken_by(struct fx *f, const struct vqd_seg *segs, unsigned int n)
{
	uint64_t buf = galloc(f, 512, 512);
	uint16_t used_before;
	uint32_t ul;

	start(f);
	used_before = vqd_used_idx(&f->d[0]);
	vqd_publish(&f->d[0], vqd_add(&f->d[0], segs, n));
	kick(f, 0);
	expect_needs_reset(f);
	sleep_ms(20);
	assert_int_equal(vqd_used_idx(&f->d[0]), used_before);
	driver_init(f);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 0, buf, 512, &ul),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 513);
}

static void test_malformed_chain(void **state)
{
	struct fx *f = *state;
	uint64_t hdr = galloc(f, 16, 16);
	struct vqd_seg bad[3] = {
		{ hdr, 16, false },
		{ RAM_SIZE - 256, 512, true },      /* runs off guest RAM */
		{ hdr, 1, true },
	};

	put_hdr(f, hdr, VIRTIO_BLK_T_IN, 0);
	broken_by(f, bad, 3);
	assert_int_equal(stat_of(f, "bad_chains"), 1);
}

static void test_chain_without_status(void **state)
{
	struct fx *f = *state;
	uint64_t hdr = galloc(f, 16, 16), buf = galloc(f, 512, 512);
	struct vqd_seg nostatus[2] = { { hdr, 16, false }, { buf, 512, false } };

	put_hdr(f, hdr, VIRTIO_BLK_T_IN, 0);
	broken_by(f, nostatus, 2);
	assert_int_equal(stat_of(f, "bad_chains"), 1);
}

/* A ring that makes no sense (avail index far ahead): DEVICE_NEEDS_RESET
 * with a configuration interrupt; a driver reset brings it back. */
static void test_broken_ring(void **state)
{
	struct fx *f = *state;
	uint64_t buf = galloc(f, 512, 512);

	start(f);
	vqd_set_avail_idx(&f->d[0], QSIZE + 5);
	kick(f, 0);
	expect_needs_reset(f);
	driver_init(f);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 0, buf, 512, NULL),
			 VIRTIO_BLK_S_OK);
}

/* Reset while requests are in flight: no crash, nothing written to the
 * used ring afterwards, and a re-initialised driver is served. */
static void test_reset_in_flight(void **state)
{
	struct fx *f = *state;
	uint64_t buf = galloc(f, 32 * 65536, 4096);
	uint16_t used_after;
	uint8_t b;

	start(f);
	for (int i = 0; i < 32; i++) {
		memset(gptr(f, buf + 65536ull * i, 65536), 0x40 + i, 65536);
		post(f, 0, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
		     128ull * i, buf + 65536ull * i, 65536);
	}
	kick(f, 0);
	bar_w(f, CC(CC_STATUS), 0, 1);     /* the driver resets */
	assert_int_equal(bar_r(f, CC(CC_STATUS), 1), 0);
	used_after = vqd_used_idx(&f->d[0]);
	sleep_ms(50);
	assert_int_equal(vqd_used_idx(&f->d[0]), used_after);

	driver_init(f);
	memset(gptr(f, buf, 512), 0x40, 512);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 3000, buf, 512, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, &b, 1, 3000 * 512), 1);
	assert_int_equal(b, 0x40);
}

/* More requests in flight than the device keeps slots for (256 per
 * queue): it stops taking chains, and resumes as completions free slots.
 * One chain published 300 times, as only a hostile driver would. */
static void test_more_than_inflight_limit(void **state)
{
	struct fx *f = *state;
	uint64_t buf = galloc(f, 4096, 4096);
	struct req r;
	uint32_t id, ul;

	f->qsize = 512;
	start(f);
	r = post(f, 0, VIRTIO_BLK_T_IN, 0, buf, 4096);
	for (uint16_t i = 1; i < 300; i++)
		vqd_set_avail_ring(&f->d[0], i, r.head);
	vqd_set_avail_idx(&f->d[0], 300);
	kick(f, 0);
	for (int i = 0; i < 300; i++) {
		wait_used(f, 0, &id, &ul);
		assert_int_equal(id, r.head);
		assert_int_equal(ul, 4097);
	}
	assert_int_equal(*gptr(f, r.status_gpa, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(stat_of(f, "requests"), 300);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(gptr(f, buf, 4096)[i], pattern_byte((uint64_t)i));
}

/* O_DIRECT with buffers not aligned for it: served through a bounce
 * buffer, bytes intact. */
static void test_direct_unaligned(void **state)
{
	struct fx *f = *state;
	uint64_t w = galloc(f, 8192, 4096) + 8, r = galloc(f, 8192, 4096) + 3;
	uint64_t al = galloc(f, 4096, 4096);
	uint8_t file[4096];

	start_opts(f, (struct virtio_blk_opts){ .direct = true });
	for (int i = 0; i < 4096; i++)
		gptr(f, w, 4096)[i] = (uint8_t)(i ^ 0x3c);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 64, w, 4096, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 64, r, 4096, NULL),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, r, 4096), gptr(f, w, 4096), 4096);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 64, al, 4096, NULL),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, al, 4096), gptr(f, w, 4096), 4096);
	assert_int_equal(pread(f->fd, file, 4096, 64 * 512), 4096);
	assert_memory_equal(file, gptr(f, w, 4096), 4096);
}

/* ---- O_DIRECT bounce memory under a hostile guest ---- */

#define FLOOD_N    12
#define FLOOD_LEN  (3 * MIB / 2)    /* two fit BLK_BOUNCE_BUDGET at once */
#define GIANT_SEG  (8 * MIB)
#define GIANT_SEGS (BLK_REQ_MAX_DATA / GIANT_SEG)

static uint8_t flood_byte(unsigned int i, uint64_t j)
{
	return (uint8_t)(j * 11 + (j >> 10) + i * 37 + 3);
}

/* Waits for the n requests of r, in any order, each within ms: each comes
 * back once, with status OK and used length ul[i]. */
static void wait_all_ok(struct fx *f, const struct req *r, const uint32_t *ul,
			unsigned int n, int ms)
{
	bool *seen = calloc(n, sizeof(*seen));

	assert_non_null(seen);
	for (unsigned int k = 0; k < n; k++) {
		uint32_t id, len;
		unsigned int i;

		wait_used_ms(f, 0, &id, &len, ms);
		for (i = 0; i < n && (r[i].head != id || seen[i]); i++)
			;
		assert_true(i < n);
		seen[i] = true;
		assert_int_equal(*gptr(f, r[i].status_gpa, 1), VIRTIO_BLK_S_OK);
		assert_int_equal(len, ul[i]);
	}
	free(seen);
}

/* A hostile guest on an O_DIRECT disk: every buffer at an odd address (so
 * every request bounces), everything published behind one kick. First 12
 * writes of 1.5 MiB; then 12 reads of them back with two reads among them
 * as long as a request may be (BLK_REQ_MAX_DATA: 128 descriptors all on
 * one 8 MiB buffer). The queue's bounce memory, measured where the
 * buffers are allocated, never exceeds BLK_BOUNCE_BUDGET; every request
 * completes, within a bounded wait, with the right data. */
static void test_direct_bounce_budget(void **state)
{
	struct fx *f = *state;
	const uint64_t img = (uint64_t)BLK_REQ_MAX_DATA + GIANT_SEG;
	const uint64_t first = 16384;   /* sector: 8 MiB in */
	struct vqd_seg giant[GIANT_SEGS];
	uint64_t wbuf[FLOOD_N], rbuf[FLOOD_N], gbuf[2];
	struct req r[FLOOD_N + 2];
	uint32_t ul[FLOOD_N + 2];
	unsigned int n = 0;
	uint8_t *tmp = malloc(2 * GIANT_SEG);
	uint64_t peak;

	assert_non_null(tmp);
	f->qsize = 256;
	/* Sparse past the pattern; the last 16 MiB (where the giants' last
	 * segments read) hold known bytes. */
	assert_int_equal(ftruncate(f->fd, (off_t)img), 0);
	for (uint64_t j = 0; j < 2 * GIANT_SEG; j++)
		tmp[j] = pattern_byte(img - 2 * GIANT_SEG + j);
	assert_int_equal(pwrite(f->fd, tmp, 2 * GIANT_SEG,
				(off_t)(img - 2 * GIANT_SEG)), 2 * GIANT_SEG);
	assert_int_equal(fsync(f->fd), 0);
	start_opts(f, (struct virtio_blk_opts){ .direct = true });

	for (unsigned int i = 0; i < FLOOD_N; i++) {
		wbuf[i] = galloc(f, FLOOD_LEN + 1, 4096) + 1;
		for (uint64_t j = 0; j < FLOOD_LEN; j++)
			gptr(f, wbuf[i], FLOOD_LEN)[j] = flood_byte(i, j);
		r[i] = post(f, 0, VIRTIO_BLK_T_OUT,
			    first + (uint64_t)i * (FLOOD_LEN / 512), wbuf[i],
			    FLOOD_LEN);
		ul[i] = 1;
	}
	kick(f, 0);
	wait_all_ok(f, r, ul, FLOOD_N, TIMEOUT_MS);
	peak = stat_of(f, "bounce_bytes_peak");
	assert_true(peak <= BLK_BOUNCE_BUDGET);
	if (f->sync) {
		/* One request at a time: nothing ever has to wait. */
		assert_int_equal(peak, FLOOD_LEN);
		assert_int_equal(stat_of(f, "bounce_waits"), 0);
	} else {
		/* All 12 at once: some waited for bounce memory, yet two
		 * still bounced side by side. */
		assert_true(peak >= 2 * FLOOD_LEN);
		assert_true(stat_of(f, "bounce_waits") > 0);
	}
	for (unsigned int i = 0; i < FLOOD_N; i++) {
		assert_int_equal(pread(f->fd, tmp, FLOOD_LEN,
				       (off_t)((first + (uint64_t)i *
						(FLOOD_LEN / 512)) * 512)),
				 FLOOD_LEN);
		assert_memory_equal(tmp, gptr(f, wbuf[i], FLOOD_LEN),
				    FLOOD_LEN);
	}

	for (unsigned int g = 0; g < 2; g++) {
		gbuf[g] = galloc(f, GIANT_SEG + 8, 4096) + 5;
		memset(gptr(f, gbuf[g], GIANT_SEG), 0xee, GIANT_SEG);
	}
	for (unsigned int i = 0; i < FLOOD_N; i++) {
		if (i == 0 || i == FLOOD_N / 2) {
			unsigned int g = i ? 1 : 0;

			for (unsigned int k = 0; k < GIANT_SEGS; k++)
				giant[k] = (struct vqd_seg){ gbuf[g], GIANT_SEG,
							     true };
			ul[n] = BLK_REQ_MAX_DATA + 1;
			r[n++] = post_segs(f, 0, VIRTIO_BLK_T_IN,
					   (uint64_t)g * (GIANT_SEG / 512),
					   giant, GIANT_SEGS);
		}
		rbuf[i] = galloc(f, FLOOD_LEN + 3, 4096) + 3;
		memset(gptr(f, rbuf[i], FLOOD_LEN), 0, FLOOD_LEN);
		ul[n] = FLOOD_LEN + 1;
		r[n++] = post(f, 0, VIRTIO_BLK_T_IN,
			      first + (uint64_t)i * (FLOOD_LEN / 512), rbuf[i],
			      FLOOD_LEN);
	}
	assert_int_equal(n, FLOOD_N + 2);
	kick(f, 0);
	/* Bounded, but generous: each giant moves 1 GiB under ASan. */
	wait_all_ok(f, r, ul, n, 120000);
	for (unsigned int i = 0; i < FLOOD_N; i++)
		assert_memory_equal(gptr(f, rbuf[i], FLOOD_LEN),
				    gptr(f, wbuf[i], FLOOD_LEN), FLOOD_LEN);
	/* Every segment of a giant is the same buffer: the chunks are read
	 * in order, so it ends up holding the last segment's bytes. */
	for (unsigned int g = 0; g < 2; g++) {
		uint64_t last = (uint64_t)g * GIANT_SEG + BLK_REQ_MAX_DATA -
				GIANT_SEG;
		const uint8_t *p = gptr(f, gbuf[g], GIANT_SEG);

		for (uint64_t j = 0; j < GIANT_SEG; j++)
			if (p[j] != pattern_byte(last + j))
				fail_msg("giant %u: byte %" PRIu64 " is %u", g,
					 j, p[j]);
	}
	/* The giants went through one budget-sized buffer; never more. */
	assert_int_equal(stat_of(f, "bounce_bytes_peak"), BLK_BOUNCE_BUDGET);
	assert_int_equal(stat_of(f, "errors"), 0);
	assert_int_equal(stat_of(f, "read_bytes"),
			 (uint64_t)FLOOD_N * FLOOD_LEN +
			 2ull * BLK_REQ_MAX_DATA);
	free(tmp);
}

/* One request longer than the whole budget, as a guest that raised
 * max_sectors_kb sends it, with unaligned buffers: it is moved through a
 * budget-sized buffer in chunks (not refused), and the data is right both
 * ways. Uneven segments at odd addresses, so chunk boundaries fall inside
 * segments; the read back is cut elsewhere. */
#define OVER_LEN  (9 * MIB + 3584)  /* three chunks, the last short */
#define OVER_SEGS 40
#define OVER_RSEGS 7

static void test_direct_oversized_request(void **state)
{
	struct fx *f = *state;
	struct vqd_seg w[OVER_SEGS], rd[OVER_RSEGS];
	uint8_t *want = malloc(OVER_LEN), *file = malloc(OVER_LEN + 512);
	const uint64_t sector = 8192;   /* 4 MiB in */
	uint64_t pos = 0;
	struct req r;
	uint32_t id, ul;

	assert_non_null(want);
	assert_non_null(file);
	f->qsize = 256;
	assert_int_equal(ftruncate(f->fd, 32 * MIB), 0);
	start_opts(f, (struct virtio_blk_opts){ .direct = true });
	for (uint64_t j = 0; j < OVER_LEN; j++)
		want[j] = (uint8_t)(flood_byte(7, j) ^ (j >> 16));
	for (unsigned int k = 0; k < OVER_SEGS; k++) {
		uint32_t len = k + 1 < OVER_SEGS ? 200000 + 1237 * k
						 : (uint32_t)(OVER_LEN - pos);
		uint64_t g = galloc(f, len + 8, 64) + 1 + k % 7;

		memcpy(gptr(f, g, len), want + pos, len);
		w[k] = (struct vqd_seg){ g, len, false };
		pos += len;
	}
	assert_int_equal(pos, OVER_LEN);
	r = post_segs(f, 0, VIRTIO_BLK_T_OUT, sector, w, OVER_SEGS);
	kick(f, 0);
	wait_used(f, 0, &id, &ul);
	assert_int_equal(id, r.head);
	assert_int_equal(*gptr(f, r.status_gpa, 1), VIRTIO_BLK_S_OK);
	/* In the file, and not a byte further. */
	assert_int_equal(pread(f->fd, file, OVER_LEN + 512,
			       (off_t)(sector * 512)), OVER_LEN + 512);
	assert_memory_equal(file, want, OVER_LEN);
	for (int i = 0; i < 512; i++)
		assert_int_equal(file[OVER_LEN + i], 0);

	pos = 0;
	for (unsigned int k = 0; k < OVER_RSEGS; k++) {
		uint32_t len = k + 1 < OVER_RSEGS ? 1300001 + 3 * k
						  : (uint32_t)(OVER_LEN - pos);
		uint64_t g = galloc(f, len + 8, 64) + 3;

		memset(gptr(f, g, len), 0, len);
		rd[k] = (struct vqd_seg){ g, len, true };
		pos += len;
	}
	r = post_segs(f, 0, VIRTIO_BLK_T_IN, sector, rd, OVER_RSEGS);
	kick(f, 0);
	wait_used(f, 0, &id, &ul);
	assert_int_equal(id, r.head);
	assert_int_equal(*gptr(f, r.status_gpa, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, OVER_LEN + 1);
	pos = 0;
	for (unsigned int k = 0; k < OVER_RSEGS; k++) {
		assert_memory_equal(gptr(f, rd[k].gpa, rd[k].len), want + pos,
				    rd[k].len);
		pos += rd[k].len;
	}
	/* One budget-sized buffer, not a 9 MiB one. */
	assert_int_equal(stat_of(f, "bounce_bytes_peak"), BLK_BOUNCE_BUDGET);
	assert_int_equal(stat_of(f, "written_bytes"), OVER_LEN);
	assert_int_equal(stat_of(f, "read_bytes"), OVER_LEN);
	assert_int_equal(stat_of(f, "errors"), 0);
	free(want);
	free(file);
}

/* A reset while the queue waits for bounce memory: afterwards the whole
 * budget is free again (a request needing all of it completes at once),
 * so nothing leaked and nothing stays starved. */
static void test_direct_reset_while_waiting(void **state)
{
	struct fx *f = *state;
	uint64_t buf = galloc(f, FLOOD_N * (uint64_t)FLOOD_LEN + 8, 4096) + 1;
	uint64_t whole = galloc(f, BLK_BOUNCE_BUDGET + 8, 4096) + 7;

	f->qsize = 256;
	assert_int_equal(ftruncate(f->fd, 32 * MIB), 0);
	start_opts(f, (struct virtio_blk_opts){ .direct = true });
	for (unsigned int i = 0; i < FLOOD_N; i++)
		post(f, 0, VIRTIO_BLK_T_IN, (uint64_t)i * (FLOOD_LEN / 512),
		     buf + (uint64_t)i * FLOOD_LEN, FLOOD_LEN);
	kick(f, 0);
	bar_w(f, CC(CC_STATUS), 0, 1);
	assert_int_equal(bar_r(f, CC(CC_STATUS), 1), 0);

	driver_init(f);
	memset(gptr(f, whole, BLK_BOUNCE_BUDGET), 0x6b, BLK_BOUNCE_BUDGET);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 0, whole,
			     BLK_BOUNCE_BUDGET, NULL), VIRTIO_BLK_S_OK);
	memset(gptr(f, whole, BLK_BOUNCE_BUDGET), 0, BLK_BOUNCE_BUDGET);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 0, whole,
			     BLK_BOUNCE_BUDGET, NULL), VIRTIO_BLK_S_OK);
	for (uint32_t j = 0; j < BLK_BOUNCE_BUDGET; j++)
		if (gptr(f, whole, BLK_BOUNCE_BUDGET)[j] != 0x6b)
			fail_msg("byte %u reads back as %u", j,
				 gptr(f, whole, BLK_BOUNCE_BUDGET)[j]);
	assert_true(stat_of(f, "bounce_bytes_peak") <= BLK_BOUNCE_BUDGET);
}

/* io_uring refused (ENOSYS, as under a seccomp policy): the device
 * falls back to the synchronous back end and says why. The filter is
 * installed on a helper thread, inherited by the device's I/O thread. */
struct nouring_arg {
	struct fx *f;
	struct virtio_blk *b;
	struct rv_err err;
};

static void *new_without_uring(void *opaque)
{
	struct nouring_arg *a = opaque;
	struct sock_filter filt[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(filt) / sizeof(filt[0]), filt };
	struct msix_sink sink = { .route = sink_route, .fire = sink_fire, .ctx = &a->f->log };
	struct virtio_blk_opts o = { .path = a->f->path, .queue_size = QSIZE };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return NULL;
	a->b = virtio_blk_new(&o, &a->f->mem, sink, &a->err);
	return NULL;
}

static void test_uring_unavailable_falls_back(void **state)
{
	struct fx *f = *state;
	struct nouring_arg a = { .f = f };
	uint64_t w = galloc(f, 4096, 4096), r = galloc(f, 4096, 4096);
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, new_without_uring, &a), 0);
	pthread_join(th, NULL);
	if (!a.b)
		fail_msg("virtio_blk_new under seccomp: %s", a.err.msg);
	f->b = a.b;
	f->t = virtio_blk_transport(f->b);
	f->nq = 1;
	f->qsize = QSIZE;
	assert_false(virtio_blk_uses_uring(f->b));
	assert_non_null(strstr(virtio_blk_why_sync(f->b), "io_uring"));
	driver_init(f);
	memset(gptr(f, w, 4096), 0x99, 4096);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_OUT, 16, w, 4096, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(run(f, 0, VIRTIO_BLK_T_IN, 16, r, 4096, NULL),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, r, 4096), gptr(f, w, 4096), 4096);
}

static void test_bad_images(void **state)
{
	struct fx *f = *state;
	struct msix_sink sink = { .route = sink_route, .fire = sink_fire, .ctx = &f->log };
	struct virtio_blk_opts o = { .path = "/nonexistent/disk.img" };
	char empty[] = "/var/tmp/ringvm-blk-empty-XXXXXX";
	struct rv_err err;
	int fd;

	assert_null(virtio_blk_new(&o, &f->mem, sink, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/disk.img"));
	fd = mkstemp(empty);
	assert_true(fd >= 0);
	o.path = empty;
	assert_null(virtio_blk_new(&o, &f->mem, sink, &err));
	assert_non_null(strstr(err.msg, "empty"));
	close(fd);
	unlink(empty);
	o.path = f->path;
	o.queue_size = 100;
	assert_null(virtio_blk_new(&o, &f->mem, sink, &err));
	assert_non_null(strstr(err.msg, "power of two"));
}

static void test_stats_format(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t sz = 0;
	FILE *m;

	start(f);
	m = open_memstream(&buf, &sz);
	assert_non_null(m);
	virtio_blk_print_stats(f->b, "blk0", m);
	fclose(m);
	assert_true(stats_check_lines(buf, "blk0") >= 8);
	free(buf);
}

/* Each I/O test once per back end, named after it. */
#define BOTH(t) \
	{ #t "/sync", t, setup_sync, fx_teardown, NULL }, \
	{ #t "/io_uring", t, setup_uring, fx_teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup_sync,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_readonly_features,
						setup_sync, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_images, setup_sync,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_format, setup_sync,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_uring_unavailable_falls_back,
						setup_uring, fx_teardown),
		BOTH(test_write_read_back),
		BOTH(test_scatter_and_bounds),
		BOTH(test_get_id),
		BOTH(test_discard),
		BOTH(test_write_zeroes),
		BOTH(test_readonly),
		BOTH(test_multiqueue),
		BOTH(test_batching),
		BOTH(test_malformed_chain),
		BOTH(test_chain_without_status),
		BOTH(test_broken_ring),
		BOTH(test_reset_in_flight),
		BOTH(test_direct_unaligned),
		BOTH(test_more_than_inflight_limit),
		BOTH(test_direct_bounce_budget),
		BOTH(test_direct_oversized_request),
		BOTH(test_direct_reset_while_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
