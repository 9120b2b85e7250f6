/* SPDX-License-Identifier: MIT */
/* hamr/backend.h: the executor backend interface.
 *
 * Where a map block's items, or a node outside blocks, run away from the
 * pool that runs the rest of the graph is one table of operations, a
 * `hamr_backend`. hamr's worker processes fill one (`processes`); another
 * library fills its own (a distributed executor, a device queue) and hands
 * it to a run in `hamr_run_opts.backend` with `HAMR_REMOTE_BACKEND` (a
 * block's items) or `HAMR_EXEC_BACKEND` (nodes outside blocks too). Blocks
 * and the node call know nothing else about where work goes.
 *
 * The sending side: hamr opens a *job* per block run (or per node outside
 * blocks), describing a *program*: plan nodes to run, in order, once per
 * task; the slot each task's item goes to; the values the nodes read from
 * outside (borrowed during `open`: a backend that needs them later keeps a
 * reference or a copy); the slots each task hands back. It then sends
 * items, takes completions and closes the job. One thread drives a job:
 * every operation on a job is called by the thread that opened it, never
 * two at once, except where `cancel` says otherwise. The backend reports
 * failures and node timings back through the run services below.
 *
 * The serving side: `hamr_backend_serve` runs a program's nodes for one
 * item, here, with hamr's node call. A backend whose far end has the same
 * plan (every rank of a job built the same graph) runs the items it
 * receives through it, on whatever threads it likes.
 *
 * Versioning: a table says which version of this header it was built
 * against (`abi = HAMR_BACKEND_ABI`, `size = sizeof(hamr_backend)`); a run
 * refuses one it does not know with HAMR_ENOTSUP naming the backend.
 * Operations are only ever added at the end of the table. */
#ifndef HAMR_BACKEND_H
#define HAMR_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "hamr/export.h"
#include "hamr/graph.h"
#include "hamr/runtime.h"
#include "hamr/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2 since 0.9: hamr_backend_done.rank, and hamr_backend_node_ran's rank */
#define HAMR_BACKEND_ABI 2

/* Values one task hands back, at most: a block whose items hand back more
 * runs on the pool instead. */
#define HAMR_BACKEND_MAX_OUT 8

/* A backend's job: its own type, opaque to hamr. */
typedef struct hamr_backend_job hamr_backend_job;

/* What every task of a job runs. Node and slot numbers are the plan's
 * (hamr_backend_node_info, hamr_backend_slot_info). */
typedef struct hamr_backend_program {
	const hamr_plan *plan;
	const uint32_t *nodes;    /* the plan nodes to run, in this order */
	uint32_t n_nodes;
	int32_t item_slot;        /* the slot each task's item fills; -1: none
	                           * (a node outside blocks) */
	/* every slot's value, by slot: the nodes read those they do not
	 * compute themselves from here. Borrowed during `open` and `check`. */
	const hamr_value *slots;
	uint32_t n_slots;         /* the plan's slots: the length of `slots` */
	const uint32_t *outs;     /* the slots each task hands back */
	uint32_t n_outs;          /* at most HAMR_BACKEND_MAX_OUT */
} hamr_backend_program;

/* One finished (or dropped) task, filled by `next`. */
typedef struct hamr_backend_done {
	int64_t item;    /* as sent; -1 for a node outside blocks */
	int rc;          /* 0, or the failure, already recorded with
	                  * hamr_backend_fail */
	int dropped;     /* 1: it never ran (the run stopped; rc is
	                  * HAMR_ECANCELED, recorded by nobody) */
	int where;       /* who ran it (a pid, a rank), 0: none did */
	int64_t t0, t1;  /* when it started and ended there (hamr_backend_now_ns) */
	uint32_t n_out;  /* prog->n_outs when rc is 0, else 0 */
	hamr_value out[HAMR_BACKEND_MAX_OUT]; /* the values handed back: hamr
	                                        * owns them from here */
	int rank;        /* the MPI rank whose process (where) ran it, -1
	                  * for none: hamr sets -1 before each call of
	                  * `next`, for a backend that leaves it */
} hamr_backend_done;

typedef struct hamr_backend {
	uint32_t abi;     /* HAMR_BACKEND_ABI */
	uint32_t size;    /* sizeof(hamr_backend) */
	const char *name; /* in messages: "processes", "mpi" */

	/* Whether the backend can run this program: 0, or an error whose
	 * message (hamr_backend_error) names the node and the reason (a type
	 * without a codec: HAMR_ECODEC). Called by hamr_run_create, for every
	 * block and node the run would send, before anything runs; prog and
	 * its arrays are borrowed for the call, and its slots hold only the
	 * given inputs and defaults so far (no node has run). May be NULL:
	 * everything can run. */
	int (*check)(void *self, const hamr_backend_program *prog);

	/* Opens a job for prog on run r, which stays valid until `close`
	 * returns; prog and its arrays and values are borrowed for the call.
	 * 0 with *out set, or an error (its message set with
	 * hamr_backend_error), which fails the block or node (*out is then
	 * ignored). Called on the thread that runs the block, or the node
	 * outside blocks: a pool worker, or the thread that waits. */
	int (*open)(void *self, hamr_run *r, const hamr_backend_program *prog,
	            hamr_backend_job **out);

	/* Queues a task for item (its value *v is borrowed until send
	 * returns; NULL when item_slot is -1). 0; HAMR_BACKEND_SKIPPED when,
	 * under keep_going, a value the program reads is missing (the item is
	 * skipped, not failed); or the failure, recorded with
	 * hamr_backend_fail. For the last two, the item never runs and `next`
	 * gives nothing for it. */
	int (*send)(hamr_backend_job *j, int64_t item, const hamr_value *v);

	/* Gives one finished task in *d: 1. 0 when none is finished; with
	 * `wait`, it blocks until one is, and gives 0 only when nothing is
	 * queued or running. Each task sent comes back once, with its item
	 * as sent and, when rc is 0, exactly prog->n_outs values; hamr
	 * refuses any other completion (HAMR_EINVAL naming the backend).
	 * While it waits it watches hamr_backend_stopped: on
	 * HAMR_BACKEND_STOP queued tasks come back dropped, one per call; on
	 * HAMR_BACKEND_CANCEL running ones stop too. */
	int (*next)(hamr_backend_job *j, hamr_backend_done *d, int wait);

	/* The run was cancelled: drop what is queued and stop what runs, as
	 * soon as possible; their completions still come through `next`
	 * (dropped, or failed). A prompt, not the only way a backend learns
	 * of a cancel: hamr calls it at most once per job, by the job's
	 * thread, outside `next`, when it sees the cancel between calls, and
	 * may not see it before `close` (or, for a node's job, at all), so
	 * `next` and `close` watch hamr_backend_stopped too. */
	void (*cancel)(hamr_backend_job *j);

	/* Waits for running tasks (their results are dropped), drops queued
	 * ones and frees the job. NULL is accepted. */
	void (*close)(hamr_backend_job *j);
} hamr_backend;

/* Makes backend be (with its instance self) the one that name stands for,
 * replacing any earlier one; be NULL forgets it. hamr knows one name:
 * "mpi", the backend of HAMR_EXEC_MPI, HAMR_REMOTE_MPI and the tag
 * executor=mpi (libhamr_mpi registers it in hamr_mpi_init and forgets it
 * in hamr_mpi_finalize). A run takes the backend registered when it is
 * created. 0; HAMR_EINVAL for a name hamr does not know, or a table of
 * another version. Thread-safe. */
HAMR_API int hamr_backend_register(const char *name, const hamr_backend *be, void *self);

/* ---- run services: what a backend calls on the run ------------------------ */

/* What a failed task says: the plan node (-1: none named), the item, who ran it, the signal that
 * ended it (0: none), the attempt (1 for the first) and a message
 * (hamr_backend_fail copies it; NULL: the code's own text). */
typedef struct hamr_backend_failure {
	int code;
	int32_t node;
	int64_t item;
	int where;
	int signal;
	int attempt;
	char *message;
} hamr_backend_failure;

/* Records f in r's error record (hamr_run_error_at) and stops the run
 * under fail fast. Returns f->code. Any thread, while a job of r is
 * open. */
HAMR_API int hamr_backend_fail(hamr_run *r, const hamr_backend_failure *f);

/* The same for a task that ran on rank `rank` of an MPI job, on `host`
 * (copied): the error record names them (hamr_error_info's rank and
 * host). */
HAMR_API int hamr_backend_fail_rank(hamr_run *r, const hamr_backend_failure *f, int rank,
                                    const char *host);

/* send's answer for an item skipped under keep_going. */
#define HAMR_BACKEND_SKIPPED 1

enum {
	HAMR_BACKEND_RUNNING = 0,
	HAMR_BACKEND_STOP,   /* fail fast after a failure: start nothing new */
	HAMR_BACKEND_CANCEL  /* hamr_run_cancel: stop what runs, too */
};

/* Where r stands: one of the three above. A load, cheap enough to call
 * on every round of a wait. Any thread, while a job of r is open. */
HAMR_API int hamr_backend_stopped(const hamr_run *r);

/* Node `node` ran for item from t0 to t1 (hamr_backend_now_ns) in
 * process `where` (a pid) of MPI rank `rank` (-1: none), and ended with rc: hooks and statistics hear of it
 * as of a node on the pool. Nothing happens when r is not observed. Any
 * thread, while a job of r is open. */
HAMR_API void hamr_backend_node_ran(hamr_run *r, uint32_t node, int64_t item,
                                    int64_t t0, int64_t t1, int rc, int where,
                                    int rank);

/* Sets the calling thread's message (hamr_errmsg) and returns code: how
 * check and open say why they fail. */
HAMR_API int hamr_backend_error(int code, const char *fmt, ...) HAMR_PRINTF(2, 3);

/* The clock of hooks and traces (CLOCK_MONOTONIC, nanoseconds). */
HAMR_API int64_t hamr_backend_now_ns(void);

/* ---- a plan as a backend reads it ----------------------------------------- */

typedef struct hamr_backend_node {
	const char *name;
	hamr_fn fn;
	void *userdata;
	hamr_type type;        /* the declared result type; NULL: any */
	uint32_t n_args;
	const int32_t *args;   /* the slot of each argument, -1: an optional
	                        * one left out */
} hamr_backend_node;

/* Plan node i: 0, HAMR_ERANGE past the last node, HAMR_EINVAL for NULL. */
HAMR_API int hamr_backend_node_info(const hamr_plan *p, uint32_t i, hamr_backend_node *out);

/* Slot s: its name and type (NULL: any). 0, HAMR_ERANGE past the last
 * slot, HAMR_EINVAL for a NULL plan. */
HAMR_API int hamr_backend_slot_info(const hamr_plan *p, uint32_t s, const char **name,
                                    hamr_type *type);

/* A plan made on the serving side, for a far end that did not build the
 * graph (a rank that only serves): n_nodes nodes, nodes[i]'s result in
 * slot i, and n_slots slots in all (n_slots >= n_nodes; the item's and the
 * outside values' slots follow the nodes'). Each node's fn, userdata and
 * type are taken as they are; its name and argument slots (each below
 * n_slots, or -1) are copied. Such a plan serves `hamr_backend_serve`,
 * with programs that list its nodes, and `hamr_backend_node_info` and
 * `hamr_backend_slot_info` (a node's slot is named after it, the others
 * ""); nothing else takes it. hamr_plan_destroy frees it. 0; HAMR_EINVAL
 * naming what is wrong (no fn, an argument past n_slots); HAMR_ENOMEM. */
HAMR_API int hamr_backend_plan_create(hamr_plan **out, const hamr_backend_node *nodes,
                                      uint32_t n_nodes, uint32_t n_slots);

/* ---- the serving side ----------------------------------------------------- */

/* For a serving end that runs a batch of another run's items as a run of
 * its own (the items emitted by a node of its graph, in the batch's
 * order): item k of each of r's map blocks (nested ones too) shows
 * index[k] to its nodes (hamr_item_index), in r's threads and in its
 * worker processes, as it would in the run the items came from; an item
 * past n shows k, and so does an item r sends to the backend in its
 * options (HAMR_REMOTE_BACKEND). Hooks, the error record and
 * hamr_run_error_at still number r's items from 0.
 * index is copied. Call it between hamr_run_create and hamr_run_start.
 * 0; HAMR_EINVAL for a NULL r, a NULL index with n > 0, or a run started;
 * HAMR_ENOMEM. */
HAMR_API int hamr_backend_item_indices(hamr_run *r, const int64_t *index, size_t n);

/* Runs prog's nodes once, here on the calling thread, through hamr's node
 * call: item's value *v goes to prog->item_slot (borrowed), the values
 * the nodes read from outside come from prog->slots (borrowed), and
 * out[0 .. n_outs) receives what the task hands back (the caller's). No
 * run's hooks, statistics or error record are involved: in the nodes it
 * calls, hamr_item_index and hamr_attempt say item and attempt, and
 * hamr_call_run gives a stand-in that only the call's own accessors use
 * (as in a worker process). 0, or the failure's code with *f filled
 * (f->message malloc'd or NULL, the caller's to free; f->node the failing
 * plan node, -1 when the program itself was refused: HAMR_EINVAL).
 * Allocates nothing for programs of up to 64 slots. Any thread;
 * concurrent calls on one program are fine. */
HAMR_API int hamr_backend_serve(const hamr_backend_program *prog, int64_t item,
                                const hamr_value *v, int attempt, hamr_value *out,
                                hamr_backend_failure *f);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_BACKEND_H */
