// SPDX-License-Identifier: MIT
/* A module whose node fails at run time: "ratio" divides "numerator" (10)
 * by the input "denominator" (optional, default 0) and calls hamr_fail on
 * a zero. hamr-run must exit 1, name the node and its message, and still
 * print "numerator", computed before the failure; with -i denominator=2 it
 * succeeds. */
#include <inttypes.h>

#include <hamr.h>

static int numerator(hamr_call *c)
{
	return hamr_ret_i64(c, 10);
}

static int ratio(hamr_call *c)
{
	int64_t num = hamr_arg_i64(c, 0), den = hamr_arg_i64(c, 1);
	if (den == 0)
		return hamr_fail(c, "division by zero (%" PRId64 " / 0)", num);
	return hamr_ret_i64(c, num / den);
}

static const hamr_dep ratio_deps[] = {
	{.name = "numerator", .type = HAMR_I64},
	{.name = "denominator", .type = HAMR_I64, .flags = HAMR_DEP_OPTIONAL,
	 .dflt = HAMR_DEFAULT_I64(0)},
	{0}};

static const hamr_node_def nodes[] = {
	{.name = "denominator", .kind = HAMR_NODE_INPUT, .type = HAMR_I64},
	{.name = "numerator", .fn = numerator, .type = HAMR_I64},
	{.name = "ratio", .fn = ratio, .type = HAMR_I64, .deps = ratio_deps},
	{0}};

static const hamr_module mod = {"hr_fail", nodes};

HAMR_MODULE_EXPORT(mod)
