/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the region set (common/space.c) and of the region
 * contract (common/region.c), against the in-memory fake backend
 * (tests/fake-region.c) and a minimal backend of their own:
 *
 *  - gm_region_init() and gm_space_add_region() / _remove_region()
 *    argument checking and ownership rules;
 *  - lookup against a reference model, with 1 and 1,000 regions, while
 *    the table changes under the per-thread lookup cache, and regions
 *    that reach 2^64.
 *
 * test-space-ondemand.c tests the on-demand path through the dispatch
 * layer, test-space-rcu.c the RCU that protects lookups; the three share
 * space-fixture.h.
 *
 * The fake backend checks every call common code makes against the
 * backend contract; each test ends by checking that it saw no breach.
 */
#include "space-fixture.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Deterministic PRNG (xorshift64*), so that a failure reproduces. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

/* Uniform in [0, n), n > 0 (the bias is irrelevant here). */
static uint64_t rng_below(uint64_t n)
{
	return rng() % n;
}

/* Host address of byte @off of a lease (iovecs may be merged where the
 * host memory of consecutive pieces happens to be contiguous). */
static uint8_t *lease_at(const struct gm_lease *l, uint64_t off)
{
	const struct iovec *iov;
	int n, i;

	iov = gm_lease_iov(l, &n);
	for (i = 0; i < n; i++) {
		if (off < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + off;
		off -= iov[i].iov_len;
	}
	fail_msg("lease has no byte at offset %" PRIu64, off);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* gm_region_init()                                                    */
/* ------------------------------------------------------------------ */

/* A minimal backend whose destroy counts into, and frees, its region. */
struct plain_region {
	struct gm_region base;
	int *destroyed;
};

static int plain_map(struct gm_region *r, uint64_t off, uint64_t len,
		     int prot, unsigned int flags, struct gm_map *m)
{
	m->fault = off;
	return -ENOSYS;
}

static void plain_unmap(struct gm_region *r, struct gm_map *m)
{
}

static void plain_destroy(struct gm_region *r)
{
	struct plain_region *p = (struct plain_region *)(void *)r;

	if (p->destroyed)
		(*p->destroyed)++;
	free(p);
}

static const struct gm_region_ops plain_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "plain",
	.map = plain_map,
	.unmap = plain_unmap,
	.destroy = plain_destroy,
};

static const struct gm_region_ops no_destroy_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "no-destroy",
	.map = plain_map,
	.unmap = plain_unmap,
};

static const struct gm_region_ops version0_ops = {
	.version = 0,
	.name = "version0",
	.map = plain_map,
	.unmap = plain_unmap,
	.destroy = plain_destroy,
};

static const struct gm_region_ops no_name_ops = {
	.version = GM_REGION_OPS_VERSION,
	.map = plain_map,
	.unmap = plain_unmap,
	.destroy = plain_destroy,
};

/* Built against a newer header: every version-1 method is there. */
static const struct gm_region_ops newer_ops = {
	.version = GM_REGION_OPS_VERSION + 1,
	.name = "newer",
	.map = plain_map,
	.unmap = plain_unmap,
	.destroy = plain_destroy,
};

static const struct gm_region_ops no_map_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "no-map",
	.destroy = plain_destroy,
};

static const struct gm_region_ops no_unmap_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "no-unmap",
	.map = plain_map,
	.destroy = plain_destroy,
};

static struct plain_region *plain_new(const struct gm_region_ops *ops,
				      uint64_t gpa, uint64_t size,
				      int *destroyed)
{
	struct plain_region *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(gm_region_init(&p->base, ops, gpa, size, 0), 0);
	p->destroyed = destroyed;
	return p;
}

static void test_region_init_rejects_bad_arguments(void **state)
{
	struct gm_region r;

	assert_int_equal(gm_region_init(NULL, &plain_ops, 0, PAGE, 0),
			 -EINVAL);
	assert_int_equal(gm_region_init(&r, NULL, 0, PAGE, 0), -EINVAL);
	assert_int_equal(gm_region_init(&r, &plain_ops, 0, 0, 0), -EINVAL);
	assert_error_has("size is 0");
	assert_int_equal(gm_region_init(&r, &plain_ops, 0, PAGE, 0x2), -EINVAL);
	assert_error_has("unknown flags");
	assert_int_equal(gm_region_init(&r, &plain_ops, 0, PAGE, 0x80000000u),
			 -EINVAL);
	assert_int_equal(gm_region_init(&r, &no_destroy_ops, 0, PAGE, 0),
			 -EINVAL);
	assert_int_equal(gm_region_init(&r, &version0_ops, 0, PAGE, 0),
			 -EINVAL);
	assert_error_has("version 0");
	assert_int_equal(gm_region_init(&r, &no_name_ops, 0, PAGE, 0),
			 -EINVAL);
}

static void test_region_init_fills_common_fields(void **state)
{
	struct gm_region r;

	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(gm_region_init(&r, &plain_ops, 0x1000, 0x2000,
					GM_REGION_RDONLY),
			 0);
	assert_ptr_equal(r.ops, &plain_ops);
	assert_int_equal(r.gpa, 0x1000);
	assert_int_equal(r.size, 0x2000);
	assert_null(r.hva);
	assert_int_equal(r.flags, GM_REGION_RDONLY);
	assert_int_equal(r.common_flags, 0);
	assert_int_equal(r.refs, 1);
	assert_null(r.pieces);

	/* A newer ops table is a superset of version 1. */
	assert_int_equal(gm_region_init(&r, &newer_ops, 0, PAGE, 0), 0);
}

static void test_region_init_wrap_is_eoverflow(void **state)
{
	struct gm_region r;

	assert_int_equal(gm_region_init(&r, &plain_ops, UINT64_MAX, 2, 0),
			 -EOVERFLOW);
	assert_int_equal(gm_region_init(&r, &plain_ops, -PAGE, PAGE + 1, 0),
			 -EOVERFLOW);
	assert_int_equal(gm_region_init(&r, &plain_ops, 2, UINT64_MAX, 0),
			 -EOVERFLOW);
	assert_error_has("wraps");
	/* Ending exactly at 2^64 is fine. */
	assert_int_equal(gm_region_init(&r, &plain_ops, -PAGE, PAGE, 0), 0);
	assert_int_equal(gm_region_init(&r, &plain_ops, UINT64_MAX, 1, 0), 0);
	assert_int_equal(gm_region_init(&r, &plain_ops, 1, UINT64_MAX, 0), 0);
	assert_int_equal(gm_region_init(&r, &plain_ops, 0, UINT64_MAX, 0), 0);
}

/* A region that ends at 2^64 works through every accessor; a range that
 * goes past it is -EOVERFLOW. */
static void test_region_ending_at_2_64_is_usable(void **state)
{
	struct fixture *fx = *state;
	struct gm_region_info info;
	struct gm_lease *l;
	struct gm_view v;
	struct fake_region *f;
	uint64_t val;
	uint8_t b, buf[2];
	int destroyed = 0;

	f = fake_add(fx->s, (struct fake_config){ .gpa = -PAGE,
						  .size = PAGE,
						  .max_map = 7,
						  .destroyed = &destroyed });
	assert_int_equal(gm_write_u64(fx->s, -UINT64_C(8), 0x1122334455667788),
			 0);
	assert_int_equal(gm_read_u64(fx->s, -UINT64_C(8), &val), 0);
	assert_int_equal(val, 0x1122334455667788);
	assert_int_equal(gm_read_u8(fx->s, UINT64_MAX, &b), 0);
	assert_int_equal(b, 0x11);
	assert_int_equal(f->buf[PAGE - 1], 0x11);
	assert_int_equal(gm_atomic_fetch_add_u64(fx->s, -UINT64_C(8), 1, &val,
						 GM_SEQ_CST),
			 0);
	assert_int_equal(gm_read_u64(fx->s, -UINT64_C(8), &val), 0);
	assert_int_equal(val, 0x1122334455667789);

	assert_int_equal(gm_read(fx->s, UINT64_MAX, buf, 2), -EOVERFLOW);
	assert_int_equal(gm_read_u16(fx->s, UINT64_MAX, (uint16_t *)buf),
			 -EOVERFLOW);
	assert_int_equal(gm_read_partial(fx->s, UINT64_MAX, buf, 2),
			 -EOVERFLOW);

	assert_int_equal(gm_view_get(fx->s, -PAGE, PAGE, GM_PROT_READ, &v), 0);
	assert_int_equal(v.len, PAGE);
	gm_view_put(&v);
	assert_int_equal(gm_lease_get(fx->s, -PAGE, PAGE, GM_PROT_READ, &l), 0);
	gm_lease_put(l);

	/* The message gives the exclusive end 2^64 of the region. */
	assert_int_equal(gm_read(fx->s, -PAGE - 1, buf, 2), -EFAULT);
	assert_int_equal(gm_read(fx->s, -PAGE, buf, 1), 0);
	assert_int_equal(gm_view_get(fx->s, -PAGE - 8, 16, GM_PROT_READ, &v),
			 -EFAULT);

	assert_int_equal(gm_space_get_regions(fx->s, &info, 1), 1);
	assert_int_equal(info.gpa, -PAGE);
	assert_int_equal(info.size, PAGE);
	assert_int_equal(atomic_load(&f->live), 0);
	assert_int_equal(gm_space_remove_region(fx->s, -PAGE), 0);
	assert_int_equal(destroyed, 1);
	assert_no_violations();
}

/*
 * The message gives the requested range as <gpa>-<gpa + len>, with the
 * exclusive end past 2^64 written out in full rather than wrapped.
 */
static void test_error_message_range_past_2_64(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[2];

	fake_add(fx->s, (struct fake_config){ .gpa = -PAGE, .size = PAGE });
	assert_int_equal(gm_read(fx->s, -PAGE, buf, 1), 0);
	assert_int_equal(gm_read(fx->s, -UINT64_C(2), buf, 2), 0);
	/* Ends exactly at 2^64: fine, and so is the message. */
	assert_int_equal(gm_read(fx->s, -PAGE - 1, buf, 2), -EFAULT);
	assert_error_has("failed to access 0xffffffffffffefff-"
			 "0xfffffffffffff001 at 0xffffffffffffefff");
	assert_int_equal(gm_write_u8(fx->s, -PAGE - 1, 0), -EFAULT);
	assert_error_has("0xffffffffffffefff-0xfffffffffffff000 at");
	assert_int_equal(gm_read_u16(fx->s, UINT64_MAX, (uint16_t *)buf),
			 -EOVERFLOW);
	assert_error_has("range wraps past 2^64");
	assert_error_has("failed to access 0xffffffffffffffff-"
			 "0x10000000000000001 at 0xffffffffffffffff");
}

/* ------------------------------------------------------------------ */
/* gm_space_add_region()                                               */
/* ------------------------------------------------------------------ */

static void test_add_rejects_null(void **state)
{
	struct fixture *fx = *state;
	int destroyed = 0;
	struct plain_region *p = plain_new(&plain_ops, 0, PAGE, &destroyed);

	assert_int_equal(gm_space_add_region(NULL, &p->base), -EINVAL);
	assert_int_equal(gm_space_add_region(fx->s, NULL), -EINVAL);
	gm_region_destroy(&p->base);
	assert_int_equal(destroyed, 1);
	gm_region_destroy(NULL);
}

/* Every kind of overlap is -EEXIST naming both ranges, and the caller
 * still owns the refused region. */
static void test_add_overlap_is_eexist(void **state)
{
	static const struct {
		uint64_t gpa, size;
		const char *range;
	} cases[] = {
		{ 0xf000, 0x2000, "0xf000-0x10fff" },	   /* over the start */
		{ 0x1f000, 0x2000, "0x1f000-0x20fff" },	   /* over the end */
		{ 0x12000, 0x1000, "0x12000-0x12fff" },	   /* inside */
		{ 0x0, 0x30000, "0x0-0x2ffff" },	   /* around */
		{ 0x10000, 0x10000, "0x10000-0x1ffff" },   /* identical */
		{ 0x1ffff, 1, "0x1ffff-0x1ffff" },	   /* last byte */
		{ 0xffff, 2, "0xffff-0x10000" },	   /* first byte */
	};
	struct fixture *fx = *state;
	struct gm_space *s2;
	int destroyed[GM__ARRAY_SIZE(cases)] = { 0 };
	int base_destroyed = 0;
	size_t i;

	fake_add(fx->s, (struct fake_config){ .gpa = 0x10000,
					      .size = 0x10000,
					      .destroyed = &base_destroyed });
	assert_int_equal(gm_space_new(&s2, "other", 0), 0);
	for (i = 0; i < GM__ARRAY_SIZE(cases); i++) {
		struct fake_region *f = fake_new((struct fake_config){
			.gpa = cases[i].gpa,
			.size = cases[i].size,
			.destroyed = &destroyed[i] });

		assert_int_equal(gm_space_add_region(fx->s, fake_gm(f)),
				 -EEXIST);
		assert_error_has(cases[i].range);
		assert_error_has("overlaps region 0x10000-0x1ffff (fake)");
		assert_error_has("'" SPACE_NAME "'");
		assert_int_equal(destroyed[i], 0);
		/* Still the caller's, and intact: another space takes it. */
		if (i % 2) {
			gm_region_destroy(fake_gm(f));
			assert_int_equal(destroyed[i], 1);
		} else {
			assert_int_equal(gm_space_add_region(s2, fake_gm(f)),
					 0);
			assert_int_equal(gm_space_remove_region(s2,
								cases[i].gpa),
					 0);
			assert_int_equal(destroyed[i], 1);
		}
	}
	gm_space_free(s2);
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 1);
	assert_int_equal(base_destroyed, 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0x10000), 0);
	assert_int_equal(base_destroyed, 1);
	assert_no_violations();
}

/* The message names the region actually overlapped, not a neighbour. */
static void test_add_overlap_names_the_right_region(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f;

	fake_add(fx->s, (struct fake_config){ .gpa = 0x1000, .size = 0x1000 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x4000, .size = 0x1000 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x8000, .size = 0x1000 });

	f = fake_new((struct fake_config){ .gpa = 0x3000, .size = 0x1001 });
	assert_int_equal(gm_space_add_region(fx->s, fake_gm(f)), -EEXIST);
	assert_error_has("0x3000-0x4000 overlaps region 0x4000-0x4fff");
	gm_region_destroy(fake_gm(f));

	f = fake_new((struct fake_config){ .gpa = 0x4fff, .size = 0x2000 });
	assert_int_equal(gm_space_add_region(fx->s, fake_gm(f)), -EEXIST);
	assert_error_has("overlaps region 0x4000-0x4fff");
	gm_region_destroy(fake_gm(f));

	f = fake_new((struct fake_config){ .gpa = 0x5000, .size = 0x3001 });
	assert_int_equal(gm_space_add_region(fx->s, fake_gm(f)), -EEXIST);
	assert_error_has("overlaps region 0x8000-0x8fff");
	gm_region_destroy(fake_gm(f));
}

static void test_add_adjacent_regions(void **state)
{
	struct fixture *fx = *state;
	struct gm_region_info info[5];
	uint8_t buf[4];

	fake_add(fx->s, (struct fake_config){ .gpa = 0x2000, .size = 0x1000,
					      .persistent = 1 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x3000, .size = 0x1000 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x1000, .size = 0x1000 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x4000, .size = 1 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x4001, .size = 1 });
	assert_int_equal(gm_space_get_regions(fx->s, info, 5), 5);
	assert_int_equal(info[0].gpa, 0x1000);
	assert_int_equal(info[1].gpa, 0x2000);
	assert_int_equal(info[2].gpa, 0x3000);
	assert_int_equal(info[3].gpa, 0x4000);
	assert_int_equal(info[4].gpa, 0x4001);
	/* One access spans all of them. */
	assert_int_equal(gm_fill(fx->s, 0x1000, 0x5a, 0x3002), 0);
	assert_int_equal(gm_read(fx->s, 0x3fff, buf, 3), 0);
	assert_memory_equal(buf, "\x5a\x5a\x5a", 3);
	assert_int_equal(gm_read(fx->s, 0x3fff, buf, 4), -EFAULT);
	assert_error_has("at 0x4002: no region");
	assert_no_violations();
}

static void test_add_twice_is_einval(void **state)
{
	struct fixture *fx = *state;
	struct gm_space *s2;
	struct fake_region *f;
	int destroyed = 0;

	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x1000,
						  .size = 0x1000,
						  .destroyed = &destroyed });
	assert_int_equal(gm_space_add_region(fx->s, fake_gm(f)), -EINVAL);
	assert_error_has("already in a space");
	assert_int_equal(gm_space_new(&s2, "other", 0), 0);
	assert_int_equal(gm_space_add_region(s2, fake_gm(f)), -EINVAL);
	gm_space_free(s2);
	/* The space owns it: gm_region_destroy() must leave it alone. */
	gm_region_destroy(fake_gm(f));
	assert_int_equal(destroyed, 0);
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 1);
	assert_int_equal(gm_space_remove_region(fx->s, 0x1000), 0);
	assert_int_equal(destroyed, 1);
}

/* Neither a persistent mapping nor map and unmap: refused, and the caller
 * still owns the region. */
static void test_add_unusable_region_is_einval(void **state)
{
	struct fixture *fx = *state;
	struct plain_region *p;
	int destroyed = 0;
	uint8_t mem[64] = { 1, 2, 3 }, b;

	p = plain_new(&no_map_ops, 0x1000, 0x1000, &destroyed);
	assert_int_equal(gm_space_add_region(fx->s, &p->base), -EINVAL);
	assert_error_has("neither");
	gm_region_destroy(&p->base);
	assert_int_equal(destroyed, 1);

	p = plain_new(&no_unmap_ops, 0x1000, 0x1000, &destroyed);
	assert_int_equal(gm_space_add_region(fx->s, &p->base), -EINVAL);
	gm_region_destroy(&p->base);
	assert_int_equal(destroyed, 2);

	/* With a persistent mapping, map and unmap are not needed. */
	p = plain_new(&no_map_ops, 0x1000, sizeof(mem), &destroyed);
	p->base.hva = mem;
	assert_int_equal(gm_space_add_region(fx->s, &p->base), 0);
	assert_int_equal(gm_read_u8(fx->s, 0x1002, &b), 0);
	assert_int_equal(b, 3);
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 1);
	assert_int_equal(gm_space_remove_region(fx->s, 0x1000), 0);
	assert_int_equal(destroyed, 3);

	/* A region whose init failed (all zero) is refused too. */
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	assert_int_equal(gm_region_init(&p->base, &plain_ops, 0, 0, 0),
			 -EINVAL);
	assert_int_equal(gm_space_add_region(fx->s, &p->base), -EINVAL);
	free(p);
}

/* ------------------------------------------------------------------ */
/* gm_space_remove_region()                                            */
/* ------------------------------------------------------------------ */

static void test_remove_needs_a_region_start(void **state)
{
	struct fixture *fx = *state;
	int destroyed = 0;

	assert_int_equal(gm_space_remove_region(fx->s, 0x1000), -ENOENT);
	fake_add(fx->s, (struct fake_config){ .gpa = 0x1000, .size = 0x2000,
					      .destroyed = &destroyed });
	assert_int_equal(gm_space_remove_region(fx->s, 0x1001), -ENOENT);
	assert_error_has("no region starts at 0x1001");
	assert_int_equal(gm_space_remove_region(fx->s, 0x2fff), -ENOENT);
	assert_int_equal(gm_space_remove_region(fx->s, 0x3000), -ENOENT);
	assert_int_equal(gm_space_remove_region(fx->s, 0xfff), -ENOENT);
	assert_int_equal(gm_space_remove_region(fx->s, 0), -ENOENT);
	assert_int_equal(gm_space_remove_region(fx->s, UINT64_MAX), -ENOENT);
	assert_int_equal(gm_space_remove_region(NULL, 0x1000), -EINVAL);
	assert_int_equal(destroyed, 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0x1000), 0);
	assert_int_equal(destroyed, 1);
	assert_int_equal(gm_space_remove_region(fx->s, 0x1000), -ENOENT);
}

static void test_remove_destroys_now_without_views(void **state)
{
	struct fixture *fx = *state;
	int d1 = 0, d2 = 0;
	uint32_t val;

	fake_add(fx->s, (struct fake_config){ .gpa = 0x1000, .size = 0x1000,
					      .destroyed = &d1 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x2000, .size = 0x1000,
					      .persistent = 1,
					      .destroyed = &d2 });
	assert_int_equal(gm_write_u32(fx->s, 0x1ffe, 0xdeadbeef), 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0x2000), 0);
	assert_int_equal(d2, 1);
	assert_int_equal(gm_read_u32(fx->s, 0x1ffe, &val), -EFAULT);
	assert_error_has("at 0x2000: no region");
	assert_int_equal(gm_read_u32(fx->s, 0x2000, &val), -EFAULT);
	assert_int_equal(gm_space_remove_region(fx->s, 0x1000), 0);
	assert_int_equal(d1, 1);
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 0);
	assert_no_violations();
}

/* Removal unlinks at once; the region lives until its last view or lease
 * is released. */
static void test_remove_with_view_defers_destroy(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f;
	struct gm_view v;
	int destroyed = 0;
	uint64_t val;

	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x10000,
						  .size = 0x4000,
						  .max_map = 7,
						  .destroyed = &destroyed });
	assert_int_equal(gm_write_u64(fx->s, 0x10100, 42), 0);
	assert_int_equal(gm_view_get(fx->s, 0x10100, 0x100,
				     GM_PROT_READ | GM_PROT_WRITE, &v),
			 0);
	assert_int_equal(atomic_load(&f->live), 1);
	assert_int_equal(gm_space_remove_region(fx->s, 0x10000), 0);
	assert_int_equal(destroyed, 0);
	/* Unlinked: accesses by address fail, a new region may take the
	 * place, and the view still works. */
	assert_int_equal(gm_read_u64(fx->s, 0x10100, &val), -EFAULT);
	assert_int_equal(gm_space_remove_region(fx->s, 0x10000), -ENOENT);
	fake_add(fx->s, (struct fake_config){ .gpa = 0x10000, .size = 0x1000 });
	assert_int_equal(gm_read_u64(fx->s, 0x10100, &val), 0);
	assert_int_equal(val, 0);
	assert_int_equal(gm_view_read_u64(&v, 0x10100, &val), 0);
	assert_int_equal(val, 42);
	assert_int_equal(gm_view_write_u64(&v, 0x10108, 43), 0);
	assert_int_equal(f->buf[0x108], 43);

	gm_view_put(&v);
	assert_int_equal(destroyed, 1);
	/* Released views are zeroed: a second put is a no-op. */
	assert_null(v.region);
	gm_view_put(&v);
	assert_int_equal(destroyed, 1);
	assert_no_violations();
}

static void test_remove_with_lease_defers_destroy(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f, *g;
	struct gm_lease *l1, *l2;
	struct gm_view v;
	int df = 0, dg = 0;

	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x10000,
						  .size = 0x1000,
						  .max_map = 0x100,
						  .destroyed = &df });
	g = fake_add(fx->s, (struct fake_config){ .gpa = 0x11000,
						  .size = 0x1000,
						  .persistent = 1,
						  .destroyed = &dg });
	memset(f->buf, 0x11, 0x1000);
	memset(g->buf, 0x22, 0x1000);
	/* Two leases and a view over f, one lease also over g. */
	assert_int_equal(gm_lease_get(fx->s, 0x10f00, 0x200, GM_PROT_READ,
				      &l1),
			 0);
	assert_int_equal(gm_lease_get(fx->s, 0x10000, 0x300, GM_PROT_READ,
				      &l2),
			 0);
	assert_int_equal(gm_view_get(fx->s, 0x10000, 16, GM_PROT_READ, &v), 0);
	assert_int_equal(atomic_load(&f->live), 1 + 3 + 1);

	assert_int_equal(gm_space_remove_region(fx->s, 0x10000), 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0x11000), 0);
	assert_int_equal(df, 0);
	assert_int_equal(dg, 0);
	assert_int_equal(*lease_at(l1, 0), 0x11);
	assert_int_equal(*lease_at(l1, 0xff), 0x11);
	assert_int_equal(*lease_at(l1, 0x100), 0x22);
	assert_int_equal(*lease_at(l1, 0x1ff), 0x22);

	gm_lease_put(l1);
	assert_int_equal(dg, 1);
	assert_int_equal(df, 0);
	gm_view_put(&v);
	assert_int_equal(df, 0);
	assert_int_equal(atomic_load(&f->live), 3);
	gm_lease_put(l2);
	assert_int_equal(df, 1);
	gm_lease_put(NULL);
	assert_no_violations();
}

/* gm_space_free() with views and leases outstanding: each region is
 * destroyed at its last put. */
static void test_space_free_with_views_defers_destroy(void **state)
{
	struct gm_space *s;
	struct fake_region *f, *g;
	struct gm_lease *l;
	struct gm_view v1, v2;
	int df = 0, dg = 0, dh = 0;
	uint32_t val;

	(void)state;
	assert_int_equal(gm_space_new(&s, "doomed", 0), 0);
	f = fake_add(s, (struct fake_config){ .gpa = 0x1000, .size = 0x1000,
					      .max_map = 7,
					      .destroyed = &df });
	g = fake_add(s, (struct fake_config){ .gpa = 0x2000, .size = 0x1000,
					      .persistent = 1,
					      .destroyed = &dg });
	fake_add(s, (struct fake_config){ .gpa = 0x8000, .size = 0x1000,
					  .destroyed = &dh });
	assert_int_equal(gm_write_u32(s, 0x1100, 7), 0);
	assert_int_equal(gm_write_u32(s, 0x2100, 8), 0);
	assert_int_equal(gm_view_get(s, 0x1100, 4, GM_PROT_READ, &v1), 0);
	assert_int_equal(gm_view_get(s, 0x2100, 4, GM_PROT_READ, &v2), 0);
	assert_int_equal(gm_lease_get(s, 0x1ff0, 0x20, GM_PROT_WRITE, &l), 0);
	gm_space_free(s);
	assert_int_equal(dh, 1);
	assert_int_equal(df, 0);
	assert_int_equal(dg, 0);

	assert_int_equal(gm_view_read_u32(&v1, 0x1100, &val), 0);
	assert_int_equal(val, 7);
	assert_int_equal(gm_view_read_u32(&v2, 0x2100, &val), 0);
	assert_int_equal(val, 8);
	gm_view_put(&v2);
	assert_int_equal(dg, 0); /* the lease still holds g */
	gm_view_put(&v1);
	assert_int_equal(df, 0);
	assert_int_equal(atomic_load(&f->live), 3); /* 0x10 bytes by 7 */
	/* The lease still writes where it did. */
	assert_ptr_equal(lease_at(l, 0x10), g->buf);
	*lease_at(l, 0x1f) = 0xee;
	assert_int_equal(g->buf[0xf], 0xee);
	gm_lease_put(l);
	assert_int_equal(df, 1);
	assert_int_equal(dg, 1);
	assert_no_violations();
	gm_space_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Lookup against a reference model                                    */
/* ------------------------------------------------------------------ */

struct model_region {
	uint64_t gpa, size;
	struct fake_region *f;
	uint8_t *shadow; /* what the region's bytes must be */
	int *destroyed;
};

struct model {
	struct model_region *r; /* ascending by gpa */
	size_t n, cap;
	int *destroyed;		/* one counter per region ever made */
	size_t ndestroyed, maxdestroyed;
};

/* Index of the region containing @gpa, or -1. */
static long model_find(const struct model *m, uint64_t gpa)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->r[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || gpa - m->r[lo - 1].gpa >= m->r[lo - 1].size)
		return -1;
	return (long)lo - 1;
}

/* Bytes covered from @gpa on (up to @len), through adjacent regions. */
static uint64_t model_prefix(const struct model *m, uint64_t gpa, uint64_t len)
{
	uint64_t done = 0;
	long i = model_find(m, gpa);

	while (i >= 0 && done < len) {
		const struct model_region *r = &m->r[i];
		uint64_t n = r->size - (gpa + done - r->gpa);

		done += n < len - done ? n : len - done;
		if (done == len || (size_t)i + 1 >= m->n ||
		    m->r[i + 1].gpa != r->gpa + r->size)
			break;
		i++;
	}
	return done;
}

/* Copy @len covered bytes from the model. */
static void model_read(const struct model *m, uint64_t gpa, uint8_t *buf,
		       uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++) {
		long k = model_find(m, gpa + i);

		assert_true(k >= 0);
		buf[i] = m->r[k].shadow[gpa + i - m->r[k].gpa];
	}
}

static void model_write(struct model *m, uint64_t gpa, const uint8_t *buf,
			uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++) {
		long k = model_find(m, gpa + i);

		assert_true(k >= 0);
		m->r[k].shadow[gpa + i - m->r[k].gpa] = buf[i];
	}
}

/* Make a region of random flavour over [gpa, gpa + size), with random
 * content, add it to @s and to the model at index @at. */
static void model_add(struct model *m, struct gm_space *s, size_t at,
		      uint64_t gpa, uint64_t size)
{
	static const uint64_t chunks[] = { 0, 1, 7, 64 };
	struct model_region *r;
	struct fake_config cfg = { .gpa = gpa, .size = size };
	uint64_t i;

	assert_true(m->ndestroyed < m->maxdestroyed);
	cfg.destroyed = &m->destroyed[m->ndestroyed++];
	if (rng_below(3) == 0)
		cfg.persistent = 1;
	else
		cfg.max_map = chunks[rng_below(GM__ARRAY_SIZE(chunks))];
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->r = realloc(m->r, m->cap * sizeof(*m->r));
		assert_non_null(m->r);
	}
	memmove(&m->r[at + 1], &m->r[at], (m->n - at) * sizeof(*m->r));
	m->n++;
	r = &m->r[at];
	r->gpa = gpa;
	r->size = size;
	r->destroyed = cfg.destroyed;
	r->f = fake_new(cfg);
	r->shadow = malloc(size);
	assert_non_null(r->shadow);
	for (i = 0; i < size; i++)
		r->shadow[i] = (uint8_t)rng();
	memcpy(r->f->buf, r->shadow, size);
	assert_int_equal(gm_space_add_region(s, fake_gm(r->f)), 0);
}

static void model_remove(struct model *m, struct gm_space *s, size_t at)
{
	struct model_region *r = &m->r[at];

	/* What the space holds must be what the model says. */
	assert_memory_equal(r->f->buf, r->shadow, r->size);
	assert_int_equal(*r->destroyed, 0);
	assert_int_equal(gm_space_remove_region(s, r->gpa), 0);
	assert_int_equal(*r->destroyed, 1);
	free(r->shadow);
	memmove(&m->r[at], &m->r[at + 1], (m->n - at - 1) * sizeof(*m->r));
	m->n--;
}

/* An address that is interesting for the current layout. */
static uint64_t model_pick(const struct model *m)
{
	const struct model_region *r;

	switch (rng_below(8)) {
	case 0:
		return rng(); /* anywhere: almost always a hole */
	case 1:
		if (m->n) {
			uint64_t lo = m->r[0].gpa, hi = m->r[m->n - 1].gpa;

			return lo - 16 + rng_below(hi - lo + 32 + 1);
		}
		return rng();
	default:
		if (!m->n)
			return rng_below(1 << 20);
		r = &m->r[rng_below(m->n)];
		switch (rng_below(5)) {
		case 0:
			return r->gpa;
		case 1:
			return r->gpa + r->size - 1;
		case 2:
			return r->gpa + r->size; /* neighbour or hole */
		case 3:
			return r->gpa - 1;
		default:
			return r->gpa + rng_below(r->size);
		}
	}
}

/* One random access checked against the model. */
static void model_check_one(struct model *m, struct gm_space *s)
{
	uint8_t buf[48], want[48];
	uint64_t gpa = model_pick(m), len = 1 + rng_below(sizeof(buf));
	uint64_t cov;
	long k;
	uint8_t b;
	ssize_t n;

	switch (rng_below(4)) {
	case 0: /* one byte */
		k = model_find(m, gpa);
		if (k < 0) {
			assert_int_equal(gm_read_u8(s, gpa, &b), -EFAULT);
		} else {
			assert_int_equal(gm_read_u8(s, gpa, &b), 0);
			assert_int_equal(b, m->r[k].shadow[gpa - m->r[k].gpa]);
		}
		break;
	case 1: /* exact read */
		if (gpa + (len - 1) < gpa) {
			assert_int_equal(gm_read(s, gpa, buf, len),
					 -EOVERFLOW);
			break;
		}
		cov = model_prefix(m, gpa, len);
		if (cov < len) {
			assert_int_equal(gm_read(s, gpa, buf, len), -EFAULT);
		} else {
			assert_int_equal(gm_read(s, gpa, buf, len), 0);
			model_read(m, gpa, want, len);
			assert_memory_equal(buf, want, len);
		}
		break;
	case 2: /* partial read */
		if (gpa + (len - 1) < gpa)
			break;
		cov = model_prefix(m, gpa, len);
		n = gm_read_partial(s, gpa, buf, len);
		if (!cov) {
			assert_int_equal(n, -EFAULT);
		} else {
			assert_int_equal(n, cov);
			model_read(m, gpa, want, cov);
			assert_memory_equal(buf, want, cov);
		}
		break;
	default: /* write, exact */
		if (gpa + (len - 1) < gpa)
			break;
		for (uint64_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng();
		cov = model_prefix(m, gpa, len);
		if (cov < len) {
			assert_int_equal(gm_write(s, gpa, buf, len), -EFAULT);
		} else {
			assert_int_equal(gm_write(s, gpa, buf, len), 0);
			model_write(m, gpa, buf, len);
		}
		break;
	}
}

/* gm_space_get_regions() agrees with the model. */
static void model_check_regions(const struct model *m, struct gm_space *s)
{
	struct gm_region_info *info = calloc(m->n + 1, sizeof(*info));
	size_t i;

	assert_non_null(info);
	assert_int_equal(gm_space_get_regions(s, info, m->n + 1), m->n);
	for (i = 0; i < m->n; i++) {
		assert_int_equal(info[i].gpa, m->r[i].gpa);
		assert_int_equal(info[i].size, m->r[i].size);
		assert_int_equal(info[i].flags, 0);
		assert_int_equal(info[i].mapped, m->r[i].f->cfg.persistent);
		assert_string_equal(info[i].backend, FAKE_NAME);
	}
	free(info);
}

static void model_free(struct model *m, struct gm_space *s)
{
	while (m->n)
		model_remove(m, s, m->n - 1);
	free(m->r);
	free(m->destroyed);
}

static void model_init(struct model *m, size_t max_regions)
{
	memset(m, 0, sizeof(*m));
	m->maxdestroyed = max_regions;
	m->destroyed = calloc(max_regions, sizeof(*m->destroyed));
	assert_non_null(m->destroyed);
}

static void test_lookup_one_region(void **state)
{
	struct fixture *fx = *state;
	struct model m;
	int i;

	rng_seed(0x5eed0001);
	model_init(&m, 1);
	/* Empty space: everything is a hole. */
	for (i = 0; i < 200; i++)
		model_check_one(&m, fx->s);
	model_add(&m, fx->s, 0, 0x7000, 0x1234);
	for (i = 0; i < 2000; i++)
		model_check_one(&m, fx->s);
	model_check_regions(&m, fx->s);
	model_free(&m, fx->s);
	assert_no_violations();
}

/*
 * 1,000 regions of random sizes, with random holes (often none), checked
 * with random accesses; then regions come and go while the same thread
 * keeps reading, so its lookup cache must follow every new table.
 */
static void test_lookup_many_regions(void **state)
{
	struct fixture *fx = *state;
	const size_t nregions = 1000, steps = 300;
	uint64_t gpa = 0x100000;
	struct model m;
	size_t i, j;

	rng_seed(0x5eed0002);
	model_init(&m, nregions + steps);
	for (i = 0; i < nregions; i++) {
		uint64_t hole = rng_below(2) ? 0 : 1 + rng_below(0x3000);
		uint64_t size = 1 + rng_below(rng_below(4) ? 0x400 : 0x3000);

		gpa += hole;
		/* Insert in random order: before or after what is there. */
		model_add(&m, fx->s, m.n, gpa, size);
		gpa += size;
	}
	model_check_regions(&m, fx->s);
	for (i = 0; i < 5000; i++)
		model_check_one(&m, fx->s);

	for (i = 0; i < steps; i++) {
		/* Warm the cache on some region, change the table, and ask
		 * for the same address again. */
		uint64_t warm = model_pick(&m);
		uint8_t b;

		(void)gm_read_u8(fx->s, warm, &b);
		if (rng_below(2) && m.n > 1) {
			model_remove(&m, fx->s, rng_below(m.n));
		} else {
			/* Fill part of a random gap (or beyond the end). */
			size_t at = rng_below(m.n + 1);
			uint64_t lo = at ? m.r[at - 1].gpa + m.r[at - 1].size
					 : 0x1000;
			uint64_t hi = at < m.n ? m.r[at].gpa : lo + 0x10000;

			if (hi > lo) {
				uint64_t start = lo + rng_below(hi - lo);
				uint64_t size = 1 + rng_below(hi - start);

				model_add(&m, fx->s, at, start, size);
			}
		}
		{
			long k = model_find(&m, warm);

			if (k < 0) {
				assert_int_equal(gm_read_u8(fx->s, warm, &b),
						 -EFAULT);
			} else {
				assert_int_equal(gm_read_u8(fx->s, warm, &b),
						 0);
				assert_int_equal(
					b,
					m.r[k].shadow[warm - m.r[k].gpa]);
			}
		}
		for (j = 0; j < 10; j++)
			model_check_one(&m, fx->s);
	}
	model_check_regions(&m, fx->s);
	for (i = 0; i < 2000; i++)
		model_check_one(&m, fx->s);
	model_free(&m, fx->s);
	assert_no_violations();
}

/* The lookup cache names a table index: after a removal shifts every
 * index, a cached address must still find its own region. */
static void test_lookup_cache_follows_table_changes(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f[4];
	uint8_t b;
	int i;

	for (i = 0; i < 4; i++) {
		f[i] = fake_add(fx->s, (struct fake_config){
			.gpa = 0x10000 * (uint64_t)(i + 1),
			.size = 0x10000,
			.persistent = i & 1 });
		memset(f[i]->buf, 0xa0 + i, 0x10000);
	}
	/* Cache region 2 (index 2), remove region 1: index 2 is now region
	 * 3, which does not contain the address. */
	assert_int_equal(gm_read_u8(fx->s, 0x30010, &b), 0);
	assert_int_equal(b, 0xa2);
	assert_int_equal(gm_space_remove_region(fx->s, 0x20000), 0);
	assert_int_equal(gm_read_u8(fx->s, 0x30010, &b), 0);
	assert_int_equal(b, 0xa2);
	assert_int_equal(gm_read_u8(fx->s, 0x20010, &b), -EFAULT);
	/* Cache region 3 (now index 2), remove region 0: index 2 is out of
	 * the new table. */
	assert_int_equal(gm_read_u8(fx->s, 0x40010, &b), 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0x10000), 0);
	assert_int_equal(gm_read_u8(fx->s, 0x40010, &b), 0);
	assert_int_equal(b, 0xa3);
	/* Cache region 2, replace it by another region over the same
	 * range: the new content must show. */
	assert_int_equal(gm_read_u8(fx->s, 0x30010, &b), 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0x30000), 0);
	f[2] = fake_add(fx->s, (struct fake_config){ .gpa = 0x30000,
						     .size = 0x10000 });
	memset(f[2]->buf, 0xb2, 0x10000);
	assert_int_equal(gm_read_u8(fx->s, 0x30010, &b), 0);
	assert_int_equal(b, 0xb2);
	/* Cache, then add a region before it (all indices move up). */
	assert_int_equal(gm_read_u8(fx->s, 0x40010, &b), 0);
	fake_add(fx->s, (struct fake_config){ .gpa = 0x1000, .size = 0x1000 });
	assert_int_equal(gm_read_u8(fx->s, 0x40010, &b), 0);
	assert_int_equal(b, 0xa3);
	assert_int_equal(gm_read_u8(fx->s, 0x1000, &b), 0);
	assert_int_equal(b, 0);
	assert_no_violations();
}

/*
 * Every table a space builds is one block with its index, sized from the
 * entries it will hold (space.c's table_alloc()), and the first one is
 * part of the space's own block.  Emptying a space and filling it again,
 * removing the last, then the first, then the only region, must leave the
 * index of each table covering exactly its regions: each read below goes
 * through the index (inline, or gm_read() in the library).
 */
static void check_u64(struct gm_space *s, uint64_t gpa, int want_ret,
		      uint8_t byte)
{
	uint64_t v = 0, w = 0;
	uint8_t buf[0x20];

	assert_int_equal(gm_read_u64(s, gpa, &v), want_ret);
	/* 0x20 bytes: longer than the inline path takes. */
	assert_int_equal(gm_read(s, gpa, buf, sizeof(buf)), want_ret);
	if (want_ret)
		return;
	memset(&w, byte, sizeof(w));
	assert_true(v == w);
	assert_int_equal(buf[0x1f], byte);
}

static void test_space_empties_and_fills_again(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f[3];
	int round, i;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 3; i++) {
			f[i] = fake_add(fx->s, (struct fake_config){
				.gpa = 0x10000 + 0x20000 * (uint64_t)i,
				.size = 0x10000,
				.persistent = (round + i) & 1 });
			memset(f[i]->buf, 0xc0 + 0x10 * round + i, 0x10000);
		}
		assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 3);
		for (i = 0; i < 3; i++)
			check_u64(fx->s, 0x10100 + 0x20000 * (uint64_t)i, 0,
				  (uint8_t)(0xc0 + 0x10 * round + i));
		/* The last one goes: the index ends at the middle one. */
		assert_int_equal(gm_space_remove_region(fx->s, 0x50000), 0);
		check_u64(fx->s, 0x10100, 0, (uint8_t)(0xc0 + 0x10 * round));
		check_u64(fx->s, 0x3ffe0, 0,
			  (uint8_t)(0xc0 + 0x10 * round + 1));
		check_u64(fx->s, 0x50100, -EFAULT, 0);
		/* The first one goes: it starts at the middle one. */
		assert_int_equal(gm_space_remove_region(fx->s, 0x10000), 0);
		check_u64(fx->s, 0x10100, -EFAULT, 0);
		check_u64(fx->s, 0x30000, 0,
			  (uint8_t)(0xc0 + 0x10 * round + 1));
		check_u64(fx->s, 0x3ffe0, 0,
			  (uint8_t)(0xc0 + 0x10 * round + 1));
		check_u64(fx->s, 0x2fff8, -EFAULT, 0);
		/* The only one goes: an empty table (not the first). */
		assert_int_equal(gm_space_remove_region(fx->s, 0x30000), 0);
		assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 0);
		check_u64(fx->s, 0x30100, -EFAULT, 0);
	}
	assert_no_violations();
}

/*
 * A space is one block with its RCU domain (space.c): create and drop
 * spaces in a loop, read in each, and leave nothing behind (the
 * valgrind and ASan runs of this test check for leaks).  Alternate
 * between two live spaces too, so that a block is dropped while this
 * thread still has a reader of it.
 */
static void test_space_create_drop_loop(void **state)
{
	struct gm_space *s, *keep = NULL;
	struct fake_region *f;
	uint32_t v;
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(gm_space_new(&s, "loop", 0), 0);
		f = fake_add(s, (struct fake_config){ .gpa = 0x1000,
						      .size = 0x1000,
						      .persistent = i & 1 });
		fake_add(s, (struct fake_config){ .gpa = 0x2000,
						  .size = 0x1000 });
		memset(f->buf, i, 0x1000);
		assert_int_equal(gm_read_u32(s, 0x1010, &v), 0);
		assert_int_equal(v, 0x01010101u * (uint8_t)i);
		assert_int_equal(gm_read_u32(s, 0x2ffc, &v), 0);
		assert_int_equal(gm_space_name(s)[0], 'l');
		if (i % 3 == 0) {
			/* Keep it while the next ones come and go. */
			gm_space_free(keep);
			keep = s;
		} else {
			gm_space_free(s);
		}
		if (keep)
			assert_int_equal(gm_read_u32(keep, 0x1010, &v), 0);
	}
	gm_space_free(keep);
	assert_no_violations();
}

static void test_get_regions(void **state)
{
	struct fixture *fx = *state;
	struct gm_region_info info[4];

	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 0);
	assert_int_equal(gm_space_get_regions(fx->s, info, 4), 0);
	fake_add(fx->s, (struct fake_config){ .gpa = 0x9000, .size = 0x2000,
					      .flags = GM_REGION_RDONLY });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x1000, .size = 0x1000,
					      .persistent = 1 });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x5000, .size = 0x123 });

	memset(info, 0xee, sizeof(info));
	assert_int_equal(gm_space_get_regions(fx->s, info, 4), 3);
	assert_int_equal(info[0].gpa, 0x1000);
	assert_int_equal(info[0].size, 0x1000);
	assert_int_equal(info[0].flags, 0);
	assert_int_equal(info[0].mapped, 1);
	assert_string_equal(info[0].backend, FAKE_NAME);
	assert_int_equal(info[1].gpa, 0x5000);
	assert_int_equal(info[1].size, 0x123);
	assert_int_equal(info[1].mapped, 0);
	assert_int_equal(info[2].gpa, 0x9000);
	assert_int_equal(info[2].size, 0x2000);
	assert_int_equal(info[2].flags, GM_REGION_RDONLY);
	/* The fourth entry is left alone. */
	assert_int_equal(info[3].gpa, 0xeeeeeeeeeeeeeeee);

	/* A short array gets the first entries; the count is the total. */
	memset(info, 0, sizeof(info));
	assert_int_equal(gm_space_get_regions(fx->s, info, 2), 3);
	assert_int_equal(info[1].gpa, 0x5000);
	assert_int_equal(info[2].gpa, 0);
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 3);
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 1), -EINVAL);
	assert_int_equal(gm_space_get_regions(NULL, info, 4), -EINVAL);
}

/*
 * A region that ends exactly at 2^64 and covers nearly everything: lookups
 * at both ends, and neighbours, without any arithmetic wrapping.
 */
static void test_region_spanning_to_2_64(void **state)
{
	struct fixture *fx = *state;
	struct plain_region *big, *low, *p;
	struct gm_region_info info[2];
	uint8_t mem[64], mem0 = 0x77, buf[8];
	int destroyed = 0;
	size_t i;

	for (i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)i;
	big = plain_new(&no_map_ops, 1, UINT64_MAX, &destroyed);
	big->base.hva = mem; /* only its first 64 bytes are ever touched */
	assert_int_equal(gm_space_add_region(fx->s, &big->base), 0);
	assert_int_equal(gm_read(fx->s, 1, buf, 8), 0);
	assert_memory_equal(buf, mem, 8);
	assert_int_equal(gm_read(fx->s, 0, buf, 2), -EFAULT);
	assert_error_has("failed to access 0x0-0x2 at 0x0: no region");
	assert_int_equal(gm_read_partial(fx->s, 0, buf, 2), -EFAULT);

	/* Anything else overlaps it. */
	p = plain_new(&no_map_ops, UINT64_MAX, 1, &destroyed);
	p->base.hva = mem;
	assert_int_equal(gm_space_add_region(fx->s, &p->base), -EEXIST);
	assert_error_has("0xffffffffffffffff-0xffffffffffffffff overlaps "
			 "region 0x1-0xffffffffffffffff (no-map)");
	gm_region_destroy(&p->base);
	assert_int_equal(destroyed, 1);

	/* Its one neighbour: [0, 1). */
	low = plain_new(&no_map_ops, 0, 1, &destroyed);
	low->base.hva = &mem0;
	assert_int_equal(gm_space_add_region(fx->s, &low->base), 0);
	assert_int_equal(gm_read(fx->s, 0, buf, 8), 0);
	assert_int_equal(buf[0], 0x77);
	assert_memory_equal(buf + 1, mem, 7);
	assert_int_equal(gm_space_get_regions(fx->s, info, 2), 2);
	assert_int_equal(info[0].gpa, 0);
	assert_int_equal(info[0].size, 1);
	assert_int_equal(info[1].gpa, 1);
	assert_int_equal(info[1].size, UINT64_MAX);
	assert_int_equal(info[1].mapped, 1);
	assert_int_equal(gm_space_remove_region(fx->s, 1), 0);
	assert_int_equal(gm_space_remove_region(fx->s, 0), 0);
	assert_int_equal(destroyed, 3);
}

/* ------------------------------------------------------------------ */

/* A zero-length byte access through a zeroed (or released) view touches
 * nothing: no pointer arithmetic on its NULL hva (found by the fuzzer under
 * UBSan). */
static void test_view_zero_length_on_zeroed_view(void **state)
{
	struct gm_view v;
	char b[1] = { 'x' };

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(gm_view_read(&v, 0, b, 0), 0);
	assert_int_equal(gm_view_write(&v, 0, b, 0), -EACCES);
	v.prot = GM_PROT_READ | GM_PROT_WRITE;
	assert_int_equal(gm_view_write(&v, 0, b, 0), 0);
	assert_int_equal(gm_view_read(&v, 1, b, 0), -EFAULT);
	assert_int_equal(b[0], 'x');
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	static const struct CMUnitTest tests[] = {
		T(test_view_zero_length_on_zeroed_view),
		T(test_region_init_rejects_bad_arguments),
		T(test_region_init_fills_common_fields),
		T(test_region_init_wrap_is_eoverflow),
		T(test_region_ending_at_2_64_is_usable),
		T(test_error_message_range_past_2_64),
		T(test_add_rejects_null),
		T(test_add_overlap_is_eexist),
		T(test_add_overlap_names_the_right_region),
		T(test_add_adjacent_regions),
		T(test_add_twice_is_einval),
		T(test_add_unusable_region_is_einval),
		T(test_remove_needs_a_region_start),
		T(test_remove_destroys_now_without_views),
		T(test_remove_with_view_defers_destroy),
		T(test_remove_with_lease_defers_destroy),
		T(test_space_free_with_views_defers_destroy),
		T(test_lookup_one_region),
		T(test_lookup_many_regions),
		T(test_lookup_cache_follows_table_changes),
		T(test_space_empties_and_fills_again),
		T(test_space_create_drop_loop),
		T(test_get_regions),
		T(test_region_spanning_to_2_64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
