/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libguestmem: read and write a virtual machine's memory through one API,
 * whatever backs that memory.
 *
 * Concepts
 * --------
 * Guest address space (struct gm_space): a named, 64-bit guest-physical
 *   address space made of non-overlapping regions.  Addresses that no region
 *   covers are holes.  Every access names a guest-physical address (gpa).
 *
 * Region (struct gm_region, see guestmem/backend.h): a contiguous range of
 *   guest-physical addresses backed by one backend: plain memory or a file
 *   (guestmem/unix.h), a Xen domain's frames or grant refs (guestmem/xen.h).
 *   A backend constructor returns a region owned by the caller;
 *   gm_space_add_region() moves that ownership to the space.
 *
 * Accessors: gm_read(), gm_write(), the typed gm_read_u32() family, fill,
 *   atomics and fd I/O work on the space by guest address.  They look the
 *   address up, map what they need, copy, and release it again; accesses
 *   that cross from one region into the next work; a hole fails with
 *   -EFAULT.  Nothing they return points into guest memory.  The typed
 *   accessors, their atomic loads and stores, and gm_read() / gm_write()
 *   of a small constant length are inline: an access to the region the
 *   calling thread used last compiles into the caller (see the end of
 *   this header); the library exports each under its name as well.
 *
 * Views (struct gm_view) and leases (struct gm_lease): the only ways to hold
 *   host pointers into guest memory.  A view maps one contiguous range of a
 *   single region and gives inline accessors with no lookup, no lock and no
 *   indirect call (the fast path for a virtqueue ring, say).  A lease maps
 *   any range, across regions, as an iovec array for the caller's own
 *   readv/writev or io_uring.  Pointers stay valid exactly until
 *   gm_view_put() / gm_lease_put(); a region with live views or leases is
 *   unlinked by gm_space_remove_region() but stays mapped until the last one
 *   is released.
 *
 * What an access costs: through a space, a few tens of instructions in the
 *   caller (the thread's record, a read-side section, the range); through a
 *   view, one compare and the access.  Where each access misses the cache
 *   and none depends on the last, a CPU with a small out-of-order window
 *   (AMD Zen 4) runs space accesses at 2-3x the time of raw pointer reads
 *   and view accesses at 1.0-1.3x; cache-hot, 3.5-5x and 1.1-1.8x
 *   (bench/README.md).  Walk hot rings and buffers through views.
 *
 * Guest memory is hostile: it can change at any time, under any access.
 * Copy what you need once (gm_read_obj()), then validate the copy; never
 * read the same guest field twice and expect the same value.
 *
 * Errors
 * ------
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure, with one meaning per code:
 *   -EINVAL     bad argument: NULL pointer, bad flags or memory order,
 *               misaligned atomic, atomic or view that crosses a region;
 *   -EOVERFLOW  gpa + len wraps past 2^64;
 *   -EFAULT     the range touches a hole, or (fault-safe spaces) a page that
 *               faulted under its mapping;
 *   -EACCES     write to a read-only region or through a read-only view;
 *   -ENOMEM     out of memory;
 *   -ENOBUFS    a backend's mapping budget is full of mappings that views
 *               and leases hold (Xen: release some, or raise cache_bytes);
 *   -EEXIST     a region overlaps one already in the space;
 *   -ENOENT     no region starts at the address given to remove;
 *   -EOPNOTSUPP the backend or the build lacks the feature;
 *   a page the backend cannot map fails with the backend's own errno (Xen:
 *   the per-page error Xen gave, e.g. -EINVAL for a frame the guest does
 *   not have, -ESRCH for a domain that does not exist; see guestmem/xen.h);
 *   other codes come from the system or from Xen and are documented at
 *   the function that can return them.
 * The return value is the only error report: errno is unspecified after
 * every call, failed or not (the system calls, Xen's libraries and
 * malloc() that a call uses may change it).  The library never prints and
 * never aborts on bad input.  After a failure, gm_last_error() gives a
 * message naming the space, the operation, the requested range and the
 * exact failing address:
 *   guest memory 'vm3': write error: failed to access 0x1000-0x3000 at
 *   0x2000: no region
 *
 * Threads
 * -------
 * All functions on one space may run concurrently from any number of
 * threads, including gm_space_add_region() and gm_space_remove_region()
 * while others access the space: readers never block, and a removed region
 * is destroyed only once no reader can still hold it.  The exceptions:
 * gm_space_free() must not run concurrently with anything else on that
 * space, and one view or lease object must not be released twice.
 * Concurrent accesses to the same guest bytes are not atomic with respect
 * to each other, except through the gm_atomic_* functions and as
 * "Single-copy atomicity" below says.
 *
 * Signals: no function of this library is async-signal-safe.  Do not call
 * one from a signal handler that may interrupt a call of the library in
 * the same thread: the handler's call would share that call's read-side
 * section and could end its protection, so that a region removed
 * meanwhile is freed under either of them; or it would wait for a lock the
 * interrupted call holds.
 *
 * Global state: the library keeps one per-thread record per space a thread
 * has read (freed at thread exit) and the calling thread's last error
 * message.  It registers the process for membarrier(2) when available, and
 * fork handlers with pthread_atfork() when it creates its first space or
 * Xen context.
 *
 * fork()
 * ------
 * A child may use a space over unix regions fully (every accessor, views,
 * leases, gm_space_add_region(), gm_space_remove_region(),
 * gm_space_free()), whatever the parent's other threads were doing with
 * it at fork time: accessing it, or adding or removing a region and
 * waiting for accessors to leave it.  What those threads held is never
 * released in the child, where they do not exist: a region they had views
 * or leases of is never destroyed there, and a region one of them was
 * removing is either still in the space (as if the removal had not
 * started) or gone from it but never destroyed; the memory and file
 * descriptors of such regions stay until the child exits.  Xen regions may
 * only be freed in a child (guestmem/xen.h).
 *
 * fork() waits for no accessor and for no gm_space_add_region() or
 * gm_space_remove_region() in progress; it does wait for a Xen mapping
 * cache miss or eviction in progress.  Call fork() from outside the
 * library: not from a backend's method, nor from a signal handler that may
 * interrupt a call of the library.  A child made by vfork(),
 * posix_spawn() or _Fork() runs no fork handlers: it may use nothing of
 * this library before it calls exec.
 *
 * Single-copy atomicity
 * ---------------------
 * A guest may change its memory while a copy runs.  Every copy through a
 * space (gm_read(), gm_write(), their partial variants, gm_read_obj() and
 * gm_write_obj(), gm_fill() and gm_zero(), each piece of an access that
 * crosses regions, in plain and fault-safe spaces alike) reads or writes
 * every naturally aligned 2-, 4- or 8-byte field that lies wholly inside
 * the copied range with one instruction whose access contains the whole
 * field.  So a copy sees, and leaves, a value of such a field that one
 * guest store wrote, never half of one and half of another: a ring index
 * or a descriptor's address read with gm_read_obj() is a value the guest
 * really wrote.  (On x86-64 those accesses are naturally aligned moves of
 * 1 to 8 bytes, and vector moves of 16, 32 or 64 bytes aligned to their
 * size, which never cross a cache line; the processor manuals document
 * single-copy atomicity for aligned accesses of up to 8 bytes, and of 16
 * bytes on processors with AVX.  On aarch64 they are naturally aligned
 * loads and stores of 1 to 8 bytes and, in fault-safe spaces, 16-byte
 * ldp/stp pairs at 16-byte alignment, each of whose two 8-byte halves is
 * single-copy atomic: the architecture's rule for aligned accesses of up
 * to 8 bytes.)  The typed accessors (gm_read_u32() ...)
 * and the typed view accessors read or write their value with one
 * instruction whatever its alignment.
 * What is NOT promised: atomicity of a field that is not naturally
 * aligned, or that lies only partly inside the range; any ordering
 * between the accesses of one copy, or a consistent snapshot of several
 * fields (copy once, then validate the copy); and anything for
 * gm_view_read() / gm_view_write() and leases, which hand the bytes to
 * memcpy() or to the kernel: use the typed view accessors for fields.
 */
#ifndef GUESTMEM_H
#define GUESTMEM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GM_EXPORT
#define GM_EXPORT __attribute__((visibility("default")))
#endif
#ifndef GM_INLINE
#define GM_INLINE static inline
/* The space accessors' inline fast path: inlined whatever the caller's
 * inlining budget, since a call is what it saves. */
#define GM__HOT_INLINE static inline __attribute__((always_inline))
#else
#define GM__HOT_INLINE GM_INLINE
#endif
/* Branch hints of the inline functions: internal, not part of the API. */
#define GM__LIKELY(x) __builtin_expect(!!(x), 1)
#define GM__UNLIKELY(x) __builtin_expect(!!(x), 0)

struct gm_space;
struct gm_region;
struct gm_lease;

/* Access protection (same values as PROT_READ / PROT_WRITE). */
#define GM_PROT_READ 0x1
#define GM_PROT_WRITE 0x2

/* Memory orders for atomics (same values as the __ATOMIC_* constants). */
#define GM_RELAXED 0
#define GM_ACQUIRE 2
#define GM_RELEASE 3
#define GM_ACQ_REL 4
#define GM_SEQ_CST 5

/* Largest length one call moves: counts must fit the ssize_t result. */
#define GM_MAX_LEN ((size_t)(~(size_t)0 >> 1))

/* ------------------------------------------------------------------ */
/* Spaces and regions                                                  */
/* ------------------------------------------------------------------ */

/*
 * Flags for gm_space_new().
 *
 * GM_SPACE_FAULT_SAFE: every accessor's copy, fill and atomic recovers from
 *   a SIGBUS or SIGSEGV on guest memory (a truncated file under a region, a
 *   Xen frame ballooned out or a grant revoked after it was mapped) and
 *   fails with -EFAULT naming the exact guest address, instead of killing
 *   the process.  It costs no syscall and no sigsetjmp per access: the
 *   instructions that touch guest memory are listed in an exception table
 *   that the signal handler consults; each of them has guest memory as its
 *   only memory operand, so only a fault on guest memory is recovered.  A
 *   fault on the caller's own buffer (a bad pointer, an unmapped or
 *   PROT_NONE page) is the caller's bug and goes on as if the library
 *   were not there.  The first such space installs
 *   process-wide SIGBUS and SIGSEGV handlers (once), which stay for the
 *   life of the process, as does the library (dlclose() does not unload
 *   it).  A SIGBUS or SIGSEGV that is not a fault on guest memory gets
 *   what it would have got without them: dropped if ignored (a fault the
 *   CPU raises still kills, as the kernel forces it), the default action,
 *   or the handler installed before, run with its own sa_mask, SA_NODEFER,
 *   SA_RESETHAND and SA_RESTART.  Two differences
 *   remain: an ignored signal sent to a thread asleep in a system call
 *   that is never restarted (poll(), nanosleep(), ...) makes it fail with
 *   EINTR, and the previous handler runs on the thread's alternate stack,
 *   if it has one, even without SA_ONSTACK.  The previous disposition is
 *   read when the handlers are installed: a handler installed later must
 *   chain to the one it replaces (sigaction()'s old action), or it defeats
 *   the option.  Views and leases hand out raw pointers and are not
 *   covered.  x86-64 and aarch64 (elsewhere -EOPNOTSUPP); on aarch64 the
 *   atomics are single LSE instructions in a build for ARMv8.1-A or later
 *   and load-/store-exclusive loops otherwise, every instruction of which
 *   is covered alike.
 */
#define GM_SPACE_FAULT_SAFE 0x1u

/**
 * gm_space_new() - create an empty guest address space.
 * @out: receives the space.
 * @name: shown in error messages ("vm3"); copied, at most 63 bytes kept.
 *        NULL means "guest".
 * @flags: 0 or GM_SPACE_FAULT_SAFE.
 *
 * Return: 0, or -EINVAL (@out NULL or unknown flags), -ENOMEM,
 * -EOPNOTSUPP (GM_SPACE_FAULT_SAFE on a host without support), or the
 * error of sigaction() installing the fault handlers.
 */
GM_EXPORT int gm_space_new(struct gm_space **out, const char *name,
			   unsigned int flags);

/**
 * gm_space_free() - remove and destroy every region, then free the space.
 * @s: the space, or NULL (a no-op).
 *
 * No other call on @s may run concurrently or follow.  Regions that still
 * have views or leases are destroyed when the last of them is released.
 */
GM_EXPORT void gm_space_free(struct gm_space *s);

/** gm_space_name() - the name given at creation (NULL for a NULL space). */
GM_EXPORT const char *gm_space_name(const struct gm_space *s);

/**
 * gm_space_add_region() - add a region; the space takes ownership.
 * @s: the space.
 * @r: a region from a backend constructor, not in any space.
 *
 * Safe while other threads access the space.  On failure the caller still
 * owns @r.
 *
 * Return: 0, or
 *  -EINVAL  NULL argument, or a region that is neither persistently mapped
 *           nor has map/unmap methods, or is already in a space;
 *  -EEXIST  @r overlaps a region of the space (the message names it);
 *  -ENOMEM.
 */
GM_EXPORT int gm_space_add_region(struct gm_space *s, struct gm_region *r);

/**
 * gm_space_remove_region() - remove the region that starts at @gpa.
 * @s: the space.
 * @gpa: the region's guest-physical base address.
 *
 * Unlinks the region at once, then waits until no concurrent accessor can
 * still be using it (accessors never wait for this), and drops the space's
 * reference: the region is destroyed now, or, if views or leases of it are
 * still held (by any thread, the caller included), when the last of them
 * is released.
 *
 * Return: 0, or -EINVAL (@s NULL), -ENOENT (no region starts at @gpa),
 * -ENOMEM (the region stays in the space).
 */
GM_EXPORT int gm_space_remove_region(struct gm_space *s, uint64_t gpa);

/*
 * Region flags, in struct gm_region_info.flags (and struct gm_region.flags,
 * guestmem/backend.h).
 *
 * GM_REGION_RDONLY: the region is read-only; writes to it fail with
 *   -EACCES.
 */
#define GM_REGION_RDONLY 0x1u

/** Description of one region, for gm_space_get_regions(). */
struct gm_region_info {
	uint64_t gpa;	     /* guest-physical base */
	uint64_t size;	     /* bytes */
	unsigned int flags;  /* GM_REGION_* */
	unsigned int mapped; /* 1: persistently mapped, 0: mapped on demand */
	const char *backend; /* backend name, static string */
};

/**
 * gm_space_get_regions() - list the regions, in ascending address order.
 * @s: the space.
 * @out: array of @max entries, may be NULL when @max is 0.
 * @max: capacity of @out.
 *
 * Return: the number of regions in the space (which may exceed @max; only
 * the first @max are stored), or -EINVAL (@s NULL, or @out NULL with @max
 * non-zero), -ENOMEM (the calling thread's record of the space could not
 * be allocated).
 */
GM_EXPORT ssize_t gm_space_get_regions(struct gm_space *s,
				       struct gm_region_info *out, size_t max);

/**
 * gm_region_destroy() - destroy a region that was never added to a space.
 * @r: the region, or NULL.
 */
GM_EXPORT void gm_region_destroy(struct gm_region *r);

/**
 * gm_last_error() - the calling thread's last error message.
 *
 * Return: a string naming the space, operation, requested range and
 * failing guest address of the last call in this thread that failed, or ""
 * if none did.  Valid until the next failing call in this thread.
 */
GM_EXPORT const char *gm_last_error(void);

/* ------------------------------------------------------------------ */
/* Byte and typed accessors                                            */
/* ------------------------------------------------------------------ */

/**
 * gm_read() / gm_write() - copy exactly @len bytes from / to guest memory.
 * @s: the space.
 * @gpa: first guest-physical address.
 * @buf: host buffer of @len bytes.
 * @len: bytes to copy; 0 is a successful no-op.
 *
 * The range may span several adjacent regions.  The whole range is checked
 * before any byte is copied where the layout alone decides it (holes,
 * read-only regions), so a failure leaves guest memory untouched; a
 * backend failure found while mapping (a bad Xen frame) may leave the
 * bytes before it written.
 *
 * Return: 0, or -EINVAL (@s or @buf NULL, @len > GM_MAX_LEN), -EOVERFLOW,
 * -EFAULT (hole or unmappable page), -EACCES (gm_write to read-only),
 * -ENOMEM or a backend's mapping error.
 */
GM_INLINE int gm_read(struct gm_space *s, uint64_t gpa, void *buf,
		      size_t len);
GM_INLINE int gm_write(struct gm_space *s, uint64_t gpa, const void *buf,
		       size_t len);

/**
 * gm_read_partial() / gm_write_partial() - copy up to the first failure.
 *
 * Like gm_read() / gm_write(), but stop at the first byte that cannot be
 * accessed.
 *
 * Return: the number of bytes copied if at least one was, 0 if @len is 0,
 * or the negative errno for the very first byte.  When the copy stops
 * early, gm_last_error() describes what stopped it, even though the
 * result is a positive count.
 */
GM_EXPORT ssize_t gm_read_partial(struct gm_space *s, uint64_t gpa,
				  void *buf, size_t len);
GM_EXPORT ssize_t gm_write_partial(struct gm_space *s, uint64_t gpa,
				   const void *buf, size_t len);

/* Read or write a whole object: gm_read_obj(s, gpa, &desc). */
#define gm_read_obj(s, gpa, ptr) gm_read((s), (gpa), (ptr), sizeof(*(ptr)))
#define gm_write_obj(s, gpa, ptr) gm_write((s), (gpa), (ptr), sizeof(*(ptr)))

/**
 * gm_fill() - set @len bytes at @gpa to @byte; gm_zero() sets them to 0.
 * Only the low 8 bits of @byte are used, as with memset().
 *
 * Return: as gm_write().
 */
GM_EXPORT int gm_fill(struct gm_space *s, uint64_t gpa, int byte, size_t len);
GM_EXPORT int gm_zero(struct gm_space *s, uint64_t gpa, size_t len);

/*
 * Typed accessors, one per integer type and byte order:
 *   int gm_read_u8 (s, gpa, uint8_t  *val);  int gm_write_u8 (s, gpa, uint8_t  val);
 *   int gm_read_u16(s, gpa, uint16_t *val);  ... u32, u64: host byte order;
 *   int gm_read_le16/le32/le64, gm_read_be16/be32/be64 and the gm_write_*
 *   twins: guest memory in little / big endian, values in host order.
 * No alignment is required and the value may straddle two regions.
 * A read stores *@val only when it succeeds.
 * Return: as gm_read() / gm_write().
 */
#define GM_INT_TYPES(X)                                                       \
	X(u8, uint8_t, 8) X(u16, uint16_t, 16) X(u32, uint32_t, 32)           \
	X(u64, uint64_t, 64)
#define GM_ENDIAN_TYPES(X)                                                    \
	X(le16, uint16_t, 16, le) X(le32, uint32_t, 32, le)                   \
	X(le64, uint64_t, 64, le) X(be16, uint16_t, 16, be)                   \
	X(be32, uint32_t, 32, be) X(be64, uint64_t, 64, be)

GM_INLINE int gm_read_u8(struct gm_space *s, uint64_t gpa, uint8_t *val);
GM_INLINE int gm_write_u8(struct gm_space *s, uint64_t gpa, uint8_t val);
GM_INLINE int gm_read_u16(struct gm_space *s, uint64_t gpa, uint16_t *val);
GM_INLINE int gm_write_u16(struct gm_space *s, uint64_t gpa, uint16_t val);
GM_INLINE int gm_read_u32(struct gm_space *s, uint64_t gpa, uint32_t *val);
GM_INLINE int gm_write_u32(struct gm_space *s, uint64_t gpa, uint32_t val);
GM_INLINE int gm_read_u64(struct gm_space *s, uint64_t gpa, uint64_t *val);
GM_INLINE int gm_write_u64(struct gm_space *s, uint64_t gpa, uint64_t val);
GM_INLINE int gm_read_le16(struct gm_space *s, uint64_t gpa, uint16_t *val);
GM_INLINE int gm_write_le16(struct gm_space *s, uint64_t gpa, uint16_t val);
GM_INLINE int gm_read_le32(struct gm_space *s, uint64_t gpa, uint32_t *val);
GM_INLINE int gm_write_le32(struct gm_space *s, uint64_t gpa, uint32_t val);
GM_INLINE int gm_read_le64(struct gm_space *s, uint64_t gpa, uint64_t *val);
GM_INLINE int gm_write_le64(struct gm_space *s, uint64_t gpa, uint64_t val);
GM_INLINE int gm_read_be16(struct gm_space *s, uint64_t gpa, uint16_t *val);
GM_INLINE int gm_write_be16(struct gm_space *s, uint64_t gpa, uint16_t val);
GM_INLINE int gm_read_be32(struct gm_space *s, uint64_t gpa, uint32_t *val);
GM_INLINE int gm_write_be32(struct gm_space *s, uint64_t gpa, uint32_t val);
GM_INLINE int gm_read_be64(struct gm_space *s, uint64_t gpa, uint64_t *val);
GM_INLINE int gm_write_be64(struct gm_space *s, uint64_t gpa, uint64_t val);

/*
 * Atomics on naturally aligned 1/2/4/8-byte values, with an explicit memory
 * order (GM_RELAXED ... GM_SEQ_CST), for each of u8, u16, u32, u64:
 *   gm_atomic_load_u32(s, gpa, uint32_t *val, order)
 *   gm_atomic_store_u32(s, gpa, uint32_t val, order)
 *   gm_atomic_xchg_u32(s, gpa, uint32_t val, uint32_t *old, order)
 *                                                    (@old may be NULL)
 *   gm_atomic_cmpxchg_u32(s, gpa, uint32_t *expected, uint32_t desired,
 *                         order)
 *   gm_atomic_fetch_add_u32 / _or_ / _and_ (s, gpa, uint32_t val,
 *                         uint32_t *old, order)      (@old may be NULL)
 * cmpxchg stores the value it found in *expected and returns 1 if it
 * exchanged, 0 if not; its failure order is derived from @order.  A load
 * stores *@val only when it succeeds.
 * Return: 0 (or 1/0 for cmpxchg), or -EINVAL (NULL pointer, misaligned
 * gpa, an order the operation cannot take: a load with GM_RELEASE or
 * GM_ACQ_REL, a store with GM_ACQUIRE or GM_ACQ_REL), -EFAULT (hole),
 * -EACCES (read-only region; loads are allowed), -ENOMEM or a backend
 * mapping error.  A naturally aligned value never crosses a region
 * boundary because regions start and end on page boundaries in every
 * backend of this library; when one does not, the atomic fails -EINVAL.
 */
GM_INLINE int gm_atomic_load_u8(struct gm_space *s, uint64_t gpa, uint8_t *val,
				int order);
GM_INLINE int gm_atomic_store_u8(struct gm_space *s, uint64_t gpa, uint8_t val,
				 int order);
GM_EXPORT int gm_atomic_xchg_u8(struct gm_space *s, uint64_t gpa, uint8_t val,
				uint8_t *old, int order);
GM_EXPORT int gm_atomic_cmpxchg_u8(struct gm_space *s, uint64_t gpa,
				   uint8_t *expected, uint8_t desired, int order);
GM_EXPORT int gm_atomic_fetch_add_u8(struct gm_space *s, uint64_t gpa,
				     uint8_t val, uint8_t *old, int order);
GM_EXPORT int gm_atomic_fetch_or_u8(struct gm_space *s, uint64_t gpa,
				    uint8_t val, uint8_t *old, int order);
GM_EXPORT int gm_atomic_fetch_and_u8(struct gm_space *s, uint64_t gpa,
				     uint8_t val, uint8_t *old, int order);
GM_INLINE int gm_atomic_load_u16(struct gm_space *s, uint64_t gpa, uint16_t *val,
				int order);
GM_INLINE int gm_atomic_store_u16(struct gm_space *s, uint64_t gpa, uint16_t val,
				 int order);
GM_EXPORT int gm_atomic_xchg_u16(struct gm_space *s, uint64_t gpa, uint16_t val,
				uint16_t *old, int order);
GM_EXPORT int gm_atomic_cmpxchg_u16(struct gm_space *s, uint64_t gpa,
				   uint16_t *expected, uint16_t desired, int order);
GM_EXPORT int gm_atomic_fetch_add_u16(struct gm_space *s, uint64_t gpa,
				     uint16_t val, uint16_t *old, int order);
GM_EXPORT int gm_atomic_fetch_or_u16(struct gm_space *s, uint64_t gpa,
				    uint16_t val, uint16_t *old, int order);
GM_EXPORT int gm_atomic_fetch_and_u16(struct gm_space *s, uint64_t gpa,
				     uint16_t val, uint16_t *old, int order);
GM_INLINE int gm_atomic_load_u32(struct gm_space *s, uint64_t gpa, uint32_t *val,
				int order);
GM_INLINE int gm_atomic_store_u32(struct gm_space *s, uint64_t gpa, uint32_t val,
				 int order);
GM_EXPORT int gm_atomic_xchg_u32(struct gm_space *s, uint64_t gpa, uint32_t val,
				uint32_t *old, int order);
GM_EXPORT int gm_atomic_cmpxchg_u32(struct gm_space *s, uint64_t gpa,
				   uint32_t *expected, uint32_t desired, int order);
GM_EXPORT int gm_atomic_fetch_add_u32(struct gm_space *s, uint64_t gpa,
				     uint32_t val, uint32_t *old, int order);
GM_EXPORT int gm_atomic_fetch_or_u32(struct gm_space *s, uint64_t gpa,
				    uint32_t val, uint32_t *old, int order);
GM_EXPORT int gm_atomic_fetch_and_u32(struct gm_space *s, uint64_t gpa,
				     uint32_t val, uint32_t *old, int order);
GM_INLINE int gm_atomic_load_u64(struct gm_space *s, uint64_t gpa, uint64_t *val,
				int order);
GM_INLINE int gm_atomic_store_u64(struct gm_space *s, uint64_t gpa, uint64_t val,
				 int order);
GM_EXPORT int gm_atomic_xchg_u64(struct gm_space *s, uint64_t gpa, uint64_t val,
				uint64_t *old, int order);
GM_EXPORT int gm_atomic_cmpxchg_u64(struct gm_space *s, uint64_t gpa,
				   uint64_t *expected, uint64_t desired, int order);
GM_EXPORT int gm_atomic_fetch_add_u64(struct gm_space *s, uint64_t gpa,
				     uint64_t val, uint64_t *old, int order);
GM_EXPORT int gm_atomic_fetch_or_u64(struct gm_space *s, uint64_t gpa,
				    uint64_t val, uint64_t *old, int order);
GM_EXPORT int gm_atomic_fetch_and_u64(struct gm_space *s, uint64_t gpa,
				     uint64_t val, uint64_t *old, int order);

/* ------------------------------------------------------------------ */
/* fd I/O                                                              */
/* ------------------------------------------------------------------ */

/**
 * gm_read_from_fd() - read from @fd into guest memory [gpa, gpa + len).
 * gm_write_to_fd() - write guest memory [gpa, gpa + len) to @fd.
 * @s: the space.
 * @gpa: first guest address.
 * @len: bytes to transfer.
 * @fd: file descriptor.
 * @offset: file offset for preadv/pwritev, or -1 to use and advance the
 *          fd's own position (readv/writev: pipes, sockets).
 *
 * The guest range is leased (mapped) as a whole before any I/O, so a hole
 * fails with -EFAULT having transferred nothing.  The kernel copies into
 * and out of the lease itself: a guest page that faults under its mapping
 * (fault-safe spaces do not cover this) ends the transfer with the kernel's
 * -EFAULT or a short count, and for gm_read_from_fd guest bytes past the
 * returned count may already have been written.  The transfer is vectored
 * over the pieces of the range, restarts after EINTR and continues after
 * short counts until @len bytes are done, end of file, or an error.
 *
 * Return: the number of bytes transferred (less than @len only at end of
 * file, or when an error stops a transfer that had already moved bytes;
 * 0 when @len is 0), or -EINVAL (@s NULL, @fd < 0, @offset < -1, @len >
 * GM_MAX_LEN), -EOVERFLOW (gpa + len wraps, or @offset + @len exceeds
 * INT64_MAX), -EFAULT, -EACCES (gm_read_from_fd into read-only memory),
 * -ENOMEM, or the negative errno of readv/writev/preadv/pwritev.
 */
GM_EXPORT ssize_t gm_read_from_fd(struct gm_space *s, uint64_t gpa,
				  size_t len, int fd, int64_t offset);
GM_EXPORT ssize_t gm_write_to_fd(struct gm_space *s, uint64_t gpa,
				 size_t len, int fd, int64_t offset);

/* ------------------------------------------------------------------ */
/* Leases: a guest range as an iovec array                             */
/* ------------------------------------------------------------------ */

/**
 * gm_lease_get() - map [gpa, gpa + len) and describe it as iovecs.
 * @s: the space.
 * @gpa: first guest address.
 * @len: bytes, > 0.
 * @prot: GM_PROT_READ, GM_PROT_WRITE or both.
 * @out: receives the lease.
 *
 * Every piece stays mapped, and its region alive, until gm_lease_put(),
 * even if the region is removed from the space meanwhile.
 *
 * Return: 0, or -EINVAL (NULL pointer, @len 0 or > GM_MAX_LEN, bad @prot),
 * -EOVERFLOW, -EFAULT, -EACCES (@prot has GM_PROT_WRITE over read-only
 * memory), -ENOMEM, or a backend mapping error.
 */
GM_EXPORT int gm_lease_get(struct gm_space *s, uint64_t gpa, size_t len,
			   int prot, struct gm_lease **out);

/**
 * gm_lease_iov() - the lease's pieces, in guest address order.
 * @l: the lease (NULL: returns NULL and a count of 0).
 *
 * Pieces that are adjacent in guest and in host memory are merged into one
 * iovec, so there may be fewer entries than regions or mappings.
 * @iovcnt: receives the number of entries (may exceed IOV_MAX: submit in
 *          batches).
 *
 * Return: the array, owned by the lease and valid until gm_lease_put().
 */
GM_EXPORT const struct iovec *gm_lease_iov(const struct gm_lease *l,
					   int *iovcnt);

/** gm_lease_put() - release every mapping of the lease; NULL is a no-op. */
GM_EXPORT void gm_lease_put(struct gm_lease *l);

/* ------------------------------------------------------------------ */
/* Views: inline access to one mapped range                            */
/* ------------------------------------------------------------------ */

/* Filled by gm_view_get(); read-only for the caller.  ABI-frozen: 64 bytes
 * on LP64. */
struct gm_view {
	uint64_t gpa;		  /* guest range covered: [gpa, gpa + len) */
	uint64_t len;
	uint8_t *hva;		  /* host address of gpa, until gm_view_put() */
	struct gm_region *region; /* owner, or NULL for a lent view */
	void *cookie;		  /* backend mapping handle */
	int prot;		  /* GM_PROT_* the view was taken with */
	unsigned int reserved0;
	uint64_t reserved[2];
};

/**
 * gm_view_get() - map [gpa, gpa + len) of one region for inline access.
 * @s: the space.
 * @gpa: first guest address.
 * @len: bytes, > 0; the range must lie within a single region.
 * @prot: GM_PROT_READ, GM_PROT_WRITE or both.
 * @v: the view to fill.
 *
 * Return: 0, or -EINVAL (NULL pointer, @len 0 or > GM_MAX_LEN, bad @prot,
 * range crossing into another region), -EOVERFLOW, -EFAULT, -EACCES,
 * -ENOMEM, or a backend mapping error.  On failure @v is zeroed.
 */
GM_EXPORT int gm_view_get(struct gm_space *s, uint64_t gpa, uint64_t len,
			  int prot, struct gm_view *v);

/**
 * gm_view_put() - release a view; a zeroed or released view is a no-op, and
 * so is a view that another object lends and that has no region (@region
 * NULL, e.g. gm_xen_grant_list_view()): that one stays valid exactly as
 * long as its lender.
 */
GM_EXPORT void gm_view_put(struct gm_view *v);

/* Byte order helpers. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GM__LE(bits, x) (x)
#define GM__BE(bits, x) __builtin_bswap##bits(x)
#else
#define GM__LE(bits, x) __builtin_bswap##bits(x)
#define GM__BE(bits, x) (x)
#endif
#define GM__ORD_le(bits, x) GM__LE(bits, x)
#define GM__ORD_be(bits, x) GM__BE(bits, x)

/*
 * 1 if [gpa, gpa + n) is not inside the view: one compare of the offset
 * (huge when gpa is below the view) against a limit that is loop-invariant
 * for a constant n.  len is at most GM_MAX_LEN, so len - n + 1 cannot wrap.
 */
#define GM__VIEW_OUT(v, gpa, n)                                               \
	((uint64_t)(gpa) - (v)->gpa >=                                        \
	 ((v)->len >= (n) ? (v)->len - (n) + 1 : 0))

/**
 * gm_view_read() / gm_view_write() - copy bytes within a view.
 *
 * Return: 0, -EFAULT (range outside the view), -EACCES (write through a
 * view taken without GM_PROT_WRITE).
 */
GM_INLINE int gm_view_read(const struct gm_view *v, uint64_t gpa, void *buf,
			   size_t len)
{
	if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, len)))
		return -EFAULT;
	if (GM__UNLIKELY(!len)) /* a zeroed view has no hva to offset */
		return 0;
	memcpy(buf, v->hva + (gpa - v->gpa), len);
	return 0;
}

GM_INLINE int gm_view_write(const struct gm_view *v, uint64_t gpa,
			    const void *buf, size_t len)
{
	if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, len)))
		return -EFAULT;
	if (GM__UNLIKELY(!(v->prot & GM_PROT_WRITE)))
		return -EACCES;
	if (GM__UNLIKELY(!len))
		return 0;
	memcpy(v->hva + (gpa - v->gpa), buf, len);
	return 0;
}

/*
 * Typed view accessors: gm_view_read_u32(v, gpa, &val),
 * gm_view_write_le16(v, gpa, val), ... for every type of GM_INT_TYPES and
 * GM_ENDIAN_TYPES.  No alignment is required.
 * Return: as gm_view_read() / gm_view_write().
 * Written out here for grep and the reader; defined by the macros below.
 */
GM_INLINE int gm_view_read_u8(const struct gm_view *v, uint64_t gpa,
				uint8_t *val);
GM_INLINE int gm_view_write_u8(const struct gm_view *v, uint64_t gpa,
				 uint8_t val);
GM_INLINE int gm_view_read_u16(const struct gm_view *v, uint64_t gpa,
				uint16_t *val);
GM_INLINE int gm_view_write_u16(const struct gm_view *v, uint64_t gpa,
				 uint16_t val);
GM_INLINE int gm_view_read_u32(const struct gm_view *v, uint64_t gpa,
				uint32_t *val);
GM_INLINE int gm_view_write_u32(const struct gm_view *v, uint64_t gpa,
				 uint32_t val);
GM_INLINE int gm_view_read_u64(const struct gm_view *v, uint64_t gpa,
				uint64_t *val);
GM_INLINE int gm_view_write_u64(const struct gm_view *v, uint64_t gpa,
				 uint64_t val);
GM_INLINE int gm_view_read_le16(const struct gm_view *v, uint64_t gpa,
				uint16_t *val);
GM_INLINE int gm_view_write_le16(const struct gm_view *v, uint64_t gpa,
				 uint16_t val);
GM_INLINE int gm_view_read_le32(const struct gm_view *v, uint64_t gpa,
				uint32_t *val);
GM_INLINE int gm_view_write_le32(const struct gm_view *v, uint64_t gpa,
				 uint32_t val);
GM_INLINE int gm_view_read_le64(const struct gm_view *v, uint64_t gpa,
				uint64_t *val);
GM_INLINE int gm_view_write_le64(const struct gm_view *v, uint64_t gpa,
				 uint64_t val);
GM_INLINE int gm_view_read_be16(const struct gm_view *v, uint64_t gpa,
				uint16_t *val);
GM_INLINE int gm_view_write_be16(const struct gm_view *v, uint64_t gpa,
				 uint16_t val);
GM_INLINE int gm_view_read_be32(const struct gm_view *v, uint64_t gpa,
				uint32_t *val);
GM_INLINE int gm_view_write_be32(const struct gm_view *v, uint64_t gpa,
				 uint32_t val);
GM_INLINE int gm_view_read_be64(const struct gm_view *v, uint64_t gpa,
				uint64_t *val);
GM_INLINE int gm_view_write_be64(const struct gm_view *v, uint64_t gpa,
				 uint64_t val);

#define GM__VIEW_TYPED(sfx, T, ...)                                           \
	GM_INLINE int gm_view_read_##sfx(const struct gm_view *v,             \
					 uint64_t gpa, T *val)                \
	{                                                                     \
		if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, sizeof(T))))            \
			return -EFAULT;                                       \
		memcpy(val, v->hva + (gpa - v->gpa), sizeof(T));              \
		return 0;                                                     \
	}                                                                     \
	GM_INLINE int gm_view_write_##sfx(const struct gm_view *v,            \
					  uint64_t gpa, T val)                \
	{                                                                     \
		if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, sizeof(T))))            \
			return -EFAULT;                                       \
		if (GM__UNLIKELY(!(v->prot & GM_PROT_WRITE)))                 \
			return -EACCES;                                       \
		memcpy(v->hva + (gpa - v->gpa), &val, sizeof(T));             \
		return 0;                                                     \
	}
GM_INT_TYPES(GM__VIEW_TYPED)

#define GM__VIEW_ENDIAN(sfx, T, bits, ord)                                    \
	GM_INLINE int gm_view_read_##sfx(const struct gm_view *v,             \
					 uint64_t gpa, T *val)                \
	{                                                                     \
		T raw;                                                        \
		if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, sizeof(T))))            \
			return -EFAULT;                                       \
		memcpy(&raw, v->hva + (gpa - v->gpa), sizeof(T));             \
		*val = GM__ORD_##ord(bits, raw);                              \
		return 0;                                                     \
	}                                                                     \
	GM_INLINE int gm_view_write_##sfx(const struct gm_view *v,            \
					  uint64_t gpa, T val)                \
	{                                                                     \
		T raw = GM__ORD_##ord(bits, val);                             \
		if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, sizeof(T))))            \
			return -EFAULT;                                       \
		if (GM__UNLIKELY(!(v->prot & GM_PROT_WRITE)))                 \
			return -EACCES;                                       \
		memcpy(v->hva + (gpa - v->gpa), &raw, sizeof(T));             \
		return 0;                                                     \
	}
GM_ENDIAN_TYPES(GM__VIEW_ENDIAN)

/*
 * Atomic view accessors on naturally aligned values, for u8..u64:
 *   gm_view_atomic_load_u16(v, gpa, &val, order)   (a ring's idx, acquire)
 *   gm_view_atomic_store_u16(v, gpa, val, order)   (release)
 *   gm_view_atomic_fetch_add_u32(v, gpa, val, &old, order) (@old may be NULL)
 *   gm_view_atomic_cmpxchg_u32(v, gpa, &expected, desired, order)
 *     (1 if exchanged, 0 if not; *expected receives the value found)
 * Return: 0 (or 1/0), -EFAULT (outside the view), -EINVAL (misaligned, or
 * an order the operation cannot take), -EACCES (a write through a read-only
 * view).  The order is normally a constant, so the checks fold away.
 * Written out here for grep and the reader; defined by the macros below.
 */
GM_INLINE int gm_view_atomic_load_u8(const struct gm_view *v, uint64_t gpa,
				       uint8_t *val, int order);
GM_INLINE int gm_view_atomic_store_u8(const struct gm_view *v, uint64_t gpa,
					uint8_t val, int order);
GM_INLINE int gm_view_atomic_fetch_add_u8(const struct gm_view *v,
					    uint64_t gpa, uint8_t val, uint8_t *old,
					    int order);
GM_INLINE int gm_view_atomic_cmpxchg_u8(const struct gm_view *v,
					  uint64_t gpa, uint8_t *expected,
					  uint8_t desired, int order);
GM_INLINE int gm_view_atomic_load_u16(const struct gm_view *v, uint64_t gpa,
				       uint16_t *val, int order);
GM_INLINE int gm_view_atomic_store_u16(const struct gm_view *v, uint64_t gpa,
					uint16_t val, int order);
GM_INLINE int gm_view_atomic_fetch_add_u16(const struct gm_view *v,
					    uint64_t gpa, uint16_t val, uint16_t *old,
					    int order);
GM_INLINE int gm_view_atomic_cmpxchg_u16(const struct gm_view *v,
					  uint64_t gpa, uint16_t *expected,
					  uint16_t desired, int order);
GM_INLINE int gm_view_atomic_load_u32(const struct gm_view *v, uint64_t gpa,
				       uint32_t *val, int order);
GM_INLINE int gm_view_atomic_store_u32(const struct gm_view *v, uint64_t gpa,
					uint32_t val, int order);
GM_INLINE int gm_view_atomic_fetch_add_u32(const struct gm_view *v,
					    uint64_t gpa, uint32_t val, uint32_t *old,
					    int order);
GM_INLINE int gm_view_atomic_cmpxchg_u32(const struct gm_view *v,
					  uint64_t gpa, uint32_t *expected,
					  uint32_t desired, int order);
GM_INLINE int gm_view_atomic_load_u64(const struct gm_view *v, uint64_t gpa,
				       uint64_t *val, int order);
GM_INLINE int gm_view_atomic_store_u64(const struct gm_view *v, uint64_t gpa,
					uint64_t val, int order);
GM_INLINE int gm_view_atomic_fetch_add_u64(const struct gm_view *v,
					    uint64_t gpa, uint64_t val, uint64_t *old,
					    int order);
GM_INLINE int gm_view_atomic_cmpxchg_u64(const struct gm_view *v,
					  uint64_t gpa, uint64_t *expected,
					  uint64_t desired, int order);
#define GM__ORDER_OK_LOAD(o)                                                  \
	((o) == GM_RELAXED || (o) == GM_ACQUIRE || (o) == GM_SEQ_CST)
#define GM__ORDER_OK_STORE(o)                                                 \
	((o) == GM_RELAXED || (o) == GM_RELEASE || (o) == GM_SEQ_CST)
#define GM__ORDER_OK_RMW(o) ((o) >= GM_RELAXED && (o) <= GM_SEQ_CST && (o) != 1)
#define GM__ORDER_FAIL(o)                                                     \
	((o) == GM_ACQ_REL ? GM_ACQUIRE : (o) == GM_RELEASE ? GM_RELAXED : (o))

#define GM__VIEW_ATOMIC_PTR(v, gpa, T, write, ok)                             \
	T *p;                                                                 \
	if (GM__UNLIKELY(GM__VIEW_OUT(v, gpa, sizeof(T))))                    \
		return -EFAULT;                                               \
	if (GM__UNLIKELY(!(ok)))                                              \
		return -EINVAL;                                               \
	p = (T *)(void *)(v->hva + (gpa - v->gpa));                           \
	if (GM__UNLIKELY((uintptr_t)p & (sizeof(T) - 1)))                     \
		return -EINVAL;                                               \
	if ((write) && GM__UNLIKELY(!(v->prot & GM_PROT_WRITE)))              \
		return -EACCES;

#define GM__VIEW_ATOMIC(sfx, T, ...)                                          \
	GM_INLINE int gm_view_atomic_load_##sfx(const struct gm_view *v,      \
						uint64_t gpa, T *val,         \
						int order)                    \
	{                                                                     \
		GM__VIEW_ATOMIC_PTR(v, gpa, T, 0, GM__ORDER_OK_LOAD(order))   \
		*val = __atomic_load_n(p, order);                             \
		return 0;                                                     \
	}                                                                     \
	GM_INLINE int gm_view_atomic_store_##sfx(const struct gm_view *v,     \
						 uint64_t gpa, T val,         \
						 int order)                   \
	{                                                                     \
		GM__VIEW_ATOMIC_PTR(v, gpa, T, 1, GM__ORDER_OK_STORE(order))  \
		__atomic_store_n(p, val, order);                              \
		return 0;                                                     \
	}                                                                     \
	GM_INLINE int gm_view_atomic_fetch_add_##sfx(                         \
		const struct gm_view *v, uint64_t gpa, T val, T *old,         \
		int order)                                                    \
	{                                                                     \
		T prev;                                                       \
		GM__VIEW_ATOMIC_PTR(v, gpa, T, 1, GM__ORDER_OK_RMW(order))    \
		prev = __atomic_fetch_add(p, val, order);                     \
		if (old)                                                      \
			*old = prev;                                          \
		return 0;                                                     \
	}                                                                     \
	GM_INLINE int gm_view_atomic_cmpxchg_##sfx(                           \
		const struct gm_view *v, uint64_t gpa, T *expected,           \
		T desired, int order)                                         \
	{                                                                     \
		GM__VIEW_ATOMIC_PTR(v, gpa, T, 1,                             \
				    expected && GM__ORDER_OK_RMW(order))      \
		return __atomic_compare_exchange_n(p, expected, desired, 0,   \
						   order,                     \
						   GM__ORDER_FAIL(order))     \
			       ? 1                                            \
			       : 0;                                           \
	}
GM_INT_TYPES(GM__VIEW_ATOMIC)

/* ------------------------------------------------------------------ */
/* The accessors' inline fast path: ABI, not API                       */
/* ------------------------------------------------------------------ */

/*
 * As liburing does, the library keeps the common case of its accessors in
 * this header, so that it compiles into the caller: an access that the
 * calling thread's last region (or published piece) of the space covers
 * costs about twenty instructions and no call; one in another region
 * looks the region up in the space's index (gm__fast_lookup()) and makes
 * it the thread's range, still without a call.  Everything else, and
 * every call with an argument the inline code does not check itself,
 * calls the library: the gm__ functions below take the same arguments
 * and give the same results and errors as the accessors.  The library
 * also exports every inline function under its own name, for FFI callers
 * and for binaries built against an older header.
 *
 * struct gm__tcache is the first cache line of the calling thread's
 * record of the space it accessed last through the library
 * (gm__tcache_last, NULL while there is none).  seq is odd while the
 * thread is inside a read-side section of that space; the library waits
 * for every odd seq to change before it frees or unmaps anything such a
 * section could use.  The thread may read [lo, lo + lim + 15] at host
 * address gpa + delta while rgen equals the space's igen, and write it
 * while wgen does.  A space's igen changes whenever its regions do, and
 * generations are unique in the process, so a match also proves that the
 * record is the thread's record of that very space.  Fault-safe spaces
 * have igen 0, which no record matches: their accesses must be guarded.
 * Other threads read seq and may overwrite rgen and wgen: hence atomics.
 * flast is the index entry (struct gm__fent) the thread's inline lookup
 * found last: one found twice in a row becomes the thread's range.
 *
 * These layouts and gm__tcache_last are part of the ABI (symbol node
 * GM_0.3): the library changes them only together with the symbol's name.
 */
struct gm__tcache {
	uint64_t seq;
	uint64_t priv0;
	uint64_t rgen;
	uint64_t wgen;
	uint64_t lo;
	uint64_t lim;
	uintptr_t delta;
	uintptr_t flast;
};

/*
 * A space's regions as the inline path sees them, in the table of
 * generation gen: slot k of 2^shift bytes from base (k < nslots) meets
 * no entry but ent[slot[k]] and the one after it (a slot that meets more
 * sends the access to the library).  Entry e may be read (prot
 * GM__FENT_READ) or written (GM__FENT_WRITE) inline at host address gpa
 * + delta for gpa in [e.gpa, e.gpa + e.lim + 15]; an entry it may not
 * touch has prot 0, and so has the one after the last.
 */
struct gm__fent {
	uint64_t gpa;
	uint64_t lim;
	uintptr_t delta;
	uint64_t prot;
};
#define GM__FENT_READ 1u
#define GM__FENT_WRITE 2u

struct gm__ftab {
	uint64_t gen;
	uint64_t base;
	uint64_t nslots;
	const uint32_t *slot;
	const struct gm__fent *ent;
	unsigned int shift;
};

/*
 * What struct gm_space starts with: its current igen, the id its
 * readers carry (a record is the space's own when its priv0 is dom_id),
 * and its current index.
 */
struct gm__space_head {
	uint64_t igen;
	uint64_t dom_id;
	const struct gm__ftab *ftab;
};

/* rgen or wgen of a record with no range. */
#define GM__GEN_NONE (~(uint64_t)0)

GM_EXPORT extern __thread struct gm__tcache *gm__tcache_last
	__attribute__((tls_model("initial-exec")));

/* Guest accesses of one size at any alignment: one instruction each. */
typedef uint8_t gm__ua8;
typedef uint16_t gm__ua16 __attribute__((aligned(1), may_alias));
typedef uint32_t gm__ua32 __attribute__((aligned(1), may_alias));
typedef uint64_t gm__ua64 __attribute__((aligned(1), may_alias));

/*
 * Inside the section gm__fast_enter() opened on @tc, whose range missed:
 * if @tc is the space's own record, look @gpa up in the space's index,
 * and if 16 bytes from @gpa are in one region that the inline path may
 * access (@write), return 1 with *p the host address of @gpa (and make
 * the region @tc's range if it was also the last one found).  With @p2,
 * 16 bytes at an 8-aligned @gpa whose second half starts the next region
 * (a descriptor across two memory slots) return 2, with *p2 the host
 * address of that half.  Else 0, with nothing changed.
 */
static inline __attribute__((always_inline)) int
gm__fast_lookup(const struct gm__space_head *h, uint64_t gpa, int write,
		struct gm__tcache *tc, unsigned char **p, unsigned char **p2)
{
	uint64_t need = write ? GM__FENT_WRITE : GM__FENT_READ;
	const struct gm__ftab *ft;
	const struct gm__fent *e;
	uint64_t k;

	if (__atomic_load_n(&tc->priv0, __ATOMIC_RELAXED) != h->dom_id)
		return 0;
	ft = __atomic_load_n(&h->ftab, __ATOMIC_ACQUIRE);
	k = (gpa - ft->base) >> ft->shift;
	if (k >= ft->nslots)
		return 0;
	/* A real entry: the one after it is at most the last one. */
	e = &ft->ent[ft->slot[k]];
	if (gpa - e->gpa > e->lim) {
		if (p2 && !(gpa & 7) && (e->prot & need) &&
		    gpa - e->gpa == e->lim + 8 && e[1].gpa == gpa + 8 &&
		    (e[1].prot & need)) {
			*p = (unsigned char *)(e->delta + (uintptr_t)gpa);
			*p2 = (unsigned char *)(e[1].delta +
						(uintptr_t)(gpa + 8));
			return 2;
		}
		e++;
	}
	if (gpa - e->gpa > e->lim || !(e->prot & need))
		return 0;
	/* The second access in a row to a region makes it the thread's
	 * range; random accesses over many regions only pay this store. */
	if (tc->flast != (uintptr_t)e) {
		tc->flast = (uintptr_t)e;
	} else {
		tc->lo = e->gpa;
		tc->lim = e->lim;
		tc->delta = e->delta;
		__atomic_store_n(&tc->rgen,
				 (e->prot & GM__FENT_READ) ? ft->gen
							   : GM__GEN_NONE,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&tc->wgen,
				 (e->prot & GM__FENT_WRITE) ? ft->gen
							    : GM__GEN_NONE,
				 __ATOMIC_RELAXED);
	}
	*p = (unsigned char *)(e->delta + (uintptr_t)gpa);
	return 1;
}

/*
 * Enter a read-side section of the space of the thread's record and set
 * *p to the host address of [gpa, gpa + n), n <= 16, and *tcp and *seqp
 * for gm__fast_exit(), if the record covers it for the access (@write),
 * or the space's index does (gm__fast_lookup()): return 1 (or 2 for a
 * pair, with @p2).  Else leave the section and return 0.
 */
static inline __attribute__((always_inline)) int
gm__fast_enter(struct gm_space *s, uint64_t gpa, int write,
	       unsigned char **p, unsigned char **p2,
	       struct gm__tcache **tcp, uint64_t *seqp)
{
	int r;

	const struct gm__space_head *h =
		(const struct gm__space_head *)(const void *)s;
	struct gm__tcache *tc = gm__tcache_last;
	uint64_t seq, gen;

	if (GM__UNLIKELY(!tc))
		return 0;
	seq = __atomic_load_n(&tc->seq, __ATOMIC_RELAXED);
	/* Odd: a section is already open (a signal handler's call). */
	if (GM__UNLIKELY(seq & 1))
		return 0;
	__atomic_store_n(&tc->seq, seq + 1, __ATOMIC_RELAXED);
	/* The library's membarrier(2) orders this store before the loads
	 * below; the compiler must not reorder them itself. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gen = __atomic_load_n(write ? &tc->wgen : &tc->rgen, __ATOMIC_RELAXED);
	if (GM__LIKELY(gen == __atomic_load_n(&h->igen, __ATOMIC_RELAXED) &&
		       gpa - tc->lo <= tc->lim)) {
		*p = (unsigned char *)(tc->delta + (uintptr_t)gpa);
		*tcp = tc;
		*seqp = seq;
		return 1;
	}
	r = gm__fast_lookup(h, gpa, write, tc, p, p2);
	if (r) {
		*tcp = tc;
		*seqp = seq;
		return r;
	}
	__atomic_store_n(&tc->seq, seq + 2, __ATOMIC_RELEASE);
	return 0;
}

/* Leave the section gm__fast_enter() opened. */
static inline __attribute__((always_inline)) void
gm__fast_exit(struct gm__tcache *tc, uint64_t seq)
{
	__atomic_store_n(&tc->seq, seq + 2, __ATOMIC_RELEASE);
}

GM_EXPORT int gm__read(struct gm_space *s, uint64_t gpa, void *buf,
		       size_t len);
GM_EXPORT int gm__write(struct gm_space *s, uint64_t gpa, const void *buf,
			size_t len);

/*
 * A length known at compile time of 1, 2, 4 or 8 bytes is one access; 16
 * bytes at an 8-aligned address are two (a descriptor), which keeps the
 * promise of "Single-copy atomicity" above.
 */
#define GM__FAST_LEN(len)                                                     \
	(__builtin_constant_p(len) &&                                         \
	 ((len) == 1 || (len) == 2 || (len) == 4 || (len) == 8 || (len) == 16))

/* Copy @len bytes (GM__FAST_LEN()) between guest @g and @b: 0, or -1
 * for a 16-byte copy at a host address that is not 8-aligned. */
static inline __attribute__((always_inline)) int
gm__fast_copy(unsigned char *g, unsigned char *b, size_t len, int write)
{
	gm__ua64 *g64 = (gm__ua64 *)(void *)g;

#define GM__MOVE(T)                                                           \
	{                                                                     \
		T v;                                                          \
		if (write) {                                                  \
			memcpy(&v, b, sizeof(v));                             \
			*(volatile T *)(void *)g = v;                         \
		} else {                                                      \
			v = *(const volatile T *)(void *)g;                   \
			memcpy(b, &v, sizeof(v));                             \
		}                                                             \
	}
	switch (len) {
	case 1:
		GM__MOVE(gm__ua8)
		return 0;
	case 2:
		GM__MOVE(gm__ua16)
		return 0;
	case 4:
		GM__MOVE(gm__ua32)
		return 0;
	case 8:
		GM__MOVE(gm__ua64)
		return 0;
	}
#undef GM__MOVE
	if ((uintptr_t)g & 7)
		return -1;
	if (write) {
		uint64_t v[2];

		memcpy(v, b, sizeof(v));
		((volatile gm__ua64 *)g64)[0] = v[0];
		((volatile gm__ua64 *)g64)[1] = v[1];
	} else {
		uint64_t v[2];

		v[0] = ((const volatile gm__ua64 *)g64)[0];
		v[1] = ((const volatile gm__ua64 *)g64)[1];
		memcpy(b, v, sizeof(v));
	}
	return 0;
}

/*
 * gm_read() / gm_write() of a length GM__FAST_LEN() accepts, in the
 * thread's range or through the space's index: 1 when done, else 0 (the
 * caller calls the library).
 */
static inline __attribute__((always_inline)) int
gm__fast_bytes(struct gm_space *s, uint64_t gpa, unsigned char *buf,
	       size_t len, int write)
{
	struct gm__tcache *tc;
	uint64_t seq;
	unsigned char *p, *p2;
	int r;

	if (!GM__FAST_LEN(len) || GM__UNLIKELY(!s || !buf))
		return 0;
	r = gm__fast_enter(s, gpa, write, &p, len == 16 ? &p2 : NULL, &tc,
			   &seq);
	if (GM__LIKELY(r == 1)) {
		r = gm__fast_copy(p, buf, len, write);
		gm__fast_exit(tc, seq);
		return GM__LIKELY(!r);
	}
	if (r == 2) {
		gm__fast_copy(p, buf, 8, write);
		gm__fast_copy(p2, buf + 8, 8, write);
		gm__fast_exit(tc, seq);
		return 1;
	}
	return 0;
}

GM__HOT_INLINE int gm_read(struct gm_space *s, uint64_t gpa, void *buf,
			   size_t len)
{
	if (GM__LIKELY(gm__fast_bytes(s, gpa, (unsigned char *)buf, len, 0)))
		return 0;
	return gm__read(s, gpa, buf, len);
}

GM__HOT_INLINE int gm_write(struct gm_space *s, uint64_t gpa,
			    const void *buf, size_t len)
{
	/* gm__fast_bytes() only reads *buf when it writes guest memory. */
	if (GM__LIKELY(gm__fast_bytes(s, gpa, (unsigned char *)buf, len, 1)))
		return 0;
	return gm__write(s, gpa, buf, len);
}


/* Typed reads and writes, in byte order @ord (le, be, or ne: the host's). */
#define GM__SPACE_ENDIAN(sfx, T, bits, ord)                                   \
	GM_EXPORT int gm__read_##sfx(struct gm_space *s, uint64_t gpa,        \
				     T *val);                                 \
	GM_EXPORT int gm__write_##sfx(struct gm_space *s, uint64_t gpa,       \
				      T val);                                 \
	GM__HOT_INLINE int gm_read_##sfx(struct gm_space *s, uint64_t gpa,    \
					 T *val)                              \
	{                                                                     \
		struct gm__tcache *tc;                                        \
		uint64_t seq;                                                 \
		unsigned char *p;                                             \
                                                                              \
		if (GM__LIKELY(s && val) &&                                   \
		    GM__LIKELY(gm__fast_enter(s, gpa, 0, &p, NULL, &tc,       \
					      &seq))) {                       \
			T raw = *(const volatile gm__ua##bits *)(void *)p;    \
			gm__fast_exit(tc, seq);                               \
			*val = GM__ORD_##ord(bits, raw);                      \
			return 0;                                             \
		}                                                             \
		return gm__read_##sfx(s, gpa, val);                           \
	}                                                                     \
	GM__HOT_INLINE int gm_write_##sfx(struct gm_space *s, uint64_t gpa,   \
					  T val)                              \
	{                                                                     \
		struct gm__tcache *tc;                                        \
		uint64_t seq;                                                 \
		unsigned char *p;                                             \
                                                                              \
		if (GM__LIKELY(s != NULL) &&                                  \
		    GM__LIKELY(gm__fast_enter(s, gpa, 1, &p, NULL, &tc,       \
					      &seq))) {                       \
			*(volatile gm__ua##bits *)(void *)p =                 \
				GM__ORD_##ord(bits, val);                     \
			gm__fast_exit(tc, seq);                               \
			return 0;                                             \
		}                                                             \
		return gm__write_##sfx(s, gpa, val);                          \
	}
GM_ENDIAN_TYPES(GM__SPACE_ENDIAN)

/* Host byte order: the typed accessors of GM_INT_TYPES. */
#define GM__ORD_ne(bits, x) (x)
#define GM__SPACE_TYPED(sfx, T, bits) GM__SPACE_ENDIAN(sfx, T, bits, ne)
GM_INT_TYPES(GM__SPACE_TYPED)

/* Atomic loads and stores; a misaligned address or an order the operation
 * cannot take goes to the library, which reports it. */
#define GM__SPACE_ATOMIC(sfx, T, bits)                                        \
	GM_EXPORT int gm__atomic_load_##sfx(struct gm_space *s, uint64_t gpa, \
					    T *val, int order);               \
	GM_EXPORT int gm__atomic_store_##sfx(struct gm_space *s,              \
					     uint64_t gpa, T val, int order); \
	GM__HOT_INLINE int gm_atomic_load_##sfx(struct gm_space *s,           \
						uint64_t gpa, T *val,         \
						int order)                    \
	{                                                                     \
		struct gm__tcache *tc;                                        \
		uint64_t seq;                                                 \
		unsigned char *p;                                             \
                                                                              \
		if (GM__LIKELY(s && val && GM__ORDER_OK_LOAD(order) &&        \
			       !(gpa & (sizeof(T) - 1))) &&                   \
		    GM__LIKELY(gm__fast_enter(s, gpa, 0, &p, NULL, &tc,       \
					      &seq))) {                       \
			T v = __atomic_load_n((T *)(void *)p, order);         \
			gm__fast_exit(tc, seq);                               \
			*val = v;                                             \
			return 0;                                             \
		}                                                             \
		return gm__atomic_load_##sfx(s, gpa, val, order);             \
	}                                                                     \
	GM__HOT_INLINE int gm_atomic_store_##sfx(struct gm_space *s,          \
						 uint64_t gpa, T val,         \
						 int order)                   \
	{                                                                     \
		struct gm__tcache *tc;                                        \
		uint64_t seq;                                                 \
		unsigned char *p;                                             \
                                                                              \
		if (GM__LIKELY(s && GM__ORDER_OK_STORE(order) &&              \
			       !(gpa & (sizeof(T) - 1))) &&                   \
		    GM__LIKELY(gm__fast_enter(s, gpa, 1, &p, NULL, &tc,       \
					      &seq))) {                       \
			__atomic_store_n((T *)(void *)p, val, order);         \
			gm__fast_exit(tc, seq);                               \
			return 0;                                             \
		}                                                             \
		return gm__atomic_store_##sfx(s, gpa, val, order);            \
	}
GM_INT_TYPES(GM__SPACE_ATOMIC)

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_H */
