/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): info, the layout of the space: every region with its
 * range, size, access, backend and source, the holes between them, and
 * the notes of the dumps opened with --core.
 */
#include "config.h"

#include <inttypes.h>

#include "cli.h"

/* Bytes in all regions. */
static uint64_t space_bytes(const struct cli *c)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < c->nreg; i++)
		n += c->reg[i].last - c->reg[i].gpa + 1;
	return n;
}

static void info_row(int w, uint64_t a, uint64_t last, const char *access,
		     const char *backend, const char *desc)
{
	char sz[32];

	printf("  0x%0*" PRIx64 "  0x%0*" PRIx64 "  %-10s %-6s %-*s%s\n", w,
	       a, w, last, last - a == UINT64_MAX ? "16 EiB"
						  : cli_size(last - a + 1, sz),
	       access, *desc ? 13 : 0, backend, desc);
}

static void info_json(struct cli *c)
{
	size_t i;
	int first = 1;

	printf("{\"space\":");
	cli_json_str(stdout, gm_space_name(c->space));
	printf(",\"regions\":[");
	for (i = 0; i < c->nreg; i++) {
		const struct cli_region *r = &c->reg[i];

		printf("%s{\"start\":", i ? "," : "");
		cli_json_addr(stdout, r->gpa);
		printf(",\"last\":");
		cli_json_addr(stdout, r->last);
		printf(",\"size\":%" PRIu64 ",\"writable\":%s,\"backend\":",
		       r->last - r->gpa + 1, r->writable ? "true" : "false");
		cli_json_str(stdout, r->backend);
		printf(",\"source\":");
		cli_json_str(stdout, r->desc);
		printf("}");
	}
	printf("],\"holes\":[");
	for (i = 0; i + 1 < c->nreg; i++) {
		uint64_t a = c->reg[i].last + 1, b = c->reg[i + 1].gpa - 1;

		if (a > b)
			continue;
		printf("%s{\"start\":", first ? "" : ",");
		cli_json_addr(stdout, a);
		printf(",\"last\":");
		cli_json_addr(stdout, b);
		printf(",\"size\":%" PRIu64 "}", b - a + 1);
		first = 0;
	}
	printf("],\"bytes\":%" PRIu64, space_bytes(c));
	if (c->core_note) {
		printf(",\"notes\":");
		cli_json_str(stdout, c->core_note);
	}
	printf("}\n");
}

int cli_cmd_info(struct cli *c, int argc, char **argv)
{
	char sz[32];
	size_t i;
	int ret, w;

	ret = cli_getopt(c, "info", NULL, &argc, &argv);
	if (ret)
		return ret;
	if (argc)
		return cli_usage("info", "unexpected argument '%s'", argv[0]);
	if (c->json) {
		info_json(c);
		return CLI_OK;
	}
	printf("space '%s': %zu region%s, %s\n", gm_space_name(c->space),
	       c->nreg, c->nreg == 1 ? "" : "s",
	       cli_size(space_bytes(c), sz));
	if (!c->nreg)
		return CLI_OK;
	w = cli_addr_width(c->reg[c->nreg - 1].last);
	printf("  %-*s  %-*s  %-10s %-6s %-12s %s\n", w + 2, "START", w + 2,
	       "LAST", "SIZE", "ACCESS", "BACKEND", "SOURCE");
	for (i = 0; i < c->nreg; i++) {
		const struct cli_region *r = &c->reg[i];

		if (i && c->reg[i - 1].last + 1 < r->gpa)
			info_row(w, c->reg[i - 1].last + 1, r->gpa - 1, "-",
				 "hole", "");
		info_row(w, r->gpa, r->last, r->writable ? "rw" : "ro",
			 r->backend, r->desc);
	}
	if (c->core_note)
		fputs(c->core_note, stdout);
	return CLI_OK;
}
