#!/bin/bash
# User Mode Linux (Debian's linux.uml, its virtio_uml driver: no KVM) as
# the vhost-user frontend of `ringvm backend net`: a host TAP, the back end
# on it, UML with the NIC (virtio id 1) on the back end's socket. In UML:
# ping the host, `seq 1 300000` over TCP to the host and as much back, each
# compared by md5. Then: the back end still listens after UML went away and
# serves a second UML (a ping), and SIGTERM ends it with status 0 and
# counters that saw packets both ways. Needs root (the TAP).
#
#   RINGVM=build/ringvm tests/uml/net_ping.sh
#
# One "PASS name" / "FAIL name: reason" line per check, then "N passed,
# N failed"; exit status 1 if anything failed. UML_TRACE=1 logs every
# vhost-user message to WORK/uml1.log.vhost (see uml_lib.sh). Settings:
# UML_NET_TAP (rvumlnet0), UML_NET_SUBNET (21: 169.254.21.0/24),
# UML_NET_PORT (5020; it and the next one, on the host).
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/uml/uml_lib.sh disable=SC1091 # (followed with -x)
. tests/uml/uml_lib.sh
TAP=${UML_NET_TAP:-rvumlnet0}
SUB=${UML_NET_SUBNET:-21}
TXPORT=${UML_NET_PORT:-5020}
RXPORT=$((TXPORT + 1))
T=uml-net/ringvm
pass=0
fail=0
BE="" LISTENERS="" HOLD_OPEN=0
result() { # result PASS|FAIL name [reason]
	if [ "$1" = PASS ]; then
		pass=$((pass + 1))
		echo "PASS $2"
	else
		fail=$((fail + 1))
		echo "FAIL $2${3:+: $3}"
	fi
}

stop_listeners() {
	[ $HOLD_OPEN = 1 ] && exec 5>&-
	HOLD_OPEN=0
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$LISTENERS" ] && kill $LISTENERS 2>/dev/null && wait $LISTENERS 2>/dev/null
	LISTENERS=""
}

# stop_backend: SIGTERM, up to 5 s to go, then SIGKILL; BE_RC its status.
stop_backend() {
	local i
	BE_RC=""
	[ -n "$BE" ] || return 0
	kill -TERM "$BE" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$BE" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$BE" 2>/dev/null
	wait "$BE"
	BE_RC=$?
	BE=""
}

cleanup() {
	stop_listeners
	stop_backend
	ip link del "$TAP" 2>/dev/null
}
trap cleanup EXIT

# console LOG NAME: the value of "UML-NET NAME=..." in UML's console.
console() { uml_output "$1" | sed -n "s/^UML-NET $2=//p" | head -n 1; }
stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null; }

main() {
	local w sock want got ping rxmd5 tx rx conns refused i
	if ! uml_prepare; then
		result FAIL "$T/prepare" "User Mode Linux is not usable here"
		return
	fi
	w=$UML_WORK/net_ping
	if ! { rm -rf "$w" && mkdir -p "$w"; }; then
		result FAIL "$T/workdir" "cannot make $w"
		return
	fi
	sock=$w/net.sock
	# A TAP left by a killed run has this test's name: ours to replace.
	ip link del "$TAP" 2>/dev/null
	if ! { ip tuntap add dev "$TAP" mode tap &&
		ip addr add "169.254.$SUB.1/24" dev "$TAP" &&
		ip link set "$TAP" up; } 2>"$w/tap.err"; then
		result FAIL "$T/tap" "cannot make TAP $TAP (root needed): $(head -c 300 "$w/tap.err")"
		return
	fi

	"$RINGVM" backend net --socket "$sock" --tap "$TAP" --stats "$w/stats" \
		2>"$w/backend.err" &
	BE=$!
	for ((i = 0; i < 50; i++)); do
		[ -S "$sock" ] && break
		kill -0 "$BE" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -S "$sock" ]; then
		result FAIL "$T/backend-starts" "no socket: $(tail -c 300 "$w/backend.err")"
		return
	fi
	result PASS "$T/backend-starts"

	# Host ends of the two TCP streams. busybox nc hangs up once its stdin
	# ends, which would cut the guest's upload short: a FIFO held open on
	# fd 5 keeps it open until the guest is done.
	printf '#!/bin/sh\nseq 1 300000\n' >"$w/serve.sh"
	chmod +x "$w/serve.sh"
	mkfifo "$w/hold"
	timeout 40 busybox nc -l -p "$TXPORT" >"$w/from-guest.txt" <"$w/hold" &
	LISTENERS=$!
	exec 5>"$w/hold"
	HOLD_OPEN=1
	timeout 40 busybox nc -l -p "$RXPORT" -e "$w/serve.sh" &
	LISTENERS="$LISTENERS $!"

	UML_VIRTIO_ID=1 uml_boot "$sock" tests/uml/guest/net_ping.sh "$w/uml1.log" 30 \
		NET_ADDR="169.254.$SUB.2/24" NET_HOST="169.254.$SUB.1" \
		NET_TX_PORT="$TXPORT" NET_RX_PORT="$RXPORT" NET_MODE=tcp
	local booted=$? why="$UML_REASON"
	stop_listeners
	want=$(seq 1 300000 | md5sum | cut -d' ' -f1)
	ping=$(console "$w/uml1.log" ping)
	if [ "$ping" = ok ]; then
		result PASS "$T/ping-host"
	else
		result FAIL "$T/ping-host" "ping: ${ping:-no result}${why:+; $why}"
	fi
	got=$(md5sum <"$w/from-guest.txt" | cut -d' ' -f1)
	if [ "$got" = "$want" ]; then
		result PASS "$T/tcp-guest-to-host"
	else
		result FAIL "$T/tcp-guest-to-host" "host got $(wc -c <"$w/from-guest.txt") bytes, md5 $got (want $want); guest: $(console "$w/uml1.log" tx)${why:+; $why}"
	fi
	rxmd5=$(console "$w/uml1.log" rx_md5)
	if [ "$rxmd5" = "$want" ]; then
		result PASS "$T/tcp-host-to-guest"
	else
		result FAIL "$T/tcp-host-to-guest" "guest got md5 ${rxmd5:-none} (want $want)${why:+; $why}"
	fi
	[ $booted = 0 ] || echo "uml-net: first UML: $why" >&2

	# UML has gone: the back end must still listen, and serve the next one.
	if kill -0 "$BE" 2>/dev/null && [ -S "$sock" ] &&
		UML_VIRTIO_ID=1 uml_boot "$sock" tests/uml/guest/net_ping.sh "$w/uml2.log" 20 \
			NET_ADDR="169.254.$SUB.2/24" NET_HOST="169.254.$SUB.1" NET_MODE=ping &&
		[ "$(console "$w/uml2.log" ping)" = ok ]; then
		result PASS "$T/backend-survives-disconnect"
	else
		result FAIL "$T/backend-survives-disconnect" "back end $(kill -0 "$BE" 2>/dev/null && echo alive || echo gone), second UML: ${UML_REASON:-ping $(console "$w/uml2.log" ping)}; $(tail -c 300 "$w/backend.err")"
	fi

	stop_backend
	tx=$(stat_of "$w/stats" net0_tx_packets)
	rx=$(stat_of "$w/stats" net0_rx_packets)
	conns=$(stat_of "$w/stats" vhost_user_connections)
	refused=$(stat_of "$w/stats" vhost_user_refused)
	if [ "$BE_RC" = 0 ] && [ "${tx:-0}" -gt 0 ] && [ "${rx:-0}" -gt 0 ] &&
		[ "${conns:-0}" = 2 ] && [ "${refused:-x}" = 0 ] && [ ! -e "$sock" ]; then
		result PASS "$T/sigterm-exit-0-with-counters"
	else
		result FAIL "$T/sigterm-exit-0-with-counters" "exit ${BE_RC:-?}, tx ${tx:-?} rx ${rx:-?} packets, connections ${conns:-?}, refused ${refused:-?}, socket left: $([ -e "$sock" ] && echo yes || echo no); $(tail -c 300 "$w/backend.err")"
	fi
}

main
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
