#!/bin/bash
# End to end through a vhost-user-blk back end, with User Mode Linux as the
# front end (no KVM needed): UML makes ext4 on a 64 MiB raw image, writes a
# 4 MiB file, syncs and powers off; the host then checks the image itself
# (e2fsck, debugfs dump against the original), and a second UML, on a back
# end started afresh, reads the file back.
#
#   BACKEND="qsd ringvm" tests/uml/blk_ext4.sh
#
# BACKEND: qsd (qemu-storage-daemon, the default), ringvm ($RINGVM backend
# blk --socket S --disk IMG), or cmd (BACKEND_CMD, with @SOCK@ and @IMG@
# replaced). One "PASS name" / "FAIL name: reason" line per check, then
# "N passed, N failed"; exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/uml/uml_lib.sh
pass=0
fail=0
result() { # result PASS|FAIL name [reason]
	if [ "$1" = PASS ]; then
		pass=$((pass + 1))
		echo "PASS $2"
	else
		fail=$((fail + 1))
		echo "FAIL $2${3:+: $3}"
	fi
}

run_backend() { # run_backend KIND: every check against one back end
	local b=$1 w img sock t=uml-blk/$1 sectors wrote c
	w=$UML_WORK/blk_ext4-$b
	rm -rf "$w" && mkdir -p "$w" || return
	img=$w/disk.img sock=$w/vhost.sock
	truncate -s 64M "$img"
	sectors=$((64 * 1024 * 1024 / 512))
	# A reproducible payload: a failure can be replayed byte for byte.
	python3 -c 'import random, sys; random.seed(20240501)
sys.stdout.buffer.write(random.randbytes(4 << 20))' >"$UML_WORK/payload"
	cp "$UML_WORK/payload" "$w/payload"

	if ! backend_start "$b" "$img" "$sock" "$w/backend1.log"; then
		result FAIL "$t/backend-starts" "see $w/backend1.log"
		return
	fi
	result PASS "$t/backend-starts"
	if uml_boot "$sock" tests/uml/guest/ext4_write.sh "$w/uml-write.log" 120 \
		EXPECT_SECTORS=$sectors; then
		result PASS "$t/mkfs-write-readback-in-uml"
		wrote=1
	else
		result FAIL "$t/mkfs-write-readback-in-uml" "$UML_REASON"
		wrote=0
	fi
	if kill -0 "$BACKEND_PID" 2>/dev/null; then
		result PASS "$t/backend-survives-disconnect"
	else
		result FAIL "$t/backend-survives-disconnect" "it exited when UML went away (see $w/backend1.log)"
	fi
	backend_stop
	if [ $wrote = 0 ]; then
		for c in e2fsck-clean-on-host file-intact-on-host read-after-backend-restart; do
			result FAIL "$t/$c" "not run: the write in UML failed"
		done
		return
	fi

	if e2fsck -fn "$img" >"$w/e2fsck.log" 2>&1; then
		result PASS "$t/e2fsck-clean-on-host"
	else
		result FAIL "$t/e2fsck-clean-on-host" "$(tail -n 3 "$w/e2fsck.log" | tr '\n' '|')"
	fi
	rm -f "$w/dumped"
	debugfs -R "dump /file $w/dumped" "$img" >"$w/debugfs.log" 2>&1
	if cmp -s "$w/payload" "$w/dumped"; then
		result PASS "$t/file-intact-on-host"
	else
		result FAIL "$t/file-intact-on-host" "debugfs dump of /file differs from the payload ($(cmp "$w/payload" "$w/dumped" 2>&1 | head -n 1))"
	fi

	if ! backend_start "$b" "$img" "$sock" "$w/backend2.log"; then
		result FAIL "$t/read-after-backend-restart" "back end did not start again (see $w/backend2.log)"
		return
	fi
	if uml_boot "$sock" tests/uml/guest/ext4_read.sh "$w/uml-read.log" 120; then
		result PASS "$t/read-after-backend-restart"
	else
		result FAIL "$t/read-after-backend-restart" "$UML_REASON"
	fi
	backend_stop
}

trap backend_stop EXIT
if ! uml_prepare; then
	result FAIL uml-blk/prepare "User Mode Linux is not usable here"
else
	for b in ${BACKEND:-qsd}; do
		run_backend "$b"
	done
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
