/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen's tests of grant regions against real Xen: reads and writes
 * of every grant, a GM_XEN_RDONLY region, a ref the guest never shared
 * (test-realxen.c has the overview).
 */
#define _GNU_SOURCE

#include "realxen.h"

/* ------------------------------------------------------------------ */
/* Grants                                                              */
/* ------------------------------------------------------------------ */

static unsigned int rw_grant(const struct ctx *c, unsigned int k)
{
	/* The k-th writable grant index. */
	return k < c->g.ro_index ? k : k + 1;
}

/* A region over every grant, not flagged read-only. */
bool t_grant_read_write(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, i, ro = c->g.ro_index;
	uint32_t ref0 = c->g.grant_refs[0];
	uint64_t g0 = GM_XEN_GRANT_ADDR(ref0), a;
	struct gm_xen_stats s0, s1;
	uint8_t *got, *want, seen[64];
	struct gm_region *r = NULL;
	struct gm_space *s;
	struct gm_xen *x;
	struct capture cap;
	uint32_t v;

	REQUIRE(c->g.grants_consecutive);
	/* The guest shares the read-only page last. */
	REQUIRE(ro == n - 1);
	x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	REQUIRE(x);
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g0, ref0, n, 0, &r),
		  0);
	s = space_with("grants", 0, r);
	got = malloc((size_t)n * PAGE);
	want = malloc((size_t)n * PAGE);
	if (!s || !got || !want) {
		fail_at(__LINE__, "set-up failed");
		goto out;
	}
	for (i = 0; i < n; i++)
		grant_bytes(c, i, 0, want + (size_t)i * PAGE, PAGE);

	/* Reads of every page, the read-only one included, one by one and
	 * all at once. */
	s0 = stats(x);
	EXPECT_RC(gm_read_u32(s, g0 + 0x40, &v), 0);
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls + 1);
	EXPECT(s1.pages_mapped == s0.pages_mapped + 1);
	/* Again: the page is published now, so no map call at all. */
	EXPECT_RC(gm_read_u32(s, g0 + 0x80, &v), 0);
	EXPECT(stats(x).map_calls == s1.map_calls);
	EXPECT(stats(x).hits == s1.hits);
	for (i = 0; i < n; i++) {
		EXPECT_RC(gm_read(s, g0 + (uint64_t)i * PAGE, got, PAGE), 0);
		EXPECT(!memcmp(got, want + (size_t)i * PAGE, PAGE));
	}
	memset(got, 0, (size_t)n * PAGE);
	EXPECT_RC(gm_read(s, g0, got, (size_t)n * PAGE), 0);
	EXPECT(!memcmp(got, want, (size_t)n * PAGE));

	/* Writes to the writable grants, seen by the guest; one write
	 * across two of them. */
	for (i = 0; i + 1 < n; i++) {
		unsigned int k = rw_grant(c, i);
		char token[24];

		snprintf(token, sizeof(token), "dom0->grant %u", k);
		a = g0 + (uint64_t)k * PAGE + 77 * (k + 1);
		EXPECT_RC(gm_write(s, a, token, strlen(token)), 0);
		EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, k,
					 77 * (k + 1), token,
					 (unsigned int)strlen(token), seen),
			  0);
	}
	a = g0 + PAGE - 6;
	EXPECT_RC(gm_write(s, a, "straddling", 10), 0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, 0, PAGE - 6, "stradd",
				 6, NULL),
		  0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, 1, 0, "ling", 4,
				 NULL),
		  0);
	/* Atomics on a grant. */
	EXPECT_RC(gm_atomic_fetch_add_u64(s, g0 + 2 * PAGE + 0x100, 5, NULL,
					  GM_SEQ_CST),
		  0);
	{
		uint64_t w;

		grant_bytes(c, 2, 0x100, &w, 8);
		w += 5;
		EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, 2, 0x100, &w,
					 8, NULL),
			  0);
	}
	/* A guest write shows through dom0's cached grant mapping. */
	EXPECT_RC(gm_read_u32(s, g0 + ro * PAGE + 4000, &v), 0);
	EXPECT_RC(xq_guest_write(&c->g, XQ_SPACE_GRANT, ro, 4000, "GUEST!", 6),
		  0);
	EXPECT_RC(gm_read(s, g0 + ro * PAGE + 4000, got, 6), 0);
	EXPECT(!memcmp(got, "GUEST!", 6));
	EXPECT_RC(xq_guest_write(&c->g, XQ_SPACE_GRANT, ro, 4000,
				 want + (size_t)ro * PAGE + 4000, 6),
		  0);

	/*
	 * The read-only grant in a region not flagged read-only: a write
	 * tries one read-write map, which Xen refuses with EINVAL, at the
	 * exact address; nothing reaches stderr.
	 */
	a = g0 + (uint64_t)ro * PAGE + 0x20;
	s0 = stats(x);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_write_u32(s, a, 1), -EINVAL);
	EXPECT_MSG("grants", "write", a, 4, a, "xen-grant");
	EXPECT_RC(gm_atomic_fetch_add_u32(s, a, 1, NULL, GM_SEQ_CST),
		  -EINVAL);
	EXPECT_MSG("grants", "atomic", a, 4, a, NULL);
	/* From the last writable page into the read-only one: fails at the
	 * first byte of the read-only page; the partial write stops there. */
	a = g0 + (uint64_t)ro * PAGE - 4;
	EXPECT_RC(gm_write_u64(s, a, 0), -EINVAL);
	EXPECT_MSG("grants", "write", a, 8, a + 4, "xen-grant");
	EXPECT_RC(gm_write_partial(s, a, "12345678", 8), 4);
	EXPECT(capture_end(&cap) == 0);
	s1 = stats(x);
	EXPECT(s1.failures >= s0.failures + 4);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, ro - 1, PAGE - 4,
				 "1234", 4, NULL),
		  0);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, ro), 0);
	/* Reads of the read-only grant still work. */
	EXPECT_RC(gm_read(s, g0 + (uint64_t)ro * PAGE, got, PAGE), 0);
	EXPECT(!memcmp(got, want + (size_t)ro * PAGE, PAGE));

	/* Put the writable grants back as the guest made them. */
	for (i = 0; i < n; i++) {
		if (i == ro)
			continue;
		EXPECT_RC(gm_write(s, g0 + (uint64_t)i * PAGE,
				   want + (size_t)i * PAGE, PAGE),
			  0);
		EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, i), 0);
	}
	EXPECT(stats(x).mapped_bytes <= SMALL_BUDGET);
out:
	free(got);
	free(want);
	gm_space_free(s);
	gm_xen_close(x);
	return cur_ok;
}

/* A region flagged read-only: writes fail with -EACCES, without a map. */
bool t_grant_rdonly_region(struct ctx *c)
{
	unsigned int ro = c->g.ro_index;
	uint32_t ref = c->g.grant_refs[ro];
	uint64_t g = GM_XEN_GRANT_ADDR(ref);
	struct gm_region *r = NULL;
	struct gm_xen_stats s0, s1;
	struct gm_space *s;
	struct gm_xen *x;
	uint8_t got[PAGE], want[PAGE];
	struct gm_view v;
	int fd;

	x = xen_open(0, 0);
	REQUIRE(x);
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g, ref, 1,
					  GM_XEN_RDONLY, &r),
		  0);
	s = space_with("grant-ro", 0, r);
	if (!s) {
		gm_xen_close(x);
		return false;
	}
	s0 = stats(x);
	EXPECT_RC(gm_write_u32(s, g + 8, 1), -EACCES);
	EXPECT_MSG("grant-ro", "write", g + 8, 4, g + 8, "read-only");
	EXPECT_RC(gm_atomic_store_u32(s, g + 8, 1, GM_SEQ_CST), -EACCES);
	EXPECT_RC(gm_view_get(s, g, 8, GM_PROT_WRITE, &v), -EACCES);
	fd = memfd_create("ro", MFD_CLOEXEC);
	EXPECT(fd >= 0 && write(fd, "xxxxxxxx", 8) == 8);
	EXPECT_RC(gm_read_from_fd(s, g, 8, fd, 0), -EACCES);
	if (fd >= 0)
		close(fd);
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls);
	EXPECT(s1.failures == s0.failures);

	grant_bytes(c, ro, 0, want, PAGE);
	EXPECT_RC(gm_read(s, g, got, PAGE), 0);
	EXPECT(!memcmp(got, want, PAGE));
	EXPECT(stats(x).map_calls == s0.map_calls + 1);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, ro), 0);
	gm_space_free(s);
	gm_xen_close(x);
	return cur_ok;
}

/* Refs the guest never shared: -EINVAL from Xen, at the exact address. */
bool t_grant_never_shared(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, i;
	uint32_t ref0 = c->g.grant_refs[0], max = 0;
	uint64_t g0 = GM_XEN_GRANT_ADDR(ref0), far, a;
	struct gm_region *r = NULL;
	struct gm_space *s, *sf;
	struct gm_xen *x;
	struct capture cap;
	uint8_t buf[2 * PAGE], want[PAGE];
	uint32_t v;

	REQUIRE(c->g.grants_consecutive);
	for (i = 0; i < n; i++)
		if (c->g.grant_refs[i] > max)
			max = c->g.grant_refs[i];
	x = xen_open(0, 0);
	REQUIRE(x);
	/* One ref more than the guest shared. */
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g0, ref0, n + 1, 0,
					  &r),
		  0);
	s = space_with("grants+1", 0, r);
	/* And one far beyond any grant table. */
	far = GM_XEN_GRANT_ADDR(0xfffffff);
	r = NULL;
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, far, 0xfffffff, 1, 0,
					  &r),
		  0);
	sf = space_with("grant-far", 0, r);
	if (!s || !sf) {
		gm_space_free(s);
		gm_space_free(sf);
		gm_xen_close(x);
		return false;
	}
	REQUIRE(capture_begin(&cap));
	a = g0 + (uint64_t)n * PAGE + 40;
	EXPECT_RC(gm_read_u32(s, a, &v), -EINVAL);
	EXPECT_MSG("grants+1", "read", a, 4, a, "xen-grant");
	EXPECT_RC(gm_write_u32(s, a, 1), -EINVAL);
	EXPECT_MSG("grants+1", "write", a, 4, a, "xen-grant");
	/* Across the last shared page into the unshared one. */
	a = g0 + (uint64_t)(n - 1) * PAGE;
	EXPECT_RC(gm_read(s, a, buf, sizeof(buf)), -EINVAL);
	EXPECT_MSG("grants+1", "read", a, sizeof(buf), a + PAGE, "xen-grant");
	memset(buf, 0, sizeof(buf));
	EXPECT_RC(gm_read_partial(s, a, buf, sizeof(buf)), PAGE);
	grant_bytes(c, n - 1, 0, want, PAGE);
	EXPECT(!memcmp(buf, want, PAGE));
	EXPECT_RC(gm_read_u32(sf, far + 4, &v), -EINVAL);
	EXPECT_MSG("grant-far", "read", far + 4, 4, far + 4, "xen-grant");
	EXPECT(capture_end(&cap) == 0);
	diag("fact: reads of grant ref %u (never shared) and %#x: -EINVAL",
	     max + 1, 0xfffffff);
	/* The shared pages still work. */
	EXPECT_RC(gm_read_u32(s, g0 + 8, &v), 0);
	gm_space_free(s);
	gm_space_free(sf);
	gm_xen_close(x);
	return cur_ok;
}
