/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of RCU (common/rcu.c) as spaces use it, against the
 * in-memory fake backend (tests/fake-region.c): readers hammering a space
 * while a writer adds and removes regions, with and without membarrier;
 * per-thread reader records of exited threads and of freed spaces; grace
 * periods with more readers inside than are waited for in one batch.
 */
#include "space-fixture.h"

/* Number of reader records registered with a space's RCU domain. */
static unsigned int count_readers(struct gm__rcu_domain *d)
{
	struct gm__rcu_node *r;
	unsigned int n = 0;

	pthread_mutex_lock(&d->lock);
	for (r = d->readers; r; r = r->next)
		n++;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* RCU: readers against a writer                                       */
/* ------------------------------------------------------------------ */

#define STABLE_GPA UINT64_C(0x0)	 /* on demand, chunk 16 */
#define STABLE_P_GPA UINT64_C(0x1000) /* persistent */
#define COUNTER_GPA (STABLE_P_GPA + 0x800)
#define CHURN_GPA UINT64_C(0x100000)
#define CHURN_SLOTS 4
#define CHURN_SIZE UINT64_C(0x400)
#define CANARY UINT64_C(0x5a5a5a5a5a5a5a5a)
#define NREADERS 3

/*
 * The writer adds and removes at least writer_iters regions and goes on
 * (up to writer_max) until the readers, together, have done at least
 * reader_min iterations while it ran, so that both sides overlap however
 * the threads are scheduled; readers stop when the writer is done.
 */
struct churn {
	struct gm_space *s;
	unsigned int writer_iters, writer_max, writer_done;
	unsigned long reader_min;
	int *destroyed; /* one per churned region (writer_max) */
	pthread_barrier_t start;
	atomic_ulong progress; /* reader iterations so far */
	/* Per slot: odd while its region is (being) removed or absent,
	 * even once gm_space_add_region() has returned. */
	atomic_uint slot_ver[CHURN_SLOTS];
	atomic_int done;
	atomic_ulong errors;
	atomic_ulong hits, adds; /* for the record only */
	pthread_mutex_t lock;
	char first_error[200];
};

struct reader_arg {
	struct churn *c;
	unsigned int id;
	uint64_t adds; /* fetch_adds done on the counter */
};

__attribute__((format(printf, 2, 3))) static void
churn_error(struct churn *c, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&c->errors, 1) == 0) {
		pthread_mutex_lock(&c->lock);
		va_start(ap, fmt);
		vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&c->lock);
	}
}

/* A value read from a churned region: the canary, or use after destroy. */
static void churn_check(struct churn *c, const char *what, uint64_t gpa,
			uint64_t val)
{
	if (val == CANARY)
		return;
	churn_error(c, "%s at 0x%" PRIx64 " read 0x%" PRIx64 "%s", what, gpa,
		    val,
		    val == UINT64_C(0xdbdbdbdbdbdbdbdb) ? " (poison: used "
							  "after destroy)"
							: "");
}

/* Busy for a moment (no syscall: sched_yield() can starve readers for a
 * long time while the writer keeps its CPU busy). */
static void hold_a_while(void)
{
	for (unsigned int i = 0; i < 2000; i++)
		atomic_signal_fence(memory_order_seq_cst);
}

/*
 * One access to the churned slot at @slot, of a kind chosen by @it.
 * Return: 0 (and the value read was checked), or the access's error.
 */
static int churn_access(struct churn *c, unsigned int it, uint64_t slot,
			uint64_t gpa)
{
	const struct iovec *iov;
	struct gm_lease *l;
	struct gm_view v;
	uint64_t val;
	int ret, n;

	switch (it % 8) {
	case 3: /* a view, held a while so that removals happen under it */
		ret = gm_view_get(c->s, slot, CHURN_SIZE, GM_PROT_READ, &v);
		if (ret)
			return ret;
		hold_a_while();
		if (gm_view_read_u64(&v, gpa, &val))
			churn_error(c, "view read at 0x%" PRIx64, gpa);
		else
			churn_check(c, "view", gpa, val);
		gm_view_put(&v);
		return 0;
	case 7: /* a lease, likewise */
		ret = gm_lease_get(c->s, slot, CHURN_SIZE, GM_PROT_READ, &l);
		if (ret)
			return ret;
		hold_a_while();
		iov = gm_lease_iov(l, &n);
		if (n < 1 || iov[0].iov_len < CHURN_SIZE) {
			churn_error(c, "lease of 0x%" PRIx64 ": %d iovecs",
				    slot, n);
		} else {
			memcpy(&val, (uint8_t *)iov[0].iov_base + (gpa - slot),
			       sizeof(val));
			churn_check(c, "lease", gpa, val);
		}
		gm_lease_put(l);
		return 0;
	case 2:
	case 6:
		ret = gm_atomic_load_u64(c->s, gpa, &val, GM_ACQUIRE);
		if (ret == 0)
			churn_check(c, "atomic load", gpa, val);
		return ret;
	default:
		ret = gm_read_u64(c->s, gpa, &val);
		if (ret == 0)
			churn_check(c, "read", gpa, val);
		return ret;
	}
}

static void *churn_reader(void *p)
{
	struct reader_arg *ra = p;
	struct churn *c = ra->c;
	const uint64_t mine = STABLE_GPA + 8 * (uint64_t)ra->id;
	const uint64_t mine_p = STABLE_P_GPA + 8 * (uint64_t)ra->id;
	unsigned int it;

	pthread_barrier_wait(&c->start);
	/* Bounded, whatever happens to the writer. */
	for (it = 0; it < 4 * c->reader_min; it++) {
		unsigned int j = it % CHURN_SLOTS, ver0;
		uint64_t slot = CHURN_GPA + j * CHURN_SIZE;
		uint64_t gpa = slot + (it * 8) % CHURN_SIZE, val;
		int ret;

		if (atomic_load(&c->done))
			break;
		atomic_fetch_add_explicit(&c->progress, 1,
					  memory_order_relaxed);

		/* The stable regions never go away: every access works. */
		if (gm_write_u64(c->s, mine, it) ||
		    gm_read_u64(c->s, mine, &val) || val != it)
			churn_error(c, "stable on-demand value %u lost", it);
		if (gm_atomic_store_u64(c->s, mine_p, it, GM_RELEASE) ||
		    gm_atomic_load_u64(c->s, mine_p, &val, GM_ACQUIRE) ||
		    val != it)
			churn_error(c, "stable persistent value %u lost", it);
		if (gm_atomic_fetch_add_u64(c->s, COUNTER_GPA, 1, NULL,
					    GM_SEQ_CST))
			churn_error(c, "fetch_add failed");
		else
			ra->adds++;

		/* Churned regions: present or not, never destroyed under
		 * us, and never missed while present all along. */
		ver0 = atomic_load(&c->slot_ver[j]);
		ret = churn_access(c, it, slot, gpa);
		if (ret == 0) {
			atomic_fetch_add_explicit(&c->hits, 1,
						  memory_order_relaxed);
		} else if (ret != -EFAULT) {
			churn_error(c, "churned access at 0x%" PRIx64
				    " returned %d",
				    gpa, ret);
		} else if (!(ver0 & 1) &&
			   atomic_load(&c->slot_ver[j]) == ver0) {
			churn_error(c, "access at 0x%" PRIx64 " missed a "
				    "region present all along",
				    gpa);
		}
	}
	return NULL;
}

static void *churn_writer(void *p)
{
	struct churn *c = p;
	uint64_t present = 0; /* bit per slot */
	unsigned int k;

	pthread_barrier_wait(&c->start);
	for (k = 0; k < c->writer_max &&
		    (k < c->writer_iters ||
		     atomic_load(&c->progress) < c->reader_min);
	     k++) {
		unsigned int j = k % CHURN_SLOTS;
		uint64_t gpa = CHURN_GPA + j * CHURN_SIZE;
		struct fake_config cfg = { .gpa = gpa,
					   .size = CHURN_SIZE,
					   .persistent = k & 1,
					   .max_map = (k & 2) ? 0 : 64,
					   .map_spin = 2000,
					   .poison = 1,
					   .destroyed = &c->destroyed[k] };
		struct fake_region *f;
		int ret;

		if (present & (1u << j)) {
			atomic_fetch_add(&c->slot_ver[j], 1);
			ret = gm_space_remove_region(c->s, gpa);
			if (ret)
				churn_error(c, "remove: %d", ret);
			present &= ~(1u << j);
		}
		/* Leave a slot empty now and then, so readers see holes. */
		if (k % 7 == 6)
			continue;
		if (fake_region_new(&cfg, &f)) {
			churn_error(c, "fake_region_new failed");
			break;
		}
		memset(f->buf, 0x5a, CHURN_SIZE);
		ret = gm_space_add_region(c->s, fake_gm(f));
		if (ret) {
			churn_error(c, "add: %d", ret);
			gm_region_destroy(fake_gm(f));
			continue;
		}
		present |= 1u << j;
		atomic_fetch_add(&c->slot_ver[j], 1);
	}
	c->writer_done = k;
	for (k = 0; k < CHURN_SLOTS; k++) {
		if (present & (1u << k)) {
			atomic_fetch_add(&c->slot_ver[k], 1);
			if (gm_space_remove_region(c->s,
						   CHURN_GPA + k * CHURN_SIZE))
				churn_error(c, "final remove failed");
		}
	}
	atomic_store(&c->done, 1);
	return NULL;
}

static void run_churn(struct fixture *fx, int force_fence)
{
	struct churn c = { .s = fx->s };
	struct reader_arg ra[NREADERS];
	pthread_t readers[NREADERS], writer;
	uint64_t total = 0, counter;
	unsigned int i;

	c.writer_iters = RUNNING_ON_VALGRIND ? 2000 : 4000;
	/* Poisoned regions are kept until teardown: bound their number. */
	c.writer_max = 5 * c.writer_iters;
	c.reader_min = NREADERS * (RUNNING_ON_VALGRIND ? 1000 : 10000);
	c.destroyed = calloc(c.writer_max, sizeof(*c.destroyed));
	assert_non_null(c.destroyed);
	pthread_mutex_init(&c.lock, NULL);
	assert_int_equal(pthread_barrier_init(&c.start, NULL, NREADERS + 1),
			 0);
	for (i = 0; i < CHURN_SLOTS; i++)
		atomic_init(&c.slot_ver[i], 1);

	fake_add(fx->s, (struct fake_config){ .gpa = STABLE_GPA,
					      .size = 0x1000,
					      .max_map = 16 });
	fake_add(fx->s, (struct fake_config){ .gpa = STABLE_P_GPA,
					      .size = 0x1000,
					      .persistent = 1 });
	if (force_fence) {
		gm__rcu_force_fence(fx->s->dom);
		assert_int_equal(atomic_load(&fx->s->dom->fence), 1);
	}

	for (i = 0; i < NREADERS; i++) {
		ra[i] = (struct reader_arg){ .c = &c, .id = i };
		assert_int_equal(pthread_create(&readers[i], NULL,
						churn_reader, &ra[i]),
				 0);
	}
	assert_int_equal(pthread_create(&writer, NULL, churn_writer, &c), 0);
	pthread_join(writer, NULL);
	for (i = 0; i < NREADERS; i++) {
		pthread_join(readers[i], NULL);
		total += ra[i].adds;
	}
	if (atomic_load(&c.errors))
		fail_msg("%lu error(s) in threads, first: %s",
			 atomic_load(&c.errors), c.first_error);

	/* Each churned region was destroyed exactly once (fake: never
	 * with a live mapping, never mapped after). */
	for (i = 0; i < c.writer_max; i++) {
		int want = i < c.writer_done && i % 7 != 6;

		if (c.destroyed[i] != want)
			fail_msg("region %u destroyed %d times", i,
				 c.destroyed[i]);
	}
	assert_int_equal(gm_read_u64(fx->s, COUNTER_GPA, &counter), 0);
	assert_int_equal(counter, total);
	print_message("writer: %u regions; readers: %" PRIu64 " iterations, "
		      "%lu accesses hit a churned region; readers %s\n",
		      c.writer_done, total, atomic_load(&c.hits),
		      atomic_load(&fx->s->dom->fence) ? "fenced"
						      : "relied on membarrier");
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 2);
	assert_no_violations();
	pthread_mutex_destroy(&c.lock);
	pthread_barrier_destroy(&c.start);
	free(c.destroyed);
}

static void test_rcu_churn(void **state)
{
	run_churn(*state, 0);
}

static void test_rcu_churn_forced_fence(void **state)
{
	run_churn(*state, 1);
}

/* ------------------------------------------------------------------ */
/* Reader records of threads and spaces that go away                   */
/* ------------------------------------------------------------------ */

struct once_arg {
	struct gm_space *s;
	int ret;
	uint32_t val;
};

static void *read_once(void *p)
{
	struct once_arg *a = p;

	a->ret = gm_read_u32(a->s, 0x1000, &a->val);
	return NULL;
}

/* Each thread's reader record goes away when the thread exits. */
static void test_exited_threads_free_their_records(void **state)
{
	struct fixture *fx = *state;
	const unsigned int nthreads = 128, batch = 8;
	struct once_arg a[8];
	pthread_t t[8];
	struct fake_region *f;
	unsigned int i, j;

	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x1000,
						  .size = 0x1000,
						  .max_map = 2 });
	memcpy(f->buf, "\x01\x02\x03\x04", 4);
	for (i = 0; i < nthreads; i += batch) {
		for (j = 0; j < batch; j++) {
			a[j] = (struct once_arg){ .s = fx->s, .ret = 1 };
			assert_int_equal(pthread_create(&t[j], NULL, read_once,
							&a[j]),
					 0);
		}
		for (j = 0; j < batch; j++) {
			pthread_join(t[j], NULL);
			assert_int_equal(a[j].ret, 0);
			assert_int_equal(a[j].val, 0x04030201);
		}
		/* Joined threads have run their exit handlers. */
		assert_int_equal(count_readers(fx->s->dom), 0);
	}
	/* The space's reference is the only one left on its domain. */
	assert_int_equal(atomic_load(&fx->s->dom->refs), 1);
	assert_int_equal(atomic_load(&f->live), 0);
	assert_no_violations();
}

/*
 * Threads that used a space outlive it: their records of the dead space
 * stay until they register with another space, which prunes them (and
 * with the last one, the dead space's domain).
 */
struct survivor {
	struct gm_space *old, *new;
	pthread_barrier_t *bar;
	int ret_old, ret_new;
};

static void *survivor_thread(void *p)
{
	struct survivor *sv = p;
	uint32_t v;

	sv->ret_old = gm_read_u32(sv->old, 0x1000, &v);
	pthread_barrier_wait(sv->bar); /* 1: main frees old */
	pthread_barrier_wait(sv->bar); /* 2: freed */
	sv->ret_new = gm_read_u32(sv->new, 0x2000, &v);
	pthread_barrier_wait(sv->bar); /* 3: main checks the records */
	pthread_barrier_wait(sv->bar); /* 4: done */
	return NULL;
}

static void test_records_of_freed_space_are_pruned(void **state)
{
	enum { NT = 4 };
	struct fixture *fx = *state;
	struct gm_space *old;
	struct gm__rcu_domain *d;
	struct survivor sv[NT];
	pthread_barrier_t bar;
	pthread_t t[NT];
	int destroyed = 0;
	unsigned int i;

	assert_int_equal(gm_space_new(&old, "old", 0), 0);
	fake_add(old, (struct fake_config){ .gpa = 0x1000, .size = 0x1000,
					    .destroyed = &destroyed });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x2000, .size = 0x1000,
					      .persistent = 1 });
	assert_int_equal(pthread_barrier_init(&bar, NULL, NT + 1), 0);
	for (i = 0; i < NT; i++) {
		sv[i] = (struct survivor){ .old = old, .new = fx->s,
					   .bar = &bar, .ret_old = 1,
					   .ret_new = 1 };
		assert_int_equal(pthread_create(&t[i], NULL, survivor_thread,
						&sv[i]),
				 0);
	}
	pthread_barrier_wait(&bar); /* 1 */
	d = old->dom;
	assert_int_equal(count_readers(d), NT);
	/* Keep the old domain alive to look at it after the space is
	 * gone; gm__rcu_domain_release() drops this reference below. */
	atomic_fetch_add(&d->refs, 1);
	gm_space_free(old);
	assert_int_equal(destroyed, 1);
	assert_int_equal(atomic_load(&d->dead), 1);
	assert_int_equal(atomic_load(&d->refs), 1 + NT);
	pthread_barrier_wait(&bar); /* 2 */
	pthread_barrier_wait(&bar); /* 3 */
	assert_int_equal(count_readers(d), 0);
	assert_int_equal(atomic_load(&d->refs), 1);
	assert_int_equal(count_readers(fx->s->dom), NT);
	pthread_barrier_wait(&bar); /* 4 */
	for (i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(sv[i].ret_old, 0);
		assert_int_equal(sv[i].ret_new, 0);
	}
	assert_int_equal(count_readers(fx->s->dom), 0);
	gm__rcu_domain_release(d);
	pthread_barrier_destroy(&bar);
	assert_no_violations();
}

/* ------------------------------------------------------------------ */
/* Grace periods with many readers inside                              */
/* ------------------------------------------------------------------ */

/* More than wait_readers() remembers at a time (common/rcu.c). */
#define NINSIDE 100

struct inside {
	struct gm__rcu_domain *d;
	struct gm__rcu_reader *r;
	pthread_barrier_t *bar;
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	int go; /* under lock */
	atomic_int left;
};

/* Enter a section and stay there until told to go. */
static void *stay_inside(void *p)
{
	struct inside *in = p;

	in->r = gm__rcu_reader(in->d);
	if (in->r)
		gm__rcu_enter(in->d, in->r);
	pthread_barrier_wait(in->bar);
	pthread_mutex_lock(in->lock);
	while (!in->go)
		pthread_cond_wait(in->cond, in->lock);
	pthread_mutex_unlock(in->lock);
	if (!in->r)
		return NULL;
	/* Inside still: the domain's lock must be free while a grace period
	 * waits for us (gm__rcu_force_fence() takes it). */
	gm__rcu_force_fence(in->d);
	atomic_store(&in->left, 1);
	gm__rcu_exit(in->r);
	return NULL;
}

/*
 * Whether the grace period is waiting is seen, not guessed: rcu.c's
 * wait_readers() calls sched_yield() between looks at a reader still
 * inside a section, and only then, and this binary is linked with
 * --wrap=sched_yield, so the synchronizing thread's yields are counted.
 */
static pthread_t syncer_thread;
static atomic_int syncer_armed, syncer_yields;

/* A second synchronizing thread's, for the tests of two writers. */
static pthread_t syncer2_thread;
static atomic_int syncer2_armed, syncer2_yields;

int __real_sched_yield(void);
int __wrap_sched_yield(void);

int __wrap_sched_yield(void)
{
	if (atomic_load(&syncer_armed) &&
	    pthread_equal(pthread_self(), syncer_thread))
		atomic_fetch_add(&syncer_yields, 1);
	if (atomic_load(&syncer2_armed) &&
	    pthread_equal(pthread_self(), syncer2_thread))
		atomic_fetch_add(&syncer2_yields, 1);
	return __real_sched_yield();
}

struct syncer {
	struct gm__rcu_domain *d;
	struct inside *in;
	atomic_int done;
	unsigned int early; /* readers still inside when it returned */
};

static void *synchronize_thread(void *p)
{
	struct syncer *sy = p;
	unsigned int i;

	syncer_thread = pthread_self();
	atomic_store(&syncer_armed, 1);
	gm__rcu_synchronize(sy->d);
	atomic_store(&syncer_armed, 0);
	for (i = 0; i < NINSIDE; i++)
		sy->early += !atomic_load(&sy->in[i].left);
	atomic_store(&sy->done, 1);
	return NULL;
}

static void let_go(struct inside *in)
{
	pthread_mutex_lock(in->lock);
	in->go = 1;
	pthread_cond_broadcast(in->cond);
	pthread_mutex_unlock(in->lock);
}

/* Order of two readers by address, descending. */
static int by_address_down(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(struct inside *const *)a)->r;
	uintptr_t y = (uintptr_t)(*(struct inside *const *)b)->r;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * A grace period waits for every reader inside, however many, whichever of
 * them leaves last: the one of address rank @rank (0 the highest), so that
 * the tests cover the first and last reader of wait_readers()'s first
 * batch of 64 and of its second one.
 */
static void run_many_inside(unsigned int rank)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	struct inside in[NINSIDE], *order[NINSIDE], *last;
	pthread_t t[NINSIDE], st;
	struct syncer sy = { .in = in };
	pthread_barrier_t bar;
	unsigned int i;
	int y0;

	static const struct gm__rcu_ops bare = {
		.reader_size = sizeof(struct gm__rcu_reader),
	};

	assert_int_equal(gm__rcu_domain_new(&sy.d, &bare, 0), 0);
	assert_int_equal(pthread_barrier_init(&bar, NULL, NINSIDE + 1), 0);
	for (i = 0; i < NINSIDE; i++) {
		in[i] = (struct inside){ .d = sy.d, .bar = &bar,
					 .lock = &lock, .cond = &cond };
		atomic_init(&in[i].left, 0);
		assert_int_equal(pthread_create(&t[i], NULL, stay_inside,
						&in[i]),
				 0);
	}
	pthread_barrier_wait(&bar);
	for (i = 0; i < NINSIDE; i++) {
		assert_non_null(in[i].r);
		order[i] = &in[i];
	}
	qsort(order, NINSIDE, sizeof(order[0]), by_address_down);
	last = order[rank];
	assert_int_equal(pthread_create(&st, NULL, synchronize_thread, &sy),
			 0);
	for (i = 0; i < NINSIDE; i++)
		if (&in[i] != last)
			let_go(&in[i]);
	/* Once every other reader has left, the next yield of the grace
	 * period is a wait for the last one: it must not have ended. */
	alarm(60);
	for (i = 0; i < NINSIDE; i++)
		while (&in[i] != last && !atomic_load(&in[i].left))
			__real_sched_yield();
	y0 = atomic_load(&syncer_yields);
	while (atomic_load(&syncer_yields) == y0 && !atomic_load(&sy.done))
		__real_sched_yield();
	assert_int_equal(atomic_load(&sy.done), 0);
	let_go(last);
	pthread_join(st, NULL);
	alarm(0);
	assert_int_equal(sy.early, 0);
	for (i = 0; i < NINSIDE; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	gm__rcu_domain_release(sy.d);
}

static void test_rcu_waits_for_many_readers(void **state)
{
	static const unsigned int ranks[] = { 0, 63, 64, NINSIDE - 1 };
	unsigned int i;

	(void)state;
	for (i = 0; i < GM__ARRAY_SIZE(ranks); i++)
		run_many_inside(ranks[i]);
}

/* ------------------------------------------------------------------ */
/* Which sections a grace period waits for                             */
/* ------------------------------------------------------------------ */

/*
 * A reader that leaves the section it was in when the grace period looked
 * and enters the next one at once, then stays inside (a busy thread, seen
 * at its worst): the grace period waits for the first section only, so it
 * must tell that section from the next (rcu.h: seq changes), not wait
 * for the reader to be outside.
 */
struct busy {
	struct gm__rcu_domain *d;
	atomic_int step; /* reader: 1 inside A, 3 inside B; main: 2 leave A */
	atomic_int stop;
	atomic_int in_first; /* reader: still inside section A */
};

static void *busy_reader(void *p)
{
	struct busy *b = p;
	struct gm__rcu_reader *r = gm__rcu_reader(b->d);

	if (!r) {
		atomic_store(&b->step, -1);
		return NULL;
	}
	gm__rcu_enter(b->d, r);
	atomic_store(&b->in_first, 1);
	atomic_store(&b->step, 1);
	while (atomic_load(&b->step) != 2)
		__real_sched_yield();
	atomic_store(&b->in_first, 0);
	gm__rcu_exit(r);
	/* Section B and more: never out for long. */
	while (!atomic_load(&b->stop)) {
		gm__rcu_enter(b->d, r);
		atomic_store(&b->step, 3);
		while (!atomic_load(&b->stop) && atomic_load(&b->step) == 3)
			__real_sched_yield();
		gm__rcu_exit(r);
	}
	return NULL;
}

struct syncer_of {
	struct gm__rcu_domain *d;
	struct busy *b;
	pthread_t *self;
	atomic_int *armed;
	atomic_int done;
	int early; /* section A still open when the grace period ended */
};

static void *sync_one(void *p)
{
	struct syncer_of *sy = p;

	*sy->self = pthread_self();
	atomic_store(sy->armed, 1);
	gm__rcu_synchronize(sy->d);
	atomic_store(sy->armed, 0);
	sy->early = atomic_load(&sy->b->in_first);
	atomic_store(&sy->done, 1);
	return NULL;
}

static void wait_for_yields(atomic_int *yields, const atomic_int *done)
{
	int y0 = atomic_load(yields);

	while (atomic_load(yields) == y0 && !atomic_load(done))
		__real_sched_yield();
}

/* A domain of bare readers, and its busy reader started and inside
 * section A (then, unless @only_a, in section B until told to stop). */
static void start_busy(struct busy *b, pthread_t *rt, int only_a)
{
	static const struct gm__rcu_ops bare = {
		.reader_size = sizeof(struct gm__rcu_reader),
	};

	assert_int_equal(gm__rcu_domain_new(&b->d, &bare, 0), 0);
	alarm(60); /* a grace period that waits for the wrong section */
	atomic_store(&b->stop, only_a);
	assert_int_equal(pthread_create(rt, NULL, busy_reader, b), 0);
	while (atomic_load(&b->step) == 0)
		__real_sched_yield();
	assert_int_equal(atomic_load(&b->step), 1);
}

static void test_rcu_ignores_later_sections(void **state)
{
	struct busy b = { .step = 0 };
	struct syncer_of sy = { .b = &b, .self = &syncer_thread,
				.armed = &syncer_armed };
	pthread_t rt, st;

	(void)state;
	start_busy(&b, &rt, 0);
	sy.d = b.d;
	assert_int_equal(pthread_create(&st, NULL, sync_one, &sy), 0);
	/* Waiting for A (seen, not guessed: its yields). */
	wait_for_yields(&syncer_yields, &sy.done);
	assert_int_equal(atomic_load(&sy.done), 0);
	/* Leave A for B, and stay in sections from then on. */
	atomic_store(&b.step, 2);
	pthread_join(st, NULL);
	assert_int_equal(sy.done, 1);
	assert_int_equal(sy.early, 0);
	atomic_store(&b.stop, 1);
	pthread_join(rt, NULL);
	alarm(0);
	gm__rcu_domain_release(b.d);
}

/* Two grace periods that found the same section both wait for it. */
static void test_rcu_two_writers_wait_for_one_section(void **state)
{
	struct busy b = { .step = 0 };
	struct syncer_of s1 = { .b = &b, .self = &syncer_thread,
				.armed = &syncer_armed };
	struct syncer_of s2 = { .b = &b, .self = &syncer2_thread,
				.armed = &syncer2_armed };
	pthread_t rt, t1, t2;

	(void)state;
	start_busy(&b, &rt, 1); /* no section after A */
	s1.d = s2.d = b.d;
	assert_int_equal(pthread_create(&t1, NULL, sync_one, &s1), 0);
	wait_for_yields(&syncer_yields, &s1.done);
	assert_int_equal(pthread_create(&t2, NULL, sync_one, &s2), 0);
	wait_for_yields(&syncer2_yields, &s2.done);
	/* Both wait for A. */
	assert_int_equal(atomic_load(&s1.done), 0);
	assert_int_equal(atomic_load(&s2.done), 0);
	atomic_store(&b.step, 2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(s1.early, 0);
	assert_int_equal(s2.early, 0);
	pthread_join(rt, NULL);
	alarm(0);
	gm__rcu_domain_release(b.d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	static const struct CMUnitTest tests[] = {
		T(test_rcu_churn),
		T(test_rcu_churn_forced_fence),
		T(test_exited_threads_free_their_records),
		T(test_records_of_freed_space_are_pruned),
		T(test_rcu_waits_for_many_readers),
		T(test_rcu_ignores_later_sections),
		T(test_rcu_two_writers_wait_for_one_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
