// SPDX-License-Identifier: MIT
/* The Chase-Lev work-stealing deque, with the memory orders of
 *
 *   N. M. Lê, A. Pop, A. Cohen, F. Zappa Nardelli, "Correct and Efficient
 *   Work-Stealing for Weak Memory Models", PPoPP 2013 (figure 1),
 *
 * written with orders on the operations instead of free-standing fences:
 * ThreadSanitizer does not model atomic_thread_fence (gcc refuses it under
 * -fsanitize=thread), and on x86-64 a seq_cst store compiles to the same
 * xchg as the paper's store + seq_cst fence, a seq_cst load to a plain mov.
 *
 * Invariants:
 *   I1  top only grows, and only by a successful CAS (steal, or pop of the
 *       last task); bottom is written by the owner alone.
 *   I2  The tasks are the slots [top, bottom) of the current buffer, at
 *       index i & (cap - 1).
 *   I3  The owner never overwrites a slot in [top, bottom): push grows the
 *       buffer when bottom - top reaches its capacity.
 *   I4  When top == bottom - 1, the owner's pop and one thief race for the
 *       last task through the CAS on top; exactly one wins.
 *   I5  A buffer is published (release store of buf) only after every
 *       slot in [top, bottom) was copied into it.
 *
 * Every order weaker than seq_cst says what it pairs with, below.
 *
 * Reclamation, proved rather than borrowed: a thief may still read a slot of
 * a buffer that the owner just outgrew (it loaded `buf` before the owner
 * published the new one; its CAS on top then decides whether what it read
 * counts). So an outgrown buffer is never freed while the deque lives: it
 * goes on the owner's `retired` list, and hamr__deque_destroy frees the list
 * when no thread uses the deque any more. This leaks nothing and frees
 * nothing under a thief, and costs bounded memory: capacities double, so
 * the retired buffers of a deque hold fewer slots than its current buffer
 * (c + 2c + ... + C/2 < C), at most twice the deque's peak size in all.
 * Deques never shrink, so the current buffer is that peak anyway. */
#include <stdlib.h>

#include "hamr/errno.h"
#include "runtime/pool/deque_internal.h"

#if defined(HAMR_WITH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

struct hamr__deque_buf {
	int64_t cap; /* a power of two */
	struct hamr__deque_buf *next_retired;
	_Atomic(void *) slot[];
};

static struct hamr__deque_buf *buf_alloc(int64_t cap, unsigned arena)
{
	size_t size = sizeof(struct hamr__deque_buf) + (size_t)cap * sizeof(void *);
	struct hamr__deque_buf *b;
#if defined(HAMR_WITH_JEMALLOC)
	if (arena)
		b = mallocx(size, MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE);
	else
		b = malloc(size);
#else
	(void)arena;
	b = malloc(size);
#endif
	if (!b)
		return NULL;
	b->cap = cap;
	b->next_retired = NULL;
	return b;
}

static void buf_free(struct hamr__deque_buf *b, unsigned arena)
{
#if defined(HAMR_WITH_JEMALLOC)
	if (arena) {
		dallocx(b, MALLOCX_TCACHE_NONE);
		return;
	}
#else
	(void)arena;
#endif
	free(b);
}

int hamr__deque_init(hamr__deque *q, unsigned log2_cap, unsigned arena)
{
	struct hamr__deque_buf *b = buf_alloc((int64_t)1 << log2_cap, arena);
	if (!b)
		return HAMR_ENOMEM;
	atomic_init(&q->top, 0);
	atomic_init(&q->bottom, 0);
	atomic_init(&q->buf, b);
	q->retired = NULL;
	q->arena = arena;
	return 0;
}

void hamr__deque_destroy(hamr__deque *q)
{
	struct hamr__deque_buf *b = atomic_load_explicit(&q->buf, memory_order_relaxed);
	if (b)
		buf_free(b, q->arena);
	while ((b = q->retired)) {
		q->retired = b->next_retired;
		buf_free(b, q->arena);
	}
	atomic_store_explicit(&q->buf, NULL, memory_order_relaxed);
}

/* Rare: out of line, so push stays small enough to inline well. */
static __attribute__((noinline)) struct hamr__deque_buf *
grow(hamr__deque *q, struct hamr__deque_buf *a, int64_t b, int64_t t)
{
	struct hamr__deque_buf *n = buf_alloc(a->cap * 2, q->arena);
	if (!n)
		return NULL;
	for (int64_t i = t; i < b; i++)
		/* relaxed: slots [t, b) were written by this thread (the owner);
		 * the release store of buf below publishes the copies (I5) */
		atomic_store_explicit(&n->slot[i & (n->cap - 1)],
		                      atomic_load_explicit(&a->slot[i & (a->cap - 1)],
		                                           memory_order_relaxed),
		                      memory_order_relaxed);
	/* release: pairs with the acquire load of buf in steal(), which then
	 * sees the copied slots */
	atomic_store_explicit(&q->buf, n, memory_order_release);
	a->next_retired = q->retired;
	q->retired = a;
	return n;
}

int hamr__deque_push(hamr__deque *q, void *x)
{
	/* relaxed: bottom is written only by this thread (I1) */
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	/* acquire: pairs with the CAS on top by thieves, so that a slot a
	 * thief has taken is reused only after the thief read it */
	int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
	/* relaxed: buf is written only by this thread */
	struct hamr__deque_buf *a = atomic_load_explicit(&q->buf, memory_order_relaxed);
	if (__builtin_expect(b - t > a->cap - 1, 0)) {
		a = grow(q, a, b, t);
		if (!a)
			return HAMR_ENOMEM;
	}
	/* relaxed: published by the release store of bottom just below */
	atomic_store_explicit(&a->slot[b & (a->cap - 1)], x, memory_order_relaxed);
	/* release: pairs with the seq_cst (acquire) load of bottom in
	 * steal(): a thief that sees b + 1 sees the slot */
	atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
	return 0;
}

void *hamr__deque_pop(hamr__deque *q)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
	struct hamr__deque_buf *a = atomic_load_explicit(&q->buf, memory_order_relaxed);
	/* seq_cst store, then seq_cst load of top: the paper's store and
	 * fence. A thief's seq_cst loads of top then bottom are ordered
	 * against them, so owner and thief cannot both miss each other's
	 * claim on the last task (I4). */
	atomic_store_explicit(&q->bottom, b, memory_order_seq_cst);
	int64_t t = atomic_load_explicit(&q->top, memory_order_seq_cst);
	void *x;
	if (t <= b) {
		/* relaxed: this thread wrote the slot */
		x = atomic_load_explicit(&a->slot[b & (a->cap - 1)], memory_order_relaxed);
		if (t == b) {
			/* the last task: race the thieves for it */
			if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
			                                             memory_order_seq_cst,
			                                             memory_order_relaxed))
				x = NULL;
			/* relaxed: only this thread reads bottom for pushing,
			 * and thieves act on top, which the CAS settled */
			atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
		}
	} else {
		x = NULL;
		atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
	}
	return x;
}

void *hamr__deque_steal(hamr__deque *q)
{
	/* seq_cst, both: the paper's acquire load of top, fence, acquire load
	 * of bottom; pairs with the seq_cst store of bottom in pop (I4) and
	 * with the release store of bottom in push (the slot is visible) */
	int64_t t = atomic_load_explicit(&q->top, memory_order_seq_cst);
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_seq_cst);
	if (t >= b)
		return HAMR__DEQUE_EMPTY;
	/* acquire: pairs with the release store of buf in grow() (I5) */
	struct hamr__deque_buf *a = atomic_load_explicit(&q->buf, memory_order_acquire);
	/* relaxed: the slot was published by the release store of bottom
	 * that the load of bottom above read from; if the owner reused the
	 * slot meanwhile, top moved and the CAS below fails */
	void *x = atomic_load_explicit(&a->slot[t & (a->cap - 1)], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
	                                             memory_order_seq_cst,
	                                             memory_order_relaxed))
		return HAMR__DEQUE_ABORT;
	return x;
}
