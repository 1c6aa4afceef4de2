/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fault on the caller's own memory is the caller's bug (issue 11, item 2).
 *
 * In a GM_SPACE_FAULT_SAFE space the library recovers from faults on guest
 * memory only.  When the buffer the caller passes is bad (unmapped,
 * PROT_NONE, or readable only up to some byte), the fault must go on
 * exactly as if the library were not there: here, with the default action
 * for SIGSEGV, the process dies of SIGSEGV.  It must never come back as
 * -EFAULT "guest page faulted" at a valid guest address, nor as a short
 * count from a partial access over guest memory that is fully readable.
 *
 * Every scenario runs in a fresh process (this program executed again) that
 * starts from the default dispositions (sanitizers' handlers removed), makes a
 * fault-safe space of two adjacent regions over a memfd and makes one call
 * with a bad buffer: every copy entry point, every length class of the
 * copy walk (1 to 4096 bytes), inside one region and across the two.
 */
#define _GNU_SOURCE

#include <errno.h>
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

#include "test-util.h"

#define PG 4096u
#define REGION (16 * PG)
#define GPA0 UINT64_C(0x100000)
#define GPA1 (GPA0 + REGION) /* the second region, right after */

/* How a child that did not die ended. */
enum {
	CHILD_SETUP = 3,     /* the scenario could not be set up */
	CHILD_RETURNED = 4,  /* the call returned (its code is lost) */
	CHILD_SWALLOWED = 5, /* the call returned -EFAULT: a caller's fault
				became a guest fault */
	CHILD_SHORT = 6,     /* a partial call returned a short count */
};

/* The caller's bad buffer. */
enum buf_kind {
	BUF_NONE,     /* a PROT_NONE page */
	BUF_TAIL,     /* readable and writable but for its last byte */
	BUF_UNMAPPED, /* a page the caller already munmap()ed */
	BUF_KINDS
};

static const char *const kind_names[] = { "PROT_NONE", "last byte PROT_NONE",
					  "unmapped" };

/* A fault-safe space of two adjacent regions over one memfd. */
static struct gm_space *child_space(void)
{
	struct gm_region *r0 = NULL, *r1 = NULL;
	struct gm_space *s = NULL;
	int fd = memfd_create("test-fault-caller", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 2 * REGION) ||
	    gm_space_new(&s, "caller", GM_SPACE_FAULT_SAFE) ||
	    gm_unix_region_new_fd(GPA0, REGION, fd, 0, 0, &r0) ||
	    gm_space_add_region(s, r0) ||
	    gm_unix_region_new_fd(GPA1, REGION, fd, REGION, 0, &r1) ||
	    gm_space_add_region(s, r1))
		_exit(CHILD_SETUP);
	close(fd);
	return s;
}

/* A bad buffer of @kind for @len bytes. */
static uint8_t *child_buffer(enum buf_kind kind, size_t len)
{
	uint8_t *p = mmap(NULL, 2 * PG + 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t span = 2 * PG + 8192;

	if (p == MAP_FAILED)
		_exit(CHILD_SETUP);
	switch (kind) {
	case BUF_NONE:
		if (mprotect(p, span, PROT_NONE))
			_exit(CHILD_SETUP);
		return p;
	case BUF_TAIL:
		/* [p, p + span - PG) usable, the page after it not: the
		 * buffer's last byte is the first byte of that page. */
		if (mprotect(p + span - PG, PG, PROT_NONE))
			_exit(CHILD_SETUP);
		return p + span - PG - (len - 1);
	default:
		if (munmap(p, span))
			_exit(CHILD_SETUP);
		return p;
	}
}

/*
 * Run scenario "@what @a @b @c" in a fresh process (this program, executed
 * again): it starts from the default dispositions, with no handler of
 * cmocka's, and, under valgrind, runs natively (valgrind does not follow
 * exec), so that dying of SIGSEGV is all it does.
 */
static pid_t child_run(const char *what, uint64_t a, uint64_t b, uint64_t c)
{
	char sa[32], sb[32], sc[32];
	pid_t pid;

	snprintf(sa, sizeof(sa), "%" PRIu64, a);
	snprintf(sb, sizeof(sb), "%" PRIu64, b);
	snprintf(sc, sizeof(sc), "%" PRIu64, c);
	pid = test_spawn_self(-1,
			      (const char *const[]){ what, sa, sb, sc, NULL });
	assert_true(pid >= 0);
	return pid;
}

/* The child @pid must die of SIGSEGV; @what says what it did. */
static void assert_child_segv(pid_t pid, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		return;
	if (WIFEXITED(status))
		fail_msg("%s: the child exited with %d (%s)", what,
			 WEXITSTATUS(status),
			 WEXITSTATUS(status) == CHILD_SWALLOWED ? "-EFAULT: "
			 "the caller's fault was taken for the guest's"
			 : WEXITSTATUS(status) == CHILD_SHORT ? "a short count"
			 : "returned");
	fail_msg("%s: the child died of signal %d, not SIGSEGV", what,
		 WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

/* The byte entry points, with a bad buffer. */
enum byte_op { OP_READ, OP_READ_PARTIAL, OP_WRITE, OP_WRITE_PARTIAL, OPS };

static const char *const op_names[] = { "gm_read", "gm_read_partial",
					"gm_write", "gm_write_partial" };

/* In the child: one byte entry point with a bad buffer. */
static int child_byte_op(enum byte_op op, enum buf_kind kind, uint64_t gpa,
			 size_t len)
{
	struct gm_space *s = child_space();
	uint8_t *buf = child_buffer(kind, len);
	ssize_t n = 0;
	int ret = 0;

	switch (op) {
	case OP_READ:
		ret = gm_read(s, gpa, buf, len);
		break;
	case OP_READ_PARTIAL:
		n = gm_read_partial(s, gpa, buf, len);
		break;
	case OP_WRITE:
		ret = gm_write(s, gpa, buf, len);
		break;
	default:
		n = gm_write_partial(s, gpa, buf, len);
		break;
	}
	if (ret == -EFAULT || n == -EFAULT)
		return CHILD_SWALLOWED;
	if (n > 0 && (size_t)n < len)
		return CHILD_SHORT;
	return CHILD_RETURNED;
}

static void run_byte_op(enum byte_op op, enum buf_kind kind, uint64_t gpa,
			size_t len)
{
	pid_t pid = child_run("byte", (uint64_t)op * BUF_KINDS + kind, gpa,
			      len);

	assert_child_segv(pid, "%s(0x%" PRIx64 ", %zu bytes) with a %s buffer",
			  op_names[op], gpa, len, kind_names[kind]);
}

/* Lengths that take every step of the copy walk, and a page. */
static const size_t lens[] = { 1, 2, 3, 4, 7, 8, 15, 16, 17, 33, 130, 4096 };

static void byte_ops(enum byte_op op)
{
	size_t i;
	int k;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (k = 0; k < BUF_KINDS; k++) {
			/* Inside one region, at an odd address. */
			run_byte_op(op, k, GPA0 + 0x123, lens[i]);
			/* Across the two regions. */
			if (lens[i] > 1)
				run_byte_op(op, k, GPA1 - lens[i] / 2,
					    lens[i]);
		}
	}
}

static void test_read_into_bad_buffer(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	byte_ops(OP_READ);
}

static void test_read_partial_into_bad_buffer(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	byte_ops(OP_READ_PARTIAL);
}

static void test_write_from_bad_buffer(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	byte_ops(OP_WRITE);
}

static void test_write_partial_from_bad_buffer(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	byte_ops(OP_WRITE_PARTIAL);
}

/* The typed and atomic reads that store through the caller's pointer. */
enum typed_op {
	T_U8, T_U16, T_U32, T_U64, T_LE32, T_BE64, T_OBJ, T_ATOMIC_LOAD,
	T_ATOMIC_XCHG, T_ATOMIC_CMPXCHG, T_OPS
};

static const char *const typed_names[] = {
	"gm_read_u8",	     "gm_read_u16",	     "gm_read_u32",
	"gm_read_u64",	     "gm_read_le32",	     "gm_read_be64",
	"gm_read_obj",	     "gm_atomic_load_u32", "gm_atomic_xchg_u64",
	"gm_atomic_cmpxchg_u32",
};

/* The size each of them stores through the pointer. */
static const size_t typed_sizes[] = { 1, 2, 4, 8, 4, 8, 8, 4, 8, 4 };

/* In the child: one typed read through a bad result pointer. */
static int child_typed_op(int op, enum buf_kind kind)
{
	struct gm_space *s = child_space();
	uint8_t *p = child_buffer(kind, typed_sizes[op]);
	uint64_t gpa = GPA0 + 0x40;
	int ret;

	switch (op) {
	case T_U8:
		ret = gm_read_u8(s, gpa, (void *)p);
		break;
	case T_U16:
		ret = gm_read_u16(s, gpa, (void *)p);
		break;
	case T_U32:
		ret = gm_read_u32(s, gpa, (void *)p);
		break;
	case T_U64:
		ret = gm_read_u64(s, gpa, (void *)p);
		break;
	case T_LE32:
		ret = gm_read_le32(s, gpa, (void *)p);
		break;
	case T_BE64:
		ret = gm_read_be64(s, gpa, (void *)p);
		break;
	case T_OBJ:
		ret = gm_read_obj(s, gpa, (uint64_t *)p);
		break;
	case T_ATOMIC_LOAD:
		ret = gm_atomic_load_u32(s, gpa, (void *)p, GM_ACQUIRE);
		break;
	case T_ATOMIC_XCHG:
		ret = gm_atomic_xchg_u64(s, gpa, 1, (void *)p, GM_SEQ_CST);
		break;
	default:
		ret = gm_atomic_cmpxchg_u32(s, gpa, (void *)p, 1, GM_SEQ_CST);
		break;
	}
	return ret == -EFAULT ? CHILD_SWALLOWED : CHILD_RETURNED;
}

static void test_typed_read_into_bad_pointer(void **state)
{
	int op, k;

	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	/* Not BUF_TAIL: a result pointer must be aligned for its type, and
	 * an aligned value never crosses into the next page. */
	for (op = 0; op < T_OPS; op++)
		for (k = 0; k < BUF_KINDS; k += BUF_UNMAPPED - BUF_NONE)
			assert_child_segv(child_run("typed", (uint64_t)op, k,
						    0),
					  "%s with a %s result pointer",
					  typed_names[op], kind_names[k]);
}

/*
 * The other direction, as a control: the same space, a good buffer and a
 * guest page that vanished (the memfd truncated under the first region)
 * still fail with -EFAULT at the guest address, in the same child setup.
 */
static int child_guest_fault(void)
{
	struct gm_region *r = NULL;
	struct gm_space *s = NULL;
	uint8_t buf[64];
	int fd = memfd_create("test-fault-caller", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, REGION) ||
	    gm_space_new(&s, "caller", GM_SPACE_FAULT_SAFE) ||
	    gm_unix_region_new_fd(GPA0, REGION, fd, 0, 0, &r) ||
	    gm_space_add_region(s, r) || gm_write_u8(s, GPA0, 1) ||
	    ftruncate(fd, PG))
		return CHILD_SETUP;
	if (gm_read(s, GPA0 + PG - 8, buf, sizeof(buf)) != -EFAULT ||
	    !strstr(gm_last_error(), "at 0x101000"))
		return CHILD_RETURNED;
	if (gm_read_partial(s, GPA0 + PG - 8, buf, sizeof(buf)) != 8)
		return CHILD_SHORT;
	gm_space_free(s);
	close(fd);
	return 0;
}

static void test_guest_fault_still_recovered(void **state)
{
	pid_t pid = child_run("guest", 0, 0, 0);
	int status;

	(void)state;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A scenario, in the fresh process: its exit code, unless it dies. */
static int child(char **argv)
{
	struct rlimit no_core = { 0, 0 };
	uint64_t a = strtoull(argv[1], NULL, 0), b = strtoull(argv[2], NULL, 0);
	uint64_t c = strtoull(argv[3], NULL, 0);

	setrlimit(RLIMIT_CORE, &no_core);
	/* Sanitizer runtimes install handlers at start-up: the scenarios
	 * are about the default action. */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	if (!strcmp(argv[0], "byte"))
		return child_byte_op(a / BUF_KINDS, a % BUF_KINDS, b, c);
	if (!strcmp(argv[0], "typed"))
		return child_typed_op((int)a, b);
	if (!strcmp(argv[0], "guest"))
		return child_guest_fault();
	return CHILD_SETUP;
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_into_bad_buffer),
		cmocka_unit_test(test_read_partial_into_bad_buffer),
		cmocka_unit_test(test_write_from_bad_buffer),
		cmocka_unit_test(test_write_partial_from_bad_buffer),
		cmocka_unit_test(test_typed_read_into_bad_pointer),
		cmocka_unit_test(test_guest_fault_still_recovered),
	};


	if (argc == 6 && !strcmp(argv[1], "--child"))
		return child(argv + 2);
#if !defined(__x86_64__) && !defined(__aarch64__)
	printf("test-fault-caller: skipped, GM_SPACE_FAULT_SAFE is x86-64 and "
	       "aarch64 only\n");
	return 77;
#endif
	if (test_self_init())
		return 1;
	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
