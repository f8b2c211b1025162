#!/bin/sh
# End-to-end tier for vhost-user: ringvm as the frontend of a disk served by
# another process. The stock Debian kernel, booted by ringvm, keeps writing
# to ext4 on a vhost-user-blk disk that `ringvm backend blk` serves (as an
# unprivileged user); the VM is paused and resumed mid-write; a snapshot is
# refused with a reason; the host then finds every line the guest wrote on
# the image. Then the same frontend against a back end nobody here wrote:
# qemu-storage-daemon exporting a qcow2 image, and Debian's virtiofsd
# sharing a directory. Runs where /dev/kvm boots stock kernels, with
# qemu-storage-daemon, qemu-img and virtiofsd on PATH.
# Usage: vhost_user.sh WORKDIR (holding vmlinux, initrd.cpio.gz, data.ext4).
# tests: e2e/vhost-user-blk-ringvm-backend e2e/vhost-user-pause-resume
# tests: e2e/vhost-user-snapshot-refused e2e/vhost-user-data-on-image
# tests: e2e/vhost-user-no-backend e2e/vhost-user-qsd-qcow2
# tests: e2e/vhost-user-fs-virtiofsd e2e/vhost-user-backend-killed
# tests: e2e/vhost-user-net-ringvm-backend
set -u
W=${1:-.}
cd "$W" || exit 1
T=$W/vhost_user-tmp
mkdir -p "$T"
chmod 755 "$T"
LIMIT=${RINGVM_E2E_TIMEOUT:-400}
. ./e2e_lib.sh
TICKS=16
BE=
trap '[ -n "$BE" ] && kill "$BE" 2>/dev/null' EXIT

first_of() { for p in "$@"; do [ -x "$p" ] && { echo "$p"; return; }; done; }
# wait_socket PATH: until a back end listens there (at most 10 s).
wait_socket() {
	n=0
	while [ ! -S "$1" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
}
SETPRIV=$(first_of /usr/local/bin/setpriv /usr/bin/setpriv)

# No back end on the socket: one line, exit 1, no guest started.
echo "--- e2e/vhost-user-no-backend"
timeout 60 ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--disk "vhost-user=$T/nobody.sock" </dev/null >"$T/nobe.out" 2>"$T/nobe.err"
rc=$?
if [ $rc = 1 ] && [ "$(wc -l <"$T/nobe.err")" = 1 ] &&
	grep -q "vhost-user back end $T/nobody.sock" "$T/nobe.err"; then
	ok vhost-user-no-backend
else
	bad vhost-user-no-backend "status $rc: $(head -c 300 "$T/nobe.err")"
fi

# The back end, as uid 1000, in a directory of its own with its own copy
# of the image.
B=$T/be
mkdir -p "$B"
cp data.ext4 "$B/disk.img"
cp "$(command -v ringvm)" "$B/ringvm-backend"
chown -R 1000:1000 "$B"
"$SETPRIV" --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all \
	"$B/ringvm-backend" backend blk --socket "$B/blk.sock" \
	--disk "$B/disk.img" --stats "$B/backend.stats" 2>"$T/backend.err" &
BE=$!
wait_socket "$B/blk.sock"

echo "--- e2e/vhost-user-blk-ringvm-backend"
S=$T/api.sock
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=lifecycle lc_ticks=$TICKS" \
	--mem 256M --disk "vhost-user=$B/blk.sock" --api-sock "$S" \
	--stats "$T/vm.stats" </dev/null >"$T/boot.log" 2>"$T/vm.err" &
watch=$!
if wait_tick "$T/boot.log" 3; then
	ok vhost-user-blk-ringvm-backend
else
	bad vhost-user-blk-ringvm-backend "no tick 3: $(tr -d '\r' <"$T/boot.log" | tail -n 5 | tr '\n' ' '); $(tail -c 300 "$T/vm.err"); back end: $(tail -c 300 "$T/backend.err")"
fi

# Pause: the back end stops its rings and the guest stops writing;
# resume: the rings go on where they stopped.
client pause --api-sock "$S" 2>"$T/pause.err"
p_rc=$?
t_paused=$(last_tick "$T/boot.log")
sleep 3
t_later=$(last_tick "$T/boot.log")
# A snapshot cannot hold the back end's state: refused, guest untouched.
client snapshot --api-sock "$S" --state "$T/st" --mem "$T/mem" \
	>"$T/snap.out" 2>"$T/snap.err"
s_rc=$?
client resume --api-sock "$S" 2>"$T/resume.err"
r_rc=$?
if [ $s_rc = 1 ] && grep -q "vhost-user" "$T/snap.err" &&
	[ ! -e "$T/st" ] && [ ! -e "$T/mem" ]; then
	ok vhost-user-snapshot-refused
else
	bad vhost-user-snapshot-refused "status $s_rc: $(head -c 300 "$T/snap.err")"
fi
if [ $p_rc = 0 ] && [ $r_rc = 0 ] && [ -n "$t_paused" ] &&
	[ "$t_later" = "$t_paused" ] && wait_tick "$T/boot.log" $((t_paused + 2)); then
	ok vhost-user-pause-resume
else
	bad vhost-user-pause-resume "pause $p_rc ($(cat "$T/pause.err")), resume $r_rc ($(cat "$T/resume.err")), tick $t_paused then $t_later, last $(last_tick "$T/boot.log")"
fi
wait_exit $watch

# The back end is killed while the guest writes: ringvm goes on, answers
# what was in flight and what follows with an I/O error, and the guest
# sees a failed disk (not requests that never end) and powers off.
echo "--- e2e/vhost-user-backend-killed"
truncate -s 4M "$B/raw.img"
chown 1000:1000 "$B/raw.img"
"$SETPRIV" --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all \
	"$B/ringvm-backend" backend blk --socket "$B/raw.sock" \
	--disk "$B/raw.img" 2>"$T/raw-backend.err" &
KB=$!
wait_socket "$B/raw.sock"
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=blkfail" --mem 256M \
	--disk "vhost-user=$B/raw.sock" --stats "$T/kill.stats" \
	</dev/null >"$T/kill.log" 2>"$T/kill.err" &
watch=$!
if wait_for "$T/kill.log" "^RV wrote=3"; then
	kill -KILL $KB
fi
wait $KB 2>/dev/null
wait_for "$T/kill.log" "^RV io_error=" >/dev/null
wait_exit $watch
failed=$(awk '$1 == "blk0_failed_requests" { print $2 }' "$T/kill.stats")
err_at=$(tr -d '\r' <"$T/kill.log" | sed -n 's/^RV io_error=//p' | head -n 1)
if [ $rc = 0 ] && [ -n "$err_at" ] && [ "$err_at" != none ] &&
	grep -q "back end went away" "$T/kill.err" && [ "${failed:-0}" -gt 0 ]; then
	ok vhost-user-backend-killed
else
	bad vhost-user-backend-killed "ringvm status $rc, guest io_error=$err_at, failed requests ${failed:-?}; guest: $(tr -d '\r' <"$T/kill.log" | grep 'RV \|RINGVM' | tail -n 3 | tr '\n' ' '); $(tail -c 400 "$T/kill.err")"
fi

# Every tick the guest wrote is on the image, in order; the file system
# is clean; both sides counted the traffic.
kill -TERM "$BE"
wait "$BE"
be_rc=$?
BE=
got=$(debugfs -R "cat /log.txt" "$B/disk.img" 2>/dev/null | sed 's/ pid [0-9]*$//' | md5sum)
want=$(counted_md5 "tick %d")
irqs=$(awk '$1 == "blk0_irqfd_binds" { print $2 }' "$T/vm.stats")
reqs=$(awk '$1 == "blk0_requests" { print $2 }' "$B/backend.stats")
if [ $rc = 0 ] && [ "$got" = "$want" ] && e2fsck -fn "$B/disk.img" >/dev/null 2>&1 &&
	[ "${irqs:-0}" -gt 0 ] && [ "${reqs:-0}" -gt 0 ] && [ $be_rc = 0 ]; then
	ok vhost-user-data-on-image
else
	bad vhost-user-data-on-image "ringvm status $rc, back end $be_rc, log.txt md5 $got (want $want), irqfd binds ${irqs:-?}, back-end requests ${reqs:-?}; $(tail -c 300 "$T/vm.err"); $(tail -c 300 "$T/backend.err")"
fi

# ringvm backend net, as uid 1000 on a TAP made for that user, serves the
# guest's NIC: ping and TCP both ways through the back-end process,
# compared by checksum.
echo "--- e2e/vhost-user-net-ringvm-backend"
IPROUTE=$(first_of /usr/local/bin/ip /usr/sbin/ip /sbin/ip)
# 0666 on any Debian system; the harness's L1 may have made the node.
chmod 0666 /dev/net/tun
"$IPROUTE" tuntap add dev rvtap4 mode tap user 1000 >"$T/un-tunctl.out" 2>&1
ip link set rvtap4 up
ip addr add 169.254.14.1/24 dev rvtap4
"$SETPRIV" --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all \
	"$B/ringvm-backend" backend net --socket "$B/net.sock" --tap rvtap4 \
	--stats "$B/net-backend.stats" 2>"$T/net-backend.err" &
NB=$!
wait_socket "$B/net.sock"
printf '#!/bin/sh\nseq 1 300000\n' >"$T/serve.sh"
chmod +x "$T/serve.sh"
rm -f "$T/un-hold"
mkfifo "$T/un-hold"
timeout "$LIMIT" nc -l -p 5010 >"$T/un_rx.txt" <"$T/un-hold" &
un_rx=$!
exec 5>"$T/un-hold"
timeout "$LIMIT" nc -l -p 5011 -e "$T/serve.sh" &
un_tx=$!
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=vhostnet vn_subnet=14" --mem 256M \
	--net "vhost-user=$B/net.sock" --stats "$T/un.stats" \
	</dev/null >"$T/un.raw" 2>"$T/un.err"
rc=$?
exec 5>&-
kill $un_rx $un_tx 2>/dev/null
wait $un_rx $un_tx 2>/dev/null
kill -TERM $NB
wait $NB 2>/dev/null
unv() { tr -d '\r' <"$T/un.raw" | sed -n "s/^RV $1=//p" | head -n 1; }
want=$(seq 1 300000 | md5sum | cut -d' ' -f1)
got=$(md5sum <"$T/un_rx.txt" | cut -d' ' -f1)
pk=$(awk '$1 == "net0_tx_packets" { print $2 }' "$B/net-backend.stats" 2>/dev/null)
# The back end's interrupts reached the guest through KVM's irqfds: the
# guest took more than ringvm ever relayed.
relayed=$(awk '$1 == "net0_interrupts_relayed" { print $2 }' "$T/un.stats" 2>/dev/null)
if [ $rc = 0 ] && [ "$(unv vn_ping)" = ok ] && [ "$got" = "$want" ] &&
	[ "$(unv vn_rx_md5)" = "$want" ] && [ "${pk:-0}" -gt 0 ] &&
	[ -n "$relayed" ] && [ "$relayed" -lt "$(unv vn_irqs)" ]; then
	ok vhost-user-net-ringvm-backend
else
	bad vhost-user-net-ringvm-backend "status $rc, ping $(unv vn_ping), host got md5 $got, guest got $(unv vn_rx_md5), want $want, back-end tx packets ${pk:-?}, guest interrupts $(unv vn_irqs), relayed by ringvm ${relayed:-?}; $(tail -c 300 "$T/un.err"); back end: $(tail -c 300 "$T/net-backend.err")"
fi
ip link del rvtap4 2>/dev/null

# qemu-storage-daemon serving a qcow2 image: the guest writes a file; the
# image, converted back to raw by qemu-img, holds it byte for byte.
echo "--- e2e/vhost-user-qsd-qcow2"
qemu-img convert -f raw -O qcow2 data.ext4 "$T/disk.qcow2" 2>"$T/qimg.err"
qemu-storage-daemon \
	--blockdev "driver=file,node-name=file0,filename=$T/disk.qcow2" \
	--blockdev driver=qcow2,node-name=disk0,file=file0 \
	--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$T/qsd.sock,writable=on" \
	>"$T/qsd.out" 2>"$T/qsd.err" &
BE=$!
wait_socket "$T/qsd.sock"
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=blkwrite" --mem 256M \
	--disk "vhost-user=$T/qsd.sock" </dev/null >"$T/qsd-guest.log" 2>"$T/qsd-vm.err"
rc=$?
kill -TERM "$BE"
wait "$BE" 2>/dev/null
BE=
qemu-img convert -f qcow2 -O raw "$T/disk.qcow2" "$T/qsd.raw" 2>>"$T/qimg.err"
got=$(debugfs -R "cat /seq.txt" "$T/qsd.raw" 2>/dev/null | md5sum)
want=$(seq 1 300000 | md5sum)
if [ $rc = 0 ] && [ "$got" = "$want" ] && qemu-img check -q "$T/disk.qcow2" 2>>"$T/qimg.err" &&
	e2fsck -fn "$T/qsd.raw" >/dev/null 2>&1; then
	ok vhost-user-qsd-qcow2
else
	bad vhost-user-qsd-qcow2 "ringvm status $rc, seq.txt md5 $got; guest: $(tr -d '\r' <"$T/qsd-guest.log" | grep 'RV \|RINGVM' | tail -n 3 | tr '\n' ' '); $(tail -c 300 "$T/qsd-vm.err"); qsd: $(tail -c 300 "$T/qsd.err"); $(tail -c 200 "$T/qimg.err")"
fi

# virtiofsd shares a host directory: the guest reads the host's file and
# writes one the host then finds, byte for byte.
echo "--- e2e/vhost-user-fs-virtiofsd"
mkdir -p "$T/share"
echo "hello over virtio-fs" >"$T/share/from-host.txt"
virtiofsd --socket-path="$T/fs.sock" -o source="$T/share" -o cache=none \
	-o sandbox=chroot >"$T/virtiofsd.out" 2>"$T/virtiofsd.err" &
BE=$!
wait_socket "$T/fs.sock"
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=virtiofs" --mem 256M \
	--fs "tag=share,socket=$T/fs.sock" </dev/null >"$T/fs-guest.log" 2>"$T/fs-vm.err"
rc=$?
kill -TERM "$BE" 2>/dev/null
wait "$BE" 2>/dev/null
BE=
fsrv() { tr -d '\r' <"$T/fs-guest.log" | sed -n "s/^RV $1=//p" | head -n 1; }
want=$(seq 1 100000 | md5sum | cut -d' ' -f1)
got=$(md5sum <"$T/share/from-guest.txt" 2>/dev/null | cut -d' ' -f1)
if [ $rc = 0 ] && [ "$(fsrv fs_from_host)" = "hello over virtio-fs" ] &&
	[ "$got" = "$want" ] && [ "$(fsrv fs_guest_md5)" = "$want" ] &&
	[ "$(fsrv fs_umount)" = ok ]; then
	ok vhost-user-fs-virtiofsd
else
	bad vhost-user-fs-virtiofsd "ringvm status $rc, host sees md5 $got; guest: $(tr -d '\r' <"$T/fs-guest.log" | grep 'RV \|RINGVM' | tail -n 4 | tr '\n' ' '); $(tail -c 300 "$T/fs-vm.err"); virtiofsd: $(tail -c 300 "$T/virtiofsd.err")"
fi
