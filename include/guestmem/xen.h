/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libguestmem Xen backend: regions over a Xen domain's memory.
 *
 * Concepts
 * --------
 * Xen context (struct gm_xen): owns one libxenforeignmemory, one
 *   libxengnttab and one libxenctrl handle, opened once, and the mapping
 *   cache that all of its regions share.  Regions keep their context alive:
 *   gm_xen_close() drops the caller's reference and the handles are closed
 *   when the last region of the context is destroyed.
 *
 * Foreign region: guest-physical range [gpa, gpa + size) of domain @domid,
 *   backed by the domain's frames starting at frame @gfn.  For HVM and PVH
 *   guests (the device-model case) frames are guest frame numbers (GFNs);
 *   PV guests need machine frame numbers (MFNs), which this library does not
 *   translate.  Two modes:
 *   - on demand (default): an access maps the cache buckets that cover its
 *     range (buckets of the context's bucket_size, aligned), through the cache.
 *     The region reserves host address space as large as itself
 *     (PROT_NONE, MAP_NORESERVE: no memory) and maps each bucket in place
 *     there, so that an access to a bucket already mapped (without a
 *     failed page) is served without a cache lookup; when the reservation
 *     fails, buckets are mapped anywhere.  A failed map may leave a
 *     bucket's place to another mmap of the process, or leave it
 *     unusable: that bucket is then mapped elsewhere.  The reservation is
 *     a mapping of an empty memfd of the context's (one fd per context),
 *     which tells the region's own address space from another mmap's:
 *     when the region is destroyed it releases all of its own, and leaves
 *     another mmap's mapping alone;
 *   - eager (GM_XEN_EAGER): the whole region is mapped at creation, in
 *     bounded chunks of frames, into one contiguous host range.
 *
 * Grant region: the grant address space Linux's grant DMA uses: guest
 *   address GM_XEN_GRANT_ADDR(ref) = 1 << 63 | ref << 12, the refs of one
 *   buffer consecutive.  An access maps just the grant refs that cover its
 *   range, read-only when the access only reads (never RW first: Xen logs
 *   every failed grant map).  Grant maps are all-or-nothing.
 *
 * Grant copy (gm_xen_grant_copy): Xen copies between local buffers and
 *   (domain, grant ref, offset, length) segments, in either direction,
 *   without mapping anything: for backends that receive arbitrary refs
 *   (blkif, netif requests) and touch each one once.  Segments are
 *   checked before any copy, go to Xen in bounded batches, and each gets
 *   its own status (0 or a negative errno from Xen's GNTST_* code).
 *
 * Grant-ref list (gm_xen_grant_list_map): arbitrary grant refs of one
 *   domain (a blkif request's segments, a ring's pages), mapped in order
 *   by one call into one contiguous host range, all or nothing, until the
 *   caller unmaps the list; read through its address, one iovec per page,
 *   or a view (inline typed and atomic accessors on a shared ring page).
 *   By default outside the mapping cache: each list is its own mapping.
 *   With GM_XEN_GLIST_CACHED, for a frontend that reuses its grants
 *   (blkif feature-persistent, netfront's rx/tx pools), each ref is a
 *   one-page entry of the mapping cache, keyed by (domain, ref, writable),
 *   mapped once and shared by every list that names it: the list pins its
 *   entries until it is unmapped, unpinned entries count in the budget and
 *   are evicted with CLOCK, and gm_xen_grant_list_purge() releases a
 *   domain's entries when its frontend goes away.
 *
 * Mapping cache: buckets of a power-of-two size; at most `cache_bytes` of
 *   guest memory mapped at any time by the context; entries evicted with
 *   CLOCK when unpinned.  When views and leases pin the whole budget, an
 *   access that needs a new mapping fails with -ENOBUFS (an access that
 *   finds only other accesses' short-lived pins waits for them instead).
 *   A mapped bucket without failed pages is published to the library's
 *   accessors (guestmem/backend.h): an access to it takes no syscall, no
 *   lock, no atomic read-modify-write and no call into this backend, and
 *   a thread that uses one bucket twice in a row keeps it in its own
 *   lookup cache until the cache next unmaps anything.  What is not
 *   published (a miss, a bucket with a failed page, views and leases)
 *   takes the context's cache lock; eviction waits for accesses in
 *   progress, without that lock, before it unmaps.  Frames a guest gives
 *   back (ballooning) are dropped from the cache by rechecks: on misses,
 *   at most every gm_xen_options.recheck_ms, and by gm_xen_recheck().
 *
 * Errors: every foreign map passes an err[] array; a frame Xen refused is
 *   remembered, and an access that touches it fails with the errno Xen gave
 *   (usually -EFAULT, -EINVAL, -EPERM, -ESRCH) naming the exact guest
 *   address, without touching the page.  Paged-out frames (-ENOENT) are
 *   retried a bounded number of times, then fail with -ENOENT.  A failed
 *   grant map fails the access with the errno of the map, naming the grant
 *   range.  Nothing here aborts, exits or lets a bad frame raise SIGBUS.
 *
 * Threads: every function may be called from any thread; regions of one
 *   context may be accessed concurrently.  gm_xen_close() must not race with
 *   region creation on the same context.
 *
 * fork(): Xen handles and mappings must not be used in a child after
 *   fork(); a child must not access Xen regions inherited from its parent
 *   (open a new context instead).  Only freeing is safe there:
 *   gm_space_free(), gm_space_remove_region(), gm_region_destroy() and
 *   gm_xen_close(), whatever the parent's other threads were doing at fork
 *   time.  For that, fork() waits for the cache lock of every context, so
 *   that the child inherits every cache whole; mappings that another
 *   thread was evicting, or held for an access, at fork time stay mapped
 *   in the child until it exits.
 *
 * Builds without Xen (--with-xen=no): every function here returns
 * -EOPNOTSUPP (gm_xen_close and gm_xen_grant_list_unmap are no-ops,
 * gm_xen_grant_list_addr and gm_xen_grant_list_iov return NULL).
 */
#ifndef GUESTMEM_XEN_H
#define GUESTMEM_XEN_H

#include <stddef.h>
#include <stdint.h>

#include "../guestmem.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gm_xen;

/* Guest address of grant ref @ref in the grant address space. */
#define GM_XEN_GRANT_BASE (1ull << 63)
#define GM_XEN_GRANT_ADDR(ref) (GM_XEN_GRANT_BASE | ((uint64_t)(ref) << 12))

/* Region flags. */
#define GM_XEN_RDONLY 0x1u /* map read-only; writes fail with -EACCES */
#define GM_XEN_EAGER 0x2u  /* foreign: map the whole region at creation */
#define GM_XEN_FAULT_SAFE 0x4u /* gm_xen_space_open_domain(): the space is
				* created with GM_SPACE_FAULT_SAFE */

/* Most regions gm_xen_space_open_domain() gives one domain. */
#define GM_XEN_DOMAIN_MAX_REGIONS 1024u

/* gm_xen_options.recheck_ms: never recheck on a miss. */
#define GM_XEN_RECHECK_NEVER UINT32_MAX

/* Options for gm_xen_open(); zero fields take the default. */
struct gm_xen_options {
	size_t bucket_size;	    /* foreign bucket bytes, power of two,
				     * >= 4096 (default 64 KiB) */
	size_t cache_bytes;	    /* mapped-bytes budget (default 64 MiB) */
	unsigned int enoent_retries; /* paged-out retries (default 8) */
	unsigned int eager_chunk;    /* frames per eager map call
				      * (default 1024) */
	uint32_t recheck_ms;	    /* least time between two rechecks of
				     * the cached foreign frames on a miss
				     * (default 1000; GM_XEN_RECHECK_NEVER:
				     * only gm_xen_recheck()); since 0.7 */
	uint32_t reserved0;	    /* must be zero */
	uint64_t reserved[3];	    /* must be zero */
};

/* Counters of a context's mapping activity, for gm_xen_get_stats(). */
struct gm_xen_stats {
	uint64_t map_calls;	 /* foreign + grant map calls made */
	uint64_t unmap_calls;	 /* unmap calls made */
	uint64_t pages_mapped;	 /* pages mapped, in total */
	uint64_t hits;		 /* map calls answered by a cache lookup:
				  * views, leases, buckets with a failed
				  * page.  Accesses to a published bucket
				  * never reach the cache: not counted */
	uint64_t misses;	 /* accesses that had to map */
	uint64_t evictions;	 /* cache entries evicted */
	uint64_t failures;	 /* map calls or pages that failed */
	uint64_t retries;	 /* paged-out (-ENOENT) retries */
	uint64_t mapped_bytes;	 /* bytes mapped now by the cache and by
				  * views that span buckets (eager regions
				  * are not counted) */
	uint64_t peak_mapped_bytes; /* most ever mapped at once */
	uint64_t glist_hits;	 /* refs of GM_XEN_GLIST_CACHED lists found
				  * mapped in the cache (a ref it had to map
				  * counts in misses) */
	uint64_t rechecks;	 /* rechecks of the cached foreign frames
				  * (gm_xen_recheck() and on misses) */
	uint64_t recheck_drops;	 /* cache entries dropped by rechecks: a
				  * frame was given back, or a failed
				  * frame is populated again */
	uint64_t reserved[3];
};

/**
 * gm_xen_open() - open the Xen handles and create a mapping cache.
 * @out: receives the context.
 * @opts: options, or NULL for the defaults.
 *
 * Besides the Xen handles, the context holds one memfd (close-on-exec)
 * for the reservations of its regions (see "Foreign region" above), or
 * none if memfd_create() fails.
 *
 * Only libxenforeignmemory is required: when xengnttab_open or
 * xc_interface_open fails, the context opens anyway, and each function
 * that needs the missing handle fails with that open's errno.
 *
 * Return: 0, or -EINVAL (@out NULL, bucket size not a power of two,
 * < 4096 or > 1 GiB, budget smaller than one bucket, eager_chunk above
 * 2^20, reserved fields not zero), -ENOMEM, -EOPNOTSUPP (built without
 * Xen), or the errno of xenforeignmemory_open (-EACCES, -ENOENT when
 * /dev/xen/privcmd is missing: not running on Xen).
 */
GM_EXPORT int gm_xen_open(struct gm_xen **out,
			  const struct gm_xen_options *opts);

/**
 * gm_xen_close() - drop the caller's reference to a context.
 * @x: the context, or NULL.
 *
 * The handles are closed once the last region of @x is destroyed too.
 */
GM_EXPORT void gm_xen_close(struct gm_xen *x);

/**
 * gm_xen_foreign_region_new() - a region over a domain's frames.
 * @x: the context.
 * @domid: the domain.
 * @gpa: guest-physical base, page-aligned.
 * @size: bytes, a non-zero multiple of the page size.
 * @gfn: frame number that backs @gpa (for the device-model case,
 *       gpa >> 12).
 * @flags: GM_XEN_RDONLY, GM_XEN_EAGER.
 * @out: receives the region.
 *
 * Eager regions map every frame at creation: frames Xen refuses are
 * recorded and fail later accesses with their errno, for the region's
 * life (paged-out frames included, after the retries: recreate the region,
 * or use an on-demand region, where failed buckets are mapped again once
 * evicted, and paged-out frames on every access).  The creation fails if a
 * map call fails as a whole, or if not one frame could be mapped (-ESRCH
 * for a domain that does not exist).  When every frame mapped, the region
 * is persistent: accesses go straight to the mapping.
 *
 * Return: 0, or -EINVAL (bad argument, alignment, flags), -EOVERFLOW,
 * -ENOMEM, -EOPNOTSUPP, or (eager) the errno of the map call, e.g.
 * -ESRCH for a domain that does not exist.
 */
GM_EXPORT int gm_xen_foreign_region_new(struct gm_xen *x, uint32_t domid,
					uint64_t gpa, uint64_t size,
					uint64_t gfn, unsigned int flags,
					struct gm_region **out);

/**
 * gm_xen_grant_region_new() - a region over @count consecutive grant refs.
 * @x: the context.
 * @domid: the granting domain.
 * @gpa: where the region starts in the space, page-aligned.  For the grant
 *       address space of Linux's grant DMA, pass GM_XEN_GRANT_ADDR(first_ref);
 *       a device model may put the buffer anywhere else.
 * @first_ref: grant ref that backs @gpa; page i is backed by first_ref + i.
 * @count: number of refs, > 0.
 * @flags: GM_XEN_RDONLY (the refs are read-only grants: writes fail with
 *         -EACCES before any map is tried).
 * @out: receives the region.
 *
 * Nothing is mapped until an access needs it.
 *
 * Return: 0, or -EINVAL (NULL argument, @count 0, unaligned @gpa, unknown
 * flags, refs that wrap past 2^32), -EOVERFLOW (the region wraps past
 * 2^64), -ENOMEM, -EOPNOTSUPP, or the errno of xengnttab_open when the
 * context could not open libxengnttab (gntdev missing).
 */
GM_EXPORT int gm_xen_grant_region_new(struct gm_xen *x, uint32_t domid,
				      uint64_t gpa, uint32_t first_ref,
				      uint32_t count, unsigned int flags,
				      struct gm_region **out);

/**
 * gm_xen_space_open_domain() - a space over all of a domain's memory.
 * @x: the context.
 * @domid: the domain (HVM or PVH: frames are guest frame numbers).
 * @flags: GM_XEN_RDONLY, GM_XEN_EAGER, as for foreign regions, and
 *         GM_XEN_FAULT_SAFE.
 * @out: receives a new space named "domain-<domid>" with one foreign
 *       region per run of frames the domain populates (its RAM as the
 *       physmap has it now), region gpa = gfn * 4096.
 *
 * The physmap: the frames [0, max_gpfn] (xc_domain_maximum_gpfn()) are
 * classified with XEN_DOMCTL_getpageframeinfo3, one hypercall per 1024
 * frames (xc_get_pfn_type_batch(), which libxenctrl 4.17 exports without
 * declaring it): a frame of type XEN_DOMCTL_PFINFO_XTAB is not the guest's
 * RAM and is left out of every region, so that the space's holes are the
 * physmap's: the MMIO gap below 4 GiB, the ranges the toolstack left
 * empty, frames a balloon driver gave back, and Xen's own pages that the
 * guest placed in its physmap (shared_info, grant-table frames: they map,
 * but are not the guest's memory).  An access there fails with -EFAULT,
 * as in any hole of a space.  The cost is bounded by the domain's highest
 * frame, not its size: a PVH guest of 256 MiB has max_gpfn 0xfefff, 1020
 * hypercalls, 2 s under QEMU's emulation (tests/xen-qemu/README.md).  At
 * most GM_XEN_DOMAIN_MAX_REGIONS regions: beyond that, runs are merged
 * across their shortest gaps, whose frames then fail with -EINVAL.  When
 * Xen refuses the classification (an XSM policy, a stub domain without
 * the privilege), the space has one region [0, (max_gpfn + 1) * 4096) as
 * before, whose unpopulated frames fail with -EINVAL.
 *
 * The physmap is read once: frames the guest populates later are not
 * added (open the domain again), and frames it gives back later fail with
 * -EINVAL when mapped anew (a mapping already cached may still serve them:
 * see "Ballooning" at gm_xen_recheck()).
 *
 * Errors of an access, by the errno a foreign map gives a frame, and what
 * a domain space makes of them (guestmem(1) dump follows this):
 *   -EINVAL  the frame has no page of the guest's RAM behind it (Xen's
 *            p2m_add_foreign(): a hole, an MMIO range, a frame given back
 *            since the space was opened): a hole, not a failure; the
 *            guest has no memory there to read;
 *   -ESRCH   the domain does not exist any more, or is dying: a failure
 *            of the whole space (nothing more can be read);
 *   -ENOENT  the frame is paged out and stayed so after the retries
 *            (gm_xen_options.enoent_retries): a failure; the guest's
 *            memory exists but could not be read now;
 *   -EPERM, -EACCES  the security policy (XSM) or the frame's owner
 *            forbids the mapping: a failure;
 *   -EFAULT, -EBUSY, -ENOMEM, any other  a failure: the memory exists
 *            (it is in the physmap) and could not be read.
 *
 * Return: 0, or -EINVAL, -ENOMEM, -EOPNOTSUPP, -ESRCH (no such domain, or
 * it went away during the classification), -EOVERFLOW (an absurd highest
 * frame), or the errno of libxenctrl.
 */
GM_EXPORT int gm_xen_space_open_domain(struct gm_xen *x, uint32_t domid,
				       unsigned int flags,
				       struct gm_space **out);

/**
 * gm_xen_get_stats() - read the context's counters.
 *
 * Return: 0, or -EINVAL (NULL argument), -EOPNOTSUPP.
 */
GM_EXPORT int gm_xen_get_stats(struct gm_xen *x, struct gm_xen_stats *st);

/**
 * gm_xen_invalidate() - drop every cached mapping (after a balloon event).
 * @x: the context.
 *
 * Unmaps every unpinned cache entry now, the grant refs of cached lists
 * (GM_XEN_GLIST_CACHED) included.  Entries pinned by views, leases or
 * cached lists are not waited for: they are unlinked at once (no new
 * access or list finds them) and unmapped when their last pin is
 * released.  Frames
 * recorded as failed are forgotten, so the next access retries them.
 *
 * Return: the number of entries that were still pinned, or -EINVAL,
 * -EOPNOTSUPP.
 */
GM_EXPORT int gm_xen_invalidate(struct gm_xen *x);

/**
 * gm_xen_recheck() - drop cached mappings of frames a guest gave back.
 * @x: the context.
 *
 * Ballooning: a guest gives frames back to Xen (decrease_reservation:
 * its balloon driver after "xl mem-set", or its own grant and backend
 * drivers, with no toolstack involved).  On real Xen 4.17 a frame given
 * back while this process maps it stays mapped and readable (as zeros,
 * never the guest's data of later), stays allocated to the guest
 * (tot_pages does not drop) until it is unmapped, and a new map of it
 * fails with -EINVAL; XEN_DOMCTL_getpageframeinfo3 reports it
 * XEN_DOMCTL_PFINFO_XTAB at once (tests/xen-qemu/probe-physmap.c).
 * tot_pages and max_pages tell nothing sound: the first does not move
 * while the frames are mapped, the second moves only for "xl mem-set".
 *
 * A recheck therefore classifies every frame of the cache's foreign
 * entries (views' and leases' too) with getpageframeinfo3, one hypercall
 * per 1024 cached frames (16 for the default 64 MiB budget), and drops
 * each entry that maps a frame now XTAB, or that recorded a frame as
 * failed (-EINVAL) which is populated again: unpinned entries are
 * unmapped now, so that Xen can free the frames; pinned ones are unlinked
 * at once (no new access finds them) and unmapped when their last pin
 * goes, as with gm_xen_invalidate().  Xen pages the guest placed in its
 * physmap (shared_info, grant frames) are XTAB too: an entry that maps
 * one is dropped by every recheck and mapped again by its next access.
 * Grant entries and eager regions are not rechecked.
 *
 * On a miss: the cache rechecks by itself, on the miss path only, when
 * at least gm_xen_options.recheck_ms have passed since the previous
 * recheck (before mapping, under the cache's lock: other misses wait
 * for it; hits never do).  So a frame given back is served from the
 * cache at most until the first miss that comes recheck_ms after the
 * previous recheck.  A caller whose accesses all hit (its working set
 * fits the budget) gets no misses, and must call gm_xen_recheck() itself,
 * e.g. from a timer, to bound that time.  What a view or a lease already
 * holds is the caller's: release them to let a recheck unmap their
 * frames.
 *
 * Threads: may be called from any thread, while others access the
 * context's regions.
 *
 * Return: the number of entries dropped (0: every cached frame is still
 * the guest's), or -EINVAL (@x NULL), -EOPNOTSUPP (built without Xen), the
 * errno of xc_interface_open (libxenctrl could not be opened), or the
 * errno of the hypercall (-EPERM: no privilege over a domain; -ESRCH: a
 * domain went away): entries of domains checked before it were dropped,
 * the rest are kept.
 */
GM_EXPORT int gm_xen_recheck(struct gm_xen *x);

/* ------------------------------------------------------------------ */
/* Grant copy                                                          */
/* ------------------------------------------------------------------ */

/* Direction of a struct gm_xen_copy_seg: exactly one must be set. */
#define GM_XEN_COPY_FROM_GRANT 0x1u /* granted page -> buf (a read) */
#define GM_XEN_COPY_TO_GRANT 0x2u   /* buf -> granted page (a write) */

/* Most segments one gm_xen_grant_copy() call takes. */
#define GM_XEN_COPY_MAX 65536u
/* Segments per xengnttab_grant_copy() call: gm_xen_grant_copy() splits a
 * longer array into batches of this many, on the stack. */
#define GM_XEN_COPY_BATCH 64u

/*
 * One segment of a grant copy: @len bytes between local memory at @buf and
 * byte @offset of the page that domain @domid granted us as @ref.  32
 * bytes; the caller owns the array.
 */
struct gm_xen_copy_seg {
	void *buf;	 /* local memory: @len bytes, any alignment, may
			  * cross pages */
	uint32_t domid;	 /* the granting domain (a domid_t: <= 0xffff) */
	uint32_t ref;	 /* the grant reference */
	uint32_t offset; /* byte offset in the granted page */
	uint32_t len;	 /* bytes, 1 .. 4096 - @offset */
	uint32_t flags;	 /* GM_XEN_COPY_FROM_GRANT or GM_XEN_COPY_TO_GRANT */
	int32_t status;	 /* out: 0, or a negative errno (see below) */
};

/**
 * gm_xen_grant_copy() - copy between local buffers and granted pages.
 * @x: the context (its libxengnttab handle).
 * @segs: @n segments; only their status fields are written.
 * @n: the number of segments, 0 .. GM_XEN_COPY_MAX (0: nothing to do).
 *
 * Xen copies each segment itself (GNTTABOP_copy, through gntdev's
 * IOCTL_GNTDEV_GRANT_COPY): nothing is mapped into this process and the
 * mapping cache is neither used nor disturbed.  The caller's grants need
 * not be consecutive, nor of one domain.  Segments are checked first, all
 * of them: if any is malformed (NULL @buf, @len 0, @offset + @len beyond
 * the 4096-byte page, unknown or no or both direction flags, @domid above
 * 0xffff), nothing is copied, no call reaches Xen, and the function fails
 * with -EINVAL.  Otherwise the segments go to Xen in order, in batches of
 * GM_XEN_COPY_BATCH per call (no memory is allocated); a segment that
 * fails does not stop the others.
 *
 * Every status is written (unless @segs is NULL or @n is above
 * GM_XEN_COPY_MAX): 0 (copied), -ECANCELED (not attempted: the call was
 * refused, or stopped at an earlier batch), or the segment's error.
 * The errors of a segment, from Xen's GNTST_* status:
 *   -ESRCH   GNTST_bad_domain: @domid names no domain (or a dying one);
 *   -EINVAL  GNTST_bad_gntref: @ref is beyond the domain's grant table;
 *            also a malformed segment, found before any copy;
 *   -EACCES  GNTST_general_error: the entry does not grant this domain
 *            that access: @ref is not in use, is granted to another
 *            domain, or is read-only and the segment copies into it
 *            (real Xen 4.17 reports all of these alike), or Xen could not
 *            take the page for writing;
 *   -EPERM   GNTST_permission_denied: the security policy (XSM) forbids
 *            copies between these domains;
 *   -EFAULT  GNTST_bad_page: the granted frame is not a usable page;
 *   -EAGAIN  GNTST_eagain: the frame is paged out or being changed: try
 *            again later (the library does not retry);
 *   -EIO     any other status.
 * A batch that Xen's libraries refuse as a whole (the xengnttab_grant_copy
 * call fails) gives every one of its segments that call's error (its
 * segments may have been copied in part: gntdev copies as it goes), e.g.
 * -EFAULT for a @buf the kernel cannot read, or write for
 * GM_XEN_COPY_FROM_GRANT; the later batches are not attempted
 * (-ECANCELED).
 *
 * Threads: any number of threads may copy through one context at once,
 * and while its regions are accessed: each batch is one ioctl on the
 * context's gntdev handle, and gntdev keeps no state between copies.  A
 * segment array must not be shared by concurrent calls, and a buffer being
 * copied into must not be read until the call returns.
 *
 * Return: 0 when every segment was copied; else the first failure's error
 * (in array order: the error of the first failed segment, or of the batch
 * call that failed), with gm_last_error() naming that segment (its index,
 * direction, domain, ref, offset and length) and how many failed in all.
 * Besides the segment errors above: -EINVAL (@x NULL, @segs NULL with @n
 * non-zero, @n above GM_XEN_COPY_MAX), -EOPNOTSUPP (built without Xen), or
 * the errno of xengnttab_open when the context could not open libxengnttab
 * (every status -ECANCELED).
 */
GM_EXPORT int gm_xen_grant_copy(struct gm_xen *x, struct gm_xen_copy_seg *segs,
				unsigned int n);

/* ------------------------------------------------------------------ */
/* Grant-ref lists                                                     */
/* ------------------------------------------------------------------ */

/* Most refs one gm_xen_grant_list_map() call maps (16 MiB of pages). */
#define GM_XEN_GRANT_LIST_MAX 4096u

/* In the @prot of gm_xen_grant_list_map(): map the refs through the
 * context's mapping cache, one entry per ref. */
#define GM_XEN_GLIST_CACHED 0x100

struct gm_xen_grant_list;

/**
 * gm_xen_grant_list_map() - map a list of grant refs of one domain.
 * @x: the context (its libxengnttab handle).
 * @domid: the granting domain.
 * @refs: @count grant refs, in any order, repeats allowed; page i of the
 *        mapping is the page granted as refs[i].  Not kept after the call.
 * @count: 1 .. GM_XEN_GRANT_LIST_MAX.
 * @prot: GM_PROT_READ, or GM_PROT_READ | GM_PROT_WRITE, either with or
 *        without GM_XEN_GLIST_CACHED (see "Cached lists" below).  A
 *        read-only list is mapped read-only, never read-write first (a
 *        read-only grant refuses a writable map, and Xen logs every failed
 *        grant map).
 * @out: receives the list; NULL on failure.
 *
 * For the classic PV backends (blkback's segments, a ring's pages), which
 * receive arbitrary refs: one xengnttab_map_domain_grant_refs() call maps
 * all of @refs, in order, into one contiguous host range that stays valid
 * until gm_xen_grant_list_unmap().  The mapping cache is not involved: a
 * list is mapped on every call (a ref mapped twice is two mappings), and
 * its pages are not counted in the cache's budget nor in
 * gm_xen_stats.mapped_bytes (map_calls, unmap_calls, pages_mapped and
 * failures do count them).  Memory: one allocation of about
 * 64 + 16 * @count bytes (the list and its iovec array).  The list holds
 * a reference to @x: gm_xen_close() may come first.
 *
 * All or nothing: if Xen refuses any ref, nothing stays mapped and the
 * call fails.  Linux's gntdev refuses the whole map with EINVAL for any
 * ref whose GNTST_* status is not okay and does not say which: so the
 * error is -EINVAL for every refused ref (a domain that does not exist, a
 * ref beyond the table, not in use, granted to another domain, a
 * read-only grant in a list mapped with GM_PROT_WRITE, a revoked frame),
 * as for grant regions.  To name the culprits, the library then reads one
 * byte of each ref with a grant copy (no mapping, so nothing more for Xen
 * to log) and gm_last_error() names the domain and up to four failing
 * refs, by index and ref, with the copy's error (see gm_xen_grant_copy()).
 * A read-only grant passes that read: when no ref fails it, a list mapped
 * with GM_PROT_WRITE is said to hold a read-only grant (or one the guest
 * changed since).
 *
 * Cached lists (GM_XEN_GLIST_CACHED in @prot): for a frontend that reuses
 * its grants (blkif feature-persistent, netfront's rx/tx pools), so that
 * each ref is mapped once rather than per request.  Each ref of the list
 * is its own one-page entry of the context's mapping cache, keyed by
 * (@domid, ref, writable): the same ref number of two domains is two
 * entries.  A ref that has an entry is not mapped again: a writable entry
 * serves a read-only list too; a read-only entry does not serve a
 * writable list, which maps a writable entry that replaces the read-only
 * one (unlinked at once; unmapped when the last list that pins it is
 * unmapped).  A ref without an entry is mapped by its own
 * xengnttab_map_grant_ref() call, one call per missing ref (one call for
 * a run of refs would give one mapping, which libxengnttab cannot unmap
 * page by page, and entries are evicted one by one); a ref repeated in
 * the list is mapped once.  Still all or nothing: the refs are mapped in
 * order, and the first one Xen refuses fails the call, with
 * gm_last_error() naming the domain, that ref and its index (refs after
 * it are not tried); the entries the call made are unmapped and the pins
 * it took are dropped, so it leaves no new entry and no pin.  The list
 * pins its entries until gm_xen_grant_list_unmap(); unpinned entries stay
 * cached, count in the budget (`cache_bytes`) and are evicted with CLOCK
 * like other entries.  Pages are counted like other entries: map_calls,
 * pages_mapped, misses, mapped_bytes, evictions; refs found mapped count
 * in glist_hits.  When pinned entries fill the budget the call fails with
 * -ENOBUFS (unmap lists, or open the context with a larger budget).  The
 * pages of a cached list are not contiguous unless @count is 1:
 * gm_xen_grant_list_iov() gives each page's address,
 * gm_xen_grant_list_addr() gives NULL and gm_xen_grant_list_view() fails
 * with -EINVAL for a longer list.  gm_xen_grant_list_purge() unmaps the
 * unpinned entries of a domain, and gm_xen_invalidate() those of every
 * domain.  Memory: the list is about 64 + 24 * @count bytes, each entry
 * about 100 bytes until it is unmapped.
 *
 * Threads: any number of threads may map and unmap lists of one context
 * at once, cached or not, with overlapping refs, and while its regions
 * are accessed and its grants copied.  A list's pages may be used from
 * any thread; one list must not be unmapped twice, nor while another
 * thread still uses its memory.  Cached lists take the context's cache
 * lock once per map call (not per ref).
 *
 * fork(): gntdev mappings are not inherited: in a child, a list's memory
 * is not mapped (touching it faults), cached or not.  The child may only
 * gm_xen_grant_list_unmap() it, which frees the list and leaves the
 * parent's mapping alone.
 *
 * Return: 0, or -EINVAL (@x, @refs or @out NULL, @count 0 or above
 * GM_XEN_GRANT_LIST_MAX, @prot not one of the four above, @domid above
 * 0xffff; or a ref Xen refused, see above), -ENOBUFS (cached: pinned
 * entries fill the cache's budget), -ENOMEM, -EOPNOTSUPP (built without
 * Xen), the errno of xengnttab_open when the context could not open
 * libxengnttab, or another errno of the map call (-ENOMEM: gntdev's limit
 * on mapped grants).
 */
GM_EXPORT int gm_xen_grant_list_map(struct gm_xen *x, uint32_t domid,
				    const uint32_t *refs, unsigned int count,
				    int prot, struct gm_xen_grant_list **out);

/**
 * gm_xen_grant_list_unmap() - unmap every page of a list and free it.
 * @l: the list, or NULL (a no-op).
 *
 * Every pointer, iovec and view taken from @l is invalid afterwards.  A
 * cached list (GM_XEN_GLIST_CACHED) only drops its pins: its entries stay
 * mapped in the cache until evicted, purged or invalidated.
 */
GM_EXPORT void gm_xen_grant_list_unmap(struct gm_xen_grant_list *l);

/**
 * gm_xen_grant_list_addr() - the host address of a list's mapping.
 * @l: the list.
 * @len: if not NULL, receives the mapping's length: count * 4096.
 *
 * Page i (refs[i] of the map call) is at the returned address + i * 4096.
 * For fields that the guest writes concurrently, prefer a view's typed
 * and atomic accessors (gm_xen_grant_list_view()).
 *
 * A cached list (GM_XEN_GLIST_CACHED) is contiguous only when its count
 * is 1: for a longer one this gives NULL and *len = 0 (use
 * gm_xen_grant_list_iov()).
 *
 * Return: the address, valid until gm_xen_grant_list_unmap(), or NULL
 * (@l NULL, or a cached list of more than one page).
 */
GM_EXPORT void *gm_xen_grant_list_addr(const struct gm_xen_grant_list *l,
				       size_t *len);

/**
 * gm_xen_grant_list_iov() - a list's pages as an iovec array.
 * @l: the list.
 * @niov: if not NULL, receives the number of iovecs: the list's count.
 *
 * One iovec per page, never merged, so that iovec i is the page of
 * refs[i] (a blkif segment's page: its sectors are a sub-range of it).
 * Pass them, or slices of them, to preadv/pwritev or io_uring.  For a
 * cached list (GM_XEN_GLIST_CACHED) the pages are the cache entries',
 * anywhere in the address space; a ref repeated in the list gives the
 * same address twice.
 *
 * Return: the array, owned by @l and valid until
 * gm_xen_grant_list_unmap(), or NULL (@l NULL).
 */
GM_EXPORT const struct iovec *
gm_xen_grant_list_iov(const struct gm_xen_grant_list *l, int *niov);

/**
 * gm_xen_grant_list_view() - a view over a list's mapping.
 * @l: the list.
 * @v: the view to fill; zeroed on failure.
 *
 * The view covers [0, count * 4096): its "guest addresses" are offsets
 * into the list (page i at i * 4096), with the list's protection, so that
 * every inline gm_view_* accessor works on it (typed values, and atomics
 * on a shared ring page's producer and consumer indexes).  It belongs to
 * no region: gm_view_put() on it is a no-op (it may be called), and it
 * stays valid until gm_xen_grant_list_unmap(), not one moment longer.
 * A cached list (GM_XEN_GLIST_CACHED) has a view only when its count is
 * 1 (its pages are not contiguous otherwise).
 *
 * Return: 0, or -EINVAL (NULL argument, or a cached list of more than one
 * page), -EOPNOTSUPP (built without Xen).
 */
GM_EXPORT int gm_xen_grant_list_view(const struct gm_xen_grant_list *l,
				     struct gm_view *v);

/**
 * gm_xen_grant_list_purge() - unmap a domain's cached grant refs.
 * @x: the context.
 * @domid: the granting domain.
 *
 * Unmaps every cache entry that GM_XEN_GLIST_CACHED lists made for
 * @domid's refs and that no live list pins, so that the domain's grants
 * are released: a backend calls it when its frontend disconnects (the
 * frontend then may end its grants without Xen keeping the pages busy).
 * Entries that live lists still pin stay mapped and cached; unmap those
 * lists and call it again.  Other domains' entries and regions' entries
 * are left alone.  Threads: may run while other threads map and unmap
 * lists; entries that a list maps meanwhile may stay.
 *
 * Return: 0 when no entry of @domid is left, -EBUSY when some are still
 * pinned by live lists (they stay), -EINVAL (@x NULL), -EOPNOTSUPP (built
 * without Xen).
 */
GM_EXPORT int gm_xen_grant_list_purge(struct gm_xen *x, uint32_t domid);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_XEN_H */
