/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SIGBUS/SIGSEGV handler behind fault-safe spaces (see fault.h).
 *
 * Installed once per process, when the first space with
 * GM_SPACE_FAULT_SAFE is created; this is the one piece of process-wide
 * state that option installs.  A fault at an instruction listed in the
 * exception table is ours: record the address and resume at the fixup.
 * Any other fault goes to whatever handler was installed before ours, or
 * gets the default action, exactly as if we were not there.  The handlers
 * stay for the life of the process, and so does the shared library, which
 * is linked with -z nodelete: dlclose() must not leave them pointing into
 * unmapped code.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

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

/*
 * What one signal had before our handler, and our handler for it.  The
 * previous disposition is read once, when the handler is installed.
 */
struct chained {
	struct sigaction old;	/* the disposition we stand in for */
	struct sigaction ours;	/* ours, to put back if a default action
				 * did not kill the process */
	atomic_bool spent;	/* old had SA_RESETHAND and was delivered */
};

static struct chained chained_bus, chained_segv;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_err;

/*
 * Whether the CPU raised @sig at the interrupted instruction, so that the
 * kernel forces it (force_sig(): an ignored or blocked fault still gets
 * the default action).  A signal a process sent (kill(), sigqueue(),
 * tgkill(): si_code <= 0) is not, nor is an action-optional machine check,
 * which reports memory that went bad somewhere, not an access of this
 * instruction.  A process can queue a fault's code to itself
 * (rt_tgsigqueueinfo()); that is indistinguishable from the real fault and
 * is treated as one.
 */
static bool synchronous(int sig, const siginfo_t *si)
{
	if (si->si_code <= 0)
		return false;
	return !(sig == SIGBUS && si->si_code == BUS_MCEERR_AO);
}

/*
 * Take the default action of @sig, terminate with a core dump, as the
 * kernel would have without us: with the default disposition back, the
 * same siginfo is queued to this thread and unblocked, which kills the
 * process there and then, with the signal's own code and address in the
 * core.  Returning to re-execute the faulting instruction instead would
 * kill only if it faults again, which a signal that was sent, a fault's
 * code queued by the process itself, or a page that another thread maps
 * back in the meantime do not; the process would then live on without
 * fault-safety.  Only a process that survives this (a tracer suppressed
 * the signal, or another thread installed a handler meanwhile) sees the
 * disposition change, so ours is put back: fault-safety stays on.  A fault
 * then recurs when the handler returns, as it would without us.
 */
static void take_default(int sig, siginfo_t *si, struct chained *c)
{
	struct sigaction dfl;
	sigset_t set;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigaction(sig, &dfl, NULL);
	/* Queued while blocked: it is delivered when unblocked below.  A
	 * process may queue any code to its own threads. */
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig,
		    si))
		raise(sig); /* the same signal without the details */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Not over a handler that another thread installed meanwhile. */
	if (!sigaction(sig, NULL, &dfl) && dfl.sa_handler == SIG_DFL)
		sigaction(sig, &c->ours, NULL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Give a signal that is not ours to the disposition it would have had
 * without us: dropped if it was ignored (unless the CPU raised it), the
 * default action, or the previous handler run as the kernel would run it.
 * Async-signal-safe throughout: no lock, no allocation; errno is kept.
 */
static void chain(int sig, siginfo_t *si, void *ucv)
{
	struct chained *c = sig == SIGBUS ? &chained_bus : &chained_segv;
	const struct sigaction *old = &c->old;
	ucontext_t *uc = ucv;
	sigset_t mask, saved;
	int err = errno, s;

	/* SIG_IGN and SIG_DFL are the same whether or not SA_SIGINFO is
	 * set: the kernel looks at the one handler field either way. */
	if (old->sa_handler == SIG_IGN) {
		/* The kernel drops an ignored signal when it is sent. */
		if (synchronous(sig, si))
			take_default(sig, si, c);
		errno = err;
		return;
	}
	/* SA_RESETHAND: the kernel resets the disposition to SIG_DFL as it
	 * delivers the signal, so only one delivery runs the handler, even
	 * if two threads fault at once.  Relaxed: the flag guards no other
	 * data. */
	if (old->sa_handler == SIG_DFL ||
	    ((old->sa_flags & SA_RESETHAND) &&
	     atomic_exchange_explicit(&c->spent, true, memory_order_relaxed))) {
		take_default(sig, si, c);
		errno = err;
		return;
	}

	/*
	 * Run it under the mask the kernel would have set: the interrupted
	 * code's (uc_sigmask, which never holds the signal delivered), plus
	 * its sa_mask, plus the signal itself unless SA_NODEFER.  Ours, in
	 * force now, adds only the signal itself.  Only the kernel's 64
	 * signals of uc_sigmask are meaningful (glibc's sigset_t is larger
	 * than the kernel's, and the rest of it overlays the signal frame),
	 * hence the loop.  The handler runs on the stack ours runs on: the
	 * alternate stack if the thread has one, whatever its own
	 * SA_ONSTACK says.
	 */
	mask = old->sa_mask;
	for (s = 1; s < NSIG; s++)
		if (sigismember(&uc->uc_sigmask, s) == 1)
			sigaddset(&mask, s);
	if (!(old->sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	pthread_sigmask(SIG_SETMASK, &mask, &saved);
	errno = err;
	if (old->sa_flags & SA_SIGINFO)
		old->sa_sigaction(sig, si, ucv);
	else
		old->sa_handler(sig);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	errno = err;
}

/* The interrupted instruction's address in a signal's context: the
 * handler reads it, and writes the fixup there to resume at it. */
#if defined(__x86_64__)
#define UC_PC(uc) ((uc)->uc_mcontext.gregs[REG_RIP])
#elif defined(__aarch64__)
#define UC_PC(uc) ((uc)->uc_mcontext.pc)
#endif

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t ip = (uintptr_t)UC_PC(uc);
	const struct extable *e;

	/* Only a fault the CPU raised at one of our instructions is ours. */
	if (si->si_code > 0) {
		for (e = __start_gm_extable; e < __stop_gm_extable; e++) {
			if ((uintptr_t)&e->insn + (uintptr_t)(intptr_t)e->insn
			    == ip) {
				gm__fault_addr = (uintptr_t)si->si_addr;
				UC_PC(uc) = (__typeof__(UC_PC(uc)))(
					(uintptr_t)&e->fixup +
					(uintptr_t)(intptr_t)e->fixup);
				return;
			}
		}
	}
	chain(sig, si, ucv);
}

/*
 * Install our handler for @sig, remembering what it replaces.  The previous
 * disposition is read before ours goes in, so that a fault in another
 * thread never finds it unrecorded.
 */
static int install_one(int sig, struct chained *c)
{
	if (sigaction(sig, NULL, &c->old))
		return -errno;
	memset(&c->ours, 0, sizeof(c->ours));
	c->ours.sa_sigaction = handler;
	/*
	 * SA_ONSTACK: keep working on a thread that set up an alternate
	 * stack for its own stack overflows.  SA_RESTART as the previous
	 * handler had it: whether a system call interrupted by a signal sent
	 * with kill() fails with EINTR or restarts is the previous
	 * handler's choice.  An ignored signal never interrupted anything,
	 * so restart.
	 */
	c->ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (c->old.sa_handler == SIG_IGN || c->old.sa_handler == SIG_DFL)
		c->ours.sa_flags |= SA_RESTART;
	else
		c->ours.sa_flags |= c->old.sa_flags & SA_RESTART;
	sigemptyset(&c->ours.sa_mask);
	if (sigaction(sig, &c->ours, NULL))
		return -errno;
	return 0;
}

static void install(void)
{
	init_err = install_one(SIGBUS, &chained_bus);
	if (!init_err)
		init_err = install_one(SIGSEGV, &chained_segv);
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
