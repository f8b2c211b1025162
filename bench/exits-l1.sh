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
# (--io-poll 200), and QEMU, in turns, 4 x RUNS times (a run takes a
# second; in the emulated machine this figure scatters most); "VNOTIFY
# WHO CYCLES TRIPS" lines.
r=1
while [ $r -le $(($2 * 4)) ]; do
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
# The same operations as a PVH kernel under ringvm itself and under QEMU
# (pvh-run.sh, which tries a run that loses its wakeup twice more):
# "PVH_CYCLES WHO C" lines in the order the kernel printed them, then
# "PVH_EXIT WHO STATUS".
for who in ringvm qemu; do
	[ $who = qemu ] && [ ! -x $q ] && continue
	sh ./pvh-run.sh $who pvh.out 2>&1
	echo "PVH_EXIT $who $?"
	sed "s/^EXITCOST_CYCLES /PVH_CYCLES $who /" pvh.out
done
