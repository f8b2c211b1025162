#!/bin/sh
# make bench-migrate, one machine's side (inside the harness, or directly on
# a VMX/SVM host): for each workload, RUNS rounds of ringvm then its peer
# (alternating, so both see the same machine load), each round
#   boot a 1 GiB guest (64 MiB filled; "dirty": memdirty rewriting 256 MiB
#   at 64 MiB/s), start a destination on a Unix socket, migrate with a
#   300 ms downtime target, check the guest goes on at the destination.
# One line per round: "RUN vmm=V wl=W total_ms=N downtime_ms=N sent_mib=N
# rounds=N status=N" (status 0: migrated and the guest printed at the
# destination; rounds: passes over dirty memory, QEMU's "dirty sync count").
RUNS=${1:-5}   # rounds; $2: one workload (idle, dirty) instead of both
P=./lifecycle_probe
MEM=1024

# wait_file FILE PATTERN: bounded.
wait_file() {
	n=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 1200 ] && return 1
		sleep 0.5
	done
}

# runs_after LOG: the guest prints at the destination (its dots go on).
runs_after() {
	a=$(wc -c <"$1" 2>/dev/null || echo 0)
	sleep 2
	[ "$(wc -c <"$1" 2>/dev/null || echo 0)" -gt "$a" ]
}

append() { # WL
	case $1 in
	idle) echo "console=ttyS0 quiet rvhook=ticker" ;;
	dirty) echo "console=ttyS0 quiet rvhook=ticker bd_dirty=256:64" ;;
	esac
}

ringvm_round() { # WL
	rm -f s.sock m.sock s.log d.log mig.out
	ringvm run --kernel vmlinux --initrd initrd-bench.cpio.gz --cmdline "$(append "$1")" \
		--mem "${MEM}M" --cpus 2 --api-sock s.sock --console none --serial-log s.log \
		</dev/null >/dev/null 2>s.err &
	src=$!
	if ! wait_file s.log TICKER-READY; then
		echo "# ringvm $1: the guest never got ready: $(tail -n 2 s.err)"
		kill -9 $src
		wait $src
		return
	fi
	sleep 2
	ringvm run --incoming unix:m.sock --console none --serial-log d.log \
		</dev/null >/dev/null 2>d.err &
	dst=$!
	wait_file d.err "waiting for a migration"
	$P ms ringvm migrate --api-sock s.sock --to unix:m.sock >mig.out 2>p1
	st=$(sed -n 's/^probe_status //p' p1)
	runs_after d.log || st=1
	total=$(sed -n 's/.* total \([0-9]*\) ms.*/\1/p' mig.out)
	down=$(sed -n 's/.* downtime \([0-9]*\) ms.*/\1/p' mig.out)
	sent=$(sed -n 's/.* \([0-9]*\) MiB sent.*/\1/p' mig.out)
	rounds=$(sed -n 's/.*: \([0-9]*\) rounds,.*/\1/p' mig.out)
	echo "RUN vmm=ringvm wl=$1 total_ms=${total:--1} downtime_ms=${down:--1} sent_mib=${sent:--1} rounds=${rounds:--1} status=${st:--1}"
	echo "# ringvm $1: $(cat mig.out)"
	[ "$st" = 0 ] || echo "# ringvm $1 failed: migrate: $(grep -v '^probe_' p1 | tail -n 3 | tr '\n' '|') source: $(tail -n 2 s.err | tr '\n' '|') destination: $(tail -n 3 d.err | tr '\n' '|') guest at the destination: $(tail -c 120 d.log 2>/dev/null | tr -d '\r' | tr '\n' '|')"
	kill -9 $src $dst 2>/dev/null
	wait $src $dst 2>/dev/null
}

qemu_cmd() { # WL [extra...]
	wl=$1
	shift
	qemu-system-x86_64 -L ./qemu-firmware -M pc -accel kvm -cpu host -m "${MEM}M" \
		-smp 2 -nodefaults -no-user-config -display none -no-reboot \
		-kernel vmlinux -initrd initrd-bench.cpio.gz -append "$(append "$wl")" "$@"
}

qemu_round() { # WL
	rm -f q1.mon q2.mon qm.sock q1.log q2.log info.txt
	qemu_cmd "$1" -serial file:q1.log -monitor unix:q1.mon,server=on,wait=off \
		</dev/null >/dev/null 2>q1.err &
	src=$!
	if ! wait_file q1.log TICKER-READY; then
		echo "# qemu $1: the guest never got ready: $(tail -n 2 q1.err)"
		kill -9 $src
		wait $src
		return
	fi
	sleep 2
	qemu_cmd "$1" -serial file:q2.log -monitor unix:q2.mon,server=on,wait=off \
		-incoming unix:qm.sock </dev/null >/dev/null 2>q2.err &
	dst=$!
	n=0
	while [ ! -S qm.sock ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	# The same targets as ringvm's: 300 ms of downtime, no bandwidth cap
	# (QEMU's default cap is 128 MiB/s).
	$P hmp q1.mon "migrate_set_parameter downtime-limit 300" >/dev/null 2>&1
	$P hmp q1.mon "migrate_set_parameter max-bandwidth 100G" >/dev/null 2>&1
	# A blocking migrate: its prompt comes back when it is over.
	$P hmp q1.mon "migrate unix:qm.sock" >/dev/null 2>p1
	$P hmp q1.mon "info migrate" >info.txt 2>/dev/null
	st=1
	grep -q "Migration status: completed" info.txt && runs_after q2.log && st=0
	total=$(tr -d '\r' <info.txt | sed -n 's/^total time: \([0-9]*\) ms.*/\1/p')
	down=$(tr -d '\r' <info.txt | sed -n 's/^downtime: \([0-9]*\) ms.*/\1/p')
	kb=$(tr -d '\r' <info.txt | sed -n 's/^transferred ram: \([0-9]*\) kbytes.*/\1/p')
	rounds=$(tr -d '\r' <info.txt | sed -n 's/^dirty sync count: \([0-9]*\).*/\1/p')
	echo "RUN vmm=qemu wl=$1 total_ms=${total:--1} downtime_ms=${down:--1} sent_mib=$(( ${kb:--1024} / 1024 )) rounds=${rounds:--1} status=$st"
	kill -9 $src $dst 2>/dev/null
	wait $src $dst 2>/dev/null
}

for wl in ${2:-idle dirty}; do
	i=1
	while [ $i -le "$RUNS" ]; do
		ringvm_round $wl
		command -v qemu-system-x86_64 >/dev/null && qemu_round $wl
		i=$((i + 1))
	done
done
