#!/bin/bash
# guestmem(1) on plain-Linux targets: every command, its output and exit
# status, bad arguments and bad addresses.
set -u
. "${top_srcdir:-.}/tests/cli-lib.sh"

G="$(cd "$top_builddir" && pwd)/tools/guestmem"
if [ ! -x "$G" ]; then
	echo "FAIL: $G not built"
	exit 1
fi
exec_via G
cd "$T"
truncate -s 1M mem.img
truncate -s 64K hi.img

# ---- help, version, usage errors ----
run 0 "$G" --help
out_has "Exit status:"
out_has "  7  partial"
run 0 "$G" --version
out_has "guestmem (libguestmem) "
run 0 "$G" help search
out_has "Usage: guestmem TARGET... search"
run 0 "$G" --image mem.img read --help
out_has "-t, --type TYPE"
run 2 "$G" info
err_has "no target"
run 2 "$G" --image mem.img
err_has "no command given"
run 2 "$G" --image mem.img frobnicate
err_has "no command 'frobnicate'"
run 2 "$G" --image mem.img --bogus info
err_has "unknown option '--bogus'"
run 2 "$G" --image mem.img read -z 0
err_has "read: unknown option '-z'"
run 2 "$G" --image mem.img read -t
err_has "option '-t' needs an argument"
run 2 "$G" --image mem.img read
err_has "missing ADDR"
run 2 "$G" --image mem.img read 0 1 2
run 2 "$G" --image mem.img read 12abc
err_has "address '12abc' is not a number"
run 2 "$G" --image mem.img read 0x1ffffffffffffffff
err_has "larger than 2^64 - 1"
run 2 "$G" --image mem.img read -t u128 0
err_has "unknown type 'u128'"
run 2 "$G" --image mem.img info ';'
err_has "empty command before ';'"
# Each option's argument is checked as it is parsed: the first bad one on
# the command line is the one reported.
run 2 "$G" --image mem.img read -t u128 -z 0
err_has "read: unknown type 'u128'"
err_lines 2
run 2 "$G" --image mem.img read -z -t u128 0
err_has "read: unknown option '-z'"
run 2 "$G" --image mem.img search -a 0 x
err_has "search: the alignment must not be 0"
run 2 "$G" --image mem.img search --max=x x
err_has "search: maximum 'x' is not a number"
# The last -t wins, "bytes" included; options may follow the operands.
run 0 "$G" --image mem.img read -t bytes 0 2 -t le16
out_is "0x00000000: 0x0000 0x0000"
# -h in a later command prints its usage and ends the run, exit 0.
run 0 "$G" --anon 4K info \; read -h \; read 0
out_has "space 'anon'"
out_has "Usage: guestmem TARGET... read"
out_lacks "0x00000000:"
run 2 "$G" help nosuch

# ---- targets ----
run 0 "$G" --image mem.img --anon 64K@1M --image hi.img@0x200000 info
out_has "space 'mem.img': 3 regions, 1.1 MiB"
out_has "0x00000000  0x000fffff  1 MiB      ro     unix         image 'mem.img'"
out_has "0x00100000  0x0010ffff  64 KiB     rw     unix         anonymous memory"
out_has "0x00110000  0x001fffff  960 KiB    -      hole"
out_has "0x00200000  0x0020ffff  64 KiB     ro     unix         image 'hi.img'"
run 0 "$G" --json --image mem.img --image hi.img@2M info
out_is '{"space":"mem.img","regions":[{"start":"0x0","last":"0xfffff","size":1048576,"writable":false,"backend":"unix","source":"image '"'"'mem.img'"'"'"},{"start":"0x200000","last":"0x20ffff","size":65536,"writable":false,"backend":"unix","source":"image '"'"'hi.img'"'"'"}],"holes":[{"start":"0x100000","last":"0x1fffff","size":1048576}],"bytes":1114112}'
run 5 "$G" --image missing.img info
err_has "cannot open image 'missing.img': No such file or directory"
printf 'short' >short.img
run 2 "$G" --image short.img info
err_has "an image must be a non-empty multiple of the page size"
run 2 "$G" --image mem.img@0x123 info
err_has "page-aligned"
run 2 "$G" --image mem.img --image hi.img@0x80000 info
err_has "overlaps"
run 2 "$G" --anon 1000 info
run 2 "$G" --anon 64K@zz info
err_has "bad guest address 'zz'"
run 2 "$G" --xen-grant 5 info
err_has "expected DOMID:GREF[,COUNT]"
run 2 "$G" --xen-grant 5:0xffffffff,2 info
if [ ! -e /dev/xen/privcmd ]; then
	run 6 "$G" --xen-domid 1 info
	err_has "cannot open Xen"
fi

# ---- write and read: every type, every format ----
run 0 "$G" --image mem.img write -t le32 0x1000 0xdeadbeef 1 2 3 \; \
	read -t le32 0x1000 4 \; read -t be32 0x1000 \; \
	read -t u8 -d 0x1000 5 \; read -t le16 -p 0x1000 2 \; \
	read -t be64 0x1000
out_is "0x00001000: 0xdeadbeef 0x00000001 0x00000002 0x00000003
0x00001000: 0xefbeadde
0x00001000: 239 190 173 222 1
0xbeef
0xdead
0x00001000: 0xefbeadde01000000"
run 0 "$G" --image mem.img read -t le32 0x1000 6
out_is "0x00001000: 0xdeadbeef 0x00000001 0x00000002 0x00000003
0x00001010: 0x00000000 0x00000000"
run 0 "$G" --image mem.img write -t be16 0x2000 0x1234 -- -2 \; \
	read -t be16 -s -p 0x2000 2 \; read -t u8 0x2000 4 \; \
	write -t u64 0x2008 18446744073709551615 \; read -t u64 -d -p 0x2008
out_is "4660
-2
0x00002000: 0x12 0x34 0xff 0xfe
18446744073709551615"
run 2 "$G" --image mem.img write -t u8 0 256
err_has "'256' is not a value of type u8"
run 2 "$G" --image mem.img write -t u8 0 -- -129
run 0 "$G" --image mem.img write -t u8 0 -- -128 \; read -t u8 -p 0
out_is "0x80"
run 2 "$G" --image mem.img write 0
err_has "nothing to write"
run 0 "$G" --image mem.img write -t hex 0x3000 'de ad' BE:EF 0x01 \; \
	read -t bytes 0x3000 5 -o hex.bin
check "write -t hex bytes" cmp -s hex.bin <(printf '\xde\xad\xbe\xef\x01')
run 2 "$G" --image mem.img write -t hex 0 'abc'
err_has "'abc' is not hex bytes"
run 0 "$G" --image mem.img write -t string 0x3100 'a\tb\x41\0\\' \; \
	read -t bytes 0x3100 6 -o str.bin
check "write -t string escapes" cmp -s str.bin <(printf 'a\tbA\0\\')
run 2 "$G" --image mem.img write -t string 0 'bad\q'
run 2 "$G" --image mem.img write -t string 0 a b
head -c 5000 /dev/urandom >rand.bin
IN=rand.bin run_in 0 "$G" --image mem.img write -t bytes 0x4003
run 0 "$G" --image mem.img read -t bytes 0x4003 5000 -o back.bin
check "write -t bytes from stdin" cmp -s rand.bin back.bin
run 0 "$G" --image mem.img write -t bytes -i rand.bin 0x8001
"$G" --image mem.img read -t bytes 0x8001 5000 >back2.bin
check "read -t bytes to stdout" cmp -s rand.bin back2.bin
check "read -t bytes reached the file" \
	cmp -s rand.bin <(tail -c +$((0x8001 + 1)) mem.img | head -c 5000)
run 2 "$G" --image mem.img read -o x.bin 0
err_has "-o is for -t bytes"
run 2 "$G" --image mem.img write -i x.bin 0 1

# ---- bad addresses, read-only memory ----
run 3 "$G" --image mem.img read 0xffffe
err_has "guest memory 'mem.img': read error: failed to access 0xffffe-0x100002 at 0x100000: no region"
out_is ""
run 3 "$G" --image mem.img read 0x200000
run 2 "$G" --image mem.img read -t u64 0xfffffffffffffffc
err_has "wraps past 2^64"
run 3 "$G" --image mem.img write -t u8 0xfffff 1 2
err_has "write error: failed to access 0xfffff-0x100001 at 0x100000: no region"
run 0 "$G" --image mem.img read -t u8 0xfffff
out_is "0x000fffff: 0x00"
run 4 "$G" --read-only --image mem.img write 0 1
err_has "region is read-only (--read-only)"
chmod a-w mem.img
if [ "$(id -u)" != 0 ]; then
	run 4 "$G" --image mem.img write 0 1
	err_has "cannot open image 'mem.img' for writing"
fi
chmod u+w mem.img
run 3 "$G" --image mem.img --image hi.img@0x200000 hexdump 0x100000 0x20
err_has "32 bytes of 0x100000-0x100020 could not be read"

# ---- numbers ----
run 0 "$G" --anon 2M write -t u8 1K 1 \; write -t u8 010 2 \; \
	write -t u8 0x1M 3 \; read -t u8 1024 \; read -t u8 10 \; \
	read -t u8 1048576
out_is "0x00000400: 0x01
0x0000000a: 0x02
0x00100000: 0x03"
run 2 "$G" --anon 64K read 1X
run 2 "$G" --anon 64K read 0x
run 2 "$G" --anon 64K read 20000000T

# ---- hexdump ----
run 0 "$G" --image mem.img write -t string 0x2200 'hello, guest\n' \; \
	hexdump 0x1ff0 0x40
out_is "0x00001ff0  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
0x00002000  12 34 ff fe 00 00 00 00  ff ff ff ff ff ff ff ff  |.4..............|
0x00002010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
*
0x00002030"
run 0 "$G" --image mem.img hexdump 0x2000 0x10
out_is "0x00002000  12 34 ff fe 00 00 00 00  ff ff ff ff ff ff ff ff  |.4..............|"
run 0 "$G" --image mem.img hexdump -v 0x2010 0x20
out_is "0x00002010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
0x00002020  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|"
run 0 "$G" --image mem.img hexdump -t le32 0x1000 20
out_is "0x00001000  deadbeef 00000001 00000002 00000003  |................|
0x00001010  00000000                             |....|"
run 2 "$G" --image mem.img hexdump -t le32 0x1000 3
err_has "multiple of le32's size (4)"
run 7 "$G" --image mem.img --image hi.img@0x200000 hexdump 0xffff8 0x100018
out_is "0x000ffff8  00 00 00 00 00 00 00 00  ?? ?? ?? ?? ?? ?? ?? ??  |........        |
0x00100008  -- hole (no region), 1.0 MiB up to 0x1ffff8 --
0x001ffff8  ?? ?? ?? ?? ?? ?? ?? ??  00 00 00 00 00 00 00 00  |        ........|
0x00200008  00 00 00 00 00 00 00 00                           |........|"
err_has "hexdump: 1 MiB of 0xffff8-0x200010 could not be read"

# ---- fill ----
run 0 "$G" --anon 64K fill 0x10 8 0xab \; fill -t be16 0x20 6 0x0102 \; \
	hexdump 0x10 0x20
out_is "0x00000010  ab ab ab ab ab ab ab ab  00 00 00 00 00 00 00 00  |................|
0x00000020  01 02 01 02 01 02 00 00  00 00 00 00 00 00 00 00  |................|"
run 2 "$G" --anon 64K fill -t u32 0 6 1
err_has "multiple of u32's size (4)"
run 2 "$G" --anon 64K fill 0 8 0x100
run 2 "$G" --anon 64K fill 0 0 1
run 3 "$G" --anon 64K fill 0xf000 0x2000 1
err_has "at 0x10000: no region"

# ---- copy ----
run 0 "$G" --anon 64K write -t string 0 abcdefgh \; copy 0 2 8 \; \
	read -t bytes 0 10 -o fwd.bin
check "copy up, overlapping" cmp -s fwd.bin <(printf 'ababcdefgh')
run 0 "$G" --anon 64K write -t string 0 abcdefgh \; copy 2 0 6 \; \
	read -t bytes 0 8 -o back.bin
check "copy down, overlapping" cmp -s back.bin <(printf 'cdefghgh')
run 0 "$G" --image mem.img --anon 64K@0x200000 copy 0x1000 0x200000 16 \; \
	read -t le32 0x200000 2
out_is "0x00200000: 0xdeadbeef 0x00000001"
run 3 "$G" --anon 64K copy 0 0xfff8 16
err_has "write error: failed to access 0xfff8-0x10008 at 0x10000: no region"
run 3 "$G" --anon 64K copy 0xfff8 0 16
err_has "read error"
run 2 "$G" --anon 64K copy 0 8
err_has "expected SRC DST LEN"

# ---- search ----
run 0 "$G" --image mem.img search hello
out_is "0x00002200"
run 0 "$G" --image mem.img search -t le32 0xdeadbeef
out_is "0x00001000"
run 0 "$G" --image mem.img search -t hex 'ef be ad de'
out_is "0x00001000"
printf 'guest' >pat.bin
run 0 "$G" --image mem.img search -t bytes pat.bin
out_is "0x00002207"
run 1 "$G" --image mem.img search 'not in there'
out_is ""
run 0 "$G" --anon 64K fill 0x100 16 0x61 \; search aaaa
out_is "0x00000100
0x00000101
0x00000102
0x00000103
0x00000104
0x00000105
0x00000106
0x00000107
0x00000108
0x00000109
0x0000010a
0x0000010b
0x0000010c"
run 0 "$G" --anon 64K fill 0x100 16 0x61 \; search -a 4 aaaa
out_is "0x00000100
0x00000104
0x00000108
0x0000010c"
run 0 "$G" --anon 64K fill 0x100 16 0x61 \; search -m 2 aaaa
out_is "0x00000100
0x00000101"
run 0 "$G" --anon 64K fill 0x100 16 0x61 \; search aaaa 0x10a \; \
	search aaaa 0x100 5
out_is "0x0000010a
0x0000010b
0x0000010c
0x00000100
0x00000101"
run 2 "$G" --anon 64K search ''
err_has "the pattern is empty"
run 2 "$G" --anon 64K search x 0x10000
err_has "past the last region"
# A match straddling two adjacent regions is found; one across a hole
# is not.
run 0 "$G" --anon 64K --anon 64K@64K --anon 64K@192K \
	write -t string 0xfffe 'join' \; write -t string 0x1fffe 'ga' \; \
	write -t string 0x30000 'pX' \; search join \; search --json join
out_is '0x0000fffe
{"matches":["0xfffe"],"count":1,"complete":true,"pattern":"6a6f696e","start":"0x0","last":"0x3ffff","searched":196608,"unreadable":[]}'
# Inside one region too, search reads in 1 MiB chunks (CLI_CHUNK) and
# carries the last len - 1 bytes of each into the next: a match across a
# chunk boundary (0x100000) is found, one that ends exactly at a chunk's
# end (0x1fffff) is found once, and one right after it (0x200000) at its
# own address.
run 0 "$G" --anon 3M write -t string 0xffffd 'join' \; \
	write -t string 0x1ffffc 'join' \; write -t string 0x200000 'join' \; \
	search join
out_is "0x000ffffd
0x001ffffc
0x00200000"
run 0 "$G" --anon 64K write -t u8 0x10 7 \; search --json -t u8 7 \; \
	search --json -m 1 -t u8 0
out_is '{"matches":["0x10"],"count":1,"complete":true,"pattern":"07","start":"0x0","last":"0xffff","searched":65536,"unreadable":[]}
{"matches":["0x0"],"count":1,"complete":false,"pattern":"00","start":"0x0","last":"0xffff","searched":65536,"unreadable":[]}'

run 1 "$G" --anon 64K --anon 64K@64K --anon 64K@192K \
	write -t string 0x1fffe 'ga' \; write -t string 0x30000 'pX' \; \
	search gap
out_is ""

# ---- dump, --core, restore ----
run 0 "$G" --image mem.img --image hi.img@0x200000 \
	write -t string 0x200010 high \; dump out.core
out_is "dumped 0x0-0x20ffff to 'out.core': 1.1 MiB in 2 segments
  hole        0x100000-0x1fffff  1 MiB"
check "dump is an ELF core" \
	cmp -s <(head -c 4 out.core) <(printf '\177ELF')
if command -v readelf >/dev/null; then
	readelf -lW out.core >"$T/out" 2>"$T/err"
	out_has "LOAD           0x001000 0x0000000000000000 0x0000000000000000 0x100000 0x100000 RW  0x1000"
	out_has "LOAD           0x101000 0x0000000000200000 0x0000000000200000 0x010000 0x010000 RW  0x1000"
fi
check "dump is sparse" [ "$(du -k out.core | cut -f1)" -lt 512 ]
run 0 "$G" --core out.core info
out_has "0x00000000  0x000fffff  1 MiB      ro     unix         dump 'out.core' segment 1"
out_has "0x00200000  0x0020ffff  64 KiB     ro     unix         dump 'out.core' segment 2"
out_has "  space mem.img"
out_has "  range 0x0-0x20ffff"
run 0 "$G" --core out.core search high \; read -t le32 0x1000
out_is "0x00200010
0x00001000: 0xdeadbeef"
run 0 "$G" --image mem.img --image hi.img@0x200000 \
	write -t string 0x200010 high \; dump -q again.core
out_is ""
check "dumps of the same memory are identical" cmp -s out.core again.core
run 0 "$G" --image mem.img --image hi.img@0x200000 \
	fill 0 1M 0x55 \; fill 0x200000 64K 0x55 \; restore out.core \; \
	read -t le32 0x1000 \; read -t bytes 0x200010 4 -o high.bin
out_is "restored 'out.core': 1.1 MiB in 2 segments
0x00001000: 0xdeadbeef"
check "restore brought back the second segment" \
	cmp -s high.bin <(printf 'high')
check "restore reached the image file" \
	cmp -s <(tail -c +$((0x1000 + 1)) mem.img | head -c 4) \
	<(printf '\xef\xbe\xad\xde')
run 0 "$G" --image mem.img dump --json part.core 0x1000 0x2000
out_is '{"file":"part.core","start":"0x1000","last":"0x2fff","segments":1,"bytes":8192,"holes":[],"unreadable":[],"unreadable_bytes":0,"complete":true}'
run 0 "$G" --image mem.img --image hi.img@2M dump --json gap.core 0xff000 0x102000
out_is '{"file":"gap.core","start":"0xff000","last":"0x200fff","segments":2,"bytes":8192,"holes":[{"start":"0x100000","last":"0x1fffff","size":1048576}],"unreadable":[],"unreadable_bytes":0,"complete":true}'
# Restoring needs writable memory at every segment, or writes nothing.
run 3 "$G" --anon 1M restore out.core
err_has "write error: failed to access 0x200000-0x210000 at 0x200000: no region"
err_has "restore: nothing was written"
run 4 "$G" --read-only --image mem.img --image hi.img@2M restore out.core
run 0 "$G" --anon 1M --anon 64K@2M restore -q out.core \; search high
out_is "0x00200010"
# Failed dumps leave nothing behind and say so.
mkdir ro
chmod a-w ro
if [ "$(id -u)" != 0 ]; then
	run 5 "$G" --image mem.img dump ro/x.core
	err_has "cannot create a temporary file for 'ro/x.core'"
fi
run 5 "$G" --image mem.img dump nodir/x.core
err_has "cannot create a temporary file for 'nodir/x.core'"
cp out.core keep.core
run 3 "$G" --image mem.img dump keep.core 0x200000 16
err_has "dump: nothing to dump: 0x200000-0x20000f is not in any region"
err_has "'keep.core' is unchanged"
check "a failed dump leaves the old file" cmp -s out.core keep.core
check "no temporary files are left" [ -z "$(ls -A . | grep '^\.')" ]
# Files that are not dumps.
run 5 "$G" --image mem.img restore rand.bin
err_has "'rand.bin' is not a dump guestmem can read: not an ELF file"
run 5 "$G" --core mem.img info
run 5 "$G" --image mem.img restore nosuch.core
err_has "cannot open dump 'nosuch.core'"
head -c 100 out.core >trunc.core
run 5 "$G" --core trunc.core info
err_has "program headers past the end of the file"
run 2 "$G" --core part.core --image mem.img info
err_has "overlaps"

# ---- progress: only on a terminal, or when asked ----
run 0 "$G" --anon 4M dump -q quiet.core
err_lines 0
run 0 "$G" --anon 4M --progress dump -q loud.core
err_has "dump     ["
run 0 "$G" --anon 4M search --progress -m 1 -t u8 0
err_has "search   ["

# ---- several commands, and failures in a chain ----
run 3 "$G" --anon 64K write 0 1 \; read 0x10000 \; read 0
out_is ""
run 1 "$G" --anon 64K search zz \; read 0
out_is ""

finish
