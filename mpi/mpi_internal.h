/* SPDX-License-Identifier: MIT */
/* Internal to libhamr_mpi: the state every rank keeps, the messages
 * between rank 0 and the others, and the byte buffers and programs that
 * cross (mpi/wire.c). libhamr_mpi uses hamr's public API only. */
#ifndef HAMR_MPI_INTERNAL_H
#define HAMR_MPI_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hamr.h"
#include "hamr/mpi.h"

/* Message tags. Rank 0 sends PROG, BATCH, CANCEL, CLOSE and STOP; a
 * serving rank answers a BATCH with a DONE. Every message but STOP starts
 * with the job's number (u64). */
enum {
	TAG_PROG = 1, /* job, program: a job's program, once per rank */
	TAG_BATCH,    /* job, batch, count, (item, attempt, value)... */
	TAG_CANCEL,   /* job: drop its batches not yet run */
	TAG_CLOSE,    /* job: forget its program */
	TAG_STOP,     /* serve returns */
	TAG_DONE,     /* the head below, per item its outcome */
	TAG_BIG       /* a large string or bytes of the message before it */
};

/* A DONE's head: job and batch (u64), the count of outcomes in it and
 * whether it is the batch's last part (u32), the bytes the batch's run
 * in worker processes copied and shared (u64, hamr_process_stats; in the
 * last part, else 0). */
enum {
	ANSWER_AT_COUNT = 16,
	ANSWER_AT_LAST = 20,
	ANSWER_AT_COPIED = 24,
	ANSWER_AT_SHARED = 32,
	ANSWER_HEAD = 40
};

/* Strings and bytes longer than a buffer's `eager` bytes cross as
 * messages of their own (TAG_BIG), sent from the value's memory and
 * received into the new value's, in the order the message names them;
 * one of more than BIG_CHUNK bytes in several. */
#define BIG_CHUNK ((size_t)1 << 30)

/* ---- byte buffers ---------------------------------------------------------- */

typedef struct mbuf {
	char *p;
	size_t len, cap;
	int rc;        /* the first error writing it (HAMR_ENOMEM, HAMR_ECODEC) */
	size_t eager;  /* strings and bytes longer than this cross on their
	                * own (0: none do) */
	hamr_value *bigs; /* those values, referenced, in the order written */
	size_t n_bigs, cap_bigs;
} mbuf;

/* Frees the bytes and drops the references to the large values. */
void hamr__mbuf_free(mbuf *b);
/* Takes back what was written after b's first len bytes and n_bigs
 * large values (an error met there included). */
void hamr__mbuf_rewind(mbuf *b, size_t len, size_t n_bigs);
/* Appends src's bytes and references to its large values. */
void hamr__mbuf_cat(mbuf *dst, const mbuf *src);
/* The messages of b's large values, after b itself went to dest: with
 * reqs, started (MPI_Isend, one request per message, as many as
 * hamr__mbuf_big_messages says), else sent (MPI_Send). 0 or HAMR_EIO. */
size_t hamr__mbuf_big_messages(const mbuf *b);
int hamr__mbuf_send_bigs(const mbuf *b, MPI_Comm comm, int dest, MPI_Request *reqs);
void hamr__mbuf_put(mbuf *b, const void *p, size_t n);
void hamr__mbuf_u32(mbuf *b, uint32_t x);
void hamr__mbuf_u64(mbuf *b, uint64_t x);
void hamr__mbuf_str(mbuf *b, const char *s);
/* v through hamr's codec, after its length (0: no value); an error stays
 * in b->rc and is returned. */
int hamr__mbuf_value(mbuf *b, const hamr_value *v);

typedef struct mread {
	const char *p;
	size_t len, at;
	int bad;       /* read past the end, or a malformed part */
	MPI_Comm comm; /* where the message came from: its large values */
	int src;
	hamr_procpool *pool; /* a serving rank's worker processes: large
	                      * values are received into their arena */
} mread;

uint32_t hamr__mread_u32(mread *r);
uint64_t hamr__mread_u64(mread *r);
/* A string written by hamr__mbuf_str, pointing into the buffer. */
const char *hamr__mread_str(mread *r);
/* A value written by hamr__mbuf_value: 0 (empty when its length was 0), or the
 * codec's error. A large one is received here, from r->src. */
int hamr__mread_value(mread *r, hamr_value *out);

/* ---- loaded objects ---------------------------------------------------------- */

/* The loaded objects of this process: path ("" for the program itself)
 * and ELF build-id in hex ("" when it has none), for the check at init;
 * "path\tbuild-id\n" per object. malloc'd; NULL when out of memory. */
char *hamr__mpi_objects_report(void);

/* ---- programs ------------------------------------------------------------------ */

/* Encodes what prog's tasks need into b: the objects its code lives in,
 * its user types, its nodes numbered from 0 (node k of prog is local k),
 * the item's local (n_nodes, or -1), the outside values it reads and the
 * locals each task hands back. 0, or an error naming the node (HAMR_ENOTSUP
 * for userdata no other rank can find, HAMR_ECODEC for a value without a
 * codec), with hamr_errmsg set. *skip is set when a value the program
 * reads is missing (every item is then skipped). */
int hamr__mpi_program_encode(const hamr_backend_program *prog, mbuf *b, int *skip);

/* A program received: its plan and the program that serve its items. */
typedef struct mpi_program {
	hamr_plan *plan;
	hamr_backend_program prog;
	uint32_t *nodes, *outs;
	hamr_value *slots; /* the outside values, owned */
} mpi_program;

/* Decodes a program made by hamr__mpi_program_encode, loading objects this
 * process lacks. 0, or the error (HAMR_EMODULE naming the object) with
 * hamr_errmsg set. */
int hamr__mpi_program_decode(mread *r, mpi_program *out);
void hamr__mpi_program_free(mpi_program *p);

/* ---- a serving rank's items ------------------------------------------------------ */

/* One item of a batch: what it read, and what came of it. */
typedef struct served_item {
	int64_t item;
	uint32_t attempt;
	hamr_value v;
	int rc, dropped;
	int32_t node;    /* the program node that failed, -1: none */
	int pid, signal; /* the worker process that ran it (0: this one), the
	                  * signal that ended it */
	int64_t t0, t1;
	char *msg;
	hamr_value out[HAMR_BACKEND_MAX_OUT];
} served_item;

/* A program as a graph of this rank's, run in its worker processes
 * (mpi/rankexec.c). */
typedef struct rank_plan rank_plan;
int hamr__mpi_rank_plan_make(const mpi_program *p, rank_plan **out);
void hamr__mpi_rank_plan_free(rank_plan *rp);
/* Runs the n items in pp's worker processes, filling each one's outcome
 * and *ps with the run's process statistics; cancels the run when
 * stop(ctx), which it asks while it waits, says so (the items it stopped
 * come back dropped). */
void hamr__mpi_rank_plan_run(rank_plan *rp, hamr_procpool *pp, served_item *items, uint32_t n,
                             int (*stop)(void *), void *ctx, hamr_process_stats *ps);

/* ---- the state of every rank --------------------------------------------------- */

typedef struct mpi_rank {
	char host[64];
	int pid;
	int64_t clock_off; /* its clock minus rank 0's, measured at init */
	int held;          /* batches it holds now (rank 0's count) */
	hamr_mpi_rank_stats stats;
} mpi_rank;

struct hamr_backend_job;
struct pending_send;

struct hamr_mpi {
	MPI_Comm comm;
	int rank, size;
	int owns_mpi;           /* hamr_mpi_init initialised MPI */
	int depth, batch;       /* the options, resolved */
	int root_items;         /* rank 0 runs items while the ranks are busy */
	size_t eager;
	hamr_procpool *procs;   /* a serving rank's worker processes; NULL:
	                         * its pool's threads run the items */
	pthread_mutex_t lock;   /* rank 0: every MPI call, and what follows */
	uint64_t next_job;
	int next_rank;          /* rank 0: where dispatch looks first */
	struct hamr_backend_job *jobs; /* open jobs, for the answers */
	struct pending_send *sends;    /* rank 0's sends MPI still reads */
	mpi_rank *ranks;
};

/* Rank 0: takes every answer that has arrived and hands it to its job.
 * Under m->lock. 0 or HAMR_EIO. */
int hamr__mpi_progress(hamr_mpi *m);

/* Rank 0: waits until every send of m is done (before finalize). */
void hamr__mpi_flush_sends(hamr_mpi *m);

/* Sleeps a little longer each round, from a few microseconds to a
 * millisecond: how every MPI wait here polls, so that ranks that share
 * cores with busy ones do not spin. */
void hamr__mpi_backoff(int *round);

#endif /* HAMR_MPI_INTERNAL_H */
