/* What the user asked for, as the cli layer parsed it: the VM description
 * the vm layer builds from. Plain data, no resources. */
#ifndef RINGVM_VM_CONFIG_H
#define RINGVM_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "vm/cpu_pin.h"

enum console_mode {
	CONSOLE_SERIAL,  /* COM1 on stdin/stdout (default) */
	CONSOLE_VIRTIO,  /* hvc0 on stdin/stdout (virtio-console) */
	CONSOLE_NONE,    /* nothing on stdio; see serial_log */
};

#define VM_MAX_DISKS 8
#define VM_MAX_NICS  4
#define VM_MAX_FS    4
#define VM_FS_TAG_MAX 36  /* virtio-fs config: tag[36], NUL-padded */
/* MP table / xAPIC ids: 0..254, 255 is broadcast (arch/x86 agrees). */
#define VM_MAX_VCPUS 254

struct disk_config {
	const char *path;
	bool readonly;
	bool direct;     /* O_DIRECT */
	bool sync;       /* preadv/pwritev instead of io_uring */
	const char *id;  /* the control API's drive_id; NULL: "diskN" */
	/* Served by a vhost-user back end on this socket (path is then
	 * the socket); guest RAM becomes a shared memfd. */
	bool vhost_user;
};

struct nic_config {
	const char *tap;     /* host TAP interface name */
	uint8_t mac[6];
	bool mac_set;
	const char *id;      /* the control API's iface_id; NULL: "netN" */
	bool vhost;          /* vhost=on: the kernel's vhost-net data path */
	unsigned int queues; /* queue pairs (multi-queue TAP); 0: 1 */
	/* Served by a vhost-user back end on the socket in `tap` (which then
	 * holds its path); guest RAM becomes a shared memfd. */
	bool vhost_user;
};

/* A shared directory: virtio-fs served by a vhost-user back end
 * (virtiofsd) on socket; the guest mounts it by tag. */
struct fs_config {
	const char *tag;
	const char *socket;
};

struct vm_config {
	const char *kernel;
	const char *initrd;      /* NULL: none */
	const char *cmdline;     /* never NULL after parsing ("" default) */
	uint64_t mem_size;       /* bytes */
	/* Host pages behind guest RAM (default THP); a host-side choice, not
	 * part of the guest: snapshots and migration do not carry it. */
	enum guest_mem_backing mem_backing;
	bool mem_merge;          /* --mem-merge: guest RAM open to KSM */
	unsigned int ncpus;
	struct cpu_pin cpu_pin;  /* --cpu-pin (host side, like mem_backing) */
	/* --io-poll: device I/O threads poll up to this long before they
	 * sleep (util/event_loop.h); host side, 0: never. */
	uint32_t io_poll_us;
	enum console_mode console;
	const char *serial_log;  /* NULL: none; else COM1 output also here */
	bool allow_slow_backend; /* run a stock kernel on PVM anyway */
	bool seccomp;            /* thread allow-lists (vm/sandbox.h) */
	const char *stats_path;  /* NULL: none; else counters written at exit */
	struct disk_config disk[VM_MAX_DISKS];
	unsigned int ndisks;
	struct nic_config nic[VM_MAX_NICS];
	unsigned int nnics;
	struct fs_config fs[VM_MAX_FS];
	unsigned int nfs;
	bool rng;
	/* A CPU template (arch/x86/cpu_template.h): a file, or its JSON text
	 * (the API's PUT /cpu-config); NULL: the host's CPU as KVM offers it. */
	const char *cpu_template;
	const char *cpu_template_json;
};

#define VM_DEFAULT_MEM   (256ULL << 20)
#define VM_MIN_MEM       (16ULL << 20)
#define VM_MAX_MEM       (1ULL << 40)   /* 1 TiB: beyond this, refuse */

#endif
