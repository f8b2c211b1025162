/* Command-line parsing for `ringvm`. Pure: no files are opened here, so every
 * bad flag can be unit tested. */
#ifndef RINGVM_CLI_ARGS_H
#define RINGVM_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "util/version.h"
#include "vm/config.h"


/* The commands, then the other things the command line can ask for. The
 * commands' values index a bit mask in args.c: keep them first. */
enum cli_action {
	CLI_RUN,
	CLI_RESTORE,
	CLI_SNAPSHOT,
	CLI_PAUSE,
	CLI_RESUME,
	CLI_STATS,
	CLI_MIGRATE,       /* ringvm migrate --api-sock S --to URL */
	CLI_CPU_FEATURES,  /* ringvm cpu-features */
	CLI_CPU_TEMPLATE,  /* ringvm cpu-template FILE... */
	CLI_TOP,           /* ringvm top --api-sock S */
	CLI_BACKEND,       /* ringvm backend blk --socket S --disk F */
	CLI_HELP,          /* ringvm --help / ringvm help */
	CLI_COMMAND_HELP,  /* ringvm COMMAND --help / ringvm help COMMAND */
	CLI_VERSION,
};

/* cpu-template's features files, the only positional arguments. */
#define CLI_MAX_INPUTS 64

/* Everything the command line said. */
struct cli_opts {
	struct vm_config cfg;       /* run: the VM; restore: its options */
	const char *api_sock;
	const char *config_file;
	const char *id;
	const char *state_path;     /* snapshot, restore */
	const char *mem_path;       /* snapshot, restore: the memory file */
	bool paused;                /* restore */
	bool console_set;           /* --console given */
	struct { const char *id, *tap; } net_override[VM_MAX_NICS];
	unsigned int n_net_overrides;
	enum cli_action help_cmd;   /* with CLI_COMMAND_HELP */
	const char *out_path;       /* cpu-features, cpu-template: --out */
	const char *inputs[CLI_MAX_INPUTS];   /* cpu-template: the files */
	unsigned int ninputs;
	const char *incoming;       /* run --incoming URL */
	const char *migrate_to;     /* migrate --to URL */
	uint32_t max_downtime_ms;   /* migrate; 0: the VMM's default */
	bool auto_converge;         /* migrate */
	uint32_t max_bandwidth_mib; /* migrate; 0: no cap */
	uint32_t interval_ms;       /* top: between reports (default 1 s) */
	uint32_t count;             /* top: reports, then exit; 0: until ^C */
	const char *backend_kind;   /* backend: "blk" or "net" */
	const char *backend_tap;    /* backend net --tap */
	uint8_t backend_mac[6];     /* backend net --mac */
	bool backend_mac_set;
	const char *socket_path;    /* backend --socket */
	uint32_t queues;            /* backend --queues; 0: 1 */
	uint32_t queue_size;        /* backend --queue-size; 0: 128 */
};

/* Parses argv (argv[0] is the program name). On error returns -1 with a
 * one-line message naming the offending flag or value.
 * The strings in o point into argv. Like getsubopt(3), the values of --disk,
 * --net and --net-override are split in place (',' and '=' become NUL), so
 * argv's strings must be writable (main's are) and are parsed once. */
int cli_parse(int argc, char *const argv[], enum cli_action *action,
	      struct cli_opts *o, struct rv_err *err);

/* Usage texts (what --help prints, exit codes included). */
const char *cli_usage(void);
const char *cli_command_usage(enum cli_action cmd);

#endif
