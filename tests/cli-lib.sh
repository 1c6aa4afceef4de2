# Helpers for the guestmem(1) tests: sourced by tests/test-cli*.sh.
#
#   run RC CMD...      run CMD, keep its stdout in $T/out and stderr in
#                      $T/err, and check that it exits with RC
#   out_is TEXT        stdout is exactly TEXT (a trailing newline added)
#   out_has TEXT       stdout contains the fixed string TEXT
#   err_has TEXT       stderr contains the fixed string TEXT
#   err_lines N        stderr has exactly N lines
#   check DESC CMD...  CMD succeeds
#   exec_via VAR       run the program whose path is in $VAR through
#                      $GM_TEST_EXEC when that is set (a cross build's
#                      emulator: tests/cross/qemu-run.sh)
#   finish             print "N passed, N failed" and exit accordingly
#
# Each helper counts one check; a failure prints what was expected, what
# happened and the command's output, and the script goes on.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/test-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
last=""

pass() { passed=$((passed + 1)); }

fail() {
	failed=$((failed + 1))
	echo "FAIL: $*"
	echo "  command: $last"
	echo "  stdout:"; sed 's/^/    /' "$T/out"
	echo "  stderr:"; sed 's/^/    /' "$T/err"
}

run() {
	local want=$1 rc
	shift
	last="$*"
	"$@" >"$T/out" 2>"$T/err" </dev/null && rc=0 || rc=$?
	if [ "$rc" = "$want" ]; then pass; else fail "exit $rc, expected $want"; fi
}

# run, with standard input from the file $IN.
run_in() {
	local want=$1 rc
	shift
	last="$* < $IN"
	"$@" >"$T/out" 2>"$T/err" <"$IN" && rc=0 || rc=$?
	if [ "$rc" = "$want" ]; then pass; else fail "exit $rc, expected $want"; fi
}

out_is() {
	if [ "$(cat "$T/out")" = "$1" ]; then pass
	else fail "stdout is not:"; printf '%s\n' "$1" | sed 's/^/    /'; fi
}

out_has() {
	if grep -qF -- "$1" "$T/out"; then pass
	else fail "stdout lacks '$1'"; fi
}

out_lacks() {
	if ! grep -qF -- "$1" "$T/out"; then pass
	else fail "stdout has '$1'"; fi
}

err_has() {
	if grep -qF -- "$1" "$T/err"; then pass
	else fail "stderr lacks '$1'"; fi
}

err_lines() {
	local n
	n=$(wc -l <"$T/err")
	if [ "$n" -eq "$1" ]; then pass
	else fail "stderr has $n lines, expected $1"; fi
}

check() {
	local desc=$1
	shift
	if "$@"; then pass; else fail "$desc"; fi
}

exec_via() {
	local w="$T/exec-$1"
	[ -n "${GM_TEST_EXEC:-}" ] || return 0
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$GM_TEST_EXEC" "${!1}" >"$w"
	chmod +x "$w"
	eval "$1=\$w"
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
