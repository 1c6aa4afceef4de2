/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture the Xen backend's tests on the simulator share
 * (xen-fixture.h). */
#define _GNU_SOURCE

#include "xen-fixture.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux >= 4.17 */
#endif

const char *msg_space = SPACE;

int setup(void **state)
{
	(void)state;
	msg_space = SPACE;
	xensim_reset(NULL);
	return xensim_domain_create(DOMID, DOM_PAGES, XENSIM_DOM_HVM);
}

/* Every test releases what it mapped and opened. */
int teardown(void **state)
{
	struct xensim_counters c;
	int leaks;

	(void)state;
	leaks = xensim_reset(&c);
	if (leaks)
		print_error("leaked: %" PRIu64 " mappings (%" PRIu64
			    " pages), %" PRIu64 " handles\n",
			    c.all.leaked_mappings, c.all.leaked_pages,
			    c.leaked_handles);
	assert_int_equal(leaks, 0);
	/* The library hands the Xen libraries a silent logger: failed map
	 * calls (which real libxengnttab reports) never reach stderr. */
	assert_int_equal(c.stderr_messages, 0);
	return 0;
}

uint8_t *guest(void)
{
	uint8_t *mem = xensim_domain_mem(DOMID);

	assert_non_null(mem);
	return mem;
}

/* The guest's own copy of frame @gfn at byte @off. */
uint8_t *gframe(uint64_t gfn, uint64_t off)
{
	return guest() + gfn * PAGE + off;
}

struct gm_xen *xen_open(size_t bucket, size_t budget)
{
	struct gm_xen_options o = { .bucket_size = bucket,
				    .cache_bytes = budget };
	struct gm_xen *x = NULL;

	assert_int_equal(gm_xen_open(&x, &o), 0);
	assert_non_null(x);
	return x;
}

struct gm_xen_stats xstats(struct gm_xen *x)
{
	struct gm_xen_stats st;

	assert_int_equal(gm_xen_get_stats(x, &st), 0);
	return st;
}

struct xensim_counters sim(void)
{
	struct xensim_counters c;

	xensim_get_counters(&c);
	return c;
}

/* A new space holding @r. */
struct gm_space *space_with(struct gm_region *r)
{
	struct gm_space *s = NULL;

	assert_int_equal(gm_space_new(&s, SPACE, 0), 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
	return s;
}

struct gm_region *foreign(struct gm_xen *x, uint32_t domid, uint64_t gpa,
			  uint64_t npages, uint64_t gfn, unsigned int flags)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_xen_foreign_region_new(x, domid, gpa,
						   npages * PAGE, gfn, flags,
						   &r),
			 0);
	assert_non_null(r);
	return r;
}

struct gm_region *grant(struct gm_xen *x, uint64_t gpa, uint32_t first_ref,
			uint32_t count, unsigned int flags)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_xen_grant_region_new(x, DOMID, gpa, first_ref,
						 count, flags, &r),
			 0);
	assert_non_null(r);
	return r;
}

/* The guest grants @count frames from @gfn to us; returns the first ref. */
uint32_t share(uint64_t gfn, uint32_t count, int writable)
{
	uint32_t ref = 0;

	assert_int_equal(xensim_grant_share_range(DOMID, gfn, count, writable,
						  &ref),
			 0);
	return ref;
}

/* Fill frames [gfn, gfn + n) with a pattern the tests can predict. */
uint32_t pattern(uint64_t gfn, uint64_t off)
{
	return (uint32_t)(gfn * 0x9e3779b1u) ^ (uint32_t)(off * 0x85ebca6bu);
}

void guest_fill(uint64_t gfn, uint64_t n)
{
	uint64_t f, o;

	for (f = gfn; f < gfn + n; f++)
		for (o = 0; o < PAGE; o += 4) {
			uint32_t v = pattern(f, o);

			memcpy(gframe(f, o), &v, 4);
		}
}

uint32_t guest_u32(uint64_t gfn, uint64_t off)
{
	uint32_t v;

	memcpy(&v, gframe(gfn, off), 4);
	return v;
}

/* Read one word of each bucket in [first, last]. */
void touch_buckets(struct gm_space *s, unsigned int first, unsigned int last)
{
	unsigned int b;
	uint32_t v;

	for (b = first; b <= last; b++) {
		uint64_t off = b * PIN_BUCKET + 8;

		assert_int_equal(gm_read_u32(s, PIN_GPA + off, &v), 0);
		assert_int_equal(v, pattern(off / PAGE, 8));
	}
}

/* Whether [p, p + len) is all mapped (reserved or not), from
 * /proc/self/maps: msync() would do, but valgrind objects to it on
 * PROT_NONE memory. */
int range_mapped(const void *p, size_t len)
{
	uintptr_t cur = (uintptr_t)p, end = cur + len;
	unsigned long lo, hi;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (cur < end && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= cur &&
		    cur < hi)
			cur = hi;
	fclose(f);
	return cur >= end;
}

/* Whether any byte of [p, p + len) is mapped, per /proc/self/maps. */
int any_mapped(const void *p, size_t len)
{
	uintptr_t lo0 = (uintptr_t)p, hi0 = lo0 + len;
	unsigned long lo, hi;
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < hi0 &&
		    hi > lo0)
			found = 1;
	fclose(f);
	return found;
}

/* Another thread's mmap that takes a hole in a window (xensim hook). */
uint8_t *intruder;

void take_hole(void *addr, size_t len)
{
	intruder = mmap(addr, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			0);
	if (intruder == MAP_FAILED)
		intruder = NULL;
	else
		memset(intruder, 0x77, len);
}

/* The host address of @gpa in a view of 4 bytes there. */
uint8_t *hva_of(struct gm_space *s, uint64_t gpa)
{
	struct gm_view v;
	uint8_t *h;

	assert_int_equal(gm_view_get(s, gpa, 4, GM_PROT_READ, &v), 0);
	h = v.hva;
	gm_view_put(&v);
	return h;
}

/*
 * Check gm_last_error() against
 *   guest memory '<msg_space>': <op> error: failed to access <gpa>-<end>
 *   at <at>: <why>
 * with <why> containing @why (NULL: anything).
 */
void check_msg(const char *op, uint64_t gpa, uint64_t len, uint64_t at,
	       const char *why, const char *file, int line)
{
	const char *m = gm_last_error();
	char name[64], opb[32];
	uint64_t a = 0, b = 0, c = 0;
	int n = 0;

	if (sscanf(m,
		   "guest memory '%63[^']': %31s error: failed to access "
		   "%" SCNx64 "-%" SCNx64 " at %" SCNx64 ": %n",
		   name, opb, &a, &b, &c, &n) != 5 || !n ||
	    strcmp(name, msg_space) || (op && strcmp(opb, op)) || a != gpa ||
	    b != gpa + len || c != at || (why && !strstr(m + n, why))) {
		print_error("last error '%s'\n  expected op '%s', range "
			    "0x%" PRIx64 "-0x%" PRIx64 " at 0x%" PRIx64
			    ", reason with '%s'\n",
			    m, op ? op : "(any)", gpa, gpa + len, at,
			    why ? why : "");
		_fail(file, line);
	}
}
