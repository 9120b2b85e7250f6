/* SPDX-License-Identifier: MIT */
/* Internal: the process executor as the other executors use it
 * (runtime/procexec.c). */
#ifndef HAMR_RUNTIME_PROCEXEC_INTERNAL_H
#define HAMR_RUNTIME_PROCEXEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hamr/process.h"
#include "hamr/runtime.h"
#include "runtime/procs/procs_internal.h"

struct hamr_plan;

/* A program running on a pool of worker processes for one run: a map
 * block's nodes per item, or one node. */
typedef struct hamr__pjob hamr__pjob;

/* One finished task. */
typedef struct hamr__pres {
	int64_t item;
	int rc;       /* 0; else the failure, recorded in the run's errors */
	int dropped;  /* never ran: the run stopped (rc HAMR_ECANCELED) */
	int pid;      /* the worker that ran it, 0: none did */
	int64_t t0, t1; /* when it started and ended there */
	uint32_t n_out;
	hamr_value out[HAMR__MAX_OUT]; /* the values handed back, owned */
} hamr__pres;

/* Opens a job running plan nodes `nodes` (in that order) per task: the
 * item's value goes to slot item_slot (-1: no item), the other slots they
 * read come from `slots` (written into the arena now, once), and each task
 * hands back slots out_slots. HAMR_ECODEC (message naming node and type)
 * when a value cannot cross; HAMR_ENOMEM when the arena is full. */
int hamr__pjob_open(hamr__pjob **out, hamr_run *r, hamr_procpool *pp, const uint32_t *nodes,
                    uint32_t n_nodes, int32_t item_slot, const hamr_value *slots,
                    const uint32_t *out_slots, uint32_t n_out);

/* Queues a task for `item` with value v (borrowed; NULL: no item). 0, or
 * the failure, recorded (its item then never runs), or HAMR__SKIPPED
 * when under keep_going a value the job reads is missing. */
int hamr__pjob_send(hamr__pjob *j, int64_t item, const hamr_value *v);

/* Sends what is queued and gives one finished task in *res: 1, or 0 when
 * none is finished (with `wait`: when none is queued or running). */
int hamr__pjob_next(hamr__pjob *j, hamr__pres *res, int wait);

/* Tasks queued or running. */
size_t hamr__pjob_inflight(const hamr__pjob *j);

/* Waits for running tasks, drops queued ones, and frees the job. */
void hamr__pjob_close(hamr__pjob *j);

/* Runs plan node i of r (outside blocks) in a worker process; its result
 * goes to slots[i]. 0 or the failure, recorded. */
int hamr__proc_node(hamr_run *r, uint32_t i, hamr_value *slots);

/* HAMR_ECODEC, naming node and type, when one of these nodes reads or
 * returns a user type without a codec. */
int hamr__proc_check(const struct hamr_plan *p, const uint32_t *nodes, uint32_t n_nodes);

#endif
