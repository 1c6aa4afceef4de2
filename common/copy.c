/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The copy engine's out-of-line walks (see copy.h for the promise and the
 * walk): plain and fault-safe, each with a 16-byte SSE2 body and, on
 * processors that have them, a 32-byte AVX2 and a 64-byte AVX-512 body
 * (body_best() picks one).  On aarch64 the plain body moves 8-byte units
 * and the fault-safe one 16-byte ldp/stp units.
 */
#include "internal.h"

#include <errno.h>
#include <stdatomic.h>

#include "copy.h"
#include "fault.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define GM_COPY_VECTOR 1
#endif

/* Steps of 1 to 8 bytes: plain, as in copy.h. */
#define PLAIN_1(dir, g, b, f, n) GM__COPY_STEP(uint8_t, dir, g, b, f, n)
#define PLAIN_2(dir, g, b, f, n) GM__COPY_STEP(uint16_t, dir, g, b, f, n)
#define PLAIN_4(dir, g, b, f, n) GM__COPY_STEP(uint32_t, dir, g, b, f, n)
#define PLAIN_8(dir, g, b, f, n) GM__COPY_STEP(uint64_t, dir, g, b, f, n)

/*
 * The walk of copy.h over @n bytes at guest @g, with a body of @vw-byte
 * units (16, 32 or 64) moved by step macros @S (PLAIN or SAFE) of each size;
 * @H16 and @H32 are the 16- and 32-byte steps that align the body and end
 * it, or NOSTEP where the body unit is not larger than they are.
 * Returns the bytes not done: 0, or, for fault-safe steps, what was left
 * when a guest access faulted.
 */
#define NOSTEP(dir, g, b, f, n) ((void)0)
#define WALK(S, vw, H16, H32, dir, g, b, f, n)                                \
	do {                                                                  \
		if (((uintptr_t)(g) & 1) && (n) >= 1)                         \
			S##_1(dir, g, b, f, n);                               \
		if (((uintptr_t)(g) & 2) && (n) >= 2)                         \
			S##_2(dir, g, b, f, n);                               \
		if (((uintptr_t)(g) & 4) && (n) >= 4)                         \
			S##_4(dir, g, b, f, n);                               \
		if (((uintptr_t)(g) & 8) && (n) >= 8)                         \
			S##_8(dir, g, b, f, n);                               \
		if ((vw) >= 32 && ((uintptr_t)(g) & 16) && (n) >= 16)         \
			H16(dir, g, b, f, n);                                 \
		if ((vw) >= 64 && ((uintptr_t)(g) & 32) && (n) >= 32)         \
			H32(dir, g, b, f, n);                                 \
		/* Four units an iteration: loads of the next units issue   \
		 * while earlier stores drain. */                             \
		while ((n) >= 4 * (vw)) {                                     \
			S##_##vw(dir, g, b, f, n);                            \
			S##_##vw(dir, g, b, f, n);                            \
			S##_##vw(dir, g, b, f, n);                            \
			S##_##vw(dir, g, b, f, n);                            \
		}                                                             \
		while ((n) >= (vw))                                           \
			S##_##vw(dir, g, b, f, n);                            \
		if ((vw) >= 64 && (n) >= 32)                                  \
			H32(dir, g, b, f, n);                                 \
		if ((vw) >= 32 && (n) >= 16)                                  \
			H16(dir, g, b, f, n);                                 \
		if ((n) >= 8)                                                 \
			S##_8(dir, g, b, f, n);                               \
		if ((n) >= 4)                                                 \
			S##_4(dir, g, b, f, n);                               \
		if ((n) >= 2)                                                 \
			S##_2(dir, g, b, f, n);                               \
		if ((n) >= 1)                                                 \
			S##_1(dir, g, b, f, n);                               \
	} while (0)

#ifdef GM_COPY_VECTOR

/* Bodies: 0 SSE2, 1 AVX2, 2 AVX-512F (copy.h). */
enum { BODY_SSE2 = GM__COPY_BODY_SSE2, BODY_AVX2 = GM__COPY_BODY_AVX2,
       BODY_AVX512 = GM__COPY_BODY_AVX512 };

/* The body gm__copy_body_force() set, or -1. */
static atomic_int body_forced = -1;

/* The widest body the processor runs. */
static int body_top(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") ? BODY_AVX512
	       : __builtin_cpu_supports("avx2")  ? BODY_AVX2
						 : BODY_SSE2;
}

/*
 * The body the processor runs fastest.  64-byte units only on Intel: there
 * they keep up with memcpy() on 4 KiB copies where 32-byte units reach
 * 0.8x, while on AMD's Zen 4 (bench-access, AMD EPYC family 25 model 17,
 * three alternating runs) 64-byte units moved 1 MiB copies within the L2
 * at 0.77-0.86x memcpy() and 32-byte ones at 0.99-1.01x, with 4 KiB copies
 * as fast or faster.  Zen 4 splits each 512-bit access in two.
 */
static int body_best(void)
{
	static atomic_int state; /* 0 unknown, else level + 1 */
	int st = atomic_load_explicit(&state, memory_order_relaxed);

	if (gm_unlikely(!st)) {
		/* Racing first callers compute the same answer. */
		st = 1 + body_top();
		if (st == 1 + BODY_AVX512 && !__builtin_cpu_is("intel"))
			st = 1 + BODY_AVX2; /* AVX-512F implies AVX2 */
		atomic_store_explicit(&state, st, memory_order_relaxed);
	}
	return st - 1;
}

/* The body of this copy: body_best(), or the one a test forced. */
static int body_level(void)
{
	int forced = atomic_load_explicit(&body_forced, memory_order_relaxed);

	return gm_likely(forced < 0) ? body_best() : forced;
}

int gm__copy_body_force(int body)
{
	int top = body_top();

	atomic_store_explicit(&body_forced, body > top ? -1 : body,
			      memory_order_relaxed);
	return top;
}

/*
 * Vector units.  The guest side is aligned to the unit and accessed through
 * a volatile pointer: one aligned vector move, which the compiler can
 * neither split nor turn into a memcpy() call.
 */
#define VSTEP(V, setf, dir, g, b, f, n)                                       \
	do {                                                                  \
		V v_;                                                         \
		if ((dir) == GM__COPY_READ) {                                 \
			v_ = *(const volatile V *)(g);                        \
			memcpy((b), &v_, sizeof(V));                          \
			(b) += sizeof(V);                                     \
		} else if ((dir) == GM__COPY_WRITE) {                         \
			memcpy(&v_, (b), sizeof(V));                          \
			*(volatile V *)(g) = v_;                              \
			(b) += sizeof(V);                                     \
		} else {                                                      \
			*(volatile V *)(g) = setf((long long)(f));            \
		}                                                             \
		(g) += sizeof(V);                                             \
		(n) -= sizeof(V);                                             \
	} while (0)
#define PLAIN_16(dir, g, b, f, n) VSTEP(__m128i, _mm_set1_epi64x, dir, g, b, f, n)
#define PLAIN_32(dir, g, b, f, n)                                             \
	VSTEP(__m256i, _mm256_set1_epi64x, dir, g, b, f, n)
#define PLAIN_64(dir, g, b, f, n)                                             \
	VSTEP(__m512i, _mm512_set1_epi64, dir, g, b, f, n)

#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx512f")))
/*
 * The out-of-line bodies: each starts a cache line, so that where its loop
 * falls against the processor's fetch and decode windows does not depend
 * on what the linker put before it (measured: 4 KiB copies 9% slower with
 * the fault-safe body merely moved 48 bytes).
 */
#define BODY __attribute__((noinline, aligned(64)))

static inline __attribute__((always_inline)) void
walk_plain16(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t f,
	     size_t n)
{
	WALK(PLAIN, 16, NOSTEP, NOSTEP, dir, g, b, f, n);
}

static inline AVX2 __attribute__((always_inline)) void
walk_plain32(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t f,
	     size_t n)
{
	WALK(PLAIN, 32, PLAIN_16, NOSTEP, dir, g, b, f, n);
}

/* A 64-byte unit is one whole cache line: the fastest body on processors
 * that have it (measured: as fast as libc's memcpy() on 4 KiB copies from
 * memory, where 32-byte units reach 0.8x). */
static inline AVX512 __attribute__((always_inline)) void
walk_plain64(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t f,
	     size_t n)
{
	WALK(PLAIN, 64, PLAIN_16, PLAIN_32, dir, g, b, f, n);
}

/* One out-of-line function per direction and body width. */
#define DEFINE_PLAIN(dir, name)                                               \
	static BODY void name##_sse(                                          \
		uint8_t *g, uint8_t *b, uint64_t f, size_t n)                 \
	{                                                                     \
		walk_plain16(dir, g, b, f, n);                                \
	}                                                                     \
	static AVX2 BODY void name##_avx2(                                    \
		uint8_t *g, uint8_t *b, uint64_t f, size_t n)                 \
	{                                                                     \
		walk_plain32(dir, g, b, f, n);                                \
	}                                                                     \
	static AVX512 BODY void name##_avx512(                                \
		uint8_t *g, uint8_t *b, uint64_t f, size_t n)                 \
	{                                                                     \
		walk_plain64(dir, g, b, f, n);                                \
	}                                                                     \
	static inline void name(uint8_t *g, uint8_t *b, uint64_t f, size_t n) \
	{                                                                     \
		/* Below a few units the body width hardly matters. */        \
		int lvl = n >= 128 ? body_level() : BODY_SSE2;                \
									      \
		if (lvl == BODY_AVX512)                                       \
			name##_avx512(g, b, f, n);                            \
		else if (lvl == BODY_AVX2)                                    \
			name##_avx2(g, b, f, n);                              \
		else                                                          \
			name##_sse(g, b, f, n);                               \
	}
DEFINE_PLAIN(GM__COPY_READ, plain_read)
DEFINE_PLAIN(GM__COPY_WRITE, plain_write)
DEFINE_PLAIN(GM__COPY_FILL, plain_fill)

#else /* !GM_COPY_VECTOR */

/* Elsewhere: the 8-byte walk, in the body too (no 16-byte units). */
#define PLAIN_16(dir, g, b, f, n)                                             \
	do {                                                                  \
		PLAIN_8(dir, g, b, f, n);                                     \
		PLAIN_8(dir, g, b, f, n);                                     \
	} while (0)
static void plain_walk(enum gm__copy_dir dir, uint8_t *g, uint8_t *b,
		       uint64_t f, size_t n)
{
	WALK(PLAIN, 16, NOSTEP, NOSTEP, dir, g, b, f, n);
}
#define plain_read(g, b, f, n) plain_walk(GM__COPY_READ, g, b, f, n)
#define plain_write(g, b, f, n) plain_walk(GM__COPY_WRITE, g, b, f, n)
#define plain_fill(g, b, f, n) plain_walk(GM__COPY_FILL, g, b, f, n)

int gm__copy_body_force(int body)
{
	(void)body;
	return -1;
}

#endif /* GM_COPY_VECTOR */

/* The fill byte in every byte of a 64-bit word. */
static inline uint64_t fill_word(int byte)
{
	return (uint64_t)(uint8_t)byte * UINT64_C(0x0101010101010101);
}

void gm__copy_read(void *buf, const void *guest, size_t n)
{
	plain_read((uint8_t *)guest, buf, 0, n);
}

void gm__copy_write(void *guest, const void *buf, size_t n)
{
	plain_write(guest, (uint8_t *)buf, 0, n);
}

void gm__copy_fill(void *guest, int byte, size_t n)
{
	plain_fill(guest, NULL, fill_word(byte), n);
}

#ifdef GM_HAVE_FAULT_SAFE

/*
 * Fault-safe steps: the guest access is a guarded instruction (fault.h)
 * whose only memory operand is guest memory; the buffer is copied to or
 * from a register by ordinary code.  On a fault the walk returns the bytes
 * left, this step's included.
 */
#define SAFE_SCALAR(bits, T, dir, g, b, f, n)                                 \
	do {                                                                  \
		T v_;                                                         \
		if ((dir) == GM__COPY_READ) {                                 \
			if (gm__safe_load_##bits((g), &v_))                   \
				return (n);                                   \
			memcpy((b), &v_, sizeof(T));                          \
			(b) += sizeof(T);                                     \
		} else {                                                      \
			if ((dir) == GM__COPY_WRITE)                          \
				memcpy(&v_, (b), sizeof(T));                  \
			else                                                  \
				v_ = (T)(f);                                  \
			if (gm__safe_store_##bits((g), v_))                   \
				return (n);                                   \
			if ((dir) == GM__COPY_WRITE)                          \
				(b) += sizeof(T);                             \
		}                                                             \
		(g) += sizeof(T);                                             \
		(n) -= sizeof(T);                                             \
	} while (0)
#define SAFE_1(dir, g, b, f, n) SAFE_SCALAR(8, uint8_t, dir, g, b, f, n)
#define SAFE_2(dir, g, b, f, n) SAFE_SCALAR(16, uint16_t, dir, g, b, f, n)
#define SAFE_4(dir, g, b, f, n) SAFE_SCALAR(32, uint32_t, dir, g, b, f, n)
#define SAFE_8(dir, g, b, f, n) SAFE_SCALAR(64, uint64_t, dir, g, b, f, n)

#ifdef GM_COPY_VECTOR

/* Guarded aligned vector loads and stores: 0 or -EFAULT. */
#define SAFE_VMOV(name, attr, V, insn)                                        \
	static inline attr __attribute__((always_inline)) int                 \
	safe_load_##name(const void *p, V *out)                               \
	{                                                                     \
		V v;                                                          \
		asm goto("1: " insn " %1, %0\n\t" GM__EXTABLE(fault)          \
			 : "=x"(v)                                            \
			 : "m"(*(const volatile V *)p)                        \
			 :                                                    \
			 : fault);                                            \
		*out = v;                                                     \
		return 0;                                                     \
	fault:                                                                \
		return -EFAULT;                                               \
	}                                                                     \
	static inline attr __attribute__((always_inline)) int                 \
	safe_store_##name(void *p, V v)                                       \
	{                                                                     \
		asm goto("1: " insn " %1, %0\n\t" GM__EXTABLE(fault)          \
			 :                                                    \
			 : "m"(*(volatile V *)p), "x"(v)                      \
			 : "memory"                                           \
			 : fault);                                            \
		return 0;                                                     \
	fault:                                                                \
		return -EFAULT;                                               \
	}
SAFE_VMOV(128, , __m128i, "movdqa")
/* VEX-encoded in the AVX2 walks: no SSE/AVX transition there. */
SAFE_VMOV(128v, AVX2, __m128i, "vmovdqa")
SAFE_VMOV(256, AVX2, __m256i, "vmovdqa")
SAFE_VMOV(128e, AVX512, __m128i, "vmovdqa")
SAFE_VMOV(256e, AVX512, __m256i, "vmovdqa")
SAFE_VMOV(512, AVX512, __m512i, "vmovdqa64")

#define SAFE_VSTEP(name, V, setf, dir, g, b, f, n)                            \
	do {                                                                  \
		V v_;                                                         \
		if ((dir) == GM__COPY_READ) {                                 \
			if (safe_load_##name((g), &v_))                       \
				return (n);                                   \
			memcpy((b), &v_, sizeof(V));                          \
			(b) += sizeof(V);                                     \
		} else {                                                      \
			if ((dir) == GM__COPY_WRITE)                          \
				memcpy(&v_, (b), sizeof(V));                  \
			else                                                  \
				v_ = setf((long long)(f));                    \
			if (safe_store_##name((g), v_))                       \
				return (n);                                   \
			if ((dir) == GM__COPY_WRITE)                          \
				(b) += sizeof(V);                             \
		}                                                             \
		(g) += sizeof(V);                                             \
		(n) -= sizeof(V);                                             \
	} while (0)

static inline __attribute__((always_inline)) size_t
walk_safe16(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t f,
	    size_t n)
{
#define SAFE_16(dir, g, b, f, n)                                              \
	SAFE_VSTEP(128, __m128i, _mm_set1_epi64x, dir, g, b, f, n)
	WALK(SAFE, 16, NOSTEP, NOSTEP, dir, g, b, f, n);
#undef SAFE_16
	return 0;
}

static inline AVX2 __attribute__((always_inline)) size_t
walk_safe32(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t f,
	    size_t n)
{
#define SAFE_16(dir, g, b, f, n)                                              \
	SAFE_VSTEP(128v, __m128i, _mm_set1_epi64x, dir, g, b, f, n)
#define SAFE_32(dir, g, b, f, n)                                              \
	SAFE_VSTEP(256, __m256i, _mm256_set1_epi64x, dir, g, b, f, n)
	WALK(SAFE, 32, SAFE_16, NOSTEP, dir, g, b, f, n);
#undef SAFE_16
#undef SAFE_32
	return 0;
}

static inline AVX512 __attribute__((always_inline)) size_t
walk_safe64(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t f,
	    size_t n)
{
#define SAFE_16(dir, g, b, f, n)                                              \
	SAFE_VSTEP(128e, __m128i, _mm_set1_epi64x, dir, g, b, f, n)
#define SAFE_32(dir, g, b, f, n)                                              \
	SAFE_VSTEP(256e, __m256i, _mm256_set1_epi64x, dir, g, b, f, n)
#define SAFE_64(dir, g, b, f, n)                                              \
	SAFE_VSTEP(512, __m512i, _mm512_set1_epi64, dir, g, b, f, n)
	WALK(SAFE, 64, SAFE_16, SAFE_32, dir, g, b, f, n);
#undef SAFE_16
#undef SAFE_32
#undef SAFE_64
	return 0;
}

#define DEFINE_SAFE(dir, name)                                                \
	static BODY size_t name##_sse(                                        \
		uint8_t *g, uint8_t *b, uint64_t f, size_t n)                 \
	{                                                                     \
		return walk_safe16(dir, g, b, f, n);                          \
	}                                                                     \
	static AVX2 BODY size_t name##_avx2(                                  \
		uint8_t *g, uint8_t *b, uint64_t f, size_t n)                 \
	{                                                                     \
		return walk_safe32(dir, g, b, f, n);                          \
	}                                                                     \
	static AVX512 BODY size_t name##_avx512(                              \
		uint8_t *g, uint8_t *b, uint64_t f, size_t n)                 \
	{                                                                     \
		return walk_safe64(dir, g, b, f, n);                          \
	}                                                                     \
	static inline size_t name(uint8_t *g, uint8_t *b, uint64_t f,         \
				  size_t n)                                   \
	{                                                                     \
		int lvl = n >= 128 ? body_level() : BODY_SSE2;                \
									      \
		if (lvl == BODY_AVX512)                                       \
			return name##_avx512(g, b, f, n);                     \
		if (lvl == BODY_AVX2)                                         \
			return name##_avx2(g, b, f, n);                       \
		return name##_sse(g, b, f, n);                                \
	}
DEFINE_SAFE(GM__COPY_READ, safe_read)
DEFINE_SAFE(GM__COPY_WRITE, safe_write)
DEFINE_SAFE(GM__COPY_FILL, safe_fill)

#else /* aarch64 */

/*
 * 16-byte units of ldp/stp (fault.h): one guarded instruction for two
 * registers, whose 8-byte halves are single-copy atomic at the 16-byte
 * aligned addresses the walk gives them.
 */
#define SAFE_16(dir, g, b, f, n)                                              \
	do {                                                                  \
		uint64_t lo_, hi_;                                            \
		if ((dir) == GM__COPY_READ) {                                 \
			if (gm__safe_load_pair((g), &lo_, &hi_))              \
				return (n);                                   \
			memcpy((b), &lo_, 8);                                 \
			memcpy((b) + 8, &hi_, 8);                             \
			(b) += 16;                                            \
		} else {                                                      \
			if ((dir) == GM__COPY_WRITE) {                        \
				memcpy(&lo_, (b), 8);                         \
				memcpy(&hi_, (b) + 8, 8);                     \
			} else {                                              \
				lo_ = hi_ = (f);                              \
			}                                                     \
			if (gm__safe_store_pair((g), lo_, hi_))               \
				return (n);                                   \
			if ((dir) == GM__COPY_WRITE)                          \
				(b) += 16;                                    \
		}                                                             \
		(g) += 16;                                                    \
		(n) -= 16;                                                    \
	} while (0)

static size_t safe_walk(enum gm__copy_dir dir, uint8_t *g, uint8_t *b,
			uint64_t f, size_t n)
{
	WALK(SAFE, 16, NOSTEP, NOSTEP, dir, g, b, f, n);
	return 0;
}
#define safe_read(g, b, f, n) safe_walk(GM__COPY_READ, g, b, f, n)
#define safe_write(g, b, f, n) safe_walk(GM__COPY_WRITE, g, b, f, n)
#define safe_fill(g, b, f, n) safe_walk(GM__COPY_FILL, g, b, f, n)

#endif /* GM_COPY_VECTOR */

size_t gm__safe_read(void *buf, const void *guest, size_t n)
{
	return safe_read((uint8_t *)guest, buf, 0, n);
}

size_t gm__safe_write(void *guest, const void *buf, size_t n)
{
	return safe_write(guest, (uint8_t *)buf, 0, n);
}

size_t gm__safe_fill(void *guest, int byte, size_t n)
{
	return safe_fill(guest, NULL, fill_word(byte), n);
}

#endif /* GM_HAVE_FAULT_SAFE */
