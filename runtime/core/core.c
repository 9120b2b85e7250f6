// SPDX-License-Identifier: MIT
/* The run's state that every executor shares, below all of them: how a
 * run records its failures and finishes, which item and attempt the
 * calling thread runs, the concurrency groups, and the execution
 * manager's choice of where a block's items or a node run. The executors
 * (sequential.c, threads.c), the node call (call.c), map blocks
 * (blocks.c) and the backends (procexec.c's, and hamr/backend.h's run
 * services in backend.c) write into a run through these; run.c, the public handle on top, reads what
 * they wrote. Nothing here calls an executor. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"

/* ---- where the calling thread is ------------------------------------------ */

HAMR__TLS int64_t hamr__current_item = -1;
HAMR__TLS int hamr__proc_attempt = 1;
void *(*hamr__ret_alloc_hook)(hamr_call *c, size_t n);

/* ---- failures and the end of a run ------------------------------------------ */

/* Fills e with code, node and msg, owning copies of both strings (msg, a
 * heap string, is taken over; NULL: the code's description), and where
 * it happened. */
static void error_record(hamr_error_info *e, int code, const char *node, char *msg,
                         int64_t item, int pid, int sig, int attempt, int rank, const char *host)
{
	*e = (hamr_error_info){code, NULL, item, pid, sig, attempt, NULL, -1, NULL};
	e->node = node ? strdup(node) : NULL;
	if (rank >= 0) {
		e->rank = rank;
		e->host = strdup(host ? host : "");
	}
	e->message = msg ? msg : strdup(hamr_strerror(code));
	if (!e->message)
		e->message = hamr_strerror(code); /* static: see error_free */
}

void hamr__error_info_free(hamr_error_info *e)
{
	free((char *)e->node);
	free((char *)e->host);
	if (e->message != hamr_strerror(e->code))
		free((char *)e->message);
}

int hamr__run_fail(hamr_run *r, int code, const char *node, char *msg)
{
	return hamr__run_fail_at(r, code, node, msg, node ? hamr__current_item : -1, (int)getpid(), 0,
	                         hamr__proc_attempt);
}

int hamr__run_fail_at(hamr_run *r, int code, const char *node, char *msg, int64_t item,
                      int pid, int sig, int attempt)
{
	return hamr__run_fail_rank(r, code, node, msg, item, pid, sig, attempt, -1, NULL);
}

int hamr__run_fail_rank(hamr_run *r, int code, const char *node, char *msg, int64_t item,
                        int pid, int sig, int attempt, int rank, const char *host)
{
	hamr_error_info e;
	error_record(&e, code, node, msg, item, pid, sig, attempt, rank, host);
	pthread_mutex_lock(&r->lock);
	/* a cancel or a stop seen after another failure adds nothing */
	if (r->err.code && code == HAMR_ECANCELED) {
		pthread_mutex_unlock(&r->lock);
		hamr__error_info_free(&e);
		return code;
	}
	r->n_errs_seen++;
	if (!r->err.code) {
		/* the first failure: a copy of its own, so that the list may
		 * drop or keep entries as it likes */
		error_record(&r->err, code, e.node,
		             e.message == hamr_strerror(code) ? NULL : strdup(e.message), item, pid,
		             sig, attempt, rank, host);
	}
	int keep = r->n_errs < HAMR__MAX_ERRORS;
	if (keep && r->n_errs == r->cap_errs) {
		size_t cap = r->cap_errs ? 2 * r->cap_errs : 4;
		hamr_error_info *errs = realloc(r->errs, cap * sizeof *errs);
		if (errs) {
			r->errs = errs;
			r->cap_errs = cap;
		} else {
			keep = 0;
		}
	}
	if (keep)
		r->errs[r->n_errs++] = e;
	pthread_mutex_unlock(&r->lock);
	if (!keep)
		hamr__error_info_free(&e);
	return code;
}

void hamr__run_finish(hamr_run *r, int rc)
{
	if (r->observe) { /* before the waiters wake: r may go right after */
		hamr_event e = {.kind = HAMR_EV_RUN_END, .node_index = -1, .item = -1, .task = -1,
		                .start_ns = r->start_ns, .rc = rc};
		if (r->stats) /* first: a RUN_END hook may read them */
			hamr__stats_end(r);
		hamr__event(r, &e);
	}
	pthread_mutex_lock(&r->lock);
	r->rc = rc;
	/* release: pairs with the acquire loads of state in wait and destroy
	 * (the lock orders it for those that sleep) */
	atomic_store_explicit(&r->state, RUN_DONE, memory_order_release);
	pthread_cond_broadcast(&r->done);
	pthread_mutex_unlock(&r->lock);
}

/* ---- where a block's items and a node run ------------------------------------ */

int hamr__node_procable(const hamr_plan *p, uint32_t i)
{
	const hamr__pnode *pn = &p->nodes[i];
	return pn->fn && pn->kind == HAMR_NODE_PLAIN && !(p->node_block && p->node_block[i]) &&
	       !(pn->flags & (HAMR__PNODE_LIMITED | HAMR__PNODE_COLLECTS));
}

/* The values an item of block blk hands on that its block computes (not
 * the item itself), into outs; their number, or more than `cap` when
 * there are too many. */
uint32_t hamr__block_outs(const hamr_plan *p, int32_t blk, uint32_t *outs, uint32_t cap)
{
	uint32_t n = 0;
	uint32_t owner = (uint32_t)p->scope_owner[blk];
	for (uint32_t g = p->gather_start[blk]; g < p->gather_start[blk + 1]; g++) {
		uint32_t src = p->gather[g].src, k = 0;
		if (src == owner)
			continue;
		while (k < n && k < cap && outs[k] != src)
			k++;
		if (k < n)
			continue;
		if (n < cap)
			outs[n] = src;
		n++;
	}
	return n;
}

int hamr__block_procable(const hamr_plan *p, int32_t blk)
{
	uint32_t outs[HAMR__MAX_OUT];
	for (uint32_t u = p->unit_start[blk]; u < p->unit_start[blk + 1]; u++)
		if (!hamr__node_procable(p, p->units[u]))
			return 0;
	return hamr__block_outs(p, blk, outs, HAMR__MAX_OUT) <= HAMR__MAX_OUT;
}

int hamr__block_remote(const hamr_run *r, int32_t blk)
{
	int remote = r->plan->scope_remote[blk];
	if (remote == HAMR_REMOTE_MPI) /* the tag executor=mpi: the run's MPI backend */
		remote = HAMR_REMOTE_BACKEND;
	if (remote == HAMR_REMOTE_DEFAULT)
		remote = r->opts.remote;
	if (remote == HAMR_REMOTE_DEFAULT)
		remote = r->opts.executor == HAMR_EXEC_THREADS ? HAMR_REMOTE_THREADS :
		         r->opts.executor == HAMR_EXEC_PROCESSES ? HAMR_REMOTE_PROCESSES :
		         r->opts.executor == HAMR_EXEC_BACKEND ? HAMR_REMOTE_BACKEND :
		                                                 HAMR_REMOTE_SEQUENTIAL;
	return remote;
}

/* ---- concurrency groups ------------------------------------------------ */

static HAMR__TLS hamr__held *held_top;

int hamr__group_enter(hamr_run *r, uint32_t i, hamr__held *h)
{
	const hamr_plan *p = r->plan;
	int32_t g = p->node_group[i];
	h->r = r;
	h->group = g;
	h->took = 1;
	for (const hamr__held *x = held_top; x; x = x->next)
		if (x->r == r && x->group == g)
			h->took = 0;
	atomic_uint *used = &r->group_used[g];
	unsigned cap = p->group_cap[g];
	for (unsigned spin = 0; h->took; spin++) {
		unsigned x = atomic_load_explicit(used, memory_order_relaxed);
		/* acquire: the place is taken before the node's work */
		if (x < cap && atomic_compare_exchange_weak_explicit(used, &x, x + 1,
		                                                     memory_order_acquire,
		                                                     memory_order_relaxed))
			break;
		/* relaxed: a cancel seen one round late only waits one round */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return HAMR_ECANCELED;
		/* the holders run nodes, which end: wait, politely */
		if (spin < 64) {
			hamr__cpu_relax();
		} else if (spin < 128) {
			sched_yield();
		} else {
			struct timespec ts = {0, 50000};
			nanosleep(&ts, NULL);
		}
	}
	h->next = held_top;
	held_top = h;
	return 0;
}

void hamr__group_leave(hamr_run *r, hamr__held *h)
{
	held_top = h->next;
	if (h->took)
		/* release: the node's work is done before its place is free */
		atomic_fetch_sub_explicit(&r->group_used[h->group], 1, memory_order_release);
}

const struct hamr_backend *hamr__block_backend(const hamr_run *r, int remote, void **self)
{
	if (remote == HAMR_REMOTE_PROCESSES) {
		*self = r->procs_self;
		return r->procs_backend;
	}
	if (remote == HAMR_REMOTE_BACKEND) {
		*self = r->opts.backend_self;
		return r->opts.backend;
	}
	*self = NULL;
	return NULL;
}
