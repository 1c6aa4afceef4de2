/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Edges of the Xen backend's mapping cache, on the simulator
 * (tests/xensim), that tests/test-xen.c does not reach deterministically.
 *
 * As in test-xen.c, each test starts from a fresh simulator with one
 * domain, DOMID, and the teardown fails it if xensim_reset() finds a
 * mapping or handle that was not released.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/backend.h>
#include <guestmem/xen.h>

#include "xensim/xensim.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux >= 4.17 */
#endif

#define PAGE 4096u
#define DOMID 5u	   /* the simulated guest */
#define DOM_PAGES 4096u	   /* its memory: 16 MiB */
#define SPACE "xen-cache-test"
#define BUCKET (4 * PAGE)  /* the bucket size of every context here */
#define BUDGET (1u << 20)

/* ------------------------------------------------------------------ */
/* Helpers (as in test-xen.c)                                          */
/* ------------------------------------------------------------------ */

static int setup(void **state)
{
	(void)state;
	xensim_reset(NULL);
	return xensim_domain_create(DOMID, DOM_PAGES, XENSIM_DOM_HVM);
}

static int teardown(void **state)
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
	return 0;
}

static uint8_t *gframe(uint64_t gfn, uint64_t off)
{
	uint8_t *mem = xensim_domain_mem(DOMID);

	assert_non_null(mem);
	return mem + gfn * PAGE + off;
}

/* What the guest has at frame @gfn, byte @off: a pattern tests predict. */
static uint8_t pattern(uint64_t gfn, uint64_t off)
{
	return (uint8_t)(gfn * 37 + off * 11 + 1);
}

static void guest_fill(uint64_t gfn, uint64_t n)
{
	uint64_t f, o;

	for (f = gfn; f < gfn + n; f++)
		for (o = 0; o < PAGE; o++)
			*gframe(f, o) = pattern(f, o);
}

static struct gm_xen *xen_open(void)
{
	struct gm_xen_options o = { .bucket_size = BUCKET,
				    .cache_bytes = BUDGET };
	struct gm_xen *x = NULL;

	assert_int_equal(gm_xen_open(&x, &o), 0);
	return x;
}

static struct xensim_counters sim(void)
{
	struct xensim_counters c;

	xensim_get_counters(&c);
	return c;
}

static struct gm_space *space_with(struct gm_region *r)
{
	struct gm_space *s = NULL;

	assert_int_equal(gm_space_new(&s, SPACE, 0), 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
	return s;
}

static struct gm_region *foreign(struct gm_xen *x, uint64_t gpa,
				 uint64_t npages, uint64_t gfn)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_xen_foreign_region_new(x, DOMID, gpa,
						   npages * PAGE, gfn, 0, &r),
			 0);
	return r;
}

/* The host address of @gpa, through a view of one byte there. */
static uint8_t *hva_of(struct gm_space *s, uint64_t gpa)
{
	struct gm_view v;
	uint8_t *h;

	assert_int_equal(gm_view_get(s, gpa, 1, GM_PROT_READ, &v), 0);
	h = v.hva;
	gm_view_put(&v);
	return h;
}

/* Whether any byte of [p, p + len) is mapped, per /proc/self/maps. */
static int any_mapped(const void *p, size_t len)
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

/* Whether all of [p, p + len) is mapped. */
static int all_mapped(const void *p, size_t len)
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

/* ------------------------------------------------------------------ */
/* Lost window places                                                  */
/* ------------------------------------------------------------------ */

#define L_GPA 0x400000ull
#define L_PAGES 32u /* 8 buckets */

/* Another thread's mmap that takes a hole in a window (xensim hook). */
static uint8_t *intruder;

static void take_hole(void *addr, size_t len)
{
	intruder = mmap(addr, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			0);
	if (intruder == MAP_FAILED)
		intruder = NULL;
	else
		memset(intruder, 0x77, len);
}

/*
 * A window place is lost when a failed map in it either left our
 * reservation (the library's mmap failed: nothing was replaced) or left a
 * hole that another mmap took.  The bucket is mapped elsewhere from then
 * on; when the region goes, the first kind is unmapped with the rest of
 * the window, and the other mmap's mapping is left alone.
 */
static void test_lost_places_released(void **state)
{
	struct gm_xen *x = xen_open();
	struct gm_space *s = space_with(foreign(x, L_GPA, L_PAGES, 0));
	uint8_t *base;
	uint32_t v = 0;

	(void)state;
	guest_fill(0, L_PAGES);
	base = hva_of(s, L_GPA);

	/* Bucket 2: the failed map leaves the reservation. */
	xensim_set_fail_keeps_range(1);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u32(s, L_GPA + 2 * BUCKET + 8, &v), -ENOMEM);
	xensim_set_fail_keeps_range(0);
	assert_true(all_mapped(base + 2 * BUCKET, BUCKET));
	assert_ptr_not_equal(hva_of(s, L_GPA + 2 * BUCKET + 8),
			     base + 2 * BUCKET + 8);
	assert_int_equal(gm_read_u32(s, L_GPA + 2 * BUCKET + 8, &v), 0);
	assert_memory_equal(&v, gframe(8, 8), 4);

	/* Bucket 5: another mmap takes the hole. */
	xensim_set_hole_hook(take_hole);
	assert_int_equal(xensim_inject(XENSIM_FN_FMEM_MAP2, 0, 1, ENOMEM), 0);
	assert_int_equal(gm_read_u32(s, L_GPA + 5 * BUCKET + 8, &v), -ENOMEM);
	xensim_set_hole_hook(NULL);
	assert_ptr_equal(intruder, base + 5 * BUCKET);
	assert_ptr_not_equal(hva_of(s, L_GPA + 5 * BUCKET + 8),
			     base + 5 * BUCKET + 8);

	gm_space_free(s);
	assert_int_equal(sim().foreign.live_mappings, 0);
	/* Nothing of the window is left but the other mmap's. */
	assert_false(any_mapped(base, 5 * BUCKET));
	assert_false(any_mapped(base + 6 * BUCKET, 2 * BUCKET));
	assert_int_equal(intruder[100], 0x77);
	assert_int_equal(munmap(intruder, BUCKET), 0);
	intruder = NULL;
	gm_xen_close(x);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lost_places_released),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
