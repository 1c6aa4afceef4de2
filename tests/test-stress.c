/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stress: threads reading, writing and doing atomics on one fault-safe
 * space of unix and Xen (simulator) regions, while other threads hot-add
 * and remove regions, invalidate the Xen mapping cache and inject faults:
 * frames revoked and restored, per-frame map errors, a file truncated
 * under its region.
 *
 * Every region has a fixed role, so every failure can be checked against
 * what was injected into that region:
 *   stable   unix anon, Xen foreign (on demand, over a cache smaller than
 *            the working set), grants, eager: never fail;
 *   hot      added and removed in a loop, of every kind: -EFAULT (a hole);
 *   revoke   frames revoked and restored: -EFAULT (a revoked frame under a
 *            live mapping) or -EINVAL (Xen refuses to map it);
 *   error    frames given a map error: -EIO;
 *   trunc    a unix region over a file that is truncated and grown back:
 *            -EFAULT.
 * Each worker also adds 1 to a shared counter (in anon memory and in a
 * foreign region) and to its own slot with gm_atomic_fetch_add_u64, and
 * counts in a local variable: no update may be lost.
 *
 * The iterations are bounded and nothing is timed.  At the end the space
 * and the context are freed and the simulator must hold no mapping and no
 * handle, and the process no new fd.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/unix.h>
#include <guestmem/xen.h>

#include "test-util.h"

#include "xensim/xensim.h"

/* Sanitizers and valgrind make every access and system call slower. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define PG 4096u
#define DOMID 5u
#define DOM_PAGES 256u
#define NWORKERS 4

/* The layout: guest address, pages, and for Xen the first frame. */
#define ANON_GPA UINT64_C(0x000000)   /* 16 pages: counters, then data */
#define FOR_GPA UINT64_C(0x100000)    /* 64 frames from 0 */
#define FOR_GFN 0
#define EAGER_GPA UINT64_C(0x200000)  /* 8 frames from 72 */
#define EAGER_GFN 72
#define REV_GPA UINT64_C(0x300000)    /* 16 frames from 96 */
#define REV_GFN 96
#define ERR_GPA UINT64_C(0x400000)    /* 16 frames from 112 */
#define ERR_GFN 112
#define TRUNC_GPA UINT64_C(0x500000)  /* 8 pages over a file */
#define HOT_GPA UINT64_C(0x600000)    /* 4 pages, added and removed */
#define HOT_GFN 128		      /* its frames, foreign or granted */
#define GRANT_GFN 64		      /* 8 stable grants */

#define SHARED_OFF 0		      /* shared counter in ANON and FOR */
#define SLOT_OFF(i) (64 * ((i) + 1))  /* worker i's counter in ANON */
#define RESERVED 512		      /* the counters: accesses skip it */

enum role { STABLE, HOT, REVOKE, ERROR, TRUNC, NROLES };

static const char *const role_name[NROLES] = {
	"stable", "hot", "revoke", "error", "trunc"
};

struct area {
	uint64_t gpa, size;
	enum role role;
};

/* Everything the threads share. */
struct stress {
	struct gm_space *s;
	struct gm_xen *x;
	int trunc_fd;
	uint64_t grant_gpa;	    /* stable grants */
	uint32_t hot_ref;	    /* first of the hot slot's grants */
	struct area areas[8];
	int nareas;
	unsigned int iters;	    /* per worker */
	atomic_int stop;	    /* the workers are done */
	/* What went wrong, counted by the threads, asserted after. */
	atomic_uint bad;	    /* failures not allowed for the role */
	atomic_int bad_err, bad_role;
	atomic_ullong bad_gpa;
	atomic_uint no_message;	    /* failures with an empty message */
	atomic_uint fault_thread_errors;
	atomic_ullong failures[NROLES];
	unsigned long long local[NWORKERS]; /* each worker's own count */
};

static struct sigaction lib_segv, lib_bus;

/*
 * Open fds, not counting the simulator's "hole" memfd, which it opens the
 * first time it needs a faulting page and keeps for the process's life.
 */
static int count_fds(void)
{
	char path[300], target[128];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	ssize_t len;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			if (strstr(target, "xensim-hole"))
				continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Whether a failure @err is documented for what was injected into @role. */
static int allowed(enum role role, int err)
{
	switch (role) {
	case HOT:
	case TRUNC:
		return err == -EFAULT;
	case REVOKE:
		return err == -EFAULT || err == -EINVAL;
	case ERROR:
		return err == -EIO;
	default:
		return 0;
	}
}

static void check_result(struct stress *st, const struct area *a,
			 uint64_t gpa, int ret)
{
	if (ret >= 0)
		return;
	atomic_fetch_add(&st->failures[a->role], 1);
	if (!gm_last_error()[0])
		atomic_fetch_add(&st->no_message, 1);
	if (!allowed(a->role, ret) && atomic_fetch_add(&st->bad, 1) == 0) {
		st->bad_err = ret;
		st->bad_role = a->role;
		st->bad_gpa = gpa;
	}
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */
/* ------------------------------------------------------------------ */

struct worker {
	struct stress *st;
	int id;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1), v64;
	uint8_t buf[64];
	unsigned int i;

	for (i = 0; i < st->iters; i++) {
		const struct area *a =
			&st->areas[next_rand(&rnd) % (uint64_t)st->nareas];
		uint64_t r = next_rand(&rnd), len = 1 + r % sizeof(buf);
		/* Stay inside the area (and the hot slot's first page, the
		 * smallest region it gets), off the counters. */
		uint64_t room =
			(a->role == HOT ? PG : a->size) - RESERVED - len;
		uint64_t gpa = a->gpa + RESERVED + (r >> 8) % room;
		uint32_t v32;
		int ret;

		switch ((r >> 40) % 8) {
		case 0:
			ret = gm_read(st->s, gpa, buf, len);
			break;
		case 1:
			memset(buf, (int)r, len);
			ret = gm_write(st->s, gpa, buf, len);
			break;
		case 2:
			ret = (int)gm_read_partial(st->s, gpa, buf, len);
			break;
		case 3:
			ret = gm_fill(st->s, gpa, (int)r, len);
			break;
		case 4:
			ret = r & 1 ? gm_read_le32(st->s, gpa, &v32)
				    : gm_write_be32(st->s, gpa, (uint32_t)r);
			break;
		case 5:
			ret = gm_atomic_fetch_or_u32(st->s, gpa & ~3ull,
						     (uint32_t)r, &v32,
						     GM_ACQ_REL);
			break;
		case 6:
			v32 = (uint32_t)r;
			ret = gm_atomic_cmpxchg_u32(st->s, gpa & ~3ull, &v32,
						    (uint32_t)(r >> 32),
						    GM_SEQ_CST);
			break;
		default:
			/* The counters: the anon and the foreign shared
			 * counter, and this worker's own slot. */
			ret = gm_atomic_fetch_add_u64(st->s,
						      ANON_GPA + SHARED_OFF, 1,
						      &v64, GM_SEQ_CST);
			check_result(st, &st->areas[0], ANON_GPA, ret);
			ret = gm_atomic_fetch_add_u64(st->s,
						      FOR_GPA + SHARED_OFF, 1,
						      NULL, GM_RELAXED);
			check_result(st, &st->areas[1], FOR_GPA, ret);
			ret = gm_atomic_fetch_add_u64(st->s,
						      ANON_GPA +
							      SLOT_OFF(w->id),
						      1, NULL, GM_ACQ_REL);
			check_result(st, &st->areas[0], ANON_GPA, ret);
			st->local[w->id]++;
			continue;
		}
		check_result(st, a, gpa, ret);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Fault threads: each loops until the workers are done                */
/* ------------------------------------------------------------------ */

static void fault_error(struct stress *st, int ret)
{
	if (ret < 0)
		atomic_fetch_add(&st->fault_thread_errors, 1);
}

static void pause_a_little(void)
{
	int i;

	for (i = 0; i < 4; i++)
		sched_yield();
}

/* Add a region of every kind in turn at the hot slot, then remove it. */
static void *churn(void *arg)
{
	struct stress *st = arg;
	unsigned int n = 0;

	while (!atomic_load(&st->stop)) {
		struct gm_region *r = NULL;
		uint64_t pages = 1 + n % 4;
		int ret;

		switch (n++ % 5) {
		case 0:
			ret = gm_unix_region_new_anon(HOT_GPA, pages * PG, 0,
						      &r);
			break;
		case 1:
			ret = gm_unix_region_new_memfd(HOT_GPA, pages * PG, 0,
						       &r);
			break;
		case 2:
			ret = gm_xen_foreign_region_new(st->x, DOMID, HOT_GPA,
							pages * PG, HOT_GFN, 0,
							&r);
			break;
		case 3:
			ret = gm_xen_foreign_region_new(st->x, DOMID, HOT_GPA,
							pages * PG, HOT_GFN,
							GM_XEN_EAGER, &r);
			break;
		default:
			ret = gm_xen_grant_region_new(st->x, DOMID, HOT_GPA,
						      st->hot_ref,
						      (uint32_t)pages, 0, &r);
			break;
		}
		fault_error(st, ret);
		if (ret)
			continue;
		ret = gm_space_add_region(st->s, r);
		fault_error(st, ret);
		if (ret) {
			gm_region_destroy(r);
			continue;
		}
		pause_a_little();
		fault_error(st, gm_space_remove_region(st->s, HOT_GPA));
		pause_a_little();
	}
	return NULL;
}

/* Revoke a frame of the revoke area, restore it, and drop the cache so
 * that it is mapped afresh; frame after frame. */
static void *revoker(void *arg)
{
	struct stress *st = arg;
	unsigned int n = 0;

	while (!atomic_load(&st->stop)) {
		uint64_t gfn = REV_GFN + n++ % 16;

		fault_error(st, xensim_frame_revoke(DOMID, gfn));
		pause_a_little();
		fault_error(st, xensim_frame_restore(DOMID, gfn));
		fault_error(st, gm_xen_invalidate(st->x));
		pause_a_little();
	}
	return NULL;
}

/* Give frames of the error area a map error, then take it away. */
static void *error_injector(void *arg)
{
	struct stress *st = arg;
	unsigned int n = 0;

	while (!atomic_load(&st->stop)) {
		uint64_t gfn = ERR_GFN + n++ % 16;

		fault_error(st, xensim_frame_set_error(DOMID, gfn, -EIO, -1));
		fault_error(st, gm_xen_invalidate(st->x));
		pause_a_little();
		fault_error(st, xensim_frame_set_error(DOMID, gfn, 0, 0));
		fault_error(st, gm_xen_invalidate(st->x));
		pause_a_little();
	}
	return NULL;
}

/* Truncate the file under the trunc area to half, then grow it back. */
static void *truncator(void *arg)
{
	struct stress *st = arg;

	while (!atomic_load(&st->stop)) {
		if (ftruncate(st->trunc_fd, 4 * PG))
			atomic_fetch_add(&st->fault_thread_errors, 1);
		pause_a_little();
		if (ftruncate(st->trunc_fd, 8 * PG))
			atomic_fetch_add(&st->fault_thread_errors, 1);
		pause_a_little();
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The test                                                            */
/* ------------------------------------------------------------------ */

static void add_area(struct stress *st, struct gm_region *r, uint64_t gpa,
		     uint64_t size, enum role role)
{
	assert_non_null(r);
	assert_int_equal(gm_space_add_region(st->s, r), 0);
	if (role == HOT)
		return;
	st->areas[st->nareas++] = (struct area){ gpa, size, role };
}

static void build(struct stress *st)
{
	struct gm_xen_options o = { .bucket_size = 16 * 1024,
				    .cache_bytes = 256 * 1024 };
	struct gm_region *r = NULL;
	uint32_t ref;

	assert_int_equal(gm_space_new(&st->s, "stress", GM_SPACE_FAULT_SAFE),
			 0);
	assert_int_equal(gm_xen_open(&st->x, &o), 0);

	/* Areas 0 and 1 hold the counters. */
	assert_int_equal(gm_unix_region_new_anon(ANON_GPA, 16 * PG, 0, &r), 0);
	add_area(st, r, ANON_GPA, 16 * PG, STABLE);
	assert_int_equal(gm_xen_foreign_region_new(st->x, DOMID, FOR_GPA,
						   64 * PG, FOR_GFN, 0, &r),
			 0);
	add_area(st, r, FOR_GPA, 64 * PG, STABLE);
	assert_int_equal(gm_xen_foreign_region_new(st->x, DOMID, EAGER_GPA,
						   8 * PG, EAGER_GFN,
						   GM_XEN_EAGER, &r),
			 0);
	add_area(st, r, EAGER_GPA, 8 * PG, STABLE);
	assert_int_equal(xensim_grant_share_range(DOMID, GRANT_GFN, 8, 1,
						  &ref),
			 0);
	st->grant_gpa = GM_XEN_GRANT_ADDR(ref);
	assert_int_equal(gm_xen_grant_region_new(st->x, DOMID, st->grant_gpa,
						 ref, 8, 0, &r),
			 0);
	add_area(st, r, st->grant_gpa, 8 * PG, STABLE);
	assert_int_equal(xensim_grant_share_range(DOMID, HOT_GFN, 4, 1,
						  &st->hot_ref),
			 0);

	assert_int_equal(gm_xen_foreign_region_new(st->x, DOMID, REV_GPA,
						   16 * PG, REV_GFN, 0, &r),
			 0);
	add_area(st, r, REV_GPA, 16 * PG, REVOKE);
	assert_int_equal(gm_xen_foreign_region_new(st->x, DOMID, ERR_GPA,
						   16 * PG, ERR_GFN, 0, &r),
			 0);
	add_area(st, r, ERR_GPA, 16 * PG, ERROR);

	st->trunc_fd = memfd_create("test-stress", MFD_CLOEXEC);
	assert_true(st->trunc_fd >= 0);
	assert_int_equal(ftruncate(st->trunc_fd, 8 * PG), 0);
	assert_int_equal(gm_unix_region_new_fd(TRUNC_GPA, 8 * PG, st->trunc_fd,
					       0, 0, &r),
			 0);
	add_area(st, r, TRUNC_GPA, 8 * PG, TRUNC);

	/* The hot slot is an area too, whether a region is there or not. */
	st->areas[st->nareas++] = (struct area){ HOT_GPA, 4 * PG, HOT };
}

static void test_stress_faults_and_hotplug(void **state)
{
	pthread_t workers[NWORKERS], faults[4];
	void *(*const fault_fn[4])(void *) = { churn, revoker, error_injector,
					       truncator };
	struct worker w[NWORKERS];
	struct xensim_counters c;
	struct sigaction cm_segv, cm_bus;
	struct stress *st;
	uint64_t shared, shared_xen, slot, total = 0;
	int nfds, i;

	(void)state;
	/* cmocka installs its crash handlers around each test function; they
	 * would take the faults the library is meant to recover from. */
	assert_int_equal(sigaction(SIGSEGV, &lib_segv, &cm_segv), 0);
	assert_int_equal(sigaction(SIGBUS, &lib_bus, &cm_bus), 0);
	xensim_reset(NULL);
	nfds = count_fds();
	assert_int_equal(xensim_domain_create(DOMID, DOM_PAGES,
					      XENSIM_DOM_HVM), 0);
	st = calloc(1, sizeof(*st));
	assert_non_null(st);
	st->iters = RUNNING_ON_VALGRIND ? 2000 : SANITIZED ? 50000 : 200000;
	build(st);

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&faults[i], NULL, fault_fn[i],
						st),
				 0);
	for (i = 0; i < NWORKERS; i++) {
		w[i] = (struct worker){ st, i };
		assert_int_equal(pthread_create(&workers[i], NULL, worker,
						&w[i]),
				 0);
	}
	for (i = 0; i < NWORKERS; i++)
		assert_int_equal(pthread_join(workers[i], NULL), 0);
	atomic_store(&st->stop, 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(faults[i], NULL), 0);

	for (i = 0; i < NROLES; i++)
		print_message("  %-6s failures: %llu\n", role_name[i],
			      (unsigned long long)atomic_load(
				      &st->failures[i]));
	if (st->bad)
		print_error("%u failures not allowed, the first %d (%s) at "
			    "0x%" PRIx64 " in a %s area\n",
			    st->bad, st->bad_err, strerror(-st->bad_err),
			    (uint64_t)st->bad_gpa, role_name[st->bad_role]);
	assert_int_equal(st->bad, 0);
	assert_int_equal(st->no_message, 0);
	assert_int_equal(st->fault_thread_errors, 0);

	/* Not one atomic update lost. */
	assert_int_equal(gm_read_u64(st->s, ANON_GPA + SHARED_OFF, &shared), 0);
	assert_int_equal(gm_read_u64(st->s, FOR_GPA + SHARED_OFF, &shared_xen),
			 0);
	for (i = 0; i < NWORKERS; i++) {
		assert_int_equal(gm_read_u64(st->s, ANON_GPA + SLOT_OFF(i),
					     &slot),
				 0);
		assert_int_equal(slot, st->local[i]);
		total += st->local[i];
	}
	assert_int_equal(shared, total);
	assert_int_equal(shared_xen, total);

	/* Nothing left behind. */
	gm_space_free(st->s);
	gm_xen_close(st->x);
	close(st->trunc_fd);
	xensim_get_counters(&c);
	assert_int_equal(c.all.live_mappings, 0);
	assert_int_equal(c.open_handles, 0);
	assert_int_equal(xensim_reset(NULL), 0);
	assert_int_equal(count_fds(), nfds);
	free(st);
	sigaction(SIGSEGV, &cm_segv, NULL);
	sigaction(SIGBUS, &cm_bus, NULL);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_faults_and_hotplug),
	};
	struct gm_space *s;
	int ret;

	/* The library's handlers, installed before cmocka's. */
	ret = gm_space_new(&s, "install", GM_SPACE_FAULT_SAFE);
	if (ret) {
		printf("test-stress: skipped, GM_SPACE_FAULT_SAFE fails: %s\n",
		       strerror(-ret));
		return 77;
	}
	gm_space_free(s);
	sigaction(SIGSEGV, NULL, &lib_segv);
	sigaction(SIGBUS, NULL, &lib_bus);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
