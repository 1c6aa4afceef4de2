/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The conformance suite (conformance.h) over the unix backend: anonymous
 * memory, a regular file in $TMPDIR and a memfd.
 *
 * Observability: unix regions are persistent, so a destroyed region is one
 * whose mapping is gone (mincore() fails with ENOMEM); and file and memfd
 * regions own a duplicated fd, so a leaked region shows up as an fd that
 * is still open after the test.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <guestmem/unix.h>

#include "conformance.h"

struct unix_ctx {
	int fds;	/* open fds when the fixture started */
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int unix_setup(void **ctx)
{
	struct unix_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fds = count_fds();
	*ctx = c;
	return 0;
}

static void unix_teardown(void *ctx)
{
	free(ctx);
}

/* Every region the test made is gone with the space: no fd remains. */
static void unix_check(void *ctx)
{
	struct unix_ctx *c = ctx;
	int before = c->fds, now = count_fds();

	/* Report a leak once, not again in every later test. */
	c->fds = now;
	if (before >= 0 && now != before)
		fail_msg("%d fds open after the test, %d before: a region "
			 "leaked",
			 now, before);
}

static int unix_region_gone(void *ctx, uint64_t gpa, const uint8_t *hva)
{
	unsigned char vec;

	(void)ctx;
	(void)gpa;
	assert_non_null(hva);
	if (mincore((void *)hva, 1, &vec) == 0)
		return 0;
	assert_int_equal(errno, ENOMEM);
	return 1;
}

static int anon_new(void *ctx, struct gm_space *s, uint64_t gpa,
		    uint64_t size, int rdonly, struct gm_region **out)
{
	(void)ctx;
	(void)s;
	return gm_unix_region_new_anon(gpa, size, rdonly ? GM_UNIX_RDONLY : 0,
				       out);
}

static int memfd_new(void *ctx, struct gm_space *s, uint64_t gpa,
		     uint64_t size, int rdonly, struct gm_region **out)
{
	(void)ctx;
	(void)s;
	return gm_unix_region_new_memfd(gpa, size,
					rdonly ? GM_UNIX_RDONLY : 0, out);
}

/* Spaces whose accessors recover from faults on guest memory. */
static int faultsafe_space_new(void *ctx, const char *name,
			       struct gm_space **out)
{
	(void)ctx;
	return gm_space_new(out, name, GM_SPACE_FAULT_SAFE);
}

/*
 * A new unlinked file per region, mapped from one page in so that the
 * offset is exercised.  Read-only files get non-zero contents so that the
 * suite reads something other than zeros from read-only memory.
 */
static int file_new(void *ctx, struct gm_space *s, uint64_t gpa,
		    uint64_t size, int rdonly, struct gm_region **out)
{
	const char *dir = getenv("TMPDIR");
	long page = sysconf(_SC_PAGESIZE);
	char path[4096];
	int fd, ret;

	(void)ctx;
	(void)s;
	snprintf(path, sizeof(path), "%s/gm-conf-unix-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* A size that would wrap must reach the constructor unharmed. */
	if (size <= (uint64_t)INT64_MAX - (uint64_t)page &&
	    ftruncate(fd, (off_t)(size + (uint64_t)page)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (rdonly) {
		uint8_t buf[4096];
		uint64_t done;

		for (done = 0; done < size; done += sizeof(buf)) {
			size_t n = size - done < sizeof(buf) ? size - done :
							       sizeof(buf);
			size_t i;

			for (i = 0; i < n; i++)
				buf[i] = (uint8_t)((done + i) * 7 + 1);
			if (pwrite(fd, buf, n, (off_t)(page + done)) !=
			    (ssize_t)n) {
				close(fd);
				return -EIO;
			}
		}
	}
	ret = gm_unix_region_new_fd(gpa, size, fd, page,
				    rdonly ? GM_UNIX_RDONLY : 0, out);
	close(fd);
	return ret;
}

int main(void)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	const struct conf_fixture fixtures[] = {
		{
			.name = "unix-anon",
			.setup = unix_setup,
			.teardown = unix_teardown,
			.region_new = anon_new,
			.granule = page,
			.check = unix_check,
			.region_gone = unix_region_gone,
		},
		{
			.name = "unix-file",
			.setup = unix_setup,
			.teardown = unix_teardown,
			.region_new = file_new,
			.granule = page,
			.check = unix_check,
			.region_gone = unix_region_gone,
		},
		{
			.name = "unix-memfd",
			.setup = unix_setup,
			.teardown = unix_teardown,
			.region_new = memfd_new,
			.granule = page,
			.check = unix_check,
			.region_gone = unix_region_gone,
		},
		/* The same semantics through the fault-safe copy routines. */
		{
			.name = "unix-file-faultsafe",
			.setup = unix_setup,
			.teardown = unix_teardown,
			.space_new = faultsafe_space_new,
			.region_new = file_new,
			.granule = page,
			.check = unix_check,
			.region_gone = unix_region_gone,
		},
	};
	struct gm_space *s = NULL;
	size_t i;
	int failed = 0, ret;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		if (fixtures[i].space_new == faultsafe_space_new) {
			ret = gm_space_new(&s, "probe", GM_SPACE_FAULT_SAFE);
			gm_space_free(s);
			if (ret == -EOPNOTSUPP) {
				printf("%s: skipped, GM_SPACE_FAULT_SAFE is "
				       "not supported on this host\n",
				       fixtures[i].name);
				continue;
			}
		}
		if (conf_run(&fixtures[i]) != 0)
			failed = 1;
	}
	return failed;
}
