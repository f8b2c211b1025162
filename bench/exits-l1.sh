#!/bin/sh
# make bench-exits, inside the emulated machine: ringvm's exitcost, then
# QEMU (when the harness brought it) booting the same operations as a PVH
# kernel (exitcost_pvh.S, fixed at N 20000 and 5 runs), its cycle counts
# printed as "QEMU_CYCLES C" lines in the order the kernel wrote them.
# Usage: exits-l1.sh N RUNS
./exitcost "$1" "$2" || exit 1
q=/usr/local/bin/qemu-system-x86_64
[ -x $q ] || exit 0
$q -L ./qemu-firmware -M pc -accel kvm -cpu host -m 64 -display none \
	-nodefaults -no-reboot -kernel exitcost-pvh.elf \
	-device isa-debugcon,iobase=0xe9,chardev=dc \
	-chardev file,id=dc,path=qemu-exitcost.bin \
	-device isa-debug-exit,iobase=0xf4,iosize=4
# isa-debug-exit: status (0 << 1) | 1 when the kernel finished.
echo "QEMU_EXIT $?"
od -An -tu8 -v qemu-exitcost.bin | tr -s ' ' '\n' | grep . | sed 's/^/QEMU_CYCLES /'
