/* SPDX-License-Identifier: MIT */
/* Internal: the runtime's view of a hamr_task.
 *
 * include/hamr/pool.h gives callers a hamr_task as opaque storage, with no
 * atomics in it (C++ files include that header). Here is what the storage
 * holds, with C11 atomics, and the only functions that touch it: whoever
 * spawns, pushes, runs or syncs a task goes through these.
 *
 * A task crosses threads through a worker's deque: its fields are written
 * before the push, whose release (deque.c) publishes them to the thief that
 * takes it with an acquire, so fn, arg and detached are plain fields. Only
 * `done` is written by one thread (the one that ran it) while another (the
 * one in hamr_sync) reads it, hence atomic: the runner's release store
 * after fn returned pairs with the syncer's acquire load, so what fn wrote
 * is visible once the syncer sees done. */
#ifndef HAMR_RUNTIME_TASK_INTERNAL_H
#define HAMR_RUNTIME_TASK_INTERNAL_H

#include <stdatomic.h>

#include "hamr/pool.h"

/* may_alias: the view is read and written through pointers to a
 * hamr_task, whose declared members are other types; this keeps type-based
 * alias analysis from reordering those accesses around copies of the
 * public struct (e.g. a compound literal of a record holding a task). */
#if defined(__GNUC__) || defined(__clang__)
#define HAMR__MAY_ALIAS __attribute__((may_alias))
#else
#define HAMR__MAY_ALIAS
#endif

typedef struct hamr__task {
	hamr_task_fn fn;
	void *arg;
	_Atomic int done; /* fn has returned; unused when detached */
	int detached;     /* nobody syncs on it: the pool leaves it once fn starts */
} HAMR__MAY_ALIAS hamr__task;

_Static_assert(sizeof(hamr__task) <= sizeof(hamr_task),
               "hamr__task must fit in the public hamr_task's storage");
_Static_assert(_Alignof(hamr__task) <= _Alignof(hamr_task),
               "hamr__task must not need a stricter alignment than hamr_task");

static inline hamr__task *hamr__task_view(hamr_task *t)
{
	return (hamr__task *)(void *)t;
}

/* Sets the function t runs, fn(arg), and nothing else: for a task record
 * that hamr__worker_push then makes detached. */
static inline void hamr__task_set_fn(hamr_task *t, hamr_task_fn fn, void *arg)
{
	hamr__task *v = hamr__task_view(t);
	v->fn = fn;
	v->arg = arg;
}

/* Makes t a task to run fn(arg) that its spawner will sync on: not done,
 * not detached. */
static inline void hamr__task_init(hamr_task *t, hamr_task_fn fn, void *arg)
{
	hamr__task *v = hamr__task_view(t);
	v->fn = fn;
	v->arg = arg;
	/* relaxed: t is not visible to any other thread yet; the push onto
	 * the deque (release) publishes it. A record reused after
	 * hamr__task_done saw 1 is ordered after its runner's release. */
	atomic_store_explicit(&v->done, 0, memory_order_relaxed);
	v->detached = 0;
}

/* Makes t (fn and arg already set) detached: nobody syncs on it. */
static inline void hamr__task_detach(hamr_task *t)
{
	hamr__task *v = hamr__task_view(t);
	/* relaxed: as in hamr__task_init, before the push that publishes t */
	atomic_store_explicit(&v->done, 0, memory_order_relaxed);
	v->detached = 1;
}

/* Whether t is detached: then t may be gone once its function started. */
static inline int hamr__task_is_detached(hamr_task *t)
{
	return hamr__task_view(t)->detached;
}

/* Runs t's function. */
static inline void hamr__task_call(hamr_task *t)
{
	hamr__task *v = hamr__task_view(t);
	v->fn(v->arg);
}

/* Marks t done after its function returned, on the thread that ran it.
 * t may be gone right after: its syncer is free to return. */
static inline void hamr__task_mark_done(hamr_task *t)
{
	/* release: pairs with the acquire load in hamr__task_done; what the
	 * task wrote is visible to whoever sees it done. */
	atomic_store_explicit(&hamr__task_view(t)->done, 1, memory_order_release);
}

/* Marks t done when it ran at once on the spawning thread itself (spawned
 * outside a worker). */
static inline void hamr__task_mark_done_here(hamr_task *t)
{
	/* relaxed: the only reader is hamr_sync on this same thread */
	atomic_store_explicit(&hamr__task_view(t)->done, 1, memory_order_relaxed);
}

/* Whether t's function has returned. */
static inline int hamr__task_done(hamr_task *t)
{
	/* acquire: pairs with the release store in hamr__task_mark_done;
	 * what the task wrote is visible once this returns 1. */
	return atomic_load_explicit(&hamr__task_view(t)->done, memory_order_acquire);
}

#endif
