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

#include "unit/virtio_pci_driver.h"
#include "unit/virtq_driver.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"
#include "unit/virtio_pci_driver.c"
#include "unit/stats_text.h"

#define RAM        (4ull << 20)
#define RING0      0x10000ull
#define BUF        0x100000ull
#define QSIZE      64
#define NQ         1
#define BIT(n)     (1ull << (n))
#define CAP        (64 * 1024)

struct fx {
	struct guest_mem mem;
	struct virtio_rng *r;
	struct vpd drv;          /* transport, rings, MSI-X counts */
};

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
	vpd_init(&f->drv, &f->mem, NQ, QSIZE, RING0);
	f->r = virtio_rng_new(&f->mem, vpd_msix_sink(&f->drv), &err);
	if (!f->r) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	f->drv.t = virtio_rng_transport(f->r);
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

	pci_cfg_read(&f->drv.t->pci, PCI_DEVICE_ID, id_bytes, 2);
	assert_int_equal(id_bytes[0] | id_bytes[1] << 8, 0x1044);
	vpd_setup(&f->drv, STD_FEATURES);
	memset(vpd_guest(&f->drv, BUF, 8192), 0, 8192);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 4096, true } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 4096);
	assert_false(all_same(vpd_guest(&f->drv, BUF, 4096), 4096, 0));
	assert_true(all_same(vpd_guest(&f->drv, BUF + 4096, 4096), 4096, 0));
	assert_true(atomic_load(&f->drv.fired[0]) >= 1);

	/* Several segments, all filled; two requests differ. */
	memset(vpd_guest(&f->drv, BUF + 0x10000, 0x1000), 0, 0x1000);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x10000, 100, true },
				       { BUF + 0x10200, 200, true },
				       { BUF + 0x10400, 300, true } }, 3, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 600);
	assert_false(all_same(vpd_guest(&f->drv, BUF + 0x10000, 100), 100, 0));
	assert_false(all_same(vpd_guest(&f->drv, BUF + 0x10200, 200), 200, 0));
	assert_false(all_same(vpd_guest(&f->drv, BUF + 0x10400, 300), 300, 0));
	assert_true(all_same(vpd_guest(&f->drv, BUF + 0x10000 + 100, 0x100), 0x100, 0));
	assert_memory_not_equal(vpd_guest(&f->drv, BUF, 100), vpd_guest(&f->drv, BUF + 0x10000, 100), 100);
}

static void test_huge_buffer_capped(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint16_t head;

	vpd_setup(&f->drv, STD_FEATURES);
	memset(vpd_guest(&f->drv, BUF, 1 << 20), 0xaa, 1 << 20);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 1 << 20, true } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, CAP);
	assert_true(all_same(vpd_guest(&f->drv, BUF + CAP, (1 << 20) - CAP), (1 << 20) - CAP,
			     0xaa));
	assert_false(all_same(vpd_guest(&f->drv, BUF + CAP - 256, 256), 256, 0xaa));
}

static uint64_t stat_of(struct fx *f, const char *name)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *m = open_memstream(&buf, &sz);
	uint64_t v;

	assert_non_null(m);
	virtio_rng_print_stats(f->r, "rng", m);
	fclose(m);
	v = stats_lookup(buf, "rng", name);
	free(buf);
	return v;
}

static void test_malformed_and_broken(void **state)
{
	struct fx *f = *state;
	struct vqd *d = &f->drv.q[0];
	uint32_t id, len;
	uint16_t head;

	vpd_setup(&f->drv, STD_FEATURES);
	/* A read-only segment: nothing to fill. */
	memset(vpd_guest(&f->drv, BUF, 64), 0x55, 64);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 64, false } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_true(all_same(vpd_guest(&f->drv, BUF, 64), 64, 0x55));
	/* Outside guest RAM, and an address range that wraps. */
	vqd_set_desc(d, 20, RAM - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	vqd_set_desc(d, 21, ~0ull - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	vqd_set_avail_ring(d, d->avail_idx, 20);
	vqd_set_avail_ring(d, (uint16_t)(d->avail_idx + 1), 21);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 2));
	vpd_kick(&f->drv, 0);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, 20);
	assert_int_equal(len, 0);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, 21);
	assert_int_equal(len, 0);
	assert_int_equal(stat_of(f, "bad_chains"), 3);
	/* Still serving. */
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x1000, 32, true } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(len, 32);
	assert_false(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);

	/* A head index beyond the table breaks the ring. */
	vqd_set_avail_ring(d, d->avail_idx, QSIZE + 3);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
	vpd_kick(&f->drv, 0);
	for (int i = 0; i < 2000 && !(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	assert_true(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(atomic_load(&f->drv.fired[1]) >= 1);   /* config vector */

	vpd_setup(&f->drv, STD_FEATURES);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x2000, 16, true } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
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

	vpd_setup(&f->drv, STD_FEATURES);
	for (int i = 0; i < 3; i++) {
		vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 10, true } }, 1, NULL);
		assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	}
	assert_int_equal(stat_of(f, "requests"), 3);
	assert_int_equal(stat_of(f, "bytes"), 30);
	assert_true(stat_of(f, "kicks") >= 1);
	assert_true(stat_of(f, "interrupts") >= 1);
	m = open_memstream(&buf, &sz);
	virtio_rng_print_stats(f->r, "rng", m);
	fclose(m);
	/* Every line is "NAME VALUE UNIT". */
	assert_true(stats_check_lines(buf, "rng") >= 4);
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
