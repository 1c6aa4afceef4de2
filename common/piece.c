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

/* Number of pieces of @r. */
static uint64_t piece_count(const struct gm_region *r)
{
	return ((r->size - 1) >> r->piece_shift) + 1;
}

int gm_region_pieces_init(struct gm_region *r, unsigned int shift)
{
	uint64_t n;

	if (!r || !r->ops)
		return gm__error_msg(-EINVAL, "region pieces: region is NULL "
				     "or not initialised");
	if (r->ops->version < 2 || r->hva || r->pieces ||
	    (r->common_flags & GM__REGION_IN_SPACE) || shift < 12 ||
	    shift > 40)
		return gm__error_msg(-EINVAL, "region pieces: %s",
				     r->ops->version < 2 ? "ops table of version 1"
				     : r->hva	   ? "region is persistent"
				     : r->pieces   ? "pieces already set up"
				     : (r->common_flags & GM__REGION_IN_SPACE)
					     ? "region is in a space"
					     : "shift must be 12 to 40");
	n = ((r->size - 1) >> shift) + 1;
	if (n > SIZE_MAX / sizeof(uintptr_t))
		return gm__error_msg(-ENOMEM, "region pieces: too many");
	/* Untouched pages of the arrays are never committed. */
	r->pieces = calloc((size_t)n, sizeof(*r->pieces));
	r->piece_used = calloc((size_t)n, 1);
	if (!r->pieces || !r->piece_used) {
		free(r->pieces);
		free(r->piece_used);
		r->pieces = NULL;
		r->piece_used = NULL;
		return gm__error_msg(-ENOMEM, "region pieces: out of memory "
				     "for %llu pieces", (unsigned long long)n);
	}
	r->piece_shift = shift;
	return 0;
}

void gm__pieces_free(uintptr_t *pieces, unsigned char *used)
{
	free(pieces);
	free(used);
}

/* The word of piece @piece, or NULL if @r has no such piece. */
static _Atomic uintptr_t *piece_word(struct gm_region *r, uint64_t piece)
{
	if (!r || !r->pieces || piece >= piece_count(r))
		return NULL;
	return (_Atomic uintptr_t *)(void *)&r->pieces[piece];
}

int gm_region_publish(struct gm_region *r, uint64_t piece, void *hva,
		      int prot)
{
	_Atomic uintptr_t *w = piece_word(r, piece);
	uintptr_t v = (uintptr_t)hva;

	if (!w || !hva || (v & GM__PIECE_LOW) ||
	    (prot != GM_PROT_READ && prot != (GM_PROT_READ | GM_PROT_WRITE)) ||
	    ((prot & GM_PROT_WRITE) && (r->flags & GM_REGION_RDONLY)))
		return gm__error_msg(-EINVAL, "region publish: %s",
				     !w ? "no such piece"
				     : !hva || (v & GM__PIECE_LOW)
					     ? "address NULL or not page-aligned"
				     : prot != GM_PROT_READ &&
					     prot != (GM_PROT_READ |
						      GM_PROT_WRITE)
					     ? "bad protection"
					     : "writable piece of a read-only "
					       "region");
	v |= GM__PIECE_R | ((prot & GM_PROT_WRITE) ? GM__PIECE_W : 0);
	/* Release: a reader that sees the word sees the mapping made. */
	atomic_store_explicit(w, v, memory_order_release);
	return 0;
}

int gm_region_unpublish(struct gm_region *r, uint64_t piece, const void *hva)
{
	_Atomic uintptr_t *w = piece_word(r, piece);
	uintptr_t v;

	if (!w)
		return 0;
	v = atomic_load_explicit(w, memory_order_relaxed);
	if (!v || (v & ~GM__PIECE_LOW) != (uintptr_t)hva)
		return 0;
	/* The backend serialises publishing one piece; relaxed is enough,
	 * since gm_region_synchronize() orders it before any unmap. */
	atomic_store_explicit(w, 0, memory_order_relaxed);
	return 1;
}

int gm_region_piece_used(struct gm_region *r, uint64_t piece)
{
	if (!piece_word(r, piece))
		return 0;
	return __atomic_exchange_n(&r->piece_used[piece], 0,
				   __ATOMIC_RELAXED) != 0;
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
