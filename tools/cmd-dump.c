/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): dump and restore.
 *
 * dump reads guest memory one run of one region at a time and hands what
 * it could read to the ELF-core writer (elfcore.c): every readable run
 * becomes a segment, pages that cannot be read end the segment and are
 * recorded in a note.  restore checks that every segment of a dump can be
 * written before it writes the first one.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "elfcore.h"

/* ---- dump ---- */

struct dump {
	struct cli_outfile out;
	struct elfcore_writer w;
	uint8_t *buf;
	struct cli_badlist bad;
	struct cli_badlist gone; /* a domain's frames with no page now */
	struct cli_progress prog;
	uint64_t bytes;
};

/* Dump one region's part of the range: called by cli_runs(). */
static int dump_run(struct cli *c, uint64_t gpa, uint64_t len,
		    const struct cli_region *r, void *arg)
{
	struct dump *d = arg;
	uint64_t done = 0, skip;
	ssize_t n;
	int ret;

	/* Each region's data is a segment of its own. */
	elfcore_write_break(&d->w);
	d->bad.gone = cli_domain_ram(c, r) ? &d->gone : NULL;
	while (done < len) {
		uint64_t rem = len - done, at = gpa + done;
		size_t want = rem < CLI_CHUNK ? (size_t)rem : CLI_CHUNK;

		n = gm_read_partial(c->space, at, d->buf, want);
		if (n <= 0) {
			ret = cli_scan_skip(&d->bad, &d->prog, at, rem, n,
					    &skip);
			if (ret)
				return ret;
			/* What follows the gap is not where the segment
			 * would continue: start a new one. */
			elfcore_write_break(&d->w);
			done += skip;
			continue;
		}
		ret = elfcore_write_data(&d->w, at, r->writable, d->buf,
					 (size_t)n);
		if (ret == -ENOMEM)
			return cli_nomem();
		if (ret) {
			cli_progress_end(&d->prog);
			cli_err("dump: cannot write '%s': %s", d->out.path,
				strerror(-ret));
			return CLI_IO;
		}
		d->bytes += (uint64_t)n;
		done += (uint64_t)n;
		cli_progress_add(&d->prog, (uint64_t)n);
	}
	return CLI_OK;
}

/* Write the notes and headers that make the data a dump. */
static int dump_finish(struct cli *c, struct dump *d, uint64_t start,
		       uint64_t len)
{
	char info[256];

	snprintf(info, sizeof(info),
		 "format 1\nspace %s\nrange 0x%" PRIx64 "-0x%" PRIx64 "\n",
		 gm_space_name(c->space), start, start + (len - 1));
	return elfcore_write_finish(&d->w, info, d->bad.v, d->bad.n);
}

static void range_line(const char *what, uint64_t a, uint64_t n,
		       const char *why)
{
	char sz[32];

	printf("  %-11s 0x%" PRIx64 "-0x%" PRIx64 "  %s%s%s\n", what, a,
	       a + (n - 1), cli_size(n, sz), why ? "  " : "", why ? why : "");
}

/* Holes of [start, start + len): what no region covers. */
static int hole_walk(struct cli *c, uint64_t start, uint64_t len,
		     void (*fn)(void *arg, uint64_t a, uint64_t n), void *arg)
{
	uint64_t at = start, last = start + (len - 1);
	size_t i;
	int nh = 0;

	for (i = 0; i < c->nreg && at <= last; i++) {
		const struct cli_region *r = &c->reg[i];

		if (r->last < at)
			continue;
		if (r->gpa > at) {
			uint64_t e = r->gpa - 1 < last ? r->gpa - 1 : last;

			if (fn)
				fn(arg, at, e - at + 1);
			nh++;
		}
		if (r->last >= last)
			return nh;
		at = r->last + 1;
	}
	if (at <= last && (i == c->nreg)) {
		if (fn)
			fn(arg, at, last - at + 1);
		nh++;
	}
	return nh;
}

static void hole_text(void *arg, uint64_t a, uint64_t n)
{
	range_line("hole", a, n, NULL);
}

static void hole_json(void *arg, uint64_t a, uint64_t n)
{
	int *first = arg;

	printf("%s{\"start\":", *first ? "" : ",");
	cli_json_addr(stdout, a);
	printf(",\"last\":");
	cli_json_addr(stdout, a + (n - 1));
	printf(",\"size\":%" PRIu64 "}", n);
	*first = 0;
}

static void dump_summary(struct cli *c, struct dump *d, const char *path,
			 uint64_t start, uint64_t len)
{
	size_t i, nseg = elfcore_write_segments(&d->w);
	char sz[32];
	int first = 1;

	if (c->json) {
		printf("{\"file\":");
		cli_json_str(stdout, path);
		printf(",\"start\":");
		cli_json_addr(stdout, start);
		printf(",\"last\":");
		cli_json_addr(stdout, start + (len - 1));
		printf(",\"segments\":%zu,\"bytes\":%" PRIu64 ",\"holes\":[",
		       nseg, d->bytes);
		hole_walk(c, start, len, hole_json, &first);
		/* Only for a domain (--xen-domid): other targets have no
		 * such pages. */
		if (c->domain)
			printf("],\"unpopulated\":[");
		for (i = 0; i < d->gone.n; i++) {
			const struct cli_bad *b = &d->gone.v[i];

			printf("%s{\"start\":", i ? "," : "");
			cli_json_addr(stdout, b->gpa);
			printf(",\"last\":");
			cli_json_addr(stdout, b->gpa + (b->len - 1));
			printf(",\"size\":%" PRIu64 "}", b->len);
		}
		printf("],\"unreadable\":[");
		for (i = 0; i < d->bad.n; i++) {
			const struct cli_bad *b = &d->bad.v[i];

			printf("%s{\"start\":", i ? "," : "");
			cli_json_addr(stdout, b->gpa);
			printf(",\"last\":");
			cli_json_addr(stdout, b->gpa + (b->len - 1));
			printf(",\"size\":%" PRIu64 ",\"errno\":%d,\"error\":",
			       b->len, -b->err);
			cli_json_str(stdout, strerror(-b->err));
			printf("}");
		}
		printf("],\"unreadable_bytes\":%" PRIu64 ",\"complete\":%s}\n",
		       d->bad.bytes, d->bad.n ? "false" : "true");
		return;
	}
	if (c->quiet)
		return;
	printf("dumped 0x%" PRIx64 "-0x%" PRIx64 " to '%s': %s in %zu "
	       "segment%s\n", start, start + (len - 1), path,
	       cli_size(d->bytes, sz), nseg, nseg == 1 ? "" : "s");
	hole_walk(c, start, len, hole_text, NULL);
	for (i = 0; i < d->gone.n; i++)
		range_line("unpopulated", d->gone.v[i].gpa, d->gone.v[i].len,
			   "no page: given back by the guest");
	for (i = 0; i < d->bad.n; i++)
		range_line("unreadable", d->bad.v[i].gpa, d->bad.v[i].len,
			   strerror(-d->bad.v[i].err));
}

int cli_cmd_dump(struct cli *c, int argc, char **argv)
{
	struct dump d = { 0 };
	uint64_t start, len;
	int ret, err;

	ret = cli_getopt(c, "dump", NULL, &argc, &argv);
	if (ret)
		return ret;
	if (argc < 1)
		return cli_usage("dump", "missing FILE");
	ret = cli_range_args(c, "dump", argc - 1, argv + 1, &start, &len);
	if (ret)
		return ret;
	if (!cli_covered(c, start, len)) {
		cli_err("dump: nothing to dump: 0x%" PRIx64 "-0x%" PRIx64
			" is not in any region; '%s' is unchanged", start,
			start + (len - 1), argv[0]);
		return CLI_ADDR;
	}
	d.buf = malloc(CLI_CHUNK);
	if (!d.buf)
		return cli_nomem();
	if (cli_out_open(&d.out, argv[0])) {
		ret = CLI_IO;
		goto out;
	}
	if (elfcore_write_start(&d.w, d.out.fd))
		ret = cli_nomem();
	if (!ret) {
		cli_progress_start(c, &d.prog, "dump",
				   cli_covered(c, start, len));
		ret = cli_runs(c, start, len, 1, dump_run, &d);
		cli_progress_end(&d.prog);
	}
	if (!ret) {
		err = dump_finish(c, &d, start, len);
		if (err) {
			cli_err("dump: cannot write '%s': %s", argv[0],
				strerror(-err));
			ret = err == -ENOMEM ? CLI_NOMEM : CLI_IO;
		}
	}
	if (ret) {
		cli_out_abort(&d.out);
		cli_err("dump: no dump written; '%s' is unchanged", argv[0]);
		goto out;
	}
	if (cli_out_commit(&d.out)) {
		ret = CLI_IO;
		goto out;
	}
	dump_summary(c, &d, argv[0], start, len);
	if (d.bad.n) {
		char sz[32];

		cli_err("dump: %s inside regions could not be read; the dump "
			"records %s unreadable", cli_size(d.bad.bytes, sz),
			d.bad.n == 1 ? "it as" : "them as");
		ret = CLI_PARTIAL;
	}
out:
	cli_bad_free(&d.bad);
	cli_bad_free(&d.gone);
	elfcore_write_free(&d.w);
	free(d.buf);
	return ret;
}

int cli_cmd_restore(struct cli *c, int argc, char **argv)
{
	uint64_t total = 0, done = 0, skipped = 0;
	size_t i, nseg = 0, seg = 0;
	struct cli_progress prog;
	uint8_t *buf = NULL;
	struct elfcore k;
	char a[32], b[32];
	int ret;

	ret = cli_getopt(c, "restore", NULL, &argc, &argv);
	if (ret)
		return ret;
	if (argc != 1)
		return cli_usage("restore", argc ? "too many arguments"
						 : "missing FILE");
	ret = elfcore_open(&k, argv[0], 0);
	if (ret)
		goto out;
	/* Check every segment first: a hole or a read-only region fails
	 * the restore before anything is written. */
	for (i = 0; i < k.nseg; i++) {
		ret = cli_check_range(c, "write", k.seg[i].gpa, k.seg[i].size,
				      1);
		if (ret) {
			cli_err("restore: nothing was written");
			goto out;
		}
		total += k.seg[i].size;
	}
	nseg = k.nseg;
	for (i = 0; i < k.nbad; i++)
		skipped += k.bad[i].len;
	buf = malloc(CLI_CHUNK);
	if (!buf) {
		ret = cli_nomem();
		goto out;
	}
	cli_progress_start(c, &prog, "restore", total);
	for (i = 0; i < k.nseg && !ret; i++) {
		const struct elfcore_seg *p = &k.seg[i];
		uint64_t off = 0;

		seg++;
		while (off < p->size) {
			uint64_t rem = p->size - off;
			size_t n = rem < CLI_CHUNK ? (size_t)rem : CLI_CHUNK;
			ssize_t w = 0;
			int err;

			/* Past p_filesz a segment reads as zeros. */
			if (off >= p->filesz) {
				memset(buf, 0, n);
			} else {
				if (n > p->filesz - off)
					n = (size_t)(p->filesz - off);
				err = elfcore_read(&k, buf, n, p->offset + off);
				if (err) {
					cli_progress_end(&prog);
					cli_err("restore: cannot read '%s': %s",
						argv[0], strerror(-err));
					ret = CLI_IO;
					break;
				}
			}
			while ((size_t)w < n) {
				uint64_t at = p->gpa + off + (uint64_t)w;
				ssize_t m = gm_write_partial(c->space, at,
							     buf + w,
							     n - (size_t)w);

				if (m <= 0) {
					cli_progress_end(&prog);
					ret = cli_fail(m ? (int)m : -EIO);
					off += (uint64_t)w;
					break;
				}
				w += m;
			}
			if (ret)
				break;
			off += n;
			done += n;
			cli_progress_add(&prog, n);
		}
		if (ret) {
			cli_err("restore: %zu of %zu segments were written in "
				"full (%s of %s); segment %zu (0x%" PRIx64
				"-0x%" PRIx64 ") was written up to 0x%" PRIx64
				"; the rest is unchanged",
				seg - 1, nseg, cli_size(done, a),
				cli_size(total, b), seg, p->gpa,
				p->gpa + (p->size - 1), p->gpa + off);
		}
	}
	cli_progress_end(&prog);
	if (ret)
		goto out;
	if (c->json) {
		printf("{\"file\":");
		cli_json_str(stdout, argv[0]);
		printf(",\"segments\":%zu,\"bytes\":%" PRIu64
		       ",\"unrestored\":%" PRIu64 "}\n", nseg, total, skipped);
	} else if (!c->quiet) {
		printf("restored '%s': %s in %zu segment%s\n", argv[0],
		       cli_size(total, a), nseg, nseg == 1 ? "" : "s");
		if (skipped)
			printf("  %s recorded unreadable when dumped was left "
			       "unchanged\n", cli_size(skipped, a));
	}
out:
	free(buf);
	elfcore_close(&k);
	return ret;
}
