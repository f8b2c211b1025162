/* The request and response bodies of the control API, in the layout of
 * Firecracker's API (swagger "definitions": BootSource, MachineConfiguration,
 * Drive, NetworkInterface, EntropyDevice, InstanceActionInfo, Vm,
 * SnapshotCreateParams, SnapshotLoadParams, Metrics, InstanceInfo,
 * FullVmConfiguration, Error), parsed and built with json-c. Pure: no
 * sockets, no VM; the routes (api_routes.c) turn these into vm calls.
 *
 * Every parser refuses, with a message for the 400 reply's fault_message:
 * a body that is not one JSON object (or has trailing bytes); a field of the
 * wrong type; a missing required field; an unknown field ("unknown field
 * 'foo' in Drive"); and a Firecracker field ringvm does not support, named
 * as such ("field 'rate_limiter' of Drive is not supported by ringvm").
 * JSON null counts as absent for optional fields. Strings are copied
 * (malloc); every struct has a _free. */
#ifndef RINGVM_API_FC_MODEL_H
#define RINGVM_API_FC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_MSG_MAX 256     /* fault_message buffer callers pass */
#define FC_ID_MAX  64      /* drive_id / iface_id: [A-Za-z0-9_]{1,64} */

struct fc_boot_source {
	char *kernel_image_path;   /* required */
	char *initrd_path;         /* NULL: none */
	char *boot_args;           /* NULL: none given */
};

/* MachineConfiguration: cpu_template only as "None"; huge_pages "None"
 * (ringvm's default, transparent huge pages) or "2M" (hugetlbfs pages). */
struct fc_machine_config {
	unsigned int vcpu_count;   /* required, 1..254 (ringvm's limit) */
	uint64_t mem_size_mib;     /* required, 16..1048576 */
	bool smt;                  /* only false is accepted */
	bool track_dirty_pages;    /* accepted, reported back */
	bool huge_pages_2m;        /* huge_pages "2M" */
};

/* Drive: cache_type "Writeback" is what ringvm does (flushes reach the
 * disk); "Unsafe" (drop flushes) is refused as unsupported, as are
 * rate_limiter and socket (vhost-user). */
struct fc_drive {
	char *drive_id;            /* required, must equal the path's id */
	char *path_on_host;        /* required for ringvm */
	bool is_root_device;       /* required */
	bool is_read_only;         /* default false */
	char *partuuid;            /* NULL: none; only with is_root_device */
	bool io_sync;              /* io_engine "Sync": preadv/pwritev;
				    * "Async" or absent: io_uring */
};

/* NetworkInterface: mtu and the rate limiters are refused. */
struct fc_net_iface {
	char *iface_id;            /* required, must equal the path's id */
	char *host_dev_name;       /* required, a valid interface name */
	uint8_t guest_mac[6];      /* "52:54:00:12:34:56", unicast, not 0 */
	bool has_mac;
};

enum fc_action {
	FC_ACTION_INSTANCE_START,
	FC_ACTION_SEND_CTRL_ALT_DEL,
	FC_ACTION_FLUSH_METRICS,
};

enum fc_vm_state {
	FC_VM_PAUSED,
	FC_VM_RESUMED,
};

struct fc_snapshot_create {
	char *snapshot_path;       /* required */
	char *mem_file_path;       /* required */
};                                 /* snapshot_type: "Full" (default) only */

/* SnapshotLoadParams: backend_type "Uffd", track_dirty_pages /
 * enable_diff_snapshots true, clock_realtime true and vsock_override are
 * refused as unsupported. */
#define FC_MAX_NET_OVERRIDES 4
struct fc_net_override {
	char *iface_id, *host_dev_name;
};

struct fc_snapshot_load {
	char *snapshot_path;       /* required */
	char *mem_path;            /* mem_backend{File, backend_path}, or the
				    * deprecated mem_file_path; exactly one */
	bool resume_vm;            /* default false */
	struct fc_net_override net_override[FC_MAX_NET_OVERRIDES];
	unsigned int n_net_overrides;
};

struct fc_metrics {
	char *metrics_path;        /* required */
};

/* ringvm's own PUT /migrate/incoming: where to wait for a source, and
 * the TAPs to use instead of the source's (as a snapshot load's). */
struct fc_migrate_incoming {
	char *listen_url;          /* required: unix:PATH or tcp:ADDR:PORT */
	struct fc_net_override net_override[FC_MAX_NET_OVERRIDES];
	unsigned int n_net_overrides;
};

/* ringvm's own PUT /migrate (Firecracker has no live migration). */
struct fc_migrate {
	char *destination_url;     /* required: unix:PATH or tcp:HOST:PORT */
	uint32_t max_downtime_ms;  /* 0: the default */
	bool auto_converge;
	uint32_t max_rounds;       /* 0: the default */
	uint32_t timeout_ms;       /* 0: the default */
	uint32_t max_bandwidth_mib_per_s; /* 0: no cap */
};

/* Each returns 0, or -1 with msg (FC_MSG_MAX bytes) set. */
int fc_parse_boot_source(const char *body, size_t len,
			 struct fc_boot_source *out, char *msg);
int fc_parse_machine_config(const char *body, size_t len,
			    struct fc_machine_config *out, char *msg);
/* path_id: the {drive_id} of the URL; the body's drive_id must match. */
int fc_parse_drive(const char *body, size_t len, const char *path_id,
		   struct fc_drive *out, char *msg);
int fc_parse_net_iface(const char *body, size_t len, const char *path_id,
		       struct fc_net_iface *out, char *msg);
/* EntropyDevice: {} (rate_limiter is refused as unsupported). */
int fc_parse_entropy(const char *body, size_t len, char *msg);
int fc_parse_action(const char *body, size_t len, enum fc_action *out,
		    char *msg);
int fc_parse_vm_state(const char *body, size_t len, enum fc_vm_state *out,
		      char *msg);
int fc_parse_snapshot_create(const char *body, size_t len,
			     struct fc_snapshot_create *out, char *msg);
int fc_parse_snapshot_load(const char *body, size_t len,
			   struct fc_snapshot_load *out, char *msg);
int fc_parse_migrate(const char *body, size_t len, struct fc_migrate *out,
		     char *msg);
void fc_migrate_free(struct fc_migrate *m);
int fc_parse_migrate_incoming(const char *body, size_t len,
			      struct fc_migrate_incoming *out, char *msg);
void fc_migrate_incoming_free(struct fc_migrate_incoming *m);
int fc_parse_metrics(const char *body, size_t len, struct fc_metrics *out,
		     char *msg);
/* [A-Za-z0-9_]{1,64}, as Firecracker accepts for ids. */
bool fc_valid_id(const char *id);

void fc_boot_source_free(struct fc_boot_source *b);
void fc_drive_free(struct fc_drive *d);
void fc_net_iface_free(struct fc_net_iface *n);
void fc_snapshot_create_free(struct fc_snapshot_create *s);
void fc_snapshot_load_free(struct fc_snapshot_load *s);
void fc_metrics_free(struct fc_metrics *m);

/* The whole configuration: PUT requests accumulate into it before
 * InstanceStart, --config-file fills it at once, GET /vm/config shows it.
 * Drives and interfaces keep the order of their first PUT (a PUT with an
 * existing id replaces that entry in place). */
#define FC_MAX_DRIVES 8
#define FC_MAX_IFACES 4

struct fc_vm_config {
	bool has_boot_source;
	struct fc_boot_source boot;
	struct fc_machine_config machine;   /* defaults: 1 vCPU, 128 MiB */
	struct fc_drive drive[FC_MAX_DRIVES];
	unsigned int ndrives;
	struct fc_net_iface iface[FC_MAX_IFACES];
	unsigned int nifaces;
	bool entropy;
	bool has_metrics;
	struct fc_metrics metrics;
};

void fc_vm_config_init(struct fc_vm_config *c);
void fc_vm_config_free(struct fc_vm_config *c);
/* Take ownership of *d / *n (moved; the source is zeroed). Refuse a new
 * entry beyond the maximum, a second root device, a MAC or host_dev_name
 * used twice. */
int fc_vm_config_put_drive(struct fc_vm_config *c, struct fc_drive *d,
			   char *msg);
int fc_vm_config_put_iface(struct fc_vm_config *c, struct fc_net_iface *n,
			   char *msg);
void fc_vm_config_set_boot_source(struct fc_vm_config *c,
				  struct fc_boot_source *b);

/* Firecracker's --config-file layout: an object with "boot-source"
 * (required), "machine-config", "drives" (array), "network-interfaces"
 * (array), "entropy", "metrics"; any other top-level key is refused by
 * name. Fills a fresh *c (fc_vm_config_init'ed by the caller). */
int fc_parse_config_file(const char *body, size_t len,
			 struct fc_vm_config *c, char *msg);

/* Response bodies: NUL-terminated JSON strings (malloc; NULL only when out
 * of memory). */
char *fc_json_fault(const char *message);
/* state: "Not started", "Running" or "Paused". */
char *fc_json_instance_info(const char *id, const char *state,
			    const char *vmm_version);
char *fc_json_machine_config(const struct fc_machine_config *m);
char *fc_json_vm_config(const struct fc_vm_config *c);

#endif
