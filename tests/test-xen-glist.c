/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant-ref lists (gm_xen_grant_list_*), on the simulator (tests/xensim):
 * refs in any order mapped as one range whose pages, iovecs and view show
 * the granted frames in list order; writes through a read-write list
 * landing in the guest's frames and the guest's writes seen through the
 * list (a shared ring page, with the view's atomics); read-only lists of
 * read-only grants, and a read-write list of one refused with nothing
 * mapped; a bad ref in the middle of a list leaving nothing mapped, with
 * gm_last_error() naming it; unmapping releasing everything; a map call
 * that fails as a whole; bad arguments; a child after fork().  The
 * simulator's counters count the real calls and live mappings.
 *
 * Each test starts from a fresh simulator with one domain, DOMID, and must
 * leave nothing behind (tests/xen-fixture.c).
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xen-fixture.h"
#include "test-util.h"

#define RW (GM_PROT_READ | GM_PROT_WRITE)
#define RO GM_PROT_READ

/* A ref beyond the simulated grant table (GNTST_bad_gntref). */
#define REF_BEYOND (XENSIM_GNTTAB_ENTRIES + 5)

static uint64_t map_calls(void)
{
	return sim().calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS];
}

static uint64_t live_grant_pages(void)
{
	return sim().grant.live_pages;
}

static struct gm_xen_grant_list *list_map(struct gm_xen *x,
					  const uint32_t *refs,
					  unsigned int n, int prot)
{
	struct gm_xen_grant_list *l = NULL;
	int ret = gm_xen_grant_list_map(x, DOMID, refs, n, prot, &l);

	if (ret)
		print_error("gm_xen_grant_list_map: %d: %s\n", ret,
			    gm_last_error());
	assert_int_equal(ret, 0);
	assert_non_null(l);
	return l;
}

/* Check that page i of @l, through its address, its iovecs and its view,
 * is frame gfns[i] of the guest. */
static void check_pages(struct gm_xen_grant_list *l, const uint64_t *gfns,
			unsigned int n)
{
	const struct iovec *iov;
	struct gm_view v;
	uint8_t *p;
	size_t len;
	unsigned int i;
	uint32_t w;
	int niov;

	p = gm_xen_grant_list_addr(l, &len);
	assert_non_null(p);
	assert_int_equal(len, (size_t)n * PAGE);
	iov = gm_xen_grant_list_iov(l, &niov);
	assert_non_null(iov);
	assert_int_equal(niov, n);
	assert_int_equal(gm_xen_grant_list_view(l, &v), 0);
	assert_int_equal(v.gpa, 0);
	assert_int_equal(v.len, (uint64_t)n * PAGE);
	for (i = 0; i < n; i++) {
		assert_ptr_equal(iov[i].iov_base, p + (size_t)i * PAGE);
		assert_int_equal(iov[i].iov_len, PAGE);
		assert_memory_equal(p + (size_t)i * PAGE, gframe(gfns[i], 0),
				    PAGE);
		assert_memory_equal(iov[i].iov_base, gframe(gfns[i], 0), PAGE);
		assert_int_equal(gm_view_read_u32(&v, (uint64_t)i * PAGE + 40,
						  &w),
				 0);
		assert_int_equal(w, pattern(gfns[i], 40));
		assert_int_equal(gm_view_atomic_load_u32(
					 &v, (uint64_t)i * PAGE + PAGE - 4,
					 &w, GM_ACQUIRE),
				 0);
		assert_int_equal(w, pattern(gfns[i], PAGE - 4));
	}
	/* The view ends where the list does. */
	assert_int_equal(gm_view_read_u32(&v, (uint64_t)n * PAGE - 2, &w),
			 -EFAULT);
	gm_view_put(&v); /* a no-op: the list owns the mapping */
	assert_int_equal(live_grant_pages(), n);
}

/* ------------------------------------------------------------------ */
/* Data                                                                */
/* ------------------------------------------------------------------ */

/* Refs out of order, not consecutive, one of them twice, and one of a
 * grant made apart: page i is the frame of refs[i]. */
static void test_glist_order(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(300, 8, 1), lone = share(1000, 1, 1);
	uint32_t refs[7] = { r + 5, lone, r + 2, r + 7, r, r + 3, r + 5 };
	uint64_t gfns[7] = { 305, 1000, 302, 307, 300, 303, 305 };
	struct gm_xen_grant_list *l;
	struct gm_xen_stats st;
	uint8_t *p;

	(void)state;
	guest_fill(300, 8);
	guest_fill(1000, 1);
	l = list_map(x, refs, 7, RO);
	assert_int_equal(map_calls(), 1);
	assert_int_equal(sim().grant.live_mappings, 1);
	check_pages(l, gfns, 7);
	/* A mapping, not a copy: the guest's later writes show. */
	p = gm_xen_grant_list_addr(l, NULL);
	*(volatile uint32_t *)(void *)gframe(302, 8) = 0xfeedf00d;
	assert_int_equal(*(volatile uint32_t *)(void *)(p + 2 * PAGE + 8),
			 0xfeedf00d);
	st = xstats(x);
	assert_int_equal(st.map_calls, 1);
	assert_int_equal(st.pages_mapped, 7);
	assert_int_equal(st.mapped_bytes, 0); /* outside the cache */
	gm_xen_grant_list_unmap(l);
	assert_int_equal(live_grant_pages(), 0);
	assert_int_equal(sim().grant.unmaps, 1);
	assert_int_equal(xstats(x).unmap_calls, 1);
	gm_xen_close(x);
}

/* A read-write list: writes through the address, the iovecs and the view
 * (plain, typed and atomic) land in the guest's frames, as a backend's
 * responses on a shared ring page would. */
static void test_glist_write(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(40, 4, 1);
	uint32_t refs[3] = { r + 3, r + 1, r };
	struct gm_xen_grant_list *l;
	const struct iovec *iov;
	struct gm_view v;
	uint8_t *p;
	uint32_t old, exp;
	uint16_t prod;

	(void)state;
	l = list_map(x, refs, 3, RW);
	p = gm_xen_grant_list_addr(l, NULL);
	iov = gm_xen_grant_list_iov(l, NULL);
	assert_int_equal(gm_xen_grant_list_view(l, &v), 0);
	assert_int_equal(v.prot, RW);
	memset(p + 100, 0x5a, 20);
	assert_memory_equal(gframe(43, 100), p + 100, 20);
	assert_int_equal(*gframe(43, 100), 0x5a);
	memset((uint8_t *)iov[1].iov_base + PAGE - 1, 0xa5, 1);
	assert_int_equal(*gframe(41, PAGE - 1), 0xa5);
	assert_int_equal(gm_view_write_le32(&v, 2 * PAGE + 64, 0x11223344), 0);
	assert_int_equal(guest_u32(40, 64), 0x11223344);
	/* The ring's indexes: the guest produces, we consume and answer. */
	*(volatile uint16_t *)(void *)gframe(40, 0) = 7;
	assert_int_equal(gm_view_atomic_load_u16(&v, 2 * PAGE, &prod,
						 GM_ACQUIRE),
			 0);
	assert_int_equal(prod, 7);
	assert_int_equal(gm_view_atomic_fetch_add_u32(&v, 2 * PAGE + 4, 5,
						      &old, GM_SEQ_CST),
			 0);
	assert_int_equal(old, 0);
	assert_int_equal(guest_u32(40, 4), 5);
	exp = 5;
	assert_int_equal(gm_view_atomic_cmpxchg_u32(&v, 2 * PAGE + 4, &exp, 9,
						    GM_ACQ_REL),
			 1);
	assert_int_equal(guest_u32(40, 4), 9);
	gm_xen_grant_list_unmap(l);
	assert_int_equal(live_grant_pages(), 0);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Read-only grants                                                    */
/* ------------------------------------------------------------------ */

/* A read-only list of read-only grants maps (read-only at once: one map
 * call, which succeeds); its view refuses writes.  A read-write list of
 * them fails with -EINVAL, leaves nothing mapped, and says why. */
static void test_glist_readonly(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t ro = share(60, 2, 0), rw = share(70, 1, 1);
	uint32_t refs[3] = { rw, ro + 1, ro };
	uint64_t gfns[3] = { 70, 61, 60 };
	struct gm_xen_grant_list *l;
	struct gm_view v;

	(void)state;
	guest_fill(60, 2);
	guest_fill(70, 1);
	l = list_map(x, refs, 3, RO);
	assert_int_equal(map_calls(), 1);
	assert_int_equal(sim().failures[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS],
			 0);
	check_pages(l, gfns, 3);
	assert_int_equal(gm_xen_grant_list_view(l, &v), 0);
	assert_int_equal(v.prot, RO);
	assert_int_equal(gm_view_write_u32(&v, 0, 1), -EACCES);
	assert_int_equal(gm_view_atomic_store_u32(&v, 0, 1, GM_RELEASE),
			 -EACCES);
	gm_xen_grant_list_unmap(l);

	l = (struct gm_xen_grant_list *)&v; /* must be reset to NULL */
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 3, RW, &l),
			 -EINVAL);
	assert_null(l);
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(live_grant_pages(), 0);
	assert_error_has("domain 5");
	assert_error_has("read-only grant");
	assert_int_equal(xstats(x).failures, 1);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Refused refs                                                        */
/* ------------------------------------------------------------------ */

/* A bad ref in the middle of a list (never shared, beyond the table,
 * granted to another domain) fails it whole: nothing mapped, the error
 * -EINVAL, the message naming the domain and each bad ref by index. */
static void test_glist_bad_ref(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(10, 4, 1), other;
	uint32_t refs[6], unused = r + 100;
	struct gm_xen_grant_list *l;
	char want[64];

	(void)state;
	assert_int_equal(xensim_grant_share_to(DOMID, 77, 20, 1, &other), 0);
	refs[0] = r;
	refs[1] = r + 1;
	refs[2] = unused;
	refs[3] = r + 2;
	refs[4] = REF_BEYOND;
	refs[5] = other;
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 6, RO, &l),
			 -EINVAL);
	assert_null(l);
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(sim().grant.total_mappings, 0);
	assert_error_has("domain 5, 6 refs");
	assert_error_has("3 refs fail");
	snprintf(want, sizeof(want), "index 2 ref %u (", unused);
	assert_error_has(want);
	snprintf(want, sizeof(want), "index 4 ref %u (", REF_BEYOND);
	assert_error_has(want);
	snprintf(want, sizeof(want), "index 5 ref %u (", other);
	assert_error_has(want);
	/* The probe maps nothing and copies only into the library. */
	assert_int_equal(live_grant_pages(), 0);

	/* Only one ref bad, at the end: still nothing left mapped. */
	refs[2] = r + 3;
	refs[4] = r;
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 6, RW, &l),
			 -EINVAL);
	assert_int_equal(sim().grant.live_mappings, 0);
	snprintf(want, sizeof(want), "1 ref fails a grant copy too: index 5 "
				     "ref %u",
		 other);
	assert_error_has(want);

	/* A domain that does not exist: every ref, named up to four. */
	assert_int_equal(gm_xen_grant_list_map(x, NODOM, refs, 5, RO, &l),
			 -EINVAL);
	assert_error_has("domain 99, 5 refs");
	assert_error_has("5 refs fail");
	assert_error_has("index 3 ref");
	assert_error_has(", ...");
	assert_int_equal(sim().grant.live_mappings, 0);
	gm_xen_close(x);
}

/* A map call that fails as a whole (gntdev's limit: ENOMEM) gives its
 * errno, names the call, and does not probe with copies. */
static void test_glist_call_fails(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(10, 2, 1);
	uint32_t refs[2] = { r + 1, r };
	struct gm_xen_grant_list *l;

	(void)state;
	xensim_inject(XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS, 0, 1, ENOMEM);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 2, RO, &l),
			 -ENOMEM);
	assert_null(l);
	assert_error_has("xengnttab_map_domain_grant_refs failed");
	assert_error_has("domain 5, 2 refs");
	assert_int_equal(sim().calls[XENSIM_FN_GNT_GRANT_COPY], 0);
	assert_int_equal(sim().grant.live_mappings, 0);
	/* The next call works. */
	l = list_map(x, refs, 2, RO);
	gm_xen_grant_list_unmap(l);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Lifetime                                                            */
/* ------------------------------------------------------------------ */

/* Lists keep the context alive; each unmap releases exactly its own
 * mapping, with its page count (the simulator refuses anything else). */
static void test_glist_unmap(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(500, 16, 1);
	uint32_t a[16], b[3] = { r + 15, r + 3, r + 9 };
	struct gm_xen_grant_list *la, *lb, *lc;
	uint64_t gfns[3] = { 515, 503, 509 };
	unsigned int i;

	(void)state;
	guest_fill(500, 16);
	for (i = 0; i < 16; i++)
		a[i] = r + 15 - i;
	la = list_map(x, a, 16, RO);
	lb = list_map(x, b, 3, RW);
	lc = list_map(x, b, 1, RO);
	assert_int_equal(sim().grant.live_mappings, 3);
	assert_int_equal(live_grant_pages(), 20);
	gm_xen_close(x); /* the lists still hold it */
	assert_int_equal(sim().open_handles, 3);
	gm_xen_grant_list_unmap(lb);
	assert_int_equal(live_grant_pages(), 17);
	assert_int_equal(sim().grant.unmaps, 1);
	gm_xen_grant_list_unmap(la);
	assert_int_equal(live_grant_pages(), 1);
	check_pages(lc, gfns, 1);
	gm_xen_grant_list_unmap(lc);
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(sim().grant.unmaps, 3);
	/* The last list closed the handles. */
	assert_int_equal(sim().open_handles, 0);
	gm_xen_grant_list_unmap(NULL);
}

/* A child after fork() has no mapping (gntdev's are not inherited) and
 * may unmap the list, which frees it and leaves the parent's alone. */
static void test_glist_fork(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(30, 2, 1);
	uint32_t refs[2] = { r + 1, r };
	uint64_t gfns[2] = { 31, 30 };
	struct gm_xen_grant_list *l;
	int status;
	pid_t pid;

	(void)state;
	guest_fill(30, 2);
	l = list_map(x, refs, 2, RO);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The parent's gntdev file is not ours to unmap through. */
		gm_xen_grant_list_unmap(l);
		gm_xen_close(x);
		_exit(sim().calls[XENSIM_FN_GNT_UNMAP] == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	check_pages(l, gfns, 2);
	gm_xen_grant_list_unmap(l);
	gm_xen_close(x);
}

/* Threads map and unmap lists of one context at once. */
struct thr {
	struct gm_xen *x;
	uint32_t ref;
	int failed;
};

static void *map_loop(void *arg)
{
	struct thr *t = arg;
	uint32_t refs[4] = { t->ref + 3, t->ref, t->ref + 2, t->ref + 1 };
	struct gm_xen_grant_list *l;
	unsigned int i;

	for (i = 0; i < 50; i++) {
		if (gm_xen_grant_list_map(t->x, DOMID, refs, 4, RW, &l)) {
			t->failed = 1;
			break;
		}
		*(uint32_t *)gm_xen_grant_list_addr(l, NULL) = i;
		gm_xen_grant_list_unmap(l);
	}
	return NULL;
}

static void test_glist_threads(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	struct thr t[2] = {
		{ .x = x, .ref = share(100, 4, 1) },
		{ .x = x, .ref = share(200, 4, 1) },
	};
	pthread_t th[2];
	int i;

	(void)state;
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, map_loop, &t[i]),
				 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_false(t[i].failed);
	}
	assert_int_equal(guest_u32(103, 0), 49);
	assert_int_equal(guest_u32(203, 0), 49);
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(sim().grant.unmaps, 100);
	gm_xen_close(x);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

static void test_glist_bad_arguments(void **state)
{
	struct gm_xen *x = xen_open(0, 0);
	uint32_t r = share(0, GM_XEN_GRANT_LIST_MAX, 1);
	uint32_t *refs = calloc(GM_XEN_GRANT_LIST_MAX + 1, sizeof(*refs));
	struct gm_xen_grant_list *l, *junk = (struct gm_xen_grant_list *)&r;
	struct gm_view v;
	unsigned int i;
	size_t len = 1;
	int niov = 1;

	(void)state;
	assert_non_null(refs);
	for (i = 0; i <= GM_XEN_GRANT_LIST_MAX; i++)
		refs[i] = r + (i % GM_XEN_GRANT_LIST_MAX);
	l = junk;
	assert_int_equal(gm_xen_grant_list_map(NULL, DOMID, refs, 1, RO, &l),
			 -EINVAL);
	assert_null(l);
	assert_error_has("NULL argument");
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, NULL, 1, RO, &l),
			 -EINVAL);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 1, RO, NULL),
			 -EINVAL);
	l = junk;
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 0, RO, &l),
			 -EINVAL);
	assert_null(l);
	assert_error_has("0 refs: the count must be 1 .. "
			 "GM_XEN_GRANT_LIST_MAX (4096)");
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs,
					       GM_XEN_GRANT_LIST_MAX + 1, RO,
					       &l),
			 -EINVAL);
	assert_error_has("4097 refs");
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 1, 0, &l),
			 -EINVAL);
	assert_error_has("protection 0");
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 1,
					       GM_PROT_WRITE, &l),
			 -EINVAL);
	assert_error_has("protection 0x2");
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, refs, 1, RW | 4, &l),
			 -EINVAL);
	assert_int_equal(gm_xen_grant_list_map(x, 0x10005, refs, 1, RO, &l),
			 -EINVAL);
	assert_error_has("domain 65541 is above 0xffff");
	/* None of them reached Xen. */
	assert_int_equal(map_calls(), 0);
	assert_int_equal(xstats(x).map_calls, 0);

	/* The accessors with NULL. */
	assert_null(gm_xen_grant_list_addr(NULL, &len));
	assert_int_equal(len, 0);
	assert_null(gm_xen_grant_list_iov(NULL, &niov));
	assert_int_equal(niov, 0);
	memset(&v, 0xff, sizeof(v));
	assert_int_equal(gm_xen_grant_list_view(NULL, &v), -EINVAL);
	assert_null(v.hva);
	assert_int_equal(v.len, 0);

	/* The maximum is accepted. */
	l = list_map(x, refs, GM_XEN_GRANT_LIST_MAX, RO);
	assert_non_null(gm_xen_grant_list_iov(l, &niov));
	assert_int_equal(niov, GM_XEN_GRANT_LIST_MAX);
	assert_int_equal(gm_xen_grant_list_view(l, NULL), -EINVAL);
	assert_int_equal(live_grant_pages(), GM_XEN_GRANT_LIST_MAX);
	gm_xen_grant_list_unmap(l);
	free(refs);
	gm_xen_close(x);
}

/* Without gntdev, a list fails with the errno of xengnttab_open. */
static void test_glist_without_gntdev(void **state)
{
	struct gm_xen *x;
	struct gm_xen_grant_list *l;
	uint32_t ref = share(1, 1, 1);

	(void)state;
	xensim_inject(XENSIM_FN_GNT_OPEN, 0, 1, ENOENT);
	x = xen_open(0, 0);
	assert_int_equal(gm_xen_grant_list_map(x, DOMID, &ref, 1, RO, &l),
			 -ENOENT);
	assert_null(l);
	assert_error_has("libxengnttab could not be opened");
	gm_xen_close(x);
}

#define XEN_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		XEN_TEST(test_glist_order),
		XEN_TEST(test_glist_write),
		XEN_TEST(test_glist_readonly),
		XEN_TEST(test_glist_bad_ref),
		XEN_TEST(test_glist_call_fails),
		XEN_TEST(test_glist_unmap),
		XEN_TEST(test_glist_fork),
		XEN_TEST(test_glist_threads),
		XEN_TEST(test_glist_bad_arguments),
		XEN_TEST(test_glist_without_gntdev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
