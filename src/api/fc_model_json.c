/* The response bodies: compact JSON in Firecracker's layout. Every builder
 * either returns the whole document or NULL (out of memory), never a
 * document with a member silently missing. */
#include "api/fc_model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Adds v (NULL: out of memory) under key; false, with v released, if
 * anything failed. A JSON null is added with add_null. */
static bool add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!o || !v || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool add_null(struct json_object *o, const char *key)
{
	return o && json_object_object_add(o, key, NULL) == 0;
}

static bool add_str(struct json_object *o, const char *key, const char *s)
{
	return add(o, key, json_object_new_string(s ? s : ""));
}

static bool add_bool(struct json_object *o, const char *key, bool b)
{
	return add(o, key, json_object_new_boolean(b));
}

static bool add_int(struct json_object *o, const char *key, int64_t i)
{
	return add(o, key, json_object_new_int64(i));
}

/* Releases o unless ok; returns o or NULL. */
static struct json_object *done(struct json_object *o, bool ok)
{
	if (ok)
		return o;
	json_object_put(o);
	return NULL;
}

static char *to_string(struct json_object *o)
{
	const char *s;
	char *copy = NULL;

	if (!o)
		return NULL;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s)
		copy = strdup(s);
	json_object_put(o);
	return copy;
}

static struct json_object *machine_json(const struct fc_machine_config *m)
{
	struct json_object *o = json_object_new_object();
	bool ok = add_int(o, "vcpu_count", m->vcpu_count) &&
		  add_int(o, "mem_size_mib", (int64_t)m->mem_size_mib) &&
		  add_bool(o, "smt", false) &&
		  add_bool(o, "track_dirty_pages", m->track_dirty_pages) &&
		  add_str(o, "huge_pages", m->huge_pages_2m ? "2M" : "None");

	return done(o, ok);
}

/* Optional members are left out when unset: the parsers read absent and
 * null alike. */
static struct json_object *boot_json(const struct fc_boot_source *b)
{
	struct json_object *o = json_object_new_object();
	bool ok = add_str(o, "kernel_image_path", b->kernel_image_path) &&
		  (!b->initrd_path ||
		   add_str(o, "initrd_path", b->initrd_path)) &&
		  (!b->boot_args || add_str(o, "boot_args", b->boot_args));

	return done(o, ok);
}

static struct json_object *drive_json(const struct fc_drive *d)
{
	struct json_object *o = json_object_new_object();
	bool ok = add_str(o, "drive_id", d->drive_id) &&
		  add_str(o, "path_on_host", d->path_on_host) &&
		  add_bool(o, "is_root_device", d->is_root_device) &&
		  add_bool(o, "is_read_only", d->is_read_only) &&
		  (!d->partuuid || add_str(o, "partuuid", d->partuuid)) &&
		  add_str(o, "cache_type", "Writeback") &&
		  add_str(o, "io_engine", d->io_sync ? "Sync" : "Async");

	return done(o, ok);
}

static struct json_object *iface_json(const struct fc_net_iface *n)
{
	struct json_object *o = json_object_new_object();
	const uint8_t *m = n->guest_mac;
	char mac[18];
	bool ok;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	ok = add_str(o, "iface_id", n->iface_id) &&
	     add_str(o, "host_dev_name", n->host_dev_name) &&
	     (!n->has_mac || add_str(o, "guest_mac", mac));
	return done(o, ok);
}

/* Messages quote what the client sent, cut to a few dozen bytes: a cut
 * through a UTF-8 character (or bytes that never were UTF-8) become '?',
 * so the reply stays valid JSON for strict clients. */
char *fc_json_fault(const char *message)
{
	struct json_object *o = json_object_new_object();
	char *clean = strdup(message ? message : "");
	bool ok;

	for (size_t k = 0; clean && clean[k];) {
		size_t n = fc_utf8_len(clean + k, strlen(clean + k));

		if (n == 0)
			clean[k++] = '?';
		else
			k += n;
	}
	ok = clean && add_str(o, "fault_message", clean);
	free(clean);
	return to_string(done(o, ok));
}

char *fc_json_instance_info(const char *id, const char *state,
			    const char *vmm_version)
{
	struct json_object *o = json_object_new_object();
	bool ok = add_str(o, "app_name", "ringvm") && add_str(o, "id", id) &&
		  add_str(o, "state", state) &&
		  add_str(o, "vmm_version", vmm_version);

	return to_string(done(o, ok));
}

char *fc_json_machine_config(const struct fc_machine_config *m)
{
	return to_string(machine_json(m));
}

static struct json_object *metrics_json(const struct fc_metrics *m)
{
	struct json_object *o = json_object_new_object();

	return done(o, add_str(o, "metrics_path", m->metrics_path));
}

static bool append(struct json_object *a, struct json_object *v)
{
	if (!a || !v || json_object_array_add(a, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* Every member is added even after a failure (&=, not &&), so that each
 * value is either owned by o or released: nothing leaks. */
char *fc_json_vm_config(const struct fc_vm_config *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *drives = json_object_new_array();
	struct json_object *ifaces = json_object_new_array();
	bool ok = true;

	ok &= c->has_boot_source ? add(o, "boot-source", boot_json(&c->boot))
				 : add_null(o, "boot-source");
	ok &= add(o, "machine-config", machine_json(&c->machine));
	ok &= add(o, "drives", drives);
	ok &= add(o, "network-interfaces", ifaces);
	ok &= c->entropy ? add(o, "entropy", json_object_new_object())
			 : add_null(o, "entropy");
	ok &= c->has_metrics ? add(o, "metrics", metrics_json(&c->metrics))
			     : add_null(o, "metrics");
	/* drives and ifaces belong to o now, if ok. */
	for (unsigned int k = 0; ok && k < c->ndrives; k++)
		ok = append(drives, drive_json(&c->drive[k]));
	for (unsigned int k = 0; ok && k < c->nifaces; k++)
		ok = append(ifaces, iface_json(&c->iface[k]));
	return to_string(done(o, ok));
}
