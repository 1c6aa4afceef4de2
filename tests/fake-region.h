/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An in-memory test backend for common/ [SQLite test_vfs]: a region over a
 * malloc'd buffer that maps on demand (hva stays NULL) or, optionally,
 * persistently, and that can misbehave on request:
 *
 *  - return at most max_map bytes per map call, so that common code has to
 *    map a range in many pieces;
 *  - fail the next N map calls, or any map call that touches one offset,
 *    with a chosen errno (setting gm_map.fault to the exact failing
 *    offset);
 *  - break the map contract on purpose ("buggy" modes: a NULL hva, a
 *    length of 0 or longer than asked, ...), which the dispatch layer must
 *    turn into -EIO instead of a wild access.
 *
 * It counts map and unmap calls and live mappings, and checks every call
 * common code makes against the contract of guestmem/backend.h: a breach
 * (a map out of range, a write mapping of a read-only region, an unmap of
 * something map never returned, a transient mapping -- one without
 * GM_MAP_HOLD -- still live at its thread's next map call or unmapped by
 * another thread, a destroy with live mappings or a map after destroy) is
 * counted in fake_violations(), which every test checks.
 *
 * Piece mode (cfg.piece_shift, guestmem/backend.h's published pieces),
 * through the public functions only, as a backend outside this tree
 * would: the region is cut into pieces at creation, and the test
 * publishes and unpublishes them (fake_publish(), fake_unpublish()), or
 * map publishes every piece it hands out, as a mapping cache would
 * (cfg.publish_on_map).  That common code then copies without a map call
 * is not part of the contract, so it is not checked here: tests compare
 * map_calls instead.  What is checked: destroy unpublishes every piece
 * still published, as a cache that tears down would, and each must still
 * be published where the fake put it (the pieces outlive destroy).
 *
 * Thread safety: map, unmap and destroy may run concurrently, as common
 * code may call them; so may fake_publish*() and fake_unpublish(), which
 * serialise on the region's own lock, as the contract asks of a backend.
 * The fake_fail_*() and fake_set_bug() controls are meant to be set while
 * no other thread uses the region.
 */
#ifndef FAKE_REGION_H
#define FAKE_REGION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <guestmem.h>
#include <guestmem/backend.h>

/* Backend name, as gm_region_ops.name and in error messages. */
#define FAKE_NAME "fake"

/* Every byte of a poison-mode region's buffer after destroy. */
#define FAKE_POISON 0xdbu

/* Ways to break the map contract (fake_set_bug()). */
enum fake_bug {
	FAKE_BUG_NONE,
	FAKE_BUG_NULL_HVA,    /* succeed with hva NULL */
	FAKE_BUG_ZERO_LEN,    /* succeed with len 0 */
	FAKE_BUG_LONG,	      /* succeed with len one more than asked */
	FAKE_BUG_SHORT_WHOLE, /* succeed with less than asked despite
			       * GM_MAP_WHOLE */
	FAKE_BUG_POSITIVE,    /* return 1 and map nothing */
};

struct fake_config {
	uint64_t gpa, size;
	unsigned int flags; /* GM_REGION_* for gm_region_init() */
	/* Most bytes one map call returns; 0: no limit.  GM_MAP_WHOLE
	 * requests ignore it unless strict_whole is set, when they fail with
	 * -ENOMEM (a backend that cannot map that much contiguously). */
	uint64_t max_map;
	int strict_whole;
	/* With max_map: store the region as pieces of max_map bytes (at
	 * max_map-aligned offsets) that are @gap bytes apart in host
	 * memory, as a mapping cache of small buckets would.  Maps never
	 * cross a piece, GM_MAP_WHOLE across one fails with -ENOMEM, and
	 * buf is no longer the region's bytes in order: use fake_hva(). */
	uint64_t gap;
	/* Map the buffer persistently: set hva, so that common code never
	 * calls map or unmap. */
	int persistent;
	/* Offset the buffer by one byte from its aligned allocation, so that
	 * host addresses are misaligned with respect to guest addresses. */
	int misalign;
	/* Allocate the buffer with mmap(), page-aligned, so that
	 * fake_revoke() can make a page of it fault (not with poison). */
	int page_buf;
	/* On destroy, fill the buffer with FAKE_POISON and keep the region's
	 * memory until fake_graveyard_free(), so that a late reader sees
	 * poison instead of freed memory. */
	int poison;
	/* Spin this many loop iterations inside each successful map call,
	 * with the mapping already live: widens the window in which an
	 * accessor holds a region, for races against removal. */
	unsigned int map_spin;
	/* Incremented (atomically) by destroy; owned by the test, so that it
	 * can observe a destruction after the region itself is gone. */
	int *destroyed;
	/* Piece mode: log2 of the piece size for gm_region_pieces_init()
	 * (0: off).  Needs page_buf, and neither persistent, misalign nor
	 * gap, so that every piece starts page-aligned in buf. */
	unsigned int piece_shift;
	/* Piece mode: each successful map call publishes the pieces it
	 * touches with this protection (GM_PROT_READ, or GM_PROT_READ |
	 * GM_PROT_WRITE; 0: none). */
	int publish_on_map;
	/* Piece mode: incremented (atomically) by destroy for each piece it
	 * unpublished; owned by the test, like destroyed. */
	int *destroy_unpublished;
};

struct fake_region {
	struct gm_region base; /* first: common code sees only this */
	struct fake_config cfg;
	uint8_t *buf;	       /* cfg.size bytes, zeroed at creation */
	void *alloc;	       /* what buf was carved from */
	size_t bytes;	       /* size of alloc */

	/* Counters. */
	atomic_ulong map_calls; /* every map call */
	atomic_ulong maps;	/* successful map calls */
	atomic_ulong unmaps;
	atomic_long live;	/* maps not yet unmapped */
	atomic_uint last_flags; /* flags of the last map call */
	atomic_int last_prot;	/* prot of the last map call */
	atomic_int destroyed_flag;

	/* Failure injection (fake_fail_next(), fake_fail_at()). */
	atomic_uint fail_next;
	int fail_next_err;
	uint64_t fail_off; /* UINT64_MAX: none */
	int fail_off_err;
	int fail_off_whole; /* fail the whole call, not just from fail_off */
	enum fake_bug bug;

	/* Piece mode: where the fake published each piece (NULL: not
	 * published by it), under pub_lock. */
	pthread_mutex_t pub_lock;
	void **pub;
	uint64_t npieces;
	atomic_ulong publishes; /* successful fake_publish*() and
				 * publications by map */

	struct fake_region *grave_next; /* graveyard list (poison mode) */
};

/*
 * fake_region_new() - make a region as gm_region_init() would.
 * Return: 0, gm_region_init()'s or gm_region_pieces_init()'s error,
 * -EINVAL (gap without max_map, or with persistent; piece_shift without
 * page_buf, or with persistent, misalign or gap; publish_on_map without
 * piece_shift, or not a valid protection for gm_region_publish() on this
 * region), or -ENOMEM (also for sizes over 1 GiB).
 */
int fake_region_new(const struct fake_config *cfg, struct fake_region **out);

/* Host address of region offset @off (buf + off unless cfg.gap). */
uint8_t *fake_hva(struct fake_region *f, uint64_t off);

static inline struct gm_region *fake_gm(struct fake_region *f)
{
	return &f->base;
}

/* Make the page holding region offset @off inaccessible (PROT_NONE), as
 * a revoked grant or a truncated file would be: accesses to it fault.
 * Needs cfg.page_buf.  Return: 0 or a negative errno. */
int fake_revoke(struct fake_region *f, uint64_t off);

/* Fail the next @n map calls with @err (negative errno), fault = off. */
void fake_fail_next(struct fake_region *f, unsigned int n, int err);

/*
 * Fail map calls that touch region offset @off with @err (negative errno)
 * and fault = @off.  If @whole_call is 0, a call that starts before @off
 * (without GM_MAP_WHOLE) instead maps up to @off, as a backend that maps
 * page by page would; if 1, the whole call fails.  @off = UINT64_MAX
 * clears it.
 */
void fake_fail_at(struct fake_region *f, uint64_t off, int err,
		  int whole_call);

void fake_set_bug(struct fake_region *f, enum fake_bug bug);

/*
 * Piece mode: publish piece @piece with @prot at the fake's own storage
 * of it (fake_publish()), or at @hva: any page-aligned memory that stays
 * mapped while published, so that a test can tell by its bytes which
 * publication an accessor used.  The fake remembers the address for
 * fake_unpublish() and destroy.  Return: gm_region_publish()'s.
 */
int fake_publish_at(struct fake_region *f, uint64_t piece, void *hva,
		    int prot);
int fake_publish(struct fake_region *f, uint64_t piece, int prot);

/*
 * Piece mode: take piece @piece back as a cache evicting it would:
 * gm_region_unpublish() at the address the fake published it at (its own
 * storage if none), then gm_region_synchronize().  Return: what
 * gm_region_unpublish() returned (1: it was published there).
 */
int fake_unpublish(struct fake_region *f, uint64_t piece);

/* Contract breaches seen so far, and a description of the first one. */
unsigned long fake_violations(void);
const char *fake_violation_msg(void);
void fake_violations_reset(void);

/* Free the memory of every destroyed poison-mode region. */
void fake_graveyard_free(void);

#endif /* FAKE_REGION_H */
