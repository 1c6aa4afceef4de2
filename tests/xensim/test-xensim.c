/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of the Xen simulator itself: each documented behaviour that the Xen
 * backend's tests rely on.  Faults are checked in forked children, which
 * set up their own mappings (ours are MADV_DONTFORK, as on Xen).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenctrl.h>

int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
			  xen_pfn_t *arr);
#include <xenforeignmemory.h>
#include <xengnttab.h>

#include "xensim/xensim.h"
#include "test-util.h"

#define PG XENSIM_PAGE_SIZE
#define DOM 7u
#define NPAGES 16u

/* ---- helpers ---- */

static int setup(void **state)
{
	(void)state;
	return xensim_domain_create(DOM, NPAGES, XENSIM_DOM_HVM);
}

/* Every test but the leak tests must leave nothing behind. */
static int teardown(void **state)
{
	(void)state;
	return xensim_reset(NULL) == 0 ? 0 : -1;
}

static int teardown_leaky(void **state)
{
	(void)state;
	xensim_reset(NULL);
	return 0;
}

static uint8_t *guest(void)
{
	return xensim_domain_mem(DOM);
}

static struct xensim_counters counters(void)
{
	struct xensim_counters c;

	xensim_get_counters(&c);
	return c;
}

/*
 * Run @fn in a child.  Returns the signal that killed it, or -(exit code)
 * if it exited (so 0 means it returned normally).
 */
static int in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka catches these to report a failure: die of them. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return -WEXITSTATUS(status);
}

static void touch_read(volatile uint8_t *p)
{
	(void)*p;
}

static void touch_write(volatile uint8_t *p)
{
	*p = 0x5a;
}

/* ---- foreign mapping ---- */

static void test_foreign_map_aliases(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[3] = { 3, 3, 4 };
	int err[3] = { -1, -1, -1 };
	uint8_t *a, *b;

	(void)state;
	assert_non_null(fm);
	a = xenforeignmemory_map(fm, DOM, PROT_READ | PROT_WRITE, 3, arr, err);
	assert_non_null(a);
	assert_int_equal(err[0], 0);
	assert_int_equal(err[1], 0);
	assert_int_equal(err[2], 0);
	/* Two pages of one mapping, and a second mapping, share the frame. */
	b = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	assert_non_null(b);
	a[10] = 0x11;
	assert_int_equal(a[PG + 10], 0x11);
	assert_int_equal(b[10], 0x11);
	assert_int_equal(guest()[3 * PG + 10], 0x11);
	/* The guest's writes are seen, and frames are where they belong. */
	guest()[4 * PG + 1] = 0x22;
	assert_int_equal(a[2 * PG + 1], 0x22);
	assert_int_equal(xenforeignmemory_unmap(fm, b, 1), 0);
	assert_int_equal(xenforeignmemory_unmap(fm, a, 3), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_map_err_negative(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[3] = { 0, NPAGES + 100, 2 };
	int err[3];
	uint8_t *p;

	(void)state;
	xensim_frame_set_error(DOM, 2, -EFAULT, -1);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 3, arr, err);
	/* A pointer comes back although pages failed: check err[] always. */
	assert_non_null(p);
	assert_int_equal(err[0], 0);
	assert_int_equal(err[1], -EINVAL);
	assert_int_equal(err[2], -EFAULT);
	assert_int_equal(counters().page_errors, 2);
	assert_int_equal(counters().foreign.live_pages, 3);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 3), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void child_touch_failed_page(void *arg)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[2] = { 1, NPAGES };
	int err[2];
	uint8_t *p;

	(void)arg;
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, err);
	if (!p || err[0] || err[1] != -EINVAL)
		_exit(2);
	touch_read(p);		/* fine */
	touch_read(p + PG);	/* faults */
	_exit(3);
}

static void test_foreign_map_failed_page_faults(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_touch_failed_page, NULL), SIGBUS);
}

static void test_foreign_map_all_or_nothing(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[3] = { 0, 1, NPAGES };

	(void)state;
	xensim_frame_set_error(DOM, 1, -ENOENT, -1);
	errno = 0;
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 3, arr, NULL));
	/* The first failure, as a positive errno. */
	assert_int_equal(errno, ENOENT);
	assert_int_equal(counters().foreign.live_mappings, 0);
	assert_int_equal(counters().failures[XENSIM_FN_FMEM_MAP], 1);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_map_unknown_domain(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[2] = { 0, 1 };
	int err[2];
	uint8_t *p;

	(void)state;
	p = xenforeignmemory_map(fm, 99, PROT_READ, 2, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], -ESRCH);
	assert_int_equal(err[1], -ESRCH);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), 0);
	errno = 0;
	assert_null(xenforeignmemory_map(fm, 99, PROT_READ, 2, arr, NULL));
	assert_int_equal(errno, ESRCH);
	/* A dying domain is as good as gone. */
	xensim_domain_set_flags(DOM, XENSIM_DOM_DYING);
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, NULL));
	assert_int_equal(errno, ESRCH);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_map_self(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 0 };
	int err[1];
	uint8_t *p;

	(void)state;
	/* Even if dom0 has simulated memory, it cannot map itself. */
	assert_int_equal(xensim_domain_create(0, 4, 0), 0);
	p = xenforeignmemory_map(fm, 0, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], -ESRCH);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	p = xenforeignmemory_map(fm, DOMID_SELF, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], -ESRCH);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	/* A caller in another domain can map domain 0 and not itself. */
	xensim_set_caller(DOM);
	p = xenforeignmemory_map(fm, 0, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], 0);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL));
	assert_int_equal(errno, ESRCH);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void child_write_readonly(void *arg)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 5 };
	uint8_t *p;

	(void)arg;
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	if (!p)
		_exit(2);
	touch_read(p);
	touch_write(p);
	_exit(3);
}

static void test_foreign_map_honours_prot(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_write_readonly, NULL), SIGSEGV);
}

static void test_foreign_map_bad_args(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 0 };
	int err[1];

	(void)state;
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 0, arr, err));
	assert_int_equal(errno, EINVAL);
	assert_null(xenforeignmemory_map(fm, DOM, PROT_EXEC, 1, arr, err));
	assert_int_equal(errno, EINVAL);
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 1, NULL, err));
	assert_int_equal(errno, EINVAL);
	assert_null(xenforeignmemory_map2(fm, DOM, NULL, PROT_READ, MAP_FIXED,
					  1, arr, err));
	assert_int_equal(errno, EINVAL);
	assert_null(xenforeignmemory_open(NULL, 1));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(counters().foreign.live_mappings, 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_map2(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[2] = { 8, 9 };
	int err[2];
	uint8_t *p;

	(void)state;
	guest()[9 * PG] = 0x99;
	p = xenforeignmemory_map2(fm, DOM, NULL, PROT_READ, 0, 2, arr, err);
	assert_non_null(p);
	assert_int_equal(p[PG], 0x99);
	assert_int_equal(counters().calls[XENSIM_FN_FMEM_MAP2], 1);
	assert_int_equal(counters().calls[XENSIM_FN_FMEM_MAP], 0);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_unmap_unknown_range(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xenforeignmemory_handle *other = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[2] = { 0, 1 };
	uint8_t *p;

	(void)state;
	p = xenforeignmemory_map(fm, DOM, PROT_READ | PROT_WRITE, 2, arr,
				 NULL);
	assert_non_null(p);
	/* Wrong count, inside the range, never mapped, another handle. */
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, p + PG, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, guest(), 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, NULL, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_unmap(other, p, 2), -1);
	assert_int_equal(errno, EINVAL);
	/* Nothing was unmapped. */
	p[PG] = 1;
	assert_int_equal(counters().foreign.live_pages, 2);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), 0);
	/* And not twice. */
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_close(other), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_paged_out_retry(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 6 };
	int err[1], i;
	uint8_t *p;

	(void)state;
	assert_int_equal(xensim_frame_set_error(DOM, 6, -ENOENT, 2), 0);
	for (i = 0; i < 2; i++) {
		p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
		assert_non_null(p);
		assert_int_equal(err[0], -ENOENT);
		assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	}
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], 0);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_foreign_frame_revoke_blocks_new_maps(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 2 };
	int err[1];
	uint8_t *p;

	(void)state;
	assert_int_equal(xensim_frame_revoke(DOM, 2), 0);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], -EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	assert_int_equal(xensim_frame_restore(DOM, 2), 0);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], 0);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void child_revoke_foreign(void *arg)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[2] = { 3, 4 };
	int err[2];
	uint8_t *p, *q;

	(void)arg;
	p = xenforeignmemory_map(fm, DOM, PROT_READ | PROT_WRITE, 2, arr, err);
	q = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	if (!p || !q || err[0])
		_exit(2);
	touch_write(p);
	if (xensim_frame_revoke(DOM, 3))
		_exit(4);
	/* Every mapping lost the page; the other page lives on. */
	touch_write(p + PG);
	if (p[PG] != 0x5a)
		_exit(5);
	if (*(const char *)arg == 'q')
		touch_read(q);
	else
		touch_read(p);
	_exit(3);
}

static void test_foreign_revoke_faults(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_revoke_foreign, "p"), SIGBUS);
	assert_int_equal(in_child(child_revoke_foreign, "q"), SIGBUS);
}

static void child_destroyed_domain(void *arg)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 0 };
	uint8_t *p;

	(void)arg;
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	if (!p || xensim_domain_destroy(DOM))
		_exit(2);
	/* The mapping is still ours to unmap, but its page is gone. */
	if (xenforeignmemory_unmap(fm, p, 1))
		_exit(4);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	if (p || errno != ESRCH)
		_exit(5);
	xensim_domain_create(DOM, 1, 0);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	if (!p || xensim_domain_destroy(DOM))
		_exit(6);
	touch_read(p);
	_exit(3);
}

static void test_foreign_domain_destroy_faults(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_destroyed_domain, NULL), SIGBUS);
}

/* ---- handles ---- */

static void test_handles_null_and_closed(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xc_interface *xc = xc_interface_open(NULL, NULL, 0);
	xen_pfn_t arr[1] = { 0 };
	xen_pfn_t gpfn;
	uint32_t ref = XENSIM_GREF_BASE;

	(void)state;
	assert_null(xenforeignmemory_map(NULL, DOM, PROT_READ, 1, arr, NULL));
	assert_int_equal(errno, EBADF);
	assert_null(xengnttab_map_grant_ref(NULL, DOM, ref, PROT_READ));
	assert_int_equal(errno, EBADF);
	assert_int_equal(xc_domain_maximum_gpfn(NULL, DOM, &gpfn), -1);
	assert_int_equal(errno, EBADF);
	/* Handles of the wrong kind are not handles. */
	assert_null(xenforeignmemory_map((void *)gt, DOM, PROT_READ, 1, arr,
					 NULL));
	assert_int_equal(errno, EBADF);
	/* Close(NULL) is allowed, as in the real libraries. */
	assert_int_equal(xenforeignmemory_close(NULL), 0);
	assert_int_equal(xengnttab_close(NULL), 0);
	assert_int_equal(xc_interface_close(NULL), 0);
	assert_int_equal(counters().open_handles, 3);

	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xengnttab_close(gt), 0);
	assert_int_equal(xc_interface_close(xc), 0);
	/* Closed handles are caught, not used after free. */
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL));
	assert_int_equal(errno, EBADF);
	assert_null(xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ));
	assert_int_equal(errno, EBADF);
	assert_int_equal(xc_domain_maximum_gpfn(xc, DOM, &gpfn), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(xenforeignmemory_close(fm), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(counters().open_handles, 0);
}

static void test_close_with_live_mappings_leaks(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xen_pfn_t arr[2] = { 0, 1 };
	uint32_t ref;
	struct xensim_counters c;

	(void)state;
	assert_int_equal(xensim_grant_share(DOM, 3, 1, &ref), 0);
	assert_non_null(xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, NULL));
	assert_non_null(xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ));
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xengnttab_close(gt), 0);
	c = counters();
	assert_int_equal(c.all.live_mappings, 0);
	assert_int_equal(c.all.live_pages, 0);
	assert_int_equal(c.foreign.leaked_mappings, 1);
	assert_int_equal(c.foreign.leaked_pages, 2);
	assert_int_equal(c.grant.leaked_mappings, 1);
	assert_int_equal(c.all.leaked_mappings, 2);
	assert_int_equal(c.all.unmaps, 0);
	assert_int_equal(xensim_reset(&c), 2);
	assert_int_equal(c.leaked_handles, 0);
}

static void test_reset_reports_leaks(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint32_t ref;
	struct xensim_counters c;

	(void)state;
	assert_non_null(xc_interface_open(NULL, NULL, 0));
	assert_int_equal(xensim_grant_share(DOM, 0, 1, &ref), 0);
	assert_non_null(xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ));
	/* One mapping, two handles. */
	assert_int_equal(xensim_reset(&c), 3);
	assert_int_equal(c.grant.leaked_mappings, 1);
	assert_int_equal(c.leaked_handles, 2);
	assert_int_equal(c.open_handles, 0);
	/* Everything is gone: the handle is stale, the domain destroyed. */
	assert_null(xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ));
	assert_int_equal(errno, EBADF);
	assert_null(xensim_domain_mem(DOM));
	assert_int_equal(xensim_reset(NULL), 0);
}

static void child_uses_parent_handle(void *arg)
{
	xenforeignmemory_handle *fm = arg;
	xen_pfn_t arr[1] = { 0 };

	if (xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL) ||
	    errno != EBADF)
		_exit(2);
	if (xenforeignmemory_close(fm))
		_exit(4);
	_exit(0);
}

static void child_touches_parent_mapping(void *arg)
{
	touch_read(arg);
	_exit(3);
}

static void test_fork_child_has_no_mappings(void **state)
{
	xenforeignmemory_handle *fm;
	xen_pfn_t arr[1] = { 0 };
	uint8_t *p;

	(void)state;
	skip_if_emulated(EMU_MADVISE);
	fm = xenforeignmemory_open(NULL, 0);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	assert_non_null(p);
	assert_int_equal(in_child(child_uses_parent_handle, fm), 0);
	assert_int_equal(in_child(child_touches_parent_mapping, p), SIGSEGV);
	/* The parent is unaffected. */
	touch_read(p);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

/* ---- injection and counters ---- */

static void test_inject_fails_nth_calls(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 0 };
	int err[1] = { 12345 };
	uint8_t *p;
	int i;

	(void)state;
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP, 1, 2, ENOMEM), 0);
	for (i = 0; i < 4; i++) {
		errno = 0;
		p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
		if (i == 1 || i == 2) {
			assert_null(p);
			assert_int_equal(errno, ENOMEM);
			continue;
		}
		assert_non_null(p);
		assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	}
	/* map2 is another function: not affected. */
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP, 0, 1, EINTR), 0);
	p = xenforeignmemory_map2(fm, DOM, NULL, PROT_READ, 0, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	xensim_inject_clear();
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);

	assert_int_equal(counters().calls[XENSIM_FN_FMEM_MAP], 5);
	assert_int_equal(counters().failures[XENSIM_FN_FMEM_MAP], 2);
	assert_int_equal(counters().injected[XENSIM_FN_FMEM_MAP], 2);
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xensim_inject(XENSIM_FN_COUNT, 0, 1, EIO), -EINVAL);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP, 0, 1, -EIO),
			 -EINVAL);
	assert_string_equal(xensim_fn_name(XENSIM_FN_GNT_GRANT_COPY),
			    "xengnttab_grant_copy");
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux >= 4.17 */
#endif

/* Whether anything is mapped over [p, p + len): 1, or 0 for a hole. */
static int occupied(void *p, size_t len)
{
	void *q = mmap(p, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		       0);

	if (q == p) {
		assert_int_equal(munmap(q, len), 0);
		return 0;
	}
	/* Valgrind takes the flag for a hint: elsewhere means taken. */
	if (q != MAP_FAILED)
		assert_int_equal(munmap(q, len), 0);
	else
		assert_int_equal(errno, EEXIST);
	return 1;
}

/* A failed MAP_FIXED map leaves a hole, or with
 * xensim_set_fail_keeps_range(1) the caller's range as it was. */
static void test_foreign_fail_keeps_range(void **state)
{
	xenforeignmemory_handle *fm;
	xen_pfn_t arr[2] = { 1, 2 };
	int err[2], keep;
	uint8_t *res;

	(void)state;
	for (keep = 0; keep < 3; keep++) {
		/* The third round: xensim_reset() went back to holes. */
		if (keep == 2) {
			xensim_set_fail_keeps_range(1);
			assert_int_equal(xensim_reset(NULL), 0);
			assert_int_equal(xensim_domain_create(DOM, NPAGES,
							      XENSIM_DOM_HVM),
					 0);
		} else {
			xensim_set_fail_keeps_range(keep);
		}
		fm = xenforeignmemory_open(NULL, 0);
		res = mmap(NULL, 2 * PG, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		assert_true(res != MAP_FAILED);
		assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1,
					       ENOMEM),
				 0);
		assert_null(xenforeignmemory_map2(fm, DOM, res, PROT_READ,
						  MAP_FIXED, 2, arr, err));
		assert_int_equal(occupied(res, 2 * PG), keep == 1);
		/* A failure after the checks, likewise. */
		assert_null(xenforeignmemory_map2(fm, DOM, res, PROT_READ | 4,
						  MAP_FIXED, 2, arr, err));
		assert_int_equal(occupied(res, 2 * PG), keep == 1);
		munmap(res, 2 * PG);
		assert_int_equal(xenforeignmemory_close(fm), 0);
	}
}

/* The map hook runs first in every map call, outside the lock. */
static enum xensim_fn hooked[8];
static unsigned int nhooked;
static uint64_t calls_in_hook;

static void record_map(enum xensim_fn fn)
{
	if (nhooked < 8)
		hooked[nhooked++] = fn;
	/* Would deadlock if the lock were held; shows the call is not
	 * counted yet, i.e. nothing of it ran before the hook. */
	calls_in_hook = counters().calls[fn];
}

static void test_map_hook(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xengnttab_handle *xgt = xengnttab_open(NULL, 0);
	xen_pfn_t arr[1] = { 3 };
	uint32_t ref, dom = DOM;
	int err[1];
	void *p;

	(void)state;
	assert_int_equal(xensim_grant_share(DOM, 4, 1, &ref), 0);
	xensim_set_map_hook(record_map);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(calls_in_hook, 0);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	p = xenforeignmemory_map2(fm, DOM, NULL, PROT_READ, 0, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	p = xengnttab_map_grant_ref(xgt, DOM, ref, PROT_READ);
	assert_non_null(p);
	assert_int_equal(xengnttab_unmap(xgt, p, 1), 0);
	p = xengnttab_map_grant_refs(xgt, 1, &dom, &ref, PROT_READ);
	assert_non_null(p);
	assert_int_equal(xengnttab_unmap(xgt, p, 1), 0);
	p = xengnttab_map_domain_grant_refs(xgt, 1, DOM, &ref, PROT_READ);
	assert_non_null(p);
	assert_int_equal(xengnttab_unmap(xgt, p, 1), 0);
	/* Even a call that fails at once. */
	assert_null(xenforeignmemory_map(NULL, DOM, PROT_READ, 1, arr, err));
	assert_int_equal(nhooked, 6);
	assert_int_equal(hooked[0], XENSIM_FN_FMEM_MAP);
	assert_int_equal(hooked[1], XENSIM_FN_FMEM_MAP2);
	assert_int_equal(hooked[2], XENSIM_FN_GNT_MAP_GRANT_REF);
	assert_int_equal(hooked[3], XENSIM_FN_GNT_MAP_GRANT_REFS);
	assert_int_equal(hooked[4], XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS);
	assert_int_equal(hooked[5], XENSIM_FN_FMEM_MAP);
	assert_int_equal(calls_in_hook, 1);
	/* Unmaps and the rest are not hooked; a reset clears the hook. */
	assert_int_equal(xengnttab_close(xgt), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xensim_reset(NULL), 0);
	assert_int_equal(xensim_domain_create(DOM, NPAGES, XENSIM_DOM_HVM), 0);
	fm = xenforeignmemory_open(NULL, 0);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, err);
	assert_non_null(p);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 1), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(nhooked, 6);
}

static void test_inject_open_and_close(void **state)
{
	xengnttab_handle *gt;

	(void)state;
	xensim_inject(XENSIM_FN_GNT_OPEN, 0, 1, EACCES);
	assert_null(xengnttab_open(NULL, 0));
	assert_int_equal(errno, EACCES);
	gt = xengnttab_open(NULL, 0);
	assert_non_null(gt);
	/* A failed close still closes. */
	xensim_inject(XENSIM_FN_GNT_CLOSE, 0, 1, EIO);
	assert_int_equal(xengnttab_close(gt), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(counters().open_handles, 0);
	xensim_inject(XENSIM_FN_XC_OPEN, 0, 1, EPERM);
	assert_null(xc_interface_open(NULL, NULL, 0));
	assert_int_equal(errno, EPERM);
}

static void test_counters(void **state)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xen_pfn_t arr[4] = { 0, 1, 2, 3 };
	uint32_t ref;
	uint8_t *a, *b, *g;
	struct xensim_counters c;

	(void)state;
	assert_int_equal(xensim_grant_share_range(DOM, 4, 2, 1, &ref), 0);
	a = xenforeignmemory_map(fm, DOM, PROT_READ, 4, arr, NULL);
	b = xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, NULL);
	g = xengnttab_map_domain_grant_refs(gt, 2, DOM,
					    (uint32_t[]){ ref, ref + 1 },
					    PROT_READ);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(g);
	c = counters();
	assert_int_equal(c.foreign.live_mappings, 2);
	assert_int_equal(c.foreign.live_pages, 6);
	assert_int_equal(c.grant.live_pages, 2);
	assert_int_equal(c.all.live_pages, 8);
	assert_int_equal(c.all.peak_live_pages, 8);
	assert_int_equal(xenforeignmemory_unmap(fm, a, 4), 0);
	assert_int_equal(xengnttab_unmap(gt, g, 2), 0);
	c = counters();
	assert_int_equal(c.all.live_pages, 2);
	assert_int_equal(c.all.peak_live_pages, 8);
	assert_int_equal(c.foreign.peak_live_pages, 6);
	assert_int_equal(c.foreign.total_mappings, 2);
	assert_int_equal(c.foreign.total_pages, 6);
	assert_int_equal(c.foreign.unmaps, 1);
	assert_int_equal(c.grant.unmaps, 1);
	assert_int_equal(c.all.unmaps, 2);
	/* Zeroing keeps what is live. */
	xensim_reset_counters();
	c = counters();
	assert_int_equal(c.calls[XENSIM_FN_FMEM_MAP], 0);
	assert_int_equal(c.all.total_pages, 0);
	assert_int_equal(c.all.live_pages, 2);
	assert_int_equal(c.all.peak_live_pages, 2);
	assert_int_equal(c.open_handles, 2);
	assert_int_equal(xenforeignmemory_unmap(fm, b, 2), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xengnttab_close(gt), 0);
}

struct thread_arg {
	xenforeignmemory_handle *fm;
	unsigned int seed;
	int failures;
};

static void *thread_map_loop(void *p)
{
	struct thread_arg *t = p;
	int i;

	for (i = 0; i < 200; i++) {
		xen_pfn_t arr[2] = { (t->seed + i) % NPAGES,
				     (t->seed + 3 * i) % NPAGES };
		int err[2];
		uint8_t *m;

		m = xenforeignmemory_map(t->fm, DOM, PROT_READ, 2, arr, err);
		if (!m || err[0] || err[1] ||
		    m[0] != guest()[arr[0] * PG] ||
		    xenforeignmemory_unmap(t->fm, m, 2))
			t->failures++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct thread_arg args[4];
	pthread_t th[4];
	struct xensim_counters c;
	unsigned int i;

	(void)state;
	for (i = 0; i < NPAGES; i++)
		guest()[i * PG] = (uint8_t)(i + 1);
	for (i = 0; i < 4; i++) {
		args[i].fm = xenforeignmemory_open(NULL, 0);
		args[i].seed = i;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, thread_map_loop,
						&args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
		assert_int_equal(xenforeignmemory_close(args[i].fm), 0);
	}
	c = counters();
	assert_int_equal(c.calls[XENSIM_FN_FMEM_MAP], 800);
	assert_int_equal(c.foreign.total_pages, 1600);
	assert_int_equal(c.foreign.unmaps, 800);
	assert_int_equal(c.foreign.live_pages, 0);
	assert_true(c.foreign.peak_live_pages >= 2);
	assert_true(c.foreign.peak_live_pages <= 8);
}

/* ---- grants ---- */

static void test_grant_refs_consecutive(void **state)
{
	uint32_t a, b, c;

	(void)state;
	assert_int_equal(xensim_grant_share(DOM, 0, 1, &a), 0);
	assert_int_equal(a, XENSIM_GREF_BASE);
	assert_int_equal(xensim_grant_share_range(DOM, 1, 3, 0, &b), 0);
	assert_int_equal(b, a + 1);
	assert_int_equal(xensim_grant_set_base(DOM, 100), 0);
	assert_int_equal(xensim_grant_share(DOM, 0, 1, &c), 0);
	assert_int_equal(c, 100);
	/* Never backwards over refs in use. */
	assert_int_equal(xensim_grant_set_base(DOM, 50), -EINVAL);
	assert_int_equal(xensim_grant_share(DOM, NPAGES, 1, &c), -EINVAL);
	assert_int_equal(xensim_grant_share(99, 0, 1, &c), -ESRCH);
	assert_int_equal(xensim_grant_share_range(DOM, NPAGES - 1, 2, 1, &c),
			 -EINVAL);
	assert_int_equal(xensim_grant_revoke(DOM, 99), -ENOENT);
}

static void test_grant_map_aliases(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 5 };
	uint32_t ref, refs[3], doms[3] = { DOM, DOM, DOM };
	uint8_t *g, *one, *f;

	(void)state;
	assert_int_equal(xensim_grant_share_range(DOM, 4, 2, 1, &ref), 0);
	refs[0] = ref + 1;	/* gfn 5 */
	refs[1] = ref;		/* gfn 4 */
	refs[2] = ref + 1;	/* gfn 5 again */
	g = xengnttab_map_grant_refs(gt, 3, doms, refs,
				     PROT_READ | PROT_WRITE);
	assert_non_null(g);
	one = xengnttab_map_grant_ref(gt, DOM, ref + 1, PROT_READ);
	assert_non_null(one);
	f = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	assert_non_null(f);
	g[7] = 0x77;
	assert_int_equal(g[2 * PG + 7], 0x77);
	assert_int_equal(one[7], 0x77);
	assert_int_equal(f[7], 0x77);
	assert_int_equal(guest()[5 * PG + 7], 0x77);
	guest()[4 * PG] = 0x44;
	assert_int_equal(g[PG], 0x44);
	assert_int_equal(xengnttab_unmap(gt, one, 1), 0);
	assert_int_equal(xengnttab_unmap(gt, g, 3), 0);
	assert_int_equal(xenforeignmemory_unmap(fm, f, 1), 0);
	assert_int_equal(xengnttab_close(gt), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void child_write_ro_grant(void *arg)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint8_t *p;

	p = xengnttab_map_grant_ref(gt, DOM, *(uint32_t *)arg, PROT_READ);
	if (!p)
		_exit(2);
	touch_read(p);
	touch_write(p);
	_exit(3);
}

static void test_grant_readonly_refuses_write(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint32_t ro, rw;
	uint8_t *p;

	(void)state;
	assert_int_equal(xensim_grant_share(DOM, 1, 0, &ro), 0);
	assert_int_equal(xensim_grant_share(DOM, 2, 1, &rw), 0);
	errno = 0;
	assert_null(xengnttab_map_grant_ref(gt, DOM, ro,
					    PROT_READ | PROT_WRITE));
	assert_int_equal(errno, EINVAL);
	/* All or nothing: the writable one in the batch is not mapped. */
	assert_null(xengnttab_map_domain_grant_refs(gt, 2, DOM,
						    (uint32_t[]){ rw, ro },
						    PROT_READ | PROT_WRITE));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(counters().grant.live_mappings, 0);
	p = xengnttab_map_grant_ref(gt, DOM, ro, PROT_READ);
	assert_non_null(p);
	assert_int_equal(xengnttab_unmap(gt, p, 1), 0);
	assert_int_equal(in_child(child_write_ro_grant, &ro), SIGSEGV);
	assert_int_equal(xengnttab_close(gt), 0);
}

/*
 * xengnttab_map_domain_grant_refs, as grant-ref lists use it: page i is the
 * frame of refs[i] whatever the order; a bad ref anywhere in the list, or
 * a read-only grant in a writable one, fails the whole call with EINVAL
 * and maps nothing; the mapping unmaps only with its own count.
 */
static void test_grant_domain_refs_list(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint32_t r, ro, refs[5];
	struct xensim_counters c;
	uint8_t *p;

	(void)state;
	assert_int_equal(xensim_grant_share_range(DOM, 0, 4, 1, &r), 0);
	assert_int_equal(xensim_grant_share(DOM, 4, 0, &ro), 0);
	guest()[2 * PG + 1] = 0x22;
	guest()[0 * PG + 1] = 0x10;
	guest()[3 * PG + 1] = 0x33;
	guest()[4 * PG + 1] = 0x44;
	refs[0] = r + 2;
	refs[1] = r;
	refs[2] = ro;
	refs[3] = r + 3;
	p = xengnttab_map_domain_grant_refs(gt, 4, DOM, refs, PROT_READ);
	assert_non_null(p);
	assert_int_equal(p[1], 0x22);
	assert_int_equal(p[PG + 1], 0x10);
	assert_int_equal(p[2 * PG + 1], 0x44);
	assert_int_equal(p[3 * PG + 1], 0x33);
	assert_int_equal(xengnttab_unmap(gt, p, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xengnttab_unmap(gt, p, 4), 0);
	/* The read-only grant in a writable list. */
	errno = 0;
	assert_null(xengnttab_map_domain_grant_refs(gt, 4, DOM, refs,
						    PROT_READ | PROT_WRITE));
	assert_int_equal(errno, EINVAL);
	/* A ref never shared, in the middle. */
	refs[2] = r + 50;
	refs[4] = r + 1;
	errno = 0;
	assert_null(xengnttab_map_domain_grant_refs(gt, 5, DOM, refs,
						    PROT_READ));
	assert_int_equal(errno, EINVAL);
	c = counters();
	assert_int_equal(c.grant.live_mappings, 0);
	assert_int_equal(c.grant.total_mappings, 1);
	assert_int_equal(c.failures[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS], 2);
	assert_int_equal(xengnttab_close(gt), 0);
}

static void test_grant_bad_refs_map_nothing(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint32_t ref, other, doms[2] = { DOM, DOM };
	uint32_t refs[2];
	struct xensim_counters c;

	(void)state;
	assert_int_equal(xensim_domain_create(DOM + 1, 4, 0), 0);
	assert_int_equal(xensim_grant_set_base(DOM + 1, 200), 0);
	assert_int_equal(xensim_grant_share(DOM, 0, 1, &ref), 0);
	assert_int_equal(xensim_grant_share(DOM + 1, 0, 1, &other), 0);
	assert_int_equal(other, 200);
	refs[0] = ref;
	/* Never granted; beyond the table; another domain's; no domain. */
	refs[1] = ref + 1;
	assert_null(xengnttab_map_grant_refs(gt, 2, doms, refs, PROT_READ));
	assert_int_equal(errno, EINVAL);
	refs[1] = XENSIM_GNTTAB_ENTRIES;
	assert_null(xengnttab_map_grant_refs(gt, 2, doms, refs, PROT_READ));
	assert_int_equal(errno, EINVAL);
	refs[1] = other;
	assert_null(xengnttab_map_grant_refs(gt, 2, doms, refs, PROT_READ));
	assert_int_equal(errno, EINVAL);
	doms[1] = 99;
	refs[1] = ref;
	assert_null(xengnttab_map_grant_refs(gt, 2, doms, refs, PROT_READ));
	assert_int_equal(errno, EINVAL);
	/* Granted to another domain than the caller. */
	assert_int_equal(xensim_grant_share_to(DOM, DOM + 1, 1, 1, &ref), 0);
	assert_null(xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ));
	assert_int_equal(errno, EINVAL);
	/* Bad arguments. */
	assert_null(xengnttab_map_grant_refs(gt, 0, doms, refs, PROT_READ));
	assert_int_equal(errno, EINVAL);
	assert_null(xengnttab_map_grant_refs(gt, 1, doms, refs, PROT_EXEC));
	assert_int_equal(errno, EINVAL);
	assert_null(xengnttab_map_grant_refs(gt, 1, NULL, refs, PROT_READ));
	assert_int_equal(errno, EFAULT);
	c = counters();
	assert_int_equal(c.grant.live_mappings, 0);
	assert_int_equal(c.grant.total_mappings, 0);
	assert_int_equal(xengnttab_close(gt), 0);
}

/* ---- logging ---- */

/* A logger that records the last message. */
struct rec_logger {
	struct xentoollog_logger base; /* first */
	int calls;
	xentoollog_level level;
	int err;
	char context[32];
	char msg[128];
};

static void rec_vmessage(struct xentoollog_logger *l, xentoollog_level level,
			 int errnoval, const char *context, const char *format,
			 va_list al)
{
	struct rec_logger *r = (struct rec_logger *)l;

	r->calls++;
	r->level = level;
	r->err = errnoval;
	snprintf(r->context, sizeof(r->context), "%s", context ? context : "");
	vsnprintf(r->msg, sizeof(r->msg), format, al);
}

static void rec_progress(struct xentoollog_logger *l, const char *context,
			 const char *doing_what, int percent,
			 unsigned long done, unsigned long total)
{
	(void)l, (void)context, (void)doing_what, (void)percent;
	(void)done, (void)total;
}

static void rec_destroy(struct xentoollog_logger *l)
{
	(void)l;
}

/* Redirect stderr into a memfd; stderr_text() reads what arrived. */
static int stderr_begin(int *saved)
{
	int fd = memfd_create("stderr", 0);

	assert_true(fd >= 0);
	fflush(stderr);
	*saved = dup(STDERR_FILENO);
	assert_true(*saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	return fd;
}

static void stderr_end(int fd, int saved, char *buf, size_t size)
{
	ssize_t n;

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/*
 * Failed map calls are logged as the real libraries log them: through the
 * handle's logger, or on stderr for a NULL logger (real Xen 4.17 prints
 * "gnttab: error: mmap failed: Invalid argument" for a failed grant map).
 * Per-frame foreign errors and injected failures are not logged.
 */
static void test_failures_logged_like_xen(void **state)
{
	struct rec_logger rec = { .base = { .vmessage = rec_vmessage,
					     .progress = rec_progress,
					     .destroy = rec_destroy } };
	xengnttab_handle *quiet = xengnttab_open(&rec.base, 0);
	xengnttab_handle *loud = xengnttab_open(NULL, 0);
	xenforeignmemory_handle *fm = xenforeignmemory_open(&rec.base, 0);
	xen_pfn_t gfns[2] = { 0, NPAGES };
	struct xensim_counters c0, c1;
	char text[512];
	uint32_t ref;
	int fd, saved, err[2];
	void *p;

	(void)state;
	assert_non_null(quiet);
	assert_non_null(loud);
	assert_non_null(fm);
	assert_int_equal(xensim_grant_share(DOM, 1, 1, &ref), 0);
	c0 = counters();
	fd = stderr_begin(&saved);

	/* NULL logger: one line on stderr; errno survives the logging. */
	assert_null(xengnttab_map_grant_ref(loud, DOM, ref + 1, PROT_READ));
	assert_int_equal(errno, EINVAL);
	/* The caller's logger: the same message, nothing on stderr. */
	assert_null(xengnttab_map_grant_ref(quiet, DOM, ref + 1, PROT_READ));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.level, XTL_ERROR);
	assert_int_equal(rec.err, EINVAL);
	assert_string_equal(rec.context, "gnttab");
	assert_string_equal(rec.msg, "mmap failed");
	/* Refused by gntdev's map ioctl rather than its mmap. */
	assert_null(xengnttab_map_domain_grant_refs(quiet, 0, DOM, &ref,
						    PROT_READ));
	assert_int_equal(rec.calls, 2);
	assert_string_equal(rec.msg, "ioctl MAP_GRANT_REF failed");

	/* Foreign: per-frame errors and the quiet undo are not logged... */
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 2, gfns, err);
	assert_non_null(p);
	assert_int_equal(err[1], -EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), 0);
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 2, gfns, NULL));
	assert_int_equal(rec.calls, 2);
	/* ...a failure of the whole call is. */
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 0, gfns, err));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rec.calls, 3);
	assert_string_equal(rec.context, "xenforeignmemory");
	assert_string_equal(rec.msg, "mmap failed");
	/* Injected failures stand for no particular cause: not logged. */
	assert_int_equal(xensim_inject(XENSIM_FN_GNT_MAP_GRANT_REF, 0, 1,
				       ENOMEM),
			 0);
	assert_null(xengnttab_map_grant_ref(loud, DOM, ref, PROT_READ));
	assert_int_equal(errno, ENOMEM);

	stderr_end(fd, saved, text, sizeof(text));
	assert_string_equal(text, "gnttab: error: mmap failed: "
				  "Invalid argument\n");
	assert_int_equal(rec.calls, 3);
	c1 = counters();
	assert_int_equal(c1.log_messages, c0.log_messages + 4);
	assert_int_equal(c1.stderr_messages, c0.stderr_messages + 1);

	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xengnttab_close(loud), 0);
	assert_int_equal(xengnttab_close(quiet), 0);
}

static void test_grant_revoke(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint32_t ref;
	uint8_t *p;

	(void)state;
	assert_int_equal(xensim_grant_share(DOM, 3, 1, &ref), 0);
	p = xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ | PROT_WRITE);
	assert_non_null(p);
	assert_int_equal(xensim_grant_revoke(DOM, ref), 0);
	/* A live mapping pins the grant; new maps fail. */
	p[0] = 3;
	assert_int_equal(guest()[3 * PG], 3);
	assert_null(xengnttab_map_grant_ref(gt, DOM, ref, PROT_READ));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xengnttab_unmap(gt, p, 1), 0);
	assert_int_equal(xengnttab_close(gt), 0);
}

static void child_revoke_grant(void *arg)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	uint32_t ref;
	uint8_t *p;

	if (xensim_grant_share_range(DOM, 2, 2, 1, &ref))
		_exit(2);
	p = xengnttab_map_domain_grant_refs(gt, 2, DOM,
					    (uint32_t[]){ ref, ref + 1 },
					    PROT_READ);
	if (!p)
		_exit(2);
	touch_read(p);
	if (*(const char *)arg == 'f') {
		if (xensim_frame_revoke(DOM, 2))
			_exit(4);
	} else if (xensim_grant_revoke_mapped(DOM, ref)) {
		_exit(4);
	}
	touch_read(p + PG);
	touch_read(p);
	_exit(3);
}

static void test_grant_revoke_mapped_faults(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_revoke_grant, "g"), SIGBUS);
	assert_int_equal(in_child(child_revoke_grant, "f"), SIGBUS);
}

static void test_grant_unmap_unknown_range(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xengnttab_handle *other = xengnttab_open(NULL, 0);
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1] = { 0 };
	uint32_t ref;
	uint8_t *p, *f;

	(void)state;
	assert_int_equal(xensim_grant_share_range(DOM, 0, 2, 1, &ref), 0);
	p = xengnttab_map_domain_grant_refs(gt, 2, DOM,
					    (uint32_t[]){ ref, ref + 1 },
					    PROT_READ);
	f = xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL);
	assert_non_null(p);
	assert_non_null(f);
	assert_int_equal(xengnttab_unmap(gt, p, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xengnttab_unmap(gt, p + PG, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xengnttab_unmap(other, p, 2), -1);
	assert_int_equal(errno, EINVAL);
	/* A foreign mapping is not a grant mapping, and the reverse. */
	assert_int_equal(xengnttab_unmap(gt, f, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(counters().grant.live_pages, 2);
	touch_read(p + PG);
	assert_int_equal(xengnttab_unmap(gt, p, 2), 0);
	assert_int_equal(xenforeignmemory_unmap(fm, f, 1), 0);
	assert_int_equal(xengnttab_close(other), 0);
	assert_int_equal(xengnttab_close(gt), 0);
	assert_int_equal(xenforeignmemory_close(fm), 0);
}

static void test_grant_max_grants(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xengnttab_handle *dflt;
	uint32_t ref;
	uint8_t *a, *b;

	(void)state;
	assert_int_equal(xensim_grant_share_range(DOM, 0, 4, 1, &ref), 0);
	assert_int_equal(xengnttab_set_max_grants(gt, 4), 0);
	a = xengnttab_map_domain_grant_refs(
		gt, 3, DOM, (uint32_t[]){ ref, ref + 1, ref + 2 }, PROT_READ);
	assert_non_null(a);
	assert_null(xengnttab_map_domain_grant_refs(
		gt, 2, DOM, (uint32_t[]){ ref, ref + 3 }, PROT_READ));
	assert_int_equal(errno, ENOMEM);
	b = xengnttab_map_grant_ref(gt, DOM, ref + 3, PROT_READ);
	assert_non_null(b);
	assert_int_equal(xengnttab_unmap(gt, a, 3), 0);
	a = xengnttab_map_domain_grant_refs(
		gt, 2, DOM, (uint32_t[]){ ref, ref + 3 }, PROT_READ);
	assert_non_null(a);
	/* Too late to change the limit once the handle was used. */
	assert_int_equal(xengnttab_set_max_grants(gt, 100), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xengnttab_unmap(gt, a, 2), 0);
	assert_int_equal(xengnttab_unmap(gt, b, 1), 0);
	assert_int_equal(xengnttab_close(gt), 0);

	xensim_set_default_max_grants(1);
	dflt = xengnttab_open(NULL, 0);
	xensim_set_default_max_grants(XENSIM_DEFAULT_MAX_GRANTS);
	assert_null(xengnttab_map_domain_grant_refs(
		dflt, 2, DOM, (uint32_t[]){ ref, ref + 1 }, PROT_READ));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(xengnttab_close(dflt), 0);
}

static void test_grant_copy(void **state)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xengnttab_grant_copy_segment_t seg[4];
	uint8_t buf[64], out[64];
	uint32_t rw, ro;

	(void)state;
	assert_int_equal(xensim_grant_share(DOM, 1, 1, &rw), 0);
	assert_int_equal(xensim_grant_share(DOM, 2, 0, &ro), 0);
	memset(buf, 0xab, sizeof(buf));
	memset(guest() + 2 * PG + 100, 0xcd, 64);
	memset(seg, 0, sizeof(seg));
	/* Local to granted page. */
	seg[0].source.virt = buf;
	seg[0].dest.foreign.ref = rw;
	seg[0].dest.foreign.domid = DOM;
	seg[0].dest.foreign.offset = PG - 64;
	seg[0].len = 64;
	seg[0].flags = GNTCOPY_dest_gref;
	/* Read-only grant to local. */
	seg[1].source.foreign.ref = ro;
	seg[1].source.foreign.domid = DOM;
	seg[1].source.foreign.offset = 100;
	seg[1].dest.virt = out;
	seg[1].len = 64;
	seg[1].flags = GNTCOPY_source_gref;
	/* Into a read-only grant. */
	seg[2].source.virt = buf;
	seg[2].dest.foreign.ref = ro;
	seg[2].dest.foreign.domid = DOM;
	seg[2].len = 8;
	seg[2].flags = GNTCOPY_dest_gref;
	/* A ref beyond the table. */
	seg[3] = seg[1];
	seg[3].source.foreign.ref = XENSIM_GNTTAB_ENTRIES + 1;
	seg[0].status = seg[1].status = seg[2].status = seg[3].status = 99;
	assert_int_equal(xengnttab_grant_copy(gt, 4, seg), 0);
	assert_int_equal(seg[0].status, GNTST_okay);
	assert_int_equal(seg[1].status, GNTST_okay);
	assert_int_equal(seg[2].status, GNTST_general_error);
	assert_int_equal(seg[3].status, GNTST_bad_gntref);
	assert_memory_equal(guest() + 2 * PG - 64, buf, 64);
	assert_memory_equal(out, guest() + 2 * PG + 100, 64);
	assert_int_equal(guest()[2 * PG], 0);
	assert_int_equal(counters().copy_errors, 2);

	/* Crossing the granted page fails the whole call; nothing copied. */
	memset(guest() + PG, 0, PG);
	seg[0].dest.foreign.offset = PG - 63;
	seg[0].status = 99;
	assert_int_equal(xengnttab_grant_copy(gt, 2, seg), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(seg[0].status, 99);
	assert_int_equal(guest()[2 * PG - 1], 0);
	/* Local to local is not a grant copy. */
	seg[0].dest.foreign.offset = 0;
	seg[0].flags = 0;
	assert_int_equal(xengnttab_grant_copy(gt, 1, seg), -1);
	assert_int_equal(errno, EINVAL);
	/*
	 * A local buffer the kernel cannot write is EFAULT, not a crash.
	 * (An unmapped one is EFAULT too, but valgrind rightly reports it.)
	 */
	seg[1].dest.virt = mmap(NULL, PG, PROT_READ,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(seg[1].dest.virt != MAP_FAILED);
	assert_int_equal(xengnttab_grant_copy(gt, 1, &seg[1]), -1);
	assert_int_equal(errno, EFAULT);
	munmap(seg[1].dest.virt, PG);
	/* Foreign to foreign. */
	seg[1].dest.foreign.ref = rw;
	seg[1].dest.foreign.domid = DOM;
	seg[1].dest.foreign.offset = 0;
	seg[1].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	assert_int_equal(xengnttab_grant_copy(gt, 1, &seg[1]), 0);
	assert_int_equal(seg[1].status, GNTST_okay);
	assert_memory_equal(guest() + PG, guest() + 2 * PG + 100, 64);
	assert_int_equal(xengnttab_grant_copy(gt, 0, NULL), 0);
	assert_int_equal(xengnttab_close(gt), 0);
}

/* ---- libxenctrl ---- */

static void test_xc_getinfolist_and_gpfn(void **state)
{
	xc_interface *xc = xc_interface_open(NULL, NULL, 0);
	xc_domaininfo_t info[4];
	xen_pfn_t gpfn = 0;

	(void)state;
	assert_non_null(xc);
	assert_int_equal(xensim_domain_create(3, 4, XENSIM_DOM_PAUSED), 0);
	assert_int_equal(xc_domain_getinfolist(xc, DOM, 1, info), 1);
	assert_int_equal(info[0].domain, DOM);
	assert_int_equal(info[0].tot_pages, NPAGES);
	assert_int_equal(info[0].max_pages, NPAGES);
	assert_true(info[0].flags & XEN_DOMINF_hvm_guest);
	/* Asking for a missing domain returns the next one: check it. */
	assert_int_equal(xc_domain_getinfolist(xc, 4, 1, info), 1);
	assert_int_equal(info[0].domain, DOM);
	assert_int_equal(xc_domain_getinfolist(xc, 0, 4, info), 2);
	assert_int_equal(info[0].domain, 3);
	assert_true(info[0].flags & XEN_DOMINF_paused);
	assert_int_equal(xc_domain_getinfolist(xc, DOM + 1, 4, info), 0);

	assert_int_equal(xc_domain_maximum_gpfn(xc, DOM, &gpfn), 0);
	assert_int_equal(gpfn, NPAGES - 1);
	assert_int_equal(xensim_domain_set_max_gpfn(DOM, 0xfffff), 0);
	assert_int_equal(xc_domain_maximum_gpfn(xc, DOM, &gpfn), 0);
	assert_int_equal(gpfn, 0xfffff);
	assert_int_equal(xc_domain_maximum_gpfn(xc, 99, &gpfn), -1);
	assert_int_equal(errno, ESRCH);
	assert_null(xc_interface_open(NULL, NULL, 0x100));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xc_interface_close(xc), 0);
}

/* getpageframeinfo3: RAM is NOTAB, holes and beyond are XTAB. */
static void test_pfn_types_and_holes(void **state)
{
	xc_interface *xc = xc_interface_open(NULL, NULL, 0);
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	xen_pfn_t arr[1025] = { 0, 4, 5, 15, 16, 0x100000 };
	xc_domaininfo_t info;
	int err[2];
	uint8_t *p;

	(void)state;
	assert_int_equal(xensim_domain_set_populated(DOM, 4, 2, 0), 0);
	assert_int_equal(xc_get_pfn_type_batch(xc, DOM, 6, arr), 0);
	assert_int_equal(arr[0], XEN_DOMCTL_PFINFO_NOTAB);
	assert_int_equal(arr[1], XEN_DOMCTL_PFINFO_XTAB);
	assert_int_equal(arr[2], XEN_DOMCTL_PFINFO_XTAB);
	assert_int_equal(arr[3], XEN_DOMCTL_PFINFO_NOTAB);
	assert_int_equal(arr[4], XEN_DOMCTL_PFINFO_XTAB);
	assert_int_equal(arr[5], XEN_DOMCTL_PFINFO_XTAB);
	arr[0] = 3;
	arr[1] = 4;
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, err);
	assert_non_null(p);
	assert_int_equal(err[0], 0);
	assert_int_equal(err[1], -EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), 0);
	assert_int_equal(xc_domain_getinfolist(xc, DOM, 1, &info), 1);
	assert_int_equal(info.tot_pages, NPAGES - 2);
	/* Xen's limits: 1024 frames a call; a domain that exists. */
	assert_int_equal(xc_get_pfn_type_batch(xc, DOM, 1025, arr), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(xc_get_pfn_type_batch(xc, 99, 1, arr), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(xensim_domain_set_populated(DOM, 4, 2, 1), 0);
	arr[0] = 4;
	assert_int_equal(xc_get_pfn_type_batch(xc, DOM, 1, arr), 0);
	assert_int_equal(arr[0], XEN_DOMCTL_PFINFO_NOTAB);
	assert_int_equal(xensim_domain_set_populated(DOM, 15, 2, 0), -EINVAL);
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xc_interface_close(xc), 0);
}

/* decrease_reservation under a held mapping, as real Xen 4.17 did it. */
static void test_decrease_reservation(void **state)
{
	xc_interface *xc = xc_interface_open(NULL, NULL, 0);
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	uint8_t *mem = xensim_domain_mem(DOM), *p, *q;
	xen_pfn_t arr[2] = { 2, 3 };
	xc_domaininfo_t info;
	int err[2];

	(void)state;
	memset(mem + 2 * PG, 0x5a, 2 * PG);
	p = xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, err);
	assert_non_null(p);
	q = xenforeignmemory_map(fm, DOM, PROT_READ, 2, arr, err);
	assert_non_null(q);
	assert_int_equal(xensim_domain_set_max_pages(DOM, NPAGES / 2), 0);
	assert_int_equal(xensim_domain_decrease_reservation(DOM, 3, 1), 0);
	/* The held mappings read zeros, the other page is intact; the
	 * guest's memory no longer aliases them. */
	assert_int_equal(p[PG], 0);
	assert_int_equal(q[PG + 100], 0);
	assert_int_equal(p[0], 0x5a);
	mem[3 * PG] = 0x77;
	assert_int_equal(p[PG], 0);
	/* Held pages stay in tot_pages, once however many maps hold them. */
	assert_int_equal(xc_domain_getinfolist(xc, DOM, 1, &info), 1);
	assert_int_equal(info.tot_pages, NPAGES);
	assert_int_equal(info.max_pages, NPAGES / 2);
	arr[0] = 3;
	assert_int_equal(xc_get_pfn_type_batch(xc, DOM, 1, arr), 0);
	assert_int_equal(arr[0], XEN_DOMCTL_PFINFO_XTAB);
	arr[0] = 3;
	assert_null(xenforeignmemory_map(fm, DOM, PROT_READ, 1, arr, NULL));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xenforeignmemory_unmap(fm, p, 2), 0);
	assert_int_equal(xc_domain_getinfolist(xc, DOM, 1, &info), 1);
	assert_int_equal(info.tot_pages, NPAGES);
	assert_int_equal(xenforeignmemory_unmap(fm, q, 2), 0);
	assert_int_equal(xc_domain_getinfolist(xc, DOM, 1, &info), 1);
	assert_int_equal(info.tot_pages, NPAGES - 1);
	/* Giving back a hole again is refused; nothing changes. */
	assert_int_equal(xensim_domain_decrease_reservation(DOM, 2, 2),
			 -EINVAL);
	arr[0] = 2;
	assert_int_equal(xc_get_pfn_type_batch(xc, DOM, 1, arr), 0);
	assert_int_equal(arr[0], XEN_DOMCTL_PFINFO_NOTAB);
	assert_int_equal(xensim_domain_decrease_reservation(99, 2, 1), -ESRCH);
	assert_int_equal(xenforeignmemory_close(fm), 0);
	assert_int_equal(xc_interface_close(xc), 0);
}

static void test_domain_create_checks(void **state)
{
	(void)state;
	assert_int_equal(xensim_domain_create(DOM, 4, 0), -EEXIST);
	assert_int_equal(xensim_domain_create(DOMID_SELF, 4, 0), -EINVAL);
	assert_int_equal(xensim_domain_create(1, 0, 0), -EINVAL);
	assert_int_equal(xensim_domain_create(1, 4, 0x80), -EINVAL);
	assert_int_equal(xensim_domain_destroy(1), -ESRCH);
	assert_int_equal(xensim_frame_set_error(DOM, 0, EIO, 1), -EINVAL);
	assert_int_equal(xensim_frame_set_error(DOM, 0, -EIO, 0), -EINVAL);
	assert_int_equal(xensim_frame_set_error(DOM, NPAGES, -EIO, 1),
			 -EINVAL);
	assert_int_equal(xensim_frame_revoke(1, 0), -ESRCH);
	assert_int_equal(xensim_domain_set_flags(DOM, 0x80), -EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T_LEAKY(name) \
	cmocka_unit_test_setup_teardown(name, setup, teardown_leaky)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_foreign_map_aliases),
		T(test_foreign_map_err_negative),
		T(test_foreign_map_failed_page_faults),
		T(test_foreign_map_all_or_nothing),
		T(test_foreign_map_unknown_domain),
		T(test_foreign_map_self),
		T(test_foreign_map_honours_prot),
		T(test_foreign_map_bad_args),
		T(test_foreign_map2),
		T(test_foreign_unmap_unknown_range),
		T(test_foreign_paged_out_retry),
		T(test_foreign_frame_revoke_blocks_new_maps),
		T(test_foreign_revoke_faults),
		T(test_foreign_domain_destroy_faults),
		T(test_handles_null_and_closed),
		T_LEAKY(test_close_with_live_mappings_leaks),
		T_LEAKY(test_reset_reports_leaks),
		T(test_fork_child_has_no_mappings),
		T(test_inject_fails_nth_calls),
		T(test_inject_open_and_close),
		T(test_foreign_fail_keeps_range),
		T(test_map_hook),
		T(test_counters),
		T(test_threads),
		T(test_grant_refs_consecutive),
		T(test_grant_map_aliases),
		T(test_grant_readonly_refuses_write),
		T(test_grant_domain_refs_list),
		T(test_grant_bad_refs_map_nothing),
		T(test_grant_revoke),
		T(test_grant_revoke_mapped_faults),
		T(test_grant_unmap_unknown_range),
		T(test_grant_max_grants),
		T(test_grant_copy),
		T(test_failures_logged_like_xen),
		T(test_xc_getinfolist_and_gpfn),
		T(test_pfn_types_and_holes),
		T(test_decrease_reservation),
		T(test_domain_create_checks),
	};

	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
