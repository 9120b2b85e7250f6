// SPDX-License-Identifier: MIT
/* Map blocks that run a node tagged blocking=true: their items run on the
 * blocking pool, an item per blocking worker whatever the grouping, so as
 * many items wait at once as the pool has blocking workers, however few
 * compute workers it has; on the threads executor, and on the sequential
 * one when a block runs on the pool (executor=threads). Results equal the
 * sequential executor's with every grouping, also with nested blocks and
 * more items than blocking workers; fail fast, keep_going, cancel and
 * hooks behave as in any block; a block whose items run in item order
 * keeps that order, and a block for worker processes runs there.
 *
 * Waiting is shown without timing: items wait on a barrier as wide as the
 * number of items that must wait at the same time, which opens only when
 * they all run at once. A regression hangs, and the test's ctest timeout
 * turns the hang into a failure. */
#include <hamr.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "tests/nodes.h"

#define BLOCKING TAGS({"blocking", "true"})

static hamr_pool *pool2;  /* 2 compute workers, 64 blocking workers */
static hamr_pool *pool2b4; /* 2 compute workers, 4 blocking workers */

/* the executors that run blocks on the pool: threads, and sequential with
 * threads as the remote executor */
static hamr_run_opts on_pool(hamr_pool *p, int threads)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.pool = p;
	if (threads) {
		o.executor = HAMR_EXEC_THREADS;
	} else {
		o.executor = HAMR_EXEC_SEQUENTIAL;
		o.remote = HAMR_REMOTE_THREADS;
	}
	return o;
}

/* Whether the calling thread is a worker of a blocking pool (hamr-bN). */
static int on_blocking_worker(void)
{
	char name[16] = "";
	pthread_getname_np(pthread_self(), name, sizeof name);
	return !strncmp(name, "hamr-b", 6);
}

/* The number of places k whose value is 2k: the whole list when it is in
 * item order. */
static int f_in_order(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t ok = 0;
	for (size_t k = 0; k < l.len; k++)
		ok += hamr_list_i64(l, k) == 2 * (int64_t)k;
	return hamr_ret_i64(c, ok);
}

/* ---- 64 items that wait for each other, on 2 compute workers -------------- */

#define WIDE 64
static pthread_barrier_t meet_wide;
static atomic_int off_blocking;

/* Waits until all 64 items of the block wait here: possible only if each
 * has a thread of its own. */
static int f_meet_wide(hamr_call *c)
{
	if (!on_blocking_worker())
		atomic_fetch_add(&off_blocking, 1);
	pthread_barrier_wait(&meet_wide);
	return hamr_ret_i64(c, 2 * hamr_arg_i64(c, 0));
}

#define MEET_DEFS(items_tags)                                                              \
	{INPUT_N,                                                                          \
	 {.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE, \
	  .deps = DEPS(HAMR_DEP("n", HAMR_I64)), .tags = items_tags},                      \
	 {.name = "meet", .fn = f_meet_wide, .type = HAMR_I64,                             \
	  .deps = DEPS(HAMR_DEP("items", HAMR_I64)), .tags = BLOCKING},                    \
	 {.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,  \
	  .deps = DEPS(HAMR_DEP_COLLECTED("meet", HAMR_I64))},                             \
	 {.name = "in_order", .fn = f_in_order, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, \
	  .deps = DEPS(HAMR_DEP_COLLECTED("meet", HAMR_I64))},                             \
	 {0}}

static const hamr_node_def meet_defs[] = MEET_DEFS(NULL);
static const hamr_node_def meet_defs_tagged[] = MEET_DEFS(TAGS({"executor", "threads"}));

static void check_meet(const hamr_node_def *defs, const hamr_run_opts *o, const char *what)
{
	const char *outs[] = {"total", "in_order"};
	atomic_store(&off_blocking, 0);
	fixture f = run_with(defs, outs, 2, WIDE, o);
	CHECK_OK(f.plan_rc);
	CHECK_OK(f.run_rc);
	if (f.run_rc)
		fprintf(stderr, "  (%s)\n", what);
	CHECK_EQ_INT(i64(&f, "total"), WIDE * (WIDE - 1));
	CHECK_EQ_INT(i64(&f, "in_order"), WIDE);
	CHECK_EQ_INT(atomic_load(&off_blocking), 0);
	done(&f);
}

static void test_64_waiting_items_overlap_on_two_compute_workers(void)
{
	for (int threads = 0; threads < 2; threads++) {
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			hamr_run_opts o = on_pool(pool2, threads);
			o.grouping = (hamr_grouping)gr;
			check_meet(meet_defs, &o, hamr_grouping_name((hamr_grouping)gr));
		}
		hamr_run_opts o = on_pool(pool2, threads);
		o.grain = 16; /* auto grouping, fixed batches */
		check_meet(meet_defs, &o, "grain 16");
		o.grain = 0;
		o.max_inflight = WIDE; /* the emitting node reaches its bound */
		check_meet(meet_defs, &o, "max_inflight 64");
	}
	/* the sequential executor, the block on the pool by its tag */
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_SEQUENTIAL;
	o.pool = pool2;
	check_meet(meet_defs_tagged, &o, "executor=threads tag");
}

/* ---- more items than blocking workers --------------------------------------- */

#define NARROW 4 /* pool2b4's blocking workers */
static pthread_barrier_t meet_narrow;
static atomic_int now_in, most_in;

/* Waits for NARROW items at a time: the block keeps every blocking
 * worker busy, and runs no more items at once than there are. */
static int f_meet_narrow(hamr_call *c)
{
	int now = atomic_fetch_add(&now_in, 1) + 1;
	int m = atomic_load(&most_in);
	while (now > m && !atomic_compare_exchange_weak(&most_in, &m, now))
		;
	if (!on_blocking_worker())
		atomic_fetch_add(&off_blocking, 1);
	pthread_barrier_wait(&meet_narrow);
	atomic_fetch_sub(&now_in, 1);
	return hamr_ret_i64(c, 2 * hamr_arg_i64(c, 0));
}

static const hamr_node_def narrow_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "meet", .fn = f_meet_narrow, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64)), .tags = BLOCKING},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("meet", HAMR_I64))},
	{.name = "in_order", .fn = f_in_order, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("meet", HAMR_I64))},
	{0}};

static void test_more_items_than_blocking_workers(void)
{
	const char *outs[] = {"total", "in_order"};
	const int64_t n = 100; /* a multiple of NARROW: every barrier fills */
	for (int threads = 0; threads < 2; threads++)
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			hamr_run_opts o = on_pool(pool2b4, threads);
			o.grouping = (hamr_grouping)gr;
			atomic_store(&off_blocking, 0);
			atomic_store(&most_in, 0);
			fixture f = run_with(narrow_defs, outs, 2, n, &o);
			CHECK_OK(f.run_rc);
			CHECK_EQ_INT(i64(&f, "total"), n * (n - 1));
			CHECK_EQ_INT(i64(&f, "in_order"), n);
			CHECK_EQ_INT(atomic_load(&off_blocking), 0);
			CHECK(atomic_load(&most_in) <= NARROW);
			done(&f);
		}
}

/* ---- the same results as the sequential executor ------------------------------ */

static int f_offset(hamr_call *c)
{
	return hamr_ret_i64(c, 7 + hamr_arg_i64(c, 0));
}

static int f_fetch(hamr_call *c) /* blocking: waits a little, in turn */
{
	sched_yield();
	return hamr_ret_i64(c, 3 * hamr_arg_i64(c, 0) + hamr_arg_i64(c, 1));
}

static int f_parse(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, (x * x) % 1009);
}

static int f_parts(hamr_call *c) /* x % 4 + 1 parts of item x */
{
	int64_t x = hamr_arg_i64(c, 0);
	for (int64_t j = 0; j <= x % 4; j++)
		if (hamr_emit_i64(c, 10 * x + j))
			return HAMR_ECANCELED;
	return 0;
}

static int f_part_io(hamr_call *c) /* blocking, in the nested block */
{
	sched_yield();
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) % 97 + 1);
}

/* Weighs each value by its place: a list out of item order gives
 * another number. */
static int f_weighed(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t k = 0; k < l.len; k++)
		s += (int64_t)(k + 1) * hamr_list_i64(l, k);
	return hamr_ret_i64(c, s);
}

static int max_step(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	if (hamr_value_i64(x) > hamr_value_i64(acc))
		*acc = hamr_value_from_i64(hamr_value_i64(x));
	return 0;
}

static const hamr_fold fold_sum = {HAMR_DEFAULT_I64(0), sum_step, sum_step};
static const hamr_fold fold_max = {HAMR_DEFAULT_I64(0), max_step, NULL}; /* no merge */

static const hamr_node_def mixed_defs[] = {
	INPUT_N,
	{.name = "offset", .fn = f_offset, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "fetch", .fn = f_fetch, .type = HAMR_I64, .tags = BLOCKING,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("offset", HAMR_I64))},
	{.name = "parse", .fn = f_parse, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("fetch", HAMR_I64))},
	{.name = "parts", .fn = f_parts, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "part_io", .fn = f_part_io, .type = HAMR_I64, .tags = BLOCKING,
	 .deps = DEPS(HAMR_DEP("parts", HAMR_I64))},
	{.name = "part_sum", .fn = f_weighed, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("part_io", HAMR_I64))},
	{.name = "weighed", .fn = f_weighed, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("parse", HAMR_I64))},
	{.name = "nested", .fn = f_weighed, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("part_sum", HAMR_I64))},
	{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_sum,
	 .deps = DEPS(HAMR_DEP_COLLECTED("fetch", HAMR_I64))},
	{.name = "biggest", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_max,
	 .deps = DEPS(HAMR_DEP_COLLECTED("parse", HAMR_I64))},
	{0}};

#define N_MIXED 5

static void test_results_equal_the_sequential_executor(void)
{
	const int64_t n = 300;
	const char *outs[N_MIXED] = {"weighed", "nested", "folded", "biggest", "offset"};
	hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
	fixture ref = run_with(mixed_defs, outs, N_MIXED, n, &seq);
	CHECK_OK(ref.run_rc);
	hamr_pool *pools[] = {pool2, pool2b4};
	for (int pi = 0; pi < 2; pi++)
		for (int threads = 0; threads < 2; threads++)
			for (int v = 0; v < 5; v++) {
				hamr_run_opts o = on_pool(pools[pi], threads);
				if (v <= 2)
					o.grouping = (hamr_grouping)(HAMR_GROUPING_AUTO + v);
				else if (v == 3)
					o.grain = 3;
				else
					o.max_inflight = 5;
				fixture f = run_with(mixed_defs, outs, N_MIXED, n, &o);
				CHECK_OK(f.run_rc);
				for (int k = 0; k < N_MIXED; k++) {
					int64_t want = i64(&ref, outs[k]), got = i64(&f, outs[k]);
					if (want != got)
						fprintf(stderr, "  %s: pool %d threads %d variant %d\n",
						        outs[k], pi, threads, v);
					CHECK_EQ_INT(got, want);
				}
				done(&f);
			}
	done(&ref);
}

/* ---- fail fast, keep_going, cancel ------------------------------------------------ */

static int f_fragile(hamr_call *c) /* blocking; fails on items 3 and 7 */
{
	int64_t x = hamr_arg_i64(c, 0);
	sched_yield();
	if (x == 3 || x == 7)
		return hamr_fail(c, "bad item %lld", (long long)x);
	return hamr_ret_i64(c, x * 10);
}

static const hamr_node_def policy_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "fragile", .fn = f_fragile, .type = HAMR_I64, .tags = BLOCKING,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "strict", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("fragile", HAMR_I64))},
	{.name = "tolerant", .fn = f_indices, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("fragile", HAMR_I64))},
	{.name = "folded", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &fold_sum,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("fragile", HAMR_I64))},
	{0}};

static void test_fail_fast_and_keep_going(void)
{
	const char *outs[] = {"strict", "tolerant", "folded"};
	for (int threads = 0; threads < 2; threads++)
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			hamr_run_opts o = on_pool(pool2b4, threads);
			o.grouping = (hamr_grouping)gr;
			o.policy = HAMR_KEEP_GOING;
			fixture f = run_with(policy_defs, outs, 3, 10, &o);
			CHECK_EQ_INT(f.run_rc, HAMR_EFAIL);
			CHECK_EQ_INT(hamr_run_error_count(f.r), 2);
			int seen3 = 0, seen7 = 0;
			for (size_t e = 0; e < hamr_run_error_count(f.r); e++) {
				const hamr_error_info *x = hamr_run_error_at(f.r, e);
				if (!x || !x->node || strcmp(x->node, "fragile"))
					continue;
				seen3 += x->item == 3 && strstr(x->message, "bad item 3") != NULL;
				seen7 += x->item == 7 && strstr(x->message, "bad item 7") != NULL;
			}
			CHECK(seen3 == 1 && seen7 == 1);
			CHECK_EQ_INT(i64(&f, "tolerant"), 1245689);
			CHECK_EQ_INT(i64(&f, "folded"), 10 * (45 - 3 - 7));
			CHECK(hamr_run_result(f.r, "strict") == NULL);
			done(&f);

			o.policy = HAMR_FAIL_FAST;
			f = run_with(policy_defs, outs, 3, 10, &o);
			CHECK_EQ_INT(f.run_rc, HAMR_EFAIL);
			const hamr_error_info *e = hamr_run_error(f.r);
			CHECK_EQ_STR(e->node, "fragile");
			CHECK(e->item == 3 || e->item == 7);
			CHECK(hamr_run_result(f.r, "strict") == NULL);
			CHECK(hamr_run_result(f.r, "tolerant") == NULL);
			done(&f);
		}
}

static atomic_int started, released;

static void *wait_for(void *r)
{
	hamr_run_wait(r);
	return NULL;
}

static int f_hold(hamr_call *c) /* blocking: waits until released */
{
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&released)) {
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
	}
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static const hamr_node_def hold_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "hold", .fn = f_hold, .type = HAMR_I64, .tags = BLOCKING,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("hold", HAMR_I64))},
	{0}};

/* A cancel while items wait: the waiting items end, no other starts, and
 * the run says it was cancelled. */
static void test_cancel_while_items_wait(void)
{
	const char *out = "total";
	hamr_module m = {"hold", hold_defs};
	hamr_graph *g = NULL;
	hamr_values *in = NULL;
	hamr_plan *p = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", 1000));
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, in));
	for (int threads = 0; threads < 2; threads++) {
		hamr_run_opts o = on_pool(pool2, threads);
		hamr_run *r = NULL;
		atomic_store(&started, 0);
		atomic_store(&released, 0);
		CHECK_OK(hamr_run_create(&r, p, in, &o));
		CHECK_OK(hamr_run_start(r));
		/* the sequential executor runs in hamr_run_wait: wait there on
		 * another thread */
		pthread_t waiter;
		int waiting = !threads && pthread_create(&waiter, NULL, wait_for, r) == 0;
		CHECK(threads || waiting);
		/* many items wait at once, each on a blocking worker */
		while (atomic_load(&started) < 32)
			sched_yield();
		hamr_run_cancel(r);
		atomic_store(&released, 1);
		if (waiting)
			pthread_join(waiter, NULL);
		CHECK_RC(hamr_run_wait(r), HAMR_ECANCELED);
		CHECK(atomic_load(&started) < 1000);
		CHECK(hamr_run_result(r, "total") == NULL);
		hamr_run_destroy(r);
	}
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
}

/* ---- hooks ---------------------------------------------------------------------- */

typedef struct counts {
	pthread_mutex_t lock;
	int kinds[HAMR_EV_NODE_END + 1];
	unsigned char covered[100];
	int bad;
} counts;

static void count_event(const hamr_event *e, void *ud)
{
	counts *c = ud;
	pthread_mutex_lock(&c->lock);
	c->kinds[e->kind]++;
	if (e->kind == HAMR_EV_BATCH) {
		if (e->count != 1 || e->first < 0 || e->first >= 100)
			c->bad++;
		else
			c->covered[e->first]++;
	}
	pthread_mutex_unlock(&c->lock);
}

static void test_hooks_count_every_item(void)
{
	const char *outs[] = {"total", "in_order"};
	for (int threads = 0; threads < 2; threads++)
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			counts c = {.lock = PTHREAD_MUTEX_INITIALIZER};
			hamr_hook hook = {count_event, &c};
			hamr_run_opts o = on_pool(pool2b4, threads);
			o.grouping = (hamr_grouping)gr;
			o.hooks = &hook;
			o.n_hooks = 1;
			o.stats = 1;
			fixture f = run_with(narrow_defs, outs, 2, 100, &o);
			CHECK_OK(f.run_rc);
			/* statistics: an item a task; every item node, and the
			 * block's own node, on threads that are not compute
			 * workers (the last slot counts the others) */
			hamr_run_stats st;
			CHECK_OK(hamr_run_stats_get(f.r, &st));
			CHECK_EQ_INT(st.n_blocks, 1);
			if (st.n_blocks == 1) {
				CHECK_EQ_INT(st.blocks[0].items, 100);
				CHECK_EQ_INT(st.blocks[0].tasks, 100);
			}
			uint64_t all = 0;
			for (size_t w = 0; w < st.n_workers; w++)
				all += st.workers[w].nodes;
			CHECK_EQ_INT(all, 100 + 3);
			CHECK(st.n_workers == 3 && st.workers[2].nodes >= 100 + 1);
			done(&f);
			/* a batch per item, each covered once; a task per batch */
			CHECK_EQ_INT(c.kinds[HAMR_EV_BATCH], 100);
			CHECK_EQ_INT(c.kinds[HAMR_EV_TASK_START], 100);
			CHECK_EQ_INT(c.kinds[HAMR_EV_TASK_END], 100);
			CHECK(c.kinds[HAMR_EV_TASK_SUBMIT] >= 1);
			CHECK_EQ_INT(c.kinds[HAMR_EV_NODE_START], c.kinds[HAMR_EV_NODE_END]);
			CHECK_EQ_INT(c.kinds[HAMR_EV_NODE_END], 100 + 3);
			CHECK_EQ_INT(c.kinds[HAMR_EV_BLOCK_START], 1);
			CHECK_EQ_INT(c.kinds[HAMR_EV_BLOCK_END], 1);
			int once = 1;
			for (int i = 0; i < 100; i++)
				once &= c.covered[i] == 1;
			CHECK(once);
			CHECK_EQ_INT(c.bad, 0);
		}
}

/* ---- items in item order ------------------------------------------------------------ */

static pthread_t item_thread[64];
static atomic_int item_next, out_of_order;

static int f_in_turn(hamr_call *c) /* blocking; records its thread and turn */
{
	int64_t x = hamr_arg_i64(c, 0);
	item_thread[x] = pthread_self();
	if (atomic_fetch_add(&item_next, 1) != x)
		atomic_fetch_add(&out_of_order, 1);
	return hamr_ret_i64(c, 2 * x);
}

#define TURN_DEFS(items_tags)                                                              \
	{INPUT_N,                                                                          \
	 {.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE, \
	  .deps = DEPS(HAMR_DEP("n", HAMR_I64)), .tags = items_tags},                      \
	 {.name = "turn", .fn = f_in_turn, .type = HAMR_I64,                               \
	  .deps = DEPS(HAMR_DEP("items", HAMR_I64)), .tags = BLOCKING},                    \
	 {.name = "in_order", .fn = f_in_order, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, \
	  .deps = DEPS(HAMR_DEP_COLLECTED("turn", HAMR_I64))},                             \
	 {0}}

static const hamr_node_def turn_defs[] = TURN_DEFS(NULL);
static const hamr_node_def turn_defs_seq[] = TURN_DEFS(TAGS({"executor", "sequential"}));

static int in_order_on(pthread_t t, int n)
{
	for (int i = 0; i < n; i++)
		if (!pthread_equal(item_thread[i], t))
			return 0;
	return atomic_load(&out_of_order) == 0 && atomic_load(&item_next) == n;
}

/* The sequential executor with a local-only run (and any block whose
 * items run in item order) keeps its order: blocking=true does not
 * change how it runs. */
static void test_items_in_item_order_stay_in_order(void)
{
	const char *out = "in_order";
	/* sequential: on the calling thread */
	hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
	atomic_store(&item_next, 0);
	atomic_store(&out_of_order, 0);
	fixture f = run_with(turn_defs, &out, 1, 64, &seq);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "in_order"), 64);
	CHECK(in_order_on(pthread_self(), 64));
	done(&f);
	/* threads, the block tagged sequential: on one blocking worker */
	hamr_run_opts o = on_pool(pool2, 1);
	atomic_store(&item_next, 0);
	atomic_store(&out_of_order, 0);
	f = run_with(turn_defs_seq, &out, 1, 64, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "in_order"), 64);
	CHECK(in_order_on(item_thread[0], 64));
	done(&f);
}

/* ---- worker processes ------------------------------------------------------------------ */

static int f_pid(hamr_call *c) /* blocking */
{
	return hamr_ret_i64(c, getpid() == (pid_t)hamr_arg_i64(c, 1) ? -1 : 1);
}

static int f_self(hamr_call *c)
{
	(void)c;
	return hamr_ret_i64(c, (int64_t)getpid());
}

static const hamr_node_def procs_defs[] = {
	INPUT_N,
	{.name = "self", .fn = f_self, .type = HAMR_I64},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64)), .tags = TAGS({"executor", "processes"})},
	{.name = "elsewhere", .fn = f_pid, .type = HAMR_I64, .tags = BLOCKING,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("self", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("elsewhere", HAMR_I64))},
	{0}};

/* A blocking block for worker processes runs there, as any other. */
static void test_a_block_in_processes_stays_there(hamr_procpool *pp)
{
	const char *out = "total";
	hamr_run_opts o = on_pool(pool2, 1);
	o.procpool = pp;
	fixture f = run_with(procs_defs, &out, 1, 16, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), 16);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.tasks, 16);
	done(&f);
}

static hamr_procpool *procs;

static void test_processes(void)
{
	if (!procs) {
		printf("  (no worker processes here: skipped)\n");
		return;
	}
	test_a_block_in_processes_stays_there(procs);
}

int main(void)
{
	/* first, while the program has one thread */
	int have_procs = hamr_processes_init() == 0 &&
	                 hamr_procpool_create(&procs, &(hamr_procpool_opts){.processes = 2}) == 0;
	if (!have_procs)
		procs = NULL;
	pthread_barrier_init(&meet_wide, NULL, WIDE);
	pthread_barrier_init(&meet_narrow, NULL, NARROW);
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2; /* blocking_workers: the default, 64 */
	CHECK_OK(hamr_pool_create(&pool2, &po));
	po.blocking_workers = NARROW;
	CHECK_OK(hamr_pool_create(&pool2b4, &po));
	RUN_TEST(test_64_waiting_items_overlap_on_two_compute_workers);
	RUN_TEST(test_more_items_than_blocking_workers);
	RUN_TEST(test_results_equal_the_sequential_executor);
	RUN_TEST(test_fail_fast_and_keep_going);
	RUN_TEST(test_cancel_while_items_wait);
	RUN_TEST(test_hooks_count_every_item);
	RUN_TEST(test_items_in_item_order_stay_in_order);
	RUN_TEST(test_processes);
	hamr_pool_destroy(pool2b4);
	hamr_pool_destroy(pool2);
	hamr_procpool_destroy(procs);
	pthread_barrier_destroy(&meet_narrow);
	pthread_barrier_destroy(&meet_wide);
	TEST_EXIT();
}
