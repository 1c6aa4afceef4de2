#!/bin/bash
# guestmem(1) on Xen targets, run on the Xen simulator: the test build
# tests/guestmem-xensim is the same tool linked with tests/libxensim.la,
# and GUESTMEM_XENSIM_SETUP creates the simulated domains and grants
# before it runs (see tests/xensim-setup.c).  Each run of the tool is a
# new simulated machine: data written is read back within one run (';').
set -u
. "${top_srcdir:-.}/tests/cli-lib.sh"

X="$(cd "$top_builddir" && pwd)/tests/guestmem-xensim"
if [ ! -x "$X" ]; then
	echo "SKIP: $X not built (needs --with-xen and cmocka)"
	exit 77
fi
exec_via X
cd "$T"
export GUESTMEM_XENSIM_SETUP

# Domain 5: 64 frames, "hello xen" at 0x2000, frame 3 refused by Xen
# (EFAULT: a failure; EINVAL would be a frame with no page, a hole),
# frames 16-19 granted to dom0 as refs 8-11 (so ref 8 is 0x10000).
GUESTMEM_XENSIM_SETUP='domain=5,64;grant=5,16,4;badframe=5,3,14;poke=5,0x2000,hello xen;poke=5,0x10010,granted'

# ---- a whole domain ----
run 0 "$X" --xen-domid 5 info
out_is "space 'domain-5': 1 region, 256 KiB
  START       LAST        SIZE       ACCESS BACKEND      SOURCE
  0x00000000  0x0003ffff  256 KiB    ro     xen-foreign  domain 5 frames 0x0-0x3f"
run 0 "$X" --xen-domid 5 info --json
out_is '{"space":"domain-5","regions":[{"start":"0x0","last":"0x3ffff","size":262144,"writable":false,"backend":"xen-foreign","source":"domain 5 frames 0x0-0x3f"}],"holes":[],"bytes":262144}'
run 0 "$X" --xen-domid 5 read -t bytes 0x2000 9 -o hello.bin
check "read a foreign frame" cmp -s hello.bin <(printf 'hello xen')
run 0 "$X" --xen-domid 5 write -t le64 0x5000 0x1122334455667788 \; \
	read -t le64 0x5000 \; read -t be32 0x5000
out_is "0x00005000: 0x1122334455667788
0x00005000: 0x88776655"
run 0 "$X" --xen-domid 5 fill 0x6000 0x2000 0xee \; copy 0x6ffe 0x20000 4 \; \
	hexdump 0x20000 16
out_is "0x00020000  ee ee ee ee 00 00 00 00  00 00 00 00 00 00 00 00  |................|"
run 6 "$X" --xen-domid 6 info
err_has "cannot open domain 6: gm_xen_space_open_domain: domain 6 does not exist"
run 2 "$X" --xen-domid 5 --xen-domid 5 info
err_has "--xen-domid may be given once"
run 2 "$X" --xen-domid 5x info
run 2 "$X" --xen-cache 1000 --xen-domid 5 info
err_has "--xen-cache 1000"
run 0 "$X" --xen-cache 64K --xen-domid 5 search 'hello xen'
out_is "0x00002000"

# ---- a frame Xen refuses ----
run 3 "$X" --xen-domid 5 read 0x2ffc 2
err_has "guest memory 'domain-5': read error: failed to access 0x2ffc-0x3004 at 0x3000"
run 3 "$X" --xen-domid 5 read 0x3000
err_has "at 0x3000: xen-foreign cannot map it: Bad address"
run 7 "$X" --xen-domid 5 hexdump 0x2ff0 0x30
out_is "0x00002ff0  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
0x00003000  -- unreadable: Bad address, 32 bytes up to 0x3020 --"
# search skips the page: found elsewhere is success, not found is partial.
run 0 "$X" --xen-domid 5 search 'hello'
out_is "0x00002000"
err_has "0x3000-0x3fff: Bad address"
run 7 "$X" --xen-domid 5 search 'not there'
out_is ""
err_has "4 KiB in 1 range could not be read and was not searched"
run 0 "$X" --xen-domid 5 search --json -t hex '68 65'
out_is '{"matches":["0x2000"],"count":1,"complete":true,"pattern":"6865","start":"0x0","last":"0x3ffff","searched":258048,"unreadable":[{"start":"0x3000","last":"0x3fff","size":4096,"error":"Bad address"}]}'
# A write across the bad frame stops there and says what it wrote.
head -c 12288 /dev/zero | tr '\0' A >a.bin
run 3 "$X" --xen-domid 5 write -t bytes -i a.bin 0x2000
err_has "write: 4 KiB of 12 KiB written (0x2000-0x3000); 0x3000-0x5000 is unchanged"
run 3 "$X" --xen-domid 5 copy 0x2800 0x1000 0x2000
err_has "copy: nothing was written"

# ---- dump and restore a domain with a bad frame ----
run 7 "$X" --xen-domid 5 dump d.core
out_is "dumped 0x0-0x3ffff to 'd.core': 252 KiB in 2 segments
  unreadable  0x3000-0x3fff  4 KiB  Bad address"
err_has "dump: 4 KiB inside regions could not be read; the dump records it as unreadable"
run 0 "$X" --core d.core info
out_has "0x00000000  0x00002fff  12 KiB     ro     unix         dump 'd.core' segment 1"
out_has "0x00003000  0x00003fff  4 KiB      -      hole"
out_has "0x00004000  0x0003ffff  240 KiB    ro     unix         dump 'd.core' segment 2"
out_has "  space domain-5"
out_has "  unreadable when dumped: 0x3000-0x3fff (4 KiB): Bad address"
run 0 "$X" --core d.core search 'hello xen' \; search granted
out_is "0x00002000
0x00010010"
run 7 "$X" --xen-domid 5 dump --json dj.core
out_is '{"file":"dj.core","start":"0x0","last":"0x3ffff","segments":2,"bytes":258048,"holes":[],"unpopulated":[],"unreadable":[{"start":"0x3000","last":"0x3fff","size":4096,"errno":14,"error":"Bad address"}],"unreadable_bytes":4096,"complete":false}'
run 0 "$X" --xen-domid 5 fill 0 0x3000 0 \; fill 0x4000 0x3c000 0 \; \
	read -t u8 0x2000 \; restore d.core \; search 'hello xen'
out_is "0x00002000: 0x00
restored 'd.core': 252 KiB in 2 segments
  4 KiB recorded unreadable when dumped was left unchanged
0x00002000"
# A domain that goes away mid-dump (ESRCH) ends it: no file is left.
GUESTMEM_XENSIM_SETUP='domain=5,64;badframe=5,10,3' \
	run 6 "$X" --xen-domid 5 dump gone.core
err_has "at 0xa000: xen-foreign cannot map it: No such process"
err_has "dump: no dump written; 'gone.core' is unchanged"
check "no dump file after a failed dump" [ ! -e gone.core ]
check "no temporary file after a failed dump" [ -z "$(ls -A . | grep '^\.')" ]
# HVM guests: the maximum gpfn is past the populated frames, and the
# physmap has holes: each run of RAM is a region, the rest are holes, and
# a healthy guest's dump is complete (exit 0).
GUESTMEM_XENSIM_SETUP='domain=7,64;maxgpfn=7,0xff;hole=7,0x10,1;hole=7,0x20,0x10;poke=7,0x11000,after the hole' \
	run 0 "$X" --xen-domid 7 info
out_is "space 'domain-7': 3 regions, 188 KiB
  START       LAST        SIZE       ACCESS BACKEND      SOURCE
  0x00000000  0x0000ffff  64 KiB     ro     xen-foreign  domain 7 frames 0x0-0xf
  0x00010000  0x00010fff  4 KiB      -      hole
  0x00011000  0x0001ffff  60 KiB     ro     xen-foreign  domain 7 frames 0x11-0x1f
  0x00020000  0x0002ffff  64 KiB     -      hole
  0x00030000  0x0003ffff  64 KiB     ro     xen-foreign  domain 7 frames 0x30-0x3f"
GUESTMEM_XENSIM_SETUP='domain=7,64;maxgpfn=7,0xff;hole=7,0x10,1;hole=7,0x20,0x10;poke=7,0x11000,after the hole' \
	run 0 "$X" --xen-domid 7 dump --json hvm.core
out_is '{"file":"hvm.core","start":"0x0","last":"0x3ffff","segments":3,"bytes":192512,"holes":[{"start":"0x10000","last":"0x10fff","size":4096},{"start":"0x20000","last":"0x2ffff","size":65536}],"unpopulated":[],"unreadable":[],"unreadable_bytes":0,"complete":true}'
run 0 "$X" --core hvm.core search 'after the hole'
out_is "0x00011000"
# A frame given back after the physmap was read (a map gives -EINVAL):
# a hole, not a failure; a real failure (EFAULT) still exits 7.
GUESTMEM_XENSIM_SETUP='domain=7,16;badframe=7,5' \
	run 0 "$X" --xen-domid 7 dump gb.core
out_is "dumped 0x0-0xffff to 'gb.core': 60 KiB in 2 segments
  unpopulated 0x5000-0x5fff  4 KiB  no page: given back by the guest"
GUESTMEM_XENSIM_SETUP='domain=7,16;badframe=7,5' \
	run 1 "$X" --xen-domid 7 search 'not there'
GUESTMEM_XENSIM_SETUP='domain=7,16;badframe=7,5,14' \
	run 7 "$X" --xen-domid 7 dump gb.core
err_has "dump: 4 KiB inside regions could not be read"

# ---- grant refs ----
run 0 "$X" --xen-grant 5:8,4 info
out_has "0x8000000000008000  0x800000000000bfff  16 KiB     ro     xen-grant    domain 5 grant refs 8-11"
run 0 "$X" --xen-grant 5:8,4 read -t bytes 0x8000000000008010 7 -o g.bin \; \
	search granted
out_is "0x8000000000008010"
check "read through a grant" cmp -s g.bin <(printf 'granted')
# The grant and the domain's own frame are the same memory.
run 0 "$X" --xen-domid 5 --xen-grant 5:8,4 \
	write -t string 0x8000000000009000 'via grant' \; \
	read -t bytes 0x11000 9 -o alias.bin \; info
out_has "0x0000000000040000  0x8000000000007fff  8.0 EiB    -      hole"
check "a grant write shows in the domain" cmp -s alias.bin <(printf 'via grant')
run 3 "$X" --xen-grant 5:100 read 0x8000000000064000
err_has "at 0x8000000000064000: xen-grant cannot map it: Invalid argument"
run 3 "$X" --xen-grant 5:8,4 read 0x800000000000c000
err_has "no region"
GUESTMEM_XENSIM_SETUP='domain=5,8;grant=5,1,1,ro' \
	run 3 "$X" --xen-grant 5:8 write -t u8 0x8000000000008000 1
err_has "write: nothing was written"
run 0 "$X" --xen-grant 5:8,4 dump -q g.core \; restore -q g.core
out_is ""
run 2 "$X" --xen-grant 5:8,0 info
run 2 "$X" --xen-grant 5:x info

# ---- the test hook itself ----
GUESTMEM_XENSIM_SETUP='bogus=1' run 2 "$X" --xen-domid 5 info
err_has "GUESTMEM_XENSIM_SETUP: 'bogus=1'"

finish
