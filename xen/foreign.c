/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Foreign regions: a domain's frames, through libxenforeignmemory.
 *
 * This file has the on-demand ones, which map a bucket at a time through
 * the mapping cache (cache.c), in place in their window (window.c), and
 * the public constructor, which hands GM_XEN_EAGER to eager.c.
 *
 * Every map passes err[]: Xen may map some frames of a batch and refuse
 * others, and touching a refused frame raises SIGBUS.  Refused frames are
 * recorded per cache entry and fail the accesses that touch them;
 * paged-out frames (-ENOENT) are retried a bounded number of times first
 * (frames.c).
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Frames per call below which the error array lives on the stack. */
#define STACK_FRAMES 64

/* The pager of on-demand regions: one cache entry's frames. */
static int foreign_map(struct gm__xen_region *xr, uint64_t first,
		       uint32_t npages, int prot, uint8_t *at, uint8_t **hva,
		       int **errp)
{
	int stack[STACK_FRAMES], *err = stack;
	uint32_t i, nbad = 0;
	int ret;

	if (npages > STACK_FRAMES) {
		err = malloc(npages * sizeof(*err));
		if (!err)
			return -ENOMEM;
	}
	*hva = gm__xen_map_frames(xr->x, xr->domid, xr->gfn + first, at,
				  npages, prot, err, &ret);
	*errp = NULL;
	if (*hva) {
		for (i = 0; i < npages; i++)
			nbad += err[i] != 0;
		if (nbad) {
			atomic_fetch_add_explicit(&xr->x->failures, nbad,
						  memory_order_relaxed);
			*errp = malloc(npages * sizeof(int));
			if (!*errp) {
				xenforeignmemory_unmap(xr->x->fmem, *hva,
						       npages);
				atomic_fetch_add_explicit(&xr->x->unmap_calls,
							  1,
							  memory_order_relaxed);
				*hva = NULL;
				ret = -ENOMEM;
			} else {
				memcpy(*errp, err, npages * sizeof(int));
			}
		}
	}
	if (err != stack)
		free(err);
	return ret;
}

static void foreign_unmap(struct gm__xen_region *xr, uint8_t *hva,
			  uint32_t npages)
{
	/* Fails only for a range we did not map: cannot happen. */
	xenforeignmemory_unmap(xr->x->fmem, hva, npages);
}

static const struct gm__xen_pager foreign_pager = {
	.name = "xen-foreign",
	.map = foreign_map,
	.unmap = foreign_unmap,
};

static const struct gm_region_ops foreign_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "xen-foreign",
	.map = gm__xen_map,
	.unmap = gm__xen_unmap,
	.destroy = gm__xen_cached_destroy,
};

int gm_xen_foreign_region_new(struct gm_xen *x, uint32_t domid, uint64_t gpa,
			      uint64_t size, uint64_t gfn, unsigned int flags,
			      struct gm_region **out)
{
	struct gm__xen_region *xr;
	int ret;

	if (out)
		*out = NULL;
	if (!x || !out || (flags & ~(GM_XEN_RDONLY | GM_XEN_EAGER)))
		return gm__xen_fail(__func__, -EINVAL,
				    !x || !out ? "NULL argument"
					       : "unknown flags");
	if ((gfn + (size >> XEN_PAGE_SHIFT)) < gfn)
		return gm__xen_fail(__func__, -EOVERFLOW,
				    "frame numbers wrap");
	if (flags & GM_XEN_EAGER)
		return gm__xen_eager_region_new(__func__, x, domid, gpa, size,
						gfn, flags & GM_XEN_RDONLY,
						out);
	xr = calloc(1, sizeof(*xr));
	if (!xr)
		return gm__xen_fail(__func__, -ENOMEM, "out of memory");
	ret = gm__xen_region_init(&xr->base, x, &foreign_ops, gpa, size,
				  flags & GM_XEN_RDONLY);
	if (ret) {
		free(xr);
		return ret;
	}
	xr->x = x;
	xr->pager = &foreign_pager;
	xr->domid = domid;
	xr->gfn = gfn;
	xr->foreign = 1;
	xr->shift = x->bucket_shift;
	xr->fixed_prot = (flags & GM_XEN_RDONLY) ? GM_PROT_READ
						 : GM_PROT_READ | GM_PROT_WRITE;
	gm__xen_window_init(xr);
	/* Mapped buckets are published to common code (cache.c), in place
	 * in the window when they can be. */
	ret = gm_region_pieces_init(&xr->base, xr->shift, xr->win_base);
	if (ret) {
		gm__xen_window_fini(xr);
		gm__xen_put(x);
		free(xr);
		return gm__xen_fail(__func__, ret, "out of memory");
	}
	*out = &xr->base;
	return 0;
}
