/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Accessors by guest-physical address that copy: bytes (exact and
 * partial), typed values and fill, written once over the region vtable for
 * every backend.  Atomics are in atomic.c; views, leases and fd I/O, which
 * hold mappings beyond one call, in pin.c.
 *
 * Every accessor runs inside one RCU read-side section of the space (no
 * lock, no allocation, no syscall on the hot path) and looks its address
 * up in the current region table.  Persistent regions are copied to or
 * from directly; on-demand regions are mapped piece by piece through
 * common/region.h.  The copies themselves are the copy engine's (copy.h).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "copy.h"
#include "fault.h"
#include "piece.h"
#include "range.h"
#include "space.h"

/* What a range operation does with the bytes. */
enum xfer {
	XFER_READ,  /* guest -> buf */
	XFER_WRITE, /* buf -> guest */
	XFER_FILL,  /* byte -> guest */
};

static const char *const xfer_op[] = {
	[XFER_READ] = "read", [XFER_WRITE] = "write", [XFER_FILL] = "fill"
};

#ifdef GM_HAVE_FAULT_SAFE
/*
 * Fault-safe transfer of @n bytes: returns the bytes not done (0: all) and
 * sets *foff to the offset of the byte that faulted.  Constant sizes of
 * 1/2/4/8 bytes become single guarded loads or stores; other lengths take
 * the copy engine's guarded walk (copy.h).
 */
static inline __attribute__((always_inline)) size_t
xfer_safe(enum xfer x, uint8_t *g, uint8_t *buf, int byte, size_t n,
	  uint64_t *foff)
{
	uintptr_t a;
	size_t left;

#define SMALL(bits, T)                                                        \
	if (n == sizeof(T)) {                                                 \
		T v;                                                          \
		if (x == XFER_READ) {                                         \
			if (gm__safe_load_##bits(g, &v))                      \
				goto fault_small;                             \
			memcpy(buf, &v, sizeof(T));                           \
		} else {                                                      \
			memcpy(&v, buf, sizeof(T));                           \
			if (gm__safe_store_##bits(g, v))                      \
				goto fault_small;                             \
		}                                                             \
		return 0;                                                     \
	}
	if (__builtin_constant_p(n) && x != XFER_FILL) {
		SMALL(8, uint8_t)
		SMALL(16, uint16_t)
		SMALL(32, uint32_t)
		SMALL(64, uint64_t)
	}
#undef SMALL
	if (x == XFER_READ)
		left = gm__safe_read(buf, g, n);
	else if (x == XFER_WRITE)
		left = gm__safe_write(g, buf, n);
	else
		left = gm__safe_fill(g, byte, n);
	if (gm_likely(!left))
		return 0;
	/* The walk stops at the faulting access, which lies in one page:
	 * every byte before it was done. */
	a = gm__fault_addr;
	*foff = a >= (uintptr_t)g && a - (uintptr_t)g < n ? a - (uintptr_t)g
							: n - left;
	if (n - left > *foff)
		left = n - *foff;
	return left;
fault_small:
	a = gm__fault_addr;
	*foff = a >= (uintptr_t)g && a - (uintptr_t)g < n ? a - (uintptr_t)g
							: 0;
	return n;
}
#endif

/*
 * Move @n bytes between guest memory at @g and @buf (or fill with @byte),
 * never tearing a naturally aligned field of guest memory (copy.h).
 * Returns the bytes not done, which only a fault-safe space (@safe) can
 * see, with *foff set to the offset of the faulting byte.
 */
static inline __attribute__((always_inline)) size_t
xfer_bytes(enum xfer x, int safe, uint8_t *g, uint8_t *buf, int byte,
	   size_t n, uint64_t *foff)
{
#ifdef GM_HAVE_FAULT_SAFE
	if (gm_unlikely(safe))
		return xfer_safe(x, g, buf, byte, n, foff);
#endif
	if (x != XFER_FILL && __builtin_constant_p(n) &&
	    (n == 1 || n == 2 || n == 4 || n == 8)) {
		/* A typed value: one access, whatever its alignment, as
		 * guestmem.h's inline accessors do it. */
		(void)gm__fast_copy(g, buf, n, x != XFER_READ);
		return 0;
	}
	if (n <= 16) {
		/* Short copies of a run-time length (a descriptor, a ring
		 * entry) inline, not through a call. */
		gm__copy_small(x == XFER_READ	 ? GM__COPY_READ
			       : x == XFER_WRITE ? GM__COPY_WRITE
						 : GM__COPY_FILL,
			       g, buf,
			       (uint64_t)(uint8_t)byte *
				       UINT64_C(0x0101010101010101),
			       n);
		return 0;
	}
	switch (x) {
	case XFER_READ:
		gm__copy_read(buf, g, n);
		break;
	case XFER_WRITE:
		gm__copy_write(g, buf, n);
		break;
	case XFER_FILL:
		gm__copy_fill(g, byte, n);
		break;
	}
	return 0;
}

/* @buf advanced by @done bytes; a fill has no buffer (NULL stays NULL). */
static inline uint8_t *buf_at(enum xfer x, uint8_t *buf, uint64_t done)
{
	return x == XFER_FILL ? buf : buf + done;
}

/*
 * Move the bytes of walk @w (range.h) between guest memory and @buf (or
 * fill with @byte), piece by piece.  Returns 0, or the errno of the stop,
 * with w->done the bytes done and w->err, w->at and w->why set; a fault
 * that a fault-safe copy caught is a stop at the faulting byte.
 */
static inline __attribute__((always_inline)) int
walk_xfer(struct gm__walk *w, enum xfer x, int safe, uint8_t *buf, int byte)
{
	int ret;

	while ((ret = gm__walk_next(w)) > 0) {
		uint64_t foff;
		size_t left = xfer_bytes(x, safe, w->hva,
					 buf_at(x, buf, w->done), byte,
					 (size_t)w->n, &foff);

		if (gm_unlikely(left)) {
			w->err = -EFAULT;
			w->at = w->gpa + w->done + foff;
			w->why = gm__fault_why;
			/* Count what was done before the fault. */
			w->n -= left;
			gm__walk_done(w);
			return w->err;
		}
		gm__walk_done(w);
	}
	return ret;
}

/*
 * An exact accessor beyond its fast paths: the walk, inside the leaf
 * section of @rd that the fast path opened (the walk takes it over), or
 * from the start if @rd is NULL.
 */
static __attribute__((noinline)) int
range_walk(struct gm_space *s, struct gm__space_reader *rd, enum xfer x,
	   uint64_t gpa, uint8_t *buf, int byte, size_t len)
{
	struct gm__walk w;
	int ret = gm__walk_begin(&w, s, rd, xfer_op[x], gpa, len,
				 x == XFER_READ ? GM_PROT_READ : GM_PROT_WRITE,
				 0, 1);

	if (ret)
		return ret;
	ret = walk_xfer(&w, x, s->flags & GM_SPACE_FAULT_SAFE, buf, byte);
	gm__walk_end(&w);
	return ret ? gm__walk_error(&w, xfer_op[x]) : 0;
}

/*
 * A published piece's range [lo, hi] of entry @e, host address gpa +
 * @delta: make it the thread's cached range, so that the next accesses to
 * it take the fast path.  Only on the second access in a row to the same
 * piece (range_direct()): random accesses over many pieces would pay the
 * fence below on each one and never use the cache.
 *
 * Protocol with gm_region_synchronize() (piece.c), which after the backend
 * unpublished bumps gm__piece_gen, issues a seq_cst fence, then
 * invalidates every cached range with cache_od set and waits for readers:
 * we store the range with its rgen and wgen, then cache_od (release),
 * fence, and check the generation.  C11 puts the two fences in one total
 * order, so either the check sees the change and we invalidate the range
 * ourselves, or the synchronize sees cache_od and invalidates it, after
 * our stores of rgen and wgen; readers that loaded them before are waited
 * for.
 */
static __attribute__((noinline)) void
od_fill(struct gm__space_reader *rd, const struct gm__table *t,
	const struct gm__entry *e, uint64_t lo, uint64_t hi, int writable,
	uintptr_t delta, uint64_t genval)
{
	rd->cache_entry = e;
	atomic_store_explicit(&rd->cache_gen, t->gen, memory_order_relaxed);
	if (!gm__space_reader_set(rd, t, e, lo, hi, delta, writable))
		return;
	atomic_store_explicit(&rd->cache_od, 1, memory_order_release);
	/* Pairs with gm_region_synchronize()'s fence (above). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&gm__piece_gen, memory_order_relaxed) !=
	    genval)
		gm__space_reader_clear(rd);
}

/* A fault-safe copy on a fast path faulted (the section is closed). */
static __attribute__((noinline, cold)) int
access_fault(struct gm_space *s, enum xfer x, uint64_t gpa, size_t len,
	     uint64_t foff)
{
	return gm__error_access(s, xfer_op[x], gpa, len, gpa + foff, -EFAULT,
				gm__fault_why);
}

/*
 * A published piece of entry @e served [gpa, ...) at host address @g
 * (range_direct()) for the second access in a row: make its range the
 * thread's cached one (od_fill()); @genval: gm__piece_gen, read before the
 * piece.  Out of line, so that range_direct()'s callers keep their
 * registers for the usual cases.
 */
static __attribute__((noinline)) void
piece_used_twice(struct gm__space_reader *rd, const struct gm__table *t,
		 const struct gm__entry *e, uint64_t gpa, uint8_t *g,
		 uint64_t genval)
{
	struct gm__piece p;

	/* Again, for its bounds and write bit: only if it still publishes
	 * the address we used (a new publication may have replaced it). */
	if (!gm__piece_at(e->region, gpa - e->gpa, 0, &p) || p.hva != g)
		return;
	od_fill(rd, t, e, e->gpa + p.lo, e->gpa + p.hi, p.writable,
		(uintptr_t)g - (uintptr_t)gpa, genval);
}

/*
 * The usual cases of a miss in the thread's cache, copied right here with
 * the access's constant length, through the direct tier (range.h):
 * [gpa, gpa + len) in one persistent region or published piece of entry
 * @e, or in two adjacent persistent regions (a descriptor across two memory
 * slots).  A piece used twice in a row becomes the thread's cached range
 * (od_fill()).  Returns 1 when done, with *left and *foff as xfer_bytes()
 * sets them (for the whole range), or 0 to leave it to the walk.
 */
static inline __attribute__((always_inline)) int
range_direct(struct gm__space_reader *rd, const struct gm__table *t,
	     const struct gm__entry *e, enum xfer x, int safe, uint64_t gpa,
	     uint8_t *buf, int byte, size_t len, size_t *left, uint64_t *foff)
{
	const struct gm__entry *next;
	/* Set by gm__walk_direct() for a piece, which is when it is used;
	 * initialised for the compiler's sake. */
	uint64_t genval = 0, n = len;
	uint8_t *g;
	size_t n1;

	if (!e || (x != XFER_READ && (e->flags & GM_REGION_RDONLY)))
		return 0;
	if (gm_likely(gpa + (len - 1) <= e->last)) {
		if (!gm__walk_direct(e, gpa, x != XFER_READ, &g, &n, &genval) ||
		    n != len)
			return 0;
		*left = xfer_bytes(x, safe, g, buf, byte, len, foff);
		if (gm_unlikely(!e->hva)) {
			const struct gm_pieces *ps = e->region->pieces;
			/* The piece's state byte is its key for od_last. */
			uintptr_t key = (uintptr_t)&ps->state[(gpa - e->gpa) >>
							      ps->shift];

			if (rd->od_last != key)
				rd->od_last = key;
			else if (!*left)
				piece_used_twice(rd, t, e, gpa, g, genval);
		}
		return 1;
	}
	/* Across two adjacent persistent regions. */
	if (!e->hva)
		return 0;
	next = gm__space_next(t, e);
	if (!next || next->gpa != e->last + 1 ||
	    gpa + (len - 1) > next->last || !next->hva ||
	    (x != XFER_READ && (next->flags & GM_REGION_RDONLY)))
		return 0;
	n1 = e->last - gpa + 1;
	*left = xfer_bytes(x, safe, e->hva + (gpa - e->gpa), buf, byte, n1,
			   foff);
	if (gm_likely(!*left)) {
		*left = xfer_bytes(x, safe, next->hva, buf_at(x, buf, n1), byte,
				   len - n1, foff);
		if (gm_unlikely(*left))
			*foff += n1;
	} else {
		*left += len - n1;
	}
	return 1;
}

/*
 * The slow path of an exact accessor: @rd is NULL (no section open: the
 * walk from the start), or a reader whose leaf section the fast path
 * opened and whose cache missed: look the address up in the table (which
 * refills the cache) and try range_direct(), in a function per operation
 * and constant length, light enough to save few registers (random
 * addresses over many regions); anything else goes to the walk.
 */
#define DEFINE_ACCESS_MISS(name, x, n)                                        \
	static __attribute__((noinline)) int name(                            \
		struct gm_space *s, struct gm__space_reader *rd, uint64_t gpa, \
		uint8_t *buf, int byte, size_t len)                           \
	{                                                                     \
		const struct gm__table *t = gm__space_table(s);               \
		const struct gm__entry *e = gm__space_lookup(t, rd, gpa);     \
		int safe = s->flags & GM_SPACE_FAULT_SAFE;                    \
		uint64_t foff;                                                \
		size_t left;                                                  \
                                                                              \
		(void)len;                                                    \
		if (!range_direct(rd, t, e, x, safe, gpa, buf, byte, n,       \
				  &left, &foff))                              \
			return range_walk(s, rd, x, gpa, buf, byte, n);       \
		gm__rcu_exit_leaf_reload(&rd->rcu);                           \
		if (gm_unlikely(left))                                        \
			return access_fault(s, x, gpa, n, foff);              \
		return 0;                                                     \
	}
DEFINE_ACCESS_MISS(read_miss, XFER_READ, len)
DEFINE_ACCESS_MISS(write_miss, XFER_WRITE, len)
DEFINE_ACCESS_MISS(fill_miss, XFER_FILL, len)
DEFINE_ACCESS_MISS(read_miss_1, XFER_READ, 1)
DEFINE_ACCESS_MISS(read_miss_2, XFER_READ, 2)
DEFINE_ACCESS_MISS(read_miss_4, XFER_READ, 4)
DEFINE_ACCESS_MISS(read_miss_8, XFER_READ, 8)
DEFINE_ACCESS_MISS(write_miss_1, XFER_WRITE, 1)
DEFINE_ACCESS_MISS(write_miss_2, XFER_WRITE, 2)
DEFINE_ACCESS_MISS(write_miss_4, XFER_WRITE, 4)
DEFINE_ACCESS_MISS(write_miss_8, XFER_WRITE, 8)

/* The slow path of an exact accessor: the miss function for its length if
 * that is a constant (it is once inlined) with a leaf section of @rd open,
 * or the walk if @rd is NULL. */
#define CALL_MISS(name)                                                       \
	(rd ? name(s, rd, gpa, buf, byte, len)                                \
	    : range_walk(s, NULL, x, gpa, buf, byte, len))
static inline __attribute__((always_inline)) int
access_slow(struct gm_space *s, struct gm__space_reader *rd, enum xfer x,
	    uint64_t gpa, uint8_t *buf, int byte, size_t len)
{
	if (x == XFER_FILL)
		return CALL_MISS(fill_miss);
	if (__builtin_constant_p(len)) {
		switch (len) {
		case 1:
			return x == XFER_READ ? CALL_MISS(read_miss_1)
					      : CALL_MISS(write_miss_1);
		case 2:
			return x == XFER_READ ? CALL_MISS(read_miss_2)
					      : CALL_MISS(write_miss_2);
		case 4:
			return x == XFER_READ ? CALL_MISS(read_miss_4)
					      : CALL_MISS(write_miss_4);
		case 8:
			return x == XFER_READ ? CALL_MISS(read_miss_8)
					      : CALL_MISS(write_miss_8);
		}
	}
	return x == XFER_READ ? CALL_MISS(read_miss) : CALL_MISS(write_miss);
}
#undef CALL_MISS

/*
 * The copy of range_access() that needs a call (a fill, a long copy, a
 * fault-safe one of a run-time length), inside the leaf section of @rd:
 * out of line, so that the fast path itself saves no registers.
 */
static __attribute__((noinline)) int
range_call(struct gm_space *s, struct gm__space_reader *rd, enum xfer x,
	   uint64_t gpa, uint8_t *g, uint8_t *buf, int byte, size_t len)
{
	uint64_t foff;
	size_t left = xfer_bytes(x, s->flags & GM_SPACE_FAULT_SAFE, g, buf,
				 byte, len, &foff);

	gm__rcu_exit_leaf_reload(&rd->rcu);
	if (gm_unlikely(left))
		return access_fault(s, x, gpa, len, foff);
	return 0;
}

/*
 * The hot path of every exact accessor, inlined into each so that constant
 * lengths become single loads and stores: a leaf section (rcu.h) and the
 * thread's cached region (gm__space_cached()), which answer most accesses
 * in one persistent region.  Everything else goes to access_slow(), which
 * takes the open section over.
 */
static inline __attribute__((always_inline)) int
range_access(struct gm_space *s, enum xfer x, uint64_t gpa, uint8_t *buf,
	     int byte, size_t len)
{
	struct gm__space_reader *rd = gm__space_reader_fast(s);
	uint64_t seq, foff;
	uint8_t *g;
	size_t left;

	if (gm_unlikely(!rd))
		return access_slow(s, NULL, x, gpa, buf, byte, len);
	if (gm_unlikely(gm__rcu_try_enter_leaf(&rd->rcu, &seq)))
		return access_slow(s, NULL, x, gpa, buf, byte, len);
	if (gm_unlikely(!gm__space_cached(s, rd, gpa, len, x != XFER_READ,
					  &g)))
		return access_slow(s, rd, x, gpa, buf, byte, len);
	if (x == XFER_FILL ||
	    (!__builtin_constant_p(len) &&
	     (len > 16 || (s->flags & GM_SPACE_FAULT_SAFE))))
		return range_call(s, rd, x, gpa, g, buf, byte, len);
	left = xfer_bytes(x, s->flags & GM_SPACE_FAULT_SAFE, g, buf, byte, len,
			  &foff);
	gm__rcu_exit_leaf(&rd->rcu, seq);
	if (gm_unlikely(left))
		return access_fault(s, x, gpa, len, foff);
	return 0;
}

/* Checks of gm__range_args() in one test for the usual case: 0 when none
 * applies and len is not 0. */
#define RANGE_ARGS_FAST(s, gpa, buf, len)                                     \
	(gm_unlikely(!(s) || !(buf) || (len) - 1 >= GM_MAX_LEN ||             \
		     (gpa) + ((len) - 1) < (gpa)))

GM__ENTRY int gm__read(struct gm_space *s, uint64_t gpa, void *buf,
		       size_t len)
{
	/* A fast test first; gm__range_args() then gives the exact answer
	 * (0 for a length of 0). */
	if (RANGE_ARGS_FAST(s, gpa, buf, len))
		return gm__range_args(s, "read", gpa, buf, len);
	return range_access(s, XFER_READ, gpa, buf, 0, len);
}

GM__ENTRY int gm__write(struct gm_space *s, uint64_t gpa, const void *buf,
			size_t len)
{
	if (RANGE_ARGS_FAST(s, gpa, buf, len))
		return gm__range_args(s, "write", gpa, buf, len);
	return range_access(s, XFER_WRITE, gpa, (uint8_t *)buf, 0, len);
}

GM__ENTRY int gm_fill(struct gm_space *s, uint64_t gpa, int byte, size_t len)
{
	/* The fill has no buffer: pass s, which is what is tested. */
	if (RANGE_ARGS_FAST(s, gpa, s, len))
		return gm__range_args(s, "fill", gpa, &byte, len);
	return range_access(s, XFER_FILL, gpa, NULL, byte, len);
}

int gm_zero(struct gm_space *s, uint64_t gpa, size_t len)
{
	return gm_fill(s, gpa, 0, len);
}

static ssize_t range_partial(struct gm_space *s, enum xfer x, uint64_t gpa,
			     uint8_t *buf, size_t len)
{
	struct gm__walk w;
	int err = gm__range_args(s, xfer_op[x], gpa, buf, len);

	if (err || !len)
		return err;
	err = gm__walk_begin(&w, s, NULL, xfer_op[x], gpa, len,
			     x == XFER_READ ? GM_PROT_READ : GM_PROT_WRITE, 0,
			     0);
	if (err)
		return err;
	err = walk_xfer(&w, x, s->flags & GM_SPACE_FAULT_SAFE, buf, 0);
	gm__walk_end(&w);
	if (err)
		gm__walk_error(&w, xfer_op[x]);
	return w.done ? (ssize_t)w.done : err;
}

ssize_t gm_read_partial(struct gm_space *s, uint64_t gpa, void *buf,
			size_t len)
{
	return range_partial(s, XFER_READ, gpa, buf, len);
}

ssize_t gm_write_partial(struct gm_space *s, uint64_t gpa, const void *buf,
			 size_t len)
{
	return range_partial(s, XFER_WRITE, gpa, (uint8_t *)buf, len);
}

/* ---- typed accessors ---- */

/* Argument checks of the typed accessors: a NULL space or result pointer,
 * or a value that wraps past 2^64. */
#define TYPED_ARGS(op, T, ptr)                                                \
	do {                                                                  \
		if (gm_unlikely(!s || !(ptr) ||                               \
				gpa + (sizeof(T) - 1) < gpa))                 \
			return gm__range_args(s, op, gpa, ptr, sizeof(T));    \
	} while (0)
#define TYPED_ARGS_W(T)                                                       \
	do {                                                                  \
		if (gm_unlikely(!s || gpa + (sizeof(T) - 1) < gpa))           \
			return gm__range_args(s, "write", gpa, s, sizeof(T)); \
	} while (0)

/* A typed read stores *val only when it succeeds (guestmem.h). */
#define DEFINE_TYPED(sfx, T, ...)                                             \
	GM__ENTRY int gm__read_##sfx(struct gm_space *s, uint64_t gpa, T *val) \
	{                                                                     \
		T v;                                                          \
		int ret;                                                      \
		TYPED_ARGS("read", T, val);                                   \
		ret = range_access(s, XFER_READ, gpa, (uint8_t *)&v, 0,       \
				   sizeof(T));                                \
		if (gm_likely(!ret))                                          \
			*val = v;                                             \
		return ret;                                                   \
	}                                                                     \
	GM__ENTRY int gm__write_##sfx(struct gm_space *s, uint64_t gpa, T val) \
	{                                                                     \
		TYPED_ARGS_W(T);                                              \
		return range_access(s, XFER_WRITE, gpa, (uint8_t *)&val, 0,   \
				    sizeof(T));                               \
	}
GM_INT_TYPES(DEFINE_TYPED)

#define DEFINE_ENDIAN(sfx, T, bits, ord)                                      \
	GM__ENTRY int gm__read_##sfx(struct gm_space *s, uint64_t gpa, T *val) \
	{                                                                     \
		T raw;                                                        \
		int ret;                                                      \
		TYPED_ARGS("read", T, val);                                   \
		ret = range_access(s, XFER_READ, gpa, (uint8_t *)&raw, 0,     \
				   sizeof(T));                                \
		if (gm_likely(!ret))                                          \
			*val = GM__ORD_##ord(bits, raw);                      \
		return ret;                                                   \
	}                                                                     \
	GM__ENTRY int gm__write_##sfx(struct gm_space *s, uint64_t gpa, T val) \
	{                                                                     \
		T raw = GM__ORD_##ord(bits, val);                             \
		TYPED_ARGS_W(T);                                              \
		return range_access(s, XFER_WRITE, gpa, (uint8_t *)&raw, 0,   \
				    sizeof(T));                               \
	}
GM_ENDIAN_TYPES(DEFINE_ENDIAN)
