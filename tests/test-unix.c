/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the unix backend (unix/mmap.c), through the public API:
 * every constructor and flag, argument checking, read-only regions,
 * aliasing through the region's fd, discard, hugetlbfs detection and
 * MAP_NORESERVE.  Every test checks in its teardown that it left no fd
 * open.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/backend.h>
#include <guestmem/unix.h>

#include "test-util.h"

#define GIB (UINT64_C(1) << 30)

static uint64_t pg;

struct fixture {
	int nfds; /* open fds when the test started */
};

static int count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->nfds = count_fds();
	if (f->nfds < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int n = count_fds();
	int rc = 0;

	if (n != f->nfds) {
		print_error("fd leak: %d open before the test, %d after\n",
			    f->nfds, n);
		rc = -1;
	}
	free(f);
	return rc;
}

/* ---- helpers ---- */

/* A new, already unlinked, file of @size bytes in $TMPDIR or /tmp. */
static int make_file(uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/test-unix.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* A new file of @size bytes on tmpfs (/dev/shm), or -1 without one. */
static int make_tmpfs_file(uint64_t size)
{
	char path[] = "/dev/shm/test-unix.XXXXXX";
	struct statfs sfs;
	int fd;

	if (statfs("/dev/shm", &sfs) < 0 || sfs.f_type != TMPFS_MAGIC)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Open the file behind @fd again, with @flags (O_RDONLY, O_WRONLY...). */
static int reopen(int fd, int flags)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags | O_CLOEXEC);
	assert_true(nfd >= 0);
	return nfd;
}

static struct gm_space *space_with(struct gm_region *r)
{
	struct gm_space *s = NULL;

	assert_int_equal(gm_space_new(&s, "unix-test", 0), 0);
	assert_non_null(s);
	assert_int_equal(gm_space_add_region(s, r), 0);
	return s;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed);
}

/* Assert that [gpa, gpa + len) of @s reads as @byte throughout. */
static void assert_bytes(struct gm_space *s, uint64_t gpa, size_t len,
			 uint8_t byte)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(gm_read(s, gpa, buf, len), 0);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte)
			fail_msg("gpa 0x%" PRIx64 " reads 0x%02x, want 0x%02x",
				 gpa + i, buf[i], byte);
	free(buf);
}

/* Assert that [off, off + len) of the file @fd reads as @byte throughout. */
static void assert_file_bytes(int fd, off_t off, size_t len, uint8_t byte)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte)
			fail_msg("file offset %jd reads 0x%02x, want 0x%02x",
				 (intmax_t)off + (intmax_t)i, buf[i], byte);
	free(buf);
}

/*
 * Look @addr's mapping up in /proc/self/smaps: its permissions ("rw-p")
 * and whether its VmFlags carry "nr" (VM_NORESERVE).
 */
static void mapping_info(const void *addr, char perms[5], bool *noreserve)
{
	uintptr_t a = (uintptr_t)addr;
	bool found = false;
	char line[1024];
	FILE *fp;

	fp = fopen("/proc/self/smaps", "re");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		uintptr_t start, end;
		char p[5];

		if (!found) {
			if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s",
				   &start, &end, p) == 3 &&
			    a >= start && a < end) {
				memcpy(perms, p, 5);
				found = true;
			}
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) == 0) {
			*noreserve = strstr(line, " nr") != NULL;
			fclose(fp);
			return;
		}
	}
	fclose(fp);
	fail_msg("no mapping with VmFlags found for %p", addr);
}

/* The only region of @s, as gm_space_get_regions() describes it. */
static struct gm_region_info only_region(struct gm_space *s)
{
	struct gm_region_info info[2];

	memset(info, 0, sizeof(info));
	assert_int_equal(gm_space_get_regions(s, info, 2), 1);
	return info[0];
}

/*
 * Write @val at @gpa from a child process, and wait for it: whether the
 * parent then sees it tells shared from private memory.
 */
static void write_in_child(struct gm_space *s, uint64_t gpa, uint64_t val)
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(gm_write(s, gpa, &val, sizeof(val)) == 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- a region of another backend, to be refused ---- */

struct other_region {
	struct gm_region base;
};

static void other_destroy(struct gm_region *r)
{
	free(r);
}

static const struct gm_region_ops other_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "other",
	.destroy = other_destroy,
};

/* ---- anonymous memory ---- */

static void test_unix_anon_private(void **state)
{
	const uint64_t gpa = 0x100000, size = 4 * pg;
	struct gm_region *r = NULL;
	struct gm_region_info info;
	struct gm_space *s;
	uint8_t in[3 * 512], out[sizeof(in)];
	int64_t off = 77;
	uint64_t v;
	int fd = 77;

	assert_int_equal(gm_unix_region_new_anon(gpa, size, 0, &r), 0);
	assert_non_null(r);
	assert_int_equal(gm_unix_region_is_hugetlb(r), 0);
	assert_int_equal(gm_unix_region_fd(r, &fd, &off), -ENODEV);
	assert_int_equal(fd, -1);

	s = space_with(r);
	info = only_region(s);
	assert_int_equal(info.gpa, gpa);
	assert_int_equal(info.size, size);
	assert_int_equal(info.flags, 0);
	assert_int_equal(info.mapped, 1);
	assert_string_equal(info.backend, "unix");

	/* New anonymous memory is zeroed. */
	assert_bytes(s, gpa, size, 0);

	/* Bytes written across a page boundary read back. */
	fill_pattern(in, sizeof(in), 3);
	assert_int_equal(gm_write(s, gpa + pg - 512, in, sizeof(in)), 0);
	assert_int_equal(gm_read(s, gpa + pg - 512, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));

	/* Private: a child's write stays in the child. */
	write_in_child(s, gpa + 2 * pg, 0x1122334455667788u);
	assert_int_equal(gm_read(s, gpa + 2 * pg, &v, sizeof(v)), 0);
	assert_int_equal(v, 0);

	gm_space_free(s);
}

static void test_unix_anon_shared(void **state)
{
	const uint64_t gpa = 0x200000, size = 2 * pg;
	struct gm_region *r = NULL;
	struct gm_space *s;
	int64_t off;
	uint64_t v;
	int fd;

	assert_int_equal(gm_unix_region_new_anon(gpa, size, GM_UNIX_SHARED,
						 &r),
			 0);
	assert_int_equal(gm_unix_region_is_hugetlb(r), 0);
	/* Shared anonymous memory has no fd the caller could use. */
	assert_int_equal(gm_unix_region_fd(r, &fd, &off), -ENODEV);
	assert_int_equal(fd, -1);

	s = space_with(r);
	assert_int_equal(only_region(s).flags, 0);
	assert_bytes(s, gpa, size, 0);

	/* Shared: a child's write reaches the parent. */
	write_in_child(s, gpa + pg + 8, 0x1122334455667788u);
	assert_int_equal(gm_read(s, gpa + pg + 8, &v, sizeof(v)), 0);
	assert_int_equal(v, 0x1122334455667788u);

	gm_space_free(s);
}

static void test_unix_anon_bad_args(void **state)
{
	struct gm_region *r = (struct gm_region *)&r;

	/* A failed constructor stores NULL. */
	assert_int_equal(gm_unix_region_new_anon(0, 0, 0, &r), -EINVAL);
	assert_null(r);

	assert_int_equal(gm_unix_region_new_anon(0, pg, 0, NULL), -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(0, 0, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(pg / 2, pg, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(0, pg + 1, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(0, pg - 1, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(0, pg, 0x4, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(0, pg, 0x80000000u, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_anon(UINT64_MAX - pg + 1, 2 * pg,
						 0, &r),
			 -EOVERFLOW);
	/* No address space can hold that much. */
	assert_int_equal(gm_unix_region_new_anon(0, UINT64_MAX - pg + 1, 0,
						 &r),
			 -ENOMEM);
	assert_int_equal(gm_unix_region_new_anon(0, UINT64_C(1) << 63, 0, &r),
			 -ENOMEM);
	assert_null(r);
}

/* A region may end exactly at 2^64, as gm_region_init() allows. */
static void test_unix_anon_top_of_space(void **state)
{
	const uint64_t gpa = UINT64_MAX - pg + 1;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint64_t v = 0x8877665544332211u, got = 0;

	assert_int_equal(gm_unix_region_new_anon(gpa, pg, 0, &r), 0);
	s = space_with(r);
	assert_int_equal(gm_write(s, UINT64_MAX - 7, &v, sizeof(v)), 0);
	assert_int_equal(gm_read(s, UINT64_MAX - 7, &got, sizeof(got)), 0);
	assert_int_equal(got, v);
	gm_space_free(s);
}

/* ---- memfd ---- */

static void test_unix_memfd_aliasing(void **state)
{
	const uint64_t gpa = 0x300000, size = 4 * pg;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint8_t *in, *out, *alias;
	struct stat st;
	int64_t off = 77;
	int fd = -1;

	in = malloc(size);
	out = malloc(size);
	assert_non_null(in);
	assert_non_null(out);

	/* GM_UNIX_SHARED is implied for a memfd, and accepted. */
	assert_int_equal(gm_unix_region_new_memfd(gpa, size, GM_UNIX_SHARED,
						  &r),
			 0);
	assert_int_equal(gm_unix_region_is_hugetlb(r), 0);
	assert_int_equal(gm_unix_region_fd(r, &fd, &off), 0);
	assert_true(fd >= 0);
	assert_int_equal(off, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, size);

	s = space_with(r);
	assert_int_equal(only_region(s).mapped, 1);
	assert_bytes(s, gpa, size, 0);

	/* What the space writes, a separate mapping of the fd sees... */
	fill_pattern(in, size, 5);
	assert_int_equal(gm_write(s, gpa, in, size), 0);
	alias = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(alias != MAP_FAILED);
	assert_memory_equal(alias, in, size);

	/* ...and the other way round. */
	fill_pattern(alias + pg, pg, 9);
	assert_int_equal(gm_read(s, gpa + pg, out, pg), 0);
	assert_memory_equal(out, alias + pg, pg);
	assert_int_equal(munmap(alias, size), 0);

	/* Closing the space closes the region's fd (see the teardown). */
	gm_space_free(s);
	free(in);
	free(out);
}

static void test_unix_memfd_bad_args(void **state)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_unix_region_new_memfd(0, pg, 0, NULL), -EINVAL);
	assert_int_equal(gm_unix_region_new_memfd(0, 0, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_memfd(pg / 2, pg, 0, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_memfd(0, pg + 1, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_memfd(0, pg, 0x4, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_memfd(UINT64_MAX - pg + 1, 2 * pg,
						  0, &r),
			 -EOVERFLOW);
	/* No address space can hold that much. */
	assert_int_equal(gm_unix_region_new_memfd(0, UINT64_MAX - pg + 1, 0,
						  &r),
			 -ENOMEM);
	assert_null(r);
}

/* ---- files ---- */

static void test_unix_fd_file(void **state)
{
	const uint64_t gpa = 0x400000, size = 4 * pg;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint8_t *file, *buf;
	int64_t off;
	int fd, rfd;

	/* An 8-page file; the region covers pages 2 to 5. */
	file = malloc(8 * pg);
	buf = malloc(size);
	assert_non_null(file);
	assert_non_null(buf);
	fill_pattern(file, 8 * pg, 1);
	fd = make_file(8 * pg);
	assert_int_equal(pwrite(fd, file, 8 * pg, 0), (ssize_t)(8 * pg));

	assert_int_equal(gm_unix_region_new_fd(gpa, size, fd, 2 * pg, 0, &r),
			 0);
	assert_int_equal(gm_unix_region_is_hugetlb(r), 0);
	assert_int_equal(gm_unix_region_fd(r, &rfd, &off), 0);
	assert_int_equal(off, 2 * pg);
	/* The region has its own, close-on-exec, duplicate. */
	assert_true(rfd >= 0);
	assert_int_not_equal(rfd, fd);
	assert_true(fcntl(rfd, F_GETFD) & FD_CLOEXEC);

	s = space_with(r);
	assert_int_equal(gm_read(s, gpa, buf, size), 0);
	assert_memory_equal(buf, file + 2 * pg, size);

	/* Writes reach the file, through the caller's own fd too. */
	fill_pattern(buf, size, 11);
	assert_int_equal(gm_write(s, gpa, buf, size), 0);
	assert_int_equal(pread(fd, file, size, (off_t)(2 * pg)),
			 (ssize_t)size);
	assert_memory_equal(file, buf, size);

	/* The caller may close its fd: the region keeps its own. */
	assert_int_equal(close(fd), 0);
	assert_int_equal(gm_read(s, gpa + pg, file, pg), 0);
	assert_memory_equal(file, buf + pg, pg);

	gm_space_free(s);
	free(file);
	free(buf);
}

static void test_unix_fd_exact_fit(void **state)
{
	struct gm_region *r = NULL;
	int fd = make_file(4 * pg);

	/* A region may end exactly at the end of the file. */
	assert_int_equal(gm_unix_region_new_fd(0, 3 * pg, fd, pg, 0, &r), 0);
	gm_region_destroy(r);
	r = NULL;
	assert_int_equal(gm_unix_region_new_fd(0, 4 * pg, fd, 0, 0, &r), 0);
	gm_region_destroy(r);
	assert_int_equal(close(fd), 0);
}

static void test_unix_fd_bad_args(void **state)
{
	struct gm_region *r = NULL;
	int fd = make_file(4 * pg);
	int pipefd[2];
	int dirfd, closed;

	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 0, 0, NULL),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(0, 0, fd, 0, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(pg / 2, pg, fd, 0, 0, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(0, pg + 1, fd, 0, 0, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 1, 0, &r), -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, pg / 2, 0, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, -(int64_t)pg, 0,
					       &r),
			 -EINVAL);
	/* GM_UNIX_SHARED is implied for files, and refused. */
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 0, GM_UNIX_SHARED,
					       &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 0, 0x4, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(UINT64_MAX - pg + 1, 2 * pg, fd,
					       0, 0, &r),
			 -EOVERFLOW);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd,
					       INT64_MAX & ~(int64_t)(pg - 1),
					       0, &r),
			 -EOVERFLOW);

	/* Not an open fd. */
	assert_int_equal(gm_unix_region_new_fd(0, pg, -1, 0, 0, &r), -EBADF);
	if (!strstr(gm_last_error(), "gm_unix_region_new_fd"))
		fail_msg("gm_last_error() says '%s'", gm_last_error());
	closed = dup(fd);
	assert_true(closed >= 0);
	assert_int_equal(close(closed), 0);
	assert_int_equal(gm_unix_region_new_fd(0, pg, closed, 0, 0, &r),
			 -EBADF);

	/* Not a regular file. */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(gm_unix_region_new_fd(0, pg, pipefd[0], 0,
					       GM_UNIX_RDONLY, &r),
			 -EINVAL);
	assert_int_equal(close(pipefd[0]), 0);
	assert_int_equal(close(pipefd[1]), 0);
	dirfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(gm_unix_region_new_fd(0, pg, dirfd, 0,
					       GM_UNIX_RDONLY, &r),
			 -EINVAL);
	assert_int_equal(close(dirfd), 0);

	assert_null(r);
	assert_int_equal(close(fd), 0);
}

static void test_unix_fd_short_file(void **state)
{
	struct gm_region *r = NULL;
	int fd = make_file(4 * pg);

	/* A failed constructor stores NULL, and says why. */
	r = (struct gm_region *)&r;
	assert_int_equal(gm_unix_region_new_fd(0, 5 * pg, fd, 0, 0, &r),
			 -ENXIO);
	assert_null(r);
	if (!strstr(gm_last_error(), "shorter"))
		fail_msg("gm_last_error() says '%s'", gm_last_error());

	/* One page too many, at the start or at an offset. */
	assert_int_equal(gm_unix_region_new_fd(0, 5 * pg, fd, 0, 0, &r),
			 -ENXIO);
	assert_int_equal(gm_unix_region_new_fd(0, 4 * pg, fd, pg, 0, &r),
			 -ENXIO);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 4 * pg, 0, &r),
			 -ENXIO);
	/* An empty file has room for nothing. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 0, 0, &r), -ENXIO);
	assert_null(r);
	assert_int_equal(close(fd), 0);
}

static void test_unix_fd_open_mode(void **state)
{
	const uint64_t gpa = 0x500000;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint8_t page[64];
	int fd = make_file(2 * pg);
	int rofd, wofd;

	fill_pattern(page, sizeof(page), 13);
	assert_int_equal(pwrite(fd, page, sizeof(page), 0),
			 (ssize_t)sizeof(page));

	/* An O_RDONLY fd cannot back a writable region... */
	rofd = reopen(fd, O_RDONLY);
	assert_int_equal(gm_unix_region_new_fd(gpa, pg, rofd, 0, 0, &r),
			 -EACCES);
	assert_null(r);
	if (!strstr(gm_last_error(), "read-only"))
		fail_msg("gm_last_error() says '%s'", gm_last_error());

	/* ...but can back a read-only one. */
	assert_int_equal(gm_unix_region_new_fd(gpa, pg, rofd, 0,
					       GM_UNIX_RDONLY, &r),
			 0);
	assert_int_equal(close(rofd), 0);
	s = space_with(r);
	assert_int_equal(only_region(s).flags, GM_REGION_RDONLY);
	memset(page, 0, sizeof(page));
	assert_int_equal(gm_read(s, gpa, page, sizeof(page)), 0);
	for (size_t i = 0; i < sizeof(page); i++)
		assert_int_equal(page[i], (uint8_t)(i * 7 + 13));
	assert_int_equal(gm_write(s, gpa, page, 1), -EACCES);
	gm_space_free(s);

	/* A mapping must be readable: O_WRONLY is refused either way. */
	r = NULL;
	wofd = reopen(fd, O_WRONLY);
	assert_int_equal(gm_unix_region_new_fd(gpa, pg, wofd, 0, 0, &r),
			 -EACCES);
	assert_int_equal(gm_unix_region_new_fd(gpa, pg, wofd, 0,
					       GM_UNIX_RDONLY, &r),
			 -EACCES);
	assert_null(r);
	if (!strstr(gm_last_error(), "write-only"))
		fail_msg("gm_last_error() says '%s'", gm_last_error());
	assert_int_equal(close(wofd), 0);
	assert_int_equal(close(fd), 0);
}

/* A caller's memfd works as a file, and the region aliases it. */
static void test_unix_fd_memfd(void **state)
{
	const uint64_t gpa = 0x600000;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint64_t v = 0x0123456789abcdefu, got = 0;
	int fd;

	fd = memfd_create("test-unix", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(3 * pg)), 0);
	assert_int_equal(gm_unix_region_new_fd(gpa, 2 * pg, fd, pg, 0, &r),
			 0);
	s = space_with(r);
	assert_int_equal(gm_write(s, gpa + pg + 16, &v, sizeof(v)), 0);
	assert_int_equal(pread(fd, &got, sizeof(got), (off_t)(2 * pg + 16)),
			 (ssize_t)sizeof(got));
	assert_int_equal(got, v);
	gm_space_free(s);
	assert_int_equal(close(fd), 0);
}

/* ---- read-only regions ---- */

static void test_unix_rdonly_refuses_writes(void **state)
{
	const uint64_t gpa = 0x700000, size = 2 * pg;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint8_t *alias, *buf, *want;
	int64_t off;
	int fd;

	buf = malloc(size);
	want = malloc(size);
	assert_non_null(buf);
	assert_non_null(want);

	assert_int_equal(gm_unix_region_new_memfd(gpa, size, GM_UNIX_RDONLY,
						  &r),
			 0);
	assert_int_equal(gm_unix_region_fd(r, &fd, &off), 0);
	s = space_with(r);
	assert_int_equal(only_region(s).flags, GM_REGION_RDONLY);

	/* Whoever holds the fd can still write; the space sees it. */
	alias = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(alias != MAP_FAILED);
	fill_pattern(alias, size, 17);
	memcpy(want, alias, size);
	assert_int_equal(gm_read(s, gpa, buf, size), 0);
	assert_memory_equal(buf, want, size);

	/* The space refuses to write, and writes nothing. */
	memset(buf, 0x5a, size);
	assert_int_equal(gm_write(s, gpa, buf, size), -EACCES);
	assert_int_equal(gm_write(s, gpa + pg, buf, 1), -EACCES);
	assert_int_equal(gm_write(s, gpa + size - 8, buf, 8), -EACCES);
	assert_memory_equal(alias, want, size);
	assert_int_equal(gm_read(s, gpa, buf, size), 0);
	assert_memory_equal(buf, want, size);

	/* Discarding is writing too. */
	assert_int_equal(gm_unix_region_discard(r, 0, pg), -EACCES);
	assert_memory_equal(alias, want, size);

	assert_int_equal(munmap(alias, size), 0);
	gm_space_free(s);
	free(buf);
	free(want);
}

static void test_unix_rdonly_anon(void **state)
{
	const uint64_t gpa = 0x800000, size = 2 * pg;
	const unsigned int flags[] = { GM_UNIX_RDONLY,
				       GM_UNIX_RDONLY | GM_UNIX_SHARED };

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct gm_region *r = NULL;
		struct gm_space *s;
		uint32_t v = 0xdeadbeef;

		assert_int_equal(gm_unix_region_new_anon(gpa, size, flags[i],
							 &r),
				 0);
		s = space_with(r);
		assert_int_equal(only_region(s).flags, GM_REGION_RDONLY);
		assert_int_equal(gm_write(s, gpa, &v, sizeof(v)), -EACCES);
		assert_int_equal(gm_write_u32(s, gpa + pg, v), -EACCES);
		assert_bytes(s, gpa, size, 0);
		gm_space_free(s);
	}
}

/* A write spanning a writable and a read-only region writes neither. */
static void test_unix_rdonly_next_to_writable(void **state)
{
	const uint64_t gpa = 0x900000;
	struct gm_region *rw = NULL, *ro = NULL;
	struct gm_space *s;
	uint8_t *buf;

	buf = malloc(2 * pg);
	assert_non_null(buf);
	memset(buf, 0x5a, 2 * pg);
	assert_int_equal(gm_unix_region_new_anon(gpa, 2 * pg, 0, &rw), 0);
	assert_int_equal(gm_unix_region_new_anon(gpa + 2 * pg, 2 * pg,
						 GM_UNIX_RDONLY, &ro),
			 0);
	s = space_with(rw);
	assert_int_equal(gm_space_add_region(s, ro), 0);

	assert_int_equal(gm_write(s, gpa + pg, buf, 2 * pg), -EACCES);
	assert_bytes(s, gpa, 4 * pg, 0);
	/* The writable region alone still takes writes. */
	assert_int_equal(gm_write(s, gpa + pg, buf, pg), 0);
	assert_bytes(s, gpa + pg, pg, 0x5a);

	gm_space_free(s);
	free(buf);
}

/* The mapping itself is read-only and MAP_NORESERVE, not just the flag. */
static void test_unix_mapping_flags(void **state)
{
	const uint64_t size = 2 * pg;
	struct gm_region *r[6] = { NULL };
	const char *want[6] = { "rw-p", "r--p", "rw-s",
				"r--s", "rw-s", "r--s" };
	int fd = make_file(size);

	assert_int_equal(gm_unix_region_new_anon(0, size, 0, &r[0]), 0);
	assert_int_equal(gm_unix_region_new_anon(0, size, GM_UNIX_RDONLY,
						 &r[1]),
			 0);
	assert_int_equal(gm_unix_region_new_anon(0, size, GM_UNIX_SHARED,
						  &r[2]),
			 0);
	assert_int_equal(gm_unix_region_new_memfd(0, size, GM_UNIX_RDONLY,
						  &r[3]),
			 0);
	assert_int_equal(gm_unix_region_new_fd(0, size, fd, 0, 0, &r[4]), 0);
	assert_int_equal(gm_unix_region_new_fd(0, size, fd, 0, GM_UNIX_RDONLY,
					       &r[5]),
			 0);
	for (size_t i = 0; i < 6; i++) {
		bool noreserve = false;
		char perms[5] = "";

		assert_non_null(r[i]->hva);
		assert_int_equal(r[i]->size, size);
		mapping_info(r[i]->hva, perms, &noreserve);
		if (strcmp(perms, want[i]) != 0)
			fail_msg("region %zu mapped %s, want %s", i, perms,
				 want[i]);
		if (!noreserve)
			fail_msg("region %zu is not MAP_NORESERVE", i);
		gm_region_destroy(r[i]);
	}
	assert_int_equal(close(fd), 0);
}

/* ---- gm_unix_region_fd() and friends on bad input ---- */

static void test_unix_query_bad_args(void **state)
{
	struct other_region *o;
	struct gm_region *r = NULL;
	int64_t off;
	int fd;

	assert_int_equal(gm_unix_region_fd(NULL, &fd, &off), -EINVAL);
	assert_int_equal(gm_unix_region_is_hugetlb(NULL), -EINVAL);
	assert_int_equal(gm_unix_region_discard(NULL, 0, pg), -EINVAL);

	assert_int_equal(gm_unix_region_new_memfd(0, pg, 0, &r), 0);
	assert_int_equal(gm_unix_region_fd(r, NULL, &off), -EINVAL);
	assert_int_equal(gm_unix_region_fd(r, &fd, NULL), -EINVAL);
	gm_region_destroy(r);

	/* Another backend's region is not taken for a unix one. */
	o = calloc(1, sizeof(*o));
	assert_non_null(o);
	assert_int_equal(gm_region_init(&o->base, &other_ops, 0, pg, 0), 0);
	assert_int_equal(gm_unix_region_fd(&o->base, &fd, &off), -EINVAL);
	assert_int_equal(gm_unix_region_is_hugetlb(&o->base), -EINVAL);
	assert_int_equal(gm_unix_region_discard(&o->base, 0, pg), -EINVAL);
	gm_region_destroy(&o->base);
}

/* ---- discard ---- */

enum kind { ANON_PRIVATE, ANON_SHARED, MEMFD, FILE_FD, NKINDS };

static const char *const kind_name[NKINDS] = {
	"anonymous private", "anonymous shared", "memfd", "file"
};

/* Whether each page of [addr, addr + len) is resident, into @vec. */
static void residency(const uint8_t *addr, uint64_t len, unsigned char *vec)
{
	assert_int_equal(mincore((void *)addr, len, vec), 0);
}

static void discard_one(enum kind k)
{
	const uint64_t gpa = 0xa00000, size = 4 * pg;
	struct gm_region *r = NULL;
	unsigned char vec[4];
	struct gm_space *s;
	uint8_t *buf;
	int64_t off = 0;
	int fd = -1;
	int rc;

	switch (k) {
	case ANON_PRIVATE:
		rc = gm_unix_region_new_anon(gpa, size, 0, &r);
		break;
	case ANON_SHARED:
		rc = gm_unix_region_new_anon(gpa, size, GM_UNIX_SHARED, &r);
		break;
	case MEMFD:
		rc = gm_unix_region_new_memfd(gpa, size, 0, &r);
		break;
	default:
		fd = make_file(size + 2 * pg);
		rc = gm_unix_region_new_fd(gpa, size, fd, 2 * pg, 0, &r);
		break;
	}
	assert_int_equal(rc, 0);
	s = space_with(r);

	buf = malloc(size);
	assert_non_null(buf);
	memset(buf, 0xaa, size);
	assert_int_equal(gm_write(s, gpa, buf, size), 0);
	/* Written pages are resident: mincore() can see the difference. */
	residency(r->hva, size, vec);
	if (!(vec[1] & 1) || !(vec[2] & 1))
		fail_msg("%s: written pages not resident", kind_name[k]);

	/* Drop pages 1 and 2. */
	rc = gm_unix_region_discard(r, pg, 2 * pg);
	if (k == FILE_FD && rc == -EOPNOTSUPP) {
		print_message("file system of $TMPDIR cannot punch holes\n");
		gm_space_free(s);
		free(buf);
		assert_int_equal(close(fd), 0);
		skip();
	}
	assert_int_equal(rc, 0);

	/*
	 * The memory was given back.  Look before reading the range back:
	 * reading maps private anonymous pages in again, as the zero page.
	 */
	residency(r->hva, size, vec);
	if (vec[1] & 1 || vec[2] & 1)
		fail_msg("%s: discarded pages still resident", kind_name[k]);

	/* They read back as zero, the others are intact... */
	assert_bytes(s, gpa, pg, 0xaa);
	assert_bytes(s, gpa + pg, 2 * pg, 0);
	assert_bytes(s, gpa + 3 * pg, pg, 0xaa);

	/* ...in the file too, where there is one. */
	if (k != ANON_PRIVATE && k != ANON_SHARED) {
		int rfd;

		assert_int_equal(gm_unix_region_fd(r, &rfd, &off), 0);
		assert_file_bytes(rfd, (off_t)off, pg, 0xaa);
		assert_file_bytes(rfd, (off_t)(off + (int64_t)pg), 2 * pg, 0);
		assert_file_bytes(rfd, (off_t)(off + 3 * (int64_t)pg), pg,
				  0xaa);
	}

	/* The whole region can be discarded. */
	assert_int_equal(gm_unix_region_discard(r, 0, size), 0);
	assert_bytes(s, gpa, size, 0);

	gm_space_free(s);
	free(buf);
	if (fd >= 0)
		assert_int_equal(close(fd), 0);
}

static void test_unix_discard_anon_private(void **state)
{
	discard_one(ANON_PRIVATE);
}

static void test_unix_discard_anon_shared(void **state)
{
	skip_if_emulated(EMU_MADVISE);
	discard_one(ANON_SHARED);
}

static void test_unix_discard_memfd(void **state)
{
	discard_one(MEMFD);
}

static void test_unix_discard_file(void **state)
{
	discard_one(FILE_FD);
}

static void test_unix_discard_bad_args(void **state)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_unix_region_new_anon(0, 4 * pg, 0, &r), 0);
	assert_int_equal(gm_unix_region_discard(r, 0, 0), -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, 1, pg), -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, 0, pg + 1), -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, 0, 5 * pg), -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, 3 * pg, 2 * pg), -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, 4 * pg, pg), -EINVAL);
	/* off + len wraps. */
	assert_int_equal(gm_unix_region_discard(r, 2 * pg,
						UINT64_MAX - pg + 1),
			 -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, UINT64_MAX - pg + 1, pg),
			 -EINVAL);
	assert_int_equal(gm_unix_region_discard(r, 3 * pg, pg), 0);
	gm_region_destroy(r);
}

/* ---- hugetlbfs ---- */

static void test_unix_is_hugetlb_false(void **state)
{
	struct gm_region *r = NULL;
	int fd;

	fd = make_file(pg);
	assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 0, 0, &r), 0);
	assert_int_equal(gm_unix_region_is_hugetlb(r), 0);
	gm_region_destroy(r);
	assert_int_equal(close(fd), 0);

	fd = make_tmpfs_file(pg);
	if (fd >= 0) {
		assert_int_equal(gm_unix_region_new_fd(0, pg, fd, 0, 0, &r),
				 0);
		assert_int_equal(gm_unix_region_is_hugetlb(r), 0);
		gm_region_destroy(r);
		assert_int_equal(close(fd), 0);
	} else {
		print_message("no tmpfs at /dev/shm: tmpfs file not tried\n");
	}
}

/* Free huge pages of the default size, from /proc/meminfo. */
static long free_huge_pages(void)
{
	char line[256];
	long n = 0;
	FILE *fp;

	fp = fopen("/proc/meminfo", "re");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(fp);
	return n;
}

static void test_unix_is_hugetlb_true(void **state)
{
	const uint64_t gpa = 0x40000000;
	struct gm_region *r = NULL;
	struct gm_space *s;
	struct statfs sfs;
	uint64_t hps;
	int fd, rc;

	skip_if_emulated("qemu-user 7.2 cannot map hugetlbfs files (mmap "
			 "fails with EINVAL)");
	fd = memfd_create("test-unix-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0) {
		print_message("memfd_create(MFD_HUGETLB): %s: "
			      "is_hugetlb true not tested\n",
			      strerror(errno));
		skip();
	}
	assert_int_equal(fstatfs(fd, &sfs), 0);
	assert_int_equal(sfs.f_type, HUGETLBFS_MAGIC);
	hps = (uint64_t)sfs.f_bsize;
	assert_true(hps > pg);
	assert_int_equal(ftruncate(fd, (off_t)(2 * hps)), 0);

	/* Alignment is to the huge page size, not the base page size. */
	assert_int_equal(gm_unix_region_new_fd(gpa + pg, hps, fd, 0, 0, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(gpa, pg, fd, 0, 0, &r),
			 -EINVAL);
	assert_int_equal(gm_unix_region_new_fd(gpa, hps, fd, (int64_t)pg, 0,
					       &r),
			 -EINVAL);
	assert_null(r);

	rc = gm_unix_region_new_fd(gpa, 2 * hps, fd, 0, 0, &r);
	if (rc == -ENOMEM) {
		print_message("cannot map huge pages (none configured?): "
			      "is_hugetlb true not tested\n");
		assert_int_equal(close(fd), 0);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(gm_unix_region_is_hugetlb(r), 1);

	s = space_with(r);
	if (free_huge_pages() >= 2) {
		uint64_t v = 0x5555aaaa5555aaaau, got = 0;

		assert_int_equal(gm_write(s, gpa + hps + 8, &v, sizeof(v)), 0);
		assert_int_equal(gm_read(s, gpa + hps + 8, &got, sizeof(got)),
				 0);
		assert_int_equal(got, v);
		/* Discard works in whole huge pages only. */
		assert_int_equal(gm_unix_region_discard(r, hps, pg), -EINVAL);
		assert_int_equal(gm_unix_region_discard(r, hps, hps), 0);
		assert_bytes(s, gpa + hps, 64, 0);
	} else {
		/* Touching a huge page now would raise SIGBUS. */
		print_message("fewer than 2 free huge pages: hugetlbfs "
			      "memory detected and mapped, not accessed\n");
	}
	gm_space_free(s);
	assert_int_equal(close(fd), 0);
}

/* ---- MAP_NORESERVE ---- */

static void test_unix_noreserve_64g(void **state)
{
	const uint64_t size = 64 * GIB;
	const uint64_t at[] = { 0, size / 2 + 8, size - 8 };
	struct gm_region *r = NULL;
	struct gm_space *s;
	int rc;

	/*
	 * Far more than this machine could commit, typically: without
	 * MAP_NORESERVE, strict overcommit refuses it.
	 */
	rc = gm_unix_region_new_anon(0, size, 0, &r);
	if (rc < 0 && RUNNING_ON_VALGRIND) {
		/* Its address space manager stops short of 64 GiB. */
		print_message("valgrind cannot map 64 GiB (%s): "
			      "not tested under valgrind\n", strerror(-rc));
		skip();
	}
	assert_int_equal(rc, 0);
	s = space_with(r);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		uint64_t v = 0xfeedface00000000u + i, got = 0;

		assert_int_equal(gm_write(s, at[i], &v, sizeof(v)), 0);
		assert_int_equal(gm_read(s, at[i], &got, sizeof(got)), 0);
		assert_int_equal(got, v);
	}
	gm_space_free(s);
}

/* ---- fd I/O that an error stops part way ---- */

/*
 * The child of test_unix_write_to_fd_fsize_limit(): write [gpa, gpa + len)
 * to @fd at @off under a file size limit of @limit, then once more at the
 * limit, and send both results down @out.  It runs in a child so that the
 * limit and the ignored SIGXFSZ stay there; it exits 0 if it could run.
 */
static int fsize_child(struct gm_space *s, uint64_t gpa, size_t len, int fd,
		       int64_t off, rlim_t limit, int out)
{
	struct rlimit rl = { .rlim_cur = limit, .rlim_max = limit };
	ssize_t ret[2];

	/* Ignored, SIGXFSZ no longer kills: the write fails with EFBIG. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl))
		return 1;
	ret[0] = gm_write_to_fd(s, gpa, len, fd, off);
	ret[1] = gm_write_to_fd(s, gpa, 16, fd, (int64_t)limit);
	return write(out, ret, sizeof(ret)) == (ssize_t)sizeof(ret) ? 0 : 1;
}

/*
 * gm_write_to_fd() into a file that reaches RLIMIT_FSIZE part way: the
 * kernel writes up to the limit, then fails the next write with EFBIG,
 * and the call returns the bytes written, not the error (guestmem.h).
 * Two adjacent regions make the range two iovecs, and the limit falls in
 * the second, so the first write moves bytes from both before the error.
 */
static void test_unix_write_to_fd_fsize_limit(void **state)
{
	const uint64_t gpa = 0x100000, size = 4 * pg;
	const uint64_t at = gpa + 2 * pg, len = 4 * pg, part = 3 * pg + 123;
	const int64_t off = 1000;
	struct gm_region *r = NULL;
	struct gm_space *s;
	uint8_t *want, *got;
	ssize_t ret[2];
	int fd, out[2], status;
	pid_t pid;

	want = malloc(len);
	got = malloc(len);
	assert_non_null(want);
	assert_non_null(got);
	assert_int_equal(gm_unix_region_new_anon(gpa, size, 0, &r), 0);
	s = space_with(r);
	assert_int_equal(gm_unix_region_new_anon(gpa + size, size, 0, &r), 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
	fill_pattern(want, len, 5);
	assert_int_equal(gm_write(s, at, want, len), 0);
	fd = make_file(0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = fsize_child(s, at, len, fd, off, (rlim_t)off + part,
				     out[1]);

		/* Valgrind checks the child for leaks too. */
		gm_space_free(s);
		free(want);
		free(got);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(out[0], ret, sizeof(ret)), sizeof(ret));

	/* Up to the limit, then the error: the count. */
	assert_int_equal(ret[0], part);
	assert_int_equal(lseek(fd, 0, SEEK_END), off + (int64_t)part);
	assert_int_equal(pread(fd, got, part, off), (ssize_t)part);
	assert_memory_equal(got, want, part);
	/* At the limit nothing moves: the error. */
	assert_int_equal(ret[1], -EFBIG);

	assert_int_equal(close(out[0]), 0);
	assert_int_equal(close(out[1]), 0);
	assert_int_equal(close(fd), 0);
	gm_space_free(s);
	free(want);
	free(got);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unix_anon_private),
		T(test_unix_anon_shared),
		T(test_unix_anon_bad_args),
		T(test_unix_anon_top_of_space),
		T(test_unix_memfd_aliasing),
		T(test_unix_memfd_bad_args),
		T(test_unix_fd_file),
		T(test_unix_fd_exact_fit),
		T(test_unix_fd_bad_args),
		T(test_unix_fd_short_file),
		T(test_unix_fd_open_mode),
		T(test_unix_fd_memfd),
		T(test_unix_rdonly_refuses_writes),
		T(test_unix_rdonly_anon),
		T(test_unix_rdonly_next_to_writable),
		T(test_unix_mapping_flags),
		T(test_unix_query_bad_args),
		T(test_unix_discard_anon_private),
		T(test_unix_discard_anon_shared),
		T(test_unix_discard_memfd),
		T(test_unix_discard_file),
		T(test_unix_discard_bad_args),
		T(test_unix_is_hugetlb_false),
		T(test_unix_is_hugetlb_true),
		T(test_unix_noreserve_64g),
		T(test_unix_write_to_fd_fsize_limit),
	};

	pg = (uint64_t)sysconf(_SC_PAGESIZE);
	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
