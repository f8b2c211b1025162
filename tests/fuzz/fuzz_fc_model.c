/* libFuzzer target: hostile API request bodies and config files.
 *
 * Input layout: [0] selects the parser (modulo 11: the ten request
 * parsers and the config file);
 * the rest is the body, passed with its exact length (not NUL-terminated:
 * it is copied to a heap block of exactly that size, so a read past it is
 * an ASan report).
 *
 * Beyond "no crash, no sanitizer report", each outcome is checked:
 * a refusal leaves a non-empty message that fits FC_MSG_MAX and a zeroed
 * output, and its fault body is valid JSON (UTF-8 included); an accepted
 * body gives values inside the documented limits, and what the builders
 * make of it parses back to the same thing.
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed corpus
 * to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/fc_model_internal.h"

enum which {
	W_BOOT, W_MACHINE, W_DRIVE, W_IFACE, W_ENTROPY, W_ACTION, W_VM,
	W_SNAP_CREATE, W_SNAP_LOAD, W_METRICS, W_CONFIG, W_COUNT,
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t k = 0; k < n; k++)
		if (b[k])
			return false;
	return true;
}

static bool path_ok(const char *s)
{
	return s && s[0] && strlen(s) <= 4095;
}

/* A valid JSON object, strictly (RFC 3629 UTF-8 included, which json-c
 * alone does not check); returns it or aborts. */
static struct json_object *strict_parse(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t n;

	check(s && tok);
	for (size_t i = 0; s[i]; i += n)
		check((n = fc_utf8_len(s + i, strlen(s + i))) > 0);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	check(o && json_object_is_type(o, json_type_object) &&
	      json_tokener_get_parse_end(tok) == strlen(s));
	json_tokener_free(tok);
	return o;
}

static void check_refusal(const char *msg)
{
	char *fault;
	struct json_object *o;

	check(msg[0] && strnlen(msg, FC_MSG_MAX) < FC_MSG_MAX);
	fault = fc_json_fault(msg);
	o = strict_parse(fault);
	json_object_put(o);
	free(fault);
}

/* GET /vm/config, read back as a config file, must say the same again. */
static void check_vm_config(const struct fc_vm_config *c)
{
	char msg[FC_MSG_MAX];
	struct fc_vm_config again;
	char *json = fc_json_vm_config(c), *json2;

	check(json != NULL);
	json_object_put(strict_parse(json));
	check(c->ndrives <= FC_MAX_DRIVES && c->nifaces <= FC_MAX_IFACES);
	for (unsigned int k = 0; k < c->ndrives; k++)
		check(fc_valid_id(c->drive[k].drive_id) &&
		      path_ok(c->drive[k].path_on_host));
	for (unsigned int k = 0; k < c->nifaces; k++)
		check(fc_valid_id(c->iface[k].iface_id) &&
		      (!c->iface[k].has_mac || !(c->iface[k].guest_mac[0] & 1)));
	if (c->has_boot_source) {
		fc_vm_config_init(&again);
		check(fc_parse_config_file(json, strlen(json), &again,
					   msg) == 0);
		json2 = fc_json_vm_config(&again);
		check(json2 && !strcmp(json, json2));
		free(json2);
		fc_vm_config_free(&again);
	}
	free(json);
}

static void run_config(const char *body, size_t len)
{
	char msg[FC_MSG_MAX] = "";
	struct fc_vm_config c;

	fc_vm_config_init(&c);
	if (fc_parse_config_file(body, len, &c, msg) == 0) {
		check(c.has_boot_source &&
		      path_ok(c.boot.kernel_image_path));
		check(c.machine.vcpu_count >= 1 &&
		      c.machine.vcpu_count <= 254 && !c.machine.smt);
		check_vm_config(&c);
	} else {
		check_refusal(msg);
		check(c.ndrives == 0 && !c.has_boot_source);
	}
	fc_vm_config_free(&c);
}

static void run_one(enum which w, const char *body, size_t len)
{
	char msg[FC_MSG_MAX] = "";
	struct fc_boot_source b;
	struct fc_machine_config m, m2;
	struct fc_drive d;
	struct fc_net_iface n;
	enum fc_action a;
	enum fc_vm_state s;
	struct fc_snapshot_create sc;
	struct fc_snapshot_load sl;
	struct fc_metrics me;
	struct fc_vm_config c;
	struct fc_boot_source kernel = { .kernel_image_path = strdup("/k") };
	char *json;
	int rc = 0;

	/* With a boot source, check_vm_config can read it all back. */
	fc_vm_config_init(&c);
	check(kernel.kernel_image_path != NULL);
	fc_vm_config_set_boot_source(&c, &kernel);
	switch (w) {
	case W_BOOT:
		rc = fc_parse_boot_source(body, len, &b, msg);
		check(rc ? all_zero(&b, sizeof(b)) :
		      path_ok(b.kernel_image_path));
		if (rc == 0)
			fc_vm_config_set_boot_source(&c, &b);
		break;
	case W_MACHINE:
		rc = fc_parse_machine_config(body, len, &m, msg);
		if (rc == 0) {
			check(m.vcpu_count >= 1 && m.vcpu_count <= 254 &&
			      m.mem_size_mib >= 16 &&
			      m.mem_size_mib <= 1048576 && !m.smt);
			json = fc_json_machine_config(&m);
			check(json && fc_parse_machine_config(json,
				strlen(json), &m2, msg) == 0 &&
			      !memcmp(&m, &m2, sizeof(m)));
			free(json);
		}
		break;
	case W_DRIVE:
		rc = fc_parse_drive(body, len, "rootfs", &d, msg);
		check(rc ? all_zero(&d, sizeof(d)) :
		      !strcmp(d.drive_id, "rootfs") &&
		      path_ok(d.path_on_host) &&
		      (!d.partuuid || d.is_root_device));
		if (rc == 0)
			check(fc_vm_config_put_drive(&c, &d, msg) == 0);
		break;
	case W_IFACE:
		rc = fc_parse_net_iface(body, len, "net1", &n, msg);
		check(rc ? all_zero(&n, sizeof(n)) :
		      !strcmp(n.iface_id, "net1"));
		if (rc == 0)
			check(fc_vm_config_put_iface(&c, &n, msg) == 0);
		break;
	case W_ENTROPY:
		rc = fc_parse_entropy(body, len, msg);
		c.entropy = rc == 0;
		break;
	case W_ACTION:
		rc = fc_parse_action(body, len, &a, msg);
		check(rc || a <= FC_ACTION_FLUSH_METRICS);
		break;
	case W_VM:
		rc = fc_parse_vm_state(body, len, &s, msg);
		check(rc || s == FC_VM_PAUSED || s == FC_VM_RESUMED);
		break;
	case W_SNAP_CREATE:
		rc = fc_parse_snapshot_create(body, len, &sc, msg);
		check(rc ? all_zero(&sc, sizeof(sc)) :
		      path_ok(sc.snapshot_path) && path_ok(sc.mem_file_path));
		fc_snapshot_create_free(&sc);
		break;
	case W_SNAP_LOAD:
		rc = fc_parse_snapshot_load(body, len, &sl, msg);
		check(rc ? all_zero(&sl, sizeof(sl)) :
		      path_ok(sl.snapshot_path) && path_ok(sl.mem_path) &&
		      sl.n_net_overrides <= FC_MAX_NET_OVERRIDES);
		for (unsigned int k = 0; rc == 0 && k < sl.n_net_overrides; k++)
			check(fc_valid_id(sl.net_override[k].iface_id) &&
			      sl.net_override[k].host_dev_name);
		fc_snapshot_load_free(&sl);
		break;
	case W_METRICS:
		rc = fc_parse_metrics(body, len, &me, msg);
		check(rc ? all_zero(&me, sizeof(me)) :
		      path_ok(me.metrics_path));
		if (rc == 0) {
			c.metrics = me;
			c.has_metrics = true;
		}
		break;
	case W_CONFIG:
	case W_COUNT:
		break;
	}
	if (rc)
		check_refusal(msg);
	else
		check_vm_config(&c);
	fc_vm_config_free(&c);
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	enum which w;
	char *body;
	size_t len;

	if (size == 0)
		return;
	w = (enum which)(data[0] % W_COUNT);
	len = size - 1;
	body = malloc(len ? len : 1);
	check(body != NULL);
	memcpy(body, data + 1, len);
	if (w == W_CONFIG)
		run_config(body, len);
	else
		run_one(w, body, len);
	free(body);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

static const struct {
	enum which w;
	const char *name, *body;
} seeds[] = {
	{ W_BOOT, "boot", "{\"kernel_image_path\": \"./vmlinux\", "
	  "\"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}" },
	{ W_BOOT, "boot-initrd", "{\"kernel_image_path\":\"/k\","
	  "\"initrd_path\":\"/i\",\"boot_args\":null}" },
	{ W_MACHINE, "machine", "{\"vcpu_count\": 2, \"mem_size_mib\": 1024}" },
	{ W_MACHINE, "machine-full", "{\"vcpu_count\":254,\"mem_size_mib\":"
	  "1048576,\"smt\":false,\"track_dirty_pages\":true,"
	  "\"cpu_template\":\"None\",\"huge_pages\":\"None\"}" },
	{ W_MACHINE, "machine-huge", "{\"vcpu_count\":18446744073709551617,"
	  "\"mem_size_mib\":-1}" },
	{ W_DRIVE, "drive", "{\"drive_id\": \"rootfs\", \"path_on_host\": "
	  "\"./rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": "
	  "false}" },
	{ W_DRIVE, "drive-full", "{\"drive_id\":\"rootfs\",\"path_on_host\":"
	  "\"r\",\"is_root_device\":true,\"partuuid\":\"0eaa91a0-01\","
	  "\"cache_type\":\"Writeback\",\"io_engine\":\"Sync\","
	  "\"rate_limiter\":null,\"socket\":null}" },
	{ W_IFACE, "iface", "{\"iface_id\": \"net1\", \"guest_mac\": "
	  "\"06:00:AC:10:00:02\", \"host_dev_name\": \"tap0\"}" },
	{ W_ENTROPY, "entropy", "{}" },
	{ W_ACTION, "action", "{\"action_type\": \"InstanceStart\"}" },
	{ W_VM, "vm", "{\"state\": \"Paused\"}" },
	{ W_SNAP_CREATE, "snap-create", "{\"snapshot_type\": \"Full\", "
	  "\"snapshot_path\": \"./snapshot_file\", \"mem_file_path\": "
	  "\"./mem_file\"}" },
	{ W_SNAP_LOAD, "snap-load", "{\"snapshot_path\":\"./snapshot_file\","
	  "\"mem_backend\":{\"backend_path\":\"./mem_file\",\"backend_type\":"
	  "\"File\"},\"resume_vm\":true,\"network_overrides\":[{\"iface_id\":"
	  "\"eth0\",\"host_dev_name\":\"vmtap01\"}]}" },
	{ W_SNAP_LOAD, "snap-load-file", "{\"snapshot_path\":\"s\","
	  "\"mem_file_path\":\"m\",\"enable_diff_snapshots\":false}" },
	{ W_METRICS, "metrics", "{\"metrics_path\": \"/tmp/metrics.fifo\"}" },
	{ W_CONFIG, "config", "{\"boot-source\":{\"kernel_image_path\":"
	  "\"vmlinux.bin\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\","
	  "\"initrd_path\":null},\"drives\":[{\"drive_id\":\"rootfs\","
	  "\"partuuid\":null,\"is_root_device\":true,\"cache_type\":"
	  "\"Writeback\",\"is_read_only\":false,\"path_on_host\":"
	  "\"bionic.rootfs.ext4\",\"io_engine\":\"Sync\",\"rate_limiter\":null,"
	  "\"socket\":null},{\"drive_id\":\"data\",\"is_root_device\":false,"
	  "\"path_on_host\":\"/d.img\",\"is_read_only\":true}],"
	  "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":1024,"
	  "\"smt\":false,\"track_dirty_pages\":false,\"huge_pages\":\"None\"},"
	  "\"cpu-config\":null,\"balloon\":null,\"network-interfaces\":[{"
	  "\"iface_id\":\"eth0\",\"guest_mac\":\"AA:FC:00:00:00:01\","
	  "\"host_dev_name\":\"tap0\"}],\"vsock\":null,\"logger\":null,"
	  "\"metrics\":{\"metrics_path\":\"/m\"},\"mmds-config\":null,"
	  "\"entropy\":{},\"pmem\":[]}" },
	{ W_CONFIG, "config-vsock", "{\"boot-source\":{\"kernel_image_path\":"
	  "\"k\"},\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\"}}" },
	{ W_DRIVE, "drive-nul", "{\"drive_id\":\"rootfs\\u0000\","
	  "\"path_on_host\":\"r\",\"is_root_device\":true}" },
	{ W_ACTION, "deep", "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}" },
};

int main(int argc, char **argv)
{
	char path[4096];
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		size_t len = strlen(seeds[k].body);
		uint8_t *buf = malloc(len + 1);
		FILE *f;

		if (!buf)
			return 1;
		buf[0] = (uint8_t)seeds[k].w;
		memcpy(buf + 1, seeds[k].body, len);
		fuzz_one(buf, len + 1);         /* a crashing seed shows here */
		snprintf(path, sizeof(path), "%s/%s", argv[1], seeds[k].name);
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, len + 1, f) != len + 1 ||
		    fclose(f) != 0) {
			perror(path);
			rc = 1;
		}
		free(buf);
	}
	return rc;
}

#endif
