#!/bin/sh
# realxen-qdisk.sh: QEMU's own qdisk backend (qemu-system-xen, started by
# libxl as the PV device model) serves the guest's disk xvdd; the yardstick
# for libguestmem's example backend in realxen-blk.sh.  Only with GM_QDISK=1
# (build-initramfs.sh puts it first in dom0's tests and xvdd in the guest's
# config; init-dom0.sh writes the 64 MiB image of random bytes before
# xl create).  Never part of CI.
#
# The guest's /init runs the same check on xvdd as on realxen-blk.sh's
# disks (init-guest.sh, blk_check) as soon as blkfront attaches it at boot;
# this script waits for its line and compares every md5 with the image
# file (round 1).  That check ran next to the guest's own start, so the
# disk is then detached and attached again with xl (round 2, checked the
# same way), whose times give the same "# fact: blk" line as
# realxen-blk.sh's.  It leaves the disk attached: QEMU goes with the guest.
#
# Output: TAP.  Environment: GM_XEN_DOMID (set by dom0's /init).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
DOMID=${GM_XEN_DOMID:?GM_XEN_DOMID is not set}
GUEST_LOG=/var/log/xen/guest-gm-guest.log
QEMU_LOG=/var/log/xen/qemu-dm-gm-guest.log
IMG=/tmp/disk-xvdd.img
NAME=xvdd
N=0
FAILED=0

ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=1; echo "not ok $N - $*"; }
check() {	# check NAME COMMAND...: one TAP line for the command's status
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
diag() { echo "# $*"; }
md5_of() { md5sum | cut -d' ' -f1; }
# field LINE KEY: the value of KEY=VALUE in LINE.
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# count PATTERN: how many lines of the guest's console match PATTERN.
count() { grep -acE "$1" "$GUEST_LOG"; }

# wait_count PATTERN N SECS: wait for the N-th line matching PATTERN,
# print it.
wait_count() {
	i=0
	while [ "$i" -lt "$3" ]; do
		if [ "$(count "$1")" -ge "$2" ]; then
			grep -aE "$1" "$GUEST_LOG" | sed -n "$2p"
			return 0
		fi
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# round N BEFORE: check the guest's N-th result on xvdd against the image
# and BEFORE, the md5 of its first 8 MiB when the disk was attached; sets L
# to the guest's line.
round() {
	before=$2
	if ! L=$(wait_count "gm-blk: $NAME done" "$1" 240); then
		not_ok "$NAME round $1: the guest finished its I/O # no result in 240 s"
		grep -a "gm-blk: $NAME" "$GUEST_LOG" | sed 's/^/# guest: /'
		return 1
	fi
	diag "guest: ${L#*gm-blk: }"
	check "$NAME round $1: no I/O error in the guest" \
		[ "$(count "gm-blk: $NAME FAIL")" = 0 ]
	check "$NAME round $1: guest sees 64 MiB" \
		[ "$(field "$L" sectors)" = 131072 ]
	check "$NAME round $1: guest read what dom0 wrote" \
		[ "$(field "$L" before)" = "$before" ]
	check "$NAME round $1: guest read back what it wrote" \
		[ "$(field "$L" readback)" = "$(field "$L" pattern)" ]
	# The guest flushed (conv=fsync): QEMU has written the image file.
	check "$NAME round $1: the image holds the guest's pattern" \
		[ "$(dd if="$IMG" bs=1M skip=16 count=16 2>/dev/null |
			md5_of)" = "$(field "$L" pattern)" ]
	s9=$(dd if="$IMG" bs=512 skip=9 count=1 2>/dev/null | tr -d '\0')
	if echo "$L" | grep -q "sector9='gm-blk sector 9"; then
		check "$NAME round $1: a 512-byte O_DIRECT write landed in sector 9" \
			[ "$s9" = "gm-blk sector 9 of $NAME." ]
	else
		diag "$NAME: the guest's 512-byte O_DIRECT write did not happen"
	fi
}

finish() {
	[ "$FAILED" = 0 ] || [ ! -e "$QEMU_LOG" ] ||
		sed 's/^/# qemu-dm: /' "$QEMU_LOG"
	echo "1..$N"
	exit "$FAILED"
}

[ -f "$IMG" ] || { echo "Bail out! $IMG is missing (GM_QDISK=1?)"; exit 1; }
BE=/local/domain/0/backend/qdisk/$DOMID/51760
diag "qdisk backend $BE: state $(xenstore-read "$BE/state" 2>/dev/null)"

# Round 1: the check the guest ran at boot, next to its helper's start.
# init-dom0.sh wrote the md5 of the first 8 MiB it wrote: the guest
# may have written sector 9 since.
round 1 "$(cat "$IMG.before")" || finish
# Round 2, the one measured: unplug and plug the disk again with libxl
# (QEMU stays: it is the guest's device model), so that the guest's check
# runs while dom0 waits, as realxen-blk.sh's disks do.
gone=$(count "gm-blk: $NAME gone")
check "$NAME: xl block-detach" xl block-detach gm-guest "$NAME"
if ! wait_count "gm-blk: $NAME gone" $((gone + 1)) 60 >/dev/null; then
	not_ok "$NAME: blkfront removed the disk"
	finish
fi
ok "$NAME: blkfront removed the disk"
before=$(dd if="$IMG" bs=1M count=8 2>/dev/null | md5_of)
check "$NAME: xl block-attach" xl block-attach gm-guest \
	"format=raw,vdev=$NAME,access=rw,backendtype=qdisk,target=$IMG"
round 2 "$before" || finish
echo "# fact: blk $NAME qdisk: guest wrote $(field "$L" mib) MiB in" \
	"$(field "$L" write_s) s, read in $(field "$L" read_s) s"
finish
