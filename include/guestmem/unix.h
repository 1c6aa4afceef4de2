/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libguestmem unix backend: regions over ordinary process memory.
 *
 * Concepts
 * --------
 * A unix region is mapped once, at creation, for its whole life (a
 * persistent region), from one of:
 *  - anonymous memory, private or shared (shared survives fork());
 *  - a file or memfd at a page-aligned offset (MAP_SHARED: writes reach the
 *    file; the fd is duplicated, the caller keeps its own);
 *  - a new memfd the backend creates (vhost-user style sharing: another
 *    process can map the same memory through gm_unix_region_fd()).
 * Regions are created with MAP_NORESERVE, so a large sparse guest costs
 * only the pages it touches.  GM_UNIX_RDONLY maps the region read-only: a
 * write through the space fails with -EACCES and writes nothing.
 *
 * gpa and size must be multiples of the host page size (of the huge page
 * size for hugetlbfs files).
 *
 * Thread safety: the constructors are independent.  The query functions
 * and gm_unix_region_discard() may run concurrently with any access; the
 * region must stay alive meanwhile (in a space, or held by a view or
 * lease).
 */
#ifndef GUESTMEM_UNIX_H
#define GUESTMEM_UNIX_H

#include <stdint.h>

#include "../guestmem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for the gm_unix_region_new_*() constructors. */
#define GM_UNIX_RDONLY 0x1u /* map read-only; writes fail with -EACCES */
#define GM_UNIX_SHARED 0x2u /* anonymous: MAP_SHARED instead of private */

/**
 * gm_unix_region_new_anon() - a region over new anonymous memory (zeroed).
 * @gpa: guest-physical base, page-aligned.
 * @size: bytes, a non-zero multiple of the page size.
 * @flags: GM_UNIX_RDONLY, GM_UNIX_SHARED.
 * @out: receives the region (owned by the caller until added to a space),
 *       or NULL on failure.
 *
 * Return: 0, or -EINVAL (@out NULL, unaligned @gpa or @size, size 0,
 * unknown flags), -EOVERFLOW (the region's last byte, gpa + size - 1, lies
 * past 2^64), -ENOMEM (out of memory, or @size above PTRDIFF_MAX, more than
 * any address space holds), or mmap's error.
 */
GM_EXPORT int gm_unix_region_new_anon(uint64_t gpa, uint64_t size,
				      unsigned int flags,
				      struct gm_region **out);

/**
 * gm_unix_region_new_fd() - a region over a file or memfd.
 * @gpa: guest-physical base, page-aligned.
 * @size: bytes, a non-zero multiple of the page size.
 * @fd: the file; duplicated (F_DUPFD_CLOEXEC), the caller keeps @fd.
 * @offset: page-aligned offset of @gpa's byte in the file.
 * @flags: GM_UNIX_RDONLY (GM_UNIX_SHARED is implied and refused).
 * @out: receives the region, or NULL on failure.
 *
 * @fd must be open for reading and writing, or for reading only when
 * @flags has GM_UNIX_RDONLY.  On hugetlbfs, @gpa, @size and @offset must
 * be multiples of the huge page size.  The file must already be at least
 * @offset + @size bytes long; accessing pages past its end later (someone
 * truncated it) raises SIGBUS in the accessing thread unless the space is
 * fault-safe.
 *
 * Return: 0, or
 *  -EINVAL    @out NULL, size 0, unaligned @gpa, @size or @offset, @offset
 *             negative, unknown flags or GM_UNIX_SHARED, or @fd not a
 *             regular file or memfd (a pipe, a directory, a device);
 *  -EOVERFLOW gpa + size - 1 lies past 2^64, or @offset + @size past the
 *             largest file offset;
 *  -EBADF     @fd not open;
 *  -EACCES    @fd open write-only, or read-only without GM_UNIX_RDONLY;
 *  -ENXIO     the file is shorter than @offset + @size;
 *  -ENOMEM    out of memory, or @size above PTRDIFF_MAX;
 *  or the error of fcntl/fstat/fstatfs/mmap.
 */
GM_EXPORT int gm_unix_region_new_fd(uint64_t gpa, uint64_t size, int fd,
				    int64_t offset, unsigned int flags,
				    struct gm_region **out);

/**
 * gm_unix_region_new_memfd() - a region over a new memfd of @size bytes.
 * @gpa, @size, @flags, @out: as gm_unix_region_new_anon() (GM_UNIX_SHARED is
 * implied and ignored).
 *
 * Return: as gm_unix_region_new_anon(), or the error of memfd_create
 * (-ENOSYS without memfd support) or ftruncate.
 */
GM_EXPORT int gm_unix_region_new_memfd(uint64_t gpa, uint64_t size,
				       unsigned int flags,
				       struct gm_region **out);

/**
 * gm_unix_region_fd() - the fd and file offset behind a region.
 * @r: a unix region.
 * @fd: receives the region's own fd (owned by the region: dup it to keep
 *      it), or -1 for anonymous memory.  Close-on-exec is set on it.
 * @offset: receives the file offset of the region's first byte (0 for
 *          anonymous memory).
 *
 * Return: 0, -EINVAL (a NULL argument or @r not a unix region), -ENODEV
 * (anonymous memory, shared or not: it has no fd).
 */
GM_EXPORT int gm_unix_region_fd(const struct gm_region *r, int *fd,
				int64_t *offset);

/**
 * gm_unix_region_is_hugetlb() - whether the region's memory is hugetlbfs.
 * @r: a unix region.
 *
 * Decided at creation (fstatfs() of the fd); anonymous memory is never
 * hugetlbfs, whatever transparent huge pages do with it.
 *
 * Return: 1 if it is, 0 if not, -EINVAL (NULL or not a unix region).
 */
GM_EXPORT int gm_unix_region_is_hugetlb(const struct gm_region *r);

/**
 * gm_unix_region_discard() - drop the contents of [off, off + len).
 * @r: a unix region (not read-only).
 * @off: offset in the region, page-aligned (huge-page-aligned on hugetlbfs).
 * @len: bytes, a non-zero multiple of the same page size.
 *
 * The range reads back as zero afterwards and gives its memory back
 * (MADV_REMOVE / fallocate punch hole for shared or file memory,
 * MADV_DONTNEED for private anonymous memory).
 *
 * Return: 0, or -EINVAL (bad argument, alignment, range past the region's
 * end, not a unix region), -EACCES (read-only region), or the error of
 * madvise/fallocate (-EOPNOTSUPP: the file system cannot punch holes).
 */
GM_EXPORT int gm_unix_region_discard(struct gm_region *r, uint64_t off,
				     uint64_t len);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_UNIX_H */
