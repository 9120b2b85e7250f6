// SPDX-License-Identifier: MIT
/* Names: the only place where hamr compares strings.
 *
 * Every dependency name is resolved to an integer index exactly once, when
 * a graph is built; plans and runs never look a name up again. That one
 * pass is what plan compilation spends most of its time on for big graphs
 * (a 512 x 512 grid has a quarter million nodes), so the map is a flat
 * open-addressing table with linear probing and the full hash kept in each
 * slot, so that a probe compares strings only on a hash match, and a short
 * name (most are) kept in the slot itself, so that the comparison reads
 * nothing else. A table that big outgrows the caches, and a probe's slot
 * is then a miss, and a long key's string another: the build looks names
 * up in bulk, hashing each some look-ups early and prefetching its slot
 * and long key (hamr__names_prefetch*), so that the misses of many
 * look-ups overlap.
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

/* A key of up to SHORT_KEY bytes (the NUL left out) is kept in its slot,
 * NUL-padded, so that confirming a hash match reads no memory but the
 * slot: a big table's look-ups then miss the cache once each, not twice
 * (the slot, then the key it points to). A longer key is kept by pointer.
 * The top two bits of the stored hash say which (SLOT_*, shifted); a slot
 * whose bits say SLOT_FREE is free, as a slot of 0xff bytes does (see
 * hamr__names_reserve).
 * Comparing hashes leaves those bits out; a slot's place in a table of at
 * most 2^30 slots (MAX_SLOTS) does not depend on them. */
#define SHORT_KEY 8u
#define MAX_SLOTS (1u << 30)

#define SLOT_PTR (1u << 30)
#define SLOT_SHORT (2u << 30)
#define SLOT_FREE (3u << 30)
#define SLOT_STATE (3u << 30)

struct hamr__names_slot {
	union {
		const char *ptr; /* SLOT_PTR */
		uint64_t word;   /* SLOT_SHORT: short_word() of the key */
	} key;
	uint32_t tag; /* the key's hash, its top bits the slot's SLOT_* */
	int32_t val;
};

/* The bytes of a key of at most SHORT_KEY bytes, packed into a word (byte
 * i at bits 8i, zero where the key has ended); *fits says whether the key
 * is that short. */
static inline uint64_t short_word(const char *key, int *fits)
{
	uint64_t w = 0;
	unsigned i = 0;
	for (; i < SHORT_KEY && key[i]; i++)
		w |= (uint64_t)(unsigned char)key[i] << (8 * i);
	*fits = !key[i];
	return w;
}

/* Does occupied slot s, whose tag matched, hold key? */
static inline int slot_holds(const struct hamr__names_slot *s, const char *key)
{
	if ((s->tag & SLOT_STATE) == SLOT_PTR)
		return !strcmp(s->key.ptr, key);
	int fits;
	uint64_t w = short_word(key, &fits);
	return fits && w == s->key.word;
}

/* Is slot s occupied by a key of hash h (whatever its top bits)? */
static inline int slot_tag_matches(const struct hamr__names_slot *s, uint32_t h)
{
	return !((s->tag ^ h) & ~SLOT_STATE);
}

static inline int slot_used(const struct hamr__names_slot *s)
{
	return (s->tag & SLOT_STATE) != SLOT_FREE;
}

/* Fills free slot s with key, of hash h. */
static void slot_fill(struct hamr__names_slot *s, const char *key, uint32_t h, int32_t val)
{
	int fits;
	uint64_t w = short_word(key, &fits);
	s->val = val;
	if (fits) {
		s->key.word = w;
		s->tag = (h & ~SLOT_STATE) | SLOT_SHORT;
	} else {
		s->key.ptr = key;
		s->tag = (h & ~SLOT_STATE) | SLOT_PTR;
	}
}

/* FNV-1a: short keys, few instructions per byte, good enough spread with
 * linear probing at a load factor up to 2/3 (see has_room). */
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

/* Copies used slot s into the first free slot of its probe in slots. */
static void move_slot(struct hamr__names_slot *slots, uint32_t cap,
                      const struct hamr__names_slot *s)
{
	uint32_t i = s->tag & (cap - 1);
	while (slot_used(&slots[i]))
		i = (i + 1) & (cap - 1);
	slots[i] = *s;
}

/* Do n keys fit in cap slots? At most 2/3 of the slots are used: a
 * look-up that finds its key probes 2 slots on average then, one that
 * does not 5, and 4 slots share a cache line. A fuller table would probe
 * more; an emptier one, at up to 4 slots a key where at most 1/2 are
 * used, is memory that a big graph faults in and memsets for nothing
 * (16 MiB for a 512 x 512 grid's names, where 8 do). */
static int has_room(size_t n, size_t cap)
{
	return 3 * n <= 2 * cap;
}

int hamr__names_reserve(hamr__names *m, size_t n)
{
	size_t want = 16;
	while (!has_room(n, want))
		want *= 2;
	if (want <= m->cap)
		return 0;
	if (want > MAX_SLOTS)
		return HAMR_ENOMEM;
	/* every slot free: 0xff bytes, written here rather than zeroes left
	 * to calloc, which leaves a big table's fresh pages to the kernel to
	 * map for the first probe's read and fault again for the first
	 * write; written first, each page faults once */
	struct hamr__names_slot *slots = malloc(want * sizeof *slots);
	if (!slots)
		return HAMR_ENOMEM;
	memset(slots, 0xff, want * sizeof *slots);
	for (uint32_t i = 0; i < m->cap; i++)
		if (slot_used(&m->slots[i]))
			move_slot(slots, (uint32_t)want, &m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->cap = (uint32_t)want;
	return 0;
}

/* The slot that holds key (hash h), or the free slot that ends its
 * probe; the map has slots. */
static struct hamr__names_slot *find_slot(const hamr__names *m, const char *key, uint32_t h)
{
	uint32_t i = h & (m->cap - 1);
	for (; slot_used(&m->slots[i]); i = (i + 1) & (m->cap - 1))
		if (slot_tag_matches(&m->slots[i], h) && slot_holds(&m->slots[i], key))
			break;
	return &m->slots[i];
}

int hamr__names_put(hamr__names *m, const char *key, int32_t val)
{
	uint32_t h = hamr__names_hash(key);
	if (m->cap) {
		struct hamr__names_slot *s = find_slot(m, key, h);
		if (slot_used(s)) {
			s->val = val;
			return 0;
		}
	}
	if (!has_room((size_t)m->len + 1, m->cap)) {
		int rc = hamr__names_reserve(m, (size_t)m->len + 1 > m->cap ?
		                                        (size_t)m->len + 1 :
		                                        m->cap);
		if (rc)
			return rc;
	}
	slot_fill(find_slot(m, key, h), key, h, val);
	m->len++;
	return 0;
}

int32_t hamr__names_get_hashed(const hamr__names *m, const char *key, uint32_t h)
{
	if (!m->cap)
		return -1;
	const struct hamr__names_slot *s = find_slot(m, key, h);
	return slot_used(s) ? s->val : -1;
}

int32_t hamr__names_get(const hamr__names *m, const char *key)
{
	return m->cap ? hamr__names_get_hashed(m, key, hamr__names_hash(key)) : -1;
}

int32_t hamr__names_get_or_put_hashed(hamr__names *m, const char *key, uint32_t h,
                                      int32_t val)
{
	struct hamr__names_slot *s = find_slot(m, key, h);
	if (slot_used(s))
		return s->val;
	slot_fill(s, key, h, val);
	m->len++;
	return -1;
}

void hamr__names_map_values(hamr__names *m, const int32_t *to)
{
	for (uint32_t i = 0; i < m->cap; i++)
		if (slot_used(&m->slots[i]))
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
	if ((s->tag & SLOT_STATE) == SLOT_PTR && slot_tag_matches(s, h))
		__builtin_prefetch(s->key.ptr);
}
