#!/bin/bash
# make bench-exits: what one VM exit of each kind costs on this machine
# (bench/overhead/exitcost.c), as "exit_KIND_ns MEAN ns ci95=HALF" lines:
# the cost side of the overhead equation; then the same operations under
# QEMU (from Debian) in the same machine (bench/overhead/exitcost_pvh.S), as
# "peer_exit_KIND_ns" lines, for the kinds QEMU has a path for. Runs where
# /dev/kvm has hardware virtualization; on a PVM host inside the harness's
# emulated machine, whose figures are the emulator's, not a real CPU's.
# Figures, not a test.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${BENCH_EXITS_N:-20000}
RUNS=${BENCH_RUNS:-5}
log=build/bench/exits.log
mkdir -p build/bench
qemu_peer bios-256k.bin pvh.bin kvmvapic.bin
[ ${#PEER[@]} -gt 0 ] && PEER+=(--file build/bench/exitcost-pvh.elf)
tools/ringvm-harness --timeout 1800 --file build/bench/exitcost --file build/bench/vnotify.elf \
	--file bench/exits-l1.sh "${PEER[@]}" \
	-- "sh ./exits-l1.sh $N $RUNS" >"$log" 2>&1 || {
	echo "bench-exits: the run failed; see $log" >&2
	exit 1
}
tr -d '\r' <"$log" >"$log.clean"
grep -E '^(# exitcost|exit_)' "$log.clean"
mhz=$(sed -n 's/^# exitcost: .*guest TSC \([0-9][0-9]*\) MHz.*/\1/p' "$log.clean")
# vnotify: ns per notification to completion, mean and 95% interval over
# the runs, per VMM.
grep '^VNOTIFY_ERROR' "$log.clean" | sed 's/^/# /'
sed -n 's/^VNOTIFY //p' "$log.clean" | awk -v mhz="$mhz" '{ printf "%s %.6f\n", $1, $2 / $3 * 1000 / mhz }' |
	mean_ci95 | awk '{
		name = "virtio_notify_noseccomp_ns"
		if ($1 == "qemu") name = "peer_virtio_notify_ns"
		if ($1 == "ringvm") name = "virtio_notify_ns"
		printf "%s %.1f ns ci95=%.1f runs=%d (%s: virtio-rng, one buffer, polled)\n", name, $2, $3, $4, $1
	}' | sort
if [ ${#PEER[@]} -eq 0 ]; then
	echo "# no peer: qemu-system-x86_64 is not installed"
	exit 0
fi
if ! grep -q '^QEMU_EXIT 1$' "$log.clean" || [ -z "$mhz" ]; then
	echo "# peer: QEMU did not finish the operations ($(grep '^QEMU_EXIT' "$log.clean" || echo 'no exit status')); see $log"
	exit 0
fi
echo "# peer: QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}') -M pc -accel kvm, the same operations as a PVH kernel, N=20000 runs=5, same machine and TSC"
# Seven values a run (nop, cpuid, hypercall, pio_user, mmio_user, halt,
# selfipi): ns per operation less the NOP loop's, mean and 95% interval.
# halt and selfipi ran N / 100 times; halt waited 10 us each time by
# design, which is taken off, as exitcost does.
sed -n 's/^QEMU_CYCLES //p' "$log.clean" | awk -v mhz="$mhz" -v n=20000 '
	{ c[NR - 1] = $1 }
	END {
		split("nop cpuid hypercall pio_user mmio_user halt selfipi", name)
		for (k = 2; k <= 7; k++)
			for (r = 0; r < int(NR / 7); r++) {
				nk = k >= 6 ? n / 100 : n
				printf "%s %.6f\n", name[k], (c[r * 7 + k - 1] / nk - c[r * 7] / n) * 1000 / mhz - (k == 6 ? 10000 : 0)
			}
	}' | mean_ci95 | awk '{ printf "peer_exit_%s_ns %.1f ns ci95=%.1f runs=%d (QEMU)\n", $1, $2, $3, $4 }'
