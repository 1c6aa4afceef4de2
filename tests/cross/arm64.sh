#!/bin/bash
# Cross-build libguestmem for arm64 (aarch64) with Debian's cross toolchain
# and run "make check" with every test program under qemu-user.
#
#   tests/cross/arm64.sh [BUILDDIR [CONFIGURE-ARG...]]
#
# BUILDDIR defaults to ${TMPDIR:-/tmp}/libguestmem-arm64.  The configure
# arguments go last, after the cross settings: CFLAGS="-O2 -g
# -march=armv8.1-a" builds the LSE forms of the fault-safe atomics
# (fault.h) instead of the load-/store-exclusive loops.
#
# From a fresh Debian 12 machine: installs what is missing (as root), makes
# a target root in BUILDDIR/sysroot from the arm64 packages of libc,
# cmocka and Xen (libxen-dev:arm64 cannot be installed beside the host's
# libxen-dev, so nothing arm64 is installed on the host: the packages are
# downloaded and unpacked), configures out of tree in BUILDDIR/obj with
# --host=aarch64-linux-gnu, builds the library, the CLI, the examples and
# the tests, and runs "make check" through tests/cross/qemu-run.sh, which
# runs each test program under qemu-aarch64 -L BUILDDIR/sysroot (no
# binfmt_misc needed).  BUILDDIR must be outside the checkout.
#
# The last line is the summary: "arm64: N passed, N failed, N skipped".
# Exit status: make check's.  The sanitizer builds are not run for arm64:
# TSan and ASan do not run under qemu-user (their shadow-memory layouts
# assume the real kernel's address space).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${TMPDIR:-/tmp}/libguestmem-arm64}
shift || true
mkdir -p "$build"
build=$(cd "$build" && pwd)
case "$build/" in
"$src"/*)
	echo "arm64.sh: $build is inside the checkout $src; use a directory outside it" >&2
	exit 2
	;;
esac
host=aarch64-linux-gnu
sysroot=$build/sysroot
obj=$build/obj
log() { echo "arm64.sh: $*"; }

# ---- host packages ----
host_pkgs=(gcc-$host g++-$host qemu-user-static binutils-$host
	autoconf automake libtool pkg-config make)
missing=()
for p in "${host_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
# arm64 must be a foreign architecture for apt to download its packages.
need_update=
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	log "adding the arm64 architecture to dpkg"
	dpkg --add-architecture arm64
	need_update=1
fi
if [ -z "$need_update" ] &&
	! apt-cache policy libxen-dev:arm64 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	need_update=1
fi
if [ -n "$need_update" ] || [ ${#missing[@]} -gt 0 ]; then
	apt-get update -q >/dev/null
fi
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# ---- the target root: unpacked arm64 packages ----
# libxen-dev's own dependencies are the Xen libraries its .so links point
# to; libc6 and libgcc-s1 for the programs to run; cmocka for the tests.
target_pkgs=(libc6 libgcc-s1 libcmocka0 libcmocka-dev libxen-dev)
target_pkgs+=($(apt-cache depends --no-recommends --no-suggests libxen-dev:arm64 |
	sed -n 's/^ *Depends: \(libxen[^ :]*\).*/\1/p' | sort -u))
stamp="$sysroot/.packages"
want="${target_pkgs[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	log "unpacking ${#target_pkgs[@]} arm64 packages into $sysroot"
	rm -rf "$sysroot" "$build/debs"
	mkdir -p "$sysroot" "$build/debs"
	# _apt must be able to write the download directory.
	chmod 777 "$build/debs"
	(cd "$build/debs" && apt-get download -q "${target_pkgs[@]/%/:arm64}" >/dev/null)
	for d in "$build"/debs/*.deb; do
		dpkg-deb -x "$d" "$sysroot"
	done
	echo "$want" >"$stamp"
fi
libdir=$sysroot/usr/lib/$host

# ---- configure, build ----
if [ ! -x "$src/configure" ]; then
	log "autoreconf in $src"
	(cd "$src" && autoreconf -fi >/dev/null 2>&1)
fi
mkdir -p "$obj"
cd "$obj"
# pkg-config reads only the target's .pc files and prefixes their paths
# with the target root.  -isystem: the target's Xen and cmocka headers
# come before the host's /usr/include (which the cross compiler searches
# last, and where the host's libxen-dev and libcmocka-dev put theirs) in
# every compile, with pkg-config's flags or without; the target root has
# no libc headers to hide the cross libc's.  -rpath-link: the Xen
# libraries' own dependencies, for the linker to resolve; in CC too, for
# the tests that link with $CC alone (tests/check-man.sh).
log "configuring in $obj"
"$src/configure" -q --host=$host --with-xen=yes \
	PKG_CONFIG=pkg-config \
	PKG_CONFIG_LIBDIR="$libdir/pkgconfig" \
	PKG_CONFIG_SYSROOT_DIR="$sysroot" \
	CC="$host-gcc -Wl,-rpath-link,$libdir" \
	CPPFLAGS="-isystem $sysroot/usr/include" \
	LDFLAGS="-L$libdir -Wl,-rpath-link,$libdir" "$@"
log "building"
make -j2 >build.log 2>&1 || { tail -40 build.log; exit 1; }
make -j2 check TESTS= >>build.log 2>&1 || { tail -40 build.log; exit 1; }

# ---- make check under qemu-user ----
log "make check under qemu-user ($(${GM_QEMU:-qemu-aarch64-static} --version | head -1))"
export GM_QEMU_SYSROOT="$sysroot" GM_CROSS_LIBTOOL="$obj/libtool"
rc=0
make -j2 check LOG_COMPILER="$src/tests/cross/qemu-run.sh" >check.log 2>&1 || rc=$?
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.log || true
# Each test that did not pass, with what it said about it: a skipped
# program's reason, or the checks it skipped under emulation.
for f in $(grep -lE '^:test-result: (SKIP|FAIL|ERROR)' tests/*.trs tests/*/*.trs 2>/dev/null); do
	t=${f%.trs}
	res=$(sed -n 's/^:test-result: //p' "$f" | sort -u | tr '\n' ' ')
	# The checks skipped under emulation, by name.
	cases=$(grep -A1 'skipped under user-mode emulation' "$t.log" |
		sed -n 's/^\[  SKIPPED \] //p' | tr '\n' ' ') || true
	log "$t: ${res% }${cases:+ (skipped: ${cases% })}"
	{ grep -E '^\[ RUN|skipped|SKIP|FAIL|ERROR' "$t.log" |
		grep -B1 -E 'skipped|SKIP|FAIL|ERROR' | grep -v '^--$' |
		sed 's/^/    /' | head -40; } || true
done
if [ "$rc" -ne 0 ]; then
	log "make check failed; the test logs are in $obj/tests"
fi
# The README's API example, as a user would run it.
if "$src/tests/cross/qemu-run.sh" examples/example-space >example.log 2>&1; then
	log "examples/example-space ran under qemu-user"
else
	log "examples/example-space FAILED under qemu-user:"
	tail -20 example.log
	rc=1
fi
n() { grep -m1 "^# $1:" check.log | awk '{print $3}'; }
pass=$(n PASS) fail=$(n FAIL) skip=$(n SKIP) err=$(n ERROR)
echo "arm64: ${pass:-0} passed, $(( ${fail:-0} + ${err:-0} )) failed, ${skip:-0} skipped"
exit $rc
