/* The request bodies: one field table per swagger definition, the rules
 * on values beyond their types, and the public fc_parse_* / _free. */
#include "api/fc_model_internal.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static const struct fc_field boot_fields[] = {
	F_PATH("kernel_image_path", REQ),
	F_PATH("initrd_path", OPT),
	F_STR("boot_args", OPT),
};
static const struct fc_schema boot_schema =
	FC_SCHEMA("BootSource", boot_fields);

static const struct fc_field machine_fields[] = {
	F_UINT("vcpu_count", 1, 254),
	F_UINT("mem_size_mib", 16, 1048576),
	F_BOOL("smt", OPT),
	F_BOOL("track_dirty_pages", OPT),
	F_STR("cpu_template", OPT),
	F_STR("huge_pages", OPT),
};
static const struct fc_schema machine_schema =
	FC_SCHEMA("MachineConfiguration", machine_fields);

static const struct fc_field drive_fields[] = {
	F_STR("drive_id", REQ),
	F_BOOL("is_root_device", REQ),
	F_PATH("path_on_host", REQ),   /* optional in Firecracker: vhost-user */
	F_STR("partuuid", OPT),
	F_STR("cache_type", OPT),
	F_BOOL("is_read_only", OPT),
	F_STR("io_engine", OPT),
	F_UNSUP("rate_limiter", NULL),
	F_UNSUP("socket", " (vhost-user drives are not supported yet)"),
};
static const struct fc_schema drive_schema = FC_SCHEMA("Drive", drive_fields);

static const struct fc_field iface_fields[] = {
	F_STR("iface_id", REQ),
	F_STR("host_dev_name", REQ),
	F_STR("guest_mac", OPT),
	F_UNSUP("mtu", " (VIRTIO_NET_F_MTU is not offered)"),
	F_UNSUP("rx_rate_limiter", NULL),
	F_UNSUP("tx_rate_limiter", NULL),
};
static const struct fc_schema iface_schema =
	FC_SCHEMA("NetworkInterface", iface_fields);

static const struct fc_field entropy_fields[] = {
	F_UNSUP("rate_limiter", NULL),
};
static const struct fc_schema entropy_schema =
	FC_SCHEMA("EntropyDevice", entropy_fields);

static const struct fc_field action_fields[] = {
	F_STR("action_type", REQ),
};
static const struct fc_schema action_schema =
	FC_SCHEMA("InstanceActionInfo", action_fields);

static const struct fc_field vm_fields[] = {
	F_STR("state", REQ),
};
static const struct fc_schema vm_schema = FC_SCHEMA("Vm", vm_fields);

static const struct fc_field snap_create_fields[] = {
	F_PATH("mem_file_path", REQ),
	F_PATH("snapshot_path", REQ),
	F_STR("snapshot_type", OPT),
};
static const struct fc_schema snap_create_schema =
	FC_SCHEMA("SnapshotCreateParams", snap_create_fields);

static const struct fc_field snap_load_fields[] = {
	F_PATH("snapshot_path", REQ),
	F_PATH("mem_file_path", OPT),
	F_OBJ("mem_backend", OPT),
	F_BOOL("enable_diff_snapshots", OPT),
	F_BOOL("track_dirty_pages", OPT),
	F_BOOL("resume_vm", OPT),
	F_ARR("network_overrides"),
	F_UNSUP("vsock_override", " (no vsock device)"),
	F_BOOL("clock_realtime", OPT),
};
static const struct fc_schema snap_load_schema =
	FC_SCHEMA("SnapshotLoadParams", snap_load_fields);

static const struct fc_field mem_backend_fields[] = {
	F_STR("backend_type", REQ),
	F_PATH("backend_path", REQ),
};
static const struct fc_schema mem_backend_schema =
	FC_SCHEMA("MemoryBackend", mem_backend_fields);

static const struct fc_field override_fields[] = {
	F_STR("iface_id", REQ),
	F_STR("host_dev_name", REQ),
};
static const struct fc_schema override_schema =
	FC_SCHEMA("NetworkOverride", override_fields);

static const struct fc_field metrics_fields[] = {
	F_PATH("metrics_path", REQ),
};
static const struct fc_schema metrics_schema =
	FC_SCHEMA("Metrics", metrics_fields);

static const struct fc_field migrate_fields[] = {
	F_STR("destination_url", REQ),
	F_UINT_OPT("max_downtime_ms", 1, 3600000),
	F_BOOL("auto_converge", OPT),
	F_UINT_OPT("max_rounds", 1, 10000),
	F_UINT_OPT("timeout_ms", 100, 3600000),
	F_UINT_OPT("max_bandwidth_mib_per_s", 1, 1000000),
};
static const struct fc_schema migrate_schema =
	FC_SCHEMA("MigrationParams", migrate_fields);

static const struct fc_field incoming_fields[] = {
	F_STR("listen_url", REQ),
	F_ARR("network_overrides"),
};
static const struct fc_schema incoming_schema =
	FC_SCHEMA("MigrationIncomingParams", incoming_fields);

static bool str_is(const char *s, const char *want)
{
	return s && !strcmp(s, want);
}

/* ---- one object each ---- */

int fc_boot_source_obj(struct json_object *o, struct fc_boot_source *out,
		       char *msg)
{
	struct fc_boot_source b = { 0 };

	if (fc_check_object(o, &boot_schema, msg) < 0)
		return -1;
	if (fc_dup_str(o, "kernel_image_path", &b.kernel_image_path, msg) < 0 ||
	    fc_dup_str(o, "initrd_path", &b.initrd_path, msg) < 0 ||
	    fc_dup_str(o, "boot_args", &b.boot_args, msg) < 0) {
		fc_boot_source_free(&b);
		return -1;
	}
	*out = b;
	return 0;
}

int fc_machine_obj(struct json_object *o, struct fc_machine_config *out,
		   char *msg)
{
	const char *tmpl, *huge;

	if (fc_check_object(o, &machine_schema, msg) < 0)
		return -1;
	if (fc_get_bool(o, "smt"))
		return fc_fail(msg, "smt: true is not supported by ringvm (one "
			       "thread per core)");
	tmpl = fc_get_str(o, "cpu_template");
	if (tmpl && strcmp(tmpl, "None"))
		return fc_fail(msg, "cpu_template '%.32s' is not supported by "
			       "ringvm (None only; a custom template goes to "
			       "PUT /cpu-config)", tmpl);
	huge = fc_get_str(o, "huge_pages");
	if (huge && strcmp(huge, "None") && strcmp(huge, "2M"))
		return fc_fail(msg, "huge_pages '%.32s' is not supported by "
			       "ringvm (None or 2M)", huge);
	if (huge && !strcmp(huge, "2M") && (fc_get(o, "mem_size_mib") &&
	    json_object_get_int64(fc_get(o, "mem_size_mib")) % 2))
		return fc_fail(msg, "huge_pages 2M: mem_size_mib must be a multiple of 2");
	out->vcpu_count =
		(unsigned int)json_object_get_int64(fc_get(o, "vcpu_count"));
	out->mem_size_mib =
		(uint64_t)json_object_get_int64(fc_get(o, "mem_size_mib"));
	out->smt = false;
	out->track_dirty_pages = fc_get_bool(o, "track_dirty_pages");
	out->huge_pages_2m = huge && !strcmp(huge, "2M");
	return 0;
}

static int drive_check(struct json_object *o, const char *path_id,
		       char *msg)
{
	const char *cache, *engine;

	if (fc_check_object(o, &drive_schema, msg) < 0 ||
	    fc_check_id("drive_id", fc_get_str(o, "drive_id"), path_id,
			msg) < 0)
		return -1;
	cache = fc_get_str(o, "cache_type");
	if (str_is(cache, "Unsafe"))
		return fc_fail(msg, "cache_type 'Unsafe' is not supported by "
			       "ringvm (flushes always reach the disk; use "
			       "'Writeback')");
	if (cache && strcmp(cache, "Writeback"))
		return fc_fail(msg, "cache_type '%.32s' is not valid ('Unsafe' "
			       "or 'Writeback')", cache);
	engine = fc_get_str(o, "io_engine");
	if (engine && strcmp(engine, "Sync") && strcmp(engine, "Async"))
		return fc_fail(msg, "io_engine '%.32s' is not valid ('Sync' or "
			       "'Async')", engine);
	if (fc_get(o, "partuuid")) {
		if (!fc_get_bool(o, "is_root_device"))
			return fc_fail(msg, "partuuid is only allowed with "
				       "is_root_device true");
		if (fc_check_partuuid(fc_get_str(o, "partuuid"), msg) < 0)
			return -1;
	}
	return 0;
}

int fc_drive_obj(struct json_object *o, const char *path_id,
		 struct fc_drive *out, char *msg)
{
	struct fc_drive d = { 0 };

	if (drive_check(o, path_id, msg) < 0)
		return -1;
	d.is_root_device = fc_get_bool(o, "is_root_device");
	d.is_read_only = fc_get_bool(o, "is_read_only");
	d.io_sync = str_is(fc_get_str(o, "io_engine"), "Sync");
	if (fc_dup_str(o, "drive_id", &d.drive_id, msg) < 0 ||
	    fc_dup_str(o, "path_on_host", &d.path_on_host, msg) < 0 ||
	    fc_dup_str(o, "partuuid", &d.partuuid, msg) < 0) {
		fc_drive_free(&d);
		return -1;
	}
	*out = d;
	return 0;
}

int fc_iface_obj(struct json_object *o, const char *path_id,
		 struct fc_net_iface *out, char *msg)
{
	struct fc_net_iface n = { 0 };
	const char *mac;

	if (fc_check_object(o, &iface_schema, msg) < 0 ||
	    fc_check_id("iface_id", fc_get_str(o, "iface_id"), path_id,
			msg) < 0 ||
	    fc_check_ifname(fc_get_str(o, "host_dev_name"), msg) < 0)
		return -1;
	mac = fc_get_str(o, "guest_mac");
	if (mac) {
		if (fc_parse_mac(mac, n.guest_mac, msg) < 0)
			return -1;
		n.has_mac = true;
	}
	if (fc_dup_str(o, "iface_id", &n.iface_id, msg) < 0 ||
	    fc_dup_str(o, "host_dev_name", &n.host_dev_name, msg) < 0) {
		fc_net_iface_free(&n);
		return -1;
	}
	*out = n;
	return 0;
}

int fc_entropy_obj(struct json_object *o, char *msg)
{
	return fc_check_object(o, &entropy_schema, msg);
}

int fc_metrics_obj(struct json_object *o, struct fc_metrics *out, char *msg)
{
	if (fc_check_object(o, &metrics_schema, msg) < 0)
		return -1;
	return fc_dup_str(o, "metrics_path", &out->metrics_path, msg);
}

static int snap_create_obj(struct json_object *o,
			   struct fc_snapshot_create *out, char *msg)
{
	struct fc_snapshot_create s = { 0 };
	const char *type;

	if (fc_check_object(o, &snap_create_schema, msg) < 0)
		return -1;
	type = fc_get_str(o, "snapshot_type");
	if (str_is(type, "Diff"))
		return fc_fail(msg, "snapshot_type 'Diff' is not supported by "
			       "ringvm (Full only)");
	if (type && strcmp(type, "Full"))
		return fc_fail(msg, "snapshot_type '%.32s' is not valid ('Full' "
			       "or 'Diff')", type);
	if (fc_dup_str(o, "snapshot_path", &s.snapshot_path, msg) < 0 ||
	    fc_dup_str(o, "mem_file_path", &s.mem_file_path, msg) < 0) {
		fc_snapshot_create_free(&s);
		return -1;
	}
	*out = s;
	return 0;
}

static int snap_load_check(struct json_object *o, char *msg)
{
	struct json_object *mb = fc_get(o, "mem_backend");
	const char *type;

	if (fc_check_object(o, &snap_load_schema, msg) < 0)
		return -1;
	if (fc_get_bool(o, "track_dirty_pages"))
		return fc_fail(msg, "track_dirty_pages: true is not supported "
			       "by ringvm on snapshot load (Full snapshots "
			       "only)");
	if (fc_get_bool(o, "enable_diff_snapshots"))
		return fc_fail(msg, "enable_diff_snapshots: true is not "
			       "supported by ringvm (Full snapshots only)");
	if (fc_get_bool(o, "clock_realtime"))
		return fc_fail(msg, "clock_realtime: true is not supported by "
			       "ringvm (kvmclock resumes where it stopped)");
	if (mb && fc_get(o, "mem_file_path"))
		return fc_fail(msg, "mem_backend and mem_file_path are mutually "
			       "exclusive in SnapshotLoadParams");
	if (!mb && !fc_get(o, "mem_file_path"))
		return fc_fail(msg, "missing required field 'mem_backend' (or "
			       "the deprecated 'mem_file_path') in "
			       "SnapshotLoadParams");
	if (!mb)
		return 0;
	if (fc_check_object(mb, &mem_backend_schema, msg) < 0)
		return fc_prefix(msg, "mem_backend: ");
	type = fc_get_str(mb, "backend_type");
	if (!strcmp(type, "Uffd"))
		return fc_fail(msg, "backend_type 'Uffd' is not supported by "
			       "ringvm (File only)");
	if (strcmp(type, "File"))
		return fc_fail(msg, "backend_type '%.32s' is not valid ('File' "
			       "or 'Uffd')", type);
	return 0;
}

static int net_override(struct json_object *arr, size_t k,
			struct fc_net_override *ov, unsigned int *n, char *msg)
{
	struct json_object *o = json_object_array_get_idx(arr, k);
	const char *id, *dev;

	if (!json_object_is_type(o, json_type_object))
		return fc_fail(msg, "network_overrides[%zu] must be an object",
			       k);
	if (fc_check_object(o, &override_schema, msg) < 0)
		return fc_prefix(msg, "network_overrides[%zu]: ", k);
	id = fc_get_str(o, "iface_id");
	dev = fc_get_str(o, "host_dev_name");
	if (fc_check_id("iface_id", id, NULL, msg) < 0 ||
	    fc_check_ifname(dev, msg) < 0)
		return fc_prefix(msg, "network_overrides[%zu]: ", k);
	for (unsigned int j = 0; j < *n; j++)
		if (!strcmp(ov[j].iface_id, id))
			return fc_fail(msg, "network_overrides: iface_id '%s' "
				       "appears twice", id);
	ov[k].iface_id = strdup(id);
	ov[k].host_dev_name = strdup(dev);
	(*n)++;
	if (!ov[k].iface_id || !ov[k].host_dev_name)
		return fc_fail(msg, "out of memory");
	return 0;
}

/* The network_overrides array of o, at most FC_MAX_NET_OVERRIDES. */
static int net_overrides(struct json_object *o, struct fc_net_override *ov,
			 unsigned int *n, char *msg)
{
	struct json_object *arr = fc_get(o, "network_overrides");
	size_t len = arr ? json_object_array_length(arr) : 0;

	if (len > FC_MAX_NET_OVERRIDES)
		return fc_fail(msg, "network_overrides has %zu entries; ringvm "
			       "has at most %d interfaces", len,
			       FC_MAX_NET_OVERRIDES);
	for (size_t k = 0; k < len; k++)
		if (net_override(arr, k, ov, n, msg) < 0)
			return -1;
	return 0;
}

static int snap_load_obj(struct json_object *o, struct fc_snapshot_load *out,
			 char *msg)
{
	struct fc_snapshot_load s = { 0 };
	struct json_object *mb;

	if (snap_load_check(o, msg) < 0)
		return -1;
	mb = fc_get(o, "mem_backend");
	s.resume_vm = fc_get_bool(o, "resume_vm");
	if (fc_dup_str(o, "snapshot_path", &s.snapshot_path, msg) < 0 ||
	    fc_dup_str(mb ? mb : o, mb ? "backend_path" : "mem_file_path",
		       &s.mem_path, msg) < 0)
		goto err;
	if (net_overrides(o, s.net_override, &s.n_net_overrides, msg) < 0)
		goto err;
	*out = s;
	return 0;
err:
	fc_snapshot_load_free(&s);
	return -1;
}

/* ---- the public parsers: *out is zeroed on failure ---- */

int fc_parse_boot_source(const char *body, size_t len,
			 struct fc_boot_source *out, char *msg)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = fc_boot_source_obj(o, out, msg);
	json_object_put(o);
	return rc;
}

int fc_parse_machine_config(const char *body, size_t len,
			    struct fc_machine_config *out, char *msg)
{
	struct fc_machine_config m = { 0 };
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = fc_machine_obj(o, &m, msg);
	json_object_put(o);
	if (rc == 0)
		*out = m;
	return rc;
}

int fc_parse_drive(const char *body, size_t len, const char *path_id,
		   struct fc_drive *out, char *msg)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_check_path_id("drive_id", path_id, msg) < 0 ||
	    fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = fc_drive_obj(o, path_id, out, msg);
	json_object_put(o);
	return rc;
}

int fc_parse_net_iface(const char *body, size_t len, const char *path_id,
		       struct fc_net_iface *out, char *msg)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_check_path_id("iface_id", path_id, msg) < 0 ||
	    fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = fc_iface_obj(o, path_id, out, msg);
	json_object_put(o);
	return rc;
}

int fc_parse_entropy(const char *body, size_t len, char *msg)
{
	struct json_object *o;
	int rc;

	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = fc_entropy_obj(o, msg);
	json_object_put(o);
	return rc;
}

int fc_parse_action(const char *body, size_t len, enum fc_action *out,
		    char *msg)
{
	static const char *const names[] = {
		[FC_ACTION_INSTANCE_START] = "InstanceStart",
		[FC_ACTION_SEND_CTRL_ALT_DEL] = "SendCtrlAltDel",
		[FC_ACTION_FLUSH_METRICS] = "FlushMetrics",
	};
	struct json_object *o;
	const char *t;
	int rc = -1;

	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	if (fc_check_object(o, &action_schema, msg) == 0) {
		t = fc_get_str(o, "action_type");
		for (unsigned int k = 0; k < 3 && rc; k++)
			if (!strcmp(t, names[k])) {
				*out = (enum fc_action)k;
				rc = 0;
			}
		if (rc)
			fc_fail(msg, "action_type '%.32s' is not valid "
				"('FlushMetrics', 'InstanceStart' or "
				"'SendCtrlAltDel')", t);
	}
	json_object_put(o);
	return rc;
}

int fc_parse_vm_state(const char *body, size_t len, enum fc_vm_state *out,
		      char *msg)
{
	struct json_object *o;
	const char *t;
	int rc = -1;

	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	if (fc_check_object(o, &vm_schema, msg) == 0) {
		t = fc_get_str(o, "state");
		if (!strcmp(t, "Paused") || !strcmp(t, "Resumed")) {
			*out = t[0] == 'P' ? FC_VM_PAUSED : FC_VM_RESUMED;
			rc = 0;
		} else {
			fc_fail(msg, "state '%.32s' is not valid ('Paused' or "
				"'Resumed')", t);
		}
	}
	json_object_put(o);
	return rc;
}

int fc_parse_snapshot_create(const char *body, size_t len,
			     struct fc_snapshot_create *out, char *msg)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = snap_create_obj(o, out, msg);
	json_object_put(o);
	return rc;
}

int fc_parse_snapshot_load(const char *body, size_t len,
			   struct fc_snapshot_load *out, char *msg)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = snap_load_obj(o, out, msg);
	json_object_put(o);
	return rc;
}

int fc_parse_metrics(const char *body, size_t len, struct fc_metrics *out,
		     char *msg)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = fc_metrics_obj(o, out, msg);
	json_object_put(o);
	return rc;
}

/* ---- free: each leaves the struct zeroed, so a second call is a no-op */

void fc_boot_source_free(struct fc_boot_source *b)
{
	free(b->kernel_image_path);
	free(b->initrd_path);
	free(b->boot_args);
	memset(b, 0, sizeof(*b));
}

void fc_drive_free(struct fc_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

void fc_net_iface_free(struct fc_net_iface *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	memset(n, 0, sizeof(*n));
}

void fc_snapshot_create_free(struct fc_snapshot_create *s)
{
	free(s->snapshot_path);
	free(s->mem_file_path);
	memset(s, 0, sizeof(*s));
}

void fc_snapshot_load_free(struct fc_snapshot_load *s)
{
	free(s->snapshot_path);
	free(s->mem_path);
	for (unsigned int k = 0; k < s->n_net_overrides; k++) {
		free(s->net_override[k].iface_id);
		free(s->net_override[k].host_dev_name);
	}
	memset(s, 0, sizeof(*s));
}

void fc_metrics_free(struct fc_metrics *m)
{
	free(m->metrics_path);
	memset(m, 0, sizeof(*m));
}

static uint32_t get_u32(struct json_object *o, const char *key)
{
	struct json_object *v = fc_get(o, key);

	return v ? (uint32_t)json_object_get_int64(v) : 0;
}

int fc_parse_migrate(const char *body, size_t len, struct fc_migrate *out,
		     char *msg)
{
	struct json_object *o;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	if (fc_check_object(o, &migrate_schema, msg) == 0 &&
	    fc_dup_str(o, "destination_url", &out->destination_url, msg) == 0) {
		out->max_downtime_ms = get_u32(o, "max_downtime_ms");
		out->auto_converge = fc_get_bool(o, "auto_converge");
		out->max_rounds = get_u32(o, "max_rounds");
		out->timeout_ms = get_u32(o, "timeout_ms");
		out->max_bandwidth_mib_per_s = get_u32(o, "max_bandwidth_mib_per_s");
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

void fc_migrate_free(struct fc_migrate *m)
{
	free(m->destination_url);
	m->destination_url = NULL;
}

int fc_parse_migrate_incoming(const char *body, size_t len,
			      struct fc_migrate_incoming *out, char *msg)
{
	struct json_object *o;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	if (fc_check_object(o, &incoming_schema, msg) == 0 &&
	    fc_dup_str(o, "listen_url", &out->listen_url, msg) == 0 &&
	    net_overrides(o, out->net_override, &out->n_net_overrides,
			  msg) == 0)
		rc = 0;
	json_object_put(o);
	if (rc < 0)
		fc_migrate_incoming_free(out);
	return rc;
}

void fc_migrate_incoming_free(struct fc_migrate_incoming *m)
{
	free(m->listen_url);
	for (unsigned int i = 0; i < m->n_net_overrides; i++) {
		free(m->net_override[i].iface_id);
		free(m->net_override[i].host_dev_name);
	}
	memset(m, 0, sizeof(*m));
}
