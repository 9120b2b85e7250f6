// SPDX-License-Identifier: MIT
/* fork() after a pool was used. The child has one thread, the one that
 * forked, and none of the pools' workers: the default pool starts afresh
 * there on first use, a pool made by the parent is refused with
 * HAMR_ESTATE (saying whose it is) and destroyed without waiting for
 * workers that are not there, and the parent's pools are unaffected.
 *
 * Each child runs its checks and reports through its exit status. The
 * refusals and the destroys run in every configuration. The cases where
 * the child starts threads (the default pool's workers, a pool of its own)
 * and runs graphs are left out under the sanitizers: ThreadSanitizer
 * kills a child of a threaded program that starts a thread
 * (die_after_fork), and the AddressSanitizer allocator of gcc 12 does not
 * hold its locks across fork(), so a child that allocates much can block
 * forever on a lock that one of the parent's threads held at the fork. */
#include <hamr.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/sanitizers.h"

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END})

static int f_two(hamr_call *c)
{
	return hamr_ret_i64(c, 2);
}

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x);
}

/* x = 2 (tagged blocking=true when `blocking`), y = x * x */
static hamr_graph *graph;
static hamr_plan *plan, *plan_io;

static void make_plans(void)
{
	static const hamr_tag io[] = {{"blocking", "true"}, {NULL, NULL}};
	hamr_node_def x = {.name = "x", .fn = f_two, .type = HAMR_I64};
	hamr_node_def xio = {.name = "x_io", .fn = f_two, .type = HAMR_I64, .tags = io};
	hamr_node_def y = {.name = "y", .fn = f_square, .type = HAMR_I64,
	                   .deps = DEPS(HAMR_DEP("x", HAMR_I64))};
	hamr_node_def yio = {.name = "y_io", .fn = f_square, .type = HAMR_I64,
	                     .deps = DEPS(HAMR_DEP("x_io", HAMR_I64))};
	CHECK_OK(hamr_graph_create(&graph));
	CHECK_OK(hamr_graph_add_node(graph, "m", &x));
	CHECK_OK(hamr_graph_add_node(graph, "m", &xio));
	CHECK_OK(hamr_graph_add_node(graph, "m", &y));
	CHECK_OK(hamr_graph_add_node(graph, "m", &yio));
	const char *out = "y", *out_io = "y_io";
	CHECK_OK(hamr_plan_create(&plan, graph, &out, 1, NULL));
	CHECK_OK(hamr_plan_create(&plan_io, graph, &out_io, 1, NULL));
}

/* Runs `p` and returns its result (4), or the run's error code. */
static int64_t run_on(const hamr_plan *p, hamr_executor_kind ex, hamr_pool *pool)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = ex;
	o.pool = pool;
	hamr_run *r = NULL;
	int rc = hamr_run_execute(&r, p, NULL, &o);
	int64_t v = rc;
	if (!rc && (rc = hamr_run_result_i64(r, p == plan ? "y" : "y_io", &v)))
		v = rc;
	hamr_run_destroy(r);
	return v;
}

static void add_one(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static void range_sum(size_t lo, size_t hi, void *arg)
{
	atomic_fetch_add((atomic_long *)arg, (long)(hi - lo));
}

/* Runs fn in a child of this process and checks that its checks passed.
 * The child leaves with _exit: what the parent had buffered or registered
 * with atexit is the parent's. */
static void in_child(void (*fn)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		check_failures = 0;
		fn();
		fflush(stderr);
		_exit(check_failures ? 1 : 0);
	}
	int st = 0;
	CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	if (WIFSIGNALED(st))
		fprintf(stderr, "  child killed by signal %d\n", WTERMSIG(st));
	CHECK_EQ_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
}

/* A call on a pool of the parent's, in the child: refused, saying why. */
static void check_refused(int rc)
{
	CHECK_EQ_INT(rc, HAMR_ESTATE);
	char want[64];
	snprintf(want, sizeof want, "belongs to process %d", (int)getppid());
	CHECK_CONTAINS(hamr_errmsg(), want);
	CHECK_CONTAINS(hamr_errmsg(), "make a new pool in the child");
}

/* ---- the default pool ------------------------------------------------------ */

static hamr_pool *parents_default;

static void child_uses_the_default_pool(void)
{
	atomic_int n = 0;
#ifndef SANITIZED
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_SEQUENTIAL, NULL), 4);
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_THREADS, NULL), 4);
	CHECK_EQ_INT(run_on(plan_io, HAMR_EXEC_THREADS, NULL), 4);
	hamr_pool *d = hamr_pool_default();
	CHECK(d != NULL && d != parents_default);
	CHECK_OK(hamr_pool_call(d, add_one, &n));
	CHECK_EQ_INT(atomic_load(&n), 1);
	atomic_store(&n, 0);
#endif
	/* the parent's default pool, still held: refused, not freed */
	check_refused(hamr_pool_call(parents_default, add_one, &n));
	CHECK_EQ_INT(atomic_load(&n), 0);
}

static void test_a_child_gets_a_default_pool_of_its_own(void)
{
	/* the parent's default pool, in use, with its blocking pool */
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_THREADS, NULL), 4);
	CHECK_EQ_INT(run_on(plan_io, HAMR_EXEC_THREADS, NULL), 4);
	parents_default = hamr_pool_default();
	in_child(child_uses_the_default_pool);
	/* and the parent's still works */
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_THREADS, NULL), 4);
	CHECK_EQ_INT(run_on(plan_io, HAMR_EXEC_THREADS, NULL), 4);
}

/* ---- a pool made by the parent --------------------------------------------- */

static hamr_pool *parents;

static void child_is_refused_the_parents_pool(void)
{
	atomic_int n = 0;
	check_refused(hamr_pool_call(parents, add_one, &n));
	atomic_long sum = 0;
	check_refused(hamr_pool_parallel_for(parents, 0, 1000, range_sum, &sum));
	check_refused((int)run_on(plan, HAMR_EXEC_THREADS, parents));
	check_refused((int)run_on(plan_io, HAMR_EXEC_THREADS, parents));
	CHECK_EQ_INT(atomic_load(&n), 0);
	CHECK_EQ_INT(atomic_load(&sum), 0);
#ifndef SANITIZED
	/* the sequential executor needs no pool, and runs */
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_SEQUENTIAL, parents), 4);
#endif
	/* frees the child's copy; joins nothing, signals nobody */
	hamr_pool_destroy(parents);
#ifndef SANITIZED
	/* a pool made in the child is the child's */
	hamr_pool *mine = NULL;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&mine, &po));
	CHECK_EQ_INT(run_on(plan_io, HAMR_EXEC_THREADS, mine), 4);
	hamr_pool_destroy(mine);
#endif
}

static void test_a_child_is_refused_its_parents_pool(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&parents, &po));
	/* used every way first: a call, parallel_for, runs with and without
	 * the blocking pool */
	atomic_int n = 0;
	CHECK_OK(hamr_pool_call(parents, add_one, &n));
	atomic_long sum = 0;
	CHECK_OK(hamr_pool_parallel_for(parents, 0, 1000, range_sum, &sum));
	CHECK_EQ_INT(atomic_load(&sum), 1000);
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_THREADS, parents), 4);
	CHECK_EQ_INT(run_on(plan_io, HAMR_EXEC_THREADS, parents), 4);

	in_child(child_is_refused_the_parents_pool);

	/* the parent's pool still runs everything */
	CHECK_OK(hamr_pool_call(parents, add_one, &n));
	CHECK_EQ_INT(atomic_load(&n), 2);
	CHECK_EQ_INT(run_on(plan, HAMR_EXEC_THREADS, parents), 4);
	CHECK_EQ_INT(run_on(plan_io, HAMR_EXEC_THREADS, parents), 4);
	hamr_pool_destroy(parents);
	parents = NULL;
}

/* A pool never used before the fork: its workers exist in the parent all
 * the same, and are refused to the child just as well. */
static void test_a_child_is_refused_an_idle_parents_pool(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 1;
	CHECK_OK(hamr_pool_create(&parents, &po));
	in_child(child_is_refused_the_parents_pool);
	atomic_int n = 0;
	CHECK_OK(hamr_pool_call(parents, add_one, &n));
	CHECK_EQ_INT(atomic_load(&n), 1);
	hamr_pool_destroy(parents);
	parents = NULL;
}

/* ---- fork() inside a node ---------------------------------------------------- */

/* The child of a fork made inside a node is no worker: its thread is the
 * child's only one, and the pool it ran on is the parent's. */
static int f_fork_here(hamr_call *c)
{
	hamr_pool *mine = hamr_pool_default();
	pid_t pid = fork();
	if (pid < 0)
		return hamr_fail(c, "fork failed");
	if (pid == 0) {
		int ok = hamr_worker_index() == -1;
		atomic_int n = 0;
		ok &= hamr_pool_call(mine, add_one, &n) == HAMR_ESTATE;
		ok &= atomic_load(&n) == 0;
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return hamr_fail(c, "waitpid failed");
	return hamr_ret_i64(c, WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
}

static void test_fork_inside_a_node(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	hamr_node_def d = {.name = "child_status", .fn = f_fork_here, .type = HAMR_I64};
	CHECK_OK(hamr_graph_add_node(g, "m", &d));
	hamr_plan *p = NULL;
	const char *out = "child_status";
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, NULL));
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	hamr_run *r = NULL;
	fflush(stdout);
	CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
	int64_t v = -1;
	CHECK_OK(hamr_run_result_i64(r, "child_status", &v));
	CHECK_EQ_INT(v, 0);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

int main(void)
{
	make_plans();
	RUN_TEST(test_a_child_gets_a_default_pool_of_its_own);
	RUN_TEST(test_a_child_is_refused_its_parents_pool);
	RUN_TEST(test_a_child_is_refused_an_idle_parents_pool);
	RUN_TEST(test_fork_inside_a_node);
	hamr_plan_destroy(plan);
	hamr_plan_destroy(plan_io);
	hamr_graph_destroy(graph);
	TEST_EXIT();
}
