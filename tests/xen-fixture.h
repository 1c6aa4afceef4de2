/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the Xen backend's tests on the simulator (tests/xensim) share:
 * the fixture (a fresh simulator per test with one domain, DOMID, and a
 * teardown that fails the test if xensim_reset() finds a mapping or
 * handle that was not released), constructors that fail the test when
 * they cannot make what was asked, the guest's memory and the pattern
 * the tests fill it with, the counters of the library and the simulator,
 * the check of gm_last_error(), and what /proc/self/maps says of a range.
 *
 * Include after defining _GNU_SOURCE.
 */
#ifndef GM_TEST_XEN_FIXTURE_H
#define GM_TEST_XEN_FIXTURE_H

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

#define PAGE 4096u
#define DOMID 5u	   /* the simulated guest */
#define DOM_PAGES 4096u	   /* its memory: 16 MiB */
#define NODOM 99u	   /* a domain that does not exist */
#define SPACE "xen-test"   /* the name of every space space_with() makes */

#define KiB(n) ((size_t)(n) * 1024)
#define MiB(n) ((size_t)(n) * 1024 * 1024)

/*
 * The region of the pinning, lookup cache and window tests: PIN_PAGES
 * frames from gfn 0 at PIN_GPA, in buckets of PIN_BUCKET, with room for
 * four of them when the context's budget is PIN_BUDGET.
 */
#define PIN_BUCKET KiB(16)
#define PIN_BUDGET (4 * PIN_BUCKET)
#define PIN_PAGES 256u /* 64 buckets */
#define PIN_GPA 0x400000ull

/* The region of the injected fault tests: F_PAGES frames from F_GFN at
 * F_GPA, in buckets of F_BUCKET. */
#define F_GPA 0x40000ull
#define F_GFN 200u
#define F_PAGES 64u
#define F_BUCKET KiB(16)

/* cmocka setup and teardown: a fresh simulator with DOMID, DOM_PAGES
 * frames; the teardown fails the test on anything left behind. */
int setup(void **state);
int teardown(void **state);

/* The space name gm_last_error() should report; setup() sets SPACE. */
extern const char *msg_space;

/* The guest's memory, and its own copy of frame @gfn at byte @off. */
uint8_t *guest(void);
uint8_t *gframe(uint64_t gfn, uint64_t off);

/* A context with buckets of @bucket bytes and a budget of @budget (0: the
 * defaults). */
struct gm_xen *xen_open(size_t bucket, size_t budget);

/* The context's statistics, and the simulator's counters. */
struct gm_xen_stats xstats(struct gm_xen *x);
struct xensim_counters sim(void);

/* A new space named SPACE holding @r. */
struct gm_space *space_with(struct gm_region *r);

/* A foreign region of @npages frames of @domid from @gfn at @gpa. */
struct gm_region *foreign(struct gm_xen *x, uint32_t domid, uint64_t gpa,
			  uint64_t npages, uint64_t gfn, unsigned int flags);

/* A grant region of DOMID's refs [first_ref, first_ref + count) at @gpa. */
struct gm_region *grant(struct gm_xen *x, uint64_t gpa, uint32_t first_ref,
			uint32_t count, unsigned int flags);

/* The guest grants @count frames from @gfn to us; returns the first ref. */
uint32_t share(uint64_t gfn, uint32_t count, int writable);

/* The 32-bit word guest_fill() puts at byte @off of frame @gfn. */
uint32_t pattern(uint64_t gfn, uint64_t off);

/* Fill frames [gfn, gfn + n) with pattern(). */
void guest_fill(uint64_t gfn, uint64_t n);

/* The guest's 32-bit word at byte @off of frame @gfn. */
uint32_t guest_u32(uint64_t gfn, uint64_t off);

/* Read one word of each PIN_BUCKET bucket in [first, last] of the region
 * at PIN_GPA, and check it against pattern(). */
void touch_buckets(struct gm_space *s, unsigned int first, unsigned int last);

/* The host address of @gpa in a view of 4 bytes there. */
uint8_t *hva_of(struct gm_space *s, uint64_t gpa);

/* Whether [p, p + len) is all mapped (reserved or not), and whether any
 * byte of it is, from /proc/self/maps. */
int range_mapped(const void *p, size_t len);
int any_mapped(const void *p, size_t len);

/*
 * A hole hook for xensim_set_hole_hook(): another thread's mmap that takes
 * the hole a failed map left in a window, filled with 0x77, and left in
 * intruder (NULL if the mmap failed).  The test unmaps it.
 */
extern uint8_t *intruder;
void take_hole(void *addr, size_t len);

/*
 * Check gm_last_error() against
 *   guest memory '<msg_space>': <op> error: failed to access <gpa>-<end>
 *   at <at>: <why>
 * with <why> containing @why (NULL: anything) and @op NULL for any.
 */
void check_msg(const char *op, uint64_t gpa, uint64_t len, uint64_t at,
	       const char *why, const char *file, int line);

#define expect_msg(op, gpa, len, at, why)                                     \
	check_msg((op), (gpa), (len), (at), (why), __FILE__, __LINE__)

#endif /* GM_TEST_XEN_FIXTURE_H */
