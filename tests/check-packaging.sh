#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# CI step (not part of make check): build the Debian packages from the
# release's file list, lint them, and build and run an out-of-tree consumer
# of the library through pkg-config, once against the packages unpacked
# into a scratch root and once against "make install DESTDIR=..." of a
# normal build.
#
#   tests/check-packaging.sh [BUILD_DIR]
#
# BUILD_DIR: a configured and built tree of this checkout (build.sh passes
# its own).  Without it, the tracked files of the checkout (as they are in
# the working tree) are copied to a temporary directory and built there.
# Everything the script builds or installs goes to a temporary directory
# (TMPDIR), removed at exit unless GM_KEEP_PKGDIR=1; the checkout itself is
# never written, and nothing is installed into the machine's /usr.
# DEB_BUILD_OPTIONS is passed on: "nocheck" skips the package build's make
# check.  Prints one summary line; on failure, what failed and its log.
set -euo pipefail
start=$SECONDS
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-packaging.XXXXXX")
if [ "${GM_KEEP_PKGDIR:-0}" = 1 ]; then
	echo "check-packaging: keeping $tmp"
else
	trap 'rm -rf "$tmp"' EXIT
fi

fail() {
	echo "check-packaging: FAIL: $*" >&2
	exit 1
}

# Run "$@" with its output in log file $1; on failure show the log's end.
logged() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 80 "$log" >&2
		fail "$* (the log's end above; GM_KEEP_PKGDIR=1 keeps all of it)"
	fi
}

for t in dpkg-buildpackage dh lintian pkg-config cc readelf; do
	command -v "$t" >/dev/null ||
		fail "$t not found (Debian: apt-get install dpkg-dev debhelper lintian pkg-config gcc binutils)"
done
jobs=$(nproc)
# The consumers find libguestmem.pc where this script says, nowhere else.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# ---- a normal build: BUILD_DIR, or one of a copy of the checkout ----
if [ -z "$build" ]; then
	git -C "$top" rev-parse --git-dir >/dev/null 2>&1 ||
		fail "$top is not a git checkout: give a configured BUILD_DIR"
	mkdir "$tmp/src" "$tmp/build"
	# The tracked files as they are in the working tree: what a commit
	# of it would hold (a new file must be git-added first).
	git -C "$top" ls-files -z |
		(cd "$top" && tar --null -T - -cf -) | tar -C "$tmp/src" -xf -
	logged "$tmp/build.log" sh -c "cd '$tmp/src' && autoreconf -fi &&
		cd '$tmp/build' && '$tmp/src/configure' -q &&
		make -j$jobs"
	build=$tmp/build
fi
build=$(cd "$build" && pwd)
[ -f "$build/Makefile" ] || fail "$build is not a configured build directory"
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$build/config.h")
[ -n "$version" ] || fail "no PACKAGE_VERSION in $build/config.h"

# ---- 1. the packages, built from the files "make dist" would ship ----
# distdir, not the tarball: the same file list, without writing the
# tarball into BUILD_DIR.
src=$tmp/deb/libguestmem-$version
mkdir "$tmp/deb"
logged "$tmp/distdir.log" make -C "$build" distdir distdir="$src" \
	top_distdir="$src"
[ -f "$src/debian/control" ] ||
	fail "the distribution has no debian/ (EXTRA_DIST in Makefile.am)"
# The maintainer's DEB_BUILD_OPTIONS win; parallel=N unless they set one.
dbo=${DEB_BUILD_OPTIONS:-}
case " $dbo " in *" parallel="*) ;; *) dbo="$dbo parallel=$jobs" ;; esac
case " $dbo " in *" nocheck "*) tests="make check skipped (nocheck)" ;;
	*) tests="make check passed in the package build" ;; esac
logged "$tmp/dpkg-buildpackage.log" env -C "$src" \
	DEB_BUILD_OPTIONS="${dbo# }" dpkg-buildpackage -us -uc -b
changes=$(ls "$tmp"/deb/libguestmem_*.changes)
debs=$(ls "$tmp"/deb/*.deb | grep -v -- '-dbgsym_' | xargs -n1 basename)
ndebs=$(echo "$debs" | wc -l)
for p in libguestmem0 libguestmem-dev guestmem; do
	echo "$debs" | grep -q "^${p}_${version}_" || fail "no $p .deb was built"
done

# ---- 2. lintian: errors fail; every tag is shown ----
lintian_rc=0
lintian --display-info --pedantic --fail-on error "$changes" >"$tmp/lintian.log" \
	2>&1 || lintian_rc=$?
# (Lintian warns on stderr that it runs as root in CI containers.)
grep -v '^running with root privileges' "$tmp/lintian.log" >&2 || true
[ $lintian_rc -eq 0 ] || fail "lintian found errors (exit $lintian_rc)"
lint_e=$(grep -c '^E: ' "$tmp/lintian.log" || true)
lint_w=$(grep -c '^W: ' "$tmp/lintian.log" || true)
lint_o=$(grep -Ec '^[IPX]: ' "$tmp/lintian.log" || true)

# ---- 3. the packages, unpacked into a scratch root ----
root=$tmp/root
mkdir "$root"
for d in $debs; do
	dpkg-deb -x "$tmp/deb/$d" "$root"
done
man_pkg=$(cd "$root/usr/share/man" && ls -d man*/* 2>/dev/null | wc -l)

# The example the tree built (a libtool wrapper around it): what every
# consumer must print.
"$build/examples/example-space" >"$tmp/expected.out" ||
	fail "$build/examples/example-space failed"

# A second consumer that needs the Xen backend: linked statically it pulls
# the backend's objects out of libguestmem.a, which need the Xen libraries
# that only libguestmem.pc's Requires.private names.  Run, it tells a
# library built with Xen from one built without (whose every Xen function
# returns -EOPNOTSUPP): here, with no Xen, gm_xen_open() fails otherwise;
# in a dom0 it succeeds.
cat >"$tmp/xen-consumer.c" <<'EOF_C'
#include <errno.h>
#include <stdio.h>

#include <guestmem.h>
#include <guestmem/xen.h>

int main(void)
{
	struct gm_xen *x;
	int ret = gm_xen_open(&x, NULL);

	if (!ret) {
		gm_xen_close(x);
		puts("xen: opened");
		return 0;
	}
	printf("xen: %d: %s\n", ret, gm_last_error());
	return ret == -EOPNOTSUPP ? 1 : 0;
}
EOF_C

# consumer NAME ROOT: build examples/example-space.c against the
# libguestmem.pc under ROOT (a scratch root or a DESTDIR), dynamically and
# fully statically, run both, and check that each used ROOT's header and
# library and printed what the tree's example prints; then run ROOT's
# guestmem tool.  The host supplies the rest (libc, libxen-dev), as it
# would for installed packages.
consumer() {
	local name=$1 root=$2 pc pcdir libdir bin out=$tmp/consumer-$1 lib
	mkdir "$out"
	pc=$(find "$root" -name libguestmem.pc)
	[ "$(echo "$pc" | wc -l)" = 1 ] && [ -n "$pc" ] ||
		fail "$name: want one libguestmem.pc under $root, found: $pc"
	pcdir=$(dirname "$pc")
	libdir=$(dirname "$pcdir")
	# ROOT's libguestmem.pc first, then the host's own .pc directories
	# for what it requires (Xen).  Its files are relocated into ROOT by
	# redefining its prefix, not with PKG_CONFIG_SYSROOT_DIR: a sysroot
	# moves every package's paths into ROOT, so the host's Xen .pc files'
	# "-I/usr/include" became -I ROOT/usr/include and hid a broken Cflags
	# in libguestmem.pc.  (No Xen .pc file uses ${prefix}.)
	export PKG_CONFIG_LIBDIR="$pcdir:$(pkg-config --variable=pc_path pkg-config)"
	[ "$(pkg-config --path libguestmem)" = "$pc" ] ||
		fail "$name: pkg-config finds $(pkg-config --path libguestmem), not $pc"
	[ "$(pkg-config --modversion libguestmem)" = "$version" ] ||
		fail "$name: libguestmem.pc says version $(pkg-config --modversion libguestmem), not $version"
	local pcprefix cflags libs slibs pkgconf
	pcprefix=$(pkg-config --variable=prefix libguestmem)
	pkgconf="pkg-config --define-variable=prefix=$root$pcprefix"
	cflags=$($pkgconf --cflags libguestmem) ||
		fail "$name: pkg-config --cflags libguestmem"
	libs=$($pkgconf --libs libguestmem) ||
		fail "$name: pkg-config --libs libguestmem"
	slibs=$($pkgconf --static --libs libguestmem) ||
		fail "$name: pkg-config --static --libs libguestmem"

	# Dynamic: ROOT's header, ROOT's libguestmem.so at link time (ld's
	# --trace), and ROOT's libguestmem.so.0 at run time (ld.so's
	# LD_DEBUG=libs: the libraries it loaded and initialised).
	# shellcheck disable=SC2086
	logged "$out/cc.log" cc -Wall -Werror -MD -MF "$out/deps" \
		-o "$out/example" "$top/examples/example-space.c" $cflags \
		$libs -Wl,--trace
	grep -q " $root/[^ ]*/guestmem.h" "$out/deps" ||
		fail "$name: the consumer did not include $root's guestmem.h: $(grep -o '[^ ]*guestmem\.h' "$out/deps" | head -1)"
	lib=$(grep 'libguestmem' "$out/cc.log" || true)
	[ "$lib" = "$libdir/libguestmem.so" ] ||
		fail "$name: linked '$lib', not $libdir/libguestmem.so"
	readelf -d "$out/example" | grep -q 'NEEDED.*\[libguestmem\.so\.0\]' ||
		fail "$name: the consumer does not need libguestmem.so.0"
	LD_LIBRARY_PATH=$libdir LD_DEBUG=libs "$out/example" \
		>"$out/example.out" 2>"$out/example.ld" ||
		{ cat "$out/example.out"; grep -v '^ *[0-9]*:' "$out/example.ld";
		  fail "$name: the consumer failed"; }
	grep -q "calling init: $libdir/libguestmem.so.0\$" "$out/example.ld" ||
		fail "$name: ld.so did not load $libdir/libguestmem.so.0: $(grep 'calling init:.*guestmem' "$out/example.ld")"
	cmp -s "$tmp/expected.out" "$out/example.out" ||
		{ diff -u "$tmp/expected.out" "$out/example.out" >&2;
		  fail "$name: the consumer's output differs from the tree's example"; }

	# Static: ROOT's libguestmem.a and everything --static adds
	# (Libs.private, Requires.private), no shared library at all.
	# shellcheck disable=SC2086
	logged "$out/cc-static.log" cc -Wall -Werror -static \
		-o "$out/example-static" "$top/examples/example-space.c" \
		$cflags $slibs -Wl,--trace
	lib=$(grep 'libguestmem' "$out/cc-static.log" || true)
	[ "$lib" = "$libdir/libguestmem.a" ] ||
		fail "$name: linked '$lib' statically, not $libdir/libguestmem.a"
	"$out/example-static" >"$out/example-static.out" ||
		fail "$name: the static consumer failed"
	cmp -s "$tmp/expected.out" "$out/example-static.out" ||
		{ diff -u "$tmp/expected.out" "$out/example-static.out" >&2;
		  fail "$name: the static consumer's output differs"; }

	# The Xen consumer, shared and static.
	# shellcheck disable=SC2086
	logged "$out/cc-xen.log" cc -Wall -Werror -o "$out/xen-consumer" \
		"$tmp/xen-consumer.c" $cflags $libs
	LD_LIBRARY_PATH=$libdir "$out/xen-consumer" >"$out/xen.out" ||
		fail "$name: the library has no Xen backend: $(cat "$out/xen.out")"
	# shellcheck disable=SC2086
	logged "$out/cc-xen-static.log" cc -Wall -Werror -static \
		-o "$out/xen-consumer-static" "$tmp/xen-consumer.c" $cflags \
		$slibs
	"$out/xen-consumer-static" >"$out/xen-static.out" ||
		fail "$name: the static library has no Xen backend: $(cat "$out/xen-static.out")"

	# The tool: a round trip through anonymous guest memory.
	bin=$(find "$root" -path '*/bin/guestmem')
	[ -n "$bin" ] || fail "$name: no bin/guestmem under $root"
	LD_LIBRARY_PATH=$libdir LD_DEBUG=libs "$bin" --anon 64K \
		write -t le32 0x1000 0xcafe ';' read -t le32 -x 0x1000 \
		>"$out/cli.out" 2>"$out/cli.ld" ||
		{ grep -v '^ *[0-9]*:' "$out/cli.ld"; fail "$name: $bin failed"; }
	grep -q "calling init: $libdir/libguestmem.so.0\$" "$out/cli.ld" ||
		fail "$name: $bin did not load $libdir/libguestmem.so.0"
	grep -qx '0x00001000: 0x0000cafe' "$out/cli.out" ||
		fail "$name: $bin read back '$(cat "$out/cli.out")', not 0x0000cafe"
	[ "$(LD_LIBRARY_PATH=$libdir "$bin" --version)" = \
		"guestmem (libguestmem) $version" ] ||
		fail "$name: $bin --version does not say $version"
	unset PKG_CONFIG_LIBDIR
}

consumer packages "$root"
[ -f "$root/usr/share/man/man1/guestmem.1.gz" ] ||
	fail "the guestmem package has no guestmem(1)"

# ---- 4. the same consumer against make install DESTDIR=... ----
logged "$tmp/install.log" make -C "$build" install DESTDIR="$tmp/destdir"
consumer destdir "$tmp/destdir"
man_dest=$(find "$tmp/destdir" -path '*/share/man/man*/*' | wc -l)
[ "$man_pkg" = "$man_dest" ] ||
	fail "make install installs $man_dest man pages, the packages $man_pkg"

echo "check-packaging: passed in $((SECONDS - start)) s: $ndebs .debs" \
	"($tests); lintian: $lint_e errors, $lint_w warnings, $lint_o" \
	"info/pedantic; man pages: $man_pkg; example-space and a Xen consumer" \
	"built with pkg-config (shared, static) and run, and guestmem run," \
	"against the packages and against make install DESTDIR"
