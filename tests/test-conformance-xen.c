/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The conformance suite (conformance.h) over the Xen backend, run against
 * the simulator (tests/xensim), so it needs no Xen:
 *
 *  - xen-foreign-eager: foreign regions mapped whole at creation, in small
 *    chunks so that a region takes several map calls;
 *  - xen-foreign-cached: foreign regions mapped on demand through a cache
 *    much smaller than the layout, so that tests evict all the time;
 *  - xen-grant: grant regions at the layout's addresses, the simulated
 *    guest sharing its frames (read-only grants for read-only regions);
 *  - xen-mixed: unix, foreign and grant regions in turn, in one space.
 *
 * Every region gets fresh frames of one simulated domain from a bump
 * allocator, so a new region reads as zero.  After each test the fixture
 * closes its context, checks with the simulator's counters that every
 * mapping and handle was released, and starts the next test from a fresh
 * domain and context.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <guestmem/unix.h>
#include <guestmem/xen.h>

#include "conformance.h"
#include "xensim/xensim.h"

#define PAGE 4096u

/* The simulated guest whose memory backs every region. */
#define DOMID 7u
/*
 * Frames per test: the layout takes 6 regions of 16 pages, and the hot
 * add/remove test adds a region of 16 pages in each of its 100 rounds.
 */
#define DOM_PAGES 8192u

/* The on-demand cache: 16 KiB buckets within a 128 KiB budget, against a
 * layout of 384 KiB.  128 KiB is the most the suite pins at once (a lease
 * of two whole 64 KiB regions). */
#define SMALL_BUCKET (16u * 1024)
#define SMALL_BUDGET (8u * SMALL_BUCKET)

enum kind { K_EAGER, K_CACHED, K_GRANT, K_MIXED };

struct xen_ctx {
	enum kind kind;
	struct gm_xen_options opt;
	struct gm_xen *x;
	uint64_t next_gfn;    /* bump allocator over the domain's frames */
	unsigned int made;    /* region_new calls in this test (K_MIXED) */
	int broken;	      /* a reset failed: later tests cannot run */
};

/* Teardown cannot use cmocka's asserts: failures found there land here. */
static int late_failures;

/* A new domain and context for the next test. */
static int ctx_start(struct xen_ctx *c)
{
	int ret;

	c->next_gfn = 0;
	c->made = 0;
	ret = xensim_domain_create(DOMID, DOM_PAGES, XENSIM_DOM_HVM);
	if (ret)
		return ret;
	return gm_xen_open(&c->x, &c->opt);
}

/*
 * Close the context, then tear the simulator down.  Returns what leaked:
 * every mapping and handle must already be released once the space and
 * the context are gone.
 */
static int ctx_stop(struct xen_ctx *c, struct xensim_counters *before)
{
	gm_xen_close(c->x);
	c->x = NULL;
	xensim_get_counters(before);
	return xensim_reset(NULL);
}

static int xen_setup(void **ctx, enum kind kind)
{
	struct xen_ctx *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->kind = kind;
	if (kind == K_EAGER)
		c->opt.eager_chunk = 5; /* 16-page regions: 4 map calls */
	if (kind == K_CACHED || kind == K_MIXED) {
		c->opt.bucket_size = SMALL_BUCKET;
		c->opt.cache_bytes = SMALL_BUDGET;
	}
	xensim_reset(NULL);
	ret = ctx_start(c);
	if (ret) {
		fprintf(stderr, "xen fixture setup: %d (%s)\n", ret,
			gm_last_error());
		xensim_reset(NULL);
		free(c);
		return ret;
	}
	*ctx = c;
	return 0;
}

static int eager_setup(void **ctx)
{
	return xen_setup(ctx, K_EAGER);
}

static int cached_setup(void **ctx)
{
	return xen_setup(ctx, K_CACHED);
}

static int grant_setup(void **ctx)
{
	return xen_setup(ctx, K_GRANT);
}

static int mixed_setup(void **ctx)
{
	return xen_setup(ctx, K_MIXED);
}

static void xen_teardown(void *ctx)
{
	struct xen_ctx *c = ctx;
	struct xensim_counters before;
	int leaks;

	if (c->x) {
		leaks = ctx_stop(c, &before);
		if (leaks || before.open_handles) {
			fprintf(stderr, "xen fixture teardown: %d leaks, %llu "
				"handles open\n", leaks,
				(unsigned long long)before.open_handles);
			late_failures++;
		}
	} else {
		xensim_reset(NULL);
	}
	free(c);
}

/*
 * After each test, once the space is freed: no Xen mapping may be left,
 * and once the context is closed no handle either.  The next test gets a
 * fresh domain and context; that happens before any assertion, so that a
 * failure here does not spoil the tests after it.
 */
static void xen_check(void *ctx)
{
	struct xen_ctx *c = ctx;
	struct xensim_counters before;
	struct gm_xen_stats st;
	uint64_t live;
	int leaks, ret, sret;

	if (c->broken)
		fail_msg("an earlier reset failed");
	sret = gm_xen_get_stats(c->x, &st);
	xensim_get_counters(&before);
	live = before.all.live_mappings;
	leaks = ctx_stop(c, &before);
	ret = ctx_start(c);
	if (ret)
		c->broken = 1;

	assert_int_equal(ret, 0);
	assert_int_equal(sret, 0);
	/* Every region was destroyed with the space: nothing mapped. */
	assert_int_equal(live, 0);
	assert_int_equal(st.mapped_bytes, 0);
	if (c->kind == K_CACHED || c->kind == K_MIXED)
		assert_true(st.peak_mapped_bytes <= c->opt.cache_bytes);
	assert_int_equal(before.open_handles, 0);
	assert_int_equal(leaks, 0);
}

/*
 * @n fresh frames, or none when the domain cannot hold them (a size meant
 * to be refused, such as one that wraps past 2^64: it must reach the
 * constructor unharmed).  Returns the first frame either way.
 */
static uint64_t frames(struct xen_ctx *c, uint64_t size, int rdonly)
{
	uint64_t gfn = c->next_gfn, n = size / PAGE, i;
	uint8_t *mem;

	if (size % PAGE || n > DOM_PAGES - c->next_gfn)
		return gfn;
	c->next_gfn += n;
	/* Read-only memory holds something other than zeros, so that the
	 * suite sees the guest's data through it. */
	mem = xensim_domain_mem(DOMID);
	if (rdonly && mem)
		for (i = 0; i < n * PAGE; i++)
			mem[gfn * PAGE + i] = (uint8_t)(i * 7 + 1);
	return gfn;
}

static int foreign_new(struct xen_ctx *c, uint64_t gpa, uint64_t size,
		       int rdonly, unsigned int flags, struct gm_region **out)
{
	uint64_t gfn = frames(c, size, rdonly);

	return gm_xen_foreign_region_new(c->x, DOMID, gpa, size, gfn,
					 flags | (rdonly ? GM_XEN_RDONLY : 0),
					 out);
}

/* The guest shares the frames with us: read-only grants for a read-only
 * region. */
static int grant_new(struct xen_ctx *c, uint64_t gpa, uint64_t size,
		     int rdonly, struct gm_region **out)
{
	uint64_t gfn = frames(c, size, rdonly), count = size / PAGE;
	uint32_t ref = XENSIM_GREF_BASE;
	int ret;

	if (!count || count > UINT32_MAX)
		return -EINVAL;
	ret = xensim_grant_share_range(DOMID, gfn, (uint32_t)count, !rdonly,
				       &ref);
	/* Too many refs for the table: the constructor still decides. */
	if (ret && ret != -ENOSPC && ret != -EINVAL)
		return ret;
	return gm_xen_grant_region_new(c->x, DOMID, gpa, ref, (uint32_t)count,
				       rdonly ? GM_XEN_RDONLY : 0, out);
}

static int xen_region_new(void *ctx, struct gm_space *s, uint64_t gpa,
			  uint64_t size, int rdonly, struct gm_region **out)
{
	struct xen_ctx *c = ctx;

	(void)s;
	switch (c->kind) {
	case K_EAGER:
		return foreign_new(c, gpa, size, rdonly, GM_XEN_EAGER, out);
	case K_CACHED:
		return foreign_new(c, gpa, size, rdonly, 0, out);
	case K_GRANT:
		return grant_new(c, gpa, size, rdonly, out);
	case K_MIXED:
		switch (c->made++ % 3) {
		case 0:
			return gm_unix_region_new_anon(
				gpa, size, rdonly ? GM_UNIX_RDONLY : 0, out);
		case 1:
			return foreign_new(c, gpa, size, rdonly, 0, out);
		default:
			return grant_new(c, gpa, size, rdonly, out);
		}
	}
	return -EINVAL;
}

/*
 * Eager regions are persistent: the region's whole mapping is gone once
 * it is destroyed, so mincore() fails on it.
 */
static int eager_region_gone(void *ctx, uint64_t gpa, const uint8_t *hva)
{
	unsigned char vec;

	(void)ctx;
	(void)gpa;
	assert_non_null(hva);
	if (mincore((void *)hva, 1, &vec) == 0)
		return 0;
	assert_int_equal(errno, ENOMEM);
	return 1;
}

int main(void)
{
	const struct conf_fixture fixtures[] = {
		{
			.name = "xen-foreign-eager",
			.setup = eager_setup,
			.teardown = xen_teardown,
			.region_new = xen_region_new,
			.granule = PAGE,
			.check = xen_check,
			.region_gone = eager_region_gone,
		},
		{
			.name = "xen-foreign-cached",
			.setup = cached_setup,
			.teardown = xen_teardown,
			.region_new = xen_region_new,
			.granule = PAGE,
			.check = xen_check,
		},
		{
			.name = "xen-grant",
			.setup = grant_setup,
			.teardown = xen_teardown,
			.region_new = xen_region_new,
			.granule = PAGE,
			.check = xen_check,
		},
		{
			.name = "xen-mixed",
			.setup = mixed_setup,
			.teardown = xen_teardown,
			.region_new = xen_region_new,
			.granule = PAGE,
			.check = xen_check,
		},
	};
	size_t i;
	int failed = 0;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		if (conf_run(&fixtures[i]) != 0)
			failed = 1;
	return failed || late_failures;
}
