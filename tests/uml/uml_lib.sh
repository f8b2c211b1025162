# shellcheck shell=bash
# shellcheck disable=SC2034 # UML_VERDICT, UML_REASON, UML_EXIT, BACKEND_PID: for callers
# Sourced by bash: User Mode Linux (Debian's linux.uml) as a vhost-user-blk
# (or -net, with UML_VIRTIO_ID=1) front end on this host, without KVM. UML
# boots on the host's own root file system (hostfs, read-only), so a script
# run inside it uses the host's binaries (mkfs.ext4, fio...).
#
#   uml_boot SOCKET SCRIPT LOG [TIMEOUT [NAME=VALUE...]]
#       Boots UML with one vhost-user-blk device (virtio id 2) on SOCKET,
#       /dev/vda inside (or a NIC: see UML_VIRTIO_ID), and runs SCRIPT (a
#       host path, run with sh) there; the console goes to LOG.
#       NAME=VALUE pairs reach SCRIPT as environment variables (no
#       spaces; the kernel command line carries them). Kills UML after
#       TIMEOUT seconds (default 120). Returns 0 when SCRIPT's verdict is ok;
#       otherwise 1, with the reason in UML_REASON. UML_VERDICT holds the
#       text after "UML-RESULT " (see uml_init.sh for the protocol), and
#       UML_EXIT linux.uml's exit status (0 after a clean power-off).
#   backend_start KIND IMAGE SOCKET LOG
#       Starts a vhost-user-blk back end serving IMAGE on SOCKET, waits for
#       the socket; BACKEND_PID is its process. KIND: qsd, ringvm, or cmd
#       (the command line in BACKEND_CMD, @SOCK@ and @IMG@ replaced).
#   backend_stop: ends it (SIGTERM, then SIGKILL after 5 s).
#   backend_cpu_ticks: its utime+stime so far, in clock ticks.
#
# UML_TRACE=1 puts vhost_trace.py between UML and the back end: every
# vhost-user message, decoded, goes to LOG.vhost.
#
# Settings (environment): UML_BIN (linux.uml), UML_MEM (512M), UML_WORK (a
# host directory for logs and UML's scratch, mounted read-write inside UML;
# default build/uml), UML_TMPDIR (where UML keeps its memory file: /dev/shm
# unless TMPDIR says otherwise; any directory that allows PROT_EXEC mmap),
# RINGVM (build/ringvm), QSD (qemu-storage-daemon), QSD_BLOCKDEV_EXTRA
# (appended to qsd's --blockdev, e.g. ",aio=io_uring"; default: qsd's own
# defaults, aio=threads), UML_CPUS and BACKEND_CPUS (taskset CPU lists to
# pin each side to; unset: not pinned), UML_VIRTIO_ID (the virtio device id
# virtio_uml gives SOCKET's device: 2, a disk, by default; 1 for a NIC,
# which uml_init.sh brings up as far as the driver and exports as
# UML_NETDEV).

UML_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UML_BIN=${UML_BIN:-linux.uml}
UML_MEM=${UML_MEM:-512M}
UML_WORK=${UML_WORK:-$UML_LIB_DIR/../../build/uml}
RINGVM=${RINGVM:-$UML_LIB_DIR/../../build/ringvm}
QSD=${QSD:-qemu-storage-daemon}

# uml_prepare: checks the tools and builds the XSTATE shim (xstate_shim.c:
# without it bookworm's UML dies on AVX-512 hosts running its first process).
uml_prepare() {
	mkdir -p "$UML_WORK" || return 1
	UML_WORK=$(cd "$UML_WORK" && pwd)
	command -v "$UML_BIN" >/dev/null || {
		echo "uml: $UML_BIN not found (apt-get install user-mode-linux)" >&2
		return 1
	}
	command -v busybox >/dev/null || {
		echo "uml: busybox not found (UML's init powers off with it)" >&2
		return 1
	}
	UML_SHIM=$UML_WORK/xstate_shim.so
	if [ ! -e "$UML_SHIM" ] || [ "$UML_LIB_DIR/xstate_shim.c" -nt "$UML_SHIM" ]; then
		cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$UML_SHIM" \
			"$UML_LIB_DIR/xstate_shim.c" -ldl || return 1
	fi
}

uml_boot() {
	local sock=$1 script=$2 log=$3 timeout=${4:-120} pid rc=0 deadline umid
	local tracer="" i
	shift 4 2>/dev/null || shift $#
	UML_VERDICT="" UML_REASON=""
	[ -n "${UML_SHIM:-}" ] || uml_prepare || {
		UML_REASON="UML is not usable here"
		return 1
	}
	[ -S "$sock" ] || {
		UML_REASON="no back end listening: $sock is not a socket"
		return 1
	}
	sock=$(realpath "$sock") script=$(realpath "$script")
	if [ -n "${UML_TRACE:-}" ]; then
		# Interpose the decoding relay; UML connects to it instead.
		rm -f "$sock.trace" "$log.vhost"
		python3 "$UML_LIB_DIR/vhost_trace.py" "$sock.trace" "$sock" "$log.vhost" &
		tracer=$!
		for ((i = 0; i < 50; i++)); do
			[ -S "$sock.trace" ] && break
			sleep 0.1
		done
		sock=$sock.trace
	fi
	umid=uml$$-$RANDOM
	mkdir -p "$UML_WORK/run"
	# Own session (setsid execs in place, so $! is UML itself): a hung UML
	# and all its host processes go with one kill of the group. UML's
	# console (con0) writes to our stdout; other consoles are off, and it
	# needs no stdin. umid/uml_dir keep its mconsole socket out of ~/.uml.
	# shellcheck disable=SC2086
	(
		[ -n "${UML_TMPDIR:-}" ] && export TMPDIR=$UML_TMPDIR
		exec env LD_PRELOAD="$UML_SHIM" ${UML_CPUS:+taskset -c "$UML_CPUS"} \
			setsid "$UML_BIN" mem="$UML_MEM" \
			rootfstype=hostfs rootflags=/ ro init="$UML_LIB_DIR/uml_init.sh" \
			con=null con0=null,fd:1 umid="$umid" uml_dir="$UML_WORK/run" \
			virtio_uml.device="$sock:${UML_VIRTIO_ID:-2}" \
			UML_WORK="$UML_WORK" UML_SCRIPT="$script" "$@"
	) </dev/null >"$log" 2>&1 &
	pid=$!
	deadline=$((SECONDS + timeout))
	while kill -0 "$pid" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			kill -KILL -- "-$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			rm -rf "${UML_WORK:?}/run/$umid"
			uml_untrace
			UML_REASON="UML still running after ${timeout}s, killed (console: $log)"
			return 1
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || rc=$?
	UML_EXIT=$rc
	# Whatever UML left behind in its group (it normally takes it along).
	kill -KILL -- "-$pid" 2>/dev/null
	rm -rf "${UML_WORK:?}/run/$umid"
	uml_untrace
	UML_VERDICT=$(tr -d '\r' <"$log" | sed -n 's/^UML-RESULT //p' | head -n 1)
	case $UML_VERDICT in
	ok) return 0 ;;
	fail*) UML_REASON="${UML_VERDICT#fail } (console: $log)" ;;
	*) UML_REASON="no verdict, UML exit status $rc; last lines: $(tr -d '\r' <"$log" | tail -n 3 | tr '\n' '|') (console: $log)" ;;
	esac
	return 1
}

# The relay ends by itself when UML hangs up; this covers a UML killed
# before it connected. (Uses uml_boot's locals.)
uml_untrace() {
	[ -n "$tracer" ] || return 0
	for ((i = 0; i < 20; i++)); do
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.1
	done
	kill "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	rm -f "$sock"
}

# uml_output LOG: the console's text, carriage returns dropped.
uml_output() { tr -d '\r' <"$1"; }

backend_start() {
	local kind=$1 img=$2 sock=$3 log=$4 i pin=()
	rm -f "$sock"
	[ -n "${BACKEND_CPUS:-}" ] && pin=(taskset -c "$BACKEND_CPUS")
	case $kind in
	qsd)
		"${pin[@]}" "$QSD" --blockdev "driver=file,node-name=f,filename=$img${QSD_BLOCKDEV_EXTRA:-}" \
			--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$sock,writable=on" \
			>"$log" 2>&1 &
		;;
	ringvm)
		"${pin[@]}" "$RINGVM" backend blk --socket "$sock" --disk "$img" >"$log" 2>&1 &
		;;
	cmd)
		# shellcheck disable=SC2086 # a command line, split on purpose
		set -- ${BACKEND_CMD:?BACKEND=cmd needs BACKEND_CMD}
		set -- "${@//@SOCK@/$sock}"
		"${pin[@]}" "${@//@IMG@/$img}" >"$log" 2>&1 &
		;;
	*)
		echo "backend_start: unknown back end '$kind' (qsd, ringvm or cmd)" >&2
		return 1
		;;
	esac
	BACKEND_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		kill -0 "$BACKEND_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "backend_start: $kind did not create $sock (log $log: $(tail -c 300 "$log"))" >&2
	backend_stop
	return 1
}

backend_stop() {
	local i
	[ -n "${BACKEND_PID:-}" ] || return 0
	kill -TERM "$BACKEND_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$BACKEND_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$BACKEND_PID" 2>/dev/null
	wait "$BACKEND_PID" 2>/dev/null
	BACKEND_PID=""
}

# Fields 14 and 15 of /proc/PID/stat; the name (field 2) may hold spaces,
# so count from the last ")".
backend_cpu_ticks() {
	local s
	s=$(cat "/proc/$BACKEND_PID/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $s
	echo $((${12} + ${13}))
}
