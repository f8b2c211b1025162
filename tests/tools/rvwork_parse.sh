#!/bin/bash
# rvwork (bench/overhead/rvwork) reads the right figure out of each tool's
# output: sysbench, fio and iperf3 are replaced by stubs that print output
# captured from Debian's own tools (tests/tools/rvwork/*.txt) and record
# their arguments. Checks the figures, the fixed amount of work for a
# scale, and that a tool with no figure fails the workload. Prints one line
# "PASS|FAIL host/rvwork-figures[: why]".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RVWORK=$HERE/../../bench/overhead/rvwork
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in sysbench fio iperf3; do
	cat >"$tmp/$t" <<EOF
#!/bin/sh
echo "\$*" >"$tmp/$t.args"
[ -f "$tmp/$t.fixture" ] || exit 1
cat "$tmp/$t.fixture"
EOF
	chmod +x "$tmp/$t"
done

bad=
# expect FIXTURE TOOL "LINE" ARGS...: rvwork ARGS with TOOL printing
# FIXTURE prints LINE first.
expect() {
	local fixture=$1 tool=$2 want=$3 got
	shift 3
	cp "$HERE/rvwork/$fixture" "$tmp/$tool.fixture"
	got=$(PATH=$tmp:$PATH sh "$RVWORK" "$@" 2>&1 | head -n 1)
	[ "$got" = "$want" ] || bad="$bad [rvwork $*: '$got', want '$want']"
	rm -f "$tmp/$tool.fixture"
}
expect sysbench-cpu.txt sysbench "sysbench_cpu_events_per_s 3287.34 /s" sbcpu
expect sysbench-memory.txt sysbench "sysbench_mem_mib_per_s 10196.51 MiB/s" sbmem
expect fio-randread.txt fio "fio_randread_qd32_iops 78769.0 IOPS" fio randread 32
expect fio-randread.txt fio "fio_seqread_mib_per_s 307.7 MiB/s" fio seqread
expect fio-write.txt fio "fio_seqwrite_mib_per_s 2031.7 MiB/s" fio seqwrite
expect iperf3-send.txt iperf3 "iperf3_send_mbit_per_s 21519 Mbit/s" -n 10.0.2.1 iperf3 send

# The amount of work follows the scale; the target and server are passed.
cp "$HERE/rvwork/sysbench-cpu.txt" "$tmp/sysbench.fixture"
PATH=$tmp:$PATH sh "$RVWORK" -s 0.5 sbcpu >/dev/null 2>&1
grep -q -- '--events=200 ' "$tmp/sysbench.args" || bad="$bad [sbcpu -s 0.5: args $(cat "$tmp/sysbench.args")]"
cp "$HERE/rvwork/fio-randread.txt" "$tmp/fio.fixture"
PATH=$tmp:$PATH sh "$RVWORK" -s 2 -t /dev/vdb fio randread 1 >/dev/null 2>&1
for a in --filename=/dev/vdb --io_size=16M --iodepth=1 --direct=1 --rw=randread; do
	grep -q -- "$a" "$tmp/fio.args" || bad="$bad [fio: no $a in $(cat "$tmp/fio.args")]"
done
cp "$HERE/rvwork/iperf3-send.txt" "$tmp/iperf3.fixture"
PATH=$tmp:$PATH sh "$RVWORK" -n 10.0.3.1 iperf3 recv >/dev/null 2>&1
grep -q -- '-c 10.0.3.1 -R -n 128M' "$tmp/iperf3.args" || bad="$bad [iperf3 recv: args $(cat "$tmp/iperf3.args")]"
rm -f "$tmp"/*.fixture

# No output (the stubs exit 1 without a fixture): no figure, a failure.
for w in sbcpu sbmem "fio seqread" "iperf3 send"; do
	# shellcheck disable=SC2086 # the workload's words
	if out=$(PATH=$tmp:$PATH sh "$RVWORK" $w 2>&1); then
		bad="$bad [rvwork $w with a failing tool: status 0, '$out']"
	fi
done

if [ -z "$bad" ]; then
	echo "PASS host/rvwork-figures"
else
	echo "FAIL host/rvwork-figures:$bad"
fi
