/* ringvm: parse the command line and hand over to the command: run or
 * restore a VM (cli/run.c), talk to a running one (cli/client.c), or
 * make CPU templates (cli/cpu_cmds.c), or serve a device to another
 * monitor (cli/backend_cmd.c). */
#include <signal.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/backend_cmd.h"
#include "cli/client.h"
#include "cli/cpu_cmds.h"
#include "cli/run.h"
#include "cli/top.h"
#include "vm/vm.h"

int main(int argc, char *argv[])
{
	struct cli_opts opts;
	enum cli_action action;
	struct rv_err err = { { 0 } };

	/* A closed stdout or API client must not kill the VMM mid-write. */
	signal(SIGPIPE, SIG_IGN);

	if (cli_parse(argc, argv, &action, &opts, &err) < 0) {
		fprintf(stderr, "ringvm: %s (see 'ringvm --help')\n", err.msg);
		return RINGVM_EXIT_SETUP;
	}
	switch (action) {
	case CLI_HELP:
		fputs(cli_usage(), stdout);
		return RINGVM_EXIT_OK;
	case CLI_COMMAND_HELP:
		fputs(cli_command_usage(opts.help_cmd), stdout);
		return RINGVM_EXIT_OK;
	case CLI_VERSION:
		printf("ringvm %s\n", RINGVM_VERSION);
		return RINGVM_EXIT_OK;
	case CLI_RUN:
	case CLI_RESTORE:
		return cli_run(action, &opts);
	case CLI_SNAPSHOT:
	case CLI_PAUSE:
	case CLI_RESUME:
	case CLI_STATS:
		return cli_client(action, &opts);
	case CLI_MIGRATE:
		return cli_migrate(&opts);
	case CLI_TOP:
		return cli_top(&opts);
	case CLI_CPU_FEATURES:
	case CLI_CPU_TEMPLATE:
		return cli_cpu(action, &opts);
	case CLI_BACKEND:
		return cli_backend(&opts);
	}
	return RINGVM_EXIT_SETUP;
}
