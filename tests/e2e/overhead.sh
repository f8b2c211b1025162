#!/bin/sh
# End-to-end tier for the overhead observatory's platforms, where ringvm's
# other end-to-end tests run (L1 in the harness): the container
# (bench/overhead/container.sh) on a root directory holding the same
# static binaries the guests run; then a QUICK run of the observatory's
# driver on every platform. Usage: overhead.sh WORKDIR (holding
# container.sh, rvmicro, overhead-l1.sh, exitcost, exitcost-pvh.elf,
# vnotify.elf, pvh_cycles.awk, pvh-run.sh, vmlinux and
# initrd-ov.cpio.gz, and QEMU with ./qemu-firmware when it is installed).
# tests: e2e/container-namespaces e2e/container-cgroup-limits
# tests: e2e/container-runs-rvmicro e2e/overhead-quick-every-cell
# tests: e2e/io-poll-off-sleeps e2e/io-poll-finds-work
set -u
W=${1:-.}
cd "$W" || exit 1
T=$W/overhead-tmp
LIMIT=${RINGVM_E2E_TIMEOUT:-400}
ok() { echo "PASS e2e/$1"; }
bad() { echo "FAIL e2e/$1: $2"; }

# The root: busybox and rvmicro, static, and mount points.
R=$T/root
rm -rf "$T"
mkdir -p "$R/bin" "$R/proc" "$R/tmp"
cp /bin/busybox "$R/bin/busybox"     # static: busybox-static
for a in sh cat ls grep hostname sed tr wc; do ln -s busybox "$R/bin/$a"; done
cp rvmicro "$R/bin/rvmicro"
mkfifo "$R/hold"

# 1 + 2. A container that reports what it sees and waits; meanwhile its
# cgroup holds it with the limits asked for.
timeout "$LIMIT" sh ./container.sh "$R" 1 64 -- /bin/sh -c \
	'echo "pid=$$ host=$(hostname) ifaces=$(sed -n "s/^ *\([a-z0-9]*\):.*/\1/p" /proc/net/dev | tr "\n" ,)"; read x </hold' \
	>"$T/c1.out" 2>"$T/c1.err" &
c1=$!
n=0
group=
while [ -z "$group" ] && [ $n -lt 100 ] && kill -0 $c1 2>/dev/null; do
	group=$(ls -d /sys/fs/cgroup/rvbench-* /sys/fs/cgroup/unified/rvbench-* 2>/dev/null | head -n 1)
	sleep 0.1
	n=$((n + 1))
done
cpu_max=$(cat "$group/cpu.max" 2>/dev/null)
mem_max=$(cat "$group/memory.max" 2>/dev/null)
members=$(wc -l <"$group/cgroup.procs" 2>/dev/null)
timeout 10 sh -c 'echo go >"$1"' _ "$R/hold"
wait $c1
rc=$?
seen=$(cat "$T/c1.out")
if [ $rc = 0 ] && [ "$seen" = "pid=1 host=rvbench ifaces=lo," ]; then
	ok container-namespaces
else
	bad container-namespaces "status $rc, the container saw [$seen] (want pid=1 host=rvbench ifaces=lo,); $(tr '\n' ' ' <"$T/c1.err")"
fi
if [ -n "$group" ] && [ "$cpu_max" = "100000 100000" ] && [ "$mem_max" = 67108864 ] &&
	[ "${members:-0}" -ge 1 ] && [ ! -d "$group" ]; then
	ok container-cgroup-limits
else
	bad container-cgroup-limits "group ${group:-never seen}, cpu.max [$cpu_max], memory.max [$mem_max], processes in it ${members:-?}, left behind: $([ -n "$group" ] && [ -d "$group" ] && echo yes || echo no)"
fi

# 3. The observatory's own workload runs in it as it runs natively.
timeout "$LIMIT" sh ./container.sh "$R" 1 256 -- /bin/rvmicro -s 0.02 syscall \
	>"$T/c3.out" 2>"$T/c3.err"
rc=$?
ns=$(sed -n 's/^syscall_ns \([0-9.]*\) ns$/\1/p' "$T/c3.out")
if [ $rc = 0 ] && awk -v v="$ns" 'BEGIN { exit !(v + 0 > 0) }'; then
	ok container-runs-rvmicro
else
	bad container-runs-rvmicro "status $rc, output [$(tr '\n' ' ' <"$T/c3.out")]; $(tr '\n' ' ' <"$T/c3.err")"
fi

# 4. A QUICK run of the driver (tools/ringvm-overhead's half on this
# machine): two workloads, two measured runs, every platform. Every cell
# has its figure in every run, ringvm's exits were read for each workload
# (GET /stats while the guest waits, idle, between workloads), QEMU's
# too (KVM's debugfs), and the
# exit costs were measured. (The report made from such data:
# tests/tools/test_overhead_report.py.)
plats=native,container,ringvm
command -v qemu-system-x86_64 >/dev/null && [ -d qemu-firmware ] && plats=$plats,qemu
printf 'RUNS=2\nWORK=syscall,timer\nPLATFORMS=%s\nSCALE=0.05\nCPUS=1\nMEM_MIB=256\n' \
	"$plats" >overhead.conf
timeout "$LIMIT" sh ./overhead-l1.sh >"$T/ov.out" 2>"$T/ov.err"
rc=$?
missing=
for p in $(echo "$plats" | tr ',' ' '); do
	for w in syscall timer; do
		for r in 1 2; do
			grep -qE "^RUNCSV $p,$w,$r,[0-9.]+,[a-z/]+,(lower|higher)$" "$T/ov.out" ||
				missing="$missing $p/$w/run$r"
			case $p in ringvm | qemu)   # QEMU's from KVM's debugfs
				grep -qE "^EXITCSV $p,$w,$r,[a-z_]+,[0-9]+,[0-9.]+$" "$T/ov.out" ||
					missing="$missing exits:$p/$w/run$r" ;;
			esac
		done
	done
done
for c in io_exits mmio_exits virtio_kicks hypercalls halt_exits irq_exits_cost_estimated \
	page_fault_exits_cost_estimated irq_window_exits_cost_estimated other_exits_cost_estimated; do
	grep -qE "^COSTCSV $c,[0-9.]+$" "$T/ov.out" || missing="$missing cost:$c"
done
if [ $rc = 0 ] && grep -q '^RUN overhead done' "$T/ov.out" && [ -z "$missing" ]; then
	ok overhead-quick-every-cell
else
	bad overhead-quick-every-cell "status $rc, platforms $plats, missing:${missing:- none}; $(grep '^#' "$T/ov.out" | tail -n 3 | tr '\n' ' ') $(tail -n 3 "$T/ov.err" | tr '\n' ' ')"
fi

# 5. --io-poll: vnotify.elf makes 2000 virtio-rng requests, each waited for
# (polled) before the next. All complete either way. Without --io-poll the
# rng's I/O thread never polls: it sleeps and is woken for them. With it,
# it finds most of them while still polling, without sleeping (its
# counters in --stats).
for mode in off on; do
	extra=
	[ $mode = on ] && extra="--io-poll 500"
	# shellcheck disable=SC2086
	timeout "$LIMIT" ringvm run --kernel vnotify.elf --rng --mem 128M $extra \
		--stats "$T/vn-$mode.stats" </dev/null >"$T/vn-$mode.out" 2>"$T/vn-$mode.err"
	rc=$?
	st() { sed -n "s/^rng0_$1 \([0-9]*\) .*/\1/p" "$T/vn-$mode.stats" 2>/dev/null; }
	trips=$(tr -d '\r' <"$T/vn-$mode.out" | sed -n 's/^VNOTIFY_CYCLES [0-9]* \([0-9]*\)$/\1/p')
	req=$(st requests)
	polled=$(st io_polled)
	sleeps=$(st io_sleeps)
	seen="status $rc, round trips ${trips:-none}, requests ${req:-?}, polled ${polled:-?}, sleeps ${sleeps:-?}; $(tr -d '\r' <"$T/vn-$mode.out" | tail -n 2 | tr '\n' ' ') $(tail -n 2 "$T/vn-$mode.err" | tr '\n' ' ')"
	if [ $rc != 0 ] || [ "$trips" != 2000 ] || [ "$req" != 2000 ] || [ -z "$polled" ] || [ -z "$sleeps" ]; then
		bad "io-poll-$([ $mode = on ] && echo finds-work || echo off-sleeps)" "$seen"
	elif [ $mode = off ]; then
		if [ "$polled" = 0 ] && [ "$sleeps" -gt 0 ]; then ok io-poll-off-sleeps; else bad io-poll-off-sleeps "$seen"; fi
	else
		if [ "$polled" -gt "$sleeps" ]; then ok io-poll-finds-work; else bad io-poll-finds-work "$seen"; fi
	fi
done
