/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-xen's guest layer on real Xen: the domain whose id the xen-qemu
 * harness's dom0 exports as GM_XEN_DOMID (tests/xen-qemu), read with the
 * real Xen libraries.  bench/bench-xen-real is meant to run there only
 * ("make bench-xen-qemu"); see xen-guest.h and bench/README-xen.md.
 *
 * The guest is a running one: its RAM is found by mapping its frames (the
 * longest run that Xen maps is used), and its bytes are read for the checks
 * with this file's own libxenforeignmemory handle.  Its memory is not the
 * benchmark's to fill, so a page may change while it is checked;
 * bench-xen.c tells such a page from a wrong read.
 *
 * Map calls are counted by wrapping the libxenforeignmemory functions at
 * link time (-Wl,--wrap=xenforeignmemory_map and so on, Makefile.am): the
 * library's calls and configuration b's alike, independently of the
 * library's own statistics, as the simulator counts them in bench-xen.
 * This file's own calls go straight to the real functions, uncounted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenforeignmemory.h>

#include "xen-guest.h"

#define REAL_PAGE_SHIFT 12
#define REAL_PAGE_SIZE (UINT64_C(1) << REAL_PAGE_SHIFT)
#define MIB (UINT64_C(1) << 20)

/* Frames mapped per call while looking for the guest's RAM. */
#define PROBE_BATCH 1024

/* Look no further than this for RAM: the harness's guest has 256 MiB, and
 * the benchmark needs no more than the simulator's 1 GiB. */
#define PROBE_LIMIT (UINT64_C(1024) * MIB)

/* The least RAM the benchmark can use: its working set is 64 MiB, and W2's
 * ring and the non-fitting set need room outside it. */
#define MIN_SIZE (128 * MIB)

struct guest guest;

static xenforeignmemory_handle *own_fmem;	/* guest_read(), the probe */

/* What the wrappers counted: calls, failed calls, pages. */
static uint64_t nr_map, nr_map2, nr_unmap, nr_failed;
static uint64_t pages_mapped, pages_unmapped;

/* The real functions, which the linker's --wrap gives these names. */
void *__real_xenforeignmemory_map(xenforeignmemory_handle *fmem,
				  uint32_t dom, int prot, size_t pages,
				  const xen_pfn_t arr[], int err[]);
void *__real_xenforeignmemory_map2(xenforeignmemory_handle *fmem,
				   uint32_t dom, void *addr, int prot,
				   int flags, size_t pages,
				   const xen_pfn_t arr[], int err[]);
int __real_xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
				  size_t pages);
void *__wrap_xenforeignmemory_map(xenforeignmemory_handle *fmem,
				  uint32_t dom, int prot, size_t pages,
				  const xen_pfn_t arr[], int err[]);
void *__wrap_xenforeignmemory_map2(xenforeignmemory_handle *fmem,
				   uint32_t dom, void *addr, int prot,
				   int flags, size_t pages,
				   const xen_pfn_t arr[], int err[]);
int __wrap_xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
				  size_t pages);

/* Count one call; threads of the two-thread lines call at once. */
static void count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t counted(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void count_map(uint64_t *calls, const void *p, size_t pages)
{
	count(calls, 1);
	if (p)
		count(&pages_mapped, pages);
	else
		count(&nr_failed, 1);
}

void *__wrap_xenforeignmemory_map(xenforeignmemory_handle *fmem,
				  uint32_t dom, int prot, size_t pages,
				  const xen_pfn_t arr[], int err[])
{
	void *p = __real_xenforeignmemory_map(fmem, dom, prot, pages, arr, err);

	count_map(&nr_map, p, pages);
	return p;
}

void *__wrap_xenforeignmemory_map2(xenforeignmemory_handle *fmem,
				   uint32_t dom, void *addr, int prot,
				   int flags, size_t pages,
				   const xen_pfn_t arr[], int err[])
{
	void *p = __real_xenforeignmemory_map2(fmem, dom, addr, prot, flags,
					       pages, arr, err);

	count_map(&nr_map2, p, pages);
	return p;
}

int __wrap_xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
				  size_t pages)
{
	int ret = __real_xenforeignmemory_unmap(fmem, addr, pages);

	count(&nr_unmap, 1);
	if (ret)
		count(&nr_failed, 1);
	else
		count(&pages_unmapped, pages);
	return ret;
}

/*
 * The longest run of frames that Xen maps for the guest below PROBE_LIMIT:
 * its first frame's guest address in @start, its length in bytes returned.
 */
static uint64_t find_ram(uint64_t *start)
{
	static xen_pfn_t arr[PROBE_BATCH];
	static int err[PROBE_BATCH];
	uint64_t gfn, run = 0, best = 0, best_start = 0;
	unsigned int i;
	void *p;

	for (gfn = 0; gfn < PROBE_LIMIT >> REAL_PAGE_SHIFT;
	     gfn += PROBE_BATCH) {
		for (i = 0; i < PROBE_BATCH; i++)
			arr[i] = (xen_pfn_t)(gfn + i);
		p = __real_xenforeignmemory_map(own_fmem, guest.domid,
						PROT_READ, PROBE_BATCH, arr,
						err);
		if (!p)
			die("xenforeignmemory_map (looking for the guest's "
			    "RAM)", -errno);
		/*
		 * A refused frame comes back mapped with err[i] set (real
		 * Xen 4.17, tests/xen-qemu/README.md); only reading it would
		 * fault, and nothing here reads.
		 */
		for (i = 0; i < PROBE_BATCH; i++) {
			if (err[i]) {
				run = 0;
				continue;
			}
			if (++run > best) {
				best = run;
				best_start = gfn + i + 1 - run;
			}
		}
		__real_xenforeignmemory_unmap(own_fmem, p, PROBE_BATCH);
	}
	*start = best_start << REAL_PAGE_SHIFT;
	return best << REAL_PAGE_SHIFT;
}

void guest_open(void)
{
	const char *env = getenv("GM_XEN_DOMID");
	uint64_t start, len, end;
	unsigned long domid;
	char *tail;

	if (!env || !*env) {
		fprintf(stderr, "bench-xen: GM_XEN_DOMID is not set: this "
			"program runs in the dom0 of the xen-qemu harness "
			"(make bench-xen-qemu)\n");
		exit(1);
	}
	errno = 0;
	domid = strtoul(env, &tail, 10);
	if (errno || *tail || !domid || domid >= 0x7ff0)
		die("GM_XEN_DOMID is not a domain id", -EINVAL);
	guest.domid = (uint32_t)domid;
	guest.kind = "real Xen";
	guest.counter = "xen";

	own_fmem = xenforeignmemory_open(NULL, 0);
	if (!own_fmem)
		die("xenforeignmemory_open", -errno);
	len = find_ram(&start);
	/* Whole MiBs: every chunk and cache bucket is then whole too. */
	guest.base = (start + MIB - 1) & ~(MIB - 1);
	end = (start + len) & ~(MIB - 1);
	guest.size = end > guest.base ? end - guest.base : 0;
	if (guest.size < MIN_SIZE) {
		fprintf(stderr, "bench-xen: domain %u: the longest run of "
			"frames Xen maps is gfn %#" PRIx64 "-%#" PRIx64 ", "
			"less than the %" PRIu64 " MiB needed\n", guest.domid,
			start >> REAL_PAGE_SHIFT,
			(start + len) >> REAL_PAGE_SHIFT, MIN_SIZE / MIB);
		exit(1);
	}
	snprintf(guest.note, sizeof(guest.note),
		 "real Xen: domain %u (GM_XEN_DOMID); Xen maps its frames "
		 "%#" PRIx64 "-%#" PRIx64 " (the longest run below %" PRIu64
		 " MiB): the benchmark uses gpa %#" PRIx64 "-%#" PRIx64
		 ", %" PRIu64 " MiB instead of the simulator's 1024; working "
		 "set and budgets as on the simulator",
		 guest.domid, start >> REAL_PAGE_SHIFT,
		 (start + len) >> REAL_PAGE_SHIFT, PROBE_LIMIT / MIB,
		 guest.base, end, guest.size / MIB);
}

void guest_read(uint64_t gpa, void *buf, size_t len)
{
	xen_pfn_t gfn = (xen_pfn_t)(gpa >> REAL_PAGE_SHIFT);
	uint64_t off = gpa & (REAL_PAGE_SIZE - 1);
	int err = 0;
	uint8_t *p;

	if (off + len > REAL_PAGE_SIZE)
		die("guest_read across a page", -EINVAL);
	p = __real_xenforeignmemory_map(own_fmem, guest.domid, PROT_READ, 1,
					&gfn, &err);
	if (!p)
		die("xenforeignmemory_map (checking a read)", -errno);
	if (err)
		die("xenforeignmemory_map (checking a read)",
		    err < 0 ? err : -err);
	memcpy(buf, p + off, len);
	__real_xenforeignmemory_unmap(own_fmem, p, 1);
}

void guest_counts(uint64_t *maps, uint64_t *unmaps)
{
	*maps = counted(&nr_map) + counted(&nr_map2);
	*unmaps = counted(&nr_unmap);
}

/*
 * The test guest's grant table is its Linux kernel's: nothing outside the
 * guest can make it grant pages, so W5 does not run on real Xen.
 */
int guest_grant(const uint64_t *gpas, unsigned int n, uint32_t *refs)
{
	(void)gpas;
	(void)n;
	(void)refs;
	return -EOPNOTSUPP;
}

void guest_grant_counts(uint64_t *maps, uint64_t *copies)
{
	*maps = 0;
	*copies = 0;
}

void guest_report(void)
{
	printf("xen.fmem_map %" PRIu64 " calls\n", counted(&nr_map));
	printf("xen.fmem_map2 %" PRIu64 " calls\n", counted(&nr_map2));
	printf("xen.fmem_unmap %" PRIu64 " calls\n", counted(&nr_unmap));
	printf("xen.failures %" PRIu64 " calls\n", counted(&nr_failed));
	printf("xen.pages_mapped %" PRIu64 " pages\n", counted(&pages_mapped));
	printf("xen.live_pages %" PRIu64 " pages\n",
	       counted(&pages_mapped) - counted(&pages_unmapped));
}

int guest_close(void)
{
	uint64_t live = counted(&pages_mapped) - counted(&pages_unmapped);

	xenforeignmemory_close(own_fmem);
	own_fmem = NULL;
	printf("xen.leaks %" PRIu64 " pages\n", live);
	return live ? 1 : 0;
}
