/* Helpers for the virtio snapshot tests; see virtio_state_rig.h. A
 * failed expectation is a cmocka failure of the test that called it. */
#include "unit/virtio_state_rig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the vm layer's view of a device's MSI-X ---- */

static void sink_route(void *ctx, unsigned int v, uint64_t addr,
		       uint32_t data)
{
	struct rig_sink *s = ctx;

	if (s->nroute < 256)
		s->route[s->nroute++] = (struct rig_route){ v, addr, data };
}

static void sink_fire(void *ctx, unsigned int v)
{
	struct rig_sink *s = ctx;

	if (v < MSIX_MAX_VECTORS)
		atomic_fetch_add(&s->fired[v], 1);
}

struct msix_sink rig_sink_of(struct rig_sink *s)
{
	memset(s, 0, sizeof(*s));
	return (struct msix_sink){ .route = sink_route, .fire = sink_fire, .ctx = s };
}

unsigned int rig_fired(struct rig_sink *s, unsigned int v)
{
	return atomic_load(&s->fired[v]);
}

uint64_t rig_msg_addr(unsigned int v)
{
	return 0xfee00000ull | (uint64_t)(v + 1) << 12;
}

uint32_t rig_msg_data(unsigned int v)
{
	return 0x4031u + v;
}

/* ---- state helpers ---- */

void rig_snap_take(struct rig_snap *s, struct state_writer *w)
{
	const uint8_t *b;
	size_t n;
	struct rv_err err = { "" };

	if (state_writer_finish(w, &b, &n, &err) != 0)
		fail_msg("state_writer_finish: %s", err.msg);
	s->buf = malloc(n);
	assert_non_null(s->buf);
	memcpy(s->buf, b, n);
	s->len = n;
	state_writer_free(w);
	if (state_reader_open(&s->r, s->buf, s->len, "test", &err) != 0)
		fail_msg("state_reader_open: %s", err.msg);
}

void rig_snap_free(struct rig_snap *s)
{
	if (s->buf)
		state_reader_free(&s->r);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

const struct state_section_ref *rig_snap_sec(const struct rig_snap *s,
					     const char *name)
{
	for (unsigned int i = 0; i < s->r.nsec; i++)
		if (!strcmp(s->r.sec[i].name, name))
			return &s->r.sec[i];
	fail_msg("no section %s", name);
	return NULL;
}

void rig_assert_msg(const struct rv_err *err, const char *frag)
{
	if (!strstr(err->msg, frag))
		fail_msg("message \"%s\" does not say \"%s\"", err->msg, frag);
}

void rig_tsec_read(const struct rig_snap *s, const char *name,
		   struct rig_tsec *t)
{
	struct state_cursor c;
	struct rv_err err = { "" };

	memset(t, 0, sizeof(*t));
	assert_int_equal(state_section(&s->r, name, 1, &c, NULL, &err), 0);
	state_get_bytes(&c, t->cfg, PCI_CFG_SIZE);
	t->nvec = state_get_u32(&c);
	assert_true(t->nvec <= MSIX_MAX_VECTORS);
	for (unsigned int v = 0; v < t->nvec; v++)
		for (unsigned int k = 0; k < 4; k++)
			t->table[v][k] = state_get_u32(&c);
	t->pba = state_get_u64(&c);
	t->offered = state_get_u64(&c);
	t->driver_features = state_get_u64(&c);
	t->dfselect = state_get_u32(&c);
	t->gfselect = state_get_u32(&c);
	t->status = state_get_u8(&c);
	t->isr = state_get_u8(&c);
	t->generation = state_get_u8(&c);
	t->config_vector = state_get_u16(&c);
	t->queue_select = state_get_u16(&c);
	t->active = state_get_u8(&c);
	t->nqueues = state_get_u32(&c);
	assert_true(t->nqueues <= VIRTIO_PCI_MAX_QUEUES);
	for (unsigned int i = 0; i < t->nqueues; i++) {
		struct rig_tq *q = &t->q[i];

		q->size = state_get_u16(&c);
		q->vec = state_get_u16(&c);
		q->enabled = state_get_u8(&c);
		q->desc = state_get_u64(&c);
		q->driver = state_get_u64(&c);
		q->device = state_get_u64(&c);
		q->live = state_get_u8(&c);
		q->last_avail = state_get_u16(&c);
		q->used_idx = state_get_u16(&c);
		q->signalled_used = state_get_u16(&c);
		q->signalled_valid = state_get_u8(&c);
		q->broken = state_get_u8(&c);
	}
	if (state_cursor_finish(&c, &err) != 0)
		fail_msg("the saved transport section: %s", err.msg);
}

/* nq: queue records written (t->nqueues is what the count field says). */
static void tsec_write(struct state_writer *w, const char *name,
		       uint32_t version, const struct rig_tsec *t,
		       unsigned int nq)
{
	state_begin(w, name, version);
	state_put_bytes(w, t->cfg, PCI_CFG_SIZE);
	state_put_u32(w, t->nvec);
	for (unsigned int v = 0; v < t->nvec && v < MSIX_MAX_VECTORS; v++)
		for (unsigned int k = 0; k < 4; k++)
			state_put_u32(w, t->table[v][k]);
	state_put_u64(w, t->pba);
	state_put_u64(w, t->offered);
	state_put_u64(w, t->driver_features);
	state_put_u32(w, t->dfselect);
	state_put_u32(w, t->gfselect);
	state_put_u8(w, t->status);
	state_put_u8(w, t->isr);
	state_put_u8(w, t->generation);
	state_put_u16(w, t->config_vector);
	state_put_u16(w, t->queue_select);
	state_put_u8(w, t->active);
	state_put_u32(w, t->nqueues);
	for (unsigned int i = 0; i < nq; i++) {
		const struct rig_tq *q = &t->q[i];

		state_put_u16(w, q->size);
		state_put_u16(w, q->vec);
		state_put_u8(w, q->enabled);
		state_put_u64(w, q->desc);
		state_put_u64(w, q->driver);
		state_put_u64(w, q->device);
		state_put_u8(w, q->live);
		state_put_u16(w, q->last_avail);
		state_put_u16(w, q->used_idx);
		state_put_u16(w, q->signalled_used);
		state_put_u8(w, q->signalled_valid);
		state_put_u8(w, q->broken);
	}
	state_end(w);
}

void rig_snap_build(struct rig_snap *out, const struct rig_tstate *ts,
		    const struct rig_tsec *t)
{
	struct state_writer w;
	struct rig_snap tmp;
	const struct state_section_ref *sec;
	uint8_t *p;
	size_t n;

	state_writer_init(&w, "test");
	tsec_write(&w, ts->tname, ts->tver, t, ts->nq);
	rig_snap_take(&tmp, &w);
	sec = rig_snap_sec(&tmp, ts->tname);
	n = (size_t)((long)sec->len + ts->adjust);
	p = calloc(1, n + 1);
	assert_non_null(p);
	memcpy(p, sec->payload, ts->adjust < 0 ? n : sec->len);
	rig_snap_free(&tmp);
	state_writer_init(&w, "test");
	if (ts->devsec) {
		state_begin(&w, ts->devsec, ts->dver);
		state_put_bytes(&w, ts->dp, ts->dn);
		state_end(&w);
	}
	state_begin(&w, ts->tname, ts->tver);
	state_put_bytes(&w, p, n);
	state_end(&w);
	rig_snap_take(out, &w);
	free(p);
}

/* ---- the guest ---- */

int rig_setup(void **state)
{
	struct rig *f = calloc(1, sizeof(*f));
	struct guest_region layout = { .gpa = 0, .size = RIG_RAM };
	struct rv_err err;

	if (!f || guest_mem_map(&f->mem, &layout, 1, &err) < 0)
		return -1;
	f->sv[0] = f->sv[1] = -1;
	f->pipe_a[0] = f->pipe_a[1] = f->pipe_b[0] = f->pipe_b[1] = -1;
	f->imgfd = -1;
	*state = f;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int rig_teardown(void **state)
{
	struct rig *f = *state;

	for (int i = 0; i < 2; i++) {
		virtio_rng_free(f->rng[i]);
		virtio_console_free(f->con[i]);
		virtio_net_free(f->net[i]);
		virtio_blk_free(f->blk[i]);
	}
	rig_snap_free(&f->snap);
	for (int i = 0; i < 2; i++) {
		close_fd(&f->sv[i]);
		close_fd(&f->pipe_a[i]);
		close_fd(&f->pipe_b[i]);
	}
	if (f->imgfd >= 0) {
		close(f->imgfd);
		unlink(f->path);
	}
	guest_mem_unmap(&f->mem);
	free(f);
	return 0;
}

uint8_t *rig_mem(struct rig *f, uint64_t gpa, uint64_t len)
{
	return vpd_guest(&f->drv, gpa, len);
}

bool rig_post(struct rig *f, unsigned int q, const struct vqd_seg *s,
	      unsigned int n, uint16_t *head)
{
	vqd_set_used_event(&f->drv.q[q], f->drv.q[q].last_used);
	return vpd_post(&f->drv, q, s, n, head);
}

void rig_expect_used(struct rig *f, unsigned int q, uint16_t head,
		     uint32_t len, uint16_t used_idx)
{
	uint32_t id, l;

	if (!vpd_wait_used(&f->drv, q, &id, &l))
		fail_msg("queue %u: nothing used within 2 s (used index %u)",
			 q, vqd_used_idx(&f->drv.q[q]));
	assert_int_equal(id, head);
	assert_int_equal(l, len);
	/* The element was the one before used_idx (the device may have
	 * published more since). */
	assert_int_equal(f->drv.q[q].last_used, used_idx);
	assert_in_range((uint16_t)(vqd_used_idx(&f->drv.q[q]) - used_idx), 0,
			8);
}

void rig_expect_idle(struct rig *f, unsigned int q, unsigned int ms)
{
	uint16_t idx = vqd_used_idx(&f->drv.q[q]);

	usleep(ms * 1000);
	assert_int_equal(vqd_used_idx(&f->drv.q[q]), idx);
	assert_int_equal(f->drv.q[q].last_used, idx);
}

bool rig_all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

void rig_program_vectors(struct rig *f, const uint16_t *qvec, uint16_t cvec)
{
	struct virtio_pci *t = f->drv.t;

	for (unsigned int v = 0; v < t->msix.nvec; v++) {
		uint64_t e = VIRTIO_PCI_MSIX_OFF + 16ull * v;

		vpd_bar_write(t, e, (uint32_t)rig_msg_addr(v), 4);
		vpd_bar_write(t, e + 4, rig_msg_addr(v) >> 32, 4);
		vpd_bar_write(t, e + 8, rig_msg_data(v), 4);
	}
	for (unsigned int q = 0; q < f->drv.nq; q++) {
		vpd_bar_write(t, VPD_Q_SELECT, q, 2);
		vpd_bar_write(t, VPD_Q_MSIX, qvec[q], 2);
		assert_int_equal(vpd_bar_read(t, VPD_Q_MSIX, 2), qvec[q]);
	}
	vpd_bar_write(t, VPD_MSIX_CFG, cvec, 2);
	assert_int_equal(vpd_bar_read(t, VPD_MSIX_CFG, 2), cvec);
}

static uint64_t rd64(struct virtio_pci *t, uint64_t off)
{
	return vpd_bar_read(t, off, 4) | vpd_bar_read(t, off + 4, 4) << 32;
}

void rig_view_read(struct virtio_pci *t, unsigned int nq, struct rig_view *v)
{
	memset(v, 0, sizeof(*v));
	for (uint32_t off = 0; off < PCI_CFG_SIZE; off += 4)
		pci_cfg_read(&t->pci, off, v->cfg + off, 4);
	for (unsigned int i = 0; i < t->msix.nvec * 4; i++)
		v->table[i] = (uint32_t)vpd_bar_read(t, VIRTIO_PCI_MSIX_OFF +
						     4ull * i, 4);
	v->pba = vpd_bar_read(t, VIRTIO_PCI_PBA_OFF, 8);
	v->status = vpd_status(t);
	v->features = vpd_device_features(t);
	for (unsigned int sel = 0; sel < 2; sel++) {
		vpd_bar_write(t, VPD_GFSELECT, sel, 4);
		v->driver_features |= vpd_bar_read(t, VPD_GF, 4) << (32 * sel);
	}
	v->cvec = (uint16_t)vpd_bar_read(t, VPD_MSIX_CFG, 2);
	for (unsigned int q = 0; q < nq; q++) {
		vpd_bar_write(t, VPD_Q_SELECT, q, 2);
		v->q[q].size = (uint16_t)vpd_bar_read(t, VPD_Q_SIZE, 2);
		v->q[q].vec = (uint16_t)vpd_bar_read(t, VPD_Q_MSIX, 2);
		v->q[q].enabled = (uint16_t)vpd_bar_read(t, VPD_Q_ENABLE, 2);
		v->q[q].desc = rd64(t, VPD_Q_DESC);
		v->q[q].driver = rd64(t, VPD_Q_DRIVER);
		v->q[q].device = rd64(t, VPD_Q_DEVICE);
	}
	for (uint32_t i = 0; i < t->cfg.config_len && i < 64; i++)
		v->devcfg[i] = (uint8_t)vpd_bar_read(t,
						     VIRTIO_PCI_DEVICE_OFF + i,
						     1);
}

void rig_assert_restored(struct rig *f, const struct rig_view *a,
			 unsigned int nvec)
{
	struct rig_view b;

	assert_true(f->drv.t->active);
	rig_view_read(f->drv.t, f->drv.nq, &b);
	for (unsigned int i = 0; i < PCI_CFG_SIZE; i++)
		if (b.cfg[i] != a->cfg[i])
			fail_msg("config byte %#x: %#x, original %#x", i,
				 b.cfg[i], a->cfg[i]);
	assert_memory_equal(b.table, a->table, sizeof(b.table));
	assert_int_equal(b.pba, a->pba);
	assert_int_equal(b.status, a->status);
	assert_int_equal(b.features, a->features);
	assert_int_equal(b.driver_features, a->driver_features);
	assert_int_equal(b.cvec, a->cvec);
	assert_memory_equal(&b.q, &a->q, sizeof(b.q));
	assert_memory_equal(b.devcfg, a->devcfg, sizeof(b.devcfg));
	assert_int_equal(f->sb.nroute, nvec);
	for (unsigned int v = 0; v < nvec; v++) {
		assert_int_equal(f->sb.route[v].v, v);
		assert_int_equal(f->sb.route[v].addr, rig_msg_addr(v));
		assert_int_equal(f->sb.route[v].data, rig_msg_data(v));
	}
}

const struct virtq *rig_dev_vq(struct rig *f, unsigned int q)
{
	return &f->drv.t->queue[q].vq;
}

void rig_wait_taken(struct rig *f, unsigned int q, uint16_t n)
{
	const uint16_t *p = &rig_dev_vq(f, q)->last_avail;
	uint16_t v = 0;

	/* The I/O thread writes it: only the waiting is done on this read. */
	for (int i = 0; i < RIG_WAIT_MS; i++) {
		v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		if (v == n)
			return;
		usleep(1000);
	}
	fail_msg("queue %u: %u chains taken, expected %u", q, v, n);
}

void rig_save(struct rig *f, rig_save_fn save, void *dev, const char *name)
{
	struct state_writer w;

	rig_snap_free(&f->snap);
	state_writer_init(&w, "test");
	save(dev, &w, name);
	rig_snap_take(&f->snap, &w);
}

void rig_save_rng(void *dev, struct state_writer *w, const char *name)
{
	virtio_rng_save(dev, w, name);
}

void rig_save_console(void *dev, struct state_writer *w, const char *name)
{
	virtio_console_save(dev, w, name);
}

void rig_save_net(void *dev, struct state_writer *w, const char *name)
{
	virtio_net_save(dev, w, name);
}

void rig_save_blk(void *dev, struct state_writer *w, const char *name)
{
	virtio_blk_save(dev, w, name);
}
