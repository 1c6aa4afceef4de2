/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of published pieces (guestmem/backend.h, GM_REGION_OPS_VERSION
 * 2) through the public functions only, against the fake backend in piece
 * mode (tests/fake-region.c), as a backend outside this tree would use
 * them:
 *  - every argument error of gm_region_pieces_init(), gm_region_publish(),
 *    gm_region_unpublish() and gm_region_piece_used();
 *  - accessors copy to and from a published piece without a map call, and
 *    go through map for what no piece serves (a piece boundary, a piece
 *    not published, a write to a read-only publication);
 *  - gm_region_synchronize() waits for a reader that is inside a copy from
 *    an unpublished piece, and drops the ranges that threads keep of
 *    pieces in their lookup caches, also when the thread fills its cache
 *    while the synchronize runs; a cached short last piece ends with its
 *    region;
 *  - the pieces outlive the backend's destroy, which may still unpublish.
 *
 * Readers are held inside a copy deterministically: the test publishes a
 * page it made PROT_NONE, and its own SIGSEGV handler (the spaces here are
 * not fault-safe, so the library installs none) blocks until released,
 * then makes the page readable, and the copy is retried.  Whether a
 * synchronize is waiting is seen, not guessed: rcu.c yields between looks
 * at a reader still inside, and this binary is linked with
 * --wrap=sched_yield.  alarm() bounds every wait.
 */
#include "space-fixture.h"

/*
 * The region of most tests: NP pieces of PSIZE bytes (one page) at F_GPA,
 * on demand, in page-aligned storage.
 */
#define SHIFT 12
#define PSIZE (UINT64_C(1) << SHIFT)
#define NP 4
#define F_GPA UINT64_C(0x200000)
#define F_SIZE (NP * PSIZE)
#define RW (GM_PROT_READ | GM_PROT_WRITE)

/* Bound on every wait for another thread; a hang is the failure. */
#define ALARM_SECONDS 60

static struct fake_config pieces_cfg(void)
{
	return (struct fake_config){ .gpa = F_GPA, .size = F_SIZE,
				     .page_buf = 1, .piece_shift = SHIFT };
}

static unsigned long map_calls(struct fake_region *f)
{
	return atomic_load(&f->map_calls);
}

/* Fill the region's storage with bytes that differ from offset to
 * offset and from @seed to @seed. */
static void pattern(struct fake_region *f, uint8_t seed)
{
	uint64_t i;

	for (i = 0; i < f->cfg.size; i++)
		f->buf[i] = (uint8_t)(i * 13 + (i >> 8) + seed);
}

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static uint64_t get_be(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The calling thread's first access to a space registers its reader and
 * goes through the general path, which maps; later ones take the fast
 * path that uses pieces.  Make that first access, to piece @piece.
 */
static void warm_up(struct gm_space *s, uint64_t piece)
{
	uint8_t v;

	assert_int_equal(gm_read_u8(s, F_GPA + piece * PSIZE, &v), 0);
}

/* Every map has been unmapped again, and the contract was kept. */
static void assert_balanced(struct fake_region *f)
{
	assert_int_equal(atomic_load(&f->live), 0);
	assert_int_equal(atomic_load(&f->maps), atomic_load(&f->unmaps));
	assert_no_violations();
}

/* An anonymous page-aligned buffer of @len bytes, filled with @byte. */
static uint8_t *page_buffer(size_t len, int byte)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, byte, len);
	return p;
}

/* ------------------------------------------------------------------ */
/* Argument errors                                                     */
/* ------------------------------------------------------------------ */

/* A backend written against version 1 of the ops table. */
static int v1_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		  unsigned int flags, struct gm_map *m)
{
	(void)r;
	(void)len;
	(void)prot;
	(void)flags;
	m->fault = off;
	return -EIO;
}

static void v1_unmap(struct gm_region *r, struct gm_map *m)
{
	(void)r;
	(void)m;
}

static void v1_destroy(struct gm_region *r)
{
	free(r);
}

static const struct gm_region_ops v1_ops = {
	.version = 1,
	.name = "v1",
	.map = v1_map,
	.unmap = v1_unmap,
	.destroy = v1_destroy,
};

/* gm_region_pieces_init() refuses what backend.h says it refuses, with a
 * message that says why, and accepts shifts 12 to 40, once. */
static void test_pieces_init_errors(void **state)
{
	struct fixture *fx = *state;
	struct fake_config cfg = pieces_cfg();
	struct fake_region *f;
	struct gm_region *v1;
	int destroyed = 0;

	assert_int_equal(gm_region_pieces_init(NULL, SHIFT, NULL), -EINVAL);
	assert_error_has("region pieces: region is NULL");

	/* Persistent: its one piece is its hva, always published. */
	f = fake_new((struct fake_config){ .gpa = F_GPA, .size = F_SIZE,
					   .persistent = 1 });
	assert_int_equal(gm_region_pieces_init(fake_gm(f), SHIFT, NULL),
			 -EINVAL);
	assert_error_has("region is persistent");
	gm_region_destroy(fake_gm(f));

	/* An ops table of version 1 predates the rules pieces need. */
	v1 = calloc(1, sizeof(*v1));
	assert_non_null(v1);
	assert_int_equal(gm_region_init(v1, &v1_ops, F_GPA, F_SIZE, 0), 0);
	assert_int_equal(gm_region_pieces_init(v1, SHIFT, NULL), -EINVAL);
	assert_error_has("ops table of version 1");
	gm_region_destroy(v1);

	/* Shifts: 12 (a page) to 40; once only. */
	f = fake_new((struct fake_config){ .gpa = F_GPA, .size = F_SIZE,
					   .page_buf = 1,
					   .destroyed = &destroyed });
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 0, NULL), -EINVAL);
	assert_error_has("shift must be 12 to 40");
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 11, NULL), -EINVAL);
	assert_error_has("shift must be 12 to 40");
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 41, NULL), -EINVAL);
	assert_error_has("shift must be 12 to 40");
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 64, NULL), -EINVAL);
	assert_error_has("shift must be 12 to 40");
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 40,
					       (void *)(uintptr_t)0x1800),
			 -EINVAL);
	assert_error_has("base not page-aligned");
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 40, NULL), 0);
	assert_int_equal(gm_region_pieces_init(fake_gm(f), 40, NULL), -EINVAL);
	assert_error_has("pieces already set up");
	assert_int_equal(gm_region_pieces_init(fake_gm(f), SHIFT, NULL),
			 -EINVAL);
	assert_error_has("pieces already set up");
	/* One piece of 2^40 bytes: the whole region. */
	assert_int_equal(gm_region_publish(fake_gm(f), 0, f->buf, RW), 0);
	assert_int_equal(gm_region_publish(fake_gm(f), 1, f->buf, RW),
			 -EINVAL);
	assert_int_equal(gm_region_unpublish(fake_gm(f), 0, f->buf), 1);
	/* Never in a space: destroyed here, pieces and all (valgrind and
	 * ASan see a leak otherwise). */
	gm_region_destroy(fake_gm(f));
	assert_int_equal(destroyed, 1);

	/* In a space: the space's readers may already be looking at it. */
	f = fake_add(fx->s, (struct fake_config){ .gpa = F_GPA,
						  .size = F_SIZE });
	assert_int_equal(gm_region_pieces_init(fake_gm(f), SHIFT, NULL),
			 -EINVAL);
	assert_error_has("region is in a space");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, f->buf, RW),
			 -EINVAL);

	/* The fake passes the library's refusal on, and refuses layouts
	 * whose pieces would not start page-aligned. */
	cfg.piece_shift = 11;
	assert_int_equal(fake_region_new(&cfg, &f), -EINVAL);
	assert_null(f);
	cfg = pieces_cfg();
	cfg.page_buf = 0;
	assert_int_equal(fake_region_new(&cfg, &f), -EINVAL);
	cfg = pieces_cfg();
	cfg.misalign = 1;
	assert_int_equal(fake_region_new(&cfg, &f), -EINVAL);
	cfg = pieces_cfg();
	cfg.flags = GM_REGION_RDONLY;
	cfg.publish_on_map = RW;
	assert_int_equal(fake_region_new(&cfg, &f), -EINVAL);
	assert_no_violations();
}

/* gm_region_publish() refuses bad arguments; gm_region_unpublish() and
 * gm_region_piece_used() answer 0 for what is not published there. */
static void test_publish_errors(void **state)
{
	struct fixture *fx = *state;
	struct fake_config cfg = pieces_cfg();
	struct fake_region *f, *ro, *plain;
	uint8_t *other = page_buffer(PSIZE, 0);
	uint8_t *hva;
	unsigned long m0;
	uint32_t v;

	/* The last of the NP pieces is short. */
	cfg.size = F_SIZE - PSIZE / 2;
	f = fake_add(fx->s, cfg);
	hva = fake_hva(f, 0);
	cfg = pieces_cfg();
	cfg.gpa = F_GPA + F_SIZE;
	cfg.flags = GM_REGION_RDONLY;
	ro = fake_add(fx->s, cfg);
	plain = fake_add(fx->s, (struct fake_config){
		.gpa = F_GPA + 2 * F_SIZE, .size = F_SIZE, .page_buf = 1 });

	assert_int_equal(gm_region_publish(NULL, 0, hva, RW), -EINVAL);
	assert_error_has("region publish: no such piece");
	assert_int_equal(gm_region_publish(fake_gm(plain), 0, plain->buf, RW),
			 -EINVAL);
	assert_error_has("region publish: no such piece");
	assert_int_equal(gm_region_publish(fake_gm(f), NP, hva, RW), -EINVAL);
	assert_error_has("region publish: no such piece");
	assert_int_equal(gm_region_publish(fake_gm(f), UINT64_MAX, hva, RW),
			 -EINVAL);
	assert_error_has("region publish: no such piece");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, NULL, RW), -EINVAL);
	assert_error_has("address NULL or not page-aligned");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, hva + 1, RW),
			 -EINVAL);
	assert_error_has("address NULL or not page-aligned");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, hva + 2048, RW),
			 -EINVAL);
	assert_error_has("address NULL or not page-aligned");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, hva, 0), -EINVAL);
	assert_error_has("bad protection");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, hva, GM_PROT_WRITE),
			 -EINVAL);
	assert_error_has("bad protection");
	assert_int_equal(gm_region_publish(fake_gm(f), 0, hva, RW | 0x4),
			 -EINVAL);
	assert_error_has("bad protection");
	assert_int_equal(gm_region_publish(fake_gm(ro), 0, ro->buf, RW),
			 -EINVAL);
	assert_error_has("writable piece of a read-only region");
	/* Refused publications publish nothing: reads still map. */
	warm_up(fx->s, 1);
	m0 = map_calls(f);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 8, &v), 0);
	assert_int_equal(map_calls(f), m0 + 1);

	/* What is valid: a read-only publication of a read-only region, the
	 * short last piece. */
	assert_int_equal(fake_publish(ro, 0, GM_PROT_READ), 0);
	assert_int_equal(fake_publish(f, NP - 1, RW), 0);
	assert_int_equal(fake_publish(f, 0, RW), 0);

	/* Unpublishing another address leaves the piece published (reads
	 * make no map call). */
	assert_int_equal(gm_region_unpublish(fake_gm(f), 0, other), 0);
	assert_int_equal(gm_region_unpublish(fake_gm(f), 0, hva + 1), 0);
	assert_int_equal(gm_region_unpublish(fake_gm(f), 1, hva), 0);
	assert_int_equal(gm_region_unpublish(fake_gm(f), NP, hva), 0);
	assert_int_equal(gm_region_unpublish(fake_gm(f), UINT64_MAX, hva), 0);
	assert_int_equal(gm_region_unpublish(NULL, 0, hva), 0);
	assert_int_equal(gm_region_unpublish(fake_gm(plain), 0, plain->buf),
			 0);
	gm_region_synchronize(fake_gm(f));
	m0 = map_calls(f);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 8, &v), 0);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 12, &v), 0);
	assert_int_equal(map_calls(f), m0);

	/* The real one: 1, then 0. */
	assert_int_equal(fake_unpublish(f, 0), 1);
	assert_int_equal(gm_region_unpublish(fake_gm(f), 0, hva), 0);
	assert_int_equal(fake_unpublish(f, 0), 0);
	/* Any region. */
	gm_region_synchronize(NULL);

	assert_int_equal(gm_region_piece_used(NULL, 0), 0);
	assert_int_equal(gm_region_piece_used(fake_gm(f), NP), 0);
	assert_int_equal(gm_region_piece_used(fake_gm(f), UINT64_MAX), 0);
	assert_int_equal(gm_region_piece_used(fake_gm(plain), 0), 0);
	assert_int_equal(munmap(other, PSIZE), 0);
	assert_balanced(f);
}

/* ------------------------------------------------------------------ */
/* Hits without map calls                                              */
/* ------------------------------------------------------------------ */

/* Reads, writes, typed values and fills inside a published piece make no
 * map call and move the right bytes. */
static void test_piece_hits_without_map(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	uint8_t src[300], dst[PSIZE], want[8];
	const uint8_t *b = f->buf;
	unsigned long m0;
	uint64_t v64, i;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	pattern(f, 1);
	warm_up(fx->s, 2);
	assert_int_equal(fake_publish(f, 0, RW), 0);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	m0 = map_calls(f);

	/* Bytes: short, long, the whole piece. */
	assert_int_equal(gm_read(fx->s, F_GPA + 0x10, dst, 7), 0);
	assert_memory_equal(dst, b + 0x10, 7);
	assert_int_equal(gm_read(fx->s, F_GPA + 0x21, dst, 100), 0);
	assert_memory_equal(dst, b + 0x21, 100);
	assert_int_equal(gm_read(fx->s, F_GPA + PSIZE, dst, PSIZE), 0);
	assert_memory_equal(dst, b + PSIZE, PSIZE);
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0xa0 ^ i);
	assert_int_equal(gm_write(fx->s, F_GPA + 0x203, src, sizeof(src)), 0);
	assert_memory_equal(b + 0x203, src, sizeof(src));
	assert_int_equal(gm_write(fx->s, F_GPA + PSIZE + 5, src, 9), 0);
	assert_memory_equal(b + PSIZE + 5, src, 9);

	/* Typed values, host order and both byte orders, aligned or not. */
	assert_int_equal(gm_read_u8(fx->s, F_GPA + 0x31, &v8), 0);
	assert_int_equal(v8, b[0x31]);
	assert_int_equal(gm_read_u16(fx->s, F_GPA + 0x33, &v16), 0);
	assert_memory_equal(&v16, b + 0x33, 2);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 0x40, &v32), 0);
	assert_memory_equal(&v32, b + 0x40, 4);
	assert_int_equal(gm_read_u64(fx->s, F_GPA + PSIZE + 0x47, &v64), 0);
	assert_memory_equal(&v64, b + PSIZE + 0x47, 8);
	assert_int_equal(gm_read_le16(fx->s, F_GPA + 0x51, &v16), 0);
	assert_int_equal(v16, get_le(b + 0x51, 2));
	assert_int_equal(gm_read_le32(fx->s, F_GPA + 0x55, &v32), 0);
	assert_int_equal(v32, get_le(b + 0x55, 4));
	assert_int_equal(gm_read_le64(fx->s, F_GPA + 0x59, &v64), 0);
	assert_int_equal(v64, get_le(b + 0x59, 8));
	assert_int_equal(gm_read_be16(fx->s, F_GPA + 0x61, &v16), 0);
	assert_int_equal(v16, get_be(b + 0x61, 2));
	assert_int_equal(gm_read_be32(fx->s, F_GPA + 0x65, &v32), 0);
	assert_int_equal(v32, get_be(b + 0x65, 4));
	assert_int_equal(gm_read_be64(fx->s, F_GPA + 0x69, &v64), 0);
	assert_int_equal(v64, get_be(b + 0x69, 8));
	assert_int_equal(gm_write_u8(fx->s, F_GPA + 0x71, 0x5a), 0);
	assert_int_equal(b[0x71], 0x5a);
	assert_int_equal(gm_write_u16(fx->s, F_GPA + 0x73, 0x1234), 0);
	v16 = 0x1234;
	assert_memory_equal(b + 0x73, &v16, 2);
	assert_int_equal(gm_write_u32(fx->s, F_GPA + 0x78, 0xdeadbeef), 0);
	v32 = 0xdeadbeef;
	assert_memory_equal(b + 0x78, &v32, 4);
	assert_int_equal(gm_write_u64(fx->s, F_GPA + PSIZE + 0x81,
				      0x0102030405060708), 0);
	v64 = 0x0102030405060708;
	assert_memory_equal(b + PSIZE + 0x81, &v64, 8);
	assert_int_equal(gm_write_le32(fx->s, F_GPA + 0x91, 0x11223344), 0);
	assert_int_equal(get_le(b + 0x91, 4), 0x11223344);
	assert_int_equal(gm_write_be64(fx->s, F_GPA + 0x99,
				       0x8877665544332211), 0);
	assert_int_equal(get_be(b + 0x99, 8), 0x8877665544332211);
	assert_int_equal(gm_write_be16(fx->s, F_GPA + 0xa3, 0xabcd), 0);
	assert_int_equal(get_be(b + 0xa3, 2), 0xabcd);

	/* Fills, short and long, up to the piece's last byte. */
	assert_int_equal(gm_fill(fx->s, F_GPA + 0x800, 0xa5, 5), 0);
	assert_int_equal(gm_fill(fx->s, F_GPA + 0x900, 0x3c, PSIZE - 0x900),
			 0);
	assert_int_equal(gm_zero(fx->s, F_GPA + PSIZE + 0x10, 64), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(b[0x800 + i], 0xa5);
	assert_int_equal(b[0x805], (uint8_t)(0x805 * 13 + 8 + 1));
	for (i = 0x900; i < PSIZE; i++)
		assert_int_equal(b[i], 0x3c);
	for (i = 0; i < 64; i++)
		assert_int_equal(b[PSIZE + 0x10 + i], 0);
	assert_int_equal(map_calls(f), m0);

	/* The copies went to the fake's storage, which reads back through
	 * map once the pieces are taken back. */
	assert_int_equal(fake_unpublish(f, 0), 1);
	assert_int_equal(gm_read(fx->s, F_GPA + 0x78, want, 4), 0);
	v32 = 0xdeadbeef;
	assert_memory_equal(want, &v32, 4);
	assert_true(map_calls(f) > m0);
	assert_balanced(f);
}

/*
 * An access across two published pieces uses both without a map call (the
 * walk, common/range.c, takes one piece at a time); what no published piece
 * serves goes through map and still moves the right bytes: a piece not
 * published, and a write to a read-only publication, whose reads make no
 * map call.
 */
static void test_piece_misses_use_map(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	const uint8_t *b = f->buf;
	uint8_t dst[64], src[64];
	unsigned long m0;
	uint64_t v64;
	uint32_t v32;
	size_t i;

	pattern(f, 2);
	warm_up(fx->s, 2);
	assert_int_equal(fake_publish(f, 0, RW), 0);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	assert_int_equal(fake_publish(f, 3, GM_PROT_READ), 0);
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0x40 + i);

	/* Across pieces 0 and 1, both published. */
	m0 = map_calls(f);
	assert_int_equal(gm_read(fx->s, F_GPA + PSIZE - 20, dst, 40), 0);
	assert_memory_equal(dst, b + PSIZE - 20, 40);
	assert_int_equal(gm_read_u64(fx->s, F_GPA + PSIZE - 3, &v64), 0);
	assert_memory_equal(&v64, b + PSIZE - 3, 8);
	assert_int_equal(gm_write(fx->s, F_GPA + PSIZE - 7, src, 30), 0);
	assert_memory_equal(b + PSIZE - 7, src, 30);
	assert_int_equal(map_calls(f), m0);

	/* Into piece 2, not published, from both sides. */
	m0 = map_calls(f);
	assert_int_equal(gm_read(fx->s, F_GPA + 2 * PSIZE + 100, dst, 50), 0);
	assert_memory_equal(dst, b + 2 * PSIZE + 100, 50);
	assert_int_equal(gm_write_u32(fx->s, F_GPA + 2 * PSIZE + 8, 0xcafe),
			 0);
	v32 = 0xcafe;
	assert_memory_equal(b + 2 * PSIZE + 8, &v32, 4);
	assert_int_equal(gm_read(fx->s, F_GPA + 2 * PSIZE - 4, dst, 8), 0);
	assert_memory_equal(dst, b + 2 * PSIZE - 4, 8);
	assert_int_equal(gm_read(fx->s, F_GPA + 3 * PSIZE - 4, dst, 8), 0);
	assert_memory_equal(dst, b + 3 * PSIZE - 4, 8);
	assert_true(map_calls(f) >= m0 + 4);

	/* Piece 3, published read-only: reads hit, writes map. */
	m0 = map_calls(f);
	assert_int_equal(gm_read(fx->s, F_GPA + 3 * PSIZE + 9, dst, 33), 0);
	assert_memory_equal(dst, b + 3 * PSIZE + 9, 33);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 3 * PSIZE + 12, &v32), 0);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 3 * PSIZE + 16, &v32), 0);
	assert_memory_equal(&v32, b + 3 * PSIZE + 16, 4);
	assert_int_equal(map_calls(f), m0);
	assert_int_equal(gm_write_u32(fx->s, F_GPA + 3 * PSIZE + 16, 0xbeef),
			 0);
	assert_int_equal(map_calls(f), m0 + 1);
	assert_int_equal(atomic_load(&f->last_prot), GM_PROT_WRITE);
	assert_int_equal(gm_write(fx->s, F_GPA + 3 * PSIZE + 40, src, 20), 0);
	assert_int_equal(gm_fill(fx->s, F_GPA + 3 * PSIZE + 80, 0x77, 3), 0);
	assert_int_equal(map_calls(f), m0 + 3);
	v32 = 0xbeef;
	assert_memory_equal(b + 3 * PSIZE + 16, &v32, 4);
	assert_memory_equal(b + 3 * PSIZE + 40, src, 20);
	assert_memory_equal(b + 3 * PSIZE + 80, "\x77\x77\x77", 3);
	/* And reads see it, still without a map call. */
	m0 = map_calls(f);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 3 * PSIZE + 16, &v32), 0);
	assert_int_equal(v32, 0xbeef);
	assert_int_equal(map_calls(f), m0);
	assert_balanced(f);
}

/* gm_region_piece_used(): 1 once an accessor used the piece, then 0 until
 * the next use; other pieces stay 0. */
static void test_piece_used_mark(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	struct gm_region *r = fake_gm(f);
	unsigned long m0;
	uint32_t v;
	uint64_t i;

	warm_up(fx->s, 3);
	assert_int_equal(fake_publish(f, 0, RW), 0);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	for (i = 0; i < NP; i++)
		assert_int_equal(gm_region_piece_used(r, i), 0);
	m0 = map_calls(f);

	assert_int_equal(gm_read_u32(fx->s, F_GPA + 100, &v), 0);
	assert_int_equal(gm_region_piece_used(r, 0), 1);
	assert_int_equal(gm_region_piece_used(r, 0), 0);
	assert_int_equal(gm_region_piece_used(r, 1), 0);

	assert_int_equal(gm_write_u32(fx->s, F_GPA + PSIZE + 100, v), 0);
	assert_int_equal(gm_region_piece_used(r, 0), 0);
	assert_int_equal(gm_region_piece_used(r, 1), 1);
	assert_int_equal(gm_region_piece_used(r, 1), 0);

	assert_int_equal(gm_fill(fx->s, F_GPA + 8, 0, 100), 0);
	assert_int_equal(gm_region_piece_used(r, 0), 1);
	assert_int_equal(gm_region_piece_used(r, 0), 0);
	assert_int_equal(map_calls(f), m0);
	assert_balanced(f);
}

/*
 * A thread that keeps using a piece serves itself from its cached range
 * (after two accesses in a row, od_fill() in access.c), which leaves no
 * mark; every gm_region_synchronize() drops that range, so the next access
 * marks the piece again (backend.h, gm_region_piece_used()).  That is what
 * keeps CLOCK from taking a hot piece after an eviction.
 */
static void test_piece_used_after_synchronize(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	struct gm_region *r = fake_gm(f);
	unsigned long m0;
	uint32_t v;

	warm_up(fx->s, 3);
	assert_int_equal(fake_publish(f, 0, RW), 0);
	assert_int_equal(fake_publish(f, 2, RW), 0);
	m0 = map_calls(f);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 100, &v), 0);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 104, &v), 0);
	assert_int_equal(gm_region_piece_used(r, 0), 1);
	assert_int_equal(gm_region_piece_used(r, 0), 0);
	/* Cached now: no mark, by design, where the thread's cache is used
	 * (not where readers must fence: TSan, valgrind); clear it anyway. */
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 108, &v), 0);
	(void)gm_region_piece_used(r, 0);

	/* Another piece is evicted: the next access marks piece 0. */
	assert_int_equal(fake_unpublish(f, 2), 1);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 112, &v), 0);
	assert_int_equal(gm_region_piece_used(r, 0), 1);
	/* And again after the next synchronize, for a write. */
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 112, &v), 0);
	(void)gm_region_piece_used(r, 0);
	gm_region_synchronize(r);
	assert_int_equal(gm_write_u32(fx->s, F_GPA + 116, v), 0);
	assert_int_equal(gm_region_piece_used(r, 0), 1);
	assert_int_equal(map_calls(f), m0);
	assert_balanced(f);
}

/* gm_error_set(): the message gm_last_error() returns, even without one. */
static void test_error_set(void **state)
{
	char long_msg[600];

	(void)state;
	assert_int_equal(gm_error_set(-ENODEV, "backend %s: %d", "x", 7),
			 -ENODEV);
	assert_string_equal(gm_last_error(), "backend x: 7");
	assert_int_equal(gm_error_set(-EIO, NULL), -EIO);
	assert_string_equal(gm_last_error(), "error -5 (no message)");
	memset(long_msg, 'a', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	assert_int_equal(gm_error_set(-EINVAL, "%s", long_msg), -EINVAL);
	assert_true(strlen(gm_last_error()) < sizeof(long_msg) - 1);
	assert_int_equal(gm_last_error()[0], 'a');
}

/*
 * Atomics on a published piece use it without a map call, whether the
 * thread has the piece's range in its cache (after two accesses in a row
 * to the piece) or not; once it is unpublished, they map the value with
 * GM_MAP_WHOLE, as for any on-demand region.
 */
static void test_piece_atomics(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	const uint64_t gpa = F_GPA + PSIZE + 0x40;
	uint32_t v32, old, exp;
	unsigned long m0;
	uint64_t v64;

	pattern(f, 3);
	warm_up(fx->s, 3);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	memcpy(f->buf + PSIZE + 0x40, "\x01\x00\x00\x00", 4);

	/* Not cached: through the piece all the same. */
	m0 = map_calls(f);
	assert_int_equal(gm_atomic_fetch_add_u32(fx->s, gpa, 2, &old,
						 GM_SEQ_CST), 0);
	assert_int_equal(old, 1);
	assert_int_equal(map_calls(f), m0);

	/* Two reads in a row cache the piece's range: no map call. */
	assert_int_equal(gm_read_u32(fx->s, gpa, &v32), 0);
	assert_int_equal(gm_read_u32(fx->s, gpa, &v32), 0);
	assert_int_equal(v32, 3);
	m0 = map_calls(f);
	assert_int_equal(gm_atomic_load_u32(fx->s, gpa, &v32, GM_ACQUIRE), 0);
	assert_int_equal(v32, 3);
	assert_int_equal(gm_atomic_fetch_add_u32(fx->s, gpa, 4, &old,
						 GM_SEQ_CST), 0);
	assert_int_equal(old, 3);
	exp = 7;
	assert_int_equal(gm_atomic_cmpxchg_u32(fx->s, gpa, &exp, 9,
					       GM_SEQ_CST), 1);
	assert_int_equal(gm_atomic_store_u64(fx->s, gpa + 8, 0x55, GM_RELEASE),
			 0);
	assert_int_equal(map_calls(f), m0);
	memcpy(&v32, f->buf + PSIZE + 0x40, 4);
	assert_int_equal(v32, 9);
	memcpy(&v64, f->buf + PSIZE + 0x48, 8);
	assert_int_equal(v64, 0x55);

	/* Unpublished (which drops the cached range): through map. */
	assert_int_equal(fake_unpublish(f, 1), 1);
	m0 = map_calls(f);
	assert_int_equal(gm_atomic_fetch_add_u32(fx->s, gpa, 1, &old,
						 GM_SEQ_CST), 0);
	assert_int_equal(old, 9);
	assert_int_equal(map_calls(f), m0 + 1);
	assert_int_equal(atomic_load(&f->last_flags), GM_MAP_WHOLE);
	assert_balanced(f);
}

/* ------------------------------------------------------------------ */
/* A reader held inside a copy from a published piece                  */
/* ------------------------------------------------------------------ */

/*
 * The SIGSEGV handler: a fault on hold_page blocks until hold_release(),
 * then makes the page accessible again and returns, so that the faulting
 * instruction is retried.  Pipes, because read() and write() are safe in
 * a handler.  Any other fault gets the default action on the retry.
 */
static int hold_in[2] = { -1, -1 }, hold_go[2] = { -1, -1 };
static _Atomic uintptr_t hold_page;
static size_t hold_len;
static struct sigaction hold_saved;

static void hold_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t pg = atomic_load(&hold_page);
	uintptr_t a = (uintptr_t)si->si_addr;
	char c = 0;

	(void)uc;
	if (!pg || a - pg >= hold_len) {
		signal(sig, SIG_DFL);
		errno = saved;
		return;
	}
	atomic_store(&hold_page, 0);
	if (write(hold_in[1], &c, 1) != 1)
		signal(sig, SIG_DFL);
	while (read(hold_go[0], &c, 1) < 0 && errno == EINTR)
		;
	mprotect((void *)pg, hold_len, PROT_READ | PROT_WRITE);
	errno = saved;
}

/* Make the page of region offset @off fault, and hold the next thread
 * that touches it. */
static void hold_arm(struct fake_region *f, uint64_t off)
{
	struct sigaction sa;

	hold_len = (size_t)sysconf(_SC_PAGESIZE);
	assert_int_equal(pipe(hold_in), 0);
	assert_int_equal(pipe(hold_go), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = hold_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &hold_saved), 0);
	atomic_store(&hold_page, (uintptr_t)fake_hva(f, off) &
					 ~((uintptr_t)hold_len - 1));
	assert_int_equal(fake_revoke(f, off), 0);
}

/* Return once a thread is held. */
static void hold_wait(void)
{
	char c;

	assert_int_equal(read(hold_in[0], &c, 1), 1);
}

static void hold_release(void)
{
	char c = 0;

	assert_int_equal(write(hold_go[1], &c, 1), 1);
}

static void hold_disarm(void)
{
	int i;

	atomic_store(&hold_page, 0);
	sigaction(SIGSEGV, &hold_saved, NULL);
	for (i = 0; i < 2; i++) {
		close(hold_in[i]);
		close(hold_go[i]);
		hold_in[i] = hold_go[i] = -1;
	}
}

/*
 * The thread that takes a piece back: fake_unpublish() (unpublish, then
 * gm_region_synchronize()).  Its sched_yield() calls, which rcu.c makes
 * only between looks at a reader still inside a section, say that it
 * waits for one.
 */
static pthread_mutex_t sy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sy_cond = PTHREAD_COND_INITIALIZER;
static pthread_t sy_thread;
static int sy_set, sy_waiting, sy_done, sy_ret;
static struct fake_region *sy_region;
static uint64_t sy_piece;

int __real_sched_yield(void);
int __wrap_sched_yield(void);

int __wrap_sched_yield(void)
{
	pthread_mutex_lock(&sy_lock);
	if (sy_set && pthread_equal(pthread_self(), sy_thread)) {
		sy_waiting = 1;
		pthread_cond_broadcast(&sy_cond);
	}
	pthread_mutex_unlock(&sy_lock);
	return __real_sched_yield();
}

static void *sy_main(void *arg)
{
	int ret;

	(void)arg;
	pthread_mutex_lock(&sy_lock);
	sy_thread = pthread_self();
	sy_set = 1;
	pthread_mutex_unlock(&sy_lock);
	ret = fake_unpublish(sy_region, sy_piece);
	pthread_mutex_lock(&sy_lock);
	sy_set = 0;
	sy_ret = ret;
	sy_done = 1;
	pthread_cond_broadcast(&sy_cond);
	pthread_mutex_unlock(&sy_lock);
	return NULL;
}

/*
 * Start taking piece @piece of @f back in another thread, and return
 * whether it returned before it was seen waiting for a reader.
 */
static int sy_start(struct fake_region *f, uint64_t piece, pthread_t *t)
{
	int early;

	sy_region = f;
	sy_piece = piece;
	sy_set = sy_waiting = sy_done = 0;
	sy_ret = -1;
	assert_int_equal(pthread_create(t, NULL, sy_main, NULL), 0);
	pthread_mutex_lock(&sy_lock);
	while (!sy_waiting && !sy_done)
		pthread_cond_wait(&sy_cond, &sy_lock);
	early = sy_done;
	pthread_mutex_unlock(&sy_lock);
	return early;
}

/* Steps of a reader thread, set by the test. */
static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t st_cond = PTHREAD_COND_INITIALIZER;
static int st_step;

static void step_set(int n)
{
	pthread_mutex_lock(&st_lock);
	st_step = n;
	pthread_cond_broadcast(&st_cond);
	pthread_mutex_unlock(&st_lock);
}

static void step_wait(int n)
{
	pthread_mutex_lock(&st_lock);
	while (st_step < n)
		pthread_cond_wait(&st_cond, &st_lock);
	pthread_mutex_unlock(&st_lock);
}

struct reader {
	struct gm_space *s;
	struct fake_region *f;
	uint64_t gpa;
	uint32_t val[3];
	int ret[3];
	unsigned long calls[4]; /* map calls before each read, and after */
};

/* A warm reader (see warm_up()) that reads @gpa once. */
static void *held_reader(void *arg)
{
	struct reader *rd = arg;

	warm_up(rd->s, 2);
	rd->calls[0] = map_calls(rd->f);
	rd->ret[0] = gm_read_u32(rd->s, rd->gpa, &rd->val[0]);
	rd->calls[1] = map_calls(rd->f);
	return NULL;
}

/*
 * gm_region_synchronize() does not return while a reader is inside a
 * copy from the piece it unpublished, and returns once the reader is done.
 */
static void test_synchronize_waits_for_reader(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	struct reader rd = { .s = fx->s, .f = f, .gpa = F_GPA + PSIZE + 8 };
	pthread_t rt, st;
	uint32_t want;
	int early, done_while_held;

	pattern(f, 4);
	memcpy(&want, f->buf + PSIZE + 8, 4);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	alarm(ALARM_SECONDS);
	hold_arm(f, PSIZE);

	assert_int_equal(pthread_create(&rt, NULL, held_reader, &rd), 0);
	hold_wait();
	early = sy_start(f, 1, &st);
	pthread_mutex_lock(&sy_lock);
	done_while_held = sy_done;
	pthread_mutex_unlock(&sy_lock);
	hold_release();
	assert_int_equal(pthread_join(rt, NULL), 0);
	assert_int_equal(pthread_join(st, NULL), 0);
	hold_disarm();
	alarm(0);

	if (early || done_while_held)
		fail_msg("gm_region_synchronize() returned while a reader was "
			 "still copying from the piece it unpublished");
	assert_int_equal(sy_done, 1);
	assert_int_equal(sy_ret, 1);
	/* The held read used the piece, not a mapping, and finished. */
	assert_int_equal(rd.ret[0], 0);
	assert_int_equal(rd.val[0], want);
	assert_int_equal(rd.calls[1], rd.calls[0]);
	assert_balanced(f);
}

/* ------------------------------------------------------------------ */
/* Cached ranges of pieces                                             */
/* ------------------------------------------------------------------ */

/*
 * Two accesses in a row to a piece make the thread cache its range
 * (access.c); gm_region_synchronize() drops it: after the piece moves to
 * another buffer, reads see that buffer and writes go there, and with
 * nothing published, accesses map.
 */
static void test_synchronize_drops_cached_piece(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	uint8_t *a = fake_hva(f, PSIZE), *nb = page_buffer(PSIZE, 0xbb);
	const uint64_t gpa = F_GPA + PSIZE + 0x20;
	unsigned long m0;
	uint32_t v;

	memset(a, 0xaa, PSIZE);
	warm_up(fx->s, 0);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	m0 = map_calls(f);
	assert_int_equal(gm_read_u32(fx->s, gpa, &v), 0);
	assert_int_equal(gm_read_u32(fx->s, gpa, &v), 0);
	assert_int_equal(gm_read_u32(fx->s, gpa + 4, &v), 0);
	assert_int_equal(v, 0xaaaaaaaa);
	assert_int_equal(map_calls(f), m0);

	/* The piece moves to nb. */
	assert_int_equal(fake_unpublish(f, 1), 1);
	assert_int_equal(fake_publish_at(f, 1, nb, GM_PROT_READ), 0);
	assert_int_equal(gm_read_u32(fx->s, gpa, &v), 0);
	assert_int_equal(v, 0xbbbbbbbb);
	assert_int_equal(map_calls(f), m0);

	/* Writable and cached, then moved back: writes land in a. */
	assert_int_equal(fake_unpublish(f, 1), 1);
	assert_int_equal(fake_publish_at(f, 1, nb, RW), 0);
	assert_int_equal(gm_write_u32(fx->s, gpa, 0x11111111), 0);
	assert_int_equal(gm_write_u32(fx->s, gpa, 0x22222222), 0);
	assert_int_equal(gm_write_u32(fx->s, gpa + 4, 0x33333333), 0);
	assert_int_equal(map_calls(f), m0);
	assert_int_equal(fake_unpublish(f, 1), 1);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	assert_int_equal(gm_write_u32(fx->s, gpa + 4, 0x44444444), 0);
	memcpy(&v, nb + 0x24, 4);
	assert_int_equal(v, 0x33333333);
	memcpy(&v, a + 0x24, 4);
	assert_int_equal(v, 0x44444444);

	/* Cached again, then nothing published: through map. */
	assert_int_equal(gm_read_u32(fx->s, gpa, &v), 0);
	assert_int_equal(gm_read_u32(fx->s, gpa, &v), 0);
	assert_int_equal(map_calls(f), m0);
	assert_int_equal(fake_unpublish(f, 1), 1);
	assert_int_equal(gm_read_u32(fx->s, gpa + 4, &v), 0);
	assert_int_equal(v, 0x44444444);
	assert_int_equal(map_calls(f), m0 + 1);
	assert_int_equal(gm_write_u32(fx->s, gpa + 4, 0x55555555), 0);
	assert_int_equal(map_calls(f), m0 + 2);
	memcpy(&v, a + 0x24, 4);
	assert_int_equal(v, 0x55555555);
	assert_int_equal(munmap(nb, PSIZE), 0);
	assert_balanced(f);
}

/*
 * A cached range of a region's short last piece ends with the region: the
 * next region's bytes, right after it, are that region's, not what lies
 * after the piece's storage.
 */
static void test_cached_short_piece_ends_with_region(void **state)
{
	struct fixture *fx = *state;
	struct fake_config cfg = pieces_cfg();
	struct fake_region *f, *g;
	const uint64_t end = F_GPA + F_SIZE - PSIZE / 2;
	unsigned long m0;
	uint32_t v;

	cfg.size = F_SIZE - PSIZE / 2;
	f = fake_add(fx->s, cfg);
	g = fake_add(fx->s, (struct fake_config){ .gpa = end, .size = PSIZE,
						  .persistent = 1 });
	memset(f->buf, 0xaa, (size_t)cfg.size);
	/* What lies after the piece in the fake's page-rounded storage. */
	memset(f->buf + cfg.size, 0xee, PSIZE / 2);
	memset(g->buf, 0x66, PSIZE);
	warm_up(fx->s, 0);
	assert_int_equal(fake_publish(f, NP - 1, RW), 0);
	m0 = map_calls(f);
	assert_int_equal(gm_read_u32(fx->s, end - 8, &v), 0);
	assert_int_equal(gm_read_u32(fx->s, end - 4, &v), 0);
	assert_int_equal(v, 0xaaaaaaaa);
	assert_int_equal(map_calls(f), m0);
	assert_int_equal(gm_read_u32(fx->s, end, &v), 0);
	assert_int_equal(v, 0x66666666);
	assert_int_equal(gm_write_u32(fx->s, end + 4, 0x12345678), 0);
	memcpy(&v, g->buf + 4, 4);
	assert_int_equal(v, 0x12345678);
	memcpy(&v, f->buf + cfg.size + 4, 4);
	assert_int_equal(v, 0xeeeeeeee);
	assert_balanced(f);
}

/* Read @gpa three times: once to become the last piece used, once held
 * (its cache is filled when it is let go), once at step 2. */
static void *filling_reader(void *arg)
{
	struct reader *rd = arg;

	warm_up(rd->s, 2);
	rd->calls[0] = map_calls(rd->f);
	rd->ret[0] = gm_read_u32(rd->s, rd->gpa, &rd->val[0]);
	step_set(1);
	/* The test makes the page fault now. */
	step_wait(2);
	rd->calls[1] = map_calls(rd->f);
	rd->ret[1] = gm_read_u32(rd->s, rd->gpa, &rd->val[1]);
	step_wait(3);
	rd->calls[2] = map_calls(rd->f);
	rd->ret[2] = gm_read_u32(rd->s, rd->gpa, &rd->val[2]);
	rd->calls[3] = map_calls(rd->f);
	return NULL;
}

/*
 * A thread fills its cache with a piece's range while the piece is being
 * taken back: its second access in a row to the piece loaded the piece
 * before the unpublish and finishes during the synchronize, after the
 * synchronize dropped every cached range it found.  The thread must see
 * that the generation changed (od_fill()) and not keep the range: after
 * the piece moves to another buffer, its next read sees that buffer.
 */
static void test_cache_filled_during_synchronize(void **state)
{
	struct fixture *fx = *state;
	struct fake_region *f = fake_add(fx->s, pieces_cfg());
	struct reader rd = { .s = fx->s, .f = f, .gpa = F_GPA + PSIZE + 0x30 };
	uint8_t *nb = page_buffer(PSIZE, 0xbb);
	pthread_t rt, st;
	int early;

	memset(fake_hva(f, PSIZE), 0xaa, PSIZE);
	assert_int_equal(fake_publish(f, 1, GM_PROT_READ), 0);
	alarm(ALARM_SECONDS);
	step_set(0);
	assert_int_equal(pthread_create(&rt, NULL, filling_reader, &rd), 0);
	step_wait(1);
	hold_arm(f, PSIZE);
	step_set(2);
	hold_wait();
	early = sy_start(f, 1, &st);
	hold_release();
	assert_int_equal(pthread_join(st, NULL), 0);
	hold_disarm();
	assert_int_equal(fake_publish_at(f, 1, nb, GM_PROT_READ), 0);
	step_set(3);
	assert_int_equal(pthread_join(rt, NULL), 0);
	alarm(0);
	assert_int_equal(fake_unpublish(f, 1), 1);
	assert_int_equal(munmap(nb, PSIZE), 0);

	if (early)
		fail_msg("gm_region_synchronize() returned while a reader was "
			 "still copying from the piece it unpublished");
	assert_int_equal(sy_ret, 1);
	assert_int_equal(rd.ret[0], 0);
	assert_int_equal(rd.ret[1], 0);
	assert_int_equal(rd.ret[2], 0);
	assert_int_equal(rd.val[0], 0xaaaaaaaa);
	assert_int_equal(rd.val[1], 0xaaaaaaaa);
	assert_int_equal(rd.val[2], 0xbbbbbbbb);
	/* Every read used a piece. */
	assert_int_equal(rd.calls[3], rd.calls[0]);
	assert_balanced(f);
}

/* ------------------------------------------------------------------ */
/* A backend that publishes what it maps, and destroy                  */
/* ------------------------------------------------------------------ */

/*
 * cfg.publish_on_map, a cache in miniature: the first access to a piece
 * maps (and publishes) it, the next ones make no map call.  Removing the
 * region destroys it once the space is done with it; destroy unpublishes
 * every piece, which are freed after it (valgrind and ASan check).
 */
static void test_publish_on_map_and_destroy(void **state)
{
	struct fixture *fx = *state;
	struct fake_config cfg = pieces_cfg();
	struct fake_region *f;
	int destroyed = 0, unpublished = 0;
	unsigned long m0;
	uint8_t dst[32];
	uint32_t v;
	uint64_t i;

	cfg.publish_on_map = RW;
	cfg.destroyed = &destroyed;
	cfg.destroy_unpublished = &unpublished;
	f = fake_add(fx->s, cfg);
	pattern(f, 5);
	warm_up(fx->s, 0);
	m0 = map_calls(f);
	for (i = 0; i < NP; i++) {
		assert_int_equal(gm_read_u32(fx->s, F_GPA + i * PSIZE + 4, &v),
				 0);
		assert_memory_equal(&v, f->buf + i * PSIZE + 4, 4);
	}
	/* Piece 0 was published by the warm-up's map. */
	assert_int_equal(map_calls(f), m0 + NP - 1);
	m0 = map_calls(f);
	for (i = 0; i < NP; i++) {
		assert_int_equal(gm_write_u32(fx->s, F_GPA + i * PSIZE + 8,
					      (uint32_t)i), 0);
		assert_int_equal(gm_read(fx->s, F_GPA + i * PSIZE + 100, dst,
					 sizeof(dst)), 0);
		assert_memory_equal(dst, f->buf + i * PSIZE + 100,
				    sizeof(dst));
	}
	assert_int_equal(map_calls(f), m0);
	assert_int_equal(atomic_load(&f->publishes), NP);

	/* One piece taken back maps (and is published) again. */
	assert_int_equal(fake_unpublish(f, 2), 1);
	assert_int_equal(gm_read_u32(fx->s, F_GPA + 2 * PSIZE + 8, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(map_calls(f), m0 + 1);
	assert_int_equal(atomic_load(&f->publishes), NP + 1);
	assert_balanced(f);

	assert_int_equal(gm_space_remove_region(fx->s, F_GPA), 0);
	assert_int_equal(destroyed, 1);
	assert_int_equal(unpublished, NP);
	assert_no_violations();
}

/* A region with published pieces that never joined a space, and one
 * whose space goes away with it: destroy unpublishes, then the pieces are
 * freed. */
static void test_destroy_unpublishes(void **state)
{
	struct fixture *fx = *state;
	struct fake_config cfg = pieces_cfg();
	struct fake_region *f;
	struct gm_space *s;
	int destroyed = 0, unpublished = 0;
	uint32_t v;

	(void)fx;
	cfg.destroyed = &destroyed;
	cfg.destroy_unpublished = &unpublished;
	f = fake_new(cfg);
	assert_int_equal(fake_publish(f, 0, RW), 0);
	assert_int_equal(fake_publish(f, NP - 1, GM_PROT_READ), 0);
	gm_region_destroy(fake_gm(f));
	assert_int_equal(destroyed, 1);
	assert_int_equal(unpublished, 2);

	assert_int_equal(gm_space_new(&s, "vm-pieces", 0), 0);
	f = fake_add(s, cfg);
	assert_int_equal(fake_publish(f, 1, RW), 0);
	assert_int_equal(fake_publish(f, 2, RW), 0);
	assert_int_equal(fake_publish(f, 3, RW), 0);
	assert_int_equal(fake_unpublish(f, 3), 1);
	assert_int_equal(gm_read_u32(s, F_GPA + PSIZE, &v), 0);
	assert_int_equal(gm_read_u32(s, F_GPA + PSIZE, &v), 0);
	gm_space_free(s);
	assert_int_equal(destroyed, 2);
	assert_int_equal(unpublished, 4);
	assert_no_violations();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	static const struct CMUnitTest tests[] = {
		T(test_pieces_init_errors),
		T(test_publish_errors),
		T(test_piece_hits_without_map),
		T(test_piece_misses_use_map),
		T(test_piece_used_mark),
		T(test_piece_used_after_synchronize),
		T(test_error_set),
		T(test_piece_atomics),
		T(test_synchronize_waits_for_reader),
		T(test_synchronize_drops_cached_piece),
		T(test_cached_short_piece_ends_with_region),
		T(test_cache_filled_during_synchronize),
		T(test_publish_on_map_and_destroy),
		T(test_destroy_unpublishes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
