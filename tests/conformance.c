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
 *
 * This file holds the fixture, the checks, the shadow copy and
 * conf_run(); conformance-typed.c the helpers generated for every type;
 * the tests are in conformance-*.c by behaviour family, and
 * conformance-internal.h declares what they share.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

/* ------------------------------------------------------------------ */
/* Fixture state                                                       */
/* ------------------------------------------------------------------ */

/*
 * cmocka hands tests a void ** only, so conf_run() parks the fixture it is
 * running here.  conf_run() is not reentrant, which is fine for a test
 * binary's main().
 */
const struct conf_fixture *cf;
void *cf_ctx;

/* The byte every writable region holds at @gpa after setup. */
static uint8_t pat(uint64_t gpa)
{
	return (uint8_t)((gpa * UINT64_C(0x9e3779b97f4a7c15)) >> 56) ^
	       (uint8_t)gpa;
}

const char *errname(long long e)
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
void check_ret(long long got, long long want, const char *expr,
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

/*
 * Check gm_last_error() against the documented format:
 *   guest memory '<space>': <op> error: failed to access <gpa>-<end>
 *   at <at>: <why>
 * with <end> = gpa + len.  @op may be NULL where the header does not say
 * which operation name a call reports.
 */
void check_msg(const char *op, uint64_t gpa, uint64_t len,
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
void shadow_write(struct conf_state *st, uint64_t gpa,
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

void shadow_fill(struct conf_state *st, uint64_t gpa, uint8_t byte,
		 size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		shadow_write(st, gpa + i, &byte, 1);
}

void shadow_read(struct conf_state *st, uint64_t gpa, void *buf,
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
void check_mem(struct conf_state *st, uint64_t gpa, size_t len,
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

/* gm_write() that must succeed, recorded in the shadow. */
void cw(struct conf_state *st, uint64_t gpa, const void *buf,
	size_t len)
{
	expect_ret(gm_write(st->s, gpa, buf, len), 0);
	shadow_write(st, gpa, buf, len);
}

/* Deterministic test data that differs between calls. */
void gen(void *buf, size_t len, unsigned int seed)
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
void region_make(struct conf_state *st, int i)
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
/* The hot region, which comes and goes                                */
/* ------------------------------------------------------------------ */

/*
 * Add a region at the hot address holding @byte everywhere; store its
 * initial hva (for region_gone) in *@hva.  Returns 0 or the first error,
 * without asserting: the hot add/remove test calls it with threads running.
 */
int hot_add_raw(struct conf_state *st, uint8_t byte,
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

const uint8_t *hot_add(struct conf_state *st, uint8_t byte)
{
	const uint8_t *hva = NULL;
	const char *what;
	int ret = hot_add_raw(st, byte, &hva, &what);

	if (ret)
		fail_msg("adding the hot region: %s: %d (%s), %s", what, ret,
			 errname(ret), gm_last_error());
	return hva;
}

void check_gone(struct conf_state *st, const uint8_t *hva, int want)
{
	if (cf->region_gone)
		assert_int_equal(cf->region_gone(cf_ctx, GPA_HOT(st), hva),
				 want);
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
