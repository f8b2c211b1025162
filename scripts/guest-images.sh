#!/bin/bash
# Builds the guest images the end-to-end tests and the harness need, from the
# Debian archive only (no other download):
#
#   vmlinuz          Debian's bzImage (the L1 kernel, and an L2 kernel)
#   vmlinux          ELF kernel unpacked from that bzImage, for PVH boots that
#                    skip the guest-side xz decompression (slow when emulated)
#   kernel-version   e.g. 6.1.0-56-amd64
#   l1-modules/      kvm-amd and its dependencies, plus `order` (insmod order)
#   initrd.cpio.gz   the L2 initramfs: busybox, guest/l2-init.sh as /init,
#                    guest/hooks/*, virtio and ext4 modules
#   data.ext4        16 MiB ext4 image holding hello.txt (virtio-blk tests)
#
# Idempotent: the kernel package is fetched and unpacked once per version and
# each output is rebuilt only when its inputs change.
# Env: RINGVM_IMAGES (output dir, default build/images, relative to the repo
# root), RINGVM_KERNEL_PKG (kernel package, default: linux-image-amd64's
# dependency).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/scripts/$(basename "$0")
cd "$ROOT"
IMG=${RINGVM_IMAGES:-build/images}
case $IMG in /*) ;; *) IMG=$ROOT/$IMG ;; esac
CACHE=$IMG/cache

# Modules the L2 initramfs loads (PLATFORM.md); dependencies are resolved
# with modinfo, so this is the wish list, not necessarily the final order.
L2_MODS="virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio \
virtio_pci virtio_blk failover net_failover virtio_net virtio_console \
virtio-rng crc32c_generic jbd2 mbcache crc16 ext4 fuse virtiofs"
L1_MODS="irqbypass kvm ccp kvm-amd tun llc stp bridge tap vhost_iotlb vhost vhost_net \
virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio virtio_pci virtio_blk \
crc32c_generic jbd2 mbcache crc16 ext4 veth"
HELLO_TEXT="hello from ringvm data.ext4"

say() { echo "guest-images: $*"; }
die() { echo "guest-images: error: $*" >&2; exit 1; }

for t in apt-get apt-cache dpkg-deb modinfo cpio gzip xz readelf mkfs.ext4 od; do
	command -v "$t" >/dev/null || die "missing tool '$t' (run scripts/install-deps.sh)"
done

mkdir -p "$IMG" "$CACHE/debs"

# Prints the package linux-image-amd64 depends on, or nothing.
kernel_dep() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
}

resolve_kernel_pkg() {
	if [ -n "${RINGVM_KERNEL_PKG:-}" ]; then
		echo "$RINGVM_KERNEL_PKG"
		return
	fi
	local p
	p=$(kernel_dep)
	if [ -z "$p" ]; then
		say "apt knows no linux-image-amd64; running apt-get update" >&2
		apt-get update -qq >&2 || die "apt-get update failed"
		p=$(kernel_dep)
	fi
	[ -n "$p" ] || die "cannot resolve the dependency of linux-image-amd64"
	echo "$p"
}

# fetch_deb PKG: prints the path of PKG's .deb, downloading it once.
# apt-get download as root drops to the _apt user, which needs to write the
# target dir; a private dir it owns avoids the "unsandboxed" warning.
fetch_deb() {
	local pkg=$1 deb dl
	for deb in "$CACHE/debs/${pkg}"_*.deb; do
		[ -f "$deb" ] && echo "$deb" && return
	done
	dl=$(mktemp -d "$CACHE/dl.XXXXXX")
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
		chown _apt "$dl"
	fi
	say "downloading $pkg" >&2
	(cd "$dl" && apt-get download -q "$pkg" >&2) || {
		rm -rf "$dl"
		die "apt-get download $pkg failed"
	}
	for deb in "$dl"/*.deb; do
		[ -f "$deb" ] || die "apt-get download $pkg produced no .deb"
		mv "$deb" "$CACHE/debs/"
		echo "$CACHE/debs/$(basename "$deb")"
		break
	done
	rm -rf "$dl"
}

# unpack PKG: prints the dir PKG is unpacked in, unpacking it once.
unpack() {
	local pkg=$1 dir=$CACHE/$1 deb
	if [ ! -e "$dir/.unpacked" ]; then
		deb=$(fetch_deb "$pkg")
		rm -rf "$dir"
		mkdir -p "$dir/root"
		say "unpacking $(basename "$deb")" >&2
		dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed"
		touch "$dir/.unpacked"
	fi
	echo "$dir/root"
}

KPKG=$(resolve_kernel_pkg)
KROOT=$(unpack "$KPKG")
KVER=
for d in "$KROOT"/lib/modules/*/; do
	[ -d "$d" ] && KVER=$(basename "$d") && break
done
[ -n "$KVER" ] || die "$KPKG has no lib/modules/<version>"
MODDIR=$KROOT/lib/modules/$KVER
BZ=$KROOT/boot/vmlinuz-$KVER
[ -f "$BZ" ] || die "$KPKG has no boot/vmlinuz-$KVER"

# Busybox from the busybox-static package: the installed one, else unpacked.
if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed"; then
	BUSYBOX=/bin/busybox
else
	BUSYBOX=$(unpack busybox-static)/bin/busybox
fi
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX"
readelf -l "$BUSYBOX" | grep -q INTERP && die "$BUSYBOX is not static"

# stamp_ok NAME SIG: true when output NAME was last built from inputs SIG.
stamp_ok() { [ -f "$IMG/.stamp-$1" ] && [ "$(cat "$IMG/.stamp-$1")" = "$2" ]; }
stamp_set() { echo "$2" >"$IMG/.stamp-$1"; }

# --- kernel: vmlinuz, vmlinux, kernel-version -------------------------------

# le32 FILE OFFSET / u8 FILE OFFSET: little-endian fields of the setup header.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }

extract_vmlinux() {
	local bz=$1 out=$2 sects poff plen start
	[ "$(od -An -c -j 0x202 -N4 "$bz" | tr -d ' ')" = HdrS ] ||
		die "$bz: no Linux boot protocol header (HdrS)"
	sects=$(u8 "$bz" 0x1f1)
	[ "$sects" = 0 ] && sects=4 # boot protocol: 0 means 4
	poff=$(le32 "$bz" 0x248)
	plen=$(le32 "$bz" 0x24c)
	# payload_offset counts from the protected-mode code, which follows the
	# boot sector and setup_sects sectors of real-mode setup.
	start=$(((sects + 1) * 512 + poff))
	[ "$plen" -gt 0 ] || die "$bz: empty payload"
	# The payload is an xz stream followed by a 4-byte size: read one stream.
	dd if="$bz" bs=64K skip="$start" count="$plen" \
		iflag=skip_bytes,count_bytes status=none |
		xz -dc --single-stream >"$out.tmp" ||
		die "$bz: payload at $start (+$plen) is not xz"
	[ "$(head -c4 "$out.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		die "$bz: decompressed payload is not ELF"
	# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point ringvm uses.
	readelf -n "$out.tmp" | grep -E '^ *Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+Unknown note type: \(0x0+12\)' >/dev/null ||
		die "$bz: vmlinux has no Xen PHYS32_ENTRY note (type 18)"
	mv "$out.tmp" "$out"
}

if ! stamp_ok kernel "$KPKG $KVER" || [ ! -f "$IMG/vmlinux" ] || [ ! -f "$IMG/vmlinuz" ] ||
	[ ! -f "$IMG/System.map" ]; then
	say "kernel $KVER: vmlinuz, vmlinux"
	cp "$BZ" "$IMG/vmlinuz"
	# The harness names L1's stuck CPUs' code from it (vmlinux has no
	# symbols).
	cp "$KROOT/boot/System.map-$KVER" "$IMG/System.map"
	extract_vmlinux "$IMG/vmlinuz" "$IMG/vmlinux"
	echo "$KVER" >"$IMG/kernel-version"
	stamp_set kernel "$KPKG $KVER"
fi

# --- modules ------------------------------------------------------------------

# mod_path NAME: prints the .ko of NAME (- and _ are the same in module names).
mod_path() {
	local n=$1 alt
	alt=$(echo "$n" | tr '_-' '-_')
	find "$MODDIR/kernel" \( -name "$n.ko" -o -name "$alt.ko" \) -print | head -n1
}

is_builtin() {
	local n=$1 a b
	[ -f "$MODDIR/modules.builtin" ] || return 1
	a=$(echo "$n" | tr - _)
	b=$(echo "$n" | tr _ -)
	grep -qE "/($a|$b)\.ko$" "$MODDIR/modules.builtin"
}

# mod_order NAME...: prints module files (one a line) in a load order: each
# module after its dependencies; built-in ones are skipped.
mod_order() {
	local seen=" " out=""
	visit() {
		local n=$1 p d
		n=$(echo "$n" | tr - _)
		case $seen in *" $n "*) return ;; esac
		seen="$seen$n "
		if is_builtin "$n"; then
			say "module $n is built in: skipped" >&2
			return
		fi
		p=$(mod_path "$n")
		[ -n "$p" ] || die "module $n: not in $KPKG and not built in"
		for d in $(modinfo -F depends "$p" | tr , ' '); do
			visit "$d"
		done
		out="$out$p
"
	}
	for m in "$@"; do visit "$m"; done
	printf '%s' "$out"
}

# copy_mods DIR NAME...: copies modules and writes DIR/order (file names).
copy_mods() {
	local dir=$1 p
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	mod_order "$@" >"$dir/.paths"
	: >"$dir/order"
	while read -r p; do
		case $p in *.ko) ;; *) die "$p: compressed modules are not supported" ;; esac
		cp "$p" "$dir/"
		basename "$p" >>"$dir/order"
	done <"$dir/.paths"
	rm -f "$dir/.paths"
}

if ! stamp_ok l1mods "$KPKG $KVER $L1_MODS" || [ ! -f "$IMG/l1-modules/order" ]; then
	# shellcheck disable=SC2086 # a list of names
	copy_mods "$IMG/l1-modules" $L1_MODS
	say "l1-modules: $(tr '\n' ' ' <"$IMG/l1-modules/order")"
	stamp_set l1mods "$KPKG $KVER $L1_MODS"
fi

# --- L2 initramfs ---------------------------------------------------------------

# install_busybox DIR: busybox plus one symlink per applet, made at build
# time so the guest does not spend emulated time on `busybox --install`.
install_busybox() {
	local dir=$1 a
	mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin"
	cp "$BUSYBOX" "$dir/bin/busybox"
	for a in $("$BUSYBOX" --list-full); do
		[ "$a" = bin/busybox ] && continue
		[ -e "$dir/$a" ] || [ -L "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
	done
}

# make_cpio DIR OUT: a newc archive owned by root, gzip-compressed.
make_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --owner=0:0 --quiet) | gzip -9n >"$2.tmp"
	mv "$2.tmp" "$2"
}

[ -f guest/l2-init.sh ] || die "guest/l2-init.sh missing"
L2SIG="$KPKG $KVER $L2_MODS $(cat guest/l2-init.sh guest/hooks/* guest/memdirty.c "$SELF" | md5sum | cut -d' ' -f1)"
if ! stamp_ok initrd "$L2SIG" || [ ! -f "$IMG/initrd.cpio.gz" ]; then
	stage=$(mktemp -d "$IMG/l2root.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	install_busybox "$stage"
	mkdir -p "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp" \
		"$stage/mnt" "$stage/root" "$stage/hooks"
	# The kernel's built-in initramfs has /dev/console too; this is for
	# kernels built without it.
	[ "$(id -u)" = 0 ] && mknod -m 600 "$stage/dev/console" c 5 1
	install -m 755 guest/l2-init.sh "$stage/init"
	for h in guest/hooks/*; do
		install -m 755 "$h" "$stage/hooks/"
	done
	# The test hooks' memory writer (live migration's checks).
	gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static -o "$stage/bin/memdirty" \
		guest/memdirty.c || die "cannot build guest/memdirty.c"
	# shellcheck disable=SC2086 # a list of names
	copy_mods "$stage/lib/modules" $L2_MODS
	make_cpio "$stage" "$IMG/initrd.cpio.gz"
	rm -rf "$stage"
	trap - EXIT
	say "initrd.cpio.gz: $(du -k "$IMG/initrd.cpio.gz" | cut -f1) KiB, modules: $(gzip -dc "$IMG/initrd.cpio.gz" | cpio -i --to-stdout --quiet lib/modules/order | tr '\n' ' ')"
	stamp_set initrd "$L2SIG"
fi

# --- data disk --------------------------------------------------------------------

DATASIG="$HELLO_TEXT"
if ! stamp_ok data "$DATASIG" || [ ! -f "$IMG/data.ext4" ]; then
	d=$(mktemp -d "$IMG/data.XXXXXX")
	echo "$HELLO_TEXT" >"$d/hello.txt"
	rm -f "$IMG/data.ext4.tmp"
	mkfs.ext4 -q -F -L ringvm-data -d "$d" "$IMG/data.ext4.tmp" 16M >/dev/null ||
		die "mkfs.ext4 failed"
	rm -rf "$d"
	mv "$IMG/data.ext4.tmp" "$IMG/data.ext4"
	echo "$HELLO_TEXT" >"$IMG/data.hello.txt"
	say "data.ext4: 16 MiB ext4 with hello.txt"
	stamp_set data "$DATASIG"
fi

say "ready in ${IMG#"$ROOT"/} (kernel $KVER)"
