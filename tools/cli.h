/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): declarations shared by the files of the command-line tool.
 *
 * The tool builds one guest address space out of the targets named on the
 * command line (memory images, anonymous memory, ELF dumps, a Xen domain,
 * Xen grant refs), then runs one or more commands on it.  Every command
 * returns an exit code from the list below; the first non-zero one ends
 * the run.
 */
#ifndef GUESTMEM_CLI_H
#define GUESTMEM_CLI_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <guestmem.h>

/* Exit codes: one per class of failure, documented in guestmem(1). */
enum cli_exit {
	CLI_OK = 0,
	CLI_NOMATCH = 1, /* search found nothing */
	CLI_USAGE = 2,	 /* bad command line, number or value */
	CLI_ADDR = 3,	 /* hole, bad range, page that cannot be mapped */
	CLI_DENIED = 4,	 /* write to read-only memory, no permission */
	CLI_IO = 5,	 /* a local file could not be read or written */
	CLI_XEN = 6,	 /* Xen or backend setup failed, domain gone */
	CLI_PARTIAL = 7, /* done, but some guest pages could not be read */
	CLI_NOMEM = 8,	 /* out of memory or another system error */
	/* Not an exit code: -h was given; the dispatcher prints the
	 * command's usage, runs nothing more and exits with CLI_OK. */
	CLI_HELP = -1,
};

/* The page size in which unreadable guest memory is recorded (Xen's). */
#define CLI_PAGE 4096u

/* Bytes one step of a long operation moves: bounds buffers and latency. */
#define CLI_CHUNK (1u << 20)

/* An element type of read, write, fill, search and hexdump. */
struct cli_type {
	const char *name;   /* "u8", "le32", ... */
	unsigned int size;  /* bytes */
	int order;	    /* CLI_HOST, CLI_LE or CLI_BE */
};
#define CLI_HOST 0
#define CLI_LE 1
#define CLI_BE 2

/* What a region of the space came from, for info and error messages. */
struct cli_source {
	uint64_t gpa, size;
	char desc[160];
};

/* A region of the space as a command sees it. */
struct cli_region {
	uint64_t gpa, last; /* [gpa, last], inclusive: last can be 2^64 - 1 */
	int writable;
	const char *backend;
	const char *desc; /* from the matching cli_source, or "" */
};

/* One recorded range of guest memory that could not be read. */
struct cli_bad {
	uint64_t gpa, len;
	int err; /* negative errno */
};

struct cli_badlist {
	struct cli_bad *v;
	size_t n, cap;
	uint64_t bytes;
	/* If set, pages that fail with -EINVAL go there instead: frames of
	 * a domain's region that have no page any more (given back since
	 * the physmap was read): holes, not failures (guestmem/xen.h). */
	struct cli_badlist *gone;
};

/* The state of one run of the tool. */
struct cli {
	struct gm_space *space;
	struct gm_xen *xen;
	int writing;	/* some command writes: open targets read-write */
	int read_only;	/* --read-only */
	int json;	/* --json */
	int progress;	/* -1 auto (stderr is a terminal), 0 off, 1 on */
	int quiet;	/* --quiet: no summaries on stdout */
	struct cli_source *src;
	size_t nsrc;
	struct cli_region *reg; /* snapshot of the layout once targets open */
	size_t nreg;
	const char *core_note; /* --core: text of its dump notes, or NULL */
	int domain;	/* --xen-domid: its regions are a domain's RAM */
};

/* Whether region @r is one of a --xen-domid domain's RAM regions, where
 * -EINVAL means "no page there" (see struct cli_badlist.gone). */
int cli_domain_ram(const struct cli *c, const struct cli_region *r);

/* ---- util.c ---- */

/* Print "guestmem: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error and a hint; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "out of memory"; returns CLI_NOMEM. */
int cli_nomem(void);
/* Report a failed library call with gm_last_error(); returns its exit
 * code. */
int cli_fail(int err);
/* The exit code for a negative errno from a guest memory access. */
int cli_exit_access(int err);

/*
 * Parse an unsigned number: 0x hexadecimal or decimal (never octal), with
 * an optional binary size suffix K, M, G, T (KiB, KB... accepted).
 * Return: 0, or -EINVAL (not a number) / -ERANGE (past 2^64 - 1).
 */
int cli_parse_u64(const char *s, uint64_t *out);
/* Parse a value of @bits bits: unsigned, or negative decimal down to
 * -2^(bits-1) (stored in two's complement).  Same returns. */
int cli_parse_value(const char *s, unsigned int bits, uint64_t *out);
/* cli_parse_u64 with a usage error naming @what on failure. */
int cli_arg_u64(const char *cmd, const char *what, const char *s,
		uint64_t *out);
/* cli_type_find with a usage error listing the types on failure. */
int cli_arg_type(const char *cmd, const char *name,
		 const struct cli_type **t);

/* Whether [gpa, gpa + len) wraps past 2^64 (len > 0). */
static inline int cli_wraps(uint64_t gpa, uint64_t len)
{
	return len && gpa + (len - 1) < gpa;
}

/* Look up an integer type by name; NULL if unknown. */
const struct cli_type *cli_type_find(const char *name);
/* Encode / decode one value of @t at @p (guest byte order). */
void cli_type_put(const struct cli_type *t, uint8_t *p, uint64_t v);
uint64_t cli_type_get(const struct cli_type *t, const uint8_t *p);

/* Decode a hex byte string ("de ad be ef", "deadbeef", "de:ad") into a
 * new buffer.  Return: 0, -EINVAL or -ENOMEM. */
int cli_parse_hex(const char *s, uint8_t **out, size_t *len);
/* Decode C escapes in @s (\n \t \r \0 \\ \xHH) into a new buffer. */
int cli_parse_string(const char *s, uint8_t **out, size_t *len);
/* Read a whole file ("-" is stdin) into a new buffer.  Return: 0 or a
 * negative errno. */
int cli_read_file(const char *path, uint8_t **out, size_t *len);

/*
 * An output file written in full or not at all: data goes to a temporary
 * file in the same directory, renamed over @path by cli_out_commit().
 */
struct cli_outfile {
	const char *path;
	char *tmp;
	int fd;
};
/* Return: 0 or a negative errno (printed). */
int cli_out_open(struct cli_outfile *o, const char *path);
/* fsync, close and rename; on failure the temporary file is removed.
 * Return: 0 or a negative errno (printed). */
int cli_out_commit(struct cli_outfile *o);
/* Remove the temporary file; @path is left as it was. */
void cli_out_abort(struct cli_outfile *o);
/* write(2) all of @buf at @off (or the current offset if @off < 0).
 * Return: 0 or a negative errno. */
int cli_write_all(int fd, const void *buf, size_t len, int64_t off);

/* Format a byte count: "4 KiB", "1.5 MiB", "17 bytes". */
const char *cli_size(uint64_t n, char buf[32]);
/* Hex digits needed to print addresses up to @last, at least 8. */
int cli_addr_width(uint64_t last);

/* JSON output helpers: a string with escapes, an address as "0x...". */
void cli_json_str(FILE *f, const char *s);
void cli_json_addr(FILE *f, uint64_t a);

/* Progress bar on stderr for long operations. */
struct cli_progress {
	int on;
	const char *what;
	uint64_t total, done;
	struct timespec start, last;
};
void cli_progress_start(struct cli *c, struct cli_progress *p,
			const char *what, uint64_t total);
void cli_progress_add(struct cli_progress *p, uint64_t n);
void cli_progress_end(struct cli_progress *p);
/* Erase the bar before other output; it is drawn again on the next add. */
void cli_progress_clear(struct cli_progress *p);

/* Record [gpa, gpa + len) as unreadable with @err, merging with the
 * previous range when it continues it with the same error.  Return: 0 or
 * -ENOMEM. */
int cli_bad_add(struct cli_badlist *b, uint64_t gpa, uint64_t len, int err);
void cli_bad_free(struct cli_badlist *b);
/*
 * A read of a scan that goes on past pages it cannot read (dump, search)
 * failed at @gpa with @n, gm_read_partial()'s 0 or negative errno, @rem
 * bytes before the end of the run.  Unless the failure ends the scan (out
 * of memory or mapping budget, or the domain is gone: every later page
 * would fail too), record the rest of the page, at most @rem bytes, as
 * unreadable in @b, count it in @p and set *skip to its length.
 * Return: CLI_OK, or the exit code after printing.
 */
int cli_scan_skip(struct cli_badlist *b, struct cli_progress *p,
		  uint64_t gpa, uint64_t rem, ssize_t n, uint64_t *skip);

/*
 * One option of a command, for cli_getopt(): its names and where its value
 * goes.  A command's table is an array ended by an entry with key 0.
 */
enum cli_arg {
	CLI_ARG_NONE,	/* no argument: *(int *)p = val */
	CLI_ARG_STRING, /* *(const char **)p = the argument */
	CLI_ARG_NUMBER, /* *(uint64_t *)p = the argument, a number other
			 * than 0, named @what in messages */
	CLI_ARG_TYPE,	/* *(const struct cli_type **)p = the integer type
			 * named, or NULL for the name @what if set */
};

struct cli_opt {
	int key;	  /* the short option */
	const char *name; /* the long option */
	enum cli_arg arg;
	void *p;
	int val;
	const char *what;
};

/* A command has at most this many options of its own. */
#define CLI_OPTS_MAX 8

/*
 * Parse the options of command @cmd: those of @opts (may be NULL) and the
 * ones every command takes, in any order among the operands.  On success
 * *argc and *argv are left with the operands alone.
 * Return: CLI_OK, CLI_USAGE (printed), or CLI_HELP for -h, which the
 * command returns for the dispatcher to print its usage.
 */
int cli_getopt(struct cli *c, const char *cmd, const struct cli_opt *opts,
	       int *argc, char ***argv);
/*
 * Handle an option of getopt_long() that is not a command's own: the
 * options every command (and the tool itself) takes, --json, --progress,
 * --no-progress, -q, -h, and getopt's errors ('?', ':').
 * Return: as cli_getopt().
 */
int cli_common_opt(struct cli *c, const char *cmd, int opt, char **argv);
/* Long options of cli_common_opt, to append to a getopt_long() table. */
#define CLI_OPT_JSON 0x1001
#define CLI_OPT_PROGRESS 0x1002
#define CLI_OPT_NO_PROGRESS 0x1003
#define CLI_COMMON_LONGOPTS                                                   \
	{ "json", no_argument, NULL, CLI_OPT_JSON },                          \
		{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },          \
		{ "no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS },    \
		{ "quiet", no_argument, NULL, 'q' },                          \
		{ "help", no_argument, NULL, 'h' }
/* The short options of cli_common_opt, for an optstring. */
#define CLI_COMMON_SHORTOPTS ":qh"

/* ---- target.c ---- */

/* Global options that name targets; each returns an exit code. */
int cli_target_add(struct cli *c, int opt, const char *arg);
/* Open every target given so far into c->space. */
int cli_targets_open(struct cli *c);
void cli_targets_close(struct cli *c);

/* The region that holds @gpa, or NULL in a hole. */
const struct cli_region *cli_region_at(const struct cli *c, uint64_t gpa);
/*
 * Check that [gpa, gpa + len) is covered by regions (and writable ones if
 * @write), reporting the first address that is not in the style of
 * gm_last_error().  Return: CLI_OK or the exit code, after printing.
 */
int cli_check_range(struct cli *c, const char *op, uint64_t gpa,
		    uint64_t len, int write);
/*
 * Walk the parts of [start, start + len) that regions cover, merged into
 * maximal runs of adjacent regions, in address order.  @fn returns an exit
 * code; a non-zero one stops the walk and is returned.
 */
int cli_runs(struct cli *c, uint64_t start, uint64_t len, int split,
	     int (*fn)(struct cli *c, uint64_t gpa, uint64_t len,
		       const struct cli_region *r, void *arg),
	     void *arg);
/* Bytes of [start, start + len) that regions cover. */
uint64_t cli_covered(struct cli *c, uint64_t start, uint64_t len);

/* Resolve an optional "[ADDR [LEN]]" pair: default is the whole span
 * from the lowest region start to the highest region end. */
int cli_range_args(struct cli *c, const char *cmd, int argc, char **argv,
		   uint64_t *start, uint64_t *len);

/* ---- cmd-*.c: the commands, run by guestmem.c ---- */
int cli_cmd_info(struct cli *c, int argc, char **argv);
int cli_cmd_read(struct cli *c, int argc, char **argv);
int cli_cmd_hexdump(struct cli *c, int argc, char **argv);
int cli_cmd_write(struct cli *c, int argc, char **argv);
int cli_cmd_fill(struct cli *c, int argc, char **argv);
int cli_cmd_copy(struct cli *c, int argc, char **argv);
int cli_cmd_search(struct cli *c, int argc, char **argv);
int cli_cmd_dump(struct cli *c, int argc, char **argv);
int cli_cmd_restore(struct cli *c, int argc, char **argv);

#endif /* GUESTMEM_CLI_H */
