/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant copy (gm_xen_grant_copy), on the simulator (tests/xensim): copies
 * in both directions checked against the granting domain's own memory,
 * arrays longer than one batch, per-segment statuses when good and bad
 * segments mix (a ref beyond the table, a ref not in use, a domain that
 * does not exist, a copy into a read-only grant), malformed segments
 * refused before any call reaches Xen, a batch call that fails as a
 * whole, a context without gntdev, the messages of gm_last_error(), and
 * copies from several threads at once.  The simulator's counters count
 * the real calls into the (simulated) libxengnttab.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind (tests/xen-fixture.c).
 */
#define _GNU_SOURCE

#include <pthread.h>

#include "xen-fixture.h"
#include "test-util.h"

#define FROM GM_XEN_COPY_FROM_GRANT
#define TO GM_XEN_COPY_TO_GRANT
#define BATCH GM_XEN_COPY_BATCH

/* A ref beyond the simulated grant table (GNTST_bad_gntref). */
#define REF_BEYOND (XENSIM_GNTTAB_ENTRIES + 5)

_Static_assert(sizeof(struct gm_xen_copy_seg) == 32, "ABI size");

static struct gm_xen_copy_seg seg(void *buf, uint32_t domid, uint32_t ref,
				  uint32_t off, uint32_t len,
				  unsigned int flags)
{
	return (struct gm_xen_copy_seg){ .buf = buf, .domid = domid,
					 .ref = ref, .offset = off,
					 .len = len, .flags = flags,
					 .status = 12345 };
}

static uint64_t copy_calls(void)
{
	return sim().calls[XENSIM_FN_GNT_GRANT_COPY];
}

/* ------------------------------------------------------------------ */
/* Data                                                                */
/* ------------------------------------------------------------------ */

/* Reads from grants land in local buffers byte for byte, at any offset
 * and length, one call, nothing mapped. */
static void test_gcopy_from_grant(void **state)
{
	const uint64_t gfn = 100;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 4, 1);
	uint8_t *buf = calloc(4, PAGE);
	struct gm_xen_copy_seg s[6];
	unsigned int i;

	(void)state;
	assert_non_null(buf);
	guest_fill(gfn, 4);
	/* Local buffers at odd places, one across a local page boundary. */
	s[0] = seg(buf, DOMID, ref, 0, PAGE, FROM);
	s[1] = seg(buf + PAGE + 3, DOMID, ref + 1, 17, 1000, FROM);
	s[2] = seg(buf + 2 * PAGE - 10, DOMID, ref + 2, 4095, 1, FROM);
	s[3] = seg(buf + 2 * PAGE + 100, DOMID, ref + 3, 2048, 2048, FROM);
	s[4] = seg(buf + 3 * PAGE + 200, DOMID, ref + 2, 0, 7, FROM);
	s[5] = seg(buf + 3 * PAGE + 300, DOMID, ref, 4000, 96, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 6), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(s[i].status, 0);
	assert_memory_equal(buf, gframe(gfn, 0), PAGE);
	assert_memory_equal(buf + PAGE + 3, gframe(gfn + 1, 17), 1000);
	assert_memory_equal(buf + 2 * PAGE - 10, gframe(gfn + 2, 4095), 1);
	assert_memory_equal(buf + 2 * PAGE + 100, gframe(gfn + 3, 2048), 2048);
	assert_memory_equal(buf + 3 * PAGE + 200, gframe(gfn + 2, 0), 7);
	assert_memory_equal(buf + 3 * PAGE + 300, gframe(gfn, 4000), 96);
	/* One call, no mapping, the cache untouched. */
	assert_int_equal(copy_calls(), 1);
	assert_int_equal(sim().grant.total_mappings, 0);
	assert_int_equal(xstats(x).map_calls, 0);
	/* The guest's memory is as it was. */
	assert_int_equal(guest_u32(gfn + 3, 2048), pattern(gfn + 3, 2048));
	free(buf);
	gm_xen_close(x);
}

/* Writes into writable grants change exactly the bytes named. */
static void test_gcopy_to_grant(void **state)
{
	const uint64_t gfn = 300;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 3, 1);
	uint8_t src[3][PAGE], *want = malloc(3 * PAGE);
	struct gm_xen_copy_seg s[4];
	unsigned int i, k;

	(void)state;
	assert_non_null(want);
	guest_fill(gfn, 3);
	for (k = 0; k < 3; k++)
		for (i = 0; i < PAGE; i++)
			src[k][i] = (uint8_t)(i * 7 + k * 13 + 1);
	memcpy(want, gframe(gfn, 0), 3 * PAGE);
	s[0] = seg(src[0], DOMID, ref, 0, PAGE, TO);
	s[1] = seg(src[1] + 5, DOMID, ref + 1, 100, 333, TO);
	s[2] = seg(src[2], DOMID, ref + 2, 4092, 4, TO);
	s[3] = seg(src[2] + 50, DOMID, ref + 1, 1, 1, TO);
	memcpy(want, src[0], PAGE);
	memcpy(want + PAGE + 100, src[1] + 5, 333);
	memcpy(want + 2 * PAGE + 4092, src[2], 4);
	memcpy(want + PAGE + 1, src[2] + 50, 1);
	assert_int_equal(gm_xen_grant_copy(x, s, 4), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(s[i].status, 0);
	assert_memory_equal(gframe(gfn, 0), want, 3 * PAGE);
	assert_int_equal(copy_calls(), 1);
	assert_int_equal(sim().grant.total_mappings, 0);
	free(want);
	gm_xen_close(x);
}

/* Both directions in one array, over grants that are not consecutive. */
static void test_gcopy_both_directions(void **state)
{
	const uint64_t gfn = 40;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t a = share(gfn, 1, 1), ro = share(gfn + 9, 1, 0);
	uint32_t b = share(gfn + 3, 1, 1);
	uint8_t in[2][64], out[64];
	struct gm_xen_copy_seg s[3];

	(void)state;
	guest_fill(gfn, 10);
	memset(in, 0, sizeof(in));
	memset(out, 0x5a, sizeof(out));
	s[0] = seg(in[0], DOMID, ro, 128, 64, FROM);
	s[1] = seg(out, DOMID, b, 256, 64, TO);
	s[2] = seg(in[1], DOMID, a, 0, 64, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 3), 0);
	assert_memory_equal(in[0], gframe(gfn + 9, 128), 64);
	assert_memory_equal(gframe(gfn + 3, 256), out, 64);
	assert_memory_equal(in[1], gframe(gfn, 0), 64);
	assert_int_equal(guest_u32(gfn + 3, 252), pattern(gfn + 3, 252));
	assert_int_equal(guest_u32(gfn + 3, 320), pattern(gfn + 3, 320));
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

/* @n segments of 32 bytes each, spread over 8 grants from @gfn, copied
 * into @buf; checks the data and returns the number of copy calls. */
static uint64_t copy_n(struct gm_xen *x, uint64_t gfn, uint32_t ref,
		       unsigned int n)
{
	struct gm_xen_copy_seg *s = calloc(n, sizeof(*s));
	uint8_t *buf = malloc((size_t)n * 32);
	uint64_t c0 = copy_calls(), calls;
	unsigned int i;

	assert_non_null(s);
	assert_non_null(buf);
	memset(buf, 0, (size_t)n * 32);
	for (i = 0; i < n; i++)
		s[i] = seg(buf + i * 32, DOMID, ref + i % 8,
			   (i * 32 * 5) % PAGE, 32, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, n), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(s[i].status, 0);
		assert_memory_equal(buf + i * 32,
				    gframe(gfn + i % 8, (i * 32 * 5) % PAGE),
				    32);
	}
	calls = copy_calls() - c0;
	free(buf);
	free(s);
	return calls;
}

/* Arrays longer than a batch go in batches of GM_XEN_COPY_BATCH. */
static void test_gcopy_batches(void **state)
{
	const uint64_t gfn = 500;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 8, 1);

	(void)state;
	guest_fill(gfn, 8);
	assert_int_equal(copy_n(x, gfn, ref, 1), 1);
	assert_int_equal(copy_n(x, gfn, ref, BATCH), 1);
	assert_int_equal(copy_n(x, gfn, ref, BATCH + 1), 2);
	assert_int_equal(copy_n(x, gfn, ref, 2 * BATCH + 7), 3);
	assert_int_equal(copy_n(x, gfn, ref, 1000), (1000 + BATCH - 1) / BATCH);
	assert_int_equal(sim().grant.total_mappings, 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Statuses                                                            */
/* ------------------------------------------------------------------ */

/*
 * Good and bad segments in one call: each gets its own status, the good
 * ones are copied, nothing is written into the read-only grant, and the
 * call returns the first failure's error, named by gm_last_error().
 */
static void test_gcopy_mixed_statuses(void **state)
{
	const uint64_t gfn = 700;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t rw = share(gfn, 2, 1), ro = share(gfn + 2, 1, 0);
	uint8_t buf[8][256], junk[256];
	struct gm_xen_copy_seg s[8];
	unsigned int i;

	(void)state;
	guest_fill(gfn, 3);
	memset(buf, 0, sizeof(buf));
	memset(junk, 0xee, sizeof(junk));
	s[0] = seg(buf[0], DOMID, rw, 0, 256, FROM);
	s[1] = seg(buf[1], DOMID, REF_BEYOND, 0x40, 200, FROM);
	s[2] = seg(buf[2], DOMID, ro + 100, 0, 16, FROM); /* not in use */
	s[3] = seg(buf[3], NODOM, rw, 0, 16, FROM);
	s[4] = seg(junk, DOMID, ro, 0x80, 256, TO);	  /* read-only */
	s[5] = seg(buf[5], DOMID, ro, 0x80, 256, FROM);	  /* reading is fine */
	s[6] = seg(junk, DOMID, rw + 1, 8, 100, TO);
	s[7] = seg(buf[7], DOMID, rw + 1, 0, 256, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 8), -EINVAL);
	assert_int_equal(s[0].status, 0);
	assert_int_equal(s[1].status, -EINVAL);
	assert_int_equal(s[2].status, -EACCES);
	assert_int_equal(s[3].status, -ESRCH);
	assert_int_equal(s[4].status, -EACCES);
	assert_int_equal(s[5].status, 0);
	assert_int_equal(s[6].status, 0);
	assert_int_equal(s[7].status, 0);
	assert_error_has("gm_xen_grant_copy: segment 1 of 8 (from grant: "
			 "domain 5, ref 32773, offset 0x40, 200 bytes): "
			 "Invalid argument (GNTST_bad_gntref, -3); "
			 "4 segments failed");
	/* The good ones were copied, the later ones too. */
	assert_memory_equal(buf[0], gframe(gfn, 0), 256);
	assert_memory_equal(buf[5], gframe(gfn + 2, 0x80), 256);
	assert_memory_equal(gframe(gfn + 1, 8), junk, 100);
	assert_memory_equal(buf[7], gframe(gfn + 1, 0), 256);
	/* The failed ones left their buffers alone. */
	for (i = 1; i < 4; i++)
		assert_int_equal(buf[i][0] | buf[i][15], 0);
	/* The read-only grant is untouched. */
	assert_int_equal(guest_u32(gfn + 2, 0x80), pattern(gfn + 2, 0x80));
	assert_int_equal(guest_u32(gfn + 2, 0x17c), pattern(gfn + 2, 0x17c));
	assert_int_equal(copy_calls(), 1);
	assert_int_equal(sim().copy_errors, 4);

	/* Alone, a copy into the read-only grant: -EACCES, named. */
	s[0] = seg(junk, DOMID, ro, 0xffc, 4, TO);
	assert_int_equal(gm_xen_grant_copy(x, s, 1), -EACCES);
	assert_int_equal(s[0].status, -EACCES);
	assert_error_has("segment 0 of 1 (to grant: domain 5, ref ");
	assert_error_has(", offset 0xffc, 4 bytes): Permission denied "
			 "(GNTST_general_error, -1); 1 segment failed");
	assert_int_equal(guest_u32(gfn + 2, 0xffc), pattern(gfn + 2, 0xffc));

	/* A domain that does not exist: -ESRCH. */
	s[0] = seg(buf[0], NODOM, 8, 0, 1, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 1), -ESRCH);
	assert_error_has("(from grant: domain 99, ref 8, offset 0, 1 bytes): "
			 "No such process (GNTST_bad_domain, -2)");
	gm_xen_close(x);
}

/* A bad segment in a later batch: the batches around it are copied, and
 * the return names it. */
static void test_gcopy_failure_in_later_batch(void **state)
{
	const uint64_t gfn = 900;
	const unsigned int n = 2 * BATCH + 10, bad = BATCH + 3;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 1, 1);
	struct gm_xen_copy_seg s[2 * BATCH + 10];
	uint8_t buf[2 * BATCH + 10][8];
	unsigned int i;
	char want[96];

	(void)state;
	guest_fill(gfn, 1);
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < n; i++)
		s[i] = seg(buf[i], DOMID, i == bad ? ref + 1 : ref, i * 8, 8,
			   FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, n), -EACCES);
	for (i = 0; i < n; i++) {
		if (i == bad) {
			assert_int_equal(s[i].status, -EACCES);
			continue;
		}
		assert_int_equal(s[i].status, 0);
		assert_memory_equal(buf[i], gframe(gfn, i * 8), 8);
	}
	snprintf(want, sizeof(want), "segment %u of %u (from grant: domain 5, "
		 "ref %u, offset %#x, 8 bytes)", bad, n, ref + 1, bad * 8);
	assert_error_has(want);
	assert_int_equal(copy_calls(), 3);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Refused up front                                                    */
/* ------------------------------------------------------------------ */

/*
 * A malformed segment between two good ones: -EINVAL, the good ones
 * -ECANCELED and not copied, no call into libxengnttab at all.
 */
static void test_gcopy_malformed_refused(void **state)
{
	const uint64_t gfn = 1000;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 2, 1);
	uint8_t in[PAGE], out[PAGE];
	static const struct {
		uint32_t domid, off, len;
		unsigned int flags;
		int null_buf;
		const char *why;
	} bad[] = {
		{ DOMID, 1, PAGE, TO, 0, "crosses the end of the granted" },
		{ DOMID, 4000, 97, FROM, 0, "crosses the end" },
		{ DOMID, PAGE, 1, FROM, 0, "crosses the end" },
		{ DOMID, 0xffffffffu, 2, FROM, 0, "crosses the end" },
		{ DOMID, 8, 0xffffffffu, TO, 0, "crosses the end" },
		{ DOMID, 0, 0, FROM, 0, "length is 0" },
		{ DOMID, 0, 16, FROM, 1, "buffer is NULL" },
		{ DOMID, 0, 16, 0, 0, "flags must be one of" },
		{ DOMID, 0, 16, FROM | TO, 0, "flags must be one of" },
		{ DOMID, 0, 16, 0x4, 0, "flags must be one of" },
		{ DOMID, 0, 16, FROM | 0x100, 0, "flags must be one of" },
		{ 0x10000 + DOMID, 0, 16, FROM, 0, "domid is above 0xffff" },
	};
	struct gm_xen_copy_seg s[3];
	unsigned int i;

	(void)state;
	guest_fill(gfn, 2);
	memset(out, 0x3c, sizeof(out));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(in, 0xaa, sizeof(in));
		s[0] = seg(in, DOMID, ref, 0, 64, FROM);
		s[1] = seg(bad[i].null_buf ? NULL : out, bad[i].domid, ref + 1,
			   bad[i].off, bad[i].len, bad[i].flags);
		s[2] = seg(out, DOMID, ref + 1, 0, 64, TO);
		assert_int_equal(gm_xen_grant_copy(x, s, 3), -EINVAL);
		assert_int_equal(s[0].status, -ECANCELED);
		assert_int_equal(s[1].status, -EINVAL);
		assert_int_equal(s[2].status, -ECANCELED);
		assert_error_has("gm_xen_grant_copy: segment 1 of 3 (");
		assert_error_has(bad[i].why);
		assert_error_has("1 malformed segment, nothing copied");
		assert_int_equal(in[0] & in[63], 0xaa);
		assert_int_equal(guest_u32(gfn + 1, 0), pattern(gfn + 1, 0));
		assert_int_equal(guest_u32(gfn + 1, 60), pattern(gfn + 1, 60));
	}
	/* Two malformed: the first is named, both counted. */
	s[0] = seg(in, DOMID, ref, 4095, 2, FROM);
	s[1] = seg(in, DOMID, ref, 0, 0, FROM);
	s[2] = seg(in, DOMID, ref, 0, 1, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 3), -EINVAL);
	assert_int_equal(s[0].status, -EINVAL);
	assert_int_equal(s[1].status, -EINVAL);
	assert_int_equal(s[2].status, -ECANCELED);
	assert_error_has("segment 0 of 3 (from grant: domain 5, ref");
	assert_error_has("offset 0xfff, 2 bytes): crosses the end of the "
			 "granted page; 2 malformed segments, nothing copied");
	assert_int_equal(copy_calls(), 0);

	/* The edges that are allowed. */
	s[0] = seg(in, DOMID, ref, 4095, 1, FROM);
	s[1] = seg(in + 1, DOMID, ref, 0, PAGE - 1, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 2), 0);
	assert_memory_equal(in, gframe(gfn, 4095), 1);
	assert_memory_equal(in + 1, gframe(gfn, 0), PAGE - 1);
	assert_int_equal(copy_calls(), 1);
	gm_xen_close(x);
}

/* Arguments of the call itself. */
static void test_gcopy_bad_arguments(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(10, 1, 1);
	uint8_t in[16];
	struct gm_xen_copy_seg s[2];

	(void)state;
	s[0] = seg(in, DOMID, ref, 0, 16, FROM);
	s[1] = seg(in, DOMID, ref, 0, 16, FROM);
	/* Nothing to do: no call, whatever segs is. */
	assert_int_equal(gm_xen_grant_copy(x, NULL, 0), 0);
	assert_int_equal(gm_xen_grant_copy(x, s, 0), 0);
	assert_int_equal(s[0].status, 12345);
	assert_int_equal(gm_xen_grant_copy(x, NULL, 1), -EINVAL);
	assert_error_has("segs is NULL");
	/* A count beyond the maximum: refused, no status written. */
	assert_int_equal(gm_xen_grant_copy(x, s, GM_XEN_COPY_MAX + 1),
			 -EINVAL);
	assert_error_has("more than GM_XEN_COPY_MAX");
	assert_int_equal(s[0].status, 12345);
	assert_int_equal(gm_xen_grant_copy(x, s, UINT32_MAX), -EINVAL);
	/* No context: every status says "not attempted". */
	assert_int_equal(gm_xen_grant_copy(NULL, s, 2), -EINVAL);
	assert_error_has("x is NULL");
	assert_int_equal(s[0].status, -ECANCELED);
	assert_int_equal(s[1].status, -ECANCELED);
	assert_int_equal(copy_calls(), 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Whole-call failures                                                 */
/* ------------------------------------------------------------------ */

/*
 * The second batch's call fails as a whole: the first batch is copied,
 * the second's segments get the call's error, the rest are not tried.
 */
static void test_gcopy_batch_call_fails(void **state)
{
	const uint64_t gfn = 1100;
	const unsigned int n = 2 * BATCH + 22;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 1, 1);
	struct gm_xen_copy_seg s[2 * BATCH + 22];
	uint8_t buf[2 * BATCH + 22][4];
	unsigned int i;
	char want[256];

	(void)state;
	guest_fill(gfn, 1);
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < n; i++)
		s[i] = seg(buf[i], DOMID, ref, i * 4, 4, FROM);
	assert_int_equal(xensim_inject(XENSIM_FN_GNT_GRANT_COPY, 1, 1, ENOMEM),
			 0);
	assert_int_equal(gm_xen_grant_copy(x, s, n), -ENOMEM);
	for (i = 0; i < n; i++) {
		int want_st = i < BATCH ? 0 : i < 2 * BATCH ? -ENOMEM
							    : -ECANCELED;

		assert_int_equal(s[i].status, want_st);
		if (!want_st)
			assert_memory_equal(buf[i], gframe(gfn, i * 4), 4);
	}
	snprintf(want, sizeof(want), "segment %u of %u (from grant: domain 5, "
		 "ref %u, offset %#x, 4 bytes): xengnttab_grant_copy failed "
		 "for segments %u-%u (Cannot allocate memory); %u segments "
		 "failed, 22 not attempted", BATCH, n, ref, BATCH * 4, BATCH,
		 2 * BATCH - 1, BATCH);
	assert_error_has(want);
	assert_int_equal(copy_calls(), 2);
	gm_xen_close(x);
}

/* A local buffer the kernel cannot write: the call fails with EFAULT, as
 * gntdev's does, and that is every status of its batch. */
static void test_gcopy_unwritable_buffer(void **state)
{
	const uint64_t gfn = 1200;
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(gfn, 1, 1);
	uint8_t *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	uint8_t ok[8];
	struct gm_xen_copy_seg s[2];

	(void)state;
	assert_true(ro != MAP_FAILED);
	guest_fill(gfn, 1);
	s[0] = seg(ok, DOMID, ref, 0, 8, FROM);
	s[1] = seg(ro, DOMID, ref, 8, 8, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 2), -EFAULT);
	assert_int_equal(s[0].status, -EFAULT);
	assert_int_equal(s[1].status, -EFAULT);
	assert_error_has("xengnttab_grant_copy failed for segments 0-1 (Bad "
			 "address)");
	/* Copying out of it is fine. */
	s[0] = seg(ro, DOMID, ref, 8, 8, TO);
	assert_int_equal(gm_xen_grant_copy(x, s, 1), 0);
	assert_int_equal(guest_u32(gfn, 8), 0);
	munmap(ro, PAGE);
	gm_xen_close(x);
}

/* A context whose libxengnttab did not open: its errno, nothing tried. */
static void test_gcopy_without_gntdev(void **state)
{
	struct gm_xen *x;
	uint8_t in[8];
	struct gm_xen_copy_seg s[1];

	(void)state;
	assert_int_equal(xensim_inject(XENSIM_FN_GNT_OPEN, 0, 1, ENOENT), 0);
	x = xen_open(0, 0);
	s[0] = seg(in, DOMID, 8, 0, 8, FROM);
	assert_int_equal(gm_xen_grant_copy(x, s, 1), -ENOENT);
	assert_int_equal(s[0].status, -ECANCELED);
	assert_error_has("libxengnttab could not be opened");
	assert_int_equal(copy_calls(), 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

#define NTHREADS 4
#define ROUNDS 100
#define NSEG 16 /* segments per call, 256 bytes each: one page */

struct worker {
	struct gm_xen *x;
	pthread_barrier_t *start;
	uint64_t gfn;
	uint32_t ref;
	int failures;
};

/*
 * Write this thread's own page in NSEG segments and read it back in NSEG
 * more, ROUNDS times, the data checked each time: a batch or status that
 * leaked between threads would put one thread's bytes in another's page.
 */
static void *worker(void *arg)
{
	struct worker *w = arg;
	uint8_t out[PAGE], in[PAGE];
	struct gm_xen_copy_seg s[2 * NSEG];
	unsigned int r, i;

	pthread_barrier_wait(w->start);
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < PAGE; i++)
			out[i] = (uint8_t)(w->gfn * 31 + r + i);
		memset(in, 0, sizeof(in));
		for (i = 0; i < NSEG; i++) {
			s[i] = seg(out + i * 256, DOMID, w->ref, i * 256, 256,
				   TO);
			s[NSEG + i] = seg(in + i * 256, DOMID, w->ref,
					  i * 256, 256, FROM);
		}
		if (gm_xen_grant_copy(w->x, s, NSEG) ||
		    gm_xen_grant_copy(w->x, s + NSEG, NSEG) ||
		    memcmp(in, out, sizeof(in)))
			w->failures++;
	}
	return NULL;
}

/* Threads copy through one context at once. */
static void test_gcopy_threads(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ref = share(1500, NTHREADS, 1);
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	pthread_barrier_t start;
	unsigned int i;

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .x = x, .start = &start,
					.gfn = 1500 + i, .ref = ref + i };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]),
				 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(copy_calls(), 2 * NTHREADS * ROUNDS);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_gcopy_from_grant),
		XEN_TEST(test_gcopy_to_grant),
		XEN_TEST(test_gcopy_both_directions),
		XEN_TEST(test_gcopy_batches),
		XEN_TEST(test_gcopy_mixed_statuses),
		XEN_TEST(test_gcopy_failure_in_later_batch),
		XEN_TEST(test_gcopy_malformed_refused),
		XEN_TEST(test_gcopy_bad_arguments),
		XEN_TEST(test_gcopy_batch_call_fails),
		XEN_TEST(test_gcopy_unwritable_buffer),
		XEN_TEST(test_gcopy_without_gntdev),
		XEN_TEST(test_gcopy_threads),
	};

	return cmocka_run_group_tests_name("xen-gcopy", tests, NULL, NULL);
}
