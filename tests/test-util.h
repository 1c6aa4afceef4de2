/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the cmocka suites.  Include after <cmocka.h> and
 * <guestmem.h>.
 */
#ifndef GM_TEST_UTIL_H
#define GM_TEST_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* RUNNING_ON_VALGRIND from valgrind's header when it is installed, else 0:
 * the suites shorten their longest runs under valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* Fail, showing gm_last_error(), unless it contains @needle. */
#define assert_error_has(needle)                                              \
	do {                                                                  \
		const char *msg_ = gm_last_error();                           \
		if (!strstr(msg_, (needle))) {                                \
			print_error("gm_last_error() is \"%s\", expected "    \
				    "it to contain \"%s\"\n",                 \
				    msg_, (needle));                          \
			fail();                                               \
		}                                                             \
	} while (0)

/*
 * The bytes a partial access stopped after: exact, under valgrind too
 * (the fault-safe copy walk counts in whole guest accesses; the
 * "rep movsb" it replaced made valgrind report one byte more).
 */
#define assert_partial_count(got, want) assert_int_equal((got), (want))

/*
 * Under a cross build's user-mode emulator (tests/cross/qemu-run.sh sets
 * GM_TEST_EMULATOR), a few checks would test the emulator rather than the
 * library.  skip_if_emulated() skips such a check, printing why, and
 * test_exit() then turns a run with no failure into 77 (automake's SKIP):
 * a skipped check never counts as a pass.  The count is one per
 * translation unit (a static in an inline function of this header): call
 * skip_if_emulated() and test_exit() from the same source file.
 */
static inline int test_emulated(void)
{
	const char *e = getenv("GM_TEST_EMULATOR");

	return e && *e;
}

static inline int *test_emulated_skips(void)
{
	static int n;

	return &n;
}

#define skip_if_emulated(why)                                                 \
	do {                                                                  \
		if (test_emulated()) {                                        \
			print_message("skipped under user-mode emulation: "   \
				      "%s\n", (why));                         \
			++*test_emulated_skips();                             \
			skip();                                               \
		}                                                             \
	} while (0)

/* main()'s return for cmocka's count of failed tests @failed. */
static inline int test_exit(int failed)
{
	if (failed)
		return failed;
	return *test_emulated_skips() ? 77 : 0;
}

/* Why, for skip_if_emulated(). */
#define EMU_SELF_FAULT                                                        \
	"qemu-user 7.2 aborts (assertion cpu == current_cpu) when a process "  \
	"queues itself SIGSEGV or SIGBUS with a fault's si_code (so does a "   \
	"program without the library), as the fault handler does to give a "  \
	"fault that is not a guest's the default action, and as this check "  \
	"does to fake one"
#define EMU_MADVISE                                                           \
	"qemu-user 7.2 passes madvise() on to the kernel only for "            \
	"MADV_DONTNEED, and only on some mappings; "                          \
	"MADV_REMOVE, MADV_DONTFORK and the rest return success undone"

/*
 * Scenarios that must start in a fresh process (the default signal
 * dispositions, no fault-safe handlers installed yet; and, under valgrind,
 * run natively, since valgrind does not follow exec) run as this program
 * executed again: "<self> --child ARG...".  main() calls test_self_init()
 * first, and hands argv + 2 to its scenarios when argv[1] is "--child".
 */
static inline char *test_self(void)
{
	static char self[PATH_MAX];

	return self;
}

/* Find this program's own path: 0, or -1. */
static inline int test_self_init(void)
{
	ssize_t n = readlink("/proc/self/exe", test_self(), PATH_MAX - 1);

	if (n <= 0)
		return -1;
	test_self()[n] = '\0';
	return 0;
}

/*
 * Start "<self> --child @args..." (@args NULL-terminated, at most 8), its
 * standard output on @out_fd unless that is -1.  Returns the child's pid.
 */
static inline pid_t test_spawn_self(int out_fd, const char *const *args)
{
	char *argv[12] = { NULL, test_self(), (char *)"--child" };
	const char *emu;
	pid_t pid;
	int i;

	for (i = 0; i < 8 && args[i]; i++)
		argv[3 + i] = (char *)args[i];
	pid = fork();
	if (pid == 0) {
		if (out_fd >= 0)
			dup2(out_fd, STDOUT_FILENO);
		execv(argv[1], argv + 1);
		/*
		 * A cross build's test run under user-mode emulation
		 * without binfmt_misc: the kernel cannot execute this
		 * program, so the same command line goes through the
		 * emulator's runner (tests/cross/qemu-run.sh), as binfmt
		 * would do it.
		 */
		emu = getenv("GM_TEST_EMULATOR");
		if (errno == ENOEXEC && emu && *emu) {
			argv[0] = (char *)emu;
			execv(argv[0], argv);
		}
		_exit(127);
	}
	return pid;
}

#endif /* GM_TEST_UTIL_H */
