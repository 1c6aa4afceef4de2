/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance suite, run by conf_run() (conformance.c): the region list,
 * removing and re-adding regions, and hot add and remove under concurrent
 * access.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

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

void test_regions_list(void **state)
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

void test_remove_and_readd(void **state)
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

void test_hotplug_concurrent(void **state)
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
