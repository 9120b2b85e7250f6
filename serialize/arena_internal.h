/* SPDX-License-Identifier: MIT */
/* Internal: the shared-memory arena of a pool of worker processes.
 *
 * One memfd, mapped shared by the program and every worker of the pool (at
 * a different address in each), holds the pool's control blocks and then
 * the arena: chunks of HAMR__CHUNK bytes. Everything in it is named by its
 * offset from the start of the mapping, never by a pointer.
 *
 * Owners. Each allocation belongs to an owner: the program (owner 0) or
 * worker w (owner w + 1). An owner bump-allocates from a current chunk of
 * its own without a lock; a lock shared by all the processes (a robust
 * mutex, so a worker that dies holding it does not block the others) is
 * taken only to get a new chunk, or a span of chunks for a large
 * allocation.
 *
 * Lifetime. A chunk's `live` count holds one for its owner (the bias,
 * dropped when the owner is done with the chunk) plus one per allocation
 * the program holds in it. Workers never count their own allocations: a
 * worker's values die with its task, and space a worker used is reclaimed
 * a chunk at a time, when the worker has dropped the bias and the program
 * holds nothing in it. A worker hands a result to the program by naming
 * its offset in a completion; the program counts it (hamr__arena_hold)
 * before it acknowledges the completion, and a worker drops the bias of a
 * chunk only once every completion naming it was acknowledged. A crashed
 * worker's chunks lose their bias after the program has read every
 * completion it posted (hamr__arena_reclaim), so what it held and never
 * handed over comes back. */
#ifndef HAMR_SERIALIZE_ARENA_INTERNAL_H
#define HAMR_SERIALIZE_ARENA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hamr/value.h"

#define HAMR__CHUNK ((size_t)256 * 1024)
/* allocations above this get a span of chunks of their own */
#define HAMR__CHUNK_SMALL (HAMR__CHUNK / 4)

/* Chunk states in the map. A warm chunk is free but keeps its pages, so
 * that the next owner writes it without faults; the arena keeps at most
 * HAMR__WARM_MAX bytes warm and gives the pages of what is freed beyond
 * back to the system. */
enum {
	HAMR__CHUNK_FREE = 0,
	HAMR__CHUNK_HEAD,    /* the first chunk of a span in use */
	HAMR__CHUNK_TAIL,    /* the others */
	HAMR__CHUNK_WARM,    /* free, pages kept */
	HAMR__CHUNK_FREEING  /* its pages are going back; then FREE */
};
#define HAMR__WARM_MAX ((size_t)256 << 20)

/* The arena's shared header, inside the mapping. */
typedef struct hamr__arena_head {
	pthread_mutex_t lock; /* robust, process-shared: the chunk map */
	uint64_t data_off;    /* offset of chunk 0 */
	uint32_t n_chunks;
	uint32_t used;        /* chunks not free, under lock */
	uint32_t warm;        /* chunks free with their pages, under lock */
	/* the journal: the map change under way (arena.c) */
	uint32_t op_start, op_n, op_owner;
	uint8_t op_state, op_active;
	uint8_t map[];        /* per chunk: HAMR__CHUNK_* */
} hamr__arena_head;

/* A chunk's header, at its start. */
typedef struct hamr__chunk {
	atomic_uint live;   /* the bias, plus the program's allocations */
	atomic_uint bias;   /* 1 while the owner holds it */
	atomic_uint freer;  /* who frees it once live is 0 (an arena's
	                     * `self`), 0 before anyone claimed it */
	uint32_t owner;     /* 0: the program; w + 1: worker w */
	uint32_t span;      /* chunks in it */
	uint32_t pad0;
	uint64_t top;       /* bytes used, from the chunk's start */
	uint64_t pad[4];
} hamr__chunk;

/* What one process knows of an arena it maps. */
typedef struct hamr__arena {
	char *base;            /* the mapping, at this process's address */
	size_t size;           /* of the mapping */
	hamr__arena_head *h;
	uint32_t self;         /* this process as a freer: w + 1 in worker
	                        * w, HAMR__ARENA_PROGRAM in the program */
	int orphan;            /* its pool is gone; values still use it */
	int fd;                /* the memfd, in the program; -1: none */
	uint64_t fd_ino;       /* its inode, to know it is still ours */
	int foreign;           /* inherited by a forked copy of the program:
	                        * mapped privately, never freed into */
} hamr__arena;

#define HAMR__ARENA_PROGRAM UINT32_MAX

/* An owner's current chunk, kept by the owner. */
typedef struct hamr__arena_cursor {
	uint32_t owner;
	uint32_t chunk; /* HAMR__NO_CHUNK: none */
	/* called for a chunk the owner leaves, instead of dropping its bias
	 * at once (a worker waits until no completion names it); NULL */
	void (*retire)(void *ctx, uint32_t chunk);
	void *ctx;
} hamr__arena_cursor;

#define HAMR__NO_CHUNK UINT32_MAX

/* Bytes the header of an arena of n_chunks chunks takes. */
size_t hamr__arena_head_size(uint32_t n_chunks);

/* Lays out a fresh arena whose header is at offset head_off of a mapping
 * (zeroed) and whose chunks start at data_off. 0 or HAMR_EIO. */
int hamr__arena_format(hamr__arena *a, void *base, size_t size,
                       uint64_t head_off, uint64_t data_off);

/* Allocates n bytes (16-aligned) for `cur`'s owner and returns their
 * offset, 0 when the arena has no room. */
uint64_t hamr__arena_alloc(hamr__arena *a, hamr__arena_cursor *cur, size_t n);

/* The chunk an allocation at `off` lies in. */
uint32_t hamr__arena_chunk_of(const hamr__arena *a, uint64_t off);
hamr__chunk *hamr__arena_chunk(const hamr__arena *a, uint32_t c);

/* The program: counts an allocation it now holds, and drops one. The
 * chunk is free once its owner dropped the bias too. */
void hamr__arena_hold(hamr__arena *a, uint64_t off);
void hamr__arena_drop(hamr__arena *a, uint64_t off);

/* The owner is done with chunk c: drops its bias. */
void hamr__arena_unbias(hamr__arena *a, uint32_t c);

/* The owner leaves its current chunk (dropping the bias at once). */
void hamr__arena_retire(hamr__arena *a, hamr__arena_cursor *cur);

/* After worker `owner` died (and the program read every completion it
 * posted): drops the bias of every chunk it held, and finishes the frees
 * it had started. */
void hamr__arena_reclaim(hamr__arena *a, uint32_t owner);

/* Chunks in use, for tests and statistics. */
uint32_t hamr__arena_used(hamr__arena *a);

/* ---- values in an arena ------------------------------------------------
 * A string, bytes value or packed list (of i64, f64 or bool) can live in
 * an arena: its box and data in one allocation. The value functions of serialize/value.c treat such a box
 * as follows: in the program it is reference counted as any box, and the
 * last release drops it from its arena (found by address among the
 * arenas the process maps); in a worker process (hamr__arena_worker set)
 * it is a view: references are not counted and releases do nothing, since
 * a worker's space comes back a chunk at a time. */

/* Registers an arena this process maps, so that the program's releases
 * find it (HAMR_ERANGE when 64 are registered already); unregisters it.
 *
 * A forked copy of the program inherits the registered arenas, mapped
 * shared with the parent and its workers, and values that point into
 * them: a release there would change the parent's counts. So in the copy
 * each one is mapped again, at the same address, as a private copy of its
 * memfd (what the copy writes, a reference count included, stays its
 * own), and marked foreign: releases into it do nothing. */
int hamr__arena_register(hamr__arena *a);
void hamr__arena_unregister(hamr__arena *a);

/* Set in a worker process, before it runs anything. */
extern int hamr__arena_worker;

/* Makes, in *out, a value of type t whose box and data are allocated in
 * arena a for cur's owner, its data in *data: for HAMR_STR or HAMR_BYTES
 * (elem NULL) n bytes (plus the NUL of a string); for HAMR_LIST a packed
 * list of n items of `elem` (HAMR_I64, HAMR_F64 or HAMR_BOOL), sealed. The
 * box's reference count starts at 1; in the program the value is the
 * program's (its last release drops the allocation, for which the caller
 * holds the chunk). 0, or HAMR_ENOMEM when the arena is full. */
int hamr__arena_value(hamr__arena *a, hamr__arena_cursor *cur, hamr_type t, hamr_type elem,
                      size_t n, void **data, hamr_value *out);

/* The offset of an arena value's box in a, or 0 when v is not a string,
 * bytes value or packed list living in a. */
uint64_t hamr__arena_value_off(const hamr__arena *a, const hamr_value *v);

/* Makes *out refer to the arena box at off, of type t (a list's items of
 * type elem). In a worker: a view. In the program: a box the program
 * holds already gains a reference (0); a box a worker made is taken over,
 * its one reference now *out's, and counted live (1: the caller then
 * holds its chunk, hamr__arena_hold). */
int hamr__arena_value_at(const hamr__arena *a, hamr_type t, hamr_type elem, uint64_t off,
                         hamr_value *out);

/* Called by serialize/value.c for a box in an arena whose count reached
 * zero in the program. */
void hamr__arena_box_free(void *box);

#endif
