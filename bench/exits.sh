#!/bin/bash
# make bench-exits: what one VM exit of each kind costs on this machine
# (bench/overhead/exitcost.c), as "exit_KIND_ns MEAN ns ci95=HALF" lines:
# the cost side of the overhead equation. Runs where /dev/kvm has hardware
# virtualization; on a PVM host inside the harness's emulated machine,
# whose figures are the emulator's, not a real CPU's. Figures, not a test.
set -eu
cd "$(dirname "$0")/.."
N=${BENCH_EXITS_N:-20000}
RUNS=${BENCH_RUNS:-5}
log=build/bench/exits.log
mkdir -p build/bench
tools/ringvm-harness --timeout 1800 --file build/bench/exitcost \
	-- "./exitcost $N $RUNS" >"$log" 2>&1 || {
	echo "bench-exits: the run failed; see $log" >&2
	exit 1
}
tr -d '\r' <"$log" | grep -E '^(# exitcost|exit_)'
