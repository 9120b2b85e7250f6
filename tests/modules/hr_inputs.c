// SPDX-License-Identifier: MIT
/* A module of external inputs, one per type that hamr-run parses from
 * `-i NAME=VALUE`: i64, f64, bool, str, "any" (read as an i64, else an
 * f64, else a string) and a list. "describe" and "items_types" show what
 * arrived. */
#include <stdio.h>

#include <hamr.h>

static int describe(hamr_call *c)
{
	char any[64], line[256];
	hamr_value_format(hamr_arg(c, 4), any, sizeof any);
	snprintf(line, sizeof line, "%lld %g %s %s %s:%s",
	         (long long)hamr_arg_i64(c, 0), hamr_arg_f64(c, 1),
	         hamr_arg_bool(c, 2) ? "yes" : "no", hamr_arg_str(c, 3),
	         hamr_type_name(hamr_arg(c, 4)->type), any);
	return hamr_ret_str(c, line);
}

/* The list input: its element type and length, then each item's type and
 * value, e.g. `f64[2] f64:1 f64:2.5`. */
static int items_types(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	char line[1024];
	size_t k = (size_t)snprintf(line, sizeof line, "%s[%zu]", hamr_type_name(l.elem), l.len);
	for (size_t i = 0; i < l.len && k < sizeof line; i++) {
		char item[128];
		hamr_value v = hamr_list_get(l, i);
		hamr_value_format(&v, item, sizeof item);
		k += (size_t)snprintf(line + k, sizeof line - k, " %s:%s",
		                      hamr_type_name(v.type), item);
	}
	return hamr_ret_str(c, line);
}

static const hamr_dep all_inputs[] = {
	{.name = "count", .type = HAMR_I64}, {.name = "scale", .type = HAMR_F64},
	{.name = "loud", .type = HAMR_BOOL}, {.name = "label", .type = HAMR_STR},
	{.name = "anything"}, {0}};

static const hamr_node_def nodes[] = {
	{.name = "count", .kind = HAMR_NODE_INPUT, .type = HAMR_I64},
	{.name = "scale", .kind = HAMR_NODE_INPUT, .type = HAMR_F64},
	{.name = "loud", .kind = HAMR_NODE_INPUT, .type = HAMR_BOOL},
	{.name = "label", .kind = HAMR_NODE_INPUT, .type = HAMR_STR},
	{.name = "anything", .kind = HAMR_NODE_INPUT},
	{.name = "describe", .fn = describe, .type = HAMR_STR, .deps = all_inputs},
	{.name = "items", .kind = HAMR_NODE_INPUT, .type = HAMR_LIST},
	{.name = "items_types", .fn = items_types, .type = HAMR_STR,
	 .deps = (const hamr_dep[]){HAMR_DEP("items", HAMR_LIST), HAMR_DEPS_END}},
	{0}};

static const hamr_module mod = {"hr_inputs", nodes};

HAMR_MODULE_EXPORT(mod)
