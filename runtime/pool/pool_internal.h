/* SPDX-License-Identifier: MIT */
/* Internal: what the executors use of the pool beyond include/hamr/pool.h:
 * pushing onto the calling worker's deque, and submitting from outside
 * without waiting. */
#ifndef HAMR_RUNTIME_POOL_INTERNAL_H
#define HAMR_RUNTIME_POOL_INTERNAL_H

#include <stdatomic.h>
#include <urcu/wfcqueue.h>

#include <pthread.h>
#include <stdint.h>

#include "hamr/pool.h"
#include "runtime/pool/deque_internal.h"
#include "runtime/pool/task_internal.h"

typedef struct hamr__worker hamr__worker;

/* A job submitted from outside the pool; it runs fn(arg) on some worker.
 * The job's memory must stay valid until fn has started. */
typedef struct hamr__job {
	struct cds_wfcq_node node;
	hamr_task_fn fn;
	void *arg;
} hamr__job;

/* The calling thread's worker, or NULL when it is not a pool worker. */
hamr__worker *hamr__worker_self(void);

/* The worker's pool. */
hamr_pool *hamr__worker_pool(const hamr__worker *w);

/* Pushes task t (its function set with hamr__task_set_fn) onto worker w's
 * deque, which must be the caller's own, and wakes a parked worker if any.
 * The task is detached: nobody syncs on it, and the pool never touches t
 * once its function has started, so t may be freed by the function itself
 * or by whatever it finishes. When the deque cannot grow, runs t at once
 * instead. */
void hamr__worker_push(hamr__worker *w, hamr_task *t);

/* Runs t (a task popped or stolen) on worker w, counting it. */
void hamr__worker_run(hamr__worker *w, hamr_task *t);

/* Queues job for p without waiting for it; wait-free for the caller. */
void hamr__pool_submit(hamr_pool *p, hamr__job *job);

/* Runs tasks on w (its own, the queue's, stolen ones) until *state holds
 * `value` (acquire): how a worker waits for something its own pool must
 * finish, such as a run started inside a node, without blocking it. */
void hamr__worker_help(hamr__worker *w, atomic_int *state, int value);

/* Whether every worker of p sleeps (a hint): a thread about to wait for
 * p then sleeps at once instead of spinning. */
int hamr__pool_all_parked(hamr_pool *p);

/* The calling thread, which is no worker, takes the place of an idle
 * worker of p (one whose thread sleeps, first): it becomes that worker
 * (hamr__worker_self, its deque, its index) until hamr__pool_release,
 * while the worker's own thread sleeps. So a thread that starts a run and
 * would only wait for it runs it, without the two thread switches of
 * handing it over. NULL when no worker is idle, the caller is a worker
 * already, p is another process's, work is queued for p, or a node would
 * see another thread than the worker's (a smaller stack, a pinned worker,
 * a worker-local resource). */
hamr__worker *hamr__pool_claim(hamr_pool *p);

/* The holder of w's place (a caller, hamr__pool_claim) goes on as the
 * worker until *state holds `value` (acquire), or until it has found
 * nothing to run for the pool's spin time, as an idle worker looks before
 * it sleeps: it runs its own tasks and steals, counted idle while it
 * finds nothing, so that others offer it work. */
void hamr__worker_help_briefly(hamr__worker *w, atomic_int *state, int value);

/* Gives w back to its thread, after running what w's deque still holds
 * (the caller's tasks that nobody stole), and wakes the thread if it
 * sleeps until then. */
void hamr__pool_release(hamr__worker *w);

/* Waits a little, from a thread outside p, for *state to hold `value`
 * (acquire) while p's workers finish what it waits for: it spins up to 4 x
 * HAMR_SPIN when a CPU is free for it; when p's workers fill every CPU the
 * process may use, it yields between looks for up to HAMR_SPIN, so that a
 * worker sharing its CPU runs. Nothing when every worker sleeps or the
 * pool spins for nothing (HAMR_SPIN=0). 1 when *state holds value, else 0
 * (the caller then sleeps). */
int hamr__pool_await_briefly(hamr_pool *p, atomic_int *state, int value);

/* 0 when p belongs to this process; HAMR_ESTATE, with a message naming
 * the process it belongs to, when this process inherited it through
 * fork() (its workers are threads of the parent, not of this process). */
int hamr__pool_usable(const hamr_pool *p);

/* hamr_pool_default, with its error code in *rc when it returns NULL. */
hamr_pool *hamr__pool_default(int *rc);

/* A run of the threads executor begins on p / has ended (its last access
 * to the run is behind it). hamr_pool_destroy waits until none is in
 * flight, since their nodes may still hand work between p and its
 * blocking pool. */
void hamr__pool_run_begin(hamr_pool *p);
void hamr__pool_run_end(hamr_pool *p);

/* p's blocking pool, for nodes that wait on I/O: opts.blocking_workers
 * workers named hamr-bN, which park at once when idle. Started on first
 * use, destroyed with p. NULL (with hamr_errmsg) when it cannot start. */
hamr_pool *hamr__pool_blocking(hamr_pool *p);

/* ---- what pool.c, forkjoin.c and settings.c share --------------------- */

/* Thread-locals on hot paths: the initial-exec model reads them with one
 * instruction instead of a call to __tls_get_addr per access, which a
 * shared library pays otherwise (libhamr is loaded with the program, so
 * its thread-locals fit the static TLS block). */
#if defined(__GNUC__) || defined(__clang__)
#define HAMR__TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define HAMR__TLS _Thread_local
#endif

#define HAMR__DEFAULT_SPIN_US 50
#define HAMR__DEFAULT_BLOCKING 64
#define HAMR__MAX_WORKERS 1024
#define HAMR__MAX_BLOCKING 4096
#define HAMR__MIN_STACK ((size_t)64 << 10)
#define HAMR__MAX_STACK ((size_t)64 << 30)

struct hamr__worker {
	hamr__deque q;
	hamr_pool *pool;
	int index;
	atomic_uint slot; /* who acts as this worker (HAMR__SLOT_*): its deque's
	                   * owner end and the fields below are the holder's */
	atomic_uint park; /* its thread's sleep on the pool's epoch
	                   * (HAMR__PARK_*) */
	int idle;      /* counted in the pool's n_idle (this worker's own) */
	uint64_t rng;
	pthread_t thread;
	/* counters: written by this worker only, with relaxed load + store
	 * (no read-modify-write on the hot path), read by anyone */
	atomic_ullong tasks, steals, failed_steals, parks;
};

struct hamr_pool {
	int n;
	hamr__worker *w;
	hamr_pool_opts opts;
	atomic_int stop;
	atomic_int n_idle;
	atomic_int n_sleeping;  /* threads parked on epoch, but those lent */
	atomic_uint claimed;    /* per worker (hamr__worker_bit), its place
	                         * held by a caller: wake-ups pass its thread by */
	int fills_cpus;         /* n >= the CPUs the process may use */
	atomic_uint epoch;
	atomic_long n_external; /* queued jobs not yet taken */
	struct cds_wfcq_head qhead;
	struct cds_wfcq_tail qtail;
	const char *prefix;        /* thread names: hamr-w, hamr-b */
	atomic_int runs;           /* threads-executor runs in flight */
	atomic_int submitting;     /* outside submissions on their way in */
	unsigned gen;              /* the process it belongs to (pool.c) */
	int owner;                 /* that process's pid, for messages */
	hamr_pool *inherited_next; /* default pools this process inherited */
	pthread_mutex_t blocking_lock;
	_Atomic(hamr_pool *) blocking; /* started on first use */
};


/* A worker's slot: free while its thread looks for work (idle), held by
 * its thread while that runs work, or by a thread that runs a run in its
 * place (hamr__pool_claim), WAITED once the worker's thread sleeps until
 * that one gives it back. */
enum { HAMR__SLOT_FREE, HAMR__SLOT_THREAD, HAMR__SLOT_CALLER, HAMR__SLOT_WAITED };

/* A worker's thread and the pool's epoch: AWAKE; PARKED (it sleeps on
 * epoch, or is about to, counted in n_sleeping); LENT (it sleeps on, but
 * a caller holds its place: not counted, and wake-ups pass it by, until
 * the caller gives the place back and counts it again). Whoever moves
 * PARKED away (the thread waking, a caller lending it) adjusts the
 * count, so exactly one does. */
enum { HAMR__PARK_AWAKE, HAMR__PARK_PARKED, HAMR__PARK_LENT };

/* The workers whose places callers may take: the first 31. Their threads
 * wait on epoch with a bit of their own (FUTEX_WAIT_BITSET), the others
 * share the last bit, which no claim masks. */
#define HAMR__CLAIMABLE 31
static inline unsigned hamr__worker_bit(int index)
{
	return 1u << (index < HAMR__CLAIMABLE ? index : HAMR__CLAIMABLE);
}

/* The calling thread's worker; NULL on other threads. */
extern HAMR__TLS hamr__worker *hamr__tls_worker;

static inline void hamr__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Workers of w's pool that are idle now (a hint: relaxed). */
static inline int hamr__worker_idle_others(hamr__worker *w)
{
	return atomic_load_explicit(&w->pool->n_idle, memory_order_relaxed);
}

/* Whether worker w should offer work to others: some worker of its pool
 * is idle and w's previous offer was taken (its deque is empty). A hint,
 * as parallel_for's splitting uses it: a stale answer offers one task
 * late or early. */
static inline int hamr__worker_should_offer(hamr__worker *w)
{
	/* relaxed: hints */
	return hamr__worker_idle_others(w) > 0 && hamr__deque_size(&w->q) == 0;
}

/* A counter only its worker writes: relaxed load and store, no
 * read-modify-write on the hot path. */
static inline void hamr__count(atomic_ullong *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* FUTEX_WAIT and FUTEX_WAKE on a word of this process (private futexes;
 * runtime/procshm.c has the shared ones): sleeps while *addr holds
 * `expect` (or until a wake or a signal), wakes up to n sleepers. */
void hamr__futex_wait_private(atomic_uint *addr, unsigned expect);
void hamr__futex_wake_private(atomic_uint *addr, int n);

/* An asymmetric fence, for a store followed by a load that two threads
 * make crosswise (each stores its word, then loads the other's), where
 * one side runs per item and the other rarely: hamr__fence_light on the
 * frequent side and hamr__fence_heavy on the rare one order the store
 * before the load on both, so at least one side sees the other's store.
 * Where the kernel has membarrier(2)'s private expedited command (Linux
 * 4.14), the light fence only keeps the compiler from moving the load
 * before the store, and the heavy one interrupts every thread of the
 * process that runs (a few microseconds); else both are full fences
 * (hamr__fence_full). Set up by the first pool made, before any thread
 * of a pool uses them. */
extern int hamr__fence_full;
void hamr__fence_heavy(void);
/* A full fence; under ThreadSanitizer, which refuses atomic_thread_fence,
 * a seq_cst read-modify-write of a word of its own (a full barrier on
 * x86). */
void hamr__fence_seq_cst(void);

static inline void hamr__fence_light(void)
{
	if (__builtin_expect(hamr__fence_full, 0))
		hamr__fence_seq_cst();
	else
		atomic_signal_fence(memory_order_seq_cst);
}

/* Wakes up to n parked workers of p, if any sleeps (seq_cst check). */
void hamr__pool_wake(hamr_pool *p, int n);

/* One pass over the other workers from a random start: runs the first task
 * it steals and returns 1, or returns 0. */
int hamr__worker_steal(hamr__worker *w);

/* The pool settings after environment and defaults (settings.c). */
int hamr__pool_resolve_opts(const hamr_pool_opts *in, hamr_pool_opts *out);

#endif
