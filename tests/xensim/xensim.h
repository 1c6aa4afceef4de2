/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xensim: a simulator of the parts of libxenforeignmemory, libxengnttab and
 * libxenctrl that libguestmem's Xen backend uses.  Tests link the backend
 * against libxensim.la instead of the real libraries.
 *
 * Concepts
 * --------
 * A simulated domain is backed by one memfd of nr_pages * 4096 bytes.  Every
 * mapping the simulated libraries hand out maps pages of that memfd
 * (MAP_SHARED, MAP_FIXED into one reserved range), so two mappings of one
 * frame alias each other and the domain's own view, as on Xen, and map and
 * unmap cost real mmap/munmap system calls.
 *
 * The simulated libraries implement exactly these functions, with the
 * signatures of the installed Xen 4.17 headers:
 *   xenforeignmemory_open, _close, _map, _map2, _unmap;
 *   xengnttab_open, _close, _map_grant_ref, _map_grant_refs,
 *   _map_domain_grant_refs, _unmap, _set_max_grants, _grant_copy;
 *   xc_interface_open, xc_interface_close, xc_domain_getinfolist,
 *   xc_domain_maximum_gpfn, xc_get_pfn_type_batch (exported by
 *   libxenctrl 4.17, declared only in its private header).
 * (xc_domain_getinfo_single() does not exist in 4.17; it appeared in 4.18.
 * Use xc_domain_getinfolist(xch, domid, 1, &info) and check that
 * info.domain == domid: the call returns the next domain at or above domid.)
 *
 * Where Xen's behaviour is unclear or varies, the simulator is stricter than
 * Xen, never kinder.  tests/xensim/README.md lists every such choice.
 *
 * This header is the control API for tests: create domains and grants,
 * pick the caller's domain id, inject failures, revoke frames under live
 * mappings and read counters.  Control functions return 0 (or a value) on
 * success and a negative errno on failure.
 *
 * Thread safety: every function, simulated or control, may be called from
 * any thread; one internal mutex serialises them.
 *
 * Fork: simulated mappings are MADV_DONTFORK (privcmd and gntdev mappings
 * are VM_DONTCOPY), so a child does not have them.  Handles opened by the
 * parent fail with EBADF in the child, except for close, which is allowed.
 */
#ifndef XENSIM_H
#define XENSIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The simulated page size; Xen's and the host's (checked at creation). */
#define XENSIM_PAGE_SIZE 4096u

/* Entries in each domain's simulated grant table (64 v1 frames of 512). */
#define XENSIM_GNTTAB_ENTRIES 32768u

/* First grant ref handed out by default: refs below are reserved by Xen. */
#define XENSIM_GREF_BASE 8u

/* Most grants one xengnttab_map_* call may map (Linux gntdev "limit"). */
#define XENSIM_GNTDEV_MAX_PER_CALL 65536u

/* Default per-handle limit on simultaneously mapped grant pages. */
#define XENSIM_DEFAULT_MAX_GRANTS 65536u

/* ---- domains ---- */

/* Flags of xensim_domain_create() and xensim_domain_set_flags(). */
#define XENSIM_DOM_HVM 0x1u    /* reported as XEN_DOMINF_hvm_guest | hap */
#define XENSIM_DOM_PAUSED 0x2u /* reported as XEN_DOMINF_paused */
#define XENSIM_DOM_DYING 0x4u  /* reported dying; maps fail as if gone */

/**
 * xensim_domain_create() - create a simulated domain.
 * @domid: its id, below DOMID_FIRST_RESERVED (0x7ff0).  0 is allowed (a
 *         domain that shares grants with itself), but a foreign map of the
 *         caller's own id always fails with -ESRCH.
 * @nr_pages: its memory, gfns 0 .. nr_pages - 1, zero-filled.  At most
 *            2^26 pages (256 GiB of sparse memfd).
 * @flags: XENSIM_DOM_*.
 *
 * tot_pages and max_pages are reported as nr_pages, the maximum gpfn as
 * nr_pages - 1 (see xensim_domain_set_max_gpfn()).
 *
 * Return: 0, or -EINVAL (bad id, nr_pages 0 or too large, unknown flags),
 * -EEXIST (id in use), -EOPNOTSUPP (host page size is not 4096), -ENOMEM,
 * or the errno of memfd_create/ftruncate/mmap.
 */
int xensim_domain_create(uint32_t domid, uint64_t nr_pages, unsigned int flags);

/**
 * xensim_domain_destroy() - destroy a domain, as if it died.
 *
 * Every live mapping of its frames (foreign or grant) turns into pages that
 * raise SIGBUS when touched, as a dead guest's frames would; the mappings
 * stay registered until their owner unmaps them.  Its grants vanish.
 *
 * Return: 0 or -ESRCH (no such domain).
 */
int xensim_domain_destroy(uint32_t domid);

/* Replace a domain's XENSIM_DOM_* flags.  Return: 0, -ESRCH or -EINVAL. */
int xensim_domain_set_flags(uint32_t domid, unsigned int flags);

/**
 * xensim_domain_set_max_gpfn() - what xc_domain_maximum_gpfn() reports.
 *
 * HVM guests have holes, so their maximum gpfn is usually far above
 * nr_pages; gfns at or above nr_pages still fail to map (-EINVAL).
 *
 * Return: 0 or -ESRCH.
 */
int xensim_domain_set_max_gpfn(uint32_t domid, uint64_t max_gpfn);

/**
 * xensim_domain_set_populated() - lay out the domain's physmap.
 * @populated: 0: frames [gfn, gfn + count) become holes, 1: RAM again.
 *
 * What the toolstack does when it builds an HVM/PVH guest: a hole is a
 * frame with no page (a foreign map gives -EINVAL, getpageframeinfo3
 * XEN_DOMCTL_PFINFO_XTAB).  Live mappings are not touched (see
 * xensim_domain_decrease_reservation() for a guest giving frames back).
 * Frames made RAM again read as zeros.
 *
 * Return: 0, -ESRCH, -EINVAL (range beyond nr_pages), -ENOMEM.
 */
int xensim_domain_set_populated(uint32_t domid, uint64_t gfn, uint64_t count,
				int populated);

/**
 * xensim_domain_decrease_reservation() - the guest gives frames back.
 *
 * As real Xen 4.17 behaved with a Linux guest ballooning down
 * (tests/xen-qemu/probe-physmap.c): each frame of [gfn, gfn + count)
 * becomes a hole at once (new foreign maps give -EINVAL,
 * getpageframeinfo3 XTAB); a live mapping of it keeps a page that reads
 * as zeros (the guest scrubbed it) and no longer aliases the guest's
 * memory, and the page stays counted in tot_pages until the last such
 * mapping is unmapped.  max_pages is not changed (the toolstack's "xl
 * mem-set" lowers it: xensim_domain_set_max_pages()).
 *
 * Return: 0, -ESRCH, -EINVAL (a frame beyond nr_pages or not populated:
 * nothing is done), -ENOMEM.
 */
int xensim_domain_decrease_reservation(uint32_t domid, uint64_t gfn,
				       uint64_t count);

/* What xc_domain_getinfolist() reports as max_pages (default nr_pages).
 * Return: 0 or -ESRCH. */
int xensim_domain_set_max_pages(uint32_t domid, uint64_t max_pages);

/**
 * xensim_domain_mem() - the guest's own view of its memory.
 *
 * A read-write mapping of the whole memfd, owned by the simulator, valid
 * until the domain is destroyed.  It is not counted as a mapping and is
 * never revoked: tests use it to play the guest.
 *
 * Return: the address, or NULL if there is no such domain.
 */
void *xensim_domain_mem(uint32_t domid);

/* ---- the caller ---- */

/*
 * Set the domain id of the process using the simulated libraries (default
 * 0, dom0).  Foreign maps of that id, or of DOMID_SELF, fail with -ESRCH
 * per page, and grants must be granted to that id to be mapped.
 */
void xensim_set_caller(uint32_t domid);
uint32_t xensim_caller(void);

/* ---- frames ---- */

/**
 * xensim_frame_set_error() - make foreign maps of one frame fail.
 * @err: the NEGATIVE errno that err[i] gets (-ENOENT = paged out, -EFAULT,
 *       -ESRCH, ...); 0 clears the frame's injected error.
 * @times: how many page-map attempts fail (each page of each
 *         xenforeignmemory_map/map2 call naming the frame is one attempt);
 *         afterwards the frame maps again.  -1 = until cleared.
 *
 * Only foreign maps consult these errors; grant maps and copies do not.
 *
 * Return: 0, -ESRCH (no domain), -EINVAL (gfn >= nr_pages, err > 0 or
 * times < -1 or 0 with a non-zero err).
 */
int xensim_frame_set_error(uint32_t domid, uint64_t gfn, int err, int times);

/**
 * xensim_frame_revoke() - take a frame away, as ballooning out would.
 *
 * Every live mapping of the frame, foreign or grant, in every handle, has
 * that page replaced by one that raises SIGBUS when touched.  Later foreign
 * maps of the frame fail with -EINVAL per page, later grant maps of a grant
 * of it fail (EINVAL) and grant copies get GNTST_general_error, until
 * xensim_frame_restore().  The domain's own view keeps the data.
 *
 * Return: 0, -ESRCH or -EINVAL (gfn >= nr_pages).
 */
int xensim_frame_revoke(uint32_t domid, uint64_t gfn);

/* Let a revoked frame be mapped again.  Pages already turned into SIGBUS
 * pages stay so.  Return: 0, -ESRCH or -EINVAL. */
int xensim_frame_restore(uint32_t domid, uint64_t gfn);

/* ---- grants ---- */

/**
 * xensim_grant_share_to() - domain @domid grants frame @gfn to @grantee.
 * @writable: 0 makes a read-only grant (GTF_readonly).
 * @ref: out, the new grant reference.
 *
 * Refs are allocated consecutively per domain, from XENSIM_GREF_BASE or the
 * value set with xensim_grant_set_base(); a ref is never reused.
 *
 * Return: 0, -ESRCH, -EINVAL (gfn >= nr_pages, NULL ref), -ENOSPC (table
 * full) or -ENOMEM.
 */
int xensim_grant_share_to(uint32_t domid, uint32_t grantee, uint64_t gfn,
			  int writable, uint32_t *ref);

/* xensim_grant_share_to() with grantee = xensim_caller(). */
int xensim_grant_share(uint32_t domid, uint64_t gfn, int writable,
		       uint32_t *ref);

/**
 * xensim_grant_share_range() - grant @count consecutive frames from
 * @first_gfn to xensim_caller(), with consecutive refs from *@first_ref.
 * All or nothing.  Return: as xensim_grant_share_to(), -EINVAL for count 0.
 */
int xensim_grant_share_range(uint32_t domid, uint64_t first_gfn,
			     uint32_t count, int writable,
			     uint32_t *first_ref);

/* Set the next ref a domain allocates; it must not go backwards below a
 * ref already used.  Return: 0, -ESRCH or -EINVAL. */
int xensim_grant_set_base(uint32_t domid, uint32_t next_ref);

/**
 * xensim_grant_revoke() - the granter ends access to @ref.
 *
 * Later maps and copies of the ref fail.  Live mappings keep working: on
 * Xen a mapping pins the grant until it is unmapped.
 *
 * Return: 0, -ESRCH (no domain) or -ENOENT (ref not in use).
 */
int xensim_grant_revoke(uint32_t domid, uint32_t ref);

/**
 * xensim_grant_revoke_mapped() - xensim_grant_revoke(), and also turn every
 * live grant mapping of @ref into SIGBUS pages (a hostile or dying guest).
 * Foreign mappings of the same frame are left alone.
 * Return: as xensim_grant_revoke().
 */
int xensim_grant_revoke_mapped(uint32_t domid, uint32_t ref);

/* Default per-handle limit for handles opened later (set_max_grants
 * overrides it per handle).  Not reset by xensim_reset(). */
void xensim_set_default_max_grants(uint32_t nr_grants);

/* ---- fault injection ---- */

/* The simulated functions, for injection and counters. */
enum xensim_fn {
	XENSIM_FN_FMEM_OPEN,
	XENSIM_FN_FMEM_CLOSE,
	XENSIM_FN_FMEM_MAP,
	XENSIM_FN_FMEM_MAP2,
	XENSIM_FN_FMEM_UNMAP,
	XENSIM_FN_GNT_OPEN,
	XENSIM_FN_GNT_CLOSE,
	XENSIM_FN_GNT_MAP_GRANT_REF,
	XENSIM_FN_GNT_MAP_GRANT_REFS,
	XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS,
	XENSIM_FN_GNT_UNMAP,
	XENSIM_FN_GNT_SET_MAX_GRANTS,
	XENSIM_FN_GNT_GRANT_COPY,
	XENSIM_FN_XC_OPEN,
	XENSIM_FN_XC_CLOSE,
	XENSIM_FN_XC_DOMAIN_GETINFOLIST,
	XENSIM_FN_XC_DOMAIN_MAXIMUM_GPFN,
	XENSIM_FN_XC_GET_PFN_TYPE_BATCH,
	XENSIM_FN_COUNT
};

/* Name of a function ("xenforeignmemory_map"), or NULL if out of range. */
const char *xensim_fn_name(enum xensim_fn fn);

/**
 * xensim_inject() - make calls of one function fail.
 * @skip: calls that still behave normally first (0 = the very next call).
 * @count: how many calls then fail; 0 cancels the function's injection.
 * @err: the POSITIVE errno those calls leave in errno.
 *
 * A failing call does nothing but return its failure value (NULL or -1)
 * with errno = @err; xenforeignmemory_map leaves err[] untouched, as in a
 * "complete failure".  A failing close still closes and frees the handle
 * (as xc_interface_close documents), so callers must not retry it.
 * Injection is per public function: xengnttab_map_grant_ref is not
 * affected by an injection into xengnttab_map_grant_refs.  One injection per
 * function; a new one replaces the old.  Calls on a NULL or stale handle
 * fail with EBADF before injection is consulted and do not consume it.
 *
 * Return: 0 or -EINVAL (bad fn, err <= 0).
 */
int xensim_inject(enum xensim_fn fn, unsigned int skip, unsigned int count,
		  int err);

/* Cancel every injection (function and frame errors).  Not counters. */
void xensim_inject_clear(void);

/*
 * A failed MAP_FIXED foreign map leaves a hole at its address, as the real
 * library may (it maps first, then unmaps on failure).  @fn, if not NULL, is
 * called right after that, with the simulator's lock held and the hole
 * open: a test's way of playing another thread whose mmap takes the hole.
 * It must not call the simulator.  Not reset by xensim_reset().
 */
void xensim_set_hole_hook(void (*fn)(void *addr, size_t len));

/**
 * xensim_set_fail_keeps_range() - what a failed MAP_FIXED foreign map
 * leaves at its address.
 * @keep: 0 (the default): a hole, as above: the real library's privcmd
 *        ioctl failed after its mmap, and it unmapped;
 *        1: whatever the caller had there, untouched, as when the real
 *        library's mmap itself fails before it replaces anything (the
 *        process's limit on mappings or address space).
 * Reset to 0 by xensim_reset().
 */
void xensim_set_fail_keeps_range(int keep);

/**
 * xensim_set_map_hook() - call @fn at the start of every map call.
 * @fn: called with the function's id by xenforeignmemory_map and _map2 and
 *      by every xengnttab_map_* function, first thing, before the call
 *      looks at its arguments or takes the simulator's lock; NULL: none.
 *
 * A test's way to hold a map call (@fn blocks) until another thread has
 * done something, so that an interleaving is forced rather than raced.
 * @fn may call the simulator.  Cleared by xensim_reset().
 */
void xensim_set_map_hook(void (*fn)(enum xensim_fn fn));

/* ---- counters ---- */

struct xensim_map_counters {
	uint64_t live_mappings;	  /* mappings handed out and not unmapped */
	uint64_t live_pages;	  /* pages (VA) in those mappings */
	uint64_t peak_live_pages; /* highest live_pages seen */
	uint64_t total_mappings;  /* mappings ever handed out */
	uint64_t total_pages;	  /* pages in those */
	uint64_t unmaps;	  /* successful unmap calls */
	uint64_t leaked_mappings; /* torn down by close or reset instead */
	uint64_t leaked_pages;	  /* pages in those */
};

struct xensim_counters {
	uint64_t calls[XENSIM_FN_COUNT];    /* every call, failed or not */
	uint64_t failures[XENSIM_FN_COUNT]; /* calls that returned failure */
	uint64_t injected[XENSIM_FN_COUNT]; /* of those, injected ones */
	struct xensim_map_counters foreign; /* xenforeignmemory mappings */
	struct xensim_map_counters grant;   /* xengnttab mappings */
	struct xensim_map_counters all;	    /* both; its peak is of the sum */
	uint64_t page_errors;	/* non-zero err[i] given by foreign maps */
	uint64_t copy_errors;	/* grant copy segments with status != okay */
	uint64_t revoked_pages; /* live pages turned into SIGBUS pages */
	uint64_t open_handles;	/* handles of all three kinds now open */
	uint64_t leaked_handles; /* handles still open at xensim_reset() */
	uint64_t log_messages;	/* failures logged, as the real libraries
				 * log them (see README.md) */
	uint64_t stderr_messages; /* of those, printed on stderr because the
				   * handle was opened with a NULL logger */
};

/* Snapshot the counters.  @c must not be NULL. */
void xensim_get_counters(struct xensim_counters *c);

/* Zero the counters, except the "live" and open_handles ones (the peak
 * restarts from the current live value). */
void xensim_reset_counters(void);

/* ---- teardown ---- */

/**
 * xensim_reset() - destroy everything between tests.
 * @final: if not NULL, receives the counters as they are after the
 *         teardown below and before they are zeroed.
 *
 * Unmaps every live mapping (counted as leaked), closes and frees every
 * open handle (counted in leaked_handles; pointers the test still holds go
 * stale and later calls with them fail with EBADF, unless the allocator
 * hands the same address to a new handle), destroys every domain, clears
 * injections, the map hook and the keep-range mode, sets the caller back
 * to 0 and zeroes the counters.  The default grant limit and the hole hook
 * are kept.
 *
 * Return: the number of leaks since the counters were last zeroed: the
 * mappings torn down by a close or by this reset, plus the handles this
 * reset closed; 0 when the test cleaned up after itself.
 */
int xensim_reset(struct xensim_counters *final);

#ifdef __cplusplus
}
#endif

#endif /* XENSIM_H */
