#!/bin/bash
# The guestmem(1) tour: run the built tool on a memory image it creates
# (no Xen needed) and show each command with its output.
#
#   tools/demo.sh [PATH-TO-guestmem]
#
# Without an argument the tool is looked for in $BUILD_DIR (default
# _build/ next to this script's directory) and then in $PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
gm=${1:-}
if [ -z "$gm" ]; then
	for c in "${BUILD_DIR:-$here/../_build}/tools/guestmem" \
		"$(command -v guestmem || true)"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			gm=$c
			break
		fi
	done
fi
if [ -z "$gm" ] || [ ! -x "$gm" ]; then
	echo "demo.sh: cannot find the guestmem tool: build it first," \
		"or give its path" >&2
	exit 2
fi
gm=$(cd "$(dirname "$gm")" && pwd)/$(basename "$gm")

work=$(mktemp -d "${TMPDIR:-/tmp}/guestmem-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# Show a command as a person would type it, then run it.  A failure the
# demo expects is shown with its exit status; any other one stops it.
step() {
	echo
	echo "# $1"
	shift
}
# Quote an argument the way a person would type it.
quote() {
	case $1 in
	';') printf ' \\;' ;;
	*[!A-Za-z0-9_@%+=:,./-]*) printf " '%s'" "${1//\'/\'\\\'\'}" ;;
	*) printf ' %s' "$1" ;;
	esac
}
show() {
	local want=$1 rc=0 a
	shift
	printf '$ guestmem'
	for a in "$@"; do quote "$a"; done
	echo
	"$gm" --no-progress "$@" 2>&1 || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "demo.sh: expected exit status $want, got $rc" >&2
		exit 1
	fi
	[ "$rc" = 0 ] || echo "(exit status $rc)"
}

echo "guestmem demo: a 1 MiB guest RAM image at 0 and a 64 KiB ROM image"
echo "at 0xf0000000, in $work"
truncate -s 1M ram.img
truncate -s 64K rom.img
printf 'BIOS v1.0 (c) guestmem demo' | dd of=rom.img conv=notrunc \
	status=none

step "The layout: two regions and the hole between them"
show 0 --image ram.img --image rom.img@0xf0000000 info

step "Write typed values (little-endian u32s, a big-endian u16, a string)"
show 0 --image ram.img write -t le32 0x1000 0xdeadbeef 0xcafef00d 42
show 0 --image ram.img write -t be16 0x1010 0x1234
show 0 --image ram.img write -t string 0x2000 'Hello from the guest!\n'

step "Read them back"
show 0 --image ram.img read -t le32 0x1000 3
show 0 --image ram.img read -t le32 -d 0x1008
show 0 --image ram.img read -t be16 0x1010
show 0 --image ram.img read -t u8 0x1010 2

step "Hexdump a range (repeated lines are shown once, as '*')"
show 0 --image ram.img hexdump 0x1000 0x40
show 0 --image ram.img hexdump 0x2000 0x20

step "Search every region for a string, and for a typed value"
show 0 --image ram.img --image rom.img@0xf0000000 search guest
show 0 --image ram.img --image rom.img@0xf0000000 search BIOS
show 0 --image ram.img search -t le32 0xcafef00d

step "A hole is an error that names the address (exit status 3)"
show 3 --image ram.img --image rom.img@0xf0000000 read 0x100000

step "Dump all memory to an ELF core (holes left out, zero pages sparse)"
show 0 --image ram.img --image rom.img@0xf0000000 dump guest.core
echo "(guest.core: $(stat -c %s guest.core) bytes long, $(du -k guest.core |
	cut -f1) KiB on disk)"

step "Clobber the RAM, then restore it from the dump"
show 0 --image ram.img fill 0 1M 0xff
show 0 --image ram.img read -t le32 0x1000
show 0 --image ram.img --image rom.img@0xf0000000 restore guest.core
show 0 --image ram.img read -t le32 0x1000

step "A dump is a target too: inspect it offline"
show 0 --core guest.core info
show 0 --core guest.core search -t string 'Hello'

step "Several commands on one space: anonymous memory, gone at exit"
show 0 --anon 64K write -t u64 0x10 0x0123456789abcdef \; \
	copy 0x10 0x20 8 \; read -t u64 0x10 3

echo
echo "demo: done"
