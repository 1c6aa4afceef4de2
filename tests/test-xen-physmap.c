/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Domains whose physmap has holes, and domains that shrink, on the
 * simulator (tests/xensim), which behaves as real Xen 4.17 did
 * (tests/xen-qemu/probe-physmap.c): gm_xen_space_open_domain() makes a
 * region of each populated run; a frame the guest gives back stays
 * readable (as zeros) through a mapping held from before, and fails to
 * map anew; gm_xen_recheck() and the rechecks on misses drop the cache's
 * entries of such frames.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <xenctrl.h>

#include "xen-fixture.h"

static struct gm_region_info regs[GM_XEN_DOMAIN_MAX_REGIONS + 1];

static ssize_t regions(struct gm_space *s)
{
	return gm_space_get_regions(s, regs, sizeof(regs) / sizeof(regs[0]));
}

/* An HVM-like layout: RAM with a one-frame hole (a Xen page the guest
 * mapped), a VGA-like hole, and nothing between RAM and the highest
 * frame. */
static void layout(void)
{
	assert_int_equal(xensim_domain_set_populated(DOMID, 0x10, 1, 0), 0);
	assert_int_equal(xensim_domain_set_populated(DOMID, 0xa0, 0x60, 0), 0);
	assert_int_equal(xensim_domain_set_populated(DOMID, 0x800, 0x800, 0),
			 0);
	assert_int_equal(xensim_domain_set_max_gpfn(DOMID, 0x1ffff), 0);
}

/* The space's regions are the populated runs; holes are the space's. */
static void test_domain_regions_are_ram(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_space *s = NULL;
	uint32_t val = 0;

	(void)state;
	layout();
	guest_fill(0, 0x800);
	xensim_reset_counters();
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	/* One getpageframeinfo3 call per 1024 frames up to max_gpfn. */
	assert_int_equal(sim().calls[XENSIM_FN_XC_GET_PFN_TYPE_BATCH],
			 0x20000 / 1024);
	assert_int_equal(regions(s), 3);
	assert_int_equal(regs[0].gpa, 0);
	assert_int_equal(regs[0].size, 0x10ull * PAGE);
	assert_int_equal(regs[1].gpa, 0x11ull * PAGE);
	assert_int_equal(regs[1].size, (0xa0ull - 0x11) * PAGE);
	assert_int_equal(regs[2].gpa, 0x100ull * PAGE);
	assert_int_equal(regs[2].size, 0x700ull * PAGE);
	assert_string_equal(regs[2].backend, "xen-foreign");
	/* RAM reads, holes are holes (-EFAULT), nothing was mapped for
	 * them. */
	assert_int_equal(gm_read_u32(s, 0x11ull * PAGE + 4, &val), 0);
	assert_int_equal(val, pattern(0x11, 4));
	assert_int_equal(gm_read_u32(s, 0x7ffull * PAGE + 8, &val), 0);
	assert_int_equal(val, pattern(0x7ff, 8));
	assert_int_equal(gm_read_u32(s, 0x10ull * PAGE, &val), -EFAULT);
	assert_int_equal(gm_read_u32(s, 0xa0ull * PAGE, &val), -EFAULT);
	assert_int_equal(gm_read_u32(s, 0x1ffffull * PAGE, &val), -EFAULT);
	assert_int_equal(sim().page_errors, 0);
	gm_space_free(s);
	gm_xen_close(x);
}

/* More runs than GM_XEN_DOMAIN_MAX_REGIONS: merged across the shortest
 * gaps, whose frames fail with -EINVAL inside a region. */
static void test_domain_many_runs(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_space *s = NULL;
	uint32_t val = 0;
	uint64_t g;
	ssize_t n;

	(void)state;
	/* 2048 runs of one frame, one-frame gaps; and a long gap. */
	for (g = 1; g < 4096; g += 2)
		assert_int_equal(xensim_domain_set_populated(DOMID, g, 1, 0),
				 0);
	assert_int_equal(xensim_domain_set_max_gpfn(DOMID, 0x7fff), 0);
	guest_fill(0, 4096);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	n = regions(s);
	assert_true(n >= 1 && n <= (ssize_t)GM_XEN_DOMAIN_MAX_REGIONS);
	assert_int_equal(gm_read_u32(s, 2ull * PAGE + 4, &val), 0);
	assert_int_equal(val, pattern(2, 4));
	assert_int_equal(gm_read_u32(s, 3ull * PAGE, &val), -EINVAL);
	assert_int_equal(gm_read_u32(s, 0x4000ull * PAGE, &val), -EFAULT);
	gm_space_free(s);
	gm_xen_close(x);
}

/* Without getpageframeinfo3 (no privilege): one region up to the highest
 * frame, as before, whose holes fail with -EINVAL.  A domain that goes
 * away meanwhile fails the open. */
static void test_domain_without_physmap(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_space *s = NULL;
	uint32_t val = 0;

	(void)state;
	layout();
	assert_int_equal(xensim_inject(XENSIM_FN_XC_GET_PFN_TYPE_BATCH, 3, 1,
				       EPERM),
			 0);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	assert_int_equal(regions(s), 1);
	assert_int_equal(regs[0].size, 0x20000ull * PAGE);
	assert_int_equal(gm_read_u32(s, 0xa0ull * PAGE, &val), -EINVAL);
	gm_space_free(s);

	assert_int_equal(xensim_inject(XENSIM_FN_XC_GET_PFN_TYPE_BATCH, 5, 1,
				       ESRCH),
			 0);
	s = (struct gm_space *)&s;
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), -ESRCH);
	assert_null(s);
	assert_int_equal(sim().all.live_mappings, 0);
	gm_xen_close(x);
}

static struct gm_xen *open_recheck(uint32_t ms)
{
	struct gm_xen_options o = { .bucket_size = KiB(16),
				    .cache_bytes = MiB(1),
				    .recheck_ms = ms };
	struct gm_xen *x = NULL;

	assert_int_equal(gm_xen_open(&x, &o), 0);
	return x;
}

/* Read one word of each of frames [first, first + n) and check it. */
static void read_frames(struct gm_space *s, uint64_t first, uint64_t n,
			int zero)
{
	uint32_t val;
	uint64_t g;

	for (g = first; g < first + n; g++) {
		val = 0xdead;
		assert_int_equal(gm_read_u32(s, g * PAGE + 12, &val), 0);
		assert_int_equal(val, zero ? 0 : pattern(g, 12));
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * A shrinking domain: frames the guest gives back are served from the
 * warm cache (as zeros, as on real Xen) until a recheck, which unmaps
 * them (Xen can free them: tot_pages drops) and makes them fail with
 * -EINVAL; when the guest populates them again, a recheck drops the
 * recorded failure.
 */
static void test_shrink_recheck(void **state)
{
	struct gm_xen *x = open_recheck(GM_XEN_RECHECK_NEVER);
	struct gm_space *s = NULL;
	xc_domaininfo_t di;
	xc_interface *xch;
	uint32_t val;

	(void)state;
	guest_fill(0, 64);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	read_frames(s, 0, 64, 0);
	/* The guest gives back frames 8-15: two 16 KiB buckets. */
	assert_int_equal(xensim_domain_decrease_reservation(DOMID, 8, 8), 0);
	xch = xc_interface_open(NULL, NULL, 0);
	assert_non_null(xch);
	assert_int_equal(xc_domain_getinfolist(xch, DOMID, 1, &di), 1);
	assert_int_equal(di.tot_pages, DOM_PAGES); /* held by our mapping */
	/* Stale but harmless: zeros, never the guest's later data. */
	read_frames(s, 8, 8, 1);
	read_frames(s, 0, 8, 0);
	assert_int_equal(xstats(x).recheck_drops, 0);

	assert_int_equal(gm_xen_recheck(x), 2);
	assert_int_equal(xstats(x).recheck_drops, 2);
	assert_int_equal(xstats(x).rechecks, 1);
	assert_int_equal(xc_domain_getinfolist(xch, DOMID, 1, &di), 1);
	assert_int_equal(di.tot_pages, DOM_PAGES - 8); /* released */
	assert_int_equal(gm_read_u32(s, 8ull * PAGE, &val), -EINVAL);
	assert_int_equal(gm_read_u32(s, 15ull * PAGE, &val), -EINVAL);
	read_frames(s, 0, 8, 0);
	read_frames(s, 16, 48, 0);
	/* Nothing else changed: a second recheck drops nothing. */
	assert_int_equal(gm_xen_recheck(x), 0);

	/* Balloon up: the failed bucket is dropped and maps again. */
	assert_int_equal(xensim_domain_set_populated(DOMID, 8, 8, 1), 0);
	assert_int_equal(gm_read_u32(s, 8ull * PAGE, &val), -EINVAL);
	assert_int_equal(gm_xen_recheck(x), 2);
	read_frames(s, 8, 8, 1);
	assert_int_equal(xc_interface_close(xch), 0);
	gm_space_free(s);
	gm_xen_close(x);
}

/* On a miss, the cache rechecks by itself once recheck_ms has passed; a
 * context that never rechecks keeps serving the stale bucket. */
static void test_shrink_miss_rechecks(void **state)
{
	struct gm_xen *x = open_recheck(1);
	struct gm_xen *never = open_recheck(GM_XEN_RECHECK_NEVER);
	struct gm_space *s = NULL, *sn = NULL;
	uint32_t val;

	(void)state;
	guest_fill(0, 64);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	assert_int_equal(gm_xen_space_open_domain(never, DOMID, 0, &sn), 0);
	read_frames(s, 0, 16, 0);
	read_frames(sn, 0, 16, 0);
	assert_int_equal(xensim_domain_decrease_reservation(DOMID, 4, 4), 0);
	sleep_ms(5);
	/* A miss (frame 32 was never read) makes the recheck. */
	read_frames(s, 32, 1, 0);
	read_frames(sn, 32, 1, 0);
	assert_true(xstats(x).rechecks >= 1);
	assert_int_equal(xstats(x).recheck_drops, 1);
	assert_int_equal(gm_read_u32(s, 4ull * PAGE, &val), -EINVAL);
	read_frames(s, 0, 4, 0);
	/* The other context never rechecked: still the stale zeros. */
	assert_int_equal(xstats(never).rechecks, 0);
	read_frames(sn, 4, 4, 1);
	/* A hit never rechecks, however long ago the last one was. */
	sleep_ms(5);
	val = (uint32_t)xstats(x).rechecks;
	read_frames(s, 0, 4, 0);
	assert_int_equal(xstats(x).rechecks, val);
	gm_space_free(s);
	gm_space_free(sn);
	gm_xen_close(x);
	gm_xen_close(never);
}

/* Views keep what they hold; recheck failures are reported. */
static void test_recheck_views_and_errors(void **state)
{
	struct gm_xen *x = open_recheck(GM_XEN_RECHECK_NEVER);
	struct gm_space *s = NULL;
	struct gm_view v;
	uint32_t val;

	(void)state;
	guest_fill(0, 16);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	assert_int_equal(gm_view_get(s, 0, 4096, GM_PROT_READ, &v), 0);
	assert_int_equal(xensim_domain_decrease_reservation(DOMID, 0, 1), 0);
	/* Pinned: unlinked now, unmapped when the view goes. */
	assert_int_equal(gm_xen_recheck(x), 1);
	assert_int_equal(gm_view_read_u32(&v, 8, &val), 0);
	assert_int_equal(val, 0);
	gm_view_put(&v);
	assert_int_equal(gm_read_u32(s, 0, &val), -EINVAL);

	assert_int_equal(xensim_inject(XENSIM_FN_XC_GET_PFN_TYPE_BATCH, 0, 1,
				       EPERM),
			 0);
	read_frames(s, 4, 1, 0);
	assert_int_equal(gm_xen_recheck(x), -EPERM);
	assert_non_null(strstr(gm_last_error(), "gm_xen_recheck"));
	assert_int_equal(gm_xen_recheck(NULL), -EINVAL);
	gm_space_free(s);
	gm_xen_close(x);
}

struct reader {
	struct gm_space *s;
	_Atomic int *stop;
	unsigned int seed;
	unsigned long bad;	/* a value that is neither pattern nor 0 */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint32_t val;
	uint64_t g;
	int rc;

	while (!atomic_load(r->stop)) {
		g = rand_r(&r->seed) % 256;
		val = 0xdead;
		rc = gm_read_u32(r->s, g * PAGE + 12, &val);
		/* Pattern, or zeros from a frame given back, or -EINVAL
		 * once it is gone: never anything else. */
		if (!(rc == 0 && (val == pattern(g, 12) || val == 0)) &&
		    rc != -EINVAL)
			r->bad++;
	}
	return NULL;
}

/* Rechecks (explicit and on misses) while other threads read: no stale
 * data but zeros, no crash, nothing leaked (TSan: no race). */
static void test_recheck_threads(void **state)
{
	struct gm_xen *x = open_recheck(1);
	struct gm_space *s = NULL;
	struct reader rd[2];
	pthread_t t[2];
	_Atomic int stop = 0;
	uint64_t g;
	int i;

	(void)state;
	guest_fill(0, 256);
	assert_int_equal(gm_xen_space_open_domain(x, DOMID, 0, &s), 0);
	for (i = 0; i < 2; i++) {
		rd[i] = (struct reader){ .s = s, .stop = &stop,
					 .seed = (unsigned int)i + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, reader_main,
						&rd[i]),
				 0);
	}
	for (g = 0; g < 256; g += 8) {
		assert_int_equal(xensim_domain_decrease_reservation(DOMID, g,
								    4),
				 0);
		assert_true(gm_xen_recheck(x) >= 0);
		sleep_ms(1);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(rd[i].bad, 0);
	}
	/* Every frame given back now fails, every other still reads. */
	assert_true(gm_xen_recheck(x) >= 0);
	for (g = 0; g < 256; g++) {
		uint32_t val = 0;

		if (g % 8 < 4)
			assert_int_equal(gm_read_u32(s, g * PAGE, &val),
					 -EINVAL);
		else
			read_frames(s, g, 1, 0);
	}
	gm_space_free(s);
	gm_xen_close(x);
}

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_domain_regions_are_ram),
		XEN_TEST(test_domain_many_runs),
		XEN_TEST(test_domain_without_physmap),
		XEN_TEST(test_shrink_recheck),
		XEN_TEST(test_shrink_miss_rechecks),
		XEN_TEST(test_recheck_views_and_errors),
		XEN_TEST(test_recheck_threads),
	};

	return cmocka_run_group_tests_name("xen-physmap", tests, NULL, NULL);
}
