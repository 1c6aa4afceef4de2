#!/bin/sh
# Check that libguestmem.so exports exactly the symbols libguestmem.map
# lists: nothing missing (a declared function that was not built) and
# nothing extra (an internal symbol that escaped -fvisibility=hidden).
set -eu
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
so="$top_builddir/.libs/libguestmem.so"
map="$top_srcdir/libguestmem.map"
if [ ! -f "$so" ]; then
	echo "SKIP: $so not built (static-only build)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' |
	sed 's/@.*//' | grep -v '^GM_' | sort -u >"$tmp/exported"
sed -n 's/^[[:space:]]*\(gm_[A-Za-z0-9_]*\);.*/\1/p' "$map" | sort -u >"$tmp/listed"
if ! diff -u "$tmp/listed" "$tmp/exported" >"$tmp/diff"; then
	echo "FAIL: exported symbols and $map disagree (- listed only, + exported only):"
	cat "$tmp/diff"
	exit 1
fi
echo "PASS: $(wc -l <"$tmp/exported") exported symbols match $map"
