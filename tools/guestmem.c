/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): read, write, search, dump and restore a virtual machine's
 * memory from the command line, through libguestmem.
 *
 *   guestmem [OPTION]... TARGET... COMMAND [ARG]... [';' COMMAND [ARG]...]
 *
 * This file parses the global options and targets, splits the command
 * list at ';' arguments, opens the targets once (read-write only when a
 * command writes) and runs the commands in order, stopping at the first
 * that fails.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <guestmem/version.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	int writes;	  /* needs the targets open read-write */
	const char *args; /* synopsis after the name */
	const char *help; /* what it does, and its options */
};

static const struct command commands[] = {
	{ "info", cli_cmd_info, 0, "[--json]",
	  "Show the layout: every region with its address range, size,\n"
	  "access, backend and source, and the holes between them.\n" },
	{ "read", cli_cmd_read, 0,
	  "[-t TYPE] [-x|-d|-s] [-p] [-o FILE] ADDR [COUNT]",
	  "Read COUNT values (default 1) of TYPE at ADDR and print them, four\n"
	  "to sixteen per line after their address.  All or nothing: a hole\n"
	  "anywhere in the range prints nothing and fails.\n"
	  "  -t, --type TYPE   u8 u16 u32 u64 (host order), le16 le32 le64,\n"
	  "                    be16 be32 be64, or bytes: COUNT raw bytes to\n"
	  "                    stdout or -o FILE (default u32)\n"
	  "  -x, --hex         hexadecimal, zero-padded (default)\n"
	  "  -d, --dec         unsigned decimal\n"
	  "  -s, --signed      signed decimal\n"
	  "  -p, --plain       values only, one per line, no addresses\n"
	  "  -o, --output FILE with -t bytes: write to FILE (atomically)\n" },
	{ "hexdump", cli_cmd_hexdump, 0, "[-t TYPE] [-v] ADDR [LEN]",
	  "Hex and ASCII dump of LEN bytes (default 256) at ADDR, 16 bytes\n"
	  "per line.  Repeated lines are shown once, then '*'.  Holes and\n"
	  "pages that cannot be read are shown as marked lines, and the exit\n"
	  "code is then 7 (3 if nothing could be read).\n"
	  "  -t, --type TYPE   group the hex column as values of an integer\n"
	  "                    TYPE (default u8: single bytes)\n"
	  "  -v, --no-squeeze  print repeated lines too\n" },
	{ "write", cli_cmd_write, 1, "[-t TYPE] [-i FILE] ADDR [VALUE]...",
	  "Write VALUEs at ADDR, one after the other.  The whole range is\n"
	  "checked before the first byte is written.\n"
	  "  -t, --type TYPE   an integer type (default u32): one VALUE per\n"
	  "                    element, negative decimals allowed (put '--'\n"
	  "                    before them);\n"
	  "                    hex: VALUEs are hex bytes ('de ad', 'dead');\n"
	  "                    string: one VALUE, with the escapes\n"
	  "                    \\n \\t \\r \\0 \\\\ \\xHH;\n"
	  "                    bytes: raw bytes from stdin or -i FILE\n"
	  "  -i, --input FILE  with -t bytes: read FILE instead of stdin\n" },
	{ "fill", cli_cmd_fill, 1, "[-t TYPE] ADDR LEN VALUE",
	  "Fill LEN bytes at ADDR with VALUE repeated, as TYPE (default u8);\n"
	  "LEN must be a multiple of the type's size.\n" },
	{ "copy", cli_cmd_copy, 1, "SRC DST LEN",
	  "Copy LEN bytes from guest address SRC to guest address DST; the\n"
	  "ranges may overlap (memmove).\n" },
	{ "search", cli_cmd_search, 0,
	  "[-t TYPE] [-a ALIGN] [-m MAX] [--json] PATTERN [ADDR [LEN]]",
	  "Print the guest address of every occurrence of PATTERN in\n"
	  "[ADDR, ADDR + LEN) (default: all memory), one per line.  Holes\n"
	  "are skipped; a match never spans one.\n"
	  "  -t, --type TYPE   string (default, with \\ escapes), hex, bytes\n"
	  "                    (PATTERN is a file, - for stdin) or an integer\n"
	  "                    type (PATTERN is a number)\n"
	  "  -a, --align N     report only matches at multiples of N\n"
	  "  -m, --max N       stop after N matches\n"
	  "Exit: 0 found, 1 none, 7 none but some pages could not be read.\n" },
	{ "dump", cli_cmd_dump, 0, "[--json] FILE [ADDR [LEN]]",
	  "Dump [ADDR, ADDR + LEN) (default: every region) to FILE, an ELF64\n"
	  "core whose PT_LOAD segments carry guest-physical addresses.\n"
	  "Holes are left out, pages that cannot be read are recorded in a\n"
	  "note and left out; zero pages are sparse.  FILE is written to a\n"
	  "temporary file and renamed into place when complete.\n"
	  "Exit: 0, or 7 when some pages inside regions could not be read.\n" },
	{ "restore", cli_cmd_restore, 1, "[--json] FILE",
	  "Write every segment of FILE (a dump) back to its guest address.\n"
	  "Every segment is checked to be writable before anything is\n"
	  "written; a failure part way names what was written.\n" },
	{ "help", NULL, 0, "[COMMAND]", "Show help for COMMAND.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static const char exit_codes[] =
	"Exit status:\n"
	"  0  success\n"
	"  1  search: no match\n"
	"  2  usage: bad option, argument, number or value\n"
	"  3  bad address: a hole, a range past 2^64, or a page the backend\n"
	"     cannot map (Xen: a frame or grant it refused)\n"
	"  4  access denied: write to read-only memory, no permission\n"
	"  5  I/O error on a local file (image, dump, input, output)\n"
	"  6  Xen or backend error: Xen not available, no such domain\n"
	"  7  partial: done, but some guest pages could not be read\n"
	"  8  out of memory or another system error\n";

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: guestmem [OPTION]... TARGET... COMMAND [ARG]... "
		"[';' COMMAND [ARG]...]\n"
		"Read, write, search, dump and restore a virtual machine's "
		"memory.\n\n"
		"Targets (several combine into one guest address space):\n"
		"  --image FILE[@GPA]      a memory image file mapped at GPA "
		"(default 0)\n"
		"  --anon SIZE[@GPA]       new zeroed memory (gone at exit)\n"
		"  --core FILE             a dump made by 'dump', at its "
		"addresses\n"
		"  --xen-domid DOMID       all memory of a Xen domain\n"
		"  --xen-grant DOMID:GREF[,COUNT]\n"
		"                          COUNT grant refs of DOMID from "
		"GREF, at\n"
		"                          0x8000000000000000 | GREF << 12\n"
		"Options:\n"
		"  --read-only             open every target read-only, even "
		"for writes\n"
		"  --xen-cache SIZE        Xen mapping budget (default 64M)\n"
		"  --json                  JSON output (info, search, dump, "
		"restore)\n"
		"  --progress, --no-progress\n"
		"                          force the progress bar on or off "
		"(default:\n"
		"                          on when stderr is a terminal)\n"
		"  -q, --quiet             no summaries, and no progress bar "
		"unless\n"
		"                          --progress is given\n"
		"  -h, --help              this help; 'guestmem help CMD' for "
		"one\n"
		"  -V, --version           version\n\n"
		"Targets open read-only, unless a command writes (write, "
		"fill, copy,\n"
		"restore).  Numbers: 0x hex or decimal, optional K M G T "
		"suffix (x1024).\n\n"
		"Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].args);
	fprintf(f, "\nExample:\n"
		   "  guestmem --image mem.img write -t le32 0x1000 0xcafe "
		   "';' read -t le32 0x1000\n\n%s",
		exit_codes);
}

/* Print one command's usage to @f. */
static void command_usage(FILE *f, const char *cmd)
{
	const struct command *k = command_find(cmd);

	if (!k)
		return;
	fprintf(f, "Usage: guestmem TARGET... %s %s\n%s", k->name, k->args,
		k->help);
	if (k->fn)
		fprintf(f, "Every command also takes --json, --progress, "
			   "--no-progress, -q and -h.\n");
}

static const struct option global_opts[] = {
	{ "image", required_argument, NULL, 'I' },
	{ "anon", required_argument, NULL, 'A' },
	{ "core", required_argument, NULL, 'C' },
	{ "xen-domid", required_argument, NULL, 'D' },
	{ "xen-grant", required_argument, NULL, 'G' },
	{ "xen-cache", required_argument, NULL, 'X' },
	{ "read-only", no_argument, NULL, 'R' },
	{ "version", no_argument, NULL, 'V' },
	CLI_COMMON_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

/* Run one command: argv[0] is its name, ';' already cut off. */
static int run(struct cli *c, const struct command *k, int argc, char **argv)
{
	int ret = k->fn(c, argc, argv);

	/* -h: the command's usage, and then nothing else runs, as after
	 * --help. */
	if (ret == CLI_HELP)
		command_usage(stdout, k->name);
	return ret;
}

static int help_command(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return CLI_OK;
	}
	if (!command_find(argv[1]))
		return cli_usage(NULL, "no command '%s'", argv[1]);
	command_usage(stdout, argv[1]);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	struct cli c = { .progress = -1 };
	const struct command *k;
	int opt, ret, i, first, writing = 0;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS "V",
				  global_opts, NULL)) != -1) {
		switch (opt) {
		case 'I':
		case 'A':
		case 'C':
		case 'D':
		case 'G':
		case 'X':
			ret = cli_target_add(&c, opt, optarg);
			if (ret)
				return ret;
			break;
		case 'R':
			c.read_only = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'V':
			printf("guestmem (libguestmem) %d.%d.%d\n",
			       GM_VERSION_MAJOR, GM_VERSION_MINOR,
			       GM_VERSION_PATCH);
			return CLI_OK;
		default:
			if (cli_common_opt(&c, NULL, opt, argv))
				return CLI_USAGE;
			break;
		}
	}
	if (optind >= argc)
		return cli_usage(NULL, "no command given");
	if (!strcmp(argv[optind], "help"))
		return help_command(argc - optind, argv + optind);

	/* Check every command name before opening anything, and learn
	 * whether any of them writes. */
	for (i = first = optind; i <= argc; i++) {
		if (i < argc && strcmp(argv[i], ";"))
			continue;
		if (i == first)
			return cli_usage(NULL, "empty command before ';'");
		k = command_find(argv[first]);
		if (!k || !k->fn)
			return cli_usage(NULL, "no command '%s'", argv[first]);
		writing |= k->writes;
		first = i + 1;
	}
	c.writing = writing;

	ret = cli_targets_open(&c);
	for (i = first = optind; !ret && i <= argc; i++) {
		if (i < argc && strcmp(argv[i], ";"))
			continue;
		argv[i < argc ? i : argc] = NULL;
		ret = run(&c, command_find(argv[first]), i - first,
			  argv + first);
		first = i + 1;
	}
	cli_targets_close(&c);
	free((void *)c.core_note);
	if (ret == CLI_HELP)
		return CLI_OK;
	/* Output that never reached its file is an I/O error too. */
	if (fflush(stdout) || ferror(stdout)) {
		cli_err("error writing to standard output: %s",
			strerror(errno));
		if (!ret)
			ret = CLI_IO;
	}
	return ret;
}
