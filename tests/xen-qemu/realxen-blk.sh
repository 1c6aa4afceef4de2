#!/bin/sh
# realxen-blk.sh: libguestmem's example block backend (examples/xen-blkback)
# serves Linux's own xen-blkfront in the real-Xen test guest.  Runs in dom0
# (busybox sh) as the LAST test: its final case destroys the guest.
#
# For each disk, dom0 does what the toolstack does for a vbd: it writes the
# backend and frontend xenstore nodes as libxl does (Xen 4.17,
# libxl__device_generic_add and libxl_disk.c), with their permissions, and
# starts the backend on a raw image.  Linux's xenbus in the guest sees the
# new frontend directory, blkfront probes it and connects; the guest's
# /init (init-guest.sh) drives the new disk and prints its results on its
# console, which dom0 reads from xenconsoled's log.  Removal is libxl's
# too: backend online=0 and state=5 (Closing), then wait for the backend
# to finish and blkfront to close its end (6), then remove both
# directories, upon which blkfront drops the disk.
#
#   xvda  --segments lease (persistent grants when blkfront offers them)
#   xvdc  --segments copy
#         the guest reads 8 MiB dom0 wrote, writes 16 MiB of random bytes,
#         flushes, drops its page cache and reads them back; dom0 compares
#         every md5 with the image file, detaches the disk and checks that
#         the backend ended with no mapping and no fd left
#   xvdb  the guest does I/O without end; dom0 destroys the guest in the
#         middle of it and checks the same of the backend, and that a
#         "guestmem dump" of the guest caught by the destroy exits 6 and
#         leaves no file (dump_start, dump_done)
#
# Output: TAP, plus "# fact:" lines (throughput as the guest saw it: under
# QEMU's software emulation, useful only as ratios between the disks).
# Environment: GM_XEN_DOMID (set by dom0's /init).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
DOMID=${GM_XEN_DOMID:?GM_XEN_DOMID is not set}
BACKEND=/tests/xen-blkback
GUEST_LOG=/var/log/xen/guest-gm-guest.log
N=0
FAILED=0

ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=1; echo "not ok $N - $*"; }
check() {	# check WHAT COMMAND...: one TAP line for the command's status
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
diag() { echo "# $*"; }
md5_of() { md5sum | cut -d' ' -f1; }

# guest_line PATTERN SECS: wait for a line of the guest's console matching
# the extended regular expression PATTERN, print the last such line.
guest_line() {
	local i=0 l
	while [ "$i" -lt "$2" ]; do
		l=$(grep -aE "$1" "$GUEST_LOG" | tail -n 1)
		if [ -n "$l" ]; then
			echo "$l"
			return 0
		fi
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# wait_node PATH VALUE SECS: wait until a xenstore node holds VALUE.
wait_node() {
	local i=0
	while [ "$(xenstore-read "$1" 2>/dev/null)" != "$2" ]; do
		[ "$i" -lt "$3" ] || return 1
		sleep 1
		i=$((i + 1))
	done
}

# field LINE KEY: the value of KEY=VALUE in LINE.
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# wait_exit PID SECS: wait for a background process to end; its status is
# in $STATUS (or STATUS=timeout).
wait_exit() {
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		if [ "$i" -ge "$2" ]; then
			STATUS=timeout
			return 1
		fi
		sleep 1
		i=$((i + 1))
	done
	wait "$1"
	STATUS=$?
}

# attach NAME VDEV MODE IMAGE: the toolstack's part of a disk hot-plug;
# sets BE and FE (the two directories) and PID (the backend's).
attach() {
	local name=$1 vdev=$2 mode=$3 img=$4
	BE=/local/domain/0/backend/vbd/$DOMID/$vdev
	FE=/local/domain/$DOMID/device/vbd/$vdev
	xenstore-write "$BE/frontend" "$FE" "$BE/frontend-id" "$DOMID" \
		"$BE/online" 1 "$BE/state" 1 "$BE/removable" 0 \
		"$BE/bootable" 1 "$BE/type" gm-blkback "$BE/mode" w \
		"$BE/params" "$img" "$BE/dev" "$name" \
		"$BE/device-type" disk &&
		xenstore-chmod -r "$BE" n0 "r$DOMID" || return 1
	# blkfront probes as soon as the frontend's directory appears, and
	# writes its ring-ref once the backend is in InitWait.  libxl writes
	# the nodes and their permissions in one transaction; the command
	# line tools cannot, so the backend starts only after the chmod:
	# until then the nodes are dom0's (they inherit "device", which the
	# guest may only read) and blkfront's writes would fail with EACCES.
	xenstore-write "$FE/backend" "$BE" "$FE/backend-id" 0 \
		"$FE/state" 1 "$FE/virtual-device" "$vdev" \
		"$FE/device-type" disk &&
		xenstore-chmod -r "$FE" "n$DOMID" r0 || return 1
	"$BACKEND" --segments "$mode" "$BE" "$img" \
		>"/tmp/blk-$name.out" 2>"/tmp/blk-$name.err" &
	PID=$!
}

# detach: libxl's removal of the disk attached last.
detach() {
	xenstore-write "$BE/online" 0 "$BE/state" 5
}

# backend_done NAME: the backend's exit and its last words.
backend_done() {
	local name=$1 done_line
	sed "s/^/# $name backend: /" "/tmp/blk-$name.err" | tail -n 30
	done_line=$(grep '^xen-blkback: done' "/tmp/blk-$name.out" | tail -n 1)
	diag "$name: $done_line"
	check "$name: backend exits 0 (status $STATUS)" [ "$STATUS" = 0 ]
	check "$name: no mapping left" \
		[ "$(field "$done_line" mapped_bytes)" = 0 ]
	check "$name: no fd leaked" [ "$(field "$done_line" fds_leaked)" = 0 ]
}

# case_check NAME VDEV MODE: the round trip through one disk.
case_check() {
	local name=$1 vdev=$2 mode=$3 img=/tmp/disk-$1.img before l s9
	dd if=/dev/urandom of="$img" bs=1M count=64 2>/dev/null
	before=$(dd if="$img" bs=1M count=8 2>/dev/null | md5_of)
	if ! attach "$name" "$vdev" "$mode" "$img"; then
		not_ok "$name: toolstack nodes written"
		return
	fi
	if ! l=$(guest_line "gm-blk: $name done" 240); then
		not_ok "$name: the guest finished its I/O # no result in 240 s"
		xenstore-ls "$BE" | sed 's/^/# be: /'
		xenstore-ls "$FE" | sed 's/^/# fe: /'
		detach
		wait_exit "$PID" 30 || kill -9 "$PID"
		backend_done "$name"
		return
	fi
	diag "guest: ${l#*gm-blk: }"
	check "$name: no I/O error in the guest" \
		[ -z "$(grep -a "gm-blk: $name FAIL" "$GUEST_LOG")" ]
	check "$name: guest sees 64 MiB" [ "$(field "$l" sectors)" = 131072 ]
	check "$name: guest read what dom0 wrote" \
		[ "$(field "$l" before)" = "$before" ]
	check "$name: guest read back what it wrote" \
		[ "$(field "$l" readback)" = "$(field "$l" pattern)" ]
	detach
	wait_exit "$PID" 60 || kill -9 "$PID"
	# After the backend has gone, the image holds what it wrote.
	check "$name: the image holds the guest's pattern" [ "$(dd if="$img" \
		bs=1M skip=16 count=16 2>/dev/null | md5_of)" = "$(field "$l" pattern)" ]
	s9=$(dd if="$img" bs=512 skip=9 count=1 2>/dev/null | tr -d '\0')
	if echo "$l" | grep -q "sector9='gm-blk sector 9"; then
		check "$name: a 512-byte O_DIRECT write landed in sector 9" \
			[ "$s9" = "gm-blk sector 9 of $name." ]
	else
		diag "$name: the guest's 512-byte O_DIRECT write did not happen"
	fi
	backend_done "$name"
	check "$name: blkfront closed its end (frontend state 6)" \
		wait_node "$FE/state" 6 30
	# Linux's blkfront drops the disk when its directory goes.
	xenstore-rm "$FE" "$BE"
	if guest_line "gm-blk: $name gone" 60 >/dev/null; then
		ok "$name: blkfront removed the disk"
	else
		not_ok "$name: blkfront removed the disk"
	fi
	echo "# fact: blk $name $mode: guest wrote $(field "$l" mib) MiB in" \
		"$(field "$l" write_s) s, read in $(field "$l" read_s) s"
	rm -f "$img"
}

case_destroy() {
	local name=xvdb img=/tmp/disk-xvdb.img
	dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null
	if ! attach "$name" 51728 lease "$img"; then
		not_ok "$name: toolstack nodes written"
		return
	fi
	if guest_line "gm-blk: $name busy" 240 >/dev/null; then
		ok "$name: the guest is doing I/O"
	else
		not_ok "$name: the guest is doing I/O"
	fi
	sleep 5
	dump_start
	xl destroy "$DOMID"
	# A test after this one would have no guest; init-dom0.sh reads this.
	: >/run/guestmem-guest-destroyed
	dump_done
	wait_exit "$PID" 60 || kill -9 "$PID"
	backend_done "$name"
	xenstore-rm "$BE" 2>/dev/null
	rm -f "$img"
}

# A dump during the destroy (issue 15): "guestmem dump" of the guest while
# xl destroys it must end with status 6 (guestmem(1): a domain that went
# away ends a dump) and leave nothing: neither its file nor the temporary
# ".FILE.XXXXXX" it writes next to it.  The dump (7-30 s for the 256 MiB
# guest under emulation) and the destroy (a few seconds) started together
# could finish in either order, so the dump is made to be in the middle
# whatever the speeds: it is started, stopped (SIGSTOP) as soon as its
# temporary file exists (it has opened the domain, read its physmap and
# begun to copy), the guest is destroyed, and the dump is continued: its
# next frame is one of a destroyed domain.  A process the scheduler does
# not run for a few seconds is all this simulates.
DUMP_DIR=/tmp/destroy-dump

# dump_start: the dump, stopped once begun; sets DUMP_PID (empty if it
# never began).
dump_start() {
	local i=0
	rm -rf "$DUMP_DIR"
	mkdir -p "$DUMP_DIR"
	/tests/guestmem --xen-domid "$DOMID" dump "$DUMP_DIR/guest.core" \
		>/tmp/destroy-dump.out 2>&1 &
	DUMP_PID=$!
	while [ -z "$(ls -A "$DUMP_DIR")" ]; do
		if ! kill -0 "$DUMP_PID" 2>/dev/null || [ "$i" -ge 600 ]; then
			not_ok "dump: began before the destroy (no temporary" \
				"file after $((i / 10)) s)"
			kill -9 "$DUMP_PID" 2>/dev/null
			DUMP_PID=
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
	kill -STOP "$DUMP_PID"
	ok "dump: began before the destroy ($(ls -A "$DUMP_DIR"), after" \
		"$((i / 10)).$((i % 10)) s); stopped during it"
}

# dump_done: continue the dump, check its status and what it left.
dump_done() {
	[ -n "$DUMP_PID" ] || return
	kill -CONT "$DUMP_PID"
	wait_exit "$DUMP_PID" 120 || kill -9 "$DUMP_PID"
	sed 's/^/# dump: /' /tmp/destroy-dump.out
	check "dump: exit status 6, the domain went away (status $STATUS)" \
		[ "$STATUS" = 6 ]
	check "dump: the message says no dump was written" \
		grep -q 'no dump written' /tmp/destroy-dump.out
	check "dump: no file and no temporary file left ($(ls -A "$DUMP_DIR"))" \
		[ -z "$(ls -A "$DUMP_DIR")" ]
	rm -rf "$DUMP_DIR" /tmp/destroy-dump.out
}

[ -x "$BACKEND" ] || { echo "Bail out! $BACKEND is missing"; exit 1; }
case_check xvda 51712 lease
case_check xvdc 51744 copy
case_destroy
echo "1..$N"
exit "$FAILED"
