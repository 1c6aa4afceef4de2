/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the on-demand path: the dispatch layer (common/region.c)
 * as the accessors use it, against the in-memory fake backend
 * (tests/fake-region.c): partial maps, balanced map/unmap, GM_MAP_WHOLE
 * for views and atomics, GM_MAP_HOLD for views and leases, fd I/O over
 * more pieces than IOV_MAX, map failures reported at the exact guest
 * address, and backends that break the map contract; the same again in
 * a GM_SPACE_FAULT_SAFE space, plus pages that fault under it.
 *
 * The fake backend checks every call common code makes against the
 * backend contract; each test ends by checking that it saw no breach.
 */
#include "space-fixture.h"

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* ------------------------------------------------------------------ */
/* The on-demand path through the dispatch layer                       */
/* ------------------------------------------------------------------ */

/*
 * Layout of the on-demand tests, all regions on demand with fx->chunk as
 * the backend's largest map unless said otherwise:
 *   A  [0x100000, 0x103000)
 *   B  [0x103000, 0x105000)   adjacent to A
 *      [0x105000, 0x106000)   hole
 *   P  [0x106000, 0x107000)   persistent
 *   R  [0x108000, 0x109000)   read-only
 */
#define A_GPA UINT64_C(0x100000)
#define A_SIZE UINT64_C(0x3000)
#define B_GPA UINT64_C(0x103000)
#define B_SIZE UINT64_C(0x2000)
#define HOLE_GPA UINT64_C(0x105000)
#define P_GPA UINT64_C(0x106000)
#define R_GPA UINT64_C(0x108000)

struct layout {
	struct fake_region *a, *b, *p, *r;
};

static void layout_add(struct fixture *fx, struct layout *ly)
{
	ly->a = fake_add(fx->s, (struct fake_config){
		.gpa = A_GPA, .size = A_SIZE, .max_map = fx->chunk });
	ly->b = fake_add(fx->s, (struct fake_config){
		.gpa = B_GPA, .size = B_SIZE, .max_map = fx->chunk });
	ly->p = fake_add(fx->s, (struct fake_config){
		.gpa = P_GPA, .size = PAGE, .persistent = 1 });
	ly->r = fake_add(fx->s, (struct fake_config){
		.gpa = R_GPA, .size = PAGE, .max_map = fx->chunk,
		.flags = GM_REGION_RDONLY });
}

/* Map calls so far on every region, to compare against later. */
struct calls {
	unsigned long a, b, r;
};

static struct calls calls_now(const struct layout *ly)
{
	return (struct calls){ atomic_load(&ly->a->map_calls),
			       atomic_load(&ly->b->map_calls),
			       atomic_load(&ly->r->map_calls) };
}

/* Every map has been unmapped again. */
static void assert_balanced(const struct layout *ly)
{
	const struct fake_region *f[] = { ly->a, ly->b, ly->r };
	size_t i;

	for (i = 0; i < GM__ARRAY_SIZE(f); i++) {
		assert_int_equal(atomic_load(&f[i]->live), 0);
		assert_int_equal(atomic_load(&f[i]->maps),
				 atomic_load(&f[i]->unmaps));
	}
	assert_int_equal(atomic_load(&ly->p->map_calls), 0);
	assert_no_violations();
}

/* Reads, writes and fills across A and B: pieces of at most the chunk
 * size, exactly as many map calls as that takes, all unmapped again. */
static void test_ondemand_read_write_fill(void **state)
{
	struct fixture *fx = *state;
	const uint64_t start = A_GPA + 0x1f00, len = 0x2000 + 123;
	const uint64_t la = A_GPA + A_SIZE - start, lb = len - la;
	const uint64_t c = fx->chunk;
	struct layout ly;
	struct calls c0, c1;
	uint8_t *src = malloc(len), *dst = malloc(len);
	uint64_t i, v64;
	uint32_t v32;
	uint16_t v16;

	assert_non_null(src);
	assert_non_null(dst);
	layout_add(fx, &ly);
	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + 3);

	c0 = calls_now(&ly);
	assert_int_equal(gm_write(fx->s, start, src, len), 0);
	c1 = calls_now(&ly);
	assert_int_equal(c1.a - c0.a, div_up(la, c));
	assert_int_equal(c1.b - c0.b, div_up(lb, c));
	assert_int_equal(atomic_load(&ly.a->last_prot) & GM_PROT_WRITE,
			 GM_PROT_WRITE);
	assert_int_equal(atomic_load(&ly.a->last_flags), 0);
	assert_memory_equal(ly.a->buf + (start - A_GPA), src, la);
	assert_memory_equal(ly.b->buf, src + la, lb);
	assert_balanced(&ly);

	c0 = calls_now(&ly);
	memset(dst, 0, len);
	assert_int_equal(gm_read(fx->s, start, dst, len), 0);
	c1 = calls_now(&ly);
	assert_int_equal(c1.a - c0.a, div_up(la, c));
	assert_int_equal(c1.b - c0.b, div_up(lb, c));
	assert_int_equal(atomic_load(&ly.a->last_prot), GM_PROT_READ);
	assert_memory_equal(dst, src, len);
	assert_int_equal(gm_read_partial(fx->s, start, dst, len), len);
	assert_int_equal(gm_write_partial(fx->s, start, src, len), len);
	assert_balanced(&ly);

	/* Fill and zero, leaving the edges alone. */
	assert_int_equal(gm_fill(fx->s, start + 5, 0xab, len - 10), 0);
	assert_int_equal(gm_read(fx->s, start, dst, len), 0);
	assert_memory_equal(dst, src, 5);
	for (i = 5; i < len - 5; i++)
		assert_int_equal(dst[i], 0xab);
	assert_memory_equal(dst + len - 5, src + len - 5, 5);
	assert_int_equal(gm_zero(fx->s, start + 1, len - 2), 0);
	assert_int_equal(ly.a->buf[start - A_GPA], src[0]);
	assert_int_equal(ly.a->buf[start - A_GPA + 1], 0);
	assert_int_equal(ly.b->buf[lb - 2], 0);
	assert_int_equal(ly.b->buf[lb - 1], src[len - 1]);
	assert_balanced(&ly);

	/* Typed values straddling A and B, in both byte orders. */
	assert_int_equal(gm_write_u64(fx->s, B_GPA - 3, 0x0102030405060708),
			 0);
	assert_int_equal(gm_read_u64(fx->s, B_GPA - 3, &v64), 0);
	assert_int_equal(v64, 0x0102030405060708);
	assert_int_equal(gm_write_be32(fx->s, B_GPA - 2, 0xaabbccdd), 0);
	assert_memory_equal(ly.a->buf + A_SIZE - 2, "\xaa\xbb", 2);
	assert_memory_equal(ly.b->buf, "\xcc\xdd", 2);
	assert_int_equal(gm_read_le32(fx->s, B_GPA - 2, &v32), 0);
	assert_int_equal(v32, 0xddccbbaa);
	assert_int_equal(gm_write_le16(fx->s, B_GPA - 1, 0x1234), 0);
	assert_int_equal(gm_read_be16(fx->s, B_GPA - 1, &v16), 0);
	assert_int_equal(v16, 0x3412);
	assert_int_equal(gm_write_be64(fx->s, A_GPA + 1, 0x1122334455667788),
			 0);
	assert_int_equal(gm_read_le64(fx->s, A_GPA + 1, &v64), 0);
	assert_int_equal(v64, 0x8877665544332211);
	assert_balanced(&ly);

	/* Into the hole: nothing copied past B, error at the hole. */
	assert_int_equal(gm_read_partial(fx->s, B_GPA + 0x1000, dst, 0x2000),
			 0x1000);
	assert_int_equal(gm_read(fx->s, B_GPA + 0x1000, dst, 0x2000),
			 -EFAULT);
	assert_error_has("failed to access 0x104000-0x106000 at 0x105000: "
			 "no region");
	c0 = calls_now(&ly);
	assert_int_equal(gm_write(fx->s, B_GPA + 0x1000, src, 0x2000),
			 -EFAULT);
	c1 = calls_now(&ly);
	/* The layout decides: nothing mapped, nothing written. */
	assert_int_equal(c1.b, c0.b);
	assert_int_equal(gm_fill(fx->s, B_GPA + 0x1000, 1, 0x2000), -EFAULT);
	assert_int_equal(gm_write_partial(fx->s, B_GPA + 0x1ff0, src, 0x20),
			 0x10);
	assert_memory_equal(ly.b->buf + 0x1ff0, src, 0x10);
	assert_balanced(&ly);
	free(src);
	free(dst);
}

/* Atomics map exactly their value with GM_MAP_WHOLE, once per call. */
static void test_ondemand_atomics(void **state)
{
	struct fixture *fx = *state;
	const uint64_t g64 = A_GPA + A_SIZE - 8, g32 = B_GPA + 0x100;
	struct layout ly;
	struct calls c0, c1;
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	layout_add(fx, &ly);
	c0 = calls_now(&ly);
	assert_int_equal(gm_atomic_store_u64(fx->s, g64, 0x100, GM_RELEASE),
			 0);
	assert_int_equal(atomic_load(&ly.a->last_flags), GM_MAP_WHOLE);
	assert_int_equal(atomic_load(&ly.a->last_prot),
			 GM_PROT_READ | GM_PROT_WRITE);
	assert_int_equal(atomic_load(&ly.a->live), 0);
	assert_int_equal(gm_atomic_load_u64(fx->s, g64, &v64, GM_ACQUIRE), 0);
	assert_int_equal(atomic_load(&ly.a->last_prot), GM_PROT_READ);
	assert_int_equal(v64, 0x100);
	assert_int_equal(gm_atomic_fetch_add_u64(fx->s, g64, 5, &v64,
						 GM_SEQ_CST),
			 0);
	assert_int_equal(v64, 0x100);
	assert_int_equal(gm_atomic_fetch_or_u64(fx->s, g64, 0x1000, NULL,
						GM_RELAXED),
			 0);
	assert_int_equal(gm_atomic_fetch_and_u64(fx->s, g64, 0x1104, &v64,
						 GM_ACQ_REL),
			 0);
	assert_int_equal(v64, 0x1105);
	assert_int_equal(gm_atomic_xchg_u64(fx->s, g64, 7, &v64, GM_SEQ_CST),
			 0);
	assert_int_equal(v64, 0x1104);
	v64 = 8;
	assert_int_equal(gm_atomic_cmpxchg_u64(fx->s, g64, &v64, 9,
					       GM_SEQ_CST),
			 0);
	assert_int_equal(v64, 7);
	assert_int_equal(gm_atomic_cmpxchg_u64(fx->s, g64, &v64, 9,
					       GM_SEQ_CST),
			 1);
	assert_int_equal(gm_read_u64(fx->s, g64, &v64), 0);
	assert_int_equal(v64, 9);
	c1 = calls_now(&ly);
	assert_int_equal(c1.a - c0.a, 8 + div_up(8, fx->chunk));
	assert_balanced(&ly);

	c0 = calls_now(&ly);
	assert_int_equal(gm_atomic_store_u32(fx->s, g32, 1, GM_SEQ_CST), 0);
	assert_int_equal(gm_atomic_fetch_add_u32(fx->s, g32, 2, &v32,
						 GM_SEQ_CST),
			 0);
	assert_int_equal(v32, 1);
	assert_int_equal(gm_atomic_store_u16(fx->s, g32 + 4, 0xbeef,
					     GM_RELAXED),
			 0);
	assert_int_equal(gm_atomic_load_u16(fx->s, g32 + 4, &v16, GM_RELAXED),
			 0);
	assert_int_equal(v16, 0xbeef);
	assert_int_equal(gm_atomic_fetch_or_u8(fx->s, g32 + 7, 0x81, &v8,
					       GM_SEQ_CST),
			 0);
	assert_int_equal(gm_atomic_load_u8(fx->s, g32 + 7, &v8, GM_SEQ_CST),
			 0);
	assert_int_equal(v8, 0x81);
	c1 = calls_now(&ly);
	assert_int_equal(c1.b - c0.b, 6);
	assert_int_equal(c1.a, c0.a);

	/* Refused before any map: misaligned, hole, read-only store. */
	c0 = calls_now(&ly);
	assert_int_equal(gm_atomic_load_u32(fx->s, g32 + 2, &v32, GM_RELAXED),
			 -EINVAL);
	assert_error_has("misaligned");
	assert_int_equal(gm_atomic_load_u32(fx->s, HOLE_GPA, &v32,
					    GM_RELAXED),
			 -EFAULT);
	assert_int_equal(gm_atomic_store_u32(fx->s, R_GPA, 1, GM_RELAXED),
			 -EACCES);
	assert_int_equal(gm_atomic_load_u32(fx->s, R_GPA, &v32, GM_RELAXED),
			 0);
	assert_int_equal(atomic_load(&ly.r->last_prot), GM_PROT_READ);
	c1 = calls_now(&ly);
	assert_int_equal(c1.a, c0.a);
	assert_int_equal(c1.b, c0.b);
	assert_int_equal(c1.r - c0.r, 1);
	assert_balanced(&ly);
}

/* A host mapping that is not aligned like its guest address: the atomic
 * is refused, and its mapping released. */
static void test_ondemand_atomic_misaligned_host(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f;
	uint32_t v;

	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x1000,
						  .size = 0x1000,
						  .max_map = fx->chunk,
						  .misalign = 1 });
	assert_int_equal(gm_atomic_load_u32(fx->s, 0x1004, &v, GM_RELAXED),
			 -EINVAL);
	assert_error_has("host mapping is misaligned");
	assert_int_equal(atomic_load(&f->maps), 1);
	assert_int_equal(atomic_load(&f->live), 0);
	/* Single bytes are always aligned; plain accesses need nothing. */
	assert_int_equal(gm_atomic_store_u8(fx->s, 0x1005, 9, GM_RELAXED), 0);
	assert_int_equal(gm_read_u32(fx->s, 0x1004, &v), 0);
	assert_int_equal(f->buf[5], 9);
	assert_int_equal(atomic_load(&f->live), 0);
	assert_no_violations();
}

/* A view maps its whole range in one GM_MAP_WHOLE call, whatever the
 * backend's piece size, and holds that one mapping until put. */
static void test_ondemand_view(void **state)
{
	struct fixture *fx = *state;
	struct layout ly;
	struct calls c0, c1;
	struct gm_view v, zero;
	uint32_t v32;
	uint16_t v16;

	layout_add(fx, &ly);
	memset(&zero, 0, sizeof(zero));
	c0 = calls_now(&ly);
	assert_int_equal(gm_view_get(fx->s, A_GPA + 0x10, 0x2000,
				     GM_PROT_READ | GM_PROT_WRITE, &v),
			 0);
	c1 = calls_now(&ly);
	assert_int_equal(c1.a - c0.a, 1);
	assert_int_equal(atomic_load(&ly.a->last_flags),
			 GM_MAP_WHOLE | GM_MAP_HOLD);
	assert_int_equal(atomic_load(&ly.a->live), 1);
	assert_ptr_equal(v.hva, ly.a->buf + 0x10);
	assert_int_equal(v.gpa, A_GPA + 0x10);
	assert_int_equal(v.len, 0x2000);
	assert_int_equal(v.prot, GM_PROT_READ | GM_PROT_WRITE);
	assert_ptr_equal(v.region, fake_gm(ly.a));

	assert_int_equal(gm_view_write_be32(&v, A_GPA + 0x100, 0x01020304), 0);
	assert_memory_equal(ly.a->buf + 0x100, "\x01\x02\x03\x04", 4);
	assert_int_equal(gm_read_u32(fx->s, A_GPA + 0x100, &v32), 0);
	assert_int_equal(v32, 0x04030201);
	assert_int_equal(gm_view_atomic_store_u16(&v, A_GPA + 0x200, 77,
						  GM_RELEASE),
			 0);
	assert_int_equal(gm_read_u16(fx->s, A_GPA + 0x200, &v16), 0);
	assert_int_equal(v16, 77);
	assert_int_equal(gm_view_read_u32(&v, A_GPA + 0x2010, &v32), -EFAULT);
	assert_int_equal(gm_view_read_u32(&v, A_GPA + 0x0c, &v32), -EFAULT);
	gm_view_put(&v);
	assert_memory_equal(&v, &zero, sizeof(v));
	assert_balanced(&ly);

	/* Refused without a map call: across A and B, into the hole,
	 * writable over read-only; on failure the view is zeroed. */
	c0 = calls_now(&ly);
	memset(&v, 0x55, sizeof(v));
	assert_int_equal(gm_view_get(fx->s, B_GPA - 4, 8, GM_PROT_READ, &v),
			 -EINVAL);
	assert_error_has("at 0x103000: a view cannot cross regions");
	assert_memory_equal(&v, &zero, sizeof(v));
	assert_int_equal(gm_view_get(fx->s, B_GPA + B_SIZE - 4, 8,
				     GM_PROT_READ, &v),
			 -EFAULT);
	assert_int_equal(gm_view_get(fx->s, HOLE_GPA, 8, GM_PROT_READ, &v),
			 -EFAULT);
	assert_int_equal(gm_view_get(fx->s, R_GPA, 8, GM_PROT_WRITE, &v),
			 -EACCES);
	assert_int_equal(gm_view_get(fx->s, A_GPA, 0, GM_PROT_READ, &v),
			 -EINVAL);
	assert_int_equal(gm_view_get(fx->s, A_GPA, 8, 0, &v), -EINVAL);
	assert_int_equal(gm_view_get(fx->s, A_GPA, 8, 4, &v), -EINVAL);
	assert_int_equal(gm_view_get(fx->s, A_GPA, 8, GM_PROT_READ, NULL),
			 -EINVAL);
	assert_int_equal(gm_view_get(NULL, A_GPA, 8, GM_PROT_READ, &v),
			 -EINVAL);
	c1 = calls_now(&ly);
	assert_int_equal(c1.a, c0.a);
	assert_int_equal(c1.b, c0.b);
	assert_int_equal(c1.r, c0.r);

	/* Read-only views of a read-only region work; writes through them
	 * do not. */
	assert_int_equal(gm_view_get(fx->s, R_GPA, PAGE, GM_PROT_READ, &v), 0);
	assert_int_equal(atomic_load(&ly.r->last_prot), GM_PROT_READ);
	assert_int_equal(gm_view_write_u32(&v, R_GPA, 1), -EACCES);
	assert_int_equal(gm_view_atomic_store_u32(&v, R_GPA, 1, GM_RELAXED),
			 -EACCES);
	gm_view_put(&v);

	/* Persistent regions give views without any call. */
	assert_int_equal(gm_view_get(fx->s, P_GPA + 8, 8, GM_PROT_WRITE, &v),
			 0);
	assert_ptr_equal(v.hva, ly.p->buf + 8);
	gm_view_put(&v);
	assert_balanced(&ly);
}

/* A backend that cannot map a range contiguously makes views and atomics
 * fail with its error, while plain accesses still work piece by piece. */
static void test_view_needs_whole_mapping(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f;
	struct gm_view v, zero;
	uint8_t buf[100];
	uint64_t v64;
	uint32_t v32;

	memset(&zero, 0, sizeof(zero));
	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x1000,
						  .size = 0x1000,
						  .max_map = 7,
						  .strict_whole = 1 });
	assert_int_equal(gm_view_get(fx->s, 0x1000, 8, GM_PROT_READ, &v),
			 -ENOMEM);
	assert_memory_equal(&v, &zero, sizeof(v));
	assert_error_has("at 0x1007: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_view_get(fx->s, 0x1000, 7, GM_PROT_READ, &v), 0);
	assert_int_equal(atomic_load(&f->last_flags),
			 GM_MAP_WHOLE | GM_MAP_HOLD);
	gm_view_put(&v);
	assert_int_equal(gm_atomic_load_u64(fx->s, 0x1008, &v64, GM_RELAXED),
			 -ENOMEM);
	assert_int_equal(gm_atomic_load_u32(fx->s, 0x1008, &v32, GM_RELAXED),
			 0);
	assert_int_equal(gm_read(fx->s, 0x1001, buf, sizeof(buf)), 0);
	assert_int_equal(atomic_load(&f->last_flags), 0);
	assert_int_equal(atomic_load(&f->live), 0);
	assert_no_violations();
}

/* Leases hold one mapping per piece until put; the iovecs describe the
 * guest bytes in order. */
static void test_ondemand_lease(void **state)
{
	struct fixture *fx = *state;
	const uint64_t start = A_GPA + 0x1f00, len = 0x2000 + 123;
	const uint64_t la = A_GPA + A_SIZE - start, lb = len - la;
	struct layout ly;
	struct calls c0;
	struct gm_lease *l;
	const struct iovec *iov;
	uint64_t i, off = 0;
	int n, k, fds[2];
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	layout_add(fx, &ly);
	for (i = 0; i < A_SIZE; i++)
		ly.a->buf[i] = (uint8_t)(i ^ 0x5a);
	for (i = 0; i < B_SIZE; i++)
		ly.b->buf[i] = (uint8_t)(i ^ 0xa5);

	c0 = calls_now(&ly);
	assert_int_equal(gm_lease_get(fx->s, start, len, GM_PROT_READ, &l), 0);
	assert_int_equal(atomic_load(&ly.a->live), div_up(la, fx->chunk));
	assert_int_equal(atomic_load(&ly.b->live), div_up(lb, fx->chunk));
	assert_int_equal(atomic_load(&ly.a->map_calls) - c0.a,
			 div_up(la, fx->chunk));
	assert_int_equal(atomic_load(&ly.a->last_flags), GM_MAP_HOLD);
	iov = gm_lease_iov(l, &n);
	assert_non_null(iov);
	assert_true(n >= 1);
	for (k = 0; k < n; k++) {
		uint64_t g = start + off;
		const uint8_t *want = g < B_GPA ? ly.a->buf + (g - A_GPA)
						: ly.b->buf + (g - B_GPA);

		assert_true(iov[k].iov_len > 0);
		assert_ptr_equal(iov[k].iov_base, want);
		off += iov[k].iov_len;
	}
	assert_int_equal(off, len);
	gm_lease_put(l);
	assert_balanced(&ly);

	/* Through a pipe and back: gm_write_to_fd / gm_read_from_fd. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(gm_write_to_fd(fx->s, start, len, fds[1], -1), len);
	assert_int_equal(gm_zero(fx->s, start, len), 0);
	assert_int_equal(gm_read_from_fd(fx->s, start, len, fds[0], -1), len);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(gm_read(fx->s, start, buf, len), 0);
	for (i = 0; i < len; i++) {
		uint64_t g = start + i;
		uint8_t want = g < B_GPA ? (uint8_t)((g - A_GPA) ^ 0x5a)
					 : (uint8_t)((g - B_GPA) ^ 0xa5);

		if (buf[i] != want)
			fail_msg("byte %" PRIu64 " is 0x%x, not 0x%x", i,
				 buf[i], want);
	}
	assert_balanced(&ly);

	/* Refused before any map, and everything released. */
	c0 = calls_now(&ly);
	assert_int_equal(gm_lease_get(fx->s, B_GPA, B_SIZE + 1, GM_PROT_READ,
				      &l),
			 -EFAULT);
	assert_null(l);
	assert_int_equal(gm_lease_get(fx->s, R_GPA, 8, GM_PROT_WRITE, &l),
			 -EACCES);
	assert_int_equal(gm_read_from_fd(fx->s, R_GPA, 8, 0, -1), -EACCES);
	assert_int_equal(atomic_load(&ly.b->map_calls), c0.b);
	assert_int_equal(atomic_load(&ly.r->map_calls), c0.r);

	/* Persistent regions lease without calls. */
	assert_int_equal(gm_lease_get(fx->s, P_GPA, PAGE, GM_PROT_WRITE, &l),
			 0);
	iov = gm_lease_iov(l, &n);
	assert_int_equal(n, 1);
	assert_ptr_equal(iov[0].iov_base, ly.p->buf);
	gm_lease_put(l);
	assert_balanced(&ly);
	free(buf);
}

/* Read-only regions: reads map read-only, writes fail before mapping. */
static void test_ondemand_readonly(void **state)
{
	struct fixture *fx = *state;
	struct layout ly;
	struct calls c0;
	uint8_t buf[16];
	uint32_t v;

	layout_add(fx, &ly);
	memset(ly.r->buf, 0x3c, PAGE);
	assert_int_equal(gm_read(fx->s, R_GPA + 4, buf, sizeof(buf)), 0);
	assert_int_equal(buf[15], 0x3c);
	assert_int_equal(atomic_load(&ly.r->last_prot), GM_PROT_READ);
	c0 = calls_now(&ly);
	assert_int_equal(gm_write(fx->s, R_GPA + 4, buf, sizeof(buf)),
			 -EACCES);
	assert_error_has("at 0x108004: region is read-only");
	assert_int_equal(gm_write_u32(fx->s, R_GPA, 0), -EACCES);
	assert_int_equal(gm_fill(fx->s, R_GPA, 0, 1), -EACCES);
	assert_int_equal(gm_write_partial(fx->s, R_GPA, buf, 4), -EACCES);
	assert_int_equal(atomic_load(&ly.r->map_calls), c0.r);
	assert_int_equal(gm_read_u32(fx->s, R_GPA, &v), 0);
	assert_int_equal(v, 0x3c3c3c3c);
	assert_balanced(&ly);
}

/* A map failure gives the backend's errno, and gm_last_error() names the
 * space, the operation, the exact failing guest address (region base +
 * the offset the backend reported, not where the failing call started)
 * and the backend. */
static void test_map_failure_is_reported_exactly(void **state)
{
	struct fixture *fx = *state;
	const uint64_t c = fx->chunk, bad = 0x123;
	const uint64_t call_start = bad / c * c; /* the failing call */
	struct layout ly;
	struct gm_lease *l;
	struct gm_view v, zero;
	uint8_t buf[0x200], copy[0x200];
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;
	int devnull;

	layout_add(fx, &ly);
	memset(&zero, 0, sizeof(zero));
	memset(buf, 0x77, sizeof(buf));
	devnull = open("/dev/null", O_RDWR);
	assert_true(devnull >= 0);

	fake_fail_at(ly.a, bad, -EFAULT, 1);
	assert_int_equal(gm_read(fx->s, A_GPA, buf, sizeof(buf)), -EFAULT);
	assert_error_has("guest memory '" SPACE_NAME "': read error: failed "
			 "to access 0x100000-0x100200 at 0x100123: " FAKE_NAME
			 " cannot map it");
	assert_int_equal(gm_read_partial(fx->s, A_GPA, buf, sizeof(buf)),
			 call_start ? (ssize_t)call_start : -EFAULT);
	assert_error_has("at 0x100123: " FAKE_NAME " cannot map it");
	memcpy(copy, ly.a->buf, sizeof(copy));
	assert_int_equal(gm_write(fx->s, A_GPA + 0x100, buf, 0x100), -EFAULT);
	assert_error_has("write error: failed to access 0x100100-0x100200 at "
			 "0x100123: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_fill(fx->s, A_GPA + 0x120, 0, 0x10), -EFAULT);
	assert_error_has("fill error: failed to access 0x100120-0x100130 at "
			 "0x100123");
	assert_int_equal(gm_read_u32(fx->s, A_GPA + 0x121, &v32), -EFAULT);
	assert_error_has("at 0x100123: " FAKE_NAME);
	assert_int_equal(gm_atomic_load_u32(fx->s, A_GPA + 0x120, &v32,
					    GM_RELAXED),
			 -EFAULT);
	assert_error_has("atomic error: failed to access 0x100120-0x100124 "
			 "at 0x100123: " FAKE_NAME " cannot map it");
	memset(&v, 0x55, sizeof(v));
	assert_int_equal(gm_view_get(fx->s, A_GPA + 0x100, 0x40, GM_PROT_READ,
				     &v),
			 -EFAULT);
	assert_memory_equal(&v, &zero, sizeof(v));
	assert_error_has("view error: failed to access 0x100100-0x100140 at "
			 "0x100123: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_lease_get(fx->s, A_GPA, 0x200, GM_PROT_READ, &l),
			 -EFAULT);
	assert_null(l);
	assert_error_has("lease error: failed to access 0x100000-0x100200 at "
			 "0x100123: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_write_to_fd(fx->s, A_GPA, 0x200, devnull, -1),
			 -EFAULT);
	assert_error_has("at 0x100123: " FAKE_NAME " cannot map it");
	assert_balanced(&ly);

	/* A backend that maps up to the bad byte: the partial accessors
	 * stop exactly there, and the errno is the backend's own. */
	fake_fail_at(ly.a, bad, -ENXIO, 0);
	assert_int_equal(gm_read_partial(fx->s, A_GPA, buf, sizeof(buf)), bad);
	assert_int_equal(gm_read(fx->s, A_GPA, buf, sizeof(buf)), -ENXIO);
	assert_error_has("at 0x100123: " FAKE_NAME " cannot map it");
	memset(buf, 0x99, sizeof(buf));
	assert_int_equal(gm_write_partial(fx->s, A_GPA + 0x100, buf, 0x100),
			 0x23);
	assert_int_equal(ly.a->buf[0x122], 0x99);
	assert_int_equal(ly.a->buf[0x123], copy[0x123]);
	/* A typed read whose first bytes map stores nothing (guestmem.h),
	 * inline or in the library; a load, which cannot straddle, neither. */
	v32 = 0xdeadbeef;
	assert_int_equal(gm_read_u32(fx->s, A_GPA + 0x121, &v32), -ENXIO);
	assert_int_equal(v32, 0xdeadbeef);
	v64 = 0x0123456789abcdefULL;
	assert_int_equal(gm_read_u64(fx->s, A_GPA + 0x11e, &v64), -ENXIO);
	assert_int_equal(v64, 0x0123456789abcdefULL);
	assert_int_equal(gm_read_be64(fx->s, A_GPA + 0x11e, &v64), -ENXIO);
	assert_int_equal(v64, 0x0123456789abcdefULL);
	v16 = 0xbeef;
	assert_int_equal(gm_read_u16(fx->s, A_GPA + 0x122, &v16), -ENXIO);
	assert_int_equal(v16, 0xbeef);
	assert_int_equal(gm_atomic_load_u32(fx->s, A_GPA + 0x120, &v32,
					    GM_ACQUIRE),
			 -ENXIO);
	assert_int_equal(v32, 0xdeadbeef);
	fake_fail_at(ly.a, UINT64_MAX, 0, 0);
	assert_balanced(&ly);

	/* A failure in the second region of a range names that region's
	 * address. */
	fake_fail_at(ly.b, 0, -EFAULT, 1);
	assert_int_equal(gm_read(fx->s, B_GPA - 0x10, buf, 0x20), -EFAULT);
	assert_error_has("at 0x103000: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_read_partial(fx->s, B_GPA - 0x10, buf, 0x20),
			 0x10);
	/* Its first half read, a typed read across the two stores nothing. */
	v64 = 0x0123456789abcdefULL;
	assert_int_equal(gm_read_u64(fx->s, B_GPA - 4, &v64), -EFAULT);
	assert_int_equal(v64, 0x0123456789abcdefULL);
	assert_int_equal(gm_lease_get(fx->s, B_GPA - 0x10, 0x20, GM_PROT_READ,
				      &l),
			 -EFAULT);
	fake_fail_at(ly.b, UINT64_MAX, 0, 0);
	assert_balanced(&ly);

	/* The next N maps fail, then all is well again. */
	fake_fail_next(ly.a, 2, -ENOMEM);
	assert_int_equal(gm_read_u32(fx->s, A_GPA + 0x10, &v32), -ENOMEM);
	assert_error_has("at 0x100010: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_write_u32(fx->s, A_GPA + 0x10, 5), -ENOMEM);
	assert_int_equal(gm_write_u32(fx->s, A_GPA + 0x10, 5), 0);
	assert_int_equal(gm_read_u32(fx->s, A_GPA + 0x10, &v32), 0);
	assert_int_equal(v32, 5);
	close(devnull);
	assert_balanced(&ly);
}

/* A backend that breaks the map contract gets -EIO, never a wild access,
 * and whatever it did map is unmapped again. */
static void test_buggy_backend_is_eio(void **state)
{
	static const enum fake_bug bugs[] = {
		FAKE_BUG_NULL_HVA,
		FAKE_BUG_ZERO_LEN,
		FAKE_BUG_LONG,
		FAKE_BUG_POSITIVE,
	};
	struct fixture *fx = *state;
	struct fake_region *f;
	struct gm_lease *l;
	struct gm_view v, zero;
	uint8_t buf[64], before[64];
	uint64_t v64;
	size_t i;

	memset(&zero, 0, sizeof(zero));
	memset(buf, 0x42, sizeof(buf));
	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x10000,
						  .size = 0x1000,
						  .max_map = fx->chunk });
	memcpy(before, f->buf + 0x100, sizeof(before));
	for (i = 0; i < GM__ARRAY_SIZE(bugs); i++) {
		fake_set_bug(f, bugs[i]);
		assert_int_equal(gm_read(fx->s, 0x10100, buf, sizeof(buf)),
				 -EIO);
		assert_error_has("at 0x10100: " FAKE_NAME " cannot map it");
		assert_int_equal(gm_read_partial(fx->s, 0x10100, buf,
						 sizeof(buf)),
				 -EIO);
		assert_int_equal(gm_write(fx->s, 0x10100, buf, sizeof(buf)),
				 -EIO);
		assert_int_equal(gm_fill(fx->s, 0x10100, 1, sizeof(buf)),
				 -EIO);
		assert_int_equal(gm_write_u64(fx->s, 0x10100, 1), -EIO);
		assert_memory_equal(f->buf + 0x100, before, sizeof(before));
		assert_int_equal(gm_atomic_load_u64(fx->s, 0x10100, &v64,
						    GM_RELAXED),
				 -EIO);
		assert_int_equal(gm_atomic_fetch_add_u64(fx->s, 0x10100, 1,
							 NULL, GM_RELAXED),
				 -EIO);
		memset(&v, 0x55, sizeof(v));
		assert_int_equal(gm_view_get(fx->s, 0x10100, 16, GM_PROT_READ,
					     &v),
				 -EIO);
		assert_memory_equal(&v, &zero, sizeof(v));
		assert_int_equal(gm_lease_get(fx->s, 0x10100, 16, GM_PROT_READ,
					      &l),
				 -EIO);
		assert_null(l);
		assert_int_equal(atomic_load(&f->live), 0);
		assert_no_violations();
	}

	/* Short despite GM_MAP_WHOLE: views and atomics refuse it; plain
	 * accesses, which allow short maps, work. */
	fake_set_bug(f, FAKE_BUG_SHORT_WHOLE);
	assert_int_equal(gm_view_get(fx->s, 0x10100, 16, GM_PROT_READ, &v),
			 -EIO);
	assert_error_has("view error");
	assert_int_equal(gm_atomic_load_u64(fx->s, 0x10100, &v64, GM_RELAXED),
			 -EIO);
	assert_int_equal(gm_atomic_store_u8(fx->s, 0x10100, 3, GM_RELAXED), 0);
	assert_int_equal(gm_read(fx->s, 0x10100, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], 3);
	assert_int_equal(atomic_load(&f->live), 0);
	fake_set_bug(f, FAKE_BUG_NONE);
	assert_int_equal(gm_read_u64(fx->s, 0x10100, &v64), 0);
	assert_int_equal(atomic_load(&f->maps), atomic_load(&f->unmaps));
	assert_no_violations();
}

/*
 * A backend whose pieces are apart in host memory: a lease is one iovec
 * per piece (more than IOV_MAX of them here), and fd I/O must submit them
 * in batches and still move every byte to the right guest address.
 */
static void test_ondemand_fd_io_many_pieces(void **state)
{
	struct fixture *fx = *state;
	const uint64_t start = 0x201f00, len = 0x2000 + 123;
	const uint64_t la = 0x203000 - start, lb = len - la;
	struct fake_region *a, *b;
	struct gm_lease *l;
	const struct iovec *iov;
	uint8_t *buf = malloc(len), *back = malloc(len);
	uint64_t i, off = 0;
	int n, k, fds[2], fd;

	assert_non_null(buf);
	assert_non_null(back);
	a = fake_add(fx->s, (struct fake_config){ .gpa = 0x200000,
						  .size = 0x3000,
						  .max_map = 7,
						  .gap = 1 });
	b = fake_add(fx->s, (struct fake_config){ .gpa = 0x203000,
						  .size = 0x2000,
						  .max_map = 5,
						  .gap = 3 });
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(gm_write(fx->s, start, buf, len), 0);
	assert_int_equal(*fake_hva(a, start - 0x200000), buf[0]);
	assert_int_equal(*fake_hva(b, lb - 1), buf[len - 1]);

	/* The first piece of each region is partial (start % 7 != 0). */
	assert_int_equal(gm_lease_get(fx->s, start, len, GM_PROT_READ, &l), 0);
	iov = gm_lease_iov(l, &n);
	assert_int_equal(n, div_up(la + (start - 0x200000) % 7, 7) +
				    div_up(lb, 5));
	assert_true(n > IOV_MAX);
	assert_int_equal(atomic_load(&a->live) + atomic_load(&b->live), n);
	for (k = 0; k < n; k++) {
		uint64_t g = start + off;
		uint8_t *want = g < 0x203000 ? fake_hva(a, g - 0x200000)
					     : fake_hva(b, g - 0x203000);

		if (iov[k].iov_base != want)
			fail_msg("iov %d is %p, not %p", k, iov[k].iov_base,
				 (void *)want);
		off += iov[k].iov_len;
	}
	assert_int_equal(off, len);
	gm_lease_put(l);
	assert_int_equal(atomic_load(&a->live) + atomic_load(&b->live), 0);

	/* Through a pipe (readv/writev) and back. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(gm_write_to_fd(fx->s, start, len, fds[1], -1), len);
	assert_int_equal(gm_zero(fx->s, start, len), 0);
	assert_int_equal(gm_read_from_fd(fx->s, start, len, fds[0], -1), len);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(gm_read(fx->s, start, back, len), 0);
	assert_memory_equal(back, buf, len);

	/* Through a file at an offset (preadv/pwritev); reading past its
	 * end is a short count. */
	fd = memfd_create("test-space", 0);
	assert_true(fd >= 0);
	assert_int_equal(gm_write_to_fd(fx->s, start, len, fd, 100), len);
	assert_int_equal(pread(fd, back, len, 100), len);
	assert_memory_equal(back, buf, len);
	assert_int_equal(gm_zero(fx->s, start, len), 0);
	assert_int_equal(gm_read_from_fd(fx->s, start, len, fd, 100 + 1000),
			 len - 1000);
	assert_int_equal(gm_read(fx->s, start, back, len), 0);
	assert_memory_equal(back, buf + 1000, len - 1000);
	for (i = len - 1000; i < len; i++)
		assert_int_equal(back[i], 0);
	close(fd);
	assert_int_equal(atomic_load(&a->live) + atomic_load(&b->live), 0);
	assert_int_equal(atomic_load(&a->maps), atomic_load(&a->unmaps));
	assert_no_violations();
	free(buf);
	free(back);
}

#if defined(__x86_64__) || defined(__aarch64__)
/*
 * The library's SIGSEGV and SIGBUS handlers, installed by main() before
 * cmocka runs anything.  cmocka puts its own crash handlers in place
 * around every test (and puts these back after it), which would take the
 * faults the library is meant to recover from, so the test that needs
 * them restores them for its own duration.
 */
static struct sigaction lib_segv, lib_bus;

static void install_fault_handlers(void)
{
	struct gm_space *s;

	if (gm_space_new(&s, "fault-init", GM_SPACE_FAULT_SAFE) == 0) {
		gm_space_free(s);
		sigaction(SIGSEGV, NULL, &lib_segv);
		sigaction(SIGBUS, NULL, &lib_bus);
	}
}

/*
 * Fault-safe spaces: a page that faults under a persistent or an
 * on-demand mapping fails the access with -EFAULT at the exact guest
 * address, and the on-demand mapping is still released.
 */
static void test_fault_safe_revoked_page(void **state)
{
	struct fixture *fx = *state;
	const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	const uint64_t pgpa = 0x100000, ogpa = 0x200000;
	struct fake_region *p, *o;
	struct sigaction cm_segv, cm_bus;
	uint8_t buf[0x20];
	uint64_t v64;
	uint32_t v32;
	char at[64];

	assert_true(lib_segv.sa_flags & SA_SIGINFO);
	assert_int_equal(sigaction(SIGSEGV, &lib_segv, &cm_segv), 0);
	assert_int_equal(sigaction(SIGBUS, &lib_bus, &cm_bus), 0);

	p = fake_add(fx->s, (struct fake_config){ .gpa = pgpa,
						  .size = 4 * pg,
						  .persistent = 1,
						  .page_buf = 1 });
	o = fake_add(fx->s, (struct fake_config){ .gpa = ogpa,
						  .size = 4 * pg,
						  .max_map = fx->chunk,
						  .page_buf = 1 });
	memset(p->buf, 0x11, 4 * pg);
	memset(o->buf, 0x22, 4 * pg);
	assert_int_equal(fake_revoke(p, 2 * pg), 0);
	assert_int_equal(fake_revoke(o, 2 * pg), 0);

	snprintf(at, sizeof(at), "at 0x%" PRIx64 ": guest page faulted",
		 pgpa + 2 * pg);
	assert_int_equal(gm_read(fx->s, pgpa + 2 * pg - 0x10, buf, 0x20),
			 -EFAULT);
	assert_error_has(at);
	assert_int_equal(buf[0], 0x11);
	assert_partial_count(gm_read_partial(fx->s, pgpa + 2 * pg - 0x10, buf,
					     0x20),
			     0x10);
	assert_partial_count(gm_write_partial(fx->s, pgpa + 2 * pg - 0x10,
					      buf, 0x20),
			     0x10);
	assert_int_equal(gm_fill(fx->s, pgpa + 2 * pg + 8, 0, 8), -EFAULT);
	assert_int_equal(gm_read_u64(fx->s, pgpa + 2 * pg, &v64), -EFAULT);
	assert_int_equal(gm_write_u32(fx->s, pgpa + 2 * pg + 4, 1), -EFAULT);
	assert_int_equal(gm_atomic_load_u64(fx->s, pgpa + 2 * pg, &v64,
					    GM_ACQUIRE),
			 -EFAULT);
	assert_error_has(at);
	assert_int_equal(gm_atomic_fetch_add_u32(fx->s, pgpa + 2 * pg, 1,
						 &v32, GM_SEQ_CST),
			 -EFAULT);
	v32 = 0;
	assert_int_equal(gm_atomic_cmpxchg_u32(fx->s, pgpa + 2 * pg, &v32, 1,
					       GM_SEQ_CST),
			 -EFAULT);
	/* The rest of the region still works. */
	assert_int_equal(gm_read_u64(fx->s, pgpa + 3 * pg, &v64), 0);
	assert_int_equal(v64, 0x1111111111111111);

	snprintf(at, sizeof(at), "at 0x%" PRIx64 ": guest page faulted",
		 ogpa + 2 * pg);
	assert_int_equal(gm_read(fx->s, ogpa + 2 * pg - 0x10, buf, 0x20),
			 -EFAULT);
	assert_error_has(at);
	assert_partial_count(gm_read_partial(fx->s, ogpa + 2 * pg - 0x10, buf,
					     0x20),
			     0x10);
	assert_int_equal(gm_write_u64(fx->s, ogpa + 2 * pg + 8, 1), -EFAULT);
	assert_int_equal(gm_atomic_xchg_u64(fx->s, ogpa + 2 * pg + 8, 1, &v64,
					    GM_SEQ_CST),
			 -EFAULT);
	assert_error_has("atomic error");
	assert_int_equal(atomic_load(&o->live), 0);
	assert_int_equal(atomic_load(&o->maps), atomic_load(&o->unmaps));
	assert_int_equal(gm_read_u64(fx->s, ogpa + pg, &v64), 0);
	assert_int_equal(v64, 0x2222222222222222);
	assert_no_violations();
	sigaction(SIGSEGV, &cm_segv, NULL);
	sigaction(SIGBUS, &cm_bus, NULL);
}
#endif

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TP(f, p)                                                              \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown,          \
						 (void *)&(p))

static const struct params chunk1 = { .chunk = 1 };
static const struct params chunk7 = { .chunk = 7 };
static const struct params chunk4096 = { .chunk = 4096 };
#if defined(__x86_64__) || defined(__aarch64__)
/* The same dispatch paths through the guarded copies of fault-safe
 * spaces. */
static const struct params safe7 = { .chunk = 7,
				     .space_flags = GM_SPACE_FAULT_SAFE };
#endif

#define ONDEMAND_TESTS(p)                                                     \
	TP(test_ondemand_read_write_fill, p),                                 \
		TP(test_ondemand_atomics, p),                                 \
		TP(test_ondemand_atomic_misaligned_host, p),                  \
		TP(test_ondemand_view, p), TP(test_ondemand_lease, p),        \
		TP(test_ondemand_readonly, p),                                \
		TP(test_map_failure_is_reported_exactly, p),                  \
		TP(test_buggy_backend_is_eio, p)

int main(void)
{
	static const struct CMUnitTest tests[] = {
		ONDEMAND_TESTS(chunk1),
		ONDEMAND_TESTS(chunk7),
		ONDEMAND_TESTS(chunk4096),
		T(test_ondemand_fd_io_many_pieces),
		T(test_view_needs_whole_mapping),
#if defined(__x86_64__) || defined(__aarch64__)
		ONDEMAND_TESTS(safe7),
		TP(test_ondemand_fd_io_many_pieces, safe7),
		TP(test_fault_safe_revoked_page, safe7),
#endif
	};

#if defined(__x86_64__) || defined(__aarch64__)
	install_fault_handlers();
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
