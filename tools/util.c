/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): numbers, types, messages, exit codes and the progress bar.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("guestmem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("guestmem: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		fprintf(stderr, "Try 'guestmem %s --help'.\n", cmd);
	else
		fputs("Try 'guestmem --help'.\n", stderr);
	return CLI_USAGE;
}

int cli_nomem(void)
{
	cli_err("out of memory");
	return CLI_NOMEM;
}

int cli_exit_access(int err)
{
	switch (-err) {
	case EFAULT:	/* a hole, or a page the backend cannot map */
	case EOVERFLOW: /* the range wraps past 2^64 */
	case ENOENT:	/* a paged-out Xen frame that stayed out */
	case EINVAL:	/* a grant Xen refused, a range across regions */
	case ENXIO:
		return CLI_ADDR;
	case EACCES:
	case EPERM:
		return CLI_DENIED;
	case ENOMEM:
	case ENOBUFS: /* the Xen mapping budget is full */
		return CLI_NOMEM;
	default:	/* ESRCH (domain gone), EOPNOTSUPP, Xen errors */
		return CLI_XEN;
	}
}

int cli_fail(int err)
{
	const char *msg = gm_last_error();

	if (msg && *msg)
		cli_err("%s", msg);
	else
		cli_err("%s", strerror(-err));
	return cli_exit_access(err);
}

/* ---- options ---- */

int cli_common_opt(struct cli *c, const char *cmd, int opt, char **argv)
{
	switch (opt) {
	case CLI_OPT_JSON:
		c->json = 1;
		return CLI_OK;
	case CLI_OPT_PROGRESS:
		c->progress = 1;
		return CLI_OK;
	case CLI_OPT_NO_PROGRESS:
		c->progress = 0;
		return CLI_OK;
	case 'q':
		c->quiet = 1;
		return CLI_OK;
	case 'h':
		return CLI_HELP;
	case ':':
		return cli_usage(cmd, "option '%s' needs an argument",
				 argv[optind - 1]);
	default:
		if (optopt)
			return cli_usage(cmd, "unknown option '-%c'", optopt);
		return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
	}
}

/* Store the argument of option @o, checked. */
static int opt_value(const char *cmd, const struct cli_opt *o,
		     const char *arg)
{
	switch (o->arg) {
	case CLI_ARG_NONE:
		*(int *)o->p = o->val;
		return CLI_OK;
	case CLI_ARG_STRING:
		*(const char **)o->p = arg;
		return CLI_OK;
	case CLI_ARG_NUMBER:
		if (cli_arg_u64(cmd, o->what, arg, o->p))
			return CLI_USAGE;
		if (!*(uint64_t *)o->p)
			return cli_usage(cmd, "the %s must not be 0", o->what);
		return CLI_OK;
	case CLI_ARG_TYPE:
		if (o->what && !strcmp(arg, o->what)) {
			*(const struct cli_type **)o->p = NULL;
			return CLI_OK;
		}
		return cli_arg_type(cmd, arg, o->p);
	}
	return CLI_USAGE; /* cannot happen: every kind is handled above */
}

int cli_getopt(struct cli *c, const char *cmd, const struct cli_opt *opts,
	       int *argc, char ***argv)
{
	static const struct option common[] = { CLI_COMMON_LONGOPTS };
	struct option lo[CLI_OPTS_MAX + sizeof(common) / sizeof(common[0]) +
			 1] = { { NULL, 0, NULL, 0 } };
	char so[sizeof(CLI_COMMON_SHORTOPTS) + 2 * CLI_OPTS_MAX] =
		CLI_COMMON_SHORTOPTS;
	size_t n = 0, len = strlen(so), i;
	const struct cli_opt *o;
	int opt, ret;

	/* Each command parses its own options from scratch: optind = 0
	 * makes glibc's getopt start over.  Errors are ours to print. */
	optind = 0;
	opterr = 0;
	for (o = opts; o && o->key; o++, n++) {
		/* The tables are fixed in the commands' code, and every
		 * command runs in make check: this cannot happen. */
		if (n == CLI_OPTS_MAX) {
			cli_err("%s: more than %d options", cmd, CLI_OPTS_MAX);
			return CLI_USAGE;
		}
		lo[n] = (struct option){ o->name,
					 o->arg == CLI_ARG_NONE
						 ? no_argument
						 : required_argument,
					 NULL, o->key };
		so[len++] = (char)o->key;
		if (o->arg != CLI_ARG_NONE)
			so[len++] = ':';
	}
	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		lo[n + i] = common[i];
	while ((opt = getopt_long(*argc, *argv, so, lo, NULL)) != -1) {
		for (o = opts; o && o->key && o->key != opt; o++)
			;
		if (o && o->key)
			ret = opt_value(cmd, o, optarg);
		else
			ret = cli_common_opt(c, cmd, opt, *argv);
		if (ret)
			return ret;
	}
	*argc -= optind;
	*argv += optind;
	return CLI_OK;
}

/* ---- numbers ---- */

static int digit(int ch, int base)
{
	int d;

	if (ch >= '0' && ch <= '9')
		d = ch - '0';
	else if (ch >= 'a' && ch <= 'f')
		d = ch - 'a' + 10;
	else if (ch >= 'A' && ch <= 'F')
		d = ch - 'A' + 10;
	else
		return -1;
	return d < base ? d : -1;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	const char *p = s;
	unsigned int base = 10, shift = 0;
	uint64_t v = 0;
	int d, any = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	/* Leading zeros stay decimal: "010" is ten, never octal eight. */
	for (; (d = digit((unsigned char)*p, (int)base)) >= 0; p++) {
		if (v > (UINT64_MAX - (unsigned int)d) / base)
			return -ERANGE;
		v = v * base + (unsigned int)d;
		any = 1;
	}
	if (!any)
		return -EINVAL;
	switch (*p) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (shift) {
		p++;
		if (!strcmp(p, "iB") || !strcmp(p, "B") || !strcmp(p, "ib"))
			p += strlen(p);
		if (*p)
			return -EINVAL;
		if (v > UINT64_MAX >> shift)
			return -ERANGE;
		v <<= shift;
	}
	*out = v;
	return 0;
}

int cli_parse_value(const char *s, unsigned int bits, uint64_t *out)
{
	uint64_t v, lim = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	int neg = *s == '-', ret;

	ret = cli_parse_u64(s + neg, &v);
	if (ret)
		return ret;
	if (neg) {
		/* Two's complement, down to the type's most negative value. */
		if (v > (1ull << (bits - 1)))
			return -ERANGE;
		v = (~v + 1) & lim;
	} else if (v > lim) {
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int cli_arg_u64(const char *cmd, const char *what, const char *s,
		uint64_t *out)
{
	int ret = cli_parse_u64(s, out);

	if (ret == -ERANGE)
		return cli_usage(cmd, "%s '%s' is larger than 2^64 - 1", what,
				 s);
	if (ret)
		return cli_usage(cmd,
				 "%s '%s' is not a number (0x hex or decimal, "
				 "optional K/M/G/T suffix)",
				 what, s);
	return CLI_OK;
}

/* ---- types ---- */

static const struct cli_type types[] = {
	{ "u8", 1, CLI_HOST },	{ "u16", 2, CLI_HOST },
	{ "u32", 4, CLI_HOST }, { "u64", 8, CLI_HOST },
	{ "le16", 2, CLI_LE },	{ "le32", 4, CLI_LE },
	{ "le64", 8, CLI_LE },	{ "be16", 2, CLI_BE },
	{ "be32", 4, CLI_BE },	{ "be64", 8, CLI_BE },
};

const struct cli_type *cli_type_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].name, name))
			return &types[i];
	return NULL;
}

int cli_arg_type(const char *cmd, const char *name,
		 const struct cli_type **t)
{
	*t = cli_type_find(name);
	if (!*t)
		return cli_usage(cmd, "unknown type '%s' (u8 u16 u32 u64 "
				      "le16 le32 le64 be16 be32 be64)", name);
	return CLI_OK;
}

/* Whether values of @t are stored little-endian in guest memory. */
static int type_is_le(const struct cli_type *t)
{
	if (t->order == CLI_HOST)
		return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	return t->order == CLI_LE;
}

void cli_type_put(const struct cli_type *t, uint8_t *p, uint64_t v)
{
	unsigned int i, n = t->size;

	for (i = 0; i < n; i++) {
		unsigned int at = type_is_le(t) ? i : n - 1 - i;

		p[at] = (uint8_t)(v >> (8 * i));
	}
}

uint64_t cli_type_get(const struct cli_type *t, const uint8_t *p)
{
	unsigned int i, n = t->size;
	uint64_t v = 0;

	for (i = 0; i < n; i++) {
		unsigned int at = type_is_le(t) ? i : n - 1 - i;

		v |= (uint64_t)p[at] << (8 * i);
	}
	return v;
}

/* ---- byte strings ---- */

int cli_parse_hex(const char *s, uint8_t **out, size_t *len)
{
	size_t n = 0;
	uint8_t *b = malloc(strlen(s) / 2 + 1);
	int hi, lo;

	if (!b)
		return -ENOMEM;
	while (*s) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == ':') {
			s++;
			continue;
		}
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			s += 2;
			continue;
		}
		hi = digit((unsigned char)s[0], 16);
		lo = hi < 0 ? -1 : digit((unsigned char)s[1], 16);
		if (lo < 0) {
			free(b);
			return -EINVAL;
		}
		b[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*out = b;
	*len = n;
	return 0;
}

int cli_parse_string(const char *s, uint8_t **out, size_t *len)
{
	size_t n = 0;
	uint8_t *b = malloc(strlen(s) + 1);
	int hi, lo;

	if (!b)
		return -ENOMEM;
	for (; *s; s++) {
		if (*s != '\\') {
			b[n++] = (uint8_t)*s;
			continue;
		}
		switch (*++s) {
		case '\\': b[n++] = '\\'; break;
		case 'n': b[n++] = '\n'; break;
		case 't': b[n++] = '\t'; break;
		case 'r': b[n++] = '\r'; break;
		case '0': b[n++] = '\0'; break;
		case 'x':
			hi = digit((unsigned char)s[1], 16);
			lo = hi < 0 ? -1 : digit((unsigned char)s[2], 16);
			if (lo >= 0) {
				b[n++] = (uint8_t)(hi << 4 | lo);
				s += 2;
				break;
			}
			/* fall through */
		default:
			free(b);
			return -EINVAL;
		}
	}
	*out = b;
	*len = n;
	return 0;
}

int cli_read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	size_t n = 0, cap = 0;
	uint8_t *b = NULL, *nb;
	ssize_t got;
	int err;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(b, cap);
			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto fail;
		}
		if (!got)
			break;
		n += (size_t)got;
	}
	if (fd)
		close(fd);
	*out = b;
	*len = n;
	return 0;
fail:
	free(b);
	if (fd)
		close(fd);
	return err;
}

/* ---- formatting ---- */

const char *cli_size(uint64_t n, char buf[32])
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
					     "EiB" };
	unsigned int u = 0;
	uint64_t scale = 1024;

	if (n < 1024) {
		snprintf(buf, 32, "%" PRIu64 " byte%s", n, n == 1 ? "" : "s");
		return buf;
	}
	/* Move up a unit before "1024.0 KiB" would be printed. */
	while (u < 5 && (double)n / (double)scale >= 1023.95) {
		scale <<= 10;
		u++;
	}
	if (n % scale == 0)
		snprintf(buf, 32, "%" PRIu64 " %s", n / scale, unit[u]);
	else
		snprintf(buf, 32, "%.1f %s", (double)n / (double)scale,
			 unit[u]);
	return buf;
}

int cli_addr_width(uint64_t last)
{
	int w = 1;

	while (last >>= 4)
		w++;
	return w < 8 ? 8 : w;
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void cli_json_addr(FILE *f, uint64_t a)
{
	fprintf(f, "\"0x%" PRIx64 "\"", a);
}

/* ---- progress bar ---- */

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress_draw(struct cli_progress *p, const struct timespec *now)
{
	char done[32], total[32], rate[32], eta[32] = "";
	double t = elapsed(&p->start, now), pct, r;
	int i, fill;

	pct = p->total ? (double)p->done * 100.0 / (double)p->total : 100.0;
	r = t > 0 ? (double)p->done / t : 0;
	fill = (int)(pct / 5);
	if (r > 0 && p->total > p->done) {
		uint64_t s = (uint64_t)((double)(p->total - p->done) / r);

		snprintf(eta, sizeof(eta), "  ETA %" PRIu64 ":%02" PRIu64,
			 s / 60, s % 60);
	}
	fprintf(stderr, "\r%-8s [", p->what);
	for (i = 0; i < 20; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %3.0f%%  %s / %s  %s/s%s\033[K", pct,
		cli_size(p->done, done), cli_size(p->total, total),
		cli_size((uint64_t)r, rate), eta);
	fflush(stderr);
	p->last = *now;
}

void cli_progress_start(struct cli *c, struct cli_progress *p,
			const char *what, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	/* --progress and --no-progress win over -q and the terminal test. */
	p->on = c->progress < 0 ? !c->quiet && isatty(2) : c->progress;
	p->what = what;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
	if (p->on)
		progress_draw(p, &p->start);
}

void cli_progress_add(struct cli_progress *p, uint64_t n)
{
	struct timespec now;

	p->done += n;
	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* Redraw ten times a second at most: a terminal is slow. */
	if (elapsed(&p->last, &now) >= 0.1)
		progress_draw(p, &now);
}

void cli_progress_clear(struct cli_progress *p)
{
	if (!p->on)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->last = p->start; /* redraw at the next cli_progress_add() */
}

void cli_progress_end(struct cli_progress *p)
{
	if (!p->on)
		return;
	/* Erase the bar: the summary that follows stands on its own. */
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* ---- unreadable ranges ---- */

int cli_domain_ram(const struct cli *c, const struct cli_region *r)
{
	return c->domain && !strcmp(r->backend, "xen-foreign");
}

int cli_bad_add(struct cli_badlist *b, uint64_t gpa, uint64_t len, int err)
{
	struct cli_bad *last = b->n ? &b->v[b->n - 1] : NULL, *nv;

	b->bytes += len;
	if (last && last->err == err && last->gpa + last->len == gpa) {
		last->len += len;
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;

		nv = realloc(b->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		b->v = nv;
		b->cap = cap;
	}
	b->v[b->n++] = (struct cli_bad){ .gpa = gpa, .len = len, .err = err };
	return 0;
}

void cli_bad_free(struct cli_badlist *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}

int cli_scan_skip(struct cli_badlist *b, struct cli_progress *p,
		  uint64_t gpa, uint64_t rem, ssize_t n, uint64_t *skip)
{
	int err = n ? (int)n : -EIO;

	if (err == -ENOMEM || err == -ENOBUFS || err == -ESRCH) {
		cli_progress_end(p);
		return cli_fail(err);
	}
	*skip = CLI_PAGE - gpa % CLI_PAGE;
	if (*skip > rem)
		*skip = rem;
	if (err == -EINVAL && b->gone)
		b = b->gone;
	if (cli_bad_add(b, gpa, *skip, err))
		return cli_nomem();
	cli_progress_add(p, *skip);
	return CLI_OK;
}

/* ---- output files ---- */

int cli_write_all(int fd, const void *buf, size_t len, int64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int cli_out_open(struct cli_outfile *o, const char *path)
{
	const char *slash = strrchr(path, '/');
	mode_t mask = umask(0);
	int err;

	umask(mask);
	o->path = path;
	o->fd = -1;
	/* "dir/.name.XXXXXX": same file system, so rename() is atomic. */
	if (asprintf(&o->tmp, "%.*s.%s.XXXXXX",
		     slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) < 0) {
		o->tmp = NULL;
		cli_err("out of memory");
		return -ENOMEM;
	}
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		err = -errno;
		cli_err("cannot create a temporary file for '%s': %s", path,
			strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		return err;
	}
	/* mkstemp makes it 0600; give it the mode a new file would get. */
	fchmod(o->fd, 0666 & ~mask);
	return 0;
}

int cli_out_commit(struct cli_outfile *o)
{
	int err = 0;

	if (fsync(o->fd) < 0 && errno != EINVAL)
		err = -errno;
	if (close(o->fd) < 0 && !err)
		err = -errno;
	o->fd = -1;
	if (!err && rename(o->tmp, o->path) < 0)
		err = -errno;
	if (err) {
		cli_err("cannot write '%s': %s; '%s' is unchanged", o->path,
			strerror(-err), o->path);
		unlink(o->tmp);
	}
	free(o->tmp);
	o->tmp = NULL;
	return err;
}

void cli_out_abort(struct cli_outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}
