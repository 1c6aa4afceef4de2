/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one dispatch layer over struct gm_region_ops: no other code calls
 * through a backend's method table.  [SQLite os.c]
 *
 * Inline, because every access to an on-demand region goes through
 * map/unmap: the wrappers add a few compares to the indirect call.
 */
#ifndef GM_REGION_H
#define GM_REGION_H

#include "internal.h"

/* A backend returned something impossible: release, fail with -EIO. */
int gm__region_map_bug(struct gm_region *r, uint64_t off, int ret,
		       struct gm_map *m);

/*
 * Map [off, off + len) of @r (inside the region) with @prot.  Persistent
 * regions are answered from r->hva without a call.  On failure returns a
 * negative errno and sets m->fault to the failing region offset, always
 * inside the request.
 */
static inline int gm__region_map(struct gm_region *r, uint64_t off,
				 uint64_t len, int prot, unsigned int flags,
				 struct gm_map *m)
{
	int ret;

	if (r->hva) {
		m->hva = r->hva + off;
		m->len = len;
		m->cookie = NULL;
		return 0;
	}
	m->fault = off;
	ret = r->ops->map(r, off, len, prot, flags, m);
	if (__builtin_expect(ret == 0, 1)) {
		/* Never let a backend bug turn into a wild access. */
		if (__builtin_expect(!m->hva || !m->len || m->len > len ||
				     ((flags & GM_MAP_WHOLE) && m->len != len),
				     0))
			return gm__region_map_bug(r, off, ret, m);
		return 0;
	}
	if (ret > 0)
		return gm__region_map_bug(r, off, ret, m);
	/* Never let a backend's bad fault offset name an address outside
	 * the request. */
	if (m->fault < off || m->fault - off >= len)
		m->fault = off;
	return ret;
}

/* Release a mapping from gm__region_map(); a no-op for persistent ones. */
static inline void gm__region_unmap(struct gm_region *r, struct gm_map *m)
{
	if (!r->hva)
		r->ops->unmap(r, m);
}

/* Take / drop a reference; the last put destroys the region. */
static inline void gm__region_get(struct gm_region *r)
{
	__atomic_fetch_add(&r->refs, 1, __ATOMIC_RELAXED);
}

/* Destroy @r, whose last reference is gone (region.c). */
void gm__region_destroy(struct gm_region *r);

static inline void gm__region_put(struct gm_region *r)
{
	if (__atomic_fetch_sub(&r->refs, 1, __ATOMIC_ACQ_REL) == 1)
		gm__region_destroy(r);
}

#endif /* GM_REGION_H */
