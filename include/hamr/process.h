/* SPDX-License-Identifier: MIT */
/* Worker processes: the fork server and pools of processes forked from it.
 *
 * Forking a process that has threads copies locks other threads held, so
 * hamr never forks from the program itself once it has threads: it forks a
 * small fork server first, while the process is still single-threaded, and
 * every worker process is then forked from that server. A program that
 * wants worker processes calls hamr_processes_init() at the start of main,
 * before it starts any thread of its own and before any hamr pool (which
 * starts threads). Each worker dies with the fork server, which dies with
 * the program (PR_SET_PDEATHSIG); the server reaps its workers, and the
 * program reaps the server at exit, so no process is left behind.
 *
 * Descriptors: every descriptor hamr keeps (the server's socket, a pool's
 * memfd, a trace file) is 3 or above and close-on-exec, so a program that
 * closed stdin, stdout or stderr writes nothing into them; the server and
 * the workers have /dev/null on whichever of 0, 1, 2 the program had
 * closed.
 *
 * fork(): a copy of the program made by fork() inherits its pools, but not
 * their workers or fork server. There every use of an inherited pool
 * fails with HAMR_ESTATE, saying which process it belongs to, and
 * hamr_procpool_destroy frees only the copy's memory and mapping. The
 * copy may call hamr_processes_init (while it has one thread) and make
 * pools of its own; its default pool then starts afresh. Strings and
 * bytes the copy holds from runs on an inherited pool live in that pool's
 * memory, which the copy maps privately from the fork on (what it writes
 * there, releases included, stays its own): they stay readable while the
 * parent keeps them too, and until the copy destroys that pool. */
#ifndef HAMR_PROCESS_H
#define HAMR_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

#include "hamr/export.h"
#include "hamr/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the fork server. 0, also when it runs already (in a forked copy
 * of a program that started one, it starts the copy's own); HAMR_ESTATE
 * when the process has threads besides the caller (the message says to call
 * this at the start of main, before any thread starts); HAMR_EIO when the
 * server cannot be started (the message has the system's words). */
HAMR_API int hamr_processes_init(void);

typedef struct hamr_procpool hamr_procpool;

/* A pool's settings; each 0 means its environment variable, else the
 * default. */
typedef struct hamr_procpool_opts {
	int processes;       /* workers, 1 to 1024: HAMR_PROCESSES, else the
	                      * usable CPUs (hamr_cpu_count) */
	size_t arena_size;   /* bytes of the shared arena, at least 1 MiB
	                      * (reserved; pages are used as values need
	                      * them): HAMR_ARENA_SIZE, else 1 GiB */
	size_t child_memory; /* bytes each worker may map beyond what it has
	                      * at its start (RLIMIT_AS), at least 1 MiB:
	                      * HAMR_CHILD_MEMORY, else no cap */
} hamr_procpool_opts;

#define HAMR_PROCPOOL_OPTS_INIT {0, 0, 0}

/* Starts a pool of worker processes from the fork server; opts may be
 * NULL (all defaults). HAMR_ESTATE when hamr_processes_init was not
 * called in this process; HAMR_EINVAL for a malformed variable or a setting out of its
 * range. Thread-safe. */
HAMR_API int hamr_procpool_create(hamr_procpool **out, const hamr_procpool_opts *opts);

/* Stops the pool's workers and waits until the server has reaped them.
 * Accepts NULL. In a forked copy of the process that made the pool, it
 * frees the copy's memory and mapping only: the workers and the server
 * are the maker's, and nothing is sent or signalled to them. */
HAMR_API void hamr_procpool_destroy(hamr_procpool *p);

/* The number of workers, and the pid of worker i (-1 past the end; a
 * replaced worker has a new pid). In a forked copy: the maker's, as they
 * were at the fork. */
HAMR_API int hamr_procpool_size(const hamr_procpool *p);
HAMR_API pid_t hamr_procpool_pid(const hamr_procpool *p, int i);

/* Bytes of the pool's shared arena in use: what values, programs and
 * running tasks hold (a chunk at a time), not what is free. 0 in a forked
 * copy of the process that made the pool. */
HAMR_API size_t hamr_procpool_arena_used(hamr_procpool *p);

/* A string or bytes value of n bytes in the pool's shared arena, as
 * hamr_value_alloc_uninit makes one on the heap (t HAMR_STR or
 * HAMR_BYTES, *data their address, the caller writes all n, a string's
 * NUL is hamr's). A task on this pool's workers that reads it reads it in
 * place (bytes_shared below), where any other value is copied into the
 * arena for every run that hands it to a worker. It lives until its last
 * release, past hamr_procpool_destroy too. HAMR_ENOMEM when the arena has
 * no room for it (HAMR_ARENA_SIZE; the caller may make it on the heap
 * with hamr_value_alloc_uninit instead), HAMR_ETYPE for another type,
 * HAMR_EINVAL for a NULL argument, HAMR_ESTATE in a forked copy of the
 * process that made the pool. On failure *out is empty and *data NULL.
 * Thread-safe. */
HAMR_API int hamr_procpool_value_alloc(hamr_procpool *p, hamr_value *out, hamr_type t, size_t n,
                                       void **data);

struct hamr_run;

/* What the process executor did in a run, counted always. */
typedef struct hamr_process_stats {
	uint64_t tasks;        /* tasks that completed (ran to the end) */
	uint64_t bytes_copied; /* value bytes copied or encoded to cross
	                        * between the program and its workers */
	uint64_t bytes_shared; /* value bytes that crossed in place, as
	                        * offsets into the arena */
	uint64_t crashes;      /* tasks whose worker died */
	uint64_t timeouts;     /* tasks killed for HAMR_TASK_TIMEOUT */
	uint64_t retries;      /* tasks run again after either */
} hamr_process_stats;

/* The counts of run r so far (exact once it has ended). HAMR_EINVAL for
 * NULL arguments. */
HAMR_API int hamr_run_process_stats(const struct hamr_run *r, hamr_process_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_PROCESS_H */
