/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private declarations of the Xen backend.
 *
 * A context (context.c) holds the library handles and a mapping cache
 * (cache.c).  An on-demand foreign region (foreign.c) or a grant region
 * (grant.c) maps its memory through that cache; what differs between the
 * two is how a run of pages is mapped and unmapped (a "pager"), and that
 * foreign buckets are placed in a window (window.c).  An eager foreign
 * region (eager.c) maps the whole of itself when it is created, and the
 * cache has no part in it; both kinds of foreign region map a domain's
 * frames through frames.c.  domain.c opens a whole domain as a space.
 * copy.c copies to and from granted pages through Xen, without mapping.
 * glist.c maps lists of arbitrary grant refs, outside the cache or (cached
 * lists) as one-page entries of the context's pseudo-region `glr`, and
 * asks copy.c which refs Xen refuses when a map fails.
 *
 * A file calls only files below it in this list: domain.c; glist.c;
 * foreign.c, grant.c, copy.c; eager.c; context.c; cache.c, frames.c;
 * window.c.
 */
#ifndef GM_XEN_PRIVATE_H
#define GM_XEN_PRIVATE_H

#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

#include <guestmem.h>
#include <guestmem/backend.h>
#include <guestmem/xen.h>

/* This backend sees only the public headers, as one outside the tree. */
#define gm__container_of(ptr, type, member)                                   \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define GM__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define gm_likely(x) __builtin_expect(!!(x), 1)
#define gm_unlikely(x) __builtin_expect(!!(x), 0)

#define XEN_PAGE_SHIFT 12
#define XEN_PAGE_SIZE (1ull << XEN_PAGE_SHIFT)

struct gm__xen_region;

/* How a run of a region's pages is mapped; one per region kind. */
struct gm__xen_pager {
	const char *name;
	/*
	 * Map @npages pages from page @first of the region with @prot.  On
	 * success store the mapping in *hva and, when some pages failed
	 * individually, a malloc'd array of per-page negative errnos in *err
	 * (else NULL).  Returns 0 or a negative errno for a failure of the
	 * whole call.  @at: where to map (MAP_FIXED over the region's window,
	 * see below), or NULL: anywhere.  Called with the cache lock held.
	 */
	int (*map)(struct gm__xen_region *xr, uint64_t first, uint32_t npages,
		   int prot, uint8_t *at, uint8_t **hva, int **err);
	void (*unmap)(struct gm__xen_region *xr, uint8_t *hva, uint32_t npages);
};

/* One mapping of the cache: a bucket of a region, or a dedicated mapping
 * for a view that spans buckets. */
struct gm__xen_entry {
	struct gm__xen_region *owner;
	uint64_t index;		/* bucket index in the owner */
	uint8_t *hva;
	uint64_t first_page;	/* region page of hva */
	uint32_t npages;
	int prot;		/* GM_PROT_* it was mapped with */
	int *err;		/* per-page errnos, or NULL: all pages fine */
	int placed;		/* hva is in the owner's window */
	/* Pin count, plus ENTRY_DEAD once unlinked: whoever sees the count
	 * reach zero with ENTRY_DEAD set unmaps and frees the entry. */
	_Atomic unsigned int state;
	/* Under the cache's lock, as the hash and the ring: */
	unsigned char used;	/* CLOCK: accessed since the hand passed */
	unsigned char linked;	/* in the hash and the ring */
	struct gm__xen_entry *hnext; /* hash chain */
	struct gm__xen_entry *cnext, *cprev;   /* clock ring, under lock */
};
#define ENTRY_DEAD 0x80000000u

/* A region of the cache: an on-demand foreign region, or a grant region. */
struct gm__xen_region {
	struct gm_region base;	/* first */
	struct gm_xen *x;
	const struct gm__xen_pager *pager;
	uint32_t domid;
	uint64_t gfn;		/* foreign: frame of base.gpa */
	uint32_t first_ref;	/* grant: ref of base.gpa */
	unsigned int shift;	/* log2 of the cache bucket size */
	int fixed_prot;		/* map with this prot, or 0: as accessed */
	/* The context's grant-list pseudo-region (glr): in no space, its
	 * entries are never published; bucket index domid << 32 | ref. */
	int glist;
	/* A foreign region (its entries are rechecked, cache.c). */
	int foreign;
	/*
	 * On-demand foreign regions: a reservation (PROT_NONE) as large as
	 * the region, where each bucket is mapped in place, at win_base + its
	 * offset, so that the host address of a map-call hit does not depend
	 * on loading the entry.  NULL when the address space could not be
	 * reserved: buckets are mapped anywhere.  win_state has one byte per
	 * bucket: its place, a WIN_* of window.c.
	 */
	uint8_t *win_base;
	_Atomic unsigned char *win_state;
	/* The window maps the window file (window.c) from this offset, or
	 * is anonymous: win_off is UINT64_MAX. */
	uint64_t win_off;
};

struct gm_xen {
	_Atomic unsigned long refs; /* the caller, plus one per region */
	xenforeignmemory_handle *fmem;
	xengnttab_handle *xgt;	/* NULL when gntdev is missing */
	int xgt_err;		/* why xgt is NULL */
	xc_interface *xch;	/* NULL when libxenctrl failed to open */
	int xch_err;
	struct gm_xen_options opt;
	unsigned int bucket_shift;

	/* The mapping cache, under lock (cache.c). */
	struct gm__xen_entry **hash;
	size_t hash_mask;
	pthread_mutex_t lock;
	struct gm_xen *cnext, **cpprev; /* every cache, for fork() */
	/* make_room() waits here for pins and other evictions to go. */
	pthread_cond_t room;
	unsigned int killing;		/* evictions in progress, under lock */
	_Atomic unsigned int room_waiters;
	_Atomic unsigned long transient; /* accessors' pins, for one call */
	struct gm__xen_entry *hand; /* clock ring */
	_Atomic uint64_t mapped_bytes;
	_Atomic uint64_t peak_mapped_bytes;
	_Atomic uint64_t map_calls, unmap_calls, pages_mapped, hits, misses,
		evictions, failures, retries, glist_hits, rechecks,
		recheck_drops;
	/* Rechecks on misses (cache.c), under lock: CLOCK_MONOTONIC ns of
	 * the last one; off once Xen refused one for want of privilege. */
	uint64_t recheck_last;
	int recheck_off;
	/* Owner of the cached grant-list entries (cache.c, glist.c). */
	struct gm__xen_region glr;
	pid_t pid;		/* the process that opened the context */
	/* The window file (window.c), or win_fd -1; the next free offset. */
	int win_fd;
	dev_t win_dev;
	ino_t win_ino;
	_Atomic uint64_t win_next;
};

/* context.c */
void gm__xen_get(struct gm_xen *x);
void gm__xen_put(struct gm_xen *x);
/* Record a failure of constructor @fn of context @x and return @err. */
int gm__xen_fail(const char *fn, int err, const char *what);
/* Common validation and set-up of a new region @r of context @x, which
 * takes a reference to @x for the region's destroy method to drop; 0 or
 * -errno. */
int gm__xen_region_init(struct gm_region *r, struct gm_xen *x,
			const struct gm_region_ops *ops, uint64_t gpa,
			uint64_t size, unsigned int rdonly);

/* The destroy method of a region of the cache (foreign on demand, grant):
 * its entries, its window if any, itself, its reference to the context. */
void gm__xen_cached_destroy(struct gm_region *r);

/* cache.c */
int gm__xen_cache_init(struct gm_xen *x);
void gm__xen_cache_fini(struct gm_xen *x);
int gm__xen_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		unsigned int flags, struct gm_map *m);
void gm__xen_unmap(struct gm_region *r, struct gm_map *m);
/* Unmap every cache entry of @xr (its region is being destroyed). */
void gm__xen_cache_purge(struct gm__xen_region *xr);
int gm__xen_cache_invalidate(struct gm_xen *x);
/* Drop the entries of foreign regions that map a frame no longer
 * populated, or recorded as failed one populated again (gm_xen_recheck());
 * lock not held.  Returns how many, or a negative errno. */
int gm__xen_cache_recheck(struct gm_xen *x);
/*
 * Cached grant-ref lists: find or map (with @pager, one ref per call) an
 * entry of x->glr for each of @refs of @domid with at least @prot, and
 * store it pinned in ents[i].  All or nothing: on failure returns a
 * negative errno with no pin taken and the entries this call made gone,
 * and *failed = the index of the ref whose map failed, or @count when no
 * ref did (-ENOBUFS, -ENOMEM).
 */
int gm__xen_cache_grants(struct gm_xen *x, const struct gm__xen_pager *pager,
			 uint32_t domid, const uint32_t *refs,
			 unsigned int count, int prot,
			 struct gm__xen_entry **ents, unsigned int *failed);
/* Drop the pins of gm__xen_cache_grants(); lock not held. */
void gm__xen_cache_grants_put(struct gm_xen *x, struct gm__xen_entry **ents,
			      unsigned int count);
/* Unmap the unpinned entries of @domid: 0, or -EBUSY if pinned ones stay. */
int gm__xen_cache_grants_purge(struct gm_xen *x, uint32_t domid);
/*
 * Check [off, off + *len) against the per-page errors @err (NULL: none) of
 * a mapping that starts at region page @first.  Returns the error of the
 * first page, with *fault = off, if that page failed; otherwise 0, with
 * *len cut short before the first failed page in the range.
 */
int gm__xen_pages_ok(const int *err, uint64_t first, uint64_t off,
		     uint64_t *len, uint64_t *fault);

/* window.c */
/* Open the context's window file (best effort: without it, windows are
 * anonymous), and close it. */
void gm__xen_window_file_open(struct gm_xen *x);
void gm__xen_window_file_close(struct gm_xen *x);
/* Reserve the window of on-demand region @xr (best effort). */
void gm__xen_window_init(struct gm__xen_region *xr);
/* Release the window's reservation (no entry is mapped any more). */
void gm__xen_window_fini(struct gm__xen_region *xr);
/* Where to map the bucket entry that starts at region page @first: its
 * place in the window, which becomes busy, or NULL: anywhere. */
uint8_t *gm__xen_window_take(struct gm__xen_region *xr, uint64_t first);
/* The entry mapped at @at by gm__xen_window_take() is unmapped, or its map
 * failed: free its place, or lose it if the range is no longer ours. */
void gm__xen_window_give_back(struct gm__xen_region *xr, uint8_t *at,
			      uint32_t npages);

/* frames.c */
/*
 * Map @n frames of domain @domid from frame @gfn at @addr (NULL: anywhere;
 * else MAP_FIXED over a reservation), retrying paged-out frames.  On
 * success returns the mapping and leaves per-page negative errnos in @err;
 * else returns NULL with a negative errno in *ret.
 */
uint8_t *gm__xen_map_frames(struct gm_xen *x, uint32_t domid, uint64_t gfn,
			    uint8_t *addr, uint32_t n, int prot, int *err,
			    int *ret);

/*
 * Frames per XEN_DOMCTL_getpageframeinfo3 call: Xen 4.17 refuses more
 * with -E2BIG.
 */
#define GM__XEN_TYPE_BATCH 1024u
/*
 * libxenctrl 4.17 exports xc_get_pfn_type_batch() (version node
 * VERS_4.17.0) but declares it only in its private header: declared here
 * with that signature.  It replaces each frame number of @arr by the
 * frame's XEN_DOMCTL_PFINFO_* type.
 */
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
			  xen_pfn_t *arr);
/* Whether each of @n (<= GM__XEN_TYPE_BATCH) frames of @domid from @gfn is
 * the domain's RAM (pop[i] = 1) or not populated (0); 0 or -errno. */
int gm__xen_frames_populated(struct gm_xen *x, uint32_t domid, uint64_t gfn,
			     unsigned int n, unsigned char *pop);

/* eager.c */
/* A new eager foreign region; errors are reported as @fn's, the public
 * constructor that checked the arguments. */
int gm__xen_eager_region_new(const char *fn, struct gm_xen *x,
			     uint32_t domid, uint64_t gpa, uint64_t size,
			     uint64_t gfn, unsigned int rdonly,
			     struct gm_region **out);

/* Normalise a per-page error to a negative errno (Linux gives negative
 * values; be safe with positive ones). */
static inline int gm__xen_errno(int e)
{
	return e > 0 ? -e : e;
}

#endif /* GM_XEN_PRIVATE_H */
