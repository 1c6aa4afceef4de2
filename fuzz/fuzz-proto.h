/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The input format of fuzz/fuzz-space.c, shared with the seed generator
 * (fuzz/gen-seeds.c) so that the seeds keep meaning what they were written
 * to mean.
 *
 * An input is a header followed by operations.  Every field is read with
 * a reader that returns zeros once the input is exhausted, so any byte
 * string is a valid input and a short one just takes defaults.  Integers
 * are little endian.
 *
 * Header (FZ_HDR_LEN bytes):
 *   u8  flags        FZ_H_* below
 *   u32 grant_ro     bit i: grant i is read-only
 *   u8  grant_mul    grant i shares frame (i * mul + add) % FZ_NFRAMES
 *   u8  grant_add
 *   u8  grant_other  grant of that index goes to another domain (none if
 *                    >= FZ_NGRANTS)
 *
 * Operation: u8 opcode (modulo FZ_OP_COUNT), then the fields listed at the
 * opcode.  Shared field groups:
 *   ADDR: u8 mode, then
 *         mode % 8 = 0..3: u8 region, u16 off   around the region'th region
 *                          (from a page before it to a page after it)
 *         4:               u8 page, u16 off     page * 4096 + off % 4096
 *         5:               u16 back             2^64 - 1 - back % 8192
 *         6:               u8 ref, u16 off      grant address space
 *         7:               u8 region, u8 back   region end - back % 24
 *   LEN:  u8 mode, u16 v: a length up to the operation's maximum,
 *         mode % 8 = 0..2: 1 + v % 16; 3..4: 1 + v % max;
 *         5: (1 + v % 8) pages; 6: 0; 7: v % (max + 1)
 */
#ifndef FUZZ_PROTO_H
#define FUZZ_PROTO_H

#define FZ_HDR_LEN 8

/* Header flags. */
#define FZ_H_FAULT_SAFE 0x01u	/* GM_SPACE_FAULT_SAFE; revocation ops
				 * are ignored without it */
#define FZ_H_BUCKET_SHIFT 1	/* 2 bits: bucket 4, 16, 64 or 128 KiB */
#define FZ_H_BUDGET_SHIFT 3	/* 2 bits: cache budget, smallest safe,
				 * 1, 4 or 64 MiB */
#define FZ_H_PATTERN 0x20u	/* domain and files start with a pattern,
				 * not zeros */

/* The simulated guest. */
#define FZ_NFRAMES 128u		/* frames of the domain */
#define FZ_NGRANTS 32u		/* grants it makes at start */
#define FZ_UF_PAGES 32u		/* pages of the truncatable file */

/* Region kinds for FZ_OP_ADD. */
enum fz_kind {
	FZ_K_ANON,	/* gm_unix_region_new_anon */
	FZ_K_MEMFD,	/* gm_unix_region_new_memfd */
	FZ_K_UFILE,	/* gm_unix_region_new_fd over the truncatable file */
	FZ_K_FOREIGN,	/* Xen foreign, mapped on demand */
	FZ_K_EAGER,	/* Xen foreign, GM_XEN_EAGER */
	FZ_K_GRANT,	/* Xen grant refs */
	FZ_K_COUNT
};

enum fz_op {
	FZ_OP_READ,	     /* ADDR LEN: gm_read */
	FZ_OP_WRITE,	     /* ADDR LEN u32 seed: gm_write */
	FZ_OP_READ_PARTIAL,  /* ADDR LEN */
	FZ_OP_WRITE_PARTIAL, /* ADDR LEN u32 seed */
	FZ_OP_FILL,	     /* ADDR LEN u8 byte (odd: gm_zero) */
	FZ_OP_TYPED,	     /* u8 sel (type % 10, bit 7 write), ADDR,
			      * u64 val */
	FZ_OP_ATOMIC,	     /* u8 op, u8 size, u8 order, ADDR, u64 val,
			      * u8 cmp (cmpxchg: even = expect the current
			      * value; bit 7: no old value), u64 expected */
	FZ_OP_VIEW_GET,	     /* u8 slot, ADDR, LEN, u8 prot */
	FZ_OP_VIEW_OP,	     /* u8 slot, u8 op (0/1 bytes, 2/3 typed, 4..7
			      * atomic load, store, add, cmpxchg), u8 size,
			      * u16 off, u8 order, u64 val, and if size has
			      * bit 7, u64 expected */
	FZ_OP_VIEW_PUT,	     /* u8 slot */
	FZ_OP_LEASE_GET,     /* u8 slot, ADDR, LEN, u8 prot, u32 seed */
	FZ_OP_LEASE_PUT,     /* u8 slot, u32 seed */
	FZ_OP_FD,	     /* u8 sel (bit 0 into guest, bit 1 file), ADDR,
			      * LEN, u16 x (pipe bytes or file offset),
			      * u32 seed */
	FZ_OP_ADD,	     /* u8 kind, u8 pages, u8 place, u8 page,
			      * u8 flags (1 rdonly, 2 shared, 0x1c = 0x1c
			      * other domain), u8 base (gfn, grant, file
			      * page) */
	FZ_OP_REMOVE,	     /* u8 sel (bit 7: at ADDR that follows) */
	FZ_OP_INVALIDATE,    /* gm_xen_invalidate */
	FZ_OP_REGIONS,	     /* u8 max */
	FZ_OP_FRAME_ERROR,   /* u8 gfn, u8 err (index, see fuzz-space.c) */
	FZ_OP_REVOKE,	     /* u8 sel (0 frame revoke, 1 frame restore,
			      * 2 grant revoke, 3 grant revoke mapped),
			      * u8 index */
	FZ_OP_INJECT,	     /* u8 fn (0 foreign map, 1 map2, 2 grant map),
			      * u8 err */
	FZ_OP_TRUNCATE,	     /* u8 pages (bit 7: grow back to full) */
	FZ_OP_BADARGS,	     /* u8 sel, ADDR */
	FZ_OP_VERIFY,	     /* compare the backing stores with the model */
	FZ_OP_DISCARD,	     /* u8 region, u8 page (bit 7: misaligned),
			      * u8 pages: gm_unix_region_discard */
	FZ_OP_DOMAIN,	     /* u8 flags (1 eager, 2 no such domain,
			      * 4 write), u8 gfn, u16 off, u16 len,
			      * u32 seed: gm_xen_space_open_domain and one
			      * access in that space */
	FZ_OP_COUNT
};

#endif /* FUZZ_PROTO_H */
