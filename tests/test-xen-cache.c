/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Edges of the Xen backend's mapping cache, on the simulator
 * (tests/xensim), that the other tests/test-xen-*.c programs do not reach
 * deterministically.
 *
 * As in those, each test starts from a fresh simulator with one domain,
 * DOMID, and the teardown (tests/xen-fixture.c) fails it if
 * xensim_reset() finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <unistd.h>

#include "xen-fixture.h"

#define BUCKET (4 * PAGE)  /* the bucket size of every context here */
#define BUDGET (1u << 20)

/* ------------------------------------------------------------------ */
/* The end of a region whose last bucket is partial                    */
/* ------------------------------------------------------------------ */

#define E_PAGES 5u /* a full bucket, then one of a single page */
#define E_GPA 0x123000ull
#define E_GFN 100u
#define E_NEXT_GFN 300u /* the region right after */
#define E_NEXT_PAGES 8u
#define E_HOLE_GPA 0x7000000ull /* nothing after this one */
#define E_HOLE_GFN 500u

/* The guest's bytes at [gpa, gpa + n) of the region at @rgpa (frames from
 * @gfn) are in @got. */
static void expect_bytes(const uint8_t *got, uint64_t rgpa, uint64_t gfn,
			 uint64_t gpa, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t o = gpa + i - rgpa;
		uint8_t want = *gframe(gfn + o / PAGE, o % PAGE);

		if (got[i] != want)
			fail_msg("byte %zu of the access at 0x%" PRIx64
				 " is 0x%02x, the guest has 0x%02x",
				 i, gpa, got[i], want);
	}
}

/*
 * Reads in a row inside the last page of the region at @rgpa: the first
 * may map its bucket, the next ones go through the window or the cache,
 * and the third makes the bucket the thread's cached range (access.c,
 * od_fill()).
 */
static void cache_last_page(struct gm_space *s, uint64_t rgpa, uint64_t gfn)
{
	const uint64_t last = rgpa + E_PAGES * PAGE - 1;
	uint8_t b[4];
	int i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(gm_read(s, last - 40 - i, b, sizeof(b)), 0);
		expect_bytes(b, rgpa, gfn, last - 40 - i, sizeof(b));
	}
	assert_int_equal(gm_read_u8(s, last, &b[0]), 0);
	expect_bytes(b, rgpa, gfn, last, 1);
}

/*
 * Map a readable page at @at if that address is free, so that a read past
 * the mapping before it returns its bytes (0xee) instead of faulting.
 * Returns it, or NULL.
 */
static uint8_t *mark_at(uint8_t *at)
{
	uint8_t *p = mmap(at, PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);

	if (p != at) {
		if (p != MAP_FAILED)
			munmap(p, PAGE);
		return NULL;
	}
	memset(p, 0xee, PAGE);
	return p;
}

static void unmark(uint8_t *p)
{
	if (p) {
		assert_int_equal(p[0], 0xee);
		assert_int_equal(munmap(p, PAGE), 0);
	}
}

/* Accesses at and across the end of the region at @rgpa (frames from
 * @gfn), right after which the region from @next_gfn starts, each after
 * the thread cached a translation inside the last page. */
static void probe_next(struct gm_space *s, uint64_t rgpa, uint64_t gfn,
		       uint64_t next_gfn)
{
	const uint64_t end = rgpa + E_PAGES * PAGE;
	uint8_t buf[16], want[4];
	uint32_t v32 = 0;
	uint64_t v64 = 0;
	size_t n;

	for (n = 1; n <= 8; n *= 2) {
		/* At the end, in the next region. */
		cache_last_page(s, rgpa, gfn);
		assert_int_equal(gm_read(s, end, buf, n), 0);
		expect_bytes(buf, end, next_gfn, end, n);
		/* Across it: the last n/2 bytes are the next region's. */
		if (n < 2)
			continue;
		cache_last_page(s, rgpa, gfn);
		assert_int_equal(gm_read(s, end - n / 2, buf, n), 0);
		expect_bytes(buf, rgpa, gfn, end - n / 2, n / 2);
		expect_bytes(buf + n / 2, end, next_gfn, end, n / 2);
	}
	cache_last_page(s, rgpa, gfn);
	assert_int_equal(gm_read_u32(s, end - 2, &v32), 0);
	expect_bytes((uint8_t *)&v32, rgpa, gfn, end - 2, 2);
	expect_bytes((uint8_t *)&v32 + 2, end, next_gfn, end, 2);
	cache_last_page(s, rgpa, gfn);
	assert_int_equal(gm_read_u64(s, end, &v64), 0);
	expect_bytes((uint8_t *)&v64, end, next_gfn, end, 8);
	/* A write across the end lands in both regions' frames. */
	cache_last_page(s, rgpa, gfn);
	v32 = 0x44332211 ^ (uint32_t)gfn;
	memcpy(want, &v32, 4);
	assert_int_equal(gm_write_u32(s, end - 1, v32), 0);
	assert_int_equal(*gframe(gfn + E_PAGES - 1, PAGE - 1), want[0]);
	assert_memory_equal(gframe(next_gfn, 0), want + 1, 3);
}

/* The same where nothing follows the region: -EFAULT at its end. */
static void probe_hole(struct gm_space *s, uint64_t rgpa, uint64_t gfn)
{
	const uint64_t end = rgpa + E_PAGES * PAGE;
	uint8_t buf[16], keep[2];
	uint32_t v32 = 0;

	cache_last_page(s, rgpa, gfn);
	assert_int_equal(gm_read_u8(s, end, buf), -EFAULT);
	expect_msg(NULL, end, 1, end, NULL);
	cache_last_page(s, rgpa, gfn);
	assert_int_equal(gm_read_u32(s, end - 2, &v32), -EFAULT);
	expect_msg(NULL, end - 2, 4, end, NULL);
	cache_last_page(s, rgpa, gfn);
	assert_int_equal(gm_read(s, end - 8, buf, 16), -EFAULT);
	expect_msg(NULL, end - 8, 16, end, NULL);
	cache_last_page(s, rgpa, gfn);
	memcpy(keep, gframe(gfn + E_PAGES - 1, PAGE - 2), 2);
	assert_int_equal(gm_write_u32(s, end - 2, 0), -EFAULT);
	expect_msg(NULL, end - 2, 4, end, NULL);
	assert_memory_equal(gframe(gfn + E_PAGES - 1, PAGE - 2), keep, 2);
	cache_last_page(s, rgpa, gfn);
	assert_int_equal(gm_read_partial(s, end - 4, buf, 8), 4);
	expect_bytes(buf, rgpa, gfn, end - 4, 4);
}

/*
 * Make the last bucket of the region at @rgpa lose its window place (a map
 * there fails and leaves the reservation), so that it is mapped elsewhere
 * (and published there) instead of in the window.  Returns a mark after
 * that mapping, or NULL.
 */
static uint8_t *lose_last_place(struct gm_xen *x, struct gm_space *s,
				uint64_t rgpa)
{
	const uint64_t last = rgpa + (E_PAGES - 1) * PAGE;
	uint8_t *win = hva_of(s, rgpa), *h, b;

	assert_int_equal(gm_xen_invalidate(x), 0);
	xensim_set_fail_keeps_range(1);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u8(s, last, &b), -ENOMEM);
	xensim_set_fail_keeps_range(0);
	h = hva_of(s, last);
	assert_ptr_not_equal(h, win + (E_PAGES - 1) * PAGE);
	return mark_at(h + PAGE);
}

/*
 * A foreign region of 5 pages with buckets of 4 has a window of 5 pages
 * and a last bucket of one page.  After the thread cached a translation
 * inside that page, accesses at and just past the region's end (and
 * across it) get the next region's bytes, or -EFAULT where nothing
 * follows: never what lies past the window or past the bucket's mapping
 * (a page of 0xee there, when the address was free).  Both with the bucket
 * in its window place and mapped elsewhere.
 */
static void test_partial_bucket_end(void **state)
{
	struct gm_xen *x = xen_open(BUCKET, BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, E_GPA, E_PAGES, E_GFN, 0));
	struct gm_region *next;
	uint8_t *mark[4];
	int i;

	(void)state;
	guest_fill(E_GFN, E_PAGES);
	guest_fill(E_NEXT_GFN, E_NEXT_PAGES);
	guest_fill(E_HOLE_GFN, E_PAGES);
	/* Before the regions after it exist: the page after the window
	 * can then be no window of theirs. */
	mark[0] = mark_at(hva_of(s, E_GPA) + E_PAGES * PAGE);
	next = foreign(x, DOMID, E_GPA + E_PAGES * PAGE, E_NEXT_PAGES,
		       E_NEXT_GFN, 0);
	assert_int_equal(gm_space_add_region(s, next), 0);
	assert_int_equal(gm_space_add_region(s, foreign(x, DOMID, E_HOLE_GPA,
							E_PAGES, E_HOLE_GFN,
							0)),
			 0);
	mark[1] = mark_at(hva_of(s, E_HOLE_GPA) + E_PAGES * PAGE);

	/* The last buckets in their window places. */
	probe_next(s, E_GPA, E_GFN, E_NEXT_GFN);
	probe_hole(s, E_HOLE_GPA, E_HOLE_GFN);
	/* Mapped elsewhere. */
	mark[2] = lose_last_place(x, s, E_GPA);
	probe_next(s, E_GPA, E_GFN, E_NEXT_GFN);
	mark[3] = lose_last_place(x, s, E_HOLE_GPA);
	probe_hole(s, E_HOLE_GPA, E_HOLE_GFN);

	/* The marks were never written through. */
	for (i = 0; i < 4; i++)
		unmark(mark[i]);
	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* The largest grant refs                                              */
/* ------------------------------------------------------------------ */

/*
 * Grant ref ranges that end at UINT32_MAX are valid: first ref UINT32_MAX
 * with count 1, UINT32_MAX - 1 with count 2.  Their accesses reach Xen
 * (the simulated table is smaller, so it refuses those refs) at their
 * last byte; one more ref would wrap and is refused.
 */
static void test_grant_largest_refs(void **state)
{
	struct gm_xen *x = xen_open(BUCKET, BUDGET);
	const uint64_t g1 = 0x10000000, g2 = 0x20000000;
	struct gm_region_info info[2];
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint64_t calls;
	uint8_t b;

	(void)state;
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, g1, UINT32_MAX, 1,
						 0, &r),
			 0);
	s = space_with(r);
	r = NULL;
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, g2, UINT32_MAX - 1,
						 2, GM_XEN_RDONLY, &r),
			 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
	assert_int_equal(gm_space_get_regions(s, info, 2), 2);
	assert_int_equal(info[0].gpa, g1);
	assert_int_equal(info[0].size, PAGE);
	assert_int_equal(info[1].gpa, g2);
	assert_int_equal(info[1].size, 2 * PAGE);

	calls = sim().calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS];
	assert_int_equal(gm_read_u8(s, g1 + PAGE - 1, &b), -EINVAL);
	expect_msg(NULL, g1 + PAGE - 1, 1, g1 + PAGE - 1, NULL);
	assert_int_equal(gm_read_u8(s, g2 + 2 * PAGE - 1, &b), -EINVAL);
	expect_msg(NULL, g2 + 2 * PAGE - 1, 1, g2 + 2 * PAGE - 1, NULL);
	assert_int_equal(sim().calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			 calls + 2);
	assert_int_equal(gm_read_u8(s, g2 + 2 * PAGE, &b), -EFAULT);

	/* One more wraps. */
	r = (struct gm_region *)&r;
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, 0, UINT32_MAX, 2, 0,
						 &r),
			 -EINVAL);
	assert_null(r);
	r = (struct gm_region *)&r;
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, 0, UINT32_MAX - 1,
						 3, 0, &r),
			 -EINVAL);
	assert_null(r);

	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* A refused frame at the first page of a bucket                       */
/* ------------------------------------------------------------------ */

#define B_GPA 0x10f000ull /* shares bits with offsets in the region */
#define B_GFN 200u
#define B_PAGES 16u

/*
 * Every access that touches a refused frame fails with its errno at the
 * frame's exact first byte it touches, also when the frame is the first
 * page of a bucket (here of bucket 2, pages 8-11, and of bucket 0, the
 * region's first page); the bytes before it in the previous bucket are
 * served.  Each check runs twice: as the buckets are first mapped, and
 * then with them cached.
 */
static void bad_first_page(int err)
{
	struct gm_xen *x = xen_open(BUCKET, BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, B_GPA, B_PAGES, B_GFN, 0));
	const uint64_t bad = B_GPA + 8 * PAGE;
	struct gm_lease *l = NULL;
	uint8_t buf[64];
	struct gm_view v;
	uint32_t val = 0;
	int round;

	guest_fill(B_GFN, B_PAGES);
	assert_int_equal(xensim_frame_set_error(DOMID, B_GFN + 8, err, -1), 0);
	assert_int_equal(xensim_frame_set_error(DOMID, B_GFN, err, -1), 0);
	for (round = 0; round < 2; round++) {
		/* Starting at the frame, or inside it. */
		assert_int_equal(gm_read_u32(s, bad, &val), err);
		expect_msg(NULL, bad, 4, bad, NULL);
		assert_int_equal(gm_read_u32(s, bad + 0x6a4, &val), err);
		expect_msg(NULL, bad + 0x6a4, 4, bad + 0x6a4, NULL);
		assert_int_equal(gm_write_u32(s, bad + PAGE - 4, 1), err);
		expect_msg(NULL, bad + PAGE - 4, 4, bad + PAGE - 4, NULL);
		/* Starting in the previous bucket. */
		assert_int_equal(gm_read(s, bad - 24, buf, 64), err);
		expect_msg(NULL, bad - 24, 64, bad, NULL);
		assert_int_equal(gm_read_partial(s, bad - 24, buf, 64), 24);
		assert_memory_equal(buf, gframe(B_GFN + 7, PAGE - 24), 24);
		assert_int_equal(gm_write_u64(s, bad - 4, 0), err);
		expect_msg(NULL, bad - 4, 8, bad, NULL);
		/* Views and leases, inside the bucket or across. */
		assert_int_equal(gm_view_get(s, bad + 16, 8, GM_PROT_READ, &v),
				 err);
		expect_msg(NULL, bad + 16, 8, bad + 16, NULL);
		assert_int_equal(gm_view_get(s, bad - 2 * PAGE, 4 * PAGE,
					     GM_PROT_READ, &v),
				 err);
		expect_msg(NULL, bad - 2 * PAGE, 4 * PAGE, bad, NULL);
		assert_int_equal(gm_lease_get(s, bad - 50, 100, GM_PROT_READ,
					      &l),
				 err);
		assert_null(l);
		/* The region's first page is bucket 0's first. */
		assert_int_equal(gm_read_u32(s, B_GPA + 0x10, &val), err);
		expect_msg(NULL, B_GPA + 0x10, 4, B_GPA + 0x10, NULL);
		/* The rest of both buckets reads. */
		assert_int_equal(gm_read_u32(s, bad + PAGE, &val), 0);
		assert_memory_equal(&val, gframe(B_GFN + 9, 0), 4);
		assert_int_equal(gm_read_u32(s, B_GPA + 3 * PAGE + 8, &val), 0);
		assert_memory_equal(&val, gframe(B_GFN + 3, 8), 4);
		assert_int_equal(gm_read_u32(s, bad - 4, &val), 0);
		assert_memory_equal(&val, gframe(B_GFN + 7, PAGE - 4), 4);
	}
	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

static void test_bad_first_page_einval(void **state)
{
	(void)state;
	bad_first_page(-EINVAL);
}

static void test_bad_first_page_eperm(void **state)
{
	(void)state;
	bad_first_page(-EPERM);
}

/* ------------------------------------------------------------------ */
/* Lost window places                                                  */
/* ------------------------------------------------------------------ */

#define L_GPA 0x400000ull
#define L_PAGES 32u /* 8 buckets */

/*
 * A window place is lost when a failed map in it either left our
 * reservation (the library's mmap failed: nothing was replaced) or left a
 * hole that another mmap took.  The bucket is mapped elsewhere from then
 * on; when the region goes, the first kind is unmapped with the rest of
 * the window, and the other mmap's mapping is left alone.
 */
static void test_lost_places_released(void **state)
{
	struct gm_xen *x = xen_open(BUCKET, BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, L_GPA, L_PAGES, 0, 0));
	uint8_t *base;
	uint32_t v = 0;

	(void)state;
	guest_fill(0, L_PAGES);
	base = hva_of(s, L_GPA);

	/* Bucket 2: the failed map leaves the reservation. */
	xensim_set_fail_keeps_range(1);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u32(s, L_GPA + 2 * BUCKET + 8, &v), -ENOMEM);
	xensim_set_fail_keeps_range(0);
	assert_true(range_mapped(base + 2 * BUCKET, BUCKET));
	assert_ptr_not_equal(hva_of(s, L_GPA + 2 * BUCKET + 8),
			     base + 2 * BUCKET + 8);
	assert_int_equal(gm_read_u32(s, L_GPA + 2 * BUCKET + 8, &v), 0);
	assert_memory_equal(&v, gframe(8, 8), 4);

	/* Bucket 5: another mmap takes the hole. */
	xensim_set_hole_hook(take_hole);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u32(s, L_GPA + 5 * BUCKET + 8, &v), -ENOMEM);
	xensim_set_hole_hook(NULL);
	assert_ptr_equal(intruder, base + 5 * BUCKET);
	assert_ptr_not_equal(hva_of(s, L_GPA + 5 * BUCKET + 8),
			     base + 5 * BUCKET + 8);

	gm_space_free(s);
	assert_int_equal(sim().foreign.live_mappings, 0);
	/* Nothing of the window is left but the other mmap's. */
	assert_false(any_mapped(base, 5 * BUCKET));
	assert_false(any_mapped(base + 6 * BUCKET, 2 * BUCKET));
	assert_int_equal(intruder[100], 0x77);
	assert_int_equal(munmap(intruder, BUCKET), 0);
	intruder = NULL;
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* A reader blocked in a cache miss while its region is removed       */
/* ------------------------------------------------------------------ */

/*
 * The interleaving is forced, not raced: the reader blocks inside its map
 * call (the simulator's map hook) while the remover runs, and the reader
 * is let go once the remover has returned, or is seen waiting for a reader
 * in the space's grace period (which would be the bug).  rcu.c's wait_readers() calls sched_yield() between looks
 * at a reader still inside a section, and only then; this binary is
 * linked with --wrap=sched_yield so that the remover's yields say so.
 * (Should that wait ever stop yielding, the test hangs and alarm() fails
 * it.)
 */
static pthread_mutex_t pk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pk_cond = PTHREAD_COND_INITIALIZER;
static pthread_t pk_remover;
static int pk_armed, pk_in_map, pk_release, pk_remover_set, pk_waiting,
	pk_removed;

int __real_sched_yield(void);
int __wrap_sched_yield(void);

int __wrap_sched_yield(void)
{
	pthread_mutex_lock(&pk_lock);
	if (pk_remover_set && pthread_equal(pthread_self(), pk_remover)) {
		pk_waiting = 1;
		pthread_cond_broadcast(&pk_cond);
	}
	pthread_mutex_unlock(&pk_lock);
	return __real_sched_yield();
}

/* The map hook: the first map call once armed waits for the release. */
static void pk_hold(enum xensim_fn fn)
{
	(void)fn;
	pthread_mutex_lock(&pk_lock);
	if (pk_armed) {
		pk_armed = 0;
		pk_in_map = 1;
		pthread_cond_broadcast(&pk_cond);
		while (!pk_release)
			pthread_cond_wait(&pk_cond, &pk_lock);
	}
	pthread_mutex_unlock(&pk_lock);
}

struct pk_args {
	struct gm_space *s;
	uint64_t gpa;
	uint32_t val;
	int ret;
};

static void *pk_reader(void *p)
{
	struct pk_args *a = p;

	a->ret = gm_read_u32(a->s, a->gpa, &a->val);
	return NULL;
}

static void *pk_remove(void *p)
{
	struct pk_args *a = p;

	pthread_mutex_lock(&pk_lock);
	pk_remover = pthread_self();
	pk_remover_set = 1;
	pthread_mutex_unlock(&pk_lock);
	a->ret = gm_space_remove_region(a->s, a->gpa);
	pthread_mutex_lock(&pk_lock);
	pk_removed = 1;
	pthread_cond_broadcast(&pk_cond);
	pthread_mutex_unlock(&pk_lock);
	return NULL;
}

/*
 * A reader whose access misses the Xen cache calls the backend's map
 * outside any read-side section, holding a reference to the region
 * instead (guestmem/backend.h).  So gm_space_remove_region() does not wait
 * for a reader blocked in a backend (space writers never wait for one),
 * and the region outlives its removal until that reader's access is done:
 * the access completes with the right bytes, and the region is destroyed
 * (its mappings gone) only after that.
 */
static void test_reader_in_map_holds_region(void **state)
{
	struct gm_xen *x = xen_open(BUCKET, BUDGET);
	struct gm_space *s =
		space_with(foreign(x, DOMID, L_GPA, L_PAGES, 0, 0));
	struct pk_args rd = { .s = s, .gpa = L_GPA + 3 * BUCKET + 12 };
	struct pk_args rm = { .s = s, .gpa = L_GPA };
	pthread_t rt, wt;
	uint32_t val = 0;
	int removed_first, gone;

	(void)state;
	guest_fill(0, L_PAGES);
	pk_armed = 1;
	pk_in_map = pk_release = pk_remover_set = pk_waiting = pk_removed = 0;
	xensim_set_map_hook(pk_hold);
	alarm(60);

	assert_int_equal(pthread_create(&rt, NULL, pk_reader, &rd), 0);
	pthread_mutex_lock(&pk_lock);
	while (!pk_in_map)
		pthread_cond_wait(&pk_cond, &pk_lock);
	pthread_mutex_unlock(&pk_lock);
	assert_int_equal(pthread_create(&wt, NULL, pk_remove, &rm), 0);
	pthread_mutex_lock(&pk_lock);
	while (!pk_waiting && !pk_removed)
		pthread_cond_wait(&pk_cond, &pk_lock);
	removed_first = pk_removed;
	pk_release = 1;
	pthread_cond_broadcast(&pk_cond);
	pthread_mutex_unlock(&pk_lock);
	assert_int_equal(pthread_join(rt, NULL), 0);
	assert_int_equal(pthread_join(wt, NULL), 0);
	alarm(0);
	xensim_set_map_hook(NULL);

	gone = gm_read_u32(s, L_GPA + 8, &val);
	gm_space_free(s);
	gm_xen_close(x);
	if (!removed_first)
		fail_msg("the removal waited for a reader blocked in a map");
	assert_int_equal(rm.ret, 0);
	assert_int_equal(rd.ret, 0);
	assert_memory_equal(&rd.val, gframe(3 * BUCKET / PAGE, 12), 4);
	assert_int_equal(gone, -EFAULT);
	/* The reader's reference destroyed the region: nothing mapped. */
	assert_int_equal(sim().all.live_mappings, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_partial_bucket_end),
		T(test_grant_largest_refs),
		T(test_bad_first_page_einval),
		T(test_bad_first_page_eperm),
		T(test_lost_places_released),
		T(test_reader_in_map_holds_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
