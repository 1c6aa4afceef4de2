#!/bin/sh
# realxen-cli.sh: guestmem(1) against the xen-qemu harness's test guest,
# in dom0 (busybox sh, TAP).  info, read, search and dump of the running
# guest, checked against the pattern frames it publishes; the dump's
# pattern frames compared page by page with those of "xl dump-core"'s core
# of the same guest; and a dump after "xl mem-set" shrank it (given-back
# frames are holes: exit 0).  The guest is set back to its size at the end.
# $1: the guestmem binary (default /tests/guestmem: the CLI linked with the
# library's core, which the harness puts there, XEN_QEMU_TOOLS), $2: the
# core comparer (default: dumpcmp next to it, dumpcmp.c).
# GM_XEN_DOMID: the guest.
# dom0's files live in its RAM (the initramfs): both cores of the 256 MiB
# guest at once need about 600 MiB of it, see run.sh's dom0_mem.
G=${1:-/tests/guestmem}
CMP=${2:-$(dirname "$G")/dumpcmp}
[ -x "$G" ] || { echo "Bail out! $G is missing"; exit 1; }
[ -x "$CMP" ] || { echo "Bail out! $CMP is missing"; exit 1; }
D=${GM_XEN_DOMID:?GM_XEN_DOMID is not set}
XS=/local/domain/$D/data/guestmem
n=0
fail=0

ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
}
diag() { sed 's/^/# /'; }
up() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(up) $1" | awk '{ printf "%.1f", $1 - $2 }'; }
mem_mib() { xl list "$D" | awk 'NR == 2 { print $3 }'; }
avail_mib() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }

# ---- info: the RAM runs and the holes between them ----
out=$("$G" --xen-domid "$D" info 2>&1)
ok $? "info"
echo "$out" | diag
nreg=$(echo "$out" | grep -c 'xen-foreign')
[ "$nreg" -ge 2 ]
ok $? "info lists the guest's RAM runs ($nreg regions)"
echo "$out" | grep -q ' hole'
ok $? "info lists the holes between them"

# ---- read and search: a pattern word, where the guest says it is ----
runs=$(xenstore-read "$XS/pattern/runs/0")
first=${runs%% *}
gfn=$((0x${first%%+*}))
magic=$(xenstore-read "$XS/magic")
addr=$(((gfn << 12) | 8))
want=$(printf '0x%016x' $((addr ^ 0x${magic#0x})))
ahex=$(printf '0x%x' "$addr")
out=$("$G" --xen-domid "$D" read -t le64 "$ahex" 2>&1)
ok $? "read a pattern word at $ahex"
[ "${out##*: }" = "$want" ]
ok $? "it is the guest's ($out, expected $want)"
hex=
w=$((addr ^ 0x${magic#0x}))
for i in 0 1 2 3 4 5 6 7; do
	hex="$hex $(printf '%02x' $(((w >> (8 * i)) & 255)))"
done
t0=$(up)
out=$("$G" --xen-domid "$D" search -m 1 -t hex "$hex" 2>&1)
rc=$?
echo "search took $(since "$t0") s: $out" | diag
[ $rc -eq 0 ] && echo "$out" | grep -qi "^0x0*${ahex#0x}\$"
ok $? "search finds it at $ahex"

# ---- dump: complete (exit 0), and the core holds the pattern ----
t0=$(up)
"$G" --xen-domid "$D" dump /tmp/rc.core >/tmp/rc.out 2>&1
rc=$?
gm_secs=$(since "$t0")
echo "dump took $gm_secs s, exit $rc" | diag
diag </tmp/rc.out
ok $rc "dump of the healthy guest exits 0"
out=$("$G" --core /tmp/rc.core read -t le64 "$ahex" 2>&1)
[ "${out##*: }" = "$want" ]
ok $? "the dump holds the pattern word ($out)"

# ---- the same frames in xl dump-core's core, page by page ----
# xl dump-core of the running guest, while the sampler keeps the lowest
# MemAvailable dom0 had (its files are in its RAM).  Then every pattern
# frame is looked up in both cores and must be equal, and hold its pattern
# (two equal pages of zeros would not do).
xl info | grep -E '^(total|free)_memory' | diag
grep -E '^Mem(Total|Available):' /proc/meminfo | diag
avail0=$(avail_mib)
low=$avail0
t0=$(up)
xl dump-core "$D" /tmp/xl.core >/tmp/xl.out 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
	m=$(avail_mib)
	[ "$m" -lt "$low" ] && low=$m
	sleep 1
done
wait $pid
rc=$?
xl_secs=$(since "$t0")
echo "xl dump-core took $xl_secs s, exit $rc; dom0 MemAvailable" \
	"$avail0 MiB before, lowest $low MiB during" | diag
diag </tmp/xl.out
ls -ls /tmp/rc.core /tmp/xl.core 2>&1 | diag
ok $rc "xl dump-core of the guest"
echo "# fact: dump-core guestmem=${gm_secs}s xl=${xl_secs}s" \
	"dom0-avail-low=${low}MiB"
pages=$(xenstore-read "$XS/pattern/pages")
nruns=$(xenstore-read "$XS/pattern/nr-runs")
runs=
k=0
while [ -n "$nruns" ] && xenstore-read "$XS/pattern/runs/$k" >/tmp/xl.runs \
	2>/dev/null; do
	runs="$runs $(cat /tmp/xl.runs)"
	k=$((k + 1))
done
# shellcheck disable=SC2086 # the runs are words
set -- $runs
[ $# -eq "$nruns" ]
ok $? "the guest's $nruns runs of pattern frames read ($# in $k chunks)"
out=$("$CMP" /tmp/xl.core /tmp/rc.core "$@" 2>&1)
rc=$?
echo "$out" | diag
[ $rc -eq 0 ] && echo "$out" |
	grep -q "^dumpcmp: $pages frames: $pages equal, $pages with the pattern"
ok $? "all $pages pattern frames are equal in both cores, and the pattern"
rm -f /tmp/rc.core /tmp/rc.out /tmp/xl.core /tmp/xl.out /tmp/xl.runs

# ---- balloon: shrink by 64 MiB; a fresh dump sees holes, exit 0 ----
orig=$(mem_mib)
xl mem-set "$D" $((orig - 64))m
ok $? "xl mem-set $D $((orig - 64))m"
waited=0
while [ "$(mem_mib)" -gt $((orig - 60)) ] && [ $waited -lt 60 ]; do
	sleep 1
	waited=$((waited + 1))
done
echo "guest at $(mem_mib) MiB after $waited s" | diag
t0=$(up)
"$G" --xen-domid "$D" dump --json /tmp/rc.core >/tmp/rc.out 2>&1
rc=$?
echo "dump took $(since "$t0") s, exit $rc" | diag
cut -c1-400 </tmp/rc.out | diag
ok $rc "dump of the shrunk guest exits 0"
grep -q '"complete":true' /tmp/rc.out
ok $? "and is complete: the frames given back are holes"
out=$("$G" --core /tmp/rc.core read -t le64 "$ahex" 2>&1)
[ "${out##*: }" = "$want" ]
ok $? "the pattern word is still there (mlocked in the guest)"
rm -f /tmp/rc.core /tmp/rc.out
xl mem-set "$D" "${orig}m"
ok $? "xl mem-set $D ${orig}m (back)"
waited=0
while [ "$(mem_mib)" -lt $((orig - 2)) ] && [ $waited -lt 60 ]; do
	sleep 1
	waited=$((waited + 1))
done
echo "guest at $(mem_mib) MiB after $waited s" | diag

echo "1..$n"
exit $fail
