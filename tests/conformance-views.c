/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance suite, run by conf_run() (conformance.c): leases and views,
 * the host pointers into guest memory, and the removed regions they keep
 * alive.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

/* ------------------------------------------------------------------ */
/* Leases                                                              */
/* ------------------------------------------------------------------ */

/*
 * Check that @l's pieces are exactly the shadow of [gpa, gpa + len), in
 * order.  Pieces are not one per region: the library merges pieces that
 * happen to be contiguous in the host (adjacent anonymous mappings often
 * are), so only the partition of the range is checked.
 */
static void lease_matches(struct conf_state *st, struct gm_lease *l,
			  uint64_t gpa, size_t len)
{
	const struct iovec *iov;
	uint8_t *want = malloc(len);
	size_t done = 0;
	int cnt = -1, i;

	assert_non_null(want);
	iov = gm_lease_iov(l, &cnt);
	assert_non_null(iov);
	assert_true(cnt >= 1);
	shadow_read(st, gpa, want, len);
	for (i = 0; i < cnt; i++) {
		assert_true(iov[i].iov_len > 0);
		assert_true(iov[i].iov_len <= len - done);
		assert_memory_equal(iov[i].iov_base, want + done,
				    iov[i].iov_len);
		done += iov[i].iov_len;
	}
	free(want);
	assert_int_equal(done, len);
}

void test_lease(void **state)
{
	struct conf_state *st = *state;
	uint64_t u = st->u, bnd = GPA_B(st);
	struct gm_lease *l = NULL;
	const struct iovec *iov;
	uint8_t data[200];
	size_t done = 0;
	int cnt, i;

	/* Across A | B: the pieces cover the range exactly, in order. */
	expect_ret(gm_lease_get(st->s, bnd - 100, 200,
				GM_PROT_READ | GM_PROT_WRITE, &l),
		   0);
	lease_matches(st, l, bnd - 100, 200);

	/* Writes through the pieces land in guest memory, in order. */
	gen(data, sizeof(data), 10);
	iov = gm_lease_iov(l, &cnt);
	for (i = 0; i < cnt; i++) {
		memcpy(iov[i].iov_base, data + done, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	shadow_write(st, bnd - 100, data, sizeof(data));
	gm_lease_put(l);
	expect_mem(st, bnd - 300, 600);

	/* Whole regions, read-only memory, the top of memory. */
	expect_ret(gm_lease_get(st->s, GPA_A(st), 2 * u, GM_PROT_READ, &l), 0);
	lease_matches(st, l, GPA_A(st), 2 * u);
	gm_lease_put(l);
	expect_ret(gm_lease_get(st->s, GPA_RO(st) - 10, 30, GM_PROT_READ, &l),
		   0);
	lease_matches(st, l, GPA_RO(st) - 10, 30);
	gm_lease_put(l);
	expect_ret(gm_lease_get(st->s, GPA_TOP(st), u, GM_PROT_WRITE, &l), 0);
	lease_matches(st, l, GPA_TOP(st), u);
	gm_lease_put(l);

	/* Holes and write leases of read-only memory are refused. */
	l = NULL;
	expect_ret(gm_lease_get(st->s, bnd, u + 1, GM_PROT_READ, &l), -EFAULT);
	expect_ret(gm_lease_get(st->s, GPA_HOLE(st) + 1, 10, GM_PROT_READ, &l),
		   -EFAULT);
	expect_ret(gm_lease_get(st->s, GPA_RO(st), 10, GM_PROT_WRITE, &l),
		   -EACCES);
	expect_ret(gm_lease_get(st->s, GPA_RO(st) - 10, 20,
				GM_PROT_READ | GM_PROT_WRITE, &l),
		   -EACCES);
	gm_lease_put(NULL);
}

void test_lease_keeps_region(void **state)
{
	struct conf_state *st = *state;
	const uint8_t *hva = hot_add(st, 0x3c);
	struct gm_lease *l = NULL;
	const struct iovec *iov;
	uint8_t b;
	size_t done = 0;
	int cnt, i;

	expect_ret(gm_lease_get(st->s, GPA_HOT(st), st->u,
				GM_PROT_READ | GM_PROT_WRITE, &l),
		   0);
	expect_ret(gm_space_remove_region(st->s, GPA_HOT(st)), 0);
	expect_ret(gm_read_u8(st->s, GPA_HOT(st), &b), -EFAULT);
	check_gone(st, hva, 0);

	/* Still mapped, still the region's memory, still writable. */
	iov = gm_lease_iov(l, &cnt);
	for (i = 0; i < cnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t j;

		for (j = 0; j < iov[i].iov_len; j++)
			if (p[j] != 0x3c)
				fail_msg("byte %zu of the removed region is "
					 "0x%02x",
					 done + j, p[j]);
		memset(iov[i].iov_base, 0x99, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	assert_int_equal(done, st->u);
	gm_lease_put(l);
	check_gone(st, hva, 1);

	/* The address can be used again right away. */
	hva = hot_add(st, 0x4d);
	expect_ret(gm_read_u8(st->s, GPA_HOT(st) + 5, &b), 0);
	assert_int_equal(b, 0x4d);
	expect_ret(gm_space_remove_region(st->s, GPA_HOT(st)), 0);
	check_gone(st, hva, 1);
}

void test_lease_outlives_space(void **state)
{
	struct conf_state *st = *state;
	struct gm_lease *l = NULL;
	struct gm_view v;
	uint8_t want[64], got[64];

	expect_ret(gm_lease_get(st->s, GPA_B(st) - 32, 64, GM_PROT_READ, &l),
		   0);
	expect_ret(gm_view_get(st->s, GPA_C(st), 64, GM_PROT_READ, &v), 0);
	shadow_read(st, GPA_C(st), want, sizeof(want));
	lease_matches(st, l, GPA_B(st) - 32, 64);

	/* Regions with live leases or views outlive the space. */
	gm_space_free(st->s);
	st->s = NULL;
	lease_matches(st, l, GPA_B(st) - 32, 64);
	expect_ret(gm_view_read(&v, GPA_C(st), got, sizeof(got)), 0);
	assert_memory_equal(got, want, sizeof(got));
	gm_lease_put(l);
	gm_view_put(&v);
	if (cf->region_gone) {
		assert_int_equal(cf->region_gone(cf_ctx, GPA_B(st),
						 st->r[R_B].hva0),
				 1);
		assert_int_equal(cf->region_gone(cf_ctx, GPA_C(st),
						 st->r[R_C].hva0),
				 1);
	}
}

/* ------------------------------------------------------------------ */
/* Views                                                               */
/* ------------------------------------------------------------------ */

static int view_is_zero(const struct gm_view *v)
{
	static const struct gm_view zero;

	return !memcmp(v, &zero, sizeof(zero));
}

void test_view(void **state)
{
	struct conf_state *st = *state;
	uint64_t base = GPA_B(st) + 64;
	uint8_t data[64], got[64], want[64], big[1025];
	struct gm_view v;
	uint64_t gpa;

	expect_ret(gm_view_get(st->s, base, 1024,
			       GM_PROT_READ | GM_PROT_WRITE, &v),
		   0);
	assert_int_equal(v.gpa, base);
	assert_int_equal(v.len, 1024);
	assert_non_null(v.hva);
	assert_non_null(v.region);
	assert_int_equal(v.prot, GM_PROT_READ | GM_PROT_WRITE);

	/* Bytes. */
	expect_ret(gm_view_read(&v, base, got, sizeof(got)), 0);
	shadow_read(st, base, want, sizeof(want));
	assert_memory_equal(got, want, sizeof(got));
	gen(data, sizeof(data), 11);
	expect_ret(gm_view_write(&v, base + 100, data, sizeof(data)), 0);
	shadow_write(st, base + 100, data, sizeof(data));
	expect_mem(st, base, 1024);
	expect_ret(gm_view_write(&v, base + 1024 - 64, data, 64), 0);
	shadow_write(st, base + 1024 - 64, data, 64);
	expect_ret(gm_view_read(&v, base + 1024 - 63, got, 64), -EFAULT);
	expect_ret(gm_view_write(&v, base + 1024 - 63, data, 64), -EFAULT);
	expect_ret(gm_view_read(&v, base - 1, got, 2), -EFAULT);
	expect_ret(gm_view_read(&v, base, big, sizeof(big)), -EFAULT);
	expect_ret(gm_view_read(&v, UINT64_MAX, got, 1), -EFAULT);

	/* Every typed accessor, at every alignment, and at the view's end. */
	for (gpa = base + 200; gpa < base + 208; gpa++) {
#define CONF_VIEW(sfx, T, ...)                                                \
	view_typed_##sfx(st, &v, gpa, 0xa5a5f00d12345678ull ^ gpa);           \
	view_typed_##sfx(st, &v, base + 1024 - sizeof(T), gpa);
		GM_INT_TYPES(CONF_VIEW)
		GM_ENDIAN_TYPES(CONF_VIEW)
#undef CONF_VIEW
	}

	/* Every atomic. */
#define CONF_VIEW_ATOMIC(sfx, T, ...)                                         \
	view_atomic_##sfx(st, &v, base + 512, 1);                             \
	view_atomic_##sfx(st, &v, base + 1024 - sizeof(T), 0);
	GM_INT_TYPES(CONF_VIEW_ATOMIC)
#undef CONF_VIEW_ATOMIC
	expect_mem(st, base - 64, 1024 + 128);

	gm_view_put(&v);
	/* A released view and a zeroed view are no-ops. */
	gm_view_put(&v);
	memset(&v, 0, sizeof(v));
	gm_view_put(&v);

	/* The top of memory. */
	expect_ret(gm_view_get(st->s, GPA_TOP(st), st->u, GM_PROT_WRITE, &v),
		   0);
	expect_ret(gm_view_write_u64(&v, UINT64_MAX - 7, 0x1122334455667788),
		   0);
	shadow_write(st, UINT64_MAX - 7, &(uint64_t){ 0x1122334455667788 }, 8);
	expect_ret(gm_view_write_u64(&v, UINT64_MAX - 3, 0), -EFAULT);
	expect_ret(gm_view_atomic_store_u64(&v, UINT64_MAX - 7, 0x77,
					    GM_RELEASE),
		   0);
	shadow_write(st, UINT64_MAX - 7, &(uint64_t){ 0x77 }, 8);
	gm_view_put(&v);
}

void test_view_refused(void **state)
{
	struct conf_state *st = *state;
	struct gm_view v;
	uint8_t b[16] = { 0 };

	/* Read-only view of writable memory: every write is -EACCES. */
	expect_ret(gm_view_get(st->s, GPA_A(st) + 64, 64, GM_PROT_READ, &v), 0);
	assert_int_equal(v.prot, GM_PROT_READ);
	expect_ret(gm_view_write(&v, GPA_A(st) + 64, b, 1), -EACCES);
#define CONF_VIEW_DENIED(sfx, T, ...) view_denied_##sfx(&v, GPA_A(st) + 64);
	GM_INT_TYPES(CONF_VIEW_DENIED)
#undef CONF_VIEW_DENIED
#define CONF_VIEW_DENIED_E(sfx, T, ...)                                       \
	expect_ret(gm_view_write_##sfx(&v, GPA_A(st) + 70, 0), -EACCES);
	GM_ENDIAN_TYPES(CONF_VIEW_DENIED_E)
#undef CONF_VIEW_DENIED_E
	gm_view_put(&v);

	/* Read-only memory: readable view yes, writable view no. */
	expect_ret(gm_view_get(st->s, GPA_RO(st), 64, GM_PROT_READ, &v), 0);
#define CONF_VIEW_DENIED(sfx, T, ...) view_denied_##sfx(&v, GPA_RO(st) + 8);
	GM_INT_TYPES(CONF_VIEW_DENIED)
#undef CONF_VIEW_DENIED
	gm_view_put(&v);
	memset(&v, 0xff, sizeof(v));
	expect_ret(gm_view_get(st->s, GPA_RO(st), 64, GM_PROT_WRITE, &v),
		   -EACCES);
	assert_true(view_is_zero(&v));
	memset(&v, 0xff, sizeof(v));
	expect_ret(gm_view_get(st->s, GPA_RO(st), 64,
			       GM_PROT_READ | GM_PROT_WRITE, &v),
		   -EACCES);
	assert_true(view_is_zero(&v));

	/* Views never cross a region boundary, even between neighbours. */
	memset(&v, 0xff, sizeof(v));
	expect_ret(gm_view_get(st->s, GPA_B(st) - 8, 16, GM_PROT_READ, &v),
		   -EINVAL);
	assert_true(view_is_zero(&v));
	expect_ret(gm_view_get(st->s, GPA_RO(st) - 1, 2, GM_PROT_READ, &v),
		   -EINVAL);
	expect_ret(gm_view_get(st->s, GPA_A(st), 2 * st->u, GM_PROT_READ, &v),
		   -EINVAL);

	/* Holes: inside, and running into one. */
	memset(&v, 0xff, sizeof(v));
	expect_ret(gm_view_get(st->s, GPA_HOLE(st) + 8, 16, GM_PROT_READ, &v),
		   -EFAULT);
	assert_true(view_is_zero(&v));
	expect_ret(gm_view_get(st->s, GPA_HOLE(st) - 8, 16, GM_PROT_READ, &v),
		   -EFAULT);
	expect_ret(gm_view_get(st->s, GPA_4G(st) - 8, 16, GM_PROT_READ, &v),
		   -EFAULT);
	gm_view_put(&v);
}

void test_view_keeps_region(void **state)
{
	struct conf_state *st = *state;
	const uint8_t *hva = hot_add(st, 0x6e);
	struct gm_view v;
	uint32_t v32 = 0;

	expect_ret(gm_view_get(st->s, GPA_HOT(st) + 8, 64,
			       GM_PROT_READ | GM_PROT_WRITE, &v),
		   0);
	expect_ret(gm_space_remove_region(st->s, GPA_HOT(st)), 0);
	expect_ret(gm_read_u32(st->s, GPA_HOT(st) + 8, &v32), -EFAULT);
	check_gone(st, hva, 0);
	expect_ret(gm_view_read_u32(&v, GPA_HOT(st) + 60, &v32), 0);
	assert_int_equal(v32, 0x6e6e6e6e);
	expect_ret(gm_view_write_u32(&v, GPA_HOT(st) + 60, 1), 0);
	expect_ret(gm_view_atomic_fetch_add_u32(&v, GPA_HOT(st) + 60, 1, &v32,
						GM_SEQ_CST),
		   0);
	assert_int_equal(v32, 1);
	gm_view_put(&v);
	check_gone(st, hva, 1);
}
