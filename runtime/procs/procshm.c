// SPDX-License-Identifier: MIT
/* Waiting on the shared mapping of a pool of worker processes: futexes on
 * words that the program and its workers share (not FUTEX_PRIVATE), and
 * the pool's bell, which a worker rings to wake a program that sleeps
 * waiting for completions. The program side (procexec.c, procs.c) and
 * the workers' side (procworker.c) both use them, so they sit apart from
 * either: the protocol's layout is procs_internal.h. */
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/procs/procs_internal.h"

void hamr__futex_wait(atomic_uint *addr, unsigned val, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	/* not FUTEX_PRIVATE: the word is shared between processes */
	syscall(SYS_futex, addr, FUTEX_WAIT, val, tp, NULL, 0);
}

void hamr__futex_wake(atomic_uint *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

void hamr__bell_ring(hamr__shm *shm)
{
	/* seq_cst: pairs with the waiter's increment of bell_waiters before
	 * it reads the bell and looks at the rings (Dekker) */
	atomic_thread_fence(memory_order_seq_cst);
	/* relaxed: ordered by the fence */
	if (atomic_load_explicit(&shm->bell_waiters, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&shm->bell, 1, memory_order_seq_cst);
		hamr__futex_wake(&shm->bell, INT_MAX);
	}
}
