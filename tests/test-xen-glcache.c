/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cached grant-ref lists (GM_XEN_GLIST_CACHED), on the simulator
 * (tests/xensim): a ref reused across lists mapped once; a read-only entry
 * upgraded to a writable one, and a writable entry serving read-only
 * lists; a bad ref in the middle leaving no new entry and no pin; pins
 * filling the budget (-ENOBUFS) and unpinned entries evicted with the data
 * still right; gm_xen_grant_list_purge() and gm_xen_invalidate(); the same
 * ref number in two domains; threads mapping overlapping lists; a child
 * after fork() freeing what it inherited without unmapping through the
 * parent's gntdev file.  The
 * simulator's counters count the real map calls and live mappings.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind (tests/xen-fixture.c).
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xen-fixture.h"
#include "test-util.h"

#define RW (GM_PROT_READ | GM_PROT_WRITE)
#define RO GM_PROT_READ
#define C GM_XEN_GLIST_CACHED

/* A ref beyond the simulated grant table (GNTST_bad_gntref). */
#define REF_BEYOND (XENSIM_GNTTAB_ENTRIES + 5)
/* A second guest. */
#define DOM2 6u

/* Xen map calls: cached lists map ref by ref. */
static uint64_t ref_maps(void)
{
	return sim().calls[XENSIM_FN_GNT_MAP_GRANT_REF];
}

static uint64_t live_pages(void)
{
	return sim().grant.live_pages;
}

static struct gm_xen_grant_list *cmap(struct gm_xen *x, uint32_t domid,
				      const uint32_t *refs, unsigned int n,
				      int prot)
{
	struct gm_xen_grant_list *l = NULL;
	int ret = gm_xen_grant_list_map(x, domid, refs, n, prot | C, &l);

	if (ret)
		print_error("gm_xen_grant_list_map: %d: %s\n", ret,
			    gm_last_error());
	assert_int_equal(ret, 0);
	assert_non_null(l);
	return l;
}

/* Page i of @l, through its iovecs, is frame gfns[i] of the guest. */
static void check_pages(struct gm_xen_grant_list *l, const uint64_t *gfns,
			unsigned int n)
{
	const struct iovec *iov;
	unsigned int i;
	int niov;

	iov = gm_xen_grant_list_iov(l, &niov);
	assert_non_null(iov);
	assert_int_equal(niov, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(iov[i].iov_len, PAGE);
		assert_memory_equal(iov[i].iov_base, gframe(gfns[i], 0), PAGE);
	}
}

static void *page_of(struct gm_xen_grant_list *l, unsigned int i)
{
	return gm_xen_grant_list_iov(l, NULL)[i].iov_base;
}

/* ------------------------------------------------------------------ */
/* Sharing                                                             */
/* ------------------------------------------------------------------ */

/* A ref named by several lists, or twice by one, is mapped once. */
static void test_glc_reuse(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(100, 16, 1);
	uint32_t a[4] = { r + 3, r, r + 7, r + 1 };
	uint32_t b[5] = { r + 7, r + 9, r + 3, r + 9, r + 8 };
	uint64_t ga[4] = { 103, 100, 107, 101 };
	uint64_t gb[5] = { 107, 109, 103, 109, 108 };
	struct gm_xen_grant_list *la, *lb, *l1;
	struct gm_xen_stats st;
	struct gm_view v;
	size_t len = 1;
	uint32_t w;

	(void)state;
	guest_fill(100, 16);
	la = cmap(x, DOMID, a, 4, RO);
	assert_int_equal(ref_maps(), 4);
	assert_int_equal(live_pages(), 4);
	check_pages(la, ga, 4);
	st = xstats(x);
	assert_int_equal(st.map_calls, 4);
	assert_int_equal(st.pages_mapped, 4);
	assert_int_equal(st.misses, 4);
	assert_int_equal(st.glist_hits, 0);
	assert_int_equal(st.mapped_bytes, 4 * PAGE);

	/* r + 7 and r + 3 are cached, r + 9 is mapped once for two pages. */
	lb = cmap(x, DOMID, b, 5, RO);
	assert_int_equal(ref_maps(), 6);
	assert_int_equal(live_pages(), 6);
	check_pages(lb, gb, 5);
	assert_ptr_equal(page_of(lb, 0), page_of(la, 2));
	assert_ptr_equal(page_of(lb, 2), page_of(la, 0));
	assert_ptr_equal(page_of(lb, 1), page_of(lb, 3));
	st = xstats(x);
	assert_int_equal(st.map_calls, 6);
	assert_int_equal(st.glist_hits, 3);
	assert_int_equal(st.mapped_bytes, 6 * PAGE);

	/* Not contiguous: no address, no view. */
	assert_null(gm_xen_grant_list_addr(la, &len));
	assert_int_equal(len, 0);
	assert_int_equal(gm_xen_grant_list_view(la, &v), -EINVAL);
	assert_error_has("not contiguous");
	assert_null(v.hva);

	/* One page is: address and view are the entry's. */
	l1 = cmap(x, DOMID, &b[1], 1, RO);
	assert_ptr_equal(gm_xen_grant_list_addr(l1, &len), page_of(lb, 1));
	assert_int_equal(len, PAGE);
	assert_int_equal(gm_xen_grant_list_view(l1, &v), 0);
	assert_int_equal(gm_view_read_u32(&v, 40, &w), 0);
	assert_int_equal(w, pattern(109, 40));
	gm_view_put(&v);
	assert_int_equal(ref_maps(), 6);

	/* Unmapping lists leaves the entries cached: a new list maps
	 * nothing. */
	gm_xen_grant_list_unmap(la);
	gm_xen_grant_list_unmap(lb);
	gm_xen_grant_list_unmap(l1);
	assert_int_equal(live_pages(), 6);
	assert_int_equal(sim().grant.unmaps, 0);
	la = cmap(x, DOMID, a, 4, RO);
	assert_int_equal(ref_maps(), 6);
	check_pages(la, ga, 4);
	gm_xen_grant_list_unmap(la);
	/* Closing the context unmaps them (teardown checks the leaks). */
	gm_xen_close(x);
	assert_int_equal(live_pages(), 0);
	assert_int_equal(sim().grant.unmaps, 6);
}

/* A read-only entry does not serve a writable list; the writable entry
 * replaces it and serves read-only lists. */
static void test_glc_upgrade(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(200, 2, 1);
	uint32_t refs[2] = { r, r + 1 };
	struct gm_xen_grant_list *ro, *rw, *ro2;
	uint32_t v = 0x5eed1234;

	(void)state;
	guest_fill(200, 2);
	ro = cmap(x, DOMID, refs, 1, RO);
	assert_int_equal(ref_maps(), 1);
	rw = cmap(x, DOMID, refs, 2, RW);
	/* r mapped again, writable, and r + 1. */
	assert_int_equal(ref_maps(), 3);
	assert_int_equal(live_pages(), 3);
	assert_ptr_not_equal(page_of(rw, 0), page_of(ro, 0));
	/* The read-only entry is gone from the cache but the list that
	 * pins it still reads the guest's page; its last unpin unmaps it. */
	memcpy((uint8_t *)page_of(rw, 0) + 16, &v, 4);
	assert_int_equal(guest_u32(200, 16), v);
	assert_memory_equal((uint8_t *)page_of(ro, 0) + 16, &v, 4);
	gm_xen_grant_list_unmap(ro);
	assert_int_equal(live_pages(), 2);
	assert_int_equal(xstats(x).mapped_bytes, 2 * PAGE);

	/* The writable entry serves a read-only list. */
	ro2 = cmap(x, DOMID, refs, 2, RO);
	assert_int_equal(ref_maps(), 3);
	assert_ptr_equal(page_of(ro2, 0), page_of(rw, 0));
	assert_ptr_equal(page_of(ro2, 1), page_of(rw, 1));
	gm_xen_grant_list_unmap(ro2);
	gm_xen_grant_list_unmap(rw);

	/* A writable list of a read-only grant fails; its read-only entry
	 * stays. */
	r = share(210, 1, 0);
	ro = cmap(x, DOMID, &r, 1, RO);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, &r, 1, RW | C, &rw),
			 -EINVAL);
	assert_null(rw);
	assert_int_equal(live_pages(), 3);
	gm_xen_grant_list_unmap(ro);
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), 0);
	assert_int_equal(live_pages(), 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	gm_xen_close(x);
}

/* All or nothing: a bad ref in the middle leaves no new entry and no
 * pin, and the error names it. */
static void test_glc_bad_ref(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(10, 4, 1);
	uint32_t refs[5] = { r, r + 1, r + 1, REF_BEYOND, r + 2 };
	struct gm_xen_grant_list *l0, *l;
	char want[80];

	(void)state;
	l0 = cmap(x, DOMID, refs, 1, RW);
	assert_int_equal(ref_maps(), 1);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 5, RW | C, &l),
			 -EINVAL);
	assert_null(l);
	assert_error_has("domain 5, 5 refs, read-write, cached");
	snprintf(want, sizeof(want), "ref %u (index 3) could not be mapped",
		 REF_BEYOND);
	assert_error_has(want);
	/* r was a hit, r + 1 mapped once, the bad ref tried; r + 2 not. */
	assert_int_equal(ref_maps(), 3);
	assert_int_equal(sim().failures[XENSIM_FN_GNT_MAP_GRANT_REF], 1);
	/* Only l0's entry is left, pinned by l0 alone. */
	assert_int_equal(live_pages(), 1);
	assert_int_equal(xstats(x).mapped_bytes, PAGE);
	assert_int_equal(xstats(x).failures, 1);
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), -EBUSY);
	gm_xen_grant_list_unmap(l0);
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), 0);
	assert_int_equal(live_pages(), 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);

	/* The whole list is fine once the bad ref is out. */
	refs[3] = r + 3;
	l = cmap(x, DOMID, refs, 5, RW);
	assert_int_equal(live_pages(), 4);
	gm_xen_grant_list_unmap(l);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Budget                                                              */
/* ------------------------------------------------------------------ */

/* Pins hold the budget: a list that needs more fails with -ENOBUFS
 * without a map call; unpinned, the entries are evicted. */
static void test_glc_budget_pins(void **state)
{
	struct gm_xen *x = xen_open(PAGE, 4 * PAGE);
	uint32_t r = share(300, 8, 1);
	uint32_t a[4] = { r, r + 1, r + 2, r + 3 };
	uint32_t b[4] = { r + 4, r + 5, r + 6, r + 7 };
	uint64_t gb[4] = { 304, 305, 306, 307 };
	struct gm_xen_grant_list *la, *lb;

	(void)state;
	guest_fill(300, 8);
	la = cmap(x, DOMID, a, 4, RO);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, b, 1, RO | C, &lb),
			 -ENOBUFS);
	assert_null(lb);
	assert_error_has("pin the whole cache budget");
	assert_int_equal(ref_maps(), 4);
	/* A cached ref needs no room. */
	lb = cmap(x, DOMID, a + 2, 2, RO);
	gm_xen_grant_list_unmap(lb);
	/* Partly cached: all or nothing, the cached refs' pins dropped. */
	b[0] = r;
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, b, 4, RO | C, &lb),
			 -ENOBUFS);
	b[0] = r + 4;
	gm_xen_grant_list_unmap(la);
	/* Nothing pinned now: the new list evicts the old entries. */
	lb = cmap(x, DOMID, b, 4, RO);
	check_pages(lb, gb, 4);
	assert_int_equal(xstats(x).evictions, 4);
	assert_int_equal(live_pages(), 4);
	assert_int_equal(xstats(x).mapped_bytes, 4 * PAGE);
	assert_int_equal(xstats(x).peak_mapped_bytes, 4 * PAGE);
	gm_xen_grant_list_unmap(lb);
	gm_xen_close(x);
}

/* Under budget pressure, entries come and go; what one list writes,
 * another reads, and the guest sees it. */
static void test_glc_evict_data(void **state)
{
	struct gm_xen *x = xen_open(PAGE, 8 * PAGE);
	uint32_t r = share(400, 32, 1);
	struct gm_xen_grant_list *w, *rd;
	unsigned int it, i, seed = 1;
	uint32_t refs[3], back[3], v;
	uint64_t gfn[3];

	(void)state;
	for (it = 0; it < 300; it++) {
		for (i = 0; i < 3; i++) {
			gfn[i] = 400 + (rand_r(&seed) % 32);
			refs[i] = r + (uint32_t)(gfn[i] - 400);
			back[2 - i] = refs[i];
		}
		w = cmap(x, DOMID, refs, 3, RW);
		for (i = 0; i < 3; i++) {
			v = it * 4 + i;
			memcpy((uint8_t *)page_of(w, i) + 4 * (it % 1024), &v,
			       4);
		}
		gm_xen_grant_list_unmap(w);
		rd = cmap(x, DOMID, back, 3, RO);
		for (i = 0; i < 3; i++) {
			/* A ref repeated in the list: the last write wins. */
			unsigned int k = 2;

			while (gfn[k] != gfn[i])
				k--;
			memcpy(&v, (uint8_t *)page_of(rd, 2 - i) +
					   4 * (it % 1024),
			       4);
			assert_int_equal(v, it * 4 + k);
			assert_int_equal(guest_u32(gfn[i], 4 * (it % 1024)),
					 it * 4 + k);
		}
		assert_memory_equal(page_of(rd, 0), gframe(gfn[2], 0), PAGE);
		gm_xen_grant_list_unmap(rd);
		assert_true(xstats(x).mapped_bytes <= 8 * PAGE);
		assert_true(live_pages() <= 8);
	}
	assert_true(xstats(x).evictions > 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Purge, invalidate, domains                                          */
/* ------------------------------------------------------------------ */

static void test_glc_purge(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(500, 4, 1);
	uint32_t a[2] = { r, r + 1 }, b[2] = { r + 2, r + 3 };
	struct gm_xen_grant_list *la, *lb;

	(void)state;
	la = cmap(x, DOMID, a, 2, RW);
	lb = cmap(x, DOMID, b, 2, RO);
	gm_xen_grant_list_unmap(lb);
	/* b's entries go; a's are pinned and stay. */
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), -EBUSY);
	assert_error_has("domain 5");
	assert_int_equal(live_pages(), 2);
	assert_int_equal(xstats(x).mapped_bytes, 2 * PAGE);
	/* Another domain's purge touches nothing. */
	assert_int_equal(gm_xen_grant_list_purge(x, DOM2), 0);
	assert_int_equal(live_pages(), 2);
	/* a still works, and is still cached. */
	lb = cmap(x, DOMID, a, 1, RO);
	assert_int_equal(ref_maps(), 4);
	gm_xen_grant_list_unmap(lb);
	gm_xen_grant_list_unmap(la);
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), 0);
	assert_int_equal(live_pages(), 0);
	assert_int_equal(sim().grant.unmaps, 4);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	assert_int_equal(xstats(x).unmap_calls, 4);
	/* Nothing left: 0 again. */
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), 0);
	assert_int_equal(gm_xen_grant_list_purge(NULL, DOMID), -EINVAL);
	gm_xen_close(x);
}

static void test_glc_invalidate(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(600, 4, 1);
	uint32_t a[2] = { r, r + 1 }, b[2] = { r + 2, r + 3 };
	struct gm_xen_grant_list *la, *lb;

	(void)state;
	guest_fill(600, 4);
	la = cmap(x, DOMID, a, 2, RO);
	lb = cmap(x, DOMID, b, 2, RO);
	gm_xen_grant_list_unmap(lb);
	/* Two entries pinned by la; b's unmapped now. */
	assert_int_equal(gm_xen_invalidate(x), 2);
	assert_int_equal(live_pages(), 2);
	/* la still reads the guest. */
	assert_memory_equal(page_of(la, 1), gframe(601, 0), PAGE);
	/* Unlinked: a new list maps a again. */
	lb = cmap(x, DOMID, a, 2, RO);
	assert_int_equal(ref_maps(), 6);
	assert_int_equal(live_pages(), 4);
	gm_xen_grant_list_unmap(la);
	assert_int_equal(live_pages(), 2);
	assert_int_equal(xstats(x).mapped_bytes, 2 * PAGE);
	gm_xen_grant_list_unmap(lb);
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_int_equal(live_pages(), 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	gm_xen_close(x);
}

/* The same ref number in two domains is two entries. */
static void test_glc_domains(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct gm_xen_grant_list *l1, *l2;
	uint32_t r1, r2;

	(void)state;
	assert_int_equal(xensim_domain_create(DOM2, 64, XENSIM_DOM_HVM), 0);
	r1 = share(700, 1, 1);
	assert_int_equal(xensim_grant_set_base(DOM2, r1), 0);
	assert_int_equal(xensim_grant_share(DOM2, 9, 1, &r2), 0);
	assert_int_equal(r1, r2);
	guest_fill(700, 1);
	memset(xensim_domain_mem(DOM2) + 9 * PAGE, 0xa5, PAGE);
	l1 = cmap(x, DOMID, &r1, 1, RO);
	l2 = cmap(x, DOM2, &r2, 1, RO);
	assert_int_equal(ref_maps(), 2);
	assert_memory_equal(page_of(l1, 0), gframe(700, 0), PAGE);
	assert_memory_equal(page_of(l2, 0), xensim_domain_mem(DOM2) + 9 * PAGE,
			    PAGE);
	gm_xen_grant_list_unmap(l1);
	gm_xen_grant_list_unmap(l2);
	/* Purging one domain leaves the other's. */
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), 0);
	assert_int_equal(live_pages(), 1);
	l2 = cmap(x, DOM2, &r2, 1, RO);
	assert_int_equal(ref_maps(), 2);
	gm_xen_grant_list_unmap(l2);
	assert_int_equal(gm_xen_grant_list_purge(x, DOM2), 0);
	assert_int_equal(live_pages(), 0);
	gm_xen_close(x);
}

/* A child frees cached lists, purges and closes: nothing of the
 * parent's is unmapped, and the parent's list and entries still work. */
static void test_glc_fork(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(750, 3, 1);
	uint32_t a[2] = { r + 1, r }, b = r + 2;
	uint64_t ga[2] = { 751, 750 };
	struct gm_xen_grant_list *l, *lb;
	int status;
	pid_t pid;

	(void)state;
	guest_fill(750, 3);
	l = cmap(x, DOMID, a, 2, RO);
	lb = cmap(x, DOMID, &b, 1, RO);
	gm_xen_grant_list_unmap(lb); /* cached, unpinned */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = gm_xen_grant_list_purge(x, DOMID) == -EBUSY;

		gm_xen_grant_list_unmap(l);
		ok &= gm_xen_grant_list_purge(x, DOMID) == 0;
		gm_xen_close(x);
		_exit(ok && sim().calls[XENSIM_FN_GNT_UNMAP] == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	check_pages(l, ga, 2);
	lb = cmap(x, DOMID, &b, 1, RO);
	assert_int_equal(ref_maps(), 3);
	assert_memory_equal(page_of(lb, 0), gframe(752, 0), PAGE);
	gm_xen_grant_list_unmap(lb);
	gm_xen_grant_list_unmap(l);
	assert_int_equal(live_pages(), 3);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

#define T_THREADS 4
#define T_REFS 24
#define T_ITERS 400

struct t_arg {
	struct gm_xen *x;
	uint32_t first_ref;
	unsigned int seed;
	int failed;
};

static void *t_main(void *p)
{
	struct t_arg *a = p;
	struct gm_xen_grant_list *l;
	uint32_t refs[3];
	unsigned int i, k;
	uint32_t v;

	for (i = 0; i < T_ITERS && !a->failed; i++) {
		for (k = 0; k < 3; k++)
			refs[k] = a->first_ref + rand_r(&a->seed) % T_REFS;
		if (gm_xen_grant_list_map(a->x, DOMID, refs, 3,
					  (i & 1 ? RW : RO) | C, &l)) {
			print_error("map: %s\n", gm_last_error());
			a->failed = 1;
			break;
		}
		for (k = 0; k < 3; k++) {
			uint64_t gfn = 800 + (refs[k] - a->first_ref);

			memcpy(&v, (uint8_t *)page_of(l, k) + 4 * (i % 1024),
			       4);
			if (v != pattern(gfn, 4 * (i % 1024)))
				a->failed = 1;
		}
		gm_xen_grant_list_unmap(l);
		if (i % 97 == 0)
			(void)gm_xen_grant_list_purge(a->x, DOMID);
	}
	return NULL;
}

/* Overlapping lists, read-only and writable, under budget pressure (12
 * pins at most in a budget of 16 pages), with purges. */
static void test_glc_threads(void **state)
{
	struct gm_xen *x = xen_open(PAGE, 16 * PAGE);
	struct t_arg a[T_THREADS];
	pthread_t t[T_THREADS];
	uint32_t r = share(800, T_REFS, 1);
	struct gm_xen_stats st;
	unsigned int i;

	(void)state;
	guest_fill(800, T_REFS);
	for (i = 0; i < T_THREADS; i++) {
		a[i] = (struct t_arg){ .x = x, .first_ref = r, .seed = i + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, t_main, &a[i]), 0);
	}
	for (i = 0; i < T_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].failed, 0);
	}
	st = xstats(x);
	assert_true(st.peak_mapped_bytes <= 16 * PAGE);
	assert_true(st.glist_hits > 0);
	assert_int_equal(st.mapped_bytes, live_pages() * PAGE);
	assert_int_equal(gm_xen_grant_list_purge(x, DOMID), 0);
	assert_int_equal(live_pages(), 0);
	assert_int_equal(xstats(x).mapped_bytes, 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

static void test_glc_bad_arguments(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(900, 1, 1);
	struct gm_xen_grant_list *l;

	(void)state;
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, &r, 1, C, &l),
			 -EINVAL);
	assert_error_has("protection 0x100");
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, &r, 1,
					       GM_PROT_WRITE | C, &l),
			 -EINVAL);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, &r, 1, RO | C | 0x200,
					       &l),
			 -EINVAL);
	assert_int_equal(gm_xen_grant_list_map(x, 0x10005, &r, 1, RO | C, &l),
			 -EINVAL);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, &r, 0, RO | C, &l),
			 -EINVAL);
	assert_int_equal(ref_maps(), 0);
	gm_xen_close(x);
}

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_glc_reuse),
		XEN_TEST(test_glc_upgrade),
		XEN_TEST(test_glc_bad_ref),
		XEN_TEST(test_glc_budget_pins),
		XEN_TEST(test_glc_evict_data),
		XEN_TEST(test_glc_purge),
		XEN_TEST(test_glc_invalidate),
		XEN_TEST(test_glc_domains),
		XEN_TEST(test_glc_fork),
		XEN_TEST(test_glc_threads),
		XEN_TEST(test_glc_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
