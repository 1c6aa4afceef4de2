#!/bin/sh
# Each public header must compile on its own as strict C99 and as C++, with
# every warning an error, and include only libc headers.
set -eu
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for h in guestmem.h guestmem/backend.h guestmem/unix.h guestmem/xen.h \
	guestmem/version.h; do
	printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' \
		"$h" "$h" >"$tmp/t.c"
	for lang in c99 c11 c++; do
		case $lang in
		c++) cmd="$CXX -x c++ -std=c++11" ;;
		*) cmd="$CC -std=$lang" ;;
		esac
		if $cmd -pedantic -Wall -Wextra -Werror -I"$top_srcdir/include" \
			-I"$top_builddir/include" -c "$tmp/t.c" -o "$tmp/t.o" \
			2>"$tmp/err"; then
			echo "PASS: $h ($lang)"
		else
			echo "FAIL: $h ($lang)"
			cat "$tmp/err"
			fail=1
		fi
	done
done
exit $fail
