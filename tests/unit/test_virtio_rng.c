/* virtio-rng driven through the virtio-pci registers with rings from
 * tests/unit/virtq_driver: buffers come back filled (right length, not
 * zeros, different each time), one request is capped at 64 KiB with the
 * rest untouched, malformed chains are returned empty, a corrupt ring sets
 * DEVICE_NEEDS_RESET and a reset recovers; stats lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit/virtq_driver.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"

#define RAM        (4ull << 20)
#define RING0      0x10000ull
#define RING_STEP  0x10000ull
#define BUF        0x100000ull
#define QSIZE      64
#define NQ         1
#define BIT(n)     (1ull << (n))
#define CAP        (64 * 1024)

struct fx {
	struct guest_mem mem;
	struct virtio_rng *r;
	struct virtio_pci *t;
	struct vqd q[NQ];
	bool event_idx;
	atomic_uint fired[4];
};

/* ---- a minimal virtio-pci driver ---- */

static void msix_route(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	(void)ctx;
	(void)v;
	(void)addr;
	(void)data;
}

static void msix_fire(void *ctx, unsigned int v)
{
	struct fx *f = ctx;

	if (v < 4)
		atomic_fetch_add(&f->fired[v], 1);
}

static void bar_w(struct virtio_pci *t, uint64_t off, uint64_t v, uint32_t len)
{
	uint8_t b[8];

	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virtio_pci_bar_io(t, off, b, len, true);
}

static uint64_t bar_r(struct virtio_pci *t, uint64_t off, uint32_t len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	virtio_pci_bar_io(t, off, b, len, false);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint64_t dev_features(struct virtio_pci *t)
{
	uint64_t v = 0;

	for (unsigned int sel = 0; sel < 2; sel++) {
		bar_w(t, 0x00, sel, 4);
		v |= bar_r(t, 0x04, 4) << (32 * sel);
	}
	return v;
}

static uint8_t status(struct virtio_pci *t)
{
	return (uint8_t)bar_r(t, 0x14, 1);
}

/* Reset, negotiate `want` (plus VERSION_1), enable MSI-X and all queues
 * with fresh rings, DRIVER_OK. */
static void drv_setup(struct fx *f, uint64_t want)
{
	struct virtio_pci *t = f->t;
	uint64_t feat = (dev_features(t) & want) | BIT(VIRTIO_F_VERSION_1);
	uint8_t ctl[2];
	uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	bar_w(t, 0x14, 0, 1);
	assert_int_equal(status(t), 0);
	bar_w(t, 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_w(t, 0x14, s, 1);
	for (unsigned int sel = 0; sel < 2; sel++) {
		bar_w(t, 0x08, sel, 4);
		bar_w(t, 0x0c, feat >> (32 * sel), 4);
	}
	s |= VIRTIO_STATUS_FEATURES_OK;
	bar_w(t, 0x14, s, 1);
	assert_true(status(t) & VIRTIO_STATUS_FEATURES_OK);
	f->event_idx = feat & BIT(VIRTIO_RING_F_EVENT_IDX);

	pci_cfg_read(&t->pci, t->msix.cap_off + 2u, ctl, 2);
	ctl[1] |= 0x80;                         /* MSI-X enable */
	pci_cfg_write(&t->pci, t->msix.cap_off + 2u, ctl, 2);
	for (unsigned int v = 0; v <= NQ; v++)
		bar_w(t, VIRTIO_PCI_MSIX_OFF + 16 * v + 12, 0, 4); /* unmask */
	bar_w(t, 0x10, NQ, 2);                  /* config vector */
	for (unsigned int q = 0; q < NQ; q++) {
		struct vqd *d = &f->q[q];

		assert_int_equal(vqd_init(d, &f->mem, QSIZE,
					  RING0 + q * RING_STEP), 0);
		bar_w(t, 0x16, q, 2);
		assert_int_equal(bar_r(t, 0x18, 2), QSIZE);
		bar_w(t, 0x1a, q, 2);
		bar_w(t, 0x20, d->desc_gpa, 4);
		bar_w(t, 0x24, d->desc_gpa >> 32, 4);
		bar_w(t, 0x28, d->avail_gpa, 4);
		bar_w(t, 0x2c, d->avail_gpa >> 32, 4);
		bar_w(t, 0x30, d->used_gpa, 4);
		bar_w(t, 0x34, d->used_gpa >> 32, 4);
		bar_w(t, 0x1c, 1, 2);
	}
	bar_w(t, 0x14, s | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(status(t), s | VIRTIO_STATUS_DRIVER_OK);
}

static void kick(struct fx *f, unsigned int q)
{
	bar_w(f->t, VIRTIO_PCI_NOTIFY_OFF + 4 * q, q, 2);
}

/* Adds and publishes a chain, kicking only if the device asked for it (as
 * Linux does). Returns whether it kicked. */
static bool post(struct fx *f, unsigned int q, const struct vqd_seg *s,
		 unsigned int n, uint16_t *head)
{
	struct vqd *d = &f->q[q];
	uint16_t old = d->avail_idx;
	uint16_t h = vqd_add(d, s, n);

	vqd_publish(d, h);
	if (head)
		*head = h;
	if (vqd_kick_needed(d, f->event_idx, old)) {
		kick(f, q);
		return true;
	}
	return false;
}

static bool wait_used(struct fx *f, unsigned int q, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 2000; i++) {
		if (vqd_get_used(&f->q[q], id, len))
			return true;
		usleep(1000);
	}
	return false;
}

static uint8_t *g(struct fx *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static bool all_same(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guest_region layout = { .gpa = 0, .size = RAM };
	struct rv_err err;

	if (!f || guest_mem_map(&f->mem, &layout, 1, &err) < 0)
		return -1;
	f->r = virtio_rng_new(&f->mem,
			      (struct msix_sink){ msix_route, msix_fire, f }, &err);
	if (!f->r) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	f->t = virtio_rng_transport(f->r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_rng_free(f->r);
	guest_mem_unmap(&f->mem);
	free(f);
	return 0;
}

#define STD_FEATURES (BIT(VIRTIO_RING_F_EVENT_IDX) | \
		      BIT(VIRTIO_RING_F_INDIRECT_DESC))

static void test_fills_buffers(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint16_t head;
	uint8_t id_bytes[2];

	pci_cfg_read(&f->t->pci, PCI_DEVICE_ID, id_bytes, 2);
	assert_int_equal(id_bytes[0] | id_bytes[1] << 8, 0x1044);
	drv_setup(f, STD_FEATURES);
	memset(g(f, BUF, 8192), 0, 8192);
	post(f, 0, (struct vqd_seg[]){ { BUF, 4096, true } }, 1, &head);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 4096);
	assert_false(all_same(g(f, BUF, 4096), 4096, 0));
	assert_true(all_same(g(f, BUF + 4096, 4096), 4096, 0));
	assert_true(atomic_load(&f->fired[0]) >= 1);

	/* Several segments, all filled; two requests differ. */
	memset(g(f, BUF + 0x10000, 0x1000), 0, 0x1000);
	post(f, 0, (struct vqd_seg[]){ { BUF + 0x10000, 100, true },
				       { BUF + 0x10200, 200, true },
				       { BUF + 0x10400, 300, true } }, 3, &head);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 600);
	assert_false(all_same(g(f, BUF + 0x10000, 100), 100, 0));
	assert_false(all_same(g(f, BUF + 0x10200, 200), 200, 0));
	assert_false(all_same(g(f, BUF + 0x10400, 300), 300, 0));
	assert_true(all_same(g(f, BUF + 0x10000 + 100, 0x100), 0x100, 0));
	assert_memory_not_equal(g(f, BUF, 100), g(f, BUF + 0x10000, 100), 100);
}

static void test_huge_buffer_capped(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint16_t head;

	drv_setup(f, STD_FEATURES);
	memset(g(f, BUF, 1 << 20), 0xaa, 1 << 20);
	post(f, 0, (struct vqd_seg[]){ { BUF, 1 << 20, true } }, 1, &head);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, CAP);
	assert_true(all_same(g(f, BUF + CAP, (1 << 20) - CAP), (1 << 20) - CAP,
			     0xaa));
	assert_false(all_same(g(f, BUF + CAP - 256, 256), 256, 0xaa));
}

static uint64_t stat_of(struct fx *f, const char *name)
{
	char *buf = NULL, key[64];
	size_t sz = 0;
	FILE *m = open_memstream(&buf, &sz);
	unsigned long long v = ~0ull;
	char *p;

	assert_non_null(m);
	virtio_rng_print_stats(f->r, "rng", m);
	fclose(m);
	snprintf(key, sizeof(key), "rng_%s ", name);
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, strlen(key))) {
			sscanf(p + strlen(key), "%llu", &v);
			break;
		}
	free(buf);
	return v;
}

static void test_malformed_and_broken(void **state)
{
	struct fx *f = *state;
	struct vqd *d = &f->q[0];
	uint32_t id, len;
	uint16_t head;

	drv_setup(f, STD_FEATURES);
	/* A read-only segment: nothing to fill. */
	memset(g(f, BUF, 64), 0x55, 64);
	post(f, 0, (struct vqd_seg[]){ { BUF, 64, false } }, 1, &head);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_true(all_same(g(f, BUF, 64), 64, 0x55));
	/* Outside guest RAM, and an address range that wraps. */
	vqd_set_desc(d, 20, RAM - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	vqd_set_desc(d, 21, ~0ull - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	vqd_set_avail_ring(d, d->avail_idx, 20);
	vqd_set_avail_ring(d, (uint16_t)(d->avail_idx + 1), 21);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 2));
	kick(f, 0);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, 20);
	assert_int_equal(len, 0);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, 21);
	assert_int_equal(len, 0);
	assert_int_equal(stat_of(f, "bad_chains"), 3);
	/* Still serving. */
	post(f, 0, (struct vqd_seg[]){ { BUF + 0x1000, 32, true } }, 1, &head);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(len, 32);
	assert_false(status(f->t) & VIRTIO_STATUS_NEEDS_RESET);

	/* A head index beyond the table breaks the ring. */
	vqd_set_avail_ring(d, d->avail_idx, QSIZE + 3);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
	kick(f, 0);
	for (int i = 0; i < 2000 && !(status(f->t) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	assert_true(status(f->t) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(atomic_load(&f->fired[1]) >= 1);   /* config vector */

	drv_setup(f, STD_FEATURES);
	post(f, 0, (struct vqd_seg[]){ { BUF + 0x2000, 16, true } }, 1, &head);
	assert_true(wait_used(f, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 16);
}

static void test_stats_lines(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	char *buf = NULL;
	size_t sz = 0;
	FILE *m;
	int lines = 0;

	drv_setup(f, STD_FEATURES);
	for (int i = 0; i < 3; i++) {
		post(f, 0, (struct vqd_seg[]){ { BUF, 10, true } }, 1, NULL);
		assert_true(wait_used(f, 0, &id, &len));
	}
	assert_int_equal(stat_of(f, "requests"), 3);
	assert_int_equal(stat_of(f, "bytes"), 30);
	assert_true(stat_of(f, "kicks") >= 1);
	assert_true(stat_of(f, "interrupts") >= 1);
	m = open_memstream(&buf, &sz);
	virtio_rng_print_stats(f->r, "rng", m);
	fclose(m);
	/* Every line is "NAME VALUE UNIT". */
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64], unit[32];
		unsigned long long v;

		assert_int_equal(sscanf(line, "%63s %llu %31s", name, &v, unit), 3);
		lines++;
	}
	assert_true(lines >= 4);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_buffer_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_lines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
