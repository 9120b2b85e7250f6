/* SPDX-License-Identifier: MIT */
/* Runs: executing a plan, and the calls a node function makes.
 *
 * A run executes one plan once with one set of given values. It is created,
 * started, waited for and destroyed through a handle; hamr_run_cancel stops
 * it from any thread, a node function included. The sequential executor
 * (Hamilton's default) runs the plan's nodes one after the other, in
 * dependency order, on the thread that calls hamr_run_wait.
 *
 * Values inside a run: each node's result is owned by the run. It is
 * released as soon as the last node that reads it has run, unless it was
 * requested as an output; outputs stay readable until hamr_run_destroy, also
 * after a failure (those that finished before it). */
#ifndef HAMR_RUNTIME_H
#define HAMR_RUNTIME_H

#include "hamr/export.h"
#include "hamr/graph.h"
#include "hamr/hooks.h"
#include "hamr/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hamr_run hamr_run;

typedef enum hamr_executor_kind {
	/* unset: the executor the variable HAMR_EXECUTOR names (sequential,
	 * threads or processes), else the built-in default, today the
	 * sequential one. A HAMR_EXECUTOR that names none of them fails
	 * hamr_run_create (HAMR_EINVAL); processes needs
	 * hamr_processes_init(), as HAMR_EXEC_PROCESSES does */
	HAMR_EXEC_DEFAULT = 0,
	/* every node in plan order, on the thread that waits (Hamilton's
	 * default executor) */
	HAMR_EXEC_SEQUENTIAL,
	/* the work-stealing pool: a node runs as soon as its inputs are
	 * ready; a finished node's ready dependents go on its worker's own
	 * deque, and one of them runs next on the same worker */
	HAMR_EXEC_THREADS,
	/* worker processes (hamr/process.h): each node outside blocks runs
	 * in a worker process, and blocks' items too unless a block picks
	 * otherwise; the rest of the graph (parallelizable nodes, collects)
	 * runs on the pool, as with threads */
	HAMR_EXEC_PROCESSES,
	/* the backend in hamr_run_opts.backend (hamr/backend.h), as
	 * processes uses worker processes */
	HAMR_EXEC_BACKEND,
	/* the ranks of an MPI job (libhamr_mpi, hamr/mpi.h): nodes outside
	 * blocks and blocks' items, as processes; the backend registered as
	 * "mpi" by hamr_mpi_init, without which a run is refused
	 * (HAMR_ENOTSUP) */
	HAMR_EXEC_MPI
} hamr_executor_kind;

struct hamr_pool;
struct hamr_backend;

/* How the items of a map block become tasks (hamr_run_opts.grouping, the
 * HAMR_GROUPING variable, or a parallelizable node's tag grouping=...). */
typedef enum hamr_grouping {
	HAMR_GROUPING_DEFAULT = 0, /* HAMR_GROUPING, else the node's tag, else auto */
	/* consecutive items form one batch, taken in shares of what is left
	 * (half of it over twice the workers), and a new batch is offered
	 * only when a worker is hungry: tiny items cost about a serial loop,
	 * large ones spread over every core. HAMR_GRAIN fixes the batch. */
	HAMR_GROUPING_AUTO,
	HAMR_GROUPING_BLOCK, /* one task per item: its whole block instance */
	HAMR_GROUPING_NODE   /* one task per node per item */
} hamr_grouping;

/* What a failing node or item does to the rest of a run. */
typedef enum hamr_policy {
	/* no new node or item starts, running ones finish, and the run
	 * returns the first error */
	HAMR_FAIL_FAST = 0,
	/* every other item of a block runs, and so does every node outside
	 * blocks that needs no failed value; each failure is recorded
	 * (hamr_run_error_at), a tolerant collect receives the items that
	 * succeeded, and nodes that need a failed value do not run (no error
	 * of their own). hamr_run_wait still returns the first error. */
	HAMR_KEEP_GOING
} hamr_policy;

/* Which executor runs the items of map blocks (Hamilton's "remote"). */
typedef enum hamr_remote_kind {
	/* unset: the block's tag executor=..., else the local executor */
	HAMR_REMOTE_DEFAULT = 0,
	HAMR_REMOTE_LOCAL = HAMR_REMOTE_DEFAULT, /* the same, by its old name */
	HAMR_REMOTE_SEQUENTIAL, /* in item order, on the thread of the block */
	HAMR_REMOTE_THREADS,    /* on the pool */
	/* in worker processes: each item's nodes run in one worker, the
	 * items spread over the pool's workers. A block whose nodes cannot
	 * all run there (a nested block, a concurrency group) runs on the
	 * pool instead */
	HAMR_REMOTE_PROCESSES,
	/* the backend in hamr_run_opts.backend, with the same limits */
	HAMR_REMOTE_BACKEND,
	/* the ranks of an MPI job (HAMR_EXEC_MPI's backend), with the same
	 * limits; also a parallelizable node's tag executor=mpi */
	HAMR_REMOTE_MPI
} hamr_remote_kind;

typedef struct hamr_run_opts {
	/* the local executor: nodes outside map blocks. DEFAULT (0): see
	 * HAMR_EXEC_DEFAULT; any other value wins over HAMR_EXECUTOR, which
	 * is then not read */
	hamr_executor_kind executor;
	/* threads: the pool to run on (borrowed: it must outlive the run);
	 * NULL: hamr_pool_default() */
	struct hamr_pool *pool;
	/* the remote executor: how block items run. A parallelizable node's
	 * tag executor=... picks for its own block. Threads under a
	 * sequential local executor run each block on the pool while the
	 * caller waits. */
	hamr_remote_kind remote;
	hamr_grouping grouping; /* DEFAULT: see hamr_grouping */
	size_t grain;           /* items per batch of auto grouping; 0: the
	                         * pool's grain (HAMR_GRAIN), and when that is 0
	                         * too, adaptive shares */
	/* items of one block emitted and not yet finished, at most; at the
	 * bound the emitting node runs items itself before it goes on.
	 * 0: HAMR_MAX_INFLIGHT, else 65536 */
	size_t max_inflight;
	hamr_policy policy;
	/* items one parallelizable node may emit, at most: the emit past it
	 * fails the node (HAMR_ERANGE, naming it and the limit). 0:
	 * HAMR_MAX_ITEMS, else no limit */
	size_t max_items;
	/* tasks one block may make, at most, under block or node grouping (a
	 * task per item, or per node of each item): the emit that would pass
	 * it fails the emitting node (HAMR_ERANGE, naming the block and the
	 * limit), and a returned list that would fails before any of its
	 * items runs. Auto grouping's batches are few by design and not
	 * limited. 0: HAMR_MAX_TASKS, else no limit */
	size_t max_tasks;
	/* hooks called at every event of the run (hamr/hooks.h); the array
	 * is copied when the run is made, and what each hook's userdata
	 * points to must outlive the run. HAMR_TRACE adds its own. */
	const hamr_hook *hooks;
	size_t n_hooks;
	int stats; /* 1: count statistics (hamr_run_stats_get); 0: HAMR_STATS */
	/* processes: the pool of worker processes (borrowed: it must outlive
	 * the run); NULL: one made on first use with HAMR_PROCESSES workers,
	 * which needs hamr_processes_init() */
	struct hamr_procpool *procpool;
	/* processes: a task running longer than this many milliseconds is
	 * killed and fails (HAMR_ETIMEDOUT). 0: HAMR_TASK_TIMEOUT, else none */
	long task_timeout_ms;
	/* processes: times a task whose worker died or timed out runs again
	 * (not one that returned an error). 0: HAMR_RETRIES, else none;
	 * HAMR_OFF: none, whatever HAMR_RETRIES says */
	int retries;
	/* HAMR_EXEC_BACKEND, HAMR_REMOTE_BACKEND: the backend that runs
	 * nodes and items elsewhere (borrowed: it must outlive the run), and
	 * the instance its operations get as `self` */
	const struct hamr_backend *backend;
	void *backend_self;
} hamr_run_opts;

/* Every field unset: defaults and the environment. `hamr_run_opts o =
 * {0};` and designated initializers mean the same. */
#define HAMR_RUN_OPTS_INIT                                                   \
	{HAMR_EXEC_DEFAULT, NULL, HAMR_REMOTE_DEFAULT, HAMR_GROUPING_DEFAULT,     \
	 0, 0, HAMR_FAIL_FAST, 0, 0, NULL, 0, 0, NULL, 0, 0, NULL, NULL}

/* Parses a grouping name ("auto", "block", "node") into *out; HAMR_EINVAL
 * otherwise. */
HAMR_API int hamr_grouping_parse(const char *name, hamr_grouping *out);
/* The name of g: "auto", "block", "node", "default" for
 * HAMR_GROUPING_DEFAULT (which parse does not accept: it is the absence
 * of a choice), "?" for anything else. */
HAMR_API const char *hamr_grouping_name(hamr_grouping g);

/* Parses an executor name ("sequential", "threads", "processes") into
 * *out; HAMR_EINVAL otherwise. hamr_executor_name also names
 * HAMR_EXEC_DEFAULT ("default") and HAMR_EXEC_BACKEND ("backend"). */
HAMR_API int hamr_executor_parse(const char *name, hamr_executor_kind *out);
HAMR_API const char *hamr_executor_name(hamr_executor_kind k);

/* What a failed run says about its first failure. Strings are owned by the
 * run and valid until hamr_run_destroy. */
typedef struct hamr_error_info {
	int code;            /* negative HAMR_E*, 0 when the run succeeded */
	const char *node;    /* failing node, NULL when no node failed */
	int64_t item;        /* item index in a map block, -1 outside one */
	int pid;             /* process that ran the node */
	int signal;          /* signal that killed it, 0 if none */
	int attempt;         /* attempt number, 1 for the first */
	const char *message; /* never NULL */
	int rank;            /* the MPI rank that ran it (0 for an item rank 0
	                      * ran itself), -1 outside the MPI executor */
	const char *host;    /* that rank's host, NULL when rank is -1 */
} hamr_error_info;

/* Makes a run of `plan` with `given` values for its inputs and overrides
 * (copied by reference: the run takes its own references, so `given` may be
 * destroyed at once). HAMR_EINPUT names an input the plan needs that
 * `given` lacks, HAMR_ETYPE a value of the wrong type, HAMR_EINVAL a
 * malformed HAMR_* variable that the run reads (HAMR_EXECUTOR,
 * HAMR_MAX_ITEMS, ...), naming it. The plan must outlive the run. `opts`
 * may be NULL: every field unset, as HAMR_RUN_OPTS_INIT. */
HAMR_API int hamr_run_create(hamr_run **out, const hamr_plan *plan,
                             const hamr_values *given,
                             const hamr_run_opts *opts);

/* Starts the run. The sequential executor does the work in hamr_run_wait,
 * on the waiting thread; the threads, processes and backend executors
 * start at once on the run's pool and return (the processes and backend
 * executors send nodes from there to worker processes, or the backend). HAMR_ESTATE if already started. */
HAMR_API int hamr_run_start(hamr_run *r);

/* Waits until the run ends; returns 0 or its error (also in
 * hamr_run_error). Waiting again returns the same result at once. */
HAMR_API int hamr_run_wait(hamr_run *r);

/* Asks the run to stop: a node that is running finishes, and no node starts
 * once the executor sees the request (before the next node, for a call from
 * a node function of the run itself); hamr_run_wait then returns
 * HAMR_ECANCELED unless the run had already ended. Callable from any
 * thread; outputs computed before the stop stay readable. */
HAMR_API void hamr_run_cancel(hamr_run *r);

/* Destroys a run with its results; a run still running is waited for
 * first. Accepts NULL. */
HAMR_API void hamr_run_destroy(hamr_run *r);

/* Create, start and wait in one call. *out receives the run whenever it
 * could be made, also when it failed, so that its results and error record
 * can be read; the caller destroys it. When a worker of the pool is idle
 * (one whose thread sleeps, first) and nothing is queued, the calling
 * thread runs the run itself in that worker's place (with its index; not
 * when its stack is smaller than the pool's, the pool pins its workers,
 * or a worker-local resource is registered): README, "The calling thread
 * as the worker". */
HAMR_API int hamr_run_execute(hamr_run **out, const hamr_plan *plan,
                              const hamr_values *given,
                              const hamr_run_opts *opts);

/* The record of the run's first failure, to read once hamr_run_wait has
 * returned (code 0 when the run succeeded). Owned by the run. */
HAMR_API const hamr_error_info *hamr_run_error(const hamr_run *r);

/* Every failure of an ended run, in the order recorded: under fail_fast
 * the first, and any that items already running hit before they stopped;
 * under keep_going one per failed node or item (at most 10000 are kept;
 * the count still counts them all). */
HAMR_API size_t hamr_run_error_count(const hamr_run *r);
/* Failure i, or NULL past the last kept one. Owned by the run. */
HAMR_API const hamr_error_info *hamr_run_error_at(const hamr_run *r, size_t i);

/* Output `name` of an ended run, owned by the run (valid until
 * hamr_run_destroy), or NULL when `name` was not requested or was not
 * computed (the run failed first). */
HAMR_API const hamr_value *hamr_run_result(const hamr_run *r,
                                           const char *name);

/* Typed reads of an output: 0, HAMR_ENOENT (not requested, or not computed)
 * or HAMR_ETYPE (another type; the message names both). */
HAMR_API int hamr_run_result_i64(const hamr_run *r, const char *name,
                                 int64_t *out);
HAMR_API int hamr_run_result_f64(const hamr_run *r, const char *name,
                                 double *out);
HAMR_API int hamr_run_result_bool(const hamr_run *r, const char *name,
                                  bool *out);
/* *out is borrowed from the run. */
HAMR_API int hamr_run_result_str(const hamr_run *r, const char *name,
                                 const char **out);

/* ---- inside a node function --------------------------------------------
 * `c` is valid only during the call. Arguments are in the order of the
 * node's dependencies, read-only and owned by the run; pointers read from
 * them stay valid until the function returns. A getter called on an
 * argument of another type returns 0, false, NULL or an empty list. */

/* hamr_arg_count, hamr_arg, hamr_arg_present, the scalar getters and the
 * scalar hamr_ret_* compile inline into the node function (below, after
 * the declarations): a call through the library for each would cost a
 * node of a few instructions more than the node itself. Defining
 * HAMR_NO_INLINE before including hamr.h calls the library's functions
 * instead; both behave the same. */
#if defined(HAMR__BUILDING) || defined(HAMR_NO_INLINE)
HAMR_API size_t hamr_arg_count(const hamr_call *c);
/* The argument as a value; NULL for an absent optional dependency or an
 * index past the end. */
HAMR_API const hamr_value *hamr_arg(const hamr_call *c, size_t i);
/* False for an absent optional dependency without a default. */
HAMR_API bool hamr_arg_present(const hamr_call *c, size_t i);
HAMR_API int64_t hamr_arg_i64(const hamr_call *c, size_t i);
HAMR_API double hamr_arg_f64(const hamr_call *c, size_t i);
HAMR_API bool hamr_arg_bool(const hamr_call *c, size_t i);
#endif
HAMR_API const char *hamr_arg_str(const hamr_call *c, size_t i);
HAMR_API const void *hamr_arg_bytes(const hamr_call *c, size_t i, size_t *len);
HAMR_API hamr_list hamr_arg_list(const hamr_call *c, size_t i);
HAMR_API const void *hamr_arg_user(const hamr_call *c, size_t i);

#if defined(HAMR__BUILDING) || defined(HAMR_NO_INLINE)
/* Setting the result. Each returns 0, or HAMR_ETYPE when the node declared
 * another result type (the message names node and both types), so that
 * `return hamr_ret_i64(c, x);` ends a node. A second call replaces the
 * first result. */
HAMR_API int hamr_ret_i64(hamr_call *c, int64_t x);
HAMR_API int hamr_ret_f64(hamr_call *c, double x);
HAMR_API int hamr_ret_bool(hamr_call *c, bool x);
#endif
HAMR_API int hamr_ret_str(hamr_call *c, const char *s);            /* copies */
HAMR_API int hamr_ret_strn(hamr_call *c, const char *s, size_t n); /* copies */
HAMR_API int hamr_ret_bytes(hamr_call *c, const void *p, size_t n); /* copies */
/* Allocates an n-byte bytes result for the node to fill before returning
 * (its contents start unspecified: write every byte); NULL when out of
 * memory, with the node's failure message set. In a worker process the
 * result lives in the pool's shared arena, and the program reads it in
 * place: nothing is copied back. */
HAMR_API void *hamr_ret_alloc(hamr_call *c, size_t n);
/* Moves `*v` into the result (it is left empty). */
HAMR_API int hamr_ret_value(hamr_call *c, hamr_value *v);
/* Passes argument `i` through as the result, sharing it. */
HAMR_API int hamr_ret_arg(hamr_call *c, size_t i);
/* Takes ownership of `obj`, of the node's declared user type. When the
 * node is not declared with a user type (HAMR_ETYPE), obj stays the
 * caller's. */
HAMR_API int hamr_ret_user(hamr_call *c, void *obj);

/* A parallelizable node emits its items one at a time, instead of setting
 * a result (or it returns a list, whose elements are the items; doing both
 * is HAMR_ETYPE). Each item runs the node's map block once; collects see
 * the block's values as lists in item order. Items start at once: another
 * worker may run one before hamr_emit returns, and hamr_emit itself runs
 * items when max_inflight are in flight (and, sequentially, each item as
 * it comes), so the node must not hold a lock its block's nodes take.
 * Each returns 0; HAMR_ECANCELED when the run is stopping (a failure under
 * fail_fast, or a cancel): the node should return; HAMR_ETYPE when the
 * item is not of the node's declared item type; HAMR_ESTATE when the node
 * is not parallelizable; HAMR_ERANGE past max_items or max_tasks, and
 * HAMR_ENOMEM or HAMR_EBLOCK (more items than a block holds, 2^32) when
 * the item could not be kept: these fail the node even if it goes on. hamr_emit moves *v (it is left empty). */
HAMR_API int hamr_emit(hamr_call *c, hamr_value *v);
HAMR_API int hamr_emit_i64(hamr_call *c, int64_t x);
HAMR_API int hamr_emit_f64(hamr_call *c, double x);
HAMR_API int hamr_emit_str(hamr_call *c, const char *s);
/* Many items at once: the items that as many hamr_emit_i64 (or _f64)
 * calls would emit, in that order, under the same limits and bound, for
 * a few instructions an item rather than some sixty: the items lo, lo + 1,
 * .., hi - 1 (none when hi <= lo), or the n values of xs (read before the
 * call returns; HAMR_EINVAL for a NULL xs with n > 0). They go out a run
 * at a time (up to a segment of the stream, 256 items, and the room under
 * max_inflight); sequentially each still runs as it comes. The returns are
 * hamr_emit's: HAMR_ESTATE and HAMR_ETYPE even for no items, and
 * HAMR_ECANCELED once the run is stopping, seen at the start and end of
 * each run of items; after a return other than 0 the items emitted
 * before it stay emitted, the others are not. Hamilton's `for i in
 * range(n): yield i` is `return hamr_emit_range(c, 0, n);`. */
HAMR_API int hamr_emit_range(hamr_call *c, int64_t lo, int64_t hi);
HAMR_API int hamr_emit_i64s(hamr_call *c, const int64_t *xs, size_t n);
HAMR_API int hamr_emit_f64s(hamr_call *c, const double *xs, size_t n);

/* Records `fmt` as the node's failure message and returns HAMR_EFAIL, so
 * that `return hamr_fail(c, "bad row %d", i);` fails the node. */
HAMR_API int hamr_fail(hamr_call *c, const char *fmt, ...) HAMR_PRINTF(2, 3);

/* The item index of element k of collected argument i: k itself, except
 * in a tolerant collect after failures, whose list holds only the items
 * that succeeded. -1 when i is not a collected list (a fold has no item
 * order) or k is past the end. Constant time. */
HAMR_API int64_t hamr_arg_item_index(const hamr_call *c, size_t i, size_t k);

/* The item the calling node runs for inside a map block, -1 outside one
 * (on a serving end, the index hamr_backend_item_indices gave it). */
HAMR_API int64_t hamr_item_index(const hamr_call *c);

/* Which attempt this is: 1, or more when a worker process running the
 * node before died or timed out and the task runs again (retries). */
HAMR_API int hamr_attempt(const hamr_call *c);

/* The node's user-data pointer, name, and the run it belongs to (in a
 * worker process: a stand-in that only the call's own accessors use). */
HAMR_API void *hamr_userdata(const hamr_call *c);
HAMR_API const char *hamr_node_name(const hamr_call *c);
HAMR_API hamr_run *hamr_call_run(const hamr_call *c);

/* ---- the node call's accessors, inline ---------------------------------
 * A hamr_call begins with these fields, and the accessors below read
 * them in the node function itself; the layout is part of the ABI (a
 * change to it changes the soname). A program reads a call only through
 * the accessors. */
#define HAMR__CALL_HEAD_FIELDS                                                 \
	const int32_t *args;     /* per argument: its slot, or -1 (absent) */  \
	const hamr_value *slots; /* the values the slots name */               \
	hamr_value result;       /* set by hamr_ret_* */                        \
	hamr_type type;          /* the node's declared type, or NULL */        \
	uint32_t n_args;

struct hamr__call_head {
	HAMR__CALL_HEAD_FIELDS
};

/* hamr_ret_i64, _f64 and _bool's checked store (the declared type, a
 * result set before), for the inline ones below when the quick case does
 * not hold. */
HAMR_API int hamr__ret_scalar(hamr_call *c, hamr_value v);

#if !defined(HAMR__BUILDING) && !defined(HAMR_NO_INLINE)
static inline const struct hamr__call_head *hamr__head(const hamr_call *c)
{
	return (const struct hamr__call_head *)(const void *)c;
}

static inline size_t hamr_arg_count(const hamr_call *c)
{
	return hamr__head(c)->n_args;
}

static inline const hamr_value *hamr_arg(const hamr_call *c, size_t i)
{
	const struct hamr__call_head *h = hamr__head(c);
	return i < h->n_args && h->args[i] >= 0 ? &h->slots[h->args[i]] : (const hamr_value *)0;
}

static inline bool hamr_arg_present(const hamr_call *c, size_t i)
{
	const hamr_value *v = hamr_arg(c, i);
	return v && v->type;
}

static inline int64_t hamr_arg_i64(const hamr_call *c, size_t i)
{
	const hamr_value *v = hamr_arg(c, i);
	return v && v->type == HAMR_I64 ? v->u.i64 : 0;
}

static inline double hamr_arg_f64(const hamr_call *c, size_t i)
{
	const hamr_value *v = hamr_arg(c, i);
	return v && v->type == HAMR_F64 ? v->u.f64 : 0.0;
}

static inline bool hamr_arg_bool(const hamr_call *c, size_t i)
{
	const hamr_value *v = hamr_arg(c, i);
	return v && v->type == HAMR_BOOL ? v->u.b : false;
}

/* The quick case: the type fits the declaration and no result is set;
 * stored field by field (the executor reads it that way). */
static inline int hamr__ret_inline(hamr_call *c, hamr_value v)
{
	struct hamr__call_head *h = (struct hamr__call_head *)(void *)c;
	if ((!h->type || h->type == v.type) && !h->result.type) {
		h->result.u = v.u;
		h->result.type = v.type;
		return 0;
	}
	return hamr__ret_scalar(c, v);
}

static inline int hamr_ret_i64(hamr_call *c, int64_t x)
{
	return hamr__ret_inline(c, hamr_value_from_i64(x));
}

static inline int hamr_ret_f64(hamr_call *c, double x)
{
	return hamr__ret_inline(c, hamr_value_from_f64(x));
}

static inline int hamr_ret_bool(hamr_call *c, bool x)
{
	return hamr__ret_inline(c, hamr_value_from_bool(x));
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* HAMR_RUNTIME_H */
