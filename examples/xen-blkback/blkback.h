/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xen-blkback: a Xen block backend (blkif) serving a raw image file, on
 * libguestmem for every access to the guest's memory.
 *
 * Concepts
 * --------
 * Device (struct blkback): one frontend's virtual disk.  It owns the
 *   shared ring's mapping (a grant-ref list, read through a view) and the
 *   image file's descriptor is lent to it.  The core here knows nothing of
 *   xenstore or event channels (xenbus.c, main.c): tests drive it on the
 *   Xen simulator, playing the frontend by writing into the guest's
 *   memory.
 *
 * Ring: the blkif shared ring of io/blkif.h and io/ring.h, 1 << order
 *   pages.  The frontend writes requests and req_prod, the backend writes
 *   responses and rsp_prod; both write the event fields.  Every access
 *   goes through the list's view: the producer index is loaded with
 *   acquire, rsp_prod stored with release, and each request is copied
 *   once out of the ring into a local struct and validated there (the
 *   guest may change the ring at any time).  Requests are served one at
 *   a time, synchronously, in ring order, so that the response to the
 *   request in slot i goes in slot i.
 *
 * Segments: the data pages of a read or write, as the request's grant
 *   refs.  Mode BLKBACK_LEASE maps them as one grant-ref list per request
 *   (read-only for a write to the disk, read-write for a read from it)
 *   and does preadv/pwritev on the pages' sector ranges; BLKBACK_COPY
 *   has Xen copy them to or from a bounce buffer (gm_xen_grant_copy).
 *   With persistent grants (both ends advertised feature-persistent)
 *   lease mode maps through the context's mapping cache
 *   (GM_XEN_GLIST_CACHED), so that each ref is mapped once.
 *
 * Indirect requests (BLKIF_OP_INDIRECT): up to
 *   BLKBACK_MAX_INDIRECT_SEGMENTS segments whose descriptors are in pages
 *   the request names; those pages are read once, like the ring, into
 *   the device's own copy, which is validated and served.
 *
 * Hostile frontends: a malformed request gets an error response with its
 *   id and the device goes on serving; a producer index more than the
 *   ring's size ahead of the consumer breaks the device: it stops
 *   serving, for good (the caller tears the connection down).
 */
#ifndef BLKBACK_H
#define BLKBACK_H

#include <stdint.h>

#include <xen/xen.h>
#include <xen/io/blkif.h>

#include <guestmem.h>
#include <guestmem/xen.h>

#define BLKBACK_SECTOR 512u
#define BLKBACK_PAGE 4096u
#define BLKBACK_SECTORS_PER_PAGE (BLKBACK_PAGE / BLKBACK_SECTOR)

/* Largest ring: 1 << BLKBACK_MAX_RING_ORDER pages (advertised as
 * max-ring-page-order). */
#define BLKBACK_MAX_RING_ORDER 2u
#define BLKBACK_MAX_RING_PAGES (1u << BLKBACK_MAX_RING_ORDER)

/* Indirect requests (BLKIF_OP_INDIRECT, advertised as
 * feature-max-indirect-segments): at most this many segments, in pages
 * of BLKBACK_SEGS_PER_INDIRECT_PAGE descriptors. */
#define BLKBACK_MAX_INDIRECT_SEGMENTS 256u
#define BLKBACK_SEGS_PER_INDIRECT_PAGE                                       \
	(BLKBACK_PAGE / sizeof(struct blkif_request_segment))
#define BLKBACK_MAX_INDIRECT_PAGES                                           \
	((BLKBACK_MAX_INDIRECT_SEGMENTS + BLKBACK_SEGS_PER_INDIRECT_PAGE - 1) / \
	 BLKBACK_SEGS_PER_INDIRECT_PAGE)
/* Most segments of any request. */
#define BLKBACK_MAX_SEGMENTS BLKBACK_MAX_INDIRECT_SEGMENTS

/* Most requests one blkback_process() call serves before it returns
 * with more work pending, so that a frontend that keeps producing
 * cannot keep the caller from its other events. */
#define BLKBACK_BATCH 256u

enum blkback_mode {
	BLKBACK_LEASE, /* map each request's segments (grant-ref list) */
	BLKBACK_COPY,  /* grant copy through a bounce buffer */
};

struct blkback_counters {
	uint64_t requests; /* requests answered */
	uint64_t errors;   /* of those, answered with a status != OKAY */
	uint64_t segments; /* data segments transferred */
	uint64_t leases;   /* segment lists mapped now (0 between calls) */
};

struct blkback {
	/* Set by blkback_init(). */
	struct gm_xen *xen; /* not owned */
	uint32_t domid;	    /* the frontend's domain */
	int fd;		    /* the image, not owned */
	uint64_t sectors;   /* image size in 512-byte sectors */
	int readonly;	    /* writes fail with BLKIF_RSP_ERROR */
	enum blkback_mode mode;
	int persistent; /* lease mode: segments through the cache, purged
			 * at detach */

	/* The ring, set by blkback_attach(). */
	struct gm_xen_grant_list *ring;
	struct gm_view view; /* lent by @ring */
	uint32_t ring_size;  /* entries, a power of two */
	RING_IDX req_cons;   /* next request to copy out */
	RING_IDX rsp_prod_pvt; /* next response slot */
	RING_IDX rsp_pushed; /* rsp_prod as we last published it */
	int broken;	     /* the frontend broke the ring protocol */
	char why[160];	     /* how, for the caller's message */

	uint8_t *bounce; /* copy mode: one request's data */
	struct blkif_request_segment *indirect; /* an indirect request's
						 * descriptors, copied */
	struct blkback_counters count;
};

/* Results of blkback_process(), or'd. */
#define BLKBACK_NOTIFY 0x1 /* signal the frontend's event channel */
#define BLKBACK_MORE 0x2   /* requests are pending: call again */

/**
 * blkback_init() - set a device up, not yet attached to a ring.
 * @b: the device, any contents.
 * @x: the Xen context every mapping and copy goes through.
 * @domid: the frontend's domain.
 * @fd: the image, open for reading (and writing unless @readonly).
 * @sectors: the image's size in 512-byte sectors.
 * @readonly: refuse writes.
 * @mode: BLKBACK_LEASE or BLKBACK_COPY.
 *
 * Return: 0, or -EINVAL, -ENOMEM.
 */
int blkback_init(struct blkback *b, struct gm_xen *x, uint32_t domid, int fd,
		 uint64_t sectors, int readonly, enum blkback_mode mode);

/**
 * blkback_attach() - map the shared ring.
 * @refs: the ring's @nr_pages grant refs, in order (ring-ref, or
 *        ring-ref0 ...).
 * @nr_pages: 1 .. BLKBACK_MAX_RING_PAGES, a power of two.
 * @persistent: both ends advertised feature-persistent: lease mode maps
 *              the segments through the context's cache
 *              (GM_XEN_GLIST_CACHED) and blkback_detach() purges the
 *              domain's entries; copy mode ignores it.
 *
 * The ring's indexes are taken as the frontend left them (it initialises
 * them before it publishes the ring-ref), and req_event is set so that
 * the next request notifies.
 *
 * Return: 0, or -EINVAL (bad count, already attached), -EPROTO (the
 * ring's indexes are inconsistent), or the error of the map.
 */
int blkback_attach(struct blkback *b, const uint32_t *refs,
		   unsigned int nr_pages, int persistent);

/**
 * blkback_process() - serve the requests the frontend has produced.
 *
 * Serves at most BLKBACK_BATCH requests, publishing each response as
 * soon as it is written (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY), and asks
 * for an event at the next request as RING_FINAL_CHECK_FOR_REQUESTS does.
 * Call it once after blkback_attach(): requests produced before the
 * caller could receive events have had no event.
 *
 * Return: BLKBACK_NOTIFY and/or BLKBACK_MORE, 0, or -EPROTO when the
 * frontend broke the ring (the device is broken from then on: detach it),
 * -ENOTCONN when not attached.
 */
int blkback_process(struct blkback *b);

/**
 * blkback_detach() - unmap the ring; the device may be attached again.
 */
void blkback_detach(struct blkback *b);

/**
 * blkback_fini() - detach and free what blkback_init() allocated.
 */
void blkback_fini(struct blkback *b);

#endif /* BLKBACK_H */
