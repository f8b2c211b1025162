#!/bin/sh
# Inside the harness (or directly on a VMX/SVM host): boots the demo guest
# RUNS times with ringvm and, when qemu-system-x86_64 is present, with QEMU,
# alternating so both see the same machine load. Prints one line per run:
#   RUN vmm=ringvm|qemu boot_to_init_ms=N peak_rss_kib=N guest_resident_kib=N status=N
RUNS=${1:-5}
KERNEL=${BENCH_KERNEL:-vmlinuz}
APPEND="console=ttyS0 rvhook=poweroff quiet"
MARK="RINGVM-L2-INIT reached"
probe=./boot_probe

field() { sed -n "s/^$1 //p" "$2" | head -n 1; }

i=1
while [ "$i" -le "$RUNS" ]; do
	$probe "$MARK" ringvm run --kernel "$KERNEL" --initrd initrd.cpio.gz \
		--cmdline "$APPEND" --mem 512M --cpus 2 --stats st.$i \
		</dev/null >out.$i 2>err.$i
	echo "RUN vmm=ringvm boot_to_init_ms=$(field probe_boot_to_init_ms err.$i)" \
		"peak_rss_kib=$(field probe_peak_rss_kib err.$i)" \
		"guest_resident_kib=$(sed -n 's/^guest_resident_kib \([0-9]*\).*/\1/p' st.$i)" \
		"status=$(field probe_status err.$i)"
	if command -v qemu-system-x86_64 >/dev/null; then
		$probe "$MARK" qemu-system-x86_64 -L ./qemu-firmware -M pc -accel kvm \
			-cpu host -m 512M -smp 2 -nodefaults -no-user-config \
			-display none -serial stdio -no-reboot \
			-kernel "$KERNEL" -initrd initrd.cpio.gz -append "$APPEND" \
			</dev/null >qout.$i 2>qerr.$i
		echo "RUN vmm=qemu boot_to_init_ms=$(field probe_boot_to_init_ms qerr.$i)" \
			"peak_rss_kib=$(field probe_peak_rss_kib qerr.$i)" \
			"status=$(field probe_status qerr.$i)"
		[ "$(field probe_status qerr.$i)" = 0 ] || tail -n 5 qerr.$i
	fi
	i=$((i + 1))
done
