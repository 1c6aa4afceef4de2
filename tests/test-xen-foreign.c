/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * On-demand foreign regions of the Xen backend, on the simulator
 * (tests/xensim): what one access maps, the thread's lookup cache of a
 * stable bucket and what ends it, where buckets are placed in the region's
 * window and what happens when a place is lost, accesses to published
 * buckets, and mappings larger than the backend's on-stack arrays.
 * Assertions use gm_xen_get_stats() and the simulator's counters, which
 * count the real calls into the (simulated) Xen libraries.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind: the teardown (tests/xen-fixture.c) fails the test
 * if xensim_reset() finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include <pthread.h>

#include "xen-fixture.h"

/* ------------------------------------------------------------------ */
/* What one access maps                                                */
/* ------------------------------------------------------------------ */

/* A 4-byte read maps exactly the bucket around it, once. */
static void test_foreign_read_maps_one_bucket(void **state)
{
	static const size_t buckets[] = { KiB(4), KiB(16), KiB(64), MiB(1) };
	const uint64_t gpa = 0x100000, gfn = 16, npages = 1024;
	size_t i;

	(void)state;
	guest_fill(gfn, npages);
	for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
		const uint64_t bk = buckets[i], off = 3 * bk + 0x124;
		const uint64_t fpage = gfn + off / PAGE;
		struct gm_xen *x = xen_open(bk, MiB(4));
		struct gm_space *s = space_with(
			foreign(x, DOMID, gpa, npages, gfn, 0));
		struct gm_xen_stats s0, s1;
		struct xensim_counters c0, c1;
		uint32_t v = 0;

		s0 = xstats(x);
		c0 = sim();
		assert_int_equal(gm_read_u32(s, gpa + off, &v), 0);
		assert_int_equal(v, pattern(fpage, off % PAGE));
		s1 = xstats(x);
		c1 = sim();
		assert_int_equal(s1.map_calls, s0.map_calls + 1);
		assert_int_equal(s1.pages_mapped, s0.pages_mapped + bk / PAGE);
		assert_int_equal(s1.misses, s0.misses + 1);
		assert_int_equal(s1.hits, s0.hits);
		assert_int_equal(s1.mapped_bytes, bk);
		/* Buckets are mapped in place in the region's window. */
		assert_int_equal(c1.calls[XENSIM_FN_FMEM_MAP2],
				 c0.calls[XENSIM_FN_FMEM_MAP2] + 1);
		assert_int_equal(c1.foreign.total_pages,
				 c0.foreign.total_pages + bk / PAGE);
		assert_int_equal(c1.foreign.live_mappings, 1);

		/* Again, and elsewhere in the same bucket: no map call. */
		assert_int_equal(gm_read_u32(s, gpa + off, &v), 0);
		assert_int_equal(v, pattern(fpage, off % PAGE));
		assert_int_equal(gm_read_u32(s, gpa + 3 * bk, &v), 0);
		assert_int_equal(v, pattern(gfn + 3 * bk / PAGE, 0));
		/* Foreign buckets serve writes too. */
		assert_int_equal(gm_write_u32(s, gpa + off + 4, 0xa5a5a5a5), 0);
		assert_int_equal(guest_u32(fpage, off % PAGE + 4), 0xa5a5a5a5);
		s1 = xstats(x);
		c1 = sim();
		assert_int_equal(s1.map_calls, s0.map_calls + 1);
		/* No lookup at all: the reads find the bucket mapped in the
		 * region's window, and after two in a row in one bucket the
		 * thread's lookup cache has it, so the write goes straight
		 * to the mapping.  Neither counts as a hit. */
		assert_int_equal(s1.hits, s0.hits);
		assert_int_equal(c1.calls[XENSIM_FN_FMEM_MAP2],
				 c0.calls[XENSIM_FN_FMEM_MAP2] + 1);

		gm_space_free(s);
		c1 = sim();
		assert_int_equal(c1.foreign.live_mappings, 0);
		assert_int_equal(xstats(x).unmap_calls, s0.unmap_calls + 1);
		assert_int_equal(xstats(x).mapped_bytes, 0);
		gm_xen_close(x);
		guest_fill(fpage, 1);
	}
	assert_int_equal(sim().open_handles, 0);
}

/* ------------------------------------------------------------------ */
/* The thread's lookup cache of a stable bucket                        */
/* ------------------------------------------------------------------ */

/* Read bucket @b three times: the last two lookups in a row put it in the
 * thread's lookup cache. */
static void cache_bucket(struct gm_space *s, unsigned int b)
{
	touch_buckets(s, b, b);
	touch_buckets(s, b, b);
	touch_buckets(s, b, b);
}

/*
 * Once a thread has used a bucket twice in a row, its accesses there take
 * no lookup (no hit counted, no map); invalidation and removal of the
 * region end that, and an access after them never uses the old mapping
 * (the simulator unmapped it: using it would crash).
 */
static void test_thread_cache_invalidated(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, MiB(1));
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	struct gm_xen_stats s0;
	struct gm_view view;
	uint32_t v = 0;
	int i;

	(void)state;
	guest_fill(0, PIN_PAGES);
	cache_bucket(s, 2);
	s0 = xstats(x);
	for (i = 0; i < 100; i++)
		touch_buckets(s, 2, 2);
	assert_int_equal(gm_write_u32(s, PIN_GPA + 2 * PIN_BUCKET + 12,
				      0xfeed),
			 0);
	assert_int_equal(guest_u32(2 * PIN_BUCKET / PAGE, 12), 0xfeed);
	assert_int_equal(xstats(x).hits, s0.hits);
	assert_int_equal(xstats(x).map_calls, s0.map_calls);

	/* Invalidation unmaps the bucket; the next access maps it again. */
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_int_equal(sim().foreign.live_mappings, 0);
	touch_buckets(s, 2, 2);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	assert_int_equal(gm_read_u32(s, PIN_GPA + 2 * PIN_BUCKET + 12, &v), 0);
	assert_int_equal(v, 0xfeed);

	/* Removing the region makes its range a hole at once, even while a
	 * view keeps the region and the cached bucket's mapping alive. */
	cache_bucket(s, 2);
	assert_int_equal(gm_view_get(s, PIN_GPA + 5 * PIN_BUCKET, 4,
				     GM_PROT_READ, &view),
			 0);
	s0 = xstats(x);
	assert_int_equal(gm_space_remove_region(s, PIN_GPA), 0);
	assert_int_equal(gm_read_u32(s, PIN_GPA + 2 * PIN_BUCKET + 8, &v),
			 -EFAULT);
	assert_int_equal(xstats(x).map_calls, s0.map_calls);
	assert_int_equal(sim().foreign.live_mappings, 2);
	gm_view_put(&view);
	assert_int_equal(sim().foreign.live_mappings, 0);

	gm_space_free(s);
	gm_xen_close(x);
}

struct evict_arg {
	struct gm_space *s;
	unsigned int first, last;
};

static void *evict_thread(void *p)
{
	struct evict_arg *a = p;

	touch_buckets(a->s, a->first, a->last);
	return NULL;
}

/* Another thread's misses evict the bucket a thread has cached: that thread
 * maps it again on its next access instead of using the old mapping. */
static void test_thread_cache_evicted(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	struct evict_arg a = { s, 10, 10 + PIN_BUDGET / PIN_BUCKET };
	struct gm_xen_stats s0;
	pthread_t t;

	(void)state;
	guest_fill(0, PIN_PAGES);
	cache_bucket(s, 1);
	s0 = xstats(x);
	assert_int_equal(pthread_create(&t, NULL, evict_thread, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(xstats(x).evictions >= s0.evictions + 1);
	assert_int_equal(sim().foreign.live_mappings, PIN_BUDGET / PIN_BUCKET);
	s0 = xstats(x);
	touch_buckets(s, 1, 1);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	assert_int_equal(xstats(x).misses, s0.misses + 1);

	gm_space_free(s);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* The region's window                                                 */
/* ------------------------------------------------------------------ */

/*
 * Buckets of an on-demand foreign region are mapped in place in a window as
 * large as the region; an unmapped bucket's range is reserved again (no
 * hole another mmap could take); a bucket whose place may be taken after a
 * failed map is mapped elsewhere from then on.
 */
static void test_window_placement(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	uint8_t *base;
	uint32_t v = 0;
	uint64_t c;

	(void)state;
	guest_fill(0, PIN_PAGES);
	base = hva_of(s, PIN_GPA + PIN_BUCKET + 8) - (PIN_BUCKET + 8);
	assert_ptr_equal(hva_of(s, PIN_GPA + 3 * PIN_BUCKET + 20),
			 base + 3 * PIN_BUCKET + 20);
	/* Evict buckets 1 and 3: their ranges are reserved again. */
	touch_buckets(s, 10, 10 + PIN_BUDGET / PIN_BUCKET);
	assert_int_equal(sim().foreign.live_mappings, PIN_BUDGET / PIN_BUCKET);
	assert_true(range_mapped(base + PIN_BUCKET, PIN_BUCKET));
	assert_true(range_mapped(base + 3 * PIN_BUCKET, PIN_BUCKET));
	/* Mapped again, in the same place. */
	assert_ptr_equal(hva_of(s, PIN_GPA + 3 * PIN_BUCKET + 20),
			 base + 3 * PIN_BUCKET + 20);

	/* A failed map in the window leaves a hole (as the real library
	 * may): it is reserved again, and the next map goes in place. */
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u32(s, PIN_GPA + 20 * PIN_BUCKET + 8, &v),
			 -ENOMEM);
	assert_true(range_mapped(base + 20 * PIN_BUCKET, PIN_BUCKET));
	assert_ptr_equal(hva_of(s, PIN_GPA + 20 * PIN_BUCKET + 8),
			 base + 20 * PIN_BUCKET + 8);

	/* Another mmap of the process takes the hole: the place is lost,
	 * the bucket maps elsewhere from now on, and nothing of ours ever
	 * maps or unmaps over that mapping. */
	xensim_set_hole_hook(take_hole);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u32(s, PIN_GPA + 30 * PIN_BUCKET + 8, &v),
			 -ENOMEM);
	xensim_set_hole_hook(NULL);
	assert_ptr_equal(intruder, base + 30 * PIN_BUCKET);
	c = sim().calls[XENSIM_FN_FMEM_MAP];
	touch_buckets(s, 30, 30);
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_MAP], c + 1);
	assert_ptr_not_equal(hva_of(s, PIN_GPA + 30 * PIN_BUCKET + 8),
			     base + 30 * PIN_BUCKET + 8);
	assert_int_equal(gm_xen_invalidate(x), 0);
	touch_buckets(s, 30, 31);
	assert_ptr_equal(hva_of(s, PIN_GPA + 31 * PIN_BUCKET + 8),
			 base + 31 * PIN_BUCKET + 8);
	assert_int_equal(intruder[100], 0x77);

	gm_space_free(s);
	assert_int_equal(sim().foreign.live_mappings, 0);
	/* The window is released with the region (the lost place excepted,
	 * which may not be ours). */
	assert_false(range_mapped(base, PIN_BUCKET));
	assert_int_equal(intruder[100], 0x77);
	assert_int_equal(munmap(intruder, PIN_BUCKET), 0);
	intruder = NULL;
	gm_xen_close(x);
}

/*
 * Accesses to a published bucket (guestmem/backend.h) need no lookup:
 * they are served without a map call and count no hit, CLOCK still sees
 * them, and a bucket with a failed page, a write to a read-only region or
 * an evicted bucket never go that way.
 */
static void test_window_reads(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, PIN_BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, 0));
	const uint64_t nb = PIN_BUDGET / PIN_BUCKET; /* 4 */
	struct gm_xen_stats s0;
	uint64_t maps;
	uint32_t v = 0;
	int i;

	(void)state;
	guest_fill(0, PIN_PAGES);
	touch_buckets(s, 0, nb - 1);
	s0 = xstats(x);
	maps = sim().calls[XENSIM_FN_FMEM_MAP2];
	/* Reads and writes all over the mapped buckets, never twice in a
	 * row in one (which would use the thread's cached bucket). */
	for (i = 0; i < 64; i++) {
		uint64_t off = (uint64_t)(i % nb) * PIN_BUCKET + (i / nb) * 64;

		assert_int_equal(gm_read_u32(s, PIN_GPA + off, &v), 0);
		assert_int_equal(v, pattern(off / PAGE, off % PAGE));
	}
	assert_int_equal(gm_write_u32(s, PIN_GPA + 2 * PIN_BUCKET + 12, 0x5a5a),
			 0);
	assert_int_equal(guest_u32(2 * PIN_BUCKET / PAGE, 12), 0x5a5a);
	assert_int_equal(gm_read_u32(s, PIN_GPA + 8, &v), 0);
	assert_int_equal(xstats(x).hits, s0.hits);
	assert_int_equal(xstats(x).map_calls, s0.map_calls);
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_MAP2], maps);

	/* CLOCK: buckets 0-3 mapped, all used.  Mapping bucket 4 clears
	 * every used bit and evicts bucket 0; the hand stops at bucket 1.
	 * A read of bucket 1 through the window marks it used again, so
	 * mapping bucket 5 passes it and evicts bucket 2. */
	assert_int_equal(gm_xen_invalidate(x), 0);
	touch_buckets(s, 0, nb);
	touch_buckets(s, 1, 1);
	touch_buckets(s, nb + 1, nb + 1);
	maps = sim().calls[XENSIM_FN_FMEM_MAP2];
	touch_buckets(s, 1, 1);
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_MAP2], maps);
	touch_buckets(s, 2, 2);
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_MAP2], maps + 1);

	/* Evicted: the next read maps again. */
	touch_buckets(s, 10, 10 + nb);
	maps = sim().calls[XENSIM_FN_FMEM_MAP2];
	touch_buckets(s, 2, 2);
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_MAP2], maps + 1);

	/* A bucket with a failed page goes through the cache every time:
	 * its good pages count hits, and the bad page fails each time. */
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_int_equal(xensim_frame_set_error(DOMID, 1, -EINVAL, -1), 0);
	assert_int_equal(gm_read_u32(s, PIN_GPA + 8, &v), 0);
	s0 = xstats(x);
	for (i = 0; i < 3; i++) {
		assert_int_equal(gm_read_u32(s, PIN_GPA + 2 * PAGE + 8, &v), 0);
		assert_int_equal(v, pattern(2, 8));
		assert_int_equal(gm_read_u32(s, PIN_GPA + PAGE + 8, &v),
				 -EINVAL);
	}
	assert_int_equal(xstats(x).hits, s0.hits + 6);
	assert_int_equal(xstats(x).map_calls, s0.map_calls);
	gm_space_free(s);

	/* A read-only region: its buckets serve reads only, in the window
	 * and in the thread's cached bucket alike. */
	s = space_with(foreign(x, DOMID, PIN_GPA, PIN_PAGES, 0, GM_XEN_RDONLY));
	for (i = 0; i < 3; i++) {
		assert_int_equal(gm_read_u32(s, PIN_GPA + 9 * PAGE + 8, &v), 0);
		assert_int_equal(v, pattern(9, 8));
		assert_int_equal(gm_write_u32(s, PIN_GPA + 9 * PAGE + 8, 1),
				 -EACCES);
		assert_int_equal(guest_u32(9, 8), pattern(9, 8));
	}
	gm_space_free(s);
	assert_int_equal(sim().foreign.live_mappings, 0);
	gm_xen_close(x);
}

/* Mappings larger than the backend's on-stack arrays, and a region that
 * ends in a partial bucket. */
static void test_large_and_partial(void **state)
{
	struct gm_xen *x = xen_open(PIN_BUCKET, MiB(1));
	uint32_t ref = share(1000, 100, 1);
	struct gm_space *s =
		space_with(foreign(x, DOMID, PIN_GPA, 512, 0, 0));
	const uint64_t g = 0x70000000, tail = 0x60000000;
	struct xensim_counters c0;
	struct gm_xen_stats s0;
	struct gm_view v;
	uint32_t val = 0;
	unsigned int p;

	(void)state;
	assert_int_equal(gm_space_add_region(s, grant(x, g, ref, 100, 0)), 0);
	assert_int_equal(gm_space_add_region(s, foreign(x, DOMID, tail, 5, 600,
							0)),
			 0);
	guest_fill(0, 512);
	guest_fill(600, 5);
	guest_fill(1000, 100);

	/* 100 foreign pages across buckets: one call, 100 frames. */
	s0 = xstats(x);
	assert_int_equal(gm_view_get(s, PIN_GPA + 3 * PAGE, 100 * PAGE,
				     GM_PROT_READ, &v),
			 0);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	assert_int_equal(xstats(x).pages_mapped, s0.pages_mapped + 100);
	for (p = 0; p < 100; p++) {
		assert_int_equal(gm_view_read_u32(&v, PIN_GPA + (3 + p) * PAGE +
							     12,
						  &val),
				 0);
		assert_int_equal(val, pattern(3 + p, 12));
	}
	gm_view_put(&v);

	/* 100 grant refs in one call. */
	s0 = xstats(x);
	c0 = sim();
	assert_int_equal(gm_view_get(s, g, 100 * PAGE, GM_PROT_READ, &v), 0);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	assert_int_equal(sim().grant.total_pages, c0.grant.total_pages + 100);
	for (p = 0; p < 100; p++) {
		assert_int_equal(gm_view_read_u32(&v, g + p * PAGE + 8, &val),
				 0);
		assert_int_equal(val, pattern(1000 + p, 8));
	}
	gm_view_put(&v);

	/* A 5-page region with 4-page buckets: the second bucket is one
	 * page. */
	s0 = xstats(x);
	assert_int_equal(gm_read_u32(s, tail + 4 * PAGE + 4, &val), 0);
	assert_int_equal(val, pattern(604, 4));
	assert_int_equal(xstats(x).pages_mapped, s0.pages_mapped + 1);
	assert_int_equal(gm_read_u32(s, tail + 4, &val), 0);
	assert_int_equal(val, pattern(600, 4));
	assert_int_equal(xstats(x).pages_mapped, s0.pages_mapped + 5);
	assert_int_equal(gm_read_u32(s, tail + 5 * PAGE - 4, &val), 0);
	assert_int_equal(gm_read_u32(s, tail + 5 * PAGE - 2, &val), -EFAULT);

	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_foreign_read_maps_one_bucket),
		XEN_TEST(test_thread_cache_invalidated),
		XEN_TEST(test_thread_cache_evicted),
		XEN_TEST(test_window_placement),
		XEN_TEST(test_window_reads),
		XEN_TEST(test_large_and_partial),
	};

	return cmocka_run_group_tests_name("xen-foreign", tests, NULL, NULL);
}
