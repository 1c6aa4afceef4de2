#!/bin/sh
# Check the manual pages in man/:
#  (a) every symbol libguestmem.map exports has a page, man/NAME.3 (a real
#      page or a ".so" link to one);
#  (b) every ".so" link points to a page that exists;
#  (c) every real page lints clean: mandoc -Tlint -W warning, and groff's
#      warnings when groff is installed (any message fails);
#  (d) every public function and function-like macro of the installed
#      headers has a page too: the static inline ones, which no symbol
#      lists, and GM_EXPORT declarations that the map might miss;
#  (e) every EXAMPLE compiles (and links, where it has a main()) against
#      the headers and the built library, with -Wall -Wextra -Werror;
#  (f) every gm_/GM_ page a page refers to as NAME(3) exists, each real
#      page's .TH names its file, and guestmem(7) refers to every real
#      man3 page;
#  (g) every file of man/ is listed in Makefile.am, so that it is
#      installed and distributed.
# Without mandoc, (c) cannot run: the rest still runs, and the test then
# reports SKIP (77), never a pass.
set -eu
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CC=${CC:-cc}
man="$top_srcdir/man"
map="$top_srcdir/libguestmem.map"
inc="$top_srcdir/include"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

is_link() {
	head -n 1 "$1" | grep -q '^\.so '
}

# (a) Exported symbols.
sed -n 's/^[[:space:]]*\(gm_[A-Za-z0-9_]*\);.*/\1/p' "$map" | sort -u \
	>"$tmp/symbols"
[ -s "$tmp/symbols" ] || bad "no symbols found in $map"
while read -r sym; do
	[ -f "$man/$sym.3" ] || bad "exported symbol $sym has no page man/$sym.3"
done <"$tmp/symbols"

# (b) Links, and the list of real pages for the rest.
: >"$tmp/pages"
nlinks=0
for f in "$man"/*.[137]; do
	if is_link "$f"; then
		nlinks=$((nlinks + 1))
		target=$(sed -n '1s/^\.so[[:space:]]*//p' "$f")
		if [ "$(wc -l <"$f")" -ne 1 ]; then
			bad "${f#"$top_srcdir"/}: a link page must be one .so line"
		fi
		# ".so man3/x.3" is resolved from the manual's root, where
		# man/x.3 is installed as man3/x.3.
		case $target in
		man[137]/*) page="$man/${target#man?/}" ;;
		*) page=/nonexistent ;;
		esac
		if [ ! -f "$page" ] || is_link "$page"; then
			bad "${f#"$top_srcdir"/}: .so target '$target' is not a page in man/"
		fi
	else
		echo "$f" >>"$tmp/pages"
	fi
done

# (c) Lint.
have_mandoc=1
command -v mandoc >/dev/null 2>&1 || have_mandoc=0
have_groff=1
command -v groff >/dev/null 2>&1 || have_groff=0
while read -r f; do
	if [ $have_mandoc = 1 ]; then
		if ! mandoc -Tlint -W warning "$f" >"$tmp/lint" 2>&1 ||
			[ -s "$tmp/lint" ]; then
			bad "mandoc -Tlint: ${f#"$top_srcdir"/}"
			cat "$tmp/lint"
		fi
	fi
	if [ $have_groff = 1 ]; then
		if ! groff -man -ww -z "$f" >"$tmp/lint" 2>&1 ||
			[ -s "$tmp/lint" ]; then
			bad "groff -ww: ${f#"$top_srcdir"/}"
			cat "$tmp/lint"
		fi
	fi
done <"$tmp/pages"

# (d) Public functions and function-like macros of the headers.  Comments
# go first (they name functions too), then a declaration is the name
# right before the first "(" after GM_INLINE, GM__HOT_INLINE or
# GM_EXPORT.  gm__ and GM__ names are internal and have no page of their
# own (the exported gm__ ones are checked by (a)).
: >"$tmp/api"
for h in "$inc/guestmem.h" "$inc"/guestmem/*.h; do
	perl -0777 -pe 's{/\*.*?\*/}{ }gs; s{\\\n}{ }g' "$h" >"$tmp/h"
	sed -n 's/^[[:space:]]*#[[:space:]]*define[[:space:]]\{1,\}\(gm_[a-z0-9][A-Za-z0-9_]*\|GM_[A-Z0-9][A-Za-z0-9_]*\)(.*/\1/p' \
		"$tmp/h" >>"$tmp/api"
	tr '\n' ' ' <"$tmp/h" |
		grep -oE '(GM_INLINE|GM__HOT_INLINE|GM_EXPORT)[^;{}()]*[^A-Za-z0-9_]gm_[a-z0-9][A-Za-z0-9_]*[[:space:]]*\(' |
		sed 's/.*[^A-Za-z0-9_]\(gm_[a-z0-9][A-Za-z0-9_]*\)[[:space:]]*($/\1/' \
			>>"$tmp/api"
done
sort -u "$tmp/api" -o "$tmp/api"
# A sanity floor, so that a parser broken by a header change fails
# instead of checking nothing: the inline view accessors alone are 38.
if [ "$(grep -c '^gm_view_' "$tmp/api")" -lt 38 ]; then
	bad "found only $(grep -c '^gm_view_' "$tmp/api") gm_view_ functions in the headers"
fi
while read -r name; do
	[ -f "$man/$name.3" ] || bad "public $name (include/) has no page man/$name.3"
done <"$tmp/api"

# (e) Examples: the lines between .EX and .EE in an EXAMPLE section, with
# the roff escapes they use turned back into C.
so="$top_builddir/.libs/libguestmem.so"
nex=0
while read -r f; do
	awk '/^\.SH / { ex = ($0 ~ /^\.SH EXAMPLES?$/) }
	     ex && /^\.EE/ { in_ex = 0 }
	     ex && in_ex { print }
	     ex && /^\.EX/ { in_ex = 1 }' "$f" |
		sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' \
			-e 's/\\&//g' -e 's/\\e/\\/g' >"$tmp/ex.c"
	[ -s "$tmp/ex.c" ] || continue
	nex=$((nex + 1))
	page=${f#"$top_srcdir"/}
	if ! $CC -std=gnu11 -Wall -Wextra -Werror -I"$inc" \
		-I"$top_builddir/include" -c "$tmp/ex.c" -o "$tmp/ex.o" \
		>"$tmp/err" 2>&1; then
		bad "the EXAMPLE of $page does not compile:"
		cat "$tmp/err"
		continue
	fi
	if [ -f "$so" ] && grep -q '^int main(' "$tmp/ex.c" &&
		! $CC "$tmp/ex.o" -o "$tmp/ex" "$so" >"$tmp/err" 2>&1; then
		bad "the EXAMPLE of $page does not link:"
		cat "$tmp/err"
	fi
done <"$tmp/pages"

# (f) References, titles, and the overview's list.
while read -r f; do
	base=${f##*/}
	name=${base%.*}
	sect=${base##*.}
	if ! grep -qi "^\\.TH $name $sect " "$f"; then
		bad "${f#"$top_srcdir"/}: .TH does not name $name $sect"
	fi
	grep -oE '^\.BR (gm_|GM_)[A-Za-z0-9_]+ \(3\)' "$f" |
		sed 's/^\.BR \([^ ]*\) .*/\1/' | sort -u >"$tmp/refs" || true
	while read -r ref; do
		[ -f "$man/$ref.3" ] ||
			bad "${f#"$top_srcdir"/} refers to $ref(3), which has no page"
	done <"$tmp/refs"
	if [ "$sect" = 3 ] &&
		! grep -q "^\\.BR $name (3)" "$man/guestmem.7"; then
		bad "guestmem.7 does not refer to $name(3)"
	fi
done <"$tmp/pages"

# (g) Every file of man/ is installed: listed in a dist_manN_MANS of
# Makefile.am (automake wants the names written out).
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$top_srcdir/Makefile.am" |
	sed -n 's/^dist_man[137]_MANS[[:space:]]*+\{0,1\}=//p' | tr ' \t' '\n\n' |
	sed -n 's|^man/||p' | sort -u >"$tmp/listed"
for f in "$man"/*.[137]; do
	grep -qxF "${f##*/}" "$tmp/listed" ||
		bad "${f#"$top_srcdir"/} is not in Makefile.am's dist_man${f##*.}_MANS"
done

if [ $fail != 0 ]; then
	exit 1
fi
npages=$(wc -l <"$tmp/pages")
echo "PASS: $(wc -l <"$tmp/symbols") exported symbols and $(wc -l <"$tmp/api") public names of the headers have pages; $npages pages, $nlinks links; $nex examples compile"
if [ $have_mandoc = 0 ]; then
	echo "SKIP: mandoc is not installed, so the pages were not linted (apt-get install mandoc)"
	exit 77
fi
echo "PASS: every page lints clean with mandoc$([ $have_groff = 1 ] && echo ' and groff')"
