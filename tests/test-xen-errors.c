/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every failure of the (simulated) Xen libraries turns into, on the
 * simulator (tests/xensim): frames Xen refuses, map calls that fail as a
 * whole, paged-out frames and their retries, a domain that does not
 * exist, and eager regions with refused frames.  Each fails exactly the
 * accesses that touch it, with its errno and the address where the
 * access stopped, and nothing else.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind: the teardown (tests/xen-fixture.c) fails the test
 * if xensim_reset() finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include "xen-fixture.h"

/* ------------------------------------------------------------------ */
/* Injected faults                                                     */
/* ------------------------------------------------------------------ */

/* A frame Xen refuses fails the accesses that touch it, with its errno
 * and address, and nothing else. */
static void frame_error(int err)
{
	struct gm_xen *x = xen_open(F_BUCKET, MiB(1));
	struct gm_space *s =
		space_with(foreign(x, DOMID, F_GPA, F_PAGES, F_GFN, 0));
	const uint64_t bad = F_GPA + 5 * PAGE; /* bucket 1: pages 4-7 */
	struct gm_xen_stats s0;
	struct gm_lease *l = NULL;
	struct gm_view v;
	uint8_t buf[3 * PAGE];
	uint32_t val = 0;

	guest_fill(F_GFN, F_PAGES);
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 5, err, -1), 0);
	s0 = xstats(x);
	assert_int_equal(gm_read_u32(s, bad + 8, &val), err);
	expect_msg("read", bad + 8, 4, bad + 8, "xen-foreign");
	assert_int_equal(xstats(x).failures, s0.failures + 1);

	/* The rest of the bucket maps (in the same call) and reads. */
	assert_int_equal(gm_read_u32(s, bad - PAGE + 8, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 4, 8));
	assert_int_equal(gm_read_u32(s, bad + PAGE + 8, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 6, 8));
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);

	/* Ranges stop exactly at the bad page. */
	assert_int_equal(gm_read(s, bad - PAGE, buf, sizeof(buf)), err);
	expect_msg("read", bad - PAGE, sizeof(buf), bad, "xen-foreign");
	assert_int_equal(gm_read_partial(s, bad - PAGE + 100, buf, 2 * PAGE),
			 PAGE - 100);
	assert_int_equal(gm_write_u64(s, bad - 4, 0), err);
	expect_msg("write", bad - 4, 8, bad, "xen-foreign");
	assert_int_equal(gm_atomic_load_u32(s, bad + 12, &val, GM_RELAXED),
			 err);
	assert_int_equal(gm_view_get(s, bad, 8, GM_PROT_READ, &v), err);
	expect_msg(NULL, bad, 8, bad, NULL);
	assert_int_equal(gm_lease_get(s, bad - 50, 100, GM_PROT_READ, &l), err);
	assert_null(l);
	/* A view across buckets gets its own mapping: same result. */
	assert_int_equal(gm_view_get(s, bad - 2 * PAGE, 4 * PAGE,
				     GM_PROT_READ, &v),
			 err);
	expect_msg(NULL, bad - 2 * PAGE, 4 * PAGE, bad, NULL);

	/* Everything else works. */
	assert_int_equal(gm_write_u32(s, F_GPA + 40 * PAGE, 0x11223344), 0);
	assert_int_equal(guest_u32(F_GFN + 40, 0), 0x11223344);
	assert_int_equal(gm_read(s, F_GPA, buf, 4 * PAGE < sizeof(buf) ?
						 4 * PAGE : sizeof(buf)),
			 0);

	/* The refusal is remembered until invalidation, then retried. */
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 5, 0, 0), 0);
	assert_int_equal(gm_read_u32(s, bad + 8, &val), err);
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_int_equal(gm_read_u32(s, bad + 8, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 5, 8));

	gm_space_free(s);
	gm_xen_close(x);
}

/*
 * A view inside one bucket over a refused frame that is not its first
 * page fails with that frame's errno, naming it, as a view across buckets
 * and the eager backend do (backend.h: with GM_MAP_WHOLE "the backend
 * must map the whole range contiguously or fail").
 */
static void test_view_over_bad_page(void **state)
{
	struct gm_xen *x = xen_open(F_BUCKET, MiB(1));
	struct gm_space *s =
		space_with(foreign(x, DOMID, F_GPA, F_PAGES, F_GFN, 0));
	const uint64_t bad = F_GPA + 5 * PAGE; /* bucket 1: pages 4-7 */
	char msg[2][256];
	struct gm_view v;
	uint32_t val = 0;
	int ret[3];

	(void)state;
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 5, -EINVAL, -1),
			 0);
	/* First as a miss, then as a hit of the cached bucket.  Release
	 * everything before asserting, so that a failure leaks nothing. */
	ret[0] = gm_view_get(s, bad - PAGE, 3 * PAGE, GM_PROT_READ, &v);
	snprintf(msg[0], sizeof(msg[0]), "%s", gm_last_error());
	if (ret[0] == 0)
		gm_view_put(&v);
	ret[1] = gm_read_u32(s, bad - PAGE, &val);
	ret[2] = gm_view_get(s, bad - 8, 16, GM_PROT_READ, &v);
	snprintf(msg[1], sizeof(msg[1]), "%s", gm_last_error());
	if (ret[2] == 0)
		gm_view_put(&v);
	gm_space_free(s);
	gm_xen_close(x);

	if (ret[0] != -EINVAL || ret[2] != -EINVAL)
		fail_msg("views over a bad page gave %d (%s) and %d (%s), "
			 "expected %d",
			 ret[0], msg[0], ret[2], msg[1], -EINVAL);
	assert_int_equal(ret[1], 0);
}

static void test_frame_error_einval(void **state)
{
	(void)state;
	frame_error(-EINVAL);
}

static void test_frame_error_eperm(void **state)
{
	(void)state;
	frame_error(-EPERM);
}

/* A map call that fails as a whole fails the access with its errno; the
 * next access maps normally. */
static void whole_map_failure(int err)
{
	struct gm_xen *x = xen_open(F_BUCKET, MiB(1));
	uint32_t ref = share(F_GFN, 4, 1), val = 0;
	struct gm_space *s =
		space_with(foreign(x, DOMID, F_GPA, F_PAGES, F_GFN, 0));
	const uint64_t g = 0x10000000, a = F_GPA + 9 * PAGE + 4;
	struct gm_xen_stats s0;

	assert_int_equal(gm_space_add_region(s, grant(x, g, ref, 4, 0)), 0);
	guest_fill(F_GFN, F_PAGES);
	s0 = xstats(x);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, err), 0);
	assert_int_equal(gm_read_u32(s, a, &val), -err);
	expect_msg("read", a, 4, a, "xen-foreign");
	assert_int_equal(xstats(x).failures, s0.failures + 1);
	assert_int_equal(sim().foreign.live_mappings, 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	assert_int_equal(gm_read_u32(s, a, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 9, 4));

	assert_int_equal(xensim_inject(XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS, 0,
				       1, err),
			 0);
	assert_int_equal(gm_write_u32(s, g + PAGE + 8, 9), -err);
	expect_msg("write", g + PAGE + 8, 4, g + PAGE + 8, "xen-grant");
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(gm_write_u32(s, g + PAGE + 8, 9), 0);
	assert_int_equal(guest_u32(F_GFN + 1, 8), 9);

	gm_space_free(s);
	gm_xen_close(x);
}

static void test_whole_map_enomem(void **state)
{
	(void)state;
	whole_map_failure(ENOMEM);
}

static void test_whole_map_efault(void **state)
{
	(void)state;
	whole_map_failure(EFAULT);
}

/* Paged-out frames are retried up to enoent_retries times. */
static void test_paged_out(void **state)
{
	struct gm_xen_options o = { .bucket_size = F_BUCKET,
				    .cache_bytes = MiB(1),
				    .enoent_retries = 3 };
	struct gm_xen *x = NULL;
	struct gm_space *s;
	struct gm_xen_stats s0, st;
	struct gm_region_info info;
	uint32_t val = 0;
	const uint64_t a = F_GPA + 2 * PAGE + 16, b = F_GPA + 9 * PAGE + 16;

	(void)state;
	assert_int_equal(gm_xen_open(&x, &o), 0);
	s = space_with(foreign(x, DOMID, F_GPA, F_PAGES, F_GFN, 0));
	guest_fill(F_GFN, F_PAGES);

	/* Twice paged out, then in: the access succeeds after 2 retries. */
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 2, -ENOENT, 2),
			 0);
	s0 = xstats(x);
	assert_int_equal(gm_read_u32(s, a, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 2, 16));
	st = xstats(x);
	assert_int_equal(st.retries, s0.retries + 2);
	assert_int_equal(st.map_calls, s0.map_calls + 3);
	/* In the window, each retry maps over the last try (MAP_FIXED). */
	assert_int_equal(st.unmap_calls, s0.unmap_calls);
	assert_int_equal(sim().foreign.live_mappings, 1);

	/* Three retries are not enough for four failures: -ENOENT. */
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 9, -ENOENT, 4),
			 0);
	s0 = xstats(x);
	assert_int_equal(gm_read_u32(s, b, &val), -ENOENT);
	expect_msg("read", b, 4, b, "xen-foreign");
	st = xstats(x);
	assert_int_equal(st.retries, s0.retries + 3);
	assert_int_equal(st.map_calls, s0.map_calls + 4);
	/* The rest of that bucket is fine. */
	assert_int_equal(gm_read_u32(s, b + PAGE, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 10, 16));
	gm_space_free(s);

	/* Eager regions retry too, and stay persistent when it works. */
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 2, -ENOENT, 3),
			 0);
	s = space_with(foreign(x, DOMID, F_GPA, 8, F_GFN, GM_XEN_EAGER));
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.mapped, 1);
	assert_int_equal(gm_read_u32(s, a, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 2, 16));
	gm_space_free(s);

	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 2, -ENOENT, 5),
			 0);
	s = space_with(foreign(x, DOMID, F_GPA, 8, F_GFN, GM_XEN_EAGER));
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.mapped, 0);
	assert_int_equal(gm_read_u32(s, a, &val), -ENOENT);
	expect_msg("read", a, 4, a, "xen-foreign");
	assert_int_equal(gm_read_u32(s, a + PAGE, &val), 0);
	assert_int_equal(val, pattern(F_GFN + 3, 16));
	gm_space_free(s);

	assert_int_equal(sim().foreign.live_mappings, 0);
	gm_xen_close(x);
}

/*
 * A frame that stayed paged out through every retry fails that access
 * with -ENOENT; once Xen has paged it back in, a later access must get
 * the data.  -ENOENT is a transient state ("try again"), not a refusal:
 * remembering it in the cache would fail the page until the bucket
 * happens to be evicted or the context invalidated.
 */
static void test_paged_out_retried_later(void **state)
{
	struct gm_xen_options o = { .bucket_size = F_BUCKET,
				    .cache_bytes = MiB(1),
				    .enoent_retries = 1 };
	const uint64_t a = F_GPA + 6 * PAGE + 16;
	struct gm_xen *x = NULL;
	struct gm_space *s;
	uint32_t val = 0;
	int ret[2];

	(void)state;
	assert_int_equal(gm_xen_open(&x, &o), 0);
	s = space_with(foreign(x, DOMID, F_GPA, F_PAGES, F_GFN, 0));
	guest_fill(F_GFN, F_PAGES);
	/* Two attempts (the first and one retry) see it paged out. */
	assert_int_equal(xensim_frame_set_error(DOMID, F_GFN + 6, -ENOENT, 2),
			 0);
	ret[0] = gm_read_u32(s, a, &val);
	/* Paged in now. */
	ret[1] = gm_read_u32(s, a, &val);
	gm_space_free(s);
	gm_xen_close(x);

	assert_int_equal(ret[0], -ENOENT);
	assert_int_equal(ret[1], 0);
	assert_int_equal(val, pattern(F_GFN + 6, 16));
}

/* A domain that does not exist: -ESRCH for every frame, and for a space
 * over all of its memory. */
static void test_no_such_domain(void **state)
{
	struct gm_xen *x = xen_open(F_BUCKET, MiB(1));
	struct gm_space *s, *d = (struct gm_space *)&d;
	uint32_t val = 0;

	(void)state;
	s = space_with(foreign(x, NODOM, F_GPA, F_PAGES, 0, 0));
	assert_int_equal(gm_read_u32(s, F_GPA + PAGE + 4, &val), -ESRCH);
	expect_msg("read", F_GPA + PAGE + 4, 4, F_GPA + PAGE + 4,
		   "xen-foreign");
	assert_int_equal(gm_write_u32(s, F_GPA + 40 * PAGE, 1), -ESRCH);
	assert_true(sim().page_errors > 0);
	gm_space_free(s);

	assert_int_equal(gm_xen_space_open_domain(x, NODOM, 0, &d), -ESRCH);
	assert_null(d);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

/*
 * xen.h: an eager region's creation fails with "the errno of the map call,
 * e.g. -ESRCH for a domain that does not exist".  Xen reports a missing
 * domain per page (privcmd fills err[] with -ESRCH and the call succeeds),
 * so a region none of whose frames exist must still be refused.
 */
static void test_eager_no_such_domain(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_region *r = (struct gm_region *)&r;
	int ret;

	(void)state;
	ret = gm_xen_foreign_region_new(x, NODOM, 0, 16 * PAGE, 0,
					GM_XEN_EAGER, &r);
	if (ret == 0)
		gm_region_destroy(r);
	gm_xen_close(x);
	assert_int_equal(ret, -ESRCH);
	assert_int_equal(sim().all.live_mappings, 0);
}

/*
 * An eager region with refused frames is not persistent: its good pages
 * work, its bad pages fail with their own errno, and partial reads stop
 * exactly at the first bad page.
 */
static void test_eager_bad_frames(void **state)
{
	struct gm_xen_options o = { .eager_chunk = 4 };
	const uint64_t gpa = 0x200000, gfn = 300;
	struct gm_region_info info;
	struct gm_xen *x = NULL;
	struct gm_region *r = (struct gm_region *)&r;
	struct gm_space *s;
	struct gm_view v;
	uint8_t buf[16 * PAGE];
	uint32_t val = 0;
	unsigned int p;

	(void)state;
	assert_int_equal(gm_xen_open(&x, &o), 0);
	guest_fill(gfn, 16);
	assert_int_equal(xensim_frame_set_error(DOMID, gfn + 3, -EINVAL, -1),
			 0);
	assert_int_equal(xensim_frame_set_error(DOMID, gfn + 9, -EPERM, -1),
			 0);
	s = space_with(foreign(x, DOMID, gpa, 16, gfn, GM_XEN_EAGER));
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_MAP2], 4);
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.gpa, gpa);
	assert_int_equal(info.size, 16 * PAGE);
	assert_int_equal(info.mapped, 0);
	assert_string_equal(info.backend, "xen-foreign");

	for (p = 0; p < 16; p++) {
		int want = p == 3 ? -EINVAL : p == 9 ? -EPERM : 0;

		assert_int_equal(gm_read_u32(s, gpa + p * PAGE + 20, &val),
				 want);
		if (want)
			expect_msg("read", gpa + p * PAGE + 20, 4,
				   gpa + p * PAGE + 20, "xen-foreign");
		else
			assert_int_equal(val, pattern(gfn + p, 20));
	}
	assert_int_equal(gm_write_u32(s, gpa + 8 * PAGE, 0x77), 0);
	assert_int_equal(guest_u32(gfn + 8, 0), 0x77);
	assert_int_equal(gm_write_u32(s, gpa + 9 * PAGE, 0x77), -EPERM);

	assert_int_equal(gm_read_partial(s, gpa + 100, buf, sizeof(buf)),
			 3 * PAGE - 100);
	assert_int_equal(gm_read_partial(s, gpa + 4 * PAGE, buf, 8 * PAGE),
			 5 * PAGE);
	assert_int_equal(gm_read(s, gpa + 4 * PAGE, buf, 8 * PAGE), -EPERM);
	expect_msg("read", gpa + 4 * PAGE, 8 * PAGE, gpa + 9 * PAGE,
		   "xen-foreign");
	assert_int_equal(gm_view_get(s, gpa + 2 * PAGE, 2 * PAGE, GM_PROT_READ,
				     &v),
			 -EINVAL);
	expect_msg(NULL, gpa + 2 * PAGE, 2 * PAGE, gpa + 3 * PAGE, NULL);
	assert_int_equal(gm_view_get(s, gpa + 4 * PAGE, 5 * PAGE, GM_PROT_READ,
				     &v),
			 0);
	assert_int_equal(gm_view_read_u32(&v, gpa + 8 * PAGE, &val), 0);
	assert_int_equal(val, 0x77);
	gm_view_put(&v);
	gm_space_free(s);

	/* Without bad frames the region is persistent. */
	xensim_inject_clear();
	s = space_with(foreign(x, DOMID, gpa, 16, gfn, GM_XEN_EAGER));
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.mapped, 1);
	gm_space_free(s);

	/* A chunk's map call failing as a whole fails the creation and
	 * releases the chunks mapped before it. */
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 2, 1, EFAULT), 0);
	assert_int_equal(gm_xen_foreign_region_new(x, DOMID, gpa, 16 * PAGE,
						   gfn, GM_XEN_EAGER, &r),
			 -EFAULT);
	assert_null(r);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_frame_error_einval),
		XEN_TEST(test_view_over_bad_page),
		XEN_TEST(test_frame_error_eperm),
		XEN_TEST(test_whole_map_enomem),
		XEN_TEST(test_whole_map_efault),
		XEN_TEST(test_paged_out),
		XEN_TEST(test_paged_out_retried_later),
		XEN_TEST(test_no_such_domain),
		XEN_TEST(test_eager_no_such_domain),
		XEN_TEST(test_eager_bad_frames),
	};

	return cmocka_run_group_tests_name("xen-errors", tests, NULL, NULL);
}
