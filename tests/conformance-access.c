/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance suite, run by conf_run() (conformance.c): the byte, typed
 * and atomic accessors of a space, and read-only regions, which refuse
 * every write.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

/* ------------------------------------------------------------------ */
/* Byte and typed accessors                                            */
/* ------------------------------------------------------------------ */

void test_high_regions(void **state)
{
	struct conf_state *st = *state;
	uint64_t top = GPA_TOP(st), g4 = GPA_4G(st);
	uint8_t buf[64], b = 0;
	uint64_t v64 = 0;

	/* The very last guest byte and a range ending exactly at 2^64. */
	expect_ret(gm_write_u8(st->s, UINT64_MAX, 0xc3), 0);
	shadow_fill(st, UINT64_MAX, 0xc3, 1);
	expect_ret(gm_read_u8(st->s, UINT64_MAX, &b), 0);
	assert_int_equal(b, 0xc3);
	gen(buf, sizeof(buf), 1);
	cw(st, 0 - (uint64_t)sizeof(buf), buf, sizeof(buf));
	expect_mem(st, 0 - (uint64_t)sizeof(buf), sizeof(buf));
	expect_ret(gm_write_u64(st->s, UINT64_MAX - 7, 0x0102030405060708),
		   0);
	shadow_write(st, UINT64_MAX - 7, &(uint64_t){ 0x0102030405060708 }, 8);
	expect_ret(gm_read_u64(st->s, UINT64_MAX - 7, &v64), 0);
	assert_int_equal(v64, 0x0102030405060708);
	expect_ret(gm_read_partial(st->s, UINT64_MAX - 15, buf, 16), 16);
	expect_mem(st, top, st->u);

	/* Going past the end wraps, which is not a hole. */
	expect_ret(gm_read(st->s, UINT64_MAX - 7, buf, 9), -EOVERFLOW);
	expect_ret(gm_write(st->s, UINT64_MAX, buf, 2), -EOVERFLOW);

	/* Just below the top region is a hole. */
	expect_ret(gm_read(st->s, top - 4, buf, 8), -EFAULT);
	expect_msg("read", top - 4, 8, top - 4);

	/* Above 4 GiB, with holes on both sides. */
	gen(buf, sizeof(buf), 2);
	cw(st, g4 + 1000, buf, sizeof(buf));
	expect_mem(st, g4, st->u);
	expect_ret(gm_read(st->s, g4 - 8, buf, 16), -EFAULT);
	expect_msg("read", g4 - 8, 16, g4 - 8);
	expect_ret(gm_write(st->s, g4 + st->u - 8, buf, 16), -EFAULT);
	expect_msg("write", g4 + st->u - 8, 16, g4 + st->u);
	expect_ret(gm_read_u32(st->s, g4 + st->u - 2, &(uint32_t){ 0 }),
		   -EFAULT);
}

void test_straddle_bytes(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st);
	uint8_t data[64], got[64], want[64];
	size_t len, off;

	for (len = 1; len <= 64; len++) {
		/* off bytes before the boundary, len - off after it. */
		for (off = len == 1 ? 0 : 1; off <= (len == 1 ? 1 : len - 1);
		     off++) {
			uint64_t gpa = bnd - off;

			shadow_read(st, gpa, want, len);
			memset(got, 0, sizeof(got));
			expect_ret(gm_read(st->s, gpa, got, len), 0);
			assert_memory_equal(got, want, len);

			gen(data, len, (unsigned int)(len * 64 + off));
			cw(st, gpa, data, len);
			memset(got, 0, sizeof(got));
			expect_ret(gm_read(st->s, gpa, got, len), 0);
			assert_memory_equal(got, data, len);
		}
		/* Nothing around the boundary was disturbed. */
		expect_mem(st, bnd - 128, 256);
	}
	expect_mem(st, GPA_A(st), 2 * st->u);
}

void test_straddle_typed(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st), k;
	uint32_t v32 = 0;

	/* Every split of every multi-byte type across A | B. */
#define CONF_STRADDLE(sfx, T, ...)                                            \
	for (k = 1; k < sizeof(T); k++)                                       \
		typed_##sfx(st, bnd - k, 0x8badf00ddeadbeefull + k);
	GM_INT_TYPES(CONF_STRADDLE)
	GM_ENDIAN_TYPES(CONF_STRADDLE)
#undef CONF_STRADDLE
	expect_mem(st, bnd - 64, 128);

	/* Into the hole after B: refused, B unchanged. */
	expect_ret(gm_write_u32(st->s, GPA_HOLE(st) - 2, 0xffffffff), -EFAULT);
	expect_ret(gm_write_be64(st->s, GPA_HOLE(st) - 1, 0), -EFAULT);
	expect_ret(gm_read_u32(st->s, GPA_HOLE(st) - 2, &v32), -EFAULT);
	expect_ret(gm_read_le16(st->s, GPA_HOLE(st) - 1, &(uint16_t){ 0 }),
		   -EFAULT);
	expect_mem(st, GPA_HOLE(st) - 64, 64);
}

void test_endian(void **state)
{
	struct conf_state *st = *state;
	static const uint8_t bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint64_t where[] = { GPA_A(st) + 64, GPA_A(st) + 77,
				   GPA_C(st) + 8, GPA_4G(st) + 3 };
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	size_t i;

	/* Known bytes, read in both orders. */
	cw(st, GPA_A(st) + 64, bytes, 8);
	expect_ret(gm_read_le16(st->s, GPA_A(st) + 64, &v16), 0);
	assert_int_equal(v16, 0x0201);
	expect_ret(gm_read_be16(st->s, GPA_A(st) + 64, &v16), 0);
	assert_int_equal(v16, 0x0102);
	expect_ret(gm_read_le32(st->s, GPA_A(st) + 64, &v32), 0);
	assert_int_equal(v32, 0x04030201);
	expect_ret(gm_read_be32(st->s, GPA_A(st) + 64, &v32), 0);
	assert_int_equal(v32, 0x01020304);
	expect_ret(gm_read_le64(st->s, GPA_A(st) + 64, &v64), 0);
	assert_int_equal(v64, 0x0807060504030201);
	expect_ret(gm_read_be64(st->s, GPA_A(st) + 64, &v64), 0);
	assert_int_equal(v64, 0x0102030405060708);

	/* Known values, written in both orders. */
	expect_ret(gm_write_be32(st->s, GPA_A(st) + 64, 0xa1b2c3d4), 0);
	shadow_write(st, GPA_A(st) + 64, "\xa1\xb2\xc3\xd4", 4);
	expect_ret(gm_write_le16(st->s, GPA_A(st) + 68, 0xe5f6), 0);
	shadow_write(st, GPA_A(st) + 68, "\xf6\xe5", 2);
	expect_mem(st, GPA_A(st) + 64, 8);

	/* Every type both ways, aligned and not, and at the top of memory. */
	for (i = 0; i < ARRAY_SIZE(where); i++) {
#define CONF_ENDIAN(sfx, T, ...)                                              \
	typed_##sfx(st, where[i], 0xfeedfacecafebeefull * (i + 1));           \
	typed_##sfx(st, 0 - (uint64_t)sizeof(T), 0x0123456789abcdefull + i);
		GM_INT_TYPES(CONF_ENDIAN)
		GM_ENDIAN_TYPES(CONF_ENDIAN)
#undef CONF_ENDIAN
	}
}

void test_holes(void **state)
{
	struct conf_state *st = *state;
	uint64_t u = st->u, hole = GPA_HOLE(st);
	uint8_t data[64], *big;

	/* Reads: the message names the first byte that is not covered. */
	expect_ret(gm_read(st->s, hole - 16, data, 32), -EFAULT);
	expect_msg("read", hole - 16, 32, hole);
	expect_ret(gm_read(st->s, hole + 5, data, 4), -EFAULT);
	expect_msg("read", hole + 5, 4, hole + 5);
	expect_ret(gm_read(st->s, GPA_HOLE2(st) - 4, data, 8), -EFAULT);
	expect_msg("read", GPA_HOLE2(st) - 4, 8, GPA_HOLE2(st));
	expect_ret(gm_read_u64(st->s, hole + 8, &(uint64_t){ 0 }), -EFAULT);
	expect_msg(NULL, hole + 8, 8, hole + 8);

	big = malloc(4 * u);
	assert_non_null(big);
	expect_ret(gm_read(st->s, GPA_A(st), big, 3 * u), -EFAULT);
	expect_msg("read", GPA_A(st), 3 * u, hole);

	/* Writes are all or nothing when the layout decides. */
	gen(data, sizeof(data), 3);
	expect_ret(gm_write(st->s, hole - 16, data, 32), -EFAULT);
	expect_msg("write", hole - 16, 32, hole);
	gen(big, 4 * u, 4);
	expect_ret(gm_write(st->s, GPA_B(st) - 100, big, u + 200), -EFAULT);
	expect_msg("write", GPA_B(st) - 100, u + 200, hole);
	expect_ret(gm_write(st->s, GPA_C(st) - 8, data, 16), -EFAULT);
	expect_msg("write", GPA_C(st) - 8, 16, GPA_C(st) - 8);
	expect_ret(gm_write(st->s, hole - 8, big, u + 16), -EFAULT);
	expect_msg("write", hole - 8, u + 16, hole);
	expect_ret(gm_write(st->s, GPA_A(st), big, 4 * u), -EFAULT);
	expect_msg("write", GPA_A(st), 4 * u, hole);
	free(big);
	expect_ret(gm_write_u16(st->s, hole - 1, 0xffff), -EFAULT);
	expect_mem(st, GPA_A(st), 2 * u);
	expect_mem(st, GPA_C(st), u);

	/* Length 0 is a no-op even in a hole. */
	expect_ret(gm_read(st->s, hole, data, 0), 0);
	expect_ret(gm_write(st->s, hole, data, 0), 0);
}

void test_partial(void **state)
{
	struct conf_state *st = *state;
	uint64_t u = st->u, hole = GPA_HOLE(st);
	uint8_t data[100], got[100], want[100], *big;

	memset(got, 0, sizeof(got));
	expect_ret(gm_read_partial(st->s, hole - 10, got, 100), 10);
	shadow_read(st, hole - 10, want, 10);
	assert_memory_equal(got, want, 10);

	big = malloc(u + 100);
	assert_non_null(big);
	expect_ret(gm_read_partial(st->s, GPA_B(st) - 10, big, u + 100),
		   u + 10);
	free(big);

	expect_ret(gm_read_partial(st->s, hole, got, 10), -EFAULT);
	expect_ret(gm_read_partial(st->s, hole, got, 0), 0);
	expect_ret(gm_read_partial(st->s, GPA_A(st), got, 0), 0);
	expect_ret(gm_read_partial(st->s, GPA_B(st) - 50, got, 100), 100);
	shadow_read(st, GPA_B(st) - 50, want, 100);
	assert_memory_equal(got, want, 100);
	/* A read-only region reads fine. */
	expect_ret(gm_read_partial(st->s, GPA_RO(st) - 50, got, 100), 100);

	gen(data, sizeof(data), 5);
	expect_ret(gm_write_partial(st->s, hole - 10, data, 100), 10);
	shadow_write(st, hole - 10, data, 10);
	expect_ret(gm_write_partial(st->s, hole + 1, data, 10), -EFAULT);
	expect_ret(gm_write_partial(st->s, hole + 1, data, 0), 0);
	/* Stops at the read-only region as it does at a hole. */
	expect_ret(gm_write_partial(st->s, GPA_RO(st) - 6, data, 20), 6);
	shadow_write(st, GPA_RO(st) - 6, data, 6);
	expect_ret(gm_write_partial(st->s, GPA_RO(st), data, 8), -EACCES);
	expect_ret(gm_write_partial(st->s, GPA_B(st) - 30, data, 60), 60);
	shadow_write(st, GPA_B(st) - 30, data, 60);
	expect_mem(st, GPA_B(st) - 100, 200);
	expect_mem(st, hole - 100, 100);
	expect_mem(st, GPA_RO(st) - 100, 200);
}

void test_fill_zero(void **state)
{
	struct conf_state *st = *state;
	uint64_t u = st->u, hole = GPA_HOLE(st);

	expect_ret(gm_fill(st->s, GPA_B(st) - 300, 0x5a, 600), 0);
	shadow_fill(st, GPA_B(st) - 300, 0x5a, 600);
	expect_mem(st, GPA_B(st) - 400, 800);
	expect_ret(gm_zero(st->s, GPA_B(st) - 100, 200), 0);
	shadow_fill(st, GPA_B(st) - 100, 0, 200);
	expect_mem(st, GPA_B(st) - 400, 800);

	/* Whole regions at once, and the top of memory. */
	expect_ret(gm_fill(st->s, GPA_A(st) + 1, 0x11, 2 * u - 2), 0);
	shadow_fill(st, GPA_A(st) + 1, 0x11, 2 * u - 2);
	expect_ret(gm_fill(st->s, 0 - (uint64_t)100, 0xcc, 100), 0);
	shadow_fill(st, 0 - (uint64_t)100, 0xcc, 100);
	expect_ret(gm_zero(st->s, GPA_4G(st), u), 0);
	shadow_fill(st, GPA_4G(st), 0, u);

	/* Holes and read-only memory: refused, nothing written. */
	expect_ret(gm_fill(st->s, hole - 10, 0x77, 20), -EFAULT);
	expect_msg(NULL, hole - 10, 20, hole);
	expect_ret(gm_zero(st->s, hole - 10, 20), -EFAULT);
	expect_ret(gm_fill(st->s, GPA_A(st), 0x77, 3 * u), -EFAULT);
	expect_ret(gm_fill(st->s, GPA_RO(st) - 10, 0x33, 20), -EACCES);
	expect_msg(NULL, GPA_RO(st) - 10, 20, GPA_RO(st));
	expect_ret(gm_zero(st->s, GPA_RO(st) - 10, 20), -EACCES);
	expect_ret(gm_fill(st->s, hole, 0x77, 0), 0);
	expect_ret(gm_zero(st->s, hole, 0), 0);
}

/* ------------------------------------------------------------------ */
/* Atomics                                                             */
/* ------------------------------------------------------------------ */

void test_atomics(void **state)
{
	struct conf_state *st = *state;

#define CONF_ATOMICS(sfx, T, ...)                                             \
	atomic_##sfx(st, GPA_A(st) + 64, 1);                                  \
	atomic_##sfx(st, GPA_B(st) - sizeof(T), 0);                           \
	atomic_##sfx(st, GPA_B(st), 1);                                       \
	atomic_##sfx(st, GPA_4G(st) + 128, 1);                                \
	atomic_##sfx(st, 0 - (uint64_t)sizeof(T), 0);                         \
	atomic_denied_##sfx(st, GPA_RO(st) + 8, -EACCES);                     \
	atomic_denied_##sfx(st, GPA_HOLE(st) + 8, -EFAULT);
	GM_INT_TYPES(CONF_ATOMICS)
#undef CONF_ATOMICS
}

#define CONC_THREADS 4
#define CONC_ADDS 100000

struct conc_arg {
	struct gm_space *s;
	uint64_t gpa;
	int order;
	long errors;
};

static void *conc_adder(void *p)
{
	struct conc_arg *a = p;
	int i;

	for (i = 0; i < CONC_ADDS; i++)
		if (gm_atomic_fetch_add_u64(a->s, a->gpa, 1, NULL, a->order))
			a->errors++;
	return NULL;
}

void test_atomic_concurrent(void **state)
{
	struct conf_state *st = *state;
	struct conc_arg a[CONC_THREADS];
	pthread_t t[CONC_THREADS];
	uint64_t gpa = GPA_B(st) + 256, start, end = 0;
	int i;

	start = get_u64(st, gpa);
	for (i = 0; i < CONC_THREADS; i++) {
		a[i] = (struct conc_arg){ .s = st->s, .gpa = gpa,
					  .order = rmw_orders[i % 5] };
		assert_int_equal(pthread_create(&t[i], NULL, conc_adder, &a[i]),
				 0);
	}
	for (i = 0; i < CONC_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].errors, 0);
	}
	expect_ret(gm_atomic_load_u64(st->s, gpa, &end, GM_SEQ_CST), 0);
	assert_int_equal(end, start + (uint64_t)CONC_THREADS * CONC_ADDS);
	shadow_write(st, gpa, &end, sizeof(end));
}

/* ------------------------------------------------------------------ */
/* Read-only regions refuse every write                                */
/* ------------------------------------------------------------------ */

void test_rdonly(void **state)
{
	struct conf_state *st = *state;
	uint64_t ro = GPA_RO(st), c_end = GPA_RO(st);
	struct gm_lease *l = NULL;
	struct gm_view v;
	uint8_t data[64];
	int p[2];

	gen(data, sizeof(data), 12);
	expect_ret(gm_write(st->s, ro + 8, data, 16), -EACCES);
	expect_msg("write", ro + 8, 16, ro + 8);
	expect_ret(gm_write(st->s, c_end - 8, data, 16), -EACCES);
	expect_msg("write", c_end - 8, 16, ro);
	expect_ret(gm_write_partial(st->s, ro + 8, data, 16), -EACCES);
	expect_ret(gm_fill(st->s, ro, 0xff, st->u), -EACCES);
	expect_ret(gm_zero(st->s, ro, st->u), -EACCES);
	expect_ret(gm_fill(st->s, c_end - 1, 0xff, 2), -EACCES);
#define CONF_RO_TYPED(sfx, T, ...)                                            \
	typed_denied_##sfx(st, ro + 16);                                      \
	expect_ret(gm_write_##sfx(st->s, c_end - 1, 0),                       \
		   sizeof(T) > 1 ? -EACCES : 0);
	GM_INT_TYPES(CONF_RO_TYPED)
#undef CONF_RO_TYPED
	/* The u8 above landed in C, legitimately. */
	shadow_fill(st, c_end - 1, 0, 1);
#define CONF_RO_TYPED(sfx, T, ...)                                            \
	typed_denied_##sfx(st, ro + 16);                                      \
	expect_ret(gm_write_##sfx(st->s, c_end - 1, 0), -EACCES);
	GM_ENDIAN_TYPES(CONF_RO_TYPED)
#undef CONF_RO_TYPED
#define CONF_RO_ATOMIC(sfx, T, ...) atomic_denied_##sfx(st, ro + 32, -EACCES);
	GM_INT_TYPES(CONF_RO_ATOMIC)
#undef CONF_RO_ATOMIC

	assert_int_equal(pipe(p), 0);
	write_all(p[1], data, sizeof(data));
	expect_ret(gm_read_from_fd(st->s, ro, sizeof(data), p[0], -1),
		   -EACCES);
	assert_int_equal(pipe_avail(p[0]), sizeof(data));
	close(p[0]);
	close(p[1]);

	expect_ret(gm_lease_get(st->s, ro, 64, GM_PROT_WRITE, &l), -EACCES);
	expect_ret(gm_view_get(st->s, ro, 64, GM_PROT_WRITE, &v), -EACCES);
	expect_mem(st, GPA_C(st), 2 * st->u);
}
