/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dom0 side of the real-Xen harness: what a test program running in dom0
 * needs to know about the PVH test guest, and a way to ask the guest what it
 * sees in its own memory.  The data comes from the keys the guest publishes
 * (guest-proto.h); the guest's domid comes from the environment variable
 * GM_XEN_DOMID, which the harness's dom0 /init sets before it starts a test.
 *
 * All functions return 0 or a negative errno.  One struct xq_guest per
 * process; not thread-safe.
 */
#ifndef XQ_GUEST_CLIENT_H
#define XQ_GUEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "guest-proto.h"

struct xs_handle;

struct xq_run {
	uint64_t gfn;		/* first frame of the run */
	unsigned int count;	/* frames gfn .. gfn + count - 1 */
};

struct xq_guest {
	struct xs_handle *xs;
	unsigned int domid;
	char dir[64];			/* /local/domain/<id>/data/guestmem */

	unsigned int nr_pattern;	/* pattern pages */
	unsigned int nr_runs;
	struct xq_run *runs;		/* sorted by gfn */

	unsigned int nr_grants;
	uint32_t *grant_refs;		/* in grant index order */
	uint64_t *grant_gfns;		/* 0 where the guest could not tell */
	unsigned int ro_index;		/* the read-only grant */
	int grants_consecutive;

	char tag[24];			/* "<pid>.<time>", unique per process */
	unsigned long seq;		/* last request number */
	unsigned int timeout_ms;	/* per request */
	char last_error[128];		/* reason of the last ERROR answer */
};

/* Where a request points: a pattern frame or a granted page. */
enum xq_space {
	XQ_SPACE_GFN,
	XQ_SPACE_GRANT,
};

/*
 * Connect to xenstore and load the guest's published description.
 * Return: -ENOENT GM_XEN_DOMID unset or the guest published nothing;
 * -EAGAIN the guest is not ready; -EPROTO malformed keys; -ENOMEM;
 * errors from xs_open().
 */
int xq_guest_open(struct xq_guest *g);
void xq_guest_close(struct xq_guest *g);

/*
 * Read one of the guest's keys (relative to its data/guestmem directory)
 * as a string the caller frees.  Return: 0, or the errno of xs_read().
 */
int xq_guest_get(struct xq_guest *g, const char *key, char **value);

/* The gfn of pattern page i (0 <= i < nr_pattern), in gfn order. */
uint64_t xq_guest_pattern_gfn(const struct xq_guest *g, unsigned int i);

/*
 * Ask the guest to read, compare or write len (<= XQ_MAX_IO) bytes at
 * offset off of the page named by (space, index): a pattern gfn or a grant
 * index.  These go through the guest's own mapping of its memory.
 *
 * xq_guest_check(): 0 if the guest sees exactly buf, 1 if it sees other
 * bytes (copied to seen, which may be NULL).  xq_guest_pattern(): 0 if the
 * whole page still holds its original pattern, 1 if not.
 * Return (all): -ETIMEDOUT no answer in time (30 s by default, see
 * timeout_ms); -EREMOTEIO the guest answered ERROR (its reason:
 * xq_guest_last_error()); -EPROTO a malformed answer; -EINVAL bad
 * arguments; errors from xs_write().
 */
int xq_guest_read(struct xq_guest *g, enum xq_space space, uint64_t index,
		  unsigned int off, void *buf, unsigned int len);
int xq_guest_check(struct xq_guest *g, enum xq_space space, uint64_t index,
		   unsigned int off, const void *buf, unsigned int len,
		   void *seen);
int xq_guest_write(struct xq_guest *g, enum xq_space space, uint64_t index,
		   unsigned int off, const void *buf, unsigned int len);
int xq_guest_pattern(struct xq_guest *g, enum xq_space space,
		     uint64_t index);

/* The guest's reason for the last ERROR answer, or "". */
const char *xq_guest_last_error(const struct xq_guest *g);

#endif /* XQ_GUEST_CLIENT_H */
