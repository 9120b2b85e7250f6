// SPDX-License-Identifier: MIT
/* The shared-memory arena: chunks, owners, and their lifetimes (see
 * serialize/arena_internal.h). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

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

static void lock(hamr__arena_head *h)
{
	/* a worker died holding it: the map is a byte per chunk, each
	 * written whole, so it is consistent as it stands */
	if (pthread_mutex_lock(&h->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&h->lock);
}

hamr__chunk *hamr__arena_chunk(const hamr__arena *a, uint32_t c)
{
	return (hamr__chunk *)(a->base + a->h->data_off + (uint64_t)c * HAMR__CHUNK);
}

uint32_t hamr__arena_chunk_of(const hamr__arena *a, uint64_t off)
{
	return (uint32_t)((off - a->h->data_off) / HAMR__CHUNK);
}

/* A span of n free chunks, first fit, so that chunks freed warm are
 * used again before untouched ones; HAMR__NO_CHUNK. */
static uint32_t take_span(hamr__arena *a, uint32_t n, uint32_t owner)
{
	hamr__arena_head *h = a->h;
	uint32_t found = HAMR__NO_CHUNK;
	lock(h);
	{
		for (uint32_t c = 0, run = 0; c < h->n_chunks; c++) {
			run = h->map[c] == HAMR__CHUNK_FREE || h->map[c] == HAMR__CHUNK_WARM ? run + 1 : 0;
			if (run == n) {
				found = c + 1 - n;
				break;
			}
		}
	}
	if (found != HAMR__NO_CHUNK) {
		for (uint32_t k = 0; k < n; k++)
			h->warm -= h->map[found + k] == HAMR__CHUNK_WARM;
		for (uint32_t k = 1; k < n; k++)
			h->map[found + k] = HAMR__CHUNK_TAIL;
		h->map[found] = HAMR__CHUNK_HEAD;
		h->used += n;
	}
	pthread_mutex_unlock(&h->lock);
	if (found == HAMR__NO_CHUNK)
		return found;
	hamr__chunk *ch = hamr__arena_chunk(a, found);
	ch->owner = owner;
	ch->span = n;
	ch->top = sizeof *ch;
	atomic_store_explicit(&ch->bias, 1, memory_order_relaxed);
	/* release: whoever later reads the count sees the header */
	atomic_store_explicit(&ch->live, 1, memory_order_release);
	return found;
}

static void free_span(hamr__arena *a, uint32_t c)
{
	hamr__arena_head *h = a->h;
	hamr__chunk *ch = hamr__arena_chunk(a, c);
	uint32_t n = ch->span;
	lock(h);
	int keep = (size_t)(h->warm + n) * HAMR__CHUNK <= HAMR__WARM_MAX;
	if (keep) {
		for (uint32_t k = 0; k < n; k++)
			h->map[c + k] = HAMR__CHUNK_WARM;
		h->warm += n;
		h->used -= n;
	}
	pthread_mutex_unlock(&h->lock);
	if (keep)
		return;
	/* past the warm bound the pages go back (from every process mapping
	 * them), before the chunks are free for another owner to write */
	madvise(ch, (size_t)n * HAMR__CHUNK, MADV_REMOVE);
	lock(h);
	for (uint32_t k = 0; k < n; k++)
		h->map[c + k] = HAMR__CHUNK_FREE;
	h->used -= n;
	pthread_mutex_unlock(&h->lock);
}

static void put(hamr__arena *a, uint32_t c)
{
	hamr__chunk *ch = hamr__arena_chunk(a, c);
	/* acq_rel: the last one out sees every use of the chunk */
	if (atomic_fetch_sub_explicit(&ch->live, 1, memory_order_acq_rel) == 1)
		free_span(a, c);
}

void hamr__arena_unbias(hamr__arena *a, uint32_t c)
{
	hamr__chunk *ch = hamr__arena_chunk(a, c);
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
	for (uint32_t c = 0; c < h->n_chunks; c++) {
		/* the map changes under us only for chunks of live owners, and a
		 * dead owner's chunks stay put until their bias is dropped here */
		if (__atomic_load_n(&h->map[c], __ATOMIC_ACQUIRE) != HAMR__CHUNK_HEAD)
			continue;
		hamr__chunk *ch = hamr__arena_chunk(a, c);
		if (ch->owner == owner && atomic_load_explicit(&ch->bias, memory_order_acquire))
			hamr__arena_unbias(a, c);
	}
}

uint32_t hamr__arena_used(hamr__arena *a)
{
	lock(a->h);
	uint32_t n = a->h->used;
	pthread_mutex_unlock(&a->h->lock);
	return n;
}

/* ---- the arenas this process maps ----------------------------------------- */

#define MAX_ARENAS 64

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static hamr__arena *arenas[MAX_ARENAS];

void hamr__arena_register(hamr__arena *a)
{
	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < MAX_ARENAS; i++)
		if (!arenas[i]) {
			arenas[i] = a;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
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
		if (a && p >= a->base && p < a->base + a->size) {
			pthread_mutex_unlock(&reg_lock);
			hamr__arena_drop(a, (uint64_t)(p - a->base));
			return;
		}
	}
	pthread_mutex_unlock(&reg_lock);
}
