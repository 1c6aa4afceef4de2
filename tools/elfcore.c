/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): the dump format, written and read.
 *
 * A dump is an ELF64 core file (ET_CORE, the host's machine and byte
 * order), so readelf(1) and other ELF tools can read it:
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

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcore.h"

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

/* A GM_NOTE_UNREADABLE entry, as stored in the file. */
struct note_bad {
	uint64_t gpa, len;
	int32_t err; /* positive errno */
	uint32_t zero;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---- writing ---- */

static int ph_add(struct elfcore_writer *w)
{
	Elf64_Phdr *n;

	if (w->nph == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;

		n = realloc(w->ph, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		w->ph = n;
		w->cap = cap;
	}
	memset(&w->ph[w->nph++], 0, sizeof(*w->ph));
	return 0;
}

int elfcore_write_start(struct elfcore_writer *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	/* Segment data starts on the page after the ELF header. */
	w->off = CLI_PAGE;
	return ph_add(w);
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

int elfcore_write_data(struct elfcore_writer *w, uint64_t gpa, int writable,
		       const void *buf, size_t n)
{
	Elf64_Phdr *p;
	int ret;

	if (!w->open) {
		if (ph_add(w))
			return -ENOMEM;
		p = &w->ph[w->nph - 1];
		p->p_type = PT_LOAD;
		p->p_flags = PF_R | (writable ? PF_W : 0);
		p->p_offset = align_up(w->off, CLI_PAGE);
		p->p_vaddr = p->p_paddr = gpa;
		p->p_align = CLI_PAGE;
		w->open = 1;
	}
	p = &w->ph[w->nph - 1];
	ret = write_sparse(w->fd, buf, n, p->p_offset + p->p_filesz);
	if (ret)
		return ret;
	p->p_filesz += (uint64_t)n;
	p->p_memsz = p->p_filesz;
	w->off = p->p_offset + p->p_filesz;
	return 0;
}

void elfcore_write_break(struct elfcore_writer *w)
{
	w->open = 0;
}

size_t elfcore_write_segments(const struct elfcore_writer *w)
{
	return w->nph - 1;
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

int elfcore_write_finish(struct elfcore_writer *w, const char *info,
			 const struct cli_bad *bad, size_t nbad)
{
	size_t ilen = strlen(info) + 1, blen, nlen, i, phnum = w->nph;
	struct note_bad *nb = NULL;
	uint8_t *notes = NULL;
	Elf64_Shdr sh = { 0 };
	Elf64_Ehdr eh = { 0 };
	uint64_t at;
	int ret = -ENOMEM;

	blen = nbad * sizeof(*nb);
	nb = calloc(nbad + 1, sizeof(*nb));
	notes = malloc(2 * (sizeof(Elf64_Nhdr) + 12) + ilen + blen + 8);
	if (!nb || !notes)
		goto out;
	for (i = 0; i < nbad; i++)
		nb[i] = (struct note_bad){ .gpa = bad[i].gpa,
					   .len = bad[i].len,
					   .err = -bad[i].err };
	nlen = note_put(notes, GM_NOTE_INFO, info, ilen);
	nlen += note_put(notes + nlen, GM_NOTE_UNREADABLE, nb, blen);

	at = align_up(w->off, 8);
	w->ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE,
				 .p_offset = at,
				 .p_filesz = nlen,
				 .p_align = 4 };
	ret = cli_write_all(w->fd, notes, nlen, (int64_t)at);
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
		ret = cli_write_all(w->fd, w->ph, phnum * sizeof(*w->ph),
				    (int64_t)at);
	at += phnum * sizeof(*w->ph);
	if (phnum >= PN_XNUM) {
		/* Extended numbering: section header 0 holds the count. */
		eh.e_shoff = at;
		eh.e_shentsize = sizeof(sh);
		eh.e_shnum = 1;
		sh.sh_info = (Elf64_Word)phnum;
		if (!ret)
			ret = cli_write_all(w->fd, &sh, sizeof(sh),
					    (int64_t)at);
	}
	if (!ret)
		ret = cli_write_all(w->fd, &eh, sizeof(eh), 0);
out:
	free(nb);
	free(notes);
	return ret;
}

void elfcore_write_free(struct elfcore_writer *w)
{
	free(w->ph);
	w->ph = NULL;
	w->nph = w->cap = 0;
}

/* ---- reading ---- */

void elfcore_close(struct elfcore *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	free(k->seg);
	free(k->info);
	free(k->bad);
	k->seg = NULL;
	k->info = NULL;
	k->bad = NULL;
	k->nseg = k->nbad = 0;
}

static int not_a_dump(const struct elfcore *k, const char *why)
{
	cli_err("'%s' is not a dump guestmem can read: %s", k->path, why);
	return CLI_IO;
}

int elfcore_read(const struct elfcore *k, void *buf, size_t len,
		 uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = pread(k->fd, p, len, (off_t)off);
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

/* Our unreadable ranges from a GM_NOTE_UNREADABLE descriptor. */
static int note_bad_load(struct elfcore *k, const uint8_t *desc, size_t len)
{
	struct note_bad nb;
	size_t i, n = len / sizeof(nb);

	k->bad = calloc(n + 1, sizeof(*k->bad));
	if (!k->bad)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		/* The descriptor is only 4-byte aligned in the note. */
		memcpy(&nb, desc + i * sizeof(nb), sizeof(nb));
		k->bad[i] = (struct cli_bad){ .gpa = nb.gpa,
					      .len = nb.len,
					      .err = -nb.err };
	}
	k->nbad = n;
	return 0;
}

/* Read our notes out of one PT_NOTE segment; others' notes are skipped. */
static int notes_load(struct elfcore *k, const Elf64_Phdr *p)
{
	uint8_t *b;
	size_t at = 0;
	int ret;

	if (p->p_filesz > (1u << 26))
		return 0; /* not ours: ours are small */
	b = malloc(p->p_filesz + 1);
	if (!b)
		return -ENOMEM;
	ret = elfcore_read(k, b, p->p_filesz, p->p_offset);
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
				if (!k->info)
					ret = -ENOMEM;
			} else if (nh.n_type == GM_NOTE_UNREADABLE &&
				   !k->bad) {
				ret = note_bad_load(k, b + desc, nh.n_descsz);
			}
		}
		at = desc + align_up(nh.n_descsz, 4);
	}
	free(b);
	return ret;
}

/* Check the program headers and keep the PT_LOAD segments with memory. */
static int segments_load(struct elfcore *k, const Elf64_Phdr *ph, size_t n,
			 uint64_t size)
{
	size_t i;
	int ret;

	k->seg = calloc(n + 1, sizeof(*k->seg));
	if (!k->seg)
		return cli_nomem();
	for (i = 0; i < n; i++) {
		const Elf64_Phdr *p = &ph[i];

		if (p->p_type == PT_NOTE && p->p_offset <= size &&
		    p->p_filesz <= size - p->p_offset) {
			ret = notes_load(k, p);
			if (ret == -ENOMEM)
				return cli_nomem();
		}
		if (p->p_type != PT_LOAD)
			continue;
		if (p->p_filesz > p->p_memsz || p->p_offset > size ||
		    p->p_filesz > size - p->p_offset)
			return not_a_dump(k, "a segment lies past the end of "
					     "the file");
		if (cli_wraps(p->p_paddr, p->p_memsz))
			return not_a_dump(k, "a segment wraps past 2^64");
		if (!p->p_memsz)
			continue;
		k->seg[k->nseg++] = (struct elfcore_seg){
			.gpa = p->p_paddr,
			.size = p->p_memsz,
			.offset = p->p_offset,
			.filesz = p->p_filesz,
		};
	}
	return CLI_OK;
}

int elfcore_open(struct elfcore *k, const char *path, int rw)
{
	Elf64_Phdr *ph;
	Elf64_Ehdr eh;
	struct stat st;
	uint64_t size;
	size_t n;
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
	size = (uint64_t)st.st_size;
	if (size < sizeof(eh) || elfcore_read(k, &eh, sizeof(eh), 0))
		return not_a_dump(k, "too short for an ELF header");
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return not_a_dump(k, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != HOST_ELFDATA)
		return not_a_dump(k, "not 64-bit ELF in this host's byte "
				     "order");
	if (eh.e_type != ET_CORE)
		return not_a_dump(k, "not an ELF core file");
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return not_a_dump(k, "unexpected program header size");
	n = eh.e_phnum;
	if (n == PN_XNUM) {
		Elf64_Shdr sh;

		if (!eh.e_shoff || eh.e_shentsize != sizeof(sh) ||
		    elfcore_read(k, &sh, sizeof(sh), eh.e_shoff))
			return not_a_dump(k, "bad extended segment count");
		n = sh.sh_info;
	}
	if (eh.e_phoff > size || n > (size - eh.e_phoff) / sizeof(*ph))
		return not_a_dump(k, "program headers past the end of the "
				     "file");
	ph = malloc((n + 1) * sizeof(*ph));
	if (!ph)
		return cli_nomem();
	if (elfcore_read(k, ph, n * sizeof(*ph), eh.e_phoff))
		ret = not_a_dump(k, "cannot read the program headers");
	else
		ret = segments_load(k, ph, n, size);
	free(ph);
	return ret;
}
