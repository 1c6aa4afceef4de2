/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-xen's guest layer on real Xen: the domain whose id the xen-qemu
 * harness's dom0 exports as GM_XEN_DOMID (tests/xen-qemu), read with the
 * real Xen libraries.  bench/bench-xen-real is meant to run there only
 * ("make bench-xen-qemu"); see xen-guest.h and bench/README-xen.md.
 *
 * The guest is a running one: its RAM is found by mapping frames from gfn
 * 0 up to the first one Xen refuses, and its bytes are read for the checks
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

/* Frames mapped per call while looking for the end of the guest's RAM. */
#define PROBE_BATCH 1024

/* Look no further than this for the end of RAM: the harness's guest has
 * 256 MiB, and the benchmark needs no more than the simulator's 1 GiB. */
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
 * The guest address of the first frame from gfn 0 up that Xen refuses
 * (err[i] set), or PROBE_LIMIT if it maps every frame up to there.
 */
static uint64_t find_ram_end(void)
{
	static xen_pfn_t arr[PROBE_BATCH];
	static int err[PROBE_BATCH];
	uint64_t gfn = 0, end = PROBE_LIMIT >> REAL_PAGE_SHIFT;
	unsigned int i;
	void *p;

	while (gfn < end) {
		for (i = 0; i < PROBE_BATCH; i++)
			arr[i] = (xen_pfn_t)(gfn + i);
		p = __real_xenforeignmemory_map(own_fmem, guest.domid,
						PROT_READ, PROBE_BATCH, arr,
						err);
		if (!p)
			die("xenforeignmemory_map (looking for the end of the "
			    "guest's RAM)", -errno);
		/* A refused frame comes back mapped with err[i] set (real Xen
		 * 4.17, tests/xen-qemu/README.md); only reading it faults. */
		for (i = 0; i < PROBE_BATCH && !err[i]; i++)
			;
		__real_xenforeignmemory_unmap(own_fmem, p, PROBE_BATCH);
		if (i < PROBE_BATCH)
			return (gfn + i) << REAL_PAGE_SHIFT;
		gfn += PROBE_BATCH;
	}
	return PROBE_LIMIT;
}

void guest_open(void)
{
	const char *env = getenv("GM_XEN_DOMID");
	unsigned long domid;
	uint64_t ram_end;
	char *end;

	if (!env || !*env) {
		fprintf(stderr, "bench-xen: GM_XEN_DOMID is not set: this "
			"program runs in the dom0 of the xen-qemu harness "
			"(make bench-xen-qemu)\n");
		exit(1);
	}
	errno = 0;
	domid = strtoul(env, &end, 10);
	if (errno || *end || !domid || domid >= 0x7ff0)
		die("GM_XEN_DOMID is not a domain id", -EINVAL);
	guest.domid = (uint32_t)domid;
	guest.kind = "real Xen";
	guest.counter = "xen";

	own_fmem = xenforeignmemory_open(NULL, 0);
	if (!own_fmem)
		die("xenforeignmemory_open", -errno);
	ram_end = find_ram_end();
	/* Whole MiBs: every chunk and cache bucket is then whole too. */
	guest.size = ram_end & ~(MIB - 1);
	if (guest.size < MIN_SIZE) {
		fprintf(stderr, "bench-xen: domain %u: Xen refuses gfn "
			"%#" PRIx64 ": %" PRIu64 " MiB of RAM from gfn 0, less "
			"than the %" PRIu64 " MiB needed\n", guest.domid,
			ram_end >> REAL_PAGE_SHIFT, guest.size / MIB,
			MIN_SIZE / MIB);
		exit(1);
	}
	snprintf(guest.note, sizeof(guest.note),
		 "real Xen: domain %u (GM_XEN_DOMID), RAM from gfn 0 up to "
		 "gfn %#" PRIx64 " (the first that Xen refuses): a guest of "
		 "%" PRIu64 " MiB instead of the simulator's 1024; working "
		 "set and budgets as on the simulator",
		 guest.domid, ram_end >> REAL_PAGE_SHIFT, guest.size / MIB);
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
