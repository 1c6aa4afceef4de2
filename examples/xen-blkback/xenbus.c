/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xen-blkback's xenbus state machine (xenbus.h).
 *
 * The toolstack has written the backend's directory and the frontend's
 * (as libxl does); the backend adds the disk's nodes and goes InitWait;
 * the frontend publishes its ring and event channel and goes Initialised;
 * the backend maps and binds them and goes Connected.  Either end, the
 * toolstack, or the frontend's domain going away ends it.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#include "xenbus.h"

#define TOKEN_BE "be"
#define TOKEN_FE "fe"
#define TOKEN_RELEASE "release"

static const char *state_name(int s)
{
	static const char *const names[] = {
		"Unknown",   "Initialising", "InitWait",
		"Initialised", "Connected",  "Closing",
		"Closed",    "Reconfiguring", "Reconfigured",
	};

	return s >= 0 && s < (int)(sizeof(names) / sizeof(names[0]))
		       ? names[s]
		       : "?";
}

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("xen-blkback: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Read @dir/@node as a string (malloc'd, NUL-terminated), or NULL. */
static char *read_node(struct xb *b, const char *dir, const char *node)
{
	char path[512];
	unsigned int len;

	if (snprintf(path, sizeof(path), "%s/%s", dir, node) >=
	    (int)sizeof(path))
		return NULL;
	return xs_read(b->xs, XBT_NULL, path, &len);
}

/* Read @dir/@node as an unsigned number no larger than @max.  Return:
 * 0, -ENOENT (absent), -EINVAL (not such a number). */
static int read_uint(struct xb *b, const char *dir, const char *node,
		     uint64_t max, uint64_t *val)
{
	char *s = read_node(b, dir, node), *end;
	unsigned long long v;
	int ret = 0;

	if (!s)
		return -ENOENT;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		ret = -EINVAL;
	else
		*val = v;
	free(s);
	return ret;
}

static int write_node(struct xb *b, const char *node, const char *fmt, ...)
{
	char path[512], val[64];
	va_list ap;
	int n;

	if (snprintf(path, sizeof(path), "%s/%s", b->be, node) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(val))
		return -EINVAL;
	if (!xs_write(b->xs, XBT_NULL, path, val, (unsigned int)n))
		return -errno;
	return 0;
}

static int set_state(struct xb *b, int state)
{
	int ret = write_node(b, "state", "%d", state);

	if (ret) {
		say("cannot write %s/state: %s", b->be, strerror(-ret));
		return ret;
	}
	b->state = state;
	say("backend state %d (%s)", state, state_name(state));
	return 0;
}

/* The frontend's state, or -ENOENT when its node is gone. */
static int frontend_state(struct xb *b)
{
	uint64_t v;
	int ret = read_uint(b, b->fe, "state", 8, &v);

	return ret ? ret : (int)v;
}

int xb_setup(struct xb *b)
{
	uint64_t domid;
	int ret;

	b->state = -1;
	b->fe = read_node(b, b->be, "frontend");
	if (!b->fe || !b->fe[0]) {
		say("%s/frontend: cannot read it", b->be);
		return -ENOENT;
	}
	ret = read_uint(b, b->be, "frontend-id", 0x7fef, &domid);
	if (ret) {
		say("%s/frontend-id: %s", b->be,
		    ret == -ENOENT ? "missing" : "not a domain id");
		return ret;
	}
	b->domid = (uint32_t)domid;
	ret = blkback_init(&b->dev, b->xen, b->domid, b->fd, b->sectors,
			   b->readonly, b->mode);
	if (ret) {
		say("cannot set the device up: %s", strerror(-ret));
		return ret;
	}
	b->dev_ready = 1;

	/* The disk, as the frontend reads it once Connected; the features,
	 * which it reads as soon as we are in InitWait. */
	if ((ret = write_node(b, "sectors", "%" PRIu64, b->sectors)) ||
	    (ret = write_node(b, "info", "%u",
			      b->readonly ? VDISK_READONLY : 0u)) ||
	    (ret = write_node(b, "sector-size", "%u", BLKBACK_SECTOR)) ||
	    (ret = write_node(b, "physical-sector-size", "%u",
			      BLKBACK_SECTOR)) ||
	    (ret = write_node(b, "feature-flush-cache", "1")) ||
	    (ret = write_node(b, "feature-max-indirect-segments", "%u",
			      BLKBACK_MAX_INDIRECT_SEGMENTS)) ||
	    (ret = write_node(b, "max-ring-page-order", "%u",
			      BLKBACK_MAX_RING_ORDER)))
		goto werr;
	/* Persistent grants are for leases: grant copy maps nothing. */
	if ((ret = write_node(b, "feature-persistent", "%d",
			      b->persistent && b->mode == BLKBACK_LEASE)))
		goto werr;
	/* Watches fire once when set, and xb_changed() is idempotent. */
	if (!xs_watch(b->xs, b->be, TOKEN_BE) ||
	    !xs_watch(b->xs, b->fe, TOKEN_FE) ||
	    !xs_watch(b->xs, "@releaseDomain", TOKEN_RELEASE)) {
		ret = -errno;
		say("cannot watch %s and %s: %s", b->be, b->fe,
		    strerror(-ret));
		b->watching = 1;
		return ret;
	}
	b->watching = 1;
	return set_state(b, XenbusStateInitWait);
werr:
	say("cannot write the disk's nodes under %s: %s", b->be,
	    strerror(-ret));
	return ret;
}

/* Read the frontend's ring refs into @refs.  Return: the page count, or
 * -errno. */
static int read_ring_refs(struct xb *b, uint32_t *refs)
{
	uint64_t order, v;
	unsigned int i, n;
	char node[32];
	int ret;

	ret = read_uint(b, b->fe, "ring-page-order", BLKBACK_MAX_RING_ORDER,
			&order);
	if (ret == -ENOENT) {
		ret = read_uint(b, b->fe, "ring-ref", UINT32_MAX, &v);
		if (ret) {
			say("%s/ring-ref: %s", b->fe,
			    ret == -ENOENT ? "missing" : "not a grant ref");
			return -EPROTO;
		}
		refs[0] = (uint32_t)v;
		return 1;
	}
	if (ret) {
		say("%s/ring-page-order: not a number up to %u", b->fe,
		    BLKBACK_MAX_RING_ORDER);
		return -EPROTO;
	}
	n = 1u << order;
	for (i = 0; i < n; i++) {
		snprintf(node, sizeof(node), "ring-ref%u", i);
		ret = read_uint(b, b->fe, node, UINT32_MAX, &v);
		if (ret) {
			say("%s/%s: %s", b->fe, node,
			    ret == -ENOENT ? "missing" : "not a grant ref");
			return -EPROTO;
		}
		refs[i] = (uint32_t)v;
	}
	return (int)n;
}

/* The frontend is Initialised: map its ring, bind its event channel,
 * go Connected.  Return: 0 or -errno (said on stderr). */
static int connect_frontend(struct xb *b)
{
	uint32_t refs[BLKBACK_MAX_RING_PAGES];
	xenevtchn_port_or_error_t port;
	uint64_t remote, feat = 0;
	char *proto;
	int n, ret, persistent;

	n = read_ring_refs(b, refs);
	if (n < 0)
		return n;
	ret = read_uint(b, b->fe, "event-channel", UINT32_MAX, &remote);
	if (ret) {
		say("%s/event-channel: %s", b->fe,
		    ret == -ENOENT ? "missing" : "not a port");
		return -EPROTO;
	}
	proto = read_node(b, b->fe, "protocol");
	if (proto && strcmp(proto, XEN_IO_PROTO_ABI_NATIVE)) {
		say("%s/protocol: '%s' is not supported, only '%s'", b->fe,
		    proto, XEN_IO_PROTO_ABI_NATIVE);
		free(proto);
		return -EPROTO;
	}
	free(proto);
	if (read_uint(b, b->fe, "feature-persistent", 1, &feat))
		feat = 0;
	persistent = b->persistent && feat;

	ret = blkback_attach(&b->dev, refs, (unsigned int)n, persistent);
	if (ret) {
		say("cannot map the ring of domain %u (%d page%s, ref %u): %s%s%s",
		    b->domid, n, n > 1 ? "s" : "", refs[0], strerror(-ret),
		    ret == -EPROTO ? "" : ": ",
		    ret == -EPROTO ? "" : gm_last_error());
		return ret;
	}
	b->attached = 1;
	port = xenevtchn_bind_interdomain(b->xce, b->domid,
					  (evtchn_port_t)remote);
	if (port < 0) {
		ret = -errno;
		say("cannot bind event channel %" PRIu64 " of domain %u: %s",
		    remote, b->domid, strerror(-ret));
		return ret;
	}
	b->port = (evtchn_port_t)port;
	b->bound = 1;
	say("connected to domain %u: %d ring page%s, event channel %" PRIu64
	    ", %s segments%s",
	    b->domid, n, n > 1 ? "s" : "", remote,
	    b->mode == BLKBACK_LEASE ? "leased" : "copied",
	    b->dev.persistent ? ", persistent grants" : "");
	ret = set_state(b, XenbusStateConnected);
	if (ret)
		return ret;
	/* Requests produced before we bound had no one to notify. */
	b->more = 1;
	return 0;
}

/* Stop serving: unmap the ring, unbind the event channel. */
static void disconnect(struct xb *b)
{
	if (b->bound) {
		if (xenevtchn_unbind(b->xce, b->port))
			say("cannot unbind event channel port %u: %s",
			    b->port, strerror(errno));
		b->bound = 0;
	}
	if (b->attached) {
		blkback_detach(&b->dev);
		b->attached = 0;
	}
	b->more = 0;
}

/* Give up on the frontend: stop serving and go Closing. */
static void fail_frontend(struct xb *b)
{
	disconnect(b);
	if (b->state != XenbusStateClosing)
		set_state(b, XenbusStateClosing);
}

int xb_changed(struct xb *b)
{
	uint64_t v;
	int fe, ret;

	if (!xs_is_domain_introduced(b->xs, b->domid)) {
		say("domain %u is gone", b->domid);
		return 1;
	}
	ret = read_uint(b, b->be, "online", 1, &v);
	if (ret == -ENOENT) {
		say("%s is gone", b->be);
		return 1;
	}
	if (!ret && v == 0) {
		say("the toolstack set %s/online to 0", b->be);
		return 1;
	}
	ret = read_uint(b, b->be, "state", 8, &v);
	if (ret == -ENOENT) {
		say("%s/state is gone", b->be);
		return 1;
	}
	if (!ret && (int)v != b->state &&
	    (v == XenbusStateClosing || v == XenbusStateClosed)) {
		say("the toolstack set the backend state to %d (%s)", (int)v,
		    state_name((int)v));
		return 1;
	}
	fe = frontend_state(b);
	if (fe == -ENOENT) {
		say("%s/state is gone", b->fe);
		return 1;
	}
	if (fe < 0)
		return 0; /* garbage: wait for the frontend to fix it */
	switch (fe) {
	case XenbusStateClosing:
	case XenbusStateClosed:
		say("frontend state %d (%s)", fe, state_name(fe));
		return 1;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (b->state != XenbusStateInitWait)
			break;
		say("frontend state %d (%s)", fe, state_name(fe));
		if (connect_frontend(b))
			fail_frontend(b);
		break;
	default:
		break;
	}
	return 0;
}

void xb_event(struct xb *b, int pending)
{
	xenevtchn_port_or_error_t port;
	int ret;

	if (!b->bound)
		return;
	/* Consume and unmask the event (a read of the evtchn device, which
	 * blocks when there is none: only when the fd polled readable). */
	if (pending) {
		port = xenevtchn_pending(b->xce);
		if (port >= 0 &&
		    xenevtchn_unmask(b->xce, (evtchn_port_t)port))
			say("cannot unmask port %d: %s", port,
			    strerror(errno));
	}
	ret = blkback_process(&b->dev);
	if (ret < 0) {
		say("domain %u: %s: no longer serving it", b->domid,
		    b->dev.why[0] ? b->dev.why : strerror(-ret));
		fail_frontend(b);
		return;
	}
	b->more = !!(ret & BLKBACK_MORE);
	if ((ret & BLKBACK_NOTIFY) && xenevtchn_notify(b->xce, b->port))
		say("cannot notify port %u: %s", b->port, strerror(errno));
}

void xb_teardown(struct xb *b)
{
	char *s;

	disconnect(b);
	if (b->dev_ready) {
		blkback_fini(&b->dev);
		b->dev_ready = 0;
	}
	if (!b->xs)
		return;
	if (b->state >= 0 && b->state != XenbusStateClosed) {
		/* Do not create the directory again if the toolstack has
		 * removed it. */
		s = read_node(b, b->be, "state");
		if (s)
			set_state(b, XenbusStateClosed);
		free(s);
	}
	if (b->watching) {
		xs_unwatch(b->xs, b->be, TOKEN_BE);
		if (b->fe)
			xs_unwatch(b->xs, b->fe, TOKEN_FE);
		xs_unwatch(b->xs, "@releaseDomain", TOKEN_RELEASE);
		b->watching = 0;
	}
	free(b->fe);
	b->fe = NULL;
}
