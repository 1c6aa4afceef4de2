/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dom0 side of the real-Xen harness's guest protocol (see guest-proto.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "guest-client.h"

#define DEFAULT_TIMEOUT_MS	30000	/* software-emulated Xen is slow */

/* Read dir/key as a NUL-terminated string; the caller frees it. */
static int get(struct xq_guest *g, const char *key, char **out)
{
	char path[160];
	unsigned int len;
	char *v;

	snprintf(path, sizeof(path), "%s/%s", g->dir, key);
	v = xs_read(g->xs, XBT_NULL, path, &len);
	if (!v)
		return -errno;
	*out = v;	/* libxenstore NUL-terminates what it returns */
	return 0;
}

static int get_uint(struct xq_guest *g, const char *key, unsigned int *val)
{
	unsigned long v;
	char *s, *end;
	int rc;

	rc = get(g, key, &s);
	if (rc)
		return rc;
	errno = 0;
	v = strtoul(s, &end, 10);
	rc = (errno || end == s || *end || v > UINT32_MAX) ? -EPROTO : 0;
	free(s);
	if (!rc)
		*val = (unsigned int)v;
	return rc;
}

/* Parse up to max numbers in the given base from a space separated list. */
static int parse_list(const char *s, int base, uint64_t *out, unsigned int max)
{
	unsigned int n = 0;
	char *end;

	while (*s) {
		if (n == max)
			return -EPROTO;
		errno = 0;
		out[n++] = strtoull(s, &end, base);
		if (errno || end == s || (*end && *end != ' '))
			return -EPROTO;
		s = *end ? end + 1 : end;
	}
	return (int)n;
}

static int load_runs(struct xq_guest *g)
{
	unsigned int nr_chunks, k, have = 0, total = 0;
	char key[48], *s = NULL, *p, *end;
	int rc;

	rc = get_uint(g, "pattern/pages", &g->nr_pattern);
	if (!rc)
		rc = get_uint(g, "pattern/nr-runs", &g->nr_runs);
	if (!rc)
		rc = get_uint(g, "pattern/nr-chunks", &nr_chunks);
	if (rc)
		return rc;
	if (!g->nr_runs || g->nr_runs > g->nr_pattern)
		return -EPROTO;
	g->runs = calloc(g->nr_runs, sizeof(*g->runs));
	if (!g->runs)
		return -ENOMEM;
	for (k = 0; k < nr_chunks; k++) {
		snprintf(key, sizeof(key), "pattern/runs/%u", k);
		rc = get(g, key, &s);
		if (rc)
			return rc;
		for (p = s; *p; p = *end ? end + 1 : end) {
			struct xq_run *r = &g->runs[have];

			if (have == g->nr_runs) {
				rc = -EPROTO;
				break;
			}
			errno = 0;
			r->gfn = strtoull(p, &end, 16);
			if (errno || *end != '+') {
				rc = -EPROTO;
				break;
			}
			p = end + 1;
			r->count = (unsigned int)strtoul(p, &end, 16);
			if (end == p || (*end && *end != ' ') || !r->count) {
				rc = -EPROTO;
				break;
			}
			total += r->count;
			have++;
		}
		free(s);
		if (rc)
			return rc;
	}
	return (have == g->nr_runs && total == g->nr_pattern) ? 0 : -EPROTO;
}

static int load_grants(struct xq_guest *g)
{
	unsigned int consecutive, i;
	uint64_t *tmp;
	char *s;
	int rc, n;

	rc = get_uint(g, "grant/count", &g->nr_grants);
	if (!rc)
		rc = get_uint(g, "grant/ro-index", &g->ro_index);
	if (!rc)
		rc = get_uint(g, "grant/consecutive", &consecutive);
	if (rc)
		return rc;
	if (!g->nr_grants || g->ro_index >= g->nr_grants)
		return -EPROTO;
	g->grants_consecutive = !!consecutive;
	g->grant_refs = calloc(g->nr_grants, sizeof(*g->grant_refs));
	g->grant_gfns = calloc(g->nr_grants, sizeof(*g->grant_gfns));
	tmp = calloc(g->nr_grants, sizeof(*tmp));
	if (!g->grant_refs || !g->grant_gfns || !tmp) {
		free(tmp);
		return -ENOMEM;
	}
	rc = get(g, "grant/refs", &s);
	if (rc)
		goto out;
	n = parse_list(s, 10, tmp, g->nr_grants);
	free(s);
	if (n != (int)g->nr_grants) {
		rc = -EPROTO;
		goto out;
	}
	for (i = 0; i < g->nr_grants; i++) {
		if (tmp[i] > UINT32_MAX) {
			rc = -EPROTO;
			goto out;
		}
		g->grant_refs[i] = (uint32_t)tmp[i];
	}
	rc = get(g, "grant/gfns", &s);
	if (rc)
		goto out;
	n = parse_list(s, 16, g->grant_gfns, g->nr_grants);
	free(s);
	if (n != (int)g->nr_grants)
		rc = -EPROTO;
out:
	free(tmp);
	return rc;
}

int xq_guest_open(struct xq_guest *g)
{
	const char *env = getenv("GM_XEN_DOMID");
	unsigned long domid;
	char *ready, *end;
	int rc;

	memset(g, 0, sizeof(*g));
	g->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!env || !*env)
		return -ENOENT;
	errno = 0;
	domid = strtoul(env, &end, 10);
	if (errno || *end || domid >= 0x7ff0)	/* DOMID_FIRST_RESERVED */
		return -EINVAL;
	g->domid = (unsigned int)domid;
	snprintf(g->dir, sizeof(g->dir), "/local/domain/%u/%s", g->domid,
		 XQ_XS_DIR);

	g->xs = xs_open(0);
	if (!g->xs)
		return -errno;
	rc = get(g, "ready", &ready);
	if (rc)
		goto err;
	rc = strcmp(ready, "1") ? -EAGAIN : 0;
	free(ready);
	if (!rc)
		rc = load_runs(g);
	if (!rc)
		rc = load_grants(g);
	if (rc)
		goto err;
	/*
	 * Request numbers must differ from any an earlier process used, or
	 * the guest would take a new request for a repeated watch event.
	 */
	snprintf(g->tag, sizeof(g->tag), "%ld.%ld", (long)getpid(),
		 (long)time(NULL));
	return 0;
err:
	xq_guest_close(g);
	return rc;
}

void xq_guest_close(struct xq_guest *g)
{
	if (g->xs)
		xs_close(g->xs);
	free(g->runs);
	free(g->grant_refs);
	free(g->grant_gfns);
	g->xs = NULL;
	g->runs = NULL;
	g->grant_refs = NULL;
	g->grant_gfns = NULL;
}

int xq_guest_get(struct xq_guest *g, const char *key, char **value)
{
	return get(g, key, value);
}

uint64_t xq_guest_pattern_gfn(const struct xq_guest *g, unsigned int i)
{
	unsigned int r;

	for (r = 0; r < g->nr_runs; r++) {
		if (i < g->runs[r].count)
			return g->runs[r].gfn + i;
		i -= g->runs[r].count;
	}
	return UINT64_MAX;
}

const char *xq_guest_last_error(const struct xq_guest *g)
{
	return g->last_error;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	/* An early wake-up only makes the next poll come sooner. */
	nanosleep(&ts, NULL);
}

/*
 * Send one request and wait for the answer with the same sequence number.
 * On success *answer points into a buffer the caller frees with free(*raw);
 * it is the text after "<seq> ".
 */
static int request(struct xq_guest *g, char **raw, const char **answer,
		   const char *fmt, ...)
{
	char req[2 * XQ_MAX_IO + 256], path[160], prefix[64];
	unsigned int len, step = 1;
	uint64_t deadline;
	size_t plen;
	va_list ap;
	char *v;
	int n;

	g->last_error[0] = '\0';
	g->seq++;
	n = snprintf(req, sizeof(req), "%s.%lu ", g->tag, g->seq);
	va_start(ap, fmt);
	n += vsnprintf(req + n, sizeof(req) - (size_t)n, fmt, ap);
	va_end(ap);
	if ((size_t)n >= sizeof(req))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/req", g->dir);
	if (!xs_write(g->xs, XBT_NULL, path, req, (unsigned int)n))
		return -errno;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s.%lu ", g->tag,
				g->seq);
	snprintf(path, sizeof(path), "%s/resp", g->dir);
	/*
	 * Poll rather than watch: the answer is a single node, the poll
	 * interval backs off to 50 ms and a plain read loop has an obvious
	 * timeout.  Watches would also need libxenstore's reader thread.
	 */
	deadline = now_ms() + g->timeout_ms;
	for (;;) {
		v = xs_read(g->xs, XBT_NULL, path, &len);
		if (v && len >= plen && !strncmp(v, prefix, plen)) {
			*raw = v;
			*answer = v + plen;
			return 0;
		}
		free(v);
		/* Wall-clock time: sleeps overrun a lot under emulation. */
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(step);
		if (step < 50)
			step *= 2;
	}
}

/* Classify an answer: 0 OK, 1 MISMATCH, -EREMOTEIO ERROR (reason saved). */
static int verdict(struct xq_guest *g, const char *answer, const char **rest)
{
	g->last_error[0] = '\0';
	if (!strncmp(answer, "OK", 2)) {
		*rest = answer[2] == ' ' ? answer + 3 : answer + 2;
		return 0;
	}
	if (!strncmp(answer, "MISMATCH ", 9)) {
		*rest = answer + 9;
		return 1;
	}
	snprintf(g->last_error, sizeof(g->last_error), "%s",
		 !strncmp(answer, "ERROR ", 6) ? answer + 6 : answer);
	return -EREMOTEIO;
}

static int where(enum xq_space space, uint64_t index, char *buf, size_t size)
{
	switch (space) {
	case XQ_SPACE_GFN:
		snprintf(buf, size, "gfn %" PRIx64, index);
		return 0;
	case XQ_SPACE_GRANT:
		snprintf(buf, size, "grant %" PRIu64, index);
		return 0;
	}
	return -EINVAL;
}

static int check_range(unsigned int off, unsigned int len)
{
	if (!len || len > XQ_MAX_IO || off > XQ_PAGE_SIZE ||
	    len > XQ_PAGE_SIZE - off)
		return -EINVAL;
	return 0;
}

int xq_guest_read(struct xq_guest *g, enum xq_space space, uint64_t index,
		  unsigned int off, void *buf, unsigned int len)
{
	const char *answer, *rest;
	char w[48], *raw;
	int rc;

	rc = check_range(off, len);
	if (!rc)
		rc = where(space, index, w, sizeof(w));
	if (!rc)
		rc = request(g, &raw, &answer, "read %s %u %u", w, off, len);
	if (rc)
		return rc;
	rc = verdict(g, answer, &rest);
	if (!rc && xq_hex_decode(buf, len, rest) != (int)len)
		rc = -EPROTO;
	else if (rc == 1)
		rc = -EPROTO;	/* "read" never answers MISMATCH */
	free(raw);
	return rc;
}

int xq_guest_check(struct xq_guest *g, enum xq_space space, uint64_t index,
		   unsigned int off, const void *buf, unsigned int len,
		   void *seen)
{
	char hex[2 * XQ_MAX_IO + 1], w[48], *raw;
	const char *answer, *rest;
	int rc;

	rc = check_range(off, len);
	if (!rc)
		rc = where(space, index, w, sizeof(w));
	if (rc)
		return rc;
	xq_hex_encode(hex, buf, len);
	rc = request(g, &raw, &answer, "check %s %u %s", w, off, hex);
	if (rc)
		return rc;
	rc = verdict(g, answer, &rest);
	if (rc == 1 && seen && xq_hex_decode(seen, len, rest) != (int)len)
		rc = -EPROTO;
	free(raw);
	return rc;
}

int xq_guest_write(struct xq_guest *g, enum xq_space space, uint64_t index,
		   unsigned int off, const void *buf, unsigned int len)
{
	char hex[2 * XQ_MAX_IO + 1], w[48], *raw;
	const char *answer, *rest;
	int rc;

	rc = check_range(off, len);
	if (!rc)
		rc = where(space, index, w, sizeof(w));
	if (rc)
		return rc;
	xq_hex_encode(hex, buf, len);
	rc = request(g, &raw, &answer, "write %s %u %s", w, off, hex);
	if (rc)
		return rc;
	rc = verdict(g, answer, &rest);
	free(raw);
	return rc == 1 ? -EPROTO : rc;
}

int xq_guest_pattern(struct xq_guest *g, enum xq_space space, uint64_t index)
{
	const char *answer, *rest;
	char w[48], *raw;
	int rc;

	rc = where(space, index, w, sizeof(w));
	if (rc)
		return rc;
	rc = request(g, &raw, &answer, "pattern %s", w);
	if (rc)
		return rc;
	rc = verdict(g, answer, &rest);
	free(raw);
	return rc;
}
