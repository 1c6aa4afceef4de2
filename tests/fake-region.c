/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In-memory test backend: see fake-region.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake-region.h"

#define FAKE_MAP_MAGIC 0x66616b656d61700aULL

/* What one successful map handed out, as the cookie: unmap checks that it
 * gets back exactly this. */
struct fake_map_rec {
	uint64_t magic;
	uint8_t *hva;
	uint64_t len;
	int hold;	 /* GM_MAP_HOLD: may be unmapped from any thread */
	pthread_t owner; /* mapping thread */
};

static atomic_ulong violations;
static pthread_mutex_t violation_lock = PTHREAD_MUTEX_INITIALIZER;
static char violation_msg[256];

static pthread_mutex_t grave_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_region *graveyard;

static struct fake_region *to_fake(struct gm_region *r)
{
	return (struct fake_region *)(void *)r;
}

__attribute__((format(printf, 1, 2))) static void violation(const char *fmt,
							    ...)
{
	va_list ap;

	/* Keep the first message: later ones are usually consequences. */
	if (atomic_fetch_add(&violations, 1) == 0) {
		pthread_mutex_lock(&violation_lock);
		va_start(ap, fmt);
		vsnprintf(violation_msg, sizeof(violation_msg), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&violation_lock);
	}
}

unsigned long fake_violations(void)
{
	return atomic_load(&violations);
}

const char *fake_violation_msg(void)
{
	return violation_msg;
}

void fake_violations_reset(void)
{
	atomic_store(&violations, 0);
	violation_msg[0] = '\0';
}

/* Take one failure from the fail_next budget, if any is left. */
static int take_fail_next(struct fake_region *f)
{
	unsigned int n = atomic_load(&f->fail_next);

	while (n) {
		if (atomic_compare_exchange_weak(&f->fail_next, &n, n - 1))
			return 1;
	}
	return 0;
}

/* Host address of the first byte of piece @piece (piece mode). */
static uint8_t *piece_hva(struct fake_region *f, uint64_t piece)
{
	return fake_hva(f, piece << f->cfg.piece_shift);
}

/* Publish piece @piece at @hva with @prot and remember it; pub_lock held,
 * @piece in range. */
static int publish_locked(struct fake_region *f, uint64_t piece, void *hva,
			  int prot)
{
	int ret = gm_region_publish(&f->base, piece, hva, prot);

	if (!ret) {
		f->pub[piece] = hva;
		atomic_fetch_add(&f->publishes, 1);
	}
	return ret;
}

/* cfg.publish_on_map: publish every piece of [off, off + n) that is not
 * published at the fake's own storage yet, as a cache that has just mapped
 * them would. */
static void publish_mapped(struct fake_region *f, uint64_t off, uint64_t n)
{
	uint64_t p = off >> f->cfg.piece_shift;
	uint64_t last = (off + n - 1) >> f->cfg.piece_shift;
	int ret;

	pthread_mutex_lock(&f->pub_lock);
	for (; p <= last; p++) {
		if (f->pub[p] == piece_hva(f, p))
			continue;
		ret = publish_locked(f, p, piece_hva(f, p),
				     f->cfg.publish_on_map);
		/* Valid arguments, checked at creation: cannot fail. */
		if (ret)
			violation("publish of piece %llu of region 0x%llx "
				  "failed: %d",
				  (unsigned long long)p,
				  (unsigned long long)f->base.gpa, ret);
	}
	pthread_mutex_unlock(&f->pub_lock);
}

/*
 * Transient mappings (no GM_MAP_HOLD) of the calling thread not yet
 * unmapped: the contract allows at most one, released by the same thread
 * before its next map call.
 */
static __thread unsigned int transient_live;

static int fake_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		    unsigned int flags, struct gm_map *m)
{
	struct fake_region *f = to_fake(r);
	struct fake_map_rec *rec;
	uint64_t n = len;

	atomic_fetch_add(&f->map_calls, 1);
	atomic_store(&f->last_flags, flags);
	atomic_store(&f->last_prot, prot);

	/* The contract of gm_region_ops.map, as common code must keep it. */
	if (atomic_load(&f->destroyed_flag))
		violation("map of region 0x%llx after destroy",
			  (unsigned long long)r->gpa);
	if (f->cfg.persistent)
		violation("map of persistent region 0x%llx",
			  (unsigned long long)r->gpa);
	if (transient_live)
		violation("map of region 0x%llx while this thread holds a "
			  "transient mapping",
			  (unsigned long long)r->gpa);
	if (!len || off >= f->cfg.size || len > f->cfg.size - off) {
		violation("map out of range: off 0x%llx len 0x%llx size 0x%llx",
			  (unsigned long long)off, (unsigned long long)len,
			  (unsigned long long)f->cfg.size);
		m->fault = off;
		return -EINVAL;
	}
	if (!prot || (prot & ~(GM_PROT_READ | GM_PROT_WRITE)))
		violation("map with prot 0x%x", prot);
	if (flags & ~(GM_MAP_WHOLE | GM_MAP_HOLD))
		violation("map with unknown flags 0x%x", flags);
	if ((prot & GM_PROT_WRITE) && (f->cfg.flags & GM_REGION_RDONLY))
		violation("write mapping of read-only region 0x%llx",
			  (unsigned long long)r->gpa);

	if (take_fail_next(f)) {
		m->fault = off;
		return f->fail_next_err;
	}
	/* What this call would map: a piece of at most max_map bytes, or
	 * the whole range when GM_MAP_WHOLE asks for it. */
	if (f->cfg.gap) {
		/* Pieces are max_map-aligned and apart in host memory. */
		uint64_t end = off - off % f->cfg.max_map + f->cfg.max_map;

		if (n > end - off) {
			if (flags & GM_MAP_WHOLE) {
				m->fault = end;
				return -ENOMEM;
			}
			n = end - off;
		}
	} else if (f->cfg.max_map && n > f->cfg.max_map) {
		if (!(flags & GM_MAP_WHOLE)) {
			n = f->cfg.max_map;
		} else if (f->cfg.strict_whole) {
			m->fault = off + f->cfg.max_map;
			return -ENOMEM;
		}
	}
	if (f->fail_off >= off && f->fail_off - off < n) {
		if (f->fail_off == off || f->fail_off_whole ||
		    (flags & GM_MAP_WHOLE)) {
			m->fault = f->fail_off;
			return f->fail_off_err;
		}
		n = f->fail_off - off;
	}
	if (f->bug == FAKE_BUG_POSITIVE)
		return 1;

	rec = malloc(sizeof(*rec));
	if (!rec) {
		m->fault = off;
		return -ENOMEM;
	}
	rec->magic = FAKE_MAP_MAGIC;
	rec->hva = fake_hva(f, off);
	rec->len = n;
	rec->hold = (flags & GM_MAP_HOLD) != 0;
	rec->owner = pthread_self();
	switch (f->bug) {
	case FAKE_BUG_NULL_HVA:
		rec->hva = NULL;
		break;
	case FAKE_BUG_ZERO_LEN:
		rec->len = 0;
		break;
	case FAKE_BUG_LONG:
		rec->len = len + 1;
		break;
	case FAKE_BUG_SHORT_WHOLE:
		if ((flags & GM_MAP_WHOLE) && len > 1)
			rec->len = len - 1;
		break;
	default:
		break;
	}
	m->hva = rec->hva;
	m->len = rec->len;
	m->cookie = rec;
	if (!rec->hold)
		transient_live++;
	atomic_fetch_add(&f->maps, 1);
	atomic_fetch_add(&f->live, 1);
	if (f->cfg.publish_on_map && f->bug == FAKE_BUG_NONE)
		publish_mapped(f, off, n);
	for (unsigned int i = 0; i < f->cfg.map_spin; i++)
		atomic_signal_fence(memory_order_seq_cst);
	return 0;
}

static void fake_unmap(struct gm_region *r, struct gm_map *m)
{
	struct fake_region *f = to_fake(r);
	struct fake_map_rec *rec = m->cookie;

	atomic_fetch_add(&f->unmaps, 1);
	if (f->cfg.persistent)
		violation("unmap of persistent region 0x%llx",
			  (unsigned long long)r->gpa);
	if (!rec || rec->magic != FAKE_MAP_MAGIC) {
		violation("unmap of region 0x%llx with a bad cookie",
			  (unsigned long long)r->gpa);
		return;
	}
	if (rec->hva != m->hva || rec->len != m->len)
		violation("unmap of region 0x%llx: hva/len %p/0x%llx, "
			  "map gave %p/0x%llx",
			  (unsigned long long)r->gpa, (void *)m->hva,
			  (unsigned long long)m->len, (void *)rec->hva,
			  (unsigned long long)rec->len);
	if (!rec->hold) {
		if (!pthread_equal(rec->owner, pthread_self()))
			violation("transient mapping of region 0x%llx "
				  "unmapped by another thread",
				  (unsigned long long)r->gpa);
		else
			transient_live--;
	}
	if (atomic_fetch_sub(&f->live, 1) <= 0)
		violation("more unmaps than maps on region 0x%llx",
			  (unsigned long long)r->gpa);
	rec->magic = 0;
	free(rec);
}

static void fake_free(struct fake_region *f)
{
	if (f->cfg.page_buf)
		munmap(f->alloc, f->bytes);
	else
		free(f->alloc);
	pthread_mutex_destroy(&f->pub_lock);
	free(f->pub);
	free(f);
}

/*
 * Piece mode, at destroy: unpublish what is still published, as a cache
 * tearing down would before it unmaps.  The contract lets destroy do that
 * (the pieces are freed after it returns), so each piece must still be
 * published where the fake put it.
 */
static void unpublish_all(struct fake_region *f)
{
	uint64_t i;
	int n = 0;

	for (i = 0; i < f->npieces; i++) {
		if (!f->pub[i])
			continue;
		if (gm_region_unpublish(&f->base, i, f->pub[i]) != 1)
			violation("piece %llu of region 0x%llx no longer "
				  "published at destroy",
				  (unsigned long long)i,
				  (unsigned long long)f->base.gpa);
		else
			n++;
		f->pub[i] = NULL;
	}
	/* Nobody can reach the region any more; a backend that unmaps would
	 * still wait here, and methods may. */
	if (n)
		gm_region_synchronize(&f->base);
	if (f->cfg.destroy_unpublished)
		__atomic_fetch_add(f->cfg.destroy_unpublished, n,
				   __ATOMIC_SEQ_CST);
}

static void fake_destroy(struct gm_region *r)
{
	struct fake_region *f = to_fake(r);

	if (atomic_load(&f->live))
		violation("region 0x%llx destroyed with %ld live mappings",
			  (unsigned long long)r->gpa, atomic_load(&f->live));
	if (atomic_fetch_add(&f->destroyed_flag, 1))
		violation("region 0x%llx destroyed twice",
			  (unsigned long long)r->gpa);
	if (f->pub)
		unpublish_all(f);
	if (f->cfg.destroyed)
		__atomic_fetch_add(f->cfg.destroyed, 1, __ATOMIC_SEQ_CST);
	if (!f->cfg.poison) {
		fake_free(f);
		return;
	}
	/* Anyone still reading the buffer now sees poison, not freed
	 * memory that may have been reused. */
	memset(f->alloc, FAKE_POISON, f->bytes);
	pthread_mutex_lock(&grave_lock);
	f->grave_next = graveyard;
	graveyard = f;
	pthread_mutex_unlock(&grave_lock);
}

void fake_graveyard_free(void)
{
	struct fake_region *f, *next;

	pthread_mutex_lock(&grave_lock);
	f = graveyard;
	graveyard = NULL;
	pthread_mutex_unlock(&grave_lock);
	for (; f; f = next) {
		next = f->grave_next;
		fake_free(f);
	}
}

static const struct gm_region_ops fake_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = FAKE_NAME,
	.map = fake_map,
	.unmap = fake_unmap,
	.destroy = fake_destroy,
};

/* Whether the piece mode of @cfg is off or usable. */
static int pieces_cfg_ok(const struct fake_config *cfg)
{
	int pub = cfg->publish_on_map;

	/* Pieces start page-aligned in buf only in a plain page_buf
	 * layout, as gm_region_publish() requires. */
	if (cfg->piece_shift &&
	    (!cfg->page_buf || cfg->persistent || cfg->misalign || cfg->gap))
		return 0;
	/* What map publishes must be valid, or every map would fail. */
	if (pub && (!cfg->piece_shift ||
		    (pub != GM_PROT_READ &&
		     pub != (GM_PROT_READ | GM_PROT_WRITE)) ||
		    ((pub & GM_PROT_WRITE) && (cfg->flags & GM_REGION_RDONLY))))
		return 0;
	return 1;
}

int fake_region_new(const struct fake_config *cfg, struct fake_region **out)
{
	struct fake_region *f;
	size_t bytes;
	int ret;

	*out = NULL;
	/* Test regions live in memory: keep them small. */
	if (cfg->size > (UINT64_C(1) << 30))
		return -ENOMEM;
	if (!pieces_cfg_ok(cfg))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = gm_region_init(&f->base, &fake_ops, cfg->gpa, cfg->size,
			     cfg->flags);
	if (ret) {
		free(f);
		return ret;
	}
	/* 64-byte aligned, so that naturally aligned guest addresses are
	 * aligned host addresses (atomics need that) in regions that start
	 * 64-byte aligned, unless misalign asks otherwise. */
	bytes = (size_t)cfg->size;
	if (cfg->gap) {
		if (!cfg->max_map || cfg->persistent) {
			free(f);
			return -EINVAL;
		}
		bytes = (size_t)((cfg->size + cfg->max_map - 1) / cfg->max_map *
				 (cfg->max_map + cfg->gap));
	}
	bytes = (bytes + (cfg->misalign ? 1 : 0) + 63) & ~(size_t)63;
	if (cfg->page_buf) {
		long pg = sysconf(_SC_PAGESIZE);

		bytes = (bytes + (size_t)pg - 1) & ~((size_t)pg - 1);
		f->alloc = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (f->alloc == MAP_FAILED)
			f->alloc = NULL;
	} else {
		f->alloc = aligned_alloc(64, bytes);
	}
	if (!f->alloc) {
		free(f);
		return -ENOMEM;
	}
	memset(f->alloc, 0, bytes);
	f->bytes = bytes;
	f->buf = (uint8_t *)f->alloc + (cfg->misalign ? 1 : 0);
	f->cfg = *cfg;
	f->fail_off = UINT64_MAX;
	pthread_mutex_init(&f->pub_lock, NULL);
	if (cfg->persistent)
		f->base.hva = f->buf;
	if (cfg->piece_shift) {
		/* Sized before gm_region_pieces_init() (which checks the
		 * shift), so that a failure after it needs no destroy. */
		f->npieces = cfg->piece_shift < 64
				     ? ((cfg->size - 1) >> cfg->piece_shift) + 1
				     : 1;
		f->pub = calloc((size_t)f->npieces, sizeof(*f->pub));
		/* The fake's own storage is the window: fake_publish()
		 * publishes there, fake_publish_at() anywhere else. */
		ret = f->pub ? gm_region_pieces_init(&f->base, cfg->piece_shift,
						     f->buf)
			     : -ENOMEM;
		if (ret) {
			fake_free(f);
			return ret;
		}
	}
	*out = f;
	return 0;
}

uint8_t *fake_hva(struct fake_region *f, uint64_t off)
{
	uint64_t piece;

	if (!f->cfg.gap)
		return f->buf + off;
	piece = off / f->cfg.max_map;
	return f->buf + piece * (f->cfg.max_map + f->cfg.gap) +
	       off % f->cfg.max_map;
}

int fake_revoke(struct fake_region *f, uint64_t off)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)fake_hva(f, off) & ~((uintptr_t)pg - 1);

	if (!f->cfg.page_buf)
		return -EINVAL;
	return mprotect((void *)a, (size_t)pg, PROT_NONE) ? -errno : 0;
}

void fake_fail_next(struct fake_region *f, unsigned int n, int err)
{
	f->fail_next_err = err;
	atomic_store(&f->fail_next, n);
}

void fake_fail_at(struct fake_region *f, uint64_t off, int err,
		  int whole_call)
{
	f->fail_off = off;
	f->fail_off_err = err;
	f->fail_off_whole = whole_call;
}

void fake_set_bug(struct fake_region *f, enum fake_bug bug)
{
	f->bug = bug;
}

int fake_publish_at(struct fake_region *f, uint64_t piece, void *hva,
		    int prot)
{
	int ret;

	/* No pieces, or out of range: the library's answer, unrecorded. */
	if (!f->pub || piece >= f->npieces)
		return gm_region_publish(&f->base, piece, hva, prot);
	pthread_mutex_lock(&f->pub_lock);
	ret = publish_locked(f, piece, hva, prot);
	pthread_mutex_unlock(&f->pub_lock);
	return ret;
}

int fake_publish(struct fake_region *f, uint64_t piece, int prot)
{
	/* A piece that does not exist has no storage: offer the buffer's
	 * start, for the library to refuse the piece. */
	return fake_publish_at(f, piece,
			       f->pub && piece < f->npieces
				       ? piece_hva(f, piece)
				       : f->buf,
			       prot);
}

int fake_unpublish(struct fake_region *f, uint64_t piece)
{
	int ret;

	if (!f->pub || piece >= f->npieces) {
		ret = gm_region_unpublish(&f->base, piece, f->buf);
	} else {
		pthread_mutex_lock(&f->pub_lock);
		ret = gm_region_unpublish(&f->base, piece,
					  f->pub[piece] ? f->pub[piece]
							: piece_hva(f, piece));
		if (ret)
			f->pub[piece] = NULL;
		pthread_mutex_unlock(&f->pub_lock);
	}
	/* Outside the lock: the wait is for accessors, which never take it,
	 * but a map call that publishes would wait for us for nothing. */
	gm_region_synchronize(&f->base);
	return ret;
}
