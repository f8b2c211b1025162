#!/bin/sh
# container.sh ROOT CPUS MEM_MIB -- CMD [ARGS...]: the overhead observatory's
# container platform. Runs CMD chrooted in ROOT (the directory the native
# runs use too, so every platform runs the same binaries) in new PID,
# mount, network, UTS and IPC namespaces, inside a cgroup v2 group limited
# to CPUS CPUs (cpu.max) and MEM_MIB MiB (memory.max): what a container
# runtime sets up, built from util-linux's unshare and the cgroup file
# system, without one. CMD runs as PID 1 of its namespace with a fresh
# /proc, the hostname "rvbench" and only a loopback interface.
# With CT_VETH=HOST_ADDR/PREFIX,CT_ADDR/PREFIX (and CT_IP, the iproute2
# command to make it with) it gets a veth pair instead, as a container
# runtime's bridge network does: the host end has HOST_ADDR, the
# container's end CT_ADDR.
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
inner='mount -t proc proc "$1/proc" && hostname rvbench &&
	{ ip link set lo up 2>/dev/null || true; } && exec chroot "$@"'
if [ -z "${CT_VETH:-}" ]; then
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$G" \
		"$UNSHARE" --pid --mount --net --uts --ipc --fork --propagation private \
		sh -c "$inner" _ "$ROOT" "$@"
	exit
fi

# The veth network: the container's first process says it is in its
# namespaces (ready), waits while its end of the pair is moved into
# unshare's network namespace (go), then sets its address.
HOSTADDR=${CT_VETH%,*} CTADDR=${CT_VETH#*,}
IP=${CT_IP:-ip}
F=$(mktemp -d) || die "mktemp failed"
H=rvh$$ C=rvc$$
trap 'rmdir "$G" 2>/dev/null; $IP link del "$H" 2>/dev/null; rm -rf "$F"' EXIT
mkfifo "$F/ready" "$F/go" || die "mkfifo failed"
$IP link add "$H" type veth peer name "$C" && $IP addr add "$HOSTADDR" dev "$H" &&
	$IP link set "$H" up || die "cannot make the veth pair $H/$C"
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$G" \
	"$UNSHARE" --pid --mount --net --uts --ipc --fork --propagation private \
	sh -c 'echo >"$1/ready" && read -r _ <"$1/go" && ip link set "$2" up &&
		ip addr add "$3" dev "$2" && shift 3 && '"$inner" _ "$F" "$C" "$CTADDR" "$ROOT" "$@" &
pid=$!
read -r _ <"$F/ready"
# unshare made its namespaces before it started the child that said ready.
$IP link set "$C" netns "$pid" || { kill "$pid"; die "cannot move $C into the container"; }
echo >"$F/go"
wait "$pid"
