// SPDX-License-Identifier: MIT
/* A module with a map block, for hamr-run's run options: "items" emits
 * 0 .. n-1 (input "n", default 6), "checked" is 10x the item but fails on
 * item 3, "total" sums it tolerantly (the items that succeeded), "strict"
 * sums it and does not run when an item failed. Under --policy keep_going
 * hamr-run must report the failed item and print "total" = 10 * (15 - 3);
 * under the default policy it fails on item 3 and computes neither. */
#include <inttypes.h>

#include <hamr.h>

static int items(hamr_call *c)
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

static int checked(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x == 3)
		return hamr_fail(c, "item %" PRId64 " is bad", x);
	return hamr_ret_i64(c, 10 * x);
}

static int sum(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += hamr_list_i64(l, i);
	return hamr_ret_i64(c, s);
}

static const hamr_dep items_deps[] = {
	{.name = "n", .type = HAMR_I64, .flags = HAMR_DEP_OPTIONAL, .dflt = HAMR_DEFAULT_I64(6)},
	{0}};
static const hamr_dep checked_deps[] = {{.name = "items", .type = HAMR_I64}, {0}};
static const hamr_dep total_deps[] = {
	{.name = "checked", .type = HAMR_I64, .flags = HAMR_DEP_COLLECT | HAMR_DEP_TOLERANT}, {0}};
static const hamr_dep strict_deps[] = {
	{.name = "checked", .type = HAMR_I64, .flags = HAMR_DEP_COLLECT}, {0}};

static const hamr_node_def nodes[] = {
	{.name = "n", .kind = HAMR_NODE_INPUT, .type = HAMR_I64},
	{.name = "items", .fn = items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = items_deps},
	{.name = "checked", .fn = checked, .type = HAMR_I64, .deps = checked_deps},
	{.name = "total", .fn = sum, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .deps = total_deps},
	{.name = "strict", .fn = sum, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .deps = strict_deps},
	{0}};

static const hamr_module mod = {"hr_blocks", nodes};

HAMR_MODULE_EXPORT(mod)
