/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-xen's guest layer on the project's Xen simulator (tests/xensim):
 * one simulated HVM domain of 1 GiB, a memfd whose foreign "maps" are real
 * mmap/munmap system calls.  bench/bench-xen links the simulator in place
 * of the Xen libraries, so it runs on any Linux machine.  See xen-guest.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "xen-guest.h"
#include "xensim/xensim.h"

#define SIM_DOMID 1
#define SIM_SIZE (UINT64_C(1024) << 20)
#define SIM_PAGE_SIZE UINT64_C(4096)

struct guest guest;

static uint8_t *guest_mem;	/* the guest's own view of its memory */

/* The value stored at every 8-byte aligned guest address: distinct per
 * address, so a read from the wrong place is noticed. */
static uint64_t pattern(uint64_t gpa)
{
	return gpa * 0x9e3779b97f4a7c15ull + 1;
}

void guest_open(void)
{
	uint64_t i;
	int ret;

	ret = xensim_domain_create(SIM_DOMID, SIM_SIZE / SIM_PAGE_SIZE,
				   XENSIM_DOM_HVM);
	if (ret)
		die("xensim_domain_create", ret);
	guest_mem = xensim_domain_mem(SIM_DOMID);
	if (!guest_mem)
		die("xensim_domain_mem", -ENOENT);
	/* Populate all of the guest, as a running guest's memory is. */
	for (i = 0; i < SIM_SIZE / 8; i++)
		((uint64_t *)(void *)guest_mem)[i] = pattern(i * 8);
	guest.domid = SIM_DOMID;
	guest.base = 0;
	guest.size = SIM_SIZE;
	guest.kind = "simulated";
	guest.counter = "sim";
}

void guest_read(uint64_t gpa, void *buf, size_t len)
{
	memcpy(buf, guest_mem + gpa, len);
}

void guest_counts(uint64_t *maps, uint64_t *unmaps)
{
	struct xensim_counters sc;

	xensim_get_counters(&sc);
	*maps = sc.calls[XENSIM_FN_FMEM_MAP] + sc.calls[XENSIM_FN_FMEM_MAP2];
	*unmaps = sc.calls[XENSIM_FN_FMEM_UNMAP];
}

int guest_grant(const uint64_t *gpas, unsigned int n, uint32_t *refs)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = xensim_grant_share(SIM_DOMID, gpas[i] / SIM_PAGE_SIZE, 1,
					 &refs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

void guest_grant_counts(uint64_t *maps, uint64_t *copies)
{
	struct xensim_counters sc;

	xensim_get_counters(&sc);
	*maps = sc.calls[XENSIM_FN_GNT_MAP_GRANT_REF] +
		sc.calls[XENSIM_FN_GNT_MAP_GRANT_REFS] +
		sc.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS];
	*copies = sc.calls[XENSIM_FN_GNT_GRANT_COPY];
}

void guest_report(void)
{
	struct xensim_counters sc;

	xensim_get_counters(&sc);
	printf("sim.fmem_map %" PRIu64 " calls\n",
	       sc.calls[XENSIM_FN_FMEM_MAP]);
	printf("sim.fmem_map2 %" PRIu64 " calls\n",
	       sc.calls[XENSIM_FN_FMEM_MAP2]);
	printf("sim.fmem_unmap %" PRIu64 " calls\n",
	       sc.calls[XENSIM_FN_FMEM_UNMAP]);
	printf("sim.failures %" PRIu64 " calls\n",
	       sc.failures[XENSIM_FN_FMEM_MAP] +
		       sc.failures[XENSIM_FN_FMEM_MAP2] +
		       sc.failures[XENSIM_FN_FMEM_UNMAP]);
	printf("sim.pages_mapped %" PRIu64 " pages\n", sc.foreign.total_pages);
	printf("sim.live_pages %" PRIu64 " pages\n", sc.foreign.live_pages);
	printf("sim.peak_live_pages %" PRIu64 " pages\n",
	       sc.foreign.peak_live_pages);
}

int guest_close(void)
{
	struct xensim_counters final;
	int leaks = xensim_reset(&final);

	printf("sim.leaks %d mappings+handles\n", leaks);
	return leaks;
}
