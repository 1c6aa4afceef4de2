/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Regions: initialisation and validation.  The dispatch over a backend's
 * methods is in region.h, the only code that calls through them.
 */
#include "internal.h"

#include <errno.h>

#include "piece.h"
#include "region.h"

int gm_region_init(struct gm_region *r, const struct gm_region_ops *ops,
		   uint64_t gpa, uint64_t size, unsigned int flags)
{
	if (!r || !ops)
		return gm__error_msg(-EINVAL, "region init: %s is NULL",
				     r ? "ops" : "region");
	/* A backend built against a newer header still has every method
	 * of version 1, which is all this library calls (version 2 added
	 * rules and functions, no method). */
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

int gm__region_map_bug(struct gm_region *r, uint64_t off, int ret,
		       struct gm_map *m)
{
	if (ret == 0)
		gm__region_unmap(r, m);
	m->fault = off;
	return -EIO;
}

void gm__region_destroy(struct gm_region *r)
{
	struct gm_pieces *pieces = r->pieces;

	/* The backend's destroy may still unpublish: free the pieces after
	 * it, from what was saved before the region's memory went. */
	r->ops->destroy(r);
	gm__pieces_free(pieces);
}

void gm_region_destroy(struct gm_region *r)
{
	/* A region in a space belongs to the space: leave it alone. */
	if (!r || (r->common_flags & GM__REGION_IN_SPACE))
		return;
	gm__region_put(r);
}
