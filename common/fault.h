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
 * x86-64 only; elsewhere GM_SPACE_FAULT_SAFE is refused with -EOPNOTSUPP.
 */
#ifndef GM_FAULT_H
#define GM_FAULT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
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
#define GM__EXTABLE(fixup)                                                    \
	".pushsection gm_extable,\"a\"\n\t.balign 4\n\t.long 1b - ., %l["      \
	#fixup "] - .\n\t.popsection\n\t"

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
#endif /* GM_HAVE_FAULT_SAFE */

#endif /* GM_FAULT_H */
