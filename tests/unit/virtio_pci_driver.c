/* Minimal virtio-pci driver for tests; see virtio_pci_driver.h. Failures
 * are cmocka assertions: the device under test misbehaved. */
#include "unit/virtio_pci_driver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

/* Common configuration registers (virtio 1.2, 4.1.4.3) within BAR0. */
#define VPD_DFSELECT   0x00
#define VPD_DF         0x04
#define VPD_GFSELECT   0x08
#define VPD_GF         0x0c
#define VPD_MSIX_CFG   0x10
#define VPD_STATUS     0x14
#define VPD_Q_SELECT   0x16
#define VPD_Q_SIZE     0x18
#define VPD_Q_MSIX     0x1a
#define VPD_Q_ENABLE   0x1c
#define VPD_Q_DESC     0x20
#define VPD_Q_DRIVER   0x28
#define VPD_Q_DEVICE   0x30

void vpd_init(struct vpd *d, const struct guest_mem *mem, unsigned int nq,
	      uint16_t qsize, uint64_t ring_gpa)
{
	assert_in_range(nq, 1, VPD_MAX_QUEUES);
	memset(d, 0, sizeof(*d));
	d->mem = mem;
	d->nq = nq;
	d->qsize = qsize;
	d->ring_gpa = ring_gpa;
}

static void vpd_msix_route(void *ctx, unsigned int v, uint64_t addr,
			   uint32_t data)
{
	(void)ctx;
	(void)v;
	(void)addr;
	(void)data;
}

static void vpd_msix_fire(void *ctx, unsigned int v)
{
	struct vpd *d = ctx;

	if (v < VPD_VECTORS)
		atomic_fetch_add(&d->fired[v], 1);
}

struct msix_sink vpd_msix_sink(struct vpd *d)
{
	return (struct msix_sink){ .route = vpd_msix_route, .fire = vpd_msix_fire, .ctx = d };
}

void vpd_bar_write(struct virtio_pci *t, uint64_t off, uint64_t v,
		   uint32_t len)
{
	uint8_t b[8];

	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virtio_pci_bar_io(t, off, b, len, true);
}

uint64_t vpd_bar_read(struct virtio_pci *t, uint64_t off, uint32_t len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	virtio_pci_bar_io(t, off, b, len, false);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

uint64_t vpd_device_features(struct virtio_pci *t)
{
	uint64_t v = 0;

	for (unsigned int sel = 0; sel < 2; sel++) {
		vpd_bar_write(t, VPD_DFSELECT, sel, 4);
		v |= vpd_bar_read(t, VPD_DF, 4) << (32 * sel);
	}
	return v;
}

uint8_t vpd_status(struct virtio_pci *t)
{
	return (uint8_t)vpd_bar_read(t, VPD_STATUS, 1);
}

static void vpd_write64(struct virtio_pci *t, uint64_t off, uint64_t v)
{
	vpd_bar_write(t, off, v, 4);
	vpd_bar_write(t, off + 4, v >> 32, 4);
}

void vpd_setup(struct vpd *d, uint64_t want)
{
	struct virtio_pci *t = d->t;
	uint64_t feat = (vpd_device_features(t) & want) |
			(1ull << VIRTIO_F_VERSION_1);
	uint8_t ctl[2];
	uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	vpd_bar_write(t, VPD_STATUS, 0, 1);
	assert_int_equal(vpd_status(t), 0);
	vpd_bar_write(t, VPD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	vpd_bar_write(t, VPD_STATUS, s, 1);
	for (unsigned int sel = 0; sel < 2; sel++) {
		vpd_bar_write(t, VPD_GFSELECT, sel, 4);
		vpd_bar_write(t, VPD_GF, feat >> (32 * sel), 4);
	}
	s |= VIRTIO_STATUS_FEATURES_OK;
	vpd_bar_write(t, VPD_STATUS, s, 1);
	assert_true(vpd_status(t) & VIRTIO_STATUS_FEATURES_OK);
	d->event_idx = feat & (1ull << VIRTIO_RING_F_EVENT_IDX);

	pci_cfg_read(&t->pci, t->msix.cap_off + 2u, ctl, 2);
	ctl[1] |= 0x80;                         /* MSI-X enable */
	pci_cfg_write(&t->pci, t->msix.cap_off + 2u, ctl, 2);
	for (unsigned int v = 0; v <= d->nq; v++)       /* unmask */
		vpd_bar_write(t, VIRTIO_PCI_MSIX_OFF + 16 * v + 12, 0, 4);
	vpd_bar_write(t, VPD_MSIX_CFG, d->nq, 2);
	for (unsigned int q = 0; q < d->nq; q++) {
		struct vqd *r = &d->q[q];

		assert_int_equal(vqd_init(r, d->mem, d->qsize,
					  d->ring_gpa + q * VPD_RING_STEP), 0);
		vpd_bar_write(t, VPD_Q_SELECT, q, 2);
		assert_int_equal(vpd_bar_read(t, VPD_Q_SIZE, 2), d->qsize);
		vpd_bar_write(t, VPD_Q_MSIX, q, 2);
		vpd_write64(t, VPD_Q_DESC, r->desc_gpa);
		vpd_write64(t, VPD_Q_DRIVER, r->avail_gpa);
		vpd_write64(t, VPD_Q_DEVICE, r->used_gpa);
		vpd_bar_write(t, VPD_Q_ENABLE, 1, 2);
	}
	vpd_bar_write(t, VPD_STATUS, s | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(vpd_status(t), s | VIRTIO_STATUS_DRIVER_OK);
}

void vpd_kick(struct vpd *d, unsigned int q)
{
	vpd_bar_write(d->t, VIRTIO_PCI_NOTIFY_OFF + 4 * q, q, 2);
}

bool vpd_post(struct vpd *d, unsigned int q, const struct vqd_seg *s,
	      unsigned int n, uint16_t *head)
{
	struct vqd *r = &d->q[q];
	uint16_t old = r->avail_idx;
	uint16_t h = vqd_add(r, s, n);

	vqd_publish(r, h);
	if (head)
		*head = h;
	if (vqd_kick_needed(r, d->event_idx, old)) {
		vpd_kick(d, q);
		return true;
	}
	return false;
}

bool vpd_wait_used(struct vpd *d, unsigned int q, uint32_t *id,
		   uint32_t *len)
{
	for (int i = 0; i < 2000; i++) {
		if (vqd_get_used(&d->q[q], id, len))
			return true;
		usleep(1000);
	}
	return false;
}

uint8_t *vpd_guest(struct vpd *d, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(d->mem, gpa, len);

	assert_non_null(p);
	return p;
}
