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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* A tolerant list of 3x values: checks each against its item's index
 * and returns the list's length. */
static int f_indices_of_thirds(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	for (size_t i = 0; i < l.len; i++)
		if (hamr_list_i64(l, i) != 3 * hamr_arg_item_index(c, 0, i))
			return hamr_fail(c, "value %zu is not its item's", i);
	return hamr_ret_i64(c, (int64_t)l.len);
}

static int f_thrice(hamr_call *c)
{
	return hamr_ret_i64(c, 3 * hamr_arg_i64(c, 0));
}

/* The items, and their doubles gathered three ways, under options o:
 * into a list only and by a fold only (the block's node then runs through
 * run_one's shorter loops), and into a list summed and a fold together. */
static void check_items(const hamr_run_opts *o, int64_t n, int blocking)
{
	const hamr_tag *tags = blocking ? TAGS({"blocking", "true"}) : NULL;
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_mixed_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "twice", .fn = f_twice, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64)), .tags = tags},
		{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("twice", HAMR_I64)), .fold = &fold_sum},
		{.name = "summed", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("twice", HAMR_I64))},
		{0}};
	static const char *const gathers[][4] = {
		{"twice", "items"}, {"folded"}, {"twice", "folded", "summed", "items"}};
	static const size_t n_outs[] = {2, 1, 4};
	size_t len;
	int64_t *w = want_items(n, &len), sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += 2 * w[i];
	for (int k = 0; k < 3; k++) {
		atomic_store(&emit_rc, 0);
		fixture f = run_with(defs, gathers[k], n_outs[k], n, o);
		CHECK_OK(f.plan_rc);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(atomic_load(&emit_rc), 0);
		if (!f.run_rc && k != 1) {
			check_list(hamr_value_list(hamr_run_result(f.r, "twice")), w, len, 2);
			check_list(hamr_value_list(hamr_run_result(f.r, "items")), w, len, 1);
		}
		if (!f.run_rc && k != 0)
			CHECK_EQ_INT(i64(&f, "folded"), sum);
		if (!f.run_rc && k == 2)
			CHECK_EQ_INT(i64(&f, "summed"), sum);
		done(&f);
	}
	free(w);
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
	/* a failed item stops the emit under fail fast: sequentially item
	 * 300 runs, and fails, as it is emitted, and the emit returns
	 * HAMR_ECANCELED at once; on the pool it does too unless every
	 * later item has finished before item 300 ran (a worker preempted
	 * for that long), when it returns 0 */
	o = *g_opts;
	o.max_inflight = 16;
	atomic_store(&emit_rc, 0);
	atomic_store(&ran, 0);
	f = run_with(defs, &out, 1, 100000, &o);
	CHECK_RC(f.run_rc, HAMR_EFAIL);
	CHECK_CONTAINS(hamr_errmsg(), "item three hundred");
	if (g_opts->executor == HAMR_EXEC_SEQUENTIAL) {
		CHECK_EQ_INT(atomic_load(&emit_rc), HAMR_ECANCELED);
		CHECK_EQ_INT(atomic_load(&ran), 301);
	} else {
		CHECK(atomic_load(&emit_rc) == HAMR_ECANCELED || atomic_load(&emit_rc) == 0);
	}
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

/* The bound holds while a run of items goes out, sequentially: there
 * max_inflight is 1 whatever the options say, and the most items in
 * flight as batches form (the block's stats) is 1, which a run as long as
 * a segment would pass. On the pool only the results are checked, under
 * several bounds: the statistic reads `finished` and `published` one
 * after the other there, and can count items that finished meanwhile as
 * in flight. */
static void test_the_bound_holds_within_a_call(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "many", .fn = f_many, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "twice", .fn = f_twice, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("many", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("twice", HAMR_I64))},
		{0}};
	const char *out = "total";
	static const size_t bounds[] = {1, 3, 40};
	for (size_t b = 0; b < 3; b++) {
		hamr_run_opts o = *g_opts;
		o.max_inflight = bounds[b];
		o.stats = 1;
		fixture f = run_with(defs, &out, 1, 3000, &o);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(i64(&f, "total"), 2 * (2999 * 3000 / 2));
		hamr_run_stats st;
		CHECK_OK(hamr_run_stats_get(f.r, &st));
		CHECK_EQ_INT(st.n_blocks, 1);
		if (st.n_blocks == 1) {
			CHECK_EQ_INT(st.blocks[0].items, 3000);
			if (g_opts->executor == HAMR_EXEC_SEQUENTIAL)
				CHECK_EQ_INT(st.blocks[0].max_inflight, 1);
		}
		done(&f);
	}
}

/* Item x's value, 3x: a hamr_fail it recovers from when x % 97 == 5 (the
 * value stands), a failure when x % 89 == 7. */
static int f_flaky(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x % 89 == 7)
		return hamr_fail(c, "no value for %lld", (long long)x);
	if (x % 97 == 5)
		hamr_fail(c, "a hiccup, recovered from");
	return hamr_ret_i64(c, 3 * x);
}

/* Adds, and fails on the value 3 * 1234. */
static int add_but_1234(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	if (hamr_value_i64(x) == 3 * 1234)
		return HAMR_EINVAL;
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + hamr_value_i64(x));
	return 0;
}

static const hamr_fold fold_but_1234 = {HAMR_DEFAULT_I64(0), add_but_1234, sum_step};

/* What goes wrong in a block of one node whose value only a tolerant list
 * gathers, or only a merging fold, under keep_going and fail fast, across
 * segments. Fail fast runs them through run_one's shorter loops (keep_going
 * through the general one: its calls check each input first); so do the
 * runs of test_recovered_failures_in_the_shorter_loops. */
static void test_failures_in_the_shorter_loops(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "many", .fn = f_many, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "flaky", .fn = f_flaky, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("many", HAMR_I64))},
		{.name = "kept", .fn = f_indices_of_thirds, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("flaky", HAMR_I64))},
		{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("flaky", HAMR_I64)), .fold = &fold_but_1234},
		{0}};
	const int64_t n = 2000;
	int64_t good = 0;
	for (int64_t x = 0; x < n; x++)
		if (x % 89 != 7)
			good++;
	/* keep_going: the list holds every item that did not fail, in order */
	hamr_run_opts o = *g_opts;
	o.policy = HAMR_KEEP_GOING;
	const char *kept = "kept";
	fixture f = run_with(defs, &kept, 1, n, &o);
	CHECK_RC(f.run_rc, HAMR_EFAIL);
	CHECK_EQ_INT(i64(&f, "kept"), good);
	CHECK_EQ_INT(hamr_run_error_count(f.r), (size_t)((n - 7 + 88) / 89));
	done(&f);
	/* fail fast: the first failure, named with its item (sequentially
	 * item 7; on the pool whichever failed first) */
	f = run_with(defs, &kept, 1, n, g_opts);
	CHECK_RC(f.run_rc, HAMR_EFAIL);
	CHECK_CONTAINS(hamr_errmsg(), "no value for");
	if (g_opts->executor == HAMR_EXEC_SEQUENTIAL)
		CHECK_CONTAINS(hamr_errmsg(), "item 7:");
	done(&f);
	/* the fold over failing items: they fail the run (fail fast: the
	 * first; keep_going: each, the fold skipped), items before 1234 */
	const char *folded = "folded";
	for (int k = 0; k < 2; k++) {
		o = *g_opts;
		o.policy = k ? HAMR_KEEP_GOING : HAMR_FAIL_FAST;
		int64_t m = 1000;
		f = run_with(defs, &folded, 1, m, &o);
		CHECK_RC(f.run_rc, HAMR_EFAIL); /* the failing items */
		if (k)
			CHECK_EQ_INT(hamr_run_error_count(f.r), (size_t)((m - 7 + 88) / 89));
		done(&f);
	}
	/* without failing items, the step's own failure on item 1234 */
	o = *g_opts;
	hamr_node_def sound[sizeof defs / sizeof defs[0]];
	memcpy(sound, defs, sizeof sound);
	sound[2].fn = f_thrice; /* no failure */
	f = run_with(sound, &folded, 1, n, &o);
	CHECK_RC(f.run_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "its fold step failed on item 1234");
	done(&f);
	f = run_with(sound, &folded, 1, 1234, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "folded"), 3 * (1233 * 1234 / 2));
	done(&f);
}

/* 3x, after a hamr_fail it recovers from when x % 97 == 5. */
static int f_recovering(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x % 97 == 5)
		hamr_fail(c, "a hiccup, recovered from");
	return hamr_ret_i64(c, 3 * x);
}

/* Items whose node recovers from a failure now and then, gathered only
 * into a packed list and only by a merging fold, under fail fast: the
 * shorter loops take those items' values through the slow path, and
 * every value and the sum come out as without the hiccups. */
static void test_recovered_failures_in_the_shorter_loops(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "many", .fn = f_many, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "thrice", .fn = f_recovering, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("many", HAMR_I64))},
		{.name = "listed", .fn = f_indices_of_thirds, .type = HAMR_I64,
		 .kind = HAMR_NODE_COLLECT, .deps = DEPS(HAMR_DEP_COLLECTED("thrice", HAMR_I64))},
		{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("thrice", HAMR_I64)), .fold = &fold_sum},
		{0}};
	const int64_t n = 3000;
	const char *listed = "listed", *folded = "folded";
	fixture f = run_with(defs, &listed, 1, n, g_opts);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "listed"), n); /* each value 3x its index */
	done(&f);
	f = run_with(defs, &folded, 1, n, g_opts);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "folded"), 3 * ((n - 1) * n / 2));
	done(&f);
}

static int f_extreme(hamr_call *c)
{
	int64_t n = hamr_arg_i64(c, 0);
	return keep_rc(n ? hamr_emit_range(c, INT64_MIN, INT64_MAX) :
	                   hamr_emit_range(c, INT64_MAX - 3, INT64_MAX));
}

/* Ranges at int64_t's ends: the last three values, and the widest range,
 * which the limit on items cuts off after its first items. */
static void test_ranges_at_the_ends(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "far", .fn = f_extreme, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "same", .fn = f_same, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("far", HAMR_I64))},
		{0}};
	const char *out = "same";
	atomic_store(&emit_rc, 0);
	fixture f = run_with(defs, &out, 1, 0, g_opts);
	CHECK_OK(f.run_rc);
	if (!f.run_rc) {
		hamr_list l = hamr_value_list(hamr_run_result(f.r, "same"));
		CHECK_EQ_INT(l.len, 3);
		for (size_t i = 0; i < l.len && i < 3; i++)
			CHECK(hamr_list_i64(l, i) == INT64_MAX - 3 + (int64_t)i);
	}
	done(&f);
	hamr_run_opts o = *g_opts;
	o.max_items = 600;
	atomic_store(&emit_rc, 0);
	f = run_with(defs, &out, 1, 1, &o);
	CHECK_RC(f.run_rc, HAMR_ERANGE);
	CHECK_EQ_INT(atomic_load(&emit_rc), HAMR_ERANGE);
	done(&f);
}

static void run_all(void)
{
	RUN_TEST(test_many_at_once_as_one_at_a_time);
	RUN_TEST(test_a_blocking_block);
	RUN_TEST(test_f64_items_and_wrong_emits);
	RUN_TEST(test_limits_and_failures_stop_them);
	RUN_TEST(test_the_bound_holds_within_a_call);
	RUN_TEST(test_failures_in_the_shorter_loops);
	RUN_TEST(test_recovered_failures_in_the_shorter_loops);
	RUN_TEST(test_ranges_at_the_ends);
}

int main(void)
{
	on_each_executor(run_all, 3);
	TEST_EXIT();
}
