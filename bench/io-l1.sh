#!/bin/sh
# make bench-io, host side of one run (inside the harness, or directly on a
# VMX/SVM host): the same probes natively on the same image file and over
# loopback, then in the guest through virtio-blk and virtio-net.
ROUNDS=${1:-5}
SECS=${2:-3}
P=./io_probe
ip link set lo up
dd if=/dev/zero of=img bs=1048576 count=128 2>/dev/null
i=1
while [ $i -le "$ROUNDS" ]; do
	$P randread img "$SECS" | sed 's/^/NATIVE /'
	$P seqread img "$SECS" | sed 's/^/NATIVE /'
	timeout 120 $P tcp-recv 5202 1 | grep "tcp_mbps\|tcp_empty" | sed 's/^/NATIVE /' &
	$P tcp-send 127.0.0.1 5202 "$SECS"
	wait
	i=$((i + 1))
done
tunctl -t rvtap0 >/dev/null
ip link set rvtap0 up
ip addr add 169.254.10.1/24 dev rvtap0
timeout 1800 $P tcp-recv 5201 "$ROUNDS" >guest-tcp.txt &
rpid=$!
timeout 1800 ringvm run --kernel vmlinux --initrd initrd-bench.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=iobench rvrounds=$ROUNDS rvsecs=$SECS" \
	--mem 512M --cpus 2 --disk img,ro --net tap=rvtap0 --stats stats.txt \
	</dev/null >guest.out 2>guest.err
rc=$?
echo "ringvm status $rc"
# A failed guest says why (and its console's last lines); its receiver
# would wait for connections that never come.
[ $rc = 0 ] || { tail -n 12 guest.err; tr -d '\r' <guest.out | tail -n 5; kill $rpid 2>/dev/null; }
wait
tr -d '\r' <guest.out | grep '^RESULT' | sed 's/^/GUEST /'
grep tcp_mbps guest-tcp.txt | sed 's/^/GUEST /'
sed 's/^/STATS /' stats.txt

# peer OUT [NETDEV_OPTIONS]: QEMU (from Debian) running the same guest with
# the same image and TAP, virtio-blk-pci and virtio-net-pci, in the same
# machine; its console in OUT.out.
peer() {
	timeout 1800 qemu-system-x86_64 -L ./qemu-firmware -M pc -accel kvm \
		-cpu host -m 512M -smp 2 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot \
		-kernel vmlinux -initrd initrd-bench.cpio.gz \
		-append "console=ttyS0 quiet rvhook=iobench rvrounds=$ROUNDS rvsecs=$SECS" \
		-drive if=none,id=d0,file=img,format=raw,readonly=on \
		-device virtio-blk-pci,drive=d0,romfile= \
		-netdev "tap,id=n0,ifname=rvtap0,script=no,downscript=no$2" \
		-device virtio-net-pci,netdev=n0,romfile= \
		</dev/null >"$1.out" 2>"$1.err"
}

if command -v qemu-system-x86_64 >/dev/null; then
	timeout 1800 $P tcp-recv 5201 "$ROUNDS" >peer-tcp.txt &
	peer peer ""
	echo "peer status $?"
	wait
	tr -d '\r' <peer.out | grep '^RESULT' | sed 's/^/PEER /'
	grep tcp_mbps peer-tcp.txt | sed 's/^/PEER /'
	tail -n 3 peer.err
fi

# vhost=on on both sides: the host kernel's vhost-net moves the packets
# (the disk stays each monitor's own). Same guest, image and TAP.
if [ -c /dev/vhost-net ]; then
	timeout 1800 $P tcp-recv 5201 "$ROUNDS" >vhost-tcp.txt &
	rpid=$!
	timeout 1800 ringvm run --kernel vmlinux --initrd initrd-bench.cpio.gz \
		--cmdline "console=ttyS0 quiet rvhook=iobench rvrounds=$ROUNDS rvsecs=$SECS" \
		--mem 512M --cpus 2 --disk img,ro --net tap=rvtap0,vhost=on \
		</dev/null >vhost.out 2>vhost.err
	rc=$?
	echo "ringvm vhost status $rc"
	[ $rc = 0 ] || { tail -n 12 vhost.err; tr -d '\r' <vhost.out | tail -n 5; kill $rpid 2>/dev/null; }
	wait
	grep tcp_mbps vhost-tcp.txt | sed 's/^/VHOST /'
	if command -v qemu-system-x86_64 >/dev/null; then
		timeout 1800 $P tcp-recv 5201 "$ROUNDS" >peervh-tcp.txt &
		peer peervh ",vhost=on"
		echo "peer vhost status $?"
		wait
		grep tcp_mbps peervh-tcp.txt | sed 's/^/PEERVHOST /'
	fi
fi
