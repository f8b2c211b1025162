#!/bin/bash
# vhost-user-blk back ends under fio, User Mode Linux as the front end (no
# KVM needed): 4 KiB random reads at queue depth 1 and 32, 1 MiB sequential
# reads and writes (depth 8), libaio with O_DIRECT on /dev/vda, a fixed time
# each; plus the back end's CPU time (utime+stime of its process, all
# threads) per GB moved. Median of BENCH_RUNS rounds, as "NAME VALUE UNIT"
# lines with a "# NAME: min .. max .." line after each. Figures, not a test.
#
#   BACKENDS="qsd ringvm" bench/vhost/bench-vhost.sh     (QUICK=1: short)
#
# BENCH_RUNS and BENCH_SECS override the rounds (5; QUICK 3) and seconds
# per job (5; QUICK 2); BENCH_PIN the CPU placement (same, split, none).
#
# Back ends (tests/uml/uml_lib.sh, backend_start): qsd, ringvm ($RINGVM
# backend blk --socket S --disk IMG), cmd (BACKEND_CMD). They take turns on
# the same image, job by job (A B A B), each boot with a fresh back end
# process; with qsd among them every other back end also gets
# NAME_ratio_vs_qsd lines (for CPU per GB, lower is better).
# UML does a host context switch per guest system call, so its own cost
# caps the absolute figures; the comparison is what the bench is for.
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/lib.sh
. tests/uml/uml_lib.sh
BACKENDS=${BACKENDS:-qsd}
# qsd at its best for this job, like ringvm's back end: io_uring (its own
# default, a thread pool, is slower and costs more CPU per GB here).
export QSD_BLOCKDEV_EXTRA=${QSD_BLOCKDEV_EXTRA-,aio=io_uring}
if [ "${QUICK:-0}" = 1 ]; then
	ROUNDS=${BENCH_RUNS:-3} SECS=${BENCH_SECS:-2}
else
	ROUNDS=${BENCH_RUNS:-5} SECS=${BENCH_SECS:-5}
fi
JOBS="randread_qd1 randread_qd32 seqread_1m seqwrite_1m"
HZ=$(getconf CLK_TCK)
# Where the two sides run matters more than anything else here: left to
# the scheduler, random-read IOPS swing 3x from run to run. "same" (one
# CPU for UML and the back end) is the steadiest, and a back end's own cost
# shows directly in the IOPS; "split" (a CPU each) adds a cross-CPU wakeup
# per request, which on this virtual machine is the dominant latency.
case ${BENCH_PIN:=same} in
same) export UML_CPUS=0 BACKEND_CPUS=0 ;;
split) export UML_CPUS=0 BACKEND_CPUS=1 ;;
none) unset UML_CPUS BACKEND_CPUS ;;
*) echo "bench-vhost: BENCH_PIN is same, split or none" >&2; exit 1 ;;
esac

uml_prepare || exit 1
W=$UML_WORK/bench-vhost
mkdir -p "$W"
img=$W/disk.img sock=$W/vhost.sock raw=$W/raw.txt
# Real data, so that no back end reads holes cheaper than another; written
# here, so the image starts in the host's page cache for everyone.
head -c 256M /dev/urandom >"$img"
: >"$raw"
trap backend_stop EXIT

# run_one BACKEND JOB ROUND: one boot, one fio job; appends
# "BACKEND JOB ROUND IOPS KB/S BYTES CPU-TICKS" to $raw.
run_one() {
	local b=$1 job=$2 r=$3 log t0 t1 line
	log=$W/uml-$b-$job.log
	backend_start "$b" "$img" "$sock" "$W/backend-$b.log" || return 1
	t0=$(backend_cpu_ticks)
	if ! uml_boot "$sock" bench/vhost/guest_fio.sh "$log" $((SECS + 60)) \
		FIO_JOB="$job" FIO_SECS="$SECS"; then
		backend_stop
		cp "$log" "$W/failed-$b-$job-r$r.log"
		echo "# $b $job round $r failed: $UML_REASON" >&2
		return 1
	fi
	t1=$(backend_cpu_ticks)
	backend_stop
	[ "$UML_EXIT" = 0 ] || {
		cp "$log" "$W/exit$UML_EXIT-$b-$job-r$r.log"
		echo "# $b $job round $r: UML exited with status $UML_EXIT after its verdict" >&2
	}
	line=$(uml_output "$log" | sed -n 's/^FIO-TERSE //p' | head -n 1)
	# terse v3: 6/7/8 read KiB, KiB/s, IOPS; 47/48/49 the same for writes
	awk -F';' -v b="$b" -v j="$job" -v r="$r" -v c=$((t1 - t0)) '{
		printf "%s %s %s %s %s %.0f %d\n", b, j, r, $8 + $49, $7 + $48,
			($6 + $47) * 1024, c }' <<<"$line" >>"$raw"
}

start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
	for job in $JOBS; do
		for b in $BACKENDS; do
			run_one "$b" "$job" "$r"
		done
	done
done

# vals BACKEND JOB FIELD: that field of every round, one a line.
vals() { awk -v b="$1" -v j="$2" -v f="$3" '$1 == b && $2 == j { print $f }' "$raw"; }
cpu_per_gb() { # s of back-end CPU per 1e9 bytes, per round
	awk -v b="$1" -v j="$2" -v hz="$HZ" '$1 == b && $2 == j && $6 > 0 {
		printf "%.4f\n", $7 / hz / ($6 / 1e9) }' "$raw"
}
ratio() { # NAME A B: A/B, or n/a
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {
		if (a == "n/a" || b == "n/a" || b == 0) print n " n/a ratio";
		else printf "%s %.3f ratio\n", n, a / b }'
}

echo "# $(linux.uml --version 2>/dev/null | head -n 1 || echo UML) front end, mem=$UML_MEM; $("$QSD" --version | head -n 1), blockdev file${QSD_BLOCKDEV_EXTRA:-}"
echo "# $ROUNDS rounds of ${SECS}s per job, back ends in turn: $BACKENDS; 256 MiB raw image on $(df --output=fstype "$W" | tail -n 1); CPU placement $BENCH_PIN (UML on ${UML_CPUS:-any}, back end on ${BACKEND_CPUS:-any}); $((SECONDS - start))s in all"
declare -A med
for b in $BACKENDS; do
	for job in $JOBS; do
		case $job in
		randread*) m=$(vals "$b" "$job" 4 | median_min_max %.0f) unit=IOPS name=${b}_${job}_iops ;;
		*) m=$(vals "$b" "$job" 5 | awk '{ printf "%.1f\n", $1 * 1024 / 1e6 }' |
			median_min_max %.1f) unit=MB/s name=${b}_${job}_mbps ;;
		esac
		figure "$name" "$m" "$unit"
		med[${name#"$b"_}.$b]=${m%% *}
		m=$(cpu_per_gb "$b" "$job" | median_min_max %.3f)
		figure "${b}_${job}_cpu_s_per_gb" "$m" s/GB
		med[${job}_cpu_s_per_gb.$b]=${m%% *}
	done
done
case " $BACKENDS " in *" qsd "*)
	for b in $BACKENDS; do
		[ "$b" = qsd ] && continue
		for job in $JOBS; do
			case $job in randread*) k=${job}_iops ;; *) k=${job}_mbps ;; esac
			for k in "$k" "${job}_cpu_s_per_gb"; do
				ratio "${b}_${k}_ratio_vs_qsd" "${med[$k.$b]}" "${med[$k.qsd]}"
			done
		done
	done
	;;
esac
