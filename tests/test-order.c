/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory-order litmus tests of the atomic accessors: a GM_SEQ_CST store
 * must be sequentially consistent, not merely a release store.
 *
 * Store buffering (SB): thread 0 stores X then loads Y, thread 1 stores Y
 * then loads X.  Under sequential consistency one of the two stores comes
 * first, so at least one load sees the other thread's store; both loads
 * missing it is the one outcome SC forbids.  x86 (like every weaker
 * architecture) allows that outcome for a release store followed by a
 * load: the store waits in the core's store buffer while the load reads
 * the cache.  Only a full barrier between them (x86: xchg or mfence)
 * forbids it, which is what a seq_cst store compiles to.
 *
 * The forbidden outcome can only appear when both threads run a round at
 * the same moment on two CPUs, so each test runs many short rounds that a
 * spin barrier starts together, with the threads pinned to two different
 * CPUs: left alone, a busy 2-CPU machine often ran both on one CPU, where
 * no reordering can be seen.  With correct code no round can show the
 * outcome, so the tests cannot fail spuriously (a busy machine only makes
 * them slower).  With a release store in place of the seq_cst one in any
 * one of the five paths tested here, all of 20 runs per path failed on a
 * busy 2-CPU x86 machine (load 6 to 9), the outcome showing in 14 to
 * 28000 of the 100000 rounds, typically a few thousand.
 *
 * Under valgrind the threads run one at a time and never reorder.  Under
 * TSan the library's readers fence on entry (rcu.c), and TSan's own
 * atomics hid a release store in the view's inline store too.  So neither
 * can show a missing barrier: there the tests run a few rounds and pass,
 * exercising the code only.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/unix.h>

#include "test-util.h"

/*
 * Two adjacent regions, the same layout in each: X and Y on different
 * pages, with one X and one Y per access size, 8 bytes apart.  The tests
 * of the out-of-line path alternate rounds between the regions, so that
 * every store misses the thread's one-region cache.
 */
#define REGION_SIZE 0x10000
#define GPA_R1 0x100000
#define GPA_R2 (GPA_R1 + REGION_SIZE)
#define OFF_X 0x1000
#define OFF_Y 0x3000

/* Rounds per test; every two rounds the next of the four sizes.  Few
 * under valgrind and TSan, which cannot show reordering (see the top). */
#define ROUNDS 100000
#define ROUNDS_FEW 2000

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

enum sb_path {
	SB_SPACE,	/* gm_atomic_*: the inline fast path */
	SB_SPACE_SLOW,	/* gm_atomic_*: the out-of-line path */
	SB_VIEW,	/* gm_view_atomic_*, inline in this file */
};

struct sb {
	enum sb_path path;
	struct gm_space *s;
	struct gm_view v;	/* the first region, read-write */
	unsigned int rounds;
	atomic_uint arrived;	/* spin barrier: arrivals so far */
	uint8_t *stale[2];	/* per thread and round: the load missed */
	int err[2];		/* first accessor error of each thread */
};

/* Wait until the two threads have arrived @n times in all. */
static void sb_barrier(struct sb *sb, unsigned int n)
{
	unsigned int spins = 0;

	/* The RMW is a full barrier too: every round starts with both
	 * store buffers drained. */
	atomic_fetch_add(&sb->arrived, 1);
	while (atomic_load_explicit(&sb->arrived, memory_order_acquire) < n)
		/* Spin while the other thread runs; yield when it seems not
		 * to, so that a busy machine (or valgrind, which runs one
		 * thread at a time) still makes progress. */
		if (++spins > 2000) {
			spins = 0;
			sched_yield();
		}
}

/*
 * One store-then-load of type T: store @val to @mine, load @theirs, set
 * stale if the load missed the other thread's store of this round.
 */
#define SB_ACCESS(sfx, T)                                                     \
	do {                                                                  \
		T got = 0;                                                    \
									      \
		if (sb->path == SB_VIEW) {                                    \
			e1 = gm_view_atomic_store_##sfx(&sb->v, mine, (T)val, \
							GM_SEQ_CST);          \
			e2 = gm_view_atomic_load_##sfx(&sb->v, theirs, &got,  \
						       GM_SEQ_CST);           \
		} else {                                                      \
			e1 = gm_atomic_store_##sfx(sb->s, mine, (T)val,       \
						   GM_SEQ_CST);               \
			e2 = gm_atomic_load_##sfx(sb->s, theirs, &got,        \
						  GM_SEQ_CST);                \
		}                                                             \
		stale = got != (T)val;                                        \
	} while (0)

/*
 * Round @i of thread @me: store i + 1, so that rounds need no reset.  The
 * other thread's variable of this size (and region) holds its store of
 * this round, or an older one (at most eight rounds older) or the initial
 * 0, which differ from i + 1 in every size.
 */
static int sb_round(struct sb *sb, int me, unsigned int i)
{
	unsigned int size = (i / 2) % 4;
	uint64_t base = GPA_R1 + 8 * size;
	uint64_t mine, theirs, val = (uint64_t)i + 1;
	int e1 = 0, e2 = 0, stale = 0;

	if (sb->path == SB_SPACE_SLOW && i % 2)
		base = GPA_R2 + 8 * size;
	mine = base + (me ? OFF_Y : OFF_X);
	theirs = base + (me ? OFF_X : OFF_Y);
	switch (size) {
	case 0:
		SB_ACCESS(u8, uint8_t);
		break;
	case 1:
		SB_ACCESS(u16, uint16_t);
		break;
	case 2:
		SB_ACCESS(u32, uint32_t);
		break;
	default:
		SB_ACCESS(u64, uint64_t);
		break;
	}
	if (!sb->err[me])
		sb->err[me] = e1 ? e1 : e2;
	return stale;
}

static void sb_thread(struct sb *sb, int me)
{
	unsigned int i;

	for (i = 0; i < sb->rounds; i++) {
		sb_barrier(sb, 2 * (i + 1));
		sb->stale[me][i] = (uint8_t)sb_round(sb, me, i);
	}
}

static void *sb_thread0(void *arg)
{
	sb_thread(arg, 0);
	return NULL;
}

static void *sb_thread1(void *arg)
{
	sb_thread(arg, 1);
	return NULL;
}

/* Start a thread on CPU @cpu, or wherever the scheduler likes if @cpu is
 * negative or cannot be had. */
static void start_on(pthread_t *t, void *(*fn)(void *), void *arg, int cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;

	assert_int_equal(pthread_attr_init(&attr), 0);
	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	if (cpu < 0 ||
	    pthread_attr_setaffinity_np(&attr, sizeof(set), &set) != 0 ||
	    pthread_create(t, &attr, fn, arg) != 0)
		assert_int_equal(pthread_create(t, NULL, fn, arg), 0);
	pthread_attr_destroy(&attr);
}

/* The first two CPUs this process may use, or -1s if it has only one. */
static void two_cpus(int cpu[2])
{
	cpu_set_t set;
	int c, n = 0;

	cpu[0] = cpu[1] = -1;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpu[n++] = c;
	if (n < 2)
		cpu[0] = -1;
}

static void add_anon(struct gm_space *s, uint64_t gpa)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_unix_region_new_anon(gpa, REGION_SIZE, 0, &r), 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
}

/* Run the SB test through @path in a space made with @flags. */
static void check_sb(enum sb_path path, unsigned int flags)
{
	struct sb sb = { .path = path };
	unsigned int i, both = 0;
	pthread_t t[2];
	int cpu[2], ret;

	ret = gm_space_new(&sb.s, "order", flags);
	if (ret == -EOPNOTSUPP) {
		/* GM_SPACE_FAULT_SAFE is not supported on this host. */
		skip();
		return;
	}
	assert_int_equal(ret, 0);
	add_anon(sb.s, GPA_R1);
	add_anon(sb.s, GPA_R2);
	assert_int_equal(gm_view_get(sb.s, GPA_R1, REGION_SIZE,
				     GM_PROT_READ | GM_PROT_WRITE, &sb.v),
			 0);
	sb.rounds = RUNNING_ON_VALGRIND || UNDER_TSAN ? ROUNDS_FEW : ROUNDS;
	sb.stale[0] = calloc(sb.rounds, 1);
	sb.stale[1] = calloc(sb.rounds, 1);
	assert_non_null(sb.stale[0]);
	assert_non_null(sb.stale[1]);

	/* A thread that never arrives would hang the barrier: fail. */
	alarm(300);
	two_cpus(cpu);
	start_on(&t[0], sb_thread0, &sb, cpu[0]);
	start_on(&t[1], sb_thread1, &sb, cpu[1]);
	assert_int_equal(pthread_join(t[0], NULL), 0);
	assert_int_equal(pthread_join(t[1], NULL), 0);
	alarm(0);

	assert_int_equal(sb.err[0], 0);
	assert_int_equal(sb.err[1], 0);
	for (i = 0; i < sb.rounds; i++)
		both += sb.stale[0][i] && sb.stale[1][i];
	free(sb.stale[0]);
	free(sb.stale[1]);
	gm_view_put(&sb.v);
	gm_space_free(sb.s);
	if (both)
		fail_msg("store buffering: in %u of %u rounds neither thread's "
			 "load saw the other's seq_cst store",
			 both, sb.rounds);
}

static void test_sb_space(void **state)
{
	(void)state;
	check_sb(SB_SPACE, 0);
}

static void test_sb_space_faultsafe(void **state)
{
	(void)state;
	check_sb(SB_SPACE, GM_SPACE_FAULT_SAFE);
}

static void test_sb_space_slow(void **state)
{
	(void)state;
	check_sb(SB_SPACE_SLOW, 0);
}

static void test_sb_space_slow_faultsafe(void **state)
{
	(void)state;
	check_sb(SB_SPACE_SLOW, GM_SPACE_FAULT_SAFE);
}

static void test_sb_view(void **state)
{
	(void)state;
	/* Only this path: the others put a locked instruction (an RCU
	 * section, the fault-safe exchange) between store and load. */
	skip_if_emulated("qemu 7.2 translates an aarch64 store-release "
			 "followed by a load-acquire (stlr; ldar: seq_cst, "
			 "RCsc on real hardware) with no store-load fence "
			 "between them on an x86-64 host, so it shows store "
			 "buffering that arm64 forbids");
	check_sb(SB_VIEW, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sb_space),
		cmocka_unit_test(test_sb_space_faultsafe),
		cmocka_unit_test(test_sb_space_slow),
		cmocka_unit_test(test_sb_space_slow_faultsafe),
		cmocka_unit_test(test_sb_view),
	};

	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
