/* SPDX-License-Identifier: MIT */
/* The work-stealing pool, usable on its own: fork-join and parallel_for.
 *
 * A pool has one worker thread per usable CPU (hamr-w0, hamr-w1, ...), each
 * with a Chase-Lev deque of tasks: a worker pushes and pops its own tasks
 * LIFO and, with nothing to do, steals FIFO from a random other worker,
 * spins a little, then parks, so an idle pool uses no CPU. Work from a
 * thread that is not a worker (hamr_pool_call) enters through a wait-free
 * queue that never blocks the submitter.
 *
 * Inside a task: hamr_spawn(&t, fn, arg) makes fn(arg) available to thieves
 * and returns at once; hamr_sync(&t) returns when it has run, running it
 * here if nobody stole it and other tasks while it waits for a thief.
 * Spawn and sync nest freely, so recursive divide and conquer reads like
 * the serial code. Outside a pool's worker, hamr_spawn runs fn at once and
 * hamr_sync returns, so the same function works with and without a pool.
 *
 *   static void fib_task(void *p) { ... hamr_spawn(&t, fib_task, &a);
 *                                   fib_task(&b); hamr_sync(&t); ... }
 *   hamr_pool_call(pool, fib_task, &args);
 *
 * hamr_parallel_for(lo, hi, body, arg) runs body over [lo, hi) in ranges it
 * splits only when another worker is hungry: on one busy core it costs about
 * what the serial loop costs, and it still spreads over every core, with no
 * grain to choose (HAMR_GRAIN fixes one instead). */
#ifndef HAMR_POOL_H
#define HAMR_POOL_H

#include <stddef.h>

#include "hamr/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hamr_pool hamr_pool;

/* Pool settings. A field left at 0 takes the environment variable named
 * beside it when set, else the default; an explicit value wins over the
 * environment. For an explicit zero/off, spin_us and pin take HAMR_OFF
 * (hamr/export.h), so `{.workers = 4}` never switches another knob off. */
typedef struct hamr_pool_opts {
	int workers;          /* 0: HAMR_WORKERS, else the usable CPUs (affinity
	                       * mask and cgroup CPU quota) */
	int spin_us;          /* 0: HAMR_SPIN, else 50: microseconds an idle
	                       * worker looks for work before it parks (yielding
	                       * the CPU between looks when the workers fill
	                       * every CPU); HAMR_OFF: no spinning, it parks
	                       * at once */
	int pin;              /* 0: HAMR_PIN, else not pinned: 1 pins worker i
	                       * to the i-th usable CPU; HAMR_OFF: not pinned */
	int blocking_workers; /* 0: HAMR_BLOCKING_WORKERS, else 64 */
	size_t grain;         /* 0: HAMR_GRAIN, else lazy splitting: items per
	                       * parallel_for task when fixed */
	size_t stack_size;    /* 0: HAMR_STACK, else the system's default for
	                       * threads (`ulimit -s`, 8 MiB on most systems):
	                       * bytes of stack for each compute and blocking
	                       * worker, 64 KiB to 64 GiB. HAMR_STACK takes a
	                       * K, M or G suffix (HAMR_STACK=256M). */
} hamr_pool_opts;

#define HAMR_POOL_OPTS_INIT {0, 0, 0, 0, 0, 0}

/* Starts a pool, owned by the caller. HAMR_EINVAL with a message naming the
 * variable when an environment value is malformed ("HAMR_WORKERS=abc:
 * expected a whole number from 1 to 1024").
 *
 * A pool belongs to the process that made it. A child made by fork() has
 * none of its workers: there, every call that would run work on a pool
 * inherited from the parent (hamr_pool_call, hamr_pool_parallel_for, a
 * run given it) fails with HAMR_ESTATE, and hamr_pool_destroy frees the
 * child's copy without waiting for workers it does not have. The default
 * pool instead starts afresh in the child on first use. */
HAMR_API int hamr_pool_create(hamr_pool **out, const hamr_pool_opts *opts);

/* Waits for every task submitted so far and every run in flight (queued
 * work is finished, not dropped), stops the workers, the blocking pool's
 * too, and frees the pool. Not from a worker of the pool itself. A call
 * may still be returning from hamr_pool_call on another thread: destroy
 * waits until it no longer touches the pool. Accepts NULL. */
HAMR_API void hamr_pool_destroy(hamr_pool *p);

/* The process-wide pool that executors use when given none, started on
 * first use with the environment's settings; it lives until the process
 * exits. A child made by fork() gets its own on its first use. NULL (with
 * hamr_errmsg) when it cannot start, e.g. a malformed HAMR_* value. */
HAMR_API hamr_pool *hamr_pool_default(void);

/* The settings the pool runs with, after environment and defaults: the
 * values in effect, where spin_us 0 is no spinning and pin 0 is not
 * pinned (and grain 0 is lazy splitting). */
HAMR_API void hamr_pool_settings(const hamr_pool *p, hamr_pool_opts *out);

/* The number of usable CPUs: the affinity mask, capped by a cgroup quota. */
HAMR_API int hamr_cpu_count(void);

/* ---- tasks ------------------------------------------------------------- */

typedef void (*hamr_task_fn)(void *arg);

/* A spawned task: lives in the spawner's frame until hamr_sync returns.
 * Storage only: declare one (on the stack, in a struct) and hand its
 * address to hamr_spawn and hamr_sync; never read or write its contents. */
typedef struct hamr_task {
	/* private: hamr's own layout (the size and alignment of two pointers
	 * and two ints) */
	struct {
		void *p[2];
		int i[2];
	} private_;
} hamr_task;

/* Runs fn(arg) on a worker of p and returns when it has returned. From a
 * worker of p it calls fn at once. 0, HAMR_EINVAL, or HAMR_ESTATE for a
 * pool inherited through fork(). */
HAMR_API int hamr_pool_call(hamr_pool *p, hamr_task_fn fn, void *arg);

/* Makes fn(arg) a task that another worker may steal; t must stay valid
 * until hamr_sync(t) returns. Outside a worker: calls fn(arg) at once. */
HAMR_API void hamr_spawn(hamr_task *t, hamr_task_fn fn, void *arg);

/* Returns once t's function has returned: runs it here if it was not
 * stolen, else runs other tasks until the thief is done. */
HAMR_API void hamr_sync(hamr_task *t);

/* A group of tasks: spawn any number into it, then wait once for all of
 * them, for loops over children whose count is known only at run time (a
 * tree node with 2,000 children needs no array of hamr_task). Storage only,
 * like hamr_task: declare one (on the stack, in a struct), set it up with
 * hamr_task_group_init (or HAMR_TASK_GROUP_INIT), and never read or write
 * its contents. The group keeps its tasks' records itself, in blocks it
 * allocates as needed and frees in hamr_task_group_wait. One thread
 * spawns into a group and waits for it: the worker that owns it. */
typedef struct hamr_task_group {
	/* private: hamr's own layout */
	struct {
		void *p[4];
	} private_;
} hamr_task_group;

#define HAMR_TASK_GROUP_INIT {{{NULL, NULL, NULL, NULL}}}

HAMR_API void hamr_task_group_init(hamr_task_group *g);

/* Makes fn(arg) a task of g that another worker may steal; it runs before
 * hamr_task_group_wait(g) returns. Outside a worker, and when no record can
 * be allocated, calls fn(arg) at once. */
HAMR_API void hamr_task_group_spawn(hamr_task_group *g, hamr_task_fn fn, void *arg);

/* Returns once every task spawned into g has returned: runs this worker's
 * own tasks (g's among them), and steals while thieves finish the others.
 * Frees g's records; g is then empty and may take new tasks. */
HAMR_API void hamr_task_group_wait(hamr_task_group *g);

/* The calling thread's worker index in its pool, or -1 when it is not a
 * pool worker. A node tagged blocking runs on its pool's blocking pool,
 * and gets its index there (0 to blocking_workers - 1). A thread in
 * hamr_run_execute that runs its run in the place of a one-worker pool's
 * idle worker (hamr/runtime.h) is worker 0 while it does. */
HAMR_API int hamr_worker_index(void);

/* body(lo, hi, arg) over ranges covering [begin, end) exactly once, split
 * lazily across the calling worker's pool (or with the pool's fixed grain).
 * Outside a worker: one call body(begin, end, arg) on this thread. */
typedef void (*hamr_range_fn)(size_t lo, size_t hi, void *arg);
HAMR_API void hamr_parallel_for(size_t begin, size_t end, hamr_range_fn body,
                                void *arg);

/* hamr_parallel_for on pool p, from any thread (hamr_pool_call around it). */
HAMR_API int hamr_pool_parallel_for(hamr_pool *p, size_t begin, size_t end,
                                    hamr_range_fn body, void *arg);

/* ---- worker-local resources ----------------------------------------------
 * A client that must not be shared between threads and costs too much to
 * make per call (a database connection, a file handle, a scratch buffer):
 * registered once, made lazily by each thread the first time it asks, and
 * destroyed when that thread ends: at hamr_pool_destroy for a pool worker,
 * at thread exit for any other thread. The default pool never stops and
 * the main thread's key destructors never run, so objects made there live
 * until the process exits. */

typedef struct hamr_resource_desc {
	const char *name;                /* for messages; copied */
	void *(*create)(void *ctx);      /* NULL: could not create */
	void (*destroy)(void *obj, void *ctx);
	void *ctx;                       /* passed to both, borrowed */
} hamr_resource_desc;

typedef struct hamr_resource hamr_resource;

/* Registers a resource; it lives for the process. Thread-safe. */
HAMR_API int hamr_resource_register(hamr_resource **out,
                                    const hamr_resource_desc *desc);

/* The calling thread's object of `res`, made now if this thread has none.
 * Owned by hamr (never free it); valid until the thread ends. NULL when
 * create returned NULL (hamr_errmsg names the resource); create is tried
 * again on the next call. */
HAMR_API void *hamr_resource_get(hamr_resource *res);

/* Per-worker counters since the pool started (read them when it is quiet). */
typedef struct hamr_worker_stats {
	unsigned long long tasks;        /* tasks run */
	unsigned long long steals;       /* tasks stolen from others */
	unsigned long long failed_steals;
	unsigned long long parks;        /* times it slept */
} hamr_worker_stats;

/* Fills *out for worker i; HAMR_ERANGE past the last worker. */
HAMR_API int hamr_pool_worker_stats(const hamr_pool *p, int i,
                                    hamr_worker_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_POOL_H */
