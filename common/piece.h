/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Published pieces of on-demand regions (guestmem/backend.h): the reader
 * side, inline for the accessors.  piece.c has the backend's side.
 *
 * A piece's word in r->pieces is 0, or the piece's host address (aligned
 * to 4096) with GM__PIECE_R and, if writable, GM__PIECE_W in its low bits.
 * The backend stores it with release order after the mapping is made, so
 * an acquire load that sees the bits sees the memory mapped; it keeps the
 * memory mapped until gm_region_synchronize() returns after it cleared or
 * replaced the word, and that waits for every read-side section of every
 * space (rcu.h), which is where accessors load and use the word.
 */
#ifndef GM_PIECE_H
#define GM_PIECE_H

#include "internal.h"

#include <stdatomic.h>

#define GM__PIECE_R ((uintptr_t)0x1)
#define GM__PIECE_W ((uintptr_t)0x2)
#define GM__PIECE_LOW ((uintptr_t)0xfff)

/*
 * Bumped by gm_region_synchronize() before it waits: a thread may keep a
 * piece's range in its space's lookup cache beyond one accessor call (see
 * access.c) only while this is unchanged since it loaded the piece.
 */
extern _Atomic uint64_t gm__piece_gen;

/* What gm__piece_find() found. */
struct gm__piece {
	uint8_t *hva;	 /* host address of the requested offset */
	uint64_t lo, hi; /* region offsets of the piece, inclusive */
	uintptr_t word;	 /* the piece's word */
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
	const _Atomic uintptr_t *w =
		(const _Atomic uintptr_t *)(const void *)r->pieces;
	unsigned int shift = r->piece_shift;
	uint64_t b = off >> shift;
	uintptr_t v;

	if (!w)
		return 0;
	v = atomic_load_explicit(&w[b], memory_order_acquire);
	if (!(v & (write ? GM__PIECE_W : GM__PIECE_R)))
		return 0;
	if (!__atomic_load_n(&r->piece_used[b], __ATOMIC_RELAXED))
		__atomic_store_n(&r->piece_used[b], 1, __ATOMIC_RELAXED);
	p->lo = b << shift;
	p->hi = p->lo + ((UINT64_C(1) << shift) - 1);
	if (p->hi > r->size - 1)
		p->hi = r->size - 1;
	p->word = v;
	p->hva = (uint8_t *)(v & ~GM__PIECE_LOW) + (off - p->lo);
	return 1;
}

/* gm__piece_at() for all of [off, off + len) (len >= 1, inside @r). */
static inline __attribute__((always_inline)) int
gm__piece_find(const struct gm_region *r, uint64_t off, uint64_t len,
	       int write, struct gm__piece *p)
{
	unsigned int shift = r->piece_shift;

	return ((off + (len - 1)) >> shift) == (off >> shift) &&
	       gm__piece_at(r, off, write, p);
}

/* Free what gm_region_pieces_init() allocated for @r, once destroyed:
 * call with the two pointers saved before destroy. */
void gm__pieces_free(uintptr_t *pieces, unsigned char *used);

#endif /* GM_PIECE_H */
