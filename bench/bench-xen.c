/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-xen: what the Xen backend's mapping cache buys, on the simulator
 * (bench/bench-xen) or on real Xen (bench/bench-xen-real).
 *
 * One HVM domain is read in the workloads below: on the simulator a
 * simulated domain of 1 GiB (tests/xensim: a memfd whose foreign "maps"
 * are real mmap/munmap system calls), on real Xen the xen-qemu harness's
 * test guest (256 MiB).  Everything that differs between the two is in the
 * guest layer, xen-guest.h, with one implementation per program:
 * bench-xen-sim.c and bench-xen-real.c.  The workloads:
 *
 *   W1  gm_read() of 4 KiB at random page-aligned guest addresses inside a
 *       64 MiB working set made of 1,024 randomly chosen 64 KiB-aligned
 *       64 KiB chunks scattered over the whole guest;
 *   W2  gm_read_le16() at one fixed address (a ring index), in a page
 *       outside the working set;
 *   W3  gm_read_u64() at random 8-aligned addresses of the working set,
 *       which fits the default cache budget (all hits after warm-up);
 *   W4  gm_read_u64() at random 8-aligned addresses of the whole guest,
 *       which does not (misses and evictions);
 *   W5  (simulator only) blkif-like requests: 11 random pages out of a
 *       pool of 256 read-write grants of the guest, read into a local
 *       44 KiB buffer, each request served by a cached grant list, a
 *       lease of its refs' entries in the mapping cache (a), by mapping
 *       its refs as one grant list and unmapping it (b), or by one grant
 *       copy (c); see measure_w5().  The configurations above do not
 *       apply to it;
 *
 * through each configuration:
 *
 *   a    an on-demand foreign region, gm_xen_open() with default options
 *        (64 KiB buckets, 64 MiB budget): the mapping cache;
 *   a72  the same with a 72 MiB budget, a little more than the working set;
 *   b    no cache: every access maps the frames it covers with
 *        xenforeignmemory_map(), copies, and unmaps (rust-vmm vm-memory's
 *        map-per-access behaviour), calling the simulator directly;
 *   c    an eager region (GM_XEN_EAGER): the whole guest mapped at creation,
 *        so the region is persistent and accesses never map.
 *
 * W2 also has an informational line "a_view": a gm_view_get() of the ring
 * page on configuration a's space, then the inline gm_view_read_le16().
 * W3 and W4 go through configuration a only, from one thread and from two
 * at once ("a_2threads"), each thread on its own addresses, to see how the
 * cache scales with threads.
 *
 * Every configuration is warmed up before it is timed (the cache filled,
 * every working-set page touched once so that no page fault is timed).  A
 * run of each configuration is calibrated to a fixed length; then the runs
 * are repeated, the configurations taking turns in a rotating order, and
 * the best (minimum) time of each is kept.  Map calls are counted over the
 * timed runs only: the library's gm_xen_get_stats() for a and c, our own
 * count for b, and the guest layer's counters (the simulator's, or link-
 * time wrappers of the real calls) for all of them.  Before timing, every
 * configuration's reads are checked against the guest's own bytes.
 *
 * Output: one "name value unit" line per number; lines starting with '#'
 * are comments.  See bench/README-xen.md.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include <xenforeignmemory.h>

#include <guestmem.h>
#include <guestmem/xen.h>

#include "xen-guest.h"

#define KIB UINT64_C(1024)
#define MIB (UINT64_C(1024) * KIB)

#define PAGE_SHIFT 12
#define PAGE_SIZE (UINT64_C(1) << PAGE_SHIFT)

/* The working set in the guest's RAM (guest.base, guest.size). */
#define CHUNK_SIZE (64 * KIB)
#define WSET_SIZE (64 * MIB)
#define NR_CHUNKS (WSET_SIZE / CHUNK_SIZE)
#define PAGES_PER_CHUNK (CHUNK_SIZE / PAGE_SIZE)

/* Where W2's ring index sits in its page: avail->idx of a split virtqueue. */
#define RING_OFFSET 2

/* Budget of configuration a72: the working set plus one eighth. */
#define A72_BUDGET (72 * MIB)

/* Entries of W1's address array (a power of two). */
#define W1_ENTRIES (UINT64_C(1) << 16)

/* Entries of W2's address array, all equal (a power of two, L1-sized). */
#define W2_ENTRIES (UINT64_C(1) << 10)

/* Entries of each thread's W3 and W4 address array (a power of two). */
#define U64_ENTRIES (UINT64_C(1) << 16)

/* Most frames one map-per-access read covers (b); W1 and W2 need one. */
#define MAPPER_MAX_PAGES 2

/* Run configuration: default, or --quick. */
struct config {
	unsigned int reps;	/* timed runs per configuration, workload */
	uint64_t run_ns;	/* calibrated length of one run */
	size_t verify;		/* W1 reads checked per configuration */
};

static const struct config config_default = {
	.reps = 9,
	.run_ns = 100000000,
	.verify = 4096,
};

static const struct config config_quick = {
	.reps = 5,
	.run_ns = 20000000,
	.verify = 512,
};

static struct config cfg;

/* Every kernel stores its sum here, so no read can be optimised away. */
static volatile uint64_t sink;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

void die(const char *what, int err)
{
	fprintf(stderr, "bench-xen: %s: %s\n", what,
		err ? strerror(-err) : "failed");
	if (err && *gm_last_error())
		fprintf(stderr, "bench-xen: %s\n", gm_last_error());
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a fixed seed gives the same addresses on every run. */
static uint64_t rng_state = 0x78656e62656e6368;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------------ */
/* The address sets                                                    */
/* ------------------------------------------------------------------ */

static uint64_t chunks[NR_CHUNKS];	/* working-set chunk addresses */
static uint64_t *w1_addr;		/* W1's random page addresses */
static uint64_t ring_gpa;		/* W2's address */
/*
 * W2's address, repeated: the kernels load it from memory every iteration,
 * as they do W1's, so that the compiler cannot hoist an inline read (the
 * view's) out of the loop.
 */
static uint64_t w2_addr[W2_ENTRIES];
/* W3's and W4's addresses: U64_ENTRIES for each of the two threads. */
static uint64_t *w3_addr[2], *w4_addr[2];

static uint64_t *xmalloc_addrs(uint64_t n)
{
	uint64_t *p = malloc(n * sizeof(*p));

	if (!p)
		die("out of memory", -ENOMEM);
	return p;
}

static void sets_init(void)
{
	uint64_t nchunks = guest.size / CHUNK_SIZE, *all, i;
	unsigned int t;

	/*
	 * Pick the working set's chunks with a partial Fisher-Yates shuffle
	 * of every chunk of the guest; the next chunk in the shuffle, which
	 * is not in the working set, holds the ring.
	 */
	all = xmalloc_addrs(nchunks);
	for (i = 0; i < nchunks; i++)
		all[i] = i;
	for (i = 0; i <= NR_CHUNKS; i++) {
		uint64_t j = i + rng_next() % (nchunks - i), t = all[i];

		all[i] = all[j];
		all[j] = t;
	}
	for (i = 0; i < NR_CHUNKS; i++)
		chunks[i] = guest.base + all[i] * CHUNK_SIZE;
	ring_gpa = guest.base + all[NR_CHUNKS] * CHUNK_SIZE + RING_OFFSET;
	free(all);
	for (i = 0; i < W2_ENTRIES; i++)
		w2_addr[i] = ring_gpa;

	w1_addr = xmalloc_addrs(W1_ENTRIES);
	for (i = 0; i < W1_ENTRIES; i++)
		w1_addr[i] = chunks[rng_next() % NR_CHUNKS] +
			     rng_next() % PAGES_PER_CHUNK * PAGE_SIZE;

	/*
	 * Drawn after W1's, so that W1's addresses stay those of the
	 * benchmark before W3 and W4 existed.
	 */
	for (t = 0; t < 2; t++) {
		w3_addr[t] = xmalloc_addrs(U64_ENTRIES);
		w4_addr[t] = xmalloc_addrs(U64_ENTRIES);
		for (i = 0; i < U64_ENTRIES; i++) {
			w3_addr[t][i] = chunks[rng_next() % NR_CHUNKS] +
					rng_next() % (CHUNK_SIZE / 8) * 8;
			w4_addr[t][i] = guest.base +
					rng_next() % (guest.size / 8) * 8;
		}
	}
}

static void sets_fini(void)
{
	unsigned int t;

	for (t = 0; t < 2; t++) {
		free(w3_addr[t]);
		free(w4_addr[t]);
	}
	free(w1_addr);
}

/* ------------------------------------------------------------------ */
/* Configurations                                                      */
/* ------------------------------------------------------------------ */

enum workload { W1, W2, W3, W4, W_COUNT };

static const char *const workload_name[W_COUNT] = { "w1", "w2", "w3", "w4" };

enum conf_id { CONF_A, CONF_A72, CONF_AVIEW, CONF_B, CONF_C, CONF_COUNT };

/* What the timed runs of one configuration and workload gave. */
struct result {
	uint64_t n;		/* accesses per timed run (per thread) */
	uint64_t best_ns;	/* shortest timed run */
	uint64_t ops;		/* accesses timed in total */
	uint64_t maps;		/* map calls (stats, or b: own count) */
	uint64_t misses;	/* cache misses (library stats) */
	uint64_t sim_maps;	/* xenforeignmemory_map and _map2 calls */
	uint64_t sim_unmaps;	/* xenforeignmemory_unmap calls */
	int done;
};

/* The two-thread runs of W3 and W4 on configuration a. */
static struct result two_threads[W_COUNT];

struct conf {
	const char *name;
	const char *what;
	struct gm_xen *x;		/* a, a72, c; NULL for b */
	struct gm_space *space;		/* a, a72, c (a_view: a's) */
	struct gm_view view;		/* a_view: the ring page */
	xenforeignmemory_handle *fmem;	/* b */
	uint64_t own_maps;		/* b: map calls made */
	struct result res[W_COUNT];
};

static struct conf confs[CONF_COUNT] = {
	[CONF_A] = { .name = "a",
		     .what = "mapping cache, default options (64 KiB "
			     "buckets, 64 MiB budget)" },
	[CONF_A72] = { .name = "a72",
		       .what = "mapping cache, 64 KiB buckets, 72 MiB "
			       "budget" },
	[CONF_AVIEW] = { .name = "a_view",
			 .what = "configuration a, through a view of the "
				 "ring page (W2 only)" },
	[CONF_B] = { .name = "b",
		     .what = "map per access: xenforeignmemory_map, copy, "
			     "xenforeignmemory_unmap" },
	[CONF_C] = { .name = "c",
		     .what = "eager region (GM_XEN_EAGER): whole guest mapped "
			     "at creation" },
};

/*
 * A space with one foreign region over the guest's RAM, through @x, at the
 * guest's own addresses (gpa = gfn << 12).
 */
static struct gm_space *space_new(struct gm_xen *x, const char *name,
				  unsigned int flags)
{
	struct gm_region *r;
	struct gm_space *s;
	int ret;

	ret = gm_space_new(&s, name, 0);
	if (ret)
		die("gm_space_new", ret);
	ret = gm_xen_foreign_region_new(x, guest.domid, guest.base, guest.size,
					guest.base >> PAGE_SHIFT, flags, &r);
	if (ret)
		die("gm_xen_foreign_region_new", ret);
	ret = gm_space_add_region(s, r);
	if (ret)
		die("gm_space_add_region", ret);
	return s;
}

static struct gm_xen *xen_open(size_t cache_bytes)
{
	struct gm_xen_options o = { .cache_bytes = cache_bytes };
	struct gm_xen *x;
	int ret;

	ret = gm_xen_open(&x, cache_bytes ? &o : NULL);
	if (ret)
		die("gm_xen_open", ret);
	return x;
}

/*
 * Configuration b's access: map the frames that cover [gpa, gpa + len),
 * copy, unmap.  The guest's frame numbers are its page numbers (gfn 0 at
 * gpa 0).  Mapped read-write, as the cache maps foreign buckets.
 */
static int mapper_read(struct conf *c, uint64_t gpa, void *buf, size_t len)
{
	uint64_t first = gpa >> PAGE_SHIFT;
	size_t n = (size_t)(((gpa + len - 1) >> PAGE_SHIFT) - first + 1), i;
	xen_pfn_t arr[MAPPER_MAX_PAGES] = { 0 };
	int err[MAPPER_MAX_PAGES];
	uint8_t *p;

	if (n > MAPPER_MAX_PAGES)
		return -EINVAL;
	for (i = 0; i < n; i++)
		arr[i] = (xen_pfn_t)(first + i);
	p = xenforeignmemory_map(c->fmem, guest.domid, PROT_READ | PROT_WRITE,
				 n, arr, err);
	c->own_maps++;
	if (!p)
		return -errno;
	for (i = 0; i < n; i++) {
		if (err[i]) {
			xenforeignmemory_unmap(c->fmem, p, n);
			return err[i] < 0 ? err[i] : -err[i];
		}
	}
	memcpy(buf, p + (gpa & (PAGE_SIZE - 1)), len);
	if (xenforeignmemory_unmap(c->fmem, p, n))
		return -errno;
	return 0;
}

/* Read every page of the working set once. */
static void warm_set(struct conf *c)
{
	uint8_t buf[PAGE_SIZE];
	uint64_t i, p;
	int ret;

	for (i = 0; i < NR_CHUNKS; i++) {
		for (p = 0; p < PAGES_PER_CHUNK; p++) {
			ret = gm_read(c->space, chunks[i] + p * PAGE_SIZE, buf,
				      sizeof(buf));
			if (ret)
				die("warm-up gm_read", ret);
		}
	}
}

/*
 * Read every page of the working set and the ring once: fills the cache
 * (a, a72) and takes every first-touch page fault of the mappings (a, a72,
 * c), which the simulator has and real privcmd mappings do not.  The ring
 * goes first so that the working set is what the cache holds.
 */
static void warm_up(struct conf *c)
{
	uint16_t v;
	int ret;

	ret = gm_read_le16(c->space, ring_gpa, &v);
	if (ret)
		die("warm-up gm_read_le16", ret);
	warm_set(c);
}

/* The cache misses of @c's context so far. */
static uint64_t cache_misses(const struct conf *c)
{
	struct gm_xen_stats st;
	int ret;

	ret = gm_xen_get_stats(c->x, &st);
	if (ret)
		die("gm_xen_get_stats", ret);
	return st.misses;
}

/*
 * Read the working set through @c until a whole pass misses nothing (at
 * most 8 passes).  a's budget holds exactly the working set, and other
 * buckets (the ring's) may still take places in it: the miss that brings a
 * working-set bucket back may evict another one (CLOCK evicts any bucket
 * not used lately), which then misses in turn, until the other buckets are
 * the ones evicted.
 */
static void warm_until_hits(struct conf *c)
{
	unsigned int pass;
	uint64_t before;

	for (pass = 0; pass < 8; pass++) {
		before = cache_misses(c);
		warm_set(c);
		if (cache_misses(c) == before)
			break;
	}
}

static void conf_init(enum conf_id id)
{
	struct conf *c = &confs[id];
	struct gm_xen_stats st;
	uint64_t t0, t, maps;
	int ret;

	switch (id) {
	case CONF_A:
		c->x = xen_open(0);
		c->space = space_new(c->x, "bench-a", 0);
		break;
	case CONF_A72:
		c->x = xen_open(A72_BUDGET);
		c->space = space_new(c->x, "bench-a72", 0);
		break;
	case CONF_AVIEW:
		/* Shares a's context and space: set up in main(). */
		return;
	case CONF_B:
		c->fmem = xenforeignmemory_open(NULL, 0);
		if (!c->fmem)
			die("xenforeignmemory_open", -errno);
		return;
	case CONF_C:
		c->x = xen_open(0);
		t0 = now_ns();
		c->space = space_new(c->x, "bench-c", GM_XEN_EAGER);
		t = now_ns() - t0;
		ret = gm_xen_get_stats(c->x, &st);
		if (ret)
			die("gm_xen_get_stats", ret);
		printf("c.setup_time %.2f ms\nc.setup_maps %" PRIu64
		       " calls\n",
		       (double)t / 1e6, st.map_calls);
		break;
	case CONF_COUNT:
		return;
	}
	ret = gm_xen_get_stats(c->x, &st);
	if (ret)
		die("gm_xen_get_stats", ret);
	maps = st.map_calls;
	t0 = now_ns();
	warm_up(c);
	t = now_ns() - t0;
	ret = gm_xen_get_stats(c->x, &st);
	if (ret)
		die("gm_xen_get_stats", ret);
	printf("%s.warmup_time %.2f ms\n%s.warmup_maps %" PRIu64 " calls\n",
	       c->name, (double)t / 1e6, c->name, st.map_calls - maps);
	fflush(stdout);
}

static void conf_fini(struct conf *c)
{
	gm_view_put(&c->view);
	if (c->space && c != &confs[CONF_AVIEW])
		gm_space_free(c->space);
	if (c->x)
		gm_xen_close(c->x);
	if (c->fmem)
		xenforeignmemory_close(c->fmem);
	c->space = NULL;
	c->x = NULL;
	c->fmem = NULL;
}

/* ------------------------------------------------------------------ */
/* Kernels                                                             */
/* ------------------------------------------------------------------ */

/* Time @n accesses of one workload; return ns. */
typedef uint64_t kernel_fn(struct conf *c, uint64_t n);

/*
 * Tell the compiler that memory at @p may be read: a copy into a buffer
 * nobody reads must not be optimised away.
 */
#define USE_BUFFER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static void kernel_failed(const struct conf *c, const char *op, int err)
{
	fprintf(stderr, "bench-xen: %s: %s failed\n", c->name, op);
	die(op, err);
}

/*
 * The one loop skeleton.  The statement performs one access with guest
 * address `a`, ORs any error into `err` and adds what it read to `sum`.
 * Checking the error is part of the cost: callers that ignore return codes
 * are not realistic.
 */
#define KERNEL(fn, ADDR, ...)                                                 \
	static __attribute__((noinline)) uint64_t fn(struct conf *c,          \
						     uint64_t n)              \
	{                                                                     \
		uint64_t buf[PAGE_SIZE / 8], sum = 0, t0, t, i;               \
		struct gm_space *s = c->space;                                \
		int err = 0;                                                  \
                                                                              \
		(void)s;                                                      \
		(void)buf;                                                    \
		t0 = now_ns();                                                \
		for (i = 0; i < n; i++) {                                     \
			uint64_t a = (ADDR);                                  \
                                                                              \
			__VA_ARGS__;                                          \
		}                                                             \
		t = now_ns() - t0;                                            \
		sink = sum;                                                   \
		if (err)                                                      \
			kernel_failed(c, #fn, err);                           \
		return t;                                                     \
	}

#define W1_ADDR w1_addr[i & (W1_ENTRIES - 1)]
#define W2_ADDR w2_addr[i & (W2_ENTRIES - 1)]

KERNEL(w1_space, W1_ADDR, {
	err |= gm_read(s, a, buf, PAGE_SIZE);
	USE_BUFFER(buf);
	sum += buf[0] ^ buf[PAGE_SIZE / 8 - 1];
})
KERNEL(w1_mapper, W1_ADDR, {
	err |= mapper_read(c, a, buf, PAGE_SIZE);
	USE_BUFFER(buf);
	sum += buf[0] ^ buf[PAGE_SIZE / 8 - 1];
})
KERNEL(w2_space, W2_ADDR, {
	uint16_t v = 0;
	err |= gm_read_le16(s, a, &v);
	sum += v;
})
KERNEL(w2_view, W2_ADDR, {
	uint16_t v = 0;
	err |= gm_view_read_le16(&c->view, a, &v);
	sum += v;
})
KERNEL(w2_mapper, W2_ADDR, {
	uint16_t v = 0;
	err |= mapper_read(c, a, &v, sizeof(v));
	sum += le16toh(v);
})

/* The kernel of each configuration and workload; NULL: not measured. */
static kernel_fn *const kernels[CONF_COUNT][W_COUNT] = {
	[CONF_A] = { w1_space, w2_space },
	[CONF_A72] = { w1_space, w2_space },
	[CONF_AVIEW] = { NULL, w2_view },
	[CONF_B] = { w1_mapper, w2_mapper },
	[CONF_C] = { w1_space, w2_space },
};

/*
 * W3 and W4: @n reads of a u64 at @addr[@start + i] (modulo the array's
 * size) through @s, each independent of the last.  One loop for both the
 * one-thread and the two-thread runs, so that they time the same code.
 * Returns ns; the sum of what was read goes to @sum, any error to @err.
 */
static __attribute__((noinline)) uint64_t u64_reads(struct gm_space *s,
						    const uint64_t *addr,
						    uint64_t start, uint64_t n,
						    uint64_t *sum, int *err)
{
	uint64_t acc = 0, t0, i;
	int e = 0;

	t0 = now_ns();
	for (i = start; i < start + n; i++) {
		uint64_t v = 0;

		e |= gm_read_u64(s, addr[i & (U64_ENTRIES - 1)], &v);
		acc += v;
	}
	t0 = now_ns() - t0;
	*sum = acc;
	*err = e;
	return t0;
}

/* The addresses of W3 or W4 for thread 0 or 1. */
static const uint64_t *u64_set(enum workload w, unsigned int thread)
{
	return w == W3 ? w3_addr[thread] : w4_addr[thread];
}

/* The workload that the one-thread kernels below run: W3 or W4. */
static enum workload u64_workload;

/*
 * Where each thread's next run starts in its array, W3's and W4's.  Each
 * run goes on where the thread's last one stopped: were every run to
 * start at the first entry, a run of fewer accesses than W4's cache holds
 * buckets would hit only, and one of more would (LRU) miss only.
 */
static uint64_t u64_next[W_COUNT][2];

/* The start of thread @thread's next run of @n on W3 or W4. */
static uint64_t u64_start(enum workload w, unsigned int thread, uint64_t n)
{
	uint64_t start = u64_next[w][thread];

	u64_next[w][thread] = (start + n) & (U64_ENTRIES - 1);
	return start;
}

/* One thread, thread 0's addresses: a kernel_fn for calibrate(). */
static uint64_t u64_one(struct conf *c, uint64_t n)
{
	uint64_t sum, t;
	int err;

	t = u64_reads(c->space, u64_set(u64_workload, 0),
		      u64_start(u64_workload, 0, n), n, &sum, &err);
	sink = sum;
	if (err)
		kernel_failed(c, "u64_reads", err);
	return t;
}

/* The second thread of a two-thread run (run_pair()). */
struct pair_arg {
	struct gm_space *s;
	const uint64_t *addr;
	uint64_t start, n, t, sum;
	int err;
	pthread_barrier_t *bar;
};

static void *pair_thread(void *p)
{
	struct pair_arg *a = p;

	pthread_barrier_wait(a->bar);
	a->t = u64_reads(a->s, a->addr, a->start, a->n, &a->sum, &a->err);
	return NULL;
}

/*
 * @n reads in this thread on thread 0's addresses and @n in a second one
 * on thread 1's, both on @c's space, started together by a barrier;
 * return the longer of the two times, the run's length.
 */
static uint64_t run_pair(struct conf *c, enum workload w, uint64_t n)
{
	pthread_barrier_t bar;
	struct pair_arg a = { .s = c->space,
			      .addr = u64_set(w, 1),
			      .start = u64_start(w, 1, n),
			      .n = n,
			      .bar = &bar };
	uint64_t mine, sum;
	pthread_t t;
	int err;

	if (pthread_barrier_init(&bar, NULL, 2))
		die("pthread_barrier_init", -EAGAIN);
	if (pthread_create(&t, NULL, pair_thread, &a))
		die("pthread_create", -EAGAIN);
	pthread_barrier_wait(&bar);
	mine = u64_reads(c->space, u64_set(w, 0), u64_start(w, 0, n), n, &sum,
			 &err);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&bar);
	sink = sum + a.sum;
	if (err || a.err)
		kernel_failed(c, "u64_reads (two threads)", err ? err : a.err);
	return mine > a.t ? mine : a.t;
}

/* ------------------------------------------------------------------ */
/* Correctness                                                         */
/* ------------------------------------------------------------------ */

/*
 * One read through configuration @c, as its kernels do it, of what the
 * workload @w reads at @gpa.  The bytes go to @buf in the guest's order
 * (little-endian), as they are in guest memory.
 */
static int conf_read(struct conf *c, enum workload w, uint64_t gpa, void *buf)
{
	uint64_t v64 = 0;
	uint16_t v;
	int ret;

	if (w == W1)
		return c->fmem ? mapper_read(c, gpa, buf, PAGE_SIZE)
			       : gm_read(c->space, gpa, buf, PAGE_SIZE);
	if (w == W3 || w == W4) {
		ret = gm_read_u64(c->space, gpa, &v64);
		v64 = htole64(v64);
		memcpy(buf, &v64, sizeof(v64));
		return ret;
	}
	if (c->fmem) {
		ret = mapper_read(c, gpa, &v, sizeof(v));
		v = le16toh(v);
	} else if (c->view.hva) {
		ret = gm_view_read_le16(&c->view, gpa, &v);
	} else {
		ret = gm_read_le16(c->space, gpa, &v);
	}
	v = htole16(v);
	memcpy(buf, &v, sizeof(v));
	return ret;
}

/*
 * Check one read of workload @w at @gpa through @c against the guest's own
 * bytes (guest_read()), taken before and after it.  Returns 1 if the read
 * was checked, 0 if the guest changed the bytes in between, so that the
 * read cannot be judged (a running guest on real Xen; never on the
 * simulator); ends the program on a wrong read.
 */
static int check_read(struct conf *c, enum workload w, uint64_t gpa)
{
	uint8_t got[PAGE_SIZE], before[PAGE_SIZE], after[PAGE_SIZE];
	size_t len = w == W1 ? PAGE_SIZE : w == W2 ? 2 : 8;
	int ret;

	guest_read(gpa, before, len);
	ret = conf_read(c, w, gpa, got);
	if (ret)
		kernel_failed(c, "verify read", ret);
	guest_read(gpa, after, len);
	if (memcmp(before, after, len))
		return 0;
	if (memcmp(got, before, len)) {
		fprintf(stderr, "bench-xen: %s: %s: wrong data at gpa %#" PRIx64
			"\n", c->name, workload_name[w], gpa);
		exit(1);
	}
	return 1;
}

/*
 * Say how many of @tried reads could not be checked; fail if that was most
 * of them: then the checks did not check.
 */
static void checked(const struct conf *c, const char *wn, unsigned int tried,
		    unsigned int ok)
{
	if (ok == tried)
		return;
	printf("# %s: %s: %u of %u reads not checked: the guest changed "
	       "the bytes while they were read\n", c->name, wn, tried - ok,
	       tried);
	if (ok < tried / 2) {
		fprintf(stderr, "bench-xen: %s: %s: the guest's memory "
			"changes too often to check reads\n", c->name, wn);
		exit(1);
	}
}

/* Check @c's reads of W1 and W2 against the guest's own bytes. */
static void verify(struct conf *c)
{
	unsigned int ok = 0;
	size_t i;

	if (kernels[c - confs][W1]) {
		for (i = 0; i < cfg.verify; i++) {
			uint64_t gpa = w1_addr[(i * 7919) & (W1_ENTRIES - 1)];

			ok += check_read(c, W1, gpa);
		}
		checked(c, "w1", (unsigned int)cfg.verify, ok);
	}
	checked(c, "w2", 1, (unsigned int)check_read(c, W2, ring_gpa));
}

/* The same for W3 or W4 (@w), both threads' addresses. */
static void verify_u64(struct conf *c, enum workload w)
{
	unsigned int t, ok = 0, tried = 0;
	size_t i;

	for (t = 0; t < 2; t++) {
		for (i = 0; i < cfg.verify / 8; i++, tried++) {
			uint64_t gpa =
				u64_set(w, t)[(i * 7919) & (U64_ENTRIES - 1)];

			ok += check_read(c, w, gpa);
		}
	}
	checked(c, workload_name[w], tried, ok);
}

/* ------------------------------------------------------------------ */
/* Measurements                                                        */
/* ------------------------------------------------------------------ */

/* Counters that the timed runs move, snapshotted around each run. */
struct snap {
	uint64_t maps, misses, sim_maps, sim_unmaps;
};

static void snap_take(const struct conf *c, struct snap *s)
{
	struct gm_xen_stats st;
	int ret;

	memset(s, 0, sizeof(*s));
	if (c->x) {
		ret = gm_xen_get_stats(c->x, &st);
		if (ret)
			die("gm_xen_get_stats", ret);
		s->maps = st.map_calls;
		s->misses = st.misses;
	} else {
		s->maps = c->own_maps;
	}
	guest_counts(&s->sim_maps, &s->sim_unmaps);
}

/* Accesses per run so that one run takes about cfg.run_ns.  The doubling
 * runs are also the last warm-up. */
static uint64_t calibrate(struct conf *c, kernel_fn *fn)
{
	uint64_t n, t;

	for (n = 1;; n *= 2) {
		t = fn(c, n);
		if (t >= cfg.run_ns / 16 || n >= (UINT64_C(1) << 40))
			break;
	}
	n = (uint64_t)((double)n * (double)cfg.run_ns / (double)(t ? t : 1));
	return n ? n : 1;
}

/* Count a timed run of @ops accesses that took @t ns in @r. */
static void account(struct result *r, uint64_t t, uint64_t ops,
		    const struct snap *before, const struct snap *after)
{
	if (t < r->best_ns)
		r->best_ns = t;
	r->ops += ops;
	r->maps += after->maps - before->maps;
	r->misses += after->misses - before->misses;
	r->sim_maps += after->sim_maps - before->sim_maps;
	r->sim_unmaps += after->sim_unmaps - before->sim_unmaps;
}

/* One timed run of @c, counted in its result for @w. */
static void run_one(struct conf *c, enum workload w)
{
	struct result *r = &c->res[w];
	struct snap before, after;
	uint64_t t;

	snap_take(c, &before);
	t = kernels[c - confs][w](c, r->n);
	snap_take(c, &after);
	account(r, t, r->n, &before, &after);
}

static double ns_per_op(const struct result *r)
{
	return (double)r->best_ns / (double)r->n;
}

static double per_1k(uint64_t count, uint64_t ops)
{
	return 1000.0 * (double)count / (double)ops;
}

/*
 * The lines of result @r, named <@wn>.<@name>.*: the time of one access
 * (per thread), the rate of all @threads together, and the counts per
 * 1,000 accesses (library cache misses only with @stats).
 */
static void report_result(const char *wn, const char *name,
			  const struct result *r, unsigned int threads,
			  int stats)
{
	double ns = ns_per_op(r);

	printf("%s.%s.time %.2f ns/op\n", wn, name, ns);
	printf("%s.%s.rate %.0f ops/s\n", wn, name, threads * 1e9 / ns);
	printf("%s.%s.maps %.3f maps/1k\n", wn, name, per_1k(r->maps, r->ops));
	if (stats)
		printf("%s.%s.misses %.3f misses/1k\n", wn, name,
		       per_1k(r->misses, r->ops));
	printf("%s.%s.%s_maps %.3f maps/1k\n", wn, name, guest.counter,
	       per_1k(r->sim_maps, r->ops));
	printf("%s.%s.%s_unmaps %.3f unmaps/1k\n", wn, name, guest.counter,
	       per_1k(r->sim_unmaps, r->ops));
}

static void report(const struct conf *c, enum workload w)
{
	report_result(workload_name[w], c->name, &c->res[w], 1, c->x != NULL);
}

/* Ratio lines that missed their target, for the summary at the end. */
static char misses[16][128];
static unsigned int nr_misses;

/*
 * Print ratio @name = @num / @den (times of two configurations) and
 * check it against @target: at least (@at_least) or at most.
 */
static void ratio(const char *wn, const char *name, double num, double den,
		  double target, int at_least)
{
	double v = num / den;

	printf("%s.%s %.2f x\n", wn, name, v);
	if ((at_least ? v < target : v > target) &&
	    nr_misses < sizeof(misses) / sizeof(misses[0]))
		snprintf(misses[nr_misses++], sizeof(misses[0]),
			 "%s.%s %.2f x, target %s %.1f", wn, name, v,
			 at_least ? ">=" : "<=", target);
}

static void measure(enum workload w)
{
	const char *wn = workload_name[w];
	unsigned int rep, k;
	enum conf_id id;

	for (id = 0; id < CONF_COUNT; id++) {
		if (!kernels[id][w])
			continue;
		confs[id].res[w].n = calibrate(&confs[id], kernels[id][w]);
		confs[id].res[w].best_ns = UINT64_MAX;
		confs[id].res[w].done = 1;
	}
	/* Take turns, starting with a different configuration each
	 * repetition, so that none always runs right after another. */
	for (rep = 0; rep < cfg.reps; rep++) {
		for (k = 0; k < CONF_COUNT; k++) {
			id = (enum conf_id)((rep + k) % CONF_COUNT);
			if (kernels[id][w])
				run_one(&confs[id], w);
		}
	}
	for (id = 0; id < CONF_COUNT; id++)
		if (kernels[id][w])
			report(&confs[id], w);

	ratio(wn, "a_vs_b", ns_per_op(&confs[CONF_B].res[w]),
	      ns_per_op(&confs[CONF_A].res[w]), 20.0, 1);
	ratio(wn, "a_vs_c", ns_per_op(&confs[CONF_A].res[w]),
	      ns_per_op(&confs[CONF_C].res[w]), 1.5, 0);
	ratio(wn, "a72_vs_b", ns_per_op(&confs[CONF_B].res[w]),
	      ns_per_op(&confs[CONF_A72].res[w]), 20.0, 1);
	ratio(wn, "a72_vs_c", ns_per_op(&confs[CONF_A72].res[w]),
	      ns_per_op(&confs[CONF_C].res[w]), 1.5, 0);
	/* Informational: the most any cache can gain over b is what the
	 * eager mapping gains, b / c; a_vs_b cannot exceed it. */
	printf("%s.c_vs_b %.2f x\n", wn,
	       ns_per_op(&confs[CONF_B].res[w]) /
		       ns_per_op(&confs[CONF_C].res[w]));
	if (kernels[CONF_AVIEW][w])
		/* Informational: a device model that holds a view. */
		printf("%s.a_view_vs_c %.2f x\n", wn,
		       ns_per_op(&confs[CONF_AVIEW].res[w]) /
			       ns_per_op(&confs[CONF_C].res[w]));
	fflush(stdout);
}

/*
 * W3 or W4 (@w) through configuration a: runs of one thread and runs of
 * two at once, taking turns.  Prints both results and the throughput
 * scaling, the two threads' rate over one thread's: 2.00 x when the second
 * thread takes nothing from the first.
 */
static void measure_threads(enum workload w)
{
	struct conf *c = &confs[CONF_A];
	struct result *one = &c->res[w], *two = &two_threads[w];
	const char *wn = workload_name[w];
	struct snap before, after;
	unsigned int rep, k;
	uint64_t t;

	verify_u64(c, w);
	u64_workload = w;
	one->n = two->n = calibrate(c, u64_one);
	one->best_ns = two->best_ns = UINT64_MAX;
	one->done = two->done = 1;
	/* Alternate which goes first, so that neither always runs warm. */
	for (rep = 0; rep < cfg.reps; rep++) {
		for (k = 0; k < 2; k++) {
			snap_take(c, &before);
			if ((rep + k) & 1) {
				t = run_pair(c, w, two->n);
				snap_take(c, &after);
				account(two, t, 2 * two->n, &before, &after);
			} else {
				t = u64_one(c, one->n);
				snap_take(c, &after);
				account(one, t, one->n, &before, &after);
			}
		}
	}
	report_result(wn, c->name, one, 1, 1);
	report_result(wn, "a_2threads", two, 2, 1);
	/* Each thread made as many accesses as the one thread alone. */
	if (w == W3)
		ratio(wn, "a.scaling", 2.0 * (double)one->best_ns,
		      (double)two->best_ns, 1.8, 1);
	else
		/* Informational: every miss maps and evicts. */
		printf("%s.a.scaling %.2f x\n", wn,
		       2.0 * (double)one->best_ns / (double)two->best_ns);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* W5: blkif-like requests over persistent grants                      */
/* ------------------------------------------------------------------ */

/* The guest's pool of persistent grants, as a blkif frontend keeps. */
#define W5_POOL 256
/* Segments per request: BLKIF_MAX_SEGMENTS_PER_REQUEST. */
#define W5_SEGS 11
/* Requests in W5's array (a power of two). */
#define W5_REQS (UINT64_C(1) << 12)

/* What the timed runs of one W5 configuration gave. */
struct w5_result {
	uint64_t n;		/* requests per timed run */
	uint64_t best_ns;	/* shortest timed run */
	uint64_t ops;		/* requests timed in total */
	uint64_t maps;		/* map calls (library stats) */
	uint64_t unmaps;	/* unmap calls (library stats) */
	uint64_t gnt_maps;	/* xengnttab map calls (guest layer) */
	uint64_t gnt_copies;	/* grant copy calls (guest layer) */
};

struct w5_conf;

/* Serve request @req: its W5_SEGS pages into w5_buf, in order. */
typedef int w5_serve_fn(struct w5_conf *c, uint64_t req);

struct w5_conf {
	const char *name;
	const char *what;
	w5_serve_fn *serve;
	struct gm_xen *x;		/* its own context */
	/* c: the segments, their refs set per request */
	struct gm_xen_copy_seg segs[W5_SEGS];
	struct w5_result res;
};

static uint64_t w5_gpa[W5_POOL];	/* the pool's pages */
static uint32_t w5_ref[W5_POOL];	/* and their grant refs */
static uint8_t (*w5_req)[W5_SEGS];	/* W5_REQS requests: pool indices */
/* The local buffer every request is read into, 44 KiB. */
static uint64_t w5_buf[W5_SEGS * PAGE_SIZE / 8];

/*
 * b: map the request's refs as one grant list, copy each page out through
 * its iovec, unmap: blkback without persistent grants, map and unmap per
 * request.  Read-only, as a backend maps the pages of a request whose data
 * goes from the guest to the disk.  a: the same list, cached
 * (GM_XEN_GLIST_CACHED): blkback with persistent grants, each ref mapped
 * once and then leased from the mapping cache per request.
 */
static int w5_list_prot(struct w5_conf *c, uint64_t req, int prot)
{
	const uint8_t *seg = w5_req[req & (W5_REQS - 1)];
	uint8_t *dst = (uint8_t *)w5_buf;
	uint32_t refs[W5_SEGS];
	struct gm_xen_grant_list *l;
	const struct iovec *iov;
	unsigned int k;
	int ret;

	for (k = 0; k < W5_SEGS; k++)
		refs[k] = w5_ref[seg[k]];
	ret = gm_xen_grant_list_map(c->x, guest.domid, refs, W5_SEGS, prot,
				    &l);
	if (ret)
		return ret;
	iov = gm_xen_grant_list_iov(l, NULL);
	for (k = 0; k < W5_SEGS; k++) {
		memcpy(dst, iov[k].iov_base, iov[k].iov_len);
		dst += iov[k].iov_len;
	}
	gm_xen_grant_list_unmap(l);
	return 0;
}

static int w5_list(struct w5_conf *c, uint64_t req)
{
	return w5_list_prot(c, req, GM_PROT_READ);
}

static int w5_cached(struct w5_conf *c, uint64_t req)
{
	return w5_list_prot(c, req, GM_PROT_READ | GM_XEN_GLIST_CACHED);
}

/* c: one grant copy of the request's W5_SEGS whole pages into w5_buf. */
static int w5_copy(struct w5_conf *c, uint64_t req)
{
	const uint8_t *seg = w5_req[req & (W5_REQS - 1)];
	unsigned int k;

	for (k = 0; k < W5_SEGS; k++)
		c->segs[k].ref = w5_ref[seg[k]];
	return gm_xen_grant_copy(c->x, c->segs, W5_SEGS);
}

enum w5_conf_id { W5_A, W5_B, W5_C, W5_COUNT };

static struct w5_conf w5_confs[W5_COUNT] = {
	[W5_A] = { .name = "a",
		   .what = "cached grant list: gm_xen_grant_list_map of the "
			   "11 refs with GM_XEN_GLIST_CACHED (each ref mapped "
			   "once, then leased from the cache), copy out "
			   "through its iovecs, gm_xen_grant_list_unmap",
		   .serve = w5_cached },
	[W5_B] = { .name = "b",
		   .what = "grant list per request: gm_xen_grant_list_map of "
			   "the 11 refs, copy out through its iovecs, "
			   "gm_xen_grant_list_unmap",
		   .serve = w5_list },
	[W5_C] = { .name = "c",
		   .what = "grant copy: one gm_xen_grant_copy of 11 "
			   "segments of 4096 bytes",
		   .serve = w5_copy },
};

/* Time @n requests through @c; return ns. */
static __attribute__((noinline)) uint64_t w5_run(struct w5_conf *c,
						 uint64_t n)
{
	uint64_t sum = 0, t0, t, i;
	int err = 0;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		err |= c->serve(c, i);
		USE_BUFFER(w5_buf);
		sum += w5_buf[0] ^ w5_buf[sizeof(w5_buf) / 8 - 1];
	}
	t = now_ns() - t0;
	sink = sum;
	if (err) {
		fprintf(stderr, "bench-xen: w5.%s: a request failed\n",
			c->name);
		die("w5 request", err);
	}
	return t;
}

/* Requests per run so that one run takes about cfg.run_ns (calibrate()). */
static uint64_t w5_calibrate(struct w5_conf *c)
{
	uint64_t n, t;

	for (n = 1;; n *= 2) {
		t = w5_run(c, n);
		if (t >= cfg.run_ns / 16 || n >= (UINT64_C(1) << 40))
			break;
	}
	n = (uint64_t)((double)n * (double)cfg.run_ns / (double)(t ? t : 1));
	return n ? n : 1;
}

/* Counters that W5's timed runs move. */
struct w5_snap {
	uint64_t maps, unmaps, gnt_maps, gnt_copies;
};

static void w5_snap_take(const struct w5_conf *c, struct w5_snap *s)
{
	struct gm_xen_stats st;
	int ret;

	ret = gm_xen_get_stats(c->x, &st);
	if (ret)
		die("gm_xen_get_stats", ret);
	s->maps = st.map_calls;
	s->unmaps = st.unmap_calls;
	guest_grant_counts(&s->gnt_maps, &s->gnt_copies);
}

static void w5_run_one(struct w5_conf *c)
{
	struct w5_result *r = &c->res;
	struct w5_snap before, after;
	uint64_t t;

	w5_snap_take(c, &before);
	t = w5_run(c, r->n);
	w5_snap_take(c, &after);
	if (t < r->best_ns)
		r->best_ns = t;
	r->ops += r->n;
	r->maps += after.maps - before.maps;
	r->unmaps += after.unmaps - before.unmaps;
	r->gnt_maps += after.gnt_maps - before.gnt_maps;
	r->gnt_copies += after.gnt_copies - before.gnt_copies;
}

/*
 * Serve requests through @c into a buffer filled with a byte that no guest
 * page holds throughout, and compare each segment with the guest's own
 * page.  W5 runs on the simulator only, whose guest does not change its
 * memory: no before-and-after check is needed.
 */
static void w5_verify(struct w5_conf *c)
{
	uint8_t page[PAGE_SIZE];
	unsigned int i, k;

	for (i = 0; i < cfg.verify / 64; i++) {
		uint64_t req = (i * UINT64_C(7919)) & (W5_REQS - 1);
		int ret;

		memset(w5_buf, 0xa5, sizeof(w5_buf));
		ret = c->serve(c, req);
		if (ret) {
			fprintf(stderr, "bench-xen: w5.%s: verify request "
				"failed\n", c->name);
			die("w5 request", ret);
		}
		for (k = 0; k < W5_SEGS; k++) {
			uint64_t gpa = w5_gpa[w5_req[req][k]];

			guest_read(gpa, page, PAGE_SIZE);
			if (memcmp((uint8_t *)w5_buf + k * PAGE_SIZE, page,
				   PAGE_SIZE)) {
				fprintf(stderr, "bench-xen: w5.%s: wrong data "
					"in segment %u of request %" PRIu64
					" (gpa %#" PRIx64 ")\n",
					c->name, k, req, gpa);
				exit(1);
			}
		}
	}
}

/* Whether @v is among @a[0 .. @n). */
static int w5_seen(const uint64_t *a, unsigned int n, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (a[i] == v)
			return 1;
	return 0;
}

/*
 * The pool (distinct random pages of the guest) and the requests.  Drawn
 * after every other workload's addresses, which thus stay what they were
 * before W5 existed.
 */
static void w5_sets_init(void)
{
	uint64_t pages = guest.size / PAGE_SIZE, seg[W5_SEGS], i, v;
	unsigned int p, k;

	for (p = 0; p < W5_POOL; p++) {
		do
			v = guest.base + rng_next() % pages * PAGE_SIZE;
		while (w5_seen(w5_gpa, p, v));
		w5_gpa[p] = v;
	}
	w5_req = malloc(W5_REQS * sizeof(*w5_req));
	if (!w5_req)
		die("out of memory", -ENOMEM);
	/* Distinct pages within a request, as a block request's are. */
	for (i = 0; i < W5_REQS; i++) {
		for (k = 0; k < W5_SEGS; k++) {
			do
				v = rng_next() % W5_POOL;
			while (w5_seen(seg, k, v));
			seg[k] = v;
			w5_req[i][k] = (uint8_t)v;
		}
	}
}

static double w5_ns(const struct w5_result *r)
{
	return (double)r->best_ns / (double)r->n;
}

static void w5_report(const struct w5_conf *c)
{
	const struct w5_result *r = &c->res;

	printf("w5.%s.time %.2f ns/req\n", c->name, w5_ns(r));
	printf("w5.%s.maps %.3f maps/1k\n", c->name, per_1k(r->maps, r->ops));
	printf("w5.%s.unmaps %.3f unmaps/1k\n", c->name,
	       per_1k(r->unmaps, r->ops));
	printf("w5.%s.%s_gnt_maps %.3f maps/1k\n", c->name, guest.counter,
	       per_1k(r->gnt_maps, r->ops));
	printf("w5.%s.%s_gnt_copies %.3f calls/1k\n", c->name, guest.counter,
	       per_1k(r->gnt_copies, r->ops));
}

/*
 * W5: blkif-like requests of W5_SEGS random pages out of the guest's pool
 * of W5_POOL persistent grants, read into a local buffer, through b and c
 * (see w5_confs), each on its own context.  Runs where the guest layer can
 * make the guest grant pages: on the simulator only.
 */
static void measure_w5(void)
{
	unsigned int rep, k;
	int id, ret;

	w5_sets_init();
	ret = guest_grant(w5_gpa, W5_POOL, w5_ref);
	if (ret == -EOPNOTSUPP) {
		printf("# w5: not run: the %s guest's grant table is its own "
		       "kernel's; only the simulated guest grants pages to "
		       "the benchmark\n", guest.kind);
		goto out;
	}
	if (ret)
		die("granting W5's pool", ret);
	printf("# W5: blkif-like requests of %u random 4 KiB pages (distinct "
	       "within a request) out of a pool of %u read-write grants of "
	       "the guest, read into a local 44 KiB buffer; w5.b_vs_a = "
	       "b / a (target >= 10), w5.c_vs_b = b / c\n", W5_SEGS, W5_POOL);
	for (id = 0; id < W5_COUNT; id++)
		printf("# w5.%s: %s\n", w5_confs[id].name, w5_confs[id].what);
	for (id = 0; id < W5_COUNT; id++) {
		struct w5_conf *c = &w5_confs[id];

		c->x = xen_open(0);
		for (k = 0; k < W5_SEGS; k++) {
			c->segs[k].buf = (uint8_t *)w5_buf + k * PAGE_SIZE;
			c->segs[k].domid = guest.domid;
			c->segs[k].offset = 0;
			c->segs[k].len = PAGE_SIZE;
			c->segs[k].flags = GM_XEN_COPY_FROM_GRANT;
		}
		w5_verify(c);
	}
	for (id = 0; id < W5_COUNT; id++) {
		w5_confs[id].res.n = w5_calibrate(&w5_confs[id]);
		w5_confs[id].res.best_ns = UINT64_MAX;
	}
	/* Take turns, starting with the other configuration each time. */
	for (rep = 0; rep < cfg.reps; rep++)
		for (k = 0; k < W5_COUNT; k++)
			w5_run_one(&w5_confs[(rep + k) % W5_COUNT]);
	for (id = 0; id < W5_COUNT; id++)
		w5_report(&w5_confs[id]);
	/* Item 5's goal: (a), once warm, at least 10x faster than (b). */
	ratio("w5", "b_vs_a", w5_ns(&w5_confs[W5_B].res),
	      w5_ns(&w5_confs[W5_A].res), 10, 1);
	/* Informational: no target. */
	printf("w5.c_vs_b %.2f x\n", w5_ns(&w5_confs[W5_B].res) /
					    w5_ns(&w5_confs[W5_C].res));
	fflush(stdout);
	for (id = 0; id < W5_COUNT; id++) {
		gm_xen_close(w5_confs[id].x);
		w5_confs[id].x = NULL;
	}
out:
	free(w5_req);
	w5_req = NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-xen [--quick]\n"
		"  --quick  short run (about 2 s): fewer, shorter repetitions\n"
		"Prints \"name value unit\" lines; see bench/README-xen.md.\n");
}

int main(int argc, char **argv)
{
	int quick = 0, i, leaks, ret;
	enum conf_id id;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	cfg = quick ? config_quick : config_default;

	guest_open();
	sets_init();
	printf("# bench-xen%s: %s guest of %" PRIu64 " MiB; W1 working "
	       "set %" PRIu64 " MiB = %" PRIu64 " random 64 KiB-aligned "
	       "chunks of %" PRIu64 " KiB\n",
	       quick ? " --quick" : "", guest.kind, guest.size / MIB,
	       WSET_SIZE / MIB, (uint64_t)NR_CHUNKS, CHUNK_SIZE / KIB);
	if (guest.note[0])
		printf("# %s\n", guest.note);
	printf("# W1: gm_read of 4 KiB at random pages of the working set; "
	       "W2: gm_read_le16 at gpa %#" PRIx64 " (outside it)\n",
	       ring_gpa);
	printf("# W3, W4: gm_read_u64 at random 8-aligned addresses through "
	       "a, W3 in the working set (fits a's budget), W4 anywhere in "
	       "the guest (does not); a: one thread, a_2threads: two at "
	       "once, each on its own addresses (time per thread, rate of "
	       "both); a.scaling = a_2threads rate / a rate (W3 target "
	       ">= 1.8)\n");
	printf("# best of %u rotating runs of ~%" PRIu64 " ms; a_vs_b = b / a "
	       "(target >= 20), a_vs_c = a / c (target <= 1.5)\n",
	       cfg.reps, cfg.run_ns / 1000000);
	for (id = 0; id < CONF_COUNT; id++)
		printf("# %s: %s\n", confs[id].name, confs[id].what);
	fflush(stdout);

	for (id = 0; id < CONF_COUNT; id++)
		conf_init(id);
	for (id = 0; id < CONF_COUNT; id++)
		if (id != CONF_AVIEW)
			verify(&confs[id]);
	measure(W1);

	/*
	 * The view pins the ring's bucket, which then counts against a's
	 * budget: take it only now, so that W1 ran with the whole budget.
	 */
	confs[CONF_AVIEW].space = confs[CONF_A].space;
	ret = gm_view_get(confs[CONF_A].space, ring_gpa & ~(PAGE_SIZE - 1),
			  PAGE_SIZE, GM_PROT_READ, &confs[CONF_AVIEW].view);
	if (ret)
		die("gm_view_get", ret);
	verify(&confs[CONF_AVIEW]);
	measure(W2);

	/*
	 * W3 reads W1's working set, which fills a's budget exactly: drop
	 * the view, whose pinned bucket would take a place, and read the set
	 * until it is all in the cache, so that W3 runs on hits only.
	 */
	gm_view_put(&confs[CONF_AVIEW].view);
	warm_until_hits(&confs[CONF_A]);
	measure_threads(W3);
	measure_threads(W4);
	measure_w5();
	guest_report();

	/* The view first: it holds a reference into a's space. */
	conf_fini(&confs[CONF_AVIEW]);
	for (id = 0; id < CONF_COUNT; id++)
		conf_fini(&confs[id]);
	leaks = guest_close();
	if (nr_misses) {
		printf("# ratios that miss their target:\n");
		for (i = 0; i < (int)nr_misses; i++)
			printf("#   %s\n", misses[i]);
	} else {
		printf("# every ratio meets its target\n");
	}
	sets_fini();
	return leaks ? 1 : 0;
}
