#!/bin/sh
# make bench-lifecycle, one machine's side (inside the harness, or directly
# on a VMX/SVM host): for each guest size, RUNS rounds of ringvm then its
# peer (alternating, so both see the same machine load), each round
#   boot, wait until the guest filled 64 MiB and ticks,
#   pause, snapshot (paused), resume, kill, restore (to the first tick).
# One line per step: "RUN vmm=V mem=M step=S ms=N status=N".
RUNS=${1:-5}   # rounds; $2: one guest size (MiB) instead of both
P=./lifecycle_probe
APPEND="console=ttyS0 quiet rvhook=ticker"

step() { # VMM MEM STEP PROBE-OUTPUT-FILE
	ms=$(sed -n 's/^probe_ms //p' "$4")
	st=$(sed -n 's/^probe_status //p' "$4")
	echo "RUN vmm=$1 mem=$2 step=$3 ms=${ms:--1} status=${st:--1}"
}

# wait_ready LOG: the guest filled its memory and ticks (bounded).
wait_ready() {
	n=0
	while ! grep -q "TICKER-READY" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 1200 ] && return 1
		sleep 0.5
	done
	sleep 1
}

ringvm_round() { # MEM
	rm -f r.sock r.state r.mem r.log
	ringvm run --kernel vmlinux --initrd initrd-bench.cpio.gz --cmdline "$APPEND" \
		--mem "${1}M" --api-sock r.sock --console none --serial-log r.log \
		</dev/null >/dev/null 2>r.err &
	vm=$!
	if ! wait_ready r.log; then
		echo "# ringvm $1M: the guest never got ready: $(tail -n 2 r.err)"
		kill -9 $vm
		wait $vm
		return
	fi
	$P http r.sock PATCH /vm '{"state": "Paused"}' 2>p1
	step ringvm "$1" pause p1
	$P http r.sock PUT /snapshot/create '{"snapshot_path": "r.state", "mem_file_path": "r.mem"}' 2>p2
	[ -s r.state ] || sed -i 's/^probe_status 0/probe_status 1/' p2
	step ringvm "$1" snapshot_create p2
	$P http r.sock PATCH /vm '{"state": "Resumed"}' 2>p3
	step ringvm "$1" resume p3
	kill -9 $vm
	wait $vm 2>/dev/null
	$P until . ringvm restore --state r.state --mem r.mem --console serial </dev/null >/dev/null 2>p4
	step ringvm "$1" restore p4
	echo "# ringvm $1M: state $(wc -c <r.state) bytes, memory file $(du -k r.mem | cut -f1) KiB on disk"
}

# qemu_cmd MEM [extra...]: a script rather than a function, so that the
# probe can start it too (exec: stopping it stops QEMU).
cat >qemu-cmd.sh <<EOF
m=\$1
shift
exec qemu-system-x86_64 -L ./qemu-firmware -M pc -accel kvm -cpu host -m "\${m}M" \\
	-smp 1 -nodefaults -no-user-config -display none -no-reboot \\
	-kernel vmlinux -initrd initrd-bench.cpio.gz -append "$APPEND" "\$@"
EOF
qemu_cmd() { sh ./qemu-cmd.sh "$@"; }

qemu_round() { # MEM
	rm -f q.mon q.mig q.log
	qemu_cmd "$1" -serial file:q.log -monitor unix:q.mon,server=on,wait=off \
		</dev/null >/dev/null 2>q.err &
	vm=$!
	if ! wait_ready q.log; then
		echo "# qemu $1M: the guest never got ready: $(tail -n 2 q.err)"
		kill -9 $vm
		wait $vm
		return
	fi
	$P hmp q.mon stop >/dev/null 2>p1
	step qemu "$1" pause p1
	$P hmp q.mon 'migrate "exec:cat > q.mig"' >/dev/null 2>p2
	[ -s q.mig ] || sed -i 's/^probe_status 0/probe_status 1/' p2
	step qemu "$1" snapshot_create p2
	$P hmp q.mon cont >/dev/null 2>p3
	step qemu "$1" resume p3
	kill -9 $vm
	wait $vm 2>/dev/null
	# A VM saved paused comes back paused: the monitor's cont once the
	# incoming stream is in, as a user would (polling at 10 ms).
	rm -f q2.mon q2.done
	(
		n=0
		while [ $n -lt 3000 ] && [ ! -e q2.done ]; do
			# "paused (inmigrate)" until the stream is in; cont then
			# would be refused.
			st=$([ -S q2.mon ] && $P hmp q2.mon "info status" 2>/dev/null)
			echo "$st" | tr -d '\r' | grep -a "VM status" >q2.status
			case $st in
			*running*) break ;;
			*inmigrate*) ;;
			*paused*) $P hmp q2.mon cont >/dev/null 2>&1 ;;
			esac
			usleep 10000
			n=$((n + 1))
		done
	) &
	$P until . sh ./qemu-cmd.sh "$1" -serial stdio -monitor unix:q2.mon,server=on,wait=off \
		-incoming "exec:cat q.mig" </dev/null >/dev/null 2>p4
	step qemu "$1" restore p4
	touch q2.done
	wait
	grep -q '^probe_status 0' p4 ||
		echo "# qemu $1M: restore failed: last [$(tail -n 1 q2.status)] $(tail -n 3 p4 | tr '\n' ' ')"
	echo "# qemu $1M: migration stream $(du -k q.mig | cut -f1) KiB"
}

for mem in ${2:-256 1024}; do
	i=1
	while [ $i -le "$RUNS" ]; do
		ringvm_round $mem
		command -v qemu-system-x86_64 >/dev/null && qemu_round $mem
		i=$((i + 1))
	done
done
