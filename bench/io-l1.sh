#!/bin/sh
# make bench-io, host side of one round of one part (inside the harness, or
# directly on a VMX/SVM host; bench/io.sh runs each in its own emulated
# machine, parts interleaved): the probes natively on an image file and
# over loopback (native), or in the guest through virtio-blk and
# virtio-net: ringvm's own data paths (ringvm), QEMU's (peer), and the
# kernel's vhost-net under each (vhost, peervhost). Ends with "RUN PART"
# when the part ran to the end.
#   sh io-l1.sh ROUNDS PART    (SECS from ./io.conf, default 3)
ROUNDS=${1:-1}
PART=${2:-native}
SECS=3
[ -f ./io.conf ] && . ./io.conf
P=./io_probe
GUEST_CMDLINE="console=ttyS0 quiet rvhook=iobench rvrounds=$ROUNDS rvsecs=$SECS"
ip link set lo up
dd if=/dev/zero of=img bs=1048576 count=128 2>/dev/null

tap() {
	tunctl -t rvtap0 >/dev/null
	ip link set rvtap0 up
	ip addr add 169.254.10.1/24 dev rvtap0
}

# ringvm_guest TAG NET [STATS]: the guest under ringvm with --net NET; its
# TCP figures (received here) and, for TAG GUEST, its block figures and
# ringvm's counters, each line prefixed with TAG.
ringvm_guest() {
	tap
	timeout 1800 $P tcp-recv 5201 "$ROUNDS" >"$1-tcp.txt" &
	rpid=$!
	timeout 1800 ringvm run --kernel vmlinux --initrd initrd-bench.cpio.gz \
		--cmdline "$GUEST_CMDLINE" --mem 512M --cpus 2 --disk img,ro \
		--net "$2" --stats "$1-stats.txt" </dev/null >"$1.out" 2>"$1.err"
	rc=$?
	echo "ringvm $1 status $rc"
	# A failed guest says why (and its console's last lines); its
	# receiver would wait for connections that never come.
	[ $rc = 0 ] || { tail -n 12 "$1.err"; tr -d '\r' <"$1.out" | tail -n 5; kill $rpid 2>/dev/null; }
	wait
	grep "tcp_mbps\|tcp_empty" "$1-tcp.txt" | sed "s/^/$1 /"
	if [ "$1" = GUEST ]; then
		tr -d '\r' <"$1.out" | grep '^RESULT' | sed "s/^/$1 /"
		sed "s/^/STATS /" "$1-stats.txt"
	else
		grep "interrupts_relayed\|irqfd_binds" "$1-stats.txt" | sed "s/^/$1STATS /"
	fi
	return $rc
}

# qemu_guest TAG NETDEV_OPTIONS: QEMU (from Debian) running the same guest
# with the same image and TAP, virtio-blk-pci and virtio-net-pci.
qemu_guest() {
	command -v qemu-system-x86_64 >/dev/null || { echo "no peer"; return 1; }
	tap
	timeout 1800 $P tcp-recv 5201 "$ROUNDS" >"$1-tcp.txt" &
	timeout 1800 qemu-system-x86_64 -L ./qemu-firmware -M pc -accel kvm \
		-cpu host -m 512M -smp 2 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot \
		-kernel vmlinux -initrd initrd-bench.cpio.gz -append "$GUEST_CMDLINE" \
		-drive if=none,id=d0,file=img,format=raw,readonly=on \
		-device virtio-blk-pci,drive=d0,romfile= \
		-netdev "tap,id=n0,ifname=rvtap0,script=no,downscript=no$2" \
		-device virtio-net-pci,netdev=n0,romfile= \
		</dev/null >"$1.out" 2>"$1.err"
	rc=$?
	echo "qemu $1 status $rc"
	wait
	[ "$1" = PEER ] && tr -d '\r' <"$1.out" | grep '^RESULT' | sed "s/^/$1 /"
	grep "tcp_mbps\|tcp_empty" "$1-tcp.txt" | sed "s/^/$1 /"
	tail -n 3 "$1.err"
	return $rc
}

case $PART in
native)
	i=1
	while [ $i -le "$ROUNDS" ]; do
		$P randread img "$SECS" | sed 's/^/NATIVE /'
		$P seqread img "$SECS" | sed 's/^/NATIVE /'
		timeout 120 $P tcp-recv 5202 1 | grep "tcp_mbps\|tcp_empty" | sed 's/^/NATIVE /' &
		$P tcp-send 127.0.0.1 5202 "$SECS"
		wait
		i=$((i + 1))
	done ;;
ringvm) ringvm_guest GUEST tap=rvtap0 || exit 1 ;;
peer) qemu_guest PEER "" || exit 1 ;;
# vhost=on on both sides: the host kernel's vhost-net moves the packets
# (the disk stays each monitor's own).
vhost) [ -c /dev/vhost-net ] && ringvm_guest VHOST tap=rvtap0,vhost=on || exit 1 ;;
peervhost) [ -c /dev/vhost-net ] && qemu_guest PEERVHOST ",vhost=on" || exit 1 ;;
*) echo "io-l1.sh: unknown part $PART" >&2; exit 2 ;;
esac
echo "RUN $PART"
