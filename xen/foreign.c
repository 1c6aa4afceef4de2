/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Foreign regions: a domain's frames, through libxenforeignmemory.
 *
 * Every map passes err[]: Xen may map some frames of a batch and refuse
 * others, and touching a refused frame raises SIGBUS.  Refused frames are
 * recorded (per cache entry, or per eager region) and fail the accesses
 * that touch them; paged-out frames (-ENOENT) are retried a bounded number
 * of times first.
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
	*hva = gm__xen_map_frames(xr, at, first, npages, prot, err, &ret);
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
	.destroy = gm__xen_region_destroy,
};

/* Unmap the chunks of an eager region that are mapped, and the rest of
 * its reservation. */
static void eager_release(struct gm__xen_region *xr, uint64_t mapped_pages)
{
	uint64_t chunk = xr->x->opt.eager_chunk, p;

	for (p = 0; p < mapped_pages; p += chunk) {
		uint64_t n = mapped_pages - p < chunk ? mapped_pages - p : chunk;

		xenforeignmemory_unmap(xr->x->fmem,
				       xr->eager + (p << XEN_PAGE_SHIFT), n);
		atomic_fetch_add_explicit(&xr->x->unmap_calls, 1,
					  memory_order_relaxed);
	}
	if (mapped_pages < xr->npages)
		munmap(xr->eager + (mapped_pages << XEN_PAGE_SHIFT),
		       (xr->npages - mapped_pages) << XEN_PAGE_SHIFT);
	xr->eager = NULL;
}

void gm__xen_eager_unmap(struct gm__xen_region *xr)
{
	eager_release(xr, xr->npages);
}

/* Record the refused pages of one chunk starting at region page @p. */
static int eager_record(struct gm__xen_region *xr, uint64_t p,
			const int *err, uint32_t n, size_t *cap)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!err[i])
			continue;
		if (xr->nbad == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct gm__xen_bad *b =
				realloc(xr->bad, ncap * sizeof(*b));

			if (!b)
				return -ENOMEM;
			xr->bad = b;
			*cap = ncap;
		}
		xr->bad[xr->nbad].page = p + i;
		xr->bad[xr->nbad++].err = err[i];
	}
	return 0;
}

/*
 * Map the whole region into one reserved host range, chunk by chunk with
 * MAP_FIXED, so that it is contiguous; bounded pfn arrays per call.
 */
static int eager_map(struct gm__xen_region *xr, int prot)
{
	uint64_t chunk = xr->x->opt.eager_chunk, p;
	size_t cap = 0;
	int *err, ret = 0;
	void *base;

	err = malloc(chunk * sizeof(*err));
	if (!err)
		return -ENOMEM;
	base = mmap(NULL, xr->npages << XEN_PAGE_SHIFT, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		free(err);
		return -errno;
	}
	xr->eager = base;
	for (p = 0; p < xr->npages; p += chunk) {
		uint32_t n = (uint32_t)(xr->npages - p < chunk ? xr->npages - p
							       : chunk);

		if (!gm__xen_map_frames(xr, xr->eager + (p << XEN_PAGE_SHIFT),
					p, n, prot, err, &ret)) {
			eager_release(xr, p);
			break;
		}
		ret = eager_record(xr, p, err, n, &cap);
		if (ret) {
			eager_release(xr, p + n);
			break;
		}
	}
	free(err);
	if (ret)
		return ret;
	if (xr->nbad == xr->npages) {
		/* Not one frame: no such domain (-ESRCH), or none of it is
		 * ours to map.  Say so now rather than fail every access. */
		ret = xr->bad[0].err;
		eager_release(xr, xr->npages);
		return ret;
	}
	if (xr->nbad)
		atomic_fetch_add_explicit(&xr->x->failures, xr->nbad,
					  memory_order_relaxed);
	else
		xr->base.hva = xr->eager; /* the persistent fast path */
	return 0;
}

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
	xr = calloc(1, sizeof(*xr));
	if (!xr)
		return gm__xen_fail(__func__, -ENOMEM, "out of memory");
	ret = gm__xen_region_init(xr, x, &foreign_ops, &foreign_pager, domid,
				  gpa, size, flags & GM_XEN_RDONLY);
	if (ret) {
		free(xr);
		return ret;
	}
	xr->gfn = gfn;
	xr->shift = x->bucket_shift;
	xr->fixed_prot = (flags & GM_XEN_RDONLY) ? GM_PROT_READ
						 : GM_PROT_READ | GM_PROT_WRITE;
	if (!(flags & GM_XEN_EAGER))
		gm__xen_window_init(xr);
	if (flags & GM_XEN_EAGER) {
		ret = eager_map(xr, (flags & GM_XEN_RDONLY)
					    ? PROT_READ
					    : PROT_READ | PROT_WRITE);
		if (ret) {
			free(xr->bad);
			free(xr);
			gm__xen_put(x);
			return gm__xen_fail(__func__, ret,
					    "cannot map the domain's frames");
		}
	}
	*out = &xr->base;
	return 0;
}
