// SPDX-License-Identifier: MIT
/* Items emitted many at a time: hamr_emit_range, hamr_emit_i64s and
 * hamr_emit_f64s give the block the items, in the order, that the same
 * single emits would, across segment boundaries and the bound, on both
 * executors, under every grouping, on a blocking block (one item at a
 * time there) and into lists and folds; the wrong type, a plain node and
 * a NULL array are refused; the limit on items and a failed item stop
 * them as they stop single emits. */
#include <hamr.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tests/check.h"
#include "tests/each_executor.h"
#include "tests/fixture.h"
#include "tests/nodes.h"

/* What f_mixed_items emits for input n, in order: a range across segment
 * boundaries (256 items a segment), an array, one single item, empty
 * ranges and arrays, a range of negatives, and, when n is more than 1000,
 * a range of n more. */
#define N_ARRAY 300
static int64_t *want_items(int64_t n, size_t *len)
{
	size_t cap = 1200 + (size_t)(n > 1000 ? n : 0), k = 0;
	int64_t *w = malloc(cap * sizeof *w);
	CHECK(w != NULL);
	for (int64_t x = -3; x < 600; x++)
		w[k++] = x;
	for (int64_t i = 0; i < N_ARRAY; i++)
		w[k++] = 7 * i - 1000;
	w[k++] = 42;
	for (int64_t x = -20; x < -10; x++)
		w[k++] = x;
	for (int64_t x = 0; n > 1000 && x < n; x++)
		w[k++] = 5000 + x;
	*len = k;
	return w;
}

static atomic_int emit_rc; /* the last emit's return, when not 0 */

static int keep_rc(int rc)
{
	if (rc)
		atomic_store(&emit_rc, rc);
	return rc;
}

static int f_mixed_items(hamr_call *c)
{
	int64_t n = hamr_arg_i64(c, 0), xs[N_ARRAY];
	for (int64_t i = 0; i < N_ARRAY; i++)
		xs[i] = 7 * i - 1000;
	int rc = keep_rc(hamr_emit_range(c, -3, 600));
	if (!rc)
		rc = keep_rc(hamr_emit_i64s(c, xs, N_ARRAY));
	if (!rc)
		rc = keep_rc(hamr_emit_i64(c, 42));
	if (!rc)
		rc = keep_rc(hamr_emit_range(c, 9, 9)); /* none */
	if (!rc)
		rc = keep_rc(hamr_emit_range(c, 9, -9)); /* none */
	if (!rc)
		rc = keep_rc(hamr_emit_i64s(c, NULL, 0)); /* none */
	if (!rc)
		rc = keep_rc(hamr_emit_range(c, -20, -10));
	if (!rc && n > 1000)
		rc = keep_rc(hamr_emit_range(c, 5000, 5000 + n));
	return rc ? HAMR_EFAIL : 0;
}

/* The list's values against w, each times `times`. */
static void check_list(hamr_list l, const int64_t *w, size_t len, int64_t times)
{
	CHECK_EQ_INT(l.len, len);
	size_t bad = 0;
	for (size_t i = 0; i < l.len && i < len; i++)
		if (hamr_list_i64(l, i) != times * w[i] && !bad++)
			printf("    item %zu: %lld, expected %lld\n", i, (long long)hamr_list_i64(l, i),
			       (long long)(times * w[i]));
	CHECK_EQ_INT(bad, 0);
}

static const hamr_fold fold_sum = {HAMR_DEFAULT_I64(0), sum_step, sum_step};

/* The items, their doubles as a list, a fold and a list collect, under
 * options o. */
static void check_items(const hamr_run_opts *o, int64_t n, int blocking)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_mixed_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "twice", .fn = f_twice, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64)), .tags = blocking ? TAGS({"blocking", "true"}) : NULL},
		{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("twice", HAMR_I64)), .fold = &fold_sum},
		{.name = "summed", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("twice", HAMR_I64))},
		{0}};
	const char *outs[] = {"twice", "folded", "summed", "items"};
	atomic_store(&emit_rc, 0);
	fixture f = run_with(defs, outs, 4, n, o);
	CHECK_OK(f.plan_rc);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(atomic_load(&emit_rc), 0);
	size_t len;
	int64_t *w = want_items(n, &len), sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += 2 * w[i];
	if (!f.run_rc) {
		check_list(hamr_value_list(hamr_run_result(f.r, "twice")), w, len, 2);
		check_list(hamr_value_list(hamr_run_result(f.r, "items")), w, len, 1);
		CHECK_EQ_INT(i64(&f, "folded"), sum);
		CHECK_EQ_INT(i64(&f, "summed"), sum);
	}
	free(w);
	done(&f);
}

static void test_many_at_once_as_one_at_a_time(void)
{
	static const size_t bounds[] = {0, 1, 3, 100};
	static const hamr_grouping groupings[] = {HAMR_GROUPING_AUTO, HAMR_GROUPING_BLOCK,
	                                          HAMR_GROUPING_NODE};
	for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
		for (size_t g = 0; g < 3; g++)
			for (int grain = 0; grain <= 7; grain += 7) {
				hamr_run_opts o = *g_opts;
				o.max_inflight = bounds[b];
				o.grouping = groupings[g];
				o.grain = (size_t)grain;
				check_items(&o, 0, 0);
				/* past the default bound, 65536 */
				if (bounds[b] == 0 || bounds[b] == 100)
					check_items(&o, 70000, 0);
			}
}

static void test_a_blocking_block(void)
{
	hamr_run_opts o = *g_opts;
	check_items(&o, 0, 1);
	o.max_inflight = 2;
	check_items(&o, 2000, 1);
}

static int f_reals(hamr_call *c)
{
	double xs[3] = {0.5, -1.25, 1e300};
	int rc = hamr_emit_f64s(c, xs, 3);
	return rc ? rc : hamr_emit_f64(c, 2.0);
}

static int f_sum_f64(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	CHECK_EQ_INT(l.len, 4);
	double want[] = {0.5, -1.25, 1e300, 2.0};
	for (size_t i = 0; i < l.len && i < 4; i++)
		CHECK(hamr_list_f64(l, i) == want[i]);
	return hamr_ret_f64(c, l.len ? hamr_list_f64(l, 0) : 0);
}

static int f_wrong_range(hamr_call *c)
{
	return hamr_emit_range(c, 0, 3);
}

static int f_wrong_i64s(hamr_call *c)
{
	int64_t x = 1;
	return hamr_emit_i64s(c, &x, 1);
}

static int f_null_array(hamr_call *c)
{
	return hamr_emit_f64s(c, NULL, 3);
}

static int f_plain_range(hamr_call *c)
{
	int rc = hamr_emit_range(c, 0, 1);
	return rc ? rc : hamr_ret_i64(c, 0);
}

static int f_same(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static void test_f64_items_and_wrong_emits(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "reals", .fn = f_reals, .type = HAMR_F64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "real", .fn = f_same, .type = HAMR_F64, .deps = DEPS(HAMR_DEP("reals", HAMR_F64))},
		{.name = "first", .fn = f_sum_f64, .type = HAMR_F64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("real", HAMR_F64))},
		{.name = "bad_range", .fn = f_wrong_range, .type = HAMR_F64,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "bad_i64s", .fn = f_wrong_i64s, .type = HAMR_F64,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "null_array", .fn = f_null_array, .type = HAMR_F64,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "plain", .fn = f_plain_range, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{0}};
	const char *o1[] = {"first"};
	fixture f = run_with(defs, o1, 1, 0, g_opts);
	CHECK_OK(f.run_rc);
	double first = 0;
	CHECK_OK(hamr_run_result_f64(f.r, "first", &first));
	CHECK(first == 0.5);
	done(&f);
	static const struct {
		const char *out;
		int rc;
		const char *node, *msg;
	} bad[] = {
		{"bad_range", HAMR_ETYPE, "\"bad_range\"", "emitted i64, but its items are declared f64"},
		{"bad_i64s", HAMR_ETYPE, "\"bad_i64s\"", "emitted i64, but its items are declared f64"},
		{"null_array", HAMR_EINVAL, "\"null_array\"", "emitted 3 items from a NULL array"},
		{"plain", HAMR_ESTATE, "\"plain\"", "emits items, but is not a parallelizable node"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		f = run_with(defs, &bad[k].out, 1, 0, g_opts);
		CHECK_OK(f.plan_rc);
		CHECK_RC(f.run_rc, bad[k].rc);
		CHECK_CONTAINS(hamr_errmsg(), bad[k].node);
		CHECK_CONTAINS(hamr_errmsg(), bad[k].msg);
		done(&f);
	}
}

static int f_many(hamr_call *c) /* 0 .. n-1, in one call */
{
	return keep_rc(hamr_emit_range(c, 0, hamr_arg_i64(c, 0)));
}

static atomic_int ran; /* items of f_fail_at_300 run */

static int f_fail_at_300(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	atomic_fetch_add(&ran, 1);
	if (x == 300)
		return hamr_fail(c, "item three hundred");
	return hamr_ret_i64(c, x);
}

static void test_limits_and_failures_stop_them(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "many", .fn = f_many, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "checked", .fn = f_fail_at_300, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("many", HAMR_I64))},
		{.name = "count", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("checked", HAMR_I64))},
		{0}};
	const char *out = "count";
	/* the limit on items: the emit past it fails the node */
	hamr_run_opts o = *g_opts;
	o.max_items = 250;
	atomic_store(&emit_rc, 0);
	fixture f = run_with(defs, &out, 1, 200, &o);
	CHECK_OK(f.run_rc); /* under the limit */
	CHECK_EQ_INT(i64(&f, "count"), 199 * 200 / 2);
	done(&f);
	atomic_store(&ran, 0);
	f = run_with(defs, &out, 1, 1000, &o);
	CHECK_RC(f.run_rc, HAMR_ERANGE);
	/* no item past the limit was emitted; sequentially every item
	 * emitted ran before the emit returned */
	CHECK(atomic_load(&ran) <= 250);
	if (g_opts->executor == HAMR_EXEC_SEQUENTIAL)
		CHECK_EQ_INT(atomic_load(&ran), 250);
	CHECK_CONTAINS(hamr_errmsg(), "\"many\"");
	CHECK_CONTAINS(hamr_errmsg(), "emitted more than 250 items, the limit");
	CHECK_EQ_INT(atomic_load(&emit_rc), HAMR_ERANGE);
	done(&f);
	/* a failed item stops the emit under fail fast: with at most 16
	 * items in flight, item 300 has failed before the emit can publish
	 * item 317 */
	o = *g_opts;
	o.max_inflight = 16;
	atomic_store(&emit_rc, 0);
	f = run_with(defs, &out, 1, 100000, &o);
	CHECK_RC(f.run_rc, HAMR_EFAIL);
	CHECK_CONTAINS(hamr_errmsg(), "item three hundred");
	CHECK_EQ_INT(atomic_load(&emit_rc), HAMR_ECANCELED);
	done(&f);
	/* under keep_going every item runs, the failed one leaves a gap */
	o = *g_opts;
	o.policy = HAMR_KEEP_GOING;
	atomic_store(&emit_rc, 0);
	f = run_with(defs, &out, 1, 1000, &o);
	CHECK_RC(f.run_rc, HAMR_EFAIL);
	CHECK_EQ_INT(atomic_load(&emit_rc), 0);
	done(&f);
}

static void run_all(void)
{
	RUN_TEST(test_many_at_once_as_one_at_a_time);
	RUN_TEST(test_a_blocking_block);
	RUN_TEST(test_f64_items_and_wrong_emits);
	RUN_TEST(test_limits_and_failures_stop_them);
}

int main(void)
{
	on_each_executor(run_all, 3);
	TEST_EXIT();
}
