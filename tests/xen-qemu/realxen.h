/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of test-realxen share (test-realxen.c has the overview):
 * the test context, TAP reporting and its EXPECT()/REQUIRE() macros, the
 * guest's pattern, helpers over the guest and the library (realxen-util.c)
 * and the tests, each in the file of its subject: realxen-foreign.c,
 * realxen-grant.c, realxen-gcopy.c, realxen-glist.c, realxen-errors.c.
 */
#ifndef GM_TEST_REALXEN_H
#define GM_TEST_REALXEN_H

#include <endian.h>
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
	uint64_t dom_size;	/* end of the domain space's last region */
	uint64_t max_frames;	/* max gpfn + 1 */
	unsigned int nregions;	/* regions of the domain space (RAM runs) */
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

extern bool cur_ok;	/* the running test has not failed yet */

/* A "# " line of TAP diagnostics. */
void diag(const char *fmt, ...);

/* The errno name of @e (or of -@e): "EINVAL"; "0" for 0. */
const char *ename(int e);

/*
 * Record a failure of the running test, with its place and context:
 * fail_at(__LINE__, fmt, ...) prints "# <file> line <n>: ...", <file>
 * the caller's.
 */
void fail_in(const char *file, int line, const char *fmt, ...);
#define fail_at(line, ...) fail_in(__FILE__, (line), __VA_ARGS__)

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
void check_msg(const char *file, int line, const char *space,
	       const char *op, uint64_t gpa, uint64_t len, uint64_t at,
	       const char *why);

#define EXPECT_MSG(space, op, gpa, len, at, why)                              \
	check_msg(__FILE__, __LINE__, (space), (op), (gpa), (len), (at), (why))

/*
 * Capture the process's stderr in a memfd, to prove that nothing (the Xen
 * libraries' default loggers in particular) writes there.
 */
struct capture {
	int saved, fd;
};

bool capture_begin(struct capture *cap);

/* Restore stderr; return what was written meanwhile (printed as diag). */
long capture_end(struct capture *cap);

/* ------------------------------------------------------------------ */
/* The guest's memory, the library                                     */
/* ------------------------------------------------------------------ */

/* The pattern bytes at guest address @gpa of a pattern frame. */
void pattern_bytes(uint64_t gpa, void *out, size_t len);

/* The bytes of granted page @idx at offset @off. */
void grant_bytes(const struct ctx *c, unsigned int idx, unsigned int off,
		 void *out, size_t len);

/* The next number of the test's deterministic generator. */
uint64_t next_rand(struct ctx *c);

/* The guest address and the length in bytes of pattern run @r. */
uint64_t run_start(const struct ctx *c, unsigned int r);
uint64_t run_bytes(const struct ctx *c, unsigned int r);

/*
 * A guest address in a run of pattern frames with at least @before bytes
 * of pattern before it and @after from it, on a multiple of @align
 * (a bucket boundary, say), or 0 if none.  @nth picks among candidates.
 */
uint64_t pattern_boundary(const struct ctx *c, uint64_t align,
			  uint64_t before, uint64_t after, unsigned int nth);

/* Whether the guest sees exactly @buf at guest address @gpa. */
bool guest_sees(struct ctx *c, uint64_t gpa, const void *buf, size_t len);

/* Restore the pattern over [gpa, gpa + len) through @s and have the guest
 * confirm every page touched holds its whole pattern again. */
bool restore_pattern(struct ctx *c, struct gm_space *s, uint64_t gpa,
		     size_t len);

/* A context with buckets of @bucket bytes and a budget of @budget (0: the
 * defaults), or NULL after saying why. */
struct gm_xen *xen_open(size_t bucket, size_t budget);

/* The context's statistics (zeros after saying why, on failure). */
struct gm_xen_stats stats(struct gm_xen *x);

/* A new space holding @r (destroyed if it cannot be added), or NULL. */
struct gm_space *space_with(const char *name, unsigned int flags,
			    struct gm_region *r);

/*
 * @n random reads of pattern memory through @s (identity addresses), of
 * every size up to MAX_READ, plus every typed read across @nb bucket
 * boundaries of @align.  Returns the number of wrong results.
 */
unsigned int read_battery(struct ctx *c, struct gm_space *s, unsigned int n,
			  uint64_t align, unsigned int nb);

/* ------------------------------------------------------------------ */
/* The tests: true if passed                                           */
/* ------------------------------------------------------------------ */

/* realxen-foreign.c */
bool t_counters(struct ctx *c);
bool t_foreign_ondemand_reads(struct ctx *c);
bool t_foreign_eager_reads(struct ctx *c);
bool t_foreign_ondemand_write(struct ctx *c);
bool t_foreign_eager_write(struct ctx *c);
bool t_foreign_atomics(struct ctx *c);
bool t_foreign_fd_io(struct ctx *c);
bool t_foreign_views(struct ctx *c);
bool t_foreign_threads(struct ctx *c);

/* realxen-grant.c */
bool t_grant_read_write(struct ctx *c);
bool t_grant_rdonly_region(struct ctx *c);
bool t_grant_never_shared(struct ctx *c);

/* realxen-gcopy.c */
bool t_gcopy_reads(struct ctx *c);
bool t_gcopy_writes(struct ctx *c);
bool t_gcopy_errors(struct ctx *c);

/* realxen-glist.c */
bool t_glist_shuffled(struct ctx *c);
bool t_glist_write(struct ctx *c);
bool t_glist_errors(struct ctx *c);

/* realxen-errors.c */
bool t_foreign_beyond_memory(struct ctx *c);
bool t_foreign_ram_end(struct ctx *c);
bool t_fault_safe(struct ctx *c);
bool t_absent_domain(struct ctx *c);
bool t_guest_intact(struct ctx *c);
bool t_domain_physmap(struct ctx *c);
bool t_domain_balloon(struct ctx *c);

#endif /* GM_TEST_REALXEN_H */
