#!/bin/bash
# QEMU from Debian as the vhost-user frontend of `ringvm backend blk`: the
# stock Debian kernel, booted by QEMU (TCG, no KVM needed) with its RAM in
# a shared memfd and -device vhost-user-blk-pci, writes a file onto the
# ext4 image the back end serves; the host then finds it on the image,
# byte for byte. The back end runs unprivileged (uid 1000) and serves a
# second QEMU after the first one exits (a restarted VMM reconnects).
# Prints "PASS vhost/NAME" or "FAIL vhost/NAME: why" lines.
#   tests/vhost/qemu_frontend.sh [RINGVM [IMAGES]]
# tests: vhost/qemu-frontend-blk vhost/qemu-frontend-fsck
# tests: vhost/qemu-frontend-reconnect vhost/backend-sigterm-stats
set -u
cd "$(dirname "$0")/../.."
RINGVM=${1:-build/ringvm}
IMG=${2:-build/images}
W=$(mktemp -d /tmp/ringvm-vhost-qemu.XXXXXX)
chmod 755 "$W"
BE=
cleanup() {
	[ -n "$BE" ] && kill "$BE" 2>/dev/null && wait "$BE" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

pass() { echo "PASS vhost/$1"; }
fail() { echo "FAIL vhost/$1: $2"; }

for f in "$RINGVM" "$IMG/vmlinuz" "$IMG/initrd.cpio.gz" "$IMG/data.ext4"; do
	if [ ! -r "$f" ]; then
		fail qemu-frontend-blk "missing $f (make; scripts/guest-images.sh)"
		exit 1
	fi
done
if ! command -v qemu-system-x86_64 >/dev/null; then
	fail qemu-frontend-blk "qemu-system-x86_64 not installed (scripts/install-deps.sh)"
	exit 1
fi

cp "$IMG/data.ext4" "$W/disk.img"
cp "$RINGVM" "$W/ringvm"
chown 1000:1000 "$W" "$W/disk.img"
# As an ordinary user, no capabilities: a back end needs none.
setpriv --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all \
	"$W/ringvm" backend blk --socket "$W/blk.sock" --disk "$W/disk.img" \
	--stats "$W/stats" 2>"$W/backend.err" &
BE=$!
for _ in $(seq 50); do
	[ -S "$W/blk.sock" ] && break
	sleep 0.1
done
if [ ! -S "$W/blk.sock" ]; then
	fail qemu-frontend-blk "the back end never listened: $(tail -c 300 "$W/backend.err")"
	exit 1
fi

boot() { # boot LOG: one QEMU guest running the blkwrite hook
	timeout 240 qemu-system-x86_64 -M q35 -accel tcg -m 256 -smp 1 \
		-nographic -no-reboot \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-numa node,memdev=mem \
		-chardev socket,id=c0,path="$W/blk.sock" \
		-device vhost-user-blk-pci,chardev=c0 \
		-kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.cpio.gz" \
		-append "console=ttyS0 quiet rvhook=blkwrite" >"$1" 2>&1 </dev/null
}

boot "$W/qemu1.log"
rc=$?
seq 1 300000 >"$W/seq.want"
debugfs -R "dump /seq.txt $W/seq.got" "$W/disk.img" >/dev/null 2>&1
if [ $rc = 0 ] && grep -q 'RV blk_umount=ok' "$W/qemu1.log" &&
	cmp -s "$W/seq.want" "$W/seq.got"; then
	pass qemu-frontend-blk
else
	fail qemu-frontend-blk "qemu exit $rc; guest: $(grep -a 'RV \|RINGVM' "$W/qemu1.log" | tail -n 3 | tr '\n' ' '); back end: $(tail -c 300 "$W/backend.err")"
fi
if e2fsck -fn "$W/disk.img" >"$W/fsck.log" 2>&1; then
	pass qemu-frontend-fsck
else
	fail qemu-frontend-fsck "e2fsck: $(tail -n 3 "$W/fsck.log" | tr '\n' ' ')"
fi

# The same back end, a new frontend: it must have reset and accept again.
rm -f "$W/seq.got"
debugfs -w -R "rm /seq.txt" "$W/disk.img" >/dev/null 2>&1
boot "$W/qemu2.log"
rc=$?
debugfs -R "dump /seq.txt $W/seq.got" "$W/disk.img" >/dev/null 2>&1
if [ $rc = 0 ] && cmp -s "$W/seq.want" "$W/seq.got"; then
	pass qemu-frontend-reconnect
else
	fail qemu-frontend-reconnect "second qemu exit $rc: $(grep -a 'RV \|RINGVM' "$W/qemu2.log" | tail -n 3 | tr '\n' ' '); back end: $(tail -c 300 "$W/backend.err")"
fi

# SIGTERM ends the back end with status 0 and its counters.
kill -TERM "$BE"
wait "$BE"
rc=$?
BE=
conns=$(sed -n 's/^vhost_user_connections \([0-9]*\) .*/\1/p' "$W/stats")
reqs=$(sed -n 's/^blk0_requests \([0-9]*\) .*/\1/p' "$W/stats")
if [ $rc = 0 ] && [ "${conns:-0}" = 2 ] && [ "${reqs:-0}" -gt 0 ] &&
	[ ! -e "$W/blk.sock" ]; then
	pass backend-sigterm-stats
else
	fail backend-sigterm-stats "exit $rc, connections ${conns:-?}, requests ${reqs:-?}, socket left: $([ -e "$W/blk.sock" ] && echo yes || echo no); $(tail -c 300 "$W/backend.err")"
fi
