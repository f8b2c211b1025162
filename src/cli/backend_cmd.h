/* `ringvm backend blk|net`: one of ringvm's devices as a vhost-user
 * back-end process (vhost/vhost_user_backend.h), for ringvm, QEMU or
 * UML. */
#ifndef RINGVM_CLI_BACKEND_CMD_H
#define RINGVM_CLI_BACKEND_CMD_H

#include "cli/args.h"

/* Returns the exit status: 0 after SIGINT/SIGTERM, 1 with one line on
 * stderr if the back end cannot start. */
int cli_backend(const struct cli_opts *o);

#endif
