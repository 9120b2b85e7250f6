/* SPDX-License-Identifier: MIT */
/* Internal: a bump allocator for graph-lifetime memory, and a name -> index
 * hash map. Both are single-threaded: a graph is built by one thread, and
 * read-only (safe to share) once built. */
#ifndef HAMR_GRAPH_NAMES_INTERNAL_H
#define HAMR_GRAPH_NAMES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Bump allocator: memory handed out lives until hamr__bump_free. */
typedef struct hamr__bump {
	struct hamr__bump_chunk *head;
	char *cur;
	char *end;
} hamr__bump;

void hamr__bump_init(hamr__bump *b);
void hamr__bump_free(hamr__bump *b);
/* n bytes aligned for any scalar; NULL when out of memory. */
void *hamr__bump_alloc(hamr__bump *b, size_t n);
/* A copy of s (NULL for NULL s, and on out of memory: check both),
 * followed by NULs up to a multiple of 8 bytes (hamr__names_digest_padded). */
char *hamr__bump_strdup(hamr__bump *b, const char *s);

/* Open-addressing map from NUL-terminated names to non-negative int32
 * values. Keys are borrowed: they must outlive the map. */
typedef struct hamr__names {
	struct hamr__names_slot *slots;
	uint32_t cap; /* a power of two, or 0 */
	uint32_t len;
} hamr__names;

void hamr__names_init(hamr__names *m);
void hamr__names_free(hamr__names *m);
/* Makes room for n keys in all; HAMR_ENOMEM or 0. */
int hamr__names_reserve(hamr__names *m, size_t n);
/* Maps key to val, replacing an earlier value. 0 or HAMR_ENOMEM. */
int hamr__names_put(hamr__names *m, const char *key, int32_t val);
/* The value of key, or -1. */
int32_t hamr__names_get(const hamr__names *m, const char *key);
/* Replaces every value v by to[v]; a value of -1 reads as absent after. */
void hamr__names_map_values(hamr__names *m, const int32_t *to);

/* A key's digest: its hash, and its first 8 bytes as a word (NULs past
 * its end), which is the whole key when `fits`. */
typedef struct hamr__names_key {
	uint64_t word;
	uint32_t hash;
	int fits;
} hamr__names_key;
/* The digest of any key. */
void hamr__names_digest(const char *key, hamr__names_key *k);
/* The same digest, read a word at a time: for a key followed by NULs up
 * to a multiple of 8 bytes from its start, as hamr__bump_strdup's copies
 * are. */
void hamr__names_digest_padded(const char *key, hamr__names_key *k);

/* Look-ups in bulk: a big map's slots and keys are cache misses, so a
 * caller with many names to look up takes each name's digest some way
 * ahead of looking it up, and hints the map to fetch its slot (prefetch),
 * then, closer, the key stored there (prefetch_key), so that the look-up
 * itself (get_key or get_or_put_key, given the digest) finds both in
 * cache. */
void hamr__names_prefetch(const hamr__names *m, uint32_t hash);
void hamr__names_prefetch_key(const hamr__names *m, uint32_t hash);
int32_t hamr__names_get_key(const hamr__names *m, const char *key, const hamr__names_key *k);
/* The value of key (of digest k), when the map has it; else maps key to
 * val and gives -1. The map must have room (hamr__names_reserve) for one
 * more key. */
int32_t hamr__names_get_or_put_key(hamr__names *m, const char *key, const hamr__names_key *k,
                                   int32_t val);

#endif
