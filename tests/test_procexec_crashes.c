// SPDX-License-Identifier: MIT
/* Tasks in the process executor's workers that do not end well: workers
 * killed (SIGKILL, SIGSEGV) and their items retried or reported with
 * node, item, pid, signal and attempt; tasks that wait forever ended by
 * their timeout; a worker that died on its own, found at its timeout,
 * reported as the crash it was; a dead worker's arena space reclaimed;
 * cancel stopping running tasks; a run whose fork server dies failing
 * instead of waiting; and, after all of it, no descriptor, arena mapping
 * or zombie left.
 *
 * Crashes are injected by the nodes themselves on their first attempt
 * (hamr_attempt), chosen from the item index by a fixed hash, so every
 * run knows which items must fail or succeed. No outcome depends on how
 * fast the machine is: a run with crashes has a timeout no slow task can
 * reach, and a run that tests timeouts times only tasks that wait for
 * something that never comes. */
#include <dirent.h>
#include <hamr.h>
#include <pthread.h>
#include <signal.h>
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

/* A timeout for runs with crashes: a day, which no task that merely runs
 * slowly (a sanitizer's report on a loaded machine) reaches, so a crash is
 * never taken for a hang. */
#define NO_TIMEOUT_MS (24L * 3600 * 1000)
/* A timeout for tasks that wait forever: only the timeout ends them. */
#define HANG_TIMEOUT_MS 100
#define HANG_TIMEOUT_TEXT "HAMR_TASK_TIMEOUT (100 ms)"

/* Which items crash on their first attempt, and how: about 10%. */
static int mischief(int64_t i)
{
	uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h % 10 == 0 ? 1 + (int)(h / 10 % 2) : 0; /* 1 kill, 2 segv */
}

static int f_risky(hamr_call *c)
{
	int64_t i = hamr_arg_i64(c, 0);
	if (hamr_attempt(c) == 1) {
		switch (mischief(i)) {
		case 1:
			kill(getpid(), SIGKILL);
			break;
		case 2:
			raise(SIGSEGV);
			break;
		default:
			break;
		}
	}
	return hamr_ret_i64(c, 3 * i + hamr_attempt(c) - 1);
}

static const hamr_node_def risky_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "risky", .fn = f_risky, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "all", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("risky", HAMR_I64))},
	{.name = "values", .kind = HAMR_NODE_COLLECT, .type = HAMR_LIST, .fn = f_list,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("risky", HAMR_I64))},
	{0}};

static void test_crashes_with_retries(void)
{
	const char *outs[] = {"all"};
	int64_t n = 1000, want = 0, bad = 0;
	for (int64_t i = 0; i < n; i++) {
		want += 3 * i + (mischief(i) ? 1 : 0); /* the retry's value */
		bad += mischief(i) != 0;
	}
	CHECK(bad >= 60 && bad <= 140);
	hamr_run_opts o = on_processes();
	o.retries = 1;
	o.task_timeout_ms = NO_TIMEOUT_MS;
	fixture f = run_with(risky_defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	int64_t all = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "all", &all));
	CHECK_EQ_INT(all, want);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, bad);
	CHECK_EQ_INT(st.timeouts, 0);
	CHECK_EQ_INT(st.retries, bad);
	CHECK_EQ_INT(st.tasks, n);
	done(&f);
}

static void test_crashes_without_retries(void)
{
	const char *outs[] = {"values"};
	int64_t n = 1000;
	hamr_run_opts o = on_processes();
	o.retries = HAMR_OFF;
	o.task_timeout_ms = NO_TIMEOUT_MS;
	o.policy = HAMR_KEEP_GOING;
	fixture f = run_with(risky_defs, outs, 1, n, &o);
	CHECK_RC(f.run_rc, HAMR_ECRASH);
	size_t n_bad = 0;
	for (int64_t i = 0; i < n; i++)
		n_bad += mischief(i) != 0;
	CHECK_EQ_INT(hamr_run_error_count(f.r), n_bad);
	int kills = 0, segvs = 0;
	for (size_t k = 0; k < hamr_run_error_count(f.r); k++) {
		const hamr_error_info *e = hamr_run_error_at(f.r, k);
		CHECK_EQ_STR(e->node, "risky");
		CHECK(e->item >= 0 && e->item < n && mischief(e->item) != 0);
		CHECK(e->pid > 0 && e->pid != getpid());
		CHECK_EQ_INT(e->attempt, 1);
		CHECK_EQ_INT(e->code, HAMR_ECRASH);
		int how = e->item >= 0 && e->item < n ? mischief(e->item) : 0;
		if (how == 1) {
			kills++;
			CHECK_EQ_INT(e->signal, SIGKILL);
			CHECK_CONTAINS(e->message, "signal 9 (SIGKILL)");
		} else if (how == 2) {
			segvs++;
			/* AddressSanitizer and ThreadSanitizer catch SIGSEGV,
			 * report, and exit */
#ifdef SANITIZED
			CHECK_CONTAINS(e->message, "exited with status");
#else
			CHECK_EQ_INT(e->signal, SIGSEGV);
			CHECK_CONTAINS(e->message, "SIGSEGV");
#endif
		}
		char pid[32];
		snprintf(pid, sizeof pid, "process %d", e->pid);
		CHECK_CONTAINS(e->message, pid);
	}
	CHECK(kills > 0 && segvs > 0);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, n_bad);
	CHECK_EQ_INT(st.timeouts, 0);
	/* every other item's value is there, in item order */
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "values"));
	CHECK_EQ_INT(l.len, (size_t)n - n_bad);
	size_t k = 0;
	for (int64_t i = 0; i < n && k < l.len; i++)
		if (!mischief(i))
			CHECK_EQ_INT(hamr_list_i64(l, k++), 3 * i);
	done(&f);
}

/* Waits for what never comes: only a kill ends it. */
static int f_stuck(hamr_call *c)
{
	(void)c;
	atomic_fetch_add(&sh->waiting, 1);
	for (;;)
		pause();
	return 0; /* never */
}

static const hamr_node_def stuck_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "stuck", .fn = f_stuck, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "values", .kind = HAMR_NODE_COLLECT, .type = HAMR_LIST, .fn = f_list,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("stuck", HAMR_I64))},
	{0}};

/* Every task waits forever, so each attempt ends by its timeout, whatever
 * the machine's speed: each item fails on its last attempt. */
static void test_timeouts_with_and_without_retries(void)
{
	const char *outs[] = {"values"};
	int64_t n = 8;
	for (int retries = 0; retries <= 2; retries += 2) {
		hamr_run_opts o = on_processes();
		o.retries = retries ? retries : HAMR_OFF;
		o.task_timeout_ms = HANG_TIMEOUT_MS;
		o.policy = HAMR_KEEP_GOING;
		fixture f = run_with(stuck_defs, outs, 1, n, &o);
		CHECK_RC(f.run_rc, HAMR_ETIMEDOUT);
		CHECK_EQ_INT(hamr_run_error_count(f.r), n);
		uint64_t items_seen = 0;
		for (size_t k = 0; k < hamr_run_error_count(f.r); k++) {
			const hamr_error_info *e = hamr_run_error_at(f.r, k);
			CHECK_EQ_STR(e->node, "stuck");
			CHECK_EQ_INT(e->code, HAMR_ETIMEDOUT);
			CHECK_EQ_INT(e->signal, SIGKILL);
			CHECK_EQ_INT(e->attempt, retries + 1);
			CHECK(e->pid > 0 && e->pid != getpid());
			CHECK_CONTAINS(e->message, HANG_TIMEOUT_TEXT);
			CHECK_CONTAINS(e->message, "which was killed");
			char pid[32];
			snprintf(pid, sizeof pid, "process %d", e->pid);
			CHECK_CONTAINS(e->message, pid);
			if (e->item >= 0 && e->item < n)
				items_seen |= 1ull << e->item;
		}
		CHECK_EQ_INT(items_seen, (1ull << n) - 1); /* each item once */
		CHECK_EQ_INT(hamr_value_list(hamr_run_result(f.r, "values")).len, 0);
		hamr_process_stats st;
		CHECK_OK(hamr_run_process_stats(f.r, &st));
		CHECK_EQ_INT(st.timeouts, n * (retries + 1));
		CHECK_EQ_INT(st.retries, n * retries);
		CHECK_EQ_INT(st.crashes, 0);
		CHECK_EQ_INT(st.tasks, 0);
		done(&f);
	}
}

/* The worker dies of its own accord: exits with status 5, or, with
 * sh->self_kill, sends itself the SIGKILL a timeout would send. */
static int f_exit(hamr_call *c)
{
	(void)c;
	atomic_store(&sh->exiter, (int)getpid());
	if (atomic_load(&sh->self_kill))
		raise(SIGKILL);
	_exit(5);
}

static const hamr_node_def exit_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "exits", .fn = f_exit, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "values", .kind = HAMR_NODE_COLLECT, .type = HAMR_LIST, .fn = f_list,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("exits", HAMR_I64))},
	{0}};

/* With the fork server stopped: once the worker that exits is a zombie
 * (which the stopped server cannot reap), waits out the timeout three
 * times over, so that the program has found the task past it and asked
 * the server to kill the worker, and lets the server go on. The outcome
 * does not hang on how long that is: a server let go sooner reaps the
 * worker first, and that is a crash too. */
static void *continue_server(void *server)
{
	pid_t w;
	while (!(w = atomic_load(&sh->exiter)) || proc_state(w, NULL) != 'Z')
		sleep_ms(1);
	sleep_ms(3 * HANG_TIMEOUT_MS);
	kill((pid_t)(intptr_t)server, SIGCONT);
	return NULL;
}

/* A worker found dead when its task's timeout is handled died of its own
 * accord: the run reports how (exit status 5, or its own SIGKILL), not a
 * timeout. The fork server is stopped while the task runs, so the worker
 * stays a zombie, dead and not yet reaped, when the program asks for the
 * kill. The SIGKILL case needs the server's word that it killed nothing:
 * the death alone looks like the kill's. */
static void death_at_the_timeout(int self_kill)
{
	const char *outs[] = {"values"};
	atomic_store(&sh->exiter, 0);
	atomic_store(&sh->self_kill, self_kill);
	pid_t server = parent_of(hamr_procpool_pid(pp, 0));
	CHECK(server > 0 && server != getpid());
	kill(server, SIGSTOP);
	while (proc_state(server, NULL) != 'T')
		sleep_ms(1);
	pthread_t cont;
	int helper = !pthread_create(&cont, NULL, continue_server, (void *)(intptr_t)server);
	CHECK(helper);
	if (!helper) {
		kill(server, SIGCONT);
		return;
	}
	hamr_run_opts o = on_processes();
	o.retries = HAMR_OFF;
	o.task_timeout_ms = HANG_TIMEOUT_MS;
	o.policy = HAMR_KEEP_GOING;
	fixture f = run_with(exit_defs, outs, 1, 1, &o);
	pthread_join(cont, NULL);
	CHECK_RC(f.run_rc, HAMR_ECRASH);
	CHECK_EQ_INT(hamr_run_error_count(f.r), 1);
	const hamr_error_info *e = hamr_run_error(f.r);
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ_INT(e->code, HAMR_ECRASH);
		CHECK_EQ_INT(e->item, 0);
		CHECK_EQ_INT(e->signal, self_kill ? SIGKILL : 0);
		CHECK_EQ_INT(e->pid, atomic_load(&sh->exiter));
		CHECK_CONTAINS(e->message, self_kill ? "killed by signal 9" : "exited with status 5");
	}
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 1);
	CHECK_EQ_INT(st.timeouts, 0);
	done(&f);
	/* the pool goes on, its worker replaced */
	int64_t total = 0;
	const char *tot[] = {"total"};
	hamr_run_opts o2 = on_processes();
	f = run_with(square_defs, tot, 1, 50, &o2);
	CHECK_OK(f.run_rc);
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, squares(50));
	done(&f);
}

static void test_a_death_found_at_the_timeout_is_a_crash(void)
{
	death_at_the_timeout(0);
	death_at_the_timeout(1);
	atomic_store(&sh->self_kill, 0);
}

/* Allocates its result in the arena, and then misbehaves, on the first
 * attempt of one item in ten. */
static int f_risky_alloc(hamr_call *c)
{
	int64_t i = hamr_arg_i64(c, 0);
	unsigned char *b = hamr_ret_alloc(c, 100000);
	if (!b)
		return HAMR_ENOMEM;
	memset(b, (int)(i & 0x7f), 100000);
	if (hamr_attempt(c) == 1 && mischief(i) == 1)
		kill(getpid(), SIGKILL);
	if (hamr_attempt(c) == 1 && mischief(i) == 2)
		raise(SIGSEGV);
	return 0;
}

static int add_len(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	size_t n = 0;
	const unsigned char *b = hamr_value_bytes(x, &n);
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + (int64_t)n + (b ? b[n / 2] : 0));
	return 0;
}

static const hamr_fold len_sum = {HAMR_DEFAULT_I64(0), add_len, NULL};

static const hamr_node_def alloc_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "block", .fn = f_risky_alloc, .type = HAMR_BYTES,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "bytes", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &len_sum,
	 .deps = DEPS(HAMR_DEP_COLLECTED("block", HAMR_BYTES))},
	{0}};

static void test_crashed_workers_space_comes_back(void)
{
	size_t before = hamr_procpool_arena_used(pp);
	const char *outs[] = {"bytes"};
	hamr_run_opts o = on_processes();
	o.retries = 1;
	int64_t n = 300, want = 0, crashes = 0;
	for (int64_t i = 0; i < n; i++) {
		want += 100000 + (i & 0x7f);
		crashes += mischief(i) == 1 || mischief(i) == 2;
	}
	fixture f = run_with(alloc_defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	int64_t bytes = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "bytes", &bytes));
	CHECK_EQ_INT(bytes, want);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, crashes);
	CHECK(crashes >= 10);
	CHECK_EQ_INT(st.bytes_copied, 0);
	done(&f);
	/* what the dead workers held came back with them; what lives on
	 * sits in the surviving workers' current chunks, at most one each (a
	 * worker lets go of the chunks of results the program read when it
	 * next looks: waited for, however long that takes; if it never
	 * happens the test's timeout fails it) */
	size_t limit = before + (size_t)hamr_procpool_size(pp) * (256u << 10);
	while (hamr_procpool_arena_used(pp) > limit)
		sleep_ms(1);
	CHECK(hamr_procpool_arena_used(pp) <= limit);
}

static int f_hang(hamr_call *c)
{
	if (hamr_arg_i64(c, 0) >= 3) {
		atomic_fetch_add(&sh->waiting, 1);
		for (;;)
			pause();
	}
	return hamr_ret_i64(c, 1);
}

static const hamr_node_def hang_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "hang", .fn = f_hang, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("hang", HAMR_I64))},
	{0}};

static void test_cancel_stops_running_tasks(void)
{
	const char *outs[] = {"total"};
	fixture f = planned(hang_defs, outs, 1, 100);
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_THREADS; /* started on the pool: this thread cancels */
	atomic_store(&sh->waiting, 0);
	CHECK_OK(hamr_run_create(&f.r, f.p, f.in, &o));
	CHECK_OK(hamr_run_start(f.r));
	/* cancelled once a task hangs in a worker */
	while (!atomic_load(&sh->waiting))
		sleep_ms(1);
	hamr_run_cancel(f.r);
	/* the hanging tasks never end by themselves: the wait returns only
	 * if they were stopped */
	CHECK_RC(hamr_run_wait(f.r), HAMR_ECANCELED);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 0);
	done(&f);
	/* the pool's workers were replaced and run again */
	hamr_run_opts again = on_processes();
	f = run_with(square_defs, outs, 1, 50, &again);
	CHECK_OK(f.run_rc);
	done(&f);
}

static hamr_procpool *doomed;

/* Emits its items, then kills the fork server. */
static int f_items_then_kill(hamr_call *c)
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	kill(parent_of(hamr_procpool_pid(doomed, 0)), SIGKILL);
	return 0;
}

static const hamr_node_def doomed_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items_then_kill, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "hang", .fn = f_hang, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("hang", HAMR_I64))},
	{0}};

/* In a child of the test (the server dies for good): a run whose fork
 * server dies fails, saying so, instead of waiting forever. */
__attribute__((unused)) static void test_the_fork_server_dying(void)
{
	int fd[2];
	CHECK_OK(pipe(fd));
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		close(fd[0]);
		char msg[1024] = "setup";
		/* a program that reaps nothing itself: the server's death
		 * must still be seen */
		signal(SIGCHLD, SIG_IGN);
		if (hamr_processes_init() == 0 && hamr_procpool_create(&doomed, &(hamr_procpool_opts){.processes = 2}) == 0) {
			const char *outs[] = {"total"};
			hamr_run_opts o = HAMR_RUN_OPTS_INIT;
			o.executor = HAMR_EXEC_SEQUENTIAL;
			o.remote = HAMR_REMOTE_PROCESSES;
			o.procpool = doomed;
			pid_t w0 = hamr_procpool_pid(doomed, 0), w1 = hamr_procpool_pid(doomed, 1);
			fixture f = run_with(doomed_defs, outs, 1, 20, &o);
			snprintf(msg, sizeof msg, "%d %d %d %s", f.run_rc, (int)w0, (int)w1, hamr_errmsg());
		}
		if (write(fd[1], msg, sizeof msg) < 0)
			_exit(4);
		_exit(0);
	}
	close(fd[1]);
	char msg[1024] = "";
	CHECK(read(fd[0], msg, sizeof msg) > 0);
	close(fd[0]);
	waitpid(child, NULL, 0);
	int rc = 0, w0 = 0, w1 = 0, off = 0;
	CHECK(sscanf(msg, "%d %d %d %n", &rc, &w0, &w1, &off) == 3);
	CHECK_EQ_INT(rc, HAMR_EIO);
	CHECK_CONTAINS(msg + off, "fork server died");
	/* its workers, orphaned, come back here to be reaped: waited for,
	 * so that no zombie of theirs is left for a later test to find */
	CHECK(w0 > 0 && w1 > 0);
	while (w0 > 0 && w1 > 0 && (proc_state(w0, NULL) || proc_state(w1, NULL))) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		sleep_ms(1);
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_no_leaks(void)
{
	int fds = count_fds(), maps = count_arena_maps();
	for (int k = 0; k < 5; k++) {
		hamr_procpool *q = NULL;
		CHECK_OK(hamr_procpool_create(&q, &(hamr_procpool_opts){.processes = 2}));
		const char *outs[] = {"all"};
		hamr_run_opts o = HAMR_RUN_OPTS_INIT;
		o.executor = HAMR_EXEC_SEQUENTIAL;
		o.remote = HAMR_REMOTE_PROCESSES;
		o.procpool = q;
		o.retries = 1;
		o.task_timeout_ms = NO_TIMEOUT_MS;
		fixture f = run_with(risky_defs, outs, 1, 100, &o);
		CHECK_OK(f.run_rc); /* crashes, retried */
		done(&f);
		/* and timeouts: every task waits forever */
		const char *stuck[] = {"values"};
		o.retries = HAMR_OFF;
		o.task_timeout_ms = HANG_TIMEOUT_MS;
		o.policy = HAMR_KEEP_GOING;
		f = run_with(stuck_defs, stuck, 1, 3, &o);
		CHECK_RC(f.run_rc, HAMR_ETIMEDOUT);
		CHECK_EQ_INT(hamr_run_error_count(f.r), 3);
		done(&f);
		hamr_procpool_destroy(q);
	}
	CHECK_EQ_INT(count_fds(), fds);
	CHECK_EQ_INT(count_arena_maps(), maps);
	/* no zombies among this process's children */
	CHECK(waitpid(-1, NULL, WNOHANG) <= 0);
}

int main(void)
{
	if (procexec_start())
		return 1;
	RUN_TEST(test_crashes_with_retries);
	RUN_TEST(test_crashes_without_retries);
	RUN_TEST(test_timeouts_with_and_without_retries);
	RUN_TEST(test_a_death_found_at_the_timeout_is_a_crash);
	RUN_TEST(test_crashed_workers_space_comes_back);
	RUN_TEST(test_cancel_stops_running_tasks);
#ifndef TSAN
	/* a forked copy of the test under ThreadSanitizer has its threads,
	 * and cannot start a fork server of its own */
	RUN_TEST(test_the_fork_server_dying);
#endif
	RUN_TEST(test_no_leaks);
	hamr_procpool_destroy(pp);
	TEST_EXIT();
}
