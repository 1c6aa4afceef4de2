/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance suite, run by conf_run() (conformance.c): single-copy
 * atomicity of copies, under real threads and single-stepped.
 */
#define _GNU_SOURCE

#include "conformance-internal.h"

#include "copy.h" /* gm__copy_body_force() */

/* ------------------------------------------------------------------ */
/* Single-copy atomicity of copies                                     */
/* ------------------------------------------------------------------ */

/*
 * guestmem.h promises that no copy tears a naturally aligned 2-, 4- or
 * 8-byte field inside the copied range.  A thread flips one such field
 * between all-zero and all-one bits (or watches it) with atomics while the
 * test copies ranges around it through every copy entry point, at every
 * offset of the field in the range and over a region boundary: a copy
 * must only ever see, or leave, one of the two values.  Tearing is a race
 * with a window of a cycle or two, which real threads seldom hit: this
 * test shows the copies are safe under real concurrency, and
 * test_copy_stepped() below is the deterministic one, which single-steps
 * every copy and changes (or checks) the field between any two of its
 * instructions.  valgrind runs one thread at a time and shows no tear.
 */
#define TEAR_ROUNDS (RUNNING_ON_VALGRIND ? 40 : 600)

struct tear_arg {
	struct gm_space *s;
	uint64_t gpa;		/* the field */
	unsigned int width;	/* its size: 2, 4 or 8 */
	int flip;		/* 1: store the field, 0: load it */
	atomic_int stop;
	long bad, errors;
	uint64_t seen;		/* a torn value loaded */
};

static uint64_t tear_ones(unsigned int width)
{
	return width == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;
}

static int tear_atomic(struct tear_arg *a, int store, uint64_t *v)
{
	int ret = -EINVAL;

	switch (a->width) {
	case 2: {
		uint16_t x = (uint16_t)*v;

		ret = store ? gm_atomic_store_u16(a->s, a->gpa, x, GM_RELAXED)
			    : gm_atomic_load_u16(a->s, a->gpa, &x, GM_RELAXED);
		*v = x;
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)*v;

		ret = store ? gm_atomic_store_u32(a->s, a->gpa, x, GM_RELAXED)
			    : gm_atomic_load_u32(a->s, a->gpa, &x, GM_RELAXED);
		*v = x;
		break;
	}
	case 8:
		ret = store ? gm_atomic_store_u64(a->s, a->gpa, *v, GM_RELAXED)
			    : gm_atomic_load_u64(a->s, a->gpa, v, GM_RELAXED);
		break;
	}
	return ret;
}

static void *tear_thread(void *p)
{
	struct tear_arg *a = p;
	uint64_t ones = tear_ones(a->width);
	unsigned long i = 0;

	while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
		uint64_t v = (i++ & 1) ? ones : 0;

		if (tear_atomic(a, a->flip, &v))
			a->errors++;
		else if (!a->flip && v != 0 && v != ones) {
			a->bad++;
			a->seen = v;
		}
	}
	return NULL;
}

/* Whether the @width bytes at @p are all 0x00 or all 0xff. */
static int tear_whole(const uint8_t *p, unsigned int width)
{
	unsigned int i;

	for (i = 1; i < width; i++)
		if (p[i] != p[0])
			return 0;
	return p[0] == 0 || p[0] == 0xff;
}

/* A copy around the field: it starts @k bytes before it, is @len long. */
struct tear_shape {
	unsigned int k;
	size_t len;
};

static void tear_one(struct conf_state *st, uint64_t field,
		     unsigned int width, int flip)
{
	static uint8_t buf[4096 + 64];
	struct tear_arg a = { .s = st->s, .gpa = field, .width = width,
			      .flip = flip };
	struct tear_shape shapes[64];
	size_t nshapes = 0, i;
	const char *where = "";
	uint64_t lo = field - 64;
	uint8_t *orig = malloc(4096 + 128);
	pthread_t t;
	long torn = 0;
	int r;

	assert_non_null(orig);
	/* The field at the start, the end and inside copies of every
	 * length the walk treats differently. */
	for (i = 0; i < 8; i++) {
		static const size_t extra[] = { 0, 1, 3, 5, 9, 17, 40 };
		size_t j;

		for (j = 0; j < ARRAY_SIZE(extra); j++)
			if (i < width || extra[j])
				shapes[nshapes++] = (struct tear_shape){
					(unsigned int)i, i + width + extra[j]
				};
		if (nshapes > ARRAY_SIZE(shapes) - 8)
			break;
	}
	shapes[nshapes++] = (struct tear_shape){ 3, 300 };
	shapes[nshapes++] = (struct tear_shape){ 64, 4096 };
	shadow_read(st, lo, orig, 4096 + 128);
	/* The field starts as one of the two values. */
	memset(buf, 0, width);
	expect_ret(gm_write(st->s, field, buf, width), 0);
	assert_int_equal(pthread_create(&t, NULL, tear_thread, &a), 0);
	for (r = 0; r < TEAR_ROUNDS; r++) {
		const struct tear_shape *sh = &shapes[r % nshapes];
		uint64_t gpa = field - sh->k;
		uint8_t fill = (r & 1) ? 0xff : 0x00;
		ssize_t n = 0;
		int ret = 0;

		if (!flip) {
			/* The thread loads the field while we write. */
			memset(buf, fill, sh->len);
			switch (r % 3) {
			case 0:
				ret = gm_write(st->s, gpa, buf, sh->len);
				where = "gm_write";
				break;
			case 1:
				n = gm_write_partial(st->s, gpa, buf, sh->len);
				ret = n == (ssize_t)sh->len ? 0 : (int)n;
				where = "gm_write_partial";
				break;
			case 2:
				ret = gm_fill(st->s, gpa, fill, sh->len);
				where = "gm_fill";
				break;
			}
			if (ret)
				break;
			continue;
		}
		switch (r % 3) {
		case 0:
			ret = gm_read(st->s, gpa, buf, sh->len);
			where = "gm_read";
			break;
		case 1:
			n = gm_read_partial(st->s, gpa, buf, sh->len);
			ret = n == (ssize_t)sh->len ? 0 : (int)n;
			where = "gm_read_partial";
			break;
		case 2: {
			/* An object, as gm_read_obj() copies it. */
			struct {
				uint8_t b[24];
			} obj;

			if (sh->len > sizeof(obj))
				ret = gm_read(st->s, gpa, buf, sh->len);
			else
				ret = gm_read_obj(st->s, gpa, &obj);
			memcpy(buf, &obj, sizeof(obj) < sh->len ? sizeof(obj)
								 : sh->len);
			if (sh->len > sizeof(obj))
				ret = gm_read(st->s, gpa, buf, sh->len);
			where = "gm_read_obj";
			break;
		}
		}
		if (ret)
			break;
		if (!tear_whole(buf + sh->k, width) && !torn++)
			print_error("%s of %zu bytes at 0x%" PRIx64
				    " tore the %u-byte field at 0x%" PRIx64
				    ": %02x %02x ...\n",
				    where, sh->len, gpa, width, field,
				    buf[sh->k], buf[sh->k + 1]);
	}
	/* cmocka's failures jump: only once the thread is gone. */
	atomic_store(&a.stop, 1);
	pthread_join(t, NULL);
	if (r < TEAR_ROUNDS)
		fail_msg("%s round %d: %s", where, r, gm_last_error());
	assert_int_equal(a.errors, 0);
	if (a.bad)
		fail_msg("the %u-byte field at 0x%" PRIx64 " was loaded torn "
			 "%ld times (0x%" PRIx64 ") while copies wrote it",
			 width, field, a.bad, a.seen);
	if (torn)
		fail_msg("%ld copies tore the %u-byte field at 0x%" PRIx64,
			 torn, width, field);
	/* Put back what the shadow says. */
	expect_ret(gm_write(st->s, lo, orig, 4096 + 128), 0);
	free(orig);
}

void test_no_tearing(void **state)
{
	struct conf_state *st = *state;
	static const unsigned int widths[] = { 2, 4, 8 };
	size_t w;
	int flip;

	for (w = 0; w < ARRAY_SIZE(widths); w++) {
		unsigned int width = widths[w];
		/* Inside a region; at the end of region A, so that longer
		 * copies go on into B; at the start of B, so that copies
		 * start in A. */
		const uint64_t fields[] = { GPA_A(st) + 0x140,
					    GPA_B(st) - width, GPA_B(st) };
		size_t f;

		for (f = 0; f < ARRAY_SIZE(fields); f++)
			for (flip = 0; flip < 2; flip++)
				tear_one(st, fields[f], width, flip);
	}
}

#if defined(__SANITIZE_THREAD__)
#define CONF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONF_TSAN 1
#endif
#endif
#ifndef CONF_TSAN
#define CONF_TSAN 0
#endif

#if defined(__x86_64__)
/*
 * The deterministic half of the promise: with the trap flag set, the CPU
 * raises SIGTRAP after every instruction of the copy, and the handler
 * either flips the field (the copy reads it: what lands in the buffer must
 * be one whole value, so the field must have been read by one
 * instruction) or checks it (the copy writes it: it must never be seen
 * half written).  A rep-prefixed string instruction traps after each
 * iteration, so a byte-wise copy fails too.
 */
enum { STEP_OFF, STEP_FLIP, STEP_CHECK };

static volatile uint8_t *step_field;	/* host address of the field */
static unsigned int step_width;
static volatile sig_atomic_t step_mode;
static volatile unsigned long step_count, step_torn;

static uint64_t step_load(void)
{
	switch (step_width) {
	case 2:
		return *(volatile uint16_t *)step_field;
	case 4:
		return *(volatile uint32_t *)step_field;
	default:
		return *(volatile uint64_t *)step_field;
	}
}

static void step_store(uint64_t v)
{
	switch (step_width) {
	case 2:
		*(volatile uint16_t *)step_field = (uint16_t)v;
		break;
	case 4:
		*(volatile uint32_t *)step_field = (uint32_t)v;
		break;
	default:
		*(volatile uint64_t *)step_field = v;
		break;
	}
}

static void step_trap(int sig, siginfo_t *si, void *uc)
{
	uint64_t ones = tear_ones(step_width), v;

	(void)sig;
	(void)si;
	(void)uc;
	if (step_mode == STEP_OFF)
		return;
	step_count++;
	if (step_mode == STEP_FLIP) {
		step_store((step_count & 1) ? ones : 0);
	} else {
		v = step_load();
		if (v != 0 && v != ones)
			step_torn++;
	}
}

/* Set / clear the trap flag.  Below the red zone: the caller may keep
 * data under its stack pointer. */
static __attribute__((noinline)) void step_on(void)
{
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
			 "pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "lea 128(%%rsp), %%rsp"
			 :
			 :
			 : "memory", "cc");
}

static __attribute__((noinline)) void step_off(void)
{
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
			 "pushfq\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "lea 128(%%rsp), %%rsp"
			 :
			 :
			 : "memory", "cc");
}

/* One copy of [gpa, gpa + len) through entry point @how, single-stepped. */
static int step_copy(struct conf_state *st, int how, uint64_t gpa,
		     uint8_t *buf, size_t len, uint8_t fill)
{
	ssize_t n = 0;
	int ret = 0;

	step_mode = how < 3 ? STEP_FLIP : STEP_CHECK;
	step_on();
	switch (how) {
	case 0:
		ret = gm_read(st->s, gpa, buf, len);
		break;
	case 1:
		n = gm_read_partial(st->s, gpa, buf, len);
		break;
	case 2:
		ret = gm_read_obj(st->s, gpa, (uint8_t(*)[24])buf);
		break;
	case 3:
		ret = gm_write(st->s, gpa, buf, len);
		break;
	case 4:
		n = gm_write_partial(st->s, gpa, buf, len);
		break;
	case 5:
		ret = gm_fill(st->s, gpa, fill, len);
		break;
	}
	step_off();
	step_mode = STEP_OFF;
	if (how == 1 || how == 4)
		ret = n == (ssize_t)len ? 0 : (int)n;
	return ret;
}

/*
 * test_copy_stepped()'s copies, each single-stepped, with the copy
 * engine's current body: returns the steps taken.
 */
static unsigned long copies_stepped(struct conf_state *st, uint8_t *orig,
				    uint8_t *buf)
{
	static const char *const names[] = { "gm_read", "gm_read_partial",
					     "gm_read_obj", "gm_write",
					     "gm_write_partial", "gm_fill" };
	static const unsigned int widths[] = { 2, 4, 8 };
	/* The field at the start, the end, inside; lengths that take each
	 * step of the walk.  Bytes before the field, and bytes after it. */
	static const struct tear_shape shapes[] = {
		{ 0, 0 }, { 1, 1 }, { 0, 5 }, { 3, 3 }, { 5, 6 }, { 7, 9 },
		{ 6, 17 }, { 2, 40 }, { 64, 4096 },
	};
	unsigned long steps = 0;
	size_t w, f, i;
	int how;

	for (w = 0; w < ARRAY_SIZE(widths); w++) {
		unsigned int width = widths[w];
		const uint64_t fields[] = { GPA_A(st) + 0x140,
					    GPA_B(st) - width, GPA_B(st) };

		for (f = 0; f < ARRAY_SIZE(fields); f++) {
			uint64_t field = fields[f], lo = field - 64;
			struct gm_view v;

			/* Each width inside a region, and over the boundary
			 * at one of its two sides. */
			if (f && f != 1 + w % 2)
				continue;

			shadow_read(st, lo, orig, 4096 + 128);
			expect_ret(gm_view_get(st->s, field, width,
					       GM_PROT_READ | GM_PROT_WRITE,
					       &v),
				   0);
			step_field = v.hva;
			step_width = width;
			for (how = 0; how < 6; how++) {
				for (i = 0; i < ARRAY_SIZE(shapes); i++) {
					const struct tear_shape *sh = &shapes[i];
					size_t len = sh->len + width;
					uint64_t gpa = field - sh->k;
					uint8_t fill = (i & 1) ? 0xff : 0;
					int ret;

					/* The other entry points share the
					 * walk with gm_read() and gm_write():
					 * a few shapes each. */
					if ((how == 1 || how == 4 || how == 5) &&
					    i % 3 != (size_t)how % 3)
						continue;
					if (how == 2 && (i > 4 || i < 2))
						continue;
					if (how == 2)
						len = 24; /* the object */
					if (how >= 3) {
						step_store(fill ? 0 : UINT64_MAX);
						memset(buf, fill, len);
					}
					step_count = step_torn = 0;
					ret = step_copy(st, how, gpa, buf, len,
							fill);
					steps += step_count;
					if (ret)
						fail_msg("%s(0x%" PRIx64 ", %zu):"
							 " %d, %s",
							 names[how], gpa, len,
							 ret, gm_last_error());
					if (how < 3 &&
					    !tear_whole(buf + sh->k, width))
						fail_msg("%s of %zu bytes at "
							 "0x%" PRIx64 " read "
							 "the %u-byte field at "
							 "0x%" PRIx64 " torn",
							 names[how], len, gpa,
							 width, field);
					if (step_torn)
						fail_msg("%s of %zu bytes at "
							 "0x%" PRIx64 " left "
							 "the %u-byte field at "
							 "0x%" PRIx64 " half "
							 "written %lu times",
							 names[how], len, gpa,
							 width, field,
							 (unsigned long)step_torn);
				}
			}
			gm_view_put(&v);
			expect_ret(gm_write(st->s, lo, orig, 4096 + 128), 0);
		}
	}
	return steps;
}

void test_copy_stepped(void **state)
{
	struct conf_state *st = *state;
	struct sigaction sa, old;
	uint8_t *orig, *buf;
	unsigned long steps = 0;
	int body, top;

	if (RUNNING_ON_VALGRIND)
		skip(); /* valgrind does not emulate the trap flag */
	if (CONF_TSAN)
		skip(); /* ThreadSanitizer defers and wraps every signal, which
			 * makes a trap per instruction cost milliseconds; the
			 * test is single-threaded and has nothing for it */
	orig = malloc(4096 + 256);
	buf = malloc(4096 + 256);
	assert_non_null(orig);
	assert_non_null(buf);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = step_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGTRAP, &sa, &old), 0);
	/* Every body of the copy engine this processor runs, not only the
	 * one the library picks here (common/copy.h). */
	top = gm__copy_body_force(GM__COPY_BODY_SSE2);
	for (body = GM__COPY_BODY_SSE2; body <= top; body++) {
		gm__copy_body_force(body);
		steps += copies_stepped(st, orig, buf);
	}
	gm__copy_body_force(-1);
	assert_int_equal(sigaction(SIGTRAP, &old, NULL), 0);
	free(orig);
	free(buf);
	/* The trap flag took effect: every copy was stepped. */
	assert_true(steps > 1000);
}
#endif /* __x86_64__ */
