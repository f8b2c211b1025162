#!/bin/sh
# Inside UML (run by uml_init.sh), against a back end started afresh on the
# image ext4_write.sh filled: the file system checks clean and the file
# matches the host's payload. Environment: UML_DISK, UML_WORK.
fail() {
	echo "UML-RESULT fail $*"
	exit 1
}
mnt=$UML_WORK/mnt
fsck.ext4 -fn "$UML_DISK" || fail "fsck.ext4 -fn found problems"
mkdir -p "$mnt"
mount -t ext4 -o ro "$UML_DISK" "$mnt" || fail "mount failed"
cmp "$UML_WORK/payload" "$mnt/file" || fail "file differs after the back end restarted"
umount "$mnt" || fail "umount failed"
