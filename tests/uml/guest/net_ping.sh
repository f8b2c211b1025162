#!/bin/sh
# Inside UML (run by uml_init.sh): the vhost-user NIC ($UML_NETDEV) up with
# NET_ADDR, three pings to NET_HOST, then (NET_MODE=tcp) `seq 1 300000`
# sent to NET_HOST:NET_TX_PORT and whatever NET_HOST:NET_RX_PORT sends
# read back, its md5 printed for the host to compare. Each result is a
# "UML-NET name=value" line; the host decides. busybox nc/ping: the host's
# root has no ping, and busybox is what the initrd guests use too.
fail() {
	echo "UML-RESULT fail $*"
	exit 1
}
say() { echo "UML-NET $*"; }
ip link set "$UML_NETDEV" up || fail "ip link set $UML_NETDEV up failed"
ip addr add "$NET_ADDR" dev "$UML_NETDEV" || fail "ip addr add $NET_ADDR failed"
echo "$UML_NETDEV: $(cat "/sys/class/net/$UML_NETDEV/address"), features $(cat /sys/bus/virtio/devices/virtio0/features)"
if out=$(busybox ping -c 3 -W 5 "$NET_HOST" 2>&1); then
	say "ping=ok"
else
	say "ping=failed: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
fi
[ "${NET_MODE:-tcp}" = tcp ] || exit 0
# -w bounds the connect and the wait for the peer's last bytes.
if seq 1 300000 | busybox nc -w 10 "$NET_HOST" "$NET_TX_PORT"; then
	say "tx=sent"
else
	say "tx=failed"
fi
# stdin is the null console: nc half-closes at once and reads to the end.
say "rx_md5=$(busybox nc -w 10 "$NET_HOST" "$NET_RX_PORT" </dev/null | md5sum | cut -d' ' -f1)"
