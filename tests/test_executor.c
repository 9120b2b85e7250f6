// SPDX-License-Identifier: MIT
/* The threads executor beyond result equality (test_random_dag checks
 * that): blocking nodes on their own pool, worker-local resources, fork-join
 * and parallel_for inside nodes, fail fast, cancel from another thread. */
#include <hamr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/check.h"

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END})

static hamr_pool *pool2; /* two compute workers */

/* ---- blocking nodes ------------------------------------------------------- */

#define N_BLOCKING 100
static atomic_int blocking_started;

/* Waits until every blocking node has started: possible only if all 100
 * run at once, which two compute workers alone could never do. It waits
 * as long as that takes, however loaded the machine: a broken pool hangs
 * here, and the test's ctest TIMEOUT fails it. */
static int f_wait_for_all(hamr_call *c)
{
	atomic_fetch_add(&blocking_started, 1);
	while (atomic_load(&blocking_started) < N_BLOCKING)
		usleep(1000);
	return hamr_ret_i64(c, hamr_worker_index() >= 0);
}

static int f_spin_add(hamr_call *c)
{
	int64_t x = hamr_arg_count(c) ? hamr_arg_i64(c, 0) : 0;
	for (volatile int i = 0; i < 20000; i++)
		;
	return hamr_ret_i64(c, x + 1);
}

static int f_sum_all(hamr_call *c)
{
	int64_t s = 0;
	for (size_t i = 0; i < hamr_arg_count(c); i++)
		s += hamr_arg_i64(c, i);
	return hamr_ret_i64(c, s);
}

/* ---- the calling thread in a worker's place --------------------------------- */

static pthread_t test_thread;
static atomic_int ran_on_caller; /* nodes run on the test's thread */
static atomic_int ran_off_pool;  /* nodes that saw no worker index of the
                                  * pool's (userdata: its worker count) */

static int f_where_ran(hamr_call *c)
{
	int n = (int)(intptr_t)hamr_userdata(c), k = hamr_worker_index();
	if (pthread_equal(pthread_self(), test_thread))
		atomic_fetch_add(&ran_on_caller, 1);
	if (k < 0 || k >= n)
		atomic_fetch_add(&ran_off_pool, 1);
	return hamr_ret_i64(c, 1);
}

/* A plan of n nodes fn (userdata ud, no arguments), named prefix_0 ...,
 * and "total", their sum. */
static hamr_plan *wide_sum_plan(const char *prefix, int n, hamr_fn fn, void *ud)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	char(*names)[24] = calloc((size_t)n, sizeof *names);
	hamr_dep *all = calloc((size_t)n + 1, sizeof *all);
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "%s_%d", prefix, i);
		hamr_node_def d = {.name = names[i], .fn = fn, .type = HAMR_I64, .userdata = ud};
		CHECK_OK(hamr_graph_add_node(g, prefix, &d));
		all[i] = (hamr_dep)HAMR_DEP(names[i], HAMR_I64);
	}
	all[n] = (hamr_dep)HAMR_DEPS_END;
	hamr_node_def total = {.name = "total", .fn = f_sum_all, .type = HAMR_I64, .deps = all};
	CHECK_OK(hamr_graph_add_node(g, prefix, &total));
	const char *out = "total";
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, NULL));
	hamr_graph_destroy(g);
	free(all);
	free(names);
	return p;
}

/* 64 f_where_ran nodes for a pool of n workers, and their sum. */
static hamr_plan *where_plan(int n)
{
	return wide_sum_plan("where", 64, f_where_ran, (void *)(intptr_t)n);
}

/* One run of plan on pool p: hamr_run_execute, or start then wait. 1 when
 * a node of it ran on the test's thread. */
static int where_run(hamr_plan *plan, hamr_pool *p, int execute)
{
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = p};
	hamr_run *r = NULL;
	int before = atomic_load(&ran_on_caller);
	if (execute) {
		CHECK_OK(hamr_run_execute(&r, plan, NULL, &o));
	} else {
		CHECK_OK(hamr_run_create(&r, plan, NULL, &o));
		CHECK_OK(hamr_run_start(r));
		CHECK_OK(hamr_run_wait(r));
	}
	int64_t total = 0;
	CHECK_OK(hamr_run_result_i64(r, "total", &total));
	CHECK_EQ_INT(total, 64);
	hamr_run_destroy(r);
	return atomic_load(&ran_on_caller) > before;
}

/* hamr_run_execute, whose thread would only wait, runs the run itself in
 * the place of an idle worker (one whose thread sleeps, first): its nodes
 * see that worker's index, never -1. A run started
 * with hamr_run_start runs on the pool's threads alone (the starting
 * thread may go on with other things), and so does every run when the
 * calling thread's stack is smaller than the pool's (HAMR_STACK) or the
 * pool pins its workers to CPUs. Whether a given run finds a worker idle
 * is the scheduler's affair, so the test looks for one run on the
 * calling thread among many (pausing between them on the pools of
 * several, whose workers spin 1 us before they sleep, so that both kinds
 * of idle worker lend their places), and asserts only what must hold for
 * all. */
static void test_the_calling_thread_runs_as_an_idle_worker(void)
{
	test_thread = pthread_self();
	for (int workers = 1; workers <= 3; workers++) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = workers;
		po.spin_us = 1;
		hamr_pool *p = NULL;
		CHECK_OK(hamr_pool_create(&p, &po));
		hamr_plan *plan = where_plan(workers);
		atomic_store(&ran_off_pool, 0);
		int claimed = 0;
		for (int k = 0; k < 100000 && !claimed; k++) {
			if (workers > 1)
				usleep(200);
			claimed = where_run(plan, p, 1);
		}
		CHECK(claimed);
		for (int k = 0; k < 200; k++)
			CHECK(!where_run(plan, p, 0));
		CHECK_EQ_INT(atomic_load(&ran_off_pool), 0);
		hamr_pool_destroy(p);
		hamr_plan_destroy(plan);
	}
}

/* 200 runs with hamr_run_execute on a pool made with po (one worker):
 * none on this thread, every node on the pool's worker. */
static void never_on_caller(const hamr_pool_opts *po)
{
	hamr_pool *p = NULL;
	CHECK_OK(hamr_pool_create(&p, po));
	hamr_plan *plan = where_plan(1);
	test_thread = pthread_self();
	atomic_store(&ran_off_pool, 0);
	for (int k = 0; k < 200; k++)
		CHECK(!where_run(plan, p, 1));
	CHECK_EQ_INT(atomic_load(&ran_off_pool), 0);
	hamr_plan_destroy(plan);
	hamr_pool_destroy(p);
}

/* A thread of 1 MiB of stack runs 200 runs on a pool of one worker with
 * the default stack (8 MiB): none on the thread itself. */
static void *small_stack_runs(void *arg)
{
	hamr_pool *p = arg;
	hamr_plan *plan = where_plan(1);
	test_thread = pthread_self();
	int on_caller = 0;
	for (int k = 0; k < 200; k++)
		on_caller += where_run(plan, p, 1);
	hamr_plan_destroy(plan);
	return (void *)(intptr_t)on_caller;
}

/* The calling thread does not take the worker's place when a node would
 * then see another stack than the worker's (smaller), or another CPU
 * than the one the pool pins its worker to. */
static void test_the_calling_thread_stays_out_when_nodes_would_notice(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 1;
	hamr_pool *p = NULL;
	CHECK_OK(hamr_pool_create(&p, &po));
	pthread_attr_t a;
	pthread_attr_init(&a);
	CHECK(pthread_attr_setstacksize(&a, (size_t)1 << 20) == 0);
	pthread_t t;
	void *on_caller = (void *)1;
	CHECK(pthread_create(&t, &a, small_stack_runs, p) == 0);
	pthread_join(t, &on_caller);
	pthread_attr_destroy(&a);
	CHECK(on_caller == NULL);
	hamr_pool_destroy(p);

	po.pin = 1;
	never_on_caller(&po);
}

/* Threads that share a pool of one, two or three workers run their runs
 * at once, each in a worker's place or handed to the pool, while another
 * thread calls into it: every result is right, every node ran as one of
 * its workers, and every call ran (none lost to a thread whose place a
 * caller held). The pools of several spin 1 us, so that their threads
 * sleep, and callers take their places, often. */
typedef struct sharer {
	hamr_pool *p;
	hamr_plan *plan;
	int runs;
} sharer;

static void *share_runs(void *arg)
{
	sharer *s = arg;
	for (int k = 0; k < s->runs; k++)
		where_run(s->plan, s->p, 1);
	return NULL;
}

static void count_call(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_threads_share_a_pool_running_in_its_place(void)
{
	for (int workers = 1; workers <= 3; workers++) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = workers;
		po.spin_us = workers > 1 ? 1 : 0;
		hamr_pool *p = NULL;
		CHECK_OK(hamr_pool_create(&p, &po));
		hamr_plan *plan = where_plan(workers);
		atomic_store(&ran_off_pool, 0);
		sharer s = {p, plan, 300};
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			CHECK(pthread_create(&t[i], NULL, share_runs, &s) == 0);
		atomic_int calls;
		atomic_init(&calls, 0);
		for (int k = 0; k < 2000; k++)
			CHECK_OK(hamr_pool_call(p, count_call, &calls));
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		CHECK_EQ_INT(atomic_load(&calls), 2000);
		CHECK_EQ_INT(atomic_load(&ran_off_pool), 0);
		hamr_plan_destroy(plan);
		hamr_pool_destroy(p);
	}
}

static void test_blocking_nodes_never_hold_compute_workers(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	static const hamr_tag blocking[] = {{"blocking", "true"}, {NULL, NULL}};
	char name[32], prev[32];
	hamr_dep all[N_BLOCKING + 1];
	static char names[N_BLOCKING][16];
	for (int i = 0; i < N_BLOCKING; i++) {
		snprintf(names[i], sizeof names[i], "io_%d", i);
		hamr_node_def d = {.name = names[i], .fn = f_wait_for_all,
		                   .type = HAMR_I64, .tags = blocking};
		CHECK_OK(hamr_graph_add_node(g, "io", &d));
		all[i] = (hamr_dep)HAMR_DEP(names[i], HAMR_I64);
	}
	all[N_BLOCKING] = (hamr_dep)HAMR_DEPS_END;
	hamr_node_def gather = {.name = "io_all", .fn = f_sum_all, .type = HAMR_I64,
	                        .deps = all};
	CHECK_OK(hamr_graph_add_node(g, "io", &gather));
	/* a CPU-bound chain on the compute workers, at the same time */
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "cpu_%d", i);
		snprintf(prev, sizeof prev, "cpu_%d", i - 1);
		hamr_dep dep[2] = {HAMR_DEP(prev, HAMR_I64), HAMR_DEPS_END};
		hamr_node_def d = {.name = name, .fn = f_spin_add, .type = HAMR_I64,
		                   .deps = i ? dep : NULL};
		CHECK_OK(hamr_graph_add_node(g, "cpu", &d));
	}
	const char *outs[] = {"io_all", "cpu_199"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = pool2};
	hamr_run *r = NULL;
	atomic_store(&blocking_started, 0);
	CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
	int64_t v = 0;
	CHECK_OK(hamr_run_result_i64(r, "io_all", &v));
	CHECK_EQ_INT(v, N_BLOCKING); /* each ran on a pool worker */
	CHECK_OK(hamr_run_result_i64(r, "cpu_199", &v));
	CHECK_EQ_INT(v, 200);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* ---- worker-local resources -------------------------------------------------- */

static atomic_int made, destroyed;

static void *make_scratch(void *ctx)
{
	int *tag = malloc(sizeof *tag);
	*tag = *(int *)ctx;
	atomic_fetch_add(&made, 1);
	return tag;
}

static void destroy_scratch(void *obj, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&destroyed, 1);
	free(obj);
}

static hamr_resource *scratch;

static int f_use_scratch(hamr_call *c)
{
	int *s = hamr_resource_get(scratch);
	if (!s)
		return hamr_fail(c, "no scratch: %s", hamr_errmsg());
	/* the same thread always gets the same object */
	if (hamr_resource_get(scratch) != s)
		return hamr_fail(c, "a second object on one thread");
	return hamr_ret_i64(c, *s + hamr_arg_i64(c, 0));
}

static void test_resource_made_once_per_worker(void)
{
	static int ctx = 1000;
	hamr_resource_desc d = {"scratch", make_scratch, destroy_scratch, &ctx};
	CHECK_OK(hamr_resource_register(&scratch, &d));
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 3;
	hamr_pool *p3 = NULL;
	CHECK_OK(hamr_pool_create(&p3, &po));
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_input(g, "x", HAMR_I64));
	hamr_dep users[401];
	static char names[400][16];
	for (int i = 0; i < 400; i++) {
		snprintf(names[i], sizeof names[i], "use_%d", i);
		hamr_node_def nd = {.name = names[i], .fn = f_use_scratch, .type = HAMR_I64,
		                    .deps = DEPS(HAMR_DEP("x", HAMR_I64))};
		CHECK_OK(hamr_graph_add_node(g, "res", &nd));
		users[i] = (hamr_dep)HAMR_DEP(names[i], HAMR_I64);
	}
	users[400] = (hamr_dep)HAMR_DEPS_END;
	hamr_node_def total = {.name = "total", .fn = f_sum_all, .type = HAMR_I64,
	                       .deps = users};
	CHECK_OK(hamr_graph_add_node(g, "res", &total));
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "x", 1));
	const char *out = "total";
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, in));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = p3};
	atomic_store(&made, 0);
	atomic_store(&destroyed, 0);
	for (int rep = 0; rep < 5; rep++) {
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_execute(&r, p, in, &o));
		int64_t v = 0;
		CHECK_OK(hamr_run_result_i64(r, "total", &v));
		CHECK_EQ_INT(v, 400 * 1001);
		hamr_run_destroy(r);
	}
	int m = atomic_load(&made);
	CHECK(m >= 1 && m <= 3); /* at most once per worker, over 5 runs */
	CHECK_EQ_INT(atomic_load(&destroyed), 0);
	hamr_pool_destroy(p3);
	CHECK_EQ_INT(atomic_load(&destroyed), m); /* each once, at shutdown */
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
}

/* Once a worker-local resource is registered, a pool of one worker runs
 * every run on its own thread, so that its object is made and destroyed
 * there, once (run after the resource test: the registration is for the
 * process). */
static void test_no_caller_in_the_workers_place_with_a_resource(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 1;
	never_on_caller(&po);
}

/* ---- fork-join inside nodes ----------------------------------------------------- */

static void add_range(size_t lo, size_t hi, void *arg)
{
	int64_t s = 0;
	for (size_t i = lo; i < hi; i++)
		s += (int64_t)i;
	atomic_fetch_add((atomic_llong *)arg, s);
}

static int f_parallel_sum(hamr_call *c)
{
	atomic_llong sum = 0;
	hamr_parallel_for(0, (size_t)hamr_arg_i64(c, 0), add_range, &sum);
	return hamr_ret_i64(c, atomic_load(&sum));
}

typedef struct fib_arg {
	int n;
	long r;
} fib_arg;

static void fib(void *p)
{
	fib_arg *a = p;
	if (a->n < 2) {
		a->r = a->n;
		return;
	}
	fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
	hamr_task t;
	hamr_spawn(&t, fib, &x);
	fib(&y);
	hamr_sync(&t);
	a->r = x.r + y.r;
}

static int f_fib(hamr_call *c)
{
	fib_arg a = {(int)hamr_arg_i64(c, 0), 0};
	fib(&a);
	return hamr_ret_i64(c, a.r);
}

static int f_const_n(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)(intptr_t)hamr_userdata(c));
}

static void test_fork_join_inside_nodes(void)
{
	hamr_node_def defs[] = {
		{.name = "n", .fn = f_const_n, .userdata = (void *)100000, .type = HAMR_I64},
		{.name = "k", .fn = f_const_n, .userdata = (void *)20, .type = HAMR_I64},
		{.name = "sum", .fn = f_parallel_sum, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "sum2", .fn = f_parallel_sum, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "fib", .fn = f_fib, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("k", HAMR_I64))},
		{0}};
	hamr_module m = {"fj", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"sum", "sum2", "fib"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 3, NULL));
	hamr_run_opts opts[2] = {{.executor = HAMR_EXEC_SEQUENTIAL},
	                         {.executor = HAMR_EXEC_THREADS, .pool = pool2}};
	for (int e = 0; e < 2; e++) { /* the same node code on both executors */
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_execute(&r, p, NULL, &opts[e]));
		int64_t v = 0;
		CHECK_OK(hamr_run_result_i64(r, "sum", &v));
		CHECK_EQ_INT(v, 99999LL * 100000 / 2);
		CHECK_OK(hamr_run_result_i64(r, "sum2", &v));
		CHECK_EQ_INT(v, 99999LL * 100000 / 2);
		CHECK_OK(hamr_run_result_i64(r, "fib", &v));
		CHECK_EQ_INT(v, 6765);
		hamr_run_destroy(r);
	}
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* ---- failures and cancel ----------------------------------------------------------- */

static atomic_int after_failure_calls;

static int f_boom(hamr_call *c)
{
	return hamr_fail(c, "boom at %lld", (long long)hamr_arg_i64(c, 0));
}

static int f_count(hamr_call *c)
{
	atomic_fetch_add(&after_failure_calls, 1);
	return hamr_ret_i64(c, 1);
}

static void test_fail_fast_skips_dependents(void)
{
	hamr_node_def defs[] = {
		{.name = "seed", .fn = f_const_n, .userdata = (void *)7, .type = HAMR_I64},
		{.name = "boom", .fn = f_boom, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("seed", HAMR_I64))},
		{.name = "after", .fn = f_count, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("boom", HAMR_I64))},
		{.name = "after2", .fn = f_count, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("after", HAMR_I64))},
		{0}};
	hamr_module m = {"ff", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"after2", "seed"};
	hamr_run *r = NULL;
	atomic_store(&after_failure_calls, 0);
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = pool2};
	CHECK_RC(hamr_run_execute(&r, p, NULL, &o), HAMR_EFAIL);
	CHECK_CONTAINS(hamr_errmsg(), "node \"boom\" failed: boom at 7");
	CHECK_EQ_STR(hamr_run_error(r)->node, "boom");
	CHECK_EQ_INT(atomic_load(&after_failure_calls), 0);
	int64_t seed = 0;
	CHECK_OK(hamr_run_result_i64(r, "seed", &seed)); /* kept */
	CHECK_EQ_INT(seed, 7);
	CHECK(hamr_run_result(r, "after2") == NULL);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static atomic_int gate;

static int f_gate(hamr_call *c)
{
	atomic_store(&gate, 1);
	while (atomic_load(&gate) != 2)
		usleep(100);
	return hamr_ret_i64(c, 1);
}

static void *cancel_when_gated(void *arg)
{
	while (atomic_load(&gate) != 1)
		usleep(100);
	hamr_run_cancel(arg);
	atomic_store(&gate, 2);
	return NULL;
}

static void test_cancel_from_another_thread(void)
{
	hamr_node_def defs[] = {
		{.name = "wait", .fn = f_gate, .type = HAMR_I64},
		{.name = "next", .fn = f_count, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("wait", HAMR_I64))},
		{0}};
	hamr_module m = {"cancel", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"next", "wait"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = pool2};
	hamr_run *r = NULL;
	atomic_store(&gate, 0);
	atomic_store(&after_failure_calls, 0);
	CHECK_OK(hamr_run_create(&r, p, NULL, &o));
	pthread_t t;
	pthread_create(&t, NULL, cancel_when_gated, r);
	CHECK_OK(hamr_run_start(r));
	CHECK_RC(hamr_run_wait(r), HAMR_ECANCELED);
	pthread_join(t, NULL);
	CHECK_EQ_INT(atomic_load(&after_failure_calls), 0);
	int64_t v = 0;
	CHECK_OK(hamr_run_result_i64(r, "wait", &v)); /* the running node finished */
	CHECK_EQ_INT(v, 1);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_default_pool_and_executor_names(void)
{
	hamr_executor_kind k;
	CHECK_OK(hamr_executor_parse("threads", &k));
	CHECK_EQ_INT(k, HAMR_EXEC_THREADS);
	CHECK_EQ_STR(hamr_executor_name(k), "threads");
	CHECK_RC(hamr_executor_parse("thread", &k), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "sequential, threads");
	hamr_node_def defs[] = {
		{.name = "k", .fn = f_const_n, .userdata = (void *)15, .type = HAMR_I64},
		{.name = "fib", .fn = f_fib, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("k", HAMR_I64))},
		{0}};
	hamr_module m = {"dflt", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *out = "fib";
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, NULL));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS}; /* the default pool */
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
	int64_t v = 0;
	CHECK_OK(hamr_run_result_i64(r, "fib", &v));
	CHECK_EQ_INT(v, 610);
	CHECK(hamr_pool_default() != NULL);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}


/* ---- review regressions ------------------------------------------------------------ */

static hamr_plan *inner_plan;

/* A node that runs a whole plan on its own pool and waits for it: the
 * waiting worker must keep working, or a one-worker pool deadlocks. */
static int f_nested_run(hamr_call *c)
{
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = hamr_userdata(c)};
	hamr_run *r = NULL;
	int64_t v = -1;
	int rc = hamr_run_execute(&r, inner_plan, NULL, &o);
	if (!rc)
		rc = hamr_run_result_i64(r, "fib", &v);
	hamr_run_destroy(r);
	return rc ? hamr_fail(c, "inner run: %s", hamr_errmsg()) : hamr_ret_i64(c, v);
}

static void test_run_inside_a_node_on_the_same_pool(void)
{
	hamr_node_def inner_defs[] = {
		{.name = "k", .fn = f_const_n, .userdata = (void *)12, .type = HAMR_I64},
		{.name = "fib", .fn = f_fib, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("k", HAMR_I64))},
		{0}};
	hamr_module im = {"inner", inner_defs};
	hamr_graph *ig = NULL;
	CHECK_OK(hamr_graph_create(&ig));
	CHECK_OK(hamr_graph_add_module(ig, &im));
	const char *iout = "fib";
	CHECK_OK(hamr_plan_create(&inner_plan, ig, &iout, 1, NULL));
	for (int workers = 1; workers <= 2; workers++) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = workers;
		hamr_pool *p = NULL;
		CHECK_OK(hamr_pool_create(&p, &po));
		hamr_plan *plan = wide_sum_plan("outer", 8, f_nested_run, p);
		hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = p};
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_execute(&r, plan, NULL, &o));
		int64_t v = 0;
		CHECK_OK(hamr_run_result_i64(r, "total", &v));
		CHECK_EQ_INT(v, 8 * 144);
		hamr_run_destroy(r);
		hamr_plan_destroy(plan);
		hamr_pool_destroy(p);
	}
	hamr_plan_destroy(inner_plan);
	hamr_graph_destroy(ig);
}

static void test_destroy_right_after_start(void)
{
	hamr_node_def defs[] = {
		{.name = "k", .fn = f_const_n, .userdata = (void *)10, .type = HAMR_I64},
		{.name = "fib", .fn = f_fib, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("k", HAMR_I64))},
		{0}};
	hamr_module m = {"quick", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *out = "fib";
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, NULL));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = pool2};
	for (int i = 0; i < 300; i++) { /* destroy waits; nothing is freed under a worker */
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_create(&r, p, NULL, &o));
		CHECK_OK(hamr_run_start(r));
		hamr_run_destroy(r);
	}
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_pool_destroy_waits_for_runs_in_flight(void)
{
	static const hamr_tag blocking[] = {{"blocking", "1"}, {NULL, NULL}};
	hamr_node_def defs[] = {
		{.name = "a", .fn = f_spin_add, .type = HAMR_I64},
		{.name = "b", .fn = f_spin_add, .type = HAMR_I64, .tags = blocking,
		 .deps = DEPS(HAMR_DEP("a", HAMR_I64))},
		{.name = "c", .fn = f_spin_add, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("b", HAMR_I64))},
		{0}};
	hamr_module m = {"inflight", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *out = "c";
	hamr_plan *plan = NULL;
	CHECK_OK(hamr_plan_create(&plan, g, &out, 1, NULL));
	for (int i = 0; i < 20; i++) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = 2;
		po.blocking_workers = 2;
		hamr_pool *p = NULL;
		CHECK_OK(hamr_pool_create(&p, &po));
		hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = p};
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_create(&r, plan, NULL, &o));
		CHECK_OK(hamr_run_start(r));
		hamr_pool_destroy(p); /* finishes the run first */
		CHECK_OK(hamr_run_wait(r));
		int64_t v = 0;
		CHECK_OK(hamr_run_result_i64(r, "c", &v));
		CHECK_EQ_INT(v, 3);
		hamr_run_destroy(r);
	}
	hamr_plan_destroy(plan);
	hamr_graph_destroy(g);
}

static int f_str_then_bool(hamr_call *c)
{
	hamr_ret_str(c, "first");
	return hamr_ret_bool(c, true);
}

static int f_fail_then_recover(hamr_call *c)
{
	hamr_fail(c, "a message that must not leak");
	hamr_fail(c, NULL);
	return hamr_ret_i64(c, 5);
}

static void test_replaced_results_and_recovered_failures(void)
{
	hamr_node_def defs[] = {
		{.name = "flag", .fn = f_str_then_bool}, /* untyped: replaces */
		{.name = "typed_flag", .fn = f_str_then_bool, .type = HAMR_STR},
		{.name = "five", .fn = f_fail_then_recover, .type = HAMR_I64},
		{0}};
	hamr_module m = {"replace", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"flag", "five"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .pool = pool2};
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
	bool b = false;
	CHECK_OK(hamr_run_result_bool(r, "flag", &b));
	CHECK(b);
	int64_t v = 0;
	CHECK_OK(hamr_run_result_i64(r, "five", &v));
	CHECK_EQ_INT(v, 5);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	const char *out = "typed_flag";
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, NULL));
	CHECK_RC(hamr_run_execute(&r, p, NULL, &o), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_run_error(r)->message, "returned bool, but the node is declared str");
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

int main(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	po.blocking_workers = 128;
	CHECK_OK(hamr_pool_create(&pool2, &po));
	RUN_TEST(test_blocking_nodes_never_hold_compute_workers);
	RUN_TEST(test_the_calling_thread_runs_as_an_idle_worker);
	RUN_TEST(test_the_calling_thread_stays_out_when_nodes_would_notice);
	RUN_TEST(test_threads_share_a_pool_running_in_its_place);
	RUN_TEST(test_fork_join_inside_nodes);
	RUN_TEST(test_fail_fast_skips_dependents);
	RUN_TEST(test_cancel_from_another_thread);
	RUN_TEST(test_default_pool_and_executor_names);
	RUN_TEST(test_run_inside_a_node_on_the_same_pool);
	RUN_TEST(test_destroy_right_after_start);
	RUN_TEST(test_pool_destroy_waits_for_runs_in_flight);
	RUN_TEST(test_replaced_results_and_recovered_failures);
	/* last: a registered resource keeps every later run on the pools'
	 * threads */
	RUN_TEST(test_resource_made_once_per_worker);
	RUN_TEST(test_no_caller_in_the_workers_place_with_a_resource);
	hamr_pool_destroy(pool2);
	TEST_EXIT();
}
