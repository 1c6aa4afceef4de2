#!/bin/bash
# Build what the real-Xen harness boots: the raw Xen ELF, the dom0 kernel,
# the dom0 initramfs (busybox, the Xen toolstack from the host's
# xen-utils-4.17, the test programs and every library they load) and the
# PVH guest's initramfs (busybox, guest-helper, xen-gntalloc,
# xen-blkfront).
#
# Usage: build-initramfs.sh -k KROOT -o OUTDIR [-g GUEST_HELPER] [-x TOOL]...
#                           TEST...
#   -k KROOT   folder holding boot/vmlinuz-<kver>, boot/xen-4.17-amd64.gz and
#              lib/modules/<kver>/ (run.sh extracts Debian's packages there)
#   -o OUTDIR  where xen, vmlinuz, dom0.cpio.gz and guest.cpio.gz are written
#   -g FILE    a static guest-helper; built here with ${CC:-gcc} if absent
#   -x TOOL    a program the tests use (e.g. the example block backend),
#              put in /tests/<basename> with its libraries but not run
#   TEST       programs dom0 runs in order, each once, as /tests/<basename>;
#              ELF executables (static or dynamic) or scripts for busybox sh
#
# Environment: GM_PATTERN_PAGES, GM_GRANT_PAGES (guest-helper), GM_GUEST_MEM
# (guest memory in MiB, default 256), GM_QDISK=1 (opt-in, never in CI:
# QEMU's own qdisk backend serves the guest a disk xvdd from boot, for the
# throughput comparison of README.md's "The block test"; realxen-qdisk.sh
# becomes the first test).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XEN_BIN=/usr/lib/xen-4.17/bin
LIBDIR=/lib/x86_64-linux-gnu

die() {
	echo "build-initramfs: error: $*" >&2
	exit 1
}
note() { echo "build-initramfs: $*"; }

usage() {
	sed -n '8,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

KROOT='' OUT='' HELPER='' TOOLS=()
while getopts k:o:g:x:h opt; do
	case $opt in
	k) KROOT=$OPTARG ;;
	o) OUT=$OPTARG ;;
	g) HELPER=$OPTARG ;;
	x) TOOLS+=("$OPTARG") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ -n $KROOT && -n $OUT ]] || usage
(($# > 0)) || die "no test programs given"

KVER=$(find "$KROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
	sort -V | tail -n 1)
[[ -n $KVER ]] || die "no kernel modules under $KROOT/lib/modules"
MODDIR=$KROOT/lib/modules/$KVER/kernel/drivers/xen
BLKFRONT=$KROOT/lib/modules/$KVER/kernel/drivers/block/xen-blkfront.ko
for f in "$KROOT/boot/vmlinuz-$KVER" "$KROOT/boot/xen-4.17-amd64.gz" \
	"$MODDIR/xen-gntalloc.ko" "$BLKFRONT"; do
	[[ -f $f ]] || die "missing $f"
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$OUT/stage
rm -rf "$STAGE"
mkdir -p "$STAGE"

# QEMU's multiboot loader wants the raw ELF, not the gzip Debian ships.
zcat "$KROOT/boot/xen-4.17-amd64.gz" >"$OUT/xen.tmp"
mv "$OUT/xen.tmp" "$OUT/xen"
cp "$KROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz"

is_elf() { [[ $(head -c 4 "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }

# copy_libs ROOT FILE: copy the shared libraries ldd resolves for FILE to
# the same paths under ROOT.  A library ldd cannot find is an error here,
# not a confusing failure inside dom0.
copy_libs() {
	local root=$1 f=$2 lib deps
	is_elf "$f" || return 0
	deps=$(ldd "$f" 2>&1) || {
		# Static executables make ldd fail; that is fine.
		[[ $deps == *"not a dynamic executable"* ]] && return 0
		die "ldd $f: $deps"
	}
	if grep -q 'not found' <<<"$deps"; then
		die "$f needs libraries that are missing here:" \
			"$(grep 'not found' <<<"$deps" | tr -s ' \t' ' ')"
	fi
	while read -r lib; do
		[[ -n $lib && ! -e $root$lib ]] || continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		      $1 ~ /^\// { print $1 }' <<<"$deps")
}

# copy_with_libs ROOT FILE...: copy each file to the same path under ROOT,
# with its libraries.
copy_with_libs() {
	local root=$1 f
	shift
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
		copy_libs "$root" "$f"
	done
}

mk_busybox_root() {	# mk_busybox_root ROOT
	local r=$1 a
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc,root}
	mkdir -p "$r"/{var/lib,var/log,var/lock,lib,lib64}
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[[ -e $r/bin/$a ]] || ln -s busybox "$r/bin/$a"
	done
	ln -sfn ../run "$r/var/run"
}

mk_cpio() {	# mk_cpio ROOT OUTFILE
	# Sorted and owned by root, whoever builds it.
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio -o -0 -H newc -R 0:0 --quiet | gzip -1) >"$2.tmp"
	mv "$2.tmp" "$2"
}

# ---- the guest ----
if [[ -z $HELPER ]]; then
	HELPER=$OUT/guest-helper
	note "building $HELPER"
	"${CC:-gcc}" -std=gnu11 -O2 -Wall -Wextra -static -o "$HELPER" \
		"$HERE/guest-helper.c" -lxengnttab -lxenstore -lxentoollog \
		-lxentoolcore -lpthread ||
		die "cannot build guest-helper (needs libxen-dev's static libraries)"
fi
[[ -x $HELPER ]] || die "$HELPER is not an executable"
if ldd "$HELPER" >/dev/null 2>&1; then
	die "$HELPER must be linked statically (the guest has no libraries)"
fi

G=$STAGE/guest
mk_busybox_root "$G"
install -m 0755 "$HERE/init-guest.sh" "$G/init"
install -m 0755 "$HELPER" "$G/bin/guest-helper"
mkdir -p "$G/lib/modules"
cp "$MODDIR/xen-gntalloc.ko" "$BLKFRONT" "$G/lib/modules/"
mk_cpio "$G" "$OUT/guest.cpio.gz"

# ---- dom0 ----
R=$STAGE/dom0
mk_busybox_root "$R"
copy_with_libs "$R" "$XEN_BIN/xl" "$XEN_BIN/xenstored" \
	"$XEN_BIN/xenconsoled" "$XEN_BIN/xen-init-dom0" \
	/usr/bin/xenstore-read /usr/bin/xenstore-write /usr/bin/xenstore-ls \
	/usr/bin/xenstore-list /usr/bin/xenstore-rm /usr/bin/xenstore-chmod \
	/usr/bin/xenstore-exists
# glibc loads libgcc_s at run time (pthread_cancel, backtraces); ldd cannot
# see that and xl aborts without it.
copy_with_libs "$R" "$LIBDIR/libgcc_s.so.1"

mkdir -p "$R/tests" "$R/etc/guestmem"
: >"$R/etc/guestmem/tests"
names=()
# check_prog FILE: an executable dom0 can run, not yet in /tests.
check_prog() {
	local t=$1 name
	name=$(basename "$t")
	[[ -f $t && -x $t ]] || die "test program $t is not an executable file"
	[[ ! -e $R/tests/$name ]] || die "two test programs named $name"
	if ! is_elf "$t"; then
		if head -n 5 "$t" | grep -q 'libtool'; then
			die "$t is a libtool wrapper script; link the test with" \
				"-no-install or -static so that it is a real executable"
		fi
		head -c 2 "$t" | grep -q '#!' || die "$t: neither ELF nor a script"
	fi
}
for t in "${TOOLS[@]}"; do
	check_prog "$t"
	cp -L "$t" "$R/tests/$(basename "$t")"
	copy_libs "$R" "$t"
done
# GM_QDISK=1: QEMU (qemu-system-xen) as libxl's PV device model, serving
# xvdd with its qdisk backend; realxen-qdisk.sh checks that disk first,
# before any test attaches another (the guest's checks run one at a time).
QDISK_DISK=
if [[ ${GM_QDISK:-0} == 1 ]]; then
	QEMU_DM=/usr/libexec/xen-qemu-system-i386
	[[ -x $QEMU_DM ]] || die "GM_QDISK=1 needs $QEMU_DM (qemu-system-xen)"
	copy_with_libs "$R" "$QEMU_DM"
	# libxl gives a PV device model "-vnc none", and QEMU still loads
	# its keyboard map (a plain file, no includes) or exits.
	copy_with_libs "$R" /usr/share/qemu/keymaps/en-us
	: >"$R/etc/guestmem/qdisk"
	QDISK_DISK="disk = [ 'format=raw,vdev=xvdd,access=rw,backendtype=qdisk,target=/tmp/disk-xvdd.img' ]"
	set -- "$HERE/realxen-qdisk.sh" "$@"
fi
for t in "$@"; do
	check_prog "$t"
	name=$(basename "$t")
	cp -L "$t" "$R/tests/$name"
	copy_libs "$R" "$t"
	echo "$name" >>"$R/etc/guestmem/tests"
	names+=("$name")
done

mkdir -p "$R/lib/modules/$KVER"
for m in xen-evtchn xen-privcmd xenfs/xenfs xen-gntdev xen-gntalloc; do
	cp "$MODDIR/$m.ko" "$R/lib/modules/$KVER/"
done
echo "$KVER" >"$R/etc/kver"
install -m 0755 "$HERE/init-dom0.sh" "$R/init"

mkdir -p "$R/etc/xen" "$R/var/lib/xen" "$R/var/log/xen" "$R/boot"
: >"$R/etc/xen/xl.conf"
cp "$OUT/vmlinuz" "$R/boot/vmlinuz"
cp "$OUT/guest.cpio.gz" "$R/boot/guest.cpio.gz"
extra="console=hvc0 rdinit=/init quiet"
[[ -z ${GM_PATTERN_PAGES:-} ]] || extra+=" gm_pattern_pages=$GM_PATTERN_PAGES"
[[ -z ${GM_GRANT_PAGES:-} ]] || extra+=" gm_grant_pages=$GM_GRANT_PAGES"
cat >"$R/etc/xen/gm-guest.cfg" <<EOF
# The PVH test guest: no network, no disk (but GM_QDISK's), just a kernel
# and an initramfs.
name = "gm-guest"
type = "pvh"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/guest.cpio.gz"
extra = "$extra"
memory = ${GM_GUEST_MEM:-256}
vcpus = 1
on_crash = "preserve"
$QDISK_DISK
EOF
mk_cpio "$R" "$OUT/dom0.cpio.gz"
rm -rf "$STAGE"

note "kernel $KVER; dom0 runs: ${names[*]}"
for f in xen vmlinuz dom0.cpio.gz guest.cpio.gz; do
	printf 'build-initramfs: %10d %s\n' "$(stat -c %s "$OUT/$f")" "$OUT/$f"
done
