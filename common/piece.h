/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Published pieces of on-demand regions (guestmem/backend.h): the reader
 * side, inline for the accessors.  piece.c has the backend's side.
 *
 * Each piece has a state byte: GM__PIECE_R and, if writable, GM__PIECE_W
 * while it is published, and GM__PIECE_AT_BASE when it is published at its
 * place in the region's window (base + its offset).  A piece published
 * anywhere else also has a word: its host address with the same R/W bits.
 * An accessor reads the state byte (one byte per piece: the array of a
 * large region stays in the CPU's caches) and, for a piece in place,
 * computes its address without waiting for a load: the copy can start on
 * the branch's prediction.  The backend stores the word, then the state
 * byte, with release order after the mapping is made, and keeps the
 * memory mapped until gm_region_synchronize() returns after it cleared
 * or replaced them; that waits for every read-side section of every space
 * (rcu.h), which is where accessors load and use them.
 */
#ifndef GM_PIECE_H
#define GM_PIECE_H

#include "internal.h"

#include <stdatomic.h>

#define GM__PIECE_R 0x1u	/* state and word: readable */
#define GM__PIECE_W 0x2u	/* state and word: writable */
#define GM__PIECE_AT_BASE 0x4u	/* state: at base + the piece's offset */
#define GM__PIECE_LOW ((uintptr_t)0xfff) /* word: the bits that are not
					  * the address */

/* A region's pieces (gm_region.pieces), common code's own. */
struct gm_pieces {
	uint8_t *base;		    /* the window, or NULL */
	_Atomic unsigned char *state; /* one byte per piece */
	_Atomic uintptr_t *word;    /* per piece not at base: hva | R/W */
	unsigned char *used;	    /* accessed since the backend asked */
	unsigned int shift;	    /* log2 of the piece size */
	uint64_t count;
};

/*
 * Bumped by gm_region_synchronize() before it waits: a thread may keep a
 * piece's range in its space's lookup cache beyond one accessor call (see
 * access.c) only while this is unchanged since it loaded the piece.
 */
extern _Atomic uint64_t gm__piece_gen;

/* What gm__piece_at() found. */
struct gm__piece {
	uint8_t *hva;	 /* host address of the requested offset */
	uint64_t lo, hi; /* region offsets of the piece, inclusive */
	int writable;	 /* the publication allows writes */
};

/*
 * Inside a read-side section: whether the piece of on-demand region @r
 * that holds region offset @off is published for @write; if so fill @p and
 * mark the piece used (without a read-modify-write, and only when clear, so
 * that threads sharing a piece do not bounce its line).
 */
static inline __attribute__((always_inline)) int
gm__piece_at(const struct gm_region *r, uint64_t off, int write,
	     struct gm__piece *p)
{
	const struct gm_pieces *ps = r->pieces;
	unsigned int need = write ? GM__PIECE_W : GM__PIECE_R;
	uint64_t b;
	unsigned int st;

	if (!ps)
		return 0;
	b = off >> ps->shift;
	/* Acquire: the mapping (and the word) were made before. */
	st = atomic_load_explicit(&ps->state[b], memory_order_acquire);
	if (!(st & need))
		return 0;
	p->lo = b << ps->shift;
	p->hi = p->lo + ((UINT64_C(1) << ps->shift) - 1);
	if (p->hi > r->size - 1)
		p->hi = r->size - 1;
	if (__builtin_expect(st & GM__PIECE_AT_BASE, 1)) {
		p->hva = ps->base + off;
		p->writable = (st & GM__PIECE_W) != 0;
	} else {
		/* Its own bits: a word replaced since the state was read
		 * must still allow the access. */
		uintptr_t w = atomic_load_explicit(&ps->word[b],
						   memory_order_acquire);

		if (!(w & need))
			return 0;
		p->hva = (uint8_t *)(w & ~GM__PIECE_LOW) + (off - p->lo);
		p->writable = (w & GM__PIECE_W) != 0;
	}
	if (!__atomic_load_n(&ps->used[b], __ATOMIC_RELAXED))
		__atomic_store_n(&ps->used[b], 1, __ATOMIC_RELAXED);
	return 1;
}

/* Free what gm_region_pieces_init() allocated, once the region is
 * destroyed (the pointer saved before destroy). */
void gm__pieces_free(struct gm_pieces *ps);

#endif /* GM_PIECE_H */
