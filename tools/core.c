/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): dump, restore, and --core targets.
 *
 * The dump format is an ELF64 core file (ET_CORE, the host's machine and
 * byte order), so readelf(1) and other ELF tools can read it:
 *
 *   offset 0        the ELF header
 *   offset 4096...  segment data, each segment at a page-aligned offset;
 *                   all-zero pages are left as file holes (sparse)
 *   after the data  one PT_NOTE segment's notes, then the program headers
 *
 * Every PT_LOAD segment is one readable run of one region: p_paddr (and
 * p_vaddr) is its guest-physical address, p_filesz == p_memsz its length,
 * PF_W set when the region was writable.  Holes between regions are left
 * out.  Pages inside a region that could not be read are left out too and
 * listed in a note, so "not in the dump" never silently means "zero".
 *
 * The notes, owner "GUESTMEM":
 *   type 0x474d0001 (GM_NOTE_INFO): NUL-terminated text, lines "key value":
 *          "format 1", "space <name>", "range <first>-<last>" (hex);
 *   type 0x474d0002 (GM_NOTE_UNREADABLE): an array of
 *          { uint64_t gpa, len; int32_t errno; uint32_t zero; } in the
 *          file's byte order: ranges that could not be read, and why.
 *
 * More than 65534 segments use the ELF extended numbering (PN_XNUM, the
 * real count in section header 0's sh_info), as Linux core dumps do.
 */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <guestmem/unix.h>

#include "cli.h"

#define NOTE_OWNER "GUESTMEM"
#define GM_NOTE_INFO 0x474d0001u /* "GM" 1 */
#define GM_NOTE_UNREADABLE 0x474d0002u

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ELFDATA ELFDATA2LSB
#else
#define HOST_ELFDATA ELFDATA2MSB
#endif

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#else
#define HOST_MACHINE EM_NONE
#endif

struct note_bad {
	uint64_t gpa, len;
	int32_t err; /* positive errno */
	uint32_t zero;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---- writing a dump ---- */

struct dump {
	struct cli_outfile out;
	Elf64_Phdr *ph; /* ph[0] is the PT_NOTE */
	size_t nph, cap;
	uint64_t off; /* next free file offset */
	int open;     /* ph[nph - 1] is still growing */
	uint8_t *buf;
	struct cli_badlist bad;
	struct cli_progress prog;
	uint64_t bytes;
};

static int ph_add(struct dump *d)
{
	Elf64_Phdr *n;

	if (d->nph == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;

		n = realloc(d->ph, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->ph = n;
		d->cap = cap;
	}
	memset(&d->ph[d->nph++], 0, sizeof(*d->ph));
	return 0;
}

/* Write @n bytes of guest data at file offset @off, leaving whole zero
 * pages as holes. */
static int write_sparse(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	static const uint8_t zero[CLI_PAGE];
	size_t i = 0, j;
	int ret;

	while (i < n) {
		/* Pieces end on file page boundaries, so a zero piece is a
		 * whole page the file system can leave unallocated. */
		j = i + (size_t)(CLI_PAGE - (off + i) % CLI_PAGE);
		if (j > n)
			j = n;
		if (j - i == CLI_PAGE && !memcmp(p + i, zero, CLI_PAGE)) {
			i = j;
			continue;
		}
		ret = cli_write_all(fd, p + i, j - i, (int64_t)(off + i));
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

/* Dump one region's part of the range: called by cli_runs(). */
static int dump_run(struct cli *c, uint64_t gpa, uint64_t len,
		    const struct cli_region *r, void *arg)
{
	struct dump *d = arg;
	uint64_t done = 0;
	ssize_t n;
	int ret;

	d->open = 0;
	while (done < len) {
		uint64_t rem = len - done, at = gpa + done;
		size_t want = rem < CLI_CHUNK ? (size_t)rem : CLI_CHUNK;

		n = gm_read_partial(c->space, at, d->buf, want);
		if (n <= 0) {
			uint64_t skip = CLI_PAGE - at % CLI_PAGE;
			int err = n ? (int)n : -EIO;

			if (cli_read_fatal(err)) {
				cli_progress_end(&d->prog);
				return cli_fail(err);
			}
			if (skip > rem)
				skip = rem;
			if (cli_bad_add(&d->bad, at, skip, err))
				goto nomem;
			d->open = 0;
			done += skip;
			cli_progress_add(&d->prog, skip);
			continue;
		}
		if (!d->open) {
			if (ph_add(d))
				goto nomem;
			Elf64_Phdr *p = &d->ph[d->nph - 1];

			p->p_type = PT_LOAD;
			p->p_flags = PF_R | (r->writable ? PF_W : 0);
			p->p_offset = align_up(d->off, CLI_PAGE);
			p->p_vaddr = p->p_paddr = at;
			p->p_align = CLI_PAGE;
			d->open = 1;
		}
		Elf64_Phdr *p = &d->ph[d->nph - 1];

		ret = write_sparse(d->out.fd, d->buf, (size_t)n,
				   p->p_offset + p->p_filesz);
		if (ret) {
			cli_progress_end(&d->prog);
			cli_err("dump: cannot write '%s': %s", d->out.path,
				strerror(-ret));
			return CLI_IO;
		}
		p->p_filesz += (uint64_t)n;
		p->p_memsz = p->p_filesz;
		d->off = p->p_offset + p->p_filesz;
		d->bytes += (uint64_t)n;
		done += (uint64_t)n;
		cli_progress_add(&d->prog, (uint64_t)n);
	}
	return CLI_OK;
nomem:
	cli_err("out of memory");
	return CLI_NOMEM;
}

/* Append one note (header, padded name, padded descriptor) to @b. */
static size_t note_put(uint8_t *b, uint32_t type, const void *desc,
		       size_t len)
{
	Elf64_Nhdr nh = { .n_namesz = sizeof(NOTE_OWNER),
			  .n_descsz = (Elf64_Word)len,
			  .n_type = type };
	size_t at = sizeof(nh);

	memcpy(b, &nh, sizeof(nh));
	memset(b + at, 0, align_up(sizeof(NOTE_OWNER), 4));
	memcpy(b + at, NOTE_OWNER, sizeof(NOTE_OWNER));
	at += align_up(sizeof(NOTE_OWNER), 4);
	memset(b + at, 0, align_up(len, 4));
	memcpy(b + at, desc, len);
	return at + align_up(len, 4);
}

/* Write the notes, the program headers and the ELF header. */
static int dump_finish(struct cli *c, struct dump *d, uint64_t start,
		       uint64_t len)
{
	char info[256];
	size_t ilen, blen, nlen, i, phnum = d->nph;
	struct note_bad *nb = NULL;
	uint8_t *notes = NULL;
	Elf64_Shdr sh = { 0 };
	Elf64_Ehdr eh = { 0 };
	uint64_t at;
	int ret = -ENOMEM;

	ilen = (size_t)snprintf(info, sizeof(info),
				"format 1\nspace %s\nrange 0x%" PRIx64
				"-0x%" PRIx64 "\n",
				gm_space_name(c->space), start,
				start + (len - 1)) + 1;
	blen = d->bad.n * sizeof(*nb);
	nb = calloc(d->bad.n + 1, sizeof(*nb));
	notes = malloc(2 * (sizeof(Elf64_Nhdr) + 12) + ilen + blen + 8);
	if (!nb || !notes)
		goto out;
	for (i = 0; i < d->bad.n; i++)
		nb[i] = (struct note_bad){ .gpa = d->bad.v[i].gpa,
					   .len = d->bad.v[i].len,
					   .err = -d->bad.v[i].err };
	nlen = note_put(notes, GM_NOTE_INFO, info, ilen);
	nlen += note_put(notes + nlen, GM_NOTE_UNREADABLE, nb, blen);

	at = align_up(d->off, 8);
	d->ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE,
				 .p_offset = at,
				 .p_filesz = nlen,
				 .p_align = 4 };
	ret = cli_write_all(d->out.fd, notes, nlen, (int64_t)at);
	at = align_up(at + nlen, 8);

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = HOST_ELFDATA;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = HOST_MACHINE;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phoff = at;
	eh.e_phnum = phnum < PN_XNUM ? (Elf64_Half)phnum : PN_XNUM;
	if (!ret)
		ret = cli_write_all(d->out.fd, d->ph, phnum * sizeof(*d->ph),
				    (int64_t)at);
	at += phnum * sizeof(*d->ph);
	if (phnum >= PN_XNUM) {
		/* Extended numbering: section header 0 holds the count. */
		eh.e_shoff = at;
		eh.e_shentsize = sizeof(sh);
		eh.e_shnum = 1;
		sh.sh_info = (Elf64_Word)phnum;
		if (!ret)
			ret = cli_write_all(d->out.fd, &sh, sizeof(sh),
					    (int64_t)at);
	}
	if (!ret)
		ret = cli_write_all(d->out.fd, &eh, sizeof(eh), 0);
out:
	free(nb);
	free(notes);
	return ret;
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
	char sz[32];
	size_t i;
	int first = 1;

	if (c->json) {
		printf("{\"file\":");
		cli_json_str(stdout, path);
		printf(",\"start\":");
		cli_json_addr(stdout, start);
		printf(",\"last\":");
		cli_json_addr(stdout, start + (len - 1));
		printf(",\"segments\":%zu,\"bytes\":%" PRIu64 ",\"holes\":[",
		       d->nph - 1, d->bytes);
		hole_walk(c, start, len, hole_json, &first);
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
	       cli_size(d->bytes, sz), d->nph - 1, d->nph == 2 ? "" : "s");
	hole_walk(c, start, len, hole_text, NULL);
	for (i = 0; i < d->bad.n; i++)
		range_line("unreadable", d->bad.v[i].gpa, d->bad.v[i].len,
			   strerror(-d->bad.v[i].err));
}

int cli_cmd_dump(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
						  { NULL, 0, NULL, 0 } };
	struct dump d = { .off = CLI_PAGE };
	uint64_t start, len;
	int opt, ret, err;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		ret = cli_common_opt(c, "dump", opt, argv);
		if (ret)
			return ret;
	}
	argc -= optind;
	argv += optind;
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
	if (!d.buf || ph_add(&d)) {
		free(d.buf);
		cli_err("out of memory");
		return CLI_NOMEM;
	}
	if (cli_out_open(&d.out, argv[0])) {
		ret = CLI_IO;
		goto out;
	}
	cli_progress_start(c, &d.prog, "dump", cli_covered(c, start, len));
	ret = cli_runs(c, start, len, 1, dump_run, &d);
	cli_progress_end(&d.prog);
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
	free(d.ph);
	free(d.buf);
	return ret;
}

/* ---- reading a dump ---- */

struct core {
	const char *path;
	int fd;
	uint64_t size;
	Elf64_Phdr *ph;
	size_t nph;
	char *info;		/* GM_NOTE_INFO text, or NULL */
	struct note_bad *bad;	/* GM_NOTE_UNREADABLE entries */
	size_t nbad;
};

static void core_free(struct core *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->ph);
	free(k->info);
	free(k->bad);
}

static int core_bad(const struct core *k, const char *why)
{
	cli_err("'%s' is not a dump guestmem can read: %s", k->path, why);
	return CLI_IO;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO; /* the file is shorter than it says */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Read our notes out of one PT_NOTE segment; others' notes are skipped. */
static int core_notes(struct core *k, const Elf64_Phdr *p)
{
	uint8_t *b;
	size_t at = 0;
	int ret;

	if (p->p_filesz > (1u << 26))
		return 0; /* not ours: ours are small */
	b = malloc(p->p_filesz + 1);
	if (!b)
		return -ENOMEM;
	ret = pread_all(k->fd, b, p->p_filesz, p->p_offset);
	while (!ret && at + sizeof(Elf64_Nhdr) <= p->p_filesz) {
		Elf64_Nhdr nh;
		size_t name, desc;

		memcpy(&nh, b + at, sizeof(nh));
		name = at + sizeof(nh);
		desc = name + align_up(nh.n_namesz, 4);
		if (nh.n_namesz > p->p_filesz || nh.n_descsz > p->p_filesz ||
		    desc + nh.n_descsz > p->p_filesz)
			break; /* truncated: ignore the rest */
		if (nh.n_namesz == sizeof(NOTE_OWNER) &&
		    !memcmp(b + name, NOTE_OWNER, sizeof(NOTE_OWNER))) {
			if (nh.n_type == GM_NOTE_INFO && !k->info) {
				k->info = strndup((char *)b + desc,
						  nh.n_descsz);
			} else if (nh.n_type == GM_NOTE_UNREADABLE &&
				   !k->bad) {
				k->nbad = nh.n_descsz / sizeof(*k->bad);
				k->bad = malloc(k->nbad * sizeof(*k->bad) + 1);
				if (k->bad)
					memcpy(k->bad, b + desc,
					       k->nbad * sizeof(*k->bad));
			}
		}
		at = desc + align_up(nh.n_descsz, 4);
	}
	free(b);
	return ret;
}

/* Open and check a dump: header, program headers, our notes. */
static int core_load(struct core *k, const char *path, int rw)
{
	Elf64_Ehdr eh;
	struct stat st;
	size_t i, n;
	int ret;

	memset(k, 0, sizeof(*k));
	k->path = path;
	k->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (k->fd < 0) {
		cli_err("cannot open dump '%s'%s: %s", path,
			rw ? " for writing" : "", strerror(errno));
		return errno == EACCES || errno == EROFS ? CLI_DENIED : CLI_IO;
	}
	if (fstat(k->fd, &st) < 0) {
		cli_err("cannot stat '%s': %s", path, strerror(errno));
		return CLI_IO;
	}
	k->size = (uint64_t)st.st_size;
	if (k->size < sizeof(eh) || pread_all(k->fd, &eh, sizeof(eh), 0))
		return core_bad(k, "too short for an ELF header");
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return core_bad(k, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != HOST_ELFDATA)
		return core_bad(k, "not 64-bit ELF in this host's byte order");
	if (eh.e_type != ET_CORE)
		return core_bad(k, "not an ELF core file");
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return core_bad(k, "unexpected program header size");
	n = eh.e_phnum;
	if (n == PN_XNUM) {
		Elf64_Shdr sh;

		if (!eh.e_shoff || eh.e_shentsize != sizeof(sh) ||
		    pread_all(k->fd, &sh, sizeof(sh), eh.e_shoff))
			return core_bad(k, "bad extended segment count");
		n = sh.sh_info;
	}
	if (eh.e_phoff > k->size || n > (k->size - eh.e_phoff) / sizeof(*k->ph))
		return core_bad(k, "program headers past the end of the file");
	k->ph = malloc((n + 1) * sizeof(*k->ph));
	if (!k->ph) {
		cli_err("out of memory");
		return CLI_NOMEM;
	}
	k->nph = n;
	if (pread_all(k->fd, k->ph, n * sizeof(*k->ph), eh.e_phoff))
		return core_bad(k, "cannot read the program headers");
	for (i = 0; i < n; i++) {
		const Elf64_Phdr *p = &k->ph[i];

		if (p->p_type == PT_NOTE && p->p_offset <= k->size &&
		    p->p_filesz <= k->size - p->p_offset) {
			ret = core_notes(k, p);
			if (ret == -ENOMEM) {
				cli_err("out of memory");
				return CLI_NOMEM;
			}
		}
		if (p->p_type != PT_LOAD)
			continue;
		if (p->p_filesz > p->p_memsz || p->p_offset > k->size ||
		    p->p_filesz > k->size - p->p_offset)
			return core_bad(k, "a segment lies past the end of "
					   "the file");
		if (cli_wraps(p->p_paddr, p->p_memsz))
			return core_bad(k, "a segment wraps past 2^64");
	}
	return CLI_OK;
}

/* Describe a dump's notes for info. */
static int core_describe(struct cli *c, const struct core *k)
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
		const struct note_bad *b = &k->bad[i];

		if (!b->len)
			continue;
		if (asprintf(&add, "%s  unreadable when dumped: 0x%" PRIx64
			     "-0x%" PRIx64 " (%s): %s\n", s, b->gpa,
			     b->gpa + (b->len - 1), cli_size(b->len, sz),
			     strerror(b->err)) < 0)
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

int cli_core_open(struct cli *c, const char *path)
{
	long page = sysconf(_SC_PAGESIZE);
	int rw = c->writing && !c->read_only;
	struct gm_region *r;
	struct core k;
	size_t i, seg = 0;
	int ret;

	ret = core_load(&k, path, rw);
	for (i = 0; !ret && i < k.nph; i++) {
		const Elf64_Phdr *p = &k.ph[i];

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		seg++;
		if (p->p_filesz != p->p_memsz ||
		    (p->p_paddr | p->p_memsz | p->p_offset) % (uint64_t)page) {
			cli_err("dump '%s': segment %zu (0x%" PRIx64
				", %" PRIu64 " bytes) is not page-aligned or "
				"not all in the file; --core cannot map it "
				"(restore it into a target instead)",
				path, seg, p->p_paddr, p->p_memsz);
			ret = CLI_USAGE;
			break;
		}
		ret = gm_unix_region_new_fd(p->p_paddr, p->p_memsz, k.fd,
					    (int64_t)p->p_offset,
					    rw ? 0 : GM_UNIX_RDONLY, &r);
		if (ret) {
			cli_err("dump '%s': segment %zu: %s", path, seg,
				strerror(-ret));
			ret = CLI_IO;
			break;
		}
		ret = gm_space_add_region(c->space, r);
		if (ret) {
			gm_region_destroy(r);
			cli_err("dump '%s': %s", path, gm_last_error());
			ret = ret == -EEXIST ? CLI_USAGE : cli_exit_access(ret);
			break;
		}
		ret = 0;
		{
			struct cli_source *ns = realloc(
				c->src, (c->nsrc + 1) * sizeof(*ns));

			if (!ns) {
				cli_err("out of memory");
				ret = CLI_NOMEM;
				break;
			}
			c->src = ns;
			ns[c->nsrc].gpa = p->p_paddr;
			ns[c->nsrc].size = p->p_memsz;
			snprintf(ns[c->nsrc].desc, sizeof(ns->desc),
				 "dump '%s' segment %zu", path, seg);
			c->nsrc++;
		}
	}
	if (!ret && core_describe(c, &k)) {
		cli_err("out of memory");
		ret = CLI_NOMEM;
	}
	core_free(&k);
	return ret;
}

/* ---- restore ---- */

int cli_cmd_restore(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
						  { NULL, 0, NULL, 0 } };
	uint64_t total = 0, done = 0, skipped = 0;
	size_t i, nseg = 0, seg = 0;
	struct cli_progress prog;
	uint8_t *buf = NULL;
	struct core k;
	char a[32], b[32];
	int opt, ret;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		ret = cli_common_opt(c, "restore", opt, argv);
		if (ret)
			return ret;
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return cli_usage("restore", argc ? "too many arguments"
						 : "missing FILE");
	ret = core_load(&k, argv[0], 0);
	if (ret)
		goto out;
	/* Check every segment first: a hole or a read-only region fails
	 * the restore before anything is written. */
	for (i = 0; i < k.nph; i++) {
		const Elf64_Phdr *p = &k.ph[i];

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		ret = cli_check_range(c, "write", p->p_paddr, p->p_memsz, 1);
		if (ret) {
			cli_err("restore: nothing was written");
			goto out;
		}
		total += p->p_memsz;
		nseg++;
	}
	for (i = 0; i < k.nbad; i++)
		skipped += k.bad[i].len;
	buf = malloc(CLI_CHUNK);
	if (!buf) {
		cli_err("out of memory");
		ret = CLI_NOMEM;
		goto out;
	}
	cli_progress_start(c, &prog, "restore", total);
	for (i = 0; i < k.nph && !ret; i++) {
		const Elf64_Phdr *p = &k.ph[i];
		uint64_t off = 0;

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		seg++;
		while (off < p->p_memsz) {
			uint64_t rem = p->p_memsz - off;
			size_t n = rem < CLI_CHUNK ? (size_t)rem : CLI_CHUNK;
			ssize_t w = 0;
			int err;

			/* Past p_filesz a segment reads as zeros. */
			if (off >= p->p_filesz) {
				memset(buf, 0, n);
			} else {
				if (n > p->p_filesz - off)
					n = (size_t)(p->p_filesz - off);
				err = pread_all(k.fd, buf, n,
						p->p_offset + off);
				if (err) {
					cli_progress_end(&prog);
					cli_err("restore: cannot read '%s': %s",
						argv[0], strerror(-err));
					ret = CLI_IO;
					break;
				}
			}
			while ((size_t)w < n) {
				uint64_t at = p->p_paddr + off + (uint64_t)w;
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
				cli_size(total, b), seg, p->p_paddr,
				p->p_paddr + (p->p_memsz - 1),
				p->p_paddr + off);
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
	core_free(&k);
	return ret;
}
