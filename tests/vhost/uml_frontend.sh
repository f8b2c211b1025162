#!/bin/bash
# User Mode Linux from Debian (its virtio_uml driver, at native speed, no
# KVM) as the vhost-user frontend of `ringvm backend blk`: mkfs.ext4, a
# file written and synced in UML, checked on the host byte for byte, a
# back end that survives its frontend and serves a restarted one
# (tests/uml/blk_ext4.sh with BACKEND=ringvm).
#   tests/vhost/uml_frontend.sh [RINGVM]
# tests: uml-blk/ringvm/backend-starts
# tests: uml-blk/ringvm/mkfs-write-readback-in-uml
# tests: uml-blk/ringvm/backend-survives-disconnect
# tests: uml-blk/ringvm/e2fsck-clean-on-host
# tests: uml-blk/ringvm/file-intact-on-host
# tests: uml-blk/ringvm/read-after-backend-restart
cd "$(dirname "$0")/../.." || exit 1
RINGVM=$(realpath "${1:-build/ringvm}") BACKEND=ringvm exec bash tests/uml/blk_ext4.sh
