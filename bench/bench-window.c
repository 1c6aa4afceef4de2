/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-window: what an instruction on the path of an independent random
 * access costs, with no library involved.
 *
 * A raw loop reads 8 bytes at random 16-aligned offsets of a 64 MiB
 * mapping (offsets drawn in advance; no iteration depends on another),
 * plus N independent register additions spread over four registers, so
 * that the additions cost N / 4 cycles of work but take N places in the
 * reorder window.  Up to some N the CPU still overlaps as many cache
 * misses as without them; beyond it every instruction costs time.  That
 * is the budget an accessor has on this machine (bench/README.md): the
 * space path of bench-access is compared against it there.
 *
 * Each N also runs from two threads at once, one per CPU when the process
 * may use two, each on its own offsets: the additions use nothing two
 * threads share, so their scaling shows what the machine gives two
 * independent readers.
 *
 * Two more loops give the floor of any accessor that checks a range,
 * whatever protects it: the same reads, each first checked against a
 * range { lo, lim, delta } and made at delta + offset, the range read
 * from memory at every access (floor.range_in_memory: what an accessor
 * given only a handle must do, since another thread may change the range;
 * here nothing protects it, so this is not a safe accessor, only the least
 * one can cost) or held in registers for the whole loop
 * (floor.range_in_registers: what a view does).
 *
 * Output: "window.extra_N ns/op", its ratio to N = 0, and
 * "window.extra_N.scaling" (two threads' throughput over one's); then
 * "floor.NAME ns/op", ".raw" (N = 0, run alternately with it) and the
 * ratio of the two.
 */
#define _GNU_SOURCE /* sched_getaffinity(), pthread_setaffinity_np() */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SIZE (64ul << 20)
#define ENTRIES (1u << 20) /* offsets per thread, a power of two */
#define ITERS 4000000ul
#define REPS 7

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* N independent additions, four registers at a time. */
#define PAD(n)                                                                \
	do {                                                                  \
		for (int k_ = 0; k_ < (n); k_ += 4)                           \
			__asm__ volatile("add $1, %0\n\tadd $1, %1\n\t"       \
					 "add $1, %2\n\tadd $1, %3"           \
					 : "+r"(a0), "+r"(a1), "+r"(a2),      \
					   "+r"(a3));                         \
	} while (0)

typedef double loop_fn(const uint8_t *m, const uint64_t *off);

#define LOOP(n)                                                               \
	static __attribute__((noinline)) double loop_##n(const uint8_t *m,    \
							 const uint64_t *off) \
	{                                                                     \
		uint64_t sum = 0, a0 = 0, a1 = 0, a2 = 0, a3 = 0, t0, i;      \
                                                                              \
		t0 = now_ns();                                                \
		for (i = 0; i < ITERS; i++) {                                 \
			uint64_t v;                                           \
                                                                              \
			memcpy(&v, m + off[i & (ENTRIES - 1)], sizeof(v));    \
			sum += v;                                             \
			PAD(n);                                               \
		}                                                             \
		t0 = now_ns() - t0;                                           \
		__asm__ volatile("" : : "r"(sum + a0 + a1 + a2 + a3));        \
		return (double)t0 / ITERS;                                    \
	}
LOOP(0)
LOOP(8)
LOOP(16)
LOOP(24)
LOOP(32)
LOOP(48)
LOOP(64)

/* The range a floor loop checks each offset against. */
struct range {
	uint64_t lo;
	uint64_t lim; /* last valid offset - lo */
	uintptr_t delta;
};

static struct range the_range;

/*
 * Read through @r: the relaxed atomic loads keep the compiler from
 * reading the range once for the whole loop, as it must not when another
 * thread may change it; @in_regs copies it first, as a view does.
 */
#define FLOOR(name, in_regs)                                                  \
	static __attribute__((noinline)) double name(const uint8_t *m,        \
						     const uint64_t *off)     \
	{                                                                     \
		uint64_t sum = 0, missed = 0, t0, i;                          \
		struct range *r = &the_range, copy = *r;                      \
                                                                              \
		(void)m;                                                      \
		t0 = now_ns();                                                \
		for (i = 0; i < ITERS; i++) {                                 \
			uint64_t g = off[i & (ENTRIES - 1)], lo, lim, v;      \
			uintptr_t d;                                          \
                                                                              \
			if (in_regs) {                                        \
				lo = copy.lo;                                 \
				lim = copy.lim;                               \
				d = copy.delta;                               \
			} else {                                              \
				lo = __atomic_load_n(&r->lo,                  \
						     __ATOMIC_RELAXED);       \
				lim = __atomic_load_n(&r->lim,                \
						      __ATOMIC_RELAXED);      \
				d = __atomic_load_n(&r->delta,                \
						    __ATOMIC_RELAXED);        \
			}                                                     \
			if (__builtin_expect(g - lo > lim, 0)) {              \
				missed++;                                     \
				continue;                                     \
			}                                                     \
			memcpy(&v, (const uint8_t *)(d + (uintptr_t)g),       \
			       sizeof(v));                                    \
			sum += v;                                             \
		}                                                             \
		t0 = now_ns() - t0;                                           \
		__asm__ volatile("" : : "r"(sum + missed));                   \
		return (double)t0 / ITERS;                                    \
	}
FLOOR(floor_range_in_memory, 0)
FLOOR(floor_range_in_registers, 1)

static const struct {
	const char *name;
	loop_fn *fn;
} floors[] = {
	{ "floor.range_in_memory", floor_range_in_memory },
	{ "floor.range_in_registers", floor_range_in_registers },
};

static const struct {
	unsigned int n;
	loop_fn *fn;
} loops[] = {
	{ 0, loop_0 },	 { 8, loop_8 },	  { 16, loop_16 }, { 24, loop_24 },
	{ 32, loop_32 }, { 48, loop_48 }, { 64, loop_64 },
};

static uint8_t *mem;
static uint64_t *offs[2];
static int cpus[2] = { -1, -1 };

struct run {
	loop_fn *fn;
	int id;
	pthread_barrier_t *bar;
	double ns;
};

static void *run_thread(void *p)
{
	struct run *r = p;

	if (cpus[r->id] >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpus[r->id], &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	if (r->bar)
		pthread_barrier_wait(r->bar);
	r->ns = r->fn(mem, offs[r->id]);
	return NULL;
}

/* Time @fn in @nthreads threads at once: the slowest thread's ns/op. */
static double run(loop_fn *fn, int nthreads)
{
	pthread_barrier_t bar;
	struct run r[2];
	pthread_t t[2];
	double worst = 0;
	int i;

	if (pthread_barrier_init(&bar, NULL, (unsigned int)nthreads))
		exit(1);
	for (i = 0; i < nthreads; i++) {
		r[i] = (struct run){ .fn = fn, .id = i, .bar = &bar };
		if (pthread_create(&t[i], NULL, run_thread, &r[i])) {
			fprintf(stderr, "bench-window: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		if (r[i].ns > worst)
			worst = r[i].ns;
	}
	pthread_barrier_destroy(&bar);
	return worst;
}

int main(void)
{
	double one[sizeof(loops) / sizeof(loops[0])];
	uint64_t x = 0x6775657374;
	cpu_set_t set;
	unsigned int i, j, rep;
	int cpu, found = 0;

	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "bench-window: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(mem, 1, SIZE);
	the_range = (struct range){ .lo = 0, .lim = SIZE - 8,
				    .delta = (uintptr_t)mem };
	for (j = 0; j < 2; j++) {
		offs[j] = malloc(ENTRIES * sizeof(*offs[j]));
		if (!offs[j])
			return 1;
		for (i = 0; i < ENTRIES; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			offs[j][i] = (x % (SIZE / 16)) * 16;
		}
	}
	if (!sched_getaffinity(0, sizeof(set), &set))
		for (cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
			if (CPU_ISSET(cpu, &set))
				cpus[found++] = cpu;
	if (found < 2)
		cpus[0] = cpus[1] = -1;

	printf("# bench-window: random 8-byte reads of 64 MiB plus N "
	       "independent additions; best of %d runs\n", REPS);
	for (i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		double best1 = 1e30, best2 = 1e30, t;

		for (rep = 0; rep < REPS; rep++) {
			t = run(loops[i].fn, 1);
			best1 = t < best1 ? t : best1;
			t = run(loops[i].fn, 2);
			best2 = t < best2 ? t : best2;
		}
		one[i] = best1;
		printf("window.extra_%u %.2f ns/op\n"
		       "window.extra_%u.ratio %.2f x\n"
		       "window.extra_%u.scaling %.2f x\n",
		       loops[i].n, best1, loops[i].n, best1 / one[0],
		       loops[i].n, 2 * best1 / best2);
		fflush(stdout);
	}
	/* Each floor alternates with N = 0, its baseline in this line. */
	for (i = 0; i < sizeof(floors) / sizeof(floors[0]); i++) {
		double best = 1e30, raw = 1e30, t;

		for (rep = 0; rep < REPS; rep++) {
			t = run(loop_0, 1);
			raw = t < raw ? t : raw;
			t = run(floors[i].fn, 1);
			best = t < best ? t : best;
		}
		printf("%s %.2f ns/op\n%s.raw %.2f ns/op\n%s.ratio %.2f x\n",
		       floors[i].name, best, floors[i].name, raw,
		       floors[i].name, best / raw);
		fflush(stdout);
	}
	return 0;
}
