/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What pins guest memory beyond one accessor call: views (one range of one
 * region, for the inline accessors), leases (any range as an iovec array)
 * and the fd I/O built on leases.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "range.h"
#include "region.h"
#include "space.h"

/* ---- views ---- */

static int prot_ok(int prot)
{
	return prot && !(prot & ~(GM_PROT_READ | GM_PROT_WRITE));
}

int gm_view_get(struct gm_space *s, uint64_t gpa, uint64_t len, int prot,
		struct gm_view *v)
{
	const struct gm__entry *next;
	struct gm__walk w;
	int err;

	if (v)
		memset(v, 0, sizeof(*v));
	if (!v || !prot_ok(prot) || !len)
		return gm__error_access(s, "view", gpa, len, gpa, -EINVAL,
					!v ? "view is NULL"
					: !len ? "length is 0"
					       : "invalid protection");
	err = gm__range_args(s, "view", gpa, v, len);
	if (err)
		return err;
	err = gm__walk_begin(&w, s, NULL, "view", gpa, len, prot,
			     GM_MAP_WHOLE | GM_MAP_HOLD, 0);
	if (err)
		return err;
	/* One region, whole: tell a range across two from one with a hole. */
	if (w.e && gpa >= w.e->gpa && gpa + (len - 1) > w.e->last) {
		next = gm__space_next(w.t, w.e);
		if (next && next->gpa == w.e->last + 1)
			err = gm__error_access(s, "view", gpa, len,
					       w.e->last + 1, -EINVAL,
					       "a view cannot cross regions");
		else
			err = gm__error_access(s, "view", gpa, len,
					       w.e->last + 1, -EFAULT, NULL);
		gm__walk_end(&w);
		return err;
	}
	err = gm__walk_next(&w);
	if (err < 0) {
		gm__walk_end(&w);
		return gm__walk_error(&w, "view");
	}
	/* The view keeps the mapping and the walk's reference. */
	v->gpa = gpa;
	v->len = len;
	v->hva = w.hva;
	v->region = w.region;
	v->cookie = w.m.cookie;
	v->prot = prot;
	w.region = NULL;
	gm__walk_end(&w);
	return 0;
}

void gm_view_put(struct gm_view *v)
{
	struct gm_map m;

	if (!v || !v->region)
		return;
	m = (struct gm_map){ .hva = v->hva, .len = v->len, .cookie = v->cookie };
	gm__region_unmap(v->region, &m);
	gm__region_put(v->region);
	memset(v, 0, sizeof(*v));
}

/* ---- leases ---- */

struct lease_piece {
	struct gm_region *region; /* one reference each */
	struct gm_map m;
};

struct gm_lease {
	int niov, npiece, cap;
	struct iovec *iov;	    /* merged where host-contiguous */
	struct lease_piece *piece; /* one per mapping to release */
};

void gm_lease_put(struct gm_lease *l)
{
	int i;

	if (!l)
		return;
	for (i = 0; i < l->npiece; i++) {
		gm__region_unmap(l->piece[i].region, &l->piece[i].m);
		gm__region_put(l->piece[i].region);
	}
	free(l->iov);
	free(l->piece);
	free(l);
}

static int lease_push(struct gm_lease *l, struct gm_region *r,
		      const struct gm_map *m)
{
	struct iovec *last = l->niov ? &l->iov[l->niov - 1] : NULL;

	if (l->npiece == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		struct iovec *iov;
		struct lease_piece *pc;

		if (cap <= l->cap) /* int overflow: absurdly many pieces */
			return -ENOMEM;
		iov = realloc(l->iov, (size_t)cap * sizeof(*iov));
		if (!iov)
			return -ENOMEM;
		l->iov = iov;
		pc = realloc(l->piece, (size_t)cap * sizeof(*pc));
		if (!pc)
			return -ENOMEM;
		l->piece = pc;
		l->cap = cap;
		last = l->niov ? &l->iov[l->niov - 1] : NULL;
	}
	l->piece[l->npiece++] = (struct lease_piece){ .region = r, .m = *m };
	if (last && (uint8_t *)last->iov_base + last->iov_len == m->hva)
		last->iov_len += m->len;
	else
		l->iov[l->niov++] =
			(struct iovec){ .iov_base = m->hva, .iov_len = m->len };
	return 0;
}

static int lease_get(struct gm_space *s, const char *op, uint64_t gpa,
		     size_t len, int prot, struct gm_lease **out)
{
	struct gm_lease *l;
	struct gm__walk w;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return gm__error_access(s, op, gpa, len, gpa, -ENOMEM, NULL);
	err = gm__walk_begin(&w, s, NULL, op, gpa, len, prot, GM_MAP_HOLD, 1);
	if (err) {
		free(l);
		return err;
	}
	while ((err = gm__walk_next(&w)) > 0) {
		/* The lease keeps each mapping and its reference. */
		err = lease_push(l, w.region, &w.m);
		if (err) {
			gm__walk_end(&w);
			gm_lease_put(l);
			return gm__error_access(s, op, gpa, len,
						gpa + w.done, err, NULL);
		}
		w.region = NULL;
		gm__walk_done(&w);
	}
	gm__walk_end(&w);
	if (err < 0) {
		gm_lease_put(l);
		return gm__walk_error(&w, op);
	}
	*out = l;
	return 0;
}

int gm_lease_get(struct gm_space *s, uint64_t gpa, size_t len, int prot,
		 struct gm_lease **out)
{
	int err;

	if (out)
		*out = NULL;
	if (!out || !prot_ok(prot) || !len)
		return gm__error_access(s, "lease", gpa, len, gpa, -EINVAL,
					!out ? "out is NULL"
					: !len ? "length is 0"
					       : "invalid protection");
	err = gm__range_args(s, "lease", gpa, out, len);
	if (err)
		return err;
	return lease_get(s, "lease", gpa, len, prot, out);
}

const struct iovec *gm_lease_iov(const struct gm_lease *l, int *iovcnt)
{
	if (iovcnt)
		*iovcnt = l ? l->niov : 0;
	return l ? l->iov : NULL;
}

/* ---- fd I/O ---- */

static ssize_t fd_xfer(struct gm_space *s, uint64_t gpa, size_t len, int fd,
		       int64_t offset, int to_guest)
{
	const char *op = to_guest ? "fd read" : "fd write";
	struct gm_lease *l;
	struct iovec *iov;
	uint64_t done = 0;
	int err, i = 0;

	err = gm__range_args(s, op, gpa, &fd, len);
	if (err)
		return err;
	if (fd < 0 || offset < -1)
		return gm__error_access(s, op, gpa, len, gpa, -EINVAL,
					fd < 0 ? "fd is negative"
					       : "offset is below -1");
	if (offset >= 0 && (uint64_t)offset + len > (uint64_t)INT64_MAX)
		return gm__error_access(s, op, gpa, len, gpa, -EOVERFLOW,
					"file offset + length overflows");
	if (!len)
		return 0;
	err = lease_get(s, op, gpa, len,
			to_guest ? GM_PROT_WRITE : GM_PROT_READ, &l);
	if (err)
		return err;
	/* The lease is ours alone, so its iovecs can be advanced in place
	 * over short counts; the pieces that get unmapped are separate. */
	iov = l->iov;
	while (i < l->niov) {
		int cnt = l->niov - i < IOV_MAX ? l->niov - i : IOV_MAX;
		ssize_t n;

		if (offset >= 0)
			n = to_guest ? preadv(fd, iov + i, cnt,
					      offset + (int64_t)done)
				     : pwritev(fd, iov + i, cnt,
					       offset + (int64_t)done);
		else
			n = to_guest ? readv(fd, iov + i, cnt)
				     : writev(fd, iov + i, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0) /* end of file (or a device that takes nothing) */
			break;
		done += (uint64_t)n;
		while (n > 0) {
			if ((size_t)n >= iov[i].iov_len) {
				n -= (ssize_t)iov[i].iov_len;
				i++;
			} else {
				iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
				iov[i].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	gm_lease_put(l);
	if (err && !done)
		return gm__error_access(s, op, gpa, len, gpa, err, NULL);
	return (ssize_t)done;
}

ssize_t gm_read_from_fd(struct gm_space *s, uint64_t gpa, size_t len, int fd,
			int64_t offset)
{
	return fd_xfer(s, gpa, len, fd, offset, 1);
}

ssize_t gm_write_to_fd(struct gm_space *s, uint64_t gpa, size_t len, int fd,
		       int64_t offset)
{
	return fd_xfer(s, gpa, len, fd, offset, 0);
}
