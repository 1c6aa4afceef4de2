/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Windows of on-demand foreign regions (private.h): a reservation as large
 * as the region, where the mapping cache maps a bucket in place when the
 * bucket's place is free, so that a hit's address is window + offset.
 *
 * This file owns the placement: reserving and releasing a window, handing
 * out a bucket's place (gm__xen_window_take()) and taking it back after an
 * unmap (gm__xen_window_give_back()), and the places that are lost for good
 * when another mmap of the process took the hole an unmap left.  What is
 * published to common code, and when, is the cache's business (cache.c).
 */
#include "private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux >= 4.17 */
#endif

/* A bucket's place in its region's window (its state byte). */
enum {
	WIN_FREE, /* reserved, nothing mapped there */
	WIN_BUSY, /* an entry is mapped there */
	WIN_LOST, /* unmapping left a hole that another mmap of the
		   * process may have taken: never map there, and unmap
		   * only what is still ours (gm__xen_window_fini()) */
};

/*
 * The window file of a context: an empty memfd that every window's
 * reservation maps (PROT_NONE, so never read), each window at offsets of
 * its own, handed out once and never reused.  It gives a reservation an
 * identity: a mapping of this file whose offset is the one that belongs
 * at its address is that window's reservation, and no other mapping of
 * the process is.  That is what lets gm__xen_window_fini() unmap what is
 * still ours of a lost place (a map in place that failed without
 * replacing our reservation) and nothing that another mmap took (a hole it
 * filled).  Without memfd_create, windows are anonymous and lost places
 * are left alone, at the cost of their address range.
 */
#define WIN_OFF_NONE UINT64_MAX
/* Offsets stay below 2^62, far from the kernel's limit of 2^63 - 1. */
#define WIN_OFF_LIMIT (UINT64_C(1) << 62)

void gm__xen_window_file_open(struct gm_xen *x)
{
	x->win_fd = -1;
	atomic_init(&x->win_next, 0);
#ifdef HAVE_MEMFD_CREATE
	{
		struct stat st;
		int fd = memfd_create("guestmem-xen-window", MFD_CLOEXEC);

		if (fd < 0)
			return;
		if (fstat(fd, &st)) {
			close(fd);
			return;
		}
		x->win_dev = st.st_dev;
		x->win_ino = st.st_ino;
		x->win_fd = fd;
	}
#endif
}

void gm__xen_window_file_close(struct gm_xen *x)
{
	if (x->win_fd >= 0)
		close(x->win_fd);
}

/* Offsets [off, off + len) of the window file for a new window, or
 * WIN_OFF_NONE. */
static uint64_t win_file_take(struct gm_xen *x, uint64_t len)
{
	uint64_t off;

	if (x->win_fd < 0)
		return WIN_OFF_NONE;
	off = atomic_load_explicit(&x->win_next, memory_order_relaxed);
	do {
		if (len > WIN_OFF_LIMIT - off)
			return WIN_OFF_NONE;
	} while (!atomic_compare_exchange_weak_explicit(
		&x->win_next, &off, off + len, memory_order_relaxed,
		memory_order_relaxed));
	return off;
}

/* Reserve [at, at + len) of @xr's window (@at NULL: the whole window,
 * anywhere), with the extra mmap @flags. */
static void *window_reserve(const struct gm__xen_region *xr, uint8_t *at,
			    size_t len, int flags)
{
	if (xr->win_off == WIN_OFF_NONE)
		return mmap(at, len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags,
			    -1, 0);
	return mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_NORESERVE | flags,
		    xr->x->win_fd,
		    (off_t)(xr->win_off + (at ? (uint64_t)(at - xr->win_base)
					      : 0)));
}

/*
 * Unmap what /proc/self/maps shows of @xr's reservation in its window:
 * mappings of the window file whose offset is the one that belongs at
 * their address (see the window file).  Anything else there is another
 * mmap's, which took a hole we left.  Without /proc, nothing is unmapped.
 */
static void window_unmap_ours(const struct gm__xen_region *xr)
{
	uintptr_t wlo = (uintptr_t)xr->win_base;
	uintptr_t whi = wlo + (uintptr_t)xr->base.size;
	char line[256];
	int at_start = 1;
	FILE *f;

	if (xr->win_off == WIN_OFF_NONE)
		return;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, maj, min;
		unsigned long long off, ino;
		int line_start = at_start;

		/* Only the start of a line says what it is (a long path
		 * takes several reads). */
		at_start = strchr(line, '\n') != NULL;
		if (!line_start ||
		    sscanf(line, "%lx-%lx %*s %llx %lx:%lx %llu", &lo, &hi,
			   &off, &maj, &min, &ino) != 6)
			continue;
		if (ino != (unsigned long long)xr->x->win_ino ||
		    makedev(maj, min) != xr->x->win_dev || hi <= wlo ||
		    lo >= whi ||
		    (uint64_t)off - lo != xr->win_off - wlo)
			continue;
		/* Ours: the unmapped range is our own, so reading on is
		 * safe (the kernel resumes after the last line shown). */
		if (lo < wlo)
			lo = wlo;
		if (hi > whi)
			hi = whi;
		munmap((void *)lo, hi - lo);
	}
	fclose(f);
}

void gm__xen_window_init(struct gm__xen_region *xr)
{
	uint64_t nb = ((xr->base.size - 1) >> xr->shift) + 1;
	void *p;

	xr->win_off = WIN_OFF_NONE;
	if (nb > SIZE_MAX || xr->base.size > SIZE_MAX)
		return;
	/* Untouched pages of the state array are never committed. */
	xr->win_state = calloc((size_t)nb, sizeof(*xr->win_state));
	if (!xr->win_state)
		return;
	xr->win_off = win_file_take(xr->x, xr->base.size);
	p = window_reserve(xr, NULL, (size_t)xr->base.size, 0);
	if (p == MAP_FAILED && xr->win_off != WIN_OFF_NONE) {
		/* An anonymous one will do, without the identity. */
		xr->win_off = WIN_OFF_NONE;
		p = window_reserve(xr, NULL, (size_t)xr->base.size, 0);
	}
	if (p == MAP_FAILED) {
		free(xr->win_state);
		xr->win_state = NULL;
		return;
	}
	xr->win_base = p;
}

void gm__xen_window_fini(struct gm__xen_region *xr)
{
	uint64_t nb, b, run = 0;
	int lost = 0;

	if (!xr->win_base)
		return;
	/* Unmap our reservation only: a lost bucket's range may be someone
	 * else's mapping now. */
	nb = ((xr->base.size - 1) >> xr->shift) + 1;
	for (b = 0; b <= nb; b++) {
		if (b < nb && (atomic_load_explicit(&xr->win_state[b],
						    memory_order_acquire) !=
			       WIN_LOST))
			continue;
		lost |= b < nb;
		if (b > run) {
			uint64_t lo = run << xr->shift;
			uint64_t hi = b << xr->shift;

			if (hi > xr->base.size)
				hi = xr->base.size;
			munmap(xr->win_base + lo, (size_t)(hi - lo));
		}
		run = b + 1;
	}
	/* Or it may still be ours, in whole or in part: a map in place
	 * that failed before it replaced anything left the reservation,
	 * which no NOREPLACE could take back. */
	if (lost)
		window_unmap_ours(xr);
	free(xr->win_state);
	xr->win_base = NULL;
	xr->win_state = NULL;
}

/* Where to map pages [first, first + npages) of a bucket entry: in the
 * window if the bucket's place is free (it becomes busy), else NULL. */
uint8_t *gm__xen_window_take(struct gm__xen_region *xr, uint64_t first)
{
	uint64_t b = (first << XEN_PAGE_SHIFT) >> xr->shift;

	if (!xr->win_base || atomic_load_explicit(&xr->win_state[b],
						memory_order_acquire) != WIN_FREE)
		return NULL;
	atomic_store_explicit(&xr->win_state[b], WIN_BUSY,
			      memory_order_relaxed);
	return xr->win_base + (first << XEN_PAGE_SHIFT);
}

/*
 * The mapping at @at (in the window) is gone, or a map there failed and
 * may have left a hole: reserve the range again, and free the bucket's
 * place.  Only where nothing is mapped (MAP_FIXED_NOREPLACE): if another
 * mmap of the process took the hole meanwhile, or our reservation is in
 * fact still there after a failed map, the place is lost for good and its
 * bucket is mapped elsewhere from now on (the window file tells the two
 * apart when the window goes, gm__xen_window_fini()).
 */
void gm__xen_window_give_back(struct gm__xen_region *xr, uint8_t *at,
			      uint32_t npages)
{
	size_t len = (size_t)npages << XEN_PAGE_SHIFT;
	uint64_t b = (uint64_t)(at - xr->win_base) >> xr->shift;
	unsigned char st = WIN_FREE;
	void *p;

	p = window_reserve(xr, at, len, MAP_FIXED_NOREPLACE);
	if (p != at) {
		/* A kernel without MAP_FIXED_NOREPLACE may map elsewhere. */
		if (p != MAP_FAILED)
			munmap(p, len);
		st = WIN_LOST;
	}
	atomic_store_explicit(&xr->win_state[b], st, memory_order_release);
}
