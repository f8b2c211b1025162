#!/bin/bash
# `ringvm backend` refuses what it cannot serve with one line on stderr and
# exit status 1, and never clobbers a file it did not create.
# Prints "PASS vhost/NAME" or "FAIL vhost/NAME: why" lines.
#   tests/vhost/backend_cli.sh [RINGVM]
# tests: vhost/backend-no-kind vhost/backend-unknown-kind
# tests: vhost/backend-no-socket vhost/backend-no-disk
# tests: vhost/backend-two-disks vhost/backend-missing-image
# tests: vhost/backend-bad-queue-size vhost/backend-bad-queues
# tests: vhost/backend-socket-is-a-file vhost/backend-file-untouched
# tests: vhost/backend-socket-in-use vhost/backend-first-keeps-serving
# tests: vhost/backend-stale-socket-replaced
set -u
cd "$(dirname "$0")/../.."
RINGVM=${1:-build/ringvm}
W=$(mktemp -d /tmp/ringvm-vhost-cli.XXXXXX)
BE=
cleanup() {
	[ -n "$BE" ] && kill "$BE" 2>/dev/null && wait "$BE" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
truncate -s 1M "$W/disk.img"

# refuse NAME EXPECTED-TEXT ARGS...: exit 1, one line containing the text.
refuse() {
	local name=$1 want=$2
	shift 2
	timeout 10 "$RINGVM" backend "$@" >"$W/out" 2>"$W/err"
	local rc=$?
	if [ $rc = 1 ] && [ "$(wc -l <"$W/err")" = 1 ] && grep -q -- "$want" "$W/err"; then
		echo "PASS vhost/backend-$name"
	else
		echo "FAIL vhost/backend-$name: exit $rc, stderr: $(head -c 300 "$W/err")"
	fi
}

refuse no-kind "which device" --socket "$W/s" --disk "$W/disk.img"
refuse unknown-kind "unknown device 'scsi'" scsi --socket "$W/s" --disk "$W/disk.img"
refuse no-socket "missing --socket" blk --disk "$W/disk.img"
refuse no-disk "give --disk PATH once" blk --socket "$W/s"
refuse two-disks "give --disk PATH once" blk --socket "$W/s" --disk "$W/disk.img" --disk "$W/disk.img"
refuse missing-image "nope.img" blk --socket "$W/s" --disk "$W/nope.img"
refuse bad-queue-size "power of two" blk --socket "$W/s" --disk "$W/disk.img" --queue-size 100
refuse bad-queues "--queues" blk --socket "$W/s" --disk "$W/disk.img" --queues 0
echo "keep me" >"$W/regular"
refuse socket-is-a-file "not a socket" blk --socket "$W/regular" --disk "$W/disk.img"
if [ "$(cat "$W/regular")" = "keep me" ]; then
	echo "PASS vhost/backend-file-untouched"
else
	echo "FAIL vhost/backend-file-untouched: the regular file at --socket changed"
fi

# A socket another back end serves is refused; it keeps serving.
"$RINGVM" backend blk --socket "$W/live.sock" --disk "$W/disk.img" 2>"$W/live.err" &
BE=$!
for _ in $(seq 50); do [ -S "$W/live.sock" ] && break; sleep 0.1; done
refuse socket-in-use "another process serves it" blk --socket "$W/live.sock" --disk "$W/disk.img"
if kill -0 "$BE" 2>/dev/null && [ -S "$W/live.sock" ]; then
	echo "PASS vhost/backend-first-keeps-serving"
else
	echo "FAIL vhost/backend-first-keeps-serving: $(head -c 300 "$W/live.err")"
fi
kill "$BE"; wait "$BE" 2>/dev/null; BE=
# A stale socket file (nobody listening) is replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$W/stale.sock"
"$RINGVM" backend blk --socket "$W/stale.sock" --disk "$W/disk.img" 2>"$W/stale.err" &
BE=$!
ok=0
for _ in $(seq 50); do
	if python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$W/stale.sock" 2>/dev/null; then
		ok=1; break
	fi
	sleep 0.1
done
if [ $ok = 1 ]; then
	echo "PASS vhost/backend-stale-socket-replaced"
else
	echo "FAIL vhost/backend-stale-socket-replaced: $(head -c 300 "$W/stale.err")"
fi
