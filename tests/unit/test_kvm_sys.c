/* Backend detection: a PVM host must be recognised (so a stock kernel is
 * refused fast), hardware hosts must not be mistaken for one. Uses a fake
 * /sys/module and /proc/cpuinfo in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vm/kvm_sys.h"

struct fake {
	char root[64];
	char mods[96];
	char cpuinfo[96];
};

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	snprintf(f->root, sizeof(f->root), "/tmp/rv-kvmsys-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(f->mods, sizeof(f->mods), "%s/module", f->root);
	snprintf(f->cpuinfo, sizeof(f->cpuinfo), "%s/cpuinfo", f->root);
	mkdir(f->mods, 0755);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void add_module(struct fake *f, const char *name)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", f->mods, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void write_cpuinfo(struct fake *f, const char *flags)
{
	FILE *c = fopen(f->cpuinfo, "w");

	assert_non_null(c);
	fprintf(c, "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: %s\n\n"
		   "processor\t: 1\nflags\t\t: %s\n", flags, flags);
	fclose(c);
}

static void test_pvm_host(void **state)
{
	struct fake *f = *state;

	add_module(f, "kvm");
	add_module(f, "kvm_pvm");
	write_cpuinfo(f, "fpu vme de pse tsc msr pae hypervisor");
	assert_int_equal(kvm_backend_detect(f->mods, f->cpuinfo), KVM_BACKEND_PVM);
	assert_non_null(strstr(kvm_backend_name(KVM_BACKEND_PVM), "kvm_pvm"));
}

static void test_hardware_module_wins(void **state)
{
	struct fake *f = *state;

	add_module(f, "kvm_pvm");
	add_module(f, "kvm_amd");
	write_cpuinfo(f, "fpu svm");
	assert_int_equal(kvm_backend_detect(f->mods, f->cpuinfo), KVM_BACKEND_SVM);
}

static void test_intel_module(void **state)
{
	struct fake *f = *state;

	add_module(f, "kvm_intel");
	write_cpuinfo(f, "fpu");
	assert_int_equal(kvm_backend_detect(f->mods, f->cpuinfo), KVM_BACKEND_VMX);
}

static void test_builtin_kvm_uses_cpu_flags(void **state)
{
	struct fake *f = *state;

	/* KVM built into the kernel: no module directories, only CPU flags. */
	write_cpuinfo(f, "fpu vmx ept");
	assert_int_equal(kvm_backend_detect(f->mods, f->cpuinfo), KVM_BACKEND_VMX);
	write_cpuinfo(f, "fpu svm npt");
	assert_int_equal(kvm_backend_detect(f->mods, f->cpuinfo), KVM_BACKEND_SVM);
}

static void test_flag_must_be_whole_word(void **state)
{
	struct fake *f = *state;

	write_cpuinfo(f, "fpu vmxfoo svm_lock xsvm");
	assert_int_equal(kvm_backend_detect(f->mods, f->cpuinfo),
			 KVM_BACKEND_UNKNOWN);
}

static void test_missing_files(void **state)
{
	(void)state;
	assert_int_equal(kvm_backend_detect("/nonexistent/module",
					    "/nonexistent/cpuinfo"),
			 KVM_BACKEND_UNKNOWN);
}

static void test_open_errors(void **state)
{
	struct fake *f = *state;
	struct rv_err err;

	assert_int_equal(kvm_open("/nonexistent/kvm", &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/kvm"));
	assert_non_null(strstr(err.msg, "not available"));
	/* A regular file is not a KVM device. */
	write_cpuinfo(f, "fpu");
	assert_int_equal(kvm_open(f->cpuinfo, &err), -1);
	assert_non_null(strstr(err.msg, "not a KVM device"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pvm_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardware_module_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intel_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtin_kvm_uses_cpu_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_must_be_whole_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
