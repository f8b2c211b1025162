/* What this host's KVM offers a guest, read with system ioctls on the
 * /dev/kvm fd (Documentation/virt/kvm/api.rst: KVM_GET_SUPPORTED_CPUID,
 * KVM_GET_MSR_FEATURE_INDEX_LIST, KVM_GET_MSRS on the system fd). */
#include "arch/x86/cpu_template_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

int x86_feature_msrs_read(int kvm_fd, struct x86_msr_values *out,
			  struct rv_err *err)
{
	/* struct kvm_msr_list with room for its indices. */
	struct {
		uint32_t nmsrs;
		uint32_t index[CPU_TEMPLATE_MAX_MSRS];
	} list;
	struct x86_msr_values *buf;
	unsigned int n = 0;

	memset(out, 0, sizeof(*out));
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES) <= 0)
		return 0;
	memset(&list, 0, sizeof(list));
	list.nmsrs = CPU_TEMPLATE_MAX_MSRS;
	if (ioctl(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &list) < 0) {
		if (errno == E2BIG)
			return rv_fail(err, "KVM lists %u feature MSRs (ringvm takes %d)",
				       list.nmsrs, CPU_TEMPLATE_MAX_MSRS);
		return rv_fail_errno(err, "KVM_GET_MSR_FEATURE_INDEX_LIST");
	}
	if (list.nmsrs > CPU_TEMPLATE_MAX_MSRS)
		return rv_fail(err, "KVM lists %u feature MSRs (ringvm takes %d)",
			       list.nmsrs, CPU_TEMPLATE_MAX_MSRS);
	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return rv_fail(err, "out of memory for the feature MSRs");
	/* KVM_GET_MSRS stops at the first MSR it cannot read: skip that one
	 * and go on from the next. */
	for (unsigned int i = 0; i < list.nmsrs;) {
		unsigned int m = list.nmsrs - i;
		int r;

		buf->head.nmsrs = m;
		for (unsigned int j = 0; j < m; j++)
			buf->entry[j] = (struct kvm_msr_entry){
				.index = list.index[i + j] };
		r = ioctl(kvm_fd, KVM_GET_MSRS, buf);
		if (r < 0) {
			free(buf);
			return rv_fail_errno(err, "KVM_GET_MSRS (feature MSRs)");
		}
		for (int j = 0; j < r && (unsigned int)j < m; j++)
			out->entry[n++] = buf->entry[j];
		i += (unsigned int)r + 1;
	}
	free(buf);
	out->head.nmsrs = n;
	return 0;
}

int x86_cpu_features_probe(int kvm_fd, struct cpu_template *out,
			   struct rv_err *err)
{
	struct x86_cpuid *cpuid = calloc(1, sizeof(*cpuid));
	struct x86_msr_values *msrs = calloc(1, sizeof(*msrs));
	int rc = -1;

	if (!cpuid || !msrs) {
		rv_fail(err, "out of memory");
		goto out;
	}
	cpuid->head.nent = X86_CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		rv_fail_errno(err, "KVM_GET_SUPPORTED_CPUID");
		goto out;
	}
	if (x86_feature_msrs_read(kvm_fd, msrs, err) < 0)
		goto out;
	rc = x86_cpu_features_from_kvm(cpuid, msrs, out, err);
out:
	free(cpuid);
	free(msrs);
	return rc;
}
