#!/bin/bash
# The harness calls a run stalled only on L1's own kernel messages: a soft
# lockup report that the command prints on the console (as an L2 guest's
# relayed console would) leaves the command's status alone; the same
# report in L1's kernel log ends the run as a stall (124); a kernel BUG
# report that is no stall leaves the command's status alone and is noted
# next to it. Three short emulated boots. Prints one line "PASS|FAIL host/harness-stall-detector[: why]".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=$HERE/../../tools/ringvm-harness
LOCKUP='watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [stall-test:1]'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$HARNESS" --mode emulated --ringvm /bin/busybox --timeout 120 -- \
	"echo '$LOCKUP'; exit 7" >"$tmp/console.out" 2>&1
console_rc=$?
"$HARNESS" --mode emulated --ringvm /bin/busybox --timeout 120 -- \
	"echo '<2>$LOCKUP' >/dev/kmsg; sleep 30; exit 7" >"$tmp/kmsg.out" 2>&1
kmsg_rc=$?
"$HARNESS" --mode emulated --ringvm /bin/busybox --timeout 120 -- \
	"echo '<2>BUG: stall-test trouble' >/dev/kmsg; exit 0" >"$tmp/bug.out" 2>&1
bug_rc=$?
if [ $console_rc = 7 ] && [ $bug_rc = 0 ] &&
	grep -q "note: L1's own kernel reported trouble while the command ran: BUG: stall-test trouble" "$tmp/bug.out" &&
	[ $console_rc = 7 ] && grep -q "soft lockup - CPU#1" "$tmp/console.out" &&
	[ $kmsg_rc = 124 ] && grep -q "emulator stalled: L1's own kernel reports stuck CPUs" "$tmp/kmsg.out"; then
	echo "PASS host/harness-stall-detector"
else
	echo "FAIL host/harness-stall-detector: console report: status $console_rc (want 7); kernel-log report: status $kmsg_rc (want 124); kernel BUG: status $bug_rc (want 0, noted); $(grep -a '^ringvm-harness:' "$tmp/console.out" "$tmp/kmsg.out" "$tmp/bug.out" | tail -n 3 | tr '\n' ' ')"
	exit 1
fi
