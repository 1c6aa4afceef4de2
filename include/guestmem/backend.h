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
 * Published pieces (version 2): an on-demand backend that keeps mappings
 * (a cache) can let common code use them without a map call.  It cuts the
 * region into pieces of 2^shift bytes (gm_region_pieces_init()) and, when
 * it has a piece mapped, publishes the piece's host address
 * (gm_region_publish()).  Accessors then copy to and from a published
 * piece directly, as they do for a persistent region, inside a read-side
 * section of their own.  To take a piece back, the backend unpublishes it
 * and calls gm_region_synchronize(), which returns once no accessor can
 * still be using the old address; only then may it unmap the memory.  A
 * persistent region is the special case of one piece that is always
 * published: its hva.  Common code owns the grace period; the backend
 * owns its locks and never needs to know about the readers.
 *
 * Transient and held mappings: without GM_MAP_HOLD, the mapping is used by
 * one accessor call in one thread and released before that call returns,
 * with no other map call of the same thread in between.  With GM_MAP_HOLD
 * (views, leases) it may be held for any time, used from any thread and
 * released from another thread.  Either way the backend must keep the
 * memory mapped until the matching unmap (a pin count, say).
 *
 * Common code never calls map, unmap or destroy from inside a read-side
 * section: it holds a reference to the region across each map and unmap
 * call instead, and calls destroy once the last reference is gone.  So a
 * backend's methods may block, take locks, and call
 * gm_region_synchronize().
 *
 * Only common/region.[ch] call through a gm_region_ops table.
 *
 * Thread safety: map and unmap may be called concurrently from any number
 * of threads, on the same or different ranges.  destroy is called exactly
 * once, after the last map has been unmapped and no thread can reach the
 * region any more.  The gm_region_*() functions below may be called from
 * any thread, including from inside the backend's own methods; what
 * publishes and unpublishes one piece must be serialised by the backend.
 *
 * fork(): in the child, published pieces stay published (the mappings
 * are inherited as the backend's are); a backend that holds locks around
 * publishing takes them over fork() itself (pthread_atfork()).
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
#define GM_REGION_OPS_VERSION 2
/*
 * Version 2 adds no method: it adds published pieces and the rule that
 * methods are called outside read-side sections.  gm_region_pieces_init()
 * refuses an ops table of version 1, written before pieces existed.
 */

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
struct gm_pieces; /* common code's, opaque */

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
 * Fields after `flags` belong to common code; backends leave them alone
 * (gm_region_init() sets them, the gm_region_*() functions below use
 * them).
 */
struct gm_region {
	const struct gm_region_ops *ops;
	uint64_t gpa;	    /* guest-physical base */
	uint64_t size;	    /* length in bytes, > 0 */
	uint8_t *hva;	    /* persistent host mapping of gpa, or NULL */
	unsigned int flags; /* GM_REGION_* */
	/* Common code's own. */
	unsigned int common_flags;
	unsigned long refs;	  /* space + views + leases + calls */
	struct gm_pieces *pieces; /* published pieces, or NULL */
	uint64_t reserved[3];
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

/**
 * gm_region_pieces_init() - cut an on-demand region into pieces that can
 * be published.
 * @r: the region, initialised, with hva NULL, not yet in a space.
 * @shift: log2 of the piece size, 12 (one 4 KiB page) to 40; pieces are
 *         aligned to their size, in region offsets, and the last may be
 *         short.
 * @base: where the backend maps pieces in place when it can (a
 *        reservation as large as the region: piece n at base + (n <<
 *        shift)), or NULL.  Accessors find a piece published there without
 *        loading its address, which keeps random accesses to many pieces
 *        fast; a piece may still be published anywhere else.
 *
 * Allocates two bytes and one word per piece; they are freed after the
 * region's destroy method returns (which may still unpublish).
 *
 * Return: 0, or -EINVAL (NULL, a persistent region, an ops table of
 * version 1, a bad @shift, @base not aligned to 4096, pieces already set
 * up, a region in a space), -ENOMEM.
 */
GM_EXPORT int gm_region_pieces_init(struct gm_region *r, unsigned int shift,
				    void *base);

/**
 * gm_region_publish() - let accessors use a mapped piece directly.
 * @r: a region with pieces.
 * @piece: the piece index: region offset >> shift.
 * @hva: host address of the piece's first byte, aligned to 4096; it must
 *       stay mapped, with at least @prot, until the piece is unpublished
 *       (or published again elsewhere) and gm_region_synchronize() has
 *       returned after that.
 * @prot: GM_PROT_READ, or GM_PROT_READ | GM_PROT_WRITE.
 *
 * Replaces any earlier publication of the piece.  The mapping must be
 * complete before the call (it is published with release order), and must
 * not fault: publish no piece with a failed page.
 *
 * Return: 0, or -EINVAL (no pieces, @piece out of range, @hva NULL or
 * misaligned, bad @prot, write on a read-only region).
 */
GM_EXPORT int gm_region_publish(struct gm_region *r, uint64_t piece,
				void *hva, int prot);

/**
 * gm_region_unpublish() - stop new accesses through a published piece.
 * @r: a region with pieces.
 * @piece: the piece index.
 * @hva: the address it was published at; the piece is left alone if it is
 *       published elsewhere now (a later publication replaced it).
 *
 * Accessors that already read the address may go on using it until
 * gm_region_synchronize() returns.
 *
 * Return: 1 if the piece was published at @hva and no longer is, else 0.
 */
GM_EXPORT int gm_region_unpublish(struct gm_region *r, uint64_t piece,
				  const void *hva);

/**
 * gm_region_synchronize() - wait for accessors to leave unpublished pieces.
 * @r: the region whose pieces were unpublished (may be NULL: any region).
 *
 * Returns once every accessor call, in every thread, that could have read
 * an address unpublished (or replaced) before this call has finished with
 * it, including the copies that threads keep of a piece's range between
 * calls.  Never waits for a backend method: common code calls none inside
 * a read-side section.  Not from inside a read-side section (a signal
 * handler that interrupted an accessor, say); may block for the length of
 * the longest accessor call in progress.
 */
GM_EXPORT void gm_region_synchronize(struct gm_region *r);

/**
 * gm_region_piece_used() - whether a piece was accessed since last asked.
 * @r: a region with pieces.
 * @piece: the piece index.
 *
 * Accessors that use a published piece mark it; this returns the mark and
 * clears it, for an eviction policy (CLOCK).  Marks are set without a
 * read-modify-write, only when clear: one may be lost to a race with this
 * call, never invented.  A thread that keeps using one piece serves itself
 * from its own copy of the piece's range, which leaves no mark (the hot
 * path stays a plain access); every gm_region_synchronize() drops those
 * copies, so such a piece is marked again by its next access after each
 * eviction: CLOCK can take it only in a sweep that evicts nothing on the
 * way.
 *
 * Return: 1 if marked, 0 if not (or no pieces, @piece out of range).
 */
GM_EXPORT int gm_region_piece_used(struct gm_region *r, uint64_t piece);

/**
 * gm_error_set() - record the calling thread's gm_last_error() message.
 * @err: the negative errno the caller is about to return.
 * @fmt: printf-style message, naming what failed and why; NULL records
 *       "error <err> (no message)".
 *
 * For a backend's own constructors, whose failures the user reads with
 * gm_last_error() like the library's.  The message is cut to the size of
 * gm_last_error()'s buffer (319 bytes).
 *
 * Return: @err, whatever it is (no check: it is the caller's).
 */
GM_EXPORT int gm_error_set(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_BACKEND_H */
