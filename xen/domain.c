/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A whole domain as a space: one foreign region per run of frames the
 * domain populates, found with XEN_DOMCTL_getpageframeinfo3 over every
 * frame up to the domain's highest (frames.c), so that the holes of its
 * physmap (the MMIO gap below 4 GiB, ACPI and special areas, frames given
 * back by a balloon driver) are holes of the space.
 */
#include "private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct run {
	uint64_t first, count;	/* frames */
};

struct runs {
	struct run *v;
	size_t n, cap;
};

static int runs_add(struct runs *r, uint64_t gfn)
{
	struct run *v;

	if (r->n && r->v[r->n - 1].first + r->v[r->n - 1].count == gfn) {
		r->v[r->n - 1].count++;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;

		v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct run){ .first = gfn, .count = 1 };
	return 0;
}

/* The populated runs of frames [0, nframes) of @domid. */
static int scan(struct gm_xen *x, uint32_t domid, uint64_t nframes,
		struct runs *r)
{
	unsigned char pop[GM__XEN_TYPE_BATCH];
	uint64_t g;
	unsigned int i, k;
	int ret;

	for (g = 0; g < nframes; g += k) {
		k = nframes - g < GM__XEN_TYPE_BATCH
			    ? (unsigned int)(nframes - g)
			    : GM__XEN_TYPE_BATCH;
		ret = gm__xen_frames_populated(x, domid, g, k, pop);
		if (ret)
			return ret;
		for (i = 0; i < k; i++)
			if (pop[i] && (ret = runs_add(r, g + i)))
				return ret;
	}
	return 0;
}

/*
 * At most GM_XEN_DOMAIN_MAX_REGIONS runs: merge the runs across the
 * shortest gaps (1 frame, then 2, 4, ...), whose frames then fail their
 * accesses with -EINVAL inside a region, as unpopulated frames do.
 */
static void coalesce(struct runs *r)
{
	uint64_t limit, gap;
	size_t i, n;

	for (limit = 1; r->n > GM_XEN_DOMAIN_MAX_REGIONS; limit *= 2) {
		for (i = 1, n = 1; i < r->n; i++) {
			struct run *last = &r->v[n - 1];

			gap = r->v[i].first - (last->first + last->count);
			if (gap <= limit)
				last->count = r->v[i].first + r->v[i].count -
					      last->first;
			else
				r->v[n++] = r->v[i];
		}
		r->n = n;
	}
}

static int add_run(struct gm_xen *x, uint32_t domid, unsigned int flags,
		   struct gm_space *s, uint64_t first, uint64_t count)
{
	struct gm_region *r;
	int ret;

	ret = gm_xen_foreign_region_new(x, domid, first << XEN_PAGE_SHIFT,
					count << XEN_PAGE_SHIFT, first, flags,
					&r);
	if (ret)
		return ret;
	ret = gm_space_add_region(s, r);
	if (ret)
		gm_region_destroy(r);
	return ret;
}

int gm_xen_space_open_domain(struct gm_xen *x, uint32_t domid,
			     unsigned int flags, struct gm_space **out)
{
	struct runs runs = { 0 };
	xc_domaininfo_t info;
	struct gm_space *s;
	xen_pfn_t max_gpfn = 0;
	uint64_t nframes;
	char name[32];
	size_t i;
	int ret;

	if (out)
		*out = NULL;
	if (!x || !out ||
	    (flags & ~(GM_XEN_RDONLY | GM_XEN_EAGER | GM_XEN_FAULT_SAFE)))
		return gm__xen_fail(__func__, -EINVAL,
				    !x || !out ? "NULL argument"
					       : "unknown flags");
	if (!x->xch)
		return gm__xen_fail(__func__, x->xch_err,
				    "libxenctrl could not be opened");
	/* getinfolist answers with the first domain at or above domid. */
	ret = xc_domain_getinfolist(x->xch, domid, 1, &info);
	if (ret < 0)
		return gm__xen_fail(__func__, -errno, "cannot query the domain");
	if (ret == 0 || info.domain != domid)
		return gm_error_set(-ESRCH, "%s: domain %" PRIu32
				     " does not exist", __func__, domid);
	if (xc_domain_maximum_gpfn(x->xch, domid, &max_gpfn) < 0)
		return gm__xen_fail(__func__, -errno,
				    "cannot read the domain's highest frame");
	if ((uint64_t)max_gpfn >= (UINT64_MAX >> XEN_PAGE_SHIFT))
		return gm__xen_fail(__func__, -EOVERFLOW,
				    "the domain's highest frame is absurd");
	nframes = (uint64_t)max_gpfn + 1;
	ret = scan(x, domid, nframes, &runs);
	if (ret == -ENOMEM || ret == -ESRCH) {
		free(runs.v);
		return ret == -ENOMEM
			       ? gm__xen_fail(__func__, ret, "out of memory")
			       : gm_error_set(-ESRCH, "%s: domain %" PRIu32
					      " went away", __func__, domid);
	}
	if (ret || !runs.n) {
		/* No physmap (getpageframeinfo3 refused: an XSM policy, a
		 * stub domain): the whole range as one region, whose
		 * unpopulated frames fail with -EINVAL. */
		runs.n = 0;
		ret = runs_add(&runs, 0);
		if (!ret)
			runs.v[0].count = nframes;
	}
	coalesce(&runs);
	snprintf(name, sizeof(name), "domain-%" PRIu32, domid);
	if (!ret)
		ret = gm_space_new(&s, name,
				   (flags & GM_XEN_FAULT_SAFE)
					   ? GM_SPACE_FAULT_SAFE
					   : 0);
	for (i = 0; !ret && i < runs.n; i++) {
		ret = add_run(x, domid, flags & ~GM_XEN_FAULT_SAFE, s,
			      runs.v[i].first, runs.v[i].count);
		if (ret)
			gm_space_free(s);
	}
	free(runs.v);
	if (ret)
		return ret;
	*out = s;
	return 0;
}
