/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Eager foreign regions (GM_XEN_EAGER): the whole region is mapped when it
 * is created, into one reserved host range, and stays mapped until it is
 * destroyed; the mapping cache plays no part.  Frames Xen refused are
 * recorded, sorted by page, and fail the accesses that touch them; a
 * region without any has a persistent mapping (gm_region.hva), which
 * common code uses without calling us at all.
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

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
static int map_all(struct gm__xen_region *xr, int prot)
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

/* Everything is mapped; only refused frames fail. */
static int eager_map(struct gm_region *r, uint64_t off, uint64_t len,
		     int prot, unsigned int flags, struct gm_map *m)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);
	size_t lo = 0, hi = xr->nbad;
	uint64_t page = off >> XEN_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> XEN_PAGE_SHIFT;

	/* First refused page at or after the access's first page. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (xr->bad[mid].page < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < xr->nbad && xr->bad[lo].page <= last) {
		if (xr->bad[lo].page == page || (flags & GM_MAP_WHOLE)) {
			m->fault = xr->bad[lo].page == page
					   ? off
					   : xr->bad[lo].page << XEN_PAGE_SHIFT;
			return xr->bad[lo].err;
		}
		len = (xr->bad[lo].page << XEN_PAGE_SHIFT) - off;
	}
	m->hva = xr->eager + off;
	m->len = len;
	m->cookie = NULL;
	return 0;
}

static void eager_unmap(struct gm_region *r, struct gm_map *m)
{
	/* Nothing to release: the region stays mapped until destroyed. */
}

static void eager_destroy(struct gm_region *r)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);
	struct gm_xen *x = xr->x;

	eager_release(xr, xr->npages);
	free(xr->bad);
	free(xr);
	gm__xen_put(x);
}

/* Named as the on-demand ones, in messages and for callers alike. */
static const struct gm_region_ops eager_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "xen-foreign",
	.map = eager_map,
	.unmap = eager_unmap,
	.destroy = eager_destroy,
};

int gm__xen_eager_region_new(const char *fn, struct gm_xen *x,
			     uint32_t domid, uint64_t gpa, uint64_t size,
			     uint64_t gfn, unsigned int rdonly,
			     struct gm_region **out)
{
	struct gm__xen_region *xr;
	int ret;

	xr = calloc(1, sizeof(*xr));
	if (!xr)
		return gm__xen_fail(fn, -ENOMEM, "out of memory");
	ret = gm__xen_region_init(xr, x, &eager_ops, NULL, domid, gpa, size,
				  rdonly);
	if (ret) {
		free(xr);
		return ret;
	}
	xr->gfn = gfn;
	ret = map_all(xr, rdonly ? PROT_READ : PROT_READ | PROT_WRITE);
	if (ret) {
		free(xr->bad);
		free(xr);
		gm__xen_put(x);
		return gm__xen_fail(fn, ret, "cannot map the domain's frames");
	}
	*out = &xr->base;
	return 0;
}
