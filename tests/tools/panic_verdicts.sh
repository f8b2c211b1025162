#!/bin/bash
# The harness's verdict on an L1 kernel panic, against L1 kernel logs kept
# from real runs (tests/tools/kmsg/): which panics are retried as the
# emulator's (125) and which count as failures (123). Prints one line
# "PASS|FAIL host/harness-panic-verdicts[: why]".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=$HERE/../../tools/ringvm-harness
fn=$(sed -n '/^panic_verdict() {$/,/^}$/p' "$HARNESS")
if [ -z "$fn" ]; then
	echo "FAIL host/harness-panic-verdicts: no panic_verdict in $HARNESS"
	exit 1
fi

# verdict_of LOG: the harness's exit status and message for LOG.
verdict_of() {
	bash -c "PROG=ringvm-harness KMSG=\$1
		verdict() { echo \"\$1 \$2\"; exit \"\$1\"; }
		$fn
		panic_verdict" _ "$1"
}

bad=
expect() {
	local log=$HERE/kmsg/$1 want=$2 pattern=$3 got
	got=$(verdict_of "$log")
	case $got in
	"$want "*"$pattern"*) ;;
	*) bad="$bad $1: got '$got';" ;;
	esac
}
expect guard-error-entry.log 125 "exception entry faulted on itself"
expect guard-exc-page-fault.log 125 "exception entry faulted on itself"
expect guard-exc-general-protection.log 125 "exception entry faulted on itself"
# A panic of another kind stays a failure, named by its first message.
expect other-corrupted-stack.log 123 "corrupted stack end detected inside scheduler"
# The guard page hit anywhere but in exception entry is not the emulator's.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/RIP: 0010:error_entry+0x10/RIP: 0010:memcpy+0x10/' "$HERE/kmsg/guard-error-entry.log" >"$tmp/guard-elsewhere.log"
got=$(verdict_of "$tmp/guard-elsewhere.log")
case $got in
"123 "*"TASK stack guard page was hit"*) ;;
*) bad="$bad guard-elsewhere: got '$got';" ;;
esac

if [ -n "$bad" ]; then
	echo "FAIL host/harness-panic-verdicts:$bad"
	exit 1
fi
echo "PASS host/harness-panic-verdicts"
