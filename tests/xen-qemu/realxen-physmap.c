/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen's tests of domain spaces on real Xen: the space's regions
 * are the guest's RAM as Xen's physmap has it, and all of it reads
 * without a failure (what makes "guestmem dump" exit 0); and a guest that
 * balloons down under a warm cache ("xl mem-set"), whose given-back frames
 * gm_xen_recheck() drops (test-realxen.c has the overview).
 */
#define _GNU_SOURCE

#include <xenctrl.h>

#include "realxen.h"

static int dom_info(uint32_t domid, xc_domaininfo_t *di)
{
	xc_interface *xch = xc_interface_open(NULL, NULL, 0);
	int n = xch ? xc_domain_getinfolist(xch, domid, 1, di) : -1;

	if (xch)
		xc_interface_close(xch);
	return n == 1 && di->domain == domid ? 0 : -1;
}

/* The regions are the RAM runs: as many bytes as the domain's pages, the
 * first from 0, the pattern frames inside; reading all of them fails
 * nowhere. */
bool t_domain_physmap(struct ctx *c)
{
	struct gm_region_info info[GM_XEN_DOMAIN_MAX_REGIONS];
	struct gm_xen *x = xen_open(0, 0);
	struct gm_space *s = NULL;
	struct timespec t0, t1;
	xc_domaininfo_t di;
	uint64_t total = 0, off, bad = 0;
	uint8_t *buf = malloc(KiB(64));
	ssize_t n, i, got;
	uint32_t v;

	REQUIRE(x && buf);
	REQUIRE(dom_info(c->domid, &di) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_RC(gm_xen_space_open_domain(x, c->domid, 0, &s), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	REQUIRE(s);
	n = gm_space_get_regions(s, info, ARRAY_SIZE(info));
	EXPECT(n >= 2);
	for (i = 0; i < n; i++) {
		diag("region %zd: %#" PRIx64 "-%#" PRIx64, i, info[i].gpa,
		     info[i].gpa + info[i].size - 1);
		total += info[i].size;
	}
	diag("open: %.2f s for %" PRIu64 " frames; tot_pages %" PRIu64
	     ", RAM in regions %" PRIu64 " pages",
	     (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	     c->max_frames, (uint64_t)di.tot_pages, total / PAGE);
	EXPECT(n >= 1 && info[0].gpa == 0);
	/* Xen's own pages in the physmap (shared_info, grant frames) count
	 * in tot_pages but are not RAM: a handful at most. */
	EXPECT(total / PAGE <= di.tot_pages &&
	       total / PAGE + 64 >= di.tot_pages);
	/* The 2 GiB hole and the highest frames' neighbourhood: holes. */
	EXPECT_RC(gm_read_u32(s, 0x80000000ull, &v), -EFAULT);
	/* Every RAM byte reads: what a dump does. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		for (off = 0; off < info[i].size; off += (uint64_t)got) {
			size_t want = info[i].size - off < KiB(64)
					      ? (size_t)(info[i].size - off)
					      : KiB(64);

			got = gm_read_partial(s, info[i].gpa + off, buf, want);
			if (got <= 0) {
				if (!bad)
					diag("unreadable at %#" PRIx64 ": %s",
					     info[i].gpa + off, ename((int)got));
				bad++;
				got = PAGE;
			}
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	diag("read all RAM in %.2f s, %" PRIu64 " pages unreadable",
	     (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	     bad);
	EXPECT(bad == 0);
	EXPECT(stats(x).failures == 0);
	EXPECT(read_battery(c, s, 100, PAGE, 4) == 0);
	gm_space_free(s);
	gm_xen_close(x);
	free(buf);
	return cur_ok;
}

static int mem_set(uint32_t domid, unsigned int mib)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "xl mem-set %u %um >/dev/null 2>&1",
		 domid, mib);
	return system(cmd);
}

/*
 * Balloon down by 64 MiB under a cache that maps the top 128 MiB of the
 * guest's RAM: frames given back are served (as zeros) until
 * gm_xen_recheck(), which drops them; Xen then frees them (tot_pages
 * drops) and they fail with -EINVAL.  Balloon up again at the end.
 */
bool t_domain_balloon(struct ctx *c)
{
	struct gm_xen_options o = { .cache_bytes = 160u << 20,
				    .recheck_ms = GM_XEN_RECHECK_NEVER };
	struct gm_region_info info[GM_XEN_DOMAIN_MAX_REGIONS];
	struct gm_xen *x = NULL;
	struct gm_space *s = NULL;
	xc_domaininfo_t di;
	uint64_t lo, hi, a, tot0, einval = 0, stale = 0, v64;
	unsigned int orig_mib, wait;
	int dropped = 0, rc;
	ssize_t n, i, big = 0;

	REQUIRE(gm_xen_open(&x, &o) == 0);
	REQUIRE(dom_info(c->domid, &di) == 0);
	tot0 = di.tot_pages;
	orig_mib = (unsigned int)(tot0 * 4 / 1024);
	EXPECT_RC(gm_xen_space_open_domain(x, c->domid, 0, &s), 0);
	n = s ? gm_space_get_regions(s, info, ARRAY_SIZE(info)) : -1;
	REQUIRE(n >= 1);
	/* The largest region is the low RAM; its top 128 MiB, warm. */
	for (i = 1; i < n; i++)
		if (info[i].size > info[big].size)
			big = i;
	hi = info[big].gpa + info[big].size;
	lo = info[big].size > (128u << 20) ? hi - (128u << 20)
					   : info[big].gpa;
	diag("warm %#" PRIx64 "-%#" PRIx64, lo, hi - 1);
	for (a = lo; a < hi; a += PAGE)
		if (gm_read_u64(s, a, &v64))
			break;
	EXPECT(a == hi);
	rc = mem_set(c->domid, orig_mib - 64);
	EXPECT(rc == 0);
	/* Wait for the guest to give frames back: Xen says XTAB at once,
	 * which the recheck sees. */
	for (wait = 0; wait < 90 && !dropped; wait++) {
		sleep(1);
		dropped = gm_xen_recheck(x);
		if (dropped < 0)
			break;
	}
	EXPECT(dropped > 0);
	diag("after %u s, recheck dropped %d entries; stats drops %" PRIu64,
	     wait, dropped, stats(x).recheck_drops);
	/* Let the balloon finish, then drop the rest. */
	sleep(5);
	rc = gm_xen_recheck(x);
	EXPECT(rc >= 0);
	for (a = lo; a < hi; a += PAGE) {
		rc = gm_read_u64(s, a, &v64);
		if (rc == -EINVAL)
			einval++;
		else if (rc)
			break;
	}
	EXPECT(a == hi);
	/* A second recheck right away finds nothing more, unless the
	 * balloon was still going. */
	stale = (uint64_t)gm_xen_recheck(x);
	REQUIRE(dom_info(c->domid, &di) == 0);
	diag("given back: %" PRIu64 " of the warm pages fail with EINVAL; "
	     "tot_pages %" PRIu64 " (was %" PRIu64 "); late drops %" PRIu64,
	     einval, (uint64_t)di.tot_pages, tot0, stale);
	EXPECT(einval >= 4096);		/* most of 64 MiB came from there */
	EXPECT(di.tot_pages + 4096 <= tot0); /* released, not held */
	gm_space_free(s);
	gm_xen_close(x);
	/* Back to the guest's size (the pattern frames never moved: they
	 * are mlocked, which the balloon driver respects). */
	EXPECT(mem_set(c->domid, orig_mib) == 0);
	for (wait = 0; wait < 60; wait++) {
		if (dom_info(c->domid, &di) || di.tot_pages + 256 >= tot0)
			break;
		sleep(1);
	}
	diag("balloon up: tot_pages %" PRIu64 " after %u s",
	     (uint64_t)di.tot_pages, wait);
	return cur_ok;
}
