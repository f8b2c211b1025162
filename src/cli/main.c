/* ringvm: parse the command line, build the VM, run it, map the outcome to
 * an exit status. */
#include <signal.h>
#include <stdio.h>

#include "cli/args.h"
#include "vm/vm.h"

int main(int argc, char *argv[])
{
	struct vm_config cfg;
	enum cli_action action;
	struct rv_err err = { { 0 } };
	struct vm *vm;
	int status;

	/* A closed stdout must not kill the VMM mid-write. */
	signal(SIGPIPE, SIG_IGN);

	if (cli_parse(argc, argv, &action, &cfg, &err) < 0) {
		fprintf(stderr, "ringvm: %s (see 'ringvm --help')\n", err.msg);
		return RINGVM_EXIT_SETUP;
	}
	switch (action) {
	case CLI_HELP:
		fputs(cli_usage(), stdout);
		return RINGVM_EXIT_OK;
	case CLI_RUN_HELP:
		fputs(cli_run_usage(), stdout);
		return RINGVM_EXIT_OK;
	case CLI_VERSION:
		printf("ringvm %s\n", RINGVM_VERSION);
		return RINGVM_EXIT_OK;
	case CLI_RUN:
		break;
	}
	if (vm_create(&cfg, &vm, &err) < 0) {
		fprintf(stderr, "ringvm: %s\n", err.msg);
		return RINGVM_EXIT_SETUP;
	}
	status = vm_run(vm, &err);
	if (status == RINGVM_EXIT_SETUP)
		fprintf(stderr, "ringvm: %s\n", err.msg);
	vm_destroy(vm);
	return status;
}
