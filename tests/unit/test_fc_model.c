/* The Firecracker-compatible JSON models (api/fc_model.h): Firecracker's
 * own examples parse; every refusal names the field; every field of every
 * object refuses every wrong type; nulls, framing, nesting, huge integers
 * and NULs in strings; the config file; the configuration's put rules; the
 * response builders, read back with json-c; a config-file round trip; and
 * ringvm's own PUT /migrate body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/fc_model.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum which {
	W_BOOT, W_MACHINE, W_DRIVE, W_IFACE, W_ENTROPY, W_ACTION, W_VM,
	W_SNAP_CREATE, W_SNAP_LOAD, W_METRICS, W_CONFIG, W_MIGRATE,
	W_MIGRATE_IN,
};

/* Runs one parser on body[0..len) and frees whatever it produced. */
static int run(enum which w, const char *body, size_t len, char *msg)
{
	struct fc_boot_source b;
	struct fc_machine_config m;
	struct fc_drive d;
	struct fc_net_iface n;
	enum fc_action a;
	enum fc_vm_state s;
	struct fc_snapshot_create sc;
	struct fc_snapshot_load sl;
	struct fc_metrics me;
	struct fc_vm_config c;
	struct fc_migrate mg;
	struct fc_migrate_incoming mi;
	int rc = -1;

	msg[0] = '\0';
	switch (w) {
	case W_BOOT:
		rc = fc_parse_boot_source(body, len, &b, msg);
		fc_boot_source_free(&b);
		break;
	case W_MACHINE:
		rc = fc_parse_machine_config(body, len, &m, msg);
		break;
	case W_DRIVE:
		rc = fc_parse_drive(body, len, "rootfs", &d, msg);
		fc_drive_free(&d);
		break;
	case W_IFACE:
		rc = fc_parse_net_iface(body, len, "net1", &n, msg);
		fc_net_iface_free(&n);
		break;
	case W_ENTROPY:
		rc = fc_parse_entropy(body, len, msg);
		break;
	case W_ACTION:
		rc = fc_parse_action(body, len, &a, msg);
		break;
	case W_VM:
		rc = fc_parse_vm_state(body, len, &s, msg);
		break;
	case W_SNAP_CREATE:
		rc = fc_parse_snapshot_create(body, len, &sc, msg);
		fc_snapshot_create_free(&sc);
		break;
	case W_SNAP_LOAD:
		rc = fc_parse_snapshot_load(body, len, &sl, msg);
		fc_snapshot_load_free(&sl);
		break;
	case W_METRICS:
		rc = fc_parse_metrics(body, len, &me, msg);
		fc_metrics_free(&me);
		break;
	case W_CONFIG:
		fc_vm_config_init(&c);
		rc = fc_parse_config_file(body, len, &c, msg);
		fc_vm_config_free(&c);
		break;
	case W_MIGRATE:
		rc = fc_parse_migrate(body, len, &mg, msg);
		fc_migrate_free(&mg);
		break;
	case W_MIGRATE_IN:
		rc = fc_parse_migrate_incoming(body, len, &mi, msg);
		fc_migrate_incoming_free(&mi);
		break;
	}
	return rc;
}

static int run_s(enum which w, const char *body, char *msg)
{
	return run(w, body, strlen(body), msg);
}

static void expect_ok(int rc, const char *msg, const char *body)
{
	if (rc != 0)
		fail_msg("refused %s: %s", body, msg);
}

/* Refused, with needle (typically "'field'") in the message. */
static void expect_refused(int rc, const char *msg, const char *needle,
			   const char *body)
{
	if (rc != -1)
		fail_msg("accepted %s (expected a refusal naming %s)", body,
			 needle);
	if (!strstr(msg, needle))
		fail_msg("refusal of %s says \"%s\", without %s", body, msg,
			 needle);
	assert_true(strlen(msg) < FC_MSG_MAX);
}

static void must_refuse(enum which w, const char *body, const char *needle)
{
	char msg[FC_MSG_MAX];

	expect_refused(run_s(w, body, msg), msg, needle, body);
}

static void must_accept(enum which w, const char *body)
{
	char msg[FC_MSG_MAX];

	expect_ok(run_s(w, body, msg), msg, body);
}

/* ---- Firecracker's getting-started examples ---- */

static void test_getting_started(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_boot_source b;
	struct fc_drive d;
	struct fc_net_iface n;
	struct fc_machine_config m;
	enum fc_action a;
	const char *s;

	(void)state;
	s = "{\"kernel_image_path\": \"./vmlinux\", \"boot_args\": "
	    "\"console=ttyS0 reboot=k panic=1 pci=off\"}";
	expect_ok(fc_parse_boot_source(s, strlen(s), &b, msg), msg, s);
	assert_string_equal(b.kernel_image_path, "./vmlinux");
	assert_string_equal(b.boot_args, "console=ttyS0 reboot=k panic=1 pci=off");
	assert_null(b.initrd_path);
	fc_boot_source_free(&b);

	s = "{\"drive_id\": \"rootfs\", \"path_on_host\": \"./rootfs.ext4\", "
	    "\"is_root_device\": true, \"is_read_only\": false}";
	expect_ok(fc_parse_drive(s, strlen(s), "rootfs", &d, msg), msg, s);
	assert_string_equal(d.drive_id, "rootfs");
	assert_string_equal(d.path_on_host, "./rootfs.ext4");
	assert_true(d.is_root_device);
	assert_false(d.is_read_only);
	assert_null(d.partuuid);
	assert_false(d.io_sync);
	fc_drive_free(&d);

	s = "{\"iface_id\": \"net1\", \"guest_mac\": \"06:00:AC:10:00:02\", "
	    "\"host_dev_name\": \"tap0\"}";
	expect_ok(fc_parse_net_iface(s, strlen(s), "net1", &n, msg), msg, s);
	assert_string_equal(n.iface_id, "net1");
	assert_string_equal(n.host_dev_name, "tap0");
	assert_true(n.has_mac);
	assert_memory_equal(n.guest_mac,
			    ((const uint8_t[]){ 6, 0, 0xac, 0x10, 0, 2 }), 6);
	fc_net_iface_free(&n);

	s = "{\"action_type\": \"InstanceStart\"}";
	expect_ok(fc_parse_action(s, strlen(s), &a, msg), msg, s);
	assert_int_equal(a, FC_ACTION_INSTANCE_START);

	s = "{\"vcpu_count\": 2, \"mem_size_mib\": 1024}";
	expect_ok(fc_parse_machine_config(s, strlen(s), &m, msg), msg, s);
	assert_int_equal(m.vcpu_count, 2);
	assert_int_equal(m.mem_size_mib, 1024);
	assert_false(m.smt);
	assert_false(m.track_dirty_pages);
}

/* The snapshot guide's and the remaining definitions' examples. */
static void test_other_examples(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_snapshot_create sc;
	struct fc_snapshot_load sl;
	struct fc_metrics me;
	enum fc_action a;
	enum fc_vm_state vs;
	const char *s;

	(void)state;
	s = "{\"snapshot_type\": \"Full\", \"snapshot_path\": "
	    "\"./snapshot_file\", \"mem_file_path\": \"./mem_file\"}";
	expect_ok(fc_parse_snapshot_create(s, strlen(s), &sc, msg), msg, s);
	assert_string_equal(sc.snapshot_path, "./snapshot_file");
	assert_string_equal(sc.mem_file_path, "./mem_file");
	fc_snapshot_create_free(&sc);

	s = "{\"snapshot_path\": \"./snapshot_file\", \"mem_backend\": "
	    "{\"backend_path\": \"./mem_file\", \"backend_type\": \"File\"}, "
	    "\"enable_diff_snapshots\": false, \"resume_vm\": true}";
	expect_ok(fc_parse_snapshot_load(s, strlen(s), &sl, msg), msg, s);
	assert_string_equal(sl.snapshot_path, "./snapshot_file");
	assert_string_equal(sl.mem_path, "./mem_file");
	assert_true(sl.resume_vm);
	assert_int_equal(sl.n_net_overrides, 0);
	fc_snapshot_load_free(&sl);

	s = "{\"snapshot_path\": \"snap\", \"mem_file_path\": \"mem\", "
	    "\"network_overrides\": [{\"iface_id\": \"eth0\", "
	    "\"host_dev_name\": \"vmtap01\"}, {\"iface_id\": \"eth1\", "
	    "\"host_dev_name\": \"vmtap02\"}]}";
	expect_ok(fc_parse_snapshot_load(s, strlen(s), &sl, msg), msg, s);
	assert_string_equal(sl.mem_path, "mem");
	assert_false(sl.resume_vm);
	assert_int_equal(sl.n_net_overrides, 2);
	assert_string_equal(sl.net_override[0].iface_id, "eth0");
	assert_string_equal(sl.net_override[0].host_dev_name, "vmtap01");
	assert_string_equal(sl.net_override[1].iface_id, "eth1");
	assert_string_equal(sl.net_override[1].host_dev_name, "vmtap02");
	fc_snapshot_load_free(&sl);

	s = "{\"metrics_path\": \"/tmp/metrics.fifo\"}";
	expect_ok(fc_parse_metrics(s, strlen(s), &me, msg), msg, s);
	assert_string_equal(me.metrics_path, "/tmp/metrics.fifo");
	fc_metrics_free(&me);

	s = "{}";
	expect_ok(fc_parse_entropy(s, 2, msg), msg, s);

	s = "{\"state\": \"Paused\"}";
	expect_ok(fc_parse_vm_state(s, strlen(s), &vs, msg), msg, s);
	assert_int_equal(vs, FC_VM_PAUSED);
	s = "{\"state\": \"Resumed\"}";
	expect_ok(fc_parse_vm_state(s, strlen(s), &vs, msg), msg, s);
	assert_int_equal(vs, FC_VM_RESUMED);
	s = "{\"action_type\": \"SendCtrlAltDel\"}";
	expect_ok(fc_parse_action(s, strlen(s), &a, msg), msg, s);
	assert_int_equal(a, FC_ACTION_SEND_CTRL_ALT_DEL);
	s = "{\"action_type\": \"FlushMetrics\"}";
	expect_ok(fc_parse_action(s, strlen(s), &a, msg), msg, s);
	assert_int_equal(a, FC_ACTION_FLUSH_METRICS);
}

/* ---- values ---- */

static void test_boot_source_values(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_boot_source b;
	char *big = malloc(4200), *body = malloc(4400);
	const char *s;

	(void)state;
	assert_non_null(big);
	assert_non_null(body);
	s = "{\"kernel_image_path\":\"/k\",\"initrd_path\":\"/i\","
	    "\"boot_args\":\"\"}";
	expect_ok(fc_parse_boot_source(s, strlen(s), &b, msg), msg, s);
	assert_string_equal(b.initrd_path, "/i");
	assert_string_equal(b.boot_args, "");
	fc_boot_source_free(&b);
	fc_boot_source_free(&b);                /* twice: harmless */

	must_refuse(W_BOOT, "{\"kernel_image_path\":\"\"}", "'kernel_image_path'");
	must_refuse(W_BOOT, "{\"kernel_image_path\":\"k\",\"initrd_path\":\"\"}",
	       "'initrd_path'");
	must_refuse(W_BOOT, "{\"boot_args\":\"x\"}", "'kernel_image_path'");

	/* Paths: 4095 bytes fit, 4096 do not; boot_args: 4096 / 4097. */
	memset(big, 'a', 4095);
	big[4095] = '\0';
	snprintf(body, 4400, "{\"kernel_image_path\":\"%s\"}", big);
	must_accept(W_BOOT, body);
	strcat(big, "a");
	snprintf(body, 4400, "{\"kernel_image_path\":\"%s\"}", big);
	must_refuse(W_BOOT, body, "'kernel_image_path'");
	snprintf(body, 4400, "{\"kernel_image_path\":\"k\",\"boot_args\":\"%s\"}",
		 big);
	must_accept(W_BOOT, body);
	strcat(big, "a");
	snprintf(body, 4400, "{\"kernel_image_path\":\"k\",\"boot_args\":\"%s\"}",
		 big);
	must_refuse(W_BOOT, body, "'boot_args'");
	free(big);
	free(body);
}

static void test_machine_values(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_machine_config m;
	const char *s;

	(void)state;
	s = "{\"vcpu_count\":254,\"mem_size_mib\":1048576,\"smt\":false,"
	    "\"track_dirty_pages\":true,\"cpu_template\":\"None\","
	    "\"huge_pages\":\"None\"}";
	expect_ok(fc_parse_machine_config(s, strlen(s), &m, msg), msg, s);
	assert_int_equal(m.vcpu_count, 254);
	assert_int_equal(m.mem_size_mib, 1048576);
	assert_true(m.track_dirty_pages);
	must_accept(W_MACHINE, "{\"vcpu_count\":1,\"mem_size_mib\":16}");
	must_refuse(W_MACHINE, "{\"vcpu_count\":0,\"mem_size_mib\":16}",
	       "'vcpu_count'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":255,\"mem_size_mib\":16}",
	       "'vcpu_count'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":-1,\"mem_size_mib\":16}",
	       "'vcpu_count'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":1,\"mem_size_mib\":15}",
	       "'mem_size_mib'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":1,\"mem_size_mib\":1048577}",
	       "'mem_size_mib'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":1}", "'mem_size_mib'");
	must_refuse(W_MACHINE, "{\"mem_size_mib\":128}", "'vcpu_count'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":2,\"mem_size_mib\":128,\"smt\":true}",
	       "smt: true is not supported by ringvm (one thread per core)");
	must_refuse(W_MACHINE, "{\"vcpu_count\":2,\"mem_size_mib\":128,"
	       "\"cpu_template\":\"T2\"}", "cpu_template 'T2'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":2,\"mem_size_mib\":128,"
	       "\"cpu_template\":\"none\"}", "cpu_template 'none'");
	assert_false(m.huge_pages_2m);
	s = "{\"vcpu_count\":2,\"mem_size_mib\":128,\"huge_pages\":\"2M\"}";
	expect_ok(fc_parse_machine_config(s, strlen(s), &m, msg), msg, s);
	assert_true(m.huge_pages_2m);
	must_refuse(W_MACHINE, "{\"vcpu_count\":2,\"mem_size_mib\":129,"
	       "\"huge_pages\":\"2M\"}", "huge_pages 2M: mem_size_mib must be a multiple of 2");
	must_refuse(W_MACHINE, "{\"vcpu_count\":2,\"mem_size_mib\":128,"
	       "\"huge_pages\":\"Transparent\"}", "huge_pages 'Transparent' is not supported by ringvm (None or 2M)");
	must_refuse(W_MACHINE, "{\"vcpu_count\":2,\"mem_size_mib\":128,"
	       "\"huge_pages\":\"2m\"}", "huge_pages '2m'");
}

/* json-c clamps what int64 cannot hold; none of it gets through, nor a
 * value that would wrap in a 32-bit field. */
static void test_huge_integers(void **state)
{
	static const char *const v[] = {
		"4294967297", "4294967296", "2147483648", "9223372036854775807",
		"9223372036854775808", "18446744073709551615",
		"18446744073709551617", "99999999999999999999999999999999",
		"-9223372036854775808", "-9223372036854775809",
		"-99999999999999999999999999", "-1", "-0",
	};
	char body[160];

	(void)state;
	for (size_t k = 0; k < N(v); k++) {
		snprintf(body, sizeof(body),
			 "{\"vcpu_count\":%s,\"mem_size_mib\":128}", v[k]);
		must_refuse(W_MACHINE, body, "'vcpu_count'");
		snprintf(body, sizeof(body),
			 "{\"vcpu_count\":1,\"mem_size_mib\":%s}", v[k]);
		must_refuse(W_MACHINE, body, "'mem_size_mib'");
	}
	must_refuse(W_MACHINE, "{\"vcpu_count\":1,\"mem_size_mib\":1e999}",
	       "'mem_size_mib'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":Infinity,\"mem_size_mib\":16}",
	       "'vcpu_count'");
	must_refuse(W_MACHINE, "{\"vcpu_count\":NaN,\"mem_size_mib\":16}",
	       "'vcpu_count'");
}

#define DRIVE(extra) "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r.img\"," \
	"\"is_root_device\":true" extra "}"

static void test_drive_values(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_drive d;
	const char *s;

	(void)state;
	s = DRIVE(",\"is_read_only\":true,\"partuuid\":"
		  "\"0eaa91a0-01\",\"cache_type\":\"Writeback\","
		  "\"io_engine\":\"Sync\"");
	expect_ok(fc_parse_drive(s, strlen(s), "rootfs", &d, msg), msg, s);
	assert_true(d.is_read_only);
	assert_string_equal(d.partuuid, "0eaa91a0-01");
	assert_true(d.io_sync);
	fc_drive_free(&d);
	s = DRIVE(",\"io_engine\":\"Async\"");
	expect_ok(fc_parse_drive(s, strlen(s), "rootfs", &d, msg), msg, s);
	assert_false(d.io_sync);
	fc_drive_free(&d);

	must_refuse(W_DRIVE, DRIVE(",\"cache_type\":\"Unsafe\""),
	       "cache_type 'Unsafe' is not supported by ringvm (flushes always "
	       "reach the disk; use 'Writeback')");
	must_refuse(W_DRIVE, DRIVE(",\"cache_type\":\"writeback\""), "cache_type");
	must_refuse(W_DRIVE, DRIVE(",\"io_engine\":\"sync\""), "io_engine");
	must_refuse(W_DRIVE, DRIVE(",\"rate_limiter\":{\"bandwidth\":{\"size\":1,"
			      "\"refill_time\":100}}"),
	       "field 'rate_limiter' of Drive is not supported by ringvm");
	must_refuse(W_DRIVE, DRIVE(",\"socket\":\"/run/vhost.sock\""),
	       "vhost-user drives are not supported yet");
	must_refuse(W_DRIVE, DRIVE(",\"socket\":\"/run/vhost.sock\""), "'socket'");
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r\","
	       "\"is_root_device\":false,\"partuuid\":\"abcd\"}", "partuuid");
	must_refuse(W_DRIVE, DRIVE(",\"partuuid\":\"a b\""), "partuuid");
	must_refuse(W_DRIVE, DRIVE(",\"partuuid\":\"\""), "partuuid");
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\",\"is_root_device\":true}",
	       "'path_on_host'");
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r\"}",
	       "'is_root_device'");
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"\","
	       "\"is_root_device\":true}", "'path_on_host'");
}

static void test_ids(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_drive d;
	struct fc_net_iface n;
	const char *s;
	char id65[66];

	(void)state;
	assert_true(fc_valid_id("a"));
	assert_true(fc_valid_id("Root_fs_0"));
	memset(id65, 'x', 65);
	id65[65] = '\0';
	assert_false(fc_valid_id(id65));
	id65[64] = '\0';
	assert_true(fc_valid_id(id65));
	assert_false(fc_valid_id(""));
	assert_false(fc_valid_id(NULL));
	assert_false(fc_valid_id("a-b"));
	assert_false(fc_valid_id("a b"));
	assert_false(fc_valid_id("a/b"));
	assert_false(fc_valid_id("\xc3\xa9"));

	s = "{\"drive_id\":\"b\",\"path_on_host\":\"r\",\"is_root_device\":false}";
	assert_int_equal(fc_parse_drive(s, strlen(s), "a", &d, msg), -1);
	assert_string_equal(msg, "drive_id 'b' in the body does not match "
			    "'a' in the path");
	assert_null(d.drive_id);
	assert_int_equal(fc_parse_drive(s, strlen(s), "a-b", &d, msg), -1);
	assert_non_null(strstr(msg, "drive_id 'a-b' in the path"));
	assert_int_equal(fc_parse_drive(s, strlen(s), NULL, &d, msg), -1);
	assert_non_null(strstr(msg, "drive_id"));
	must_refuse(W_DRIVE, "{\"drive_id\":\"root fs\",\"path_on_host\":\"r\","
	       "\"is_root_device\":false}", "drive_id 'root fs'");

	s = "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}";
	assert_int_equal(fc_parse_net_iface(s, strlen(s), "eth1", &n, msg), -1);
	assert_string_equal(msg, "iface_id 'eth0' in the body does not match "
			    "'eth1' in the path");
	assert_int_equal(fc_parse_net_iface(s, strlen(s), "", &n, msg), -1);
	assert_non_null(strstr(msg, "iface_id '' in the path"));
	must_refuse(W_IFACE, "{\"iface_id\":\"net.1\",\"host_dev_name\":\"tap0\"}",
	       "iface_id 'net.1'");
}

#define IFACE(extra) "{\"iface_id\":\"net1\",\"host_dev_name\":\"tap0\"" \
	extra "}"

static void test_iface_values(void **state)
{
	static const char *const good_names[] = {
		"t", "tap0", "0123456789abcde", "...", "a.b", "tap-1_x",
	};
	static const char *const bad_names[] = {
		"", "0123456789abcdef", ".", "..", "a/b", "a:b", "a b",
		"a\\tb", "a\\nb", "\\u000b", "a\\rb",
	};
	static const char *const bad_macs[] = {
		"06:00:AC:10:00", "06:00:AC:10:00:02:03", "06-00-AC-10-00-02",
		"0600AC100002", "06:00:AC:10:00:0g", "6:00:AC:10:00:02:",
		"06:00:AC:10:00:2", " 06:00:AC:10:00:02", "",
	};
	char msg[FC_MSG_MAX], body[200];
	struct fc_net_iface n;
	const char *s;

	(void)state;
	for (size_t k = 0; k < N(good_names); k++) {
		snprintf(body, sizeof(body), "{\"iface_id\":\"net1\","
			 "\"host_dev_name\":\"%s\"}", good_names[k]);
		must_accept(W_IFACE, body);
	}
	for (size_t k = 0; k < N(bad_names); k++) {
		snprintf(body, sizeof(body), "{\"iface_id\":\"net1\","
			 "\"host_dev_name\":\"%s\"}", bad_names[k]);
		must_refuse(W_IFACE, body, "host_dev_name");
	}
	for (size_t k = 0; k < N(bad_macs); k++) {
		snprintf(body, sizeof(body), IFACE(",\"guest_mac\":\"%s\""),
			 bad_macs[k]);
		must_refuse(W_IFACE, body, "guest_mac");
	}
	s = IFACE(",\"guest_mac\":\"fe:dc:ba:98:76:54\"");
	expect_ok(fc_parse_net_iface(s, strlen(s), "net1", &n, msg), msg, s);
	assert_memory_equal(n.guest_mac,
			    ((const uint8_t[]){ 0xfe, 0xdc, 0xba, 0x98, 0x76,
						0x54 }), 6);
	fc_net_iface_free(&n);
	s = IFACE("");
	expect_ok(fc_parse_net_iface(s, strlen(s), "net1", &n, msg), msg, s);
	assert_false(n.has_mac);
	fc_net_iface_free(&n);
	must_refuse(W_IFACE, IFACE(",\"guest_mac\":\"01:00:5e:00:00:01\""),
	       "guest_mac '01:00:5e:00:00:01' is a multicast address");
	must_refuse(W_IFACE, IFACE(",\"guest_mac\":\"ff:ff:ff:ff:ff:ff\""),
	       "multicast");
	must_refuse(W_IFACE, IFACE(",\"guest_mac\":\"00:00:00:00:00:00\""),
	       "guest_mac '00:00:00:00:00:00' is all zero");
	must_refuse(W_IFACE, IFACE(",\"mtu\":1500"),
	       "field 'mtu' of NetworkInterface is not supported by ringvm");
	must_refuse(W_IFACE, IFACE(",\"rx_rate_limiter\":{}"), "'rx_rate_limiter'");
	must_refuse(W_IFACE, IFACE(",\"tx_rate_limiter\":{}"), "'tx_rate_limiter'");
	must_refuse(W_IFACE, "{\"iface_id\":\"net1\"}", "'host_dev_name'");
	must_refuse(W_IFACE, "{\"host_dev_name\":\"tap0\"}", "'iface_id'");
}

static void test_enums(void **state)
{
	(void)state;
	must_refuse(W_ACTION, "{\"action_type\":\"instancestart\"}", "action_type");
	must_refuse(W_ACTION, "{\"action_type\":\"Pause\"}", "action_type 'Pause'");
	must_refuse(W_ACTION, "{}", "'action_type'");
	must_refuse(W_VM, "{\"state\":\"Running\"}", "state 'Running'");
	must_refuse(W_VM, "{}", "'state'");
	must_refuse(W_ENTROPY, "{\"rate_limiter\":{\"ops\":{\"size\":1,"
	       "\"refill_time\":1}}}",
	       "field 'rate_limiter' of EntropyDevice is not supported");
}

static void test_snapshot_values(void **state)
{
	(void)state;
	must_accept(W_SNAP_CREATE, "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}");
	must_refuse(W_SNAP_CREATE, "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	       "\"snapshot_type\":\"Diff\"}",
	       "snapshot_type 'Diff' is not supported by ringvm (Full only)");
	must_refuse(W_SNAP_CREATE, "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	       "\"snapshot_type\":\"full\"}", "snapshot_type 'full'");
	must_refuse(W_SNAP_CREATE, "{\"snapshot_path\":\"s\"}", "'mem_file_path'");
	must_refuse(W_SNAP_CREATE, "{\"mem_file_path\":\"m\"}", "'snapshot_path'");
	must_refuse(W_SNAP_CREATE, "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	       "\"version\":\"1.0.0\"}",
	       "unknown field 'version' in SnapshotCreateParams");

#define LOAD(extra) "{\"snapshot_path\":\"s\",\"mem_backend\":" \
	"{\"backend_type\":\"File\",\"backend_path\":\"m\"}" extra "}"
	must_accept(W_SNAP_LOAD, LOAD(",\"track_dirty_pages\":false,"
				 "\"enable_diff_snapshots\":false,"
				 "\"clock_realtime\":false"));
	must_refuse(W_SNAP_LOAD, "{\"snapshot_path\":\"s\",\"mem_backend\":"
	       "{\"backend_type\":\"Uffd\",\"backend_path\":\"/uffd.sock\"}}",
	       "backend_type 'Uffd' is not supported by ringvm (File only)");
	must_refuse(W_SNAP_LOAD, "{\"snapshot_path\":\"s\",\"mem_backend\":"
	       "{\"backend_type\":\"file\",\"backend_path\":\"m\"}}",
	       "backend_type 'file'");
	must_refuse(W_SNAP_LOAD, "{\"snapshot_path\":\"s\",\"mem_backend\":"
	       "{\"backend_type\":\"File\"}}", "'backend_path'");
	must_refuse(W_SNAP_LOAD, "{\"snapshot_path\":\"s\",\"mem_backend\":"
	       "{\"backend_type\":\"File\",\"backend_path\":\"m\",\"x\":1}}",
	       "unknown field 'x' in MemoryBackend");
	must_refuse(W_SNAP_LOAD, LOAD(",\"track_dirty_pages\":true"),
	       "track_dirty_pages: true");
	must_refuse(W_SNAP_LOAD, LOAD(",\"enable_diff_snapshots\":true"),
	       "enable_diff_snapshots: true");
	must_refuse(W_SNAP_LOAD, LOAD(",\"clock_realtime\":true"),
	       "clock_realtime: true");
	must_refuse(W_SNAP_LOAD, LOAD(",\"vsock_override\":{\"uds_path\":\"/v\"}"),
	       "field 'vsock_override' of SnapshotLoadParams is not supported");
	must_refuse(W_SNAP_LOAD, LOAD(",\"mem_file_path\":\"m\""),
	       "mem_backend and mem_file_path");
	must_refuse(W_SNAP_LOAD, "{\"snapshot_path\":\"s\"}", "'mem_backend'");
	must_refuse(W_SNAP_LOAD, "{\"snapshot_path\":\"s\"}", "'mem_file_path'");
	must_refuse(W_SNAP_LOAD, "{\"mem_file_path\":\"m\"}", "'snapshot_path'");
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":[1]"),
	       "network_overrides[0]");
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":[{\"iface_id\":\"a\"}]"),
	       "'host_dev_name'");
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":[{\"iface_id\":\"a\","
				 "\"host_dev_name\":\"a/b\"}]"),
	       "host_dev_name 'a/b'");
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":[{\"iface_id\":\"a-\","
				 "\"host_dev_name\":\"t\"}]"), "iface_id 'a-'");
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":[{\"iface_id\":\"a\","
				 "\"host_dev_name\":\"t\",\"mtu\":1}]"),
	       "unknown field 'mtu' in NetworkOverride");
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":[{\"iface_id\":\"a\","
				 "\"host_dev_name\":\"t\"},{\"iface_id\":\"a\","
				 "\"host_dev_name\":\"u\"}]"),
	       "iface_id 'a' appears twice");
	must_accept(W_SNAP_LOAD, LOAD(",\"network_overrides\":[]"));
	must_accept(W_SNAP_LOAD, LOAD(",\"network_overrides\":["
		"{\"iface_id\":\"a\",\"host_dev_name\":\"t1\"},"
		"{\"iface_id\":\"b\",\"host_dev_name\":\"t2\"},"
		"{\"iface_id\":\"c\",\"host_dev_name\":\"t3\"},"
		"{\"iface_id\":\"d\",\"host_dev_name\":\"t4\"}]"));
	must_refuse(W_SNAP_LOAD, LOAD(",\"network_overrides\":["
		"{\"iface_id\":\"a\",\"host_dev_name\":\"t1\"},"
		"{\"iface_id\":\"b\",\"host_dev_name\":\"t2\"},"
		"{\"iface_id\":\"c\",\"host_dev_name\":\"t3\"},"
		"{\"iface_id\":\"d\",\"host_dev_name\":\"t4\"},"
		"{\"iface_id\":\"e\",\"host_dev_name\":\"t5\"}]"),
	       "network_overrides");
	must_refuse(W_METRICS, "{}", "'metrics_path'");
	must_refuse(W_METRICS, "{\"metrics_path\":\"\"}", "'metrics_path'");
}

/* ---- every field, every wrong type (built with json-c) ---- */

static const char *const base[] = {
	[W_BOOT] = "{\"kernel_image_path\":\"./vmlinux\",\"initrd_path\":"
		"\"./initrd\",\"boot_args\":\"console=ttyS0\"}",
	[W_MACHINE] = "{\"vcpu_count\":2,\"mem_size_mib\":1024,\"smt\":false,"
		"\"track_dirty_pages\":false,\"cpu_template\":\"None\","
		"\"huge_pages\":\"None\"}",
	[W_DRIVE] = "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r.img\","
		"\"is_root_device\":true,\"is_read_only\":false,\"partuuid\":"
		"\"abcd-01\",\"cache_type\":\"Writeback\",\"io_engine\":"
		"\"Async\"}",
	[W_IFACE] = "{\"iface_id\":\"net1\",\"host_dev_name\":\"tap0\","
		"\"guest_mac\":\"06:00:AC:10:00:02\"}",
	[W_ENTROPY] = "{}",
	[W_ACTION] = "{\"action_type\":\"InstanceStart\"}",
	[W_VM] = "{\"state\":\"Paused\"}",
	[W_SNAP_CREATE] = "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
		"\"snapshot_type\":\"Full\"}",
	[W_SNAP_LOAD] = "{\"snapshot_path\":\"s\",\"mem_backend\":{"
		"\"backend_type\":\"File\",\"backend_path\":\"m\"},"
		"\"resume_vm\":true,\"track_dirty_pages\":false,"
		"\"enable_diff_snapshots\":false,\"clock_realtime\":false,"
		"\"network_overrides\":[{\"iface_id\":\"net1\","
		"\"host_dev_name\":\"tap1\"}]}",
	[W_METRICS] = "{\"metrics_path\":\"/tmp/m\"}",
	[W_CONFIG] = "{\"boot-source\":{\"kernel_image_path\":\"k\"},"
		"\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":256},"
		"\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"r\","
		"\"is_root_device\":true,\"is_read_only\":false}],"
		"\"network-interfaces\":[{\"iface_id\":\"net1\","
		"\"host_dev_name\":\"tap0\"}],\"entropy\":{},"
		"\"metrics\":{\"metrics_path\":\"/m\"}}",
	[W_MIGRATE] = "{\"destination_url\":\"tcp:10.0.0.2:4444\","
		"\"max_downtime_ms\":300,\"auto_converge\":true,"
		"\"max_rounds\":30,\"timeout_ms\":10000,"
		"\"max_bandwidth_mib_per_s\":64}",
	[W_MIGRATE_IN] = "{\"listen_url\":\"tcp::4444\",\"network_overrides\":"
		"[{\"iface_id\":\"net0\",\"host_dev_name\":\"tap7\"}]}",
};
static const char snap_load_file[] =
	"{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}";

/* Sets the member at path ("a", "a.b", "a[0].b") of a copy of body to the
 * JSON text value ("null" for null) and returns the new body (malloc). */
static char *with_field(const char *body, const char *path, const char *value)
{
	struct json_object *root = json_tokener_parse(body), *o = root, *v;
	char key[64];
	const char *p = path, *dot;
	char *out;

	assert_non_null(root);
	while ((dot = strchr(p, '.'))) {
		const char *br = memchr(p, '[', (size_t)(dot - p));
		size_t n = (size_t)((br ? br : dot) - p);

		memcpy(key, p, n);
		key[n] = '\0';
		assert_true(json_object_object_get_ex(o, key, &o));
		if (br)
			o = json_object_array_get_idx(o, (size_t)atoi(br + 1));
		assert_non_null(o);
		p = dot + 1;
	}
	v = strcmp(value, "null") ? json_tokener_parse(value) : NULL;
	assert_true(v || !strcmp(value, "null"));
	json_object_object_add(o, p, v);
	out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	assert_non_null(out);
	return out;
}

enum t { T_STR, T_BOOL, T_INT, T_OBJ, T_ARR };

struct typed_field {
	enum which w;
	const char *path;
	enum t type;
	bool required;    /* null refused, naming the field */
	const char *base; /* NULL: base[w] */
};

static const struct typed_field typed[] = {
	{ W_BOOT, "kernel_image_path", T_STR, true, NULL },
	{ W_BOOT, "initrd_path", T_STR, false, NULL },
	{ W_BOOT, "boot_args", T_STR, false, NULL },
	{ W_MACHINE, "vcpu_count", T_INT, true, NULL },
	{ W_MACHINE, "mem_size_mib", T_INT, true, NULL },
	{ W_MACHINE, "smt", T_BOOL, false, NULL },
	{ W_MACHINE, "track_dirty_pages", T_BOOL, false, NULL },
	{ W_MACHINE, "cpu_template", T_STR, false, NULL },
	{ W_MACHINE, "huge_pages", T_STR, false, NULL },
	{ W_DRIVE, "drive_id", T_STR, true, NULL },
	{ W_DRIVE, "path_on_host", T_STR, true, NULL },
	{ W_DRIVE, "is_root_device", T_BOOL, true, NULL },
	{ W_DRIVE, "is_read_only", T_BOOL, false, NULL },
	{ W_DRIVE, "partuuid", T_STR, false, NULL },
	{ W_DRIVE, "cache_type", T_STR, false, NULL },
	{ W_DRIVE, "io_engine", T_STR, false, NULL },
	{ W_IFACE, "iface_id", T_STR, true, NULL },
	{ W_IFACE, "host_dev_name", T_STR, true, NULL },
	{ W_IFACE, "guest_mac", T_STR, false, NULL },
	{ W_ACTION, "action_type", T_STR, true, NULL },
	{ W_VM, "state", T_STR, true, NULL },
	{ W_SNAP_CREATE, "snapshot_path", T_STR, true, NULL },
	{ W_SNAP_CREATE, "mem_file_path", T_STR, true, NULL },
	{ W_SNAP_CREATE, "snapshot_type", T_STR, false, NULL },
	{ W_SNAP_LOAD, "snapshot_path", T_STR, true, NULL },
	/* One of the two is required: null for the only one is missing. */
	{ W_SNAP_LOAD, "mem_backend", T_OBJ, true, NULL },
	{ W_SNAP_LOAD, "mem_file_path", T_STR, true, snap_load_file },
	{ W_SNAP_LOAD, "resume_vm", T_BOOL, false, NULL },
	{ W_SNAP_LOAD, "track_dirty_pages", T_BOOL, false, NULL },
	{ W_SNAP_LOAD, "enable_diff_snapshots", T_BOOL, false, NULL },
	{ W_SNAP_LOAD, "clock_realtime", T_BOOL, false, NULL },
	{ W_SNAP_LOAD, "network_overrides", T_ARR, false, NULL },
	{ W_SNAP_LOAD, "mem_backend.backend_type", T_STR, true, NULL },
	{ W_SNAP_LOAD, "mem_backend.backend_path", T_STR, true, NULL },
	{ W_SNAP_LOAD, "network_overrides[0].iface_id", T_STR, true, NULL },
	{ W_SNAP_LOAD, "network_overrides[0].host_dev_name", T_STR, true,
	  NULL },
	{ W_METRICS, "metrics_path", T_STR, true, NULL },
	{ W_CONFIG, "boot-source", T_OBJ, true, NULL },
	{ W_CONFIG, "machine-config", T_OBJ, false, NULL },
	{ W_CONFIG, "drives", T_ARR, false, NULL },
	{ W_CONFIG, "network-interfaces", T_ARR, false, NULL },
	{ W_CONFIG, "entropy", T_OBJ, false, NULL },
	{ W_CONFIG, "metrics", T_OBJ, false, NULL },
	{ W_CONFIG, "boot-source.kernel_image_path", T_STR, true, NULL },
	{ W_CONFIG, "boot-source.boot_args", T_STR, false, NULL },
	{ W_CONFIG, "machine-config.vcpu_count", T_INT, true, NULL },
	{ W_CONFIG, "machine-config.smt", T_BOOL, false, NULL },
	{ W_CONFIG, "drives[0].is_root_device", T_BOOL, true, NULL },
	{ W_CONFIG, "drives[0].path_on_host", T_STR, true, NULL },
	{ W_CONFIG, "network-interfaces[0].host_dev_name", T_STR, true, NULL },
	{ W_CONFIG, "network-interfaces[0].guest_mac", T_STR, false, NULL },
	{ W_CONFIG, "metrics.metrics_path", T_STR, true, NULL },
	{ W_MIGRATE, "destination_url", T_STR, true, NULL },
	{ W_MIGRATE, "max_downtime_ms", T_INT, false, NULL },
	{ W_MIGRATE, "auto_converge", T_BOOL, false, NULL },
	{ W_MIGRATE, "max_rounds", T_INT, false, NULL },
	{ W_MIGRATE, "timeout_ms", T_INT, false, NULL },
	{ W_MIGRATE, "max_bandwidth_mib_per_s", T_INT, false, NULL },
	{ W_MIGRATE_IN, "listen_url", T_STR, true, NULL },
	{ W_MIGRATE_IN, "network_overrides", T_ARR, false, NULL },
};

/* Per type, values of every other JSON type (doubles and integer-looking
 * strings included). */
static const char *const wrong[][9] = {
	[T_STR] = { "1", "0", "true", "1.5", "{}", "[]", "[\"x\"]", NULL },
	[T_BOOL] = { "\"true\"", "1", "0", "1.0", "{}", "[]", "\"\"", NULL },
	[T_INT] = { "\"2\"", "true", "false", "2.0", "2.5", "1e3", "{}", "[]",
		    NULL },
	[T_OBJ] = { "\"x\"", "1", "true", "[]", "[{}]", "1.5", NULL },
	[T_ARR] = { "\"x\"", "1", "true", "{}", "1.5", NULL },
};

static const char *leaf(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot ? dot + 1 : path;
}

static void test_wrong_types(void **state)
{
	char needle[80];

	(void)state;
	for (size_t k = 0; k < N(typed); k++) {
		const struct typed_field *f = &typed[k];
		const char *b = f->base ? f->base : base[f->w];

		must_accept(f->w, b);
		snprintf(needle, sizeof(needle), "'%s'", leaf(f->path));
		for (size_t j = 0; wrong[f->type][j]; j++) {
			char *body = with_field(b, f->path, wrong[f->type][j]);

			must_refuse(f->w, body, needle);
			free(body);
		}
	}
}

/* Null is absence: fine for an optional field, a missing required one. */
static void test_nulls(void **state)
{
	char needle[80];

	(void)state;
	for (size_t k = 0; k < N(typed); k++) {
		const struct typed_field *f = &typed[k];
		char *body = with_field(f->base ? f->base : base[f->w],
					f->path, "null");

		snprintf(needle, sizeof(needle), "'%s'", leaf(f->path));
		if (f->required)
			must_refuse(f->w, body, needle);
		else
			must_accept(f->w, body);
		free(body);
	}
}

/* Firecracker fields ringvm refuses by name unless null. */
static const struct {
	enum which w;
	const char *field, *object;
} unsupported[] = {
	{ W_DRIVE, "rate_limiter", "Drive" },
	{ W_DRIVE, "socket", "Drive" },
	{ W_IFACE, "mtu", "NetworkInterface" },
	{ W_IFACE, "rx_rate_limiter", "NetworkInterface" },
	{ W_IFACE, "tx_rate_limiter", "NetworkInterface" },
	{ W_ENTROPY, "rate_limiter", "EntropyDevice" },
	{ W_SNAP_LOAD, "vsock_override", "SnapshotLoadParams" },
	{ W_CONFIG, "balloon", "the config file" },
	{ W_CONFIG, "logger", "the config file" },
	{ W_CONFIG, "mmds-config", "the config file" },
	{ W_CONFIG, "vsock", "the config file" },
	{ W_CONFIG, "cpu-config", "the config file" },
	{ W_CONFIG, "serial", "the config file" },
	{ W_CONFIG, "pmem", "the config file" },
	{ W_CONFIG, "memory-hotplug", "the config file" },
};

static void test_unsupported_fields(void **state)
{
	static const char *const values[] = {
		"{}", "{\"x\":1}", "1", "0", "\"x\"", "\"\"", "true", "false",
		"[1]", "[{}]",
	};
	char needle[160];

	(void)state;
	for (size_t k = 0; k < N(unsupported); k++) {
		const char *b = base[unsupported[k].w];
		char *body;

		snprintf(needle, sizeof(needle), "field '%s' of %s is not "
			 "supported by ringvm", unsupported[k].field,
			 unsupported[k].object);
		for (size_t j = 0; j < N(values); j++) {
			body = with_field(b, unsupported[k].field, values[j]);
			must_refuse(unsupported[k].w, body, needle);
			free(body);
		}
		body = with_field(b, unsupported[k].field, "null");
		must_accept(unsupported[k].w, body);
		free(body);
	}
	/* "pmem": [] asks for nothing (Firecracker's own GET says so). */
	must_accept(W_CONFIG, "{\"boot-source\":{\"kernel_image_path\":\"k\"},"
	       "\"pmem\":[]}");
}

static void test_unknown_fields(void **state)
{
	static const char *const objects[] = {
		[W_BOOT] = "BootSource", [W_MACHINE] = "MachineConfiguration",
		[W_DRIVE] = "Drive", [W_IFACE] = "NetworkInterface",
		[W_ENTROPY] = "EntropyDevice",
		[W_ACTION] = "InstanceActionInfo", [W_VM] = "Vm",
		[W_SNAP_CREATE] = "SnapshotCreateParams",
		[W_SNAP_LOAD] = "SnapshotLoadParams", [W_METRICS] = "Metrics",
		[W_CONFIG] = "the config file",
		[W_MIGRATE] = "MigrationParams",
		[W_MIGRATE_IN] = "MigrationIncomingParams",
	};
	char needle[120];

	(void)state;
	for (size_t w = 0; w < N(objects); w++) {
		static const char *const keys[] = { "bogus", "Drive_id", "" };

		for (size_t k = 0; k < N(keys); k++) {
			char *body = with_field(base[w], keys[k], "1");

			snprintf(needle, sizeof(needle),
				 "unknown field '%s' in %s", keys[k],
				 objects[w]);
			must_refuse((enum which)w, body, needle);
			free(body);
			/* Even null: it cannot be absence of a field that
			 * does not exist. */
			body = with_field(base[w], keys[k], "null");
			must_refuse((enum which)w, body, needle);
			free(body);
		}
	}
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r\","
	       "\"is_root_device\":true,\"foo\":1}",
	       "unknown field 'foo' in Drive");
	must_refuse(W_CONFIG, "{\"boot-source\":{\"kernel_image_path\":\"k\","
	       "\"x\":1}}", "unknown field 'x' in BootSource");
}

/* PUT /migrate/incoming: the address and the TAP renames, held as
 * given; the same rules on network_overrides as a snapshot load's. */
static void test_migrate_incoming_values(void **state)
{
	struct fc_migrate_incoming m;
	char msg[FC_MSG_MAX];
	const char *s = base[W_MIGRATE_IN];

	(void)state;
	expect_ok(fc_parse_migrate_incoming(s, strlen(s), &m, msg), msg, s);
	assert_string_equal(m.listen_url, "tcp::4444");
	assert_int_equal(m.n_net_overrides, 1);
	assert_string_equal(m.net_override[0].iface_id, "net0");
	assert_string_equal(m.net_override[0].host_dev_name, "tap7");
	fc_migrate_incoming_free(&m);
	assert_null(m.listen_url);
	s = "{\"listen_url\":\"unix:/run/m.sock\"}";
	expect_ok(fc_parse_migrate_incoming(s, strlen(s), &m, msg), msg, s);
	assert_int_equal(m.n_net_overrides, 0);
	fc_migrate_incoming_free(&m);
	must_refuse(W_MIGRATE_IN, "{}",
		    "missing required field 'listen_url' in MigrationIncomingParams");
	must_refuse(W_MIGRATE_IN, "{\"listen_url\":\"unix:m\",\"network_overrides\":"
		    "[{\"iface_id\":\"a\",\"host_dev_name\":\"t1\"},"
		    "{\"iface_id\":\"a\",\"host_dev_name\":\"t2\"}]}",
		    "iface_id 'a' appears twice");
	must_refuse(W_MIGRATE_IN, "{\"listen_url\":\"unix:m\",\"network_overrides\":"
		    "[{\"iface_id\":\"a\",\"host_dev_name\":\"bad name\"}]}",
		    "network_overrides[0]");
	must_refuse(W_MIGRATE_IN, "{\"listen_url\":\"unix:m\",\"network_overrides\":"
		    "[{},{},{},{},{}]}", "network_overrides has 5 entries");
}

/* PUT /migrate: what each field holds, its range, the defaults (0 and
 * false: the VMM's own). */
static void test_migrate_values(void **state)
{
	static const struct {
		const char *field;
		const char *lo, *hi, *below, *above;
	} ranges[] = {
		{ "max_downtime_ms", "1", "3600000", "0", "3600001" },
		{ "max_rounds", "1", "10000", "0", "10001" },
		{ "timeout_ms", "100", "3600000", "99", "3600001" },
		{ "max_bandwidth_mib_per_s", "1", "1000000", "0", "1000001" },
	};
	/* Each would wrap to a valid uint32_t. */
	static const char *const wraps[] = {
		"4294967596", "4294967297", "-4294966996", "18446744073709551916",
	};
	char msg[FC_MSG_MAX], needle[120], body[200];
	struct fc_migrate m;
	const char *s;

	(void)state;
	s = base[W_MIGRATE];
	expect_ok(fc_parse_migrate(s, strlen(s), &m, msg), msg, s);
	assert_string_equal(m.destination_url, "tcp:10.0.0.2:4444");
	assert_int_equal(m.max_downtime_ms, 300);
	assert_true(m.auto_converge);
	assert_int_equal(m.max_rounds, 30);
	assert_int_equal(m.timeout_ms, 10000);
	assert_int_equal(m.max_bandwidth_mib_per_s, 64);
	fc_migrate_free(&m);
	assert_null(m.destination_url);

	s = "{\"destination_url\": \"unix:/run/mig.sock\"}";
	expect_ok(fc_parse_migrate(s, strlen(s), &m, msg), msg, s);
	assert_string_equal(m.destination_url, "unix:/run/mig.sock");
	assert_int_equal(m.max_downtime_ms, 0);
	assert_false(m.auto_converge);
	assert_int_equal(m.max_rounds, 0);
	assert_int_equal(m.timeout_ms, 0);
	assert_int_equal(m.max_bandwidth_mib_per_s, 0);
	fc_migrate_free(&m);
	s = "{\"destination_url\":\"unix:m\",\"max_downtime_ms\":null,"
	    "\"auto_converge\":false,\"max_rounds\":null,\"timeout_ms\":null}";
	expect_ok(fc_parse_migrate(s, strlen(s), &m, msg), msg, s);
	assert_int_equal(m.max_downtime_ms, 0);
	assert_false(m.auto_converge);
	fc_migrate_free(&m);

	for (size_t k = 0; k < N(ranges); k++) {
		const char *ok[] = { ranges[k].lo, ranges[k].hi };
		const char *bad[] = { ranges[k].below, ranges[k].above, "-1" };

		snprintf(needle, sizeof(needle),
			 "field '%s' of MigrationParams must be between %s and %s",
			 ranges[k].field, ranges[k].lo, ranges[k].hi);
		for (size_t j = 0; j < N(ok); j++) {
			snprintf(body, sizeof(body),
				 "{\"destination_url\":\"unix:m\",\"%s\":%s}",
				 ranges[k].field, ok[j]);
			must_accept(W_MIGRATE, body);
		}
		for (size_t j = 0; j < N(bad); j++) {
			snprintf(body, sizeof(body),
				 "{\"destination_url\":\"unix:m\",\"%s\":%s}",
				 ranges[k].field, bad[j]);
			must_refuse(W_MIGRATE, body, needle);
		}
		for (size_t j = 0; j < N(wraps); j++) {
			snprintf(body, sizeof(body),
				 "{\"destination_url\":\"unix:m\",\"%s\":%s}",
				 ranges[k].field, wraps[j]);
			must_refuse(W_MIGRATE, body, needle);
		}
	}
	/* The upper bound as parsed, not just accepted. */
	s = "{\"destination_url\":\"unix:m\",\"max_downtime_ms\":3600000,"
	    "\"max_rounds\":10000,\"timeout_ms\":100}";
	expect_ok(fc_parse_migrate(s, strlen(s), &m, msg), msg, s);
	assert_int_equal(m.max_downtime_ms, 3600000);
	assert_int_equal(m.max_rounds, 10000);
	assert_int_equal(m.timeout_ms, 100);
	fc_migrate_free(&m);

	must_refuse(W_MIGRATE, "{}",
		    "missing required field 'destination_url' in MigrationParams");
	must_refuse(W_MIGRATE, "{\"max_downtime_ms\":300}",
		    "missing required field 'destination_url'");
	must_refuse(W_MIGRATE, "{\"destination_url\":null}",
		    "missing required field 'destination_url'");
	must_refuse(W_MIGRATE, "{\"destination_url\":\"unix:m\",\"downtime\":3}",
		    "unknown field 'downtime' in MigrationParams");
	must_refuse(W_MIGRATE, "{\"destination_url\":\"unix:m\","
		    "\"auto_converge\":\"yes\"}",
		    "field 'auto_converge' of MigrationParams must be a boolean");
	must_refuse(W_MIGRATE, "{\"destination_url\":\"unix:m\","
		    "\"max_downtime_ms\":300.0}",
		    "field 'max_downtime_ms' of MigrationParams must be an integer");
	must_refuse(W_MIGRATE, "{\"destination_url\":\"unix:m\\u0000x\"}",
		    "field 'destination_url' of MigrationParams contains a NUL");
	{
		static const char pre[] = "{\"destination_url\":\"unix:";
		const size_t at = sizeof(pre) - 1;
		char *big = malloc(at + 4200);

		/* "unix:" and 4092 more: one byte over 4096. */
		memcpy(big, pre, at);
		memset(big + at, 'a', 4092);
		strcpy(big + at + 4092, "\"}");
		must_refuse(W_MIGRATE, big,
			    "field 'destination_url' of MigrationParams is longer than 4096 bytes");
		strcpy(big + at + 4091, "\"}");
		must_accept(W_MIGRATE, big);
		free(big);
	}
}

/* ---- framing: one object, nothing else ---- */

static void test_framing(void **state)
{
	static const char *const not_object[] = {
		"[]", "[{}]", "\"x\"", "1", "true", "null", "x", "\xef\xbb\xbf{}",
	};
	static const char *const garbage[] = {
		"{}x", "{} {}", "{}}", "{}]", "{},", "{}\"\"", "{} //",
		"{\"action_type\":\"InstanceStart\"} x",
		"{\"action_type\":\"InstanceStart\"}{}",
	};
	static const char *const invalid[] = {
		"{", "{\"a\"", "{\"a\":", "{\"action_type\":\"Inst",
		"{\"a\":1,}", "{'action_type':'InstanceStart'}",
		"{'action_type':\"InstanceStart\"}",
		"{\"action_type\":'InstanceStart'}", "{\"a\" 1}", "{a:1}",
		"{\"action_type\":\"Instance\tStart\"}",
		"{\"action_type\":\"\xff\"}", "{\"a\":01}", "{\"a\":True}",
		"{/*c*/}", "{\"a\":\"\\x41\"}",
		/* UTF-8 json-c lets through: overlong '/', a surrogate,
		 * beyond U+10FFFF, and a cut sequence before the quote. */
		"{\"action_type\":\"..\xc0\xaf\"}",
		"{\"action_type\":\"\xed\xa0\x80\"}",
		"{\"action_type\":\"\xf4\x90\x80\x80\"}",
		"{\"action_type\":\"\xe0\x80\x80\"}",
		"{\"action_type\":\"\xe2\x82\"}",
	};
	char msg[FC_MSG_MAX];

	(void)state;
	for (enum which w = W_BOOT; w <= W_MIGRATE; w++) {
		expect_refused(run(w, "", 0, msg), msg,
			       "empty body, expected a JSON object", "\"\"");
		expect_refused(run(w, " \r\n\t", 4, msg), msg, "empty body",
			       "whitespace");
		expect_refused(run(w, NULL, 0, msg), msg, "empty body", "NULL");
	}
	for (size_t k = 0; k < N(not_object); k++)
		must_refuse(W_ACTION, not_object[k], "not a JSON object");
	for (size_t k = 0; k < N(garbage); k++)
		must_refuse(W_ACTION, garbage[k], "after the JSON object");
	for (size_t k = 0; k < N(invalid); k++)
		must_refuse(W_ACTION, invalid[k], "JSON");
	must_accept(W_ACTION, " \n{\"action_type\" : \"InstanceStart\"}\r\n\t ");
	/* Valid UTF-8 of every length is fine (here in a path). */
	must_accept(W_METRICS, "{\"metrics_path\":\"/t/\xc3\xa9\xe2\x82\xac"
		    "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\"}");
	/* The length is what counts: a NUL ends nothing early, and bytes
	 * beyond len are not read. */
	expect_refused(run(W_ACTION, "{\"action_type\":\"InstanceStart\"}\0x",
			   33, msg), msg, "after the JSON object", "NUL+x");
	expect_refused(run(W_ACTION, "{\"action_type\":\"Instance\0Start\"}",
			   32, msg), msg, "JSON", "raw NUL");
	expect_ok(run(W_ACTION, "{\"action_type\":\"InstanceStart\"}garbage",
		      31, msg), msg, "prefix");
	expect_refused(run(W_ACTION, "{\"action_type\":\"InstanceStart\"}",
			   20, msg), msg, "ends inside", "truncated");
}

static char *nested(unsigned int levels, bool objects)
{
	char *s = malloc(16 * levels + 200), *p = s;

	assert_non_null(s);
	p += sprintf(p, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r\","
		     "\"is_root_device\":true,\"rate_limiter\":");
	for (unsigned int k = 1; k < levels; k++)
		p += sprintf(p, objects ? "{\"a\":" : "[");
	p += sprintf(p, "1");
	for (unsigned int k = 1; k < levels; k++)
		*p++ = objects ? '}' : ']';
	sprintf(p, "}");
	return s;
}

/* 16 levels (the body's own object included) still reach the field
 * check; 17 and beyond are refused as nesting. */
static void test_nesting(void **state)
{
	static const unsigned int deep[] = { 17, 18, 33, 34, 35, 1000 };

	(void)state;
	for (int objects = 0; objects < 2; objects++) {
		char *s = nested(16, objects);

		must_refuse(W_DRIVE, s, "field 'rate_limiter' of Drive");
		free(s);
		for (size_t k = 0; k < N(deep); k++) {
			s = nested(deep[k], objects);
			must_refuse(W_DRIVE, s, "JSON nesting deeper than 16");
			free(s);
		}
	}
	must_refuse(W_DRIVE, "{\"rate_limiter\":\"[[[[[[[[[[[[[[[[[[[[\"}",
	       "'rate_limiter'");
}

/* A NUL inside a string (\u0000) would cut it short in C. */
static void test_embedded_nul(void **state)
{
	(void)state;
	must_refuse(W_BOOT, "{\"kernel_image_path\":\"/k\\u0000/x\"}",
	       "field 'kernel_image_path' of BootSource contains a NUL");
	must_refuse(W_BOOT, "{\"kernel_image_path\":\"\\u0000\"}",
	       "'kernel_image_path'");
	must_refuse(W_BOOT, "{\"kernel_image_path\":\"k\",\"boot_args\":\"a\\u0000\"}",
	       "'boot_args'");
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\",\"path_on_host\":\"r\","
	       "\"is_root_device\":true,\"io_engine\":\"Sync\\u0000x\"}",
	       "'io_engine'");
	must_refuse(W_DRIVE, "{\"drive_id\":\"rootfs\\u0000\",\"path_on_host\":\"r\","
	       "\"is_root_device\":true}", "'drive_id'");
	must_refuse(W_IFACE, "{\"iface_id\":\"net1\",\"host_dev_name\":"
	       "\"tap0\\u0000\"}", "'host_dev_name'");
	must_refuse(W_ACTION, "{\"action_type\":\"InstanceStart\\u0000\"}",
	       "'action_type'");
	/* json-c keeps keys as C strings: "a\u0000b" must not become "a". */
	must_refuse(W_ACTION, "{\"action_type\\u0000x\":\"InstanceStart\"}",
	       "NUL");
	must_refuse(W_ACTION, "{\"x\":1, \"action_type\\u0000\" :\"InstanceStart\"}",
	       "NUL");
	/* The escape in a value, or an escaped backslash, is no key. */
	must_accept(W_BOOT, "{\"kernel_image_path\":\"\\\\u0000\"}");
}

/* json-c keeps the last of duplicate keys; accepted, as documented. */
static void test_duplicate_keys(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_machine_config m;
	const char *s = "{\"vcpu_count\":1,\"mem_size_mib\":128,"
			"\"vcpu_count\":4}";

	(void)state;
	expect_ok(fc_parse_machine_config(s, strlen(s), &m, msg), msg, s);
	assert_int_equal(m.vcpu_count, 4);
	must_refuse(W_MACHINE, "{\"vcpu_count\":1,\"mem_size_mib\":128,"
	       "\"vcpu_count\":400}", "'vcpu_count'");
}

/* ---- the configuration ---- */

static struct fc_drive mk_drive(const char *id, const char *path, bool root)
{
	struct fc_drive d = {
		.drive_id = strdup(id), .path_on_host = strdup(path),
		.is_root_device = root,
	};

	assert_non_null(d.drive_id);
	assert_non_null(d.path_on_host);
	return d;
}

static struct fc_net_iface mk_iface(const char *id, const char *dev,
				    uint8_t mac_last)
{
	struct fc_net_iface n = {
		.iface_id = strdup(id), .host_dev_name = strdup(dev),
		.guest_mac = { 0x06, 0, 0, 0, 0, mac_last },
		.has_mac = mac_last != 0,
	};

	assert_non_null(n.iface_id);
	assert_non_null(n.host_dev_name);
	return n;
}

static void put_drive_ok(struct fc_vm_config *c, struct fc_drive d)
{
	char msg[FC_MSG_MAX];

	expect_ok(fc_vm_config_put_drive(c, &d, msg), msg, "put_drive");
	assert_null(d.drive_id);                /* moved */
}

static void put_drive_refused(struct fc_vm_config *c, struct fc_drive d,
			      const char *needle)
{
	char msg[FC_MSG_MAX];

	expect_refused(fc_vm_config_put_drive(c, &d, msg), msg, needle,
		       "put_drive");
	assert_null(d.drive_id);                /* consumed all the same */
	assert_null(d.path_on_host);
}

static void test_defaults(void **state)
{
	struct fc_vm_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	fc_vm_config_init(&c);
	assert_false(c.has_boot_source);
	assert_int_equal(c.machine.vcpu_count, 1);
	assert_int_equal(c.machine.mem_size_mib, 128);
	assert_false(c.machine.smt);
	assert_false(c.machine.track_dirty_pages);
	assert_int_equal(c.ndrives, 0);
	assert_int_equal(c.nifaces, 0);
	assert_false(c.entropy);
	assert_false(c.has_metrics);
	fc_vm_config_free(&c);
	fc_vm_config_free(&c);
	assert_int_equal(c.machine.mem_size_mib, 128);
}

static void test_put_drive(void **state)
{
	struct fc_vm_config c;
	char id[16], path[16];

	(void)state;
	fc_vm_config_init(&c);
	put_drive_ok(&c, mk_drive("rootfs", "root.img", true));
	put_drive_ok(&c, mk_drive("data", "data.img", false));
	/* The same id replaces in place, keeping the order. */
	put_drive_ok(&c, mk_drive("rootfs", "root2.img", true));
	assert_int_equal(c.ndrives, 2);
	assert_string_equal(c.drive[0].drive_id, "rootfs");
	assert_string_equal(c.drive[0].path_on_host, "root2.img");
	assert_string_equal(c.drive[1].drive_id, "data");
	/* A second root device, and the same file twice. */
	put_drive_refused(&c, mk_drive("other", "o.img", true),
			  "drive 'other' cannot be a second root device: "
			  "drive 'rootfs' is one");
	put_drive_refused(&c, mk_drive("other", "data.img", false),
			  "drive 'other' has the same path_on_host as drive "
			  "'data'");
	/* Replacing an entry does not collide with itself; moving the root
	 * role off and onto another drive is fine. */
	put_drive_ok(&c, mk_drive("data", "data.img", false));
	put_drive_ok(&c, mk_drive("rootfs", "root2.img", false));
	put_drive_ok(&c, mk_drive("data", "data.img", true));
	put_drive_refused(&c, mk_drive("rootfs", "root2.img", true),
			  "drive 'rootfs' cannot be a second root device");
	assert_false(c.drive[0].is_root_device);
	assert_int_equal(c.ndrives, 2);
	for (int k = 2; k < FC_MAX_DRIVES; k++) {
		snprintf(id, sizeof(id), "d%d", k);
		snprintf(path, sizeof(path), "%d.img", k);
		put_drive_ok(&c, mk_drive(id, path, false));
	}
	assert_int_equal(c.ndrives, 8);
	put_drive_refused(&c, mk_drive("ninth", "9.img", false),
			  "cannot add drive 'ninth'");
	put_drive_ok(&c, mk_drive("d7", "7b.img", false));  /* replace: ok */
	assert_string_equal(c.drive[7].path_on_host, "7b.img");
	put_drive_refused(&c, (struct fc_drive){ 0 }, "drive_id");
	fc_vm_config_free(&c);
	assert_int_equal(c.ndrives, 0);
}

static void test_put_iface(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_vm_config c;
	struct fc_net_iface n;

	(void)state;
	fc_vm_config_init(&c);
	n = mk_iface("net0", "tap0", 1 << 1);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "net0");
	assert_null(n.iface_id);
	n = mk_iface("net1", "tap1", 0);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "net1");
	n = mk_iface("net2", "tap0", 4);
	expect_refused(fc_vm_config_put_iface(&c, &n, msg), msg,
		       "interface 'net2' has the same host_dev_name 'tap0' as "
		       "interface 'net0'", "dup dev");
	assert_null(n.iface_id);
	n = mk_iface("net2", "tap2", 2);
	expect_refused(fc_vm_config_put_iface(&c, &n, msg), msg,
		       "interface 'net2' has the same guest_mac as interface "
		       "'net0'", "dup mac");
	/* Replace in place: its own name and MAC are no collision. */
	n = mk_iface("net0", "tap0", 2);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "replace");
	n = mk_iface("net0", "tapX", 8);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "replace");
	assert_int_equal(c.nifaces, 2);
	assert_string_equal(c.iface[0].iface_id, "net0");
	assert_string_equal(c.iface[0].host_dev_name, "tapX");
	assert_int_equal(c.iface[0].guest_mac[5], 8);
	assert_false(c.iface[1].has_mac);
	n = mk_iface("net2", "tap2", 0);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "net2");
	n = mk_iface("net3", "tap3", 0);         /* two without MAC: fine */
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "net3");
	n = mk_iface("net4", "tap4", 0);
	expect_refused(fc_vm_config_put_iface(&c, &n, msg), msg,
		       "cannot add interface 'net4'", "fifth");
	assert_int_equal(c.nifaces, 4);
	n = (struct fc_net_iface){ 0 };
	expect_refused(fc_vm_config_put_iface(&c, &n, msg), msg, "iface_id",
		       "empty");
	fc_vm_config_free(&c);
}

static void test_set_boot_source(void **state)
{
	struct fc_vm_config c;
	struct fc_boot_source b = { .kernel_image_path = strdup("a") };

	(void)state;
	fc_vm_config_init(&c);
	fc_vm_config_set_boot_source(&c, &b);
	assert_null(b.kernel_image_path);
	assert_true(c.has_boot_source);
	b = (struct fc_boot_source){ .kernel_image_path = strdup("b"),
				     .boot_args = strdup("quiet") };
	fc_vm_config_set_boot_source(&c, &b);
	assert_string_equal(c.boot.kernel_image_path, "b");
	assert_string_equal(c.boot.boot_args, "quiet");
	fc_vm_config_free(&c);
	assert_false(c.has_boot_source);
}

/* ---- the config file ---- */

static const char full_config[] =
	"{\n"
	"  \"boot-source\": {\n"
	"    \"kernel_image_path\": \"vmlinux.bin\",\n"
	"    \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\",\n"
	"    \"initrd_path\": null\n"
	"  },\n"
	"  \"drives\": [\n"
	"    {\n"
	"      \"drive_id\": \"rootfs\",\n"
	"      \"partuuid\": null,\n"
	"      \"is_root_device\": true,\n"
	"      \"cache_type\": \"Writeback\",\n"
	"      \"is_read_only\": false,\n"
	"      \"path_on_host\": \"bionic.rootfs.ext4\",\n"
	"      \"io_engine\": \"Sync\",\n"
	"      \"rate_limiter\": null,\n"
	"      \"socket\": null\n"
	"    },\n"
	"    {\n"
	"      \"drive_id\": \"scratch\",\n"
	"      \"is_root_device\": false,\n"
	"      \"is_read_only\": true,\n"
	"      \"path_on_host\": \"/srv/scratch.img\"\n"
	"    }\n"
	"  ],\n"
	"  \"machine-config\": {\n"
	"    \"vcpu_count\": 2,\n"
	"    \"mem_size_mib\": 1024,\n"
	"    \"smt\": false,\n"
	"    \"track_dirty_pages\": false,\n"
	"    \"huge_pages\": \"None\"\n"
	"  },\n"
	"  \"cpu-config\": null,\n"
	"  \"balloon\": null,\n"
	"  \"network-interfaces\": [\n"
	"    {\n"
	"      \"iface_id\": \"eth0\",\n"
	"      \"guest_mac\": \"AA:FC:00:00:00:01\",\n"
	"      \"host_dev_name\": \"tap0\"\n"
	"    }\n"
	"  ],\n"
	"  \"vsock\": null,\n"
	"  \"logger\": null,\n"
	"  \"metrics\": null,\n"
	"  \"mmds-config\": null,\n"
	"  \"entropy\": null\n"
	"}\n";

#define CFG(rest) "{\"boot-source\":{\"kernel_image_path\":\"k\"}" rest "}"

static void test_config_file(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_vm_config c;
	const char *s;

	(void)state;
	fc_vm_config_init(&c);
	expect_ok(fc_parse_config_file(full_config, strlen(full_config), &c,
				       msg), msg, "full_config");
	assert_true(c.has_boot_source);
	assert_string_equal(c.boot.kernel_image_path, "vmlinux.bin");
	assert_string_equal(c.boot.boot_args,
			    "console=ttyS0 reboot=k panic=1 pci=off");
	assert_null(c.boot.initrd_path);
	assert_int_equal(c.machine.vcpu_count, 2);
	assert_int_equal(c.machine.mem_size_mib, 1024);
	assert_false(c.machine.smt);
	assert_false(c.machine.track_dirty_pages);
	assert_int_equal(c.ndrives, 2);
	assert_string_equal(c.drive[0].drive_id, "rootfs");
	assert_string_equal(c.drive[0].path_on_host, "bionic.rootfs.ext4");
	assert_true(c.drive[0].is_root_device);
	assert_false(c.drive[0].is_read_only);
	assert_true(c.drive[0].io_sync);
	assert_null(c.drive[0].partuuid);
	assert_string_equal(c.drive[1].drive_id, "scratch");
	assert_string_equal(c.drive[1].path_on_host, "/srv/scratch.img");
	assert_false(c.drive[1].is_root_device);
	assert_true(c.drive[1].is_read_only);
	assert_false(c.drive[1].io_sync);
	assert_int_equal(c.nifaces, 1);
	assert_string_equal(c.iface[0].iface_id, "eth0");
	assert_string_equal(c.iface[0].host_dev_name, "tap0");
	assert_true(c.iface[0].has_mac);
	assert_memory_equal(c.iface[0].guest_mac,
			    ((const uint8_t[]){ 0xaa, 0xfc, 0, 0, 0, 1 }), 6);
	assert_false(c.entropy);
	assert_false(c.has_metrics);
	fc_vm_config_free(&c);

	/* Only a boot source: the machine keeps Firecracker's defaults. */
	fc_vm_config_init(&c);
	s = CFG(",\"entropy\":{},\"metrics\":{\"metrics_path\":\"/m\"}");
	expect_ok(fc_parse_config_file(s, strlen(s), &c, msg), msg, s);
	assert_int_equal(c.machine.vcpu_count, 1);
	assert_int_equal(c.machine.mem_size_mib, 128);
	assert_true(c.entropy);
	assert_true(c.has_metrics);
	assert_string_equal(c.metrics.metrics_path, "/m");
	fc_vm_config_free(&c);
}

static void test_config_file_refusals(void **state)
{
	char msg[FC_MSG_MAX];
	struct fc_vm_config c;
	char *s;

	(void)state;
	must_refuse(W_CONFIG, CFG(",\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\"}"),
	       "field 'vsock' of the config file is not supported by ringvm");
	must_refuse(W_CONFIG, CFG(",\"balloon\":{\"amount_mib\":0,"
			     "\"deflate_on_oom\":false}"),
	       "field 'balloon' of the config file is not supported by ringvm");
	must_refuse(W_CONFIG, CFG(",\"pmem\":[{\"id\":\"p\",\"path_on_host\":\"x\"}]"),
	       "'pmem'");
	must_refuse(W_CONFIG, CFG(",\"frobnicate\":1"),
	       "unknown field 'frobnicate' in the config file");
	must_refuse(W_CONFIG, CFG(",\"boot_source\":{}"), "unknown field 'boot_source'");
	must_refuse(W_CONFIG, "{}", "missing required field 'boot-source'");
	must_refuse(W_CONFIG, "{\"boot-source\":{}}",
	       "boot-source: missing required field 'kernel_image_path'");
	must_refuse(W_CONFIG, CFG(",\"machine-config\":{\"vcpu_count\":1}"),
	       "machine-config: missing required field 'mem_size_mib'");
	must_refuse(W_CONFIG, CFG(",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
			     "\"a\",\"is_root_device\":true},\"x\"]"),
	       "drives[1] must be an object");
	must_refuse(W_CONFIG, CFG(",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
			     "\"a\",\"is_root_device\":true,\"cache_type\":"
			     "\"Unsafe\"}]"), "drives[0]: cache_type 'Unsafe'");
	must_refuse(W_CONFIG, CFG(",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
			     "\"a\",\"is_root_device\":false},{\"drive_id\":"
			     "\"a\",\"path_on_host\":\"b\",\"is_root_device\":"
			     "false}]"), "drives[1]: drive_id 'a' appears twice");
	must_refuse(W_CONFIG, CFG(",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
			     "\"a\",\"is_root_device\":true},{\"drive_id\":"
			     "\"b\",\"path_on_host\":\"b\",\"is_root_device\":"
			     "true}]"),
	       "drives[1]: drive 'b' cannot be a second root device");
	must_refuse(W_CONFIG, CFG(",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
			     "\"a\",\"is_root_device\":false},{\"drive_id\":"
			     "\"b\",\"path_on_host\":\"a\",\"is_root_device\":"
			     "false}]"), "same path_on_host");
	must_refuse(W_CONFIG, CFG(",\"network-interfaces\":[{\"iface_id\":\"a\","
			     "\"host_dev_name\":\"t0\",\"guest_mac\":"
			     "\"02:00:00:00:00:01\"},{\"iface_id\":\"b\","
			     "\"host_dev_name\":\"t1\",\"guest_mac\":"
			     "\"02:00:00:00:00:01\"}]"),
	       "network-interfaces[1]: interface 'b' has the same guest_mac");
	must_refuse(W_CONFIG, CFG(",\"network-interfaces\":[{\"iface_id\":\"a\","
			     "\"host_dev_name\":\"t0\"},{\"iface_id\":\"a\","
			     "\"host_dev_name\":\"t1\"}]"),
	       "iface_id 'a' appears twice");
	must_refuse(W_CONFIG, CFG(",\"network-interfaces\":[{\"iface_id\":\"a\","
			     "\"host_dev_name\":\"t0\",\"mtu\":9000}]"),
	       "network-interfaces[0]: field 'mtu'");
	must_refuse(W_CONFIG, CFG(",\"network-interfaces\":[[]]"),
	       "network-interfaces[0] must be an object");
	must_refuse(W_CONFIG, CFG(",\"entropy\":{\"rate_limiter\":{}}"),
	       "entropy: field 'rate_limiter'");
	must_refuse(W_CONFIG, CFG(",\"metrics\":{}"), "metrics: missing required "
	       "field 'metrics_path'");
	must_refuse(W_CONFIG, CFG(",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
			     "\"a\",\"is_root_device\":false,\"bogus\":1}]"),
	       "drives[0]: unknown field 'bogus' in Drive");
	must_refuse(W_CONFIG, CFG(",\"machine-config\":{\"vcpu_count\":2,"
			     "\"mem_size_mib\":128,\"smt\":true}"), "smt: true");

	/* Nine drives in a file: the ninth is refused. */
	s = malloc(2048);
	assert_non_null(s);
	strcpy(s, "{\"boot-source\":{\"kernel_image_path\":\"k\"},\"drives\":[");
	for (int k = 0; k < 9; k++)
		sprintf(s + strlen(s), "%s{\"drive_id\":\"d%d\",\"path_on_host\":"
			"\"%d\",\"is_root_device\":false}", k ? "," : "", k, k);
	strcat(s, "]}");
	must_refuse(W_CONFIG, s, "drives[8]: cannot add drive 'd8'");

	/* A refusal leaves the configuration as fc_vm_config_init made it. */
	fc_vm_config_init(&c);
	assert_int_equal(fc_parse_config_file(s, strlen(s), &c, msg), -1);
	assert_int_equal(c.ndrives, 0);
	assert_false(c.has_boot_source);
	assert_null(c.boot.kernel_image_path);
	assert_int_equal(c.machine.mem_size_mib, 128);
	fc_vm_config_free(&c);
	free(s);
}

/* ---- response bodies ---- */

static struct json_object *reparse(char *s)
{
	struct json_object *o;

	assert_non_null(s);
	assert_null(strchr(s, '\n'));
	assert_null(strstr(s, "\\/"));
	o = json_tokener_parse(s);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	free(s);
	return o;
}

static struct json_object *member(struct json_object *o, const char *k,
				  enum json_type t)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("member '%s' missing", k);
	if (!json_object_is_type(v, t))
		fail_msg("member '%s' has type %d, not %d", k,
			 json_object_get_type(v), t);
	return v;
}

static const char *mstr(struct json_object *o, const char *k)
{
	return json_object_get_string(member(o, k, json_type_string));
}

static bool mbool(struct json_object *o, const char *k)
{
	return json_object_get_boolean(member(o, k, json_type_boolean));
}

static int64_t mint(struct json_object *o, const char *k)
{
	return json_object_get_int64(member(o, k, json_type_int));
}

static const struct {
	const char *in, *out;
} faults[] = {
	{ "drive_id 'caf\xc3' is not valid", "drive_id 'caf?' is not valid" },
	{ "\xe2\x82", "??" },
	{ "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	  "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
	{ "\xed\xa0\x80", "???" },                   /* a surrogate */
	{ "\xc0\xaf\xf5\x80\x80\x80\xff", "???????" }, /* overlong... */
	{ "\xf0\x9f\x98", "???" },
	{ "\x01\x1f\"\\/", "\x01\x1f\"\\/" },
};

static void test_json_simple(void **state)
{
	struct fc_machine_config m = { .vcpu_count = 3, .mem_size_mib = 4096,
				       .track_dirty_pages = true };
	struct json_object *o;
	char *s;

	(void)state;
	s = fc_json_fault("drive \"x\": /dev/sda\n");
	assert_string_equal(s, "{\"fault_message\":\"drive \\\"x\\\": /dev/sda"
			    "\\n\"}");
	o = reparse(s);
	assert_string_equal(mstr(o, "fault_message"), "drive \"x\": /dev/sda\n");
	json_object_put(o);

	/* A message cut through a UTF-8 character still gives valid JSON. */
	for (size_t k = 0; k < N(faults); k++) {
		struct json_tokener *tok = json_tokener_new();

		s = fc_json_fault(faults[k].in);
		assert_non_null(s);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, s, (int)strlen(s));
		if (!o)
			fail_msg("fault %zu: %s is not valid JSON", k, s);
		assert_string_equal(mstr(o, "fault_message"), faults[k].out);
		json_object_put(o);
		json_tokener_free(tok);
		free(s);
	}
	s = fc_json_fault(NULL);
	assert_string_equal(s, "{\"fault_message\":\"\"}");
	free(s);

	s = fc_json_instance_info("vm-1", "Not started", "0.1.0");
	assert_string_equal(s, "{\"app_name\":\"ringvm\",\"id\":\"vm-1\","
			    "\"state\":\"Not started\",\"vmm_version\":"
			    "\"0.1.0\"}");
	free(s);

	o = reparse(fc_json_machine_config(&m));
	assert_int_equal(json_object_object_length(o), 5);
	assert_int_equal(mint(o, "vcpu_count"), 3);
	assert_int_equal(mint(o, "mem_size_mib"), 4096);
	assert_false(mbool(o, "smt"));
	assert_true(mbool(o, "track_dirty_pages"));
	assert_string_equal(mstr(o, "huge_pages"), "None");
	json_object_put(o);
}

static void test_json_vm_config(void **state)
{
	struct fc_vm_config c;
	struct fc_drive d;
	struct fc_net_iface n;
	struct fc_boot_source b = {
		.kernel_image_path = strdup("/boot/vmlinux"),
		.initrd_path = strdup("/boot/initrd"),
		.boot_args = strdup("console=ttyS0"),
	};
	struct json_object *o, *v, *a;
	char msg[FC_MSG_MAX];

	(void)state;
	fc_vm_config_init(&c);
	o = reparse(fc_json_vm_config(&c));
	assert_int_equal(json_object_object_length(o), 6);
	member(o, "boot-source", json_type_null);
	member(o, "entropy", json_type_null);
	member(o, "metrics", json_type_null);
	assert_int_equal(json_object_array_length(
		member(o, "drives", json_type_array)), 0);
	assert_int_equal(json_object_array_length(
		member(o, "network-interfaces", json_type_array)), 0);
	v = member(o, "machine-config", json_type_object);
	assert_int_equal(mint(v, "vcpu_count"), 1);
	assert_int_equal(mint(v, "mem_size_mib"), 128);
	json_object_put(o);

	fc_vm_config_set_boot_source(&c, &b);
	d = mk_drive("rootfs", "/img/root.ext4", true);
	d.partuuid = strdup("1234-01");
	d.io_sync = true;
	expect_ok(fc_vm_config_put_drive(&c, &d, msg), msg, "d");
	d = mk_drive("data", "/img/data", false);
	d.is_read_only = true;
	expect_ok(fc_vm_config_put_drive(&c, &d, msg), msg, "d");
	n = mk_iface("eth0", "tap0", 0xab);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "n");
	n = mk_iface("eth1", "tap1", 0);
	expect_ok(fc_vm_config_put_iface(&c, &n, msg), msg, "n");
	c.entropy = true;
	c.has_metrics = true;
	c.metrics.metrics_path = strdup("/run/m.fifo");
	c.machine.vcpu_count = 4;
	c.machine.mem_size_mib = 2048;
	c.machine.track_dirty_pages = true;

	o = reparse(fc_json_vm_config(&c));
	assert_int_equal(json_object_object_length(o), 6);
	v = member(o, "boot-source", json_type_object);
	assert_int_equal(json_object_object_length(v), 3);
	assert_string_equal(mstr(v, "kernel_image_path"), "/boot/vmlinux");
	assert_string_equal(mstr(v, "initrd_path"), "/boot/initrd");
	assert_string_equal(mstr(v, "boot_args"), "console=ttyS0");
	v = member(o, "machine-config", json_type_object);
	assert_int_equal(json_object_object_length(v), 5);
	assert_int_equal(mint(v, "vcpu_count"), 4);
	assert_int_equal(mint(v, "mem_size_mib"), 2048);
	assert_false(mbool(v, "smt"));
	assert_true(mbool(v, "track_dirty_pages"));
	assert_string_equal(mstr(v, "huge_pages"), "None");
	a = member(o, "drives", json_type_array);
	assert_int_equal(json_object_array_length(a), 2);
	v = json_object_array_get_idx(a, 0);
	assert_int_equal(json_object_object_length(v), 7);
	assert_string_equal(mstr(v, "drive_id"), "rootfs");
	assert_string_equal(mstr(v, "path_on_host"), "/img/root.ext4");
	assert_true(mbool(v, "is_root_device"));
	assert_false(mbool(v, "is_read_only"));
	assert_string_equal(mstr(v, "partuuid"), "1234-01");
	assert_string_equal(mstr(v, "cache_type"), "Writeback");
	assert_string_equal(mstr(v, "io_engine"), "Sync");
	v = json_object_array_get_idx(a, 1);
	assert_int_equal(json_object_object_length(v), 6);
	assert_string_equal(mstr(v, "drive_id"), "data");
	assert_false(mbool(v, "is_root_device"));
	assert_true(mbool(v, "is_read_only"));
	assert_string_equal(mstr(v, "io_engine"), "Async");
	a = member(o, "network-interfaces", json_type_array);
	assert_int_equal(json_object_array_length(a), 2);
	v = json_object_array_get_idx(a, 0);
	assert_int_equal(json_object_object_length(v), 3);
	assert_string_equal(mstr(v, "iface_id"), "eth0");
	assert_string_equal(mstr(v, "host_dev_name"), "tap0");
	assert_string_equal(mstr(v, "guest_mac"), "06:00:00:00:00:ab");
	v = json_object_array_get_idx(a, 1);
	assert_int_equal(json_object_object_length(v), 2);
	assert_string_equal(mstr(v, "iface_id"), "eth1");
	v = member(o, "entropy", json_type_object);
	assert_int_equal(json_object_object_length(v), 0);
	v = member(o, "metrics", json_type_object);
	assert_string_equal(mstr(v, "metrics_path"), "/run/m.fifo");
	json_object_put(o);
	fc_vm_config_free(&c);
}

/* ---- round trip: file -> config -> GET /vm/config -> file ---- */

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void assert_same_config(const struct fc_vm_config *a,
			       const struct fc_vm_config *b)
{
	assert_int_equal(a->has_boot_source, b->has_boot_source);
	assert_true(str_same(a->boot.kernel_image_path,
			     b->boot.kernel_image_path));
	assert_true(str_same(a->boot.initrd_path, b->boot.initrd_path));
	assert_true(str_same(a->boot.boot_args, b->boot.boot_args));
	assert_memory_equal(&a->machine, &b->machine, sizeof(a->machine));
	assert_int_equal(a->ndrives, b->ndrives);
	for (unsigned int k = 0; k < a->ndrives; k++) {
		const struct fc_drive *x = &a->drive[k], *y = &b->drive[k];

		assert_string_equal(x->drive_id, y->drive_id);
		assert_string_equal(x->path_on_host, y->path_on_host);
		assert_true(str_same(x->partuuid, y->partuuid));
		assert_int_equal(x->is_root_device, y->is_root_device);
		assert_int_equal(x->is_read_only, y->is_read_only);
		assert_int_equal(x->io_sync, y->io_sync);
	}
	assert_int_equal(a->nifaces, b->nifaces);
	for (unsigned int k = 0; k < a->nifaces; k++) {
		const struct fc_net_iface *x = &a->iface[k], *y = &b->iface[k];

		assert_string_equal(x->iface_id, y->iface_id);
		assert_string_equal(x->host_dev_name, y->host_dev_name);
		assert_int_equal(x->has_mac, y->has_mac);
		assert_memory_equal(x->guest_mac, y->guest_mac, 6);
	}
	assert_int_equal(a->entropy, b->entropy);
	assert_int_equal(a->has_metrics, b->has_metrics);
	assert_true(str_same(a->metrics.metrics_path, b->metrics.metrics_path));
}

static void round_trip(const char *file)
{
	char msg[FC_MSG_MAX];
	struct fc_vm_config a, b;
	char *json, *again;

	fc_vm_config_init(&a);
	fc_vm_config_init(&b);
	expect_ok(fc_parse_config_file(file, strlen(file), &a, msg), msg, file);
	json = fc_json_vm_config(&a);
	assert_non_null(json);
	expect_ok(fc_parse_config_file(json, strlen(json), &b, msg), msg, json);
	assert_same_config(&a, &b);
	again = fc_json_vm_config(&b);
	assert_string_equal(json, again);
	free(json);
	free(again);
	fc_vm_config_free(&a);
	fc_vm_config_free(&b);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(full_config);
	round_trip("{\"boot-source\":{\"kernel_image_path\":\"/k/v\","
		   "\"initrd_path\":\"/i\",\"boot_args\":\"a \\\"b\\\" c\\\\\"},"
		   "\"machine-config\":{\"vcpu_count\":254,\"mem_size_mib\":"
		   "1048576,\"track_dirty_pages\":true},\"drives\":[{"
		   "\"drive_id\":\"d0\",\"path_on_host\":\"/x/\\u00e9.img\","
		   "\"is_root_device\":true,\"partuuid\":\"0eaa91a0-01\","
		   "\"io_engine\":\"Async\"},{\"drive_id\":\"d1\","
		   "\"path_on_host\":\"d1\",\"is_root_device\":false,"
		   "\"is_read_only\":true,\"io_engine\":\"Sync\"}],"
		   "\"network-interfaces\":[{\"iface_id\":\"n0\","
		   "\"host_dev_name\":\"tap0\"},{\"iface_id\":\"n1\","
		   "\"host_dev_name\":\"tap1\",\"guest_mac\":"
		   "\"02:AB:cd:00:00:01\"}],\"entropy\":{},"
		   "\"metrics\":{\"metrics_path\":\"/run/metrics\"}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getting_started),
		cmocka_unit_test(test_other_examples),
		cmocka_unit_test(test_boot_source_values),
		cmocka_unit_test(test_machine_values),
		cmocka_unit_test(test_huge_integers),
		cmocka_unit_test(test_drive_values),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_iface_values),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_snapshot_values),
		cmocka_unit_test(test_migrate_values),
		cmocka_unit_test(test_migrate_incoming_values),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_nulls),
		cmocka_unit_test(test_unsupported_fields),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_put_drive),
		cmocka_unit_test(test_put_iface),
		cmocka_unit_test(test_set_boot_source),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_file_refusals),
		cmocka_unit_test(test_json_simple),
		cmocka_unit_test(test_json_vm_config),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
