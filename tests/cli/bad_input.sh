#!/bin/sh
# Bad input never crashes ringvm: each case must exit 1 with one line on
# stderr that names the problem. Needs a working /dev/kvm for the cases that
# get as far as loading the kernel (run inside the harness on PVM hosts).
# Usage: bad_input.sh RINGVM KERNEL INITRD WORKDIR
set -u
RINGVM=$1 KERNEL=$2 INITRD=$3 W=$4
LIMIT=${RINGVM_CLI_TIMEOUT:-60}
mkdir -p "$W"

# check NAME EXPECTED-SUBSTRING [VAR=VALUE] -- ringvm args...
check() {
	name=$1 want=$2 envv=
	shift 2
	[ "$1" != -- ] && { envv=$1; shift; }
	shift
	# Refusing bad input takes well under a second; a ringvm that hangs on
	# it is a failure of its own (timeout says 124), never retried.
	timeout -k 5 "$LIMIT" env $envv "$RINGVM" "$@" </dev/null >"$W/out" 2>"$W/err"
	rc=$?
	lines=$(wc -l <"$W/err")
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "FAIL cli/$name: ringvm did not finish within $LIMIT s (status $rc)"
	elif [ "$rc" != 1 ]; then
		echo "FAIL cli/$name: exit status $rc, expected 1 ($(head -c 300 "$W/err"))"
	elif [ "$lines" != 1 ]; then
		echo "FAIL cli/$name: $lines lines on stderr, expected one: $(head -c 300 "$W/err")"
	elif ! grep -qi -- "$want" "$W/err"; then
		echo "FAIL cli/$name: stderr does not mention '$want': $(cat "$W/err")"
	else
		echo "PASS cli/$name"
		return
	fi
}

head -c 3000 "$KERNEL" >"$W/truncated"
head -c 1000000 /dev/urandom >"$W/garbage" 2>/dev/null ||
	dd if=/dev/urandom of="$W/garbage" bs=1000 count=1000 2>/dev/null
: >"$W/empty"
mkdir -p "$W/adir"
mkdir -p "$W/fake-modules/kvm_pvm"

check no-subcommand "usage\|subcommand\|command" --
check unknown-flag "--frobnicate" -- run --kernel "$KERNEL" --frobnicate
check seccomp-garbage "--seccomp: .maybe. is not on or off" -- run --kernel "$KERNEL" --seccomp maybe
check missing-kernel-flag "--kernel" -- run --mem 256M
check missing-kernel-file "no such file" -- run --kernel "$W/nope"
check empty-kernel "empty" -- run --kernel "$W/empty"
check truncated-kernel "kernel" -- run --kernel "$W/truncated"
check garbage-kernel "not a linux" -- run --kernel "$W/garbage"
check kernel-is-dir "regular file" -- run --kernel "$W/adir"
check bad-mem-suffix "--mem" -- run --kernel "$KERNEL" --mem 12Q
check bad-mem-negative "--mem" -- run --kernel "$KERNEL" --mem -5M
check mem-too-small "--mem" -- run --kernel "$KERNEL" --mem 1M
check mem-too-large "--mem" -- run --kernel "$KERNEL" --mem 2000G
check mem-over-host "host" -- run --kernel "$KERNEL" --mem 900G
check cpus-zero "--cpus" -- run --kernel "$KERNEL" --cpus 0
check cpus-garbage "--cpus" -- run --kernel "$KERNEL" --cpus two
check cpus-too-many "--cpus" -- run --kernel "$KERNEL" --cpus 100000
check bad-console "--console" -- run --kernel "$KERNEL" --console telnet
check cpu-pin-twice "host CPU 0 given twice" -- run --kernel "$KERNEL" --cpus 2 --cpu-pin 0,0
check cpu-pin-count "--cpu-pin lists 2 host CPUs for 1 vCPUs" -- run --kernel "$KERNEL" --initrd "$INITRD" --cpu-pin 0,1
check cpu-pin-not-allowed "host CPU 1000 (for vCPU 0) is outside the CPUs ringvm may run on" -- run --kernel "$KERNEL" --initrd "$INITRD" --cpu-pin 1000
check io-poll-range "--io-poll: 20000 is out of range (0 to 10000)" -- run --kernel "$KERNEL" --initrd "$INITRD" --io-poll 20000
check missing-initrd "cannot open initrd $W/nope: no such file" -- run --kernel "$KERNEL" --initrd "$W/nope"
check initrd-is-dir "initrd $W/adir is not a regular file" -- run --kernel "$KERNEL" --initrd "$W/adir"
check cmdline-too-long "command line" -- run --kernel "$KERNEL" \
	--cmdline "$(head -c 70000 /dev/zero | tr '\0' x)"
check no-dev-kvm "/dev/ringvm-no-such-kvm" \
	RINGVM_KVM_DEVICE=/dev/ringvm-no-such-kvm -- run --kernel "$KERNEL" --initrd "$INITRD"
check pvm-host-refused "kvm_pvm" \
	RINGVM_SYSFS_MODULES="$W/fake-modules" -- run --kernel "$KERNEL" --initrd "$INITRD"
