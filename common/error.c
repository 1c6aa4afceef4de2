/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Error messages for gm_last_error(): one per thread.
 *
 * Access failures can be frequent under a hostile guest, so they are
 * recorded as fields and only formatted when the caller asks.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct last_error {
	int pending;	/* fields below not yet formatted into msg */
	char space[64];
	const char *op;
	const char *why;
	const char *backend; /* set: a backend refused to map */
	uint64_t gpa, len, at;
	int err;
	char msg[320];
};

static __thread struct last_error last;

/* Short reasons for the codes accessors give; NULL for "use strerror". */
static const char *reason(int err)
{
	switch (err) {
	case -EFAULT:
		return "no region";
	case -EACCES:
		return "region is read-only";
	case -EOVERFLOW:
		return "range wraps past 2^64";
	case -ENOMEM:
		return "out of memory";
	case -EINVAL:
		return "invalid argument";
	default:
		return NULL;
	}
}

int gm__error_record(const char *name, const char *op, uint64_t gpa,
		     uint64_t len, uint64_t at, int err, const char *why)
{
	size_t n = strlen(name);

	if (n >= sizeof(last.space))
		n = sizeof(last.space) - 1;
	memcpy(last.space, name, n);
	last.space[n] = '\0';
	last.op = op;
	last.why = why;
	last.backend = NULL;
	last.gpa = gpa;
	last.len = len;
	last.at = at;
	last.err = err;
	last.pending = 1;
	return err;
}

int gm__error_record_map(const char *name, const char *op, uint64_t gpa,
			 uint64_t len, uint64_t at, int err, const char *backend)
{
	gm__error_record(name, op, gpa, len, at, err, NULL);
	last.backend = backend;
	return err;
}

/* The library records its own free-form messages the way a backend does
 * (internal.h's gm__error_msg() is this function). */
int gm_error_set(int err, const char *fmt, ...)
{
	va_list ap;

	last.pending = 0;
	if (!fmt) {
		/* A caller's bug, but never a crash: say what we know. */
		snprintf(last.msg, sizeof(last.msg), "error %d (no message)",
			 err);
		return err;
	}
	va_start(ap, fmt);
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	va_end(ap);
	return err;
}

const char *gm_last_error(void)
{
	char end[24], buf[64], why2[96];
	const char *why;

	if (!last.pending)
		return last.msg;
	last.pending = 0;
	/* The exclusive end can reach past 2^64, which uint64_t cannot
	 * hold: print the carry digit. */
	if (last.gpa + last.len < last.gpa)
		snprintf(end, sizeof(end), "0x1%016" PRIx64,
			 last.gpa + last.len);
	else
		snprintf(end, sizeof(end), "0x%" PRIx64, last.gpa + last.len);
	why = last.why ? last.why : last.backend ? NULL : reason(last.err);
	if (!why)
		why = strerror_r(-last.err, buf, sizeof(buf));
	if (last.backend) {
		snprintf(why2, sizeof(why2), "%s cannot map it: %s",
			 last.backend, why);
		why = why2;
	}
	snprintf(last.msg, sizeof(last.msg),
		 "guest memory '%s': %s error: failed to access 0x%" PRIx64
		 "-%s at 0x%" PRIx64 ": %s",
		 last.space, last.op, last.gpa, end, last.at, why);
	return last.msg;
}
