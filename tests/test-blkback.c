/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/xen-blkback's core (request.c) on the strict simulator: the
 * test plays the frontend, with io/ring.h's front-ring macros on the
 * guest's own memory (a ring page and data pages it grants us), and the
 * backend serves a memfd image.  Every test runs in both segment modes
 * (grant-list leases and grant copy) and checks the image against a
 * shadow copy of what it must hold, and that nothing but the ring stays
 * mapped after each request and nothing at all after detach.
 *
 * Covered: READ, WRITE and FLUSH round trips, sub-page segments, 11
 * segments, several requests per kick, the ring's slots and its 32-bit
 * indexes wrapping, a two-page ring, the event logic (rsp_event,
 * req_event), a read-only image, a table of hostile requests (each
 * answered with its id and the right status, the image untouched, a good
 * request served after it), a producer index that overruns the ring,
 * bad ring refs at attach, and a guest that rewrites a request after the
 * backend copied it.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "xen-fixture.h"
#include "test-util.h"

/* The frontend's barriers, for io/ring.h's front-ring macros (its
 * xen_mb() and friends are these unless __XEN_INTERFACE_VERSION__ says
 * otherwise). */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include "../examples/xen-blkback/blkback.h"

#define RING_GFN 1u	 /* the ring's first page (up to 2) */
#define DATA_GFN 64u	 /* data pages granted read-write */
#define NDATA 48u
#define RO_GFN 160u	 /* data pages granted read-only */
#define NRO 4u
#define IND_GFN 180u	 /* indirect descriptor pages, read-write */
#define IND_RO_GFN 190u	 /* one granted read-only */
#define IMG_SECTORS 4096u /* a 2 MiB image */
#define IMG_BYTES ((size_t)IMG_SECTORS * BLKBACK_SECTOR)
#define OTHER_DOM 6u	 /* another guest, whose refs start high */
#define OTHER_BASE 20000u
#define GRANTEE 7u	 /* a domain that is not us */

static struct {
	enum blkback_mode mode;
	int persistent;
	struct gm_xen *x;
	int fd;
	uint8_t *shadow; /* what the image must hold */
	struct blkback dev;
	struct blkif_front_ring front;
	struct blkif_sring *sring;
	uint32_t ring_ref[2];
	uint32_t data_ref; /* DATA_GFN + i is data_ref + i */
	uint32_t ro_ref;
	uint32_t ind_ref; /* IND_GFN + i is ind_ref + i */
	uint32_t ind_ro_ref;
	int attached;
} F;

/* The variants every test runs in: segment mode, persistent grants. */
struct variant {
	enum blkback_mode mode;
	int persistent;
};

static const struct variant lease = { BLKBACK_LEASE, 0 },
			    copy = { BLKBACK_COPY, 0 },
			    persist = { BLKBACK_LEASE, 1 };

/* The wrapped calls' hooks (see test_blkback_batch_limit and
 * test_blkback_copy_once); off unless a test arms them. */
static int refill_armed, rewrite_armed;

/* ---- the image ---- */

static void image_check(void)
{
	uint8_t *buf = malloc(IMG_BYTES);
	struct stat st;
	size_t i;

	/* Nothing written beyond the end either. */
	assert_int_equal(fstat(F.fd, &st), 0);
	assert_int_equal(st.st_size, IMG_BYTES);
	assert_non_null(buf);
	assert_int_equal(pread(F.fd, buf, IMG_BYTES, 0), (ssize_t)IMG_BYTES);
	if (!memcmp(buf, F.shadow, IMG_BYTES)) {
		free(buf);
		return;
	}
	for (i = 0; i < IMG_BYTES; i++)
		if (buf[i] != F.shadow[i]) {
			print_error("image byte %zu (sector %zu) is %#x, "
				    "expected %#x\n",
				    i, i / BLKBACK_SECTOR, buf[i],
				    F.shadow[i]);
			free(buf);
			fail();
		}
	free(buf);
}

/* ---- the guest's pages ---- */

static uint8_t *data_page(unsigned int i)
{
	assert_true(i < NDATA);
	return gframe(DATA_GFN + i, 0);
}

/* Fill data page @i with bytes derived from @seed. */
static void data_fill(unsigned int i, unsigned int seed)
{
	uint8_t *p = data_page(i);
	unsigned int o;

	for (o = 0; o < PAGE; o++)
		p[o] = (uint8_t)(seed * 31 + o * 7 + (o >> 9));
}

/* ---- the frontend ---- */

static void front_init(unsigned int pages, RING_IDX start)
{
	F.sring = (struct blkif_sring *)(void *)gframe(RING_GFN, 0);
	memset(F.sring, 0, (size_t)pages * PAGE);
	SHARED_RING_INIT(F.sring);
	FRONT_RING_INIT(&F.front, F.sring, (size_t)pages * PAGE);
	/* A ring whose indexes start anywhere, e.g. near 2^32. */
	F.sring->req_prod = F.sring->rsp_prod = start;
	F.front.req_prod_pvt = F.front.rsp_cons = start;
}

static struct blkif_request *fe_req(uint8_t op, uint64_t id, uint64_t sector)
{
	struct blkif_request *r =
		RING_GET_REQUEST(&F.front, F.front.req_prod_pvt);

	F.front.req_prod_pvt++;
	memset(r, 0, sizeof(*r));
	r->operation = op;
	r->id = id;
	r->sector_number = sector;
	r->handle = 0x5100;
	return r;
}

static void fe_seg(struct blkif_request *r, uint32_t ref, uint8_t first,
		   uint8_t last)
{
	struct blkif_request_segment *s = &r->seg[r->nr_segments++];

	s->gref = ref;
	s->first_sect = first;
	s->last_sect = last;
}

/* Publish the requests; whether the backend asked for an event. */
static int fe_push(void)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&F.front, notify);
	return notify;
}

static struct blkif_response fe_rsp(void)
{
	struct blkif_response r;

	assert_true(RING_HAS_UNCONSUMED_RESPONSES(&F.front));
	r = *RING_GET_RESPONSE(&F.front, F.front.rsp_cons);
	F.front.rsp_cons++;
	if (!RING_HAS_UNCONSUMED_RESPONSES(&F.front)) {
		int more;

		/* As a frontend does when it has seen every response: ask
		 * for an event at the next one (rsp_event). */
		RING_FINAL_CHECK_FOR_RESPONSES(&F.front, more);
		(void)more;
	}
	return r;
}

static void fe_expect(uint64_t id, uint8_t op, int16_t status)
{
	struct blkif_response r = fe_rsp();

	if (r.id != id || r.operation != op || r.status != status)
		print_error("response id %#" PRIx64 " op %u status %d, "
			    "expected id %#" PRIx64 " op %u status %d\n",
			    r.id, r.operation, r.status, id, op, status);
	assert_int_equal(r.id, id);
	assert_int_equal(r.operation, op);
	assert_int_equal(r.status, status);
}

static void expect_no_rsp(void)
{
	assert_false(RING_HAS_UNCONSUMED_RESPONSES(&F.front));
}

/* ---- the backend ---- */

static int process(void)
{
	int ret = blkback_process(&F.dev);

	assert_true(ret >= 0);
	return ret;
}

/*
 * Between requests only the ring is mapped, and no lease is held.  With
 * persistent grants the segments stay cached: nothing may pin them, so
 * that a purge unmaps them all.
 */
static void only_ring_mapped(void)
{
	struct xensim_counters c;

	if (F.dev.persistent)
		assert_int_equal(gm_xen_grant_list_purge(F.x, DOMID), 0);
	c = sim();
	assert_int_equal(c.grant.live_mappings, F.attached ? 1 : 0);
	assert_int_equal(xstats(F.x).mapped_bytes, 0);
	assert_int_equal(F.dev.count.leases, 0);
}

static void attach(unsigned int pages, RING_IDX start)
{
	front_init(pages, start);
	assert_int_equal(
		blkback_attach(&F.dev, F.ring_ref, pages, F.persistent), 0);
	assert_int_equal(F.dev.persistent, F.persistent);
	F.attached = 1;
}

static int setup_bb(void **state)
{
	uint32_t ref;

	if (setup(state))
		return -1;
	memset(&F, 0, sizeof(F));
	refill_armed = rewrite_armed = 0;
	F.mode = ((const struct variant *)*state)->mode;
	F.persistent = ((const struct variant *)*state)->persistent;
	F.x = xen_open(0, 0);
	F.fd = memfd_create("blkback-image", MFD_CLOEXEC);
	assert_true(F.fd >= 0);
	F.shadow = malloc(IMG_BYTES);
	assert_non_null(F.shadow);
	for (size_t i = 0; i < IMG_BYTES; i++)
		F.shadow[i] = (uint8_t)(i * 13 + (i >> 12));
	assert_int_equal(pwrite(F.fd, F.shadow, IMG_BYTES, 0),
			 (ssize_t)IMG_BYTES);
	F.ring_ref[0] = share(RING_GFN, 1, 1);
	F.ring_ref[1] = share(RING_GFN + 1, 1, 1);
	F.data_ref = share(DATA_GFN, NDATA, 1);
	F.ro_ref = share(RO_GFN, NRO, 0);
	F.ind_ref = share(IND_GFN, 2, 1);
	F.ind_ro_ref = share(IND_RO_GFN, 1, 0);
	/* Another guest, and a page of ours granted to someone else. */
	assert_int_equal(xensim_domain_create(OTHER_DOM, 16, XENSIM_DOM_HVM),
			 0);
	assert_int_equal(xensim_grant_set_base(OTHER_DOM, OTHER_BASE), 0);
	assert_int_equal(xensim_grant_share(OTHER_DOM, 0, 1, &ref), 0);
	assert_int_equal(ref, OTHER_BASE);
	assert_int_equal(blkback_init(&F.dev, F.x, DOMID, F.fd, IMG_SECTORS, 0,
				      F.mode),
			 0);
	return 0;
}

static int teardown_bb(void **state)
{
	blkback_fini(&F.dev);
	F.attached = 0;
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(xstats(F.x).mapped_bytes, 0);
	gm_xen_close(F.x);
	close(F.fd);
	free(F.shadow);
	return teardown(state);
}

/* ---- round trips ---- */

/* WRITE 11 whole pages, READ them back into other pages. */
static void test_blkback_rw_11_segments(void **state)
{
	const uint64_t sector = 64, id = 0x1234567890abcdefull;
	struct blkif_request *r;
	unsigned int i;

	(void)state;
	attach(1, 0);
	for (i = 0; i < 11; i++)
		data_fill(i, i + 1);
	r = fe_req(BLKIF_OP_WRITE, id, sector);
	for (i = 0; i < 11; i++)
		fe_seg(r, F.data_ref + i, 0, 7);
	assert_true(fe_push());
	assert_int_equal(process(), BLKBACK_NOTIFY);
	fe_expect(id, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	for (i = 0; i < 11; i++)
		memcpy(F.shadow + sector * 512 + i * PAGE, data_page(i), PAGE);
	image_check();
	only_ring_mapped();

	for (i = 0; i < 11; i++)
		memset(data_page(20 + i), 0xee, PAGE);
	r = fe_req(BLKIF_OP_READ, id + 1, sector);
	for (i = 0; i < 11; i++)
		fe_seg(r, F.data_ref + 20 + i, 0, 7);
	fe_push();
	assert_int_equal(process(), BLKBACK_NOTIFY);
	fe_expect(id + 1, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	for (i = 0; i < 11; i++)
		assert_memory_equal(data_page(20 + i),
				    F.shadow + sector * 512 + i * PAGE, PAGE);
	assert_int_equal(F.dev.count.requests, 2);
	assert_int_equal(F.dev.count.errors, 0);
	assert_int_equal(F.dev.count.segments, 22);
	only_ring_mapped();
	blkback_detach(&F.dev);
	F.attached = 0;
	only_ring_mapped();
}

/* Segments that are parts of pages: only those sectors move. */
static void test_blkback_subpage(void **state)
{
	const uint64_t sector = 1000;
	struct blkif_request *r;
	uint8_t before[PAGE];

	(void)state;
	attach(1, 0);
	data_fill(0, 3);
	data_fill(1, 4);
	data_fill(2, 5);
	/* Sectors 3..5 of page 0, 7 of page 1, 0..1 of page 2: six
	 * sectors, contiguous on the disk. */
	r = fe_req(BLKIF_OP_WRITE, 1, sector);
	fe_seg(r, F.data_ref + 0, 3, 5);
	fe_seg(r, F.data_ref + 1, 7, 7);
	fe_seg(r, F.data_ref + 2, 0, 1);
	fe_push();
	process();
	fe_expect(1, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	memcpy(F.shadow + sector * 512, data_page(0) + 3 * 512, 3 * 512);
	memcpy(F.shadow + (sector + 3) * 512, data_page(1) + 7 * 512, 512);
	memcpy(F.shadow + (sector + 4) * 512, data_page(2), 2 * 512);
	image_check();

	/* Read sectors 1001..1003 into sectors 6..7 of page 10 and 0 of
	 * page 11: the rest of those pages stays as it was. */
	memset(data_page(10), 0x5a, PAGE);
	memset(data_page(11), 0xa5, PAGE);
	memcpy(before, data_page(10), PAGE);
	r = fe_req(BLKIF_OP_READ, 2, sector + 1);
	fe_seg(r, F.data_ref + 10, 6, 7);
	fe_seg(r, F.data_ref + 11, 0, 0);
	fe_push();
	process();
	fe_expect(2, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_memory_equal(data_page(10), before, 6 * 512);
	assert_memory_equal(data_page(10) + 6 * 512,
			    F.shadow + (sector + 1) * 512, 2 * 512);
	assert_memory_equal(data_page(11), F.shadow + (sector + 3) * 512, 512);
	for (unsigned int o = 512; o < PAGE; o++)
		assert_int_equal(data_page(11)[o], 0xa5);
	assert_int_equal(F.dev.count.segments, 5);
	only_ring_mapped();
}

/* FLUSH alone, and a FLUSH carrying a write (a FUA write). */
static void test_blkback_flush(void **state)
{
	struct blkif_request *r;

	(void)state;
	attach(1, 0);
	fe_req(BLKIF_OP_FLUSH_DISKCACHE, 77, 0);
	fe_push();
	process();
	fe_expect(77, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);

	data_fill(5, 9);
	r = fe_req(BLKIF_OP_FLUSH_DISKCACHE, 78, 8);
	fe_seg(r, F.data_ref + 5, 0, 7);
	fe_push();
	process();
	fe_expect(78, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	memcpy(F.shadow + 8 * 512, data_page(5), PAGE);
	image_check();
	assert_int_equal(F.dev.count.errors, 0);
	only_ring_mapped();
}

/* A write to the disk only reads the guest's pages: read-only grants
 * (what Linux's blkfront gives for writes without persistent grants)
 * serve it. */
static void test_blkback_write_from_readonly_grant(void **state)
{
	struct blkif_request *r;
	unsigned int i;

	(void)state;
	attach(1, 0);
	for (i = 0; i < NRO; i++)
		memset(gframe(RO_GFN + i, 0), 0x71 + i, PAGE);
	r = fe_req(BLKIF_OP_WRITE, 9, 300);
	for (i = 0; i < NRO; i++)
		fe_seg(r, F.ro_ref + i, 0, 7);
	fe_push();
	process();
	fe_expect(9, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	for (i = 0; i < NRO; i++)
		memcpy(F.shadow + 300 * 512 + i * PAGE, gframe(RO_GFN + i, 0),
		       PAGE);
	image_check();
	only_ring_mapped();
}

/* A read-only image: reads work, writes (and flushes with data) fail. */
static void test_blkback_readonly_image(void **state)
{
	struct blkif_request *r;

	(void)state;
	blkback_fini(&F.dev);
	assert_int_equal(blkback_init(&F.dev, F.x, DOMID, F.fd, IMG_SECTORS, 1,
				      F.mode),
			 0);
	attach(1, 0);
	data_fill(0, 1);
	r = fe_req(BLKIF_OP_WRITE, 1, 0);
	fe_seg(r, F.data_ref, 0, 7);
	r = fe_req(BLKIF_OP_FLUSH_DISKCACHE, 2, 0);
	fe_seg(r, F.data_ref, 0, 7);
	r = fe_req(BLKIF_OP_READ, 3, 0);
	fe_seg(r, F.data_ref + 1, 0, 7);
	fe_push();
	process();
	fe_expect(1, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	fe_expect(2, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_ERROR);
	fe_expect(3, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_memory_equal(data_page(1), F.shadow, PAGE);
	image_check();
	only_ring_mapped();
}

/*
 * Many requests, a few per kick, more than the ring holds over time: the
 * slots wrap, and so do the 32-bit indexes when @start is near 2^32.
 */
static void run_many(unsigned int pages, RING_IDX start, unsigned int total)
{
	unsigned int sent = 0, done = 0, k;

	attach(pages, start);
	while (done < total) {
		unsigned int kick = 1 + sent % 5;

		for (k = 0; k < kick && sent < total; k++, sent++) {
			unsigned int pg = sent % NDATA;
			uint64_t sector = (sent * 8u) % (IMG_SECTORS - 8);
			struct blkif_request *r;

			data_fill(pg, sent);
			r = fe_req(BLKIF_OP_WRITE, 0x100000 + sent, sector);
			fe_seg(r, F.data_ref + pg, 0, 7);
			memcpy(F.shadow + sector * 512, data_page(pg), PAGE);
		}
		fe_push();
		assert_int_equal(process() & BLKBACK_MORE, 0);
		for (; done < sent; done++)
			fe_expect(0x100000 + done, BLKIF_OP_WRITE,
				  BLKIF_RSP_OKAY);
		expect_no_rsp();
		/* The backend asks for an event at the next request. */
		assert_int_equal(F.sring->req_event, F.front.req_prod_pvt + 1);
	}
	image_check();
	assert_int_equal(F.dev.count.requests, total);
	assert_true(total > F.dev.ring_size * 3);
	only_ring_mapped();
}

static void test_blkback_wrap(void **state)
{
	(void)state;
	run_many(1, 0, 3 * 32 + 7);
}

static void test_blkback_index_wrap(void **state)
{
	(void)state;
	run_many(1, UINT32_MAX - 40, 3 * 32 + 7);
}

static void test_blkback_two_page_ring(void **state)
{
	(void)state;
	run_many(2, UINT32_MAX - 70, 3 * 64 + 5);
	assert_int_equal(F.dev.ring_size, 64);
}

/* The event logic on both sides of the ring. */
static void test_blkback_notify(void **state)
{
	unsigned int i;

	(void)state;
	attach(1, 0);
	/* Nothing produced: nothing to do, nothing to say. */
	assert_int_equal(process(), 0);
	assert_int_equal(F.sring->req_event, 1);

	/* The frontend waits for the first response (rsp_event =
	 * rsp_cons + 1): notified. */
	F.sring->rsp_event = F.front.rsp_cons + 1;
	fe_req(BLKIF_OP_FLUSH_DISKCACHE, 1, 0);
	assert_true(fe_push()); /* req_event was 1: the backend asked */
	assert_int_equal(process(), BLKBACK_NOTIFY);
	fe_expect(1, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	assert_int_equal(F.sring->req_event, 2);

	/* The frontend is polling and asks for an event only after the
	 * 10th next response: three responses do not notify ... */
	F.sring->rsp_event = F.front.rsp_cons + 10;
	for (i = 0; i < 3; i++)
		fe_req(BLKIF_OP_FLUSH_DISKCACHE, 10 + i, 0);
	assert_true(fe_push());
	assert_int_equal(process(), 0);
	for (i = 0; i < 3; i++)
		fe_expect(10 + i, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	/* ... seven more, crossing the 10th, do. */
	for (i = 0; i < 7; i++)
		fe_req(BLKIF_OP_FLUSH_DISKCACHE, 20 + i, 0);
	fe_push();
	assert_int_equal(process(), BLKBACK_NOTIFY);
	for (i = 0; i < 7; i++)
		fe_rsp();

	/* An event asked for at a response already produced (rsp_event
	 * = rsp_prod) was given then: the next response does not notify. */
	F.sring->rsp_event = F.front.rsp_cons;
	fe_req(BLKIF_OP_FLUSH_DISKCACHE, 29, 0);
	fe_push();
	assert_int_equal(process(), 0);
	fe_expect(29, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);

	/* A request the frontend publishes without an event (req_event
	 * not reached) is still served by the next call. */
	F.sring->req_event = F.front.req_prod_pvt + 5;
	fe_req(BLKIF_OP_FLUSH_DISKCACHE, 30, 0);
	assert_false(fe_push());
	F.sring->rsp_event = F.front.rsp_cons + 1;
	assert_int_equal(process(), BLKBACK_NOTIFY);
	fe_expect(30, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	assert_int_equal(F.sring->req_event, F.front.req_prod_pvt + 1);
	only_ring_mapped();
}

/*
 * A frontend that keeps producing while the backend serves (it takes
 * each response as soon as it is pushed and refills the slot: fdatasync
 * is wrapped to play it): one call serves BLKBACK_BATCH requests, then
 * returns BLKBACK_MORE instead of serving for ever.
 */
#define BATCH_TOTAL (BLKBACK_BATCH + 40)
static unsigned int refill_sent, refill_done;

static void refill(void)
{
	while (RING_HAS_UNCONSUMED_RESPONSES(&F.front)) {
		struct blkif_response r = fe_rsp();

		assert_int_equal(r.id, refill_done);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
		refill_done++;
	}
	while (refill_sent < BATCH_TOTAL && !RING_FULL(&F.front)) {
		fe_req(BLKIF_OP_FLUSH_DISKCACHE, refill_sent, 0);
		refill_sent++;
	}
	fe_push();
}

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

int __wrap_fdatasync(int fd)
{
	if (refill_armed)
		refill();
	return __real_fdatasync(fd);
}

static void test_blkback_batch_limit(void **state)
{
	(void)state;
	attach(1, 0);
	refill_sent = refill_done = 0;
	refill();
	refill_armed = 1;
	assert_int_equal(process() & BLKBACK_MORE, BLKBACK_MORE);
	assert_int_equal(F.dev.count.requests, BLKBACK_BATCH);
	/* The rest, with the frontend still producing, then without. */
	while (process() & BLKBACK_MORE)
		;
	refill_armed = 0;
	refill();
	assert_int_equal(refill_sent, BATCH_TOTAL);
	assert_int_equal(refill_done, BATCH_TOTAL);
	assert_int_equal(F.dev.count.requests, BATCH_TOTAL);
	only_ring_mapped();
}

/* ---- hostile requests ---- */

enum refs_kind {
	REFS_GOOD,	 /* our read-write data pages */
	REFS_RO,	 /* read-only grants */
	REFS_UNUSED,	 /* a ref the guest never granted */
	REFS_BEYOND,	 /* beyond the grant table */
	REFS_GRANTEE,	 /* granted to another domain than us */
	REFS_OTHER_DOM,	 /* another domain's ref, not this one's */
	REFS_LAST_BAD,	 /* ten good ones, then an unused one */
	REFS_MIDDLE_BAD, /* good, unused, good */
};

struct hostile {
	const char *what;
	uint8_t op;
	unsigned int nseg; /* nr_segments as written (up to 255) */
	uint64_t sector;
	enum refs_kind refs;
	uint8_t first, last; /* of the last segment; the others are whole
			      * pages (0, 7) */
	int16_t status;
};

#define H_ERR BLKIF_RSP_ERROR
#define H_NOTSUP BLKIF_RSP_EOPNOTSUPP
#define W BLKIF_OP_WRITE
#define R BLKIF_OP_READ
#define FL BLKIF_OP_FLUSH_DISKCACHE

static const struct hostile hostile[] = {
	{ "unknown op", 0xff, 1, 0, REFS_GOOD, 0, 7, H_NOTSUP },
	{ "reserved op", BLKIF_OP_RESERVED_1, 1, 0, REFS_GOOD, 0, 7,
	  H_NOTSUP },
	{ "barrier, not advertised", BLKIF_OP_WRITE_BARRIER, 1, 0, REFS_GOOD,
	  0, 7, H_NOTSUP },
	{ "discard, not advertised", BLKIF_OP_DISCARD, 0, 0, REFS_GOOD, 0, 0,
	  H_NOTSUP },
	{ "write, 0 segments", W, 0, 0, REFS_GOOD, 0, 7, H_ERR },
	{ "read, 0 segments", R, 0, 0, REFS_GOOD, 0, 7, H_ERR },
	{ "write, 12 segments", W, 12, 0, REFS_GOOD, 0, 7, H_ERR },
	{ "read, 255 segments", R, 255, 0, REFS_GOOD, 0, 7, H_ERR },
	{ "flush, 12 segments", FL, 12, 0, REFS_GOOD, 0, 7, H_ERR },
	{ "first_sect > last_sect", W, 2, 0, REFS_GOOD, 5, 3, H_ERR },
	{ "first_sect = last_sect + 1", W, 2, 0, REFS_GOOD, 1, 0, H_ERR },
	{ "read, first_sect = last_sect + 1", R, 2, 0, REFS_GOOD, 1, 0,
	  H_ERR },
	{ "last_sect 8", W, 1, 0, REFS_GOOD, 0, 8, H_ERR },
	{ "last_sect 255", R, 1, 0, REFS_GOOD, 255, 255, H_ERR },
	{ "sector at the end", W, 1, IMG_SECTORS, REFS_GOOD, 0, 0, H_ERR },
	{ "straddling the end", W, 2, IMG_SECTORS - 15, REFS_GOOD, 0, 7,
	  H_ERR },
	{ "read straddling the end", R, 1, IMG_SECTORS - 1, REFS_GOOD, 0, 1,
	  H_ERR },
	{ "sector near 2^64", W, 1, UINT64_MAX - 3, REFS_GOOD, 0, 7, H_ERR },
	{ "sector * 512 wraps", W, 1, (UINT64_MAX >> 9) + 1, REFS_GOOD, 0, 0,
	  H_ERR },
	{ "unused ref", W, 1, 0, REFS_UNUSED, 0, 7, H_ERR },
	{ "read, unused ref", R, 1, 0, REFS_UNUSED, 0, 7, H_ERR },
	{ "ref beyond the table", W, 1, 0, REFS_BEYOND, 0, 7, H_ERR },
	{ "ref granted to another domain", W, 1, 0, REFS_GRANTEE, 0, 7,
	  H_ERR },
	{ "another domain's ref", R, 1, 0, REFS_OTHER_DOM, 0, 7, H_ERR },
	{ "read into a read-only grant", R, 2, 0, REFS_RO, 0, 7, H_ERR },
	{ "11 segments, the last bad", W, 11, 0, REFS_LAST_BAD, 0, 7, H_ERR },
	{ "read, a bad ref in the middle", R, 3, 0, REFS_MIDDLE_BAD, 0, 7,
	  H_ERR },
};

static uint32_t hostile_ref(enum refs_kind k, unsigned int i)
{
	switch (k) {
	case REFS_GOOD:
		return F.data_ref + i;
	case REFS_RO:
		return F.ro_ref + i % NRO;
	case REFS_UNUSED:
		return 12345;
	case REFS_BEYOND:
		return XENSIM_GNTTAB_ENTRIES + 5;
	case REFS_GRANTEE: {
		uint32_t ref;

		assert_int_equal(xensim_grant_share_to(DOMID, GRANTEE,
						       DATA_GFN + 40, 1, &ref),
				 0);
		return ref;
	}
	case REFS_OTHER_DOM:
		return OTHER_BASE;
	case REFS_LAST_BAD:
		return i == 10 ? 12345 : F.data_ref + i;
	case REFS_MIDDLE_BAD:
		return i == 1 ? 12345 : F.data_ref + i;
	}
	return 0;
}

static void test_blkback_hostile(void **state)
{
	unsigned int row, i, good = 0;
	uint8_t ro_before[NRO][PAGE];

	(void)state;
	attach(1, 0);
	for (i = 0; i < NRO; i++) {
		memset(gframe(RO_GFN + i, 0), 0x3c + i, PAGE);
		memcpy(ro_before[i], gframe(RO_GFN + i, 0), PAGE);
	}
	for (i = 0; i < 11; i++)
		data_fill(i, 100 + i);
	for (row = 0; row < sizeof(hostile) / sizeof(hostile[0]); row++) {
		const struct hostile *h = &hostile[row];
		uint64_t id = 0xbad0000000000000ull | row;
		struct blkif_request *r = fe_req(h->op, id, h->sector);
		struct blkif_request *g;

		for (i = 0; i < h->nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST;
		     i++) {
			int last = i + 1 == h->nseg;

			fe_seg(r, hostile_ref(h->refs, i), last ? h->first : 0,
			       last ? h->last : 7);
		}
		r->nr_segments = (uint8_t)h->nseg;
		/* A good request after it, in the same kick. */
		g = fe_req(BLKIF_OP_WRITE, 0x600d0000 + row, 16 + row * 8);
		data_fill(30, row);
		fe_seg(g, F.data_ref + 30, 0, 7);
		memcpy(F.shadow + (16 + row * 8) * 512, data_page(30), PAGE);
		fe_push();
		assert_int_equal(process(), BLKBACK_NOTIFY);

		print_message("  row %u: %s\n", row, h->what);
		fe_expect(id, h->op, h->status);
		fe_expect(0x600d0000 + row, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
		good++;
		expect_no_rsp();
		image_check();
		for (i = 0; i < NRO; i++)
			assert_memory_equal(gframe(RO_GFN + i, 0),
					    ro_before[i], PAGE);
		only_ring_mapped();
	}
	assert_int_equal(F.dev.count.errors, row);
	assert_int_equal(F.dev.count.requests, row + good);
	assert_false(F.dev.broken);
}

/* ---- a broken ring ---- */

static void test_blkback_overrun(void **state)
{
	RING_IDX rsp_prod;

	(void)state;
	attach(1, 0);
	data_fill(0, 1);
	fe_req(BLKIF_OP_FLUSH_DISKCACHE, 1, 0);
	fe_push();
	process();
	fe_expect(1, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);

	/* The producer runs a ring and one ahead of the consumer. */
	rsp_prod = F.sring->rsp_prod;
	F.sring->req_prod = F.front.req_prod_pvt + F.dev.ring_size + 1;
	assert_int_equal(blkback_process(&F.dev), -EPROTO);
	assert_true(F.dev.broken);
	assert_non_null(strstr(F.dev.why, "overran"));
	/* Nothing was served, and it stays so. */
	assert_int_equal(F.sring->rsp_prod, rsp_prod);
	assert_int_equal(F.dev.count.requests, 1);
	assert_int_equal(blkback_process(&F.dev), -EPROTO);
	assert_int_equal(F.dev.count.requests, 1);
	image_check();
	only_ring_mapped();
	blkback_detach(&F.dev);
	F.attached = 0;
	only_ring_mapped();
	assert_int_equal(blkback_process(&F.dev), -ENOTCONN);
}

/* A producer index behind the consumer is as far ahead as it gets. */
static void test_blkback_producer_backwards(void **state)
{
	(void)state;
	attach(1, 100);
	F.sring->req_prod = 99;
	assert_int_equal(blkback_process(&F.dev), -EPROTO);
	assert_int_equal(F.dev.count.requests, 0);
	only_ring_mapped();
}

/* Exactly a ring's worth is fine. */
static void test_blkback_full_ring(void **state)
{
	unsigned int i;

	(void)state;
	attach(1, 5);
	for (i = 0; i < F.dev.ring_size; i++)
		fe_req(BLKIF_OP_FLUSH_DISKCACHE, i, 0);
	assert_true(RING_FULL(&F.front));
	fe_push();
	process();
	for (i = 0; i < F.dev.ring_size; i++)
		fe_expect(i, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	assert_false(F.dev.broken);
}

/* Attach refuses bad refs and inconsistent indexes, mapping nothing. */
static void test_blkback_attach_errors(void **state)
{
	uint32_t bad[2] = { 12345, 12346 }, ro[1] = { F.ro_ref };

	(void)state;
	front_init(1, 0);
	assert_int_equal(blkback_attach(&F.dev, bad, 1, 0), -EINVAL);
	assert_int_equal(blkback_attach(&F.dev, ro, 1, 0), -EINVAL);
	assert_int_equal(blkback_attach(&F.dev, F.ring_ref, 3, 0), -EINVAL);
	assert_int_equal(blkback_attach(&F.dev, F.ring_ref, 0, 0), -EINVAL);
	assert_int_equal(blkback_attach(&F.dev, F.ring_ref, 8, 0), -EINVAL);
	F.sring->req_prod = F.sring->rsp_prod + 33;
	assert_int_equal(blkback_attach(&F.dev, F.ring_ref, 1, 0), -EPROTO);
	only_ring_mapped();
	assert_int_equal(blkback_process(&F.dev), -ENOTCONN);
	F.sring->req_prod = F.sring->rsp_prod + 32;
	assert_int_equal(blkback_attach(&F.dev, F.ring_ref, 1, 0), 0);
	F.attached = 1;
	assert_int_equal(blkback_attach(&F.dev, F.ring_ref, 1, 0), -EINVAL);
	only_ring_mapped();
}

/* ---- copy once ---- */

/*
 * The guest rewrites the request's slot while the backend does the I/O
 * (after it copied and validated the request): --wrap=preadv/pwritev
 * call this first.  What the backend does must not change.
 */
static uint64_t rewrite_slot;

static void rewrite_request(void)
{
	struct blkif_request *r;

	if (!rewrite_armed)
		return;
	rewrite_armed = 0;
	r = RING_GET_REQUEST(&F.front, rewrite_slot);
	/* And the descriptors of an indirect request. */
	memset(gframe(IND_GFN, 0), 0xff, PAGE);
	r->operation = 0xff;
	r->nr_segments = 255;
	r->id = 0xdead;
	r->sector_number = UINT64_MAX;
	for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r->seg[i].gref = 12345;
		r->seg[i].first_sect = 7;
		r->seg[i].last_sect = 0;
	}
}

ssize_t __real_preadv(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __real_pwritev(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __wrap_preadv(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off);

ssize_t __wrap_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	rewrite_request();
	return __real_preadv(fd, iov, n, off);
}

ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	rewrite_request();
	return __real_pwritev(fd, iov, n, off);
}

static void test_blkback_copy_once(void **state)
{
	struct blkif_request *r;
	unsigned int i;

	(void)state;
	attach(1, 0);
	for (i = 0; i < 4; i++)
		data_fill(i, 50 + i);
	rewrite_slot = F.front.req_prod_pvt;
	r = fe_req(BLKIF_OP_WRITE, 4242, 200);
	for (i = 0; i < 4; i++)
		fe_seg(r, F.data_ref + i, 0, 7);
	fe_push();
	rewrite_armed = 1;
	process();
	assert_int_equal(rewrite_armed, 0); /* the guest did rewrite it */
	fe_expect(4242, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	for (i = 0; i < 4; i++)
		memcpy(F.shadow + 200 * 512 + i * PAGE, data_page(i), PAGE);
	image_check();

	rewrite_slot = F.front.req_prod_pvt;
	r = fe_req(BLKIF_OP_READ, 4243, 200);
	for (i = 0; i < 2; i++)
		fe_seg(r, F.data_ref + 10 + i, 0, 7);
	fe_push();
	rewrite_armed = 1;
	process();
	assert_int_equal(rewrite_armed, 0);
	fe_expect(4243, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_memory_equal(data_page(10), F.shadow + 200 * 512, 2 * PAGE);
	assert_int_equal(F.dev.count.errors, 0);
	only_ring_mapped();
}

/* ---- indirect requests ---- */

/* The descriptor page @p (0: IND_GFN) of indirect requests. */
static struct blkif_request_segment *ind_segs(unsigned int p)
{
	return (struct blkif_request_segment *)(void *)gframe(IND_GFN + p, 0);
}

static void ind_seg(unsigned int i, uint32_t ref, uint8_t first,
		    uint8_t last)
{
	struct blkif_request_segment *s = &ind_segs(0)[i];

	s->gref = ref;
	s->first_sect = first;
	s->last_sect = last;
}

/* An indirect request whose descriptors are in @iref's page. */
static struct blkif_request_indirect *fe_ind(uint8_t op, unsigned int nseg,
					     uint64_t id, uint64_t sector,
					     uint32_t iref)
{
	struct blkif_request_indirect *r =
		(struct blkif_request_indirect *)(void *)fe_req(
			BLKIF_OP_INDIRECT, id, sector);

	memset(r, 0, sizeof(struct blkif_request));
	r->operation = BLKIF_OP_INDIRECT;
	r->indirect_op = op;
	r->nr_segments = (uint16_t)nseg;
	r->id = id;
	r->sector_number = sector;
	r->indirect_grefs[0] = iref;
	return r;
}

/* WRITE 200 segments (sub-page ones among them) through one indirect
 * request, READ 40 of them back through another. */
static void test_blkback_indirect(void **state)
{
	const uint64_t sector = 512;
	uint64_t at = sector;
	unsigned int i;

	(void)state;
	attach(1, 0);
	for (i = 0; i < 40; i++)
		data_fill(i, 200 + i);
	for (i = 0; i < 200; i++) {
		unsigned int first = i % 3, last = 7 - i % 2;

		ind_seg(i, F.data_ref + i % 40, (uint8_t)first, (uint8_t)last);
		memcpy(F.shadow + at * 512, data_page(i % 40) + first * 512,
		       (last - first + 1) * 512);
		at += last - first + 1;
	}
	fe_ind(BLKIF_OP_WRITE, 200, 1, sector, F.ind_ref);
	fe_push();
	process();
	fe_expect(1, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	image_check();
	only_ring_mapped();

	for (i = 0; i < 40; i++) {
		memset(data_page(i), 0, PAGE);
		ind_seg(i, F.data_ref + i, 0, 7);
	}
	fe_ind(BLKIF_OP_READ, 40, 2, sector, F.ind_ref);
	fe_push();
	process();
	fe_expect(2, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	for (i = 0; i < 40; i++)
		assert_memory_equal(data_page(i),
				    F.shadow + (sector + i * 8) * 512, PAGE);
	/* The most segments, and descriptors granted read-only. */
	for (i = 0; i < BLKBACK_MAX_INDIRECT_SEGMENTS; i++)
		ind_seg(i, F.data_ref + i % NDATA, 0, 7);
	memcpy(gframe(IND_RO_GFN, 0), ind_segs(0), PAGE);
	fe_ind(BLKIF_OP_READ, BLKBACK_MAX_INDIRECT_SEGMENTS, 3, 0,
	       F.ind_ro_ref);
	fe_push();
	process();
	fe_expect(3, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_int_equal(F.dev.count.segments,
			 240 + BLKBACK_MAX_INDIRECT_SEGMENTS);
	assert_int_equal(F.dev.count.errors, 0);
	only_ring_mapped();
}

struct ind_hostile {
	const char *what;
	uint8_t op;	   /* indirect_op */
	unsigned int nseg; /* nr_segments (16 bits) */
	uint64_t sector;
	int bad_iref;	 /* the descriptor page's ref is unused */
	unsigned int bad_at; /* descriptor with a flaw, or ~0u */
	enum refs_kind refs; /* of that descriptor */
	uint8_t first, last; /* of that descriptor */
};

static const struct ind_hostile ind_hostile[] = {
	{ "indirect_op unknown", 0xff, 8, 0, 0, ~0u, REFS_GOOD, 0, 7 },
	{ "indirect_op flush", BLKIF_OP_FLUSH_DISKCACHE, 8, 0, 0, ~0u,
	  REFS_GOOD, 0, 7 },
	{ "indirect_op indirect", BLKIF_OP_INDIRECT, 8, 0, 0, ~0u, REFS_GOOD,
	  0, 7 },
	{ "0 segments", W, 0, 0, 0, ~0u, REFS_GOOD, 0, 7 },
	{ "257 segments", W, BLKBACK_MAX_INDIRECT_SEGMENTS + 1, 0, 0, ~0u,
	  REFS_GOOD, 0, 7 },
	{ "65535 segments", R, 65535, 0, 0, ~0u, REFS_GOOD, 0, 7 },
	{ "unused descriptor page ref", W, 8, 0, 1, ~0u, REFS_GOOD, 0, 7 },
	{ "last_sect 8 in descriptor 100", W, 200, 0, 0, 100, REFS_GOOD, 0,
	  8 },
	{ "first > last in the last descriptor", R, 200, 0, 0, 199,
	  REFS_GOOD, 4, 3 },
	{ "unused data ref in descriptor 150", W, 200, 0, 0, 150, REFS_UNUSED,
	  0, 7 },
	{ "read into a read-only grant", R, 20, 0, 0, 10, REFS_RO, 0, 7 },
	{ "past the end", W, 200, IMG_SECTORS - 1599, 0, ~0u, REFS_GOOD, 0,
	  7 },
	{ "sector near 2^64", W, 2, UINT64_MAX - 8, 0, ~0u, REFS_GOOD, 0, 7 },
};

static void test_blkback_indirect_hostile(void **state)
{
	unsigned int row, i;

	(void)state;
	attach(1, 0);
	for (row = 0; row < sizeof(ind_hostile) / sizeof(ind_hostile[0]);
	     row++) {
		const struct ind_hostile *h = &ind_hostile[row];
		uint64_t id = 0x1bad000000000000ull | row;
		struct blkif_request *g;

		for (i = 0; i < BLKBACK_MAX_INDIRECT_SEGMENTS; i++)
			ind_seg(i, F.data_ref + i % NDATA, 0, 7);
		if (h->bad_at != ~0u)
			ind_seg(h->bad_at, hostile_ref(h->refs, 0), h->first,
				h->last);
		fe_ind(h->op, h->nseg, id, h->sector,
		       h->bad_iref ? 12345 : F.ind_ref);
		g = fe_req(BLKIF_OP_WRITE, 0x600d0000 + row, 16 + row * 8);
		data_fill(47, row);
		fe_seg(g, F.data_ref + 47, 0, 7);
		memcpy(F.shadow + (16 + row * 8) * 512, data_page(47), PAGE);
		fe_push();
		process();
		print_message("  row %u: %s\n", row, h->what);
		/* Answered with its indirect_op, whatever it is. */
		fe_expect(id, h->op, BLKIF_RSP_ERROR);
		fe_expect(0x600d0000 + row, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
		expect_no_rsp();
		image_check();
		only_ring_mapped();
	}
	assert_int_equal(F.dev.count.errors, row);
	assert_false(F.dev.broken);
}

/* The guest rewrites an indirect request's descriptors while the backend
 * does its I/O: it served the copy it made. */
static void test_blkback_indirect_copy_once(void **state)
{
	unsigned int i;

	(void)state;
	attach(1, 0);
	for (i = 0; i < 20; i++) {
		data_fill(i, 300 + i);
		ind_seg(i, F.data_ref + i, 0, 7);
		memcpy(F.shadow + (1024 + i * 8) * 512, data_page(i), PAGE);
	}
	rewrite_slot = F.front.req_prod_pvt;
	fe_ind(BLKIF_OP_WRITE, 20, 77, 1024, F.ind_ref);
	fe_push();
	rewrite_armed = 1;
	process();
	assert_int_equal(rewrite_armed, 0);
	assert_int_equal(ind_segs(0)[0].gref, 0xffffffffu); /* rewritten */
	fe_expect(77, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	image_check();
	only_ring_mapped();
}

/*
 * A frontend that reuses a pool of 16 grants for 60 reads and writes, as
 * Linux's blkfront does with feature-persistent: the data is right in
 * every variant; with persistent grants each ref is mapped at most twice
 * (read-only for a write to the disk, then writable for a read), and
 * stays mapped until detach purges it; without, leases map every request
 * and grant copy maps nothing.
 */
#define POOL 16u
#define POOL_REQS 60u

static uint64_t segment_map_calls(void)
{
	struct xensim_counters c = sim();

	return c.calls[XENSIM_FN_GNT_MAP_DOMAIN_GRANT_REFS] +
	       c.calls[XENSIM_FN_GNT_MAP_GRANT_REF] +
	       c.calls[XENSIM_FN_GNT_MAP_GRANT_REFS];
}

static void test_blkback_pool_reuse(void **state)
{
	uint64_t calls;
	unsigned int k, i;

	(void)state;
	attach(1, 0);
	calls = segment_map_calls();
	for (k = 0; k < POOL_REQS; k++) {
		uint8_t op = k % 3 == 2 ? BLKIF_OP_READ : BLKIF_OP_WRITE;
		unsigned int nseg = 1 + k % 4;
		uint64_t sector = (k * 5 * 8) % (IMG_SECTORS - 32);
		struct blkif_request *r = fe_req(op, k, sector);

		for (i = 0; i < nseg; i++) {
			unsigned int pg = (k * 3 + i) % POOL;

			if (op == BLKIF_OP_WRITE) {
				data_fill(pg, k * 16 + i);
				memcpy(F.shadow + sector * 512 + i * PAGE,
				       data_page(pg), PAGE);
			} else {
				memset(data_page(pg), 0, PAGE);
			}
			fe_seg(r, F.data_ref + pg, 0, 7);
		}
		fe_push();
		process();
		fe_expect(k, op, BLKIF_RSP_OKAY);
		if (op == BLKIF_OP_READ)
			for (i = 0; i < nseg; i++)
				assert_memory_equal(
					data_page((k * 3 + i) % POOL),
					F.shadow + sector * 512 + i * PAGE,
					PAGE);
		assert_int_equal(F.dev.count.leases, 0);
	}
	image_check();
	calls = segment_map_calls() - calls;
	print_message("  %s%s: %" PRIu64 " segment map calls for %u requests\n",
		      F.mode == BLKBACK_COPY ? "copy" : "lease",
		      F.dev.persistent ? ", persistent" : "", calls, POOL_REQS);
	if (F.mode == BLKBACK_COPY)
		assert_int_equal(calls, 0);
	else if (!F.dev.persistent)
		assert_int_equal(calls, POOL_REQS);
	else {
		assert_true(calls <= 2 * POOL);
		/* The pool stays mapped between requests. */
		assert_true(xstats(F.x).mapped_bytes > 0);
		assert_true(xstats(F.x).mapped_bytes <= 2 * POOL * PAGE);
		assert_true(sim().grant.live_mappings > 1);
	}
	/* Detach unmaps it all (and purges the cache). */
	blkback_detach(&F.dev);
	F.attached = 0;
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(xstats(F.x).mapped_bytes, 0);
}

#define VARIANT(t, v)                                                         \
	cmocka_unit_test_prestate_setup_teardown(t, setup_bb, teardown_bb,    \
						 (void *)&(v))
#define BOTH(t) VARIANT(t, lease), VARIANT(t, copy), VARIANT(t, persist)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_blkback_rw_11_segments),
		BOTH(test_blkback_subpage),
		BOTH(test_blkback_flush),
		BOTH(test_blkback_write_from_readonly_grant),
		BOTH(test_blkback_readonly_image),
		BOTH(test_blkback_wrap),
		BOTH(test_blkback_index_wrap),
		BOTH(test_blkback_two_page_ring),
		BOTH(test_blkback_notify),
		BOTH(test_blkback_batch_limit),
		BOTH(test_blkback_hostile),
		BOTH(test_blkback_overrun),
		BOTH(test_blkback_producer_backwards),
		BOTH(test_blkback_full_ring),
		BOTH(test_blkback_attach_errors),
		BOTH(test_blkback_copy_once),
		BOTH(test_blkback_pool_reuse),
		BOTH(test_blkback_indirect),
		BOTH(test_blkback_indirect_hostile),
		BOTH(test_blkback_indirect_copy_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
