/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libguestmem backend interface: what a region backend implements.
 *
 * Concepts
 * --------
 * A region is a contiguous range [gpa, gpa + size) of guest-physical
 * addresses backed by one backend.  A backend embeds struct gm_region as
 * the FIRST member of its own struct, fills it with gm_region_init() and
 * supplies a static const struct gm_region_ops.
 *
 * There are two kinds of region:
 *  - persistent: the backend maps the whole region once, at creation, and
 *    sets gm_region.hva.  Common code then accesses hva + (gpa - r->gpa)
 *    directly and never calls map/unmap (they may be NULL).
 *  - on demand: hva is NULL.  Every access maps the range it needs with
 *    ops->map and releases it with ops->unmap.  map/unmap are a counted
 *    pair: a mapping returned by map stays valid until the matching unmap
 *    and no longer.  A backend may return fewer bytes than asked for (a
 *    cache bucket ends, say); common code then maps the rest separately,
 *    except when GM_MAP_WHOLE is passed (views), where the backend must map
 *    the whole range contiguously or fail.
 *
 * Transient and held mappings: without GM_MAP_HOLD, the mapping is used by
 * one accessor call in one thread and released before that call returns,
 * with no other map call of the same thread in between; a backend may
 * protect it cheaply (an RCU read-side section instead of a pin count).
 * With GM_MAP_HOLD (views, leases) it may be held for any time, used from
 * any thread and released from another thread: the backend must pin it.
 *
 * Only common/region.c calls through a gm_region_ops table.
 *
 * Thread safety: map and unmap may be called concurrently from any number
 * of threads, on the same or different ranges.  destroy is called exactly
 * once, after the last map has been unmapped and no thread can reach the
 * region any more.
 */
#ifndef GUESTMEM_BACKEND_H
#define GUESTMEM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "../guestmem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of struct gm_region_ops this header describes. */
#define GM_REGION_OPS_VERSION 1

/* gm_region.flags: the GM_REGION_* flags of guestmem.h (GM_REGION_RDONLY). */

/* Flags for gm_region_ops.map */
#define GM_MAP_WHOLE 0x1u /* map [off, off + len) contiguously, or fail */
#define GM_MAP_HOLD 0x2u  /* the mapping outlives the calling accessor */

/* One mapping handed out by gm_region_ops.map. */
struct gm_map {
	uint8_t *hva;	/* out: host address of the requested offset */
	uint64_t len;	/* out: bytes mapped from there, 1..len */
	void *cookie;	/* out: backend's handle, passed back to unmap */
	uint64_t fault; /* out, on error: region offset that failed */
};

struct gm_region;

struct gm_region_ops {
	unsigned int version; /* GM_REGION_OPS_VERSION built against */
	const char *name;     /* "unix", "xen-foreign", "xen-grant", ... */

	/*
	 * Map [off, off + len) of the region (off + len <= size; len > 0)
	 * with @prot (GM_PROT_READ and/or GM_PROT_WRITE).  On success fill
	 * m->hva, m->len (at least 1, at most len) and m->cookie, and return
	 * 0.  On failure return a negative errno and set m->fault to the
	 * region offset of the first byte that could not be mapped.  Never
	 * returns a mapping of memory that would fault on access (a Xen frame
	 * whose per-page error was set, say).
	 */
	int (*map)(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		   unsigned int flags, struct gm_map *m);

	/* Release one mapping returned by map.  Cannot fail. */
	void (*unmap)(struct gm_region *r, struct gm_map *m);

	/* Free everything the region owns, including the region itself. */
	void (*destroy)(struct gm_region *r);

	/* Methods above are valid for version 1.  Append only; never reorder. */
};

/*
 * struct gm_region: embed as the first member of a backend's struct.
 * Fields after `flags` belong to common code; backends leave them alone.
 */
struct gm_region {
	const struct gm_region_ops *ops;
	uint64_t gpa;	    /* guest-physical base */
	uint64_t size;	    /* length in bytes, > 0 */
	uint8_t *hva;	    /* persistent host mapping of gpa, or NULL */
	unsigned int flags; /* GM_REGION_* */
	unsigned int reserved0;
	unsigned long refs; /* common: references (space + views + leases) */
	uint64_t reserved[4];
};

/**
 * gm_region_init() - fill the common part of a new region.
 * @r: the region, embedded in the backend's struct.
 * @ops: the backend's method table; must outlive the region.
 * @gpa: guest-physical base address.
 * @size: length in bytes.
 * @flags: GM_REGION_* flags.
 *
 * Return: 0, or
 *  -EINVAL    a NULL argument, size 0, unknown flags, an ops table of
 *             version 0 or without name or destroy (a table of a later
 *             version is accepted: this library calls version 1 methods);
 *  -EOVERFLOW gpa + size wraps past 2^64.
 * hva starts NULL; a persistent backend sets it after this call.
 * gm_space_add_region() refuses a region with neither hva nor map/unmap.
 * The region starts with one reference, owned by the caller: hand it to
 * gm_space_add_region() or drop it with gm_region_destroy().
 */
GM_EXPORT int gm_region_init(struct gm_region *r,
			     const struct gm_region_ops *ops, uint64_t gpa,
			     uint64_t size, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_BACKEND_H */
