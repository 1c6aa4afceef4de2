/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xensim: simulated libxenforeignmemory, libxengnttab and libxenctrl for
 * tests.  See xensim.h for the model and README.md for every choice made
 * where Xen's behaviour is unclear; when in doubt we are stricter than Xen.
 *
 * One mutex guards all state.  Mapping and unmapping stay real mmap/munmap
 * system calls made while holding it: the kernel serialises them on the
 * process's mmap lock anyway, so the lock adds little that Xen would not.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

#include "xensim.h"

#define PS ((size_t)XENSIM_PAGE_SIZE)
#define MAX_DOMAIN_PAGES (UINT64_C(1) << 26)
#define MAP_HASH_SIZE 1024u

/* ---- state ---- */

enum page_state {
	PAGE_OK,     /* maps the frame */
	PAGE_FAILED, /* failed at map time: a SIGBUS page */
	PAGE_DEAD,   /* revoked after mapping: a SIGBUS page */
	PAGE_GIVEN,  /* given back by the guest while mapped: a zero page */
};

struct sim_page {
	uint64_t gfn;
	uint32_t domid;
	uint32_t ref; /* grant mappings only */
	int err;      /* foreign maps: what err[i] got */
	enum page_state state;
	uint64_t given; /* PAGE_GIVEN: which decrease_reservation */
};

enum map_kind { KIND_FOREIGN, KIND_GRANT };

struct handle;

struct sim_map {
	struct sim_map *hash_next;
	struct sim_map *prev, *next;	 /* all live maps */
	struct sim_map *o_prev, *o_next; /* the owning handle's maps */
	struct handle *owner;
	enum map_kind kind;
	uint8_t *addr;
	size_t pages;
	int prot;
	struct sim_page pg[];
};

enum handle_kind { H_FMEM, H_GNT, H_XC };

/* Common head of the three handle types; always their first member. */
struct handle {
	struct handle *prev, *next;
	enum handle_kind kind;
	unsigned int fork_gen; /* fork generation it was opened in */
	struct sim_map *maps;
	/* The caller's logger, or NULL: the real library then logs to
	 * stderr (see log_failure()). */
	struct xentoollog_logger *logger;
};

struct xenforeignmemory_handle {
	struct handle h;
};

struct xengntdev_handle {
	struct handle h;
	uint32_t max_grants;
	uint64_t live_pages;
	bool used; /* set_max_grants must come before anything else */
};

struct xc_interface_core {
	struct handle h;
};

struct frame_mark {
	struct frame_mark *next;
	uint64_t gfn;
	int err;   /* injected negative errno, 0 = none */
	int times; /* attempts left, -1 = until cleared */
	bool revoked;
};

struct grant {
	uint64_t gfn;
	uint32_t grantee;
	bool in_use;
	bool writable;
};

struct sim_domain {
	struct sim_domain *next; /* sorted by domid */
	uint32_t domid;
	unsigned int flags;
	uint64_t nr_pages;
	uint64_t max_gpfn;
	uint64_t max_pages;
	uint8_t *holes;	   /* bit per frame < nr_pages: no page; or NULL */
	uint64_t nr_holes;
	uint64_t given_seq; /* counts decrease_reservation calls */
	int fd;
	uint8_t *mem;
	struct frame_mark *marks;
	struct grant *grants; /* indexed by ref */
	uint32_t grants_len;
	uint32_t next_ref;
	uint32_t ref_high; /* one past the highest ref ever allocated */
};

struct injection {
	unsigned int skip;
	unsigned int count;
	int err;
};

static pthread_mutex_t sim_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sim_once = PTHREAD_ONCE_INIT;
static struct sim_domain *domains;
static struct handle *handles;
static struct sim_map *maps;
/* xensim_set_hole_hook() */
static void (*hole_hook)(void *addr, size_t len);
/* xensim_set_fail_keeps_range() */
static bool fail_keeps_range;
/* xensim_set_map_hook() */
static void (*map_hook)(enum xensim_fn fn);
static struct sim_map *map_hash[MAP_HASH_SIZE];
static uint32_t caller_domid;
static uint32_t default_max_grants = XENSIM_DEFAULT_MAX_GRANTS;
static struct injection injections[XENSIM_FN_COUNT];
static struct xensim_counters ctr;
static unsigned int fork_gen;
/* An empty memfd: pages mapped from it lie beyond EOF and raise SIGBUS. */
static int hole_fd = -1;

static const char *const fn_names[XENSIM_FN_COUNT] = {
	[XENSIM_FN_FMEM_OPEN] = "xenforeignmemory_open",
	[XENSIM_FN_FMEM_CLOSE] = "xenforeignmemory_close",
	[XENSIM_FN_FMEM_MAP] = "xenforeignmemory_map",
	[XENSIM_FN_FMEM_MAP2] = "xenforeignmemory_map2",
	[XENSIM_FN_FMEM_UNMAP] = "xenforeignmemory_unmap",
	[XENSIM_FN_GNT_OPEN] = "xengnttab_open",
	[XENSIM_FN_GNT_CLOSE] = "xengnttab_close",
	[XENSIM_FN_GNT_MAP_GRANT_REF] = "xengnttab_map_grant_ref",
	[XENSIM_FN_GNT_MAP_GRANT_REFS] = "xengnttab_map_grant_refs",
	[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS] =
		"xengnttab_map_domain_grant_refs",
	[XENSIM_FN_GNT_UNMAP] = "xengnttab_unmap",
	[XENSIM_FN_GNT_SET_MAX_GRANTS] = "xengnttab_set_max_grants",
	[XENSIM_FN_GNT_GRANT_COPY] = "xengnttab_grant_copy",
	[XENSIM_FN_XC_OPEN] = "xc_interface_open",
	[XENSIM_FN_XC_CLOSE] = "xc_interface_close",
	[XENSIM_FN_XC_DOMAIN_GETINFOLIST] = "xc_domain_getinfolist",
	[XENSIM_FN_XC_DOMAIN_MAXIMUM_GPFN] = "xc_domain_maximum_gpfn",
	[XENSIM_FN_XC_GET_PFN_TYPE_BATCH] = "xc_get_pfn_type_batch",
};

/* ---- locking and fork ---- */

static void forget_maps(void);

static void atfork_prepare(void)
{
	pthread_mutex_lock(&sim_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&sim_lock);
}

/*
 * Our mappings are MADV_DONTFORK, so the child has none of them: drop their
 * records (without munmap: those addresses are free in the child and may
 * be reused) and make inherited handles unusable but closable.
 */
static void atfork_child(void)
{
	forget_maps();
	fork_gen++;
	pthread_mutex_unlock(&sim_lock);
}

static void sim_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void lock(void)
{
	pthread_once(&sim_once, sim_init);
	pthread_mutex_lock(&sim_lock);
}

static void unlock(void)
{
	pthread_mutex_unlock(&sim_lock);
}

/* Unlock and leave @err in errno; pthread calls may not clobber it after. */
static void unlock_errno(int err)
{
	unlock();
	if (err)
		errno = err;
}

/*
 * What the real libraries say when a map call fails as a whole: they
 * xtl_log() at XTL_ERROR, with the errno, through the handle's logger, and
 * a handle opened with a NULL logger has a stdio logger on stderr, which
 * prints for instance (seen on Xen 4.17 for every failed grant map)
 *	gnttab: error: mmap failed: Invalid argument
 * Per-frame foreign errors are not logged.  Called without the lock, since
 * a logger is the caller's code; errno is kept, as xtl_log() keeps it.
 */
static void log_failure(struct xentoollog_logger *logger, int err,
			const char *context, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	lock();
	ctr.log_messages++;
	if (!logger)
		ctr.stderr_messages++;
	unlock();
	va_start(ap, fmt);
	if (logger) {
		logger->vmessage(logger, XTL_ERROR, err, context, fmt, ap);
	} else {
		fprintf(stderr, "%s: error: ", context);
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, ": %s\n", strerror(err));
	}
	va_end(ap);
	errno = saved;
}

/* ---- counters and injection (lock held) ---- */

static struct xensim_map_counters *kind_counters(enum map_kind kind)
{
	return kind == KIND_FOREIGN ? &ctr.foreign : &ctr.grant;
}

static void count_live(struct xensim_map_counters *k, struct sim_map *m,
		       bool add)
{
	if (add) {
		k->live_mappings++;
		k->live_pages += m->pages;
		k->total_mappings++;
		k->total_pages += m->pages;
		if (k->live_pages > k->peak_live_pages)
			k->peak_live_pages = k->live_pages;
	} else {
		k->live_mappings--;
		k->live_pages -= m->pages;
	}
}

static void count_map(struct sim_map *m)
{
	count_live(kind_counters(m->kind), m, true);
	count_live(&ctr.all, m, true);
}

static void count_unmap(struct sim_map *m, bool leaked)
{
	struct xensim_map_counters *k = kind_counters(m->kind);

	count_live(k, m, false);
	count_live(&ctr.all, m, false);
	if (leaked) {
		k->leaked_mappings++;
		k->leaked_pages += m->pages;
		ctr.all.leaked_mappings++;
		ctr.all.leaked_pages += m->pages;
	} else {
		k->unmaps++;
		ctr.all.unmaps++;
	}
}

/* Return the errno to inject into this call of @fn, or 0. */
static int injected(enum xensim_fn fn)
{
	struct injection *inj = &injections[fn];

	if (!inj->count)
		return 0;
	if (inj->skip) {
		inj->skip--;
		return 0;
	}
	inj->count--;
	ctr.injected[fn]++;
	return inj->err;
}

/* ---- lookups (lock held) ---- */

static struct sim_domain *find_domain(uint32_t domid)
{
	struct sim_domain *d;

	for (d = domains; d && d->domid <= domid; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

/*
 * Find a live handle of @kind by address without dereferencing @p, so a
 * NULL, closed or reset handle is caught instead of used after free.
 */
static struct handle *find_handle(const void *p, enum handle_kind kind)
{
	struct handle *h;

	for (h = handles; h; h = h->next)
		if ((const void *)h == p)
			return h->kind == kind ? h : NULL;
	return NULL;
}

/* A handle that may be used here: live and opened in this process. */
static struct handle *usable_handle(const void *p, enum handle_kind kind)
{
	struct handle *h = find_handle(p, kind);

	return h && h->fork_gen == fork_gen ? h : NULL;
}

static size_t hash_addr(const void *addr)
{
	return ((uintptr_t)addr / PS) % MAP_HASH_SIZE;
}

static struct sim_map *find_map(const void *addr)
{
	struct sim_map *m;

	for (m = map_hash[hash_addr(addr)]; m; m = m->hash_next)
		if (m->addr == addr)
			return m;
	return NULL;
}

static struct frame_mark *find_mark(struct sim_domain *d, uint64_t gfn)
{
	struct frame_mark *fm;

	for (fm = d->marks; fm; fm = fm->next)
		if (fm->gfn == gfn)
			return fm;
	return NULL;
}

static struct frame_mark *get_mark(struct sim_domain *d, uint64_t gfn)
{
	struct frame_mark *fm = find_mark(d, gfn);

	if (fm)
		return fm;
	fm = calloc(1, sizeof(*fm));
	if (!fm)
		return NULL;
	fm->gfn = gfn;
	fm->next = d->marks;
	d->marks = fm;
	return fm;
}

static bool frame_revoked(struct sim_domain *d, uint64_t gfn)
{
	struct frame_mark *fm = find_mark(d, gfn);

	return fm && fm->revoked;
}

/* Whether @gfn (< nr_pages) has no page: a hole or given back. */
static bool frame_hole(const struct sim_domain *d, uint64_t gfn)
{
	return d->holes && (d->holes[gfn / 8] >> (gfn % 8) & 1);
}

static int set_hole(struct sim_domain *d, uint64_t gfn, bool hole)
{
	uint8_t bit = (uint8_t)(1u << (gfn % 8));

	if (!d->holes) {
		if (!hole)
			return 0;
		d->holes = calloc((d->nr_pages + 7) / 8, 1);
		if (!d->holes)
			return -ENOMEM;
	}
	if (hole && !(d->holes[gfn / 8] & bit)) {
		d->holes[gfn / 8] |= bit;
		d->nr_holes++;
	} else if (!hole && (d->holes[gfn / 8] & bit)) {
		d->holes[gfn / 8] &= (uint8_t)~bit;
		d->nr_holes--;
	}
	return 0;
}

/* ---- mapping machinery (lock held) ---- */

static int ensure_hole_fd(void)
{
	if (hole_fd >= 0)
		return 0;
	hole_fd = memfd_create("xensim-hole", MFD_CLOEXEC);
	return hole_fd < 0 ? errno : 0;
}

static bool same_run(const struct sim_map *m, size_t i, size_t j)
{
	const struct sim_page *a = &m->pg[i], *b = &m->pg[j];

	if (a->state != PAGE_OK || b->state != PAGE_OK)
		return a->state != PAGE_OK && b->state != PAGE_OK;
	return a->domid == b->domid && b->gfn == a->gfn + (j - i);
}

/*
 * Give @m address space: reserve the whole range inaccessible, then map
 * each run of consecutive frames of one domain from its memfd, and each run
 * of failed pages from the hole memfd, with MAP_FIXED.  Returns 0 or a
 * positive errno with nothing left mapped.
 */
static int install(struct sim_map *m, void *hint, int flags)
{
	size_t len = m->pages * PS, i, j;
	uint8_t *base;
	int err;

	err = ensure_hole_fd();
	if (err)
		return err;
	/* Like Linux's osdep code, pass the caller's flags to mmap: MAP_FIXED
	 * places the mapping exactly at hint, replacing what is there (a
	 * caller's PROT_NONE reservation). */
	base = mmap(hint, len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
	if (base == MAP_FAILED)
		return errno;
	for (i = 0; i < m->pages; i = j) {
		int fd = hole_fd;
		off_t off = 0;

		for (j = i + 1; j < m->pages && same_run(m, i, j); j++)
			;
		if (m->pg[i].state == PAGE_OK) {
			/* Checked by the caller: the domain exists. */
			fd = find_domain(m->pg[i].domid)->fd;
			off = (off_t)(m->pg[i].gfn * PS);
		}
		if (mmap(base + i * PS, (j - i) * PS, m->prot,
			 MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED)
			goto fail;
	}
	/* privcmd and gntdev VMAs are VM_DONTCOPY: a child never has them. */
	if (madvise(base, len, MADV_DONTFORK))
		goto fail;
	m->addr = base;
	return 0;

fail:
	err = errno;
	munmap(base, len);
	return err;
}

static void link_map(struct sim_map *m, struct handle *owner)
{
	size_t b = hash_addr(m->addr);

	m->owner = owner;
	m->hash_next = map_hash[b];
	map_hash[b] = m;
	m->prev = NULL;
	m->next = maps;
	if (maps)
		maps->prev = m;
	maps = m;
	m->o_prev = NULL;
	m->o_next = owner->maps;
	if (owner->maps)
		owner->maps->o_prev = m;
	owner->maps = m;
	count_map(m);
}

static void unlink_map(struct sim_map *m)
{
	struct sim_map **pp = &map_hash[hash_addr(m->addr)];

	while (*pp != m)
		pp = &(*pp)->hash_next;
	*pp = m->hash_next;
	if (m->prev)
		m->prev->next = m->next;
	else
		maps = m->next;
	if (m->next)
		m->next->prev = m->prev;
	if (m->o_prev)
		m->o_prev->o_next = m->o_next;
	else
		m->owner->maps = m->o_next;
	if (m->o_next)
		m->o_next->o_prev = m->o_prev;
}

/* Unmap and free a live mapping; @leaked when its owner did not unmap it. */
static void destroy_map(struct sim_map *m, bool leaked)
{
	unlink_map(m);
	if (m->kind == KIND_GRANT)
		((struct xengntdev_handle *)m->owner)->live_pages -= m->pages;
	munmap(m->addr, m->pages * PS);
	count_unmap(m, leaked);
	free(m);
}

/* In a forked child: the mappings do not exist; forget them. */
static void forget_maps(void)
{
	struct sim_map *m, *next;
	struct handle *h;

	for (m = maps; m; m = next) {
		next = m->next;
		free(m);
	}
	maps = NULL;
	memset(map_hash, 0, sizeof(map_hash));
	for (h = handles; h; h = h->next) {
		h->maps = NULL;
		if (h->kind == H_GNT)
			((struct xengntdev_handle *)h)->live_pages = 0;
	}
	ctr.foreign.live_mappings = ctr.foreign.live_pages = 0;
	ctr.grant.live_mappings = ctr.grant.live_pages = 0;
	ctr.all.live_mappings = ctr.all.live_pages = 0;
}

/*
 * Replace page @i of @m by a SIGBUS page, as a frame taken from under a
 * mapping behaves on Xen.  If the kernel refuses (out of VMAs), fall back to
 * PROT_NONE, which faults with SIGSEGV instead.
 */
static int kill_page(struct sim_map *m, size_t i)
{
	uint8_t *p = m->addr + i * PS;

	if (m->pg[i].state != PAGE_OK)
		return 0;
	if (mmap(p, PS, m->prot, MAP_SHARED | MAP_FIXED, hole_fd, 0) ==
		    MAP_FAILED ||
	    madvise(p, PS, MADV_DONTFORK)) {
		if (mprotect(p, PS, PROT_NONE))
			return -errno;
	}
	m->pg[i].state = PAGE_DEAD;
	ctr.revoked_pages++;
	return 0;
}

/* Kill every live page matching; returns 0 or the first negative errno. */
static int kill_pages(uint32_t domid, bool by_gfn, uint64_t gfn, bool by_ref,
		      uint32_t ref)
{
	struct sim_map *m;
	size_t i;
	int rc = 0, r;

	for (m = maps; m; m = m->next) {
		if (by_ref && m->kind != KIND_GRANT)
			continue;
		for (i = 0; i < m->pages; i++) {
			struct sim_page *pg = &m->pg[i];

			if (pg->state != PAGE_OK || pg->domid != domid)
				continue;
			if ((by_gfn && pg->gfn != gfn) ||
			    (by_ref && pg->ref != ref))
				continue;
			r = kill_page(m, i);
			if (r && !rc)
				rc = r;
		}
	}
	return rc;
}

static struct sim_map *new_map(enum map_kind kind, size_t pages, int prot)
{
	struct sim_map *m;

	m = calloc(1, sizeof(*m) + pages * sizeof(m->pg[0]));
	if (!m)
		return NULL;
	m->kind = kind;
	m->pages = pages;
	m->prot = prot;
	return m;
}

static bool prot_ok(int prot)
{
	return !(prot & ~(PROT_READ | PROT_WRITE));
}

/* ---- handles (lock held) ---- */

static void link_handle(struct handle *h, enum handle_kind kind)
{
	h->kind = kind;
	h->fork_gen = fork_gen;
	h->prev = NULL;
	h->next = handles;
	if (handles)
		handles->prev = h;
	handles = h;
	ctr.open_handles++;
}

/*
 * Close @h: tear down its mappings, as the real libraries do, counting
 * them as leaks; in a forked child they do not exist and are not counted.
 */
static void close_handle(struct handle *h)
{
	if (h->fork_gen == fork_gen)
		while (h->maps)
			destroy_map(h->maps, true);
	if (h->prev)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	ctr.open_handles--;
	free(h);
}

static void *open_handle(enum xensim_fn fn, enum handle_kind kind,
			 size_t size, bool flags_ok,
			 struct xentoollog_logger *logger)
{
	struct handle *h = NULL;
	int err;

	lock();
	ctr.calls[fn]++;
	err = injected(fn);
	if (err)
		goto out;
	err = EINVAL;
	if (!flags_ok)
		goto out;
	err = ENOMEM;
	h = calloc(1, size);
	if (!h)
		goto out;
	err = 0;
	if (kind == H_GNT)
		((struct xengntdev_handle *)h)->max_grants = default_max_grants;
	h->logger = logger;
	link_handle(h, kind);
out:
	if (err)
		ctr.failures[fn]++;
	unlock_errno(err);
	return h;
}

/* Close(NULL) succeeds, as in the real libraries; a stale handle is EBADF. */
static int close_any(enum xensim_fn fn, void *p, enum handle_kind kind)
{
	struct handle *h;
	int err = 0;

	lock();
	ctr.calls[fn]++;
	if (!p)
		goto out;
	h = find_handle(p, kind);
	if (!h) {
		err = EBADF;
		goto out;
	}
	err = injected(fn);
	close_handle(h);
out:
	if (err)
		ctr.failures[fn]++;
	unlock_errno(err);
	return err ? -1 : 0;
}

/* ---- libxenforeignmemory ---- */

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
					       unsigned int open_flags)
{
	return open_handle(XENSIM_FN_FMEM_OPEN, H_FMEM,
			   sizeof(struct xenforeignmemory_handle),
			   open_flags == 0, logger);
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
	return close_any(XENSIM_FN_FMEM_CLOSE, fmem, H_FMEM);
}

/* The per-page result of mapping @gfn of @domid (0 or a negative errno). */
static int foreign_page(struct sim_domain *d, bool self, uint64_t gfn)
{
	struct frame_mark *fm;
	int rc;

	/* Unknown, dying or own domain: what privcmd reports on real Xen. */
	if (self || !d || (d->flags & XENSIM_DOM_DYING))
		return -ESRCH;
	/* p2m_add_foreign gives -EINVAL for a gfn with no page behind it. */
	if (gfn >= d->nr_pages || frame_hole(d, gfn))
		return -EINVAL;
	fm = find_mark(d, gfn);
	if (!fm)
		return 0;
	if (fm->revoked)
		return -EINVAL;
	if (!fm->err)
		return 0;
	rc = fm->err;
	if (fm->times > 0 && --fm->times == 0)
		fm->err = 0;
	return rc;
}

/* Whether [addr, addr + pages * PS) overlaps a live mapping. (lock held) */
static bool overlaps_map(const void *addr, size_t pages)
{
	const uint8_t *a = addr;
	struct sim_map *o;

	for (o = maps; o; o = o->next)
		if (a < (uint8_t *)o->addr + o->pages * PS &&
		    (uint8_t *)o->addr < a + pages * PS)
			return true;
	return false;
}

/* Call the map hook, if any, outside the lock (it may block, or call us). */
static void call_map_hook(enum xensim_fn fn)
{
	void (*hook)(enum xensim_fn fn);

	lock();
	hook = map_hook;
	unlock();
	if (hook)
		hook(fn);
}

static void *foreign_map(enum xensim_fn fn, xenforeignmemory_handle *fmem,
			 uint32_t dom, void *addr, int prot, int flags,
			 size_t pages, const xen_pfn_t arr[], int err[])
{
	struct xentoollog_logger *logger = NULL;
	const char *why = NULL; /* what the real library logs, if anything */
	struct sim_domain *d;
	struct sim_map *m = NULL, *old;
	struct handle *h;
	int e, first = 0;
	size_t i, failed = 0;
	bool self;

	call_map_hook(fn);
	lock();
	ctr.calls[fn]++;
	h = usable_handle(fmem, H_FMEM);
	e = EBADF;
	if (!h)
		goto fail;
	e = injected(fn);
	if (e)
		goto fail;
	logger = h->logger;
	/* From here on a failure of the whole call is logged, as the real
	 * library's mmap() or privcmd ioctl() failing would be. */
	why = "mmap failed";
	e = EINVAL;
	/* MAP_FIXED is the one flag callers use (placing chunks in a
	 * reservation); it needs a page-aligned address.  Refuse the rest. */
	if (!pages || !arr || !prot_ok(prot) || (flags & ~MAP_FIXED) ||
	    ((flags & MAP_FIXED) && (!addr || ((uintptr_t)addr & (PS - 1))))) {
		if (pages && !arr)
			why = "ioctl failed";
		goto fail;
	}
	e = ENOMEM;
	if (pages > SIZE_MAX / PS / 2)
		goto fail;
	m = new_map(KIND_FOREIGN, pages, prot);
	if (!m)
		goto fail;

	d = find_domain(dom);
	self = dom == DOMID_SELF || dom == caller_domid;
	for (i = 0; i < pages; i++) {
		struct sim_page *pg = &m->pg[i];

		pg->domid = dom;
		pg->gfn = arr[i];
		pg->err = foreign_page(d, self, arr[i]);
		pg->state = pg->err ? PAGE_FAILED : PAGE_OK;
		if (pg->err) {
			if (!failed)
				first = -pg->err;
			failed++;
		}
	}
	ctr.page_errors += failed;

	/*
	 * Without err[] the library undoes everything on the first bad page
	 * and reports it in errno; nothing needs mapping to find that out.
	 */
	if (!err && failed) {
		e = first;
		why = NULL; /* undone quietly by the library's core */
		goto fail;
	}
	/*
	 * MAP_FIXED over a live mapping of ours replaces it, as the kernel
	 * does (a retry of paged-out frames in place).  Only an exact
	 * replacement is allowed; a partial overlap is a caller bug.
	 */
	old = NULL;
	if (flags & MAP_FIXED) {
		struct sim_map *o;

		e = EINVAL;
		for (o = maps; o; o = o->next) {
			uint8_t *oa = o->addr;

			if ((uint8_t *)addr >= oa + o->pages * PS ||
			    oa >= (uint8_t *)addr + pages * PS)
				continue;
			if (oa != addr || o->pages != pages ||
			    o->owner != h || o->kind != KIND_FOREIGN)
				goto fail;
			old = o;
		}
	}
	e = install(m, addr, flags);
	if (old) {
		/* Gone, whether install succeeded or not. */
		unlink_map(old);
		count_unmap(old, false);
		free(old);
	}
	if (e)
		goto fail;
	link_map(m, h);
	if (err)
		for (i = 0; i < pages; i++)
			err[i] = m->pg[i].err;
	unlock();
	return m->addr;

fail:
	free(m);
	ctr.failures[fn]++;
	/*
	 * The real library mmaps at addr (MAP_FIXED) before its ioctl and
	 * munmaps on any failure after that, and a failed MAP_FIXED mmap may
	 * itself unmap what was there: either way the caller's reservation
	 * can be left with a hole.  Always leave one (not over a mapping of
	 * ours, which the code above handles), so callers must cope; unless
	 * the test asked for the other real outcome, an mmap that failed
	 * before it replaced anything (xensim_set_fail_keeps_range()).
	 */
	if ((flags & MAP_FIXED) && !fail_keeps_range && addr &&
	    !((uintptr_t)addr & (PS - 1)) &&
	    pages && pages <= SIZE_MAX / PS / 2 && !overlaps_map(addr, pages)) {
		munmap(addr, pages * PS);
		if (hole_hook)
			hole_hook(addr, pages * PS);
	}
	unlock_errno(e);
	if (why)
		log_failure(logger, e, "xenforeignmemory", "%s", why);
	return NULL;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
			   int prot, size_t pages, const xen_pfn_t arr[],
			   int err[])
{
	return foreign_map(XENSIM_FN_FMEM_MAP, fmem, dom, NULL, prot, 0, pages,
			   arr, err);
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
			    void *addr, int prot, int flags, size_t pages,
			    const xen_pfn_t arr[], int err[])
{
	return foreign_map(XENSIM_FN_FMEM_MAP2, fmem, dom, addr, prot, flags,
			   pages, arr, err);
}

/*
 * Unmap exactly one live mapping of @owner: same start, same page count.
 * The real libraries munmap whatever they are given; we refuse anything
 * else with EINVAL and touch nothing, so a wrong unmap is seen at once.
 */
static int unmap_exact(enum xensim_fn fn, enum handle_kind kind,
		       enum map_kind mkind, void *p, void *addr, size_t pages)
{
	struct handle *h;
	struct sim_map *m;
	int e;

	lock();
	ctr.calls[fn]++;
	h = usable_handle(p, kind);
	e = EBADF;
	if (!h)
		goto fail;
	if (kind == H_GNT)
		((struct xengntdev_handle *)h)->used = true;
	e = injected(fn);
	if (e)
		goto fail;
	m = find_map(addr);
	e = EINVAL;
	if (!addr || !m || m->owner != h || m->kind != mkind ||
	    m->pages != pages)
		goto fail;
	destroy_map(m, false);
	unlock();
	return 0;

fail:
	ctr.failures[fn]++;
	unlock_errno(e);
	return -1;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
			   size_t pages)
{
	return unmap_exact(XENSIM_FN_FMEM_UNMAP, H_FMEM, KIND_FOREIGN, fmem,
			   addr, pages);
}

/* ---- libxengnttab ---- */

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
				 unsigned int open_flags)
{
	return open_handle(XENSIM_FN_GNT_OPEN, H_GNT,
			   sizeof(struct xengntdev_handle), open_flags == 0,
			   logger);
}

int xengnttab_close(xengnttab_handle *xgt)
{
	return close_any(XENSIM_FN_GNT_CLOSE, xgt, H_GNT);
}

/*
 * Check that the caller may use grant @ref of @domid, for writing if
 * @write, as Xen's grant table code does.  Returns a GNTST_* status and, on
 * GNTST_okay, the granted frame.
 */
static int grant_check(uint32_t domid, uint32_t ref, bool write,
		       struct sim_domain **dp, uint64_t *gfn)
{
	struct sim_domain *d = find_domain(domid);
	struct grant *g;

	if (!d || (d->flags & XENSIM_DOM_DYING))
		return GNTST_bad_domain;
	if (ref >= XENSIM_GNTTAB_ENTRIES)
		return GNTST_bad_gntref;
	/* Xen: "Bad flags or dom" (unused entry, other grantee) and
	 * "Attempt to write-pin a r/o grant entry" are general errors. */
	if (ref >= d->grants_len)
		return GNTST_general_error;
	g = &d->grants[ref];
	if (!g->in_use || g->grantee != caller_domid)
		return GNTST_general_error;
	if (write && !g->writable)
		return GNTST_general_error;
	if (frame_revoked(d, g->gfn))
		return GNTST_general_error;
	*dp = d;
	*gfn = g->gfn;
	return GNTST_okay;
}

static void *grant_map(enum xensim_fn fn, xengnttab_handle *xgt,
		       uint32_t count, const uint32_t *domids, uint32_t domid,
		       const uint32_t *refs, int prot)
{
	struct xentoollog_logger *logger = NULL;
	const char *why = NULL; /* what the real library logs, if anything */
	struct xengntdev_handle *g;
	struct sim_map *m = NULL;
	struct handle *h;
	uint32_t i;
	int e;

	call_map_hook(fn);
	lock();
	ctr.calls[fn]++;
	h = usable_handle(xgt, H_GNT);
	e = EBADF;
	if (!h)
		goto fail;
	g = (struct xengntdev_handle *)h;
	g->used = true;
	e = injected(fn);
	if (e)
		goto fail;
	e = EFAULT;
	if (!refs)
		goto fail;
	/* gntdev refuses 0 grants and more than its "limit" per request,
	 * and more grants than its per-file limit, in the map ioctl. */
	logger = h->logger;
	why = "ioctl MAP_GRANT_REF failed";
	e = EINVAL;
	if (!count || count > XENSIM_GNTDEV_MAX_PER_CALL)
		goto fail;
	e = ENOMEM;
	if (g->live_pages + count > g->max_grants)
		goto fail;
	/* Everything else fails gntdev's mmap(). */
	why = "mmap failed";
	e = EINVAL;
	if (!prot_ok(prot))
		goto fail;
	e = ENOMEM;
	m = new_map(KIND_GRANT, count, prot);
	if (!m)
		goto fail;
	for (i = 0; i < count; i++) {
		struct sim_page *pg = &m->pg[i];
		struct sim_domain *d;

		pg->domid = domids ? domids[i] : domid;
		pg->ref = refs[i];
		/* gntdev turns any bad status into EINVAL for the lot. */
		e = EINVAL;
		if (grant_check(pg->domid, pg->ref, prot & PROT_WRITE, &d,
				&pg->gfn) != GNTST_okay)
			goto fail;
		pg->state = PAGE_OK;
	}
	e = install(m, NULL, 0);
	if (e)
		goto fail;
	g->live_pages += count;
	link_map(m, h);
	unlock();
	return m->addr;

fail:
	free(m);
	ctr.failures[fn]++;
	unlock_errno(e);
	if (why)
		log_failure(logger, e, "gnttab", "%s", why);
	return NULL;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
			      uint32_t ref, int prot)
{
	return grant_map(XENSIM_FN_GNT_MAP_GRANT_REF, xgt, 1, NULL, domid,
			 &ref, prot);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
			       uint32_t *domids, uint32_t *refs, int prot)
{
	if (!domids) {
		/* Counted and failed like any other bad argument. */
		lock();
		ctr.calls[XENSIM_FN_GNT_MAP_GRANT_REFS]++;
		ctr.failures[XENSIM_FN_GNT_MAP_GRANT_REFS]++;
		unlock_errno(EFAULT);
		return NULL;
	}
	return grant_map(XENSIM_FN_GNT_MAP_GRANT_REFS, xgt, count, domids, 0,
			 refs, prot);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
				      uint32_t domid, uint32_t *refs, int prot)
{
	return grant_map(XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS, xgt, count, NULL,
			 domid, refs, prot);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
		    uint32_t count)
{
	return unmap_exact(XENSIM_FN_GNT_UNMAP, H_GNT, KIND_GRANT, xgt,
			   start_address, count);
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	struct xengntdev_handle *g;
	int e;

	lock();
	ctr.calls[XENSIM_FN_GNT_SET_MAX_GRANTS]++;
	g = (struct xengntdev_handle *)usable_handle(xgt, H_GNT);
	e = EBADF;
	if (!g)
		goto out;
	e = injected(XENSIM_FN_GNT_SET_MAX_GRANTS);
	if (e)
		goto out;
	/* The header: "must be called ... before any other functions". */
	e = EINVAL;
	if (g->used)
		goto out;
	g->max_grants = nr_grants;
	e = 0;
out:
	if (e)
		ctr.failures[XENSIM_FN_GNT_SET_MAX_GRANTS]++;
	unlock_errno(e);
	return e ? -1 : 0;
}

/* gntdev's own checks, made before anything is copied. */
static bool copy_seg_ok(const xengnttab_grant_copy_segment_t *s)
{
	const uint16_t both = GNTCOPY_source_gref | GNTCOPY_dest_gref;

	if ((s->flags & ~both) || !(s->flags & both))
		return false;
	if ((s->flags & GNTCOPY_source_gref) &&
	    (size_t)s->source.foreign.offset + s->len > PS)
		return false;
	if ((s->flags & GNTCOPY_dest_gref) &&
	    (size_t)s->dest.foreign.offset + s->len > PS)
		return false;
	return true;
}

/*
 * One segment.  Returns 0 with seg->status set, or a positive errno that
 * fails the whole call (a bad local address, as get_user_pages would).
 * Local memory is accessed through pread/pwrite on the domain's memfd, so
 * the kernel reports a bad or read-only local buffer as EFAULT instead of
 * the simulator crashing.
 */
static int copy_seg(xengnttab_grant_copy_segment_t *s)
{
	bool src_ref = s->flags & GNTCOPY_source_gref;
	bool dst_ref = s->flags & GNTCOPY_dest_gref;
	struct sim_domain *sd = NULL, *dd = NULL;
	uint64_t sgfn = 0, dgfn = 0;
	uint8_t bounce[XENSIM_PAGE_SIZE];
	ssize_t n;
	int st;

	s->status = GNTST_okay;
	if (src_ref) {
		st = grant_check(s->source.foreign.domid, s->source.foreign.ref,
				 false, &sd, &sgfn);
		if (st != GNTST_okay)
			goto bad;
	}
	if (dst_ref) {
		st = grant_check(s->dest.foreign.domid, s->dest.foreign.ref,
				 true, &dd, &dgfn);
		if (st != GNTST_okay)
			goto bad;
	}
	if (!s->len)
		return 0;
	if (src_ref && dst_ref) {
		n = pread(sd->fd, bounce, s->len,
			  (off_t)(sgfn * PS + s->source.foreign.offset));
		if (n == s->len)
			n = pwrite(dd->fd, bounce, s->len,
				   (off_t)(dgfn * PS + s->dest.foreign.offset));
	} else if (src_ref) {
		n = pread(sd->fd, s->dest.virt, s->len,
			  (off_t)(sgfn * PS + s->source.foreign.offset));
	} else {
		n = pwrite(dd->fd, s->source.virt, s->len,
			   (off_t)(dgfn * PS + s->dest.foreign.offset));
	}
	if (n < 0)
		return errno;
	return n == s->len ? 0 : EFAULT;

bad:
	s->status = (int16_t)st;
	ctr.copy_errors++;
	return 0;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	struct xengntdev_handle *g;
	uint32_t i;
	int e;

	lock();
	ctr.calls[XENSIM_FN_GNT_GRANT_COPY]++;
	g = (struct xengntdev_handle *)usable_handle(xgt, H_GNT);
	e = EBADF;
	if (!g)
		goto out;
	g->used = true;
	e = injected(XENSIM_FN_GNT_GRANT_COPY);
	if (e)
		goto out;
	e = EFAULT;
	if (count && !segs)
		goto out;
	/*
	 * gntdev fails the whole ioctl with EINVAL for a local-to-local
	 * segment or one crossing the granted page.  We check every segment
	 * first, so such a call copies nothing and writes no status.
	 */
	e = EINVAL;
	for (i = 0; i < count; i++)
		if (!copy_seg_ok(&segs[i]))
			goto out;
	e = 0;
	for (i = 0; i < count && !e; i++)
		e = copy_seg(&segs[i]);
out:
	if (e)
		ctr.failures[XENSIM_FN_GNT_GRANT_COPY]++;
	unlock_errno(e);
	return e ? -1 : 0;
}

/* ---- libxenctrl ---- */

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned int open_flags)
{
	const unsigned int known =
		XC_OPENFLAG_DUMMY | XC_OPENFLAG_NON_REENTRANT;

	return open_handle(XENSIM_FN_XC_OPEN, H_XC,
			   sizeof(struct xc_interface_core),
			   !(open_flags & ~known), logger);
}

int xc_interface_close(xc_interface *xch)
{
	return close_any(XENSIM_FN_XC_CLOSE, xch, H_XC);
}

static int given_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]) ?: (x[1] > y[1]) - (x[1] < y[1]);
}

/* Pages @d gave back that live mappings still hold: each (frame, call)
 * once, however many mappings hold it. (lock held) */
static uint64_t held_given(const struct sim_domain *d)
{
	uint64_t (*v)[2] = NULL, n = 0, cap = 0, held = 0, i;
	struct sim_map *m;
	size_t k;

	for (m = maps; m; m = m->next)
		for (k = 0; k < m->pages; k++) {
			const struct sim_page *pg = &m->pg[k];
			void *nv;

			if (pg->state != PAGE_GIVEN || pg->domid != d->domid)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return n; /* tests only: good enough */
				}
				v = nv;
			}
			v[n][0] = pg->gfn;
			v[n++][1] = pg->given;
		}
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), given_cmp);
	for (i = 0; i < n; i++)
		held += !i || given_cmp(v[i], v[i - 1]);
	free(v);
	return held;
}

static void fill_info(const struct sim_domain *d, xc_domaininfo_t *info)
{
	uint64_t frames = d->max_gpfn + 1;
	uint8_t bits = 12;

	memset(info, 0, sizeof(*info));
	info->domain = (domid_t)d->domid;
	if (d->flags & XENSIM_DOM_HVM)
		info->flags |= XEN_DOMINF_hvm_guest | XEN_DOMINF_hap;
	if (d->flags & XENSIM_DOM_PAUSED)
		info->flags |= XEN_DOMINF_paused;
	else
		info->flags |= XEN_DOMINF_blocked;
	if (d->flags & XENSIM_DOM_DYING)
		info->flags |= XEN_DOMINF_dying;
	info->tot_pages = d->nr_pages - d->nr_holes + held_given(d);
	info->max_pages = d->max_pages;
	info->nr_online_vcpus = 1;
	info->max_vcpu_id = 0;
	while (bits < 64 && (frames - 1) >> (bits - 12))
		bits++;
	info->gpaddr_bits = bits;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
			  unsigned int max_domains, xc_domaininfo_t *info)
{
	struct sim_domain *d;
	unsigned int n = 0;
	int e;

	lock();
	ctr.calls[XENSIM_FN_XC_DOMAIN_GETINFOLIST]++;
	e = EBADF;
	if (!usable_handle(xch, H_XC))
		goto out;
	e = injected(XENSIM_FN_XC_DOMAIN_GETINFOLIST);
	if (e)
		goto out;
	e = EFAULT;
	if (max_domains && !info)
		goto out;
	e = 0;
	/* Like the hypervisor: the domains at or above first_domain. */
	for (d = domains; d && n < max_domains; d = d->next)
		if (d->domid >= first_domain)
			fill_info(d, &info[n++]);
out:
	if (e)
		ctr.failures[XENSIM_FN_XC_DOMAIN_GETINFOLIST]++;
	unlock_errno(e);
	return e ? -1 : (int)n;
}

int xc_domain_maximum_gpfn(xc_interface *xch, uint32_t domid,
			   xen_pfn_t *gpfns)
{
	struct sim_domain *d;
	int e;

	lock();
	ctr.calls[XENSIM_FN_XC_DOMAIN_MAXIMUM_GPFN]++;
	e = EBADF;
	if (!usable_handle(xch, H_XC))
		goto out;
	e = injected(XENSIM_FN_XC_DOMAIN_MAXIMUM_GPFN);
	if (e)
		goto out;
	e = EFAULT;
	if (!gpfns)
		goto out;
	d = find_domain(domid == DOMID_SELF ? caller_domid : domid);
	e = ESRCH;
	if (!d)
		goto out;
	/* The highest gpfn, not a count: callers add one themselves. */
	*gpfns = d->max_gpfn;
	e = 0;
out:
	if (e)
		ctr.failures[XENSIM_FN_XC_DOMAIN_MAXIMUM_GPFN]++;
	unlock_errno(e);
	return e ? -1 : 0;
}

/*
 * XEN_DOMCTL_getpageframeinfo3, as Xen 4.17 answers it for an HVM/PVH
 * domain: a frame with a page of the guest's is XEN_DOMCTL_PFINFO_NOTAB
 * (0), any other (a hole, beyond max_gpfn or nr_pages, given back,
 * revoked) XEN_DOMCTL_PFINFO_XTAB.  Xen refuses more than 1024 frames with
 * E2BIG, and an unknown or dying domain with ESRCH; the caller's own id is
 * refused too (stricter: Xen's domctl would need DOMID_SELF support).
 * libxenctrl 4.17 exports it but declares it only in its private header:
 * declared here as the library declares it (xen/private.h).
 */
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
			  xen_pfn_t *arr);
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num,
			  xen_pfn_t *arr)
{
	struct sim_domain *d;
	unsigned int i;
	int e;

	lock();
	ctr.calls[XENSIM_FN_XC_GET_PFN_TYPE_BATCH]++;
	e = EBADF;
	if (!usable_handle(xch, H_XC))
		goto out;
	e = injected(XENSIM_FN_XC_GET_PFN_TYPE_BATCH);
	if (e)
		goto out;
	e = E2BIG;
	if (num > 1024)
		goto out;
	e = EFAULT;
	if (num && !arr)
		goto out;
	d = find_domain(dom);
	e = ESRCH;
	if (!d || (d->flags & XENSIM_DOM_DYING) || dom == caller_domid)
		goto out;
	e = 0;
	for (i = 0; i < num; i++) {
		uint64_t gfn = arr[i];
		bool ram = gfn < d->nr_pages && !frame_hole(d, gfn) &&
			   !frame_revoked(d, gfn);

		arr[i] = ram ? XEN_DOMCTL_PFINFO_NOTAB : XEN_DOMCTL_PFINFO_XTAB;
	}
out:
	if (e)
		ctr.failures[XENSIM_FN_XC_GET_PFN_TYPE_BATCH]++;
	unlock_errno(e);
	return e ? -1 : 0;
}

/* ---- control API: domains ---- */

static void free_domain(struct sim_domain *d)
{
	struct frame_mark *fm, *next;

	for (fm = d->marks; fm; fm = next) {
		next = fm->next;
		free(fm);
	}
	free(d->holes);
	if (d->mem)
		munmap(d->mem, d->nr_pages * PS);
	if (d->fd >= 0)
		close(d->fd);
	free(d->grants);
	free(d);
}

int xensim_domain_create(uint32_t domid, uint64_t nr_pages, unsigned int flags)
{
	const unsigned int known =
		XENSIM_DOM_HVM | XENSIM_DOM_PAUSED | XENSIM_DOM_DYING;
	struct sim_domain *d, **pp;
	int rc;

	if (domid >= DOMID_FIRST_RESERVED || !nr_pages ||
	    nr_pages > MAX_DOMAIN_PAGES || (flags & ~known))
		return -EINVAL;
	if (sysconf(_SC_PAGESIZE) != (long)PS)
		return -EOPNOTSUPP;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->domid = domid;
	d->flags = flags;
	d->nr_pages = nr_pages;
	d->max_gpfn = nr_pages - 1;
	d->max_pages = nr_pages;
	d->next_ref = XENSIM_GREF_BASE;
	d->fd = memfd_create("xensim-domain", MFD_CLOEXEC);
	if (d->fd < 0 || ftruncate(d->fd, (off_t)(nr_pages * PS)))
		goto err;
	d->mem = mmap(NULL, nr_pages * PS, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->fd, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		goto err;
	}

	lock();
	for (pp = &domains; *pp && (*pp)->domid < domid; pp = &(*pp)->next)
		;
	if (*pp && (*pp)->domid == domid) {
		unlock();
		free_domain(d);
		return -EEXIST;
	}
	d->next = *pp;
	*pp = d;
	unlock();
	return 0;

err:
	rc = -errno;
	free_domain(d);
	return rc;
}

int xensim_domain_destroy(uint32_t domid)
{
	struct sim_domain **pp, *d;
	int rc;

	lock();
	for (pp = &domains; *pp && (*pp)->domid != domid; pp = &(*pp)->next)
		;
	d = *pp;
	if (!d) {
		unlock();
		return -ESRCH;
	}
	/* Its frames are gone: every live mapping of them faults now. */
	rc = kill_pages(domid, false, 0, false, 0);
	*pp = d->next;
	free_domain(d);
	unlock();
	return rc;
}

int xensim_domain_set_flags(uint32_t domid, unsigned int flags)
{
	const unsigned int known =
		XENSIM_DOM_HVM | XENSIM_DOM_PAUSED | XENSIM_DOM_DYING;
	struct sim_domain *d;
	int rc = -EINVAL;

	if (flags & ~known)
		return rc;
	lock();
	d = find_domain(domid);
	rc = -ESRCH;
	if (d) {
		d->flags = flags;
		rc = 0;
	}
	unlock();
	return rc;
}

int xensim_domain_set_max_gpfn(uint32_t domid, uint64_t max_gpfn)
{
	struct sim_domain *d;
	int rc = -ESRCH;

	lock();
	d = find_domain(domid);
	if (d) {
		d->max_gpfn = max_gpfn;
		rc = 0;
	}
	unlock();
	return rc;
}

void *xensim_domain_mem(uint32_t domid)
{
	struct sim_domain *d;
	void *p = NULL;

	lock();
	d = find_domain(domid);
	if (d)
		p = d->mem;
	unlock();
	return p;
}

void xensim_set_caller(uint32_t domid)
{
	lock();
	caller_domid = domid;
	unlock();
}

uint32_t xensim_caller(void)
{
	uint32_t domid;

	lock();
	domid = caller_domid;
	unlock();
	return domid;
}

/* ---- control API: frames ---- */

/* Look up @domid and check @gfn; returns 0 or a negative errno. */
static int frame_lookup(uint32_t domid, uint64_t gfn, struct sim_domain **dp)
{
	*dp = find_domain(domid);
	if (!*dp)
		return -ESRCH;
	if (gfn >= (*dp)->nr_pages)
		return -EINVAL;
	return 0;
}

int xensim_frame_set_error(uint32_t domid, uint64_t gfn, int err, int times)
{
	struct sim_domain *d;
	struct frame_mark *fm;
	int rc;

	if (err > 0 || (err && (times == 0 || times < -1)))
		return -EINVAL;
	lock();
	rc = frame_lookup(domid, gfn, &d);
	if (rc)
		goto out;
	fm = err ? get_mark(d, gfn) : find_mark(d, gfn);
	rc = err ? -ENOMEM : 0;
	if (!fm)
		goto out;
	fm->err = err;
	fm->times = err ? times : 0;
	rc = 0;
out:
	unlock();
	return rc;
}

int xensim_domain_set_populated(uint32_t domid, uint64_t gfn, uint64_t count,
				int populated)
{
	struct sim_domain *d;
	uint64_t i;
	int rc = -ESRCH;

	lock();
	d = find_domain(domid);
	if (!d)
		goto out;
	rc = -EINVAL;
	if (gfn >= d->nr_pages || count > d->nr_pages - gfn)
		goto out;
	rc = 0;
	for (i = gfn; i < gfn + count && !rc; i++) {
		if (populated && frame_hole(d, i))
			memset(d->mem + i * PS, 0, PS);
		rc = set_hole(d, i, !populated);
	}
out:
	unlock();
	return rc;
}

/* Page @i of @m, a frame the guest gave back: a private zero page. */
static int give_page(struct sim_map *m, size_t i, uint64_t seq)
{
	uint8_t *p = m->addr + i * PS;

	if (mmap(p, PS, m->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) == MAP_FAILED ||
	    madvise(p, PS, MADV_DONTFORK))
		return -errno;
	m->pg[i].state = PAGE_GIVEN;
	m->pg[i].given = seq;
	return 0;
}

int xensim_domain_decrease_reservation(uint32_t domid, uint64_t gfn,
				       uint64_t count)
{
	struct sim_domain *d;
	struct sim_map *m;
	uint64_t i;
	size_t k;
	int rc = -ESRCH;

	lock();
	d = find_domain(domid);
	if (!d)
		goto out;
	rc = -EINVAL;
	if (gfn >= d->nr_pages || count > d->nr_pages - gfn)
		goto out;
	for (i = gfn; i < gfn + count; i++)
		if (frame_hole(d, i))
			goto out;
	rc = 0;
	d->given_seq++;
	for (m = maps; m && !rc; m = m->next)
		for (k = 0; k < m->pages && !rc; k++) {
			struct sim_page *pg = &m->pg[k];

			if (pg->state == PAGE_OK && pg->domid == domid &&
			    pg->gfn >= gfn && pg->gfn - gfn < count)
				rc = give_page(m, k, d->given_seq);
		}
	for (i = gfn; i < gfn + count && !rc; i++) {
		/* The guest scrubbed it; Xen hands out zeroed pages. */
		memset(d->mem + i * PS, 0, PS);
		rc = set_hole(d, i, true);
	}
out:
	unlock();
	return rc;
}

int xensim_domain_set_max_pages(uint32_t domid, uint64_t max_pages)
{
	struct sim_domain *d;
	int rc = -ESRCH;

	lock();
	d = find_domain(domid);
	if (d) {
		d->max_pages = max_pages;
		rc = 0;
	}
	unlock();
	return rc;
}

int xensim_frame_revoke(uint32_t domid, uint64_t gfn)
{
	struct sim_domain *d;
	struct frame_mark *fm;
	int rc;

	lock();
	rc = frame_lookup(domid, gfn, &d);
	if (rc)
		goto out;
	fm = get_mark(d, gfn);
	rc = -ENOMEM;
	if (!fm)
		goto out;
	fm->revoked = true;
	rc = kill_pages(domid, true, gfn, false, 0);
out:
	unlock();
	return rc;
}

int xensim_frame_restore(uint32_t domid, uint64_t gfn)
{
	struct sim_domain *d;
	struct frame_mark *fm;
	int rc;

	lock();
	rc = frame_lookup(domid, gfn, &d);
	if (!rc) {
		fm = find_mark(d, gfn);
		if (fm)
			fm->revoked = false;
	}
	unlock();
	return rc;
}

/* ---- control API: grants ---- */

static int grant_alloc(uint32_t domid, uint32_t grantee, uint64_t first_gfn,
		       uint32_t count, int writable, uint32_t *first_ref)
{
	struct sim_domain *d;
	struct grant *g;
	uint32_t i, end;
	int rc;

	if (!first_ref || !count)
		return -EINVAL;
	lock();
	d = find_domain(domid);
	rc = -ESRCH;
	if (!d)
		goto out;
	rc = -EINVAL;
	if (first_gfn >= d->nr_pages || count > d->nr_pages - first_gfn)
		goto out;
	rc = -ENOSPC;
	if (count > XENSIM_GNTTAB_ENTRIES - d->next_ref)
		goto out;
	end = d->next_ref + count;
	if (end > d->grants_len) {
		rc = -ENOMEM;
		g = realloc(d->grants, end * sizeof(*g));
		if (!g)
			goto out;
		memset(g + d->grants_len, 0,
		       (end - d->grants_len) * sizeof(*g));
		d->grants = g;
		d->grants_len = end;
	}
	for (i = 0; i < count; i++) {
		g = &d->grants[d->next_ref + i];
		g->gfn = first_gfn + i;
		g->grantee = grantee;
		g->writable = writable != 0;
		g->in_use = true;
	}
	*first_ref = d->next_ref;
	d->next_ref = end;
	d->ref_high = end;
	rc = 0;
out:
	unlock();
	return rc;
}

int xensim_grant_share_to(uint32_t domid, uint32_t grantee, uint64_t gfn,
			  int writable, uint32_t *ref)
{
	return grant_alloc(domid, grantee, gfn, 1, writable, ref);
}

int xensim_grant_share(uint32_t domid, uint64_t gfn, int writable,
		       uint32_t *ref)
{
	return grant_alloc(domid, xensim_caller(), gfn, 1, writable, ref);
}

int xensim_grant_share_range(uint32_t domid, uint64_t first_gfn,
			     uint32_t count, int writable, uint32_t *first_ref)
{
	return grant_alloc(domid, xensim_caller(), first_gfn, count, writable,
			   first_ref);
}

int xensim_grant_set_base(uint32_t domid, uint32_t next_ref)
{
	struct sim_domain *d;
	int rc;

	lock();
	d = find_domain(domid);
	rc = -ESRCH;
	if (d) {
		rc = -EINVAL;
		if (next_ref >= d->ref_high &&
		    next_ref <= XENSIM_GNTTAB_ENTRIES) {
			d->next_ref = next_ref;
			rc = 0;
		}
	}
	unlock();
	return rc;
}

static int grant_end(uint32_t domid, uint32_t ref, bool mapped_too)
{
	struct sim_domain *d;
	int rc;

	lock();
	d = find_domain(domid);
	rc = -ESRCH;
	if (!d)
		goto out;
	rc = -ENOENT;
	if (ref >= d->grants_len || !d->grants[ref].in_use)
		goto out;
	d->grants[ref].in_use = false;
	rc = mapped_too ? kill_pages(domid, false, 0, true, ref) : 0;
out:
	unlock();
	return rc;
}

int xensim_grant_revoke(uint32_t domid, uint32_t ref)
{
	return grant_end(domid, ref, false);
}

int xensim_grant_revoke_mapped(uint32_t domid, uint32_t ref)
{
	return grant_end(domid, ref, true);
}

void xensim_set_default_max_grants(uint32_t nr_grants)
{
	lock();
	default_max_grants = nr_grants;
	unlock();
}

/* ---- control API: injection, counters, reset ---- */

const char *xensim_fn_name(enum xensim_fn fn)
{
	if ((unsigned int)fn >= XENSIM_FN_COUNT)
		return NULL;
	return fn_names[fn];
}

int xensim_inject(enum xensim_fn fn, unsigned int skip, unsigned int count,
		  int err)
{
	if ((unsigned int)fn >= XENSIM_FN_COUNT || (count && err <= 0))
		return -EINVAL;
	lock();
	injections[fn].skip = skip;
	injections[fn].count = count;
	injections[fn].err = err;
	unlock();
	return 0;
}

void xensim_set_hole_hook(void (*fn)(void *addr, size_t len))
{
	lock();
	hole_hook = fn;
	unlock();
}

void xensim_set_fail_keeps_range(int keep)
{
	lock();
	fail_keeps_range = keep != 0;
	unlock();
}

void xensim_set_map_hook(void (*fn)(enum xensim_fn fn))
{
	lock();
	map_hook = fn;
	unlock();
}

void xensim_inject_clear(void)
{
	struct sim_domain *d;
	struct frame_mark *fm;

	lock();
	memset(injections, 0, sizeof(injections));
	for (d = domains; d; d = d->next)
		for (fm = d->marks; fm; fm = fm->next)
			fm->err = fm->times = 0;
	unlock();
}

void xensim_get_counters(struct xensim_counters *c)
{
	lock();
	*c = ctr;
	unlock();
}

/* Zero everything but what is live now. (lock held) */
static void zero_counters(void)
{
	struct xensim_counters keep = ctr;

	memset(&ctr, 0, sizeof(ctr));
	ctr.open_handles = keep.open_handles;
	ctr.foreign.live_mappings = keep.foreign.live_mappings;
	ctr.foreign.live_pages = keep.foreign.live_pages;
	ctr.foreign.peak_live_pages = keep.foreign.live_pages;
	ctr.grant.live_mappings = keep.grant.live_mappings;
	ctr.grant.live_pages = keep.grant.live_pages;
	ctr.grant.peak_live_pages = keep.grant.live_pages;
	ctr.all.live_mappings = keep.all.live_mappings;
	ctr.all.live_pages = keep.all.live_pages;
	ctr.all.peak_live_pages = keep.all.live_pages;
}

void xensim_reset_counters(void)
{
	lock();
	zero_counters();
	unlock();
}

int xensim_reset(struct xensim_counters *final)
{
	uint64_t leaks;
	struct sim_domain *d;

	lock();
	/* Mappings first, so closing handles finds none left to count. */
	while (maps)
		destroy_map(maps, true);
	while (handles) {
		ctr.leaked_handles++;
		close_handle(handles);
	}
	while (domains) {
		d = domains;
		domains = d->next;
		free_domain(d);
	}
	memset(injections, 0, sizeof(injections));
	fail_keeps_range = false;
	map_hook = NULL;
	caller_domid = 0;
	leaks = ctr.all.leaked_mappings + ctr.leaked_handles;
	if (final)
		*final = ctr;
	zero_counters();
	unlock();
	return leaks > INT32_MAX ? INT32_MAX : (int)leaks;
}
