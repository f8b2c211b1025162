#!/bin/sh
# End-to-end tier for paravirtual I/O: Debian's stock kernel and its own
# virtio drivers against ringvm's virtio-pci devices. Runs where /dev/kvm
# boots stock kernels (inside the harness on PVM hosts), with ringvm, debugfs
# and e2fsck on PATH. Usage: virtio.sh WORKDIR (holding vmlinux,
# initrd.cpio.gz, data.ext4).
# tests: e2e/virtio-blk-ext4-mount e2e/virtio-blk-data-on-image
# tests: e2e/virtio-blk-fsck-clean e2e/virtio-blk-readonly
# tests: e2e/virtio-blk-multiqueue e2e/virtio-rng e2e/virtio-net-mac
# tests: e2e/virtio-net-ping e2e/virtio-net-tcp-guest-to-host
# tests: e2e/virtio-net-tcp-host-to-guest e2e/virtio-reset-rebind
# tests: e2e/virtio-blk-sync-backend e2e/virtio-console-echo
# tests: e2e/virtio-blk-io-uring e2e/virtio-unprivileged
# tests: e2e/vhost-net-ping e2e/vhost-net-tcp-both-ways
# tests: e2e/virtio-net-multiqueue e2e/vhost-net-multiqueue
set -u
W=${1:-.}
cd "$W" || exit 1
T=$W/virtio-tmp
mkdir -p "$T"
LIMIT=${RINGVM_E2E_TIMEOUT:-400}
MAC=52:54:00:12:34:56
. ./e2e_lib.sh    # ok, bad, wait_exit, show_stuck

# counter NAME: a counter from ringvm's --stats file of the main run (-1 when
# the line is missing, which no check accepts).
counter() { awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print -1 }' "$T/stats.txt" 2>/dev/null || echo -1; }
# rv NAME: the value the guest reported as "RV NAME=value" (first one).
rv() { sed -n "s/^RV $1=//p" "$T/virtio.out" | head -n 1; }
md5() { md5sum | cut -d' ' -f1; }

# Fresh images: the ext4 data disk, a read-only disk with known content, a
# scratch disk for the parallel streams.
cp data.ext4 "$T/data.ext4"
dd if=/dev/urandom of="$T/ro.img" bs=65536 count=16 2>/dev/null
ro_before=$(md5 <"$T/ro.img")
dd if=/dev/zero of="$T/scratch.img" bs=1048576 count=16 2>/dev/null

# The main guest's ringvm runs as an ordinary user (uid and gid 1000) with
# what an administrator gives one: /dev/kvm through its group, a TAP
# created for it, its own disk images; seccomp filters on, as always.
RVUID=1000
# first_of PATH...: the first that exists. util-linux's setpriv and
# iproute2's ip (the harness puts them in /usr/local/bin), not busybox's
# applets of the same names, which can neither change users nor give a
# TAP an owner.
first_of() { for p in "$@"; do [ -x "$p" ] && { echo "$p"; return; }; done; }
SETPRIV=$(first_of /usr/local/bin/setpriv /usr/bin/setpriv)
IPROUTE=$(first_of /usr/local/bin/ip /usr/sbin/ip /sbin/ip)
chgrp $RVUID /dev/kvm && chmod g+rw /dev/kvm
# /dev/net/tun is 0666 on any Debian system (the tun driver asks for it);
# the harness's L1 may have made the node itself.
chmod 0666 /dev/net/tun
chown -R $RVUID:$RVUID "$T"
chmod a+rx "$W" && chmod a+r vmlinux initrd.cpio.gz

# The host end of the guest's network: a TAP with a link-local address, a
# receiver on 5000 and a sender on 5001. Nothing leaves this machine.
"${IPROUTE:-ip}" tuntap add dev rvtap0 mode tap user $RVUID >"$T/tunctl.out" 2>&1
ip link set rvtap0 up
ip addr add 169.254.10.1/24 dev rvtap0
printf '#!/bin/sh\nseq 1 300000\n' >"$T/serve.sh"
chmod +x "$T/serve.sh"
# busybox nc hangs up when its stdin ends: give the receiver one that does
# not, or it would cut the guest off after the first read.
rm -f "$T/hold"
mkfifo "$T/hold"
timeout "$LIMIT" nc -l -p 5000 >"$T/net_rx.txt" <"$T/hold" &
rx_pid=$!
exec 4>"$T/hold"
timeout "$LIMIT" nc -l -p 5001 -e "$T/serve.sh" &
tx_pid=$!
want_seq=$(seq 1 300000 | md5)

echo "--- e2e/virtio: one guest with 3 disks, a NIC and an RNG"
timeout "$LIMIT" "${SETPRIV:-setpriv}" --reuid=$RVUID --regid=$RVUID --clear-groups \
	ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=virtio" --mem 512M --cpus 2 \
	--disk "$T/data.ext4" --disk "$T/ro.img,ro" --disk "$T/scratch.img" \
	--net "tap=rvtap0,mac=$MAC" --rng --stats "$T/stats.txt" \
	</dev/null >"$T/virtio.raw" 2>"$T/virtio.err"
rc=$?
tr -d '\r' <"$T/virtio.raw" >"$T/virtio.out"
grep '^RV ' "$T/virtio.out" | sed 's/^/    | /'
sed 's/^/    | /' "$T/virtio.err" | tail -n 20
grep -E '^(blk|net|rng)' "$T/stats.txt" 2>/dev/null | sed 's/^/    stats: /'
exec 4>&-
kill $rx_pid $tx_pid 2>/dev/null
wait $rx_pid $tx_pid 2>/dev/null
if [ "$rc" != 0 ]; then
	echo "    (ringvm exited with status $rc; the guest console's last lines:)"
	grep -v '^RV ' "$T/virtio.out" | tail -n 60 | sed 's/^/    | /'
fi

# The run above was an ordinary user's: the guest came up and ran its
# whole hook (disks, network, rng) and powered off, and the counters file
# ringvm wrote belongs to that user.
owner=$(stat -c %u "$T/stats.txt" 2>/dev/null)
if [ "$rc" = 0 ] && [ "$(rv virtio_done)" = yes ] && [ "$owner" = $RVUID ]; then
	ok virtio-unprivileged
else
	bad virtio-unprivileged "ringvm status $rc as uid $RVUID, virtio_done=[$(rv virtio_done)], stats file owner [$owner], TAP owner [$(cat /sys/class/net/rvtap0/owner 2>/dev/null)] $(cat "$T/tunctl.out"): $(tail -n 2 "$T/virtio.err" | tr '\n' ' ')"
fi

# virtio-blk: mount, data written by the guest is on the image byte for byte.
want_hello=$(cat data.hello.txt) || want_hello="(data.hello.txt missing on the host)"
if [ "$(rv blk_mount)" = ok ] && [ -n "$(rv blk_hello)" ] && [ "$(rv blk_hello)" = "$want_hello" ] &&
	[ "$(rv blk_umount)" = ok ] && [ "$rc" = 0 ]; then
	ok virtio-blk-ext4-mount
else
	bad virtio-blk-ext4-mount "mount=$(rv blk_mount) hello=[$(rv blk_hello)] umount=$(rv blk_umount) status=$rc"
fi
got_seq=$(debugfs -R "cat /seq.txt" "$T/data.ext4" 2>/dev/null | md5)
debugfs -R "dump /rand.bin $T/rand.bin" "$T/data.ext4" >/dev/null 2>&1
got_rand=$(md5 <"$T/rand.bin" 2>/dev/null)
if [ "$got_seq" = "$want_seq" ] && [ -n "$(rv blk_rand_md5)" ] &&
	[ "$got_rand" = "$(rv blk_rand_md5)" ] &&
	[ "$(rv blk_rand_reread_md5)" = "$(rv blk_rand_md5)" ]; then
	ok virtio-blk-data-on-image
else
	bad virtio-blk-data-on-image "seq.txt md5 $got_seq (want $want_seq), rand.bin $got_rand (guest $(rv blk_rand_md5), reread $(rv blk_rand_reread_md5))"
fi
if e2fsck -fn "$T/data.ext4" >"$T/fsck.txt" 2>&1; then
	ok virtio-blk-fsck-clean
else
	bad virtio-blk-fsck-clean "$(tail -n 3 "$T/fsck.txt" | tr '\n' ' ')"
fi
# Read-only: the guest sees ro=1, its write fails, the image is unchanged.
ro_after=$(md5 <"$T/ro.img")
if [ "$(rv ro_flag)" = 1 ] && [ "$(rv ro_write)" = refused ] &&
	[ "$ro_after" = "$ro_before" ] && [ "$(rv ro_md5)" = "$ro_before" ]; then
	ok virtio-blk-readonly
else
	bad virtio-blk-readonly "ro=$(rv ro_flag) write=$(rv ro_write) guest md5 $(rv ro_md5) image $ro_before -> $ro_after"
fi
# Multiqueue: one queue per vCPU, 8 parallel streams land where they should.
host_ok=0
i=0
while [ $i -lt 8 ]; do
	want=$(yes "ringvm stream $i" | head -c 1048576 | md5)
	got=$(dd if="$T/scratch.img" bs=65536 skip=$((i * 16)) count=16 2>/dev/null | md5)
	[ "$got" = "$want" ] && host_ok=$((host_ok + 1))
	i=$((i + 1))
done
# ringvm's own counters: both queues of vdc carried requests.
if [ "$(rv mq_queues)" = 2 ] && [ "$(rv mq_streams_ok)" = 8 ] && [ $host_ok = 8 ] &&
	[ "$(counter blk2_q0_requests)" -gt 0 ] && [ "$(counter blk2_q1_requests)" -gt 0 ]; then
	ok virtio-blk-multiqueue
else
	bad virtio-blk-multiqueue "guest queues $(rv mq_queues), guest-verified streams $(rv mq_streams_ok)/8, on the image $host_ok/8, requests per queue (ringvm) $(counter blk2_q0_requests)/$(counter blk2_q1_requests)"
fi
# The io_uring back end served all three disks (no silent fallback).
if [ "$(counter blk0_io_uring)" = 1 ] && [ "$(counter blk1_io_uring)" = 1 ] &&
	[ "$(counter blk2_io_uring)" = 1 ] && ! grep -q "io_uring unavailable" "$T/virtio.err"; then
	ok virtio-blk-io-uring
else
	bad virtio-blk-io-uring "blk0_io_uring=$(counter blk0_io_uring) blk1_io_uring=$(counter blk1_io_uring) blk2_io_uring=$(counter blk2_io_uring); $(grep io_uring "$T/virtio.err")"
fi
# The guest read 1024 + 2 x 64 bytes from /dev/hwrng; ringvm served them.
if [ "$(rv rng_current)" = virtio_rng.0 ] && [ "$(rv rng_bytes)" = 1024 ] &&
	[ "$(rv rng_distinct)" = yes ] && [ "$(counter rng0_bytes)" -ge 1152 ]; then
	ok virtio-rng
else
	bad virtio-rng "rng_current=$(rv rng_current) bytes=$(rv rng_bytes) distinct=$(rv rng_distinct), served by ringvm: $(counter rng0_bytes)"
fi
[ "$(rv net_mac)" = "$MAC" ] && ok virtio-net-mac ||
	bad virtio-net-mac "guest eth0 has [$(rv net_mac)], expected $MAC"
[ "$(rv net_ping)" = ok ] && ok virtio-net-ping || bad virtio-net-ping "$(rv net_ping)"
# Each TCP stream carried the whole sequence through ringvm's device.
seq_bytes=$(seq 1 300000 | wc -c)
got=$(md5 <"$T/net_rx.txt")
if [ "$got" = "$want_seq" ] && [ "$(counter net0_tx_bytes)" -ge "$seq_bytes" ]; then
	ok virtio-net-tcp-guest-to-host
else
	bad virtio-net-tcp-guest-to-host "host received $(wc -c <"$T/net_rx.txt") bytes, md5 $got (want $want_seq); ringvm sent $(counter net0_tx_bytes) bytes"
fi
if [ "$(rv net_rx_md5 | cut -d' ' -f1)" = "$want_seq" ] &&
	[ "$(counter net0_rx_bytes)" -ge "$seq_bytes" ]; then
	ok virtio-net-tcp-host-to-guest
else
	bad virtio-net-tcp-host-to-guest "guest received: $(rv net_rx_md5); ringvm delivered $(counter net0_rx_bytes) bytes"
fi
if [ "$(rv rebind_gone)" = yes ] && [ "$(rv rebind_read)" = ok ] &&
	[ "$(rv virtio_done)" = yes ]; then
	ok virtio-reset-rebind
else
	bad virtio-reset-rebind "gone=$(rv rebind_gone) read=$(rv rebind_read) done=$(rv virtio_done)"
fi

# The preadv/pwritev back end, as used when io_uring is unavailable.
cp data.ext4 "$T/sync.ext4"
echo "--- e2e/virtio-blk-sync-backend"
RINGVM_BLK_SYNC=1 timeout "$LIMIT" ringvm run --kernel vmlinux \
	--initrd initrd.cpio.gz --cmdline "console=ttyS0 quiet rvhook=blkwrite" \
	--mem 256M --disk "$T/sync.ext4" --stats "$T/sync.stats" \
	</dev/null >"$T/sync.raw" 2>"$T/sync.err"
rc=$?
got=$(debugfs -R "cat /seq.txt" "$T/sync.ext4" 2>/dev/null | md5)
if [ $rc = 0 ] && [ "$got" = "$want_seq" ] && e2fsck -fn "$T/sync.ext4" >/dev/null 2>&1 &&
	grep -qx "blk0_io_uring 0 flag" "$T/sync.stats"; then
	ok virtio-blk-sync-backend
else
	bad virtio-blk-sync-backend "status $rc, seq.txt md5 $got; console's last lines: $(tr -d '\r' <"$T/sync.raw" | tail -n 8 | tr '\n' ' '); $(tail -n 2 "$T/sync.err" | tr '\n' ' ')"
fi

# virtio-console: hvc0 is the guest's console. Once the guest says it is
# ready, a line typed on ringvm's stdin must come back through the guest.
echo "--- e2e/virtio-console-echo"
rm -f "$T/console.in"
mkfifo "$T/console.in"
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=hvc0 quiet rvhook=echo" --mem 256M --console virtio \
	<"$T/console.in" >"$T/console.raw" 2>"$T/console.err" &
vm_pid=$!
exec 3>"$T/console.in"
# Wait (bounded) for the guest's prompt before typing, as a user would.
n=0
while ! tr -d '\r' <"$T/console.raw" | grep -q "^RV echo_ready" &&
	kill -0 $vm_pid 2>/dev/null && [ $n -lt "$LIMIT" ]; do
	sleep 1
	n=$((n + 1))
done
printf 'hello-hvc0-4242\n' >&3
wait $vm_pid
rc=$?
exec 3>&-
if [ $rc = 0 ] && tr -d '\r' <"$T/console.raw" | grep -qx "RV echo=hello-hvc0-4242"; then
	ok virtio-console-echo
else
	bad virtio-console-echo "status $rc, output: $(tr -d '\r' <"$T/console.raw" | tail -n 5 | tr '\n' ' ')"
fi

# vhost=on: the host kernel's vhost-net moves the packets between the rings
# and a TAP (ringvm keeps the device model): ping, then TCP both ways,
# compared by checksum; ringvm's own counters show it never saw a packet,
# and that the guest's interrupts came from KVM's irqfds, not from ringvm.
echo "--- e2e/vhost-net"
"${IPROUTE:-ip}" tuntap add dev rvtap3 mode tap >"$T/vn-tunctl.out" 2>&1
ip link set rvtap3 up
ip addr add 169.254.13.1/24 dev rvtap3
rm -f "$T/vn-hold"
mkfifo "$T/vn-hold"
timeout "$LIMIT" nc -l -p 5010 >"$T/vn_rx.txt" <"$T/vn-hold" &
vn_rx=$!
exec 5>"$T/vn-hold"
timeout "$LIMIT" nc -l -p 5011 -e "$T/serve.sh" &
vn_tx=$!
# With an API socket: a guest that goes silent leaves two of its stats.
rm -f "$T/vn.sock"
ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=vhostnet" --mem 256M \
	--net "tap=rvtap3,vhost=on" --stats "$T/vn.stats" --api-sock "$T/vn.sock" \
	</dev/null >"$T/vn.raw" 2>"$T/vn.err" &
wait_exit $! "$T/vn.sock"
vn_rc=$rc
exec 5>&-
kill $vn_rx $vn_tx 2>/dev/null
wait $vn_rx $vn_tx 2>/dev/null
vn() { tr -d '\r' <"$T/vn.raw" | sed -n "s/^RV $1=//p" | head -n 1; }
vhost_flag=$(awk '$1 == "net0_vhost" { print $2 }' "$T/vn.stats" 2>/dev/null)
seen=$(awk '$1 == "net0_rx_packets" || $1 == "net0_tx_packets" { n += $2 } END { print n + 0 }' "$T/vn.stats" 2>/dev/null)
relayed=$(awk '$1 == "net0_interrupts_relayed" { print $2 }' "$T/vn.stats" 2>/dev/null)
binds=$(awk '$1 == "net0_irqfd_binds" { print $2 }' "$T/vn.stats" 2>/dev/null)
if [ $vn_rc = 0 ] && [ "$(vn vn_ping)" = ok ] && [ "$vhost_flag" = 1 ]; then
	ok vhost-net-ping
else
	bad vhost-net-ping "status $vn_rc, ping $(vn vn_ping), vhost flag ${vhost_flag:-?}; $(tail -n 3 "$T/vn.err" | tr '\n' ' ') $(tr -d '\r' <"$T/vn.raw" | tail -n 4 | tr '\n' ' ') $(show_stuck)"
fi
if [ $vn_rc = 0 ] && [ "$(md5 <"$T/vn_rx.txt")" = "$want_seq" ] &&
	[ "$(vn vn_rx_md5)" = "$want_seq" ] && [ "$seen" = 0 ] && [ "${binds:-0}" -ge 2 ] &&
	[ -n "$relayed" ] && [ "$relayed" -lt "$(vn vn_irqs)" ]; then
	ok vhost-net-tcp-both-ways
else
	bad vhost-net-tcp-both-ways "status $vn_rc, host got md5 $(md5 <"$T/vn_rx.txt"), guest got $(vn vn_rx_md5), want $want_seq; packets through ringvm $seen, guest interrupts $(vn vn_irqs), relayed by ringvm ${relayed:-?}, irqfd binds ${binds:-?}"
fi
ip link del rvtap3 2>/dev/null

# Multiqueue: two queue pairs on a multi-queue TAP, a 2-vCPU guest. Linux
# asks for both pairs over the control queue; one TCP stream each way
# from each vCPU lands byte for byte, and both pairs carried packets:
# counted by ringvm's own data path, or (vhost=on, one vhost-net instance
# a pair) seen as interrupts on each receive queue in the guest, which KVM
# delivered without ringvm relaying them.
want2=$(seq 1 200000 | md5)
printf '#!/bin/sh\nseq 1 200000\n' >"$T/serve2.sh"
chmod +x "$T/serve2.sh"
# multiqueue NAME NET-OPTIONS
multiqueue() {
	echo "--- e2e/$1"
	"${IPROUTE:-ip}" tuntap add dev rvtap5 mode tap multi_queue >"$T/mq-tunctl.out" 2>&1
	ip link set rvtap5 up
	ip addr add 169.254.15.1/24 dev rvtap5
	mq_pids=
	for c in 0 1; do
		rm -f "$T/mq-hold$c" "$T/mq_rx$c.txt"
		mkfifo "$T/mq-hold$c"
		timeout "$LIMIT" nc -l -p $((5030 + c)) >"$T/mq_rx$c.txt" <"$T/mq-hold$c" &
		mq_pids="$mq_pids $!"
		timeout "$LIMIT" nc -l -p $((5040 + c)) -e "$T/serve2.sh" &
		mq_pids="$mq_pids $!"
	done
	exec 6>"$T/mq-hold0" 7>"$T/mq-hold1"
	rm -f "$T/mq.sock"
	ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
		--cmdline "console=ttyS0 quiet rvhook=netmq" --mem 256M --cpus 2 \
		--net "tap=rvtap5,queues=2$2" --stats "$T/mq.stats" --api-sock "$T/mq.sock" \
		</dev/null >"$T/mq.raw" 2>"$T/mq.err" &
	wait_exit $! "$T/mq.sock"
	mq_rc=$rc
	exec 6>&- 7>&-
	# shellcheck disable=SC2086
	kill $mq_pids 2>/dev/null
	# shellcheck disable=SC2086
	wait $mq_pids 2>/dev/null
	ip link del rvtap5 2>/dev/null
	ok_streams=0
	for c in 0 1; do
		[ "$(md5 <"$T/mq_rx$c.txt")" = "$want2" ] && ok_streams=$((ok_streams + 1))
		[ "$(mqv "mq_rx${c}_md5")" = "$want2" ] && ok_streams=$((ok_streams + 1))
	done
	why="status $mq_rc, guest rx queues $(mqv mq_rx_queues), ping $(mqv mq_ping), streams intact $ok_streams of 4, pairs requested $(mqs queue_pairs_requested)"
	[ $mq_rc = 0 ] && [ "$(mqv mq_rx_queues)" = 2 ] && [ "$(mqv mq_ping)" = ok ] &&
		[ $ok_streams = 4 ] && [ "$(mqs queue_pairs_requested)" = 2 ]
}
mqv() { tr -d '\r' <"$T/mq.raw" | sed -n "s/^RV $1=//p" | head -n 1; }
mqs() { awk -v k="net0_$1" '$1 == k { print $2; f = 1 } END { if (!f) print -1 }' "$T/mq.stats" 2>/dev/null; }
mq_log() { echo "$(tail -n 3 "$T/mq.err" | tr '\n' ' ') $(tr -d '\r' <"$T/mq.raw" | grep 'RV \|RINGVM' | tail -n 6 | tr '\n' ' ') $(show_stuck)"; }

if multiqueue virtio-net-multiqueue "" &&
	[ "$(mqs q0_tx_packets)" -gt 0 ] && [ "$(mqs q1_tx_packets)" -gt 0 ]; then
	ok virtio-net-multiqueue
else
	bad virtio-net-multiqueue "$why, tx packets q0 $(mqs q0_tx_packets) q1 $(mqs q1_tx_packets), rx q0 $(mqs q0_rx_packets) q1 $(mqs q1_rx_packets); $(mq_log)"
fi
if multiqueue vhost-net-multiqueue ",vhost=on" && [ "$(mqs vhost)" = 1 ] &&
	[ "$(mqv mq_irqs_in0)" -gt 0 ] && [ "$(mqv mq_irqs_in1)" -gt 0 ] &&
	[ "$(mqs interrupts_relayed)" -ge 0 ] &&
	[ "$(mqs interrupts_relayed)" -lt "$(mqv mq_irqs)" ] &&
	[ "$(mqs irqfd_binds)" -ge 4 ]; then
	ok vhost-net-multiqueue
else
	bad vhost-net-multiqueue "$why, vhost flag $(mqs vhost), guest interrupts rx0 $(mqv mq_irqs_in0) rx1 $(mqv mq_irqs_in1) all $(mqv mq_irqs), relayed by ringvm $(mqs interrupts_relayed), irqfd binds $(mqs irqfd_binds); $(mq_log)"
fi
