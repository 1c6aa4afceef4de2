/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Read-side critical sections: read-copy-update for the library's shared,
 * read-mostly data that writers replace whole.
 *
 * Readers (every accessor) must never block and must stay cheap enough for
 * the hot path, so they take no lock and execute no atomic read-modify-write
 * and, where the kernel offers membarrier(2), no memory fence either:
 *
 *  - Each thread owns one gm__rcu_reader per domain it has read,
 *    found through a thread-local pointer.  Entering a section makes the
 *    reader's sequence number odd, leaving makes it even again.  Only the
 *    owning thread writes it, so plain (relaxed) stores suffice.
 *  - A writer that unpublishes something calls
 *    gm__rcu_synchronize(): it issues membarrier(PRIVATE_EXPEDITED), which
 *    runs a full barrier on every CPU that runs one of our threads, and
 *    then waits for every reader whose sequence number was odd to change
 *    it.  That is the asymmetric-fence argument of liburcu's membarrier
 *    flavour: the barrier pairs with the reader's store-then-load, so a
 *    reader that could still see the old pointer is seen as inside.
 *  - Without membarrier (old kernel, seccomp, ThreadSanitizer, valgrind),
 *    readers issue a seq_cst fence after the store instead; the domain
 *    records which mode it is in.
 *
 * Sections may nest in one thread; only the outermost one changes seq.
 * A thread is inside a section of a domain exactly when its reader's seq
 * is odd.
 *
 * Every domain of the process is also on one list (rcu.c's only global
 * state besides the membarrier registration), for grace periods over all
 * of them (gm__rcu_synchronize_all()).  Writers never hold a domain's lock
 * while they wait for its readers.
 *
 * RCU knows nothing of what the sections protect.  A domain's owner says
 * how large its per-thread reader is (struct gm__rcu_reader first, then
 * the owner's own fields, in the same cache line as seq when they fit) and
 * how to initialise one, and may give a hook that
 * gm__rcu_synchronize_all() runs on every reader before it waits.
 *
 * Leaf sections (gm__rcu_try_enter_leaf()) are the accessors' fast path:
 * one that nothing can nest inside (the code in it calls nothing that may
 * enter the same domain), so it needs no nesting count and keeps seq in a
 * register.  It is refused when a section is already open (a backend that
 * re-enters the library), and can be turned into an ordinary section
 * (gm__rcu_leaf_to_nested()) before calling anything that may nest.  A
 * signal handler that interrupts a leaf section and enters the domain
 * would find nest at 0 and make seq even, ending the protection of both
 * sections: guestmem.h states that no function is async-signal-safe,
 * rather than have the fast path record its leaf sections in nest.
 */
#ifndef GM_RCU_H
#define GM_RCU_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

struct gm__rcu_domain;
struct gm__rcu_reader;

/*
 * What a domain's owner tells RCU.  reader_size is at least
 * sizeof(struct gm__rcu_reader); reader_init() (or NULL) fills the
 * owner's fields of a new reader, which RCU has zeroed; reader_fini() (or
 * NULL) is called just before a reader is freed, outside its sections, by
 * its own thread or, for another thread's reader, in a fork() child;
 * forget() (or NULL) is called by gm__rcu_synchronize_all() on each reader
 * of the domain, under the domain's lock, before it waits; leaf_off() (or
 * NULL), under the domain's lock too, on each reader that may no longer
 * open leaf sections (the switch to fencing, rcu.c), for the owner to drop
 * what it keeps for them.
 */
struct gm__rcu_ops {
	size_t reader_size;
	void (*reader_init)(struct gm__rcu_reader *r);
	void (*reader_fini)(struct gm__rcu_reader *r);
	void (*forget)(struct gm__rcu_reader *r);
	void (*leaf_off)(struct gm__rcu_reader *r);
};

/*
 * A thread's reader of one domain: what every section touches, at the start
 * of a cache line (rcu.c allocates it so); the owner's fields follow.
 */
struct gm__rcu_reader {
	_Atomic uint64_t seq;  /* odd while inside a read-side section */
	/*
	 * The domain's id, with GM__RCU_FENCE set when the reader must fence
	 * (the domain's fence, below).  Lookups that open leaf sections
	 * compare it with the bare id, so they never find a reader that
	 * must fence: the leaf path needs no test of its own.  Written by
	 * the owner and by set_fence() (rcu.c).
	 */
	_Atomic uint64_t dom_id;
};
#define GM__RCU_FENCE (UINT64_C(1) << 63)

/* rcu.c's bookkeeping of a reader, in the cache line before it. */
struct gm__rcu_node {
	_Atomic int fence;     /* dom->fence, for gm__rcu_enter_fence() */
	unsigned int nest;     /* owner only: nesting depth */
	struct gm__rcu_domain *dom;
	struct gm__rcu_node *next;  /* domain's list, under dom->lock */
	struct gm__rcu_node *tnext; /* owning thread's list */
} __attribute__((aligned(64)));

static inline struct gm__rcu_node *gm__rcu_node(const struct gm__rcu_reader *r)
{
	return (struct gm__rcu_node *)(uintptr_t)r - 1;
}

static inline struct gm__rcu_reader *gm__rcu_node_reader(struct gm__rcu_node *n)
{
	return (struct gm__rcu_reader *)(void *)(n + 1);
}

struct gm__rcu_domain {
	uint64_t id;		 /* unique for the life of the process */
	const struct gm__rcu_ops *ops;
	/* Readers fence: no membarrier.  Each reader has a copy, which
	 * is what it reads; it is set under lock, with the domain's, and
	 * only ever from 0 to 1. */
	_Atomic int fence;
	_Atomic int dead;	 /* the owner is gone; readers may be pruned */
	_Atomic unsigned long refs; /* the owner, plus one per reader */
	pthread_mutex_t lock;	 /* protects readers */
	struct gm__rcu_node *readers;
	/* How many readers has, written under lock and read without it
	 * by gm__rcu_synchronize() (see there). */
	_Atomic size_t nreaders;
	/* Every live domain of the process, for gm__rcu_synchronize_all(),
	 * under a lock of rcu.c. */
	struct gm__rcu_domain *gnext, **gpprev;
};

/*
 * fork() (guestmem.h): rcu.c registers pthread_atfork() handlers, so that
 * the child of a multi-threaded process finds every lock of the library
 * free and the reader records of the threads it does not have gone (they
 * would stay inside their sections for ever).  Owners of other locks
 * register a hook.  The lock order across fork() is:
 *
 *   fork_lock (rcu.c) -> each hook's prepare -> all_lock -> every d->lock
 *
 * A hook's prepare thus runs with no lock of rcu.c held and may take locks
 * under which their holders synchronise: fork()
 * then waits for that holder's grace period.  A hook's parent and child
 * run after every d->lock and all_lock were released, with fork_lock held.
 * In the child, the reader records of the other threads are unlinked
 * before the hooks' child run and freed after; the calling thread's stay.
 * Hooks are added and removed outside read-side sections, never from a
 * hook, and after gm__rcu_domain_new() (which registers the handlers).
 */
struct gm__rcu_fork_hook {
	void (*prepare)(struct gm__rcu_fork_hook *h); /* or NULL */
	void (*parent)(struct gm__rcu_fork_hook *h);  /* or NULL */
	void (*child)(struct gm__rcu_fork_hook *h);   /* or NULL */
	struct gm__rcu_fork_hook *next, **pprev;      /* under fork_lock */
};

void gm__rcu_fork_hook_add(struct gm__rcu_fork_hook *h);
void gm__rcu_fork_hook_del(struct gm__rcu_fork_hook *h);

/*
 * The calling thread's two most recently used readers (rcu.c): a thread
 * that alternates between two domains finds both without a search.
 */
extern __thread struct gm__rcu_reader *gm__rcu_last
	__attribute__((tls_model("initial-exec")));
extern __thread struct gm__rcu_reader *gm__rcu_last2
	__attribute__((tls_model("initial-exec")));

/*
 * A new domain whose readers are described by @ops (static), with @extra
 * uninitialised bytes for the owner in the same allocation
 * (gm__rcu_domain_extra()).  Those bytes live as long as the domain does:
 * after gm__rcu_domain_release(), until the last reader of a thread that
 * used the domain is freed too.  An owner that keeps its own state there
 * (the space keeps itself) saves an allocation per object; it must not
 * rely on them being freed at release.
 */
int gm__rcu_domain_new(struct gm__rcu_domain **out,
		       const struct gm__rcu_ops *ops, size_t extra);
/* Where a domain's extra bytes start: aligned for any object. */
#define GM__RCU_EXTRA_OFF                                                     \
	((sizeof(struct gm__rcu_domain) + _Alignof(max_align_t) - 1) &        \
	 ~(_Alignof(max_align_t) - 1))

/* The @extra bytes gm__rcu_domain_new() gave @d's owner. */
static inline void *gm__rcu_domain_extra(struct gm__rcu_domain *d)
{
	return (char *)d + GM__RCU_EXTRA_OFF;
}

/* The owner is gone: drop its reference. */
void gm__rcu_domain_release(struct gm__rcu_domain *d);
/* Slow path of gm__rcu_reader(): find or register this thread's reader. */
struct gm__rcu_reader *gm__rcu_reader_slow(struct gm__rcu_domain *d);
/* Wait until no reader can still see what was unpublished before. */
void gm__rcu_synchronize(struct gm__rcu_domain *d);
/*
 * A grace period over every domain of the process, for what any domain's
 * readers may hold: runs each
 * domain's forget() on each of its readers, then waits until every thread
 * that was inside a section of any domain has left it.  The caller must
 * have unpublished what it will free before the call, and must not be
 * inside a section itself.
 */
void gm__rcu_synchronize_all(void);
/* Tests: make readers of @d fence (as without membarrier). */
void gm__rcu_force_fence(struct gm__rcu_domain *d);

/*
 * Whether @r is a reader of the domain of id @id that may open leaf
 * sections (it need not fence: see dom_id).
 */
static inline __attribute__((always_inline)) int
gm__rcu_is(const struct gm__rcu_reader *r, uint64_t id)
{
	return atomic_load_explicit(&r->dom_id, memory_order_relaxed) == id;
}

/* This thread's reader for @d, or NULL when out of memory. */
static inline struct gm__rcu_reader *gm__rcu_reader(struct gm__rcu_domain *d)
{
	struct gm__rcu_reader *r = gm__rcu_last;

	if (__builtin_expect(r != NULL && gm__rcu_is(r, d->id), 1))
		return r;
	r = gm__rcu_last2;
	if (__builtin_expect(r != NULL && gm__rcu_is(r, d->id), 1))
		return r;
	return gm__rcu_reader_slow(d);
}

/* After the store that makes seq odd: order it before the section's loads
 * (see top). */
static inline void gm__rcu_enter_fence(struct gm__rcu_reader *r)
{
	/*
	 * The store must be visible before we load the published pointer.  With
	 * membarrier the writer provides that ordering (see top); the
	 * compiler barrier keeps the compiler from reordering.
	 */
	if (__builtin_expect(atomic_load_explicit(&gm__rcu_node(r)->fence,
						  memory_order_relaxed), 0))
		atomic_thread_fence(memory_order_seq_cst);
	else
		atomic_signal_fence(memory_order_seq_cst);
}

static inline void gm__rcu_enter(struct gm__rcu_domain *d,
				 struct gm__rcu_reader *r)
{
	uint64_t s;

	(void)d; /* the reader has all it needs (its copy of d->fence) */
	if (gm__rcu_node(r)->nest++)
		return;
	s = atomic_load_explicit(&r->seq, memory_order_relaxed);
	atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
	gm__rcu_enter_fence(r);
}

/*
 * Enter a leaf section (see top), for a reader found by gm__rcu_is(), which
 * never needs to fence: returns 0 and sets *seq to the even value to pass
 * to gm__rcu_exit_leaf(), or -1, entering nothing, when a section of the
 * domain is already open.
 */
static inline __attribute__((always_inline)) int
gm__rcu_try_enter_leaf(struct gm__rcu_reader *r, uint64_t *seq)
{
	uint64_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);

	if (__builtin_expect(s & 1, 0))
		return -1;
	atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
	/* The writer's membarrier orders the store before our loads (see
	 * gm__rcu_enter_fence()); the compiler must not reorder them. */
	atomic_signal_fence(memory_order_seq_cst);
	*seq = s;
	return 0;
}

static inline __attribute__((always_inline)) void
gm__rcu_exit_leaf(struct gm__rcu_reader *r, uint64_t seq)
{
	/* Release, as in gm__rcu_exit(). */
	atomic_store_explicit(&r->seq, seq + 2, memory_order_release);
}

/* gm__rcu_exit_leaf() where seq is no longer at hand. */
static inline __attribute__((always_inline)) void
gm__rcu_exit_leaf_reload(struct gm__rcu_reader *r)
{
	uint64_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);

	atomic_store_explicit(&r->seq, s + 1, memory_order_release);
}

/* Make the open leaf section an ordinary one, left with gm__rcu_exit(). */
static inline void gm__rcu_leaf_to_nested(struct gm__rcu_reader *r)
{
	gm__rcu_node(r)->nest = 1;
}

static inline void gm__rcu_exit(struct gm__rcu_reader *r)
{
	uint64_t s;

	if (--gm__rcu_node(r)->nest)
		return;
	s = atomic_load_explicit(&r->seq, memory_order_relaxed);
	/* Release: every access of the section happens before the writer
	 * sees us leave and frees what we used. */
	atomic_store_explicit(&r->seq, s + 1, memory_order_release);
}

#endif /* GM_RCU_H */
