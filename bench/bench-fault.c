/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cost of GM_SPACE_FAULT_SAFE: the same memory (one memfd) through a
 * plain space and a fault-safe space, measured in turn in one run.  Prints
 * `name value unit` lines: each operation's time in both spaces and the
 * ratio fault-safe / plain (targets: 4 KiB copies at most 1.05x, small
 * typed accesses at most 1.2x).
 *
 *   bench-fault [--quick]
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <guestmem.h>
#include <guestmem/unix.h>

#define MIB (1024ull * 1024)
#define GUEST (256 * MIB)
#define NADDR 4096

static uint64_t addr_rand[NADDR], addr_page[NADDR];
static volatile uint64_t sink;
static uint8_t buf[MIB];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef void op_fn(struct gm_space *s, uint64_t i);

static void u64_read_fixed(struct gm_space *s, uint64_t i)
{
	uint64_t v;

	gm_read_u64(s, 4096 + 8 * (i & 7), &v);
	sink += v;
}

static void u64_read_random(struct gm_space *s, uint64_t i)
{
	uint64_t v;

	gm_read_u64(s, addr_rand[i % NADDR], &v);
	sink += v;
}

static void u32_write_fixed(struct gm_space *s, uint64_t i)
{
	gm_write_u32(s, 8192 + 4 * (i & 7), (uint32_t)i);
}

static void u32_load_acquire(struct gm_space *s, uint64_t i)
{
	uint32_t v;

	gm_atomic_load_u32(s, 8192 + 4 * (i & 7), &v, GM_ACQUIRE);
	sink += v;
}

static void u64_fetch_add(struct gm_space *s, uint64_t i)
{
	gm_atomic_fetch_add_u64(s, 16384, 1, NULL, GM_SEQ_CST);
}

static void copy_4k_fixed(struct gm_space *s, uint64_t i)
{
	gm_read(s, 65536, buf, 4096);
	sink += buf[i & 4095];
}

static void copy_4k_random(struct gm_space *s, uint64_t i)
{
	gm_read(s, addr_page[i % NADDR], buf, 4096);
	sink += buf[i & 4095];
}

static void copy_1m(struct gm_space *s, uint64_t i)
{
	gm_read(s, 8 * MIB, buf, MIB);
	sink += buf[i & 4095];
}

static double run(op_fn *fn, struct gm_space *s, uint64_t n)
{
	double t0 = now();
	uint64_t i;

	for (i = 0; i < n; i++)
		fn(s, i);
	return (now() - t0) / (double)n;
}

struct bench {
	const char *name;
	op_fn *fn;
	uint64_t n; /* iterations per run */
	double target;
};

int main(int argc, char **argv)
{
	static const struct bench benches[] = {
		{ "u64_read_fixed", u64_read_fixed, 2000000, 1.2 },
		{ "u64_read_random", u64_read_random, 1000000, 1.2 },
		{ "u32_write_fixed", u32_write_fixed, 2000000, 1.2 },
		{ "u32_load_acquire", u32_load_acquire, 2000000, 1.2 },
		{ "u64_fetch_add", u64_fetch_add, 1000000, 1.2 },
		{ "copy_4k_fixed", copy_4k_fixed, 200000, 1.05 },
		{ "copy_4k_random", copy_4k_random, 100000, 1.05 },
		{ "copy_1m", copy_1m, 300, 1.05 },
	};
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	int reps = quick ? 3 : 9, missed = 0;
	struct gm_space *plain, *safe;
	struct gm_region *r;
	uint64_t x = 88172645463325252ull;
	size_t i;
	int fd, k;

	fd = memfd_create("bench-fault", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)GUEST) ||
	    gm_space_new(&plain, "plain", 0) ||
	    gm_space_new(&safe, "safe", GM_SPACE_FAULT_SAFE)) {
		fprintf(stderr, "bench-fault: setup: %s\n", gm_last_error());
		return 1;
	}
	if (gm_unix_region_new_fd(0, GUEST, fd, 0, 0, &r) ||
	    gm_space_add_region(plain, r) ||
	    gm_unix_region_new_fd(0, GUEST, fd, 0, 0, &r) ||
	    gm_space_add_region(safe, r)) {
		fprintf(stderr, "bench-fault: region: %s\n", gm_last_error());
		return 1;
	}
	gm_fill(plain, 0, 1, GUEST); /* touch every page */
	for (i = 0; i < NADDR; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		addr_rand[i] = (x % (GUEST / 8)) * 8;
		addr_page[i] = (x % (GUEST / 4096)) * 4096;
	}
	printf("# bench-fault: %" PRIu64 " MiB memfd guest, best of %d "
	       "alternating runs; ratio = fault-safe / plain time\n",
	       (uint64_t)(GUEST / MIB), reps);
	for (i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
		const struct bench *b = &benches[i];
		uint64_t n = quick ? b->n / 10 : b->n;
		double bp = 1e30, bs = 1e30;

		run(b->fn, plain, n / 10 + 1); /* warm up */
		run(b->fn, safe, n / 10 + 1);
		for (k = 0; k < reps; k++) {
			double tp = run(b->fn, plain, n);
			double ts = run(b->fn, safe, n);

			bp = tp < bp ? tp : bp;
			bs = ts < bs ? ts : bs;
		}
		printf("%s.plain %.2f ns/op\n%s.safe %.2f ns/op\n"
		       "%s.ratio %.3f x\n",
		       b->name, bp, b->name, bs, b->name, bs / bp);
		if (bs / bp > b->target) {
			printf("# %s.ratio misses its target %.2f\n", b->name,
			       b->target);
			missed++;
		}
	}
	printf("# %d ratio(s) miss their target\n", missed);
	gm_space_free(plain);
	gm_space_free(safe);
	close(fd);
	return 0;
}
