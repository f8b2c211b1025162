/* virtio-net's insides, shared by the device (net.c) and its vhost-net
 * data path (net_vhost.c); nothing else includes this. */
#ifndef RINGVM_VIRTIO_NET_INTERNAL_H
#define RINGVM_VIRTIO_NET_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/vhost_net.h"
#include "virtio/net.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtqueue.h"

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_GUEST_TSO4  7
#define VIRTIO_NET_F_GUEST_TSO6  8
#define VIRTIO_NET_F_GUEST_ECN   9
#define VIRTIO_NET_F_HOST_TSO4   11
#define VIRTIO_NET_F_HOST_TSO6   12
#define VIRTIO_NET_F_HOST_ECN    13
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16
#define VIRTIO_NET_F_CTRL_VQ     17
#define VIRTIO_NET_F_MQ          22

/* The control queue's one command ringvm serves (5.1.6.5.5). */
#define VIRTIO_NET_CTRL_MQ               4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET  0
#define VIRTIO_NET_OK                    0
#define VIRTIO_NET_ERR                   1

#define VIRTIO_NET_S_LINK_UP     1

/* CTRL_VQ and MQ come only with more than one queue pair: the control
 * queue then exists for VQ_PAIRS_SET, the one command served. */
#define NET_FEATURES ((1ull << VIRTIO_NET_F_CSUM) |		\
		      (1ull << VIRTIO_NET_F_GUEST_CSUM) |	\
		      (1ull << VIRTIO_NET_F_MAC) |		\
		      (1ull << VIRTIO_NET_F_GUEST_TSO4) |	\
		      (1ull << VIRTIO_NET_F_GUEST_TSO6) |	\
		      (1ull << VIRTIO_NET_F_GUEST_ECN) |	\
		      (1ull << VIRTIO_NET_F_HOST_TSO4) |	\
		      (1ull << VIRTIO_NET_F_HOST_TSO6) |	\
		      (1ull << VIRTIO_NET_F_HOST_ECN) |		\
		      (1ull << VIRTIO_NET_F_MRG_RXBUF) |	\
		      (1ull << VIRTIO_NET_F_STATUS))

/* struct virtio_net_hdr with num_buffers: always 12 bytes with VERSION_1. */
#define NET_HDR_LEN       12
#define NET_HDR_NUMBUF    10
/* A GSO frame is at most 64 KiB plus link headers; round up generously. */
#define NET_MAX_PKT       (NET_HDR_LEN + 65536 + 256)
#define NET_CONFIG_LEN    12
#define NET_DEFAULT_QSIZE 256
#define NET_MTU           1500
/* Packets per handler run before letting the other queue's handler in. */
#define NET_BUDGET        256

enum { RXQ = 0, TXQ = 1, NET_NQUEUES = 2 };
/* Queue pairs at most (MSI-X: two vectors a pair, the control queue's and
 * the configuration's within the transport's 64). */
#define NET_MAX_PAIRS     VIRTIO_NET_MAX_PAIRS
#define NET_CTRL_IOV      16

struct net_stats {
	atomic_uint_fast64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	atomic_uint_fast64_t rx_kicks, tx_kicks, irqs;
	atomic_uint_fast64_t rx_dropped;     /* read from the TAP, not delivered */
	atomic_uint_fast64_t rx_stalls;      /* TAP unwatched: no RX buffers */
	atomic_uint_fast64_t rx_bad_chains, tx_bad_chains;
	atomic_uint_fast64_t tx_dropped;     /* write to the TAP failed */
};

struct held {
	uint16_t head;
	uint32_t len;
};

/* One receive/transmit queue pair and its TAP queue (multiqueue: one fd
 * per pair on a multi-queue TAP). Touched only on the I/O thread between
 * activate and reset. */
struct net_pair {
	struct virtio_net *n;
	unsigned int idx;           /* queues 2 * idx (RX) and 2 * idx + 1 (TX) */
	int fd;
	bool attached;              /* the TAP queue delivers to this fd */
	struct virtq *vq[NET_NQUEUES];
	int kick[NET_NQUEUES];
	bool fd_watched;            /* registered on the loop at all */
	bool fd_polled;             /* ... with EPOLLIN */
	bool fd_dead;               /* hung up / errored: never watched again */
	bool queue_dead[NET_NQUEUES];
	struct iovec *iov;          /* scratch for pops, qsize entries */
	struct iovec *rd_iov;       /* readv list, qsize + 1 entries */
	/* The receive chain waiting for the next packet (kept across drops). */
	struct virtq_chain first;
	struct iovec *first_iov;    /* qsize entries */
	bool have_first;
	/* A packet larger than `first`, being spread over more chains. */
	bool rx_pending;
	size_t pkt_len, pkt_done, bounce_base;
	struct held *held;          /* qsize entries */
	unsigned int nheld;
	/* A bad chain was given back between held ones: they are not the
	 * last chains taken, so a pause cannot simply untake them. */
	bool held_gap;
	uint8_t *bounce;            /* NET_MAX_PKT */
	uint8_t *txbuf;             /* NET_MAX_PKT: chains with > IOV_MAX segs */
	atomic_uint_fast64_t rx_packets, tx_packets;   /* this pair's share */
	/* vhost=on: the kernel's data path for this pair (one
	 * /dev/vhost-net instance each), its call eventfds, and where each
	 * queue stopped at a pause. */
	struct vhost_net vh;
	int call[NET_NQUEUES];
	uint16_t base[NET_NQUEUES];
	bool vhost_running;
};

struct virtio_net {
	struct virtio_pci t;        /* unused when served (no PCI) */
	bool served;                /* queues served for a vhost-user frontend */
	struct virtio_queue_host host;
	struct ev_loop *loop;
	bool own_fd;
	bool is_tap;
	uint16_t qsize;
	uint8_t config[NET_CONFIG_LEN];
	uint64_t features;          /* written by set_features, before activate */
	bool mrg;
	unsigned int npairs;        /* > 1: multiqueue, with a control queue */
	unsigned int active;        /* pairs in use (VQ_PAIRS_SET; 1 at start) */
	atomic_uint requested;      /* the last VQ_PAIRS_SET, for the stats */
	struct net_pair pair[NET_MAX_PAIRS];
	/* The control queue (multiqueue only), after the pairs. */
	struct virtq *ctrl_vq;
	int ctrl_kick;
	struct iovec ctrl_iov[NET_CTRL_IOV];
	bool use_vhost;             /* vhost=on (net_vhost.c) */
	const struct guest_mem *mem;
	struct net_stats st;
};

static inline void stat_add(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}


/* net.c */
/* Fills every pair's queues (and the control queue's) from the host. */
int net_bind_all(struct virtio_net *n);
/* Pairs [0, k) in use (attached TAP queues; watched without vhost). */
void net_set_active(struct virtio_net *n, unsigned int k);
/* After the queues are served: the control queue (multiqueue) too, and
 * one pair in use until the driver asks for more. */
int net_start_pairs(struct virtio_net *n, struct rv_err *err);

/* net_vhost.c: vhost=on, the kernel's vhost-net moves the packets. */
/* At construction: one vhost-net instance and call eventfds per pair;
 * drops feature bits the kernel lacks from *features. */
int net_vhost_setup(struct virtio_net *n, uint64_t *features,
		    struct rv_err *err);
int net_vhost_activate(struct virtio_net *n);
void net_vhost_reset(struct virtio_net *n);
void net_vhost_pause(struct virtio_net *n);
void net_vhost_resume(struct virtio_net *n);
void net_vhost_release(struct virtio_net *n);

#endif
