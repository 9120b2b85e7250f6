// SPDX-License-Identifier: MIT
/* A module whose graph has a cycle: "ping" needs "pong", which needs "ping".
 * hamr-run must refuse to build it (exit 2) and name both nodes. */
#include <hamr.h>

static int pass(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static int seed(hamr_call *c)
{
	return hamr_ret_i64(c, 1);
}

static const hamr_dep on_pong[] = {{.name = "pong"}, {0}};
static const hamr_dep on_ping_seed[] = {{.name = "ping"}, {.name = "seed"}, {0}};

static const hamr_node_def nodes[] = {
	{.name = "seed", .fn = seed, .type = HAMR_I64, .doc = "Not in the cycle."},
	{.name = "ping", .fn = pass, .type = HAMR_I64, .deps = on_pong},
	{.name = "pong", .fn = pass, .type = HAMR_I64, .deps = on_ping_seed},
	{0}};

static const hamr_module mod = {"hr_cycle", nodes};

HAMR_MODULE_EXPORT(mod)
