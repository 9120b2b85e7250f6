/* SPDX-License-Identifier: MIT */
/* Internal: names that are nearly right, for "did you mean" hints
 * (serialize/spelling.c). */
#ifndef HAMR_SERIALIZE_SPELLING_INTERNAL_H
#define HAMR_SERIALIZE_SPELLING_INTERNAL_H

#include <stddef.h>

/* The edit distance between a and b, or a number above `max` as soon as it
 * is sure to exceed max. */
size_t hamr__edit_distance(const char *a, const char *b, size_t max);

/* The candidate nearest to `name`, for "did you mean" hints: offer each
 * candidate to hamr__nearest_try; `best` is then the nearest one within an
 * edit distance of a third of name's length plus one (at most 3), or NULL.
 * Strings are borrowed. */
typedef struct hamr__nearest {
	const char *name;
	const char *best;
	size_t best_d; /* best's distance; one past the limit while none */
} hamr__nearest;

void hamr__nearest_init(hamr__nearest *n, const char *name);
void hamr__nearest_try(hamr__nearest *n, const char *candidate);

#endif
