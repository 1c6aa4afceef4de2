/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestmem(1): the dump format, an ELF64 core file whose PT_LOAD segments
 * carry guest-physical addresses (described in elfcore.c and guestmem(1)).
 *
 * The writer is used by dump, the reader by restore and --core targets.
 * Neither touches guest memory: the dump command reads it and hands the
 * bytes over, restore and --core take the segments and map or write them.
 */
#ifndef GUESTMEM_ELFCORE_H
#define GUESTMEM_ELFCORE_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* ---- writing ---- */

struct elfcore_writer {
	int fd;
	Elf64_Phdr *ph; /* ph[0] is the PT_NOTE */
	size_t nph, cap;
	uint64_t off; /* next free file offset */
	int open;     /* ph[nph - 1] is still growing */
};

/* Start a dump in @fd, an empty file.  Return: 0 or -ENOMEM. */
int elfcore_write_start(struct elfcore_writer *w, int fd);
/*
 * Append @n bytes of guest memory at @gpa.  They extend the last segment
 * unless elfcore_write_break() was called since, or nothing was written
 * yet; a new segment starts at @gpa, writable if @writable.  Whole zero
 * pages are left as file holes.  Return: 0, -ENOMEM (no new segment) or
 * the negative errno of the write.
 */
int elfcore_write_data(struct elfcore_writer *w, uint64_t gpa, int writable,
		       const void *buf, size_t n);
/* The next data starts a new segment: it does not follow the last. */
void elfcore_write_break(struct elfcore_writer *w);
/* Segments written so far. */
size_t elfcore_write_segments(const struct elfcore_writer *w);
/*
 * Write the notes (@info, NUL-terminated text, and the @nbad ranges of
 * @bad that could not be read), the program headers and the ELF header.
 * Return: 0, -ENOMEM or the negative errno of a write.
 */
int elfcore_write_finish(struct elfcore_writer *w, const char *info,
			 const struct cli_bad *bad, size_t nbad);
void elfcore_write_free(struct elfcore_writer *w);

/* ---- reading ---- */

/* A PT_LOAD segment with memory: @size bytes at guest address @gpa, the
 * first @filesz of them at file offset @offset, the rest zeros. */
struct elfcore_seg {
	uint64_t gpa, size;
	uint64_t offset, filesz;
};

struct elfcore {
	const char *path;
	int fd;
	struct elfcore_seg *seg; /* in file order */
	size_t nseg;
	char *info;	     /* the info note's text, or NULL */
	struct cli_bad *bad; /* the unreadable note's ranges */
	size_t nbad;
};

/*
 * Open and check the dump @path (read-write if @rw): the header, every
 * segment lies in the file and does not wrap, our notes.  Other ELF64
 * cores in the host's byte order are read too; notes of other owners are
 * skipped.  Return: CLI_OK, or the exit code after printing why; either
 * way @k is to be freed with elfcore_close().
 */
int elfcore_open(struct elfcore *k, const char *path, int rw);
/* pread(2) all of @len bytes at file offset @off.  Return: 0, -EIO if
 * the file ends first, or the negative errno. */
int elfcore_read(const struct elfcore *k, void *buf, size_t len,
		 uint64_t off);
void elfcore_close(struct elfcore *k);

#endif /* GUESTMEM_ELFCORE_H */
