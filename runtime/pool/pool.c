// SPDX-License-Identifier: MIT
/* The work-stealing pool.
 *
 * Each worker owns a Chase-Lev deque (runtime/deque.c) of task pointers.
 * Tasks live in their spawner's frame (fork-join) or in a run's node array
 * (the threads executor), so scheduling a task allocates nothing. A worker
 * pops its own deque LIFO, which keeps the working set hot; when that is
 * empty it becomes idle: it takes work from the external queue, steals
 * FIFO from random victims (the oldest task is the biggest piece of a
 * divide-and-conquer), and after HAMR_SPIN microseconds of finding nothing
 * it parks on a futex, so an idle pool costs no CPU.
 *
 * Waking is an eventcount. A worker about to park reads `epoch`, announces
 * itself in `n_sleeping`, looks for work once more, and sleeps only if
 * `epoch` is still what it read. Whoever makes work visible to a parked
 * worker bumps `epoch` and wakes one. External submissions do this with
 * seq_cst on both sides (Dekker's pattern: the submitter writes
 * n_external then reads n_sleeping; the sleeper writes n_sleeping then
 * reads n_external), so a submission is never lost. A push onto a worker's
 * own deque checks n_sleeping with a relaxed load: in the rare race it
 * misses a sleeper, nothing is lost either, since the pushing worker runs
 * its own tasks in the end; only parallelism is delayed until the next
 * wake.
 *
 * `n_idle` counts workers without work (searching or parked). It is the
 * hunger signal of parallel_for's lazy splitting: a range is split only
 * when some worker is idle and the previous half offered was taken.
 *
 * Slots. A worker's deque has one owner end, so one thread at a time acts
 * as the worker: whoever holds its `slot`. The worker's thread holds it
 * while it runs work and lets it go while it looks for work, taking it
 * back (a compare-and-swap) for each look. A thread that would otherwise
 * hand a run to the pool and wait (hamr_run_execute) takes a free slot
 * instead (hamr__pool_claim) and runs the run as that worker: the slot of
 * a worker whose thread sleeps on `epoch`, else of one that looks for
 * work. A sleeping thread sleeps on, lent: out of n_sleeping, and passed by
 * wake-ups, which wait and wake with a bit per worker (FUTEX_*_BITSET,
 * masked by `claimed`), so none meant for another worker is lost on it;
 * the caller counts it again when it gives the slot back. A worker's
 * thread that finds its slot taken while awake marks it WAITED and sleeps
 * on the slot itself until the caller gives it back with an exchange
 * and, finding WAITED, wakes it.
 *
 * Fork-join and parallel_for are in forkjoin.c, the settings in
 * settings.c. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/pool/deque_internal.h"
#include "runtime/pool/env_internal.h"
#include "runtime/pool/pool_internal.h"
#include "runtime/pool/resource_internal.h"
#include "serialize/error_internal.h"

#if defined(HAMR_WITH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

/* ThreadSanitizer does not see inside liburcu (not instrumented): tell it
 * that enqueueing a job publishes it to whoever dequeues it. */
#if defined(__SANITIZE_THREAD__)
#define HAMR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAMR_TSAN 1
#endif
#endif
#ifdef HAMR_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define tsan_acquire(p) __tsan_acquire(p)
#define tsan_release(p) __tsan_release(p)
#else
#define tsan_acquire(p) ((void)(p))
#define tsan_release(p) ((void)(p))
#endif

HAMR__TLS hamr__worker *hamr__tls_worker;

/* ---- futex --------------------------------------------------------------- */

void hamr__futex_wait_private(atomic_uint *addr, unsigned expect)
{
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, expect, NULL,
	        NULL, 0);
}

void hamr__futex_wake_private(atomic_uint *addr, int n)
{
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- asymmetric fence ---------------------------------------------------- */

int hamr__fence_full = 1; /* until hamr__fence_setup finds membarrier */
static pthread_once_t fence_once = PTHREAD_ONCE_INIT;

void hamr__fence_seq_cst(void)
{
#if defined(HAMR_TSAN)
	static atomic_int word;
	atomic_fetch_add_explicit(&word, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

static void fence_setup_once(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
		hamr__fence_full = 0;
}

void hamr__fence_heavy(void)
{
	if (hamr__fence_full) {
		hamr__fence_seq_cst();
		return;
	}
	/* a forked child's process is not registered: the global command
	 * (slower) needs no registration */
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0 &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0) != 0)
		hamr__fence_seq_cst();
}

/* The same, for waiters that say which of bits they are and wakers that
 * wake only waiters of some bits (plain FUTEX_WAKE wakes any). */
static void futex_wait_bits(atomic_uint *addr, unsigned expect, unsigned bits)
{
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_BITSET_PRIVATE, expect, NULL, NULL, bits);
}

static void futex_wake_bits(atomic_uint *addr, int n, unsigned bits)
{
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_BITSET_PRIVATE, n, NULL, NULL, bits);
}

/* ---- waking and parking ------------------------------------------------------ */

void hamr__pool_wake(hamr_pool *p, int n)
{
	/* seq_cst: the second half of Dekker's pattern with park(); see the
	 * essay at the top */
	if (atomic_load_explicit(&p->n_sleeping, memory_order_seq_cst) == 0)
		return;
	atomic_fetch_add_explicit(&p->epoch, 1, memory_order_seq_cst);
	/* past the threads of workers whose places callers hold: they sleep
	 * on, and a wake-up one took would be lost to the others (the last
	 * bit is never claimed, so the mask is never empty) */
	unsigned claimed = atomic_load_explicit(&p->claimed, memory_order_seq_cst);
	if (claimed)
		futex_wake_bits(&p->epoch, n, ~claimed);
	else
		hamr__futex_wake_private(&p->epoch, n);
}

static int work_visible(hamr_pool *p)
{
	if (atomic_load_explicit(&p->n_external, memory_order_seq_cst) > 0)
		return 1;
	for (int i = 0; i < p->n; i++)
		if (hamr__deque_size(&p->w[i].q) > 0)
			return 1;
	return 0;
}

/* Takes w's slot for `who`. seq_cst: the acquire half orders what the
 * previous holder did as w before what this one does. */
static int slot_take(hamr__worker *w, unsigned who)
{
	unsigned expect = HAMR__SLOT_FREE;
	return atomic_compare_exchange_strong_explicit(&w->slot, &expect, who, memory_order_seq_cst,
	                                               memory_order_relaxed);
}

/* w's thread gives its slot back. seq_cst: the release half publishes
 * what it did as w to the next holder. */
static void slot_give(hamr__worker *w)
{
	atomic_store_explicit(&w->slot, HAMR__SLOT_FREE, memory_order_seq_cst);
}

/* w's thread found its slot taken by a caller: it sleeps until the
 * caller gives it back (hamr__pool_release wakes it when it finds
 * WAITED). */
static void wait_for_slot(hamr__worker *w)
{
	unsigned v = HAMR__SLOT_CALLER;
	/* seq_cst: against the caller's exchange in hamr__pool_release */
	if (atomic_compare_exchange_strong_explicit(&w->slot, &v, HAMR__SLOT_WAITED,
	                                            memory_order_seq_cst, memory_order_seq_cst))
		v = HAMR__SLOT_WAITED;
	while (v == HAMR__SLOT_WAITED) {
		hamr__count(&w->parks);
		hamr__futex_wait_private(&w->slot, HAMR__SLOT_WAITED);
		v = atomic_load_explicit(&w->slot, memory_order_seq_cst);
	}
}

/* Parks w's thread on epoch until a wake-up; 1 when it slept. */
static int park(hamr__worker *w)
{
	int slept = 0;
	hamr_pool *p = w->pool;
	unsigned e = atomic_load_explicit(&p->epoch, memory_order_seq_cst);
	atomic_fetch_add_explicit(&p->n_sleeping, 1, memory_order_seq_cst);
	/* seq_cst: Dekker's pattern with a caller taking this place, which
	 * takes the slot, then reads `park` (hamr__pool_claim): either it
	 * reads PARKED and lends this thread, or this thread reads its slot
	 * taken and does not sleep here, where wake-ups would pass it by */
	atomic_store_explicit(&w->park, HAMR__PARK_PARKED, memory_order_seq_cst);
	if (!work_visible(p) && !atomic_load_explicit(&p->stop, memory_order_seq_cst) &&
	    atomic_load_explicit(&w->slot, memory_order_seq_cst) == HAMR__SLOT_FREE) {
		hamr__count(&w->parks);
		futex_wait_bits(&p->epoch, e, hamr__worker_bit(w->index));
		slept = 1;
	}
	/* lent meanwhile: the caller took it off the count */
	if (atomic_exchange_explicit(&w->park, HAMR__PARK_AWAKE, memory_order_seq_cst) ==
	    HAMR__PARK_PARKED)
		atomic_fetch_sub_explicit(&p->n_sleeping, 1, memory_order_seq_cst);
	return slept;
}

/* ---- running tasks ---------------------------------------------------------- */

void hamr__worker_run(hamr__worker *w, hamr_task *t)
{
	hamr__count(&w->tasks);
	if (hamr__task_is_detached(t)) {
		hamr__task_call(t); /* nobody syncs on it; t may be gone after */
		return;
	}
	hamr__task_call(t);
	/* release (in hamr__task_mark_done): pairs with the acquire load in
	 * hamr_sync; what the task wrote is visible to the syncing worker.
	 * t may be gone right after. */
	hamr__task_mark_done(t);
}

/* Worker w found work: it no longer counts as idle while it runs it, so
 * that what it runs (a parallel_for, a graph's nodes) offers work only to
 * workers that really are idle. */
static void found_work(hamr__worker *w)
{
	if (w->idle) {
		w->idle = 0;
		/* relaxed: n_idle is a hint */
		atomic_fetch_sub_explicit(&w->pool->n_idle, 1, memory_order_relaxed);
	}
}

/* Worker w has nothing to run: it counts as idle again, hungry for
 * offers (found_work's other half). */
static void out_of_work(hamr__worker *w)
{
	if (!w->idle) {
		w->idle = 1;
		/* relaxed: n_idle is a hint for parallel_for's splitting */
		atomic_fetch_add_explicit(&w->pool->n_idle, 1, memory_order_relaxed);
	}
}

static int run_external(hamr_pool *p, hamr__worker *w)
{
	/* relaxed: a hint that skips the queue's lock when it is empty; a
	 * job it misses is seen on the next round or by park's seq_cst check */
	if (atomic_load_explicit(&p->n_external, memory_order_relaxed) <= 0)
		return 0;
	struct cds_wfcq_node *node = cds_wfcq_dequeue_blocking(&p->qhead, &p->qtail);
	if (!node)
		return 0;
	/* relaxed: a count for hints and park; the job itself is published
	 * through the queue (and tsan_acquire below) */
	atomic_fetch_sub_explicit(&p->n_external, 1, memory_order_relaxed);
	hamr__job *job = caa_container_of(node, hamr__job, node);
	tsan_acquire(job);
	hamr__count(&w->tasks);
	found_work(w);
	job->fn(job->arg); /* the job may be gone once fn starts finishing */
	return 1;
}

static uint64_t next_rand(hamr__worker *w)
{
	uint64_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return w->rng = x;
}

/* One pass over the other workers from a random start; runs the first task
 * it steals. */
int hamr__worker_steal(hamr__worker *w)
{
	hamr_pool *p = w->pool;
	int n = p->n;
	if (n < 2)
		return 0;
	int start = (int)(next_rand(w) % (uint64_t)n);
	for (int k = 0; k < n; k++) {
		int v = start + k < n ? start + k : start + k - n;
		if (v == w->index)
			continue;
		void *x = hamr__deque_steal(&p->w[v].q);
		if (x == HAMR__DEQUE_EMPTY)
			continue;
		if (x == HAMR__DEQUE_ABORT) {
			hamr__count(&w->failed_steals);
			continue;
		}
		hamr__count(&w->steals);
		found_work(w);
		hamr__worker_run(w, x);
		return 1;
	}
	return 0;
}

static uint64_t now_us(void)
{
	return (uint64_t)hamr__now_ns() / 1000u;
}

/* One look for work by w's idle thread, holding w's slot: what a caller
 * left in w's deque, the external queue, a steal. 1 when it ran
 * something (and keeps the slot), else 0 (the slot given back). -1 when
 * a caller holds the slot. */
static int look_for_work(hamr__worker *w)
{
	if (!slot_take(w, HAMR__SLOT_THREAD))
		return -1;
	void *t = hamr__deque_pop(&w->q);
	if (t) {
		found_work(w);
		hamr__worker_run(w, t);
		return 1;
	}
	if (run_external(w->pool, w) || hamr__worker_steal(w))
		return 1;
	slot_give(w);
	return 0;
}

static void *worker_main(void *arg)
{
	hamr__worker *w = arg;
	hamr_pool *p = w->pool;
	hamr__tls_worker = w;

	/* idle from the start (pool_start counted it so), its slot free: a
	 * caller may take the worker's place before this thread first runs */
	for (;;) {
		/* search, spin, park, until there is work or we stop */
		uint64_t deadline = now_us() + (uint64_t)p->opts.spin_us;
		int found = 0, woke = 0;
		unsigned backoff = 1;
		for (unsigned round = 0;; round++) {
			int got = look_for_work(w), just_woke = woke;
			woke = 0;
			if (got > 0) {
				found = 1;
				break;
			}
			/* acquire: pairs with the seq_cst store in destroy */
			if (atomic_load_explicit(&p->stop, memory_order_acquire) &&
			    !work_visible(p))
				break;
			if (got < 0) {
				/* a caller acts as this worker: a wake-up that
				 * reached this thread (taken before the caller
				 * lent it) goes to another */
				if (just_woke)
					hamr__pool_wake(p, 1);
				wait_for_slot(w);
				deadline = now_us() + (uint64_t)p->opts.spin_us;
				backoff = 1;
			} else if ((round & 63) == 63 && now_us() >= deadline) {
				woke = park(w);
				deadline = now_us() + (uint64_t)p->opts.spin_us;
				backoff = 1;
			} else if (backoff == 64 && p->fills_cpus) {
				/* the pool's workers fill every CPU: this one may
				 * share its CPU with one that works, or with the
				 * thread that waits for a run, so it lets them run
				 * between looks (a bare system call when nobody
				 * waits for the CPU) */
				sched_yield();
			} else {
				/* back off: a thief polling a busy owner's deque
				 * in a tight loop slows the owner down more than it
				 * helps; a few pauses between rounds cost little
				 * latency */
				for (unsigned k = 0; k < backoff; k++)
					hamr__cpu_relax();
				if (backoff < 64)
					backoff *= 2;
			}
		}
		if (!found)
			break; /* stopping, and nothing is left */
		/* holding the slot, not idle (found_work): the deque's tasks */
		void *t;
		while ((t = hamr__deque_pop(&w->q)))
			hamr__worker_run(w, t);
		out_of_work(w);
		slot_give(w);
	}
	hamr__resource_thread_end();
	hamr__tls_worker = NULL;
	return NULL;
}

/* ---- pools and fork() ------------------------------------------------------------ */

/* A child made by fork() has one thread: the one that forked. It inherits
 * every pool's memory but none of its workers, so a task queued there
 * would never run and a join would wait on threads that do not exist.
 * fork_gen counts the forks this process descends from (after_fork_child
 * adds one); a pool records it when made, and one whose count differs was
 * inherited. A plain load and compare, where getpid() would cost a system
 * call on every hamr_pool_call.
 *
 * The handlers also hold the pool's own locks across fork(), so the child
 * never inherits one taken by a thread that is not there, and forget which
 * pool the forking thread worked for. */
static unsigned fork_gen;
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;

static void before_fork(void)
{
	pthread_mutex_lock(&default_lock);
	pthread_mutex_lock(&spare_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&spare_lock);
	pthread_mutex_unlock(&default_lock);
}

static void after_fork_child(void)
{
	fork_gen++;
	hamr__tls_worker = NULL;
	pthread_mutex_unlock(&spare_lock);
	pthread_mutex_unlock(&default_lock);
}

static void watch_forks(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

int hamr__pool_usable(const hamr_pool *p)
{
	if (p->gen == fork_gen)
		return 0;
	return hamr__error_set(HAMR_ESTATE,
	                       "this pool belongs to process %d, and process %d inherited it "
	                       "through fork() without its worker threads; make a new pool in "
	                       "the child",
	                       p->owner, (int)getpid());
}

/* ---- the pool ------------------------------------------------------------------- */

/* Per-worker jemalloc arenas for the deque buffers. An arena lives in the
 * process, not in the pool, and jemalloc never shrinks the set: an arena
 * made per worker per pool and never given back grows the process by one
 * arena's metadata and pages per worker for every pool ever made, until
 * jemalloc's cap on arenas. So a stopping pool hands its arenas to
 * `spare`, and the next pool takes them from there before it makes new
 * ones: the process holds at most as many arenas as it ever had workers
 * at once. (Destroying them instead, arena.<i>.destroy, unmaps their pages
 * piecemeal and runs the process out of memory mappings after a few
 * thousand pools.) An arena goes back empty: every deque buffer in it was
 * freed first. */
static unsigned *spare; /* under spare_lock */
static size_t n_spare, cap_spare;

/* An arena for one worker, or 0 (plain malloc) without jemalloc or when
 * it has no arena to give. */
static unsigned make_arena(void)
{
#if defined(HAMR_WITH_JEMALLOC)
	unsigned a = 0;
	pthread_mutex_lock(&spare_lock);
	if (n_spare)
		a = spare[--n_spare];
	pthread_mutex_unlock(&spare_lock);
	if (a)
		return a;
	size_t sz = sizeof a;
	if (mallctl("arenas.create", &a, &sz, NULL, 0) == 0)
		return a;
#endif
	return 0;
}

/* Gives arena `a` (0: none) back for the next pool. */
static void drop_arena(unsigned a)
{
	if (!a)
		return;
	pthread_mutex_lock(&spare_lock);
	if (n_spare == cap_spare) {
		size_t cap = cap_spare ? 2 * cap_spare : 64;
		unsigned *bigger = realloc(spare, cap * sizeof *spare);
		if (bigger) {
			spare = bigger;
			cap_spare = cap;
		}
	}
	if (n_spare < cap_spare)
		spare[n_spare++] = a; /* else lost: only if realloc failed */
	pthread_mutex_unlock(&spare_lock);
}

/* Frees a pool whose workers are not running (stopped, never started, or
 * in another process): the first n_queues deques, giving their arenas
 * back, the outside queue, and the pool itself. */
static void pool_free(hamr_pool *p, int n_queues)
{
	for (int i = 0; i < n_queues; i++) {
		unsigned a = p->w[i].q.arena;
		hamr__deque_destroy(&p->w[i].q);
		drop_arena(a);
	}
	cds_wfcq_destroy(&p->qhead, &p->qtail);
	free(p->w);
	free(p);
}

static int pool_start(hamr_pool **out, const hamr_pool_opts *opts,
                      const char *prefix);

int hamr_pool_create(hamr_pool **out, const hamr_pool_opts *opts)
{
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "hamr_pool_create: out is NULL");
	*out = NULL;
	hamr_pool_opts o;
	int rc = hamr__pool_resolve_opts(opts, &o);
	if (rc)
		return rc;
	return pool_start(out, &o, "hamr-w");
}

hamr_pool *hamr__pool_blocking(hamr_pool *p)
{
	/* acquire: pairs with the release store below; the pool it points
	 * to is fully made */
	hamr_pool *b = atomic_load_explicit(&p->blocking, memory_order_acquire);
	if (b)
		return b;
	pthread_mutex_lock(&p->blocking_lock);
	b = atomic_load_explicit(&p->blocking, memory_order_relaxed);
	if (!b) {
		/* resolved settings, as pool_start takes them: 0 is none */
		hamr_pool_opts o = p->opts;
		o.workers = p->opts.blocking_workers;
		o.spin_us = 0;  /* waiting on I/O: no point spinning */
		o.pin = 0;
		if (pool_start(&b, &o, "hamr-b") == 0)
			atomic_store_explicit(&p->blocking, b, memory_order_release);
	}
	pthread_mutex_unlock(&p->blocking_lock);
	return b;
}

static int pool_start(hamr_pool **out, const hamr_pool_opts *opts,
                      const char *prefix)
{
	static pthread_once_t watching = PTHREAD_ONCE_INIT;
	pthread_once(&watching, watch_forks);
	pthread_once(&fence_once, fence_setup_once);
	hamr_pool_opts o = *opts;
	hamr_pool *p = calloc(1, sizeof *p);
	hamr__worker *w = aligned_alloc(64, ((sizeof *w * (size_t)o.workers) + 63) & ~(size_t)63);
	if (!p || !w) {
		free(p);
		free(w);
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a pool");
	}
	memset(w, 0, sizeof *w * (size_t)o.workers);
	p->n = o.workers;
	p->fills_cpus = p->n >= hamr_cpu_count();
	p->w = w;
	p->opts = o;
	p->prefix = prefix;
	p->gen = fork_gen;
	p->owner = (int)getpid();
	pthread_mutex_init(&p->blocking_lock, NULL);
	atomic_init(&p->blocking, NULL);
	atomic_init(&p->runs, 0);
	atomic_init(&p->submitting, 0);
	atomic_init(&p->stop, 0);
	atomic_init(&p->n_idle, o.workers); /* each starts idle (worker_main) */
	atomic_init(&p->n_sleeping, 0);
	atomic_init(&p->claimed, 0);
	atomic_init(&p->epoch, 0);
	atomic_init(&p->n_external, 0);
	cds_wfcq_init(&p->qhead, &p->qtail);
	for (int i = 0; i < p->n; i++) {
		w[i].pool = p;
		w[i].index = i;
		w[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
		/* idle, its slot free, until its thread finds work */
		atomic_init(&w[i].slot, HAMR__SLOT_FREE);
		atomic_init(&w[i].park, HAMR__PARK_AWAKE);
		w[i].idle = 1;
		unsigned arena = make_arena();
		if (hamr__deque_init(&w[i].q, 8, arena)) {
			drop_arena(arena);
			pool_free(p, i);
			return hamr__error_set(HAMR_ENOMEM, "out of memory creating a pool");
		}
	}
	cpu_set_t mask;
	int ncpu = 0, cpus[CPU_SETSIZE];
	if (o.pin && sched_getaffinity(0, sizeof mask, &mask) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &mask))
				cpus[ncpu++] = c;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	int err = pthread_attr_setstacksize(&attr, o.stack_size);
	for (int i = 0; i < p->n && !err; i++) {
		err = pthread_create(&w[i].thread, &attr, worker_main, &w[i]);
		if (err) {
			atomic_store(&p->stop, 1);
			hamr__pool_wake(p, INT_MAX);
			for (int j = 0; j < i; j++)
				pthread_join(w[j].thread, NULL);
			pthread_attr_destroy(&attr);
			pool_free(p, p->n);
			return hamr__error_set(HAMR_ENOMEM,
			                       "cannot start worker %d with a %zu-byte stack "
			                       "(HAMR_STACK): %s",
			                       i, o.stack_size, strerror(err));
		}
		/* named here, so the names are there when create returns */
		char name[24]; /* at most "hamr-b99999": fits the kernel's 16 */
		snprintf(name, sizeof name, "%s%d", prefix, i);
		pthread_setname_np(w[i].thread, name);
		if (o.pin && ncpu) {
			cpu_set_t one;
			CPU_ZERO(&one);
			CPU_SET(cpus[i % ncpu], &one);
			pthread_setaffinity_np(w[i].thread, sizeof one, &one);
		}
	}
	pthread_attr_destroy(&attr);
	if (err) { /* the stack size, refused before any thread started */
		pool_free(p, p->n);
		return hamr__error_set(HAMR_EINVAL, "stack_size = %zu: %s", o.stack_size,
		                       strerror(err));
	}
	*out = p;
	return 0;
}

/* Frees what this process has of a pool it inherited through fork(): its
 * memory, without waiting for runs or joining workers that live in the
 * parent. */
static void forget(hamr_pool *p)
{
	/* relaxed: this process has one thread of its own, this one */
	hamr_pool *b = atomic_load_explicit(&p->blocking, memory_order_relaxed);
	if (b)
		forget(b);
	pool_free(p, p->n);
}

void hamr_pool_destroy(hamr_pool *p)
{
	if (!p)
		return;
	if (p->gen != fork_gen) {
		forget(p);
		return;
	}
	/* acquire: pairs with the release in hamr__pool_run_end; every run
	 * is done with both pools before either stops */
	while (atomic_load_explicit(&p->runs, memory_order_acquire) > 0)
		usleep(100);
	/* acquire: pairs with the release decrement that ends
	 * hamr__pool_submit. A job can run, and its submitter can learn it
	 * ran, before the submitter has finished waking workers: p must
	 * outlive that last touch. Waited for before stop, too, so no job
	 * is still on its way into the queue when the workers leave. */
	while (atomic_load_explicit(&p->submitting, memory_order_acquire) > 0)
		sched_yield();
	/* acquire: pairs with the release store in hamr__pool_blocking */
	hamr_pool_destroy(atomic_load_explicit(&p->blocking, memory_order_acquire));
	/* seq_cst: a parking worker reads stop after announcing itself */
	atomic_store_explicit(&p->stop, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&p->epoch, 1, memory_order_seq_cst);
	hamr__futex_wake_private(&p->epoch, INT_MAX);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->w[i].thread, NULL);
	pthread_mutex_destroy(&p->blocking_lock);
	pool_free(p, p->n);
}

/* The default pool: made on first use under default_lock, and made again
 * in a child of fork(). An inherited one is set aside, never freed: the
 * program may still hold it from hamr_pool_default(), and a call on it
 * must fail with HAMR_ESTATE, not read freed memory. They form a list, one
 * pool per generation of forks at most. A failure to make the pool is
 * kept, with its message, and returned to every later caller: the
 * environment that caused it does not change. */
static _Atomic(hamr_pool *) default_pool;
static hamr_pool *inherited_defaults;
static int default_rc;
static char default_msg[256];

hamr_pool *hamr__pool_default(int *rc)
{
	/* acquire: pairs with the release store below; the pool is made */
	hamr_pool *p = atomic_load_explicit(&default_pool, memory_order_acquire);
	if (p && p->gen == fork_gen)
		return p;
	pthread_mutex_lock(&default_lock);
	/* relaxed: under default_lock, which every store holds */
	p = atomic_load_explicit(&default_pool, memory_order_relaxed);
	if (p && p->gen != fork_gen) {
		p->inherited_next = inherited_defaults;
		inherited_defaults = p;
		p = NULL;
		atomic_store_explicit(&default_pool, NULL, memory_order_relaxed);
	}
	if (!p && !default_rc) {
		default_rc = hamr_pool_create(&p, NULL);
		if (default_rc)
			snprintf(default_msg, sizeof default_msg, "%s", hamr_errmsg());
		else
			/* release: pairs with the acquire load above */
			atomic_store_explicit(&default_pool, p, memory_order_release);
	}
	int err = default_rc;
	pthread_mutex_unlock(&default_lock);
	if (!p)
		*rc = hamr__error_set(err, "%s", default_msg);
	return p;
}

hamr_pool *hamr_pool_default(void)
{
	int rc;
	return hamr__pool_default(&rc);
}

int hamr__pool_all_parked(hamr_pool *p)
{
	/* relaxed: a hint for whether to spin before sleeping */
	return atomic_load_explicit(&p->n_sleeping, memory_order_relaxed) >= p->n;
}

int hamr__pool_await_briefly(hamr_pool *p, atomic_int *state, int value)
{
	if (hamr__pool_all_parked(p) || !p->opts.spin_us)
		return atomic_load_explicit(state, memory_order_acquire) == value;
	/* With a CPU to itself, four times as long as an idle worker spins:
	 * the waiter holds a CPU nobody else of p would use, and a sleep
	 * costs a wake-up on both sides. When p's workers fill every CPU, it
	 * may share one with the worker it waits for: it yields between
	 * looks, for as long as an idle worker spins. */
	int yield = p->fills_cpus;
	uint64_t deadline = now_us() + (yield ? 1 : 4) * (uint64_t)p->opts.spin_us;
	for (unsigned k = 1;; k++) {
		if (atomic_load_explicit(state, memory_order_acquire) == value)
			return 1;
		if ((yield || !(k & 63)) && now_us() >= deadline)
			return 0;
		if (yield)
			sched_yield();
		else
			hamr__cpu_relax();
	}
}

void hamr__pool_run_begin(hamr_pool *p)
{
	/* relaxed: the submission that follows publishes the run */
	atomic_fetch_add_explicit(&p->runs, 1, memory_order_relaxed);
}

void hamr__pool_run_end(hamr_pool *p)
{
	/* release: pairs with the acquire in hamr_pool_destroy */
	atomic_fetch_sub_explicit(&p->runs, 1, memory_order_release);
}

/* The calling thread's stack: its lowest address and size, looked up
 * once per thread (pthread_getattr_np reads /proc/self/maps for the main
 * thread); size 1 when unknown. */
static HAMR__TLS char *tls_stack_lo;
static HAMR__TLS size_t tls_stack_size;

/* Whether the calling thread has about as much stack left as p's workers
 * start with: seven eighths of it or more (the default pool's workers get
 * the system's default, 8 MiB, and the main thread has that less what
 * it used). A program's main thread and
 * threads made with default attributes have about the default pool's
 * (the main thread's is reported a few pages short). */
static int stack_suits(const hamr_pool *p)
{
	if (!tls_stack_size) {
		pthread_attr_t a;
		void *lo = NULL;
		size_t size = 0;
		if (pthread_getattr_np(pthread_self(), &a) == 0) {
			if (pthread_attr_getstack(&a, &lo, &size))
				size = 0;
			pthread_attr_destroy(&a);
		}
		tls_stack_lo = lo;
		tls_stack_size = size && lo ? size : 1;
	}
	/* the frame, not a local's address: AddressSanitizer may keep
	 * locals on a stack of its own */
	uintptr_t here = (uintptr_t)__builtin_frame_address(0), lo = (uintptr_t)tls_stack_lo;
	if (here < lo || here >= lo + tls_stack_size)
		return 0; /* elsewhere: a signal stack, a coroutine's */
	return here - lo >= p->opts.stack_size - p->opts.stack_size / 8;
}

hamr__worker *hamr__pool_claim(hamr_pool *p)
{
	/* nodes then see what they see on a worker thread: a stack of the
	 * size asked for, one resource object per worker, the pinned CPU */
	if (hamr__tls_worker || p->gen != fork_gen || p->opts.pin ||
	    hamr__resource_any() || !stack_suits(p))
		return NULL;
	/* work queued before: it runs first, as it would had the run been
	 * queued behind it (relaxed: a submission that returned before this
	 * call is seen; one racing with it may go either way) */
	if (atomic_load_explicit(&p->n_external, memory_order_relaxed) > 0)
		return NULL;
	/* the place of a worker whose thread sleeps, first: the run then
	 * starts without waking anyone. Else that of an idle worker awake,
	 * whose thread then sleeps on its slot: handing the run to it would
	 * leave this thread waiting beside workers that spin, more threads
	 * than CPUs on a pool that fills them (a wide graph's run at 2
	 * workers took 20 to 23 ns a node so, 13.7 in a sleeping one's
	 * place, bench/RESULTS.md) */
	int m = p->n < HAMR__CLAIMABLE ? p->n : HAMR__CLAIMABLE;
	for (int k = 0; k < 2 * m; k++) {
		int i = k < m ? k : k - m;
		hamr__worker *w = &p->w[i];
		/* seq_cst: against the store in park, see below */
		if (k < m && atomic_load_explicit(&w->park, memory_order_seq_cst) != HAMR__PARK_PARKED)
			continue;
		if (!slot_take(w, HAMR__SLOT_CALLER))
			continue;
		/* lend its sleeping thread: wake-ups pass it by (masked
		 * first), and it leaves the count (if it has not woken
		 * meanwhile: then it finds its place taken and sleeps on it) */
		unsigned bit = hamr__worker_bit(i);
		atomic_fetch_or_explicit(&p->claimed, bit, memory_order_seq_cst);
		unsigned parked = HAMR__PARK_PARKED;
		if (atomic_compare_exchange_strong_explicit(&w->park, &parked, HAMR__PARK_LENT,
		                                            memory_order_seq_cst, memory_order_seq_cst))
			atomic_fetch_sub_explicit(&p->n_sleeping, 1, memory_order_seq_cst);
		hamr__tls_worker = w;
		found_work(w); /* the thread left it idle */
		return w;
	}
	return NULL;
}

void hamr__worker_help_briefly(hamr__worker *w, atomic_int *state, int value)
{
	hamr_pool *p = w->pool;
	if (p->n < 2)
		return; /* nobody to steal from */
	uint64_t deadline = now_us() + (uint64_t)p->opts.spin_us;
	for (unsigned k = 1; atomic_load_explicit(state, memory_order_acquire) != value; k++) {
		/* a job queued for the pool goes to a worker's own thread (the
		 * release wakes one), and so does everything once a worker-local
		 * resource is registered (relaxed: hints, seen a round late) */
		if (atomic_load_explicit(&p->n_external, memory_order_relaxed) > 0 ||
		    hamr__resource_any())
			return;
		void *t = hamr__deque_pop(&w->q);
		if (t) {
			found_work(w);
			hamr__worker_run(w, t);
		} else if (!hamr__worker_steal(w)) {
			out_of_work(w); /* found nothing: hungry, as an idle worker */
			if (!(k & 63) && now_us() >= deadline)
				return;
			hamr__cpu_relax();
			continue;
		}
		deadline = now_us() + (uint64_t)p->opts.spin_us;
	}
}

void hamr__pool_release(hamr__worker *w)
{
	void *t;
	while ((t = hamr__deque_pop(&w->q))) {
		found_work(w);
		hamr__worker_run(w, t);
	}
	out_of_work(w); /* idle again, as its thread left it (and finds it) */
	hamr__tls_worker = NULL;
	hamr_pool *p = w->pool;
	/* a lent thread that still sleeps: counted, and woken, again, before
	 * the place is free for another caller to lend it. seq_cst: Dekker's
	 * pattern with a submitter, as park's (the count, then the queue; the
	 * submitter writes the queue, then reads the count). A wake-up that
	 * reaches the thread before the place is free is passed on */
	atomic_fetch_and_explicit(&p->claimed, ~hamr__worker_bit(w->index), memory_order_seq_cst);
	unsigned lent = HAMR__PARK_LENT;
	if (atomic_compare_exchange_strong_explicit(&w->park, &lent, HAMR__PARK_PARKED,
	                                            memory_order_seq_cst, memory_order_seq_cst))
		atomic_fetch_add_explicit(&p->n_sleeping, 1, memory_order_seq_cst);
	/* work queued while the place was held (a submitter that read the
	 * mask before it was cleared woke nobody): woken now */
	if (work_visible(p))
		hamr__pool_wake(p, 1);
	/* seq_cst: against the thread's compare-and-swap in wait_for_slot */
	if (atomic_exchange_explicit(&w->slot, HAMR__SLOT_FREE, memory_order_seq_cst) ==
	    HAMR__SLOT_WAITED)
		hamr__futex_wake_private(&w->slot, 1);
}

void hamr__worker_help(hamr__worker *w, atomic_int *state, int value)
{
	while (atomic_load_explicit(state, memory_order_acquire) != value) {
		void *x = hamr__deque_pop(&w->q);
		if (x)
			hamr__worker_run(w, x);
		else if (!run_external(w->pool, w) && !hamr__worker_steal(w))
			hamr__cpu_relax();
	}
}

int hamr_pool_worker_stats(const hamr_pool *p, int i, hamr_worker_stats *out)
{
	if (!p || !out || i < 0 || i >= p->n)
		return hamr__error_set(HAMR_ERANGE, "no worker %d", i);
	hamr__worker *w = &p->w[i];
	out->tasks = atomic_load_explicit(&w->tasks, memory_order_relaxed);
	out->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
	out->failed_steals = atomic_load_explicit(&w->failed_steals, memory_order_relaxed);
	out->parks = atomic_load_explicit(&w->parks, memory_order_relaxed);
	return 0;
}

/* ---- submitting from outside ------------------------------------------------------ */

void hamr__pool_submit(hamr_pool *p, hamr__job *job)
{
	/* seq_cst: counted before the job can run; a destroy that learns the
	 * job ran (through whatever the job wrote) sees this count too */
	atomic_fetch_add_explicit(&p->submitting, 1, memory_order_seq_cst);
	cds_wfcq_node_init(&job->node);
	tsan_release(job);
	cds_wfcq_enqueue(&p->qhead, &p->qtail, &job->node);
	/* seq_cst: the first half of Dekker's pattern with park() */
	atomic_fetch_add_explicit(&p->n_external, 1, memory_order_seq_cst);
	hamr__pool_wake(p, 1);
	/* release: the last touch of p; pairs with the acquire load in
	 * hamr_pool_destroy, which may free p right after */
	atomic_fetch_sub_explicit(&p->submitting, 1, memory_order_release);
}

struct call_job {
	hamr__job job;
	hamr_task_fn fn;
	void *arg;
	atomic_uint done;
};

static void call_trampoline(void *arg)
{
	struct call_job *c = arg;
	c->fn(c->arg);
	/* release: pairs with the acquire load in hamr_pool_call */
	atomic_store_explicit(&c->done, 1, memory_order_release);
	hamr__futex_wake_private(&c->done, 1); /* a stale address at worst: harmless */
}

int hamr_pool_call(hamr_pool *p, hamr_task_fn fn, void *arg)
{
	if (!p || !fn)
		return hamr__error_set(HAMR_EINVAL, "hamr_pool_call: pool and function are required");
	if (p->gen != fork_gen)
		return hamr__pool_usable(p);
	if (hamr__tls_worker && hamr__tls_worker->pool == p) {
		fn(arg);
		return 0;
	}
	/* read before submitting: once the job is queued, p may be destroyed
	 * as soon as it has run */
	int spin = !hamr__pool_all_parked(p);
	struct call_job c;
	c.job.fn = call_trampoline;
	c.job.arg = &c;
	c.fn = fn;
	c.arg = arg;
	atomic_init(&c.done, 0);
	hamr__pool_submit(p, &c.job);
	/* acquire: pairs with the release store in call_trampoline. Spin a
	 * little first when workers are awake: a short call is back before a
	 * sleep would pay off, and a sleeping caller would then wait for a
	 * CPU the spinning workers hold. When they all sleep, sleep at once:
	 * the woken worker can then take this CPU instead of waking another */
	for (int k = spin ? 0 : 1000; k < 1000; k++) {
		if (atomic_load_explicit(&c.done, memory_order_acquire))
			return 0;
		hamr__cpu_relax();
	}
	while (!atomic_load_explicit(&c.done, memory_order_acquire))
		hamr__futex_wait_private(&c.done, 0);
	return 0;
}

