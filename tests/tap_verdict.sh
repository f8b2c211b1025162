# Sourced by tests/run-all.sh (and its own test, tests/tools/tap_verdicts.sh).
# tap_verdict NAME TAP RC ERR: the verdict on one unit binary's run (its
# TAP output in file TAP, exit status RC, stderr in file ERR), as lines
# "PASS unit/NAME/test", "FAIL unit/NAME/test: why" and "SKIP unit/NAME/test".
# A binary must report every test of its plan ("1..N"), and a non-zero exit
# needs a failed test to explain it: a crash after the last report, or
# after a skip, is a failure of its own.
tap_verdict() {
	local name=$1 tap=$2 rc=$3 err=$4 plan n=0 nfail=0 line
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$tap" | head -n 1)
	while IFS= read -r line; do
		case $line in
		"ok "*"# SKIP"* | "not ok "*"# SKIP"*)
			# cmocka's skip(): the environment lacks something (e.g. no
			# pseudo-terminals in a chroot); shown, not counted as run.
			n=$((n + 1))
			echo "SKIP unit/$name/${line#*# SKIP}" ;;
		"ok "*)
			n=$((n + 1))
			echo "PASS unit/$name/${line#ok * - }" ;;
		"not ok "*)
			n=$((n + 1)) nfail=$((nfail + 1))
			echo "FAIL unit/$name/${line#not ok * - }: see $tap" ;;
		esac
	done <"$tap"
	if [ -z "$plan" ] || [ "$n" != "$plan" ]; then
		echo "FAIL unit/$name: reported $n of ${plan:-an unknown number of} tests (exit status $rc): $(tail -c 400 "$err")"
	elif [ "$rc" != 0 ] && [ "$nfail" = 0 ]; then
		echo "FAIL unit/$name: exit status $rc with no failed test: $(tail -c 400 "$err")"
	fi
}
