#!/bin/sh
# /init of the harness's L1 machine: an emulated AMD CPU with SVM (QEMU TCG)
# running Debian's kernel. Loads kvm-amd so /dev/kvm works, runs the user's
# command in /work, prints `RINGVM-HARNESS-RC=<status>` for the host side of
# tools/ringvm-harness, and powers off. PID 1 must never exit (that panics
# the kernel), so every path ends in `poweroff -f`.
#
# Two serial lines: the kernel's console (and so /dev/console) is ttyS1,
# which the host keeps apart as L1's kernel log; the command and the
# markers use ttyS0. Each write to ttyS0 opens it in a child process, so
# PID 1 never takes it as its controlling terminal.
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export HOME=/root TERM="${TERM:-dumb}"

# out TEXT...: one line on the command's serial line (the console before
# /dev is mounted, which the host also reads).
out() {
	if [ -c /dev/ttyS0 ]; then
		(printf '%s\n' "$*" >/dev/ttyS0) 2>/dev/null || printf '%s\n' "$*"
	else
		printf '%s\n' "$*"
	fi
}

# A setup failure is reported with its own marker: the host side must not
# mistake it for the command's exit status.
fail() {
	out "RINGVM-HARNESS-ERROR=L1: $*"
	poweroff -f
	sleep 10
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev 2>/dev/null || [ -c /dev/null ] ||
	fail "cannot mount /dev"
mkdir -p /dev/pts /dev/shm /tmp /run
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm 2>/dev/null

# Proof of life for the host: a line in L1's kernel log every 5 s. When
# they stop while QEMU still runs, L1 itself is frozen (an emulator stall),
# which the host tells apart from a command that merely hangs.
(
	exec </dev/null >/dev/null 2>&1
	while :; do
		echo "ringvm-harness: heartbeat" >/dev/kmsg
		sleep 5
	done
) &

while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m" || fail "insmod $m failed"
done </lib/modules/order

# devtmpfs creates the node when kvm-amd registers; allow a moment anyway.
i=0
while [ ! -c /dev/kvm ] && [ $i -lt 20 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -c /dev/kvm ] || fail "/dev/kvm did not appear after loading kvm-amd (no SVM in the emulated CPU?)"

# Two idle VMs held for the whole run keep KVM's static keys from flipping
# (and L1 from live-patching its scheduler) each time a test's VM comes or
# goes: that patching is what stalled the emulator (guest/l1_kvm_pin.c).
if [ -x /harness/l1-kvm-pin ]; then
	/harness/l1-kvm-pin </dev/null >/dev/null 2>&1 &
fi

cd /work || fail "no /work"
out "RINGVM-HARNESS-STARTED"
sh -c "$(cat /harness/command)" </dev/ttyS0 >/dev/ttyS0 2>&1
rc=$?
# Own line even when the command's output did not end with a newline.
out ""
out "RINGVM-HARNESS-RC=$rc"
poweroff -f
sleep 10
