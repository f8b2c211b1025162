#!/bin/sh
# guest-initrd.sh OUT: the overhead observatory's guest, the test initramfs
# ($RINGVM_IMAGES/initrd.cpio.gz) plus rvmicro, rvwork and the overhead hook as a
# second archive (the kernel unpacks concatenated archives in order).
set -eu
OUT=$1
IMG=${RINGVM_IMAGES:-build/images}
X=$(mktemp -d)
trap 'rm -rf "$X"' EXIT
mkdir -p "$X/bin" "$X/hooks"
cp build/bench/rvmicro "$X/bin/rvmicro"
cp bench/overhead/rvwork "$X/bin/rvwork"
cp bench/guest/hooks/overhead "$X/hooks/overhead"
(cd "$X" && find . | cpio -o -H newc --quiet | gzip -1) >"$X.extra"
mkdir -p "$(dirname "$OUT")"
cat "$IMG/initrd.cpio.gz" "$X.extra" >"$OUT"
rm -f "$X.extra"
