// SPDX-License-Identifier: MIT
/* A module with a misspelt dependency: "report" reads "totl", and only
 * "total" exists. hamr-run must refuse to build it (exit 2), name both
 * nodes and suggest "total". */
#include <hamr.h>

static int total(hamr_call *c)
{
	return hamr_ret_i64(c, 42);
}

static int report(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static const hamr_dep on_totl[] = {{.name = "totl", .type = HAMR_I64}, {0}};

static const hamr_node_def nodes[] = {
	{.name = "total", .fn = total, .type = HAMR_I64},
	{.name = "report", .fn = report, .type = HAMR_I64, .deps = on_totl},
	{0}};

static const hamr_module mod = {"hr_unknown_dep", nodes};

HAMR_MODULE_EXPORT(mod)
