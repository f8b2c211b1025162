#!/bin/bash
# User Mode Linux from Debian (its virtio_uml driver, no KVM) as the
# vhost-user frontend of `ringvm backend net` on a host TAP: ping, TCP both
# ways byte for byte, a back end that outlives its frontend and serves the
# next, SIGTERM with counters (tests/uml/net_ping.sh). Needs root.
#   tests/vhost/uml_net.sh [RINGVM]
# tests: uml-net/ringvm/backend-starts uml-net/ringvm/ping-host
# tests: uml-net/ringvm/tcp-guest-to-host uml-net/ringvm/tcp-host-to-guest
# tests: uml-net/ringvm/backend-survives-disconnect
# tests: uml-net/ringvm/sigterm-exit-0-with-counters
cd "$(dirname "$0")/../.." || exit 1
RINGVM=$(realpath "${1:-build/ringvm}") exec bash tests/uml/net_ping.sh
