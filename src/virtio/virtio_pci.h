/* The virtio over PCI transport, modern interface only (virtio 1.2, section
 * 4.1): the vendor capabilities (common, notify, ISR, device config), feature
 * negotiation, device status and reset, queue configuration, MSI-X vectors.
 * One BAR (BAR0, 32-bit memory) holds everything:
 *
 *   0x0000  common configuration (struct virtio_pci_common_cfg)
 *   0x1000  ISR status (1 byte, read-to-clear)
 *   0x2000  device-specific configuration (config_len bytes)
 *   0x3000  notifications: queue q at 0x3000 + 4 * q (notify_off_multiplier 4)
 *   0x4000  MSI-X table, 0x5000 MSI-X PBA
 *
 * A driver's notification signals the queue's kick eventfd: KVM does that
 * itself once the vm layer binds the eventfd with KVM_IOEVENTFD at
 * virtio_pci_notify_addr(), so the vCPU never returns to ringvm; without it
 * the BAR handler writes the eventfd. Either way the device services its
 * queues on its own I/O thread, never on a vCPU thread. */
#ifndef RINGVM_VIRTIO_VIRTIO_PCI_H
#define RINGVM_VIRTIO_VIRTIO_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/msix.h"
#include "bus/pci.h"
#include "mem/guest_mem.h"
#include "state/state.h"
#include "util/err.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtqueue.h"

#define VIRTIO_PCI_VENDOR       0x1af4
#define VIRTIO_PCI_DEVICE_BASE  0x1040   /* + device type, modern-only */

#define VIRTIO_STATUS_ACKNOWLEDGE  1
#define VIRTIO_STATUS_DRIVER       2
#define VIRTIO_STATUS_DRIVER_OK    4
#define VIRTIO_STATUS_FEATURES_OK  8
#define VIRTIO_STATUS_NEEDS_RESET  64
#define VIRTIO_STATUS_FAILED       128

#define VIRTIO_MSI_NO_VECTOR 0xffff

#define VIRTIO_PCI_BAR_SIZE      0x8000
#define VIRTIO_PCI_COMMON_OFF    0x0000
#define VIRTIO_PCI_ISR_OFF       0x1000
#define VIRTIO_PCI_DEVICE_OFF    0x2000
#define VIRTIO_PCI_NOTIFY_OFF    0x3000
#define VIRTIO_PCI_NOTIFY_MULT   4
#define VIRTIO_PCI_MSIX_OFF      0x4000
#define VIRTIO_PCI_PBA_OFF       0x5000
#define VIRTIO_PCI_MAX_QUEUES    64       /* notify area / MSI-X limits */

struct virtio_pci;
struct ev_loop;

/* A queue's interrupts from an eventfd someone else signals (the kernel's
 * vhost, a vhost-user back end): see virtio_pci_queue_irqfd. Under
 * msix.lock. */
struct virtio_pci_irqfd {
	int fd;                   /* -1: none */
	int bound;                /* vector fd is a KVM irqfd of; -1: watched */
	struct ev_loop *loop;
	struct virtio_pci *t;
	unsigned int q;
};

struct virtio_pci_queue {
	uint16_t size;            /* driver-chosen size, <= queue_max */
	atomic_uint_least16_t msix_vector;  /* read by irq paths unlocked */
	bool enabled;
	uint64_t desc, driver, device;
	struct virtq vq;          /* valid while the device is active */
	int kick_fd;              /* eventfd the driver's notify signals */
	struct virtio_pci_irqfd irqfd;
};

struct virtio_pci_stats {
	atomic_uint_fast64_t irqs;        /* interrupts sent (queue + config) */
	atomic_uint_fast64_t mmio_kicks;  /* notifies that came through the BAR
					   * handler (i.e. not via ioeventfd) */
	/* Outside interrupt sources (virtio_pci_queue_irqfd): signals that
	 * woke ringvm (masked vector, no KVM), and bindings to KVM. */
	atomic_uint_fast64_t irqfd_relayed;
	atomic_uint_fast64_t irqfd_binds;
};

struct virtio_pci_config {
	uint16_t device_type;     /* VIRTIO_ID_* */
	uint32_t class_code;      /* PCI class (e.g. 0x010000 storage) */
	uint64_t features;        /* device features; the transport adds
				   * VERSION_1, INDIRECT_DESC and EVENT_IDX */
	unsigned int nqueues;     /* 1..VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_max;       /* power of two, <= VIRTQ_MAX_SIZE */
	uint32_t config_len;      /* device config bytes, <= 0x1000 */
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	struct msix_sink sink;    /* from the vm layer (or a test) */
};

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_pci_config cfg;
	pthread_mutex_t lock;     /* registers below */
	uint64_t offered;         /* cfg.features + transport features */
	uint64_t driver_features;
	uint32_t dfselect, gfselect;
	/* Atomics: the interrupt paths (any thread, possibly from inside an
	 * ops callback that holds lock) touch these without the lock. */
	atomic_uint_fast8_t status;
	atomic_uint_fast8_t isr;
	atomic_uint_fast8_t config_generation;
	atomic_uint_least16_t config_vector;
	uint16_t queue_select;
	bool active;              /* ops->activate succeeded */
	uint8_t pci_cfg_cap;      /* config offset of the PCI_CFG access cap */
	struct virtio_pci_queue queue[VIRTIO_PCI_MAX_QUEUES];
	struct virtio_pci_stats stats;
};

/* Builds the PCI function (IDs, BAR0, capabilities, MSI-X with one vector
 * per queue plus one for configuration changes) and the kick eventfds. */
int virtio_pci_init(struct virtio_pci *t, const struct virtio_pci_config *cfg,
		    struct rv_err *err);
/* Resets the device if active, closes the eventfds. */
void virtio_pci_destroy(struct virtio_pci *t);

/* For the vm layer, after pci_host_add placed BAR0. */
uint64_t virtio_pci_notify_addr(const struct virtio_pci *t, unsigned int q);

/* For devices, valid between activate and reset: */
struct virtq *virtio_pci_vq(struct virtio_pci *t, unsigned int q); /* NULL if
								  * not enabled */
int virtio_pci_kick_fd(const struct virtio_pci *t, unsigned int q);
uint64_t virtio_pci_negotiated(const struct virtio_pci *t);
/* Interrupt for queue q (ISR bit 0 + the queue's MSI-X vector). Call after
 * virtq_should_notify() returned true. Any thread. */
void virtio_pci_queue_irq(struct virtio_pci *t, unsigned int q);
/* Configuration changed: bumps config_generation, ISR bit 1, config vector. */
void virtio_pci_config_irq(struct virtio_pci *t);
/* The device cannot go on (e.g. a broken ring): DEVICE_NEEDS_RESET and a
 * configuration interrupt, as virtio 1.2 2.1.2 describes. Any thread. */
void virtio_pci_needs_reset(struct virtio_pci *t);
/* Queue q's interrupts come from eventfd fd, which someone other than
 * ringvm signals (the kernel's vhost, a vhost-user back end). While the
 * queue's MSI-X vector can be delivered, fd is a KVM irqfd of the vector,
 * so an interrupt wakes no ringvm thread; while the vector is masked, or
 * MSI-X is off, or KVM cannot bind it, loop l watches fd and the
 * interrupt goes through msix_notify (pending until unmasked), as the
 * MSI-X rules ask. The binding follows the guest's mask and vector
 * changes. fd -1 ends it (the caller then owns fd again). Not under
 * msix.lock. */
int virtio_pci_queue_irqfd(struct virtio_pci *t, unsigned int q, int fd,
			   struct ev_loop *l, struct rv_err *err);
/* Whether queue q's fd is bound to KVM right now (tests, stats). */
bool virtio_pci_queue_irqfd_bound(struct virtio_pci *t, unsigned int q);
/* The transport's MSI-X mask listener (virtio_pci_init installs it). */
void virtio_pci_irqfd_sync(void *t);
/* The four above as a device's queue host. */
struct virtio_queue_host virtio_pci_queue_host(struct virtio_pci *t);

/* VM pause and resume (see virtio_dev_ops.pause). Resume re-kicks every
 * enabled queue: what the guest queued meanwhile gets processed. */
void virtio_pci_pause(struct virtio_pci *t);
void virtio_pci_resume(struct virtio_pci *t);
/* Signals every enabled queue's kick eventfd. */
void virtio_pci_kick_all(struct virtio_pci *t);

/* Snapshot of the transport (section "<name>.virtio"), from a paused VM.
 * Load into a new, never-activated device built with the same
 * configuration; an active device comes back up with its rings as saved.
 * Call after the device's own load (its config), since activation may use
 * it. The device serves nothing until virtio_pci_kick_all (or resume). */
void virtio_pci_save(struct virtio_pci *t, struct state_writer *w,
		     const char *name);
int virtio_pci_load(struct virtio_pci *t, const struct state_reader *r,
		    const char *name, struct rv_err *err);

/* The BAR0 io_bus callback (dev = struct virtio_pci). */
void virtio_pci_bar_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write);

#endif
