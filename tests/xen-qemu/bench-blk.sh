#!/bin/bash
# The one-off throughput comparison of README.md's "The block test": the
# guest's dd through libguestmem's example backend (xvda: grant-list
# leases, xvdc: grant copy) and through QEMU's own qdisk backend (xvdd),
# in one boot of the harness with GM_QDISK=1.  By hand ("make
# bench-blk-qemu"), never in make check or CI: under QEMU's software
# emulation only the ratios between the disks mean something.
#
# Usage: bench-blk.sh [-r RUNS] [-w WORKDIR] [-o OUT] [-x TOOL]... TEST...
#        bench-blk.sh -t LOG...
#   -r RUNS    boots of the harness, one after the other (default 1)
#   -w DIR     work folder; boot i uses DIR/run-i (default:
#              ${TMPDIR:-/tmp}/guestmem-bench-blk)
#   -o FILE    where the result lines and the table go (default:
#              WORKDIR/bench-blk.out); also printed
#   -t LOG...  no boot: the table of existing run.sh logs
#   -x TOOL, TEST  for run.sh: the example backend and realxen-blk
#              (GM_QDISK=1 puts realxen-qdisk.sh before the tests)
#
# Exit status: run.sh's of the last boot that failed, else 0.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNS=1 WORK=${TMPDIR:-/tmp}/guestmem-bench-blk OUT='' TABLE_ONLY=0 TOOLS=()

usage() {
	sed -n '9,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while getopts r:w:o:x:th opt; do
	case $opt in
	x) TOOLS+=(-x "$OPTARG") ;;
	r) RUNS=$OPTARG ;;
	w) WORK=$OPTARG ;;
	o) OUT=$OPTARG ;;
	t) TABLE_ONLY=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))

# lines LOG: the guest's results and the tests' facts about the disks,
# from the console part of a run.sh log (each line once).
lines() {
	sed -n 's/^\[q *[0-9.]*\] //p' "$1" |
		grep -aE '^(guest\| gm-blk: xvd[a-z] done |# fact: blk )'
}

# table LOG...: MiB/s per disk and run, from the "# fact: blk" lines
# ("# fact: blk xvda lease: guest wrote 16 MiB in 1.2 s, read in 3.4 s"),
# with the ratios to qdisk's figure of the same run, then the mean over
# the runs of each figure and its ratio, and the median of each column
# (of the ratios of each run, not a ratio of medians): one busy moment on
# the host moves a mean, rarely a median.
table() {
	local log run=0
	for log in "$@"; do
		run=$((run + 1))
		lines "$log" | sed -n "s/^# fact: blk /$run /p"
	done | awk '
	function rate(mib, s) { return s > 0 ? mib / s : 0 }
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
	# median(A, N): the median of A[1..N] (sorts A).
	function median(A, N,    i, j, t) {
		if (N == 0) return "-"
		for (i = 2; i <= N; i++)
			for (j = i; j > 1 && A[j - 1] > A[j]; j--) {
				t = A[j]; A[j] = A[j - 1]; A[j - 1] = t
			}
		return sprintf("%.2f", N % 2 ? A[(N + 1) / 2] : \
			(A[N / 2] + A[N / 2 + 1]) / 2)
	}
	{
		# "run disk mode: guest wrote M MiB in W s, read in R s",
		# counted from the end: whatever words come between.
		run = $1; disk = $2; sub(/:$/, "", disk)
		mode = $(NF - 11); sub(/:$/, "", mode)
		w = rate($(NF - 8), $(NF - 5)); r = rate($(NF - 8), $(NF - 1))
		key = disk " " mode
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
		W[run, key] = w; R[run, key] = r; has[run, key] = 1
		if (mode == "qdisk") { QW[run] = w; QR[run] = r }
		SW[key] += w; SR[key] += r; C[key]++
		runs[run] = 1; if (run > last) last = run
	}
	END {
		printf "%-4s %-5s %-6s %12s %12s %12s %12s\n", "run", "disk", \
			"via", "write MiB/s", "read MiB/s", "write/qdisk", \
			"read/qdisk"
		for (run = 1; run <= last; run++)
			for (i = 1; i <= n; i++) {
				key = order[i]
				if (!has[run, key]) continue
				split(key, k, " ")
				printf "%-4s %-5s %-6s %12.2f %12.2f %12s %12s\n", \
					run, k[1], k[2], W[run, key], R[run, key], \
					ratio(W[run, key], QW[run]), \
					ratio(R[run, key], QR[run])
			}
		q = ""
		for (i = 1; i <= n; i++) {
			split(order[i], k, " ")
			if (k[2] == "qdisk") q = order[i]
		}
		for (i = 1; i <= n; i++) {
			key = order[i]
			split(key, k, " ")
			mw = SW[key] / C[key]; mr = SR[key] / C[key]
			printf "%-4s %-5s %-6s %12.2f %12.2f %12s %12s\n", \
				"mean", k[1], k[2], mw, mr, \
				q == "" ? "-" : ratio(mw, SW[q] / C[q]), \
				q == "" ? "-" : ratio(mr, SR[q] / C[q])
		}
		for (i = 1; i <= n; i++) {
			key = order[i]
			split(key, k, " ")
			split("", a); split("", b); split("", c); split("", d)
			na = nc = 0
			for (run = 1; run <= last; run++) {
				if (!has[run, key]) continue
				a[++na] = W[run, key]; b[na] = R[run, key]
				if (QW[run] > 0 && QR[run] > 0) {
					c[++nc] = W[run, key] / QW[run]
					d[nc] = R[run, key] / QR[run]
				}
			}
			printf "%-4s %-5s %-6s %12s %12s %12s %12s\n", \
				"med", k[1], k[2], median(a, na), median(b, na), \
				median(c, nc), median(d, nc)
		}
	}'
}

if ((TABLE_ONLY)); then
	(($# > 0)) || usage
	table "$@"
	exit
fi

mkdir -p "$WORK" || exit 2
OUT=${OUT:-$WORK/bench-blk.out}
logs=() loads=() rc=0
for ((i = 1; i <= RUNS; i++)); do
	loads+=("$(cut -d' ' -f1-3 /proc/loadavg)")
	echo "bench-blk: boot $i of $RUNS, load average ${loads[i - 1]}," \
		"log $WORK/run-$i/run.log"
	GM_QDISK=1 "$HERE/run.sh" -w "$WORK/run-$i" "${TOOLS[@]}" "$@" \
		>"$WORK/run-$i.out" 2>&1 || rc=$?
	grep -a '^\[ *[0-9.]*\] xen-qemu: \(PASS\|FAIL\|[0-9]* passed\)' \
		"$WORK/run-$i.out"
	logs+=("$WORK/run-$i/run.log")
done
{
	echo "# bench-blk: $(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS boot(s)" \
		"on $(nproc) CPUs, QEMU ${XQ_ACCEL:-tcg}: compare ratios only"
	for ((i = 1; i <= RUNS; i++)); do
		echo "# run $i: load average before the boot: ${loads[i - 1]}"
		lines "${logs[i - 1]}" | sed "s/^/# run $i: /"
	done
	table "${logs[@]}"
} >"$OUT"
cat "$OUT"
echo "bench-blk: run.sh exit $rc; the lines are in $OUT"
exit "$rc"
