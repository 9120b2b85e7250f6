// SPDX-License-Identifier: MIT
/* Names that are nearly right: the edit distance between two strings, and
 * the nearest of several candidates, for the "did you mean" hints that
 * graph errors, plan errors and unknown HAMR_* variables carry. Here, at
 * the bottom of the library, so that every layer may offer a hint. Only
 * error paths call it: a Levenshtein row of at most 256 entries on the
 * stack, cut short as soon as the distance is sure to pass the limit. */
#include <string.h>

#include "serialize/spelling_internal.h"

size_t hamr__edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b);
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	if (lb > 255)
		return max + 1; /* hints are for names people type */
	size_t row[256];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best;
		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = diag + cost;
			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best > max)
			return max + 1;
	}
	return row[lb];
}

void hamr__nearest_init(hamr__nearest *n, const char *name)
{
	size_t max = strlen(name) / 3 + 1;
	n->name = name;
	n->best = NULL;
	n->best_d = (max > 3 ? 3 : max) + 1;
}

void hamr__nearest_try(hamr__nearest *n, const char *candidate)
{
	if (n->best_d == 0)
		return; /* an exact match: nothing is nearer */
	size_t d = hamr__edit_distance(n->name, candidate, n->best_d - 1);
	if (d < n->best_d) {
		n->best_d = d;
		n->best = candidate;
	}
}
