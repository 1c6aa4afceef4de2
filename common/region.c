/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one dispatch layer over struct gm_region_ops: no other file calls
 * through a backend's method table.  [SQLite os.c]
 */
#include "internal.h"

#include <errno.h>

int gm_region_init(struct gm_region *r, const struct gm_region_ops *ops,
		   uint64_t gpa, uint64_t size, unsigned int flags)
{
	if (!r || !ops)
		return gm__error_msg(-EINVAL, "region init: %s is NULL",
				     r ? "ops" : "region");
	/* A backend built against a newer header still has every method
	 * of version 1, which is all this library calls. */
	if (ops->version < 1 || !ops->destroy || !ops->name)
		return gm__error_msg(-EINVAL, "region init: ops table '%s' is "
				     "incomplete or of version %u",
				     ops->name ? ops->name : "?", ops->version);
	if (!size || (flags & ~GM_REGION_RDONLY))
		return gm__error_msg(-EINVAL, "region init: %s",
				     size ? "unknown flags" : "size is 0");
	if (gpa + (size - 1) < gpa)
		return gm__error_msg(-EOVERFLOW, "region init: 0x%llx + 0x%llx "
				     "wraps past 2^64",
				     (unsigned long long)gpa,
				     (unsigned long long)size);
	*r = (struct gm_region){
		.ops = ops, .gpa = gpa, .size = size, .flags = flags, .refs = 1
	};
	return 0;
}

int gm__region_usable(const struct gm_region *r)
{
	return r->ops && r->ops->destroy && r->size &&
	       __atomic_load_n(&r->refs, __ATOMIC_RELAXED) > 0 &&
	       (r->hva || (r->ops->map && r->ops->unmap));
}

int gm__region_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		   unsigned int flags, struct gm_map *m)
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
	if (ret > 0 || (ret == 0 && (!m->hva || !m->len || m->len > len ||
				     ((flags & GM_MAP_WHOLE) && m->len != len)))) {
		/* A backend bug: never let it turn into a wild access. */
		if (ret == 0)
			r->ops->unmap(r, m);
		m->fault = off;
		return -EIO;
	}
	/* Never let a backend's bad fault offset name an address outside
	 * the request. */
	if (ret && (m->fault < off || m->fault - off >= len))
		m->fault = off;
	return ret;
}

void gm__region_unmap(struct gm_region *r, struct gm_map *m)
{
	if (!r->hva)
		r->ops->unmap(r, m);
}

void gm__region_get(struct gm_region *r)
{
	__atomic_fetch_add(&r->refs, 1, __ATOMIC_RELAXED);
}

void gm__region_put(struct gm_region *r)
{
	if (__atomic_fetch_sub(&r->refs, 1, __ATOMIC_ACQ_REL) == 1)
		r->ops->destroy(r);
}

void gm_region_destroy(struct gm_region *r)
{
	/* A region in a space belongs to the space: leave it alone. */
	if (!r || (r->reserved0 & GM__REGION_IN_SPACE))
		return;
	gm__region_put(r);
}
