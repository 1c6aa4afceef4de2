/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-xen's guest layer: what the benchmark (bench-xen.c) needs of the
 * machine it runs on, in one place, so that the same benchmark runs on the
 * project's Xen simulator and on real Xen.  Two implementations, one per
 * program, chosen at build time:
 *
 *   bench-xen-sim.c   bench/bench-xen: a simulated 1 GiB HVM domain
 *                     (tests/xensim), linked instead of the Xen libraries;
 *   bench-xen-real.c  bench/bench-xen-real: the real Xen libraries and the
 *                     domain whose id is in GM_XEN_DOMID, inside the xen-qemu
 *                     harness's dom0 (tests/xen-qemu).
 *
 * Everything else (the workloads, the configurations, the library and raw
 * libxenforeignmemory calls, the timing, the output) is common.
 */
#ifndef BENCH_XEN_GUEST_H
#define BENCH_XEN_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* The guest the benchmark reads, as guest_open() found or made it. */
struct guest {
	uint32_t domid;
	uint64_t base;		/* guest address of the RAM used, 1 MiB-aligned */
	uint64_t size;		/* bytes of it from there, whole MiBs */
	const char *kind;	/* "simulated", "real Xen" */
	const char *counter;	/* prefix of the map-call count lines */
	char note[512];		/* a "#" line for the output, or "" */
};

extern struct guest guest;

/*
 * Make or find the guest and fill in @guest.  Ends the program with a
 * message (die()) when there is none.
 */
void guest_open(void);

/*
 * Copy the guest's own bytes at [@gpa, @gpa + @len), within one page, into
 * @buf, without going through libguestmem: the oracle that every
 * configuration's reads are checked against.
 */
void guest_read(uint64_t gpa, void *buf, size_t len);

/*
 * Calls of xenforeignmemory_map and _map2 (added up) and of
 * xenforeignmemory_unmap that the process has made so far, counted
 * independently of the library.
 */
void guest_counts(uint64_t *maps, uint64_t *unmaps);

/*
 * Have the guest grant this process its pages at the guest addresses
 * @gpas[0 .. @n) (page-aligned), read-write, as a blkif frontend grants
 * its persistent grants; the refs go to @refs.  Return 0, or -EOPNOTSUPP
 * where the guest layer cannot make the guest grant anything (real Xen:
 * the guest's own kernel owns its grant table).
 */
int guest_grant(const uint64_t *gpas, unsigned int n, uint32_t *refs);

/*
 * Calls of xengnttab's map functions (added up) and of
 * xengnttab_grant_copy that the process has made so far, counted
 * independently of the library; 0 and 0 where guest_grant() fails.
 */
void guest_grant_counts(uint64_t *maps, uint64_t *copies);

/* Print the totals over the whole run: "<counter>.* value unit" lines. */
void guest_report(void);

/*
 * Tear the guest down once every handle is closed; print what was left
 * over ("<counter>.leaks") and return how much (0: nothing).
 */
int guest_close(void);

/* Print what failed (and gm_last_error() if @err) and exit with status 1. */
__attribute__((noreturn)) void die(const char *what, int err);

#endif /* BENCH_XEN_GUEST_H */
