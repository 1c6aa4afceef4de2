/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the test-space* programs share: the fixture (an empty space per
 * test, and the backend chunk of the on-demand tests), fake regions that
 * fail the test when they cannot be made, and the check that the fake
 * backend saw no breach of its contract.
 */
#ifndef GM_TEST_SPACE_FIXTURE_H
#define GM_TEST_SPACE_FIXTURE_H

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/backend.h>

#include "test-util.h"

/* Internal: the space's RCU domain, to force fencing readers and to count
 * reader records (test-space-rcu.c), and GM__ARRAY_SIZE.  Tests link
 * libguestmem-core.la statically. */
#include "space.h"

#include "fake-region.h"

#define SPACE_NAME "vm-test"
#define PAGE UINT64_C(4096)

/* Fail if the fake backend saw a breach of its contract. */
#define assert_no_violations()                                                \
	do {                                                                  \
		if (fake_violations()) {                                      \
			print_error("fake backend: %lu contract violation(s)," \
				    " first: %s\n",                           \
				    fake_violations(), fake_violation_msg()); \
			fail();                                               \
		}                                                             \
	} while (0)

/* Parameters of the on-demand tests (cmocka prestate). */
struct params {
	uint64_t chunk;		  /* max_map of the backend */
	unsigned int space_flags; /* for gm_space_new() */
};

/* The common fixture: an empty space. */
struct fixture {
	struct gm_space *s;
	uint64_t chunk; /* max_map for the on-demand tests */
};

/* Make a fake region; the test fails if it cannot. */
struct fake_region *fake_new(struct fake_config cfg);

/* Make a fake region and add it to @s. */
struct fake_region *fake_add(struct gm_space *s, struct fake_config cfg);

/*
 * cmocka setup and teardown: a fixture with an empty space named
 * SPACE_NAME, made with the struct params given as prestate (if any);
 * teardown fails the test if the fake backend saw a contract breach.
 */
int setup(void **state);
int teardown(void **state);

#endif /* GM_TEST_SPACE_FIXTURE_H */
