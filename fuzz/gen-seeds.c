/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the seed corpus of fuzz/fuzz-space.c: one small input per feature,
 * so that fuzzing starts from every kind of region, fault and operation
 * rather than having to discover the input format.  Run by
 * "make fuzz-seeds": gen-seeds DIR writes DIR/NN-name files.
 *
 * The encoding is in fuzz-proto.h.  Region selectors in addresses count
 * the regions in the space in address order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-proto.h"

#define PAGE 4096u
#define MAX_XFER 32768u /* fuzz-space.c's limit on transfers */

/* A seed that cannot say what it means is a bug here. */
static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "gen-seeds: %s\n", what);
		exit(1);
	}
}

struct seed {
	uint8_t b[4096];
	size_t n;
};

static void put8(struct seed *s, unsigned int v)
{
	if (s->n < sizeof(s->b))
		s->b[s->n++] = (uint8_t)v;
}

static void put16(struct seed *s, unsigned int v)
{
	put8(s, v & 0xff);
	put8(s, v >> 8);
}

static void put32(struct seed *s, uint32_t v)
{
	put16(s, v & 0xffff);
	put16(s, v >> 16);
}

static void put64(struct seed *s, uint64_t v)
{
	put32(s, (uint32_t)v);
	put32(s, (uint32_t)(v >> 32));
}

static void header(struct seed *s, unsigned int flags, uint32_t ro,
		   unsigned int mul, unsigned int add, unsigned int other)
{
	s->n = 0;
	put8(s, flags);
	put32(s, ro);
	put8(s, mul);
	put8(s, add);
	put8(s, other);
}

/* Header flags: bucket and budget choices. */
#define BUCKET(i) ((unsigned int)(i) << FZ_H_BUCKET_SHIFT)
#define BUDGET(i) ((unsigned int)(i) << FZ_H_BUDGET_SHIFT)
#define SAFE FZ_H_FAULT_SAFE
#define PATTERN FZ_H_PATTERN

/* ---- ADDR ---- */

/* Byte @off of the @idx'th region (off may run a page before or after). */
static void a_reg(struct seed *s, unsigned int idx, unsigned int off)
{
	need(off + PAGE <= 0xffff, "region offset too large");
	put8(s, 0);
	put8(s, idx);
	put16(s, off + PAGE);
}

static void a_page(struct seed *s, unsigned int page, unsigned int off)
{
	put8(s, 4);
	put8(s, page);
	put16(s, off);
}

static void a_top(struct seed *s, unsigned int back)
{
	put8(s, 5);
	put16(s, back);
}

static void a_grant(struct seed *s, unsigned int ref, unsigned int off)
{
	put8(s, 6);
	put8(s, ref);
	put16(s, off);
}

/* @back bytes before the end of the @idx'th region. */
static void a_end(struct seed *s, unsigned int idx, unsigned int back)
{
	need(back < 24, "too far back from a region's end");
	put8(s, 7);
	put8(s, idx);
	put8(s, back);
}

/* ---- LEN ---- */

static void l_n(struct seed *s, unsigned int n) /* 1 <= n <= the max */
{
	need(n >= 1 && n <= MAX_XFER, "length out of range");
	put8(s, 3);
	put16(s, n - 1);
}

static void l_pages(struct seed *s, unsigned int pages) /* 1..8 */
{
	put8(s, 5);
	put16(s, pages - 1);
}

static void l_zero(struct seed *s)
{
	put8(s, 6);
	put16(s, 0);
}

/* ---- operations ---- */

enum { ANON = FZ_K_ANON, MEMFD = FZ_K_MEMFD, UFILE = FZ_K_UFILE,
       FOREIGN = FZ_K_FOREIGN, EAGER = FZ_K_EAGER, GRANT = FZ_K_GRANT };

/* Region flags for op_add. */
#define RO 1u
#define SHARED 2u
#define NODOM 0x1cu

/* Placement: at guest page @page, at the top of the address space, or
 * (grants) at their own grant address. */
#define AT_PAGE 0u
#define AT_TOP 6u
#define AT_GRANT 7u

static void op_add(struct seed *s, unsigned int kind, unsigned int pages,
		   unsigned int place, unsigned int page, unsigned int flags,
		   unsigned int base)
{
	put8(s, FZ_OP_ADD);
	put8(s, kind);
	put8(s, pages - 1);
	put8(s, place);
	put8(s, page);
	put8(s, flags);
	put8(s, base);
}

static void op_simple(struct seed *s, enum fz_op op)
{
	put8(s, op);
}

/* READ and READ_PARTIAL: then ADDR LEN. */
static void op_rw(struct seed *s, enum fz_op op)
{
	put8(s, op);
}

static void seed32(struct seed *s, uint32_t v)
{
	put32(s, v);
}

static void op_typed(struct seed *s, unsigned int type, int write)
{
	put8(s, FZ_OP_TYPED);
	put8(s, type | (write ? 0x80 : 0));
}

/* ATOMIC: op, size index, order index, then ADDR, val, cmp, exp. */
static void op_atomic(struct seed *s, unsigned int op, unsigned int size,
		      unsigned int order)
{
	put8(s, FZ_OP_ATOMIC);
	put8(s, op);
	put8(s, size);
	put8(s, order);
}

static void atomic_tail(struct seed *s, uint64_t val, unsigned int cmp)
{
	put64(s, val);
	put8(s, cmp);
	put64(s, 0);
}

static void op_view_get(struct seed *s, unsigned int slot)
{
	put8(s, FZ_OP_VIEW_GET);
	put8(s, slot);
}

static void op_view_op(struct seed *s, unsigned int slot, unsigned int op,
		       unsigned int size, unsigned int off, unsigned int order,
		       uint64_t val)
{
	put8(s, FZ_OP_VIEW_OP);
	put8(s, slot);
	put8(s, op);
	put8(s, size);
	put16(s, off + 8);
	put8(s, order);
	put64(s, val);
}

static void op_slot(struct seed *s, enum fz_op op, unsigned int slot)
{
	put8(s, op);
	put8(s, slot);
}

static void op_fd(struct seed *s, unsigned int sel)
{
	put8(s, FZ_OP_FD);
	put8(s, sel);
}

static void op_two(struct seed *s, enum fz_op op, unsigned int a,
		   unsigned int b)
{
	put8(s, op);
	put8(s, a);
	put8(s, b);
}

static void op_one(struct seed *s, enum fz_op op, unsigned int a)
{
	put8(s, op);
	put8(s, a);
}

/* Indices into the fuzzer's tables. */
enum { O_RELAXED, O_ACQUIRE, O_RELEASE, O_ACQ_REL, O_SEQ_CST, O_CONSUME,
       O_NEG, O_SIX };
enum { P_R, P_W, P_RW, P_NONE, P_BAD, P_RBAD };
enum { E_FAULT, E_PERM, E_SRCH, E_INVAL, E_IO, E_NOENT, E_CLEAR, E_NOENT1,
       E_NOENT2 };
enum { A_LOAD, A_STORE, A_XCHG, A_CMPXCHG, A_ADD, A_OR, A_AND };

/* A read and a write of @len at byte @off of region @idx. */
static void rw_at(struct seed *s, unsigned int idx, unsigned int off,
		  unsigned int len)
{
	op_rw(s, FZ_OP_WRITE);
	a_reg(s, idx, off);
	l_n(s, len);
	seed32(s, off * 7 + len);
	op_rw(s, FZ_OP_READ);
	a_reg(s, idx, off);
	l_n(s, len);
}

/* A write and a read of @len from @back bytes before region @idx's end. */
static void rw_end(struct seed *s, unsigned int idx, unsigned int back,
		   unsigned int len)
{
	op_rw(s, FZ_OP_WRITE);
	a_end(s, idx, back);
	l_n(s, len);
	seed32(s, back + len);
	op_rw(s, FZ_OP_READ);
	a_end(s, idx, back);
	l_n(s, len);
}

static void partial_at(struct seed *s, unsigned int idx, unsigned int off,
		       unsigned int len)
{
	op_rw(s, FZ_OP_WRITE_PARTIAL);
	a_reg(s, idx, off);
	l_n(s, len);
	seed32(s, len);
	op_rw(s, FZ_OP_READ_PARTIAL);
	a_reg(s, idx, off);
	l_n(s, len);
}

/* ---- the seeds ---- */

static void seed_unix_anon(struct seed *s)
{
	unsigned int t;

	header(s, PATTERN, 0, 1, 0, 0xff);
	op_add(s, ANON, 4, AT_PAGE, 1, 0, 0);
	op_add(s, ANON, 2, AT_PAGE, 5, SHARED, 0); /* adjacent */
	rw_at(s, 0, 100, 300);
	rw_at(s, 0, 4 * PAGE - 10, 20);		   /* across regions */
	partial_at(s, 1, 2 * PAGE - 8, 64);	   /* into a hole */
	put8(s, FZ_OP_FILL);
	a_reg(s, 0, 0);
	l_pages(s, 5);
	put8(s, 0x42);
	for (t = 0; t < 10; t++) {
		op_typed(s, t, 1);
		a_reg(s, 0, 4 * PAGE - 3);
		put64(s, 0x0102030405060708ull * (t + 1));
		op_typed(s, t, 0);
		a_reg(s, 0, 4 * PAGE - 3);
		put64(s, 0);
	}
	op_one(s, FZ_OP_REGIONS, 3);
}

static void seed_unix_rdonly(struct seed *s)
{
	header(s, 0, 0, 1, 0, 0xff);
	op_add(s, ANON, 2, AT_PAGE, 0, RO, 0);
	op_add(s, MEMFD, 2, AT_PAGE, 2, RO, 0);
	op_add(s, ANON, 2, AT_PAGE, 4, 0, 0);
	rw_at(s, 2, 0, 16);
	rw_at(s, 0, 10, 16);			   /* -EACCES */
	rw_at(s, 2, 0, 2 * PAGE + 8);		   /* runs into a hole */
	op_rw(s, FZ_OP_WRITE);			   /* writable, then RO */
	a_reg(s, 1, 2 * PAGE - 4);
	l_n(s, 8);
	seed32(s, 1);
	op_view_get(s, 0);
	a_reg(s, 0, 0);
	l_n(s, 64);
	put8(s, P_RW);
	op_view_get(s, 1);
	a_reg(s, 1, 0);
	l_n(s, 64);
	put8(s, P_R);
	op_view_op(s, 1, 1, 8, 0, 0, 1);	   /* -EACCES */
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_memfd(struct seed *s)
{
	header(s, PATTERN, 0, 1, 0, 0xff);
	op_add(s, MEMFD, 8, AT_PAGE, 16, 0, 0);
	rw_at(s, 0, 1000, 5000);
	put8(s, FZ_OP_FILL);
	a_reg(s, 0, 3 * PAGE);
	l_n(s, 100);
	put8(s, 1);				   /* gm_zero */
	op_simple(s, FZ_OP_VERIFY);
	op_one(s, FZ_OP_REMOVE, 0);
	rw_at(s, 0, 0, 8);			   /* a hole now */
}

static void seed_truncate(struct seed *s)
{
	header(s, SAFE | PATTERN, 0, 1, 0, 0xff);
	op_add(s, UFILE, 8, AT_PAGE, 8, 0, 4);
	op_add(s, UFILE, 4, AT_PAGE, 16, RO, 0);
	op_add(s, UFILE, 16, AT_PAGE, 32, 0, 30);  /* -ENXIO */
	rw_at(s, 0, 0, 8 * PAGE);
	op_one(s, FZ_OP_TRUNCATE, 8);		   /* file pages 8+ gone */
	rw_at(s, 0, 3 * PAGE + 100, 2 * PAGE);
	partial_at(s, 0, 4 * PAGE - 3, 10);
	op_typed(s, 5, 1);
	a_reg(s, 0, 4 * PAGE - 2);
	put64(s, 0xdeadbeef);
	op_atomic(s, A_XCHG, 3, O_SEQ_CST);
	a_reg(s, 0, 5 * PAGE);
	atomic_tail(s, 7, 0);
	op_view_get(s, 0);
	a_reg(s, 0, 0);
	l_pages(s, 6);
	put8(s, P_RW);
	op_view_op(s, 0, 0, 8, 16, 0, 0);
	op_fd(s, 0);				   /* guest -> pipe */
	a_reg(s, 0, 2 * PAGE);
	l_pages(s, 4);
	put16(s, 0);
	seed32(s, 0);
	op_one(s, FZ_OP_TRUNCATE, 0x80);	   /* grow back */
	rw_at(s, 0, 5 * PAGE, 64);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_foreign(struct seed *s)
{
	header(s, PATTERN | BUCKET(1), 0, 1, 0, 0xff);
	op_add(s, FOREIGN, 32, AT_PAGE, 64, 0, 0);
	op_add(s, FOREIGN, 8, AT_PAGE, 96, RO, 40);
	rw_at(s, 0, 4 * PAGE - 100, 3 * PAGE);	   /* across buckets */
	rw_end(s, 0, 8, 16);			   /* into the RO one */
	rw_at(s, 1, 0, 64);
	op_simple(s, FZ_OP_INVALIDATE);
	rw_at(s, 0, 100, 100);
	op_one(s, FZ_OP_REGIONS, 4);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_frame_errors(struct seed *s)
{
	header(s, PATTERN | BUCKET(1), 0, 1, 0, 0xff);
	op_two(s, FZ_OP_FRAME_ERROR, 3, E_FAULT);
	op_two(s, FZ_OP_FRAME_ERROR, 5, E_IO);
	op_two(s, FZ_OP_FRAME_ERROR, 9, E_NOENT1);
	op_two(s, FZ_OP_FRAME_ERROR, 10, E_NOENT2);
	op_add(s, FOREIGN, 16, AT_PAGE, 0, 0, 0);
	rw_at(s, 0, 0, 8 * PAGE);
	rw_at(s, 0, 8 * PAGE, 8 * PAGE);
	partial_at(s, 0, 2 * PAGE, 3 * PAGE);
	op_two(s, FZ_OP_FRAME_ERROR, 3, E_CLEAR);
	rw_at(s, 0, 3 * PAGE, 8);		   /* still cached: fails */
	op_simple(s, FZ_OP_INVALIDATE);
	rw_at(s, 0, 3 * PAGE, 8);		   /* works */
	op_two(s, FZ_OP_FRAME_ERROR, 12, E_NOENT);
	rw_at(s, 0, 12 * PAGE, 8);		   /* paged out for good */
	op_view_get(s, 0);
	a_reg(s, 0, 4 * PAGE);
	l_pages(s, 2);				   /* a bad page inside */
	put8(s, P_R);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_eager(struct seed *s)
{
	header(s, PATTERN, 0, 1, 0, 0xff);
	op_two(s, FZ_OP_FRAME_ERROR, 20, E_PERM);
	op_add(s, EAGER, 8, AT_PAGE, 0, 0, 16);	   /* one bad frame */
	op_add(s, EAGER, 8, AT_PAGE, 8, RO, 32);   /* all good: persistent */
	op_add(s, EAGER, 4, AT_PAGE, 16, 0, 126);  /* past the domain */
	op_add(s, EAGER, 2, AT_PAGE, 24, 0, 200);  /* none maps: refused */
	rw_at(s, 0, 0, 8 * PAGE);
	rw_at(s, 1, 8, 8);
	rw_at(s, 2, 0, 4 * PAGE);
	op_one(s, FZ_OP_REGIONS, 5);
	op_view_get(s, 0);
	a_reg(s, 0, 3 * PAGE);
	l_pages(s, 2);
	put8(s, P_RW);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_no_domain(struct seed *s)
{
	header(s, 0, 0, 1, 0, 0xff);
	op_add(s, EAGER, 4, AT_PAGE, 0, NODOM, 0); /* -ESRCH */
	op_add(s, FOREIGN, 4, AT_PAGE, 0, NODOM, 0);
	op_add(s, GRANT, 2, AT_PAGE, 8, NODOM, 0);
	rw_at(s, 0, 0, 64);
	rw_at(s, 1, 0, 64);
	op_atomic(s, A_LOAD, 2, O_ACQUIRE);
	a_reg(s, 0, 4);
	atomic_tail(s, 0, 0);
}

static void seed_grants(struct seed *s)
{
	/* Grants 1, 3, 5 read-only; grant 7 to another domain.  Region 0
	 * is at guest page 0 (refs past the 32 made), region 1 at the grant
	 * address of ref 8. */
	header(s, PATTERN, 0x2a, 3, 1, 7);
	op_add(s, GRANT, 8, AT_GRANT, 0, 0, 0);
	op_add(s, GRANT, 4, AT_PAGE, 0, RO, 28);
	rw_at(s, 1, 0, 8 * PAGE);
	rw_at(s, 1, PAGE - 4, 8);		   /* RW then RO grant */
	rw_at(s, 1, 6 * PAGE, 2 * PAGE);	   /* other domain's */
	rw_at(s, 0, 0, 4 * PAGE);		   /* -EACCES */
	op_rw(s, FZ_OP_READ);
	a_reg(s, 0, 0);
	l_n(s, 4 * PAGE);
	op_view_get(s, 0);
	a_grant(s, 8, 0);
	l_pages(s, 3);
	put8(s, P_R);
	op_view_get(s, 1);
	a_grant(s, 10, 100);
	l_n(s, 100);
	put8(s, P_RW);
	op_view_op(s, 1, 3, 3, 10, 0, 0x55667788);
	op_view_get(s, 2);
	a_grant(s, 8, 0);
	l_pages(s, 8);				   /* all or nothing */
	put8(s, P_RW);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_grant_revoke(struct seed *s)
{
	header(s, SAFE | PATTERN, 0, 1, 0, 0xff);
	op_add(s, GRANT, 8, AT_PAGE, 0, 0, 0);
	rw_at(s, 0, 0, 8 * PAGE);
	op_two(s, FZ_OP_REVOKE, 2, 1);		   /* revoke, mapped */
	op_two(s, FZ_OP_REVOKE, 3, 2);		   /* revoke mapped */
	rw_at(s, 0, 0, 4 * PAGE);
	op_simple(s, FZ_OP_INVALIDATE);
	rw_at(s, 0, 0, 4 * PAGE);
	partial_at(s, 0, PAGE - 8, 3 * PAGE);
}

static void seed_frame_revoke(struct seed *s)
{
	/* Every grant shares frame 5, which a foreign region maps too. */
	header(s, SAFE | PATTERN | BUCKET(2), 0, 0, 5, 0xff);
	op_add(s, FOREIGN, 16, AT_PAGE, 0, 0, 0);
	op_add(s, EAGER, 8, AT_PAGE, 32, 0, 0);
	op_add(s, GRANT, 4, AT_PAGE, 64, 0, 0);
	rw_at(s, 0, 0, 8 * PAGE);
	rw_at(s, 2, 0, 4 * PAGE);
	op_view_get(s, 0);
	a_reg(s, 0, 5 * PAGE);
	l_n(s, 64);
	put8(s, P_RW);
	op_two(s, FZ_OP_REVOKE, 0, 5);
	rw_at(s, 0, 4 * PAGE, 3 * PAGE);
	rw_at(s, 1, 5 * PAGE - 3, 6);
	rw_at(s, 2, 0, 8);
	op_atomic(s, A_ADD, 2, O_SEQ_CST);
	a_reg(s, 0, 5 * PAGE + 8);
	atomic_tail(s, 1, 0);
	op_two(s, FZ_OP_REVOKE, 1, 5);		   /* restore */
	op_simple(s, FZ_OP_INVALIDATE);
	rw_at(s, 0, 5 * PAGE, 8);
	rw_at(s, 1, 5 * PAGE, 8);		   /* eager stays faulting */
	op_slot(s, FZ_OP_VIEW_PUT, 0);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_atomics(struct seed *s)
{
	unsigned int op, size, order;

	header(s, PATTERN, 0, 1, 0, 0xff);
	op_add(s, ANON, 1, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 1, AT_PAGE, 1, 0, 0);
	op_add(s, GRANT, 1, AT_PAGE, 2, 0, 0);
	for (op = 0; op < 7; op++) {
		for (size = 0; size < 4; size++) {
			order = (op * 4 + size) % 8;
			op_atomic(s, op, size, order);
			a_reg(s, (op + size) % 3, 8 * size + op * 32);
			atomic_tail(s, 0x1111111111111111ull * (op + 1),
				    size & 1);
		}
	}
	op_atomic(s, A_CMPXCHG, 2, O_SEQ_CST);	   /* misaligned */
	a_reg(s, 0, 2);
	atomic_tail(s, 5, 0);
	op_atomic(s, A_STORE, 3, O_SEQ_CST);	   /* a hole */
	a_page(s, 9, 0);
	atomic_tail(s, 5, 0);
}

static void seed_views(struct seed *s)
{
	unsigned int k;

	header(s, PATTERN | BUCKET(1), 0, 1, 0, 0xff);
	op_add(s, ANON, 4, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 16, AT_PAGE, 4, 0, 0);
	op_view_get(s, 0);
	a_reg(s, 0, 100);
	l_n(s, 3000);
	put8(s, P_RW);
	op_view_get(s, 1);
	a_reg(s, 1, 3 * PAGE);
	l_pages(s, 3);				   /* spans buckets */
	put8(s, P_RW);
	op_view_get(s, 2);
	a_reg(s, 0, 4 * PAGE - 8);		   /* crosses: -EINVAL */
	l_n(s, 16);
	put8(s, P_R);
	op_view_get(s, 3);
	a_end(s, 1, 8);				   /* runs into a hole */
	l_n(s, 16);
	put8(s, P_R);
	for (k = 0; k < 8; k++)
		op_view_op(s, k % 2, k, k, 8 * k, k % 5, 0x0123456789abcdefull);
	op_view_op(s, 0, 4, 2, 3004, 0, 0);	   /* outside the view */
	op_slot(s, FZ_OP_VIEW_PUT, 0);
	op_view_op(s, 0, 0, 8, 0, 0, 0);	   /* a released view */
	op_one(s, FZ_OP_REMOVE, 1);		   /* with a view held */
	op_view_op(s, 1, 5, 3, 64, O_RELEASE, 99);
	op_slot(s, FZ_OP_VIEW_PUT, 1);
}

static void seed_leases(struct seed *s)
{
	header(s, PATTERN, 0, 1, 0, 0xff);
	op_add(s, ANON, 2, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 4, AT_PAGE, 2, 0, 8);
	op_add(s, GRANT, 2, AT_PAGE, 6, 0, 0);
	op_add(s, ANON, 2, AT_PAGE, 8, RO, 0);
	op_slot(s, FZ_OP_LEASE_GET, 0);
	a_reg(s, 0, 100);
	l_pages(s, 7);				   /* unix, xen, grant */
	put8(s, P_RW);
	seed32(s, 3);
	op_slot(s, FZ_OP_LEASE_GET, 1);
	a_reg(s, 3, 0);
	l_n(s, 64);
	put8(s, P_RW);				   /* -EACCES */
	seed32(s, 4);
	op_slot(s, FZ_OP_LEASE_GET, 1);
	a_reg(s, 2, PAGE);
	l_pages(s, 4);				   /* runs into RO */
	put8(s, P_R);
	seed32(s, 5);
	op_one(s, FZ_OP_REMOVE, 1);		   /* with a lease held */
	op_slot(s, FZ_OP_LEASE_PUT, 0);
	seed32(s, 6);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_fd_io(struct seed *s)
{
	unsigned int sel;

	header(s, PATTERN, 0, 1, 0, 0xff);
	op_add(s, ANON, 4, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 4, AT_PAGE, 4, 0, 0);
	for (sel = 0; sel < 4; sel++) {
		op_fd(s, sel);
		a_reg(s, 0, 1000 + sel);
		l_pages(s, 6);
		put16(s, 3000 * sel + 100);	   /* pipe bytes or offset */
		seed32(s, sel);
	}
	op_fd(s, 1);				   /* an empty pipe */
	a_reg(s, 0, 0);
	l_n(s, 10);
	put16(s, 0);
	seed32(s, 0);
	op_fd(s, 3);				   /* at the end of file */
	a_reg(s, 1, 0);
	l_n(s, 100);
	put16(s, 65530);
	seed32(s, 0);
	op_fd(s, 0);				   /* from a hole */
	a_page(s, 100, 0);
	l_n(s, 10);
	put16(s, 0);
	seed32(s, 0);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_hotplug(struct seed *s)
{
	header(s, 0, 0, 1, 0, 0xff);
	op_add(s, ANON, 4, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 4, AT_PAGE, 2, 0, 0);   /* overlaps: -EEXIST */
	op_add(s, MEMFD, 4, AT_PAGE, 4, 0, 0);
	op_add(s, GRANT, 2, AT_PAGE, 8, 0, 0);
	op_one(s, FZ_OP_REGIONS, 9);
	op_one(s, FZ_OP_REMOVE, 0x80);		   /* no region there */
	a_page(s, 1, 0);
	op_one(s, FZ_OP_REMOVE, 1);
	op_add(s, EAGER, 4, AT_PAGE, 4, 0, 60);
	rw_at(s, 0, 4 * PAGE - 4, 8);
	op_one(s, FZ_OP_REMOVE, 0);
	op_one(s, FZ_OP_REMOVE, 0);
	op_one(s, FZ_OP_REGIONS, 0);
	op_add(s, ANON, 4, AT_PAGE, 0, 0, 0);
	rw_at(s, 0, 0, 16);
}

static void seed_top(struct seed *s)
{
	header(s, 0, 0, 1, 0, 0xff);
	op_add(s, ANON, 2, AT_TOP, 0, 0, 0);	   /* ends at 2^64 */
	op_rw(s, FZ_OP_READ);
	a_top(s, 15);
	l_n(s, 16);				   /* to the last byte */
	op_rw(s, FZ_OP_READ);
	a_top(s, 15);
	l_n(s, 17);				   /* wraps: -EOVERFLOW */
	op_rw(s, FZ_OP_WRITE_PARTIAL);
	a_end(s, 0, 4);
	l_n(s, 4);
	seed32(s, 9);
	op_typed(s, 9, 1);
	a_top(s, 3);				   /* u64 wraps */
	put64(s, 1);
	op_view_get(s, 0);
	a_top(s, 4095);
	l_n(s, 4096);
	put8(s, P_RW);
	op_slot(s, FZ_OP_LEASE_GET, 0);
	a_top(s, 0);
	l_n(s, 2);
	put8(s, P_R);
	seed32(s, 0);
	op_fd(s, 0);
	a_top(s, 0);
	l_n(s, 2);
	put16(s, 0);
	seed32(s, 0);
}

static void seed_inject(struct seed *s)
{
	header(s, PATTERN | BUCKET(1), 0, 1, 0, 0xff);
	op_add(s, FOREIGN, 8, AT_PAGE, 0, 0, 0);
	op_add(s, GRANT, 2, AT_PAGE, 8, 0, 0);
	op_two(s, FZ_OP_INJECT, 0, 0);		   /* map: ENOMEM */
	rw_at(s, 0, 0, 8);
	rw_at(s, 0, 0, 8);
	op_two(s, FZ_OP_INJECT, 1, 1);		   /* map2: EIO */
	op_add(s, EAGER, 4, AT_PAGE, 16, 0, 0);	   /* refused */
	op_add(s, EAGER, 4, AT_PAGE, 16, 0, 0);	   /* works */
	op_two(s, FZ_OP_INJECT, 2, 2);		   /* grant map: EFAULT */
	rw_at(s, 1, 0, 8);
	op_two(s, FZ_OP_INJECT, 0, 3);
	op_view_get(s, 0);
	a_reg(s, 0, 3 * PAGE);
	l_pages(s, 3);
	put8(s, P_R);
}

static void seed_badargs(struct seed *s)
{
	unsigned int k;

	header(s, 0, 0, 1, 0, 0xff);
	op_add(s, ANON, 1, AT_PAGE, 0, 0, 0);
	for (k = 0; k < 21; k++) {
		op_one(s, FZ_OP_BADARGS, k);
		a_reg(s, 0, 8 * k);
	}
	op_view_get(s, 0);
	a_reg(s, 0, 0);
	l_zero(s);				   /* length 0 */
	put8(s, P_R);
	op_view_get(s, 0);
	a_reg(s, 0, 0);
	l_n(s, 8);
	put8(s, P_BAD);
	op_slot(s, FZ_OP_LEASE_GET, 0);
	a_reg(s, 0, 0);
	l_n(s, 8);
	put8(s, P_NONE);
	seed32(s, 0);
	op_atomic(s, A_LOAD, 2, O_RELEASE);	   /* invalid order */
	a_reg(s, 0, 0);
	atomic_tail(s, 0, 0);
	op_atomic(s, A_ADD, 3, O_CONSUME);
	a_reg(s, 0, 0);
	atomic_tail(s, 0, 0);
}

static void seed_eviction(struct seed *s)
{
	unsigned int k;

	/* 4 KiB buckets, the smallest budget: every pass evicts. */
	header(s, PATTERN, 0, 1, 0, 0xff);
	op_add(s, FOREIGN, 32, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 32, AT_PAGE, 32, 0, 32);
	op_add(s, FOREIGN, 32, AT_PAGE, 64, 0, 64);
	op_add(s, GRANT, 32, AT_PAGE, 96, 0, 0);
	for (k = 0; k < 4; k++)
		rw_at(s, k, 0, 8 * PAGE);
	for (k = 0; k < 4; k++)
		rw_at(s, k, 12 * PAGE, 8 * PAGE);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_mixed(struct seed *s)
{
	/* Not fault-safe: everything but revocation and truncation. */
	header(s, PATTERN | BUCKET(3) | BUDGET(1), 0xf0f0f0f0, 5, 3, 9);
	op_add(s, ANON, 4, AT_PAGE, 0, 0, 0);
	op_add(s, FOREIGN, 8, AT_PAGE, 4, 0, 10);
	op_add(s, GRANT, 4, AT_PAGE, 12, 0, 0);
	op_add(s, UFILE, 4, AT_PAGE, 16, 0, 0);
	op_add(s, EAGER, 4, AT_PAGE, 20, 0, 40);
	rw_at(s, 0, 100, 8 * PAGE);		   /* unix into Xen */
	rw_at(s, 0, 11 * PAGE, 8 * PAGE);	   /* foreign, grant, file */
	rw_at(s, 3, 2 * PAGE, 6 * PAGE);	   /* file into eager */
	op_two(s, FZ_OP_REVOKE, 0, 12);		   /* ignored */
	op_one(s, FZ_OP_TRUNCATE, 1);		   /* ignored */
	op_atomic(s, A_OR, 3, O_ACQ_REL);
	a_reg(s, 1, 64);
	atomic_tail(s, 0xff00, 0);
	op_slot(s, FZ_OP_LEASE_GET, 0);
	a_reg(s, 0, 0);
	l_pages(s, 8);
	put8(s, P_RW);
	seed32(s, 11);
	op_fd(s, 2);
	a_reg(s, 1, 0);
	l_pages(s, 8);
	put16(s, 512);
	seed32(s, 12);
	op_slot(s, FZ_OP_LEASE_PUT, 0);
	seed32(s, 13);
	op_simple(s, FZ_OP_VERIFY);
}

static void seed_discard(struct seed *s)
{
	header(s, SAFE | PATTERN, 0, 1, 0, 0xff);
	op_add(s, ANON, 4, AT_PAGE, 0, 0, 0);
	op_add(s, ANON, 4, AT_PAGE, 4, SHARED, 0);
	op_add(s, MEMFD, 4, AT_PAGE, 8, 0, 0);
	op_add(s, UFILE, 4, AT_PAGE, 12, 0, 2);
	op_add(s, ANON, 2, AT_PAGE, 16, RO, 0);
	op_add(s, FOREIGN, 2, AT_PAGE, 18, 0, 0);
	rw_at(s, 0, 0, 8 * PAGE);
	rw_at(s, 2, 0, 8 * PAGE);
	put8(s, FZ_OP_DISCARD);			   /* pages 1-2 */
	put8(s, 0);
	put8(s, 1);
	put8(s, 2);
	put8(s, FZ_OP_DISCARD);
	put8(s, 1);
	put8(s, 1);
	put8(s, 2);
	put8(s, FZ_OP_DISCARD);
	put8(s, 2);
	put8(s, 0);
	put8(s, 4);
	put8(s, FZ_OP_DISCARD);
	put8(s, 3);
	put8(s, 2);
	put8(s, 2);
	put8(s, FZ_OP_DISCARD);			   /* -EACCES */
	put8(s, 4);
	put8(s, 0);
	put8(s, 1);
	put8(s, FZ_OP_DISCARD);			   /* Xen: -EINVAL */
	put8(s, 5);
	put8(s, 0);
	put8(s, 1);
	put8(s, FZ_OP_DISCARD);			   /* misaligned */
	put8(s, 0);
	put8(s, 0x81);
	put8(s, 1);
	put8(s, FZ_OP_DISCARD);			   /* empty */
	put8(s, 0);
	put8(s, 0);
	put8(s, 0);
	rw_at(s, 0, PAGE - 8, 16);
	op_one(s, FZ_OP_REGIONS, 8);
	op_simple(s, FZ_OP_VERIFY);
}

static void domain_op(struct seed *s, unsigned int flags, unsigned int gfn,
		      unsigned int off, unsigned int len)
{
	put8(s, FZ_OP_DOMAIN);
	put8(s, flags);
	put8(s, gfn);
	put16(s, off);
	put16(s, len - 1);
	put32(s, gfn * 3 + off);
}

static void seed_domain(struct seed *s)
{
	header(s, SAFE | PATTERN, 0, 1, 0, 0xff);
	op_add(s, FOREIGN, 4, AT_PAGE, 0, 0, 8);
	domain_op(s, 4, 9, 100, 200);		   /* on demand, write */
	op_rw(s, FZ_OP_READ);			   /* via region 0 */
	a_reg(s, 0, PAGE + 100);
	l_n(s, 200);
	domain_op(s, 1, 10, 0, PAGE);		   /* eager, read */
	op_two(s, FZ_OP_FRAME_ERROR, 11, E_PERM);
	domain_op(s, 0, 11, 8, 8);		   /* -EPERM */
	domain_op(s, 1, 11, 8, 8);		   /* eager: -EPERM */
	op_two(s, FZ_OP_REVOKE, 0, 12);
	domain_op(s, 4, 13, 0, 16);
	domain_op(s, 2, 0, 0, 1);		   /* no such domain */
	op_two(s, FZ_OP_INJECT, 1, 0);
	domain_op(s, 1, 0, 0, 1);		   /* map2 fails */
	op_simple(s, FZ_OP_VERIFY);
}

static const struct {
	const char *name;
	void (*make)(struct seed *s);
} seeds[] = {
	{ "unix-anon", seed_unix_anon },
	{ "unix-rdonly", seed_unix_rdonly },
	{ "memfd", seed_memfd },
	{ "truncate", seed_truncate },
	{ "foreign", seed_foreign },
	{ "frame-errors", seed_frame_errors },
	{ "eager", seed_eager },
	{ "no-domain", seed_no_domain },
	{ "grants", seed_grants },
	{ "grant-revoke", seed_grant_revoke },
	{ "frame-revoke", seed_frame_revoke },
	{ "atomics", seed_atomics },
	{ "views", seed_views },
	{ "leases", seed_leases },
	{ "fd-io", seed_fd_io },
	{ "hotplug", seed_hotplug },
	{ "top", seed_top },
	{ "inject", seed_inject },
	{ "badargs", seed_badargs },
	{ "eviction", seed_eviction },
	{ "mixed", seed_mixed },
	{ "discard", seed_discard },
	{ "domain-space", seed_domain },
};

int main(int argc, char **argv)
{
	static struct seed s;
	char path[4096];
	size_t i;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		seeds[i].make(&s);
		snprintf(path, sizeof(path), "%s/%02zu-%s", argv[1], i + 1,
			 seeds[i].name);
		f = fopen(path, "wb");
		if (!f || fwrite(s.b, 1, s.n, f) != s.n || fclose(f)) {
			fprintf(stderr, "%s: cannot write %s: %s\n", argv[0],
				path, strerror(errno));
			return 1;
		}
	}
	return 0;
}
