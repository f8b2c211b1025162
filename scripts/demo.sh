#!/bin/sh
# Boots Debian's own kernel on ringvm and lets it power off. Runs ringvm
# directly where /dev/kvm is hardware-backed (VMX/SVM), otherwise inside the
# harness's emulated SVM machine (see docs/harness.md).
set -eu
cd "$(dirname "$0")/.."
IMG=${RINGVM_IMAGES:-build/images}
HOOK=${RINGVM_DEMO_HOOK:-demo}
# quiet: the kernel's boot log stays in its dmesg (the hook quotes it); on
# a PVM host every console byte is an exit through an emulated machine
# that faults more often the more exits it takes (docs/harness.md).
CMD="ringvm run --kernel vmlinuz --initrd initrd.cpio.gz --cmdline 'console=ttyS0 quiet rvhook=$HOOK' --mem 512M --cpus 2"
echo "demo: $CMD"
set +e
tools/ringvm-harness --file "$IMG/vmlinuz" --file "$IMG/initrd.cpio.gz" -- "$CMD"
rc=$?
echo "demo: ringvm exited with status $rc"
exit $rc
