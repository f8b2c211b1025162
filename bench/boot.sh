#!/bin/bash
# make bench-boot: boot-to-init time and VMM memory overhead of ringvm for the
# demo guest, median of 5 (with min and max), beside QEMU (from Debian) booting
# the same kernel and initramfs in the same machine. Figures, not a test.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
IMG=${RINGVM_IMAGES:-build/images}
RUNS=${BENCH_RUNS:-5}
# BENCH_KERNEL=vmlinux: both monitors boot the ELF through its PVH entry
# (QEMU with its pvh.bin option ROM) instead of the bzImage.
KERNEL=${BENCH_KERNEL:-vmlinuz}
case $KERNEL in vmlinuz | vmlinux) ;; *) echo "bench-boot: BENCH_KERNEL is vmlinuz or vmlinux" >&2; exit 1 ;; esac
mkdir -p build/bench
gcc -O2 -Wall -Wextra -Werror -static -o build/bench/boot_probe bench/boot_probe.c

# QEMU as the peer, with the firmware to boot a kernel on the pc machine.
qemu_peer bios-256k.bin linuxboot_dma.bin kvmvapic.bin pvh.bin
log=build/bench/boot.log
tools/ringvm-harness --timeout 3000 --file bench/boot-l1.sh \
	--file build/bench/boot_probe --file "$IMG/$KERNEL" \
	--file "$IMG/initrd.cpio.gz" "${PEER[@]}" -- "BENCH_KERNEL=$KERNEL sh ./boot-l1.sh $RUNS" >"$log" 2>&1 || {
	echo "bench-boot: harness failed; see $log" >&2
	exit 1
}
tr -d '\r' <"$log" | grep '^RUN ' >build/bench/boot.runs || true

# stat VMM KEY: "median min max" of KEY over the successful runs of VMM:
# status 0 and a measured value. A run whose marker never appeared has no
# boot time (the probe says -1): it is left out and counted, never averaged.
stat() {
	grep "vmm=$1 " build/bench/boot.runs | grep 'status=0' |
		sed -n "s/.* $2=\([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p" | median_min_max %d
}

overhead() { # peak rss minus resident guest RAM, per ringvm run
	grep "vmm=ringvm " build/bench/boot.runs | grep 'status=0' |
		sed -n 's/.*peak_rss_kib=\([0-9][0-9]*\) guest_resident_kib=\([0-9][0-9]*\).*/\1 \2/p'
}
n_ok=$(grep 'vmm=ringvm ' build/bench/boot.runs | grep 'boot_to_init_ms=[0-9]' | grep -c 'status=0' || true)
echo "# ringvm: $n_ok of $RUNS runs powered off cleanly with a boot time; kernel $(cat "$IMG/kernel-version") ($KERNEL), 2 vCPUs, 512 MiB"
figure boot_to_init_ms "$(stat ringvm boot_to_init_ms)" ms
figure vmm_peak_rss_kib "$(stat ringvm peak_rss_kib)" KiB
figure guest_resident_kib "$(stat ringvm guest_resident_kib)" KiB
ovh=$(overhead | awk '{ print $1 - $2 }' | median_min_max %d)
figure vmm_rss_overhead_kib "$ovh" KiB
if grep -q 'vmm=qemu' build/bench/boot.runs; then
	n_ok=$(grep 'vmm=qemu ' build/bench/boot.runs | grep 'boot_to_init_ms=[0-9]' | grep -c 'status=0' || true)
	echo "# peer: QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}') -M pc -accel kvm (SeaBIOS + $([ "$KERNEL" = vmlinux ] && echo pvh.bin || echo linuxboot)), same guest; $n_ok of $RUNS runs ok"
	figure peer_boot_to_init_ms "$(stat qemu boot_to_init_ms)" ms
	figure peer_peak_rss_kib "$(stat qemu peak_rss_kib)" KiB
	# QEMU does not report its resident guest RAM; the guest is the same, so
	# ringvm's median resident guest RAM stands in for it (an estimate).
	res=$(stat ringvm guest_resident_kib | awk '{print $1}')
	peak=$(stat qemu peak_rss_kib | awk '{print $1}')
	if [ "$res" != n/a ] && [ "$peak" != n/a ]; then
		echo "peer_rss_overhead_kib $((peak - res)) KiB"
		echo "# peer_rss_overhead_kib: QEMU's median peak RSS minus ringvm's median resident guest RAM"
	fi
	rb=$(stat ringvm boot_to_init_ms | awk '{print $1}')
	pb=$(stat qemu boot_to_init_ms | awk '{print $1}')
	if [ "$rb" != n/a ] && [ "$pb" != n/a ] && [ "$pb" -gt 0 ]; then
		awk -v a="$rb" -v b="$pb" 'BEGIN { printf "boot_to_init_ratio_vs_peer %.2f ratio\n", a / b }'
	fi
else
	echo "# no peer: qemu-system-x86_64 is not installed"
fi
