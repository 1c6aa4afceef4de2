#!/bin/sh
# Run one test of an arm64 cross build under qemu-user, without binfmt_misc
# (containers rarely have it): "make check LOG_COMPILER=.../qemu-run.sh"
# hands every test here, and tests/cross/arm64.sh sets the environment:
#
#   GM_QEMU          the emulator (default: qemu-aarch64-static)
#   GM_QEMU_SYSROOT  the target's root (libc, cmocka, Xen): qemu's -L
#   GM_CROSS_LIBTOOL the build's libtool script
#
# An ELF program runs under the emulator.  A libtool wrapper script (a
# program linked with the uninstalled libguestmem.so) runs as the real
# program under the emulator, with the library path libtool would set.
# Any other script (tests/test-cli.sh, ...) runs natively, with
# GM_TEST_EXEC naming this script so that it can run the built programs
# it tests through it (tests/cli-lib.sh).  GM_TEST_EMULATOR does the same
# for the test programs that execute themselves again (tests/test-util.h):
# the host kernel cannot execute an arm64 program, so they execute this
# script with their own path and arguments.
set -eu
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
qemu=${GM_QEMU:-qemu-aarch64-static}
: "${GM_QEMU_SYSROOT:?set GM_QEMU_SYSROOT (tests/cross/arm64.sh does)}"
export GM_TEST_EXEC="$self" GM_TEST_EMULATOR="$self"
# qemu writes a core file of its own for a program that dies of a signal:
# the signal tests kill programs on purpose.
ulimit -c 0

prog=$1
shift
if [ "$(head -c 4 "$prog" | od -An -c | tr -d ' ')" = '177ELF' ]; then
	exec "$qemu" -L "$GM_QEMU_SYSROOT" "$prog" "$@"
fi
if grep -q 'libtool wrapper' "$prog" 2>/dev/null; then
	# libtool finds the real program and sets LD_LIBRARY_PATH to the
	# build's .libs; the emulator passes it on to the target's ld.so.
	exec "${GM_CROSS_LIBTOOL:-./libtool}" --mode=execute \
		"$qemu" -L "$GM_QEMU_SYSROOT" "$prog" "$@"
fi
exec "$prog" "$@"
