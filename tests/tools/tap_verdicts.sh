#!/bin/bash
# The test runner's verdict on unit binaries (tests/tap_verdict.sh), against
# a real cmocka binary that misbehaves on request (tap_fixture.c): a crash
# after a skipped test, a crash cut short, a failed test. Prints one line
# "PASS|FAIL host/runner-tap-verdicts[: why]".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tap_verdict.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! cc -std=c17 -Wall -Wextra -Werror -o "$tmp/fixture" "$HERE/tap_fixture.c" \
	-lcmocka 2>"$tmp/cc.err"; then
	echo "FAIL host/runner-tap-verdicts: cannot build the fixture: $(head -c 300 "$tmp/cc.err")"
	exit 1
fi

bad=
# expect MODE PASSES FAILS SKIPS [PATTERN]: the verdict lines on the fixture
# run in MODE, counted; PATTERN, if given, must be in a FAIL line.
expect() {
	local mode=$1 p f s out rc
	# In a subshell whose stderr is dropped: the shell's own "Aborted".
	rc=$( (CMOCKA_MESSAGE_OUTPUT=TAP "$tmp/fixture" "$mode" >"$tmp/$mode.tap" \
		2>"$tmp/$mode.err"; echo $?) 2>/dev/null)
	out=$(tap_verdict fixture "$tmp/$mode.tap" "$rc" "$tmp/$mode.err")
	p=$(grep -c '^PASS ' <<<"$out")
	f=$(grep -c '^FAIL ' <<<"$out")
	s=$(grep -c '^SKIP ' <<<"$out")
	if [ "$p $f $s" != "$2 $3 $4" ] ||
		{ [ $# -ge 5 ] && ! grep -q "^FAIL .*$5" <<<"$out"; }; then
		bad="$bad $mode: got $p passed, $f failed, $s skipped (want $2 $3 $4${5:+, '$5'}): $(tr '\n' '|' <<<"$out");"
	fi
}
expect pass 3 0 0
# Every test reported, but the exit status says something went wrong.
expect skip-then-crash 2 1 1 "unit/fixture: exit status 134 with no failed test"
expect crash-midway 2 1 0 "unit/fixture: reported 2 of 3 tests"
# A failed test explains the status: no second failure for the binary.
expect fail 2 1 0 "unit/fixture/second"
if [ -n "$bad" ]; then
	echo "FAIL host/runner-tap-verdicts:$bad"
	exit 1
fi
echo "PASS host/runner-tap-verdicts"
