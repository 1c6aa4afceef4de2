/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The accessors' inline fast path (guestmem.h): which accesses it answers
 * without calling the library, and that everything else still gets the
 * library's answer.
 *
 * Linked with --wrap for the gm__ functions the inline code calls, so
 * that each test counts the calls that left the inline path.  Readers
 * that must fence (no membarrier(2): valgrind, ThreadSanitizer) never get
 * a cached range, by design (space.h): the tests that count hits say so
 * and check only the answers there.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LINUX_MEMBARRIER_H
#include <linux/membarrier.h>
#endif

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/unix.h>

#include "test-util.h"

/* Calls of the library the inline code made. */
static unsigned long calls;

#define WRAP_TYPED(sfx, T, ...)                                               \
	int __real_gm__read_##sfx(struct gm_space *s, uint64_t gpa, T *val);  \
	int __wrap_gm__read_##sfx(struct gm_space *s, uint64_t gpa, T *val);  \
	int __wrap_gm__read_##sfx(struct gm_space *s, uint64_t gpa, T *val)   \
	{                                                                     \
		calls++;                                                      \
		return __real_gm__read_##sfx(s, gpa, val);                    \
	}                                                                     \
	int __real_gm__write_##sfx(struct gm_space *s, uint64_t gpa, T val);  \
	int __wrap_gm__write_##sfx(struct gm_space *s, uint64_t gpa, T val);  \
	int __wrap_gm__write_##sfx(struct gm_space *s, uint64_t gpa, T val)   \
	{                                                                     \
		calls++;                                                      \
		return __real_gm__write_##sfx(s, gpa, val);                   \
	}
WRAP_TYPED(u64, uint64_t)
WRAP_TYPED(le16, uint16_t)

int __real_gm__read(struct gm_space *s, uint64_t gpa, void *buf, size_t len);
int __wrap_gm__read(struct gm_space *s, uint64_t gpa, void *buf, size_t len);
int __wrap_gm__read(struct gm_space *s, uint64_t gpa, void *buf, size_t len)
{
	calls++;
	return __real_gm__read(s, gpa, buf, len);
}

int __real_gm__write(struct gm_space *s, uint64_t gpa, const void *buf,
		     size_t len);
int __wrap_gm__write(struct gm_space *s, uint64_t gpa, const void *buf,
		     size_t len);
int __wrap_gm__write(struct gm_space *s, uint64_t gpa, const void *buf,
		     size_t len)
{
	calls++;
	return __real_gm__write(s, gpa, buf, len);
}

int __real_gm__atomic_load_u32(struct gm_space *s, uint64_t gpa,
			       uint32_t *val, int order);
int __wrap_gm__atomic_load_u32(struct gm_space *s, uint64_t gpa,
			       uint32_t *val, int order);
int __wrap_gm__atomic_load_u32(struct gm_space *s, uint64_t gpa,
			       uint32_t *val, int order)
{
	calls++;
	return __real_gm__atomic_load_u32(s, gpa, val, order);
}

int __real_gm__atomic_store_u32(struct gm_space *s, uint64_t gpa,
				uint32_t val, int order);
int __wrap_gm__atomic_store_u32(struct gm_space *s, uint64_t gpa,
				uint32_t val, int order);
int __wrap_gm__atomic_store_u32(struct gm_space *s, uint64_t gpa,
				uint32_t val, int order)
{
	calls++;
	return __real_gm__atomic_store_u32(s, gpa, val, order);
}

#define PAGE 4096
#define GPA 0x100000
#define SIZE (16 * PAGE)

struct fixture {
	struct gm_space *s;
	struct gm_view v; /* the whole region, read-write */
	uint8_t *hva;
};

static struct gm_space *space_with(unsigned int sflags, uint64_t gpa,
				   unsigned int rflags, struct gm_view *v)
{
	struct gm_space *s;
	struct gm_region *r;

	assert_int_equal(gm_space_new(&s, "inline", sflags), 0);
	assert_int_equal(gm_unix_region_new_anon(gpa, SIZE, rflags, &r), 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
	assert_int_equal(gm_view_get(s, gpa, SIZE, GM_PROT_READ, v), 0);
	return s;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	size_t i;

	assert_non_null(fx);
	fx->s = space_with(0, GPA, 0, &fx->v);
	fx->hva = fx->v.hva;
	for (i = 0; i < SIZE; i++)
		fx->hva[i] = (uint8_t)(i * 7 + 1);
	calls = 0;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	gm_view_put(&fx->v);
	gm_space_free(fx->s);
	free(fx);
	return 0;
}

/*
 * Whether readers get cached ranges (see the top): when the process can
 * use membarrier(2) the way the library does, and not under
 * ThreadSanitizer, which the library makes fence.
 */
static int inline_on(void)
{
#if defined(__SANITIZE_THREAD__)
	return 0;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
	return 0;
#endif
#endif
#if defined(SYS_membarrier) && defined(HAVE_LINUX_MEMBARRIER_H)
	{
		long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

		return cmds > 0 &&
		       (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
	}
#else
	return 0;
#endif
}

static uint64_t host_u64(const struct fixture *fx, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, fx->hva + (gpa - GPA), sizeof(v));
	return v;
}

/*
 * After one access has filled the thread's record, accesses inside the
 * region are answered inline: reads, writes, a 16-byte read and atomics,
 * all with the right values.
 */
static void test_hits_need_no_call(void **state)
{
	struct fixture *fx = *state;
	uint64_t v, d[2], gpa;
	uint32_t w;
	uint16_t h;
	int i;

	assert_int_equal(gm_read_u64(fx->s, GPA, &v), 0);
	assert_int_equal(calls, 1);
	calls = 0;
	for (i = 0; i < 1000; i++) {
		gpa = GPA + (uint64_t)(i * 40) % (SIZE - 64);
		assert_int_equal(gm_read_u64(fx->s, gpa + 1, &v), 0);
		assert_int_equal(v, host_u64(fx, gpa + 1));
		assert_int_equal(gm_write_u64(fx->s, gpa, (uint64_t)i * 3), 0);
		assert_int_equal(host_u64(fx, gpa), (uint64_t)i * 3);
		assert_int_equal(gm_write_le16(fx->s, gpa + 8, 0x1234), 0);
		assert_int_equal(gm_read_le16(fx->s, gpa + 8, &h), 0);
		assert_int_equal(h, 0x1234);
		assert_int_equal(gm_read(fx->s, gpa, d, sizeof(d)), 0);
		assert_memory_equal(d, fx->hva + (gpa - GPA), sizeof(d));
		assert_int_equal(gm_atomic_store_u32(fx->s, gpa + 16, 77,
						     GM_SEQ_CST),
				 0);
		assert_int_equal(gm_atomic_load_u32(fx->s, gpa + 16, &w,
						    GM_ACQUIRE),
				 0);
		assert_int_equal(w, 77);
	}
	if (inline_on()) {
		assert_non_null(gm__tcache_last);
		assert_int_equal(calls, 0);
	} else {
		print_message("readers fence here: no inline hits to count\n");
	}
}

/*
 * What the inline path does not answer goes to the library, which gives
 * its own answer: the last 15 bytes of the range, a value that crosses
 * into a hole, addresses below the region, bad arguments, a 16-byte read
 * that is not 8-aligned.
 */
static void test_misses_get_the_library_answer(void **state)
{
	struct fixture *fx = *state;
	uint64_t v, d[2];
	uint32_t w;

	assert_int_equal(gm_read_u64(fx->s, GPA + 64, &v), 0);
	calls = 0;
	assert_int_equal(gm_read_u64(fx->s, GPA + SIZE - 8, &v), 0);
	assert_int_equal(v, host_u64(fx, GPA + SIZE - 8));
	assert_int_equal(gm_read_u64(fx->s, GPA + SIZE - 4, &v), -EFAULT);
	assert_int_equal(gm_read_u64(fx->s, GPA - 8, &v), -EFAULT);
	assert_int_equal(gm_read_u64(fx->s, GPA - 4, &v), -EFAULT);
	assert_int_equal(gm_read_u64(fx->s, UINT64_MAX - 3, &v), -EOVERFLOW);
	assert_int_equal(gm_read_u64(fx->s, GPA, NULL), -EINVAL);
	assert_int_equal(gm_read_u64(NULL, GPA, &v), -EINVAL);
	assert_int_equal(gm_atomic_load_u32(fx->s, GPA + 2, &w, GM_ACQUIRE),
			 -EINVAL);
	assert_int_equal(gm_atomic_load_u32(fx->s, GPA, &w, GM_RELEASE),
			 -EINVAL);
	assert_int_equal(gm_atomic_store_u32(fx->s, GPA, 1, GM_ACQUIRE),
			 -EINVAL);
	assert_int_equal(gm_read(fx->s, GPA + 4, d, sizeof(d)), 0);
	assert_memory_equal(d, fx->hva + 4, sizeof(d));
	assert_int_equal(calls, 11);
}

/* A read-only region is read inline and never written. */
static void test_readonly_region_is_not_written(void **state)
{
	struct gm_view v;
	struct gm_space *s =
		space_with(0, GPA, GM_REGION_RDONLY, &v);
	uint64_t x;

	(void)state;
	assert_int_equal(gm_read_u64(s, GPA + 8, &x), 0);
	assert_int_equal(gm_read_u64(s, GPA + 16, &x), 0);
	assert_int_equal(gm_write_u64(s, GPA + 8, 1), -EACCES);
	assert_int_equal(gm_atomic_store_u32(s, GPA + 8, 1, GM_RELAXED),
			 -EACCES);
	assert_int_equal(x, 0);
	memcpy(&x, v.hva + 8, sizeof(x));
	assert_int_equal(x, 0);
	gm_view_put(&v);
	gm_space_free(s);
}

/* A change of the space's regions ends what the thread cached. */
static void test_region_change_is_seen(void **state)
{
	struct fixture *fx = *state;
	struct gm_region *r;
	uint64_t v;

	assert_int_equal(gm_read_u64(fx->s, GPA + 8, &v), 0);
	assert_int_equal(gm_space_remove_region(fx->s, GPA), 0);
	assert_int_equal(gm_read_u64(fx->s, GPA + 8, &v), -EFAULT);
	assert_int_equal(gm_write_u64(fx->s, GPA + 8, 5), -EFAULT);
	/* A new region at the same address: its own (zeroed) memory. */
	assert_int_equal(gm_unix_region_new_anon(GPA, SIZE, 0, &r), 0);
	assert_int_equal(gm_space_add_region(fx->s, r), 0);
	assert_int_equal(gm_read_u64(fx->s, GPA + 8, &v), 0);
	assert_int_equal(v, 0);
	/* The old region stays mapped for the fixture's view. */
	assert_int_equal(host_u64(fx, GPA + 8) == 0, 0);
}

/*
 * Two spaces with regions at the same guest address, used in turn: each
 * access finds its own space's memory, whichever record the thread holds.
 * Each switch calls the library: a read-side section opened on one
 * space's record does not hold off the other space's writers, so the
 * inline path must not look the other space up under it.
 */
static void test_spaces_in_turn(void **state)
{
	struct fixture *fx = *state;
	struct gm_view v;
	struct gm_space *s2 = space_with(0, GPA, 0, &v);
	uint64_t x;
	int i;

	assert_int_equal(gm_write_u64(s2, GPA + 8, 0xabcd), 0);
	calls = 0;
	for (i = 0; i < 100; i++) {
		assert_int_equal(gm_read_u64(fx->s, GPA + 8, &x), 0);
		assert_int_equal(x, host_u64(fx, GPA + 8));
		assert_int_equal(gm_read_u64(s2, GPA + 8, &x), 0);
		assert_int_equal(x, 0xabcd);
	}
	assert_int_equal(calls, 200);
	gm_view_put(&v);
	gm_space_free(s2);
}

/*
 * A fault-safe space's accesses must be guarded: none is answered inline,
 * however often the thread repeats it.
 */
static void test_fault_safe_space_always_calls(void **state)
{
	struct gm_view v;
	struct gm_space *s;
	uint64_t x;
	int i;

	(void)state;
	if (gm_space_new(&s, "probe", GM_SPACE_FAULT_SAFE) == -EOPNOTSUPP)
		skip(); /* not x86-64 */
	gm_space_free(s);
	s = space_with(GM_SPACE_FAULT_SAFE, GPA, 0, &v);
	calls = 0;
	for (i = 0; i < 100; i++) {
		assert_int_equal(gm_read_u64(s, GPA + 8, &x), 0);
		assert_int_equal(gm_write_u64(s, GPA + 16, x), 0);
	}
	assert_int_equal(calls, 200);
	/* The inline path then gives up at once: no record to try. */
	assert_null(gm__tcache_last);
	gm_view_put(&v);
	gm_space_free(s);
}

/*
 * The thread's record of a freed space is freed when the thread next
 * registers with another space: the inline path must not use it after
 * (valgrind and ASan see it if it does).
 */
static void test_record_of_freed_space(void **state)
{
	struct gm_view v;
	struct gm_space *s;
	uint64_t x;
	int i, round;

	(void)state;
	for (round = 0; round < 4; round++) {
		s = space_with(0, GPA, 0, &v);
		for (i = 0; i < 3; i++) {
			assert_int_equal(gm_write_u64(s, GPA + 8,
						      (uint64_t)round),
					 0);
			assert_int_equal(gm_read_u64(s, GPA + 8, &x), 0);
			assert_int_equal(x, (uint64_t)round);
		}
		gm_view_put(&v);
		gm_space_free(s);
	}
}


/*
 * Many regions, some read-only, with holes between some: accesses to any
 * of them are answered inline through the space's index (no call), with
 * the right memory; holes, read-only writes and the last 15 bytes of a
 * region still get the library's answers.
 */
#define NREG 64
static void test_lookup_other_regions_inline(void **state)
{
	struct gm_view v[NREG];
	uint64_t gpa[NREG], x;
	struct gm_space *s;
	unsigned int i, j;

	(void)state;
	assert_int_equal(gm_space_new(&s, "many", 0), 0);
	for (i = 0; i < NREG; i++) {
		struct gm_region *r;
		unsigned int rflags = i % 5 == 3 ? GM_REGION_RDONLY : 0;

		/* Every third region leaves a hole of a page before it. */
		gpa[i] = i ? gpa[i - 1] + SIZE + (i % 3 == 0 ? PAGE : 0) : GPA;
		assert_int_equal(gm_unix_region_new_anon(gpa[i], SIZE, rflags,
							 &r),
				 0);
		assert_int_equal(gm_space_add_region(s, r), 0);
		assert_int_equal(gm_view_get(s, gpa[i], SIZE, GM_PROT_READ,
					     &v[i]),
				 0);
		/* Read-only regions stay zero (mapped read-only). */
		if (!rflags)
			memset(v[i].hva, (int)i + 1, SIZE);
	}
	assert_int_equal(gm_read_u64(s, gpa[0], &x), 0);
	calls = 0;
	for (j = 0; j < 4000; j++) {
		unsigned int k = (j * 37) % NREG;
		uint64_t off = (uint64_t)(j * 4093) % (SIZE - 16), want;

		assert_int_equal(gm_read_u64(s, gpa[k] + off, &x), 0);
		memcpy(&want, v[k].hva + off, sizeof(want));
		assert_int_equal(x, want);
		if (k % 5 != 3) {
			assert_int_equal(gm_write_u64(s, gpa[k] + off, j), 0);
			memcpy(&want, v[k].hva + off, sizeof(want));
			assert_int_equal(want, j);
		}
	}
	if (inline_on())
		assert_int_equal(calls, 0);
	/* What the inline path leaves to the library; two reads in a row
	 * first make the read-only region the thread's range. */
	assert_int_equal(gm_read_u64(s, gpa[3] + 16, &x), 0);
	assert_int_equal(gm_read_u64(s, gpa[3] + 24, &x), 0);
	calls = 0;
	assert_int_equal(gm_write_u64(s, gpa[3] + 8, 1), -EACCES);
	assert_int_equal(v[3].hva[8], 0);
	assert_int_equal(gm_read_u64(s, gpa[3] - 8, &x), -EFAULT);
	assert_int_equal(gm_read_u64(s, gpa[1] + SIZE - 8, &x), 0);
	assert_int_equal(x, 0x0202020202020202u);
	assert_int_equal(gm_read_u64(s, gpa[1] + SIZE - 4, &x), 0);
	assert_int_equal(x, 0x0303030302020202u);
	assert_int_equal(calls, 4);

	/* 16 bytes across two adjacent regions, 8 in each: inline. */
	{
		uint64_t d[2], w[2] = { 0x1111111111111111u,
					0x2222222222222222u };

		calls = 0;
		assert_int_equal(gm_read(s, gpa[2] - 8, d, sizeof(d)), 0);
		assert_int_equal(d[0], 0x0202020202020202u);
		assert_int_equal(d[1], 0x0303030303030303u);
		assert_int_equal(gm_write(s, gpa[2] - 8, w, sizeof(w)), 0);
		memcpy(d, v[1].hva + SIZE - 8, 8);
		memcpy(d + 1, v[2].hva, 8);
		assert_memory_equal(d, w, sizeof(w));
		if (inline_on())
			assert_int_equal(calls, 0);
		/* Into a read-only region: nothing written; into a hole;
		 * not 8-aligned: the library's answers. */
		calls = 0;
		assert_int_equal(gm_write(s, gpa[8] - 8, w, sizeof(w)),
				 -EACCES);
		assert_int_equal(v[7].hva[SIZE - 8], 8);
		assert_int_equal(gm_read(s, gpa[3] - 8, d, sizeof(d)), -EFAULT);
		assert_int_equal(gm_read(s, gpa[2] + SIZE - 8, d, sizeof(d)),
				 -EFAULT);
		assert_int_equal(gm_read(s, gpa[5] - 4, d, sizeof(d)), 0);
		assert_int_equal(d[0], 0x0606060605050505u);
		assert_int_equal(calls, 4);
	}
	for (i = 0; i < NREG; i++)
		gm_view_put(&v[i]);
	gm_space_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_hits_need_no_call),
		T(test_misses_get_the_library_answer),
		cmocka_unit_test(test_readonly_region_is_not_written),
		T(test_region_change_is_seen),
		T(test_spaces_in_turn),
		cmocka_unit_test(test_fault_safe_space_always_calls),
		cmocka_unit_test(test_record_of_freed_space),
		cmocka_unit_test(test_lookup_other_regions_inline),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
