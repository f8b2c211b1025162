#!/bin/sh
# Inside UML (run by tests/uml/uml_init.sh): one fio job on the vhost-user
# disk, its terse (v3) line printed after "FIO-TERSE ". The job's size is a
# fixed time, and fio's own byte count is what the host divides by.
# Environment: UML_DISK, FIO_JOB, FIO_SECS.
case $FIO_JOB in
randread_qd1) set -- --rw=randread --bs=4k --iodepth=1 --norandommap ;;
randread_qd32) set -- --rw=randread --bs=4k --iodepth=32 --norandommap ;;
seqread_1m) set -- --rw=read --bs=1M --iodepth=8 ;;
seqwrite_1m) set -- --rw=write --bs=1M --iodepth=8 ;;
*)
	echo "UML-RESULT fail unknown FIO_JOB '$FIO_JOB'"
	exit 1
	;;
esac
out=$(fio --name="$FIO_JOB" --filename="$UML_DISK" --ioengine=libaio \
	--direct=1 --time_based --runtime="$FIO_SECS" "$@" \
	--output-format=terse --terse-version=3 2>&1) || {
	echo "$out"
	echo "UML-RESULT fail fio failed"
	exit 1
}
echo "FIO-TERSE $(echo "$out" | grep '^3;' | tail -n 1)"
