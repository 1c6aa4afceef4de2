/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The space's region table: an immutable, sorted snapshot that writers
 * replace as a whole (copy, modify, publish, wait for readers, free) and
 * readers use inside an RCU read-side section (rcu.h) without locking.
 */
#ifndef GM_SPACE_H
#define GM_SPACE_H

#include <pthread.h>

#include "internal.h"
#include "rcu.h"

/* One region in the table.  Hot fields are copied in so that a lookup
 * touches only the table. */
struct gm__entry {
	uint64_t gpa;	      /* first byte */
	uint64_t last;	      /* last byte: gpa + size - 1 (no wrap at 2^64) */
	uint8_t *hva;	      /* persistent mapping of gpa, or NULL */
	unsigned int flags;   /* GM_REGION_* */
	struct gm_region *region;
};

struct gm__table {
	uint64_t gen; /* unique per space: keys the readers' lookup cache */
	size_t n;
	struct gm__entry e[]; /* ascending, non-overlapping */
};

/*
 * A thread's reader of a space: the RCU reader, then the thread's lookup
 * cache for the space, valid while the space's table generation is
 * cache_gen: the entry it last found, as the guest-physical ranges
 * [lo, hi] that can be read and written directly through host address
 * gpa + cache_delta.  An empty range is lo = UINT64_MAX, hi = 0 (an
 * on-demand region cannot be accessed directly; a read-only one not
 * written).  The first cache line holds everything the fast path reads.
 */
struct gm__space_reader {
	struct gm__rcu_reader rcu;  /* first */
	_Atomic uint64_t cache_gen; /* also written by space_forget() */
	uint64_t cache_rlo, cache_rhi;
	uint64_t cache_wlo, cache_whi;
	uintptr_t cache_delta;
	/* Second cache line.  The cached entry itself, in the table of
	 * generation cache_gen (gm__space_lookup()). */
	const struct gm__entry *cache_entry;
	/*
	 * The cached range is a published piece (access.c), which
	 * gm__rcu_synchronize_all() invalidates (space_forget()) by storing
	 * UINT64_MAX in cache_gen.  Set by the owner, never cleared: a stale
	 * 1 only costs an invalidation that was not needed.
	 */
	_Atomic int cache_od;
	uint64_t od_last;	/* owner only: see access.c */
};

static inline struct gm__space_reader *
gm__space_reader_of(struct gm__rcu_reader *r)
{
	return (struct gm__space_reader *)(void *)r;
}

struct gm_space {
	struct gm__rcu_domain *dom;
	uint64_t dom_id;		/* copy of dom->id */
	unsigned int flags;		/* GM_SPACE_* */
	_Atomic(struct gm__table *) table;
	/* The generation of table, stored after it and read instead of it
	 * by the fast path (gm__space_cached()). */
	_Atomic uint64_t gen;
	pthread_mutex_t wlock;		/* serialises writers */
	uint64_t next_gen;		/* under wlock */
	struct gm__rcu_fork_hook fork;	/* takes wlock over in a child */
	char name[64];
};


/* The name errors give @s. */
static inline const char *gm__space_name(const struct gm_space *s)
{
	return s ? s->name : "?";
}

/* gm__error_record() and gm__error_record_map() (internal.h) for @s. */
static inline int gm__error_access(const struct gm_space *s, const char *op,
				   uint64_t gpa, uint64_t len, uint64_t at,
				   int err, const char *why)
{
	return gm__error_record(gm__space_name(s), op, gpa, len, at, err, why);
}

static inline int gm__error_map(const struct gm_space *s, const char *op,
				uint64_t gpa, uint64_t len, uint64_t at,
				int err, const char *backend)
{
	return gm__error_record_map(gm__space_name(s), op, gpa, len, at, err,
				    backend);
}

const struct gm__entry *gm__space_lookup_slow(const struct gm__table *t,
					      struct gm__space_reader *r,
					      uint64_t gpa);

/* The entry that contains @gpa, or NULL for a hole. */
static inline const struct gm__entry *
gm__space_lookup(const struct gm__table *t, struct gm__space_reader *r,
		 uint64_t gpa)
{
	if (__builtin_expect(atomic_load_explicit(&r->cache_gen,
						  memory_order_relaxed) ==
				     t->gen,
			     1)) {
		/* t is the table of that generation: e points into it. */
		const struct gm__entry *e = r->cache_entry;

		if (gpa - e->gpa <= e->last - e->gpa)
			return e;
	}
	return gm__space_lookup_slow(t, r, gpa);
}

/*
 * The fast path's lookup, inside a section of @r: whether the thread's
 * cache has all of [gpa, gpa + len) (len >= 1, no wrap) in one persistent
 * region that allows the access (@write), and then its host address.
 *
 * A cache filled from the table of generation G is used only while s->gen
 * reads G inside the section.  That is as safe as loading the table: the
 * writer stores the new generation before its grace period, so a reader
 * that still sees G is waited for before G's regions can go.
 */
static inline __attribute__((always_inline)) int
gm__space_cached(struct gm_space *s, const struct gm__space_reader *r,
		 uint64_t gpa, size_t len, int write, uint8_t **hva)
{
	uint64_t lo = write ? r->cache_wlo : r->cache_rlo;
	uint64_t hi = write ? r->cache_whi : r->cache_rhi;

	if (__builtin_expect(atomic_load_explicit(&r->cache_gen,
						  memory_order_relaxed) !=
				     atomic_load_explicit(&s->gen,
							  memory_order_relaxed),
			     0) ||
	    gpa < lo || gpa + (len - 1) > hi)
		return 0;
	*hva = (uint8_t *)(r->cache_delta + (uintptr_t)gpa);
	return 1;
}

/* This thread's reader for @s if it is one of the two it used last and
 * may open leaf sections (the fast path's look), else NULL. */
static inline __attribute__((always_inline)) struct gm__space_reader *
gm__space_reader_fast(const struct gm_space *s)
{
	struct gm__rcu_reader *r = gm__rcu_last;

	if (__builtin_expect(r != NULL && gm__rcu_is(r, s->dom_id), 1))
		return gm__space_reader_of(r);
	r = gm__rcu_last2;
	if (__builtin_expect(r != NULL && gm__rcu_is(r, s->dom_id), 1))
		return gm__space_reader_of(r);
	return NULL;
}

/* This thread's reader for @s, or NULL when out of memory. */
static inline struct gm__space_reader *gm__space_reader(struct gm_space *s)
{
	struct gm__space_reader *r = gm__space_reader_fast(s);
	struct gm__rcu_reader *rr;

	if (__builtin_expect(r != NULL, 1))
		return r;
	rr = gm__rcu_reader_slow(s->dom);
	return rr ? gm__space_reader_of(rr) : NULL;
}

/* The current table, inside a section of the space's domain. */
static inline const struct gm__table *gm__space_table(struct gm_space *s)
{
	return atomic_load_explicit(&s->table, memory_order_acquire);
}

/* The entry after @e, or NULL. */
static inline const struct gm__entry *gm__space_next(const struct gm__table *t,
						     const struct gm__entry *e)
{
	return e + 1 < t->e + t->n ? e + 1 : NULL;
}

#endif /* GM_SPACE_H */
