/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Signals that are not the library's (issue 11, "chaining is not
 * transparent").
 *
 * Once a GM_SPACE_FAULT_SAFE space exists, the library's SIGBUS/SIGSEGV
 * handler stands in front of whatever disposition the process had.  A
 * signal that is not a fault on guest memory must get exactly what it
 * would have got without the library, and fault-safety must stay on
 * afterwards:
 *  - ignored: a signal sent with kill(), raise(), sigqueue() or tgkill(),
 *    or an action-optional machine check, is dropped; a fault the CPU
 *    raised still kills (the kernel forces it);
 *  - default: the process dies of the signal, sent or raised by the CPU;
 *  - a handler runs with its own sa_mask, SA_NODEFER, SA_RESETHAND,
 *    SA_RESTART and handler form (plain or SA_SIGINFO, with the siginfo).
 *
 * Every scenario needs a process that set its dispositions before its
 * first fault-safe space, and many of them die, so this program runs each
 * one by executing itself with "--child <scenario>" and checks how it
 * ended.  A guest fault is a unix region over a memfd truncated under it;
 * a fault that is not the library's is a load from a PROT_NONE page
 * (SIGSEGV) or from a page past the end of an empty memfd (SIGBUS) of the
 * test's own.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include <guestmem.h>
#include <guestmem/unix.h>

#include "test-util.h"

#define PG 4096u
#define GPA UINT64_C(0x100000)

/*
 * Whether a handler sees the errno of the code it interrupted.  TSan's
 * signal wrapper sets errno to 99 while a handler runs (to catch handlers
 * that spoil it), with or without the library, so under TSan only the
 * errno after the handler is checked.
 */
#if defined(__SANITIZE_THREAD__)
#define HANDLER_SEES_ERRNO 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HANDLER_SEES_ERRNO 0
#endif
#endif
#ifndef HANDLER_SEES_ERRNO
#define HANDLER_SEES_ERRNO 1
#endif


/* ------------------------------------------------------------------ */
/* The scenarios, each in a fresh process                              */
/* ------------------------------------------------------------------ */

/* Exit codes of a scenario that went wrong before the expected end. */
enum {
	CHILD_OK = 0,
	CHILD_SETUP = 10,	/* could not build the layout */
	CHILD_NOT_RECOVERED,	/* a guest fault was not -EFAULT */
	CHILD_NOT_OURS,		/* the library's handler is gone */
	CHILD_NOT_CALLED,	/* the previous handler missed a signal */
	CHILD_WRONG_CALL,	/* ... or got it with the wrong arguments */
	CHILD_WRONG_MASK,	/* ... or under the wrong signal mask */
	CHILD_WRONG_ERRNO,	/* ... or with errno changed */
	CHILD_WRONG_RESTART,	/* a system call restarted, or not */
	CHILD_SURVIVED,		/* a signal that must kill did not */
	CHILD_BAD_SCENARIO,
};

/* A read of @addr the compiler knows nothing about, which no sanitizer
 * intercepts first. */
static int load_at(uintptr_t addr)
{
	int v;

#if defined(__aarch64__)
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
#else
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
#endif
	return v;
}

/* The library's handlers, once the first fault-safe space installed
 * them. */
static struct sigaction lib_bus, lib_segv;

/*
 * A fault-safe space holding a unix region over a memfd truncated to
 * nothing, so that its page raises SIGBUS; the first such space installs
 * the library's handlers, which are recorded.
 */
static struct gm_space *guest(void)
{
	struct gm_region *r = NULL;
	struct gm_space *s = NULL;
	int fd = memfd_create("test-signal-guest", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, PG) ||
	    gm_unix_region_new_fd(GPA, PG, fd, 0, 0, &r) ||
	    gm_space_new(&s, "sig", GM_SPACE_FAULT_SAFE) ||
	    gm_space_add_region(s, r) || gm_write_u8(s, GPA, 1) ||
	    ftruncate(fd, 0))
		_exit(CHILD_SETUP);
	close(fd); /* the region keeps its own */
	if (sigaction(SIGBUS, NULL, &lib_bus) ||
	    sigaction(SIGSEGV, NULL, &lib_segv) ||
	    !(lib_bus.sa_flags & SA_SIGINFO) ||
	    !(lib_segv.sa_flags & SA_SIGINFO))
		_exit(CHILD_SETUP);
	return s;
}

/*
 * Fault-safety is still on: the library's handlers are installed, and a
 * guest fault fails the access with -EFAULT instead of killing (or of
 * reaching a handler of the test's).
 */
static void still_safe(struct gm_space *s)
{
	struct sigaction bus, segv;
	uint64_t v;

	if (sigaction(SIGBUS, NULL, &bus) || sigaction(SIGSEGV, NULL, &segv))
		_exit(CHILD_SETUP);
	if (bus.sa_sigaction != lib_bus.sa_sigaction ||
	    segv.sa_sigaction != lib_segv.sa_sigaction)
		_exit(CHILD_NOT_OURS);
	if (gm_read_u64(s, GPA + 8, &v) != -EFAULT)
		_exit(CHILD_NOT_RECOVERED);
}

/* A page of the test's own, not guest memory, whose loads fault: PROT_NONE
 * anonymous memory (SIGSEGV) or past the end of an empty memfd (SIGBUS). */
static uint8_t *bad_page(int sig)
{
	void *p;
	int fd;

	if (sig == SIGSEGV) {
		p = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	} else {
		fd = memfd_create("test-signal-empty", MFD_CLOEXEC);
		p = fd < 0 ? MAP_FAILED
			   : mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
		if (fd >= 0)
			close(fd);
	}
	if (p == MAP_FAILED)
		_exit(CHILD_SETUP);
	return p;
}

/* Queue @sig with code @code and address @addr to this thread, as the
 * kernel sends a machine check (a process may do so to itself only). */
static void queue_code(int sig, int code, void *addr)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = code;
	si.si_addr = addr;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig,
		    &si))
		_exit(CHILD_SETUP);
}

/* How many times the test's own handler ran (in any thread), and what it
 * saw on its last call. */
static atomic_int calls;
static volatile sig_atomic_t got_sig, got_code, got_value, got_errno,
	got_pid, depth, max_depth;
static void *volatile got_addr;
static volatile sig_atomic_t got_uc, blocked_self, blocked_extra,
	blocked_outer;
/* The signal its sa_mask holds (besides what a scenario adds). */
static int extra_sig;
/* Where it jumps to when the signal would recur on return (a fault). */
static sigjmp_buf env;
static volatile sig_atomic_t jump;

static void record_mask(int sig)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	blocked_self = sigismember(&cur, sig) == 1;
	blocked_extra = sigismember(&cur, extra_sig) == 1;
	blocked_outer = sigismember(&cur, SIGWINCH) == 1;
}

static void plain_handler(int sig)
{
	got_errno = errno;
	calls++;
	got_sig = sig;
	record_mask(sig);
	if (jump)
		siglongjmp(env, 1);
}

static void info_handler(int sig, siginfo_t *si, void *uc)
{
	got_errno = errno;
	calls++;
	got_sig = sig;
	got_code = si->si_code;
	got_addr = si->si_addr;
	got_value = si->si_code == SI_QUEUE ? si->si_value.sival_int : -1;
	got_pid = si->si_code <= 0 ? si->si_pid : -1;
	got_uc = uc != NULL;
	record_mask(sig);
	/* SA_NODEFER: the same signal, raised in the handler, runs it
	 * again at once, nested. */
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	if (depth == 1 && sig == SIGBUS && got_code == SI_TKILL &&
	    !blocked_self)
		raise(SIGBUS);
	depth--;
	if (jump)
		siglongjmp(env, 1);
}

/* Install the test's own handler for @sig, with @flags, and @extra_sig in
 * its sa_mask. */
static void set_handler(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = info_handler;
	else
		sa.sa_handler = plain_handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, extra_sig);
	if (sigaction(sig, &sa, NULL))
		_exit(CHILD_SETUP);
}

static void set_disposition(int sig, void (*h)(int))
{
	if (signal(sig, h) == SIG_ERR)
		_exit(CHILD_SETUP);
}

/* The test's handler ran once more, for @sig, under its sa_mask, with the
 * interrupted code's errno. */
static void assert_called(int before, int sig, int want_self_blocked)
{
	if (calls != before + 1)
		_exit(CHILD_NOT_CALLED);
	if (got_sig != sig)
		_exit(CHILD_WRONG_CALL);
	if (!blocked_extra || blocked_self != want_self_blocked)
		_exit(CHILD_WRONG_MASK);
}

/* Raise @sig the way that returns to the caller when the handler does:
 * errno must reach the handler and come back unchanged. */
static void raise_keeping_errno(int sig)
{
	errno = 4242;
	raise(sig);
	if (errno != 4242 || (HANDLER_SEES_ERRNO && got_errno != 4242))
		_exit(CHILD_WRONG_ERRNO);
}

/* A fault of the test's own on @sig's bad page: the test's handler must
 * take it and jump out. */
static void own_fault(int sig, uint8_t *page)
{
	int before = calls;

	jump = 1;
	if (!sigsetjmp(env, 1)) {
		load_at((uintptr_t)page + 12);
		_exit(CHILD_NOT_CALLED);
	}
	jump = 0;
	assert_called(before, sig, 1);
}

/* A thread blocked in read() on a pipe, and what its read() returned. */
static int pipe_fd[2];
static atomic_int reader_tid;
static volatile ssize_t read_ret;
static volatile int read_errno;

static void *reader(void *arg)
{
	char c;

	(void)arg;
	reader_tid = (int)syscall(SYS_gettid);
	read_ret = read(pipe_fd[0], &c, 1);
	read_errno = errno;
	return NULL;
}

/*
 * Whether thread @tid is inside read() now: the file starts with the
 * system call's number, SYS_read.  Under qemu-user it is the host's
 * number, as the emulator makes the call: 0, x86-64's read(), is
 * accepted too (0 is io_setup() on aarch64, which nothing here calls).
 */
static int in_read(pid_t tid)
{
	char path[64], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		_exit(CHILD_SETUP);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return atol(buf) == SYS_read || (buf[0] == '0' && buf[1] == ' ');
}

/*
 * SIGBUS sent to a thread blocked in read(): with the test's handler
 * installed with or without SA_RESTART (@flags), read() must restart or
 * fail with EINTR as it would without the library.
 */
static int restart(int flags)
{
	struct gm_space *s;
	pthread_t t;
	int before;

	set_handler(SIGBUS, SA_SIGINFO | flags);
	s = guest();
	before = calls;
	if (pipe(pipe_fd) || pthread_create(&t, NULL, reader, NULL))
		return CHILD_SETUP;
	/* Until it sleeps in read(); the scenario's alarm() bounds it. */
	while (!reader_tid || !in_read(reader_tid))
		sched_yield();
	pthread_kill(t, SIGBUS);
	while (calls == before)
		sched_yield();
	/* The handler has run; a restarted read() gets this byte. */
	if (write(pipe_fd[1], "x", 1) != 1)
		return CHILD_SETUP;
	pthread_join(t, NULL);
	if (flags & SA_RESTART) {
		if (read_ret != 1)
			return CHILD_WRONG_RESTART;
	} else if (read_ret != -1 || read_errno != EINTR) {
		return CHILD_WRONG_RESTART;
	}
	still_safe(s);
	gm_space_free(s);
	return CHILD_OK;
}

/* Run one scenario; returns its exit code, unless it is expected to die. */
static int child(const char *what)
{
	struct rlimit no_core = { 0, 0 };
	struct gm_space *s = NULL;
	union sigval val = { .sival_int = 77 };
	uint8_t *segv_page = bad_page(SIGSEGV), *bus_page = bad_page(SIGBUS);
	sigset_t set;
	int before;

	setrlimit(RLIMIT_CORE, &no_core);
	/* A scenario that hangs (a fault retried forever) fails. */
	alarm(30);
	/* Sanitizer runtimes install handlers of their own at start-up:
	 * every scenario starts from the default. */
	set_disposition(SIGSEGV, SIG_DFL);
	set_disposition(SIGBUS, SIG_DFL);
	extra_sig = SIGUSR1;

	if (!strcmp(what, "ignored-sent")) {
		/* Ignored signals sent every way are dropped. */
		set_disposition(SIGBUS, SIG_IGN);
		set_disposition(SIGSEGV, SIG_IGN);
		s = guest();
		raise(SIGBUS);
		still_safe(s);
		kill(getpid(), SIGBUS);
		sigqueue(getpid(), SIGBUS, val);
		syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSEGV);
		raise(SIGSEGV);
		still_safe(s);
		gm_space_free(s);
		return CHILD_OK;
	}
	if (!strcmp(what, "ignored-fault-segv") ||
	    !strcmp(what, "ignored-fault-bus")) {
		/* A fault the CPU raised kills even when ignored. */
		int sig = strcmp(what, "ignored-fault-segv") ? SIGBUS : SIGSEGV;

		set_disposition(sig, SIG_IGN);
		s = guest();
		load_at((uintptr_t)(sig == SIGSEGV ? segv_page : bus_page));
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "ignored-mce-ao")) {
		/* An action-optional machine check is not a fault of the
		 * interrupted instruction: ignored, it is dropped. */
		set_disposition(SIGBUS, SIG_IGN);
		s = guest();
		queue_code(SIGBUS, BUS_MCEERR_AO, bus_page);
		still_safe(s);
		gm_space_free(s);
		return CHILD_OK;
	}
	if (!strcmp(what, "default-kill-segv")) {
		s = guest();
		kill(getpid(), SIGSEGV);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "default-queue-bus")) {
		s = guest();
		sigqueue(getpid(), SIGBUS, val);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "default-fault-segv")) {
		s = guest();
		load_at((uintptr_t)segv_page);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "default-mce-ao")) {
		s = guest();
		queue_code(SIGBUS, BUS_MCEERR_AO, bus_page);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "plain")) {
		/* Plain handlers: the signal number only, under sa_mask
		 * plus the signal itself. */
		set_handler(SIGBUS, 0);
		set_handler(SIGSEGV, 0);
		s = guest();
		before = calls;
		raise_keeping_errno(SIGBUS);
		assert_called(before, SIGBUS, 1);
		still_safe(s);
		before = calls;
		raise_keeping_errno(SIGSEGV);
		assert_called(before, SIGSEGV, 1);
		own_fault(SIGSEGV, segv_page);
		own_fault(SIGBUS, bus_page);
		if (calls != before + 3)
			return CHILD_WRONG_CALL;
		still_safe(s);
		gm_space_free(s);
		return CHILD_OK;
	}
	if (!strcmp(what, "siginfo")) {
		/* SA_SIGINFO handlers: the siginfo as the kernel made it. */
		extra_sig = SIGUSR2;
		set_handler(SIGBUS, SA_SIGINFO);
		set_handler(SIGSEGV, SA_SIGINFO);
		s = guest();
		before = calls;
		/* What the interrupted code blocked stays blocked. */
		sigemptyset(&set);
		sigaddset(&set, SIGWINCH);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		errno = 4242;
		sigqueue(getpid(), SIGBUS, val);
		assert_called(before, SIGBUS, 1);
		if (!blocked_outer)
			return CHILD_WRONG_MASK;
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		if (got_code != SI_QUEUE || got_value != 77 ||
		    got_pid != getpid() || !got_uc)
			return CHILD_WRONG_CALL;
		if (errno != 4242 ||
		    (HANDLER_SEES_ERRNO && got_errno != 4242))
			return CHILD_WRONG_ERRNO;
		still_safe(s);
		queue_code(SIGBUS, BUS_MCEERR_AO, bus_page + 8);
		assert_called(before + 1, SIGBUS, 1);
		if (got_code != BUS_MCEERR_AO || got_addr != bus_page + 8)
			return CHILD_WRONG_CALL;
		own_fault(SIGSEGV, segv_page);
		if (got_code != SEGV_ACCERR || got_addr != segv_page + 12)
			return CHILD_WRONG_CALL;
		own_fault(SIGBUS, bus_page);
		if (got_code != BUS_ADRERR || got_addr != bus_page + 12)
			return CHILD_WRONG_CALL;
		still_safe(s);
		gm_space_free(s);
		return CHILD_OK;
	}
	if (!strcmp(what, "nodefer")) {
		/* SA_NODEFER: the signal is not blocked in its handler, and
		 * raised there it nests. */
		set_handler(SIGBUS, SA_SIGINFO | SA_NODEFER);
		s = guest();
		before = calls;
		raise(SIGBUS);
		if (calls != before + 2 || max_depth != 2)
			return CHILD_WRONG_MASK;
		if (blocked_self || !blocked_extra)
			return CHILD_WRONG_MASK;
		still_safe(s);
		gm_space_free(s);
		return CHILD_OK;
	}
	if (!strcmp(what, "resethand")) {
		/* SA_RESETHAND: the handler runs once; the next SIGBUS gets
		 * the default action and kills. */
		set_handler(SIGBUS, SA_SIGINFO | SA_RESETHAND);
		s = guest();
		before = calls;
		raise(SIGBUS);
		assert_called(before, SIGBUS, 1);
		still_safe(s);
		/* The parent checks that the scenario got this far. */
		if (write(STDOUT_FILENO, "first\n", 6) != 6)
			return CHILD_SETUP;
		raise(SIGBUS);
		return CHILD_SURVIVED;
	}
	if (!strcmp(what, "restart-on"))
		return restart(SA_RESTART);
	if (!strcmp(what, "restart-off"))
		return restart(0);
	return CHILD_BAD_SCENARIO;
}

/* ------------------------------------------------------------------ */
/* The tests                                                           */
/* ------------------------------------------------------------------ */

/*
 * Run scenario @what in a fresh process; return its wait status, and what
 * it wrote to its standard output in @out (@len bytes, NUL-terminated).
 */
static int run_child(const char *what, char *out, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int status, fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = test_spawn_self(fds[1], (const char *const[]){ what, NULL });
	assert_true(pid >= 0);
	close(fds[1]);
	while (got + 1 < len &&
	       (n = read(fds[0], out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Scenario @what must exit with CHILD_OK. */
static void assert_ok(const char *what)
{
	char out[256];
	int status = run_child(what, out, sizeof(out));

	if (WIFSIGNALED(status))
		print_error("scenario %s died of signal %d\n", what,
			    WTERMSIG(status));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != CHILD_OK)
		print_error("scenario %s exited with %d\n", what,
			    WEXITSTATUS(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

/* Scenario @what must die of @sig, having written @said. */
static void assert_killed_by(const char *what, int sig, const char *said)
{
	char out[256];
	int status = run_child(what, out, sizeof(out));

	if (WIFEXITED(status))
		print_error("scenario %s exited with %d\n", what,
			    WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
	assert_string_equal(out, said);
}

/*
 * A process that ignores SIGBUS and SIGSEGV keeps ignoring them once it has
 * a fault-safe space: raise(), kill(), sigqueue() and tgkill() do not kill
 * it, and guest faults are still recovered afterwards.
 */
static void test_signal_ignored_sent_is_dropped(void **state)
{
	(void)state;
	assert_ok("ignored-sent");
}

/*
 * Ignoring a fault the CPU raises does not keep the process alive: the
 * kernel forces the default action, and so does the library for a fault
 * of the program's own.
 */
static void test_signal_ignored_fault_kills(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	assert_killed_by("ignored-fault-segv", SIGSEGV, "");
	assert_killed_by("ignored-fault-bus", SIGBUS, "");
}

/*
 * An action-optional machine check (BUS_MCEERR_AO, queued by the process
 * to itself as the kernel would send it) is dropped when SIGBUS is
 * ignored, and fault-safety stays on; with the default it kills.
 */
static void test_signal_mce_ao(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	assert_ok("ignored-mce-ao");
	assert_killed_by("default-mce-ao", SIGBUS, "");
}

/*
 * With the default disposition, a SIGSEGV or SIGBUS that is not on guest
 * memory kills the process with that signal, whether sent or raised by
 * the CPU.
 */
static void test_signal_default_kills(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	assert_killed_by("default-kill-segv", SIGSEGV, "");
	assert_killed_by("default-queue-bus", SIGBUS, "");
	assert_killed_by("default-fault-segv", SIGSEGV, "");
}

/*
 * Plain handlers get the signals that are not the library's, sent or
 * raised by the CPU, under their sa_mask plus the signal, with errno as
 * the interrupted code left it; fault-safety stays on.
 */
static void test_signal_plain_handler(void **state)
{
	(void)state;
	assert_ok("plain");
}

/*
 * SA_SIGINFO handlers get the siginfo the kernel made (SI_QUEUE with its
 * value and sender, a machine check's code and address, a fault's code and
 * address) and the context, under their sa_mask plus the signal.
 */
static void test_signal_siginfo_handler(void **state)
{
	(void)state;
	skip_if_emulated(EMU_SELF_FAULT);
	assert_ok("siginfo");
}

/* SA_NODEFER: the signal stays unblocked in its handler, which nests. */
static void test_signal_nodefer(void **state)
{
	(void)state;
	assert_ok("nodefer");
}

/*
 * SA_RESETHAND: the first SIGBUS runs the handler, and fault-safety stays
 * on; the second gets the default action and kills.
 */
static void test_signal_resethand(void **state)
{
	(void)state;
	assert_killed_by("resethand", SIGBUS, "first\n");
}

/*
 * SA_RESTART as the previous handler had it: a read() interrupted by a
 * SIGBUS sent to its thread restarts, or fails with EINTR.
 */
static void test_signal_restart(void **state)
{
	(void)state;
	skip_if_emulated("qemu-user 7.2 makes a system call that a SIGBUS "
			 "sent with pthread_kill() interrupts fail with EINTR "
			 "even under SA_RESTART (so does a program without "
			 "the library; SIGUSR1 restarts)");
	assert_ok("restart-on");
	assert_ok("restart-off");
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_ignored_sent_is_dropped),
		cmocka_unit_test(test_signal_ignored_fault_kills),
		cmocka_unit_test(test_signal_mce_ao),
		cmocka_unit_test(test_signal_default_kills),
		cmocka_unit_test(test_signal_plain_handler),
		cmocka_unit_test(test_signal_siginfo_handler),
		cmocka_unit_test(test_signal_nodefer),
		cmocka_unit_test(test_signal_resethand),
		cmocka_unit_test(test_signal_restart),
	};
	struct gm_space *s;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
#if !defined(__x86_64__) && !defined(__aarch64__)
	printf("test-signal: skipped, GM_SPACE_FAULT_SAFE is x86-64 and "
	       "aarch64 only\n");
	return 77;
#endif
	if (test_self_init())
		return 1;
	ret = gm_space_new(&s, "probe", GM_SPACE_FAULT_SAFE);
	if (ret) {
		printf("test-signal: skipped, GM_SPACE_FAULT_SAFE fails: %s\n",
		       strerror(-ret));
		return 77;
	}
	gm_space_free(s);
	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
