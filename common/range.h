/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The range engine: one walk over a guest-physical range, piece by piece,
 * used by every accessor family (access.c, atomic.c, pin.c).  Private.
 *
 * A walk yields the range as host pieces, in order.  Each is either
 * direct (a persistent region's memory, or a piece the backend published:
 * used inside the walk's read-side section, gm__walk_direct() being the
 * only place that decides it) or mapped by a call to the backend's map,
 * which the walk makes outside any section, holding a reference to the
 * region instead, so that a backend may block, take its locks and wait for
 * readers (gm_region_synchronize()).  After a map call the walk enters a
 * new section and looks the next address up again: an access that spans
 * regions while the table changes sees each region as the table has it
 * when the walk reaches it.
 *
 *	struct gm__walk w;
 *
 *	if (gm__walk_begin(&w, s, NULL, "read", gpa, len, GM_PROT_READ, 0, 1))
 *		return error;
 *	while ((ret = gm__walk_next(&w)) > 0) {
 *		use w.hva[0 .. w.n);
 *		gm__walk_done(&w);
 *	}
 *	gm__walk_end(&w);
 */
#ifndef GM_RANGE_H
#define GM_RANGE_H

#include "internal.h"
#include "piece.h"
#include "region.h"
#include "space.h"

/*
 * Validate the arguments every range accessor shares: a NULL space or
 * buffer (with @len > 0), a length over GM_MAX_LEN, a range that wraps.
 * Returns 0, or the error, recorded for gm_last_error() under @op.
 */
int gm__range_args(struct gm_space *s, const char *op, uint64_t gpa,
		   const void *buf, size_t len);

/*
 * Check that [gpa, gpa + len) (len >= 1, no wrap) is covered by adjacent
 * entries of @t from @e on (NULL: a hole), all writable if @write.
 * Returns 0, or -EFAULT / -EACCES with *at set to the first offending
 * address.
 */
int gm__range_check(const struct gm__table *t, const struct gm__entry *e,
		    uint64_t gpa, uint64_t len, int write, uint64_t *at);

/* Why an access failed when a fault-safe copy caught a fault. */
extern const char gm__fault_why[];

/*
 * The direct tier: whether [gpa, gpa + *n) (*n >= 1, inside entry @e) can
 * be accessed without a map call, inside a section: from the start of it
 * in a persistent region, or in one published piece.  If so sets *hva and
 * cuts *n to what that covers.  For a piece, when @genval is not NULL,
 * loads gm__piece_gen into it before the piece (see access.c's od_fill()
 * for why).
 */
static inline __attribute__((always_inline)) int
gm__walk_direct(const struct gm__entry *e, uint64_t gpa, int write,
		uint8_t **hva, uint64_t *n, uint64_t *genval)
{
	struct gm__piece p;
	uint64_t off;

	if (gm_likely(e->hva != NULL)) {
		*hva = e->hva + (gpa - e->gpa);
		return 1;
	}
	if (genval)
		*genval = atomic_load_explicit(&gm__piece_gen,
					       memory_order_acquire);
	off = gpa - e->gpa;
	if (!gm__piece_at(e->region, off, write, &p))
		return 0;
	if (*n > p.hi - off + 1)
		*n = p.hi - off + 1;
	*hva = p.hva;
	return 1;
}

struct gm__walk {
	struct gm_space *s;
	struct gm__space_reader *rd;
	const struct gm__table *t;  /* while in a section */
	const struct gm__entry *e;  /* entry of the current address, or NULL */
	uint64_t gpa, len;
	uint64_t done;		    /* bytes finished */
	int write;		    /* GM_PROT_WRITE asked for */
	int prot;
	unsigned int mflags;	    /* GM_MAP_* for map calls */
	int in;			    /* a section is open */
	/* The current piece, after gm__walk_next() returned 1. */
	uint8_t *hva;
	uint64_t n;
	struct gm_region *region;   /* mapped by a call, held; else NULL */
	struct gm_map m;
	/* Why the walk stopped, after gm__walk_next() returned < 0. */
	int err;
	uint64_t at;		    /* the failing address */
	const char *why;	    /* backend name for a map failure, or NULL */
};

/*
 * Start a walk over [gpa, gpa + len) (len >= 1, no wrap) for @prot, map
 * calls with @mflags (GM_MAP_HOLD: every piece is mapped by a call, none
 * is direct, so that the caller may keep it).  @rd: a reader of @s whose
 * leaf section is open, which the walk takes over, or NULL.  With @exact,
 * the whole range is checked first (holes, read-only regions).  Returns 0,
 * or an error recorded under @op, with no section open.
 */
int gm__walk_begin(struct gm__walk *w, struct gm_space *s,
		   struct gm__space_reader *rd, const char *op, uint64_t gpa,
		   uint64_t len, int prot, unsigned int mflags, int exact);

/* The next piece: 1 (w->hva, w->n, w->region set), 0 at the end, or a
 * negative errno (w->err, w->at, w->why set; nothing recorded). */
int gm__walk_next(struct gm__walk *w);

/* The caller is done with the current piece: release its mapping, unless
 * it took it over (set w->region to NULL), and count it. */
static inline void gm__walk_done(struct gm__walk *w)
{
	if (w->region) {
		gm__region_unmap(w->region, &w->m);
		gm__region_put(w->region);
		w->region = NULL;
	}
	w->done += w->n;
}

/* End the walk (any time after gm__walk_begin() succeeded); releases the
 * current piece's mapping if the caller did not call gm__walk_done(). */
void gm__walk_end(struct gm__walk *w);

/* Record the stop of @w (w->err and the rest) under @op; returns w->err. */
int gm__walk_error(const struct gm__walk *w, const char *op);

#endif /* GM_RANGE_H */
