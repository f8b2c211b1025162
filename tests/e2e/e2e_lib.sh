# Sourced by the e2e scripts that drive guests through their lifecycle
# (lifecycle.sh, migrate.sh, vhost_user.sh; virtio.sh for its net guests'
# wait_exit): results, API calls, and waits that are all bounded (LIMIT
# seconds) and end as soon as the ringvm in $watch is gone.
# Needs T (a scratch directory) and LIMIT.

ok() { echo "PASS e2e/$1"; }
bad() { echo "FAIL e2e/$1: $2"; }
# show_console NAME LOG: after a failure, the last lines a guest's console wrote
# (its kernel's warnings and stall reports among them), kept in the
# transcript next to the FAIL line, "console NAME| " before each.
show_console() {
	echo "console $1: the last lines of $2"
	{ tr -d '\r' <"$2"; } 2>/dev/null | tail -n 15 | sed "s/^/console $1| /"
}
# show_stuck: the counters wait_exit kept of a ringvm it had to kill (its
# vCPUs' exits by reason and the UART's accesses, 5 s apart), if any.
show_stuck() {
	for i in 1 2; do
		[ -s "$T/stuck-stats.$i" ] || continue
		echo "stuck ringvm, stats $i: $(tr ',{}' '\n\n\n' <"$T/stuck-stats.$i" |
			grep -E '"(kvm_vcpu[0-9]+_(exits|halt_exits|halt_wakeup|irq_exits|io_exits|irq_injections)|pio_com1_accesses|vcpu[0-9]+_exits)"' |
			tr '\n' ' ')"
	done
}

# client ARGS...: a ringvm command that talks to a running one (pause,
# snapshot, migrate...) or makes a file, bounded like everything here: a
# hang ends in status 124, which no check accepts.
client() { timeout -k 5 "$LIMIT" ringvm "$@"; }

# api SOCK METHOD PATH [BODY]: the HTTP status on stdout, the body in
# $T/resp. Exactly the requests Firecracker's getting-started guide shows.
api() {
	if [ $# -ge 4 ]; then
		curl -s -o "$T/resp" -w '%{http_code}' --max-time 60 \
			--unix-socket "$1" -X "$2" "http://localhost$3" \
			-H 'Accept: application/json' \
			-H 'Content-Type: application/json' -d "$4"
	else
		curl -s -o "$T/resp" -w '%{http_code}' --max-time 60 \
			--unix-socket "$1" -X "$2" "http://localhost$3" \
			-H 'Accept: application/json'
	fi
}

# ticks [LOG]: the tick numbers the guest printed so far (in LOG, or on
# stdin), one per line.
ticks() {
	if [ $# = 0 ]; then tr -d '\r'; else { tr -d '\r' <"$1"; } 2>/dev/null; fi |
		sed -n 's/^RV tick=\([0-9]*\) pid=.*/\1/p'
}
last_tick() { ticks "$1" | tail -n 1; }
# alive PID: the process runs (a zombie, exited but not waited for, does
# not count).
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"; }
# wait_for LOG PATTERN: until the pattern shows in LOG (bounded, and over as
# soon as the ringvm in $watch has gone).
wait_for() {
	n=0
	while ! { tr -d '\r' <"$1"; } 2>/dev/null | grep -q "$2"; do
		n=$((n + 1))
		[ $n -gt $((LIMIT * 2)) ] && return 1
		alive "$watch" || return 1
		sleep 0.5
	done
}
# wait_tick LOG N: until tick N (or a later one) was printed.
wait_tick() {
	n=0
	while [ "$(last_tick "$1")" = "" ] || [ "$(last_tick "$1")" -lt "$2" ]; do
		n=$((n + 1))
		[ $n -gt $((LIMIT * 2)) ] && return 1
		alive "$watch" || return 1
		sleep 0.5
	done
}
# wait_exit PID [SOCK]: ringvm's exit status in $rc (bounded: a watchdog
# kills it after LIMIT seconds, then the status is 137). With SOCK (its
# API socket) the watchdog first keeps two of its `ringvm stats`, 5 s
# apart, in $T/stuck-stats.1 and .2: what a guest that went silent still
# does. Not in a $(...) subshell: only this shell can wait for its child.
wait_exit() {
	rm -f "$T/stuck-stats.1" "$T/stuck-stats.2"
	(sleep "$LIMIT"
	 if [ -n "${2:-}" ]; then
		timeout 20 ringvm stats --api-sock "$2" >"$T/stuck-stats.1" 2>&1
		sleep 5
		timeout 20 ringvm stats --api-sock "$2" >"$T/stuck-stats.2" 2>&1
	 fi
	 kill -9 "$1" 2>/dev/null) &
	dog=$!
	wait "$1"
	rc=$?
	kill $dog 2>/dev/null
	wait $dog 2>/dev/null
}


# counted_md5 FORMAT: the md5 of TICKS lines, FORMAT (printf, one %d) for
# 0, 1, ... TICKS-1: what a guest counting to TICKS should have produced.
counted_md5() {
	i=0
	while [ $i -lt "$TICKS" ]; do
		printf "$1\n" $i
		i=$((i + 1))
	done | md5sum
}

# rx_start PORT: a TCP receiver keeping what arrives in $T/net_rx.txt;
# rx_stop ends it. Its stdin is a FIFO held open on fd 4 (busybox nc hangs
# up when its stdin ends).
rx_start() {
	rm -f "$T/hold"
	mkfifo "$T/hold"
	timeout "$LIMIT" nc -l -p "$1" >"$T/net_rx.txt" <"$T/hold" &
	rx_pid=$!
	exec 4>"$T/hold"
}
rx_stop() {
	exec 4>&-
	kill $rx_pid 2>/dev/null
	wait $rx_pid 2>/dev/null
}
