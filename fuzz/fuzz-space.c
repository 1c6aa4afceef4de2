/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: random layouts and random sequences of every public
 * operation, each result checked against a shadow model of the space.
 *
 * The input (format in fuzz-proto.h) builds a space over unix regions
 * (anonymous, memfd, and a file that can be truncated under its mapping)
 * and Xen regions on the simulator (foreign on demand, foreign eager,
 * grants), injects per-frame errors, revokes frames and grants, and runs
 * reads, writes, partial copies, fills, typed and atomic accesses, views
 * with their inline accessors, leases, fd I/O, region hot-add/remove,
 * gm_xen_invalidate() and gm_space_get_regions().
 *
 * The model
 * ---------
 * Bytes live in backing stores, as they do in reality: the domain's frames
 * (shared by every foreign and grant region that maps them, so aliasing is
 * modelled for free), the truncatable file, and one buffer per anonymous or
 * memfd region.  A region maps a run of one store's pages.
 *
 * What an access to one page may do is a set of outcomes (success or an
 * errno), not a single one, because whether a Xen page is answered from a
 * cache entry mapped earlier depends on eviction, which the model does not
 * simulate.  Each on-demand page keeps the outcomes of every entry that may
 * still be cached: before any event that changes what a fresh map would
 * give (an error set on a frame, a revocation, a restore), the fresh outcome
 * is added to that set, and a revocation turns a cached success into -EFAULT
 * (the mapping now raises SIGBUS, which a fault-safe space reports as
 * -EFAULT).  gm_xen_invalidate() empties the sets.  Eager regions record the
 * outcome of each page at creation.
 *
 * An access is cut into segments (one page of one region each, or a hole, or
 * a read-only region for a write).  A result is accepted when it stops at
 * the start of a segment whose set holds the errno returned and every
 * segment before it may succeed; exact accessors first fail on the layout
 * alone (hole, read-only), writing nothing.  Data read must equal the model,
 * and data written goes into the model; the backing stores themselves are
 * compared with the model by FZ_OP_VERIFY and at the end of every input.
 * gm_last_error() must name the space and the exact failing address.
 *
 * Where the contract leaves a choice, the model accepts each documented
 * alternative and learns which one happened by reading the backing store
 * itself (settle()): a failed exact write "may leave the bytes before it
 * written", and the kernel, when a page faults under a read from an fd,
 * may have copied more than the count it returns.
 *
 * Views, leases and fd I/O hand raw pointers to the harness or the kernel,
 * which no fault-safe copy protects: the harness touches through them only
 * pages that cannot fault (never revoked, not truncated).
 *
 * Every input must leave nothing behind: xensim_reset() must find no
 * mapping or handle, and the process no new fd.  A mismatch aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <guestmem.h>
#include <guestmem/backend.h>
#include <guestmem/unix.h>
#include <guestmem/xen.h>

#include "xensim/xensim.h"

#include "fuzz-proto.h"

#define PAGE 4096u
#define DOM 7u		/* the simulated guest */
#define NODOM 99u	/* a domain that does not exist */
#define OTHER_DOM 3u	/* grantee of grants we may not map */
#define GREF0 XENSIM_GREF_BASE /* ref of grant 0 */
#define SPACE_NAME "fuzz"

#define MAX_OPS 400	/* per input */
#define MAX_REGS 32	/* regions made per input */
#define MAX_PAGES 32	/* pages per region */
#define MAX_VIEWS 4
#define MAX_LEASES 2
#define MAX_XFER 32768	/* bytes per read/write/fd operation */
#define MAX_VIEW 16384	/* bytes per view */
#define MAX_SEG 48
#define IOF_MAX (3 * 65536) /* the fd I/O file */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ------------------------------------------------------------------ */
/* Failing                                                             */
/* ------------------------------------------------------------------ */

static int op_no;
static const char *op_name = "setup";

static __attribute__((noreturn, format(printf, 1, 2))) void
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz-space: op %d (%s): ", op_no, op_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  last error: \"%s\"\n", gm_last_error());
	abort();
}

/* FZ_TRACE=1 in the environment: print every operation and its result,
 * to replay a crash input by hand. */
static int tracing;

static __attribute__((format(printf, 1, 2))) void trace(const char *fmt, ...)
{
	va_list ap;

	if (!tracing)
		return;
	fprintf(stderr, "%3d %-13s ", op_no, op_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			fail(__VA_ARGS__);                                    \
	} while (0)

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

static const uint8_t *in_p;
static size_t in_n;

static uint8_t u8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}

static uint16_t u16(void)
{
	uint16_t v = u8();

	return (uint16_t)(v | (uint16_t)u8() << 8);
}

static uint32_t u32(void)
{
	uint32_t v = u16();

	return v | (uint32_t)u16() << 16;
}

static uint64_t u64(void)
{
	uint64_t v = u32();

	return v | (uint64_t)u32() << 32;
}

/* Data for writes: xorshift from a seed the input gives. */
static void fill_random(uint8_t *buf, size_t n, uint32_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

/* ------------------------------------------------------------------ */
/* Outcomes                                                            */
/* ------------------------------------------------------------------ */

/*
 * Outcome sets: bit 0 is success, FAULTS a mapping that exists but raises
 * SIGBUS when touched (a revoked frame or grant under a live mapping, a
 * truncated file), the others one errno each.  An accessor that copies
 * turns FAULTS into -EFAULT (fault-safe spaces only have such pages); one
 * that only maps (views, leases, fd I/O) succeeds.
 */
#define OK 1u
#define FAULTS (1u << 30)
static const int errnos[] = { EFAULT, EINVAL, EACCES, EPERM,  ESRCH,
			      ENOENT, EIO,    ENOMEM, EAGAIN, EOVERFLOW };

static unsigned eb(int err) /* err: negative errno */
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnos); i++)
		if (-err == errnos[i])
			return 2u << i;
	return 1u << 31; /* nothing allows it */
}

/* Errors a frame can be given (FZ_OP_FRAME_ERROR); ENOENT_1/2 are paged
 * out frames that come back within the retries. */
enum { FE_CLEAR = 6, FE_ENOENT_1, FE_ENOENT_2, FE_COUNT };
static const int frame_errs[] = { -EFAULT, -EPERM, -ESRCH,
				  -EINVAL, -EIO,   -ENOENT };
static const int inject_errs[] = { ENOMEM, EIO, EFAULT, EPERM, EINVAL };
#define ENOENT_RETRIES 2

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

struct frame {
	int err;	  /* error foreign maps give, persistent, or 0 */
	int revoked;	  /* foreign and grant maps fail, mappings SIGBUS */
	int ever_revoked; /* some mapping of it may be a SIGBUS page */
};

struct grant {
	uint64_t gfn;
	int writable;
	int other;	    /* granted to another domain */
	int revoked;	    /* maps fail; live mappings still work */
	int revoked_mapped; /* live mappings SIGBUS too */
};

struct mreg {
	int kind, rdonly, in_space;
	int holds;		 /* views and leases on it */
	uint64_t gpa, npages;
	uint32_t domid;
	uint64_t base;		 /* first gfn, grant index or file page */
	uint8_t *priv;		 /* FZ_K_ANON, FZ_K_MEMFD: the contents */
	unsigned cached_r[MAX_PAGES]; /* outcomes of entries maybe cached */
	unsigned cached_w[MAX_PAGES]; /* grants: entries mapped writable */
	unsigned eager[MAX_PAGES];    /* FZ_K_EAGER: outcome per page */
	int eager_mapped;	 /* every frame mapped at creation */
	struct gm_region *r;	 /* valid while in the space */
};

struct hview {
	int live;
	struct gm_view v;
	struct mreg *m;
};

struct seg {
	uint64_t gpa, len; /* guest range */
	struct mreg *m;	   /* NULL: hole */
	uint64_t off;	   /* offset in m */
	unsigned out;	   /* possible outcomes */
	int safe;	   /* raw access cannot fault */
};

struct plan {
	uint64_t gpa, len;
	int n;
	struct seg s[MAX_SEG];
	int lerr;     /* hole (-EFAULT) or read-only (-EACCES), or 0 */
	uint64_t lat; /* ... at this address */
};

struct hlease {
	struct gm_lease *l;
	int prot;
	struct plan pl;
};

static struct {
	int fault_safe;
	size_t bucket, budget;
	struct gm_space *s;
	struct gm_xen *x;

	uint8_t dom[FZ_NFRAMES * PAGE];
	struct frame frames[FZ_NFRAMES];
	struct grant grants[FZ_NGRANTS];

	int ufd;		/* the truncatable file */
	uint8_t *ufmap;		/* our own mapping of it, for checking */
	uint8_t uf[FZ_UF_PAGES * PAGE];
	uint64_t uf_pages;	/* its size now */

	int pipe[2];		/* fd I/O: non-blocking pipe */
	int iofd;		/* fd I/O: a file */
	uint8_t iof[IOF_MAX];
	uint64_t iof_size;

	struct mreg regs[MAX_REGS];
	int nregs;
	struct hview views[MAX_VIEWS];
	struct hlease leases[MAX_LEASES];

	/* Injected whole-call failures not yet consumed: errno or 0, and
	 * the simulator's injected count when they were set. */
	int inj[3];
	uint64_t inj_base[3];
} M;

static const enum xensim_fn inj_fn[3] = {
	XENSIM_FN_FMEM_MAP,
	XENSIM_FN_FMEM_MAP2,
	XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS,
};
enum { INJ_FMAP, INJ_FMAP2, INJ_GMAP };

static int is_xen(int kind)
{
	return kind == FZ_K_FOREIGN || kind == FZ_K_EAGER ||
	       kind == FZ_K_GRANT;
}

static int is_on_demand(int kind)
{
	return kind == FZ_K_FOREIGN || kind == FZ_K_GRANT;
}

static uint64_t reg_size(const struct mreg *m)
{
	return m->npages * PAGE;
}

/* The in-space region holding @gpa, or NULL. */
static struct mreg *find_region(uint64_t gpa)
{
	int i;

	for (i = 0; i < M.nregs; i++) {
		struct mreg *m = &M.regs[i];

		if (m->in_space && gpa >= m->gpa &&
		    gpa - m->gpa < reg_size(m))
			return m;
	}
	return NULL;
}

/* The in-space regions in address order; returns how many. */
static int sorted_regions(struct mreg **out)
{
	int i, j, n = 0;

	for (i = 0; i < M.nregs; i++) {
		if (!M.regs[i].in_space)
			continue;
		for (j = n; j > 0 && out[j - 1]->gpa > M.regs[i].gpa; j--)
			out[j] = out[j - 1];
		out[j] = &M.regs[i];
		n++;
	}
	return n;
}

static struct mreg *nth_region(unsigned sel)
{
	struct mreg *list[MAX_REGS];
	int n = sorted_regions(list);

	return n ? list[sel % (unsigned)n] : NULL;
}

/* Frame behind page @p of a foreign region, or -1 when there is none. */
static int64_t foreign_gfn(const struct mreg *m, uint64_t p)
{
	if (m->domid != DOM || m->base + p >= FZ_NFRAMES)
		return -1;
	return (int64_t)(m->base + p);
}

static struct grant *grant_of(const struct mreg *m, uint64_t p)
{
	if (m->domid != DOM || m->base + p >= FZ_NGRANTS)
		return NULL;
	return &M.grants[m->base + p];
}

/* What a fresh foreign map of page @p gives. */
static unsigned fresh_foreign(const struct mreg *m, uint64_t p, int inj)
{
	unsigned out;

	if (m->domid != DOM)
		out = eb(-ESRCH);
	else if (m->base + p >= FZ_NFRAMES)
		out = eb(-EINVAL);
	else if (M.frames[m->base + p].revoked)
		out = eb(-EINVAL);
	else if (M.frames[m->base + p].err)
		out = eb(M.frames[m->base + p].err);
	else
		out = OK;
	/* On demand, a bucket is mapped in its region's window (map2) or,
	 * once its place there is lost, anywhere (map). */
	if (inj && M.inj[INJ_FMAP])
		out |= eb(-M.inj[INJ_FMAP]);
	if (inj && M.inj[INJ_FMAP2])
		out |= eb(-M.inj[INJ_FMAP2]);
	return out;
}

/* What a fresh grant map of page @p gives. */
static unsigned fresh_grant(const struct mreg *m, uint64_t p, int write,
			    int inj)
{
	const struct grant *g = grant_of(m, p);
	unsigned out;

	if (!g || g->revoked || g->other || M.frames[g->gfn].revoked ||
	    (write && !g->writable))
		out = eb(-EINVAL);
	else
		out = OK;
	if (inj && M.inj[INJ_GMAP])
		out |= eb(-M.inj[INJ_GMAP]);
	return out;
}

/* Everything an access to page @p of @m may give. */
static unsigned page_out(const struct mreg *m, uint64_t p, int write)
{
	switch (m->kind) {
	case FZ_K_ANON:
	case FZ_K_MEMFD:
		return OK;
	case FZ_K_UFILE:
		return m->base + p < M.uf_pages ? OK : FAULTS;
	case FZ_K_FOREIGN:
		return fresh_foreign(m, p, 1) | m->cached_r[p];
	case FZ_K_EAGER:
		return m->eager[p];
	case FZ_K_GRANT:
		return fresh_grant(m, p, write, 1) | m->cached_w[p] |
		       (write ? 0 : m->cached_r[p]);
	}
	return 0;
}

/* Whether a raw pointer into page @p of @m can be touched. */
static int page_safe(const struct mreg *m, uint64_t p)
{
	const struct grant *g;
	int64_t gfn;

	switch (m->kind) {
	case FZ_K_UFILE:
		return m->base + p < M.uf_pages;
	case FZ_K_FOREIGN:
	case FZ_K_EAGER:
		gfn = foreign_gfn(m, p);
		return gfn >= 0 && !M.frames[gfn].ever_revoked;
	case FZ_K_GRANT:
		g = grant_of(m, p);
		return g && !g->revoked_mapped &&
		       !M.frames[g->gfn].ever_revoked;
	default:
		return 1;
	}
}

/* The model's bytes for offset @off of @m (to the end of its page). */
static uint8_t *mdata(const struct mreg *m, uint64_t off)
{
	uint64_t p = off / PAGE, o = off % PAGE;
	const struct grant *g;
	int64_t gfn;

	switch (m->kind) {
	case FZ_K_ANON:
	case FZ_K_MEMFD:
		return m->priv + off;
	case FZ_K_UFILE:
		return M.uf + (m->base + p) * PAGE + o;
	case FZ_K_FOREIGN:
	case FZ_K_EAGER:
		gfn = foreign_gfn(m, p);
		CHECK(gfn >= 0, "model: no frame behind %s page %" PRIu64,
		      "foreign", p);
		return M.dom + (uint64_t)gfn * PAGE + o;
	case FZ_K_GRANT:
		g = grant_of(m, p);
		CHECK(g, "model: no grant behind page %" PRIu64, p);
		return M.dom + g->gfn * PAGE + o;
	}
	fail("model: bad kind");
}

/* Copy @n bytes at offset @off of @m to or from the model, page by page. */
static void model_io(const struct mreg *m, uint64_t off, uint8_t *buf,
		     uint64_t n, int write)
{
	while (n) {
		uint64_t k = MIN(n, PAGE - off % PAGE);

		if (write)
			memcpy(mdata(m, off), buf, k);
		else
			memcpy(buf, mdata(m, off), k);
		off += k;
		buf += k;
		n -= k;
	}
}

/* ---- events that change what a fresh map gives ---- */

/* Remember that an entry mapped now, with the fresh outcome of now, may
 * stay cached.  Grant maps are all or nothing: only successes are cached.
 * Called before every event that changes a fresh outcome. */
static void snapshot_cache(void)
{
	int i;
	uint64_t p;

	for (i = 0; i < M.nregs; i++) {
		struct mreg *m = &M.regs[i];

		for (p = 0; p < m->npages; p++) {
			if (m->kind == FZ_K_FOREIGN) {
				/* Buckets with paged-out frames are never
				 * cached. */
				m->cached_r[p] |= fresh_foreign(m, p, 0) &
						  ~eb(-ENOENT);
			} else if (m->kind == FZ_K_GRANT) {
				m->cached_r[p] |= fresh_grant(m, p, 0, 0) & OK;
				m->cached_w[p] |= fresh_grant(m, p, 1, 0) & OK;
			}
		}
	}
}

/* A mapping that worked is now a SIGBUS page. */
static unsigned sigbus(unsigned out)
{
	return out & OK ? (out & ~OK) | FAULTS : out;
}

static void revoke_frame_model(uint64_t gfn)
{
	int i;
	uint64_t p;

	for (i = 0; i < M.nregs; i++) {
		struct mreg *m = &M.regs[i];

		for (p = 0; p < m->npages; p++) {
			const struct grant *g;

			if (m->kind == FZ_K_FOREIGN &&
			    foreign_gfn(m, p) == (int64_t)gfn) {
				m->cached_r[p] = sigbus(m->cached_r[p]);
			} else if (m->kind == FZ_K_EAGER &&
				   foreign_gfn(m, p) == (int64_t)gfn) {
				m->eager[p] = sigbus(m->eager[p]);
			} else if (m->kind == FZ_K_GRANT &&
				   (g = grant_of(m, p)) && g->gfn == gfn) {
				m->cached_r[p] = sigbus(m->cached_r[p]);
				m->cached_w[p] = sigbus(m->cached_w[p]);
			}
		}
	}
	M.frames[gfn].revoked = 1;
	M.frames[gfn].ever_revoked = 1;
}

static void revoke_grant_mapped_model(uint64_t gi)
{
	int i;
	uint64_t p;

	for (i = 0; i < M.nregs; i++) {
		struct mreg *m = &M.regs[i];

		if (m->kind != FZ_K_GRANT)
			continue;
		for (p = 0; p < m->npages; p++) {
			if (grant_of(m, p) == &M.grants[gi]) {
				m->cached_r[p] = sigbus(m->cached_r[p]);
				m->cached_w[p] = sigbus(m->cached_w[p]);
			}
		}
	}
	M.grants[gi].revoked_mapped = 1;
}

/* ------------------------------------------------------------------ */
/* Plans and checks                                                    */
/* ------------------------------------------------------------------ */

/* Cut [gpa, gpa + len) (len > 0, no wrap) into segments, for an accessor
 * that copies, or that only maps (@map_only). */
static void plan_range(struct plan *pl, uint64_t gpa, uint64_t len, int write,
		       int map_only)
{
	uint64_t done = 0;

	pl->gpa = gpa;
	pl->len = len;
	pl->n = 0;
	pl->lerr = 0;
	while (done < len) {
		uint64_t cur = gpa + done, off, n;
		struct mreg *m = find_region(cur);
		struct seg *sg;

		CHECK(pl->n < MAX_SEG, "plan: too many segments");
		sg = &pl->s[pl->n++];
		sg->gpa = cur;
		sg->m = m;
		sg->safe = 0;
		if (!m || (write && m->rdonly)) {
			sg->len = len - done;
			sg->off = 0;
			pl->lerr = m ? -EACCES : -EFAULT;
			pl->lat = cur;
			sg->out = eb(pl->lerr);
			return;
		}
		off = cur - m->gpa;
		n = MIN(PAGE - off % PAGE, len - done);
		sg->len = n;
		sg->off = off;
		sg->out = page_out(m, off / PAGE, write);
		if (sg->out & FAULTS)
			sg->out = (sg->out & ~FAULTS) |
				  (map_only ? OK : eb(-EFAULT));
		sg->safe = page_safe(m, off / PAGE);
		done += n;
	}
}

static int plan_safe(const struct plan *pl)
{
	int i;

	for (i = 0; i < pl->n; i++)
		if (!pl->s[i].safe)
			return 0;
	return 1;
}

/* The failing address gm_last_error() names, or -1 if it names none. */
static int msg_at(uint64_t *at)
{
	const char *msg = gm_last_error(), *p = strstr(msg, " at 0x");

	if (!p)
		return -1;
	*at = strtoull(p + 6, NULL, 16);
	return 0;
}

/* After a failure: a message naming the space and, if @named, @at. */
static void check_msg(int named, uint64_t at)
{
	const char *msg = gm_last_error();
	uint64_t got;

	CHECK(msg && *msg, "empty gm_last_error() after a failure");
	if (!named)
		return;
	CHECK(strstr(msg, "'" SPACE_NAME "'"), "message does not name the "
					       "space");
	CHECK(msg_at(&got) == 0 && got == at,
	      "message does not name the failing address 0x%" PRIx64, at);
}

/*
 * Whether a result that stopped at @stop with @err (0: did not stop) fits
 * the plan: every segment before @stop may succeed, and the one at @stop
 * may fail with @err (with any error if @err is 1).  Returns NULL if it
 * does, else why not.
 */
static const char *stop_why(const struct plan *pl, uint64_t stop, int err)
{
	static char why[160];
	int i;

	for (i = 0; i < pl->n; i++) {
		const struct seg *sg = &pl->s[i];

		if (err && sg->gpa == stop) {
			unsigned want = err == 1 ? ~OK : eb(err);

			if (!(sg->out & want)) {
				snprintf(why, sizeof(why), "error %d at 0x%"
					 PRIx64 " not among outcomes 0x%x",
					 err, stop, sg->out);
				return why;
			}
			return NULL;
		}
		if (!(sg->out & OK)) {
			snprintf(why, sizeof(why), "0x%" PRIx64 " (+0x%" PRIx64
				 ") cannot succeed (outcomes 0x%x), but the "
				 "access went on to 0x%" PRIx64 " (error %d)",
				 sg->gpa, sg->len, sg->out, stop, err);
			return why;
		}
	}
	if (err) {
		snprintf(why, sizeof(why), "stopped at 0x%" PRIx64
			 " (error %d), not at the start of a page or region",
			 stop, err);
		return why;
	}
	return NULL;
}

static void check_stop(const struct plan *pl, uint64_t stop, int err)
{
	const char *why = stop_why(pl, stop, err);

	CHECK(!why, "%s", why);
}

/* An exact accessor returned @ret: returns the bytes it moved. */
static uint64_t check_exact(const struct plan *pl, int ret)
{
	uint64_t at;

	if (pl->lerr) {
		CHECK(ret == pl->lerr, "returned %d, the layout says %d at "
		      "0x%" PRIx64, ret, pl->lerr, pl->lat);
		check_msg(1, pl->lat);
		return 0;
	}
	if (ret == 0) {
		check_stop(pl, pl->gpa + pl->len, 0);
		return pl->len;
	}
	CHECK(ret < 0, "returned %d", ret);
	CHECK(msg_at(&at) == 0, "the message names no failing address");
	check_msg(1, at);
	check_stop(pl, at, ret);
	return at - pl->gpa;
}

/* A partial accessor returned @ret: returns the bytes it moved. */
static uint64_t check_partial(const struct plan *pl, ssize_t ret)
{
	if (ret < 0) {
		check_stop(pl, pl->gpa, (int)ret);
		check_msg(1, pl->gpa);
		return 0;
	}
	CHECK((uint64_t)ret <= pl->len && ret > 0, "returned %zd for %" PRIu64
	      " bytes", ret, pl->len);
	if ((uint64_t)ret == pl->len) {
		check_stop(pl, pl->gpa + pl->len, 0);
	} else {
		check_stop(pl, pl->gpa + (uint64_t)ret, 1);
		check_msg(1, pl->gpa + (uint64_t)ret);
	}
	return (uint64_t)ret;
}

/* Apply @done bytes of @src (NULL: fill with @byte) to the model. */
static void apply_write(const struct plan *pl, uint64_t done,
			const uint8_t *src, int byte)
{
	int i;

	for (i = 0; i < pl->n && done; i++) {
		const struct seg *sg = &pl->s[i];
		uint64_t n = MIN(sg->len, done);

		if (src)
			memcpy(mdata(sg->m, sg->off), src + (sg->gpa - pl->gpa),
			       n);
		else
			memset(mdata(sg->m, sg->off), byte, n);
		done -= n;
	}
}

/* @got must equal @want (@n bytes of what is at @addr). */
static void same_bytes(const uint8_t *got, const uint8_t *want, uint64_t n,
		       const char *what, uint64_t addr)
{
	uint64_t k;

	if (!memcmp(got, want, n))
		return;
	for (k = 0; got[k] == want[k]; k++)
		;
	fail("%s 0x%02x at 0x%" PRIx64 ", the model has 0x%02x", what,
	     got[k], addr + k, want[k]);
}

/*
 * Read what backs page @p of @m at @off (@n bytes within the page) from
 * the store itself, not through the library.  Returns 0 if the store
 * cannot be read there (no frame, or a truncated page of the file).
 */
static int peek(const struct mreg *m, uint64_t off, uint8_t *buf, uint64_t n)
{
	uint64_t p = off / PAGE, o = off % PAGE;
	const uint8_t *mem = xensim_domain_mem(DOM);
	const struct grant *g;
	int64_t gfn;

	switch (m->kind) {
	case FZ_K_ANON:
	case FZ_K_MEMFD:
		/* Persistent, never revoked: the region's own mapping. */
		if (!m->r)
			return 0;
		memcpy(buf, m->r->hva + off, n);
		return 1;
	case FZ_K_UFILE:
		if (m->base + p >= M.uf_pages)
			return 0;
		memcpy(buf, M.ufmap + (m->base + p) * PAGE + o, n);
		return 1;
	case FZ_K_GRANT:
		g = grant_of(m, p);
		if (!g)
			return 0;
		memcpy(buf, mem + g->gfn * PAGE + o, n);
		return 1;
	default:
		gfn = foreign_gfn(m, p);
		if (gfn < 0)
			return 0;
		memcpy(buf, mem + (uint64_t)gfn * PAGE + o, n);
		return 1;
	}
}

/*
 * Bytes [from, to) of the range (offsets) may or may not have been
 * written with @src (indexed like the range; NULL: @byte): check that each
 * one that can be read holds what the model had or a value written to it,
 * and take it into the model.  Pages of the range may alias (two grants of
 * one frame), so a byte may have been written from several offsets.
 */
static void settle(const struct plan *pl, uint64_t from, uint64_t to,
		   const uint8_t *src, int byte)
{
	static uint8_t back[MAX_SEG][PAGE], orig[MAX_SEG][PAGE];
	uint8_t *model[MAX_SEG];
	uint64_t lo[MAX_SEG], n[MAX_SEG], k;
	int i, j, have[MAX_SEG];

	for (i = 0; i < pl->n; i++) {
		const struct seg *sg = &pl->s[i];
		uint64_t rel = sg->gpa - pl->gpa, b;

		lo[i] = rel > from ? rel : from;
		b = rel + sg->len < to ? rel + sg->len : to;
		n[i] = lo[i] < b ? b - lo[i] : 0;
		have[i] = sg->m && n[i] &&
			  peek(sg->m, sg->off + (lo[i] - rel), back[i], n[i]);
		if (!have[i])
			continue;
		model[i] = mdata(sg->m, sg->off + (lo[i] - rel));
		memcpy(orig[i], model[i], n[i]);
	}
	for (i = 0; i < pl->n; i++) {
		for (k = 0; have[i] && k < n[i]; k++) {
			uint8_t v = back[i][k];
			int ok = v == orig[i][k];

			for (j = 0; j < pl->n && !ok; j++) {
				uint64_t q;

				if (!have[j] || model[i] + k < model[j] ||
				    model[i] + k >= model[j] + n[j])
					continue;
				q = (uint64_t)(model[i] + k - model[j]);
				ok = v == (src ? src[lo[j] + q]
					       : (uint8_t)byte);
			}
			CHECK(ok, "0x%" PRIx64 " holds 0x%02x, neither the old "
			      "0x%02x nor a value written to it",
			      pl->gpa + lo[i] + k, v, orig[i][k]);
		}
	}
	for (i = 0; i < pl->n; i++)
		if (have[i])
			memcpy(model[i], back[i], n[i]);
}

/* Compare @done bytes of @buf with the model. */
static void check_read(const struct plan *pl, uint64_t done,
		       const uint8_t *buf)
{
	int i;

	for (i = 0; i < pl->n && done; i++) {
		const struct seg *sg = &pl->s[i];
		uint64_t n = MIN(sg->len, done);

		same_bytes(buf + (sg->gpa - pl->gpa), mdata(sg->m, sg->off), n,
			   "read", sg->gpa);
		done -= n;
	}
}

/* Whether [gpa, gpa + len) wraps; len > 0. */
static int wraps(uint64_t gpa, uint64_t len)
{
	return gpa + (len - 1) < gpa;
}

/* ------------------------------------------------------------------ */
/* Field groups                                                        */
/* ------------------------------------------------------------------ */

static uint64_t pick_addr(void)
{
	uint8_t mode = u8() % 8;
	struct mreg *m;
	uint64_t off;

	switch (mode) {
	case 4:
		off = u8();
		return off * PAGE + u16() % PAGE;
	case 5:
		return UINT64_MAX - u16() % 8192;
	case 6:
		off = u8();
		return GM_XEN_GRANT_ADDR(off) + u16() % PAGE;
	case 7:
		m = nth_region(u8());
		off = u8() % 24;
		return m ? m->gpa + reg_size(m) - off : PAGE - off;
	default:
		m = nth_region(u8());
		off = u16();
		if (!m)
			return off;
		return m->gpa + off % (reg_size(m) + 2 * PAGE) - PAGE;
	}
}

static uint64_t pick_len(uint64_t max)
{
	uint8_t mode = u8() % 8;
	uint16_t v = u16();

	switch (mode) {
	case 3:
	case 4:
		return 1 + v % max;
	case 5:
		return MIN((uint64_t)(1 + v % 8) * PAGE, max);
	case 6:
		return 0;
	case 7:
		return v % (max + 1);
	default:
		return 1 + v % 16;
	}
}

static const int orders[] = { GM_RELAXED, GM_ACQUIRE, GM_RELEASE,
			      GM_ACQ_REL, GM_SEQ_CST, 1,
			      -1,	  6 };

static int pick_order(void)
{
	return orders[u8() % ARRAY_SIZE(orders)];
}

/* ------------------------------------------------------------------ */
/* Byte accessors                                                      */
/* ------------------------------------------------------------------ */

/* Scratch buffers: a transfer, or a whole region. */
static uint8_t xbuf[MAX_PAGES * PAGE], ybuf[MAX_PAGES * PAGE];

/* Common checks of the range accessors before the layout: returns 1 and
 * checks the result if the arguments decide it. */
static int args_decide(int ret, uint64_t gpa, uint64_t len)
{
	if (len == 0) {
		CHECK(ret == 0, "length 0 returned %d", ret);
		return 1;
	}
	if (wraps(gpa, len)) {
		CHECK(ret == -EOVERFLOW, "wrapping range returned %d", ret);
		check_msg(1, gpa);
		return 1;
	}
	return 0;
}

static void op_read(int partial)
{
	uint64_t gpa = pick_addr(), len = pick_len(MAX_XFER), done;
	struct plan pl;
	ssize_t ret;

	memset(xbuf, 0xa5, len);
	ret = partial ? gm_read_partial(M.s, gpa, xbuf, len)
		      : gm_read(M.s, gpa, xbuf, len);
	trace("0x%" PRIx64 " +0x%" PRIx64 " -> %zd", gpa, len, ret);
	if (args_decide((int)ret, gpa, len))
		return;
	plan_range(&pl, gpa, len, 0, 0);
	done = partial ? check_partial(&pl, ret) : check_exact(&pl, (int)ret);
	if (partial || ret == 0)
		check_read(&pl, done, xbuf);
}

static void op_write(int partial)
{
	uint64_t gpa = pick_addr(), len = pick_len(MAX_XFER), done;
	struct plan pl;
	ssize_t ret;

	fill_random(xbuf, len, u32());
	ret = partial ? gm_write_partial(M.s, gpa, xbuf, len)
		      : gm_write(M.s, gpa, xbuf, len);
	trace("0x%" PRIx64 " +0x%" PRIx64 " -> %zd", gpa, len, ret);
	if (args_decide((int)ret, gpa, len))
		return;
	plan_range(&pl, gpa, len, 1, 0);
	done = partial ? check_partial(&pl, ret) : check_exact(&pl, (int)ret);
	if (partial || ret == 0)
		apply_write(&pl, done, xbuf, 0);
	else if (!pl.lerr)
		/* A failed exact write may have written what comes before
		 * the failing page. */
		settle(&pl, 0, done, xbuf, 0);
}

static void op_fill(void)
{
	uint64_t gpa = pick_addr(), len = pick_len(MAX_XFER), done;
	uint8_t b = u8();
	struct plan pl;
	int ret;

	if (b & 1) {
		b = 0;
		ret = gm_zero(M.s, gpa, len);
	} else {
		ret = gm_fill(M.s, gpa, b, len);
	}
	trace("0x%" PRIx64 " +0x%" PRIx64 " byte 0x%x -> %d", gpa, len, b, ret);
	if (args_decide(ret, gpa, len))
		return;
	plan_range(&pl, gpa, len, 1, 0);
	done = check_exact(&pl, ret);
	if (ret == 0)
		apply_write(&pl, done, NULL, b);
	else if (!pl.lerr)
		settle(&pl, 0, done, NULL, b);
}

/* ---- typed ---- */

/* Type i: size and byte order (0 host, 1 little, 2 big endian). */
static const struct {
	unsigned size, order;
} types[] = { { 1, 0 }, { 2, 0 }, { 4, 0 }, { 8, 0 }, { 2, 1 },
	      { 4, 1 }, { 8, 1 }, { 2, 2 }, { 4, 2 }, { 8, 2 } };

static uint64_t decode(const uint8_t *b, unsigned size, unsigned order)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)b[order == 2 ? size - 1 - i : i] << (8 * i);
	return v;
}

static void encode(uint8_t *b, uint64_t v, unsigned size, unsigned order)
{
	unsigned i;

	for (i = 0; i < size; i++)
		b[order == 2 ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

#define TYPED_SPACE(X)                                                        \
	X(0, u8, uint8_t) X(1, u16, uint16_t) X(2, u32, uint32_t)             \
	X(3, u64, uint64_t) X(4, le16, uint16_t) X(5, le32, uint32_t)         \
	X(6, le64, uint64_t) X(7, be16, uint16_t) X(8, be32, uint32_t)        \
	X(9, be64, uint64_t)

static int typed_read(int t, uint64_t gpa, uint64_t *val)
{
	switch (t) {
#define X(i, sfx, T)                                                          \
	case i: {                                                             \
		T v = (T)0x5a5a5a5a5a5a5a5aull;                               \
		int ret = gm_read_##sfx(M.s, gpa, &v);                        \
		*val = v;                                                     \
		return ret;                                                   \
	}
		TYPED_SPACE(X)
#undef X
	}
	return -1;
}

static int typed_write(int t, uint64_t gpa, uint64_t val)
{
	switch (t) {
#define X(i, sfx, T)                                                          \
	case i:                                                               \
		return gm_write_##sfx(M.s, gpa, (T)val);
		TYPED_SPACE(X)
#undef X
	}
	return -1;
}

static void op_typed(void)
{
	uint8_t sel = u8();
	int t = (sel & 0x7f) % (int)ARRAY_SIZE(types), write = sel >> 7;
	unsigned size = types[t].size;
	uint64_t gpa = pick_addr(), val = u64(), got = 0, done;
	uint8_t b[8];
	struct plan pl;
	int ret;

	if (size < 8)
		val &= (1ull << (8 * size)) - 1;
	ret = write ? typed_write(t, gpa, val) : typed_read(t, gpa, &got);
	trace("type %d %s 0x%" PRIx64 " val 0x%" PRIx64 " -> %d", t,
	      write ? "write" : "read", gpa, write ? val : got, ret);
	if (args_decide(ret, gpa, size))
		return;
	plan_range(&pl, gpa, size, write, 0);
	done = check_exact(&pl, ret);
	if (write) {
		encode(b, val, size, types[t].order);
		if (ret == 0)
			apply_write(&pl, done, b, 0);
		else if (!pl.lerr)
			settle(&pl, 0, done, b, 0);
	} else if (ret == 0) {
		encode(b, got, size, types[t].order);
		check_read(&pl, size, b);
	}
}

/* ------------------------------------------------------------------ */
/* Atomics                                                             */
/* ------------------------------------------------------------------ */

enum { A_LOAD, A_STORE, A_XCHG, A_CMPXCHG, A_ADD, A_OR, A_AND, A_COUNT };

static int order_ok(int op, int order)
{
	if (op == A_LOAD)
		return order == GM_RELAXED || order == GM_ACQUIRE ||
		       order == GM_SEQ_CST;
	if (op == A_STORE)
		return order == GM_RELAXED || order == GM_RELEASE ||
		       order == GM_SEQ_CST;
	return order >= GM_RELAXED && order <= GM_SEQ_CST && order != 1;
}

/*
 * Run atomic @op on the space.  *io: in, the expected value (cmpxchg); out,
 * the value loaded, the old value or what cmpxchg found.  @noold passes NULL
 * for the old value where the API allows it.
 */
static int space_atomic(int op, unsigned size, uint64_t gpa, uint64_t val,
			uint64_t *io, int order, int noold)
{
	switch (size) {
#define A(bits)                                                               \
	case bits / 8: {                                                      \
		uint##bits##_t v = (uint##bits##_t)val;                       \
		uint##bits##_t o = (uint##bits##_t)*io;                       \
		uint##bits##_t *po = noold ? NULL : &o;                       \
		int ret = -1;                                                 \
		switch (op) {                                                 \
		case A_LOAD:                                                  \
			ret = gm_atomic_load_u##bits(M.s, gpa, &o, order);    \
			break;                                                \
		case A_STORE:                                                 \
			ret = gm_atomic_store_u##bits(M.s, gpa, v, order);    \
			break;                                                \
		case A_XCHG:                                                  \
			ret = gm_atomic_xchg_u##bits(M.s, gpa, v, po, order); \
			break;                                                \
		case A_CMPXCHG:                                               \
			ret = gm_atomic_cmpxchg_u##bits(M.s, gpa, &o, v,      \
							order);               \
			break;                                                \
		case A_ADD:                                                   \
			ret = gm_atomic_fetch_add_u##bits(M.s, gpa, v, po,    \
							  order);             \
			break;                                                \
		case A_OR:                                                    \
			ret = gm_atomic_fetch_or_u##bits(M.s, gpa, v, po,     \
							 order);              \
			break;                                                \
		case A_AND:                                                   \
			ret = gm_atomic_fetch_and_u##bits(M.s, gpa, v, po,    \
							  order);             \
			break;                                                \
		}                                                             \
		*io = o;                                                      \
		return ret;                                                   \
	}
		A(8)
		A(16)
		A(32)
		A(64)
#undef A
	}
	return -1;
}

/*
 * Check a successful atomic @op against the model value at @p and update
 * the model.  @io is what the call gave back, @exp what cmpxchg expected.
 */
static void atomic_model(int op, unsigned size, uint8_t *p, uint64_t val,
			 uint64_t io, uint64_t exp, int ret, int noold)
{
	uint64_t mask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
	uint64_t cur = decode(p, size, 0), nv = cur;

	val &= mask;
	exp &= mask;
	switch (op) {
	case A_LOAD:
		CHECK(io == cur, "atomic load 0x%" PRIx64 ", model 0x%" PRIx64,
		      io, cur);
		break;
	case A_STORE:
		nv = val;
		break;
	case A_CMPXCHG:
		CHECK(ret == (cur == exp), "cmpxchg returned %d, model "
		      "0x%" PRIx64 " expected 0x%" PRIx64, ret, cur, exp);
		CHECK(io == cur, "cmpxchg found 0x%" PRIx64 ", model "
		      "0x%" PRIx64, io, cur);
		if (cur == exp)
			nv = val;
		break;
	default:
		if (!noold)
			CHECK(io == cur, "atomic old 0x%" PRIx64 ", model "
			      "0x%" PRIx64, io, cur);
		nv = op == A_XCHG  ? val
		     : op == A_ADD ? (cur + val) & mask
		     : op == A_OR  ? cur | val
				   : cur & val;
		break;
	}
	encode(p, nv, size, 0);
}

static void op_atomic(void)
{
	int op = u8() % A_COUNT, order;
	unsigned size = 1u << (u8() % 4);
	uint64_t gpa, val, io, exp, mask;
	uint8_t cmp;
	int noold, ret, write = op != A_LOAD;
	struct plan pl;
	struct mreg *m;

	order = pick_order();
	gpa = pick_addr();
	val = u64();
	cmp = u8();
	noold = cmp & 0x80;
	mask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
	/* cmpxchg: usually expect what the model holds, so it exchanges. */
	exp = u64() & mask;
	m = find_region(gpa);
	if (op == A_CMPXCHG && !(cmp & 1) && m && !(gpa & (size - 1)) &&
	    page_safe(m, (gpa - m->gpa) / PAGE) &&
	    page_out(m, (gpa - m->gpa) / PAGE, 0) & OK)
		exp = decode(mdata(m, gpa - m->gpa), size, 0);
	io = exp;
	ret = space_atomic(op, size, gpa, val, &io, order, noold);
	trace("op %d size %u order %d 0x%" PRIx64 " val 0x%" PRIx64
	      " io 0x%" PRIx64 " -> %d", op, size, order, gpa, val, io, ret);
	if (!order_ok(op, order) || (gpa & (size - 1))) {
		CHECK(ret == -EINVAL, "atomic with order %d at 0x%" PRIx64
		      " returned %d", order, gpa, ret);
		check_msg(1, gpa);
		return;
	}
	plan_range(&pl, gpa, size, write, 0);
	CHECK(pl.n == 1, "aligned atomic in %d segments", pl.n);
	if (pl.lerr) {
		CHECK(ret == pl.lerr, "atomic returned %d, layout %d", ret,
		      pl.lerr);
		check_msg(1, gpa);
		return;
	}
	if (ret < 0) {
		check_stop(&pl, gpa, ret);
		check_msg(1, gpa);
		return;
	}
	check_stop(&pl, gpa + size, 0);
	CHECK(op == A_CMPXCHG ? ret == 0 || ret == 1 : ret == 0,
	      "atomic returned %d", ret);
	atomic_model(op, size, mdata(pl.s[0].m, pl.s[0].off), val, io, exp,
		     ret, noold);
}

/* ------------------------------------------------------------------ */
/* Views                                                               */
/* ------------------------------------------------------------------ */

static void view_release(struct hview *hv)
{
	if (!hv->live)
		return;
	gm_view_put(&hv->v);
	CHECK(hv->v.region == NULL && hv->v.hva == NULL,
	      "gm_view_put() left the view set");
	hv->m->holds--;
	hv->live = 0;
}

static int prot_valid(int prot)
{
	return prot && !(prot & ~(GM_PROT_READ | GM_PROT_WRITE));
}

static const int prots[] = { GM_PROT_READ, GM_PROT_WRITE,
			     GM_PROT_READ | GM_PROT_WRITE, 0, 4,
			     GM_PROT_READ | 8 };

/* Compare the safe bytes of a view with the model. */
static void view_check_contents(const struct hview *hv)
{
	uint64_t off;

	for (off = 0; off < hv->v.len;) {
		uint64_t roff = hv->v.gpa - hv->m->gpa + off;
		uint64_t n = MIN(hv->v.len - off, PAGE - roff % PAGE);

		if (page_safe(hv->m, roff / PAGE))
			CHECK(!memcmp(hv->v.hva + off, mdata(hv->m, roff), n),
			      "view contents at 0x%" PRIx64 " differ from the "
			      "model", hv->v.gpa + off);
		off += n;
	}
}

static void op_view_get(void)
{
	struct hview *hv = &M.views[u8() % MAX_VIEWS];
	uint64_t gpa = pick_addr(), len = pick_len(MAX_VIEW), at;
	int prot = prots[u8() % ARRAY_SIZE(prots)], ret;
	struct mreg *m, *next;
	struct gm_view zero;
	struct plan pl;
	int i;

	view_release(hv);
	memset(&hv->v, 0x5a, sizeof(hv->v));
	ret = gm_view_get(M.s, gpa, len, prot, &hv->v);
	trace("slot %d 0x%" PRIx64 " +0x%" PRIx64 " prot %d -> %d",
	      (int)(hv - M.views), gpa, len, prot, ret);
	memset(&zero, 0, sizeof(zero));
	if (ret)
		CHECK(!memcmp(&hv->v, &zero, sizeof(zero)),
		      "failed gm_view_get() did not zero the view");
	if (!prot_valid(prot) || !len) {
		CHECK(ret == -EINVAL, "view with prot %d len %" PRIu64
		      " returned %d", prot, len, ret);
		check_msg(1, gpa);
		return;
	}
	if (args_decide(ret, gpa, len))
		return;
	m = find_region(gpa);
	if (!m) {
		CHECK(ret == -EFAULT, "view of a hole returned %d", ret);
		check_msg(1, gpa);
		return;
	}
	if (gpa - m->gpa + len > reg_size(m)) {
		at = m->gpa + reg_size(m);
		next = find_region(at);
		CHECK(ret == (next ? -EINVAL : -EFAULT), "view past its "
		      "region returned %d", ret);
		check_msg(1, at);
		return;
	}
	if ((prot & GM_PROT_WRITE) && m->rdonly) {
		CHECK(ret == -EACCES, "writable view of a read-only region "
		      "returned %d", ret);
		check_msg(1, gpa);
		return;
	}
	plan_range(&pl, gpa, len, prot & GM_PROT_WRITE, 1);
	if (ret && m->kind == FZ_K_GRANT && pl.n > 1 && msg_at(&at) == 0 &&
	    at == gpa) {
		/* A view over several grant pages is one all-or-nothing
		 * map: its failure names the start of the view. */
		unsigned any = 0;

		for (i = 0; i < pl.n; i++)
			any |= pl.s[i].out;
		CHECK(any & eb(ret), "grant view failed with %d, outcomes "
		      "0x%x", ret, any);
		return;
	}
	if (check_exact(&pl, ret) != len)
		return;
	CHECK(hv->v.gpa == gpa && hv->v.len == len && hv->v.prot == prot &&
	      hv->v.hva && hv->v.region, "view fields wrong");
	hv->live = 1;
	hv->m = m;
	m->holds++;
	view_check_contents(hv);
}

static void op_view_put(void)
{
	struct hview *hv = &M.views[u8() % MAX_VIEWS];

	if (hv->live) {
		view_release(hv);
	} else {
		/* Putting a zeroed view is a no-op. */
		gm_view_put(&hv->v);
	}
}

/* Whether [gpa, gpa + n) of a live view may be touched. */
static int view_safe(const struct hview *hv, uint64_t gpa, uint64_t n)
{
	uint64_t off = gpa - hv->m->gpa, end = off + n;

	for (off -= off % PAGE; off < end; off += PAGE)
		if (!page_safe(hv->m, off / PAGE))
			return 0;
	return 1;
}

static int view_atomic(const struct gm_view *v, int op, unsigned size,
		       uint64_t gpa, uint64_t val, uint64_t *io, int order,
		       int noold)
{
	switch (size) {
#define A(bits)                                                               \
	case bits / 8: {                                                      \
		uint##bits##_t o = (uint##bits##_t)*io;                       \
		int ret = -1;                                                 \
		switch (op) {                                                 \
		case A_LOAD:                                                  \
			ret = gm_view_atomic_load_u##bits(v, gpa, &o, order); \
			break;                                                \
		case A_STORE:                                                 \
			ret = gm_view_atomic_store_u##bits(                   \
				v, gpa, (uint##bits##_t)val, order);          \
			break;                                                \
		case A_ADD:                                                   \
			ret = gm_view_atomic_fetch_add_u##bits(               \
				v, gpa, (uint##bits##_t)val,                  \
				noold ? NULL : &o, order);                    \
			break;                                                \
		case A_CMPXCHG:                                               \
			ret = gm_view_atomic_cmpxchg_u##bits(                 \
				v, gpa, &o, (uint##bits##_t)val, order);      \
			break;                                                \
		}                                                             \
		*io = o;                                                      \
		return ret;                                                   \
	}
		A(8)
		A(16)
		A(32)
		A(64)
#undef A
	}
	return -1;
}

static int view_typed(const struct gm_view *v, int t, int write, uint64_t gpa,
		      uint64_t *val)
{
	switch (t) {
#define X(i, sfx, T)                                                          \
	case i: {                                                             \
		T x = (T)*val;                                                \
		int ret = write ? gm_view_write_##sfx(v, gpa, x)              \
				: gm_view_read_##sfx(v, gpa, &x);             \
		*val = x;                                                     \
		return ret;                                                   \
	}
		TYPED_SPACE(X)
#undef X
	}
	return -1;
}

static void op_view_op(void)
{
	struct hview *hv = &M.views[u8() % MAX_VIEWS];
	uint8_t kind = u8() % 8, sz = u8();
	uint16_t o = u16();
	int order = pick_order(), t = sz % (int)ARRAY_SIZE(types);
	uint64_t val = u64(), len = hv->live ? hv->v.len : 0, gpa, n, io;
	uint64_t exp, mask;
	int write, ret, out, aop = A_LOAD;
	uint8_t b[8];

	gpa = hv->v.gpa + (uint64_t)(o % (len + 16)) - 8;
	switch (kind) {
	case 0:
	case 1: /* bytes */
		n = sz % 65;
		write = kind;
		break;
	case 2:
	case 3: /* typed */
		n = types[t].size;
		write = kind == 3;
		break;
	default: /* atomics */
		n = 1u << (sz % 4);
		aop = kind == 4 ? A_LOAD : kind == 5 ? A_STORE
				: kind == 6 ? A_ADD : A_CMPXCHG;
		write = aop != A_LOAD;
		break;
	}
	out = gpa < hv->v.gpa || len < n || gpa - hv->v.gpa > len - n;
	if (kind >= 4 && !out && (!order_ok(aop, order) || (gpa & (n - 1))))
		out = 2;
	else if (!out && write && !(hv->v.prot & GM_PROT_WRITE))
		out = 3;
	if (!out && !hv->live) {
		/*
		 * Only an empty read at the zeroed view's address 0 gets
		 * here.  It succeeds, but computes NULL + 0 and passes NULL
		 * to memcpy, which UBSan reports: define
		 * FZ_EMPTY_ZEROED_VIEW to check it.
		 */
#ifdef FZ_EMPTY_ZEROED_VIEW
		CHECK(gm_view_read(&hv->v, gpa, xbuf, n) == 0,
		      "empty read of a zeroed view failed");
#endif
		return;
	}
	/* Never touch a page that can fault: views are not fault-safe. */
	if (!out && !view_safe(hv, gpa, n))
		return;
	mask = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
	exp = (sz & 0x80) ? u64() & mask : 0;
	if (kind == 7 && !out && !(sz & 0x80))
		exp = decode(mdata(hv->m, gpa - hv->m->gpa), (unsigned)n, 0);
	io = exp;
	if (kind == 0 || kind == 1) {
		if (write) {
			fill_random(xbuf, n, (uint32_t)val);
			ret = gm_view_write(&hv->v, gpa, xbuf, n);
		} else {
			ret = gm_view_read(&hv->v, gpa, xbuf, n);
		}
	} else if (kind == 2 || kind == 3) {
		io = val & mask;
		ret = view_typed(&hv->v, t, write, gpa, &io);
	} else {
		ret = view_atomic(&hv->v, aop, (unsigned)n, gpa, val, &io,
				  order, sz & 0x40);
	}
	trace("slot %d kind %d 0x%" PRIx64 " n %" PRIu64 " -> %d (io 0x%"
	      PRIx64 ")", (int)(hv - M.views), kind, gpa, n, ret, io);
	if (out) {
		CHECK(ret == (out == 1 ? -EFAULT : out == 2 ? -EINVAL
						   : -EACCES),
		      "view access returned %d, want %d", ret, out);
		return;
	}
	if (kind >= 4) {
		CHECK(ret >= 0 && (ret == 0 || aop == A_CMPXCHG),
		      "view atomic returned %d", ret);
		atomic_model(aop, (unsigned)n, mdata(hv->m, gpa - hv->m->gpa),
			     val, io, exp, ret, sz & 0x40);
		return;
	}
	CHECK(ret == 0, "view access returned %d", ret);
	if (kind == 2 || kind == 3) {
		encode(b, io, (unsigned)n, types[t].order);
		if (write) {
			model_io(hv->m, gpa - hv->m->gpa, b, n, 1);
		} else {
			model_io(hv->m, gpa - hv->m->gpa, ybuf, n, 0);
			CHECK(!memcmp(b, ybuf, n), "typed view read 0x%" PRIx64
			      " differs from the model", io);
		}
		return;
	}
	if (write) {
		model_io(hv->m, gpa - hv->m->gpa, xbuf, n, 1);
	} else {
		model_io(hv->m, gpa - hv->m->gpa, ybuf, n, 0);
		CHECK(!memcmp(xbuf, ybuf, n), "view read differs from the "
		      "model at 0x%" PRIx64, gpa);
	}
}

/* ------------------------------------------------------------------ */
/* Leases                                                              */
/* ------------------------------------------------------------------ */

/* Host address of guest offset @goff of a lease. */
static uint8_t *lease_ptr(const struct gm_lease *l, uint64_t goff,
			  uint64_t *avail)
{
	const struct iovec *iov;
	int n, i;

	iov = gm_lease_iov(l, &n);
	for (i = 0; i < n; i++) {
		if (goff < iov[i].iov_len) {
			*avail = iov[i].iov_len - goff;
			return (uint8_t *)iov[i].iov_base + goff;
		}
		goff -= iov[i].iov_len;
	}
	fail("lease: offset beyond its iovecs");
}

/* Compare the safe bytes of a lease with the model; then, if writable,
 * write new bytes into them (from @seed, if not 0). */
static void lease_touch(struct hlease *hl, uint32_t seed)
{
	int i;

	for (i = 0; i < hl->pl.n; i++) {
		const struct seg *sg = &hl->pl.s[i];
		uint64_t avail;
		uint8_t *p;

		/* Pages may have been revoked since the lease was taken. */
		if (!page_safe(sg->m, sg->off / PAGE))
			continue;
		p = lease_ptr(hl->l, sg->gpa - hl->pl.gpa, &avail);
		CHECK(avail >= sg->len, "a lease iovec splits a page");
		CHECK(!memcmp(p, mdata(sg->m, sg->off), sg->len),
		      "lease contents at 0x%" PRIx64 " differ from the model",
		      sg->gpa);
		if (seed && (hl->prot & GM_PROT_WRITE)) {
			fill_random(p, sg->len, seed + (uint32_t)i);
			memcpy(mdata(sg->m, sg->off), p, sg->len);
		}
	}
}

static void lease_hold(struct hlease *hl, int delta)
{
	int i, j;

	for (i = 0; i < hl->pl.n; i++) {
		for (j = 0; j < i; j++)
			if (hl->pl.s[j].m == hl->pl.s[i].m)
				break;
		if (j == i)
			hl->pl.s[i].m->holds += delta;
	}
}

static void lease_release(struct hlease *hl, uint32_t seed)
{
	if (!hl->l)
		return;
	lease_touch(hl, seed);
	gm_lease_put(hl->l);
	lease_hold(hl, -1);
	hl->l = NULL;
}

static void op_lease_get(void)
{
	struct hlease *hl = &M.leases[u8() % MAX_LEASES];
	uint64_t gpa = pick_addr(), len = pick_len(MAX_XFER), total = 0;
	int prot = prots[u8() % ARRAY_SIZE(prots)], ret, n, i;
	uint32_t seed = u32();
	const struct iovec *iov;
	struct gm_lease *l = (struct gm_lease *)&l;

	lease_release(hl, 0);
	ret = gm_lease_get(M.s, gpa, len, prot, &l);
	trace("slot %d 0x%" PRIx64 " +0x%" PRIx64 " prot %d -> %d",
	      (int)(hl - M.leases), gpa, len, prot, ret);
	if (ret)
		CHECK(l == NULL, "failed gm_lease_get() left *out set");
	if (!prot_valid(prot) || !len) {
		CHECK(ret == -EINVAL, "lease with prot %d len %" PRIu64
		      " returned %d", prot, len, ret);
		check_msg(1, gpa);
		return;
	}
	if (args_decide(ret, gpa, len))
		return;
	plan_range(&hl->pl, gpa, len, prot & GM_PROT_WRITE, 1);
	if (check_exact(&hl->pl, ret) != len)
		return;
	iov = gm_lease_iov(l, &n);
	CHECK(iov && n > 0, "lease without iovecs");
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	CHECK(total == len, "lease iovecs cover %" PRIu64 " of %" PRIu64
	      " bytes", total, len);
	hl->l = l;
	hl->prot = prot;
	lease_hold(hl, 1);
	lease_touch(hl, seed);
}

static void op_lease_put(void)
{
	struct hlease *hl = &M.leases[u8() % MAX_LEASES];

	lease_release(hl, u32());
}

/* ------------------------------------------------------------------ */
/* fd I/O                                                              */
/* ------------------------------------------------------------------ */

static uint64_t drain_pipe(uint8_t *buf, uint64_t max)
{
	uint64_t got = 0;
	uint8_t junk[4096];

	for (;;) {
		uint8_t *dst = got < max ? buf + got : junk;
		size_t room = got < max ? max - got : sizeof(junk);
		ssize_t n = read(M.pipe[0], dst, room);

		if (n <= 0)
			break;
		got += (uint64_t)n;
	}
	return got;
}

static void iof_resync(void)
{
	struct stat st;

	CHECK(fstat(M.iofd, &st) == 0 && (uint64_t)st.st_size <= IOF_MAX,
	      "fd I/O file size");
	M.iof_size = (uint64_t)st.st_size;
	CHECK(pread(M.iofd, M.iof, M.iof_size, 0) == (ssize_t)M.iof_size,
	      "cannot read the fd I/O file");
}

/* A failed fd transfer moved nothing through the pipe. */
static void fd_untouched(int to_guest, int file, uint64_t k)
{
	if (file)
		return;
	CHECK(drain_pipe(xbuf, 0) == (to_guest ? k : 0),
	      "a failed fd %s moved data through the pipe",
	      to_guest ? "read" : "write");
}

static void op_fd(void)
{
	uint8_t sel = u8();
	int to_guest = sel & 1, file = sel & 2;
	uint64_t gpa = pick_addr(), len = pick_len(MAX_XFER);
	uint16_t x = u16();
	uint32_t seed = u32();
	uint64_t k = 0, done, avail, got, at;
	int64_t off = file ? (int64_t)(x % 65536) : -1;
	struct plan pl;
	ssize_t ret;
	int safe;

	if (to_guest && !file) {
		/* What the pipe holds for the guest to read. */
		k = x % (len + 17);
		k = MIN(k, (uint64_t)MAX_XFER);
		fill_random(ybuf, k, seed);
		CHECK(write(M.pipe[1], ybuf, k) == (ssize_t)k,
		      "cannot fill the pipe");
	}
	ret = to_guest ? gm_read_from_fd(M.s, gpa, len, file ? M.iofd
							     : M.pipe[0], off)
		       : gm_write_to_fd(M.s, gpa, len, file ? M.iofd
							    : M.pipe[1], off);
	trace("%s %s 0x%" PRIx64 " +0x%" PRIx64 " k %" PRIu64 " off %" PRId64
	      " -> %zd", to_guest ? "into guest" : "from guest",
	      file ? "file" : "pipe", gpa, len, k, off, ret);
	if (args_decide((int)ret, gpa, len)) {
		if (to_guest && !file)
			CHECK(drain_pipe(xbuf, 0) == k, "pipe consumed");
		return;
	}
	plan_range(&pl, gpa, len, to_guest, 1);
	if (ret < 0) {
		if (pl.lerr) {
			check_exact(&pl, (int)ret);
			fd_untouched(to_guest, file, k);
			return;
		}
		CHECK(msg_at(&at) == 0, "the message names no failing address");
		check_msg(1, at);
		/*
		 * Either the lease failed where the message says, having
		 * moved nothing, or it worked and the transfer failed at
		 * once: -EAGAIN from an empty pipe, or -EFAULT from a page
		 * that faulted in the kernel; those name the range's start.
		 */
		if (at == gpa && !stop_why(&pl, gpa + len, 0) &&
		    ((ret == -EAGAIN && to_guest && !file && k == 0) ||
		     (ret == -EFAULT && !plan_safe(&pl)))) {
			/* A fault in the kernel can come after a partial
			 * copy it does not count. */
			if (to_guest)
				settle(&pl, 0, len, file ? M.iof + off : ybuf,
				       0);
			else if (file)
				iof_resync();
			drain_pipe(xbuf, 0);
			return;
		}
		check_stop(&pl, at, (int)ret);
		fd_untouched(to_guest, file, k);
		return;
	}
	CHECK(!(to_guest && !file && k == 0), "reading an empty pipe "
	      "returned %zd, not -EAGAIN", ret);
	/* The lease worked, so the layout did. */
	check_stop(&pl, gpa + len, 0);
	safe = plan_safe(&pl);
	done = (uint64_t)ret;
	if (to_guest) {
		if (file)
			avail = M.iof_size > (uint64_t)off
					? M.iof_size - (uint64_t)off : 0;
		else
			avail = k;
		if (safe)
			CHECK(done == MIN(len, avail), "fd read moved %" PRIu64
			      " bytes, want %" PRIu64, done, MIN(len, avail));
		else
			CHECK(done <= MIN(len, avail), "fd read moved %" PRIu64
			      " bytes", done);
		apply_write(&pl, done, file ? M.iof + off : ybuf, 0);
		/* The kernel counts only whole pipe buffers or pages it
		 * copied: bytes after what it reported may hold the data
		 * too, up to the page that faulted. */
		if (!safe)
			settle(&pl, done, len, file ? M.iof + off : ybuf, 0);
		if (!file)
			drain_pipe(xbuf, 0);
		return;
	}
	if (safe)
		CHECK(done == len, "fd write moved %" PRIu64 " of %" PRIu64,
		      done, len);
	else
		CHECK(done <= len, "fd write moved %" PRIu64, done);
	if (file) {
		CHECK(pread(M.iofd, xbuf, done, off) == (ssize_t)done,
		      "cannot read the fd I/O file back");
		check_read(&pl, done, xbuf);
		iof_resync();
	} else {
		got = drain_pipe(xbuf, len);
		CHECK(safe ? got == done : got >= done, "pipe holds %" PRIu64
		      " bytes, fd write said %" PRIu64, got, done);
		check_read(&pl, done, xbuf);
	}
}

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

static void op_add(void)
{
	int kind = u8() % FZ_K_COUNT, want, ret;
	uint64_t np = 1 + u8() % (is_xen(kind) ? MAX_PAGES : 16);
	uint8_t place = u8() % 8, pg = u8(), fl = u8(), b = u8();
	int rdonly = fl & 1;
	uint32_t domid = (fl & 0x1c) == 0x1c ? NODOM : DOM;
	struct gm_region *r = NULL;
	struct mreg *m;
	uint64_t gpa, size = np * PAGE, p;
	unsigned any;
	int i;

	if (M.nregs == MAX_REGS)
		return;
	m = &M.regs[M.nregs];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->rdonly = rdonly;
	m->npages = np;
	m->domid = domid;
	m->base = kind == FZ_K_GRANT   ? b % (FZ_NGRANTS + 8)
		  : kind == FZ_K_UFILE ? b % FZ_UF_PAGES
				       : b;
	if (place < 6)
		gpa = (uint64_t)pg * PAGE;
	else if (place == 6)
		gpa = 0 - size;
	else if (kind == FZ_K_GRANT)
		gpa = GM_XEN_GRANT_ADDR(GREF0 + m->base);
	else
		gpa = (1ull << 40) + (uint64_t)pg * PAGE;
	m->gpa = gpa;

	want = 0;
	switch (kind) {
	case FZ_K_ANON:
		ret = gm_unix_region_new_anon(gpa, size,
					      (rdonly ? GM_UNIX_RDONLY : 0) |
						      (fl & 2 ? GM_UNIX_SHARED
							      : 0),
					      &r);
		break;
	case FZ_K_MEMFD:
		ret = gm_unix_region_new_memfd(gpa, size,
					       rdonly ? GM_UNIX_RDONLY : 0,
					       &r);
		break;
	case FZ_K_UFILE:
		if (m->base + np > M.uf_pages)
			want = -ENXIO;
		ret = gm_unix_region_new_fd(gpa, size, M.ufd,
					    (int64_t)(m->base * PAGE),
					    rdonly ? GM_UNIX_RDONLY : 0, &r);
		break;
	case FZ_K_FOREIGN:
		ret = gm_xen_foreign_region_new(M.x, domid, gpa, size, m->base,
						rdonly ? GM_XEN_RDONLY : 0,
						&r);
		break;
	case FZ_K_EAGER:
		if (M.inj[INJ_FMAP2])
			want = -M.inj[INJ_FMAP2];
		/* Frames that fail are recorded, but a region where not one
		 * frame maps is refused with the first frame's error. */
		m->eager_mapped = 1;
		any = 0;
		for (p = 0; p < np; p++) {
			m->eager[p] = fresh_foreign(m, p, 0);
			m->eager_mapped &= m->eager[p] == OK;
			any |= m->eager[p] & OK;
		}
		if (!want && !any)
			want = -errnos[__builtin_ctz(m->eager[0]) - 1];
		ret = gm_xen_foreign_region_new(M.x, domid, gpa, size, m->base,
						GM_XEN_EAGER |
							(rdonly ? GM_XEN_RDONLY
								: 0),
						&r);
		break;
	default:
		ret = gm_xen_grant_region_new(M.x, domid, gpa,
					      GREF0 + (uint32_t)m->base,
					      (uint32_t)np,
					      rdonly ? GM_XEN_RDONLY : 0, &r);
		break;
	}
	trace("kind %d 0x%" PRIx64 " +%" PRIu64 " pages ro %d dom %u base %"
	      PRIu64 " -> %d", kind, gpa, np, rdonly, domid, m->base, ret);
	CHECK(ret == want, "creating a region of kind %d returned %d, want %d",
	      kind, ret, want);
	if (ret) {
		CHECK(r == NULL, "failed constructor left *out set");
		check_msg(0, 0);
		return;
	}
	want = 0;
	for (i = 0; i < M.nregs; i++) {
		const struct mreg *o = &M.regs[i];

		if (o->in_space && gpa <= o->gpa + (reg_size(o) - 1) &&
		    o->gpa <= gpa + (size - 1))
			want = -EEXIST;
	}
	ret = gm_space_add_region(M.s, r);
	trace("  added -> %d", ret);
	CHECK(ret == want, "adding 0x%" PRIx64 "+0x%" PRIx64 " returned %d, "
	      "want %d", gpa, size, ret, want);
	if (ret) {
		check_msg(0, 0);
		CHECK(strstr(gm_last_error(), "overlaps"), "EEXIST message "
		      "does not say what overlaps");
		gm_region_destroy(r);
		return;
	}
	if (kind == FZ_K_ANON || kind == FZ_K_MEMFD) {
		m->priv = calloc(1, size);
		CHECK(m->priv, "out of memory");
	}
	m->r = r;
	m->in_space = 1;
	M.nregs++;
}

static void op_remove(void)
{
	uint8_t sel = u8();
	uint64_t gpa;
	struct mreg *m;
	int ret, i;

	if (sel & 0x80) {
		gpa = pick_addr();
		ret = gm_space_remove_region(M.s, gpa);
		trace("at 0x%" PRIx64 " -> %d", gpa, ret);
		m = NULL;
		for (i = 0; i < M.nregs; i++)
			if (M.regs[i].in_space && M.regs[i].gpa == gpa)
				m = &M.regs[i];
		if (!m) {
			CHECK(ret == -ENOENT, "removing at 0x%" PRIx64
			      " returned %d", gpa, ret);
			check_msg(0, 0);
			return;
		}
	} else {
		m = nth_region(sel);
		if (!m)
			return;
		ret = gm_space_remove_region(M.s, m->gpa);
		trace("region 0x%" PRIx64 " -> %d", m->gpa, ret);
	}
	CHECK(ret == 0, "removing region 0x%" PRIx64 " returned %d", m->gpa,
	      ret);
	m->in_space = 0;
	m->r = NULL;
}

static void clear_cached(void)
{
	int i;

	for (i = 0; i < M.nregs; i++) {
		memset(M.regs[i].cached_r, 0, sizeof(M.regs[i].cached_r));
		memset(M.regs[i].cached_w, 0, sizeof(M.regs[i].cached_w));
	}
}

static int holding(void)
{
	int i;

	for (i = 0; i < MAX_VIEWS; i++)
		if (M.views[i].live)
			return 1;
	for (i = 0; i < MAX_LEASES; i++)
		if (M.leases[i].l)
			return 1;
	return 0;
}

static void op_invalidate(void)
{
	int ret = gm_xen_invalidate(M.x);

	trace("-> %d", ret);

	CHECK(ret >= 0, "gm_xen_invalidate() returned %d", ret);
	CHECK(ret == 0 || holding(), "%d entries pinned with no view or "
	      "lease", ret);
	clear_cached();
}

static const char *kind_backend(int kind)
{
	return kind <= FZ_K_UFILE    ? "unix"
	       : kind == FZ_K_GRANT ? "xen-grant"
				    : "xen-foreign";
}

static void op_regions(void)
{
	struct gm_region_info info[MAX_REGS + 2];
	struct mreg *list[MAX_REGS];
	int n = sorted_regions(list), i;
	size_t max = u8() % (size_t)(n + 3);
	ssize_t ret;

	memset(info, 0, sizeof(info));
	ret = gm_space_get_regions(M.s, max ? info : NULL, max);
	CHECK(ret == n, "gm_space_get_regions() returned %zd for %d regions",
	      ret, n);
	for (i = 0; i < n && (size_t)i < max; i++) {
		const struct mreg *m = list[i];

		CHECK(info[i].gpa == m->gpa && info[i].size == reg_size(m) &&
		      info[i].flags == (m->rdonly ? GM_REGION_RDONLY : 0u) &&
		      info[i].backend &&
		      !strcmp(info[i].backend, kind_backend(m->kind)),
		      "region %d described wrong", i);
		if (m->kind == FZ_K_EAGER) {
			/* Persistent exactly when every frame mapped. */
			CHECK(info[i].mapped == (unsigned)m->eager_mapped,
			      "eager region %d mapped flag wrong", i);
		} else {
			CHECK(info[i].mapped == !is_on_demand(m->kind),
			      "region %d mapped flag wrong", i);
		}
	}
	for (; (size_t)i < max; i++)
		CHECK(info[i].backend == NULL, "entry past the count written");
	/* The unix queries, on every region. */
	for (i = 0; i < n; i++) {
		const struct mreg *m = list[i];
		int unix_kind = m->kind <= FZ_K_UFILE, fd = -2, ret;
		int64_t off = -2;

		CHECK(gm_unix_region_is_hugetlb(m->r) == (unix_kind ? 0
								   : -EINVAL),
		      "gm_unix_region_is_hugetlb() on kind %d", m->kind);
		ret = gm_unix_region_fd(m->r, &fd, &off);
		if (!unix_kind)
			CHECK(ret == -EINVAL, "gm_unix_region_fd() on Xen: %d",
			      ret);
		else if (m->kind == FZ_K_ANON)
			CHECK(ret == -ENODEV && fd == -1 && off == 0,
			      "gm_unix_region_fd() on anonymous memory: %d",
			      ret);
		else
			CHECK(ret == 0 && fd >= 0 &&
			      off == (int64_t)(m->kind == FZ_K_UFILE
						       ? m->base * PAGE : 0),
			      "gm_unix_region_fd(): %d", ret);
	}
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

static void op_frame_error(void)
{
	uint64_t gfn = u8() % FZ_NFRAMES;
	int sel = u8() % FE_COUNT, err, times = -1, ret;

	if (sel == FE_CLEAR) {
		err = 0;
		times = 0;
	} else if (sel == FE_ENOENT_1 || sel == FE_ENOENT_2) {
		/* Paged out for fewer attempts than the retries: maps that
		 * name it succeed after retrying. */
		err = -ENOENT;
		times = sel == FE_ENOENT_1 ? 1 : ENOENT_RETRIES;
	} else {
		err = frame_errs[sel];
	}
	snapshot_cache();
	ret = xensim_frame_set_error(DOM, gfn, err, times);
	trace("gfn %" PRIu64 " err %d times %d", gfn, err, times);
	CHECK(ret == 0, "xensim_frame_set_error: %d", ret);
	M.frames[gfn].err = times == -1 ? err : 0;
}

static void op_revoke(void)
{
	uint8_t sel = u8() % 4, idx = u8();
	uint64_t gfn = idx % FZ_NFRAMES, gi = idx % FZ_NGRANTS;
	int ret;

	trace("sel %d gfn %" PRIu64 " grant %" PRIu64, sel, gfn, gi);
	snapshot_cache();
	switch (sel) {
	case 0:
		if (!M.fault_safe)
			return;
		ret = xensim_frame_revoke(DOM, gfn);
		CHECK(ret == 0, "xensim_frame_revoke: %d", ret);
		revoke_frame_model(gfn);
		break;
	case 1:
		ret = xensim_frame_restore(DOM, gfn);
		CHECK(ret == 0, "xensim_frame_restore: %d", ret);
		M.frames[gfn].revoked = 0;
		break;
	case 2:
		ret = xensim_grant_revoke(DOM, GREF0 + (uint32_t)gi);
		CHECK(ret == (M.grants[gi].revoked ? -ENOENT : 0),
		      "xensim_grant_revoke: %d", ret);
		M.grants[gi].revoked = 1;
		break;
	default:
		if (!M.fault_safe)
			return;
		ret = xensim_grant_revoke_mapped(DOM, GREF0 + (uint32_t)gi);
		CHECK(ret == (M.grants[gi].revoked ? -ENOENT : 0),
		      "xensim_grant_revoke_mapped: %d", ret);
		if (!ret)
			revoke_grant_mapped_model(gi);
		M.grants[gi].revoked = 1;
		break;
	}
}

static void update_injections(void)
{
	struct xensim_counters c;
	int i;

	xensim_get_counters(&c);
	for (i = 0; i < 3; i++)
		if (M.inj[i] && c.injected[inj_fn[i]] > M.inj_base[i])
			M.inj[i] = 0;
}

static void op_inject(void)
{
	int fn = u8() % 3;
	int err = inject_errs[u8() % ARRAY_SIZE(inject_errs)];
	struct xensim_counters c;

	xensim_get_counters(&c);
	CHECK(xensim_inject(inj_fn[fn], 0, 1, err) == 0, "xensim_inject");
	trace("fn %d err %d", fn, err);
	M.inj[fn] = err;
	M.inj_base[fn] = c.injected[inj_fn[fn]];
}

static void op_truncate(void)
{
	uint8_t sel = u8();
	uint64_t pages = sel & 0x80 ? FZ_UF_PAGES : sel % FZ_UF_PAGES;

	if (!M.fault_safe || pages == M.uf_pages)
		return;
	trace("to %" PRIu64 " pages", pages);
	CHECK(ftruncate(M.ufd, (off_t)(pages * PAGE)) == 0, "ftruncate: %s",
	      strerror(errno));
	/* Truncated pages come back as zeros if the file grows again. */
	if (pages < M.uf_pages)
		memset(M.uf + pages * PAGE, 0, (M.uf_pages - pages) * PAGE);
	M.uf_pages = pages;
}

/* ------------------------------------------------------------------ */
/* Bad arguments                                                       */
/* ------------------------------------------------------------------ */

static void op_badargs(void)
{
	uint8_t sel = u8() % 21;
	/* Not near 2^64: a wrapping range is reported before the argument. */
	uint64_t gpa = pick_addr() >> 1;
	struct gm_region_info info;
	struct gm_view v;
	struct mreg *m;
	uint32_t v32 = 0;
	int ret = 0, want = -EINVAL, n;

	switch (sel) {
	case 0:
		ret = gm_read(NULL, gpa, xbuf, 1);
		break;
	case 1:
		ret = gm_write(M.s, gpa, NULL, 1);
		break;
	case 2:
		ret = gm_read(M.s, gpa, xbuf, GM_MAX_LEN + 1);
		break;
	case 3:
		ret = (int)gm_read_partial(M.s, gpa, NULL, 8);
		break;
	case 4:
		ret = gm_read_u32(M.s, gpa, NULL);
		break;
	case 5:
		ret = gm_write_be64(NULL, gpa, 1);
		break;
	case 6:
		ret = gm_atomic_load_u32(M.s, gpa & ~3ull, NULL, GM_SEQ_CST);
		break;
	case 7:
		ret = gm_atomic_cmpxchg_u64(M.s, gpa & ~7ull, NULL, 1,
					    GM_SEQ_CST);
		break;
	case 8:
		ret = gm_atomic_fetch_add_u32(NULL, gpa & ~3ull, 1, &v32,
					      GM_RELAXED);
		break;
	case 9:
		ret = gm_view_get(M.s, gpa, 8, GM_PROT_READ, NULL);
		break;
	case 10:
		ret = gm_view_get(NULL, gpa, 8, GM_PROT_READ, &v);
		break;
	case 11:
		ret = gm_lease_get(M.s, gpa, 8, GM_PROT_READ, NULL);
		break;
	case 12:
		ret = (int)gm_read_from_fd(M.s, gpa, 8, -1, -1);
		break;
	case 13:
		ret = (int)gm_write_to_fd(M.s, gpa, 8, M.pipe[1], -2);
		break;
	case 14:
		ret = (int)gm_space_get_regions(M.s, NULL, 1);
		break;
	case 15:
		ret = (int)gm_space_get_regions(NULL, &info, 1);
		break;
	case 16:
		ret = gm_space_add_region(M.s, NULL);
		break;
	case 17:
		/* A region that is already in the space. */
		m = nth_region((uint8_t)gpa);
		if (!m)
			return;
		ret = gm_space_add_region(M.s, m->r);
		break;
	case 18:
		ret = gm_xen_invalidate(NULL);
		break;
	case 19:
		/* The calls documented as no-ops on NULL, and the name. */
		gm_view_put(NULL);
		gm_lease_put(NULL);
		gm_region_destroy(NULL);
		gm_space_free(NULL);
		gm_xen_close(NULL);
		n = 5;
		CHECK(gm_lease_iov(NULL, &n) == NULL && n == 0,
		      "gm_lease_iov(NULL)");
		CHECK(!strcmp(gm_space_name(M.s), SPACE_NAME),
		      "gm_space_name()");
		return;
	default:
		ret = gm_space_remove_region(NULL, gpa);
		break;
	}
	CHECK(ret == want, "bad argument %u returned %d", sel, ret);
	check_msg(0, 0);
}

/* ------------------------------------------------------------------ */
/* Unix discard, whole-domain spaces                                   */
/* ------------------------------------------------------------------ */

static void op_discard(void)
{
	struct mreg *m = nth_region(u8());
	uint8_t pg = u8(), np = u8();
	uint64_t off, len, p;
	int ret, want;

	if (!m)
		return;
	off = (pg & 0x7f) % (m->npages + 2) * PAGE + (pg & 0x80 ? 0x800 : 0);
	len = np % (m->npages + 2) * PAGE;
	ret = gm_unix_region_discard(m->r, off, len);
	trace("region 0x%" PRIx64 " off 0x%" PRIx64 " len 0x%" PRIx64
	      " -> %d", m->gpa, off, len, ret);
	if (m->kind > FZ_K_UFILE || !len || off % PAGE ||
	    off > reg_size(m) || len > reg_size(m) - off)
		want = -EINVAL;
	else
		want = m->rdonly ? -EACCES : 0;
	CHECK(ret == want, "discard returned %d, want %d", ret, want);
	if (ret) {
		check_msg(0, 0);
		return;
	}
	/* The range reads back as zeros, in the file too. */
	for (p = off / PAGE; p < (off + len) / PAGE; p++)
		memset(mdata(m, p * PAGE), 0, PAGE);
}

/*
 * gm_xen_space_open_domain(): a space of its own over the whole domain,
 * sharing the context's cache.  It is not fault-safe, so it only touches
 * frames that were never revoked.
 */
static void op_domain(void)
{
	uint8_t fl = u8(), gfn = u8() % FZ_NFRAMES;
	uint16_t off = u16() % PAGE, len = u16();
	uint32_t seed = u32();
	uint32_t domid = fl & 2 ? NODOM : DOM;
	uint64_t gpa = (uint64_t)gfn * PAGE + off, p;
	struct gm_space *s = (struct gm_space *)&s;
	struct gm_region_info info[FZ_NFRAMES + 1];
	uint64_t first[FZ_NFRAMES], count[FZ_NFRAMES];
	struct mreg dm;
	unsigned out, nruns = 0, k, any, all[FZ_NFRAMES];
	int ret, want = 0, write = fl & 4;

	/* The model: the simulator classifies a revoked frame as not
	 * populated (XTAB), so the space has one region per run of the
	 * others; with none at all, one region over the whole domain. */
	for (p = 0; p < FZ_NFRAMES; p++) {
		if (M.frames[p].revoked)
			continue;
		if (nruns && first[nruns - 1] + count[nruns - 1] == p) {
			count[nruns - 1]++;
			continue;
		}
		first[nruns] = p;
		count[nruns++] = 1;
	}
	if (!nruns) {
		first[0] = 0;
		count[0] = FZ_NFRAMES;
		nruns = 1;
	}
	/* The model of the whole domain as one region, to reuse
	 * fresh_foreign(); per run, whether a frame maps, and all do. */
	memset(&dm, 0, sizeof(dm));
	dm.kind = fl & 1 ? FZ_K_EAGER : FZ_K_FOREIGN;
	dm.domid = DOM;
	dm.npages = FZ_NFRAMES;
	for (k = 0; k < nruns; k++) {
		any = 0;
		all[k] = OK;
		for (p = first[k]; p < first[k] + count[k]; p++) {
			any |= fresh_foreign(&dm, p, 0) & OK;
			all[k] &= fresh_foreign(&dm, p, 0);
		}
		/* An eager run of which no frame maps fails the open with
		 * its first frame's error. */
		if ((fl & 1) && !any && !want && domid == DOM &&
		    !M.inj[INJ_FMAP2])
			want = -errnos[__builtin_ctz(fresh_foreign(
					       &dm, first[k], 0)) - 1];
	}
	if (domid != DOM)
		want = -ESRCH;
	else if ((fl & 1) && M.inj[INJ_FMAP2])
		want = -M.inj[INJ_FMAP2];
	ret = gm_xen_space_open_domain(M.x, domid, fl & 1 ? GM_XEN_EAGER : 0,
				       &s);
	trace("%s dom %u -> %d", fl & 1 ? "eager" : "on demand", domid, ret);
	CHECK(ret == want, "gm_xen_space_open_domain returned %d, want %d",
	      ret, want);
	if (ret) {
		CHECK(s == NULL, "failed open left *out set");
		check_msg(0, 0);
		return;
	}
	update_injections();
	CHECK(!strcmp(gm_space_name(s), "domain-7"), "domain space name");
	CHECK(gm_space_get_regions(s, info, FZ_NFRAMES + 1) == (int)nruns,
	      "domain space has %d regions, want %u",
	      (int)gm_space_get_regions(s, info, FZ_NFRAMES + 1), nruns);
	for (k = 0; k < nruns; k++)
		CHECK(info[k].gpa == first[k] * PAGE &&
		      info[k].size == count[k] * PAGE &&
		      !strcmp(info[k].backend, "xen-foreign") &&
		      info[k].mapped == ((fl & 1) && all[k] == OK),
		      "domain space region %u described wrong", k);

	len = (uint16_t)(1 + len % (PAGE - off));
	if (M.frames[gfn].ever_revoked) {
		gm_space_free(s);
		return;
	}
	out = fresh_foreign(&dm, gfn, !(fl & 1));
	if (write) {
		fill_random(xbuf, len, seed);
		ret = gm_write(s, gpa, xbuf, len);
	} else {
		ret = gm_read(s, gpa, xbuf, len);
	}
	trace("  %s 0x%" PRIx64 " +0x%x -> %d", write ? "write" : "read",
	      gpa, len, ret);
	if (ret) {
		CHECK(out & eb(ret), "domain space access returned %d, "
		      "outcomes 0x%x", ret, out);
		/* The space is named after the domain, not "fuzz". */
		CHECK(msg_at(&p) == 0 && p == gpa, "message names the wrong "
		      "address");
	} else {
		CHECK(out & OK, "domain space access worked, outcomes 0x%x",
		      out);
		if (write)
			memcpy(M.dom + gpa, xbuf, len);
		else
			same_bytes(xbuf, M.dom + gpa, len, "domain space read",
				   gpa);
	}
	gm_space_free(s);
}

/* ------------------------------------------------------------------ */
/* Whole-state checks                                                  */
/* ------------------------------------------------------------------ */

static void op_verify(void)
{
	const uint8_t *mem = xensim_domain_mem(DOM);
	int k;

	CHECK(mem, "the domain is gone");
	/* Addresses here are offsets in the domain or the file. */
	same_bytes(mem, M.dom, sizeof(M.dom), "domain memory has", 0);
	same_bytes(M.ufmap, M.uf, M.uf_pages * PAGE, "the file has", 0);
	for (k = 0; k < M.nregs; k++) {
		struct mreg *m = &M.regs[k];
		int64_t off;
		int fd;

		if (m->kind != FZ_K_MEMFD || !m->in_space)
			continue;
		CHECK(gm_unix_region_fd(m->r, &fd, &off) == 0,
		      "gm_unix_region_fd");
		CHECK(pread(fd, xbuf, reg_size(m), off) ==
			      (ssize_t)reg_size(m), "reading a memfd region");
		same_bytes(xbuf, m->priv, reg_size(m), "memfd region has",
			   m->gpa);
	}
}

/* Invariants after every operation: the cache stays within its budget,
 * and the simulator agrees about what is mapped. */
static void check_invariants(void)
{
	struct xensim_counters c;
	struct gm_xen_stats st;
	uint64_t eager = 0;
	int i;

	CHECK(gm_xen_get_stats(M.x, &st) == 0, "gm_xen_get_stats");
	CHECK(st.mapped_bytes <= M.budget, "%" PRIu64 " bytes mapped over a "
	      "budget of %zu", st.mapped_bytes, M.budget);
	for (i = 0; i < M.nregs; i++)
		if (M.regs[i].kind == FZ_K_EAGER &&
		    (M.regs[i].in_space || M.regs[i].holds))
			eager += M.regs[i].npages;
	xensim_get_counters(&c);
	CHECK(c.all.live_pages == eager + st.mapped_bytes / PAGE,
	      "the simulator has %" PRIu64 " pages mapped, the cache says %"
	      PRIu64 " and eager regions hold %" PRIu64, c.all.live_pages,
	      st.mapped_bytes / PAGE, eager);
}

/* ------------------------------------------------------------------ */
/* One input                                                           */
/* ------------------------------------------------------------------ */

/*
 * Open fds, not counting the simulator's one process-wide "hole" memfd,
 * which it opens the first time a page fails and keeps (an fd that only
 * the first input to fail a page would otherwise be blamed for).
 */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	char path[300], target[128];
	struct dirent *e;
	ssize_t n;
	int count = 0;

	CHECK(d, "cannot list /proc/self/fd");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strstr(target, "xensim-hole"))
				continue;
		}
		count++;
	}
	closedir(d);
	return count;
}

/* Initial contents of the domain, the file and the fd I/O file, when the
 * header asks for a pattern; computed once. */
static uint8_t pat_dom[FZ_NFRAMES * PAGE], pat_uf[FZ_UF_PAGES * PAGE];
static uint8_t pat_iof[65536];

static void make_patterns(void)
{
	uint64_t i;

	for (i = 0; i < sizeof(pat_dom); i++)
		pat_dom[i] = (uint8_t)((i * 0x9e3779b97f4a7c15ull) >> 56);
	for (i = 0; i < sizeof(pat_uf); i++)
		pat_uf[i] = (uint8_t)(((i + 7) * 0x9e3779b97f4a7c15ull) >> 56);
	for (i = 0; i < sizeof(pat_iof); i++)
		pat_iof[i] =
			(uint8_t)(((i + 13) * 0xc2b2ae3d27d4eb4full) >> 56);
}

static void setup(void)
{
	uint8_t h = u8();
	uint32_t ro = u32();
	uint8_t mul = u8(), add = u8(), other = u8();
	struct gm_xen_options o;
	size_t min;
	uint8_t *mem;
	uint64_t i;
	uint32_t ref;
	int ret;

	memset(&M, 0, offsetof(__typeof__(M), dom));
	memset(M.frames, 0, sizeof(M.frames));
	memset(M.grants, 0, sizeof(M.grants));
	M.nregs = 0;
	memset(M.views, 0, sizeof(M.views));
	memset(M.leases, 0, sizeof(M.leases));
	memset(M.inj, 0, sizeof(M.inj));
	M.fault_safe = h & FZ_H_FAULT_SAFE;
	M.bucket = (size_t)4096 << (2 * ((h >> FZ_H_BUCKET_SHIFT) & 3));
	if (M.bucket > 128 * 1024)
		M.bucket = 128 * 1024;
	/* Enough for every view and lease the harness can hold at once, so
	 * a pinned budget (-ENOMEM) cannot happen; see op_view_get. */
	min = 24 * M.bucket + 128 * 1024;
	switch ((h >> FZ_H_BUDGET_SHIFT) & 3) {
	case 0:
		M.budget = min;
		break;
	case 1:
		M.budget = 1 << 20;
		break;
	case 2:
		M.budget = 4 << 20;
		break;
	default:
		M.budget = 64 << 20;
		break;
	}
	if (M.budget < min)
		M.budget = min;

	CHECK(xensim_domain_create(DOM, FZ_NFRAMES, XENSIM_DOM_HVM) == 0,
	      "xensim_domain_create");
	mem = xensim_domain_mem(DOM);
	if (h & FZ_H_PATTERN)
		memcpy(M.dom, pat_dom, sizeof(M.dom));
	else
		memset(M.dom, 0, sizeof(M.dom));
	memcpy(mem, M.dom, sizeof(M.dom));
	for (i = 0; i < FZ_NGRANTS; i++) {
		struct grant *g = &M.grants[i];

		g->gfn = (i * mul + add) % FZ_NFRAMES;
		g->writable = !(ro >> i & 1);
		g->other = i == other;
		ret = xensim_grant_share_to(DOM, g->other ? OTHER_DOM : 0,
					    g->gfn, g->writable, &ref);
		CHECK(ret == 0 && ref == GREF0 + i, "xensim_grant_share_to");
	}

	memset(&o, 0, sizeof(o));
	o.bucket_size = M.bucket;
	o.cache_bytes = M.budget;
	o.enoent_retries = ENOENT_RETRIES;
	CHECK(gm_xen_open(&M.x, &o) == 0, "gm_xen_open");
	ret = gm_space_new(&M.s, SPACE_NAME,
			   M.fault_safe ? GM_SPACE_FAULT_SAFE : 0);
	CHECK(ret == 0, "gm_space_new: %d", ret);

	M.ufd = memfd_create("fuzz-file", MFD_CLOEXEC);
	CHECK(M.ufd >= 0 && ftruncate(M.ufd, FZ_UF_PAGES * PAGE) == 0,
	      "memfd");
	M.uf_pages = FZ_UF_PAGES;
	if (h & FZ_H_PATTERN)
		memcpy(M.uf, pat_uf, sizeof(M.uf));
	else
		memset(M.uf, 0, sizeof(M.uf));
	CHECK(pwrite(M.ufd, M.uf, sizeof(M.uf), 0) == sizeof(M.uf), "pwrite");
	M.ufmap = mmap(NULL, sizeof(M.uf), PROT_READ, MAP_SHARED, M.ufd, 0);
	CHECK(M.ufmap != MAP_FAILED, "mmap");

	CHECK(pipe2(M.pipe, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2");
	M.iofd = memfd_create("fuzz-io", MFD_CLOEXEC);
	CHECK(M.iofd >= 0, "memfd");
	M.iof_size = sizeof(pat_iof);
	memcpy(M.iof, pat_iof, sizeof(pat_iof));
	CHECK(pwrite(M.iofd, M.iof, M.iof_size, 0) == (ssize_t)M.iof_size,
	      "pwrite");
}

static void teardown(void)
{
	struct xensim_counters c;
	int i, leaks;

	op_name = "teardown";
	for (i = 0; i < MAX_VIEWS; i++)
		view_release(&M.views[i]);
	for (i = 0; i < MAX_LEASES; i++)
		lease_release(&M.leases[i], 0);
	op_verify();
	gm_space_free(M.s);
	gm_xen_close(M.x);
	xensim_get_counters(&c);
	CHECK(c.all.live_mappings == 0, "%" PRIu64 " simulated mappings "
	      "(%" PRIu64 " pages) left after freeing everything",
	      c.all.live_mappings, c.all.live_pages);
	CHECK(c.open_handles == 0, "%" PRIu64 " Xen handles left open",
	      c.open_handles);
	leaks = xensim_reset(NULL);
	CHECK(leaks == 0, "xensim_reset() found %d leaks", leaks);
	for (i = 0; i < M.nregs; i++)
		free(M.regs[i].priv);
	munmap(M.ufmap, sizeof(M.uf));
	close(M.ufd);
	close(M.iofd);
	close(M.pipe[0]);
	close(M.pipe[1]);
}

static const char *const op_names[FZ_OP_COUNT] = {
	[FZ_OP_READ] = "read",
	[FZ_OP_WRITE] = "write",
	[FZ_OP_READ_PARTIAL] = "read_partial",
	[FZ_OP_WRITE_PARTIAL] = "write_partial",
	[FZ_OP_FILL] = "fill",
	[FZ_OP_TYPED] = "typed",
	[FZ_OP_ATOMIC] = "atomic",
	[FZ_OP_VIEW_GET] = "view_get",
	[FZ_OP_VIEW_OP] = "view_op",
	[FZ_OP_VIEW_PUT] = "view_put",
	[FZ_OP_LEASE_GET] = "lease_get",
	[FZ_OP_LEASE_PUT] = "lease_put",
	[FZ_OP_FD] = "fd",
	[FZ_OP_ADD] = "add",
	[FZ_OP_REMOVE] = "remove",
	[FZ_OP_INVALIDATE] = "invalidate",
	[FZ_OP_REGIONS] = "regions",
	[FZ_OP_FRAME_ERROR] = "frame_error",
	[FZ_OP_REVOKE] = "revoke",
	[FZ_OP_INJECT] = "inject",
	[FZ_OP_TRUNCATE] = "truncate",
	[FZ_OP_BADARGS] = "badargs",
	[FZ_OP_VERIFY] = "verify",
	[FZ_OP_DISCARD] = "discard",
	[FZ_OP_DOMAIN] = "domain",
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tracing = getenv("FZ_TRACE") != NULL;
	make_patterns();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Counted per input: libFuzzer and the sanitizers open fds of
	 * their own between inputs. */
	int base_fds = count_fds();

	in_p = data;
	in_n = size;
	op_no = -1;
	op_name = "setup";
	setup();
	for (op_no = 0; in_n && op_no < MAX_OPS; op_no++) {
		int op = u8() % FZ_OP_COUNT;

		op_name = op_names[op];
		switch (op) {
		case FZ_OP_READ:
			op_read(0);
			break;
		case FZ_OP_WRITE:
			op_write(0);
			break;
		case FZ_OP_READ_PARTIAL:
			op_read(1);
			break;
		case FZ_OP_WRITE_PARTIAL:
			op_write(1);
			break;
		case FZ_OP_FILL:
			op_fill();
			break;
		case FZ_OP_TYPED:
			op_typed();
			break;
		case FZ_OP_ATOMIC:
			op_atomic();
			break;
		case FZ_OP_VIEW_GET:
			op_view_get();
			break;
		case FZ_OP_VIEW_OP:
			op_view_op();
			break;
		case FZ_OP_VIEW_PUT:
			op_view_put();
			break;
		case FZ_OP_LEASE_GET:
			op_lease_get();
			break;
		case FZ_OP_LEASE_PUT:
			op_lease_put();
			break;
		case FZ_OP_FD:
			op_fd();
			break;
		case FZ_OP_ADD:
			op_add();
			break;
		case FZ_OP_REMOVE:
			op_remove();
			break;
		case FZ_OP_INVALIDATE:
			op_invalidate();
			break;
		case FZ_OP_REGIONS:
			op_regions();
			break;
		case FZ_OP_FRAME_ERROR:
			op_frame_error();
			break;
		case FZ_OP_REVOKE:
			op_revoke();
			break;
		case FZ_OP_INJECT:
			op_inject();
			break;
		case FZ_OP_TRUNCATE:
			op_truncate();
			break;
		case FZ_OP_BADARGS:
			op_badargs();
			break;
		case FZ_OP_DISCARD:
			op_discard();
			break;
		case FZ_OP_DOMAIN:
			op_domain();
			break;
		default:
			op_verify();
			break;
		}
		update_injections();
		check_invariants();
	}
	teardown();
	CHECK(count_fds() == base_fds, "fd leak: %d open, %d before",
	      count_fds(), base_fds);
	return 0;
}
