/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-access: what a libguestmem access costs next to a raw pointer.
 *
 * Every measurement times a library kernel and a raw-pointer kernel over the
 * very same guest memory, in the same run.  Both kernels are generated from
 * one loop skeleton (KERNEL below): iteration i takes the i-th entry of a
 * precomputed address array -- a guest-physical address for the library,
 * the matching host offset for raw -- performs one access and folds what
 * it read into a sum.  So address generation costs both sides the same,
 * nothing can be hoisted out of the loop (the address comes from memory
 * every time), and the sums, which must be equal, prove that both sides
 * read the same bytes.  "Fixed" measurements use an array whose entries are
 * all the same address (cache-hot); "random" ones an array of random
 * addresses over a large guest whose pages were all touched beforehand, so
 * page faults are never timed.
 *
 * Each measurement is calibrated to a run length, then timed a few times,
 * alternating library and raw runs, and the best (minimum) of each is
 * reported: the minimum is the run least disturbed by the rest of the
 * machine.
 *
 * Output: one "name value unit" line per number; lines starting with '#'
 * are comments.  See bench/README.md.
 */
#define _GNU_SOURCE /* sched_getaffinity(), pthread_setaffinity_np() */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <guestmem.h>
#include <guestmem/unix.h>

#define KIB UINT64_C(1024)
#define MIB (UINT64_C(1024) * KIB)

/* Number of regions of the many-region space (the lookup measurement). */
#define MANY_REGIONS 1000

/* Entries of a "fixed" address array: small enough to stay in L1. */
#define FIXED_ENTRIES 1024

/* Run configuration: default, or --quick. */
struct config {
	uint64_t guest_size;	/* the one-region guest */
	uint64_t many_size;	/* size of each of the MANY_REGIONS regions */
	uint64_t pair_size;	/* each of the two regions of GUEST_PAIR */
	uint64_t many68_size;	/* each of the MANY_REGIONS of GUEST_MANY68 */
	size_t small_entries;	/* random addresses for small accesses */
	size_t copy_entries;	/* random addresses for copies */
	unsigned int reps;	/* timed runs per side and measurement */
	uint64_t run_ns;	/* calibrated length of one library run */
	uint64_t iters;		/* --iters: fixed iterations, no calibration */
};

static const struct config config_default = {
	.guest_size = 1024 * MIB,
	.many_size = 1 * MIB,
	.pair_size = 64 * MIB,
	.many68_size = 68 * KIB,
	.small_entries = 1u << 20,
	.copy_entries = 1u << 14,
	.reps = 7,
	.run_ns = 50000000,
};

static const struct config config_quick = {
	.guest_size = 256 * MIB,
	.many_size = 256 * KIB,
	.pair_size = 64 * MIB,
	.many68_size = 68 * KIB,
	.small_entries = 1u << 18,
	.copy_entries = 1u << 12,
	.reps = 3,
	.run_ns = 6000000,
};

static struct config cfg;

/* Every kernel stores its sum here, so no read can be optimised away. */
static volatile uint64_t sink;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static __attribute__((noreturn)) void die(const char *what, int err)
{
	fprintf(stderr, "bench-access: %s: %s\n", what,
		err ? strerror(-err) : "failed");
	if (err && *gm_last_error())
		fprintf(stderr, "bench-access: %s\n", gm_last_error());
	exit(1);
}

static void *xmalloc(size_t size)
{
	void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);

	if (!p)
		die("out of memory", -ENOMEM);
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a fixed seed gives the same addresses on every run. */
static uint64_t rng_state = 0x6775657374;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A random multiple of @align in [0, limit).  Bias is irrelevant here. */
static uint64_t rng_below(uint64_t limit, uint64_t align)
{
	return rng_next() % (limit / align) * align;
}

/*
 * The value stored at every 8-byte aligned guest address before the run:
 * distinct per address, so the sum check notices reads from the wrong
 * place.
 */
static uint64_t pattern(uint64_t gpa)
{
	return gpa * 0x9e3779b97f4a7c15ull + 1;
}

/* ------------------------------------------------------------------ */
/* Guests                                                              */
/* ------------------------------------------------------------------ */

/*
 * A space and a read-write view of each of its regions.  The views give
 * the raw kernels their host addresses and are used for nothing else: the
 * library kernels go through the space (or views[0] for the view level).
 */
struct guest {
	struct gm_space *space;
	struct gm_view *views;
	size_t nr;
	uint64_t region_size;	/* every region has the same size */
	uintptr_t hbase;	/* lowest host address of any region */
};

/*
 * The guests, built on first use:
 *  - GUEST_ONE: one region of cfg.guest_size (1 GiB): random accesses there
 *    miss the TLB, which dominates both sides;
 *  - GUEST_MANY: MANY_REGIONS adjacent regions of cfg.many_size;
 *  - GUEST_PAIR: two adjacent regions of 64 MiB, the layout of a small
 *    guest: random accesses to region 0 miss the caches, not so much the
 *    TLB, and a raw loop overlaps many of those misses;
 *  - GUEST_MANY68 and GUEST_ONE68: MANY_REGIONS regions of 68 KiB, and one
 *    region as large as all of them, for the cost of the number of
 *    regions at the same total size.
 */
enum guest_id {
	GUEST_ONE,
	GUEST_MANY,
	GUEST_PAIR,
	GUEST_MANY68,
	GUEST_ONE68,
	GUEST_COUNT
};

static struct guest guests[GUEST_COUNT];

static void guest_init(struct guest *g, const char *name, size_t nr,
		       uint64_t region_size)
{
	size_t i;
	int ret;

	ret = gm_space_new(&g->space, name, 0);
	if (ret)
		die("gm_space_new", ret);
	g->views = calloc(nr, sizeof(*g->views));
	if (!g->views)
		die("out of memory", -ENOMEM);
	g->nr = nr;
	g->region_size = region_size;

	for (i = 0; i < nr; i++) {
		uint64_t gpa = i * region_size;
		struct gm_region *r;
		uint64_t *p;
		size_t j;

		ret = gm_unix_region_new_anon(gpa, region_size, 0, &r);
		if (ret)
			die("gm_unix_region_new_anon", ret);
		ret = gm_space_add_region(g->space, r);
		if (ret)
			die("gm_space_add_region", ret);
		ret = gm_view_get(g->space, gpa, region_size,
				  GM_PROT_READ | GM_PROT_WRITE, &g->views[i]);
		if (ret)
			die("gm_view_get", ret);

		/* Touch every page now, so no measurement takes a fault. */
		p = (uint64_t *)(void *)g->views[i].hva;
		for (j = 0; j < region_size / 8; j++)
			p[j] = pattern(gpa + j * 8);

		if (!i || (uintptr_t)p < g->hbase)
			g->hbase = (uintptr_t)p;
	}
}

static void guest_fini(struct guest *g)
{
	size_t i;

	if (!g->space)
		return;
	for (i = 0; i < g->nr; i++)
		gm_view_put(&g->views[i]);
	free(g->views);
	gm_space_free(g->space);
	memset(g, 0, sizeof(*g));
}

static struct guest *guest_get(enum guest_id id)
{
	struct guest *g = &guests[id];

	if (g->space)
		return g;
	switch (id) {
	case GUEST_ONE:
		guest_init(g, "bench-one", 1, cfg.guest_size);
		break;
	case GUEST_MANY:
		guest_init(g, "bench-many", MANY_REGIONS, cfg.many_size);
		break;
	case GUEST_PAIR:
		guest_init(g, "bench-pair", 2, cfg.pair_size);
		break;
	case GUEST_MANY68:
		guest_init(g, "bench-many68", MANY_REGIONS, cfg.many68_size);
		break;
	case GUEST_ONE68:
		guest_init(g, "bench-one68", 1,
			   MANY_REGIONS * cfg.many68_size);
		break;
	case GUEST_COUNT:
		break;
	}
	return g;
}

/*
 * Host address of @gpa, found through the guest's views, as an offset from
 * the guest's lowest host address.  The raw kernels get offsets rather than
 * pointers on purpose: some CPUs prefetch what an array of pointers points
 * to (a data-dependent prefetcher), which gave raw 4 KiB random copies a
 * 25% head start over the very same copies addressed by gpa.
 */
static uintptr_t guest_hoff(const struct guest *g, uint64_t gpa)
{
	const struct gm_view *v = &g->views[gpa / g->region_size];

	return (uintptr_t)(v->hva + (gpa - v->gpa)) - g->hbase;
}

/* ------------------------------------------------------------------ */
/* Address sets                                                        */
/* ------------------------------------------------------------------ */

/*
 * The address arrays a measurement iterates over.  Entry i of gpa and of
 * hoff name the same byte, the latter as host address hbase + hoff; hoff2
 * (straddling reads only) names the first byte of the second region.
 */
struct addrs {
	uint64_t *gpa;
	uintptr_t *hoff;
	uintptr_t *hoff2;
	uintptr_t hbase;
	size_t mask;	/* entries - 1; entries is a power of two */
	enum guest_id guest;
};

enum set_id {
	SET_SMALL_FIXED,	/* one 16-aligned address, repeated */
	SET_SMALL_RANDOM,	/* random 16-aligned addresses */
	SET_PAGE_FIXED,		/* one page */
	SET_PAGE_RANDOM,	/* random pages */
	SET_MIB_FIXED,		/* one MiB */
	SET_MIB_RANDOM,		/* random MiBs */
	SET_STRADDLE_FIXED,	/* 8 bytes before one region boundary */
	SET_STRADDLE_RANDOM,	/* ... before random region boundaries */
	SET_LOOKUP_ONE,		/* random u64 in guest_one ... */
	SET_LOOKUP_MANY,	/* ... and the same gpas in guest_many */
	SET_PAIR_RANDOM,	/* random 16-aligned in GUEST_PAIR's region 0 */
	SET_PAIR_RANDOM_B,	/* other such addresses, for a second thread */
	SET_SMALL_RANDOM_B,	/* ... and as SET_SMALL_RANDOM */
	SET_PAIR_STRADDLE,	/* 8 bytes before GUEST_PAIR's boundary */
	SET_LOOKUP68_ONE,	/* random u64 in GUEST_ONE68 ... */
	SET_LOOKUP68_MANY,	/* ... and the same gpas in GUEST_MANY68 */
	SET_COUNT
};

static struct addrs sets[SET_COUNT];

static void addrs_alloc(struct addrs *a, const struct guest *g,
			size_t entries, int straddle)
{
	a->gpa = xmalloc(entries * sizeof(*a->gpa));
	a->hoff = xmalloc(entries * sizeof(*a->hoff));
	a->hoff2 = straddle ? xmalloc(entries * sizeof(*a->hoff2)) : NULL;
	a->hbase = g->hbase;
	a->mask = entries - 1;
}

/*
 * Fill @a with @entries addresses in @g: all equal to @fixed_gpa if it is
 * not UINT64_MAX, otherwise random multiples of @align below @limit.
 */
static void addrs_fill(struct addrs *a, const struct guest *g, size_t entries,
		       uint64_t fixed_gpa, uint64_t limit, uint64_t align)
{
	size_t i;

	addrs_alloc(a, g, entries, 0);
	for (i = 0; i < entries; i++) {
		uint64_t gpa = fixed_gpa != UINT64_MAX ?
				       fixed_gpa :
				       rng_below(limit, align);

		a->gpa[i] = gpa;
		a->hoff[i] = guest_hoff(g, gpa);
	}
}

/* Straddling reads: boundary k is between region k - 1 and region k. */
static void addrs_fill_straddle(struct addrs *a, const struct guest *g,
				size_t entries, int fixed)
{
	size_t i;

	addrs_alloc(a, g, entries, 1);
	for (i = 0; i < entries; i++) {
		uint64_t k = fixed ? g->nr / 2 : 1 + rng_below(g->nr - 1, 1);
		uint64_t boundary = k * g->region_size;

		a->gpa[i] = boundary - 8;
		a->hoff[i] = guest_hoff(g, boundary - 8);
		a->hoff2[i] = guest_hoff(g, boundary);
	}
}

static const struct addrs *set_get(enum set_id id)
{
	struct addrs *a = &sets[id];
	uint64_t size = cfg.guest_size;
	const struct guest *g;

	if (a->gpa)
		return a;
	switch (id) {
	case SET_STRADDLE_FIXED:
	case SET_STRADDLE_RANDOM:
	case SET_LOOKUP_MANY:
		a->guest = GUEST_MANY;
		break;
	case SET_PAIR_RANDOM:
	case SET_PAIR_RANDOM_B:
	case SET_PAIR_STRADDLE:
		a->guest = GUEST_PAIR;
		break;
	case SET_LOOKUP68_ONE:
		a->guest = GUEST_ONE68;
		break;
	case SET_LOOKUP68_MANY:
		a->guest = GUEST_MANY68;
		break;
	default:
		a->guest = GUEST_ONE;
		break;
	}
	g = guest_get(a->guest);

	switch (id) {
	case SET_SMALL_FIXED:
		addrs_fill(a, g, FIXED_ENTRIES, size / 2 + 64, 0, 0);
		break;
	case SET_SMALL_RANDOM:
	case SET_SMALL_RANDOM_B: /* the rng has moved on: other addresses */
		addrs_fill(a, g, cfg.small_entries, UINT64_MAX, size, 16);
		break;
	case SET_PAGE_FIXED:
		addrs_fill(a, g, FIXED_ENTRIES, size / 2, 0, 0);
		break;
	case SET_PAGE_RANDOM:
		addrs_fill(a, g, cfg.copy_entries, UINT64_MAX, size, 4 * KIB);
		break;
	case SET_MIB_FIXED:
		addrs_fill(a, g, FIXED_ENTRIES, size / 2, 0, 0);
		break;
	case SET_MIB_RANDOM:
		addrs_fill(a, g, cfg.copy_entries, UINT64_MAX, size, MIB);
		break;
	case SET_STRADDLE_FIXED:
	case SET_PAIR_STRADDLE:
		addrs_fill_straddle(a, g, FIXED_ENTRIES, 1);
		break;
	case SET_STRADDLE_RANDOM:
		addrs_fill_straddle(a, g, cfg.small_entries, 0);
		break;
	case SET_LOOKUP_ONE:
	case SET_LOOKUP_MANY:
		/*
		 * Both sets use the same gpas, below the end of the many-
		 * region guest (which guest_one also covers), so the two
		 * lookups differ only in the number of regions.  The seed is
		 * reset to make that so whichever set is built first.
		 */
		rng_state = 0x6c6f6f6b7570;
		addrs_fill(a, g, cfg.small_entries, UINT64_MAX,
			   MANY_REGIONS * cfg.many_size, 8);
		break;
	case SET_PAIR_RANDOM:
	case SET_PAIR_RANDOM_B: /* the rng has moved on: other addresses */
		addrs_fill(a, g, cfg.small_entries, UINT64_MAX, cfg.pair_size,
			   16);
		break;
	case SET_LOOKUP68_ONE:
	case SET_LOOKUP68_MANY:
		/* As the SET_LOOKUP_* pair. */
		rng_state = 0x6c6f6f6b3638;
		addrs_fill(a, g, cfg.small_entries, UINT64_MAX,
			   MANY_REGIONS * cfg.many68_size, 8);
		break;
	case SET_COUNT:
		break;
	}
	return a;
}

static void sets_fini(void)
{
	size_t i;

	for (i = 0; i < SET_COUNT; i++) {
		free(sets[i].gpa);
		free(sets[i].hoff);
		free(sets[i].hoff2);
	}
	memset(sets, 0, sizeof(sets));
}

/* ------------------------------------------------------------------ */
/* Kernels                                                             */
/* ------------------------------------------------------------------ */

/* What one kernel needs: built per measurement by measure(). */
struct ctx {
	struct gm_space *space;
	struct gm_view view;	/* the view level's view, or zeroed */
	const struct addrs *addrs;
	uint8_t *buf;		/* host buffer for copies */
	size_t len;		/* bytes per copy */
};

/* Time @n iterations; store the folded reads in *sum; return ns. */
typedef uint64_t kernel_fn(const struct ctx *c, uint64_t n, uint64_t *sum);

/*
 * Tell the compiler that memory at @p may be read: a copy into a buffer
 * nobody reads must not be optimised away.
 */
#define USE_BUFFER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static void kernel_failed(const char *name, int err)
{
	fprintf(stderr, "bench-access: %s: an access failed\n", name);
	die(name, err);
}

/*
 * The one loop skeleton.  A is the type of an address (uint64_t gpa for the
 * library, uintptr_t host offset for raw), ARRAY the field of struct addrs
 * it comes from, and the rest the statement that performs one access with
 * address `a` (raw: at host address HOST(a)), ORs any error into `err` and adds
 * what it read to `sum`.  The error check is part of the library's cost: a
 * caller that ignores return codes is not realistic.
 */
#define KERNEL(fn, A, ARRAY, ...)                                             \
	static __attribute__((noinline)) uint64_t fn(                         \
		const struct ctx *c, uint64_t n, uint64_t *sump)              \
	{                                                                     \
		struct gm_space *s = c->space;                                \
		struct gm_view view = c->view;                                \
		const A *addr = c->addrs->ARRAY;                              \
		const uintptr_t *addr2 = c->addrs->hoff2;                     \
		uintptr_t hbase = c->addrs->hbase;                            \
		size_t len = c->len, mask = c->addrs->mask;                   \
		uint64_t sum = 0, t0, t, i;                                   \
		int err = 0;                                                  \
                                                                              \
		(void)s;                                                      \
		(void)view;                                                   \
		(void)addr2;                                                  \
		(void)hbase;                                                  \
		(void)len;                                                    \
		t0 = now_ns();                                                \
		for (i = 0; i < n; i++) {                                     \
			A a = addr[i & mask];                                 \
                                                                              \
			__VA_ARGS__;                                          \
		}                                                             \
		t = now_ns() - t0;                                            \
		sink = sum;                                                   \
		if (err)                                                      \
			kernel_failed(#fn, err);                              \
		*sump = sum;                                                  \
		return t;                                                     \
	}

/* The host address a raw kernel accesses for offset @off. */
#define HOST(off) ((uint8_t *)(hbase + (off)))

/* u64 read. */
KERNEL(space_u64_read, uint64_t, gpa, {
	uint64_t v = 0;
	err |= gm_read_u64(s, a, &v);
	sum += v;
})
KERNEL(view_u64_read, uint64_t, gpa, {
	uint64_t v = 0;
	err |= gm_view_read_u64(&view, a, &v);
	sum += v;
})
KERNEL(raw_u64_read, uintptr_t, hoff, {
	uint64_t v;
	memcpy(&v, HOST(a), sizeof(v));
	sum += v;
})

/* u64 write: the value written varies, so no store is redundant. */
KERNEL(space_u64_write, uint64_t, gpa, {
	err |= gm_write_u64(s, a, i);
})
KERNEL(view_u64_write, uint64_t, gpa, {
	err |= gm_view_write_u64(&view, a, i);
})
KERNEL(raw_u64_write, uintptr_t, hoff, {
	memcpy(HOST(a), &i, sizeof(i));
})

/* 16-byte read into a host object (a descriptor, say). */
KERNEL(space_read16, uint64_t, gpa, {
	uint64_t d[2] = { 0, 0 };
	err |= gm_read(s, a, d, sizeof(d));
	sum += d[0] ^ d[1];
})
KERNEL(view_read16, uint64_t, gpa, {
	uint64_t d[2] = { 0, 0 };
	err |= gm_view_read(&view, a, d, sizeof(d));
	sum += d[0] ^ d[1];
})
KERNEL(raw_read16, uintptr_t, hoff, {
	uint64_t d[2];
	memcpy(d, HOST(a), sizeof(d));
	sum += d[0] ^ d[1];
})

/*
 * 16 bytes straddling two regions.  Two regions are two separate host
 * mappings, so the raw equivalent is what a hand-written caller does: copy
 * each half from its own mapping.
 */
KERNEL(raw_read16_straddle, uintptr_t, hoff, {
	uint64_t d[2];
	memcpy(&d[0], HOST(a), 8);
	memcpy(&d[1], HOST(addr2[i & mask]), 8);
	sum += d[0] ^ d[1];
})

/* u32 acquire load (a ring's index). */
KERNEL(space_u32_load_acquire, uint64_t, gpa, {
	uint32_t v = 0;
	err |= gm_atomic_load_u32(s, a, &v, GM_ACQUIRE);
	sum += v;
})
KERNEL(view_u32_load_acquire, uint64_t, gpa, {
	uint32_t v = 0;
	err |= gm_view_atomic_load_u32(&view, a, &v, GM_ACQUIRE);
	sum += v;
})
KERNEL(raw_u32_load_acquire, uintptr_t, hoff, {
	sum += __atomic_load_n((uint32_t *)(void *)HOST(a), __ATOMIC_ACQUIRE);
})

/* u32 seq-cst store. */
KERNEL(space_u32_store_seqcst, uint64_t, gpa, {
	err |= gm_atomic_store_u32(s, a, (uint32_t)i, GM_SEQ_CST);
})
KERNEL(view_u32_store_seqcst, uint64_t, gpa, {
	err |= gm_view_atomic_store_u32(&view, a, (uint32_t)i, GM_SEQ_CST);
})
KERNEL(raw_u32_store_seqcst, uintptr_t, hoff, {
	__atomic_store_n((uint32_t *)(void *)HOST(a), (uint32_t)i,
			 __ATOMIC_SEQ_CST);
})

/*
 * Bulk copy from guest memory into a host buffer.  The destination is
 * reloaded from memory every iteration so that no copy depends on the
 * previous one: GCC otherwise may pass memcpy's return value on as the next
 * destination, on one side only, depending on register allocation.
 */
KERNEL(space_copy, uint64_t, gpa, {
	uint8_t *dst = c->buf;
	err |= gm_read(s, a, dst, len);
	USE_BUFFER(dst);
})
KERNEL(view_copy, uint64_t, gpa, {
	uint8_t *dst = c->buf;
	err |= gm_view_read(&view, a, dst, len);
	USE_BUFFER(dst);
})
KERNEL(raw_copy, uintptr_t, hoff, {
	uint8_t *dst = c->buf;
	memcpy(dst, HOST(a), len);
	USE_BUFFER(dst);
})

/* ------------------------------------------------------------------ */
/* Measurements                                                        */
/* ------------------------------------------------------------------ */

enum unit { NS_PER_OP, GB_PER_S };

struct bench {
	const char *name;
	kernel_fn *lib, *raw;
	enum set_id set;
	int view;		/* library side uses the guest's view */
	size_t len;		/* bytes per copy (GB_PER_S) */
	enum unit unit;
	double target;		/* ratio to meet: <= for ns/op, >= for GB/s */
};

#define SMALL2(name, op, set, space_target, view_target)                      \
	{ "space." name, space_##op, raw_##op, set, 0, 0, NS_PER_OP,          \
	  space_target },                                                     \
	{ "view." name, view_##op, raw_##op, set, 1, 0, NS_PER_OP, view_target }
#define SMALL(name, op, set, target) SMALL2(name, op, set, target, target)
#define COPY(name, set, len)                                                  \
	{ "space." name, space_copy, raw_copy, set, 0, len, GB_PER_S, 0.95 }, \
	{ "view." name, view_copy, raw_copy, set, 1, len, GB_PER_S, 0.95 }

/* Targets: those of the performance issue where it sets one, else 2x. */
static const struct bench benches[] = {
	SMALL("u64_read_fixed", u64_read, SET_SMALL_FIXED, 2.0),
	SMALL("u64_read_random", u64_read, SET_SMALL_RANDOM, 1.3),
	SMALL("u64_write_fixed", u64_write, SET_SMALL_FIXED, 2.0),
	SMALL("u64_write_random", u64_write, SET_SMALL_RANDOM, 1.3),
	SMALL2("read16_fixed", read16, SET_SMALL_FIXED, 5.0, 2.0),
	SMALL("read16_random", read16, SET_SMALL_RANDOM, 2.0),
	/* A view never spans two regions: no view level here. */
	{ "space.read16_straddle_fixed", space_read16, raw_read16_straddle,
	  SET_STRADDLE_FIXED, 0, 0, NS_PER_OP, 10.0 },
	{ "space.read16_straddle_random", space_read16, raw_read16_straddle,
	  SET_STRADDLE_RANDOM, 0, 0, NS_PER_OP, 10.0 },
	SMALL2("u32_load_acquire_fixed", u32_load_acquire, SET_SMALL_FIXED,
	       3.0, 2.0),
	SMALL("u32_load_acquire_random", u32_load_acquire, SET_SMALL_RANDOM,
	      2.0),
	SMALL("u32_store_seqcst_fixed", u32_store_seqcst, SET_SMALL_FIXED, 1.2),
	SMALL("u32_store_seqcst_random", u32_store_seqcst, SET_SMALL_RANDOM,
	      2.0),
	COPY("copy_4k_fixed", SET_PAGE_FIXED, 4 * KIB),
	COPY("copy_4k_random", SET_PAGE_RANDOM, 4 * KIB),
	COPY("copy_1m_fixed", SET_MIB_FIXED, MIB),
	COPY("copy_1m_random", SET_MIB_RANDOM, MIB),
	/* Lookup cost: random u64 reads in 1 vs MANY_REGIONS regions. */
	{ "space.lookup_1_region", space_u64_read, raw_u64_read,
	  SET_LOOKUP_ONE, 0, 0, NS_PER_OP, 1.3 },
	{ "space.lookup_1000_regions", space_u64_read, raw_u64_read,
	  SET_LOOKUP_MANY, 0, 0, NS_PER_OP, 1.3 },
	/*
	 * A guest of two 64 MiB regions: independent random accesses whose
	 * raw side overlaps its cache misses (no TLB walk per access, as in
	 * the 1 GiB guest), and a straddle of its two regions.
	 */
	SMALL("u64_read_random_64m", u64_read, SET_PAIR_RANDOM, 1.3),
	SMALL("u64_write_random_64m", u64_write, SET_PAIR_RANDOM, 1.3),
	SMALL2("read16_random_64m", read16, SET_PAIR_RANDOM, 2.0, 2.0),
	SMALL("u32_load_acquire_random_64m", u32_load_acquire,
	      SET_PAIR_RANDOM, 2.0),
	{ "space.read16_straddle_64m", space_read16, raw_read16_straddle,
	  SET_PAIR_STRADDLE, 0, 0, NS_PER_OP, 10.0 },
	/* MANY_REGIONS regions of 68 KiB against one region as large: the
	 * raw side pays the same layout (one mapping per region). */
	{ "space.lookup68k_1_region", space_u64_read, raw_u64_read,
	  SET_LOOKUP68_ONE, 0, 0, NS_PER_OP, 1.3 },
	{ "space.lookup68k_1000_regions", space_u64_read, raw_u64_read,
	  SET_LOOKUP68_MANY, 0, 0, NS_PER_OP, 1.3 },
	/* Random reads from two threads at once, each on its own addresses
	 * (these machines have 2 cores). */
	{ "space.u64_read_random_2threads", space_u64_read, raw_u64_read,
	  SET_SMALL_RANDOM, 0, 0, NS_PER_OP, 1.3 },
	{ "space.u64_read_random_64m_2threads", space_u64_read, raw_u64_read,
	  SET_PAIR_RANDOM, 0, 0, NS_PER_OP, 1.3 },
};

/*
 * The two-thread lines: two threads at once, the second on its own set of
 * addresses.  Such a line is the per-thread time, and its .scaling lines
 * compare the throughput with one thread alone (target: at least 1.8x).
 */
static const struct {
	const char *name;
	enum set_id set2;
} pair_sets[] = {
	{ "space.u64_read_random_2threads", SET_SMALL_RANDOM_B },
	{ "space.u64_read_random_64m_2threads", SET_PAIR_RANDOM_B },
};

/* The second thread's set of two-thread line @name, or SET_COUNT. */
static enum set_id pair_set(const char *name)
{
	size_t k;

	for (k = 0; k < sizeof(pair_sets) / sizeof(pair_sets[0]); k++)
		if (!strcmp(pair_sets[k].name, name))
			return pair_sets[k].set2;
	return SET_COUNT;
}

/*
 * Growth lines: how much slower the MANY_REGIONS line is than the one-
 * region line of the same addresses, for the library against raw's own
 * growth (layout, TLB): "growth" is library growth / raw growth.
 */
static const struct {
	const char *name, *one, *many;
	double target;
} growths[] = {
	{ "space.lookup_growth", "space.lookup_1_region",
	  "space.lookup_1000_regions", 1.5 },
	{ "space.lookup68k_growth", "space.lookup68k_1_region",
	  "space.lookup68k_1000_regions", 1.5 },
};

/* ns/op of each measurement run, library and raw, for the growth lines. */
static double result_lib[sizeof(benches) / sizeof(benches[0])];
static double result_raw[sizeof(benches) / sizeof(benches[0])];

/* Ratio lines that missed their target, for the summary at the end. */
static char misses[64][128];
static unsigned int nr_misses;

/* Record a line that missed its target (printf-style), while room is
 * left. */
static __attribute__((format(printf, 1, 2))) void miss(const char *fmt, ...)
{
	va_list ap;

	if (nr_misses >= sizeof(misses) / sizeof(misses[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(misses[nr_misses++], sizeof(misses[0]), fmt, ap);
	va_end(ap);
}

/* A second thread of a two-thread run (run_pair()). */
struct pair_arg {
	kernel_fn *fn;
	const struct ctx *c;
	uint64_t n, t, sum;
	pthread_barrier_t *bar;
	int cpu;	/* to pin the thread to, or -1 */
};

/*
 * The CPUs of the two-thread lines: the first two the process may run on,
 * one per thread, so that the scheduler never puts both on one CPU for a
 * while (which made the scaling of one side vary from 1.3x to 1.8x between
 * runs); -1 when there are fewer than two.
 */
static int pair_cpu[2] = { -1, -1 };

static void pair_cpus_init(void)
{
	cpu_set_t set;
	int cpu, found = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			pair_cpu[found++] = cpu;
	if (found < 2)
		pair_cpu[0] = pair_cpu[1] = -1;
}

/*
 * Which CPU the figures come from: the random lines depend on how many
 * independent misses its out-of-order window overlaps (bench/README.md),
 * which differs between CPU families more than between runs.
 */
static void print_cpu(void)
{
	static const char *const keys[] = { "model name", "cpu family",
					    "model" };
	char line[256], val[3][128] = { "?", "?", "?" };
	FILE *f = fopen("/proc/cpuinfo", "r");
	const char *v;
	size_t k, n;

	/* The first processor's block: "key<tabs>: value" lines. */
	while (f && fgets(line, sizeof(line), f) && line[0] != '\n') {
		n = strcspn(line, "\t:");
		v = strchr(line, ':');
		if (!v)
			continue;
		v += 1 + strspn(v + 1, " ");
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (n == strlen(keys[k]) && !strncmp(line, keys[k], n))
				snprintf(val[k], sizeof(val[k]), "%.*s",
					 (int)strcspn(v, "\n"), v);
	}
	if (f)
		fclose(f);
	printf("# cpu: %s (family %s, model %s), %ld online\n", val[0],
	       val[1], val[2], sysconf(_SC_NPROCESSORS_ONLN));
}

/* Pin the calling thread to @cpu (-1: to every CPU of @all). */
static void pin_to(int cpu, const cpu_set_t *all)
{
	cpu_set_t set;

	if (cpu < 0) {
		(void)pthread_setaffinity_np(pthread_self(), sizeof(*all), all);
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *pair_thread(void *p)
{
	struct pair_arg *a = p;

	if (a->cpu >= 0)
		pin_to(a->cpu, NULL);
	pthread_barrier_wait(a->bar);
	a->t = a->fn(a->c, a->n, &a->sum);
	return NULL;
}

/*
 * Run @fn for @n iterations in this thread on @c and in a second one on
 * @c2, started together; return the longer of the two times.
 */
static uint64_t run_pair(kernel_fn *fn, const struct ctx *c,
			 const struct ctx *c2, uint64_t n, uint64_t *sum)
{
	pthread_barrier_t bar;
	struct pair_arg a = { .fn = fn, .c = c2, .n = n, .bar = &bar,
			      .cpu = pair_cpu[1] };
	pthread_t t;
	uint64_t mine;

	if (pthread_barrier_init(&bar, NULL, 2) ||
	    pthread_create(&t, NULL, pair_thread, &a))
		die("pthread", -EAGAIN);
	pthread_barrier_wait(&bar);
	mine = fn(c, n, sum);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&bar);
	return mine > a.t ? mine : a.t;
}

/* Time one side for @n iterations and keep the minimum time. */
static void run_side(kernel_fn *fn, const struct ctx *c, uint64_t n,
		     uint64_t *best, uint64_t *sum)
{
	uint64_t t = fn(c, n, sum);

	if (t < *best)
		*best = t;
}

/*
 * A two-thread line (pair_sets[]): one thread alone, then two at once, each
 * side; prints the per-thread times of the two-thread run, the ratio, and
 * the throughput scaling of each side (2 x one-thread time / two-thread
 * time).
 */
static void measure_pair(const struct bench *b, const struct ctx *c,
			 uint64_t n, uint64_t best_lib, uint64_t best_raw,
			 double *lib_out, double *raw_out)
{
	struct ctx c2 = *c;
	uint64_t two_lib = UINT64_MAX, two_raw = UINT64_MAX, t, sum;
	double lib, raw, sc_lib, sc_raw;
	cpu_set_t all;
	unsigned int r;

	/* This thread on the first CPU for both its runs, alone and in a
	 * pair; its single-thread times are taken again there. */
	if (pthread_getaffinity_np(pthread_self(), sizeof(all), &all))
		CPU_ZERO(&all);
	if (pair_cpu[0] >= 0) {
		pin_to(pair_cpu[0], NULL);
		best_lib = best_raw = UINT64_MAX;
	}
	c2.addrs = set_get(pair_set(b->name));
	(void)b->lib(&c2, n / 16 + 1, &sum); /* warm the second set */
	for (r = 0; r < cfg.reps; r++) {
		run_side(b->lib, c, n, &best_lib, &sum);
		run_side(b->raw, c, n, &best_raw, &sum);
		t = run_pair(b->lib, c, &c2, n, &sum);
		if (t < two_lib)
			two_lib = t;
		t = run_pair(b->raw, c, &c2, n, &sum);
		if (t < two_raw)
			two_raw = t;
	}
	if (pair_cpu[0] >= 0)
		pin_to(-1, &all);
	lib = (double)two_lib / (double)n;
	raw = (double)two_raw / (double)n;
	sc_lib = 2.0 * (double)best_lib / (double)two_lib;
	sc_raw = 2.0 * (double)best_raw / (double)two_raw;
	printf("%s %.2f ns/op\n%s.raw %.2f ns/op\n%s.ratio %.2f x\n"
	       "%s.scaling %.2f x\n%s.scaling.raw %.2f x\n", b->name, lib,
	       b->name, raw, b->name, lib / raw, b->name, sc_lib, b->name,
	       sc_raw);
	fflush(stdout);
	*lib_out = lib;
	*raw_out = raw;
	if (sc_lib < 1.8)
		miss("%s.scaling %.2f x, target >= 1.80", b->name, sc_lib);
}

static void measure(const struct bench *b, double *lib_out,
		    double *raw_out)
{
	const struct addrs *a = set_get(b->set);
	const struct guest *g = &guests[a->guest];
	uint64_t n, t, best_lib = UINT64_MAX, best_raw = UINT64_MAX;
	uint64_t sum_lib = 0, sum_raw = 0;
	double lib, raw, ratio;
	struct ctx c = {
		.space = g->space,
		.addrs = a,
		.len = b->len,
	};
	unsigned int r;

	if (b->view)
		c.view = g->views[0];
	if (b->len)
		c.buf = xmalloc(b->len);

	/*
	 * Calibrate on the library side, usually the slower one; this also
	 * warms caches and TLBs for both sides, which access the same memory.
	 * With --iters, run exactly that many iterations per run and nothing
	 * else, so that instruction counts (callgrind) divide evenly.
	 */
	if (cfg.iters) {
		n = cfg.iters;
	} else {
		for (n = 16;; n *= 4) {
			t = b->lib(&c, n, &sum_lib);
			if (t >= cfg.run_ns / 16 || n >= (1ull << 40))
				break;
		}
		n = (uint64_t)((double)n * (double)cfg.run_ns /
			       (double)(t ? t : 1));
		if (!n)
			n = 1;
		b->raw(&c, n / 16 + 1, &sum_raw);
	}

	if (pair_set(b->name) != SET_COUNT) {
		measure_pair(b, &c, n, best_lib, best_raw, lib_out, raw_out);
		free(c.buf);
		return;
	}
	/* Alternate which side goes first, so neither always runs warm. */
	for (r = 0; r < cfg.reps; r++) {
		if (r & 1) {
			run_side(b->raw, &c, n, &best_raw, &sum_raw);
			run_side(b->lib, &c, n, &best_lib, &sum_lib);
		} else {
			run_side(b->lib, &c, n, &best_lib, &sum_lib);
			run_side(b->raw, &c, n, &best_raw, &sum_raw);
		}
		if (sum_lib != sum_raw) {
			fprintf(stderr,
				"bench-access: %s: library read %#" PRIx64
				", raw read %#" PRIx64 "\n",
				b->name, sum_lib, sum_raw);
			exit(1);
		}
	}
	free(c.buf);

	if (b->unit == NS_PER_OP) {
		lib = (double)best_lib / (double)n;
		raw = (double)best_raw / (double)n;
		ratio = lib / raw;
		printf("%s %.2f ns/op\n%s.raw %.2f ns/op\n", b->name, lib,
		       b->name, raw);
	} else {
		/* Bytes per nanosecond are gigabytes (10^9) per second. */
		lib = (double)b->len * (double)n / (double)best_lib;
		raw = (double)b->len * (double)n / (double)best_raw;
		ratio = lib / raw;
		printf("%s %.2f GB/s\n%s.raw %.2f GB/s\n", b->name, lib,
		       b->name, raw);
	}
	printf("%s.ratio %.2f x\n", b->name, ratio);
	fflush(stdout);
	*lib_out = lib;
	*raw_out = raw;

	if (b->unit == NS_PER_OP ? ratio > b->target : ratio < b->target)
		miss("%s.ratio %.2f x, target %s %.2f", b->name, ratio,
		     b->unit == NS_PER_OP ? "<=" : ">=", b->target);
}

/* The index of the measurement called @name, if it ran, else -1. */
static int result_of(const char *name)
{
	size_t k;

	for (k = 0; k < sizeof(benches) / sizeof(benches[0]); k++)
		if (!strcmp(benches[k].name, name) && result_raw[k] > 0)
			return (int)k;
	return -1;
}

static void growth_lines(void)
{
	size_t k;

	for (k = 0; k < sizeof(growths) / sizeof(growths[0]); k++) {
		int one = result_of(growths[k].one);
		int many = result_of(growths[k].many);
		double lib, raw, ratio;

		if (one < 0 || many < 0)
			continue;
		lib = result_lib[many] / result_lib[one];
		raw = result_raw[many] / result_raw[one];
		ratio = lib / raw;
		printf("%s %.2f x\n%s.raw %.2f x\n%s.ratio %.2f x\n",
		       growths[k].name, lib, growths[k].name, raw,
		       growths[k].name, ratio);
		if (ratio > growths[k].target)
			miss("%s.ratio %.2f x, target <= %.2f", growths[k].name,
			     ratio, growths[k].target);
	}
}

/*
 * Creating and dropping a space of two adjacent 64 MiB anonymous regions
 * (the independent benchmark's layout), against the raw program's work:
 * mmap() and munmap() of two such mappings.  No page is touched on either
 * side.  The issue's target is "no slower than vm-memory", which that
 * benchmark measured at 1.0-1.07x the raw pair; 1.1x stands in for it.
 */
#define CREATE_NAME "space.create_drop_2x64m"
#define CREATE_SIZE (64 * MIB)
#define CREATE_TARGET 1.1

static uint64_t create_drop_lib(unsigned int n)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct gm_region *r[2];
		struct gm_space *s;
		int ret, k;

		ret = gm_space_new(&s, "bench-create", 0);
		for (k = 0; !ret && k < 2; k++) {
			ret = gm_unix_region_new_anon(k * CREATE_SIZE,
						      CREATE_SIZE, 0, &r[k]);
			if (!ret)
				ret = gm_space_add_region(s, r[k]);
		}
		if (ret)
			die("create a space", ret);
		gm_space_free(s);
	}
	return now_ns() - t0;
}

static uint64_t create_drop_raw(unsigned int n)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		void *p[2];
		int k;

		/* As the unix backend maps an anonymous region. */
		for (k = 0; k < 2; k++) {
			p[k] = mmap(NULL, CREATE_SIZE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1, 0);
			if (p[k] == MAP_FAILED)
				die("mmap", -errno);
		}
		for (k = 0; k < 2; k++)
			munmap(p[k], CREATE_SIZE);
	}
	return now_ns() - t0;
}

static void create_drop_line(void)
{
	unsigned int n = cfg.iters ? (unsigned int)cfg.iters : 2000, r;
	uint64_t best_lib = UINT64_MAX, best_raw = UINT64_MAX, t;
	double lib, raw;

	for (r = 0; r < cfg.reps; r++) {
		/* Alternate which side goes first. */
		if (r & 1) {
			t = create_drop_raw(n);
			best_raw = t < best_raw ? t : best_raw;
		}
		t = create_drop_lib(n);
		best_lib = t < best_lib ? t : best_lib;
		if (!(r & 1)) {
			t = create_drop_raw(n);
			best_raw = t < best_raw ? t : best_raw;
		}
	}
	lib = (double)best_lib / n;
	raw = (double)best_raw / n;
	printf("%s %.0f ns/op\n%s.raw %.0f ns/op\n%s.ratio %.2f x\n",
	       CREATE_NAME, lib, CREATE_NAME, raw, CREATE_NAME, lib / raw);
	if (lib / raw > CREATE_TARGET)
		miss("%s.ratio %.2f x, target <= %.2f", CREATE_NAME, lib / raw,
		     CREATE_TARGET);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-access [--quick] [--filter SUBSTR] [--iters N]\n"
		"  --quick          short run (about 2 s) with a smaller guest\n"
		"  --filter SUBSTR  run only measurements whose name contains "
		"SUBSTR\n"
		"  --iters N        N iterations per run, no calibration "
		"(for callgrind)\n"
		"Prints \"name value unit\" lines; see bench/README.md.\n");
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	unsigned long long iters = 0;
	int quick = 0, i;
	char *end;
	unsigned int nr_run = 0;
	size_t k;

	pair_cpus_init();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			filter = argv[++i];
		} else if (!strncmp(argv[i], "--filter=", 9)) {
			filter = argv[i] + 9;
		} else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
			errno = 0;
			iters = strtoull(argv[++i], &end, 0);
			if (errno || *end || !iters) {
				usage(stderr);
				return 2;
			}
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
	cfg.iters = iters;

	printf("# bench-access%s: guest of %" PRIu64 " MiB in 1 region; "
	       "%d regions of %" PRIu64 " KiB\n",
	       quick ? " --quick" : "", cfg.guest_size / MIB, MANY_REGIONS,
	       cfg.many_size / KIB);
	printf("# best of %u alternating runs of ~%" PRIu64 " ms; ratio = "
	       "library / raw: ns/op lower is better, GB/s higher is better\n",
	       cfg.reps, cfg.run_ns / 1000000);
	print_cpu();
	fflush(stdout);

	for (k = 0; k < sizeof(benches) / sizeof(benches[0]); k++) {
		if (filter && !strstr(benches[k].name, filter))
			continue;
		measure(&benches[k], &result_lib[k], &result_raw[k]);
		nr_run++;
	}
	growth_lines();
	if (!filter || strstr(CREATE_NAME, filter)) {
		create_drop_line();
		nr_run++;
	}

	if (!nr_run) {
		fprintf(stderr, "bench-access: no measurement matches '%s'\n",
			filter);
		return 2;
	}
	if (nr_misses) {
		unsigned int m;

		printf("# %u ratio(s) miss their target:\n", nr_misses);
		for (m = 0; m < nr_misses; m++)
			printf("#   %s\n", misses[m]);
	} else {
		printf("# every ratio meets its target\n");
	}

	sets_fini();
	for (k = 0; k < GUEST_COUNT; k++)
		guest_fini(&guests[k]);
	return 0;
}
