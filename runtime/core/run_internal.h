/* SPDX-License-Identifier: MIT */
/* Internal: a run's state, one node call, and what every executor shares:
 * running one plan node and recording the first failure. */
#ifndef HAMR_RUNTIME_RUN_INTERNAL_H
#define HAMR_RUNTIME_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "graph/graph_internal.h"
#include "hamr/errno.h"
#include "hamr/runtime.h"
#include "runtime/pool/pool_internal.h"
#include "serialize/value_internal.h"

enum { RUN_CREATED = 0, RUN_STARTED, RUN_RUNNING, RUN_DONE };

/* A node call. It begins with the public head (include/hamr/runtime.h),
 * which programs read through the inline accessors: the union makes its
 * fields this struct's own names (c->args) and the head a view of them.
 * Every call is made with all of the head set (call_init,
 * hamr__call_init, and the serving side's in backend.c): the inline
 * accessors and the library's read `type` and `n_args` from the head, not
 * from the plan node. */
struct hamr_call {
	union {
		struct hamr__call_head head;
		struct {
			HAMR__CALL_HEAD_FIELDS
		};
	};
	hamr_run *run;
	const hamr__pnode *node;
	struct hamr__stream *stream; /* a parallelizable node's items, else NULL */
	char *fail_msg;         /* set by hamr_fail, heap */
};

/* Tests only: a plain plan on the threads executor turns lazy at this node
 * of its order, whatever the workers do (runtime/exec/threads.c);
 * UINT32_MAX, the default: once a worker is idle. Read by every plain
 * run, unsynchronized: set it only while no run exists. */
extern uint32_t hamr__threads_switch_at;

/* Tests only: where a block's packed lists of i64 and f64 go from chunks
 * to a mapping of their own, and how many items that holds
 * (runtime/blocks/blocks.c). Read as each block starts: set them only
 * while no run exists. */
extern size_t hamr__blocks_area_from, hamr__blocks_area_items;
/* Tests only: how long the last consumer of an emitting node lingers, in
 * all, for its items (runtime/blocks/blocks.c: linger); 100 us. 0: it
 * waits once; after that it takes what is there and leaves when nothing
 * is. Set it only while no run exists. */
extern int64_t hamr__blocks_linger_span_ns;

/* A node's task record, for the threads executor. */
typedef struct hamr__node_task {
	hamr_task t;   /* for a worker's deque */
	hamr__job job; /* for another pool's queue */
	struct hamr_run *r;
	uint32_t i;    /* the node; for a range of roots, its first index in
	                * plan->roots */
	uint32_t roots_end; /* 0: a node; else a range of roots [i, roots_end),
	                     * in the record of its first root */
} hamr__node_task;

struct hamr_run {
	const hamr_plan *plan;
	hamr_run_opts opts;
	void *mem;              /* slots, remaining, pending, tasks: one
	                         * block, kept by the plan for its next run */
	hamr_value *slots;      /* plan->n_slots values */
	atomic_uint *remaining; /* per slot: arguments still to read it */
	/* threads executor */
	struct hamr_pool *pool;
	struct hamr_pool *blocking; /* the pool's blocking pool, if needed */
	atomic_uint *pending;   /* per node: computed inputs not yet done */
	struct hamr__node_task *tasks; /* per node */
	atomic_uint left;       /* nodes not yet finished or skipped */
	/* some of the run's work left its first worker: counts of pending
	 * inputs and readers take atomic read-modify-writes from then on
	 * (runtime/exec/threads.c) */
	atomic_bool shared_counts;
	atomic_bool stop;       /* fail fast: no node starts after a failure */
	hamr__job job;          /* the submission that starts the run */
	atomic_int state;       /* RUN_* */
	atomic_bool cancel;
	/* cancel or stop: what a block's stream tests per item (stopped);
	 * set after stop by hamr__run_halt, after cancel by hamr_run_cancel */
	atomic_bool halt;
	int rc;                 /* the run's result once RUN_DONE */
	pthread_mutex_t lock;   /* guards the error record and waiting */
	pthread_cond_t done;
	hamr_error_info err;    /* the first failure; owns its strings */
	/* every failure recorded (under lock): up to HAMR__MAX_ERRORS */
	hamr_error_info *errs;
	size_t n_errs, cap_errs, n_errs_seen;
	/* concurrency groups: places taken, per group */
	atomic_uint *group_used;
	int keep_going;
	/* hooks: the caller's, then HAMR_TRACE's; NULL when none */
	hamr_hook *hooks;
	size_t n_hooks;
	struct hamr__stats *stats; /* statistics, when counted; else NULL */
	int observe;            /* hooks or stats: events are made */
	int slow_path;          /* observe or node_backend: the node call's
	                         * one test for both (set at creation) */
	int pid;                /* getpid(), for events */
	int64_t start_ns;       /* when hamr_run_start was called */
	/* backends (hamr/backend.h), chosen by run.c: the one nodes outside
	 * blocks go to (NULL: they stay), and the one of each remote kind
	 * that sends a block's items elsewhere */
	const struct hamr_backend *node_backend;
	void *node_backend_self;
	const struct hamr_backend *procs_backend; /* worker processes */
	void *procs_self;
	/* the process executor */
	struct hamr_procpool *procpool; /* when the run uses processes */
	long proc_timeout_ms;   /* 0: none */
	long proc_retries;
	/* what hamr_item_index shows for item k of the run's blocks, k below
	 * n_item_shown (hamr_backend_item_indices); NULL: k itself */
	int64_t *item_shown;
	size_t n_item_shown;
	struct {
		atomic_ullong tasks, copied, shared, crashes, timeouts, retries;
	} proc;
};

/* A failure stops the run under fail fast: stop, then the halt every
 * block's stream tests. relaxed, as for stop: hints, which running work
 * sees late or early. */
static inline void hamr__run_halt(struct hamr_run *r)
{
	atomic_store_explicit(&r->stop, true, memory_order_relaxed);
	atomic_store_explicit(&r->halt, true, memory_order_relaxed);
}

#define HAMR__MAX_ERRORS 10000



/* Where a node reads its arguments and writes its result: the run's own
 * slots, or inside a map block running on several workers at once, a
 * frame of a worker's own for the block's values. */
typedef struct hamr__frame {
	hamr_value *slots;
	atomic_uint *remaining;
	int shared; /* other threads count its slots too: scope 0 on the
	             * threads executor, or an item's nodes as tasks */
} hamr__frame;

/* One reader of slot s in frame f is done with it: the slot's value is
 * dropped by its last reader. A slot with one reader is that reader's
 * alone (no count); in a frame no other thread counts, a plain
 * decrement; else acq_rel: each reader's release orders its reads of the
 * slot before its decrement, and the acquire of the last decrement orders
 * the free after all of them. Pinned slots (outputs, defaults) stay. */
static inline void hamr__slot_release(const hamr_plan *p, const hamr__frame *f, int32_t s)
{
	if (p->slot_pinned[s])
		return;
	if (p->consumers[s] == 1) {
		hamr__value_drop(&f->slots[s]);
	} else if (!f->shared) {
		/* relaxed load and store: only this thread counts the frame */
		unsigned left = atomic_load_explicit(&f->remaining[s], memory_order_relaxed) - 1;
		atomic_store_explicit(&f->remaining[s], left, memory_order_relaxed);
		if (!left)
			hamr__value_drop(&f->slots[s]);
	} else if (atomic_fetch_sub_explicit(&f->remaining[s], 1, memory_order_acq_rel) == 1) {
		hamr__value_drop(&f->slots[s]);
	}
}

/* Runs plan node i of r in frame slots: calls its function with a fresh
 * call, checks the result against the declared type and stores it in slot
 * i. Returns 0, or the node's error, already recorded in r's error record. */
int hamr__run_node_in(hamr_run *r, uint32_t i, hamr_value *slots);

static inline int hamr__run_node(hamr_run *r, uint32_t i)
{
	return hamr__run_node_in(r, i, r->slots);
}

/* Node i called again and again in frame slots (a map block's one node,
 * once per item): hamr__node_repeat_init sets call c up once and says
 * whether the short form below may call it, which holds when
 * hamr__run_node_in would take its plain path every time (no hooks, no
 * backend, no concurrency group, no keep_going's input check) and the
 * node has a function. hamr__node_repeat then does what
 * hamr__run_node_in does, with the same result. */
int hamr__node_repeat_init(hamr_call *c, hamr_run *r, uint32_t i, hamr_value *slots);
int hamr__node_repeat_slow(hamr_call *c, hamr_value *slots, uint32_t i, int rc);

static inline int hamr__node_repeat(hamr_call *c, hamr_value *slots, uint32_t i)
{
	c->result.type = NULL;
	int rc = c->node->fn(c);
	if (__builtin_expect(rc == 0 && c->result.type != NULL && c->fail_msg == NULL, 1)) {
		/* field by field, as in the node call's node_done */
		slots[i].u = c->result.u;
		slots[i].type = c->result.type;
		return 0;
	}
	return hamr__node_repeat_slow(c, slots, i, rc);
}

/* Node i of r ran (or was skipped) on the one thread that counts r's
 * slots: each of its arguments loses a reader by a relaxed load and store,
 * no read-modify-write, and a value whose last reader it was is dropped
 * unless pinned. The sequential executor's release, and the threads
 * executor's while a run stays on its first worker. The same as
 * hamr__slot_release for a frame no other thread counts, written out:
 * that one also reads consumers[], which costs this loop a nanosecond or
 * two per node (bench/RESULTS.md). */
static inline void hamr__release_args_alone(const hamr_plan *p, hamr_run *r, uint32_t i)
{
	const hamr__pnode *pn = &p->nodes[i];
	for (uint32_t k = 0; k < pn->n_args; k++) {
		int32_t s = p->args[pn->arg_start + k];
		if (s < 0)
			continue;
		unsigned left = atomic_load_explicit(&r->remaining[s], memory_order_relaxed) - 1;
		atomic_store_explicit(&r->remaining[s], left, memory_order_relaxed);
		if (left == 0 && !p->slot_pinned[s])
			hamr__value_drop(&r->slots[s]);
	}
}

/* What running a node, unit or item returns besides 0 and a negative
 * HAMR_E*: under keep_going, a value it needs is missing (an upstream node
 * or item failed), so it did not run. Not an error of its own. */
#define HAMR__SKIPPED 1

/* Runs unit i of a plan with map blocks in frame f: a plain node, or a
 * parallelizable node and then its block once per item (runtime/blocks.c),
 * the items on the pool or in item order as the execution manager decides.
 * Returns 0, HAMR__SKIPPED, or the first error, recorded. */
int hamr__run_unit(hamr_run *r, uint32_t i, const hamr__frame *f);

/* Runs every unit of scope sc in order, in frame f. */
int hamr__run_scope(hamr_run *r, int32_t sc, const hamr__frame *f);

/* Runs parallelizable plan node i of r, its items going to stream s as it
 * emits them (or, for a returned list, once it returns). 0, HAMR__SKIPPED
 * or the node's error, recorded. */
int hamr__run_emit(hamr_run *r, uint32_t i, hamr_value *slots, struct hamr__stream *s);

/* Takes item *v (moved) from a parallelizable node into its stream; it may
 * run at once. 0, or an error that tells the node to stop emitting. */
int hamr__stream_push(struct hamr__stream *s, hamr_value *v);

/* Why the stream could not take an item (0: it took them all), and how
 * many it took in *n_items. */
int hamr__stream_error(const struct hamr__stream *s, size_t *n_items);
/* Whether n_items items would make more tasks than max_tasks allows. */
int hamr__stream_would_pass(const struct hamr__stream *s, size_t n_items);

/* The stream's mark for a passed max_tasks, among its HAMR_ERANGE
 * errors (the node fails with HAMR_ERANGE). */
#define HAMR__E2BIG_TASKS (-1000)
/* Whether the stream stopped taking items (a failure under fail_fast, a
 * cancel): an emitting node that then fails only echoes that. */
int hamr__stream_stopped(const struct hamr__stream *s);

/* Under keep_going: whether node i lacks a computed value it reads in
 * `slots` (an upstream failure left the slot empty). */
int hamr__missing_input(const hamr_run *r, uint32_t i, const hamr_value *slots);

/* The node call's pieces that a parallelizable node's call (blocks.c)
 * puts together around its emits (runtime/call.c): the call set up for
 * node i, its start and end events (with its statistics), and a failure
 * recorded with its message (taken over). */
void hamr__call_init(hamr_call *c, hamr_run *r, uint32_t i, hamr_value *slots,
                     struct hamr__stream *stream);
void hamr__node_started(hamr_run *r, uint32_t i, hamr_event *e);
void hamr__node_ended(hamr_run *r, hamr_event *e, int rc);
int hamr__node_failed(hamr_run *r, const hamr__pnode *pn, int rc, char *msg);

/* A place in a concurrency group that the calling thread holds, on its
 * stack: the thread's holdings form a chain, innermost first. */
typedef struct hamr__held {
	const hamr_run *r;
	int32_t group;
	int took;                /* 0: nested in a place this thread holds */
	struct hamr__held *next;
} hamr__held;

/* Takes a place in node i's concurrency group for the calling thread,
 * waiting while the group is full; a thread that holds one already (a
 * node of the group running inside another's hamr_sync) takes none, since
 * the thread is busy either way. 0, or HAMR_ECANCELED when the run was
 * cancelled during the wait. hamr__group_leave gives the place back. */
int hamr__group_enter(hamr_run *r, uint32_t i, hamr__held *h);
void hamr__group_leave(hamr_run *r, hamr__held *h);

/* The item the calling thread runs a block for, -1 outside blocks: what
 * the error record says of a failing node. */
extern HAMR__TLS int64_t hamr__current_item;

/* The index r's item `item` shows to its nodes (hamr_item_index), and
 * to the worker processes that run it: item itself unless
 * hamr_backend_item_indices gave another. r may be NULL. */
static inline int64_t hamr__item_shown(const hamr_run *r, int64_t item)
{
	return r && r->item_shown && item >= 0 && (uint64_t)item < r->n_item_shown ?
	               r->item_shown[item] :
	               item;
}

/* Records a failure of node `node` (NULL: not a node's) with message `msg`
 * (heap, taken over; NULL: the code's description) if it is r's first.
 * Returns code. */
int hamr__run_fail(hamr_run *r, int code, const char *node, char *msg);

/* The same for a task of the process executor: its item, the worker's
 * pid, the signal that killed it (0: none) and the attempt. */
int hamr__run_fail_at(hamr_run *r, int code, const char *node, char *msg, int64_t item,
                      int pid, int sig, int attempt);
/* The same for a task that ran on an MPI rank: the record names the rank
 * and its host (copied). */
int hamr__run_fail_rank(hamr_run *r, int code, const char *node, char *msg, int64_t item,
                        int pid, int sig, int attempt, int rank, const char *host);

/* The attempt the calling thread runs (process workers: the task's). */
extern HAMR__TLS int hamr__proc_attempt;

/* hamr_ret_alloc's allocation where results are not the process's own
 * heap values: a worker process installs its arena's (procworker.c); NULL
 * elsewhere. */
extern void *(*hamr__ret_alloc_hook)(hamr_call *c, size_t n);

/* The block scope blk's remote executor in run r: its tag, else the
 * run's, else its local executor's (HAMR_REMOTE_SEQUENTIAL, THREADS,
 * PROCESSES or BACKEND). */
int hamr__block_remote(const hamr_run *r, int32_t blk);

/* The backend that runs the items of a block whose remote executor is
 * `remote` (and *self, its instance), NULL: they stay in this process. */
const struct hamr_backend *hamr__block_backend(const hamr_run *r, int remote, void **self);

/* Runs plan node i of r (outside blocks) through r->node_backend; its
 * result goes to slots[i]. 0 or the failure, recorded
 * (runtime/core/backend.c). */
int hamr__backend_run_node(hamr_run *r, uint32_t i, hamr_value *slots);

/* Records that backend be gave back a completion hamr cannot take (`what`
 * says which), as HAMR_EINVAL for node `node` and item `item`. Returns
 * HAMR_EINVAL. */
int hamr__backend_refuse(hamr_run *r, const struct hamr_backend *be, const char *node,
                         int64_t item, const char *what);

/* The serving side's node call (hamr_backend_serve, and worker
 * processes): node pn, its argument slots args, on slots, with stand_in
 * as the call's run. 0 with its result in *out, or the failure's code (a
 * code not hamr's becomes HAMR_EFAIL) and *msg (malloc'd, or NULL);
 * *oom (when oom is not NULL): an allocation failed during the call. */
int hamr__backend_serve_node(hamr_run *stand_in, const hamr__pnode *pn, const int32_t *args,
                             hamr_value *slots, hamr_value *out, char **msg, int *oom);

/* Values one item (one task) sent to a backend hands back, at most
 * (HAMR_BACKEND_MAX_OUT): what the process protocol carries
 * (runtime/procs/), and so what decides whether a block can go there. */
#define HAMR__MAX_OUT 8

/* Whether block scope blk can run through a backend (worker processes,
 * or another): only plain nodes with functions, in no concurrency group,
 * handing back at most 8 values. */
int hamr__block_procable(const struct hamr_plan *p, int32_t blk);
/* Whether plan node i can run through a backend: a plain node with a
 * function, neither a collect nor in a concurrency group. */
int hamr__node_procable(const struct hamr_plan *p, uint32_t i);

/* The values an item of block blk hands on that its block computes (not
 * the item itself), into outs; their number, or more than `cap` when
 * there are too many. */
uint32_t hamr__block_outs(const struct hamr_plan *p, int32_t blk, uint32_t *outs, uint32_t cap);

/* Frees what an error record owns (its node's name and message). */
void hamr__error_info_free(hamr_error_info *e);

/* Fills the event's run, time, worker and pid, and calls each of r's
 * hooks with it. Only for runs with hooks (r->n_hooks). */
void hamr__event(const hamr_run *r, hamr_event *e);
/* The same for an event whose time, worker and pid are set (a worker
 * process timed it). */
void hamr__event_at(const hamr_run *r, hamr_event *e);

/* Sets up r's hooks from its options and HAMR_TRACE, and its statistics
 * from opts.stats and HAMR_STATS (runtime/hooks.c). */
int hamr__hooks_init(hamr_run *r);
void hamr__hooks_free(hamr_run *r);

/* HAMR_TRACE's hook for every run ({NULL, NULL} when unset), opened on the
 * first call (runtime/trace.c). 0 or HAMR_EIO. */
int hamr__trace_env(hamr_hook *out);

/* A run's statistics (runtime/stats.c): made when asked (print: also
 * print them at the end), freed with the run. 0 or HAMR_ENOMEM. */
int hamr__stats_init(hamr_run *r, long print);
void hamr__stats_free(struct hamr__stats *s);

/* Statistics, when r->stats: a node's execution (e: its end event), a
 * batch of block `scope` (its end event, and the items in flight when it
 * formed), a block instance's items, and the run's start and end (which
 * prints them with HAMR_STATS). */
void hamr__stats_node(hamr_run *r, const hamr_event *e);
void hamr__stats_task(hamr_run *r, int32_t scope, const hamr_event *e, uint64_t inflight);
void hamr__stats_block(hamr_run *r, int32_t scope, uint64_t items);
void hamr__stats_start(hamr_run *r);
void hamr__stats_end(hamr_run *r);

/* Marks r done with result rc and wakes its waiters (runtime/core.c,
 * like the other calls above from hamr__group_enter on). */
void hamr__run_finish(hamr_run *r, int rc);

/* The sequential executor: runs every node of r's plan in order on the
 * calling thread. Returns 0 or the first error. */
int hamr__exec_sequential(hamr_run *r);

/* The threads executor: allocates its per-run state (at creation), and
 * starts the run on r->pool; hamr__run_finish ends it. */
int hamr__threads_prepare(hamr_run *r);
void hamr__threads_start(hamr_run *r);
/* The same from a thread that will only wait for r (hamr_run_execute):
 * when a worker is idle (hamr__pool_claim), nothing is queued and
 * its nodes would see what they see on the worker's thread, it runs r
 * itself in that worker's place, and helps while there is work to take;
 * else it hands r to the pool as hamr__threads_start does. */
void hamr__threads_start_here(hamr_run *r);

#endif
