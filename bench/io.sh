#!/bin/bash
# make bench-io: virtio-blk and virtio-net from inside the guest against the
# same work done natively on the machine that runs ringvm, median of 5 with
# min and max, as "NAME VALUE UNIT" lines. Figures, not a test. Each round of
# each part (native, ringvm, QEMU, and both with vhost-net) runs in its own
# emulated machine, parts interleaved, so an emulator fault costs a round.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
IMG=${RINGVM_IMAGES:-build/images}
ROUNDS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-3}
B=build/bench
mkdir -p "$B/extra/bin" "$B/extra/hooks"
gcc -O2 -Wall -Wextra -Werror -static -o "$B/io_probe" bench/io_probe.c
# The guest gets the probe and its hook as a second cpio archive appended to
# the usual initramfs (the kernel unpacks concatenated archives in order).
cp "$B/io_probe" "$B/extra/bin/io_probe"
cp bench/guest/hooks/iobench "$B/extra/hooks/iobench"
(cd "$B/extra" && find . | cpio -o -H newc --quiet | gzip -9) >"$B/extra.cpio.gz"
cat "$IMG/initrd.cpio.gz" "$B/extra.cpio.gz" >"$B/initrd-bench.cpio.gz"

# QEMU as the peer, with the firmware to boot the ELF kernel (PVH).
qemu_peer bios-256k.bin linuxboot_dma.bin kvmvapic.bin pvh.bin
log=$B/io.log
echo "SECS=$SECS" >"$B/io.conf"
parts="native ringvm vhost"
[ ${#PEER[@]} -gt 0 ] && parts="native ringvm peer vhost peervhost"
# BENCH_RINGVM: the binary to measure (default build/ringvm).
bench_rounds io "$log" "$ROUNDS" "$parts" --timeout 1200 \
	--ringvm "${BENCH_RINGVM:-build/ringvm}" \
	--file bench/io-l1.sh --file "$B/io.conf" --file "$B/io_probe" \
	--file "$IMG/vmlinux" --file "$B/initrd-bench.cpio.gz" "${PEER[@]}"
tr -d '\r' <"$log" >"$B/io.clean"

# stat WHO NAME -> "median min max"
stat() {
	sed -n "s/^$1 RESULT $2 \([0-9][0-9.]*\) .*/\1/p" "$B/io.clean" | median_min_max %.1f
}
share() { # NAME guest-median native-median
	awk -v n="$1" -v g="$2" -v h="$3" 'BEGIN {
		if (g == "n/a" || h == "n/a" || h == 0) print n " n/a ratio";
		else printf "%s %.3f ratio\n", n, g / h }'
}
# The counters of the first ringvm round that has them.
stat_of() { sed -n "s/^STATS $1 \([0-9][0-9]*\) .*/\1/p" "$B/io.clean" | head -n 1; }
per() { # NAME numerator denominator UNIT
	awk -v n="$1" -v a="$2" -v b="$3" -v u="$4" 'BEGIN {
		if (a == "" || b == "" || b == 0) print n " n/a " u;
		else printf "%s %.3f %s\n", n, a / b, u }'
}

echo "# $ROUNDS rounds of ${SECS}s each, one emulated machine per round and part ($parts); ringvm rounds that ended with status 0: $(grep -c '^ringvm GUEST status 0' "$B/io.clean" || true)"
grep '^# round' "$B/io.clean" || true
echo "# native = the same probe on the same image file (in the harness: a RAM-backed file, so page-cache reads) and TCP over loopback"
for k in randread_iops:iops seqread_mbps:MB/s; do
	name=${k%%:*} unit=${k#*:}
	g=$(stat GUEST "$name") h=$(stat NATIVE "$name")
	figure "blk_${name}_guest" "$g" "$unit"
	figure "blk_${name}_native" "$h" "$unit"
	share "blk_${name}_share" "${g%% *}" "${h%% *}"
done
g=$(stat GUEST tcp_mbps) h=$(stat NATIVE tcp_mbps)
figure net_tcp_mbps_guest "$g" MB/s
figure net_tcp_mbps_native "$h" MB/s
share net_tcp_throughput_share "${g%% *}" "${h%% *}"
if grep -q '^PEER RESULT' "$B/io.clean"; then
	echo "# peer: QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}') with virtio-blk-pci and virtio-net-pci, same guest, image and TAP; QEMU rounds with status 0: $(grep -c '^qemu PEER status 0' "$B/io.clean" || true)"
	for k in randread_iops:iops:blk seqread_mbps:MB/s:blk tcp_mbps:MB/s:net; do
		IFS=: read -r name unit dev <<<"$k"
		p=$(stat PEER "$name") h=$(stat NATIVE "$name")
		figure "peer_${dev}_${name}" "$p" "$unit"
		share "peer_${dev}_${name}_share" "${p%% *}" "${h%% *}"
	done
fi
if grep -q '^VHOST RESULT' "$B/io.clean"; then
	echo "# vhost=on: the host kernel's vhost-net on both sides (ringvm --net tap=IF,vhost=on; QEMU -netdev tap,vhost=on); rounds with status 0: ringvm $(grep -c '^ringvm VHOST status 0' "$B/io.clean" || true), QEMU $(grep -c '^qemu PEERVHOST status 0' "$B/io.clean" || true)"
	echo "# interrupts ringvm relayed in its vhost rounds (the rest went from vhost-net to the guest through KVM irqfds): $(sed -n 's/^VHOSTSTATS net0_interrupts_relayed \([0-9]*\) .*/\1/p' "$B/io.clean" | tr '\n' ' ')"
	v=$(stat VHOST tcp_mbps) h=$(stat NATIVE tcp_mbps)
	figure net_vhost_tcp_mbps_guest "$v" MB/s
	share net_vhost_tcp_throughput_share "${v%% *}" "${h%% *}"
	if grep -q '^PEERVHOST RESULT' "$B/io.clean"; then
		p=$(stat PEERVHOST tcp_mbps)
		figure peer_net_vhost_tcp_mbps "$p" MB/s
		share peer_net_vhost_tcp_mbps_share "${p%% *}" "${h%% *}"
		share net_vhost_tcp_ratio_vs_peer "${v%% *}" "${p%% *}"
	fi
fi
empty=$(grep -c 'RESULT tcp_empty_connection' "$B/io.clean" || true)
if [ "$empty" -gt 0 ]; then
	echo "# $empty TCP runs carried no data: no sample, left out of the medians"
fi
echo "# per-request figures over the whole guest run (boot included)"
per blk_notifications_per_request "$(stat_of blk0_kicks)" "$(stat_of blk0_requests)" ratio
per blk_interrupts_per_request "$(stat_of blk0_interrupts)" "$(stat_of blk0_requests)" ratio
per net_tx_notifications_per_packet "$(stat_of net0_tx_kicks)" "$(stat_of net0_tx_packets)" ratio
# A missing counter makes the figure n/a, never a zero.
tx=$(stat_of net0_tx_packets) rx=$(stat_of net0_rx_packets)
per net_interrupts_per_packet "$(stat_of net0_interrupts)" \
	"$([ -n "$tx" ] && [ -n "$rx" ] && echo $((tx + rx)))" ratio
