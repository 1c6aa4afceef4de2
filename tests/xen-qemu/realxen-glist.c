/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen's tests of grant-ref lists (gm_xen_grant_list_*) against
 * real Xen: every granted page mapped as one list in a shuffled order and
 * compared with the pattern through the address, the iovecs and the view;
 * writes through a read-write list that the guest confirms; and what Xen
 * says for a read-write list holding the read-only grant and for a list
 * with a ref never shared in the middle, recorded as "# fact:" lines
 * (test-realxen.c has the overview).  Cached lists (GM_XEN_GLIST_CACHED)
 * ride along with the shuffled test: each ref mapped once, then leased,
 * and purged.
 */
#define _GNU_SOURCE

#include <sys/uio.h>

#include "realxen.h"

/* Most granted pages these tests take (the harness grants 8). */
#define GL_MAX 64u

/* A shuffle of 0 .. n - 1 into @idx, from the test's generator. */
static void shuffle(struct ctx *c, unsigned int *idx, unsigned int n)
{
	unsigned int i, j, t;

	for (i = 0; i < n; i++)
		idx[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = (unsigned int)(next_rand(c) % (i + 1));
		t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

/*
 * The same refs as cached lists (GM_XEN_GLIST_CACHED): the first list maps
 * each ref by its own call and reads the pattern through its iovecs; a
 * second maps nothing; purge fails while it is live and then leaves
 * nothing mapped.  Nothing printed.
 */
static bool glist_cached(struct ctx *c, struct gm_xen *x,
			 const unsigned int *idx, const uint32_t *refs,
			 unsigned int n)
{
	struct gm_xen_grant_list *l = NULL, *l2 = NULL;
	const struct iovec *iov;
	struct gm_xen_stats s0, s1, s2;
	uint8_t want[PAGE];
	struct capture cap;
	unsigned int i;
	int niov = 0;

	s0 = stats(x);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_xen_grant_list_map(x, c->domid, refs, n,
					GM_PROT_READ | GM_XEN_GLIST_CACHED,
					&l),
		  0);
	EXPECT(capture_end(&cap) == 0);
	if (!l)
		return false;
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls + n);
	EXPECT(s1.pages_mapped == s0.pages_mapped + n);
	EXPECT(s1.mapped_bytes == (uint64_t)n * PAGE);
	EXPECT(gm_xen_grant_list_addr(l, NULL) == NULL);
	iov = gm_xen_grant_list_iov(l, &niov);
	EXPECT(niov == (int)n);
	for (i = 0; iov && i < n; i++) {
		grant_bytes(c, idx[i], 0, want, PAGE);
		if (memcmp(iov[i].iov_base, want, PAGE))
			fail_at(__LINE__, "cached page %u (grant %u, ref %u) "
				"is not its pattern", i, idx[i], refs[i]);
	}
	gm_xen_grant_list_unmap(l);
	EXPECT_RC(gm_xen_grant_list_map(x, c->domid, refs, n,
					GM_PROT_READ | GM_XEN_GLIST_CACHED,
					&l2),
		  0);
	s2 = stats(x);
	EXPECT(s2.map_calls == s1.map_calls);
	EXPECT(s2.glist_hits == s1.glist_hits + n);
	EXPECT_RC(gm_xen_grant_list_purge(x, c->domid), -EBUSY);
	gm_xen_grant_list_unmap(l2);
	EXPECT_RC(gm_xen_grant_list_purge(x, c->domid), 0);
	s2 = stats(x);
	EXPECT(s2.mapped_bytes == 0);
	EXPECT(s2.unmap_calls == s1.unmap_calls + n);
	diag("fact: cached list of %u refs: %" PRIu64 " map calls, then 0 "
	     "for the same list again; purge unmapped them", n,
	     s1.map_calls - s0.map_calls);
	return cur_ok;
}

/*
 * All granted pages (the read-only one included), in a shuffled order,
 * as one read-only list: page i holds the pattern of grant idx[i], read
 * through the address, iovec i and the view's typed and atomic accessors.
 * One map call, nothing printed, everything unmapped at the end.
 */
bool t_glist_shuffled(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, idx[GL_MAX], i;
	uint32_t refs[GL_MAX];
	struct gm_xen_grant_list *l = NULL;
	const struct iovec *iov;
	struct gm_xen_stats s0, s1;
	uint8_t want[PAGE], *p;
	struct capture cap;
	struct gm_view v;
	struct gm_xen *x;
	uint64_t w = 0, wl;
	size_t len;
	int niov;

	REQUIRE(n >= 2 && n <= GL_MAX);
	x = xen_open(0, 0);
	REQUIRE(x);
	shuffle(c, idx, n);
	/* Never the identity: the order must matter. */
	if (idx[0] == 0) {
		idx[0] = idx[1];
		idx[1] = 0;
	}
	for (i = 0; i < n; i++)
		refs[i] = c->g.grant_refs[idx[i]];
	s0 = stats(x);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_xen_grant_list_map(x, c->domid, refs, n, GM_PROT_READ,
					&l),
		  0);
	EXPECT(capture_end(&cap) == 0);
	if (!l) {
		gm_xen_close(x);
		return false;
	}
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls + 1);
	EXPECT(s1.pages_mapped == s0.pages_mapped + n);
	p = gm_xen_grant_list_addr(l, &len);
	iov = gm_xen_grant_list_iov(l, &niov);
	EXPECT(len == (size_t)n * PAGE);
	EXPECT(niov == (int)n);
	EXPECT_RC(gm_xen_grant_list_view(l, &v), 0);
	for (i = 0; p && iov && i < n; i++) {
		grant_bytes(c, idx[i], 0, want, PAGE);
		if (memcmp(p + (size_t)i * PAGE, want, PAGE))
			fail_at(__LINE__, "page %u (grant %u, ref %u) is not "
				"its pattern", i, idx[i], refs[i]);
		EXPECT(iov[i].iov_base == p + (size_t)i * PAGE);
		EXPECT(iov[i].iov_len == PAGE);
		memcpy(&wl, want + 8, 8);
		EXPECT_RC(gm_view_atomic_load_u64(&v, (uint64_t)i * PAGE + 8,
						  &w, GM_ACQUIRE),
			  0);
		EXPECT(w == wl);
		EXPECT_RC(gm_view_read_le64(&v, (uint64_t)i * PAGE + 8, &w),
			  0);
		EXPECT(w == le64toh(wl));
	}
	EXPECT_RC(gm_view_write_u32(&v, 0, 1), -EACCES);
	diag("fact: one read-only list of %u refs, shuffled, mapped by one "
	     "xengnttab_map_domain_grant_refs call", n);
	gm_view_put(&v);
	gm_xen_grant_list_unmap(l);
	EXPECT(stats(x).unmap_calls == s1.unmap_calls + 1);
	(void)glist_cached(c, x, idx, refs, n);
	gm_xen_close(x);
	return cur_ok;
}

/*
 * The writable grants as one read-write list, shuffled: a write through
 * the view is seen by the guest in the right page, then the pattern is
 * put back and the guest confirms it.
 */
bool t_glist_write(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, ro = c->g.ro_index, k = 0, i;
	unsigned int idx[GL_MAX], order[GL_MAX];
	uint32_t refs[GL_MAX];
	const char *msg = "grant list, dom0 -> guest";
	struct gm_xen_grant_list *l = NULL;
	uint8_t want[PAGE];
	struct gm_view v;
	struct gm_xen *x;

	REQUIRE(n >= 2 && n <= GL_MAX);
	x = xen_open(0, 0);
	REQUIRE(x);
	shuffle(c, order, n);
	for (i = 0; i < n; i++)
		if (order[i] != ro) {
			idx[k] = order[i];
			refs[k++] = c->g.grant_refs[order[i]];
		}
	EXPECT_RC(gm_xen_grant_list_map(x, c->domid, refs, k,
					GM_PROT_READ | GM_PROT_WRITE, &l),
		  0);
	if (!l) {
		gm_xen_close(x);
		return false;
	}
	EXPECT_RC(gm_xen_grant_list_view(l, &v), 0);
	/* The last page of the list: grant idx[k - 1]. */
	EXPECT_RC(gm_view_write(&v, (uint64_t)(k - 1) * PAGE + 200, msg,
				strlen(msg)),
		  0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, idx[k - 1], 200, msg,
				 (unsigned int)strlen(msg), NULL),
		  0);
	grant_bytes(c, idx[k - 1], 0, want, PAGE);
	EXPECT_RC(gm_view_write(&v, (uint64_t)(k - 1) * PAGE, want, PAGE), 0);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, idx[k - 1]), 0);
	gm_xen_grant_list_unmap(l);
	gm_xen_close(x);
	return cur_ok;
}

/*
 * A read-write list holding the read-only grant, and a list with a ref
 * never shared in its middle: both fail whole with nothing printed and
 * nothing left mapped (the good refs map again), and the message names
 * the culprit where a grant copy can tell.
 */
bool t_glist_errors(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, ro = c->g.ro_index, i;
	uint32_t refs[GL_MAX + 1], unshared = 0;
	struct gm_xen_grant_list *l = NULL;
	struct capture cap;
	struct gm_xen *x;
	char want[64];
	int rc;

	REQUIRE(n >= 2 && n <= GL_MAX);
	for (i = 0; i < n; i++) {
		refs[i] = c->g.grant_refs[i];
		if (refs[i] > unshared)
			unshared = refs[i];
	}
	unshared++;
	x = xen_open(0, 0);
	REQUIRE(x);
	REQUIRE(capture_begin(&cap));
	rc = gm_xen_grant_list_map(x, c->domid, refs, n,
				   GM_PROT_READ | GM_PROT_WRITE, &l);
	EXPECT(capture_end(&cap) == 0);
	diag("fact: read-write list holding the read-only grant: %d (%s)", rc,
	     ename(rc));
	diag("last error: %s", gm_last_error());
	EXPECT_RC(rc, -EINVAL);
	EXPECT(!l);
	if (!strstr(gm_last_error(), "read-only grant"))
		fail_at(__LINE__, "message: %s", gm_last_error());

	/* A ref never shared, in the middle. */
	for (i = n; i > n / 2; i--)
		refs[i] = refs[i - 1];
	refs[n / 2] = unshared;
	REQUIRE(capture_begin(&cap));
	rc = gm_xen_grant_list_map(x, c->domid, refs, n + 1, GM_PROT_READ,
				   &l);
	EXPECT(capture_end(&cap) == 0);
	diag("fact: read-only list with ref %u (never shared) at index %u: "
	     "%d (%s)", unshared, n / 2, rc, ename(rc));
	diag("last error: %s", gm_last_error());
	EXPECT_RC(rc, -EINVAL);
	EXPECT(!l);
	snprintf(want, sizeof(want), "1 ref fails a grant copy too: index %u "
		 "ref %u", n / 2, unshared);
	if (!strstr(gm_last_error(), want))
		fail_at(__LINE__, "message: %s", gm_last_error());

	/* Nothing leaked: every good ref maps again, read-write where it
	 * may be. */
	for (i = 0; i < n; i++)
		refs[i] = c->g.grant_refs[i];
	EXPECT_RC(gm_xen_grant_list_map(x, c->domid, refs, n, GM_PROT_READ,
					&l),
		  0);
	gm_xen_grant_list_unmap(l);
	l = NULL;
	refs[ro] = refs[ro == 0 ? 1 : 0];
	EXPECT_RC(gm_xen_grant_list_map(x, c->domid, refs, n,
					GM_PROT_READ | GM_PROT_WRITE, &l),
		  0);
	gm_xen_grant_list_unmap(l);
	gm_xen_close(x);
	return cur_ok;
}
