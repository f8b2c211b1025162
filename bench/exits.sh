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
tools/ringvm-harness --timeout 1800 --file build/bench/exitcost --file build/bench/vnotify.elf \
	--file build/bench/exitcost-pvh.elf --file bench/overhead/pvh-run.sh \
	--file bench/exits-l1.sh "${PEER[@]}" \
	-- "sh ./exits-l1.sh $N $RUNS" >"$log" 2>&1 || {
	echo "bench-exits: the run failed; see $log" >&2
	exit 1
}
tr -d '\r' <"$log" >"$log.clean"
grep -E '^(# exitcost:|exit_)' "$log.clean"
mhz=$(sed -n 's/^# exitcost: .*guest TSC \([0-9][0-9]*\) MHz.*/\1/p' "$log.clean")
# vnotify: ns per notification to completion, mean and 95% interval over
# the runs, per VMM.
grep '^VNOTIFY_ERROR' "$log.clean" | sed 's/^/# /'
sed -n 's/^VNOTIFY //p' "$log.clean" | awk -v mhz="$mhz" '{ printf "%s %.6f\n", $1, $2 / $3 * 1000 / mhz }' |
	mean_ci95 | awk '{
		name = "virtio_notify_iopoll_ns"
		if ($1 == "qemu") name = "peer_virtio_notify_ns"
		if ($1 == "ringvm") name = "virtio_notify_ns"
		printf "%s %.1f ns ci95=%.1f runs=%d (%s: virtio-rng, one buffer, polled)\n", name, $2, $3, $4, $1
	}' | sort
# The PVH kernel's cycles, per monitor, as ns per operation
# (bench/overhead/pvh_cycles.awk): mean and 95% interval.
# pvh_cost WHO NAME LABEL: its lines as NAME_KIND_ns.
pvh_cost() {
	sed -n "s/^PVH_CYCLES $1 /EXITCOST_CYCLES /p" "$log.clean" |
		awk -v khz="$((mhz * 1000))" -v n=20000 -f bench/overhead/pvh_cycles.awk |
		mean_ci95 | awk -v name="$2" -v label="$3" '{ printf "%s_%s_ns %.1f ns ci95=%.1f runs=%d (%s)\n", name, $1, $2, $3, $4, label }'
}
grep '^# exitcost-pvh' "$log.clean" || true
if grep -q '^PVH_EXIT ringvm 0$' "$log.clean" && [ -n "$mhz" ]; then
	echo "# ringvm itself: the same operations as a PVH kernel (ringvm run --kernel exitcost-pvh.elf), N=20000 runs=5"
	pvh_cost ringvm pvh_exit "ringvm, PVH kernel"
else
	echo "# ringvm did not finish the PVH kernel ($(grep '^PVH_EXIT ringvm' "$log.clean" || echo 'no exit status')); see $log"
fi
if [ ${#PEER[@]} -eq 0 ]; then
	echo "# no peer: qemu-system-x86_64 is not installed"
	exit 0
fi
if ! grep -q '^PVH_EXIT qemu 0$' "$log.clean" || [ -z "$mhz" ]; then
	echo "# peer: QEMU did not finish the operations ($(grep '^PVH_EXIT qemu' "$log.clean" || echo 'no exit status')); see $log"
	exit 0
fi
echo "# peer: QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}') -M pc -accel kvm, the same PVH kernel, N=20000 runs=5, same machine and TSC"
pvh_cost qemu peer_exit QEMU
