#!/bin/bash
# QEMU from Debian as the vhost-user frontend of `ringvm backend net`: the
# stock Debian kernel, booted by QEMU (TCG, no KVM needed) with its RAM in
# a shared memfd and -netdev vhost-user + virtio-net-pci, runs the vhostnet
# hook (guest/hooks/vhostnet): it pings the host end of a TAP, sends
# `seq 1 300000` to it over TCP and reads as much back; both directions are
# compared by md5. The back end runs unprivileged (uid 1000) on a TAP made
# for that user, and its counters must show packets both ways. Needs root.
# Prints "PASS vhost/NAME" or "FAIL vhost/NAME: why" lines.
#   tests/vhost/qemu_net.sh [RINGVM [IMAGES]]
# QEMU_NET_KEEP=1 keeps the work directory (logs, stats) and names it.
# tests: vhost/qemu-frontend-net-ping
# tests: vhost/qemu-frontend-net-tcp-guest-to-host
# tests: vhost/qemu-frontend-net-tcp-host-to-guest
# tests: vhost/qemu-frontend-net-backend-counters
set -u
cd "$(dirname "$0")/../.." || exit 1
RINGVM=${1:-build/ringvm}
IMG=${2:-build/images}
TAP=${QEMU_NET_TAP:-rvqnet0}
SUB=22 # vn_subnet: the hook's host is 169.254.22.1, the guest .2
W=$(mktemp -d /tmp/ringvm-vhost-qemunet.XXXXXX)
chmod 755 "$W"
BE="" LISTENERS="" HOLD_OPEN=0
stop_listeners() {
	[ $HOLD_OPEN = 1 ] && exec 5>&-
	HOLD_OPEN=0
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$LISTENERS" ] && kill $LISTENERS 2>/dev/null && wait $LISTENERS 2>/dev/null
	LISTENERS=""
}
cleanup() {
	stop_listeners
	[ -n "$BE" ] && kill -KILL "$BE" 2>/dev/null && wait "$BE" 2>/dev/null
	ip link del "$TAP" 2>/dev/null
	if [ -n "${QEMU_NET_KEEP:-}" ]; then
		echo "qemu_net: kept $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT

pass() { echo "PASS vhost/$1"; }
fail() { echo "FAIL vhost/$1: $2"; }

for f in "$RINGVM" "$IMG/vmlinuz" "$IMG/initrd.cpio.gz"; do
	if [ ! -r "$f" ]; then
		fail qemu-frontend-net "missing $f (make; scripts/guest-images.sh)"
		exit 1
	fi
done
for c in qemu-system-x86_64 busybox; do
	if ! command -v $c >/dev/null; then
		fail qemu-frontend-net "$c not installed (scripts/install-deps.sh)"
		exit 1
	fi
done
# The hook's name is plain text in the cpio archive's headers.
if ! zcat "$IMG/initrd.cpio.gz" | grep -aqF hooks/vhostnet; then
	fail qemu-frontend-net "$IMG/initrd.cpio.gz has no vhostnet hook (scripts/guest-images.sh)"
	exit 1
fi

# A TAP left by a killed run has this test's name: ours to replace.
ip link del "$TAP" 2>/dev/null
if ! { ip tuntap add dev "$TAP" mode tap user 1000 &&
	ip addr add "169.254.$SUB.1/24" dev "$TAP" &&
	ip link set "$TAP" up; } 2>"$W/tap.err"; then
	fail qemu-frontend-net "cannot make TAP $TAP (root needed): $(head -c 300 "$W/tap.err")"
	exit 1
fi

cp "$RINGVM" "$W/ringvm"
chown 1000:1000 "$W"
# As an ordinary user, no capabilities: it attaches to a TAP that user
# owns. It still has to open /dev/net/tun, 0666 on Debian with udev but
# often 0600 without: then only the back end's own mount namespace gets a
# 0666 node for it (nothing on the host changes). unshare and sh exec in
# place, so $! is the back end itself.
if [ -n "$(find /dev/net/tun -perm -0006 2>/dev/null)" ]; then
	tun_fix=""
else
	tun_fix="mkdir $W/tun && mount -t tmpfs -o mode=755 tun $W/tun &&
		mknod -m 666 $W/tun/tun c 10 200 && mount --bind $W/tun/tun /dev/net/tun &&"
fi
# shellcheck disable=SC2016 # $0.. expand in the inner sh
unshare --mount --propagation private sh -c "$tun_fix"' exec "$@"' sh \
	setpriv --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all \
	"$W/ringvm" backend net --socket "$W/net.sock" --tap "$TAP" \
	--stats "$W/stats" 2>"$W/backend.err" &
BE=$!
for _ in $(seq 50); do
	[ -S "$W/net.sock" ] && break
	kill -0 "$BE" 2>/dev/null || break
	sleep 0.1
done
if [ ! -S "$W/net.sock" ]; then
	fail qemu-frontend-net "the back end never listened: $(tail -c 300 "$W/backend.err")"
	exit 1
fi
# What runs is the back end itself, as uid 1000 (unshare and sh exec'd).
be_uid=$(awk '/^Uid:/ { print $2 "/" $3 }' "/proc/$BE/status" 2>/dev/null)
be_exe=$(readlink "/proc/$BE/exe" 2>/dev/null)

# The hook's peers. busybox nc hangs up once its stdin ends, which would
# cut the guest's upload short: a FIFO held open on fd 5 keeps it open.
printf '#!/bin/sh\nseq 1 300000\n' >"$W/serve.sh"
chmod +x "$W/serve.sh"
mkfifo "$W/hold"
timeout 60 busybox nc -l -p 5010 >"$W/from-guest.txt" <"$W/hold" &
LISTENERS=$!
exec 5>"$W/hold"
HOLD_OPEN=1
timeout 60 busybox nc -l -p 5011 -e "$W/serve.sh" &
LISTENERS="$LISTENERS $!"

# vectors=0: no MSI-X, the guest's driver falls back to INTx. With MSI-X,
# QEMU 7.2 without KVM (TCG) crashes (SIGSEGV) as the driver sets
# DRIVER_OK, before any ring reaches the back end: vhost-user clears
# use_guest_notifier_mask, so virtio-pci unmasks vectors through
# kvm_virtio_pci_irqfd_use(), whose vector_irqfd array only exists with
# KVM irqfds (NULL under TCG). Any vhost-user-net back end hits it.
timeout 50 qemu-system-x86_64 -M q35 -accel tcg -m 256 -smp 1 \
	-nographic -no-reboot \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-numa node,memdev=mem \
	-chardev socket,id=c0,path="$W/net.sock" \
	-netdev vhost-user,id=n0,chardev=c0 \
	-device virtio-net-pci,netdev=n0,vectors=0 \
	-kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.cpio.gz" \
	-append "console=ttyS0 quiet rvhook=vhostnet vn_subnet=$SUB" \
	>"$W/qemu.log" 2>&1 </dev/null
rc=$?
stop_listeners

rv() { tr -d '\r' <"$W/qemu.log" | sed -n "s/^RV $1=//p" | head -n 1; }
guest() { tr -d '\r' <"$W/qemu.log" | grep -a 'RV \|RINGVM\|qemu' | tail -n 4 | tr '\n' ' '; }
want=$(seq 1 300000 | md5sum | cut -d' ' -f1)
if [ $rc = 0 ] && [ "$(rv vn_ping)" = ok ]; then
	pass qemu-frontend-net-ping
else
	fail qemu-frontend-net-ping "qemu exit $rc, ping: $(rv vn_ping); guest: $(guest); back end: $(tail -c 300 "$W/backend.err")"
fi
got=$(md5sum <"$W/from-guest.txt" | cut -d' ' -f1)
if [ "$got" = "$want" ]; then
	pass qemu-frontend-net-tcp-guest-to-host
else
	fail qemu-frontend-net-tcp-guest-to-host "qemu exit $rc, host got $(wc -c <"$W/from-guest.txt") bytes, md5 $got (want $want); guest: $(guest)"
fi
if [ "$(rv vn_rx_md5)" = "$want" ]; then
	pass qemu-frontend-net-tcp-host-to-guest
else
	fail qemu-frontend-net-tcp-host-to-guest "qemu exit $rc, guest got md5 $(rv vn_rx_md5) (want $want); guest: $(guest)"
fi

# The frontend has gone: the back end still runs, SIGTERM ends it with
# status 0, and its counters saw the traffic both ways.
alive=no
kill -0 "$BE" 2>/dev/null && [ -S "$W/net.sock" ] && alive=yes
kill -TERM "$BE"
for _ in $(seq 50); do
	kill -0 "$BE" 2>/dev/null || break
	sleep 0.1
done
kill -KILL "$BE" 2>/dev/null
wait "$BE"
be_rc=$?
BE=""
st() { awk -v k="$1" '$1 == k { print $2 }' "$W/stats" 2>/dev/null; }
tx=$(st net0_tx_packets) rx=$(st net0_rx_packets) refused=$(st vhost_user_refused)
if [ $alive = yes ] && [ $be_rc = 0 ] && [ "${tx:-0}" -gt 0 ] &&
	[ "$be_uid" = 1000/1000 ] && [ "$be_exe" = "$W/ringvm" ] &&
	[ "${rx:-0}" -gt 0 ] && [ "${refused:-x}" = 0 ]; then
	pass qemu-frontend-net-backend-counters
else
	fail qemu-frontend-net-backend-counters "alive after qemu: $alive, exit $be_rc, uid ${be_uid:-?} ($be_exe), tx ${tx:-?} rx ${rx:-?} packets, refused ${refused:-?}; $(tail -c 300 "$W/backend.err")"
fi
