/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Xen backend's mapping cache and its budget, on the simulator
 * (tests/xensim): threads reading, writing and updating guest memory over
 * a working set many times the budget, also while the cache is
 * invalidated under them; views and leases that pin their entries; a
 * budget full of pins; and gm_xen_invalidate().  Assertions use
 * gm_xen_get_stats() and the simulator's counters, which count the real
 * calls into the (simulated) Xen libraries.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind: the teardown (tests/xen-fixture.c) fails the test
 * if xensim_reset() finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdatomic.h>

#include "xen-fixture.h"

/* ------------------------------------------------------------------ */
/* Threads against a small budget                                      */
/* ------------------------------------------------------------------ */

#define HAM_THREADS 4
#define HAM_ITERS 4000
#define HAM_BUCKET KiB(16)
#define HAM_BUDGET (4 * HAM_BUCKET)
#define HAM_FPAGES 256u		/* 1 MiB: 64 buckets */
#define HAM_FBUCKETS (HAM_FPAGES * PAGE / HAM_BUCKET)
#define HAM_GPAGES 32u
#define HAM_FGPA 0x1000000ull
#define HAM_GGPA 0x8000000ull
#define HAM_GGFN 1024u
/* Slots per thread: one word per foreign bucket, one 8-byte value across
 * a bucket boundary for every fourth boundary, one word per grant page. */
#define HAM_WORDS HAM_FBUCKETS
#define HAM_STRADDLE 15u
#define HAM_SLOTS (HAM_WORDS + HAM_STRADDLE + HAM_GPAGES)
#define HAM_COUNTER (HAM_FGPA + 32 * HAM_BUCKET + 512)

struct hammer {
	struct gm_space *s;
	struct gm_xen *x;
	int id;
	uint64_t adds;	       /* increments of the shared counter */
	uint64_t over_budget;  /* samples of mapped_bytes above budget */
	long bad;	       /* wrong results */
	char why[128];	       /* the first one */
	uint64_t expect[HAM_SLOTS];
};

/*
 * Guest address of thread @t's slot @k (no two threads share bytes).  The
 * aligned words, which atomics update, start 256 bytes into their page,
 * beyond the wide reads (128 bytes around bucket starts): a plain read
 * racing with an atomic update of guest memory is intended here, but
 * ThreadSanitizer reports it when it loses the read's stack, which the
 * suppressions need.
 */
static uint64_t ham_slot(int t, unsigned int k)
{
	if (k < HAM_WORDS)
		return HAM_FGPA + k * HAM_BUCKET + (k % 4) * PAGE + 256 +
		       (uint64_t)t * 8;
	k -= HAM_WORDS;
	if (k < HAM_STRADDLE)
		return HAM_FGPA + (k * 4 + (unsigned int)t + 1) * HAM_BUCKET -
		       4;
	k -= HAM_STRADDLE;
	return HAM_GGPA + k * PAGE + 64 + (uint64_t)t * 8;
}

static int ham_aligned(unsigned int k)
{
	return k < HAM_WORDS || k >= HAM_WORDS + HAM_STRADDLE;
}

static void ham_bad(struct hammer *h, const char *what, unsigned int k,
		    long long got)
{
	if (!h->bad++)
		snprintf(h->why, sizeof(h->why), "%s slot %u: %lld (%s)", what,
			 k, got, gm_last_error());
}

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	uint32_t rnd = 0x12345u * (uint32_t)(h->id + 1);
	struct gm_xen_stats st;
	int i, ret;

	for (i = 0; i < HAM_ITERS; i++) {
		unsigned int k, op;
		uint64_t gpa, v = 0, old = 0;
		uint8_t buf[256];

		rnd = rnd * 1103515245u + 12345u;
		k = (rnd >> 8) % HAM_SLOTS;
		op = (rnd >> 24) % 8;
		gpa = ham_slot(h->id, k);
		switch (op) {
		case 0:
		case 1:
			v = ((uint64_t)h->id << 56) | ((uint64_t)i << 16) | k;
			ret = ham_aligned(k) ? gm_write_u64(h->s, gpa, v)
					     : gm_write(h->s, gpa, &v, 8);
			if (ret)
				ham_bad(h, "write", k, ret);
			else
				h->expect[k] = v;
			break;
		case 2:
		case 3:
			ret = ham_aligned(k) ? gm_read_u64(h->s, gpa, &v)
					     : gm_read(h->s, gpa, &v, 8);
			if (ret)
				ham_bad(h, "read", k, ret);
			else if (v != h->expect[k])
				ham_bad(h, "read value", k, (long long)v);
			break;
		case 4:
			if (!ham_aligned(k))
				break;
			ret = gm_atomic_fetch_add_u64(h->s, gpa, 3, &old,
						      GM_ACQ_REL);
			if (ret)
				ham_bad(h, "fetch_add", k, ret);
			else if (old != h->expect[k])
				ham_bad(h, "fetch_add old", k, (long long)old);
			else
				h->expect[k] += 3;
			break;
		case 5:
			ret = gm_atomic_fetch_add_u32(h->s, HAM_COUNTER, 1,
						      NULL, GM_SEQ_CST);
			if (ret)
				ham_bad(h, "counter", 0, ret);
			else
				h->adds++;
			break;
		case 6:
			/* Across a bucket boundary, other threads' bytes
			 * too: only success counts. */
			gpa = HAM_FGPA +
			      (1 + k % (HAM_FBUCKETS - 1)) * HAM_BUCKET - 128;
			ret = gm_read(h->s, gpa, buf, sizeof(buf));
			if (ret)
				ham_bad(h, "wide read", k, ret);
			break;
		default:
			if (gm_xen_get_stats(h->x, &st))
				ham_bad(h, "stats", k, -1);
			else if (st.mapped_bytes > HAM_BUDGET)
				h->over_budget++;
			break;
		}
	}
	return NULL;
}

/*
 * Threads read, write and update their own words and a shared counter
 * over a working set 16 times the budget: every value is right, no
 * increment is lost, and the budget holds at every moment (evicted
 * mappings are really unmapped by the simulator, so a stale pointer
 * would crash here).
 */
static void test_threads_within_budget(void **state)
{
	struct gm_xen *x = xen_open(HAM_BUCKET, HAM_BUDGET);
	uint32_t ref = share(HAM_GGFN, HAM_GPAGES, 1), counter = 0;
	struct hammer *h = calloc(HAM_THREADS, sizeof(*h));
	pthread_t t[HAM_THREADS];
	struct gm_space *s;
	struct gm_xen_stats st;
	struct xensim_counters c;
	uint64_t adds = 0;
	unsigned int k;
	int i;

	(void)state;
	assert_non_null(h);
	s = space_with(foreign(x, DOMID, HAM_FGPA, HAM_FPAGES, 0, 0));
	assert_int_equal(gm_space_add_region(
				 s, grant(x, HAM_GGPA, ref, HAM_GPAGES, 0)),
			 0);
	xensim_reset_counters();
	for (i = 0; i < HAM_THREADS; i++) {
		h[i].s = s;
		h[i].x = x;
		h[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
	}
	for (i = 0; i < HAM_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < HAM_THREADS; i++) {
		if (h[i].bad)
			fail_msg("thread %d: %ld bad results, first: %s", i,
				 h[i].bad, h[i].why);
		assert_int_equal(h[i].over_budget, 0);
		adds += h[i].adds;
	}

	/* Every slot holds what its owner last wrote, as the guest sees it
	 * and through the library. */
	for (i = 0; i < HAM_THREADS; i++) {
		for (k = 0; k < HAM_SLOTS; k++) {
			uint64_t gpa = ham_slot(i, k), v = 0;
			uint64_t gfn = gpa >= HAM_GGPA
					       ? HAM_GGFN + (gpa - HAM_GGPA) /
								    PAGE
					       : (gpa - HAM_FGPA) / PAGE;

			memcpy(&v, gframe(gfn, gpa % PAGE), 8);
			assert_int_equal(v, h[i].expect[k]);
			assert_int_equal(gm_read(s, gpa, &v, 8), 0);
			assert_int_equal(v, h[i].expect[k]);
		}
	}
	assert_int_equal(gm_read_u32(s, HAM_COUNTER, &counter), 0);
	assert_int_equal(counter, adds);

	st = xstats(x);
	c = sim();
	assert_true(st.evictions > 0);
	assert_true(st.mapped_bytes <= HAM_BUDGET);
	assert_true(st.peak_mapped_bytes <= HAM_BUDGET);
	assert_true(c.all.peak_live_pages * PAGE <= HAM_BUDGET);
	assert_true(c.all.live_pages * PAGE <= HAM_BUDGET);

	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
	free(h);
}

/*
 * Threads that also take views and leases of their own words while the
 * main thread keeps invalidating the cache: pinned entries unlinked under
 * a view stay valid until put, values stay right, the budget holds.
 */
#define CHURN_THREADS 4
#define CHURN_ITERS 1500

struct churn {
	struct gm_space *s;
	int id;
	atomic_int *done;
	long bad;
	char why[128];
	uint64_t expect[HAM_WORDS];
};

static void churn_bad(struct churn *c, const char *what, unsigned int k,
		      long long got)
{
	if (!c->bad++)
		snprintf(c->why, sizeof(c->why), "%s word %u: %lld (%s)", what,
			 k, got, gm_last_error());
}

static void *churn(void *arg)
{
	struct churn *c = arg;
	uint32_t rnd = 0x9876u * (uint32_t)(c->id + 1);
	int i, ret, cnt;

	for (i = 0; i < CHURN_ITERS; i++) {
		unsigned int k;
		uint64_t gpa, v = 0;
		struct gm_view vw;
		struct gm_lease *l;
		const struct iovec *iov;

		rnd = rnd * 1103515245u + 12345u;
		k = (rnd >> 8) % HAM_WORDS;
		gpa = ham_slot(c->id, k);
		switch ((rnd >> 24) % 4) {
		case 0:
			v = ((uint64_t)c->id << 56) | ((uint64_t)i << 8) | k;
			ret = gm_write_u64(c->s, gpa, v);
			if (ret)
				churn_bad(c, "write", k, ret);
			else
				c->expect[k] = v;
			break;
		case 1:
			ret = gm_view_get(c->s, gpa, 8,
					  GM_PROT_READ | GM_PROT_WRITE, &vw);
			if (ret) {
				churn_bad(c, "view get", k, ret);
				break;
			}
			if (gm_view_read_u64(&vw, gpa, &v) ||
			    v != c->expect[k])
				churn_bad(c, "view read", k, (long long)v);
			v = c->expect[k] + 1;
			if (gm_view_write_u64(&vw, gpa, v))
				churn_bad(c, "view write", k, -1);
			else
				c->expect[k] = v;
			gm_view_put(&vw);
			break;
		case 2:
			ret = gm_lease_get(c->s, gpa, 8, GM_PROT_READ, &l);
			if (ret) {
				churn_bad(c, "lease get", k, ret);
				break;
			}
			iov = gm_lease_iov(l, &cnt);
			if (cnt != 1 || iov[0].iov_len != 8)
				churn_bad(c, "lease shape", k, cnt);
			else if (memcpy(&v, iov[0].iov_base, 8),
				 v != c->expect[k])
				churn_bad(c, "lease data", k, (long long)v);
			gm_lease_put(l);
			break;
		default:
			ret = gm_read_u64(c->s, gpa, &v);
			if (ret)
				churn_bad(c, "read", k, ret);
			else if (v != c->expect[k])
				churn_bad(c, "read value", k, (long long)v);
			break;
		}
	}
	atomic_fetch_add(c->done, 1);
	return NULL;
}

static void test_threads_with_invalidate(void **state)
{
	struct gm_xen *x = xen_open(HAM_BUCKET, HAM_BUDGET);
	struct churn *c = calloc(CHURN_THREADS, sizeof(*c));
	pthread_t t[CHURN_THREADS];
	atomic_int done = 0;
	struct gm_space *s;
	struct gm_xen_stats st;
	long invalidations = 0, errors = 0;
	int i, ret;

	(void)state;
	assert_non_null(c);
	s = space_with(foreign(x, DOMID, HAM_FGPA, HAM_FPAGES, 0, 0));
	xensim_reset_counters();
	for (i = 0; i < CHURN_THREADS; i++) {
		c[i].s = s;
		c[i].id = i;
		c[i].done = &done;
		assert_int_equal(pthread_create(&t[i], NULL, churn, &c[i]), 0);
	}
	/* No assertions until the threads are joined. */
	while (atomic_load(&done) < CHURN_THREADS) {
		ret = gm_xen_invalidate(x);
		if (ret < 0 || ret > CHURN_THREADS)
			errors++;
		invalidations++;
		if (gm_xen_get_stats(x, &st) || st.mapped_bytes > HAM_BUDGET)
			errors++;
	}
	for (i = 0; i < CHURN_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(errors, 0);
	assert_true(invalidations > 0);
	for (i = 0; i < CHURN_THREADS; i++)
		if (c[i].bad)
			fail_msg("thread %d: %ld bad results, first: %s", i,
				 c[i].bad, c[i].why);
	st = xstats(x);
	assert_true(st.peak_mapped_bytes <= HAM_BUDGET);
	assert_true(sim().foreign.peak_live_pages * PAGE <= HAM_BUDGET);

	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	gm_xen_close(x);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Views, leases and the budget                                        */
/* ------------------------------------------------------------------ */

/* A view keeps its bucket mapped while other accesses evict everything
 * else; putting it lets the entry go. */
static void test_view_pins_entry(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	const uint64_t vgpa = PIN_GPA + 100;
	struct gm_xen_stats s0, st;
	struct xensim_counters c;
	struct gm_view v;
	uint32_t val = 0;

	(void)state;
	guest_fill(0, PIN_PAGES);
	assert_int_equal(gm_view_get(s, vgpa, 200,
				     GM_PROT_READ | GM_PROT_WRITE, &v),
			 0);
	s0 = xstats(x);
	touch_buckets(s, 1, PIN_PAGES * PAGE / PIN_BUCKET - 1);
	st = xstats(x);
	c = sim();
	assert_true(st.evictions - s0.evictions >= 59);
	assert_true(st.peak_mapped_bytes <= PIN_BUDGET);
	assert_true(c.foreign.peak_live_pages * PAGE <= PIN_BUDGET);

	/* Still the guest's memory, both ways. */
	assert_int_equal(gm_view_read_u32(&v, vgpa + 4, &val), 0);
	assert_int_equal(val, pattern(0, 104));
	assert_int_equal(gm_view_write_u32(&v, vgpa + 8, 0xfeedf00d), 0);
	assert_int_equal(guest_u32(0, 108), 0xfeedf00d);
	memcpy(gframe(0, 112), &(uint32_t){ 0x0b0e0a0d }, 4);
	assert_int_equal(gm_view_read_u32(&v, vgpa + 12, &val), 0);
	assert_int_equal(val, 0x0b0e0a0d);
	/* Pinned: invalidation counts it and leaves it mapped. */
	assert_int_equal(gm_xen_invalidate(x), 1);
	assert_int_equal(gm_view_read_u32(&v, vgpa + 12, &val), 0);
	assert_int_equal(sim().foreign.live_mappings, 1);

	gm_view_put(&v);
	st = xstats(x);
	assert_int_equal(st.mapped_bytes, 0);
	assert_int_equal(sim().foreign.live_mappings, 0);
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_true(st.peak_mapped_bytes <= PIN_BUDGET);

	gm_space_free(s);
	gm_xen_close(x);
}

/* A view across buckets gets a mapping of its own, counted against the
 * budget and unmapped as soon as it is put. */
static void test_view_across_buckets(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	const uint64_t vgpa = PIN_GPA + 5 * PIN_BUCKET - 8;
	struct gm_xen_stats s0, st;
	struct xensim_counters c0;
	struct gm_view v;
	uint64_t val = 0;

	(void)state;
	guest_fill(0, PIN_PAGES);
	touch_buckets(s, 10, 13); /* the budget is full of unpinned entries */
	s0 = xstats(x);
	c0 = sim();
	assert_int_equal(gm_view_get(s, vgpa, 16, GM_PROT_READ, &v), 0);
	st = xstats(x);
	assert_int_equal(st.map_calls, s0.map_calls + 1);
	assert_int_equal(st.pages_mapped, s0.pages_mapped + 2);
	assert_true(st.mapped_bytes <= PIN_BUDGET);
	assert_int_equal(gm_view_read_u64(&v, vgpa, &val), 0);
	assert_int_equal((uint32_t)val,
			 pattern((vgpa - PIN_GPA) / PAGE, PAGE - 8));
	assert_int_equal(gm_view_read_u64(&v, vgpa + 8, &val), 0);
	assert_int_equal((uint32_t)val,
			 pattern((vgpa - PIN_GPA) / PAGE + 1, 0));
	touch_buckets(s, 20, 40);
	assert_int_equal(gm_view_read_u64(&v, vgpa + 4, &val), 0);
	assert_true(xstats(x).peak_mapped_bytes <= PIN_BUDGET);

	s0 = xstats(x);
	c0 = sim();
	gm_view_put(&v);
	st = xstats(x);
	assert_int_equal(st.unmap_calls, s0.unmap_calls + 1);
	assert_int_equal(st.mapped_bytes, s0.mapped_bytes - 2 * PAGE);
	assert_int_equal(sim().foreign.unmaps, c0.foreign.unmaps + 1);
	assert_int_equal(sim().foreign.live_mappings,
			 c0.foreign.live_mappings - 1);

	gm_space_free(s);
	gm_xen_close(x);
}

/* A lease pins every entry it spans. */
static void test_lease_pins_entries(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	const uint64_t lgpa = PIN_GPA + 20 * PIN_BUCKET - 100;
	const struct iovec *iov;
	struct gm_lease *l = NULL;
	uint8_t want[200];
	size_t done = 0;
	int cnt = 0, i;

	(void)state;
	guest_fill(0, PIN_PAGES);
	memcpy(want, gframe((lgpa - PIN_GPA) / PAGE, (lgpa - PIN_GPA) % PAGE),
	       sizeof(want));
	assert_int_equal(gm_lease_get(s, lgpa, 200, GM_PROT_READ, &l), 0);
	assert_int_equal(xstats(x).mapped_bytes, 2 * PIN_BUCKET);
	touch_buckets(s, 30, 60);
	assert_true(xstats(x).peak_mapped_bytes <= PIN_BUDGET);
	/* Two pieces, unless the two mappings happen to be adjacent in the
	 * host and were merged. */
	iov = gm_lease_iov(l, &cnt);
	assert_true(cnt == 1 || cnt == 2);
	for (i = 0; i < cnt; i++) {
		assert_memory_equal(iov[i].iov_base, want + done,
				    iov[i].iov_len);
		done += iov[i].iov_len;
	}
	assert_int_equal(done, 200);
	assert_int_equal(gm_xen_invalidate(x), 2);
	gm_lease_put(l);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	assert_int_equal(sim().foreign.live_mappings, 0);

	gm_space_free(s);
	gm_xen_close(x);
}

/* With the budget full of pinned entries a new mapping fails with
 * -ENOBUFS (guestmem.h) instead of exceeding it. */
static void test_budget_full_of_pins(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	struct gm_view v[4], w;
	struct gm_lease *l = NULL;
	struct gm_xen_stats s0, st;
	uint32_t val = 0;
	const uint64_t far = PIN_GPA + 4 * PIN_BUCKET + 20;
	int i;

	(void)state;
	guest_fill(0, PIN_PAGES);
	for (i = 0; i < 4; i++)
		assert_int_equal(gm_view_get(s, PIN_GPA + i * PIN_BUCKET + 64,
					     16, GM_PROT_READ, &v[i]),
				 0);
	s0 = xstats(x);
	assert_int_equal(s0.mapped_bytes, PIN_BUDGET);

	assert_int_equal(gm_read_u32(s, far, &val), -ENOBUFS);
	expect_msg("read", far, 4, far, "xen-foreign");
	assert_int_equal(gm_view_get(s, far, 4, GM_PROT_READ, &w), -ENOBUFS);
	assert_int_equal(gm_lease_get(s, far, 4, GM_PROT_READ, &l), -ENOBUFS);
	assert_null(l);
	assert_int_equal(gm_atomic_load_u32(s, far, &val, GM_ACQUIRE),
			 -ENOBUFS);
	st = xstats(x);
	assert_int_equal(st.map_calls, s0.map_calls);
	assert_int_equal(st.mapped_bytes, PIN_BUDGET);
	assert_int_equal(st.peak_mapped_bytes, PIN_BUDGET);
	assert_int_equal(sim().foreign.peak_live_pages * PAGE, PIN_BUDGET);

	/* What is mapped still works. */
	assert_int_equal(gm_read_u32(s, PIN_GPA + 2 * PIN_BUCKET + 100, &val),
			 0);
	assert_int_equal(val, pattern(2 * PIN_BUCKET / PAGE, 100));

	/* One put makes room. */
	gm_view_put(&v[1]);
	assert_int_equal(gm_read_u32(s, far, &val), 0);
	assert_int_equal(val, pattern((far - PIN_GPA) / PAGE, 20));
	for (i = 0; i < 4; i++)
		gm_view_put(&v[i]);

	/* More than the whole budget can never be mapped at once. */
	assert_int_equal(gm_view_get(s, PIN_GPA, PIN_BUDGET + PAGE,
				     GM_PROT_READ, &w),
			 -ENOBUFS);
	assert_int_equal(gm_view_get(s, PIN_GPA, PIN_BUDGET, GM_PROT_READ, &w),
			 0);
	gm_view_put(&w);
	assert_true(xstats(x).peak_mapped_bytes <= PIN_BUDGET);

	gm_space_free(s);
	gm_xen_close(x);
}

/* gm_xen_invalidate() unmaps what is not pinned at once, the rest at
 * put, and reports how many were pinned. */
static void test_invalidate(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, MiB(1));
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	struct gm_xen_stats s0, st;
	struct xensim_counters c0;
	struct gm_view v;
	uint32_t val = 0;

	(void)state;
	guest_fill(0, PIN_PAGES);
	touch_buckets(s, 0, 2);
	assert_int_equal(gm_view_get(s, PIN_GPA + 3 * PIN_BUCKET, 32,
				     GM_PROT_READ | GM_PROT_WRITE, &v),
			 0);
	s0 = xstats(x);
	c0 = sim();
	assert_int_equal(c0.foreign.live_mappings, 4);

	assert_int_equal(gm_xen_invalidate(x), 1);
	st = xstats(x);
	assert_int_equal(st.unmap_calls, s0.unmap_calls + 3);
	assert_int_equal(sim().foreign.unmaps, c0.foreign.unmaps + 3);
	assert_int_equal(sim().foreign.live_mappings, 1);
	assert_int_equal(st.mapped_bytes, PIN_BUCKET);

	/* The pinned view is still good. */
	assert_int_equal(gm_view_write_u32(&v, PIN_GPA + 3 * PIN_BUCKET + 4,
					   0x5eed),
			 0);
	assert_int_equal(guest_u32(3 * PIN_BUCKET / PAGE, 4), 0x5eed);

	/* The next access maps again. */
	touch_buckets(s, 0, 0);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	/* The unlinked entry is not found again: bucket 3 maps anew. */
	assert_int_equal(gm_read_u32(s, PIN_GPA + 3 * PIN_BUCKET + 4, &val), 0);
	assert_int_equal(val, 0x5eed);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 2);

	gm_view_put(&v);
	st = xstats(x);
	assert_int_equal(st.unmap_calls, s0.unmap_calls + 4);
	assert_int_equal(sim().foreign.live_mappings, 2);
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_int_equal(sim().foreign.live_mappings, 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	assert_int_equal(gm_xen_invalidate(NULL), -EINVAL);

	gm_space_free(s);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_threads_within_budget),
		XEN_TEST(test_threads_with_invalidate),
		XEN_TEST(test_view_pins_entry),
		XEN_TEST(test_view_across_buckets),
		XEN_TEST(test_lease_pins_entries),
		XEN_TEST(test_budget_full_of_pins),
		XEN_TEST(test_invalidate),
	};

	return cmocka_run_group_tests_name("xen-budget", tests, NULL, NULL);
}
