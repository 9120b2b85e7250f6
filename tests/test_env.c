// SPDX-License-Identifier: MIT
/* Knobs and where their values come from: HAMR_DISPLAY_ENV prints what a
 * pool and the first run of each executor resolved each knob to, and from
 * where (default, environment, API); an unknown HAMR_* variable gets a
 * warning naming the nearest known one; HAMR_MAX_ITEMS and max_items fail
 * the emit past the limit, naming the node and the limit; HAMR_EXECUTOR
 * asking for worker processes in a program without a fork server fails
 * the run, saying so.
 *
 * Everything hamr prints goes to stderr, which the test points at a file
 * for the first part; the environment is set before hamr's first call,
 * since the check for unknown variables runs once per process. */
#include <hamr.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tests/capture.h"
#include "tests/check.h"
#include "tests/nodes.h"

static int f_count(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)hamr_arg_list(c, 0).len);
}

static const hamr_node_def defs[] = {
	{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "count", .fn = f_count, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("items", HAMR_I64))},
	{0}};

static atomic_int ran;

static int f_counted(hamr_call *c)
{
	atomic_fetch_add(&ran, 1);
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static int f_list_items(hamr_call *c)
{
	hamr_value l;
	int rc = hamr_value_make_list(&l, HAMR_I64, 0);
	for (int64_t i = 0; !rc && i < hamr_arg_i64(c, 0); i++)
		rc = hamr_list_append_i64(&l, i);
	return rc ? rc : hamr_ret_value(c, &l);
}

/* two nodes per item, fed by an emitting or a list-returning node */
#define TASK_DEFS(items_fn)                                                              \
	{{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},                       \
	 {.name = "items", .fn = items_fn, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE, \
	  .deps = DEPS(HAMR_DEP("n", HAMR_I64))},                                        \
	 {.name = "a", .fn = f_counted, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))}, \
	 {.name = "b", .fn = f_counted, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))}, \
	 {.name = "count", .fn = f_count, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,    \
	  .deps = DEPS(HAMR_DEP_COLLECTED("a", HAMR_I64), HAMR_DEP_COLLECTED("b", HAMR_I64))}, \
	 {0}}

static hamr_pool *pool;

/* Runs the plan for "count" of `d` with n items; returns the run's code
 * and the count in *count (NULL: not read). A run refused with
 * HAMR_ERANGE must name "items", and say `want` when given. */
static int run_plan(const hamr_node_def *d, int64_t n, const hamr_run_opts *o, int64_t *count,
                    const char *want)
{
	hamr_module m = {"env", d};
	hamr_graph *g = NULL;
	hamr_values *in = NULL;
	hamr_plan *p = NULL;
	hamr_run *r = NULL;
	const char *outs[] = {"count"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", n));
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	int rc = hamr_run_execute(&r, p, in, o);
	if (count)
		*count = -1;
	if (!rc && count)
		CHECK_OK(hamr_run_result_i64(r, "count", count));
	if (rc == HAMR_ERANGE) {
		CHECK_EQ_STR(hamr_run_error(r)->node, "items");
		if (want)
			CHECK_CONTAINS(hamr_run_error(r)->message, want);
	}
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
	return rc;
}

static void test_display_env_and_unknown_variables(void)
{
	capture cap;
	capture_begin(&cap);
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 3;
	int rc = hamr_pool_create(&pool, &po);
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	o.max_inflight = 5;
	int64_t count = 0;
	int rr = run_plan(defs, 4, &o, &count, "more than 10 items");
	const char *err = capture_end(&cap);
	CHECK_OK(rc);
	CHECK_OK(rr);
	CHECK_EQ_INT(count, 4);
	CHECK_CONTAINS(err, "hamr: warning: unknown variable HAMR_WORKRES; did you mean HAMR_WORKERS?");
	CHECK_CONTAINS(err, "unknown variable HAMR_ZZZZZZZZZZZZ (hamr reads none of that name)");
	CHECK_CONTAINS(err, "unknown variable HAMR_EXECUTER; did you mean HAMR_EXECUTOR?");
	CHECK(strstr(err, "HAMR_TEST_LONG") == NULL); /* known, if set */
	CHECK_CONTAINS(err, "HAMR DISPLAY ENVIRONMENT BEGIN (pool)");
	CHECK_CONTAINS(err, "  HAMR_WORKERS = '3' (API)\n");
	CHECK_CONTAINS(err, "  HAMR_SPIN = '20' (environment)\n");
	CHECK_CONTAINS(err, "  HAMR_PIN = '0' (default)\n");
	CHECK_CONTAINS(err, "  HAMR_GRAIN = 'lazy' (default)\n");
	CHECK_CONTAINS(err, "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the threads executor)");
	CHECK_CONTAINS(err, "  HAMR_EXECUTOR = 'threads' (API)\n");
	CHECK_CONTAINS(err, "  HAMR_MAX_INFLIGHT = '5' (API)\n");
	CHECK_CONTAINS(err, "  HAMR_MAX_ITEMS = 'none' (default)\n");
	CHECK_CONTAINS(err, "  HAMR_GROUPING = 'node' (environment)\n");
	CHECK_CONTAINS(err, "HAMR DISPLAY ENVIRONMENT END");
}

/* One node, no map block: the plainest plan a sequential run can have. */
static const hamr_node_def plain_defs[] = {
	{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
	{.name = "count", .fn = f_counted, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{0}};

/* Runs plain_defs' "count" with the options `o`, with stderr into a file
 * whose text it returns (static: valid until the next call); the run's
 * code in *rc. */
static const char *plain_run_stderr(const hamr_run_opts *o, int *rc)
{
	capture cap;
	capture_begin(&cap);
	*rc = run_plan(plain_defs, 3, o, NULL, NULL);
	return capture_end(&cap);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The sequential executor's first run shows its knobs too, once, even
 * without map blocks; the threads executor, shown already, stays quiet. */
static void test_display_env_once_per_executor(void)
{
	setenv("HAMR_DISPLAY_ENV", "1", 1);
	hamr_run_opts seq = HAMR_RUN_OPTS_INIT, thr = HAMR_RUN_OPTS_INIT;
	seq.executor = HAMR_EXEC_SEQUENTIAL;
	seq.max_items = 7;
	thr.executor = HAMR_EXEC_THREADS;
	thr.pool = pool;
	int rc;
	char first[16384];
	snprintf(first, sizeof first, "%s", plain_run_stderr(&seq, &rc));
	CHECK_OK(rc);
	CHECK_CONTAINS(first, "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the sequential executor)\n");
	CHECK_CONTAINS(first, "  HAMR_EXECUTOR = 'sequential' (API)\n");
	CHECK_CONTAINS(first, "  HAMR_MAX_ITEMS = '7' (API)\n");
	CHECK_CONTAINS(first, "  HAMR_MAX_INFLIGHT = '65536' (default)\n");
	CHECK_CONTAINS(first, "  HAMR_STATS = '0' (default)\n");
	CHECK_CONTAINS(first, "HAMR DISPLAY ENVIRONMENT END\n");
	CHECK_EQ_INT(count_of(first, "HAMR DISPLAY ENVIRONMENT BEGIN"), 1);
	/* once per process for each executor */
	CHECK_EQ_STR(plain_run_stderr(&seq, &rc), "");
	CHECK_OK(rc);
	CHECK_EQ_STR(plain_run_stderr(&thr, &rc), "");
	CHECK_OK(rc);
	unsetenv("HAMR_DISPLAY_ENV");
}

/* A run reads its knobs whatever its plan: a malformed one fails a run
 * without map blocks too, naming the variable. */
static void test_run_knobs_strict_without_blocks(void)
{
	hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
	setenv("HAMR_MAX_ITEMS", "ten", 1);
	CHECK_EQ_INT(run_plan(plain_defs, 3, &seq, NULL, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_MAX_ITEMS=ten");
	unsetenv("HAMR_MAX_ITEMS");
	CHECK_OK(run_plan(plain_defs, 3, &seq, NULL, NULL));
}

/* HAMR_EXECUTOR=processes in a program that never started the fork
 * server fails the run as opts.executor = HAMR_EXEC_PROCESSES does,
 * saying where the choice came from; an executor in the options is not
 * taken from the variable. (tests/test_env_executor.c runs each executor
 * from the variable, with a fork server.) */
static void test_processes_from_environment_without_fork_server(void)
{
	setenv("HAMR_EXECUTOR", "processes", 1);
	atomic_store(&ran, 0);
	hamr_run_opts dflt = HAMR_RUN_OPTS_INIT, seq = {.executor = HAMR_EXEC_SEQUENTIAL};
	CHECK_EQ_INT(run_plan(plain_defs, 3, &dflt, NULL, NULL), HAMR_ESTATE);
	CHECK_CONTAINS(hamr_errmsg(), "call hamr_processes_init()");
	CHECK_CONTAINS(hamr_errmsg(), "(the processes executor, from HAMR_EXECUTOR)");
	CHECK_EQ_INT(run_plan(plain_defs, 3, NULL, NULL, NULL), HAMR_ESTATE);
	CHECK_EQ_INT(atomic_load(&ran), 0);
	CHECK_OK(run_plan(plain_defs, 3, &seq, NULL, NULL));
	CHECK_EQ_INT(atomic_load(&ran), 1);
	unsetenv("HAMR_EXECUTOR");
	/* the same executor from the options: the message of old */
	hamr_run_opts procs = {.executor = HAMR_EXEC_PROCESSES};
	CHECK_EQ_INT(run_plan(plain_defs, 3, &procs, NULL, NULL), HAMR_ESTATE);
	CHECK_CONTAINS(hamr_errmsg(), "call hamr_processes_init()");
	CHECK(strstr(hamr_errmsg(), "HAMR_EXECUTOR") == NULL);
}

static void test_max_tasks(void)
{
	const hamr_node_def emitting[] = TASK_DEFS(f_items), listing[] = TASK_DEFS(f_list_items);
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	o.max_tasks = 10;
	/* a task per item */
	o.grouping = HAMR_GROUPING_BLOCK;
	CHECK_OK(run_plan(emitting, 10, &o, NULL, "more than 10 tasks"));
	CHECK_EQ_INT(run_plan(emitting, 11, &o, NULL, "more than 10 tasks"), HAMR_ERANGE);
	/* a task per node of each item: two nodes */
	o.grouping = HAMR_GROUPING_NODE;
	CHECK_OK(run_plan(emitting, 5, &o, NULL, "more than 10 tasks"));
	CHECK_EQ_INT(run_plan(emitting, 6, &o, NULL, "more than 10 tasks"), HAMR_ERANGE);
	/* with max_items too, the smaller limit refuses, and says which */
	hamr_run_opts both = o;
	both.max_items = 4; /* node grouping: 5 items make 10 tasks */
	CHECK_EQ_INT(run_plan(emitting, 5, &both, NULL, "more than 4 items"), HAMR_ERANGE);
	both.max_items = 6;
	CHECK_OK(run_plan(emitting, 5, &both, NULL, NULL));
	CHECK_EQ_INT(run_plan(emitting, 6, &both, NULL, "more than 10 tasks"), HAMR_ERANGE);
	/* fewer tasks than one item makes: the first item is refused */
	both.max_items = 0;
	both.max_tasks = 1;
	atomic_store(&ran, 0);
	CHECK_EQ_INT(run_plan(emitting, 1, &both, NULL, "more than 1 tasks"), HAMR_ERANGE);
	CHECK_EQ_INT(atomic_load(&ran), 0);
	/* a returned list: refused before any item runs */
	atomic_store(&ran, 0);
	CHECK_EQ_INT(run_plan(listing, 6, &o, NULL, "more than 10 tasks"), HAMR_ERANGE);
	CHECK_EQ_INT(atomic_load(&ran), 0);
	/* a returned list past max_items: refused, naming the limit */
	hamr_run_opts li = o;
	li.max_tasks = 0;
	li.max_items = 5;
	atomic_store(&ran, 0);
	CHECK_EQ_INT(run_plan(listing, 6, &li, NULL, NULL), HAMR_ERANGE);
	CHECK_CONTAINS(hamr_errmsg(), "returned 6 items, more than the limit of 5");
	CHECK_EQ_INT(atomic_load(&ran), 0);
	/* HAMR_STATS is read strictly */
	setenv("HAMR_STATS", "yes", 1);
	CHECK_EQ_INT(run_plan(emitting, 1, &li, NULL, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_STATS=yes");
	unsetenv("HAMR_STATS");
	/* auto grouping's batches are not limited */
	o.grouping = HAMR_GROUPING_AUTO;
	CHECK_OK(run_plan(emitting, 1000, &o, NULL, "more than 10 tasks"));
	/* from the environment, strictly */
	o.grouping = HAMR_GROUPING_BLOCK;
	o.max_tasks = 0;
	setenv("HAMR_MAX_TASKS", "10", 1);
	CHECK_EQ_INT(run_plan(emitting, 11, &o, NULL, "more than 10 tasks"), HAMR_ERANGE);
	setenv("HAMR_MAX_TASKS", "-3", 1);
	CHECK_EQ_INT(run_plan(emitting, 1, &o, NULL, "more than 10 tasks"), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_MAX_TASKS=-3");
	unsetenv("HAMR_MAX_TASKS");
	CHECK_OK(run_plan(emitting, 11, &o, NULL, "more than 10 tasks"));
}

static void test_max_items(void)
{
	unsetenv("HAMR_DISPLAY_ENV");
	hamr_run_opts seq = HAMR_RUN_OPTS_INIT, thr = HAMR_RUN_OPTS_INIT;
	seq.executor = HAMR_EXEC_SEQUENTIAL;
	thr.executor = HAMR_EXEC_THREADS;
	thr.pool = pool;
	const hamr_run_opts *each[] = {&seq, &thr};
	for (int k = 0; k < 2; k++) {
		hamr_run_opts o = *each[k];
		o.max_items = 10;
		int64_t count = 0;
		CHECK_OK(run_plan(defs, 10, &o, &count, "more than 10 items")); /* at the limit: fine */
		CHECK_EQ_INT(count, 10);
		CHECK_EQ_INT(run_plan(defs, 11, &o, &count, "more than 10 items"), HAMR_ERANGE);
		/* from the environment, strictly */
		o.max_items = 0;
		setenv("HAMR_MAX_ITEMS", "10", 1);
		CHECK_EQ_INT(run_plan(defs, 500, &o, &count, "more than 10 items"), HAMR_ERANGE);
		setenv("HAMR_MAX_ITEMS", "ten", 1);
		CHECK_EQ_INT(run_plan(defs, 5, &o, &count, "more than 10 items"), HAMR_EINVAL);
		CHECK_CONTAINS(hamr_errmsg(), "HAMR_MAX_ITEMS=ten");
		unsetenv("HAMR_MAX_ITEMS");
		CHECK_OK(run_plan(defs, 500, &o, &count, "more than 10 items"));
		CHECK_EQ_INT(count, 500);
	}
}

int main(void)
{
	/* before hamr's first call: the check of the environment runs once */
	setenv("HAMR_WORKRES", "3", 1);
	setenv("HAMR_ZZZZZZZZZZZZ", "1", 1);
	setenv("HAMR_EXECUTER", "threads", 1);
	setenv("HAMR_SPIN", "20", 1);
	setenv("HAMR_GROUPING", "node", 1);
	setenv("HAMR_DISPLAY_ENV", "1", 1);
	RUN_TEST(test_display_env_and_unknown_variables);
	unsetenv("HAMR_GROUPING");
	RUN_TEST(test_display_env_once_per_executor);
	RUN_TEST(test_run_knobs_strict_without_blocks);
	RUN_TEST(test_max_items);
	RUN_TEST(test_processes_from_environment_without_fork_server);
	RUN_TEST(test_max_tasks);
	hamr_pool_destroy(pool);
	TEST_EXIT();
}
