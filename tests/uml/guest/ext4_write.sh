#!/bin/sh
# Inside UML (run by uml_init.sh): an ext4 file system on the vhost-user
# disk, the host's payload file copied onto it and read back after a fresh
# mount with the page cache dropped, so the bytes come through the back end.
# Environment: UML_DISK, UML_WORK (holds "payload"), EXPECT_SECTORS.
fail() {
	echo "UML-RESULT fail $*"
	exit 1
}
mnt=$UML_WORK/mnt
sectors=$(cat /sys/block/vda/size)
[ "$sectors" = "$EXPECT_SECTORS" ] ||
	fail "disk has $sectors sectors, expected $EXPECT_SECTORS"
mkfs.ext4 -q -F -b 4096 -L ringvm-uml "$UML_DISK" || fail "mkfs.ext4 failed"
mkdir -p "$mnt"
mount -t ext4 "$UML_DISK" "$mnt" || fail "mount failed"
cp "$UML_WORK/payload" "$mnt/file" || fail "copy failed"
sync || fail "sync failed"
umount "$mnt" || fail "umount failed"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro "$UML_DISK" "$mnt" || fail "second mount failed"
cmp "$UML_WORK/payload" "$mnt/file" || fail "file read back differs"
umount "$mnt" || fail "second umount failed"
echo "wrote and read back $(wc -c <"$UML_WORK/payload") bytes"
