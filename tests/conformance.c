/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backend-neutral conformance suite (see conformance.h for the layout every
 * test starts from).  Each test asserts the documented behaviour of one
 * family of accessors; the teardown then compares the whole space with
 * the suite's shadow copy, so a write that lands where it should not fails
 * the test that made it.
 *
 * cmocka assertions must only run on the test's own thread: helper threads
 * count what went wrong and the test asserts on the counts after joining.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "conformance.h"
#include "test-util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Fixture state                                                       */
/* ------------------------------------------------------------------ */

/*
 * cmocka hands tests a void ** only, so conf_run() parks the fixture it is
 * running here.  conf_run() is not reentrant, which is fine for a test
 * binary's main().
 */
static const struct conf_fixture *cf;
static void *cf_ctx;

enum { R_A, R_B, R_C, R_RO, R_4G, R_TOP, NREG };

/* One region of the layout and its shadow copy. */
struct creg {
	uint64_t gpa, size;
	int rdonly;
	int live;		/* in the space */
	const uint8_t *hva0;	/* gm_region.hva when it was made */
	uint8_t *shadow;	/* what the region must contain */
};

struct conf_state {
	struct gm_space *s;
	uint64_t u;		/* layout unit: 64 KiB rounded to granule */
	struct creg r[NREG];
};

/* Layout addresses in units of st->u. */
#define GPA_A(st) 0
#define GPA_B(st) ((st)->u)
#define GPA_HOLE(st) (2 * (st)->u)
#define GPA_C(st) (3 * (st)->u)
#define GPA_RO(st) (4 * (st)->u)
#define GPA_HOLE2(st) (5 * (st)->u)
#define GPA_HOT(st) (8 * (st)->u)
#define GPA_4G(st) (UINT64_C(1) << 32)
#define GPA_TOP(st) (0 - (st)->u)

/* The byte every writable region holds at @gpa after setup. */
static uint8_t pat(uint64_t gpa)
{
	return (uint8_t)((gpa * UINT64_C(0x9e3779b97f4a7c15)) >> 56) ^
	       (uint8_t)gpa;
}

static const char *errname(long long e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ EINVAL, "EINVAL" },	  { EFAULT, "EFAULT" },
		{ EACCES, "EACCES" },	  { EOVERFLOW, "EOVERFLOW" },
		{ ENOMEM, "ENOMEM" },	  { EEXIST, "EEXIST" },
		{ ENOENT, "ENOENT" },	  { EOPNOTSUPP, "EOPNOTSUPP" },
		{ EBUSY, "EBUSY" },	  { EBADF, "EBADF" },
		{ ENODEV, "ENODEV" },	  { ENXIO, "ENXIO" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (e == -names[i].e)
			return names[i].name;
	return e < 0 ? "?" : "ok";
}

/* Fail the test unless @got == @want, naming the call and both codes. */
static void check_ret(long long got, long long want, const char *expr,
		      const char *file, int line)
{
	if (got == want)
		return;
	print_error("%s\n  returned %lld (%s), expected %lld (%s)\n"
		    "  last error: %s\n",
		    expr, got, errname(got), want, errname(want),
		    gm_last_error());
	_fail(file, line);
}

#define expect_ret(call, want)                                                \
	check_ret((long long)(call), (long long)(want), #call, __FILE__,      \
		  __LINE__)

/*
 * Check gm_last_error() against the documented format:
 *   guest memory '<space>': <op> error: failed to access <gpa>-<end>
 *   at <at>: <why>
 * with <end> = gpa + len.  @op may be NULL where the header does not say
 * which operation name a call reports.
 */
static void check_msg(const char *op, uint64_t gpa, uint64_t len,
		      uint64_t at, const char *file, int line)
{
	const char *m = gm_last_error();
	char name[64], opb[32], want_name[64];
	uint64_t a = 0, b = 0, c = 0;
	int n = 0;

	snprintf(want_name, sizeof(want_name), "%s", cf->name);
	if (sscanf(m,
		   "guest memory '%63[^']': %31s error: failed to access "
		   "%" SCNx64 "-%" SCNx64 " at %" SCNx64 ":%n",
		   name, opb, &a, &b, &c, &n) != 5 || n == 0) {
		print_error("cannot parse last error '%s'\n", m);
		_fail(file, line);
		return;
	}
	if (strcmp(name, want_name) || (op && strcmp(opb, op)) || a != gpa ||
	    b != gpa + len || c != at) {
		print_error("last error '%s'\n  expected space '%s', op '%s', "
			    "range 0x%" PRIx64 "-0x%" PRIx64 " at 0x%" PRIx64
			    "\n",
			    m, want_name, op ? op : "(any)", gpa, gpa + len,
			    at);
		_fail(file, line);
	}
}

#define expect_msg(op, gpa, len, at)                                          \
	check_msg((op), (gpa), (len), (at), __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* Shadow bookkeeping                                                  */
/* ------------------------------------------------------------------ */

static struct creg *reg_of(struct conf_state *st, uint64_t gpa)
{
	size_t i;

	for (i = 0; i < NREG; i++) {
		struct creg *c = &st->r[i];

		if (c->live && gpa - c->gpa < c->size)
			return c;
	}
	return NULL;
}

/* Record that [gpa, gpa + len) now holds @buf. */
static void shadow_write(struct conf_state *st, uint64_t gpa,
			 const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		struct creg *c = reg_of(st, gpa + i);

		assert_non_null(c);
		assert_false(c->rdonly);
		c->shadow[gpa + i - c->gpa] = p[i];
	}
}

static void shadow_fill(struct conf_state *st, uint64_t gpa, uint8_t byte,
			size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		shadow_write(st, gpa + i, &byte, 1);
}

static void shadow_read(struct conf_state *st, uint64_t gpa, void *buf,
			size_t len)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		struct creg *c = reg_of(st, gpa + i);

		assert_non_null(c);
		p[i] = c->shadow[gpa + i - c->gpa];
	}
}

/* Fail unless guest memory [gpa, gpa + len) matches the shadow. */
static void check_mem(struct conf_state *st, uint64_t gpa, size_t len,
		      const char *file, int line)
{
	uint8_t *got = malloc(len ? len : 1), *want = malloc(len ? len : 1);
	size_t i;

	assert_non_null(got);
	assert_non_null(want);
	shadow_read(st, gpa, want, len);
	check_ret(gm_read(st->s, gpa, got, len), 0, "gm_read", file, line);
	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			print_error("guest byte 0x%" PRIx64 " is 0x%02x, "
				    "expected 0x%02x\n",
				    gpa + i, got[i], want[i]);
			free(got);
			free(want);
			_fail(file, line);
			return;
		}
	}
	free(got);
	free(want);
}

#define expect_mem(st, gpa, len) check_mem((st), (gpa), (len), __FILE__, \
					   __LINE__)

/* gm_write() that must succeed, recorded in the shadow. */
static void cw(struct conf_state *st, uint64_t gpa, const void *buf,
	       size_t len)
{
	expect_ret(gm_write(st->s, gpa, buf, len), 0);
	shadow_write(st, gpa, buf, len);
}

/* Deterministic test data that differs between calls. */
static void gen(void *buf, size_t len, unsigned int seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 12345;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345;
		p[i] = (uint8_t)(x >> 16);
	}
}

static void verify_all(struct conf_state *st)
{
	size_t i;

	for (i = 0; i < NREG; i++)
		if (st->r[i].live)
			expect_mem(st, st->r[i].gpa, st->r[i].size);
}

/* ------------------------------------------------------------------ */
/* Per-test setup and teardown                                         */
/* ------------------------------------------------------------------ */

/*
 * Make region @i of the layout, add it and give it its starting
 * contents.  New regions must read as zero; that is checked here, and the
 * hot add/remove test relies on it.
 */
static void region_make(struct conf_state *st, int i)
{
	struct creg *c = &st->r[i];
	struct gm_region *r = NULL;
	uint64_t j;
	int ret;

	expect_ret(cf->region_new(cf_ctx, st->s, c->gpa, c->size, c->rdonly,
				  &r),
		   0);
	assert_non_null(r);
	c->hva0 = r->hva;
	ret = gm_space_add_region(st->s, r);
	if (ret < 0)
		gm_region_destroy(r);
	expect_ret(ret, 0);
	c->live = 1;

	if (!c->shadow) {
		c->shadow = malloc(c->size);
		assert_non_null(c->shadow);
	}
	expect_ret(gm_read(st->s, c->gpa, c->shadow, c->size), 0);
	if (c->rdonly)
		return;
	for (j = 0; j < c->size; j++)
		if (c->shadow[j]) {
			print_error("new region byte 0x%" PRIx64 " is 0x%02x\n",
				    c->gpa + j, c->shadow[j]);
			fail();
		}
	for (j = 0; j < c->size; j++)
		c->shadow[j] = pat(c->gpa + j);
	expect_ret(gm_write(st->s, c->gpa, c->shadow, c->size), 0);
}

static int conf_setup(void **state)
{
	struct conf_state *st = calloc(1, sizeof(*st));
	uint64_t g = cf->granule ? cf->granule : 1;
	int i;

	assert_non_null(st);
	*state = st;
	st->u = (UINT64_C(65536) + g - 1) / g * g;
	st->r[R_A] = (struct creg){ .gpa = GPA_A(st), .size = st->u };
	st->r[R_B] = (struct creg){ .gpa = GPA_B(st), .size = st->u };
	st->r[R_C] = (struct creg){ .gpa = GPA_C(st), .size = st->u };
	st->r[R_RO] = (struct creg){ .gpa = GPA_RO(st), .size = st->u,
				     .rdonly = 1 };
	st->r[R_4G] = (struct creg){ .gpa = GPA_4G(st), .size = st->u };
	st->r[R_TOP] = (struct creg){ .gpa = GPA_TOP(st), .size = st->u };

	if (cf->space_new)
		expect_ret(cf->space_new(cf_ctx, cf->name, &st->s), 0);
	else
		expect_ret(gm_space_new(&st->s, cf->name, 0), 0);
	/*
	 * Highest address first: the space must sort what it is given, and
	 * with top-down mmap placement, neighbours made in this order tend
	 * to be neighbours in the host too, which exercises the merging of
	 * host-contiguous lease pieces (valgrind's placement does not).
	 */
	for (i = NREG - 1; i >= 0; i--)
		region_make(st, i);
	return 0;
}

static int conf_teardown(void **state)
{
	struct conf_state *st = *state;
	int i;

	/* A test that freed the space itself clears st->s. */
	if (st->s) {
		verify_all(st);
		gm_space_free(st->s);
	}
	for (i = 0; i < NREG; i++)
		free(st->r[i].shadow);
	free(st);
	if (cf->check)
		cf->check(cf_ctx);
	return 0;
}

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
	static void typed_##sfx(struct conf_state *st, uint64_t gpa,          \
				uint64_t seed)                                \
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
	static void view_typed_##sfx(struct conf_state *st,                   \
				     const struct gm_view *v, uint64_t gpa,   \
				     uint64_t seed)                           \
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
	static void typed_denied_##sfx(struct conf_state *st, uint64_t gpa)   \
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
	static void put_##sfx(struct conf_state *st, uint64_t gpa, T val)     \
	{                                                                     \
		cw(st, gpa, &val, sizeof(T));                                 \
	}                                                                     \
	static T get_##sfx(struct conf_state *st, uint64_t gpa)               \
	{                                                                     \
		T val = 0;                                                    \
		expect_ret(gm_read(st->s, gpa, &val, sizeof(T)), 0);          \
		return val;                                                   \
	}
GM_INT_TYPES(CONF_MEM)

static const int ld_orders[] = { GM_RELAXED, GM_ACQUIRE, GM_SEQ_CST };
static const int st_orders[] = { GM_RELAXED, GM_RELEASE, GM_SEQ_CST };
static const int rmw_orders[] = { GM_RELAXED, GM_ACQUIRE, GM_RELEASE,
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
	static void atomic_##sfx(struct conf_state *st, uint64_t gpa,         \
				 int interior)                                \
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
	static void atomic_denied_##sfx(struct conf_state *st, uint64_t gpa,  \
					int err)                              \
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
	static void view_atomic_##sfx(struct conf_state *st,                  \
				      const struct gm_view *vw, uint64_t gpa, \
				      int interior)                           \
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
	static void view_denied_##sfx(const struct gm_view *vw, uint64_t gpa) \
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

/* ------------------------------------------------------------------ */
/* Region listing, add and remove                                      */
/* ------------------------------------------------------------------ */

static void check_info(struct conf_state *st, const struct gm_region_info *ri,
		       int i)
{
	const struct creg *c = &st->r[i];

	assert_int_equal(ri->gpa, c->gpa);
	assert_int_equal(ri->size, c->size);
	assert_int_equal(!!(ri->flags & GM_REGION_RDONLY), c->rdonly);
	assert_int_equal(ri->mapped, c->hva0 != NULL);
	assert_non_null(ri->backend);
	assert_true(ri->backend[0] != '\0');
}

static void test_regions_list(void **state)
{
	struct conf_state *st = *state;
	struct gm_region_info ri[NREG + 2], poison;
	int i;

	memset(&poison, 0xee, sizeof(poison));
	for (i = 0; i < NREG + 2; i++)
		ri[i] = poison;
	expect_ret(gm_space_get_regions(st->s, ri, NREG + 2), NREG);
	for (i = 0; i < NREG; i++)
		check_info(st, &ri[i], i);
	assert_memory_equal(&ri[NREG], &poison, sizeof(poison));

	/* Counting only, then a short array: the count is still the total. */
	expect_ret(gm_space_get_regions(st->s, NULL, 0), NREG);
	for (i = 0; i < NREG + 2; i++)
		ri[i] = poison;
	expect_ret(gm_space_get_regions(st->s, ri, 2), NREG);
	check_info(st, &ri[0], 0);
	check_info(st, &ri[1], 1);
	assert_memory_equal(&ri[2], &poison, sizeof(poison));

	/* After a removal the list closes up. */
	expect_ret(gm_space_remove_region(st->s, GPA_B(st)), 0);
	st->r[R_B].live = 0;
	expect_ret(gm_space_get_regions(st->s, ri, NREG + 2), NREG - 1);
	check_info(st, &ri[0], R_A);
	for (i = R_C; i < NREG; i++)
		check_info(st, &ri[i - 1], i);
}

static void test_remove_and_readd(void **state)
{
	struct conf_state *st = *state;
	struct gm_space *s2;
	struct gm_region *r = NULL;
	uint64_t g = st->u;
	uint8_t buf[16];
	int ret;

	expect_ret(gm_space_remove_region(st->s, GPA_B(st)), 0);
	st->r[R_B].live = 0;
	expect_ret(gm_read(st->s, GPA_B(st), buf, 1), -EFAULT);
	expect_ret(gm_read(st->s, GPA_B(st) - 8, buf, 16), -EFAULT);
	expect_msg("read", GPA_B(st) - 8, 16, GPA_B(st));
	expect_ret(gm_space_remove_region(st->s, GPA_B(st)), -ENOENT);
	/* Only a region's base address names it. */
	expect_ret(gm_space_remove_region(st->s, GPA_A(st) + cf->granule),
		   -ENOENT);
	expect_ret(gm_space_remove_region(st->s, GPA_HOLE(st)), -ENOENT);

	/* Overlaps are refused and the caller keeps the region. */
	expect_ret(cf->region_new(cf_ctx, st->s, GPA_A(st) + g - cf->granule,
				  2 * cf->granule, 0, &r),
		   0);
	expect_ret(gm_space_add_region(st->s, r), -EEXIST);
	gm_region_destroy(r);
	expect_ret(cf->region_new(cf_ctx, st->s, GPA_C(st), g, 0, &r), 0);
	expect_ret(gm_space_add_region(st->s, r), -EEXIST);
	gm_region_destroy(r);

	/* A region in one space cannot join another. */
	expect_ret(cf->region_new(cf_ctx, st->s, GPA_HOT(st), g, 0, &r), 0);
	expect_ret(gm_space_add_region(st->s, r), 0);
	expect_ret(gm_space_new(&s2, "other", 0), 0);
	ret = gm_space_add_region(s2, r);
	gm_space_free(s2);
	expect_ret(ret, -EINVAL);
	expect_ret(gm_space_remove_region(st->s, GPA_HOT(st)), 0);

	/* Only a region that would wrap past 2^64 is refused. */
	r = NULL;
	ret = cf->region_new(cf_ctx, st->s, GPA_TOP(st), 2 * g, 0, &r);
	if (ret == 0)
		gm_region_destroy(r);
	expect_ret(ret, -EOVERFLOW);

	/* The hole left by B can be filled again, with fresh memory. */
	region_make(st, R_B);
	expect_mem(st, GPA_A(st), 2 * g);
	cw(st, GPA_B(st) - 4, "abcdefgh", 8);
	expect_mem(st, GPA_B(st) - 64, 128);
}

/* ------------------------------------------------------------------ */
/* Byte and typed accessors                                            */
/* ------------------------------------------------------------------ */

static void test_high_regions(void **state)
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

static void test_straddle_bytes(void **state)
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

static void test_straddle_typed(void **state)
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

static void test_endian(void **state)
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

static void test_holes(void **state)
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

static void test_partial(void **state)
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

static void test_fill_zero(void **state)
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

static void test_atomics(void **state)
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

static void test_atomic_concurrent(void **state)
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
/* Single-copy atomicity of copies                                     */
/* ------------------------------------------------------------------ */

/*
 * guestmem.h promises that no copy tears a naturally aligned 2-, 4- or
 * 8-byte field inside the copied range.  A thread flips one such field
 * between all-zero and all-one bits (or watches it) with atomics while the
 * test copies ranges around it through every copy entry point, at every
 * offset of the field in the range and over a region boundary: a copy
 * must only ever see, or leave, one of the two values.  Tearing is a race
 * with a window of a cycle or two, which real threads seldom hit: this
 * test shows the copies are safe under real concurrency, and
 * test_copy_stepped() below is the deterministic one, which single-steps
 * every copy and changes (or checks) the field between any two of its
 * instructions.  valgrind runs one thread at a time and shows no tear.
 */
#define TEAR_ROUNDS (RUNNING_ON_VALGRIND ? 40 : 600)

struct tear_arg {
	struct gm_space *s;
	uint64_t gpa;		/* the field */
	unsigned int width;	/* its size: 2, 4 or 8 */
	int flip;		/* 1: store the field, 0: load it */
	atomic_int stop;
	long bad, errors;
	uint64_t seen;		/* a torn value loaded */
};

static uint64_t tear_ones(unsigned int width)
{
	return width == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;
}

static int tear_atomic(struct tear_arg *a, int store, uint64_t *v)
{
	int ret = -EINVAL;

	switch (a->width) {
	case 2: {
		uint16_t x = (uint16_t)*v;

		ret = store ? gm_atomic_store_u16(a->s, a->gpa, x, GM_RELAXED)
			    : gm_atomic_load_u16(a->s, a->gpa, &x, GM_RELAXED);
		*v = x;
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)*v;

		ret = store ? gm_atomic_store_u32(a->s, a->gpa, x, GM_RELAXED)
			    : gm_atomic_load_u32(a->s, a->gpa, &x, GM_RELAXED);
		*v = x;
		break;
	}
	case 8:
		ret = store ? gm_atomic_store_u64(a->s, a->gpa, *v, GM_RELAXED)
			    : gm_atomic_load_u64(a->s, a->gpa, v, GM_RELAXED);
		break;
	}
	return ret;
}

static void *tear_thread(void *p)
{
	struct tear_arg *a = p;
	uint64_t ones = tear_ones(a->width);
	unsigned long i = 0;

	while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
		uint64_t v = (i++ & 1) ? ones : 0;

		if (tear_atomic(a, a->flip, &v))
			a->errors++;
		else if (!a->flip && v != 0 && v != ones) {
			a->bad++;
			a->seen = v;
		}
	}
	return NULL;
}

/* Whether the @width bytes at @p are all 0x00 or all 0xff. */
static int tear_whole(const uint8_t *p, unsigned int width)
{
	unsigned int i;

	for (i = 1; i < width; i++)
		if (p[i] != p[0])
			return 0;
	return p[0] == 0 || p[0] == 0xff;
}

/* A copy around the field: it starts @k bytes before it, is @len long. */
struct tear_shape {
	unsigned int k;
	size_t len;
};

static void tear_one(struct conf_state *st, uint64_t field,
		     unsigned int width, int flip)
{
	static uint8_t buf[4096 + 64];
	struct tear_arg a = { .s = st->s, .gpa = field, .width = width,
			      .flip = flip };
	struct tear_shape shapes[64];
	size_t nshapes = 0, i;
	const char *where = "";
	uint64_t lo = field - 64;
	uint8_t *orig = malloc(4096 + 128);
	pthread_t t;
	long torn = 0;
	int r;

	assert_non_null(orig);
	/* The field at the start, the end and inside copies of every
	 * length the walk treats differently. */
	for (i = 0; i < 8; i++) {
		static const size_t extra[] = { 0, 1, 3, 5, 9, 17, 40 };
		size_t j;

		for (j = 0; j < ARRAY_SIZE(extra); j++)
			if (i < width || extra[j])
				shapes[nshapes++] = (struct tear_shape){
					(unsigned int)i, i + width + extra[j]
				};
		if (nshapes > ARRAY_SIZE(shapes) - 8)
			break;
	}
	shapes[nshapes++] = (struct tear_shape){ 3, 300 };
	shapes[nshapes++] = (struct tear_shape){ 64, 4096 };
	shadow_read(st, lo, orig, 4096 + 128);
	/* The field starts as one of the two values. */
	memset(buf, 0, width);
	expect_ret(gm_write(st->s, field, buf, width), 0);
	assert_int_equal(pthread_create(&t, NULL, tear_thread, &a), 0);
	for (r = 0; r < TEAR_ROUNDS; r++) {
		const struct tear_shape *sh = &shapes[r % nshapes];
		uint64_t gpa = field - sh->k;
		uint8_t fill = (r & 1) ? 0xff : 0x00;
		ssize_t n = 0;
		int ret = 0;

		if (!flip) {
			/* The thread loads the field while we write. */
			memset(buf, fill, sh->len);
			switch (r % 3) {
			case 0:
				ret = gm_write(st->s, gpa, buf, sh->len);
				where = "gm_write";
				break;
			case 1:
				n = gm_write_partial(st->s, gpa, buf, sh->len);
				ret = n == (ssize_t)sh->len ? 0 : (int)n;
				where = "gm_write_partial";
				break;
			case 2:
				ret = gm_fill(st->s, gpa, fill, sh->len);
				where = "gm_fill";
				break;
			}
			if (ret)
				break;
			continue;
		}
		switch (r % 3) {
		case 0:
			ret = gm_read(st->s, gpa, buf, sh->len);
			where = "gm_read";
			break;
		case 1:
			n = gm_read_partial(st->s, gpa, buf, sh->len);
			ret = n == (ssize_t)sh->len ? 0 : (int)n;
			where = "gm_read_partial";
			break;
		case 2: {
			/* An object, as gm_read_obj() copies it. */
			struct {
				uint8_t b[24];
			} obj;

			if (sh->len > sizeof(obj))
				ret = gm_read(st->s, gpa, buf, sh->len);
			else
				ret = gm_read_obj(st->s, gpa, &obj);
			memcpy(buf, &obj, sizeof(obj) < sh->len ? sizeof(obj)
								 : sh->len);
			if (sh->len > sizeof(obj))
				ret = gm_read(st->s, gpa, buf, sh->len);
			where = "gm_read_obj";
			break;
		}
		}
		if (ret)
			break;
		if (!tear_whole(buf + sh->k, width) && !torn++)
			print_error("%s of %zu bytes at 0x%" PRIx64
				    " tore the %u-byte field at 0x%" PRIx64
				    ": %02x %02x ...\n",
				    where, sh->len, gpa, width, field,
				    buf[sh->k], buf[sh->k + 1]);
	}
	/* cmocka's failures jump: only once the thread is gone. */
	atomic_store(&a.stop, 1);
	pthread_join(t, NULL);
	if (r < TEAR_ROUNDS)
		fail_msg("%s round %d: %s", where, r, gm_last_error());
	assert_int_equal(a.errors, 0);
	if (a.bad)
		fail_msg("the %u-byte field at 0x%" PRIx64 " was loaded torn "
			 "%ld times (0x%" PRIx64 ") while copies wrote it",
			 width, field, a.bad, a.seen);
	if (torn)
		fail_msg("%ld copies tore the %u-byte field at 0x%" PRIx64,
			 torn, width, field);
	/* Put back what the shadow says. */
	expect_ret(gm_write(st->s, lo, orig, 4096 + 128), 0);
	free(orig);
}

static void test_no_tearing(void **state)
{
	struct conf_state *st = *state;
	static const unsigned int widths[] = { 2, 4, 8 };
	size_t w;
	int flip;

	for (w = 0; w < ARRAY_SIZE(widths); w++) {
		unsigned int width = widths[w];
		/* Inside a region; at the end of region A, so that longer
		 * copies go on into B; at the start of B, so that copies
		 * start in A. */
		const uint64_t fields[] = { GPA_A(st) + 0x140,
					    GPA_B(st) - width, GPA_B(st) };
		size_t f;

		for (f = 0; f < ARRAY_SIZE(fields); f++)
			for (flip = 0; flip < 2; flip++)
				tear_one(st, fields[f], width, flip);
	}
}

#if defined(__SANITIZE_THREAD__)
#define CONF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONF_TSAN 1
#endif
#endif
#ifndef CONF_TSAN
#define CONF_TSAN 0
#endif

#if defined(__x86_64__)
/*
 * The deterministic half of the promise: with the trap flag set, the CPU
 * raises SIGTRAP after every instruction of the copy, and the handler
 * either flips the field (the copy reads it: what lands in the buffer must
 * be one whole value, so the field must have been read by one
 * instruction) or checks it (the copy writes it: it must never be seen
 * half written).  A rep-prefixed string instruction traps after each
 * iteration, so a byte-wise copy fails too.
 */
enum { STEP_OFF, STEP_FLIP, STEP_CHECK };

static volatile uint8_t *step_field;	/* host address of the field */
static unsigned int step_width;
static volatile sig_atomic_t step_mode;
static volatile unsigned long step_count, step_torn;

static uint64_t step_load(void)
{
	switch (step_width) {
	case 2:
		return *(volatile uint16_t *)step_field;
	case 4:
		return *(volatile uint32_t *)step_field;
	default:
		return *(volatile uint64_t *)step_field;
	}
}

static void step_store(uint64_t v)
{
	switch (step_width) {
	case 2:
		*(volatile uint16_t *)step_field = (uint16_t)v;
		break;
	case 4:
		*(volatile uint32_t *)step_field = (uint32_t)v;
		break;
	default:
		*(volatile uint64_t *)step_field = v;
		break;
	}
}

static void step_trap(int sig, siginfo_t *si, void *uc)
{
	uint64_t ones = tear_ones(step_width), v;

	(void)sig;
	(void)si;
	(void)uc;
	if (step_mode == STEP_OFF)
		return;
	step_count++;
	if (step_mode == STEP_FLIP) {
		step_store((step_count & 1) ? ones : 0);
	} else {
		v = step_load();
		if (v != 0 && v != ones)
			step_torn++;
	}
}

/* Set / clear the trap flag.  Below the red zone: the caller may keep
 * data under its stack pointer. */
static __attribute__((noinline)) void step_on(void)
{
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
			 "pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "lea 128(%%rsp), %%rsp"
			 :
			 :
			 : "memory", "cc");
}

static __attribute__((noinline)) void step_off(void)
{
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
			 "pushfq\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "lea 128(%%rsp), %%rsp"
			 :
			 :
			 : "memory", "cc");
}

/* One copy of [gpa, gpa + len) through entry point @how, single-stepped. */
static int step_copy(struct conf_state *st, int how, uint64_t gpa,
		     uint8_t *buf, size_t len, uint8_t fill)
{
	ssize_t n = 0;
	int ret = 0;

	step_mode = how < 3 ? STEP_FLIP : STEP_CHECK;
	step_on();
	switch (how) {
	case 0:
		ret = gm_read(st->s, gpa, buf, len);
		break;
	case 1:
		n = gm_read_partial(st->s, gpa, buf, len);
		break;
	case 2:
		ret = gm_read_obj(st->s, gpa, (uint8_t(*)[24])buf);
		break;
	case 3:
		ret = gm_write(st->s, gpa, buf, len);
		break;
	case 4:
		n = gm_write_partial(st->s, gpa, buf, len);
		break;
	case 5:
		ret = gm_fill(st->s, gpa, fill, len);
		break;
	}
	step_off();
	step_mode = STEP_OFF;
	if (how == 1 || how == 4)
		ret = n == (ssize_t)len ? 0 : (int)n;
	return ret;
}

static void test_copy_stepped(void **state)
{
	static const char *const names[] = { "gm_read", "gm_read_partial",
					     "gm_read_obj", "gm_write",
					     "gm_write_partial", "gm_fill" };
	static const unsigned int widths[] = { 2, 4, 8 };
	/* The field at the start, the end, inside; lengths that take each
	 * step of the walk.  Bytes before the field, and bytes after it. */
	static const struct tear_shape shapes[] = {
		{ 0, 0 }, { 1, 1 }, { 0, 5 }, { 3, 3 }, { 5, 6 }, { 7, 9 },
		{ 6, 17 }, { 2, 40 }, { 64, 4096 },
	};
	struct conf_state *st = *state;
	struct sigaction sa, old;
	uint8_t *orig, *buf;
	unsigned long steps = 0;
	size_t w, f, i;
	int how;

	if (RUNNING_ON_VALGRIND)
		skip(); /* valgrind does not emulate the trap flag */
	if (CONF_TSAN)
		skip(); /* ThreadSanitizer defers and wraps every signal, which
			 * makes a trap per instruction cost milliseconds; the
			 * test is single-threaded and has nothing for it */
	orig = malloc(4096 + 256);
	buf = malloc(4096 + 256);
	assert_non_null(orig);
	assert_non_null(buf);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = step_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGTRAP, &sa, &old), 0);
	for (w = 0; w < ARRAY_SIZE(widths); w++) {
		unsigned int width = widths[w];
		const uint64_t fields[] = { GPA_A(st) + 0x140,
					    GPA_B(st) - width, GPA_B(st) };

		for (f = 0; f < ARRAY_SIZE(fields); f++) {
			uint64_t field = fields[f], lo = field - 64;
			struct gm_view v;

			/* Each width inside a region, and over the boundary
			 * at one of its two sides. */
			if (f && f != 1 + w % 2)
				continue;

			shadow_read(st, lo, orig, 4096 + 128);
			expect_ret(gm_view_get(st->s, field, width,
					       GM_PROT_READ | GM_PROT_WRITE,
					       &v),
				   0);
			step_field = v.hva;
			step_width = width;
			for (how = 0; how < 6; how++) {
				for (i = 0; i < ARRAY_SIZE(shapes); i++) {
					const struct tear_shape *sh = &shapes[i];
					size_t len = sh->len + width;
					uint64_t gpa = field - sh->k;
					uint8_t fill = (i & 1) ? 0xff : 0;
					int ret;

					/* The other entry points share the
					 * walk with gm_read() and gm_write():
					 * a few shapes each. */
					if ((how == 1 || how == 4 || how == 5) &&
					    i % 3 != (size_t)how % 3)
						continue;
					if (how == 2 && (i > 4 || i < 2))
						continue;
					if (how == 2)
						len = 24; /* the object */
					if (how >= 3) {
						step_store(fill ? 0 : UINT64_MAX);
						memset(buf, fill, len);
					}
					step_count = step_torn = 0;
					ret = step_copy(st, how, gpa, buf, len,
							fill);
					steps += step_count;
					if (ret)
						fail_msg("%s(0x%" PRIx64 ", %zu):"
							 " %d, %s",
							 names[how], gpa, len,
							 ret, gm_last_error());
					if (how < 3 &&
					    !tear_whole(buf + sh->k, width))
						fail_msg("%s of %zu bytes at "
							 "0x%" PRIx64 " read "
							 "the %u-byte field at "
							 "0x%" PRIx64 " torn",
							 names[how], len, gpa,
							 width, field);
					if (step_torn)
						fail_msg("%s of %zu bytes at "
							 "0x%" PRIx64 " left "
							 "the %u-byte field at "
							 "0x%" PRIx64 " half "
							 "written %lu times",
							 names[how], len, gpa,
							 width, field,
							 (unsigned long)step_torn);
				}
			}
			gm_view_put(&v);
			expect_ret(gm_write(st->s, lo, orig, 4096 + 128), 0);
		}
	}
	assert_int_equal(sigaction(SIGTRAP, &old, NULL), 0);
	free(orig);
	free(buf);
	/* The trap flag took effect: every copy was stepped. */
	assert_true(steps > 1000);
}
#endif /* __x86_64__ */

/* ------------------------------------------------------------------ */
/* fd I/O                                                              */
/* ------------------------------------------------------------------ */

static int tmp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/gm-conf-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static int pipe_avail(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Feeds a pipe in small chunks from another thread, so that the reader
 * sees short reads, then closes it.
 */
struct feeder {
	int fd;
	const uint8_t *buf;
	size_t len;
	int failed;
};

static void *feed(void *p)
{
	struct feeder *f = p;
	size_t done = 0;

	while (done < f->len) {
		size_t n = f->len - done < 7 ? f->len - done : 7;
		ssize_t w = write(f->fd, f->buf + done, n);

		if (w <= 0) {
			f->failed = 1;
			break;
		}
		done += (size_t)w;
		sched_yield();
	}
	close(f->fd);
	return NULL;
}

static ssize_t read_fed(struct conf_state *st, uint64_t gpa, size_t len,
			const uint8_t *data, size_t fed)
{
	struct feeder f;
	pthread_t t;
	int p[2];
	ssize_t ret;

	assert_int_equal(pipe(p), 0);
	f = (struct feeder){ .fd = p[1], .buf = data, .len = fed };
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	ret = gm_read_from_fd(st->s, gpa, len, p[0], -1);
	pthread_join(t, NULL);
	close(p[0]);
	assert_false(f.failed);
	return ret;
}

static void test_fd_pipe(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st);
	uint8_t data[3000], got[3000], want[3000], junk[100];
	int p[2];

	/* Across A | B, fed 7 bytes at a time. */
	gen(data, sizeof(data), 6);
	expect_ret(read_fed(st, bnd - 1000, sizeof(data), data, sizeof(data)),
		   sizeof(data));
	shadow_write(st, bnd - 1000, data, sizeof(data));
	expect_mem(st, bnd - 2000, 4000);

	/* End of file early: a short count, the rest untouched. */
	gen(data, sizeof(data), 7);
	expect_ret(read_fed(st, bnd - 1500, sizeof(data), data,
			    sizeof(data) - 100),
		   sizeof(data) - 100);
	shadow_write(st, bnd - 1500, data, sizeof(data) - 100);
	expect_mem(st, bnd - 2000, 4000);

	/* Guest memory to a pipe, across the boundary. */
	assert_int_equal(pipe(p), 0);
	expect_ret(gm_write_to_fd(st->s, bnd - 1200, sizeof(got), p[1], -1),
		   sizeof(got));
	read_all(p[0], got, sizeof(got));
	shadow_read(st, bnd - 1200, want, sizeof(want));
	assert_memory_equal(got, want, sizeof(got));
	assert_int_equal(pipe_avail(p[0]), 0);

	/* Into or out of a hole: -EFAULT, the pipe is left alone. */
	gen(junk, sizeof(junk), 8);
	write_all(p[1], junk, sizeof(junk));
	expect_ret(gm_read_from_fd(st->s, GPA_HOLE(st) - 50, 100, p[0], -1),
		   -EFAULT);
	assert_int_equal(pipe_avail(p[0]), 100);
	expect_ret(gm_write_to_fd(st->s, GPA_HOLE(st) - 50, 100, p[1], -1),
		   -EFAULT);
	assert_int_equal(pipe_avail(p[0]), 100);
	expect_ret(gm_write_to_fd(st->s, GPA_HOLE(st) + 8, 10, p[1], -1),
		   -EFAULT);
	assert_int_equal(pipe_avail(p[0]), 100);

	/* Into read-only memory: -EACCES, nothing consumed or written. */
	expect_ret(gm_read_from_fd(st->s, GPA_RO(st), 50, p[0], -1), -EACCES);
	expect_ret(gm_read_from_fd(st->s, GPA_RO(st) - 10, 50, p[0], -1),
		   -EACCES);
	assert_int_equal(pipe_avail(p[0]), 100);
	read_all(p[0], got, 100);
	assert_memory_equal(got, junk, 100);

	/* Out of read-only memory is fine. */
	expect_ret(gm_write_to_fd(st->s, GPA_RO(st) - 10, 50, p[1], -1), 50);
	read_all(p[0], got, 50);
	shadow_read(st, GPA_RO(st) - 10, want, 50);
	assert_memory_equal(got, want, 50);

	/* Length 0 moves nothing. */
	expect_ret(gm_write_to_fd(st->s, bnd, 0, p[1], -1), 0);
	assert_int_equal(pipe_avail(p[0]), 0);
	close(p[0]);
	close(p[1]);
}

static void test_fd_file(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st);
	uint8_t file[8192], got[6000], want[6000];
	int fd = tmp_fd();

	gen(file, sizeof(file), 9);
	write_all(fd, file, sizeof(file));
	assert_int_equal(lseek(fd, 123, SEEK_SET), 123);

	/* With an offset: pread-like, the fd's position stays put. */
	expect_ret(gm_read_from_fd(st->s, bnd - 2000, 4000, fd, 1000), 4000);
	shadow_write(st, bnd - 2000, file + 1000, 4000);
	expect_mem(st, bnd - 3000, 6000);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123);

	expect_ret(gm_write_to_fd(st->s, bnd - 3000, 5000, fd, 6000), 5000);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123);
	assert_int_equal(pread(fd, got, 5000, 6000), 5000);
	shadow_read(st, bnd - 3000, want, 5000);
	assert_memory_equal(got, want, 5000);
	assert_int_equal(lseek(fd, 0, SEEK_END), 11000);

	/* Offset -1 uses and advances the fd's position. */
	assert_int_equal(lseek(fd, 100, SEEK_SET), 100);
	expect_ret(gm_read_from_fd(st->s, bnd - 150, 300, fd, -1), 300);
	shadow_write(st, bnd - 150, file + 100, 300);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 400);
	expect_mem(st, bnd - 1000, 2000);

	/* End of file: a short count; the rest of the range untouched. */
	expect_ret(gm_read_from_fd(st->s, bnd - 300, 4000, fd, 11000 - 500),
		   500);
	assert_int_equal(pread(fd, got, 500, 11000 - 500), 500);
	shadow_write(st, bnd - 300, got, 500);
	expect_mem(st, bnd - 1000, 5000);
	expect_ret(gm_read_from_fd(st->s, bnd, 100, fd, 11000), 0);

	/* A hole: nothing read or written. */
	expect_ret(gm_read_from_fd(st->s, GPA_HOLE(st) - 10, 100, fd, 0),
		   -EFAULT);
	expect_ret(gm_write_to_fd(st->s, GPA_HOLE(st) - 10, 100, fd, 11000),
		   -EFAULT);
	assert_int_equal(lseek(fd, 0, SEEK_END), 11000);
	expect_ret(gm_read_from_fd(st->s, GPA_RO(st) + 10, 100, fd, 0),
		   -EACCES);
	expect_mem(st, GPA_HOLE(st) - 100, 100);
	close(fd);
}

/*
 * An error that stops a transfer after bytes have moved gives the count,
 * not the error (guestmem.h).  A non-blocking pipe makes that exact:
 * readv takes what the pipe holds and writev what fits, then the next call
 * fails with EAGAIN.  Both ranges cross A | B and so do the first calls,
 * so the error comes after a call that moved bytes from both regions.
 */
static void test_fd_partial_error(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st), at;
	uint8_t data[3000], *got, *want;
	size_t len;
	int p[2], cap;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);

	/* Into the guest: 2000 bytes wait, 3000 are asked for. */
	gen(data, sizeof(data), 10);
	write_all(p[1], data, 2000);
	expect_ret(gm_read_from_fd(st->s, bnd - 1000, sizeof(data), p[0], -1),
		   2000);
	shadow_write(st, bnd - 1000, data, 2000);
	expect_mem(st, bnd - 2000, 4000);
	/* With nothing to move, EAGAIN is the result. */
	expect_ret(gm_read_from_fd(st->s, bnd - 1000, sizeof(data), p[0], -1),
		   -EAGAIN);
	expect_mem(st, bnd - 2000, 4000);

	/* Out of the guest: the pipe shrunk to one page, which fits half
	 * in A and half in B, and a page more asked for. */
	cap = fcntl(p[1], F_SETPIPE_SZ, (int)sysconf(_SC_PAGESIZE));
	assert_true(cap > 0);
	cap = fcntl(p[1], F_GETPIPE_SZ);
	assert_true(cap > 0 && (uint64_t)cap <= st->u);
	at = bnd - (uint64_t)cap / 2;
	len = 2 * (size_t)cap;
	got = malloc(len);
	want = malloc(len);
	assert_non_null(got);
	assert_non_null(want);
	expect_ret(gm_write_to_fd(st->s, at, len, p[1], -1), cap);
	/* The pipe is full now: EAGAIN, nothing written. */
	expect_ret(gm_write_to_fd(st->s, at, len, p[1], -1), -EAGAIN);
	assert_int_equal(pipe_avail(p[0]), cap);
	read_all(p[0], got, (size_t)cap);
	shadow_read(st, at, want, (size_t)cap);
	assert_memory_equal(got, want, (size_t)cap);
	free(got);
	free(want);
	close(p[0]);
	close(p[1]);
}

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

static void test_lease(void **state)
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

/*
 * Add a region at the hot address holding @byte everywhere; store its
 * initial hva (for region_gone) in *@hva.  Returns 0 or the first error,
 * without asserting: the hot add/remove test calls it with threads running.
 */
static int hot_add_raw(struct conf_state *st, uint8_t byte,
		       const uint8_t **hva, const char **what)
{
	struct gm_region *r = NULL;
	int ret;

	*what = "region_new";
	ret = cf->region_new(cf_ctx, st->s, GPA_HOT(st), st->u, 0, &r);
	if (ret)
		return ret;
	*hva = r->hva;
	*what = "gm_space_add_region";
	ret = gm_space_add_region(st->s, r);
	if (ret) {
		gm_region_destroy(r);
		return ret;
	}
	*what = "gm_fill";
	return gm_fill(st->s, GPA_HOT(st), byte, st->u);
}

static const uint8_t *hot_add(struct conf_state *st, uint8_t byte)
{
	const uint8_t *hva = NULL;
	const char *what;
	int ret = hot_add_raw(st, byte, &hva, &what);

	if (ret)
		fail_msg("adding the hot region: %s: %d (%s), %s", what, ret,
			 errname(ret), gm_last_error());
	return hva;
}

static void check_gone(struct conf_state *st, const uint8_t *hva, int want)
{
	if (cf->region_gone)
		assert_int_equal(cf->region_gone(cf_ctx, GPA_HOT(st), hva),
				 want);
}

static void test_lease_keeps_region(void **state)
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

static void test_lease_outlives_space(void **state)
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

static void test_view(void **state)
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

static void test_view_refused(void **state)
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

static void test_view_keeps_region(void **state)
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

/* ------------------------------------------------------------------ */
/* Read-only regions refuse every write                                */
/* ------------------------------------------------------------------ */

static void test_rdonly(void **state)
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

/* ------------------------------------------------------------------ */
/* Hot add and remove under concurrent access                          */
/* ------------------------------------------------------------------ */

#define HOT_READERS 3
#define HOT_ROUNDS 100
#define HOT_BYTE 0xa5

struct hot_reader {
	struct gm_space *s;
	uint64_t stable;	/* this reader's own u64 in a stable region */
	uint64_t hot;		/* the region that comes and goes */
	uint64_t u;
	atomic_int *stop;
	uint64_t last;		/* last value written at stable */
	long bad, hits, faults;
	char why[128];
};

/* Bytes of the hot region are either fresh (0) or filled. */
static int hot_bytes_ok(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0 && p[i] != HOT_BYTE)
			return 0;
	return 1;
}

static void hot_bad(struct hot_reader *h, const char *what, long ret)
{
	if (!h->bad++)
		snprintf(h->why, sizeof(h->why), "%s: %ld", what, ret);
}

static void *hot_read(void *p)
{
	struct hot_reader *h = p;
	uint64_t i, v, off;
	uint8_t buf[16];
	struct gm_view vw;
	struct gm_lease *l;
	int ret;

	for (i = 0; !atomic_load(h->stop) || i < 64; i++) {
		/* The stable region must behave as if nothing happened. */
		h->last = i * 0x100000001ull + h->stable;
		ret = gm_write_u64(h->s, h->stable, h->last);
		if (ret)
			hot_bad(h, "stable write", ret);
		v = 0;
		ret = gm_read_u64(h->s, h->stable, &v);
		if (ret || v != h->last)
			hot_bad(h, "stable read", ret ? ret : (long)v);

		/* The hot region: its data, or a hole, nothing else. */
		off = (i * 24) % (h->u - sizeof(buf));
		ret = gm_read(h->s, h->hot + off, buf, sizeof(buf));
		if (ret == 0 && hot_bytes_ok(buf, sizeof(buf)))
			h->hits++;
		else if (ret == -EFAULT)
			h->faults++;
		else
			hot_bad(h, "hot read", ret);

		ret = gm_atomic_load_u64(h->s, h->hot + (off & ~7ull), &v,
					 GM_ACQUIRE);
		if (ret == 0 ? !hot_bytes_ok((uint8_t *)&v, 8) :
			       ret != -EFAULT)
			hot_bad(h, "hot atomic", ret);

		if (i % 8 == 0) {
			ret = gm_view_get(h->s, h->hot + off, sizeof(buf),
					  GM_PROT_READ, &vw);
			if (ret == 0) {
				if (gm_view_read(&vw, h->hot + off, buf,
						 sizeof(buf)) ||
				    !hot_bytes_ok(buf, sizeof(buf)))
					hot_bad(h, "hot view", 0);
				gm_view_put(&vw);
			} else if (ret != -EFAULT) {
				hot_bad(h, "hot view get", ret);
			}
		}
		if (i % 8 == 4) {
			ret = gm_lease_get(h->s, h->hot + off, sizeof(buf),
					   GM_PROT_READ, &l);
			if (ret == 0) {
				const struct iovec *iov;
				int cnt, k;

				iov = gm_lease_iov(l, &cnt);
				for (k = 0; k < cnt; k++)
					if (!hot_bytes_ok(iov[k].iov_base,
							  iov[k].iov_len))
						hot_bad(h, "hot lease", 0);
				gm_lease_put(l);
			} else if (ret != -EFAULT) {
				hot_bad(h, "hot lease get", ret);
			}
		}
	}
	return NULL;
}

static void test_hotplug_concurrent(void **state)
{
	struct conf_state *st = *state;
	struct hot_reader h[HOT_READERS];
	pthread_t t[HOT_READERS];
	atomic_int stop = 0;
	const uint8_t *hva;
	const char *what = "";
	int i, k, ret = 0;

	for (i = 0; i < HOT_READERS; i++) {
		h[i] = (struct hot_reader){
			.s = st->s,
			.stable = GPA_A(st) + 512 + 64 * (uint64_t)i + i,
			.hot = GPA_HOT(st),
			.u = st->u,
			.stop = &stop,
		};
		assert_int_equal(pthread_create(&t[i], NULL, hot_read, &h[i]),
				 0);
	}
	/* No assertions until the readers are joined. */
	for (k = 0; k < HOT_ROUNDS && !ret; k++) {
		ret = hot_add_raw(st, HOT_BYTE, &hva, &what);
		sched_yield();
		if (!ret) {
			what = "gm_space_remove_region";
			ret = gm_space_remove_region(st->s, GPA_HOT(st));
		}
	}
	atomic_store(&stop, 1);
	for (i = 0; i < HOT_READERS; i++)
		pthread_join(t[i], NULL);
	if (ret)
		fail_msg("round %d: %s: %d (%s), %s", k, what, ret,
			 errname(ret), gm_last_error());
	for (i = 0; i < HOT_READERS; i++) {
		if (h[i].bad)
			fail_msg("reader %d: %ld bad results, first %s", i,
				 h[i].bad, h[i].why);
		shadow_write(st, h[i].stable, &h[i].last, 8);
	}
}

/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	CMUnitTestFunction fn;
} conf_tests[] = {
#define CONF_TEST(f) { #f, f }
	CONF_TEST(test_regions_list),
	CONF_TEST(test_remove_and_readd),
	CONF_TEST(test_high_regions),
	CONF_TEST(test_straddle_bytes),
	CONF_TEST(test_straddle_typed),
	CONF_TEST(test_endian),
	CONF_TEST(test_holes),
	CONF_TEST(test_partial),
	CONF_TEST(test_fill_zero),
	CONF_TEST(test_atomics),
	CONF_TEST(test_atomic_concurrent),
	CONF_TEST(test_no_tearing),
#if defined(__x86_64__)
	CONF_TEST(test_copy_stepped),
#endif
	CONF_TEST(test_fd_pipe),
	CONF_TEST(test_fd_file),
	CONF_TEST(test_fd_partial_error),
	CONF_TEST(test_lease),
	CONF_TEST(test_lease_keeps_region),
	CONF_TEST(test_lease_outlives_space),
	CONF_TEST(test_view),
	CONF_TEST(test_view_refused),
	CONF_TEST(test_view_keeps_region),
	CONF_TEST(test_rdonly),
	CONF_TEST(test_hotplug_concurrent),
#undef CONF_TEST
};

int conf_run(const struct conf_fixture *f)
{
	struct CMUnitTest tests[ARRAY_SIZE(conf_tests)];
	char *names[ARRAY_SIZE(conf_tests)];
	size_t i;
	int ret = -1;

	/* Test names carry the fixture's, so that reports say which
	 * backend failed: "unix-file/test_holes". */
	memset(names, 0, sizeof(names));
	for (i = 0; i < ARRAY_SIZE(conf_tests); i++) {
		if (asprintf(&names[i], "%s/%s", f->name,
			     conf_tests[i].name + strlen("test_")) < 0) {
			names[i] = NULL;
			goto out;
		}
		tests[i] = (struct CMUnitTest){
			.name = names[i],
			.test_func = conf_tests[i].fn,
			.setup_func = conf_setup,
			.teardown_func = conf_teardown,
		};
	}
	cf = f;
	cf_ctx = NULL;
	if (f->setup && f->setup(&cf_ctx) < 0)
		goto out;
	ret = _cmocka_run_group_tests(f->name, tests, ARRAY_SIZE(tests), NULL,
				      NULL);
	if (f->teardown)
		f->teardown(cf_ctx);
out:
	cf = NULL;
	cf_ctx = NULL;
	for (i = 0; i < ARRAY_SIZE(conf_tests); i++)
		free(names[i]);
	return ret;
}
