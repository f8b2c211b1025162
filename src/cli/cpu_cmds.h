/* `ringvm cpu-features` and `ringvm cpu-template`: CPU templates for a
 * fleet of unlike hosts (arch/x86/cpu_template.h). */
#ifndef RINGVM_CLI_CPU_CMDS_H
#define RINGVM_CLI_CPU_CMDS_H

#include "cli/args.h"

/* cmd: CLI_CPU_FEATURES or CLI_CPU_TEMPLATE. Returns the exit status (0,
 * or 1 with one line on stderr). */
int cli_cpu(enum cli_action cmd, const struct cli_opts *o);

#endif
