/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program that dlopen()s libguestmem, creates a fault-safe space, frees
 * it and dlclose()s the library (issue 11): its own SIGSEGV handler, there
 * before the library, must still run on its next SIGSEGV.  If dlclose()
 * unloaded the library, the process-wide handlers it installed would point
 * into unmapped text, and that SIGSEGV would kill it instead.
 *
 * The program loads the shared library itself ($top_builddir/.libs/
 * libguestmem.so), so it links neither libguestmem nor its static core,
 * and skips when the shared library was not built (--disable-shared, as
 * the sanitizer builds configure).  The scenario runs in a fresh process,
 * which executes this program with "--child".
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <guestmem.h>

#include "test-util.h"

#define PG 4096u

/* This program, and the shared library it loads. */
static char lib[PATH_MAX];

/* Exit codes of a scenario that went wrong before the expected end. */
enum {
	CHILD_OK = 0,
	CHILD_SETUP = 10,	/* could not build the layout */
	CHILD_NO_LIBRARY,	/* dlopen() or dlsym() failed */
	CHILD_NOT_FAULT_SAFE,	/* gm_space_new() refused the flag */
	CHILD_NOT_CALLED,	/* the program's handler missed its SIGSEGV */
	CHILD_WRONG_CALL,	/* ... or got it with the wrong arguments */
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

static volatile sig_atomic_t got_sig;
static void *volatile got_addr;
static sigjmp_buf env;

static void own_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_addr = si->si_addr;
	siglongjmp(env, 1);
}

/*
 * Install the program's handler, load the library, create and free a
 * fault-safe space, unload the library, then fault on a PROT_NONE page of
 * the program's own: the handler must get that SIGSEGV.
 */
static int child(void)
{
	struct rlimit no_core = { 0, 0 };
	int (*space_new)(struct gm_space **, const char *, unsigned int);
	void (*space_free)(struct gm_space *);
	struct gm_space *s = NULL;
	struct sigaction sa;
	uint8_t *page;
	void *h;

	setrlimit(RLIMIT_CORE, &no_core);
	alarm(30); /* a hang is a failure */
	page = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return CHILD_SETUP;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL))
		return CHILD_SETUP;

	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return CHILD_NO_LIBRARY;
	}
	*(void **)&space_new = dlsym(h, "gm_space_new");
	*(void **)&space_free = dlsym(h, "gm_space_free");
	if (!space_new || !space_free)
		return CHILD_NO_LIBRARY;
	if (space_new(&s, "dlclose", GM_SPACE_FAULT_SAFE))
		return CHILD_NOT_FAULT_SAFE;
	space_free(s);
	if (dlclose(h))
		return CHILD_SETUP;

	if (!sigsetjmp(env, 1)) {
		load_at((uintptr_t)page + 20);
		return CHILD_NOT_CALLED;
	}
	if (got_sig != SIGSEGV || got_addr != page + 20)
		return CHILD_WRONG_CALL;
	munmap(page, PG);
	return CHILD_OK;
}

/*
 * After dlopen(), a fault-safe space and dlclose(), the program's own
 * SIGSEGV handler still gets its SIGSEGV, with its siginfo.
 */
static void test_dlclose_keeps_own_handler(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = test_spawn_self(-1, (const char *const[]){ NULL });
	assert_true(pid >= 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		print_error("the scenario died of signal %d\n",
			    WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlclose_keeps_own_handler),
	};
	const char *top = getenv("top_builddir");

	/* Set by "make check"; run by hand, the build tree this program was
	 * built in. */
	if (!top)
		top = GM_ABS_TOP_BUILDDIR;
	snprintf(lib, sizeof(lib), "%s/.libs/libguestmem.so", top);
	if (argc == 2 && !strcmp(argv[1], "--child"))
		return child();
#if !defined(__x86_64__) && !defined(__aarch64__)
	printf("test-dlclose: skipped, GM_SPACE_FAULT_SAFE is x86-64 and "
	       "aarch64 only\n");
	return 77;
#endif
	if (access(lib, R_OK)) {
		printf("test-dlclose: skipped, no shared library %s (built "
		       "with --disable-shared?)\n", lib);
		return 77;
	}
	if (test_self_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
