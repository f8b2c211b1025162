/* `ringvm run`: a machine built from a vm_config, with the PC devices, ACPI
 * tables and a Linux kernel loaded, run until the guest stops. */
#ifndef RINGVM_VM_VM_H
#define RINGVM_VM_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "vm/config.h"

/* Process exit statuses (documented in --help and the README). */
#define RINGVM_EXIT_OK      0   /* guest powered off or rebooted */
#define RINGVM_EXIT_SETUP   1   /* usage or setup error */
#define RINGVM_EXIT_CRASH   2   /* guest crashed */

struct vm;

/* Boots cfg's kernel. */
int vm_create(const struct vm_config *cfg, struct vm **out,
	      struct rv_err *err);

struct vm_restore_opts {
	const char *state_path;
	const char *mem_path;        /* NULL: anonymous RAM (a migration) */
	bool paused;                 /* stay paused until vm_resume */
	bool console_set;            /* console: serial or none on stdio */
	enum console_mode console;
	const char *serial_log;
	const char *stats_path;
	bool allow_slow_backend;
	bool seccomp;                /* vm_config.seccomp for this process */
	bool mem_merge;              /* vm_config.mem_merge, likewise */
	/* TAP renames (Firecracker's network_overrides), by NIC id (the
	 * API's iface_id, or "netN" for --net NICs). */
	struct { const char *id; const char *tap; } tap_override[VM_MAX_NICS];
	unsigned int n_tap_overrides;
	/* This host's CPU template (a fleet's): a guest showing a feature it
	 * masks is refused. NULL: what this host's KVM offers is the limit. */
	const char *cpu_template;
	/* Host pages behind anonymous RAM (an incoming migration's). */
	enum guest_mem_backing mem_backing;
	struct cpu_pin cpu_pin;      /* --cpu-pin on this host */
	uint32_t io_poll_us;         /* --io-poll on this host */
};

/* Builds a VM from a snapshot (see vm_restore.c for what is checked);
 * vm_run then continues the guest where it was. */
int vm_restore(const struct vm_restore_opts *o, struct vm **out,
	       struct rv_err *err);

/* The two halves of vm_restore, for an incoming migration whose state
 * arrives over a stream: build the machine a state describes ("config",
 * and vCPU 0's CPUID checked against this host), with RAM from
 * o->mem_path or anonymous when NULL; then load everything but RAM. */
struct state_reader;
int vm_restore_build(const struct state_reader *r,
		     const struct vm_restore_opts *o, struct vm **out,
		     struct rv_err *err);
int vm_restore_load(struct vm *vm, const struct state_reader *r, bool paused,
		    struct rv_err *err);

/* The whole state of a paused VM (what a snapshot's state file holds). */
struct state_writer;
int vm_state_save(struct vm *vm, struct state_writer *w, struct rv_err *err);

/* The guest has moved to another ringvm: vm_run ends with status 0 and
 * says where to. */
void vm_stop_migrated(struct vm *vm, const char *where);

/* Runs until the guest stops; returns the process exit status. */
int vm_run(struct vm *vm, struct rv_err *err);
/* fn(ctx, 0) is called from vm_run once the vCPU threads exist (parked,
 * for a VM restored paused), fn(ctx, -1) if vm_run fails before: the
 * control API answers InstanceStart only then, an incoming migration
 * confirms to its source only then. Add before vm_run; -1 when the two
 * places are taken. */
int vm_on_started(struct vm *vm, void (*fn)(void *ctx, int rc), void *ctx);

/* Ctrl+Alt+Del on the guest's keyboard (Firecracker's SendCtrlAltDel). */
int vm_send_ctrl_alt_del(struct vm *vm, struct rv_err *err);
void vm_destroy(struct vm *vm);

enum vm_run_state {
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,
	VM_STATE_STOPPED,
};

/* Any thread but a vCPU's. Pausing a paused VM or resuming a running one
 * succeeds and does nothing. */
enum vm_run_state vm_state(struct vm *vm);
int vm_pause(struct vm *vm, struct rv_err *err);
int vm_resume(struct vm *vm, struct rv_err *err);

struct vm_snapshot_info {
	uint64_t state_bytes;        /* size of the state file */
	uint64_t mem_bytes;          /* guest RAM (the memory file's size) */
	uint64_t mem_data_bytes;     /* of which not holes */
};

/* A Full snapshot of a paused VM to two new files (see vm_snapshot.c);
 * on failure neither file is left behind and the VM is as it was. */
int vm_snapshot(struct vm *vm, const char *state_path, const char *mem_path,
		struct vm_snapshot_info *info, struct rv_err *err);

/* The guest's configuration (after a restore: the snapshot's). */
const struct vm_config *vm_config_of(const struct vm *vm);
/* Live migration's dirty page log (vm_dirty.c): what the vCPUs and
 * ringvm's device threads wrote since the last fetch, one bit per 4 KiB
 * page of memory region r (vm_memory(vm)->region[r]); fetch clears it. */
int vm_dirty_log_start(struct vm *vm, struct rv_err *err);
int vm_dirty_log_fetch(struct vm *vm, unsigned int r, uint64_t *bitmap,
		       struct rv_err *err);
void vm_dirty_log_stop(struct vm *vm);
struct guest_mem;
const struct guest_mem *vm_memory(const struct vm *vm);
/* What a migration's destination checks before anything else: the
 * configuration, vCPU 0's CPUID and its CPU template if it has one
 * (sections "config", "cpuid", "cpu_template"). */
int vm_hello_save(struct vm *vm, struct state_writer *w, struct rv_err *err);
/* Auto-converge: holds the vCPUs (not the devices, not the clock) for ms
 * milliseconds, unless the VM is paused. */
void vm_throttle_hold(struct vm *vm, unsigned int ms);
/* The final pause of a migration: *was_paused tells whether the user had
 * paused it; until vm_migration_end, vm_resume refuses. End resumes the
 * guest unless stay_paused. */
int vm_migration_pause(struct vm *vm, bool *was_paused, struct rv_err *err);
void vm_migration_end(struct vm *vm, bool stay_paused);

/* The --stats counters as "NAME VALUE UNIT" lines; any time (live values
 * while the guest runs). */
void vm_write_stats(struct vm *vm, FILE *out);

/* The MAC NIC i has (given, or chosen by ringvm). */
void vm_nic_mac(const struct vm *vm, unsigned int i, uint8_t mac[6]);

#endif
