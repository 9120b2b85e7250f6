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
 * look-ups overlap. Hashing and the short form are one pass over the
 * name, a word at a time for the names a graph copied (a digest,
 * hamr__names_key).
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
	size_t n = strlen(s) + 1, words = (n + 7) / 8 * 8;
	char *d = hamr__bump_alloc(b, n); /* rounded up to BUMP_ALIGN: words fit */
	if (d) {
		/* NULs to the end of the last word (hamr__names_digest_padded) */
		memset(d + words - 8, 0, 8);
		memcpy(d, s, n);
	}
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
		uint64_t word;   /* SLOT_SHORT: the key's first word (digests below) */
	} key;
	uint32_t tag; /* the key's hash, its top bits the slot's SLOT_* */
	int32_t val;
};

/* Does occupied slot s, whose tag matched, hold key (digest k)? */
static inline int slot_holds(const struct hamr__names_slot *s, const char *key,
                             const hamr__names_key *k)
{
	if ((s->tag & SLOT_STATE) == SLOT_PTR)
		return !strcmp(s->key.ptr, key);
	return k->fits && k->word == s->key.word;
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

/* Fills free slot s with key, of digest k. */
static void slot_fill(struct hamr__names_slot *s, const char *key, const hamr__names_key *k,
                      int32_t val)
{
	s->val = val;
	if (k->fits) {
		s->key.word = k->word;
		s->tag = (k->hash & ~SLOT_STATE) | SLOT_SHORT;
	} else {
		s->key.ptr = key;
		s->tag = (k->hash & ~SLOT_STATE) | SLOT_PTR;
	}
}

/* ---- digests ------------------------------------------------------------
 *
 * A key is read as words: its bytes and the NUL that ends it, NULs after
 * up to a multiple of 8 bytes, 8 bytes a word in the machine's order (so
 * a key of up to SHORT_KEY bytes has the slot's word as its first, and a
 * next one of NULs). The hash takes a word at a time (a multiply and a
 * fold), and its last step mixes every bit into the 32 it keeps, whose
 * low ones place the slot. A key the graph copied (hamr__bump_strdup
 * pads its copies so) is read a word at a time; any other a byte at a
 * time into the same words, for the same digest. */
#define KEY_SEED 0x243f6a8885a308d3u
#define KEY_MUL 0x9e3779b97f4a7c15u
#define KEY_FINAL 0xff51afd7ed558ccdu

static inline uint64_t key_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * KEY_MUL;
	return h ^ (h >> 32);
}

static inline uint32_t key_finish(uint64_t h)
{
	return (uint32_t)(((h ^ (h >> 29)) * KEY_FINAL) >> 32);
}

/* Does word w hold a NUL byte? (Exact: a borrow only runs on past a
 * byte that is 0.) */
static inline int has_nul(uint64_t w)
{
	return ((w - 0x0101010101010101u) & ~w & 0x8080808080808080u) != 0;
}

void hamr__names_digest(const char *key, hamr__names_key *k)
{
	uint64_t h = KEY_SEED, first = 0;
	for (size_t at = 0;; at += 8) {
		unsigned char b[8] = {0};
		size_t j = 0;
		while (j < 8 && (b[j] = (unsigned char)key[at + j]))
			j++;
		uint64_t w;
		memcpy(&w, b, sizeof w);
		if (!at)
			first = w;
		h = key_step(h, w);
		if (j < 8) {
			k->fits = at + j <= SHORT_KEY;
			break;
		}
	}
	k->word = first;
	k->hash = key_finish(h);
}

void hamr__names_digest_padded(const char *key, hamr__names_key *k)
{
	uint64_t w;
	memcpy(&w, key, sizeof w);
	k->word = w;
	uint64_t h = key_step(KEY_SEED, w);
	/* a word without a NUL: a longer key, whose next byte (padded, so
	 * readable) ends it when it is SHORT_KEY bytes long */
	k->fits = has_nul(w) || !key[SHORT_KEY];
	while (!has_nul(w)) {
		key += 8;
		memcpy(&w, key, sizeof w);
		h = key_step(h, w);
	}
	k->hash = key_finish(h);
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

/* The slot that holds key (digest k), or the free slot that ends its
 * probe; the map has slots. */
static inline __attribute__((always_inline)) struct hamr__names_slot *
find_slot(const hamr__names *m, const char *key, const hamr__names_key *k)
{
	uint32_t i = k->hash & (m->cap - 1);
	for (; slot_used(&m->slots[i]); i = (i + 1) & (m->cap - 1))
		if (slot_tag_matches(&m->slots[i], k->hash) && slot_holds(&m->slots[i], key, k))
			break;
	return &m->slots[i];
}

int hamr__names_put(hamr__names *m, const char *key, int32_t val)
{
	hamr__names_key k;
	hamr__names_digest(key, &k);
	if (m->cap) {
		struct hamr__names_slot *s = find_slot(m, key, &k);
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
	slot_fill(find_slot(m, key, &k), key, &k, val);
	m->len++;
	return 0;
}

int32_t hamr__names_get_key(const hamr__names *m, const char *key, const hamr__names_key *k)
{
	if (!m->cap)
		return -1;
	const struct hamr__names_slot *s = find_slot(m, key, k);
	return slot_used(s) ? s->val : -1;
}

int32_t hamr__names_get(const hamr__names *m, const char *key)
{
	if (!m->cap)
		return -1;
	hamr__names_key k;
	hamr__names_digest(key, &k);
	return hamr__names_get_key(m, key, &k);
}

int32_t hamr__names_get_or_put_key(hamr__names *m, const char *key, const hamr__names_key *k,
                                   int32_t val)
{
	struct hamr__names_slot *s = find_slot(m, key, k);
	if (slot_used(s))
		return s->val;
	slot_fill(s, key, k, val);
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
