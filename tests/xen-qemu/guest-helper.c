/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-helper: runs inside the PVH test guest of the real-Xen harness.
 *
 * It fills a buffer of pattern pages whose every word names its own
 * guest-physical address, shares a set of pages with dom0 by grant (the last
 * one read-only), publishes where all of that lives in xenstore and then
 * serves dom0's requests to look at (or change) its memory from the guest's
 * side.  guest-proto.h describes the contract; this file only implements it.
 *
 * Finding guest-physical addresses from user space: the helper runs as root
 * (it is started by the guest's /init), so /proc/self/pagemap reports the
 * page frame number behind each virtual page.  In a PVH (auto-translated)
 * guest a Linux pfn is the gfn that dom0 passes to xenforeignmemory_map().
 * The frames must then stay put: the buffer is mlock()ed, transparent huge
 * pages are refused with MADV_NOHUGEPAGE (khugepaged would otherwise copy the
 * pages into a new huge page) and /init turns off compaction of unevictable
 * pages.  Every request re-reads pagemap for the page it touches and answers
 * ERROR if the frame has moved, so a moved frame is reported, never silently
 * checked against the wrong memory.
 *
 * Usage: guest-helper [-p PATTERN_PAGES] [-g GRANT_PAGES]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xengnttab.h>
#include <xenstore.h>

#include "guest-proto.h"

#define DEFAULT_PATTERN_PAGES	1024	/* 4 MiB */
#define DEFAULT_GRANT_PAGES	8
#define MAX_GRANT_PAGES		64

#define PAGEMAP_PRESENT		(UINT64_C(1) << 63)
#define PAGEMAP_PFN_MASK	((UINT64_C(1) << 55) - 1)

struct pattern_page {
	uint64_t gfn;
	uint8_t *va;
};

struct helper {
	struct xs_handle *xs;
	char dir[96];			/* absolute path of XQ_XS_DIR */
	xengntshr_handle *gs;
	int pagemap_fd;

	uint8_t *pattern;
	unsigned int nr_pattern;
	struct pattern_page *by_gfn;	/* sorted by gfn, for lookups */

	unsigned int nr_grants;		/* the last one is read-only */
	uint8_t *grant_rw, *grant_ro;
	uint8_t *grant_va[MAX_GRANT_PAGES];
	uint32_t refs[MAX_GRANT_PAGES];
	uint64_t grant_gfns[MAX_GRANT_PAGES];
	char churn[128];		/* what grant_churn() saw */
};

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gm-guest: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static int xs_put(struct helper *h, const char *key, const char *fmt, ...)
{
	char path[128], value[XQ_RUNS_CHUNK + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value))
		return -EOVERFLOW;
	snprintf(path, sizeof(path), "%s/%s", h->dir, key);
	if (!xs_write(h->xs, XBT_NULL, path, value, (unsigned int)n))
		return -errno;
	return 0;
}

/*
 * Translate a virtual address of this process to the frame behind it.
 * Without CAP_SYS_ADMIN the kernel reports pfn 0 for present pages, which
 * we refuse rather than publish.
 */
static int va_to_gfn(struct helper *h, const void *va, uint64_t *gfn)
{
	uint64_t entry;
	off_t off = (off_t)((uintptr_t)va >> XQ_PAGE_SHIFT) * sizeof(entry);
	ssize_t n;

	n = pread(h->pagemap_fd, &entry, sizeof(entry), off);
	if (n < 0)
		return -errno;
	if (n != sizeof(entry))
		return -EIO;
	if (!(entry & PAGEMAP_PRESENT))
		return -ENOENT;
	if (!(entry & PAGEMAP_PFN_MASK))
		return -EPERM;
	*gfn = entry & PAGEMAP_PFN_MASK;
	return 0;
}

static int cmp_gfn(const void *a, const void *b)
{
	const struct pattern_page *x = a, *y = b;

	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

static void fill_page(uint8_t *page, uint64_t (*word)(uint64_t, unsigned int),
		      uint64_t key)
{
	unsigned int off;
	uint64_t w;

	for (off = 0; off < XQ_PAGE_SIZE; off += sizeof(w)) {
		w = word(key, off);
		memcpy(page + off, &w, sizeof(w));
	}
}

static uint64_t grant_word(uint64_t ref, unsigned int off)
{
	return xq_grant_word((uint32_t)ref, off);
}

/* Return the first offset whose word differs from the pattern, or -1. */
static int first_bad_word(const uint8_t *page,
			  uint64_t (*word)(uint64_t, unsigned int),
			  uint64_t key)
{
	unsigned int off;
	uint64_t w;

	for (off = 0; off < XQ_PAGE_SIZE; off += sizeof(w)) {
		memcpy(&w, page + off, sizeof(w));
		if (w != word(key, off))
			return (int)off;
	}
	return -1;
}

static int setup_pattern(struct helper *h)
{
	size_t len = (size_t)h->nr_pattern * XQ_PAGE_SIZE;
	unsigned int i;
	uint64_t gfn;
	int rc;

	h->pattern = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->pattern == MAP_FAILED) {
		h->pattern = NULL;
		return -errno;
	}
	/* Before the first touch, so that no huge page is ever used. */
	if (madvise(h->pattern, len, MADV_NOHUGEPAGE))
		return -errno;
	/* Write to every page so that each one owns a private frame. */
	memset(h->pattern, 0xa5, len);
	if (mlock(h->pattern, len))
		return -errno;

	h->by_gfn = calloc(h->nr_pattern, sizeof(*h->by_gfn));
	if (!h->by_gfn)
		return -ENOMEM;
	for (i = 0; i < h->nr_pattern; i++) {
		uint8_t *va = h->pattern + (size_t)i * XQ_PAGE_SIZE;

		rc = va_to_gfn(h, va, &gfn);
		if (rc)
			return rc;
		h->by_gfn[i].gfn = gfn;
		h->by_gfn[i].va = va;
		fill_page(va, xq_pattern_word, gfn);
	}
	/* Filling must not have moved anything; check once more. */
	for (i = 0; i < h->nr_pattern; i++) {
		rc = va_to_gfn(h, h->by_gfn[i].va, &gfn);
		if (rc)
			return rc;
		if (gfn != h->by_gfn[i].gfn)
			return -EAGAIN;
	}
	qsort(h->by_gfn, h->nr_pattern, sizeof(*h->by_gfn), cmp_gfn);
	for (i = 1; i < h->nr_pattern; i++)
		if (h->by_gfn[i].gfn == h->by_gfn[i - 1].gfn)
			return -EEXIST;	/* two pages on one frame: cannot be */
	return 0;
}

static int setup_grants(struct helper *h)
{
	unsigned int nr_rw = h->nr_grants - 1, i;
	int rc;

	h->gs = xengntshr_open(NULL, 0);
	if (!h->gs)
		return -errno;
	/* Writable pages in one call, the read-only one in a second call. */
	h->grant_rw = xengntshr_share_pages(h->gs, 0, (int)nr_rw, h->refs, 1);
	if (!h->grant_rw)
		return -errno;
	h->grant_ro = xengntshr_share_pages(h->gs, 0, 1, &h->refs[nr_rw], 0);
	if (!h->grant_ro)
		return -errno;

	for (i = 0; i < h->nr_grants; i++) {
		h->grant_va[i] = i < nr_rw ?
			h->grant_rw + (size_t)i * XQ_PAGE_SIZE : h->grant_ro;
		fill_page(h->grant_va[i], grant_word, h->refs[i]);
		/*
		 * gntalloc's pages are kernel pages inserted into our mapping,
		 * so pagemap sees them too.  A page whose frame cannot be
		 * found is published as gfn 0, and dom0's cross-check of
		 * grant and foreign mappings then fails saying why.
		 */
		rc = va_to_gfn(h, h->grant_va[i], &h->grant_gfns[i]);
		if (rc) {
			say("no gfn for grant page %u: %s", i, strerror(-rc));
			h->grant_gfns[i] = 0;
		}
	}
	return 0;
}

/*
 * Which refs does gntalloc hand out once refs have been freed?  Share three
 * single pages, unshare the middle one, share two pages in one call, note
 * all refs, then unshare everything again.  Purely informational: dom0
 * prints it as a fact about the grant allocator.
 */
static void grant_churn(struct helper *h)
{
	uint32_t a, b, c, d[2];
	void *pa, *pb, *pc, *pd = NULL;

	pa = xengntshr_share_pages(h->gs, 0, 1, &a, 1);
	pb = xengntshr_share_pages(h->gs, 0, 1, &b, 1);
	pc = xengntshr_share_pages(h->gs, 0, 1, &c, 1);
	if (pa && pb && pc) {
		xengntshr_unshare(h->gs, pb, 1);
		pb = NULL;
		pd = xengntshr_share_pages(h->gs, 0, 2, d, 1);
	}
	if (pd)
		snprintf(h->churn, sizeof(h->churn),
			 "shared %u %u %u, unshared %u, then 2 pages got %u %u",
			 a, b, c, b, d[0], d[1]);
	else
		snprintf(h->churn, sizeof(h->churn), "experiment failed: %s",
			 strerror(errno));
	if (pa)
		xengntshr_unshare(h->gs, pa, 1);
	if (pb)
		xengntshr_unshare(h->gs, pb, 1);
	if (pc)
		xengntshr_unshare(h->gs, pc, 1);
	if (pd)
		xengntshr_unshare(h->gs, pd, 2);
}

static int publish(struct helper *h)
{
	char buf[XQ_RUNS_CHUNK + 64];
	unsigned int i, start, chunk = 0, nr_runs = 0;
	size_t used = 0;
	bool consecutive = true;
	int rc;

	rc = xs_put(h, "magic", "%" PRIx64, XQ_PATTERN_MAGIC);
	if (rc)
		return rc;
	rc = xs_put(h, "pattern/pages", "%u", h->nr_pattern);
	if (rc)
		return rc;
	/* Merge consecutive frames into runs and write them in chunks. */
	for (start = 0; start < h->nr_pattern; start = i) {
		char run[48];
		int n;

		for (i = start + 1; i < h->nr_pattern; i++)
			if (h->by_gfn[i].gfn != h->by_gfn[i - 1].gfn + 1)
				break;
		n = snprintf(run, sizeof(run), "%s%" PRIx64 "+%x",
			     used ? " " : "", h->by_gfn[start].gfn, i - start);
		if (used + (size_t)n > XQ_RUNS_CHUNK) {
			char key[48];

			snprintf(key, sizeof(key), "pattern/runs/%u", chunk++);
			rc = xs_put(h, key, "%s", buf);
			if (rc)
				return rc;
			used = 0;
			n = snprintf(run, sizeof(run), "%" PRIx64 "+%x",
				     h->by_gfn[start].gfn, i - start);
		}
		memcpy(buf + used, run, (size_t)n + 1);
		used += (size_t)n;
		nr_runs++;
	}
	if (used) {
		char key[48];

		snprintf(key, sizeof(key), "pattern/runs/%u", chunk++);
		rc = xs_put(h, key, "%s", buf);
		if (rc)
			return rc;
	}
	rc = xs_put(h, "pattern/nr-chunks", "%u", chunk);
	if (!rc)
		rc = xs_put(h, "pattern/nr-runs", "%u", nr_runs);
	if (rc)
		return rc;

	rc = xs_put(h, "grant/magic", "%" PRIx64, XQ_GRANT_MAGIC);
	if (!rc)
		rc = xs_put(h, "grant/count", "%u", h->nr_grants);
	if (!rc)
		rc = xs_put(h, "grant/ro-index", "%u", h->nr_grants - 1);
	if (rc)
		return rc;
	used = 0;
	for (i = 0; i < h->nr_grants; i++) {
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%u",
					 i ? " " : "", h->refs[i]);
		if (h->refs[i] != h->refs[0] + i)
			consecutive = false;
	}
	rc = xs_put(h, "grant/refs", "%s", buf);
	if (rc)
		return rc;
	used = 0;
	for (i = 0; i < h->nr_grants; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
					 "%s%" PRIx64, i ? " " : "",
					 h->grant_gfns[i]);
	rc = xs_put(h, "grant/gfns", "%s", buf);
	if (!rc)
		rc = xs_put(h, "grant/consecutive", "%d", consecutive);
	if (!rc)
		rc = xs_put(h, "grant/churn", "%s", h->churn);
	/* The answer node exists before "ready", owned by the guest. */
	if (!rc)
		rc = xs_put(h, "resp", "%s", "");
	if (!rc)
		rc = xs_put(h, "req", "%s", "");
	if (rc)
		return rc;

	say("pattern: %u pages in %u runs, first gfn %#" PRIx64
	    ", last gfn %#" PRIx64, h->nr_pattern, nr_runs,
	    h->by_gfn[0].gfn, h->by_gfn[h->nr_pattern - 1].gfn);
	say("grants: %u refs, consecutive %s, read-only index %u",
	    h->nr_grants, consecutive ? "yes" : "no", h->nr_grants - 1);
	for (i = 0; i < h->nr_grants; i++)
		say("grant %u: ref %u gfn %#" PRIx64 "%s", i, h->refs[i],
		    h->grant_gfns[i], i == h->nr_grants - 1 ? " (ro)" : "");
	return xs_put(h, "ready", "1");
}

/*
 * Resolve <space> <index> to the page it names, checking that the frame
 * behind it is still the one that was published.
 */
static uint8_t *lookup(struct helper *h, const char *space, const char *index,
		       const char **why)
{
	char *end;
	unsigned long long v;
	uint64_t gfn;

	errno = 0;
	v = strtoull(index, &end, strcmp(space, "gfn") ? 10 : 16);
	if (errno || end == index || *end) {
		*why = "bad index";
		return NULL;
	}
	if (!strcmp(space, "grant")) {
		if (v >= h->nr_grants) {
			*why = "no such grant index";
			return NULL;
		}
		if (h->grant_gfns[v] &&
		    (va_to_gfn(h, h->grant_va[v], &gfn) ||
		     gfn != h->grant_gfns[v])) {
			*why = "grant page moved";
			return NULL;
		}
		return h->grant_va[v];
	}
	if (!strcmp(space, "gfn")) {
		struct pattern_page key = { .gfn = v }, *p;

		p = bsearch(&key, h->by_gfn, h->nr_pattern, sizeof(*p),
			    cmp_gfn);
		if (!p) {
			*why = "not a pattern gfn";
			return NULL;
		}
		if (va_to_gfn(h, p->va, &gfn) || gfn != p->gfn) {
			*why = "pattern page moved";
			return NULL;
		}
		return p->va;
	}
	*why = "bad space";
	return NULL;
}

/* Handle one request line; write the answer (without <seq>) to ans. */
static void handle(struct helper *h, char *req, char *ans, size_t size)
{
	char *op, *space, *index, *off_s, *arg, *save = NULL;
	uint8_t want[XQ_MAX_IO], have[XQ_MAX_IO];
	const char *why = NULL;
	unsigned long off, len;
	uint8_t *page;
	int n, bad;

	op = strtok_r(req, " ", &save);
	space = strtok_r(NULL, " ", &save);
	index = strtok_r(NULL, " ", &save);
	if (!op || !space || !index) {
		snprintf(ans, size, "ERROR malformed request");
		return;
	}
	page = lookup(h, space, index, &why);
	if (!page) {
		snprintf(ans, size, "ERROR %s", why);
		return;
	}
	if (!strcmp(op, "pattern")) {
		bool grant = !strcmp(space, "grant");
		uint64_t key = grant ? h->refs[strtoul(index, NULL, 10)] :
				       strtoull(index, NULL, 16);

		/* The answer must reflect memory as it is now. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		bad = first_bad_word(page, grant ? grant_word : xq_pattern_word,
				     key);
		if (bad < 0)
			snprintf(ans, size, "OK");
		else
			snprintf(ans, size, "MISMATCH %d", bad);
		return;
	}
	off_s = strtok_r(NULL, " ", &save);
	arg = strtok_r(NULL, " ", &save);
	if (!off_s || !arg) {
		snprintf(ans, size, "ERROR malformed request");
		return;
	}
	off = strtoul(off_s, NULL, 10);
	if (!strcmp(op, "read")) {
		len = strtoul(arg, NULL, 10);
		if (len > XQ_MAX_IO || off > XQ_PAGE_SIZE ||
		    len > XQ_PAGE_SIZE - off) {
			snprintf(ans, size, "ERROR range");
			return;
		}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		memcpy(have, page + off, len);
		n = snprintf(ans, size, "OK ");
		xq_hex_encode(ans + n, have, (unsigned int)len);
		return;
	}
	n = xq_hex_decode(want, sizeof(want), arg);
	if (n <= 0 || off > XQ_PAGE_SIZE ||
	    (unsigned long)n > XQ_PAGE_SIZE - off) {
		snprintf(ans, size, "ERROR range");
		return;
	}
	if (!strcmp(op, "check")) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		memcpy(have, page + off, (size_t)n);
		if (!memcmp(have, want, (size_t)n)) {
			snprintf(ans, size, "OK");
		} else {
			int m = snprintf(ans, size, "MISMATCH ");

			xq_hex_encode(ans + m, have, (unsigned int)n);
		}
		return;
	}
	if (!strcmp(op, "write")) {
		memcpy(page + off, want, (size_t)n);
		/* Visible to dom0 before it reads the answer. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		snprintf(ans, size, "OK");
		return;
	}
	snprintf(ans, size, "ERROR bad op");
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	nanosleep(&ts, NULL);
}

/*
 * Serve requests forever, by polling "req".  A xenstore watch would wake us
 * sooner, but libxenstore delivers watches through a reader thread that it
 * sizes with dlsym(), which a static binary cannot rely on.  The poll backs
 * off from 5 ms right after a request to 100 ms when idle, so a test's burst
 * of requests is served quickly and an idle guest costs xenstored little.
 */
static void serve(struct helper *h)
{
	static char req[2 * XQ_MAX_IO + 256], ans[2 * XQ_MAX_IO + 256];
	static char resp[2 * XQ_MAX_IO + 320];
	char last_seq[64] = "", seq[64], req_path[128], resp_path[128];
	char op[16];
	unsigned int len, interval = 100;
	char *val, *rest;
	size_t seqlen;
	int n;

	snprintf(req_path, sizeof(req_path), "%s/req", h->dir);
	snprintf(resp_path, sizeof(resp_path), "%s/resp", h->dir);
	for (;;) {
		sleep_ms(interval);
		if (interval < 100)
			interval *= 2;
		val = xs_read(h->xs, XBT_NULL, req_path, &len);
		if (!val)
			continue;
		if (len >= sizeof(req)) {
			free(val);
			continue;
		}
		memcpy(req, val, len);
		req[len] = '\0';
		free(val);
		rest = strchr(req, ' ');
		if (!rest)
			continue;	/* empty or malformed: no seq */
		seqlen = (size_t)(rest - req);
		if (seqlen >= sizeof(seq))
			continue;
		memcpy(seq, req, seqlen);
		seq[seqlen] = '\0';
		/* Each request is answered once, however often we read it. */
		if (!strcmp(seq, last_seq))
			continue;
		strcpy(last_seq, seq);
		snprintf(op, sizeof(op), "%s", rest + 1);
		op[strcspn(op, " ")] = '\0';
		handle(h, rest + 1, ans, sizeof(ans));
		n = snprintf(resp, sizeof(resp), "%s %s", seq, ans);
		if (!xs_write(h->xs, XBT_NULL, resp_path, resp,
			      (unsigned int)n))
			say("cannot write the answer: %s", strerror(errno));
		/* One line per request: dom0's log shows the guest's side. */
		say("request %s %s: %.40s", seq, op, ans);
		interval = 5;
	}
}

static unsigned int parse_count(const char *s, unsigned int min,
				unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "gm-guest: count '%s' not in [%u, %u]\n", s,
			min, max);
		exit(2);
	}
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	struct helper h = {
		.nr_pattern = DEFAULT_PATTERN_PAGES,
		.nr_grants = DEFAULT_GRANT_PAGES,
		.pagemap_fd = -1,
	};
	char *domid, *dompath;
	const char *what;
	unsigned int len;
	int opt, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "p:g:")) != -1) {
		switch (opt) {
		case 'p':
			h.nr_pattern = parse_count(optarg, 1, 1u << 18);
			break;
		case 'g':
			h.nr_grants = parse_count(optarg, 2, MAX_GRANT_PAGES);
			break;
		default:
			fprintf(stderr, "usage: %s [-p PATTERN_PAGES] "
				"[-g GRANT_PAGES]\n", argv[0]);
			return 2;
		}
	}

	h.xs = xs_open(0);
	if (!h.xs) {
		say("FATAL: xs_open: %s (is /dev/xen/xenbus there?)",
		    strerror(errno));
		return 1;
	}
	/*
	 * Prefer absolute paths, built from the domid the toolstack wrote;
	 * xenstore takes relative paths as relative to our domain path.
	 */
	snprintf(h.dir, sizeof(h.dir), "%s", XQ_XS_DIR);
	domid = xs_read(h.xs, XBT_NULL, "domid", &len);
	dompath = domid ? xs_get_domain_path(h.xs, (unsigned int)atoi(domid)) :
			  NULL;
	if (dompath)
		snprintf(h.dir, sizeof(h.dir), "%s/%s", dompath, XQ_XS_DIR);
	else
		say("no domain path (%s); using relative paths",
		    strerror(errno));
	free(domid);
	free(dompath);
	say("publishing under %s", h.dir);

	what = "open /proc/self/pagemap";
	h.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	rc = h.pagemap_fd < 0 ? -errno : 0;
	if (!rc) {
		what = "pattern pages";
		rc = setup_pattern(&h);
	}
	if (!rc) {
		what = "grants";
		rc = setup_grants(&h);
	}
	if (!rc) {
		grant_churn(&h);
		say("grant churn: %s", h.churn);
		what = "publish";
		rc = publish(&h);
	}
	if (rc) {
		say("FATAL: %s: %s", what, strerror(-rc));
		/* Tell dom0 at once rather than let it time out. */
		xs_put(&h, "ready", "error: %s: %s", what, strerror(-rc));
		return 1;
	}
	say("ready");
	serve(&h);
	return 1;
}
