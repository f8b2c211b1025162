/* The thin clients of a running ringvm's control API: `ringvm snapshot`,
 * `pause`, `resume`, `stats` and `migrate`. */
#ifndef RINGVM_CLI_CLIENT_H
#define RINGVM_CLI_CLIENT_H

#include "cli/args.h"

/* Returns the process exit status (0, or 1 with one line on stderr). */
int cli_client(enum cli_action cmd, const struct cli_opts *o);

/* "ringvm: WHAT: " and the fault_message of a 400 body (or the body). */
void cli_print_fault(const char *what, int status, const char *body);

/* `ringvm migrate` (cli/migrate_cmd.c). */
int cli_migrate(const struct cli_opts *o);

#endif
