/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-thread reader records and grace periods (see rcu.h for the design).
 *
 * Lifetime: a domain is reference-counted by its space and by every reader
 * record registered with it, so a thread that outlives a space can still
 * unlink its record safely.  A thread's records are freed when it exits
 * (through a pthread key destructor) or, for domains whose space is gone,
 * the next time the thread registers a new record.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
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
static __thread struct gm__rcu_reader *thread_readers
	__attribute__((tls_model("initial-exec")));

static atomic_uint_fast64_t next_domain_id = 1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int key_ok;

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
	if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* Unlink @r from its domain and free it.  Not from inside a section. */
static void reader_free(struct gm__rcu_reader *r)
{
	struct gm__rcu_domain *d = r->dom;
	struct gm__rcu_reader **pp;

	pthread_mutex_lock(&d->lock);
	for (pp = &d->readers; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	d->retired += atomic_load_explicit(&r->count, memory_order_relaxed);
	pthread_mutex_unlock(&d->lock);
	if (gm__rcu_last == r)
		gm__rcu_last = NULL;
	if (gm__rcu_last2 == r)
		gm__rcu_last2 = NULL;
	free(r);
	domain_put(d);
}

static void thread_exit(void *arg)
{
	struct gm__rcu_reader *r, *next;

	(void)arg;
	for (r = thread_readers; r; r = next) {
		next = r->tnext;
		reader_free(r);
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

int gm__rcu_domain_new(struct gm__rcu_domain **out)
{
	struct gm__rcu_domain *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	if (pthread_mutex_init(&d->lock, NULL)) {
		free(d);
		return -ENOMEM;
	}
	d->id = atomic_fetch_add(&next_domain_id, 1);
	atomic_init(&d->fence, !membarrier_ready());
	atomic_init(&d->refs, 1);
	atomic_init(&d->dead, 0);
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
	struct gm__rcu_reader *r;

	pthread_mutex_lock(&d->lock);
	atomic_store(&d->fence, 1);
	for (r = d->readers; r; r = r->next)
		atomic_store_explicit(&r->fence, 1, memory_order_relaxed);
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
	struct gm__rcu_reader *r, **pp;
	uint64_t seq;

	for (r = thread_readers; r; r = r->tnext) {
		if (r->dom_id == d->id) {
			remember(r);
			return r;
		}
	}

	/* Prune records of spaces that are gone, while we are here. */
	for (pp = &thread_readers; *pp;) {
		r = *pp;
		/* Not if inside a section of it (seq odd): we may be in one
		 * of a space's sections, registering the Xen cache's reader. */
		seq = atomic_load_explicit(&r->seq, memory_order_relaxed);
		if (!(seq & 1) &&
		    atomic_load_explicit(&r->dom->dead, memory_order_acquire)) {
			*pp = r->tnext;
			reader_free(r);
		} else {
			pp = &r->tnext;
		}
	}

	pthread_once(&key_once, key_init);
	if (!key_ok || pthread_setspecific(exit_key, (void *)1))
		return NULL;
	r = aligned_alloc(64, sizeof(*r));
	if (!r)
		return NULL;
	*r = (struct gm__rcu_reader){ .dom_id = d->id, .dom = d };
	atomic_init(&r->seq, 0);
	atomic_init(&r->count, 0);
	r->cache_gen = UINT64_MAX;
	r->cache_rlo = r->cache_wlo = UINT64_MAX;
	r->cache_rhi = r->cache_whi = 0;
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	pthread_mutex_lock(&d->lock);
	/* Under the lock, so that set_fence() either sees r or set the
	 * domain's flag before we read it. */
	atomic_init(&r->fence, atomic_load(&d->fence));
	r->next = d->readers;
	d->readers = r;
	pthread_mutex_unlock(&d->lock);
	r->tnext = thread_readers;
	thread_readers = r;
	remember(r);
	return r;
}

uint64_t gm__rcu_count(struct gm__rcu_domain *d)
{
	struct gm__rcu_reader *r;
	uint64_t sum;

	pthread_mutex_lock(&d->lock);
	sum = d->retired;
	for (r = d->readers; r; r = r->next)
		sum += atomic_load_explicit(&r->count, memory_order_relaxed);
	pthread_mutex_unlock(&d->lock);
	return sum;
}

void gm__rcu_synchronize(struct gm__rcu_domain *d)
{
	struct gm__rcu_reader *r;

	/*
	 * Pairs with the reader's store of an odd seq followed by its load of
	 * the published pointer: after this, a reader that loaded the old
	 * pointer has its odd seq visible to us.
	 */
	atomic_thread_fence(memory_order_seq_cst);
#if defined(HAVE_LINUX_MEMBARRIER_H) && defined(SYS_membarrier)
	if (!atomic_load(&d->fence) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) {
		/* Cannot happen once registered; fall back to fencing
		 * readers from now on. */
		set_fence(d);
	}
#endif
	pthread_mutex_lock(&d->lock);
	for (r = d->readers; r; r = r->next) {
		uint64_t s = atomic_load_explicit(&r->seq, memory_order_acquire);

		/* Odd: inside a section that may use the old pointer.  Wait
		 * for it to leave; sections are short and never block on us. */
		if (s & 1) {
			while (atomic_load_explicit(&r->seq,
						    memory_order_acquire) == s)
				sched_yield();
		}
	}
	pthread_mutex_unlock(&d->lock);
}
