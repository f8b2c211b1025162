#!/bin/sh
# bench-rootfs.sh OUT.img: the overhead observatory's root file system, an
# ext4 image of a minimal Debian 12 (debootstrap, from the Debian archive)
# with sysbench, fio, iperf3 and iproute2, plus the project's rvmicro and
# rvwork in /usr/local/bin. Every platform runs from it: the guests see it
# as a read-only virtio-blk disk, the native and container runs mount the
# same image as a directory.
#
# Cached: debootstrap runs once (build/overhead/rootfs.d, remade when the
# package list changes); the image is remade when rvmicro or rvwork change.
# Needs root (debootstrap). Env: RINGVM_DEBIAN_MIRROR (default
# http://deb.debian.org/debian).
set -eu
OUT=$1
DIR=${OUT%.img}.d
SUITE=bookworm
PKGS=sysbench,fio,iperf3,iproute2
MIRROR=${RINGVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { echo "bench-rootfs: $*" >&2; }
die() { echo "bench-rootfs: error: $*" >&2; exit 1; }

for t in debootstrap mkfs.ext4; do
	command -v "$t" >/dev/null || die "missing tool '$t' (run scripts/install-deps.sh)"
done
for f in build/bench/rvmicro bench/overhead/rvwork; do
	[ -f "$f" ] || die "$f is missing (make overhead builds it)"
done

want="$SUITE $PKGS"
if [ ! -f "$DIR/.stamp" ] || [ "$(cat "$DIR/.stamp")" != "$want" ]; then
	[ "$(id -u)" = 0 ] || die "debootstrap needs root (the first time only; the result is cached in $DIR)"
	say "debootstrap $SUITE with $PKGS into $DIR (once; about a minute)"
	rm -rf "$DIR"
	debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$DIR" "$MIRROR" >"$DIR.log" 2>&1 ||
		die "debootstrap failed; its log: $DIR.log"
	# What a benchmark root does not need: package caches and documents.
	rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* \
		"$DIR"/usr/share/doc "$DIR"/usr/share/man "$DIR"/usr/share/info \
		"$DIR"/usr/share/locale
	mkdir -p "$DIR/scratch"
	echo "$want" >"$DIR/.stamp"
fi

install -m 755 build/bench/rvmicro "$DIR/usr/local/bin/rvmicro"
install -m 755 bench/overhead/rvwork "$DIR/usr/local/bin/rvwork"
sig="$want $(cat build/bench/rvmicro bench/overhead/rvwork | md5sum | cut -d' ' -f1)"
if [ -f "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$sig" ]; then
	exit 0
fi
# A quarter free on top of what the tree holds, for ext4's own metadata.
kib=$(du -sk "$DIR" | cut -f1)
rm -f "$OUT" "$OUT.stamp"
mkfs.ext4 -q -F -L rvroot -d "$DIR" "$OUT" "$((kib * 5 / 4 + 32768))K" ||
	die "mkfs.ext4 -d $DIR failed"
echo "$sig" >"$OUT.stamp"
say "$OUT: $(du -h --apparent-size "$OUT" | cut -f1)"
