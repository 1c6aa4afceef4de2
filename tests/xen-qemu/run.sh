#!/bin/bash
# Run test programs inside a real Xen 4.17 dom0, booted under QEMU with
# software emulation, next to a PVH test guest whose memory they map.
#
# Usage: run.sh [-w WORKDIR] [-c CACHEDIR] [-l LOGFILE] [-t SECONDS]
#               [-x TOOL]... [TEST...]
#   TEST       programs to run in dom0, in order (see build-initramfs.sh);
#              with none, the harness's own probe is built and run
#   -x TOOL    a program the tests use, put in dom0's /tests but not run
#   -w DIR     work folder (default: ${TMPDIR:-/tmp}/guestmem-xen-qemu)
#   -c DIR     download cache (default: ${XDG_CACHE_HOME:-~/.cache}/guestmem-xen-qemu)
#   -l FILE    log file (default: WORKDIR/run.log)
#   -t SECS    hard limit for one boot of QEMU (default 1800)
#
# Environment: XQ_KERNEL_PKG (default: what linux-image-amd64 depends on),
# XQ_DOM0_DEADLINE (seconds for dom0's /init to start, default 150),
# XQ_GUEST_TIMEOUT (240), XQ_TEST_TIMEOUT (1200), XQ_QEMU_MEM (MiB, 2048),
# XQ_DOM0_MEM (MiB, 1280), XQ_FREEZE (seconds without QEMU using any CPU
# time after which the emulated machine counts as frozen, 120),
# XQ_SILENT (seconds without console output, once dom0 started, after
# which the machine counts as hung, 300),
# XQ_SMP (QEMU's CPUs, 1: see below), XQ_ACCEL (QEMU's -accel, tcg), CC
# (gcc), and build-initramfs.sh's GM_* settings.
#
# It installs nothing: a missing tool is named with its Debian package and
# the run stops.  The kernel and hypervisor packages are fetched with
# apt-get download and unpacked into the cache, never installed.
#
# Exit status: 0 every test passed; 1 a test failed; 2 the host lacks
# something or a build step failed; 3 dom0 never started (after one retry);
# 4 the test guest never became ready (after one retry); 5 the hard time limit hit after dom0
# started; 6 QEMU ended without a result (a crash or panic in the log);
# 7 dom0's toolstack or xl create failed; 8 the emulated machine froze or
# hung in the second boot.
# A boot in which no test could run (dom0 never started, or the test guest
# never became ready) is retried once, and so is a boot in which the
# emulated machine froze or hung; a failing test never is.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XEN_BIN=/usr/lib/xen-4.17/bin
XEN_PKG=xen-hypervisor-4.17-amd64

WORK=${TMPDIR:-/tmp}/guestmem-xen-qemu
CACHE=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/guestmem-xen-qemu
LOG=
BOOT_TIMEOUT=1800
DOM0_DEADLINE=${XQ_DOM0_DEADLINE:-150}
FREEZE_SECS=${XQ_FREEZE:-120}
SILENT_SECS=${XQ_SILENT:-300}
QEMU_PID=
STAMP_PID=
MON_PID=
WAKES=0
# Lines worth repeating when a boot goes wrong (case matters: "debug=n").
TROUBLE='[Pp]anic|BUG:|Oops|FATAL|Call Trace|Assertion'

usage() {
	sed -n '5,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

TOOL_ARGS=()
while getopts w:c:l:t:x:h opt; do
	case $opt in
	x) TOOL_ARGS+=(-x "$OPTARG") ;;
	w) WORK=$OPTARG ;;
	c) CACHE=$OPTARG ;;
	l) LOG=$OPTARG ;;
	t) BOOT_TIMEOUT=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
TESTS=("$@")

if ((BASH_VERSINFO[0] < 5)); then
	echo "run.sh: needs bash 5 or later (for EPOCHREALTIME)" >&2
	exit 2
fi
[[ $BOOT_TIMEOUT =~ ^[0-9]+$ && $DOM0_DEADLINE =~ ^[0-9]+$ &&
	$FREEZE_SECS =~ ^[0-9]+$ && $SILENT_SECS =~ ^[0-9]+$ ]] ||
	{ echo "run.sh: timeouts must be whole seconds" >&2; exit 2; }

mkdir -p "$WORK" || exit 2
WORK=$(cd "$WORK" && pwd)
LOG=${LOG:-$WORK/run.log}
: >"$LOG" || exit 2
RUN_T0=$EPOCHREALTIME

# Seconds since $1 (an EPOCHREALTIME), with two decimals.  Digits only:
# the decimal separator of EPOCHREALTIME follows the locale.
since() {
	local now=${EPOCHREALTIME//[!0-9]/} t0=${1//[!0-9]/} d
	d=$((now - t0))
	printf '%d.%02d' $((d / 1000000)) $((d / 10000 % 100))
}

# Messages of run.sh itself, with time since the start of the run.
log() {
	local line
	printf -v line '[%8s] xen-qemu: %s' "$(since "$RUN_T0")" "$*"
	printf '%s\n' "$line"
	printf '%s\n' "$line" >>"$LOG"
}

fail() {	# fail STATUS MESSAGE
	log "FAIL: $2"
	log "log: $LOG"
	exit "$1"
}

stop_qemu() {
	local i
	[[ -n $QEMU_PID ]] || return 0
	if kill -0 "$QEMU_PID" 2>/dev/null; then
		# $QEMU_PID is timeout(1), which passes TERM on to QEMU.
		kill -TERM "$QEMU_PID" 2>/dev/null
		for ((i = 0; i < 20; i++)); do
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$QEMU_PID" 2>/dev/null; then
			# Still there: QEMU (timeout's only child) first, then
			# timeout itself, which could no longer pass KILL on.
			pkill -KILL -P "$QEMU_PID" 2>/dev/null
			kill -KILL "$QEMU_PID" 2>/dev/null
		fi
	fi
	wait "$QEMU_PID" 2>/dev/null
	QEMU_PID=
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	stop_qemu
	if [[ -n $STAMP_PID ]]; then
		wait "$STAMP_PID" 2>/dev/null
	fi
	[[ -z $MON_PID ]] || kill "$MON_PID" 2>/dev/null
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ---- 1. the host's tools ----
check_tools() {
	local missing=() pkgs=() t pkg
	# tool:package pairs; a tool is a command or an absolute path.
	local need=(
		qemu-system-x86_64:qemu-system-x86
		"$XEN_BIN/xl:xen-utils-4.17"
		"$XEN_BIN/xenstored:xen-utils-4.17"
		"$XEN_BIN/xenconsoled:xen-utils-4.17"
		"$XEN_BIN/xen-init-dom0:xen-utils-4.17"
		/usr/bin/xenstore-read:xenstore-utils
		/usr/bin/xenstore-ls:xenstore-utils
		/bin/busybox:busybox-static
		/usr/include/xenforeignmemory.h:libxen-dev
		/usr/lib/x86_64-linux-gnu/libxenstore.a:libxen-dev
		cpio:cpio
		apt-get:apt
		apt-cache:apt
		dpkg-deb:dpkg
		dpkg-query:dpkg
		ldd:libc-bin
		"${CC:-gcc}:gcc"
		gzip:gzip
		zcat:gzip
		timeout:coreutils
		mkfifo:coreutils
		stdbuf:coreutils
		od:coreutils
		pkill:procps
		awk:mawk
		tar:tar
	)
	for t in "${need[@]}"; do
		pkg=${t##*:}
		t=${t%:*}
		if [[ $t == /* ]]; then
			[[ -e $t ]] && continue
		else
			command -v "$t" >/dev/null 2>&1 && continue
		fi
		missing+=("$t")
		[[ " ${pkgs[*]} " == *" $pkg "* ]] || pkgs+=("$pkg")
	done
	if ((${#missing[@]})); then
		log "missing: ${missing[*]}"
		fail 2 "install them first: apt-get install -y --no-install-recommends ${pkgs[*]}"
	fi
	# The dom0 and guest initramfs have no libraries for busybox.
	if ldd /bin/busybox >/dev/null 2>&1; then
		fail 2 "/bin/busybox is not the static one: apt-get install -y busybox-static"
	fi
}

# ---- 2. kernel and hypervisor, unpacked into the cache ----
# pkg_version PKG [WANTED]: the version apt would download (WANTED if it is
# still available), or nothing.
pkg_version() {
	local v
	if [[ -n ${2:-} ]] &&
		apt-cache madison "$1" 2>/dev/null | awk '{ print $3 }' | grep -qxF "$2"; then
		echo "$2"
		return
	fi
	v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	[[ $v != "(none)" ]] && echo "$v"
}

# fetch PKG VERSION: print the path of the cached .deb, downloading it once.
fetch() {
	local pkg=$1 ver=$2 dir=$CACHE/debs deb out
	mkdir -p "$dir" || return 1
	deb=$(find "$dir" -maxdepth 1 -name "${pkg}_${ver//:/%3a}_*.deb" | head -n 1)
	if [[ -z $deb ]]; then
		log "downloading $pkg=$ver" >&2
		# apt's sandbox user cannot write to a private cache folder.
		if ! out=$(cd "$dir" && apt-get download -q \
			-o APT::Sandbox::User="$(id -un)" "$pkg=$ver" 2>&1); then
			log "$out" >&2
			return 1
		fi
		deb=$(find "$dir" -maxdepth 1 -name "${pkg}_${ver//:/%3a}_*.deb" | head -n 1)
	fi
	[[ -n $deb ]] && echo "$deb"
}

prepare_kroot() {
	local kpkg kver xver xwant kdeb xdeb root
	kpkg=${XQ_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')}
	[[ -n $kpkg ]] ||
		fail 2 "apt-cache knows no linux-image-amd64: run apt-get update"
	kver=$(pkg_version "$kpkg")
	[[ -n $kver ]] || fail 2 "no version of $kpkg to download: run apt-get update"
	# The hypervisor should be the build the host's xl was made for.
	xwant=$(dpkg-query -W -f='${Version}' xen-utils-4.17 2>/dev/null)
	xver=$(pkg_version "$XEN_PKG" "$xwant")
	[[ -n $xver ]] || fail 2 "no version of $XEN_PKG to download: run apt-get update"
	[[ $xver == "$xwant" ]] ||
		log "warning: xen-utils-4.17 is $xwant but $XEN_PKG $xver is what can be fetched"

	# v2: with xen-blkfront.ko (the layout of the unpacked files).
	root=$CACHE/root-v2-$kpkg-$kver-xen-$xver
	KROOT=${root//[:+~]/_}
	if [[ -f $KROOT/.complete ]]; then
		log "using cached $kpkg $kver and $XEN_PKG $xver"
		return
	fi
	kdeb=$(fetch "$kpkg" "$kver") || fail 2 "cannot download $kpkg=$kver"
	xdeb=$(fetch "$XEN_PKG" "$xver") || fail 2 "cannot download $XEN_PKG=$xver"
	rm -rf "$KROOT"
	mkdir -p "$KROOT" || fail 2 "cannot create $KROOT"
	# Only what the harness boots: the kernel, the hypervisor, Xen's
	# modules and blkfront, not the 400 MB of every other module.
	# A package that does not unpack is dropped, so the next run fetches
	# it again instead of failing on the same broken file.
	if ! dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$KROOT" --wildcards \
		'./boot/vmlinuz-*' './lib/modules/*/kernel/drivers/xen/*' \
		'./lib/modules/*/kernel/drivers/block/xen-blkfront.ko'; then
		rm -rf "$KROOT" "$kdeb"
		fail 2 "cannot unpack $kdeb (removed; run again to fetch it anew)"
	fi
	if ! dpkg-deb -x "$xdeb" "$KROOT"; then
		rm -rf "$KROOT" "$xdeb"
		fail 2 "cannot unpack $xdeb (removed; run again to fetch it anew)"
	fi
	touch "$KROOT/.complete"
	log "unpacked $kpkg $kver and $XEN_PKG $xver into $KROOT"
}

# ---- 3. the test programs and the initramfs ----
build_images() {
	local probe
	if ((${#TESTS[@]} == 0)); then
		probe=$WORK/probe
		log "no tests given: building the harness's own probe"
		"${CC:-gcc}" -std=gnu11 -O2 -Wall -Wextra -o "$probe" \
			"$HERE/probe.c" "$HERE/guest-client.c" -lxenforeignmemory \
			-lxengnttab -lxenctrl -lxenstore >>"$LOG" 2>&1 ||
			fail 2 "cannot build the probe (see $LOG)"
		TESTS=("$probe")
	fi
	log "building the images for: ${TESTS[*]}"
	if ! "$HERE/build-initramfs.sh" -k "$KROOT" -o "$WORK/images" \
		"${TOOL_ARGS[@]}" "${TESTS[@]}" >"$WORK/build.log" 2>&1; then
		cat "$WORK/build.log" >>"$LOG"
		tail -n 5 "$WORK/build.log" | while IFS= read -r line; do
			log "  $line"
		done
		fail 2 "build-initramfs.sh failed"
	fi
	cat "$WORK/build.log" >>"$LOG"
}

# ---- 4. boot ----
# Copy QEMU's output to stdout, the log and the attempt's own log, each
# line stamped with seconds since QEMU started.  NULs and CRs from the
# serial console are dropped first.
stamp() {	# stamp T0 ATTEMPT_LOG
	local t0=$1 alog=$2 line out
	# stdbuf: tr must not hold back output in a 4 KiB buffer.
	stdbuf -o0 tr -d '\000\r' | while IFS= read -r line || [[ -n $line ]]; do
		printf -v out '[q%7s] %s' "$(since "$t0")" "$line"
		printf '%s\n' "$out"
		printf '%s\n' "$out" >>"$LOG"
		printf '%s\n' "$out" >>"$alog"
	done
}

# cpu_ticks PID: the CPU time (user + system, in clock ticks) a process
# has used, all its threads together; empty once it is gone.
cpu_ticks() {
	local f
	f=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	# Fields after the command name, which is in parentheses.
	f=${f##*) }
	set -- $f
	echo $((${12} + ${13}))
}

# mon CMD: one command to QEMU's monitor (its output goes to
# WORK/monitor.log).  Opened read-write, a FIFO never blocks, even when
# QEMU has gone.
mon() {
	local fd
	exec {fd}<>"$WORK/monitor.in" || return 0
	printf '%s\n' "$1" >&"$fd"
	exec {fd}>&-
}

# mon_log FROM PATTERN: log the lines matching PATTERN that QEMU's monitor
# answered after byte FROM of WORK/monitor.log (which all boots share).
mon_log() {
	tail -c +"$(($1 + 1))" "$WORK/monitor.log" 2>/dev/null |
		grep -aE "$2" | while IFS= read -r l; do log "  monitor: $l"; done
}

# The size of WORK/monitor.log, for mon_log.
mon_size() {
	stat -c %s "$WORK/monitor.log" 2>/dev/null || echo 0
}

# wake QPID: the emulated machine froze; log what QEMU's monitor says of
# its CPU, pause and resume it (which kicks every vCPU thread and re-arms
# QEMU's timers), and tell whether it runs again: 0 if QEMU used CPU time
# within 60 s (after 5 s for the monitor's own work), else 1.
wake() {
	local qpid=$1 i t0 t from
	from=$(mon_size)
	mon "info registers"
	mon "info lapic"
	mon "stop"
	sleep 1
	mon "cont"
	sleep 5
	mon_log "$from" '^(RIP|EFL|RSP|CR0)=|^LVTT|^Timer|^ISR|^IRR'
	t0=$(cpu_ticks "$qpid")
	for ((i = 0; i < 60; i++)); do
		sleep 1
		t=$(cpu_ticks "$qpid")
		[[ -n $t && $t != "$t0" ]] && return 0
	done
	return 1
}

# boot ATTEMPT_LOG: one boot; sets DOM0_SEEN, FROZE, HUNG and QEMU_STATUS.
#
# A frozen machine: seen three times, twice with the host's 2 CPUs busy
# with other work and once with the machine to itself, the emulated
# machine stopped for good (while the test guest booted; during xl
# dump-core): no
# console output, QEMU's CPU thread asleep on a futex and QEMU using no CPU
# time at all, so no interrupt ever came again.  (A run that went silent
# in realxen-blk.sh, before this check existed, was most likely the
# same.)  A running Xen uses
# CPU time every second (its time calibration), an idle one too, so a QEMU
# that used none for FREEZE_SECS will never go on; without this check the
# run would sit out its hard limit (30 minutes) and fail with status 5.
# So a freeze is first met with a pause and resume through QEMU's monitor
# (wake); only a machine that stays frozen ends the boot (FROZE=1).
#
# A hung machine: seen once (a CI rehearsal of 2026-12-02, in
# test-realxen's fourth check, with the machine to itself), the console
# went silent for good 10 s after the guest was ready, while QEMU kept
# using CPU time: not a freeze.  Even test-realxen's own time limit
# (XQ_TEST_TIMEOUT), which dom0's /init enforces, never reported, so dom0
# itself had stopped; the run sat out its hard limit.  Once dom0 runs, it
# writes a line every 60 s (init-dom0.sh), so no console output for
# SILENT_SECS means the machine hangs: what the monitor says of the CPU
# is logged and the boot ends (HUNG=1), to be run once more.
boot() {
	local alog=$1 fifo=$WORK/serial.fifo t0 xen_args dom0_args line qemu
	local qpid= ticks last_ticks= still=0 size last_size= quiet=0 from
	local img=$WORK/images
	: >"$alog"
	rm -f "$fifo" "$WORK/monitor.in" "$WORK/monitor.out"
	mkfifo "$fifo" "$WORK/monitor.in" "$WORK/monitor.out" ||
		fail 2 "mkfifo $fifo"
	# QEMU's monitor on two FIFOs (chardev pipe: PATH.in, PATH.out), for
	# wake(); what it answers is kept in monitor.log.
	cat "$WORK/monitor.out" >>"$WORK/monitor.log" &
	MON_PID=$!
	xen_args="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all"
	# dom0's files (the initramfs, and what the tests write in /tmp) live
	# in its RAM: realxen-cli.sh keeps a guestmem dump and an xl
	# dump-core of the 256 MiB guest at once.
	xen_args+=" dom0_mem=${XQ_DOM0_MEM:-1280}M,max:${XQ_DOM0_MEM:-1280}M"
	xen_args+=" dom0_max_vcpus=2 console_timestamps=boot"
	dom0_args="console=hvc0 earlyprintk=xen rdinit=/init quiet"
	dom0_args+=" gm_guest_timeout=${XQ_GUEST_TIMEOUT:-240}"
	dom0_args+=" gm_test_timeout=${XQ_TEST_TIMEOUT:-1200}"
	DOM0_SEEN=0
	FROZE=0
	HUNG=0
	t0=$EPOCHREALTIME
	stamp "$t0" "$alog" <"$fifo" &
	STAMP_PID=$!
	# -cpu: PVH needs hardware-assisted paging (svm + npt); Debian's Xen
	# has no shadow paging.  -smp 1: with two emulated CPUs the PVH guest
	# crashed in 5 runs of 12 (a triple fault with Xen's own
	# RIP in the guest state, or a kernel stack-guard BUG in exception
	# entry), once while it booted, before any test touched it: QEMU's
	# emulation of SVM across CPUs.  With one CPU (dom0's two vCPUs and
	# the guest's share it) none of 16 runs crashed; see README.md.  -initrd: multiboot modules, "file args,file";
	# a comma inside the arguments must be doubled.
	qemu=(qemu-system-x86_64 -accel "${XQ_ACCEL:-tcg}" -cpu "qemu64,+svm,+npt"
		-m "${XQ_QEMU_MEM:-2048}" -smp "${XQ_SMP:-1}"
		-nographic -monitor none -serial stdio -no-reboot
		-chardev "pipe,id=gmmon,path=$WORK/monitor"
		-mon chardev=gmmon,mode=readline
		-kernel "$img/xen" -append "$xen_args"
		-initrd "$img/vmlinuz ${dom0_args//,/,,},$img/dom0.cpio.gz")
	# For a run by hand (add gm_shell to the dom0 arguments for a shell).
	printf -v line '%q ' "${qemu[@]}"
	printf '[%8s] xen-qemu: QEMU command: %s\n' "$(since "$RUN_T0")" \
		"$line" >>"$LOG"
	timeout -k 15 "$BOOT_TIMEOUT" "${qemu[@]}" </dev/null >"$fifo" 2>&1 &
	QEMU_PID=$!
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		if ((!DOM0_SEEN)); then
			if grep -aq 'GUESTMEM-XEN-DOM0-UP' "$alog"; then
				DOM0_SEEN=1
			elif (($(since "$t0" | cut -d. -f1) >= DOM0_DEADLINE)); then
				log "dom0 did not start within ${DOM0_DEADLINE}s: stopping QEMU"
				stop_qemu
				break
			fi
		fi
		# QEMU is timeout(1)'s only child.
		[[ -n $qpid ]] || qpid=$(pgrep -P "$QEMU_PID" | head -n 1)
		ticks=$([[ -n $qpid ]] && cpu_ticks "$qpid")
		if [[ -n $ticks && $ticks == "$last_ticks" ]]; then
			still=$((still + 1))
		else
			still=0
			last_ticks=$ticks
		fi
		size=$(stat -c %s "$alog" 2>/dev/null)
		if [[ $size != "$last_size" ]]; then
			quiet=0
			last_size=$size
		else
			quiet=$((quiet + 1))
		fi
		if ((DOM0_SEEN && quiet >= SILENT_SECS && still == 0)); then
			log "the emulated machine hangs: no console output" \
				"for ${SILENT_SECS}s (dom0 writes a line every" \
				"60 s) while QEMU uses CPU time; last console" \
				"line: $(tail -n 1 "$alog")"
			from=$(mon_size)
			mon "info registers"
			sleep 2
			mon_log "$from" '^(RIP|CR0)='
			HUNG=1
			stop_qemu
			break
		fi
		if ((still >= FREEZE_SECS)); then
			log "the emulated machine froze: QEMU used no CPU time" \
				"for ${FREEZE_SECS}s; last console line:" \
				"$(tail -n 1 "$alog")"
			# Where QEMU's threads sleep, for whoever looks
			# into the cause.
			for t in /proc/"$qpid"/task/*; do
				log "  QEMU thread $(cat "$t/comm" 2>/dev/null):" \
					"waiting in $(cat "$t/wchan" 2>/dev/null)"
			done
			if wake "$qpid"; then
				WAKES=$((WAKES + 1))
				log "the emulated machine runs again after a" \
					"pause and resume (monitor stop, cont)"
				still=0
				last_ticks=
				continue
			fi
			log "still frozen after a pause and resume"
			FROZE=1
			stop_qemu
			break
		fi
		sleep 1
	done
	if [[ -n $QEMU_PID ]]; then
		wait "$QEMU_PID"
		QEMU_STATUS=$?
		QEMU_PID=
	else
		QEMU_STATUS=143
	fi
	wait "$STAMP_PID"
	STAMP_PID=
	kill "$MON_PID" 2>/dev/null
	wait "$MON_PID" 2>/dev/null
	MON_PID=
	rm -f "$fifo" "$WORK/monitor.in" "$WORK/monitor.out"
	grep -aq 'GUESTMEM-XEN-DOM0-UP' "$alog" && DOM0_SEEN=1
	log "QEMU ended with status $QEMU_STATUS after $(since "$t0")s"
}

# The [qSECONDS] stamp of the first line holding a marker, or "-".
stamp_of() {	# stamp_of MARKER ATTEMPT_LOG
	local s
	s=$(grep -a -m 1 -- "$1" "$2" | sed -n 's/^\[q *\([0-9.]*\)\].*/\1/p')
	echo "${s:--}"
}

summarize() {	# summarize ATTEMPT_LOG
	local alog=$1 line passed=0 failed=0
	log "timings: QEMU start -> dom0 /init $(stamp_of GUESTMEM-XEN-DOM0-UP "$alog")s," \
		"-> guest ready $(stamp_of GUESTMEM-XEN-GUEST-READY "$alog")s," \
		"-> result $(stamp_of 'GUESTMEM-XEN-RESULT:' "$alog")s"
	# The result lines the tests printed (TAP or PASS/FAIL), per test.
	while IFS= read -r line; do
		line=${line#*] }
		case $line in
		GUESTMEM-XEN-TEST-BEGIN:*) log "test ${line#*: }:" ;;
		GUESTMEM-XEN-TEST-END:*)
			if [[ $line == *" PASS "* ]]; then
				passed=$((passed + 1))
			else
				failed=$((failed + 1))
			fi
			log "  => ${line#*: }"
			;;
		*) log "  ${line}" ;;
		esac
	done < <(awk '
		/GUESTMEM-XEN-TEST-BEGIN:/ { inside = 1; print; next }
		/GUESTMEM-XEN-TEST-END:/ { inside = 0; print; next }
		inside && /\] ((not )?ok [0-9]|(PASS|FAIL|SKIP)[: ]|# fact:|Bail out!|\[ *(OK|FAILED|PASSED|SKIPPED|ERROR) *\])/' "$alog")
	if ((passed + failed)); then
		log "$passed passed, $failed failed"
	fi
}

# The whole flow is one function, read completely before it runs, so that
# editing this file during a run cannot derail it.
main() {
	check_tools
	prepare_kroot
	build_images

	ATTEMPT=1
	while :; do
		ALOG=$WORK/attempt-$ATTEMPT.log
		log "boot attempt $ATTEMPT (hard limit ${BOOT_TIMEOUT}s, dom0 must start within ${DOM0_DEADLINE}s)"
		boot "$ALOG"
		if ((ATTEMPT == 2)); then
			break
		fi
		# Retry once when no test could run: dom0 never started, or
		# the test guest died or hung before it was ready (seen: a
		# PVH guest triple-faulting early in boot under QEMU's
		# software-emulated nested paging).  dom0 reports the guest
		# before starting any test, so a failing test is never
		# retried.
		if ((FROZE)); then
			log "the emulated machine froze: retrying the boot" \
				"once (every test runs again)"
		elif ((HUNG)); then
			log "the emulated machine hung: retrying the boot" \
				"once (every test runs again)"
		elif ((!DOM0_SEEN)); then
			log "dom0 never started; retrying the boot once"
		elif grep -aq 'GUESTMEM-XEN-GUEST-NOT-READY' "$ALOG"; then
			log "the test guest never became ready (no test ran);" \
				"retrying the boot once"
		else
			break
		fi
		grep -a -E "$TROUBLE" "$ALOG" | tail -n 5 |
			while IFS= read -r l; do log "  $l"; done
		ATTEMPT=2
	done

	if ((FROZE)); then
		summarize "$ALOG"
		fail 8 "the emulated machine froze in the second boot"
	fi
	if ((HUNG)); then
		summarize "$ALOG"
		fail 8 "the emulated machine hung in the second boot"
	fi
	if ((!DOM0_SEEN)); then
		fail 3 "dom0 never started in $ATTEMPT boots"
	fi
	summarize "$ALOG"
	RESULT=$(grep -a -m 1 -o 'GUESTMEM-XEN-RESULT: [0-9]*' "$ALOG" | awk '{ print $2 }')
	if [[ -z $RESULT ]]; then
		if grep -aq 'GUESTMEM-XEN-GUEST-NOT-READY' "$ALOG"; then
			fail 4 "$(grep -a -m 1 -o 'GUESTMEM-XEN-GUEST-NOT-READY.*' "$ALOG")"
		fi
		grep -a -E "$TROUBLE" "$ALOG" | tail -n 10 |
			while IFS= read -r l; do log "  $l"; done
		if ((QEMU_STATUS == 124 || QEMU_STATUS == 137)); then
			fail 5 "no result within the hard limit of ${BOOT_TIMEOUT}s"
		fi
		fail 6 "QEMU ended (status $QEMU_STATUS) without a result marker"
	fi
	case $RESULT in
	0)
		log "PASS (boot attempts: $ATTEMPT, frozen machines woken:" \
			"$WAKES, total $(since "$RUN_T0")s)"
		log "log: $LOG"
		exit 0
		;;
	1) fail 1 "a test failed" ;;
	2) fail 7 "dom0 setup failed: $(grep -a -m 1 -o 'GUESTMEM-XEN-SETUP-FAILED.*' "$ALOG")" ;;
	3) fail 4 "$(grep -a -m 1 -o 'GUESTMEM-XEN-GUEST-NOT-READY.*' "$ALOG")" ;;
	*) fail 6 "unexpected result $RESULT" ;;
	esac
}

main
