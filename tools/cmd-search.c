/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): search.
 *
 * Memory is scanned in chunks, one run of adjacent regions at a time.  The
 * last len - 1 bytes of a chunk are carried into the next, so a match that
 * straddles two chunks (or two adjacent regions) is found once; holes and
 * pages that cannot be read break a run, and no match spans them.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct search {
	const uint8_t *pat;
	size_t plen;
	uint64_t align, max, count;
	uint8_t *buf; /* CLI_CHUNK + plen - 1 bytes */
	int w, json, stop;
	struct cli_badlist bad;
	struct cli_badlist gone; /* a domain's frames with no page now */
	struct cli_progress prog;
};

static void report(struct search *s, uint64_t gpa)
{
	if (s->align > 1 && gpa % s->align)
		return;
	/* A match shown on the terminal must not land in the bar's line. */
	cli_progress_clear(&s->prog);
	if (s->json) {
		printf("%s", s->count ? "," : "");
		cli_json_addr(stdout, gpa);
	} else {
		printf("0x%0*" PRIx64 "\n", s->w, gpa);
	}
	if (++s->count == s->max)
		s->stop = 1;
}

static int scan_run(struct cli *c, uint64_t gpa, uint64_t len,
		    const struct cli_region *r, void *arg)
{
	struct search *s = arg;
	uint64_t pos = gpa, end_off = 0, skip;
	size_t carry = 0, keep;
	ssize_t n;
	int ret;

	s->bad.gone = cli_domain_ram(c, r) ? &s->gone : NULL;
	while (end_off < len && !s->stop) {
		uint64_t rem = len - end_off;
		size_t want = rem < CLI_CHUNK ? (size_t)rem : CLI_CHUNK, total;
		const uint8_t *p, *hit;

		n = gm_read_partial(c->space, pos, s->buf + carry, want);
		if (n <= 0) {
			ret = cli_scan_skip(&s->bad, &s->prog, pos, rem, n,
					    &skip);
			if (ret)
				return ret;
			/* Not searched: a match cannot span the gap. */
			carry = 0;
			pos += skip;
			end_off += skip;
			continue;
		}
		total = carry + (size_t)n;
		for (p = s->buf; !s->stop && (size_t)(p - s->buf) < total;
		     p = hit + 1) {
			hit = memmem(p, total - (size_t)(p - s->buf), s->pat,
				     s->plen);
			if (!hit)
				break;
			report(s, pos - carry + (uint64_t)(hit - s->buf));
		}
		keep = s->plen - 1 < total ? s->plen - 1 : total;
		memmove(s->buf, s->buf + total - keep, keep);
		carry = keep;
		pos += (uint64_t)n;
		end_off += (uint64_t)n;
		cli_progress_add(&s->prog, (uint64_t)n);
	}
	return CLI_OK;
}

/* Build the pattern from PATTERN and -t. */
static int pattern(const char *tname, const char *arg, uint8_t **pat,
		   size_t *plen)
{
	const struct cli_type *t;
	uint64_t v;
	int ret;

	if (!strcmp(tname, "string")) {
		if (cli_parse_string(arg, pat, plen))
			return cli_usage("search", "bad escape in '%s'", arg);
	} else if (!strcmp(tname, "hex")) {
		if (cli_parse_hex(arg, pat, plen))
			return cli_usage("search", "'%s' is not hex bytes",
					 arg);
	} else if (!strcmp(tname, "bytes")) {
		ret = cli_read_file(arg, pat, plen);
		if (ret) {
			cli_err("search: cannot read '%s': %s", arg,
				strerror(-ret));
			return ret == -ENOMEM ? CLI_NOMEM : CLI_IO;
		}
	} else {
		t = cli_type_find(tname);
		if (!t)
			return cli_usage("search", "unknown type '%s'", tname);
		if (cli_parse_value(arg, t->size * 8, &v))
			return cli_usage("search", "'%s' is not a value of "
						   "type %s", arg, tname);
		*pat = malloc(t->size);
		if (!*pat)
			return cli_nomem();
		cli_type_put(t, *pat, v);
		*plen = t->size;
	}
	if (!*plen) {
		free(*pat);
		return cli_usage("search", "the pattern is empty");
	}
	return CLI_OK;
}

static void summary_json(struct search *s, uint64_t start, uint64_t len)
{
	size_t i;

	printf("],\"count\":%" PRIu64 ",\"complete\":%s,\"pattern\":\"",
	       s->count, s->stop ? "false" : "true");
	for (i = 0; i < s->plen; i++)
		printf("%02x", s->pat[i]);
	printf("\",\"start\":");
	cli_json_addr(stdout, start);
	printf(",\"last\":");
	cli_json_addr(stdout, start + (len - 1));
	printf(",\"searched\":%" PRIu64 ",\"unreadable\":[",
	       s->prog.done - s->bad.bytes - s->gone.bytes);
	for (i = 0; i < s->bad.n; i++) {
		const struct cli_bad *b = &s->bad.v[i];

		printf("%s{\"start\":", i ? "," : "");
		cli_json_addr(stdout, b->gpa);
		printf(",\"last\":");
		cli_json_addr(stdout, b->gpa + b->len - 1);
		printf(",\"size\":%" PRIu64 ",\"error\":", b->len);
		cli_json_str(stdout, strerror(-b->err));
		printf("}");
	}
	printf("]}\n");
}

int cli_cmd_search(struct cli *c, int argc, char **argv)
{
	struct search s = { .align = 1 };
	const char *tname = "string";
	const struct cli_opt opts[] = {
		{ 't', "type", CLI_ARG_STRING, .p = &tname },
		{ 'a', "align", CLI_ARG_NUMBER, .p = &s.align,
		  .what = "alignment" },
		{ 'm', "max", CLI_ARG_NUMBER, .p = &s.max, .what = "maximum" },
		{ 0 },
	};
	uint8_t *pat = NULL;
	uint64_t start, len;
	size_t i;
	int ret;

	ret = cli_getopt(c, "search", opts, &argc, &argv);
	if (ret)
		return ret;
	if (argc < 1)
		return cli_usage("search", "missing PATTERN");
	ret = cli_range_args(c, "search", argc - 1, argv + 1, &start, &len);
	if (ret)
		return ret;
	ret = pattern(tname, argv[0], &pat, &s.plen);
	if (ret)
		return ret;
	s.pat = pat;
	s.json = c->json;
	s.w = cli_addr_width(start + (len - 1));
	s.buf = malloc(CLI_CHUNK + s.plen);
	if (!s.buf) {
		free(pat);
		return cli_nomem();
	}
	if (s.json)
		printf("{\"matches\":[");
	cli_progress_start(c, &s.prog, "search", cli_covered(c, start, len));
	ret = cli_runs(c, start, len, 0, scan_run, &s);
	cli_progress_end(&s.prog);
	if (s.json)
		summary_json(&s, start, len);
	if (!ret && s.bad.n) {
		char sz[32];

		cli_err("search: %s in %zu range%s could not be read and was "
			"not searched:", cli_size(s.bad.bytes, sz), s.bad.n,
			s.bad.n == 1 ? "" : "s");
		for (i = 0; i < s.bad.n && i < 8; i++)
			cli_err("  0x%" PRIx64 "-0x%" PRIx64 ": %s",
				s.bad.v[i].gpa,
				s.bad.v[i].gpa + s.bad.v[i].len - 1,
				strerror(-s.bad.v[i].err));
		if (s.bad.n > 8)
			cli_err("  ... and %zu more (see --json)",
				s.bad.n - 8);
	}
	if (!ret)
		ret = s.count ? CLI_OK : s.bad.n ? CLI_PARTIAL : CLI_NOMATCH;
	cli_bad_free(&s.bad);
	cli_bad_free(&s.gone);
	free(s.buf);
	free(pat);
	return ret;
}
