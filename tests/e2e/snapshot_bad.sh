#!/bin/sh
# Bad snapshots and requests in the wrong state: each refused with one
# clear line (exit 1 for ringvm restore, 400 for the API), no guest started
# (nothing on its console), nothing written to the disk image. Uses the
# snapshot lifecycle.sh made. Usage: snapshot_bad.sh WORKDIR (holding
# state-tool and lifecycle-tmp/ from lifecycle.sh); ringvm, curl on PATH.
# tests: e2e/restore-refuses-truncated-state e2e/restore-refuses-corrupted-state
# tests: e2e/restore-refuses-foreign-file e2e/restore-refuses-newer-format
# tests: e2e/restore-refuses-mem-wrong-size e2e/restore-refuses-missing-feature
# tests: e2e/restore-refuses-missing-files e2e/api-load-refuses-bad-snapshot
# tests: e2e/api-requests-in-wrong-state e2e/api-load-refuses-masked-feature
set -u
W=${1:-.}
cd "$W" || exit 1
L=$W/lifecycle-tmp
T=$W/snapbad-tmp
rm -rf "$T"
mkdir -p "$T"
LIMIT=${RINGVM_CLI_TIMEOUT:-60}

ok() { echo "PASS e2e/$1"; }
bad() { echo "FAIL e2e/$1: $2"; }

if [ ! -f "$L/vm.state" ] || [ ! -f "$L/vm.mem" ]; then
	for t in truncated-state corrupted-state foreign-file newer-format \
		mem-wrong-size missing-feature missing-files; do
		bad "restore-refuses-$t" "no snapshot from lifecycle.sh to start from"
	done
fi
cp "$L/disk-at-snapshot.ext4" "$L/disk.ext4" 2>/dev/null
disk_md5=$(md5sum <"$L/disk.ext4")

# refused NAME WANT STATE MEM: ringvm restore exits 1 with one line on
# stderr containing WANT, the guest never ran, the disk is untouched.
refused() {
	name=$1 want=$2
	timeout -k 5 "$LIMIT" ringvm restore --state "$3" --mem "$4" --console none \
		--serial-log "$T/$name.log" </dev/null >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	lines=$(wc -l <"$T/$name.err")
	if [ $rc = 1 ] && [ "$lines" = 1 ] && grep -q -- "$want" "$T/$name.err" &&
		! grep -q "RV tick" "$T/$name.log" 2>/dev/null &&
		[ "$(md5sum <"$L/disk.ext4")" = "$disk_md5" ]; then
		ok "restore-refuses-$name"
	else
		bad "restore-refuses-$name" "status $rc, $lines lines: $(head -c 300 "$T/$name.err") (wanted: $want)"
	fi
}

head -c 3000 "$L/vm.state" >"$T/truncated.state"
refused truncated-state "truncated" "$T/truncated.state" "$L/vm.mem"

# One byte in the middle of a section's payload.
cp "$L/vm.state" "$T/corrupt.state"
size=$(wc -c <"$T/corrupt.state")
printf '\377' | dd of="$T/corrupt.state" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
refused corrupted-state "corrupted" "$T/corrupt.state" "$L/vm.mem"

head -c 100000 /dev/urandom >"$T/foreign.state"
refused foreign-file "not a ringvm state file" "$T/foreign.state" "$L/vm.mem"

cp "$L/vm.state" "$T/newer.state"
./state-tool format-version "$T/newer.state" 2
refused newer-format "format version 2" "$T/newer.state" "$L/vm.mem"

head -c $(($(wc -c <"$L/vm.mem") - 4096)) "$L/vm.mem" >"$T/short.mem"
refused mem-wrong-size "memory file .* bytes" "$L/vm.state" "$T/short.mem"

# A feature this host does not have, claimed by the guest's CPUID.
feature=
for f in amx_tile avx512_vp2intersect avx512f fma4 tbm sha_ni clzero; do
	grep -qw "$f" /proc/cpuinfo || { feature=$f; break; }
done
cp "$L/vm.state" "$T/feature.state"
if [ -n "$feature" ] && ./state-tool add-feature "$T/feature.state" "$feature"; then
	refused missing-feature "lacks 1 CPU feature .*$feature" "$T/feature.state" "$L/vm.mem"
else
	bad restore-refuses-missing-feature "could not make a state with a feature this host lacks ($feature)"
fi

timeout -k 5 "$LIMIT" ringvm restore --state "$T/nope.state" --mem "$L/vm.mem" \
	</dev/null >/dev/null 2>"$T/missing1.err"
rc1=$?
timeout -k 5 "$LIMIT" ringvm restore --state "$L/vm.state" --mem "$T/nope.mem" \
	--console none </dev/null >/dev/null 2>"$T/missing2.err"
rc2=$?
if [ $rc1 = 1 ] && grep -q "nope.state" "$T/missing1.err" &&
	[ $rc2 = 1 ] && grep -q "nope.mem" "$T/missing2.err"; then
	ok restore-refuses-missing-files
else
	bad restore-refuses-missing-files "status $rc1: $(cat "$T/missing1.err"); status $rc2: $(cat "$T/missing2.err")"
fi

# api SOCK METHOD PATH [BODY]: the status; the body in $T/resp.
api() {
	if [ $# -ge 4 ]; then
		curl -s -o "$T/resp" -w '%{http_code}' --max-time 60 \
			--unix-socket "$1" -X "$2" "http://localhost$3" \
			-H 'Content-Type: application/json' -d "$4"
	else
		curl -s -o "$T/resp" -w '%{http_code}' --max-time 60 \
			--unix-socket "$1" -X "$2" "http://localhost$3"
	fi
}
# start_api SOCK [ARGS...]: a fresh ringvm serving SOCK, started with ARGS.
start_api() {
	sock=$1
	shift
	rm -f "$sock"
	ringvm run --api-sock "$sock" --console none "$@" </dev/null >"$T/api.out" 2>"$T/api.err" &
	apid=$!
	n=0
	while [ ! -S "$sock" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
}

# A fresh ringvm refuses a bad snapshot with 400 and is still there,
# unchanged, for a good one.
start_api "$T/a.sock"
c1=$(api "$T/a.sock" PUT /snapshot/load "{\"snapshot_path\": \"$T/corrupt.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$L/vm.mem\"}}")
r1=$(cat "$T/resp")
c2=$(api "$T/a.sock" GET /)
r2=$(cat "$T/resp")
kill $apid 2>/dev/null
wait $apid 2>/dev/null
if [ "$c1" = 400 ] && echo "$r1" | grep -q "corrupted" &&
	[ "$c2" = 200 ] && echo "$r2" | grep -q '"state":"Not started"' &&
	[ "$(md5sum <"$L/disk.ext4")" = "$disk_md5" ]; then
	ok api-load-refuses-bad-snapshot
else
	bad api-load-refuses-bad-snapshot "load $c1 $r1; then GET / $c2 $r2"
fi

# A ringvm started with a CPU template (a fleet's, here without AVX2)
# refuses over its API a snapshot whose guest was shown AVX2, as `ringvm
# restore --cpu-template` and an incoming migration do, and stays fresh.
timeout -k 5 "$LIMIT" ringvm cpu-features --out "$T/host.json" 2>"$T/tmpl.err"
./state-tool features-without "$T/host.json" avx2 >"$T/other.json" 2>>"$T/tmpl.err"
timeout -k 5 "$LIMIT" ringvm cpu-template "$T/host.json" "$T/other.json" --out "$T/fleet.json" 2>>"$T/tmpl.err"
start_api "$T/t.sock" --cpu-template "$T/fleet.json"
c1=$(api "$T/t.sock" PUT /snapshot/load "{\"snapshot_path\": \"$L/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$L/vm.mem\"}}")
r1=$(cat "$T/resp")
c2=$(api "$T/t.sock" GET /)
r2=$(cat "$T/resp")
kill $apid 2>/dev/null
wait $apid 2>/dev/null
if ! grep -qw avx2 /proc/cpuinfo; then
	bad api-load-refuses-masked-feature "this host has no AVX2 to mask"
elif [ "$c1" = 400 ] && echo "$r1" | grep -q "under its CPU template.*avx2" &&
	[ "$c2" = 200 ] && echo "$r2" | grep -q '"state":"Not started"' &&
	[ "$(md5sum <"$L/disk.ext4")" = "$disk_md5" ]; then
	ok api-load-refuses-masked-feature
else
	bad api-load-refuses-masked-feature "load $c1 $r1; then GET / $c2 $r2; $(tail -n 2 "$T/tmpl.err")"
fi

# Requests that need a running VM, before there is one; a load after the
# VM was configured; InstanceStart with no boot source.
start_api "$T/b.sock"
c3=$(api "$T/b.sock" PATCH /vm '{"state": "Paused"}')
c4=$(api "$T/b.sock" PUT /snapshot/create "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\"}")
c5=$(api "$T/b.sock" PUT /actions '{"action_type": "InstanceStart"}')
r5=$(cat "$T/resp")
c6=$(api "$T/b.sock" PUT /actions '{"action_type": "SendCtrlAltDel"}')
api "$T/b.sock" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' >/dev/null
c7=$(api "$T/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$L/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$L/vm.mem\"}}")
r7=$(cat "$T/resp")
c8=$(api "$T/b.sock" GET /nonexistent)
kill $apid 2>/dev/null
wait $apid 2>/dev/null
if [ "$c3$c4$c5$c6$c7$c8" = 400400400400400400 ] && echo "$r5" | grep -q "boot source" &&
	echo "$r7" | grep -q "fresh" && [ ! -e "$T/s" ] && [ ! -e "$T/m" ]; then
	ok api-requests-in-wrong-state
else
	bad api-requests-in-wrong-state "PATCH /vm $c3, snapshot/create $c4, InstanceStart $c5 ($r5), SendCtrlAltDel $c6, load after config $c7 ($r7), unknown path $c8"
fi
