// SPDX-License-Identifier: MIT
/* Map blocks, on both executors: a parallelizable node emits items, its
 * block runs once per item, collects receive lists in item order.
 * Nested blocks, several collects of one block, collecting the items
 * themselves, values broadcast into a block, outputs inside a block, a
 * failing item, and values released at the end of each item. */
#include <hamr.h>
#include <stdatomic.h>

#include "tests/check.h"
#include "tests/each_executor.h"
#include "tests/fixture.h"

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END})

static int f_items(hamr_call *c) /* 0 .. n-1 */
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++)
		if (hamr_emit_i64(c, i))
			return HAMR_EFAIL;
	return 0;
}

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x);
}

static int f_plus_shared(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + hamr_arg_i64(c, 1));
}

static int f_sum_list(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += hamr_list_i64(l, i);
	return hamr_ret_i64(c, s);
}

/* the list as a number: digits in item order, so order is checked */
static int f_digits(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s = s * 10 + hamr_list_i64(l, i) % 10;
	return hamr_ret_i64(c, s);
}

static int f_ten_times(hamr_call *c)
{
	return hamr_ret_i64(c, 10 * hamr_arg_i64(c, 0));
}


/* Plans `outs` of `defs` with input n, runs them on the current
 * executor (g_opts) and checks the plan and the run's result code. */
static fixture run(const hamr_node_def *defs, const char *const *outs,
                   size_t n_outs, int64_t n, int expect)
{
	fixture f = run_with(defs, outs, n_outs, n, g_opts);
	CHECK_OK(f.plan_rc);
	if (f.p)
		CHECK_RC(f.run_rc, expect);
	return f;
}

#define INPUT_N {.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT}
#define ITEMS(nm, from) {.name = nm, .fn = f_items, .type = HAMR_I64, \
	.kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP(from, HAMR_I64))}

static void test_map_reduce_in_item_order(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		ITEMS("items", "n"),
		{.name = "square", .fn = f_square, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
		{.name = "order", .fn = f_digits, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
		{.name = "ids", .fn = f_digits, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("items", HAMR_I64))},
		{0}};
	const char *outs[] = {"total", "order", "ids", "square"};
	fixture f = run(defs, outs, 4, 6, 0);
	CHECK_EQ_INT(i64(&f, "total"), 0 + 1 + 4 + 9 + 16 + 25);
	CHECK_EQ_INT(i64(&f, "order"), 14965);   /* 0,1,4,9,6,5: last digits */
	CHECK_EQ_INT(i64(&f, "ids"), 12345);     /* the items themselves */
	/* a block node requested as an output is its list */
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "square"));
	CHECK_EQ_INT(l.len, 6);
	CHECK_EQ_INT(hamr_list_i64(l, 5), 25);
	done(&f);
	/* no items: collects see empty lists */
	f = run(defs, outs, 3, 0, 0);
	CHECK_EQ_INT(i64(&f, "total"), 0);
	CHECK_EQ_INT(i64(&f, "ids"), 0);
	done(&f);
}

static void test_broadcast_and_nested_blocks(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "shared", .fn = f_ten_times, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		ITEMS("rows", "n"),
		ITEMS("cells", "rows"),            /* row r has cells 0 .. r-1 */
		{.name = "cell", .fn = f_plus_shared, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("cells", HAMR_I64), HAMR_DEP("shared", HAMR_I64))},
		{.name = "row_sum", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("cell", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("row_sum", HAMR_I64))},
		{0}};
	const char *outs[] = {"total", "row_sum"};
	int64_t n = 5, want = 0;
	for (int64_t r = 0; r < n; r++)
		for (int64_t c = 0; c < r; c++)
			want += c + 10 * n;
	fixture f = run(defs, outs, 2, n, 0);
	CHECK_EQ_INT(i64(&f, "total"), want);
	hamr_list rows = hamr_value_list(hamr_run_result(f.r, "row_sum"));
	CHECK_EQ_INT(rows.len, 5);
	CHECK_EQ_INT(hamr_list_i64(rows, 3), 0 + 1 + 2 + 3 * 50);
	done(&f);
}

static int f_fail_on_three(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x == 3)
		return hamr_fail(c, "three is bad");
	return hamr_ret_i64(c, x);
}

static void test_failing_item_names_node_and_item(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "before", .fn = f_ten_times, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		ITEMS("items", "n"),
		{.name = "check", .fn = f_fail_on_three, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("before", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("check", HAMR_I64))},
		{0}};
	const char *outs[] = {"total", "before"};
	fixture f = run(defs, outs, 2, 6, HAMR_EFAIL);
	CHECK_CONTAINS(hamr_errmsg(), "node \"check\" failed on item 3: three is bad");
	const hamr_error_info *e = hamr_run_error(f.r);
	CHECK_EQ_STR(e->node, "check");
	CHECK_EQ_INT(e->item, 3);
	CHECK_EQ_INT(i64(&f, "before"), 60); /* computed before: kept */
	CHECK(hamr_run_result(f.r, "total") == NULL);
	done(&f);
	/* a block node requested as an output gives no half-filled list */
	const char *o2[] = {"check", "before"};
	f = run(defs, o2, 2, 6, HAMR_EFAIL);
	CHECK(hamr_run_result(f.r, "check") == NULL);
	done(&f);
}

static atomic_int live_objects, peak_live;

static void free_obj(void *o)
{
	atomic_fetch_sub(&live_objects, 1);
	free(o);
}

static const hamr_type_desc obj_type = {.name = "test.block_obj",
                                        .size = sizeof(int64_t), .free = free_obj};

static int f_make_obj(hamr_call *c)
{
	int64_t *o = malloc(sizeof *o);
	*o = hamr_arg_i64(c, 0);
	int now = atomic_fetch_add(&live_objects, 1) + 1, peak = atomic_load(&peak_live);
	while (now > peak && !atomic_compare_exchange_weak(&peak_live, &peak, now))
		;
	return hamr_ret_user(c, o);
}

static int f_read_obj(hamr_call *c)
{
	return hamr_ret_i64(c, *(const int64_t *)hamr_arg_user(c, 0));
}

static void test_item_values_do_not_outlive_their_item(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		ITEMS("items", "n"),
		{.name = "obj", .fn = f_make_obj, .type = &obj_type,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "val", .fn = f_read_obj, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("obj", &obj_type))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("val", HAMR_I64))},
		{0}};
	const char *outs[] = {"total"};
	atomic_store(&live_objects, 0);
	atomic_store(&peak_live, 0);
	fixture f = run(defs, outs, 1, 100, 0);
	CHECK_EQ_INT(i64(&f, "total"), 99 * 100 / 2);
	/* each item's object is gone before the next item of its worker
	 * starts: at most one per worker at once (one, sequentially) */
	int workers = g_opts->executor == HAMR_EXEC_SEQUENTIAL ? 1 : 3;
	CHECK(atomic_load(&peak_live) >= 1 && atomic_load(&peak_live) <= workers);
	CHECK_EQ_INT(atomic_load(&live_objects), 0);
	done(&f);
}

static int f_returns_list(hamr_call *c)
{
	hamr_value l;
	int rc = hamr_value_make_list(&l, HAMR_STR, 3);
	if (!rc) rc = hamr_list_append_str(&l, "a");
	if (!rc) rc = hamr_list_append_str(&l, "bb");
	if (!rc) rc = hamr_list_append_str(&l, "ccc");
	return rc ? rc : hamr_ret_value(c, &l);
}

static int f_len(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)strlen(hamr_arg_str(c, 0)));
}

static int f_emit_wrong(hamr_call *c)
{
	return hamr_emit_str(c, "not a number");
}

static int f_emit_outside(hamr_call *c)
{
	int rc = hamr_emit_i64(c, 1);
	return rc ? rc : hamr_ret_i64(c, 0);
}

static void test_returned_list_and_wrong_emits(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "words", .fn = f_returns_list, .type = HAMR_STR,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "len", .fn = f_len, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("words", HAMR_STR))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("len", HAMR_I64))},
		{.name = "bad", .fn = f_emit_wrong, .type = HAMR_I64,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "bad_sum", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("bad", HAMR_I64))},
		{.name = "plain", .fn = f_emit_outside, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{0}};
	const char *o1[] = {"total"};
	fixture f = run(defs, o1, 1, 1, 0);
	CHECK_EQ_INT(i64(&f, "total"), 6);
	done(&f);
	const char *o2[] = {"bad_sum"};
	f = run(defs, o2, 1, 1, HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(), "emitted str, but its items are declared i64");
	done(&f);
	const char *o3[] = {"plain"};
	f = run(defs, o3, 1, 1, HAMR_ESTATE);
	CHECK_CONTAINS(hamr_errmsg(), "emits items, but is not a parallelizable node");
	done(&f);
}


static void test_values_given_inside_blocks_are_refused(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		ITEMS("items", "n"),
		{.name = "square", .fn = f_square, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
		{0}};
	hamr_module m = {"given", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *out = "total";
	const char *names[] = {"square", "items"};
	const char *msgs[] = {
		"cannot give a value for \"square\": it is inside a map block (collected by \"total\")",
		"cannot give a value for \"items\": \"square\" runs in its map block"};
	for (int i = 0; i < 2; i++) {
		hamr_values *in = NULL;
		CHECK_OK(hamr_values_create(&in));
		CHECK_OK(hamr_values_set_i64(in, "n", 3));
		CHECK_OK(hamr_values_set_i64(in, names[i], 5));
		hamr_plan *p = NULL;
		CHECK_RC(hamr_plan_create(&p, g, &out, 1, in), HAMR_EBLOCK);
		CHECK_CONTAINS(hamr_errmsg(), msgs[i]);
		hamr_values_destroy(in);
	}
	/* a value for the collect itself is an ordinary override */
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "total", 42));
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, in));
	CHECK_EQ_INT(hamr_plan_node_count(p), 0);
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
}

static void run_all(void)
{
	RUN_TEST(test_map_reduce_in_item_order);
	RUN_TEST(test_broadcast_and_nested_blocks);
	RUN_TEST(test_failing_item_names_node_and_item);
	RUN_TEST(test_item_values_do_not_outlive_their_item);
	RUN_TEST(test_returned_list_and_wrong_emits);
	RUN_TEST(test_values_given_inside_blocks_are_refused);
}

int main(void)
{
	on_each_executor(run_all, 3);
	TEST_EXIT();
}
