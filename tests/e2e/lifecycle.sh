#!/bin/sh
# End-to-end tier for the control API, pause/resume and snapshot/restore:
# Debian's stock kernel configured and booted with Firecracker's documented
# curl requests, then a process in the guest that keeps writing to ext4 is
# paused, resumed, snapshotted, killed with its ringvm, and restored in new
# ringvm processes (twice from one snapshot). Runs where /dev/kvm boots
# stock kernels, with ringvm, curl, debugfs and e2fsck on PATH.
# Usage: lifecycle.sh WORKDIR (holding vmlinux, initrd.cpio.gz, data.ext4).
# tests: e2e/api-boot-firecracker-requests e2e/api-get-instance-info
# tests: e2e/api-get-vm-config e2e/api-refuses-unsupported-field
# tests: e2e/api-refuses-pci-off e2e/api-preboot-only-after-start
# tests: e2e/api-stats-live e2e/pause-stops-guest e2e/resume-continues
# tests: e2e/api-stats-exit-accounting e2e/ringvm-top-rates
# tests: e2e/snapshot-restore-continues e2e/snapshot-data-on-image
# tests: e2e/restore-twice e2e/restore-paused-then-resume
# tests: e2e/api-send-ctrl-alt-del e2e/snapshot-failure-keeps-guest
# tests: e2e/restore-keeps-tcp-session
set -u
W=${1:-.}
cd "$W" || exit 1
T=$W/lifecycle-tmp
rm -rf "$T"
mkdir -p "$T"
LIMIT=${RINGVM_E2E_TIMEOUT:-400}
S=$T/api.sock

# ok, bad, api, ticks, alive, wait_for, wait_tick, wait_exit, counted_md5,
# rx_start, rx_stop
. ./e2e_lib.sh

cp data.ext4 "$T/disk.ext4"
TICKS=60
# The guest keeps a TCP connection to this host over a TAP through the
# snapshot and the restore; a receiver here keeps what arrives.
tunctl -t rvtap1 >/dev/null
ip link set rvtap1 up
ip addr add 169.254.11.1/24 dev rvtap1
rx_start 5003

# 1. Configure and boot through the API, as a Firecracker user would.
ringvm run --api-sock "$S" --console none --id lifecycle-vm \
	--serial-log "$T/boot.log" </dev/null >"$T/boot.out" 2>"$T/boot.err" &
vm=$!
watch=$vm
n=0
while [ ! -S "$S" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
c1=$(api "$S" PUT /boot-source "{\"kernel_image_path\": \"$W/vmlinux\", \"initrd_path\": \"$W/initrd.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet rvhook=lifecycle lc_ticks=$TICKS lc_net=1\"}")
c2=$(api "$S" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "smt": false}')
c3=$(api "$S" PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$T/disk.ext4\", \"is_root_device\": false, \"is_read_only\": false}")
c4=$(api "$S" PUT /entropy '{}')
c4n=$(api "$S" PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "rvtap1", "guest_mac": "06:00:AC:10:00:02"}')
# Refused with 400, naming the field, and nothing changes.
c5=$(api "$S" PUT /drives/data2 "{\"drive_id\": \"data2\", \"path_on_host\": \"$T/disk.ext4\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}")
r5=$(cat "$T/resp")
c6=$(api "$S" PUT /boot-source '{"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"}')
r6=$(cat "$T/resp")
c0=$(api "$S" GET /)
r0=$(cat "$T/resp")
c7=$(api "$S" PUT /actions '{"action_type": "InstanceStart"}')
r7=$(cat "$T/resp")
if [ "$c1$c2$c3$c4$c4n$c7" = 204204204204204204 ] && wait_for "$T/boot.log" "RV lc_mount=ok"; then
	ok api-boot-firecracker-requests
else
	bad api-boot-firecracker-requests "statuses $c1 $c2 $c3 $c4 $c4n, InstanceStart $c7 ($r7); $(tail -n 3 "$T/boot.err")"
fi
case $c5:$r5 in
400:*rate_limiter*) ok api-refuses-unsupported-field ;;
*) bad api-refuses-unsupported-field "status $c5: $r5" ;;
esac
case $c6:$r6 in
400:*pci=off*) ok api-refuses-pci-off ;;
*) bad api-refuses-pci-off "status $c6: $r6" ;;
esac
c8=$(api "$S" GET /)
r8=$(cat "$T/resp")
case $c0:$r0:$c8:$r8 in
200:*'"state":"Not started"'*:200:*'"id":"lifecycle-vm"'*'"state":"Running"'*'"app_name":"ringvm"'* | \
200:*'"state":"Not started"'*:200:*'"state":"Running"'*)
	ok api-get-instance-info ;;
*) bad api-get-instance-info "before: $c0 $r0; after: $c8 $r8" ;;
esac
c9=$(api "$S" GET /vm/config)
r9=$(cat "$T/resp")
case $c9:$r9 in
200:*'"vcpu_count":2'*'"mem_size_mib":256'*) ok api-get-vm-config ;;
*) bad api-get-vm-config "status $c9: $r9" ;;
esac
c10=$(api "$S" PUT /drives/late "{\"drive_id\": \"late\", \"path_on_host\": \"$T/disk.ext4\", \"is_root_device\": false}")
r10=$(cat "$T/resp")
c11=$(api "$S" PUT /snapshot/create "{\"snapshot_path\": \"$T/x.state\", \"mem_file_path\": \"$T/x.mem\"}")
r11=$(cat "$T/resp")
if [ "$c10" = 400 ] && [ "$c11" = 400 ] && [ ! -e "$T/x.state" ] &&
	echo "$r11" | grep -q "paused"; then
	ok api-preboot-only-after-start
else
	bad api-preboot-only-after-start "PUT /drives after start: $c10 $r10; snapshot while running: $c11 $r11"
fi
wait_tick "$T/boot.log" 3
c12=$(api "$S" GET /stats)
r12=$(cat "$T/resp")
case $c12:$r12 in
200:*'"vcpu0_exits":'[1-9]*'"blk0_requests":'[1-9]*) ok api-stats-live ;;
*) bad api-stats-live "status $c12: $(echo "$r12" | head -c 300)" ;;
esac
# Exit accounting, live: per device (the serial port the guest's ticks go
# through), and KVM's own per-vCPU counters (KVM_GET_STATS_FD), which go on
# growing while the guest ticks.
stat_of() { echo "$2" | tr ',{}' '\n\n\n' | sed -n "s/^\"$1\":\([0-9]*\)$/\1/p"; }
wait_tick "$T/boot.log" $(($(last_tick "$T/boot.log") + 2))
api "$S" GET /stats >/dev/null
r13=$(cat "$T/resp")
k1=$(stat_of kvm_vcpu0_exits "$r12") k2=$(stat_of kvm_vcpu0_exits "$r13")
com=$(stat_of pio_com1_accesses "$r13") halts=$(stat_of kvm_vcpu0_halt_exits "$r13")
if [ -n "$k1" ] && [ -n "$k2" ] && [ "$k2" -gt "$k1" ] &&
	[ "${com:-0}" -gt 0 ] && [ -n "$halts" ]; then
	ok api-stats-exit-accounting
else
	bad api-stats-exit-accounting "KVM exits $k1 then $k2, com1 accesses $com, KVM halt exits $halts: $(echo "$r13" | head -c 400)"
fi
# ringvm top: two reports half a second apart, each with the vCPU's KVM
# exits moving at a positive rate.
timeout 30 ringvm top --api-sock "$S" --interval 500ms --count 2 \
	>"$T/top.out" 2>"$T/top.err"
trc=$?
reports=$(grep -c '^ringvm top: ' "$T/top.out")
rates=$(awk '$1 == "kvm_vcpu0_exits" && $3 > 0 { n++ } END { print n + 0 }' "$T/top.out")
if [ $trc = 0 ] && [ "$reports" = 2 ] && [ "$rates" = 2 ]; then
	ok ringvm-top-rates
else
	bad ringvm-top-rates "status $trc, $reports reports, $rates with KVM exits moving: $(head -c 300 "$T/top.out") $(cat "$T/top.err")"
fi

# 2. Pause: the counter stops (for 3 s of host time); resume: it goes on.
client pause --api-sock "$S" 2>"$T/pause.err"
p_rc=$?
t_paused=$(last_tick "$T/boot.log")
api "$S" GET / >/dev/null
state=$(sed -n 's/.*"state":"\([A-Za-z ]*\)".*/\1/p' "$T/resp")
sleep 3
t_later=$(last_tick "$T/boot.log")
if [ $p_rc = 0 ] && [ "$state" = Paused ] && [ -n "$t_paused" ] &&
	[ "$t_later" = "$t_paused" ]; then
	ok pause-stops-guest
else
	bad pause-stops-guest "pause status $p_rc ($(cat "$T/pause.err")), state $state, tick $t_paused then $t_later"
fi
client resume --api-sock "$S" 2>"$T/resume.err"
r_rc=$?
if [ $r_rc = 0 ] && wait_tick "$T/boot.log" $((t_paused + 2)); then
	ok resume-continues
else
	bad resume-continues "resume status $r_rc ($(cat "$T/resume.err")), last tick $(last_tick "$T/boot.log")"
fi

# 3. Snapshot a paused guest, kill its ringvm outright, and restore it in
#    a new process: the same process goes on counting and writing.
# A snapshot that cannot be written leaves the guest as it was.
api "$S" PATCH /vm '{"state": "Paused"}' >/dev/null
c_bad=$(api "$S" PUT /snapshot/create "{\"snapshot_path\": \"$T/no/such/dir/vm.state\", \"mem_file_path\": \"$T/bad.mem\"}")
r_bad=$(cat "$T/resp")
left=$(ls "$T" | grep -c "bad.mem\|ringvm-new")
c_res=$(api "$T/api.sock" PATCH /vm '{"state": "Resumed"}')
t_bad=$(last_tick "$T/boot.log")
if [ "$c_bad" = 400 ] && [ "$left" = 0 ] && [ "$c_res" = 204 ] &&
	wait_tick "$T/boot.log" $((t_bad + 2)); then
	ok snapshot-failure-keeps-guest
else
	bad snapshot-failure-keeps-guest "snapshot $c_bad ($r_bad), $left files left, resume $c_res, ticks $t_bad then $(last_tick "$T/boot.log")"
fi
wait_tick "$T/boot.log" $((t_paused + 6))
api "$S" PATCH /vm '{"state": "Paused"}' >/dev/null
c13=$(api "$S" PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$T/vm.state\", \"mem_file_path\": \"$T/vm.mem\"}")
r13=$(cat "$T/resp")
t_snap=$(last_tick "$T/boot.log")
pid_snap=$(tr -d '\r' <"$T/boot.log" | sed -n 's/^RV tick=[0-9]* pid=\([0-9]*\)/\1/p' | tail -n 1)
net_at_snap=$(wc -l <"$T/net_rx.txt")
kill -9 $vm
wait $vm 2>/dev/null
cp "$T/disk.ext4" "$T/disk-at-snapshot.ext4"
# The disk is what the guest had written when it was paused.
log_at_snap=$(debugfs -R "cat /log.txt" "$T/disk.ext4" 2>/dev/null | tail -n 1)

restore_run() { # NAME [extra flags]: restores vm.state in the background
	name=$1
	shift
	ringvm restore --state "$T/vm.state" --mem "$T/vm.mem" --console none \
		--serial-log "$T/$name.log" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	rvm=$!
	watch=$rvm
}

# check_run NAME: the restored guest's ticks continue its numbering with
# the same PID up to the end, and ringvm exits 0 on its poweroff.
check_run() {
	wait_exit $rvm
	first=$(ticks "$T/$1.log" | head -n 1)
	pids=$(tr -d '\r' <"$T/$1.log" | sed -n 's/^RV tick=[0-9]* pid=\([0-9]*\)/\1/p' | sort -u)
	done_line=$(tr -d '\r' <"$T/$1.log" | grep "^RV lc_done=")
	[ "$rc" = 0 ] && [ "$first" = $((t_snap + 1)) ] && [ "$pids" = "$pid_snap" ] &&
		[ "$done_line" = "RV lc_done=$TICKS pid=$pid_snap" ] &&
		tr -d '\r' <"$T/$1.log" | grep -q "^RV lc_umount=ok"
}

restore_run restore1
if [ "$c13" = 204 ] && check_run restore1; then
	ok snapshot-restore-continues
else
	bad snapshot-restore-continues "snapshot $c13 ($r13) at tick $t_snap pid $pid_snap; restore: status $rc, first tick $first, pids [$pids], $done_line; $(tail -n 2 "$T/restore1.err")"
fi
# On the image: every tick once, in order, from the same process; clean.
debugfs -R "cat /log.txt" "$T/disk.ext4" >"$T/log.txt" 2>/dev/null
want=$(counted_md5 "tick %d pid $pid_snap")
# The writer logs a tick, syncs, then prints it: at the pause the image may
# hold the tick after the last one printed.
if [ "$(md5sum <"$T/log.txt")" = "$want" ] &&
	{ [ "$log_at_snap" = "tick $t_snap pid $pid_snap" ] ||
	  [ "$log_at_snap" = "tick $((t_snap + 1)) pid $pid_snap" ]; } &&
	e2fsck -fn "$T/disk.ext4" >"$T/fsck.txt" 2>&1; then
	ok snapshot-data-on-image
else
	bad snapshot-data-on-image "at the snapshot the image ended with [$log_at_snap]; now $(wc -l <"$T/log.txt") lines, last [$(tail -n 1 "$T/log.txt")]; fsck: $(tail -n 2 "$T/fsck.txt" | tr '\n' ' ')"
fi

# The TCP connection the guest opened before the snapshot carried every
# line, in order, across the pause, the kill and the restore (and the
# snapshot was taken while it was under way: some lines had arrived, not all).
rx_stop
if [ "$(md5sum <"$T/net_rx.txt")" = "$(counted_md5 "net %d")" ] &&
	[ "$net_at_snap" -gt 0 ] && [ "$net_at_snap" -lt $TICKS ]; then
	ok restore-keeps-tcp-session
else
	bad restore-keeps-tcp-session "$net_at_snap lines had arrived at the snapshot; in all the host received $(wc -l <"$T/net_rx.txt") lines, first [$(head -n 1 "$T/net_rx.txt")], last [$(tail -n 1 "$T/net_rx.txt")]"
fi

# 4. The same snapshot once more, with the disk as it was then.
cp "$T/disk-at-snapshot.ext4" "$T/disk.ext4"
restore_run restore2
if check_run restore2 && e2fsck -fn "$T/disk.ext4" >/dev/null 2>&1; then
	ok restore-twice
else
	bad restore-twice "status $rc, first tick $first, pids [$pids], $done_line; $(tail -n 2 "$T/restore2.err")"
fi

# 5. Restored paused: nothing runs until resumed over the API.
cp "$T/disk-at-snapshot.ext4" "$T/disk.ext4"
restore_run restore3 --paused --api-sock "$T/r3.sock"
n=0
while [ ! -S "$T/r3.sock" ] && [ $n -lt 100 ] && alive $rvm; do sleep 0.1; n=$((n + 1)); done
sleep 2
c14=$(api "$T/r3.sock" GET /)
r14=$(cat "$T/resp")
quiet=$(ticks "$T/restore3.log" | wc -l)
c15=$(api "$T/r3.sock" PATCH /vm '{"state": "Resumed"}')
if [ "$c14" = 200 ] && echo "$r14" | grep -q '"state":"Paused"' &&
	[ "$quiet" = 0 ] && [ "$c15" = 204 ] && check_run restore3; then
	ok restore-paused-then-resume
else
	bad restore-paused-then-resume "GET / $c14 $r14, ticks while paused $quiet, resume $c15, then status $rc first $first"
fi
kill -9 $rvm 2>/dev/null

# 6. SendCtrlAltDel: the keys reach the guest's keyboard driver, and Linux
#    (a shell as init: Ctrl-Alt-Del reboots at once) restarts; ringvm ends.
cp "$T/disk-at-snapshot.ext4" "$T/disk.ext4"
restore_run restore4 --api-sock "$T/r4.sock"
n=0
while [ ! -S "$T/r4.sock" ] && [ $n -lt 100 ] && alive $rvm; do sleep 0.1; n=$((n + 1)); done
wait_tick "$T/restore4.log" $((t_snap + 2))
c16=$(api "$T/r4.sock" PUT /actions '{"action_type": "SendCtrlAltDel"}')
r16=$(cat "$T/resp")
wait_exit $rvm
if [ "$c16" = 204 ] && [ "$rc" = 0 ] && grep -q "ringvm: guest rebooted" "$T/restore4.err" &&
	[ "$(last_tick "$T/restore4.log")" -lt $((TICKS - 1)) ]; then
	ok api-send-ctrl-alt-del
else
	bad api-send-ctrl-alt-del "SendCtrlAltDel $c16 ($r16), then status $rc, $(tail -n 1 "$T/restore4.err"), last tick $(last_tick "$T/restore4.log")"
fi
ip link del rvtap1 2>/dev/null
