/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the tests of test-realxen share (realxen.h): reporting in TAP, the
 * check of gm_last_error(), stderr capture, the guest's pattern and the
 * guest as the oracle for writes, the context and space constructors, and
 * the read battery.
 */
#define _GNU_SOURCE

#include "realxen.h"

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

bool cur_ok;	/* the running test has not failed yet */

void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

const char *ename(int e)
{
	const char *n = strerrorname_np(e < 0 ? -e : e);

	return e ? (n ? n : "?") : "0";
}

/* Record a failure of the running test, with its place and context:
 * "# <file> line <n>: ...", the file without its directory. */
void fail_in(const char *file, int line, const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	va_list ap;

	cur_ok = false;
	printf("# %s line %d: ", base ? base + 1 : file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/*
 * Check gm_last_error() against the documented form
 *   guest memory '<space>': <op> error: failed to access <gpa>-<end> at
 *   <at>: <reason>
 * with @why (if not NULL) somewhere in the reason.
 */
void check_msg(const char *file, int line, const char *space,
	       const char *op, uint64_t gpa, uint64_t len, uint64_t at,
	       const char *why)
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
	fail_in(file, line, "last error '%s'; expected space '%s', op '%s', "
		"range %#" PRIx64 "-%#" PRIx64 " at %#" PRIx64 ", reason with "
		"'%s'", m, space, op ? op : "(any)", gpa, gpa + len, at,
		why ? why : "");
}

bool capture_begin(struct capture *cap)
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
long capture_end(struct capture *cap)
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
void pattern_bytes(uint64_t gpa, void *out, size_t len)
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
void grant_bytes(const struct ctx *c, unsigned int idx,
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

uint64_t next_rand(struct ctx *c)
{
	/* splitmix64: deterministic, so a failure repeats. */
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t run_start(const struct ctx *c, unsigned int r)
{
	return c->g.runs[r].gfn << XQ_PAGE_SHIFT;
}

uint64_t run_bytes(const struct ctx *c, unsigned int r)
{
	return (uint64_t)c->g.runs[r].count << XQ_PAGE_SHIFT;
}

/*
 * A guest address in a run of pattern frames with at least @before bytes
 * of pattern before it and @after from it, on a multiple of @align
 * (a bucket boundary, say), or 0 if none.  @nth picks among candidates.
 */
uint64_t pattern_boundary(const struct ctx *c, uint64_t align,
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
bool guest_sees(struct ctx *c, uint64_t gpa, const void *buf,
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
bool restore_pattern(struct ctx *c, struct gm_space *s, uint64_t gpa,
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

struct gm_xen *xen_open(size_t bucket, size_t budget)
{
	struct gm_xen_options o = { .bucket_size = bucket,
				    .cache_bytes = budget };
	struct gm_xen *x = NULL;
	int rc = gm_xen_open(&x, &o);

	if (rc)
		diag("gm_xen_open: %s: %s", ename(rc), gm_last_error());
	return x;
}

struct gm_xen_stats stats(struct gm_xen *x)
{
	struct gm_xen_stats st = { 0 };

	if (gm_xen_get_stats(x, &st))
		diag("gm_xen_get_stats failed: %s", gm_last_error());
	return st;
}

/* A new space holding @r (destroyed if it cannot be added). */
struct gm_space *space_with(const char *name, unsigned int flags,
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
/* The read battery                                                    */
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
unsigned int read_battery(struct ctx *c, struct gm_space *s,
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
