/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the accessor families (access.c: bytes, typed values, fill;
 * atomic.c; pin.c: views, leases, fd I/O) share.  Private.
 */
#ifndef GM_ACCESS_H
#define GM_ACCESS_H

#include "internal.h"
#include "space.h"

/*
 * Validate the arguments every range accessor shares: a NULL space or
 * buffer (with @len > 0), a length over GM_MAX_LEN, a range that wraps.
 * Returns 0, or the error, recorded for gm_last_error() under @op.
 */
int gm__range_args(struct gm_space *s, const char *op, uint64_t gpa,
		   const void *buf, size_t len);

/*
 * Check that [gpa, gpa + len) (len >= 1, no wrap) is covered by adjacent
 * entries of @t from @e on (NULL: a hole), all writable if @write.
 * Returns 0, or -EFAULT / -EACCES with *at set to the first offending
 * address.
 */
int gm__range_check(const struct gm__table *t, const struct gm__entry *e,
		    uint64_t gpa, uint64_t len, int write, uint64_t *at);

/* Why an access failed when a fault-safe access caught a fault. */
extern const char gm__fault_why[];

#endif /* GM_ACCESS_H */
