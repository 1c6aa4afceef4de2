/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dumpcmp: the test guest's pattern frames in two cores of it, one written
 * by "xl dump-core" and one by "guestmem dump", compared page by page.  Runs
 * in the xen-qemu harness's dom0 (realxen-cli.sh); GM_XEN_DOMID names the
 * guest, whose published pattern runs (guest-proto.h) say which frames to
 * compare.
 *
 *	dumpcmp XL_CORE GUESTMEM_CORE
 *
 * xl dump-core's format (Xen's docs/misc/dump-core-format.txt) is an ELF64
 * ET_CORE file with section headers and no program headers: section
 * ".xen_pages" holds nr_pages pages, and ".xen_pfn" (auto-translated
 * guests: HVM and PVH) an array of nr_pages uint64_t frame numbers, entry i
 * naming page i; PV guests have ".xen_p2m", {pfn, gmfn} pairs, instead.
 * An entry of all ones is unused.  guestmem's format (guestmem(1), DUMP
 * FORMAT) is a core with PT_LOAD segments: p_paddr is the guest-physical
 * address, the data is at p_offset, p_filesz bytes of it and zeros up to
 * p_memsz; more than 65534 segments use PN_XNUM.  Both are read here, not
 * with the CLI's reader (tools/elfcore.c), so that guestmem's writer is
 * checked against the ELF specification too.
 *
 * Output: "# " lines (what each core holds, the first mismatches) and a
 * last line "dumpcmp: N frames: N equal, N with the pattern in xl's core,
 * N in guestmem's".  Exit status: 0 every pattern frame is in both cores,
 * equal, and holds its pattern; 1 one is missing or differs; 2 usage (a
 * malformed run) or a core that cannot be read or parsed.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-proto.h"

#define PAGE XQ_PAGE_SIZE
#define MAX_SHOWN 10 /* mismatches printed in full */

struct xl_entry {
	uint64_t pfn, index;
};

struct core {
	const char *path;
	int fd;
	Elf64_Ehdr eh;
	/* xl dump-core */
	struct xl_entry *ent; /* sorted by pfn */
	size_t nent;
	uint64_t pages_off;
	/* guestmem */
	Elf64_Phdr *load;
	size_t nload;
};

static int fail(const struct core *c, const char *what)
{
	fprintf(stderr, "dumpcmp: %s: %s\n", c->path, what);
	return -1;
}

static int read_at(const struct core *c, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(c->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(c, n ? strerror(errno) : "file too short");
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int open_elf(struct core *c, const char *path)
{
	static const uint8_t ident[] = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3,
					 ELFCLASS64, ELFDATA2LSB };

	c->path = path;
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return fail(c, strerror(errno));
	if (read_at(c, &c->eh, sizeof(c->eh), 0))
		return -1;
	/* Both are written in the host's (x86-64: little-endian) order. */
	if (memcmp(c->eh.e_ident, ident, sizeof(ident)) ||
	    c->eh.e_type != ET_CORE)
		return fail(c, "not a little-endian ELF64 core");
	return 0;
}

/* Section header i (with e_shnum == 0, header 0 says how many). */
static int shdr(const struct core *c, size_t i, Elf64_Shdr *sh)
{
	if (c->eh.e_shentsize != sizeof(*sh))
		return fail(c, "unexpected section header size");
	return read_at(c, sh, sizeof(*sh), c->eh.e_shoff + i * sizeof(*sh));
}

static int cmp_entry(const void *a, const void *b)
{
	const struct xl_entry *x = a, *y = b;

	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

static int open_xl(struct core *c, const char *path)
{
	Elf64_Shdr sh, strsh, pages = { 0 }, map = { 0 };
	size_t i, nsec, strndx, entsize = 0;
	uint64_t *raw = NULL, n;
	char *names = NULL;
	int ret = -1;

	if (open_elf(c, path))
		return -1;
	if (!c->eh.e_shoff)
		return fail(c, "no section headers: not xl dump-core's format");
	nsec = c->eh.e_shnum;
	strndx = c->eh.e_shstrndx;
	if (!nsec || strndx == SHN_XINDEX) {
		if (shdr(c, 0, &sh))
			return -1;
		if (!nsec)
			nsec = sh.sh_size;
		if (strndx == SHN_XINDEX)
			strndx = sh.sh_link;
	}
	if (strndx >= nsec || shdr(c, strndx, &strsh))
		return strndx >= nsec ? fail(c, "bad e_shstrndx") : -1;
	if (!strsh.sh_size || strsh.sh_size > 1 << 20)
		return fail(c, "bad section name table");
	names = calloc(1, strsh.sh_size + 1);
	if (!names)
		return fail(c, "out of memory");
	if (read_at(c, names, strsh.sh_size, strsh.sh_offset))
		goto out;
	for (i = 1; i < nsec; i++) {
		const char *name;

		if (shdr(c, i, &sh))
			goto out;
		if (sh.sh_name >= strsh.sh_size)
			continue;
		name = names + sh.sh_name;
		if (!strcmp(name, ".xen_pages")) {
			pages = sh;
		} else if (!strcmp(name, ".xen_pfn")) {
			map = sh;
			entsize = sizeof(uint64_t);
		} else if (!strcmp(name, ".xen_p2m")) {
			map = sh;
			entsize = 2 * sizeof(uint64_t);
		}
	}
	if (!pages.sh_size || !entsize) {
		fail(c, "no .xen_pages, or neither .xen_pfn nor .xen_p2m");
		goto out;
	}
	n = map.sh_size / entsize;
	if (map.sh_size % entsize || pages.sh_size != n * PAGE ||
	    n > SIZE_MAX / entsize) {
		fail(c, "the page and frame-number sections do not match");
		goto out;
	}
	raw = malloc(map.sh_size);
	c->ent = calloc(n ? n : 1, sizeof(*c->ent));
	if (!raw || !c->ent) {
		fail(c, "out of memory");
		goto out;
	}
	if (read_at(c, raw, map.sh_size, map.sh_offset))
		goto out;
	for (i = 0; i < n; i++) {
		/* .xen_p2m's pfn is the first word of each pair. */
		uint64_t pfn = raw[i * (entsize / sizeof(uint64_t))];

		if (pfn == ~UINT64_C(0))
			continue;
		c->ent[c->nent].pfn = pfn;
		c->ent[c->nent].index = i;
		c->nent++;
	}
	qsort(c->ent, c->nent, sizeof(*c->ent), cmp_entry);
	c->pages_off = pages.sh_offset;
	printf("# %s: xl dump-core, %zu pages (%s), frames 0x%" PRIx64
	       "-0x%" PRIx64 "\n", path, c->nent,
	       entsize == sizeof(uint64_t) ? ".xen_pfn" : ".xen_p2m",
	       c->nent ? c->ent[0].pfn : 0,
	       c->nent ? c->ent[c->nent - 1].pfn : 0);
	ret = 0;
out:
	free(raw);
	free(names);
	return ret;
}

/* Frame gfn from xl's core: 0, or 1 if the core does not hold it. */
static int xl_page(const struct core *c, uint64_t gfn, uint8_t *buf)
{
	struct xl_entry key = { .pfn = gfn }, *e;

	e = bsearch(&key, c->ent, c->nent, sizeof(*c->ent), cmp_entry);
	if (!e)
		return 1;
	return read_at(c, buf, PAGE, c->pages_off + e->index * PAGE);
}

static int open_gm(struct core *c, const char *path)
{
	Elf64_Phdr *ph;
	Elf64_Shdr sh;
	uint64_t bytes = 0;
	size_t i, n;

	if (open_elf(c, path))
		return -1;
	if (c->eh.e_phentsize != sizeof(*ph))
		return fail(c, "unexpected program header size");
	n = c->eh.e_phnum;
	if (n == PN_XNUM) {
		if (shdr(c, 0, &sh))
			return -1;
		n = sh.sh_info;
	}
	ph = calloc(n ? n : 1, sizeof(*ph));
	if (!ph)
		return fail(c, "out of memory");
	c->load = ph;
	if (read_at(c, ph, n * sizeof(*ph), c->eh.e_phoff))
		return -1;
	for (i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz)
			return fail(c, "a segment with p_filesz > p_memsz");
		ph[c->nload++] = ph[i];
		bytes += ph[i].p_memsz;
	}
	printf("# %s: guestmem dump, %zu segments, %" PRIu64 " MiB\n", path,
	       c->nload, bytes >> 20);
	return 0;
}

/* Frame gfn from guestmem's core: 0, or 1 if a byte of it is missing. */
static int gm_page(const struct core *c, uint64_t gfn, uint8_t *buf)
{
	uint64_t gpa = gfn * PAGE, done = 0;
	size_t i;

	while (done < PAGE) {
		uint64_t at = gpa + done, in, len;
		const Elf64_Phdr *p = NULL;

		for (i = 0; i < c->nload && !p; i++)
			if (at >= c->load[i].p_paddr &&
			    at - c->load[i].p_paddr < c->load[i].p_memsz)
				p = &c->load[i];
		if (!p)
			return 1;
		in = at - p->p_paddr;
		len = p->p_memsz - in;
		if (len > PAGE - done)
			len = PAGE - done;
		/* Past p_filesz the segment reads as zeros. */
		if (in >= p->p_filesz) {
			memset(buf + done, 0, len);
		} else {
			if (len > p->p_filesz - in)
				len = p->p_filesz - in;
			if (read_at(c, buf + done, len, p->p_offset + in))
				return -1;
		}
		done += len;
	}
	return 0;
}

/* Offset of the first word of buf that is not frame gfn's pattern, or -1. */
static long bad_word(const uint8_t *buf, uint64_t gfn)
{
	unsigned int o;
	uint64_t w;

	for (o = 0; o < PAGE; o += sizeof(w)) {
		memcpy(&w, buf + o, sizeof(w));
		if (w != xq_pattern_word(gfn, o))
			return o;
	}
	return -1;
}

/* One mismatch: a or b is NULL when that core lacks the frame. */
static void show(uint64_t gfn, const uint8_t *a, const uint8_t *b)
{
	unsigned int o = 0;
	uint64_t wx, wg;

	if (!a || !b) {
		printf("# frame 0x%" PRIx64 ": not in %s\n", gfn,
		       !a && !b ? "either core"
		       : !a	? "xl's core"
				: "guestmem's core");
		return;
	}
	while (a[o] == b[o])
		o++;
	o &= ~7u;
	memcpy(&wx, a + o, sizeof(wx));
	memcpy(&wg, b + o, sizeof(wg));
	printf("# frame 0x%" PRIx64 " differs at +0x%x: xl 0x%016" PRIx64
	       ", guestmem 0x%016" PRIx64 ", pattern 0x%016" PRIx64 "\n",
	       gfn, o, wx, wg, xq_pattern_word(gfn, o));
}

/* "gfn+count" in hex; 0, or -1 if malformed. */
static int parse_run(const char *s, uint64_t *gfn, uint64_t *count)
{
	char *end;

	errno = 0;
	*gfn = strtoull(s, &end, 16);
	if (end == s || *end != '+' || errno)
		return -1;
	s = end + 1;
	*count = strtoull(s, &end, 16);
	if (end == s || *end || errno || !*count ||
	    *count > (UINT64_MAX >> XQ_PAGE_SHIFT) - *gfn)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t a[PAGE], b[PAGE];
	struct core xl = { .fd = -1 }, gm = { .fd = -1 };
	uint64_t frames = 0, equal = 0, pat_xl = 0, pat_gm = 0, gfn, count, j;
	unsigned int shown = 0;
	int ret = 2, rx, rg, k;

	if (argc < 4) {
		fprintf(stderr, "usage: dumpcmp XL_CORE GUESTMEM_CORE "
				"GFN+COUNT...\n");
		return 2;
	}
	for (k = 3; k < argc; k++) {
		if (parse_run(argv[k], &gfn, &count)) {
			fprintf(stderr, "dumpcmp: '%s' is not a run "
					"(hex GFN+COUNT)\n", argv[k]);
			return 2;
		}
	}
	if (open_xl(&xl, argv[1]) || open_gm(&gm, argv[2]))
		goto out;
	for (k = 3; k < argc; k++) {
		parse_run(argv[k], &gfn, &count);
		for (j = gfn; j < gfn + count; j++) {
			long bx, bg;

			frames++;
			rx = xl_page(&xl, j, a);
			rg = gm_page(&gm, j, b);
			if (rx < 0 || rg < 0)
				goto out;
			bx = rx ? 0 : bad_word(a, j);
			bg = rg ? 0 : bad_word(b, j);
			pat_xl += !rx && bx < 0;
			pat_gm += !rg && bg < 0;
			if (!rx && !rg && !memcmp(a, b, PAGE)) {
				equal++;
				if (bx >= 0 && shown++ < MAX_SHOWN)
					printf("# frame 0x%" PRIx64 ": equal, "
					       "but not its pattern at +0x%lx"
					       "\n", j, (unsigned long)bx);
				continue;
			}
			if (shown++ < MAX_SHOWN)
				show(j, rx ? NULL : a, rg ? NULL : b);
		}
	}
	printf("dumpcmp: %" PRIu64 " frames: %" PRIu64 " equal, %" PRIu64
	       " with the pattern in xl's core, %" PRIu64 " in guestmem's\n",
	       frames, equal, pat_xl, pat_gm);
	ret = equal == frames && pat_xl == frames && pat_gm == frames ? 0 : 1;
out:
	free(xl.ent);
	free(gm.load);
	if (xl.fd >= 0)
		close(xl.fd);
	if (gm.fd >= 0)
		close(gm.fd);
	return ret;
}
