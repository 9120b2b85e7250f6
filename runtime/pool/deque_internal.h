/* SPDX-License-Identifier: MIT */
/* Internal: the Chase-Lev work-stealing deque (runtime/deque.c). */
#ifndef HAMR_RUNTIME_DEQUE_INTERNAL_H
#define HAMR_RUNTIME_DEQUE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct hamr__deque_buf;

/* One worker's deque of task pointers. The owner pushes and pops at the
 * bottom; any other thread steals from the top. `top` and `bottom` live on
 * cache lines of their own: thieves write `top`, the owner `bottom`. */
typedef struct hamr__deque {
	_Alignas(64) atomic_int_fast64_t top;
	_Alignas(64) atomic_int_fast64_t bottom;
	_Atomic(struct hamr__deque_buf *) buf;
	struct hamr__deque_buf *retired; /* owner only: outgrown buffers */
	unsigned arena;                  /* jemalloc arena for buffers, 0 none */
} hamr__deque;

/* What hamr__deque_steal found when it found no task. */
#define HAMR__DEQUE_EMPTY ((void *)0)
#define HAMR__DEQUE_ABORT ((void *)1) /* lost a race: try again */

/* Makes an empty deque with room for 2^log2_cap tasks before it grows;
 * buffers come from jemalloc arena `arena` when non-zero (and hamr is
 * built with jemalloc). 0 or HAMR_ENOMEM. */
int hamr__deque_init(hamr__deque *q, unsigned log2_cap, unsigned arena);

/* Frees every buffer. No thread may use q any more. */
void hamr__deque_destroy(hamr__deque *q);

/* Owner only. Pushes x (not NULL, not HAMR__DEQUE_ABORT) at the bottom,
 * growing the buffer when full. 0, or HAMR_ENOMEM when growth failed (x is
 * then not pushed). */
int hamr__deque_push(hamr__deque *q, void *x);

/* Owner only. Pops the task pushed last, or returns NULL when empty. */
void *hamr__deque_pop(hamr__deque *q);

/* Any thread. Takes the oldest task; NULL when empty, HAMR__DEQUE_ABORT
 * when another thread took it first. */
void *hamr__deque_steal(hamr__deque *q);

/* Any thread; a hint only, stale by the time it returns. */
static inline int64_t hamr__deque_size(hamr__deque *q)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
	return b - t;
}

#endif
