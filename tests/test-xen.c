/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Xen backend's mapping behaviour, on the simulator (tests/xensim):
 * what each access maps, how the cache stays within its budget under
 * threads, how views and leases pin, and what every injected failure turns
 * into.  Assertions use gm_xen_get_stats() and the simulator's counters,
 * which count the real calls into the (simulated) Xen libraries.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind: the teardown fails the test if xensim_reset()
 * finds a mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdatomic.h>

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

	/* An HVM guest's highest frame lies above its memory (holes). */
	assert_int_equal(xensim_domain_set_max_gpfn(DOMID, 0x1ffff), 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, GM_XEN_RDONLY, &s),
			 0);
	assert_int_equal(gm_space_get_regions(s, &info, 1), 1);
	assert_int_equal(info.size, 0x20000ull * PAGE);
	assert_int_equal(info.flags & GM_REGION_RDONLY, GM_REGION_RDONLY);
	assert_int_equal(gm_read_u32(s, 0x1ffffull * PAGE, &val), -EINVAL);
	msg_space = "domain-5";
	expect_msg("read", 0x1ffffull * PAGE, 4, 0x1ffffull * PAGE,
		   "xen-foreign");
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
		{ .reserved = { 0, 0, 0, 1 } },
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
		XEN_TEST(test_foreign_read_maps_one_bucket),
		XEN_TEST(test_grant_read_maps_one_ref_readonly),
		XEN_TEST(test_grant_rdonly_region),
		XEN_TEST(test_grant_write_maps_rw),
		XEN_TEST(test_grant_ro_grant_write_fails),
		XEN_TEST(test_threads_within_budget),
		XEN_TEST(test_threads_with_invalidate),
		XEN_TEST(test_view_pins_entry),
		XEN_TEST(test_view_across_buckets),
		XEN_TEST(test_lease_pins_entries),
		XEN_TEST(test_budget_full_of_pins),
		XEN_TEST(test_invalidate),
	XEN_TEST(test_thread_cache_invalidated),
	XEN_TEST(test_thread_cache_evicted),
	XEN_TEST(test_thread_cache_grant_readonly),
	XEN_TEST(test_window_placement),
		XEN_TEST(test_window_reads),
		XEN_TEST(test_large_and_partial),
		XEN_TEST(test_region_args),
		XEN_TEST(test_frame_error_einval),
		XEN_TEST(test_view_over_bad_page),
		XEN_TEST(test_frame_error_eperm),
		XEN_TEST(test_whole_map_enomem),
		XEN_TEST(test_whole_map_efault),
		XEN_TEST(test_paged_out),
		XEN_TEST(test_paged_out_retried_later),
		XEN_TEST(test_grant_never_shared),
		XEN_TEST(test_no_such_domain),
		XEN_TEST(test_eager_no_such_domain),
		XEN_TEST(test_eager_bad_frames),
		XEN_TEST(test_space_open_domain),
		XEN_TEST(test_open_options),
		XEN_TEST(test_open_handle_failures),
		XEN_TEST(test_context_outlives_close),
	};

	return cmocka_run_group_tests_name("xen", tests, NULL, NULL);
}
