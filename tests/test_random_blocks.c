// SPDX-License-Identifier: MIT
/* Random graphs with map blocks: the threads executor, and one graph in
 * five the process executor, return exactly what the sequential executor
 * (the reference) returns, under every grouping and both error policies.
 *
 * The graphs are tests/random_blocks.h's.
 * Some nodes fail on some values: under fail_fast both executors must
 * fail; under keep_going both must record the same failures (node and
 * item) and give the same outputs, the skipped ones missing in both. */
#include <hamr.h>
#include <stdatomic.h>

#include "tests/check.h"
#include "tests/random_blocks.h"

static hamr_pool *pool;
static hamr_procpool *procs;
static agreement agreed;
static int n_rejected, n_procs;
static uint64_t n_proc_tasks;

static void one_graph(int seed)
{
	random_plan rp;
	int rc = random_plan_make(&rp);
	if (rc == HAMR_EBLOCK) {
		/* a block that reads its own collect, or a collect read inside
		 * its block: refused, with the reason */
		if (!strstr(hamr_errmsg(), "would wait for itself") &&
		    !strstr(hamr_errmsg(), "mismatched nesting"))
			CHECK_CONTAINS(hamr_errmsg(), "would wait for itself");
		n_rejected++;
		random_plan_free(&rp);
		return;
	}
	hamr_plan *p = rp.p;
	hamr_values *in = rp.in;
	const char **outs = rp.outs;
	int n_out = rp.n_out;
	CHECK_OK(rc);
	for (int keep = 0; keep < 2; keep++) {
		hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
		hamr_run_opts thr = {.executor = HAMR_EXEC_THREADS, .pool = pool};
		seq.policy = thr.policy = keep ? HAMR_KEEP_GOING : HAMR_FAIL_FAST;
		thr.grouping = (hamr_grouping)(1 + rnd() % 3);
		thr.max_inflight = rnd() % 2 ? 1 + rnd() % 4 : 0;
		hamr_run *rs = NULL, *rt = NULL;
		int rc_s = hamr_run_execute(&rs, p, in, &seq);
		int rc_t = hamr_run_execute(&rt, p, in, &thr);
		compare_runs("threads", &agreed, seed, keep, rs, rt, rc_s, rc_t, outs, n_out);
		hamr_run_destroy(rt);
		if (procs && seed % 5 == 0) {
			/* one graph in five with its blocks (and, one time in two,
			 * its plain nodes) in worker processes */
			hamr_run_opts pr = thr;
			pr.remote = HAMR_REMOTE_PROCESSES;
			pr.executor = rnd() % 2 ? HAMR_EXEC_PROCESSES : HAMR_EXEC_THREADS;
			pr.procpool = procs;
			int rc_p = hamr_run_execute(&rt, p, in, &pr);
			agreement graphs = agreed; /* the counts are of graphs */
			compare_runs("processes", &agreed, seed, keep, rs, rt, rc_s, rc_p, outs, n_out);
			agreed = graphs;
			n_procs++;
			hamr_process_stats st;
			CHECK_OK(hamr_run_process_stats(rt, &st));
			n_proc_tasks += st.tasks;
			hamr_run_destroy(rt);
		}
		hamr_run_destroy(rs);
	}
	random_plan_free(&rp);
}

static void test_threads_equal_sequential_on_random_blocks(void)
{
	random_seeds(2500, 40000, one_graph);
	printf("%d graphs agreed on every output, %d failed on both executors, "
	       "%d kept going past failures alike, %d refused (a block reading its own collect)\n",
	       agreed.same, agreed.both_failed, agreed.kept, n_rejected);
	printf("%d runs of them in worker processes (%llu tasks there) agreed too\n", n_procs,
	       (unsigned long long)n_proc_tasks);
	CHECK(n_proc_tasks > 1000);
	CHECK(agreed.same >= 1000);
	CHECK(agreed.both_failed > 0);
	CHECK(agreed.kept > 0);
}

int main(void)
{
	/* before any thread: worker processes come from the fork server */
	if (hamr_processes_init() == 0)
		CHECK_OK(hamr_procpool_create(&procs, &(hamr_procpool_opts){.processes = 2}));
	RUN_TEST_ON_3_AND_1_WORKERS(&pool, test_threads_equal_sequential_on_random_blocks);
	hamr_procpool_destroy(procs);
	TEST_EXIT();
}
