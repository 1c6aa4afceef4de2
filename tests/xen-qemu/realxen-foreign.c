/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-realxen's tests of foreign regions against real Xen: reads through
 * the small on-demand cache and an eager region, writes the guest sees and
 * guest writes dom0 sees, atomics, fd I/O, views and leases, threads, and
 * the cache's counters (test-realxen.c has the overview).
 */
#define _GNU_SOURCE

#include <pthread.h>

#include "realxen.h"

/* ------------------------------------------------------------------ */
/* Reads                                                               */
/* ------------------------------------------------------------------ */

/* On demand, small cache: reads everywhere, evictions, budget kept. */
bool t_foreign_ondemand_reads(struct ctx *c)
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
	/* The typed reads (29 at each boundary) reuse the two buckets
	 * around it, which are published once mapped: those accesses never
	 * reach the cache's lookup (a hit), they are served directly. */
	EXPECT(s1.hits == s0.hits);
	EXPECT(s1.mapped_bytes <= SMALL_BUDGET);
	EXPECT(s1.peak_mapped_bytes <= SMALL_BUDGET);
	EXPECT(s1.failures == s0.failures);
	return cur_ok;
}

/* Eager region over the span of every pattern frame. */
bool t_foreign_eager_reads(struct ctx *c)
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

bool t_foreign_ondemand_write(struct ctx *c)
{
	write_seen(c, c->dom, 3);
	guest_write_seen(c, c->dom, 4);
	return cur_ok;
}

bool t_foreign_eager_write(struct ctx *c)
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

bool t_foreign_atomics(struct ctx *c)
{
	uint64_t b = pattern_boundary(c, SMALL_BUCKET, PAGE, PAGE, 7);

	REQUIRE(b);
	/* The last words before a bucket boundary, and the first after. */
	atomics_on(c, c->dom, b - 32);
	atomics_on(c, c->dom, b);
	return cur_ok;
}

/* gm_write_to_fd / gm_read_from_fd, on a memfd and on a pipe. */
bool t_foreign_fd_io(struct ctx *c)
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
bool t_foreign_views(struct ctx *c)
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

bool t_foreign_threads(struct ctx *c)
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

bool t_counters(struct ctx *c)
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
