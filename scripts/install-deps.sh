#!/bin/sh
# Installs what building, testing and the harness need, from the Debian
# archive only. Quiet and quick when everything is already there.
set -eu
PKGS="build-essential libcmocka-dev acpica-tools qemu-system-x86 seabios \
busybox-static cpio kmod e2fsprogs xz-utils clang libclang-rt-14-dev liburing-dev \
socat curl libjson-c-dev zlib1g-dev libseccomp-dev python3 gnuplot-nox \
iproute2 util-linux qemu-utils user-mode-linux fio debootstrap"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
