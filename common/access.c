/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Accessors by guest-physical address, written once over the region vtable
 * for every backend: bytes, typed values, fill, atomics, views, leases and
 * fd I/O.
 *
 * Every accessor runs inside one RCU read-side section of the space (no
 * lock, no allocation, no syscall on the hot path) and looks its address
 * up in the current region table.  Persistent regions are copied to or
 * from directly; on-demand regions are mapped piece by piece through
 * common/region.c.
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

/* This thread's reader for @s, or NULL when out of memory. */
static inline struct gm__rcu_reader *space_reader(struct gm_space *s)
{
	struct gm__rcu_reader *r = gm__rcu_last;

	if (gm_likely(r != NULL && r->dom_id == s->dom_id))
		return r;
	r = gm__rcu_last2;
	if (gm_likely(r != NULL && r->dom_id == s->dom_id))
		return r;
	return gm__rcu_reader_slow(s->dom);
}

static inline const struct gm__table *space_table(struct gm_space *s)
{
	return atomic_load_explicit(&s->table, memory_order_acquire);
}

/* Validate the arguments every range accessor shares.  Returns 0 or the
 * recorded error. */
static int range_args(struct gm_space *s, const char *op, uint64_t gpa,
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
static const char fault_why[] = "guest page faulted (revoked, ballooned "
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
static int range_check(const struct gm__table *t, const struct gm__entry *e,
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
 * the backend's name when the backend refused to map, or to fault_why when
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
				*why = fault_why;
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
					*why = fault_why;
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
	if (why && why != fault_why)
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
	int err = range_check(t, e, gpa, len, x != XFER_READ, &at);

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
					-EFAULT, fault_why);
	if (range_xfer(t, e, x, safe, gpa + done, buf_at(x, buf, done), byte,
		       len - done, &err, &at, &why) == len - done)
		return 0;
	return record_stop(s, xfer_op[x], gpa, len, at, err, why);
}

/*
 * A stable range [lo, hi] of entry @e, host address gpa + @delta (a
 * transient mapping that the backend says is stable, GM__MAP_STABLE, or a
 * mapped piece of a window): make it the thread's cached range, so that
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
			     (e->region->reserved0 & GM__REGION_STABLE)
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
					-EFAULT, fault_why);
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
		rd = space_reader(s);
		if (gm_unlikely(!rd))
			return gm__error_access(s, xfer_op[x], gpa, len, gpa,
						-ENOMEM, NULL);
		gm__rcu_enter(s->dom, rd);
	}
	t = space_table(s);
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
						       fault_why);
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
				fault_why);
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

/* od_fill() for piece @b of window @w of @e, state @v, read at genval. */
static __attribute__((noinline)) void
window_fill(struct gm__rcu_reader *rd, const struct gm__table *t,
	    const struct gm__entry *e, const struct gm__window *w, uint64_t b,
	    unsigned char v, uint64_t genval)
{
	uint64_t lo = e->gpa + (b << w->shift);
	uint64_t hi = lo + ((UINT64_C(1) << w->shift) - 1);

	if (hi > e->last || hi < lo)
		hi = e->last;
	od_fill(rd, t, e, lo, hi, v & GM__WIN_WRITE,
		(uintptr_t)w->base - (uintptr_t)e->gpa, w->gen, genval);
}

/*
 * The usual case of an access to an on-demand region with a window
 * (internal.h): [gpa, gpa + len) lies in one piece of entry @e that the
 * backend has mapped in place.  Copy it right there, inside the leaf
 * section of @rd, without a map call.  Returns 1 when done, with *left and
 * *foff as xfer_bytes() sets them, or 0 to leave it to range_slow_body().
 */
static inline __attribute__((always_inline)) int
range_window(struct gm__rcu_reader *rd, const struct gm__table *t,
	     const struct gm__entry *e, enum xfer x, int safe, uint64_t gpa,
	     uint8_t *buf, int byte, size_t len, size_t *left, uint64_t *foff)
{
	const struct gm__window *w;
	uint64_t off, b, genval;
	_Atomic unsigned char *st;
	unsigned char v;

	/* The window is found through the region, not the entry: a larger
	 * entry would slow every lookup in a table of many regions. */
	if (!e || e->hva || gpa + (len - 1) > e->last ||
	    (x != XFER_READ && (e->flags & GM_REGION_RDONLY)) ||
	    !(w = gm__region_window(e->region)))
		return 0;
	off = gpa - e->gpa;
	b = off >> w->shift;
	if (((off + (len - 1)) >> w->shift) != b)
		return 0;
	/* Before the state: a generation read after the backend cleared the
	 * piece's bits sees them cleared (see od_fill() for its use). */
	genval = atomic_load_explicit(w->gen, memory_order_acquire);
	st = &w->state[b];
	/* Acquire: the mapping was made before the bits were set. */
	v = atomic_load_explicit(st, memory_order_acquire);
	if (!(v & (x == XFER_READ ? GM__WIN_READ : GM__WIN_WRITE)))
		return 0;
	/* Only when clear: threads that share a piece do not bounce its
	 * line. */
	if (!(v & GM__WIN_USED))
		atomic_fetch_or_explicit(st, GM__WIN_USED,
					 memory_order_relaxed);
	*left = xfer_bytes(x, safe, w->base + off, buf, byte, len, foff);
	/* The piece's state byte is its key for od_last: a cheap one, and a
	 * clash with a range_ondemand() key only costs a needless fill. */
	if (rd->od_last != (uintptr_t)st)
		rd->od_last = (uintptr_t)st;
	else if (!*left)
		window_fill(rd, t, e, w, b, v, genval);
	return 1;
}

/*
 * Two out-of-line functions per operation and length @n (a constant, or
 * the run-time len):
 *  - name: range_slow_body(), for everything;
 *  - name_miss: the fast path missed the thread's cache, inside a leaf
 *    section: look the address up in the table (which refills the cache)
 *    and, if it is in persistent regions after all (range_direct()) or
 *    in a mapped piece of a window (range_window()), copy right here, in a
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
		const struct gm__table *t = space_table(s);                   \
		const struct gm__entry *e = gm__space_lookup(t, rd, gpa);     \
		int safe = s->flags & GM_SPACE_FAULT_SAFE;                    \
		uint64_t foff;                                                \
		size_t left;                                                  \
									      \
		if (!range_direct(t, e, x, safe, gpa, buf, byte, n, &left,    \
				  &foff) &&                                   \
		    !range_window(rd, t, e, x, safe, gpa, buf, byte, n,       \
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

/* Checks of range_args() in one test for the usual case: 0 when none
 * applies and len is not 0. */
#define RANGE_ARGS_FAST(s, gpa, buf, len)                                     \
	(gm_unlikely(!(s) || !(buf) || (len) - 1 >= GM_MAX_LEN ||             \
		     (gpa) + ((len) - 1) < (gpa)))

int gm_read(struct gm_space *s, uint64_t gpa, void *buf, size_t len)
{
	/* A fast test first; range_args() then gives the exact answer
	 * (0 for a length of 0). */
	if (RANGE_ARGS_FAST(s, gpa, buf, len))
		return range_args(s, "read", gpa, buf, len);
	return range_access(s, XFER_READ, gpa, buf, 0, len);
}

int gm_write(struct gm_space *s, uint64_t gpa, const void *buf, size_t len)
{
	if (RANGE_ARGS_FAST(s, gpa, buf, len))
		return range_args(s, "write", gpa, buf, len);
	return range_access(s, XFER_WRITE, gpa, (uint8_t *)buf, 0, len);
}

int gm_fill(struct gm_space *s, uint64_t gpa, int byte, size_t len)
{
	/* The fill has no buffer: pass s, which is what is tested. */
	if (RANGE_ARGS_FAST(s, gpa, s, len))
		return range_args(s, "fill", gpa, &byte, len);
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
	int err = range_args(s, xfer_op[x], gpa, buf, len);

	if (err || !len)
		return err;
	rd = space_reader(s);
	if (!rd)
		return gm__error_access(s, xfer_op[x], gpa, len, gpa, -ENOMEM,
					NULL);
	gm__rcu_enter(s->dom, rd);
	t = space_table(s);
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
			return range_args(s, op, gpa, ptr, sizeof(T));        \
	} while (0)
#define TYPED_ARGS_W(T)                                                       \
	do {                                                                  \
		if (gm_unlikely(!s || gpa + (sizeof(T) - 1) < gpa))           \
			return range_args(s, "write", gpa, s, sizeof(T));     \
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

/* ---- atomics ---- */

/* A value mapped for one atomic operation. */
struct atomic_ref {
	int safe;		  /* the space is fault-safe */
	struct gm__rcu_reader *rd;
	struct gm_region *region; /* set when a mapping must be released */
	struct gm_map m;
	void *p;
};

/*
 * The fast path of an atomic operation: returns 1 with a leaf section of
 * *rd open (seq in *seq) and the value's host address in *p when the
 * arguments are valid and the thread's cache has the value in a persistent
 * region, at an aligned host address.
 * Otherwise returns 0, with *rd the reader whose leaf section is open, or
 * NULL when none is: atomic_begin() takes over from there.
 */
static inline __attribute__((always_inline)) int
atomic_fast(struct gm_space *s, uint64_t gpa, unsigned int size, int write,
	    int order_ok, struct gm__rcu_reader **rdp, uint64_t *seq,
	    uint8_t **p)
{
	struct gm__rcu_reader *rd;

	*rdp = NULL;
	if (gm_unlikely(!s || !order_ok || (gpa & (size - 1))))
		return 0;
	rd = gm__rcu_last;
	if (gm_unlikely(!rd || rd->dom_id != s->dom_id)) {
		rd = gm__rcu_last2;
		if (!rd || rd->dom_id != s->dom_id)
			return 0;
	}
	if (gm_unlikely(gm__rcu_try_enter_leaf(rd, seq)))
		return 0;
	*rdp = rd;
	return gm_likely(gm__space_cached(s, rd, gpa, size, write, p) &&
			 !((uintptr_t)*p & (size - 1)));
}

/* Check the arguments of an atomic operation and enter a section. */
static int atomic_enter(struct gm_space *s, uint64_t gpa, unsigned int size,
			int order_ok, struct atomic_ref *a)
{
	if (!s)
		return gm__error_access(s, "atomic", gpa, size, gpa, -EINVAL,
					"space is NULL");
	if (!order_ok)
		return gm__error_access(s, "atomic", gpa, size, gpa, -EINVAL,
					"invalid memory order or NULL pointer");
	if (gpa & (size - 1))
		return gm__error_access(s, "atomic", gpa, size, gpa, -EINVAL,
					"misaligned atomic");
	a->rd = space_reader(s);
	if (!a->rd)
		return gm__error_access(s, "atomic", gpa, size, gpa, -ENOMEM,
					NULL);
	gm__rcu_enter(s->dom, a->rd);
	return 0;
}

/*
 * Everything but atomic_fast()'s case: inside the leaf section of @rd that
 * atomic_fast() left open (it becomes an ordinary section), or from the
 * start when @rd is NULL.
 */
static int atomic_begin(struct gm_space *s, uint64_t gpa, unsigned int size,
			int write, int order_ok, struct gm__rcu_reader *rd,
			struct atomic_ref *a)
{
	const struct gm__table *t;
	const struct gm__entry *e;
	uint64_t at = gpa;
	int err;

	if (rd) {
		/* atomic_fast() checked the arguments. */
		gm__rcu_leaf_to_nested(rd);
		a->rd = rd;
	} else {
		err = atomic_enter(s, gpa, size, order_ok, a);
		if (err)
			return err;
	}
	a->region = NULL;
	a->safe = s->flags & GM_SPACE_FAULT_SAFE;
	t = space_table(s);
	e = gm__space_lookup(t, a->rd, gpa);
	if (gm_unlikely(!e)) {
		err = -EFAULT;
		goto fail;
	}
	if (gm_unlikely(gpa + (size - 1) > e->last)) {
		/* Cannot happen with page-aligned regions; see guestmem.h. */
		err = gm__error_access(s, "atomic", gpa, size, e->last + 1,
				       -EINVAL, "atomic crosses a region end");
		goto out;
	}
	if (gm_unlikely(write && (e->flags & GM_REGION_RDONLY))) {
		err = -EACCES;
		goto fail;
	}
	if (gm_likely(e->hva != NULL)) {
		a->p = e->hva + (gpa - e->gpa);
	} else {
		err = gm__region_map(e->region, gpa - e->gpa, size,
				     write ? GM_PROT_READ | GM_PROT_WRITE
					   : GM_PROT_READ,
				     GM_MAP_WHOLE, &a->m);
		if (err) {
			err = gm__error_map(s, "atomic", gpa, size,
					    e->gpa + a->m.fault, err,
					    e->region->ops->name);
			goto out;
		}
		a->region = e->region;
		a->p = a->m.hva;
	}
	if (gm_unlikely((uintptr_t)a->p & (size - 1))) {
		/* The host mapping is not aligned like the guest address
		 * (a backend with sub-page offsets): refuse, never tear. */
		err = gm__error_access(s, "atomic", gpa, size, gpa, -EINVAL,
				       "host mapping is misaligned");
		if (a->region)
			gm__region_unmap(a->region, &a->m);
		goto out;
	}
	return 0;
fail:
	err = gm__error_access(s, "atomic", gpa, size, at, err, NULL);
out:
	gm__rcu_exit(a->rd);
	return err;
}

static inline void atomic_end(struct atomic_ref *a)
{
	if (a->region)
		gm__region_unmap(a->region, &a->m);
	gm__rcu_exit(a->rd);
}

/*
 * Each operation has a plain path (compiler builtins) and, in fault-safe
 * spaces, a guarded path with the same x86-64 instructions the builtins
 * use: a load is a mov (acquire and seq_cst alike), a store a mov, or an
 * xchg for seq_cst; read-modify-writes are locked and hence seq_cst.
 * fetch_or/and have no locked instruction that returns the old value, so
 * they loop on cmpxchg, as the builtins do.
 */
#ifdef GM_HAVE_FAULT_SAFE
#define SAFE(a) gm_unlikely((a)->safe)
#else
#define SAFE(a) 0
#define gm__safe_load_8(p, v) (-EFAULT)
#define gm__safe_load_16(p, v) (-EFAULT)
#define gm__safe_load_32(p, v) (-EFAULT)
#define gm__safe_load_64(p, v) (-EFAULT)
#define gm__safe_store_8(p, v) (-EFAULT)
#define gm__safe_store_16(p, v) (-EFAULT)
#define gm__safe_store_32(p, v) (-EFAULT)
#define gm__safe_store_64(p, v) (-EFAULT)
#define gm__safe_xchg_8(p, v) (-EFAULT)
#define gm__safe_xchg_16(p, v) (-EFAULT)
#define gm__safe_xchg_32(p, v) (-EFAULT)
#define gm__safe_xchg_64(p, v) (-EFAULT)
#define gm__safe_xadd_8(p, v) (-EFAULT)
#define gm__safe_xadd_16(p, v) (-EFAULT)
#define gm__safe_xadd_32(p, v) (-EFAULT)
#define gm__safe_xadd_64(p, v) (-EFAULT)
#define gm__safe_cmpxchg_8(p, e, d) (-EFAULT)
#define gm__safe_cmpxchg_16(p, e, d) (-EFAULT)
#define gm__safe_cmpxchg_32(p, e, d) (-EFAULT)
#define gm__safe_cmpxchg_64(p, e, d) (-EFAULT)
#endif

/* A guarded operation faulted: release and report the guest address. */
static int atomic_fault(struct gm_space *s, uint64_t gpa, unsigned int size,
			struct atomic_ref *a)
{
	atomic_end(a);
	return gm__error_access(s, "atomic", gpa, size, gpa, -EFAULT,
				fault_why);
}

/*
 * Guarded read-modify-writes for the fast path of fault-safe spaces: 0, or
 * nonzero if the instruction faulted.  fetch_or/and loop on cmpxchg, as
 * the builtins do.
 */
#define DEFINE_SAFE_RMW(bits, T)                                              \
	static inline __attribute__((always_inline)) int                      \
	atomic_safe_rmw_xchg_##bits(void *p, T val, T *old)                   \
	{                                                                     \
		if (gm__safe_xchg_##bits(p, &val))                            \
			return 1;                                             \
		if (old)                                                      \
			*old = val;                                           \
		return 0;                                                     \
	}                                                                     \
	static inline __attribute__((always_inline)) int                      \
	atomic_safe_rmw_xadd_##bits(void *p, T val, T *old)                   \
	{                                                                     \
		if (gm__safe_xadd_##bits(p, &val))                            \
			return 1;                                             \
		if (old)                                                      \
			*old = val;                                           \
		return 0;                                                     \
	}                                                                     \
	DEFINE_SAFE_LOOP(or, |, bits, T)                                      \
	DEFINE_SAFE_LOOP(and, &, bits, T)
#define DEFINE_SAFE_LOOP(name, op, bits, T)                                   \
	static inline __attribute__((always_inline)) int                      \
	atomic_safe_##name##_##bits(void *p, T val, T *old)                   \
	{                                                                     \
		T prev;                                                       \
		int ret;                                                      \
									      \
		if (gm__safe_load_##bits(p, &prev))                           \
			return 1;                                             \
		/* cmpxchg refreshes prev on failure; retry. */               \
		while ((ret = gm__safe_cmpxchg_##bits(p, &prev,               \
						      (T)(prev op val))) == 0) \
			;                                                     \
		if (ret < 0)                                                  \
			return 1;                                             \
		if (old)                                                      \
			*old = prev;                                          \
		return 0;                                                     \
	}
DEFINE_SAFE_RMW(8, uint8_t)
DEFINE_SAFE_RMW(16, uint16_t)
DEFINE_SAFE_RMW(32, uint32_t)
DEFINE_SAFE_RMW(64, uint64_t)

/* The guarded instruction of atomic_fast()'s case faulted. */
static __attribute__((noinline)) int atomic_fault_fast(struct gm_space *s,
						       uint64_t gpa,
						       unsigned int size)
{
	return gm__error_access(s, "atomic", gpa, size, gpa, -EFAULT,
				fault_why);
}

/*
 * Every operation is a public function with atomic_fast()'s case inline
 * (FAST_OP: the builtin on a plain, aligned host pointer; SAFE_OP, in a
 * fault-safe space: the same through a guarded instruction, nonzero if it
 * faulted) and a static out-of-line one for everything else
 * (atomic_begin()).
 */
#define ATOMIC_FAST(T, write, order_ok, slow_call, FAST_OP, SAFE_OP, RET)    \
	{                                                                     \
		struct gm__rcu_reader *rd;                                    \
		uint64_t seq;                                                 \
		uint8_t *p;                                                   \
									      \
		if (gm_likely(atomic_fast(s, gpa, sizeof(T), write, order_ok, \
					  &rd, &seq, &p))) {                  \
			if (gm_unlikely(s->flags & GM_SPACE_FAULT_SAFE)) {    \
				if (SAFE_OP) {                                \
					gm__rcu_exit_leaf(rd, seq);           \
					return atomic_fault_fast(s, gpa,      \
								 sizeof(T));  \
				}                                             \
			} else {                                              \
				FAST_OP;                                      \
			}                                                     \
			gm__rcu_exit_leaf(rd, seq);                           \
			return RET;                                           \
		}                                                             \
		return slow_call;                                             \
	}

#define DEFINE_ATOMIC(sfx, T, bits)                                           \
	static __attribute__((noinline)) int atomic_load_slow_##sfx(          \
		struct gm_space *s, uint64_t gpa, T *val, int order,          \
		struct gm__rcu_reader *rd)                                    \
	{                                                                     \
		struct atomic_ref a;                                          \
		int ret = atomic_begin(s, gpa, sizeof(T), 0,                  \
				       val && GM__ORDER_OK_LOAD(order), rd,   \
				       &a);                                   \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (gm__safe_load_##bits(a.p, val))                   \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			*val = __atomic_load_n((T *)a.p, order);              \
		}                                                             \
		atomic_end(&a);                                               \
		return 0;                                                     \
	}                                                                     \
	int gm_atomic_load_##sfx(struct gm_space *s, uint64_t gpa, T *val,    \
				 int order)                                   \
	ATOMIC_FAST(T, 0, val && GM__ORDER_OK_LOAD(order),                    \
		    atomic_load_slow_##sfx(s, gpa, val, order, rd),           \
		    *val = __atomic_load_n((T *)p, order),                    \
		    gm__safe_load_##bits(p, val), 0)                          \
	static __attribute__((noinline)) int atomic_store_slow_##sfx(         \
		struct gm_space *s, uint64_t gpa, T val, int order,           \
		struct gm__rcu_reader *rd)                                    \
	{                                                                     \
		struct atomic_ref a;                                          \
		int ret = atomic_begin(s, gpa, sizeof(T), 1,                  \
				       GM__ORDER_OK_STORE(order), rd, &a);    \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (order == GM_SEQ_CST                               \
				    ? gm__safe_xchg_##bits(a.p, &val)         \
				    : gm__safe_store_##bits(a.p, val))        \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			__atomic_store_n((T *)a.p, val, order);               \
		}                                                             \
		atomic_end(&a);                                               \
		return 0;                                                     \
	}                                                                     \
	int gm_atomic_store_##sfx(struct gm_space *s, uint64_t gpa, T val,    \
				  int order)                                  \
	ATOMIC_FAST(T, 1, GM__ORDER_OK_STORE(order),                          \
		    atomic_store_slow_##sfx(s, gpa, val, order, rd),          \
		    __atomic_store_n((T *)p, val, order),                     \
		    (order == GM_SEQ_CST ? gm__safe_xchg_##bits(p, &val)      \
					 : gm__safe_store_##bits(p, val)),    \
		    0)                                                        \
	DEFINE_RMW(xchg, sfx, T, bits, xchg, __atomic_exchange_n)            \
	static __attribute__((noinline)) int atomic_cmpxchg_slow_##sfx(       \
		struct gm_space *s, uint64_t gpa, T *expected, T desired,     \
		int order, struct gm__rcu_reader *rd)                         \
	{                                                                     \
		struct atomic_ref a;                                          \
		int ret = atomic_begin(s, gpa, sizeof(T), 1,                  \
				       expected && GM__ORDER_OK_RMW(order),   \
				       rd, &a);                               \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			ret = gm__safe_cmpxchg_##bits(a.p, expected,          \
						      desired);               \
			if (ret < 0)                                          \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			ret = __atomic_compare_exchange_n(                    \
				(T *)a.p, expected, desired, 0, order,        \
				GM__ORDER_FAIL(order));                       \
		}                                                             \
		atomic_end(&a);                                               \
		return ret ? 1 : 0;                                           \
	}                                                                     \
	int gm_atomic_cmpxchg_##sfx(struct gm_space *s, uint64_t gpa,         \
				    T *expected, T desired, int order)        \
	{                                                                     \
		int ok = 0;                                                   \
									      \
		ATOMIC_FAST(T, 1, expected && GM__ORDER_OK_RMW(order),        \
			    atomic_cmpxchg_slow_##sfx(s, gpa, expected,       \
						      desired, order, rd),    \
			    ok = __atomic_compare_exchange_n(                 \
				    (T *)p, expected, desired, 0, order,      \
				    GM__ORDER_FAIL(order)),                   \
			    (ok = gm__safe_cmpxchg_##bits(p, expected,        \
							  desired)) < 0,      \
			    ok ? 1 : 0)                                       \
	}                                                                     \
	DEFINE_RMW(fetch_add, sfx, T, bits, xadd, __atomic_fetch_add)        \
	DEFINE_FETCH_LOOP(or, |, sfx, T, bits)                                \
	DEFINE_FETCH_LOOP(and, &, sfx, T, bits)

/* Exchange and fetch-add: one locked instruction that returns the old
 * value. */
#define DEFINE_RMW(name, sfx, T, bits, safe_op, builtin)                      \
	static __attribute__((noinline)) int atomic_##name##_slow_##sfx(      \
		struct gm_space *s, uint64_t gpa, T val, T *old, int order,   \
		struct gm__rcu_reader *rd)                                    \
	{                                                                     \
		struct atomic_ref a;                                          \
		T prev = val;                                                 \
		int ret = atomic_begin(s, gpa, sizeof(T), 1,                  \
				       GM__ORDER_OK_RMW(order), rd, &a);      \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (gm__safe_##safe_op##_##bits(a.p, &prev))          \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			prev = builtin((T *)a.p, val, order);                 \
		}                                                             \
		atomic_end(&a);                                               \
		if (old)                                                      \
			*old = prev;                                          \
		return 0;                                                     \
	}                                                                     \
	int gm_atomic_##name##_##sfx(struct gm_space *s, uint64_t gpa, T val, \
				     T *old, int order)                       \
	{                                                                     \
		T prev;                                                       \
									      \
		ATOMIC_FAST(T, 1, GM__ORDER_OK_RMW(order),                    \
			    atomic_##name##_slow_##sfx(s, gpa, val, old,      \
						       order, rd),            \
			    {                                                 \
				    prev = builtin((T *)p, val, order);       \
				    if (old)                                  \
					    *old = prev;                      \
			    },                                                \
			    atomic_safe_rmw_##safe_op##_##bits(p, val, old),  \
			    0)                                                \
	}

#define DEFINE_FETCH_LOOP(name, op, sfx, T, bits)                             \
	static __attribute__((noinline)) int atomic_fetch_##name##_slow_##sfx( \
		struct gm_space *s, uint64_t gpa, T val, T *old, int order,   \
		struct gm__rcu_reader *rd)                                    \
	{                                                                     \
		struct atomic_ref a;                                          \
		T prev;                                                       \
		int ret = atomic_begin(s, gpa, sizeof(T), 1,                  \
				       GM__ORDER_OK_RMW(order), rd, &a);      \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (gm__safe_load_##bits(a.p, &prev))                 \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
			/* cmpxchg refreshes prev on failure; retry. */       \
			while ((ret = gm__safe_cmpxchg_##bits(                \
					a.p, &prev, (T)(prev op val))) == 0)  \
				;                                             \
			if (ret < 0)                                          \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			prev = __atomic_fetch_##name((T *)a.p, val, order);   \
		}                                                             \
		atomic_end(&a);                                               \
		if (old)                                                      \
			*old = prev;                                          \
		return 0;                                                     \
	}                                                                     \
	int gm_atomic_fetch_##name##_##sfx(struct gm_space *s, uint64_t gpa,  \
					   T val, T *old, int order)          \
	{                                                                     \
		T prev;                                                       \
									      \
		ATOMIC_FAST(T, 1, GM__ORDER_OK_RMW(order),                    \
			    atomic_fetch_##name##_slow_##sfx(s, gpa, val,     \
							     old, order, rd), \
			    {                                                 \
				    prev = __atomic_fetch_##name((T *)p, val, \
								 order);      \
				    if (old)                                  \
					    *old = prev;                      \
			    },                                                \
			    atomic_safe_##name##_##bits(p, val, old), 0)      \
	}
GM_INT_TYPES(DEFINE_ATOMIC)

/* ---- views ---- */

static int prot_ok(int prot)
{
	return prot && !(prot & ~(GM_PROT_READ | GM_PROT_WRITE));
}

int gm_view_get(struct gm_space *s, uint64_t gpa, uint64_t len, int prot,
		struct gm_view *v)
{
	struct gm__rcu_reader *rd;
	const struct gm__table *t;
	const struct gm__entry *e, *next;
	struct gm_map m;
	int err;

	if (v)
		memset(v, 0, sizeof(*v));
	if (!v || !prot_ok(prot) || !len)
		return gm__error_access(s, "view", gpa, len, gpa, -EINVAL,
					!v ? "view is NULL"
					: !len ? "length is 0"
					       : "invalid protection");
	err = range_args(s, "view", gpa, v, len);
	if (err)
		return err;
	rd = space_reader(s);
	if (!rd)
		return gm__error_access(s, "view", gpa, len, gpa, -ENOMEM,
					NULL);
	gm__rcu_enter(s->dom, rd);
	t = space_table(s);
	e = gm__space_lookup(t, rd, gpa);
	if (!e) {
		err = gm__error_access(s, "view", gpa, len, gpa, -EFAULT, NULL);
		goto out;
	}
	if (gpa + (len - 1) > e->last) {
		next = gm__space_next(t, e);
		if (next && next->gpa == e->last + 1)
			err = gm__error_access(s, "view", gpa, len,
					       e->last + 1, -EINVAL,
					       "a view cannot cross regions");
		else
			err = gm__error_access(s, "view", gpa, len,
					       e->last + 1, -EFAULT, NULL);
		goto out;
	}
	if ((prot & GM_PROT_WRITE) && (e->flags & GM_REGION_RDONLY)) {
		err = gm__error_access(s, "view", gpa, len, gpa, -EACCES, NULL);
		goto out;
	}
	err = gm__region_map(e->region, gpa - e->gpa, len, prot,
			     GM_MAP_WHOLE | GM_MAP_HOLD, &m);
	if (err) {
		err = gm__error_map(s, "view", gpa, len, e->gpa + m.fault, err,
				    e->region->ops->name);
		goto out;
	}
	gm__region_get(e->region);
	v->gpa = gpa;
	v->len = len;
	v->hva = m.hva;
	v->region = e->region;
	v->cookie = m.cookie;
	v->prot = prot;
out:
	gm__rcu_exit(rd);
	return err;
}

void gm_view_put(struct gm_view *v)
{
	struct gm_map m;

	if (!v || !v->region)
		return;
	m = (struct gm_map){ .hva = v->hva, .len = v->len, .cookie = v->cookie };
	gm__region_unmap(v->region, &m);
	gm__region_put(v->region);
	memset(v, 0, sizeof(*v));
}

/* ---- leases ---- */

struct lease_piece {
	struct gm_region *region; /* one reference each */
	struct gm_map m;
};

struct gm_lease {
	int niov, npiece, cap;
	struct iovec *iov;	    /* merged where host-contiguous */
	struct lease_piece *piece; /* one per mapping to release */
};

void gm_lease_put(struct gm_lease *l)
{
	int i;

	if (!l)
		return;
	for (i = 0; i < l->npiece; i++) {
		gm__region_unmap(l->piece[i].region, &l->piece[i].m);
		gm__region_put(l->piece[i].region);
	}
	free(l->iov);
	free(l->piece);
	free(l);
}

static int lease_push(struct gm_lease *l, struct gm_region *r,
		      const struct gm_map *m)
{
	struct iovec *last = l->niov ? &l->iov[l->niov - 1] : NULL;

	if (l->npiece == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		struct iovec *iov;
		struct lease_piece *pc;

		if (cap <= l->cap) /* int overflow: absurdly many pieces */
			return -ENOMEM;
		iov = realloc(l->iov, (size_t)cap * sizeof(*iov));
		if (!iov)
			return -ENOMEM;
		l->iov = iov;
		pc = realloc(l->piece, (size_t)cap * sizeof(*pc));
		if (!pc)
			return -ENOMEM;
		l->piece = pc;
		l->cap = cap;
		last = l->niov ? &l->iov[l->niov - 1] : NULL;
	}
	l->piece[l->npiece++] = (struct lease_piece){ .region = r, .m = *m };
	if (last && (uint8_t *)last->iov_base + last->iov_len == m->hva)
		last->iov_len += m->len;
	else
		l->iov[l->niov++] =
			(struct iovec){ .iov_base = m->hva, .iov_len = m->len };
	return 0;
}

static int lease_get(struct gm_space *s, const char *op, uint64_t gpa,
		     size_t len, int prot, struct gm_lease **out)
{
	struct gm__rcu_reader *rd;
	const struct gm__table *t;
	const struct gm__entry *e;
	struct gm_lease *l;
	uint64_t done = 0, at;
	int err;

	l = calloc(1, sizeof(*l));
	rd = space_reader(s);
	if (!l || !rd) {
		free(l);
		return gm__error_access(s, op, gpa, len, gpa, -ENOMEM, NULL);
	}
	gm__rcu_enter(s->dom, rd);
	t = space_table(s);
	e = gm__space_lookup(t, rd, gpa);
	err = range_check(t, e, gpa, len, prot & GM_PROT_WRITE, &at);
	if (err) {
		err = gm__error_access(s, op, gpa, len, at, err, NULL);
		goto fail;
	}
	while (done < len) {
		uint64_t cur = gpa + done, n = e->last - cur;

		n = n < len - done - 1 ? n + 1 : len - done;
		while (n) {
			struct gm_map m;

			err = gm__region_map(e->region, cur - e->gpa, n, prot,
					     GM_MAP_HOLD, &m);
			if (err) {
				err = gm__error_map(s, op, gpa, len,
						    e->gpa + m.fault, err,
						    e->region->ops->name);
				goto fail;
			}
			gm__region_get(e->region);
			err = lease_push(l, e->region, &m);
			if (err) {
				gm__region_unmap(e->region, &m);
				gm__region_put(e->region);
				err = gm__error_access(s, op, gpa, len, cur,
						       err, NULL);
				goto fail;
			}
			done += m.len;
			cur += m.len;
			n -= m.len;
		}
		e = gm__space_next(t, e);
	}
	gm__rcu_exit(rd);
	*out = l;
	return 0;
fail:
	gm__rcu_exit(rd);
	gm_lease_put(l);
	return err;
}

int gm_lease_get(struct gm_space *s, uint64_t gpa, size_t len, int prot,
		 struct gm_lease **out)
{
	int err;

	if (out)
		*out = NULL;
	if (!out || !prot_ok(prot) || !len)
		return gm__error_access(s, "lease", gpa, len, gpa, -EINVAL,
					!out ? "out is NULL"
					: !len ? "length is 0"
					       : "invalid protection");
	err = range_args(s, "lease", gpa, out, len);
	if (err)
		return err;
	return lease_get(s, "lease", gpa, len, prot, out);
}

const struct iovec *gm_lease_iov(const struct gm_lease *l, int *iovcnt)
{
	if (iovcnt)
		*iovcnt = l ? l->niov : 0;
	return l ? l->iov : NULL;
}

/* ---- fd I/O ---- */

static ssize_t fd_xfer(struct gm_space *s, uint64_t gpa, size_t len, int fd,
		       int64_t offset, int to_guest)
{
	const char *op = to_guest ? "fd read" : "fd write";
	struct gm_lease *l;
	struct iovec *iov;
	uint64_t done = 0;
	int err, i = 0;

	err = range_args(s, op, gpa, &fd, len);
	if (err)
		return err;
	if (fd < 0 || offset < -1)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					fd < 0 ? "fd is negative"
					       : "offset is below -1");
	if (offset >= 0 && (uint64_t)offset + len > (uint64_t)INT64_MAX)
		return gm__error_access(s, op, gpa, len, gpa, -EOVERFLOW,
					"file offset + length overflows");
	if (!len)
		return 0;
	err = lease_get(s, op, gpa, len,
			to_guest ? GM_PROT_WRITE : GM_PROT_READ, &l);
	if (err)
		return err;
	/* The lease is ours alone, so its iovecs can be advanced in place
	 * over short counts; the pieces that get unmapped are separate. */
	iov = l->iov;
	while (i < l->niov) {
		int cnt = l->niov - i < IOV_MAX ? l->niov - i : IOV_MAX;
		ssize_t n;

		if (offset >= 0)
			n = to_guest ? preadv(fd, iov + i, cnt,
					      offset + (int64_t)done)
				     : pwritev(fd, iov + i, cnt,
					       offset + (int64_t)done);
		else
			n = to_guest ? readv(fd, iov + i, cnt)
				     : writev(fd, iov + i, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0) /* end of file (or a device that takes nothing) */
			break;
		done += (uint64_t)n;
		while (n > 0) {
			if ((size_t)n >= iov[i].iov_len) {
				n -= (ssize_t)iov[i].iov_len;
				i++;
			} else {
				iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
				iov[i].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	gm_lease_put(l);
	if (err && !done)
		return gm__error_access(s, op, gpa, len, gpa, err, NULL);
	return (ssize_t)done;
}

ssize_t gm_read_from_fd(struct gm_space *s, uint64_t gpa, size_t len, int fd,
			int64_t offset)
{
	return fd_xfer(s, gpa, len, fd, offset, 1);
}

ssize_t gm_write_to_fd(struct gm_space *s, uint64_t gpa, size_t len, int fd,
		       int64_t offset)
{
	return fd_xfer(s, gpa, len, fd, offset, 0);
}
