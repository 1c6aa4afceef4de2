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
