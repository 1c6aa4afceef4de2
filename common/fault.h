/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault-safe access to guest memory (spaces created with
 * GM_SPACE_FAULT_SAFE).
 *
 * Guest memory can vanish under a mapping: a file-backed region's file is
 * truncated, a Xen frame is ballooned out or a grant revoked.  Touching it
 * raises SIGBUS or SIGSEGV.  Like a kernel's user-copy routines, every
 * instruction here that touches guest memory is listed in an exception
 * table (section gm_extable) together with a fixup address.  The process-
 * wide handler (fault.c) looks the faulting instruction up; if it is ours
 * it records the faulting address in a thread-local and resumes at the
 * fixup, which reports the fault to the caller.  Faults anywhere else go to
 * the handler that was installed before.  No syscall, no sigsetjmp and no
 * lock per access: the cost is that of the copy instruction itself.
 *
 * The rule that makes "ours" mean "a fault on guest memory": a guarded
 * instruction has exactly one memory operand, and it is guest memory.
 * Copies move guest memory through registers (copy.c), so the caller's
 * buffer is only ever touched by unguarded instructions, and a fault on it
 * (the caller's bug) is never taken for the guest's.
 *
 * x86-64 and aarch64; elsewhere GM_SPACE_FAULT_SAFE is refused with
 * -EOPNOTSUPP.
 */
#ifndef GM_FAULT_H
#define GM_FAULT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define GM_HAVE_FAULT_SAFE 1
#endif

/* Host address of the last fault this thread recovered from. */
extern __thread uintptr_t gm__fault_addr
	__attribute__((tls_model("initial-exec")));

/* Install the SIGBUS/SIGSEGV handlers once per process: 0 or -errno. */
int gm__fault_init(void);

#ifdef GM_HAVE_FAULT_SAFE
/* One exception-table entry: the instruction at 1 may fault, resume at
 * label @fixup.  Entries are relative to themselves, so the table needs no
 * relocation (no text relocations in the shared library). */
#define GM__EXTABLE(fixup) GM__EXTABLE_AT("1b", fixup)
/* The same for the instruction at local label @insn ("2b"): the LL/SC
 * loops of aarch64 guard two instructions. */
#define GM__EXTABLE_AT(insn, fixup)                                           \
	".pushsection gm_extable,\"a\"\n\t.balign 4\n\t.long " insn " - ., %l[" \
	#fixup "] - .\n\t.popsection\n\t"

#if defined(__x86_64__)

/*
 * Safe single loads and stores of 1, 2, 4 and 8 bytes: return 0 or
 * -EFAULT.  On x86-64 a plain load is an acquire load and a plain store a
 * release store, so these also serve the atomic loads and stores of those
 * orders; seq_cst stores use xchg (gm__safe_xchg_*).
 */
#define GM__SAFE_MOV(bits, T, sfx)                                            \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_load_##bits(const void *p, T *out)                           \
	{                                                                     \
		T v;                                                          \
		asm goto("1: mov" sfx " %1, %0\n\t" GM__EXTABLE(fault)        \
			 : "=r"(v)                                            \
			 : "m"(*(const volatile T *)p)                        \
			 :                                                    \
			 : fault);                                            \
		*out = v;                                                     \
		return 0;                                                     \
	fault:                                                                \
		return -14; /* -EFAULT */                                     \
	}                                                                     \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_store_##bits(void *p, T v)                                   \
	{                                                                     \
		asm goto("1: mov" sfx " %1, %0\n\t" GM__EXTABLE(fault)        \
			 :                                                    \
			 : "m"(*(volatile T *)p), "r"(v)                      \
			 : "memory"                                           \
			 : fault);                                            \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}                                                                     \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_xchg_##bits(void *p, T *v)                                   \
	{                                                                     \
		T r = *v;                                                     \
		asm goto("1: xchg" sfx " %1, %0\n\t" GM__EXTABLE(fault)       \
			 : "+r"(r)                                            \
			 : "m"(*(volatile T *)p)                              \
			 : "memory"                                           \
			 : fault);                                            \
		*v = r;                                                       \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}                                                                     \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_xadd_##bits(void *p, T *v)                                   \
	{                                                                     \
		T r = *v;                                                     \
		asm goto("1: lock xadd" sfx " %0, %1\n\t" GM__EXTABLE(fault)  \
			 : "+r"(r)                                            \
			 : "m"(*(volatile T *)p)                              \
			 : "memory", "cc"                                     \
			 : fault);                                            \
		*v = r;                                                       \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}                                                                     \
	/* 1 if exchanged, 0 if not (*expected updated), -EFAULT */           \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_cmpxchg_##bits(void *p, T *expected, T desired)              \
	{                                                                     \
		T old = *expected;                                            \
		int ok;                                                       \
		asm goto("1: lock cmpxchg" sfx " %2, %1\n\t"                  \
			 GM__EXTABLE(fault)                                   \
			 : "+a"(old)                                          \
			 : "m"(*(volatile T *)p), "r"(desired)                \
			 : "memory", "cc"                                     \
			 : fault);                                            \
		ok = old == *expected;                                        \
		*expected = old;                                              \
		return ok;                                                    \
	fault:                                                                \
		return -14;                                                   \
	}
GM__SAFE_MOV(8, uint8_t, "b")
GM__SAFE_MOV(16, uint16_t, "w")
GM__SAFE_MOV(32, uint32_t, "l")
GM__SAFE_MOV(64, uint64_t, "q")

/* Plain loads are acquire loads and plain stores release stores. */
#define gm__safe_load_acq_8 gm__safe_load_8
#define gm__safe_load_acq_16 gm__safe_load_16
#define gm__safe_load_acq_32 gm__safe_load_32
#define gm__safe_load_acq_64 gm__safe_load_64
#define gm__safe_store_rel_8 gm__safe_store_8
#define gm__safe_store_rel_16 gm__safe_store_16
#define gm__safe_store_rel_32 gm__safe_store_32
#define gm__safe_store_rel_64 gm__safe_store_64

#elif defined(__aarch64__)

/* atomic.c: fetch_or/and are single guarded operations here. */
#define GM__HAVE_SAFE_FETCH_LOGIC 1

/*
 * aarch64: the same functions, plus acquire loads (ldar) and release
 * stores (stlr), since a plain ldr/str orders nothing.  With those, the
 * mapping is the one compilers use for C11 atomics: a seq_cst load is
 * ldar, a seq_cst store stlr (here the stronger xchg, as on x86-64), and
 * every read-modify-write is acquire and release at once.
 *
 * Read-modify-writes are single LSE instructions (swpal, casal, ldaddal,
 * ldsetal, ldclral) when the compiler may use them (-march=armv8.1-a or
 * later: __ARM_FEATURE_ATOMICS), else load-exclusive/store-exclusive
 * loops (ldaxr/stlxr).  In a loop both exclusives are guarded: either may fault
 * (the page can vanish between them).  The fixup leaves the loop for
 * good, so the exclusive monitor's state after a fault does not matter:
 * no store-exclusive ever runs without a load-exclusive of its own before
 * it.  Every memory operand is "Q", a bare base register, the one form
 * the exclusives and ldar/stlr accept.
 *
 * @sfx is the size suffix (b, h, none), @r the register width (w, x),
 * @ext the extension that compares a byte or halfword (",uxtb").
 */
/* A guarded load @insn as gm__safe_@name; the clobbers follow @r. */
#define GM__SAFE_LD(name, insn, bits, T, sfx, r, ...)                         \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_##name##_##bits(const void *p, T *out)                       \
	{                                                                     \
		T v;                                                          \
		asm goto("1: " #insn sfx " %" r "0, %1\n\t" GM__EXTABLE(fault)\
			 : "=r"(v)                                            \
			 : "Q"(*(const volatile T *)p)                        \
			 : __VA_ARGS__                                        \
			 : fault);                                            \
		*out = v;                                                     \
		return 0;                                                     \
	fault:                                                                \
		return -14; /* -EFAULT */                                     \
	}
/* A guarded store @insn as gm__safe_@name. */
#define GM__SAFE_ST(name, insn, bits, T, sfx, r)                              \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_##name##_##bits(void *p, T v)                                \
	{                                                                     \
		asm goto("1: " #insn sfx " %" r "1, %0\n\t" GM__EXTABLE(fault)\
			 :                                                    \
			 : "Q"(*(volatile T *)p), "r"(v)                      \
			 : "memory"                                           \
			 : fault);                                            \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}
/* Plain loads may move across other memory accesses; acquire loads,
 * like every store, are compiler barriers too. */
#define GM__SAFE_LDST(bits, T, sfx, r)                                        \
	GM__SAFE_LD(load, ldr, bits, T, sfx, r, )                              \
	GM__SAFE_LD(load_acq, ldar, bits, T, sfx, r, "memory")                 \
	GM__SAFE_ST(store, str, bits, T, sfx, r)                               \
	GM__SAFE_ST(store_rel, stlr, bits, T, sfx, r)

#if defined(__ARM_FEATURE_ATOMICS)
/* @name: one LSE instruction @insn with operand @arg that returns the
 * old value in *v (swpal, ldaddal, ldsetal, ldclral). */
#define GM__SAFE_LSE_OP(name, insn, bits, T, sfx, r, arg)                     \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_##name##_##bits(void *p, T *v)                               \
	{                                                                     \
		T old;                                                        \
		asm goto("1: " #insn sfx " %" r "[val], %" r "[old], %[m]\n\t"\
			 GM__EXTABLE(fault)                                   \
			 : [old] "=&r"(old)                                   \
			 : [m] "Q"(*(volatile T *)p), [val] "r"(arg)          \
			 : "memory"                                           \
			 : fault);                                            \
		*v = old;                                                     \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}
#define GM__SAFE_RMW(bits, T, sfx, r, ext)                                    \
	GM__SAFE_LSE_OP(xchg, swpal, bits, T, sfx, r, *v)                      \
	GM__SAFE_LSE_OP(xadd, ldaddal, bits, T, sfx, r, *v)                    \
	GM__SAFE_LSE_OP(fetch_or, ldsetal, bits, T, sfx, r, *v)                \
	/* ldclral clears the bits set in its operand: and with ~v. */       \
	GM__SAFE_LSE_OP(fetch_and, ldclral, bits, T, sfx, r, (T)~*v)           \
	/* 1 if exchanged, 0 if not (*expected updated), -EFAULT */           \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_cmpxchg_##bits(void *p, T *expected, T desired)              \
	{                                                                     \
		T old = *expected;                                            \
		int ok;                                                       \
		/* casal compares the low @bits of the register only. */     \
		asm goto("1: casal" sfx " %" r "[old], %" r "[des], %[m]\n\t" \
			 GM__EXTABLE(fault)                                   \
			 : [old] "+r"(old)                                    \
			 : [m] "Q"(*(volatile T *)p), [des] "r"(desired)      \
			 : "memory"                                           \
			 : fault);                                            \
		ok = old == *expected;                                        \
		*expected = old;                                              \
		return ok;                                                    \
	fault:                                                                \
		return -14;                                                   \
	}
#else /* LL/SC */
/* @name: @insn of the old value and *v, stored in an exclusive loop. */
#define GM__SAFE_LLSC_OP(name, insn, bits, T, sfx, r)                         \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_##name##_##bits(void *p, T *v)                               \
	{                                                                     \
		T old, res;                                                   \
		unsigned int busy;                                            \
		asm goto("1: ldaxr" sfx " %" r "[old], %[m]\n\t"             \
			 #insn " %" r "[res], %" r "[old], %" r "[val]\n\t"    \
			 "2: stlxr" sfx " %w[busy], %" r "[res], %[m]\n\t"    \
			 "cbnz %w[busy], 1b\n\t"                              \
			 GM__EXTABLE_AT("1b", fault)                          \
			 GM__EXTABLE_AT("2b", fault)                          \
			 : [old] "=&r"(old), [res] "=&r"(res),                \
			   [busy] "=&r"(busy)                                 \
			 : [m] "Q"(*(volatile T *)p), [val] "r"(*v)           \
			 : "memory"                                           \
			 : fault);                                            \
		*v = old;                                                     \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}
#define GM__SAFE_RMW(bits, T, sfx, r, ext)                                    \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_xchg_##bits(void *p, T *v)                                   \
	{                                                                     \
		T old;                                                        \
		unsigned int busy;                                            \
		asm goto("1: ldaxr" sfx " %" r "[old], %[m]\n\t"             \
			 "2: stlxr" sfx " %w[busy], %" r "[val], %[m]\n\t"    \
			 "cbnz %w[busy], 1b\n\t"                              \
			 GM__EXTABLE_AT("1b", fault)                          \
			 GM__EXTABLE_AT("2b", fault)                          \
			 : [old] "=&r"(old), [busy] "=&r"(busy)               \
			 : [m] "Q"(*(volatile T *)p), [val] "r"(*v)           \
			 : "memory"                                           \
			 : fault);                                            \
		*v = old;                                                     \
		return 0;                                                     \
	fault:                                                                \
		return -14;                                                   \
	}                                                                     \
	GM__SAFE_LLSC_OP(xadd, add, bits, T, sfx, r)                           \
	GM__SAFE_LLSC_OP(fetch_or, orr, bits, T, sfx, r)                       \
	GM__SAFE_LLSC_OP(fetch_and, and, bits, T, sfx, r)                      \
	/* 1 if exchanged, 0 if not (*expected updated), -EFAULT.  A        \
	 * mismatch leaves with the monitor armed, as compilers' loops do:  \
	 * the next store-exclusive anywhere has its own load-exclusive. */ \
	static inline __attribute__((always_inline)) int                      \
	gm__safe_cmpxchg_##bits(void *p, T *expected, T desired)              \
	{                                                                     \
		T old;                                                        \
		unsigned int busy;                                            \
		int ok;                                                       \
		asm goto("1: ldaxr" sfx " %" r "[old], %[m]\n\t"             \
			 "cmp %" r "[old], %" r "[exp]" ext "\n\t"            \
			 "b.ne 3f\n\t"                                        \
			 "2: stlxr" sfx " %w[busy], %" r "[des], %[m]\n\t"    \
			 "cbnz %w[busy], 1b\n"                                 \
			 "3:\n\t"                                             \
			 GM__EXTABLE_AT("1b", fault)                          \
			 GM__EXTABLE_AT("2b", fault)                          \
			 : [old] "=&r"(old), [busy] "=&r"(busy)               \
			 : [m] "Q"(*(volatile T *)p), [exp] "r"(*expected),   \
			   [des] "r"(desired)                                 \
			 : "memory", "cc"                                     \
			 : fault);                                            \
		ok = old == *expected;                                        \
		*expected = old;                                              \
		return ok;                                                    \
	fault:                                                                \
		return -14;                                                   \
	}
#endif /* __ARM_FEATURE_ATOMICS */

GM__SAFE_LDST(8, uint8_t, "b", "w")
GM__SAFE_LDST(16, uint16_t, "h", "w")
GM__SAFE_LDST(32, uint32_t, "", "w")
GM__SAFE_LDST(64, uint64_t, "", "x")
GM__SAFE_RMW(8, uint8_t, "b", "w", ", uxtb")
GM__SAFE_RMW(16, uint16_t, "h", "w", ", uxth")
GM__SAFE_RMW(32, uint32_t, "", "w", "")
GM__SAFE_RMW(64, uint64_t, "", "x", "")

/*
 * A guarded 16-byte step of the copy engine: ldp/stp of two registers,
 * one instruction with one memory operand.  At a 16-byte aligned address
 * each register's 8 bytes are one single-copy atomic access (Arm ARM
 * B2.2.1), which is all the no-tearing promise needs.
 */
static inline __attribute__((always_inline)) int
gm__safe_load_pair(const void *p, uint64_t *lo, uint64_t *hi)
{
	uint64_t a, b;

	asm goto("1: ldp %x0, %x1, %2\n\t" GM__EXTABLE(fault)
		 : "=&r"(a), "=r"(b)
		 : "Q"(*(const volatile unsigned __int128 *)p)
		 :
		 : fault);
	*lo = a;
	*hi = b;
	return 0;
fault:
	return -14;
}

static inline __attribute__((always_inline)) int
gm__safe_store_pair(void *p, uint64_t lo, uint64_t hi)
{
	asm goto("1: stp %x1, %x2, %0\n\t" GM__EXTABLE(fault)
		 :
		 : "Q"(*(volatile unsigned __int128 *)p), "r"(lo), "r"(hi)
		 : "memory"
		 : fault);
	return 0;
fault:
	return -14;
}

#endif /* __x86_64__, __aarch64__ */
#endif /* GM_HAVE_FAULT_SAFE */

#endif /* GM_FAULT_H */
