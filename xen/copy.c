/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant copy: Xen copies between our buffers and pages other domains
 * granted us (GNTTABOP_copy through gntdev), so nothing is mapped here and
 * the mapping cache has no part in it.  This file checks the caller's
 * segments, hands them to xengnttab_grant_copy() in bounded batches built
 * on the stack, and turns Xen's per-segment GNTST_* codes into negative
 * errnos (the table is in guestmem/xen.h).
 */
#include "private.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* A status no GNTST_* code has: a segment the call did not report on
 * reads as a failure (-EIO), never as a silent success. */
#define NO_STATUS 1

_Static_assert(sizeof(struct gm_xen_copy_seg) == 32,
	       "struct gm_xen_copy_seg is ABI: 32 bytes");

static int gntst_errno(int st)
{
	switch (st) {
	case GNTST_okay:
		return 0;
	case GNTST_bad_domain:
		return -ESRCH;
	case GNTST_bad_gntref:
	case GNTST_bad_copy_arg: /* cannot happen: checked up front */
		return -EINVAL;
	case GNTST_general_error:
		return -EACCES;
	case GNTST_permission_denied:
		return -EPERM;
	case GNTST_bad_page:
		return -EFAULT;
	case GNTST_eagain:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static const char *gntst_name(int st)
{
	switch (st) {
	case GNTST_bad_domain:
		return "GNTST_bad_domain";
	case GNTST_bad_gntref:
		return "GNTST_bad_gntref";
	case GNTST_bad_copy_arg:
		return "GNTST_bad_copy_arg";
	case GNTST_general_error:
		return "GNTST_general_error";
	case GNTST_permission_denied:
		return "GNTST_permission_denied";
	case GNTST_bad_page:
		return "GNTST_bad_page";
	case GNTST_eagain:
		return "GNTST_eagain";
	default:
		return "unexpected status";
	}
}

/* Why segment @s is malformed, or NULL if it is not. */
static const char *seg_bad(const struct gm_xen_copy_seg *s)
{
	if (s->flags != GM_XEN_COPY_FROM_GRANT &&
	    s->flags != GM_XEN_COPY_TO_GRANT)
		return "flags must be one of GM_XEN_COPY_FROM_GRANT and "
		       "GM_XEN_COPY_TO_GRANT";
	if (!s->buf)
		return "buffer is NULL";
	if (!s->len)
		return "length is 0";
	/* gntdev refuses the whole call for this; Xen would say
	 * GNTST_bad_copy_arg. */
	if (s->offset >= XEN_PAGE_SIZE || s->len > XEN_PAGE_SIZE - s->offset)
		return "crosses the end of the granted page";
	if (s->domid > UINT16_MAX)
		return "domid is above 0xffff";
	return NULL;
}

/* "segment 3 of 8 (from grant: domain 5, ref 12, offset 0x100, 512
 * bytes)" into @buf. */
static void seg_name(char *buf, size_t size, const struct gm_xen_copy_seg *s,
		     unsigned int i, unsigned int n)
{
	char dir[24];

	if (s->flags == GM_XEN_COPY_FROM_GRANT)
		snprintf(dir, sizeof(dir), "from grant");
	else if (s->flags == GM_XEN_COPY_TO_GRANT)
		snprintf(dir, sizeof(dir), "to grant");
	else
		snprintf(dir, sizeof(dir), "flags %#x", s->flags);
	snprintf(buf, size,
		 "segment %u of %u (%s: domain %u, ref %u, offset %#x, %u "
		 "bytes)",
		 i, n, dir, s->domid, s->ref, s->offset, s->len);
}

static void to_xen(xengnttab_grant_copy_segment_t *b,
		   const struct gm_xen_copy_seg *s)
{
	/* Checked by seg_bad(): the narrowing casts lose nothing. */
	*b = (xengnttab_grant_copy_segment_t){
		.len = (uint16_t)s->len,
		.status = NO_STATUS,
	};
	if (s->flags == GM_XEN_COPY_FROM_GRANT) {
		b->source.foreign.ref = s->ref;
		b->source.foreign.offset = (uint16_t)s->offset;
		b->source.foreign.domid = (uint16_t)s->domid;
		b->dest.virt = s->buf;
		b->flags = GNTCOPY_source_gref;
	} else {
		b->source.virt = s->buf;
		b->dest.foreign.ref = s->ref;
		b->dest.foreign.offset = (uint16_t)s->offset;
		b->dest.foreign.domid = (uint16_t)s->domid;
		b->flags = GNTCOPY_dest_gref;
	}
}

int gm_xen_grant_copy(struct gm_xen *x, struct gm_xen_copy_seg *segs,
		      unsigned int n)
{
	xengnttab_grant_copy_segment_t b[GM_XEN_COPY_BATCH];
	unsigned int i, j, nb = 0, first = UINT_MAX, nfail = 0, done = 0;
	const char *why = NULL, *es;
	char name[128], ebuf[64];
	int ret = 0, st = 0, first_call = 0;

	if (!segs && n)
		return gm__xen_fail(__func__, -EINVAL, "segs is NULL");
	/* A count this large is more likely garbage than an array: no
	 * status is written. */
	if (n > GM_XEN_COPY_MAX)
		return gm_error_set(-EINVAL,
				    "%s: %u segments, more than "
				    "GM_XEN_COPY_MAX (%u)",
				    __func__, n, GM_XEN_COPY_MAX);
	for (i = 0; i < n; i++) {
		const char *bad = seg_bad(&segs[i]);

		segs[i].status = bad ? -EINVAL : -ECANCELED;
		if (bad && !nfail++) {
			first = i;
			why = bad;
		}
	}
	if (!x)
		return gm__xen_fail(__func__, -EINVAL, "x is NULL");
	if (nfail) {
		seg_name(name, sizeof(name), &segs[first], first, n);
		return gm_error_set(-EINVAL,
				    "%s: %s: %s; %u malformed segment%s, "
				    "nothing copied",
				    __func__, name, why, nfail,
				    nfail == 1 ? "" : "s");
	}
	if (!n)
		return 0;
	if (!x->xgt)
		return gm__xen_fail(__func__, x->xgt_err,
				    "libxengnttab could not be opened");

	for (i = 0; i < n; i += nb) {
		nb = n - i < GM_XEN_COPY_BATCH ? n - i : GM_XEN_COPY_BATCH;
		for (j = 0; j < nb; j++)
			to_xen(&b[j], &segs[i + j]);
		if (xengnttab_grant_copy(x->xgt, nb, b)) {
			/*
			 * The call failed as a whole (gntdev: a buffer it
			 * could not pin, EFAULT), after copying some of the
			 * batch perhaps: its statuses are not to be
			 * trusted.  The next batch would most likely fail
			 * alike, so stop here.
			 */
			/* errno 0 cannot happen; never report success. */
			int e = errno ? -errno : -EIO;

			for (j = 0; j < nb; j++)
				segs[i + j].status = e;
			if (first == UINT_MAX) {
				first = i;
				first_call = 1;
				ret = e;
			}
			nfail += nb;
			done = i + nb;
			break;
		}
		for (j = 0; j < nb; j++) {
			int e = gntst_errno(b[j].status);

			segs[i + j].status = e;
			if (!e)
				continue;
			if (first == UINT_MAX) {
				first = i + j;
				st = b[j].status;
				ret = e;
			}
			nfail++;
		}
		done = i + nb;
	}
	if (!ret)
		return 0;

	seg_name(name, sizeof(name), &segs[first], first, n);
	es = strerror_r(-ret, ebuf, sizeof(ebuf));
	if (first_call)
		return gm_error_set(ret,
				    "%s: %s: xengnttab_grant_copy failed for "
				    "segments %u-%u (%s); %u segment%s "
				    "failed, %u not attempted",
				    __func__, name, first, first + nb - 1, es,
				    nfail, nfail == 1 ? "" : "s", n - done);
	return gm_error_set(ret, "%s: %s: %s (%s, %d); %u segment%s failed%s",
			    __func__, name, es, gntst_name(st), st, nfail,
			    nfail == 1 ? "" : "s",
			    done < n ? ", later ones not attempted" : "");
}
