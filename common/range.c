/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The range engine (range.h): argument checks, coverage checks, and the
 * walk that every accessor family uses beyond its fast path.
 */
#include "internal.h"

#include <errno.h>

#include "range.h"

const char gm__fault_why[] = "guest page faulted (revoked, ballooned "
			    "out or truncated under its mapping)";

int gm__range_args(struct gm_space *s, const char *op, uint64_t gpa,
		   const void *buf, size_t len)
{
	if (!s)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					"space is NULL");
	if (!buf && len)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					"buffer is NULL");
	if (len > GM_MAX_LEN)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					"length exceeds GM_MAX_LEN");
	if (len && gpa + (len - 1) < gpa)
		return gm__error_access(s, op, gpa, len, gpa, -EOVERFLOW, NULL);
	return 0;
}

int gm__range_check(const struct gm__table *t, const struct gm__entry *e,
		    uint64_t gpa, uint64_t len, int write, uint64_t *at)
{
	uint64_t last = gpa + (len - 1), cur = gpa;

	if (!e) {
		*at = gpa;
		return -EFAULT;
	}
	for (;;) {
		if (write && (e->flags & GM_REGION_RDONLY)) {
			*at = cur;
			return -EACCES;
		}
		if (last <= e->last)
			return 0;
		cur = e->last + 1;
		e = gm__space_next(t, e);
		if (!e || e->gpa != cur) {
			*at = cur;
			return -EFAULT;
		}
	}
}

/* Enter a section of @w's space and look @gpa up. */
static void walk_enter(struct gm__walk *w, uint64_t gpa)
{
	gm__rcu_enter(w->s->dom, &w->rd->rcu);
	w->in = 1;
	w->t = gm__space_table(w->s);
	w->e = gm__space_lookup(w->t, w->rd, gpa);
}

static void walk_exit(struct gm__walk *w)
{
	gm__rcu_exit(&w->rd->rcu);
	w->in = 0;
	w->t = NULL;
	w->e = NULL;
}

int gm__walk_begin(struct gm__walk *w, struct gm_space *s,
		   struct gm__space_reader *rd, const char *op, uint64_t gpa,
		   uint64_t len, int prot, unsigned int mflags, int exact)
{
	*w = (struct gm__walk){ .s = s, .gpa = gpa, .len = len, .prot = prot,
				.write = (prot & GM_PROT_WRITE) != 0,
				.mflags = mflags };
	if (rd) {
		/* The fast path's leaf section becomes an ordinary one: what
		 * runs in it may nest. */
		gm__rcu_leaf_to_nested(&rd->rcu);
		w->rd = rd;
		w->in = 1;
		w->t = gm__space_table(s);
		w->e = gm__space_lookup(w->t, rd, gpa);
	} else {
		w->rd = gm__space_reader(s);
		if (gm_unlikely(!w->rd))
			return gm__error_access(s, op, gpa, len, gpa, -ENOMEM,
						NULL);
		walk_enter(w, gpa);
	}
	if (exact) {
		uint64_t at;
		int err = gm__range_check(w->t, w->e, gpa, len, w->write, &at);

		if (err) {
			walk_exit(w);
			return gm__error_access(s, op, gpa, len, at, err, NULL);
		}
	}
	return 0;
}

int gm__walk_next(struct gm__walk *w)
{
	uint64_t cur = w->gpa + w->done, left = w->len - w->done, off, egpa;
	const struct gm__entry *e;
	struct gm_region *r;
	int ret;

	if (!left)
		return 0;
	if (!w->in)
		walk_enter(w, cur);
	else if (w->e && cur > w->e->last)
		w->e = gm__space_next(w->t, w->e);
	e = w->e;
	if (!e || cur < e->gpa || cur > e->last) {
		w->err = -EFAULT;
		w->at = cur;
		w->why = NULL;
		return w->err;
	}
	if (w->write && (e->flags & GM_REGION_RDONLY)) {
		w->err = -EACCES;
		w->at = cur;
		w->why = NULL;
		return w->err;
	}
	w->n = e->last - cur < left - 1 ? e->last - cur + 1 : left;
	w->region = NULL;
	if (!(w->mflags & GM_MAP_HOLD) &&
	    gm__walk_direct(e, cur, w->write, &w->hva, &w->n, NULL))
		return 1;
	/*
	 * A map call: outside the section, so that the backend may block and
	 * wait for readers; the region's reference keeps it alive instead.
	 * A persistent region (held by a view or a lease) needs no call.
	 */
	r = e->region;
	off = cur - e->gpa;
	egpa = e->gpa;
	gm__region_get(r);
	walk_exit(w);
	ret = gm__region_map(r, off, w->n, w->prot, w->mflags, &w->m);
	if (gm_unlikely(ret)) {
		w->err = ret;
		w->at = egpa + w->m.fault;
		/* The ops table outlives the region (backend.h). */
		w->why = r->ops->name;
		gm__region_put(r);
		return ret;
	}
	w->region = r;
	w->hva = w->m.hva;
	w->n = w->m.len;
	return 1;
}

void gm__walk_end(struct gm__walk *w)
{
	if (w->region) {
		gm__region_unmap(w->region, &w->m);
		gm__region_put(w->region);
		w->region = NULL;
	}
	if (w->in)
		walk_exit(w);
}

int gm__walk_error(const struct gm__walk *w, const char *op)
{
	if (w->why && w->why != gm__fault_why)
		return gm__error_map(w->s, op, w->gpa, w->len, w->at, w->err,
				     w->why);
	return gm__error_access(w->s, op, w->gpa, w->len, w->at, w->err,
				w->why);
}
