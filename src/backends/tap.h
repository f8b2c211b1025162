/* The TAP back end of virtio-net: opening a Linux TAP interface through
 * /dev/net/tun with a virtio_net_hdr in front of every frame
 * (IFF_VNET_HDR), and telling the kernel which receive offloads the guest
 * accepts. Frames themselves are plain read/write on the returned fd. */
#ifndef RINGVM_BACKENDS_TAP_H
#define RINGVM_BACKENDS_TAP_H

#include <stdbool.h>

#include "util/err.h"

/* Offloads the guest can receive (TUNSETOFFLOAD). */
#define TAP_OFFLOAD_CSUM    1u
#define TAP_OFFLOAD_TSO4    2u
#define TAP_OFFLOAD_TSO6    4u
#define TAP_OFFLOAD_TSO_ECN 8u

/* Attaches to the TAP interface ifname (the kernel creates it if it does
 * not exist and we may) with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, sets the
 * vnet header size to hdr_len and returns a non-blocking, close-on-exec fd. */
int tap_open(const char *ifname, unsigned int hdr_len, struct rv_err *err);
/* The same; multi: one queue of a multi-queue TAP (IFF_MULTI_QUEUE), each
 * call another queue, with its own fd. */
int tap_open_queue(const char *ifname, unsigned int hdr_len, bool multi,
		   struct rv_err *err);
/* Attaches or detaches a multi-queue TAP's queue (TUNSETQUEUE): received
 * packets are spread over attached queues only. */
int tap_set_queue(int fd, bool attach, struct rv_err *err);

/* True if fd is a TUN/TAP fd (as opposed to e.g. a socket used by tests). */
bool tap_is_tap(int fd);

/* For an fd opened elsewhere: checks it is a TAP with IFF_VNET_HDR and sets
 * the vnet header size. */
int tap_setup_fd(int fd, unsigned int hdr_len, struct rv_err *err);

/* TAP_OFFLOAD_* flags; the TSO flags are dropped without CSUM (the kernel
 * requires it). */
int tap_set_offload(int fd, unsigned int offloads, struct rv_err *err);

#endif
