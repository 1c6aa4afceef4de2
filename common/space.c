/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spaces: the set of regions and lookup by guest-physical address.
 *
 * Writers (add, remove) serialise on wlock, build a new table, publish it
 * with a release store, wait for a grace period and free the old table.
 * Readers never block: see rcu.h.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "region.h"
#include "space.h"

__thread struct gm__tcache *gm__tcache_last
	__attribute__((tls_model("initial-exec")));

/* guestmem.h's inline accessors read a reader's first line as this. */
#define SAME_FIELD(a, b)                                                      \
	(offsetof(struct gm__space_reader, a) ==                              \
		 offsetof(struct gm__tcache, b) &&                            \
	 sizeof(((struct gm__space_reader *)0)->a) ==                         \
		 sizeof(((struct gm__tcache *)0)->b))
_Static_assert(SAME_FIELD(rcu.seq, seq) && SAME_FIELD(rcu.dom_id, priv0) &&
		       SAME_FIELD(rgen, rgen) &&
		       SAME_FIELD(wgen, wgen) && SAME_FIELD(lo, lo) &&
		       SAME_FIELD(lim, lim) && SAME_FIELD(delta, delta) &&
		       SAME_FIELD(flast, flast),
	       "struct gm__tcache does not match struct gm__space_reader");
_Static_assert(offsetof(struct gm_space, head) == 0,
	       "struct gm_space must start with its head");

/*
 * Table generations: unique in the process, so that a thread's cached
 * range names its space by its generation alone (space.h).  Never 0,
 * which is a fault-safe space's igen, nor GM__GEN_NONE.
 */
static _Atomic uint64_t next_gen = 1;

static uint64_t gen_new(void)
{
	return atomic_fetch_add_explicit(&next_gen, 1, memory_order_relaxed);
}

/*
 * Publish what the fast paths read of @s's table @t, which is already in
 * s->table: its index for guestmem.h's inline lookups (head.ftab), then
 * its generation, which they and gm__space_cached() compare with the
 * thread's cached range (head.igen, s->gen).  A reader that sees the
 * new index with the old generation caches ranges under the new
 * table's generation (ft.gen), which the old one never matches.
 */
static void space_set_gen(struct gm_space *s, struct gm__table *t)
{
	t->ft.gen = t->gen;
	atomic_store_explicit((_Atomic(const struct gm__ftab *) *)&s->head.ftab,
			      &t->ft, memory_order_release);
	atomic_store_explicit(&s->gen, t->gen, memory_order_release);
	atomic_store_explicit(
		(_Atomic uint64_t *)&s->head.igen,
		(s->flags & GM_SPACE_FAULT_SAFE) ? 0 : t->gen,
		memory_order_release);
}

/*
 * In the child of a fork() (rcu.h): a writer of another thread may have
 * held wlock at fork time, and that thread does not exist here.  It left
 * nothing half done that readers could see (it publishes a new table with
 * one store), so the child takes its lock over; what that writer still had
 * to free (the old table, a removed region) is leaked in the child.  It may
 * have published its table but not yet the table's generation, which the
 * fast path reads instead (gm__space_cached()): publish that too.
 */
static void space_fork_child(struct gm__rcu_fork_hook *h)
{
	struct gm_space *s = gm__container_of(h, struct gm_space, fork);
	struct gm__table *t =
		atomic_load_explicit(&s->table, memory_order_relaxed);

	/* Re-initialise rather than unlock: its owner is not us.  That is
	 * what glibc does with its own locks in a child. */
	pthread_mutex_init(&s->wlock, NULL);
	space_set_gen(s, t);
}

/* A new reader's lookup cache: empty. */
static void space_reader_init(struct gm__rcu_reader *rr)
{
	struct gm__space_reader *r = gm__space_reader_of(rr);

	atomic_init(&r->rgen, GM__GEN_NONE);
	atomic_init(&r->wgen, GM__GEN_NONE);
	atomic_init(&r->cache_gen, GM__GEN_NONE);
	atomic_init(&r->cache_od, 0);
	r->od_last = UINT64_MAX;
}

/* A reader about to be freed: the inline accessors must not find it. */
static void space_reader_fini(struct gm__rcu_reader *rr)
{
	if (gm__tcache_last == (struct gm__tcache *)(void *)rr)
		gm__tcache_last = NULL;
}

/*
 * gm__rcu_synchronize_all(), about to wait after a backend unpublished
 * pieces (piece.c): drop a cached range that came from a published piece.
 * Acquire pairs with the owner's release store of cache_od after its store
 * of rgen and wgen (access.c's od_fill()), so that ours comes after those;
 * an owner that fills one after we looked sees the new gm__piece_gen in
 * its own check and drops it itself.
 */
static void space_forget(struct gm__rcu_reader *rr)
{
	struct gm__space_reader *r = gm__space_reader_of(rr);

	if (atomic_load_explicit(&r->cache_od, memory_order_acquire))
		gm__space_reader_clear(r);
}

/*
 * Readers of the space must fence from now on (rcu.c), so never open a
 * leaf section: drop the range that only leaf sections use.  An owner
 * filling it at this very moment may keep it (gm__space_reader_set()
 * checks dom_id without a fence, to stay cheap): that needs membarrier(2)
 * to fail after it worked, which Linux does not do, while the tests switch
 * before their threads read.
 */
static void space_leaf_off(struct gm__rcu_reader *rr)
{
	struct gm__space_reader *r = gm__space_reader_of(rr);

	gm__space_reader_clear(r);
}

static const struct gm__rcu_ops space_rcu_ops = {
	.reader_size = sizeof(struct gm__space_reader),
	.reader_init = space_reader_init,
	.reader_fini = space_reader_fini,
	.forget = space_forget,
	.leaf_off = space_leaf_off,
};

/*
 * Slots per entry the index aims at: with regions about as large as
 * each other, a slot then meets one or two of them.  A table of n
 * entries thus has at most SLOTS_PER_ENTRY * n slots (table_alloc()).
 */
#define SLOTS_PER_ENTRY 4

/* The bytes of a table of @n entries with @nslots slots, and its index. */
#define TABLE_SIZE(n, nslots)                                                 \
	(sizeof(struct gm__table) + (n) * sizeof(struct gm__entry) +          \
	 ((n) + 1) * sizeof(struct gm__fent) + ((nslots) + 1) * sizeof(uint32_t))

/*
 * Tables of up to TABLE_INLINE_N entries are built in one of two buffers
 * in the space's own block, after the space (gm_space_new()), so that a
 * small guest's space allocates nothing after its creation.  One of them
 * holds the current table; the other is free, because the writer frees
 * the table it replaces before it lets go of wlock (table_replace()).
 * Two entries keep the block within glibc's per-thread cache (1 KiB).
 */
#define TABLE_INLINE_N 2
#define TABLE_INLINE_SIZE                                                     \
	((TABLE_SIZE(TABLE_INLINE_N, SLOTS_PER_ENTRY * TABLE_INLINE_N) + 7) &  \
	 ~(size_t)7)

static struct gm__table *space_tbuf(struct gm_space *s, unsigned int k)
{
	return (struct gm__table *)(void *)((char *)(s + 1) +
					    k * TABLE_INLINE_SIZE);
}

/* Whether @t is one of @s's inline buffers, which are never freed. */
static int table_is_inline(struct gm_space *s, const struct gm__table *t)
{
	return (const char *)t >= (const char *)space_tbuf(s, 0) &&
	       (const char *)t < (const char *)space_tbuf(s, 2);
}

_Static_assert(sizeof(struct gm_space) % _Alignof(struct gm__table) == 0,
	       "the inline tables must be aligned after the space");

static void table_free(struct gm_space *s, struct gm__table *t);

int gm_space_new(struct gm_space **out, const char *name, unsigned int flags)
{
	struct gm__rcu_domain *dom;
	struct gm_space *s;
	struct gm__table *t;
	size_t len;
	int ret;

	if (!out)
		return gm__error_msg(-EINVAL, "gm_space_new: out is NULL");
	*out = NULL;
	if (flags & ~GM_SPACE_FAULT_SAFE)
		return gm__error_msg(-EINVAL, "gm_space_new: unknown flags 0x%x",
				     flags);
	if (flags & GM_SPACE_FAULT_SAFE) {
		ret = gm__fault_init();
		if (ret)
			return gm__error_msg(ret, "gm_space_new: cannot install "
					     "the fault handlers for "
					     "GM_SPACE_FAULT_SAFE");
	}
	/*
	 * One block for the domain, the space and its two inline tables
	 * (rcu.h): creating a space and adding its first regions costs one
	 * allocation.  The block lives until the domain's last reader is
	 * gone, after gm_space_free().  The first table, empty, is the
	 * first inline one; the other is filled when it is used.
	 */
	ret = gm__rcu_domain_new(&dom, &space_rcu_ops,
				 sizeof(*s) + 2 * TABLE_INLINE_SIZE);
	if (ret)
		goto err;
	s = gm__rcu_domain_extra(dom);
	t = space_tbuf(s, 0);
	memset(s, 0, sizeof(*s) + sizeof(*t));
	s->dom = dom;
	if (pthread_mutex_init(&s->wlock, NULL)) {
		gm__rcu_domain_release(dom);
		ret = -ENOMEM;
		goto err;
	}
	s->dom_id = s->dom->id;
	s->flags = flags;
	t->gen = gen_new();
	atomic_init(&s->table, t);
	s->head.dom_id = s->dom_id;
	space_set_gen(s, t);
	/* Truncated to fit, as snprintf() would, without its cost. */
	name = name ? name : "guest";
	len = strnlen(name, sizeof(s->name) - 1);
	memcpy(s->name, name, len);
	s->name[len] = '\0';
	s->fork.child = space_fork_child;
	gm__rcu_fork_hook_add(&s->fork);
	*out = s;
	return 0;
err:
	return gm__error_msg(ret, "gm_space_new: out of memory");
}

void gm_space_free(struct gm_space *s)
{
	struct gm__table *t;
	size_t i;

	if (!s)
		return;
	gm__rcu_fork_hook_del(&s->fork);
	t = atomic_load_explicit(&s->table, memory_order_acquire);
	for (i = 0; i < t->n; i++) {
		t->e[i].region->common_flags &= ~GM__REGION_IN_SPACE;
		gm__region_put(t->e[i].region);
	}
	table_free(s, t);
	pthread_mutex_destroy(&s->wlock);
	/* Last: it may free s (gm_space_new()). */
	gm__rcu_domain_release(s->dom);
}

const char *gm_space_name(const struct gm_space *s)
{
	return s ? s->name : NULL;
}

/*
 * The last of the @n entries from @base that starts at or below @gpa, or
 * NULL.  Branch-free (the compiler makes the step a conditional move):
 * lookups that miss the thread's cache go to random regions, where a
 * branch would mispredict.
 */
static const struct gm__entry *entries_floor(const struct gm__entry *base,
					     size_t n, uint64_t gpa)
{
	if (!n || base->gpa > gpa)
		return NULL;
	/* base starts at or below gpa; the answer is in [base, base + n). */
	while (n > 1) {
		size_t half = n / 2;

		base = base[half].gpa <= gpa ? base + half : base;
		n -= half;
	}
	return base;
}

static const struct gm__entry *table_floor(const struct gm__table *t,
					   uint64_t gpa)
{
	return entries_floor(t->e, t->n, gpa);
}

/*
 * Fill @f, what guestmem.h's inline accessors know of entry @e: a
 * persistent region whose range gm__range_cacheable() accepts may be
 * accessed inline, within lim of its start (the last 15 bytes go to the
 * library).
 */
static void fent_fill(struct gm__fent *f, const struct gm__entry *e)
{
	uintptr_t delta = (uintptr_t)e->hva - (uintptr_t)e->gpa;

	if (!e->hva || !gm__range_cacheable(e->gpa, e->last, delta)) {
		*f = (struct gm__fent){ .gpa = UINT64_MAX };
		return;
	}
	*f = (struct gm__fent){
		.gpa = e->gpa,
		.lim = e->last - e->gpa - 15,
		.delta = delta,
		.prot = GM__FENT_READ |
			(e->flags & GM_REGION_RDONLY ? 0 : GM__FENT_WRITE),
	};
}

/*
 * A table of @n entries, from guest address @base to @last, with room for
 * its index (space.h) in the same block: slots of the smallest
 * power-of-two size, at least a page, that keeps their number within
 * SLOTS_PER_ENTRY per entry, and its inline view (fent).  The caller
 * fills the entries, then calls table_index().  NULL without memory.
 */
static struct gm__table *table_alloc(struct gm_space *s, size_t n,
				     uint64_t base, uint64_t last)
{
	size_t size = sizeof(struct gm__table) + n * sizeof(struct gm__entry);
	uint64_t span, k, nslots = 0;
	unsigned int shift = 12;
	struct gm__table *t;

	if (n && n < UINT32_MAX) {
		span = last - base;
		/* The smallest shift with (span >> shift) < SLOTS_PER_ENTRY * n,
		 * the bit length of span / (SLOTS_PER_ENTRY * n), if above a
		 * page's. */
		k = span / (SLOTS_PER_ENTRY * (uint64_t)n);
		if (k >> shift)
			shift = 64 - (unsigned int)__builtin_clzll(k);
		nslots = (span >> shift) + 1;
		/* fent (n + 1 entries), then the nslots + 1 slots; nslots is at
		 * most SLOTS_PER_ENTRY * n, so this cannot wrap. */
		size = TABLE_SIZE(n, nslots);
	}
	if (size <= TABLE_INLINE_SIZE) {
		/* The inline buffer that is not the current table's. */
		t = space_tbuf(s, 0);
		if (t == atomic_load_explicit(&s->table, memory_order_relaxed))
			t = space_tbuf(s, 1);
	} else {
		t = malloc(size);
		if (!t)
			return NULL;
	}
	t->n = n;
	t->base = base;
	t->nslots = nslots;
	t->shift = shift;
	/* The entries' size keeps fent aligned (a multiple of 8). */
	t->fent = nslots ? (struct gm__fent *)(void *)(t->e + n) : NULL;
	return t;
}

_Static_assert(sizeof(struct gm__entry) % _Alignof(struct gm__fent) == 0,
	       "fent must be aligned after the entries");

/*
 * Fill the index of @t (table_alloc()) for space @s.  A table without one
 * (no entries, or too many for 32-bit slots) is searched whole, and the
 * inline accessors call the library.
 */
static void table_index(const struct gm_space *s, struct gm__table *t)
{
	const struct gm__entry *e = t->e;
	uint64_t k, end, nslots = t->nslots, base = t->base;
	unsigned int shift = t->shift;
	size_t i, n = t->n;
	uint32_t *slot;

	t->slot = NULL;
	t->ft = (struct gm__ftab){ .gen = t->gen };
	if (!t->fent)
		return;
	slot = (uint32_t *)(void *)(t->fent + n + 1);
	/*
	 * slot[k]: the first entry that ends at or after slot k's start.
	 * Entry i is that for the slots not yet set that start at or below
	 * its last byte: one pass over the entries, and a store per slot.
	 * The last entry's end is the index's span: every slot gets one.
	 */
	for (i = 0, k = 0; i < n; i++) {
		end = ((e[i].last - base) >> shift) + 1;
		if (end > nslots)
			end = nslots;
		for (; k < end; k++)
			slot[k] = (uint32_t)i;
	}
	slot[nslots] = (uint32_t)(n - 1);
	t->slot = slot;

	/* A fault-safe space's accesses must be guarded: none inline. */
	if (s->flags & GM_SPACE_FAULT_SAFE)
		return;
	for (i = 0; i < t->n; i++)
		fent_fill(&t->fent[i], &t->e[i]);
	t->fent[t->n] = (struct gm__fent){ .gpa = UINT64_MAX };
	t->ft.base = t->base;
	t->ft.nslots = t->nslots;
	t->ft.slot = slot;
	t->ft.ent = t->fent;
	t->ft.shift = t->shift;
}

/* Free @t of @s, which no reader can hold any more. */
static void table_free(struct gm_space *s, struct gm__table *t)
{
	/* An inline table is part of the space's block. */
	if (!table_is_inline(s, t))
		free(t); /* and its index */
}

/* The entry that may hold @gpa (the caller checks), or NULL. */
static const struct gm__entry *table_find(const struct gm__table *t,
					  uint64_t gpa)
{
	const struct gm__entry *e, *end;
	uint64_t k;

	if (gm_unlikely(!t->slot))
		return table_floor(t, gpa);
	/* Below base, k is huge: at most the last slot, whose entries the
	 * caller finds do not hold gpa. */
	k = (gpa - t->base) >> t->shift;
	if (k >= t->nslots)
		return NULL;
	e = &t->e[t->slot[k]];
	end = &t->e[t->slot[k + 1]];
	if (gm_likely(end - e < 4)) {
		while (e < end && e[1].gpa <= gpa)
			e++;
		return e;
	}
	return entries_floor(e, (size_t)(end - e) + 1, gpa);
}

/* Index of the first entry that starts above @gpa. */
static size_t table_upper(const struct gm__table *t, uint64_t gpa)
{
	const struct gm__entry *e = table_floor(t, gpa);

	return e ? (size_t)(e - t->e) + 1 : 0;
}

const struct gm__entry *gm__space_lookup_slow(const struct gm__table *t,
					      struct gm__space_reader *r,
					      uint64_t gpa)
{
	const struct gm__entry *e = table_find(t, gpa);

	if (!e || gpa < e->gpa || gpa > e->last)
		return NULL;
	r->cache_entry = e;
	atomic_store_explicit(&r->cache_gen, t->gen, memory_order_relaxed);
	if (e->hva)
		/* Integers: hva - gpa need not be a valid pointer. */
		gm__space_reader_set(r, t, e, e->gpa, e->last,
				     (uintptr_t)e->hva - (uintptr_t)e->gpa, 1);
	else
		gm__space_reader_clear(r);
	return e;
}

/* Publish @nt in place of the current table, then free the old one once no
 * reader can hold it.  Called with wlock held. */
static void table_replace(struct gm_space *s, struct gm__table *nt)
{
	struct gm__table *old =
		atomic_load_explicit(&s->table, memory_order_relaxed);

	nt->gen = gen_new();
	atomic_store_explicit(&s->table, nt, memory_order_release);
	/* Before the grace period: see gm__space_cached(). */
	space_set_gen(s, nt);
	gm__rcu_synchronize(s->dom);
	table_free(s, old);
}

int gm_space_add_region(struct gm_space *s, struct gm_region *r)
{
	struct gm__table *t, *nt;
	uint64_t last;
	size_t i;
	int ret = 0;

	if (!s || !r)
		return gm__error_msg(-EINVAL, "add region: %s is NULL",
				     s ? "region" : "space");
	if (!gm__region_usable(r))
		return gm__error_msg(-EINVAL,
				     "guest memory '%s': add region error: "
				     "region is not initialised or has neither "
				     "a mapping nor map/unmap methods",
				     s->name);
	if (r->common_flags & GM__REGION_IN_SPACE)
		return gm__error_msg(-EINVAL,
				     "guest memory '%s': add region error: "
				     "region 0x%" PRIx64 " is already in a space",
				     s->name, r->gpa);
	last = r->gpa + (r->size - 1);

	pthread_mutex_lock(&s->wlock);
	t = atomic_load_explicit(&s->table, memory_order_relaxed);
	i = table_upper(t, r->gpa);
	if ((i > 0 && t->e[i - 1].last >= r->gpa) ||
	    (i < t->n && t->e[i].gpa <= last)) {
		const struct gm__entry *o =
			i > 0 && t->e[i - 1].last >= r->gpa ? &t->e[i - 1]
							    : &t->e[i];

		ret = gm__error_msg(-EEXIST,
				    "guest memory '%s': add region error: "
				    "0x%" PRIx64 "-0x%" PRIx64 " overlaps region "
				    "0x%" PRIx64 "-0x%" PRIx64 " (%s)",
				    s->name, r->gpa, last, o->gpa, o->last,
				    o->region->ops->name);
		goto out;
	}
	nt = table_alloc(s, t->n + 1, i == 0 ? r->gpa : t->e[0].gpa,
			 i == t->n ? last : t->e[t->n - 1].last);
	if (!nt) {
		ret = gm__error_msg(-ENOMEM, "guest memory '%s': add region "
				    "error: out of memory", s->name);
		goto out;
	}
	memcpy(nt->e, t->e, i * sizeof(nt->e[0]));
	nt->e[i] = (struct gm__entry){ .gpa = r->gpa,
				       .last = last,
				       .hva = r->hva,
				       .flags = r->flags,
				       .region = r };
	memcpy(&nt->e[i + 1], &t->e[i], (t->n - i) * sizeof(nt->e[0]));
	r->common_flags |= GM__REGION_IN_SPACE;
	table_index(s, nt);
	table_replace(s, nt);
out:
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

int gm_space_remove_region(struct gm_space *s, uint64_t gpa)
{
	struct gm__table *t, *nt;
	struct gm_region *r;
	size_t i;

	if (!s)
		return gm__error_msg(-EINVAL, "remove region: space is NULL");
	pthread_mutex_lock(&s->wlock);
	t = atomic_load_explicit(&s->table, memory_order_relaxed);
	i = table_upper(t, gpa);
	if (i == 0 || t->e[i - 1].gpa != gpa) {
		pthread_mutex_unlock(&s->wlock);
		return gm__error_msg(-ENOENT,
				     "guest memory '%s': remove region error: "
				     "no region starts at 0x%" PRIx64,
				     s->name, gpa);
	}
	i--;
	/* The entries left span from e[0] or, without it, e[1] to the last
	 * or the one before (no span when none is left). */
	nt = t->n == 1 ? table_alloc(s, 0, 0, 0)
		       : table_alloc(s, t->n - 1, t->e[i == 0].gpa,
				     t->e[t->n - 1 - (i == t->n - 1)].last);
	if (!nt) {
		pthread_mutex_unlock(&s->wlock);
		return gm__error_msg(-ENOMEM, "guest memory '%s': remove "
				     "region error: out of memory", s->name);
	}
	r = t->e[i].region;
	memcpy(nt->e, t->e, i * sizeof(nt->e[0]));
	memcpy(&nt->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(nt->e[0]));
	table_index(s, nt);
	table_replace(s, nt);
	pthread_mutex_unlock(&s->wlock);

	/* No reader can reach r any more; views and leases hold their own
	 * references. */
	r->common_flags &= ~GM__REGION_IN_SPACE;
	gm__region_put(r);
	return 0;
}

ssize_t gm_space_get_regions(struct gm_space *s, struct gm_region_info *out,
			     size_t max)
{
	struct gm__space_reader *rd;
	const struct gm__table *t;
	size_t i, n;

	if (!s || (!out && max))
		return gm__error_msg(-EINVAL, "get regions: %s is NULL",
				     s ? "out" : "space");
	rd = gm__space_reader(s);
	if (!rd)
		return gm__error_msg(-ENOMEM, "get regions: out of memory");
	gm__rcu_enter(s->dom, &rd->rcu);
	t = atomic_load_explicit(&s->table, memory_order_acquire);
	n = t->n;
	for (i = 0; i < n && i < max; i++) {
		out[i] = (struct gm_region_info){
			.gpa = t->e[i].gpa,
			.size = t->e[i].last - t->e[i].gpa + 1,
			.flags = t->e[i].flags,
			.mapped = t->e[i].hva != NULL,
			.backend = t->e[i].region->ops->name,
		};
	}
	gm__rcu_exit(&rd->rcu);
	return (ssize_t)n;
}
