#!/bin/sh
# make bench-exits, inside the emulated machine: ringvm's exitcost, then
# QEMU (when the harness brought it) booting the same operations as a PVH
# kernel (exitcost_pvh.S, fixed at N 20000 and 5 runs), its cycle counts
# printed as "QEMU_CYCLES C" lines in the order the kernel wrote them.
# Usage: exits-l1.sh N RUNS
./exitcost "$1" "$2" || exit 1
q=/usr/local/bin/qemu-system-x86_64
# A virtio notification to its completion (vnotify.elf drives virtio-rng
# itself): ringvm, ringvm without its seccomp filters, and QEMU, in turns,
# RUNS times; "VNOTIFY WHO CYCLES TRIPS" lines.
r=1
while [ $r -le "$2" ]; do
	for who in ringvm ringvm-noseccomp qemu; do
		case $who in
		ringvm) timeout 300 ringvm run --kernel vnotify.elf --rng --mem 128M </dev/null >vn.out 2>vn.err ;;
		ringvm-noseccomp) timeout 300 ringvm run --kernel vnotify.elf --rng --mem 128M \
			--seccomp off </dev/null >vn.out 2>vn.err ;;
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
[ -x $q ] || exit 0
# The same halt loop can lose its wakeup here as exitcost's can (docs/
# harness.md): a run that does not finish in 300 s is tried twice more,
# said, as exitcost does.
for try in 1 2 3; do
	rm -f qemu-exitcost.bin
	timeout 300 $q -L ./qemu-firmware -M pc -accel kvm -cpu host -m 64 -display none \
		-nodefaults -no-reboot -kernel exitcost-pvh.elf \
		-device isa-debugcon,iobase=0xe9,chardev=dc \
		-chardev file,id=dc,path=qemu-exitcost.bin \
		-device isa-debug-exit,iobase=0xf4,iosize=4
	# isa-debug-exit: status (0 << 1) | 1 when the kernel finished.
	rc=$?
	[ $rc = 1 ] && break
	echo "# exitcost-pvh under QEMU: status $rc (1 when it finished; 124: it ran past 300 s), try $try of 3"
done
echo "QEMU_EXIT $rc"
od -An -tu8 -v qemu-exitcost.bin | tr -s ' ' '\n' | grep . | sed 's/^/QEMU_CYCLES /'
