#!/bin/sh
# /init of dom0 in the real-Xen harness (runs under busybox sh).
#
# Brings up just enough of the Xen toolstack by hand (no systemd, no
# scripts), creates the PVH test guest, waits until its helper has
# published its pages, runs every test program listed in /etc/guestmem/tests
# and reports through markers that run.sh looks for on the serial console:
#
#   GUESTMEM-XEN-DOM0-UP: ...            dom0 userspace started
#   GUESTMEM-XEN-SETUP-FAILED: <what>    the toolstack or xl create failed
#   GUESTMEM-XEN-GUEST-READY: domid=<n> ...
#   GUESTMEM-XEN-GUEST-NOT-READY: <why>  the guest never published
#   GUESTMEM-XEN-TEST-BEGIN: <name>
#   GUESTMEM-XEN-TEST-END: <name> rc=<rc> <PASS|FAIL|SKIP|TIMEOUT>
#   GUESTMEM-XEN-RESULT: <rc>            0 all passed, 1 a test failed,
#                                        2 setup failed, 3 guest not ready
#
# From the first marker to the last it also writes "dom0-init: alive at
# uptime <s>s" every 60 s.
#
# and then reboots, which ends QEMU (it runs with -no-reboot): a dom0
# reboot makes Xen reset the machine, the one way out that works here
# without depending on ACPI power-off support.  The guest's console is
# copied to ours as it is written, each line starting with "guest| ".
#
# Kernel command line knobs (set by run.sh):
#   gm_guest_timeout=S   seconds to wait for the guest (default 240)
#   gm_test_timeout=S    seconds each test program may run (default 300)
#   gm_shell             start a shell instead of rebooting (debugging)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
XB=/usr/lib/xen-4.17/bin
GUEST=gm-guest
GUEST_LOG=/var/log/xen/guest-$GUEST.log
FOLLOWING=

up() { cut -d' ' -f1 /proc/uptime; }
marker() { echo "GUESTMEM-XEN-$*"; }
say() { echo "dom0-init: $*"; }

cmdline_value() {	# cmdline_value NAME DEFAULT
	v=$2
	# shellcheck disable=SC2013 # the command line is a list of words
	for word in $(cat /proc/cmdline); do
		case $word in
		"$1="*) v=${word#*=} ;;
		esac
	done
	echo "$v"
}

# Copy the guest's console to ours as it is written, each line marked
# "guest| ", so that the log shows the guest's side next to the tests.
follow_guest_console() {
	: >>"$GUEST_LOG"
	tail -n +1 -F "$GUEST_LOG" 2>/dev/null |
		awk '{ print "guest| " $0; fflush() }' &
	FOLLOWING=1
}

finish() {	# finish RC
	# tail -F looks once a second: let it pass on the guest's last words.
	[ -z "$FOLLOWING" ] || sleep 2
	kill "$HEARTBEAT" 2>/dev/null
	say "done at uptime $(up)s"
	marker "RESULT: $1"
	sync
	if grep -qw gm_shell /proc/cmdline; then
		exec setsid cttyhack /bin/sh
	fi
	reboot -f
	# Only reached if the reboot did not happen.
	sleep 30
	echo b > /proc/sysrq-trigger
}

setup_failed() {	# setup_failed WHAT
	marker "SETUP-FAILED: $*"
	finish 2
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/lock /var/lock /var/lib/xen /var/log/xen /tmp
marker "DOM0-UP: uptime $(up)s kernel $(uname -r)"

# A line every 60 s until the end, so that run.sh can tell a machine that
# hangs (no console output at all, while QEMU keeps running) from a test
# that works quietly.
while sleep 60; do say "alive at uptime $(up)s"; done &
HEARTBEAT=$!

GUEST_TIMEOUT=$(cmdline_value gm_guest_timeout 240)
TEST_TIMEOUT=$(cmdline_value gm_test_timeout 300)
KVER=$(cat /etc/kver)

for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc; do
	insmod "/lib/modules/$KVER/$m.ko" || setup_failed "insmod $m"
done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen || setup_failed "mount xenfs"

"$XB/xenstored" --pid-file /run/xen/xenstored.pid ||
	setup_failed "xenstored"
"$XB/xen-init-dom0" || setup_failed "xen-init-dom0"
"$XB/xenconsoled" --pid-file=/run/xen/xenconsoled.pid --log=guest \
	--log-dir=/var/log/xen || setup_failed "xenconsoled"
say "toolstack up at uptime $(up)s"
follow_guest_console

# GM_QDISK=1 (build-initramfs.sh): the guest config has a qdisk disk xvdd
# on this image, served by QEMU, which libxl starts as the PV device model;
# realxen-qdisk.sh checks it.  Its log is worth seeing if xl create fails.
QDISK_IMG=/tmp/disk-xvdd.img
QEMU_LOG=/var/log/xen/qemu-dm-$GUEST.log
if [ -e /etc/guestmem/qdisk ]; then
	dd if=/dev/urandom of="$QDISK_IMG" bs=1M count=64 2>/dev/null ||
		setup_failed "cannot write $QDISK_IMG"
	# What the guest's first read of the disk must see.
	dd if="$QDISK_IMG" bs=1M count=8 2>/dev/null | md5sum |
		cut -d' ' -f1 >"$QDISK_IMG.before"
fi

t0=$(up)
timeout 300 "$XB/xl" create "/etc/xen/$GUEST.cfg" || {
	rc=$?
	[ ! -e "$QEMU_LOG" ] || sed 's/^/dom0-init: qemu-dm: /' "$QEMU_LOG"
	setup_failed "xl create $GUEST (status $rc)"
}
DOMID=$("$XB/xl" domid "$GUEST") || setup_failed "xl domid $GUEST"
say "xl create took $(echo "$(up) $t0" | awk '{ print $1 - $2 }')s, domid $DOMID"

# Wait for the helper's "ready" key.  Stop early, with the reason, if the
# helper reports an error, says FATAL on its console or the domain dies.
READY=/local/domain/$DOMID/data/guestmem/ready
waited=0
while :; do
	v=$(xenstore-read "$READY" 2>/dev/null)
	case $v in
	1) break ;;
	error*) why="guest helper: $v" ;;
	*) why= ;;
	esac
	if [ -z "$why" ] && grep -q FATAL "$GUEST_LOG" 2>/dev/null; then
		why="guest console: $(grep FATAL "$GUEST_LOG" | head -n 1)"
	fi
	if [ -z "$why" ] && ! "$XB/xl" list "$DOMID" >/dev/null 2>&1; then
		why="domain $DOMID is gone"
	fi
	if [ -z "$why" ] && [ "$waited" -ge "$GUEST_TIMEOUT" ]; then
		why="no ready key after ${GUEST_TIMEOUT}s"
	fi
	if [ -n "$why" ]; then
		marker "GUEST-NOT-READY: $why"
		"$XB/xl" list
		finish 3
	fi
	sleep 1
	waited=$((waited + 1))
done
marker "GUEST-READY: domid=$DOMID after ${waited}s at uptime $(up)s"
xenstore-ls "/local/domain/$DOMID/data/guestmem" | cut -c1-160 |
	sed 's/^/dom0-init: xenstore: /'

export GM_XEN_DOMID="$DOMID"
RESULT=0
while IFS= read -r t; do
	marker "TEST-BEGIN: $t"
	t0=$(up)
	timeout -k 10 "$TEST_TIMEOUT" "/tests/$t" </dev/null 2>&1
	rc=$?
	case $rc in
	0) status=PASS ;;
	77) status=SKIP ;;
	# busybox timeout execs the program, so a timeout shows as the
	# signal that ended it: TERM (128 + 15) or, 10 s later, KILL.
	143 | 137) status=TIMEOUT ;;
	*) status=FAIL ;;
	esac
	# Inside real Xen every facility exists: a skip is a harness bug.
	[ "$status" = PASS ] || RESULT=1
	marker "TEST-END: $t rc=$rc $status in $(echo "$(up) $t0" | awk '{ print $1 - $2 }')s"
done </etc/guestmem/tests

# The guest must have survived the tests (a crash there is a finding),
# unless the last test destroyed it on purpose (realxen-blk.sh).
if [ -e /run/guestmem-guest-destroyed ]; then
	say "a test destroyed the guest on purpose"
	"$XB/xl" list
elif ! "$XB/xl" list "$DOMID" >/dev/null 2>&1; then
	say "the guest died during the tests"
	RESULT=1
else
	"$XB/xl" list
	"$XB/xl" destroy "$DOMID" || say "xl destroy failed"
fi
finish "$RESULT"
