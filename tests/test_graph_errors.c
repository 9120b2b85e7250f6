// SPDX-License-Identifier: MIT
/* Validation: one test per error a graph or plan can have, each checking
 * the code and that the message names the nodes involved. */
#include <hamr.h>

#include "tests/check.h"

static int f_one(hamr_call *c) { return hamr_ret_i64(c, 1); }

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, {0}})

/* Builds a graph from `defs` and returns the build's result; the message is
 * in hamr_errmsg(). */
static int build(const hamr_node_def *defs, const char *cfg_key,
                 const char *cfg_val)
{
	hamr_graph *g = NULL;
	hamr_module m = {"test", defs};
	CHECK_OK(hamr_graph_create(&g));
	if (cfg_key)
		CHECK_OK(hamr_graph_set_config(g, cfg_key, cfg_val));
	int rc = hamr_graph_add_module(g, &m);
	if (!rc)
		rc = hamr_graph_build(g);
	hamr_graph_destroy(g);
	return rc;
}

static void test_unknown_dependency_with_hint(void)
{
	hamr_node_def defs[] = {
		{.name = "revenue", .fn = f_one, .type = HAMR_I64},
		{.name = "profit", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("revenu", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EDEP);
	CHECK_CONTAINS(hamr_errmsg(), "node \"profit\" depends on unknown \"revenu\"");
	CHECK_CONTAINS(hamr_errmsg(), "did you mean \"revenue\"?");
}

static void test_unknown_dependency_without_near_name(void)
{
	hamr_node_def defs[] = {
		{.name = "a", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("completely_different", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EDEP);
	CHECK_CONTAINS(hamr_errmsg(), "\"completely_different\"");
	CHECK(strstr(hamr_errmsg(), "did you mean") == NULL);
}

static void test_optional_unknown_dependency_is_not_an_error(void)
{
	hamr_node_def defs[] = {
		{.name = "a", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP_OPT("nowhere", HAMR_I64, HAMR_NO_DEFAULT))},
		{0}};
	CHECK_OK(build(defs, NULL, NULL));
}

static void test_duplicate_name(void)
{
	hamr_node_def defs[] = {
		{.name = "x", .fn = f_one, .type = HAMR_I64},
		{.name = "x", .fn = f_one, .type = HAMR_I64},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EDUP);
	CHECK_CONTAINS(hamr_errmsg(), "duplicate node \"x\"");
}

static void test_duplicate_across_modules(void)
{
	hamr_node_def d1[] = {{.name = "shared", .fn = f_one, .type = HAMR_I64}, {0}};
	hamr_node_def d2[] = {{.name = "shared", .fn = f_one, .type = HAMR_I64}, {0}};
	hamr_module m1 = {"first", d1}, m2 = {"second", d2};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m1));
	CHECK_OK(hamr_graph_add_module(g, &m2));
	CHECK_RC(hamr_graph_build(g), HAMR_EDUP);
	CHECK_CONTAINS(hamr_errmsg(), "module \"first\" and in module \"second\"");
	/* the build's error is kept */
	CHECK_RC(hamr_graph_build(g), HAMR_EDUP);
	CHECK_CONTAINS(hamr_errmsg(), "duplicate node \"shared\"");
	CHECK_EQ_INT(hamr_graph_node_count(g), 0);
	hamr_graph_destroy(g);
}

static void test_node_and_input_with_one_name(void)
{
	hamr_node_def defs[] = {
		{.name = "x", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "x", .fn = f_one, .type = HAMR_I64},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EDUP);
	CHECK_CONTAINS(hamr_errmsg(), "duplicate name \"x\"");
}

static void test_cycle_prints_its_path(void)
{
	hamr_node_def defs[] = {
		{.name = "start", .fn = f_one, .type = HAMR_I64},
		{.name = "a", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("start", HAMR_I64), HAMR_DEP("c", HAMR_I64))},
		{.name = "b", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("a", HAMR_I64))},
		{.name = "c", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("b", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_ECYCLE);
	CHECK_CONTAINS(hamr_errmsg(),
	               "dependency cycle: \"a\" needs \"c\" needs \"b\" needs \"a\"");
}

static void test_self_cycle(void)
{
	hamr_node_def defs[] = {
		{.name = "me", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("me", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_ECYCLE);
	CHECK_CONTAINS(hamr_errmsg(), "\"me\" needs \"me\"");
}

static void test_type_mismatch_names_both_ends(void)
{
	hamr_node_def defs[] = {
		{.name = "price", .fn = f_one, .type = HAMR_F64},
		{.name = "total", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("price", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(),
	               "node \"total\" expects \"price\" to be i64, but node \"price\" is f64");
}

static void test_any_type_matches_everything(void)
{
	hamr_node_def defs[] = {
		{.name = "price", .fn = f_one, .type = HAMR_F64},
		{.name = "total", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("price", HAMR_ANY))},
		{.name = "untyped", .fn = f_one},
		{.name = "reader", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("untyped", HAMR_STR))},
		{0}};
	CHECK_OK(build(defs, NULL, NULL));
}

static void test_default_of_wrong_type(void)
{
	hamr_node_def defs[] = {
		{.name = "rate", .type = HAMR_F64, .kind = HAMR_NODE_INPUT},
		{.name = "use", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP_OPT("rate", HAMR_ANY, HAMR_DEFAULT_I64(3)))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(), "the default of \"rate\" is i64, but input \"rate\" is f64");
}

static void test_missing_external_input(void)
{
	hamr_node_def defs[] = {
		{.name = "path", .type = HAMR_STR, .kind = HAMR_NODE_INPUT},
		{.name = "rows", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "load", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("path", HAMR_STR), HAMR_DEP("rows", HAMR_I64))},
		{0}};
	hamr_module m = {"test", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"load"};
	hamr_plan *p = NULL;
	CHECK_RC(hamr_plan_create(&p, g, outs, 1, NULL), HAMR_EINPUT);
	CHECK_CONTAINS(hamr_errmsg(),
	               "missing external input \"path\" (needed by \"load\"), \"rows\" (needed by \"load\")");
	CHECK(p == NULL);
	hamr_graph_destroy(g);
}

/* The plan's message for outs of defs (n nodes, in dependency order)
 * given `given`, built in that order (readers_first 0) or reversed:
 * plan_create's code, the message copied to msg. */
static int plan_error(const hamr_node_def *defs, int n, int readers_first, const char **outs,
                      size_t n_outs, const hamr_values *given, char *msg, size_t cap)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	for (int i = 0; i < n; i++)
		CHECK_OK(hamr_graph_add_node(g, "test", &defs[readers_first ? n - 1 - i : i]));
	hamr_plan *p = NULL;
	int rc = hamr_plan_create(&p, g, outs, n_outs, given);
	snprintf(msg, cap, "%s", hamr_errmsg());
	CHECK(p == NULL);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
	return rc;
}

/* A graph built in dependency order is swept rather than walked (see
 * graph/plan.c): its plan errors read as a walk reports them, word for
 * word as for the same graph built readers first. */
static void test_plan_errors_in_either_order(void)
{
	hamr_node_def defs[] = {
		{.name = "a", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "b", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "x", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("b", HAMR_I64))},
		{.name = "y", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("a", HAMR_I64), HAMR_DEP("x", HAMR_I64))},
		{.name = "z", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("x", HAMR_I64), HAMR_DEP("b", HAMR_I64))},
	};
	hamr_values *none = NULL, *wrong = NULL;
	CHECK_OK(hamr_values_create(&none));
	CHECK_OK(hamr_values_create(&wrong));
	CHECK_OK(hamr_values_set_str(wrong, "x", "not a number"));
	CHECK_OK(hamr_values_set_i64(wrong, "a", 1));
	struct {
		const char *outs[3];
		size_t n;
		const hamr_values *given;
		int rc;
		const char *msg;
	} cases[] = {
		/* inputs missing, each named with its reader, in the walk's order */
		{{"z", "y"}, 2, none, HAMR_EINPUT,
		 "missing external input \"b\" (needed by \"x\"), \"b\" (needed by \"z\"), "
		 "\"a\" (needed by \"y\")"},
		/* an input requested and not given */
		{{"a"}, 1, none, HAMR_EINPUT, "missing external input \"a\" (requested)"},
		/* a value given for a node, of another type than the node's */
		{{"y"}, 1, wrong, HAMR_ETYPE, "the value given for node \"x\" is str"},
		{{"x"}, 1, wrong, HAMR_ETYPE, "the value given for node \"x\" is str"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char swept[512], walked[512];
		CHECK_RC(plan_error(defs, 5, 0, cases[k].outs, cases[k].n, cases[k].given, swept,
		                    sizeof swept),
		         cases[k].rc);
		CHECK_RC(plan_error(defs, 5, 1, cases[k].outs, cases[k].n, cases[k].given, walked,
		                    sizeof walked),
		         cases[k].rc);
		CHECK_CONTAINS(swept, cases[k].msg);
		CHECK_EQ_STR(swept, walked);
	}
	hamr_values_destroy(none);
	hamr_values_destroy(wrong);
}

static void test_bad_config_conditions(void)
{
	static const char *const none[] = {NULL};
	struct {
		hamr_cond cond[2];
		const char *msg;
	} cases[] = {
		{{{HAMR_WHEN, NULL, "x", NULL}, {0}}, "has no key"},
		{{{HAMR_WHEN, "mode", NULL, NULL}, {0}}, "when(mode) has no value"},
		{{{HAMR_WHEN_IN, "mode", NULL, none}, {0}}, "when_in(mode) has no values"},
		{{{HAMR_WHEN_NOT_IN, "mode", NULL, NULL}, {0}}, "when_not_in(mode) has no values"},
		{{{(hamr_cond_op)99, "mode", "x", NULL}, {0}}, "unknown operator 99"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hamr_node_def defs[] = {
			{.name = "cond_node", .fn = f_one, .type = HAMR_I64, .conds = cases[i].cond},
			{0}};
		CHECK_RC(build(defs, NULL, NULL), HAMR_ECONFIG);
		CHECK_CONTAINS(hamr_errmsg(), "node \"cond_node\"");
		CHECK_CONTAINS(hamr_errmsg(), cases[i].msg);
	}
}

static void test_collect_without_parallelizable(void)
{
	hamr_node_def defs[] = {
		{.name = "numbers", .fn = f_one, .type = HAMR_I64},
		{.name = "square", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("numbers", HAMR_I64))},
		{.name = "total", .fn = f_one, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_ECOLLECT);
	CHECK_CONTAINS(hamr_errmsg(),
	               "collect node \"total\" collects \"square\", which has no parallelizable node upstream");
}

static void test_collect_flag_on_plain_node(void)
{
	hamr_node_def defs[] = {
		{.name = "items", .fn = f_one, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE},
		{.name = "sum", .fn = f_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP_COLLECTED("items", HAMR_I64))},
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_ECOLLECT);
	CHECK_CONTAINS(hamr_errmsg(), "node \"sum\" collects \"items\" but is not a collect node");
}

static void test_collect_with_parallelizable_validates(void)
{
	hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "items", .fn = f_one, .type = HAMR_I64,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "square", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "total", .fn = f_one, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
		{0}};
	hamr_module m = {"blocks", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_graph_build(g));
	/* it plans; running blocks is test_blocks.c's */
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", 3));
	const char *outs[] = {"total"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	CHECK_EQ_INT(hamr_plan_node_count(p), 3);
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
}


/* Blocks: P opens a block, C collects it. */
#define PAR(nm, ...) {.name = nm, .fn = f_one, .type = HAMR_I64, \
	.kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(__VA_ARGS__)}
#define NODE(nm, ...) {.name = nm, .fn = f_one, .type = HAMR_I64, \
	.deps = DEPS(__VA_ARGS__)}
#define COLLECT(nm, ...) {.name = nm, .fn = f_one, .type = HAMR_I64, \
	.kind = HAMR_NODE_COLLECT, .deps = DEPS(__VA_ARGS__)}

static void test_node_reading_two_unrelated_blocks(void)
{
	hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		PAR("left_items", HAMR_DEP("n", HAMR_I64)),
		PAR("right_items", HAMR_DEP("n", HAMR_I64)),
		NODE("pair", HAMR_DEP("left_items", HAMR_I64), HAMR_DEP("right_items", HAMR_I64)),
		COLLECT("all", HAMR_DEP_COLLECTED("pair", HAMR_I64)),
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EBLOCK);
	CHECK_CONTAINS(hamr_errmsg(), "node \"pair\" reads \"left_items\" (in the block of \"left_items\") and \"right_items\" (in the block of \"right_items\"), two blocks that do not nest");
}

static void test_collect_with_mismatched_nesting(void)
{
	hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		PAR("items", HAMR_DEP("n", HAMR_I64)),
		NODE("work", HAMR_DEP("items", HAMR_I64)),
		NODE("other", HAMR_DEP("items", HAMR_I64)),
		COLLECT("total", HAMR_DEP_COLLECTED("work", HAMR_I64), HAMR_DEP("other", HAMR_I64)),
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EBLOCK);
	CHECK_CONTAINS(hamr_errmsg(), "collect node \"total\" collects \"work\" out of the block of \"items\", but also reads \"other\" inside it: mismatched nesting");
}

static void test_collect_of_a_collected_value(void)
{
	hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		PAR("items", HAMR_DEP("n", HAMR_I64)),
		NODE("work", HAMR_DEP("items", HAMR_I64)),
		COLLECT("total", HAMR_DEP_COLLECTED("work", HAMR_I64)),
		COLLECT("again", HAMR_DEP_COLLECTED("total", HAMR_I64)),
		{0}};
	CHECK_RC(build(defs, NULL, NULL), HAMR_EBLOCK);
	CHECK_CONTAINS(hamr_errmsg(), "collect node \"again\" collects \"total\", which is not inside a map block");
}

static void test_nested_blocks_and_many_collects_validate(void)
{
	hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		NODE("shared", HAMR_DEP("n", HAMR_I64)),          /* broadcast */
		PAR("rows", HAMR_DEP("n", HAMR_I64)),
		PAR("cells", HAMR_DEP("rows", HAMR_I64)),         /* nested */
		NODE("cell", HAMR_DEP("cells", HAMR_I64), HAMR_DEP("shared", HAMR_I64)),
		COLLECT("row_sum", HAMR_DEP_COLLECTED("cell", HAMR_I64)), /* inside rows */
		NODE("row_label", HAMR_DEP("row_sum", HAMR_I64), HAMR_DEP("rows", HAMR_I64)),
		COLLECT("total", HAMR_DEP_COLLECTED("row_sum", HAMR_I64)),
		COLLECT("labels", HAMR_DEP_COLLECTED("row_label", HAMR_I64)),
		COLLECT("row_ids", HAMR_DEP_COLLECTED("rows", HAMR_I64)),  /* the items */
		{0}};
	CHECK_OK(build(defs, NULL, NULL));
}

static void test_unknown_output_with_hint(void)
{
	hamr_node_def defs[] = {{.name = "revenue", .fn = f_one, .type = HAMR_I64}, {0}};
	hamr_module m = {"test", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"revenu"};
	hamr_plan *p = NULL;
	CHECK_RC(hamr_plan_create(&p, g, outs, 1, NULL), HAMR_ENOENT);
	CHECK_CONTAINS(hamr_errmsg(), "unknown output \"revenu\"; did you mean \"revenue\"?");
	hamr_graph_destroy(g);
}

static void test_bad_definitions(void)
{
	hamr_node_def no_fn[] = {{.name = "lazy", .type = HAMR_I64}, {0}};
	CHECK_RC(build(no_fn, NULL, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "node \"lazy\" has no function");
	hamr_node_def input_deps[] = {
		{.name = "in", .kind = HAMR_NODE_INPUT, .deps = DEPS(HAMR_DEP("x", HAMR_ANY))}, {0}};
	CHECK_RC(build(input_deps, NULL, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "input \"in\" cannot have dependencies");
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_build(g));
	CHECK_RC(hamr_graph_add_input(g, "late", HAMR_I64), HAMR_ESTATE);
	CHECK_RC(hamr_graph_set_config(g, "k", "v"), HAMR_ESTATE);
	hamr_graph_destroy(g);
}

static void test_bad_module_adds_nothing(void)
{
	hamr_node_def defs[] = {
		{.name = "fine", .fn = f_one, .type = HAMR_I64},
		{.name = "no_fn", .type = HAMR_I64},
		{0}};
	hamr_module m = {"half", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_RC(hamr_graph_add_module(g, &m), HAMR_EINVAL);
	CHECK_OK(hamr_graph_build(g));
	CHECK_EQ_INT(hamr_graph_node_count(g), 0); /* not even "fine" */
	hamr_graph_destroy(g);
}

static void test_module_load_errors(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_RC(hamr_graph_load_module(g, "/nonexistent/mod.so"), HAMR_EMODULE);
	CHECK_CONTAINS(hamr_errmsg(), "/nonexistent/mod.so");
	hamr_graph_destroy(g);
}

/* Each way a shared object can fail to be a module has its own words: no
 * entry point, an entry point that returns NULL, a module with no nodes. */
static void test_module_entry_errors_say_which(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_RC(hamr_graph_load_module(g, HAMR_TEST_MODULE_DIR "/hr_no_entry.so"), HAMR_EMODULE);
	CHECK_CONTAINS(hamr_errmsg(), "hr_no_entry.so: it has no hamr_module_entry");
	CHECK_RC(hamr_graph_load_module(g, HAMR_TEST_MODULE_DIR "/hr_null_entry.so"), HAMR_EMODULE);
	CHECK_CONTAINS(hamr_errmsg(), "hr_null_entry.so: its hamr_module_entry() returned NULL");
	CHECK(strstr(hamr_errmsg(), "has no hamr_module_entry") == NULL);
	CHECK_RC(hamr_graph_load_module(g, HAMR_TEST_MODULE_DIR "/hr_no_nodes.so"), HAMR_EMODULE);
	CHECK_CONTAINS(hamr_errmsg(), "returned module \"hr_no_nodes\", which has no node table");
	/* none of them left anything behind */
	CHECK_OK(hamr_graph_build(g));
	CHECK_EQ_INT(hamr_graph_node_count(g), 0);
	hamr_graph_destroy(g);
}

/* "scaling" is read by conditions; "mode" by a definition the config
 * removes, which still reads it. */
static const hamr_node_def scaled[] = {
	{.name = "scaled", .fn = f_one, .type = HAMR_I64,
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN("scaling", "zscore"), HAMR_CONDS_END}},
	{.name = "scaled", .fn = f_one, .type = HAMR_I64,
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN_NOT("scaling", "zscore"), HAMR_CONDS_END}},
	{.name = "debug_only", .fn = f_one, .type = HAMR_I64,
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN("mode", "debug"), HAMR_CONDS_END}},
	{0}};

/* Builds `defs` with config keys[i] = "v" under `opts`; the build's code. */
static int build_with_keys(const hamr_node_def *defs, const char *const *keys, size_t n,
                           const hamr_graph_opts *opts)
{
	hamr_graph *g = NULL;
	hamr_module m = {"scaled", defs};
	CHECK_OK(hamr_graph_create_with(&g, opts));
	for (size_t i = 0; i < n; i++)
		CHECK_OK(hamr_graph_set_config(g, keys[i], "v"));
	CHECK_OK(hamr_graph_add_module(g, &m));
	int rc = hamr_graph_build(g);
	hamr_graph_destroy(g);
	return rc;
}

static void test_config_key_no_condition_reads(void)
{
	const char *typo[] = {"scalng"}, *read[] = {"scaling", "mode"};
	const char *two[] = {"scaling", "scalng", "colour"};
	CHECK_RC(build_with_keys(scaled, typo, 1, NULL), HAMR_ECONFIG);
	CHECK_CONTAINS(hamr_errmsg(),
	               "config key \"scalng\" is read by no config condition of the graph; did you mean \"scaling\"?");
	/* keys read by some condition, kept or not, are fine */
	CHECK_OK(build_with_keys(scaled, read, 2, NULL));
	/* each unread key is named, with its hint where one is near */
	CHECK_RC(build_with_keys(scaled, two, 3, NULL), HAMR_ECONFIG);
	CHECK_CONTAINS(hamr_errmsg(),
	               "config keys read by no config condition of the graph: \"scalng\" (did you mean \"scaling\"?), \"colour\"");
	/* a graph without conditions says so */
	hamr_node_def plain[] = {{.name = "a", .fn = f_one, .type = HAMR_I64}, {0}};
	CHECK_RC(build_with_keys(plain, typo, 1, NULL), HAMR_ECONFIG);
	CHECK_CONTAINS(hamr_errmsg(),
	               "config key \"scalng\" is read by no config condition of the graph (the graph has no config conditions)");
	/* unless the graph allows extra keys; zero is the default */
	hamr_graph_opts allow = HAMR_GRAPH_OPTS_INIT, dflt = HAMR_GRAPH_OPTS_INIT;
	allow.allow_extra_config = 1;
	CHECK_OK(build_with_keys(scaled, two, 3, &allow));
	CHECK_OK(build_with_keys(plain, typo, 1, &allow));
	CHECK_RC(build_with_keys(scaled, typo, 1, &dflt), HAMR_ECONFIG);
}

/* "total" needs input "n"; "unused" is pruned from a plan for "total";
 * "fancy" is removed by the config; "a" reads "weight", an optional
 * dependency that nothing provides. */
static const hamr_node_def given_defs[] = {
	{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
	{.name = "total", .fn = f_one, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "unused", .fn = f_one, .type = HAMR_I64},
	{.name = "fancy", .fn = f_one, .type = HAMR_I64,
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN("fancy", "yes"), HAMR_CONDS_END}},
	{.name = "a", .fn = f_one, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP_OPT("weight", HAMR_I64, HAMR_DEFAULT_I64(1)))},
	{0}};

/* Plans "total" with n = 1 and each of names[] = 2; the plan's code. */
static int plan_given(const char *const *names, size_t n, const hamr_plan_opts *opts)
{
	hamr_graph *g = NULL;
	hamr_values *in = NULL;
	hamr_plan *p = NULL;
	hamr_module m = {"given", given_defs};
	const char *outs[] = {"total"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", 1));
	for (size_t i = 0; i < n; i++)
		CHECK_OK(hamr_values_set_i64(in, names[i], 2));
	int rc = opts ? hamr_plan_create_with(&p, g, outs, 1, in, opts) :
	                hamr_plan_create(&p, g, outs, 1, in);
	CHECK(rc ? p == NULL : p != NULL);
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
	return rc;
}

static void test_given_value_naming_nothing(void)
{
	const char *bogus[] = {"totl"}, *graph_names[] = {"unused", "fancy", "n"};
	const char *several[] = {"totl", "bogus_name_here", "weight"};
	CHECK_RC(plan_given(bogus, 1, NULL), HAMR_ENOENT);
	CHECK_CONTAINS(hamr_errmsg(),
	               "given value \"totl\" names no node or input of the graph; did you mean \"total\"?");
	/* pruned from the plan, removed by the config: names of the graph */
	CHECK_OK(plan_given(graph_names, 3, NULL));
	/* every unknown name is listed; an optional dependency that nothing
	 * provides is said to take its default */
	CHECK_RC(plan_given(several, 3, NULL), HAMR_ENOENT);
	CHECK_CONTAINS(hamr_errmsg(),
	               "given values name no node or input of the graph: \"totl\" (did you mean \"total\"?), \"bogus_name_here\", \"weight\" (node \"a\" reads it as an optional dependency, which takes its default unless an input \"weight\" is declared)");
	/* unless the plan allows extra values; zero is the default */
	hamr_plan_opts allow = HAMR_PLAN_OPTS_INIT, dflt = HAMR_PLAN_OPTS_INIT;
	allow.allow_extra_given = 1;
	CHECK_OK(plan_given(several, 3, &allow));
	CHECK_RC(plan_given(bogus, 1, &dflt), HAMR_ENOENT);
}

int main(void)
{
	RUN_TEST(test_unknown_dependency_with_hint);
	RUN_TEST(test_unknown_dependency_without_near_name);
	RUN_TEST(test_optional_unknown_dependency_is_not_an_error);
	RUN_TEST(test_duplicate_name);
	RUN_TEST(test_duplicate_across_modules);
	RUN_TEST(test_node_and_input_with_one_name);
	RUN_TEST(test_cycle_prints_its_path);
	RUN_TEST(test_self_cycle);
	RUN_TEST(test_type_mismatch_names_both_ends);
	RUN_TEST(test_any_type_matches_everything);
	RUN_TEST(test_default_of_wrong_type);
	RUN_TEST(test_missing_external_input);
	RUN_TEST(test_bad_config_conditions);
	RUN_TEST(test_collect_without_parallelizable);
	RUN_TEST(test_collect_flag_on_plain_node);
	RUN_TEST(test_collect_with_parallelizable_validates);
	RUN_TEST(test_node_reading_two_unrelated_blocks);
	RUN_TEST(test_collect_with_mismatched_nesting);
	RUN_TEST(test_collect_of_a_collected_value);
	RUN_TEST(test_nested_blocks_and_many_collects_validate);
	RUN_TEST(test_unknown_output_with_hint);
	RUN_TEST(test_bad_definitions);
	RUN_TEST(test_bad_module_adds_nothing);
	RUN_TEST(test_module_load_errors);
	RUN_TEST(test_module_entry_errors_say_which);
	RUN_TEST(test_config_key_no_condition_reads);
	RUN_TEST(test_given_value_naming_nothing);
	RUN_TEST(test_plan_errors_in_either_order);
	TEST_EXIT();
}
