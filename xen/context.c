/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Xen contexts: the library handles, their options and lifetime, and the
 * statistics.  Every region holds a reference to its context, which
 * gm__xen_region_init() takes and the region kind's destroy method drops.
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xentoollog.h>

/*
 * The Xen libraries log failures to stderr unless given a logger; this
 * library never prints, so it hands them one that drops everything (the
 * failures themselves come back as errno values).  Immutable, so sharing
 * it between contexts is safe.
 */
static void quiet_vmessage(struct xentoollog_logger *l,
			   xentoollog_level level, int errnoval,
			   const char *context, const char *format,
			   va_list al)
{
}

static void quiet_progress(struct xentoollog_logger *l, const char *context,
			   const char *doing_what, int percent,
			   unsigned long done, unsigned long total)
{
}

static void quiet_destroy(struct xentoollog_logger *l)
{
}

static struct xentoollog_logger quiet_logger = {
	.vmessage = quiet_vmessage,
	.progress = quiet_progress,
	.destroy = quiet_destroy,
};

int gm__xen_fail(const char *fn, int err, const char *what)
{
	char buf[64];

	return gm_error_set(err, "%s: %s (%s)", fn, what,
			     strerror_r(-err, buf, sizeof(buf)));
}

static int options(struct gm_xen_options *o, const struct gm_xen_options *in)
{
	size_t i;

	*o = (struct gm_xen_options){ 0 };
	if (in) {
		for (i = 0; i < GM__ARRAY_SIZE(in->reserved); i++)
			if (in->reserved[i])
				return -EINVAL;
		if (in->reserved0)
			return -EINVAL;
		*o = *in;
	}
	if (!o->bucket_size)
		o->bucket_size = 64 * 1024;
	if (!o->cache_bytes)
		o->cache_bytes = 64 * 1024 * 1024;
	if (!o->enoent_retries)
		o->enoent_retries = 8;
	if (!o->eager_chunk)
		o->eager_chunk = 1024;
	if (!o->recheck_ms)
		o->recheck_ms = 1000;
	if (o->bucket_size < XEN_PAGE_SIZE ||
	    (o->bucket_size & (o->bucket_size - 1)) ||
	    o->bucket_size > ((size_t)1 << 30) ||
	    o->cache_bytes < o->bucket_size || o->eager_chunk > (1u << 20))
		return -EINVAL;
	return 0;
}

/* Close the library handles and free the context. */
static void close_handles(struct gm_xen *x)
{
	if (x->xch)
		xc_interface_close(x->xch);
	if (x->xgt)
		xengnttab_close(x->xgt);
	xenforeignmemory_close(x->fmem);
	free(x);
}

int gm_xen_open(struct gm_xen **out, const struct gm_xen_options *opts)
{
	struct gm_xen *x;
	int ret;

	if (out)
		*out = NULL;
	if (!out)
		return gm__xen_fail(__func__, -EINVAL, "out is NULL");
	x = calloc(1, sizeof(*x));
	if (!x)
		return gm__xen_fail(__func__, -ENOMEM, "out of memory");
	ret = options(&x->opt, opts);
	if (ret) {
		free(x);
		return gm__xen_fail(__func__, ret,
				    "bucket size must be a power of two from "
				    "4 KiB to 1 GiB, the budget at least one "
				    "bucket, reserved fields zero");
	}
	x->bucket_shift = (unsigned int)__builtin_ctzll(x->opt.bucket_size);
	x->fmem = xenforeignmemory_open(&quiet_logger, 0);
	if (!x->fmem) {
		ret = -errno;
		free(x);
		return gm__xen_fail(__func__, ret,
				    "cannot open libxenforeignmemory "
				    "(not running on Xen, or not privileged?)");
	}
	/* Grant and control handles are optional: a driver domain may have
	 * no gntdev, an unprivileged one no libxenctrl.  What needs them
	 * fails later with the saved errno. */
	x->xgt = xengnttab_open(&quiet_logger, 0);
	if (!x->xgt)
		x->xgt_err = -errno;
	x->xch = xc_interface_open(&quiet_logger, &quiet_logger, 0);
	if (!x->xch)
		x->xch_err = -errno;
	ret = gm__xen_cache_init(x);
	if (ret) {
		close_handles(x);
		return gm__xen_fail(__func__, ret, "out of memory");
	}
	gm__xen_window_file_open(x); /* best effort */
	atomic_init(&x->refs, 1);
	*out = x;
	return 0;
}

void gm__xen_get(struct gm_xen *x)
{
	atomic_fetch_add_explicit(&x->refs, 1, memory_order_relaxed);
}

void gm__xen_put(struct gm_xen *x)
{
	if (atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1)
		return;
	gm__xen_cache_fini(x);
	gm__xen_window_file_close(x);
	close_handles(x);
}

void gm_xen_close(struct gm_xen *x)
{
	if (x)
		gm__xen_put(x);
}

int gm__xen_region_init(struct gm_region *r, struct gm_xen *x,
			const struct gm_region_ops *ops, uint64_t gpa,
			uint64_t size, unsigned int rdonly)
{
	int ret;

	if ((gpa | size) & (XEN_PAGE_SIZE - 1) || !size)
		return gm__xen_fail(ops->name, -EINVAL,
				    "gpa and size must be non-zero multiples "
				    "of 4096");
	ret = gm_region_init(r, ops, gpa, size, rdonly ? GM_REGION_RDONLY : 0);
	if (ret)
		return ret;
	gm__xen_get(x);
	return 0;
}

void gm__xen_cached_destroy(struct gm_region *r)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);
	struct gm_xen *x = xr->x;

	gm__xen_cache_purge(xr);
	gm__xen_window_fini(xr); /* a no-op without a window (grants) */
	free(xr);
	gm__xen_put(x);
}

int gm_xen_get_stats(struct gm_xen *x, struct gm_xen_stats *st)
{
	if (!x || !st)
		return gm__xen_fail(__func__, -EINVAL, "NULL argument");
	*st = (struct gm_xen_stats){
		.map_calls = atomic_load(&x->map_calls),
		.unmap_calls = atomic_load(&x->unmap_calls),
		.pages_mapped = atomic_load(&x->pages_mapped),
		.hits = atomic_load(&x->hits),
		.misses = atomic_load(&x->misses),
		.evictions = atomic_load(&x->evictions),
		.failures = atomic_load(&x->failures),
		.retries = atomic_load(&x->retries),
		.mapped_bytes = atomic_load(&x->mapped_bytes),
		.peak_mapped_bytes = atomic_load(&x->peak_mapped_bytes),
		.glist_hits = atomic_load(&x->glist_hits),
		.rechecks = atomic_load(&x->rechecks),
		.recheck_drops = atomic_load(&x->recheck_drops),
	};
	return 0;
}

int gm_xen_invalidate(struct gm_xen *x)
{
	if (!x)
		return gm__xen_fail(__func__, -EINVAL, "NULL context");
	return gm__xen_cache_invalidate(x);
}

int gm_xen_recheck(struct gm_xen *x)
{
	int ret;

	if (!x)
		return gm__xen_fail(__func__, -EINVAL, "NULL context");
	if (!x->xch)
		return gm__xen_fail(__func__, x->xch_err,
				    "libxenctrl could not be opened");
	ret = gm__xen_cache_recheck(x);
	if (ret < 0)
		return gm__xen_fail(__func__, ret,
				    "cannot read the types of the cached "
				    "frames");
	return ret;
}
