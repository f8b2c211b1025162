#include "cli/args.h"

#include <stdbool.h>
#include <string.h>

#include "migrate/mig_transport.h"
#include "util/event_loop.h"
#include "util/size.h"
#include "virtio/net.h"

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
	F_FS,
	F_SERIAL_LOG,
	F_ALLOW_SLOW,
	F_SECCOMP,
	F_MEM_MERGE,
	F_STATS,
	F_API_SOCK,
	F_CONFIG_FILE,
	F_ID,
	F_STATE,
	F_PAUSED,
	F_NET_OVERRIDE,
	F_OUT,
	F_INCOMING,
	F_TO,
	F_MAX_DOWNTIME,
	F_AUTO_CONVERGE,
	F_MAX_BANDWIDTH,
	F_CPU_TEMPLATE,
	F_MEM_BACKING,
	F_CPU_PIN,
	F_IO_POLL,
	F_INTERVAL,
	F_COUNT,
	F_SOCKET,
	F_QUEUES,
	F_QUEUE_SIZE,
	F_TAP,
	F_MAC,
	F_HELP,
};
_Static_assert(F_HELP < 64, "flags are tracked in a 64-bit set");

/* Which commands take a flag. */
#define C_RUN      (1u << CLI_RUN)
#define C_RESTORE  (1u << CLI_RESTORE)
#define C_SNAPSHOT (1u << CLI_SNAPSHOT)
#define C_CLIENT   (1u << CLI_PAUSE | 1u << CLI_RESUME | 1u << CLI_STATS)
#define C_MIGRATE  (1u << CLI_MIGRATE)
#define C_TOP      (1u << CLI_TOP)
#define C_ALL      (C_RUN | C_RESTORE | C_SNAPSHOT | C_CLIENT | C_MIGRATE | C_TOP)
#define C_CPU      (1u << CLI_CPU_FEATURES | 1u << CLI_CPU_TEMPLATE)
#define C_BACKEND  (1u << CLI_BACKEND)

struct flag {
	const char *name;   /* without the leading "--" */
	enum flag_id id;
	bool has_value;
	bool repeatable;
	unsigned int cmds;
};

static const struct flag flags[] = {
	{ "kernel",             F_KERNEL,       true,  false, C_RUN },
	{ "initrd",             F_INITRD,       true,  false, C_RUN },
	{ "cmdline",            F_CMDLINE,      true,  false, C_RUN },
	{ "mem",                F_MEM,          true,  false, C_RUN | C_SNAPSHOT | C_RESTORE },
	{ "cpus",               F_CPUS,         true,  false, C_RUN },
	{ "disk",               F_DISK,         true,  true,  C_RUN | C_BACKEND },
	{ "net",                F_NET,          true,  true,  C_RUN },
	{ "console",            F_CONSOLE,      true,  false, C_RUN | C_RESTORE },
	{ "rng",                F_RNG,          false, false, C_RUN },
	{ "fs",                 F_FS,           true,  true,  C_RUN },
	{ "serial-log",         F_SERIAL_LOG,   true,  false, C_RUN | C_RESTORE },
	{ "allow-slow-backend", F_ALLOW_SLOW,   false, false, C_RUN | C_RESTORE },
	{ "seccomp",            F_SECCOMP,      true,  false, C_RUN | C_RESTORE | C_BACKEND },
	{ "mem-merge",          F_MEM_MERGE,    false, false, C_RUN | C_RESTORE },
	{ "stats",              F_STATS,        true,  false, C_RUN | C_RESTORE | C_BACKEND },
	{ "api-sock",           F_API_SOCK,     true,  false, C_ALL },
	{ "config-file",        F_CONFIG_FILE,  true,  false, C_RUN },
	{ "id",                 F_ID,           true,  false, C_RUN | C_RESTORE },
	{ "state",              F_STATE,        true,  false, C_SNAPSHOT | C_RESTORE },
	{ "paused",             F_PAUSED,       false, false, C_RESTORE },
	{ "net-override",       F_NET_OVERRIDE, true,  true,  C_RESTORE | C_RUN },
	{ "out",                F_OUT,          true,  false, C_CPU },
	{ "incoming",           F_INCOMING,     true,  false, C_RUN },
	{ "to",                 F_TO,           true,  false, C_MIGRATE },
	{ "max-downtime",       F_MAX_DOWNTIME, true,  false, C_MIGRATE },
	{ "auto-converge",      F_AUTO_CONVERGE, false, false, C_MIGRATE },
	{ "max-bandwidth",      F_MAX_BANDWIDTH, true, false, C_MIGRATE },
	{ "cpu-template",       F_CPU_TEMPLATE, true,  false, C_RUN | C_RESTORE },
	{ "mem-backing",        F_MEM_BACKING,  true,  false, C_RUN },
	{ "cpu-pin",            F_CPU_PIN,      true,  false, C_RUN | C_RESTORE },
	{ "io-poll",            F_IO_POLL,      true,  false, C_RUN | C_RESTORE },
	{ "interval",           F_INTERVAL,     true,  false, C_TOP },
	{ "count",              F_COUNT,        true,  false, C_TOP },
	{ "socket",             F_SOCKET,       true,  false, C_BACKEND },
	{ "queues",             F_QUEUES,       true,  false, C_BACKEND },
	{ "queue-size",         F_QUEUE_SIZE,   true,  false, C_BACKEND },
	{ "tap",                F_TAP,          true,  false, C_BACKEND },
	{ "mac",                F_MAC,          true,  false, C_BACKEND },
	{ "help",               F_HELP,         false, false, C_ALL | C_CPU | C_BACKEND },
};

static const char usage_text[] =
"usage: ringvm run --kernel PATH [options]   boot a Linux guest\n"
"       ringvm run --api-sock PATH [options] a VM driven by the control API\n"
"       ringvm restore --state F --mem F     bring a snapshot back to life\n"
"       ringvm snapshot --api-sock PATH --state F --mem F\n"
"                                            snapshot a running VM\n"
"       ringvm pause|resume --api-sock PATH  pause or resume a running VM\n"
"       ringvm stats --api-sock PATH         a running VM's counters (JSON)\n"
"       ringvm top --api-sock PATH           its exits and device accesses\n"
"                                            per second, refreshed\n"
"       ringvm migrate --api-sock PATH --to URL\n"
"                                            move a running VM to another\n"
"                                            ringvm (run --incoming URL)\n"
"       ringvm cpu-features [--out FILE]     what this host offers a guest\n"
"       ringvm cpu-template FILE FILE... [--out FILE]\n"
"                                            a CPU template for those hosts\n"
"       ringvm backend blk --socket PATH --disk PATH\n"
"       ringvm backend net --socket PATH --tap IFNAME\n"
"                                            serve a disk or a NIC to a\n"
"                                            vhost-user frontend (QEMU,\n"
"                                            UML, ringvm)\n"
"       ringvm --help | ringvm help [COMMAND] this text, or a command's\n"
"       ringvm --version                     print the version\n"
"\n"
"ringvm is a virtual machine monitor on Linux KVM. It boots an unmodified\n"
"Linux kernel (bzImage) with a serial console and virtio devices, and can\n"
"be managed over a Firecracker-compatible HTTP API on a Unix socket.\n"
"Short forms: -h for --help, -V for --version.\n"
"Run `ringvm COMMAND --help` for every option of a command.\n"
"\n"
"EXIT STATUS\n"
"  0      the guest powered off or rebooted, moved to another ringvm, or\n"
"         Ctrl-A x was typed; for snapshot, pause, resume, stats and\n"
"         migrate: the request succeeded; for\n"
"         cpu-features and cpu-template: the JSON was written\n"
"  1      usage or setup error (bad option, unreadable kernel, no /dev/kvm,\n"
"         a snapshot refused, no ringvm on the socket); one line on stderr\n"
"         says what is wrong\n"
"  2      the guest crashed (triple fault, KVM internal error, emulation\n"
"         failure); a register dump is printed on stderr\n"
"         (backend: the last frontend disconnected after SIGINT or\n"
"         SIGTERM)\n"
"  128+N  ringvm was terminated by signal N (on SIGINT or SIGTERM it stops\n"
"         the guest first); 159 (SIGSYS): a thread made a system call\n"
"         its seccomp allow-list denies, named on stderr\n";

static const char run_usage_text[] =
"usage: ringvm run --kernel PATH [options]\n"
"       ringvm run --api-sock PATH [--config-file FILE] [options]\n"
"       ringvm run --incoming URL [options]\n"
"\n"
"Boots a Linux kernel in a new virtual machine and runs it until the guest\n"
"powers off, reboots or crashes. Options take `--opt value` or `--opt=value`.\n"
"\n"
"  --kernel PATH        Linux kernel to boot: a bzImage, or an ELF vmlinux\n"
"                       with a PVH entry note (required unless --api-sock\n"
"                       or --config-file)\n"
"  --initrd PATH        initial ramdisk (default: none)\n"
"  --cmdline STR        kernel command line, passed byte for byte\n"
"                       (default: empty; ringvm adds nothing, so give\n"
"                       console=ttyS0 for a serial console)\n"
"  --mem SIZE           guest RAM, with optional K/M/G/T suffix (binary);\n"
"                       a multiple of 4K from 16M to 1T (default: 256M)\n"
"  --mem-backing thp|4k|hugepages\n"
"                       host pages behind guest RAM: thp = 4 KiB pages with\n"
"                       transparent huge pages asked for (madvise), 4k =\n"
"                       never huge, hugepages = 2 MiB hugetlbfs pages,\n"
"                       reserved at start (refused when the host has too\n"
"                       few: see /proc/sys/vm/nr_hugepages; --mem must be a\n"
"                       multiple of 2M) (default: thp)\n"
"  --cpus N             number of vCPUs, 1 to " STR(VM_MAX_VCPUS) " (default: 1)\n"
"  --cpu-pin CPU,CPU... pin vCPU i to host CPU number i of the list (one\n"
"                       per vCPU, each among the CPUs ringvm may run on;\n"
"                       default: vCPUs run wherever the host schedules)\n"
"  --io-poll USEC       device I/O threads keep polling for work up to USEC\n"
"                       microseconds (0 to " STR(EV_POLL_MAX_US) ", adapted to how soon\n"
"                       work comes) before they sleep: lower latency, more\n"
"                       host CPU (default: 0, sleep at once)\n"
"  --disk PATH[,ro][,direct]\n"
"                       virtio-blk disk backed by a file; ro: read-only,\n"
"                       direct: O_DIRECT (bypass the host page cache).\n"
"  --disk vhost-user=SOCKET\n"
"                       virtio-blk disk served by another process over\n"
"                       vhost-user (ringvm backend blk, qemu-storage-\n"
"                       daemon); guest RAM is then shared (a memfd).\n"
"                       Repeat for up to " STR(VM_MAX_DISKS) " disks (default: none)\n"
"  --fs tag=TAG,socket=PATH\n"
"                       a host directory shared with the guest (virtio-fs):\n"
"                       virtiofsd serves it on PATH; in the guest,\n"
"                       mount -t virtiofs TAG /mnt. Guest RAM is then\n"
"                       shared (a memfd). Up to " STR(VM_MAX_FS) " of them\n"
"  --net tap=IFNAME[,mac=MAC][,queues=N][,vhost=on]\n"
"                       virtio-net NIC on a host TAP interface (created if\n"
"                       missing; configure the host end yourself);\n"
"                       MAC as 52:54:00:12:34:56, unicast (default: chosen\n"
"                       by ringvm); queues=N: N queue pairs on a multi-\n"
"                       queue TAP (ip tuntap add ... multi_queue), the\n"
"                       guest spreading its flows over them (at most 16);\n"
"                       vhost=on: the kernel's vhost-net moves (one\n"
"                       instance per pair) the packets (/dev/vhost-net;\n"
"                       no snapshots then).\n"
"  --net vhost-user=SOCKET\n"
"                       virtio-net NIC served by another process over\n"
"                       vhost-user (ringvm backend net); guest RAM is then\n"
"                       shared (a memfd).\n"
"                       Repeat for up to " STR(VM_MAX_NICS) " NICs (default: none)\n"
"  --console serial|virtio|none\n"
"                       where stdin/stdout go: serial = COM1 (ttyS0),\n"
"                       virtio = virtio-console (hvc0), none = ringvm leaves\n"
"                       stdin and stdout alone (default: serial)\n"
"  --serial-log PATH    also write COM1 output to PATH (created, or truncated\n"
"                       if it exists), in any console mode (default: none)\n"
"  --rng                add a virtio-rng device (entropy from the host)\n"
"                       (default: off)\n"
"  --allow-slow-backend run even when /dev/kvm is kvm_pvm (see below)\n"
"  --seccomp on|off     confine each thread to the system calls its kind\n"
"                       needs (vCPU, device I/O, control), from before the\n"
"                       guest runs; a denied call stops ringvm with a line\n"
"                       naming it and status 159. off: for debugging\n"
"                       (default: on)\n"
"  --mem-merge          let the host's KSM merge guest pages with equal\n"
"                       content (saves memory across many guests, but a\n"
"                       guest can time another's pages); guest RAM is\n"
"                       never in ringvm's core dumps (default: off)\n"
"  --stats PATH         when the guest stops, write counters to PATH as\n"
"                       \"NAME VALUE UNIT\" lines: VM exits per vCPU, peak\n"
"                       RSS, resident guest RAM, per-device requests,\n"
"                       bytes, notifications, interrupts (default: none)\n"
"  --api-sock PATH      serve the control API (HTTP/1.1 + JSON, a subset of\n"
"                       Firecracker's) on a Unix socket created with mode\n"
"                       0600. Without --kernel, ringvm waits for the\n"
"                       configuration and InstanceStart (or a snapshot\n"
"                       load) on it (default: no API)\n"
"  --config-file FILE   configure the VM from Firecracker's JSON layout\n"
"                       (boot-source, machine-config, drives,\n"
"                       network-interfaces, entropy) and start it; not\n"
"                       with --kernel or device options\n"
"  --id ID              the instance id GET / reports (default:\n"
"                       anonymous-instance)\n"
"  --cpu-template FILE  show the guest only what a CPU template allows\n"
"                       (ringvm cpu-template), so it can move to every\n"
"                       host of a fleet; over the API, PUT /cpu-config\n"
"                       replaces it (default: the host's CPU). With\n"
"                       --incoming: this host's template; a guest that\n"
"                       shows a feature it masks is refused\n"
"  --incoming URL       receive a guest from a live migration (ringvm\n"
"                       migrate) on unix:PATH or tcp:[ADDR]:PORT (an IP\n"
"                       address; none: every IPv4 address) and run it;\n"
"                       the VM is what the source sends, so no --kernel\n"
"                       or device options. Disks are opened by the\n"
"                       source's paths (shared storage), TAPs by name\n"
"  --net-override ID=TAP\n"
"                       with --incoming: open NIC ID on TAP instead\n"
"  -h, --help           this text\n"
"\n"
"CONSOLE\n"
"  When stdin is a terminal it is put in raw mode for the run and restored\n"
"  on exit, so Ctrl-C reaches the guest. Escape keys: Ctrl-A x quits\n"
"  ringvm, Ctrl-A p pauses or resumes the guest, Ctrl-A Ctrl-A sends one\n"
"  Ctrl-A to the guest, Ctrl-A h lists them.\n"
"\n"
"PVM HOSTS\n"
"  On a host whose /dev/kvm is provided by kvm_pvm (no VMX/SVM), a stock\n"
"  kernel's ring-0 code is emulated instruction by instruction and would take\n"
"  many minutes to boot, so ringvm refuses it unless --allow-slow-backend is\n"
"  given. Run such guests inside the emulated SVM machine that\n"
"  tools/ringvm-harness sets up instead.\n"
"\n"
"EXIT STATUS\n"
"  0      the guest powered off or rebooted, moved to another ringvm, or\n"
"         Ctrl-A x was typed\n"
"  1      usage or setup error (for --incoming: the migration failed; the\n"
"         guest goes on at its source); one line on stderr says what is\n"
"         wrong\n"
"  2      the guest crashed (triple fault, KVM internal error, emulation\n"
"         failure); a register dump is printed on stderr\n"
"         (backend: the last frontend disconnected after SIGINT or\n"
"         SIGTERM)\n"
"  128+N  ringvm was terminated by signal N (on SIGINT or SIGTERM it stops\n"
"         the guest first); 159 (SIGSYS): a thread made a system call\n"
"         its seccomp allow-list denies, named on stderr\n";

static const char restore_usage_text[] =
"usage: ringvm restore --state FILE --mem FILE [options]\n"
"\n"
"Builds a VM from a snapshot (ringvm snapshot, or PUT /snapshot/create)\n"
"in this new process and lets the guest go on where it was: its processes,\n"
"open files and TCP sessions carry on. The memory file is mapped, not read\n"
"(and never written): restoring takes as long for 1 GiB as for 64 MiB, and\n"
"one snapshot can be restored any number of times. Disks are opened again\n"
"by path, TAP interfaces by name. A snapshot that does not check out (a\n"
"truncated, corrupted, foreign or newer state file, a memory file of the\n"
"wrong size, CPU features this host lacks) is refused before anything runs.\n"
"\n"
"  --state FILE         the state file (required)\n"
"  --mem FILE           the memory file (required)\n"
"  --paused             keep the guest paused (resume it over the API)\n"
"  --api-sock PATH      serve the control API on PATH (see ringvm run)\n"
"  --net-override ID=TAP\n"
"                       open NIC ID (its iface_id, or netN for --net NICs)\n"
"                       on TAP instead of the name in the snapshot\n"
"  --cpu-template FILE  this host's CPU template: a guest that shows a\n"
"                       feature it masks is refused\n"
"  --console serial|none\n"
"                       the serial console on stdin/stdout, or not (a\n"
"                       guest with a virtio console keeps it on stdio)\n"
"  --serial-log PATH, --stats PATH, --allow-slow-backend, --seccomp on|off,\n"
"  --mem-merge, --cpu-pin LIST, --io-poll USEC, --id ID as for ringvm run\n"
"  -h, --help           this text\n"
"\n"
"EXIT STATUS: as for ringvm run.\n";

static const char snapshot_usage_text[] =
"usage: ringvm snapshot --api-sock PATH --state FILE --mem FILE\n"
"\n"
"Takes a Full snapshot of the VM served on PATH: a running guest is paused,\n"
"saved and resumed (a paused one stays paused). Two files are written, each\n"
"in place only once both are complete: the state (versioned, checksummed)\n"
"and guest RAM (sparse where it is zero). Restore with ringvm restore.\n"
"Exit status 0 on success, 1 with one line on stderr otherwise; the guest\n"
"keeps running either way.\n";

static const char client_usage_text[] =
"usage: ringvm pause --api-sock PATH\n"
"       ringvm resume --api-sock PATH\n"
"       ringvm stats --api-sock PATH\n"
"\n"
"Clients of a running ringvm's control API: pause the guest (every vCPU\n"
"and device stopped, no CPU used), resume it exactly where it stopped, or\n"
"print its counters as JSON (GET /stats). Exit status 0 on success, 1\n"
"with one line on stderr otherwise.\n";

static const char migrate_usage_text[] =
"usage: ringvm migrate --api-sock PATH --to URL [--max-downtime TIME]\n"
"                      [--auto-converge] [--max-bandwidth MIB]\n"
"\n"
"Moves the running guest served on PATH to another ringvm started with\n"
"`ringvm run --incoming URL`, while it runs: all of its RAM first, then\n"
"what it wrote meanwhile, round after round, until the rest fits in the\n"
"allowed pause; then the last pages and the device state, and the guest\n"
"goes on there (its processes, TCP sessions and disk writes carry on).\n"
"The source ringvm then exits with status 0. One progress line per\n"
"round goes to stderr.\n"
"\n"
"Both ends must reach the same disk images by the same paths (shared\n"
"storage) and their TAP interfaces by name (or --net-override at the\n"
"destination); the destination must offer every CPU feature the guest\n"
"was started with (see ringvm cpu-template).\n"
"\n"
"  --to URL             unix:PATH or tcp:ADDR:PORT (an IP address)\n"
"  --max-downtime TIME  the longest pause the guest may see: N or Nms\n"
"                       (milliseconds), Ns (seconds) (default: 300ms)\n"
"  --auto-converge      when the guest writes faster than the link\n"
"                       carries, hold its vCPUs a growing share of the\n"
"                       time (20%, then 10% more each time, up to 99%)\n"
"                       instead of giving up\n"
"  --max-bandwidth MIB  send at most MIB MiB per second while the guest\n"
"                       runs (the last pages, once it is paused, go at\n"
"                       full speed), to leave the link to others\n"
"                       (default: no cap)\n"
"  -h, --help           this text\n"
"\n"
"Exit status 0 once the guest runs at the destination; 1 with one line\n"
"on stderr otherwise, and the guest goes on here as it was.\n";

static const char top_usage_text[] =
"usage: ringvm top --api-sock PATH [--interval TIME] [--count N]\n"
"\n"
"A running VM's counters as rates, refreshed like kvm_stat: every counter\n"
"of GET /stats that moved during the interval (VM exits by vCPU, the port\n"
"and MMIO accesses each device model took, KVM's own exit counters,\n"
"device requests and interrupts), busiest first, with its total and its\n"
"rate per second.\n"
"\n"
"  --interval TIME      between reports: N or Nms (milliseconds), Ns\n"
"                       (seconds) (default: 1s)\n"
"  --count N            print N reports one after the other, then exit\n"
"                       (default: refresh in place until interrupted)\n"
"  -h, --help           this text\n"
"\n"
"Exit status 0 after --count reports (or on Ctrl-C); 1 with one line on\n"
"stderr when the VM cannot be asked (gone, not a ringvm).\n";

static const char cpu_usage_text[] =
"usage: ringvm cpu-features [--out FILE]\n"
"       ringvm cpu-template FILE FILE... [--out FILE]\n"
"\n"
"CPU templates show a guest only what every host of a fleet offers, so it\n"
"can be restored or migrated to any of them. The files use Firecracker's\n"
"custom CPU template JSON layout (cpuid_modifiers, msr_modifiers).\n"
"\n"
"    ringvm cpu-features > hostA.json         # on one host of each kind\n"
"    ringvm cpu-template hostA.json hostB.json > fleet.json\n"
"\n"
"cpu-features prints what this host's KVM offers a guest: every CPUID\n"
"leaf (KVM_GET_SUPPORTED_CPUID) and every feature MSR, with all bits\n"
"given (a features file).\n"
"\n"
"cpu-template prints the intersection of two or more features files: a\n"
"template that forces off every feature bit some host lacks, lowers the\n"
"maximum CPUID leaves and address sizes to the smallest, and removes the\n"
"CPUID leaves some host lacks. Files of different CPU vendors are\n"
"refused.\n"
"\n"
"  --out FILE           write the JSON to FILE (created, or truncated if\n"
"                       it exists) instead of stdout\n"
"  -h, --help           this text\n"
"\n"
"Exit status 0 on success, 1 with one line on stderr otherwise.\n";

const char *cli_usage(void)
{
	return usage_text;
}

static const char backend_usage_text[] =
"usage: ringvm backend blk --socket PATH --disk PATH[,ro][,direct]\n"
"                         [--queues N] [--queue-size N] [--seccomp on|off]\n"
"                         [--stats PATH]\n"
"       ringvm backend net --socket PATH --tap IFNAME [--mac MAC]\n"
"                         [--seccomp on|off] [--stats PATH]\n"
"\n"
"Serves a virtio-blk disk or a virtio-net NIC, out of process, to a\n"
"vhost-user frontend that connects to the Unix socket PATH: ringvm (run\n"
"--disk vhost-user=PATH, --net vhost-user=PATH), QEMU (-chardev\n"
"socket,path=PATH -device vhost-user-blk-pci or -netdev vhost-user) or\n"
"User Mode Linux (virtio_uml.device=PATH:2 for a disk, :1 for a NIC). The\n"
"frontend shares its guest RAM; this process serves the queues with the\n"
"same code as ringvm's own devices (requests and io_uring for a disk; the\n"
"TAP, offloads and mergeable buffers for a NIC), so a fault here cannot\n"
"take the monitor with it. One\n"
"frontend at a time; when it goes, the next may connect (a restarted VMM\n"
"reconnects). Needs no privileges beyond the image and the socket's\n"
"directory.\n"
"\n"
"  --socket PATH        where to listen (a stale socket file is replaced;\n"
"                       one in use is refused)\n"
"  --disk PATH[,ro][,direct]\n"
"                       the raw image; ro: read-only, direct: O_DIRECT\n"
"  --queues N           request queues offered (default 1; the frontend\n"
"                       may use fewer)\n"
"  --queue-size N       the largest queue the frontend should use, which\n"
"                       bounds the segments per request (default 128)\n"
"  --tap IFNAME         net: the host TAP interface (an existing one this\n"
"                       user owns, or created, which needs CAP_NET_ADMIN)\n"
"  --mac MAC            net: the NIC's address (default: chosen at random)\n"
"  --seccomp on|off     system call allow-lists (default on)\n"
"  --stats PATH         counters as NAME VALUE UNIT lines to PATH on exit\n"
"  -h, --help           this text\n"
"\n"
"Runs until SIGINT or SIGTERM (exit status 0), or 1 with one line on\n"
"stderr if it cannot start. A frontend that breaks the protocol is\n"
"disconnected with one line on stderr; the back end goes on.\n";

const char *cli_command_usage(enum cli_action cmd)
{
	switch (cmd) {
	case CLI_RUN:
		return run_usage_text;
	case CLI_RESTORE:
		return restore_usage_text;
	case CLI_SNAPSHOT:
		return snapshot_usage_text;
	case CLI_PAUSE:
	case CLI_RESUME:
	case CLI_STATS:
		return client_usage_text;
	case CLI_MIGRATE:
		return migrate_usage_text;
	case CLI_TOP:
		return top_usage_text;
	case CLI_CPU_FEATURES:
	case CLI_CPU_TEMPLATE:
		return cpu_usage_text;
	case CLI_BACKEND:
		return backend_usage_text;
	default:
		return usage_text;
	}
}

static void opts_defaults(struct cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cfg.cmdline = "";
	o->cfg.mem_size = VM_DEFAULT_MEM;
	o->cfg.ncpus = 1;
	o->cfg.console = CONSOLE_SERIAL;
	o->cfg.seccomp = true;
	o->interval_ms = 1000;
}

static const struct flag *find_flag(enum cli_action cmd, const char *name,
				    size_t len)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if ((flags[i].cmds & (1u << cmd)) &&
		    strlen(flags[i].name) == len &&
		    memcmp(flags[i].name, name, len) == 0)
			return &flags[i];
	}
	return NULL;
}

/* A decimal count for --FLAG, lo to hi (hi below ULONG_MAX / 10). */
static int parse_count(const char *flag, const char *v, unsigned long lo,
		       unsigned long hi, unsigned long *out, struct rv_err *err)
{
	unsigned long n = 0;
	const char *p = v;

	/* Digits only: strtoul would accept " +7" and wrap "-1". */
	if (*p < '0' || *p > '9')
		return rv_fail(err, "--%s: '%.64s' is not a number", flag, v);
	/* Stop growing past the limit: no overflow on any digit count. */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n <= hi)
			n = n * 10 + (unsigned long)(*p - '0');
	}
	if (*p)
		return rv_fail(err, "--%s: '%.64s' is not a number", flag, v);
	if (n < lo || n > hi)
		return rv_fail(err, "--%s: %.64s is out of range (%lu to %lu)",
			       flag, v, lo, hi);
	*out = n;
	return 0;
}

static int parse_cpus(const char *v, unsigned int *out, struct rv_err *err)
{
	unsigned long n;

	if (parse_count("cpus", v, 1, VM_MAX_VCPUS, &n, err) < 0)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

static int parse_io_poll(const char *v, uint32_t *out, struct rv_err *err)
{
	unsigned long n;

	if (parse_count("io-poll", v, 0, EV_POLL_MAX_US, &n, err) < 0)
		return -1;
	*out = (uint32_t)n;
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

/* A duration, 1 ms to an hour: N (milliseconds), Nms or Ns. */
static int parse_ms(const char *flag, const char *v, uint32_t *out,
		    struct rv_err *err)
{
	unsigned long n = 0, scale = 1;
	const char *p = v;

	for (; *p >= '0' && *p <= '9'; p++)
		if (n <= 3600000)      /* beyond, it stays out of range */
			n = n * 10 + (unsigned long)(*p - '0');
	if (!strcmp(p, "s"))
		scale = 1000;
	else if (*p && strcmp(p, "ms"))
		p = v;
	if (p == v)
		return rv_fail(err, "--%s: '%.32s' is not a duration (N, Nms or Ns)", flag, v);
	if (n < 1 || n > 3600000 / scale)
		return rv_fail(err, "--%s: %.32s is outside 1 ms to 3600 s", flag, v);
	*out = (uint32_t)(n * scale);
	return 0;
}

/* A whole number from 1 to 1000000 (digits only). */
static int parse_1m(const char *flag, const char *v, uint32_t *out,
		    struct rv_err *err)
{
	unsigned long n = 0;
	const char *p = v;

	for (; *p >= '0' && *p <= '9'; p++)
		if (n <= 1000000)
			n = n * 10 + (unsigned long)(*p - '0');
	if (p == v || *p || n < 1 || n > 1000000)
		return rv_fail(err, "--%s: '%.32s' is not a number from 1 to 1000000",
			       flag, v);
	*out = (uint32_t)n;
	return 0;
}

static int parse_mem_backing(const char *v, enum guest_mem_backing *out,
			     struct rv_err *err)
{
	static const enum guest_mem_backing all[] = {
		GUEST_MEM_THP, GUEST_MEM_4K, GUEST_MEM_HUGETLB,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(v, guest_mem_backing_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return rv_fail(err, "--mem-backing: '%.64s' is not one of thp, 4k, hugepages", v);
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
	if (!strncmp(v, "vhost-user=", 11)) {
		d.path = v + 11;
		d.vhost_user = true;
		if (!*d.path)
			return rv_fail(err, "--disk vhost-user=: missing the socket path");
		/* Read-only and caching are the back end's to decide. */
		if (opt)
			return rv_fail(err, "--disk vhost-user=%.200s: no options go with a vhost-user disk (got '%.64s'; give them to the back end)",
				       d.path, opt);
		cfg->disk[cfg->ndisks++] = d;
		return 0;
	}
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
	if (!strncmp(v, "vhost-user=", 11)) {
		n.tap = v + 11;
		n.vhost_user = true;
		if (strchr(n.tap, ','))
			return rv_fail(err, "--net vhost-user=%.200s: no options go with a vhost-user NIC (the back end has its MAC and TAP)",
				       n.tap);
		if (!*n.tap)
			return rv_fail(err, "--net vhost-user=: missing the socket path");
		if (check_nic_unique(cfg, &n, err) < 0)
			return -1;
		cfg->nic[cfg->nnics++] = n;
		return 0;
	}
	while (opt) {
		char *next = cut_comma(opt);

		if (strncmp(opt, "tap=", 4) == 0) {
			if (n.tap)
				return rv_fail(err, "--net: tap= given twice");
			n.tap = opt + 4;
			if (!valid_ifname(n.tap))
				return rv_fail(err, "--net: tap=%.64s is not a valid interface name (1 to %d characters, no '/', ':' or blanks)",
					       n.tap, TAP_NAME_MAX);
		} else if (!strcmp(opt, "vhost=on") || !strcmp(opt, "vhost=off")) {
			n.vhost = !strcmp(opt, "vhost=on");
		} else if (!strncmp(opt, "queues=", 7)) {
			uint32_t q;

			if (parse_1m("net queues", opt + 7, &q, err) < 0)
				return -1;
			if (q > VIRTIO_NET_MAX_PAIRS)
				return rv_fail(err, "--net: queues=%u (at most %d queue pairs)",
					       q, VIRTIO_NET_MAX_PAIRS);
			n.queues = q;
		} else if (strncmp(opt, "mac=", 4) == 0) {
			if (n.mac_set)
				return rv_fail(err, "--net: mac= given twice");
			if (parse_mac(opt + 4, n.mac, err) < 0)
				return -1;
			n.mac_set = true;
		} else {
			return rv_fail(err, "--net: unknown option '%.64s' (expected tap=IFNAME, mac=MAC, queues=N or vhost=on|off)",
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

static int parse_fs(char *v, struct vm_config *cfg, struct rv_err *err)
{
	struct fs_config f = { 0 };
	char *opt = v;

	if (cfg->nfs >= VM_MAX_FS)
		return rv_fail(err, "--fs: too many shared directories (at most %d)",
			       VM_MAX_FS);
	while (opt) {
		char *next = cut_comma(opt);

		if (!strncmp(opt, "tag=", 4) && !f.tag)
			f.tag = opt + 4;
		else if (!strncmp(opt, "socket=", 7) && !f.socket)
			f.socket = opt + 7;
		else
			return rv_fail(err, "--fs: unexpected '%.64s' (expected tag=TAG,socket=PATH, each once)",
				       opt);
		opt = next;
	}
	if (!f.tag || !*f.tag || strlen(f.tag) > VM_FS_TAG_MAX)
		return rv_fail(err, "--fs: tag=TAG of 1 to %d bytes is missing",
			       VM_FS_TAG_MAX);
	if (!f.socket || !*f.socket)
		return rv_fail(err, "--fs: missing socket=PATH (virtiofsd's)");
	for (unsigned int i = 0; i < cfg->nfs; i++)
		if (!strcmp(cfg->fs[i].tag, f.tag))
			return rv_fail(err, "--fs: tag %.64s given twice", f.tag);
	cfg->fs[cfg->nfs++] = f;
	return 0;
}

static int non_empty(const struct flag *f, const char *v, struct rv_err *err)
{
	if (*v)
		return 0;
	return rv_fail(err, "--%s: empty value", f->name);
}

/* "ID=TAP" of --net-override. */
static int parse_override(char *v, struct cli_opts *o, struct rv_err *err)
{
	char *eq = strchr(v, '=');

	if (o->n_net_overrides >= VM_MAX_NICS)
		return rv_fail(err, "--net-override: at most %d", VM_MAX_NICS);
	if (!eq || eq == v || !eq[1])
		return rv_fail(err, "--net-override: '%.64s' is not ID=TAP", v);
	*eq = '\0';
	if (!valid_ifname(eq + 1))
		return rv_fail(err, "--net-override: TAP '%.64s' is not a valid interface name",
			       eq + 1);
	o->net_override[o->n_net_overrides].id = v;
	o->net_override[o->n_net_overrides].tap = eq + 1;
	o->n_net_overrides++;
	return 0;
}

/* Applies one flag of command cmd; value is NULL for flags without one. */
static int apply_flag(enum cli_action cmd, const struct flag *f, char *value,
		      struct cli_opts *o, struct rv_err *err)
{
	struct vm_config *cfg = &o->cfg;

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
		/* run: the RAM size; snapshot and restore: the memory file. */
		if (cmd != CLI_RUN) {
			o->mem_path = value;
			return 0;
		}
		return parse_mem(value, &cfg->mem_size, err);
	case F_CPUS:
		return parse_cpus(value, &cfg->ncpus, err);
	case F_DISK:
		return parse_disk(value, cfg, err);
	case F_NET:
		return parse_net(value, cfg, err);
	case F_CONSOLE:
		o->console_set = true;
		if (parse_console(value, &cfg->console, err) < 0)
			return -1;
		if (cmd == CLI_RESTORE && cfg->console == CONSOLE_VIRTIO)
			return rv_fail(err, "--console: a restored guest keeps the console it had; give serial or none");
		return 0;
	case F_FS:
		return parse_fs(value, cfg, err);
	case F_RNG:
		cfg->rng = true;
		return 0;
	case F_MEM_BACKING:
		return parse_mem_backing(value, &cfg->mem_backing, err);
	case F_CPU_PIN:
		return cpu_pin_parse(value, &cfg->cpu_pin, err);
	case F_IO_POLL:
		return parse_io_poll(value, &cfg->io_poll_us, err);
	case F_SERIAL_LOG:
		cfg->serial_log = value;
		return 0;
	case F_ALLOW_SLOW:
		cfg->allow_slow_backend = true;
		return 0;
	case F_SECCOMP:
		if (strcmp(value, "on") && strcmp(value, "off"))
			return rv_fail(err, "--seccomp: '%.64s' is not on or off",
				       value);
		cfg->seccomp = !strcmp(value, "on");
		return 0;
	case F_MEM_MERGE:
		cfg->mem_merge = true;
		return 0;
	case F_STATS:
		cfg->stats_path = value;
		return 0;
	case F_API_SOCK:
		o->api_sock = value;
		return 0;
	case F_CONFIG_FILE:
		o->config_file = value;
		return 0;
	case F_ID:
		o->id = value;
		return 0;
	case F_STATE:
		o->state_path = value;
		return 0;
	case F_PAUSED:
		o->paused = true;
		return 0;
	case F_NET_OVERRIDE:
		return parse_override(value, o, err);
	case F_OUT:
		o->out_path = value;
		return 0;
	case F_INCOMING:
		o->incoming = value;
		return mig_url_check(value, err);
	case F_TO:
		o->migrate_to = value;
		return mig_url_check(value, err);
	case F_MAX_DOWNTIME:
		return parse_ms("max-downtime", value, &o->max_downtime_ms, err);
	case F_INTERVAL:
		return parse_ms("interval", value, &o->interval_ms, err);
	case F_COUNT:
		return parse_1m("count", value, &o->count, err);
	case F_SOCKET:
		if (!*value)
			return rv_fail(err, "--socket: empty path");
		o->socket_path = value;
		return 0;
	case F_QUEUES:
		return parse_1m("queues", value, &o->queues, err);
	case F_TAP:
		if (!valid_ifname(value))
			return rv_fail(err, "--tap %.64s is not a valid interface name (1 to %d characters, no '/', ':' or blanks)",
				       value, TAP_NAME_MAX);
		o->backend_tap = value;
		return 0;
	case F_MAC:
		o->backend_mac_set = true;
		return parse_mac(value, o->backend_mac, err);
	case F_QUEUE_SIZE:
		return parse_1m("queue-size", value, &o->queue_size, err);
	case F_MAX_BANDWIDTH:
		return parse_1m("max-bandwidth", value, &o->max_bandwidth_mib, err);
	case F_AUTO_CONVERGE:
		o->auto_converge = true;
		return 0;
	case F_CPU_TEMPLATE:
		cfg->cpu_template = value;
		return 0;
	case F_HELP:
		return 0;
	}
	return rv_fail(err, "internal error: unhandled flag --%s", f->name);
}

/* What each command needs beyond well-formed flags. */
static int check_command(enum cli_action cmd, uint64_t seen,
			 const struct cli_opts *o, struct rv_err *err)
{
	const uint64_t device_flags = 1ULL << F_KERNEL | 1ULL << F_INITRD |
		1ULL << F_CMDLINE | 1ULL << F_MEM | 1ULL << F_CPUS |
		1ULL << F_DISK | 1ULL << F_NET | 1ULL << F_RNG | 1ULL << F_FS;

	switch (cmd) {
	case CLI_RUN:
		if (o->incoming && (seen & (device_flags | 1ULL << F_CONFIG_FILE)))
			return rv_fail(err, "--incoming: the VM is the one the source sends; do not give --kernel, --config-file or device options");
		if (o->incoming && o->cfg.console == CONSOLE_VIRTIO)
			return rv_fail(err, "--console: a migrated guest keeps the console it had; give serial or none");
		if (!o->incoming && o->n_net_overrides)
			return rv_fail(err, "--net-override goes with --incoming (or ringvm restore)");
		if (o->incoming)
			return 0;
		if (o->config_file && (seen & device_flags))
			return rv_fail(err, "--config-file describes the whole VM: do not give --kernel, --mem, --cpus, --disk, --net, --rng, --initrd or --cmdline with it");
		if (!o->cfg.kernel && !o->config_file && !o->api_sock)
			return rv_fail(err, "missing --kernel PATH (or --api-sock PATH to configure the VM over the API, or --config-file FILE)");
		return 0;
	case CLI_RESTORE:
		if (!o->state_path || !o->mem_path)
			return rv_fail(err, "missing --%s FILE (restore needs --state and --mem)",
				       o->state_path ? "mem" : "state");
		return 0;
	case CLI_SNAPSHOT:
		if (!o->api_sock)
			return rv_fail(err, "missing --api-sock PATH (the running ringvm to snapshot)");
		if (!o->state_path || !o->mem_path)
			return rv_fail(err, "missing --%s FILE (snapshot needs --state and --mem)",
				       o->state_path ? "mem" : "state");
		return 0;
	case CLI_MIGRATE:
		if (!o->api_sock)
			return rv_fail(err, "missing --api-sock PATH (the running ringvm whose guest moves)");
		if (!o->migrate_to)
			return rv_fail(err, "missing --to URL (where `ringvm run --incoming URL` listens)");
		return 0;
	case CLI_CPU_FEATURES:
		return 0;
	case CLI_BACKEND:
		if (!o->backend_kind)
			return rv_fail(err, "backend: which device? (ringvm backend blk|net ...)");
		if (strcmp(o->backend_kind, "blk") && strcmp(o->backend_kind, "net"))
			return rv_fail(err, "backend: unknown device '%.32s' (this ringvm serves blk and net)",
				       o->backend_kind);
		if (!o->socket_path)
			return rv_fail(err, "missing --socket PATH (where the frontend connects)");
		if (!strcmp(o->backend_kind, "net")) {
			if (!o->backend_tap)
				return rv_fail(err, "backend net: missing --tap IFNAME");
			if (seen & (1ULL << F_DISK | 1ULL << F_QUEUES | 1ULL << F_QUEUE_SIZE))
				return rv_fail(err, "backend net takes --tap and --mac, not --disk, --queues or --queue-size");
			return 0;
		}
		if (seen & (1ULL << F_TAP | 1ULL << F_MAC))
			return rv_fail(err, "backend blk takes --disk, not --tap or --mac");
		if (o->cfg.ndisks != 1)
			return rv_fail(err, "backend blk serves one disk: give --disk PATH once");
		if (o->cfg.disk[0].vhost_user)
			return rv_fail(err, "backend blk serves an image file, not another back end's socket");
		if (o->queues > 64)
			return rv_fail(err, "--queues: at most 64");
		if (o->queue_size && (o->queue_size > 32768 ||
				      (o->queue_size & (o->queue_size - 1))))
			return rv_fail(err, "--queue-size: a power of two up to 32768");
		return 0;
	case CLI_CPU_TEMPLATE:
		if (o->ninputs < 2)
			return rv_fail(err, "cpu-template needs at least two features files (from ringvm cpu-features on each kind of host)");
		return 0;
	default:
		if (!o->api_sock)
			return rv_fail(err, "missing --api-sock PATH (the running ringvm to talk to)");
		return 0;
	}
}

static int parse_command(enum cli_action cmd, int argc, char *const argv[],
			 enum cli_action *action, struct cli_opts *o,
			 struct rv_err *err)
{
	const char *name = argv[1];
	uint64_t seen = 0;

	for (int i = 2; i < argc; i++) {
		char *arg = argv[i], *value = NULL, *eq;
		const struct flag *f;

		if (!strcmp(arg, "-h")) {
			o->help_cmd = cmd;
			*action = CLI_COMMAND_HELP;
			return 0;
		}
		if (arg[0] != '-' && cmd == CLI_BACKEND) {
			if (o->backend_kind)
				return rv_fail(err, "unexpected argument '%.64s' (one device kind)",
					       arg);
			o->backend_kind = arg;
			continue;
		}
		if (arg[0] != '-' && cmd == CLI_CPU_TEMPLATE) {
			if (!*arg)
				return rv_fail(err, "empty file name");
			if (o->ninputs >= CLI_MAX_INPUTS)
				return rv_fail(err, "too many features files (at most %d)",
					       CLI_MAX_INPUTS);
			o->inputs[o->ninputs++] = arg;
			continue;
		}
		if (arg[0] != '-')
			return rv_fail(err, "unexpected argument '%.64s' (ringvm %s takes only options)",
				       arg, name);
		if (arg[1] != '-')
			return rv_fail(err, "unknown option '%.64s'",
				       arg);
		eq = strchr(arg + 2, '=');
		f = find_flag(cmd, arg + 2, eq ? (size_t)(eq - arg - 2) :
			      strlen(arg + 2));
		if (!f)
			return rv_fail(err, "unknown option '%.*s'",
				       eq ? (int)(eq - arg) : 64, arg);
		if (f->id == F_HELP && !eq) {
			o->help_cmd = cmd;
			*action = CLI_COMMAND_HELP;
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
		if (!f->repeatable && (seen & 1ULL << f->id))
			return rv_fail(err, "--%s given twice", f->name);
		seen |= 1ULL << f->id;
		if (apply_flag(cmd, f, value, o, err) < 0)
			return -1;
	}
	if (check_command(cmd, seen, o, err) < 0)
		return -1;
	*action = cmd;
	return 0;
}

static const struct {
	const char *name;
	enum cli_action cmd;
} commands[] = {
	{ "run", CLI_RUN },
	{ "restore", CLI_RESTORE },
	{ "snapshot", CLI_SNAPSHOT },
	{ "pause", CLI_PAUSE },
	{ "resume", CLI_RESUME },
	{ "stats", CLI_STATS },
	{ "migrate", CLI_MIGRATE },
	{ "cpu-features", CLI_CPU_FEATURES },
	{ "cpu-template", CLI_CPU_TEMPLATE },
	{ "top", CLI_TOP },
	{ "backend", CLI_BACKEND },
};

static int find_command(const char *name, enum cli_action *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(commands[i].name, name)) {
			*cmd = commands[i].cmd;
			return 0;
		}
	}
	return -1;
}

/* Help and version take no further arguments, except `ringvm help CMD`. */
static int parse_simple(int argc, char *const argv[], enum cli_action act,
			enum cli_action *action, struct cli_opts *o,
			struct rv_err *err)
{
	enum cli_action cmd;

	if (act == CLI_HELP && argc == 3 && find_command(argv[2], &cmd) == 0) {
		o->help_cmd = cmd;
		*action = CLI_COMMAND_HELP;
		return 0;
	}
	if (argc > 2)
		return rv_fail(err, "unexpected argument '%.64s' after '%.64s'",
			       argv[2], argv[1]);
	*action = act;
	return 0;
}

int cli_parse(int argc, char *const argv[], enum cli_action *action,
	      struct cli_opts *o, struct rv_err *err)
{
	enum cli_action cmd;
	const char *name;

	opts_defaults(o);
	if (argc < 2 || !argv[1])
		return rv_fail(err, "missing command");
	name = argv[1];
	if (find_command(name, &cmd) == 0)
		return parse_command(cmd, argc, argv, action, o, err);
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help"))
		return parse_simple(argc, argv, CLI_HELP, action, o, err);
	if (!strcmp(name, "--version") || !strcmp(name, "-V") ||
	    !strcmp(name, "version"))
		return parse_simple(argc, argv, CLI_VERSION, action, o, err);
	if (name[0] == '-')
		return rv_fail(err, "unknown option '%.64s'",
			       name);
	return rv_fail(err, "unknown command '%.64s'", name);
}
