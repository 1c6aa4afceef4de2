/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe: the real-Xen harness's own end-to-end check, run in dom0.
 *
 * It maps the PVH test guest's pattern pages with libxenforeignmemory and
 * its grants with libxengnttab, checks their contents, writes through the
 * mappings and has the guest confirm what it sees, and records how real Xen
 * reports the failures that libguestmem's Xen backend (and the simulator
 * its unit tests run against) must handle.  Output is TAP; lines starting
 * with "# fact:" state an observed semantic of real Xen.
 *
 * The expected errno values below are the ones real Xen 4.17 with a Linux
 * 6.1 PV dom0 gives (see README.md); a change in them fails the probe, so
 * the simulator can be kept in step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

#include "guest-client.h"

#define PAGE	XQ_PAGE_SIZE

struct probe {
	struct xq_guest g;
	xenforeignmemory_handle *fm;
	xengnttab_handle *gt;
	xc_interface *xch;
	xen_pfn_t max_gpfn;		/* from xc_domain_maximum_gpfn() */
};

static void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e < 0 ? -e : e);

	return n ? n : "?";
}

/* A negative errno as "-ENAME (text)", 0 as "0". */
static const char *estr(int e)
{
	static char buf[4][96];
	static unsigned int slot;
	char *b = buf[slot++ % 4];

	if (!e)
		return "0";
	snprintf(b, sizeof(buf[0]), "%s%s (%s)", e < 0 ? "-" : "", ename(e),
		 strerror(e < 0 ? -e : e));
	return b;
}

/* Compare a mapped page with the pattern of gfn; report the first miss. */
static bool pattern_ok(const uint8_t *page, uint64_t gfn)
{
	unsigned int off;
	uint64_t w;

	for (off = 0; off < PAGE; off += sizeof(w)) {
		memcpy(&w, page + off, sizeof(w));
		if (w != xq_pattern_word(gfn, off)) {
			diag("gfn %#" PRIx64 " offset %#x: %#" PRIx64
			     ", expected %#" PRIx64, gfn, off, w,
			     xq_pattern_word(gfn, off));
			return false;
		}
	}
	return true;
}

static bool grant_ok(const uint8_t *page, uint32_t ref)
{
	unsigned int off;
	uint64_t w;

	for (off = 0; off < PAGE; off += sizeof(w)) {
		memcpy(&w, page + off, sizeof(w));
		if (w != xq_grant_word(ref, off)) {
			diag("grant ref %u offset %#x: %#" PRIx64
			     ", expected %#" PRIx64, ref, off, w,
			     xq_grant_word(ref, off));
			return false;
		}
	}
	return true;
}

/* Touching a page that failed to map: which signal, if any, is raised. */
static sigjmp_buf touch_jmp;

static void touch_handler(int sig)
{
	siglongjmp(touch_jmp, sig);
}

static int touch(const volatile uint8_t *p)
{
	struct sigaction sa = { .sa_handler = touch_handler }, obus, osegv;
	volatile int sig = 0;
	int caught;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	caught = sigsetjmp(touch_jmp, 1);
	if (!caught)
		(void)*p;
	else
		sig = caught;
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return sig;
}

/* A domid that names no domain right now. */
static uint32_t absent_domid(struct probe *p)
{
	uint32_t d;
	xc_dominfo_t info;

	for (d = p->g.domid + 1000; d < 0x7ff0; d++)
		if (xc_domain_getinfo(p->xch, d, 1, &info) != 1 ||
		    info.domid != d)
			return d;
	return 0x7fef;
}

/* Map one frame; return the per-page error, or the call's -errno if NULL. */
static int fmap_one(struct probe *p, uint32_t domid, xen_pfn_t gfn,
		    bool *returned_null)
{
	int err = 0;
	void *m;

	errno = 0;
	m = xenforeignmemory_map(p->fm, domid, PROT_READ, 1, &gfn, &err);
	*returned_null = !m;
	if (!m)
		return -errno;
	xenforeignmemory_unmap(p->fm, m, 1);
	return err;
}

static bool t_guest_published(struct probe *p)
{
	char refs[512], *churn;
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < p->g.nr_grants && n < sizeof(refs) - 16; i++)
		n += (size_t)snprintf(refs + n, sizeof(refs) - n, " %u",
				      p->g.grant_refs[i]);
	diag("guest domid %u, max gpfn %#lx, %u pattern pages in %u runs "
	     "(first gfn %#" PRIx64 "), %u grants:%s (read-only index %u)",
	     p->g.domid, (unsigned long)p->max_gpfn, p->g.nr_pattern,
	     p->g.nr_runs, p->g.runs[0].gfn, p->g.nr_grants, refs,
	     p->g.ro_index);
	diag("fact: gntalloc refs from one xengntshr_share_pages() call of "
	     "%u pages and a second call of 1 page:%s -> %s",
	     p->g.nr_grants - 1, refs,
	     p->g.grants_consecutive ? "consecutive" : "NOT consecutive");
	if (!xq_guest_get(&p->g, "grant/churn", &churn)) {
		diag("fact: gntalloc after a free: %s", churn);
		free(churn);
	}
	return p->g.nr_pattern > 0 && p->g.nr_grants >= 2;
}

/* All pattern pages in one batch of scattered gfns. */
static bool t_fmap_all_pattern(struct probe *p)
{
	unsigned int n = p->g.nr_pattern, i, bad = 0;
	xen_pfn_t *gfns = calloc(n, sizeof(*gfns));
	int *err = calloc(n, sizeof(*err));
	uint8_t *m = NULL;
	bool ok = false;

	if (!gfns || !err)
		goto out;
	for (i = 0; i < n; i++)
		gfns[i] = xq_guest_pattern_gfn(&p->g, i);
	m = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ, n, gfns, err);
	if (!m) {
		diag("xenforeignmemory_map(%u frames): %s", n, estr(-errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (err[i]) {
			if (bad++ < 4)
				diag("gfn %#lx: err %s", (unsigned long)gfns[i],
				     estr(err[i]));
			continue;
		}
		if (!pattern_ok(m + (size_t)i * PAGE, gfns[i]))
			bad++;
	}
	diag("%u of %u pattern frames mapped with the right contents", n - bad,
	     n);
	ok = !bad;
	xenforeignmemory_unmap(p->fm, m, n);
out:
	free(gfns);
	free(err);
	return ok;
}

/* The longest run of consecutive gfns as one contiguous range. */
static bool t_fmap_longest_run(struct probe *p)
{
	struct xq_run *best = &p->g.runs[0];
	unsigned int r, i, bad = 0;
	xen_pfn_t *gfns;
	int *err;
	uint8_t *m;

	for (r = 1; r < p->g.nr_runs; r++)
		if (p->g.runs[r].count > best->count)
			best = &p->g.runs[r];
	gfns = calloc(best->count, sizeof(*gfns));
	err = calloc(best->count, sizeof(*err));
	if (!gfns || !err) {
		free(gfns);
		free(err);
		return false;
	}
	for (i = 0; i < best->count; i++)
		gfns[i] = best->gfn + i;
	m = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ, best->count,
				 gfns, err);
	if (!m) {
		diag("map: %s", estr(-errno));
		bad = 1;
	} else {
		for (i = 0; i < best->count; i++)
			if (err[i] ||
			    !pattern_ok(m + (size_t)i * PAGE, gfns[i]))
				bad++;
		xenforeignmemory_unmap(p->fm, m, best->count);
	}
	diag("run of %u frames from gfn %#" PRIx64 ": %u bad", best->count,
	     best->gfn, bad);
	free(gfns);
	free(err);
	return !bad;
}

/* dom0 writes through a foreign mapping; the guest must see it. */
static bool t_fmap_write_seen_by_guest(struct probe *p)
{
	static const char token[] = "dom0-fmap-write!";
	xen_pfn_t gfn = xq_guest_pattern_gfn(&p->g, p->g.nr_pattern / 2);
	unsigned int off = 1000;	/* deliberately not word aligned */
	uint8_t saved[sizeof(token)], seen[sizeof(token)];
	int err = 0, rc, rc2;
	uint8_t *m;

	m = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ | PROT_WRITE, 1,
				 &gfn, &err);
	if (!m || err) {
		diag("map gfn %#lx rw: %s / err %s", (unsigned long)gfn,
		     estr(m ? 0 : -errno), estr(err));
		if (m)
			xenforeignmemory_unmap(p->fm, m, 1);
		return false;
	}
	memcpy(saved, m + off, sizeof(saved));
	memcpy(m + off, token, sizeof(token));
	rc = xq_guest_check(&p->g, XQ_SPACE_GFN, gfn, off, token,
			    sizeof(token), seen);
	if (rc)
		diag("guest check: %d %s %s", rc, rc < 0 ? estr(rc) : "",
		     xq_guest_last_error(&p->g));
	memcpy(m + off, saved, sizeof(saved));
	rc2 = xq_guest_pattern(&p->g, XQ_SPACE_GFN, gfn);
	if (rc2)
		diag("guest pattern check after restore: %d", rc2);
	xenforeignmemory_unmap(p->fm, m, 1);
	return !rc && !rc2;
}

/* The guest writes its own memory; dom0's live mapping must show it. */
static bool t_fmap_sees_guest_write(struct probe *p)
{
	static const char token[] = "guest-wrote-this";
	xen_pfn_t gfn = xq_guest_pattern_gfn(&p->g, p->g.nr_pattern - 1);
	unsigned int off = 2048 + 3;
	uint8_t saved[sizeof(token)];
	bool ok;
	int err = 0, rc;
	uint8_t *m;

	m = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ, 1, &gfn, &err);
	if (!m || err) {
		diag("map: %s / err %s", estr(m ? 0 : -errno), estr(err));
		if (m)
			xenforeignmemory_unmap(p->fm, m, 1);
		return false;
	}
	memcpy(saved, m + off, sizeof(saved));
	rc = xq_guest_write(&p->g, XQ_SPACE_GFN, gfn, off, token,
			    sizeof(token));
	ok = !rc && !memcmp(m + off, token, sizeof(token));
	if (rc)
		diag("guest write: %s %s", estr(rc),
		     xq_guest_last_error(&p->g));
	rc = xq_guest_write(&p->g, XQ_SPACE_GFN, gfn, off, saved,
			    sizeof(saved));
	ok = ok && !rc && pattern_ok(m, gfn);
	xenforeignmemory_unmap(p->fm, m, 1);
	return ok;
}

/* How a frame beyond the guest's memory is reported. */
static bool t_fmap_beyond_memory(struct probe *p)
{
	const xen_pfn_t cand[] = {
		p->max_gpfn + 1,		/* just past the last frame */
		(xen_pfn_t)1 << 36,		/* 256 TiB: past any RAM */
	};
	unsigned int i;
	bool ok = true, null;
	int e;

	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		e = fmap_one(p, p->g.domid, cand[i], &null);
		diag("fact: xenforeignmemory_map(guest, gfn %#lx beyond max "
		     "gpfn %#lx): %s, %s %s", (unsigned long)cand[i],
		     (unsigned long)p->max_gpfn,
		     null ? "returns NULL" : "returns a mapping",
		     null ? "errno" : "err[0]", estr(e));
		/* Real Xen: the call succeeds, the frame's err[] is -EINVAL. */
		if (null || e != -EINVAL)
			ok = false;
	}
	return ok;
}

/*
 * A frame below the highest gfn that nothing backs: PVH guests have RAM
 * from 0 and Xen's special pages just below 0xff000, and a 256 MiB guest
 * has nothing at 2 GiB.
 */
static bool t_fmap_hole(struct probe *p)
{
	const xen_pfn_t gfn = 0x80000;
	bool null;
	int e;

	if (gfn >= p->max_gpfn) {
		diag("gfn %#lx is not below max gpfn %#lx", (unsigned long)gfn,
		     (unsigned long)p->max_gpfn);
		return false;
	}
	e = fmap_one(p, p->g.domid, gfn, &null);
	diag("fact: xenforeignmemory_map(guest, gfn %#lx in a hole below max "
	     "gpfn): %s, %s %s", (unsigned long)gfn,
	     null ? "returns NULL" : "returns a mapping",
	     null ? "errno" : "err[0]", estr(e));
	/* Real Xen: like a frame beyond the end, -EINVAL in err[]. */
	return !null && e == -EINVAL;
}

/*
 * Without err[], one bad frame fails the whole call (xenforeignmemory.h);
 * libguestmem never does this, but the simulator should know.
 */
static bool t_fmap_null_err(struct probe *p)
{
	xen_pfn_t gfns[2] = { xq_guest_pattern_gfn(&p->g, 0), p->max_gpfn + 1 };
	void *m;
	int e;

	errno = 0;
	m = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ, 2, gfns, NULL);
	e = m ? 0 : -errno;
	diag("fact: xenforeignmemory_map({good, beyond}, err = NULL): %s, "
	     "errno %s", m ? "returns a mapping" : "returns NULL", estr(e));
	if (m)
		xenforeignmemory_unmap(p->fm, m, 2);
	return !m && e == -EINVAL;
}

/*
 * One bad frame between two good ones: the call must still succeed, mark
 * only the bad frame, and map the good ones.
 */
static bool t_fmap_mixed_batch(struct probe *p)
{
	xen_pfn_t gfns[3] = {
		xq_guest_pattern_gfn(&p->g, 0),
		p->max_gpfn + 1,
		xq_guest_pattern_gfn(&p->g, 1),
	};
	int err[3] = { 1, 1, 1 }, sig;
	bool ok;
	uint8_t *m;

	m = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ, 3, gfns, err);
	if (!m) {
		diag("map: %s", estr(-errno));
		return false;
	}
	diag("fact: batch {good, beyond, good}: returns a mapping, err[] = "
	     "{%s, %s, %s}", estr(err[0]), estr(err[1]), estr(err[2]));
	ok = !err[0] && err[1] == -EINVAL && !err[2] &&
	     pattern_ok(m, gfns[0]) && pattern_ok(m + 2 * PAGE, gfns[2]);
	sig = touch(m + PAGE);
	diag("fact: reading the page whose err[] is set raises %s",
	     sig ? strsignal(sig) : "no signal");
	if (sig != SIGBUS)
		ok = false;
	xenforeignmemory_unmap(p->fm, m, 3);
	return ok;
}

static bool t_fmap_absent_domain(struct probe *p)
{
	uint32_t d = absent_domid(p);
	xen_pfn_t gfn = xq_guest_pattern_gfn(&p->g, 0);
	bool null;
	int e;

	e = fmap_one(p, d, gfn, &null);
	diag("fact: xenforeignmemory_map(absent domid %u): %s, %s %s", d,
	     null ? "returns NULL" : "returns a mapping",
	     null ? "errno" : "err[0]", estr(e));
	/* The call succeeds; every frame says -ESRCH. */
	return !null && e == -ESRCH;
}

static bool t_fmap_dom0(struct probe *p)
{
	bool null;
	int e;

	e = fmap_one(p, 0, 0x1000, &null);
	diag("fact: xenforeignmemory_map(domid 0 from dom0, gfn 0x1000): %s, "
	     "%s %s", null ? "returns NULL" : "returns a mapping",
	     null ? "errno" : "err[0]", estr(e));
	return !null && e == -ESRCH;
}

/* Map each grant on its own, with the protection the guest granted. */
static bool t_gnt_map_each(struct probe *p)
{
	unsigned int i, bad = 0;
	uint8_t *m;

	for (i = 0; i < p->g.nr_grants; i++) {
		int prot = i == p->g.ro_index ? PROT_READ :
						PROT_READ | PROT_WRITE;

		m = xengnttab_map_grant_ref(p->gt, p->g.domid,
					    p->g.grant_refs[i], prot);
		if (!m) {
			diag("grant %u (ref %u): %s", i, p->g.grant_refs[i],
			     estr(-errno));
			bad++;
			continue;
		}
		if (!grant_ok(m, p->g.grant_refs[i]))
			bad++;
		xengnttab_unmap(p->gt, m, 1);
	}
	return !bad;
}

/* The writable grants as one contiguous mapping. */
static bool t_gnt_map_batch(struct probe *p)
{
	uint32_t refs[64];
	unsigned int i, n = 0, bad = 0;
	uint8_t *m;

	for (i = 0; i < p->g.nr_grants && n < 64; i++)
		if (i != p->g.ro_index)
			refs[n++] = p->g.grant_refs[i];
	m = xengnttab_map_domain_grant_refs(p->gt, n, p->g.domid, refs,
					    PROT_READ | PROT_WRITE);
	if (!m) {
		diag("map %u refs: %s", n, estr(-errno));
		return false;
	}
	for (i = 0; i < n; i++)
		if (!grant_ok(m + (size_t)i * PAGE, refs[i]))
			bad++;
	xengnttab_unmap(p->gt, m, n);
	return !bad;
}

static uint32_t first_rw_grant(struct probe *p)
{
	return p->g.ro_index == 0 ? 1 : 0;
}

static bool t_gnt_write_seen_by_guest(struct probe *p)
{
	static const char token[] = "dom0-grant-write";
	unsigned int idx = first_rw_grant(p), off = 77;
	uint32_t ref = p->g.grant_refs[idx];
	uint8_t saved[sizeof(token)];
	int rc, rc2;
	uint8_t *m;

	m = xengnttab_map_grant_ref(p->gt, p->g.domid, ref,
				    PROT_READ | PROT_WRITE);
	if (!m) {
		diag("map ref %u: %s", ref, estr(-errno));
		return false;
	}
	memcpy(saved, m + off, sizeof(saved));
	memcpy(m + off, token, sizeof(token));
	rc = xq_guest_check(&p->g, XQ_SPACE_GRANT, idx, off, token,
			    sizeof(token), NULL);
	if (rc)
		diag("guest check: %d %s", rc, xq_guest_last_error(&p->g));
	memcpy(m + off, saved, sizeof(saved));
	rc2 = xq_guest_pattern(&p->g, XQ_SPACE_GRANT, idx);
	xengnttab_unmap(p->gt, m, 1);
	return !rc && !rc2;
}

static bool t_gnt_sees_guest_write(struct probe *p)
{
	static const char token[] = "guest-grant-wrt";
	unsigned int idx = p->g.ro_index, off = 4000;
	uint32_t ref = p->g.grant_refs[idx];
	uint8_t saved[sizeof(token)];
	bool ok;
	int rc;
	uint8_t *m;

	/* The read-only grant: the guest can still write its own page. */
	m = xengnttab_map_grant_ref(p->gt, p->g.domid, ref, PROT_READ);
	if (!m) {
		diag("map ref %u ro: %s", ref, estr(-errno));
		return false;
	}
	memcpy(saved, m + off, sizeof(saved));
	rc = xq_guest_write(&p->g, XQ_SPACE_GRANT, idx, off, token,
			    sizeof(token));
	ok = !rc && !memcmp(m + off, token, sizeof(token));
	rc = xq_guest_write(&p->g, XQ_SPACE_GRANT, idx, off, saved,
			    sizeof(saved));
	ok = ok && !rc && grant_ok(m, ref);
	xengnttab_unmap(p->gt, m, 1);
	return ok;
}

/* One ref mapped twice at once: two views of the same page. */
static bool t_gnt_same_ref_twice(struct probe *p)
{
	unsigned int idx = first_rw_grant(p);
	uint32_t ref = p->g.grant_refs[idx];
	uint8_t *a, *b, saved, flipped;
	bool ok;

	a = xengnttab_map_grant_ref(p->gt, p->g.domid, ref,
				    PROT_READ | PROT_WRITE);
	b = xengnttab_map_grant_ref(p->gt, p->g.domid, ref,
				    PROT_READ | PROT_WRITE);
	diag("fact: mapping grant ref %u twice at once: %s", ref,
	     a && b ? "both succeed" : "the second fails");
	ok = a && b && a != b;
	if (ok) {
		saved = a[100];
		flipped = (uint8_t)~saved;
		a[100] = flipped;
		ok = b[100] == flipped;
		a[100] = saved;
	}
	if (a)
		xengnttab_unmap(p->gt, a, 1);
	if (b)
		xengnttab_unmap(p->gt, b, 1);
	return ok;
}

static bool t_gnt_write_map_of_ro_grant(struct probe *p)
{
	uint32_t ref = p->g.grant_refs[p->g.ro_index];
	uint8_t *m;
	int e;

	errno = 0;
	m = xengnttab_map_grant_ref(p->gt, p->g.domid, ref,
				    PROT_READ | PROT_WRITE);
	e = m ? 0 : -errno;
	diag("fact: xengnttab_map_grant_ref(read-only ref %u, PROT_READ|"
	     "PROT_WRITE): %s, errno %s", ref, m ? "succeeds" : "NULL",
	     estr(e));
	if (m)
		xengnttab_unmap(p->gt, m, 1);
	return !m && e == -EINVAL;
}

static bool t_gnt_unknown_ref(struct probe *p)
{
	uint32_t max = 0, cand[2];
	unsigned int i;
	bool ok = true;
	uint8_t *m;
	int e;

	for (i = 0; i < p->g.nr_grants; i++)
		if (p->g.grant_refs[i] > max)
			max = p->g.grant_refs[i];
	cand[0] = max + 1;	/* inside the grant table, never granted */
	cand[1] = 0xfffffff;	/* far beyond any grant table */
	for (i = 0; i < 2; i++) {
		errno = 0;
		m = xengnttab_map_grant_ref(p->gt, p->g.domid, cand[i],
					    PROT_READ);
		e = m ? 0 : -errno;
		diag("fact: xengnttab_map_grant_ref(unknown ref %u): %s, "
		     "errno %s", cand[i], m ? "succeeds" : "NULL", estr(e));
		if (m) {
			xengnttab_unmap(p->gt, m, 1);
			ok = false;
		} else if (e != -EINVAL) {
			ok = false;
		}
	}
	return ok;
}

/* A batch with one bad ref fails as a whole, and leaks nothing. */
static bool t_gnt_batch_one_bad(struct probe *p)
{
	unsigned int idx = first_rw_grant(p);
	uint32_t refs[2] = { p->g.grant_refs[idx], 0xfffffff };
	uint8_t *m;
	int e;

	errno = 0;
	m = xengnttab_map_domain_grant_refs(p->gt, 2, p->g.domid, refs,
					    PROT_READ);
	e = m ? 0 : -errno;
	diag("fact: xengnttab_map_domain_grant_refs({good, bad}): %s, "
	     "errno %s", m ? "succeeds" : "NULL", estr(e));
	if (m) {
		xengnttab_unmap(p->gt, m, 2);
		return false;
	}
	m = xengnttab_map_grant_ref(p->gt, p->g.domid, refs[0], PROT_READ);
	if (!m) {
		diag("good ref %u no longer maps: %s", refs[0], estr(-errno));
		return false;
	}
	xengnttab_unmap(p->gt, m, 1);
	return e == -EINVAL;
}

static bool t_gnt_absent_domain(struct probe *p)
{
	uint32_t d = absent_domid(p);
	uint8_t *m;
	int e;

	errno = 0;
	m = xengnttab_map_grant_ref(p->gt, d, p->g.grant_refs[0], PROT_READ);
	e = m ? 0 : -errno;
	diag("fact: xengnttab_map_grant_ref(absent domid %u): %s, errno %s",
	     d, m ? "succeeds" : "NULL", estr(e));
	if (m)
		xengnttab_unmap(p->gt, m, 1);
	return !m && e == -EINVAL;
}

/*
 * A granted page is also an ordinary guest frame: a grant mapping and a
 * foreign mapping of its gfn must be the same memory.
 */
static bool t_gnt_and_fmap_same_frame(struct probe *p)
{
	static const char token[] = "one-frame-2-maps";
	unsigned int idx = first_rw_grant(p), off = 512;
	xen_pfn_t gfn = p->g.grant_gfns[idx];
	uint8_t *gm, *fm, saved[sizeof(token)];
	int err = 0;
	bool ok;

	if (!gfn) {
		diag("the guest could not tell the grant page's gfn");
		return false;
	}
	gm = xengnttab_map_grant_ref(p->gt, p->g.domid, p->g.grant_refs[idx],
				     PROT_READ | PROT_WRITE);
	if (!gm) {
		diag("grant map: %s", estr(-errno));
		return false;
	}
	fm = xenforeignmemory_map(p->fm, p->g.domid, PROT_READ, 1, &gfn,
				  &err);
	if (!fm || err) {
		diag("foreign map of gfn %#lx: %s / err %s",
		     (unsigned long)gfn, estr(fm ? 0 : -errno), estr(err));
		if (fm)
			xenforeignmemory_unmap(p->fm, fm, 1);
		xengnttab_unmap(p->gt, gm, 1);
		return false;
	}
	ok = grant_ok(fm, p->g.grant_refs[idx]);
	memcpy(saved, gm + off, sizeof(saved));
	memcpy(gm + off, token, sizeof(token));
	ok = ok && !memcmp(fm + off, token, sizeof(token));
	memcpy(gm + off, saved, sizeof(saved));
	ok = ok && grant_ok(fm, p->g.grant_refs[idx]);
	xenforeignmemory_unmap(p->fm, fm, 1);
	xengnttab_unmap(p->gt, gm, 1);
	return ok;
}

struct test {
	const char *name;
	bool (*fn)(struct probe *p);
};

static const struct test tests[] = {
	{ "guest-published", t_guest_published },
	{ "fmap-all-pattern-pages", t_fmap_all_pattern },
	{ "fmap-longest-run", t_fmap_longest_run },
	{ "fmap-write-seen-by-guest", t_fmap_write_seen_by_guest },
	{ "fmap-sees-guest-write", t_fmap_sees_guest_write },
	{ "fmap-beyond-memory", t_fmap_beyond_memory },
	{ "fmap-hole", t_fmap_hole },
	{ "fmap-null-err", t_fmap_null_err },
	{ "fmap-mixed-batch", t_fmap_mixed_batch },
	{ "fmap-absent-domain", t_fmap_absent_domain },
	{ "fmap-dom0", t_fmap_dom0 },
	{ "gnt-map-each", t_gnt_map_each },
	{ "gnt-map-batch", t_gnt_map_batch },
	{ "gnt-write-seen-by-guest", t_gnt_write_seen_by_guest },
	{ "gnt-sees-guest-write", t_gnt_sees_guest_write },
	{ "gnt-same-ref-twice", t_gnt_same_ref_twice },
	{ "gnt-write-map-of-ro-grant", t_gnt_write_map_of_ro_grant },
	{ "gnt-unknown-ref", t_gnt_unknown_ref },
	{ "gnt-batch-one-bad", t_gnt_batch_one_bad },
	{ "gnt-absent-domain", t_gnt_absent_domain },
	{ "gnt-and-fmap-same-frame", t_gnt_and_fmap_same_frame },
};

int main(void)
{
	const unsigned int n = sizeof(tests) / sizeof(tests[0]);
	struct probe p = { 0 };
	unsigned int i, failed = 0;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%u\n", n);
	rc = xq_guest_open(&p.g);
	if (rc) {
		printf("Bail out! no test guest: %s (GM_XEN_DOMID=%s)\n",
		       estr(rc), getenv("GM_XEN_DOMID") ?: "unset");
		return 1;
	}
	p.fm = xenforeignmemory_open(NULL, 0);
	p.gt = xengnttab_open(NULL, 0);
	p.xch = xc_interface_open(NULL, NULL, 0);
	if (!p.fm || !p.gt || !p.xch) {
		printf("Bail out! cannot open the Xen interfaces: %s\n",
		       estr(-errno));
		return 1;
	}
	if (xc_domain_maximum_gpfn(p.xch, p.g.domid, &p.max_gpfn)) {
		printf("Bail out! xc_domain_maximum_gpfn: %s\n", estr(-errno));
		return 1;
	}

	for (i = 0; i < n; i++) {
		bool ok = tests[i].fn(&p);

		printf("%s %u - %s\n", ok ? "ok" : "not ok", i + 1,
		       tests[i].name);
		failed += !ok;
	}
	printf("# probe: %u passed, %u failed\n", n - failed, failed);

	xc_interface_close(p.xch);
	xengnttab_close(p.gt);
	xenforeignmemory_close(p.fm);
	xq_guest_close(&p.g);
	return failed ? 1 : 0;
}
