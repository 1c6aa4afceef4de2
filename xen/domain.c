/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A whole domain as a space: one foreign region from frame 0 to the
 * domain's highest frame, which libxenctrl tells.
 */
#include "private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

int gm_xen_space_open_domain(struct gm_xen *x, uint32_t domid,
			     unsigned int flags, struct gm_space **out)
{
	xc_domaininfo_t info;
	struct gm_region *r;
	struct gm_space *s;
	xen_pfn_t max_gpfn = 0;
	char name[32];
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
	snprintf(name, sizeof(name), "domain-%" PRIu32, domid);
	ret = gm_space_new(&s, name,
			   (flags & GM_XEN_FAULT_SAFE) ? GM_SPACE_FAULT_SAFE : 0);
	if (ret)
		return ret;
	ret = gm_xen_foreign_region_new(x, domid, 0,
					((uint64_t)max_gpfn + 1)
						<< XEN_PAGE_SHIFT,
					0, flags & ~GM_XEN_FAULT_SAFE, &r);
	if (!ret) {
		ret = gm_space_add_region(s, r);
		if (ret)
			gm_region_destroy(r);
	}
	if (ret) {
		gm_space_free(s);
		return ret;
	}
	*out = s;
	return 0;
}
