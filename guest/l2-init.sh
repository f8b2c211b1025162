#!/bin/sh
# /init of the L2 guest (busybox sh): the stock Debian kernel booted by ringvm
# ends up here. It mounts the kernel file systems, announces itself with
# `RINGVM-L2-INIT reached`, loads the virtio/ext4 modules when a virtio PCI
# device exists, then runs /hooks/$rvhook (default: demo). It never returns:
# PID 1 exiting would panic the kernel, so every path ends in `poweroff -f`.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

fail() {
	echo "RINGVM-L2-INIT failed: $*" >/dev/console 2>/dev/null || echo "RINGVM-L2-INIT failed: $*"
	poweroff -f
	sleep 5
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev 2>/dev/null || [ -c /dev/null ] ||
	fail "cannot mount /dev"

# With console=hvc0 the console only exists once virtio_console is loaded:
# remember whether the marker got out and repeat it after the modules load.
announced=0
if echo "RINGVM-L2-INIT reached" >/dev/console 2>/dev/null; then
	announced=1
fi

# insmod under emulation is slow: load the modules only when there is
# a virtio device (vendor 0x1af4) for them to drive.
have_virtio=0
for v in /sys/bus/pci/devices/*/vendor; do
	[ -r "$v" ] && [ "$(cat "$v")" = 0x1af4 ] && have_virtio=1 && break
done
if [ "$have_virtio" = 1 ] && [ -f /lib/modules/order ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "/lib/modules/$m" 2>/dev/null ||
			echo "RINGVM-L2-INIT: insmod $m failed" >/dev/console 2>/dev/null
	done </lib/modules/order
fi

# Point stdio at the console now that every console driver is loaded (a
# failed redirection on `exec` would kill PID 1, hence the test first).
if (: </dev/console) 2>/dev/null; then
	exec </dev/console >/dev/console 2>&1
fi
if [ "$announced" = 0 ]; then
	echo "RINGVM-L2-INIT reached"
fi

hook=${rvhook:-demo}
case $hook in
*[!A-Za-z0-9_.-]* | .*) fail "bad rvhook name '$hook'" ;;
esac
[ -f "/hooks/$hook" ] || fail "no hook /hooks/$hook (rvhook=$hook)"
sh "/hooks/$hook" || echo "RINGVM-L2-INIT: hook $hook exited with status $?"
poweroff -f
sleep 5
fail "poweroff -f returned"
