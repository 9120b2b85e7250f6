/* SPDX-License-Identifier: MIT */
/* hamr/mpi.h: map blocks and nodes across the ranks of an MPI job
 * (libhamr_mpi, CMake target hamr::hamr_mpi, pkg-config hamr_mpi).
 *
 * Every rank starts the same program (`mpiexec -n N ./app`). Rank 0 runs
 * the plan; the other ranks call hamr_mpi_serve() and run what rank 0
 * sends them until it finalizes. A run sends a block's items to the ranks
 * by name once hamr_mpi_init has registered the executor on rank 0:
 *
 *     hamr_run_opts o = HAMR_RUN_OPTS_INIT;
 *     o.remote = HAMR_REMOTE_MPI;            // or HAMR_EXEC_MPI: nodes too
 *
 * (or the tag executor=mpi, or HAMR_EXECUTOR=mpi), or with the table
 * itself: o.backend = hamr_mpi_backend(), o.backend_self = m under
 * HAMR_REMOTE_BACKEND.
 *
 * Code crosses by name: a node's function, its userdata and a user type's
 * descriptor are named by the loaded object that holds them (its path and
 * ELF build-id) and their offset there, so every rank must run the same
 * build. Userdata in memory outside every loaded object (the heap) cannot
 * cross, and such a node is refused before the run; a number in the
 * userdata crosses as it is. Values cross through hamr's
 * codec (hamr_value_encode): a user type without a codec is refused before
 * the run, naming the node and the type.
 *
 * Rank 0 keeps the items and gives each rank at most `depth` batches at
 * once, a new one when one comes back, so a slow rank gets fewer; it runs
 * items itself while every rank is busy. A serving rank runs them in its
 * worker processes (or on its pool: hamr_mpi_rank_exec). A node's failure
 * on a rank is an ordinary failure of the run: the error record names the
 * rank and host (its message starts with them too), its item is the
 * block's item, its pid the process that ran it.
 *
 * libhamr itself never links MPI: this header and libhamr_mpi do. */
#ifndef HAMR_MPI_H
#define HAMR_MPI_H

#include <mpi.h>

#include "hamr/backend.h"
#include "hamr/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hamr_mpi hamr_mpi;

/* Where a serving rank runs the items it receives. */
typedef enum hamr_mpi_rank_exec {
	HAMR_MPI_RANK_DEFAULT = 0, /* HAMR_MPI_RANK_EXEC, else processes */
	/* in the rank's worker processes (hamr/process.h; the program calls
	 * hamr_processes_init() first in main, before hamr_mpi_init): a
	 * crash, a timeout (HAMR_TASK_TIMEOUT) or running out of memory fails
	 * the item alone, and HAMR_RETRIES applies */
	HAMR_MPI_RANK_PROCESSES,
	HAMR_MPI_RANK_THREADS /* on the rank's pool: a crash ends the job */
} hamr_mpi_rank_exec;

typedef struct hamr_mpi_opts {
	/* batches a rank holds at once; 0: HAMR_MPI_DEPTH, else 2 */
	int depth;
	/* items per batch; 0: HAMR_MPI_BATCH, else grown from 1 while a
	 * batch takes less than about a millisecond on its rank */
	int batch;
	/* strings and bytes longer than this many bytes cross as messages of
	 * their own, sent from the value's memory and received into the new
	 * value's; shorter ones are packed into their batch. 0:
	 * HAMR_MPI_EAGER, else 65536 */
	int eager;
	hamr_mpi_rank_exec rank_exec;
	/* whether rank 0 runs items itself while every other rank holds its
	 * `depth` batches: 0: HAMR_MPI_ROOT_ITEMS, else yes; HAMR_OFF: it
	 * only hands them out (a job of one rank runs them all the same) */
	int root_items;
} hamr_mpi_opts;

#define HAMR_MPI_OPTS_INIT {0, 0, 0, HAMR_MPI_RANK_DEFAULT, 0}

/* The thread level hamr needs: rank 0 calls MPI from the thread of each
 * block it sends, one call at a time. */
#define HAMR_MPI_THREAD_LEVEL MPI_THREAD_SERIALIZED

/* Initialises MPI (MPI_Init_thread, asking for MPI_THREAD_MULTIPLE and
 * refusing less than HAMR_MPI_THREAD_LEVEL) and hamr's MPI executor on
 * MPI_COMM_WORLD; a program that runs worker processes calls
 * hamr_processes_init() first. Collective: every rank calls it. Every
 * rank reports its host, pid, hamr and codec versions and its loaded
 * objects with their build-ids; rank 0 refuses a difference, and every
 * rank returns the same answer: 0 with *out set; HAMR_EMODULE naming the
 * rank, host and object (or version); HAMR_ENOTSUP for a thread level
 * below HAMR_MPI_THREAD_LEVEL, or a one-rank job launched by a launcher
 * that meant more (another MPI's mpiexec); HAMR_EINVAL for bad options.
 * opts may be NULL. */
HAMR_API int hamr_mpi_init(hamr_mpi **out, int *argc, char ***argv, const hamr_mpi_opts *opts);

/* The same on a program's own communicator, with MPI already initialised
 * by the program: hamr works on a duplicate of comm and never finalizes
 * MPI. */
HAMR_API int hamr_mpi_init_comm(hamr_mpi **out, MPI_Comm comm, const hamr_mpi_opts *opts);

HAMR_API int hamr_mpi_rank(const hamr_mpi *m);
HAMR_API int hamr_mpi_size(const hamr_mpi *m);

/* On ranks other than 0: runs what rank 0 sends until rank 0 calls
 * hamr_mpi_finalize. 0; HAMR_EINVAL on rank 0; HAMR_EIO when MPI
 * fails. */
HAMR_API int hamr_mpi_serve(hamr_mpi *m);

/* Collective end: rank 0 tells the serving ranks to stop; every rank
 * frees m and, where hamr_mpi_init initialised MPI, finalizes it. No run
 * that uses m may be going on. NULL is accepted. */
HAMR_API void hamr_mpi_finalize(hamr_mpi *m);

/* The backend table (hamr/backend.h) whose self is a hamr_mpi on rank
 * 0, named "mpi". hamr_mpi_init registers it on rank 0 for
 * HAMR_EXEC_MPI, HAMR_REMOTE_MPI and the tag executor=mpi
 * (hamr_backend_register), and hamr_mpi_finalize forgets it; a run may
 * also name it in hamr_run_opts.backend, with m as backend_self. */
HAMR_API const hamr_backend *hamr_mpi_backend(void);

/* What rank 0 handed one rank since init (or the last reset): batches and
 * items sent, the most batches it held at once; for rank 0 itself, the
 * items it ran while every other rank was busy (batches and held 0). The
 * bytes: what the rank's process executor reported for the batches that
 * came back (hamr_process_stats): value bytes it copied into its worker
 * processes' arena and back, and those that crossed in place (large
 * strings and bytes, which the rank receives into that arena); both 0
 * under HAMR_MPI_RANK_EXEC=threads and for rank 0. */
typedef struct hamr_mpi_rank_stats {
	int64_t batches;
	int64_t items;
	int held_max;
	uint64_t bytes_copied;
	uint64_t bytes_shared;
} hamr_mpi_rank_stats;

/* 0 with *out filled; HAMR_ERANGE for a rank outside the job;
 * HAMR_EINVAL on ranks other than 0, which keep no counts. */
HAMR_API int hamr_mpi_stats(hamr_mpi *m, int rank, hamr_mpi_rank_stats *out);
HAMR_API void hamr_mpi_stats_reset(hamr_mpi *m);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_MPI_H */
