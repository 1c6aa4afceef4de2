/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen: libguestmem's Xen backend against real Xen, run in dom0 by
 * the xen-qemu harness (README.md) next to the PVH test guest.
 *
 * Everything under test goes through libguestmem's public API.  The guest
 * is the oracle for writes (guest-client.h: it reads its own memory and
 * says what it sees), the pattern pages are the oracle for reads (every
 * word names its own address, so a wrong frame cannot pass), and raw
 * libxenforeignmemory calls are used once, to find where the guest's RAM
 * ends, independently of the library.
 *
 * Guest addresses: the on-demand and fault-safe spaces come from
 * gm_xen_space_open_domain(), so guest address = gfn << 12; the eager
 * region over the pattern frames uses the same identity; grant regions
 * live at GM_XEN_GRANT_ADDR(ref).
 *
 * Output is TAP.  Each failed expectation prints a "#" line with the
 * source file and line, what was expected and gm_last_error().  Lines
 * starting with "# fact:" record what real Xen did, for the simulator to
 * follow.
 *
 * One program of several files, run as one by the harness: this one has
 * the set-up, the list of tests and main(); the tests are in
 * realxen-foreign.c, realxen-grant.c, realxen-gcopy.c, realxen-glist.c
 * and realxen-errors.c, and what they share in realxen.h and realxen-util.c.
 */
#define _GNU_SOURCE

#include <sys/wait.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "realxen.h"

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

/*
 * The first frame at or after the last pattern frame that Xen refuses,
 * found with raw libxenforeignmemory calls (the library is not the judge
 * of itself).  Returns its guest address, or 0.
 */
static uint64_t find_ram_end(const struct ctx *c)
{
	const struct xq_run *last = &c->g.runs[c->g.nr_runs - 1];
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	uint64_t gfn = last->gfn + last->count - 1, max = c->max_frames;
	xen_pfn_t arr[1024];
	int err[1024];
	uint64_t found = 0;
	unsigned int i, n;
	void *m;

	if (!fm)
		return 0;
	while (!found && gfn < max) {
		n = max - gfn < 1024 ? (unsigned int)(max - gfn) : 1024;
		for (i = 0; i < n; i++)
			arr[i] = (xen_pfn_t)(gfn + i);
		m = xenforeignmemory_map(fm, c->domid, PROT_READ, n, arr, err);
		if (!m)
			break;
		for (i = 0; i < n && !found; i++)
			if (err[i])
				found = (gfn + i) << XQ_PAGE_SHIFT;
		xenforeignmemory_unmap(fm, m, n);
		gfn += n;
	}
	xenforeignmemory_close(fm);
	return found;
}

static uint32_t find_absent_domid(const struct ctx *c)
{
	xc_interface *xch = xc_interface_open(NULL, NULL, 0);
	xc_domaininfo_t info;
	uint32_t d;

	if (!xch)
		return 0x7000;
	for (d = c->domid + 1000; d < 0x7ff0; d++) {
		int n = xc_domain_getinfolist(xch, d, 1, &info);

		if (n == 0 || (n == 1 && info.domain != d))
			break;
	}
	xc_interface_close(xch);
	return d;
}

struct test {
	const char *name;
	bool (*fn)(struct ctx *c);
};

static const struct test tests[] = {
	{ "counters-one-bucket-hits-evictions", t_counters },
	{ "foreign-ondemand-reads-small-cache", t_foreign_ondemand_reads },
	{ "foreign-eager-reads", t_foreign_eager_reads },
	{ "foreign-ondemand-write-guest-sees", t_foreign_ondemand_write },
	{ "foreign-eager-write-guest-sees", t_foreign_eager_write },
	{ "foreign-atomics", t_foreign_atomics },
	{ "foreign-fd-io", t_foreign_fd_io },
	{ "foreign-views-leases", t_foreign_views },
	{ "foreign-threads-small-cache", t_foreign_threads },
	{ "grant-read-write", t_grant_read_write },
	{ "grant-rdonly-region-eacces", t_grant_rdonly_region },
	{ "grant-never-shared-einval", t_grant_never_shared },
	{ "grant-copy-reads", t_gcopy_reads },
	{ "grant-copy-writes-guest-sees", t_gcopy_writes },
	{ "grant-copy-errors", t_gcopy_errors },
	{ "grant-list-shuffled-reads", t_glist_shuffled },
	{ "grant-list-write-guest-sees", t_glist_write },
	{ "grant-list-errors-einval", t_glist_errors },
	{ "foreign-beyond-memory-einval", t_foreign_beyond_memory },
	{ "foreign-ram-end-exact", t_foreign_ram_end },
	{ "fault-safe-refused-frames", t_fault_safe },
	{ "absent-domain-esrch", t_absent_domain },
	{ "domain-physmap-regions", t_domain_physmap },
	{ "domain-balloon-recheck", t_domain_balloon },
	{ "guest-pattern-intact", t_guest_intact },
};

/*
 * Connect to the guest and open the shared small-cache context and its
 * domain space.  Returns 0, or -1 after saying why.
 */
static int setup(struct ctx *c, bool verbose)
{
	struct gm_region_info info[GM_XEN_DOMAIN_MAX_REGIONS];
	xen_pfn_t max_gpfn = 0;
	xc_interface *xch;
	ssize_t n;
	int rc;

	rc = xq_guest_open(&c->g);
	if (rc) {
		diag("no test guest: %s (GM_XEN_DOMID=%s)", ename(rc),
		     getenv("GM_XEN_DOMID") ?: "unset");
		return -1;
	}
	c->domid = c->g.domid;
	snprintf(c->dom_name, sizeof(c->dom_name), "domain-%u", c->domid);
	c->x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	if (!c->x)
		return -1;
	rc = gm_xen_space_open_domain(c->x, c->domid, 0, &c->dom);
	n = rc ? -1 : gm_space_get_regions(c->dom, info, ARRAY_SIZE(info));
	if (n < 1) {
		diag("gm_xen_space_open_domain: %s: %s", ename(rc),
		     gm_last_error());
		return -1;
	}
	/* The space's regions are the RAM runs; it ends with the last. */
	c->nregions = (unsigned int)n;
	c->dom_size = info[n - 1].gpa + info[n - 1].size;
	xch = xc_interface_open(NULL, NULL, 0);
	if (xch && !xc_domain_maximum_gpfn(xch, c->domid, &max_gpfn))
		c->max_frames = (uint64_t)max_gpfn + 1;
	if (xch)
		xc_interface_close(xch);
	c->ram_end = find_ram_end(c);
	c->absent = find_absent_domid(c);
	if (verbose)
		diag("guest domid %u: space '%s' to %#" PRIx64 " in %u "
		     "regions, %#" PRIx64 " frames up to max gpfn, %u "
		     "pattern pages in %u runs, RAM refused from %#" PRIx64
		     ", %u grants from ref %u (read-only index %u)", c->domid,
		     c->dom_name, c->dom_size, c->nregions, c->max_frames,
		     c->g.nr_pattern, c->g.nr_runs,
		     c->ram_end, c->g.nr_grants, c->g.grant_refs[0],
		     c->g.ro_index);
	return 0;
}

static void teardown(struct ctx *c)
{
	gm_space_free(c->dom);
	gm_xen_close(c->x);
	xq_guest_close(&c->g);
}

/*
 * Each test runs in a child process of its own, which opens its own Xen
 * handles (they must not cross a fork): a test that crashes (SIGBUS from a
 * frame Xen refused, say) is reported with its signal, and the others
 * still run.
 */
static bool run_test(unsigned int i)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		diag("fork: %s", strerror(errno));
		return false;
	}
	if (pid == 0) {
		struct ctx c = { .rng = 0x6775657374ull + i };
		bool ok;

		cur_ok = true;
		ok = setup(&c, i == 0) == 0 && tests[i].fn(&c) && cur_ok;
		teardown(&c);
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			diag("waitpid: %s", strerror(errno));
			return false;
		}
	if (WIFSIGNALED(status)) {
		diag("%s: killed by signal %d (%s)", tests[i].name,
		     WTERMSIG(status), strsignal(WTERMSIG(status)));
		return false;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
	const unsigned int n = ARRAY_SIZE(tests);
	unsigned int i, failed = 0;
	struct xq_guest g;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%u\n", n);
	/* Without a guest nothing can pass: say so once. */
	rc = xq_guest_open(&g);
	xq_guest_close(&g);
	if (rc) {
		printf("Bail out! no test guest: %s (GM_XEN_DOMID=%s)\n",
		       ename(rc), getenv("GM_XEN_DOMID") ?: "unset");
		return 1;
	}
	for (i = 0; i < n; i++) {
		bool ok = run_test(i);

		printf("%s %u - %s\n", ok ? "ok" : "not ok", i + 1,
		       tests[i].name);
		failed += !ok;
	}
	printf("# test-realxen: %u passed, %u failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
