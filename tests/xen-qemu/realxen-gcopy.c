/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen's tests of grant copy (gm_xen_grant_copy) against real Xen:
 * every granted page read by copy and compared with the pattern and with
 * what a grant mapping reads, writes the guest confirms, and the errno of
 * each failure Xen reports, recorded as "# fact:" lines for the simulator
 * (test-realxen.c has the overview).
 */
#define _GNU_SOURCE

#include "realxen.h"

#define FROM GM_XEN_COPY_FROM_GRANT
#define TO GM_XEN_COPY_TO_GRANT

static struct gm_xen_copy_seg seg(void *buf, uint32_t domid, uint32_t ref,
				  uint32_t off, uint32_t len,
				  unsigned int flags)
{
	return (struct gm_xen_copy_seg){ .buf = buf, .domid = domid,
					 .ref = ref, .offset = off,
					 .len = len, .flags = flags,
					 .status = 12345 };
}

/*
 * Every granted page (the read-only one included) read by copy, in one
 * call of whole pages and one of small pieces, against the pattern and
 * against the mapping path; nothing mapped by the copies.
 */
bool t_gcopy_reads(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, i;
	uint32_t ref0 = c->g.grant_refs[0];
	uint64_t g0 = GM_XEN_GRANT_ADDR(ref0);
	struct gm_xen_copy_seg *s;
	uint8_t *got, *want, *mapped;
	struct gm_region *r = NULL;
	struct gm_space *sp = NULL;
	struct gm_xen_stats s0;
	struct capture cap;
	struct gm_xen *x;

	x = xen_open(0, 0);
	REQUIRE(x);
	s = calloc(3 * (size_t)n, sizeof(*s));
	got = calloc(n, PAGE);
	want = malloc((size_t)n * PAGE);
	mapped = malloc((size_t)n * PAGE);
	if (!s || !got || !want || !mapped) {
		fail_at(__LINE__, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		grant_bytes(c, i, 0, want + (size_t)i * PAGE, PAGE);
		s[i] = seg(got + (size_t)i * PAGE, c->domid,
			   c->g.grant_refs[i], 0, PAGE, FROM);
	}
	s0 = stats(x);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_xen_grant_copy(x, s, n), 0);
	EXPECT(capture_end(&cap) == 0);
	for (i = 0; i < n; i++) {
		EXPECT_RC(s[i].status, 0);
		EXPECT(!memcmp(got + (size_t)i * PAGE,
			       want + (size_t)i * PAGE, PAGE));
	}
	EXPECT(stats(x).map_calls == s0.map_calls);

	/* Three pieces of each page, at odd offsets, into odd places. */
	memset(got, 0, (size_t)n * PAGE);
	for (i = 0; i < n; i++) {
		uint8_t *p = got + (size_t)i * PAGE;
		uint32_t ref = c->g.grant_refs[i];

		s[3 * i] = seg(p + 1, c->domid, ref, 1, 1000, FROM);
		s[3 * i + 1] = seg(p + 1001, c->domid, ref, 1001, 3094, FROM);
		s[3 * i + 2] = seg(p + 4095, c->domid, ref, 4095, 1, FROM);
	}
	EXPECT_RC(gm_xen_grant_copy(x, s, 3 * n), 0);
	for (i = 0; i < n; i++)
		EXPECT(!memcmp(got + (size_t)i * PAGE + 1,
			       want + (size_t)i * PAGE + 1, PAGE - 1));

	/* The mapping path reads the same bytes. */
	if (c->g.grants_consecutive) {
		EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g0, ref0, n, 0,
						  &r),
			  0);
		sp = space_with("grants", 0, r);
		if (!sp) {
			fail_at(__LINE__, "no space");
			goto out;
		}
		EXPECT_RC(gm_read(sp, g0, mapped, (size_t)n * PAGE), 0);
		memset(got, 0, (size_t)n * PAGE);
		for (i = 0; i < n; i++)
			s[i] = seg(got + (size_t)i * PAGE, c->domid,
				   c->g.grant_refs[i], 0, PAGE, FROM);
		EXPECT_RC(gm_xen_grant_copy(x, s, n), 0);
		EXPECT(!memcmp(got, mapped, (size_t)n * PAGE));
	} else {
		diag("grants not consecutive: no grant region to compare");
	}
out:
	gm_space_free(sp);
	free(s);
	free(got);
	free(want);
	free(mapped);
	gm_xen_close(x);
	return cur_ok;
}

/* Writes by copy into a writable grant, seen by the guest, then undone. */
bool t_gcopy_writes(struct ctx *c)
{
	unsigned int k = c->g.ro_index == 0 ? 1 : 0;
	uint32_t ref = c->g.grant_refs[k];
	uint8_t want[PAGE], back[PAGE];
	struct gm_xen_copy_seg s[2];
	const char *a = "grant copy, dom0 -> guest", *b = "straddles no page";
	struct gm_xen *x;

	x = xen_open(0, 0);
	REQUIRE(x);
	grant_bytes(c, k, 0, want, PAGE);
	s[0] = seg((void *)a, c->domid, ref, 300, (uint32_t)strlen(a), TO);
	s[1] = seg((void *)b, c->domid, ref, PAGE - (uint32_t)strlen(b),
		   (uint32_t)strlen(b), TO);
	EXPECT_RC(gm_xen_grant_copy(x, s, 2), 0);
	EXPECT_RC(s[0].status, 0);
	EXPECT_RC(s[1].status, 0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, k, 300, a,
				 (unsigned int)strlen(a), NULL),
		  0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, k,
				 PAGE - (unsigned int)strlen(b), b,
				 (unsigned int)strlen(b), NULL),
		  0);
	/* Read back by copy, then put the whole page back. */
	s[0] = seg(back, c->domid, ref, 0, PAGE, FROM);
	EXPECT_RC(gm_xen_grant_copy(x, s, 1), 0);
	EXPECT(!memcmp(back + 300, a, strlen(a)));
	EXPECT(!memcmp(back, want, 300));
	s[0] = seg(want, c->domid, ref, 0, PAGE, TO);
	EXPECT_RC(gm_xen_grant_copy(x, s, 1), 0);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, k), 0);
	gm_xen_close(x);
	return cur_ok;
}

/*
 * What Xen says for each bad segment, in one call with good ones around
 * them: a copy into the read-only grant, a ref the guest never shared, a
 * ref far beyond any grant table, a domain that does not exist.  The
 * good segments are copied, the read-only page is untouched, nothing is
 * printed, and a malformed segment is refused before Xen sees anything.
 */
bool t_gcopy_errors(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, ro = c->g.ro_index, i;
	uint32_t rref = c->g.grant_refs[ro], good = c->g.grant_refs[0];
	uint32_t unshared = 0;
	uint8_t buf[6][64], junk[64], want[64];
	struct gm_xen_copy_seg s[6];
	static const char *const what[6] = {
		"good read", "copy into the read-only grant",
		"ref never shared", "ref 0xfffffff", "absent domain",
		"read of the read-only grant",
	};
	static const int expect[6] = { 0, -EACCES, -EACCES, -EINVAL, -ESRCH,
				       0 };
	struct capture cap;
	struct gm_xen *x;

	if (ro == 0)
		good = c->g.grant_refs[1];
	for (i = 0; i < n; i++)
		if (c->g.grant_refs[i] > unshared)
			unshared = c->g.grant_refs[i];
	unshared++;
	x = xen_open(0, 0);
	REQUIRE(x);
	memset(buf, 0, sizeof(buf));
	memset(junk, 0xee, sizeof(junk));
	s[0] = seg(buf[0], c->domid, good, 64, 64, FROM);
	s[1] = seg(junk, c->domid, rref, 64, 64, TO);
	s[2] = seg(buf[2], c->domid, unshared, 0, 64, FROM);
	s[3] = seg(buf[3], c->domid, 0xfffffff, 0, 64, FROM);
	s[4] = seg(buf[4], c->absent, good, 0, 64, FROM);
	s[5] = seg(buf[5], c->domid, rref, 64, 64, FROM);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_xen_grant_copy(x, s, 6), -EACCES);
	EXPECT(capture_end(&cap) == 0);
	diag("last error: %s", gm_last_error());
	for (i = 0; i < 6; i++) {
		diag("fact: grant copy, %s: status %d (%s)", what[i],
		     s[i].status, ename(s[i].status));
		if (s[i].status != expect[i])
			fail_at(__LINE__, "%s: status %d (%s), expected %d "
				"(%s)", what[i], s[i].status,
				ename(s[i].status), expect[i],
				ename(expect[i]));
	}
	if (!strstr(gm_last_error(), "segment 1 of 6 (to grant: domain") ||
	    !strstr(gm_last_error(), "GNTST_general_error"))
		fail_at(__LINE__, "message: %s", gm_last_error());
	grant_bytes(c, ro == 0 ? 1 : 0, 64, want, 64);
	EXPECT(!memcmp(buf[0], want, 64));
	grant_bytes(c, ro, 64, want, 64);
	EXPECT(!memcmp(buf[5], want, 64));
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, ro), 0);

	/* Alone, the copy into the read-only grant. */
	s[0] = seg(junk, c->domid, rref, 4000, 96, TO);
	EXPECT_RC(gm_xen_grant_copy(x, s, 1), -EACCES);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, ro), 0);

	/* Across the end of the page: refused here, Xen never asked. */
	s[0] = seg(buf[0], c->domid, good, 4090, 7, FROM);
	EXPECT_RC(gm_xen_grant_copy(x, s, 1), -EINVAL);
	EXPECT_RC(s[0].status, -EINVAL);
	gm_xen_close(x);
	return cur_ok;
}
