/* SPDX-License-Identifier: MIT */
/* Lifecycle hooks: what a run does, as it does it.
 *
 * A hook is a function and a pointer; a run calls every hook of its
 * hamr_run_opts.hooks at each event, on the thread where the event
 * happens, so a hook must be thread-safe and quick (it runs inside the
 * executor), and must not wait for or destroy its own run. Events carry a CLOCK_MONOTONIC timestamp, the worker and the
 * process, and what Hamilton's hooks lack: the item a node runs for, and
 * for the tasks of a map block their index and the block's item count so
 * far, with whether it is final (a streaming block's count grows).
 *
 * Map blocks run as batches of consecutive items (grouping auto), single
 * items (block) or single nodes of items (node); a batch forms when a
 * worker claims it, and is the task that the task events describe. A run
 * with no hooks pays one test per node. HAMR_TRACE=FILE adds a hook that
 * writes a Chrome trace (hamr_trace_hook). */
#ifndef HAMR_HOOKS_H
#define HAMR_HOOKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hamr/export.h"
#include "hamr/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hamr_run;

typedef enum hamr_event_kind {
	HAMR_EV_RUN_START = 0, /* hamr_run_start */
	HAMR_EV_RUN_END,       /* the run is done; rc */
	HAMR_EV_BLOCK_START,   /* a parallelizable node starts its block */
	HAMR_EV_BLOCK_END,     /* every item of the block is done; rc */
	HAMR_EV_TASK_SUBMIT,   /* a worker is offered a share of a block */
	HAMR_EV_BATCH,         /* a batch formed: items [first, first + count) */
	HAMR_EV_TASK_START,    /* the batch starts running */
	HAMR_EV_TASK_END,      /* the batch is done */
	HAMR_EV_NODE_START,    /* a node's function is called */
	HAMR_EV_NODE_END       /* it returned; rc */
} hamr_event_kind;

typedef struct hamr_event {
	hamr_event_kind kind;
	const struct hamr_run *run;
	const char *node;     /* the node; for block, batch and task events the
	                       * parallelizable node of the block; NULL for run
	                       * events */
	int node_index;       /* that node's index in the plan (as for
	                       * hamr_plan_node_name), -1 for run events */
	int64_t item;         /* the item a node runs for, -1 outside blocks */
	int64_t task;         /* batch and task events: the batch's index in its
	                       * block (0, 1, ... in the order they form), -1 */
	int64_t first, count; /* batch and task events: the batch's items */
	int64_t block_items;  /* block, batch and task events: the items the
	                       * block's node has emitted so far */
	bool block_final;     /* ... and whether it has emitted them all */
	int64_t t_ns;         /* when, CLOCK_MONOTONIC nanoseconds */
	int64_t start_ns;     /* end events: when the matching start was */
	int worker;           /* hamr_worker_index() of the thread, -1 */
	int pid;
	int rc;               /* end events: 0 or the HAMR_E* code */
	int rank;             /* node and task events of what the MPI executor
	                       * ran: the rank whose process (pid) ran it, 0
	                       * for items rank 0 ran itself; -1 for every
	                       * other event, as in hamr_error_info */
} hamr_event;

typedef void (*hamr_hook_fn)(const hamr_event *e, void *userdata);

typedef struct hamr_hook {
	hamr_hook_fn fn;
	void *userdata;
} hamr_hook;

/* ---- statistics ----------------------------------------------------------
 * A run made with hamr_run_opts.stats = 1 (or with HAMR_STATS=1, which
 * also prints them to stderr when the run ends) counts, at the cost of two
 * clock reads per node: */

typedef struct hamr_node_stats {
	const char *node;
	uint64_t count;   /* executions: once per item inside a block */
	int64_t total_ns; /* mean: total_ns / count. A parallelizable node's
	                   * time includes the items it ran itself while
	                   * emitting (at the max_inflight bound, or
	                   * sequentially), which count for their nodes too */
	int64_t max_ns;
} hamr_node_stats;

typedef struct hamr_block_stats {
	const char *node;      /* the block's parallelizable node */
	uint64_t items;        /* emitted, over every run of the block */
	uint64_t tasks;        /* batches: what the grouping made of them */
	int64_t task_ns;       /* time in tasks; mean task: task_ns / tasks */
	uint64_t max_inflight; /* emitted and not yet finished, at most (seen
	                        * as batches form) */
	bool short_tasks;      /* the mean task is under 5 µs with block or
	                        * node grouping: per-task costs dominate */
} hamr_block_stats;

typedef struct hamr_worker_run_stats {
	uint64_t nodes;         /* node executions on the worker */
	int64_t busy_ns;        /* time in them (nested calls count twice,
	                         * as in hamr_node_stats) */
	double busy_share;      /* busy_ns over the run's wall time */
	hamr_worker_stats pool; /* how its pool counters moved during the run
	                         * (other runs on the pool move them too) */
} hamr_worker_run_stats;

typedef struct hamr_run_stats {
	int64_t wall_ns;                       /* start to end */
	size_t n_nodes;                        /* the plan's nodes */
	const hamr_node_stats *nodes;          /* index as hamr_plan_node_name */
	size_t n_blocks;
	const hamr_block_stats *blocks;
	size_t n_workers;                      /* the pool's workers, then one
	                                        * slot for all other threads */
	const hamr_worker_run_stats *workers;
	size_t live_bytes_peak;                /* the most value bytes live
	                                        * during the run: the larger of
	                                        * hamr_value_bytes_peak (the run
	                                        * resets that process-wide peak
	                                        * when it starts, so runs with
	                                        * stats at the same time share it)
	                                        * and hamr_value_bytes_live as the
	                                        * run saw it at each node's and
	                                        * block's end, which counts the
	                                        * calling thread's own part too */
} hamr_run_stats;

/* The statistics of an ended run made with stats on (readable from its
 * RUN_END hook on), owned by the run and valid until hamr_run_destroy;
 * HAMR_ESTATE otherwise. */
HAMR_API int hamr_run_stats_get(const struct hamr_run *r, hamr_run_stats *out);
/* Prints them readably to f (what HAMR_STATS=1 prints): nodes by total
 * time, blocks, workers, and a line for each block whose tasks are too
 * short. HAMR_EINVAL for a NULL f. */
HAMR_API int hamr_run_stats_print(const struct hamr_run *r, FILE *f);

/* Writes the run's plan in Graphviz DOT (as hamr_plan_write_dot), each
 * computed node labelled with its time, its share of all node time and
 * its count, and filled from white to red by that share. Times are
 * inclusive, as in hamr_node_stats: a parallelizable node's includes the
 * items it ran while emitting. HAMR_ESTATE for a run without stats. */
HAMR_API int hamr_run_write_dot(const struct hamr_run *r, FILE *f);

/* A hook that appends every node execution, batch and block of the runs it
 * is given to `path` in the Chrome trace event format (JSON, one event a
 * line; it opens in Perfetto and chrome://tracing): complete events with
 * the process, the thread's id, and in args the worker index and the
 * item. The file is created (truncated) now and stays valid while it
 * grows, since the format allows the array's closing bracket to be
 * missing; hamr_trace_close writes it and closes the file, once every run
 * given the hook is destroyed. HAMR_TRACE=FILE gives every run one such
 * hook, shared, for the life of the process (finished at exit). */
HAMR_API int hamr_trace_open(hamr_hook *out, const char *path);
HAMR_API void hamr_trace_close(hamr_hook *h);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_HOOKS_H */
