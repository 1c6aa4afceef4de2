/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Xen API in a build without Xen (--with-xen=no): every function
 * reports -EOPNOTSUPP, so that callers and the symbol list are the same in
 * every build.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <guestmem/backend.h>
#include <guestmem/xen.h>

static int no_xen(const char *fn)
{
	return gm_error_set(-EOPNOTSUPP, "%s: libguestmem was built without "
			     "Xen (--with-xen=no)", fn);
}

int gm_xen_open(struct gm_xen **out, const struct gm_xen_options *opts)
{
	if (out)
		*out = NULL;
	return no_xen(__func__);
}

void gm_xen_close(struct gm_xen *x)
{
}

int gm_xen_foreign_region_new(struct gm_xen *x, uint32_t domid, uint64_t gpa,
			      uint64_t size, uint64_t gfn, unsigned int flags,
			      struct gm_region **out)
{
	if (out)
		*out = NULL;
	return no_xen(__func__);
}

int gm_xen_grant_region_new(struct gm_xen *x, uint32_t domid, uint64_t gpa,
			    uint32_t first_ref, uint32_t count,
			    unsigned int flags, struct gm_region **out)
{
	if (out)
		*out = NULL;
	return no_xen(__func__);
}

int gm_xen_space_open_domain(struct gm_xen *x, uint32_t domid,
			     unsigned int flags, struct gm_space **out)
{
	if (out)
		*out = NULL;
	return no_xen(__func__);
}

int gm_xen_get_stats(struct gm_xen *x, struct gm_xen_stats *st)
{
	return no_xen(__func__);
}

int gm_xen_invalidate(struct gm_xen *x)
{
	return no_xen(__func__);
}

int gm_xen_recheck(struct gm_xen *x)
{
	return no_xen(__func__);
}

int gm_xen_grant_copy(struct gm_xen *x, struct gm_xen_copy_seg *segs,
		      unsigned int n)
{
	unsigned int i;

	/* Every status says "not attempted", as the Xen build's would. */
	if (segs && n <= GM_XEN_COPY_MAX)
		for (i = 0; i < n; i++)
			segs[i].status = -ECANCELED;
	return no_xen(__func__);
}

int gm_xen_grant_list_map(struct gm_xen *x, uint32_t domid,
			  const uint32_t *refs, unsigned int count, int prot,
			  struct gm_xen_grant_list **out)
{
	if (out)
		*out = NULL;
	return no_xen(__func__);
}

void gm_xen_grant_list_unmap(struct gm_xen_grant_list *l)
{
}

void *gm_xen_grant_list_addr(const struct gm_xen_grant_list *l, size_t *len)
{
	if (len)
		*len = 0;
	return NULL;
}

const struct iovec *gm_xen_grant_list_iov(const struct gm_xen_grant_list *l,
					  int *niov)
{
	if (niov)
		*niov = 0;
	return NULL;
}

int gm_xen_grant_list_view(const struct gm_xen_grant_list *l,
			   struct gm_view *v)
{
	if (v)
		memset(v, 0, sizeof(*v));
	return no_xen(__func__);
}

int gm_xen_grant_list_purge(struct gm_xen *x, uint32_t domid)
{
	return no_xen(__func__);
}
