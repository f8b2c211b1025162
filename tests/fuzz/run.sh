#!/bin/sh
# Builds every libFuzzer target of tests/fuzz/targets with Debian's clang
# and runs each for a bounded time on a seed corpus it generates.
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
# SECONDS (default 60) is shared between the targets, at least 20 each.
# Prints "PASS fuzz/NAME" or "FAIL fuzz/NAME: ..." per target; exit status
# 0 if no target found a crash, hang or sanitizer report (the reproducer is
# left in build/fuzz/ as NAME-crash-*, NAME-timeout-* or NAME-leak-*).
# Needs clang and libclang-rt-14-dev (scripts/install-deps.sh).
set -u
cd "$(dirname "$0")/../.."

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS [TARGET...]]" >&2
	exit 2 ;;
esac
[ $# -gt 0 ] && shift
only="$*"

out=build/fuzz
flags="-std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
-Wstrict-prototypes -Wvla -Isrc -g -O1 -fno-omit-frame-pointer"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
FUZZ_LIBS="-ljson-c -lz -luring -pthread"
mkdir -p "$out"
if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang not found (run scripts/install-deps.sh)" >&2
	exit 1
fi

targets=$(grep -v '^#' tests/fuzz/targets | awk 'NF { print $1 }')
[ -n "$only" ] && targets=$only
n=$(echo "$targets" | wc -w)
each=$((secs / n))
[ "$each" -lt 20 ] && each=20

failed=0
for t in $targets; do
	line=$(awk -v t="$t" '$1 == t' tests/fuzz/targets)
	if [ -z "$line" ]; then
		echo "FAIL fuzz/$t: no such target in tests/fuzz/targets"
		failed=1
		continue
	fi
	maxlen=$(echo "$line" | awk '{ print $2 }')
	srcs="tests/fuzz/fuzz_$t.c $(echo "$line" | cut -d' ' -f3-)"
	mkdir -p "$out/seeds-$t" "$out/corpus-$t"
	# shellcheck disable=SC2086
	if ! clang $flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o "$out/fuzz_$t" $srcs $FUZZ_LIBS ||
		! clang $flags $san -DFUZZ_SEEDS -o "$out/fuzz_${t}_seeds" $srcs $FUZZ_LIBS ||
		! "$out/fuzz_${t}_seeds" "$out/seeds-$t"; then
		echo "FAIL fuzz/$t: cannot build the target or its seeds (is libclang-rt-14-dev installed?)"
		failed=1
		continue
	fi
	echo "fuzz: $t for ${each}s"
	# New inputs go to the first directory; the seeds stay as they are.
	if "$out/fuzz_$t" -max_total_time="$each" -timeout=10 \
		-max_len="$maxlen" -print_final_stats=1 -artifact_prefix="$out/$t-" \
		"$out/corpus-$t" "$out/seeds-$t" >"$out/$t.log" 2>&1; then
		echo "PASS fuzz/$t"
	else
		echo "FAIL fuzz/$t: crash, hang or sanitizer report; see $out/$t.log"
		tail -n 30 "$out/$t.log"
		failed=1
	fi
done
exit $failed
