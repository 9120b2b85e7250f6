// SPDX-License-Identifier: MIT
/* Apache Hamilton's "hello world" written with hamr/node.h: a parameter's name is the node
 * or input it reads, and the module needs no table. Then a map block: numbers emits 1..1000,
 * squared runs once per item, total sums the squares. Run build/tools/hamr-hello-macro. */
#include <math.h>
#include <stdio.h>

#include <hamr.h>

HAMR_MODULE(hello)

HAMR_INPUT(hamr_list, spend)
HAMR_INPUT(hamr_list, signups)

static double num(hamr_list l, size_t k) { return hamr_list_num(l, k); } /* i64 or f64 */

/* The list of f(a, b, k, x) for each k of a; an empty value when out of
 * memory, which fails the node that returns it. */
static hamr_value map(double (*f)(hamr_list, hamr_list, size_t, double), hamr_list a,
                      hamr_list b, double x)
{
	hamr_value out; double *y;
	if (!hamr_value_alloc_list(&out, HAMR_F64, a.len, (void **)&y))
		for (size_t k = 0; k < a.len; k++) y[k] = f(a, b, k, x);
	return out;
}
static double mean3(hamr_list a, hamr_list b, size_t k, double x) /* NaN before week 3 */
{ return k < 2 ? NAN : (num(a, k - 2) + num(a, k - 1) + num(a, k)) / 3; }
static double ratio(hamr_list a, hamr_list b, size_t k, double x) { return num(a, k) / num(b, k); }
static double minus(hamr_list a, hamr_list b, size_t k, double x) { return num(a, k) - x; }
static double over(hamr_list a, hamr_list b, size_t k, double x) { return num(a, k) / x; }

HAMR_NODE(hamr_value, avg_3wk_spend, (hamr_list, spend)) { return map(mean3, spend, spend, 0); }

HAMR_NODE(hamr_value, spend_per_signup, (hamr_list, spend), (hamr_list, signups))
{
	if (spend.len != signups.len)
		return HAMR_FAIL("%zu weeks of spend, %zu of signups", spend.len, signups.len);
	return map(ratio, spend, signups, 0);
}

HAMR_NODE(double, spend_mean, (hamr_list, spend))
{
	double sum = 0;
	for (size_t k = 0; k < spend.len; k++) sum += num(spend, k);
	return spend.len ? sum / (double)spend.len : HAMR_FAIL("no spend");
}

HAMR_NODE(hamr_value, spend_zero_mean, (hamr_list, spend), (double, spend_mean))
{ return map(minus, spend, spend, spend_mean); }

HAMR_NODE(double, spend_std_dev, (hamr_list, spend_zero_mean)) /* of a sample */
{
	double ss = 0;
	for (size_t k = 0; k < spend_zero_mean.len; k++) ss += pow(num(spend_zero_mean, k), 2);
	return sqrt(ss / (double)(spend_zero_mean.len - 1));
}

HAMR_NODE(hamr_value, spend_zero_mean_unit_variance, (hamr_list, spend_zero_mean),
          (double, spend_std_dev))
{ return map(over, spend_zero_mean, spend_zero_mean, spend_std_dev); }

HAMR_NODE_RC(numbers, (.kind = HAMR_NODE_PARALLELIZABLE, .type = HAMR_I64))
{ /* each item emitted, 1 .. 1000, runs squared */
	return hamr_emit_range(call, 1, 1001);
}

HAMR_NODE(int64_t, squared, (int64_t, numbers)) { return numbers * numbers; }

HAMR_NODE_EX(int64_t, total, (.kind = HAMR_NODE_COLLECT),
             (hamr_list, squared, HAMR_COLLECTED(HAMR_I64)))
{
	int64_t sum = 0;
	for (size_t k = 0; k < squared.len; k++) sum += hamr_list_i64(squared, k);
	return sum;
}

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
	if (!rc) rc = hamr_graph_add_module(g, HAMR_MODULE_REF(hello));
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
