/* The whole VM configuration: what PUT requests accumulate, what
 * Firecracker's --config-file gives at once. */
#include "api/fc_model_internal.h"

#include <string.h>

#include <json-c/json.h>

void fc_vm_config_init(struct fc_vm_config *c)
{
	memset(c, 0, sizeof(*c));
	/* Firecracker's defaults, reported by GET /machine-config. */
	c->machine.vcpu_count = 1;
	c->machine.mem_size_mib = 128;
}

/* Leaves *c as fc_vm_config_init does: freeing twice is harmless. */
void fc_vm_config_free(struct fc_vm_config *c)
{
	fc_boot_source_free(&c->boot);
	for (unsigned int k = 0; k < c->ndrives; k++)
		fc_drive_free(&c->drive[k]);
	for (unsigned int k = 0; k < c->nifaces; k++)
		fc_net_iface_free(&c->iface[k]);
	fc_metrics_free(&c->metrics);
	fc_vm_config_init(c);
}

/* *d is consumed either way: moved in, or freed with the refusal, so the
 * caller never has anything left to free. */
int fc_vm_config_put_drive(struct fc_vm_config *c, struct fc_drive *d,
			   char *msg)
{
	unsigned int slot = c->ndrives;
	int rc = -1;

	if (!d->drive_id || !d->path_on_host) {
		fc_fail(msg, "a drive needs a drive_id and a path_on_host");
		goto out;
	}
	for (unsigned int k = 0; k < c->ndrives; k++)
		if (!strcmp(c->drive[k].drive_id, d->drive_id))
			slot = k;
	for (unsigned int k = 0; k < c->ndrives; k++) {
		const struct fc_drive *o = &c->drive[k];

		if (k == slot)
			continue;
		if (d->is_root_device && o->is_root_device) {
			fc_fail(msg, "drive '%s' cannot be a second root "
				"device: drive '%s' is one", d->drive_id,
				o->drive_id);
			goto out;
		}
		if (!strcmp(o->path_on_host, d->path_on_host)) {
			fc_fail(msg, "drive '%s' has the same path_on_host as "
				"drive '%s'", d->drive_id, o->drive_id);
			goto out;
		}
	}
	if (slot == FC_MAX_DRIVES) {
		fc_fail(msg, "cannot add drive '%s': ringvm has at most %d "
			"drives", d->drive_id, FC_MAX_DRIVES);
		goto out;
	}
	if (slot == c->ndrives)
		c->ndrives++;
	else
		fc_drive_free(&c->drive[slot]);
	c->drive[slot] = *d;
	memset(d, 0, sizeof(*d));
	rc = 0;
out:
	fc_drive_free(d);
	return rc;
}

/* *n is consumed either way, as with drives. */
int fc_vm_config_put_iface(struct fc_vm_config *c, struct fc_net_iface *n,
			   char *msg)
{
	unsigned int slot = c->nifaces;
	int rc = -1;

	if (!n->iface_id || !n->host_dev_name) {
		fc_fail(msg, "an interface needs an iface_id and a "
			"host_dev_name");
		goto out;
	}
	for (unsigned int k = 0; k < c->nifaces; k++)
		if (!strcmp(c->iface[k].iface_id, n->iface_id))
			slot = k;
	for (unsigned int k = 0; k < c->nifaces; k++) {
		const struct fc_net_iface *o = &c->iface[k];

		if (k == slot)
			continue;
		if (!strcmp(o->host_dev_name, n->host_dev_name)) {
			fc_fail(msg, "interface '%s' has the same host_dev_name "
				"'%s' as interface '%s'", n->iface_id,
				n->host_dev_name, o->iface_id);
			goto out;
		}
		if (n->has_mac && o->has_mac &&
		    !memcmp(o->guest_mac, n->guest_mac, 6)) {
			fc_fail(msg, "interface '%s' has the same guest_mac as "
				"interface '%s'", n->iface_id, o->iface_id);
			goto out;
		}
	}
	if (slot == FC_MAX_IFACES) {
		fc_fail(msg, "cannot add interface '%s': ringvm has at most %d "
			"network interfaces", n->iface_id, FC_MAX_IFACES);
		goto out;
	}
	if (slot == c->nifaces)
		c->nifaces++;
	else
		fc_net_iface_free(&c->iface[slot]);
	c->iface[slot] = *n;
	memset(n, 0, sizeof(*n));
	rc = 0;
out:
	fc_net_iface_free(n);
	return rc;
}

void fc_vm_config_set_boot_source(struct fc_vm_config *c,
				  struct fc_boot_source *b)
{
	fc_boot_source_free(&c->boot);
	c->boot = *b;
	c->has_boot_source = true;
	memset(b, 0, sizeof(*b));
}

/* ---- --config-file ---- */

static const struct fc_field config_fields[] = {
	F_OBJ("boot-source", REQ),
	F_OBJ("machine-config", OPT),
	F_ARR("drives"),
	F_ARR("network-interfaces"),
	F_OBJ("entropy", OPT),
	F_OBJ("metrics", OPT),
	/* Firecracker's, not ringvm's: refused by name unless null. */
	F_UNSUP("balloon", NULL),
	F_UNSUP("logger", NULL),
	F_UNSUP("mmds-config", NULL),
	F_UNSUP("vsock", NULL),
	F_UNSUP("cpu-config", NULL),
	F_UNSUP("serial", NULL),
	F_UNSUP("memory-hotplug", NULL),
	/* Firecracker's own GET /vm/config says "pmem": []. */
	F_UNSUP_LIST("pmem"),
};
static const struct fc_schema config_schema =
	FC_SCHEMA("the config file", config_fields);

/* Within one file an id given twice is a mistake, not an update. */
static int config_drives(struct json_object *arr, struct fc_vm_config *c,
			 char *msg)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t k = 0; k < n; k++) {
		struct json_object *o = json_object_array_get_idx(arr, k);
		struct fc_drive d;

		if (!json_object_is_type(o, json_type_object))
			return fc_fail(msg, "drives[%zu] must be an object", k);
		if (fc_drive_obj(o, NULL, &d, msg) < 0)
			return fc_prefix(msg, "drives[%zu]: ", k);
		for (unsigned int j = 0; j < c->ndrives; j++) {
			if (!strcmp(c->drive[j].drive_id, d.drive_id)) {
				fc_fail(msg, "drives[%zu]: drive_id '%s' "
					"appears twice", k, d.drive_id);
				fc_drive_free(&d);
				return -1;
			}
		}
		if (fc_vm_config_put_drive(c, &d, msg) < 0)
			return fc_prefix(msg, "drives[%zu]: ", k);
	}
	return 0;
}

static int config_ifaces(struct json_object *arr, struct fc_vm_config *c,
			 char *msg)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t k = 0; k < n; k++) {
		struct json_object *o = json_object_array_get_idx(arr, k);
		struct fc_net_iface ni;

		if (!json_object_is_type(o, json_type_object))
			return fc_fail(msg, "network-interfaces[%zu] must be "
				       "an object", k);
		if (fc_iface_obj(o, NULL, &ni, msg) < 0)
			return fc_prefix(msg, "network-interfaces[%zu]: ", k);
		for (unsigned int j = 0; j < c->nifaces; j++) {
			if (!strcmp(c->iface[j].iface_id, ni.iface_id)) {
				fc_fail(msg, "network-interfaces[%zu]: iface_id "
					"'%s' appears twice", k, ni.iface_id);
				fc_net_iface_free(&ni);
				return -1;
			}
		}
		if (fc_vm_config_put_iface(c, &ni, msg) < 0)
			return fc_prefix(msg, "network-interfaces[%zu]: ", k);
	}
	return 0;
}

static int config_object(struct json_object *o, struct fc_vm_config *c,
			 char *msg)
{
	struct json_object *v;
	struct fc_boot_source b;

	if (fc_check_object(o, &config_schema, msg) < 0)
		return -1;
	if (fc_boot_source_obj(fc_get(o, "boot-source"), &b, msg) < 0)
		return fc_prefix(msg, "boot-source: ");
	fc_vm_config_set_boot_source(c, &b);
	v = fc_get(o, "machine-config");
	if (v && fc_machine_obj(v, &c->machine, msg) < 0)
		return fc_prefix(msg, "machine-config: ");
	if (config_drives(fc_get(o, "drives"), c, msg) < 0 ||
	    config_ifaces(fc_get(o, "network-interfaces"), c, msg) < 0)
		return -1;
	v = fc_get(o, "entropy");
	if (v) {
		if (fc_entropy_obj(v, msg) < 0)
			return fc_prefix(msg, "entropy: ");
		c->entropy = true;
	}
	v = fc_get(o, "metrics");
	if (v) {
		if (fc_metrics_obj(v, &c->metrics, msg) < 0)
			return fc_prefix(msg, "metrics: ");
		c->has_metrics = true;
	}
	return 0;
}

/* On failure *c is back to fc_vm_config_init's state. */
int fc_parse_config_file(const char *body, size_t len,
			 struct fc_vm_config *c, char *msg)
{
	struct json_object *o;
	int rc;

	if (fc_body_object(body, len, &o, msg) < 0)
		return -1;
	rc = config_object(o, c, msg);
	json_object_put(o);
	if (rc < 0)
		fc_vm_config_free(c);
	return rc;
}
