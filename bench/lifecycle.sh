#!/bin/bash
# make bench-lifecycle: pause, resume, snapshot and restore of a 256 MiB and
# a 1 GiB guest (64 MiB of it filled), median of 5 with min and max, as
# "NAME VALUE UNIT" lines, with QEMU (stop, migrate to a file, cont,
# -incoming) as the peer in the same machine. Figures, not a test.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
IMG=${RINGVM_IMAGES:-build/images}
RUNS=${BENCH_RUNS:-5}
B=build/bench
bench_guest_initrd "$B/initrd-lc.cpio.gz"

qemu_peer bios-256k.bin linuxboot_dma.bin kvmvapic.bin pvh.bin
log=$B/lifecycle.log
# One emulated machine per round: ringvm then QEMU, for one guest size.
bench_rounds lifecycle "$log" "$RUNS" "256 1024" --timeout 900 --mem 3G \
	--file bench/lifecycle-l1.sh \
	--file "$B/lifecycle_probe" --file "$IMG/vmlinux" \
	--file "$B/initrd-lc.cpio.gz:initrd-bench.cpio.gz" \
	"${PEER[@]}"
tr -d '\r' <"$log" >"$B/lifecycle.clean"
grep '^# [a-z]' "$B/lifecycle.clean" | sort | uniq -c | sed 's/^ *[0-9]* //' | sort -u || true

# stat VMM MEM STEP -> "median min max" over the rounds that succeeded.
stat() {
	grep "^RUN vmm=$1 mem=$2 step=$3 " "$B/lifecycle.clean" | grep 'status=0$' |
		sed -n 's/.* ms=\([0-9][0-9.]*\) .*/\1/p' | median_min_max %.1f
}
for mem in 256 1024; do
	for s in pause resume snapshot_create restore; do
		figure "${s}_ms_${mem}mib" "$(stat ringvm $mem $s)" ms
	done
	if grep -q "^RUN vmm=qemu mem=$mem" "$B/lifecycle.clean"; then
		for s in pause resume snapshot_create restore; do
			figure "peer_${s}_ms_${mem}mib" "$(stat qemu $mem $s)" ms
		done
	fi
done
echo "# peer: QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}') -M pc -accel kvm: stop, migrate \"exec:cat > file\", cont; restore = -incoming \"exec:cat file\" then cont (polled every 10 ms), to the guest's first tick"
echo "# restore_ms: process start to the guest running again (its first console output); in the harness, under nested emulation: compare side by side only"
