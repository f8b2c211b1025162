/* The thin clients of a running ringvm's control API: `ringvm snapshot`,
 * `pause`, `resume` and `stats`. */
#ifndef RINGVM_CLI_CLIENT_H
#define RINGVM_CLI_CLIENT_H

#include "cli/args.h"

/* Returns the process exit status (0, or 1 with one line on stderr). */
int cli_client(enum cli_action cmd, const struct cli_opts *o);

#endif
