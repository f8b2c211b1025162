/* KVM's own exit accounting: the binary statistics file (KVM_GET_STATS_FD,
 * Documentation/virt/kvm/api.rst) of a VM or a vCPU, read whole each time
 * and printed as "NAME VALUE UNIT" lines next to ringvm's counters. It
 * counts what never reaches ringvm: halts, interrupt windows, page faults,
 * exits KVM handles in the kernel. */
#ifndef RINGVM_VM_KVM_STATS_H
#define RINGVM_VM_KVM_STATS_H

#include <stdio.h>

/* Prints "PREFIX_NAME VALUE UNIT" for every scalar statistic of the
 * statistics file stats_fd (histograms are left out). UNIT is count,
 * bytes, cycles, bool, or ns/us/ms/s for times. Returns the number of
 * lines, or -1 when the file is not a statistics file this code
 * understands (nothing printed then). */
int kvm_stats_print(int stats_fd, const char *prefix, FILE *out);

/* kvm_stats_print for the statistics of a VM or vCPU fd; 0 lines when the
 * kernel has no binary statistics (before Linux 5.14). */
int kvm_stats_print_fd(int kvm_obj_fd, const char *prefix, FILE *out);

#endif
