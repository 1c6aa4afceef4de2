/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Atomic accessors by guest-physical address: loads, stores, exchange,
 * compare-exchange and fetch-and-op on naturally aligned 1/2/4/8-byte
 * values, with an explicit memory order, in plain and fault-safe spaces.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "range.h"
#include "fault.h"
#include "region.h"
#include "space.h"

/* ---- atomics ---- */

/* A value mapped for one atomic operation. */
struct atomic_ref {
	int safe;		/* the space is fault-safe */
	struct gm__walk w;	/* the one piece that holds it */
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
	    int order_ok, struct gm__space_reader **rdp, uint64_t *seq,
	    uint8_t **p)
{
	struct gm__space_reader *rd;

	*rdp = NULL;
	if (gm_unlikely(!s || !order_ok || (gpa & (size - 1))))
		return 0;
	rd = gm__space_reader_fast(s);
	if (gm_unlikely(!rd))
		return 0;
	if (gm_unlikely(gm__rcu_try_enter_leaf(&rd->rcu, seq)))
		return 0;
	*rdp = rd;
	return gm_likely(gm__space_cached(s, rd, gpa, size, write, p) &&
			 !((uintptr_t)*p & (size - 1)));
}

/*
 * Everything but atomic_fast()'s case: inside the leaf section of @rd that
 * atomic_fast() left open (the walk takes it over), or from the start when
 * @rd is NULL.  The value is one piece of a walk (range.h): direct, or one
 * map call that must map it whole.
 */
static int atomic_begin(struct gm_space *s, uint64_t gpa, unsigned int size,
			int write, int order_ok, struct gm__space_reader *rd,
			struct atomic_ref *a)
{
	int err;

	if (!rd) {
		/* atomic_fast() checked these when it opened a section. */
		if (!s)
			return gm__error_access(s, "atomic", gpa, size, gpa,
						-EINVAL, "space is NULL");
		if (!order_ok)
			return gm__error_access(s, "atomic", gpa, size, gpa,
						-EINVAL, "invalid memory order "
						"or NULL pointer");
		if (gpa & (size - 1))
			return gm__error_access(s, "atomic", gpa, size, gpa,
						-EINVAL, "misaligned atomic");
	}
	a->safe = s->flags & GM_SPACE_FAULT_SAFE;
	err = gm__walk_begin(&a->w, s, rd, "atomic", gpa, size,
			     write ? GM_PROT_READ | GM_PROT_WRITE : GM_PROT_READ,
			     GM_MAP_WHOLE, 0);
	if (err)
		return err;
	err = gm__walk_next(&a->w);
	if (gm_unlikely(err < 0)) {
		gm__walk_end(&a->w);
		return gm__walk_error(&a->w, "atomic");
	}
	if (gm_unlikely(a->w.n != size)) {
		/* Cannot happen with page-aligned regions; see guestmem.h. */
		gm__walk_end(&a->w);
		return gm__error_access(s, "atomic", gpa, size, gpa + a->w.n,
					-EINVAL, "atomic crosses a region end");
	}
	a->p = a->w.hva;
	if (gm_unlikely((uintptr_t)a->p & (size - 1))) {
		/* The host mapping is not aligned like the guest address
		 * (a backend with sub-page offsets): refuse, never tear. */
		gm__walk_end(&a->w);
		return gm__error_access(s, "atomic", gpa, size, gpa, -EINVAL,
					"host mapping is misaligned");
	}
	return 0;
}

static inline void atomic_end(struct atomic_ref *a)
{
	gm__walk_end(&a->w);
}

/*
 * Each operation has a plain path (compiler builtins) and, in fault-safe
 * spaces, a guarded path (fault.h) with the instructions the builtins
 * use.  x86-64: a load is a mov (acquire and seq_cst alike), a store a
 * mov, or an xchg for seq_cst; read-modify-writes are locked and hence
 * seq_cst.  aarch64: a load is ldar (acquire, and seq_cst with stlr), a
 * store stlr, or the exchange for seq_cst; read-modify-writes are
 * acquire-release (LSE instructions or ldaxr/stlxr loops).  Every guarded
 * path is at least as strong as any order asked for.  fetch_or/and loop
 * on cmpxchg on x86-64, as its builtins do (it has no locked instruction
 * that returns the old value); aarch64 has ldsetal/ldclral.
 */
#ifdef GM_HAVE_FAULT_SAFE
#define SAFE(a) gm_unlikely((a)->safe)
#else
#define SAFE(a) 0
#define gm__safe_load_8(p, v) (-EFAULT)
#define gm__safe_load_acq_8(p, v) (-EFAULT)
#define gm__safe_load_16(p, v) (-EFAULT)
#define gm__safe_load_acq_16(p, v) (-EFAULT)
#define gm__safe_load_32(p, v) (-EFAULT)
#define gm__safe_load_acq_32(p, v) (-EFAULT)
#define gm__safe_load_64(p, v) (-EFAULT)
#define gm__safe_load_acq_64(p, v) (-EFAULT)
#define gm__safe_store_8(p, v) (-EFAULT)
#define gm__safe_store_rel_8(p, v) (-EFAULT)
#define gm__safe_store_16(p, v) (-EFAULT)
#define gm__safe_store_rel_16(p, v) (-EFAULT)
#define gm__safe_store_32(p, v) (-EFAULT)
#define gm__safe_store_rel_32(p, v) (-EFAULT)
#define gm__safe_store_64(p, v) (-EFAULT)
#define gm__safe_store_rel_64(p, v) (-EFAULT)
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
				gm__fault_why);
}

/*
 * Guarded read-modify-writes of fault-safe spaces: 0, or nonzero if the
 * instruction faulted.  fetch_or/and loop on cmpxchg on x86-64, as the
 * builtins do; aarch64 has instructions for them.
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
#ifdef GM__HAVE_SAFE_FETCH_LOGIC
/* aarch64: one guarded read-modify-write (fault.h). */
#define DEFINE_SAFE_LOOP(name, op, bits, T)                                   \
	static inline __attribute__((always_inline)) int                      \
	atomic_safe_##name##_##bits(void *p, T val, T *old)                   \
	{                                                                     \
		if (gm__safe_fetch_##name##_##bits(p, &val))                  \
			return 1;                                             \
		if (old)                                                      \
			*old = val;                                           \
		return 0;                                                     \
	}
#else
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
#endif
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
				gm__fault_why);
}

/*
 * Every operation is a public function with atomic_fast()'s case inline
 * (FAST_OP: the builtin on a plain, aligned host pointer; SAFE_OP, in a
 * fault-safe space: the same through a guarded instruction, nonzero if it
 * faulted) and a static out-of-line one for everything else
 * (atomic_begin()).
 */
#define ATOMIC_FAST(T, write, order_ok, slow_call, FAST_OP, SAFE_OP, RET)     \
	{                                                                     \
		struct gm__space_reader *rd;                                  \
		uint64_t seq;                                                 \
		uint8_t *p;                                                   \
                                                                              \
		if (gm_likely(atomic_fast(s, gpa, sizeof(T), write, order_ok, \
					  &rd, &seq, &p))) {                  \
			if (gm_unlikely(s->flags & GM_SPACE_FAULT_SAFE)) {    \
				if (SAFE_OP) {                                \
					gm__rcu_exit_leaf(&rd->rcu, seq);     \
					return atomic_fault_fast(s, gpa,      \
								 sizeof(T));  \
				}                                             \
			} else {                                              \
				FAST_OP;                                      \
			}                                                     \
			gm__rcu_exit_leaf(&rd->rcu, seq);                     \
			return RET;                                           \
		}                                                             \
		return slow_call;                                             \
	}

#define DEFINE_ATOMIC(sfx, T, bits)                                           \
	static __attribute__((noinline)) int atomic_load_slow_##sfx(          \
		struct gm_space *s, uint64_t gpa, T *val, int order,          \
		struct gm__space_reader *rd)                                  \
	{                                                                     \
		struct atomic_ref a;                                          \
		int ret = atomic_begin(s, gpa, sizeof(T), 0,                  \
				       val && GM__ORDER_OK_LOAD(order), rd,   \
				       &a);                                   \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (gm__safe_load_acq_##bits(a.p, val))               \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			*val = __atomic_load_n((T *)a.p, order);              \
		}                                                             \
		atomic_end(&a);                                               \
		return 0;                                                     \
	}                                                                     \
	GM__ENTRY int gm__atomic_load_##sfx(struct gm_space *s, uint64_t gpa, T *val, \
				 int order)                                   \
	ATOMIC_FAST(T, 0, val && GM__ORDER_OK_LOAD(order),                    \
		    atomic_load_slow_##sfx(s, gpa, val, order, rd),           \
		    *val = __atomic_load_n((T *)p, order),                    \
		    gm__safe_load_acq_##bits(p, val), 0)                      \
	static __attribute__((noinline)) int atomic_store_slow_##sfx(         \
		struct gm_space *s, uint64_t gpa, T val, int order,           \
		struct gm__space_reader *rd)                                  \
	{                                                                     \
		struct atomic_ref a;                                          \
		int ret = atomic_begin(s, gpa, sizeof(T), 1,                  \
				       GM__ORDER_OK_STORE(order), rd, &a);    \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (order == GM_SEQ_CST                               \
				    ? gm__safe_xchg_##bits(a.p, &val)         \
				    : gm__safe_store_rel_##bits(a.p, val))    \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			__atomic_store_n((T *)a.p, val, order);               \
		}                                                             \
		atomic_end(&a);                                               \
		return 0;                                                     \
	}                                                                     \
	GM__ENTRY int gm__atomic_store_##sfx(struct gm_space *s, uint64_t gpa, T val, \
				  int order)                                  \
	ATOMIC_FAST(T, 1, GM__ORDER_OK_STORE(order),                          \
		    atomic_store_slow_##sfx(s, gpa, val, order, rd),          \
		    __atomic_store_n((T *)p, val, order),                     \
		    (order == GM_SEQ_CST ? gm__safe_xchg_##bits(p, &val)      \
					 : gm__safe_store_rel_##bits(p, val)), \
		    0)                                                        \
	DEFINE_RMW(xchg, sfx, T, bits, xchg, __atomic_exchange_n)             \
	static __attribute__((noinline)) int atomic_cmpxchg_slow_##sfx(       \
		struct gm_space *s, uint64_t gpa, T *expected, T desired,     \
		int order, struct gm__space_reader *rd)                       \
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
	GM__ENTRY int gm_atomic_cmpxchg_##sfx(struct gm_space *s, uint64_t gpa, \
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
	DEFINE_RMW(fetch_add, sfx, T, bits, xadd, __atomic_fetch_add)         \
	DEFINE_FETCH_LOOP(or, |, sfx, T, bits)                                \
	DEFINE_FETCH_LOOP(and, &, sfx, T, bits)

/* Exchange and fetch-add: one locked instruction that returns the old
 * value. */
#define DEFINE_RMW(name, sfx, T, bits, safe_op, builtin)                      \
	static __attribute__((noinline)) int atomic_##name##_slow_##sfx(      \
		struct gm_space *s, uint64_t gpa, T val, T *old, int order,   \
		struct gm__space_reader *rd)                                  \
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
	GM__ENTRY int gm_atomic_##name##_##sfx(struct gm_space *s,            \
					       uint64_t gpa, T val, T *old,   \
					       int order)                     \
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
		struct gm__space_reader *rd)                                  \
	{                                                                     \
		struct atomic_ref a;                                          \
		T prev;                                                       \
		int ret = atomic_begin(s, gpa, sizeof(T), 1,                  \
				       GM__ORDER_OK_RMW(order), rd, &a);      \
		if (ret)                                                      \
			return ret;                                           \
		if (SAFE(&a)) {                                               \
			if (atomic_safe_##name##_##bits(a.p, val, &prev))     \
				return atomic_fault(s, gpa, sizeof(T), &a);   \
		} else {                                                      \
			prev = __atomic_fetch_##name((T *)a.p, val, order);   \
		}                                                             \
		atomic_end(&a);                                               \
		if (old)                                                      \
			*old = prev;                                          \
		return 0;                                                     \
	}                                                                     \
	GM__ENTRY int gm_atomic_fetch_##name##_##sfx(                         \
		struct gm_space *s, uint64_t gpa, T val, T *old, int order)   \
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
