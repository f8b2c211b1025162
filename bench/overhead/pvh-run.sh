#!/bin/sh
# The exit-cost PVH kernel (exitcost-pvh.elf) under WHO: ringvm, or QEMU
# (its firmware in ./qemu-firmware); its "EXITCOST_CYCLES C" lines into
# OUT. The kernel's halt loop can lose its wakeup in the emulated machine
# (docs/harness.md): a run that does not finish within 60 s (about 20
# in the emulated machine), or ends without all 35 lines (7 kinds, 5 runs,
# fixed in exitcost_pvh.S), is tried twice more, said on stderr. Exit
# status 0 when all lines came.
# Usage: pvh-run.sh ringvm|qemu OUT
who=$1 out=$2
q=/usr/local/bin/qemu-system-x86_64
for try in 1 2 3; do
	case $who in
	ringvm) timeout 60 ringvm run --kernel exitcost-pvh.elf --mem 64M \
		</dev/null >"$out.raw" 2>"$out.err" ;;
	qemu) timeout 60 $q -L ./qemu-firmware -M pc -accel kvm -cpu host -m 64 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel exitcost-pvh.elf </dev/null >"$out.raw" 2>"$out.err" ;;
	*) echo "usage: pvh-run.sh ringvm|qemu OUT" >&2
		exit 2 ;;
	esac
	rc=$?
	# isa-debug-exit: status (0 << 1) | 1 when the kernel finished.
	[ "$who" = qemu ] && [ $rc = 1 ] && rc=0
	tr -d '\r' <"$out.raw" | grep '^EXITCOST_CYCLES [0-9]*$' >"$out"
	lines=$(wc -l <"$out")
	[ $rc = 0 ] && [ "$lines" -eq 35 ] && exit 0
	echo "# exitcost-pvh under $who: status $rc (124 or 143, or 0 from QEMU, which exits on SIGTERM: it ran past 60 s), $lines results, try $try of 3" >&2
	tail -n 3 "$out.err" >&2
done
# Finished without all its lines: still a failure.
[ $rc = 0 ] && rc=1
exit $rc
