/* MSI-X as Linux's PCI core drives it: the capability, the vector table and
 * PBA in a BAR, masking with pending delivery, and concurrent notification
 * from I/O threads while the guest masks and unmasks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bus/msix.h"
#include "bus/pci.h"

#define NVEC      4
#define TABLE_OFF 0x4000
#define PBA_OFF   0x5000
#define MAX_LOG   256

struct route_rec {
	unsigned int v;
	uint64_t addr;
	uint32_t data;
};

/* The fake sink: records routes and fires, and checks that a fire is
 * only ever made for a deliverable vector (it runs under the MSI-X lock). */
struct sink_rec {
	struct msix *m;
	struct route_rec route[MAX_LOG];
	unsigned int nroute;
	unsigned long fires[MSIX_MAX_VECTORS];
	unsigned long bad_vector;
	unsigned long fired_masked;
	atomic_int want[MSIX_MAX_VECTORS];
};

static void rec_route(void *ctx, unsigned int v, uint64_t addr, uint32_t data)
{
	struct sink_rec *r = ctx;

	if (v >= r->m->nvec) {
		r->bad_vector++;
		return;
	}
	if (r->nroute < MAX_LOG)
		r->route[r->nroute++] = (struct route_rec){ v, addr, data };
}

static void rec_fire(void *ctx, unsigned int v)
{
	struct sink_rec *r = ctx;
	struct msix *m = r->m;

	if (v >= m->nvec) {
		r->bad_vector++;
		return;
	}
	if (!m->enabled || m->func_masked || (m->table[v].ctrl & 1))
		r->fired_masked++;
	r->fires[v]++;
	atomic_store(&r->want[v], 0);
}

struct fixture {
	struct pci_device pci;
	struct msix m;
	struct sink_rec rec;
};

static void bar_fn(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
	(void)is_write;
}

static void cfg_hook(void *dev, uint32_t off, uint32_t len)
{
	msix_cfg_written(dev, off, len);
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct msix_sink sink;
	struct rv_err err;

	if (!f)
		return -1;
	pci_device_init(&f->pci, 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1);
	if (pci_device_add_bar(&f->pci, 0, 0x8000, false, false, bar_fn, f,
			       "bar0", &err) < 0)
		return -1;
	sink = (struct msix_sink){ .route = rec_route, .fire = rec_fire, .ctx = &f->rec };
	f->rec.m = &f->m;
	if (msix_init(&f->m, &f->pci, NVEC, 0, TABLE_OFF, PBA_OFF, sink,
		      &err) < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	f->pci.cfg_written = cfg_hook;
	f->pci.cfg_written_dev = &f->m;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->rec.bad_vector, 0);
	assert_int_equal(f->rec.fired_masked, 0);
	msix_destroy(&f->m);
	pci_device_destroy(&f->pci);
	test_free(f);
	return 0;
}

static uint32_t cfg_rd(struct fixture *f, uint32_t off, uint32_t len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_read(&f->pci, off, b, len);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void cfg_wr(struct fixture *f, uint32_t off, uint32_t len, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	pci_cfg_write(&f->pci, off, b, len);
}

/* Message Control, as the guest writes it (a 16-bit config write). */
static void set_ctl(struct fixture *f, bool enable, bool fmask)
{
	cfg_wr(f, f->m.cap_off + 2u, 2,
	       (enable ? 0x8000 : 0) | (fmask ? 0x4000 : 0));
}

static uint32_t tbl_rd(struct fixture *f, uint64_t off)
{
	uint8_t b[4];

	msix_table_io(&f->m, off, b, 4, false);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void tbl_wr(struct fixture *f, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	msix_table_io(&f->m, off, b, 4, true);
}

static void mask_vec(struct fixture *f, unsigned int v, bool masked)
{
	tbl_wr(f, v * MSIX_ENTRY_SIZE + 12u, masked);
}

static uint64_t pba(struct fixture *f)
{
	uint8_t b[8];
	uint64_t v = 0;
	int i;

	msix_pba_io(&f->m, 0, b, 8, false);
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void test_capability(void **state)
{
	struct fixture *f = *state;
	uint8_t off = f->m.cap_off;

	assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg_rd(f, PCI_CAP_PTR, 1), off);
	assert_int_equal(cfg_rd(f, off, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(cfg_rd(f, off + 1u, 1), 0);
	assert_int_equal(cfg_rd(f, off + 2u, 2), NVEC - 1);  /* N - 1, off */
	assert_int_equal(cfg_rd(f, off + 4u, 4), TABLE_OFF | 0); /* BIR 0 */
	assert_int_equal(cfg_rd(f, off + 8u, 4), PBA_OFF | 0);

	/* Only enable and function mask are writable. */
	cfg_wr(f, off + 2u, 2, 0xffff);
	assert_int_equal(cfg_rd(f, off + 2u, 2), 0xc000 | (NVEC - 1));
	assert_true(f->m.enabled);
	assert_true(f->m.func_masked);
	cfg_wr(f, off + 4u, 4, 0xffffffff);
	cfg_wr(f, off + 8u, 4, 0xffffffff);
	cfg_wr(f, off, 2, 0xffff);
	assert_int_equal(cfg_rd(f, off + 4u, 4), TABLE_OFF);
	assert_int_equal(cfg_rd(f, off + 8u, 4), PBA_OFF);
	assert_int_equal(cfg_rd(f, off, 2), PCI_CAP_ID_MSIX);
	/* A byte write to the top half reaches the state too. */
	cfg_wr(f, off + 3u, 1, 0x00);
	assert_false(f->m.enabled);
	assert_false(f->m.func_masked);
	cfg_wr(f, off + 3u, 1, 0x80);
	assert_true(f->m.enabled);
	/* A dword write covering Message Control counts as well. */
	cfg_wr(f, off, 4, 0x40000000);
	assert_false(f->m.enabled);
	assert_true(f->m.func_masked);
}

static void test_init_errors(void **state)
{
	struct pci_device d;
	struct msix m;
	struct msix_sink sink = { 0 };
	struct rv_err err;
	uint8_t cap[250] = { 0x09 }, off;

	(void)state;
	pci_device_init(&d, 1, 2, 0, 0, 0, 0);
	assert_int_equal(msix_init(&m, &d, 0, 0, 0, 0x800, sink, &err), -1);
	assert_int_equal(msix_init(&m, &d, MSIX_MAX_VECTORS + 1, 0, 0, 0x800,
				   sink, &err), -1);
	assert_int_equal(msix_init(&m, &d, 4, 6, 0, 0x800, sink, &err), -1);
	assert_int_equal(msix_init(&m, &d, 4, 0, 4, 0x800, sink, &err), -1);
	assert_int_equal(msix_init(&m, &d, 4, 0, 0, 0x804, sink, &err), -1);
	/* Declared BAR too small for the table. */
	assert_int_equal(pci_device_add_bar(&d, 1, 0x1000, false, false,
					    bar_fn, NULL, "b", &err), 0);
	assert_int_equal(msix_init(&m, &d, 64, 1, 0xc08, 0x800, sink, &err),
			 -1);
	assert_int_equal(d.cfg[PCI_CAP_PTR], 0);    /* nothing added */
	/* No room in config space. */
	assert_int_equal(pci_device_add_cap(&d, cap, NULL, 184, &off, &err),
			 0);
	assert_int_equal(msix_init(&m, &d, 4, 1, 0, 0x800, sink, &err), -1);
	pci_device_destroy(&d);
	/* The maximum is fine, BIR in the low bits. */
	pci_device_init(&d, 1, 2, 0, 0, 0, 0);
	assert_int_equal(msix_init(&m, &d, MSIX_MAX_VECTORS, 3, 0x2000, 0x3000,
				   sink, &err), 0);
	assert_int_equal(d.cfg[m.cap_off + 2], 63);
	assert_int_equal(d.cfg[m.cap_off + 4], 3);
	assert_int_equal(d.cfg[m.cap_off + 5], 0x20);
	msix_destroy(&m);
	pci_device_destroy(&d);
}

static void test_masked_at_reset(void **state)
{
	struct fixture *f = *state;
	unsigned int v;

	for (v = 0; v < NVEC; v++) {
		assert_int_equal(tbl_rd(f, v * 16u + 12), 1);
		assert_int_equal(tbl_rd(f, v * 16u), 0);
		assert_int_equal(tbl_rd(f, v * 16u + 8), 0);
	}
	assert_int_equal(pba(f), 0);
	assert_false(f->m.enabled);
	/* Enabled but every vector masked: a notify is held. */
	set_ctl(f, true, false);
	msix_notify(&f->m, 2);
	assert_int_equal(f->rec.fires[2], 0);
	assert_int_equal(pba(f), 1u << 2);
}

static void test_route_on_write(void **state)
{
	struct fixture *f = *state;
	uint8_t q[8] = { 0x0c, 0x10, 0xe0, 0xfe, 0x01, 0, 0, 0 };

	tbl_wr(f, 16 + 0, 0xfee01003);        /* low two bits are RO zero */
	assert_int_equal(f->rec.nroute, 1);
	assert_int_equal(f->rec.route[0].v, 1);
	assert_int_equal(f->rec.route[0].addr, 0xfee01000);
	tbl_wr(f, 16 + 4, 0x1);
	tbl_wr(f, 16 + 8, 0x4041);
	assert_int_equal(f->rec.nroute, 3);
	assert_int_equal(f->rec.route[2].v, 1);
	assert_int_equal(f->rec.route[2].addr, 0x1fee01000ULL);
	assert_int_equal(f->rec.route[2].data, 0x4041);
	assert_int_equal(tbl_rd(f, 16 + 0), 0xfee01000);
	assert_int_equal(tbl_rd(f, 16 + 4), 1);
	assert_int_equal(tbl_rd(f, 16 + 8), 0x4041);

	/* A qword write of the address: two dwords, the last route whole. */
	msix_table_io(&f->m, 3 * 16, q, 8, true);
	assert_int_equal(f->rec.nroute, 5);
	assert_int_equal(f->rec.route[4].v, 3);
	assert_int_equal(f->rec.route[4].addr, 0x1fee0100cULL);
	/* Qword read of data + control. */
	tbl_wr(f, 3 * 16 + 8, 0x55);
	memset(q, 0, sizeof(q));
	msix_table_io(&f->m, 3 * 16 + 8, q, 8, false);
	assert_int_equal(q[0], 0x55);
	assert_int_equal(q[4], 1);
	/* Writing the mask bit is not a route change. */
	f->rec.nroute = 0;
	mask_vec(f, 3, false);
	assert_int_equal(f->rec.nroute, 0);
	/* Only bit 0 of Vector Control is writable. */
	tbl_wr(f, 3 * 16 + 12, 0xfffffffe);
	assert_int_equal(tbl_rd(f, 3 * 16 + 12), 0);
	tbl_wr(f, 3 * 16 + 12, 0xffffffff);
	assert_int_equal(tbl_rd(f, 3 * 16 + 12), 1);
}

static void test_fire_only_when_deliverable(void **state)
{
	struct fixture *f = *state;

	/* Unmasked vector, MSI-X off: pending, not fired. */
	mask_vec(f, 0, false);
	msix_notify(&f->m, 0);
	assert_int_equal(f->rec.fires[0], 0);
	assert_int_equal(pba(f), 1);
	/* Enable: the pending message goes out, once. */
	set_ctl(f, true, false);
	assert_int_equal(f->rec.fires[0], 1);
	assert_int_equal(pba(f), 0);
	/* Enabled and unmasked: straight through. */
	msix_notify(&f->m, 0);
	msix_notify(&f->m, 0);
	assert_int_equal(f->rec.fires[0], 3);
	assert_int_equal(pba(f), 0);
	/* Out-of-range vectors are dropped, not recorded. */
	msix_notify(&f->m, NVEC);
	msix_notify(&f->m, MSIX_MAX_VECTORS);
	msix_notify(&f->m, 0xffffffff);
	assert_int_equal(pba(f), 0);
	assert_int_equal(f->rec.fires[0], 3);
	/* Disable again: held. */
	set_ctl(f, false, false);
	msix_notify(&f->m, 0);
	assert_int_equal(f->rec.fires[0], 3);
	assert_int_equal(pba(f), 1);
}

static void test_pending_on_vector_mask(void **state)
{
	struct fixture *f = *state;

	set_ctl(f, true, false);
	/* Several notifies while masked coalesce into one pending bit. */
	msix_notify(&f->m, 1);
	msix_notify(&f->m, 1);
	msix_notify(&f->m, 3);
	assert_int_equal(pba(f), 0xa);
	assert_int_equal(f->rec.fires[1] + f->rec.fires[3], 0);
	mask_vec(f, 1, false);
	assert_int_equal(f->rec.fires[1], 1);
	assert_int_equal(f->rec.fires[3], 0);
	assert_int_equal(pba(f), 0x8);
	/* Re-writing "unmasked" does not fire again. */
	mask_vec(f, 1, false);
	assert_int_equal(f->rec.fires[1], 1);
	mask_vec(f, 3, false);
	assert_int_equal(f->rec.fires[3], 1);
	assert_int_equal(pba(f), 0);
}

static void test_pending_on_function_mask(void **state)
{
	struct fixture *f = *state;
	unsigned int v;

	for (v = 0; v < NVEC; v++)
		mask_vec(f, v, false);
	set_ctl(f, true, true);
	for (v = 0; v < NVEC; v++)
		msix_notify(&f->m, v);
	assert_int_equal(pba(f), 0xf);
	/* Masking one vector while the function is masked keeps it held. */
	mask_vec(f, 2, true);
	set_ctl(f, true, false);
	assert_int_equal(f->rec.fires[0], 1);
	assert_int_equal(f->rec.fires[1], 1);
	assert_int_equal(f->rec.fires[2], 0);
	assert_int_equal(f->rec.fires[3], 1);
	assert_int_equal(pba(f), 0x4);
	mask_vec(f, 2, false);
	assert_int_equal(f->rec.fires[2], 1);
	assert_int_equal(pba(f), 0);
}

static void test_enable_routes_all(void **state)
{
	struct fixture *f = *state;
	unsigned int v;

	for (v = 0; v < NVEC; v++) {
		tbl_wr(f, v * 16u, 0xfee00000 + (v << 12));
		tbl_wr(f, v * 16u + 8, 0x30 + v);
	}
	f->rec.nroute = 0;
	set_ctl(f, true, true);
	assert_int_equal(f->rec.nroute, NVEC);
	for (v = 0; v < NVEC; v++) {
		assert_int_equal(f->rec.route[v].v, v);
		assert_int_equal(f->rec.route[v].addr, 0xfee00000 + (v << 12));
		assert_int_equal(f->rec.route[v].data, 0x30 + v);
	}
	/* Toggling the function mask while enabled does not re-route. */
	set_ctl(f, true, false);
	assert_int_equal(f->rec.nroute, NVEC);
	/* Writes elsewhere in config space do not touch MSI-X state. */
	cfg_wr(f, PCI_COMMAND, 2, 0x6);
	cfg_wr(f, f->m.cap_off + 4u, 4, 0);
	assert_true(f->m.enabled);
	assert_int_equal(f->rec.nroute, NVEC);
}

static void test_pba_io(void **state)
{
	struct fixture *f = *state;
	uint8_t b[8];

	set_ctl(f, true, false);
	msix_notify(&f->m, 0);
	msix_notify(&f->m, 3);
	msix_pba_io(&f->m, 0, b, 4, false);
	assert_int_equal(b[0], 0x9);
	msix_pba_io(&f->m, 4, b, 4, false);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	/* Writes are ignored: the guest cannot clear or set pending bits. */
	memset(b, 0, sizeof(b));
	msix_pba_io(&f->m, 0, b, 8, true);
	memset(b, 0xff, sizeof(b));
	msix_pba_io(&f->m, 0, b, 8, true);
	msix_pba_io(&f->m, 0, b, 4, true);
	assert_int_equal(pba(f), 0x9);
	/* Bad sizes and offsets read zero. */
	memset(b, 0xff, sizeof(b));
	msix_pba_io(&f->m, 0, b, 1, false);
	assert_int_equal(b[0], 0);
	msix_pba_io(&f->m, 2, b, 4, false);
	assert_int_equal(b[0], 0);
	msix_pba_io(&f->m, 8, b, 8, false);
	assert_int_equal(b[0], 0);
	msix_pba_io(&f->m, 4, b, 8, false);
	assert_int_equal(b[0], 0);
	msix_pba_io(&f->m, UINT64_MAX - 3, b, 4, false);
	assert_int_equal(b[0], 0);
}

static void test_hostile_table_access(void **state)
{
	struct fixture *f = *state;
	static const uint64_t offs[] = { NVEC * 16, NVEC * 16 + 4,
					 MSIX_MAX_VECTORS * 16, 0x1000,
					 UINT64_MAX - 7, UINT64_MAX - 3,
					 1ULL << 60 };
	uint8_t snapshot[sizeof(f->m.table)];
	uint64_t off;
	uint32_t len;
	size_t i;

	memcpy(snapshot, f->m.table, sizeof(snapshot));
	/* Every length and offset through the table and a bit past it, with
	 * exactly-sized buffers; only 4/8-byte aligned ones may act. */
	for (off = 0; off < NVEC * 16 + 32; off++) {
		for (len = 0; len <= 17; len++) {
			bool ok = (len == 4 || len == 8) && off % len == 0 &&
				  off < NVEC * 16;
			uint8_t *b = malloc(len ? len : 1);
			uint32_t k;

			assert_non_null(b);
			memset(b, 0xee, len);
			msix_table_io(&f->m, off, b, len, false);
			if (!ok)
				for (k = 0; k < len; k++)
					assert_int_equal(b[k], 0);
			if (!ok) {
				memset(b, 0xff, len);
				msix_table_io(&f->m, off, b, len, true);
			}
			free(b);
		}
	}
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint8_t b[8];

		memset(b, 0xff, sizeof(b));
		msix_table_io(&f->m, offs[i], b, 4, true);
		msix_table_io(&f->m, offs[i], b, 8, true);
		msix_table_io(&f->m, offs[i], b, 8, false);
		assert_int_equal(b[0] | b[7], 0);
	}
	/* Nothing changed, nothing routed. */
	assert_memory_equal(snapshot, f->m.table, sizeof(snapshot));
	assert_int_equal(f->rec.nroute, 0);
}

/* Every notify is fired or held pending until it can be: I/O threads hammer
 * msix_notify while the "guest" flips vector and function masks. Each
 * notifier raises want[v] before notifying; a fire clears it. At the end,
 * with everything unmasked, nothing may still be wanted. */
struct hammer {
	struct fixture *f;
	unsigned int seed;
	atomic_ulong notifies;
	atomic_bool *stop;
};

static void *notifier(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(h->stop)) {
		unsigned int v = (h->seed = h->seed * 1103515245 + 12345) >>
				 16 & (NVEC - 1);

		atomic_store(&h->f->rec.want[v], 1);
		msix_notify(&h->f->m, v);
		atomic_fetch_add(&h->notifies, 1);
	}
	return NULL;
}

static void test_concurrent_notify(void **state)
{
	struct fixture *f = *state;
	struct hammer h[2];
	pthread_t t[2];
	atomic_bool stop = false;
	unsigned long total_fires = 0, total_notifies = 0;
	unsigned int i, v;

	set_ctl(f, true, false);
	for (i = 0; i < 2; i++) {
		h[i].f = f;
		h[i].seed = i + 1;
		atomic_init(&h[i].notifies, 0);
		h[i].stop = &stop;
		assert_int_equal(pthread_create(&t[i], NULL, notifier, &h[i]),
				 0);
	}
	/* Keep flipping until both threads have notified plenty. */
	for (i = 0; i < 20000 || atomic_load(&h[0].notifies) < 100000 ||
		    atomic_load(&h[1].notifies) < 100000; i++) {
		v = i % NVEC;
		mask_vec(f, v, (i / NVEC) % 2 == 0);
		if (i % 7 == 0)
			set_ctl(f, true, i % 14 == 0);
		if (i % 97 == 0)
			set_ctl(f, i % 194 != 0, false);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);

	set_ctl(f, true, false);
	for (v = 0; v < NVEC; v++)
		mask_vec(f, v, false);
	assert_int_equal(pba(f), 0);
	for (v = 0; v < NVEC; v++) {
		if (atomic_load(&f->rec.want[v]))
			fail_msg("vector %u: a notify was lost", v);
		total_fires += f->rec.fires[v];
	}
	for (i = 0; i < 2; i++)
		total_notifies += atomic_load(&h[i].notifies);
	assert_true(total_fires > 0);
	assert_true(total_fires <= total_notifies);
	/* fired_masked and bad_vector are checked in teardown. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capability, setup,
						teardown),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test_setup_teardown(test_masked_at_reset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_route_on_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fire_only_when_deliverable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_on_vector_mask,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_on_function_mask,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_routes_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pba_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_table_access,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_notify, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
