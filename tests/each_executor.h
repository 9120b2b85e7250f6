/* SPDX-License-Identifier: MIT */
/* Running a test's cases once per executor: the sequential one, the
 * reference, then the threads one, with g_opts telling each case which. */
#ifndef HAMR_TESTS_EACH_EXECUTOR_H
#define HAMR_TESTS_EACH_EXECUTOR_H

#include <hamr.h>

#include "tests/check.h"

/* the executor the current case runs on */
static const hamr_run_opts *g_opts;

/* Runs all() sequentially, then on a threads pool of `workers`. */
static void on_each_executor(void (*all)(void), int workers)
{
	hamr_run_opts seq = HAMR_RUN_OPTS_INIT, threads = HAMR_RUN_OPTS_INIT;
	seq.executor = HAMR_EXEC_SEQUENTIAL;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = workers;
	CHECK_OK(hamr_pool_create(&threads.pool, &po));
	threads.executor = HAMR_EXEC_THREADS;
	printf("-- sequential\n");
	g_opts = &seq;
	all();
	printf("-- threads\n");
	g_opts = &threads;
	all();
	g_opts = NULL;
	hamr_pool_destroy(threads.pool);
}

#endif
