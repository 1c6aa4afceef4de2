/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Xen backend's contexts and constructors, on the simulator
 * (tests/xensim): the arguments of the region constructors, a space over
 * a whole domain, the options of gm_xen_open(), handles that fail to
 * open, and regions that outlive gm_xen_close().
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind: the teardown (tests/xen-fixture.c) fails the test
 * if xensim_reset() finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include "xen-fixture.h"

/* ------------------------------------------------------------------ */
/* Constructor arguments                                               */
/* ------------------------------------------------------------------ */

/* Constructor arguments are checked, nothing leaks on refusal. */
static void test_region_args(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_region *r;
	struct gm_space *s;
	uint32_t ref = share(0, 2, 1);

#define FOREIGN_FAILS(err, ...)                                               \
	do {                                                                  \
		r = (struct gm_region *)&r;                                   \
		assert_int_equal(gm_xen_foreign_region_new(__VA_ARGS__, &r),  \
				 err);                                        \
		assert_null(r);                                               \
	} while (0)
#define GRANT_FAILS(err, ...)                                                 \
	do {                                                                  \
		r = (struct gm_region *)&r;                                   \
		assert_int_equal(gm_xen_grant_region_new(__VA_ARGS__, &r),    \
				 err);                                        \
		assert_null(r);                                               \
	} while (0)

	(void)state;
	FOREIGN_FAILS(-EINVAL, NULL, DOMID, 0, PAGE, 0, 0);
	FOREIGN_FAILS(-EINVAL, x, DOMID, 100, PAGE, 0, 0);
	FOREIGN_FAILS(-EINVAL, x, DOMID, 0, 100, 0, 0);
	FOREIGN_FAILS(-EINVAL, x, DOMID, 0, 0, 0, 0);
	FOREIGN_FAILS(-EINVAL, x, DOMID, 0, PAGE, 0, 0x4);
	FOREIGN_FAILS(-EOVERFLOW, x, DOMID, 0, 4 * PAGE, UINT64_MAX - 1, 0);
	FOREIGN_FAILS(-EOVERFLOW, x, DOMID, 0 - (uint64_t)PAGE, 2 * PAGE, 0,
		      0);
	FOREIGN_FAILS(-EOVERFLOW, x, DOMID, 0 - (uint64_t)PAGE, 2 * PAGE, 0,
		      GM_XEN_EAGER);
	assert_int_equal(gm_xen_foreign_region_new(x, DOMID, 0, PAGE, 0, 0,
						   NULL),
			 -EINVAL);
	GRANT_FAILS(-EINVAL, NULL, DOMID, 0, ref, 2, 0);
	GRANT_FAILS(-EINVAL, x, DOMID, 0, ref, 0, 0);
	GRANT_FAILS(-EINVAL, x, DOMID, 12, ref, 2, 0);
	GRANT_FAILS(-EINVAL, x, DOMID, 0, ref, 2, GM_XEN_EAGER);
	GRANT_FAILS(-EINVAL, x, DOMID, 0, UINT32_MAX, 2, 0);
	GRANT_FAILS(-EOVERFLOW, x, DOMID, 0 - (uint64_t)PAGE, ref, 2, 0);
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, 0, ref, 2, 0, NULL),
			 -EINVAL);
	s = (struct gm_space *)&s;
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, NULL), -EINVAL);

	/* The largest ones that fit work. */
	r = foreign(x, DOMID, 0 - (uint64_t)PAGE, 1, 0, 0);
	s = space_with(r);
	assert_int_equal(gm_write_u8(s, UINT64_MAX, 0x5a), 0);
	assert_int_equal(*gframe(0, PAGE - 1), 0x5a);
	assert_int_equal(gm_space_add_region(s, grant(x, 0 - 3 * (uint64_t)PAGE,
						      ref, 2, 0)),
			 0);
	assert_int_equal(gm_read_u8(s, 0 - 2 * (uint64_t)PAGE - 1,
				    &(uint8_t){ 0 }),
			 0);
	gm_space_free(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
	assert_int_equal(sim().open_handles, 0);
#undef FOREIGN_FAILS
#undef GRANT_FAILS
}

/* ------------------------------------------------------------------ */
/* Contexts                                                            */
/* ------------------------------------------------------------------ */

/* A space over a whole domain is sized from its highest frame. */
static void test_space_open_domain(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_region_info info;
	struct gm_space *s = NULL;
	uint32_t val = 0;

	(void)state;
	/* Default: the maximum gpfn is nr_pages - 1. */
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	assert_string_equal(gm_space_name(s), "domain-5");
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.gpa, 0);
	assert_int_equal(info.size, (uint64_t)DOM_PAGES * PAGE);
	assert_int_equal(info.mapped, 0);
	assert_string_equal(info.backend, "xen-foreign");
	guest_fill(DOM_PAGES - 1, 1);
	assert_int_equal(gm_read_u32(s, (DOM_PAGES - 1) * PAGE + 8, &val), 0);
	assert_int_equal(val, pattern(DOM_PAGES - 1, 8));
	gm_space_free(s);

	/* An HVM guest's highest frame lies above its memory: what lies
	 * between is a hole of the space, not a region's failing frames. */
	assert_int_equal(xensim_domain_set_max_gpfn(DOMID, 0x1ffff), 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, GM_XEN_RDONLY, &s),
			 0);
	assert_int_equal(gm_space_get_regions(s, &info, 2), 1);
	assert_int_equal(info.gpa, 0);
	assert_int_equal(info.size, (uint64_t)DOM_PAGES * PAGE);
	assert_int_equal(info.flags & GM_REGION_RDONLY, GM_REGION_RDONLY);
	assert_int_equal(gm_read_u32(s, 0x1ffffull * PAGE, &val), -EFAULT);
	assert_int_equal(gm_write_u32(s, 8, 1), -EACCES);
	assert_int_equal(gm_read_u32(s, 8, &val), 0);
	gm_space_free(s);

	/* Eager: mapped whole (the holes make it non-persistent). */
	assert_int_equal(xensim_domain_set_max_gpfn(DOMID, 63), 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, GM_XEN_EAGER, &s),
			 0);
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.size, 64ull * PAGE);
	assert_int_equal(info.mapped, 1);
	gm_space_free(s);

	/* libxenctrl failures come back as their errno. */
	assert_int_equal(xensim_inject(XENSIM_FN_XC_DOMAIN_GETINFOLIST, 0, 1,
				       EPERM),
			 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), -EPERM);
	assert_null(s);
	assert_int_equal(xensim_inject(XENSIM_FN_XC_DOMAIN_MAXIMUM_GPFN, 0, 1,
				       EACCES),
			 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), -EACCES);
	assert_null(s);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0x100, &s),
			 -EINVAL);
	assert_int_equal(gm_xen_space_open_domain(NULL, DOMID, 0, &s),
			 -EINVAL);
	gm_xen_close(x);
}

/* Bad options are refused before any handle is opened. */
static void test_open_options(void **state)
{
	static const struct gm_xen_options bad[] = {
		{ .bucket_size = 3 * 4096 },
		{ .bucket_size = 2048 },
		{ .bucket_size = 1 },
		{ .bucket_size = KiB(64), .cache_bytes = KiB(32) },
		{ .cache_bytes = 4096 }, /* below the default bucket */
		{ .reserved = { 1 } },
		{ .reserved = { 0, 0, 1 } },
		{ .reserved0 = 1 },
	};
	struct gm_xen *x;
	struct gm_xen_stats st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = (struct gm_xen *)&x;
		assert_int_equal(gm_xen_open(&x, &bad[i]), -EINVAL);
		assert_null(x);
	}
	assert_int_equal(gm_xen_open(NULL, NULL), -EINVAL);
	assert_int_equal(sim().calls[XENSIM_FN_FMEM_OPEN], 0);
	assert_int_equal(sim().open_handles, 0);

	/* The smallest legal cache: one page-sized bucket. */
	x = xen_open(4096, 4096);
	gm_xen_close(x);
	assert_int_equal(gm_xen_get_stats(NULL, &st), -EINVAL);
	gm_xen_close(NULL);
	assert_int_equal(sim().open_handles, 0);
}

/* Failing to open a handle: the required one fails gm_xen_open(), the
 * optional ones fail only what needs them.  Nothing leaks. */
static void test_open_handle_failures(void **state)
{
	struct gm_xen *x = (struct gm_xen *)&x;
	struct gm_region *r = (struct gm_region *)&r;
	struct gm_space *s = (struct gm_space *)&s;
	uint32_t val = 0;

	(void)state;
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_OPEN, 0, 1, ENOENT), 0);
	assert_int_equal(gm_xen_open(&x, NULL), -ENOENT);
	assert_null(x);
	assert_int_equal(sim().open_handles, 0);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_OPEN, 0, 1, EACCES), 0);
	assert_int_equal(gm_xen_open(&x, NULL), -EACCES);
	assert_int_equal(sim().open_handles, 0);

	/* No gntdev: grant regions fail with its errno, foreign ones work. */
	assert_int_equal(xensim_inject(XENSIM_FN_GNT_OPEN, 0, 1, ENOENT), 0);
	assert_int_equal(gm_xen_open(&x, NULL), 0);
	assert_int_equal(sim().open_handles, 2);
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, 0, 8, 1, 0, &r),
			 -ENOENT);
	assert_null(r);
	s = space_with(foreign(x, DOMID, 0, 4, 0, 0));
	assert_int_equal(gm_read_u32(s, 8, &val), 0);
	gm_space_free(s);
	gm_xen_close(x);
	assert_int_equal(sim().open_handles, 0);

	/* No libxenctrl: only gm_xen_space_open_domain() needs it. */
	assert_int_equal(xensim_inject(XENSIM_FN_XC_OPEN, 0, 1, EACCES), 0);
	assert_int_equal(gm_xen_open(&x, NULL), 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), -EACCES);
	assert_null(s);
	s = space_with(foreign(x, DOMID, 0, 4, 0, 0));
	assert_int_equal(gm_read_u32(s, 8, &val), 0);
	gm_space_free(s);
	gm_xen_close(x);
	assert_int_equal(sim().open_handles, 0);
}

/* Regions keep their context alive after gm_xen_close(); the handles
 * close with the last region. */
static void test_context_outlives_close(void **state)
{
	struct gm_xen *x = xen_open(F_BUCKET, KiB(64));
	uint32_t ref = share(10, 4, 1), val = 0;
	struct gm_region *spare = foreign(x, DOMID, 0, 4, 0, 0);
	struct gm_space *s = space_with(foreign(x, DOMID, 0, 64, 0, 0));
	struct gm_view v;

	(void)state;
	assert_int_equal(gm_space_add_region(s, grant(x, 0x100000, ref, 4, 0)),
			 0);
	guest_fill(0, 64);
	gm_xen_close(x);
	assert_int_equal(sim().open_handles, 3);

	/* Everything still maps, evicts and unmaps. */
	assert_int_equal(gm_read_u32(s, 20 * PAGE + 4, &val), 0);
	assert_int_equal(val, pattern(20, 4));
	assert_int_equal(gm_write_u32(s, 0x100000 + 2 * PAGE, 0x99), 0);
	assert_int_equal(guest_u32(12, 0), 0x99);
	assert_int_equal(gm_view_get(s, 40 * PAGE, 64, GM_PROT_READ, &v), 0);
	assert_int_equal(gm_read(s, 0, (uint8_t[64 * PAGE]){ 0 }, 64 * PAGE),
			 0);
	assert_int_equal(gm_view_read_u32(&v, 40 * PAGE + 4, &val), 0);
	assert_int_equal(val, pattern(40, 4));

	gm_region_destroy(spare);
	gm_space_free(s);
	assert_int_equal(sim().open_handles, 3); /* the view holds it */
	gm_view_put(&v);
	assert_int_equal(sim().open_handles, 0);
	assert_int_equal(sim().all.live_mappings, 0);
}

/* ------------------------------------------------------------------ */

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_region_args),
		XEN_TEST(test_space_open_domain),
		XEN_TEST(test_open_options),
		XEN_TEST(test_open_handle_failures),
		XEN_TEST(test_context_outlives_close),
	};

	return cmocka_run_group_tests_name("xen-context", tests, NULL, NULL);
}
