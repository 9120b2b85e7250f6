// SPDX-License-Identifier: MIT
/* Nodes written as C functions (hamr/node.h): the macro-form module
 * modules/nodes_macro.c, loaded as a shared object, computes what the same
 * shop written as a table computes, under each config; every result type
 * reaches the run; a body that fails with HAMR_FAIL names its node; a
 * parallelizable node emits, and a collect and a fold gather; docs, tags
 * and user data arrive; types that disagree fail the build (HAMR_ETYPE)
 * or the run.
 *
 * What the compiler refuses, each line alone (not compiled here):
 *   HAMR_NODE(int, n1) { return 1; }             result int: the static
 *                                                assertion "has no hamr type"
 *   HAMR_NODE(hamr_list, n2) { ... }             a list view is no result
 *   HAMR_NODE(int64_t, n3, (int, a)) { ... }     int parameter: no getter,
 *                                                pointer to integer
 *   HAMR_NODE(int64_t, n4, (point *, p)) { ... } a user object is read-only:
 *                                                const point *
 */
#include <string.h>

#include <hamr.h>

#include "tests/check.h"

#define MODULE HAMR_TEST_MODULE_DIR "/nodes_macro.so"

/* ---- the shop in table form ------------------------------------------------ */

static int t_units(hamr_call *c) { return hamr_ret_i64(c, 30 * hamr_arg_i64(c, 0)); }
static int t_revenue(hamr_call *c)
{
	return hamr_ret_f64(c, hamr_arg_f64(c, 0) * (double)hamr_arg_i64(c, 1));
}
static int t_tax_eu(hamr_call *c) { return hamr_ret_f64(c, hamr_arg_f64(c, 0) * 0.2); }
static int t_tax_other(hamr_call *c) { return hamr_ret_f64(c, hamr_arg_f64(c, 0) * 0.1); }
static int t_margin(hamr_call *c)
{
	return hamr_ret_f64(c, (hamr_arg_f64(c, 0) - hamr_arg_f64(c, 1)) * 0.25);
}

static const hamr_tag shop_tags[] = {{"owner", "shop"}, {0}};
static const hamr_dep on_revenue[] = {HAMR_DEP("revenue", HAMR_F64), HAMR_DEPS_END};
static const hamr_node_def shop_nodes[] = {
	{.name = "price", .kind = HAMR_NODE_INPUT, .type = HAMR_F64},
	{.name = "weeks", .kind = HAMR_NODE_INPUT, .type = HAMR_I64},
	{.name = "units", .fn = t_units, .type = HAMR_I64, .tags = shop_tags,
	 .deps = (const hamr_dep[]){HAMR_DEP_OPT("weeks", HAMR_I64, HAMR_DEFAULT_I64(4)),
	                            HAMR_DEPS_END}},
	{.name = "revenue", .fn = t_revenue, .type = HAMR_F64,
	 .deps = (const hamr_dep[]){HAMR_DEP("price", HAMR_F64), HAMR_DEP("units", HAMR_I64),
	                            HAMR_DEPS_END}},
	{.name = "tax", .fn = t_tax_eu, .type = HAMR_F64, .deps = on_revenue,
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN("region", "eu"), HAMR_CONDS_END}},
	{.name = "tax", .fn = t_tax_other, .type = HAMR_F64, .deps = on_revenue,
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN_NOT("region", "eu"), HAMR_CONDS_END}},
	{.name = "margin", .fn = t_margin, .type = HAMR_F64,
	 .deps = (const hamr_dep[]){HAMR_DEP("revenue", HAMR_F64), HAMR_DEP("tax", HAMR_F64),
	                            HAMR_DEPS_END}},
	{0}};
static const hamr_module shop_table = {"shop_table", shop_nodes};

/* ---- a macro-form module whose types disagree ------------------------------ */

HAMR_MODULE(mismatch)
HAMR_NODE(double, half, (int64_t, whole, HAMR_OR(3))) { return (double)whole / 2; }
HAMR_NODE(int64_t, doubled, (int64_t, half)) { return 2 * half; }

/* ---- helpers ----------------------------------------------------------------- */

/* A graph of the macro module (loaded) or of the table, under `region`. */
static hamr_graph *make_graph(int macro, const char *region)
{
	hamr_graph *g = NULL;
	hamr_graph_opts o = {.allow_extra_config = 1};
	CHECK_OK(hamr_graph_create_with(&g, &o));
	if (macro)
		CHECK_OK(hamr_graph_load_module(g, MODULE));
	else
		CHECK_OK(hamr_graph_add_module(g, &shop_table));
	if (region)
		CHECK_OK(hamr_graph_set_config(g, "region", region));
	CHECK_OK(hamr_graph_build(g));
	return g;
}

/* Runs `outs` of g with price 2.5 (and weeks when > 0); the caller destroys
 * the run and plan. Returns the run's result code. */
static int run(hamr_graph *g, const char *const *outs, size_t n, int64_t weeks,
               hamr_plan **plan, hamr_run **r)
{
	hamr_values *given = NULL;
	CHECK_OK(hamr_values_create(&given));
	CHECK_OK(hamr_values_set_f64(given, "price", 2.5));
	if (weeks > 0)
		CHECK_OK(hamr_values_set_i64(given, "weeks", weeks));
	int rc = hamr_plan_create(plan, g, outs, n, given);
	if (!rc)
		rc = hamr_run_execute(r, *plan, given, NULL);
	hamr_values_destroy(given);
	return rc;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_macro_module_equals_table_form(void)
{
	static const char *const outs[] = {"units", "revenue", "tax", "margin"};
	static const char *const regions[] = {"eu", "us", NULL};
	for (size_t k = 0; k < 3; k++)
		for (int64_t weeks = 0; weeks <= 6; weeks += 3) {
			hamr_graph *gm = make_graph(1, regions[k]), *gt = make_graph(0, regions[k]);
			hamr_plan *pm = NULL, *pt = NULL;
			hamr_run *rm = NULL, *rt = NULL;
			CHECK_OK(run(gm, outs, 4, weeks, &pm, &rm));
			CHECK_OK(run(gt, outs, 4, weeks, &pt, &rt));
			for (size_t i = 0; i < 4; i++) {
				const hamr_value *a = hamr_run_result(rm, outs[i]);
				const hamr_value *b = hamr_run_result(rt, outs[i]);
				CHECK(a && b && hamr_value_equal(a, b));
			}
			double m = 0;
			CHECK_OK(hamr_run_result_f64(rm, "margin", &m));
			double want = (weeks ? weeks : 4) * 30 * 2.5 * (k == 0 ? 0.8 : 0.9) * 0.25;
			CHECK(m == want);
			hamr_run_destroy(rm);
			hamr_run_destroy(rt);
			hamr_plan_destroy(pm);
			hamr_plan_destroy(pt);
			hamr_graph_destroy(gm);
			hamr_graph_destroy(gt);
		}
}

static void test_every_result_type(void)
{
	static const char *const outs[] = {"profitable", "verdict", "shout", "initials",
	                                   "weekly", "weekly_sum", "corner_y", "scale",
	                                   "note", "described", "corner", "defaults"};
	hamr_graph *g = make_graph(1, "us");
	hamr_plan *p = NULL;
	hamr_run *r = NULL;
	CHECK_OK(run(g, outs, 12, 0, &p, &r));
	bool b = false;
	const char *s = NULL;
	int64_t i = 0;
	CHECK_OK(hamr_run_result_bool(r, "profitable", &b));
	CHECK(b);
	CHECK_OK(hamr_run_result_str(r, "verdict", &s));
	CHECK_EQ_STR(s, "profit");
	CHECK_OK(hamr_run_result_str(r, "shout", &s));
	CHECK_EQ_STR(s, "profit!");
	size_t len = 0;
	const void *bytes = hamr_value_bytes(hamr_run_result(r, "initials"), &len);
	CHECK(bytes && len == 2 && memcmp(bytes, "pr", 2) == 0);
	hamr_list l = hamr_value_list(hamr_run_result(r, "weekly"));
	CHECK_EQ_INT(l.len, 4);
	CHECK_EQ_INT(hamr_list_i64(l, 3), 30);
	CHECK_OK(hamr_run_result_i64(r, "weekly_sum", &i));
	CHECK_EQ_INT(i, 2000 + 120);
	CHECK_OK(hamr_run_result_i64(r, "corner_y", &i));
	CHECK_EQ_INT(i, 240);
	const hamr_value *corner = hamr_run_result(r, "corner");
	CHECK_EQ_STR(hamr_type_name(hamr_value_type(corner)), "test.point");
	CHECK_OK(hamr_run_result_i64(r, "scale", &i));
	CHECK_EQ_INT(i, 7);
	CHECK_OK(hamr_run_result_str(r, "note", &s));
	CHECK_EQ_STR(s, "no comment");
	CHECK_OK(hamr_run_result_str(r, "described", &s));
	CHECK_EQ_STR(s, "67.5");
	CHECK_OK(hamr_run_result_str(r, "defaults", &s)); /* f64, bool, str defaults */
	CHECK_EQ_STR(s, "2.5 kg!");
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_fail_names_the_node(void)
{
	static const char *const out[] = {"checked"};
	hamr_graph *g = make_graph(1, NULL);
	hamr_plan *p = NULL;
	hamr_run *r = NULL;
	CHECK_RC(run(g, out, 1, 0, &p, &r), HAMR_EFAIL);
	const hamr_error_info *e = hamr_run_error(r);
	CHECK_EQ_STR(e->node, "checked");
	CHECK_EQ_STR(e->message, "120 units is too many");
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	r = NULL;
	p = NULL;
	int64_t i = 0;
	CHECK_OK(run(g, out, 1, 3, &p, &r)); /* 90 units pass */
	CHECK_OK(hamr_run_result_i64(r, "checked", &i));
	CHECK_EQ_INT(i, 90);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_emit_collect_and_fold_on_both_executors(void)
{
	static const char *const outs[] = {"total", "folded"};
	const int64_t want = 1000 * 1001 * 2001 / 6;
	for (int threads = 0; threads < 2; threads++) {
		hamr_graph *g = make_graph(1, NULL);
		hamr_plan *p = NULL;
		hamr_run *r = NULL;
		hamr_run_opts o = {.executor = threads ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL};
		int64_t t = 0, f = 0;
		CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
		CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
		CHECK_OK(hamr_run_result_i64(r, "total", &t));
		CHECK_OK(hamr_run_result_i64(r, "folded", &f));
		CHECK_EQ_INT(t, want);
		CHECK_EQ_INT(f, want);
		hamr_run_destroy(r);
		hamr_plan_destroy(p);
		hamr_graph_destroy(g);
	}
}

static void test_docs_tags_and_kinds_arrive(void)
{
	hamr_graph *g = make_graph(1, "eu");
	hamr_node_info info;
	int i = hamr_graph_find(g, "units");
	CHECK(i >= 0);
	CHECK_OK(hamr_graph_node_info(g, (size_t)i, &info));
	CHECK_EQ_STR(info.doc, "Units sold.");
	CHECK_EQ_STR(info.module, "nodes_macro");
	CHECK_EQ_STR(hamr_graph_tag_value(g, (size_t)i, "owner"), "shop");
	i = hamr_graph_find(g, "price");
	CHECK_OK(hamr_graph_node_info(g, (size_t)i, &info));
	CHECK(info.kind == HAMR_NODE_INPUT && info.type == HAMR_F64);
	i = hamr_graph_find(g, "numbers");
	CHECK_OK(hamr_graph_node_info(g, (size_t)i, &info));
	CHECK(info.kind == HAMR_NODE_PARALLELIZABLE && info.type == HAMR_I64);
	i = hamr_graph_find(g, "tax");
	CHECK_OK(hamr_graph_node_info(g, (size_t)i, &info));
	CHECK_EQ_INT(info.n_deps, 1);
	CHECK(hamr_graph_find(g, "tax__eu") < 0);
	hamr_graph_destroy(g);
}

static void test_type_mismatch_fails_build_naming_nodes(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, HAMR_MODULE_REF(mismatch)));
	CHECK_RC(hamr_graph_build(g), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(), "doubled");
	CHECK_CONTAINS(hamr_errmsg(), "half");
	hamr_graph_destroy(g);
}

static void test_declared_type_other_than_c_type_fails_run(void)
{
	static const char *const out[] = {"liar"};
	hamr_graph *g = make_graph(1, NULL);
	hamr_plan *p = NULL;
	hamr_run *r = NULL;
	CHECK_RC(run(g, out, 1, 0, &p, &r), HAMR_ETYPE);
	CHECK_EQ_STR(hamr_run_error(r)->node, "liar");
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

int main(void)
{
	RUN_TEST(test_macro_module_equals_table_form);
	RUN_TEST(test_every_result_type);
	RUN_TEST(test_fail_names_the_node);
	RUN_TEST(test_emit_collect_and_fold_on_both_executors);
	RUN_TEST(test_docs_tags_and_kinds_arrive);
	RUN_TEST(test_type_mismatch_fails_build_naming_nodes);
	RUN_TEST(test_declared_type_other_than_c_type_fails_run);
	TEST_EXIT();
}
