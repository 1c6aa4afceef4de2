/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant regions of the Xen backend, on the simulator (tests/xensim): a
 * read maps the one ref it touches read-only and a write maps it
 * read-write, a GM_XEN_RDONLY region refuses writes without a map call, a
 * read-only grant fails writes with Xen's errno, the thread's cached
 * read-only mapping serves reads only, and a ref the guest never shared
 * fails its page alone.  Assertions use gm_xen_get_stats() and the
 * simulator's counters, which count the real calls into the (simulated)
 * Xen libraries.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind: the teardown (tests/xen-fixture.c) fails the test
 * if xensim_reset() finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include "xen-fixture.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* The access permissions of the host mapping that holds @p ("r--s"). */
static void perms_of(const void *p, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	assert_non_null(f);
	strcpy(perms, "????");
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char pr[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pr) == 3 &&
		    (uintptr_t)p >= lo && (uintptr_t)p < hi) {
			memcpy(perms, pr, 5);
			break;
		}
	}
	fclose(f);
}

/* ------------------------------------------------------------------ */
/* What one access maps                                                */
/* ------------------------------------------------------------------ */

/* A read maps the one grant ref it touches, read-only. */
static void test_grant_read_maps_one_ref_readonly(void **state)
{
	const uint64_t gpa = 0x7654000, gfn = 100;
	struct gm_xen *x = xen_open(KiB(64), MiB(1));
	uint32_t ref = share(gfn, 8, 1), v = 0;
	struct gm_space *s = space_with(grant(x, gpa, ref, 8, 0));
	struct xensim_counters c0, c1;
	struct gm_xen_stats s0, s1;
	struct gm_view view;
	char perms[5];

	(void)state;
	guest_fill(gfn, 8);
	s0 = xstats(x);
	c0 = sim();
	assert_int_equal(gm_read_u32(s, gpa + 3 * PAGE + 0x10, &v), 0);
	assert_int_equal(v, pattern(gfn + 3, 0x10));
	s1 = xstats(x);
	c1 = sim();
	assert_int_equal(s1.map_calls, s0.map_calls + 1);
	assert_int_equal(s1.pages_mapped, s0.pages_mapped + 1);
	assert_int_equal(s1.mapped_bytes, PAGE);
	assert_int_equal(c1.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			 c0.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS] + 1);
	assert_int_equal(c1.grant.total_pages, c0.grant.total_pages + 1);
	assert_int_equal(c1.grant.live_mappings, 1);
	assert_int_equal(c1.calls[XENSIM_FN_FMEM_MAP], 0);
	assert_int_equal(c1.calls[XENSIM_FN_FMEM_MAP2], 0);

	/* Again: served through the published piece, without a map call
	 * (not a cache hit).  A read-only view finds the same entry, whose
	 * host mapping is read-only: a hit. */
	assert_int_equal(gm_read_u32(s, gpa + 3 * PAGE + 0x10, &v), 0);
	assert_int_equal(gm_view_get(s, gpa + 3 * PAGE + 0x10, 4, GM_PROT_READ,
				     &view),
			 0);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	assert_int_equal(xstats(x).hits, s0.hits + 1);
	perms_of(view.hva, perms);
	assert_string_equal(perms, "r--s");
	assert_int_equal(gm_view_read_u32(&view, gpa + 3 * PAGE + 0x10, &v),
			 0);
	assert_int_equal(v, pattern(gfn + 3, 0x10));
	gm_view_put(&view);

	/* Two bytes across refs 3 and 4 map ref 4 only. */
	assert_int_equal(gm_read_u16(s, gpa + 4 * PAGE - 1, &(uint16_t){ 0 }),
			 0);
	s1 = xstats(x);
	c1 = sim();
	assert_int_equal(s1.map_calls, s0.map_calls + 2);
	assert_int_equal(s1.pages_mapped, s0.pages_mapped + 2);
	assert_int_equal(c1.grant.total_pages, c0.grant.total_pages + 2);

	gm_space_free(s);
	assert_int_equal(sim().grant.live_mappings, 0);
	gm_xen_close(x);
}

/* A GM_XEN_RDONLY grant region reads, and refuses writes without mapping. */
static void test_grant_rdonly_region(void **state)
{
	const uint64_t gpa = 0x20000, gfn = 40;
	struct gm_xen *x = xen_open(KiB(64), MiB(1));
	uint32_t ref = share(gfn, 4, 0), v = 0;
	struct gm_space *s = space_with(grant(x, gpa, ref, 4, GM_XEN_RDONLY));
	struct xensim_counters c0, c1;
	struct gm_xen_stats s0, s1;
	struct gm_lease *l = NULL;
	struct gm_view view;
	char perms[5];
	enum xensim_fn fn;

	(void)state;
	guest_fill(gfn, 4);
	assert_int_equal(gm_read_u32(s, gpa + PAGE + 8, &v), 0);
	assert_int_equal(v, pattern(gfn + 1, 8));
	assert_int_equal(gm_view_get(s, gpa + PAGE, 16, GM_PROT_READ, &view),
			 0);
	perms_of(view.hva, perms);
	assert_string_equal(perms, "r--s");
	gm_view_put(&view);

	s0 = xstats(x);
	c0 = sim();
	assert_int_equal(gm_write_u32(s, gpa + 2 * PAGE + 8, 1), -EACCES);
	expect_msg("write", gpa + 2 * PAGE + 8, 4, gpa + 2 * PAGE + 8,
		   "read-only");
	assert_int_equal(gm_write(s, gpa + PAGE + 8, "abcd", 4), -EACCES);
	assert_int_equal(gm_fill(s, gpa, 0, 3 * PAGE), -EACCES);
	assert_int_equal(gm_atomic_store_u32(s, gpa + 8, 1, GM_RELAXED),
			 -EACCES);
	assert_int_equal(gm_atomic_fetch_add_u32(s, gpa + 8, 1, NULL,
						 GM_SEQ_CST),
			 -EACCES);
	assert_int_equal(gm_view_get(s, gpa, 16, GM_PROT_WRITE, &view),
			 -EACCES);
	assert_int_equal(gm_lease_get(s, gpa, 16,
				      GM_PROT_READ | GM_PROT_WRITE, &l),
			 -EACCES);
	s1 = xstats(x);
	c1 = sim();
	assert_int_equal(s1.map_calls, s0.map_calls);
	assert_int_equal(s1.failures, s0.failures);
	for (fn = XENSIM_FN_GNT_MAP_GRANT_REF;
	     fn <= XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS; fn++)
		assert_int_equal(c1.calls[fn], c0.calls[fn]);
	/* Nothing changed in the guest. */
	assert_int_equal(guest_u32(gfn + 2, 8), pattern(gfn + 2, 8));
	assert_int_equal(guest_u32(gfn, 8), pattern(gfn, 8));

	gm_space_free(s);
	gm_xen_close(x);
}

/* A write maps its ref read-write, with one map call and no read-only
 * attempt first; reads then use that mapping too. */
static void test_grant_write_maps_rw(void **state)
{
	const uint64_t gpa = 0x300000, gfn = 50;
	struct gm_xen *x = xen_open(KiB(64), MiB(1));
	uint32_t ref = share(gfn, 4, 1), v = 0;
	struct gm_space *s = space_with(grant(x, gpa, ref, 4, 0));
	struct xensim_counters c0, c1;
	struct gm_xen_stats s0, s1;
	struct gm_view view;
	char perms[5];

	(void)state;
	s0 = xstats(x);
	c0 = sim();
	assert_int_equal(gm_write_u32(s, gpa + 2 * PAGE + 12, 0x600dcafe), 0);
	assert_int_equal(guest_u32(gfn + 2, 12), 0x600dcafe);
	s1 = xstats(x);
	c1 = sim();
	assert_int_equal(s1.map_calls, s0.map_calls + 1);
	assert_int_equal(s1.pages_mapped, s0.pages_mapped + 1);
	assert_int_equal(c1.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			 c0.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS] + 1);
	assert_int_equal(c1.failures[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			 c0.failures[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS]);

	/* The read-write entry serves reads and writable views. */
	assert_int_equal(gm_read_u32(s, gpa + 2 * PAGE + 12, &v), 0);
	assert_int_equal(v, 0x600dcafe);
	assert_int_equal(gm_view_get(s, gpa + 2 * PAGE, 64,
				     GM_PROT_READ | GM_PROT_WRITE, &view),
			 0);
	perms_of(view.hva, perms);
	assert_string_equal(perms, "rw-s");
	assert_int_equal(gm_view_write_u64(&view, gpa + 2 * PAGE + 16,
					   0x0123456789abcdefull),
			 0);
	gm_view_put(&view);
	assert_int_equal(guest_u32(gfn + 2, 16), 0x89abcdef);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);

	/* A page first read (read-only entry) and then written gets a
	 * second, read-write mapping. */
	assert_int_equal(gm_read_u32(s, gpa + 3 * PAGE, &v), 0);
	assert_int_equal(gm_write_u32(s, gpa + 3 * PAGE, 77), 0);
	assert_int_equal(guest_u32(gfn + 3, 0), 77);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 3);
	assert_int_equal(xstats(x).failures, s0.failures);

	gm_space_free(s);
	assert_int_equal(sim().grant.live_mappings, 0);
	gm_xen_close(x);
}

/*
 * The guest granted read-only, but the region was not created read-only:
 * a write tries one read-write map, which Xen refuses (gntdev: EINVAL),
 * and fails with that errno at the exact guest address.  Reads still work.
 */
static void test_grant_ro_grant_write_fails(void **state)
{
	const uint64_t gpa = 0x9000000, gfn = 60;
	struct gm_xen *x = xen_open(KiB(64), MiB(1));
	/* ref: writable; ref + 1 and ref + 2: read-only. */
	uint32_t ref = share(gfn, 1, 1), v = 0;
	struct gm_space *s;
	struct xensim_counters c0, c1;
	struct gm_xen_stats s0, s1;
	struct gm_lease *l = NULL;
	struct gm_view view;
	int i;

	(void)state;
	assert_int_equal(share(gfn + 1, 2, 0), ref + 1);
	s = space_with(grant(x, gpa, ref, 3, 0));
	guest_fill(gfn, 3);
	assert_int_equal(gm_read_u32(s, gpa + PAGE + 0x20, &v), 0);
	assert_int_equal(v, pattern(gfn + 1, 0x20));

	for (i = 1; i <= 3; i++) {
		s0 = xstats(x);
		c0 = sim();
		assert_int_equal(gm_write_u32(s, gpa + PAGE + 0x20, 1),
				 -EINVAL);
		expect_msg("write", gpa + PAGE + 0x20, 4, gpa + PAGE + 0x20,
			   "xen-grant");
		s1 = xstats(x);
		c1 = sim();
		/* Exactly one map call, read-write, failed; no fallback. */
		assert_int_equal(
			c1.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			c0.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS] + 1);
		assert_int_equal(
			c1.failures[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			c0.failures[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS] + 1);
		assert_int_equal(c1.calls[XENSIM_FN_GNT_MAP_GRANT_REF], 0);
		assert_int_equal(c1.calls[XENSIM_FN_GNT_MAP_GRANT_REFS], 0);
		assert_int_equal(c1.grant.total_mappings,
				 c0.grant.total_mappings);
		assert_int_equal(s1.map_calls, s0.map_calls + 1);
		assert_int_equal(s1.failures, s0.failures + 1);
	}
	assert_int_equal(guest_u32(gfn + 1, 0x20), pattern(gfn + 1, 0x20));

	/* Across the writable page into the read-only one: fails at the
	 * first byte of the read-only page. */
	assert_int_equal(gm_write_u64(s, gpa + PAGE - 4, 0), -EINVAL);
	expect_msg("write", gpa + PAGE - 4, 8, gpa + PAGE, "xen-grant");
	assert_int_equal(gm_write_partial(s, gpa + PAGE - 4, "12345678", 8),
			 4);
	assert_memory_equal(gframe(gfn, PAGE - 4), "1234", 4);
	assert_int_equal(guest_u32(gfn + 1, 0), pattern(gfn + 1, 0));

	/* Every way of writing fails the same way. */
	assert_int_equal(gm_atomic_fetch_add_u32(s, gpa + 2 * PAGE + 8, 1,
						 NULL, GM_SEQ_CST),
			 -EINVAL);
	expect_msg(NULL, gpa + 2 * PAGE + 8, 4, gpa + 2 * PAGE + 8, NULL);
	assert_int_equal(gm_view_get(s, gpa + 2 * PAGE, 8, GM_PROT_WRITE,
				     &view),
			 -EINVAL);
	assert_int_equal(gm_lease_get(s, gpa + 2 * PAGE, 8, GM_PROT_WRITE, &l),
			 -EINVAL);
	assert_null(l);

	/* Reads of both read-only pages still work. */
	assert_int_equal(gm_read_u32(s, gpa + PAGE + 0x20, &v), 0);
	assert_int_equal(v, pattern(gfn + 1, 0x20));
	assert_int_equal(gm_read_u32(s, gpa + 2 * PAGE + 8, &v), 0);
	assert_int_equal(v, pattern(gfn + 2, 8));
	assert_int_equal(gm_view_get(s, gpa + 2 * PAGE, 8, GM_PROT_READ,
				     &view),
			 0);
	gm_view_put(&view);

	gm_space_free(s);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* The thread's lookup cache and refused refs                          */
/* ------------------------------------------------------------------ */

/* A cached read-only grant mapping serves reads only: a write maps the ref
 * writable. */
static void test_thread_cache_grant_readonly(void **state)
{
	const uint64_t gpa = 0x7654000, gfn = 100;
	struct gm_xen *x = xen_open(KiB(64), MiB(1));
	uint32_t ref = share(gfn, 8, 1), v = 0;
	struct gm_space *s = space_with(grant(x, gpa, ref, 8, 0));
	struct gm_xen_stats s0;
	int i;

	(void)state;
	guest_fill(gfn, 8);
	for (i = 0; i < 3; i++)
		assert_int_equal(gm_read_u32(s, gpa + 2 * PAGE + 4, &v), 0);
	assert_int_equal(v, pattern(gfn + 2, 4));
	s0 = xstats(x);
	assert_int_equal(gm_read_u32(s, gpa + 2 * PAGE + 8, &v), 0);
	assert_int_equal(xstats(x).hits, s0.hits);
	assert_int_equal(gm_write_u32(s, gpa + 2 * PAGE + 8, 0xabcd), 0);
	assert_int_equal(xstats(x).map_calls, s0.map_calls + 1);
	assert_int_equal(guest_u32(gfn + 2, 8), 0xabcd);

	gm_space_free(s);
	gm_xen_close(x);
}

/* A grant region whose guest never shared one of its refs: accesses to
 * that page fail (all-or-nothing map, EINVAL); the others work. */
static void test_grant_never_shared(void **state)
{
	const uint64_t g = 0x50000000, gfn = 70;
	struct gm_xen *x = xen_open(KiB(64), MiB(1));
	uint32_t ref = share(gfn, 2, 1), val = 0;
	struct gm_space *s;
	struct gm_view v;
	uint8_t buf[5 * PAGE];

	(void)state;
	assert_int_equal(xensim_grant_set_base(DOMID, ref + 3), 0);
	assert_int_equal(share(gfn + 3, 2, 1), ref + 3);
	s = space_with(grant(x, g, ref, 5, 0));
	guest_fill(gfn, 5);

	assert_int_equal(gm_read_u32(s, g + 2 * PAGE + 40, &val), -EINVAL);
	expect_msg("read", g + 2 * PAGE + 40, 4, g + 2 * PAGE + 40,
		   "xen-grant");
	assert_int_equal(gm_write_u32(s, g + 2 * PAGE, 1), -EINVAL);
	assert_int_equal(gm_read(s, g, buf, sizeof(buf)), -EINVAL);
	expect_msg("read", g, sizeof(buf), g + 2 * PAGE, "xen-grant");
	assert_int_equal(gm_read_partial(s, g + 10, buf, sizeof(buf) - 10),
			 2 * PAGE - 10);
	/* A view over the three pages maps them in one call: all fail. */
	assert_int_equal(gm_view_get(s, g + PAGE, 3 * PAGE, GM_PROT_READ, &v),
			 -EINVAL);
	assert_int_equal(sim().grant.live_mappings, 2);

	/* Pages 0, 1, 3 and 4 work. */
	assert_int_equal(gm_read_u32(s, g + 40, &val), 0);
	assert_int_equal(val, pattern(gfn, 40));
	assert_int_equal(gm_read_u32(s, g + PAGE + 40, &val), 0);
	assert_int_equal(val, pattern(gfn + 1, 40));
	assert_int_equal(gm_read_u32(s, g + 3 * PAGE + 40, &val), 0);
	assert_int_equal(val, pattern(gfn + 3, 40));
	assert_int_equal(gm_write_u32(s, g + 4 * PAGE + 40, 0xabc), 0);
	assert_int_equal(guest_u32(gfn + 4, 40), 0xabc);

	gm_space_free(s);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_grant_read_maps_one_ref_readonly),
		XEN_TEST(test_grant_rdonly_region),
		XEN_TEST(test_grant_write_maps_rw),
		XEN_TEST(test_grant_ro_grant_write_fails),
		XEN_TEST(test_thread_cache_grant_readonly),
		XEN_TEST(test_grant_never_shared),
	};

	return cmocka_run_group_tests_name("xen-grant", tests, NULL, NULL);
}
