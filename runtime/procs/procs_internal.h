/* SPDX-License-Identifier: MIT */
/* Internal: a pool of worker processes as the process executor sees it.
 *
 * Each pool has one memfd, mapped shared by the program, the fork server
 * and every worker: the pool's header, a control block per worker, then
 * the arena (serialize/arena_internal.h). A control block holds two
 * single-producer rings: tasks from the program to the worker, and
 * completions back. Each side spins briefly on an empty ring and then
 * sleeps on a futex; the other side wakes it only when it said it sleeps.
 * The program drives a worker from one thread at a time (it takes the
 * worker from the pool's idle set), so both rings stay single-producer,
 * single-consumer. The fork server reaps dead workers, writes how each
 * died into its control block, and rings the pool's bell, on which the
 * program's waiting threads sleep. */
#ifndef HAMR_RUNTIME_PROCS_INTERNAL_H
#define HAMR_RUNTIME_PROCS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "hamr/process.h"
#include "runtime/core/run_internal.h" /* HAMR__MAX_OUT */
#include "serialize/arena_internal.h"

#define HAMR__RING 256
#define HAMR__MAX_TIMED 8 /* nodes of one task timed for the hooks */

/* A value crossing the boundary: scalars inline, strings, bytes and packed
 * lists as the offset of their box in the arena, anything else as the
 * offset and length of its encoding (hamr_value_encode) in the arena. */
enum {
	HAMR__WV_EMPTY = 0,
	HAMR__WV_NONE,
	HAMR__WV_I64,
	HAMR__WV_F64,
	HAMR__WV_BOOL,
	HAMR__WV_STR,   /* a: box offset */
	HAMR__WV_BYTES, /* a: box offset */
	HAMR__WV_ENC,   /* a: offset, b: length of the encoding */
	HAMR__WV_LIST   /* a: box offset, b: the items' hamr_kind (packed) */
};

typedef struct hamr__wval {
	uint32_t kind;
	uint32_t pad;
	uint64_t a, b;
} hamr__wval;

/* One task: run program `prog` for item `item`. */
typedef struct hamr__proc_task {
	uint64_t seq;     /* 1, 2, ... per worker incarnation */
	uint64_t prog;    /* offset of the program (runtime/procexec.c) */
	int64_t item;     /* the index the task's nodes see (hamr_item_index:
	                   * the run's item, or what hamr_backend_item_indices
	                   * gave for it); -1: a node outside blocks */
	uint32_t attempt; /* 1 for the first */
	uint32_t pad;
	hamr__wval in;    /* the item's value */
} hamr__proc_task;

/* One completion. */
typedef struct hamr__proc_done {
	uint64_t seq;
	int32_t rc;         /* 0, or the failing node's code */
	int32_t node;       /* the program's failing node, -1 */
	uint64_t msg;       /* offset of its message (NUL-ended), 0: none */
	uint32_t n_out;
	uint32_t n_timed;
	uint64_t copied;    /* bytes the worker copied or encoded */
	int64_t t[2 * HAMR__MAX_TIMED]; /* start and end of each node */
	hamr__wval out[HAMR__MAX_OUT];
} hamr__proc_done;

enum { HAMR__W_STARTING = 0, HAMR__W_ALIVE, HAMR__W_DEAD };

typedef struct hamr__wctl {
	/* the program's side of the task ring */
	_Alignas(64) atomic_ullong task_head;
	atomic_uint wsleep;      /* the worker sleeps on it (futex) */
	/* the worker's */
	_Alignas(64) atomic_ullong task_tail;
	atomic_ullong done_head;
	atomic_ullong cur_seq;   /* the task the worker runs, 0: none */
	atomic_llong cur_start;  /* when it started (CLOCK_MONOTONIC ns) */
	atomic_int oom;          /* an allocation failed in this task */
	/* the program's side of the completion ring */
	_Alignas(64) atomic_ullong done_tail;
	/* the fork server's */
	_Alignas(64) atomic_int state; /* HAMR__W_* */
	atomic_int pid;
	atomic_int status;       /* waitpid's status once dead */
	hamr__proc_task tasks[HAMR__RING];
	hamr__proc_done done[HAMR__RING];
} hamr__wctl;

typedef struct hamr__shm {
	uint64_t ctl_off;    /* the control blocks */
	uint64_t arena_off;  /* the arena's header */
	atomic_uint stop;    /* the pool stops: workers exit */
	_Alignas(64) atomic_uint bell; /* a completion or a death */
	atomic_uint bell_waiters;
} hamr__shm;

struct hamr_procpool {
	int id;
	struct hamr_procpool *inherited_next; /* default pools inherited (procs.c) */
	int n;
	pid_t *pids;
	char *base;          /* the mapping */
	size_t size;
	hamr__shm *shm;
	hamr__arena arena;
	long child_memory;   /* HAMR_CHILD_MEMORY, 0: none */
	int registered;      /* its arena is registered (releases find it) */
	pid_t owner;         /* the process that made it: in any other (a
	                      * forked copy), the pool is refused */
	/* the program's own allocations (inputs it sends) */
	pthread_mutex_t alloc_lock;
	hamr__arena_cursor cur;
	/* which workers a thread of the program drives */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	uint8_t *busy;
	uint8_t *gone;       /* dead, and the server could not replace it */
	int64_t *gone_ns;    /* when it last failed (a retry waits a second) */
	uint8_t *fails;      /* replacements that failed in a row */
	int n_gone;
};

static inline hamr__wctl *hamr__wctl_of(const hamr_procpool *p, int w)
{
	return (hamr__wctl *)(p->base + p->shm->ctl_off) + w;
}

/* The pool the process executor uses when a run names none: made on
 * first use with HAMR_PROCESSES workers, kept to the end of the process.
 * NULL with hamr_errmsg and *rc set. */
hamr_procpool *hamr__procpool_default(int *rc);

/* Asks the fork server for a new worker in slot w, whose last one died
 * (the program read all it posted, and reclaimed its arena space). 0 or
 * HAMR_EIO. */
int hamr__procpool_respawn(hamr_procpool *p, int w);

/* Kills worker w with SIGKILL if pid is still its process (the fork
 * server, its parent, checks: a pid the server reaped may be another
 * process's by now) and it is still alive. 1 when it was killed; 0 when
 * it had died already (the server then recorded its death, with the
 * status it died with), or no server could be asked. */
int hamr__procpool_kill(hamr_procpool *p, int w, pid_t pid);

/* 0 when this process made pool p; else HAMR_ESTATE, with a message
 * naming the process it belongs to: a forked copy of the program inherits
 * the pool but neither its workers nor its fork server. */
int hamr__procpool_usable(const hamr_procpool *p);

/* Whether the fork server still runs (it reaps nothing once it died, and
 * its workers die with it). */
int hamr__procs_server_alive(void);

/* Futex waits and wakes on shared memory (between processes). */
void hamr__futex_wait(atomic_uint *addr, unsigned val, int64_t timeout_ns);
void hamr__futex_wake(atomic_uint *addr, int n);

/* Rings the pool's bell (a completion, a death). */
void hamr__bell_ring(hamr__shm *shm);

/* The worker's loop, in a worker process (runtime/procworker.c). */
_Noreturn void hamr__procworker_main(hamr_procpool *p, int w);

/* Loads, in the fork server too, a module the program loaded after the
 * server started, so that every worker forked later has it. */
void hamr__procs_load(const char *path);

#endif
