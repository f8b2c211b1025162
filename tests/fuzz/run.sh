#!/bin/sh
# Builds the virtqueue libFuzzer target with Debian's clang and runs it for
# a bounded time on a seed corpus it generates.
#   tests/fuzz/run.sh [SECONDS]     (default 60)
# Exit status: 0 if no crash, hang or sanitizer report; non-zero otherwise
# (the reproducer is left in build/fuzz/ as crash-*, timeout-* or leak-*).
# Needs clang and libclang-rt-14-dev (scripts/install-deps.sh).
set -eu
cd "$(dirname "$0")/../.."

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2 ;;
esac

out=build/fuzz
srcs="tests/fuzz/fuzz_virtqueue.c src/virtio/virtqueue.c \
src/mem/guest_mem.c src/util/err.c"
flags="-std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
-Wstrict-prototypes -Wvla -Isrc -g -O1 -fno-omit-frame-pointer"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
mkdir -p "$out/seeds-virtqueue" "$out/corpus-virtqueue"

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang not found (run scripts/install-deps.sh)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! clang $flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-o "$out/fuzz_virtqueue" $srcs; then
	echo "fuzz: cannot build with -fsanitize=fuzzer (is libclang-rt-14-dev installed?)" >&2
	exit 1
fi
# shellcheck disable=SC2086
clang $flags $san -DVQ_FUZZ_SEEDS -o "$out/fuzz_virtqueue_seeds" $srcs
"$out/fuzz_virtqueue_seeds" "$out/seeds-virtqueue"

echo "fuzz: virtqueue for ${secs}s"
# New inputs go to the first directory; the seeds stay as they are.
exec "$out/fuzz_virtqueue" -max_total_time="$secs" -timeout=10 \
	-max_len=8300 -print_final_stats=1 -artifact_prefix="$out/" \
	"$out/corpus-virtqueue" "$out/seeds-virtqueue"
