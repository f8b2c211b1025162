# Shared by the bench/*.sh scripts (bash): summarising runs, and bringing
# QEMU into the harness as the peer.

# median_min_max FMT: numbers on stdin -> "median min max n", the first
# three printed with the printf format FMT (e.g. %d, %.1f), n the number of
# samples; "n/a n/a n/a 0" when there are none.
median_min_max() {
	sort -g | awk -v f="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a n/a n/a 0"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
		printf f " " f " " f " %d\n", m, v[1], v[NR], NR }'
}

# mean_ci95: "KEY VALUE" lines in; per KEY, in the order first seen,
# "KEY MEAN HALF N" out: the mean and the half-width of its 95% interval
# (Student t, N - 1 degrees of freedom; 0 for one value).
mean_ci95() {
	awk '
		!($1 in n) { order[++keys] = $1 }
		{ s[$1] += $2; q[$1] += $2 * $2; n[$1]++ }
		END {
			split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 " \
			      "2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086 " \
			      "2.080 2.074 2.069 2.064 2.060 2.056 2.052 2.048 2.045 2.042", t, " ")
			for (i = 1; i <= keys; i++) {
				k = order[i]
				m = s[k] / n[k]
				h = 0
				if (n[k] > 1) {
					v = (q[k] - s[k] * m) / (n[k] - 1)
					h = (n[k] <= 31 ? t[n[k] - 1] : 1.96) * sqrt(v > 0 ? v : 0) / sqrt(n[k])
				}
				printf "%s %.6f %.6f %d\n", k, m, h, n[k]
			}
		}'
}

# figure NAME "median min max n" UNIT: the figure as "NAME VALUE UNIT", then
# its range and how many samples it rests on as a comment line.
figure() {
	set -- "$1" $2 "$3"
	echo "$1 $2 $6"
	echo "# $1: min $3 max $4, $5 samples"
}

# qemu_peer FIRMWARE...: sets the array PEER to the harness flags that bring
# qemu-system-x86_64 (with its libraries) and the named firmware files into
# L1 as ./qemu-firmware/ (use qemu -L ./qemu-firmware). Debian keeps SeaBIOS
# under /usr/share/seabios, the option ROMs under /usr/share/qemu. PEER is
# empty when QEMU is not installed.
qemu_peer() {
	PEER=()
	command -v qemu-system-x86_64 >/dev/null || return 0
	PEER=(--host-bin "$(command -v qemu-system-x86_64)")
	for f in "$@"; do
		for d in /usr/share/qemu /usr/share/seabios; do
			if [ -e "$d/$f" ]; then
				PEER+=(--file "$d/$f:qemu-firmware/$f")
				break
			fi
		done
	done
}

# bench_guest_initrd OUT: the test initramfs plus the bench guest's hooks
# (ticker), and bench/lifecycle_probe built, both under build/bench.
bench_guest_initrd() {
	mkdir -p build/bench/lc-extra/hooks
	gcc -O2 -Wall -Wextra -Werror -static -o build/bench/lifecycle_probe \
		bench/lifecycle_probe.c
	cp bench/guest/hooks/ticker build/bench/lc-extra/hooks/ticker
	(cd build/bench/lc-extra && find . | cpio -o -H newc --quiet | gzip -9) \
		>build/bench/lc-extra.cpio.gz
	cat "${RINGVM_IMAGES:-build/images}/initrd.cpio.gz" \
		build/bench/lc-extra.cpio.gz >"$1"
}

# bench_rounds NAME LOG RUNS PARTS HARNESS-OPTIONS...: runs
# "sh ./NAME-l1.sh 1 PART" in its own emulated machine, RUNS times for each
# PART (round after round, A B A B...), appending each machine's output to
# LOG. A round the emulator breaks (the harness's verdict: stalled, reset,
# L1 panicked, or no RUN line) is run again, at most twice, and said so in
# LOG; one round lost costs one round, not the run. The nested emulator
# faults now and then (docs/harness.md, "Stalls").
bench_rounds() {
	local name=$1 log=$2 runs=$3 parts=$4 i part try out rc
	shift 4
	: >"$log"
	out=$(mktemp)
	for ((i = 1; i <= runs; i++)); do
		for part in $parts; do
			for try in 1 2 3; do
				rc=0
				tools/ringvm-harness "$@" -- "sh ./$name-l1.sh 1 $part" >"$out" 2>&1 || rc=$?
				if [ $rc = 0 ] && grep -aq '^RUN ' "$out"; then
					cat "$out" >>"$log"
					break
				fi
				echo "# round $i $part, try $try: the emulated machine failed ($(grep -a '^ringvm-harness: ' "$out" | tail -n 1 | cut -c 1-160))" | tee -a "$log" >&2
				sed 's/^/#   | /' "$out" | tail -n 40 >>"$log"
			done
		done
	done
	rm -f "$out"
}
