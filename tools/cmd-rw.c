/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): read, hexdump, write, fill and copy.
 *
 * Commands that write check the whole guest range against the layout
 * first, so a hole or a read-only region fails before any byte changes.
 * What only the backend can find out (a Xen frame it refuses) can still
 * stop a write part way: the partial accessors say exactly where, and the
 * message names what was and was not written.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- shared ---- */

/*
 * Report a write that stopped after @done of @len bytes at @gpa.  The
 * library's message names the failing address; this line says what the
 * guest memory now holds.
 */
static int partial_write(const char *cmd, int err, uint64_t gpa,
			 uint64_t done, uint64_t len)
{
	char a[32], b[32];
	int code = cli_fail(err);

	if (done)
		cli_err("%s: %s of %s written (0x%" PRIx64 "-0x%" PRIx64
			"); 0x%" PRIx64 "-0x%" PRIx64 " is unchanged",
			cmd, cli_size(done, a), cli_size(len, b), gpa,
			gpa + done, gpa + done, gpa + len);
	else
		cli_err("%s: nothing was written", cmd);
	return code;
}

/* Write all of @buf at @gpa.  Return: 0, or the negative errno with
 * *done set to the bytes written before the failure. */
static int write_all(struct cli *c, uint64_t gpa, const uint8_t *buf,
		     size_t len, size_t *done)
{
	ssize_t n;

	*done = 0;
	while (*done < len) {
		n = gm_write_partial(c->space, gpa + *done, buf + *done,
				     len - *done);
		if (n <= 0)
			return n ? (int)n : -EIO;
		*done += (size_t)n;
	}
	return 0;
}

/* ---- read ---- */

enum { FMT_HEX, FMT_DEC, FMT_SIGNED };

static void print_value(const struct cli_type *t, uint64_t v, int fmt)
{
	unsigned int bits = t->size * 8;

	if (fmt == FMT_HEX) {
		printf("0x%0*" PRIx64, (int)t->size * 2, v);
	} else if (fmt == FMT_DEC) {
		printf("%" PRIu64, v);
	} else {
		/* Sign-extend from the type's width. */
		if (bits < 64 && (v >> (bits - 1)) & 1)
			v |= ~0ull << bits;
		printf("%" PRId64, (int64_t)v);
	}
}

static int read_raw(struct cli *c, uint64_t gpa, uint64_t len,
		    const char *out)
{
	struct cli_outfile of = { .fd = -1 };
	uint64_t done = 0;
	uint8_t *buf;
	int fd = 1, ret;
	ssize_t n;

	if (!out && isatty(1))
		return cli_usage("read", "refusing to write raw bytes to a "
					 "terminal: redirect stdout, use -o "
					 "FILE, or use hexdump");
	ret = cli_check_range(c, "read", gpa, len, 0);
	if (ret)
		return ret;
	buf = malloc(CLI_CHUNK);
	if (!buf)
		return cli_nomem();
	if (out) {
		if (cli_out_open(&of, out)) {
			free(buf);
			return CLI_IO;
		}
		fd = of.fd;
	}
	while (done < len) {
		size_t want = len - done < CLI_CHUNK ? (size_t)(len - done)
						     : CLI_CHUNK;

		n = gm_read_partial(c->space, gpa + done, buf, want);
		if (n <= 0) {
			ret = cli_fail(n ? (int)n : -EIO);
			break;
		}
		ret = cli_write_all(fd, buf, (size_t)n, -1);
		if (ret) {
			cli_err("read: cannot write %s: %s",
				out ? out : "standard output", strerror(-ret));
			ret = CLI_IO;
			break;
		}
		done += (uint64_t)n;
	}
	free(buf);
	if (out) {
		if (ret)
			cli_out_abort(&of);
		else if (cli_out_commit(&of))
			ret = CLI_IO;
		if (ret)
			cli_err("read: '%s' was not written", out);
	} else if (ret && done) {
		cli_err("read: %" PRIu64 " of %" PRIu64 " bytes were written "
			"to standard output before the failure", done, len);
	}
	return ret;
}

int cli_cmd_read(struct cli *c, int argc, char **argv)
{
	const struct cli_type *t = cli_type_find("u32");
	int fmt = FMT_HEX, plain = 0, w, ret;
	const char *out = NULL;
	const struct cli_opt opts[] = {
		{ 't', "type", CLI_ARG_TYPE, .p = &t, .what = "bytes" },
		{ 'x', "hex", CLI_ARG_NONE, .p = &fmt, .val = FMT_HEX },
		{ 'd', "dec", CLI_ARG_NONE, .p = &fmt, .val = FMT_DEC },
		{ 's', "signed", CLI_ARG_NONE, .p = &fmt, .val = FMT_SIGNED },
		{ 'p', "plain", CLI_ARG_NONE, .p = &plain, .val = 1 },
		{ 'o', "output", CLI_ARG_STRING, .p = &out },
		{ 0 },
	};
	uint64_t gpa, count = 1, len, i;
	uint8_t *buf;

	ret = cli_getopt(c, "read", opts, &argc, &argv);
	if (ret)
		return ret;
	if (argc < 1 || argc > 2)
		return cli_usage("read", argc ? "too many arguments"
					      : "missing ADDR");
	if (cli_arg_u64("read", "address", argv[0], &gpa) ||
	    (argc == 2 && cli_arg_u64("read", "count", argv[1], &count)))
		return CLI_USAGE;
	if (!count)
		return cli_usage("read", "the count must not be 0");
	/* -t bytes: raw bytes, no type. */
	if (out && t)
		return cli_usage("read", "-o is for -t bytes");
	if (!t) {
		if (cli_wraps(gpa, count))
			return cli_usage("read", "the range wraps past 2^64");
		return read_raw(c, gpa, count, out);
	}
	if (count > UINT64_MAX / t->size || cli_wraps(gpa, count * t->size))
		return cli_usage("read", "%" PRIu64 " x %s at 0x%" PRIx64
					 " wraps past 2^64", count, t->name,
				 gpa);
	len = count * t->size;
	ret = cli_check_range(c, "read", gpa, len, 0);
	if (ret)
		return ret;
	buf = malloc(CLI_CHUNK);
	if (!buf)
		return cli_nomem();
	w = cli_addr_width(gpa + (len - 1));
	/* Reading in chunks keeps memory bounded for large counts; the
	 * layout check above makes a hole impossible, so only a backend
	 * failure can stop it part way. */
	for (i = 0; i < count && !ret;) {
		uint64_t n = count - i, j, at = gpa + i * t->size;
		size_t per = CLI_CHUNK / t->size;

		if (n > per)
			n = per;
		ret = gm_read(c->space, at, buf, (size_t)(n * t->size));
		if (ret) {
			ret = cli_fail(ret);
			break;
		}
		for (j = 0; j < n; j++, i++) {
			uint64_t v = cli_type_get(t, buf + j * t->size);
			unsigned int per_line = 16 / t->size;

			if (plain) {
				print_value(t, v, fmt);
				putchar('\n');
				continue;
			}
			if (i % per_line == 0)
				printf("0x%0*" PRIx64 ":", w,
				       gpa + i * t->size);
			putchar(' ');
			print_value(t, v, fmt);
			if (i % per_line == per_line - 1 || i + 1 == count)
				putchar('\n');
		}
	}
	free(buf);
	return ret;
}

/* ---- hexdump ---- */

struct hexdump {
	struct cli *c;
	const struct cli_type *t;
	int w, squeeze;
	uint64_t start, len;	/* the range dumped */
	/* the current chunk */
	uint64_t base;
	size_t n;
	uint8_t *buf, *valid;
	/* the last line printed, for squeezing */
	uint8_t prev[16];
	int have_prev, starred;
	/* a run of lines that could not be read, not yet printed */
	uint64_t bad_start, bad_end;
	int bad_err; /* 0: hole */
	int bad_pending;
	uint64_t bad_bytes, good_bytes;
	int first_err;
};

/* The next region start above @gpa, or 0 if none. */
static uint64_t hd_next_region(struct cli *c, uint64_t gpa)
{
	size_t i;

	for (i = 0; i < c->nreg; i++)
		if (c->reg[i].gpa > gpa)
			return c->reg[i].gpa;
	return 0;
}

/* Load [base, base + n) into the chunk buffer, marking what was read. */
static void hd_load(struct hexdump *h, uint64_t base, size_t n)
{
	size_t off = 0;
	ssize_t got;

	h->base = base;
	h->n = n;
	memset(h->valid, 0, n);
	while (off < n) {
		uint64_t at = base + off;
		size_t skip;

		if (!cli_region_at(h->c, at)) {
			uint64_t next = hd_next_region(h->c, at);

			skip = next && next - at < n - off ? (size_t)(next - at)
							   : n - off;
			memset(h->buf + off, 0, skip);
			off += skip;
			continue;
		}
		got = gm_read_partial(h->c->space, at, h->buf + off, n - off);
		if (got > 0) {
			memset(h->valid + off, 1, (size_t)got);
			off += (size_t)got;
			continue;
		}
		if (!h->first_err)
			h->first_err = got ? (int)got : -EIO;
		/* The backend refused this page: mark it and go on. */
		skip = CLI_PAGE - (size_t)(at % CLI_PAGE);
		if (skip > n - off)
			skip = n - off;
		memset(h->buf + off, (uint8_t)-got, skip); /* errno, for the
							     * marker */
		off += skip;
	}
}

static void hd_flush_bad(struct hexdump *h)
{
	char sz[32], eb[64];

	if (!h->bad_pending)
		return;
	h->starred = 0;
	if (h->bad_err)
		snprintf(eb, sizeof(eb), "unreadable: %s",
			 strerror(h->bad_err));
	printf("0x%0*" PRIx64 "  -- %s, %s up to 0x%" PRIx64 " --\n", h->w,
	       h->bad_start, h->bad_err ? eb : "hole (no region)",
	       cli_size(h->bad_end - h->bad_start, sz), h->bad_end);
	h->bad_pending = 0;
	h->have_prev = 0;
}

/* A line none of whose bytes could be read: extend or start a run. */
static void hd_bad_line(struct hexdump *h, uint64_t at, uint64_t end, int err)
{
	if (h->bad_pending && h->bad_end == at && h->bad_err == err) {
		h->bad_end = end;
		return;
	}
	hd_flush_bad(h);
	h->bad_pending = 1;
	h->bad_start = at;
	h->bad_end = end;
	h->bad_err = err;
}

static void hd_line(struct hexdump *h, uint64_t at, const uint8_t *p,
		    const uint8_t *ok, size_t n)
{
	unsigned int sz = h->t->size, i, j;
	int all = 1;

	for (i = 0; i < n; i++)
		all &= ok[i];
	if (all && n == 16 && h->squeeze && h->have_prev &&
	    !memcmp(p, h->prev, 16)) {
		if (!h->starred)
			puts("*");
		h->starred = 1;
		return;
	}
	h->starred = 0;
	memcpy(h->prev, p, n);
	h->have_prev = all && n == 16;
	printf("0x%0*" PRIx64 " ", h->w, at);
	for (i = 0; i < 16; i += sz) {
		putchar(' ');
		if (sz == 1 && i == 8)
			putchar(' ');
		for (j = 0; j < sz && i + j < n; j++)
			if (!ok[i + j])
				break;
		if (i >= n)
			printf("%*s", (int)sz * 2, "");
		else if (j < sz)
			printf("%.*s", (int)sz * 2,
				       "????????????????");
		else
			printf("%0*" PRIx64, (int)sz * 2,
				       cli_type_get(h->t, p + i));
	}
	printf("  |");
	for (i = 0; i < n; i++) {
		int ch = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.';

		putchar(ok[i] ? ch : ' ');
	}
	printf("|\n");
}

int cli_cmd_hexdump(struct cli *c, int argc, char **argv)
{
	struct hexdump h = { .c = c, .squeeze = 1, .len = 256 };
	const struct cli_opt opts[] = {
		{ 't', "type", CLI_ARG_TYPE, .p = &h.t },
		{ 'v', "no-squeeze", CLI_ARG_NONE, .p = &h.squeeze, .val = 0 },
		{ 0 },
	};
	uint64_t off, chunk = CLI_CHUNK;
	int ret;

	h.t = cli_type_find("u8");
	ret = cli_getopt(c, "hexdump", opts, &argc, &argv);
	if (ret)
		return ret;
	if (argc < 1 || argc > 2)
		return cli_usage("hexdump", argc ? "too many arguments"
						 : "missing ADDR");
	if (cli_arg_u64("hexdump", "address", argv[0], &h.start) ||
	    (argc == 2 && cli_arg_u64("hexdump", "length", argv[1], &h.len)))
		return CLI_USAGE;
	if (!h.len)
		return cli_usage("hexdump", "the length must not be 0");
	if (cli_wraps(h.start, h.len))
		return cli_usage("hexdump", "the range wraps past 2^64");
	if (h.len % h.t->size)
		return cli_usage("hexdump", "the length must be a multiple of "
					    "%s's size (%u)", h.t->name,
				 h.t->size);
	h.w = cli_addr_width(h.start + (h.len - 1));
	h.buf = malloc(CLI_CHUNK);
	h.valid = malloc(CLI_CHUNK);
	if (!h.buf || !h.valid) {
		free(h.buf);
		free(h.valid);
		return cli_nomem();
	}
	for (off = 0; off < h.len; off += chunk) {
		size_t n = h.len - off < chunk ? (size_t)(h.len - off)
					       : (size_t)chunk;
		size_t i;

		/* Whole lines of holes are skipped without reading. */
		if (!cli_region_at(c, h.start + off)) {
			uint64_t next = hd_next_region(c, h.start + off);
			uint64_t gap = next ? next - (h.start + off)
					    : h.len - off;

			gap -= gap % 16;
			if (gap > h.len - off)
				gap = h.len - off;
			if (gap >= 16) {
				hd_bad_line(&h, h.start + off,
					    h.start + off + gap, 0);
				h.bad_bytes += gap;
				chunk = gap;
				continue;
			}
		}
		chunk = CLI_CHUNK;
		hd_load(&h, h.start + off, n);
		for (i = 0; i < n; i += 16) {
			size_t ln = n - i < 16 ? n - i : 16, k, good = 0;
			uint64_t at = h.start + off + i;

			for (k = 0; k < ln; k++)
				good += h.valid[i + k];
			h.good_bytes += good;
			h.bad_bytes += ln - good;
			if (!good) {
				/* The marker byte holds the errno (0 in a
				 * hole, as hd_load zeroed it). */
				hd_bad_line(&h, at, at + ln,
					    cli_region_at(c, at) ? h.buf[i] : 0);
				continue;
			}
			hd_flush_bad(&h);
			hd_line(&h, at, h.buf + i, h.valid + i, ln);
		}
	}
	hd_flush_bad(&h);
	if (h.starred)
		printf("0x%0*" PRIx64 "\n", h.w, h.start + h.len);
	free(h.buf);
	free(h.valid);
	if (h.bad_bytes) {
		char sz[32];

		cli_err("hexdump: %s of 0x%" PRIx64 "-0x%" PRIx64
			" could not be read (holes or unreadable pages)",
			cli_size(h.bad_bytes, sz), h.start, h.start + h.len);
		ret = h.good_bytes ? CLI_PARTIAL : CLI_ADDR;
	}
	return ret;
}

/* ---- write ---- */

int cli_cmd_write(struct cli *c, int argc, char **argv)
{
	const char *tname = "u32", *input = NULL;
	const struct cli_opt opts[] = {
		{ 't', "type", CLI_ARG_STRING, .p = &tname },
		{ 'i', "input", CLI_ARG_STRING, .p = &input },
		{ 0 },
	};
	const struct cli_type *t = NULL;
	uint8_t *buf = NULL, *part;
	size_t len = 0, n;
	uint64_t gpa, v;
	int i, ret;

	ret = cli_getopt(c, "write", opts, &argc, &argv);
	if (ret)
		return ret;
	if (argc < 1)
		return cli_usage("write", "missing ADDR");
	if (cli_arg_u64("write", "address", argv[0], &gpa))
		return CLI_USAGE;
	if (input && strcmp(tname, "bytes"))
		return cli_usage("write", "-i is for -t bytes");

	if (!strcmp(tname, "bytes")) {
		if (argc > 1)
			return cli_usage("write", "-t bytes takes its data "
						  "from stdin or -i FILE, "
						  "not arguments");
		ret = cli_read_file(input ? input : "-", &buf, &len);
		if (ret) {
			cli_err("write: cannot read %s: %s",
				input ? input : "standard input",
				strerror(-ret));
			return ret == -ENOMEM ? CLI_NOMEM : CLI_IO;
		}
	} else if (!strcmp(tname, "string")) {
		if (argc != 2)
			return cli_usage("write", "-t string takes exactly one "
						  "VALUE (quote it)");
		if (cli_parse_string(argv[1], &buf, &len))
			return cli_usage("write", "bad escape in '%s'",
					 argv[1]);
	} else if (!strcmp(tname, "hex")) {
		for (i = 1; i < argc; i++) {
			if (cli_parse_hex(argv[i], &part, &n)) {
				free(buf);
				return cli_usage("write", "'%s' is not hex "
							  "bytes", argv[i]);
			}
			uint8_t *nb = realloc(buf, len + n + 1);

			if (!nb) {
				free(part);
				free(buf);
				return cli_nomem();
			}
			buf = nb;
			memcpy(buf + len, part, n);
			len += n;
			free(part);
		}
	} else {
		if (cli_arg_type("write", tname, &t))
			return CLI_USAGE;
		buf = malloc((size_t)argc * t->size);
		if (!buf)
			return cli_nomem();
		for (i = 1; i < argc; i++) {
			ret = cli_parse_value(argv[i], t->size * 8, &v);
			if (ret) {
				free(buf);
				return cli_usage("write", "'%s' is not a "
							  "value of type %s",
						 argv[i], t->name);
			}
			cli_type_put(t, buf + len, v);
			len += t->size;
		}
	}
	if (!len) {
		free(buf);
		return cli_usage("write", "nothing to write");
	}
	if (cli_wraps(gpa, len)) {
		free(buf);
		return cli_usage("write", "the data would wrap past 2^64");
	}
	ret = cli_check_range(c, "write", gpa, len, 1);
	if (!ret) {
		ret = write_all(c, gpa, buf, len, &n);
		if (ret)
			ret = partial_write("write", ret, gpa, n, len);
	}
	free(buf);
	return ret;
}

/* ---- fill ---- */

int cli_cmd_fill(struct cli *c, int argc, char **argv)
{
	const struct cli_type *t = cli_type_find("u8");
	const struct cli_opt opts[] = {
		{ 't', "type", CLI_ARG_TYPE, .p = &t },
		{ 0 },
	};
	struct cli_progress p;
	uint64_t gpa, len, v, done = 0;
	uint8_t *buf;
	size_t bl, i;
	int ret;

	ret = cli_getopt(c, "fill", opts, &argc, &argv);
	if (ret)
		return ret;
	if (argc != 3)
		return cli_usage("fill", "expected ADDR LEN VALUE");
	if (cli_arg_u64("fill", "address", argv[0], &gpa) ||
	    cli_arg_u64("fill", "length", argv[1], &len))
		return CLI_USAGE;
	if (cli_parse_value(argv[2], t->size * 8, &v))
		return cli_usage("fill", "'%s' is not a value of type %s",
				 argv[2], t->name);
	if (!len)
		return cli_usage("fill", "the length must not be 0");
	if (len % t->size)
		return cli_usage("fill", "the length must be a multiple of "
					 "%s's size (%u)", t->name, t->size);
	if (cli_wraps(gpa, len))
		return cli_usage("fill", "the range wraps past 2^64");
	ret = cli_check_range(c, "write", gpa, len, 1);
	if (ret)
		return ret;
	/* One chunk of the pattern, written over and over. */
	bl = len < CLI_CHUNK ? (size_t)len : CLI_CHUNK;
	buf = malloc(bl);
	if (!buf)
		return cli_nomem();
	for (i = 0; i < bl; i += t->size)
		cli_type_put(t, buf + i, v);
	cli_progress_start(c, &p, "fill", len);
	while (done < len && !ret) {
		size_t n = len - done < bl ? (size_t)(len - done) : bl, w;

		ret = write_all(c, gpa + done, buf, n, &w);
		done += w;
		cli_progress_add(&p, w);
	}
	cli_progress_end(&p);
	if (ret)
		ret = partial_write("fill", ret, gpa, done, len);
	free(buf);
	return ret;
}

/* ---- copy ---- */

/*
 * Say what a copy that failed in the chunk at @off (after writing @w of
 * its @n bytes) left in the destination [dst, dst + len): forwards, the
 * bytes before the failure; backwards, the failing chunk's first @w bytes
 * and everything above the chunk.
 */
static void copy_failed(uint64_t dst, uint64_t len, uint64_t off, size_t w,
			size_t n, int back)
{
	uint64_t a = back ? off + n : 0, b = back ? len : off + w;

	if (back && w)
		cli_err("copy: 0x%" PRIx64 "-0x%" PRIx64 " was written",
			dst + off, dst + off + w);
	if (a < b)
		cli_err("copy: 0x%" PRIx64 "-0x%" PRIx64 " was written",
			dst + a, dst + b);
	if (!(back && w) && a >= b)
		cli_err("copy: nothing was written");
	else
		cli_err("copy: the rest of 0x%" PRIx64 "-0x%" PRIx64
			" is unchanged", dst, dst + len);
}

int cli_cmd_copy(struct cli *c, int argc, char **argv)
{
	uint64_t src, dst, len, done = 0;
	struct cli_progress p;
	int ret, back;
	uint8_t *buf;

	ret = cli_getopt(c, "copy", NULL, &argc, &argv);
	if (ret)
		return ret;
	if (argc != 3)
		return cli_usage("copy", "expected SRC DST LEN");
	if (cli_arg_u64("copy", "source address", argv[0], &src) ||
	    cli_arg_u64("copy", "destination address", argv[1], &dst) ||
	    cli_arg_u64("copy", "length", argv[2], &len))
		return CLI_USAGE;
	if (!len)
		return cli_usage("copy", "the length must not be 0");
	if (cli_wraps(src, len) || cli_wraps(dst, len))
		return cli_usage("copy", "a range wraps past 2^64");
	ret = cli_check_range(c, "read", src, len, 0);
	if (!ret)
		ret = cli_check_range(c, "write", dst, len, 1);
	if (ret)
		return ret;
	buf = malloc(CLI_CHUNK);
	if (!buf)
		return cli_nomem();
	/* memmove: copy from the end when the destination overlaps the
	 * source from above, so no source byte is overwritten first. */
	back = dst > src && dst - src < len;
	cli_progress_start(c, &p, "copy", len);
	while (done < len) {
		size_t n = len - done < CLI_CHUNK ? (size_t)(len - done)
						  : CLI_CHUNK, w = 0;
		uint64_t off = back ? len - done - n : done;

		ret = gm_read(c->space, src + off, buf, n);
		if (!ret)
			ret = write_all(c, dst + off, buf, n, &w);
		if (ret) {
			cli_progress_end(&p);
			ret = cli_fail(ret);
			copy_failed(dst, len, off, w, n, back);
			break;
		}
		done += n;
		cli_progress_add(&p, n);
	}
	cli_progress_end(&p);
	free(buf);
	return ret;
}
