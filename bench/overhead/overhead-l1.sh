#!/bin/sh
# The overhead observatory on the machine that runs the VMs (L1 inside the
# harness, or a VMX/SVM host directly): every workload on every platform,
# one discarded warm-up run and then RUNS measured ones, the platforms
# interleaved within each run (A B C D, A B C D, ...) so a drifting host
# load favours no one. Settings come from ./overhead.conf (RUNS, WORK,
# PLATFORMS, SCALE, CPUS, MEM_MIB, VHOST). Prints, for tools/ringvm-overhead:
#   RUNCSV platform,workload,run,value,unit,better
#   NOFIG platform,workload,run,what it printed instead   (a failed run)
#   EXITCSV platform,workload,run,reason,count,seconds   (the VMMs' counters)
#   HOST key=value                                         (what ran where)
#   # progress and notes
# Files it needs here: rvmicro, rvwork, container.sh, vmlinux,
# initrd-ov.cpio.gz (the guest with the overhead hook), and QEMU's
# firmware for the peer. $RINGVM_DISKS (the harness's --disk), when it
# names two disks: the benchmark root file system (scripts/bench-rootfs.sh)
# and an empty ext4 scratch file system for fio's file.
set -u
RUNS=3 WORK=syscall PLATFORMS=native SCALE=1 CPUS=1 MEM_MIB=512 VHOST=auto
[ -f ./overhead.conf ] && . ./overhead.conf
W=$(pwd)
T=$W/ov-tmp
rm -rf "$T"
mkdir -p "$T"
LIMIT=${RINGVM_OV_TIMEOUT:-1800}

# The root every platform runs from. With the benchmark root file system:
# native and container runs mount the image the guests get as their
# read-only disk, and fio's file lies on the scratch disk, which the
# guests get too (the same image file, as a virtio-blk disk). Without it:
# busybox, rvmicro and rvwork, static; the guests get the same files in
# their initramfs, and only rvmicro's workloads are possible.
R=$T/root
ROOTDISK= SCRATCH=
# shellcheck disable=SC2086 # a list of paths without spaces
set -- ${RINGVM_DISKS:-}
mkdir -p "$R"
if [ $# -ge 2 ]; then
	ROOTDISK=$1
	# On a real host (the harness's direct mode) leave nothing behind.
	trap 'kill "$(cat "$R/tmp/iperf3.pid" 2>/dev/null)" 2>/dev/null; ip link del rvov0 2>/dev/null
		umount "$R/tmp" "$R/dev" "$R/proc" "$R/scratch" "$R" 2>/dev/null' EXIT
	lo() { [ -b "$1" ] || echo ,loop; }   # a file in direct mode
	mount -o "ro,noload$(lo "$1")" "$1" "$R" || { echo "# cannot mount the root file system $1"; exit 1; }
	mount -o "rw$(lo "$2")" "$2" "$R/scratch" || { echo "# cannot mount the scratch disk $2"; exit 1; }
	mount -t proc proc "$R/proc" && mount -o bind /dev "$R/dev" &&
		mount -t tmpfs tmp "$R/tmp" || { echo "# cannot mount /proc, /dev, /tmp in $R"; exit 1; }
	SCRATCH=$R/scratch/fio.img
	# Written through, so that every read below reads blocks that exist.
	[ -f "$SCRATCH" ] || dd if=/dev/zero of="$SCRATCH" bs=1M count=256 conv=fsync 2>/dev/null
	IP="chroot $R /usr/sbin/ip"
	ip link set lo up
	# The guests' network: a TAP at 10.0.2.1 (kernel vhost-net where there
	# is one, for both VMMs); the container's: a veth pair at 10.0.3.1;
	# native: loopback. One iperf3 server for all of them.
	$IP tuntap add dev rvov0 mode tap && $IP addr add 10.0.2.1/24 dev rvov0 &&
		$IP link set rvov0 up || { echo "# cannot make the TAP rvov0"; exit 1; }
	chroot "$R" iperf3 -s -D -I /tmp/iperf3.pid >/dev/null 2>&1 || { echo "# cannot start the iperf3 server"; exit 1; }
	# Wait for its listening socket (port 5201, state 0A), at most 30 s.
	i=0
	until awk '$2 ~ /:1451$/ && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || { echo "# the iperf3 server never listened"; exit 1; }
		sleep 0.1
	done
	# VHOST from overhead.conf: auto (on where L1 has /dev/vhost-net) or
	# off (each VMM's own data path).
	[ "${VHOST:-auto}" = auto ] && { VHOST=off; [ -c /dev/vhost-net ] && VHOST=on; }
	echo "HOST rootfs=debian-$(cat "$R/etc/debian_version") sysbench=$(chroot "$R" sysbench --version | cut -d' ' -f2) fio=$(chroot "$R" fio --version) iperf3=$(chroot "$R" iperf3 --version | head -n 1 | cut -d' ' -f2)"
	echo "HOST guest_disks=virtio-blk(rootfs ro; scratch direct) guest_net=tap vhost=$VHOST container_net=veth native_net=loopback"
else
	mkdir -p "$R/bin" "$R/proc" "$R/tmp" "$R/usr/local/bin"
	cp /bin/busybox "$R/bin/busybox"     # static: busybox-static
	ln -s busybox "$R/bin/sh"
	cp rvmicro rvwork "$R/usr/local/bin/"
fi
RVWORK=/usr/local/bin/rvwork

# Pinning: the vCPUs (and the native and container runs) on the last CPUS
# host CPUs, when the host has more CPUs than that (the rest is left to the
# VMM's other threads and the host).
ncpu=$(nproc)
PIN_LIST=
if [ "$ncpu" -gt "$CPUS" ]; then
	c=$((ncpu - CPUS))
	while [ $c -lt "$ncpu" ]; do
		PIN_LIST=${PIN_LIST:+$PIN_LIST,}$c
		c=$((c + 1))
	done
fi
echo "HOST cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ' ,' '__')"
echo "HOST kernel=$(uname -r)"
echo "HOST kvm=$(grep -qw svm /proc/cpuinfo && echo kvm_amd || { grep -qw vmx /proc/cpuinfo && echo kvm_intel || echo none; })"
echo "HOST governor=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo none)"
echo "HOST host_cpus=$ncpu vcpus=$CPUS mem_mib=$MEM_MIB scale=$SCALE"
echo "HOST runs=$RUNS platforms=$PLATFORMS workloads=$WORK"
echo "HOST pinned=${PIN_LIST:-no}"

pinned() { # CMD...: runs CMD on the pinned CPUs, if any
	if [ -n "$PIN_LIST" ]; then taskset -c "$PIN_LIST" "$@"; else "$@"; fi
}

# result PLATFORM WORKLOAD RUN LINE: LINE is rvwork's first line; a run
# without a figure is said (NOFIG, with what it printed instead), never
# dropped in silence.
result() {
	line=$4
	set -- "$1" "$2" "$3" $4
	case $4 in
	*_ns | *_us) better=lower ;;
	*) better=higher ;;
	esac
	case ${5:-} in
	'' | *[!0-9.]*) echo "NOFIG $1,$2,$3,$(printf '%s' "$line" | tr ',\n' '; ' | cut -c 1-200)" ;;
	*) echo "RUNCSV $1,$2,$3,$5,$6,$better" ;;
	esac
}

native() { # WORKLOAD RUN
	# shellcheck disable=SC2046
	result native "$1" "$2" "$(pinned chroot "$R" "$RVWORK" -s "$SCALE" -t /scratch/fio.img \
		-n 127.0.0.1 $(echo "$1" | tr ':' ' ') 2>&1 | head -n 1)"
}

container() { # WORKLOAD RUN
	# shellcheck disable=SC2046
	result container "$1" "$2" "$(CT_VETH=${ROOTDISK:+10.0.3.1/24,10.0.3.2/24} CT_IP=${IP:-ip} \
		pinned sh ./container.sh "$R" "$CPUS" "$MEM_MIB" -- \
		"$RVWORK" -s "$SCALE" -t /scratch/fio.img -n 10.0.3.1 $(echo "$1" | tr ':' ' ') 2>/dev/null | head -n 1)"
}

# counters FILE: ringvm's KVM counters summed over vCPUs, "reason count",
# and virtio_kicks: the notifications its virtio devices took through an
# ioeventfd (each an exit KVM completed; those that came as MMIO exits
# instead, *_mmio_kicks, are in mmio_exits already). A vhost-net NIC's
# go to the kernel and are not counted.
counters() {
	ringvm stats --api-sock "$T/ov.sock" 2>"$T/stats.err" >"$T/stats.json" ||
		echo "# ringvm stats failed: $(head -c 300 "$T/stats.err")"
	tr ',{}' '\n\n\n' <"$T/stats.json" | awk -F: '
		/^"kvm_vcpu[0-9]*_[a-z_]*":[0-9]*$/ {
			k = $1; sub(/^"kvm_vcpu[0-9]*_/, "", k); sub(/"$/, "", k)
			s[k] += $2; next
		}
		/_mmio_kicks":[0-9]*$/ { s["virtio_kicks"] -= $2; next }
		/_kicks":[0-9]*$/ { s["virtio_kicks"] += $2 }
		END { for (k in s) print k, s[k] }' | sort >"$1"
}

# debugfs_counters PID FILE: the same counters for another VMM (QEMU),
# from KVM's debugfs directory of its VM (PID-FD; each file there sums the
# VM's vCPUs). PID is what started it: the VMM (busybox's timeout execs
# it) or its parent (coreutils' timeout forks it).
debugfs_counters() {
	d=
	for c in /sys/kernel/debug/kvm/[0-9]*-[0-9]*; do
		[ -d "$c" ] || continue
		p=${c##*/}
		p=${p%-*}
		{ [ "$p" = "$1" ] || [ "$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)" = "$1" ]; } && d=$c
	done
	: >"$2"
	[ -n "$d" ] || return 0
	for r in exits io_exits mmio_exits hypercalls halt_exits irq_exits pf_taken irq_window_exits; do
		[ -f "$d/$r" ] && echo "$r $(cat "$d/$r")" >>"$2"
	done
	sort -o "$2" "$2"
}

# vmm_counters PLATFORM PID FILE: the counters of the VMM running now.
vmm_counters() {
	case $1 in
	ringvm) counters "$3" ;;
	qemu) debugfs_counters "$2" "$3" ;;
	esac
}

# exits_by_reason PLATFORM WORKLOAD RUN SECONDS: "reason before after"
# lines in, EXITCSV lines out: the exits split into reasons that do not
# overlap (so frequency x cost can be summed): port I/O and MMIO that
# KVM handed to the VMM, virtio notifications through an ioeventfd
# (ringvm's own count; QEMU's stay in the rest), hypercalls, halts, the host's
# own interrupts taken while the guest ran (KVM's irq_exits), nested page
# faults KVM's MMU resolved (pf_taken: guest memory touched for the first
# time, or again after the host reclaimed it; MMIO after its first access
# takes another path and is not in it), exits that open an interrupt
# window, and the rest. The last four have no cost of their own (costed
# as a cpuid, which their names say; for a page fault a lower bound).
exits_by_reason() {
	awk -v p="$1" -v w="$2" -v r="$3" -v s="$4" '
		{ d[$1] = $3 - $2 }
		END {
			split("io_exits mmio_exits virtio_kicks hypercalls halt_exits irq_exits pf_taken irq_window_exits", k, " ")
			rest = d["exits"]
			for (i = 1; i <= 8; i++) {
				rest -= d[k[i]]
				name = k[i] == "pf_taken" ? "page_fault_exits" : k[i]
				if (k[i] != "io_exits" && k[i] != "mmio_exits" && k[i] != "virtio_kicks" &&
				    k[i] != "hypercalls" && k[i] != "halt_exits")
					name = name "_cost_estimated"
				if (d[k[i]] > 0) printf "EXITCSV %s,%s,%s,%s,%d,%s\n", p, w, r, name, d[k[i]], s
			}
			if (rest > 0) printf "EXITCSV %s,%s,%s,other_exits_cost_estimated,%d,%s\n", p, w, r, rest, s
		}'
}

# QEMU's exits come from KVM's debugfs.
[ -d /sys/kernel/debug/kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo "HOST exits=ringvm: its own counters (KVM_GET_STATS_FD); qemu: KVM's debugfs$([ -d /sys/kernel/debug/kvm ] || echo ' (not available here)')"

uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# vm PLATFORM RUN: one boot under PLATFORM (ringvm or qemu) running every
# workload; before and after each workload the guest waits for a line on
# its console, so the VMM's counters are read while it does nothing.
vm() {
	plat=$1 run=$2
	rm -f "$T/in" "$T/out" "$T/ov.sock"
	mkfifo "$T/in" "$T/out"
	cmdline="console=ttyS0 quiet rvhook=overhead ov_work=$WORK ov_scale=$SCALE"
	# The same devices for both VMMs: the root file system read-only, the
	# scratch file with direct I/O (QEMU: cache=none, io_uring as ringvm
	# uses), the TAP with vhost-net where L1 has it.
	rv_dev= q_dev=
	if [ -n "$ROOTDISK" ]; then
		cmdline="$cmdline ov_root=/dev/vda ov_disk=/dev/vdb ov_net=10.0.2.2/24 ov_server=10.0.2.1"
		rv_dev="--disk $ROOTDISK,ro --disk $SCRATCH,direct --net tap=rvov0,vhost=$VHOST"
		q_dev="-drive file=$ROOTDISK,if=virtio,format=raw,readonly=on
			-drive file=$SCRATCH,if=virtio,format=raw,cache=none,aio=io_uring
			-netdev tap,id=n0,ifname=rvov0,script=no,downscript=no,vhost=$VHOST
			-device virtio-net-pci,netdev=n0,romfile="
	fi
	# shellcheck disable=SC2086 # rv_dev and q_dev are word lists
	case $plat in
	ringvm)
		timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd-ov.cpio.gz \
			--cmdline "$cmdline" --cpus "$CPUS" --mem "${MEM_MIB}M" $rv_dev \
			${PIN_LIST:+--cpu-pin "$PIN_LIST"} --api-sock "$T/ov.sock" \
			<"$T/in" >"$T/out" 2>"$T/vm.err" & ;;
	qemu)
		timeout "$LIMIT" qemu-system-x86_64 -L ./qemu-firmware -M pc -accel kvm \
			-name ov,debug-threads=on \
			-cpu host -m "$MEM_MIB" -smp "$CPUS" -nodefaults -no-user-config \
			-display none -serial stdio -no-reboot $q_dev \
			-kernel vmlinux -initrd initrd-ov.cpio.gz -append "$cmdline" \
			<"$T/in" >"$T/out" 2>"$T/vm.err" & ;;
	esac
	pid=$!
	exec 3>"$T/in"
	pinned_qemu=
	while IFS= read -r line; do
		line=$(printf '%s' "$line" | tr -d '\r')
		case $line in
		"RV ov_ready "*)
			w=${line#RV ov_ready }
			# QEMU's vCPU threads ("CPU n/KVM") go where ringvm's do.
			if [ "$plat" = qemu ] && [ -n "$PIN_LIST" ] && [ -z "$pinned_qemu" ]; then
				for task in /proc/$pid/task/* /proc/*/task/*; do
					case $(cat "$task/comm" 2>/dev/null) in
					"CPU "*"/KVM") taskset -p -c "$PIN_LIST" "${task##*/}" >/dev/null && pinned_qemu=yes ;;
					esac
				done
			fi
			vmm_counters "$plat" "$pid" "$T/before"
			t0=$(uptime_cs)
			echo >&3 ;;
		"RV ov_error "*) echo "# $plat run $run: guest: ${line#RV ov_error }" ;;
		"RV ov_result "*)
			t1=$(uptime_cs)
			rest=${line#RV ov_result }
			w=${rest%% *}
			result "$plat" "$w" "$run" "${rest#* }"
			vmm_counters "$plat" "$pid" "$T/after"
			if [ -s "$T/after" ]; then
				awk 'NR == FNR { b[$1] = $2; next } { print $1, ($1 in b) ? b[$1] : 0, $2 }' \
					"$T/before" "$T/after" | exits_by_reason "$plat" "$w" "$run" \
					"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 100 }')"
			fi
			echo >&3 ;;   # the guest goes on
		esac
	done <"$T/out"
	exec 3>&-
	wait $pid
	rc=$?
	[ $rc = 0 ] || echo "# $plat run $run: status $rc: $(tail -n 3 "$T/vm.err" | tr '\n' ' ')"
	[ "$plat" = qemu ] && echo "HOST qemu_vcpus_pinned=${pinned_qemu:-no}"
}

nwork=$(echo "$WORK" | tr ',' '\n' | grep -c .)
nplat=$(echo "$PLATFORMS" | tr ',' '\n' | grep -c .)
start=$(uptime_cs)
run=0
while [ $run -le "$RUNS" ]; do
	for p in $(echo "$PLATFORMS" | tr ',' ' '); do
		now=$(uptime_cs)
		if [ $run -gt 0 ]; then
			left=$(( (now - start) * (RUNS + 1 - run) / run / 100 ))
			echo "# run $run of $RUNS, platform $p ($nplat platforms, $nwork workloads), about ${left}s left" >&2
		else
			echo "# warm-up run (discarded), platform $p" >&2
		fi
		case $p in
		native | container)
			for w in $(echo "$WORK" | tr ',' ' '); do
				$p "$w" "$run"
			done ;;
		ringvm | qemu) vm "$p" "$run" ;;
		esac
	done
	run=$((run + 1))
done
# The cost side: what one exit of each kind takes on ringvm itself, as
# the reasons above name them: the exit-cost kernel (exitcost_pvh.S, the
# same operations exitcost's rig runs) booted by ringvm, its cycles in ns
# at KVM's TSC rate (exitcost --tsc-khz), the mean of its 5 runs.
# other_exits is costed as a cpuid (an exit KVM handles without the VMM,
# the cheapest kind): an estimate, and the reason's name says so. A boot
# that loses its wakeup (docs/harness.md) is tried twice more (pvh-run.sh).
if [ -x ./exitcost ] && [ -f ./exitcost-pvh.elf ] && [ -f ./pvh-run.sh ]; then
	echo "# measuring exit costs (exitcost-pvh.elf under ringvm)" >&2
	khz=$(./exitcost --tsc-khz)
	sh ./pvh-run.sh ringvm "$T/pvh.out"
	awk -v khz="$khz" -v n=20000 -f pvh_cycles.awk "$T/pvh.out" | awk '
		{ sum[$1] += $2; cnt[$1]++ }
		END {
			if (!cnt["cpuid"]) exit
			# reason = kind: the exit each reason is costed as
			n = split("io_exits=pio_user mmio_exits=mmio_user hypercalls=hypercall " \
				  "halt_exits=halt other_exits_cost_estimated=cpuid " \
				  "irq_exits_cost_estimated=cpuid page_fault_exits_cost_estimated=cpuid " \
				  "irq_window_exits_cost_estimated=cpuid", pair, " ")
			for (i = 1; i <= n; i++) {
				split(pair[i], rk, "=")
				printf "COSTCSV %s,%.1f\n", rk[1], sum[rk[2]] / cnt[rk[2]]
			}
		}'
	# A doorbell through an ioeventfd has no ringvm path to time it on
	# (KVM completes it): exitcost's rig times that exit alone.
	./exitcost 20000 3 mmio_ioeventfd 2>/dev/null |
		awk '$1 == "exit_mmio_ioeventfd_ns" { print "COSTCSV virtio_kicks," $2 }'
fi
echo "RUN overhead done"
