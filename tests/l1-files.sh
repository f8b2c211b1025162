# Sourced by tests/run-all.sh and tools/harness-soak: the harness options
# that put the L1 suite (tests/l1-suite.sh) and everything it needs into the
# emulated machine. Sets the array L1_FILES; needs B (build dir) and IMG;
# the scripts come from $L1_SRC/tests (default ./tests; harness-soak points
# it at its frozen copy).
S=${L1_SRC:-.}/tests
L1_FILES=(--file "$S/l1-suite.sh" --file "$S/cli/bad_input.sh"
	--file "$S/e2e/suite.sh" --file "$S/e2e/virtio.sh"
	--file "$S/e2e/lifecycle.sh" --file "$S/e2e/snapshot_bad.sh"
	--file "$S/e2e/e2e_lib.sh" --file "$S/e2e/migrate.sh"
	--file "$S/e2e/vhost_user.sh" --file "$S/e2e/overhead.sh"
	--file "${L1_SRC:-.}/bench/overhead/container.sh" --file "$B/bench/rvmicro"
	--file "${L1_SRC:-.}/bench/overhead/rvwork"
	--file "${L1_SRC:-.}/bench/overhead/overhead-l1.sh" --file "$B/bench/exitcost"
	--file "$B/bench/exitcost-pvh.elf" --file "$B/bench/vnotify.elf"
	--file "${L1_SRC:-.}/bench/overhead/pvh_cycles.awk"
	--file "${L1_SRC:-.}/bench/overhead/pvh-run.sh"
	--file "$B/overhead/initrd-ov.cpio.gz"
	--host-bin "$(command -v unshare)"
	--file "$B/tests/e2e/state-tool" --file "$B/tests/e2e/stalled-stdout"
	--host-bin "$(command -v curl)"
	--file "$B/tests/kvm/kvm-tests" --file "$IMG/data.ext4" --file "$IMG/data.hello.txt"
	--host-bin "$(command -v debugfs)" --host-bin "$(command -v e2fsck)"
	--host-bin "$(command -v setpriv)" --host-bin "$(command -v ip)"
	--host-bin "$(command -v qemu-storage-daemon)" --host-bin "$(command -v qemu-img)"
	--host-bin /usr/lib/qemu/virtiofsd
	--file "$IMG/vmlinuz" --file "$IMG/vmlinux" --file "$IMG/initrd.cpio.gz"
	--file "$B/tests/e2e/triplefault.bzImage")
# QEMU and its firmware, the observatory's peer platform (when installed).
. "${L1_SRC:-.}/bench/lib.sh"
qemu_peer bios-256k.bin linuxboot_dma.bin kvmvapic.bin pvh.bin
L1_FILES+=("${PEER[@]}")
