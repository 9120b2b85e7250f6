// SPDX-License-Identifier: MIT
/* Names: the only place where hamr compares strings.
 *
 * Every dependency name is resolved to an integer index exactly once, when
 * a graph is built; plans and runs never look a name up again. That one
 * pass is what plan compilation spends most of its time on for big graphs
 * (a 512 x 512 grid has a quarter million nodes), so the map is a flat
 * open-addressing table with linear probing and the full hash kept in each
 * slot, so that a probe compares strings only on a hash match. A table
 * that big outgrows the caches, and a probe's slot and key are then two
 * misses: the build looks names up in bulk, hashing each some look-ups
 * early and prefetching its slot and key (hamr__names_prefetch*), so that
 * the misses of many look-ups overlap.
 *
 * The bump allocator holds everything a graph copies from its definitions
 * (names, dependency arrays, tags): a graph frees it all at once. */
#include <stdlib.h>
#include <string.h>

#include "graph/names_internal.h"
#include "hamr/errno.h"

/* ---- bump allocator -------------------------------------------------- */

struct hamr__bump_chunk {
	struct hamr__bump_chunk *next;
	_Alignas(16) char data[];
};

#define BUMP_CHUNK (64u * 1024u)
#define BUMP_ALIGN 16u

void hamr__bump_init(hamr__bump *b)
{
	b->head = NULL;
	b->cur = b->end = NULL;
}

void hamr__bump_free(hamr__bump *b)
{
	struct hamr__bump_chunk *c = b->head;
	while (c) {
		struct hamr__bump_chunk *next = c->next;
		free(c);
		c = next;
	}
	hamr__bump_init(b);
}

void *hamr__bump_alloc(hamr__bump *b, size_t n)
{
	n = (n + BUMP_ALIGN - 1) & ~(size_t)(BUMP_ALIGN - 1);
	if (n == 0)
		n = BUMP_ALIGN;
	if ((size_t)(b->end - b->cur) < n) {
		size_t size = n > BUMP_CHUNK / 4 ? n : BUMP_CHUNK;
		struct hamr__bump_chunk *c = malloc(sizeof *c + size);
		if (!c)
			return NULL;
		if (size == n && b->head) {
			/* a big block gets a chunk of its own, behind the
			 * current one, so the current one keeps its room */
			c->next = b->head->next;
			b->head->next = c;
			return c->data;
		}
		c->next = b->head;
		b->head = c;
		b->cur = c->data;
		b->end = c->data + size;
	}
	void *p = b->cur;
	b->cur += n;
	return p;
}

char *hamr__bump_strdup(hamr__bump *b, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = hamr__bump_alloc(b, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* ---- name map --------------------------------------------------------- */

struct hamr__names_slot {
	const char *key; /* NULL: free */
	uint32_t hash;
	int32_t val;
};

/* FNV-1a: short keys, few instructions per byte, good enough spread with
 * linear probing at a load factor under 1/2. */
uint32_t hamr__names_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void hamr__names_init(hamr__names *m)
{
	m->slots = NULL;
	m->cap = m->len = 0;
}

void hamr__names_free(hamr__names *m)
{
	free(m->slots);
	hamr__names_init(m);
}

static void insert_slot(struct hamr__names_slot *slots, uint32_t cap,
                        const char *key, uint32_t hash, int32_t val)
{
	uint32_t i = hash & (cap - 1);
	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i].key = key;
	slots[i].hash = hash;
	slots[i].val = val;
}

int hamr__names_reserve(hamr__names *m, size_t n)
{
	size_t want = 16;
	while (want < 2 * n)
		want *= 2;
	if (want <= m->cap)
		return 0;
	if (want > UINT32_MAX / 2)
		return HAMR_ENOMEM;
	struct hamr__names_slot *slots = calloc(want, sizeof *slots);
	if (!slots)
		return HAMR_ENOMEM;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			insert_slot(slots, (uint32_t)want, m->slots[i].key,
			            m->slots[i].hash, m->slots[i].val);
	free(m->slots);
	m->slots = slots;
	m->cap = (uint32_t)want;
	return 0;
}

int hamr__names_put(hamr__names *m, const char *key, int32_t val)
{
	uint32_t h = hamr__names_hash(key);
	if (m->cap) {
		uint32_t i = h & (m->cap - 1);
		for (; m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
			if (m->slots[i].hash == h && !strcmp(m->slots[i].key, key)) {
				m->slots[i].val = val;
				return 0;
			}
		}
	}
	if (2 * ((size_t)m->len + 1) > m->cap) {
		int rc = hamr__names_reserve(m, (size_t)m->len + 1 > m->cap ?
		                                        (size_t)m->len + 1 :
		                                        m->cap);
		if (rc)
			return rc;
	}
	insert_slot(m->slots, m->cap, key, h, val);
	m->len++;
	return 0;
}

int32_t hamr__names_get_hashed(const hamr__names *m, const char *key, uint32_t h)
{
	if (!m->cap)
		return -1;
	uint32_t i = h & (m->cap - 1);
	for (; m->slots[i].key; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].hash == h && !strcmp(m->slots[i].key, key))
			return m->slots[i].val;
	return -1;
}

int32_t hamr__names_get(const hamr__names *m, const char *key)
{
	return m->cap ? hamr__names_get_hashed(m, key, hamr__names_hash(key)) : -1;
}

int32_t hamr__names_get_or_put_hashed(hamr__names *m, const char *key, uint32_t h,
                                      int32_t val)
{
	uint32_t i = h & (m->cap - 1);
	for (; m->slots[i].key; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].hash == h && !strcmp(m->slots[i].key, key))
			return m->slots[i].val;
	m->slots[i].key = key;
	m->slots[i].hash = h;
	m->slots[i].val = val;
	m->len++;
	return -1;
}

void hamr__names_map_values(hamr__names *m, const int32_t *to)
{
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			m->slots[i].val = to[m->slots[i].val];
}

void hamr__names_prefetch(const hamr__names *m, uint32_t h)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[h & (m->cap - 1)]);
}

void hamr__names_prefetch_key(const hamr__names *m, uint32_t h)
{
	if (!m->cap)
		return;
	const struct hamr__names_slot *s = &m->slots[h & (m->cap - 1)];
	if (s->key && s->hash == h)
		__builtin_prefetch(s->key);
}
