// SPDX-License-Identifier: MIT
/* The shared-memory arena: chunks, owners, and their lifetimes (see
 * serialize/arena_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hamr/errno.h"
#include "serialize/arena_internal.h"
#include "serialize/error_internal.h"

int hamr__arena_worker;

size_t hamr__arena_head_size(uint32_t n_chunks)
{
	return (sizeof(hamr__arena_head) + n_chunks + 63) & ~(size_t)63;
}

int hamr__arena_format(hamr__arena *a, void *base, size_t size,
                       uint64_t head_off, uint64_t data_off)
{
	a->base = base;
	a->size = size;
	a->self = HAMR__ARENA_PROGRAM;
	a->fd = -1;
	a->fd_ino = 0;
	a->foreign = 0;
	a->h = (hamr__arena_head *)((char *)base + head_off);
	hamr__arena_head *h = a->h;
	h->data_off = data_off;
	h->n_chunks = (uint32_t)((size - data_off) / HAMR__CHUNK);
	pthread_mutexattr_t at;
	int e = pthread_mutexattr_init(&at);
	if (!e)
		e = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	if (!e)
		e = pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	if (!e)
		e = pthread_mutex_init(&h->lock, &at);
	pthread_mutexattr_destroy(&at);
	if (e)
		return hamr__error_set(HAMR_EIO, "the arena's lock: %s", strerror(e));
	return 0;
}

hamr__chunk *hamr__arena_chunk(const hamr__arena *a, uint32_t c)
{
	return (hamr__chunk *)(a->base + a->h->data_off + (uint64_t)c * HAMR__CHUNK);
}

uint32_t hamr__arena_chunk_of(const hamr__arena *a, uint64_t off)
{
	return (uint32_t)((off - a->h->data_off) / HAMR__CHUNK);
}

/* ---- the chunk map, under the lock ---------------------------------------------
 * Every change to the map is a step: chunks [start, start + n) get a new
 * state (a span taken: the first HEAD, the rest TAIL, its header written
 * first). A step is written to the journal before it starts and cleared
 * after it ends, so that when a process dies holding the lock (the robust
 * mutex says EOWNERDEAD to the next taker) the step is done again whole,
 * and the counts are taken again from the map. */

static void step(hamr__arena *a, uint32_t start, uint32_t n, uint8_t state, uint32_t owner)
{
	hamr__arena_head *h = a->h;
	h->op_start = start;
	h->op_n = n;
	h->op_state = state;
	h->op_owner = owner;
	h->op_active = 1;
	if (state == HAMR__CHUNK_HEAD) {
		hamr__chunk *ch = hamr__arena_chunk(a, start);
		ch->owner = owner;
		ch->span = n;
		ch->top = sizeof *ch;
		atomic_store_explicit(&ch->freer, 0, memory_order_relaxed);
		atomic_store_explicit(&ch->bias, 1, memory_order_relaxed);
		/* relaxed: the lock's release publishes the header */
		atomic_store_explicit(&ch->live, 1, memory_order_relaxed);
	}
	/* a span taken: HEAD then TAILs; one being freed: its head says so
	 * (the TAILs stay); a span freed: every chunk */
	for (uint32_t k = 0; k < n; k++)
		if (!k || state == HAMR__CHUNK_HEAD || state == HAMR__CHUNK_FREE || state == HAMR__CHUNK_WARM)
			h->map[start + k] = k && state == HAMR__CHUNK_HEAD ? HAMR__CHUNK_TAIL : state;
	h->op_active = 0;
}

/* The counts, from the map. */
static void recount(hamr__arena_head *h)
{
	h->used = h->warm = 0;
	for (uint32_t c = 0; c < h->n_chunks; c++) {
		h->used += h->map[c] != HAMR__CHUNK_FREE && h->map[c] != HAMR__CHUNK_WARM;
		h->warm += h->map[c] == HAMR__CHUNK_WARM;
	}
}

static void lock(hamr__arena *a)
{
	hamr__arena_head *h = a->h;
	if (pthread_mutex_lock(&h->lock) == EOWNERDEAD) {
		/* its holder died: finish the step it was taking */
		if (h->op_active)
			step(a, h->op_start, h->op_n, h->op_state, h->op_owner);
		recount(h);
		pthread_mutex_consistent(&h->lock);
	}
}

static void unlock(hamr__arena *a)
{
	pthread_mutex_unlock(&a->h->lock);
}

/* A span of n free chunks, first fit, so that chunks freed warm are
 * used again before untouched ones; HAMR__NO_CHUNK. */
static uint32_t take_span(hamr__arena *a, uint32_t n, uint32_t owner)
{
	hamr__arena_head *h = a->h;
	uint32_t found = HAMR__NO_CHUNK;
	lock(a);
	for (uint32_t c = 0, run = 0; c < h->n_chunks; c++) {
		run = h->map[c] == HAMR__CHUNK_FREE || h->map[c] == HAMR__CHUNK_WARM ? run + 1 : 0;
		if (run == n) {
			found = c + 1 - n;
			break;
		}
	}
	if (found != HAMR__NO_CHUNK) {
		for (uint32_t k = 0; k < n; k++)
			h->warm -= h->map[found + k] == HAMR__CHUNK_WARM;
		h->used += n;
		step(a, found, n, HAMR__CHUNK_HEAD, owner);
	}
	unlock(a);
	return found;
}

/* Frees span c, whose freeing this process claimed (its `freer`). */
static void free_span(hamr__arena *a, uint32_t c)
{
	hamr__arena_head *h = a->h;
	hamr__chunk *ch = hamr__arena_chunk(a, c);
	uint32_t n = ch->span;
	lock(a);
	int keep = h->map[c] == HAMR__CHUNK_HEAD &&
	           (size_t)(h->warm + n) * HAMR__CHUNK <= HAMR__WARM_MAX;
	if (keep) {
		step(a, c, n, HAMR__CHUNK_WARM, 0);
		h->warm += n;
		h->used -= n;
	} else if (h->map[c] == HAMR__CHUNK_HEAD) {
		step(a, c, n, HAMR__CHUNK_FREEING, 0);
	}
	unlock(a);
	if (keep)
		return;
	/* past the warm bound the pages go back (from every process mapping
	 * them), before the chunks are free for another owner to write; a
	 * freer that dies here leaves the span FREEING, for reclaim, which
	 * reads the header: its page stays */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	madvise((char *)ch + page, (size_t)n * HAMR__CHUNK - page, MADV_REMOVE);
	lock(a);
	step(a, c, n, HAMR__CHUNK_FREE, 0);
	h->used -= n;
	unlock(a);
}

static void put(hamr__arena *a, uint32_t c)
{
	hamr__chunk *ch = hamr__arena_chunk(a, c);
	unsigned none = 0;
	/* acq_rel: the last one out sees every use of the chunk. The freer
	 * is claimed, so that reclaim can finish a free whose process died,
	 * and never does one twice (relaxed: the count ordered the rest) */
	if (atomic_fetch_sub_explicit(&ch->live, 1, memory_order_acq_rel) == 1 &&
	    atomic_compare_exchange_strong_explicit(&ch->freer, &none, a->self, memory_order_relaxed,
	                                            memory_order_relaxed))
		free_span(a, c);
}

void hamr__arena_unbias(hamr__arena *a, uint32_t c)
{
	hamr__chunk *ch = hamr__arena_chunk(a, c);
	/* acq_rel: as a drop of the count (put) */
	if (atomic_exchange_explicit(&ch->bias, 0, memory_order_acq_rel))
		put(a, c);
}

void hamr__arena_retire(hamr__arena *a, hamr__arena_cursor *cur)
{
	if (cur->chunk != HAMR__NO_CHUNK) {
		if (cur->retire)
			cur->retire(cur->ctx, cur->chunk);
		else
			hamr__arena_unbias(a, cur->chunk);
	}
	cur->chunk = HAMR__NO_CHUNK;
}

uint64_t hamr__arena_alloc(hamr__arena *a, hamr__arena_cursor *cur, size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	if (n > a->size)
		return 0;
	if (need > HAMR__CHUNK_SMALL) {
		uint64_t span = (sizeof(hamr__chunk) + need + HAMR__CHUNK - 1) / HAMR__CHUNK;
		if (span > a->h->n_chunks)
			return 0;
		uint32_t c = take_span(a, (uint32_t)span, cur->owner);
		if (c == HAMR__NO_CHUNK)
			return 0;
		hamr__chunk *ch = hamr__arena_chunk(a, c);
		ch->top = sizeof *ch + need;
		return (uint64_t)((char *)(ch + 1) - a->base);
	}
	if (cur->chunk != HAMR__NO_CHUNK) {
		hamr__chunk *ch = hamr__arena_chunk(a, cur->chunk);
		if (ch->top + need <= HAMR__CHUNK) {
			uint64_t off = (uint64_t)((char *)ch - a->base) + ch->top;
			ch->top += need;
			return off;
		}
		hamr__arena_retire(a, cur);
	}
	uint32_t c = take_span(a, 1, cur->owner);
	if (c == HAMR__NO_CHUNK)
		return 0;
	cur->chunk = c;
	hamr__chunk *ch = hamr__arena_chunk(a, c);
	uint64_t off = (uint64_t)((char *)ch - a->base) + ch->top;
	ch->top += need;
	return off;
}

void hamr__arena_hold(hamr__arena *a, uint64_t off)
{
	hamr__chunk *ch = hamr__arena_chunk(a, hamr__arena_chunk_of(a, off));
	/* relaxed: the holder holds the chunk already (its bias, or another
	 * hold), so the count cannot reach zero meanwhile */
	atomic_fetch_add_explicit(&ch->live, 1, memory_order_relaxed);
}

void hamr__arena_drop(hamr__arena *a, uint64_t off)
{
	put(a, hamr__arena_chunk_of(a, off));
}

void hamr__arena_reclaim(hamr__arena *a, uint32_t owner)
{
	hamr__arena_head *h = a->h;
	uint32_t *unbias = malloc(h->n_chunks * sizeof *unbias), n_unbias = 0;
	uint32_t *finish = malloc(h->n_chunks * sizeof *finish), n_finish = 0;
	if (!unbias || !finish) {
		free(unbias);
		free(finish);
		return;
	}
	/* under the lock, the map and the headers hold still: a chunk's
	 * header is written with its map byte */
	lock(a);
	for (uint32_t c = 0; c < h->n_chunks; c++) {
		if (h->map[c] != HAMR__CHUNK_HEAD && h->map[c] != HAMR__CHUNK_FREEING)
			continue; /* span heads only: a TAIL's header is data */
		hamr__chunk *ch = hamr__arena_chunk(a, c);
		/* relaxed: the lock orders the headers (a span is taken and
		 * freed only under it, so none changes hands during the scan);
		 * the counts are what the dead owner left */
		unsigned freer = atomic_load_explicit(&ch->freer, memory_order_relaxed);
		if (h->map[c] == HAMR__CHUNK_FREEING) {
			if (freer == owner) { /* its freer died while freeing */
				atomic_store_explicit(&ch->freer, a->self, memory_order_relaxed);
				finish[n_finish++] = c;
			}
		} else if (ch->owner == owner && atomic_load_explicit(&ch->bias, memory_order_relaxed)) {
			unbias[n_unbias++] = c;
		} else if (!atomic_load_explicit(&ch->live, memory_order_relaxed)) {
			/* emptied, and its freer died before freeing, or has not
			 * claimed it yet: whoever wins the claim frees it */
			unsigned none = 0;
			if (freer == owner)
				atomic_store_explicit(&ch->freer, a->self, memory_order_relaxed);
			if (freer == owner ||
			    (freer == 0 && atomic_compare_exchange_strong_explicit(
			                           &ch->freer, &none, a->self, memory_order_relaxed,
			                           memory_order_relaxed)))
				finish[n_finish++] = c;
		}
	}
	unlock(a);
	for (uint32_t k = 0; k < n_unbias; k++)
		hamr__arena_unbias(a, unbias[k]);
	for (uint32_t k = 0; k < n_finish; k++)
		free_span(a, finish[k]);
	free(unbias);
	free(finish);
}

uint32_t hamr__arena_used(hamr__arena *a)
{
	lock(a);
	uint32_t n = a->h->used;
	unlock(a);
	return n;
}

/* ---- the arenas this process maps ----------------------------------------- */

#define MAX_ARENAS 64

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static hamr__arena *arenas[MAX_ARENAS];

/* A forked copy of the program has the arenas' mappings but not their
 * pools: what it writes there (a release's count) must not reach the
 * parent. Each arena it maps shared becomes a private copy of its memfd at
 * the same address, so that the values in it stay readable here; its
 * releases do nothing. One mapped privately already (this process is a
 * copy of a copy) is left as it is: the fork copied it. */
static void foreign_arenas(void)
{
	pthread_mutex_init(&reg_lock, NULL);
	for (int i = 0; i < MAX_ARENAS; i++) {
		hamr__arena *a = arenas[i];
		if (!a || a->foreign)
			continue;
		a->foreign = 1;
		/* the number may have been closed and reused by the program:
		 * only the arena's own memfd is mapped, and closed */
		struct stat st;
		if (a->fd < 0 || fstat(a->fd, &st) || (uint64_t)st.st_ino != a->fd_ino ||
		    (uint64_t)st.st_size < a->size)
			continue;
		/* on failure it stays shared: a copy that releases nothing
		 * there changes nothing */
		mmap(a->base, a->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
		     a->fd, 0);
		/* this process needs it no more */
		close(a->fd);
		a->fd = -1;
	}
}

static void at_fork(void)
{
	pthread_atfork(NULL, NULL, foreign_arenas);
}

int hamr__arena_register(hamr__arena *a)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, at_fork);
	int rc = HAMR_ERANGE;
	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < MAX_ARENAS && rc; i++)
		if (!arenas[i]) {
			arenas[i] = a;
			rc = 0;
		}
	pthread_mutex_unlock(&reg_lock);
	if (rc)
		hamr__error_set(rc, "more than %d pools of worker processes at once", MAX_ARENAS);
	return rc;
}

void hamr__arena_unregister(hamr__arena *a)
{
	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < MAX_ARENAS; i++)
		if (arenas[i] == a)
			arenas[i] = NULL;
	pthread_mutex_unlock(&reg_lock);
}

void hamr__arena_box_free(void *box)
{
	char *p = box;
	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < MAX_ARENAS; i++) {
		hamr__arena *a = arenas[i];
		if (!a || p < a->base || p >= a->base + a->size)
			continue;
		uint64_t off = (uint64_t)(p - a->base);
		if (a->foreign)
			break; /* the parent's: it frees its own */
		if (!a->orphan) {
			/* a copy: its pool may go while this drop runs (the
			 * value keeps the mapping) */
			hamr__arena copy = *a;
			pthread_mutex_unlock(&reg_lock);
			hamr__arena_drop(&copy, off);
			return;
		}
		/* a destroyed pool's arena, kept for values like this one: the
		 * last one out unmaps it, under the registry's lock so that no
		 * other release is halfway through it */
		hamr__arena_drop(a, off);
		if (!hamr__arena_used(a)) {
			arenas[i] = NULL;
			munmap(a->base, a->size);
			if (a->fd >= 0)
				close(a->fd);
			free(a);
		}
		break;
	}
	pthread_mutex_unlock(&reg_lock);
}

