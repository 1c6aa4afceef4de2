#!/bin/sh
# /init of the PVH test guest (domU) of the real-Xen harness.
#
# Prepares the kernel so that the guest helper's view of its own physical
# frames stays true, starts the helper and then keeps the domain alive:
# dom0 decides when the guest goes away (xl destroy).
#
# Kernel command line knobs (set by dom0's guest config):
#   gm_pattern_pages=N   pattern pages the helper fills (default 1024)
#   gm_grant_pages=N     pages it grants to dom0, the last one read-only
#                        (default 8)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

say() { echo "gm-guest-init: $*"; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

# Pages must keep their frames once the helper has published them:
# no transparent huge pages (khugepaged copies pages into a new huge page)
# and no compaction of mlock()ed pages.
echo never > /sys/kernel/mm/transparent_hugepage/enabled ||
	say "cannot disable transparent huge pages"
echo 0 > /proc/sys/vm/compact_unevictable_allowed ||
	say "cannot disable compaction of unevictable pages"

if ! insmod /lib/modules/xen-gntalloc.ko; then
	say "FATAL: insmod xen-gntalloc failed"
fi

# Block devices dom0 attaches (tests/xen-qemu/realxen-blk.sh) are served by
# libguestmem's example block backend in dom0 and driven here by Linux's
# own xen-blkfront, which no one here wrote.  Each job reports on the
# console, which dom0 reads back from xenconsoled's log.
#   xvda, xvdc: "check": read what dom0 wrote, write a random pattern,
#               flush, drop the page cache, read it back; md5s and times
#   xvdb:       "busy": I/O without end, until dom0 destroys the domain
blk_say() { echo "gm-blk: $*"; }
md5_of() { md5sum | cut -d' ' -f1; }
blk_check() {	# blk_check DEV
	d=/dev/$1 mib=16
	before=$(dd if="$d" bs=1M count=8 2>/dev/null | md5_of)
	head -c $((mib << 20)) /dev/urandom >/tmp/pat-$1
	pat=$(md5_of </tmp/pat-$1)
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/tmp/pat-$1 of="$d" bs=1M seek=16 conv=fsync 2>/dev/null ||
		blk_say "$1 FAIL: write"
	t1=$(cut -d' ' -f1 /proc/uptime)
	rm -f /tmp/pat-$1
	# 512-byte writes at odd sectors, by O_DIRECT: sub-page segments.
	printf 'gm-blk sector 9 of %s.' "$1" |
		dd of="$d" bs=512 seek=9 conv=sync oflag=direct 2>/dev/null ||
		blk_say "$1 note: O_DIRECT 512-byte write refused"
	echo 3 >/proc/sys/vm/drop_caches
	t2=$(cut -d' ' -f1 /proc/uptime)
	back=$(dd if="$d" bs=1M skip=16 count=$mib 2>/dev/null | md5_of)
	t3=$(cut -d' ' -f1 /proc/uptime)
	s9=$(dd if="$d" bs=512 skip=9 count=1 2>/dev/null | tr -d '\0')
	blk_say "$1 done sectors=$(cat /sys/block/$1/size)" \
		"before=$before pattern=$pat readback=$back sector9='$s9'" \
		"write_s=$(echo "$t1 $t0" | awk '{ print $1 - $2 }')" \
		"read_s=$(echo "$t3 $t2" | awk '{ print $1 - $2 }') mib=$mib"
}
blk_busy() {	# blk_busy DEV
	blk_say "$1 busy"
	while :; do
		dd if=/dev/urandom of="/dev/$1" bs=64k count=64 conv=fsync \
			2>/dev/null
		dd if="/dev/$1" of=/dev/null bs=64k count=64 2>/dev/null
		echo 3 >/proc/sys/vm/drop_caches
	done
}
blk_watch() {
	seen=
	while :; do
		for b in /sys/block/xvd*; do
			[ -e "$b" ] || continue
			n=${b##*/}
			case " $seen " in *" $n "*) continue ;; esac
			seen="$seen $n"
			blk_say "$n appeared: $(cat "$b/size") sectors"
			case $n in
			xvdb) blk_busy "$n" & ;;
			*) blk_check "$n" ;;
			esac
		done
		# A detached disk may come back under the same name.
		for n in $seen; do
			[ -e "/sys/block/$n" ] && continue
			blk_say "$n gone"
			seen=$(echo " $seen " | sed "s/ $n / /")
		done
		sleep 1
	done
}
if insmod /lib/modules/xen-blkfront.ko; then
	blk_watch &
else
	say "insmod xen-blkfront failed: no block tests"
fi

args=
# shellcheck disable=SC2013 # the command line is a list of words
for word in $(cat /proc/cmdline); do
	case $word in
	gm_pattern_pages=*) args="$args -p ${word#*=}" ;;
	gm_grant_pages=*) args="$args -g ${word#*=}" ;;
	esac
done

say "starting guest-helper$args at uptime $(cut -d' ' -f1 /proc/uptime)s"
# shellcheck disable=SC2086 # $args is a list of options
/bin/guest-helper $args
# The helper only returns on failure; dom0 watches the console for this.
say "FATAL: guest-helper exited with status $?"
while :; do
	sleep 3600
done
