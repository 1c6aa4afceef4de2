/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xen-blkback's xenbus side: the backend's xenstore nodes, the state
 * machine against the frontend's, and the event channel.
 *
 * Level-triggered: every watch event makes xb_changed() read the states
 * it depends on again and act on what they are now, so that lost,
 * merged or spurious events do no harm.
 */
#ifndef BLKBACK_XENBUS_H
#define BLKBACK_XENBUS_H

#include <stdint.h>

#include <xenevtchn.h>
#include <xenstore.h>

#include "blkback.h"

struct xb {
	/* Set by the caller before xb_setup(). */
	struct xs_handle *xs;
	xenevtchn_handle *xce;
	struct gm_xen *xen;
	const char *be; /* the backend's path */
	int fd;		/* the image */
	uint64_t sectors;
	int readonly;
	enum blkback_mode mode;
	int persistent; /* offer feature-persistent */

	/* Owned by xb_*. */
	char *fe;	/* the frontend's path */
	uint32_t domid; /* the frontend's domain */
	int state;	/* the backend state we last wrote */
	int watching;	/* watches registered */
	int bound;	/* @port is bound */
	evtchn_port_t port; /* our end of the event channel */
	int attached;	/* @dev's ring is mapped */
	int more;	/* requests pending: process again */
	struct blkback dev;
	int dev_ready; /* @dev initialised */
};

/* Read the frontend's identity, write the disk's nodes, go InitWait and
 * set the watches.  Return: 0, or -errno with a message on stderr. */
int xb_setup(struct xb *b);

/* A watch fired: act on the states as they are now.  Return: 1 when the
 * backend must end, else 0. */
int xb_changed(struct xb *b);

/* Serve the ring: @pending when the event channel's fd is readable (its
 * event is consumed), 0 when only @more was set. */
void xb_event(struct xb *b, int pending);

/* Unmap, unbind, write Closed if the backend's path still exists, drop
 * the watches.  Idempotent. */
void xb_teardown(struct xb *b);

/* Whether the event channel is bound (the caller polls its fd). */
static inline int xb_bound(const struct xb *b)
{
	return b->bound;
}

#endif /* BLKBACK_XENBUS_H */
