#!/bin/sh
# PID 1 inside User Mode Linux, booted by uml_boot (uml_lib.sh) on the host's
# own root file system (hostfs, read-only). Prepares the bare minimum, runs
# $UML_SCRIPT with sh, prints its verdict and powers off.
#
# The kernel hands unknown "NAME=VALUE" boot parameters to init as its
# environment: UML_SCRIPT, UML_WORK (a host directory mounted here
# read-write) and whatever the caller added. PATH is not among them.
#
# Verdict protocol: the first line starting "UML-RESULT " decides. The
# script may print "UML-RESULT fail REASON" itself; this wrapper then adds
# "UML-RESULT ok" when the script exits 0, or a failure with its exit status.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH UML_WORK UML_SCRIPT

off() {
	sync
	# busybox's poweroff -f calls reboot(2) itself; systemd's would not work
	# without systemd. The sysrq is the fallback (a panic also ends UML).
	busybox poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger 2>/dev/null
	exit 1
}

verdict_fail() {
	echo "UML-RESULT fail $*"
	off
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# devtmpfs mounts itself on /dev (CONFIG_DEVTMPFS_MOUNT).
[ -n "$UML_WORK" ] || verdict_fail "no UML_WORK on the kernel command line"
mount -t hostfs -o "$UML_WORK" hostfs "$UML_WORK" ||
	verdict_fail "cannot mount $UML_WORK read-write"
mkdir -p "$UML_WORK/tmp"
TMPDIR=$UML_WORK/tmp
HOME=$UML_WORK/tmp
export TMPDIR HOME

# Debian builds virtio_blk (and virtio_net) as a module, and modprobe would
# look under /lib/modules, which the host does not have (and hostfs / is
# read-only): insert it, and any dependencies, by path from the UML package.
uml_insmod() {
	dir=/usr/lib/uml/modules/$(uname -r)
	if ! line=$(grep "/$1\.ko:" "$dir/modules.dep"); then
		grep -q "/$1\.ko\$" "$dir/modules.builtin" # built in: nothing to do
		return
	fi
	mods="" # modules.dep lists the nearest dependency first
	for d in ${line#*:}; do mods="$d $mods"; done
	for m in $mods ${line%%:*}; do
		insmod "$dir/$m" || return 1
	done
}
# virtio_uml connects and probes while the kernel boots: no device now
# means the socket could not be reached.
[ -e /sys/bus/virtio/devices/virtio0 ] ||
	verdict_fail "no virtio device: virtio_uml could not reach the back end's socket (see the console above)"
# virtio ids: 2 a disk (the default), 1 a NIC (UML_VIRTIO_ID=1 in uml_boot).
case $(cat /sys/bus/virtio/devices/virtio0/device) in
0x0001)
	# virtio_net needs failover and net_failover (modules.dep has them).
	uml_insmod virtio_net || verdict_fail "cannot load virtio_net"
	[ -e /sys/bus/virtio/devices/virtio0/driver ] ||
		verdict_fail "virtio_net did not take the device (the back end refused a request? see the console above)"
	# The interface is the one whose device is virtio0 (eth0 normally).
	i=0
	UML_NETDEV=""
	while [ -z "$UML_NETDEV" ] && [ $i -lt 100 ]; do
		for n in /sys/bus/virtio/devices/virtio0/net/*; do
			[ -e "$n" ] && UML_NETDEV=${n##*/}
		done
		[ -n "$UML_NETDEV" ] || sleep 0.1
		i=$((i + 1))
	done
	[ -n "$UML_NETDEV" ] || verdict_fail "virtio_net made no interface after 10 s"
	export UML_NETDEV
	;;
*)
	uml_insmod virtio_blk || verdict_fail "cannot load virtio_blk"
	# virtio_blk probes as it loads; a refusal from the back end (a failed
	# REPLY_ACK, a bad config) shows as an unbound device.
	[ -e /sys/bus/virtio/devices/virtio0/driver ] ||
		verdict_fail "virtio_blk did not take the device (the back end refused a request? see the console above)"
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -b /dev/vda ] || verdict_fail "no /dev/vda after 10 s (vhost-user handshake failed? see the console above)"
	UML_DISK=/dev/vda
	export UML_DISK
	;;
esac

echo "UML-INIT running $UML_SCRIPT"
sh "$UML_SCRIPT"
rc=$?
if [ $rc = 0 ]; then
	echo "UML-RESULT ok"
else
	echo "UML-RESULT fail $UML_SCRIPT exited with status $rc"
fi
off
