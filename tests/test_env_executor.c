// SPDX-License-Identifier: MIT
/* HAMR_EXECUTOR: the executor of a run whose options leave it unset
 * (NULL options, zeroed ones, HAMR_RUN_OPTS_INIT, designated initializers
 * that name other fields) is the one the variable names, sequential,
 * threads or processes, else the built-in default; an executor the
 * options name wins over the variable, which is then not read; a value
 * that names no executor fails hamr_run_create with HAMR_EINVAL, naming
 * the variable and the names it takes; HAMR_DISPLAY_ENV shows the
 * executor and where it came from.
 *
 * Where a run ran is what each node reports: the process and the thread
 * it ran on (the calling thread, a worker of the pool, or a worker
 * process), for a plain node and for every item of a map block. Nothing
 * here depends on timing. The fork server starts first in main, while
 * the test has one thread. */
#include <hamr.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/capture.h"
#include "tests/check.h"
#include "tests/nodes.h"

/* The built-in default executor, README's "Environment variables": what
 * a run with no executor in its options and no HAMR_EXECUTOR gets. */
static const char builtin[] = "sequential";

/* Where a node ran: on the calling thread as itself (the sequential
 * executor), as a worker of the pool (the threads executor: on a worker's
 * thread, or on the calling thread in an idle worker's place), in a
 * worker process. */
enum place { ON_CALLER, ON_WORKER, IN_PROCESS, ELSEWHERE };

static pid_t test_pid;
static pthread_t test_thread;

static int64_t here(void)
{
	if (getpid() != test_pid)
		return IN_PROCESS;
	if (hamr_worker_index() >= 0)
		return ON_WORKER;
	return pthread_equal(pthread_self(), test_thread) ? ON_CALLER : ELSEWHERE;
}

static int f_where(hamr_call *c)
{
	return hamr_ret_i64(c, here());
}

/* The places a block's items ran in, as a set of bits. */
static int f_places(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t set = 0;
	for (size_t i = 0; i < l.len; i++)
		set |= (int64_t)1 << hamr_list_i64(l, i);
	return hamr_ret_i64(c, set);
}

static const hamr_node_def defs[] = {
	INPUT_N,
	{.name = "where", .fn = f_where, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "item_where", .fn = f_where, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "item_places", .fn = f_places, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("item_where", HAMR_I64))},
	{0}};

static hamr_graph *graph;
static hamr_plan *plan;
static hamr_values *in;

/* What a run did: hamr_run_execute's code, where its plain node and its
 * block's items ran, and how many tasks went to worker processes. */
typedef struct outcome {
	int rc;
	int64_t where, item_places;
	uint64_t proc_tasks;
} outcome;

static outcome run(const hamr_run_opts *o)
{
	outcome out = {0, -1, -1, 0};
	hamr_run *r = NULL;
	out.rc = hamr_run_execute(&r, plan, in, o);
	if (!out.rc) {
		hamr_process_stats st;
		CHECK_OK(hamr_run_result_i64(r, "where", &out.where));
		CHECK_OK(hamr_run_result_i64(r, "item_places", &out.item_places));
		CHECK_OK(hamr_run_process_stats(r, &st));
		out.proc_tasks = st.tasks;
	}
	hamr_run_destroy(r);
	return out;
}

/* Where executor `name` runs nodes and items. */
static enum place place_of(const char *name)
{
	return !strcmp(name, "sequential") ? ON_CALLER :
	       !strcmp(name, "threads")    ? ON_WORKER :
	                                     IN_PROCESS;
}

/* Fails unless outcome `got` is a successful run on executor `name`:
 * every node and item where that executor runs them (the sequential one
 * on the calling thread, threads on the pool's workers, processes in
 * worker processes, with the tasks counted). */
static void check_ran_on(outcome got, const char *name, const char *why)
{
	enum place want = place_of(name);
	if (got.rc || got.where != want || got.item_places != (int64_t)1 << want ||
	    (got.proc_tasks != 0) != (want == IN_PROCESS)) {
		fprintf(stderr,
		        "%s: %s: expected the %s executor; got rc %d, node in place %lld, "
		        "items in places 0x%llx, %llu process tasks\n",
		        check_current, why, name, got.rc, (long long)got.where,
		        (long long)got.item_places, (unsigned long long)got.proc_tasks);
		check_failures++;
	}
}

/* run(o) with stderr into a file, whose text it returns (static: valid
 * until the next call). */
static const char *run_stderr(const hamr_run_opts *o, outcome *got)
{
	capture cap;
	capture_begin(&cap);
	*got = run(o);
	return capture_end(&cap);
}

/* The first run of the process: neither options nor environment choose,
 * so the built-in default runs it, and HAMR_DISPLAY_ENV says so. */
static void test_default_executor_is_the_builtin_one(void)
{
	unsetenv("HAMR_EXECUTOR");
	setenv("HAMR_DISPLAY_ENV", "1", 1);
	outcome got;
	const char *err = run_stderr(NULL, &got);
	check_ran_on(got, builtin, "no options, no HAMR_EXECUTOR");
	char want[128];
	snprintf(want, sizeof want, "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the %s executor)\n",
	         builtin);
	CHECK_CONTAINS(err, want);
	snprintf(want, sizeof want, "  HAMR_EXECUTOR = '%s' (default)\n", builtin);
	CHECK_CONTAINS(err, want);
	unsetenv("HAMR_DISPLAY_ENV");
	/* an empty variable is an unset one */
	setenv("HAMR_EXECUTOR", "", 1);
	check_ran_on(run(NULL), builtin, "HAMR_EXECUTOR empty");
	unsetenv("HAMR_EXECUTOR");
}

/* HAMR_DISPLAY_ENV shows the executor of the first run of each one with
 * its source: the environment, or the API when the options name it. */
static void test_display_env_shows_executor_and_source(void)
{
	setenv("HAMR_DISPLAY_ENV", "1", 1);
	setenv("HAMR_EXECUTOR", "processes", 1);
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	outcome got;
	const char *err = run_stderr(&o, &got);
	check_ran_on(got, "processes", "HAMR_EXECUTOR=processes");
	CHECK_CONTAINS(err, "HAMR DISPLAY ENVIRONMENT BEGIN (the first run of the processes executor)\n");
	CHECK_CONTAINS(err, "  HAMR_EXECUTOR = 'processes' (environment)\n");
	/* the one of sequential and threads that the default run has not
	 * shown yet, named by the options */
	int seq_shown = !strcmp(builtin, "sequential");
	o.executor = seq_shown ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL;
	const char *name = hamr_executor_name(o.executor);
	err = run_stderr(&o, &got);
	check_ran_on(got, name, "opts.executor over HAMR_EXECUTOR=processes");
	char want[128];
	snprintf(want, sizeof want, "  HAMR_EXECUTOR = '%s' (API)\n", name);
	CHECK_CONTAINS(err, want);
	unsetenv("HAMR_EXECUTOR");
	unsetenv("HAMR_DISPLAY_ENV");
}

/* Every way of leaving the executor unset takes it from HAMR_EXECUTOR:
 * nodes outside blocks and the items of map blocks alike. */
static void test_environment_picks_the_executor_of_unset_options(void)
{
	static const char *const names[] = {"sequential", "threads", "processes"};
	hamr_run_opts zeroed;
	memset(&zeroed, 0, sizeof zeroed);
	hamr_run_opts braces = {0}, init = HAMR_RUN_OPTS_INIT, other = {.max_items = 1000};
	const hamr_run_opts *forms[] = {NULL, &zeroed, &braces, &init, &other};
	const char *form_names[] = {"NULL options", "memset to 0", "{0}", "HAMR_RUN_OPTS_INIT",
	                            "{.max_items = 1000}"};
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		setenv("HAMR_EXECUTOR", names[k], 1);
		for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
			char why[96];
			snprintf(why, sizeof why, "HAMR_EXECUTOR=%s, %s", names[k], form_names[f]);
			check_ran_on(run(forms[f]), names[k], why);
		}
	}
	unsetenv("HAMR_EXECUTOR");
}

/* An executor named in the options wins over HAMR_EXECUTOR, whatever it
 * says. */
static void test_explicit_executor_wins_over_environment(void)
{
	static const char *const names[] = {"sequential", "threads", "processes"};
	for (size_t e = 0; e < 3; e++) {
		setenv("HAMR_EXECUTOR", names[e], 1);
		for (size_t k = 0; k < 3; k++) {
			hamr_run_opts o = HAMR_RUN_OPTS_INIT;
			CHECK_OK(hamr_executor_parse(names[k], &o.executor));
			char why[96];
			snprintf(why, sizeof why, "HAMR_EXECUTOR=%s, opts.executor %s", names[e],
			         names[k]);
			check_ran_on(run(&o), names[k], why);
		}
	}
	unsetenv("HAMR_EXECUTOR");
}

/* A value that names no executor (misspelt, in capitals, with spaces, or
 * one that a name alone cannot pick) fails the run before it is made,
 * naming the variable, the value and the names it takes; an executor in
 * the options does not read it. */
static void test_bad_value_fails_naming_the_variable(void)
{
	static const char *const bad[] = {"thread", "Threads", "SEQUENTIAL", " threads",
	                                  "threads ", "default", "backend", "1"};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		setenv("HAMR_EXECUTOR", bad[k], 1);
		hamr_run *r = NULL;
		CHECK_RC(hamr_run_create(&r, plan, in, NULL), HAMR_EINVAL);
		CHECK(r == NULL);
		char want[96];
		snprintf(want, sizeof want, "HAMR_EXECUTOR=%s: ", bad[k]);
		CHECK_CONTAINS(hamr_errmsg(), want);
		CHECK_CONTAINS(hamr_errmsg(), "expected sequential, threads, processes or mpi");
		hamr_run_opts init = HAMR_RUN_OPTS_INIT;
		CHECK_EQ_INT(run(&init).rc, HAMR_EINVAL);
		hamr_run_opts threads = {.executor = HAMR_EXEC_THREADS};
		check_ran_on(run(&threads), "threads", "opts.executor threads, HAMR_EXECUTOR bad");
	}
	unsetenv("HAMR_EXECUTOR");
	check_ran_on(run(NULL), builtin, "HAMR_EXECUTOR unset again");
}

int main(void)
{
	test_pid = getpid();
	test_thread = pthread_self();
	/* first, while the test has one thread: the fork server */
	CHECK_OK(hamr_processes_init());
	setenv("HAMR_PROCESSES", "2", 1);
	const char *outs[] = {"where", "item_places"};
	hamr_module m = {"env_executor", defs};
	CHECK_OK(hamr_graph_create(&graph));
	CHECK_OK(hamr_graph_add_module(graph, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", 4));
	CHECK_OK(hamr_plan_create(&plan, graph, outs, 2, in));
	RUN_TEST(test_default_executor_is_the_builtin_one); /* first: shows the default */
	RUN_TEST(test_display_env_shows_executor_and_source);
	RUN_TEST(test_environment_picks_the_executor_of_unset_options);
	RUN_TEST(test_explicit_executor_wins_over_environment);
	RUN_TEST(test_bad_value_fails_naming_the_variable);
	hamr_plan_destroy(plan);
	hamr_values_destroy(in);
	hamr_graph_destroy(graph);
	TEST_EXIT();
}
