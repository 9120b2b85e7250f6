// SPDX-License-Identifier: MIT
/* Forked copies of a program that uses the process executor: a copy
 * cannot run on the pools it inherited, used or not (refused, naming the
 * process they belong to), and destroying them there leaves the parent's
 * workers, arena and results as they were, even when forked while the
 * parent's run has tasks in them; what the copy writes into the arena
 * stays its own; the copy's default pool is refused until it starts a
 * fork server of its own, and then is its own. Each copy's checks count
 * in the copy, and its exit status says whether they held. Under
 * ThreadSanitizer the cases where a copy starts threads are left out. */
#include <hamr.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"
#include "tests/procexec.h"
#include "tests/procfs.h"
#include "tests/sanitizers.h"

/* A forked copy of the program that destroys the pool it inherited and
 * exits leaves the program's pool as it was: strings its workers make
 * in their chunks stay whole. */
static const hamr_node_def greet_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "greet", .fn = f_greet, .type = HAMR_STR, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "greetings", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("greet", HAMR_STR))},
	{0}};

static void check_greetings(int64_t n)
{
	const char *outs[] = {"greetings"};
	hamr_run_opts o = on_processes();
	fixture f = run_with(greet_defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "greetings"));
	CHECK_EQ_INT(l.len, n);
	int bad = 0;
	for (size_t k = 0; k < l.len; k++) {
		char want[64];
		snprintf(want, sizeof want, "hello %zu", k);
		bad += !hamr_list_str(l, k) || strcmp(hamr_list_str(l, k), want) != 0;
	}
	CHECK_EQ_INT(bad, 0);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 0);
	done(&f);
}

/* Runs fn in a forked copy of the test: its checks count there, and its
 * exit status says whether they all held. The copy ends with exit, so
 * that under AddressSanitizer it is checked for leaks too; one forked
 * while the parent's threads run ends with _exit, since what those threads
 * hold only on their stacks (which the copy has not) would read as leaked. */
static void in_child_ending(void (*fn)(void), int leak_check)
{
	fflush(stdout);
	fflush(stderr);
	pid_t child = fork();
	if (child == 0) {
		check_failures = 0;
		fn();
		if (!leak_check) {
			fflush(stderr);
			_exit(check_failures ? 1 : 0);
		}
		exit(check_failures ? 1 : 0);
	}
	int status = -1;
	CHECK_EQ_INT(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

static void in_child(void (*fn)(void))
{
	in_child_ending(fn, 1);
}

static void child_destroys_pp(void)
{
	hamr_procpool_destroy(pp);
}

static void test_a_forked_copy_leaves_the_pool(void)
{
	check_greetings(5000); /* the workers have chunks of their own now */
	in_child(child_destroys_pp);
	for (int round = 0; round < 3; round++)
		check_greetings(20000);
}

/* square_defs' block over n items on pool q (NULL: the default pool): the
 * run's rc (hamr_run_create's, else the run's), its total in *total. */
static int run_squares(hamr_procpool *q, int64_t n, int64_t *total)
{
	const char *outs[] = {"total"};
	hamr_run_opts o = on_processes();
	o.procpool = q;
	fixture f = run_with(square_defs, outs, 1, n, &o);
	int rc = f.create_rc ? f.create_rc : f.run_rc;
	*total = -1;
	if (!rc)
		hamr_run_result_i64(f.r, "total", total);
	done(&f);
	return rc;
}

/* plain_defs' "pid" node on pool q (NULL: the default pool): the rc, and
 * the pid of the worker that ran it. */
static int run_pid(hamr_procpool *q, int64_t *pid)
{
	const char *outs[] = {"pid"};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	o.procpool = q;
	fixture f = run_with(plain_defs, outs, 1, 1, &o);
	int rc = f.create_rc ? f.create_rc : f.run_rc;
	*pid = 0;
	if (!rc)
		hamr_run_result_i64(f.r, "pid", pid);
	done(&f);
	return rc;
}

static hamr_procpool *fresh; /* made, and never used before the fork */

/* In the copy: every run on an inherited pool is refused, naming the
 * process the pool belongs to; destroying them drops this copy's
 * mappings. */
static void child_refused(void)
{
	hamr_procpool *inherited[] = {pp, fresh};
	char want[96];
	snprintf(want, sizeof want, "this process pool belongs to process %d", (int)getppid());
	for (int k = 0; k < 2; k++) {
		int64_t total = 0, pid = 0;
		CHECK_RC(run_squares(inherited[k], 20, &total), HAMR_ESTATE);
		CHECK_CONTAINS(hamr_errmsg(), want);
		CHECK_CONTAINS(hamr_errmsg(), "make a new pool in the child");
#ifndef TSAN
		/* a plain node too: the processes executor starts the copy's
		 * thread pool, which ThreadSanitizer does not allow in a copy
		 * of a program with threads (the block above starts none) */
		CHECK_RC(run_pid(inherited[k], &pid), HAMR_ESTATE);
		CHECK_CONTAINS(hamr_errmsg(), want);
#else
		(void)pid;
#endif
		CHECK_EQ_INT(hamr_procpool_arena_used(inherited[k]), 0);
	}
	int maps = count_arena_maps();
	hamr_procpool_destroy(fresh);
	hamr_procpool_destroy(pp);
	CHECK_EQ_INT(count_arena_maps(), maps - 2);
}

/* Each of pool q's workers is the one it was, alive. */
static void check_same_workers(hamr_procpool *q, const pid_t *pids)
{
	for (int i = 0; i < hamr_procpool_size(q); i++) {
		CHECK_EQ_INT(hamr_procpool_pid(q, i), pids[i]);
		char st = proc_state(pids[i], NULL);
		CHECK(st != 0 && st != 'Z');
	}
}

/* A forked copy of the program cannot run on the pools it inherited,
 * used or not, and destroying them there leaves the parent's workers
 * alone: the parent's pools run as before. */
static void test_a_forked_copy_cannot_use_an_inherited_pool(void)
{
	int64_t total = 0;
	CHECK_OK(hamr_procpool_create(&fresh, &(hamr_procpool_opts){.processes = 2}));
	CHECK_OK(run_squares(pp, 50, &total));
	CHECK_EQ_INT(total, squares(50));
	pid_t pp_pids[64], fresh_pids[2];
	for (int i = 0; i < hamr_procpool_size(pp); i++)
		pp_pids[i] = hamr_procpool_pid(pp, i);
	for (int i = 0; i < 2; i++)
		fresh_pids[i] = hamr_procpool_pid(fresh, i);
	in_child(child_refused);
	check_same_workers(pp, pp_pids);
	check_same_workers(fresh, fresh_pids);
	CHECK_OK(run_squares(pp, 500, &total));
	CHECK_EQ_INT(total, squares(500));
	CHECK_OK(run_squares(fresh, 500, &total));
	CHECK_EQ_INT(total, squares(500));
	hamr_procpool_destroy(fresh);
	fresh = NULL;
}

static hamr_run *held; /* a run of the parent's, its result in the arena */

/* In the copy: the parent's result is readable; what the copy writes
 * there (as a release writes a count) and its releases stay its own. */
static void child_writes_and_releases(void)
{
	size_t len = 0;
	unsigned char *b = (unsigned char *)hamr_value_bytes(hamr_run_result(held, "big"), &len);
	CHECK_EQ_INT(len, 1 << 20);
	CHECK(b && b[4096 * 5] == 5);
	if (b)
		memset(b, 0xee, len);
	hamr_run_destroy(held);
	hamr_procpool_destroy(pp);
}

static void test_a_forked_copy_keeps_to_its_own_memory(void)
{
	const char *outs[] = {"big"};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	fixture f = run_with(plain_defs, outs, 1, 1 << 20, &o);
	CHECK_OK(f.run_rc);
	held = f.r;
	in_child(child_writes_and_releases);
	size_t len = 0;
	const unsigned char *b = hamr_value_bytes(hamr_run_result(f.r, "big"), &len);
	CHECK_EQ_INT(len, 1 << 20);
	int bad = 0;
	for (size_t k = 0; b && k < len; k += 4096)
		bad += b[k] != (unsigned char)(k / 4096);
	CHECK(b != NULL);
	CHECK_EQ_INT(bad, 0);
	done(&f);
	check_greetings(2000);
}

/* In the copy: the parent's default pool and server are not its own; with
 * a server of its own, its default pool starts afresh. */
static void child_default_pool(void)
{
	int64_t total = 0;
	CHECK_RC(run_squares(NULL, 20, &total), HAMR_ESTATE);
	CHECK_CONTAINS(hamr_errmsg(), "no fork server in this process");
	CHECK_CONTAINS(hamr_errmsg(), "call hamr_processes_init() in this one");
#ifndef TSAN
	/* (under ThreadSanitizer a forked copy of a program with threads
	 * has threads of the sanitizer's, so it cannot start a server) */
	CHECK_OK(hamr_processes_init());
	CHECK_OK(run_squares(NULL, 200, &total));
	CHECK_EQ_INT(total, squares(200));
	int64_t pid = 0;
	CHECK_OK(run_pid(NULL, &pid));
	CHECK(pid > 0 && parent_of(parent_of((pid_t)pid)) == getpid());
#endif
}

static void test_a_forked_copy_has_a_default_pool_of_its_own(void)
{
	int64_t total = 0, pid = 0;
	CHECK_OK(run_squares(NULL, 50, &total));
	CHECK_EQ_INT(total, squares(50));
	in_child(child_default_pool);
	CHECK_OK(run_squares(NULL, 500, &total));
	CHECK_EQ_INT(total, squares(500));
	CHECK_OK(run_pid(NULL, &pid));
	CHECK(pid > 0 && parent_of(parent_of((pid_t)pid)) == getpid());
}

static int f_gated(hamr_call *c)
{
	atomic_fetch_add(&sh->waiting, 1);
	while (!atomic_load(&sh->gate))
		sleep_ms(1);
	return hamr_ret_i64(c, 2 * hamr_arg_i64(c, 0));
}

static const hamr_node_def gated_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "gated", .fn = f_gated, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("gated", HAMR_I64))},
	{0}};

static void child_mid_run(void)
{
	int64_t total = 0;
	CHECK_RC(run_squares(pp, 20, &total), HAMR_ESTATE);
	int maps = count_arena_maps();
	hamr_procpool_destroy(pp);
	CHECK_EQ_INT(count_arena_maps(), maps - 1);
}

/* Forked while the parent's run has tasks in the pool's workers: the copy
 * is refused and destroys its copy of the pool; the parent's run ends as
 * it would have. */
static void test_a_fork_during_a_run(void)
{
	const char *outs[] = {"total"};
	fixture f = planned(gated_defs, outs, 1, 100);
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_THREADS; /* runs while this thread forks */
	atomic_store(&sh->gate, 0);
	atomic_store(&sh->waiting, 0);
	CHECK_OK(hamr_run_create(&f.r, f.p, f.in, &o));
	CHECK_OK(hamr_run_start(f.r));
	while (!atomic_load(&sh->waiting))
		sleep_ms(1);
	in_child_ending(child_mid_run, 0);
	atomic_store(&sh->gate, 1);
	CHECK_OK(hamr_run_wait(f.r));
	int64_t total = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, 99 * 100);
	done(&f);
	check_greetings(2000);
}

int main(void)
{
	if (procexec_start())
		return 1;
	/* these copies start no thread: every configuration runs them */
	RUN_TEST(test_a_forked_copy_leaves_the_pool);
	RUN_TEST(test_a_forked_copy_cannot_use_an_inherited_pool);
	RUN_TEST(test_a_forked_copy_keeps_to_its_own_memory);
	RUN_TEST(test_a_forked_copy_has_a_default_pool_of_its_own);
	RUN_TEST(test_a_fork_during_a_run);
	hamr_procpool_destroy(pp);
	TEST_EXIT();
}
