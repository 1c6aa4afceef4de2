/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant-ref lists: arbitrary grant refs of one domain mapped, in order, by
 * one xengnttab_map_domain_grant_refs() call into one contiguous range,
 * for as long as the caller holds the list.  The mapping cache has no part
 * in it.  Xen's answer is all or nothing, and gntdev does not say which
 * ref it refused; when a map fails, a one-byte grant copy of each ref
 * (copy.c) finds the refs Xen refuses without mapping anything more.
 *
 * Cached lists (GM_XEN_GLIST_CACHED) instead pin one cache entry per ref
 * (cache.c), each mapped by its own xengnttab_map_grant_ref() call through
 * the pager below: a list is then an array of pins, and its pages are
 * wherever their entries are.
 */
#include "private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

/* Failing refs that gm_last_error() names, at most. */
#define NAMED_REFS 4

struct gm_xen_grant_list {
	struct gm_xen *x;	/* one reference */
	uint8_t *hva;		/* NULL: cached, and more than one page */
	unsigned int count;
	int prot;
	pid_t pid;		/* the process that mapped it */
	struct gm__xen_entry **ents; /* cached: the pinned entries; or NULL */
	struct iovec iov[];	/* one per page; then ents' array */
};

/* The pager of cached lists' entries: page @first is domid << 32 | ref. */
static int cached_map(struct gm__xen_region *xr, uint64_t first,
		      uint32_t npages, int prot, uint8_t *at, uint8_t **hva,
		      int **err)
{
	struct gm_xen *x = xr->x;
	int ret = 0;

	(void)npages; /* always 1 */
	(void)at;
	*err = NULL;
	*hva = xengnttab_map_grant_ref(x->xgt, (uint32_t)(first >> 32),
				       (uint32_t)first,
				       (prot & GM_PROT_WRITE)
					       ? PROT_READ | PROT_WRITE
					       : PROT_READ);
	atomic_fetch_add_explicit(&x->map_calls, 1, memory_order_relaxed);
	if (!*hva) {
		ret = errno ? -errno : -EIO; /* errno 0 cannot happen */
		atomic_fetch_add_explicit(&x->failures, 1,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&x->pages_mapped, 1,
					  memory_order_relaxed);
	}
	return ret;
}

static void cached_unmap(struct gm__xen_region *xr, uint8_t *hva,
			 uint32_t npages)
{
	/* A child after fork() has not the mapping, and the gntdev file is
	 * the parent's (see gm_xen_grant_list_unmap()). */
	if (xr->x->pid == getpid())
		(void)xengnttab_unmap(xr->x->xgt, hva, npages);
}

static const struct gm__xen_pager cached_pager = {
	.name = "xen-grant-list",
	.map = cached_map,
	.unmap = cached_unmap,
};

/* Pin (or map) the cache entries of a cached list's refs. */
static int map_cached(struct gm_xen *x, uint32_t domid, const uint32_t *refs,
		      struct gm_xen_grant_list *l, int prot)
{
	const char *mode = (prot & GM_PROT_WRITE) ? "read-write" : "read-only";
	unsigned int i, failed = l->count;
	char ebuf[64];
	int ret;

	ret = gm__xen_cache_grants(x, &cached_pager, domid, refs, l->count,
				   prot, l->ents, &failed);
	if (ret == -ENOBUFS)
		return gm_error_set(ret,
				    "gm_xen_grant_list_map: domain %u, %u "
				    "refs, %s, cached: views, leases and "
				    "cached lists pin the whole cache budget "
				    "(%zu bytes)",
				    domid, l->count, mode, x->opt.cache_bytes);
	if (ret && failed < l->count)
		return gm_error_set(ret,
				    "gm_xen_grant_list_map: domain %u, %u "
				    "refs, %s, cached: ref %u (index %u) "
				    "could not be mapped: "
				    "xengnttab_map_grant_ref failed (%s); "
				    "no ref of the list stays mapped",
				    domid, l->count, mode, refs[failed],
				    failed, strerror_r(-ret, ebuf,
						       sizeof(ebuf)));
	if (ret)
		return gm_error_set(ret,
				    "gm_xen_grant_list_map: domain %u, %u "
				    "refs, %s, cached: %s",
				    domid, l->count, mode,
				    strerror_r(-ret, ebuf, sizeof(ebuf)));
	for (i = 0; i < l->count; i++)
		l->iov[i] = (struct iovec){
			.iov_base = l->ents[i]->hva,
			.iov_len = XEN_PAGE_SIZE,
		};
	l->hva = l->count == 1 ? l->ents[0]->hva : NULL;
	return 0;
}

/*
 * After a failed map of @refs: copy one byte of each ref, so that Xen
 * says which refs it refuses, and describe up to NAMED_REFS of them in
 * @buf.  Returns how many refs failed the copy, or -1 if the probe could
 * not run (out of memory, or the copy call failed as a whole).
 */
static int probe(struct gm_xen *x, uint32_t domid, const uint32_t *refs,
		 unsigned int count, char *buf, size_t size)
{
	struct gm_xen_copy_seg *s;
	unsigned int i, bad = 0;
	size_t used = 0;
	uint8_t byte;
	char ebuf[64];

	buf[0] = '\0';
	s = malloc(count * sizeof(*s));
	if (!s)
		return -1;
	for (i = 0; i < count; i++)
		s[i] = (struct gm_xen_copy_seg){
			.buf = &byte, .domid = domid, .ref = refs[i],
			.len = 1, .flags = GM_XEN_COPY_FROM_GRANT,
		};
	/* Only the statuses matter; its message is replaced by ours. */
	(void)gm_xen_grant_copy(x, s, count);
	for (i = 0; i < count; i++) {
		/* Not attempted: the copy call failed as a whole. */
		if (s[i].status == -ECANCELED)
			break;
		if (!s[i].status)
			continue;
		if (++bad <= NAMED_REFS && used < size) {
			int n = snprintf(buf + used, size - used,
					 "%sindex %u ref %u (%s)",
					 bad == 1 ? "" : ", ", i, refs[i],
					 strerror_r(-s[i].status, ebuf,
						    sizeof(ebuf)));

			used += n > 0 ? (size_t)n : 0;
		}
	}
	free(s);
	if (i < count) {
		buf[0] = '\0';
		return -1;
	}
	return (int)bad;
}

/* Record the failure of a map call that gave @err, naming the refs. */
static int map_failed(struct gm_xen *x, uint32_t domid, const uint32_t *refs,
		      unsigned int count, int prot, int err)
{
	const char *mode = (prot & GM_PROT_WRITE) ? "read-write" : "read-only";
	char named[4 * 64], ebuf[64];
	int bad;

	/* A refused ref is EINVAL; other errors are the call's own. */
	if (err != -EINVAL)
		return gm_error_set(err,
				    "gm_xen_grant_list_map: domain %u, %u "
				    "refs (%u .. %u), %s: "
				    "xengnttab_map_domain_grant_refs "
				    "failed (%s)",
				    domid, count, refs[0], refs[count - 1],
				    mode, strerror_r(-err, ebuf,
						     sizeof(ebuf)));
	bad = probe(x, domid, refs, count, named, sizeof(named));
	if (bad > 0)
		return gm_error_set(err,
				    "gm_xen_grant_list_map: domain %u, %u "
				    "refs, %s: Xen refused the map; %d ref%s "
				    "fail%s a grant copy too: %s%s",
				    domid, count, mode, bad,
				    bad == 1 ? "" : "s", bad == 1 ? "s" : "",
				    named, bad > NAMED_REFS ? ", ..." : "");
	if (bad == 0 && (prot & GM_PROT_WRITE))
		return gm_error_set(err,
				    "gm_xen_grant_list_map: domain %u, %u "
				    "refs, read-write: Xen refused the map, "
				    "but every ref can be read: some ref is "
				    "a read-only grant (or changed since)",
				    domid, count);
	return gm_error_set(err,
			    "gm_xen_grant_list_map: domain %u, %u refs (%u "
			    ".. %u), %s: Xen refused the map (%s), and "
			    "could not tell which ref",
			    domid, count, refs[0], refs[count - 1], mode,
			    strerror_r(-err, ebuf, sizeof(ebuf)));
}

int gm_xen_grant_list_map(struct gm_xen *x, uint32_t domid,
			  const uint32_t *refs, unsigned int count, int prot,
			  struct gm_xen_grant_list **out)
{
	struct gm_xen_grant_list *l;
	unsigned int i;
	int xprot, cached = prot & GM_XEN_GLIST_CACHED;
	size_t size;

	if (out)
		*out = NULL;
	if (!x || !refs || !out)
		return gm__xen_fail(__func__, -EINVAL, "NULL argument");
	if (!count || count > GM_XEN_GRANT_LIST_MAX)
		return gm_error_set(-EINVAL,
				    "%s: %u refs: the count must be 1 .. "
				    "GM_XEN_GRANT_LIST_MAX (%u)",
				    __func__, count, GM_XEN_GRANT_LIST_MAX);
	prot &= ~GM_XEN_GLIST_CACHED;
	if (prot != GM_PROT_READ && prot != (GM_PROT_READ | GM_PROT_WRITE))
		return gm_error_set(-EINVAL,
				    "%s: protection %#x: must be "
				    "GM_PROT_READ, with or without "
				    "GM_PROT_WRITE and GM_XEN_GLIST_CACHED",
				    __func__, (unsigned int)(prot | cached));
	/* A domid_t is 16 bits: Xen would silently use the low ones. */
	if (domid > UINT16_MAX)
		return gm_error_set(-EINVAL, "%s: domain %u is above 0xffff",
				    __func__, domid);
	if (!x->xgt)
		return gm__xen_fail(__func__, x->xgt_err,
				    "libxengnttab could not be opened");
	size = sizeof(*l) + count * sizeof(l->iov[0]);
	l = malloc(size + (cached ? count * sizeof(l->ents[0]) : 0));
	if (!l)
		return gm__xen_fail(__func__, -ENOMEM, "out of memory");
	l->count = count;
	l->prot = prot;
	l->pid = getpid();
	l->ents = NULL;
	if (cached) {
		int ret;

		l->ents = (struct gm__xen_entry **)(void *)((char *)l + size);
		ret = map_cached(x, domid, refs, l, prot);
		if (ret) {
			free(l);
			return ret;
		}
		gm__xen_get(x);
		l->x = x;
		*out = l;
		return 0;
	}
	xprot = (prot & GM_PROT_WRITE) ? PROT_READ | PROT_WRITE : PROT_READ;
	/* The library's prototype is not const, but it only reads refs. */
	l->hva = xengnttab_map_domain_grant_refs(x->xgt, count, domid,
						 (uint32_t *)refs, xprot);
	atomic_fetch_add_explicit(&x->map_calls, 1, memory_order_relaxed);
	if (!l->hva) {
		int err = errno ? -errno : -EIO; /* errno 0 cannot happen */

		atomic_fetch_add_explicit(&x->failures, 1,
					  memory_order_relaxed);
		free(l);
		return map_failed(x, domid, refs, count, prot, err);
	}
	atomic_fetch_add_explicit(&x->pages_mapped, count,
				  memory_order_relaxed);
	for (i = 0; i < count; i++)
		l->iov[i] = (struct iovec){
			.iov_base = l->hva + ((size_t)i << XEN_PAGE_SHIFT),
			.iov_len = XEN_PAGE_SIZE,
		};
	gm__xen_get(x);
	l->x = x;
	*out = l;
	return 0;
}

void gm_xen_grant_list_unmap(struct gm_xen_grant_list *l)
{
	if (!l)
		return;
	if (l->ents) {
		/* In a child after fork(), the entries are the child's copy
		 * of the cache: only the pins go. */
		gm__xen_cache_grants_put(l->x, l->ents, l->count);
		gm__xen_put(l->x);
		free(l);
		return;
	}
	/*
	 * In a child after fork() the mapping is not there (gntdev's are
	 * VM_DONTCOPY) and the gntdev file is the parent's: unmapping
	 * through it would be the parent's business, so only free.
	 */
	if (l->pid == getpid()) {
		/* Cannot fail for a mapping we made and did not unmap. */
		(void)xengnttab_unmap(l->x->xgt, l->hva, l->count);
		atomic_fetch_add_explicit(&l->x->unmap_calls, 1,
					  memory_order_relaxed);
	}
	gm__xen_put(l->x);
	free(l);
}

void *gm_xen_grant_list_addr(const struct gm_xen_grant_list *l, size_t *len)
{
	if (len)
		*len = l && l->hva ? (size_t)l->count << XEN_PAGE_SHIFT : 0;
	return l ? l->hva : NULL;
}

const struct iovec *gm_xen_grant_list_iov(const struct gm_xen_grant_list *l,
					  int *niov)
{
	if (niov)
		*niov = l ? (int)l->count : 0;
	return l ? l->iov : NULL;
}

int gm_xen_grant_list_view(const struct gm_xen_grant_list *l,
			   struct gm_view *v)
{
	if (v)
		memset(v, 0, sizeof(*v));
	if (!l || !v)
		return gm__xen_fail(__func__, -EINVAL, "NULL argument");
	if (!l->hva)
		return gm_error_set(-EINVAL,
				    "%s: a cached list of %u pages is not "
				    "contiguous: no view (use its iovecs)",
				    __func__, l->count);
	/*
	 * No region and no cookie: gm_view_put() returns at once for a view
	 * without a region, and the inline accessors read only gpa, len,
	 * hva and prot.  The list, not the view, owns the mapping.
	 */
	v->gpa = 0;
	v->len = (uint64_t)l->count << XEN_PAGE_SHIFT;
	v->hva = l->hva;
	v->prot = l->prot;
	return 0;
}

int gm_xen_grant_list_purge(struct gm_xen *x, uint32_t domid)
{
	int ret;

	if (!x)
		return gm__xen_fail(__func__, -EINVAL, "NULL context");
	ret = gm__xen_cache_grants_purge(x, domid);
	if (ret)
		return gm_error_set(ret,
				    "%s: domain %u: live cached lists still "
				    "pin some of its grant refs",
				    __func__, domid);
	return 0;
}
