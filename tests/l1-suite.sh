#!/bin/sh
# What the test run executes where /dev/kvm can boot stock kernels (inside
# the harness's L1 on PVM hosts): the KVM tier, the bad-input checks and the
# end-to-end tier, in that order. Files are in the current directory.
W=$(pwd)
echo "=== kvm tier"
# Tiny guests take seconds; a hang is a failure, never a stall.
timeout -k 5 "${RINGVM_KVM_TIMEOUT:-300}" ./kvm-tests
rc=$?
[ $rc = 124 ] || [ $rc = 137 ] && echo "FAIL kvm/tier: kvm-tests did not finish within ${RINGVM_KVM_TIMEOUT:-300} s"
echo "=== cli tier (bad input)"
sh ./bad_input.sh ringvm vmlinuz initrd.cpio.gz "$W/cli-tmp"
echo "=== e2e tier"
sh ./suite.sh "$W"
echo "=== e2e tier: virtio"
sh ./virtio.sh "$W"
echo "=== e2e tier: control API, pause, snapshot, restore"
sh ./lifecycle.sh "$W"
sh ./snapshot_bad.sh "$W"
echo "=== e2e tier: live migration, CPU templates"
sh ./migrate.sh "$W"
echo "=== e2e tier: vhost-user frontend"
sh ./vhost_user.sh "$W"
echo "=== e2e tier: overhead observatory platforms"
sh ./overhead.sh "$W"
echo "=== l1 suite done"
