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
 * Thread safety: map, unmap and destroy may run concurrently, as common
 * code may call them; the fake_fail_*() and fake_set_bug() controls are
 * meant to be set while no other thread uses the region.
 */
#ifndef FAKE_REGION_H
#define FAKE_REGION_H

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

	struct fake_region *grave_next; /* graveyard list (poison mode) */
};

/*
 * fake_region_new() - make a region as gm_region_init() would.
 * Return: 0, gm_region_init()'s error, -EINVAL (gap without max_map, or
 * with persistent), or -ENOMEM (also for sizes over 1 GiB).
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

/* Contract breaches seen so far, and a description of the first one. */
unsigned long fake_violations(void);
const char *fake_violation_msg(void);
void fake_violations_reset(void);

/* Free the memory of every destroyed poison-mode region. */
void fake_graveyard_free(void);

#endif /* FAKE_REGION_H */
