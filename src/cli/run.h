/* `ringvm run` and `ringvm restore`: build (or restore) the VM, serve the
 * control API when asked, run the guest until it stops. */
#ifndef RINGVM_CLI_RUN_H
#define RINGVM_CLI_RUN_H

#include "cli/args.h"

/* cmd: CLI_RUN or CLI_RESTORE. Returns the process exit status. */
int cli_run(enum cli_action cmd, const struct cli_opts *o);

#endif
