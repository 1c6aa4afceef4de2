/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen's tests of what real Xen refuses: frames past the guest's
 * memory, the exact end of its RAM, refused frames in a fault-safe space, a
 * domain that does not exist; and that the guest's pattern survived every
 * test (test-realxen.c has the overview).
 */
#define _GNU_SOURCE

#include "realxen.h"

/* ------------------------------------------------------------------ */
/* Errors from Xen                                                     */
/* ------------------------------------------------------------------ */

/* Frames past the guest's memory: -EINVAL per frame. */
bool t_foreign_beyond_memory(struct ctx *c)
{
	const uint64_t gpa = 1ull << 40; /* anywhere outside the domain */
	const uint64_t gfn = c->max_frames;		 /* max gpfn + 1 */
	struct gm_region *r = (struct gm_region *)&r;
	struct gm_space *s;
	struct gm_xen *x;
	struct capture cap;
	uint32_t v;
	uint64_t a;
	int rc;

	x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	REQUIRE(x);
	REQUIRE(capture_begin(&cap));
	/* Eager: not one frame maps, so the creation fails with Xen's
	 * per-frame error. */
	rc = gm_xen_foreign_region_new(x, c->domid, gpa, 4 * PAGE, gfn,
				       GM_XEN_EAGER, &r);
	EXPECT_RC(rc, -EINVAL);
	EXPECT(r == NULL);
	if (!rc)
		gm_region_destroy(r);
	r = NULL;
	EXPECT_RC(gm_xen_foreign_region_new(x, c->domid, gpa, 4 * PAGE, gfn,
					    0, &r),
		  0);
	s = space_with("beyond", 0, r);
	if (s) {
		a = gpa + 0x1234;
		EXPECT_RC(gm_read_u32(s, a, &v), -EINVAL);
		EXPECT_MSG("beyond", "read", a, 4, a, "xen-foreign");
		a = gpa + 3 * PAGE + 0xff0;
		EXPECT_RC(gm_write_u64(s, a, 7), -EINVAL);
		EXPECT_MSG("beyond", "write", a, 8, a, "xen-foreign");
		EXPECT(stats(x).failures > 0);
		gm_space_free(s);
	}
	/* The hole of the domain space at 2 GiB (a 256 MiB guest): the
	 * physmap's, so the space's (no region). */
	a = 0x80000000ull + 0x10;
	EXPECT_RC(gm_read_u32(c->dom, a, &v), -EFAULT);
	EXPECT_MSG(c->dom_name, "read", a, 4, a, "no region");
	/* Past the domain space: no region at all. */
	EXPECT_RC(gm_read_u32(c->dom, c->dom_size, &v), -EFAULT);
	EXPECT_MSG(c->dom_name, "read", c->dom_size, 4, c->dom_size,
		   "no region");
	EXPECT(capture_end(&cap) == 0);
	gm_xen_close(x);
	return cur_ok;
}

/* Where the guest's RAM ends, a read stops exactly at the first refused
 * frame, in an ordinary and in a fault-safe space. */
static bool ram_end_checks(struct ctx *c, struct gm_space *s, int err,
			   const char *why)
{
	const char *name = gm_space_name(s);
	uint64_t e = c->ram_end, v64;
	uint8_t buf[200];
	struct gm_view v;
	struct gm_lease *l = (struct gm_lease *)&l;
	int fd = memfd_create("end", MFD_CLOEXEC);

	EXPECT_RC(gm_read_partial(s, e - 100, buf, sizeof(buf)), 100);
	EXPECT_RC(gm_read(s, e - 100, buf, sizeof(buf)), err);
	EXPECT_MSG(name, "read", e - 100, sizeof(buf), e, why);
	EXPECT_RC(gm_read_u64(s, e - 4, &v64), err);
	EXPECT_MSG(name, "read", e - 4, 8, e, why);
	EXPECT_RC(gm_read_u64(s, e + 8, &v64), err);
	EXPECT_MSG(name, "read", e + 8, 8, e + 8, why);
	EXPECT_RC(gm_view_get(s, e - 8, 16, GM_PROT_READ, &v), err);
	EXPECT_MSG(name, "view", e - 8, 16, e, why);
	EXPECT_RC(gm_lease_get(s, e - PAGE, 2 * PAGE, GM_PROT_READ, &l),
		  err);
	EXPECT(l == NULL);
	EXPECT_RC(gm_write_to_fd(s, e - 100, 200, fd, 0), err);
	EXPECT(lseek(fd, 0, SEEK_END) == 0);
	EXPECT_RC(gm_atomic_load_u64(s, e, &v64, GM_RELAXED), err);
	EXPECT_MSG(name, "atomic", e, 8, e, NULL);
	/* The frame before is fine. */
	EXPECT_RC(gm_read_u64(s, e - 8, &v64), 0);
	if (fd >= 0)
		close(fd);
	return cur_ok;
}

bool t_foreign_ram_end(struct ctx *c)
{
	struct capture cap;

	struct gm_region *r = NULL;
	struct gm_space *s;
	struct gm_xen *x;

	REQUIRE(c->ram_end);
	REQUIRE(capture_begin(&cap));
	/* The domain space ends its RAM region there: a hole. */
	ram_end_checks(c, c->dom, -EFAULT, "no region");
	/* A region across it: Xen refuses the frames past it. */
	x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	REQUIRE(x);
	EXPECT_RC(gm_xen_foreign_region_new(x, c->domid, c->ram_end - 16 * PAGE,
					    32 * PAGE,
					    (c->ram_end >> XQ_PAGE_SHIFT) - 16,
					    0, &r),
		  0);
	s = r ? space_with("across", 0, r) : NULL;
	if (s) {
		ram_end_checks(c, s, -EINVAL, "xen-foreign");
		gm_space_free(s);
	}
	gm_xen_close(x);
	EXPECT(capture_end(&cap) == 0);
	return cur_ok;
}

/*
 * A fault-safe space over the domain: frames whose err[] Xen set give an
 * error, never a crash; and the eager variant over all of the domain,
 * holes and all.
 */
bool t_fault_safe(struct ctx *c)
{
	struct gm_xen *x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	struct gm_space *s = NULL;
	struct timespec t0, t1;
	struct gm_region_info info;
	struct gm_xen_stats st;
	unsigned int bad;
	uint32_t v;
	int rc;

	REQUIRE(x);
	REQUIRE(c->ram_end);
	rc = gm_xen_space_open_domain(x, c->domid, GM_XEN_FAULT_SAFE, &s);
	EXPECT_RC(rc, 0);
	if (!rc) {
		ram_end_checks(c, s, -EFAULT, "no region");
		EXPECT_RC(gm_read_u32(s, 0x80000000ull, &v), -EFAULT);
		EXPECT(read_battery(c, s, 50, SMALL_BUCKET, 4) == 0);
		gm_space_free(s);
		s = NULL;
	}
	gm_xen_close(x);

	/* Eager over every frame up to the highest: most are holes. */
	x = xen_open(0, 0);
	REQUIRE(x);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = gm_xen_space_open_domain(x, c->domid,
				      GM_XEN_EAGER | GM_XEN_FAULT_SAFE, &s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_RC(rc, 0);
	st = stats(x);
	diag("eager space over %" PRIu64 " frames: %" PRIu64 " map calls, %"
	     PRIu64 " frames refused, %.2f s", c->max_frames,
	     st.map_calls, st.failures,
	     (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (!rc) {
		/* Only RAM runs: every region maps whole, persistent. */
		EXPECT_RC(gm_space_get_regions(s, &info, 1), c->nregions);
		EXPECT(info.mapped == 1);
		EXPECT(st.failures == 0);
		ram_end_checks(c, s, -EFAULT, "no region");
		bad = read_battery(c, s, 100, PAGE, 4);
		EXPECT(bad == 0);
		EXPECT_RC(gm_read_u32(s, 0x80000000ull + 4, &v), -EFAULT);
		gm_space_free(s);
	}
	gm_xen_close(x);
	return cur_ok;
}

/* A domain that does not exist: -ESRCH, every way. */
bool t_absent_domain(struct ctx *c)
{
	struct gm_xen *x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	struct gm_space *s = (struct gm_space *)&s;
	struct gm_region *r = (struct gm_region *)&r;
	uint64_t gpa = c->g.runs[0].gfn << XQ_PAGE_SHIFT, a;
	struct capture cap;
	char want[64];
	uint32_t v;
	int rc;

	REQUIRE(x);
	diag("absent domid %u", c->absent);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_xen_space_open_domain(x, c->absent, 0, &s), -ESRCH);
	EXPECT(s == NULL);
	snprintf(want, sizeof(want), "domain %u does not exist", c->absent);
	EXPECT(strstr(gm_last_error(), want) != NULL);

	rc = gm_xen_foreign_region_new(x, c->absent, gpa, 16 * PAGE,
				       gpa >> XQ_PAGE_SHIFT, GM_XEN_EAGER, &r);
	EXPECT_RC(rc, -ESRCH);
	EXPECT(r == NULL);
	if (!rc)
		gm_region_destroy(r);

	r = NULL;
	EXPECT_RC(gm_xen_foreign_region_new(x, c->absent, gpa, 16 * PAGE,
					    gpa >> XQ_PAGE_SHIFT, 0, &r),
		  0);
	s = space_with("absent", 0, r);
	if (s) {
		a = gpa + PAGE + 4;
		EXPECT_RC(gm_read_u32(s, a, &v), -ESRCH);
		EXPECT_MSG("absent", "read", a, 4, a, "xen-foreign");
		a = gpa + 9 * PAGE;
		EXPECT_RC(gm_write_u32(s, a, 1), -ESRCH);
		EXPECT_MSG("absent", "write", a, 4, a, "xen-foreign");
		gm_space_free(s);
	}
	/* Grants from a domain that does not exist: gntdev says EINVAL. */
	r = NULL;
	a = GM_XEN_GRANT_ADDR(c->g.grant_refs[0]);
	EXPECT_RC(gm_xen_grant_region_new(x, c->absent, a,
					  c->g.grant_refs[0], 1, 0, &r),
		  0);
	s = space_with("absent-grant", 0, r);
	if (s) {
		EXPECT_RC(gm_read_u32(s, a + 12, &v), -EINVAL);
		EXPECT_MSG("absent-grant", "read", a + 12, 4, a + 12,
			   "xen-grant");
		gm_space_free(s);
	}
	EXPECT(capture_end(&cap) == 0);
	EXPECT(stats(x).mapped_bytes == 0);
	gm_xen_close(x);
	return cur_ok;
}

/* The guest's pattern is intact after everything (nothing strayed). */
bool t_guest_intact(struct ctx *c)
{
	unsigned int i, bad = 0;

	for (i = 0; i < c->g.nr_pattern; i += 37)
		if (xq_guest_pattern(&c->g, XQ_SPACE_GFN,
				     xq_guest_pattern_gfn(&c->g, i)))
			bad++;
	for (i = 0; i < c->g.nr_grants; i++)
		if (xq_guest_pattern(&c->g, XQ_SPACE_GRANT, i))
			bad++;
	EXPECT(bad == 0);
	return cur_ok;
}
