#include "cli/args.h"

#include <stdbool.h>
#include <string.h>

#include "util/size.h"

/* Guest RAM is mapped in whole pages. */
#define MEM_ALIGN 4096u
/* Linux's IFNAMSIZ including the NUL. */
#define TAP_NAME_MAX 15

#define STR_(x) #x
#define STR(x) STR_(x)

enum flag_id {
	F_KERNEL,
	F_INITRD,
	F_CMDLINE,
	F_MEM,
	F_CPUS,
	F_DISK,
	F_NET,
	F_CONSOLE,
	F_RNG,
	F_SERIAL_LOG,
	F_ALLOW_SLOW,
	F_STATS,
	F_HELP,
};

struct flag {
	const char *name;   /* without the leading "--" */
	enum flag_id id;
	bool has_value;
	bool repeatable;
};

static const struct flag run_flags[] = {
	{ "kernel",             F_KERNEL,     true,  false },
	{ "initrd",             F_INITRD,     true,  false },
	{ "cmdline",            F_CMDLINE,    true,  false },
	{ "mem",                F_MEM,        true,  false },
	{ "cpus",               F_CPUS,       true,  false },
	{ "disk",               F_DISK,       true,  true  },
	{ "net",                F_NET,        true,  true  },
	{ "console",            F_CONSOLE,    true,  false },
	{ "rng",                F_RNG,        false, false },
	{ "serial-log",         F_SERIAL_LOG, true,  false },
	{ "allow-slow-backend", F_ALLOW_SLOW, false, false },
	{ "stats",              F_STATS,      true,  false },
	{ "help",               F_HELP,       false, false },
};

static const char usage_text[] =
"usage: ringvm run --kernel PATH [options]   boot a Linux guest\n"
"       ringvm --help | ringvm help          this text\n"
"       ringvm run --help                    options of `run`\n"
"       ringvm --version                     print the version\n"
"\n"
"ringvm is a virtual machine monitor on Linux KVM. It boots an unmodified\n"
"Linux kernel (bzImage) with a serial console and virtio devices.\n"
"Short forms: -h for --help, -V for --version.\n"
"Run `ringvm run --help` for every option of `run` and its default.\n"
"\n"
"EXIT STATUS\n"
"  0      the guest powered off or rebooted, or Ctrl-A x was typed\n"
"  1      usage or setup error (bad option, unreadable kernel, no /dev/kvm);\n"
"         one line on stderr says what is wrong\n"
"  2      the guest crashed (triple fault, KVM internal error, emulation\n"
"         failure); a register dump is printed on stderr\n"
"  128+N  ringvm was terminated by signal N (on SIGINT or SIGTERM it stops\n"
"         the guest first)\n";

static const char run_usage_text[] =
"usage: ringvm run --kernel PATH [options]\n"
"\n"
"Boots a Linux kernel in a new virtual machine and runs it until the guest\n"
"powers off, reboots or crashes. Options take `--opt value` or `--opt=value`.\n"
"\n"
"  --kernel PATH        Linux kernel to boot: a bzImage, or an ELF vmlinux\n"
"                       with a PVH entry note (required)\n"
"  --initrd PATH        initial ramdisk (default: none)\n"
"  --cmdline STR        kernel command line, passed byte for byte\n"
"                       (default: empty; ringvm adds nothing, so give\n"
"                       console=ttyS0 for a serial console)\n"
"  --mem SIZE           guest RAM, with optional K/M/G/T suffix (binary);\n"
"                       a multiple of 4K from 16M to 1T (default: 256M)\n"
"  --cpus N             number of vCPUs, 1 to " STR(VM_MAX_VCPUS) " (default: 1)\n"
"  --disk PATH[,ro][,direct]\n"
"                       virtio-blk disk backed by a file; ro: read-only,\n"
"                       direct: O_DIRECT (bypass the host page cache).\n"
"                       Repeat for up to " STR(VM_MAX_DISKS) " disks (default: none)\n"
"  --net tap=IFNAME[,mac=MAC]\n"
"                       virtio-net NIC on a host TAP interface (created if\n"
"                       missing; configure the host end yourself);\n"
"                       MAC as 52:54:00:12:34:56, unicast (default: chosen\n"
"                       by ringvm). Repeat for up to " STR(VM_MAX_NICS) " NICs (default: none)\n"
"  --console serial|virtio|none\n"
"                       where stdin/stdout go: serial = COM1 (ttyS0),\n"
"                       virtio = virtio-console (hvc0), none = ringvm leaves\n"
"                       stdin and stdout alone (default: serial)\n"
"  --serial-log PATH    also write COM1 output to PATH (created, or truncated\n"
"                       if it exists), in any console mode (default: none)\n"
"  --rng                add a virtio-rng device (entropy from the host)\n"
"                       (default: off)\n"
"  --allow-slow-backend run even when /dev/kvm is kvm_pvm (see below)\n"
"  --stats PATH         when the guest stops, write counters to PATH as\n"
"                       \"NAME VALUE UNIT\" lines: VM exits per vCPU, peak\n"
"                       RSS, resident guest RAM, per-device requests,\n"
"                       bytes, notifications, interrupts (default: none)\n"
"  -h, --help           this text\n"
"\n"
"CONSOLE\n"
"  When stdin is a terminal it is put in raw mode for the run and restored\n"
"  on exit, so Ctrl-C reaches the guest. Escape keys: Ctrl-A x quits\n"
"  ringvm, Ctrl-A Ctrl-A sends one Ctrl-A to the guest, Ctrl-A h lists them.\n"
"\n"
"PVM HOSTS\n"
"  On a host whose /dev/kvm is provided by kvm_pvm (no VMX/SVM), a stock\n"
"  kernel's ring-0 code is emulated instruction by instruction and would take\n"
"  many minutes to boot, so ringvm refuses it unless --allow-slow-backend is\n"
"  given. Run such guests inside the emulated SVM machine that\n"
"  tools/ringvm-harness sets up instead.\n"
"\n"
"EXIT STATUS\n"
"  0      the guest powered off or rebooted, or Ctrl-A x was typed\n"
"  1      usage or setup error; one line on stderr says what is wrong\n"
"  2      the guest crashed (triple fault, KVM internal error, emulation\n"
"         failure); a register dump is printed on stderr\n"
"  128+N  ringvm was terminated by signal N (on SIGINT or SIGTERM it stops\n"
"         the guest first)\n";

const char *cli_usage(void)
{
	return usage_text;
}

const char *cli_run_usage(void)
{
	return run_usage_text;
}

static void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = "";
	cfg->mem_size = VM_DEFAULT_MEM;
	cfg->ncpus = 1;
	cfg->console = CONSOLE_SERIAL;
}

static const struct flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(run_flags) / sizeof(run_flags[0]); i++) {
		if (strlen(run_flags[i].name) == len &&
		    memcmp(run_flags[i].name, name, len) == 0)
			return &run_flags[i];
	}
	return NULL;
}

static int parse_cpus(const char *v, unsigned int *out, struct rv_err *err)
{
	unsigned long n = 0;
	const char *p = v;

	/* Digits only: strtoul would accept " +7" and wrap "-1". */
	if (*p < '0' || *p > '9')
		return rv_fail(err, "--cpus: '%.64s' is not a number", v);
	/* Stop growing past the limit: no overflow on any digit count. */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n <= VM_MAX_VCPUS)
			n = n * 10 + (unsigned long)(*p - '0');
	}
	if (*p)
		return rv_fail(err, "--cpus: '%.64s' is not a number", v);
	if (n == 0 || n > VM_MAX_VCPUS)
		return rv_fail(err, "--cpus: %.64s is out of range (1 to %d)", v,
			       VM_MAX_VCPUS);
	*out = (unsigned int)n;
	return 0;
}

static int parse_mem(const char *v, uint64_t *out, struct rv_err *err)
{
	uint64_t n;

	if (parse_size(v, &n) < 0)
		return rv_fail(err, "--mem: '%.64s' is not a size (examples: 512M, 2G)",
			       v);
	if (n < VM_MIN_MEM)
		return rv_fail(err, "--mem: %.64s is below the minimum of %lluM",
			       v, VM_MIN_MEM >> 20);
	if (n > VM_MAX_MEM)
		return rv_fail(err, "--mem: %.64s is above the maximum of %lluT",
			       v, VM_MAX_MEM >> 40);
	if (n % MEM_ALIGN)
		return rv_fail(err, "--mem: %.64s is not a multiple of 4K", v);
	*out = n;
	return 0;
}

static int parse_console(const char *v, enum console_mode *out,
			 struct rv_err *err)
{
	if (strcmp(v, "serial") == 0)
		*out = CONSOLE_SERIAL;
	else if (strcmp(v, "virtio") == 0)
		*out = CONSOLE_VIRTIO;
	else if (strcmp(v, "none") == 0)
		*out = CONSOLE_NONE;
	else
		return rv_fail(err, "--console: '%.64s' is not one of serial, virtio, none",
			       v);
	return 0;
}

/* Cuts s at the next ',' (in place) and returns what follows, or NULL. */
static char *cut_comma(char *s)
{
	char *c = strchr(s, ',');

	if (!c)
		return NULL;
	*c = '\0';
	return c + 1;
}

static int parse_disk(char *v, struct vm_config *cfg, struct rv_err *err)
{
	struct disk_config d = { .path = v };
	char *opt;

	if (cfg->ndisks >= VM_MAX_DISKS)
		return rv_fail(err, "--disk: too many disks (at most %d)",
			       VM_MAX_DISKS);
	opt = cut_comma(v);
	if (!*v)
		return rv_fail(err, "--disk: missing PATH before the options");
	while (opt) {
		char *next = cut_comma(opt);

		if (strcmp(opt, "ro") == 0)
			d.readonly = true;
		else if (strcmp(opt, "direct") == 0)
			d.direct = true;
		else
			return rv_fail(err, "--disk %.200s: unknown option '%.64s' (expected ro or direct)",
				       v, opt);
		opt = next;
	}
	cfg->disk[cfg->ndisks++] = d;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "52:54:00:12:34:56": six two-digit hex pairs separated by ':'. */
static int parse_mac(const char *s, uint8_t mac[6], struct rv_err *err)
{
	bool zero = true;

	if (strlen(s) != 17)
		goto bad;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
		if (mac[i])
			zero = false;
	}
	/* The I/G bit: a NIC's own address must be unicast. */
	if (mac[0] & 1)
		return rv_fail(err, "--net: mac=%.64s is a multicast address", s);
	if (zero)
		return rv_fail(err, "--net: mac=%.64s is the all-zero address", s);
	return 0;
bad:
	return rv_fail(err, "--net: mac=%.64s is not a MAC address like 52:54:00:12:34:56",
		       s);
}

/* What Linux's dev_valid_name() accepts, so TUNSETIFF cannot fail on it. */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TAP_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++) {
		if (*s == '/' || *s == ':' || *s == ' ' ||
		    (*s >= '\t' && *s <= '\r'))
			return false;
	}
	return true;
}

static int check_nic_unique(const struct vm_config *cfg,
			    const struct nic_config *n, struct rv_err *err)
{
	for (unsigned int i = 0; i < cfg->nnics; i++) {
		const struct nic_config *o = &cfg->nic[i];

		if (strcmp(o->tap, n->tap) == 0)
			return rv_fail(err, "--net: tap=%s is used twice", n->tap);
		if (o->mac_set && n->mac_set && !memcmp(o->mac, n->mac, 6))
			return rv_fail(err, "--net: the same mac is given to two NICs");
	}
	return 0;
}

static int parse_net(char *v, struct vm_config *cfg, struct rv_err *err)
{
	struct nic_config n = { 0 };
	char *opt = v;

	if (cfg->nnics >= VM_MAX_NICS)
		return rv_fail(err, "--net: too many NICs (at most %d)",
			       VM_MAX_NICS);
	while (opt) {
		char *next = cut_comma(opt);

		if (strncmp(opt, "tap=", 4) == 0) {
			if (n.tap)
				return rv_fail(err, "--net: tap= given twice");
			n.tap = opt + 4;
			if (!valid_ifname(n.tap))
				return rv_fail(err, "--net: tap=%.64s is not a valid interface name (1 to %d characters, no '/', ':' or blanks)",
					       n.tap, TAP_NAME_MAX);
		} else if (strncmp(opt, "mac=", 4) == 0) {
			if (n.mac_set)
				return rv_fail(err, "--net: mac= given twice");
			if (parse_mac(opt + 4, n.mac, err) < 0)
				return -1;
			n.mac_set = true;
		} else {
			return rv_fail(err, "--net: unknown option '%.64s' (expected tap=IFNAME or mac=MAC)",
				       opt);
		}
		opt = next;
	}
	if (!n.tap)
		return rv_fail(err, "--net: missing tap=IFNAME");
	if (check_nic_unique(cfg, &n, err) < 0)
		return -1;
	cfg->nic[cfg->nnics++] = n;
	return 0;
}

static int non_empty(const struct flag *f, const char *v, struct rv_err *err)
{
	if (*v)
		return 0;
	return rv_fail(err, "--%s: empty value", f->name);
}

/* Applies one flag; value is NULL for flags without one. */
static int apply_flag(const struct flag *f, char *value, struct vm_config *cfg,
		      struct rv_err *err)
{
	if (f->has_value && f->id != F_CMDLINE && non_empty(f, value, err) < 0)
		return -1;
	switch (f->id) {
	case F_KERNEL:
		cfg->kernel = value;
		return 0;
	case F_INITRD:
		cfg->initrd = value;
		return 0;
	case F_CMDLINE:
		cfg->cmdline = value;
		return 0;
	case F_MEM:
		return parse_mem(value, &cfg->mem_size, err);
	case F_CPUS:
		return parse_cpus(value, &cfg->ncpus, err);
	case F_DISK:
		return parse_disk(value, cfg, err);
	case F_NET:
		return parse_net(value, cfg, err);
	case F_CONSOLE:
		return parse_console(value, &cfg->console, err);
	case F_RNG:
		cfg->rng = true;
		return 0;
	case F_SERIAL_LOG:
		cfg->serial_log = value;
		return 0;
	case F_ALLOW_SLOW:
		cfg->allow_slow_backend = true;
		return 0;
	case F_STATS:
		cfg->stats_path = value;
		return 0;
	case F_HELP:
		return 0;
	}
	return rv_fail(err, "internal error: unhandled flag --%s", f->name);
}

static int parse_run(int argc, char *const argv[], enum cli_action *action,
		     struct vm_config *cfg, struct rv_err *err)
{
	unsigned int seen = 0;

	for (int i = 2; i < argc; i++) {
		char *arg = argv[i], *value = NULL, *eq;
		const struct flag *f;

		if (!strcmp(arg, "-h")) {
			*action = CLI_RUN_HELP;
			return 0;
		}
		if (arg[0] != '-')
			return rv_fail(err, "unexpected argument '%.64s' (ringvm run takes only options)",
				       arg);
		if (arg[1] != '-')
			return rv_fail(err, "unknown option '%.64s'",
				       arg);
		eq = strchr(arg + 2, '=');
		f = find_flag(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		if (!f)
			return rv_fail(err, "unknown option '%.*s'",
				       eq ? (int)(eq - arg) : 64, arg);
		if (f->id == F_HELP && !eq) {
			*action = CLI_RUN_HELP;
			return 0;
		}
		if (eq && !f->has_value)
			return rv_fail(err, "--%s takes no value", f->name);
		if (eq) {
			value = eq + 1;
		} else if (f->has_value) {
			if (i + 1 >= argc)
				return rv_fail(err, "--%s needs a value", f->name);
			value = argv[++i];
			/* "--kernel --mem 1G" is a forgotten value, not a
			 * file named "--mem" (that one needs --kernel=--mem).
			 * A command line may legitimately start with "--". */
			if (f->id != F_CMDLINE && !strncmp(value, "--", 2))
				return rv_fail(err, "--%s needs a value (found option '%.64s')",
					       f->name, value);
		}
		if (!f->repeatable && (seen & 1u << f->id))
			return rv_fail(err, "--%s given twice", f->name);
		seen |= 1u << f->id;
		if (apply_flag(f, value, cfg, err) < 0)
			return -1;
	}
	if (!cfg->kernel)
		return rv_fail(err, "missing --kernel PATH");
	*action = CLI_RUN;
	return 0;
}

/* Help and version take no further arguments, except `ringvm help run`. */
static int parse_simple(int argc, char *const argv[], enum cli_action act,
			enum cli_action *action, struct rv_err *err)
{
	if (act == CLI_HELP && argc == 3 && !strcmp(argv[2], "run")) {
		*action = CLI_RUN_HELP;
		return 0;
	}
	if (argc > 2)
		return rv_fail(err, "unexpected argument '%.64s' after '%.64s'",
			       argv[2], argv[1]);
	*action = act;
	return 0;
}

int cli_parse(int argc, char *const argv[], enum cli_action *action,
	      struct vm_config *cfg, struct rv_err *err)
{
	const char *cmd;

	config_defaults(cfg);
	if (argc < 2 || !argv[1])
		return rv_fail(err, "missing command");
	cmd = argv[1];
	if (!strcmp(cmd, "run"))
		return parse_run(argc, argv, action, cfg, err);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
		return parse_simple(argc, argv, CLI_HELP, action, err);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") ||
	    !strcmp(cmd, "version"))
		return parse_simple(argc, argv, CLI_VERSION, action, err);
	if (cmd[0] == '-')
		return rv_fail(err, "unknown option '%.64s'",
			       cmd);
	return rv_fail(err, "unknown command '%.64s'", cmd);
}
