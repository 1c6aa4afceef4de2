/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private declarations shared by the files of libguestmem.  Never installed.
 */
#ifndef GM_INTERNAL_H
#define GM_INTERNAL_H

#include "config.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <guestmem.h>
#include <guestmem/backend.h>

#define gm__container_of(ptr, type, member)                                   \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define GM__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * An accessor's entry point starts a cache line, so that its speed in a
 * caller's tight loop does not depend on where the linker put it
 * (measured: random 8-byte reads of a 64 MiB guest 12% slower for a
 * function merely 48 bytes past a line).
 */
#define GM__ENTRY __attribute__((aligned(64)))

/* Branch hints; guestmem.h's own are internal to it, these to the library. */
#define gm_likely(x) GM__LIKELY(x)
#define gm_unlikely(x) GM__UNLIKELY(x)

/* ---- common/region.c (the dispatch itself is inline in region.h) ---- */

/* Whether @r has what common code needs (hva, or map and unmap). */
int gm__region_usable(const struct gm_region *r);

/* ---- common/error.c ---- */

/*
 * Record an access failure for gm_last_error() and return @err:
 *   guest memory '<space>': <op> error: failed to access <gpa>-<gpa+len>
 *   at <at>: <why>
 * @why may be NULL: strerror(-err) is used.  Cheap: formats lazily.
 * Called through gm__error_access() (space.h), which names the space.
 */
int gm__error_record(const char *space, const char *op, uint64_t gpa,
		     uint64_t len, uint64_t at, int err, const char *why);
/* As gm__error_record(), for a backend that refused to map: the reason is
 * "<backend> cannot map it: <strerror>". */
int gm__error_record_map(const char *space, const char *op, uint64_t gpa,
			 uint64_t len, uint64_t at, int err,
			 const char *backend);
/* Record a free-form failure message (printf-style); returns @err: the
 * function backends use (guestmem/backend.h). */
#define gm__error_msg gm_error_set

/* gm_region.common_flags: the region belongs to a space. */
#define GM__REGION_IN_SPACE 0x1u

#endif /* GM_INTERNAL_H */
