/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mapping cache shared by the regions of one Xen context.
 *
 * An on-demand region is cut into aligned buckets (2^shift bytes: the
 * context's bucket size for foreign regions, one page for grant regions).
 * An access maps the bucket that holds its first byte, or finds it mapped
 * already, and uses at most the rest of that bucket; common code asks again
 * for what is left.
 *
 * Hits are the hot path.  They take no lock and no atomic read-modify-write:
 *  - The hash table is read inside a read-side section of the cache's own
 *    RCU domain; writers (under `lock`) unlink an entry, wait for a grace
 *    period, and only then unmap it.
 *  - A transient mapping (one accessor call, no GM_MAP_HOLD) simply stays
 *    inside that section until gm__xen_unmap(): the cookie is the reader,
 *    tagged with bit 0.  A held mapping (views, leases) pins the entry
 *    instead, and the cookie is the entry.
 *  - CLOCK's "used" bit is written only when it is clear, so threads that
 *    hit the same entry do not bounce its cache line.
 *  - Hits are counted in the thread's own reader record.
 * Misses serialise on `lock`: they map (a syscall and a hypercall anyway),
 * evict with CLOCK to stay within the budget, and return the new entry
 * pinned.
 *
 * Eviction never unmaps an entry that a pin or a section still uses: the
 * entry's state word holds its pin count and, once it is unlinked and a
 * grace period has passed, ENTRY_DEAD; whoever takes the count to zero with
 * ENTRY_DEAD set (the evictor or the last unpin) unmaps it.  Entries that
 * are still pinned keep counting against the budget until then, so the
 * budget holds for every byte actually mapped.
 *
 * Stable hits: a hit on a bucket without failed pages tells common code
 * (GM__MAP_STABLE) that the mapping stays until unlink_gen changes, so a
 * thread may keep it in its space's lookup cache and use it inside the
 * space's sections, not ours.  That is why kill_list() bumps unlink_gen
 * and then waits with gm__rcu_synchronize_all(): it invalidates those
 * copies and waits for the sections of every domain.
 *
 * Deadlock freedom: a thread inside a section of the cache's domain never
 * takes `lock` (misses leave it first, and the contract of transient
 * mappings forbids another map call before the unmap).  A miss may be
 * inside a section of a space, though, which gm__rcu_synchronize_all()
 * would wait for while holding `lock`: so misses park the thread
 * (gm__rcu_park()) while they wait for and hold `lock`, and parked threads
 * are not waited for (they hold no mapping of ours).
 *
 * Published buckets: a bucket linked without failed pages is published to
 * common code (gm_region_publish(), guestmem/backend.h), which then reads
 * and writes it without calling us.  entry_unlink() unpublishes it before
 * kill_list() waits with gm_region_synchronize(), which also covers the
 * copies of a bucket's range that threads keep in their lookup caches;
 * CLOCK reads and clears the mark such accesses leave
 * (gm_region_piece_used()), as it does `used`.  Foreign buckets are also
 * mapped in place in a reservation as large as the region when they can
 * be (window.c), which keeps a map-call hit's address independent of the
 * entry's load.
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>

#define COOKIE_SECTION ((uintptr_t)1)

static inline size_t hash_of(const struct gm_xen *x,
			     const struct gm__xen_region *xr, uint64_t index)
{
	uint64_t h = (uint64_t)(uintptr_t)xr * 0x9e3779b97f4a7c15ull;

	h ^= (index + 1) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return (size_t)h & x->hash_mask;
}

/*
 * fork(): the child may free what it inherited (guestmem/xen.h), which
 * walks the clock ring and the hash under `lock`; a thread of the parent
 * may be in the middle of changing them.  So fork() takes `lock`, waiting
 * for a miss or an eviction in progress, before rcu.c's locks, as a miss
 * does (rcu.h).  The forking thread is in no section: an evictor does not
 * wait for it.
 */
static void cache_fork_prepare(struct gm__rcu_fork_hook *h)
{
	pthread_mutex_lock(&gm__container_of(h, struct gm_xen, fork)->lock);
}

static void cache_fork_release(struct gm__rcu_fork_hook *h)
{
	pthread_mutex_unlock(&gm__container_of(h, struct gm_xen, fork)->lock);
}

int gm__xen_cache_init(struct gm_xen *x)
{
	uint64_t want = x->opt.cache_bytes / XEN_PAGE_SIZE;
	size_t n = 64;
	int ret;

	/* One slot per page the budget can hold (grant entries are single
	 * pages), within sane bounds. */
	while (n < want && n < ((size_t)1 << 20))
		n <<= 1;
	x->hash = calloc(n, sizeof(*x->hash));
	if (!x->hash)
		return -ENOMEM;
	x->hash_mask = n - 1;
	ret = gm__rcu_domain_new(&x->dom);
	if (ret)
		goto err;
	if (pthread_mutex_init(&x->lock, NULL)) {
		gm__rcu_domain_release(x->dom);
		ret = -ENOMEM;
		goto err;
	}
	x->fork.prepare = cache_fork_prepare;
	x->fork.parent = cache_fork_release;
	x->fork.child = cache_fork_release;
	gm__rcu_fork_hook_add(&x->fork);
	return 0;
err:
	free(x->hash);
	x->hash = NULL;
	return ret;
}

void gm__xen_cache_fini(struct gm_xen *x)
{
	/* Every region purged its entries when it was destroyed, and every
	 * region holds a reference to x: nothing is left here. */
	gm__rcu_fork_hook_del(&x->fork);
	pthread_mutex_destroy(&x->lock);
	gm__rcu_domain_release(x->dom);
	free(x->hash);
}

static inline __attribute__((always_inline)) struct gm__xen_entry *
hash_find(struct gm_xen *x, const struct gm__xen_region *xr, uint64_t index,
	  int prot)
{
	struct gm__xen_entry *e;

	e = atomic_load_explicit(&x->hash[hash_of(x, xr, index)],
				 memory_order_acquire);
	for (; e; e = atomic_load_explicit(&e->hnext, memory_order_acquire))
		if (e->owner == xr && e->index == index &&
		    (e->prot & prot) == prot)
			return e;
	return NULL;
}

/* Link a fully initialised entry; lock held. */
static void entry_link(struct gm_xen *x, struct gm__xen_entry *e)
{
	_Atomic(struct gm__xen_entry *) *head =
		&x->hash[hash_of(x, e->owner, e->index)];

	atomic_store_explicit(&e->hnext,
			      atomic_load_explicit(head, memory_order_relaxed),
			      memory_order_relaxed);
	/* Release: a reader that finds e sees it initialised. */
	atomic_store_explicit(head, e, memory_order_release);
	/* Only without failed pages, which common code does not check.
	 * Cannot fail: the index and address are the bucket's own. */
	if (!e->err)
		(void)gm_region_publish(&e->owner->base, e->index, e->hva,
					e->prot);
	if (x->hand) {
		e->cnext = x->hand;
		e->cprev = x->hand->cprev;
		e->cprev->cnext = e;
		x->hand->cprev = e;
	} else {
		e->cnext = e->cprev = e;
		x->hand = e;
	}
	e->cached = 1;
}

/* Unlink from the hash (readers already inside keep a valid hnext) and
 * from the clock ring; lock held. */
static void entry_unlink(struct gm_xen *x, struct gm__xen_entry *e)
{
	_Atomic(struct gm__xen_entry *) *pp =
		&x->hash[hash_of(x, e->owner, e->index)];
	struct gm__xen_entry *cur;

	/* Published readers first: like hash readers, those that still saw
	 * it are waited for by kill_list(), which comes next. */
	gm_region_unpublish(&e->owner->base, e->index, e->hva);
	while ((cur = atomic_load_explicit(pp, memory_order_relaxed)) != e)
		pp = &cur->hnext;
	atomic_store_explicit(pp,
			      atomic_load_explicit(&e->hnext,
						   memory_order_relaxed),
			      memory_order_release);
	if (e->cnext == e) {
		x->hand = NULL;
	} else {
		e->cprev->cnext = e->cnext;
		e->cnext->cprev = e->cprev;
		if (x->hand == e)
			x->hand = e->cnext;
	}
	e->cached = 0;
}

/* Unmap and free an entry nobody can reach or use any more. */
static void entry_free(struct gm_xen *x, struct gm__xen_entry *e)
{
	e->owner->pager->unmap(e->owner, e->hva, e->npages);
	if (e->placed)
		gm__xen_window_give_back(e->owner, e->hva, e->npages);
	atomic_fetch_add_explicit(&x->unmap_calls, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&x->mapped_bytes,
				  (uint64_t)e->npages << XEN_PAGE_SHIFT,
				  memory_order_relaxed);
	free(e->err);
	free(e);
}

static void entry_unpin(struct gm_xen *x, struct gm__xen_entry *e)
{
	if (atomic_fetch_sub_explicit(&e->state, 1, memory_order_acq_rel) ==
	    (ENTRY_DEAD | 1))
		entry_free(x, e);
}

/* The entry is unlinked and a grace period has passed.  Returns 1 if it
 * was freed now, 0 if a pin still holds it (the last unpin frees it). */
static int entry_kill(struct gm_xen *x, struct gm__xen_entry *e)
{
	if (atomic_fetch_or_explicit(&e->state, ENTRY_DEAD,
				     memory_order_acq_rel) == 0) {
		entry_free(x, e);
		return 1;
	}
	return 0;
}

/* Unlink @victims (chained through cnext), wait, and kill them; lock held.
 * Returns how many were still pinned. */
static int kill_list(struct gm_xen *x, struct gm__xen_entry *victims)
{
	struct gm__xen_entry *e, *next;
	int pinned = 0;

	if (!victims)
		return 0;
	/* After the unlinks, before the wait: see gm__xen_map's hint and
	 * GM__MAP_STABLE.  A release at least: a thread that reads the new
	 * generation sees the unlinks.  The seq_cst fence pairs with the one
	 * in od_fill() (common/access.c), as gm_region_synchronize()'s own
	 * does for pieces. */
	atomic_fetch_add_explicit(&x->unlink_gen, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	/* Hash readers (x->dom), published readers, and threads that cached
	 * a range of a stable mapping or a piece in a space's lookup
	 * cache. */
	gm_region_synchronize(NULL);
	for (e = victims; e; e = next) {
		next = e->cnext;
		pinned += !entry_kill(x, e);
	}
	return pinned;
}

static void account_map(struct gm_xen *x, uint64_t bytes)
{
	uint64_t now = atomic_fetch_add_explicit(&x->mapped_bytes, bytes,
						 memory_order_relaxed) +
		       bytes;
	uint64_t peak = atomic_load_explicit(&x->peak_mapped_bytes,
					     memory_order_relaxed);

	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&x->peak_mapped_bytes,
						      &peak, now,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* CLOCK: whether @e was accessed since the hand last passed, through the
 * cache or as a published piece; clears both marks (lock held). */
static int entry_used(struct gm__xen_entry *e)
{
	int used = atomic_load_explicit(&e->used, memory_order_relaxed);

	/* A piece's mark may be another entry's of the same bucket (a
	 * read-only and a writable grant mapping): harmless for CLOCK. */
	if (gm_region_piece_used(&e->owner->base, e->index))
		used = 1;
	return used;
}

/*
 * Evict unpinned entries with CLOCK until @bytes more fit in the budget;
 * lock held.  Returns 0, or -ENOBUFS when pinned mappings (views, leases)
 * fill the budget: a distinct code, so that the caller can tell "release
 * some views" from "the system is out of memory".
 */
static int make_room(struct gm_xen *x, uint64_t bytes)
{
	uint64_t budget = x->opt.cache_bytes;

	if (bytes > budget)
		return -ENOBUFS;
	for (;;) {
		uint64_t mapped = atomic_load_explicit(&x->mapped_bytes,
						       memory_order_relaxed);
		struct gm__xen_entry *victims = NULL, *e;
		uint64_t need, freed = 0;
		size_t steps = 0, limit;

		if (mapped + bytes <= budget)
			return 0;
		need = mapped + bytes - budget;
		/* Two sweeps clear every used bit once and then take. */
		limit = 2 * (budget / XEN_PAGE_SIZE) + 2;
		while (x->hand && freed < need && steps++ < limit) {
			e = x->hand;
			x->hand = e->cnext;
			if (atomic_load_explicit(&e->state,
						 memory_order_relaxed))
				continue;
			if (entry_used(e)) {
				atomic_store_explicit(&e->used, 0,
						      memory_order_relaxed);
				continue;
			}
			entry_unlink(x, e);
			e->cnext = victims;
			victims = e;
			freed += (uint64_t)e->npages << XEN_PAGE_SHIFT;
			atomic_fetch_add_explicit(&x->evictions, 1,
						  memory_order_relaxed);
		}
		if (!victims)
			return -ENOBUFS;
		/* Victims pinned meanwhile stay mapped until unpinned; the
		 * loop then looks for more. */
		kill_list(x, victims);
	}
}

int gm__xen_pages_ok(const int *err, uint64_t first, uint64_t off,
		     uint64_t *len, uint64_t *fault)
{
	uint64_t p, last = (off + *len - 1) >> XEN_PAGE_SHIFT;

	if (!err)
		return 0;
	for (p = off >> XEN_PAGE_SHIFT; p <= last; p++) {
		int e = err[p - first];

		if (!e)
			continue;
		if (p == off >> XEN_PAGE_SHIFT) {
			*fault = off;
			return e;
		}
		/* Serve what comes before the bad page; the next call for
		 * the rest fails on it. */
		*len = (p << XEN_PAGE_SHIFT) - off;
		return 0;
	}
	return 0;
}

/*
 * Point @m at [off, off + n) of entry @e, checking per-page errors: a
 * failed page ends the mapping before it, or fails it when it is the first
 * page or the caller needs the whole range (GM_MAP_WHOLE).
 */
static inline __attribute__((always_inline)) int
entry_range(struct gm__xen_region *xr, struct gm__xen_entry *e,
	    uint64_t off, uint64_t n, unsigned int flags, struct gm_map *m)
{
	uint64_t want = n;
	int ret;

	if (gm_likely(!e->err)) {
		/* In the window, the address is known without e (a branch,
		 * which the CPU predicts, instead of a load it waits for). */
		m->hva = gm_likely(e->placed)
				 ? xr->win_base + off
				 : e->hva + (off - (e->first_page
						    << XEN_PAGE_SHIFT));
		m->len = n;
		return 0;
	}
	ret = gm__xen_pages_ok(e->err, e->first_page, off, &n, &m->fault);
	if (ret)
		return ret;
	if (n != want && (flags & GM_MAP_WHOLE)) {
		m->fault = off + n;
		return e->err[((off + n) >> XEN_PAGE_SHIFT) - e->first_page];
	}
	m->hva = e->hva + (off - (e->first_page << XEN_PAGE_SHIFT));
	m->len = n;
	return 0;
}

/* Map pages [first, first + npages) of @xr as a new entry (not linked);
 * lock held. */
static int entry_new(struct gm_xen *x, struct gm__xen_region *xr,
		     uint64_t first, uint32_t npages, int prot, int bucket,
		     struct gm__xen_entry **out)
{
	uint64_t bytes = (uint64_t)npages << XEN_PAGE_SHIFT;
	struct gm__xen_entry *e;
	uint8_t *hva, *at;
	int *err = NULL;
	int ret;

	ret = make_room(x, bytes);
	if (ret)
		return ret;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* Only a bucket has a place in the window: a view's mapping across
	 * buckets overlaps theirs. */
	at = bucket ? gm__xen_window_take(xr, first) : NULL;
	ret = xr->pager->map(xr, first, npages, prot, at, &hva, &err);
	if (ret) {
		if (at)
			gm__xen_window_give_back(xr, at, npages);
		free(e);
		return ret;
	}
	e->placed = at != NULL;
	account_map(x, bytes);
	e->owner = xr;
	e->index = (first << XEN_PAGE_SHIFT) >> xr->shift;
	e->hva = hva;
	e->first_page = first;
	e->npages = npages;
	e->prot = prot;
	e->err = err;
	atomic_init(&e->state, 0);
	atomic_init(&e->used, 1);
	atomic_init(&e->hnext, NULL);
	*out = e;
	return 0;
}

/* A view that spans buckets: one dedicated mapping, never cached. */
static __attribute__((noinline)) int map_dedicated(struct gm_xen *x, struct gm__xen_region *xr,
			 uint64_t off, uint64_t len, int prot,
			 struct gm_map *m)
{
	uint64_t first = off >> XEN_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> XEN_PAGE_SHIFT;
	struct gm__xen_entry *e;
	uint64_t n = len;
	int ret;

	if (last - first >= UINT32_MAX)
		return -ENOMEM;
	pthread_mutex_lock(&x->lock);
	ret = entry_new(x, xr, first, (uint32_t)(last - first + 1), prot, 0,
			&e);
	pthread_mutex_unlock(&x->lock);
	if (ret)
		return ret;
	atomic_store(&e->state, ENTRY_DEAD | 1);
	ret = gm__xen_pages_ok(e->err, first, off, &n, &m->fault);
	if (!ret && n != len) {
		/* A view needs every page: report the first bad one. */
		m->fault = off + n;
		ret = e->err[((off + n) >> XEN_PAGE_SHIFT) - first];
	}
	if (ret) {
		entry_unpin(x, e);
		return ret;
	}
	m->hva = e->hva + (off - (first << XEN_PAGE_SHIFT));
	m->len = len;
	m->cookie = e;
	return 0;
}

/* Miss: find or map the bucket under the lock; return it pinned. */
/* Whether a mapping has pages that were paged out: worth retrying later. */
static int has_paged_out(const struct gm__xen_entry *e)
{
	uint32_t i;

	for (i = 0; e->err && i < e->npages; i++)
		if (e->err[i] == -ENOENT)
			return 1;
	return 0;
}

static __attribute__((noinline)) int
map_miss(struct gm_xen *x, struct gm__xen_region *xr, uint64_t index,
	 uint64_t off, uint64_t n, int prot, unsigned int flags,
	 struct gm_map *m)
{
	uint64_t start = index << xr->shift;
	uint64_t end = start + (1ull << xr->shift);
	struct gm__xen_entry *e;
	int ret = 0;

	if (end > xr->base.size || end < start)
		end = xr->base.size;
	pthread_mutex_lock(&x->lock);
	e = hash_find(x, xr, index, prot);
	if (!e) {
		atomic_fetch_add_explicit(&x->misses, 1, memory_order_relaxed);
		ret = entry_new(x, xr, start >> XEN_PAGE_SHIFT,
				(uint32_t)((end - start) >> XEN_PAGE_SHIFT),
				prot, 1, &e);
		/* Frames still paged out after the retries fail this access,
		 * but must not stay failed: such a mapping serves this one
		 * access and is unmapped at its release, never cached. */
		if (!ret && has_paged_out(e))
			atomic_store(&e->state, ENTRY_DEAD);
		else if (!ret)
			entry_link(x, e);
	}
	if (!ret)
		atomic_fetch_add_explicit(&e->state, 1, memory_order_relaxed);
	pthread_mutex_unlock(&x->lock);
	if (ret) {
		m->fault = off;
		return ret;
	}
	ret = entry_range(xr, e, off, n, flags, m);
	if (ret) {
		entry_unpin(x, e);
		return ret;
	}
	m->cookie = e;
	return 0;
}

int gm__xen_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		unsigned int flags, struct gm_map *m)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);
	struct gm_xen *x = xr->x;
	struct gm__rcu_reader *rd;
	struct gm__xen_entry *e;
	uint64_t index, end, n, gen;
	int ret;

	/* Foreign buckets are mapped for both directions (or read-only for a
	 * read-only region), so reads and writes share entries; grants are
	 * mapped read-only for reads (see guestmem/xen.h). */
	if (xr->fixed_prot)
		prot = xr->fixed_prot;
	else
		prot = (prot & GM_PROT_WRITE) ? GM_PROT_READ | GM_PROT_WRITE
					      : GM_PROT_READ;
	index = off >> xr->shift;
	end = (index + 1) << xr->shift;
	if (gm_unlikely(end > r->size || end == 0))
		end = r->size;
	if ((flags & GM_MAP_WHOLE) && len > end - off) {
		gm__rcu_park(); /* as for map_miss() below */
		ret = map_dedicated(x, xr, off, len, prot, m);
		gm__rcu_unpark();
		return ret;
	}
	n = len < end - off ? len : end - off;

	rd = gm__rcu_reader(x->dom);
	if (gm_unlikely(!rd)) {
		m->fault = off;
		return -ENOMEM;
	}
	gm__rcu_enter(x->dom, rd);
	/*
	 * The thread's hint: the entry of its last hit, usable while no
	 * entry has been unlinked since (unlink_gen unchanged), so it cannot
	 * have been freed.  The acquire load comes before the hash walk: an
	 * entry the walk finds was not unlinked before that load, so a hint
	 * stored with a stale generation is merely rejected later.
	 */
	gen = atomic_load_explicit(&x->unlink_gen, memory_order_acquire);
	e = rd->hint;
	if (!(e && rd->hint_gen == gen && e->owner == xr && e->index == index &&
	      (e->prot & prot) == prot)) {
		e = hash_find(x, xr, index, prot);
		rd->hint = e;
		rd->hint_gen = gen;
	}
	if (gm_likely(e != NULL)) {
		gm__rcu_count_one(rd);
		if (!atomic_load_explicit(&e->used, memory_order_relaxed))
			atomic_store_explicit(&e->used, 1,
					      memory_order_relaxed);
		ret = entry_range(xr, e, off, n, flags, m);
		if (ret || (flags & GM_MAP_HOLD)) {
			/* Pin inside the section: an evictor that unlinked
			 * e is still waiting for us and will see the pin. */
			if (!ret)
				atomic_fetch_add_explicit(&e->state, 1,
							  memory_order_relaxed);
			gm__rcu_exit(rd);
			m->cookie = e;
			return ret;
		}
		m->cookie = (void *)((uintptr_t)rd | COOKIE_SECTION);
		return 0;
	}
	gm__rcu_exit(rd);
	/* The caller may be inside a section of a space: while we wait for
	 * the lock, a thread that holds it and evicts must not wait for us
	 * (gm__rcu_synchronize_all()). */
	gm__rcu_park();
	ret = map_miss(x, xr, index, off, n, prot, flags, m);
	gm__rcu_unpark();
	return ret;
}

void gm__xen_unmap(struct gm_region *r, struct gm_map *m)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);
	uintptr_t c = (uintptr_t)m->cookie;

	if (c & COOKIE_SECTION)
		gm__rcu_exit((struct gm__rcu_reader *)(c & ~COOKIE_SECTION));
	else
		entry_unpin(xr->x, (struct gm__xen_entry *)c);
}

/* Unlink every cached entry that @match selects; lock held.  Returns the
 * list, chained through cnext. */
static struct gm__xen_entry *unlink_all(struct gm_xen *x,
					const struct gm__xen_region *only)
{
	struct gm__xen_entry *victims = NULL, *e, *next;
	size_t n = 0, i;

	if (!x->hand)
		return NULL;
	/* Count first: unlinking changes the ring under us. */
	e = x->hand;
	do {
		n++;
		e = e->cnext;
	} while (e != x->hand);
	e = x->hand;
	for (i = 0; i < n; i++, e = next) {
		next = e->cnext;
		if (only && e->owner != only)
			continue;
		entry_unlink(x, e);
		e->cnext = victims;
		victims = e;
	}
	return victims;
}

void gm__xen_cache_purge(struct gm__xen_region *xr)
{
	struct gm_xen *x = xr->x;

	gm__rcu_park(); /* see "Deadlock freedom" at the top */
	pthread_mutex_lock(&x->lock);
	/* The region is unreachable and unreferenced: nothing is pinned,
	 * so every entry is unmapped here. */
	kill_list(x, unlink_all(x, xr));
	pthread_mutex_unlock(&x->lock);
	gm__rcu_unpark();
}

int gm__xen_cache_invalidate(struct gm_xen *x)
{
	int pinned;

	gm__rcu_park();
	pthread_mutex_lock(&x->lock);
	pinned = kill_list(x, unlink_all(x, NULL));
	pthread_mutex_unlock(&x->lock);
	gm__rcu_unpark();
	return pinned;
}
