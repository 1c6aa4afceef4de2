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
 * source line, what was expected and gm_last_error().  Lines starting with
 * "# fact:" record what real Xen did, for the simulator to follow.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

#include <guestmem.h>
#include <guestmem/xen.h>

#include "guest-client.h"

#define PAGE		XQ_PAGE_SIZE
#define KiB(n)		((size_t)(n) << 10)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The small cache that forces evictions: 4 buckets of 4 pages. */
#define SMALL_BUCKET	KiB(16)
#define SMALL_BUDGET	KiB(64)

/* Largest single read of the read battery. */
#define MAX_READ	70000u

struct ctx {
	struct xq_guest g;
	uint32_t domid;
	uint64_t dom_size;	/* bytes of the domain space: max gpfn + 1 */
	uint64_t ram_end;	/* first frame past the pattern frames that
				 * Xen refuses, as a guest address */
	uint32_t absent;	/* a domid that names no domain */
	char dom_name[32];	/* "domain-<domid>" */
	/* The shared small-cache context and its on-demand domain space. */
	struct gm_xen *x;
	struct gm_space *dom;
	uint64_t rng;
};

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

static bool cur_ok;	/* the running test has not failed yet */

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

	return e ? (n ? n : "?") : "0";
}

/* Record a failure of the running test, with its line and context. */
static void fail_at(int line, const char *fmt, ...)
{
	va_list ap;

	cur_ok = false;
	printf("# line %d: ", line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/* Expect a condition; the test goes on either way. */
#define EXPECT(cond)                                                          \
	do {                                                                  \
		if (!(cond))                                                  \
			fail_at(__LINE__, "expected %s", #cond);              \
	} while (0)

/* Expect a return code; on mismatch print it with gm_last_error(). */
#define EXPECT_RC(expr, want)                                                 \
	do {                                                                  \
		long long got_ = (long long)(expr);                           \
		long long want_ = (long long)(want);                          \
		if (got_ != want_)                                            \
			fail_at(__LINE__, "%s = %lld (%s), expected %lld "    \
				"(%s); last error: %s", #expr, got_,          \
				got_ < 0 ? ename((int)got_) : "",             \
				want_, want_ < 0 ? ename((int)want_) : "",    \
				gm_last_error());                             \
	} while (0)

/* Give up on the running test: what follows depends on it. */
#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fail_at(__LINE__, "required %s; last error: %s",      \
				#cond, gm_last_error());                      \
			return false;                                         \
		}                                                             \
	} while (0)

/*
 * Check gm_last_error() against the documented form
 *   guest memory '<space>': <op> error: failed to access <gpa>-<end> at
 *   <at>: <reason>
 * with @why (if not NULL) somewhere in the reason.
 */
static void check_msg(int line, const char *space, const char *op,
		      uint64_t gpa, uint64_t len, uint64_t at, const char *why)
{
	const char *m = gm_last_error(), *p, *q;
	char head[128];
	uint64_t a, b, c;
	int n = 0;

	snprintf(head, sizeof(head), "guest memory '%s': ", space);
	p = m;
	if (strncmp(p, head, strlen(head)))
		goto bad;
	p += strlen(head);
	q = strstr(p, " error: failed to access ");
	if (!q || (op && (strlen(op) != (size_t)(q - p) ||
			  strncmp(p, op, (size_t)(q - p)))))
		goto bad;
	q += strlen(" error: failed to access ");
	if (sscanf(q, "%" SCNx64 "-%" SCNx64 " at %" SCNx64 ": %n", &a, &b,
		   &c, &n) != 3 || !n)
		goto bad;
	if (a != gpa || b != gpa + len || c != at || (why && !strstr(q, why)))
		goto bad;
	return;
bad:
	fail_at(line, "last error '%s'; expected space '%s', op '%s', range "
		"%#" PRIx64 "-%#" PRIx64 " at %#" PRIx64 ", reason with '%s'",
		m, space, op ? op : "(any)", gpa, gpa + len, at,
		why ? why : "");
}

#define EXPECT_MSG(space, op, gpa, len, at, why)                              \
	check_msg(__LINE__, (space), (op), (gpa), (len), (at), (why))

/*
 * Capture the process's stderr in a memfd, to prove that nothing (the Xen
 * libraries' default loggers in particular) writes there.
 */
struct capture {
	int saved, fd;
};

static bool capture_begin(struct capture *cap)
{
	fflush(stderr);
	cap->fd = memfd_create("stderr", MFD_CLOEXEC);
	cap->saved = dup(STDERR_FILENO);
	if (cap->fd < 0 || cap->saved < 0 ||
	    dup2(cap->fd, STDERR_FILENO) < 0) {
		diag("cannot capture stderr: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Restore stderr; return what was written meanwhile (printed as diag). */
static long capture_end(struct capture *cap)
{
	char buf[512];
	off_t n;
	ssize_t r;

	fflush(stderr);
	dup2(cap->saved, STDERR_FILENO);
	close(cap->saved);
	n = lseek(cap->fd, 0, SEEK_END);
	if (n > 0) {
		r = pread(cap->fd, buf, sizeof(buf) - 1, 0);
		buf[r > 0 ? r : 0] = '\0';
		diag("stderr got %lld bytes: %s", (long long)n, buf);
	}
	close(cap->fd);
	return (long)n;
}

/* ------------------------------------------------------------------ */
/* The guest's memory                                                  */
/* ------------------------------------------------------------------ */

/* The pattern bytes at guest address @gpa of a pattern frame. */
static void pattern_bytes(uint64_t gpa, void *out, size_t len)
{
	uint8_t *b = out;

	while (len) {
		unsigned int o = (unsigned int)(gpa & 7);
		uint64_t w = htole64(xq_pattern_word(
			gpa >> XQ_PAGE_SHIFT, (unsigned int)(gpa & 0xff8)));
		size_t n = 8 - o < len ? 8 - o : len;

		memcpy(b, (uint8_t *)&w + o, n);
		b += n;
		gpa += n;
		len -= n;
	}
}

/* The bytes of granted page @idx at offset @off. */
static void grant_bytes(const struct ctx *c, unsigned int idx,
			unsigned int off, void *out, size_t len)
{
	uint8_t *b = out;

	while (len) {
		unsigned int o = off & 7;
		uint64_t w = htole64(xq_grant_word(c->g.grant_refs[idx],
						   off & 0xff8));
		size_t n = 8 - o < len ? 8 - o : len;

		memcpy(b, (uint8_t *)&w + o, n);
		b += n;
		off += (unsigned int)n;
		len -= n;
	}
}

static uint64_t next_rand(struct ctx *c)
{
	/* splitmix64: deterministic, so a failure repeats. */
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t run_start(const struct ctx *c, unsigned int r)
{
	return c->g.runs[r].gfn << XQ_PAGE_SHIFT;
}

static uint64_t run_bytes(const struct ctx *c, unsigned int r)
{
	return (uint64_t)c->g.runs[r].count << XQ_PAGE_SHIFT;
}

/*
 * A guest address in a run of pattern frames with at least @before bytes
 * of pattern before it and @after from it, on a multiple of @align
 * (a bucket boundary, say), or 0 if none.  @nth picks among candidates.
 */
static uint64_t pattern_boundary(const struct ctx *c, uint64_t align,
				 uint64_t before, uint64_t after,
				 unsigned int nth)
{
	unsigned int r;
	uint64_t b;

	for (r = 0; r < c->g.nr_runs; r++) {
		uint64_t lo = run_start(c, r), hi = lo + run_bytes(c, r);

		for (b = (lo + before + align - 1) / align * align;
		     b + after <= hi; b += align)
			if (nth-- == 0)
				return b;
	}
	return 0;
}

/*
 * Ask the guest whether it sees exactly @buf at guest address @gpa (any
 * length, across pattern pages): one request per page piece.  Returns
 * true if it does.
 */
static bool guest_sees(struct ctx *c, uint64_t gpa, const void *buf,
		       size_t len)
{
	const uint8_t *b = buf;
	uint8_t seen[XQ_MAX_IO];

	while (len) {
		unsigned int off = (unsigned int)(gpa & (PAGE - 1));
		size_t n = PAGE - off;
		int rc;

		if (n > len)
			n = len;
		if (n > XQ_MAX_IO)
			n = XQ_MAX_IO;
		rc = xq_guest_check(&c->g, XQ_SPACE_GFN, gpa >> XQ_PAGE_SHIFT,
				    off, b, (unsigned int)n, seen);
		if (rc) {
			diag("guest check at %#" PRIx64 " (%zu bytes): %d %s",
			     gpa, n, rc, rc < 0 ? xq_guest_last_error(&c->g)
						: "mismatch");
			return false;
		}
		b += n;
		gpa += n;
		len -= n;
	}
	return true;
}

/* Restore the pattern over [gpa, gpa + len) through @s and have the guest
 * confirm every page touched holds its whole pattern again. */
static bool restore_pattern(struct ctx *c, struct gm_space *s, uint64_t gpa,
			    size_t len)
{
	uint8_t *buf = malloc(len);
	uint64_t p;
	bool ok;
	int rc;

	if (!buf)
		return false;
	pattern_bytes(gpa, buf, len);
	rc = gm_write(s, gpa, buf, len);
	free(buf);
	ok = rc == 0;
	if (rc)
		diag("restore at %#" PRIx64 ": %s (%s)", gpa, ename(rc),
		     gm_last_error());
	for (p = gpa >> XQ_PAGE_SHIFT;
	     p <= (gpa + len - 1) >> XQ_PAGE_SHIFT; p++) {
		rc = xq_guest_pattern(&c->g, XQ_SPACE_GFN, p);
		if (rc) {
			diag("gfn %#" PRIx64 " not restored: %d %s", p, rc,
			     xq_guest_last_error(&c->g));
			ok = false;
		}
	}
	return ok;
}

static struct gm_xen *xen_open(size_t bucket, size_t budget)
{
	struct gm_xen_options o = { .bucket_size = bucket,
				    .cache_bytes = budget };
	struct gm_xen *x = NULL;
	int rc = gm_xen_open(&x, &o);

	if (rc)
		diag("gm_xen_open: %s: %s", ename(rc), gm_last_error());
	return x;
}

static struct gm_xen_stats stats(struct gm_xen *x)
{
	struct gm_xen_stats st = { 0 };

	if (gm_xen_get_stats(x, &st))
		diag("gm_xen_get_stats failed: %s", gm_last_error());
	return st;
}

/* A new space holding @r (destroyed if it cannot be added). */
static struct gm_space *space_with(const char *name, unsigned int flags,
				   struct gm_region *r)
{
	struct gm_space *s = NULL;
	int rc;

	if (!r)
		return NULL;
	rc = gm_space_new(&s, name, flags);
	if (!rc)
		rc = gm_space_add_region(s, r);
	if (rc) {
		diag("space '%s': %s: %s", name, ename(rc), gm_last_error());
		gm_region_destroy(r);
		gm_space_free(s);
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */
/* ------------------------------------------------------------------ */

static const size_t read_sizes[] = {
	1, 2, 3, 4, 7, 8, 9, 15, 16, 63, 100, 511, 4095, 4096, 4097, 8191,
	12288, 16383, 16384, 16385, 20000, 32768, 65536, MAX_READ,
};

/*
 * @n random reads of pattern memory through @s (identity addresses), of
 * every size in read_sizes, plus every typed read across @nb bucket
 * boundaries of @align.  Returns the number of wrong results.
 */
static unsigned int read_battery(struct ctx *c, struct gm_space *s,
				 unsigned int n, uint64_t align,
				 unsigned int nb)
{
	static uint8_t got[MAX_READ], want[MAX_READ];
	unsigned int i, bad = 0;
	int rc;

	for (i = 0; i < n; i++) {
		unsigned int r = (unsigned int)(next_rand(c) % c->g.nr_runs);
		size_t len = read_sizes[i % ARRAY_SIZE(read_sizes)];
		uint64_t gpa;

		if (len > run_bytes(c, r))
			len = (size_t)run_bytes(c, r);
		gpa = run_start(c, r) +
		      next_rand(c) % (run_bytes(c, r) - len + 1);
		memset(got, 0, len);
		pattern_bytes(gpa, want, len);
		rc = gm_read(s, gpa, got, len);
		if (rc || memcmp(got, want, len)) {
			if (bad++ < 5)
				fail_at(__LINE__, "gm_read(%#" PRIx64
					", %zu) = %s%s; %s", gpa, len,
					ename(rc), rc ? "" : ", wrong bytes",
					gm_last_error());
		}
	}
	for (i = 0; i < nb; i++) {
		uint64_t b = pattern_boundary(c, align, 8, 8, i);
		unsigned int k;

		if (!b) {
			fail_at(__LINE__, "no pattern bucket boundary #%u", i);
			return bad + 1;
		}
		for (k = 1; k < 8; k++) {
			uint64_t a = b - k, v64 = 0, w64;
			uint32_t v32 = 0, w32;
			uint16_t v16 = 0, w16;
			int e = 0;

			pattern_bytes(a, &w64, 8);
			memcpy(&w32, &w64, 4);
			memcpy(&w16, &w64, 2);
			e |= gm_read_u64(s, a, &v64) || v64 != w64;
			e |= gm_read_le64(s, a, &v64) || v64 != le64toh(w64);
			e |= gm_read_be64(s, a, &v64) || v64 != be64toh(w64);
			if (k < 4) {
				e |= gm_read_u32(s, a, &v32) || v32 != w32;
				e |= gm_read_be32(s, a, &v32) ||
				     v32 != be32toh(w32);
			}
			if (k < 2) {
				e |= gm_read_u16(s, a, &v16) || v16 != w16;
				e |= gm_read_be16(s, a, &v16) ||
				     v16 != be16toh(w16);
			}
			if (e && bad++ < 5)
				fail_at(__LINE__, "typed read across %#" PRIx64
					" at %#" PRIx64 " wrong; %s", b, a,
					gm_last_error());
		}
	}
	return bad;
}

/* On demand, small cache: reads everywhere, evictions, budget kept. */
static bool t_foreign_ondemand_reads(struct ctx *c)
{
	struct gm_xen_stats s0 = stats(c->x), s1;
	unsigned int bad;

	bad = read_battery(c, c->dom, 400, SMALL_BUCKET, 12);
	s1 = stats(c->x);
	diag("400 reads + typed reads over %u boundaries: %u wrong; map "
	     "calls %" PRIu64 ", hits %" PRIu64 ", evictions %" PRIu64
	     ", peak %" PRIu64 " bytes", 12, bad, s1.map_calls - s0.map_calls,
	     s1.hits - s0.hits, s1.evictions - s0.evictions,
	     s1.peak_mapped_bytes);
	EXPECT(bad == 0);
	EXPECT(s1.evictions > s0.evictions);
	EXPECT(s1.hits > s0.hits);
	EXPECT(s1.mapped_bytes <= SMALL_BUDGET);
	EXPECT(s1.peak_mapped_bytes <= SMALL_BUDGET);
	EXPECT(s1.failures == s0.failures);
	return cur_ok;
}

/* Eager region over the span of every pattern frame. */
static bool t_foreign_eager_reads(struct ctx *c)
{
	const struct xq_run *last = &c->g.runs[c->g.nr_runs - 1];
	uint64_t first = c->g.runs[0].gfn;
	uint64_t npages = last->gfn + last->count - first;
	struct gm_region_info info;
	struct gm_xen_stats s0, s1;
	struct gm_region *r = NULL;
	struct gm_space *s;
	struct gm_xen *x;
	struct timespec t0, t1;
	unsigned int bad;
	int rc;

	x = xen_open(0, 0);
	REQUIRE(x);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = gm_xen_foreign_region_new(x, c->domid, first << XQ_PAGE_SHIFT,
				       npages << XQ_PAGE_SHIFT, first,
				       GM_XEN_EAGER, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_RC(rc, 0);
	s = space_with("eager", 0, r);
	if (!s) {
		gm_xen_close(x);
		return false;
	}
	s0 = stats(x);
	diag("eager region of %" PRIu64 " frames from gfn %#" PRIx64
	     ": %" PRIu64 " map calls, %.2f s", npages, first, s0.map_calls,
	     (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* Every frame of the span is guest RAM: the region is persistent. */
	EXPECT_RC(gm_space_get_regions(s, &info, 1), 1);
	EXPECT(info.mapped == 1);
	EXPECT(s0.failures == 0);
	bad = read_battery(c, s, 200, PAGE, 12);
	EXPECT(bad == 0);
	s1 = stats(x);
	/* Accesses go straight to the mapping. */
	EXPECT(s1.map_calls == s0.map_calls);
	EXPECT(s1.mapped_bytes == 0);
	gm_space_free(s);
	EXPECT(stats(x).unmap_calls >= s0.map_calls);
	gm_xen_close(x);
	return cur_ok;
}

/* ------------------------------------------------------------------ */
/* Writes, atomics, fd I/O                                             */
/* ------------------------------------------------------------------ */

/* dom0 writes through @s; the guest must see every byte. */
static bool write_seen(struct ctx *c, struct gm_space *s, unsigned int nth)
{
	static const char token[] = "dom0-wrote-across-a-bucket";
	uint64_t b = pattern_boundary(c, SMALL_BUCKET, PAGE, PAGE, nth);
	uint8_t fill[300], be[4] = { 0x12, 0x34, 0x56, 0x78 };
	char back[sizeof(token)];
	uint32_t v32 = 0;
	uint64_t a;

	REQUIRE(b);
	/* Bytes across a bucket (and page) boundary. */
	a = b - 10;
	EXPECT_RC(gm_write(s, a, token, sizeof(token)), 0);
	memset(back, 0, sizeof(back));
	EXPECT_RC(gm_read(s, a, back, sizeof(token)), 0);
	EXPECT(!memcmp(back, token, sizeof(token)));
	EXPECT(guest_sees(c, a, token, sizeof(token)));
	EXPECT(restore_pattern(c, s, a, sizeof(token)));

	/* Typed big-endian write, unaligned, straddling. */
	a = b - 2;
	EXPECT_RC(gm_write_be32(s, a, 0x12345678), 0);
	EXPECT_RC(gm_read_be32(s, a, &v32), 0);
	EXPECT(v32 == 0x12345678);
	EXPECT(guest_sees(c, a, be, sizeof(be)));
	EXPECT_RC(gm_write_le16(s, a + 0x100, 0xbeef), 0);
	EXPECT(guest_sees(c, a + 0x100, "\xef\xbe", 2));
	EXPECT(restore_pattern(c, s, a, 0x102));

	/* Fill and zero across the page boundary. */
	a = b - 150;
	memset(fill, 0xa5, sizeof(fill));
	EXPECT_RC(gm_fill(s, a, 0x1a5, sizeof(fill)), 0);
	EXPECT(guest_sees(c, a, fill, sizeof(fill)));
	memset(fill, 0, sizeof(fill));
	EXPECT_RC(gm_zero(s, a, sizeof(fill)), 0);
	EXPECT(guest_sees(c, a, fill, sizeof(fill)));
	EXPECT(restore_pattern(c, s, a, sizeof(fill)));
	return cur_ok;
}

/* The guest writes its memory; dom0 reads it through @s. */
static bool guest_write_seen(struct ctx *c, struct gm_space *s,
			     unsigned int nth)
{
	static const char token[] = "guest-wrote-this";
	uint64_t b = pattern_boundary(c, SMALL_BUCKET, PAGE, PAGE, nth);
	char got[sizeof(token)];
	uint32_t v;

	REQUIRE(b);
	/* Map (and cache) the bucket first: the write must show through
	 * a mapping that already exists. */
	EXPECT_RC(gm_read_u32(s, b + 64, &v), 0);
	EXPECT_RC(xq_guest_write(&c->g, XQ_SPACE_GFN, b >> XQ_PAGE_SHIFT, 64,
				 token, sizeof(token)),
		  0);
	EXPECT_RC(gm_read(s, b + 64, got, sizeof(got)), 0);
	EXPECT(!memcmp(got, token, sizeof(token)));
	EXPECT(restore_pattern(c, s, b + 64, sizeof(token)));
	return cur_ok;
}

static bool t_foreign_ondemand_write(struct ctx *c)
{
	write_seen(c, c->dom, 3);
	guest_write_seen(c, c->dom, 4);
	return cur_ok;
}

static bool t_foreign_eager_write(struct ctx *c)
{
	const struct xq_run *last = &c->g.runs[c->g.nr_runs - 1];
	uint64_t first = c->g.runs[0].gfn;
	uint64_t npages = last->gfn + last->count - first;
	struct gm_region *r = NULL;
	struct gm_space *s;
	struct gm_xen *x;

	x = xen_open(0, 0);
	REQUIRE(x);
	EXPECT_RC(gm_xen_foreign_region_new(x, c->domid,
					    first << XQ_PAGE_SHIFT,
					    npages << XQ_PAGE_SHIFT, first,
					    GM_XEN_EAGER, &r),
		  0);
	s = space_with("eager", 0, r);
	if (s) {
		write_seen(c, s, 5);
		guest_write_seen(c, s, 6);
		gm_space_free(s);
	}
	gm_xen_close(x);
	return cur_ok && s;
}

/* Atomics on guest memory; the guest reads the results. */
static bool atomics_on(struct ctx *c, struct gm_space *s, uint64_t a)
{
	uint64_t w[4], v64, old64, exp64;
	uint32_t old32, v32;
	uint16_t old16;
	uint8_t old8, seen[32];
	unsigned int off = (unsigned int)(a & (PAGE - 1));
	uint64_t gfn = a >> XQ_PAGE_SHIFT;

	pattern_bytes(a, w, sizeof(w));

	EXPECT_RC(gm_atomic_fetch_add_u64(s, a, 0x1000, &old64, GM_SEQ_CST),
		  0);
	EXPECT(old64 == w[0]);
	exp64 = w[0] + 0x1000;
	EXPECT_RC(xq_guest_read(&c->g, XQ_SPACE_GFN, gfn, off, seen, 8), 0);
	EXPECT(!memcmp(seen, &exp64, 8));

	/* cmpxchg: a wrong expectation fails and reports the value. */
	v64 = 1;
	EXPECT_RC(gm_atomic_cmpxchg_u64(s, a, &v64, 42, GM_ACQ_REL), 0);
	EXPECT(v64 == exp64);
	EXPECT_RC(gm_atomic_cmpxchg_u64(s, a, &v64, 42, GM_ACQ_REL), 1);
	EXPECT_RC(xq_guest_read(&c->g, XQ_SPACE_GFN, gfn, off, seen, 8), 0);
	v64 = 42;
	EXPECT(!memcmp(seen, &v64, 8));

	EXPECT_RC(gm_atomic_xchg_u32(s, a + 8, 0xdeadbeef, &old32,
				     GM_SEQ_CST),
		  0);
	EXPECT(old32 == (uint32_t)w[1]);
	EXPECT_RC(gm_atomic_fetch_or_u16(s, a + 16, 0x8001, &old16,
					 GM_RELAXED),
		  0);
	EXPECT(old16 == (uint16_t)w[2]);
	EXPECT_RC(gm_atomic_fetch_and_u8(s, a + 24, 0x0f, &old8, GM_RELAXED),
		  0);
	EXPECT(old8 == (uint8_t)w[3]);
	EXPECT_RC(gm_atomic_store_u32(s, a + 28, 0x01020304, GM_RELEASE), 0);
	EXPECT_RC(gm_atomic_load_u32(s, a + 28, &v32, GM_ACQUIRE), 0);
	EXPECT(v32 == 0x01020304);
	EXPECT_RC(xq_guest_read(&c->g, XQ_SPACE_GFN, gfn, off, seen, 32), 0);
	v32 = 0xdeadbeef;
	EXPECT(!memcmp(seen + 8, &v32, 4));
	old16 = (uint16_t)(old16 | 0x8001);
	EXPECT(!memcmp(seen + 16, &old16, 2));
	EXPECT(seen[24] == (old8 & 0x0f));
	v32 = 0x01020304;
	EXPECT(!memcmp(seen + 28, &v32, 4));

	/* Misaligned: refused, nothing written. */
	EXPECT_RC(gm_atomic_fetch_add_u32(s, a + 2, 1, NULL, GM_SEQ_CST),
		  -EINVAL);
	EXPECT(restore_pattern(c, s, a, 32));
	return cur_ok;
}

static bool t_foreign_atomics(struct ctx *c)
{
	uint64_t b = pattern_boundary(c, SMALL_BUCKET, PAGE, PAGE, 7);

	REQUIRE(b);
	/* The last words before a bucket boundary, and the first after. */
	atomics_on(c, c->dom, b - 32);
	atomics_on(c, c->dom, b);
	return cur_ok;
}

/* gm_write_to_fd / gm_read_from_fd, on a memfd and on a pipe. */
static bool t_foreign_fd_io(struct ctx *c)
{
	const size_t len = 30000;
	uint64_t b = pattern_boundary(c, SMALL_BUCKET, 8 * PAGE, 8 * PAGE, 8);
	uint8_t *want = malloc(len), *got = malloc(len), *mine = malloc(len);
	int fd = memfd_create("fdio", MFD_CLOEXEC), pfd[2] = { -1, -1 };
	uint64_t a;
	size_t i;

	if (!want || !got || !mine || fd < 0 || pipe(pfd)) {
		fail_at(__LINE__, "set-up: %s", strerror(errno));
		goto out;
	}
	if (!b) {
		fail_at(__LINE__, "no run of 16 pattern pages");
		goto out;
	}
	/* Across two bucket boundaries: the lease pins 3 of the 4 buckets
	 * the budget holds. */
	a = b - 100;
	pattern_bytes(a, want, len);

	EXPECT_RC(gm_write_to_fd(c->dom, a, len, fd, 0), len);
	EXPECT(pread(fd, got, len, 0) == (ssize_t)len);
	EXPECT(!memcmp(got, want, len));

	EXPECT_RC(gm_write_to_fd(c->dom, a, len, pfd[1], -1), len);
	memset(got, 0, len);
	for (i = 0; i < len;) {
		ssize_t n = read(pfd[0], got + i, len - i);

		if (n <= 0)
			break;
		i += (size_t)n;
	}
	EXPECT(i == len && !memcmp(got, want, len));

	/* Into the guest, from the file at an offset. */
	for (i = 0; i < len; i++)
		mine[i] = (uint8_t)(i * 7 + 3);
	EXPECT(pwrite(fd, mine, len, 4096) == (ssize_t)len);
	EXPECT_RC(gm_read_from_fd(c->dom, a, len, fd, 4096), len);
	EXPECT_RC(gm_read(c->dom, a, got, len), 0);
	EXPECT(!memcmp(got, mine, len));
	EXPECT(guest_sees(c, a, mine, 200));
	EXPECT(guest_sees(c, b - 8, mine + 92, 16));
	EXPECT(guest_sees(c, a + len - 300, mine + len - 300, 300));

	/* From the pipe, at the fd's position. */
	EXPECT(write(pfd[1], want, 5000) == 5000);
	EXPECT_RC(gm_read_from_fd(c->dom, a, 5000, pfd[0], -1), 5000);
	EXPECT(guest_sees(c, a, want, 1000));
	EXPECT(restore_pattern(c, c->dom, a, len));

	/* A range the budget cannot hold at once: -ENOBUFS, nothing moved,
	 * and nothing left pinned. */
	EXPECT(ftruncate(fd, 0) == 0);
	EXPECT_RC(gm_write_to_fd(c->dom, a, SMALL_BUDGET + PAGE, fd, 0),
		  -ENOBUFS);
	EXPECT(lseek(fd, 0, SEEK_END) == 0);
	EXPECT(stats(c->x).mapped_bytes <= SMALL_BUDGET);
	EXPECT_RC(gm_write_to_fd(c->dom, a, len, fd, 0), len);
out:
	free(want);
	free(got);
	free(mine);
	if (fd >= 0)
		close(fd);
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	return cur_ok;
}

/* Views and leases hold mappings; guest writes show through them. */
static bool t_foreign_views(struct ctx *c)
{
	uint64_t b = pattern_boundary(c, SMALL_BUCKET, PAGE, PAGE, 9);
	struct gm_xen_stats st;
	struct gm_view v;
	uint64_t v64 = 0, w64;
	const struct iovec *iov;
	struct gm_lease *l = NULL;
	uint8_t want[256];
	int n = 0, i;
	size_t tot = 0;

	REQUIRE(b);
	/* Inside one bucket. */
	EXPECT_RC(gm_view_get(c->dom, b + 8, 64, GM_PROT_READ, &v), 0);
	pattern_bytes(b + 16, &w64, 8);
	EXPECT_RC(gm_view_read_u64(&v, b + 16, &v64), 0);
	EXPECT(v64 == w64);
	EXPECT_RC(gm_view_write_u64(&v, b + 16, 0), -EACCES);
	EXPECT_RC(xq_guest_write(&c->g, XQ_SPACE_GFN, b >> XQ_PAGE_SHIFT, 16,
				 "viewview", 8),
		  0);
	EXPECT_RC(gm_view_read_u64(&v, b + 16, &v64), 0);
	EXPECT(!memcmp(&v64, "viewview", 8));
	gm_view_put(&v);
	EXPECT(restore_pattern(c, c->dom, b + 16, 8));

	/* Across a bucket boundary: one dedicated mapping, counted. */
	EXPECT_RC(gm_view_get(c->dom, b - 128, 256, GM_PROT_READ |
			      GM_PROT_WRITE, &v),
		  0);
	st = stats(c->x);
	EXPECT(st.mapped_bytes <= SMALL_BUDGET);
	pattern_bytes(b - 128, want, sizeof(want));
	EXPECT(v.len == 256 && !memcmp(v.hva, want, sizeof(want)));
	EXPECT_RC(gm_view_write(&v, b - 4, "VIEW-WRITE", 10), 0);
	EXPECT(guest_sees(c, b - 4, "VIEW-WRITE", 10));
	EXPECT_RC(gm_view_atomic_fetch_add_u32(&v, b + 8, 1, NULL,
					       GM_SEQ_CST),
		  0);
	gm_view_put(&v);
	EXPECT(restore_pattern(c, c->dom, b - 128, 256));

	/* A lease over three buckets. */
	EXPECT_RC(gm_lease_get(c->dom, b - 100, 2 * SMALL_BUCKET, GM_PROT_READ,
			       &l),
		  0);
	iov = gm_lease_iov(l, &n);
	for (i = 0; iov && i < n; i++) {
		size_t k = iov[i].iov_len < 64 ? iov[i].iov_len : 64;
		uint8_t chunk[64];

		pattern_bytes(b - 100 + tot, chunk, k);
		EXPECT(!memcmp(iov[i].iov_base, chunk, k));
		tot += iov[i].iov_len;
	}
	EXPECT(tot == 2 * SMALL_BUCKET);
	gm_lease_put(l);
	EXPECT(stats(c->x).mapped_bytes <= SMALL_BUDGET);
	return cur_ok;
}

/* Two threads read at random through the small shared cache. */
struct reader {
	struct ctx *c;
	uint64_t seed;
	unsigned int bad;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct ctx *c = rd->c;
	unsigned int i;

	for (i = 0; i < 400; i++) {
		uint64_t z = rd->seed += 0x9e3779b97f4a7c15ull, v = 0, w;
		unsigned int r, len = 8;
		uint64_t a;

		z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
		z ^= z >> 29;
		r = (unsigned int)(z % c->g.nr_runs);
		a = run_start(c, r) + (z >> 16) % (run_bytes(c, r) - len + 1);
		pattern_bytes(a, &w, len);
		if (gm_read_u64(c->dom, a, &v) || v != w)
			rd->bad++;
	}
	return NULL;
}

static bool t_foreign_threads(struct ctx *c)
{
	struct reader rd[2] = { { c, 1, 0 }, { c, 2, 0 } };
	pthread_t t[2];
	struct gm_xen_stats st;
	int i;

	for (i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, reader_main, &rd[i]) == 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	st = stats(c->x);
	EXPECT(rd[0].bad == 0 && rd[1].bad == 0);
	EXPECT(st.mapped_bytes <= SMALL_BUDGET);
	EXPECT(st.peak_mapped_bytes <= SMALL_BUDGET);
	return cur_ok;
}

/* ------------------------------------------------------------------ */
/* Mapping counters                                                    */
/* ------------------------------------------------------------------ */

static bool t_counters(struct ctx *c)
{
	struct gm_xen *x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	struct gm_xen_stats s0, s1;
	struct gm_space *s = NULL;
	uint64_t a[9];
	uint32_t v;
	unsigned int i;
	int rc;

	REQUIRE(x);
	rc = gm_xen_space_open_domain(x, c->domid, 0, &s);
	EXPECT_RC(rc, 0);
	if (rc) {
		gm_xen_close(x);
		return false;
	}
	/* Nine pattern addresses in nine different buckets. */
	for (i = 0; i < ARRAY_SIZE(a); i++) {
		a[i] = pattern_boundary(c, SMALL_BUCKET, 0, PAGE, i * 3) +
		       0x124;
		REQUIRE(a[i] != 0x124);
	}
	s0 = stats(x);
	EXPECT(s0.map_calls == 0 && s0.mapped_bytes == 0);
	EXPECT_RC(gm_read_u32(s, a[0], &v), 0);
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls + 1);
	EXPECT(s1.misses == s0.misses + 1);
	EXPECT(s1.pages_mapped == s0.pages_mapped + SMALL_BUCKET / PAGE);
	EXPECT(s1.mapped_bytes == SMALL_BUCKET);
	EXPECT(s1.hits == s0.hits);

	/* Again, and elsewhere in the bucket: no map call. */
	EXPECT_RC(gm_read_u32(s, a[0], &v), 0);
	EXPECT_RC(gm_write_u32(s, a[0] + 8, v), 0);
	s0 = s1;
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls);
	/* The read goes through the region's window and the write through
	 * the thread's cached bucket: no cache lookup, so no hit. */
	EXPECT(s1.hits == s0.hits);

	/* A working set of nine buckets in a budget of four. */
	for (i = 1; i < ARRAY_SIZE(a); i++) {
		EXPECT_RC(gm_read_u32(s, a[i], &v), 0);
		EXPECT(stats(x).mapped_bytes <= SMALL_BUDGET);
	}
	s1 = stats(x);
	diag("nine buckets: map calls %" PRIu64 ", evictions %" PRIu64
	     ", unmaps %" PRIu64 ", peak %" PRIu64, s1.map_calls,
	     s1.evictions, s1.unmap_calls, s1.peak_mapped_bytes);
	EXPECT(s1.map_calls == 9);
	EXPECT(s1.evictions >= 5);
	EXPECT(s1.unmap_calls >= 5);
	EXPECT(s1.mapped_bytes == SMALL_BUDGET);
	EXPECT(s1.peak_mapped_bytes == SMALL_BUDGET);
	EXPECT(s1.failures == 0);

	EXPECT_RC(gm_xen_invalidate(x), 0);
	EXPECT(stats(x).mapped_bytes == 0);
	gm_space_free(s);
	EXPECT(stats(x).mapped_bytes == 0);
	gm_xen_close(x);
	return cur_ok;
}

/* ------------------------------------------------------------------ */
/* Grants                                                              */
/* ------------------------------------------------------------------ */

static unsigned int rw_grant(const struct ctx *c, unsigned int k)
{
	/* The k-th writable grant index. */
	return k < c->g.ro_index ? k : k + 1;
}

/* A region over every grant, not flagged read-only. */
static bool t_grant_read_write(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, i, ro = c->g.ro_index;
	uint32_t ref0 = c->g.grant_refs[0];
	uint64_t g0 = GM_XEN_GRANT_ADDR(ref0), a;
	struct gm_xen_stats s0, s1;
	uint8_t *got, *want, seen[64];
	struct gm_region *r = NULL;
	struct gm_space *s;
	struct gm_xen *x;
	struct capture cap;
	uint32_t v;

	REQUIRE(c->g.grants_consecutive);
	/* The guest shares the read-only page last. */
	REQUIRE(ro == n - 1);
	x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	REQUIRE(x);
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g0, ref0, n, 0, &r),
		  0);
	s = space_with("grants", 0, r);
	got = malloc((size_t)n * PAGE);
	want = malloc((size_t)n * PAGE);
	if (!s || !got || !want) {
		fail_at(__LINE__, "set-up failed");
		goto out;
	}
	for (i = 0; i < n; i++)
		grant_bytes(c, i, 0, want + (size_t)i * PAGE, PAGE);

	/* Reads of every page, the read-only one included, one by one and
	 * all at once. */
	s0 = stats(x);
	EXPECT_RC(gm_read_u32(s, g0 + 0x40, &v), 0);
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls + 1);
	EXPECT(s1.pages_mapped == s0.pages_mapped + 1);
	EXPECT_RC(gm_read_u32(s, g0 + 0x80, &v), 0);
	EXPECT(stats(x).hits == s1.hits + 1);
	for (i = 0; i < n; i++) {
		EXPECT_RC(gm_read(s, g0 + (uint64_t)i * PAGE, got, PAGE), 0);
		EXPECT(!memcmp(got, want + (size_t)i * PAGE, PAGE));
	}
	memset(got, 0, (size_t)n * PAGE);
	EXPECT_RC(gm_read(s, g0, got, (size_t)n * PAGE), 0);
	EXPECT(!memcmp(got, want, (size_t)n * PAGE));

	/* Writes to the writable grants, seen by the guest; one write
	 * across two of them. */
	for (i = 0; i + 1 < n; i++) {
		unsigned int k = rw_grant(c, i);
		char token[24];

		snprintf(token, sizeof(token), "dom0->grant %u", k);
		a = g0 + (uint64_t)k * PAGE + 77 * (k + 1);
		EXPECT_RC(gm_write(s, a, token, strlen(token)), 0);
		EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, k,
					 77 * (k + 1), token,
					 (unsigned int)strlen(token), seen),
			  0);
	}
	a = g0 + PAGE - 6;
	EXPECT_RC(gm_write(s, a, "straddling", 10), 0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, 0, PAGE - 6, "stradd",
				 6, NULL),
		  0);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, 1, 0, "ling", 4,
				 NULL),
		  0);
	/* Atomics on a grant. */
	EXPECT_RC(gm_atomic_fetch_add_u64(s, g0 + 2 * PAGE + 0x100, 5, NULL,
					  GM_SEQ_CST),
		  0);
	{
		uint64_t w;

		grant_bytes(c, 2, 0x100, &w, 8);
		w += 5;
		EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, 2, 0x100, &w,
					 8, NULL),
			  0);
	}
	/* A guest write shows through dom0's cached grant mapping. */
	EXPECT_RC(gm_read_u32(s, g0 + ro * PAGE + 4000, &v), 0);
	EXPECT_RC(xq_guest_write(&c->g, XQ_SPACE_GRANT, ro, 4000, "GUEST!", 6),
		  0);
	EXPECT_RC(gm_read(s, g0 + ro * PAGE + 4000, got, 6), 0);
	EXPECT(!memcmp(got, "GUEST!", 6));
	EXPECT_RC(xq_guest_write(&c->g, XQ_SPACE_GRANT, ro, 4000,
				 want + (size_t)ro * PAGE + 4000, 6),
		  0);

	/*
	 * The read-only grant in a region not flagged read-only: a write
	 * tries one read-write map, which Xen refuses with EINVAL, at the
	 * exact address; nothing reaches stderr.
	 */
	a = g0 + (uint64_t)ro * PAGE + 0x20;
	s0 = stats(x);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_write_u32(s, a, 1), -EINVAL);
	EXPECT_MSG("grants", "write", a, 4, a, "xen-grant");
	EXPECT_RC(gm_atomic_fetch_add_u32(s, a, 1, NULL, GM_SEQ_CST),
		  -EINVAL);
	EXPECT_MSG("grants", "atomic", a, 4, a, NULL);
	/* From the last writable page into the read-only one: fails at the
	 * first byte of the read-only page; the partial write stops there. */
	a = g0 + (uint64_t)ro * PAGE - 4;
	EXPECT_RC(gm_write_u64(s, a, 0), -EINVAL);
	EXPECT_MSG("grants", "write", a, 8, a + 4, "xen-grant");
	EXPECT_RC(gm_write_partial(s, a, "12345678", 8), 4);
	EXPECT(capture_end(&cap) == 0);
	s1 = stats(x);
	EXPECT(s1.failures >= s0.failures + 4);
	EXPECT_RC(xq_guest_check(&c->g, XQ_SPACE_GRANT, ro - 1, PAGE - 4,
				 "1234", 4, NULL),
		  0);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, ro), 0);
	/* Reads of the read-only grant still work. */
	EXPECT_RC(gm_read(s, g0 + (uint64_t)ro * PAGE, got, PAGE), 0);
	EXPECT(!memcmp(got, want + (size_t)ro * PAGE, PAGE));

	/* Put the writable grants back as the guest made them. */
	for (i = 0; i < n; i++) {
		if (i == ro)
			continue;
		EXPECT_RC(gm_write(s, g0 + (uint64_t)i * PAGE,
				   want + (size_t)i * PAGE, PAGE),
			  0);
		EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, i), 0);
	}
	EXPECT(stats(x).mapped_bytes <= SMALL_BUDGET);
out:
	free(got);
	free(want);
	gm_space_free(s);
	gm_xen_close(x);
	return cur_ok;
}

/* A region flagged read-only: writes fail with -EACCES, without a map. */
static bool t_grant_rdonly_region(struct ctx *c)
{
	unsigned int ro = c->g.ro_index;
	uint32_t ref = c->g.grant_refs[ro];
	uint64_t g = GM_XEN_GRANT_ADDR(ref);
	struct gm_region *r = NULL;
	struct gm_xen_stats s0, s1;
	struct gm_space *s;
	struct gm_xen *x;
	uint8_t got[PAGE], want[PAGE];
	struct gm_view v;
	int fd;

	x = xen_open(0, 0);
	REQUIRE(x);
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g, ref, 1,
					  GM_XEN_RDONLY, &r),
		  0);
	s = space_with("grant-ro", 0, r);
	if (!s) {
		gm_xen_close(x);
		return false;
	}
	s0 = stats(x);
	EXPECT_RC(gm_write_u32(s, g + 8, 1), -EACCES);
	EXPECT_MSG("grant-ro", "write", g + 8, 4, g + 8, "read-only");
	EXPECT_RC(gm_atomic_store_u32(s, g + 8, 1, GM_SEQ_CST), -EACCES);
	EXPECT_RC(gm_view_get(s, g, 8, GM_PROT_WRITE, &v), -EACCES);
	fd = memfd_create("ro", MFD_CLOEXEC);
	EXPECT(fd >= 0 && write(fd, "xxxxxxxx", 8) == 8);
	EXPECT_RC(gm_read_from_fd(s, g, 8, fd, 0), -EACCES);
	if (fd >= 0)
		close(fd);
	s1 = stats(x);
	EXPECT(s1.map_calls == s0.map_calls);
	EXPECT(s1.failures == s0.failures);

	grant_bytes(c, ro, 0, want, PAGE);
	EXPECT_RC(gm_read(s, g, got, PAGE), 0);
	EXPECT(!memcmp(got, want, PAGE));
	EXPECT(stats(x).map_calls == s0.map_calls + 1);
	EXPECT_RC(xq_guest_pattern(&c->g, XQ_SPACE_GRANT, ro), 0);
	gm_space_free(s);
	gm_xen_close(x);
	return cur_ok;
}

/* Refs the guest never shared: -EINVAL from Xen, at the exact address. */
static bool t_grant_never_shared(struct ctx *c)
{
	unsigned int n = c->g.nr_grants, i;
	uint32_t ref0 = c->g.grant_refs[0], max = 0;
	uint64_t g0 = GM_XEN_GRANT_ADDR(ref0), far, a;
	struct gm_region *r = NULL;
	struct gm_space *s, *sf;
	struct gm_xen *x;
	struct capture cap;
	uint8_t buf[2 * PAGE], want[PAGE];
	uint32_t v;

	REQUIRE(c->g.grants_consecutive);
	for (i = 0; i < n; i++)
		if (c->g.grant_refs[i] > max)
			max = c->g.grant_refs[i];
	x = xen_open(0, 0);
	REQUIRE(x);
	/* One ref more than the guest shared. */
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, g0, ref0, n + 1, 0,
					  &r),
		  0);
	s = space_with("grants+1", 0, r);
	/* And one far beyond any grant table. */
	far = GM_XEN_GRANT_ADDR(0xfffffff);
	r = NULL;
	EXPECT_RC(gm_xen_grant_region_new(x, c->domid, far, 0xfffffff, 1, 0,
					  &r),
		  0);
	sf = space_with("grant-far", 0, r);
	if (!s || !sf) {
		gm_space_free(s);
		gm_space_free(sf);
		gm_xen_close(x);
		return false;
	}
	REQUIRE(capture_begin(&cap));
	a = g0 + (uint64_t)n * PAGE + 40;
	EXPECT_RC(gm_read_u32(s, a, &v), -EINVAL);
	EXPECT_MSG("grants+1", "read", a, 4, a, "xen-grant");
	EXPECT_RC(gm_write_u32(s, a, 1), -EINVAL);
	EXPECT_MSG("grants+1", "write", a, 4, a, "xen-grant");
	/* Across the last shared page into the unshared one. */
	a = g0 + (uint64_t)(n - 1) * PAGE;
	EXPECT_RC(gm_read(s, a, buf, sizeof(buf)), -EINVAL);
	EXPECT_MSG("grants+1", "read", a, sizeof(buf), a + PAGE, "xen-grant");
	memset(buf, 0, sizeof(buf));
	EXPECT_RC(gm_read_partial(s, a, buf, sizeof(buf)), PAGE);
	grant_bytes(c, n - 1, 0, want, PAGE);
	EXPECT(!memcmp(buf, want, PAGE));
	EXPECT_RC(gm_read_u32(sf, far + 4, &v), -EINVAL);
	EXPECT_MSG("grant-far", "read", far + 4, 4, far + 4, "xen-grant");
	EXPECT(capture_end(&cap) == 0);
	diag("fact: reads of grant ref %u (never shared) and %#x: -EINVAL",
	     max + 1, 0xfffffff);
	/* The shared pages still work. */
	EXPECT_RC(gm_read_u32(s, g0 + 8, &v), 0);
	gm_space_free(s);
	gm_space_free(sf);
	gm_xen_close(x);
	return cur_ok;
}

/* ------------------------------------------------------------------ */
/* Errors from Xen                                                     */
/* ------------------------------------------------------------------ */

/* Frames past the guest's memory: -EINVAL per frame. */
static bool t_foreign_beyond_memory(struct ctx *c)
{
	const uint64_t gpa = 1ull << 40; /* anywhere outside the domain */
	const uint64_t gfn = c->dom_size >> XQ_PAGE_SHIFT;  /* max gpfn + 1 */
	struct gm_region *r = (struct gm_region *)&r;
	struct gm_space *s;
	struct gm_xen *x;
	struct capture cap;
	uint32_t v;
	uint64_t a;
	int rc;

	x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	REQUIRE(x);
	REQUIRE(capture_begin(&cap));
	/* Eager: not one frame maps, so the creation fails with Xen's
	 * per-frame error. */
	rc = gm_xen_foreign_region_new(x, c->domid, gpa, 4 * PAGE, gfn,
				       GM_XEN_EAGER, &r);
	EXPECT_RC(rc, -EINVAL);
	EXPECT(r == NULL);
	if (!rc)
		gm_region_destroy(r);
	r = NULL;
	EXPECT_RC(gm_xen_foreign_region_new(x, c->domid, gpa, 4 * PAGE, gfn,
					    0, &r),
		  0);
	s = space_with("beyond", 0, r);
	if (s) {
		a = gpa + 0x1234;
		EXPECT_RC(gm_read_u32(s, a, &v), -EINVAL);
		EXPECT_MSG("beyond", "read", a, 4, a, "xen-foreign");
		a = gpa + 3 * PAGE + 0xff0;
		EXPECT_RC(gm_write_u64(s, a, 7), -EINVAL);
		EXPECT_MSG("beyond", "write", a, 8, a, "xen-foreign");
		EXPECT(stats(x).failures > 0);
		gm_space_free(s);
	}
	/* The hole of the domain space at 2 GiB (a 256 MiB guest). */
	a = 0x80000000ull + 0x10;
	if (a < c->dom_size) {
		EXPECT_RC(gm_read_u32(c->dom, a, &v), -EINVAL);
		EXPECT_MSG(c->dom_name, "read", a, 4, a, "xen-foreign");
	}
	/* Past the domain space: no region at all. */
	EXPECT_RC(gm_read_u32(c->dom, c->dom_size, &v), -EFAULT);
	EXPECT_MSG(c->dom_name, "read", c->dom_size, 4, c->dom_size,
		   "no region");
	EXPECT(capture_end(&cap) == 0);
	gm_xen_close(x);
	return cur_ok;
}

/* Where the guest's RAM ends, a read stops exactly at the first refused
 * frame, in an ordinary and in a fault-safe space. */
static bool ram_end_checks(struct ctx *c, struct gm_space *s)
{
	const char *name = gm_space_name(s);
	uint64_t e = c->ram_end, v64;
	uint8_t buf[200];
	struct gm_view v;
	struct gm_lease *l = (struct gm_lease *)&l;
	int fd = memfd_create("end", MFD_CLOEXEC);

	EXPECT_RC(gm_read_partial(s, e - 100, buf, sizeof(buf)), 100);
	EXPECT_RC(gm_read(s, e - 100, buf, sizeof(buf)), -EINVAL);
	EXPECT_MSG(name, "read", e - 100, sizeof(buf), e, "xen-foreign");
	EXPECT_RC(gm_read_u64(s, e - 4, &v64), -EINVAL);
	EXPECT_MSG(name, "read", e - 4, 8, e, "xen-foreign");
	EXPECT_RC(gm_read_u64(s, e + 8, &v64), -EINVAL);
	EXPECT_MSG(name, "read", e + 8, 8, e + 8, "xen-foreign");
	EXPECT_RC(gm_view_get(s, e - 8, 16, GM_PROT_READ, &v), -EINVAL);
	EXPECT_MSG(name, "view", e - 8, 16, e, "xen-foreign");
	EXPECT_RC(gm_lease_get(s, e - PAGE, 2 * PAGE, GM_PROT_READ, &l),
		  -EINVAL);
	EXPECT(l == NULL);
	EXPECT_RC(gm_write_to_fd(s, e - 100, 200, fd, 0), -EINVAL);
	EXPECT(lseek(fd, 0, SEEK_END) == 0);
	EXPECT_RC(gm_atomic_load_u64(s, e, &v64, GM_RELAXED), -EINVAL);
	EXPECT_MSG(name, "atomic", e, 8, e, NULL);
	/* The frame before is fine. */
	EXPECT_RC(gm_read_u64(s, e - 8, &v64), 0);
	if (fd >= 0)
		close(fd);
	return cur_ok;
}

static bool t_foreign_ram_end(struct ctx *c)
{
	struct capture cap;

	REQUIRE(c->ram_end);
	REQUIRE(capture_begin(&cap));
	ram_end_checks(c, c->dom);
	EXPECT(capture_end(&cap) == 0);
	return cur_ok;
}

/*
 * A fault-safe space over the domain: frames whose err[] Xen set give an
 * error, never a crash; and the eager variant over all of the domain,
 * holes and all.
 */
static bool t_fault_safe(struct ctx *c)
{
	struct gm_xen *x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	struct gm_space *s = NULL;
	struct timespec t0, t1;
	struct gm_region_info info;
	struct gm_xen_stats st;
	unsigned int bad;
	uint32_t v;
	int rc;

	REQUIRE(x);
	REQUIRE(c->ram_end);
	rc = gm_xen_space_open_domain(x, c->domid, GM_XEN_FAULT_SAFE, &s);
	EXPECT_RC(rc, 0);
	if (!rc) {
		ram_end_checks(c, s);
		EXPECT_RC(gm_read_u32(s, 0x80000000ull, &v), -EINVAL);
		EXPECT(read_battery(c, s, 50, SMALL_BUCKET, 4) == 0);
		gm_space_free(s);
		s = NULL;
	}
	gm_xen_close(x);

	/* Eager over every frame up to the highest: most are holes. */
	x = xen_open(0, 0);
	REQUIRE(x);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = gm_xen_space_open_domain(x, c->domid,
				      GM_XEN_EAGER | GM_XEN_FAULT_SAFE, &s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_RC(rc, 0);
	st = stats(x);
	diag("eager space over %" PRIu64 " frames: %" PRIu64 " map calls, %"
	     PRIu64 " frames refused, %.2f s", c->dom_size >> XQ_PAGE_SHIFT,
	     st.map_calls, st.failures,
	     (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (!rc) {
		EXPECT_RC(gm_space_get_regions(s, &info, 1), 1);
		EXPECT(info.mapped == 0);	/* not persistent: holes */
		EXPECT(st.failures > 0);
		ram_end_checks(c, s);
		bad = read_battery(c, s, 100, PAGE, 4);
		EXPECT(bad == 0);
		EXPECT_RC(gm_read_u32(s, 0x80000000ull + 4, &v), -EINVAL);
		gm_space_free(s);
	}
	gm_xen_close(x);
	return cur_ok;
}

/* A domain that does not exist: -ESRCH, every way. */
static bool t_absent_domain(struct ctx *c)
{
	struct gm_xen *x = xen_open(SMALL_BUCKET, SMALL_BUDGET);
	struct gm_space *s = (struct gm_space *)&s;
	struct gm_region *r = (struct gm_region *)&r;
	uint64_t gpa = c->g.runs[0].gfn << XQ_PAGE_SHIFT, a;
	struct capture cap;
	char want[64];
	uint32_t v;
	int rc;

	REQUIRE(x);
	diag("absent domid %u", c->absent);
	REQUIRE(capture_begin(&cap));
	EXPECT_RC(gm_xen_space_open_domain(x, c->absent, 0, &s), -ESRCH);
	EXPECT(s == NULL);
	snprintf(want, sizeof(want), "domain %u does not exist", c->absent);
	EXPECT(strstr(gm_last_error(), want) != NULL);

	rc = gm_xen_foreign_region_new(x, c->absent, gpa, 16 * PAGE,
				       gpa >> XQ_PAGE_SHIFT, GM_XEN_EAGER, &r);
	EXPECT_RC(rc, -ESRCH);
	EXPECT(r == NULL);
	if (!rc)
		gm_region_destroy(r);

	r = NULL;
	EXPECT_RC(gm_xen_foreign_region_new(x, c->absent, gpa, 16 * PAGE,
					    gpa >> XQ_PAGE_SHIFT, 0, &r),
		  0);
	s = space_with("absent", 0, r);
	if (s) {
		a = gpa + PAGE + 4;
		EXPECT_RC(gm_read_u32(s, a, &v), -ESRCH);
		EXPECT_MSG("absent", "read", a, 4, a, "xen-foreign");
		a = gpa + 9 * PAGE;
		EXPECT_RC(gm_write_u32(s, a, 1), -ESRCH);
		EXPECT_MSG("absent", "write", a, 4, a, "xen-foreign");
		gm_space_free(s);
	}
	/* Grants from a domain that does not exist: gntdev says EINVAL. */
	r = NULL;
	a = GM_XEN_GRANT_ADDR(c->g.grant_refs[0]);
	EXPECT_RC(gm_xen_grant_region_new(x, c->absent, a,
					  c->g.grant_refs[0], 1, 0, &r),
		  0);
	s = space_with("absent-grant", 0, r);
	if (s) {
		EXPECT_RC(gm_read_u32(s, a + 12, &v), -EINVAL);
		EXPECT_MSG("absent-grant", "read", a + 12, 4, a + 12,
			   "xen-grant");
		gm_space_free(s);
	}
	EXPECT(capture_end(&cap) == 0);
	EXPECT(stats(x).mapped_bytes == 0);
	gm_xen_close(x);
	return cur_ok;
}

/* The guest's pattern is intact after everything (nothing strayed). */
static bool t_guest_intact(struct ctx *c)
{
	unsigned int i, bad = 0;

	for (i = 0; i < c->g.nr_pattern; i += 37)
		if (xq_guest_pattern(&c->g, XQ_SPACE_GFN,
				     xq_guest_pattern_gfn(&c->g, i)))
			bad++;
	for (i = 0; i < c->g.nr_grants; i++)
		if (xq_guest_pattern(&c->g, XQ_SPACE_GRANT, i))
			bad++;
	EXPECT(bad == 0);
	return cur_ok;
}

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
	uint64_t gfn = last->gfn + last->count - 1, max = c->dom_size >> 12;
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
	{ "foreign-beyond-memory-einval", t_foreign_beyond_memory },
	{ "foreign-ram-end-exact", t_foreign_ram_end },
	{ "fault-safe-refused-frames", t_fault_safe },
	{ "absent-domain-esrch", t_absent_domain },
	{ "guest-pattern-intact", t_guest_intact },
};

/*
 * Connect to the guest and open the shared small-cache context and its
 * domain space.  Returns 0, or -1 after saying why.
 */
static int setup(struct ctx *c, bool verbose)
{
	struct gm_region_info info;
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
	if (rc || gm_space_get_regions(c->dom, &info, 1) != 1) {
		diag("gm_xen_space_open_domain: %s: %s", ename(rc),
		     gm_last_error());
		return -1;
	}
	c->dom_size = info.size;
	c->ram_end = find_ram_end(c);
	c->absent = find_absent_domid(c);
	if (verbose)
		diag("guest domid %u: space '%s' of %#" PRIx64 " bytes, %u "
		     "pattern pages in %u runs, RAM refused from %#" PRIx64
		     ", %u grants from ref %u (read-only index %u)", c->domid,
		     c->dom_name, c->dom_size, c->g.nr_pattern, c->g.nr_runs,
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
