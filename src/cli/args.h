/* Command-line parsing for `ringvm`. Pure: no files are opened here, so every
 * bad flag can be unit tested. */
#ifndef RINGVM_CLI_ARGS_H
#define RINGVM_CLI_ARGS_H

#include <stdint.h>

#include "util/err.h"
#include "vm/config.h"

#define RINGVM_VERSION "0.1.0"

enum cli_action {
	CLI_RUN,
	CLI_HELP,          /* ringvm --help / ringvm help */
	CLI_RUN_HELP,      /* ringvm run --help */
	CLI_VERSION,
};

/* Parses argv (argv[0] is the program name). On error returns -1 with a
 * one-line message naming the offending flag or value.
 * The strings in cfg point into argv. Like getsubopt(3), the values of --disk
 * and --net are split in place (',' becomes NUL), so argv's strings must be
 * writable (main's are) and are parsed once. */
int cli_parse(int argc, char *const argv[], enum cli_action *action,
	      struct vm_config *cfg, struct rv_err *err);

/* Usage texts (what --help prints, exit codes included). */
const char *cli_usage(void);
const char *cli_run_usage(void);

#endif
