/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant regions: pages another domain granted us, through libxengnttab, in
 * the grant address space (1 << 63 | ref << 12).  Cache entries are single
 * pages, so an access maps just the refs that cover it; reads map read-only
 * (a read-write map of a read-only grant fails, and Xen logs it).
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>

#define STACK_REFS 64

static int grant_map(struct gm__xen_region *xr, uint64_t first,
		     uint32_t npages, int prot, uint8_t *at, uint8_t **hva,
		     int **errp)
{
	struct gm_xen *x = xr->x;
	uint32_t stack[STACK_REFS], *refs = stack, i;
	int ret = 0;

	(void)at; /* grant regions have no window */
	*errp = NULL;
	if (npages > STACK_REFS) {
		refs = malloc(npages * sizeof(*refs));
		if (!refs)
			return -ENOMEM;
	}
	for (i = 0; i < npages; i++)
		refs[i] = xr->first_ref + (uint32_t)first + i;
	/* All or nothing: any bad ref fails the whole call. */
	*hva = xengnttab_map_domain_grant_refs(x->xgt, npages, xr->domid, refs,
					       prot);
	atomic_fetch_add_explicit(&x->map_calls, 1, memory_order_relaxed);
	if (!*hva) {
		ret = -errno;
		atomic_fetch_add_explicit(&x->failures, 1,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&x->pages_mapped, npages,
					  memory_order_relaxed);
	}
	if (refs != stack)
		free(refs);
	return ret;
}

static void grant_unmap(struct gm__xen_region *xr, uint8_t *hva,
			uint32_t npages)
{
	xengnttab_unmap(xr->x->xgt, hva, npages);
}

static const struct gm__xen_pager grant_pager = {
	.name = "xen-grant",
	.map = grant_map,
	.unmap = grant_unmap,
};

static const struct gm_region_ops grant_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "xen-grant",
	.map = gm__xen_map,
	.unmap = gm__xen_unmap,
	.destroy = gm__xen_cached_destroy,
};

int gm_xen_grant_region_new(struct gm_xen *x, uint32_t domid, uint64_t gpa,
			    uint32_t first_ref, uint32_t count,
			    unsigned int flags, struct gm_region **out)
{
	struct gm__xen_region *xr;
	int ret;

	if (out)
		*out = NULL;
	if (!x || !out || !count || (flags & ~GM_XEN_RDONLY))
		return gm__xen_fail(__func__, -EINVAL,
				    !x || !out ? "NULL argument"
				    : !count   ? "count is 0"
					       : "unknown flags");
	if ((uint64_t)first_ref + count - 1 > UINT32_MAX)
		return gm__xen_fail(__func__, -EINVAL, "grant refs wrap");
	if (!x->xgt)
		return gm__xen_fail(__func__, x->xgt_err,
				    "libxengnttab could not be opened");
	xr = calloc(1, sizeof(*xr));
	if (!xr)
		return gm__xen_fail(__func__, -ENOMEM, "out of memory");
	ret = gm__xen_region_init(&xr->base, x, &grant_ops, gpa,
				  (uint64_t)count << XEN_PAGE_SHIFT,
				  flags & GM_XEN_RDONLY);
	if (ret) {
		free(xr);
		return ret;
	}
	/* Mapped buckets are published to common code (cache.c). */
	ret = gm_region_pieces_init(&xr->base, XEN_PAGE_SHIFT, NULL);
	if (ret) {
		gm__xen_put(x);
		free(xr);
		return gm__xen_fail(__func__, ret, "out of memory");
	}
	xr->x = x;
	xr->pager = &grant_pager;
	xr->domid = domid;
	xr->first_ref = first_ref;
	xr->shift = XEN_PAGE_SHIFT;
	/* Read-only grants cannot be mapped writable at all. */
	xr->fixed_prot = (flags & GM_XEN_RDONLY) ? GM_PROT_READ : 0;
	*out = &xr->base;
	return 0;
}
