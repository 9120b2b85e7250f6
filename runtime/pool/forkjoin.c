// SPDX-License-Identifier: MIT
/* Fork-join on the pool: spawn, sync and parallel_for.
 *
 * A spawned task lives in its spawner's frame; spawning is a push onto the
 * calling worker's deque and, when a worker sleeps, a wake. A task's
 * `done` flag is set (release) after its function returns, wherever it
 * ran (task_internal.h). hamr_sync pops and runs its own tasks until the
 * one it waits for is done; if that one was stolen, it steals other work
 * while the thief finishes, so a waiting worker never blocks.
 *
 * parallel_for splits lazily. It runs its range in chunks that double up
 * to PFOR_MAX_CHUNK items (so the hunger check costs nothing per item),
 * and before each chunk it offers the upper half of what is left, but only
 * when some worker is idle (`n_idle`) and its previous offer was taken (its
 * deque is empty). On a pool with nothing idle, that is a serial loop; with
 * idle workers, ranges halve until every worker has one. HAMR_GRAIN
 * replaces this with a fixed split down to the grain.
 *
 * A task group keeps the records of its tasks itself, in blocks, so any
 * number can be spawned before one wait. */
#include <stdlib.h>

#include "runtime/pool/pool_internal.h"
#include "serialize/error_internal.h"

hamr__worker *hamr__worker_self(void)
{
	return hamr__tls_worker;
}

hamr_pool *hamr__worker_pool(const hamr__worker *w)
{
	return w->pool;
}

int hamr_worker_index(void)
{
	return hamr__tls_worker ? hamr__tls_worker->index : -1;
}

/* Pushes t onto w's own deque for thieves and wakes a parked worker if
 * one sleeps; runs t at once when the deque cannot grow. */
static inline void push_and_wake(hamr__worker *w, hamr_task *t)
{
	if (__builtin_expect(hamr__deque_push(&w->q, t) != 0, 0)) {
		hamr__worker_run(w, t); /* out of memory: run it here */
		return;
	}
	/* relaxed: a missed sleeper only delays parallelism (see the top).
	 * A pool of one has no thief to wake: its one worker pushes (or a
	 * thread in its place, while its own thread sleeps) */
	if (w->pool->n > 1 && atomic_load_explicit(&w->pool->n_sleeping, memory_order_relaxed))
		hamr__pool_wake(w->pool, 1);
}

void hamr__worker_push(hamr__worker *w, hamr_task *t)
{
	hamr__task_detach(t);
	push_and_wake(w, t);
}

void hamr_spawn(hamr_task *t, hamr_task_fn fn, void *arg)
{
	hamr__task_init(t, fn, arg);
	hamr__worker *w = hamr__tls_worker;
	if (!w) {
		fn(arg);
		hamr__task_mark_done_here(t);
		return;
	}
	push_and_wake(w, t);
}

/* One round of a worker's wait for tasks it spawned: runs its newest own
 * task, else (they were stolen) steals other work while the thieves
 * finish, else pauses. */
static inline void wait_round(hamr__worker *w)
{
	void *x = hamr__deque_pop(&w->q);
	if (x)
		hamr__worker_run(w, x);
	else if (!hamr__worker_steal(w))
		hamr__cpu_relax();
}

void hamr_sync(hamr_task *t)
{
	hamr__worker *w = hamr__tls_worker;
	/* acquire (in hamr__task_done): pairs with the release store in
	 * hamr__worker_run */
	while (!hamr__task_done(t)) {
		if (!w)
			return; /* spawned outside a worker: it ran already */
		wait_round(w);
	}
}

/* ---- task groups ------------------------------------------------------------------------ */

/* A group's tasks: records in blocks of GROUP_BLOCK, freed by the wait. A
 * record is a detached task that, once its function returns, counts its
 * group's `pending` down (release); the wait's acquire load of zero then
 * sees everything every task wrote. */
#define GROUP_BLOCK 64

typedef struct group group;

typedef struct group_rec {
	hamr_task t;
	group *g;
	hamr_task_fn fn;
	void *arg;
} group_rec;

typedef struct group_block {
	struct group_block *next;
	group_rec recs[GROUP_BLOCK];
} group_block;

struct group {
	atomic_size_t pending;    /* spawned, not yet returned */
	group_block *blocks;      /* newest first */
	size_t used;              /* records used in the newest block */
	void *unused;
};

_Static_assert(sizeof(group) <= sizeof(hamr_task_group),
               "a task group's view must fit in the public storage");
_Static_assert(_Alignof(group) <= _Alignof(hamr_task_group),
               "a task group's view must not need a stricter alignment");

static group *group_view(hamr_task_group *g)
{
	return (group *)(void *)g;
}

void hamr_task_group_init(hamr_task_group *g)
{
	group *v = group_view(g);
	atomic_init(&v->pending, 0);
	v->blocks = NULL;
	v->used = 0;
	v->unused = NULL;
}

static void group_rec_run(void *arg)
{
	group_rec *r = arg;
	group *g = r->g;
	r->fn(r->arg);
	/* release: pairs with the acquire load in hamr_task_group_wait */
	atomic_fetch_sub_explicit(&g->pending, 1, memory_order_release);
}

void hamr_task_group_spawn(hamr_task_group *tg, hamr_task_fn fn, void *arg)
{
	hamr__worker *w = hamr__tls_worker;
	group *g = group_view(tg);
	if (!w) {
		fn(arg);
		return;
	}
	if (!g->blocks || g->used == GROUP_BLOCK) {
		group_block *b = malloc(sizeof *b);
		if (!b) {
			fn(arg); /* no record: the work is done here instead */
			return;
		}
		b->next = g->blocks;
		g->blocks = b;
		g->used = 0;
	}
	group_rec *r = &g->blocks->recs[g->used++];
	r->g = g;
	r->fn = fn;
	r->arg = arg;
	/* relaxed: the push that follows publishes the count with the task */
	atomic_fetch_add_explicit(&g->pending, 1, memory_order_relaxed);
	hamr__task_set_fn(&r->t, group_rec_run, r);
	hamr__worker_push(w, &r->t);
}

void hamr_task_group_wait(hamr_task_group *tg)
{
	hamr__worker *w = hamr__tls_worker;
	group *g = group_view(tg);
	/* acquire: pairs with each record's release decrement */
	while (w && atomic_load_explicit(&g->pending, memory_order_acquire))
		wait_round(w);
	while (g->blocks) {
		group_block *next = g->blocks->next;
		free(g->blocks);
		g->blocks = next;
	}
	g->used = 0;
}

/* ---- parallel_for --------------------------------------------------------------------- */

typedef struct pfor {
	hamr_range_fn body;
	void *arg;
	size_t grain;
} pfor;

typedef struct pfor_task {
	hamr_task t;
	const pfor *pf;
	size_t lo, hi;
} pfor_task;

static void pfor_range(const pfor *pf, size_t lo, size_t hi);

static void pfor_run(void *arg)
{
	pfor_task *pt = arg;
	pfor_range(pt->pf, pt->lo, pt->hi);
}

#define PFOR_MAX_SPLITS 64 /* halving: enough for any size_t range */
#define PFOR_MAX_CHUNK 256

static void pfor_range(const pfor *pf, size_t lo, size_t hi)
{
	hamr__worker *w = hamr__tls_worker;
	pfor_task kids[PFOR_MAX_SPLITS];
	int nk = 0;
	if (pf->grain) {
		while (hi - lo > pf->grain && nk < PFOR_MAX_SPLITS) {
			size_t mid = lo + (hi - lo) / 2;
			kids[nk] = (pfor_task){.pf = pf, .lo = mid, .hi = hi};
			hamr_spawn(&kids[nk].t, pfor_run, &kids[nk]);
			nk++;
			hi = mid;
		}
		pf->body(lo, hi, pf->arg);
	} else {
		hamr_pool *p = w->pool;
		size_t chunk = 1;
		while (lo < hi) {
			/* relaxed: a hint; a stale value splits one chunk late */
			if (hi - lo >= 2 && nk < PFOR_MAX_SPLITS &&
			    atomic_load_explicit(&p->n_idle, memory_order_relaxed) > 0 &&
			    hamr__deque_size(&w->q) == 0) {
				size_t mid = lo + (hi - lo) / 2;
				kids[nk] = (pfor_task){.pf = pf, .lo = mid, .hi = hi};
				hamr_spawn(&kids[nk].t, pfor_run, &kids[nk]);
				nk++;
				hi = mid;
				chunk = 1;
			}
			size_t end = hi - lo > chunk ? lo + chunk : hi;
			pf->body(lo, end, pf->arg);
			lo = end;
			if (chunk < PFOR_MAX_CHUNK)
				chunk *= 2;
		}
	}
	while (nk > 0)
		hamr_sync(&kids[--nk].t);
}

void hamr_parallel_for(size_t begin, size_t end, hamr_range_fn body, void *arg)
{
	if (begin >= end || !body)
		return;
	hamr__worker *w = hamr__tls_worker;
	if (!w) {
		body(begin, end, arg);
		return;
	}
	pfor pf = {body, arg, w->pool->opts.grain};
	pfor_range(&pf, begin, end);
}

struct pfor_call {
	size_t begin, end;
	hamr_range_fn body;
	void *arg;
};

static void pfor_call_run(void *arg)
{
	struct pfor_call *c = arg;
	hamr_parallel_for(c->begin, c->end, c->body, c->arg);
}

int hamr_pool_parallel_for(hamr_pool *p, size_t begin, size_t end,
                           hamr_range_fn body, void *arg)
{
	struct pfor_call c = {begin, end, body, arg};
	if (!body)
		return hamr__error_set(HAMR_EINVAL, "hamr_pool_parallel_for: no body");
	return hamr_pool_call(p, pfor_call_run, &c);
}
