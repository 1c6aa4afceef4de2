#!/usr/bin/env bash
# One entry point for the README's quick start and for CI.
#   ./build.sh example   install what is missing, build, run the API example
#                        and the guestmem tool's demo on a memory image
#   ./build.sh test      install what is missing, build, run every test
# Builds out of tree in _build/ (override with BUILD_DIR=...).
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD
build=${BUILD_DIR:-$top/_build}
what=${1:-}

# What building and running the example needs; what the tests add.
deps_build=(autoconf automake libtool pkg-config make gcc g++ libcmocka-dev
	libxen-dev)
deps_test=(valgrind clang libclang-rt-14-dev qemu-system-x86 xen-utils-4.17
	busybox-static cpio mandoc dpkg-dev debhelper lintian
	gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu
	qemu-user-static)

usage() {
	echo "usage: $0 example|test" >&2
	exit 2
}

install_deps() {
	local missing=() p sudo=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "build.sh: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

configure_build() {
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
	mkdir -p "$build"
	cd "$build"
	[ -f Makefile ] || "$top/configure" -q
	make -j"$(nproc)" >/dev/null
}

# make check in a separate build with sanitizers: $1 names it, $2 the flags.
# Static only: the tests link the core statically, and libtool does not
# pass sanitizer runtimes to shared libraries reliably.
sanitized_check() {
	local name=$1 flags=$2 dir="$build-$1" rc=0
	mkdir -p "$dir"
	# Chained with &&: set -e does not apply inside a subshell whose
	# status is tested, so each step's failure must stop it explicitly.
	(
		cd "$dir" &&
		{ [ -f Makefile ] || "$top/configure" -q --disable-shared \
			CFLAGS="-O1 -g -fno-omit-frame-pointer $flags" \
			LDFLAGS="$flags"; } &&
		make -j"$(nproc)" >/dev/null &&
		# history_size: keep the earlier access's stack, which the
		# suppressions of intended races on guest memory match.
		TSAN_OPTIONS="suppressions=$top/tests/tsan.supp history_size=7 ${TSAN_OPTIONS:-}" \
			make -j"$(nproc)" check >/dev/null 2>&1
	) || rc=$?
	if [ $rc -ne 0 ]; then
		find "$dir/tests" -name '*.log' -exec grep -l -E '^(FAIL|ERROR)|\[  FAILED  \]|Sanitizer' {} + 2>/dev/null |
			while read -r f; do echo "==== $f"; tail -n 80 "$f"; done
		echo "build.sh: make check under $name FAILED"
		return $rc
	fi
	(cd "$dir" && summary | sed "s/^tests:/tests ($name):/")
}

# A second compiler: clang, with the project's own warnings (configure's
# GM_CFLAGS) made errors, builds the whole tree (library, tool, examples,
# tests, benchmarks, real-Xen programs) in its own build, then runs make
# check there (some 20 s), since what a compiler does differently may show
# only when the code runs.
clang_check() {
	local dir="$build-clang" rc=0
	mkdir -p "$dir"
	(
		cd "$dir"
		# -Werror at make time only: configure's own test programs
		# are not warning-free, and failing one would turn a feature
		# off silently.
		# "&&": set -e does not apply inside a subshell whose status
		# "||" tests.  "all" runs a sub-make, so extra-programs (which
		# shares its libraries) must not build beside it.
		{ [ -f Makefile ] || "$top/configure" -q CC=clang CXX=clang++; } &&
			make -j"$(nproc)" CFLAGS="-O2 -g -Werror" all >/dev/null &&
			make -j"$(nproc)" CFLAGS="-O2 -g -Werror" extra-programs \
				>/dev/null &&
			make -j"$(nproc)" CFLAGS="-O2 -g -Werror" check \
				>/dev/null 2>&1
	) || rc=$?
	if [ $rc -ne 0 ]; then
		find "$dir/tests" -name '*.log' -exec grep -l -E '^(FAIL|ERROR)|\[  FAILED  \]' {} + 2>/dev/null |
			while read -r f; do echo "==== $f"; tail -n 80 "$f"; done
		echo "build.sh: clang -Werror build or its make check FAILED"
		return $rc
	fi
	(cd "$dir" && summary | sed "s/^tests:/tests (clang):/")
}

# Print the totals of the automake test logs as "N passed, N failed".
summary() {
	local pass fail skip
	pass=$(cat $(find . -name '*.trs') /dev/null | grep -c '^:test-result: PASS' || true)
	fail=$(cat $(find . -name '*.trs') /dev/null | grep -Ec '^:test-result: (FAIL|ERROR|XPASS)' || true)
	skip=$(cat $(find . -name '*.trs') /dev/null | grep -c '^:test-result: SKIP' || true)
	echo "tests: $pass passed, $fail failed, $skip skipped"
}

case $what in
example)
	install_deps "${deps_build[@]}"
	configure_build
	echo "== examples/example-space: the C API on a space of plain-memory regions"
	./examples/example-space
	echo
	echo "== tools/demo.sh: the guestmem tool on a memory image it creates"
	"$top/tools/demo.sh" "$build/tools/guestmem"
	;;
test)
	install_deps "${deps_build[@]}" "${deps_test[@]}"
	configure_build
	rc=0
	make -j"$(nproc)" check || rc=$?
	if [ $rc -ne 0 ]; then
		find . -name '*.log' ! -name config.log ! -name test-suite.log \
			-exec grep -l -E '^(FAIL|ERROR)|\[  FAILED  \]' {} + |
			while read -r f; do echo "==== $f"; tail -n 60 "$f"; done
	fi
	summary
	[ $rc -eq 0 ] || exit $rc
	clang_check
	make -j"$(nproc)" check-valgrind
	echo "build.sh: valgrind found no errors or leaks"
	sanitized_check asan "-fsanitize=address,undefined -fno-sanitize-recover=all"
	sanitized_check tsan "-fsanitize=thread"
	# libFuzzer over random layouts and operation sequences, checked
	# against a shadow model (fuzz/fuzz-space.c): a crash, a leak or a
	# mismatch fails the run.
	make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-120}" >fuzz.log 2>&1 || {
		tail -n 60 fuzz.log
		echo "build.sh: make fuzz FAILED"
		exit 1
	}
	grep -E '^#[0-9]+ +DONE|^Done |^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
		fuzz.log | sed 's/^/fuzz: /' || true
	make distcheck >/dev/null
	echo "build.sh: make distcheck passed"
	# The Debian packages from the distribution's files, lintian, and
	# examples/example-space.c built through pkg-config against them and
	# against make install DESTDIR=: one summary line.
	"$top/tests/check-packaging.sh" "$build"
	# arm64: the cross build and its make check under qemu-user
	# (tests/cross/arm64.sh), in a directory of its own outside the
	# checkout.  Its last line is "arm64: N passed, N failed, N skipped".
	arm64=$(mktemp -d "${TMPDIR:-/tmp}/libguestmem-arm64.XXXXXX")
	"$top/tests/cross/arm64.sh" "$arm64" >arm64.log 2>&1 || {
		tail -n 80 arm64.log
		echo "build.sh: arm64 cross build or its make check FAILED"
		exit 1
	}
	grep '^arm64\.sh: .*: SKIP' arm64.log | sed 's/^arm64\.sh: /build.sh: arm64 /' || true
	echo "build.sh: $(tail -n 1 arm64.log)"
	rm -rf "$arm64"
	if [ "${GM_SKIP_XEN_QEMU:-0}" = 1 ]; then
		echo "build.sh: real-Xen tests SKIPPED (GM_SKIP_XEN_QEMU=1)"
	else
		"$top/tests/xen-qemu/ci.sh" "$build"
	fi
	# Every step above stops the script on failure: reaching this line
	# means all passed.  Repeat make check's totals as the closing line.
	echo "build.sh: all test steps passed"
	summary
	;;
*) usage ;;
esac
