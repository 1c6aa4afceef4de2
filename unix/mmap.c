/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unix backend: regions over memory this process maps itself.
 *
 * Every region is mapped whole, once, at creation, and base.hva points at
 * that mapping for the region's life (a persistent region).  Common code
 * therefore accesses the memory directly and never calls map/unmap, which
 * this backend leaves NULL.  A read-only region is mapped PROT_READ and
 * carries GM_REGION_RDONLY, so common code refuses writes with -EACCES
 * before touching memory; the protection is a second line of defence.
 *
 * All mappings use MAP_NORESERVE: a guest is typically given far more
 * memory than it touches, and committing swap for all of it up front would
 * make large sparse guests fail to start under strict overcommit.
 *
 * A system call's errno is converted to a negative return value right
 * where the call fails (errno itself is left as the calls set it:
 * guestmem.h leaves it unspecified).  Every failure also records a message
 * for gm_last_error(), named after the exported function, saying what was
 * wrong with which argument.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <guestmem/backend.h>
#include <guestmem/unix.h>

struct unix_region {
	struct gm_region base; /* first; recovered with a cast */
	int fd;		       /* owned; -1 for anonymous memory */
	bool shared;	       /* MAP_SHARED (always, when fd >= 0) */
	bool hugetlb;	       /* fd is on hugetlbfs */
	int64_t offset;	       /* file offset of the region's first byte */
	uint64_t page;	       /* page size of the mapping: discard's unit */
};

#ifndef HAVE_MEMFD_CREATE
/*
 * A libc without the wrapper (glibc before 2.27): answer what the system
 * call itself answers on a kernel that lacks it.
 */
#define MFD_CLOEXEC 0x1u
static int memfd_create(const char *name, unsigned int flags)
{
	(void)name;
	(void)flags;
	errno = ENOSYS;
	return -1;
}
#endif

static void unix_region_destroy(struct gm_region *r);

static const struct gm_region_ops unix_region_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "unix",
	.map = NULL,   /* persistent: common code uses base.hva */
	.unmap = NULL, /* likewise */
	.destroy = unix_region_destroy,
};

/* The region behind @r, or NULL when @r is NULL or another backend's. */
static struct unix_region *to_unix(const struct gm_region *r)
{
	if (!r || r->ops != &unix_region_ops)
		return NULL;
	return (struct unix_region *)(void *)r;
}

static uint64_t host_page_size(void)
{
	/*
	 * Cannot fail on Linux: the value comes from the auxiliary vector.
	 * Fall back to the smallest page size Linux supports all the same,
	 * so that a broken libc cannot make us divide by zero.
	 */
	static uint64_t cached; /* 0 until the first call */
	uint64_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	long v;

	/* sysconf() costs ~190 instructions, a noticeable part of creating
	 * a region; threads racing here store the same value. */
	if (ps)
		return ps;
	v = sysconf(_SC_PAGESIZE);
	ps = v > 0 ? (uint64_t)v : 4096;
	__atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
	return ps;
}

/* @page is a power of two on every Linux architecture. */
static bool is_aligned(uint64_t v, uint64_t page)
{
	return (v & (page - 1)) == 0;
}

/*
 * Record for gm_last_error() that the system call @call failed with @err
 * (positive), and return -@err.
 */
static int sys_error(const char *fn, const char *call, int err)
{
	char buf[64];

	return gm_error_set(-err, "%s: %s: %s", fn, call,
			     strerror_r(err, buf, sizeof(buf)));
}

/*
 * Whether a non-negative file offset fits off_t, which is 32 bits wide in a
 * 32-bit build without large file support and 64 bits everywhere else.
 */
static bool fits_off_t(int64_t v)
{
	return sizeof(off_t) >= sizeof(int64_t) || v <= INT32_MAX;
}

/*
 * The checks every constructor shares: @out, @flags against @allowed, a
 * non-zero size aligned to the host page size, an aligned gpa, and a last
 * byte that does not wrap past 2^64 (the region may end exactly there, as
 * gm_region_init() allows).
 */
static int check_args(const char *fn, uint64_t gpa, uint64_t size,
		      unsigned int flags, unsigned int allowed,
		      struct gm_region **out)
{
	uint64_t page = host_page_size();

	if (!out)
		return gm_error_set(-EINVAL, "%s: out is NULL", fn);
	if (flags & ~allowed)
		return gm_error_set(-EINVAL, "%s: flags 0x%x not allowed",
				     fn, flags & ~allowed);
	if (size == 0)
		return gm_error_set(-EINVAL, "%s: size is 0", fn);
	if (!is_aligned(gpa, page) || !is_aligned(size, page))
		return gm_error_set(-EINVAL,
				     "%s: gpa 0x%" PRIx64 " or size 0x%" PRIx64
				     " is not a multiple of the page size 0x%"
				     PRIx64, fn, gpa, size, page);
	if (size - 1 > UINT64_MAX - gpa)
		return gm_error_set(-EOVERFLOW,
				     "%s: 0x%" PRIx64 " + 0x%" PRIx64
				     " wraps past 2^64", fn, gpa, size);
	/*
	 * No address space holds that much, and common code must be able to
	 * subtract any two addresses of the mapping.  Saying so here gives
	 * the same answer with or without a tool (valgrind) wrapping mmap().
	 */
	if (size > (uint64_t)PTRDIFF_MAX)
		return gm_error_set(-ENOMEM,
				     "%s: size 0x%" PRIx64 " exceeds any "
				     "address space", fn, size);
	return 0;
}

/*
 * Map [offset, offset + size) of @fd (or anonymous memory if @fd is -1)
 * and wrap it in a new region.  Takes ownership of @fd only on success.
 */
static int region_create(const char *fn, uint64_t gpa, uint64_t size, int fd,
			 int64_t offset, uint64_t page, bool hugetlb,
			 unsigned int flags, struct gm_region **out)
{
	bool rdonly = flags & GM_UNIX_RDONLY;
	bool shared = fd >= 0 || (flags & GM_UNIX_SHARED);
	int prot = rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	int mflags = MAP_NORESERVE | (shared ? MAP_SHARED : MAP_PRIVATE);
	struct unix_region *ur;
	void *hva;
	int rc;

	if (fd < 0)
		mflags |= MAP_ANONYMOUS;

	/* Not calloc(): glibc serves it without the per-thread cache.
	 * gm_region_init() sets the whole base, the rest is set below. */
	ur = malloc(sizeof(*ur));
	if (!ur)
		return gm_error_set(-ENOMEM, "%s: out of memory", fn);
	/* Cannot fail: check_args() checked what it checks.  It says why. */
	rc = gm_region_init(&ur->base, &unix_region_ops, gpa, size,
			    rdonly ? GM_REGION_RDONLY : 0);
	if (rc < 0)
		goto err_free;

	hva = mmap(NULL, (size_t)size, prot, mflags, fd, (off_t)offset);
	if (hva == MAP_FAILED) {
		rc = sys_error(fn, "mmap", errno);
		goto err_free;
	}

	ur->base.hva = hva;
	ur->fd = fd;
	ur->shared = shared;
	ur->hugetlb = hugetlb;
	ur->offset = offset;
	ur->page = page;
	*out = &ur->base;
	return 0;

err_free:
	free(ur);
	return rc;
}

static int new_anon(uint64_t gpa, uint64_t size, unsigned int flags,
		    struct gm_region **out)
{
	static const char fn[] = "gm_unix_region_new_anon";
	int rc;

	rc = check_args(fn, gpa, size, flags, GM_UNIX_RDONLY | GM_UNIX_SHARED,
			out);
	if (rc < 0)
		return rc;
	return region_create(fn, gpa, size, -1, 0, host_page_size(), false,
			     flags, out);
}

int gm_unix_region_new_anon(uint64_t gpa, uint64_t size, unsigned int flags,
			    struct gm_region **out)
{
	if (out)
		*out = NULL;
	return new_anon(gpa, size, flags, out);
}

static int new_fd(uint64_t gpa, uint64_t size, int fd, int64_t offset,
		  unsigned int flags, struct gm_region **out)
{
	static const char fn[] = "gm_unix_region_new_fd";
	uint64_t page = host_page_size();
	bool hugetlb;
	struct statfs sfs;
	struct stat st;
	int accmode;
	int myfd;
	int rc;

	/* GM_UNIX_SHARED is implied for files; passing it is a mistake. */
	rc = check_args(fn, gpa, size, flags, GM_UNIX_RDONLY, out);
	if (rc < 0)
		return rc;
	if (offset < 0 || !is_aligned((uint64_t)offset, page))
		return gm_error_set(-EINVAL,
				     "%s: offset %" PRId64 " is negative or "
				     "not a multiple of the page size 0x%"
				     PRIx64, fn, offset, page);
	/* The end offset must fit both int64_t and the off_t mmap takes. */
	if (size > (uint64_t)(INT64_MAX - offset) ||
	    !fits_off_t(offset + (int64_t)size))
		return gm_error_set(-EOVERFLOW,
				     "%s: offset %" PRId64 " + size 0x%" PRIx64
				     " exceeds the largest file offset", fn,
				     offset, size);

	/*
	 * Duplicate first and check the duplicate: it is the open file
	 * description we keep, and fcntl() reports a bad @fd as EBADF.
	 */
	myfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (myfd < 0)
		return sys_error(fn, "fcntl(F_DUPFD_CLOEXEC)", errno);

	/*
	 * A MAP_SHARED mapping needs an fd open for reading, and for writing
	 * too unless it is PROT_READ.  mmap() would say EACCES as well, but
	 * only after we did all the other work.
	 */
	accmode = fcntl(myfd, F_GETFL);
	if (accmode < 0) {
		rc = sys_error(fn, "fcntl(F_GETFL)", errno);
		goto err_close;
	}
	accmode &= O_ACCMODE;
	if (accmode == O_WRONLY ||
	    (accmode == O_RDONLY && !(flags & GM_UNIX_RDONLY))) {
		rc = gm_error_set(-EACCES, "%s: fd %d is open %s", fn, fd,
				   accmode == O_WRONLY
					   ? "write-only: a mapping must read"
					   : "read-only and GM_UNIX_RDONLY "
					     "was not given");
		goto err_close;
	}

	if (fstat(myfd, &st) < 0) {
		rc = sys_error(fn, "fstat", errno);
		goto err_close;
	}
	/* Regular files include memfds; devices and pipes are refused. */
	if (!S_ISREG(st.st_mode)) {
		rc = gm_error_set(-EINVAL,
				   "%s: fd %d is not a regular file or memfd",
				   fn, fd);
		goto err_close;
	}

	if (fstatfs(myfd, &sfs) < 0) {
		rc = sys_error(fn, "fstatfs", errno);
		goto err_close;
	}
	/*
	 * hugetlbfs maps only whole huge pages, and reports their size as
	 * the block size.  f_type is signed and its width differs between
	 * ABIs; converting the magic number to its type compares the bits
	 * the kernel stored.
	 */
	hugetlb = sfs.f_type == (__typeof__(sfs.f_type))HUGETLBFS_MAGIC;
	if (hugetlb) {
		page = (uint64_t)sfs.f_bsize;
		if (page == 0 || (page & (page - 1)) != 0 ||
		    !is_aligned(gpa, page) || !is_aligned(size, page) ||
		    !is_aligned((uint64_t)offset, page)) {
			rc = gm_error_set(-EINVAL,
					   "%s: gpa, size and offset must be "
					   "multiples of the huge page size "
					   "0x%" PRIx64 " on hugetlbfs", fn,
					   page);
			goto err_close;
		}
	}

	/*
	 * Pages past the end of the file would raise SIGBUS on access;
	 * refuse them now rather than crash the caller later.
	 */
	if (st.st_size < 0 || (uint64_t)st.st_size < (uint64_t)offset + size) {
		rc = gm_error_set(-ENXIO,
				   "%s: the file is %jd bytes, shorter than "
				   "offset %" PRId64 " + size 0x%" PRIx64, fn,
				   (intmax_t)st.st_size, offset, size);
		goto err_close;
	}

	rc = region_create(fn, gpa, size, myfd, offset, page, hugetlb, flags,
			   out);
	if (rc < 0)
		goto err_close;
	return 0;

err_close:
	close(myfd);
	return rc;
}

int gm_unix_region_new_fd(uint64_t gpa, uint64_t size, int fd,
			  int64_t offset, unsigned int flags,
			  struct gm_region **out)
{
	if (out)
		*out = NULL;
	return new_fd(gpa, size, fd, offset, flags, out);
}

static int new_memfd(uint64_t gpa, uint64_t size, unsigned int flags,
		     struct gm_region **out)
{
	static const char fn[] = "gm_unix_region_new_memfd";
	int fd;
	int rc;

	rc = check_args(fn, gpa, size, flags, GM_UNIX_RDONLY | GM_UNIX_SHARED,
			out);
	if (rc < 0)
		return rc;

	/*
	 * check_args() capped size at PTRDIFF_MAX, which is no larger than
	 * the largest off_t: ftruncate() can take it.
	 */
	fd = memfd_create("guestmem", MFD_CLOEXEC);
	if (fd < 0)
		return sys_error(fn, "memfd_create", errno);

	/* A new memfd is empty: the region needs all of it to exist. */
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = sys_error(fn, "ftruncate", errno);
		goto err_close;
	}

	rc = region_create(fn, gpa, size, fd, 0, host_page_size(), false,
			   flags & GM_UNIX_RDONLY, out);
	if (rc < 0)
		goto err_close;
	return 0;

err_close:
	close(fd);
	return rc;
}

int gm_unix_region_new_memfd(uint64_t gpa, uint64_t size, unsigned int flags,
			     struct gm_region **out)
{
	if (out)
		*out = NULL;
	return new_memfd(gpa, size, flags, out);
}

static void unix_region_destroy(struct gm_region *r)
{
	struct unix_region *ur = to_unix(r);

	/*
	 * munmap() of exactly the mapping mmap() returned cannot fail.
	 * close() of our own fd can only report a deferred write-back error
	 * of the file system, which a destructor has no way to pass on.
	 */
	munmap(ur->base.hva, (size_t)ur->base.size);
	if (ur->fd >= 0)
		close(ur->fd);
	free(ur);
}

int gm_unix_region_fd(const struct gm_region *r, int *fd, int64_t *offset)
{
	const struct unix_region *ur = to_unix(r);

	if (!ur || !fd || !offset)
		return gm_error_set(-EINVAL, "gm_unix_region_fd: %s",
				     !ur ? "not a unix region"
					 : "a NULL argument");
	*fd = ur->fd;
	*offset = ur->offset;
	if (ur->fd < 0)
		return gm_error_set(-ENODEV, "gm_unix_region_fd: anonymous "
				     "memory has no fd");
	return 0;
}

int gm_unix_region_is_hugetlb(const struct gm_region *r)
{
	const struct unix_region *ur = to_unix(r);

	if (!ur)
		return gm_error_set(-EINVAL, "gm_unix_region_is_hugetlb: "
				     "not a unix region");
	/* Decided once, at creation, by fstatfs() on the fd. */
	return ur->hugetlb ? 1 : 0;
}

int gm_unix_region_discard(struct gm_region *r, uint64_t off, uint64_t len)
{
	static const char fn[] = "gm_unix_region_discard";
	struct unix_region *ur = to_unix(r);

	if (!ur)
		return gm_error_set(-EINVAL, "%s: not a unix region", fn);
	if (len == 0 || !is_aligned(off, ur->page) ||
	    !is_aligned(len, ur->page) || off > ur->base.size ||
	    len > ur->base.size - off)
		return gm_error_set(-EINVAL,
				     "%s: 0x%" PRIx64 "+0x%" PRIx64
				     " is empty, not a multiple of the page "
				     "size 0x%" PRIx64 " or past the end 0x%"
				     PRIx64, fn, off, len, ur->page,
				     ur->base.size);
	if (ur->base.flags & GM_REGION_RDONLY)
		return gm_error_set(-EACCES, "%s: the region is read-only",
				     fn);

	/*
	 * Shared memory lives in a file (a real one, a memfd, or the shmem
	 * object behind MAP_SHARED|MAP_ANONYMOUS): dropping the pages from
	 * our mapping alone would only reveal the file's contents again, so
	 * the hole must be punched in the file.  The kernel then zaps the
	 * range from every mapping of it, ours included.
	 */
	if (ur->fd >= 0) {
		int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

		/* In range: offset + size fits off_t (new_fd() checked). */
		if (fallocate(ur->fd, mode, (off_t)(ur->offset + (int64_t)off),
			      (off_t)len) < 0)
			return sys_error(fn, "fallocate(PUNCH_HOLE)", errno);
		return 0;
	}
	if (ur->shared) {
		/* The same, for the shmem object we have no fd for. */
		if (madvise(ur->base.hva + off, (size_t)len, MADV_REMOVE) < 0)
			return sys_error(fn, "madvise(MADV_REMOVE)", errno);
		return 0;
	}
	/* Private anonymous pages read back as zero once dropped. */
	if (madvise(ur->base.hva + off, (size_t)len, MADV_DONTNEED) < 0)
		return sys_error(fn, "madvise(MADV_DONTNEED)", errno);
	return 0;
}
