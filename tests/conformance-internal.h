/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal to the conformance suite (conformance.h says what it tests and
 * how a backend runs it): the fixture state every test starts from, the
 * checks and the shadow copy that conformance.c keeps, the typed helpers
 * of conformance-typed.c, and the tests of each conformance-*.c file,
 * which conf_run() runs as one cmocka group per fixture.  Include it
 * first, after defining _GNU_SOURCE.
 */
#ifndef CONFORMANCE_INTERNAL_H
#define CONFORMANCE_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "conformance.h"
#include "test-util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- conformance.c: the fixture state ---- */

/*
 * cmocka hands tests a void ** only, so conf_run() parks the fixture it is
 * running here.  conf_run() is not reentrant, which is fine for a test
 * binary's main().
 */
extern const struct conf_fixture *cf;
extern void *cf_ctx;

enum { R_A, R_B, R_C, R_RO, R_4G, R_TOP, NREG };

/* One region of the layout and its shadow copy. */
struct creg {
	uint64_t gpa, size;
	int rdonly;
	int live;		/* in the space */
	const uint8_t *hva0;	/* gm_region.hva when it was made */
	uint8_t *shadow;	/* what the region must contain */
};

struct conf_state {
	struct gm_space *s;
	uint64_t u;		/* layout unit: 64 KiB rounded to granule */
	struct creg r[NREG];
};

/* Layout addresses in units of st->u. */
#define GPA_A(st) 0
#define GPA_B(st) ((st)->u)
#define GPA_HOLE(st) (2 * (st)->u)
#define GPA_C(st) (3 * (st)->u)
#define GPA_RO(st) (4 * (st)->u)
#define GPA_HOLE2(st) (5 * (st)->u)
#define GPA_HOT(st) (8 * (st)->u)
#define GPA_4G(st) (UINT64_C(1) << 32)
#define GPA_TOP(st) (0 - (st)->u)

/* ---- conformance.c: checks ---- */

/* The name of -@e ("EINVAL"), "ok" if @e >= 0, "?" if unknown. */
const char *errname(long long e);

/* Fail the test unless @got == @want, naming the call and both codes. */
void check_ret(long long got, long long want, const char *expr,
	       const char *file, int line);

#define expect_ret(call, want)                                                \
	check_ret((long long)(call), (long long)(want), #call, __FILE__,      \
		  __LINE__)

/* Check gm_last_error() against the documented format (conformance.c). */
void check_msg(const char *op, uint64_t gpa, uint64_t len, uint64_t at,
	       const char *file, int line);

#define expect_msg(op, gpa, len, at)                                          \
	check_msg((op), (gpa), (len), (at), __FILE__, __LINE__)

/* ---- conformance.c: the shadow copy ---- */

/* Record that [gpa, gpa + len) now holds @buf. */
void shadow_write(struct conf_state *st, uint64_t gpa, const void *buf,
		  size_t len);
void shadow_fill(struct conf_state *st, uint64_t gpa, uint8_t byte,
		 size_t len);
void shadow_read(struct conf_state *st, uint64_t gpa, void *buf, size_t len);

/* Fail unless guest memory [gpa, gpa + len) matches the shadow. */
void check_mem(struct conf_state *st, uint64_t gpa, size_t len,
	       const char *file, int line);

#define expect_mem(st, gpa, len) check_mem((st), (gpa), (len), __FILE__,      \
					   __LINE__)

/* gm_write() that must succeed, recorded in the shadow. */
void cw(struct conf_state *st, uint64_t gpa, const void *buf, size_t len);

/* Deterministic test data that differs between calls. */
void gen(void *buf, size_t len, unsigned int seed);

/* ---- conformance.c: making regions ---- */

/* Make region @i of the layout, add it and give it its starting contents. */
void region_make(struct conf_state *st, int i);

/*
 * The hot region, at GPA_HOT: hot_add_raw() adds it holding @byte
 * everywhere and returns 0 or the first error, without asserting;
 * hot_add() fails the test instead; check_gone() checks, through the
 * fixture's region_gone, whether the region made with @hva is destroyed.
 */
int hot_add_raw(struct conf_state *st, uint8_t byte, const uint8_t **hva,
		const char **what);
const uint8_t *hot_add(struct conf_state *st, uint8_t byte);
void check_gone(struct conf_state *st, const uint8_t *hva, int want);

/* ---- conformance-typed.c: typed-value helpers, for every type ---- */

#define CONF_TYPED_DECL(sfx, T, ...)                                          \
	void typed_##sfx(struct conf_state *st, uint64_t gpa,                 \
			 uint64_t seed);                                      \
	void view_typed_##sfx(struct conf_state *st, const struct gm_view *v, \
			      uint64_t gpa, uint64_t seed);                   \
	void typed_denied_##sfx(struct conf_state *st, uint64_t gpa);
GM_INT_TYPES(CONF_TYPED_DECL)
GM_ENDIAN_TYPES(CONF_TYPED_DECL)
#undef CONF_TYPED_DECL

#define CONF_MEM_DECL(sfx, T, ...)                                            \
	void put_##sfx(struct conf_state *st, uint64_t gpa, T val);           \
	T get_##sfx(struct conf_state *st, uint64_t gpa);
GM_INT_TYPES(CONF_MEM_DECL)
#undef CONF_MEM_DECL

#define CONF_ATOMIC_DECL(sfx, T, ...)                                         \
	void atomic_##sfx(struct conf_state *st, uint64_t gpa,                \
			  int interior);                                      \
	void atomic_denied_##sfx(struct conf_state *st, uint64_t gpa,         \
				 int err);                                    \
	void view_atomic_##sfx(struct conf_state *st,                         \
			       const struct gm_view *vw, uint64_t gpa,        \
			       int interior);                                 \
	void view_denied_##sfx(const struct gm_view *vw, uint64_t gpa);
GM_INT_TYPES(CONF_ATOMIC_DECL)
#undef CONF_ATOMIC_DECL

/* Every memory order a read-modify-write atomic takes (5 of them). */
extern const int rmw_orders[];

/* ---- conformance-fd.c: pipe helpers ---- */

/* Bytes waiting in pipe @fd. */
int pipe_avail(int fd);
void write_all(int fd, const void *buf, size_t len);

/* ---- The tests, by file; conf_run() lists them in its order ---- */

/* conformance-regions.c */
void test_regions_list(void **state);
void test_remove_and_readd(void **state);
void test_hotplug_concurrent(void **state);

/* conformance-access.c */
void test_high_regions(void **state);
void test_straddle_bytes(void **state);
void test_straddle_typed(void **state);
void test_endian(void **state);
void test_holes(void **state);
void test_partial(void **state);
void test_fill_zero(void **state);
void test_atomics(void **state);
void test_atomic_concurrent(void **state);
void test_rdonly(void **state);

/* conformance-tearing.c */
void test_no_tearing(void **state);
#if defined(__x86_64__)
void test_copy_stepped(void **state);
#endif

/* conformance-fd.c */
void test_fd_pipe(void **state);
void test_fd_file(void **state);
void test_fd_partial_error(void **state);

/* conformance-views.c */
void test_lease(void **state);
void test_lease_keeps_region(void **state);
void test_lease_outlives_space(void **state);
void test_view(void **state);
void test_view_refused(void **state);
void test_view_keeps_region(void **state);

#endif /* CONFORMANCE_INTERNAL_H */
