/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/xen-blkback's xenbus state machine (xenbus.c) against a fake
 * xenstore and a fake event channel defined here (the functions of
 * xenstore.h and xenevtchn.h that xenbus.c calls), with the core and the
 * library on the strict simulator.  The test plays the toolstack (the
 * nodes libxl writes) and the frontend (its nodes and state, its ring in
 * the guest's memory).
 *
 * Covered: the nodes and states the backend writes; connecting on
 * Initialised, with a one- or two-page ring, and serving a request with
 * an event; every way it ends (frontend Closing or Closed, online = 0,
 * the toolstack's Closing, the frontend's directory or domain gone);
 * refused connections (a foreign protocol, a missing or bad ring ref, an
 * event channel that will not bind) going Closing with nothing mapped or
 * bound; a broken ring going Closing; and teardown leaving nothing
 * behind, not even a directory the toolstack removed.
 *
 * And the program (main.c, included with its main() renamed): options
 * and usage errors (exit 2, nothing on stdout), setup errors (exit 2),
 * and whole runs that connect, serve queued requests and end on the
 * frontend's Closing, on SIGTERM, or at once when the toolstack has set
 * online to 0, each printing its one line with no mapping and no
 * descriptor left (the fakes' handles hold real pipes).
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xen-fixture.h"
#include "test-util.h"

/* The frontend's barriers, for io/ring.h's front-ring macros. */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#include "../examples/xen-blkback/xenbus.h"

/* The program itself, its main() renamed, on the same fakes. */
#define main blkback_main
int blkback_main(int argc, char **argv);
#include "../examples/xen-blkback/main.c"
#undef main

#define BE "/local/domain/0/backend/vbd/5/51712"
#define FE "/local/domain/5/device/vbd/51712"
#define RING_GFN 1u
#define DATA_GFN 8u
#define REMOTE_PORT 17u
#define LOCAL_PORT 42u
#define IMG_SECTORS 128u

/* ---- a fake xenstore: a flat table of nodes, and watches ---- */

#define MAX_NODES 64
#define MAX_WATCHES 8

static struct {
	char *path[MAX_NODES], *val[MAX_NODES];
	char *wpath[MAX_WATCHES], *wtoken[MAX_WATCHES];
	unsigned int fired;     /* watch events, in all */
	bool domain_introduced; /* what xs_is_domain_introduced says */
	/* the event channel */
	bool bound, bind_fails;
	unsigned int notifies;
	/* what main.c uses besides: handles with real descriptors (a
	 * pipe each, as the real libraries have descriptors), and the
	 * watch events it reads, with a hook run at each */
	int xs_pipe[2], evt_pipe[2];
	unsigned int queued; /* events not read yet */
	void (*on_event)(void);
	bool fired_signal;
} X;

static char xs_dummy, xce_dummy;
#define XS ((struct xs_handle *)(void *)&xs_dummy)
#define XCE ((xenevtchn_handle *)(void *)&xce_dummy)

static int node_find(const char *path)
{
	for (int i = 0; i < MAX_NODES; i++)
		if (X.path[i] && !strcmp(X.path[i], path))
			return i;
	return -1;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static void event(void)
{
	X.fired++;
	X.queued++;
	if (X.xs_pipe[1] >= 0)
		assert_int_equal(write(X.xs_pipe[1], "w", 1), 1);
}

static void fire(const char *path)
{
	for (int i = 0; i < MAX_WATCHES; i++)
		if (X.wpath[i] && under(path, X.wpath[i]))
			event();
}

static void node_set(const char *path, const char *val)
{
	int i = node_find(path);

	if (i < 0) {
		for (i = 0; i < MAX_NODES && X.path[i]; i++)
			;
		assert_true(i < MAX_NODES);
		X.path[i] = strdup(path);
	} else {
		free(X.val[i]);
	}
	X.val[i] = strdup(val);
	fire(path);
}

static const char *node_get(const char *path)
{
	int i = node_find(path);

	return i < 0 ? NULL : X.val[i];
}

static void node_rm_tree(const char *dir)
{
	for (int i = 0; i < MAX_NODES; i++)
		if (X.path[i] && under(X.path[i], dir)) {
			free(X.path[i]);
			free(X.val[i]);
			X.path[i] = X.val[i] = NULL;
		}
	fire(dir);
}

static void fake_reset(void)
{
	for (int i = 0; i < MAX_NODES; i++) {
		free(X.path[i]);
		free(X.val[i]);
	}
	for (int i = 0; i < MAX_WATCHES; i++) {
		free(X.wpath[i]);
		free(X.wtoken[i]);
	}
	memset(&X, 0, sizeof(X));
	X.domain_introduced = true;
	X.xs_pipe[0] = X.xs_pipe[1] = X.evt_pipe[0] = X.evt_pipe[1] = -1;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
	      unsigned int *len)
{
	const char *v = node_get(path);
	char *copy;

	assert_ptr_equal(h, XS);
	assert_int_equal(t, XBT_NULL);
	if (!v) {
		errno = ENOENT;
		return NULL;
	}
	copy = strdup(v);
	if (len)
		*len = (unsigned int)strlen(v);
	return copy;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
	      const void *data, unsigned int len)
{
	char *v;

	assert_ptr_equal(h, XS);
	assert_int_equal(t, XBT_NULL);
	v = strndup(data, len);
	node_set(path, v);
	free(v);
	return true;
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	int i;

	assert_ptr_equal(h, XS);
	for (i = 0; i < MAX_WATCHES && X.wpath[i]; i++)
		;
	assert_true(i < MAX_WATCHES);
	X.wpath[i] = strdup(path);
	X.wtoken[i] = strdup(token);
	event(); /* a new watch fires once */
	return true;
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	assert_ptr_equal(h, XS);
	for (int i = 0; i < MAX_WATCHES; i++)
		if (X.wpath[i] && !strcmp(X.wpath[i], path) &&
		    !strcmp(X.wtoken[i], token)) {
			free(X.wpath[i]);
			free(X.wtoken[i]);
			X.wpath[i] = X.wtoken[i] = NULL;
			return true;
		}
	errno = ENOENT;
	return false;
}

bool xs_is_domain_introduced(struct xs_handle *h, unsigned int domid)
{
	assert_ptr_equal(h, XS);
	assert_int_equal(domid, DOMID);
	return X.domain_introduced;
}

/* The calls main.c makes besides. */
struct xs_handle *xs_open(unsigned long flags)
{
	assert_int_equal(flags, 0);
	assert_int_equal(X.xs_pipe[0], -1);
	assert_int_equal(pipe2(X.xs_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	return XS;
}

void xs_close(struct xs_handle *h)
{
	assert_ptr_equal(h, XS);
	close(X.xs_pipe[0]);
	close(X.xs_pipe[1]);
	X.xs_pipe[0] = X.xs_pipe[1] = -1;
}

int xs_fileno(struct xs_handle *h)
{
	assert_ptr_equal(h, XS);
	return X.xs_pipe[0];
}

/* One event per call, as libxenstore gives them; EAGAIN when none is
 * left (and the pipe drained). */
char **xs_check_watch(struct xs_handle *h)
{
	char buf[64], **vec;

	assert_ptr_equal(h, XS);
	if (!X.queued) {
		while (read(X.xs_pipe[0], buf, sizeof(buf)) > 0)
			;
		errno = EAGAIN;
		return NULL;
	}
	X.queued--;
	if (X.on_event)
		X.on_event();
	vec = calloc(2, sizeof(*vec)); /* one block, as libxenstore's */
	assert_non_null(vec);
	return vec;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int open_flags)
{
	(void)logger;
	assert_int_equal(open_flags, 0);
	assert_int_equal(X.evt_pipe[0], -1);
	assert_int_equal(pipe2(X.evt_pipe, O_CLOEXEC), 0);
	return XCE;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, XCE);
	close(X.evt_pipe[0]);
	close(X.evt_pipe[1]);
	X.evt_pipe[0] = X.evt_pipe[1] = -1;
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, XCE);
	return X.evt_pipe[0];
}

static int watches(void)
{
	int n = 0;

	for (int i = 0; i < MAX_WATCHES; i++)
		n += X.wpath[i] != NULL;
	return n;
}

static bool watching(const char *path)
{
	for (int i = 0; i < MAX_WATCHES; i++)
		if (X.wpath[i] && !strcmp(X.wpath[i], path))
			return true;
	return false;
}

/* ---- a fake event channel ---- */

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						     uint32_t domid,
						     evtchn_port_t remote)
{
	assert_ptr_equal(xce, XCE);
	assert_int_equal(domid, DOMID);
	assert_int_equal(remote, REMOTE_PORT);
	assert_false(X.bound);
	if (X.bind_fails) {
		errno = EINVAL;
		return -1;
	}
	X.bound = true;
	return LOCAL_PORT;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, XCE);
	assert_int_equal(port, LOCAL_PORT);
	assert_true(X.bound);
	X.bound = false;
	return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, XCE);
	assert_int_equal(port, LOCAL_PORT);
	assert_true(X.bound);
	X.notifies++;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, XCE);
	assert_true(X.bound);
	return LOCAL_PORT;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, XCE);
	assert_int_equal(port, LOCAL_PORT);
	return 0;
}

/* ---- the fixture ---- */

static struct {
	struct xb b;
	int fd;
	struct blkif_front_ring front;
	struct blkif_sring *sring;
	uint32_t ring_ref[2], data_ref;
} T;

static void be_set(const char *node, const char *val)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", BE, node);
	node_set(p, val);
}

static void fe_set(const char *node, const char *val)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", FE, node);
	node_set(p, val);
}

static const char *be_get(const char *node)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", BE, node);
	return node_get(p);
}

static void expect_be(const char *node, const char *val)
{
	const char *v = be_get(node);

	if (!v || strcmp(v, val))
		print_error("%s/%s is %s, expected %s\n", BE, node,
			    v ? v : "(absent)", val);
	assert_non_null(v);
	assert_string_equal(v, val);
}

static void fe_state(int s)
{
	char v[4];

	snprintf(v, sizeof(v), "%d", s);
	fe_set("state", v);
}

static int setup_xb(void **state)
{
	char ref[16];

	if (setup(state))
		return -1;
	fake_reset();
	memset(&T, 0, sizeof(T));
	T.fd = memfd_create("blkback-image", MFD_CLOEXEC);
	assert_true(T.fd >= 0);
	assert_int_equal(ftruncate(T.fd, IMG_SECTORS * 512), 0);
	T.ring_ref[0] = share(RING_GFN, 1, 1);
	T.ring_ref[1] = share(RING_GFN + 1, 1, 1);
	T.data_ref = share(DATA_GFN, 4, 1);

	/* What the toolstack writes, as libxl does. */
	be_set("frontend", FE);
	be_set("frontend-id", "5");
	be_set("online", "1");
	be_set("state", "1");
	be_set("mode", "w");
	be_set("params", "/images/disk.raw");
	be_set("type", "phy");
	be_set("dev", "xvda");
	be_set("device-type", "disk");
	fe_set("backend", BE);
	fe_set("backend-id", "0");
	fe_set("state", "1");
	fe_set("virtual-device", "51712");
	fe_set("device-type", "disk");

	/* The frontend's ring, and what it would publish. */
	T.sring = (struct blkif_sring *)(void *)gframe(RING_GFN, 0);
	SHARED_RING_INIT(T.sring);
	FRONT_RING_INIT(&T.front, T.sring, PAGE);
	snprintf(ref, sizeof(ref), "%u", T.ring_ref[0]);
	fe_set("ring-ref", ref);
	snprintf(ref, sizeof(ref), "%u", REMOTE_PORT);
	fe_set("event-channel", ref);
	/* This host's own ABI ("x86_64-abi", "arm-abi"): the only one the
	 * backend takes. */
	fe_set("protocol", XEN_IO_PROTO_ABI_NATIVE);

	T.b.xs = XS;
	T.b.xce = XCE;
	T.b.xen = xen_open(0, 0);
	T.b.be = BE;
	T.b.fd = T.fd;
	T.b.sectors = IMG_SECTORS;
	T.b.mode = BLKBACK_LEASE;
	T.b.persistent = 1;
	T.b.state = -1;
	return 0;
}

/* After teardown: nothing mapped, bound or watched. */
static void check_released(void)
{
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_int_equal(xstats(T.b.xen).mapped_bytes, 0);
	assert_false(X.bound);
	assert_int_equal(watches(), 0);
}

static int teardown_xb(void **state)
{
	xb_teardown(&T.b);
	check_released();
	gm_xen_close(T.b.xen);
	close(T.fd);
	fake_reset();
	return teardown(state);
}

/* Set up and go InitWait. */
static void init_wait(void)
{
	assert_int_equal(xb_setup(&T.b), 0);
	expect_be("state", "2");
	assert_int_equal(xb_changed(&T.b), 0);
	expect_be("state", "2");
}

/* The frontend goes Initialised: connected. */
static void connect(void)
{
	init_wait();
	fe_state(XenbusStateInitialised);
	assert_int_equal(xb_changed(&T.b), 0);
	expect_be("state", "4");
	assert_true(X.bound);
	assert_int_equal(sim().grant.live_mappings, 1);
}

/* A WRITE of one page from the frontend, served with an event. */
static void one_request(uint64_t id)
{
	struct blkif_request *r =
		RING_GET_REQUEST(&T.front, T.front.req_prod_pvt);
	struct blkif_response rsp;
	unsigned int before = X.notifies;
	int notify;

	memset(r, 0, sizeof(*r));
	r->operation = BLKIF_OP_WRITE;
	r->id = id;
	r->sector_number = 8;
	r->nr_segments = 1;
	r->seg[0].gref = T.data_ref;
	r->seg[0].last_sect = 7;
	T.front.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&T.front, notify);
	assert_true(notify);
	xb_event(&T.b, 1);
	assert_int_equal(X.notifies, before + 1);
	assert_true(RING_HAS_UNCONSUMED_RESPONSES(&T.front));
	rsp = *RING_GET_RESPONSE(&T.front, T.front.rsp_cons);
	T.front.rsp_cons++;
	RING_FINAL_CHECK_FOR_RESPONSES(&T.front, notify);
	assert_int_equal(rsp.id, id);
	assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
}

/* ---- tests ---- */

static void test_xenbus_nodes_and_watches(void **state)
{
	char sectors[32];

	(void)state;
	init_wait();
	snprintf(sectors, sizeof(sectors), "%u", IMG_SECTORS);
	expect_be("sectors", sectors);
	expect_be("info", "0");
	expect_be("sector-size", "512");
	expect_be("physical-sector-size", "512");
	expect_be("feature-flush-cache", "1");
	expect_be("feature-max-indirect-segments", "256");
	expect_be("feature-persistent", "1");
	assert_true(watching(BE));
	assert_true(watching(FE));
	assert_true(watching("@releaseDomain"));
	assert_int_equal(T.b.domid, DOMID);
	/* Nothing is mapped before the frontend is Initialised. */
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_false(X.bound);
}

/* Persistent grants: offered for leases unless --no-persistent, used
 * when the frontend offers them too, and released at the end. */
static void test_xenbus_persistent_copy_mode(void **state)
{
	(void)state;
	T.b.mode = BLKBACK_COPY;
	init_wait();
	expect_be("feature-persistent", "0");
}

static void test_xenbus_persistent_off(void **state)
{
	(void)state;
	T.b.persistent = 0; /* --no-persistent */
	fe_set("feature-persistent", "1");
	init_wait();
	expect_be("feature-persistent", "0");
	fe_state(XenbusStateInitialised);
	assert_int_equal(xb_changed(&T.b), 0);
	assert_false(T.b.dev.persistent);
}

static void test_xenbus_persistent_frontend_without(void **state)
{
	(void)state;
	connect(); /* the frontend wrote no feature-persistent */
	assert_false(T.b.dev.persistent);
}

static void test_xenbus_persistent_negotiated(void **state)
{
	(void)state;
	fe_set("feature-persistent", "1");
	connect();
	assert_true(T.b.dev.persistent);
	one_request(1);
	one_request(2);
	/* The data page stays mapped between requests... */
	assert_int_equal(sim().grant.live_mappings, 2);
	assert_true(xstats(T.b.xen).mapped_bytes > 0);
	fe_state(XenbusStateClosing);
	assert_int_equal(xb_changed(&T.b), 1);
	/* ... until the end. */
	xb_teardown(&T.b);
	check_released();
}

static void test_xenbus_readonly_info(void **state)
{
	(void)state;
	T.b.readonly = 1;
	init_wait();
	expect_be("info", "4"); /* VDISK_READONLY */
}

/* Connect, serve, and end when the frontend closes: state 6, nothing
 * left. */
static void test_xenbus_connect_serve_close(void **state)
{
	(void)state;
	connect();
	one_request(1);
	one_request(2);
	/* The frontend's own Connected changes nothing. */
	fe_state(XenbusStateConnected);
	assert_int_equal(xb_changed(&T.b), 0);
	expect_be("state", "4");
	fe_state(XenbusStateClosing);
	assert_int_equal(xb_changed(&T.b), 1);
	xb_teardown(&T.b);
	expect_be("state", "6");
	check_released();
	assert_int_equal(T.b.dev.count.requests, 2);
}

/* A frontend that is Connected already when we look (a restart). */
static void test_xenbus_connect_from_connected(void **state)
{
	(void)state;
	init_wait();
	fe_state(XenbusStateConnected);
	assert_int_equal(xb_changed(&T.b), 0);
	expect_be("state", "4");
	one_request(1);
}

static void test_xenbus_two_page_ring(void **state)
{
	char ref[16];

	(void)state;
	memset(T.sring, 0, 2 * PAGE);
	SHARED_RING_INIT(T.sring);
	FRONT_RING_INIT(&T.front, T.sring, 2 * PAGE);
	fe_set("ring-page-order", "1");
	snprintf(ref, sizeof(ref), "%u", T.ring_ref[0]);
	fe_set("ring-ref0", ref);
	snprintf(ref, sizeof(ref), "%u", T.ring_ref[1]);
	fe_set("ring-ref1", ref);
	connect();
	assert_int_equal(T.b.dev.ring_size, 64);
	assert_int_equal(sim().grant.live_pages, 2);
	one_request(7);
}

static void test_xenbus_end_frontend_closed(void **state)
{
	(void)state;
	connect();
	fe_state(XenbusStateClosed);
	assert_int_equal(xb_changed(&T.b), 1);
}

static void test_xenbus_end_online_0(void **state)
{
	(void)state;
	connect();
	be_set("online", "0");
	assert_int_equal(xb_changed(&T.b), 1);
	xb_teardown(&T.b);
	expect_be("state", "6");
}

static void test_xenbus_end_toolstack_closing(void **state)
{
	(void)state;
	connect();
	be_set("state", "5");
	assert_int_equal(xb_changed(&T.b), 1);
}

static void test_xenbus_end_frontend_gone(void **state)
{
	(void)state;
	connect();
	node_rm_tree(FE);
	assert_int_equal(xb_changed(&T.b), 1);
}

/* The domain died: it ends, and the backend directory the toolstack
 * removed is not written again. */
static void test_xenbus_end_domain_gone(void **state)
{
	(void)state;
	connect();
	X.domain_introduced = false;
	assert_int_equal(xb_changed(&T.b), 1);
	node_rm_tree(BE);
	xb_teardown(&T.b);
	assert_null(be_get("state"));
	check_released();
}

/* Also before the frontend ever connected. */
static void test_xenbus_end_before_connect(void **state)
{
	(void)state;
	init_wait();
	be_set("online", "0");
	assert_int_equal(xb_changed(&T.b), 1);
}

/* A connection refused goes Closing with nothing mapped or bound, and
 * waits for the frontend to close. */
static void refused(void)
{
	init_wait();
	fe_state(XenbusStateInitialised);
	assert_int_equal(xb_changed(&T.b), 0);
	expect_be("state", "5");
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_false(X.bound);
	/* Further events change nothing, until the frontend closes. */
	assert_int_equal(xb_changed(&T.b), 0);
	expect_be("state", "5");
	fe_state(XenbusStateClosed);
	assert_int_equal(xb_changed(&T.b), 1);
	xb_teardown(&T.b);
	expect_be("state", "6");
}

static void test_xenbus_refuse_protocol(void **state)
{
	(void)state;
	fe_set("protocol", "x86_32-abi");
	refused();
}

static void test_xenbus_no_protocol_is_native(void **state)
{
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/protocol", FE);
	node_rm_tree(p);
	connect();
}

static void test_xenbus_refuse_missing_ring_ref(void **state)
{
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/ring-ref", FE);
	node_rm_tree(p);
	refused();
}

static void test_xenbus_refuse_garbage_ring_ref(void **state)
{
	(void)state;
	fe_set("ring-ref", "12x");
	refused();
}

static void test_xenbus_refuse_bad_ring_ref(void **state)
{
	(void)state;
	fe_set("ring-ref", "12345"); /* never granted */
	refused();
}

static void test_xenbus_refuse_ring_order(void **state)
{
	(void)state;
	fe_set("ring-page-order", "5");
	refused();
}

static void test_xenbus_refuse_bind(void **state)
{
	(void)state;
	X.bind_fails = true;
	refused();
}

/* A ring the frontend breaks: Closing, unmapped and unbound at once. */
static void test_xenbus_broken_ring(void **state)
{
	(void)state;
	connect();
	one_request(1);
	T.sring->req_prod += 100;
	xb_event(&T.b, 1);
	expect_be("state", "5");
	assert_int_equal(sim().grant.live_mappings, 0);
	assert_false(X.bound);
	xb_event(&T.b, 0); /* nothing more happens */
	fe_state(XenbusStateClosing);
	assert_int_equal(xb_changed(&T.b), 1);
}

/* Setup errors: no frontend, no frontend-id. */
static void test_xenbus_setup_errors(void **state)
{
	char p[256];

	(void)state;
	be_set("frontend-id", "none");
	assert_int_equal(xb_setup(&T.b), -EINVAL);
	xb_teardown(&T.b);
	assert_string_equal(be_get("state"), "1"); /* untouched */
	snprintf(p, sizeof(p), "%s/frontend", BE);
	node_rm_tree(p);
	assert_int_equal(xb_setup(&T.b), -ENOENT);
	xb_teardown(&T.b);
	assert_string_equal(be_get("state"), "1");
}

/* ---- the program: options, the loop, the last line ---- */

static char img_path[64];
static RING_IDX served_goal;

/* An image file of IMG_SECTORS sectors (@bytes if not 0). */
static void make_image(size_t bytes)
{
	int fd;

	snprintf(img_path, sizeof(img_path), "/tmp/blkback-test-XXXXXX");
	fd = mkstemp(img_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, bytes ? (off_t)bytes
					      : (off_t)IMG_SECTORS * 512),
			 0);
	close(fd);
}

/* Run the program with @args (NULL-terminated); its stdout in @out. */
static int run_main(char *out, size_t outlen, const char *const *args)
{
	char *argv[8];
	FILE *tmp = tmpfile();
	sigset_t sigs;
	int argc = 0, saved, rc;
	size_t n;

	assert_non_null(tmp);
	while (args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	saved = dup(1);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 1) == 1);
	optind = 0; /* getopt_long() starts again */
	/* A program that never ends fails the test, not the whole run. */
	alarm(60);
	rc = blkback_main(argc, argv);
	alarm(0);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, outlen - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);
	return rc;
}

/* The frontend has queued @n one-page WRITEs before the backend runs. */
static void queue_writes(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct blkif_request *r =
			RING_GET_REQUEST(&T.front, T.front.req_prod_pvt);

		memset(gframe(DATA_GFN + i % 4, 0), 0x40 + i, PAGE);
		memset(r, 0, sizeof(*r));
		r->operation = BLKIF_OP_WRITE;
		r->id = 100 + i;
		r->sector_number = i * 8;
		r->nr_segments = 1;
		r->seg[0].gref = T.data_ref + i % 4;
		r->seg[0].last_sect = 7;
		T.front.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS(&T.front);
}

static void check_image(unsigned int n)
{
	uint8_t buf[PAGE], want[PAGE];
	int fd = open(img_path, O_RDONLY);

	assert_true(fd >= 0);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(pread(fd, buf, PAGE, (off_t)i * PAGE), PAGE);
		memset(want, 0x40 + i, PAGE);
		assert_memory_equal(buf, want, PAGE);
	}
	close(fd);
}

static bool frontend_state_is(int st)
{
	char p[256];
	const char *v;

	snprintf(p, sizeof(p), "%s/state", FE);
	v = node_get(p);
	return v && atoi(v) == st;
}

/* Hooks run as the program reads a watch event. */
static void close_when_served(void)
{
	if (T.sring->rsp_prod == served_goal &&
	    !frontend_state_is(XenbusStateClosing))
		fe_state(XenbusStateClosing);
}

static void sigterm_when_served(void)
{
	if (T.sring->rsp_prod == served_goal && !X.fired_signal) {
		X.fired_signal = true;
		raise(SIGTERM); /* blocked: read from the signalfd */
	}
}

static void expect_done(const char *out, const char *counts)
{
	const char *nl = strchr(out, '\n');

	if (!strstr(out, counts))
		print_error("stdout: %s\nexpected: %s\n", out, counts);
	assert_non_null(strstr(out, counts));
	assert_non_null(strstr(out, "mapped_bytes=0 fds_leaked=0\n"));
	/* One line. */
	assert_non_null(nl);
	assert_string_equal(nl + 1, "");
}

static void run_serving(const char *const *args, const char *counts)
{
	char out[512];

	make_image(0);
	fe_state(XenbusStateInitialised);
	queue_writes(3);
	served_goal = 3;
	assert_int_equal(run_main(out, sizeof(out), args), 0);
	unlink(img_path);
	expect_done(out, counts);
	expect_be("state", "6");
}

/* The frontend is Initialised with three WRITEs queued: the program
 * connects, serves them, and ends when the frontend closes. */
static void test_main_serves_and_ends(void **state)
{
	char out[512];
	const char *args[] = { "xen-blkback", BE, img_path, NULL };

	(void)state;
	fe_set("feature-persistent", "1");
	make_image(0);
	fe_state(XenbusStateInitialised);
	queue_writes(3);
	served_goal = 3;
	X.on_event = close_when_served;
	assert_int_equal(run_main(out, sizeof(out), args), 0);
	check_image(3);
	unlink(img_path);
	expect_done(out, "xen-blkback: done requests=3 errors=0 segments=3 ");
	expect_be("state", "6");
	expect_be("feature-persistent", "1");
	assert_true(X.notifies > 0);
}

static void test_main_copy_no_persistent(void **state)
{
	const char *args[] = { "xen-blkback", "--segments", "copy",
			       "--no-persistent", BE, img_path, NULL };

	(void)state;
	X.on_event = close_when_served;
	run_serving(args, "xen-blkback: done requests=3 errors=0 segments=3 "
			  "map_calls=1 unmap_calls=1 ");
	expect_be("feature-persistent", "0");
}

static void test_main_sigterm(void **state)
{
	const char *args[] = { "xen-blkback", BE, img_path, NULL };

	(void)state;
	X.on_event = sigterm_when_served;
	run_serving(args, "xen-blkback: done requests=3 errors=0 segments=3 ");
	assert_true(X.fired_signal);
}

/* The toolstack took the disk away before the frontend came. */
static void test_main_offline_at_once(void **state)
{
	char out[512];
	const char *args[] = { "xen-blkback", BE, img_path, NULL };

	(void)state;
	be_set("online", "0");
	make_image(0);
	assert_int_equal(run_main(out, sizeof(out), args), 0);
	unlink(img_path);
	expect_done(out, "xen-blkback: done requests=0 errors=0 segments=0 "
			 "map_calls=0 unmap_calls=0 ");
	expect_be("state", "6");
}

static void test_main_usage(void **state)
{
	char out[512];
	const char *none[] = { "xen-blkback", NULL };
	const char *one[] = { "xen-blkback", BE, NULL };
	const char *mode[] = { "xen-blkback", "--segments", "map", BE, "x",
			       NULL };
	const char *opt[] = { "xen-blkback", "--persistent", BE, "x", NULL };

	(void)state;
	assert_int_equal(run_main(out, sizeof(out), none), 2);
	assert_string_equal(out, "");
	assert_int_equal(run_main(out, sizeof(out), one), 2);
	assert_int_equal(run_main(out, sizeof(out), mode), 2);
	assert_int_equal(run_main(out, sizeof(out), opt), 2);
	assert_string_equal(out, "");
	assert_string_equal(be_get("state"), "1"); /* untouched */
}

/* Setup errors: exit 2, nothing left behind. */
static void test_main_setup_errors(void **state)
{
	char out[512];
	const char *args[] = { "xen-blkback", BE, img_path, NULL };
	const char *missing[] = { "xen-blkback", BE, "/nonexistent/image",
				  NULL };

	(void)state;
	make_image(1000); /* not a multiple of 512 */
	assert_int_equal(run_main(out, sizeof(out), args), 2);
	unlink(img_path);
	assert_int_equal(run_main(out, sizeof(out), missing), 2);
	be_set("frontend-id", "x");
	make_image(0);
	assert_int_equal(run_main(out, sizeof(out), args), 2);
	unlink(img_path);
	assert_string_equal(be_get("state"), "1");
	assert_non_null(strstr(out, "fds_leaked=0\n"));
}

#define T_(t) cmocka_unit_test_setup_teardown(t, setup_xb, teardown_xb)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_xenbus_nodes_and_watches),
		T_(test_xenbus_persistent_copy_mode),
		T_(test_xenbus_persistent_off),
		T_(test_xenbus_persistent_frontend_without),
		T_(test_xenbus_persistent_negotiated),
		T_(test_xenbus_readonly_info),
		T_(test_xenbus_connect_serve_close),
		T_(test_xenbus_connect_from_connected),
		T_(test_xenbus_two_page_ring),
		T_(test_xenbus_end_frontend_closed),
		T_(test_xenbus_end_online_0),
		T_(test_xenbus_end_toolstack_closing),
		T_(test_xenbus_end_frontend_gone),
		T_(test_xenbus_end_domain_gone),
		T_(test_xenbus_end_before_connect),
		T_(test_xenbus_refuse_protocol),
		T_(test_xenbus_no_protocol_is_native),
		T_(test_xenbus_refuse_missing_ring_ref),
		T_(test_xenbus_refuse_garbage_ring_ref),
		T_(test_xenbus_refuse_bad_ring_ref),
		T_(test_xenbus_refuse_ring_order),
		T_(test_xenbus_refuse_bind),
		T_(test_xenbus_broken_ring),
		T_(test_xenbus_setup_errors),
		T_(test_main_serves_and_ends),
		T_(test_main_copy_no_persistent),
		T_(test_main_sigterm),
		T_(test_main_offline_at_once),
		T_(test_main_usage),
		T_(test_main_setup_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
