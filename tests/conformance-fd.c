/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance suite, run by conf_run() (conformance.c): fd I/O,
 * gm_read_from_fd() and gm_write_to_fd() over pipes and files.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

/* ------------------------------------------------------------------ */
/* fd I/O                                                              */
/* ------------------------------------------------------------------ */

static int tmp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/gm-conf-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

int pipe_avail(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Feeds a pipe in small chunks from another thread, so that the reader
 * sees short reads, then closes it.
 */
struct feeder {
	int fd;
	const uint8_t *buf;
	size_t len;
	int failed;
};

static void *feed(void *p)
{
	struct feeder *f = p;
	size_t done = 0;

	while (done < f->len) {
		size_t n = f->len - done < 7 ? f->len - done : 7;
		ssize_t w = write(f->fd, f->buf + done, n);

		if (w <= 0) {
			f->failed = 1;
			break;
		}
		done += (size_t)w;
		sched_yield();
	}
	close(f->fd);
	return NULL;
}

static ssize_t read_fed(struct conf_state *st, uint64_t gpa, size_t len,
			const uint8_t *data, size_t fed)
{
	struct feeder f;
	pthread_t t;
	int p[2];
	ssize_t ret;

	assert_int_equal(pipe(p), 0);
	f = (struct feeder){ .fd = p[1], .buf = data, .len = fed };
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	ret = gm_read_from_fd(st->s, gpa, len, p[0], -1);
	pthread_join(t, NULL);
	close(p[0]);
	assert_false(f.failed);
	return ret;
}

void test_fd_pipe(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st);
	uint8_t data[3000], got[3000], want[3000], junk[100];
	int p[2];

	/* Across A | B, fed 7 bytes at a time. */
	gen(data, sizeof(data), 6);
	expect_ret(read_fed(st, bnd - 1000, sizeof(data), data, sizeof(data)),
		   sizeof(data));
	shadow_write(st, bnd - 1000, data, sizeof(data));
	expect_mem(st, bnd - 2000, 4000);

	/* End of file early: a short count, the rest untouched. */
	gen(data, sizeof(data), 7);
	expect_ret(read_fed(st, bnd - 1500, sizeof(data), data,
			    sizeof(data) - 100),
		   sizeof(data) - 100);
	shadow_write(st, bnd - 1500, data, sizeof(data) - 100);
	expect_mem(st, bnd - 2000, 4000);

	/* Guest memory to a pipe, across the boundary. */
	assert_int_equal(pipe(p), 0);
	expect_ret(gm_write_to_fd(st->s, bnd - 1200, sizeof(got), p[1], -1),
		   sizeof(got));
	read_all(p[0], got, sizeof(got));
	shadow_read(st, bnd - 1200, want, sizeof(want));
	assert_memory_equal(got, want, sizeof(got));
	assert_int_equal(pipe_avail(p[0]), 0);

	/* Into or out of a hole: -EFAULT, the pipe is left alone. */
	gen(junk, sizeof(junk), 8);
	write_all(p[1], junk, sizeof(junk));
	expect_ret(gm_read_from_fd(st->s, GPA_HOLE(st) - 50, 100, p[0], -1),
		   -EFAULT);
	assert_int_equal(pipe_avail(p[0]), 100);
	expect_ret(gm_write_to_fd(st->s, GPA_HOLE(st) - 50, 100, p[1], -1),
		   -EFAULT);
	assert_int_equal(pipe_avail(p[0]), 100);
	expect_ret(gm_write_to_fd(st->s, GPA_HOLE(st) + 8, 10, p[1], -1),
		   -EFAULT);
	assert_int_equal(pipe_avail(p[0]), 100);

	/* Into read-only memory: -EACCES, nothing consumed or written. */
	expect_ret(gm_read_from_fd(st->s, GPA_RO(st), 50, p[0], -1), -EACCES);
	expect_ret(gm_read_from_fd(st->s, GPA_RO(st) - 10, 50, p[0], -1),
		   -EACCES);
	assert_int_equal(pipe_avail(p[0]), 100);
	read_all(p[0], got, 100);
	assert_memory_equal(got, junk, 100);

	/* Out of read-only memory is fine. */
	expect_ret(gm_write_to_fd(st->s, GPA_RO(st) - 10, 50, p[1], -1), 50);
	read_all(p[0], got, 50);
	shadow_read(st, GPA_RO(st) - 10, want, 50);
	assert_memory_equal(got, want, 50);

	/* Length 0 moves nothing. */
	expect_ret(gm_write_to_fd(st->s, bnd, 0, p[1], -1), 0);
	assert_int_equal(pipe_avail(p[0]), 0);
	close(p[0]);
	close(p[1]);
}

void test_fd_file(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st);
	uint8_t file[8192], got[6000], want[6000];
	int fd = tmp_fd();

	gen(file, sizeof(file), 9);
	write_all(fd, file, sizeof(file));
	assert_int_equal(lseek(fd, 123, SEEK_SET), 123);

	/* With an offset: pread-like, the fd's position stays put. */
	expect_ret(gm_read_from_fd(st->s, bnd - 2000, 4000, fd, 1000), 4000);
	shadow_write(st, bnd - 2000, file + 1000, 4000);
	expect_mem(st, bnd - 3000, 6000);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123);

	expect_ret(gm_write_to_fd(st->s, bnd - 3000, 5000, fd, 6000), 5000);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123);
	assert_int_equal(pread(fd, got, 5000, 6000), 5000);
	shadow_read(st, bnd - 3000, want, 5000);
	assert_memory_equal(got, want, 5000);
	assert_int_equal(lseek(fd, 0, SEEK_END), 11000);

	/* Offset -1 uses and advances the fd's position. */
	assert_int_equal(lseek(fd, 100, SEEK_SET), 100);
	expect_ret(gm_read_from_fd(st->s, bnd - 150, 300, fd, -1), 300);
	shadow_write(st, bnd - 150, file + 100, 300);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 400);
	expect_mem(st, bnd - 1000, 2000);

	/* End of file: a short count; the rest of the range untouched. */
	expect_ret(gm_read_from_fd(st->s, bnd - 300, 4000, fd, 11000 - 500),
		   500);
	assert_int_equal(pread(fd, got, 500, 11000 - 500), 500);
	shadow_write(st, bnd - 300, got, 500);
	expect_mem(st, bnd - 1000, 5000);
	expect_ret(gm_read_from_fd(st->s, bnd, 100, fd, 11000), 0);

	/* A hole: nothing read or written. */
	expect_ret(gm_read_from_fd(st->s, GPA_HOLE(st) - 10, 100, fd, 0),
		   -EFAULT);
	expect_ret(gm_write_to_fd(st->s, GPA_HOLE(st) - 10, 100, fd, 11000),
		   -EFAULT);
	assert_int_equal(lseek(fd, 0, SEEK_END), 11000);
	expect_ret(gm_read_from_fd(st->s, GPA_RO(st) + 10, 100, fd, 0),
		   -EACCES);
	expect_mem(st, GPA_HOLE(st) - 100, 100);
	close(fd);
}

/*
 * An error that stops a transfer after bytes have moved gives the count,
 * not the error (guestmem.h).  A non-blocking pipe makes that exact:
 * readv takes what the pipe holds and writev what fits, then the next call
 * fails with EAGAIN.  Both ranges cross A | B and so do the first calls,
 * so the error comes after a call that moved bytes from both regions.
 */
void test_fd_partial_error(void **state)
{
	struct conf_state *st = *state;
	uint64_t bnd = GPA_B(st), at;
	uint8_t data[3000], *got, *want;
	size_t len;
	int p[2], cap;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);

	/* Into the guest: 2000 bytes wait, 3000 are asked for. */
	gen(data, sizeof(data), 10);
	write_all(p[1], data, 2000);
	expect_ret(gm_read_from_fd(st->s, bnd - 1000, sizeof(data), p[0], -1),
		   2000);
	shadow_write(st, bnd - 1000, data, 2000);
	expect_mem(st, bnd - 2000, 4000);
	/* With nothing to move, EAGAIN is the result. */
	expect_ret(gm_read_from_fd(st->s, bnd - 1000, sizeof(data), p[0], -1),
		   -EAGAIN);
	expect_mem(st, bnd - 2000, 4000);

	/* Out of the guest: the pipe shrunk to one page, which fits half
	 * in A and half in B, and a page more asked for. */
	cap = fcntl(p[1], F_SETPIPE_SZ, (int)sysconf(_SC_PAGESIZE));
	assert_true(cap > 0);
	cap = fcntl(p[1], F_GETPIPE_SZ);
	assert_true(cap > 0 && (uint64_t)cap <= st->u);
	at = bnd - (uint64_t)cap / 2;
	len = 2 * (size_t)cap;
	got = malloc(len);
	want = malloc(len);
	assert_non_null(got);
	assert_non_null(want);
	expect_ret(gm_write_to_fd(st->s, at, len, p[1], -1), cap);
	/* The pipe is full now: EAGAIN, nothing written. */
	expect_ret(gm_write_to_fd(st->s, at, len, p[1], -1), -EAGAIN);
	assert_int_equal(pipe_avail(p[0]), cap);
	read_all(p[0], got, (size_t)cap);
	shadow_read(st, at, want, (size_t)cap);
	assert_memory_equal(got, want, (size_t)cap);
	free(got);
	free(want);
	close(p[0]);
	close(p[1]);
}
