/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): targets (where guest memory comes from) and the layout the
 * commands see.
 *
 * Targets are recorded while the command line is parsed and opened only
 * once the commands are known, so that they are opened read-write exactly
 * when some command writes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <guestmem.h>
#include <guestmem/unix.h>
#include <guestmem/xen.h>

#include "cli.h"
#include "elfcore.h"

struct target {
	int kind; /* the option: 'I', 'A', 'C', 'D', 'G' */
	const char *arg;
};

static struct target *targets;
static size_t ntargets;
static uint64_t xen_cache;

int cli_target_add(struct cli *c, int opt, const char *arg)
{
	struct target *nt;

	if (opt == 'X') {
		if (cli_arg_u64(NULL, "--xen-cache size", arg, &xen_cache))
			return CLI_USAGE;
		return CLI_OK;
	}
	nt = realloc(targets, (ntargets + 1) * sizeof(*nt));
	if (!nt)
		return cli_nomem();
	targets = nt;
	targets[ntargets++] = (struct target){ .kind = opt, .arg = arg };
	return CLI_OK;
}

/* Whether targets open read-write: some command writes, and no
 * --read-only. */
static int open_rw(const struct cli *c)
{
	return c->writing && !c->read_only;
}

/* Remember what a region is, for info. */
static int source_add(struct cli *c, uint64_t gpa, uint64_t size,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int source_add(struct cli *c, uint64_t gpa, uint64_t size,
		      const char *fmt, ...)
{
	struct cli_source *ns;
	va_list ap;

	ns = realloc(c->src, (c->nsrc + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	c->src = ns;
	ns = &c->src[c->nsrc++];
	ns->gpa = gpa;
	ns->size = size;
	va_start(ap, fmt);
	vsnprintf(ns->desc, sizeof(ns->desc), fmt, ap);
	va_end(ap);
	return 0;
}

/* Add @r to the space, or report why not after what @fmt says it is, and
 * destroy it. */
static int add_region(struct cli *c, struct gm_region *r, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));
static int add_region(struct cli *c, struct gm_region *r, const char *fmt,
		      ...)
{
	int ret = gm_space_add_region(c->space, r);
	char *what;
	va_list ap;

	if (!ret)
		return CLI_OK;
	gm_region_destroy(r);
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	cli_err("%s: %s", what ? what : "out of memory", gm_last_error());
	free(what);
	return ret == -EEXIST ? CLI_USAGE : cli_exit_access(ret);
}

/* Split "THING@GPA" at its last '@' when what follows is a number. */
static int split_at(const char *opt, const char *arg, char **thing,
		    uint64_t *gpa)
{
	const char *at = strrchr(arg, '@');

	*gpa = 0;
	if (at && at[1] && !cli_parse_u64(at + 1, gpa)) {
		*thing = strndup(arg, (size_t)(at - arg));
	} else {
		if (at && at[1] && strcmp(opt, "--image"))
			return cli_usage(NULL, "%s %s: bad guest address '%s'",
					 opt, arg, at + 1);
		*thing = strdup(arg);
	}
	if (!*thing)
		return cli_nomem();
	return CLI_OK;
}

static int open_image(struct cli *c, const char *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	int rw = open_rw(c);
	struct gm_region *r;
	struct stat st;
	uint64_t gpa;
	char *path;
	int fd, ret;

	ret = split_at("--image", arg, &path, &gpa);
	if (ret)
		return ret;
	fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		cli_err("cannot open image '%s'%s: %s", path,
			rw ? " for writing" : "", strerror(errno));
		ret = errno == EACCES || errno == EROFS ? CLI_DENIED : CLI_IO;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		cli_err("cannot stat image '%s': %s", path, strerror(errno));
		ret = CLI_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = cli_usage(NULL, "image '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % page) {
		ret = cli_usage(NULL,
				"image '%s' is %jd bytes: an image must be a "
				"non-empty multiple of the page size (%ld)",
				path, (intmax_t)st.st_size, page);
		goto out;
	}
	ret = gm_unix_region_new_fd(gpa, (uint64_t)st.st_size, fd, 0,
				    rw ? 0 : GM_UNIX_RDONLY, &r);
	if (ret) {
		cli_err("image '%s' at 0x%" PRIx64 ": %s", path, gpa,
			ret == -EINVAL ? "the guest address must be "
					 "page-aligned"
				       : strerror(-ret));
		ret = ret == -EINVAL || ret == -EOVERFLOW ? CLI_USAGE
							  : CLI_IO;
		goto out;
	}
	ret = add_region(c, r, "image '%.40s'", path);
	if (!ret && source_add(c, gpa, (uint64_t)st.st_size, "image '%s'",
			       path))
		ret = CLI_NOMEM;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}

static int open_anon(struct cli *c, const char *arg)
{
	struct gm_region *r;
	uint64_t gpa, size;
	char *sz;
	int ret;

	ret = split_at("--anon", arg, &sz, &gpa);
	if (ret)
		return ret;
	ret = cli_arg_u64(NULL, "--anon size", sz, &size);
	free(sz);
	if (ret)
		return ret;
	ret = gm_unix_region_new_anon(gpa, size, 0, &r);
	if (ret == -EINVAL || ret == -EOVERFLOW)
		return cli_usage(NULL,
				 "--anon %s: size and address must be "
				 "page-aligned, size non-zero, and the region "
				 "must end before 2^64",
				 arg);
	if (ret) {
		cli_err("--anon %s: %s", arg, strerror(-ret));
		return CLI_NOMEM;
	}
	ret = add_region(c, r, "--anon");
	if (!ret && source_add(c, gpa, size, "anonymous memory"))
		ret = CLI_NOMEM;
	return ret;
}

static int parse_u32(const char *opt, const char *s, uint32_t *out)
{
	uint64_t v;

	if (cli_parse_u64(s, &v) || v > UINT32_MAX)
		return cli_usage(NULL, "%s: '%s' is not a 32-bit number", opt,
				 s);
	*out = (uint32_t)v;
	return CLI_OK;
}

static int xen_context(struct cli *c)
{
	struct gm_xen_options o = { .cache_bytes = (size_t)xen_cache };
	int ret;

	if (c->xen)
		return CLI_OK;
	ret = gm_xen_open(&c->xen, &o);
	if (ret == -EINVAL)
		return cli_usage(NULL, "--xen-cache %" PRIu64 ": %s", xen_cache,
				 gm_last_error());
	if (ret) {
		cli_err("cannot open Xen: %s", gm_last_error());
		return ret == -EACCES || ret == -EPERM ? CLI_DENIED : CLI_XEN;
	}
	return CLI_OK;
}

static unsigned int xen_flags(const struct cli *c)
{
	/* Read-only commands map read-only: a stray write cannot happen. */
	return open_rw(c) ? 0 : GM_XEN_RDONLY;
}

static int open_domain(struct cli *c, const char *arg)
{
	static struct gm_region_info ri[GM_XEN_DOMAIN_MAX_REGIONS];
	uint32_t domid = 0;
	ssize_t n;
	size_t i;
	int ret;

	ret = parse_u32("--xen-domid", arg, &domid);
	if (!ret)
		ret = xen_context(c);
	if (ret)
		return ret;
	ret = gm_xen_space_open_domain(c->xen, domid,
				       xen_flags(c) | GM_XEN_FAULT_SAFE,
				       &c->space);
	if (ret) {
		cli_err("cannot open domain %" PRIu32 ": %s", domid,
			gm_last_error());
		return ret == -EACCES || ret == -EPERM ? CLI_DENIED : CLI_XEN;
	}
	/* One region per run of RAM frames (guestmem/xen.h). */
	c->domain = 1;
	n = gm_space_get_regions(c->space, ri, GM_XEN_DOMAIN_MAX_REGIONS);
	for (i = 0; n > 0 && i < (size_t)n && i < GM_XEN_DOMAIN_MAX_REGIONS;
	     i++) {
		if (source_add(c, ri[i].gpa, ri[i].size,
			       "domain %" PRIu32 " frames 0x%" PRIx64
			       "-0x%" PRIx64, domid, ri[i].gpa / 4096,
			       (ri[i].gpa + ri[i].size) / 4096 - 1))
			return CLI_NOMEM;
	}
	return CLI_OK;
}

static int open_grant(struct cli *c, const char *arg)
{
	uint32_t domid = 0, ref = 0, count = 1;
	struct gm_region *r;
	char *s = strdup(arg), *colon, *comma;
	uint64_t gpa;
	int ret;

	if (!s)
		return cli_nomem();
	colon = strchr(s, ':');
	comma = colon ? strchr(colon, ',') : NULL;
	if (!colon) {
		ret = cli_usage(NULL, "--xen-grant %s: expected "
				      "DOMID:GREF[,COUNT]", arg);
		goto out;
	}
	*colon = '\0';
	if (comma)
		*comma = '\0';
	ret = parse_u32("--xen-grant domid", s, &domid);
	if (!ret)
		ret = parse_u32("--xen-grant ref", colon + 1, &ref);
	if (!ret && comma)
		ret = parse_u32("--xen-grant count", comma + 1, &count);
	if (!ret && (!count || (uint64_t)ref + count - 1 > UINT32_MAX))
		ret = cli_usage(NULL, "--xen-grant %s: the count must be at "
				      "least 1 and the refs must stay below "
				      "2^32", arg);
	if (!ret)
		ret = xen_context(c);
	if (ret)
		goto out;
	gpa = GM_XEN_GRANT_ADDR(ref);
	ret = gm_xen_grant_region_new(c->xen, domid, gpa, ref, count,
				      xen_flags(c), &r);
	if (ret) {
		cli_err("--xen-grant %s: %s", arg, gm_last_error());
		ret = CLI_XEN;
		goto out;
	}
	ret = add_region(c, r, "--xen-grant");
	if (!ret && source_add(c, gpa, (uint64_t)count * 4096,
			       "domain %" PRIu32 " grant refs %" PRIu32
			       "-%" PRIu32, domid, ref, ref + count - 1))
		ret = CLI_NOMEM;
out:
	free(s);
	return ret;
}

/* Describe a dump's notes for info. */
static int core_describe(struct cli *c, const struct elfcore *k)
{
	char *s = NULL, *add, sz[32];
	size_t i;

	if (!k->info && !k->nbad)
		return 0;
	if (asprintf(&add, "dump '%s':\n", k->path) < 0)
		return -ENOMEM;
	s = add;
	if (k->info) {
		char *line = k->info, *nl;

		for (; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				nl = line + strlen(line) - 1;
			if (asprintf(&add, "%s  %.*s\n", s, (int)(nl - line),
				     line) < 0)
				goto nomem;
			free(s);
			s = add;
			if (!nl[0] || !nl[1])
				break;
		}
	}
	for (i = 0; i < k->nbad; i++) {
		const struct cli_bad *b = &k->bad[i];

		if (!b->len)
			continue;
		if (asprintf(&add, "%s  unreadable when dumped: 0x%" PRIx64
			     "-0x%" PRIx64 " (%s): %s\n", s, b->gpa,
			     b->gpa + (b->len - 1), cli_size(b->len, sz),
			     strerror(-b->err)) < 0)
			goto nomem;
		free(s);
		s = add;
	}
	if (c->core_note) {
		if (asprintf(&add, "%s%s", c->core_note, s) < 0)
			goto nomem;
		free(s);
		free((void *)c->core_note);
		s = add;
	}
	c->core_note = s;
	return 0;
nomem:
	free(s);
	return -ENOMEM;
}

static int open_core(struct cli *c, const char *path)
{
	long page = sysconf(_SC_PAGESIZE);
	int rw = open_rw(c);
	struct gm_region *r;
	struct elfcore k;
	size_t i;
	int ret;

	ret = elfcore_open(&k, path, rw);
	for (i = 0; !ret && i < k.nseg; i++) {
		const struct elfcore_seg *s = &k.seg[i];

		if (s->filesz != s->size ||
		    (s->gpa | s->size | s->offset) % (uint64_t)page) {
			cli_err("dump '%s': segment %zu (0x%" PRIx64
				", %" PRIu64 " bytes) is not page-aligned or "
				"not all in the file; --core cannot map it "
				"(restore it into a target instead)",
				path, i + 1, s->gpa, s->size);
			ret = CLI_USAGE;
			break;
		}
		ret = gm_unix_region_new_fd(s->gpa, s->size, k.fd,
					    (int64_t)s->offset,
					    rw ? 0 : GM_UNIX_RDONLY, &r);
		if (ret) {
			cli_err("dump '%s': segment %zu: %s", path, i + 1,
				strerror(-ret));
			ret = CLI_IO;
			break;
		}
		ret = add_region(c, r, "dump '%s'", path);
		if (!ret && source_add(c, s->gpa, s->size,
				       "dump '%s' segment %zu", path, i + 1))
			ret = cli_nomem();
	}
	if (!ret && core_describe(c, &k))
		ret = cli_nomem();
	elfcore_close(&k);
	return ret;
}

/* The space's name: the first target's, as error messages show it. */
static void space_name(char *buf, size_t n)
{
	const struct target *t = &targets[0];
	const char *base;
	size_t len;

	switch (t->kind) {
	case 'I':
	case 'C':
		base = strrchr(t->arg, '/');
		base = base ? base + 1 : t->arg;
		len = strcspn(base, "@");
		if (t->kind == 'C' || len >= n)
			len = strlen(base) < n ? strlen(base) : n - 1;
		snprintf(buf, n, "%.*s", (int)len, base);
		break;
	case 'G':
		snprintf(buf, n, "grants-%.*s", (int)strcspn(t->arg, ":"),
			 t->arg);
		break;
	default:
		snprintf(buf, n, "anon");
		break;
	}
}

/* Snapshot the layout of the space in c->reg. */
static int layout(struct cli *c)
{
	struct gm_region_info *ri;
	ssize_t n = gm_space_get_regions(c->space, NULL, 0);
	size_t i, j;

	if (n < 0)
		return cli_fail((int)n);
	ri = calloc((size_t)n + 1, sizeof(*ri));
	free(c->reg);
	c->reg = calloc((size_t)n + 1, sizeof(*c->reg));
	if (!ri || !c->reg) {
		free(ri);
		return cli_nomem();
	}
	/* Regions cannot change under us: this process alone adds them. */
	n = gm_space_get_regions(c->space, ri, (size_t)n);
	for (i = 0; i < (size_t)n; i++) {
		struct cli_region *r = &c->reg[i];

		r->gpa = ri[i].gpa;
		r->last = ri[i].gpa + (ri[i].size - 1);
		r->writable = !(ri[i].flags & GM_REGION_RDONLY);
		r->backend = ri[i].backend;
		r->desc = "";
		for (j = 0; j < c->nsrc; j++)
			if (c->src[j].gpa == r->gpa)
				r->desc = c->src[j].desc;
	}
	c->nreg = (size_t)n;
	free(ri);
	return CLI_OK;
}

int cli_targets_open(struct cli *c)
{
	char name[64];
	size_t i;
	int ret = CLI_OK, ndom = 0;

	if (!ntargets)
		return cli_usage(NULL, "no target: give --image, --anon, "
				       "--core, --xen-domid or --xen-grant");
	/* A domain's space comes from the library: open it first and add
	 * the other targets to it. */
	for (i = 0; i < ntargets; i++) {
		if (targets[i].kind != 'D')
			continue;
		if (ndom++)
			return cli_usage(NULL, "--xen-domid may be given once");
		ret = open_domain(c, targets[i].arg);
		if (ret)
			return ret;
	}
	if (!c->space) {
		space_name(name, sizeof(name));
		/* Fault-safe: an image truncated under us, or a Xen frame
		 * ballooned out, is an error line, not a SIGBUS. */
		ret = gm_space_new(&c->space, name, GM_SPACE_FAULT_SAFE);
		if (ret == -EOPNOTSUPP)
			ret = gm_space_new(&c->space, name, 0);
		if (ret) {
			cli_err("%s", gm_last_error());
			return CLI_NOMEM;
		}
	}
	for (i = 0; i < ntargets && !ret; i++) {
		switch (targets[i].kind) {
		case 'I':
			ret = open_image(c, targets[i].arg);
			break;
		case 'A':
			ret = open_anon(c, targets[i].arg);
			break;
		case 'C':
			ret = open_core(c, targets[i].arg);
			break;
		case 'G':
			ret = open_grant(c, targets[i].arg);
			break;
		}
	}
	return ret ? ret : layout(c);
}

void cli_targets_close(struct cli *c)
{
	gm_space_free(c->space);
	c->space = NULL;
	/* The context lives on until its last region is gone. */
	gm_xen_close(c->xen);
	c->xen = NULL;
	free(c->src);
	free(c->reg);
	free(targets);
	targets = NULL;
	ntargets = 0;
}

/* ---- ranges ---- */

const struct cli_region *cli_region_at(const struct cli *c, uint64_t gpa)
{
	size_t i;

	for (i = 0; i < c->nreg; i++)
		if (gpa >= c->reg[i].gpa && gpa <= c->reg[i].last)
			return &c->reg[i];
	return NULL;
}

int cli_check_range(struct cli *c, const char *op, uint64_t gpa,
		    uint64_t len, int write)
{
	const struct cli_region *r;
	uint64_t at = gpa, last = gpa + (len - 1);
	const char *why = NULL;
	int code = CLI_ADDR;

	if (!len)
		return CLI_OK;
	if (cli_wraps(gpa, len)) {
		why = "range wraps past 2^64";
	} else {
		for (;;) {
			r = cli_region_at(c, at);
			if (!r) {
				why = "no region";
				break;
			}
			if (write && !r->writable) {
				why = c->read_only ? "region is read-only "
						     "(--read-only)"
						   : "region is read-only";
				code = CLI_DENIED;
				break;
			}
			if (r->last >= last)
				return CLI_OK;
			at = r->last + 1;
		}
	}
	cli_err("guest memory '%s': %s error: failed to access 0x%" PRIx64
		"-0x%" PRIx64 " at 0x%" PRIx64 ": %s",
		gm_space_name(c->space), op, gpa, last + 1, at, why);
	return code;
}

int cli_runs(struct cli *c, uint64_t start, uint64_t len, int split,
	     int (*fn)(struct cli *c, uint64_t gpa, uint64_t len,
		       const struct cli_region *r, void *arg),
	     void *arg)
{
	uint64_t last = start + (len - 1), a, b;
	size_t i = 0, j;
	int ret;

	if (!len)
		return CLI_OK;
	while (i < c->nreg) {
		const struct cli_region *r = &c->reg[i];

		if (r->last < start || r->gpa > last) {
			i++;
			continue;
		}
		a = r->gpa > start ? r->gpa : start;
		/* Merge regions that follow each other without a gap, as
		 * long as the run's length still fits 64 bits. */
		for (j = i; !split && j + 1 < c->nreg &&
			    c->reg[j].last + 1 == c->reg[j + 1].gpa &&
			    c->reg[j].last < last &&
			    c->reg[j + 1].last - a < UINT64_MAX;
		     j++)
			;
		b = c->reg[j].last < last ? c->reg[j].last : last;
		if (b - a == UINT64_MAX)
			b--; /* only a run of all 2^64 bytes; cannot happen */
		ret = fn(c, a, b - a + 1, r, arg);
		if (ret)
			return ret;
		i = j + 1;
	}
	return CLI_OK;
}

static int count_run(struct cli *c, uint64_t gpa, uint64_t len,
		     const struct cli_region *r, void *arg)
{
	*(uint64_t *)arg += len;
	return CLI_OK;
}

uint64_t cli_covered(struct cli *c, uint64_t start, uint64_t len)
{
	uint64_t n = 0;

	cli_runs(c, start, len, 1, count_run, &n);
	return n;
}

int cli_range_args(struct cli *c, const char *cmd, int argc, char **argv,
		   uint64_t *start, uint64_t *len)
{
	uint64_t lo, hi;

	if (!c->nreg)
		return cli_usage(cmd, "the target has no memory");
	lo = c->reg[0].gpa;
	hi = c->reg[c->nreg - 1].last;
	if (argc > 2)
		return cli_usage(cmd, "unexpected argument '%s'", argv[2]);
	if (argc >= 1 && cli_arg_u64(cmd, "address", argv[0], &lo))
		return CLI_USAGE;
	if (argc == 2) {
		if (cli_arg_u64(cmd, "length", argv[1], len))
			return CLI_USAGE;
		if (!*len)
			return cli_usage(cmd, "the length must not be 0");
		if (cli_wraps(lo, *len))
			return cli_usage(cmd, "0x%" PRIx64 " + %s wraps past "
					      "2^64", lo, argv[1]);
	} else {
		if (lo > hi)
			return cli_usage(cmd, "0x%" PRIx64 " is past the last "
					      "region (which ends at 0x%"
					      PRIx64 ")", lo, hi);
		*len = hi - lo + 1;
		if (!*len) /* [0, 2^64): one byte short is all we can say */
			*len = UINT64_MAX;
	}
	*start = lo;
	return CLI_OK;
}
