/* SPDX-License-Identifier: MIT */
/* What many tests' graphs are made of: DEPS and TAGS for a definition's
 * lists, the input "n", a node that emits the items 0 .. n-1, collects
 * that sum a list or name its items, and a summing fold step. Static
 * inline, so that a test takes what it needs and defines its other nodes
 * itself. */
#ifndef HAMR_TESTS_NODES_H
#define HAMR_TESTS_NODES_H

#include <hamr.h>
#include <stdio.h>
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

#endif
