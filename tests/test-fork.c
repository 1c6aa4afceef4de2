/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fork() in a multi-threaded process (guestmem.h, "fork()"): whatever the
 * parent's other threads were doing at fork time, the child can use a
 * space over unix regions fully (add, write, read, remove, free), and free
 * a space over Xen regions:
 *
 *  - a thread loops large gm_read()s while the main thread forks, many
 *    times, so that forks land inside its read-side sections;
 *  - a thread is inside a section at fork time for sure: blocked in a
 *    backend's map call;
 *  - a thread holds the space's writer lock at fork time: blocked in
 *    gm_space_remove_region(), waiting for the reader above;
 *  - Xen (on the simulator): a thread misses and evicts in a small mapping
 *    cache while the main thread forks; the child frees the space and
 *    closes the context.
 *
 * Each child runs under alarm(): a child that hangs is killed by SIGALRM,
 * and the parent reports it.  Children never return into cmocka: they
 * report the step that failed in their exit status.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"

#include <guestmem.h>
#include <guestmem/backend.h>
#include <guestmem/unix.h>
#ifdef GM_HAVE_XEN
#include <guestmem/xen.h>

#include "xensim/xensim.h"
#endif

#include "test-util.h"

#define PAGE UINT64_C(4096)
#define MIB (UINT64_C(1) << 20)

/* The parent's regions, and the one each child adds. */
#define MAIN_GPA UINT64_C(0x10000000)
#define MAIN_SIZE (16 * MIB)
#define GATE_GPA UINT64_C(0x40000000)
#define GATE_SIZE (4 * PAGE)
#define EXTRA_GPA UINT64_C(0x50000000)
#define CHILD_GPA UINT64_C(0x80000000)

/* Seconds a child may take before it counts as hung (valgrind is slow). */
#define CHILD_ALARM 60

/* Byte @i of the main region, as the parent filled it. */
static uint8_t main_byte(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 12));
}

static void fill_main(struct gm_space *s)
{
	static uint8_t buf[64 * 1024];
	uint64_t off, i;

	for (off = 0; off < MAIN_SIZE; off += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = main_byte(off + i);
		assert_int_equal(gm_write(s, MAIN_GPA + off, buf, sizeof(buf)),
				 0);
	}
}

static void add_anon(struct gm_space *s, uint64_t gpa, uint64_t size)
{
	struct gm_region *r = NULL;

	assert_int_equal(gm_unix_region_new_anon(gpa, size, 0, &r), 0);
	assert_int_equal(gm_space_add_region(s, r), 0);
}

/* ------------------------------------------------------------------ */
/* The child                                                           */
/* ------------------------------------------------------------------ */

/*
 * What every child of the unix tests does with the space it inherited:
 * returns 0, or the number of the step that failed (from 20: valgrind
 * exits with 1 after an error).
 */
static int child_use_space(struct gm_space *s)
{
	static const char msg[] = "written by the child";
	struct gm_region *r = NULL;
	char back[sizeof(msg)];
	uint8_t page[PAGE];
	struct gm_lease *l;
	struct gm_view v;
	uint64_t i;

	if (gm_unix_region_new_anon(CHILD_GPA, 4 * PAGE, 0, &r))
		return 20;
	if (gm_space_add_region(s, r))
		return 21;
	if (gm_write(s, CHILD_GPA + 100, msg, sizeof(msg)))
		return 22;
	if (gm_read(s, CHILD_GPA + 100, back, sizeof(back)) ||
	    memcmp(back, msg, sizeof(msg)))
		return 23;
	if (gm_view_get(s, CHILD_GPA, PAGE, GM_PROT_READ | GM_PROT_WRITE,
			&v))
		return 24;
	memcpy(back, v.hva + 100, sizeof(back));
	gm_view_put(&v);
	if (memcmp(back, msg, sizeof(msg)))
		return 25;
	if (gm_lease_get(s, CHILD_GPA, 2 * PAGE, GM_PROT_READ, &l))
		return 26;
	gm_lease_put(l);
	/* The parent's data, through the region the parent added. */
	if (gm_read(s, MAIN_GPA + 5 * PAGE, page, sizeof(page)))
		return 27;
	for (i = 0; i < PAGE; i++)
		if (page[i] != main_byte(5 * PAGE + i))
			return 28;
	if (gm_space_remove_region(s, CHILD_GPA))
		return 29;
	if (gm_read(s, CHILD_GPA, back, 1) != -EFAULT)
		return 30;
	if (gm_space_remove_region(s, MAIN_GPA))
		return 31;
	gm_space_free(s);
	return 0;
}

/* Fork; the child runs @fn(@arg) under alarm() and exits with its result.
 * Returns the child's pid. */
static pid_t fork_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(CHILD_ALARM);
#ifdef VALGRIND_CLO_CHANGE
		/*
		 * What the parent's other threads held is never freed in the
		 * child (guestmem.h, "fork()"): a table a writer was
		 * replacing, a Xen cache entry a reader had pinned.  So no
		 * leak check here; memory errors still fail the child.
		 */
		if (RUNNING_ON_VALGRIND)
			VALGRIND_CLO_CHANGE("--leak-check=no");
#endif
		_exit(fn(arg));
	}
	return pid;
}

/* Wait for child @pid; return its wait status. */
static int wait_child(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Fail unless a child's wait @status says it exited with 0.  Called once
 * the test's threads are stopped, so that a failure leaves none behind. */
static void assert_child_ok(int status)
{
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGALRM ? ": it hung" : "");
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		fail_msg("child failed at step %d", WEXITSTATUS(status));
}

static int child_unix(void *arg)
{
	return child_use_space(arg);
}

/* ------------------------------------------------------------------ */
/* A backend whose map call can be made to block                       */
/* ------------------------------------------------------------------ */

/*
 * An on-demand region over a buffer.  While armed, a map call tells the
 * test it is in (one byte on in_pipe) and waits for a byte on go_pipe:
 * the calling thread is then inside a read-side section of the space for
 * as long as the test wants.
 */
struct gate_region {
	struct gm_region base;
	uint8_t buf[GATE_SIZE];
	atomic_int armed;
	int in_pipe[2], go_pipe[2];
};

static int gate_map(struct gm_region *r, uint64_t off, uint64_t len, int prot,
		    unsigned int flags, struct gm_map *m)
{
	struct gate_region *g = (struct gate_region *)r;
	char c = 0;

	(void)prot;
	(void)flags;
	if (atomic_exchange(&g->armed, 0)) {
		if (write(g->in_pipe[1], &c, 1) != 1 ||
		    read(g->go_pipe[0], &c, 1) != 1) {
			m->fault = off;
			return -EIO;
		}
	}
	m->hva = g->buf + off;
	m->len = len;
	m->cookie = NULL;
	return 0;
}

static void gate_unmap(struct gm_region *r, struct gm_map *m)
{
	(void)r;
	(void)m;
}

static void gate_destroy(struct gm_region *r)
{
	struct gate_region *g = (struct gate_region *)r;

	close(g->in_pipe[0]);
	close(g->in_pipe[1]);
	close(g->go_pipe[0]);
	close(g->go_pipe[1]);
	free(g);
}

static const struct gm_region_ops gate_ops = {
	.version = GM_REGION_OPS_VERSION,
	.name = "gate",
	.map = gate_map,
	.unmap = gate_unmap,
	.destroy = gate_destroy,
};

static struct gate_region *gate_add(struct gm_space *s)
{
	struct gate_region *g = calloc(1, sizeof(*g));
	uint64_t i;

	assert_non_null(g);
	assert_int_equal(gm_region_init(&g->base, &gate_ops, GATE_GPA,
					GATE_SIZE, 0),
			 0);
	for (i = 0; i < GATE_SIZE; i++)
		g->buf[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(pipe(g->in_pipe), 0);
	assert_int_equal(pipe(g->go_pipe), 0);
	assert_int_equal(gm_space_add_region(s, &g->base), 0);
	return g;
}

/* A thread that reads from the gate region. */
struct gate_reader {
	struct gm_space *s;
	struct gate_region *g;
	uint8_t buf[64];
	int ret;
};

static void *gate_read(void *p)
{
	struct gate_reader *gr = p;

	gr->ret = gm_read(gr->s, GATE_GPA + 64, gr->buf, sizeof(gr->buf));
	return NULL;
}

/* Return once a thread is blocked in the armed map call. */
static void gate_wait_inside(struct gate_region *g)
{
	char c;

	assert_int_equal(read(g->in_pipe[0], &c, 1), 1);
}

/* Let the blocked map call go on. */
static void gate_open(struct gate_region *g)
{
	char c = 0;

	assert_int_equal(write(g->go_pipe[1], &c, 1), 1);
}

static void gate_check(const struct gate_reader *gr)
{
	unsigned int i;

	assert_int_equal(gr->ret, 0);
	for (i = 0; i < sizeof(gr->buf); i++)
		assert_int_equal(gr->buf[i], (uint8_t)((64 + i) ^ 0x5a));
}

/* ------------------------------------------------------------------ */
/* Unix spaces                                                         */
/* ------------------------------------------------------------------ */

struct fixture {
	struct gm_space *s;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || gm_space_new(&fx->s, "fork", 0)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	gm_space_free(fx->s);
	free(fx);
	return 0;
}

struct looper {
	struct gm_space *s;
	atomic_int stop;
	atomic_ulong reads;
	atomic_int errors;
};

/* Large reads, back to back: the thread is nearly always inside a read-side
 * section of the space. */
static void *loop_reads(void *p)
{
	struct looper *lp = p;
	const size_t len = 4 * MIB;
	uint8_t *buf = malloc(len);
	uint64_t k = 0;

	if (!buf) {
		atomic_fetch_add(&lp->errors, 1);
		return NULL;
	}
	while (!atomic_load(&lp->stop)) {
		uint64_t off = (k++ % 4) * len;

		if (gm_read(lp->s, MAIN_GPA + off, buf, len) ||
		    buf[len - 1] != main_byte(off + len - 1))
			atomic_fetch_add(&lp->errors, 1);
		atomic_fetch_add(&lp->reads, 1);
	}
	free(buf);
	return NULL;
}

/* The case: forks while another thread reads. */
static void test_fork_while_a_thread_reads(void **state)
{
	struct fixture *fx = *state;
	const int nforks = RUNNING_ON_VALGRIND ? 4 : 16;
	struct looper lp = { .s = fx->s };
	unsigned long seen;
	int i, status = 0;
	pthread_t t;

	add_anon(fx->s, MAIN_GPA, MAIN_SIZE);
	fill_main(fx->s);
	assert_int_equal(pthread_create(&t, NULL, loop_reads, &lp), 0);
	for (i = 0; i < nforks && !status; i++) {
		/* Fork only once the reader has read again since the last
		 * fork: it is running, mostly inside a section. */
		seen = atomic_load(&lp.reads);
		while (atomic_load(&lp.reads) == seen)
			sched_yield();
		status = wait_child(fork_child(child_unix, fx->s));
	}
	atomic_store(&lp.stop, 1);
	pthread_join(t, NULL);
	assert_child_ok(status);
	assert_int_equal(atomic_load(&lp.errors), 0);
	/* The parent's space is untouched by what its children did. */
	assert_int_equal(gm_space_get_regions(fx->s, NULL, 0), 1);
}

/* A thread is inside a section at fork time: blocked in a map call. */
static void test_fork_while_a_thread_is_in_a_section(void **state)
{
	struct fixture *fx = *state;
	struct gate_reader gr = { .s = fx->s };
	pthread_t t;
	int status;

	add_anon(fx->s, MAIN_GPA, MAIN_SIZE);
	fill_main(fx->s);
	gr.g = gate_add(fx->s);
	atomic_store(&gr.g->armed, 1);
	assert_int_equal(pthread_create(&t, NULL, gate_read, &gr), 0);
	gate_wait_inside(gr.g);
	status = wait_child(fork_child(child_unix, fx->s));
	gate_open(gr.g);
	pthread_join(t, NULL);
	assert_child_ok(status);
	gate_check(&gr);
}

struct remover {
	struct gm_space *s;
	int ret;
};

static void *remove_extra(void *p)
{
	struct remover *rm = p;

	rm->ret = gm_space_remove_region(rm->s, EXTRA_GPA);
	return NULL;
}

/*
 * A thread holds the space's writer lock at fork time: it removes a
 * region and waits for the grace period, which the thread blocked in the
 * map call holds up.
 */
static void test_fork_while_a_writer_waits(void **state)
{
	struct fixture *fx = *state;
	struct gate_reader gr = { .s = fx->s };
	struct remover rm = { .s = fx->s, .ret = 1 };
	pthread_t t, w;
	int status;

	add_anon(fx->s, MAIN_GPA, MAIN_SIZE);
	fill_main(fx->s);
	add_anon(fx->s, EXTRA_GPA, PAGE);
	gr.g = gate_add(fx->s);
	atomic_store(&gr.g->armed, 1);
	assert_int_equal(pthread_create(&t, NULL, gate_read, &gr), 0);
	gate_wait_inside(gr.g);
	assert_int_equal(pthread_create(&w, NULL, remove_extra, &rm), 0);
	/* The writer has published the table without EXTRA and now waits,
	 * holding the writer lock, until the reader leaves its section. */
	while (gm_space_get_regions(fx->s, NULL, 0) != 2)
		sched_yield();
	status = wait_child(fork_child(child_unix, fx->s));
	gate_open(gr.g);
	pthread_join(t, NULL);
	pthread_join(w, NULL);
	assert_child_ok(status);
	gate_check(&gr);
	assert_int_equal(rm.ret, 0);
	/* The parent's writers still work. */
	add_anon(fx->s, EXTRA_GPA, PAGE);
	assert_int_equal(gm_space_remove_region(fx->s, EXTRA_GPA), 0);
}

/* ------------------------------------------------------------------ */
/* Xen spaces (on the simulator): the child may free them              */
/* ------------------------------------------------------------------ */

#ifdef GM_HAVE_XEN
#define DOMID 5u
#define DOM_PAGES 2048u /* 8 MiB */

static int xen_setup(void **state)
{
	(void)state;
	xensim_reset(NULL);
	return xensim_domain_create(DOMID, DOM_PAGES, XENSIM_DOM_HVM);
}

static int xen_teardown(void **state)
{
	(void)state;
	assert_int_equal(xensim_reset(NULL), 0);
	return 0;
}

struct xen_child {
	struct gm_space *s;
	struct gm_xen *x;
};

static int child_free_xen(void *p)
{
	struct xen_child *xc = p;

	gm_space_free(xc->s);
	gm_xen_close(xc->x);
	return 0;
}

/* Reads spread over the region: misses, evictions and hits. */
static void *loop_xen_reads(void *p)
{
	struct looper *lp = p;
	uint64_t k = 0, v;

	while (!atomic_load(&lp->stop)) {
		uint64_t off = (k++ * 0x9e3779b1u) % (DOM_PAGES * PAGE - 8);

		if (gm_read_u64(lp->s, off, &v))
			atomic_fetch_add(&lp->errors, 1);
		atomic_fetch_add(&lp->reads, 1);
	}
	return NULL;
}

static void test_fork_child_frees_a_xen_space(void **state)
{
	const int nforks = RUNNING_ON_VALGRIND ? 4 : 16;
	struct gm_xen_options o = { .bucket_size = 4 * PAGE,
				    .cache_bytes = 16 * PAGE };
	struct xen_child xc = { 0 };
	struct gm_region *r = NULL;
	struct looper lp = { 0 };
	unsigned long seen;
	int i, status = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(gm_xen_open(&xc.x, &o), 0);
	assert_int_equal(gm_xen_foreign_region_new(xc.x, DOMID, 0,
						   DOM_PAGES * PAGE, 0, 0, &r),
			 0);
	assert_int_equal(gm_space_new(&xc.s, "fork-xen", 0), 0);
	assert_int_equal(gm_space_add_region(xc.s, r), 0);
	lp.s = xc.s;
	assert_int_equal(pthread_create(&t, NULL, loop_xen_reads, &lp), 0);
	for (i = 0; i < nforks && !status; i++) {
		seen = atomic_load(&lp.reads);
		while (atomic_load(&lp.reads) == seen)
			sched_yield();
		status = wait_child(fork_child(child_free_xen, &xc));
	}
	atomic_store(&lp.stop, 1);
	pthread_join(t, NULL);
	assert_child_ok(status);
	assert_int_equal(atomic_load(&lp.errors), 0);
	gm_space_free(xc.s);
	gm_xen_close(xc.x);
}
#endif

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	static const struct CMUnitTest tests[] = {
		T(test_fork_while_a_thread_reads),
		T(test_fork_while_a_thread_is_in_a_section),
		T(test_fork_while_a_writer_waits),
#ifdef GM_HAVE_XEN
		cmocka_unit_test_setup_teardown(
			test_fork_child_frees_a_xen_space, xen_setup,
			xen_teardown),
#endif
	};

#ifdef GM_HAVE_XEN
	/*
	 * The simulator takes its lock in a fork handler too, and its calls
	 * run under the mapping cache's lock: register its handlers before
	 * the library's (the first space does that), so that fork() takes the
	 * cache's lock first, as a miss does.
	 */
	xensim_reset(NULL);
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
