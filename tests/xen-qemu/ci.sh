#!/bin/bash
# CI step: libguestmem's dom0 tests inside real Xen 4.17 under QEMU.
#
# Usage: tests/xen-qemu/ci.sh [BUILD_DIR]
#   BUILD_DIR  a configured build tree with the Xen backend (default:
#              $BUILD_DIR, else _build/ next to this source tree), in
#              which "make check" has already run
#
# Run after "make check".  It installs nothing: the CI machine needs
# qemu-system-x86 xen-utils-4.17 libxen-dev busybox-static cpio (see
# README.md) and apt lists that know the kernel and hypervisor packages,
# which run.sh fetches with "apt-get download" into its cache.
#
# It builds the programs listed in XEN_QEMU_TESTS and XEN_QEMU_TOOLS
# (Makefile.am: tests dom0 runs, and programs they use), boots the
# harness once (run.sh itself retries, once, a boot that never reaches
# dom0 or whose emulated machine froze or hung; a failing test is never
# retried), prints each test's result lines and the
# timings, and exits with run.sh's status: 0 all passed, 1 a test failed,
# 2 the host lacks something or a build failed, 3 dom0 never started,
# 4 the guest never became ready, 5 a boot's hard limit struck, 6 QEMU
# died, 7 dom0's toolstack failed, 8 the emulated machine froze or hung in
# the second boot; 124
# if the whole step outran XQ_CI_LIMIT seconds (default 3000: a whole run
# takes 12-15 minutes on an idle CI machine, so a first boot that froze
# near its end and a second whole run fit, see README.md "Timings measured"
# and "When the emulated machine freezes").  The full console log is kept in
# BUILD_DIR/tests/xen-qemu/ci-work/run.log.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${1:-${BUILD_DIR:-$TOP/_build}}
LIMIT=${XQ_CI_LIMIT:-3000}
T0=$SECONDS

say() { echo "xen-qemu ci: $*"; }

finish() {	# finish STATUS
	say "exit $1 after $((SECONDS - T0))s"
	exit "$1"
}

[[ -f $BUILD/Makefile ]] || {
	say "$BUILD is not a configured build tree"
	finish 2
}
BUILD=$(cd "$BUILD" && pwd)

# The lists of dom0 programs are Makefile.am's; ask make for them.
make_var() {	# make_var NAME
	printf 'xq-ci-print:\n\t@echo $(%s)\n' "$1" |
		make -s -C "$BUILD" -f Makefile -f - xq-ci-print 2>/dev/null
}
TESTS=$(make_var XEN_QEMU_TESTS)
TOOLS=$(make_var XEN_QEMU_TOOLS)
if [[ -z $TESTS ]]; then
	say "no XEN_QEMU_TESTS in $BUILD: configure found no Xen backend" \
		"(apt-get install libxen-dev, then configure again)"
	finish 2
fi

say "building: $TESTS $TOOLS"
# shellcheck disable=SC2086 # a list of make targets
if ! make -s -C "$BUILD" $TESTS $TOOLS >"$BUILD/xen-qemu-ci-build.log" 2>&1; then
	tail -n 30 "$BUILD/xen-qemu-ci-build.log"
	say "building the dom0 tests failed"
	finish 2
fi
PROGS=()
for t in $TOOLS; do
	PROGS+=(-x "$BUILD/$t")
done
for t in $TESTS; do
	PROGS+=("$BUILD/$t")
done

WORK=$BUILD/tests/xen-qemu/ci-work
mkdir -p "$WORK" || finish 2
LEFT=$((LIMIT - (SECONDS - T0)))
((LEFT > 60)) || { say "no time left to boot"; finish 124; }
say "running run.sh (whole step limited to ${LIMIT}s, ${LEFT}s left)"
# run.sh prints the whole serial console; keep that in the log and show
# its own summary lines, which hold every test's result lines.  timeout
# sends TERM, on which run.sh stops QEMU before it exits.
timeout -k 30 "$LEFT" "$HERE/run.sh" -w "$WORK" -l "$WORK/run.log" \
	"${PROGS[@]}" >"$WORK/stdout.log" 2>&1
rc=$?
grep -a '^\[ *[0-9.]*\] xen-qemu:' "$WORK/stdout.log" |
	grep -av 'QEMU command:' || true
if ((rc == 124 || rc == 137)); then
	say "timed out after ${LIMIT}s; last console lines:"
	tail -n 40 "$WORK/stdout.log"
	finish 124
fi
if ((rc != 0)); then
	say "failed; problems on the console, then its last lines:"
	grep -a -E '[Pp]anic|BUG:|Oops|FATAL|Call Trace|not ok|FAIL|Bail out' \
		"$WORK/stdout.log" | grep -av 'QEMU command:' | tail -n 40
	echo "..."
	tail -n 25 "$WORK/stdout.log"
	say "full log: $WORK/run.log"
fi
finish "$rc"
