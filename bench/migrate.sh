#!/bin/bash
# make bench-migrate: live migration of a 1 GiB guest (2 vCPUs, 64 MiB
# filled) between two VMM processes on one machine over a Unix socket,
# idle and while it rewrites 256 MiB at 64 MiB/s, with a 300 ms downtime
# target: total time, downtime, data sent and rounds, median of 5 with min and
# max, as "NAME VALUE UNIT" lines, QEMU (HMP migrate to -incoming, the
# same downtime target, no bandwidth cap) as the peer in the same machine.
# Figures, not a test.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
IMG=${RINGVM_IMAGES:-build/images}
RUNS=${BENCH_RUNS:-5}
B=build/bench
bench_guest_initrd "$B/initrd-lc.cpio.gz"

qemu_peer bios-256k.bin linuxboot_dma.bin kvmvapic.bin pvh.bin
log=$B/migrate.log
# Two 1 GiB guests at once at the switch-over.
# One emulated machine per round: ringvm then QEMU, for one workload.
bench_rounds migrate "$log" "$RUNS" "idle dirty" --timeout 1200 --mem 3G \
	--file bench/migrate-l1.sh \
	--file "$B/lifecycle_probe" --file "$IMG/vmlinux" \
	--file "$B/initrd-lc.cpio.gz:initrd-bench.cpio.gz" "${PEER[@]}"
tr -d '\r' <"$log" >"$B/migrate.clean"
grep '^# qemu\|^# ringvm' "$B/migrate.clean" | grep -v "migrated to" | sort -u || true

# stat VMM WL FIELD -> "median min max" over the rounds that succeeded.
stat() {
	grep "^RUN vmm=$1 wl=$2 " "$B/migrate.clean" | grep 'status=0$' |
		sed -n "s/.* $3=\([0-9][0-9]*\) .*/\1/p" | median_min_max %d
}
fig_unit() { case $1 in *_ms) echo ms ;; *_mib) echo MiB ;; *) echo rounds ;; esac; }
for wl in idle dirty; do
	for f in total_ms downtime_ms sent_mib rounds; do
		figure "migrate_${wl}_$f" "$(stat ringvm $wl $f)" "$(fig_unit $f)"
	done
	ok=$(grep -c "^RUN vmm=ringvm wl=$wl .*status=0$" "$B/migrate.clean" || true)
	echo "# ringvm $wl: $ok of $RUNS migrations completed with the guest running after"
	if grep -q "^RUN vmm=qemu wl=$wl" "$B/migrate.clean"; then
		for f in total_ms downtime_ms sent_mib rounds; do
			figure "peer_migrate_${wl}_$f" "$(stat qemu $wl $f)" "$(fig_unit $f)"
		done
		ok=$(grep -c "^RUN vmm=qemu wl=$wl .*status=0$" "$B/migrate.clean" || true)
		echo "# qemu $wl: $ok of $RUNS migrations completed with the guest running after"
	fi
done
echo "# peer: QEMU $(qemu-system-x86_64 --version 2>/dev/null | head -n 1 | awk '{print $4}') -M pc -accel kvm -smp 2: HMP migrate unix: to -incoming, downtime-limit 300, max-bandwidth 100G; its own total time and downtime from info migrate"
echo "# ringvm: ringvm migrate --to unix: (max-downtime 300 ms); downtime: pause to the destination's confirmation that its vCPUs run"
echo "# in the harness, under nested emulation: compare side by side only"
