#include "vm/kvm_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static bool module_loaded(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Looks for a whole word in the "flags" line of /proc/cpuinfo. */
static bool cpu_has_flag(const char *cpuinfo_path, const char *flag)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen(cpuinfo_path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p, *save = NULL;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		p = strchr(line, ':');
		if (!p)
			continue;
		for (p = strtok_r(p + 1, " \t\n", &save); p;
		     p = strtok_r(NULL, " \t\n", &save))
			if (strcmp(p, flag) == 0) {
				found = true;
				break;
			}
		break; /* the first CPU's flags are enough */
	}
	fclose(f);
	return found;
}

enum kvm_backend kvm_backend_detect(const char *sysfs_module_dir,
				    const char *cpuinfo_path)
{
	/* A hardware module wins: kvm_pvm may be loaded beside it. */
	if (module_loaded(sysfs_module_dir, "kvm_intel"))
		return KVM_BACKEND_VMX;
	if (module_loaded(sysfs_module_dir, "kvm_amd"))
		return KVM_BACKEND_SVM;
	if (module_loaded(sysfs_module_dir, "kvm_pvm"))
		return KVM_BACKEND_PVM;
	if (cpu_has_flag(cpuinfo_path, "vmx"))
		return KVM_BACKEND_VMX;
	if (cpu_has_flag(cpuinfo_path, "svm"))
		return KVM_BACKEND_SVM;
	return KVM_BACKEND_UNKNOWN;
}

const char *kvm_backend_name(enum kvm_backend b)
{
	switch (b) {
	case KVM_BACKEND_VMX:
		return "vmx (kvm_intel)";
	case KVM_BACKEND_SVM:
		return "svm (kvm_amd)";
	case KVM_BACKEND_PVM:
		return "pvm (kvm_pvm)";
	default:
		return "unknown";
	}
}

int kvm_open(const char *path, struct rv_err *err)
{
	static const struct {
		int cap;
		const char *name;
	} required[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	};
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int ver;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
			return rv_fail(err,
				"cannot open %s: %s; KVM is not available on this host (load kvm_intel or kvm_amd, or run inside tools/ringvm-harness)",
				path, strerror(errno));
		return rv_fail_errno(err, "cannot open %s", path);
	}
	ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver < 0) {
		rv_fail_errno(err, "%s is not a KVM device", path);
		close(fd);
		return -1;
	}
	if (ver != KVM_API_VERSION) {
		close(fd);
		return rv_fail(err, "%s: KVM API version %d, need %d", path,
			       ver, KVM_API_VERSION);
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0) {
			close(fd);
			return rv_fail(err, "%s lacks %s", path, required[i].name);
		}
	}
	return fd;
}
