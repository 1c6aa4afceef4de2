/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance suite (conformance.c): the helpers that test one value of
 * every type of GM_INT_TYPES and GM_ENDIAN_TYPES through the space's
 * typed and atomic accessors and a view's inline ones, generated with the
 * header's X-macros for the tests of the other conformance-*.c files.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

/* ------------------------------------------------------------------ */
/* Typed-value helpers, generated for every type                       */
/* ------------------------------------------------------------------ */

/* 'l', 'b' or 'h' (host order) from the stringified X-macro tail. */
static char type_order(const char *tail)
{
	if (strstr(tail, "le"))
		return 'l';
	if (strstr(tail, "be"))
		return 'b';
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 'l' : 'b';
}

/* The bytes that hold @v in guest memory in byte order @ord. */
static void encode(uint64_t v, size_t n, char ord, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[ord == 'l' ? i : n - 1 - i] = (uint8_t)(v >> (8 * i));
}

/*
 * typed_<sfx>(): gm_write_<sfx> then check the bytes with gm_read, and
 * gm_write bytes then check gm_read_<sfx>.  view_typed_<sfx>() does the
 * same through a view's inline accessors.
 */
#define CONF_TYPED(sfx, T, ...)                                               \
	void typed_##sfx(struct conf_state *st, uint64_t gpa,                 \
			 uint64_t seed)                                       \
	{                                                                     \
		char ord = type_order(#__VA_ARGS__);                          \
		T val = (T)seed, got = 0;                                     \
		uint8_t enc[sizeof(T)], raw[sizeof(T)];                       \
                                                                              \
		encode(val, sizeof(T), ord, enc);                             \
		expect_ret(gm_write_##sfx(st->s, gpa, val), 0);               \
		shadow_write(st, gpa, enc, sizeof(T));                        \
		expect_ret(gm_read(st->s, gpa, raw, sizeof(T)), 0);           \
		assert_memory_equal(raw, enc, sizeof(T));                     \
                                                                              \
		val = (T)(seed * 0x9e3779b97f4a7c15ull + 1);                  \
		encode(val, sizeof(T), ord, enc);                             \
		cw(st, gpa, enc, sizeof(T));                                  \
		expect_ret(gm_read_##sfx(st->s, gpa, &got), 0);               \
		assert_int_equal(got, val);                                   \
	}                                                                     \
	void view_typed_##sfx(struct conf_state *st,                          \
			      const struct gm_view *v, uint64_t gpa,          \
			      uint64_t seed)                                  \
	{                                                                     \
		char ord = type_order(#__VA_ARGS__);                          \
		T val = (T)seed, got = 0;                                     \
		uint8_t enc[sizeof(T)], raw[sizeof(T)];                       \
                                                                              \
		encode(val, sizeof(T), ord, enc);                             \
		expect_ret(gm_view_write_##sfx(v, gpa, val), 0);              \
		shadow_write(st, gpa, enc, sizeof(T));                        \
		expect_ret(gm_read(st->s, gpa, raw, sizeof(T)), 0);           \
		assert_memory_equal(raw, enc, sizeof(T));                     \
                                                                              \
		val = (T)(seed * 0x9e3779b97f4a7c15ull + 1);                  \
		encode(val, sizeof(T), ord, enc);                             \
		cw(st, gpa, enc, sizeof(T));                                  \
		expect_ret(gm_view_read_##sfx(v, gpa, &got), 0);              \
		assert_int_equal(got, val);                                   \
                                                                              \
		/* Just outside the view on either side. */                   \
		expect_ret(gm_view_read_##sfx(v, v->gpa - 1, &got),           \
			   -EFAULT);                                          \
		expect_ret(gm_view_read_##sfx(v, v->gpa + v->len -            \
							 sizeof(T) + 1,       \
					      &got),                          \
			   -EFAULT);                                          \
		expect_ret(gm_view_write_##sfx(v, v->gpa + v->len -           \
							  sizeof(T) + 1,      \
					       val),                          \
			   -EFAULT);                                          \
		expect_ret(gm_view_write_##sfx(v, v->gpa + v->len, val),      \
			   -EFAULT);                                          \
	}                                                                     \
	/* Every typed write is refused at @gpa (read-only); reads work. */   \
	void typed_denied_##sfx(struct conf_state *st, uint64_t gpa)          \
	{                                                                     \
		T got = 0;                                                    \
                                                                              \
		expect_ret(gm_read_##sfx(st->s, gpa, &got), 0);               \
		expect_ret(gm_write_##sfx(st->s, gpa, (T)~got), -EACCES);     \
		expect_ret(gm_read_##sfx(st->s, gpa, &got), 0);               \
	}
GM_INT_TYPES(CONF_TYPED)
GM_ENDIAN_TYPES(CONF_TYPED)

/* Host-order load/store of a T, through gm_read/cw. */
#define CONF_MEM(sfx, T, ...)                                                 \
	void put_##sfx(struct conf_state *st, uint64_t gpa, T val)            \
	{                                                                     \
		cw(st, gpa, &val, sizeof(T));                                 \
	}                                                                     \
	T get_##sfx(struct conf_state *st, uint64_t gpa)                      \
	{                                                                     \
		T val = 0;                                                    \
		expect_ret(gm_read(st->s, gpa, &val, sizeof(T)), 0);          \
		return val;                                                   \
	}
GM_INT_TYPES(CONF_MEM)

static const int ld_orders[] = { GM_RELAXED, GM_ACQUIRE, GM_SEQ_CST };
static const int st_orders[] = { GM_RELAXED, GM_RELEASE, GM_SEQ_CST };
const int rmw_orders[] = { GM_RELAXED, GM_ACQUIRE, GM_RELEASE,
			   GM_ACQ_REL, GM_SEQ_CST };
/* 1 is __ATOMIC_CONSUME, which the API does not offer. */
static const int bad_orders[] = { 1, 6, -1, 100, 0x10000 };

/*
 * atomic_<sfx>(): every space atomic with every order it takes, then every
 * order it does not take; with @interior, also every misalignment.
 * atomic_denied_<sfx>(): at a read-only @gpa, loads work and everything
 * else is -EACCES; at a hole, everything is -EFAULT.
 */
#define CONF_ATOMIC(sfx, T, ...)                                              \
	void atomic_##sfx(struct conf_state *st, uint64_t gpa,                \
			  int interior)                                       \
	{                                                                     \
		struct gm_space *s = st->s;                                   \
		const T x = (T)0x8877665544332211ull;                         \
		const T y = (T)0x0123456789abcdefull;                         \
		const T z = (T)0xfedcba9876543210ull;                         \
		T v, old, exp;                                                \
		size_t i, k;                                                  \
                                                                              \
		for (i = 0; i < ARRAY_SIZE(ld_orders); i++) {                 \
			put_##sfx(st, gpa, (T)(x + i));                       \
			v = 0;                                                \
			expect_ret(gm_atomic_load_##sfx(s, gpa, &v,           \
							ld_orders[i]),        \
				   0);                                        \
			assert_int_equal(v, (T)(x + i));                      \
		}                                                             \
		for (i = 0; i < ARRAY_SIZE(st_orders); i++) {                 \
			expect_ret(gm_atomic_store_##sfx(s, gpa, (T)(y + i),  \
							 st_orders[i]),       \
				   0);                                        \
			assert_int_equal(get_##sfx(st, gpa), (T)(y + i));     \
			shadow_write(st, gpa, &(T){ (T)(y + i) }, sizeof(T)); \
		}                                                             \
		for (i = 0; i < ARRAY_SIZE(rmw_orders); i++) {                \
			int o = rmw_orders[i];                                \
                                                                              \
			put_##sfx(st, gpa, x);                                \
			old = 0;                                              \
			expect_ret(gm_atomic_xchg_##sfx(s, gpa, y, &old, o),  \
				   0);                                        \
			assert_int_equal(old, x);                             \
			assert_int_equal(get_##sfx(st, gpa), y);              \
                                                                              \
			exp = y;                                              \
			expect_ret(gm_atomic_cmpxchg_##sfx(s, gpa, &exp, z,   \
							   o),                \
				   1);                                        \
			assert_int_equal(exp, y);                             \
			assert_int_equal(get_##sfx(st, gpa), z);              \
			exp = x;                                              \
			expect_ret(gm_atomic_cmpxchg_##sfx(s, gpa, &exp, y,   \
							   o),                \
				   0);                                        \
			assert_int_equal(exp, z);                             \
			assert_int_equal(get_##sfx(st, gpa), z);              \
                                                                              \
			put_##sfx(st, gpa, x);                                \
			old = 0;                                              \
			expect_ret(gm_atomic_fetch_add_##sfx(s, gpa, y, &old, \
							     o),              \
				   0);                                        \
			assert_int_equal(old, x);                             \
			assert_int_equal(get_##sfx(st, gpa), (T)(x + y));     \
			expect_ret(gm_atomic_fetch_add_##sfx(s, gpa, 1, NULL, \
							     o),              \
				   0);                                        \
			assert_int_equal(get_##sfx(st, gpa), (T)(x + y + 1)); \
                                                                              \
			put_##sfx(st, gpa, x);                                \
			old = 0;                                              \
			expect_ret(gm_atomic_fetch_or_##sfx(s, gpa, y, &old,  \
							    o),               \
				   0);                                        \
			assert_int_equal(old, x);                             \
			assert_int_equal(get_##sfx(st, gpa), (T)(x | y));     \
			expect_ret(gm_atomic_fetch_or_##sfx(s, gpa, z, NULL,  \
							    o),               \
				   0);                                        \
			assert_int_equal(get_##sfx(st, gpa),                  \
					 (T)(x | y | z));                     \
                                                                              \
			put_##sfx(st, gpa, x);                                \
			old = 0;                                              \
			expect_ret(gm_atomic_fetch_and_##sfx(s, gpa, y, &old, \
							     o),              \
				   0);                                        \
			assert_int_equal(old, x);                             \
			assert_int_equal(get_##sfx(st, gpa), (T)(x & y));     \
			expect_ret(gm_atomic_fetch_and_##sfx(s, gpa, z, NULL, \
							     o),              \
				   0);                                        \
			assert_int_equal(get_##sfx(st, gpa),                  \
					 (T)(x & y & z));                     \
		}                                                             \
		/* fetch_add wraps modulo the type's width. */                \
		put_##sfx(st, gpa, (T)~(T)0);                                 \
		expect_ret(gm_atomic_fetch_add_##sfx(s, gpa, 2, &old,         \
						     GM_SEQ_CST),             \
			   0);                                                \
		assert_int_equal(old, (T)~(T)0);                              \
		assert_int_equal(get_##sfx(st, gpa), 1);                      \
                                                                              \
		/* Orders an operation cannot take change nothing. */         \
		put_##sfx(st, gpa, x);                                        \
		expect_ret(gm_atomic_load_##sfx(s, gpa, &v, GM_RELEASE),      \
			   -EINVAL);                                          \
		expect_ret(gm_atomic_load_##sfx(s, gpa, &v, GM_ACQ_REL),      \
			   -EINVAL);                                          \
		expect_ret(gm_atomic_store_##sfx(s, gpa, y, GM_ACQUIRE),      \
			   -EINVAL);                                          \
		expect_ret(gm_atomic_store_##sfx(s, gpa, y, GM_ACQ_REL),      \
			   -EINVAL);                                          \
		for (i = 0; i < ARRAY_SIZE(bad_orders); i++) {                \
			int o = bad_orders[i];                                \
                                                                              \
			exp = x;                                              \
			expect_ret(gm_atomic_load_##sfx(s, gpa, &v, o),       \
				   -EINVAL);                                  \
			expect_ret(gm_atomic_store_##sfx(s, gpa, y, o),       \
				   -EINVAL);                                  \
			expect_ret(gm_atomic_xchg_##sfx(s, gpa, y, &old, o),  \
				   -EINVAL);                                  \
			expect_ret(gm_atomic_cmpxchg_##sfx(s, gpa, &exp, y,   \
							   o),                \
				   -EINVAL);                                  \
			expect_ret(gm_atomic_fetch_add_##sfx(s, gpa, y, &old, \
							     o),              \
				   -EINVAL);                                  \
			expect_ret(gm_atomic_fetch_or_##sfx(s, gpa, y, &old,  \
							    o),               \
				   -EINVAL);                                  \
			expect_ret(gm_atomic_fetch_and_##sfx(s, gpa, y, &old, \
							     o),              \
				   -EINVAL);                                  \
		}                                                             \
		assert_int_equal(get_##sfx(st, gpa), x);                      \
                                                                              \
		/* Misaligned: refused whatever the order, nothing changes. */ \
		for (k = 1; interior && k < sizeof(T); k++) {                 \
			uint64_t m = gpa + k;                                 \
                                                                              \
			exp = x;                                              \
			for (i = 0; i < ARRAY_SIZE(rmw_orders); i++) {        \
				int o = rmw_orders[i];                        \
                                                                              \
				expect_ret(gm_atomic_xchg_##sfx(s, m, y,      \
								&old, o),     \
					   -EINVAL);                          \
				expect_ret(gm_atomic_cmpxchg_##sfx(s, m,      \
								   &exp, y,   \
								   o),        \
					   -EINVAL);                          \
				expect_ret(gm_atomic_fetch_add_##sfx(         \
						   s, m, y, &old, o),         \
					   -EINVAL);                          \
				expect_ret(gm_atomic_fetch_or_##sfx(          \
						   s, m, y, &old, o),         \
					   -EINVAL);                          \
				expect_ret(gm_atomic_fetch_and_##sfx(         \
						   s, m, y, &old, o),         \
					   -EINVAL);                          \
			}                                                     \
			for (i = 0; i < ARRAY_SIZE(ld_orders); i++)           \
				expect_ret(gm_atomic_load_##sfx(              \
						   s, m, &v, ld_orders[i]),   \
					   -EINVAL);                          \
			for (i = 0; i < ARRAY_SIZE(st_orders); i++)           \
				expect_ret(gm_atomic_store_##sfx(             \
						   s, m, y, st_orders[i]),    \
					   -EINVAL);                          \
		}                                                             \
		assert_int_equal(get_##sfx(st, gpa), x);                      \
	}                                                                     \
	void atomic_denied_##sfx(struct conf_state *st, uint64_t gpa,         \
				 int err)                                     \
	{                                                                     \
		struct gm_space *s = st->s;                                   \
		T v = 0, old = 0, exp = 0, want = 0;                          \
		size_t i;                                                     \
                                                                              \
		if (err == -EACCES)                                           \
			shadow_read(st, gpa, &want, sizeof(T));               \
		for (i = 0; i < ARRAY_SIZE(ld_orders); i++) {                 \
			v = (T)~want;                                         \
			expect_ret(gm_atomic_load_##sfx(s, gpa, &v,           \
							ld_orders[i]),        \
				   err == -EACCES ? 0 : err);                 \
			if (err == -EACCES)                                   \
				assert_int_equal(v, want);                    \
		}                                                             \
		for (i = 0; i < ARRAY_SIZE(st_orders); i++)                   \
			expect_ret(gm_atomic_store_##sfx(s, gpa, (T)~want,    \
							 st_orders[i]),       \
				   err);                                      \
		for (i = 0; i < ARRAY_SIZE(rmw_orders); i++) {                \
			int o = rmw_orders[i];                                \
                                                                              \
			exp = want;                                           \
			expect_ret(gm_atomic_xchg_##sfx(s, gpa, (T)~want,     \
							&old, o),             \
				   err);                                      \
			expect_ret(gm_atomic_cmpxchg_##sfx(s, gpa, &exp,      \
							   (T)~want, o),      \
				   err);                                      \
			expect_ret(gm_atomic_fetch_add_##sfx(s, gpa, 1, &old, \
							     o),              \
				   err);                                      \
			expect_ret(gm_atomic_fetch_or_##sfx(s, gpa, (T)~want, \
							    &old, o),         \
				   err);                                      \
			expect_ret(gm_atomic_fetch_and_##sfx(s, gpa, 0, &old, \
							     o),              \
				   err);                                      \
		}                                                             \
	}                                                                     \
	/* The inline view atomics, on a writable view. */                    \
	void view_atomic_##sfx(struct conf_state *st,                         \
			       const struct gm_view *vw, uint64_t gpa,        \
			       int interior)                                  \
	{                                                                     \
		const T x = (T)0x1122334455667788ull;                         \
		const T y = (T)0x99aabbccddeeff00ull;                         \
		const uint64_t end = vw->gpa + vw->len;                       \
		T v, old, exp;                                                \
		size_t i, k;                                                  \
                                                                              \
		for (i = 0; i < ARRAY_SIZE(ld_orders); i++) {                 \
			put_##sfx(st, gpa, (T)(x + i));                       \
			v = 0;                                                \
			expect_ret(gm_view_atomic_load_##sfx(vw, gpa, &v,     \
							     ld_orders[i]),   \
				   0);                                        \
			assert_int_equal(v, (T)(x + i));                      \
		}                                                             \
		for (i = 0; i < ARRAY_SIZE(st_orders); i++) {                 \
			expect_ret(gm_view_atomic_store_##sfx(                \
					   vw, gpa, (T)(y + i), st_orders[i]), \
				   0);                                        \
			assert_int_equal(get_##sfx(st, gpa), (T)(y + i));     \
			shadow_write(st, gpa, &(T){ (T)(y + i) }, sizeof(T)); \
		}                                                             \
		for (i = 0; i < ARRAY_SIZE(rmw_orders); i++) {                \
			int o = rmw_orders[i];                                \
                                                                              \
			put_##sfx(st, gpa, x);                                \
			old = 0;                                              \
			expect_ret(gm_view_atomic_fetch_add_##sfx(vw, gpa, y, \
								  &old, o),   \
				   0);                                        \
			assert_int_equal(old, x);                             \
			assert_int_equal(get_##sfx(st, gpa), (T)(x + y));     \
			expect_ret(gm_view_atomic_fetch_add_##sfx(vw, gpa, 1, \
								  NULL, o),   \
				   0);                                        \
			assert_int_equal(get_##sfx(st, gpa), (T)(x + y + 1)); \
			exp = (T)(x + y + 1);                                 \
			expect_ret(gm_view_atomic_cmpxchg_##sfx(vw, gpa,      \
								&exp, x, o),  \
				   1);                                        \
			assert_int_equal(get_##sfx(st, gpa), x);              \
			exp = y;                                              \
			expect_ret(gm_view_atomic_cmpxchg_##sfx(vw, gpa,      \
								&exp, y, o),  \
				   0);                                        \
			assert_int_equal(exp, x);                             \
			assert_int_equal(get_##sfx(st, gpa), x);              \
			shadow_write(st, gpa, &x, sizeof(T));                 \
		}                                                             \
		expect_ret(gm_view_atomic_load_##sfx(vw, gpa, &v, GM_RELEASE), \
			   -EINVAL);                                          \
		expect_ret(gm_view_atomic_load_##sfx(vw, gpa, &v, GM_ACQ_REL), \
			   -EINVAL);                                          \
		expect_ret(gm_view_atomic_store_##sfx(vw, gpa, y,             \
						      GM_ACQUIRE),            \
			   -EINVAL);                                          \
		expect_ret(gm_view_atomic_store_##sfx(vw, gpa, y,             \
						      GM_ACQ_REL),            \
			   -EINVAL);                                          \
		for (i = 0; i < ARRAY_SIZE(bad_orders); i++) {                \
			int o = bad_orders[i];                                \
                                                                              \
			exp = x;                                              \
			expect_ret(gm_view_atomic_load_##sfx(vw, gpa, &v, o), \
				   -EINVAL);                                  \
			expect_ret(gm_view_atomic_store_##sfx(vw, gpa, y, o), \
				   -EINVAL);                                  \
			expect_ret(gm_view_atomic_fetch_add_##sfx(vw, gpa, y, \
								  &old, o),   \
				   -EINVAL);                                  \
			expect_ret(gm_view_atomic_cmpxchg_##sfx(vw, gpa,      \
								&exp, y, o),  \
				   -EINVAL);                                  \
		}                                                             \
		for (k = 1; interior && k < sizeof(T); k++) {                 \
			exp = x;                                              \
			expect_ret(gm_view_atomic_load_##sfx(vw, gpa + k, &v, \
							     GM_ACQUIRE),     \
				   -EINVAL);                                  \
			expect_ret(gm_view_atomic_store_##sfx(vw, gpa + k, y, \
							      GM_RELEASE),    \
				   -EINVAL);                                  \
			expect_ret(gm_view_atomic_fetch_add_##sfx(            \
					   vw, gpa + k, y, &old, GM_SEQ_CST), \
				   -EINVAL);                                  \
			expect_ret(gm_view_atomic_cmpxchg_##sfx(              \
					   vw, gpa + k, &exp, y, GM_SEQ_CST), \
				   -EINVAL);                                  \
		}                                                             \
		/* Outside the view. */                                       \
		exp = x;                                                      \
		expect_ret(gm_view_atomic_load_##sfx(vw, end, &v, GM_RELAXED), \
			   -EFAULT);                                          \
		expect_ret(gm_view_atomic_store_##sfx(vw, vw->gpa - sizeof(T), \
						      y, GM_RELAXED),         \
			   -EFAULT);                                          \
		expect_ret(gm_view_atomic_fetch_add_##sfx(vw, end, y, &old,   \
							  GM_RELAXED),        \
			   -EFAULT);                                          \
		expect_ret(gm_view_atomic_cmpxchg_##sfx(vw, end, &exp, y,     \
							GM_RELAXED),          \
			   -EFAULT);                                          \
		assert_int_equal(get_##sfx(st, gpa), x);                      \
	}                                                                     \
	/* Through a read-only view: loads work, writes are -EACCES. */       \
	void view_denied_##sfx(const struct gm_view *vw, uint64_t gpa)        \
	{                                                                     \
		T v = 0, exp = 0;                                             \
                                                                              \
		expect_ret(gm_view_read_##sfx(vw, gpa, &v), 0);               \
		expect_ret(gm_view_write_##sfx(vw, gpa, (T)~v), -EACCES);     \
		expect_ret(gm_view_atomic_load_##sfx(vw, gpa, &v, GM_ACQUIRE), \
			   0);                                                \
		exp = v;                                                      \
		expect_ret(gm_view_atomic_store_##sfx(vw, gpa, (T)~v,         \
						      GM_RELEASE),            \
			   -EACCES);                                          \
		expect_ret(gm_view_atomic_fetch_add_##sfx(vw, gpa, 1, NULL,   \
							  GM_SEQ_CST),        \
			   -EACCES);                                          \
		expect_ret(gm_view_atomic_cmpxchg_##sfx(vw, gpa, &exp,        \
							(T)~v, GM_SEQ_CST),   \
			   -EACCES);                                          \
	}
GM_INT_TYPES(CONF_ATOMIC)
