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
 * Hits are the hot path, and common code serves them without calling us: a
 * bucket linked without failed pages is published (gm_region_publish(),
 * guestmem/backend.h), and accessors read and write it directly.  Map calls
 * are left for what is not published: misses, buckets with failed pages,
 * views and leases (GM_MAP_HOLD), a view across buckets.  Those serialise
 * on `lock`, find the entry in the hash table or map it (a syscall and a
 * hypercall anyway, evicting with CLOCK to stay within the budget), and
 * return it pinned: the cookie is the entry.
 *
 * Eviction unlinks an entry and unpublishes its bucket under `lock`, then,
 * with the lock dropped, waits with gm_region_synchronize() for the
 * accessors that may still use the published address (including the copies
 * of a bucket's range that threads keep in their lookup caches), and only
 * then unmaps it.  An entry that a pin still holds is not unmapped: its
 * state word holds its pin count and, once it is unlinked and the grace
 * period has passed, ENTRY_DEAD; whoever takes the count to zero with
 * ENTRY_DEAD set (the evictor or the last unpin) unmaps it.  Entries that
 * are still pinned keep counting against the budget until then, so the
 * budget holds for every byte actually mapped.
 *
 * `lock` is never held while waiting for readers, nor while taking a lock
 * of common code, so its place in a lock order is a leaf's; CLOCK reads and
 * clears the mark that accesses leave on a published bucket
 * (gm_region_piece_used()) as it does `used`.  Foreign buckets are mapped
 * in place in a reservation as large as the region when they can be
 * (window.c), which keeps a map-call hit's address independent of the
 * entry's load.
 */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Tag of a map cookie (an entry) whose pin is a view's or a lease's. */
#define COOKIE_HELD ((uintptr_t)1)

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
 * may be in the middle of changing them.  So fork() takes every cache's
 * lock, waiting for a miss or an eviction in progress.  `lock` is a leaf
 * (see the top), so these handlers fit anywhere among the process's
 * others.
 */
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gm_xen *caches; /* every live cache, under caches_lock */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_ok;

static void cache_fork_prepare(void)
{
	struct gm_xen *x;

	pthread_mutex_lock(&caches_lock);
	for (x = caches; x; x = x->cnext)
		pthread_mutex_lock(&x->lock);
}

static void cache_fork_release(void)
{
	struct gm_xen *x;

	for (x = caches; x; x = x->cnext)
		pthread_mutex_unlock(&x->lock);
	pthread_mutex_unlock(&caches_lock);
}

/*
 * In the child, the other threads are gone with whatever they were doing:
 * an eviction that dropped the lock (its victims stay mapped for good, as
 * guestmem/xen.h says), waits in make_room(), transient pins.  Those pins
 * will never drop: count them as held, so that make_room() does not wait
 * for them.
 */
static void cache_fork_child(void)
{
	struct gm_xen *x;

	for (x = caches; x; x = x->cnext) {
		x->killing = 0;
		atomic_store(&x->transient, 0);
		atomic_store(&x->room_waiters, 0);
		pthread_cond_init(&x->room, NULL);
	}
	cache_fork_release();
}

static void fork_init(void)
{
	fork_ok = pthread_atfork(cache_fork_prepare, cache_fork_release,
				 cache_fork_child) == 0;
}

int gm__xen_cache_init(struct gm_xen *x)
{
	uint64_t want = x->opt.cache_bytes / XEN_PAGE_SIZE;
	size_t n = 64;
	/* Without the fork handlers a child could hang: no cache then. */
	pthread_once(&fork_once, fork_init);
	if (!fork_ok)
		return -ENOMEM;
	/* One slot per page the budget can hold (grant entries are single
	 * pages), within sane bounds. */
	while (n < want && n < ((size_t)1 << 20))
		n <<= 1;
	x->hash = calloc(n, sizeof(*x->hash));
	if (!x->hash)
		return -ENOMEM;
	x->hash_mask = n - 1;
	x->glr.x = x;
	x->glr.glist = 1;
	x->glr.shift = XEN_PAGE_SHIFT;
	x->pid = getpid();
	if (pthread_mutex_init(&x->lock, NULL)) {
		free(x->hash);
		x->hash = NULL;
		return -ENOMEM;
	}
	if (pthread_cond_init(&x->room, NULL)) {
		pthread_mutex_destroy(&x->lock);
		free(x->hash);
		x->hash = NULL;
		return -ENOMEM;
	}
	pthread_mutex_lock(&caches_lock);
	x->cnext = caches;
	if (caches)
		caches->cpprev = &x->cnext;
	x->cpprev = &caches;
	caches = x;
	pthread_mutex_unlock(&caches_lock);
	return 0;
}

static struct gm__xen_entry *unlink_all(struct gm_xen *x,
					const struct gm__xen_region *only);
static int kill_list(struct gm_xen *x, struct gm__xen_entry *victims);

void gm__xen_cache_fini(struct gm_xen *x)
{
	struct gm__xen_entry *victims;

	/* Every region purged its entries when it was destroyed, and every
	 * region holds a reference to x: only cached grant refs are left,
	 * which no list pins (a list holds a reference to x too). */
	pthread_mutex_lock(&x->lock);
	victims = unlink_all(x, &x->glr);
	pthread_mutex_unlock(&x->lock);
	kill_list(x, victims);
	pthread_mutex_lock(&caches_lock);
	*x->cpprev = x->cnext;
	if (x->cnext)
		x->cnext->cpprev = x->cpprev;
	pthread_mutex_unlock(&caches_lock);
	pthread_cond_destroy(&x->room);
	pthread_mutex_destroy(&x->lock);
	free(x->hash);
}

/* The entry of bucket @index of @xr mapped with at least @prot; lock held. */
static struct gm__xen_entry *
hash_find(struct gm_xen *x, const struct gm__xen_region *xr, uint64_t index,
	  int prot)
{
	struct gm__xen_entry *e;

	for (e = x->hash[hash_of(x, xr, index)]; e; e = e->hnext)
		if (e->owner == xr && e->index == index &&
		    (e->prot & prot) == prot)
			return e;
	return NULL;
}

/* Link a fully initialised entry; lock held. */
static void entry_link(struct gm_xen *x, struct gm__xen_entry *e)
{
	struct gm__xen_entry **head = &x->hash[hash_of(x, e->owner, e->index)];

	e->hnext = *head;
	*head = e;
	e->linked = 1;
	/* Only without failed pages, which common code does not check.
	 * Cannot fail: the index and address are the bucket's own.  Grant
	 * lists' entries belong to no space: never published. */
	if (!e->err && !e->owner->glist)
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
}

/* Unlink from the hash and the clock ring, and unpublish; lock held. */
static void entry_unlink(struct gm_xen *x, struct gm__xen_entry *e)
{
	struct gm__xen_entry **pp = &x->hash[hash_of(x, e->owner, e->index)];

	/* Accessors that still saw the bucket published are waited for by
	 * kill_list(), which comes next. */
	if (!e->owner->glist)
		gm_region_unpublish(&e->owner->base, e->index, e->hva);
	e->linked = 0;
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->cnext == e) {
		x->hand = NULL;
	} else {
		e->cprev->cnext = e->cnext;
		e->cnext->cprev = e->cprev;
		if (x->hand == e)
			x->hand = e->cnext;
	}
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

/* Wake the threads waiting in make_room() for a pin to go; lock not
 * held. */
static void room_wake(struct gm_xen *x)
{
	/* Seq_cst, after the unpin: pairs with make_room(), which counts
	 * itself a waiter before it looks at the pins. */
	if (!atomic_load(&x->room_waiters))
		return;
	pthread_mutex_lock(&x->lock);
	pthread_cond_broadcast(&x->room);
	pthread_mutex_unlock(&x->lock);
}

/* Drop a pin (@hold: a view's or a lease's, else an accessor's for one
 * call, counted in x->transient); lock not held. */
static void entry_unpin(struct gm_xen *x, struct gm__xen_entry *e, int hold)
{
	if (atomic_fetch_sub(&e->state, 1) == (ENTRY_DEAD | 1))
		entry_free(x, e);
	if (!hold) {
		atomic_fetch_sub(&x->transient, 1);
		room_wake(x);
	}
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

/*
 * Wait until no accessor can use the unlinked @victims (chained through
 * cnext), then kill them; lock NOT held, so that waiting for readers never
 * holds up a thread that needs the lock.  Returns how many were still
 * pinned.
 */
static int kill_list(struct gm_xen *x, struct gm__xen_entry *victims)
{
	struct gm__xen_entry *e, *next;
	int pinned = 0;

	if (!victims)
		return 0;
	/* Grant lists' entries were never published: no reader to wait. */
	for (e = victims; e && e->owner->glist; e = e->cnext)
		;
	if (e)
		gm_region_synchronize(NULL);
	for (e = victims; e; e = next) {
		next = e->cnext;
		pinned += !entry_kill(x, e);
	}
	return pinned;
}

/*
 * kill_list() from under the lock, which it drops meanwhile: the victims
 * still count against the budget until then, so make_room() in other
 * threads waits for them (x->killing) rather than fail.  Returns
 * kill_list()'s count.
 */
static int evict(struct gm_xen *x, struct gm__xen_entry *victims)
{
	int pinned;

	x->killing++;
	pthread_mutex_unlock(&x->lock);
	pinned = kill_list(x, victims);
	pthread_mutex_lock(&x->lock);
	x->killing--;
	pthread_cond_broadcast(&x->room);
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
	int used = e->used;

	/* A piece's mark may be another entry's of the same bucket (a
	 * read-only and a writable grant mapping): harmless for CLOCK. */
	if (!e->owner->glist &&
	    gm_region_piece_used(&e->owner->base, e->index))
		used = 1;
	return used;
}

/*
 * Make room for @bytes more within the budget; lock held.  Returns 0 when
 * they fit, with the lock held throughout; 1 after it dropped the lock,
 * so that the caller looks again at what may have changed meanwhile and
 * asks again: it evicted a batch with CLOCK (kill_list() waits for readers
 * without the lock), or waited for a pin that an accessor holds for the
 * length of one call, or for another thread's batch, to go; or -ENOBUFS
 * when views and leases fill the budget: a distinct code, so that the
 * caller can tell "release some views" from "the system is out of memory".
 */
static int make_room(struct gm_xen *x, uint64_t bytes)
{
	uint64_t budget = x->opt.cache_bytes;
	uint64_t mapped = atomic_load_explicit(&x->mapped_bytes,
					       memory_order_relaxed);
	struct gm__xen_entry *victims = NULL, *e;
	uint64_t need, freed = 0;
	size_t steps = 0, limit;
	if (bytes > budget)
		return -ENOBUFS;
	if (mapped + bytes <= budget)
		return 0;
	need = mapped + bytes - budget;
	/* Before looking at the pins: see room_wake(). */
	atomic_fetch_add(&x->room_waiters, 1);
	/* Two sweeps clear every used bit once and then take. */
	limit = 2 * (budget / XEN_PAGE_SIZE) + 2;
	while (x->hand && freed < need && steps++ < limit) {
		e = x->hand;
		x->hand = e->cnext;
		if (atomic_load_explicit(&e->state, memory_order_relaxed))
			continue;
		if (entry_used(e)) {
			e->used = 0;
			continue;
		}
		entry_unlink(x, e);
		e->cnext = victims;
		victims = e;
		freed += (uint64_t)e->npages << XEN_PAGE_SHIFT;
		atomic_fetch_add_explicit(&x->evictions, 1,
					  memory_order_relaxed);
	}
	if (!victims) {
		/* An accessor's pin lasts one call (and the caller holds
		 * none): wait for it, or for another thread's eviction.
		 * Only views and leases can hold the budget for good. */
		int wait = x->killing || atomic_load(&x->transient);

		if (wait)
			pthread_cond_wait(&x->room, &x->lock);
		atomic_fetch_sub(&x->room_waiters, 1);
		return wait ? 1 : -ENOBUFS;
	}
	atomic_fetch_sub(&x->room_waiters, 1);
	/* Victims pinned meanwhile stay mapped until unpinned; the caller
	 * then looks for more. */
	evict(x, victims);
	return 1;
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
 * lock held, room made (make_room()). */
static int entry_new(struct gm_xen *x, struct gm__xen_region *xr,
		     uint64_t first, uint32_t npages, int prot, int bucket,
		     struct gm__xen_entry **out)
{
	uint64_t bytes = (uint64_t)npages << XEN_PAGE_SHIFT;
	struct gm__xen_entry *e;
	uint8_t *hva, *at;
	int *err = NULL;
	int ret;

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
	e->used = 1;
	*out = e;
	return 0;
}

/* A view that spans buckets: one dedicated mapping, never cached. */
static __attribute__((noinline)) int
map_dedicated(struct gm_xen *x, struct gm__xen_region *xr, uint64_t off,
	      uint64_t len, int prot, struct gm_map *m, struct gm__xen_entry **out)
{
	uint64_t first = off >> XEN_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> XEN_PAGE_SHIFT;
	struct gm__xen_entry *e;
	uint64_t n = len;
	int ret;

	if (last - first >= UINT32_MAX)
		return -ENOMEM;
	pthread_mutex_lock(&x->lock);
	while ((ret = make_room(x, (last - first + 1) << XEN_PAGE_SHIFT)) > 0)
		;
	if (!ret)
		ret = entry_new(x, xr, first, (uint32_t)(last - first + 1),
				prot, 0, &e);
	pthread_mutex_unlock(&x->lock);
	if (ret)
		return ret;
	/* Pinned once, as counted by the caller. */
	atomic_fetch_add(&x->transient, 1);
	atomic_store(&e->state, ENTRY_DEAD | 1);
	*out = e;
	ret = gm__xen_pages_ok(e->err, first, off, &n, &m->fault);
	if (!ret && n != len) {
		/* A view needs every page: report the first bad one. */
		m->fault = off + n;
		ret = e->err[((off + n) >> XEN_PAGE_SHIFT) - first];
	}
	if (ret) {
		entry_unpin(x, e, 0);
		return ret;
	}
	m->hva = e->hva + (off - (first << XEN_PAGE_SHIFT));
	m->len = len;
	return 0;
}

/* Whether a mapping has pages that were paged out: worth retrying later. */
static int has_paged_out(const struct gm__xen_entry *e)
{
	uint32_t i;

	for (i = 0; e->err && i < e->npages; i++)
		if (e->err[i] == -ENOENT)
			return 1;
	return 0;
}

static int recheck_due(struct gm_xen *x);
static int recheck_locked(struct gm_xen *x, struct gm__xen_entry **victims);

/*
 * Find or map bucket @index of @xr under the lock, and return its entry
 * pinned, with the bucket's pages [start, end) (region offsets).
 */
static int bucket_get(struct gm_xen *x, struct gm__xen_region *xr,
		      uint64_t index, uint64_t start, uint64_t end, int prot,
		      struct gm__xen_entry **out)
{
	struct gm__xen_entry *e;
	int ret;

	pthread_mutex_lock(&x->lock);
	for (;;) {
		e = hash_find(x, xr, index, prot);
		if (e) {
			atomic_fetch_add_explicit(&x->hits, 1,
						  memory_order_relaxed);
			e->used = 1;
			ret = 0;
			break;
		}
		/* A miss: first, at most every recheck_ms, drop the entries
		 * of frames the guest gave back (gm_xen_recheck()).  Its
		 * failure is not this access's: the access goes on. */
		if (gm_unlikely(recheck_due(x))) {
			struct gm__xen_entry *victims = NULL;
			int rc = recheck_locked(x, &victims);

			/* No privilege to classify frames (a driver or stub
			 * domain): stop trying on misses. */
			if (rc == -EPERM || rc == -EACCES || rc == -ENOSYS ||
			    rc == -EOPNOTSUPP)
				x->recheck_off = 1;
			if (victims) {
				evict(x, victims);
				continue;	/* the lock was dropped */
			}
		}
		/* 1: the lock was dropped; someone may have mapped it. */
		ret = make_room(x, end - start);
		if (ret > 0)
			continue;
		if (ret)
			break;
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
		break;
	}
	if (!ret) {
		/* Counted as an accessor's pin until the caller says. */
		atomic_fetch_add(&x->transient, 1);
		atomic_fetch_add_explicit(&e->state, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&x->lock);
	*out = e;
	return ret;
}

int gm__xen_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		unsigned int flags, struct gm_map *m)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);
	struct gm_xen *x = xr->x;
	struct gm__xen_entry *e;
	uint64_t index, start, end, n;
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
	start = index << xr->shift;
	end = (index + 1) << xr->shift;
	if (gm_unlikely(end > r->size || end == 0))
		end = r->size;
	if ((flags & GM_MAP_WHOLE) && len > end - off) {
		ret = map_dedicated(x, xr, off, len, prot, m, &e);
	} else {
		n = len < end - off ? len : end - off;
		ret = bucket_get(x, xr, index, start, end, prot, &e);
		if (ret) {
			m->fault = off;
			return ret;
		}
		ret = entry_range(xr, e, off, n, flags, m);
		if (ret)
			entry_unpin(x, e, 0);
	}
	if (ret)
		return ret;
	if (flags & GM_MAP_HOLD) {
		/* A pin that may last: make_room() must not wait for it.
		 * The cookie says so at the unmap. */
		atomic_fetch_sub(&x->transient, 1);
		m->cookie = (void *)((uintptr_t)e | COOKIE_HELD);
	} else {
		m->cookie = e;
	}
	return 0;
}

void gm__xen_unmap(struct gm_region *r, struct gm_map *m)
{
	struct gm__xen_region *xr =
		gm__container_of(r, struct gm__xen_region, base);

	uintptr_t c = (uintptr_t)m->cookie;

	entry_unpin(xr->x, (struct gm__xen_entry *)(c & ~COOKIE_HELD),
		    (c & COOKIE_HELD) != 0);
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
	struct gm__xen_entry *victims;

	pthread_mutex_lock(&x->lock);
	victims = unlink_all(x, xr);
	/* The region is unreachable and unreferenced: nothing is pinned,
	 * so every entry is unmapped here. */
	evict(x, victims);
	/* Other threads' evictions may hold entries of ours that they
	 * unlinked before we looked: the region must outlive them. */
	while (x->killing)
		pthread_cond_wait(&x->room, &x->lock);
	pthread_mutex_unlock(&x->lock);
}

int gm__xen_cache_invalidate(struct gm_xen *x)
{
	struct gm__xen_entry *victims;

	int pinned;

	pthread_mutex_lock(&x->lock);
	victims = unlink_all(x, NULL);
	pinned = evict(x, victims);
	pthread_mutex_unlock(&x->lock);
	return pinned;
}

/*
 * Rechecks (gm_xen_recheck(), xen.h "Ballooning"): classify every frame
 * of the linked foreign entries with getpageframeinfo3 and drop the
 * entries that map a frame now unpopulated, or recorded one as failed
 * with -EINVAL that is populated again.  The hypercalls are made under
 * the lock, so that no entry changes meanwhile; eviction follows without
 * it, as usual.  Memory: 8 bytes per cached frame, for the call.
 */

static int entry_domid_cmp(const void *a, const void *b)
{
	const struct gm__xen_entry *ea = *(struct gm__xen_entry *const *)a;
	const struct gm__xen_entry *eb = *(struct gm__xen_entry *const *)b;

	return (ea->owner->domid > eb->owner->domid) -
	       (ea->owner->domid < eb->owner->domid);
}

/* Whether entry @e, whose frames have types @t, must go. */
static int entry_stale(const struct gm__xen_entry *e, const xen_pfn_t *t)
{
	uint32_t i;
	int xtab;

	for (i = 0; i < e->npages; i++) {
		xtab = (t[i] & XEN_DOMCTL_PFINFO_LTAB_MASK) ==
		       XEN_DOMCTL_PFINFO_XTAB;
		if (xtab && (!e->err || !e->err[i]))
			return 1;	/* mapped, and given back since */
		if (!xtab && e->err && e->err[i] == -EINVAL)
			return 1;	/* failed, and populated since */
	}
	return 0;
}

/*
 * Lock held.  Unlink the stale entries and chain them on *victims through
 * cnext; returns how many, or a negative errno (the entries found stale
 * before the failure are chained all the same).
 */
static int recheck_locked(struct gm_xen *x, struct gm__xen_entry **victims)
{
	struct gm__xen_entry **ents = NULL, *e;
	xen_pfn_t *t = NULL;
	size_t n = 0, i, j, k, frames = 0, at;
	int ret = 0, dropped = 0;

	atomic_fetch_add_explicit(&x->rechecks, 1, memory_order_relaxed);
	if (!x->hand)
		return 0;
	e = x->hand;
	do {
		if (e->owner->foreign) {
			n++;
			frames += e->npages;
		}
		e = e->cnext;
	} while (e != x->hand);
	if (!n)
		return 0;
	ents = malloc(n * sizeof(*ents));
	t = malloc(frames * sizeof(*t));
	if (!ents || !t) {
		ret = -ENOMEM;
		goto out;
	}
	i = 0;
	e = x->hand;
	do {
		if (e->owner->foreign)
			ents[i++] = e;
		e = e->cnext;
	} while (e != x->hand);
	qsort(ents, n, sizeof(*ents), entry_domid_cmp);
	for (i = 0; i < n; i = j) {
		uint32_t domid = ents[i]->owner->domid;
		size_t first = 0;

		/* Entries [i, j) are the domain's; their frames in t[]. */
		for (j = i, at = 0; j < n && ents[j]->owner->domid == domid;
		     j++)
			for (k = 0; k < ents[j]->npages; k++)
				t[at++] = (xen_pfn_t)(ents[j]->owner->gfn +
						      ents[j]->first_page + k);
		for (k = 0; k < at; k += GM__XEN_TYPE_BATCH) {
			unsigned int b = at - k < GM__XEN_TYPE_BATCH
						 ? (unsigned int)(at - k)
						 : GM__XEN_TYPE_BATCH;

			if (xc_get_pfn_type_batch(x->xch, domid, b, t + k) <
			    0) {
				ret = errno ? -errno : -EIO;
				goto out;
			}
		}
		for (k = i; k < j; k++) {
			e = ents[k];
			if (entry_stale(e, t + first)) {
				entry_unlink(x, e);
				e->cnext = *victims;
				*victims = e;
				dropped++;
			}
			first += e->npages;
		}
	}
out:
	free(ents);
	free(t);
	atomic_fetch_add_explicit(&x->recheck_drops, (uint64_t)dropped,
				  memory_order_relaxed);
	return ret ? ret : dropped;
}

/* On a miss, lock held: whether recheck_ms passed since the last
 * recheck; if so, it counts as done now. */
static int recheck_due(struct gm_xen *x)
{
	struct timespec ts;
	uint64_t now;

	if (x->recheck_off || !x->xch ||
	    x->opt.recheck_ms == GM_XEN_RECHECK_NEVER)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (x->recheck_last &&
	    now - x->recheck_last < (uint64_t)x->opt.recheck_ms * 1000000u)
		return 0;
	x->recheck_last = now;
	return 1;
}

int gm__xen_cache_recheck(struct gm_xen *x)
{
	struct gm__xen_entry *victims = NULL;
	int ret;

	pthread_mutex_lock(&x->lock);
	ret = recheck_locked(x, &victims);
	evict(x, victims);
	pthread_mutex_unlock(&x->lock);
	return ret;
}

/*
 * Cached grant-ref lists (glist.c): one-page entries of the context's
 * pseudo-region x->glr, bucket index domid << 32 | ref, mapped with @prot
 * (a writable entry serves a read-only list too).  A list holds one pin
 * per ref, as a lease does (not transient: make_room() does not wait for
 * it).  While the call makes room it may drop the lock: the pins it holds
 * keep its entries mapped, and other threads may find its new entries
 * meanwhile, or unlink them (gm_xen_invalidate()): `linked` says.
 */

/* Tag of a slot of ents[] whose entry this call made. */
#define FRESH ((uintptr_t)1)

static inline struct gm__xen_entry *slot_entry(struct gm__xen_entry *p)
{
	return (struct gm__xen_entry *)((uintptr_t)p & ~FRESH);
}

int gm__xen_cache_grants(struct gm_xen *x, const struct gm__xen_pager *pager,
			 uint32_t domid, const uint32_t *refs,
			 unsigned int count, int prot,
			 struct gm__xen_entry **ents, unsigned int *failed)
{
	struct gm__xen_region *g = &x->glr;
	struct gm__xen_entry *e, *o, *victims = NULL;
	unsigned int i = 0, j;
	uint64_t key;
	int ret = 0;

	pthread_mutex_lock(&x->lock);
	/* Set once, before the first entry: entry_free() reads it unlocked
	 * (after the entry's creation under this lock). */
	if (g->pager != pager)
		g->pager = pager;
	while (i < count) {
		key = (uint64_t)domid << 32 | refs[i];
		e = hash_find(x, g, key, prot);
		if (e) {
			atomic_fetch_add_explicit(&x->glist_hits, 1,
						  memory_order_relaxed);
			e->used = 1;
			atomic_fetch_add_explicit(&e->state, 1,
						  memory_order_relaxed);
			ents[i++] = e;
			ret = 0; /* after a make_room() that returned 1 */
			continue;
		}
		/* 1: the lock was dropped; someone may have mapped it. */
		ret = make_room(x, XEN_PAGE_SIZE);
		if (ret > 0)
			continue;
		if (ret) {
			*failed = count;
			break;
		}
		atomic_fetch_add_explicit(&x->misses, 1, memory_order_relaxed);
		ret = entry_new(x, g, key, 1, prot, 0, &e);
		if (ret) {
			*failed = i;
			break;
		}
		entry_link(x, e);
		atomic_fetch_add_explicit(&e->state, 1, memory_order_relaxed);
		ents[i++] = (struct gm__xen_entry *)((uintptr_t)e | FRESH);
	}
	if (ret) {
		/* Leave nothing: unlink what we made, then drop every pin
		 * (an entry another thread unlinked and killed meanwhile is
		 * freed by our unpin), then kill what we unlinked. */
		for (j = 0; j < i; j++) {
			e = slot_entry(ents[j]);
			if (((uintptr_t)ents[j] & FRESH) && e->linked) {
				entry_unlink(x, e);
				e->cnext = victims;
				victims = e;
			}
		}
		for (j = 0; j < i; j++) {
			entry_unpin(x, slot_entry(ents[j]), 1);
			ents[j] = NULL;
		}
	} else {
		for (j = 0; j < count; j++) {
			if (!((uintptr_t)ents[j] & FRESH))
				continue;
			e = ents[j] = slot_entry(ents[j]);
			if (!(prot & GM_PROT_WRITE) || !e->linked)
				continue;
			/* A writable entry replaces a read-only one: unlinked
			 * now, unmapped once its last pin goes. */
			for (o = x->hash[hash_of(x, g, e->index)]; o;
			     o = o->hnext)
				if (o->owner == g && o->index == e->index &&
				    !(o->prot & GM_PROT_WRITE))
					break;
			if (o) {
				entry_unlink(x, o);
				o->cnext = victims;
				victims = o;
			}
		}
	}
	if (victims)
		evict(x, victims);
	pthread_mutex_unlock(&x->lock);
	return ret;
}

void gm__xen_cache_grants_put(struct gm_xen *x, struct gm__xen_entry **ents,
			      unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		entry_unpin(x, ents[i], 1);
}

int gm__xen_cache_grants_purge(struct gm_xen *x, uint32_t domid)
{
	struct gm__xen_entry *victims = NULL, *e, *next;
	size_t n = 0, i;
	int busy = 0;

	pthread_mutex_lock(&x->lock);
	if (x->hand) {
		/* Count first: unlinking changes the ring under us. */
		e = x->hand;
		do {
			n++;
			e = e->cnext;
		} while (e != x->hand);
	}
	for (i = 0, e = x->hand; i < n; i++, e = next) {
		next = e->cnext;
		if (e->owner != &x->glr || e->index >> 32 != domid)
			continue;
		/* Pins are taken under the lock: none can come now. */
		if (atomic_load_explicit(&e->state, memory_order_relaxed)) {
			busy = 1;
			continue;
		}
		entry_unlink(x, e);
		e->cnext = victims;
		victims = e;
	}
	if (victims)
		evict(x, victims);
	pthread_mutex_unlock(&x->lock);
	return busy ? -EBUSY : 0;
}
