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
	uint64_t gen; /* unique in the process (space.c); never 0 */
	size_t n;
	/*
	 * The index, for lookups that miss the thread's cache (space.c):
	 * the addresses [base + (k << shift), base + ((k + 1) << shift)) of
	 * slot k < nslots are in no entry but e[slot[k]] ... e[slot[k + 1]]
	 * (the last one capped at n - 1).  NULL without entries (or with
	 * too many for 32-bit slots): lookups then search the whole table.
	 */
	const uint32_t *slot;
	uint64_t base;
	uint64_t nslots;
	unsigned int shift;
	/*
	 * The index as guestmem.h's inline accessors read it (struct
	 * gm__ftab), over fent: one struct gm__fent per entry and a last
	 * one that allows nothing (unset in a fault-safe space), then the
	 * slots, in the table's own block, after e[].  ft.nslots is 0 when
	 * the inline path must not look anything up (no index, or a
	 * fault-safe space).
	 */
	struct gm__ftab ft;
	struct gm__fent *fent;
	struct gm__entry e[]; /* ascending, non-overlapping */
};

/*
 * A thread's reader of a space: the RCU reader, then the thread's cached
 * range, then its lookup cache.  Its first cache line is struct
 * gm__tcache of guestmem.h, which the header's inline accessors read
 * (space.c checks that the layouts agree); it holds everything a fast
 * path reads.
 *
 * The cached range: guest-physical addresses [lo, lo + lim + 15], which
 * are mapped at host address gpa + delta and may be read while rgen is
 * the space's table generation, written while wgen is (an on-demand
 * region cannot be cached; a read-only one has no wgen).  lim is thus the
 * largest offset from lo at which an access of up to 16 bytes fits.
 * Generations are unique in the process (space.c), so a cached range
 * whose generation is that of a space belongs to that space's reader: no
 * other test is needed.  GM__GEN_NONE, which is no generation, marks no
 * range.
 *
 * The lookup cache: the entry it last found (gm__space_lookup()), in the
 * table of generation cache_gen.
 */
struct gm__space_reader {
	struct gm__rcu_reader rcu;  /* first */
	_Atomic uint64_t rgen;	    /* also written by space_forget() */
	_Atomic uint64_t wgen;	    /* likewise */
	uint64_t lo, lim;
	uintptr_t delta;
	uintptr_t flast;	    /* guestmem.h's */
	/* Second cache line. */
	_Atomic uint64_t cache_gen;
	const struct gm__entry *cache_entry;
	/*
	 * The cached range is a published piece (access.c), which
	 * gm__rcu_synchronize_all() invalidates (space_forget()) by storing
	 * GM__GEN_NONE in rgen and wgen.  Set by the owner, never cleared: a
	 * stale 1 only costs an invalidation that was not needed.
	 */
	_Atomic int cache_od;
	uint64_t od_last;	/* owner only: see access.c */
};


/*
 * The inline accessors' pointer to this thread's reader of the space it
 * accessed last through the library (space.c): set by the out-of-line
 * paths, cleared before the reader is freed.  NULL while the thread has
 * none or last used a fault-safe space, and never a reader that must
 * fence (rcu.h): those never open leaf sections.
 */
static inline void gm__space_reader_use(struct gm__space_reader *r)
{
	gm__tcache_last = (struct gm__tcache *)(void *)r;
}

static inline struct gm__space_reader *
gm__space_reader_of(struct gm__rcu_reader *r)
{
	return (struct gm__space_reader *)(void *)r;
}

struct gm_space {
	/* First: guestmem.h's inline accessors read it.  igen is gen, or
	 * 0 in a fault-safe space, whose accesses must be guarded: no
	 * cached range matches it, so they all take the library's paths. */
	struct gm__space_head head;
	struct gm__rcu_domain *dom;
	uint64_t dom_id;		/* copy of dom->id */
	unsigned int flags;		/* GM_SPACE_* */
	_Atomic(struct gm__table *) table;
	/* The generation of table, stored after it and read instead of it
	 * by the fast path (gm__space_cached()). */
	_Atomic uint64_t gen;
	pthread_mutex_t wlock;		/* serialises writers */
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
 * cached range has all of [gpa, gpa + len) (len >= 1, no wrap) for the
 * access (@write), and then its host address.
 *
 * A range filled from the table of generation G is used only while s->gen
 * reads G inside the section.  That is as safe as loading the table: the
 * writer stores the new generation before its grace period, so a reader
 * that still sees G is waited for before G's regions can go.
 */
static inline __attribute__((always_inline)) int
gm__space_cached(struct gm_space *s, const struct gm__space_reader *r,
		 uint64_t gpa, size_t len, int write, uint8_t **hva)
{
	uint64_t gen = atomic_load_explicit(write ? &r->wgen : &r->rgen,
					    memory_order_relaxed);
	uint64_t off = gpa - r->lo;

	if (__builtin_expect(gen != atomic_load_explicit(&s->gen,
							 memory_order_relaxed),
			     0))
		return 0;
	/* lim + 15 cannot wrap: the range is at most 2^64 - 1 bytes. */
	if (__builtin_constant_p(len) && len <= 16 ? off > r->lim
						   : len - 1 > r->lim + 15 ||
							     off > r->lim + 15 -
									   (len - 1))
		return 0;
	*hva = (uint8_t *)(r->delta + (uintptr_t)gpa);
	return 1;
}

/*
 * gm__space_reader_clear(): @r has no cached range.
 * gm__space_reader_set(): make [lo, hi] of entry @e of table @t, mapped at
 * host address gpa + @delta, the cached range of @r (lookup_slow() in space.c, od_fill() in
 * access.c), writable if @writable and the region is.  A range shorter
 * than 16 bytes, or at a host address aligned unlike its guest address
 * (the header's atomics check only the latter), is not cached.  Neither
 * is one for a reader that must fence, which never opens leaf sections.
 * Returns whether it was.
 */
static inline void gm__space_reader_clear(struct gm__space_reader *r)
{
	atomic_store_explicit(&r->rgen, GM__GEN_NONE, memory_order_relaxed);
	atomic_store_explicit(&r->wgen, GM__GEN_NONE, memory_order_relaxed);
}

/*
 * Whether guest range [lo, hi], mapped at host address gpa + @delta, may be
 * a thread's cached range: at least 16 bytes (lim is hi - lo - 15), at a
 * host address aligned like its guest address modulo 16 (guestmem.h's
 * atomics check only the guest address).  The one rule for the library's
 * ranges (gm__space_reader_set()) and the inline index (space.c).
 */
static inline int gm__range_cacheable(uint64_t lo, uint64_t hi,
				      uintptr_t delta)
{
	return hi >= lo && hi - lo >= 15 && !(delta & 15);
}

static inline int gm__space_reader_set(struct gm__space_reader *r,
				       const struct gm__table *t,
				       const struct gm__entry *e, uint64_t lo,
				       uint64_t hi, uintptr_t delta,
				       int writable)
{
	if (!gm__range_cacheable(lo, hi, delta) ||
	    (atomic_load_explicit(&r->rcu.dom_id, memory_order_relaxed) &
	     GM__RCU_FENCE)) {
		gm__space_reader_clear(r);
		return 0;
	}
	r->lo = lo;
	r->lim = hi - lo - 15;
	r->delta = delta;
	atomic_store_explicit(&r->rgen, t->gen, memory_order_relaxed);
	atomic_store_explicit(&r->wgen,
			      writable && !(e->flags & GM_REGION_RDONLY)
				      ? t->gen
				      : GM__GEN_NONE,
			      memory_order_relaxed);
	return 1;
}

/* This thread's reader for @s if it is one of the two it used last and
 * may open leaf sections (the fast path's look), else NULL. */
static inline __attribute__((always_inline)) struct gm__space_reader *
gm__space_reader_fast(const struct gm_space *s)
{
	struct gm__rcu_reader *r = gm__rcu_last;

	if (__builtin_expect(r != NULL && gm__rcu_is(r, s->dom_id), 1))
		goto found;
	r = gm__rcu_last2;
	if (__builtin_expect(r != NULL && gm__rcu_is(r, s->dom_id), 1))
		goto found;
	return NULL;
found:
	/*
	 * The header's inline accessors try this one first from now on;
	 * none after an access to a fault-safe space, which they can never
	 * serve, so that its accesses reach the library at once.
	 */
	gm__space_reader_use(s->flags & GM_SPACE_FAULT_SAFE
				     ? NULL
				     : gm__space_reader_of(r));
	return gm__space_reader_of(r);
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
