/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SIGBUS/SIGSEGV handler behind fault-safe spaces (see fault.h).
 *
 * Installed once per process, when the first space with
 * GM_SPACE_FAULT_SAFE is created; this is the one piece of process-wide
 * state that option installs.  A fault at an instruction listed in the
 * exception table is ours: record the address and resume at the fixup.
 * Any other fault goes to whatever handler was installed before ours, or
 * gets the default action, exactly as if we were not there.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "fault.h"

__thread uintptr_t gm__fault_addr __attribute__((tls_model("initial-exec")));

#ifdef GM_HAVE_FAULT_SAFE

/* Each field is the target's offset from the field itself. */
struct extable {
	int32_t insn;
	int32_t fixup;
};

/* Provided by the linker for the section; hidden: ours, not a caller's. */
extern const struct extable __start_gm_extable[]
	__attribute__((visibility("hidden")));
extern const struct extable __stop_gm_extable[]
	__attribute__((visibility("hidden")));

static struct sigaction old_bus, old_segv;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_err;

/* Give the fault to whoever would have had it without us. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, si, uc);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/*
	 * Default action (the kernel forces it for an ignored synchronous
	 * fault, too): restore it and return, so that the faulting
	 * instruction faults again and the process dies of the real signal.
	 * A signal someone sent with kill() does not recur: re-raise it.
	 */
	signal(sig, SIG_DFL);
	if (si->si_code <= 0)
		raise(sig);
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	const struct extable *e;

	/* Only a fault the CPU raised at one of our instructions is ours. */
	if (si->si_code > 0) {
		for (e = __start_gm_extable; e < __stop_gm_extable; e++) {
			if ((uintptr_t)&e->insn + (uintptr_t)(intptr_t)e->insn
			    == ip) {
				gm__fault_addr = (uintptr_t)si->si_addr;
				uc->uc_mcontext.gregs[REG_RIP] =
					(greg_t)((uintptr_t)&e->fixup +
						 (uintptr_t)(intptr_t)e->fixup);
				return;
			}
		}
	}
	chain(sig, si, ucv);
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	/* SA_ONSTACK: keep working on a thread that set up an alternate
	 * stack for its own stack overflows. */
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old_bus) ||
	    sigaction(SIGSEGV, &sa, &old_segv))
		init_err = -errno;
}

int gm__fault_init(void)
{
	pthread_once(&once, install);
	return init_err;
}

#else /* !GM_HAVE_FAULT_SAFE */

int gm__fault_init(void)
{
	return -EOPNOTSUPP;
}

#endif
