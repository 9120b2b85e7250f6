// SPDX-License-Identifier: MIT
/* A module of external inputs, one per type that hamr-run parses from
 * `-i NAME=VALUE`: i64, f64, bool, str, and "any" (read as an i64, else an
 * f64, else a string). "describe" shows what arrived. */
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
	{0}};

static const hamr_module mod = {"hr_inputs", nodes};

HAMR_MODULE_EXPORT(mod)
