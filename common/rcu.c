/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-thread reader records and grace periods (see rcu.h for the design).
 *
 * Lifetime: a domain is reference-counted by its owner and by every reader
 * record registered with it, so a thread that outlives the owner can still
 * unlink its record safely.  A thread's records are freed when it exits
 * (through a pthread key destructor) or, for domains whose owner is gone,
 * the next time the thread registers a new record.  In the child of a
 * fork(), the records of the threads that were not copied are freed by the
 * fork handlers at the end of this file.
 *
 * Locks: all_lock and every d->lock are leaves, each held only to look or
 * link, never while waiting or while taking another (fork_prepare() alone
 * nests them, in that order).  Owners may take d->lock (through the
 * functions here) under their own locks: see rcu.h for where those fit
 * around fork().
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LINUX_MEMBARRIER_H
#include <linux/membarrier.h>
#endif

#include "rcu.h"

__thread struct gm__rcu_reader *gm__rcu_last
	__attribute__((tls_model("initial-exec")));
__thread struct gm__rcu_reader *gm__rcu_last2
	__attribute__((tls_model("initial-exec")));
static __thread struct gm__rcu_node *thread_readers
	__attribute__((tls_model("initial-exec")));

static atomic_uint_fast64_t next_domain_id = 1;
/* Every live domain, for gm__rcu_synchronize_all(); domain refs drop to
 * zero under this lock too, so a domain found in the list can be held. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gm__rcu_domain *all_head;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int key_ok;
/* fork() handling (rcu.h): the hooks, under fork_lock; the handlers are
 * registered once, with the first domain. */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gm__rcu_fork_hook *fork_hooks;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_ok;

#if defined(__SANITIZE_THREAD__)
#define GM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GM_TSAN 1
#endif
#endif

/* 1 if membarrier(PRIVATE_EXPEDITED) is usable in this process. */
static int membarrier_ready(void)
{
#if defined(HAVE_LINUX_MEMBARRIER_H) && defined(SYS_membarrier) && !defined(GM_TSAN)
	static atomic_int state; /* 0 unknown, 1 usable, -1 not */
	int st = atomic_load_explicit(&state, memory_order_acquire);
	long cmds;

	if (st)
		return st > 0;
	cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	st = -1;
	/* Registering twice is harmless, so racing threads may both do it. */
	if (cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		st = 1;
	atomic_store_explicit(&state, st, memory_order_release);
	return st > 0;
#else
	return 0;
#endif
}

static void domain_put(struct gm__rcu_domain *d)
{
	int last;

	pthread_mutex_lock(&all_lock);
	last = atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) ==
	       1;
	if (last) {
		*d->gpprev = d->gnext;
		if (d->gnext)
			d->gnext->gpprev = d->gpprev;
	}
	pthread_mutex_unlock(&all_lock);
	if (!last)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/*
 * The live domain after @d (NULL: the first), held by a reference, while
 * @d's is dropped.  The list lock is not held between calls, so that the
 * caller may wait for readers that take it (a thread that exits, say).
 */
static struct gm__rcu_domain *all_next(struct gm__rcu_domain *d)
{
	struct gm__rcu_domain *n;

	pthread_mutex_lock(&all_lock);
	/* d is still listed: its reference keeps it. */
	n = d ? d->gnext : all_head;
	if (n)
		atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&all_lock);
	if (d)
		domain_put(d);
	return n;
}

/* Unlink @n from its domain and free it.  Not from inside a section. */
static void reader_free(struct gm__rcu_node *n)
{
	struct gm__rcu_domain *d = n->dom;
	struct gm__rcu_reader *r = gm__rcu_node_reader(n);
	struct gm__rcu_node **pp;

	pthread_mutex_lock(&d->lock);
	for (pp = &d->readers; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			/* Release: see gm__rcu_synchronize(). */
			atomic_store_explicit(
				&d->nreaders,
				atomic_load_explicit(&d->nreaders,
						     memory_order_relaxed) - 1,
				memory_order_release);
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (d->ops->reader_fini)
		d->ops->reader_fini(r);
	if (gm__rcu_last == r)
		gm__rcu_last = NULL;
	if (gm__rcu_last2 == r)
		gm__rcu_last2 = NULL;
	free(n);
	domain_put(d);
}

static void thread_exit(void *arg)
{
	struct gm__rcu_node *n, *next;

	(void)arg;
	for (n = thread_readers; n; n = next) {
		next = n->tnext;
		reader_free(n);
	}
	thread_readers = NULL;
	gm__rcu_last = NULL;
	gm__rcu_last2 = NULL;
}

static void key_init(void)
{
	key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

/* Keep a dlclose()d library's destructor from running at thread exit. */
__attribute__((destructor)) static void key_fini(void)
{
	if (key_ok)
		pthread_key_delete(exit_key);
}

static void fork_init(void);

int gm__rcu_domain_new(struct gm__rcu_domain **out,
		       const struct gm__rcu_ops *ops, size_t extra)
{
	struct gm__rcu_domain *d;

	/* Without the fork handlers a child could hang: no domain then. */
	pthread_once(&fork_once, fork_init);
	if (!fork_ok)
		return -ENOMEM;
	if (extra > SIZE_MAX - GM__RCU_EXTRA_OFF)
		return -ENOMEM;
	/*
	 * One block: the domain, then its owner's bytes, which the owner
	 * initialises.  Not calloc(), which glibc serves without its
	 * per-thread cache (nor malloc() and a memset() of the whole block,
	 * which GCC turns into calloc()): a space created and dropped in a
	 * loop would then cost a trip through the arena each time.
	 */
	d = malloc(GM__RCU_EXTRA_OFF + extra);
	if (!d)
		return -ENOMEM;
	*d = (struct gm__rcu_domain){ 0 };
	if (pthread_mutex_init(&d->lock, NULL)) {
		free(d);
		return -ENOMEM;
	}
	d->id = atomic_fetch_add(&next_domain_id, 1);
	d->ops = ops;
	atomic_init(&d->fence, !membarrier_ready());
	atomic_init(&d->refs, 1);
	atomic_init(&d->dead, 0);
	atomic_init(&d->nreaders, 0);
	pthread_mutex_lock(&all_lock);
	d->gnext = all_head;
	if (all_head)
		all_head->gpprev = &d->gnext;
	d->gpprev = &all_head;
	all_head = d;
	pthread_mutex_unlock(&all_lock);
	*out = d;
	return 0;
}

void gm__rcu_domain_release(struct gm__rcu_domain *d)
{
	atomic_store_explicit(&d->dead, 1, memory_order_release);
	domain_put(d);
}

/* Make every reader of @d fence from now on (see the domain's fence). */
static void set_fence(struct gm__rcu_domain *d)
{
	struct gm__rcu_node *n;

	pthread_mutex_lock(&d->lock);
	atomic_store(&d->fence, 1);
	for (n = d->readers; n; n = n->next) {
		atomic_store_explicit(&n->fence, 1, memory_order_relaxed);
		/* No more leaf sections (see dom_id in rcu.h). */
		atomic_store_explicit(&gm__rcu_node_reader(n)->dom_id,
				      d->id | GM__RCU_FENCE,
				      memory_order_relaxed);
		/* Nor what the owner keeps for them. */
		if (d->ops->leaf_off)
			d->ops->leaf_off(gm__rcu_node_reader(n));
	}
	pthread_mutex_unlock(&d->lock);
}

void gm__rcu_force_fence(struct gm__rcu_domain *d)
{
	set_fence(d);
}

/* Make @r the most recent reader; the previous one becomes the second. */
static void remember(struct gm__rcu_reader *r)
{
	if (gm__rcu_last != r)
		gm__rcu_last2 = gm__rcu_last;
	gm__rcu_last = r;
}

struct gm__rcu_reader *gm__rcu_reader_slow(struct gm__rcu_domain *d)
{
	struct gm__rcu_node *n, **pp;
	struct gm__rcu_reader *r;
	size_t size;
	uint64_t seq;

	for (n = thread_readers; n; n = n->tnext) {
		r = gm__rcu_node_reader(n);
		if ((atomic_load_explicit(&r->dom_id, memory_order_relaxed) &
		     ~GM__RCU_FENCE) == d->id) {
			remember(r);
			return r;
		}
	}

	/* Prune records of domains that are gone, while we are here. */
	for (pp = &thread_readers; *pp;) {
		n = *pp;
		/* Not if inside a section of it (seq odd). */
		seq = atomic_load_explicit(&gm__rcu_node_reader(n)->seq,
					   memory_order_relaxed);
		if (!(seq & 1) &&
		    atomic_load_explicit(&n->dom->dead, memory_order_acquire)) {
			*pp = n->tnext;
			reader_free(n);
		} else {
			pp = &n->tnext;
		}
	}

	pthread_once(&key_once, key_init);
	if (!key_ok || pthread_setspecific(exit_key, (void *)1))
		return NULL;
	/* The node fills the line before the reader, which starts one. */
	size = (d->ops->reader_size + 63) & ~(size_t)63;
	n = aligned_alloc(64, sizeof(*n) + size);
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n) + size);
	r = gm__rcu_node_reader(n);
	n->dom = d;
	atomic_init(&r->seq, 0);
	atomic_init(&r->dom_id, d->id);
	if (d->ops->reader_init)
		d->ops->reader_init(r);
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	pthread_mutex_lock(&d->lock);
	/* Under the lock, so that set_fence() either sees n or set the
	 * domain's flag before we read it. */
	atomic_init(&n->fence, atomic_load(&d->fence));
	if (atomic_load_explicit(&n->fence, memory_order_relaxed))
		atomic_store_explicit(&r->dom_id, d->id | GM__RCU_FENCE,
				      memory_order_relaxed);
	n->next = d->readers;
	d->readers = n;
	atomic_store_explicit(
		&d->nreaders,
		atomic_load_explicit(&d->nreaders, memory_order_relaxed) + 1,
		memory_order_release);
	pthread_mutex_unlock(&d->lock);
	/*
	 * Pairs with the fence in gm__rcu_synchronize(): either that writer
	 * sees nreaders above 0 and waits for us, or everything it published
	 * before its fence is visible to our sections, which all come after
	 * this fence.  Once per thread and domain.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	n->tnext = thread_readers;
	thread_readers = n;
	remember(r);
	return r;
}

/* A reader seen inside a section, by wait_readers(). */
struct snap {
	const struct gm__rcu_node *r;
	uint64_t seq;
};

/* Whether @n, listed in its domain, still holds section @seq. */
static int still_inside(const struct gm__rcu_node *n, uint64_t seq)
{
	return atomic_load_explicit(&gm__rcu_node_reader(
					    (struct gm__rcu_node *)n)->seq,
				    memory_order_acquire) == seq;
}

/* Index of the lowest-addressed reader of snap[0..n), n > 0. */
static size_t snap_lowest(const struct snap *snap, size_t n)
{
	size_t i, low = 0;

	for (i = 1; i < n; i++)
		if ((uintptr_t)snap[i].r < (uintptr_t)snap[low].r)
			low = i;
	return low;
}

/*
 * Wait until each of the @n readers of @d in @snap has left the section
 * it was seen in: it counts as gone once it is no longer listed (its
 * thread exited) or its sequence number changed.  d->lock is held only to
 * look, between yields.
 */
static void wait_snapped(struct gm__rcu_domain *d, struct snap *snap,
			 size_t n)
{
	const struct gm__rcu_node *r;
	size_t i, kept;

	while (n) {
		sched_yield();
		pthread_mutex_lock(&d->lock);
		kept = 0;
		for (r = d->readers; r; r = r->next)
			for (i = kept; i < n; i++)
				if (snap[i].r == r) {
					if (still_inside(r, snap[i].seq)) {
						struct snap t = snap[kept];

						snap[kept++] = snap[i];
						snap[i] = t;
					}
					break;
				}
		pthread_mutex_unlock(&d->lock);
		n = kept;
	}
}

/*
 * Wait until every reader of @d that is inside a section now has left it.
 * d->lock is held only to look, never while waiting, so that a thread that
 * registers or frees a reader meanwhile is not held up.  A reader found
 * inside is remembered by address and sequence number.
 *
 * At most GM__ARRAY_SIZE(snap) readers are remembered at a time, on the
 * stack, so that waiting needs no memory and cannot fail.  When more are
 * inside, they are waited for in batches by descending address: each scan
 * keeps the highest-addressed readers below the lowest one of the batch
 * before, so that every reader is looked at once.  Looking at a reader
 * later than when the grace period began is still right: outside a
 * section, it has left the one it may have been in; inside one, waiting
 * for that one to end covers any earlier one.  A reader registered since,
 * wherever its address falls, enters only sections that began after the
 * caller unpublished, which need no waiting.
 */
static void wait_readers(struct gm__rcu_domain *d)
{
	struct snap snap[64];
	const struct gm__rcu_node *r;
	uintptr_t below = UINTPTR_MAX; /* the readers left to look at */
	size_t n, low;
	int more;

	do {
		n = 0;
		low = 0;
		more = 0;
		pthread_mutex_lock(&d->lock);
		for (r = d->readers; r; r = r->next) {
			uint64_t seq = atomic_load_explicit(
				&gm__rcu_node_reader((struct gm__rcu_node *)r)
					 ->seq,
				memory_order_acquire);

			/* Odd: inside a section that may use what was
			 * unpublished. */
			if ((uintptr_t)r >= below || !(seq & 1))
				continue;
			if (n < GM__ARRAY_SIZE(snap)) {
				snap[n++] = (struct snap){ r, seq };
				if (n == GM__ARRAY_SIZE(snap))
					low = snap_lowest(snap, n);
				continue;
			}
			/* Full: keep the highest addresses, leave the
			 * others to the next scan. */
			more = 1;
			if ((uintptr_t)r < (uintptr_t)snap[low].r)
				continue;
			snap[low] = (struct snap){ r, seq };
			low = snap_lowest(snap, n);
		}
		pthread_mutex_unlock(&d->lock);
		if (more)
			below = (uintptr_t)snap[low].r;
		wait_snapped(d, snap, n);
	} while (more);
}

void gm__rcu_synchronize(struct gm__rcu_domain *d)
{
	/*
	 * Pairs with the reader's store of an odd seq followed by its load of
	 * the published pointer: after this, a reader that loaded the old
	 * pointer has its odd seq visible to us.
	 *
	 * It also pairs with the fence gm__rcu_reader_slow() makes after it
	 * registers a reader: when nreaders still reads 0 here, that reader's
	 * fence comes after ours, so its sections see everything published
	 * before this call, and no reader can be inside a section that uses
	 * the old data: no membarrier(2), no wait, and no lock (a new
	 * space's first regions, say).  Acquire pairs with the release of
	 * reader_free()'s store: a reader that was freed had left its last
	 * section before, which thus happens before what we free next.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&d->nreaders, memory_order_acquire))
		return;
#if defined(HAVE_LINUX_MEMBARRIER_H) && defined(SYS_membarrier)
	if (!atomic_load(&d->fence) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) {
		/* Cannot happen once registered; fall back to fencing
		 * readers from now on. */
		set_fence(d);
	}
#endif
	wait_readers(d);
}

void gm__rcu_synchronize_all(void)
{
	struct gm__rcu_domain *d;
	struct gm__rcu_node *n;

	/* 1. The owners' forget(), before the wait (see its users). */
	for (d = all_next(NULL); d; d = all_next(d)) {
		if (!d->ops->forget)
			continue;
		pthread_mutex_lock(&d->lock);
		for (n = d->readers; n; n = n->next)
			d->ops->forget(gm__rcu_node_reader(n));
		pthread_mutex_unlock(&d->lock);
	}
	/* 2. As gm__rcu_synchronize(), once for every domain. */
	atomic_thread_fence(memory_order_seq_cst);
#if defined(HAVE_LINUX_MEMBARRIER_H) && defined(SYS_membarrier)
	/* Registered once ready, so it cannot fail; readers of domains in
	 * fence mode fence themselves. */
	if (membarrier_ready())
		(void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
			      0, 0);
#endif
	for (d = all_next(NULL); d; d = all_next(d))
		wait_readers(d);
}

/* ------------------------------------------------------------------ */
/* fork()                                                              */
/* ------------------------------------------------------------------ */

void gm__rcu_fork_hook_add(struct gm__rcu_fork_hook *h)
{
	pthread_mutex_lock(&fork_lock);
	h->next = fork_hooks;
	if (fork_hooks)
		fork_hooks->pprev = &h->next;
	h->pprev = &fork_hooks;
	fork_hooks = h;
	pthread_mutex_unlock(&fork_lock);
}

void gm__rcu_fork_hook_del(struct gm__rcu_fork_hook *h)
{
	pthread_mutex_lock(&fork_lock);
	*h->pprev = h->next;
	if (h->next)
		h->next->pprev = h->pprev;
	pthread_mutex_unlock(&fork_lock);
}

/*
 * Before fork(): take every lock of ours, in the order of rcu.h, so that
 * the child gets the domain list and every reader list whole.  The leaves
 * (all_lock, d->lock) are never held while waiting, so this waits only
 * for what the hooks' locks cover.
 */
static void fork_prepare(void)
{
	struct gm__rcu_fork_hook *h;
	struct gm__rcu_domain *d;

	pthread_mutex_lock(&fork_lock);
	for (h = fork_hooks; h; h = h->next)
		if (h->prepare)
			h->prepare(h);
	pthread_mutex_lock(&all_lock);
	for (d = all_head; d; d = d->gnext)
		pthread_mutex_lock(&d->lock);
}

static void fork_parent(void)
{
	struct gm__rcu_fork_hook *h;
	struct gm__rcu_domain *d;

	for (d = all_head; d; d = d->gnext)
		pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&all_lock);
	for (h = fork_hooks; h; h = h->next)
		if (h->parent)
			h->parent(h);
	pthread_mutex_unlock(&fork_lock);
}

/* Whether @r is one of the calling thread's records. */
static int reader_is_own(const struct gm__rcu_node *r)
{
	const struct gm__rcu_node *t;

	for (t = thread_readers; t; t = t->tnext)
		if (t == r)
			return 1;
	return 0;
}

/*
 * In the child, where only the calling thread exists.  The records of the
 * others would stay inside whatever section their thread was in at fork
 * time, and every writer would wait for them for ever: unlink them, then
 * free them once the locks that domain_put() takes are
 * free again.  Nothing else can reach them: their threads' pointers to
 * them are gone with the threads.
 */
static void fork_child(void)
{
	struct gm__rcu_node *gone = NULL, *r, **pp, *next;
	struct gm__rcu_fork_hook *h;
	struct gm__rcu_domain *d;

	for (d = all_head; d; d = d->gnext) {
		for (pp = &d->readers; (r = *pp);) {
			if (reader_is_own(r)) {
				pp = &r->next;
				continue;
			}
			*pp = r->next;
			r->next = gone;
			gone = r;
			atomic_store_explicit(
				&d->nreaders,
				atomic_load_explicit(&d->nreaders,
						     memory_order_relaxed) - 1,
				memory_order_relaxed);
		}
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&all_lock);
	for (h = fork_hooks; h; h = h->next)
		if (h->child)
			h->child(h);
	pthread_mutex_unlock(&fork_lock);
	for (r = gone; r; r = next) {
		next = r->next;
		d = r->dom;
		free(r);
		domain_put(d);
	}
}

static void fork_init(void)
{
	fork_ok = pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
}
