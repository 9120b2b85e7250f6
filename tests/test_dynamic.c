// SPDX-License-Identifier: MIT
/* Dynamic execution beyond lists: streaming items and the bound on items in
 * flight, fold collects and the memory they keep, grouping strategies, the
 * execution manager (remote executors, executor tags), concurrency groups,
 * and the error policies with tolerant collects. */
#include <hamr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "tests/nodes.h"
#include "tests/sanitizers.h"

static hamr_pool *pool2, *pool4;

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

/* The sequential executor: the reference the others are compared with,
 * and the one whose order the tests check */
static hamr_run_opts sequential(void)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_SEQUENTIAL;
	return o;
}

static hamr_run_opts threads_on(hamr_pool *p)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = p;
	return o;
}

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x);
}

/* ---- streaming ------------------------------------------------------------ */

static atomic_int seen_first;

/* Emits item 0, then waits until its block has run before emitting the
 * rest: it finishes only if items run while it emits. It waits as long as
 * that takes, however loaded the machine: without streaming it hangs, and
 * the test's ctest TIMEOUT fails it. */
static int f_items_waiting(hamr_call *c)
{
	if (hamr_emit_i64(c, 0))
		return HAMR_ECANCELED;
	while (!atomic_load(&seen_first))
		sleep_us(100);
	for (int64_t i = 1; i < hamr_arg_i64(c, 0); i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

static int f_mark(hamr_call *c)
{
	if (hamr_arg_i64(c, 0) == 0)
		atomic_store(&seen_first, 1);
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static const hamr_node_def streaming_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items_waiting, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "mark", .fn = f_mark, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("mark", HAMR_I64))},
	{0}};

static void test_items_run_while_the_node_emits(void)
{
	const char *outs[] = {"total"};
	hamr_run_opts seq = sequential(), thr = threads_on(pool2), bound1 = threads_on(pool2);
	bound1.max_inflight = 1;
	const hamr_run_opts *each[] = {&seq, &thr, &bound1};
	for (int k = 0; k < 3; k++) {
		atomic_store(&seen_first, 0);
		fixture f = run_with(streaming_defs, outs, 1, 100, each[k]);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(i64(&f, "total"), 99 * 100 / 2);
		done(&f);
	}
}

static atomic_long n_done;
static atomic_int over_bound;
static long bound_now;

static int f_items_bounded(hamr_call *c)
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++) {
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
		/* after an emit returns, fewer than the bound are unfinished */
		if (i + 1 - atomic_load(&n_done) > bound_now)
			atomic_store(&over_bound, 1);
	}
	return 0;
}

static int f_slow_count(hamr_call *c)
{
	sleep_us(50);
	atomic_fetch_add(&n_done, 1);
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static const hamr_node_def bounded_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items_bounded, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "slow", .fn = f_slow_count, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("slow", HAMR_I64))},
	{0}};

static void test_max_inflight_holds_the_producer_back(void)
{
	const char *outs[] = {"total"};
	long bounds[] = {1, 3, 16};
	for (int k = 0; k < 3; k++) {
		hamr_run_opts o = threads_on(pool4);
		o.max_inflight = (size_t)bounds[k];
		bound_now = bounds[k];
		atomic_store(&n_done, 0);
		atomic_store(&over_bound, 0);
		fixture f = run_with(bounded_defs, outs, 1, 300, &o);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(i64(&f, "total"), 299 * 300 / 2);
		CHECK_EQ_INT(atomic_load(&over_bound), 0);
		done(&f);
	}
	/* from the environment, strictly */
	hamr_run_opts o = threads_on(pool4);
	setenv("HAMR_MAX_INFLIGHT", "2", 1);
	bound_now = 2;
	atomic_store(&n_done, 0);
	atomic_store(&over_bound, 0);
	fixture f = run_with(bounded_defs, outs, 1, 200, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(atomic_load(&over_bound), 0);
	done(&f);
	setenv("HAMR_MAX_INFLIGHT", "lots", 1);
	f = run_with(bounded_defs, outs, 1, 10, &o);
	CHECK_EQ_INT(f.run_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_MAX_INFLIGHT=lots");
	done(&f);
	unsetenv("HAMR_MAX_INFLIGHT");
}

/* ---- folds ----------------------------------------------------------------- */

static int f_mean(hamr_call *c) /* the fold's sum over n */
{
	return hamr_ret_f64(c, (double)hamr_arg_i64(c, 0) / (double)hamr_arg_i64(c, 1));
}

static int concat_step(hamr_value *acc, const hamr_value *x, void *ud)
{
	char buf[64];
	const char *sep = ud;
	snprintf(buf, sizeof buf, "%s%s%lld", hamr_value_str(acc, NULL),
	         *hamr_value_str(acc, NULL) ? sep : "", (long long)hamr_value_i64(x));
	hamr_value v;
	int rc = hamr_value_make_str(&v, buf);
	if (rc)
		return rc;
	hamr_value_clear(acc);
	*acc = v;
	return 0;
}

static const hamr_fold fold_sum_merging = {HAMR_DEFAULT_I64(0), sum_step, sum_step};
static const hamr_fold fold_sum_locked = {HAMR_DEFAULT_I64(1000), sum_step, NULL};
static const hamr_fold fold_concat = {HAMR_DEFAULT_STR(""), concat_step, NULL};

static const hamr_node_def fold_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "square", .fn = f_square, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "by_list", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	/* no function: the accumulator is the result */
	{.name = "by_fold", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .fold = &fold_sum_merging, .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	{.name = "locked", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .fold = &fold_sum_locked, .deps = DEPS(HAMR_DEP_COLLECTED("items", HAMR_I64))},
	/* a function finishes the fold, with another input */
	{.name = "mean", .fn = f_mean, .type = HAMR_F64, .kind = HAMR_NODE_COLLECT,
	 .fold = &fold_sum_merging,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64), HAMR_DEP("n", HAMR_I64))},
	{.name = "concat", .type = HAMR_STR, .kind = HAMR_NODE_COLLECT, .fold = &fold_concat,
	 .userdata = ",", .deps = DEPS(HAMR_DEP_COLLECTED("items", HAMR_I64))},
	{0}};

static void test_fold_collects(void)
{
	const char *outs[] = {"by_list", "by_fold", "locked", "mean"};
	int64_t n = 1000, sq = (n - 1) * n * (2 * n - 1) / 6;
	hamr_run_opts seq = sequential(), thr = threads_on(pool4);
	const hamr_run_opts *each[] = {&seq, &thr};
	for (int k = 0; k < 2; k++) {
		fixture f = run_with(fold_defs, outs, 4, n, each[k]);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(i64(&f, "by_list"), sq);
		CHECK_EQ_INT(i64(&f, "by_fold"), sq);
		CHECK_EQ_INT(i64(&f, "locked"), 1000 + (n - 1) * n / 2);
		double mean = 0;
		CHECK_OK(hamr_run_result_f64(f.r, "mean", &mean));
		CHECK(mean == (double)sq / (double)n);
		done(&f);
	}
	/* sequentially, a fold sees the items in order */
	const char *o2[] = {"concat"};
	fixture f = run_with(fold_defs, o2, 1, 5, &seq);
	const char *s = NULL;
	CHECK_OK(hamr_run_result_str(f.r, "concat", &s));
	CHECK_EQ_STR(s, "0,1,2,3,4");
	done(&f);
	/* no items: the initial value */
	const char *o3[] = {"locked", "concat"};
	f = run_with(fold_defs, o3, 2, 0, &thr);
	CHECK_EQ_INT(i64(&f, "locked"), 1000);
	CHECK_OK(hamr_run_result_str(f.r, "concat", &s));
	CHECK_EQ_STR(s, "");
	done(&f);
}

static int f_blob(hamr_call *c) /* 200 bytes per item, on the heap */
{
	char *p = hamr_ret_alloc(c, 200);
	if (!p)
		return HAMR_ENOMEM;
	memset(p, (int)(hamr_arg_i64(c, 0) & 0x7f), 200);
	return 0;
}

static int f_count(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)hamr_arg_list(c, 0).len);
}

static int len_step(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	size_t len = 0;
	hamr_value_bytes(x, &len);
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + (int64_t)len);
	return 0;
}

static const hamr_fold fold_len = {HAMR_DEFAULT_I64(0), len_step, sum_step};

static const hamr_node_def blob_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "blob", .fn = f_blob, .type = HAMR_BYTES, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "bytes", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_len,
	 .deps = DEPS(HAMR_DEP_COLLECTED("blob", HAMR_BYTES))},
	{.name = "blobs", .fn = f_count, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("blob", HAMR_BYTES))},
	{0}};

/* The high-water mark of live value bytes while n items of 200 bytes each
 * pass through a fold. */
static size_t fold_peak(int64_t n, const hamr_run_opts *o)
{
	const char *outs[] = {"bytes"};
	hamr_value_bytes_reset_peak();
	fixture f = run_with(blob_defs, outs, 1, n, o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "bytes"), 200 * n);
	size_t peak = hamr_value_bytes_peak();
	done(&f);
	return peak;
}

static void test_fold_memory_does_not_grow_with_items(void)
{
#ifdef SANITIZED
	int64_t small = 20000, big = 200000; /* sanitizers: smaller, slower */
#else
	int64_t small = 100000, big = 10000000;
#endif
	hamr_run_opts seq = sequential(), thr = threads_on(pool2);
	thr.max_inflight = 4096;
	/* the count sees what a list keeps: every item's 200 bytes */
	const char *outs[] = {"blobs"};
	hamr_value_bytes_reset_peak();
	fixture f = run_with(blob_defs, outs, 1, small, &thr);
	CHECK_EQ_INT(i64(&f, "blobs"), small);
	CHECK(hamr_value_bytes_peak() >= (size_t)small * 200);
	done(&f);
	const hamr_run_opts *each[] = {&seq, &thr};
	for (int k = 0; k < 2; k++) {
		size_t a = fold_peak(small, each[k]), b = fold_peak(big, each[k]);
		printf("%s: live value bytes peak %zu at %lld items, %zu at %lld items\n",
		       k ? "threads" : "sequential", a, (long long)small, b, (long long)big);
		/* lists would hold 200 bytes per item; the fold holds what is
		 * in flight (plus 64 KiB per thread of counting slack) */
		CHECK(b <= 2 * a + (1u << 20));
		CHECK(b < (size_t)big * 200 / 20);
	}
}

/* ---- grouping -------------------------------------------------------------- */

static int f_plus(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + hamr_arg_i64(c, 1));
}

static int f_times3(hamr_call *c)
{
	return hamr_ret_i64(c, 3 * hamr_arg_i64(c, 0));
}

static int f_index_check(hamr_call *c) /* its own item index, seen */
{
	return hamr_ret_i64(c, hamr_item_index(c) == hamr_arg_i64(c, 0) ? 1 : 0);
}

#define DIAMOND(grouping_tags)                                                         \
	{INPUT_N,                                                                      \
	 {.name = "items", .fn = f_items, .type = HAMR_I64,                            \
	  .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64)),     \
	  .tags = grouping_tags},                                                      \
	 {.name = "a", .fn = f_square, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))}, \
	 {.name = "b", .fn = f_times3, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))}, \
	 {.name = "ab", .fn = f_plus, .type = HAMR_I64,                                \
	  .deps = DEPS(HAMR_DEP("a", HAMR_I64), HAMR_DEP("b", HAMR_I64))},            \
	 {.name = "idx", .fn = f_index_check, .type = HAMR_I64,                        \
	  .deps = DEPS(HAMR_DEP("items", HAMR_I64))},                                  \
	 {.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, \
	  .deps = DEPS(HAMR_DEP_COLLECTED("ab", HAMR_I64))},                           \
	 {.name = "seen", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, \
	  .deps = DEPS(HAMR_DEP_COLLECTED("idx", HAMR_I64))},                          \
	 {0}}

static const hamr_node_def diamond_defs[] = DIAMOND(NULL);
static const hamr_node_def diamond_tagged[] = DIAMOND(TAGS({"grouping", "node"}));
static const hamr_node_def diamond_bad[] = DIAMOND(TAGS({"grouping", "chunky"}));

static void test_grouping_strategies_agree(void)
{
	const char *outs[] = {"total", "seen", "ab"};
	int64_t n = 500, want = 0;
	for (int64_t i = 0; i < n; i++)
		want += i * i + 3 * i;
	for (int gr = HAMR_GROUPING_DEFAULT; gr <= HAMR_GROUPING_NODE; gr++) {
		hamr_run_opts o = threads_on(pool4);
		o.grouping = (hamr_grouping)gr;
		fixture f = run_with(diamond_defs, outs, 3, n, &o);
		CHECK_OK(f.plan_rc);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(i64(&f, "total"), want);
		CHECK_EQ_INT(i64(&f, "seen"), n);
		hamr_list l = hamr_value_list(hamr_run_result(f.r, "ab"));
		CHECK_EQ_INT(l.len, n);
		CHECK_EQ_INT(hamr_list_i64(l, 7), 49 + 21);
		done(&f);
	}
	hamr_run_opts o = threads_on(pool4);
	o.grain = 7; /* fixed batches */
	fixture f = run_with(diamond_tagged, outs, 3, n, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), want);
	done(&f);
	setenv("HAMR_GROUPING", "block", 1);
	f = run_with(diamond_tagged, outs, 3, n, &o); /* the variable overrides the tag */
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), want);
	done(&f);
	setenv("HAMR_GROUPING", "huge", 1);
	f = run_with(diamond_defs, outs, 3, n, &o);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_GROUPING=huge");
	done(&f);
	unsetenv("HAMR_GROUPING");
	f = run_with(diamond_bad, outs, 3, n, &o);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "\"items\"");
	CHECK_CONTAINS(hamr_errmsg(), "chunky");
	done(&f);
	hamr_grouping g = HAMR_GROUPING_DEFAULT;
	CHECK_OK(hamr_grouping_parse("node", &g));
	CHECK_EQ_INT(g, HAMR_GROUPING_NODE);
	CHECK_EQ_STR(hamr_grouping_name(HAMR_GROUPING_BLOCK), "block");
	CHECK_RC(hamr_grouping_parse("nodes", &g), HAMR_EINVAL);
}

/* ---- execution manager ----------------------------------------------------- */

static pthread_t item_thread[64];
static atomic_int item_order[64], order_next, off_pool;

static int f_where(hamr_call *c)
{
	int64_t i = hamr_arg_i64(c, 0);
	item_thread[i] = pthread_self();
	atomic_store(&item_order[i], atomic_fetch_add(&order_next, 1));
	if (hamr_worker_index() < 0)
		atomic_store(&off_pool, 1);
	return hamr_ret_i64(c, i);
}

#define WHERE(wt)                                                                    \
	{INPUT_N,                                                                      \
	 {.name = "items", .fn = f_items, .type = HAMR_I64,                            \
	  .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64)), .tags = wt}, \
	 {.name = "where", .fn = f_where, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))}, \
	 {.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, \
	  .deps = DEPS(HAMR_DEP_COLLECTED("where", HAMR_I64))},                        \
	 {0}}

static const hamr_node_def where_plain[] = WHERE(NULL);
static const hamr_node_def where_seq[] = WHERE(TAGS({"executor", "sequential"}));
static const hamr_node_def where_bad[] = WHERE(TAGS({"executor", "ray"}));

static int in_order_on_one_thread(int n)
{
	for (int i = 1; i < n; i++)
		if (!pthread_equal(item_thread[i], item_thread[0]) ||
		    atomic_load(&item_order[i]) != i)
			return 0;
	return 1;
}

static void test_execution_manager(void)
{
	const char *outs[] = {"total"};
	/* a tag makes one block's items sequential on the threads executor */
	hamr_run_opts o = threads_on(pool4);
	atomic_store(&order_next, 0);
	fixture f = run_with(where_seq, outs, 1, 64, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), 63 * 64 / 2);
	CHECK(in_order_on_one_thread(64));
	done(&f);
	/* the run's remote executor, likewise */
	o.remote = HAMR_REMOTE_SEQUENTIAL;
	atomic_store(&order_next, 0);
	f = run_with(where_plain, outs, 1, 64, &o);
	CHECK_OK(f.run_rc);
	CHECK(in_order_on_one_thread(64));
	done(&f);
	/* sequential local, threads remote: the items run on the pool */
	hamr_run_opts s = sequential();
	s.remote = HAMR_REMOTE_THREADS;
	s.pool = pool4;
	atomic_store(&off_pool, 0);
	f = run_with(where_plain, outs, 1, 64, &s);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), 63 * 64 / 2);
	CHECK_EQ_INT(atomic_load(&off_pool), 0);
	done(&f);
	f = run_with(where_bad, outs, 1, 4, &s);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "executor=\"ray\"");
	done(&f);
}

/* ---- concurrency groups ------------------------------------------------------ */

static atomic_int db_now, db_max;

static int f_db(hamr_call *c)
{
	int now = atomic_fetch_add(&db_now, 1) + 1;
	int m = atomic_load(&db_max);
	while (now > m && !atomic_compare_exchange_weak(&db_max, &m, now))
		;
	sleep_us(300);
	atomic_fetch_sub(&db_now, 1);
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

#define DB(cap)                                                                        \
	{INPUT_N,                                                                      \
	 {.name = "items", .fn = f_items, .type = HAMR_I64,                            \
	  .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},    \
	 {.name = "query", .fn = f_db, .type = HAMR_I64,                               \
	  .deps = DEPS(HAMR_DEP("items", HAMR_I64)), .tags = TAGS({"concurrency", cap})}, \
	 {.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, \
	  .deps = DEPS(HAMR_DEP_COLLECTED("query", HAMR_I64))},                        \
	 {.name = "q1", .fn = f_db, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64)), \
	  .tags = TAGS({"concurrency", cap})},                                         \
	 {.name = "q2", .fn = f_db, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64)), \
	  .tags = TAGS({"concurrency", cap})},                                         \
	 {.name = "q3", .fn = f_db, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64)), \
	  .tags = TAGS({"concurrency", cap})},                                         \
	 {0}}

static const hamr_node_def db2[] = DB("db:2");
static const hamr_node_def db1[] = DB("db:1");
static const hamr_node_def db_bad[] = DB("db");
static const hamr_node_def db_zero[] = DB("db:0");

static void test_concurrency_caps_hold(void)
{
	const char *outs[] = {"total", "q1", "q2", "q3"};
	const hamr_node_def *defs[] = {db2, db1};
	int caps[] = {2, 1};
	for (int k = 0; k < 2; k++) {
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			hamr_run_opts o = threads_on(pool4);
			o.grouping = (hamr_grouping)gr;
			atomic_store(&db_max, 0);
			fixture f = run_with(defs[k], outs, 4, 40, &o);
			CHECK_OK(f.run_rc);
			CHECK_EQ_INT(i64(&f, "total"), 39 * 40 / 2);
			CHECK(atomic_load(&db_max) >= 1);
			CHECK(atomic_load(&db_max) <= caps[k]);
			done(&f);
		}
	}
	hamr_run_opts o = threads_on(pool4);
	fixture f = run_with(db_bad, outs, 4, 4, &o);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "concurrency=\"db\"");
	CHECK_CONTAINS(hamr_errmsg(), "GROUP:N");
	done(&f);
	f = run_with(db_zero, outs, 4, 4, &o);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	done(&f);
	const hamr_node_def clash[] = {
		INPUT_N,
		{.name = "x", .fn = f_db, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64)),
		 .tags = TAGS({"concurrency", "db:2"})},
		{.name = "y", .fn = f_db, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64)),
		 .tags = TAGS({"concurrency", "db:3"})},
		{0}};
	const char *xy[] = {"x", "y"};
	f = run_with(clash, xy, 2, 1, &o);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "at 3, but another node caps it at 2");
	done(&f);
}

/* ---- error policies ---------------------------------------------------------- */

static int f_fragile(hamr_call *c) /* fails on items 3 and 7 */
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x == 3 || x == 7)
		return hamr_fail(c, "bad item %lld", (long long)x);
	return hamr_ret_i64(c, x * 10);
}

static int f_one(hamr_call *c)
{
	(void)c;
	return hamr_ret_i64(c, 1);
}

static int f_boom(hamr_call *c)
{
	return hamr_fail(c, "boom");
}

static int f_half(hamr_call *c) /* fragile's value / 20: item / 2 */
{
	return hamr_ret_f64(c, (double)hamr_arg_i64(c, 0) / 20.0);
}

static int f_even(hamr_call *c)
{
	return hamr_ret_bool(c, hamr_arg_i64(c, 0) % 20 == 0);
}

/* Tolerant lists of f64 and bool (packed lists): each value checked
 * against its item index, the indices returned as digits. */
static int f_packed_indices(hamr_call *c)
{
	hamr_list h = hamr_arg_list(c, 0), e = hamr_arg_list(c, 1);
	const double *hv = hamr_list_f64_array(h);
	const bool *ev = hamr_list_bool_array(e);
	if (h.len != e.len || !hv || !ev)
		return hamr_fail(c, "lists of %zu and %zu items, or not packed", h.len, e.len);
	int64_t s = 0;
	for (size_t i = 0; i < h.len; i++) {
		int64_t x = hamr_arg_item_index(c, 0, i);
		if (hamr_arg_item_index(c, 1, i) != x || hv[i] != (double)x / 2.0 || ev[i] != (x % 2 == 0))
			return hamr_fail(c, "value %zu is not its item's", i);
		s = s * 10 + x;
	}
	return hamr_ret_i64(c, s);
}

static const hamr_fold fold_sum_tolerant = {HAMR_DEFAULT_I64(0), sum_step, sum_step};

static const hamr_node_def policy_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "fragile", .fn = f_fragile, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "strict", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("fragile", HAMR_I64))},
	{.name = "after_strict", .fn = f_times3, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("strict", HAMR_I64))},
	{.name = "tolerant", .fn = f_indices, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("fragile", HAMR_I64))},
	{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_sum_tolerant,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("fragile", HAMR_I64))},
	{.name = "half", .fn = f_half, .type = HAMR_F64, .deps = DEPS(HAMR_DEP("fragile", HAMR_I64))},
	{.name = "even", .fn = f_even, .type = HAMR_BOOL, .deps = DEPS(HAMR_DEP("fragile", HAMR_I64))},
	{.name = "packed", .fn = f_packed_indices, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("half", HAMR_F64),
	              HAMR_DEP_COLLECTED_TOLERANT("even", HAMR_BOOL))},
	{.name = "boom", .fn = f_boom, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "after_boom", .fn = f_times3, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("boom", HAMR_I64))},
	{.name = "other", .fn = f_one, .type = HAMR_I64},
	{0}};

static void test_error_policies(void)
{
	const char *outs[] = {"strict", "after_strict", "tolerant", "folded", "after_boom", "other",
	                      "packed"};
	hamr_run_opts seq = sequential(), thr = threads_on(pool4);
	const hamr_run_opts *each[] = {&seq, &thr};
	for (int k = 0; k < 2; k++) {
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			hamr_run_opts o = *each[k];
			o.policy = HAMR_KEEP_GOING;
			o.grouping = (hamr_grouping)gr;
			fixture f = run_with(policy_defs, outs, 7, 10, &o);
			CHECK_EQ_INT(f.run_rc, HAMR_EFAIL);
			/* every failure, each with node and item */
			CHECK_EQ_INT(hamr_run_error_count(f.r), 3);
			int seen3 = 0, seen7 = 0, seen_boom = 0;
			for (size_t e = 0; e < hamr_run_error_count(f.r); e++) {
				const hamr_error_info *x = hamr_run_error_at(f.r, e);
				CHECK(x != NULL);
				if (!x)
					continue;
				if (!strcmp(x->node, "fragile")) {
					seen3 += x->item == 3 && strstr(x->message, "bad item 3") != NULL;
					seen7 += x->item == 7 && strstr(x->message, "bad item 7") != NULL;
				}
				seen_boom += !strcmp(x->node, "boom") && x->item == -1;
			}
			CHECK(seen3 == 1 && seen7 == 1 && seen_boom == 1);
			CHECK(hamr_run_error_at(f.r, 3) == NULL);
			/* the tolerant collects got the 8 good items */
			CHECK_EQ_INT(i64(&f, "tolerant"), 1245689);
			CHECK_EQ_INT(i64(&f, "folded"), 10 * (45 - 3 - 7));
			CHECK_EQ_INT(i64(&f, "packed"), 1245689);
			CHECK_EQ_INT(i64(&f, "other"), 1);
			/* what needs a failed value did not run */
			CHECK(hamr_run_result(f.r, "strict") == NULL);
			CHECK(hamr_run_result(f.r, "after_strict") == NULL);
			CHECK(hamr_run_result(f.r, "after_boom") == NULL);
			done(&f);
		}
		/* fail fast: the first failure, nothing half-made */
		const char *o2[] = {"strict", "tolerant"};
		fixture f = run_with(policy_defs, o2, 2, 10, each[k]);
		CHECK_EQ_INT(f.run_rc, HAMR_EFAIL);
		const hamr_error_info *e = hamr_run_error(f.r);
		CHECK_EQ_STR(e->node, "fragile");
		CHECK(e->item == 3 || e->item == 7);
		CHECK(hamr_run_error_count(f.r) >= 1);
		CHECK(hamr_run_result(f.r, "strict") == NULL);
		CHECK(hamr_run_result(f.r, "tolerant") == NULL);
		done(&f);
	}
}

/* ---- packed lists over many segments ------------------------------------------- */

/* Items that fail upstream, spread over the segments (256 items each). */
static int bad_item(int64_t x)
{
	return x % 97 == 3 || x % 89 == 5;
}

static int64_t items_n; /* the run's n, for the checking collects */

static int f_half_or_fail(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (bad_item(x))
		return hamr_fail(c, "bad item %lld", (long long)x);
	return hamr_ret_f64(c, (double)x / 2.0);
}

static int f_even_of(hamr_call *c) /* (half, item) */
{
	return hamr_ret_bool(c, hamr_arg_i64(c, 1) % 2 == 0);
}

static int f_square_of(hamr_call *c) /* (item, half) */
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x);
}

static int f_name_of(hamr_call *c) /* (item, half) */
{
	char b[32];
	snprintf(b, sizeof b, "i%lld", (long long)hamr_arg_i64(c, 0));
	return hamr_ret_str(c, b);
}

/* A tolerant list, checked item by item against the items that did not
 * fail: each index in order, and each value as its node computes it from
 * the index (by userdata: 'h' half, 'e' even, 's' square, 'n' name).
 * Returns how many it holds. */
static int f_check_tolerant(hamr_call *c)
{
	return check_items_list(c, items_n, bad_item, (char)(uintptr_t)hamr_userdata(c));
}

#define CHECK_LIST(name_, of, type_, what)                                            \
	{.name = name_, .fn = f_check_tolerant, .userdata = (void *)(uintptr_t)what,     \
	 .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,                                    \
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT(of, type_))}

/* A block of four nodes: packed lists (f64, bool, i64) beside a list of
 * values (str). */
static const hamr_node_def packed_many_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "half", .fn = f_half_or_fail, .type = HAMR_F64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "even", .fn = f_even_of, .type = HAMR_BOOL,
	 .deps = DEPS(HAMR_DEP("half", HAMR_F64), HAMR_DEP("items", HAMR_I64))},
	{.name = "square", .fn = f_square_of, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("half", HAMR_F64))},
	{.name = "label", .fn = f_name_of, .type = HAMR_STR,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("half", HAMR_F64))},
	CHECK_LIST("halves", "half", HAMR_F64, 'h'),
	CHECK_LIST("evens", "even", HAMR_BOOL, 'e'),
	CHECK_LIST("squares", "square", HAMR_I64, 's'),
	CHECK_LIST("labels", "label", HAMR_STR, 'n'),
	{0}};

/* A block of one node (run_one): a packed list alone. */
static const hamr_node_def packed_one_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "half", .fn = f_half_or_fail, .type = HAMR_F64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	CHECK_LIST("halves", "half", HAMR_F64, 'h'),
	{0}};

static int f_labels(hamr_call *c) /* string items: "i0" .. */
{
	char b[32];
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++) {
		snprintf(b, sizeof b, "i%lld", (long long)i);
		if (hamr_emit_str(c, b))
			return HAMR_ECANCELED;
	}
	return 0;
}

static int f_length(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)strlen(hamr_arg_str(c, 0)));
}

/* String items folded: their segments are used again while the node
 * emits (max_inflight 300), each time with its strings released. */
static const hamr_node_def string_fold_defs[] = {
	INPUT_N,
	{.name = "labels", .fn = f_labels, .type = HAMR_STR, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "length", .fn = f_length, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("labels", HAMR_STR))},
	{.name = "total", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_sum_tolerant,
	 .deps = DEPS(HAMR_DEP_COLLECTED("length", HAMR_I64))},
	{0}};

/* Tolerant lists of every kind over 1 to 3,000 items (one segment and
 * several; failures in many of them, claimed by several consumers), on
 * both executors, under every grouping and in-flight bound, from a block
 * of several nodes and from one of a single node. */
static void test_packed_lists_across_segments(void)
{
	const int64_t sizes[] = {1, 255, 256, 257, 3000};
	const size_t bounds[] = {0, 1, 300};
	const char *many[] = {"halves", "evens", "squares", "labels"}, *one[] = {"halves"};
	hamr_run_opts seq = sequential(), thr = threads_on(pool4);
	const hamr_run_opts *each[] = {&seq, &thr};
	for (size_t ni = 0; ni < sizeof sizes / sizeof *sizes; ni++) {
		items_n = sizes[ni];
		int64_t good = 0;
		for (int64_t x = 0; x < items_n; x++)
			good += !bad_item(x);
		for (int k = 0; k < 2; k++)
			for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++)
				for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
					hamr_run_opts o = *each[k];
					o.policy = HAMR_KEEP_GOING;
					o.grouping = (hamr_grouping)gr;
					o.max_inflight = bounds[b];
					for (int shape = 0; shape < 2; shape++) {
						fixture f = shape ? run_with(packed_one_defs, one, 1, items_n, &o) :
						                    run_with(packed_many_defs, many, 4, items_n, &o);
						CHECK_EQ_INT(f.run_rc, good < items_n ? HAMR_EFAIL : 0);
						for (size_t q = 0; q < (shape ? 1u : 4u); q++)
							CHECK_EQ_INT(i64(&f, shape ? one[q] : many[q]), good);
						done(&f);
					}
				}
	}
	hamr_run_opts o = threads_on(pool4);
	o.max_inflight = 300;
	const char *total[] = {"total"};
	fixture f = run_with(string_fold_defs, total, 1, 3000, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), 10 * 2 + 90 * 3 + 900 * 4 + 2000 * 5);
	done(&f);
}

/* ---- what a review found --------------------------------------------------------- */

static int f_cancel_at_10(hamr_call *c)
{
	if (hamr_arg_i64(c, 0) == 10)
		hamr_run_cancel(hamr_call_run(c));
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static int f_emit_and_return(hamr_call *c)
{
	hamr_emit_i64(c, 1);
	hamr_value l;
	int rc = hamr_value_make_list(&l, HAMR_I64, 1);
	if (!rc)
		rc = hamr_list_append_i64(&l, 2);
	return rc ? rc : hamr_ret_value(c, &l);
}

static int bad_merge(hamr_value *acc, const hamr_value *part, void *ud)
{
	(void)acc;
	(void)part;
	(void)ud;
	return HAMR_ERANGE;
}

static const hamr_fold fold_no_init = {HAMR_NO_DEFAULT, sum_step, sum_step};
static const hamr_fold fold_bad_merge = {HAMR_DEFAULT_I64(0), sum_step, bad_merge};

static const hamr_node_def review_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "cancelling", .fn = f_cancel_at_10, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "cancelled", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("cancelling", HAMR_I64))},
	{.name = "square", .fn = f_square, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "no_init", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_no_init,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	{.name = "bad_merge", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_bad_merge,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("square", HAMR_I64))},
	{.name = "both", .fn = f_emit_and_return, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "both_total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("both", HAMR_I64))},
	{0}};

/* ---- a block of one node: the node called once per item ----------------- */

/* Item x gives 2x; every seventh first records a failure, then recovers */
static int f_recovers(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x % 7 == 0)
		hamr_fail(c, "item %lld failed, then recovered", (long long)x);
	return hamr_ret_i64(c, 2 * x);
}

static int f_item_str(hamr_call *c)
{
	char buf[32];
	snprintf(buf, sizeof buf, "item-%lld", (long long)hamr_arg_i64(c, 0));
	return hamr_ret_str(c, buf);
}

/* Every string in the list is its item's */
static int f_check_strs(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	for (size_t i = 0; i < l.len; i++) {
		char want[32];
		snprintf(want, sizeof want, "item-%zu", i);
		const char *got = hamr_list_str(l, i);
		if (!got || strcmp(got, want))
			return hamr_fail(c, "place %zu holds %s", i, got ? got : "nothing");
	}
	return hamr_ret_i64(c, (int64_t)l.len);
}

/* Declared i64: item 500 returns no value, item 600 fails */
static int f_gaps(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x == 500)
		return 0;
	if (x == 600)
		return hamr_fail(c, "bad item %lld", (long long)x);
	return hamr_ret_i64(c, x);
}

/* A tolerant list of gappy's values: each its item's, neither of the two
 * among them; their count */
static int f_indices_count(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	for (size_t i = 0; i < l.len; i++) {
		int64_t x = hamr_arg_item_index(c, 0, i);
		if (x == 500 || x == 600 || hamr_list_i64(l, i) != x)
			return hamr_fail(c, "place %zu holds item %lld's value", i, (long long)x);
	}
	return hamr_ret_i64(c, (int64_t)l.len);
}

/* Three blocks of one node each, whose items are 0 .. n-1 */
static const hamr_node_def one_node_defs[] = {
	INPUT_N,
	{.name = "items_a", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "doubled", .fn = f_recovers, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items_a", HAMR_I64))},
	{.name = "doubled_sum", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("doubled", HAMR_I64))},
	{.name = "items_b", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "named", .fn = f_item_str, .type = HAMR_STR,
	 .deps = DEPS(HAMR_DEP("items_b", HAMR_I64))},
	{.name = "names", .fn = f_check_strs, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("named", HAMR_STR))},
	{.name = "items_c", .fn = f_items, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "gappy", .fn = f_gaps, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items_c", HAMR_I64))},
	{.name = "gappy_sum", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("gappy", HAMR_I64))},
	{.name = "gappy_kept", .fn = f_indices_count, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("gappy", HAMR_I64))},
	{0}};

/* A block of one plain node calls it once per item with one call record
 * (blocks.c's run_one): a failure recorded and then recovered from, a
 * string result per item, a missing value and a failure in the middle,
 * across segments, on every executor and under both policies (keep_going
 * calls the node through the full node call, for its input check). */
static void test_one_node_blocks(void)
{
	enum { N = 1000 };
	hamr_run_opts seq = sequential(), t2 = threads_on(pool2), t4 = threads_on(pool4);
	const hamr_run_opts *each[] = {&seq, &t2, &t4};
	for (int k = 0; k < 3; k++) {
		const char *o1[] = {"doubled_sum", "names"};
		fixture f = run_with(one_node_defs, o1, 2, N, each[k]);
		CHECK_OK(f.run_rc);
		CHECK_EQ_INT(i64(&f, "doubled_sum"), (int64_t)N * (N - 1));
		CHECK_EQ_INT(i64(&f, "names"), N);
		done(&f);
		/* fail fast: the first of the two errors by item order on the
		 * sequential executor; either on the pool */
		const char *o2[] = {"gappy_sum"};
		f = run_with(one_node_defs, o2, 1, N, each[k]);
		CHECK(f.run_rc == HAMR_ETYPE || f.run_rc == HAMR_EFAIL);
		const hamr_error_info *e = hamr_run_error(f.r);
		CHECK_EQ_STR(e->node, "gappy");
		if (f.run_rc == HAMR_ETYPE) {
			CHECK_EQ_INT(e->item, 500);
			CHECK_CONTAINS(e->message, "returned no value");
		} else {
			CHECK_EQ_INT(e->item, 600);
			CHECK_CONTAINS(e->message, "bad item 600");
		}
		if (k == 0)
			CHECK_EQ_INT(f.run_rc, HAMR_ETYPE);
		CHECK(hamr_run_result(f.r, "gappy_sum") == NULL);
		done(&f);
		/* keep going: a tolerant collect gets every other item */
		hamr_run_opts o = *each[k];
		o.policy = HAMR_KEEP_GOING;
		const char *o3[] = {"gappy_kept"};
		f = run_with(one_node_defs, o3, 1, N, &o);
		CHECK(f.run_rc == HAMR_ETYPE || f.run_rc == HAMR_EFAIL);
		CHECK_EQ_INT(i64(&f, "gappy_kept"), N - 2);
		done(&f);
	}
}

static void test_review_regressions(void)
{
	hamr_run_opts seq = sequential(), thr = threads_on(pool4);
	const hamr_run_opts *each[] = {&seq, &thr};
	for (int k = 0; k < 2; k++) {
		/* a cancel inside a block: the run says so, and no list has holes */
		const char *o1[] = {"cancelled"};
		fixture f = run_with(review_defs, o1, 1, 2000, each[k]);
		CHECK_EQ_INT(f.run_rc, HAMR_ECANCELED);
		CHECK(hamr_run_result(f.r, "cancelled") == NULL);
		done(&f);
		/* a fold with no initial value and no items: an error naming it,
		 * under both policies; with items it is their sum */
		const char *o2[] = {"no_init"};
		for (int keep = 0; keep < 2; keep++) {
			hamr_run_opts o = *each[k];
			o.policy = keep ? HAMR_KEEP_GOING : HAMR_FAIL_FAST;
			f = run_with(review_defs, o2, 1, 0, &o);
			CHECK_EQ_INT(f.run_rc, HAMR_EFAIL);
			CHECK_EQ_STR(hamr_run_error(f.r)->node, "no_init");
			CHECK_CONTAINS(hamr_run_error(f.r)->message, "no initial value");
			done(&f);
		}
		f = run_with(review_defs, o2, 1, 4, each[k]);
		CHECK_EQ_INT(i64(&f, "no_init"), 0 + 1 + 4 + 9);
		done(&f);
		/* emitting and returning a list: an error, not both */
		const char *o3[] = {"both_total"};
		f = run_with(review_defs, o3, 1, 1, each[k]);
		CHECK_EQ_INT(f.run_rc, HAMR_ETYPE);
		CHECK_CONTAINS(hamr_errmsg(), "both");
		done(&f);
	}
	/* a merge that fails: the fold gives nothing, even to a tolerant
	 * reader, and the error has the merge's code */
	hamr_run_opts o = thr;
	o.policy = HAMR_KEEP_GOING;
	const char *o4[] = {"bad_merge", "no_init"};
	fixture f = run_with(review_defs, o4, 2, 5000, &o);
	if (!f.run_rc) {
		/* one consumer alone never merges: nothing to check */
		CHECK_EQ_INT(i64(&f, "bad_merge"), 0);
	} else {
		CHECK_EQ_INT(f.run_rc, HAMR_ERANGE);
		CHECK(hamr_run_result(f.r, "bad_merge") == NULL);
		CHECK_CONTAINS(hamr_run_error(f.r)->message, "HAMR_ERANGE");
		CHECK(hamr_run_result(f.r, "no_init") != NULL); /* the other fold is fine */
	}
	done(&f);
	/* a parallelizable node cannot hold a concurrency place, nor a node
	 * two groups */
	const hamr_node_def tagged[] = {
		INPUT_N,
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64)), .tags = TAGS({"concurrency", "db:1"})},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("items", HAMR_I64))},
		{.name = "twice", .fn = f_one, .type = HAMR_I64,
		 .tags = TAGS({"concurrency", "db:1"}, {"concurrency", "io:2"})},
		{0}};
	const char *o5[] = {"total"}, *o6[] = {"twice"};
	f = run_with(tagged, o5, 1, 3, &thr);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "parallelizable");
	done(&f);
	f = run_with(tagged, o6, 1, 3, &thr);
	CHECK_EQ_INT(f.plan_rc, HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "second tag");
	done(&f);
}

int main(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pool2, &po));
	po.workers = 4;
	CHECK_OK(hamr_pool_create(&pool4, &po));
	RUN_TEST(test_items_run_while_the_node_emits);
	RUN_TEST(test_max_inflight_holds_the_producer_back);
	RUN_TEST(test_fold_collects);
	RUN_TEST(test_fold_memory_does_not_grow_with_items);
	RUN_TEST(test_grouping_strategies_agree);
	RUN_TEST(test_execution_manager);
	RUN_TEST(test_concurrency_caps_hold);
	RUN_TEST(test_error_policies);
	RUN_TEST(test_packed_lists_across_segments);
	RUN_TEST(test_review_regressions);
	RUN_TEST(test_one_node_blocks);
	hamr_pool_destroy(pool2);
	hamr_pool_destroy(pool4);
	TEST_EXIT();
}
