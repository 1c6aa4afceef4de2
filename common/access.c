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

#include "access.h"
#include "copy.h"
#include "fault.h"
#include "piece.h"
#include "region.h"
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

/* Validate the arguments every range accessor shares.  Returns 0 or the
 * recorded error. */
int gm__range_args(struct gm_space *s, const char *op, uint64_t gpa,
		      const void *buf, size_t len)
{
	if (!s)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					"space is NULL");
	if (!buf && len)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					"buffer is NULL");
	if (len > GM_MAX_LEN)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					"length exceeds GM_MAX_LEN");
	if (len && gpa + (len - 1) < gpa)
		return gm__error_access(s, op, gpa, len, gpa, -EOVERFLOW, NULL);
	return 0;
}

/* Why an access failed when fault-safe copying caught a fault. */
const char gm__fault_why[] = "guest page faulted (revoked, ballooned "
				"out or truncated under its mapping)";

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
		/* A typed value: one access, whatever its alignment. */
		switch (n) {
		case 1:
			if (x == XFER_READ)
				*buf = *(const volatile uint8_t *)g;
			else
				*(volatile uint8_t *)g = *buf;
			break;
#define TYPED(T, U)                                                           \
	{                                                                     \
		T v;                                                          \
		if (x == XFER_READ) {                                         \
			v = *(const volatile U *)g;                           \
			memcpy(buf, &v, sizeof(v));                           \
		} else {                                                      \
			memcpy(&v, buf, sizeof(v));                           \
			*(volatile U *)g = v;                                 \
		}                                                             \
	}
		case 2:
			TYPED(uint16_t, gm__u16u)
			break;
		case 4:
			TYPED(uint32_t, gm__u32u)
			break;
		case 8:
			TYPED(uint64_t, gm__u64u)
			break;
#undef TYPED
		}
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
 * Check that [gpa, gpa + len) (len >= 1, no wrap) is covered by adjacent
 * regions, all writable if @write.  Returns 0, or -EFAULT / -EACCES with
 * *at set to the first offending address.
 */
int gm__range_check(const struct gm__table *t, const struct gm__entry *e,
		       uint64_t gpa, uint64_t len, int write, uint64_t *at)
{
	uint64_t last = gpa + (len - 1), cur = gpa;

	if (!e) {
		*at = gpa;
		return -EFAULT;
	}
	for (;;) {
		if (write && (e->flags & GM_REGION_RDONLY)) {
			*at = cur;
			return -EACCES;
		}
		if (last <= e->last)
			return 0;
		cur = e->last + 1;
		e = gm__space_next(t, e);
		if (!e || e->gpa != cur) {
			*at = cur;
			return -EFAULT;
		}
	}
}

/*
 * Move bytes between [gpa, gpa + len) and @buf, starting in entry @e
 * (which contains gpa, or is NULL for a hole), region by region, mapping
 * on-demand regions piece by piece.  Stops at the first byte it cannot
 * access.  Returns the bytes done; on a stop sets *err and *at, and *why to
 * the backend's name when the backend refused to map, or to gm__fault_why when
 * a fault-safe copy caught a fault.
 */
static uint64_t range_xfer(const struct gm__table *t, const struct gm__entry *e,
			   enum xfer x, int safe, uint64_t gpa, uint8_t *buf,
			   int byte, uint64_t len, int *err, uint64_t *at,
			   const char **why)
{
	int prot = x == XFER_READ ? GM_PROT_READ : GM_PROT_WRITE;
	uint64_t done = 0;

	while (done < len) {
		uint64_t cur = gpa + done, n;

		if (!e || cur < e->gpa || cur > e->last) {
			*err = -EFAULT;
			*at = cur;
			return done;
		}
		if (x != XFER_READ && (e->flags & GM_REGION_RDONLY)) {
			*err = -EACCES;
			*at = cur;
			return done;
		}
		n = e->last - cur;
		n = n < len - done - 1 ? n + 1 : len - done;
		if (e->hva) {
			uint64_t foff;
			size_t left = xfer_bytes(x, safe,
						 e->hva + (cur - e->gpa),
						 buf_at(x, buf, done), byte, n,
						 &foff);

			if (gm_unlikely(left)) {
				*err = -EFAULT;
				*at = cur + foff;
				*why = gm__fault_why;
				return done + n - left;
			}
			done += n;
		} else {
			while (n) {
				struct gm_map m;
				uint64_t foff;
				size_t left;
				int ret = gm__region_map(e->region,
							 cur - e->gpa, n, prot,
							 0, &m);

				if (ret) {
					*err = ret;
					*at = e->gpa + m.fault;
					*why = e->region->ops->name;
					return done;
				}
				left = xfer_bytes(x, safe, m.hva,
						  buf_at(x, buf, done), byte,
						  m.len, &foff);
				gm__region_unmap(e->region, &m);
				if (gm_unlikely(left)) {
					*err = -EFAULT;
					*at = cur + foff;
					*why = gm__fault_why;
					return done + m.len - left;
				}
				done += m.len;
				cur += m.len;
				n -= m.len;
			}
		}
		e = gm__space_next(t, e);
	}
	return done;
}

static int record_stop(struct gm_space *s, const char *op, uint64_t gpa,
		       uint64_t len, uint64_t at, int err, const char *why)
{
	if (why && why != gm__fault_why)
		return gm__error_map(s, op, gpa, len, at, err, why);
	return gm__error_access(s, op, gpa, len, at, err, why);
}

/* The exact (all-or-error) path beyond the one-region fast path. */
static __attribute__((noinline)) int
range_slow(struct gm_space *s, const struct gm__table *t,
	   const struct gm__entry *e, enum xfer x, uint64_t gpa, uint8_t *buf,
	   int byte, uint64_t len)
{
	const char *why = NULL;
	uint64_t at;
	int err = gm__range_check(t, e, gpa, len, x != XFER_READ, &at);

	if (err)
		return gm__error_access(s, xfer_op[x], gpa, len, at, err, NULL);
	if (range_xfer(t, e, x, s->flags & GM_SPACE_FAULT_SAFE, gpa, buf, byte,
		       len, &err, &at, &why) == len)
		return 0;
	return record_stop(s, xfer_op[x], gpa, len, at, err, why);
}

/* Move the rest of an access whose first map (@m) covered only a part. */
static __attribute__((noinline)) int
range_rest(struct gm_space *s, const struct gm__table *t,
	   const struct gm__entry *e, enum xfer x, int safe, uint64_t gpa,
	   uint8_t *buf, int byte, size_t len, struct gm_map *m)
{
	const char *why = NULL;
	uint64_t foff, at, done = m->len;
	size_t left;
	int err;

	left = xfer_bytes(x, safe, m->hva, buf, byte, m->len, &foff);
	gm__region_unmap(e->region, m);
	if (left)
		return gm__error_access(s, xfer_op[x], gpa, len, gpa + foff,
					-EFAULT, gm__fault_why);
	if (range_xfer(t, e, x, safe, gpa + done, buf_at(x, buf, done), byte,
		       len - done, &err, &at, &why) == len - done)
		return 0;
	return record_stop(s, xfer_op[x], gpa, len, at, err, why);
}

/*
 * A stable range [lo, hi] of entry @e, host address gpa + @delta (a
 * transient mapping that the backend says is stable, GM__MAP_STABLE, or a
 * published piece, piece.h): make it the thread's cached range, so that
 * the next accesses to it take the fast path without a map call.  Only on
 * the second access in a row to the same stable range (od_used()): random
 * accesses over many ranges would pay the fence below on each one and
 * never use the cache.
 *
 * Protocol with the backend, which before unmapping changes *gen, issues
 * a seq_cst fence, then calls gm__rcu_synchronize_all() (which invalidates
 * every cached range with cache_od set, then waits for readers): we store
 * the range, then cache_gen, then cache_od (release), fence, and check
 * *gen.  Our fence pairs with the backend's (kill_list() in xen/cache.c):
 * C11 puts the two in one total order, so either the check sees the
 * change and we invalidate the range ourselves, or the synchronize sees
 * cache_od and invalidates it, after our store of cache_gen; readers that
 * loaded it before are waited for.
 */
static __attribute__((noinline)) void
od_fill(struct gm__rcu_reader *rd, const struct gm__table *t,
	const struct gm__entry *e, uint64_t lo, uint64_t hi, int writable,
	uintptr_t delta, const _Atomic uint64_t *gen, uint64_t genval)
{
	rd->cache_entry = e;
	rd->cache_rlo = lo;
	rd->cache_rhi = hi;
	if (writable && !(e->flags & GM_REGION_RDONLY)) {
		rd->cache_wlo = lo;
		rd->cache_whi = hi;
	} else {
		rd->cache_wlo = UINT64_MAX;
		rd->cache_whi = 0;
	}
	rd->cache_delta = delta;
	atomic_store_explicit(&rd->cache_gen, t->gen, memory_order_relaxed);
	atomic_store_explicit(&rd->cache_od, 1, memory_order_release);
	/* Pairs with the backend's fence after its change of *gen (above). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(gen, memory_order_relaxed) != genval)
		atomic_store_explicit(&rd->cache_gen, UINT64_MAX,
				      memory_order_relaxed);
}

/* A stable range [lo, hi] of @e was just used: cache it if it was the last
 * one used too (see od_fill()). */
static inline __attribute__((always_inline)) void
od_used(struct gm__rcu_reader *rd, const struct gm__table *t,
	const struct gm__entry *e, uint64_t lo, uint64_t hi, int writable,
	uintptr_t delta, const _Atomic uint64_t *gen, uint64_t genval)
{
	if (rd->od_last != lo)
		rd->od_last = lo;
	else
		od_fill(rd, t, e, lo, hi, writable, delta, gen, genval);
}

/*
 * An access inside one on-demand region: usually one map call covers it
 * (a cache hit), and the copy keeps its constant length.  Anything else
 * (a piece boundary, a failure) takes the general path.
 */
static inline __attribute__((always_inline)) int
range_ondemand(struct gm_space *s, struct gm__rcu_reader *rd,
	       const struct gm__table *t, const struct gm__entry *e,
	       enum xfer x, int safe, uint64_t gpa, uint8_t *buf, int byte,
	       size_t len)
{
	struct gm__map_ext mx;
	uint64_t foff;
	size_t left;
	int ret;

	mx.gen = NULL;
	ret = gm__region_map(e->region, gpa - e->gpa, len,
			     x == XFER_READ ? GM_PROT_READ : GM_PROT_WRITE,
			     (e->region->common_flags & GM__REGION_STABLE)
				     ? GM__MAP_STABLE
				     : 0,
			     &mx.m);
	if (gm_unlikely(ret))
		return gm__error_map(s, xfer_op[x], gpa, len, e->gpa + mx.m.fault,
				     ret, e->region->ops->name);
	if (gm_unlikely(mx.m.len != len))
		return range_rest(s, t, e, x, safe, gpa, buf, byte, len, &mx.m);
	left = xfer_bytes(x, safe, mx.m.hva, buf, byte, len, &foff);
	if (mx.gen && !left)
		od_used(rd, t, e, e->gpa + mx.lo, e->gpa + mx.hi, mx.writable,
			(uintptr_t)mx.m.hva - (uintptr_t)gpa, mx.gen,
			mx.genval);
	gm__region_unmap(e->region, &mx.m);
	if (gm_unlikely(left))
		return gm__error_access(s, xfer_op[x], gpa, len, gpa + foff,
					-EFAULT, gm__fault_why);
	return 0;
}

/*
 * An exact accessor after the fast path gave up, inside a section of @rd
 * when @rd is not NULL (a leaf section, which becomes an ordinary one: the
 * backend's map may re-enter the library), else outside any.  Inlined into
 * one out-of-line copy per operation and constant length (see
 * DEFINE_ACCESS_SLOW()), so that on-demand regions still copy with single
 * loads and stores.
 */
static inline __attribute__((always_inline)) int
range_slow_body(struct gm_space *s, struct gm__rcu_reader *rd, enum xfer x,
		uint64_t gpa, uint8_t *buf, int byte, size_t len)
{
	const struct gm__table *t;
	const struct gm__entry *e;
	int ret = 0;

	if (rd) {
		gm__rcu_leaf_to_nested(rd);
	} else {
		rd = gm__space_reader(s);
		if (gm_unlikely(!rd))
			return gm__error_access(s, xfer_op[x], gpa, len, gpa,
						-ENOMEM, NULL);
		gm__rcu_enter(s->dom, rd);
	}
	t = gm__space_table(s);
	e = gm__space_lookup(t, rd, gpa);
	if (gm_likely(e && gpa + (len - 1) <= e->last &&
		      (x == XFER_READ || !(e->flags & GM_REGION_RDONLY)))) {
		int safe = s->flags & GM_SPACE_FAULT_SAFE;
		uint64_t foff;

		if (e->hva != NULL) {
			if (gm_unlikely(xfer_bytes(x, safe,
						   e->hva + (gpa - e->gpa), buf,
						   byte, len, &foff)))
				ret = gm__error_access(s, xfer_op[x], gpa, len,
						       gpa + foff, -EFAULT,
						       gm__fault_why);
		} else {
			ret = range_ondemand(s, rd, t, e, x, safe, gpa, buf,
					     byte, len);
		}
	} else {
		ret = range_slow(s, t, e, x, gpa, buf, byte, len);
	}
	gm__rcu_exit(rd);
	return ret;
}

/* A fault-safe copy on a fast path faulted (the section is closed). */
static __attribute__((noinline, cold)) int
access_fault(struct gm_space *s, enum xfer x, uint64_t gpa, size_t len,
	     uint64_t foff)
{
	return gm__error_access(s, xfer_op[x], gpa, len, gpa + foff, -EFAULT,
				gm__fault_why);
}

/* Whether entry @e can be accessed directly by @x. */
static inline int entry_direct(const struct gm__entry *e, enum xfer x)
{
	return e->hva && (x == XFER_READ || !(e->flags & GM_REGION_RDONLY));
}

/*
 * The usual cases of a cache miss: [gpa, gpa + len) in persistent entry
 * @e, or in @e and the adjacent persistent entry after it (a descriptor
 * across two memory slots), checked in one pass.  Returns 1 when done, with
 * *left and *foff as xfer_bytes() sets them (for the whole range), or 0 to
 * leave it to range_slow_body().
 */
static inline __attribute__((always_inline)) int
range_direct(const struct gm__table *t, const struct gm__entry *e,
	     enum xfer x, int safe, uint64_t gpa, uint8_t *buf, int byte,
	     size_t len, size_t *left, uint64_t *foff)
{
	const struct gm__entry *next;
	size_t n1;

	if (!e || !entry_direct(e, x))
		return 0;
	if (gm_likely(gpa + (len - 1) <= e->last)) {
		*left = xfer_bytes(x, safe, e->hva + (gpa - e->gpa), buf, byte,
				   len, foff);
		return 1;
	}
	next = gm__space_next(t, e);
	if (!next || next->gpa != e->last + 1 || gpa + (len - 1) > next->last ||
	    !entry_direct(next, x))
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
 * The usual case of an access to an on-demand region that publishes its
 * mapped pieces (piece.h): [gpa, gpa + len) lies in one published piece of
 * entry @e.  Copy it right there, inside the leaf section of @rd, without a
 * map call.  Returns 1 when done, with *left and *foff as xfer_bytes() sets
 * them, or 0 to leave it to range_slow_body().
 */
static inline __attribute__((always_inline)) int
range_piece(struct gm__rcu_reader *rd, const struct gm__table *t,
	    const struct gm__entry *e, enum xfer x, int safe, uint64_t gpa,
	    uint8_t *buf, int byte, size_t len, size_t *left, uint64_t *foff)
{
	struct gm__piece p;
	uint64_t genval;

	/* The pieces are found through the region, not the entry: a larger
	 * entry would slow every lookup in a table of many regions. */
	if (!e || e->hva || gpa + (len - 1) > e->last ||
	    (x != XFER_READ && (e->flags & GM_REGION_RDONLY)))
		return 0;
	/* Before the piece: a generation read after the backend unpublished
	 * it sees the change (see od_fill() for its use). */
	genval = atomic_load_explicit(&gm__piece_gen, memory_order_acquire);
	if (!gm__piece_find(e->region, gpa - e->gpa, len, x != XFER_READ, &p))
		return 0;
	*left = xfer_bytes(x, safe, p.hva, buf, byte, len, foff);
	/* The piece's word is its key for od_last: a cheap one, and a clash
	 * with a range_ondemand() key only costs a needless fill. */
	if (rd->od_last != (uintptr_t)&e->region->pieces[p.lo >>
						       e->region->piece_shift])
		rd->od_last = (uintptr_t)&e->region->pieces[
			p.lo >> e->region->piece_shift];
	else if (!*left)
		od_fill(rd, t, e, e->gpa + p.lo, e->gpa + p.hi,
			(p.word & GM__PIECE_W) != 0,
			(uintptr_t)p.hva - (uintptr_t)gpa, &gm__piece_gen,
			genval);
	return 1;
}

/*
 * Two out-of-line functions per operation and length @n (a constant, or
 * the run-time len):
 *  - name: range_slow_body(), for everything;
 *  - name_miss: the fast path missed the thread's cache, inside a leaf
 *    section: look the address up in the table (which refills the cache)
 *    and, if it is in persistent regions after all (range_direct()) or
 *    in a published piece (range_piece()), copy right here, in a
 *    function light enough to save few registers (random addresses over
 *    many regions); anything else goes on to name.
 */
#define DEFINE_ACCESS_SLOW(name, x, n)                                        \
	static __attribute__((noinline)) int name(                            \
		struct gm_space *s, struct gm__rcu_reader *rd, uint64_t gpa,  \
		uint8_t *buf, int byte, size_t len)                           \
	{                                                                     \
		(void)len;                                                    \
		return range_slow_body(s, rd, x, gpa, buf, byte, n);          \
	}                                                                     \
	static __attribute__((noinline)) int name##_miss(                     \
		struct gm_space *s, struct gm__rcu_reader *rd, uint64_t gpa,  \
		uint8_t *buf, int byte, size_t len)                           \
	{                                                                     \
		const struct gm__table *t = gm__space_table(s);                   \
		const struct gm__entry *e = gm__space_lookup(t, rd, gpa);     \
		int safe = s->flags & GM_SPACE_FAULT_SAFE;                    \
		uint64_t foff;                                                \
		size_t left;                                                  \
									      \
		if (!range_direct(t, e, x, safe, gpa, buf, byte, n, &left,    \
				  &foff) &&                                   \
		    !range_piece(rd, t, e, x, safe, gpa, buf, byte, n,        \
				  &left, &foff))                              \
			return name(s, rd, gpa, buf, byte, len);              \
		gm__rcu_exit_leaf_reload(rd);                                 \
		if (gm_unlikely(left))                                        \
			return access_fault(s, x, gpa, n, foff);              \
		return 0;                                                     \
	}
DEFINE_ACCESS_SLOW(read_slow, XFER_READ, len)
DEFINE_ACCESS_SLOW(write_slow, XFER_WRITE, len)
DEFINE_ACCESS_SLOW(fill_slow, XFER_FILL, len)
DEFINE_ACCESS_SLOW(read_slow_1, XFER_READ, 1)
DEFINE_ACCESS_SLOW(read_slow_2, XFER_READ, 2)
DEFINE_ACCESS_SLOW(read_slow_4, XFER_READ, 4)
DEFINE_ACCESS_SLOW(read_slow_8, XFER_READ, 8)
DEFINE_ACCESS_SLOW(write_slow_1, XFER_WRITE, 1)
DEFINE_ACCESS_SLOW(write_slow_2, XFER_WRITE, 2)
DEFINE_ACCESS_SLOW(write_slow_4, XFER_WRITE, 4)
DEFINE_ACCESS_SLOW(write_slow_8, XFER_WRITE, 8)

/* The slow path of an exact accessor: the functions for its length if that
 * is a constant (it is once inlined); with a leaf section of @rd open, or
 * none if @rd is NULL. */
#define CALL_SLOW(name)                                                       \
	(rd ? name##_miss(s, rd, gpa, buf, byte, len)                         \
	    : name(s, NULL, gpa, buf, byte, len))
static inline __attribute__((always_inline)) int
access_slow(struct gm_space *s, struct gm__rcu_reader *rd, enum xfer x,
	    uint64_t gpa, uint8_t *buf, int byte, size_t len)
{
	if (x == XFER_FILL)
		return CALL_SLOW(fill_slow);
	if (__builtin_constant_p(len)) {
		switch (len) {
		case 1:
			return x == XFER_READ ? CALL_SLOW(read_slow_1)
					      : CALL_SLOW(write_slow_1);
		case 2:
			return x == XFER_READ ? CALL_SLOW(read_slow_2)
					      : CALL_SLOW(write_slow_2);
		case 4:
			return x == XFER_READ ? CALL_SLOW(read_slow_4)
					      : CALL_SLOW(write_slow_4);
		case 8:
			return x == XFER_READ ? CALL_SLOW(read_slow_8)
					      : CALL_SLOW(write_slow_8);
		}
	}
	return x == XFER_READ ? CALL_SLOW(read_slow) : CALL_SLOW(write_slow);
}
#undef CALL_SLOW

/*
 * The copy of range_access() that needs a call (a fill, a long copy, a
 * fault-safe one of a run-time length), inside the leaf section of @rd:
 * out of line, so that the fast path itself saves no registers.
 */
static __attribute__((noinline)) int
range_call(struct gm_space *s, struct gm__rcu_reader *rd, enum xfer x,
	   uint64_t gpa, uint8_t *g, uint8_t *buf, int byte, size_t len)
{
	uint64_t foff;
	size_t left = xfer_bytes(x, s->flags & GM_SPACE_FAULT_SAFE, g, buf,
				 byte, len, &foff);

	gm__rcu_exit_leaf_reload(rd);
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
	struct gm__rcu_reader *rd = gm__rcu_last;
	uint64_t seq, foff;
	uint8_t *g;
	size_t left;

	if (gm_unlikely(!rd || rd->dom_id != s->dom_id)) {
		rd = gm__rcu_last2;
		if (!rd || rd->dom_id != s->dom_id)
			return access_slow(s, NULL, x, gpa, buf, byte, len);
	}
	if (gm_unlikely(gm__rcu_try_enter_leaf(rd, &seq)))
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
	gm__rcu_exit_leaf(rd, seq);
	if (gm_unlikely(left))
		return access_fault(s, x, gpa, len, foff);
	return 0;
}

/* Checks of gm__range_args() in one test for the usual case: 0 when none
 * applies and len is not 0. */
#define RANGE_ARGS_FAST(s, gpa, buf, len)                                     \
	(gm_unlikely(!(s) || !(buf) || (len) - 1 >= GM_MAX_LEN ||             \
		     (gpa) + ((len) - 1) < (gpa)))

int gm_read(struct gm_space *s, uint64_t gpa, void *buf, size_t len)
{
	/* A fast test first; gm__range_args() then gives the exact answer
	 * (0 for a length of 0). */
	if (RANGE_ARGS_FAST(s, gpa, buf, len))
		return gm__range_args(s, "read", gpa, buf, len);
	return range_access(s, XFER_READ, gpa, buf, 0, len);
}

int gm_write(struct gm_space *s, uint64_t gpa, const void *buf, size_t len)
{
	if (RANGE_ARGS_FAST(s, gpa, buf, len))
		return gm__range_args(s, "write", gpa, buf, len);
	return range_access(s, XFER_WRITE, gpa, (uint8_t *)buf, 0, len);
}

int gm_fill(struct gm_space *s, uint64_t gpa, int byte, size_t len)
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
	const char *why = NULL;
	struct gm__rcu_reader *rd;
	const struct gm__table *t;
	uint64_t done, at = gpa;
	int err = gm__range_args(s, xfer_op[x], gpa, buf, len);

	if (err || !len)
		return err;
	rd = gm__space_reader(s);
	if (!rd)
		return gm__error_access(s, xfer_op[x], gpa, len, gpa, -ENOMEM,
					NULL);
	gm__rcu_enter(s->dom, rd);
	t = gm__space_table(s);
	done = range_xfer(t, gm__space_lookup(t, rd, gpa), x,
			  s->flags & GM_SPACE_FAULT_SAFE, gpa, buf, 0, len, &err,
			  &at, &why);
	gm__rcu_exit(rd);
	if (done < len)
		record_stop(s, xfer_op[x], gpa, len, at, err, why);
	return done ? (ssize_t)done : err;
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
			return gm__range_args(s, op, gpa, ptr, sizeof(T));        \
	} while (0)
#define TYPED_ARGS_W(T)                                                       \
	do {                                                                  \
		if (gm_unlikely(!s || gpa + (sizeof(T) - 1) < gpa))           \
			return gm__range_args(s, "write", gpa, s, sizeof(T));     \
	} while (0)

#define DEFINE_TYPED(sfx, T, ...)                                             \
	int gm_read_##sfx(struct gm_space *s, uint64_t gpa, T *val)           \
	{                                                                     \
		TYPED_ARGS("read", T, val);                                   \
		return range_access(s, XFER_READ, gpa, (uint8_t *)val, 0,     \
				    sizeof(T));                               \
	}                                                                     \
	int gm_write_##sfx(struct gm_space *s, uint64_t gpa, T val)           \
	{                                                                     \
		TYPED_ARGS_W(T);                                 \
		return range_access(s, XFER_WRITE, gpa, (uint8_t *)&val, 0,   \
				    sizeof(T));                               \
	}
GM_INT_TYPES(DEFINE_TYPED)

#define DEFINE_ENDIAN(sfx, T, bits, ord)                                      \
	int gm_read_##sfx(struct gm_space *s, uint64_t gpa, T *val)           \
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
	int gm_write_##sfx(struct gm_space *s, uint64_t gpa, T val)           \
	{                                                                     \
		T raw = GM__ORD_##ord(bits, val);                             \
		TYPED_ARGS_W(T);                                 \
		return range_access(s, XFER_WRITE, gpa, (uint8_t *)&raw, 0,   \
				    sizeof(T));                               \
	}
GM_ENDIAN_TYPES(DEFINE_ENDIAN)
