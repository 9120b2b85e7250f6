// SPDX-License-Identifier: MIT
/* hello_macro.c's graph, Apache Hamilton's "hello world", in table form:
 * the same nodes as hamr_fn functions and a hamr_node_def table, and the
 * same driver, so that the two print the same lines (tests/hello.cmake
 * compares them). Run build/tools/hamr-hello-table. */
#include <math.h>
#include <stdio.h>

#include <hamr.h>

static double num(hamr_list l, size_t k) /* i64 or f64 */
{
	return hamr_list_num(l, k);
}

/* Sets the list of f(a, b, k, x) for each k of a as the node's result. */
static int ret_map(hamr_call *c, double (*f)(hamr_list, hamr_list, size_t, double),
                   hamr_list a, hamr_list b, double x)
{
	hamr_value out;
	int rc = hamr_value_make_list(&out, HAMR_F64, a.len);
	for (size_t k = 0; k < a.len && !rc; k++)
		rc = hamr_list_append_f64(&out, f(a, b, k, x));
	if (rc) {
		hamr_value_clear(&out);
		return hamr_fail(c, "out of memory");
	}
	return hamr_ret_value(c, &out);
}

static double mean3(hamr_list a, hamr_list b, size_t k, double x) /* NaN before week 3 */
{
	return k < 2 ? NAN : (num(a, k - 2) + num(a, k - 1) + num(a, k)) / 3;
}
static double ratio(hamr_list a, hamr_list b, size_t k, double x) { return num(a, k) / num(b, k); }
static double minus(hamr_list a, hamr_list b, size_t k, double x) { return num(a, k) - x; }
static double over(hamr_list a, hamr_list b, size_t k, double x) { return num(a, k) / x; }

static int avg_3wk_spend(hamr_call *c)
{
	return ret_map(c, mean3, hamr_arg_list(c, 0), hamr_arg_list(c, 0), 0);
}

static int spend_per_signup(hamr_call *c)
{
	hamr_list spend = hamr_arg_list(c, 0), signups = hamr_arg_list(c, 1);
	if (spend.len != signups.len)
		return hamr_fail(c, "%zu weeks of spend, %zu of signups", spend.len, signups.len);
	return ret_map(c, ratio, spend, signups, 0);
}

static int spend_mean(hamr_call *c)
{
	hamr_list spend = hamr_arg_list(c, 0);
	double sum = 0;
	for (size_t k = 0; k < spend.len; k++)
		sum += num(spend, k);
	return spend.len ? hamr_ret_f64(c, sum / (double)spend.len) : hamr_fail(c, "no spend");
}

static int spend_zero_mean(hamr_call *c)
{
	hamr_list spend = hamr_arg_list(c, 0);
	return ret_map(c, minus, spend, spend, hamr_arg_f64(c, 1));
}

static int spend_std_dev(hamr_call *c) /* of a sample */
{
	hamr_list zm = hamr_arg_list(c, 0);
	double ss = 0;
	for (size_t k = 0; k < zm.len; k++)
		ss += pow(num(zm, k), 2);
	return hamr_ret_f64(c, sqrt(ss / (double)(zm.len - 1)));
}

static int spend_zero_mean_unit_variance(hamr_call *c)
{
	hamr_list zm = hamr_arg_list(c, 0);
	return ret_map(c, over, zm, zm, hamr_arg_f64(c, 1));
}

static int numbers(hamr_call *c) /* 1 .. 1000 */
{
	return hamr_emit_range(c, 1, 1001);
}

static int squared(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) * hamr_arg_i64(c, 0));
}

static int total(hamr_call *c)
{
	hamr_list sq = hamr_arg_list(c, 0);
	int64_t sum = 0;
	for (size_t k = 0; k < sq.len; k++)
		sum += hamr_list_i64(sq, k);
	return hamr_ret_i64(c, sum);
}

#define DEPS(...) (const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END}
static const hamr_node_def nodes[] = {
	{.name = "spend", .kind = HAMR_NODE_INPUT, .type = HAMR_LIST},
	{.name = "signups", .kind = HAMR_NODE_INPUT, .type = HAMR_LIST},
	{.name = "avg_3wk_spend", .fn = avg_3wk_spend,
	 .deps = DEPS(HAMR_DEP("spend", HAMR_LIST))},
	{.name = "spend_per_signup", .fn = spend_per_signup,
	 .deps = DEPS(HAMR_DEP("spend", HAMR_LIST), HAMR_DEP("signups", HAMR_LIST))},
	{.name = "spend_mean", .fn = spend_mean, .type = HAMR_F64,
	 .deps = DEPS(HAMR_DEP("spend", HAMR_LIST))},
	{.name = "spend_zero_mean", .fn = spend_zero_mean,
	 .deps = DEPS(HAMR_DEP("spend", HAMR_LIST), HAMR_DEP("spend_mean", HAMR_F64))},
	{.name = "spend_std_dev", .fn = spend_std_dev, .type = HAMR_F64,
	 .deps = DEPS(HAMR_DEP("spend_zero_mean", HAMR_LIST))},
	{.name = "spend_zero_mean_unit_variance", .fn = spend_zero_mean_unit_variance,
	 .deps = DEPS(HAMR_DEP("spend_zero_mean", HAMR_LIST), HAMR_DEP("spend_std_dev", HAMR_F64))},
	{.name = "numbers", .fn = numbers, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE},
	{.name = "squared", .fn = squared, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("numbers", HAMR_I64))},
	{.name = "total", .fn = total, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("squared", HAMR_I64))},
	{0}};
static const hamr_module hello = {"hello", nodes};

int main(void)
{
	static const double spend[] = {10, 10, 20, 40, 40, 50}, signups[] = {1, 10, 50, 100, 200, 400};
	const char *outs[] = {"avg_3wk_spend", "spend_per_signup", "spend_mean", "spend_std_dev",
	                      "spend_zero_mean_unit_variance", "total"};
	hamr_graph *g = NULL; hamr_values *given = NULL; hamr_plan *plan = NULL; hamr_run *run = NULL;
	hamr_value sp = HAMR_VALUE_EMPTY, su = HAMR_VALUE_EMPTY; char buf[512];
	int rc = hamr_value_make_list_f64(&sp, spend, 6);
	if (!rc) rc = hamr_value_make_list_f64(&su, signups, 6);
	if (!rc) rc = hamr_graph_create(&g);
	if (!rc) rc = hamr_graph_add_module(g, &hello);
	if (!rc) rc = hamr_values_create(&given);
	if (!rc) rc = hamr_values_set(given, "spend", &sp);
	if (!rc) rc = hamr_values_set(given, "signups", &su);
	if (!rc) rc = hamr_plan_create(&plan, g, outs, 6, given);
	if (!rc) rc = hamr_run_execute(&run, plan, given, NULL);
	for (size_t i = 0; i < 6 && !rc; i++) {
		hamr_value_format(hamr_run_result(run, outs[i]), buf, sizeof buf);
		printf("%s = %s\n", outs[i], buf);
	}
	if (rc) fprintf(stderr, "hello: %s (%s)\n", hamr_errmsg(), hamr_err_name(rc));
	hamr_value_clear(&sp); hamr_value_clear(&su);
	hamr_run_destroy(run); hamr_plan_destroy(plan); hamr_values_destroy(given); hamr_graph_destroy(g);
	return rc ? 1 : 0;
}
