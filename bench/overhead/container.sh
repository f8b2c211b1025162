#!/bin/sh
# container.sh ROOT CPUS MEM_MIB -- CMD [ARGS...]: the overhead observatory's
# container platform. Runs CMD chrooted in ROOT (the directory the native
# runs use too, so every platform runs the same binaries) in new PID,
# mount, network, UTS and IPC namespaces, inside a cgroup v2 group limited
# to CPUS CPUs (cpu.max) and MEM_MIB MiB (memory.max): what a container
# runtime sets up, built from util-linux's unshare and the cgroup file
# system, without one. CMD runs as PID 1 of its namespace with a fresh
# /proc, the hostname "rvbench" and only a loopback interface.
# Exit status: CMD's, or 125 when the container could not be set up (one
# line on stderr says why).
set -u
die() { echo "container.sh: $*" >&2; exit 125; }
[ $# -ge 5 ] && [ "$4" = -- ] || die "usage: container.sh ROOT CPUS MEM_MIB -- CMD [ARGS...]"
ROOT=$1 CPUS=$2 MEM=$3
shift 4
[ -d "$ROOT/proc" ] || die "$ROOT has no /proc directory to mount on"
case $CPUS$MEM in *[!0-9]*) die "CPUS and MEM_MIB must be whole numbers" ;; esac

# The cgroup v2 hierarchy: mounted already (a systemd host: /sys/fs/cgroup,
# or a hybrid one's /sys/fs/cgroup/unified), or mounted here.
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$CG" ]; then
	CG=/sys/fs/cgroup
	mount -t cgroup2 none "$CG" 2>/dev/null || die "cannot mount cgroup2 on $CG"
fi
for c in cpu memory; do
	grep -qw "$c" "$CG/cgroup.controllers" ||
		die "the cgroup v2 hierarchy at $CG has no $c controller (bound to cgroup v1 on this host?)"
	grep -qw "$c" "$CG/cgroup.subtree_control" ||
		echo "+$c" >"$CG/cgroup.subtree_control" 2>/dev/null ||
		die "cannot enable the $c controller under $CG"
done
G=$CG/rvbench-$$
mkdir "$G" || die "cannot make cgroup $G"
trap 'rmdir "$G" 2>/dev/null' EXIT
echo "$((CPUS * 100000)) 100000" >"$G/cpu.max" &&
	echo "$((MEM * 1024 * 1024))" >"$G/memory.max" ||
	die "cannot set the limits in $G"
echo "# container: cgroup $G cpu.max $(cat "$G/cpu.max") memory.max $(cat "$G/memory.max")" >&2
# Into the group first, so everything the namespaces start is in it too.
# util-linux's unshare by its path (a busybox shell would run its own
# applet of that name first).
UNSHARE=unshare
for u in /usr/local/bin/unshare /usr/bin/unshare; do
	[ -x "$u" ] && UNSHARE=$u && break
done
# /proc is mounted from inside (the new PID namespace's view) on ROOT/proc,
# which need not be a mount point (unshare's --mount-proc wants one).
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$G" \
	"$UNSHARE" --pid --mount --net --uts --ipc --fork --propagation private \
	sh -c 'mount -t proc proc "$1/proc" && hostname rvbench &&
		{ ip link set lo up 2>/dev/null || true; } && exec chroot "$@"' _ "$ROOT" "$@"
