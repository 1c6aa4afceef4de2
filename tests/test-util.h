/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the cmocka suites.  Include after <cmocka.h> and
 * <guestmem.h>.
 */
#ifndef GM_TEST_UTIL_H
#define GM_TEST_UTIL_H

#include <limits.h>
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
	char *argv[11] = { test_self(), (char *)"--child" };
	pid_t pid;
	int i;

	for (i = 0; i < 8 && args[i]; i++)
		argv[2 + i] = (char *)args[i];
	pid = fork();
	if (pid == 0) {
		if (out_fd >= 0)
			dup2(out_fd, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

#endif /* GM_TEST_UTIL_H */
