// SPDX-License-Identifier: MIT
/* The threads executor: a plan on the work-stealing pool.
 *
 * Each plan node is a task whose record lives in the run (no allocation per
 * node), with a counter of the computed inputs it still waits for. A node
 * whose counter is zero at the start is a root; the run starts with one
 * job, submitted from the caller's thread, that pushes every root onto the
 * worker's deque. When a node finishes, it decrements each dependent's
 * counter; the dependents that reach zero are ready: all but one go on this
 * worker's own deque, for it or thieves to take, and the first runs next
 * right here, without a trip through the deque. A chain of nodes thus runs
 * as a loop on one worker, and a wide layer spreads over every worker.
 * Nodes tagged blocking=true (I/O) run on the pool's blocking pool, sized
 * for concurrency rather than cores, so waiting never occupies a compute
 * worker; readiness crosses between the two pools through their queues.
 * So does a block whose items run such a node: its items run there too.
 *
 * In a plan with map blocks, the tasks are the units of the plan's outer
 * scope: a parallelizable node and its whole block is one unit, whose
 * items stream to consumers on the pool (runtime/blocks.c).
 *
 * Values are released as in the sequential executor, with atomic counters:
 * the reader that takes a slot's count to zero frees it. A failure stops
 * the run fast: nodes not yet started are skipped (their counters still
 * move, so the run always finishes), running ones complete, and the first
 * error is the run's. Under keep_going nothing stops: a node whose input
 * failed is skipped when its turn comes. The last node to finish ends the
 * run. */
#include <stdlib.h>

#include "runtime/core/run_internal.h"
#include "serialize/value_internal.h"
#include "serialize/error_internal.h"


static void node_task(void *arg);

/* Node d's task record, filled for this worker's deque and pushed there. */
static void push_task(hamr_run *r, hamr__worker *w, uint32_t d)
{
	hamr__node_task *t = &r->tasks[d];
	t->r = r;
	t->i = d;
	hamr__task_set_fn(&t->t, node_task, t);
	hamr__worker_push(w, &t->t);
}

/* Node d is ready: it runs next here (*next) if this worker's pool is the
 * one for it and nothing is next yet, goes on this worker's deque if the
 * pool is right, or into the queue of the pool it belongs to: the blocking
 * pool for nodes tagged blocking and blocks that run one, the compute pool
 * for the others. */

static void make_ready(hamr_run *r, hamr__worker *w, uint32_t d, uint32_t *next)
{
	int blocking = (r->plan->nodes[d].flags &
	                (HAMR__PNODE_BLOCKING | HAMR__PNODE_BLOCKING_ITEMS)) != 0;
	hamr_pool *target = blocking ? r->blocking : r->pool;
	hamr__node_task *t = &r->tasks[d];
	/* blocking nodes always go through the queue, whose seq_cst wake
	 * never misses a parked worker: they gain nothing from locality, and
	 * each waiting one should have a worker of its own at once. A task
	 * record is written only here, when it is needed: a chain of nodes
	 * that run next on one worker never touches one. */
	if (blocking || hamr__worker_pool(w) != target) {
		t->r = r;
		t->i = d;
		t->job.fn = node_task;
		t->job.arg = t;
		hamr__pool_submit(target, &t->job);
	} else if (*next == UINT32_MAX) {
		*next = d;
	} else {
		push_task(r, w, d);
	}
}

static void release_args(hamr_run *r, const hamr__pnode *pn)
{
	const hamr_plan *p = r->plan;
	const hamr__frame f = {r->slots, r->remaining, 1}; /* workers share it */
	for (uint32_t k = 0; k < pn->n_args; k++) {
		int32_t s = p->args[pn->arg_start + k];
		/* with map blocks: a block's outer reads are its unit's */
		if (s >= 0 && (!p->arg_direct || p->arg_direct[pn->arg_start + k]))
			hamr__slot_release(p, &f, s);
	}
}

/* The last step of a run: after finish, r may be freed at once. */
static void end_run(hamr_run *r)
{
	hamr_pool *pool = r->pool;
	hamr__run_finish(r, r->err.code);
	hamr__pool_run_end(pool);
}

static void node_task(void *arg)
{
	hamr__node_task *nt = arg;
	hamr_run *r = nt->r;
	const hamr_plan *p = r->plan;
	hamr__worker *w = hamr__worker_self();
	uint32_t i = nt->i, ran = 0;
	/* this task may run inside an item of a block on this worker
	 * (stolen while it waits); it belongs to no item itself */
	int64_t item = hamr__current_item;
	hamr__current_item = -1;
	for (;;) {
		/* relaxed: a late view of stop or cancel runs one more node,
		 * which fail-fast allows (running nodes complete) */
		if (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
			int rc;
			if (atomic_load_explicit(&r->cancel, memory_order_relaxed)) {
				rc = hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
			} else if (p->n_scopes > 1) {
				/* a unit: a node, or a block and its items */
				hamr__frame f = {r->slots, r->remaining, 1};
				rc = hamr__run_unit(r, i, &f);
			} else {
				rc = hamr__run_node(r, i);
			}
			if (rc < 0 && !r->keep_going)
				atomic_store_explicit(&r->stop, true, memory_order_relaxed);
		}
		const hamr__pnode *pn = &p->nodes[i];
		release_args(r, pn);
		uint32_t next = UINT32_MAX;
		for (uint32_t k = 0; k < pn->n_dependents; k++) {
			uint32_t d = p->dependents[pn->dep_start + k];
			/* a dependent waiting for this node alone is ready;
			 * else acq_rel: the release publishes this node's
			 * result slot, and the decrement that reaches zero
			 * acquires every input's before the dependent reads */
			if (p->pending_init[d] == 1 ||
			    atomic_fetch_sub_explicit(&r->pending[d], 1,
			                              memory_order_acq_rel) == 1)
				make_ready(r, w, d, &next);
		}
		ran++;
		if (next == UINT32_MAX)
			break;
		i = next;
	}
	hamr__current_item = item;
	/* one count for the whole chain this task ran (a shared line touched
	 * once, not once per node). acq_rel: the last to finish sees every
	 * other node's work before it ends the run */
	if (atomic_fetch_sub_explicit(&r->left, ran, memory_order_acq_rel) == ran)
		end_run(r);
}

static void start_roots(void *arg)
{
	hamr_run *r = arg;
	const hamr_plan *p = r->plan;
	hamr__worker *w = hamr__worker_self();
	/* push every root; this worker pops the last one first. The roots
	 * may finish every node before this loop ends, so `left` counts this
	 * job too: the run cannot end (and be freed) under the loop. */
	for (uint32_t k = 0; k < p->n_roots; k++) {
		uint32_t next = UINT32_MAX;
		make_ready(r, w, p->roots[k], &next);
		if (next != UINT32_MAX)
			push_task(r, w, next);
	}
	if (atomic_fetch_sub_explicit(&r->left, 1, memory_order_acq_rel) == 1)
		end_run(r);
}

int hamr__threads_prepare(hamr_run *r)
{
	const hamr_plan *p = r->plan;
	if (p->n_blocking && !(r->blocking = hamr__pool_blocking(r->pool)))
		return HAMR_ENOMEM; /* the message says why */
	for (uint32_t i = 0; i < p->n_nodes; i++)
		atomic_init(&r->pending[i], p->pending_init[i]);
	return 0;
}

void hamr__threads_start(hamr_run *r)
{
	r->job.fn = start_roots;
	r->job.arg = r;
	hamr__pool_run_begin(r->pool);
	hamr__pool_submit(r->pool, &r->job);
}
