#!/bin/sh
# make bench-exits, inside the emulated machine: ringvm's exitcost (its
# rig), a virtio notification under both monitors, then the same
# operations as a PVH kernel (exitcost_pvh.S, fixed at N 20000 and 5 runs)
# under ringvm itself and under QEMU (when the harness brought it).
# Usage: exits-l1.sh N RUNS
./exitcost "$1" "$2" || exit 1
q=/usr/local/bin/qemu-system-x86_64
# A virtio notification to its completion (vnotify.elf drives virtio-rng
# itself): ringvm, ringvm whose I/O threads poll before they sleep
# (--io-poll 200), and QEMU, in turns, RUNS times; "VNOTIFY WHO CYCLES
# TRIPS" lines.
r=1
while [ $r -le "$2" ]; do
	for who in ringvm ringvm-iopoll qemu; do
		case $who in
		ringvm) timeout 300 ringvm run --kernel vnotify.elf --rng --mem 128M </dev/null >vn.out 2>vn.err ;;
		ringvm-iopoll) timeout 300 ringvm run --kernel vnotify.elf --rng --mem 128M \
			--io-poll 200 </dev/null >vn.out 2>vn.err ;;
		qemu) [ -x $q ] || continue
			timeout 300 $q -L ./qemu-firmware -M pc -accel kvm -cpu host -m 128 \
				-nodefaults -no-user-config -display none -serial stdio -no-reboot \
				-device virtio-rng-pci,disable-legacy=on,romfile= \
				-device isa-debug-exit,iobase=0xf4,iosize=4 \
				-kernel vnotify.elf </dev/null >vn.out 2>vn.err ;;
		esac
		tr -d '\r' <vn.out | sed -n "s/^VNOTIFY_CYCLES /VNOTIFY $who /p;s/^VNOTIFY_ERROR /VNOTIFY_ERROR $who /p"
	done
	r=$((r + 1))
done
# The same operations as a PVH kernel under ringvm itself and under QEMU,
# "PVH_CYCLES WHO C" lines in the order the kernel printed them (then
# "PVH_EXIT WHO STATUS"). The same halt loop can lose its wakeup here as
# exitcost's can (docs/harness.md): a run that does not finish in 300 s, or
# ends without all its lines, is tried twice more, said, as exitcost does.
for who in ringvm qemu; do
	for try in 1 2 3; do
		case $who in
		ringvm) timeout 300 ringvm run --kernel exitcost-pvh.elf --mem 64M \
			</dev/null >pvh.out 2>pvh.err ;;
		qemu) [ -x $q ] || continue 2
			timeout 300 $q -L ./qemu-firmware -M pc -accel kvm -cpu host -m 64 \
				-nodefaults -no-user-config -display none -serial stdio -no-reboot \
				-device isa-debug-exit,iobase=0xf4,iosize=4 \
				-kernel exitcost-pvh.elf </dev/null >pvh.out 2>pvh.err ;;
		esac
		rc=$?
		# isa-debug-exit: status (0 << 1) | 1 when the kernel finished.
		[ $who = qemu ] && [ $rc = 1 ] && rc=0
		lines=$(tr -d '\r' <pvh.out | grep -c '^EXITCOST_CYCLES [0-9]*$')
		# 7 kinds, 5 runs (fixed in exitcost_pvh.S)
		[ $rc = 0 ] && [ "$lines" -eq 35 ] && break
		echo "# exitcost-pvh under $who: status $rc (124 or 143: it ran past 300 s), $lines results, try $try of 3"
		tail -n 3 pvh.err
	done
	echo "PVH_EXIT $who $rc"
	tr -d '\r' <pvh.out | sed -n "s/^EXITCOST_CYCLES \([0-9]*\)$/PVH_CYCLES $who \1/p"
done
