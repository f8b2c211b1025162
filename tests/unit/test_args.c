/* `ringvm` command-line parsing: every flag, both value forms, and every
 * bad input a user can type, each refused with one line naming the flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cli/args.h"

#define MAX_ARGS 64

/* cli_parse splits --disk/--net values in place, so argv must be writable,
 * as main's is: copy the literals. */
struct argv_buf {
	char store[32768];
	char *argv[MAX_ARGS];
	int argc;
};

static void build(struct argv_buf *b, const char *const *args)
{
	size_t off = 0;

	b->argc = 0;
	for (; *args; args++) {
		size_t n = strlen(*args) + 1;

		assert_true(b->argc < MAX_ARGS - 1);
		assert_true(off + n <= sizeof(b->store));
		memcpy(b->store + off, *args, n);
		b->argv[b->argc++] = b->store + off;
		off += n;
	}
	b->argv[b->argc] = NULL;
}

struct result {
	int rc;
	enum cli_action action;
	struct cli_opts o;
	struct rv_err err;
	struct argv_buf b;
};

static int parse_list(struct result *r, const char *const *args)
{
	build(&r->b, args);
	memset(&r->err, 0, sizeof(r->err));
	r->action = (enum cli_action)-1;
	r->rc = cli_parse(r->b.argc, r->b.argv, &r->action, &r->o, &r->err);
	return r->rc;
}

#define ARGS(...) ((const char *const[]){ "ringvm", __VA_ARGS__, NULL })
#define PARSE(r, ...) parse_list((r), ARGS(__VA_ARGS__))

static int setup(void **state)
{
	*state = test_calloc(1, sizeof(struct result));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

static void expect_ok(struct result *r, enum cli_action action)
{
	if (r->rc != 0)
		fail_msg("refused: %s", r->err.msg);
	assert_int_equal(r->action, action);
}

static void test_defaults(void **state)
{
	struct result *r = *state;
	const struct vm_config *c = &r->o.cfg;

	PARSE(r, "run", "--kernel", "bzImage");
	expect_ok(r, CLI_RUN);
	assert_string_equal(c->kernel, "bzImage");
	assert_null(c->initrd);
	assert_non_null(c->cmdline);
	assert_string_equal(c->cmdline, "");
	assert_int_equal(c->mem_size, VM_DEFAULT_MEM);
	assert_int_equal(c->mem_size, 256ULL << 20);
	assert_int_equal(c->ncpus, 1);
	assert_int_equal(c->console, CONSOLE_SERIAL);
	assert_null(c->serial_log);
	assert_false(c->allow_slow_backend);
	assert_true(c->seccomp);
	assert_int_equal(c->ndisks, 0);
	assert_int_equal(c->nnics, 0);
	assert_false(c->rng);
}

static void check_every_flag(const struct vm_config *c)
{
	assert_string_equal(c->kernel, "/boot/vmlinuz");
	assert_string_equal(c->initrd, "/tmp/initrd.cpio");
	assert_string_equal(c->cmdline, "console=ttyS0 quiet");
	assert_int_equal(c->mem_size, 1ULL << 30);
	assert_int_equal(c->ncpus, 4);
	assert_int_equal(c->console, CONSOLE_VIRTIO);
	assert_string_equal(c->serial_log, "/tmp/com1.log");
	assert_true(c->allow_slow_backend);
	assert_true(c->rng);
	assert_int_equal(c->ndisks, 2);
	assert_string_equal(c->disk[0].path, "root.img");
	assert_false(c->disk[0].readonly);
	assert_false(c->disk[0].direct);
	assert_string_equal(c->disk[1].path, "data.img");
	assert_true(c->disk[1].readonly);
	assert_true(c->disk[1].direct);
	assert_int_equal(c->nnics, 1);
	assert_string_equal(c->nic[0].tap, "tap0");
	assert_true(c->nic[0].mac_set);
	assert_memory_equal(c->nic[0].mac,
			    ((const uint8_t[]){ 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }),
			    6);
}

static void test_seccomp_flag(void **state)
{
	struct result *r = *state;

	PARSE(r, "run", "--kernel", "k", "--seccomp", "off");
	expect_ok(r, CLI_RUN);
	assert_false(r->o.cfg.seccomp);
	assert_false(r->o.cfg.mem_merge);
	PARSE(r, "restore", "--state", "a", "--mem", "b", "--seccomp=on",
	      "--mem-merge");
	expect_ok(r, CLI_RESTORE);
	assert_true(r->o.cfg.seccomp);
	assert_true(r->o.cfg.mem_merge);
}

static void test_every_flag_separate(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "/boot/vmlinuz",
	      "--initrd", "/tmp/initrd.cpio", "--cmdline", "console=ttyS0 quiet",
	      "--mem", "1G", "--cpus", "4", "--disk", "root.img",
	      "--disk", "data.img,ro,direct", "--net", "tap=tap0,mac=52:54:00:AB:cd:ef",
	      "--console", "virtio", "--rng", "--serial-log", "/tmp/com1.log",
	      "--allow-slow-backend");
	expect_ok(r, CLI_RUN);
	check_every_flag(&r->o.cfg);
}

static void test_every_flag_equals(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel=/boot/vmlinuz",
	      "--initrd=/tmp/initrd.cpio", "--cmdline=console=ttyS0 quiet",
	      "--mem=1024M", "--cpus=4", "--disk=root.img",
	      "--disk=data.img,direct,ro", "--net=tap=tap0,mac=52:54:00:ab:CD:EF",
	      "--console=virtio", "--rng", "--serial-log=/tmp/com1.log",
	      "--allow-slow-backend");
	expect_ok(r, CLI_RUN);
	check_every_flag(&r->o.cfg);
}

static void test_flag_order_free(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--mem", "64M", "--console", "none", "--kernel", "k",
	      "--cpus", "254");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.kernel, "k");
	assert_int_equal(r->o.cfg.mem_size, 64ULL << 20);
	assert_int_equal(r->o.cfg.console, CONSOLE_NONE);
	assert_int_equal(r->o.cfg.ncpus, 254);
	PARSE(r, "run", "--kernel", "k", "--console", "serial");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.console, CONSOLE_SERIAL);
}

static void test_limits_accepted(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "k", "--mem", "16M", "--cpus", "1");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_size, VM_MIN_MEM);
	PARSE(r, "run", "--kernel", "k", "--mem", "1T");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_size, VM_MAX_MEM);
	PARSE(r, "run", "--kernel", "k", "--mem", "268439552"); /* 256M+4K */
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_size, (256ULL << 20) + 4096);
	PARSE(r, "run", "--kernel", "k", "--disk", "1", "--disk", "2",
	      "--disk", "3", "--disk", "4", "--disk", "5", "--disk", "6",
	      "--disk", "7", "--disk", "8");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.ndisks, VM_MAX_DISKS);
	assert_string_equal(r->o.cfg.disk[7].path, "8");
	PARSE(r, "run", "--kernel", "k", "--net", "tap=a", "--net", "tap=b",
	      "--net", "tap=c", "--net", "tap=0123456789abcde");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.nnics, VM_MAX_NICS);
	assert_string_equal(r->o.cfg.nic[3].tap, "0123456789abcde");
	assert_false(r->o.cfg.nic[3].mac_set);
}

/* The command line reaches the guest exactly as typed. */
static void test_cmdline_intact(void **state)
{
	struct result *r = *state;
	static const char *const lines[] = {
		"console=ttyS0 root=/dev/vda rw init=\"/bin/sh -c 'echo hi'\"",
		"  leading and trailing  spaces  ",
		"tab\there\tand\nnewline",
		"a=b=c --dash -- 'single' \"double\" \\backslash",
		"--starts-with-dashes",
		"=",
		",ro,direct tap=x,mac=01:00:00:00:00:00",
		"utf-8 caf\xc3\xa9 \xe2\x9c\x93",
		"",
	};
	char eqbuf[512];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		PARSE(r, "run", "--kernel", "k", "--cmdline", lines[i]);
		expect_ok(r, CLI_RUN);
		assert_string_equal(r->o.cfg.cmdline, lines[i]);

		snprintf(eqbuf, sizeof(eqbuf), "--cmdline=%s", lines[i]);
		PARSE(r, "run", eqbuf, "--kernel", "k");
		expect_ok(r, CLI_RUN);
		assert_string_equal(r->o.cfg.cmdline, lines[i]);
	}
}

static void test_long_cmdline(void **state)
{
	struct result *r = *state;
	char big[8192] = { 0 };

	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	PARSE(r, "run", "--kernel", "k", "--cmdline", big);
	expect_ok(r, CLI_RUN);
	assert_int_equal(strlen(r->o.cfg.cmdline), sizeof(big) - 1);
	assert_string_equal(r->o.cfg.cmdline, big);
}

/* Paths are taken as given; the parser opens nothing. */
static void test_paths_not_opened(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "/nonexistent/dir/bzImage",
	      "--initrd", "/nonexistent/initrd", "--disk", "/nonexistent/d,ro",
	      "--serial-log", "/nonexistent/log");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.kernel, "/nonexistent/dir/bzImage");
	assert_string_equal(r->o.cfg.disk[0].path, "/nonexistent/d");
	/* Odd but legal names survive. */
	PARSE(r, "run", "--kernel=--odd", "--disk=a=b.img", "--initrd", "-");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.kernel, "--odd");
	assert_string_equal(r->o.cfg.disk[0].path, "a=b.img");
	assert_string_equal(r->o.cfg.initrd, "-");
}

static void test_net_forms(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "k", "--net", "mac=02:00:00:00:00:01,tap=t2",
	      "--net", "tap=tap.1-x_y");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.nnics, 2);
	assert_string_equal(r->o.cfg.nic[0].tap, "t2");
	assert_true(r->o.cfg.nic[0].mac_set);
	assert_memory_equal(r->o.cfg.nic[0].mac,
			    ((const uint8_t[]){ 2, 0, 0, 0, 0, 1 }), 6);
	assert_string_equal(r->o.cfg.nic[1].tap, "tap.1-x_y");
	assert_false(r->o.cfg.nic[1].mac_set);
	assert_false(r->o.cfg.nic[1].vhost);
}

/* --cpu-pin: a host choice for run and restore alike. */
static void test_cpu_pin_option(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "k", "--cpus", "2", "--cpu-pin", "1,0");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.cpu_pin.n, 2);
	assert_int_equal(r->o.cfg.cpu_pin.cpu[0], 1);
	PARSE(r, "restore", "--state", "s", "--mem", "m", "--cpu-pin", "3");
	expect_ok(r, CLI_RESTORE);
	assert_int_equal(r->o.cfg.cpu_pin.cpu[0], 3);
}

/* --io-poll: microseconds, a host choice for run and restore alike; off
 * unless asked for. */
static void test_io_poll_option(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "k");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.io_poll_us, 0);
	PARSE(r, "run", "--kernel", "k", "--io-poll", "50");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.io_poll_us, 50);
	PARSE(r, "restore", "--state", "s", "--mem", "m", "--io-poll=10000");
	expect_ok(r, CLI_RESTORE);
	assert_int_equal(r->o.cfg.io_poll_us, 10000);
}

/* Devices served elsewhere: vhost-net and the vhost-user forms. */
static void test_vhost_forms(void **state)
{
	struct result *r = *state;
	PARSE(r, "run", "--kernel", "k", "--net", "tap=t0,vhost=on,queues=2",
	      "--net", "vhost-user=/run/n.sock", "--disk", "vhost-user=/run/d.sock",
	      "--disk", "plain.img", "--fs", "socket=/run/fs.sock,tag=share");
	expect_ok(r, CLI_RUN);
	assert_true(r->o.cfg.nic[0].vhost);
	assert_int_equal(r->o.cfg.nic[0].queues, 2);
	assert_false(r->o.cfg.nic[0].vhost_user);
	assert_true(r->o.cfg.nic[1].vhost_user);
	assert_string_equal(r->o.cfg.nic[1].tap, "/run/n.sock");
	assert_true(r->o.cfg.disk[0].vhost_user);
	assert_string_equal(r->o.cfg.disk[0].path, "/run/d.sock");
	assert_false(r->o.cfg.disk[1].vhost_user);
	assert_int_equal(r->o.cfg.nfs, 1);
	assert_string_equal(r->o.cfg.fs[0].tag, "share");
	assert_string_equal(r->o.cfg.fs[0].socket, "/run/fs.sock");
}

/* ringvm backend: the two kinds and what each takes. */
static void test_backend_commands(void **state)
{
	struct result *r = *state;
	const struct {
		const char *const *args;
		const char *want;       /* NULL: accepted */
	} t[] = {
		{ ARGS("backend", "blk", "--socket", "/s", "--disk", "d.img,ro",
		       "--queues", "4", "--queue-size", "256"), NULL },
		{ ARGS("backend", "net", "--socket", "/s", "--tap", "tap0",
		       "--mac", "02:00:00:00:00:07"), NULL },
		{ ARGS("backend", "--socket", "/s", "--disk", "d"), "which device" },
		{ ARGS("backend", "scsi", "--socket", "/s"), "unknown device 'scsi'" },
		{ ARGS("backend", "blk", "net", "--socket", "/s"), "one device kind" },
		{ ARGS("backend", "blk", "--disk", "d"), "missing --socket" },
		{ ARGS("backend", "blk", "--socket", "/s"), "give --disk PATH once" },
		{ ARGS("backend", "blk", "--socket", "/s", "--disk", "vhost-user=/x"), "not another back end's socket" },
		{ ARGS("backend", "blk", "--socket", "/s", "--disk", "d", "--tap", "t"), "not --tap or --mac" },
		{ ARGS("backend", "blk", "--socket", "/s", "--disk", "d", "--queues", "65"), "at most 64" },
		{ ARGS("backend", "blk", "--socket", "/s", "--disk", "d", "--queue-size", "100"), "power of two" },
		{ ARGS("backend", "net", "--socket", "/s"), "missing --tap" },
		{ ARGS("backend", "net", "--socket", "/s", "--tap", "a/b"), "not a valid interface name" },
		{ ARGS("backend", "net", "--socket", "/s", "--tap", "t", "--disk", "d"), "not --disk" },
		{ ARGS("backend", "net", "--socket", "/s", "--tap", "t", "--mac", "01:00:00:00:00:01"), "multicast" },
		{ ARGS("backend", "blk", "--socket", "/s", "--disk", "d", "--kernel", "k"), "unknown option '--kernel'" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_list(r, t[i].args);
		if (!t[i].want) {
			if (r->rc != 0)
				fail_msg("case %zu refused: %s", i, r->err.msg);
			assert_int_equal(r->action, CLI_BACKEND);
		} else if (r->rc == 0 || !strstr(r->err.msg, t[i].want)) {
			fail_msg("case %zu: want \"%s\", got rc %d \"%s\"", i,
				 t[i].want, r->rc, r->err.msg);
		}
	}
	parse_list(r, ARGS("backend", "net", "--socket", "/s", "--tap", "tap0",
			   "--mac", "02:00:00:00:00:07"));
	assert_string_equal(r->o.backend_kind, "net");
	assert_string_equal(r->o.backend_tap, "tap0");
	assert_true(r->o.backend_mac_set);
	assert_int_equal(r->o.backend_mac[5], 7);
}

static void test_actions(void **state)
{
	struct result *r = *state;
	const struct {
		const char *const *args;
		enum cli_action action;
	} t[] = {
		{ ARGS("--help"), CLI_HELP },
		{ ARGS("-h"), CLI_HELP },
		{ ARGS("help"), CLI_HELP },
		{ ARGS("help", "run"), CLI_COMMAND_HELP },
		{ ARGS("run", "--help"), CLI_COMMAND_HELP },
		{ ARGS("run", "-h"), CLI_COMMAND_HELP },
		{ ARGS("run", "--kernel", "k", "--help"), CLI_COMMAND_HELP },
		{ ARGS("run", "--mem", "1G", "-h", "--bogus"), CLI_COMMAND_HELP },
		{ ARGS("help", "restore"), CLI_COMMAND_HELP },
		{ ARGS("snapshot", "--help"), CLI_COMMAND_HELP },
		{ ARGS("pause", "-h"), CLI_COMMAND_HELP },
		{ ARGS("help", "cpu-template"), CLI_COMMAND_HELP },
		{ ARGS("cpu-features", "--help"), CLI_COMMAND_HELP },
		{ ARGS("cpu-template", "a", "-h"), CLI_COMMAND_HELP },
		{ ARGS("help", "migrate"), CLI_COMMAND_HELP },
		{ ARGS("migrate", "--help"), CLI_COMMAND_HELP },
		{ ARGS("migrate", "--to", "unix:/m", "-h"), CLI_COMMAND_HELP },
		{ ARGS("run", "--incoming", "unix:/m", "--help"), CLI_COMMAND_HELP },
		{ ARGS("--version"), CLI_VERSION },
		{ ARGS("-V"), CLI_VERSION },
		{ ARGS("version"), CLI_VERSION },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_list(r, t[i].args);
		if (r->rc != 0)
			fail_msg("case %zu (%s) refused: %s", i, t[i].args[1],
				 r->err.msg);
		assert_int_equal(r->action, t[i].action);
	}
}

struct bad_case {
	const char *const *args;
	const char *want;   /* must appear in the error line */
};

static const struct bad_case bad[] = {
	{ ARGS("run"), "missing --kernel" },
	{ ARGS("run", "--mem", "1G"), "missing --kernel" },
	{ ARGS("run", "--kernel"), "--kernel needs a value" },
	{ ARGS("run", "--kernel", "--mem", "1G"), "--kernel needs a value" },
	{ ARGS("run", "--kernel="), "--kernel: empty value" },
	{ ARGS("run", "--kernel", ""), "--kernel: empty value" },
	{ ARGS("run", "--kernel", "k", "--seccomp", "maybe"), "--seccomp: 'maybe' is not on or off" },
	{ ARGS("run", "--kernel", "k", "--seccomp"), "--seccomp needs a value" },
	{ ARGS("migrate", "--api-sock", "s", "--to", "unix:m", "--max-bandwidth", "0"), "--max-bandwidth: '0' is not a number from 1 to 1000000" },
	{ ARGS("migrate", "--api-sock", "s", "--to", "unix:m", "--max-bandwidth", "4M"), "--max-bandwidth: '4M' is not a number" },
	{ ARGS("migrate", "--api-sock", "s", "--to", "unix:m", "--max-bandwidth", "1000001"), "--max-bandwidth" },
	{ ARGS("snapshot", "--api-sock", "s", "--state", "a", "--mem", "b", "--seccomp", "off"), "--seccomp" },
	{ ARGS("run", "--kernel", "a", "--kernel", "b"), "--kernel given twice" },
	{ ARGS("run", "--kernel=a", "--kernel=a"), "--kernel given twice" },
	{ ARGS("run", "--kernel", "k", "--bogus"), "unknown option '--bogus'" },
	{ ARGS("run", "--kernel", "k", "--bogus=1"), "unknown option '--bogus'" },
	{ ARGS("run", "--kernel", "k", "--KERNEL", "x"), "unknown option '--KERNEL'" },
	{ ARGS("run", "--kernel", "k", "--kern", "x"), "unknown option '--kern'" },
	{ ARGS("run", "--kernel", "k", "-x"), "unknown option '-x'" },
	{ ARGS("run", "--kernel", "k", "-"), "unknown option '-'" },
	{ ARGS("run", "--kernel", "k", "--"), "unknown option '--'" },
	{ ARGS("run", "--kernel", "k", "--="), "unknown option '--'" },
	{ ARGS("run", "--kernel", "k", "extra"), "unexpected argument 'extra'" },
	{ ARGS("run", "k"), "unexpected argument 'k'" },
	{ ARGS("run", "--kernel", "k", "--initrd"), "--initrd needs a value" },
	{ ARGS("run", "--kernel", "k", "--initrd="), "--initrd: empty value" },
	{ ARGS("run", "--kernel", "k", "--initrd", "a", "--initrd", "b"), "--initrd given twice" },
	{ ARGS("run", "--kernel", "k", "--cmdline"), "--cmdline needs a value" },
	{ ARGS("run", "--kernel", "k", "--cmdline", "a", "--cmdline", "b"), "--cmdline given twice" },
	{ ARGS("run", "--kernel", "k", "--cpus"), "--cpus needs a value" },
	{ ARGS("run", "--kernel", "k", "--cpus", "0"), "--cpus: 0 is out of range (1 to 254)" },
	{ ARGS("run", "--kernel", "k", "--cpus", "255"), "--cpus: 255 is out of range" },
	{ ARGS("run", "--kernel", "k", "--cpus", "1000"), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus", "99999999999999999999999"), "is out of range" },
	{ ARGS("run", "--kernel", "k", "--cpus", "abc"), "--cpus: 'abc' is not a number" },
	{ ARGS("run", "--kernel", "k", "--io-poll", "10001"), "--io-poll: 10001 is out of range (0 to 10000)" },
	{ ARGS("run", "--kernel", "k", "--io-poll", "50us"), "--io-poll: '50us' is not a number" },
	{ ARGS("run", "--kernel", "k", "--io-poll", "-1"), "--io-poll: '-1' is not a number" },
	{ ARGS("snapshot", "--api-sock", "s", "--state", "s", "--mem", "m", "--io-poll", "5"), "--io-poll" },
	{ ARGS("run", "--kernel", "k", "--cpus", "-1"), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus", "+2"), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus", " 2"), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus", "2 "), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus", "2x"), "--cpus: '2x' is not a number" },
	{ ARGS("run", "--kernel", "k", "--cpus", "0x2"), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus="), "--cpus" },
	{ ARGS("run", "--kernel", "k", "--cpus", "1", "--cpus", "2"), "--cpus given twice" },
	{ ARGS("run", "--kernel", "k", "--mem"), "--mem needs a value" },
	{ ARGS("run", "--kernel", "k", "--mem", "8M"), "--mem: 8M is below the minimum of 16M" },
	{ ARGS("run", "--kernel", "k", "--mem", "0"), "--mem: 0 is below" },
	{ ARGS("run", "--kernel", "k", "--mem", "2T"), "--mem: 2T is above the maximum of 1T" },
	{ ARGS("run", "--kernel", "k", "--mem", "1099511631872"), "--mem" }, /* 1T+4K */
	{ ARGS("run", "--kernel", "k", "--mem", "99999999999999999999999"), "--mem" },
	{ ARGS("run", "--kernel", "k", "--mem", "abc"), "--mem: 'abc' is not a size" },
	{ ARGS("run", "--kernel", "k", "--mem", "1.5G"), "--mem" },
	{ ARGS("run", "--kernel", "k", "--mem", "-1G"), "--mem" },
	{ ARGS("run", "--kernel", "k", "--mem", "1G "), "--mem" },
	{ ARGS("run", "--kernel", "k", "--mem", "268435457"), "not a multiple of 4K" },
	{ ARGS("run", "--kernel", "k", "--mem="), "--mem: empty value" },
	{ ARGS("run", "--kernel", "k", "--mem", "1G", "--mem", "2G"), "--mem given twice" },
	{ ARGS("run", "--kernel", "k", "--disk"), "--disk needs a value" },
	{ ARGS("run", "--kernel", "k", "--disk", ""), "--disk: empty value" },
	{ ARGS("run", "--kernel", "k", "--disk", ",ro"), "--disk: missing PATH" },
	{ ARGS("run", "--kernel", "k", "--disk", "a.img,rw"), "unknown option 'rw'" },
	{ ARGS("run", "--kernel", "k", "--disk", "a.img,RO"), "unknown option 'RO'" },
	{ ARGS("run", "--kernel", "k", "--disk", "a.img,"), "unknown option ''" },
	{ ARGS("run", "--kernel", "k", "--disk", "a.img,ro,,direct"), "unknown option ''" },
	{ ARGS("run", "--kernel", "k", "--disk", "a.img,ro=1"), "unknown option 'ro=1'" },
	{ ARGS("run", "--kernel", "k", "--disk", "1", "--disk", "2", "--disk", "3",
	       "--disk", "4", "--disk", "5", "--disk", "6", "--disk", "7",
	       "--disk", "8", "--disk", "9"), "--disk: too many disks" },
	{ ARGS("run", "--kernel", "k", "--net"), "--net needs a value" },
	{ ARGS("run", "--kernel", "k", "--net", "tap0"), "--net: unknown option 'tap0'" },
	{ ARGS("run", "--kernel", "k", "--net", "tap="), "--net: tap=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=0123456789abcdef"), "--net: tap=0123456789abcdef" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a/b"), "--net: tap=a/b" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a b"), "--net: tap=a b" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a:b"), "--net: tap=a:b" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=."), "--net: tap=." },
	{ ARGS("run", "--kernel", "k", "--net", "tap=.."), "--net: tap=.." },
	{ ARGS("run", "--kernel", "k", "--net", "mac=52:54:00:12:34:56"), "--net: missing tap" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,tap=b"), "--net: tap= given twice" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57"), "--net: mac= given twice" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,vhost=maybe"), "--net: unknown option 'vhost=maybe'" },
	{ ARGS("run", "--kernel", "k", "--net", "vhost-user="), "missing the socket path" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,queues=0"), "not a number from 1" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,queues=17"), "at most 16 queue pairs" },
	{ ARGS("run", "--kernel", "k", "--net", "vhost-user=/s,mac=52:54:00:12:34:56"), "no options go with a vhost-user NIC" },
	{ ARGS("run", "--kernel", "k", "--disk", "vhost-user=/s,ro"), "no options go with a vhost-user disk" },
	{ ARGS("run", "--kernel", "k", "--disk", "vhost-user="), "missing the socket path" },
	{ ARGS("run", "--kernel", "k", "--fs", "tag=a"), "missing socket=PATH" },
	{ ARGS("run", "--kernel", "k", "--fs", "socket=/s"), "tag=TAG of 1 to 36 bytes" },
	{ ARGS("run", "--kernel", "k", "--fs", "tag=0123456789012345678901234567890123456,socket=/s"), "tag=TAG of 1 to 36 bytes" },
	{ ARGS("run", "--kernel", "k", "--fs", "tag=a,socket=/s", "--fs", "tag=a,socket=/t"), "tag a given twice" },
	{ ARGS("run", "--kernel", "k", "--fs", "tag=a,socket=/s,cache=none"), "unexpected 'cache=none'" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,"), "--net: unknown option ''" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=01:00:5e:00:00:01"), "multicast" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=ff:ff:ff:ff:ff:ff"), "multicast" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=00:00:00:00:00:00"), "all-zero" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac="), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52:54:00:12:34"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52:54:00:12:34:56:78"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52:54:00:12:34:5g"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52-54-00-12-34-56"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52:54:0:12:34:567"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=525400123456"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac= 2:54:00:12:34:56"), "--net: mac=" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a", "--net", "tap=a"), "--net: tap=a is used twice" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a,mac=52:54:00:12:34:56",
	       "--net", "tap=b,mac=52:54:00:12:34:56"), "--net: the same mac" },
	{ ARGS("run", "--kernel", "k", "--net", "tap=a", "--net", "tap=b",
	       "--net", "tap=c", "--net", "tap=d", "--net", "tap=e"), "--net: too many NICs" },
	{ ARGS("run", "--kernel", "k", "--console"), "--console needs a value" },
	{ ARGS("run", "--kernel", "k", "--console", "tty"), "--console: 'tty' is not one of" },
	{ ARGS("run", "--kernel", "k", "--console", "Serial"), "--console" },
	{ ARGS("run", "--kernel", "k", "--console="), "--console: empty value" },
	{ ARGS("run", "--kernel", "k", "--console", "none", "--console", "serial"), "--console given twice" },
	{ ARGS("run", "--kernel", "k", "--serial-log"), "--serial-log needs a value" },
	{ ARGS("run", "--kernel", "k", "--serial-log="), "--serial-log: empty value" },
	{ ARGS("run", "--kernel", "k", "--rng=1"), "--rng takes no value" },
	{ ARGS("run", "--kernel", "k", "--rng", "--rng"), "--rng given twice" },
	{ ARGS("run", "--kernel", "k", "--allow-slow-backend=yes"), "--allow-slow-backend takes no value" },
	{ ARGS("run", "--kernel", "k", "--help=1"), "--help takes no value" },
	{ ARGS("start"), "unknown command 'start'" },
	{ ARGS("--kernel", "k"), "unknown option '--kernel'" },
	{ ARGS("--bogus"), "unknown option '--bogus'" },
	{ ARGS(""), "unknown command ''" },
	{ ARGS("--help", "run", "x"), "unexpected argument 'run'" },
	{ ARGS("--version", "x"), "unexpected argument 'x'" },
	{ ARGS("help", "bogus"), "unexpected argument 'bogus'" },
};

static void test_bad_inputs(void **state)
{
	struct result *r = *state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_list(r, bad[i].args);
		if (r->rc != -1)
			fail_msg("case %zu (want \"%s\") was accepted", i,
				 bad[i].want);
		if (!strstr(r->err.msg, bad[i].want))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i,
				 r->err.msg, bad[i].want);
		/* One line, for main to print as is. */
		if (strchr(r->err.msg, '\n'))
			fail_msg("case %zu: multi-line error \"%s\"", i, r->err.msg);
	}
}

static void test_no_command(void **state)
{
	struct result *r = *state;
	char *argv[] = { (char *)"ringvm", NULL };

	assert_int_equal(cli_parse(1, argv, &r->action, &r->o, &r->err), -1);
	assert_non_null(strstr(r->err.msg, "missing command"));
	assert_int_equal(cli_parse(0, argv, &r->action, &r->o, &r->err), -1);
	/* A NULL err is allowed, as everywhere else. */
	assert_int_equal(cli_parse(1, argv, &r->action, &r->o, NULL), -1);
}

/* Hostile sizes cannot overflow the error buffer or the message. */
static void test_huge_values(void **state)
{
	struct result *r = *state;
	char big[20000] = { 0 };

	memset(big, 'x', sizeof(big) - 1);
	PARSE(r, "run", "--kernel", "k", "--mem", big);
	assert_int_equal(r->rc, -1);
	assert_true(strlen(r->err.msg) < sizeof(r->err.msg));
	PARSE(r, "run", "--kernel", "k", big);
	assert_int_equal(r->rc, -1);
	assert_non_null(strstr(r->err.msg, "unexpected argument"));
}

static void assert_lines_fit(const char *text)
{
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n > 79)
			fail_msg("help line longer than 79 columns: %.*s",
				 (int)n, line);
		line += n + (nl ? 1 : 0);
	}
}

static void test_usage_texts(void **state)
{
	static const char *const run_words[] = {
		"--kernel", "--initrd", "--cmdline", "--mem", "--cpus",
		"--disk", ",ro", ",direct", "--net", "tap=", "mac=",
		"--console", "serial", "virtio", "none", "--rng",
		"--serial-log", "--allow-slow-backend", "--help",
		"default: 256M", "default: 1)", "default: serial",
		"1 to 254", "up to 8 disks", "up to 4 NICs",
		"EXIT STATUS", "  0 ", "  1 ", "  2 ", "128+N", "SIGINT",
		"SIGTERM", "register dump", "kvm_pvm",
		"tools/ringvm-harness", "leaves\n", "Ctrl-A",
		"--incoming URL", "--cpu-template FILE", "--net-override ID=TAP",
		"--mem-backing thp|4k|hugepages", "(default: thp)",
		"unix:PATH", "tcp:[ADDR]:PORT",
		/* Every exit status says what it means to the end. */
		"stderr says what is\n         wrong\n",
	};
	static const char *const migrate_words[] = {
		"--api-sock PATH", "--to URL", "--max-downtime TIME",
		"--auto-converge", "default: 300", "run --incoming URL",
		"unix:PATH", "tcp:ADDR:PORT", "Exit status 0", "-h, --help",
	};
	static const char *const top_words[] = {
		"ringvm run", "--help", "--version", "-V", "-h",
		"EXIT STATUS", "128+N", "triple fault",
	};
	const char *run = cli_command_usage(CLI_RUN), *top = cli_usage();

	(void)state;
	for (size_t i = 0; i < sizeof(run_words) / sizeof(run_words[0]); i++)
		if (!strstr(run, run_words[i]))
			fail_msg("run --help lacks \"%s\"", run_words[i]);
	for (size_t i = 0; i < sizeof(top_words) / sizeof(top_words[0]); i++)
		if (!strstr(top, top_words[i]))
			fail_msg("--help lacks \"%s\"", top_words[i]);
	assert_lines_fit(run);
	assert_lines_fit(top);
	/* MAJOR.MINOR.PATCH, what snapshots and GET / report. */
	{
		unsigned int a, b, c;
		char tail;

		assert_int_equal(sscanf(RINGVM_VERSION, "%u.%u.%u%c", &a, &b, &c,
					&tail), 3);
	}
	for (enum cli_action a = CLI_RESTORE; a <= CLI_STATS; a++)
		assert_lines_fit(cli_command_usage(a));
	assert_non_null(strstr(cli_command_usage(CLI_RESTORE), "--state FILE"));
	assert_non_null(strstr(cli_command_usage(CLI_SNAPSHOT), "--api-sock"));
	assert_non_null(strstr(top, "ringvm restore"));
	assert_non_null(strstr(top, "ringvm cpu-features"));
	assert_non_null(strstr(top, "ringvm cpu-template FILE FILE..."));
	assert_lines_fit(cli_command_usage(CLI_CPU_FEATURES));
	assert_ptr_equal(cli_command_usage(CLI_CPU_FEATURES),
			 cli_command_usage(CLI_CPU_TEMPLATE));
	assert_non_null(strstr(cli_command_usage(CLI_CPU_TEMPLATE),
			       "--out FILE"));
	assert_non_null(strstr(top, "ringvm migrate --api-sock PATH --to URL"));
	assert_lines_fit(cli_command_usage(CLI_MIGRATE));
	for (size_t i = 0; i < sizeof(migrate_words) / sizeof(migrate_words[0]); i++)
		if (!strstr(cli_command_usage(CLI_MIGRATE), migrate_words[i]))
			fail_msg("migrate --help lacks \"%s\"", migrate_words[i]);
}

/* The control-plane flags of run, and the other commands. */
static void test_commands(void **state)
{
	struct result *r = *state;

	PARSE(r, "run", "--api-sock", "/run/vm1.sock");
	expect_ok(r, CLI_RUN);
	assert_null(r->o.cfg.kernel);
	assert_string_equal(r->o.api_sock, "/run/vm1.sock");
	PARSE(r, "run", "--api-sock=/s", "--config-file", "vm.json", "--id", "vm-7");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.config_file, "vm.json");
	assert_string_equal(r->o.id, "vm-7");
	PARSE(r, "run", "--config-file", "vm.json");
	expect_ok(r, CLI_RUN);
	PARSE(r, "run", "--kernel", "k", "--api-sock", "/s");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.kernel, "k");

	PARSE(r, "restore", "--state", "vm.state", "--mem", "vm.mem", "--paused",
	      "--net-override", "net0=tap9", "--console", "none");
	expect_ok(r, CLI_RESTORE);
	assert_string_equal(r->o.state_path, "vm.state");
	assert_string_equal(r->o.mem_path, "vm.mem");
	assert_true(r->o.paused);
	assert_int_equal(r->o.n_net_overrides, 1);
	assert_string_equal(r->o.net_override[0].id, "net0");
	assert_string_equal(r->o.net_override[0].tap, "tap9");
	assert_true(r->o.console_set);
	assert_int_equal(r->o.cfg.console, CONSOLE_NONE);

	PARSE(r, "snapshot", "--api-sock", "/s", "--state", "a", "--mem", "b");
	expect_ok(r, CLI_SNAPSHOT);
	assert_string_equal(r->o.mem_path, "b");
	PARSE(r, "pause", "--api-sock", "/s");
	expect_ok(r, CLI_PAUSE);
	PARSE(r, "resume", "--api-sock", "/s");
	expect_ok(r, CLI_RESUME);
	PARSE(r, "stats", "--api-sock", "/s");
	expect_ok(r, CLI_STATS);
}

static void test_cpu_commands(void **state)
{
	struct result *r = *state;
	char *many[CLI_MAX_INPUTS + 4];
	char names[CLI_MAX_INPUTS][16];

	PARSE(r, "cpu-features");
	expect_ok(r, CLI_CPU_FEATURES);
	assert_null(r->o.out_path);
	assert_int_equal(r->o.ninputs, 0);
	PARSE(r, "cpu-features", "--out", "hostA.json");
	expect_ok(r, CLI_CPU_FEATURES);
	assert_string_equal(r->o.out_path, "hostA.json");

	PARSE(r, "cpu-template", "a.json", "b.json");
	expect_ok(r, CLI_CPU_TEMPLATE);
	assert_int_equal(r->o.ninputs, 2);
	assert_string_equal(r->o.inputs[0], "a.json");
	assert_string_equal(r->o.inputs[1], "b.json");
	assert_null(r->o.out_path);
	/* Files and --out in any order. */
	PARSE(r, "cpu-template", "a", "--out=fleet.json", "b", "/dev/c");
	expect_ok(r, CLI_CPU_TEMPLATE);
	assert_int_equal(r->o.ninputs, 3);
	assert_string_equal(r->o.inputs[2], "/dev/c");
	assert_string_equal(r->o.out_path, "fleet.json");
	PARSE(r, "cpu-template", "--out", "o", "a=b", "a,b");
	expect_ok(r, CLI_CPU_TEMPLATE);
	assert_string_equal(r->o.inputs[0], "a=b");
	assert_string_equal(r->o.inputs[1], "a,b");

	/* The most files it takes, then one more. */
	many[0] = (char *)"ringvm";
	many[1] = (char *)"cpu-template";
	for (int i = 0; i < CLI_MAX_INPUTS; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d", i);
		many[2 + i] = names[i];
	}
	many[2 + CLI_MAX_INPUTS] = NULL;
	assert_int_equal(cli_parse(2 + CLI_MAX_INPUTS, many, &r->action, &r->o,
				   &r->err), 0);
	assert_int_equal(r->o.ninputs, CLI_MAX_INPUTS);
	assert_string_equal(r->o.inputs[CLI_MAX_INPUTS - 1], "h63");
	many[2 + CLI_MAX_INPUTS] = (char *)"h64";
	many[3 + CLI_MAX_INPUTS] = NULL;
	assert_int_equal(cli_parse(3 + CLI_MAX_INPUTS, many, &r->action, &r->o,
				   &r->err), -1);
	assert_non_null(strstr(r->err.msg, "too many features files (at most 64)"));
}

/* ringvm migrate, and run's --incoming side of it. */
static void test_migrate_commands(void **state)
{
	struct result *r = *state;

	PARSE(r, "migrate", "--api-sock", "/run/vm1.sock", "--to",
	      "unix:/run/mig.sock");
	expect_ok(r, CLI_MIGRATE);
	assert_string_equal(r->o.api_sock, "/run/vm1.sock");
	assert_string_equal(r->o.migrate_to, "unix:/run/mig.sock");
	assert_int_equal(r->o.max_downtime_ms, 0);     /* the VMM's default */
	assert_false(r->o.auto_converge);
	assert_null(r->o.incoming);
	PARSE(r, "migrate", "--auto-converge", "--to=tcp:10.0.0.2:4444",
	      "--max-downtime=300", "--api-sock=/s");
	expect_ok(r, CLI_MIGRATE);
	assert_string_equal(r->o.migrate_to, "tcp:10.0.0.2:4444");
	assert_int_equal(r->o.max_downtime_ms, 300);
	assert_true(r->o.auto_converge);
	assert_int_equal(r->o.max_bandwidth_mib, 0);
	PARSE(r, "migrate", "--api-sock", "/s", "--to", "unix:m",
	      "--max-bandwidth", "4");
	expect_ok(r, CLI_MIGRATE);
	assert_int_equal(r->o.max_bandwidth_mib, 4);
	PARSE(r, "migrate", "--api-sock", "/s", "--to", "tcp:[::1]:1",
	      "--max-downtime", "1");
	expect_ok(r, CLI_MIGRATE);
	assert_int_equal(r->o.max_downtime_ms, 1);
	PARSE(r, "migrate", "--api-sock", "/s", "--to", "unix:m",
	      "--max-downtime", "3600000");
	expect_ok(r, CLI_MIGRATE);
	assert_int_equal(r->o.max_downtime_ms, 3600000);
	PARSE(r, "migrate", "--api-sock", "/s", "--to", "unix:m",
	      "--max-downtime", "0000300");
	expect_ok(r, CLI_MIGRATE);
	assert_int_equal(r->o.max_downtime_ms, 300);
	PARSE(r, "migrate", "--api-sock", "/s", "--to", "unix:m",
	      "--max-downtime", "50ms");
	expect_ok(r, CLI_MIGRATE);
	assert_int_equal(r->o.max_downtime_ms, 50);
	PARSE(r, "migrate", "--api-sock", "/s", "--to", "unix:m",
	      "--max-downtime", "2s");
	expect_ok(r, CLI_MIGRATE);
	assert_int_equal(r->o.max_downtime_ms, 2000);

	/* The destination: no VM description, it comes from the source. */
	PARSE(r, "run", "--incoming", "unix:/run/mig.sock");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.incoming, "unix:/run/mig.sock");
	assert_null(r->o.cfg.kernel);
	assert_null(r->o.migrate_to);
	PARSE(r, "run", "--incoming=tcp::4444", "--api-sock", "/s", "--id",
	      "vm-2", "--console", "none", "--serial-log", "/tmp/com1",
	      "--stats", "/tmp/st", "--net-override", "net0=tap3",
	      "--net-override=net1=tap4");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.incoming, "tcp::4444");
	assert_string_equal(r->o.api_sock, "/s");
	assert_int_equal(r->o.cfg.console, CONSOLE_NONE);
	assert_int_equal(r->o.n_net_overrides, 2);
	assert_string_equal(r->o.net_override[0].id, "net0");
	assert_string_equal(r->o.net_override[0].tap, "tap3");
	assert_string_equal(r->o.net_override[1].id, "net1");
	assert_string_equal(r->o.net_override[1].tap, "tap4");
	PARSE(r, "run", "--incoming", "tcp:[::]:4444", "--console", "serial");
	expect_ok(r, CLI_RUN);

	PARSE(r, "run", "--kernel", "k", "--cpu-template", "fleet.json");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.cpu_template, "fleet.json");
	assert_null(r->o.incoming);
	/* An API-configured VM takes it too (PUT /cpu-config replaces it). */
	PARSE(r, "run", "--api-sock", "/s", "--cpu-template", "fleet.json");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.cpu_template, "fleet.json");
	PARSE(r, "run", "--config-file", "vm.json", "--cpu-template", "t.json");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.cpu_template, "t.json");
	/* A destination's own template: the limit for guests it takes. */
	PARSE(r, "run", "--incoming", "unix:m", "--cpu-template", "fleet.json");
	expect_ok(r, CLI_RUN);
	assert_string_equal(r->o.cfg.cpu_template, "fleet.json");
	/* Host pages behind guest RAM: thp unless asked, also with the API
	 * and for a migration's destination (a host-side choice). */
	assert_int_equal(r->o.cfg.mem_backing, GUEST_MEM_THP);
	PARSE(r, "run", "--kernel", "k", "--mem-backing", "hugepages");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_backing, GUEST_MEM_HUGETLB);
	PARSE(r, "run", "--kernel", "k", "--mem-backing=4k");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_backing, GUEST_MEM_4K);
	PARSE(r, "run", "--api-sock", "s", "--mem-backing", "thp");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_backing, GUEST_MEM_THP);
	PARSE(r, "run", "--incoming", "unix:m", "--mem-backing", "hugepages");
	expect_ok(r, CLI_RUN);
	assert_int_equal(r->o.cfg.mem_backing, GUEST_MEM_HUGETLB);
	PARSE(r, "restore", "--state", "s", "--mem", "m", "--cpu-template", "f");
	expect_ok(r, CLI_RESTORE);
	assert_string_equal(r->o.cfg.cpu_template, "f");
	PARSE(r, "run", "--kernel", "k");
	expect_ok(r, CLI_RUN);
	assert_null(r->o.cfg.cpu_template);

	PARSE(r, "help", "migrate");
	expect_ok(r, CLI_COMMAND_HELP);
	assert_int_equal(r->o.help_cmd, CLI_MIGRATE);
	assert_ptr_not_equal(cli_command_usage(CLI_MIGRATE), cli_usage());
}

static const struct bad_case bad_commands[] = {
	{ ARGS("run", "--config-file", "f", "--kernel", "k"), "--config-file describes the whole VM" },
	{ ARGS("run", "--config-file", "f", "--disk", "d"), "--config-file describes the whole VM" },
	{ ARGS("run", "--api-sock"), "--api-sock needs a value" },
	{ ARGS("run", "--api-sock", "/s", "--paused"), "unknown option '--paused'" },
	{ ARGS("restore"), "missing --state FILE" },
	{ ARGS("restore", "--state", "s"), "missing --mem FILE" },
	{ ARGS("restore", "--mem", "m"), "missing --state FILE" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--kernel", "k"), "unknown option '--kernel'" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--console", "virtio"), "--console" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--net-override", "x"), "--net-override: 'x' is not ID=TAP" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--net-override", "=t"), "is not ID=TAP" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--net-override", "a=b/c"), "not a valid interface name" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--paused", "--paused"), "--paused given twice" },
	{ ARGS("snapshot", "--state", "s", "--mem", "m"), "missing --api-sock" },
	{ ARGS("snapshot", "--api-sock", "/s", "--mem", "m"), "missing --state FILE" },
	{ ARGS("snapshot", "--api-sock", "/s", "--state", "s"), "missing --mem FILE" },
	{ ARGS("pause"), "missing --api-sock" },
	{ ARGS("resume", "--api-sock", "/s", "--cpus", "2"), "unknown option '--cpus'" },
	{ ARGS("stats", "--api-sock", "/s", "extra"), "unexpected argument 'extra'" },
	{ ARGS("cpu-template"), "cpu-template needs at least two features files" },
	{ ARGS("cpu-template", "a.json"), "needs at least two features files" },
	{ ARGS("cpu-template", "--out", "o", "a.json"), "needs at least two" },
	{ ARGS("cpu-template", "a", ""), "empty file name" },
	{ ARGS("cpu-template", "a", "b", "--out"), "--out needs a value" },
	{ ARGS("cpu-template", "a", "b", "--out="), "--out: empty value" },
	{ ARGS("cpu-template", "a", "--out", "b"), "needs at least two" },
	{ ARGS("cpu-template", "a", "b", "--out", "x", "--out", "y"), "--out given twice" },
	{ ARGS("cpu-template", "a", "b", "--api-sock", "/s"), "unknown option '--api-sock'" },
	{ ARGS("cpu-template", "a", "b", "-"), "unknown option '-'" },
	{ ARGS("cpu-features", "a.json"), "unexpected argument 'a.json' (ringvm cpu-features takes only options)" },
	{ ARGS("cpu-features", "--kernel", "k"), "unknown option '--kernel'" },
	{ ARGS("cpu-features", "--out", "--help"), "--out needs a value (found option '--help')" },
	{ ARGS("run", "--kernel", "k", "--out", "x"), "unknown option '--out'" },
	{ ARGS("pause", "--api-sock", "/s", "a", "b"), "unexpected argument 'a'" },
	{ ARGS("migrate"), "missing --api-sock PATH (the running ringvm whose guest moves)" },
	{ ARGS("migrate", "--to", "unix:/m"), "missing --api-sock PATH" },
	{ ARGS("migrate", "--api-sock", "/s"), "missing --to URL (where `ringvm run --incoming URL` listens)" },
	{ ARGS("migrate", "--api-sock", "/s", "--to"), "--to needs a value" },
	{ ARGS("migrate", "--api-sock", "/s", "--to="), "--to: empty value" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "--auto-converge"), "--to needs a value (found option '--auto-converge')" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "/run/m.sock"), "migration address '/run/m.sock': expected unix:PATH or tcp:HOST:PORT" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:"), "no socket path" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "tcp:10.0.0.2"), "expected tcp:HOST:PORT" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "tcp:10.0.0.2:0"), "port must be 1 to 65535" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "tcp:10.0.0.2:65536"), "port must be 1 to 65535" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "tcp:dest:4444"), "'dest' is not an IPv4 or IPv6 address (names are not resolved)" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:a", "--to", "unix:b"), "--to given twice" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime"), "--max-downtime needs a value" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime="), "--max-downtime: empty value" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "0"), "--max-downtime: 0 is outside 1 ms to 3600 s" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "3600001"), "--max-downtime: 3600001 is outside 1 ms to 3600 s" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "36000000"), "--max-downtime: 36000000 is outside 1 ms to 3600 s" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "99999999999999999999999"), "is outside 1 ms to 3600 s" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "3601s"), "--max-downtime: 3601s is outside 1 ms to 3600 s" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "0ms"), "is outside 1 ms to 3600 s" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "300us"), "--max-downtime: '300us' is not a duration (N, Nms or Ns)" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "ms"), "is not a duration" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "-5"), "--max-downtime: '-5' is not a duration" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "+5"), "is not a duration" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", " 5"), "is not a duration" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "0.5"), "is not a duration" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--max-downtime", "1", "--max-downtime", "2"), "--max-downtime given twice" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--auto-converge=yes"), "--auto-converge takes no value" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--auto-converge", "--auto-converge"), "--auto-converge given twice" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "extra"), "unexpected argument 'extra' (ringvm migrate takes only options)" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--kernel", "k"), "unknown option '--kernel'" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--incoming", "unix:n"), "unknown option '--incoming'" },
	{ ARGS("migrate", "--api-sock", "/s", "--to", "unix:m", "--state", "s"), "unknown option '--state'" },
	{ ARGS("run", "--kernel", "k", "--to", "unix:m"), "unknown option '--to'" },
	{ ARGS("run", "--kernel", "k", "--max-downtime", "300"), "unknown option '--max-downtime'" },
	{ ARGS("run", "--kernel", "k", "--auto-converge"), "unknown option '--auto-converge'" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--incoming", "unix:m"), "unknown option '--incoming'" },
	{ ARGS("run", "--kernel", "k", "--mem-backing", "huge"), "--mem-backing: 'huge' is not one of thp, 4k, hugepages" },
	{ ARGS("run", "--kernel", "k", "--mem-backing="), "--mem-backing: empty value" },
	{ ARGS("restore", "--state", "s", "--mem", "m", "--mem-backing", "thp"), "--mem-backing" },
	{ ARGS("run", "--incoming"), "--incoming needs a value" },
	{ ARGS("run", "--incoming="), "--incoming: empty value" },
	{ ARGS("run", "--incoming", "4444"), "migration address '4444': expected unix:PATH or tcp:HOST:PORT" },
	{ ARGS("run", "--incoming", "tcp:any:4444"), "names are not resolved" },
	{ ARGS("run", "--incoming", "unix:a", "--incoming", "unix:b"), "--incoming given twice" },
	{ ARGS("run", "--incoming", "unix:m", "--kernel", "k"), "--incoming: the VM is the one the source sends; do not give --kernel, --config-file or device options" },
	{ ARGS("run", "--kernel", "k", "--incoming", "unix:m"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--initrd", "i"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--cmdline", "quiet"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--mem", "1G"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--cpus", "2"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--disk", "d.img"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--net", "tap=t0"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--rng"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--config-file", "vm.json"), "--incoming: the VM is the one the source sends" },
	{ ARGS("run", "--incoming", "unix:m", "--console", "virtio"), "--console: a migrated guest keeps the console it had; give serial or none" },
	{ ARGS("run", "--incoming", "unix:m", "--net-override", "net0"), "--net-override: 'net0' is not ID=TAP" },
	{ ARGS("run", "--incoming", "unix:m", "--net-override", "net0=a/b"), "not a valid interface name" },
	{ ARGS("run", "--incoming", "unix:m", "--net-override", "a=t1", "--net-override", "b=t2",
	       "--net-override", "c=t3", "--net-override", "d=t4", "--net-override", "e=t5"), "--net-override: at most 4" },
	{ ARGS("run", "--kernel", "k", "--net-override", "net0=tap1"), "--net-override goes with --incoming (or ringvm restore)" },
	{ ARGS("run", "--api-sock", "/s", "--net-override", "net0=tap1"), "--net-override goes with --incoming" },
	{ ARGS("run", "--cpu-template", "t.json"), "missing --kernel PATH" },
	{ ARGS("run", "--kernel", "k", "--cpu-template"), "--cpu-template needs a value" },
	{ ARGS("run", "--kernel", "k", "--cpu-template="), "--cpu-template: empty value" },
	{ ARGS("run", "--kernel", "k", "--cpu-template", "a", "--cpu-template", "b"), "--cpu-template given twice" },
};

static void test_bad_commands(void **state)
{
	struct result *r = *state;

	for (size_t i = 0; i < sizeof(bad_commands) / sizeof(bad_commands[0]); i++) {
		parse_list(r, bad_commands[i].args);
		if (r->rc != -1)
			fail_msg("case %zu (%s) accepted", i, bad_commands[i].args[1]);
		if (!strstr(r->err.msg, bad_commands[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, r->err.msg,
				 bad_commands[i].want);
		if (strchr(r->err.msg, '\n'))
			fail_msg("case %zu: multi-line error \"%s\"", i, r->err.msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seccomp_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_flag_separate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_flag_equals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_order_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_cmdline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_not_opened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vhost_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_pin_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_poll_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_net_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_commands, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
