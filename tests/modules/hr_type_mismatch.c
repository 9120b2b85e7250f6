// SPDX-License-Identifier: MIT
/* A module whose types disagree: "label" returns a str, and "doubled"
 * declares that it reads "label" as an i64. hamr-run must refuse to build
 * it (exit 2) and name both nodes. */
#include <hamr.h>

static int label(hamr_call *c)
{
	return hamr_ret_str(c, "forty-two");
}

static int doubled(hamr_call *c)
{
	return hamr_ret_i64(c, 2 * hamr_arg_i64(c, 0));
}

static const hamr_dep on_label[] = {{.name = "label", .type = HAMR_I64}, {0}};

static const hamr_node_def nodes[] = {
	{.name = "label", .fn = label, .type = HAMR_STR},
	{.name = "doubled", .fn = doubled, .type = HAMR_I64, .deps = on_label},
	{0}};

static const hamr_module mod = {"hr_type_mismatch", nodes};

HAMR_MODULE_EXPORT(mod)
