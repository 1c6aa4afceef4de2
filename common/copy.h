/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The copy engine: moves bytes between guest memory and a caller's buffer
 * (or fills guest memory) without ever tearing a naturally aligned field.
 *
 * The promise (guestmem.h, "Single-copy atomicity"): every naturally
 * aligned 2-, 4- or 8-byte field that lies inside the copied range is read
 * from or written to guest memory by one instruction whose access contains
 * the whole field and is itself naturally aligned (or, for the constant-
 * size typed accessors, is the field).  libc's memcpy() gives no such
 * promise: it copies short and odd lengths with overlapping loads and
 * stores, so that the final value of a field can be half of one load and
 * half of another, taken at different times.
 *
 * How: guest memory is walked at increasing alignment.  Single bytes, then
 * 2-, 4- and 8-byte accesses bring the guest address to 8-byte alignment
 * (each taken only if the bytes left allow it), then the body moves
 * aligned 8-, 16- or 32-byte units, and the tail decreases again.  Every
 * guest access is aligned to its own size, so it contains any aligned
 * field of a smaller or equal size that it touches, and no two guest
 * accesses overlap.  The caller's buffer side is unaligned and plain.
 *
 * x86-64 performs aligned accesses of up to 8 bytes as single accesses,
 * and processors with AVX also the aligned 16-byte SSE moves (Intel SDM
 * vol. 3A, 9.1.1); an aligned 32- or 64-byte access never crosses a cache
 * line.  The body uses 64-byte AVX-512 units on Intel processors that have
 * AVX-512F, else 32-byte AVX2 units when the processor has AVX2, else
 * 16-byte SSE2 units (copy.c says why).
 *
 * aarch64 performs aligned loads and stores of up to 8 bytes as single-
 * copy atomic accesses, and an ldp/stp of two 8-byte registers as two of
 * them (Arm ARM B2.2.1).  The plain body moves aligned 8-byte units; the
 * fault-safe body 16-byte ldp/stp units at 16-byte alignment (fault.h).
 * The steps are volatile accesses, which the compiler must not split
 * (and a 16-byte ldp/stp is within one page: one guarded instruction).
 *
 * Fault-safe variants (spaces with GM_SPACE_FAULT_SAFE) use the same walk
 * with every guest access a guarded instruction (fault.h): an instruction
 * in the exception table whose one memory operand is guest memory.  The
 * caller's buffer is only ever touched by unguarded instructions, so a
 * fault on it is never taken for a guest fault (fault.c).
 */
#ifndef GM_COPY_H
#define GM_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h" /* gm_likely() */

/*
 * Move one @T between guest @g and buffer @b (or store the fill pattern
 * @f).  The guest access is volatile: exactly one access of that size,
 * which the compiler may neither split nor merge into a libc call.
 */
#define GM__COPY_MOVE(T, dir, g, b, f)                                        \
	do {                                                                  \
		T v_;                                                         \
		if ((dir) == GM__COPY_READ) {                                 \
			v_ = *(const volatile T *)(g);                        \
			memcpy((b), &v_, sizeof(T));                          \
		} else if ((dir) == GM__COPY_WRITE) {                         \
			memcpy(&v_, (b), sizeof(T));                          \
			*(volatile T *)(g) = v_;                              \
		} else {                                                      \
			*(volatile T *)(g) = (T)(f);                          \
		}                                                             \
	} while (0)

/* One step of the walk: GM__COPY_MOVE(), then advance. */
#define GM__COPY_STEP(T, dir, g, b, f, n)                                     \
	do {                                                                  \
		GM__COPY_MOVE(T, dir, g, b, f);                               \
		if ((dir) != GM__COPY_FILL)                                   \
			(b) += sizeof(T);                                     \
		(g) += sizeof(T);                                             \
		(n) -= sizeof(T);                                             \
	} while (0)

enum gm__copy_dir {
	GM__COPY_READ,	/* guest -> buffer */
	GM__COPY_WRITE, /* buffer -> guest */
	GM__COPY_FILL,	/* pattern -> guest */
};

/*
 * A copy of up to 16 bytes of a run-time length, inline: the walk above
 * with at most six guest accesses.  @fill is the fill byte repeated in
 * every byte (GM__COPY_FILL).
 */
static inline __attribute__((always_inline)) void
gm__copy_small(enum gm__copy_dir dir, uint8_t *g, uint8_t *b, uint64_t fill,
	       size_t n)
{
	/* The usual descriptor or ring entry: 16 or 8 aligned bytes. */
	if (gm_likely(!(((uintptr_t)g | n) & 7))) {
		if (n == 16) {
			GM__COPY_MOVE(uint64_t, dir, g, b, fill);
			GM__COPY_MOVE(uint64_t, dir, g + 8, b + 8, fill);
		} else if (n) {
			GM__COPY_MOVE(uint64_t, dir, g, b, fill);
		}
		return;
	}
	if (((uintptr_t)g & 1) && n >= 1)
		GM__COPY_STEP(uint8_t, dir, g, b, fill, n);
	if (((uintptr_t)g & 2) && n >= 2)
		GM__COPY_STEP(uint16_t, dir, g, b, fill, n);
	if (((uintptr_t)g & 4) && n >= 4)
		GM__COPY_STEP(uint32_t, dir, g, b, fill, n);
	while (n >= 8)
		GM__COPY_STEP(uint64_t, dir, g, b, fill, n);
	/* Aligned here: a step only ever skipped an alignment bit when fewer
	 * bytes than that bit's size were left. */
	if (n & 4)
		GM__COPY_STEP(uint32_t, dir, g, b, fill, n);
	if (n & 2)
		GM__COPY_STEP(uint16_t, dir, g, b, fill, n);
	if (n & 1)
		GM__COPY_STEP(uint8_t, dir, g, b, fill, n);
}

/*
 * The body of longer copies (copy.c): the widest unit the processor runs
 * well, or, for tests, the one gm__copy_body_force() chose: GM__COPY_BODY_*
 * (x86-64 only), or -1 for the library's own choice again.  Returns the
 * widest body the processor has (-1 elsewhere); a @body wider than that
 * means -1.  A copy that runs meanwhile uses either body: each keeps the
 * promise above.
 */
#define GM__COPY_BODY_SSE2 0
#define GM__COPY_BODY_AVX2 1
#define GM__COPY_BODY_AVX512 2
int gm__copy_body_force(int body);

/* Longer copies, out of line (copy.c).  Never fail. */
void gm__copy_read(void *buf, const void *guest, size_t n);
void gm__copy_write(void *guest, const void *buf, size_t n);
void gm__copy_fill(void *guest, int byte, size_t n);

/*
 * Fault-safe copies of any length (copy.c, x86-64 and aarch64): return the number
 * of bytes NOT done, 0 when all were.  On a fault, gm__fault_addr holds the
 * guest host address that faulted; every byte before the faulting access
 * was done, none after it.
 */
size_t gm__safe_read(void *buf, const void *guest, size_t n);
size_t gm__safe_write(void *guest, const void *buf, size_t n);
size_t gm__safe_fill(void *guest, int byte, size_t n);

#endif /* GM_COPY_H */
