/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest memory that faults under its mapping (issue 5, "fault tests").
 *
 * In a GM_SPACE_FAULT_SAFE space, every copying accessor recovers from the
 * SIGBUS of a page that vanished after it was mapped and fails with -EFAULT
 * naming the exact guest address, and the rest of memory keeps working:
 *  - a unix region over a file that is truncated under it;
 *  - a Xen foreign frame revoked (ballooned out) while mapped, in an
 *    on-demand and an eager region, on the simulator;
 *  - a grant revoked while mapped.
 *
 * Without the flag the default stands: the access dies of SIGBUS.  Faults
 * that are not on guest memory still reach whoever handled them before the
 * library (the default action, or a user's SA_SIGINFO handler).  Those
 * tests need processes that have never created a fault-safe space, so this
 * program runs them by executing itself with "--child <scenario>".
 *
 * cmocka installs its own SIGSEGV/SIGBUS handlers around every test and
 * would take the faults the library is meant to recover from, so main()
 * installs the library's handlers first, and each test puts them back for
 * its duration (as tests/test-space-ondemand.c does).
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/unix.h>
#include <guestmem/xen.h>

#include "test-util.h"

#include "xensim/xensim.h"

#define PG 4096u
#define DOMID 5u
#define DOM_PAGES 256u
#define SPACE "fault"

#define FILE_GPA UINT64_C(0x100000) /* 4 pages over the file */
#define ANON_GPA (FILE_GPA + 4 * PG) /* right after it */
#define FOREIGN_GPA UINT64_C(0x200000) /* 16 frames from gfn 0 */
#define EAGER_GPA UINT64_C(0x300000)   /* 8 frames from gfn 16 */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* The library's handlers, installed by main() before cmocka runs. */
static struct sigaction lib_segv, lib_bus;

struct fixture {
	struct sigaction cm_segv, cm_bus; /* cmocka's, put back after */
	int nfds;			  /* open fds when the test started */
};

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

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	xensim_reset(NULL);
	fx->nfds = count_fds();
	if (xensim_domain_create(DOMID, DOM_PAGES, XENSIM_DOM_HVM))
		return -1;
	*state = fx;
	return 0;
}

/*
 * cmocka installs its crash handlers when it starts each test function
 * (and each fixture), so a test puts the library's back itself, and
 * cmocka's again before it returns.
 */
static void handlers_on(struct fixture *fx)
{
	assert_int_equal(sigaction(SIGSEGV, &lib_segv, &fx->cm_segv), 0);
	assert_int_equal(sigaction(SIGBUS, &lib_bus, &fx->cm_bus), 0);
}

static void handlers_off(struct fixture *fx)
{
	sigaction(SIGSEGV, &fx->cm_segv, NULL);
	sigaction(SIGBUS, &fx->cm_bus, NULL);
}

/* Every test releases every mapping, handle and fd it made. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	int leaks = xensim_reset(NULL);

	assert_int_equal(leaks, 0);
	assert_int_equal(count_fds(), fx->nfds);
	free(fx);
	return 0;
}

/* @ret must be @want, and gm_last_error() must name the space and @at. */
#define assert_fails_at(ret, want, at)                                        \
	do {                                                                  \
		char at_[48];                                                 \
		assert_int_equal((ret), (want));                              \
		snprintf(at_, sizeof(at_), " at 0x%" PRIx64 ": ",             \
			 (uint64_t)(at));                                     \
		assert_error_has("guest memory '" SPACE "'");                 \
		assert_error_has(at_);                                        \
	} while (0)

static struct gm_space *safe_space(void)
{
	struct gm_space *s = NULL;

	assert_int_equal(gm_space_new(&s, SPACE, GM_SPACE_FAULT_SAFE), 0);
	return s;
}

static void add(struct gm_space *s, struct gm_region *r)
{
	assert_non_null(r);
	assert_int_equal(gm_space_add_region(s, r), 0);
}

/*
 * Every atomic operation of every size at @gpa (aligned for 8 bytes) must
 * fail with -EFAULT naming @gpa + its offset: fault-safe spaces guard the
 * atomics as well as the copies.
 */
static void assert_atomics_fault(struct gm_space *s, uint64_t gpa)
{
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	uint8_t v8 = 0;

	assert_fails_at(gm_atomic_load_u8(s, gpa, &v8, GM_RELAXED), -EFAULT,
			gpa);
	assert_fails_at(gm_atomic_store_u16(s, gpa + 2, 1, GM_RELEASE),
			-EFAULT, gpa + 2);
	assert_fails_at(gm_atomic_store_u32(s, gpa + 4, 1, GM_SEQ_CST),
			-EFAULT, gpa + 4);
	assert_fails_at(gm_atomic_xchg_u64(s, gpa + 8, 1, &v64, GM_SEQ_CST),
			-EFAULT, gpa + 8);
	assert_fails_at(gm_atomic_cmpxchg_u32(s, gpa + 16, &v32, 1,
					      GM_ACQ_REL),
			-EFAULT, gpa + 16);
	assert_fails_at(gm_atomic_fetch_add_u16(s, gpa + 20, 1, &v16,
						GM_RELAXED),
			-EFAULT, gpa + 20);
	assert_fails_at(gm_atomic_fetch_or_u64(s, gpa + 24, 1, &v64,
					       GM_ACQUIRE),
			-EFAULT, gpa + 24);
	assert_fails_at(gm_atomic_fetch_and_u8(s, gpa + 33, 1, NULL,
					       GM_SEQ_CST),
			-EFAULT, gpa + 33);
	assert_fails_at(gm_atomic_load_u64(s, gpa + 40, &v64, GM_ACQUIRE),
			-EFAULT, gpa + 40);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 131 + 7);
}

/*
 * Every kind of copying access that starts on, or runs into, the faulting
 * page at @bad fails with -EFAULT at the first faulting byte.  Writes that
 * fail may have written the bytes before the page, which hold pattern()
 * from index @first - 16; they are restored after.
 */
static void assert_copies_fault(struct gm_space *s, uint64_t bad,
				uint64_t first)
{
	uint8_t buf[64];
	uint64_t v64;
	uint32_t v32;
	int i;

	assert_fails_at(gm_read(s, bad - 16, buf, 32), -EFAULT, bad);
	assert_error_has("faulted");
	assert_fails_at(gm_read(s, bad + 0x123, buf, 3), -EFAULT, bad + 0x123);
	assert_partial_count(gm_read_partial(s, bad - 16, buf, 32), 16);
	assert_fails_at(gm_read_partial(s, bad + 5, buf, 32), -EFAULT,
			bad + 5);
	memset(buf, 0x5c, sizeof(buf));
	assert_fails_at(gm_write(s, bad + 0x10, buf, 8), -EFAULT, bad + 0x10);
	assert_partial_count(gm_write_partial(s, bad - 8, buf, 16), 8);
	assert_fails_at(gm_fill(s, bad + 100, 0xaa, 50), -EFAULT, bad + 100);
	assert_fails_at(gm_zero(s, bad + 200, PG), -EFAULT, bad + 200);
	assert_fails_at(gm_read_u64(s, bad + 8, &v64), -EFAULT, bad + 8);
	assert_fails_at(gm_write_be32(s, bad + 4, 1), -EFAULT, bad + 4);
	/* A value that straddles into the page faults at the page, and a
	 * read stores nothing of it (guestmem.h). */
	v32 = 0xdeadbeef;
	assert_fails_at(gm_read_u32(s, bad - 2, &v32), -EFAULT, bad);
	assert_int_equal(v32, 0xdeadbeef);
	v64 = 0x0123456789abcdefULL;
	assert_fails_at(gm_read_u64(s, bad - 5, &v64), -EFAULT, bad);
	assert_int_equal(v64, 0x0123456789abcdefULL);
	assert_fails_at(gm_read_le64(s, bad - 5, &v64), -EFAULT, bad);
	assert_int_equal(v64, 0x0123456789abcdefULL);
	assert_fails_at(gm_write_le64(s, bad - 3, 1), -EFAULT, bad);
	assert_atomics_fault(s, bad + 64);
	for (i = 0; i < 16; i++)
		buf[i] = pattern(first - 16 + (uint64_t)i);
	assert_int_equal(gm_write(s, bad - 16, buf, 16), 0);
}

/* [gpa, gpa + len) reads back as pattern(i + first) for i = 0, 1, ... */
static void assert_pattern(struct gm_space *s, uint64_t gpa, size_t len,
			   uint64_t first)
{
	uint8_t *buf = malloc(len);
	size_t i;

	assert_non_null(buf);
	assert_int_equal(gm_read(s, gpa, buf, len), 0);
	for (i = 0; i < len; i++)
		if (buf[i] != pattern(first + i))
			break;
	free(buf);
	assert_int_equal(i, len);
}

/* ------------------------------------------------------------------ */
/* Fault-safe spaces                                                   */
/* ------------------------------------------------------------------ */

/* A memfd of @pages pages filled with pattern(). */
static int pattern_file(unsigned int pages)
{
	uint8_t buf[PG];
	unsigned int p, i;
	int fd = memfd_create("test-fault", MFD_CLOEXEC);

	assert_true(fd >= 0);
	for (p = 0; p < pages; p++) {
		for (i = 0; i < PG; i++)
			buf[i] = pattern((uint64_t)p * PG + i);
		assert_int_equal(pwrite(fd, buf, PG, (off_t)p * PG), PG);
	}
	return fd;
}

/*
 * A file truncated under a mapped unix region: accesses to the pages past
 * its new end fail with -EFAULT at the exact address; the pages before it
 * and the next region keep working; the pages work again (as zeros) when
 * the file grows back.
 */
static void test_fault_truncated_file(void **state)
{
	struct fixture *fx = *state;
	const uint64_t bad = FILE_GPA + 2 * PG;
	struct gm_region *r = NULL;
	struct gm_space *s = safe_space();
	uint8_t buf[64];
	uint64_t v64;
	int fd = pattern_file(4), i;

	handlers_on(fx);
	assert_int_equal(gm_unix_region_new_fd(FILE_GPA, 4 * PG, fd, 0, 0, &r),
			 0);
	add(s, r);
	assert_int_equal(gm_unix_region_new_anon(ANON_GPA, PG, 0, &r), 0);
	add(s, r);
	/* Touch every page, so the truncation hits live mappings. */
	assert_pattern(s, FILE_GPA, 4 * PG, 0);

	assert_int_equal(ftruncate(fd, 2 * PG), 0);
	assert_copies_fault(s, bad, 2 * PG);
	/* The page after is past the end too. */
	assert_fails_at(gm_read_u8(s, FILE_GPA + 3 * PG + 9, buf), -EFAULT,
			FILE_GPA + 3 * PG + 9);
	/* A read that fails copies what came before the fault. */
	memset(buf, 0, sizeof(buf));
	assert_fails_at(gm_read(s, bad - 16, buf, 32), -EFAULT, bad);
	for (i = 0; i < 16; i++)
		assert_int_equal(buf[i], pattern(2 * PG - 16 + i));

	/* The rest of memory still works. */
	assert_int_equal(gm_write_u64(s, FILE_GPA + 2 * PG - 8 - 64,
				      0x0102030405060708), 0);
	assert_int_equal(gm_read_u64(s, FILE_GPA + 2 * PG - 8 - 64, &v64), 0);
	assert_int_equal(v64, 0x0102030405060708);
	assert_int_equal(gm_write_u64(s, ANON_GPA, 42), 0);
	assert_int_equal(gm_atomic_fetch_add_u64(s, ANON_GPA, 1, &v64,
						 GM_SEQ_CST), 0);
	assert_int_equal(v64, 42);
	assert_pattern(s, FILE_GPA, PG, 0);

	/* Grown back, the lost pages read as zeros. */
	assert_int_equal(ftruncate(fd, 4 * PG), 0);
	assert_int_equal(gm_read_u64(s, bad + 8, &v64), 0);
	assert_int_equal(v64, 0);
	assert_int_equal(gm_write_u64(s, bad + 8, 7), 0);

	gm_space_free(s);
	close(fd);
	handlers_off(fx);
}

static struct gm_xen *xen_open(void)
{
	struct gm_xen *x = NULL;

	assert_int_equal(gm_xen_open(&x, NULL), 0);
	return x;
}

/* Fill frames [gfn, gfn + n) of the guest with pattern(). */
static void guest_pattern(uint64_t gfn, uint64_t n)
{
	uint8_t *mem = xensim_domain_mem(DOMID);
	uint64_t i;

	assert_non_null(mem);
	for (i = gfn * PG; i < (gfn + n) * PG; i++)
		mem[i] = pattern(i);
}

/*
 * A foreign frame revoked (ballooned out) while mapped, in an on-demand
 * and in an eager region: the live mappings raise SIGBUS, which fails the
 * access with -EFAULT at the exact address.  Once the cache is invalidated
 * the frame is mapped afresh, which Xen refuses (-EINVAL) until the frame
 * is restored; an eager region's mapping stays faulting.
 */
static void test_fault_revoked_foreign_frame(void **state)
{
	struct fixture *fx = *state;
	const uint64_t bad = FOREIGN_GPA + 3 * PG, ebad = EAGER_GPA + 2 * PG;
	struct gm_xen *x = xen_open();
	struct gm_space *s = safe_space();
	struct gm_region *r = NULL;
	uint8_t *mem = xensim_domain_mem(DOMID);
	uint64_t v64;

	handlers_on(fx);
	guest_pattern(0, 24);
	assert_int_equal(gm_xen_foreign_region_new(x, DOMID, FOREIGN_GPA,
						   16 * PG, 0, 0, &r), 0);
	add(s, r);
	assert_int_equal(gm_xen_foreign_region_new(x, DOMID, EAGER_GPA, 8 * PG,
						   16, GM_XEN_EAGER, &r), 0);
	add(s, r);
	assert_pattern(s, FOREIGN_GPA, 16 * PG, 0);
	assert_pattern(s, EAGER_GPA, 8 * PG, 16 * PG);

	assert_int_equal(xensim_frame_revoke(DOMID, 3), 0);
	assert_int_equal(xensim_frame_revoke(DOMID, 18), 0);
	assert_copies_fault(s, bad, 3 * PG);
	assert_copies_fault(s, ebad, 18 * PG);

	/* Every other page works, and writes reach the guest. */
	assert_pattern(s, FOREIGN_GPA, 3 * PG, 0);
	assert_pattern(s, bad + PG, 12 * PG, 4 * PG);
	assert_pattern(s, EAGER_GPA, 2 * PG, 16 * PG);
	assert_int_equal(gm_write_u64(s, bad + PG, 0x1122334455667788), 0);
	memcpy(&v64, mem + 4 * PG, 8);
	assert_int_equal(v64, 0x1122334455667788);
	assert_int_equal(gm_atomic_fetch_add_u64(s, ebad + PG, 1, NULL,
						 GM_SEQ_CST), 0);

	/* Mapped afresh, a revoked frame is refused by Xen. */
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_fails_at(gm_read_u64(s, bad + 8, &v64), -EINVAL, bad + 8);
	assert_error_has("xen-foreign");
	assert_int_equal(gm_read_u64(s, bad - 8, &v64), 0);

	/* Restored, it maps again and the guest's data is there; the eager
	 * region's faulting page stays faulting. */
	assert_int_equal(xensim_frame_restore(DOMID, 3), 0);
	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_pattern(s, bad, PG, 3 * PG);
	assert_fails_at(gm_read_u64(s, ebad, &v64), -EFAULT, ebad);

	gm_space_free(s);
	gm_xen_close(x);
	handlers_off(fx);
}

/*
 * A grant revoked while mapped (a hostile or dying granter): -EFAULT at
 * the exact address while the mapping lives, -EINVAL once it is mapped
 * afresh; the other grants of the region keep working.
 */
static void test_fault_revoked_grant(void **state)
{
	struct fixture *fx = *state;
	struct gm_xen *x = xen_open();
	struct gm_space *s = safe_space();
	struct gm_region *r = NULL;
	uint64_t base, bad, v64;
	uint32_t ref;

	handlers_on(fx);
	guest_pattern(32, 4);
	assert_int_equal(xensim_grant_share_range(DOMID, 32, 4, 1, &ref), 0);
	base = GM_XEN_GRANT_ADDR(ref);
	bad = base + PG;
	assert_int_equal(gm_xen_grant_region_new(x, DOMID, base, ref, 4, 0,
						 &r), 0);
	add(s, r);
	/* Map each grant writable, so writes hit the live mappings too. */
	assert_int_equal(gm_write(s, base, (uint8_t[1]){ pattern(32 * PG) },
				  1), 0);
	assert_int_equal(gm_write(s, bad, (uint8_t[1]){ pattern(33 * PG) },
				  1), 0);
	assert_pattern(s, base, 4 * PG, 32 * PG);

	assert_int_equal(xensim_grant_revoke_mapped(DOMID, ref + 1), 0);
	assert_copies_fault(s, bad, 33 * PG);
	assert_pattern(s, base, PG, 32 * PG);
	assert_pattern(s, bad + PG, 2 * PG, 34 * PG);
	assert_int_equal(gm_write_u64(s, bad + PG, 5), 0);

	assert_int_equal(gm_xen_invalidate(x), 0);
	assert_fails_at(gm_read_u64(s, bad, &v64), -EINVAL, bad);
	assert_error_has("xen-grant");
	assert_int_equal(gm_read_u64(s, bad + PG, &v64), 0);
	assert_int_equal(v64, 5);

	gm_space_free(s);
	gm_xen_close(x);
	handlers_off(fx);
}

/* ------------------------------------------------------------------ */
/* Scenarios in a fresh process                                        */
/* ------------------------------------------------------------------ */

/* Exit codes of a scenario that went wrong before the expected end. */
enum {
	CHILD_OK = 0,
	CHILD_SETUP = 10,	/* could not build the layout */
	CHILD_NOT_RECOVERED,	/* a guest fault did not give -EFAULT */
	CHILD_WRONG_HANDLER,	/* the user's handler saw a guest fault */
	CHILD_NOT_CHAINED,	/* the user handler missed a fault */
	CHILD_SURVIVED,		/* an access that must kill returned */
	CHILD_BAD_SCENARIO,
};

/* A read of @addr the compiler knows nothing about: a NULL dereference
 * that no sanitizer intercepts first. */
static int load_at(uintptr_t addr)
{
	int v;

#if defined(__aarch64__)
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
#else
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
#endif
	return v;
}

static volatile sig_atomic_t user_sig;
static void *volatile user_addr;
static sigjmp_buf user_env;

static void user_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	user_sig = sig;
	user_addr = si->si_addr;
	siglongjmp(user_env, 1);
}

/* A space holding a unix region over a file truncated to nothing, so its
 * page raises SIGBUS; flags as for gm_space_new(). */
static struct gm_space *child_truncated(unsigned int flags)
{
	struct gm_region *r = NULL;
	struct gm_space *s = NULL;
	int fd = memfd_create("test-fault-child", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, PG) ||
	    gm_unix_region_new_fd(FILE_GPA, PG, fd, 0, 0, &r) ||
	    gm_space_new(&s, SPACE, flags) || gm_space_add_region(s, r) ||
	    gm_write_u8(s, FILE_GPA, 1) || ftruncate(fd, 0))
		_exit(CHILD_SETUP);
	close(fd); /* the region keeps its own */
	return s;
}

/* A space holding a foreign region whose first frame is revoked after it
 * was mapped. */
static struct gm_space *child_revoked(unsigned int flags)
{
	struct gm_region *r = NULL;
	struct gm_space *s = NULL;
	struct gm_xen *x = NULL;

	if (xensim_domain_create(DOMID, DOM_PAGES, XENSIM_DOM_HVM) ||
	    gm_xen_open(&x, NULL) ||
	    gm_xen_foreign_region_new(x, DOMID, FOREIGN_GPA, PG, 0, 0, &r) ||
	    gm_space_new(&s, SPACE, flags) || gm_space_add_region(s, r) ||
	    gm_write_u8(s, FOREIGN_GPA, 1) || xensim_frame_revoke(DOMID, 0))
		_exit(CHILD_SETUP);
	return s;
}

static void install_fault_safe(void)
{
	struct gm_space *s = NULL;

	if (gm_space_new(&s, "install", GM_SPACE_FAULT_SAFE))
		_exit(CHILD_SETUP);
	gm_space_free(s);
}

/*
 * Run one scenario; returns its exit code, unless it is expected to die.
 * Sanitizer runtimes install SIGSEGV/SIGBUS handlers of their own at
 * start-up: the scenarios start from the default action, which is what
 * they document.
 */
static int child(const char *what)
{
	struct rlimit no_core = { 0, 0 };
	struct sigaction sa;
	struct gm_space *s;
	uint64_t v;
	int map_fd;
	uint8_t *p;

	setrlimit(RLIMIT_CORE, &no_core);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);

	if (!strcmp(what, "segv-default")) {
		/* The handlers are installed; a NULL dereference that is
		 * not on guest memory still gets the default action. */
		install_fault_safe();
		sigaction(SIGSEGV, NULL, &sa);
		if (!(sa.sa_flags & SA_SIGINFO))
			return CHILD_SETUP;
		load_at(0);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "bus-plain")) {
		/* No fault-safe space ever: SIGBUS, the default. */
		s = child_truncated(0);
		gm_read_u64(s, FILE_GPA, &v);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "bus-installed")) {
		/* The handlers are installed, but this space is not
		 * fault-safe: its accesses are not recovered. */
		install_fault_safe();
		s = child_truncated(0);
		gm_read_u64(s, FILE_GPA, &v);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "bus-xen")) {
		install_fault_safe();
		s = child_revoked(0);
		gm_read_u64(s, FOREIGN_GPA, &v);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "chain")) {
		/* A user's SA_SIGINFO handlers, installed before the first
		 * fault-safe space, still get every fault that is not on
		 * guest memory, and none that is. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = user_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, NULL) ||
		    sigaction(SIGBUS, &sa, NULL))
			return CHILD_SETUP;
		s = child_truncated(GM_SPACE_FAULT_SAFE);
		if (gm_read_u64(s, FILE_GPA + 8, &v) != -EFAULT)
			return CHILD_NOT_RECOVERED;
		if (user_sig)
			return CHILD_WRONG_HANDLER;

		/* An unrelated SIGBUS: a page of an empty file. */
		map_fd = memfd_create("test-fault-empty", MFD_CLOEXEC);
		p = map_fd < 0 ? MAP_FAILED
			       : mmap(NULL, PG, PROT_READ, MAP_SHARED, map_fd,
				      0);
		if (p == MAP_FAILED)
			return CHILD_SETUP;
		if (!sigsetjmp(user_env, 1)) {
			load_at((uintptr_t)p + 12);
			return CHILD_NOT_CHAINED;
		}
		if (user_sig != SIGBUS || user_addr != p + 12)
			return CHILD_NOT_CHAINED;

		/* An unrelated SIGSEGV: a NULL dereference. */
		user_sig = 0;
		if (!sigsetjmp(user_env, 1)) {
			load_at(8);
			return CHILD_NOT_CHAINED;
		}
		if (user_sig != SIGSEGV || user_addr != (void *)8)
			return CHILD_NOT_CHAINED;

		/* And guest faults are still ours after all that. */
		user_sig = 0;
		if (gm_read_u64(s, FILE_GPA, &v) != -EFAULT)
			return CHILD_NOT_RECOVERED;
		if (user_sig)
			return CHILD_WRONG_HANDLER;
		gm_space_free(s);
		munmap(p, PG);
		close(map_fd);
		return CHILD_OK;
	}
	return CHILD_BAD_SCENARIO;
}

/* Run scenario @what in a fresh process and return its wait status. */
static int run_child(const char *what)
{
	int status;
	pid_t pid;

	pid = test_spawn_self(-1, (const char *const[]){ what, NULL });
	assert_true(pid >= 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* The scenario must have died of @sig. */
static void assert_killed_by(const char *what, int sig)
{
	int status = run_child(what);

	if (WIFEXITED(status))
		print_error("scenario %s exited with %d\n", what,
			    WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
}

/*
 * With the handlers installed, a SIGSEGV that is not on guest memory (a
 * NULL dereference) still kills the process with SIGSEGV: the handler gives
 * it the default action instead of swallowing it.
 */
static void test_fault_unrelated_segv_kills(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	assert_killed_by("segv-default", SIGSEGV);
}

/*
 * A user's SA_SIGINFO handlers installed before the first fault-safe space
 * still receive the SIGSEGV and SIGBUS that are not on guest memory, with
 * their siginfo, and never the guest's.
 */
static void test_fault_chains_to_user_handler(void **state)
{
	int status = run_child("chain");

	(void)state;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

/*
 * The default, without GM_SPACE_FAULT_SAFE: a vanished page kills the
 * process with SIGBUS, whether or not a fault-safe space installed the
 * handlers, for a truncated file and for a revoked Xen frame alike.
 */
static void test_fault_not_fault_safe_dies_of_sigbus(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	assert_killed_by("bus-plain", SIGBUS);
	assert_killed_by("bus-installed", SIGBUS);
	assert_killed_by("bus-xen", SIGBUS);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_truncated_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_revoked_foreign_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_revoked_grant,
						setup, teardown),
		cmocka_unit_test(test_fault_unrelated_segv_kills),
		cmocka_unit_test(test_fault_chains_to_user_handler),
		cmocka_unit_test(test_fault_not_fault_safe_dies_of_sigbus),
	};
	struct gm_space *s;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
#if !defined(__x86_64__) && !defined(__aarch64__)
	printf("test-fault: skipped, GM_SPACE_FAULT_SAFE is x86-64 and "
	       "aarch64 only\n");
	return 77;
#endif
	if (test_self_init())
		return 1;
	ret = gm_space_new(&s, "install", GM_SPACE_FAULT_SAFE);
	if (ret) {
		printf("test-fault: skipped, GM_SPACE_FAULT_SAFE fails: %s\n",
		       strerror(-ret));
		return 77;
	}
	gm_space_free(s);
	sigaction(SIGSEGV, NULL, &lib_segv);
	sigaction(SIGBUS, NULL, &lib_bus);
	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
