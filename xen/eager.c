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

struct eager_region {
	struct gm_region base;	/* first */
	struct gm_xen *x;
	uint32_t domid;
	uint64_t gfn;		/* frame of base.gpa */
	uint8_t *map;		/* the whole region, or NULL once released */
	uint64_t npages;
	/* The pages Xen refused, sorted by page: they fail their accesses. */
	size_t nbad;
	struct eager_bad {
		uint64_t page;
		int err;
	} *bad;
};

/* Unmap the chunks of an eager region that are mapped, and the rest of
 * its reservation. */
static void eager_release(struct eager_region *er, uint64_t mapped_pages)
{
	uint64_t chunk = er->x->opt.eager_chunk, p;

	for (p = 0; p < mapped_pages; p += chunk) {
		uint64_t n = mapped_pages - p < chunk ? mapped_pages - p : chunk;

		xenforeignmemory_unmap(er->x->fmem,
				       er->map + (p << XEN_PAGE_SHIFT), n);
		atomic_fetch_add_explicit(&er->x->unmap_calls, 1,
					  memory_order_relaxed);
	}
	if (mapped_pages < er->npages)
		munmap(er->map + (mapped_pages << XEN_PAGE_SHIFT),
		       (er->npages - mapped_pages) << XEN_PAGE_SHIFT);
	er->map = NULL;
}

/* Record the refused pages of one chunk starting at region page @p. */
static int eager_record(struct eager_region *er, uint64_t p,
			const int *err, uint32_t n, size_t *cap)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!err[i])
			continue;
		if (er->nbad == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct eager_bad *b =
				realloc(er->bad, ncap * sizeof(*b));

			if (!b)
				return -ENOMEM;
			er->bad = b;
			*cap = ncap;
		}
		er->bad[er->nbad].page = p + i;
		er->bad[er->nbad++].err = err[i];
	}
	return 0;
}

/*
 * Map the whole region into one reserved host range, chunk by chunk with
 * MAP_FIXED, so that it is contiguous; bounded pfn arrays per call.
 */
static int map_all(struct eager_region *er, int prot)
{
	uint64_t chunk = er->x->opt.eager_chunk, p;
	size_t cap = 0;
	int *err, ret = 0;
	void *base;

	err = malloc(chunk * sizeof(*err));
	if (!err)
		return -ENOMEM;
	base = mmap(NULL, er->npages << XEN_PAGE_SHIFT, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		free(err);
		return -errno;
	}
	er->map = base;
	for (p = 0; p < er->npages; p += chunk) {
		uint32_t n = (uint32_t)(er->npages - p < chunk ? er->npages - p
							       : chunk);

		if (!gm__xen_map_frames(er->x, er->domid, er->gfn + p,
					er->map + (p << XEN_PAGE_SHIFT), n,
					prot, err, &ret)) {
			eager_release(er, p);
			break;
		}
		ret = eager_record(er, p, err, n, &cap);
		if (ret) {
			eager_release(er, p + n);
			break;
		}
	}
	free(err);
	if (ret)
		return ret;
	if (er->nbad == er->npages) {
		/* Not one frame: no such domain (-ESRCH), or none of it is
		 * ours to map.  Say so now rather than fail every access. */
		ret = er->bad[0].err;
		eager_release(er, er->npages);
		return ret;
	}
	if (er->nbad)
		atomic_fetch_add_explicit(&er->x->failures, er->nbad,
					  memory_order_relaxed);
	else
		er->base.hva = er->map; /* the persistent fast path */
	return 0;
}

/* Everything is mapped; only refused frames fail. */
static int eager_map(struct gm_region *r, uint64_t off, uint64_t len,
		     int prot, unsigned int flags, struct gm_map *m)
{
	struct eager_region *er =
		gm__container_of(r, struct eager_region, base);
	size_t lo = 0, hi = er->nbad;
	uint64_t page = off >> XEN_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> XEN_PAGE_SHIFT;

	/* First refused page at or after the access's first page. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (er->bad[mid].page < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < er->nbad && er->bad[lo].page <= last) {
		if (er->bad[lo].page == page || (flags & GM_MAP_WHOLE)) {
			m->fault = er->bad[lo].page == page
					   ? off
					   : er->bad[lo].page << XEN_PAGE_SHIFT;
			return er->bad[lo].err;
		}
		len = (er->bad[lo].page << XEN_PAGE_SHIFT) - off;
	}
	m->hva = er->map + off;
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
	struct eager_region *er =
		gm__container_of(r, struct eager_region, base);
	struct gm_xen *x = er->x;

	eager_release(er, er->npages);
	free(er->bad);
	free(er);
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
	struct eager_region *er;
	int ret;

	er = calloc(1, sizeof(*er));
	if (!er)
		return gm__xen_fail(fn, -ENOMEM, "out of memory");
	ret = gm__xen_region_init(&er->base, x, &eager_ops, gpa, size, rdonly);
	if (ret) {
		free(er);
		return ret;
	}
	er->x = x;
	er->domid = domid;
	er->gfn = gfn;
	er->npages = size >> XEN_PAGE_SHIFT;
	ret = map_all(er, rdonly ? PROT_READ : PROT_READ | PROT_WRITE);
	if (ret) {
		free(er->bad);
		free(er);
		gm__xen_put(x);
		return gm__xen_fail(fn, ret, "cannot map the domain's frames");
	}
	*out = &er->base;
	return 0;
}
