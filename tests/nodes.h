/* SPDX-License-Identifier: MIT */
/* What many tests' graphs are made of: DEPS and TAGS for a definition's
 * lists, the input "n", a node that emits the items 0 .. n-1, collects
 * that sum a list, name its items or check it item by item, and a
 * summing fold step. Static
 * inline, so that a test takes what it needs and defines its other nodes
 * itself. */
#ifndef HAMR_TESTS_NODES_H
#define HAMR_TESTS_NODES_H

#include <hamr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END})
#define TAGS(...) ((const hamr_tag[]){__VA_ARGS__, {NULL, NULL}})
#define INPUT_N {.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT}

/* Emits the items 0 .. n-1 for its argument n; stops with HAMR_ECANCELED
 * when an emit fails (the run is ending). */
static inline int f_items(hamr_call *c)
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

/* The sum of a collected list of i64. */
static inline int f_sum_list(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += hamr_list_i64(l, i);
	return hamr_ret_i64(c, s);
}

/* The list of c's argument 0, checked item by item against the items 0
 * .. n-1 that `skip` does not name (those that failed): each index in
 * order, and each value as its node computes it from the index x (by
 * `what`: 'h' x / 2, 'e' x even, 's' x * x, 'n' the string "i<x>").
 * Returns what a checking collect returns: the list's length, or a
 * failure naming the place or the item. */
static inline int check_items_list(hamr_call *c, int64_t n, int (*skip)(int64_t), char what)
{
	hamr_list l = hamr_arg_list(c, 0);
	size_t k = 0;
	for (int64_t x = 0; x < n; x++) {
		if (skip(x))
			continue;
		if (k >= l.len || hamr_arg_item_index(c, 0, k) != x)
			return hamr_fail(c, "place %zu is not item %lld", k, (long long)x);
		char name[32];
		snprintf(name, sizeof name, "i%lld", (long long)x);
		int ok = what == 'h' ? hamr_list_f64(l, k) == (double)x / 2.0 :
		         what == 'e' ? hamr_list_bool(l, k) == (x % 2 == 0) :
		         what == 's' ? hamr_list_i64(l, k) == x * x :
		                       strcmp(hamr_list_str(l, k), name) == 0;
		if (!ok)
			return hamr_fail(c, "the value of item %lld is wrong", (long long)x);
		k++;
	}
	if (k != l.len)
		return hamr_fail(c, "%zu values for %zu good items", l.len, k);
	return hamr_ret_i64(c, (int64_t)k);
}

/* The indices of the items of a collected list (through a tolerant dep,
 * the items that did not fail), as digits; fails unless each value is
 * 10 times its item's index. */
static inline int f_indices(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++) {
		if (hamr_list_i64(l, i) != 10 * hamr_arg_item_index(c, 0, i))
			return hamr_fail(c, "value %zu is not its item's", i);
		s = s * 10 + hamr_arg_item_index(c, 0, i);
	}
	return hamr_ret_i64(c, s);
}

/* A fold step, and merge, that adds i64 values. */
static inline int sum_step(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + hamr_value_i64(x));
	return 0;
}

/* Twice its argument. */
static inline int f_twice(hamr_call *c)
{
	return hamr_ret_i64(c, 2 * hamr_arg_i64(c, 0));
}

/* "sq" and its argument, as text: a heap value to carry back. */
static inline int f_sq_label(hamr_call *c)
{
	char buf[64];
	snprintf(buf, sizeof buf, "sq%lld", (long long)hamr_arg_i64(c, 0));
	return hamr_ret_str(c, buf);
}

/* The total length of a collected list of strings. */
static inline int f_total_chars(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t n = 0;
	for (size_t i = 0; i < l.len; i++)
		n += (int64_t)strlen(hamr_list_str(l, i));
	return hamr_ret_i64(c, n);
}

/* One more than the sum of its arguments (i64, any count). */
static inline int f_one_plus_sum(hamr_call *c)
{
	int64_t s = 1;
	for (size_t i = 0; i < hamr_arg_count(c); i++)
		s += hamr_arg_i64(c, i);
	return hamr_ret_i64(c, s);
}

/* *p: the plan of g for every one of its nodes names[0 .. k-1] that no
 * other reads (read[i] 0), with `given` (or NULL). g is destroyed here
 * (the plan keeps it). hamr_plan_create's code, or HAMR_ENOMEM. */
static inline int plan_for_unread(hamr_plan **p, hamr_graph *g, const char (*names)[16],
                                  const int *read, int k, const hamr_values *given)
{
	const char **outs = malloc((size_t)(k > 0 ? k : 1) * sizeof *outs);
	int rc = HAMR_ENOMEM;
	if (outs) {
		size_t n_outs = 0;
		for (int i = 0; i < k; i++)
			if (!read[i])
				outs[n_outs++] = names[i];
		rc = hamr_plan_create(p, g, outs, n_outs, given);
	}
	free(outs);
	hamr_graph_destroy(g);
	return rc;
}

#endif
