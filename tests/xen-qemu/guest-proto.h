/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The contract between the PVH guest helper (guest-helper.c, running in the
 * domU) and the dom0 side of the real-Xen test harness (guest-client.c).
 *
 * The guest publishes everything under its own xenstore directory
 *	/local/domain/<domid>/data/guestmem/
 * which a guest may write by default.  Keys (all values are text):
 *
 *	ready			"1" once every key below is written;
 *				"error: ..." if the helper failed (dom0 stops
 *				waiting then)
 *	magic			XQ_PATTERN_MAGIC in hex
 *	pattern/pages		number of pattern pages
 *	pattern/nr-runs		number of runs
 *	pattern/runs/<k>	chunk k of the runs: "gfn+count" pairs in hex,
 *				space separated, sorted by gfn, merged where
 *				frames are consecutive
 *	grant/magic		XQ_GRANT_MAGIC in hex
 *	grant/count		number of granted pages
 *	grant/refs		their grant refs, decimal, space separated, in
 *				grant index order
 *	grant/gfns		the gfn behind each granted page, hex, in the
 *				same order
 *	grant/ro-index		index (into grant/refs) of the read-only grant
 *	grant/consecutive	"1" if refs[i] == refs[0] + i for every i
 *	grant/churn		text: the refs gntalloc gave after one was freed
 *				(an observation for the record, not for tests)
 *	req, resp		the request channel, see below
 *
 * A chunk holds at most XQ_RUNS_CHUNK bytes so that no value comes close to
 * xenstore's 4096-byte payload limit.
 *
 * Pattern pages: the 64-bit word at byte offset o of the pattern frame gfn
 * holds xq_pattern_word(gfn, o) in the guest's (little-endian) byte order.
 * The word thus names its own guest-physical address, so a mapping of the
 * wrong frame cannot pass a content check.  Granted page i holds
 * xq_grant_word(refs[i], o), with a different magic so that a grant page is
 * never mistaken for a pattern page.
 *
 * Request channel: dom0 writes "req", the guest answers in "resp".  Requests
 * are one line:
 *
 *	<seq> read    <space> <index> <offset> <len>
 *	<seq> check   <space> <index> <offset> <hex bytes>
 *	<seq> write   <space> <index> <offset> <hex bytes>
 *	<seq> pattern <space> <index>
 *
 * <space> is "gfn" (index is a pattern gfn, hex) or "grant" (index is a
 * grant index, decimal).  "check" makes the guest compare its own view of
 * the memory with the bytes; "pattern" makes it check that the whole page
 * holds its original pattern.  Answers:
 *
 *	<seq> OK [<hex bytes>]		(bytes only for "read")
 *	<seq> MISMATCH <detail>		("check": the guest's bytes in hex;
 *					 "pattern": the first bad offset)
 *	<seq> ERROR <reason>
 *
 * <seq> is a token without spaces that never repeats (the client uses
 * "<pid>.<time>.<n>"); an answer is for the request with the same <seq>.
 * There is one channel, so only one dom0 process may use it at a time (the
 * harness runs its tests one after another).
 */
#ifndef XQ_GUEST_PROTO_H
#define XQ_GUEST_PROTO_H

#include <stdint.h>

#define XQ_PAGE_SHIFT	12
#define XQ_PAGE_SIZE	(1u << XQ_PAGE_SHIFT)

/* "guestmem" and "gm-grant" in ASCII. */
#define XQ_PATTERN_MAGIC	UINT64_C(0x67756573746d656d)
#define XQ_GRANT_MAGIC		UINT64_C(0x676d2d6772616e74)

#define XQ_XS_DIR	"data/guestmem"	/* under the guest's domain path */
#define XQ_RUNS_CHUNK	2048
#define XQ_MAX_IO	1024		/* bytes per read/check/write request */

static inline uint64_t xq_pattern_word(uint64_t gfn, unsigned int off)
{
	return ((gfn << XQ_PAGE_SHIFT) | off) ^ XQ_PATTERN_MAGIC;
}

static inline uint64_t xq_grant_word(uint32_t ref, unsigned int off)
{
	return (((uint64_t)ref << XQ_PAGE_SHIFT) | off) ^ XQ_GRANT_MAGIC;
}

/*
 * Hex text for the request channel.  xq_hex_encode() writes 2 * len
 * characters and a NUL; xq_hex_decode() returns the number of bytes decoded
 * or -1 if the text is not an even-length hex string that fits in max bytes.
 */
static inline void xq_hex_encode(char *out, const uint8_t *buf,
				 unsigned int len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static inline int xq_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline int xq_hex_decode(uint8_t *buf, unsigned int max,
				const char *text)
{
	unsigned int n = 0;
	int hi, lo;

	while (text[0] && text[0] != ' ' && text[0] != '\n') {
		hi = xq_hex_nibble(text[0]);
		lo = hi < 0 ? -1 : xq_hex_nibble(text[1]);
		if (lo < 0 || n == max)
			return -1;
		buf[n++] = (uint8_t)(hi << 4 | lo);
		text += 2;
	}
	return (int)n;
}

#endif /* XQ_GUEST_PROTO_H */
