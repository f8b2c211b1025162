/* The host side of KVM: opening /dev/kvm and telling which backend serves
 * it, because a software backend (kvm_pvm) cannot run stock kernels at any
 * useful speed and the user deserves to hear that up front. */
#ifndef RINGVM_VM_KVM_SYS_H
#define RINGVM_VM_KVM_SYS_H

#include "util/err.h"

enum kvm_backend {
	KVM_BACKEND_VMX,     /* kvm_intel */
	KVM_BACKEND_SVM,     /* kvm_amd */
	KVM_BACKEND_PVM,     /* kvm_pvm: guest CPL 0 is emulated */
	KVM_BACKEND_UNKNOWN,
};

/* Decides from the loaded modules under sysfs_module_dir (normally
 * /sys/module) and, failing that, the CPU flags in cpuinfo_path. */
enum kvm_backend kvm_backend_detect(const char *sysfs_module_dir,
				    const char *cpuinfo_path);
const char *kvm_backend_name(enum kvm_backend b);

/* Opens the KVM device and checks the API version and the capabilities
 * ringvm cannot do without. Returns the fd or -1. */
int kvm_open(const char *path, struct rv_err *err);

#endif
