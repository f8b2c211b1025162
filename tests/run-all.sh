#!/bin/bash
# Runs every test tier and ends with "N passed, N failed".
#   unit  - pure C under ASan+UBSan (cmocka), on this host
#   host  - the ringvm binary's own help/version contract, on this host
#   kvm, cli, e2e - need a /dev/kvm that boots stock kernels: run directly on
#           VMX/SVM hosts, otherwise inside tools/ringvm-harness (emulated SVM)
set -u
cd "$(dirname "$0")/.."
B=build
LOG=$B/test-logs
IMG=${RINGVM_IMAGES:-$B/images}
mkdir -p "$LOG"
pass=0
fail=0
skip=0

result() { # result PASS|FAIL name [reason]
	if [ "$1" = PASS ]; then
		pass=$((pass + 1))
		echo "PASS $2"
	else
		fail=$((fail + 1))
		echo "FAIL $2${3:+: $3}"
	fi
}

echo "=== unit tier (ASan+UBSan)"
for t in $B/tests/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$LOG/$name.tap" 2>"$LOG/$name.err"
	rc=$?
	n=0
	while IFS= read -r line; do
		case $line in
		*"# SKIP"*)
			# cmocka's skip(): the environment lacks something (e.g. no
			# pseudo-terminals in a chroot); shown, not counted as run.
			skip=$((skip + 1)); n=$((n + 1))
			echo "SKIP unit/$name/${line#*# SKIP }" ;;
		"ok "*)
			result PASS "unit/$name/${line#ok * - }"; n=$((n + 1)) ;;
		"not ok "*)
			result FAIL "unit/$name/${line#not ok * - }" "see $LOG/$name.tap"; n=$((n + 1)) ;;
		esac
	done <"$LOG/$name.tap"
	if [ "$n" = 0 ] || { [ "$rc" != 0 ] && ! grep -q '^not ok' "$LOG/$name.tap"; }; then
		result FAIL "unit/$name" "exit status $rc: $(tail -c 400 "$LOG/$name.err")"
	fi
done

echo "=== host tier (ringvm binary)"
if $B/ringvm --help >"$LOG/help.out" 2>&1 && grep -qi "exit status" "$LOG/help.out"; then
	result PASS host/help-documents-exit-status
else
	result FAIL host/help-documents-exit-status "ringvm --help failed or lacks EXIT STATUS"
fi
if $B/ringvm --version | grep -q '^ringvm [0-9]'; then
	result PASS host/version
else
	result FAIL host/version "no 'ringvm X.Y' line"
fi
$B/ringvm run --kernel "$IMG/vmlinuz" --bogus >/dev/null 2>"$LOG/bogus.err"
if [ $? = 1 ] && [ "$(wc -l <"$LOG/bogus.err")" = 1 ]; then
	result PASS host/unknown-flag-exit-1
else
	result FAIL host/unknown-flag-exit-1 "$(cat "$LOG/bogus.err")"
fi

echo "=== fuzz (virtqueue, bounded)"
if tests/fuzz/run.sh "${RINGVM_FUZZ_SECONDS:-60}" >"$LOG/fuzz.log" 2>&1; then
	result PASS fuzz/virtqueue
else
	result FAIL fuzz/virtqueue "crash or sanitizer report; see $LOG/fuzz.log"
fi

echo "=== kvm, cli and e2e tiers"
# The names each tier must report; one that never reports is a failure.
expected() {
	sed -n 's/.*pass("\([a-z0-9-]*\)").*/kvm\/\1/p' tests/kvm/kvm_tests.c
	sed -n 's/^check \([a-z0-9-]*\) .*/cli\/\1/p' tests/cli/bad_input.sh
	sed -n 's/^# tests: //p' tests/e2e/*.sh | tr ' ' '\n'
}
FILES=(--file tests/l1-suite.sh --file tests/cli/bad_input.sh
	--file tests/e2e/suite.sh --file tests/e2e/virtio.sh
	--file $B/tests/kvm/kvm-tests --file "$IMG/data.ext4" --file "$IMG/data.hello.txt"
	--host-bin "$(command -v debugfs)" --host-bin "$(command -v e2fsck)"
	--file "$IMG/vmlinuz" --file "$IMG/vmlinux" --file "$IMG/initrd.cpio.gz"
	--file $B/tests/e2e/triplefault.bzImage)
attempt=1
while :; do
	tools/ringvm-harness --timeout "${RINGVM_L1_TIMEOUT:-900}" "${FILES[@]}" \
		-- 'sh ./l1-suite.sh' >"$LOG/l1.log" 2>&1
	hrc=$?
	# 124/125: the emulator stalled or died, not ringvm: retry (at most
	# twice; each stall is reported).
	if { [ $hrc = 124 ] || [ $hrc = 125 ]; } && [ $attempt -lt 3 ]; then
		echo "note: harness infrastructure failure (status $hrc: $(grep -a 'ringvm-harness:' "$LOG/l1.log" | tail -n 1)), retrying"
		cp "$LOG/l1.log" "$LOG/l1.attempt$attempt.log"
		attempt=$((attempt + 1))
		continue
	fi
	break
done
tr -d '\r' <"$LOG/l1.log" >"$LOG/l1.clean.log"
grep -E '^(PASS|FAIL) ' "$LOG/l1.clean.log"
pass=$((pass + $(grep -c '^PASS ' "$LOG/l1.clean.log")))
fail=$((fail + $(grep -c '^FAIL ' "$LOG/l1.clean.log")))
for name in $(expected); do
	if ! grep -qE "^(PASS|FAIL) $name(:|\$)" "$LOG/l1.clean.log"; then
		case $hrc in
		124) why="emulator stalled (infrastructure, not ringvm)" ;;
		125) why="emulator failed (infrastructure, not ringvm)" ;;
		*) why="never reported (harness status $hrc)" ;;
		esac
		result FAIL "$name" "$why; see $LOG/l1.log"
	fi
done

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
