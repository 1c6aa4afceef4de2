/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the region set (common/space.c, common/rcu.c) and of the
 * dispatch layer (common/region.c) as the accessors (common/access.c) use
 * it, against the in-memory fake backend (tests/fake-region.c):
 *
 *  - gm_region_init() and gm_space_add_region() / _remove_region()
 *    argument checking and ownership rules;
 *  - lookup against a reference model, with 1 and 1,000 regions, while
 *    the table changes under the per-thread lookup cache;
 *  - the on-demand path: partial maps, balanced map/unmap, GM_MAP_WHOLE
 *    for views and atomics, GM_MAP_HOLD for views and leases, fd I/O over
 *    more pieces than IOV_MAX, map failures reported at the exact guest
 *    address, and backends that break the map contract; the same again
 *    in a GM_SPACE_FAULT_SAFE space, plus pages that fault under it;
 *  - RCU: readers hammering a space while a writer adds and removes
 *    regions, with and without membarrier; per-thread reader records of
 *    exited threads and of freed spaces; grace periods with more readers
 *    inside than are waited for in one batch.
 *
 * The fake backend checks every call common code makes against the
 * backend contract; each test ends by checking that it saw no breach.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/backend.h>

#include "test-util.h"

/* Internal: the space's RCU domain, to force fencing readers and to count
 * reader records.  Tests link libguestmem-core.la statically. */
#include "space.h"

#include "fake-region.h"

#define SPACE_NAME "vm-test"
#define PAGE UINT64_C(4096)

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

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* Fail if the fake backend saw a breach of its contract. */
#define assert_no_violations()                                                \
	do {                                                                  \
		if (fake_violations()) {                                      \
			print_error("fake backend: %lu contract violation(s)," \
				    " first: %s\n",                           \
				    fake_violations(), fake_violation_msg()); \
			fail();                                               \
		}                                                             \
	} while (0)

/* Make a fake region; the test fails if it cannot. */
static struct fake_region *fake_new(struct fake_config cfg)
{
	struct fake_region *f;

	assert_int_equal(fake_region_new(&cfg, &f), 0);
	return f;
}

/* Make a fake region and add it to @s. */
static struct fake_region *fake_add(struct gm_space *s, struct fake_config cfg)
{
	struct fake_region *f = fake_new(cfg);

	assert_int_equal(gm_space_add_region(s, fake_gm(f)), 0);
	return f;
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

/* Number of reader records registered with a space's RCU domain. */
static unsigned int count_readers(struct gm__rcu_domain *d)
{
	struct gm__rcu_reader *r;
	unsigned int n = 0;

	pthread_mutex_lock(&d->lock);
	for (r = d->readers; r; r = r->next)
		n++;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* Parameters of the on-demand tests (cmocka prestate). */
struct params {
	uint64_t chunk;		  /* max_map of the backend */
	unsigned int space_flags; /* for gm_space_new() */
};

/* The common fixture: an empty space. */
struct fixture {
	struct gm_space *s;
	uint64_t chunk; /* max_map for the on-demand tests */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const struct params *p = *state;

	if (!fx)
		return -1;
	fx->chunk = p ? p->chunk : 0;
	fake_violations_reset();
	if (gm_space_new(&fx->s, SPACE_NAME, p ? p->space_flags : 0)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	int ret = 0;

	gm_space_free(fx->s);
	fake_graveyard_free();
	if (fake_violations()) {
		print_error("fake backend: %lu contract violation(s), first: "
			    "%s\n",
			    fake_violations(), fake_violation_msg());
		ret = -1;
	}
	free(fx);
	return ret;
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
	assert_int_equal(r.reserved0, 0);
	assert_int_equal(r.refs, 1);

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
	uint32_t v32;
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
	fake_fail_at(ly.a, UINT64_MAX, 0, 0);
	assert_balanced(&ly);

	/* A failure in the second region of a range names that region's
	 * address. */
	fake_fail_at(ly.b, 0, -EFAULT, 1);
	assert_int_equal(gm_read(fx->s, B_GPA - 0x10, buf, 0x20), -EFAULT);
	assert_error_has("at 0x103000: " FAKE_NAME " cannot map it");
	assert_int_equal(gm_read_partial(fx->s, B_GPA - 0x10, buf, 0x20),
			 0x10);
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

#ifdef __x86_64__
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

/* ------------------------------------------------------------------ */
/* RCU: readers against a writer                                       */
/* ------------------------------------------------------------------ */

#define STABLE_GPA UINT64_C(0x0)	 /* on demand, chunk 16 */
#define STABLE_P_GPA UINT64_C(0x1000) /* persistent */
#define COUNTER_GPA (STABLE_P_GPA + 0x800)
#define CHURN_GPA UINT64_C(0x100000)
#define CHURN_SLOTS 4
#define CHURN_SIZE UINT64_C(0x400)
#define CANARY UINT64_C(0x5a5a5a5a5a5a5a5a)
#define NREADERS 3

/*
 * The writer adds and removes at least writer_iters regions and goes on
 * (up to writer_max) until the readers, together, have done at least
 * reader_min iterations while it ran, so that both sides overlap however
 * the threads are scheduled; readers stop when the writer is done.
 */
struct churn {
	struct gm_space *s;
	unsigned int writer_iters, writer_max, writer_done;
	unsigned long reader_min;
	int *destroyed; /* one per churned region (writer_max) */
	pthread_barrier_t start;
	atomic_ulong progress; /* reader iterations so far */
	/* Per slot: odd while its region is (being) removed or absent,
	 * even once gm_space_add_region() has returned. */
	atomic_uint slot_ver[CHURN_SLOTS];
	atomic_int done;
	atomic_ulong errors;
	atomic_ulong hits, adds; /* for the record only */
	pthread_mutex_t lock;
	char first_error[200];
};

struct reader_arg {
	struct churn *c;
	unsigned int id;
	uint64_t adds; /* fetch_adds done on the counter */
};

__attribute__((format(printf, 2, 3))) static void
churn_error(struct churn *c, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&c->errors, 1) == 0) {
		pthread_mutex_lock(&c->lock);
		va_start(ap, fmt);
		vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&c->lock);
	}
}

/* A value read from a churned region: the canary, or use after destroy. */
static void churn_check(struct churn *c, const char *what, uint64_t gpa,
			uint64_t val)
{
	if (val == CANARY)
		return;
	churn_error(c, "%s at 0x%" PRIx64 " read 0x%" PRIx64 "%s", what, gpa,
		    val,
		    val == UINT64_C(0xdbdbdbdbdbdbdbdb) ? " (poison: used "
							  "after destroy)"
							: "");
}

/* Busy for a moment (no syscall: sched_yield() can starve readers for a
 * long time while the writer keeps its CPU busy). */
static void hold_a_while(void)
{
	for (unsigned int i = 0; i < 2000; i++)
		atomic_signal_fence(memory_order_seq_cst);
}

/*
 * One access to the churned slot at @slot, of a kind chosen by @it.
 * Return: 0 (and the value read was checked), or the access's error.
 */
static int churn_access(struct churn *c, unsigned int it, uint64_t slot,
			uint64_t gpa)
{
	const struct iovec *iov;
	struct gm_lease *l;
	struct gm_view v;
	uint64_t val;
	int ret, n;

	switch (it % 8) {
	case 3: /* a view, held a while so that removals happen under it */
		ret = gm_view_get(c->s, slot, CHURN_SIZE, GM_PROT_READ, &v);
		if (ret)
			return ret;
		hold_a_while();
		if (gm_view_read_u64(&v, gpa, &val))
			churn_error(c, "view read at 0x%" PRIx64, gpa);
		else
			churn_check(c, "view", gpa, val);
		gm_view_put(&v);
		return 0;
	case 7: /* a lease, likewise */
		ret = gm_lease_get(c->s, slot, CHURN_SIZE, GM_PROT_READ, &l);
		if (ret)
			return ret;
		hold_a_while();
		iov = gm_lease_iov(l, &n);
		if (n < 1 || iov[0].iov_len < CHURN_SIZE) {
			churn_error(c, "lease of 0x%" PRIx64 ": %d iovecs",
				    slot, n);
		} else {
			memcpy(&val, (uint8_t *)iov[0].iov_base + (gpa - slot),
			       sizeof(val));
			churn_check(c, "lease", gpa, val);
		}
		gm_lease_put(l);
		return 0;
	case 2:
	case 6:
		ret = gm_atomic_load_u64(c->s, gpa, &val, GM_ACQUIRE);
		if (ret == 0)
			churn_check(c, "atomic load", gpa, val);
		return ret;
	default:
		ret = gm_read_u64(c->s, gpa, &val);
		if (ret == 0)
			churn_check(c, "read", gpa, val);
		return ret;
	}
}

static void *churn_reader(void *p)
{
	struct reader_arg *ra = p;
	struct churn *c = ra->c;
	const uint64_t mine = STABLE_GPA + 8 * (uint64_t)ra->id;
	const uint64_t mine_p = STABLE_P_GPA + 8 * (uint64_t)ra->id;
	unsigned int it;

	pthread_barrier_wait(&c->start);
	/* Bounded, whatever happens to the writer. */
	for (it = 0; it < 4 * c->reader_min; it++) {
		unsigned int j = it % CHURN_SLOTS, ver0;
		uint64_t slot = CHURN_GPA + j * CHURN_SIZE;
		uint64_t gpa = slot + (it * 8) % CHURN_SIZE, val;
		int ret;

		if (atomic_load(&c->done))
			break;
		atomic_fetch_add_explicit(&c->progress, 1,
					  memory_order_relaxed);

		/* The stable regions never go away: every access works. */
		if (gm_write_u64(c->s, mine, it) ||
		    gm_read_u64(c->s, mine, &val) || val != it)
			churn_error(c, "stable on-demand value %u lost", it);
		if (gm_atomic_store_u64(c->s, mine_p, it, GM_RELEASE) ||
		    gm_atomic_load_u64(c->s, mine_p, &val, GM_ACQUIRE) ||
		    val != it)
			churn_error(c, "stable persistent value %u lost", it);
		if (gm_atomic_fetch_add_u64(c->s, COUNTER_GPA, 1, NULL,
					    GM_SEQ_CST))
			churn_error(c, "fetch_add failed");
		else
			ra->adds++;

		/* Churned regions: present or not, never destroyed under
		 * us, and never missed while present all along. */
		ver0 = atomic_load(&c->slot_ver[j]);
		ret = churn_access(c, it, slot, gpa);
		if (ret == 0) {
			atomic_fetch_add_explicit(&c->hits, 1,
						  memory_order_relaxed);
		} else if (ret != -EFAULT) {
			churn_error(c, "churned access at 0x%" PRIx64
				    " returned %d",
				    gpa, ret);
		} else if (!(ver0 & 1) &&
			   atomic_load(&c->slot_ver[j]) == ver0) {
			churn_error(c, "access at 0x%" PRIx64 " missed a "
				    "region present all along",
				    gpa);
		}
	}
	return NULL;
}

static void *churn_writer(void *p)
{
	struct churn *c = p;
	uint64_t present = 0; /* bit per slot */
	unsigned int k;

	pthread_barrier_wait(&c->start);
	for (k = 0; k < c->writer_max &&
		    (k < c->writer_iters ||
		     atomic_load(&c->progress) < c->reader_min);
	     k++) {
		unsigned int j = k % CHURN_SLOTS;
		uint64_t gpa = CHURN_GPA + j * CHURN_SIZE;
		struct fake_config cfg = { .gpa = gpa,
					   .size = CHURN_SIZE,
					   .persistent = k & 1,
					   .max_map = (k & 2) ? 0 : 64,
					   .map_spin = 2000,
					   .poison = 1,
					   .destroyed = &c->destroyed[k] };
		struct fake_region *f;
		int ret;

		if (present & (1u << j)) {
			atomic_fetch_add(&c->slot_ver[j], 1);
			ret = gm_space_remove_region(c->s, gpa);
			if (ret)
				churn_error(c, "remove: %d", ret);
			present &= ~(1u << j);
		}
		/* Leave a slot empty now and then, so readers see holes. */
		if (k % 7 == 6)
			continue;
		if (fake_region_new(&cfg, &f)) {
			churn_error(c, "fake_region_new failed");
			break;
		}
		memset(f->buf, 0x5a, CHURN_SIZE);
		ret = gm_space_add_region(c->s, fake_gm(f));
		if (ret) {
			churn_error(c, "add: %d", ret);
			gm_region_destroy(fake_gm(f));
			continue;
		}
		present |= 1u << j;
		atomic_fetch_add(&c->slot_ver[j], 1);
	}
	c->writer_done = k;
	for (k = 0; k < CHURN_SLOTS; k++) {
		if (present & (1u << k)) {
			atomic_fetch_add(&c->slot_ver[k], 1);
			if (gm_space_remove_region(c->s,
						   CHURN_GPA + k * CHURN_SIZE))
				churn_error(c, "final remove failed");
		}
	}
	atomic_store(&c->done, 1);
	return NULL;
}

static void run_churn(struct fixture *fx, int force_fence)
{
	struct churn c = { .s = fx->s };
	struct reader_arg ra[NREADERS];
	pthread_t readers[NREADERS], writer;
	uint64_t total = 0, counter;
	unsigned int i;

	c.writer_iters = RUNNING_ON_VALGRIND ? 2000 : 4000;
	/* Poisoned regions are kept until teardown: bound their number. */
	c.writer_max = 5 * c.writer_iters;
	c.reader_min = NREADERS * (RUNNING_ON_VALGRIND ? 1000 : 10000);
	c.destroyed = calloc(c.writer_max, sizeof(*c.destroyed));
	assert_non_null(c.destroyed);
	pthread_mutex_init(&c.lock, NULL);
	assert_int_equal(pthread_barrier_init(&c.start, NULL, NREADERS + 1),
			 0);
	for (i = 0; i < CHURN_SLOTS; i++)
		atomic_init(&c.slot_ver[i], 1);

	fake_add(fx->s, (struct fake_config){ .gpa = STABLE_GPA,
					      .size = 0x1000,
					      .max_map = 16 });
	fake_add(fx->s, (struct fake_config){ .gpa = STABLE_P_GPA,
					      .size = 0x1000,
					      .persistent = 1 });
	if (force_fence) {
		gm__rcu_force_fence(fx->s->dom);
		assert_int_equal(atomic_load(&fx->s->dom->fence), 1);
	}

	for (i = 0; i < NREADERS; i++) {
		ra[i] = (struct reader_arg){ .c = &c, .id = i };
		assert_int_equal(pthread_create(&readers[i], NULL,
						churn_reader, &ra[i]),
				 0);
	}
	assert_int_equal(pthread_create(&writer, NULL, churn_writer, &c), 0);
	pthread_join(writer, NULL);
	for (i = 0; i < NREADERS; i++) {
		pthread_join(readers[i], NULL);
		total += ra[i].adds;
	}
	if (atomic_load(&c.errors))
		fail_msg("%lu error(s) in threads, first: %s",
			 atomic_load(&c.errors), c.first_error);

	/* Each churned region was destroyed exactly once (fake: never
	 * with a live mapping, never mapped after). */
	for (i = 0; i < c.writer_max; i++) {
		int want = i < c.writer_done && i % 7 != 6;

		if (c.destroyed[i] != want)
			fail_msg("region %u destroyed %d times", i,
				 c.destroyed[i]);
	}
	assert_int_equal(gm_read_u64(fx->s, COUNTER_GPA, &counter), 0);
	assert_int_equal(counter, total);
	print_message("writer: %u regions; readers: %" PRIu64 " iterations, "
		      "%lu accesses hit a churned region; readers %s\n",
		      c.writer_done, total, atomic_load(&c.hits),
		      atomic_load(&fx->s->dom->fence) ? "fenced"
						      : "relied on membarrier");
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 2);
	assert_no_violations();
	pthread_mutex_destroy(&c.lock);
	pthread_barrier_destroy(&c.start);
	free(c.destroyed);
}

static void test_rcu_churn(void **state)
{
	run_churn(*state, 0);
}

static void test_rcu_churn_forced_fence(void **state)
{
	run_churn(*state, 1);
}

/* ------------------------------------------------------------------ */
/* Reader records of threads and spaces that go away                   */
/* ------------------------------------------------------------------ */

struct once_arg {
	struct gm_space *s;
	int ret;
	uint32_t val;
};

static void *read_once(void *p)
{
	struct once_arg *a = p;

	a->ret = gm_read_u32(a->s, 0x1000, &a->val);
	return NULL;
}

/* Each thread's reader record goes away when the thread exits. */
static void test_exited_threads_free_their_records(void **state)
{
	struct fixture *fx = *state;
	const unsigned int nthreads = 128, batch = 8;
	struct once_arg a[8];
	pthread_t t[8];
	struct fake_region *f;
	unsigned int i, j;

	f = fake_add(fx->s, (struct fake_config){ .gpa = 0x1000,
						  .size = 0x1000,
						  .max_map = 2 });
	memcpy(f->buf, "\x01\x02\x03\x04", 4);
	for (i = 0; i < nthreads; i += batch) {
		for (j = 0; j < batch; j++) {
			a[j] = (struct once_arg){ .s = fx->s, .ret = 1 };
			assert_int_equal(pthread_create(&t[j], NULL, read_once,
							&a[j]),
					 0);
		}
		for (j = 0; j < batch; j++) {
			pthread_join(t[j], NULL);
			assert_int_equal(a[j].ret, 0);
			assert_int_equal(a[j].val, 0x04030201);
		}
		/* Joined threads have run their exit handlers. */
		assert_int_equal(count_readers(fx->s->dom), 0);
	}
	/* The space's reference is the only one left on its domain. */
	assert_int_equal(atomic_load(&fx->s->dom->refs), 1);
	assert_int_equal(atomic_load(&f->live), 0);
	assert_no_violations();
}

/*
 * Threads that used a space outlive it: their records of the dead space
 * stay until they register with another space, which prunes them (and
 * with the last one, the dead space's domain).
 */
struct survivor {
	struct gm_space *old, *new;
	pthread_barrier_t *bar;
	int ret_old, ret_new;
};

static void *survivor_thread(void *p)
{
	struct survivor *sv = p;
	uint32_t v;

	sv->ret_old = gm_read_u32(sv->old, 0x1000, &v);
	pthread_barrier_wait(sv->bar); /* 1: main frees old */
	pthread_barrier_wait(sv->bar); /* 2: freed */
	sv->ret_new = gm_read_u32(sv->new, 0x2000, &v);
	pthread_barrier_wait(sv->bar); /* 3: main checks the records */
	pthread_barrier_wait(sv->bar); /* 4: done */
	return NULL;
}

static void test_records_of_freed_space_are_pruned(void **state)
{
	enum { NT = 4 };
	struct fixture *fx = *state;
	struct gm_space *old;
	struct gm__rcu_domain *d;
	struct survivor sv[NT];
	pthread_barrier_t bar;
	pthread_t t[NT];
	int destroyed = 0;
	unsigned int i;

	assert_int_equal(gm_space_new(&old, "old", 0), 0);
	fake_add(old, (struct fake_config){ .gpa = 0x1000, .size = 0x1000,
					    .destroyed = &destroyed });
	fake_add(fx->s, (struct fake_config){ .gpa = 0x2000, .size = 0x1000,
					      .persistent = 1 });
	assert_int_equal(pthread_barrier_init(&bar, NULL, NT + 1), 0);
	for (i = 0; i < NT; i++) {
		sv[i] = (struct survivor){ .old = old, .new = fx->s,
					   .bar = &bar, .ret_old = 1,
					   .ret_new = 1 };
		assert_int_equal(pthread_create(&t[i], NULL, survivor_thread,
						&sv[i]),
				 0);
	}
	pthread_barrier_wait(&bar); /* 1 */
	d = old->dom;
	assert_int_equal(count_readers(d), NT);
	/* Keep the old domain alive to look at it after the space is
	 * gone; gm__rcu_domain_release() drops this reference below. */
	atomic_fetch_add(&d->refs, 1);
	gm_space_free(old);
	assert_int_equal(destroyed, 1);
	assert_int_equal(atomic_load(&d->dead), 1);
	assert_int_equal(atomic_load(&d->refs), 1 + NT);
	pthread_barrier_wait(&bar); /* 2 */
	pthread_barrier_wait(&bar); /* 3 */
	assert_int_equal(count_readers(d), 0);
	assert_int_equal(atomic_load(&d->refs), 1);
	assert_int_equal(count_readers(fx->s->dom), NT);
	pthread_barrier_wait(&bar); /* 4 */
	for (i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(sv[i].ret_old, 0);
		assert_int_equal(sv[i].ret_new, 0);
	}
	assert_int_equal(count_readers(fx->s->dom), 0);
	gm__rcu_domain_release(d);
	pthread_barrier_destroy(&bar);
	assert_no_violations();
}

/* ------------------------------------------------------------------ */
/* Grace periods with many readers inside                              */
/* ------------------------------------------------------------------ */

/* More than wait_readers() remembers at a time (common/rcu.c). */
#define NINSIDE 100

struct inside {
	struct gm__rcu_domain *d;
	struct gm__rcu_reader *r;
	pthread_barrier_t *bar;
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	int go; /* under lock */
	atomic_int left;
};

/* Enter a section and stay there until told to go. */
static void *stay_inside(void *p)
{
	struct inside *in = p;

	in->r = gm__rcu_reader(in->d);
	if (in->r)
		gm__rcu_enter(in->d, in->r);
	pthread_barrier_wait(in->bar);
	pthread_mutex_lock(in->lock);
	while (!in->go)
		pthread_cond_wait(in->cond, in->lock);
	pthread_mutex_unlock(in->lock);
	if (!in->r)
		return NULL;
	/* Inside still: the domain's lock must be free while a grace period
	 * waits for us (gm__rcu_count() takes it). */
	(void)gm__rcu_count(in->d);
	atomic_store(&in->left, 1);
	gm__rcu_exit(in->r);
	return NULL;
}

struct syncer {
	struct gm__rcu_domain *d;
	struct inside *in;
	atomic_int done;
	unsigned int early; /* readers still inside when it returned */
};

static void *synchronize_thread(void *p)
{
	struct syncer *sy = p;
	unsigned int i;

	gm__rcu_synchronize(sy->d);
	for (i = 0; i < NINSIDE; i++)
		sy->early += !atomic_load(&sy->in[i].left);
	atomic_store(&sy->done, 1);
	return NULL;
}

static void let_go(struct inside *in)
{
	pthread_mutex_lock(in->lock);
	in->go = 1;
	pthread_cond_broadcast(in->cond);
	pthread_mutex_unlock(in->lock);
}

/* Order of two readers by address, descending. */
static int by_address_down(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(struct inside *const *)a)->r;
	uintptr_t y = (uintptr_t)(*(struct inside *const *)b)->r;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * A grace period waits for every reader inside, however many, whichever of
 * them leaves last: the one of address rank @rank (0 the highest), so that
 * the tests cover the first and last reader of wait_readers()'s first
 * batch of 64 and of its second one.
 */
static void run_many_inside(unsigned int rank)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	struct inside in[NINSIDE], *order[NINSIDE], *last;
	pthread_t t[NINSIDE], st;
	struct syncer sy = { .in = in };
	pthread_barrier_t bar;
	unsigned int i;

	assert_int_equal(gm__rcu_domain_new(&sy.d), 0);
	assert_int_equal(pthread_barrier_init(&bar, NULL, NINSIDE + 1), 0);
	for (i = 0; i < NINSIDE; i++) {
		in[i] = (struct inside){ .d = sy.d, .bar = &bar,
					 .lock = &lock, .cond = &cond };
		atomic_init(&in[i].left, 0);
		assert_int_equal(pthread_create(&t[i], NULL, stay_inside,
						&in[i]),
				 0);
	}
	pthread_barrier_wait(&bar);
	for (i = 0; i < NINSIDE; i++) {
		assert_non_null(in[i].r);
		order[i] = &in[i];
	}
	qsort(order, NINSIDE, sizeof(order[0]), by_address_down);
	last = order[rank];
	assert_int_equal(pthread_create(&st, NULL, synchronize_thread, &sy),
			 0);
	for (i = 0; i < NINSIDE; i++)
		if (&in[i] != last)
			let_go(&in[i]);
	/* Not a threshold: a correct grace period cannot end before the
	 * last reader leaves; the pause only gives a broken one time to. */
	usleep(20000);
	assert_int_equal(atomic_load(&sy.done), 0);
	let_go(last);
	pthread_join(st, NULL);
	assert_int_equal(sy.early, 0);
	for (i = 0; i < NINSIDE; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	gm__rcu_domain_release(sy.d);
}

static void test_rcu_waits_for_many_readers(void **state)
{
	static const unsigned int ranks[] = { 0, 63, 64, NINSIDE - 1 };
	unsigned int i;

	(void)state;
	for (i = 0; i < GM__ARRAY_SIZE(ranks); i++)
		run_many_inside(ranks[i]);
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
#define TP(f, p)                                                              \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown,          \
						 (void *)&(p))

static const struct params chunk1 = { .chunk = 1 };
static const struct params chunk7 = { .chunk = 7 };
static const struct params chunk4096 = { .chunk = 4096 };
#ifdef __x86_64__
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
		T(test_get_regions),
		ONDEMAND_TESTS(chunk1),
		ONDEMAND_TESTS(chunk7),
		ONDEMAND_TESTS(chunk4096),
		T(test_ondemand_fd_io_many_pieces),
		T(test_view_needs_whole_mapping),
		T(test_region_spanning_to_2_64),
#ifdef __x86_64__
		ONDEMAND_TESTS(safe7),
		TP(test_ondemand_fd_io_many_pieces, safe7),
		TP(test_fault_safe_revoked_page, safe7),
#endif
		T(test_rcu_churn),
		T(test_rcu_churn_forced_fence),
		T(test_exited_threads_free_their_records),
		T(test_records_of_freed_space_are_pruned),
		T(test_rcu_waits_for_many_readers),
	};

#ifdef __x86_64__
	install_fault_handlers();
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
