/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe-physmap: what real Xen tells a dom0 tool about which frames of an
 * HVM/PVH guest are populated, and what happens to mapped frames when the
 * guest balloons down.  Run in the xen-qemu harness's dom0 (it runs
 * "xl mem-set" on the test guest, which it leaves at its original size).
 *
 * Output is TAP; "# fact:" lines state what was observed.  It measures:
 *  1. XEN_DOMCTL_getpageframeinfo3 (xc_get_pfn_type_batch) over
 *     [0, max_gpfn]: the populated runs, their types, and the time taken;
 *  2. xenforeignmemory_map with err[] over the same range, in batches:
 *     the err[] codes per run, and the time taken;
 *  3. a balloon-down with "xl mem-set": tot_pages, what a mapping taken
 *     before the balloon reads for the frames given back, and what
 *     getpageframeinfo3 and a new foreign map say about them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

/* Exported by libxenctrl 4.17 (VERS_4.17.0) but declared only in its
 * private header. */
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
			  xen_pfn_t *arr);

#define BATCH 1024u

static unsigned int tap_n;
static int failed;

static void ok(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %u - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		failed = 1;
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int info(xc_interface *xch, uint32_t domid, xc_domaininfo_t *di)
{
	int n = xc_domain_getinfolist(xch, domid, 1, di);

	return n == 1 && di->domain == domid ? 0 : -1;
}

/* Types of every frame in [0, n), into types[]. */
static int pfn_types(xc_interface *xch, uint32_t domid, uint64_t n,
		     uint32_t *types, unsigned int *calls)
{
	xen_pfn_t arr[BATCH];
	uint64_t g;
	unsigned int i, k;

	*calls = 0;
	for (g = 0; g < n; g += k) {
		k = n - g < BATCH ? (unsigned int)(n - g) : BATCH;
		for (i = 0; i < k; i++)
			arr[i] = g + i;
		(*calls)++;
		if (xc_get_pfn_type_batch(xch, domid, k, arr)) {
			printf("# xc_get_pfn_type_batch at %#" PRIx64
			       ": %s\n", g, strerror(errno));
			return -1;
		}
		for (i = 0; i < k; i++)
			types[g + i] = (uint32_t)(arr[i] &
						  XEN_DOMCTL_PFINFO_LTAB_MASK);
	}
	return 0;
}

/* err[] of a foreign map of every frame in [0, n), into errs[]. */
static int map_errs(xenforeignmemory_handle *fm, uint32_t domid, uint64_t n,
		    int *errs, unsigned int *calls)
{
	xen_pfn_t arr[BATCH];
	uint64_t g;
	unsigned int i, k;
	void *p;

	*calls = 0;
	for (g = 0; g < n; g += k) {
		k = n - g < BATCH ? (unsigned int)(n - g) : BATCH;
		for (i = 0; i < k; i++)
			arr[i] = g + i;
		(*calls)++;
		p = xenforeignmemory_map(fm, domid, PROT_READ, k, arr,
					 errs + g);
		if (!p) {
			printf("# map at %#" PRIx64 ": %s\n", g,
			       strerror(errno));
			return -1;
		}
		xenforeignmemory_unmap(fm, p, k);
	}
	return 0;
}

static void print_type_runs(const uint32_t *t, uint64_t n, const char *what)
{
	uint64_t s = 0, g;

	for (g = 1; g <= n; g++) {
		if (g < n && t[g] == t[s])
			continue;
		printf("# %s run [%#" PRIx64 ", %#" PRIx64 "] (%" PRIu64
		       " frames): %#x\n", what, s, g - 1, g - s,
		       t[s] >> XEN_DOMCTL_PFINFO_LTAB_SHIFT);
		s = g;
	}
}

static void print_err_runs(const int *e, uint64_t n, const char *what)
{
	uint64_t s = 0, g;

	for (g = 1; g <= n; g++) {
		if (g < n && e[g] == e[s])
			continue;
		printf("# %s run [%#" PRIx64 ", %#" PRIx64 "] (%" PRIu64
		       " frames): err %d\n", what, s, g - 1, g - s, e[s]);
		s = g;
	}
}

int main(void)
{
	const char *env = getenv("GM_XEN_DOMID");
	xenforeignmemory_handle *fm;
	xc_interface *xch;
	xc_domaininfo_t di;
	xen_pfn_t max_gpfn;
	uint32_t domid, *types, *types2;
	uint64_t n, g, agree = 0, xtab = 0, pop = 0, gone = 0, zero = 0;
	uint64_t orig_kib, tot0;
	unsigned int calls, i;
	int *errs, *errs2;
	double t0;
	char cmd[128];

	if (!env)
		return 77;
	domid = (uint32_t)strtoul(env, NULL, 0);
	xch = xc_interface_open(NULL, NULL, 0);
	fm = xenforeignmemory_open(NULL, 0);
	if (!xch || !fm) {
		printf("Bail out! cannot open libxenctrl/libxenforeignmemory\n");
		return 1;
	}
	if (info(xch, domid, &di) || xc_domain_maximum_gpfn(xch, domid,
							   &max_gpfn)) {
		printf("Bail out! domain %u\n", domid);
		return 1;
	}
	printf("# fact: domain %u: tot_pages %" PRIu64 " max_pages %" PRIu64
	       " outstanding %" PRIu64 " shr %" PRIu64 " paged %" PRIu64
	       " max_gpfn %#lx flags %#x\n", domid,
	       (uint64_t)di.tot_pages, (uint64_t)di.max_pages,
	       (uint64_t)di.outstanding_pages, (uint64_t)di.shr_pages,
	       (uint64_t)di.paged_pages, (unsigned long)max_gpfn, di.flags);
	tot0 = di.tot_pages;
	n = (uint64_t)max_gpfn + 1;
	types = calloc(n, sizeof(*types));
	types2 = calloc(n, sizeof(*types2));
	errs = calloc(n, sizeof(*errs));
	errs2 = calloc(n, sizeof(*errs2));
	if (!types || !types2 || !errs || !errs2)
		return 1;

	/* 1. getpageframeinfo3 over the whole range. */
	t0 = now();
	ok(!pfn_types(xch, domid, n, types, &calls),
	   "getpageframeinfo3 over %" PRIu64 " frames", n);
	printf("# fact: getpageframeinfo3: %u calls of <= %u frames in %.3f s\n",
	       calls, BATCH, now() - t0);
	print_type_runs(types, n, "pfn-type");
	for (g = 0; g < n; g++)
		if (types[g] == XEN_DOMCTL_PFINFO_XTAB)
			xtab++;
		else
			pop++;
	printf("# fact: %" PRIu64 " frames not XTAB, %" PRIu64
	       " XTAB; tot_pages %" PRIu64 "\n", pop, xtab, tot0);

	/* 2. err[] of foreign maps over the whole range. */
	t0 = now();
	ok(!map_errs(fm, domid, n, errs, &calls),
	   "foreign map err[] over %" PRIu64 " frames", n);
	printf("# fact: foreign map probe: %u calls of <= %u frames in %.3f s\n",
	       calls, BATCH, now() - t0);
	print_err_runs(errs, n, "map-err");
	/* Xen pages the guest put in its physmap (shared_info, grant
	 * frames) are XTAB but map: the only disagreement allowed, and
	 * never the other way round. */
	for (g = 0; g < n; g++)
		if ((types[g] == XEN_DOMCTL_PFINFO_XTAB) == (errs[g] != 0))
			agree++;
		else
			printf("# fact: gfn %#" PRIx64 ": type %#x, map err %d"
			       "\n", g, types[g], errs[g]);
	for (g = 0, i = 0; g < n; g++)
		i += types[g] != XEN_DOMCTL_PFINFO_XTAB && errs[g];
	ok(i == 0, "every non-XTAB frame maps");
	ok(n - agree <= 16, "at most 16 XTAB frames map (%" PRIu64 ")",
	   n - agree);
	for (g = 0; g < n; g++)
		if (errs[g] && errs[g] != -EINVAL)
			break;
	ok(g == n, "every frame that fails to map gives -EINVAL");

	/* 3. Balloon down by half with a mapping of all RAM frames held. */
	{
		uint64_t lo = 0, hi = 0x20000 < n ? 0x20000 : n; /* 512 MiB */
		xen_pfn_t *arr = calloc(hi - lo, sizeof(*arr));
		int *merr = calloc(hi - lo, sizeof(*merr));
		uint8_t *m;
		int wait;

		for (g = lo; g < hi; g++)
			arr[g - lo] = g;
		m = xenforeignmemory_map(fm, domid, PROT_READ, hi - lo, arr,
					 merr);
		ok(m != NULL, "map [%#" PRIx64 ", %#" PRIx64 ") before balloon",
		   lo, hi);
		orig_kib = tot0 * 4;
		snprintf(cmd, sizeof(cmd), "xl mem-set %u %" PRIu64 "k", domid,
			 orig_kib / 2);
		t0 = now();
		printf("# running: %s (rc %d)\n", cmd, system(cmd));
		for (wait = 0; wait < 60; wait++) {
			if (info(xch, domid, &di))
				break;
			if (di.tot_pages <= tot0 / 2 + tot0 / 16)
				break;
			sleep(1);
		}
		printf("# fact: after mem-set %" PRIu64 "k: tot_pages %" PRIu64
		       " max_pages %" PRIu64 " after %.1f s (mapping held)\n",
		       orig_kib / 2, (uint64_t)di.tot_pages,
		       (uint64_t)di.max_pages, now() - t0);
		sleep(2);
		info(xch, domid, &di);
		printf("# fact: 2 s later: tot_pages %" PRIu64 "\n",
		       (uint64_t)di.tot_pages);
		ok(di.max_pages < tot0, "xl mem-set lowered max_pages at once");
		ok(di.tot_pages == tot0, "tot_pages unchanged while dom0 maps "
		   "every RAM frame");
		ok(!pfn_types(xch, domid, n, types2, &calls),
		   "getpageframeinfo3 after balloon");
		ok(!map_errs(fm, domid, n, errs2, &calls),
		   "foreign map err[] after balloon");
		for (g = lo; g < hi && m; g++) {
			if (types[g] == XEN_DOMCTL_PFINFO_XTAB ||
			    types2[g] != XEN_DOMCTL_PFINFO_XTAB)
				continue;
			gone++;
			if (merr[g - lo])
				continue;
			for (i = 0; i < 4096; i++)
				if (m[(g - lo) * 4096 + i])
					break;
			if (i == 4096)
				zero++;
		}
		printf("# fact: %" PRIu64 " frames became XTAB; held mapping "
		       "reads %" PRIu64 " of them as all zeros\n", gone, zero);
		ok(gone >= tot0 / 4 && zero == gone, "the guest gave back "
		   "frames; the mapping held reads them as zeros");
		print_type_runs(types2, hi, "pfn-type-after");
		print_err_runs(errs2, hi, "map-err-after");
		for (g = 0; g < n; g++)
			if (types[g] != XEN_DOMCTL_PFINFO_XTAB &&
			    types2[g] == XEN_DOMCTL_PFINFO_XTAB &&
			    errs2[g] != -EINVAL)
				break;
		ok(g == n, "a new map of a frame given back gives -EINVAL");
		if (m)
			xenforeignmemory_unmap(fm, m, hi - lo);
		sleep(2);
		info(xch, domid, &di);
		printf("# fact: after unmapping: tot_pages %" PRIu64 "\n",
		       (uint64_t)di.tot_pages);
		ok(di.tot_pages < tot0 - gone / 2, "unmapping releases them");
		/* xl refuses more than the static maximum: whole MiB. */
		snprintf(cmd, sizeof(cmd), "xl mem-set %u %" PRIu64 "m", domid,
			 orig_kib / 1024);
		printf("# running: %s (rc %d)\n", cmd, system(cmd));
		for (wait = 0; wait < 30; wait++) {
			info(xch, domid, &di);
			if (di.tot_pages >= tot0 - tot0 / 64)
				break;
			sleep(1);
		}
		printf("# fact: after mem-set back: tot_pages %" PRIu64
		       " after %d s\n", (uint64_t)di.tot_pages, wait);
		ok(!pfn_types(xch, domid, n, types2, &calls),
		   "getpageframeinfo3 after balloon up");
		print_type_runs(types2, hi, "pfn-type-up");
		free(arr);
		free(merr);
	}
	printf("1..%u\n", tap_n);
	return failed;
}
