/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the cmocka suites.  Include after <cmocka.h> and
 * <guestmem.h>.
 */
#ifndef GM_TEST_UTIL_H
#define GM_TEST_UTIL_H

#include <string.h>
#include <sys/types.h>

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

#endif /* GM_TEST_UTIL_H */
