/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A domain's frames, through libxenforeignmemory: what on-demand and eager
 * foreign regions share.  Xen may map some frames of a batch and refuse
 * others, so every call passes err[]; frames that are paged out (-ENOENT)
 * are mapped again a bounded number of times, with a growing pause.
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

/* Frames per call below which the pfn array lives on the stack. */
#define STACK_FRAMES 64

/* Back off before retrying paged-out frames: 1 ms, 2 ms, ... */
static void paging_backoff(unsigned int attempt)
{
	struct timespec ts = { .tv_sec = 0,
			       .tv_nsec = 1000000L * (long)(attempt + 1) };

	nanosleep(&ts, NULL);
}

/*
 * Map @n frames of domain @domid from frame @gfn at @addr (NULL: anywhere;
 * else MAP_FIXED over a reservation), retrying paged-out frames.  On
 * success returns the mapping and leaves per-page negative errnos in @err.
 */
uint8_t *gm__xen_map_frames(struct gm_xen *x, uint32_t domid, uint64_t gfn,
			    uint8_t *addr, uint32_t n, int prot, int *err,
			    int *ret)
{
	xen_pfn_t stack[STACK_FRAMES], *arr = stack;
	unsigned int attempt;
	uint8_t *p = NULL;
	uint32_t i;

	if (n > STACK_FRAMES) {
		arr = malloc(n * sizeof(*arr));
		if (!arr) {
			*ret = -ENOMEM;
			return NULL;
		}
	}
	for (i = 0; i < n; i++)
		arr[i] = (xen_pfn_t)(gfn + i);
	for (attempt = 0;; attempt++) {
		int paged = 0;

		p = addr ? xenforeignmemory_map2(x->fmem, domid, addr,
						 prot, MAP_FIXED, n, arr, err)
			 : xenforeignmemory_map(x->fmem, domid, prot, n,
						arr, err);
		atomic_fetch_add_explicit(&x->map_calls, 1,
					  memory_order_relaxed);
		if (!p) {
			*ret = -errno;
			atomic_fetch_add_explicit(&x->failures, 1,
						  memory_order_relaxed);
			break;
		}
		atomic_fetch_add_explicit(&x->pages_mapped, n,
					  memory_order_relaxed);
		for (i = 0; i < n; i++) {
			err[i] = gm__xen_errno(err[i]);
			paged += err[i] == -ENOENT;
		}
		if (!paged || attempt >= x->opt.enoent_retries) {
			*ret = 0;
			break;
		}
		/*
		 * Paged out: Xen is paging the frames back in; try the whole
		 * batch again.  A placed mapping is simply mapped over with
		 * MAP_FIXED, which replaces it at once: unmapping it first
		 * would open a hole in the reservation that another thread's
		 * mmap could take.
		 */
		if (!addr) {
			xenforeignmemory_unmap(x->fmem, p, n);
			atomic_fetch_add_explicit(&x->unmap_calls, 1,
						  memory_order_relaxed);
		}
		atomic_fetch_add_explicit(&x->retries, 1,
					  memory_order_relaxed);
		p = NULL;
		paging_backoff(attempt);
	}
	if (arr != stack)
		free(arr);
	return p;
}

/*
 * Whether each of @n (<= GM__XEN_TYPE_BATCH) frames of @domid from @gfn is
 * populated with the domain's own RAM: pop[i] = 1, or 0 for a frame whose
 * type is XEN_DOMCTL_PFINFO_XTAB.  One XEN_DOMCTL_getpageframeinfo3
 * hypercall.  On real Xen 4.17 (tests/xen-qemu/probe-physmap.c) XTAB is
 * what a frame in a hole, beyond the highest frame, or given back by the
 * guest (decrease_reservation) reports, as does a Xen page the guest
 * placed in its physmap (shared_info, grant table frames): those map, but
 * are not the guest's RAM.  A broken frame (XEN_DOMCTL_PFINFO_BROKEN) is
 * RAM that cannot be read: populated, so that reading it is a failure.
 */
int gm__xen_frames_populated(struct gm_xen *x, uint32_t domid, uint64_t gfn,
			     unsigned int n, unsigned char *pop)
{
	xen_pfn_t arr[GM__XEN_TYPE_BATCH];
	unsigned int i;

	if (!x->xch)
		return x->xch_err;
	if (n > GM__XEN_TYPE_BATCH)
		return -EINVAL;
	for (i = 0; i < n; i++)
		arr[i] = (xen_pfn_t)(gfn + i);
	if (xc_get_pfn_type_batch(x->xch, domid, n, arr) < 0)
		return errno ? -errno : -EIO;
	for (i = 0; i < n; i++)
		pop[i] = (arr[i] & XEN_DOMCTL_PFINFO_LTAB_MASK) !=
			 XEN_DOMCTL_PFINFO_XTAB;
	return 0;
}
