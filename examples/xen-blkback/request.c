/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xen-blkback's core: the blkif ring and its requests (blkback.h).
 *
 * The ring page is the frontend's: it may write anything there at any
 * time.  So the ring is only touched through the view of its grant-ref
 * list, at offsets computed here from io/ring.h's struct layout (never
 * through its pointer macros, which read the indexes more than once), and
 * every request is copied out of its slot once, then validated and served
 * from that copy.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blkback.h"

/* Where the fields of the shared ring are, in the view's offsets. */
#define OFF_REQ_PROD offsetof(struct blkif_sring, req_prod)
#define OFF_REQ_EVENT offsetof(struct blkif_sring, req_event)
#define OFF_RSP_PROD offsetof(struct blkif_sring, rsp_prod)
#define OFF_RSP_EVENT offsetof(struct blkif_sring, rsp_event)
#define OFF_RING offsetof(struct blkif_sring, ring)
#define ENTRY_SIZE sizeof(union blkif_sring_entry)

_Static_assert(sizeof(struct blkif_request) == 112,
	       "the x86_64 blkif ABI: 112-byte requests");
_Static_assert(ENTRY_SIZE == 112, "one request per ring entry");
_Static_assert(OFF_RING == 64, "the ring's entries start at byte 64");
_Static_assert(sizeof(struct blkif_request_indirect) <=
		       sizeof(struct blkif_request),
	       "an indirect request fits in a ring entry");

static uint64_t slot_off(const struct blkback *b, RING_IDX idx)
{
	return OFF_RING + (uint64_t)(idx & (b->ring_size - 1)) * ENTRY_SIZE;
}

static void set_broken(struct blkback *b, const char *why, RING_IDX prod)
{
	b->broken = 1;
	snprintf(b->why, sizeof(b->why),
		 "%s (req_prod %u, req_cons %u, ring size %u)", why, prod,
		 b->req_cons, b->ring_size);
}

int blkback_init(struct blkback *b, struct gm_xen *x, uint32_t domid, int fd,
		 uint64_t sectors, int readonly, enum blkback_mode mode)
{
	if (!b || !x || fd < 0 || domid > 0xffff ||
	    (mode != BLKBACK_LEASE && mode != BLKBACK_COPY) ||
	    sectors > UINT64_MAX / BLKBACK_SECTOR)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->xen = x;
	b->domid = domid;
	b->fd = fd;
	b->sectors = sectors;
	b->readonly = !!readonly;
	b->mode = mode;
	b->indirect = malloc(BLKBACK_MAX_INDIRECT_PAGES * BLKBACK_PAGE);
	if (!b->indirect)
		return -ENOMEM;
	if (mode == BLKBACK_COPY) {
		b->bounce = malloc((size_t)BLKBACK_MAX_SEGMENTS * BLKBACK_PAGE);
		if (!b->bounce) {
			free(b->indirect);
			b->indirect = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int blkback_attach(struct blkback *b, const uint32_t *refs,
		   unsigned int nr_pages, int persistent)
{
	uint32_t req_prod, rsp_prod;
	int ret;

	if (!b || !refs || b->ring || !nr_pages ||
	    nr_pages > BLKBACK_MAX_RING_PAGES || (nr_pages & (nr_pages - 1)))
		return -EINVAL;
	ret = gm_xen_grant_list_map(b->xen, b->domid, refs, nr_pages,
				    GM_PROT_READ | GM_PROT_WRITE, &b->ring);
	if (ret)
		return ret;
	ret = gm_xen_grant_list_view(b->ring, &b->view);
	if (ret)
		goto err;
	b->ring_size = __CONST_RING_SIZE(blkif, nr_pages * BLKBACK_PAGE);
	b->broken = 0;
	b->why[0] = '\0';
	/*
	 * The frontend initialised the ring before it published the ref: as
	 * Linux's blkback does, start consuming where the responses stand,
	 * and refuse a ring whose requests already overrun it.
	 */
	ret = gm_view_atomic_load_u32(&b->view, OFF_RSP_PROD, &rsp_prod,
				      GM_ACQUIRE);
	if (!ret)
		ret = gm_view_atomic_load_u32(&b->view, OFF_REQ_PROD,
					      &req_prod, GM_ACQUIRE);
	if (ret)
		goto err;
	if (req_prod - rsp_prod > b->ring_size) {
		ret = -EPROTO;
		goto err;
	}
	b->req_cons = rsp_prod;
	b->rsp_prod_pvt = rsp_prod;
	b->rsp_pushed = rsp_prod;
	/* Grant copy maps nothing, so it has nothing to keep mapped. */
	b->persistent = persistent && b->mode == BLKBACK_LEASE;
	return 0;
err:
	gm_xen_grant_list_unmap(b->ring);
	b->ring = NULL;
	memset(&b->view, 0, sizeof(b->view));
	return ret;
}

/* preadv/pwritev all of @iov (at most BLKBACK_MAX_SEGMENTS entries,
 * consumed as it goes) at @pos.  Return: 0 or -errno. */
static int full_io(int fd, struct iovec *iov, int niov, off_t pos, int write)
{
	while (niov > 0) {
		ssize_t n = write ? pwritev(fd, iov, niov, pos)
				  : preadv(fd, iov, niov, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the image shrank under us */
		pos += n;
		while (niov > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			niov--;
		}
		if (niov > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* One checked segment of a request. */
struct seg {
	uint32_t ref;
	uint32_t off; /* bytes into the page */
	uint32_t len; /* bytes */
};

/* Serve a read (@write 0: disk to guest) or write of the validated
 * segments by mapping them.  Return: 0 or -errno. */
static int rw_lease(struct blkback *b, const struct seg *seg, unsigned int n,
		    off_t pos, int write)
{
	struct gm_xen_grant_list *l = NULL;
	struct iovec iov[BLKBACK_MAX_SEGMENTS];
	const struct iovec *pages;
	uint32_t refs[BLKBACK_MAX_SEGMENTS];
	unsigned int i;
	int prot, npages, ret;

	for (i = 0; i < n; i++)
		refs[i] = seg[i].ref;
	/* A write to the disk only reads the guest's pages: map them
	 * read-only, which the frontend's read-only grants require. */
	prot = write ? GM_PROT_READ : GM_PROT_READ | GM_PROT_WRITE;
	/* Persistent grants: each ref is a cache entry, mapped once and
	 * kept for the next request that names it. */
	if (b->persistent)
		prot |= GM_XEN_GLIST_CACHED;
	ret = gm_xen_grant_list_map(b->xen, b->domid, refs, n, prot, &l);
	if (ret)
		return ret;
	b->count.leases++;
	pages = gm_xen_grant_list_iov(l, &npages);
	if (!pages || npages != (int)n) {
		ret = -EIO; /* cannot happen: one iovec per ref */
		goto out;
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = (uint8_t *)pages[i].iov_base + seg[i].off;
		iov[i].iov_len = seg[i].len;
	}
	ret = full_io(b->fd, iov, (int)n, pos, write);
out:
	gm_xen_grant_list_unmap(l);
	b->count.leases--;
	return ret;
}

/* The same through the bounce buffer and grant copies. */
static int rw_copy(struct blkback *b, const struct seg *seg, unsigned int n,
		   off_t pos, int write)
{
	struct gm_xen_copy_seg cs[BLKBACK_MAX_SEGMENTS];
	struct iovec iov;
	size_t total = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		cs[i] = (struct gm_xen_copy_seg){
			.buf = b->bounce + total,
			.domid = b->domid,
			.ref = seg[i].ref,
			.offset = seg[i].off,
			.len = seg[i].len,
			.flags = write ? GM_XEN_COPY_FROM_GRANT
				       : GM_XEN_COPY_TO_GRANT,
		};
		total += seg[i].len;
	}
	iov.iov_base = b->bounce;
	iov.iov_len = total;
	if (write) {
		ret = gm_xen_grant_copy(b->xen, cs, n);
		if (!ret)
			ret = full_io(b->fd, &iov, 1, pos, 1);
	} else {
		ret = full_io(b->fd, &iov, 1, pos, 0);
		if (!ret)
			ret = gm_xen_grant_copy(b->xen, cs, n);
	}
	return ret;
}

/* Validate the @n (1 .. BLKBACK_MAX_SEGMENTS) segments of a read or
 * write at @sector (copies: the ring's, or the indirect pages') and serve
 * it.  Return: a BLKIF_RSP_* status. */
static int16_t serve_segs(struct blkback *b, uint64_t sector,
			  const struct blkif_request_segment *in,
			  unsigned int n, int write)
{
	struct seg seg[BLKBACK_MAX_SEGMENTS];
	uint64_t total = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		unsigned int first = in[i].first_sect;
		unsigned int last = in[i].last_sect;

		if (first > last || last >= BLKBACK_SECTORS_PER_PAGE)
			return BLKIF_RSP_ERROR;
		seg[i].ref = in[i].gref;
		seg[i].off = first * BLKBACK_SECTOR;
		seg[i].len = (last - first + 1) * BLKBACK_SECTOR;
		total += last - first + 1;
	}
	/* Written so that nothing wraps: the sector may be anything. */
	if (sector > b->sectors || total > b->sectors - sector)
		return BLKIF_RSP_ERROR;
	if (write && b->readonly)
		return BLKIF_RSP_ERROR;
	ret = (b->mode == BLKBACK_LEASE ? rw_lease : rw_copy)(
		b, seg, n, (off_t)(sector * BLKBACK_SECTOR), write);
	if (ret)
		return BLKIF_RSP_ERROR;
	b->count.segments += n;
	return BLKIF_RSP_OKAY;
}

/* A read or write (or a flush's data) with its segments in the request. */
static int16_t serve_rw(struct blkback *b, const struct blkif_request *req,
			int write)
{
	unsigned int n = req->nr_segments;

	if (n == 0 || n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return BLKIF_RSP_ERROR;
	return serve_segs(b, req->sector_number, req->seg, n, write);
}

/*
 * Copy the descriptors of an indirect request out of its @npages pages
 * (refs @grefs) into b->indirect, once: mapped read-only in lease mode
 * (through the cache with persistent grants, as Linux's blkfront makes
 * these pages persistent too), grant-copied in copy mode.  Return: 0 or
 * -errno.
 */
static int read_indirect(struct blkback *b, const uint32_t *grefs,
			 unsigned int npages, unsigned int n)
{
	size_t bytes = (size_t)n * sizeof(struct blkif_request_segment);
	unsigned int i;
	int ret;

	if (b->mode == BLKBACK_LEASE) {
		struct gm_xen_grant_list *l = NULL;
		const struct iovec *pages;
		int prot = GM_PROT_READ, np;

		if (b->persistent)
			prot |= GM_XEN_GLIST_CACHED;
		ret = gm_xen_grant_list_map(b->xen, b->domid, grefs, npages,
					    prot, &l);
		if (ret)
			return ret;
		pages = gm_xen_grant_list_iov(l, &np);
		if (!pages || np != (int)npages)
			ret = -EIO; /* cannot happen: one iovec per ref */
		for (i = 0; !ret && i < npages; i++) {
			size_t len = bytes - (size_t)i * BLKBACK_PAGE;

			memcpy((uint8_t *)b->indirect + (size_t)i * BLKBACK_PAGE,
			       pages[i].iov_base,
			       len < BLKBACK_PAGE ? len : BLKBACK_PAGE);
		}
		gm_xen_grant_list_unmap(l);
		return ret;
	} else {
		struct gm_xen_copy_seg cs[BLKBACK_MAX_INDIRECT_PAGES];

		for (i = 0; i < npages; i++) {
			size_t len = bytes - (size_t)i * BLKBACK_PAGE;

			cs[i] = (struct gm_xen_copy_seg){
				.buf = (uint8_t *)b->indirect +
				       (size_t)i * BLKBACK_PAGE,
				.domid = b->domid,
				.ref = grefs[i],
				.offset = 0,
				.len = (uint32_t)(len < BLKBACK_PAGE
							  ? len
							  : BLKBACK_PAGE),
				.flags = GM_XEN_COPY_FROM_GRANT,
			};
		}
		return gm_xen_grant_copy(b->xen, cs, npages);
	}
}

/* BLKIF_OP_INDIRECT: a read or write whose segments are in pages the
 * request names. */
static int16_t serve_indirect(struct blkback *b,
			      const struct blkif_request *req)
{
	struct blkif_request_indirect ind;
	unsigned int n, npages;

	/* The request was copied out of the ring once: reinterpret the
	 * copy, not the ring. */
	memcpy(&ind, req, sizeof(ind));
	if (ind.indirect_op != BLKIF_OP_READ &&
	    ind.indirect_op != BLKIF_OP_WRITE)
		return BLKIF_RSP_ERROR;
	n = ind.nr_segments;
	if (n == 0 || n > BLKBACK_MAX_INDIRECT_SEGMENTS)
		return BLKIF_RSP_ERROR;
	npages = (n + BLKBACK_SEGS_PER_INDIRECT_PAGE - 1) /
		 BLKBACK_SEGS_PER_INDIRECT_PAGE;
	if (read_indirect(b, ind.indirect_grefs, npages, n))
		return BLKIF_RSP_ERROR;
	return serve_segs(b, ind.sector_number, b->indirect, n,
			  ind.indirect_op == BLKIF_OP_WRITE);
}

static int16_t serve(struct blkback *b, const struct blkif_request *req)
{
	int16_t st;

	switch (req->operation) {
	case BLKIF_OP_READ:
		return serve_rw(b, req, 0);
	case BLKIF_OP_WRITE:
		return serve_rw(b, req, 1);
	case BLKIF_OP_FLUSH_DISKCACHE:
		/* A flush may carry a write (Linux's blkfront sends one for
		 * a FUA write): write, then make everything durable. */
		if (req->nr_segments) {
			st = serve_rw(b, req, 1);
			if (st != BLKIF_RSP_OKAY)
				return st;
		}
		return fdatasync(b->fd) ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY;
	case BLKIF_OP_INDIRECT:
		return serve_indirect(b, req);
	default:
		/* Barriers and discard are not advertised; anything else
		 * is unknown. */
		return BLKIF_RSP_EOPNOTSUPP;
	}
}

/*
 * Publish the responses written so far, and say whether the frontend
 * wants an event for them: what RING_PUSH_RESPONSES_AND_CHECK_NOTIFY
 * does, except that the old producer value is our own copy, not the
 * shared one the guest could have rewritten.
 */
static int push_responses(struct blkback *b, int *notify)
{
	RING_IDX old = b->rsp_pushed, new = b->rsp_prod_pvt;
	uint32_t event;
	int ret;

	if (old == new)
		return 0;
	/* Sequentially consistent, a release and more: the responses'
	 * contents before the index, and the index store before the load
	 * of rsp_event (the full barrier of io/ring.h's macros), or a
	 * frontend that just set rsp_event would miss its event. */
	ret = gm_view_atomic_store_u32(&b->view, OFF_RSP_PROD, new,
				       GM_SEQ_CST);
	if (ret)
		return ret;
	b->rsp_pushed = new;
	ret = gm_view_atomic_load_u32(&b->view, OFF_RSP_EVENT, &event,
				      GM_SEQ_CST);
	if (ret)
		return ret;
	if ((RING_IDX)(new - event) < (RING_IDX)(new - old))
		*notify = 1;
	return 0;
}

/*
 * The operation a response carries: the request's, except that an
 * indirect request is answered with its indirect_op (Linux's blkfront
 * checks that, and disables the disk otherwise), whatever it was.
 */
static uint8_t response_op(const struct blkif_request *req)
{
	struct blkif_request_indirect ind;

	if (req->operation != BLKIF_OP_INDIRECT)
		return req->operation;
	memcpy(&ind, req, sizeof(ind));
	return ind.indirect_op;
}

/* Copy the request at req_cons out of the ring, serve it and write its
 * response in the same slot. */
static int serve_one(struct blkback *b)
{
	struct blkif_request req;
	struct blkif_response rsp;
	int ret;

	/* The one read of the request: everything below uses the copy. */
	ret = gm_view_read(&b->view, slot_off(b, b->req_cons), &req,
			   sizeof(req));
	if (ret)
		return ret;
	b->req_cons++;
	memset(&rsp, 0, sizeof(rsp)); /* no stack bytes into the guest */
	rsp.id = req.id;
	rsp.operation = response_op(&req);
	rsp.status = serve(b, &req);
	b->count.requests++;
	if (rsp.status != BLKIF_RSP_OKAY)
		b->count.errors++;
	ret = gm_view_write(&b->view, slot_off(b, b->rsp_prod_pvt), &rsp,
			    sizeof(rsp));
	if (ret)
		return ret;
	b->rsp_prod_pvt++;
	return 0;
}

int blkback_process(struct blkback *b)
{
	unsigned int served = 0;
	int notify = 0, ret;
	RING_IDX prod = 0;

	if (!b || !b->ring)
		return -ENOTCONN;
	if (b->broken)
		return -EPROTO;
	for (;;) {
		/* Acquire: the requests' contents after the index. */
		ret = gm_view_atomic_load_u32(&b->view, OFF_REQ_PROD, &prod,
					      GM_ACQUIRE);
		if (ret)
			goto fail;
		if (prod - b->req_cons > b->ring_size) {
			set_broken(b, "request producer overran the ring",
				   prod);
			return -EPROTO;
		}
		while (b->req_cons != prod) {
			if (served == BLKBACK_BATCH)
				/* Let the caller serve its other events
				 * before it calls again. */
				return (notify ? BLKBACK_NOTIFY : 0) |
				       BLKBACK_MORE;
			ret = serve_one(b);
			/* Each response is published at once, as Linux's
			 * blkback does: the frontend may complete it (and
			 * reuse its slot) while the next is served. */
			if (!ret)
				ret = push_responses(b, &notify);
			if (ret)
				goto fail;
			served++;
		}
		/*
		 * RING_FINAL_CHECK_FOR_REQUESTS: ask for an event at the
		 * next request, then look again, so that a request
		 * produced in between is not left without an event.  Both
		 * sequentially consistent: req_event's store before
		 * req_prod's load (io/ring.h's full barrier between them).
		 */
		ret = gm_view_atomic_store_u32(&b->view, OFF_REQ_EVENT,
					       b->req_cons + 1, GM_SEQ_CST);
		if (ret)
			goto fail;
		ret = gm_view_atomic_load_u32(&b->view, OFF_REQ_PROD, &prod,
					      GM_SEQ_CST);
		if (ret)
			goto fail;
		if (prod == b->req_cons)
			break;
	}
	return notify ? BLKBACK_NOTIFY : 0;
fail:
	/* The view covers the ring: an accessor fails only on a bug. */
	set_broken(b, "ring access failed", prod);
	return -EPROTO;
}

void blkback_detach(struct blkback *b)
{
	if (!b || !b->ring)
		return;
	gm_xen_grant_list_unmap(b->ring);
	b->ring = NULL;
	memset(&b->view, 0, sizeof(b->view));
	/* Persistent grants: the frontend's data pages stay mapped in the
	 * cache between requests; the connection is over, so unmap them. */
	if (b->persistent)
		gm_xen_grant_list_purge(b->xen, b->domid);
	b->persistent = 0;
}

void blkback_fini(struct blkback *b)
{
	if (!b)
		return;
	blkback_detach(b);
	free(b->bounce);
	b->bounce = NULL;
	free(b->indirect);
	b->indirect = NULL;
}
