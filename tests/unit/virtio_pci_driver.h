/* Test helper: a minimal virtio-pci *driver* (virtio 1.2, 4.1) that talks
 * to a device's BAR0 the way a Linux guest does: reset, feature
 * negotiation, MSI-X enable and unmask, queue setup with rings from
 * tests/unit/virtq_driver, DRIVER_OK, and notifications. Device tests share
 * it so each one only says what is particular to its device.
 *
 * Queue q's rings live at ring_gpa + q * VPD_RING_STEP. Queue q uses MSI-X
 * vector q and the config change vector is nq; the MSI-X sink from
 * vpd_msix_sink counts deliveries per vector in fired[].
 *
 * Usage: vpd_init before creating the device (the device needs the sink),
 * then set d->t to the device's transport.
 *
 * Building: the Makefile's unit rule compiles one .c per test, so a test
 * that uses this helper does `#include "unit/virtq_driver.c"` and
 * `#include "unit/virtio_pci_driver.c"` once each (this file does not pull
 * in virtq_driver.c itself, so the two never get defined twice). */
#ifndef RINGVM_TESTS_VIRTIO_PCI_DRIVER_H
#define RINGVM_TESTS_VIRTIO_PCI_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/msix.h"
#include "mem/guest_mem.h"
#include "unit/virtq_driver.h"
#include "virtio/virtio_pci.h"

#define VPD_MAX_QUEUES 3
#define VPD_VECTORS    (VPD_MAX_QUEUES + 1)
#define VPD_RING_STEP  0x10000ull

struct vpd {
	const struct guest_mem *mem;
	struct virtio_pci *t;      /* set by the test once the device exists */
	unsigned int nq;
	uint16_t qsize;
	uint64_t ring_gpa;
	bool event_idx;            /* negotiated by the last vpd_setup */
	struct vqd q[VPD_MAX_QUEUES];
	atomic_uint fired[VPD_VECTORS];
};

/* Zeroes d and records the layout; nq must be 1..VPD_MAX_QUEUES. */
void vpd_init(struct vpd *d, const struct guest_mem *mem, unsigned int nq,
	      uint16_t qsize, uint64_t ring_gpa);

/* An MSI-X sink that counts fired vectors in d->fired. */
struct msix_sink vpd_msix_sink(struct vpd *d);

/* Little-endian BAR0 access of len (1..8) bytes at off. */
void vpd_bar_write(struct virtio_pci *t, uint64_t off, uint64_t v,
		   uint32_t len);
uint64_t vpd_bar_read(struct virtio_pci *t, uint64_t off, uint32_t len);

/* All 64 device feature bits, and the device status byte. */
uint64_t vpd_device_features(struct virtio_pci *t);
uint8_t vpd_status(struct virtio_pci *t);

/* Reset, negotiate `want` (plus VERSION_1), enable MSI-X and all nq
 * queues with fresh rings, DRIVER_OK; asserts each step succeeded. */
void vpd_setup(struct vpd *d, uint64_t want);

/* Notifies queue q. */
void vpd_kick(struct vpd *d, unsigned int q);

/* Adds and publishes a chain, kicking only if the device asked for it (as
 * Linux does). Returns whether it kicked; *head (if non-NULL) gets the
 * chain's head. */
bool vpd_post(struct vpd *d, unsigned int q, const struct vqd_seg *s,
	      unsigned int n, uint16_t *head);

/* Waits up to 2 s for the next used element of queue q. */
bool vpd_wait_used(struct vpd *d, unsigned int q, uint32_t *id,
		   uint32_t *len);

/* Host pointer to guest memory; asserts it is in RAM. */
uint8_t *vpd_guest(struct vpd *d, uint64_t gpa, uint64_t len);

#endif
