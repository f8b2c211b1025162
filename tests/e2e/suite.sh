#!/bin/sh
# End-to-end tier: the stock Debian kernel booted by ringvm, run where
# /dev/kvm can boot it (inside the harness's emulated SVM machine on PVM
# hosts). Prints PASS/FAIL lines. Usage: suite.sh WORKDIR (holding vmlinuz,
# vmlinux, initrd.cpio.gz, triplefault.bzImage); ringvm on PATH.
# tests: e2e/bzimage-boot-poweroff e2e/pvh-boot e2e/smp-2-cpus
# tests: e2e/clocksource-kvm-clock e2e/cmdline-intact e2e/reboot-default
# tests: e2e/reboot-acpi e2e/reboot-i8042 e2e/triple-fault-exit-2
# tests: e2e/sigterm-with-stalled-stdout e2e/hugepages-backing
# tests: e2e/hugepages-too-few e2e/cpu-pin
set -u
W=${1:-.}
cd "$W" || exit 1
T=$W/e2e-tmp
mkdir -p "$T"
# Generous: an L2 boot under TCG nesting takes 10-60 s on a loaded host.
LIMIT=${RINGVM_E2E_TIMEOUT:-400}

# run NAME [ringvm args...]: runs ringvm, leaving $T/NAME.out/.err/.rc.
run() {
	name=$1
	shift
	echo "--- e2e/$name: ringvm run $*"
	timeout "$LIMIT" ringvm run "$@" </dev/null >"$T/$name.raw" 2>"$T/$name.err"
	echo $? >"$T/$name.rc"
	# The guest's tty turns \n into \r\n; compare text without the \r.
	tr -d '\r' <"$T/$name.raw" >"$T/$name.out"
	for f in "$T/$name".log.raw; do
		[ -f "$f" ] && tr -d '\r' <"$f" >"${f%.raw}"
	done
	# Show the guest console so a failure can be diagnosed from the log.
	sed 's/^/    | /' "$T/$name.out" "$T/$name.err" | tail -n 40
}

rc_of() { cat "$T/$1.rc"; }

# expect NAME FILE PATTERN DESCRIPTION: fixed-string line match.
has() { grep -qF -- "$3" "$T/$1.$2"; }

# 1. The distribution's bzImage through the 64-bit boot protocol, console
#    on stdout; poweroff -f in the guest ends ringvm with status 0.
run bzimage-boot --kernel vmlinuz --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=info" --mem 512M --cpus 1
if [ "$(rc_of bzimage-boot)" != 0 ]; then
	echo "FAIL e2e/bzimage-boot-poweroff: exit status $(rc_of bzimage-boot), expected 0"
elif ! has bzimage-boot out "RINGVM-L2-INIT reached"; then
	echo "FAIL e2e/bzimage-boot-poweroff: init never reported on the serial console"
elif ! has bzimage-boot out "RV cpus=1"; then
	echo "FAIL e2e/bzimage-boot-poweroff: guest did not report 1 CPU"
else
	echo "PASS e2e/bzimage-boot-poweroff"
fi

# 2. ELF vmlinux through PVH, 2 vCPUs, console only in the serial log.
CMDLINE='console=ttyS0 quiet rvhook=info rv_probe=a-b_c.d/e,f=g "quoted words" end'
run pvh-smp --kernel vmlinux --initrd initrd.cpio.gz --cmdline "$CMDLINE" \
	--mem 512M --cpus 2 --console none --serial-log "$T/pvh-smp.log.raw"
if [ "$(rc_of pvh-smp)" != 0 ]; then
	echo "FAIL e2e/pvh-boot: exit status $(rc_of pvh-smp), expected 0"
elif ! grep -qF "RINGVM-L2-INIT reached" "$T/pvh-smp.log"; then
	echo "FAIL e2e/pvh-boot: init never reported in the serial log"
elif grep -qF "RINGVM-L2-INIT" "$T/pvh-smp.out"; then
	echo "FAIL e2e/pvh-boot: --console none still wrote the guest console to stdout"
else
	echo "PASS e2e/pvh-boot"
fi
if grep -qx "RV cpus=2" "$T/pvh-smp.log"; then
	echo "PASS e2e/smp-2-cpus"
else
	echo "FAIL e2e/smp-2-cpus: guest /proc/cpuinfo: $(grep 'RV cpus' "$T/pvh-smp.log")"
fi
if grep -q "^RV clocksource=kvm-clock" "$T/pvh-smp.log"; then
	echo "PASS e2e/clocksource-kvm-clock"
else
	echo "FAIL e2e/clocksource-kvm-clock: $(grep 'RV clocksource' "$T/pvh-smp.log")"
fi
got=$(grep '^RV cmdline=' "$T/pvh-smp.log" | sed 's/^RV cmdline=//')
if [ "$got" = "$CMDLINE" ]; then
	echo "PASS e2e/cmdline-intact"
else
	echo "FAIL e2e/cmdline-intact: guest saw [$got], expected [$CMDLINE]"
fi

# 3. reboot -f, three ways, each through its own mechanism, which ringvm
#    names on stderr. Linux's default on a hardware-reduced ACPI machine goes
#    "EFI" -> "BIOS": a jump to the reset vector, where ringvm's firmware
#    stub asks for the reset; reboot=a writes the ACPI reset register;
#    reboot=k pulses the i8042 reset line.
# (run() sets $name, so the loop uses its own variable.)
for how in "default:firmware reset stub" "acpi:ACPI reset register" \
	"i8042:i8042 reset line"; do
	r=reboot-${how%%:*}
	want=${how#*:}
	case $r in
	reboot-default) arg= ;;
	reboot-acpi) arg=reboot=a ;;
	*) arg=reboot=k ;;
	esac
	run "$r" --kernel vmlinux --initrd initrd.cpio.gz \
		--cmdline "console=ttyS0 quiet rvhook=reboot $arg" --console none \
		--serial-log "$T/$r.log.raw"
	if [ "$(rc_of "$r")" = 0 ] && has "$r" err "ringvm: guest rebooted ($want)" &&
		grep -q "reboot: Restarting system" "$T/$r.log"; then
		echo "PASS e2e/$r"
	else
		echo "FAIL e2e/$r: status $(rc_of "$r"), expected a reboot by the $want; stderr: $(head -c 300 "$T/$r.err")"
	fi
done

# 4. A guest that triple-faults: status 2 and a register dump.
run triple-fault --kernel triplefault.bzImage --console none --serial-log "$T/triple-fault.log.raw"
if [ "$(rc_of triple-fault)" != 2 ]; then
	echo "FAIL e2e/triple-fault-exit-2: exit status $(rc_of triple-fault), expected 2"
elif ! grep -qF "TRIPLEFAULT-GUEST" "$T/triple-fault.log"; then
	echo "FAIL e2e/triple-fault-exit-2: the test guest never ran"
elif ! grep -q "guest crashed: vCPU 0: triple fault" "$T/triple-fault.err"; then
	echo "FAIL e2e/triple-fault-exit-2: stderr does not name the triple fault: $(head -c 300 "$T/triple-fault.err")"
elif ! grep -qE '^RIP=[0-9a-f]{16} RFLAGS=[0-9a-f]{16}$' "$T/triple-fault.err" ||
	! grep -qE '^CR0=[0-9a-f]{16} ' "$T/triple-fault.err" ||
	! grep -qE '^CS +sel=[0-9a-f]{4} ' "$T/triple-fault.err"; then
	echo "FAIL e2e/triple-fault-exit-2: no register dump (RIP, CR0, CS lines) on stderr"
else
	echo "PASS e2e/triple-fault-exit-2"
fi

# 5. A stdout nobody reads must not hold the guest or ringvm up: with its
#    stdout a pipe that is full from the start and never read
#    (stalled-stdout), the guest still boots and its serial log records
#    what it printed, up to the hook's "ready" line, and SIGTERM ends ringvm
#    within a second, with status 128+15. (That the guest never waits on
#    the pipe is the UART unit test's: here the serial log keeps its own
#    record.)
echo "--- e2e/sigterm-with-stalled-stdout"
rm -f "$T/stuck.log"
res=$(./stalled-stdout "$T/stuck.log" "RV idle=ready" "$LIMIT" -- ringvm run --kernel vmlinux \
	--initrd initrd.cpio.gz --cmdline "console=ttyS0 quiet rvhook=idle" \
	--serial-log "$T/stuck.log" 2>"$T/stuck.err")
echo "    | $res"
stop_ms=$(echo "$res" | sed -n 's/.* stop_ms=\(-*[0-9]*\) .*/\1/p')
if [ -n "$stop_ms" ] && [ "$stop_ms" -ge 0 ] && [ "$stop_ms" -le 1000 ] &&
	echo "$res" | grep -q ' marker=yes .* status=143$' &&
	grep -qF "RINGVM-L2-INIT reached" "$T/stuck.log"; then
	echo "PASS e2e/sigterm-with-stalled-stdout"
else
	echo "FAIL e2e/sigterm-with-stalled-stdout: [$res] (marker: the guest's ready line in the serial log while stdout was stuck; stop_ms: SIGTERM to exit, at most 1000); $(tail -n 2 "$T/stuck.err" | tr '\n' ' '); the guest's last words: $(tail -n 6 "$T/stuck.log" | tr -d '\r' | tr '\n' '|')"
fi

# 6. Guest RAM in hugetlbfs pages (--mem-backing hugepages): with exactly
#    the 128 pages a 256 MiB guest needs, it boots, and while it runs the
#    host shows all 128 taken (free minus reserved reaches 0); with none,
#    ringvm refuses before anything runs, naming both counts.
echo "--- e2e/hugepages"
hp() { awk -v k="HugePages_$1:" '$1 == k { print $2 }' /proc/meminfo; }
# Put back what the host had (direct mode runs on a real host).
hp_before=$(cat /proc/sys/vm/nr_hugepages)
echo 128 >/proc/sys/vm/nr_hugepages
total=$(hp Total)
# The same guest pinned (--cpu-pin): its vCPU thread may run only on the
# last host CPU, as the kernel's own view of the thread says.
last_cpu=$(($(nproc) - 1))
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=info" --mem 256M --mem-backing hugepages \
	--cpu-pin $last_cpu --stats "$T/huge.stats" \
	--console none --serial-log "$T/huge.log" </dev/null >/dev/null 2>"$T/huge.err" &
hvm=$!
taken=''
vcpu_cpus=''
while kill -0 $hvm 2>/dev/null; do
	[ "$(($(hp Free) - $(hp Rsvd)))" = 0 ] && taken=yes
	# ringvm runs under timeout ($hvm); its vCPU thread is named vcpu0.
	for task in /proc/[0-9]*/task/*; do
		[ "$(cat "$task/comm" 2>/dev/null)" = vcpu0 ] &&
			vcpu_cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$task/status")
	done
	sleep 0.2
done
wait $hvm
hrc=$?
if [ "$total" = 128 ] && [ $hrc = 0 ] && [ "$taken" = yes ] &&
	grep -qF "RINGVM-L2-INIT reached" "$T/huge.log"; then
	echo "PASS e2e/hugepages-backing"
else
	echo "FAIL e2e/hugepages-backing: $total huge pages set up, exit status $hrc, all taken while running: ${taken:-no}; $(tail -n 2 "$T/huge.err" | tr '\n' ' ') $(tail -n 3 "$T/huge.log" | tr -d '\r' | tr '\n' '|')"
fi
pinned=$(awk '$1 == "vcpu0_pinned_cpu" { print $2 }' "$T/huge.stats" 2>/dev/null)
if [ $hrc = 0 ] && [ "$vcpu_cpus" = "$last_cpu" ] && [ "$pinned" = "$last_cpu" ]; then
	echo "PASS e2e/cpu-pin"
else
	echo "FAIL e2e/cpu-pin: exit status $hrc, vcpu0 thread allowed on CPUs '${vcpu_cpus:-never seen}' (want $last_cpu), --stats vcpu0_pinned_cpu ${pinned:-?}"
fi
echo 0 >/proc/sys/vm/nr_hugepages
timeout "$LIMIT" ringvm run --kernel vmlinux --initrd initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet rvhook=info" --mem 256M --mem-backing hugepages \
	</dev/null >"$T/huge0.out" 2>"$T/huge0.err"
h0=$?
if [ $h0 = 1 ] && [ "$(wc -l <"$T/huge0.err")" = 1 ] &&
	grep -qF "the guest needs 128 free 2 MiB huge pages, the host has 0" "$T/huge0.err" &&
	[ ! -s "$T/huge0.out" ]; then
	echo "PASS e2e/hugepages-too-few"
else
	echo "FAIL e2e/hugepages-too-few: exit status $h0, expected 1 with one line; stderr: $(tr '\n' ' ' <"$T/huge0.err")"
fi
echo "$hp_before" >/proc/sys/vm/nr_hugepages
