/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backend-neutral conformance suite: the accessor semantics of guestmem.h,
 * written once and run against every backend through a fixture.
 *
 * A backend test binary describes how to make regions and calls
 * conf_run() once per flavour of region it offers:
 *
 *	static int anon_new(void *ctx, struct gm_space *s, uint64_t gpa,
 *			    uint64_t size, int rdonly, struct gm_region **out)
 *	{
 *		unsigned int fl = rdonly ? GM_UNIX_RDONLY : 0;
 *
 *		return gm_unix_region_new_anon(gpa, size, fl, out);
 *	}
 *
 *	static const struct conf_fixture anon = {
 *		.name = "unix-anon",
 *		.region_new = anon_new,
 *		.granule = 4096,
 *	};
 *
 *	int main(void)
 *	{
 *		return conf_run(&anon) ? 1 : 0;
 *	}
 *
 * Each test gets a fresh space (named after the fixture) holding the
 * layout below, in units of U = 64 KiB rounded up to the fixture's
 * granule, with every writable byte set to a known pattern:
 *
 *	[0, U)            rw     \ adjacent
 *	[U, 2U)           rw     /
 *	[2U, 3U)          hole
 *	[3U, 4U)          rw     \ adjacent: rw then read-only
 *	[4U, 5U)          ro     /
 *	[5U, 8U)          hole   ([8U, 9U) is used for hot add/remove)
 *	[4 GiB, 4 GiB+U)  rw     above 4 GiB
 *	[2^64-U, 2^64)    rw     ends exactly at 2^64
 *
 * The regions are made and added highest address first.  The suite keeps
 * a shadow copy of every region and checks the whole space against it
 * after each test, so a stray write anywhere fails.  Read-only regions
 * hold whatever the backend gives a new region (the suite reads them once
 * at setup and expects them never to change).
 *
 * Threads: the suite runs tests one at a time; some tests start threads
 * that call the library, but the fixture's hooks are only ever called
 * from the test's own thread (the hot add/remove test makes regions there
 * while its reader threads run).
 *
 * Errors are reported with cmocka; conf_run() returns the failure count.
 * Test names are "<fixture>/<test>", e.g. "unix-file/holes".
 */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <stdint.h>

#include <guestmem.h>
#include <guestmem/backend.h>

struct conf_fixture {
	/* Shown as the cmocka group name and used as the space's name. */
	const char *name;

	/* Optional: make / free a backend context, once per conf_run(). */
	int (*setup)(void **ctx);
	void (*teardown)(void *ctx);

	/*
	 * Optional: make the space every test uses; NULL means
	 * gm_space_new(out, name, 0).  For backends whose regions need a
	 * space-level handle.
	 */
	int (*space_new)(void *ctx, const char *name, struct gm_space **out);

	/*
	 * Make a region over [gpa, gpa + size), read-only if @rdonly, not
	 * yet in any space (@s is the space it is meant for).  A new
	 * writable region must read as zero (setup checks it, and the hot
	 * add/remove test relies on it; a fixture that reuses backing
	 * memory, such as a simulated domain's frames, clears it here or
	 * hands out fresh frames); read-only ones may hold anything.
	 * May be called again for an address whose previous region was
	 * removed.  Return 0 or -errno: the backend constructor's own error
	 * (-EOVERFLOW when gpa + size wraps past 2^64).
	 */
	int (*region_new)(void *ctx, struct gm_space *s, uint64_t gpa,
			  uint64_t size, int rdonly, struct gm_region **out);

	/* gpa and size alignment the backend needs (the page size). */
	uint64_t granule;

	/* Optional: run after each test, once the space is freed (say,
	 * assert that no mapping leaked).  May use cmocka asserts. */
	void (*check)(void *ctx);

	/*
	 * Optional: whether the region that was made at @gpa, with
	 * persistent mapping @hva (gm_region.hva when it was new, or NULL),
	 * has been destroyed: 1 if it has, 0 if it is still alive.  Lets
	 * the suite check that views and leases keep removed regions alive
	 * and that the last release destroys them.
	 */
	int (*region_gone)(void *ctx, uint64_t gpa, const uint8_t *hva);
};

/*
 * Run every conformance test as one cmocka group named after @f->name.
 * Return: the number of failed tests (0 if all passed), or -1 if
 * f->setup failed or memory ran out before any test ran.
 */
int conf_run(const struct conf_fixture *f);

#endif /* CONFORMANCE_H */
