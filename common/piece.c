/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Published pieces of on-demand regions: the backend's side
 * (guestmem/backend.h).  The readers' side is piece.h; the grace period is
 * rcu.c's, over the read-side sections of every space.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

#include "piece.h"
#include "rcu.h"

_Atomic uint64_t gm__piece_gen;

int gm_region_pieces_init(struct gm_region *r, unsigned int shift,
			  void *base)
{
	struct gm_pieces *ps;
	uint64_t n;

	if (!r || !r->ops)
		return gm__error_msg(-EINVAL, "region pieces: region is NULL "
				     "or not initialised");
	if (r->ops->version < 2 || r->hva || r->pieces ||
	    (r->common_flags & GM__REGION_IN_SPACE) || shift < 12 ||
	    shift > 40 || ((uintptr_t)base & GM__PIECE_LOW))
		return gm__error_msg(-EINVAL, "region pieces: %s",
				     r->ops->version < 2 ? "ops table of version 1"
				     : r->hva	   ? "region is persistent"
				     : r->pieces   ? "pieces already set up"
				     : (r->common_flags & GM__REGION_IN_SPACE)
					     ? "region is in a space"
				     : shift < 12 || shift > 40
					     ? "shift must be 12 to 40"
					     : "base not page-aligned");
	n = ((r->size - 1) >> shift) + 1;
	if (n > SIZE_MAX / sizeof(uintptr_t))
		return gm__error_msg(-ENOMEM, "region pieces: too many");
	/* Untouched pages of the arrays are never committed. */
	ps = calloc(1, sizeof(*ps));
	if (ps) {
		ps->state = calloc((size_t)n, sizeof(*ps->state));
		ps->word = calloc((size_t)n, sizeof(*ps->word));
		ps->used = calloc((size_t)n, 1);
	}
	if (!ps || !ps->state || !ps->word || !ps->used) {
		gm__pieces_free(ps);
		return gm__error_msg(-ENOMEM, "region pieces: out of memory "
				     "for %llu pieces", (unsigned long long)n);
	}
	ps->base = base;
	ps->shift = shift;
	ps->count = n;
	r->pieces = ps;
	return 0;
}

void gm__pieces_free(struct gm_pieces *ps)
{
	if (!ps)
		return;
	free(ps->state);
	free(ps->word);
	free(ps->used);
	free(ps);
}

/* The pieces of @r, if @piece is one of them, else NULL. */
static struct gm_pieces *pieces_of(struct gm_region *r, uint64_t piece)
{
	if (!r || !r->pieces || piece >= r->pieces->count)
		return NULL;
	return r->pieces;
}

/* Whether @hva is @piece's place at the window's base. */
static int at_base(const struct gm_pieces *ps, uint64_t piece,
		   const void *hva)
{
	return ps->base && (const uint8_t *)hva == ps->base +
							   (piece << ps->shift);
}

int gm_region_publish(struct gm_region *r, uint64_t piece, void *hva,
		      int prot)
{
	struct gm_pieces *ps = pieces_of(r, piece);
	unsigned int bits;

	if (!ps || !hva || ((uintptr_t)hva & GM__PIECE_LOW) ||
	    (prot != GM_PROT_READ && prot != (GM_PROT_READ | GM_PROT_WRITE)) ||
	    ((prot & GM_PROT_WRITE) && (r->flags & GM_REGION_RDONLY)))
		return gm__error_msg(-EINVAL, "region publish: %s",
				     !ps ? "no such piece"
				     : !hva || ((uintptr_t)hva & GM__PIECE_LOW)
					     ? "address NULL or not page-aligned"
				     : prot != GM_PROT_READ &&
					     prot != (GM_PROT_READ |
						      GM_PROT_WRITE)
					     ? "bad protection"
					     : "writable piece of a read-only "
					       "region");
	bits = GM__PIECE_R | ((prot & GM_PROT_WRITE) ? GM__PIECE_W : 0);
	if (at_base(ps, piece, hva)) {
		/* Release: a reader that sees the bits sees the mapping. */
		atomic_store_explicit(&ps->state[piece],
				      bits | GM__PIECE_AT_BASE,
				      memory_order_release);
		return 0;
	}
	/* The word first: a reader that sees the state's bits reads it,
	 * and checks its own bits (piece.h). */
	atomic_store_explicit(&ps->word[piece], (uintptr_t)hva | bits,
			      memory_order_release);
	atomic_store_explicit(&ps->state[piece], bits, memory_order_release);
	return 0;
}

int gm_region_unpublish(struct gm_region *r, uint64_t piece, const void *hva)
{
	struct gm_pieces *ps = pieces_of(r, piece);
	unsigned int st;

	if (!ps || !hva)
		return 0;
	/* The backend serialises publishing one piece; relaxed is enough,
	 * since gm_region_synchronize() orders it before any unmap. */
	st = atomic_load_explicit(&ps->state[piece], memory_order_relaxed);
	if (!(st & GM__PIECE_R))
		return 0;
	if (st & GM__PIECE_AT_BASE) {
		if (!at_base(ps, piece, hva))
			return 0;
	} else if ((atomic_load_explicit(&ps->word[piece],
					 memory_order_relaxed) &
		    ~GM__PIECE_LOW) != (uintptr_t)hva) {
		return 0;
	}
	atomic_store_explicit(&ps->state[piece], 0, memory_order_relaxed);
	atomic_store_explicit(&ps->word[piece], 0, memory_order_relaxed);
	return 1;
}

int gm_region_piece_used(struct gm_region *r, uint64_t piece)
{
	struct gm_pieces *ps = pieces_of(r, piece);

	if (!ps)
		return 0;
	return __atomic_exchange_n(&ps->used[piece], 0, __ATOMIC_RELAXED) != 0;
}

void gm_region_synchronize(struct gm_region *r)
{
	(void)r; /* every space may hold any region's pieces in a cache */
	/*
	 * After the unpublishing stores, before the wait: a thread that
	 * cached a piece's range checks this after it published its cache
	 * (access.c, od_fill()), a store-buffering pattern that the fences
	 * of both sides order in C11's single total order.  Either its
	 * check sees the new generation and it drops the range itself, or
	 * the wait below sees its cache and drops the range for it.
	 */
	atomic_fetch_add_explicit(&gm__piece_gen, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	gm__rcu_synchronize_all();
}
